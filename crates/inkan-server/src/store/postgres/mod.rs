//! The PostgreSQL store: production, and several nodes sharing one database.
//!
//! Owns the PostgreSQL connection pool and the PostgreSQL spelling of every [`Store`]
//! operation (the authentication records' in `postgres/auth.rs`, the signing records' in
//! `postgres/signing.rs`, the delivery records' in `postgres/delivery.rs`, the keys' status in
//! `postgres/status.rs`); the schema is in `migrations/postgres/` and applied by
//! `store::migrate` (under an advisory lock) on [`PostgresStore::connect`]. Tables are
//! unqualified: they live in the first schema of the connection's `search_path`, so a deployment
//! (or a test) picks its schema in the URL (`options[search_path]=...`).
//!
//! TLS is whatever the URL says (`sslmode=require`, `verify-ca`/`verify-full` with
//! `sslrootcert=...`), done by sqlx with rustls; [`PostgresStore::session_encrypted`] reports
//! whether it is really in use.
//!
//! Atomicity: a key and its chain are read in one statement (the chain as an `array_agg`
//! subquery), so one snapshot. `change_key_state` is one `UPDATE ... WHERE state IN (...)
//! RETURNING`: concurrent changes queue on the row lock and a loser re-checks the `WHERE` against
//! the winner's row, so exactly one wins. Writes of several statements run in one transaction
//! whose first statement locks the key row. `change_key_state` applies `from` exactly as given,
//! `destroyed` included: keeping `destroyed` terminal is the caller's rule, not the store's.
//!
//! The log ([`super::log`]): an append is one transaction whose first statement takes the log's
//! advisory lock (`LOG_LOCK_CLASS`, per schema), so nodes sharing the database take turns
//! integrating the tree; under READ COMMITTED every later statement of the transaction sees
//! what the previous holder committed. Lists travel as arrays (`unnest`, `= ANY`), in statements
//! of at most 8 KiB each (`PG_STATEMENT_BYTES`: sqlx 0.9.0 leaves Nagle's algorithm on, and a
//! larger message can stall 40 ms).
//!
//! Must never: build SQL from values (values are always bound; only constant column names are
//! spliced in), log the URL (it may hold a password), or decode stored names itself (that is
//! `StoredKey::decode` in `store/keys.rs`, and `store/auth_rows.rs` and
//! `store/signing_rows.rs` for the authentication and signing records, `store/status_rows.rs`
//! for the status records, shared with SQLite).

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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Executor, PgConnection, PgPool, Postgres, Row};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// Connections per node.
const MAX_CONNECTIONS: u32 = 10;

/// How long an operation waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The first key of the advisory lock the log's writers take ("InkL"); the second is a hash of
/// the schema, as for the migration lock, so logs in different schemas do not wait for each
/// other.
pub(crate) const LOG_LOCK_CLASS: i32 = 0x496e_6b4c;

/// The columns of `keys` and the chain, in [`stored_key`]'s order, for a query on `keys`.
macro_rules! key_columns {
    () => {
        "id, owner, label, algorithm, spec, device, handle, public_key_spki, origin, \
         environment, state, state_reason, state_changed_at, created_at, updated_at, \
         (SELECT array_agg(c.der ORDER BY c.position) FROM key_certificates c \
          WHERE c.key_id = keys.id) AS certificate_chain"
    };
}

/// The key registry in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://` or `postgresql://`, libpq-style parameters such as
    /// `sslmode`, `sslrootcert`, `options`) and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // sqlx's parse errors do not repeat the URL, which may hold a password.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let applied = migrate::postgres(&pool).await?;
        tracing::debug!(applied, "PostgreSQL store ready");
        Ok(PostgresStore { pool })
    }

    /// Whether the store's sessions are encrypted (TLS), as the server sees it
    /// (`pg_stat_ssl`). Every connection of the pool uses the same settings; this asks one.
    pub async fn session_encrypted(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(row.try_get::<bool, _>("ssl")?),
            None => Ok(false),
        }
    }
}

