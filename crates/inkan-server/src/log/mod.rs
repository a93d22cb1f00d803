//! The transparency log service: durable, batched appends, signed checkpoints, receipts and
//! the export (criteria 2.2.3(2)A-3 and B-2, 2.2.3(3)C, 2.1.3(12), 2.3.3(5)).
//!
//! [`TransparencyLog`] owns the path from "an event happened" to "it is in the Merkle tree,
//! committed": callers (the signing module, the key registry, operators' actions) call
//! [`TransparencyLog::append`] *before* they act, and it returns only once the entry and the
//! updated tree are committed in the store, so a caller that gets an error does not act (fail
//! closed).
//!
//! - **Group commit** (`writer.rs`): one writer task per node, fed by a bounded channel, takes
//!   whatever appends are queued (up to [`MAX_BATCH`]) and writes them in one store
//!   transaction (`Store::append_log_batch`), so concurrent callers share one commit (one
//!   fsync) instead of paying one each. If that transaction fails, every append of the batch
//!   fails; the writer goes on with the next batch. Indexes are assigned inside the database
//!   under the log's write lock, so several nodes on one PostgreSQL take turns integrating the
//!   tree and produce one log.
//! - **Checkpoints** (`checkpoints.rs`): C2SP `tlog-checkpoint` notes for (origin, size, root),
//!   signed through a [`NoteSigner`] (in production backed by the crypto device; it may block,
//!   so it runs on `spawn_blocking`), issued when [`CheckpointPolicy::every_entries`] entries
//!   arrived since the last one or [`CheckpointPolicy::every`] passed with new entries,
//!   whichever first, on demand ([`TransparencyLog::checkpoint_now`]), and after every batch
//!   that carries signature results, so that their receipts are ready when their callers are
//!   answered (the store signs the batch's tree once it is committed, its root read back from
//!   the stored hashes, `inkan_store::CheckpointSigner`). The root signed is always recomputed
//!   from the stored hashes of a committed tree. The store keeps at most one checkpoint per
//!   size and sizes never go back.
//! - **Receipts** ([`TransparencyLog::receipt`]): a C2SP `tlog-proof` bundle (checkpoint, index,
//!   inclusion proof) for one entry, checked before it is handed out.
//! - **Export** (`export.rs`): the JSON Lines format of `inkan_log::verify`, streamed in pages,
//!   ending on a checkpoint taken for it.
//!
//! Must never: acknowledge an append before its transaction committed; let a failed batch
//! look like success to any of its callers; hold a private key or sign anything but a
//! checkpoint body; sign a root it has not recomputed from the stored hashes; store two
//! checkpoints for one size or a checkpoint smaller than the latest; write, rewrite or delete
//! an entry other than by appending.

mod checkpoints;
mod export;
mod recent;
mod recorder;
mod writer;

pub use export::ExportSummary;
pub use recorder::{Event, FailureCategory, Recorder, ResultKinds};

use crate::clock::{Clock, UnixMillis};
use crate::epoch::Epoch;
use inkan_log::Hash;
use inkan_log::checkpoint::Checkpoint;
use inkan_log::entry::Entry;
use inkan_log::note::NoteSigner;
use inkan_log::receipt::Receipt;
use inkan_log::tree::{inclusion_proof, inclusion_proof_indexes, stored_hash_index};
use inkan_store::{KeyId, KeyState, SignatureRecord, Store, StoreError, StoredCheckpoint};
use recent::Recent;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Most appends written in one transaction.
pub const MAX_BATCH: usize = 512;

/// How many appends may wait for the writer before callers wait to enqueue.
pub const QUEUE_DEPTH: usize = 4 * MAX_BATCH;

/// The largest encoded entry accepted: what `Entry::decode` (hence offline verification)
/// accepts.
pub use inkan_log::entry::MAX_ENTRY_BYTES;

