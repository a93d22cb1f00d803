//! [`Store`] in SQL, for both engines: the key registry (`keys`, `key_certificates`) and the
//! transparency log's operations (whose rows are `sql/log.rs`'s).
//!
//! A key and its chain are read in one read transaction, so one snapshot. `change_key_state` is
//! one `UPDATE … WHERE state IN (…) RETURNING`: concurrent changes queue on the row lock (the
//! database lock on SQLite) and a loser re-checks the `WHERE` against the winner's row, so
//! exactly one wins. `change_key_state` applies `from` exactly as given, `destroyed` included:
//! keeping `destroyed` terminal is the caller's rule (it never lists it in `from`), not the
//! store's.
//!
//! Must never: build SQL from values (the key filter splices constant column names and
//! placeholders only), or decode stored names itself (that is `StoredKey::decode` in
//! `store/keys.rs`).

use super::SqlStore;
use super::log as log_rows;
use crate::UnixMillis;
use crate::auth_rows::Columns;
use crate::engine::{Executor, Sql, Tx};
use crate::keys::StoredKey;
use crate::log::{self, Appended, BatchCommitted, LogBatch, LogHead, StoredCheckpoint};
use crate::{
    KeyFilter, KeyId, KeyRecord, KeyState, StateChange, Store, StoreError, WINDOW_MILLIS,
    WindowTake,
};
use inkan_log::Hash;
use std::collections::HashMap;

/// The columns of `keys`, in [`stored_key`]'s order.
macro_rules! key_columns {
    () => {
        "id, owner, label, algorithm, spec, device, handle, public_key_spki, origin, \
         environment, state, state_reason, state_changed_at, created_at, updated_at"
    };
}

