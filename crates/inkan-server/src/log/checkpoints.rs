//! Checkpoints: when they are due, and issuing one.
//!
//! The checkpoint task wakes when the writer commits (it publishes the log size) and on a
//! short tick, and issues a checkpoint when [`CheckpointPolicy::every_entries`] entries have
//! arrived since the latest one, or [`CheckpointPolicy::every`] has passed since it (by the
//! injected clock) and there are new entries. [`Shared::issue`] is also what
//! `checkpoint_now` and receipts call.
//!
//! Issuing, under this node's checkpoint lock: read the head; if the latest stored checkpoint
//! already covers it, that is the answer; otherwise recompute the root from the stored hashes
//! (it must equal the head's), sign the C2SP body on a blocking thread (the signer may be an
//! HSM call), and store it. If another node stored one meanwhile, the store refuses ours
//! (one checkpoint per size, sizes never go back) and theirs is the answer.
//!
//! A batch of the writer that carries signature results also asks for a checkpoint
//! ([`inkan_store::CheckpointSigner`], implemented here): inside the batch's transaction,
//! under the log's lock, the store has the new tree signed here (within [`BATCH_SIGN_WITHIN`],
//! else the batch goes without) and stores the checkpoint with the tree, which commits only if
//! its root read back from the stored hashes is the one signed.
//!
//! Must never: sign a root not computed from the stored hashes, or call the signer on an
//! async worker thread.

use super::{CheckpointPolicy, LogError, Shared, stored_root};
use crate::clock::UnixMillis;
use inkan_log::checkpoint::Checkpoint;
use inkan_store::{StoreError, StoredCheckpoint};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long a batch waits for the log key to sign its checkpoint: a slow or hung device delays
/// the batch's answers by this much at most (their receipts then issue a checkpoint).
const BATCH_SIGN_WITHIN: Duration = Duration::from_secs(2);

/// How often the task looks at the clock when no commit wakes it.
fn tick(policy: &CheckpointPolicy) -> Duration {
    (policy.every / 10).clamp(Duration::from_millis(5), Duration::from_millis(250))
}

/// Runs until the writer stops (the size channel closes).
pub(super) async fn run(shared: Arc<Shared>, mut sizes: watch::Receiver<u64>) {
    let tick = tick(&shared.policy);
    // Entries other processes appended (a host command, another node) are not in this
    // writer's sizes: the store's head is read once per checkpoint interval, so that they too
    // are covered within it while this node appends nothing.
    let mut stored = 0u64;
    let mut read_at = shared.clock.now();
    let every = i64::try_from(shared.policy.every.as_millis()).unwrap_or(i64::MAX);
    loop {
        let closed = tokio::select! {
            changed = sizes.changed() => changed.is_err(),
            () = tokio::time::sleep(tick) => false,
        };
        if closed {
            return;
        }
        if shared.clock.now().saturating_sub(read_at) >= every {
            read_at = shared.clock.now();
            match shared.store.log_head().await {
                Ok(head) => stored = head.size,
                Err(error) => tracing::warn!(%error, "reading the log's head for a checkpoint"),
            }
        }
        let size = (*sizes.borrow_and_update()).max(stored);
        if shared.due(size).await
            && let Err(error) = shared.issue().await
        {
            tracing::error!(%error, size, "issuing a checkpoint failed; will try again");
        }
    }
}

impl Shared {
    /// Whether a checkpoint is due for a log of `size` entries.
    async fn due(&self, size: u64) -> bool {
        let mut latest = *self.latest.lock().await;
        // The writer's batches store checkpoints too (`remember`): the larger one counts.
        if let Some((batched, at)) = self.newest_size()
            && Some(batched) > latest.size
        {
            latest = super::Latest {
                size: Some(batched),
                at: at.min(self.clock.now()),
            };
        }
        let covered = latest.size.unwrap_or(0);
        if size <= covered {
            return false;
        }
        let elapsed = self.clock.now().saturating_sub(latest.at);
        let every = i64::try_from(self.policy.every.as_millis()).unwrap_or(i64::MAX);
        size - covered >= self.policy.every_entries || elapsed >= every
    }

    /// Issues a checkpoint for the current head, or returns the latest one if it already
    /// covers the head.
    pub(super) async fn issue(&self) -> Result<StoredCheckpoint, LogError> {
        self.issue_covering(None).await
    }

    /// As [`issue`](Self::issue), but a checkpoint that already covers `size` entries is good
    /// enough: callers waiting for a receipt then share the checkpoint the one before them
    /// issued (under load, one checkpoint serves every request that waited for it).
    pub(super) async fn issue_covering(
        &self,
        size: Option<u64>,
    ) -> Result<StoredCheckpoint, LogError> {
        let mut latest = self.latest.lock().await;
        // Those who waited for the lock usually find that the one before them issued what
        // they need.
        if let Some(size) = size
            && let Some(known) = self.covering(size - 1)
        {
            return Ok(known);
        }
        let head = self.store.log_head().await?;
        if let Some(size) = size
            && size > head.size
        {
            return Err(LogError::NoSuchEntry {
                index: size - 1,
                size: head.size,
            });
        }
        let needed = size.unwrap_or(head.size);
        if let Some(stored) = self.store.latest_checkpoint().await?
            && stored.size >= needed
        {
            latest.size = Some(stored.size);
            latest.at = stored.created_at.min(self.clock.now());
            self.remember(&stored);
            return Ok(stored);
        }
        // From the store, not the node's memory of what it wrote: the signed root must be the
        // stored tree's.
        let root = stored_root(&*self.store, head.size).await?;
        if root != head.root {
            return Err(LogError::Inconsistent(format!(
                "the log head (size {}) names a root the stored hashes do not give",
                head.size
            )));
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: head.size,
            root,
        };
        let note = self.sign(checkpoint).await?;
        let at = self.clock.now();
        let issued = match self.store.insert_checkpoint(head.size, &note, at).await {
            Ok(()) => StoredCheckpoint {
                size: head.size,
                note,
                created_at: at,
            },
            Err(StoreError::Conflict(reason)) => match self.store.latest_checkpoint().await? {
                // Another node checkpointed this size or more meanwhile.
                Some(stored) if stored.size >= head.size => stored,
                _ => return Err(StoreError::Conflict(reason).into()),
            },
            Err(other) => return Err(other.into()),
        };
        latest.size = Some(issued.size);
        // Another node's clock may run ahead of ours: never wait for a time in our future.
        latest.at = issued.created_at.min(self.clock.now());
        self.remember(&issued);
        tracing::debug!(size = issued.size, "checkpoint issued");
        Ok(issued)
    }
}

impl Shared {
    /// Signs `checkpoint` with the log key, on a blocking thread (the signer may be an HSM).
    async fn sign(&self, checkpoint: Checkpoint) -> Result<String, LogError> {
        let signer = self.signer.clone();
        tokio::task::spawn_blocking(move || checkpoint.sign(&*signer))
            .await
            .map_err(|e| LogError::Signer(format!("the signing task failed: {e}")))?
            .map_err(|e| LogError::Signer(e.to_string()))
    }
}

#[async_trait::async_trait]
impl inkan_store::CheckpointSigner for Shared {
    async fn sign(&self, size: u64, root: inkan_log::Hash) -> Result<(String, UnixMillis), String> {
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        };
        let note = tokio::time::timeout(BATCH_SIGN_WITHIN, Shared::sign(self, checkpoint))
            .await
            .map_err(|_| format!("the log key did not sign within {BATCH_SIGN_WITHIN:?}"))?
            .map_err(|e| e.to_string())?;
        Ok((note, self.clock.now()))
    }
}
