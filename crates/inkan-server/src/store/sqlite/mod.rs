//! The SQLite store: the embedded default, one database file per deployment.
//!
//! Owns the SQLite connection settings (WAL, `synchronous=FULL`, foreign keys, busy timeout)
//! and the SQLite spelling of every [`Store`] operation (the authentication records' in
//! `sqlite/auth.rs`, the signing records' in `sqlite/signing.rs`, the delivery records' in
//! `sqlite/delivery.rs`, the keys' status in `sqlite/status.rs`); the schema is in
//! `migrations/sqlite/` and applied by `store::migrate` on [`SqliteStore::connect`].
//!
//! Every operation that writes runs in one `BEGIN IMMEDIATE` transaction: it takes the
//! database's write lock before reading, so a compare-and-set cannot act on a stale read and
//! concurrent writers wait (busy timeout) rather than fail with `SQLITE_BUSY` half-way. Reads of
//! a key and its certificates share one (deferred) transaction, hence one snapshot.
//!
//! `change_key_state` applies `from` exactly as given, `destroyed` included: keeping
//! `destroyed` terminal is the caller's rule (it never lists it in `from`), not the store's.
//!
//! The log ([`super::log`]): an append is one `BEGIN IMMEDIATE` transaction, so appends from
//! several pools or processes on one file take turns; lists of values (entries, hashes, hash
//! indexes) travel as one JSON array parameter expanded by `json_each`, so a batch is a few
//! constant statements whatever its length.
//!
//! Must never: build SQL from values (values are always bound; only constant column names are
//! spliced in), relax durability (`synchronous=FULL`: a registered key must survive a power
//! cut), or decode stored names itself (that is `StoredKey::decode` in `store/keys.rs`, and
//! `store/auth_rows.rs` and `store/signing_rows.rs` for the authentication and signing
//! records, `store/status_rows.rs` for the status records, shared with PostgreSQL).

mod auth;
mod backup;
mod delivery;
mod issuers;
mod operations;
mod signing;
mod status;

use super::keys::StoredKey;
use super::log::{self, Appended, LogHead, StoredCheckpoint};
use super::{KeyFilter, KeyId, KeyRecord, KeyState, StateChange, Store, StoreError, migrate};
use crate::clock::UnixMillis;
use inkan_log::Hash;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// How long a writer waits for another's lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections to a database file. SQLite has one writer at a time whatever this is; more
/// connections only let reads proceed while a write is in progress (WAL).
const MAX_CONNECTIONS: u32 = 8;

/// The columns of `keys`, in [`stored_key`]'s order.
macro_rules! key_columns {
    () => {
        "id, owner, label, algorithm, spec, device, handle, public_key_spki, origin, \
         environment, state, state_reason, state_changed_at, created_at, updated_at"
    };
}

/// The key registry in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// One connection for every write transaction of this process: writers queue for it
    /// without sleeping, instead of contending for SQLite's lock, whose busy handler sleeps in
    /// steps of up to 25 ms. Other processes on the same file still meet the busy timeout.
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` and brings its schema up to date.
    ///
    /// `sqlite://PATH` (or `sqlite:PATH`) opens a file in WAL mode with `synchronous=FULL`.
    /// `sqlite::memory:` opens a private in-memory database for tests and trials: the pool has
    /// exactly one connection, kept open for the store's life, so every operation sees the same
    /// database; it is gone when the store is dropped.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL {url:?}: {e}")))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Full);
        let (pool, writer) = if is_memory(url) {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            (pool.clone(), pool)
        } else {
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            create_parent_folder(options.get_filename())?;
            let pool = SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .connect_with(options.clone())
                .await?;
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .before_acquire(|connection, _| Box::pin(leave_no_transaction(connection)))
                .connect_with(options)
                .await?;
            (pool, writer)
        };
        let applied = migrate::sqlite(&writer).await?;
        tracing::debug!(applied, "SQLite store ready");
        Ok(SqliteStore { pool, writer })
    }

    /// Opens a write transaction, holding the write lock from the start.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Whether the writer connection may be used again (`before_acquire`): only outside a
/// transaction. A dropped transaction's rollback is queued on the connection's worker, so a
/// connection still in one is pinged first (the ping runs after the rollback). A rollback
/// that failed because SQLite had already rolled back by itself (after "database or disk is
/// full", an I/O error) leaves sqlx counting a transaction that does not exist, and every
/// later `BEGIN` on that connection would fail: it is closed, and the pool opens a fresh one.
async fn leave_no_transaction(connection: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection as _;
    if !connection.is_in_transaction() {
        return Ok(true);
    }
    connection.ping().await?;
    let clean = !connection.is_in_transaction();
    if !clean {
        tracing::warn!("the SQLite writer connection was left in a failed transaction: reopened");
    }
    Ok(clean)
}