/// Why a log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The store failed (for an append: the batch's transaction did not commit, so the entry
    /// is not in the log). Shared by every append of a failed batch.
    #[error("log store: {0}")]
    Store(Arc<StoreError>),
    /// The writer has stopped (the log is shutting down): nothing was appended.
    #[error("the log writer has stopped")]
    Closed,
    /// The request is not acceptable (an entry too large, a bad origin or policy).
    #[error("invalid log request: {0}")]
    Invalid(String),
    /// No such entry.
    #[error("no log entry {index}: the log holds {size} entries")]
    NoSuchEntry {
        /// The index asked for.
        index: u64,
        /// The log's size.
        size: u64,
    },
    /// Signing a checkpoint failed.
    #[error("signing the checkpoint: {0}")]
    Signer(String),
    /// The stored log contradicts itself or this configuration (another origin, a checkpoint
    /// whose root the stored tree does not give): the log refuses to go on.
    #[error("the stored log is inconsistent: {0}")]
    Inconsistent(String),
    /// A tree computation or a log format failed.
    #[error("log: {0}")]
    Tree(#[from] inkan_log::LogError),
    /// Writing the export failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
}

impl LogError {
    /// Whether the store could not be reached or could not write (see
    /// `StoreError::is_unavailable`): nothing was appended, and a retry shortly may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, LogError::Store(e) if e.is_unavailable())
    }
}

impl From<StoreError> for LogError {
    fn from(error: StoreError) -> Self {
        LogError::Store(Arc::new(error))
    }
}

/// When checkpoints are issued: after `every_entries` new entries or after `every` with new
/// entries, whichever comes first (both must be non-zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Entries since the latest checkpoint that make a new one due.
    pub every_entries: u64,
    /// Time since the latest checkpoint after which new entries make a new one due.
    pub every: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy {
            every_entries: 256,
            every: Duration::from_secs(60),
        }
    }
}

/// One append waiting for the writer.
struct Request {
    /// The entry's canonical bytes.
    entry: Vec<u8>,
    /// Signature index rows to write with the entry (its `log_index` is set by the store).
    signatures: Vec<SignatureRecord>,
    /// A key whose committed state the caller needs once the entry is committed.
    key: Option<KeyId>,
    /// Where the writer sends the result (or the batch's failure).
    reply: oneshot::Sender<Result<Committed, LogError>>,
}

/// What the writer answers an append.
#[derive(Debug)]
struct Committed {
    index: u64,
    /// For an append that named a key: its state and device handle as committed with the
    /// entry (`None` inside when the key does not exist).
    key: Option<Option<(KeyState, String)>>,
    /// The cache epoch the batch saw.
    epoch: Option<u64>,
}

/// What a write-ahead append that named a key learns ([`TransparencyLog::append_reading_key`]).
#[derive(Debug, Clone)]
pub struct KeyAsLogged {
    /// The entry's index.
    pub index: u64,
    /// The key's state and device handle as committed with the entry (`None`: no such key).
    pub key: Option<(KeyState, String)>,
    /// The cache epoch the entry's batch saw (`crate::epoch`).
    pub epoch: Option<u64>,
}

/// What the writer and the checkpoint task share with the handle.
struct Shared {
    store: Arc<dyn Store>,
    signer: Arc<dyn NoteSigner + Send + Sync>,
    origin: String,
    policy: CheckpointPolicy,
    clock: Arc<dyn Clock>,
    /// The latest checkpoint this node knows of; the lock serialises issuing in this node.
    latest: tokio::sync::Mutex<Latest>,
    /// The latest checkpoint this node issued or read, for receipts.
    newest: std::sync::Mutex<Option<StoredCheckpoint>>,
    /// Entries and stored hashes committed or read lately.
    recent: Arc<Recent>,
    /// The newest cache epoch the batches saw.
    epoch: Arc<Epoch>,
}

/// The latest checkpoint known: its size (none yet: `None`) and when it was made (or, before
/// the first, when the log was opened).
#[derive(Debug, Clone, Copy)]
struct Latest {
    size: Option<u64>,
    at: UnixMillis,
}