fn stored_key(
    row: &impl Columns,
    certificate_chain: Vec<Vec<u8>>,
) -> Result<StoredKey, sqlx::Error> {
    Ok(StoredKey {
        id: row.text("id")?,
        owner: row.text("owner")?,
        label: row.text("label")?,
        algorithm: row.text("algorithm")?,
        spec: row.text("spec")?,
        device: row.text("device")?,
        handle: row.text("handle")?,
        public_key_spki: row.bytes("public_key_spki")?,
        certificate_chain,
        origin: row.text("origin")?,
        environment: row.text("environment")?,
        state: row.text("state")?,
        state_reason: row.text_opt("state_reason")?,
        state_changed_at: row.int_opt("state_changed_at")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// The chain of one key, leaf first.
async fn load_chain(on: &mut impl Executor, id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = Sql::new("SELECT der FROM key_certificates WHERE key_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(on)
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.bytes("der"))
        .collect::<Result<_, _>>()?)
}

/// Writes `chain` as the key's chain; the caller has removed any earlier one.
async fn insert_chain(tx: &mut Tx, id: &str, chain: &[Vec<u8>]) -> Result<(), StoreError> {
    for (position, der) in chain.iter().enumerate() {
        let position = i64::try_from(position)
            .map_err(|_| StoreError::Conflict("certificate chain too long".into()))?;
        Sql::new("INSERT INTO key_certificates (key_id, position, der) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(position)
            .bind(der)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// After a compare-and-set matched no row: [`StoreError::NotFound`] if the key does not exist,
/// else [`StoreError::Conflict`] naming the state it is in.
async fn refuse(tx: &mut Tx, id: &KeyId, wanted: impl FnOnce(&str) -> String) -> StoreError {
    let current = Sql::new("SELECT state FROM keys WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(tx)
        .await
        .and_then(|row| row.map(|r| r.text("state")).transpose());
    match current {
        Ok(None) => StoreError::NotFound(format!("key {id}")),
        Ok(Some(state)) => StoreError::Conflict(wanted(&state)),
        Err(e) => StoreError::Database(e),
    }
}

/// A unique violation on insert is a [`StoreError::Conflict`]; anything else stays a
/// database error.
fn insert_error(key: &KeyRecord, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
            "key {} or handle {:?} on device {} is already registered ({})",
            key.id,
            key.handle.as_str(),
            key.device.as_str(),
            db.message()
        )),
        _ => StoreError::Database(error),
    }
}

/// How long a node's probe row is kept after its last write (`Store::probe_write`).
const PROBES_KEPT_MILLIS: i64 = 7 * 24 * 60 * 60 * 1000;

#[async_trait::async_trait]
impl Store for SqlStore {
    fn engine(&self) -> &'static str {
        self.db.engine().name()
    }

    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        Sql::new(concat!(
            "INSERT INTO keys (",
            key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(key.id.as_str())
        .bind(key.owner.as_str())
        .bind(key.label.as_str())
        .bind(key.algorithm.as_str())
        .bind(key.spec.as_str())
        .bind(key.device.as_str())
        .bind(key.handle.as_str())
        .bind(key.public_key_spki.as_slice())
        .bind(key.origin.as_str())
        .bind(key.environment.as_str())
        .bind(key.state.as_str())
        .bind(key.state_reason.as_deref())
        .bind(key.state_changed_at)
        .bind(key.created_at)
        .bind(key.updated_at)
        .execute(&mut tx)
        .await
        .map_err(|e| insert_error(key, e))?;
        insert_chain(&mut tx, key.id.as_str(), &key.certificate_chain).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        // One statement (one snapshot, one round trip): the key's columns on every row, one row
        // per certificate in chain order, or one row with no certificate.
        let rows = Sql::new(concat!(
            "SELECT ",
            key_columns!(),
            ", c.der AS der FROM keys LEFT JOIN key_certificates c ON c.key_id = keys.id \
             WHERE keys.id = $1 ORDER BY c.position"
        ))
        .bind(id.as_str())
        .fetch_all(&mut self.db.read().await?)
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let chain = rows
            .iter()
            .filter_map(|row| row.bytes_opt("der").transpose())
            .collect::<Result<Vec<_>, _>>()?;
        stored_key(first, chain)?.decode().map(Some)
    }

    async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        let conditions = filter.conditions();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = conditions
                .iter()
                .enumerate()
                .map(|(i, (column, _))| format!("k.{column} = ${}", i + 1))
                .collect();
            format!(" WHERE {}", parts.join(" AND "))
        };
        // Only constant column names and placeholders are spliced in; values are bound below.
        // `k.id` compares bytewise on both engines (ids are ASCII), so the order is the same.
        let keys_sql = format!(
            "SELECT {} FROM keys k{where_clause} ORDER BY k.created_at, k.id",
            key_columns!()
        );
        let chains_sql = format!(
            "SELECT c.key_id AS key_id, c.der AS der FROM key_certificates c \
             JOIN keys k ON k.id = c.key_id{where_clause} ORDER BY c.key_id, c.position"
        );

        let mut tx = self.db.begin_read().await?;
        let mut keys_query = Sql::assembled(keys_sql);
        let mut chains_query = Sql::assembled(chains_sql);
        for (_, value) in &conditions {
            keys_query = keys_query.bind(*value);
            chains_query = chains_query.bind(*value);
        }
        let key_rows = keys_query.fetch_all(&mut tx).await?;
        let chain_rows = chains_query.fetch_all(&mut tx).await?;
        tx.commit().await?;

        let mut chains: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for row in &chain_rows {
            chains
                .entry(row.text("key_id")?)
                .or_default()
                .push(row.bytes("der")?);
        }
        key_rows
            .iter()
            .map(|row| {
                let chain = chains.remove(&row.text("id")?).unwrap_or_default();
                stored_key(row, chain)?.decode()
            })
            .collect()
    }

    async fn set_certificate_chain(
        &self,
        id: &KeyId,
        chain: &[Vec<u8>],
        at: UnixMillis,
    ) -> Result<KeyRecord, StoreError> {
        let mut tx = self.db.begin_write().await?;
        // Locks the row until commit: a concurrent state change waits, then sees our result.
        let row = Sql::new(concat!(
            "UPDATE keys SET updated_at = $1 WHERE id = $2 AND state = 'active' RETURNING ",
            key_columns!()
        ))
        .bind(at)
        .bind(id.as_str())
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            return Err(refuse(&mut tx, id, |state| {
                format!("key {id} is {state}; a certificate chain attaches only to an active key")
            })
            .await);
        };
        Sql::new("DELETE FROM key_certificates WHERE key_id = $1")
            .bind(id.as_str())
            .execute(&mut tx)
            .await?;
        insert_chain(&mut tx, id.as_str(), chain).await?;
        let stored = stored_key(&row, chain.to_vec())?;
        tx.commit().await?;
        stored.decode()
    }

    async fn change_key_state(
        &self,
        id: &KeyId,
        change: &StateChange,
    ) -> Result<KeyRecord, StoreError> {
        let [a, b, c] = change.allowed_state_params();
        let mut tx = self.db.begin_write().await?;
        let row = Sql::new(concat!(
            "UPDATE keys SET state = $1, state_reason = $2, state_changed_at = $3, updated_at = $3 \
             WHERE id = $4 AND state IN ($5, $6, $7) \
             AND (CAST($8 AS TEXT) IS NULL OR state_reason = $8) RETURNING ",
            key_columns!()
        ))
        .bind(change.to.as_str())
        .bind(change.reason.as_str())
        .bind(change.at)
        .bind(id.as_str())
        .bind(a)
        .bind(b)
        .bind(c)
        .bind(change.only_if_reason.as_deref())
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            return Err(refuse(&mut tx, id, |state| {
                let from: Vec<&str> = change.from.iter().map(|s| KeyState::as_str(*s)).collect();
                format!(
                    "key {id} is {state}, not one of {from:?}; it cannot become {}",
                    change.to.as_str()
                )
            })
            .await);
        };
        let chain = load_chain(&mut tx, id.as_str()).await?;
        let stored = stored_key(&row, chain)?;
        tx.commit().await?;
        stored.decode()
    }

    async fn append_log_entries(&self, entries: &[Vec<u8>]) -> Result<Appended, StoreError> {
        Ok(log_rows::append(&self.db, entries, &[], &[], None)
            .await?
            .appended)
    }

    async fn append_log_batch(&self, batch: &LogBatch) -> Result<BatchCommitted, StoreError> {
        log_rows::append(
            &self.db,
            &batch.entries,
            &batch.signatures,
            &batch.keys,
            batch.checkpoint.as_deref(),
        )
        .await
    }

    async fn probe_write(&self, node: &str, at: UnixMillis) -> Result<(), StoreError> {
        // One commit (one sync) a probe, with the forgetting in it.
        let mut tx = self.db.begin_write().await?;
        Sql::new(
            "INSERT INTO store_probes (node, probed_at) VALUES ($1, $2) \
             ON CONFLICT (node) DO UPDATE SET probed_at = excluded.probed_at",
        )
        .bind(node)
        .bind(at)
        .execute(&mut tx)
        .await?;
        // Each start of a node is a node of its own: rows not written for a week are gone.
        Sql::new("DELETE FROM store_probes WHERE probed_at < $1")
            .bind(at.saturating_sub(PROBES_KEPT_MILLIS))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn nodes_probed_since(&self, since: UnixMillis) -> Result<Vec<String>, StoreError> {
        let rows = Sql::new("SELECT node FROM store_probes WHERE probed_at >= $1 ORDER BY node")
            .bind(since)
            .fetch_all(&mut self.db.read().await?)
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.text("node"))
            .collect::<Result<_, _>>()?)
    }

    async fn forget_node(&self, node: &str) -> Result<(), StoreError> {
        Sql::new("DELETE FROM store_probes WHERE node = $1")
            .bind(node)
            .execute(&mut self.db.write().await?)
            .await?;
        Ok(())
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        until: UnixMillis,
    ) -> Result<bool, StoreError> {
        // One conditional upsert: concurrent takers queue on the row (PostgreSQL re-checks the
        // condition against the winner's row; SQLite has one writer), so one wins.
        let taken = Sql::new(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.until <= $4 OR leases.holder = excluded.holder \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .fetch_optional(&mut self.db.write().await?)
        .await?;
        Ok(taken.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        Sql::new("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&mut self.db.write().await?)
            .await?;
        Ok(())
    }

    async fn take_from_window(
        &self,
        slot: &str,
        now: UnixMillis,
        units: u32,
        max: u32,
    ) -> Result<WindowTake, StoreError> {
        if units > max {
            return Ok(WindowTake::Full {
                ends_at: now + WINDOW_MILLIS,
            });
        }
        // One conditional upsert: a window that ended starts again at `now`; an open one takes
        // the units only while it stays within `max` (PostgreSQL re-checks the condition on the
        // row as the node before it left it; SQLite has one writer).
        let mut conn = self.db.write().await?;
        let taken = Sql::new(
            "INSERT INTO rate_windows (slot, window_start, used) VALUES ($1, $2, $3) \
             ON CONFLICT (slot) DO UPDATE SET \
               window_start = CASE WHEN rate_windows.window_start + $4 <= $2 \
                 THEN $2 ELSE rate_windows.window_start END, \
               used = CASE WHEN rate_windows.window_start + $4 <= $2 \
                 THEN $3 ELSE rate_windows.used + $3 END \
             WHERE rate_windows.window_start + $4 <= $2 OR rate_windows.used + $3 <= $5 \
             RETURNING window_start",
        )
        .bind(slot)
        .bind(now)
        .bind(i64::from(units))
        .bind(WINDOW_MILLIS)
        .bind(i64::from(max))
        .fetch_optional(&mut conn)
        .await?;
        if taken.is_some() {
            return Ok(WindowTake::Taken);
        }
        let row = Sql::new("SELECT window_start FROM rate_windows WHERE slot = $1")
            .bind(slot)
            .fetch_optional(&mut conn)
            .await?;
        let start = match row {
            Some(row) => row.int("window_start")?,
            None => now,
        };
        Ok(WindowTake::Full {
            ends_at: start + WINDOW_MILLIS,
        })
    }

    async fn give_back_to_window(&self, slot: &str, now: UnixMillis) -> Result<(), StoreError> {
        Sql::new(
            "UPDATE rate_windows SET used = used - 1 \
             WHERE slot = $1 AND used > 0 AND window_start + $2 > $3",
        )
        .bind(slot)
        .bind(WINDOW_MILLIS)
        .bind(now)
        .execute(&mut self.db.write().await?)
        .await?;
        Ok(())
    }

    async fn purge_windows(&self, before: UnixMillis) -> Result<u64, StoreError> {
        let done = Sql::new("DELETE FROM rate_windows WHERE window_start + $1 < $2")
            .bind(WINDOW_MILLIS)
            .bind(before)
            .execute(&mut self.db.write().await?)
            .await?;
        Ok(done)
    }

    async fn cache_epoch(&self) -> Result<u64, StoreError> {
        let row = Sql::new("SELECT value FROM cache_epoch WHERE id = 1")
            .fetch_one(&mut self.db.read().await?)
            .await?;
        log::from_db(row.int("value")?, "cache epoch")
    }

    async fn log_head(&self) -> Result<LogHead, StoreError> {
        log_rows::read_head(&mut self.db.read().await?).await
    }

    async fn log_entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let limit = limit.min(log::MAX_ENTRIES_PAGE);
        let rows =
            Sql::new("SELECT idx, entry FROM log_entries WHERE idx >= $1 ORDER BY idx LIMIT $2")
                .bind(log::to_db(from)?)
                .bind(limit)
                .fetch_all(&mut self.db.read().await?)
                .await?;
        let indexes = rows
            .iter()
            .map(|r| log::from_db(r.int("idx")?, "log entry index"))
            .collect::<Result<Vec<_>, _>>()?;
        log::check_contiguous(from, &indexes)?;
        Ok(rows
            .iter()
            .map(|r| r.bytes("entry"))
            .collect::<Result<_, _>>()?)
    }

    async fn log_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let found =
            log_rows::read_hashes(self.db.engine(), &mut self.db.read().await?, indexes).await?;
        log::in_order(indexes, &found)
    }

    async fn insert_checkpoint(
        &self,
        size: u64,
        note: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        log_rows::insert_checkpoint(&self.db, size, note, at).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = Sql::new(
            "SELECT size, note, created_at FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(log_rows::checkpoint).transpose()
    }

    async fn checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let limit = limit.min(log::MAX_CHECKPOINTS_PAGE);
        let rows = Sql::new(
            "SELECT size, note, created_at FROM log_checkpoints WHERE size >= $1 \
             ORDER BY size LIMIT $2",
        )
        .bind(log::to_db(from_size)?)
        .bind(limit)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        rows.iter().map(log_rows::checkpoint).collect()
    }
}
