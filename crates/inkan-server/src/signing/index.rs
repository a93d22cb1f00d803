//! The signature index's repair (criteria 2.2.3(3)C). The index rows of a signature are
//! written in the same transaction as its `signature.made` entry (`TransparencyLog::
//! append_signature_made`), so they cannot be lost apart from it; the log is the record and the
//! index a lookup over it, so [`rebuild`] still checks at start that every `signature.made`
//! entry appended since the last check has its rows (a database written by an older version,
//! or rows removed by hand), and gives them back from the entry itself before the service
//! answers anyone.
//!
//! Must never: write a row for an entry that is not a committed `signature.made`.

use inkan_log::entry::{Entry, EntryKind, Outcome};
use inkan_store::signing::SignatureRecord;
use inkan_store::{KeyId, Store, StoreError};
use std::collections::{BTreeSet, HashMap};

/// Most records repaired in one transaction.
const REPAIR_BATCH: usize = 512;

/// The deployment setting holding the log size the index was last checked against.
const CHECKED_SETTING: &str = "signature_index.checked";

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
                status_entries: Vec::new(),
            }));
        }
        for batch in records.chunks(REPAIR_BATCH) {
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
