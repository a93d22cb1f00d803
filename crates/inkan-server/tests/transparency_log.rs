//! The transparency log service (`inkan_server::log::TransparencyLog`) on every engine: group
//! commit under concurrency, checkpoints by count, by time and on demand, receipts, failures of
//! the store and of the signer, two nodes on one database, and a process killed with SIGKILL
//! while appending.
//!
//! Every case runs as `sqlite::<case>` (a temporary file) and `postgres::<case>` (a fresh
//! schema at `INKAN_TEST_POSTGRES_URL`, default
//! `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`, dropped at the end; no PostgreSQL is a
//! failure, never a skip: `bash .ci/run` starts it). Checkpoints are signed by a test
//! `NoteSigner` holding an Ed25519 key in memory; every export is checked with the offline
//! verifier `inkan_log::verify::verify_export`.

#![allow(clippy::unwrap_used)]

use ed25519_dalek::Signer as _;
use inkan_log::checkpoint::Checkpoint;
use inkan_log::entry::{Actor, ActorKind, Authentication, Entry, EntryKind, Outcome};
use inkan_log::note::{NoteSigner, NoteVerifier};
use inkan_log::receipt::Receipt;
use inkan_log::verify::{VerifyReport, verify_export};
use inkan_server::clock::{Clock, ManualClock, SystemClock};
use inkan_server::log::{CheckpointPolicy, LogError, TransparencyLog};
use inkan_store::{self as store, Store, StoreError, StoredCheckpoint};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod common;

use common::{Ctx, Engine, run};
const ORIGIN: &str = "inkan.test/log/test";
const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

macro_rules! every_engine {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::SqliteFile, super::$case).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::Postgres, super::$case).await }
            )*
        }
    };
}

every_engine!(
    concurrent_appends_are_contiguous_and_verify,
    checkpoints_by_count_then_time,
    checkpoints_by_time,
    checkpoint_now_never_repeats_a_size,
    receipts_verify_offline,
    signature_results_bring_their_checkpoint,
    store_failure_fails_the_waiting_appends,
    signer_failure_does_not_stop_appends,
    two_nodes_make_one_log,
    reopening_refuses_another_origin,
    oversized_entry_is_refused,
    crash_recovery,
);

// ---------------------------------------------------------------------------------------------
// The test log key, entries, and checks

/// The log key of the tests: Ed25519 in memory (production signs in the crypto device). Fails
/// on demand, like a device that went away.
#[derive(Debug)]
struct TestSigner {
    key: ed25519_dalek::SigningKey,
    fail: AtomicBool,
}

impl NoteSigner for TestSigner {
    fn name(&self) -> &str {
        ORIGIN
    }
    fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], inkan_log::LogError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(inkan_log::LogError::Signer(
                "the test device is unplugged".into(),
            ));
        }
        Ok(self.key.sign(message).to_bytes())
    }
}

fn signer() -> Arc<TestSigner> {
    Arc::new(TestSigner {
        key: ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]),
        fail: AtomicBool::new(false),
    })
}

fn verifier() -> NoteVerifier {
    NoteVerifier::new(ORIGIN, signer().public_key()).unwrap()
}

fn policy(every_entries: u64, every: Duration) -> CheckpointPolicy {
    CheckpointPolicy {
        every_entries,
        every,
    }
}

/// A policy that never issues a checkpoint by itself during a test.
fn manual_only() -> CheckpointPolicy {
    policy(u64::MAX, Duration::from_secs(24 * 3600))
}

async fn open_log(
    store: Arc<dyn Store>,
    signer: Arc<TestSigner>,
    policy: CheckpointPolicy,
    clock: Arc<dyn Clock>,
) -> TransparencyLog {
    TransparencyLog::open(store, signer, ORIGIN.to_owned(), policy, clock)
        .await
        .unwrap()
}

/// A signature-requested event of `task`, numbered `seq`; the note names both, so the test can
/// find it again.
fn entry(task: usize, seq: usize) -> Entry {
    Entry {
        kind: EntryKind::SignatureRequested,
        time: T0 + seq as i64,
        environment: "test".into(),
        actor: Actor {
            kind: ActorKind::Subscriber,
            id: format!("subscriber-{task}"),
            auth: Authentication {
                method: "password+totp".into(),
                session: Some(format!("session-{task}")),
                terminal: None,
            },
        },
        key_id: Some("key_0123456789abcdef0123456789abcdef".into()),
        digests: vec![format!("sha-256:{:064x}", task * 1_000_000 + seq)],
        approval: Some(format!("sad-{task}-{seq}")),
        outcome: Outcome::Pending,
        note: Some(format!("task {task} seq {seq}")),
    }
}

