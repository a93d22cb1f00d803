//! SQLite's hooks: connecting (WAL, `synchronous=FULL`, foreign keys, busy timeout, the one
//! writer connection, PostgreSQL's `"C"` collation), lending connections ([`Connections`]) and
//! running transactions on them ([`SqliteTx`]), binding a statement, and listing a table's
//! columns (for a backup and a restore).
//!
//! Connections are lent by this module, not by sqlx's pool: the pool pings a connection every
//! time it is returned, and on SQLite each ping is a round trip to the connection's worker
//! thread, as many as the statements themselves on the signing path (measured with `perf` under
//! `inkan bench`). A connection to a local file has no server that could have dropped it; one
//! whose transaction could not be rolled back is closed instead of lent again.
//!
//! Must never: relax durability (`synchronous=FULL`: a registered key must survive a power
//! cut), or lend a connection that may still be inside a transaction.

use super::{ColumnType, Db, Param, Sql};
use crate::{StoreError, migrate};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Row as _, Sqlite, SqliteConnection};
use std::borrow::Cow;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a writer waits for another's lock before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections for reads of a database file. SQLite has one writer at a time whatever this
/// is; more connections only let reads proceed while a write is in progress (WAL).
const MAX_READERS: usize = 8;

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
    let memory = is_memory(url);
    let options = if memory {
        options
    } else {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        create_parent_folder(options.get_filename())?;
        options
    };
    // The schema is brought up to date through one connection, which then becomes the writer
    // (for an in-memory database, the only connection there is).
    let migrating = open_first(&options).await?;
    let applied = migrate::sqlite(&migrating).await?;
    let first = migrating.acquire().await?.detach();
    migrating.close().await;
    tracing::debug!(applied, "SQLite store ready");
    let writer = Arc::new(Connections::new(
        first,
        1,
        (!memory).then(|| options.clone()),
    ));
    let reads = if memory {
        writer.clone()
    } else {
        Arc::new(Connections::empty(MAX_READERS, options))
    };
    Ok(Db::Sqlite { reads, writer })
}

/// The first connection, in a pool of one for the migrations. Processes opening a new file at
/// once race to switch it to WAL, which takes the file's lock without waiting for it: the
/// losers see "database is locked" and try again, for as long as the busy timeout.
async fn open_first(options: &SqliteConnectOptions) -> Result<sqlx::SqlitePool, sqlx::Error> {
    let started = std::time::Instant::now();
    loop {
        let opened = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await;
        match opened {
            Err(sqlx::Error::Database(e))
                if e.code().as_deref() == Some("5") && started.elapsed() < BUSY_TIMEOUT =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

/// Connections to one database, lent one at a time ([`Connections::lend`]) up to a limit and
/// opened as needed (an in-memory database has exactly one, opened at start).
#[derive(Debug)]
pub(crate) struct Connections {
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Arc<Semaphore>,
    /// How to open another; `None` for an in-memory database, which no other connection sees.
    open: Option<SqliteConnectOptions>,
}

impl Connections {
    fn new(first: SqliteConnection, limit: usize, open: Option<SqliteConnectOptions>) -> Self {
        Connections {
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(limit)),
            open,
        }
    }

    fn empty(limit: usize, open: SqliteConnectOptions) -> Self {
        Connections {
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(limit)),
            open: Some(open),
        }
    }

    /// A connection of its own for the caller, waiting while all are lent.
    pub(crate) async fn lend(self: &Arc<Self>) -> Result<Lease, sqlx::Error> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let connection = match (idle, &self.open) {
            (Some(connection), _) => connection,
            (None, Some(open)) => open.connect().await?,
            (None, None) => return Err(sqlx::Error::PoolClosed),
        };
        Ok(Lease {
            connection: Some(connection),
            broken: false,
            home: self.clone(),
            _permit: permit,
        })
    }
}

/// A lent connection; back with its [`Connections`] when dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    connection: Option<SqliteConnection>,
    /// A statement failed in a way that leaves the connection unusable: closed, not lent again.
    broken: bool,
    home: Arc<Connections>,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    pub(super) fn connection(&mut self) -> &mut SqliteConnection {
        self.connection
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }

    /// Notes a failed statement's error: a connection whose worker is gone or whose I/O failed
    /// is closed when the lease ends.
    pub(super) fn note(&mut self, error: &sqlx::Error) {
        if matches!(
            error,
            sqlx::Error::WorkerCrashed | sqlx::Error::Io(_) | sqlx::Error::Protocol(_)
        ) {
            self.broken = true;
        }
    }

    /// Closes the connection instead of lending it again (a file database opens another when
    /// needed; the one connection of an in-memory database is kept, there being no other).
    fn discard(mut self) {
        if self.home.open.is_some() {
            self.connection.take();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.broken && self.home.open.is_some() {
            tracing::warn!("a SQLite connection failed: it is closed, another opens when needed");
            self.connection.take();
        }
        if let Some(connection) = self.connection.take() {
            self.home
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(connection);
        }
    }
}

/// A transaction on a lent connection: `BEGIN` … `COMMIT`, or rolled back when dropped
/// uncommitted (on a task of its own, which returns the connection once it is out of the
/// transaction, or closes it if the rollback fails).
#[derive(Debug)]
pub(crate) struct SqliteTx {
    lease: Option<Lease>,
}

