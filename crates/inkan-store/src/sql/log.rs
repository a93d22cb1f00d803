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
use crate::UnixMillis;
use crate::auth_rows::Columns;
use crate::auth_rows::write_error;
use crate::engine::{Db, Engine, Executor, Lock, Sql, hex_array, int_array};
use crate::log::{self, Appended, BatchCommitted, CheckpointSigner, LogHead, StoredCheckpoint};
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

/// `items` as JSON lists for [`Engine::hex_rows`], each beside the log index of its first
/// item, cut so that each statement stays within [`Engine::statement_bytes`].
fn hex_lists(
    engine: Engine,
    first: u64,
    items: &[&[u8]],
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut lists = Vec::new();
    let mut index = first;
    for chunk in statement_chunks(items, engine.statement_bytes()) {
        lists.push((log::to_db(index)?, hex_array(chunk.iter().copied())));
        index += chunk.len() as u64;
    }
    Ok(lists)
}

/// Appends `entries` in one transaction under the log's lock, with the index rows of
/// `signatures` (each the position of its entry in `entries`), then reads the state of `keys`
/// in the same transaction (`Store::append_log_batch`). After the head and the stored hashes
/// the tree needs are read, every write and the reads after them go in one round trip
/// ([`Tx::run_together`]): entries, hashes, the new head (only if the head is still the one
/// read, which the log's lock guarantees), index rows, key states, the cache epoch, and the new
/// tree's root hashes as stored, from which its root is computed again before the commit.
///
/// `checkpoint` (if any) signs the new tree before that round trip, under the log's lock, and
/// the checkpoint goes in the same round trip: it commits with the tree it names or not at
/// all (a root read back that differs fails the whole transaction). A signer's failure leaves
/// the batch without a checkpoint.
pub(super) async fn append(
    db: &Db,
    entries: &[Vec<u8>],
    signatures: &[(usize, SignatureRecord)],
    keys: &[KeyId],
    checkpoint: Option<&dyn CheckpointSigner>,
) -> Result<BatchCommitted, StoreError> {
    if let Some((position, _)) = signatures.iter().find(|(p, _)| *p >= entries.len()) {
        return Err(StoreError::Conflict(format!(
            "a signature index row names entry {position} of a batch of {}",
            entries.len()
        )));
    }
    let engine = db.engine();
    let mut tx = db.begin_write().await?;
    tx.lock(Lock::Log).await?;
    let head = read_head(&mut tx).await?;
    let key_ids: Vec<&str> = keys.iter().map(KeyId::as_str).collect();
    let key_list = serde_json::to_string(&key_ids)
        .map_err(|e| StoreError::Config(format!("encoding key ids: {e}")))?;
    let read_keys = Sql::assembled(format!(
        "SELECT CAST('key' AS TEXT) AS what, id, state, handle FROM keys \
         WHERE id IN (SELECT v FROM ({}) AS l)",
        engine.text_rows(1)
    ))
    .bind(&key_list);
    if entries.is_empty() {
        // Nothing to append: the keys alone.
        let rows = read_keys.fetch_all(&mut tx).await?;
        let mut found = HashMap::with_capacity(keys.len());
        for row in &rows {
            key_state(row, keys, &mut found)?;
        }
        tx.commit().await?;
        let appended = Appended {
            first_index: head.size,
            head,
        };
        return Ok(BatchCommitted {
            appended,
            hashes: Vec::new(),
            keys: found,
            checkpoint: None,
            epoch: None,
        });
    }
    let count = entries.len() as u64;
    let needed = log::hashes_needed(head.size, count)?;
    let known = read_hashes(engine, &mut tx, &needed).await?;
    let integrated = log::integrate(head.size, entries, known)?;
    let appended = Appended {
        first_index: head.size,
        head: LogHead {
            size: head.size + count,
            root: integrated.root,
        },
    };
    // The values first: the statements borrow them.
    let entry_items: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let entry_lists = hex_lists(engine, head.size, &entry_items)?;
    let hash_items: Vec<&[u8]> = integrated.hashes.iter().map(|h| h.as_slice()).collect();
    let hash_lists = hex_lists(
        engine,
        inkan_log::tree::stored_hash_count(head.size),
        &hash_items,
    )?;
    let index_rows: Vec<(u64, &SignatureRecord)> = signatures
        .iter()
        .map(|(position, record)| (appended.first_index + *position as u64, record))
        .collect();
    let signature_lists = super::signing::signature_lists(engine, &index_rows)?;
    let binding_lists =
        super::signing::json_lists(engine, &super::status_lists::binding_rows(&index_rows)?);
    let roots = inkan_log::tree::tree_hash_indexes(appended.head.size)
        .into_iter()
        .map(log::to_db)
        .collect::<Result<Vec<_>, _>>()?;
    let root_list = int_array(&roots);
    let (old_size, new_size) = (log::to_db(head.size)?, log::to_db(appended.head.size)?);
    let signed = match checkpoint {
        Some(signer) => sign_checkpoint(signer, &appended.head).await,
        None => None,
    };

    let mut statements = Vec::new();
    for (table, column, lists) in [
        ("log_entries", "entry", &entry_lists),
        ("log_hashes", "hash", &hash_lists),
    ] {
        let sql = format!(
            "INSERT INTO {table} (idx, {column}) SELECT $1 + l.ord, l.v FROM ({}) AS l",
            engine.hex_rows(2)
        );
        for (first, list) in lists {
            statements.push(Sql::assembled(sql.clone()).bind(*first).bind(list));
        }
    }
    statements.push(
        Sql::new(
            "UPDATE log_head SET size = $1, root = $2 WHERE id = 1 AND size = $3 \
             RETURNING CAST('head' AS TEXT) AS what",
        )
        .bind(new_size)
        .bind(integrated.root.as_slice())
        .bind(old_size),
    );
    // The status list entries the signed credentials were given, bound with their signatures
    // (before the index rows: a batch whose rows are refused takes its bindings with it).
    let bind_sql = super::status_lists::bind_entries_sql(engine);
    for list in &binding_lists {
        statements.push(Sql::assembled(bind_sql.clone()).bind(list));
    }
    let signatures_sql = super::signing::insert_signatures_sql(engine);
    for list in &signature_lists {
        statements.push(Sql::assembled(signatures_sql.clone()).bind(list));
    }
    if let Some((note, created_at)) = &signed {
        // Under the log's lock no checkpoint as large can be there; the condition keeps the
        // rule of [`insert_checkpoint`] in this statement too.
        statements.push(
            Sql::new(
                "INSERT INTO log_checkpoints (size, note, created_at) SELECT $1, $2, $3 \
                 WHERE NOT EXISTS (SELECT 1 FROM log_checkpoints WHERE size >= $1) \
                 RETURNING CAST('checkpoint' AS TEXT) AS what",
            )
            .bind(new_size)
            .bind(note.as_str())
            .bind(*created_at),
        );
    }
    if !keys.is_empty() {
        statements.push(read_keys);
    }
    // Locked to the commit (PostgreSQL): a change that moves the epoch commits before this
    // read, and is seen, or waits for the batch.
    statements.push(Sql::new(
        "SELECT CAST('epoch' AS TEXT) AS what, value FROM cache_epoch WHERE id = 1 FOR SHARE",
    ));
    statements.push(
        Sql::assembled(format!(
            "SELECT CAST('root' AS TEXT) AS what, idx, hash FROM log_hashes \
             WHERE idx IN (SELECT v FROM ({}) AS l)",
            engine.int_rows(1)
        ))
        .bind(&root_list),
    );
    let rows = tx
        .run_together(statements)
        .await
        .map_err(|e| write_error("a log batch", e))?;
    let mut moved = false;
    let mut checkpoint_stored = false;
    let mut found = HashMap::with_capacity(keys.len());
    let mut stored_roots = HashMap::new();
    let mut epoch = None;
    for row in &rows {
        match row.text("what")?.as_str() {
            "head" => moved = true,
            "checkpoint" => checkpoint_stored = true,
            "epoch" => epoch = Some(log::from_db(row.int("value")?, "cache epoch")?),
            "root" => {
                let idx = log::from_db(row.int("idx")?, "stored hash index")?;
                stored_roots.insert(
                    idx,
                    log::hash_from_db(&row.bytes("hash")?, "a stored hash")?,
                );
            }
            _ => key_state(row, keys, &mut found)?,
        }
    }
    if !moved {
        return Err(StoreError::Corrupt(
            "the log head changed under the write lock".into(),
        ));
    }
    let stored_root = inkan_log::tree::tree_hash(appended.head.size, &stored_roots)
        .map_err(|e| StoreError::Corrupt(format!("the appended tree as stored: {e}")))?;
    if stored_root != integrated.root {
        return Err(StoreError::Corrupt(
            "the appended tree as stored does not give the root computed for it".into(),
        ));
    }
    tx.commit().await?;
    if signed.is_some() && !checkpoint_stored {
        tracing::warn!(
            size = appended.head.size,
            "a checkpoint at least as large as the log was stored already: the batch goes without"
        );
    }
    let checkpoint = signed
        .filter(|_| checkpoint_stored)
        .map(|(note, created_at)| StoredCheckpoint {
            size: appended.head.size,
            note,
            created_at,
        });
    Ok(BatchCommitted {
        appended,
        hashes: integrated.hashes,
        keys: found,
        checkpoint,
        epoch,
    })
}