impl Shared {
    /// The stored hashes at `wanted`: those kept in memory, the others read from the store
    /// (and kept).
    async fn hashes(&self, wanted: &[u64]) -> Result<HashMap<u64, Hash>, LogError> {
        let (mut found, missing) = self.recent.hashes(wanted);
        if !missing.is_empty() {
            let read = self.store.log_hashes(&missing).await?;
            let read: HashMap<u64, Hash> = missing.into_iter().zip(read).collect();
            self.recent.read(&read);
            found.extend(read);
        }
        Ok(found)
    }

    /// Remembers `checkpoint` for receipts if it is larger than the one remembered.
    fn remember(&self, checkpoint: &StoredCheckpoint) {
        let mut newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
        if newest.as_ref().is_none_or(|n| n.size < checkpoint.size) {
            *newest = Some(checkpoint.clone());
        }
    }

    /// The size of the remembered checkpoint and when it was made.
    fn newest_size(&self) -> Option<(u64, UnixMillis)> {
        let newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
        newest.as_ref().map(|c| (c.size, c.created_at))
    }

    /// The remembered checkpoint, if it covers entry `index`.
    fn covering(&self, index: u64) -> Option<StoredCheckpoint> {
        let newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
        newest.as_ref().filter(|c| c.size > index).cloned()
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.store.engine())
            .field("signer", &self.signer.name())
            .field("origin", &self.origin)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The transparency log of one node. Appends from many tasks are batched; several nodes may
/// share one store.
#[derive(Debug)]
pub struct TransparencyLog {
    shared: Arc<Shared>,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    checkpointer: JoinHandle<()>,
}

impl TransparencyLog {
    /// Opens the log kept in `store`, with checkpoints for `origin` (which names the
    /// environment, e.g. `inkan.example/log/production`) signed by `signer`, and starts its
    /// writer and checkpoint tasks (on the current tokio runtime).
    ///
    /// Refuses ([`LogError::Inconsistent`]) a store whose latest checkpoint names another
    /// origin (a log of another environment) or a root the stored tree does not give. The
    /// checkpoint's signature is not checked here, so the log key can be rotated; `inkan log
    /// verify` checks every signature.
    pub async fn open(
        store: Arc<dyn Store>,
        signer: Arc<dyn NoteSigner + Send + Sync>,
        origin: String,
        policy: CheckpointPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LogError> {
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(LogError::Invalid(format!(
                "origin {origin:?} must be non-empty, without control characters"
            )));
        }
        if !inkan_log::note::is_valid_key_name(signer.name()) {
            return Err(LogError::Invalid(format!(
                "log key name {:?} is not a valid note key name",
                signer.name()
            )));
        }
        if policy.every_entries == 0 || policy.every.is_zero() {
            return Err(LogError::Invalid(format!(
                "checkpoint policy {policy:?}: both limits must be non-zero"
            )));
        }
        let head = store.log_head().await?;
        let latest = store.latest_checkpoint().await?;
        if let Some(latest) = &latest {
            check_stored_checkpoint(&*store, latest, &origin).await?;
        }
        let now = clock.now();
        let known = Latest {
            size: latest.as_ref().map(|c| c.size),
            at: latest.as_ref().map_or(now, |c| c.created_at.min(now)),
        };
        let shared = Arc::new(Shared {
            store,
            signer,
            origin,
            policy,
            clock,
            latest: tokio::sync::Mutex::new(known),
            newest: std::sync::Mutex::new(latest),
            recent: Arc::new(Recent::default()),
            epoch: Arc::new(Epoch::default()),
        });
        let (requests, queue) = mpsc::channel(QUEUE_DEPTH);
        let (sizes, sizes_seen) = watch::channel(head.size);
        let writer = tokio::spawn(writer::run(shared.clone(), queue, sizes));
        let checkpointer = tokio::spawn(checkpoints::run(shared.clone(), sizes_seen));
        tracing::info!(
            origin = %shared.origin,
            engine = shared.store.engine(),
            size = head.size,
            "transparency log open"
        );
        Ok(TransparencyLog {
            shared,
            requests: Some(requests),
            writer: Some(writer),
            checkpointer,
        })
    }

