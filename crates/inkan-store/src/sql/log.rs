//! The transparency log's rows ([`crate::log`]), for both engines: its head, its stored
//! hashes, and appending entries with the hashes they add.
//!
//! An append runs in one write transaction that first takes the log's lock ([`Lock::Log`]), so
//! nodes sharing the database take turns integrating the tree; every later statement of the
//! transaction sees what the previous holder committed. Lists travel as one JSON parameter
//! expanded by the engine ([`Engine::hex_rows`], [`Engine::int_rows`]), in statements of at
//! most [`Engine::statement_bytes`] each, so a batch is a few statements whatever its length.
//!
//! Must never: write entries, hashes and the head other than together in one transaction, or
//! decide what the tree's hashes are (that is `store::log` and `inkan_log`).

use crate::StoreError;
use crate::auth_rows::Columns;
use crate::engine::{Db, Engine, Executor, Lock, Sql, Tx, hex_array, int_array};
use crate::log::{self, Appended, BatchCommitted, LogHead, StoredCheckpoint};
use crate::{KeyId, KeyState, SignatureRecord};
use inkan_log::Hash;
use std::collections::HashMap;

/// The most hash indexes one read carries (at most 20 bytes each in the JSON list), so the
/// message stays under PostgreSQL's [`Engine::statement_bytes`].
const READ_CHUNK: usize = 400;

/// Splits `items` into runs of at most [`log::STATEMENT_CHUNK`] items and `limit` bytes once
/// hex-encoded (at least one item each).
pub(super) fn statement_chunks<'a, 'b>(items: &'b [&'a [u8]], limit: usize) -> Vec<&'b [&'a [u8]]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, item) in items.iter().enumerate() {
        let encoded = 2 * item.len() + 3;
        let full = i - start == log::STATEMENT_CHUNK || bytes + encoded > limit;
        if i > start && full {
            chunks.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += encoded;
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}

pub(super) async fn read_head(on: &mut impl Executor) -> Result<LogHead, StoreError> {
    let row = Sql::new("SELECT size, root FROM log_head WHERE id = 1")
        .fetch_optional(on)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the log head row is missing".into()))?;
    Ok(LogHead {
        size: log::from_db(row.int("size")?, "log size")?,
        root: log::hash_from_db(&row.bytes("root")?, "the log root")?,
    })
}

/// The stored hashes at `indexes` (those that exist), by index.
pub(super) async fn read_hashes(
    engine: Engine,
    on: &mut impl Executor,
    indexes: &[u64],
) -> Result<HashMap<u64, Hash>, StoreError> {
    let mut found = HashMap::with_capacity(indexes.len());
    let sql = format!(
        "SELECT idx, hash FROM log_hashes WHERE idx IN (SELECT v FROM ({}) AS l)",
        engine.int_rows(1)
    );
    for chunk in indexes.chunks(READ_CHUNK) {
        let chunk = chunk
            .iter()
            .map(|i| log::to_db(*i))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = Sql::assembled(sql.clone())
            .bind(&int_array(&chunk))
            .fetch_all(on)
            .await?;
        for row in &rows {
            let idx = log::from_db(row.int("idx")?, "stored hash index")?;
            let hash = log::hash_from_db(&row.bytes("hash")?, "a stored hash")?;
            found.insert(idx, hash);
        }
    }
    Ok(found)
}

/// Writes `items` into `table` (`log_entries` or `log_hashes`, its value column `column`) at
/// indexes `first, first + 1, …`.
async fn insert_rows(
    engine: Engine,
    tx: &mut Tx,
    table: &'static str,
    column: &'static str,
    first: u64,
    items: &[&[u8]],
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO {table} (idx, {column}) SELECT $1 + l.ord, l.v FROM ({}) AS l",
        engine.hex_rows(2)
    );
    let mut index = first;
    for chunk in statement_chunks(items, engine.statement_bytes()) {
        Sql::assembled(sql.clone())
            .bind(log::to_db(index)?)
            .bind(&hex_array(chunk.iter().copied()))
            .execute(tx)
            .await?;
        index += chunk.len() as u64;
    }
    Ok(())
}

/// Appends `entries` in one transaction under the log's lock, with the index rows of
/// `signatures` (each the position of its entry in `entries`), then reads the state of `keys`
/// in the same transaction (`Store::append_log_batch`).
pub(super) async fn append(
    db: &Db,
    entries: &[Vec<u8>],
    signatures: &[(usize, SignatureRecord)],
    keys: &[KeyId],
) -> Result<BatchCommitted, StoreError> {
    if let Some((position, _)) = signatures.iter().find(|(p, _)| *p >= entries.len()) {
        return Err(StoreError::Conflict(format!(
            "a signature index row names entry {position} of a batch of {}",
            entries.len()
        )));
    }
    let mut tx = db.begin_write().await?;
    tx.lock(Lock::Log).await?;
    let head = read_head(&mut tx).await?;
    let (appended, hashes) = append_entries(db.engine(), &mut tx, head, entries).await?;
    let rows: Vec<(u64, &SignatureRecord)> = signatures
        .iter()
        .map(|(position, record)| (appended.first_index + *position as u64, record))
        .collect();
    super::signing::insert_signature_rows(db.engine(), &mut tx, &rows).await?;
    let keys = read_key_states(db.engine(), &mut tx, keys).await?;
    tx.commit().await?;
    Ok(BatchCommitted {
        appended,
        hashes,
        keys,
    })
}