/// Exports the log and verifies the export offline; returns the report and the entries by
/// index.
async fn export_and_verify(log: &TransparencyLog) -> (VerifyReport, Vec<Entry>) {
    let mut out = Vec::new();
    let summary = log.export(&mut out).await.unwrap();
    let report = verify_export(out.as_slice(), &verifier(), ORIGIN)
        .unwrap_or_else(|e| panic!("the export does not verify: {e}"));
    assert_eq!(report.entries, summary.entries);
    assert_eq!(report.checkpoints, summary.checkpoints);
    let mut entries = Vec::new();
    for line in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let line = std::str::from_utf8(line).unwrap();
        if let inkan_log::verify::ExportLine::Entry { index, entry } =
            inkan_log::verify::ExportLine::parse(line).unwrap()
        {
            assert_eq!(index, entries.len() as u64);
            entries.push(Entry::decode(&entry).unwrap());
        }
    }
    (report, entries)
}

/// Every stored checkpoint, smallest first.
async fn all_checkpoints(store: &dyn Store) -> Vec<StoredCheckpoint> {
    store.checkpoints(0, 1_000).await.unwrap()
}

/// Polls `check` until it holds, for at most `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

async fn concurrent_appends_are_contiguous_and_verify(db: Ctx) {
    const TASKS: usize = 64;
    const EACH: usize = 50;
    let store = db.connect().await;
    let log = Arc::new(
        open_log(
            store.clone(),
            signer(),
            policy(500, Duration::from_secs(3600)),
            Arc::new(SystemClock),
        )
        .await,
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (log, barrier) = (log.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut placed = Vec::with_capacity(EACH);
                for seq in 0..EACH {
                    placed.push((log.append(&entry(t, seq)).await.unwrap(), t, seq));
                }
                placed
            })
        })
        .collect();
    let mut placed = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        // One task's appends are ordered: each returned after the previous one committed.
        assert!(mine.windows(2).all(|w| w[0].0 < w[1].0));
        placed.extend(mine);
    }
    let total = (TASKS * EACH) as u64;
    let indexes: HashSet<u64> = placed.iter().map(|p| p.0).collect();
    assert_eq!(
        indexes.len() as u64,
        total,
        "every append got its own index"
    );
    assert_eq!(indexes, (0..total).collect(), "and they are 0..{total}");

    log.checkpoint_now().await.unwrap();
    let (report, entries) = export_and_verify(&log).await;
    assert_eq!(report.entries, total);
    assert_eq!(
        report.last_checkpoint.size, total,
        "the last checkpoint covers everything"
    );
    // The count policy issued checkpoints on the way, never two for one size.
    assert!(report.checkpoints >= 2, "{report:?}");
    for (index, task, seq) in placed {
        assert_eq!(entries[index as usize], entry(task, seq), "entry {index}");
    }
    assert_eq!(store.log_size().await.unwrap(), total);
}

async fn checkpoints_by_count_then_time(db: Ctx) {
    let store = db.connect().await;
    let clock = Arc::new(ManualClock::new(T0));
    let log = open_log(
        store.clone(),
        signer(),
        policy(10, Duration::from_secs(60)),
        clock.clone(),
    )
    .await;
    for seq in 0..9 {
        log.append(&entry(0, seq)).await.unwrap();
    }
    // Nine entries, the clock frozen: nothing is due.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(all_checkpoints(&*store).await.is_empty());

    for seq in 9..25 {
        log.append(&entry(0, seq)).await.unwrap();
    }
    // Every checkpoint comes at least 10 entries after the one before, until fewer than 10
    // are left uncovered.
    eventually(Duration::from_secs(10), "count checkpoints", || async {
        store
            .latest_checkpoint()
            .await
            .unwrap()
            .is_some_and(|c| 25 - c.size < 10)
    })
    .await;
    let by_count = all_checkpoints(&*store).await;
    assert!(by_count[0].size >= 10, "{by_count:?}");
    for pair in by_count.windows(2) {
        assert!(pair[1].size >= pair[0].size + 10, "{by_count:?}");
    }
    let covered = by_count.last().unwrap().size;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        all_checkpoints(&*store).await,
        by_count,
        "nothing more is due"
    );

    if covered < 25 {
        // The rest is covered once the time limit passes.
        clock.advance(60_000);
        eventually(Duration::from_secs(10), "a time checkpoint", || async {
            store.latest_checkpoint().await.unwrap().unwrap().size == 25
        })
        .await;
        let latest = store.latest_checkpoint().await.unwrap().unwrap();
        assert_eq!(latest.created_at, T0 + 60_000);
    }
    let (report, _) = export_and_verify(&log).await;
    assert_eq!(report.last_checkpoint.size, 25);
}

