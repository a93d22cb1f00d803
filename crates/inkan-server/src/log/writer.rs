//! Group commit: the one task of a node that writes the log.
//!
//! Appends arrive on a bounded channel. The writer waits for the first, takes every other one
//! already queued (up to [`MAX_BATCH`]), writes them all in one store transaction and answers
//! each caller with its index; while that transaction commits, new appends queue up and form
//! the next batch. So under load a commit (and its fsync) is shared by many appends, and with
//! one caller at a time each append is one transaction, without waiting for company.
//!
//! Owns the batching and the answers. Must never answer an append before its batch committed,
//! answer success to any append of a batch that failed, or stop because one batch failed.

use super::{LogError, MAX_BATCH, Request};
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Runs until the queue is closed and drained; publishes the log size after every commit on
/// `sizes`.
pub(super) async fn run(
    store: Arc<dyn Store>,
    mut queue: mpsc::Receiver<Request>,
    sizes: watch::Sender<u64>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (entries, replies): (Vec<Vec<u8>>, Vec<_>) =
            batch.drain(..).map(|r| (r.entry, r.reply)).unzip();
        match store.append_log_entries(&entries).await {
            Ok(appended) => {
                for (offset, reply) in (0u64..).zip(replies) {
                    // A caller that went away does not need its index.
                    let _ = reply.send(Ok(appended.first_index + offset));
                }
                sizes.send_if_modified(|size| {
                    let grew = appended.head.size > *size;
                    if grew {
                        *size = appended.head.size;
                    }
                    grew
                });
            }
            Err(error) => {
                tracing::error!(
                    %error,
                    appends = entries.len(),
                    "log append failed: every append of the batch fails"
                );
                let error = Arc::new(error);
                for reply in replies {
                    let _ = reply.send(Err(LogError::Store(error.clone())));
                }
            }
        }
    }
    tracing::debug!("log writer stopped");
}
