//! The PostgreSQL store: production, and several nodes sharing one database.
//!
//! Owns the PostgreSQL connection pool and the PostgreSQL spelling of every [`Store`]
//! operation; the schema is in `migrations/postgres/` and applied by `store::migrate` (under
//! an advisory lock) on [`PostgresStore::connect`]. Tables are unqualified: they live in the
//! first schema of the connection's `search_path`, so a deployment (or a test) picks its schema
//! in the URL (`options[search_path]=...`).
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
//! Must never: build SQL from values (values are always bound; only constant column names are
//! spliced in), log the URL (it may hold a password), or decode stored names itself (that is
//! `StoredKey::decode` in `store/keys.rs`, shared with SQLite).

use super::keys::StoredKey;
use super::{KeyFilter, KeyId, KeyRecord, KeyState, StateChange, Store, StoreError, migrate};
use crate::clock::UnixMillis;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Executor, PgPool, Postgres, Row};
use std::str::FromStr;
use std::time::Duration;

/// Connections per node.
const MAX_CONNECTIONS: u32 = 10;

/// How long an operation waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

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
             WHERE id = $4 AND state IN ($5, $6, $7) RETURNING ",
            key_columns!()
        ))
        .bind(change.to.as_str())
        .bind(change.reason.as_str())
        .bind(change.at)
        .bind(id.as_str())
        .bind(a)
        .bind(b)
        .bind(c)
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
}
