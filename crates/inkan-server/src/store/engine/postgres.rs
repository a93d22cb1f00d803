//! PostgreSQL's hooks: connecting (TLS as the URL says, done by sqlx with rustls), binding a
//! statement, and the log's advisory lock.
//!
//! Tables are unqualified: they live in the first schema of the connection's `search_path`, so
//! a deployment (or a test) picks its schema in the URL (`options[search_path]=...`).
//!
//! Must never: log the URL (it may hold a password).

use super::{Db, Lock, Param, Sql};
use crate::store::{StoreError, migrate};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Row as _};
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

/// Connects to `url` (`postgres://` or `postgresql://`, libpq-style parameters such as
/// `sslmode`, `sslrootcert`, `options`) and brings the schema up to date.
pub(crate) async fn connect(url: &str) -> Result<Db, StoreError> {
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
    Ok(Db::Postgres { pool })
}

/// Whether the pool's sessions are encrypted (TLS), as the server sees it (`pg_stat_ssl`).
/// Every connection of the pool uses the same settings; this asks one.
pub(crate) async fn session_encrypted(pool: &PgPool) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_optional(pool)
        .await?;
    match row {
        Some(row) => Ok(row.try_get::<bool, _>("ssl")?),
        None => Ok(false),
    }
}

/// The statement with its values bound, for PostgreSQL.
pub(super) fn query(sql: Sql<'_>) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    let (text, params) = sql.into_parts();
    let mut query = sqlx::query(AssertSqlSafe(text));
    for param in params {
        query = match param {
            Param::Text(v) => query.bind(v),
            Param::Int(v) => query.bind(v),
            Param::Bytes(v) => query.bind(v),
            Param::Flag(v) => query.bind(v),
        };
    }
    query
}

/// Takes `lock` until the end of the transaction: an advisory lock keyed by the lock's class
/// and, for the log, the schema (logs in different schemas do not wait for each other), or,
/// for an issuer, the identifier.
pub(super) async fn lock(conn: &mut PgConnection, lock: Lock<'_>) -> Result<(), sqlx::Error> {
    let query = match lock {
        Lock::Log => sqlx::query(
            "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))",
        )
        .bind(LOG_LOCK_CLASS),
        Lock::Issuer(id) => {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('inkan.issuer:' || $1))").bind(id)
        }
    };
    query.execute(&mut *conn).await?;
    Ok(())
}