    /// The origin checkpoints name.
    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// Appends `entry` and returns its index once the entry and the updated tree are
    /// committed. Concurrent appends are committed together (group commit). On error the
    /// entry is not in the log and the caller must not act on it.
    ///
    /// Cancelling the returned future does not withdraw an entry already queued: it may still
    /// be appended.
    pub async fn append(&self, entry: &Entry) -> Result<u64, LogError> {
        Ok(self.send(entry, Vec::new(), None).await?.index)
    }

    /// As [`append`](Self::append), and returns the state and device handle of `key` as
    /// committed in the same transaction as the entry (`None` if the key does not exist): what
    /// the signing module checks after its write-ahead entry, so that a key closed before its
    /// own entry is seen closed by every request logged after that entry (criteria 2.2.2(3)).
    /// With them, the cache epoch the batch's transaction saw (see `crate::epoch`).
    pub async fn append_reading_key(
        &self,
        entry: &Entry,
        key: &KeyId,
    ) -> Result<KeyAsLogged, LogError> {
        let committed = self.send(entry, Vec::new(), Some(key.clone())).await?;
        Ok(KeyAsLogged {
            index: committed.index,
            key: committed.key.flatten(),
            epoch: committed.epoch,
        })
    }

    /// The newest cache epoch this node's batches have seen (`crate::epoch`).
    pub fn epoch(&self) -> &Arc<Epoch> {
        &self.shared.epoch
    }

    /// As [`append`](Self::append) for a `signature.made` entry, writing the signature index
    /// rows `signatures` in the same transaction (their `log_index` becomes the entry's), so a
    /// signature in the log is always found by its digest (criteria 2.2.3(3)C).
    pub async fn append_signature_made(
        &self,
        entry: &Entry,
        signatures: Vec<SignatureRecord>,
    ) -> Result<u64, LogError> {
        Ok(self.send(entry, signatures, None).await?.index)
    }

    async fn send(
        &self,
        entry: &Entry,
        signatures: Vec<SignatureRecord>,
        key: Option<KeyId>,
    ) -> Result<Committed, LogError> {
        let entry = entry.encode();
        if entry.len() > MAX_ENTRY_BYTES {
            return Err(LogError::Invalid(format!(
                "entry of {} bytes, more than the {MAX_ENTRY_BYTES} allowed",
                entry.len()
            )));
        }
        let requests = self.requests.as_ref().ok_or(LogError::Closed)?;
        let (reply, answer) = oneshot::channel();
        requests
            .send(Request {
                entry,
                signatures,
                key,
                reply,
            })
            .await
            .map_err(|_| LogError::Closed)?;
        answer.await.map_err(|_| LogError::Closed)?
    }

    /// Issues a checkpoint for the log as it is now, unless the latest checkpoint already
    /// covers every entry; returns the latest checkpoint either way.
    pub async fn checkpoint_now(&self) -> Result<StoredCheckpoint, LogError> {
        self.shared.issue().await
    }

    /// The receipt of entry `index`: its inclusion proof under the latest checkpoint, issuing
    /// a checkpoint first if none covers the entry yet.
    pub async fn receipt(&self, index: u64) -> Result<Receipt, LogError> {
        let checkpoint = match self.shared.covering(index) {
            Some(known) => known,
            None => self.shared.issue_covering(Some(index + 1)).await?,
        };
        let signed = parse_stored(&checkpoint)?;
        if signed.size <= index {
            return Err(LogError::Inconsistent(format!(
                "the latest checkpoint (size {}) does not cover entry {index}",
                signed.size
            )));
        }
        let mut wanted = inclusion_proof_indexes(signed.size, index)?;
        let leaf_index = stored_hash_index(0, index);
        wanted.push(leaf_index);
        let known = self.shared.hashes(&wanted).await?;
        let proof = inclusion_proof(signed.size, index, &known)?;
        let leaf = known
            .get(&leaf_index)
            .ok_or(inkan_log::LogError::MissingHash(leaf_index))?;
        // Never hand out a receipt that does not verify against the checkpoint it carries.
        inkan_log::tree::verify_inclusion(leaf, index, signed.size, &proof, &signed.root).map_err(
            |e| {
                LogError::Inconsistent(format!(
                    "entry {index}'s stored proof does not match checkpoint {}: {e}",
                    signed.size
                ))
            },
        )?;
        Ok(Receipt::new(index, proof, checkpoint.note))
    }

