//! Group commit: the one task of a node that writes the log.
//!
//! Appends arrive on a bounded channel. The writer waits for the first, takes every other one
//! already queued (up to [`MAX_BATCH`]), writes them all in one store transaction and answers
//! each caller with its index; while that transaction commits, new appends queue up and form
//! the next batch. So under load a commit (and its fsync) is shared by many appends, and with
//! one caller at a time each append is one transaction, without waiting for company.
//!
//! A batch carries what its appends bring besides their entries: the signature index rows of
//! `signature.made` entries, written in the same transaction, and the keys whose committed
//! state a write-ahead entry's caller must see, read in it (`Store::append_log_batch`). So one
//! transaction per batch holds the write-ahead entries of the requests that just arrived, the
//! result entries and index rows of those that were signed meanwhile, and their key checks.
//! A batch with results also stores a checkpoint of the tree it makes (signed inside the
//! transaction, `checkpoints`), so their receipts are ready when their callers are answered,
//! without a checkpoint round of their own.
//!
//! Owns the batching and the answers. Must never answer an append before its batch committed,
//! answer success to any append of a batch that failed, or stop because one batch failed.

use super::{Committed, LogError, MAX_BATCH, Request, Shared};
use inkan_store::LogBatch;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Runs until the queue is closed and drained; publishes the log size after every commit on
/// `sizes`.
pub(super) async fn run(
    shared: Arc<Shared>,
    mut queue: mpsc::Receiver<Request>,
    sizes: watch::Sender<u64>,
) {
    let mut requests = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut requests, MAX_BATCH).await > 0 {
        let mut batch = LogBatch::default();
        let mut replies = Vec::with_capacity(requests.len());
        for (position, request) in requests.drain(..).enumerate() {
            batch.entries.push(request.entry);
            batch
                .signatures
                .extend(request.signatures.into_iter().map(|r| (position, r)));
            if let Some(key) = &request.key
                && !batch.keys.contains(key)
            {
                batch.keys.push(key.clone());
            }
            replies.push((request.key, request.reply));
        }
        if !batch.signatures.is_empty() {
            batch.checkpoint = Some(shared.clone());
        }
        match shared.store.append_log_batch(&batch).await {
            Ok(committed) => {
                crate::telemetry::log_batch(batch.entries.len());
                if let Some(checkpoint) = &committed.checkpoint {
                    shared.remember(checkpoint);
                }
                if let Some(epoch) = committed.epoch {
                    shared.epoch.observe(epoch);
                }
                let appended = committed.appended;
                for (offset, (key, reply)) in (0u64..).zip(replies) {
                    let key = key.map(|id| committed.keys.get(&id).cloned());
                    // A caller that went away does not need its index.
                    let _ = reply.send(Ok(Committed {
                        index: appended.first_index + offset,
                        key,
                        epoch: committed.epoch,
                    }));
                }
                shared.recent.committed(
                    appended.first_index,
                    batch.entries,
                    inkan_log::tree::stored_hash_count(appended.first_index),
                    &committed.hashes,
                );
                sizes.send_if_modified(|size| {
                    let grew = appended.head.size > *size;
                    if grew {
                        *size = appended.head.size;
                    }
                    grew
                });
            }
            Err(error) => {
                crate::telemetry::log_batch_failed(matches!(
                    error,
                    inkan_store::StoreError::Corrupt(_)
                ));
                tracing::error!(
                    %error,
                    appends = batch.entries.len(),
                    "log append failed: every append of the batch fails"
                );
                let error = Arc::new(error);
                for (_, reply) in replies {
                    let _ = reply.send(Err(LogError::Store(error.clone())));
                }
            }
        }
    }
    tracing::debug!("log writer stopped");
}
