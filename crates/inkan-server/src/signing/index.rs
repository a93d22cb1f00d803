//! Group commit for the signature index (criteria 2.2.3(3)C): the records of concurrent
//! signatures go to the store in one transaction, the way the log's appends do, so that
//! indexing costs one commit per batch rather than one per signature.
//!
//! Owns the batching. Must never answer a caller before its records are committed, or answer
//! success when the batch failed.

use crate::store::signing::SignatureRecord;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most records in one transaction.
const MAX_BATCH: usize = 512;

type Request = (
    Vec<SignatureRecord>,
    oneshot::Sender<Result<(), Arc<StoreError>>>,
);

/// The sending side; the writer task runs while one exists.
#[derive(Debug, Clone)]
pub(super) struct IndexWriter {
    queue: mpsc::Sender<Request>,
}

impl IndexWriter {
    /// Starts the writer task over `store`.
    pub(super) fn start(store: Arc<dyn Store>) -> Self {
        let (queue, mut requests) = mpsc::channel::<Request>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (records, replies): (Vec<Vec<SignatureRecord>>, Vec<_>) =
                    batch.drain(..).unzip();
                let records: Vec<SignatureRecord> = records.into_iter().flatten().collect();
                let result = store.insert_signatures(&records).await.map_err(Arc::new);
                if let Err(e) = &result {
                    tracing::error!(error = %e, records = records.len(), "signature index write failed");
                }
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
        });
        IndexWriter { queue }
    }

    /// Writes `records`, returning once they are committed.
    pub(super) async fn write(&self, records: Vec<SignatureRecord>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let closed = || StoreError::Config("the signature index writer has stopped".into());
        self.queue
            .send((records, reply))
            .await
            .map_err(|_| closed())?;
        match answer.await.map_err(|_| closed())? {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Config(format!("the signature index: {e}"))),
        }
    }
}