/// The checkpoint of the tree `head` signed by `signer`, with the time to store with it;
/// `None` (logged) if it could not be signed: the batch then goes without, and a receipt
/// issues a checkpoint of its own.
async fn sign_checkpoint(
    signer: &dyn CheckpointSigner,
    head: &LogHead,
) -> Option<(String, UnixMillis)> {
    signer
        .sign(head.size, head.root)
        .await
        .inspect_err(|reason| {
            tracing::warn!(%reason, size = head.size, "a batch's checkpoint could not be signed");
        })
        .ok()
}

/// Stores the checkpoint of size `size` (`Store::insert_checkpoint`), under the log's lock, as
/// every checkpoint is stored: only if the log holds `size` entries and no checkpoint at least
/// as large is stored (so sizes never go back, whichever node stores), in one conditional
/// statement; a refusal is explained by [`log::check_checkpoint`].
pub(super) async fn insert_checkpoint(
    db: &Db,
    size: u64,
    note: &str,
    at: UnixMillis,
) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    tx.lock(Lock::Log).await?;
    let inserted = Sql::new(
        "INSERT INTO log_checkpoints (size, note, created_at) SELECT $1, $2, $3 \
         WHERE $1 <= (SELECT size FROM log_head WHERE id = 1) \
         AND NOT EXISTS (SELECT 1 FROM log_checkpoints WHERE size >= $1)",
    )
    .bind(log::to_db(size)?)
    .bind(note)
    .bind(at)
    .execute(&mut tx)
    .await?;
    if inserted == 0 {
        let head = read_head(&mut tx).await?;
        let latest = Sql::new("SELECT max(size) AS size FROM log_checkpoints")
            .fetch_one(&mut tx)
            .await?
            .int_opt("size")?
            .map(|s| log::from_db(s, "checkpoint size"))
            .transpose()?;
        log::check_checkpoint(size, head.size, latest)?;
        return Err(StoreError::Corrupt(format!(
            "the checkpoint for size {size} was not stored, though the log allows it"
        )));
    }
    tx.commit().await?;
    Ok(())
}

/// A key's state and handle from a row of the batch's key read, into `found`.
fn key_state(
    row: &impl Columns,
    keys: &[KeyId],
    found: &mut HashMap<KeyId, (KeyState, String)>,
) -> Result<(), StoreError> {
    let id = row.text("id")?;
    let state = row.text("state")?;
    // A row this version cannot read (a state a newer version wrote) answers "not found" for
    // that key alone, which refuses its signature, rather than failing the batch and with it
    // the other callers' entries.
    let (Some(state), Some(key)) = (
        KeyState::parse(&state),
        keys.iter().find(|k| k.as_str() == id),
    ) else {
        tracing::warn!(key = %id, %state, "a key's state could not be read: its signature is refused");
        return Ok(());
    };
    found.insert(key.clone(), (state, row.text("handle")?));
    Ok(())
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