async fn checkpoints_by_time(db: Ctx) {
    let store = db.connect().await;
    let clock = Arc::new(ManualClock::new(T0));
    let log = open_log(
        store.clone(),
        signer(),
        policy(1_000_000, Duration::from_secs(60)),
        clock.clone(),
    )
    .await;
    for seq in 0..3 {
        log.append(&entry(1, seq)).await.unwrap();
    }
    clock.advance(59_999);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        all_checkpoints(&*store).await.is_empty(),
        "not due before the time"
    );
    clock.advance(1);
    eventually(Duration::from_secs(10), "a time checkpoint", || async {
        store.latest_checkpoint().await.unwrap().is_some()
    })
    .await;
    let first = all_checkpoints(&*store).await;
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].size, first[0].created_at), (3, T0 + 60_000));

    // Time passing without new entries issues nothing.
    clock.advance(120_000);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(all_checkpoints(&*store).await, first);

    // A new entry after the limit is checkpointed at once (the limit has passed since the
    // latest checkpoint).
    log.append(&entry(1, 3)).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the next time checkpoint",
        || async { store.latest_checkpoint().await.unwrap().unwrap().size == 4 },
    )
    .await;
    log.close().await;

    // With the system clock and a short period: real time, no test hooks.
    let log = open_log(
        store.clone(),
        signer(),
        policy(1_000_000, Duration::from_millis(100)),
        Arc::new(SystemClock),
    )
    .await;
    log.append(&entry(1, 4)).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "a real-time checkpoint",
        || async { store.latest_checkpoint().await.unwrap().unwrap().size == 5 },
    )
    .await;
    let (report, _) = export_and_verify(&log).await;
    assert_eq!((report.entries, report.checkpoints), (5, 3));
}

