//! The one way a state change is written to the transparency log (criteria 2.1.3(12),
//! 2.3.3(5)).
//!
//! A [`Recorder`] owns the write-ahead rule: [`Recorder::write_ahead`] appends the change's
//! [`Event`] as `pending`, and only once that entry is committed does the change run (it is a
//! future, so nothing in it has started); then it appends the event again with the result:
//! `succeeded` (with the result's digests) or `failed` with the error's [`FailureCategory`].
//! If the pending entry cannot be written the change never runs and the log's error is
//! returned; if the result entry cannot be written its error is returned, and the pending
//! entry stays as evidence that the change may have happened. Events that are not changes
//! (a refusal, a login, a read of personal data) are appended once by [`Recorder::record`].
//!
//! The recorder builds every entry: the caller describes what happened ([`Event`]: kind,
//! actor, key, digests, approval, note) and the recorder stamps it with the injected clock's
//! time and the deployment's environment, so no module outside `log/` builds an `Entry`.
//!
//! Must never: run a change before its pending entry is committed; report a change whose result
//! entry was not written as done; put an error's message in an entry (only its category: a
//! message may quote what the caller sent, or a secret); stamp an entry with another clock or
//! another environment than the deployment's.

use super::{LogError, TransparencyLog};
use crate::clock::Clock;
use crate::environment::Environment;
use inkan_log::entry::{Actor, Entry, EntryKind, Outcome};
use inkan_store::{KeyId, SignatureRecord};
use std::future::Future;
use std::sync::Arc;

/// A short, fixed name for why a change failed, for the result entry's `failure` member.
/// `&'static str`, so that it cannot carry input or a secret.
pub trait FailureCategory {
    /// E.g. `not found`, `store error`.
    fn category(&self) -> &'static str;
}

/// What a log entry says, apart from when, where and how it ended (the recorder adds those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened (for a change: the kind of its pending entry).
    pub kind: EntryKind,
    /// Who instructed it.
    pub actor: Actor,
    /// The key concerned, if any.
    pub key_id: Option<String>,
    /// Digests of what is concerned (a change's result entry may carry others).
    pub digests: Vec<String>,
    /// The approval or SAD id, if any.
    pub approval: Option<String>,
    /// A short note (never personal data or a secret), if any.
    pub note: Option<String>,
    /// For a change whose result is recorded under other kinds than its pending entry (a
    /// signature: `signature.requested` ahead, `signature.made` or `signature.refused` after):
    /// those kinds. `None`: the result entry has `kind`.
    pub result_kinds: Option<ResultKinds>,
}

/// The kinds of a change's result entry, by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultKinds {
    /// When the change succeeded.
    pub succeeded: EntryKind,
    /// When it failed.
    pub failed: EntryKind,
}

impl Event {
    /// An event of `kind` instructed by `actor`, about no key, with no digests, approval or note.
    pub fn new(kind: EntryKind, actor: Actor) -> Self {
        Event {
            kind,
            actor,
            key_id: None,
            digests: Vec::new(),
            approval: None,
            note: None,
            result_kinds: None,
        }
    }

    /// About the key `id`.
    pub fn key(mut self, id: impl std::fmt::Display) -> Self {
        self.key_id = Some(id.to_string());
        self
    }

    /// With these digests.
    pub fn digests(mut self, digests: Vec<String>) -> Self {
        self.digests = digests;
        self
    }

    /// Under the approval (or SAD) `approval`, if any.
    pub fn approval(mut self, approval: Option<&str>) -> Self {
        self.approval = approval.map(str::to_owned);
        self
    }

    /// With a note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Its result recorded as `succeeded` or `failed` kinds instead of its own.
    pub fn resulting_in(mut self, succeeded: EntryKind, failed: EntryKind) -> Self {
        self.result_kinds = Some(ResultKinds { succeeded, failed });
        self
    }
}

/// Writes a deployment's events to its transparency log: see the module's documentation.
#[derive(Debug, Clone)]
pub struct Recorder {
    log: Arc<TransparencyLog>,
    clock: Arc<dyn Clock>,
    environment: Environment,
}