/// The state and handle of each of `keys` that exists, read in `tx`.
async fn read_key_states(
    engine: Engine,
    tx: &mut Tx,
    keys: &[KeyId],
) -> Result<HashMap<KeyId, (KeyState, String)>, StoreError> {
    let mut found = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(found);
    }
    let ids: Vec<&str> = keys.iter().map(KeyId::as_str).collect();
    let list = serde_json::to_string(&ids)
        .map_err(|e| StoreError::Config(format!("encoding key ids: {e}")))?;
    let rows = Sql::assembled(format!(
        "SELECT id, state, handle FROM keys WHERE id IN (SELECT v FROM ({}) AS l)",
        engine.text_rows(1)
    ))
    .bind(&list)
    .fetch_all(tx)
    .await?;
    for row in &rows {
        let id = row.text("id")?;
        let state = row.text("state")?;
        // A row this version cannot read (a state a newer version wrote) answers "not found"
        // for that key alone, which refuses its signature, rather than failing the batch and
        // with it the other callers' entries.
        let (Some(state), Some(key)) = (
            KeyState::parse(&state),
            keys.iter().find(|k| k.as_str() == id),
        ) else {
            tracing::warn!(key = %id, %state, "a key's state could not be read: its signature is refused");
            continue;
        };
        found.insert(key.clone(), (state, row.text("handle")?));
    }
    Ok(found)
}

/// Integrates `entries` into the tree whose head is `head` and writes entries, hashes and the
/// new head in `tx`, which holds the log's lock. Returns the append and the hashes it stored.
async fn append_entries(
    engine: Engine,
    tx: &mut Tx,
    head: LogHead,
    entries: &[Vec<u8>],
) -> Result<(Appended, Vec<Hash>), StoreError> {
    if entries.is_empty() {
        let appended = Appended {
            first_index: head.size,
            head,
        };
        return Ok((appended, Vec::new()));
    }
    let count = entries.len() as u64;
    let needed = log::hashes_needed(head.size, count)?;
    let known = read_hashes(engine, tx, &needed).await?;
    let integrated = log::integrate(head.size, entries, known)?;
    let new_size = head.size + count;

    let entry_bytes: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    insert_rows(engine, tx, "log_entries", "entry", head.size, &entry_bytes).await?;
    let hash_bytes: Vec<&[u8]> = integrated.hashes.iter().map(|h| h.as_slice()).collect();
    insert_rows(
        engine,
        tx,
        "log_hashes",
        "hash",
        inkan_log::tree::stored_hash_count(head.size),
        &hash_bytes,
    )
    .await?;
    let updated = Sql::new("UPDATE log_head SET size = $1, root = $2 WHERE id = 1 AND size = $3")
        .bind(log::to_db(new_size)?)
        .bind(integrated.root.as_slice())
        .bind(log::to_db(head.size)?)
        .execute(tx)
        .await?;
    if updated != 1 {
        return Err(StoreError::Corrupt(
            "the log head changed under the write lock".into(),
        ));
    }
    let appended = Appended {
        first_index: head.size,
        head: LogHead {
            size: new_size,
            root: integrated.root,
        },
    };
    Ok((appended, integrated.hashes))
}

pub(super) fn checkpoint(row: &impl Columns) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: log::from_db(row.int("size")?, "checkpoint size")?,
        note: row.text("note")?,
        created_at: row.int("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::statement_chunks;
    const STATEMENT_BYTES: usize = 8 * 1024;

    #[test]
    fn statements_stay_small_and_keep_every_item_in_order() {
        let small = vec![1u8; 400];
        let big = vec![2u8; STATEMENT_BYTES + 1];
        let hash = [3u8; 32];
        for items in [
            vec![],
            vec![small.as_slice()],
            vec![small.as_slice(); 100],
            vec![
                big.as_slice(),
                small.as_slice(),
                big.as_slice(),
                big.as_slice(),
            ],
            vec![hash.as_slice(); 5_000],
        ] {
            let chunks = statement_chunks(&items, STATEMENT_BYTES);
            let rejoined: Vec<&[u8]> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(rejoined, items);
            for chunk in &chunks {
                assert!(!chunk.is_empty());
                assert!(chunk.len() <= crate::log::STATEMENT_CHUNK);
                let bytes: usize = chunk.iter().map(|i| 2 * i.len() + 3).sum();
                assert!(chunk.len() == 1 || bytes <= STATEMENT_BYTES, "{bytes}");
            }
        }
    }
}