async fn checkpoint_now_never_repeats_a_size(db: Ctx) {
    let store = db.connect().await;
    let log = Arc::new(
        open_log(
            store.clone(),
            signer(),
            manual_only(),
            Arc::new(ManualClock::new(T0)),
        )
        .await,
    );
    // The empty log can be checkpointed (size 0, the empty root), once.
    let empty = log.checkpoint_now().await.unwrap();
    assert_eq!(empty.size, 0);
    let opened = Checkpoint::open(&empty.note, &verifier(), ORIGIN).unwrap();
    assert_eq!(opened.root, inkan_log::hash::empty_root());
    assert_eq!(log.checkpoint_now().await.unwrap(), empty);

    for seq in 0..5 {
        log.append(&entry(2, seq)).await.unwrap();
    }
    // Many at once: one checkpoint for size 5, the same answer for all.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let log = log.clone();
            tokio::spawn(async move { log.checkpoint_now().await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert!(answers.iter().all(|a| *a == answers[0]));
    let five = Checkpoint::open(&answers[0].note, &verifier(), ORIGIN).unwrap();
    assert_eq!(five.size, 5);
    assert_eq!(five.root, store.log_head().await.unwrap().root);
    let sizes: Vec<u64> = all_checkpoints(&*store)
        .await
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, [0, 5]);
    let (report, _) = export_and_verify(&log).await;
    assert_eq!(report.checkpoints, 2);
}

async fn receipts_verify_offline(db: Ctx) {
    let store = db.connect().await;
    let log = open_log(
        store.clone(),
        signer(),
        manual_only(),
        Arc::new(ManualClock::new(T0)),
    )
    .await;
    let mut appended = Vec::new();
    for seq in 0..20 {
        appended.push(log.append(&entry(3, seq)).await.unwrap());
    }
    assert_eq!(appended, (0..20).collect::<Vec<_>>());
    assert!(store.latest_checkpoint().await.unwrap().is_none());

    // No checkpoint covers entry 3 yet: the receipt issues one.
    let receipt = log.receipt(3).await.unwrap();
    let checkpoint = receipt
        .verify(&entry(3, 3).encode(), &verifier(), ORIGIN)
        .unwrap();
    assert_eq!((receipt.index, checkpoint.size), (3, 20));
    // As text, verified offline with only the public key.
    let text = receipt.encode();
    let parsed = Receipt::parse(&text).unwrap();
    parsed
        .verify(&entry(3, 3).encode(), &verifier(), ORIGIN)
        .unwrap();
    // Not for another entry, another origin or another key.
    assert!(
        parsed
            .verify(&entry(3, 4).encode(), &verifier(), ORIGIN)
            .is_err()
    );
    assert!(
        parsed
            .verify(
                &entry(3, 3).encode(),
                &verifier(),
                "inkan.test/log/production"
            )
            .is_err()
    );
    let other_key = NoteVerifier::new(
        ORIGIN,
        ed25519_dalek::SigningKey::from_bytes(&[7; 32])
            .verifying_key()
            .to_bytes(),
    )
    .unwrap();
    assert!(
        parsed
            .verify(&entry(3, 3).encode(), &other_key, ORIGIN)
            .is_err()
    );
    assert_eq!(all_checkpoints(&*store).await.len(), 1);

    // Entries covered by the latest checkpoint reuse it; newer ones get a new checkpoint.
    for seq in 20..33 {
        log.append(&entry(3, seq)).await.unwrap();
    }
    let old = log.receipt(0).await.unwrap();
    assert_eq!(
        old.verify(&entry(3, 0).encode(), &verifier(), ORIGIN)
            .unwrap()
            .size,
        20
    );
    // Entry 20 needs a new checkpoint; after it, older entries use the new one too.
    for index in [20u64, 0, 1, 19, 31, 32] {
        let receipt = log.receipt(index).await.unwrap();
        let checkpoint = receipt
            .verify(&entry(3, index as usize).encode(), &verifier(), ORIGIN)
            .unwrap();
        assert_eq!(checkpoint.size, 33, "entry {index}");
    }
    assert_eq!(all_checkpoints(&*store).await.len(), 2);

    match log.receipt(33).await {
        Err(LogError::NoSuchEntry {
            index: 33,
            size: 33,
        }) => {}
        other => panic!("a receipt for an entry not in the log: {other:?}"),
    }
}

/// Issue 17: a batch that carries a signature's result stores the checkpoint of the tree it
/// makes, in its transaction, so the signature's receipt needs no checkpoint round of its own;
/// a plain append brings none, and with the log key failing the result is still logged, without
/// a checkpoint, and its receipt issues one as before.
async fn signature_results_bring_their_checkpoint(db: Ctx) {
    let store = db.connect().await;
    let key = store::KeyRecord {
        id: store::KeyId::random(),
        owner: "sub_receipts".into(),
        label: "issuer".into(),
        algorithm: inkan_device::Algorithm::Es256,
        spec: inkan_device::KeySpec::P256,
        device: inkan_device::DeviceKind::Soft,
        handle: inkan_device::KeyHandle::new("soft-receipts".to_owned()),
        public_key_spki: vec![0x30, 0x59],
        certificate_chain: Vec::new(),
        origin: store::KeyOrigin::Generated,
        environment: store::Environment::Test,
        state: store::KeyState::Active,
        state_reason: None,
        state_changed_at: None,
        created_at: T0,
        updated_at: T0,
    };
    store.insert_key(&key).await.unwrap();
    let record = |digest: &str| store::SignatureRecord {
        digest: digest.into(),
        key_id: key.id.to_string(),
        subscriber: key.owner.clone(),
        document_type: "vc+jwt".into(),
        log_index: 0,
        created_at: T0,
        status_entries: Vec::new(),
    };
    let signer = signer();
    let log = open_log(
        store.clone(),
        signer.clone(),
        manual_only(),
        Arc::new(ManualClock::new(T0)),
    )
    .await;
    log.append(&entry(9, 0)).await.unwrap();
    assert!(all_checkpoints(&*store).await.is_empty());

    let made = log
        .append_signature_made(&entry(9, 1), vec![record("sha-256:01")])
        .await
        .unwrap();
    assert_eq!(made, 1);
    // Stored with the batch, before any receipt was asked for.
    let stored = all_checkpoints(&*store).await;
    assert_eq!(stored.iter().map(|c| c.size).collect::<Vec<_>>(), vec![2]);
    let receipt = log.receipt(made).await.unwrap();
    let checkpoint = receipt
        .verify(&entry(9, 1).encode(), &verifier(), ORIGIN)
        .unwrap();
    assert_eq!(checkpoint.size, 2);
    assert_eq!(all_checkpoints(&*store).await.len(), 1);

    log.append(&entry(9, 2)).await.unwrap();
    assert_eq!(all_checkpoints(&*store).await.len(), 1);

    signer.fail.store(true, Ordering::SeqCst);
    let made = log
        .append_signature_made(&entry(9, 3), vec![record("sha-256:03")])
        .await
        .unwrap();
    assert_eq!(made, 3);
    assert_eq!(all_checkpoints(&*store).await.len(), 1);
    signer.fail.store(false, Ordering::SeqCst);
    let receipt = log.receipt(made).await.unwrap();
    let checkpoint = receipt
        .verify(&entry(9, 3).encode(), &verifier(), ORIGIN)
        .unwrap();
    assert_eq!(checkpoint.size, 4);
    assert_eq!(all_checkpoints(&*store).await.len(), 2);
    assert_eq!(
        store
            .signatures_by_digest("sub_receipts", "sha-256:03")
            .await
            .unwrap()[0]
            .log_index,
        3
    );
}

async fn store_failure_fails_the_waiting_appends(db: Ctx) {
    const WAITING: usize = 24;
    let store = db.connect().await;
    let log = Arc::new(
        open_log(
            store.clone(),
            signer(),
            manual_only(),
            Arc::new(SystemClock),
        )
        .await,
    );
    for seq in 0..5 {
        log.append(&entry(4, seq)).await.unwrap();
    }

    // The entries table goes away behind the service's back: every waiting append fails, and
    // none of them leaves a trace.
    db.exec("ALTER TABLE log_entries RENAME TO log_entries_away")
        .await;
    let barrier = Arc::new(tokio::sync::Barrier::new(WAITING));
    let tasks: Vec<_> = (0..WAITING)
        .map(|t| {
            let (log, barrier) = (log.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                log.append(&entry(40 + t, 0)).await
            })
        })
        .collect();
    for task in tasks {
        match task.await.unwrap() {
            Err(LogError::Store(error)) => {
                assert!(matches!(*error, StoreError::Database(_)), "{error:?}")
            }
            other => panic!("an append whose transaction failed returned {other:?}"),
        }
    }
    assert_eq!(store.log_size().await.unwrap(), 5);

    // The writer goes on: once the table is back, appends succeed from where the log was.
    db.exec("ALTER TABLE log_entries_away RENAME TO log_entries")
        .await;
    assert_eq!(log.append(&entry(4, 5)).await.unwrap(), 5);
    log.checkpoint_now().await.unwrap();
    let (report, entries) = export_and_verify(&log).await;
    assert_eq!(report.entries, 6);
    assert_eq!(entries, (0..6).map(|s| entry(4, s)).collect::<Vec<_>>());
}

