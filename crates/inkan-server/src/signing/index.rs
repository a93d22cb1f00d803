//! Group commit for the signature index (criteria 2.2.3(3)C): the records of concurrent
//! signatures go to the store in one transaction, the way the log's appends do, so that
//! indexing costs one commit per batch rather than one per signature.
//!
//! Owns the batching, and the index's repair at start ([`rebuild`]): the log is the record, the
//! index a lookup over it, so a `signature.made` entry whose rows were lost (a crash or a store
//! error between the entry and its batch) gets them back from the entry itself before the
//! service answers anyone. Must never answer a caller before its records are committed, or
//! answer success when the batch failed.

use crate::store::signing::SignatureRecord;
use crate::store::{KeyId, Store, StoreError};
use inkan_log::entry::{Entry, EntryKind, Outcome};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The deployment setting holding the log size the index was last checked against.
const CHECKED_SETTING: &str = "signature_index.checked";

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

/// Gives every `signature.made` entry appended since the last check its index rows, if it has
/// none (criteria 2.2.3(3)C: a signature in the log is found by its digest), and records the
/// log size checked; returns how many entries were repaired. Runs at start, before requests
/// are served: an entry found without rows is one whose batch never committed. (A node started
/// while another node's batch is in flight could index that batch's entry twice: the lookup
/// then lists that signature twice, never misses it.)
pub async fn rebuild(store: &dyn Store, now: i64) -> Result<u64, StoreError> {
    let from = match store.setting(CHECKED_SETTING).await? {
        Some((value, _)) => value
            .parse::<u64>()
            .map_err(|_| StoreError::Corrupt(format!("setting {CHECKED_SETTING} is not a size")))?,
        None => 0,
    };
    let size = store.log_size().await?;
    if from >= size {
        return Ok(0);
    }
    let indexed: BTreeSet<u64> = store.indexed_log_indexes(from).await?.into_iter().collect();
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut repaired = 0;
    let mut at = from;
    while at < size {
        let page = store
            .log_entries(at, u32::try_from(size - at).unwrap_or(u32::MAX))
            .await?;
        if page.is_empty() {
            break;
        }
        let mut records = Vec::new();
        for (offset, bytes) in page.iter().enumerate() {
            let index = at + offset as u64;
            if indexed.contains(&index) {
                continue;
            }
            let entry = Entry::decode(bytes)
                .map_err(|e| StoreError::Corrupt(format!("log entry {index}: {e}")))?;
            if entry.kind != EntryKind::SignatureMade || entry.outcome != Outcome::Succeeded {
                continue;
            }
            let Some(key_id) = entry.key_id.clone() else {
                continue;
            };
            let subscriber = match owners.get(&key_id) {
                Some(owner) => owner.clone(),
                None => {
                    let id = KeyId::parse(&key_id).map_err(|e| {
                        StoreError::Corrupt(format!("log entry {index}: key {key_id}: {e}"))
                    })?;
                    let Some(key) = store.get_key(&id).await? else {
                        continue;
                    };
                    owners.insert(key_id.clone(), key.owner.clone());
                    key.owner
                }
            };
            repaired += 1;
            records.extend(entry.digests.iter().map(|digest| SignatureRecord {
                digest: digest.clone(),
                key_id: key_id.clone(),
                subscriber: subscriber.clone(),
                document_type: entry.note.clone().unwrap_or_default(),
                log_index: index,
                created_at: entry.time,
            }));
        }
        for batch in records.chunks(MAX_BATCH) {
            store.insert_signatures(batch).await?;
        }
        at += page.len() as u64;
    }
    if repaired > 0 {
        tracing::warn!(
            repaired,
            from,
            size,
            "signature index: rows rebuilt from the log for signatures whose index write was lost"
        );
    }
    store
        .set_setting(CHECKED_SETTING, &size.to_string(), now)
        .await?;
    Ok(repaired)
}