impl SqliteTx {
    /// Starts a transaction with `begin` (`BEGIN` or `BEGIN IMMEDIATE`). The lease is the
    /// transaction's before `BEGIN` is sent: if this future is dropped while it waits (a request
    /// timed out behind another process's write lock), the `BEGIN` the connection's worker may
    /// still run is rolled back before the connection is lent again. A `BEGIN` that failed
    /// leaves the connection outside any transaction, and it is lent again as it is.
    pub(super) async fn begin(lease: Lease, begin: &'static str) -> Result<Self, sqlx::Error> {
        let mut tx = SqliteTx { lease: Some(lease) };
        match sqlx::raw_sql(begin).execute(tx.connection()).await {
            Ok(_) => Ok(tx),
            Err(error) => {
                if let Some(mut lease) = tx.lease.take() {
                    lease.note(&error);
                }
                Err(error)
            }
        }
    }

    /// Notes a failed statement's error on the lease (see [`Lease::note`]).
    pub(super) fn note(&mut self, error: &sqlx::Error) {
        if let Some(lease) = self.lease.as_mut() {
            lease.note(error);
        }
    }

    pub(super) fn connection(&mut self) -> &mut SqliteConnection {
        self.lease
            .as_mut()
            .expect("a transaction holds its lease until it ends")
            .connection()
    }

    /// Commits; on failure the transaction is rolled back (on drop).
    pub(super) async fn commit(mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("COMMIT").execute(self.connection()).await?;
        self.lease.take();
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        let Some(mut lease) = self.lease.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(error) = sqlx::raw_sql("ROLLBACK").execute(lease.connection()).await
                    {
                        // SQLite may have rolled back by itself (a full disk, an I/O error):
                        // whatever state the connection is in, it is not lent again.
                        tracing::warn!(%error, "a SQLite rollback failed: the connection is closed");
                        lease.discard();
                    }
                });
            }
            // No runtime to roll back on: closing the connection rolls back.
            Err(_) => lease.discard(),
        }
    }
}

/// The statement with its values bound, for SQLite. Row-lock clauses (`FOR UPDATE`,
/// `FOR UPDATE SKIP LOCKED`, `FOR SHARE`) are dropped: SQLite has none, and the write
/// transaction they run in holds the database's write lock from its first statement.
pub(super) fn query(sql: Sql<'_>) -> sqlx::query::Query<'_, Sqlite, SqliteArguments> {
    let (text, params) = sql.into_parts();
    let text = if text.contains(" FOR UPDATE") || text.contains(" FOR SHARE") {
        Cow::Owned(
            text.replace(" FOR UPDATE SKIP LOCKED", "")
                .replace(" FOR UPDATE", "")
                .replace(" FOR SHARE", ""),
        )
    } else {
        text
    };
    bind_all!(sqlx::query(AssertSqlSafe(text)), params)
}

/// `statements` as one multi-statement query (`Tx::run_together`). sqlx-sqlite prepares the
/// statements of a query in turn and binds each one's `$n` to the query's n-th value, so every
/// statement's placeholders are moved past the values of those before it. (The store's SQL has
/// no `$` but its placeholders.) sqlx calls several statements in one query a behaviour it may
/// drop (launchbadge/sqlx#3108); the version is pinned, and the conformance suites run every
/// batch through here.
pub(super) fn joined(statements: Vec<Sql<'_>>) -> Sql<'_> {
    let mut text = String::new();
    let mut params = Vec::new();
    for statement in statements {
        let (part, values) = statement.into_parts();
        if !text.is_empty() {
            text.push_str(";\n");
        }
        let mut rest = part.as_ref();
        let mut highest = 0;
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            text.push_str(&rest[..=at]);
            match rest[at + 1..at + 1 + digits].parse::<usize>() {
                Ok(n) => {
                    highest = highest.max(n);
                    text.push_str(&(n + params.len()).to_string());
                }
                Err(_) => text.push_str(&rest[at + 1..at + 1 + digits]),
            }
            rest = &rest[at + 1 + digits..];
        }
        text.push_str(rest);
        // A statement given fewer values than it names would take the next one's.
        debug_assert_eq!(highest, values.len(), "values for {part}");
        params.extend(values);
    }
    Sql {
        text: Cow::Owned(text),
        params,
    }
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
    use super::{is_memory, joined};
    use crate::engine::{Param, Sql};

    #[test]
    fn joined_statements_number_their_values_after_those_before() {
        let script = joined(vec![
            Sql::new("INSERT INTO t (a, b) SELECT $1 + l.ord, l.v FROM (x($2)) AS l")
                .bind(7i64)
                .bind("[]"),
            Sql::new("UPDATE h SET s = $1 WHERE s = $3 AND r = $2")
                .bind(1i64)
                .bind("r")
                .bind(0i64),
            Sql::new("SELECT 1"),
            Sql::new("SELECT $1 AS v").bind("last"),
        ]);
        let many = (1..=10).fold(
            Sql::new("SELECT $10, $1, $2, $3, $4, $5, $6, $7, $8, $9"),
            |sql, n| sql.bind(i64::from(n)),
        );
        let twice = joined(vec![Sql::new("SELECT $1").bind(0i64), many]);
        assert_eq!(
            twice.text,
            "SELECT $1;\nSELECT $11, $2, $3, $4, $5, $6, $7, $8, $9, $10"
        );
        assert!(matches!(twice.params[10], Param::Int(Some(10))));
        assert_eq!(
            script.text,
            "INSERT INTO t (a, b) SELECT $1 + l.ord, l.v FROM (x($2)) AS l;\n\
             UPDATE h SET s = $3 WHERE s = $5 AND r = $4;\n\
             SELECT 1;\n\
             SELECT $6 AS v"
        );
        assert_eq!(script.params.len(), 6);
        assert!(matches!(script.params[5], Param::Text(Some("last"))));
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