async fn signer_failure_does_not_stop_appends(db: Ctx) {
    let store = db.connect().await;
    let signer = signer();
    let log = open_log(
        store.clone(),
        signer.clone(),
        policy(5, Duration::from_secs(3600)),
        Arc::new(SystemClock),
    )
    .await;
    signer.fail.store(true, Ordering::SeqCst);
    for seq in 0..12 {
        log.append(&entry(5, seq)).await.unwrap();
    }
    match log.checkpoint_now().await {
        Err(LogError::Signer(message)) => assert!(message.contains("unplugged"), "{message}"),
        other => panic!("checkpoint with a failing signer: {other:?}"),
    }
    assert!(matches!(log.receipt(0).await, Err(LogError::Signer(_))));
    assert!(all_checkpoints(&*store).await.is_empty());

    // Back: the count policy catches up by itself.
    signer.fail.store(false, Ordering::SeqCst);
    log.append(&entry(5, 12)).await.unwrap();
    eventually(Duration::from_secs(10), "a checkpoint", || async {
        store.latest_checkpoint().await.unwrap().is_some()
    })
    .await;
    log.receipt(0)
        .await
        .unwrap()
        .verify(&entry(5, 0).encode(), &verifier(), ORIGIN)
        .unwrap();
}

async fn two_nodes_make_one_log(db: Ctx) {
    const TASKS_PER_NODE: usize = 24;
    const EACH: usize = 25;
    // Two nodes: their own store connections, their own writer and checkpoint tasks.
    let nodes = [
        Arc::new(
            open_log(
                db.connect().await,
                signer(),
                policy(40, Duration::from_millis(50)),
                Arc::new(SystemClock),
            )
            .await,
        ),
        Arc::new(
            open_log(
                db.connect().await,
                signer(),
                policy(40, Duration::from_millis(50)),
                Arc::new(SystemClock),
            )
            .await,
        ),
    ];
    let tasks: Vec<_> = (0..2 * TASKS_PER_NODE)
        .map(|t| {
            let log = nodes[t % 2].clone();
            tokio::spawn(async move {
                let mut placed = Vec::new();
                for seq in 0..EACH {
                    placed.push((log.append(&entry(t, seq)).await.unwrap(), t, seq));
                }
                placed
            })
        })
        .collect();
    let mut placed = Vec::new();
    for task in tasks {
        placed.extend(task.await.unwrap());
    }
    let total = (2 * TASKS_PER_NODE * EACH) as u64;
    let indexes: HashSet<u64> = placed.iter().map(|p| p.0).collect();
    assert_eq!(indexes, (0..total).collect());

    nodes[1].checkpoint_now().await.unwrap();
    let (report_0, entries) = export_and_verify(&nodes[0]).await;
    let (report_1, _) = export_and_verify(&nodes[1]).await;
    assert_eq!(report_0, report_1, "both nodes see one log");
    assert_eq!(report_0.last_checkpoint.size, total);
    for (index, task, seq) in placed {
        assert_eq!(entries[index as usize], entry(task, seq));
    }
    // Checkpoints from both nodes: strictly increasing sizes, each verifiable.
    let store = db.connect().await;
    let checkpoints = all_checkpoints(&*store).await;
    assert!(checkpoints.windows(2).all(|w| w[0].size < w[1].size));
    for c in &checkpoints {
        Checkpoint::open(&c.note, &verifier(), ORIGIN).unwrap();
    }
}