    /// The receipt of entry `index` with the entry itself in its `extra` line, so that it can
    /// be verified offline with nothing but the log's public key.
    pub async fn receipt_with_entry(&self, index: u64) -> Result<Receipt, LogError> {
        let mut receipt = self.receipt(index).await?;
        receipt.extra = match self.shared.recent.entry(index) {
            Some(entry) => Some(entry),
            None => self
                .shared
                .store
                .log_entries(index, 1)
                .await?
                .into_iter()
                .next(),
        };
        Ok(receipt)
    }

    /// Issues a checkpoint (unless the latest already covers every entry) and writes the log
    /// up to it to `out` in the JSON Lines format of `inkan_log::verify`, each checkpoint after
    /// the entries it covers, reading the store in pages. The export ends on that checkpoint,
    /// so every entry in it is covered by a signature (criteria 2.1.3(12), 2.3.3(5));
    /// entries appended meanwhile are left for the next export.
    pub async fn export<W>(&self, out: W) -> Result<ExportSummary, LogError>
    where
        W: tokio::io::AsyncWrite + Unpin,
    {
        let covered = self.checkpoint_now().await?;
        export::export(&*self.shared.store, covered.size, out).await
    }

    /// Stops taking appends, waits until those already queued are committed (or failed), and
    /// stops the checkpoint task.
    pub async fn close(mut self) {
        self.requests.take();
        if let Some(writer) = self.writer.take()
            && let Err(error) = writer.await
        {
            tracing::error!(%error, "the log writer ended abnormally");
        }
        self.checkpointer.abort();
    }
}

impl Drop for TransparencyLog {
    fn drop(&mut self) {
        // The writer finishes the queued appends and stops when the queue closes (dropping
        // `requests`); the checkpoint task would stop with it, but need not wait for a tick.
        self.checkpointer.abort();
    }
}

/// The checkpoint a stored note commits to, read without checking its signature.
fn parse_stored(stored: &StoredCheckpoint) -> Result<Checkpoint, LogError> {
    let parsed = inkan_log::note::parse(&stored.note)?;
    let checkpoint = Checkpoint::parse(parsed.body)?;
    if checkpoint.size != stored.size {
        return Err(LogError::Inconsistent(format!(
            "the checkpoint stored for size {} says size {}",
            stored.size, checkpoint.size
        )));
    }
    Ok(checkpoint)
}

/// The root of the stored tree at `size`, recomputed from the stored hashes.
async fn stored_root(store: &dyn Store, size: u64) -> Result<Hash, LogError> {
    let wanted = inkan_log::tree::tree_hash_indexes(size);
    let hashes = store.log_hashes(&wanted).await?;
    let known: HashMap<u64, Hash> = wanted.into_iter().zip(hashes).collect();
    Ok(inkan_log::tree::tree_hash(size, &known)?)
}

/// Checks that a stored checkpoint is for `origin` and that the stored tree gives its root.
async fn check_stored_checkpoint(
    store: &dyn Store,
    stored: &StoredCheckpoint,
    origin: &str,
) -> Result<(), LogError> {
    let checkpoint = parse_stored(stored)?;
    if checkpoint.origin != origin {
        return Err(LogError::Inconsistent(format!(
            "the store holds the log {:?}, not {origin:?} (another environment or deployment)",
            checkpoint.origin
        )));
    }
    let root = stored_root(store, checkpoint.size).await?;
    if root != checkpoint.root {
        return Err(LogError::Inconsistent(format!(
            "the latest checkpoint (size {}) does not match the stored tree",
            checkpoint.size
        )));
    }
    Ok(())
}