fn stored_key(row: &PgRow) -> Result<StoredKey, sqlx::Error> {
    Ok(StoredKey {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        label: row.try_get("label")?,
        algorithm: row.try_get("algorithm")?,
        spec: row.try_get("spec")?,
        device: row.try_get("device")?,
        handle: row.try_get("handle")?,
        public_key_spki: row.try_get("public_key_spki")?,
        certificate_chain: row
            .try_get::<Option<Vec<Vec<u8>>>, _>("certificate_chain")?
            .unwrap_or_default(),
        origin: row.try_get("origin")?,
        environment: row.try_get("environment")?,
        state: row.try_get("state")?,
        state_reason: row.try_get("state_reason")?,
        state_changed_at: row.try_get("state_changed_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Writes `chain` as the key's chain in one statement; the caller has removed any earlier one.
async fn insert_chain<'e, E>(executor: E, id: &str, chain: &[Vec<u8>]) -> Result<(), StoreError>
where
    E: Executor<'e, Database = Postgres>,
{
    if chain.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO key_certificates (key_id, position, der)
         SELECT $1, t.ord - 1, t.der FROM unnest($2::bytea[]) WITH ORDINALITY AS t(der, ord)",
    )
    .bind(id)
    .bind(chain)
    .execute(executor)
    .await?;
    Ok(())
}

/// After a compare-and-set matched no row: [`StoreError::NotFound`] if the key does not exist,
/// else [`StoreError::Conflict`] naming the state it is in.
async fn refuse<'e, E>(executor: E, id: &KeyId, wanted: impl FnOnce(&str) -> String) -> StoreError
where
    E: Executor<'e, Database = Postgres>,
{
    let current = sqlx::query("SELECT state FROM keys WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(executor)
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

/// Takes the log's write lock until the end of the transaction.
async fn lock_log(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))")
        .bind(LOG_LOCK_CLASS)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn read_log_head<'e, E>(executor: E) -> Result<LogHead, StoreError>
where
    E: Executor<'e, Database = Postgres>,
{
    let row = sqlx::query("SELECT size, root FROM log_head WHERE id = 1")
        .fetch_optional(executor)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the log head row is missing".into()))?;
    Ok(LogHead {
        size: log::from_db(row.try_get("size")?, "log size")?,
        root: log::hash_from_db(&row.try_get::<Vec<u8>, _>("root")?, "the log root")?,
    })
}

/// The stored hashes at `indexes` (those that exist), by index.
async fn read_log_hashes(
    conn: &mut PgConnection,
    indexes: &[u64],
) -> Result<HashMap<u64, Hash>, StoreError> {
    let mut found = HashMap::with_capacity(indexes.len());
    for chunk in indexes.chunks(PG_READ_CHUNK) {
        let chunk = chunk
            .iter()
            .map(|i| log::to_db(*i))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = sqlx::query("SELECT idx, hash FROM log_hashes WHERE idx = ANY($1)")
            .bind(&chunk)
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

/// The most value bytes one log `INSERT` carries (a single larger entry goes alone).
///
/// sqlx 0.9.0 does not set `TCP_NODELAY` (transact-rs/sqlx#4335). A statement whose message is
/// larger than the socket's send buffer (16 KiB to start with, `net.ipv4.tcp_wmem`) leaves in
/// two writes; Nagle's algorithm holds the second until the server acknowledges the first, and
/// the server delays that acknowledgement because it has no complete message to answer: 40 ms
/// per statement. Measured: a batch of 64 entries of 400 bytes took 49 ms in one statement,
/// 3 ms for 32. Statements kept under 8 KiB never split.
const PG_STATEMENT_BYTES: usize = 8 * 1024;

/// The most hash indexes one read carries: 12 bytes each in the array parameter, so the message
/// stays under [`PG_STATEMENT_BYTES`].
const PG_READ_CHUNK: usize = 512;

/// Splits `items` into runs of at most [`log::STATEMENT_CHUNK`] items and
/// [`PG_STATEMENT_BYTES`] bytes (at least one item each).
fn statement_chunks<'a, 'b>(items: &'b [&'a [u8]]) -> Vec<&'b [&'a [u8]]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, item) in items.iter().enumerate() {
        let full = i - start == log::STATEMENT_CHUNK || bytes + item.len() > PG_STATEMENT_BYTES;
        if i > start && full {
            chunks.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += item.len();
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}

/// Writes `items` at indexes `first, first + 1, …` with `sql`, an `INSERT … SELECT $1 + ord - 1,
/// value FROM unnest($2::bytea[]) WITH ORDINALITY` into `log_entries` or `log_hashes`.
async fn insert_log_rows(
    conn: &mut PgConnection,
    sql: &'static str,
    first: u64,
    items: &[&[u8]],
) -> Result<(), StoreError> {
    let mut index = first;
    for chunk in statement_chunks(items) {
        sqlx::query(sql)
            .bind(log::to_db(index)?)
            .bind(chunk)
            .execute(&mut *conn)
            .await?;
        index += chunk.len() as u64;
    }
    Ok(())
}

fn stored_checkpoint(row: &PgRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: log::from_db(row.try_get("size")?, "checkpoint size")?,
        note: row.try_get("note")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO keys (id, owner, label, algorithm, spec, device, handle, public_key_spki, \
             origin, environment, state, state_reason, state_changed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
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
        insert_chain(&mut *tx, key.id.as_str(), &key.certificate_chain).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM keys WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| stored_key(&row)?.decode()).transpose()
    }

    async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        let conditions = filter.conditions();
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = conditions
                .iter()
                .enumerate()
                .map(|(i, (column, _))| format!("keys.{column} = ${}", i + 1))
                .collect();
            format!(" WHERE {}", parts.join(" AND "))
        };
        // Only constant column names and placeholders are spliced in; values are bound below.
        // `COLLATE "C"`: the same order as SQLite's, whatever the database's collation.
        let sql = format!(
            "SELECT {} FROM keys{where_clause} ORDER BY keys.created_at, keys.id COLLATE \"C\"",
            key_columns!()
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (_, value) in &conditions {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|row| stored_key(row)?.decode()).collect()
    }

    async fn set_certificate_chain(
        &self,
        id: &KeyId,
        chain: &[Vec<u8>],
        at: UnixMillis,
    ) -> Result<KeyRecord, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Locks the row until commit: a concurrent state change waits, then sees our result.
        let row = sqlx::query(
            "UPDATE keys SET updated_at = $1 WHERE id = $2 AND state = 'active' RETURNING id",
        )
        .bind(at)
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if row.is_none() {
            return Err(refuse(&mut *tx, id, |state| {
                format!("key {id} is {state}; a certificate chain attaches only to an active key")
            })
            .await);
        }
        sqlx::query("DELETE FROM key_certificates WHERE key_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        insert_chain(&mut *tx, id.as_str(), chain).await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM keys WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_one(&mut *tx)
        .await?;
        let stored = stored_key(&row)?;
        tx.commit().await?;
        stored.decode()
    }

    async fn change_key_state(
        &self,
        id: &KeyId,
        change: &StateChange,
    ) -> Result<KeyRecord, StoreError> {
        let [a, b, c] = change.allowed_state_params();
        let row = sqlx::query(concat!(
            "UPDATE keys SET state = $1, state_reason = $2, state_changed_at = $3, updated_at = $3 \
             WHERE id = $4 AND state IN ($5, $6, $7) \
             AND ($8::TEXT IS NULL OR state_reason = $8) RETURNING ",
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
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => stored_key(&row)?.decode(),
            None => Err(refuse(&self.pool, id, |state| {
                let from: Vec<&str> = change.from.iter().map(|s| KeyState::as_str(*s)).collect();
                format!(
                    "key {id} is {state}, not one of {from:?}; it cannot become {}",
                    change.to.as_str()
                )
            })
            .await),
        }
    }

    async fn append_log_entries(&self, entries: &[Vec<u8>]) -> Result<Appended, StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let head = read_log_head(&mut *tx).await?;
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
            "INSERT INTO log_entries (idx, entry) SELECT $1 + t.ord - 1, t.v \
             FROM unnest($2::bytea[]) WITH ORDINALITY AS t(v, ord)",
            head.size,
            &entry_bytes,
        )
        .await?;
        let hash_bytes: Vec<&[u8]> = integrated.hashes.iter().map(|h| h.as_slice()).collect();
        insert_log_rows(
            &mut tx,
            "INSERT INTO log_hashes (idx, hash) SELECT $1 + t.ord - 1, t.v \
             FROM unnest($2::bytea[]) WITH ORDINALITY AS t(v, ord)",
            inkan_log::tree::stored_hash_count(head.size),
            &hash_bytes,
        )
        .await?;
        let updated =
            sqlx::query("UPDATE log_head SET size = $1, root = $2 WHERE id = 1 AND size = $3")
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
        read_log_head(&self.pool).await
    }

    async fn log_entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let limit = limit.min(log::MAX_ENTRIES_PAGE);
        let rows =
            sqlx::query("SELECT idx, entry FROM log_entries WHERE idx >= $1 ORDER BY idx LIMIT $2")
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
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let head = read_log_head(&mut *tx).await?;
        let latest: Option<i64> = sqlx::query("SELECT max(size) AS size FROM log_checkpoints")
            .fetch_one(&mut *tx)
            .await?
            .try_get("size")?;
        let latest = latest
            .map(|s| log::from_db(s, "checkpoint size"))
            .transpose()?;
        log::check_checkpoint(size, head.size, latest)?;
        sqlx::query("INSERT INTO log_checkpoints (size, note, created_at) VALUES ($1, $2, $3)")
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
            "SELECT size, note, created_at FROM log_checkpoints WHERE size >= $1 \
             ORDER BY size LIMIT $2",
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
    use super::{PG_STATEMENT_BYTES, statement_chunks};

    #[test]
    fn statements_stay_small_and_keep_every_item_in_order() {
        let small = vec![1u8; 400];
        let big = vec![2u8; PG_STATEMENT_BYTES + 1];
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
            let chunks = statement_chunks(&items);
            let rejoined: Vec<&[u8]> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(rejoined, items);
            for chunk in &chunks {
                assert!(!chunk.is_empty());
                assert!(chunk.len() <= super::log::STATEMENT_CHUNK);
                let bytes: usize = chunk.iter().map(|i| i.len()).sum();
                assert!(chunk.len() == 1 || bytes <= PG_STATEMENT_BYTES, "{bytes}");
            }
        }
    }
}