impl Recorder {
    /// A recorder into `log` for entries of `environment`, stamped by `clock`.
    pub fn new(log: Arc<TransparencyLog>, clock: Arc<dyn Clock>, environment: Environment) -> Self {
        Recorder {
            log,
            clock,
            environment,
        }
    }

    /// Appends `event` once, with `outcome` (`succeeded`, or `failed` with a reason: never a
    /// secret), and returns its index. `pending` is refused: a pending entry is written only
    /// ahead of a change, by [`write_ahead`](Self::write_ahead).
    pub async fn record(&self, event: Event, outcome: Outcome) -> Result<u64, LogError> {
        if outcome == Outcome::Pending {
            return Err(LogError::Invalid(format!(
                "a {} entry is pending only ahead of a change",
                event.kind.as_str()
            )));
        }
        let login = (event.kind == EntryKind::Login).then_some(outcome == Outcome::Succeeded);
        let index = self.log.append(&self.entry(event, outcome)).await?;
        if let Some(succeeded) = login {
            crate::telemetry::login(succeeded);
        }
        Ok(index)
    }

    /// Runs `change` written ahead: `event` is appended `pending`, then `change` runs, then
    /// `event` is appended again with the result, carrying the same digests. See the module's
    /// documentation.
    pub async fn write_ahead<T, E>(
        &self,
        event: Event,
        change: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        E: From<LogError> + FailureCategory,
    {
        let digests = event.digests.clone();
        self.write_ahead_with(event, change, |_| digests)
            .await
            .map(|(value, _)| value)
    }

    /// [`write_ahead`](Self::write_ahead) whose succeeded entry carries `result_digests` of the
    /// value (a failed one keeps the event's digests); returns the value and the index of the
    /// result entry.
    pub async fn write_ahead_with<T, E>(
        &self,
        event: Event,
        change: impl Future<Output = Result<T, E>>,
        result_digests: impl FnOnce(&T) -> Vec<String>,
    ) -> Result<(T, u64), E>
    where
        E: From<LogError> + FailureCategory,
    {
        let result_kinds = event.result_kinds.unwrap_or(ResultKinds {
            succeeded: event.kind,
            failed: event.kind,
        });
        let mut entry = self.entry(event, Outcome::Pending);
        self.log.append(&entry).await?;
        let result = change.await;
        match &result {
            Ok(value) => {
                entry.kind = result_kinds.succeeded;
                entry.digests = result_digests(value);
                entry.outcome = Outcome::Succeeded;
            }
            Err(e) => {
                entry.kind = result_kinds.failed;
                entry.outcome = Outcome::Failed(e.category().into());
            }
        }
        entry.time = self.clock.now();
        let index = self.log.append(&entry).await?;
        result.map(|value| (value, index))
    }

    /// The signing module's write-ahead entry (step 3): appends `event` `pending` and returns
    /// its index with `key`'s state and device handle as committed in the same transaction
    /// (`None`: the key does not exist), so that a key closed before its own entry is seen
    /// closed by every request logged after that entry (criteria 2.2.2(3)).
    pub async fn signature_requested(
        &self,
        event: Event,
        key: &KeyId,
    ) -> Result<super::KeyAsLogged, LogError> {
        let entry = self.entry(event, Outcome::Pending);
        self.log.append_reading_key(&entry, key).await
    }

    /// The newest cache epoch the log's batches have seen (`crate::epoch`).
    pub fn epoch(&self) -> &Arc<crate::epoch::Epoch> {
        self.log.epoch()
    }

    /// The signing module's result (step 5): appends `event` `succeeded` with the index rows of
    /// `signatures` (their `log_index` the entry's, their `created_at` its time) in the same
    /// transaction (criteria 2.2.3(3)C).
    pub async fn signature_made(
        &self,
        event: Event,
        mut signatures: Vec<SignatureRecord>,
    ) -> Result<u64, LogError> {
        let entry = self.entry(event, Outcome::Succeeded);
        for signature in &mut signatures {
            signature.created_at = entry.time;
        }
        self.log.append_signature_made(&entry, signatures).await
    }

    /// The entry of `event`, now, in this environment.
    fn entry(&self, event: Event, outcome: Outcome) -> Entry {
        Entry {
            kind: event.kind,
            time: self.clock.now(),
            environment: self.environment.as_str().into(),
            actor: event.actor,
            key_id: event.key_id,
            digests: event.digests,
            approval: event.approval,
            outcome,
            note: event.note,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::clock::ManualClock;
    use crate::log::CheckpointPolicy;
    use inkan_log::note::NoteSigner;
    use inkan_store::Store;
    use sqlx::{AssertSqlSafe, Connection as _, Executor as _, SqliteConnection};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    const ORIGIN: &str = "inkan.test/log/recorder";
    const T0: i64 = 1_767_225_600_000;

    #[derive(Debug)]
    struct TestSigner(ed25519_dalek::SigningKey);

    impl NoteSigner for TestSigner {
        fn name(&self) -> &str {
            ORIGIN
        }
        fn public_key(&self) -> [u8; 32] {
            self.0.verifying_key().to_bytes()
        }
        fn sign(&self, message: &[u8]) -> Result<[u8; 64], inkan_log::LogError> {
            use ed25519_dalek::Signer as _;
            Ok(self.0.sign(message).to_bytes())
        }
    }

    #[derive(Debug)]
    enum TestError {
        Log,
        Change,
    }

    impl From<LogError> for TestError {
        fn from(_: LogError) -> Self {
            TestError::Log
        }
    }

    impl FailureCategory for TestError {
        fn category(&self) -> &'static str {
            match self {
                TestError::Log => "log error",
                TestError::Change => "broken",
            }
        }
    }

    /// A recorder over a SQLite file (so that the test can break the store behind its back),
    /// its store and its URL.
    async fn recorder(dir: &tempfile::TempDir) -> (Recorder, Arc<dyn Store>, String) {
        let url = format!("sqlite://{}", dir.path().join("inkan.db").display());
        let store = inkan_store::connect(&url).await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(T0));
        let policy = CheckpointPolicy {
            every_entries: u64::MAX,
            every: Duration::from_secs(24 * 3600),
        };
        let signer = Arc::new(TestSigner(ed25519_dalek::SigningKey::from_bytes(
            &[0x5a; 32],
        )));
        let log =
            TransparencyLog::open(store.clone(), signer, ORIGIN.into(), policy, clock.clone())
                .await
                .unwrap();
        let recorder = Recorder::new(Arc::new(log), clock, Environment::Test);
        (recorder, store, url)
    }

    fn event() -> Event {
        Event::new(EntryKind::OperatorAction, crate::service::system_actor())
            .key("key_1")
            .digests(vec!["sha-256:00".into()])
            .note("a test change")
    }

    async fn entries(store: &dyn Store) -> Vec<Entry> {
        store
            .log_entries(0, 1000)
            .await
            .unwrap()
            .iter()
            .map(|bytes| Entry::decode(bytes).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn the_change_never_runs_when_its_pending_entry_is_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, store, url) = recorder(&dir).await;
        // The entries table goes away behind the log's back: every append fails.
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        conn.execute(AssertSqlSafe(
            "ALTER TABLE log_entries RENAME TO log_entries_away",
        ))
        .await
        .unwrap();
        let ran = AtomicBool::new(false);
        let change = async {
            ran.store(true, Ordering::SeqCst);
            Ok::<_, TestError>(())
        };
        let result = recorder.write_ahead(event(), change).await;
        assert!(matches!(result, Err(TestError::Log)), "{result:?}");
        assert!(
            !ran.load(Ordering::SeqCst),
            "the change ran without its entry"
        );
        conn.execute(AssertSqlSafe(
            "ALTER TABLE log_entries_away RENAME TO log_entries",
        ))
        .await
        .unwrap();
        conn.close().await.unwrap();
        assert_eq!(store.log_size().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_result_entry_carries_succeeded_or_failed() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, store, _url) = recorder(&dir).await;

        let (value, index) = recorder
            .write_ahead_with(event(), async { Ok::<_, TestError>(7) }, |v| {
                vec![format!("sha-256:{v:02}")]
            })
            .await
            .unwrap();
        assert_eq!((value, index), (7, 1));
        let failed = recorder
            .write_ahead(event(), async { Err::<(), _>(TestError::Change) })
            .await;
        assert!(matches!(failed, Err(TestError::Change)), "{failed:?}");
        let refused = Outcome::Failed("refused".into());
        assert_eq!(recorder.record(event(), refused.clone()).await.unwrap(), 4);
        assert!(matches!(
            recorder.record(event(), Outcome::Pending).await,
            Err(LogError::Invalid(_))
        ));

        let logged = entries(&*store).await;
        let outcomes: Vec<_> = logged.iter().map(|e| e.outcome.clone()).collect();
        assert_eq!(
            outcomes,
            [
                Outcome::Pending,
                Outcome::Succeeded,
                Outcome::Pending,
                Outcome::Failed("broken".into()),
                refused,
            ]
        );
        assert_eq!(logged[1].digests, ["sha-256:07"]);
        assert_eq!(logged[3].digests, ["sha-256:00"]);
        for entry in &logged {
            assert_eq!(entry.kind, EntryKind::OperatorAction);
            assert_eq!(entry.environment, "test");
            assert_eq!(entry.time, T0);
            assert_eq!(entry.key_id.as_deref(), Some("key_1"));
            assert_eq!(entry.note.as_deref(), Some("a test change"));
        }

        // A change recorded under other kinds after its pending entry.
        let signature = Event::new(
            EntryKind::SignatureRequested,
            crate::service::system_actor(),
        )
        .resulting_in(EntryKind::SignatureMade, EntryKind::SignatureRefused);
        recorder
            .write_ahead(signature.clone(), async { Ok::<_, TestError>(()) })
            .await
            .unwrap();
        let _ = recorder
            .write_ahead(signature, async { Err::<(), _>(TestError::Change) })
            .await;
        let kinds: Vec<_> = entries(&*store).await[5..].iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EntryKind::SignatureRequested,
                EntryKind::SignatureMade,
                EntryKind::SignatureRequested,
                EntryKind::SignatureRefused,
            ]
        );
    }

    /// Whether `line` builds a log entry by hand: `Entry {` (or `…entry::Entry {`), not
    /// another type whose name ends in `Entry` nor a pattern of `ExportLine::Entry`.
    fn builds_an_entry(line: &str) -> bool {
        line.match_indices("Entry {").any(|(at, _)| {
            let path_start = line[..at]
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(0, |i| i + 1);
            let path = &line[path_start..at];
            path.is_empty() || path.ends_with("entry::")
        })
    }

    #[test]
    fn the_guard_tells_entries_from_other_types() {
        assert!(builds_an_entry("        let entry = Entry {"));
        assert!(builds_an_entry("    .append(&Entry {"));
        assert!(builds_an_entry("let e = inkan_log::entry::Entry {"));
        assert!(builds_an_entry("fn event(&self) -> Entry {"));
        assert!(!builds_an_entry("files.push(FileEntry {"));
        assert!(!builds_an_entry("ExportLine::Entry { index, entry } => {"));
        assert!(!builds_an_entry("NoSuchEntry { index, size }"));
    }

    /// The rule stays kept: outside `log/` (the recorder), no module of the service builds an
    /// `Entry`, the signing module included.
    #[test]
    fn no_module_outside_the_log_builds_an_entry() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        let mut folders = vec![src.clone()];
        while let Some(folder) = folders.pop() {
            for item in std::fs::read_dir(&folder).unwrap() {
                let path = item.unwrap().path();
                let relative = path.strip_prefix(&src).unwrap();
                if relative.starts_with("log") {
                    continue;
                }
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for (n, line) in text.lines().enumerate() {
                        if builds_an_entry(line) {
                            found.push(format!(
                                "{}:{}: {}",
                                relative.display(),
                                n + 1,
                                line.trim()
                            ));
                        }
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "log entries are built only by log::Recorder; found:\n{}",
            found.join("\n")
        );
    }
}
