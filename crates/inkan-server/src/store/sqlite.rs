//! The SQLite store: the embedded default, one database file per deployment.
//!
//! Owns the SQLite connection settings (WAL, `synchronous=FULL`, foreign keys, busy timeout)
//! and the SQLite spelling of every [`Store`] operation; the schema is in
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
//! Must never: build SQL from values (values are always bound; only constant column names are
//! spliced in), relax durability (`synchronous=FULL`: a registered key must survive a power
//! cut), or decode stored names itself (that is `StoredKey::decode` in `store/keys.rs`,
//! shared with PostgreSQL).

use super::keys::StoredKey;
use super::{KeyFilter, KeyId, KeyRecord, KeyState, StateChange, Store, StoreError, migrate};
use crate::clock::UnixMillis;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqlitePool, Transaction};
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
        let pool = if is_memory(url) {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            create_parent_folder(options.get_filename())?;
            SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .connect_with(options)
                .await?
        };
        let applied = migrate::sqlite(&pool).await?;
        tracing::debug!(applied, "SQLite store ready");
        Ok(SqliteStore { pool })
    }

    /// Opens a write transaction, holding the write lock from the start.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Creates the folder of a new database file (owner-only), so the embedded default works in
/// an empty working directory.
fn create_parent_folder(file: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt as _;
    match file.parent() {
        Some(folder) if !folder.as_os_str().is_empty() && !folder.exists() => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(folder)
                .map_err(|e| StoreError::Config(format!("creating {}: {e}", folder.display())))
        }
        _ => Ok(()),
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
             WHERE id = ? AND state IN (?, ?, ?) RETURNING ",
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
}

#[cfg(test)]
mod tests {
    use super::is_memory;

    #[test]
    fn recognises_memory_urls() {
        assert!(is_memory("sqlite::memory:"));
        assert!(is_memory("sqlite://:memory:"));
        assert!(is_memory("sqlite://shared?mode=memory&cache=shared"));
        assert!(!is_memory("sqlite:///var/lib/inkan/inkan.db"));
        assert!(!is_memory("sqlite://memory.db"));
    }
}
