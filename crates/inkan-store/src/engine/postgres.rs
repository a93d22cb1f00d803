//! PostgreSQL's hooks: connecting (TLS as the URL says, done by sqlx with rustls), binding a
//! statement, the advisory locks (and a restore's table locks), and what a backup and a restore
//! need of the schema (a table's columns, identity columns and their sequences).
//!
//! Tables are unqualified: they live in the first schema of the connection's `search_path`, so
//! a deployment (or a test) picks its schema in the URL (`options[search_path]=...`).
//!
//! Must never: log the URL (it may hold a password).

use super::{ColumnType, Db, Lock, Param, Sql};
use crate::{StoreError, migrate};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Row as _};
use std::str::FromStr;
use std::time::Duration;

/// Connections per node.
const MAX_CONNECTIONS: u32 = 10;

/// How long an operation waits for a free connection (or, with the server gone, for a new one):
/// a request caught by an outage fails after this, and the store probe (inkan-server
/// `health`) turns the next ones away at once.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The first key of the advisory lock the log's writers take ("InkL"); the second is a hash of
/// the schema, as for the migration lock, so logs in different schemas do not wait for each
/// other.
pub(crate) const LOG_LOCK_CLASS: i32 = 0x496e_6b4c;

/// How long a pooled connection may sit idle before it is pinged again before use.
const PING_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// Connects to `url` (`postgres://` or `postgresql://`, libpq-style parameters such as
/// `sslmode`, `sslrootcert`, `options`) and brings the schema up to date.
pub(crate) async fn connect(url: &str) -> Result<Db, StoreError> {
    // sqlx's parse errors do not repeat the URL, which may hold a password.
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
    // No ping before lending a connection that was used in the last `PING_IDLE_AFTER` (the
    // default pings every time: a round trip on every statement's path). sqlx pings each
    // connection when it comes back and closes it if that fails; one idle for longer (whose
    // server, or a proxy or NAT between, may have dropped it meanwhile) is pinged first.
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IDLE_AFTER {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
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
    bind_all!(sqlx::query(AssertSqlSafe(text)), params)
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
        Lock::StatusListsOf(owner) => {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('inkan.status_lists:' || $1))")
                .bind(owner)
        }
        Lock::Restore => sqlx::query("LOCK TABLE keys, accounts, log_entries IN EXCLUSIVE MODE"),
    };
    query.execute(&mut *conn).await?;
    Ok(())
}

/// The columns of `table` in the current schema (`Tx::columns`), by their types' names
/// (`udt_name`: `int8`, `int4`, `text`, `bytea`, `bool`).
pub(super) async fn columns(
    conn: &mut PgConnection,
    table: &str,
) -> Result<Vec<(String, ColumnType)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT column_name::TEXT AS name, udt_name::TEXT AS type \
         FROM information_schema.columns \
         WHERE table_name = $1 AND table_schema = current_schema() \
         ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let udt: String = row.try_get("type")?;
            let kind = match udt.as_str() {
                "int8" => ColumnType::Int,
                "int4" => ColumnType::Int32,
                "text" => ColumnType::Text,
                "bytea" => ColumnType::Bytes,
                "bool" => ColumnType::Flag,
                _ => ColumnType::Other(udt),
            };
            Ok((row.try_get("name")?, kind))
        })
        .collect()
}

/// A restore's `INSERT … VALUES (…)`, writing the values given into `GENERATED ALWAYS` identity
/// columns too (`Engine::keeping_identity`).
pub(super) fn keeping_identity(insert: String) -> String {
    insert.replacen(") VALUES (", ") OVERRIDING SYSTEM VALUE VALUES (", 1)
}

/// Sets the sequence of every identity column of `tables` in the current schema to continue
/// after the column's highest value (or to start at 1 on an empty table), after a restore
/// (`Tx::continue_identities`). Table and column names come from the catalogue, and only
/// those of `tables` written in lowercase letters and `_` go into the statement.
pub(super) async fn continue_identities(
    conn: &mut PgConnection,
    tables: &[&str],
) -> Result<(), sqlx::Error> {
    let identities = sqlx::query(
        "SELECT table_name::TEXT AS t, column_name::TEXT AS c FROM information_schema.columns \
         WHERE is_identity = 'YES' AND table_schema = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await?;
    for row in &identities {
        let (table, column): (String, String) = (row.try_get("t")?, row.try_get("c")?);
        if !tables.contains(&table.as_str())
            || !column.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            continue;
        }
        sqlx::query(AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table}"
        )))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