/// Creates the folder of a new database file and the empty file itself, both owner-only, so
/// the embedded default works in an empty working directory and the database (and its WAL and
/// shared-memory files, which SQLite creates with the database file's permissions) is readable
/// by its owner only.
fn create_parent_folder(file: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let config = |what: &std::path::Path, e: std::io::Error| {
        StoreError::Config(format!("creating {}: {e}", what.display()))
    };
    if let Some(folder) = file.parent()
        && !folder.as_os_str().is_empty()
        && !folder.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .map_err(|e| config(folder, e))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(config(file, e)),
    }
}

/// Whether `url` names an in-memory database (`sqlite::memory:`, `sqlite://:memory:`, or a URI
/// with `mode=memory`).
fn is_memory(url: &str) -> bool {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (database, query) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || query.split('&').any(|p| p == "mode=memory")
}

fn stored_key(row: &SqliteRow, certificate_chain: Vec<Vec<u8>>) -> Result<StoredKey, sqlx::Error> {
    Ok(StoredKey {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        label: row.try_get("label")?,
        algorithm: row.try_get("algorithm")?,
        spec: row.try_get("spec")?,
        device: row.try_get("device")?,
        handle: row.try_get("handle")?,
        public_key_spki: row.try_get("public_key_spki")?,
        certificate_chain,
        origin: row.try_get("origin")?,
        environment: row.try_get("environment")?,
        state: row.try_get("state")?,
        state_reason: row.try_get("state_reason")?,
        state_changed_at: row.try_get("state_changed_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The chain of one key, leaf first.
async fn load_chain(
    tx: &mut Transaction<'static, Sqlite>,
    id: &str,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = sqlx::query("SELECT der FROM key_certificates WHERE key_id = ? ORDER BY position")
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<Vec<u8>, _>("der"))
        .collect::<Result<_, _>>()?)
}

/// Writes `chain` as the key's chain; the caller has removed any earlier one.
async fn insert_chain(
    tx: &mut Transaction<'static, Sqlite>,
    id: &str,
    chain: &[Vec<u8>],
) -> Result<(), StoreError> {
    for (position, der) in chain.iter().enumerate() {
        let position = i64::try_from(position)
            .map_err(|_| StoreError::Conflict("certificate chain too long".into()))?;
        sqlx::query("INSERT INTO key_certificates (key_id, position, der) VALUES (?, ?, ?)")
            .bind(id)
            .bind(position)
            .bind(der.as_slice())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// After a compare-and-set matched no row: [`StoreError::NotFound`] if the key does not exist,
/// else [`StoreError::Conflict`] naming the state it is in.
async fn refuse(
    tx: &mut Transaction<'static, Sqlite>,
    id: &KeyId,
    wanted: impl FnOnce(&str) -> String,
) -> StoreError {
    let current = sqlx::query("SELECT state FROM keys WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .and_then(|row| row.map(|r| r.try_get::<String, _>("state")).transpose());
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

/// A JSON array of lowercase hex strings, for `unhex(value) FROM json_each(?)`.
fn hex_array<'a>(items: impl Iterator<Item = &'a [u8]>) -> String {
    let mut json = String::from("[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push('"');
        json.push_str(&hex::encode(item));
        json.push('"');
    }
    json.push(']');
    json
}

/// A JSON array of integers, for `IN (SELECT value FROM json_each(?))`.
fn int_array(items: &[i64]) -> String {
    let parts: Vec<String> = items.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(","))
}

async fn read_log_head(conn: &mut SqliteConnection) -> Result<LogHead, StoreError> {
    let row = sqlx::query("SELECT size, root FROM log_head WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the log head row is missing".into()))?;
    Ok(LogHead {
        size: log::from_db(row.try_get("size")?, "log size")?,
        root: log::hash_from_db(&row.try_get::<Vec<u8>, _>("root")?, "the log root")?,
    })
}

/// The stored hashes at `indexes` (those that exist), by index.
async fn read_log_hashes(
    conn: &mut SqliteConnection,
    indexes: &[u64],
) -> Result<HashMap<u64, Hash>, StoreError> {
    let mut found = HashMap::with_capacity(indexes.len());
    for chunk in indexes.chunks(log::STATEMENT_CHUNK) {
        let chunk = chunk
            .iter()
            .map(|i| log::to_db(*i))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query(
            "SELECT idx, hash FROM log_hashes WHERE idx IN (SELECT value FROM json_each(?))",
        )
        .bind(int_array(&chunk))
        .fetch_all(&mut *conn)
        .await?;
        for row in &rows {
            let idx = log::from_db(row.try_get("idx")?, "stored hash index")?;
            let hash = log::hash_from_db(&row.try_get::<Vec<u8>, _>("hash")?, "a stored hash")?;
            found.insert(idx, hash);
        }
    }
    Ok(found)
}

/// Writes `items` at indexes `first, first + 1, …` with `sql`, an `INSERT … SELECT ? + key,
/// unhex(value) FROM json_each(?)` into `log_entries` or `log_hashes`.
async fn insert_log_rows(
    conn: &mut SqliteConnection,
    sql: &'static str,
    first: u64,
    items: &[&[u8]],
) -> Result<(), StoreError> {
    let mut index = first;
    for chunk in items.chunks(log::STATEMENT_CHUNK) {
        sqlx::query(sql)
            .bind(log::to_db(index)?)
            .bind(hex_array(chunk.iter().copied()))
            .execute(&mut *conn)
            .await?;
        index += chunk.len() as u64;
    }
    Ok(())
}

fn stored_checkpoint(row: &SqliteRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: log::from_db(row.try_get("size")?, "checkpoint size")?,
        note: row.try_get("note")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO keys (",
            key_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(key, e))?;
        insert_chain(&mut tx, key.id.as_str(), &key.certificate_chain).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM keys WHERE id = ?"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let chain = load_chain(&mut tx, id.as_str()).await?;
        let stored = stored_key(&row, chain)?;
        tx.commit().await?;
        stored.decode().map(Some)
    }

    async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        let conditions = filter.conditions();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = conditions
                .iter()
                .map(|(column, _)| format!("k.{column} = ?"))
                .collect();
            format!(" WHERE {}", parts.join(" AND "))
        };
        // Only constant column names and placeholders are spliced in; values are bound below.
        let keys_sql = format!(
            "SELECT {} FROM keys k{where_clause} ORDER BY k.created_at, k.id",
            key_columns!()
        );
        let chains_sql = format!(
            "SELECT c.key_id, c.der FROM key_certificates c JOIN keys k ON k.id = c.key_id\
             {where_clause} ORDER BY c.key_id, c.position"
        );

        let mut tx = self.pool.begin().await?;
        let mut keys_query = sqlx::query(AssertSqlSafe(keys_sql));
        let mut chains_query = sqlx::query(AssertSqlSafe(chains_sql));
        for (_, value) in &conditions {
            keys_query = keys_query.bind(*value);
            chains_query = chains_query.bind(*value);
        }
        let key_rows = keys_query.fetch_all(&mut *tx).await?;
        let chain_rows = chains_query.fetch_all(&mut *tx).await?;
        tx.commit().await?;

        let mut chains: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for row in &chain_rows {
            let key_id: String = row.try_get("key_id")?;
            chains.entry(key_id).or_default().push(row.try_get("der")?);
        }
        key_rows
            .iter()
            .map(|row| {
                let id: String = row.try_get("id")?;
                let chain = chains.remove(&id).unwrap_or_default();
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
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "UPDATE keys SET updated_at = ? WHERE id = ? AND state = 'active' RETURNING ",
            key_columns!()
        ))
        .bind(at)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(refuse(&mut tx, id, |state| {
                format!("key {id} is {state}; a certificate chain attaches only to an active key")
            })
            .await);
        };
        sqlx::query("DELETE FROM key_certificates WHERE key_id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
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
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "UPDATE keys SET state = ?, state_reason = ?, state_changed_at = ?, updated_at = ? \
             WHERE id = ? AND state IN (?, ?, ?) AND (? IS NULL OR state_reason = ?) RETURNING ",
            key_columns!()
        ))
        .bind(change.to.as_str())
        .bind(change.reason.as_str())
        .bind(change.at)
        .bind(change.at)
        .bind(id.as_str())
        .bind(a)
        .bind(b)
        .bind(c)
        .bind(change.only_if_reason.as_deref())
        .bind(change.only_if_reason.as_deref())
        .fetch_optional(&mut *tx)
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
        let mut tx = self.begin_write().await?;
        let head = read_log_head(&mut tx).await?;
        if entries.is_empty() {
            tx.commit().await?;
            return Ok(Appended {
                first_index: head.size,
                head,
            });
        }
        let count = entries.len() as u64;
        let needed = log::hashes_needed(head.size, count)?;
        let known = read_log_hashes(&mut tx, &needed).await?;
        let integrated = log::integrate(head.size, entries, known)?;
        let new_size = head.size + count;

        let entry_bytes: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        insert_log_rows(
            &mut tx,
            "INSERT INTO log_entries (idx, entry) SELECT ? + key, unhex(value) FROM json_each(?)",
            head.size,
            &entry_bytes,
        )
        .await?;
        let hash_bytes: Vec<&[u8]> = integrated.hashes.iter().map(|h| h.as_slice()).collect();
        insert_log_rows(
            &mut tx,
            "INSERT INTO log_hashes (idx, hash) SELECT ? + key, unhex(value) FROM json_each(?)",
            inkan_log::tree::stored_hash_count(head.size),
            &hash_bytes,
        )
        .await?;
        let updated =
            sqlx::query("UPDATE log_head SET size = ?, root = ? WHERE id = 1 AND size = ?")
                .bind(log::to_db(new_size)?)
                .bind(integrated.root.as_slice())
                .bind(log::to_db(head.size)?)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Corrupt(
                "the log head changed under the write lock".into(),
            ));
        }
        tx.commit().await?;
        Ok(Appended {
            first_index: head.size,
            head: LogHead {
                size: new_size,
                root: integrated.root,
            },
        })
    }

    async fn log_head(&self) -> Result<LogHead, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_log_head(&mut conn).await
    }

    async fn log_entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let limit = limit.min(log::MAX_ENTRIES_PAGE);
        let rows =
            sqlx::query("SELECT idx, entry FROM log_entries WHERE idx >= ? ORDER BY idx LIMIT ?")
                .bind(log::to_db(from)?)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        let indexes = rows
            .iter()
            .map(|r| log::from_db(r.try_get("idx")?, "log entry index"))
            .collect::<Result<Vec<_>, _>>()?;
        log::check_contiguous(from, &indexes)?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<Vec<u8>, _>("entry"))
            .collect::<Result<_, _>>()?)
    }

    async fn log_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let found = read_log_hashes(&mut conn, indexes).await?;
        log::in_order(indexes, &found)
    }

    async fn insert_checkpoint(
        &self,
        size: u64,
        note: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let head = read_log_head(&mut tx).await?;
        let latest: Option<i64> = sqlx::query("SELECT max(size) AS size FROM log_checkpoints")
            .fetch_one(&mut *tx)
            .await?
            .try_get("size")?;
        let latest = latest
            .map(|s| log::from_db(s, "checkpoint size"))
            .transpose()?;
        log::check_checkpoint(size, head.size, latest)?;
        sqlx::query("INSERT INTO log_checkpoints (size, note, created_at) VALUES (?, ?, ?)")
            .bind(log::to_db(size)?)
            .bind(note)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT size, note, created_at FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored_checkpoint).transpose()
    }

    async fn checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let limit = limit.min(log::MAX_CHECKPOINTS_PAGE);
        let rows = sqlx::query(
            "SELECT size, note, created_at FROM log_checkpoints WHERE size >= ? \
             ORDER BY size LIMIT ?",
        )
        .bind(log::to_db(from_size)?)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_checkpoint).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::is_memory;
    use crate::store::operations::OperationsStore as _;

    /// Issue 17 point 5: after "database or disk is full" the writer connection is left clean,
    /// so the next write succeeds once there is room again, without a restart. The limit is
    /// the writer connection's `max_page_count` (per connection, as a full disk is per file
    /// system): the connection that met it is dropped, and its successor has room.
    #[tokio::test]
    async fn a_full_database_does_not_poison_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/full.db", dir.path().display());
        let store = super::SqliteStore::connect(&url).await.unwrap();
        {
            let mut writer = store.writer.acquire().await.unwrap();
            let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
                .fetch_one(&mut *writer)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA max_page_count = {}",
                pages + 2
            )))
            .execute(&mut *writer)
            .await
            .unwrap();
        }
        let big = "x".repeat(256 * 1024);
        let err = store.set_setting("big", &big, 1).await.unwrap_err();
        assert!(err.to_string().contains("full"), "{err}");
        store
            .set_setting("small", "after the disk was freed", 2)
            .await
            .unwrap();
        assert_eq!(
            store.setting("small").await.unwrap().unwrap().0,
            "after the disk was freed"
        );
        assert!(store.setting("big").await.unwrap().is_none());
    }

    #[test]
    fn recognises_memory_urls() {
        assert!(is_memory("sqlite::memory:"));
        assert!(is_memory("sqlite://:memory:"));
        assert!(is_memory("sqlite://shared?mode=memory&cache=shared"));
        assert!(!is_memory("sqlite:///var/lib/inkan/inkan.db"));
        assert!(!is_memory("sqlite://memory.db"));
    }
}
