//! SQLite's hooks: connecting (WAL, `synchronous=FULL`, foreign keys, busy timeout, the one
//! writer connection, PostgreSQL's `"C"` collation), binding a statement, and listing a
//! table's columns (for a backup and a restore).
//!
//! Must never: relax durability (`synchronous=FULL`: a registered key must survive a power
//! cut), or leave the writer connection inside a failed transaction.

use super::{ColumnType, Db, Param, Sql};
use crate::{StoreError, migrate};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row as _, Sqlite, SqliteConnection};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

/// How long a writer waits for another's lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections to a database file. SQLite has one writer at a time whatever this is; more
/// connections only let reads proceed while a write is in progress (WAL).
///
/// Every pool is opened with `test_before_acquire(false)`: a connection to a local file cannot
/// have been dropped by a server, and sqlx's default ping on every acquire is one more round
/// trip to the connection's worker thread per statement (a third of the signing path's
/// thread hand-offs, measured with `perf` under `inkan bench`).
const MAX_CONNECTIONS: u32 = 8;

/// The name statements give byte order by (`ORDER BY id COLLATE "C"`), as PostgreSQL names it:
/// there it is byte order whatever the database's collation; SQLite knows no such name, so every
/// connection registers it, as [`byte_order`].
const BYTE_ORDER: &str = "C";

/// PostgreSQL's `"C"` collation on SQLite: the byte order of the UTF-8 text, as SQLite's own
/// `BINARY` (the default) compares it.
fn byte_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

/// Opens (creating it if missing) the database at `url` and brings its schema up to date.
///
/// `sqlite://PATH` (or `sqlite:PATH`) opens a file in WAL mode with `synchronous=FULL`.
/// `sqlite::memory:` opens a private in-memory database for tests and trials: the pool has
/// exactly one connection, kept open for the store's life, so every operation sees the same
/// database; it is gone when the store is dropped.
pub(crate) async fn connect(url: &str) -> Result<Db, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("invalid SQLite URL {url:?}: {e}")))?
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Full)
        .collation(BYTE_ORDER, byte_order);
    let (pool, writer) = if is_memory(url) {
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
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
            .test_before_acquire(false)
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .before_acquire(|connection, _| Box::pin(leave_no_transaction(connection)))
            .connect_with(options)
            .await?;
        (pool, writer)
    };
    let applied = migrate::sqlite(&writer).await?;
    tracing::debug!(applied, "SQLite store ready");
    Ok(Db::Sqlite { pool, writer })
}

/// The statement with its values bound, for SQLite. Row-lock clauses (`FOR UPDATE`,
/// `FOR UPDATE SKIP LOCKED`) are dropped: SQLite has none, and the write transaction they run
/// in holds the database's write lock from its first statement.
pub(super) fn query(sql: Sql<'_>) -> sqlx::query::Query<'_, Sqlite, SqliteArguments> {
    let (text, params) = sql.into_parts();
    let text = if text.contains(" FOR UPDATE") {
        Cow::Owned(
            text.replace(" FOR UPDATE SKIP LOCKED", "")
                .replace(" FOR UPDATE", ""),
        )
    } else {
        text
    };
    bind_all!(sqlx::query(AssertSqlSafe(text)), params)
}

/// The columns of `table` (`Tx::columns`), by their declared types: the store's tables are
/// `STRICT`, so a column holds values of its declared type only (`INTEGER`, `TEXT`, `BLOB`;
/// booleans are `INTEGER`).
pub(super) async fn columns(
    conn: &mut SqliteConnection,
    table: &str,
) -> Result<Vec<(String, ColumnType)>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let declared: String = row.try_get("type")?;
            let kind = match declared.to_ascii_uppercase().as_str() {
                "INTEGER" => ColumnType::Int,
                "TEXT" => ColumnType::Text,
                "BLOB" => ColumnType::Bytes,
                _ => ColumnType::Other(declared),
            };
            Ok((row.try_get("name")?, kind))
        })
        .collect()
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