async fn reopening_refuses_another_origin(db: Ctx) {
    let store = db.connect().await;
    let log = open_log(
        store.clone(),
        signer(),
        manual_only(),
        Arc::new(SystemClock),
    )
    .await;
    log.append(&entry(6, 0)).await.unwrap();
    log.checkpoint_now().await.unwrap();
    log.close().await;

    // The same origin again: fine, and the log goes on.
    let again = open_log(
        store.clone(),
        signer(),
        manual_only(),
        Arc::new(SystemClock),
    )
    .await;
    assert_eq!(again.append(&entry(6, 1)).await.unwrap(), 1);
    again.close().await;

    // A log of another environment must not continue this one.
    match TransparencyLog::open(
        store.clone(),
        signer(),
        "inkan.test/log/production".to_owned(),
        manual_only(),
        Arc::new(SystemClock),
    )
    .await
    {
        Err(LogError::Inconsistent(message)) => assert!(message.contains("test"), "{message}"),
        other => panic!("opened a test log as production: {other:?}"),
    }
    // Nor a policy that would never checkpoint.
    assert!(matches!(
        TransparencyLog::open(
            store,
            signer(),
            ORIGIN.to_owned(),
            policy(0, Duration::from_secs(1)),
            Arc::new(SystemClock),
        )
        .await,
        Err(LogError::Invalid(_))
    ));
}

async fn oversized_entry_is_refused(db: Ctx) {
    let store = db.connect().await;
    let log = open_log(
        store.clone(),
        signer(),
        manual_only(),
        Arc::new(SystemClock),
    )
    .await;
    let mut big = entry(7, 0);
    big.note = Some("x".repeat(inkan_log::entry::MAX_ENTRY_BYTES));
    assert!(matches!(log.append(&big).await, Err(LogError::Invalid(_))));
    assert_eq!(log.append(&entry(7, 1)).await.unwrap(), 0);
    assert_eq!(store.log_size().await.unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// Crash: SIGKILL while appending

/// The environment variable that tells [`crash_child`] which database to append to.
const CRASH_DB: &str = "INKAN_CRASH_DB";
/// How many acknowledged appends the parent waits for before killing the child.
const CRASH_AFTER: usize = 400;

/// The child of [`crash_recovery`]: appends from several tasks as fast as it can and prints
/// `appended <index> <task> <seq>` (flushed) for every append that returned success. Does
/// nothing unless `INKAN_CRASH_DB` is set; stops by itself after a while in case nobody kills
/// it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run by crash_recovery in a child process"]
async fn crash_child() {
    use std::io::Write as _;
    let Ok(url) = std::env::var(CRASH_DB) else {
        return;
    };
    let store = store::connect(&url).await.unwrap();
    let log = Arc::new(
        open_log(
            store,
            signer(),
            policy(64, Duration::from_millis(50)),
            Arc::new(SystemClock),
        )
        .await,
    );
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let log = log.clone();
            tokio::spawn(async move {
                for seq in 0..20_000 {
                    let index = log.append(&entry(task, seq)).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "appended {index} {task} {seq}").unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    let all = async {
        for task in tasks {
            task.await.unwrap();
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(120), all).await;
}

async fn crash_recovery(db: Ctx) {
    use std::io::BufRead as _;
    use std::os::unix::process::ExitStatusExt as _;
    // The child creates the schema on its own first connect, as a fresh node would.
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "crash_child", "--nocapture"])
        .env(CRASH_DB, &db.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (printed, status) = tokio::task::spawn_blocking(move || {
        let mut printed: Vec<(u64, usize, usize)> = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some(rest) = line.strip_prefix("appended ") else {
                continue;
            };
            let fields: Vec<&str> = rest.split(' ').collect();
            printed.push((
                fields[0].parse().unwrap(),
                fields[1].parse().unwrap(),
                fields[2].parse().unwrap(),
            ));
            if printed.len() >= CRASH_AFTER {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no flush, no rollback by the child
        (printed, child.wait().unwrap())
    })
    .await
    .unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child must die of SIGKILL, under load ({status:?})"
    );
    assert!(
        printed.len() >= CRASH_AFTER,
        "the child acknowledged only {} appends before it ended",
        printed.len()
    );

    // Restart: the store opens, the log verifies, and every acknowledged append is there.
    let store = db.connect().await;
    let log = open_log(
        store.clone(),
        signer(),
        manual_only(),
        Arc::new(SystemClock),
    )
    .await;
    log.checkpoint_now().await.unwrap();
    let (report, entries) = export_and_verify(&log).await;
    let max = printed.iter().map(|p| p.0).max().unwrap();
    assert!(
        report.entries > max,
        "the log holds {} entries but index {max} was acknowledged",
        report.entries
    );
    for (index, task, seq) in &printed {
        assert_eq!(
            entries[*index as usize],
            entry(*task, *seq),
            "acknowledged entry {index} is not what was appended"
        );
    }
    // Nothing appears twice, and each task's entries are its sequence without gaps up to
    // wherever the kill stopped it.
    let mut per_task: HashMap<usize, Vec<usize>> = HashMap::new();
    for e in &entries {
        let note = e.note.as_deref().unwrap();
        let mut words = note.split(' ');
        let task: usize = words.nth(1).unwrap().parse().unwrap();
        let seq: usize = words.nth(1).unwrap().parse().unwrap();
        per_task.entry(task).or_default().push(seq);
    }
    for (task, seqs) in per_task {
        assert_eq!(seqs, (0..seqs.len()).collect::<Vec<_>>(), "task {task}");
    }
    // And the restarted node appends after the last entry.
    assert_eq!(
        log.append(&entry(99, 0)).await.unwrap(),
        report.entries,
        "the next index follows the recovered log"
    );
    eprintln!(
        "crash test ({:?}): {} appends acknowledged before SIGKILL (max index {max}); {} \
         entries and {} checkpoints after restart, export verified",
        db.engine,
        printed.len(),
        report.entries,
        report.checkpoints
    );
}
