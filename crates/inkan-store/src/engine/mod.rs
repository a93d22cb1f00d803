//! The two engines behind one way of running SQL: what lets the store's SQL be written once.
//!
//! Owns [`Db`] (the connections of one store), [`Tx`] (a transaction), [`Sql`] (a statement and
//! its bound values) and [`Row`] (a result row, read through [`Columns`]). A statement is written
//! once with `$n` placeholders, which both drivers bind (SQLite reads `$1` as parameter 1), and
//! run on either engine; the values are a closed set of portable types ([`Param`]).
//!
//! What differs between the engines is here and nowhere else, each difference a named hook:
//! - connecting and the pools ([`sqlite`], [`postgres`]);
//! - starting a write ([`Db::begin_write`]: SQLite `BEGIN IMMEDIATE` on the one writer
//!   connection, which holds the database's write lock from the first read; PostgreSQL a plain
//!   transaction whose statements lock the rows they check);
//! - row locks: statements say `FOR UPDATE` (`SKIP LOCKED`) or `FOR SHARE` as PostgreSQL needs; SQLite, which
//!   has no row locks, drops the clause, its write transaction already excluding every other
//!   writer;
//! - byte order of text: statements say `COLLATE "C"` as PostgreSQL needs (whatever the
//!   database's collation); SQLite's connections register a collation of that name, byte order
//!   as its default `BINARY`;
//! - several statements in one round trip ([`Tx::run_together`]: one multi-statement query on
//!   SQLite, one after the other on PostgreSQL);
//! - named locks held to the end of a transaction ([`Tx::lock`]: PostgreSQL advisory locks; on
//!   SQLite the write transaction holds them already);
//! - lists of values expanded into rows ([`Db::hex_list`], [`Db::int_list`]);
//! - what a backup and a restore need of the schema: a table's columns ([`Tx::columns`]),
//!   writing the backup's values into identity columns ([`Engine::keeping_identity`]) and
//!   continuing the identities after them ([`Tx::continue_identities`]);
//! - the migrations' DDL (`store::migrate`).
//!
//! Must never: splice a value into SQL (values are always bound; a statement's text is a
//! constant, or built from constant column names only), or hold business rules (those are in
//! `store/sql/`, written once).

/// `query` with each of `params` bound in order: the one binding loop, expanded for each
/// engine's query type.
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Text(v) => query.bind(v),
                Param::Int(v) => query.bind(v),
                Param::Bytes(v) => query.bind(v),
                Param::Flag(v) => query.bind(v),
            };
        }
        query
    }};
}

pub(crate) mod postgres;
pub(crate) mod sqlite;

use super::auth_rows::Columns;
#[cfg(test)]
use sqlx::AssertSqlSafe;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgConnection, PgPool, Postgres, SqliteConnection};
use std::borrow::Cow;
use std::sync::Arc;

/// A value bound to a placeholder: the portable types both engines store alike.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Bytes(Option<&'a [u8]>),
    Flag(bool),
}

macro_rules! param_from {
    ($($t:ty => |$v:ident| $e:expr),+ $(,)?) => {$(
        impl<'a> From<$t> for Param<'a> {
            fn from($v: $t) -> Self {
                $e
            }
        }
    )+};
}

param_from! {
    &'a str => |v| Param::Text(Some(v)),
    Option<&'a str> => |v| Param::Text(v),
    &'a String => |v| Param::Text(Some(v.as_str())),
    &'a Option<String> => |v| Param::Text(v.as_deref()),
    i64 => |v| Param::Int(Some(v)),
    Option<i64> => |v| Param::Int(v),
    i32 => |v| Param::Int(Some(i64::from(v))),
    u32 => |v| Param::Int(Some(i64::from(v))),
    &'a [u8] => |v| Param::Bytes(Some(v)),
    Option<&'a [u8]> => |v| Param::Bytes(v),
    &'a Vec<u8> => |v| Param::Bytes(Some(v.as_slice())),
    bool => |v| Param::Flag(v),
}

/// One statement and the values for its placeholders, in order (`$1` first).
#[derive(Debug)]
#[must_use = "a statement does nothing until it is run"]
pub(crate) struct Sql<'a> {
    text: Cow<'static, str>,
    params: Vec<Param<'a>>,
}

impl<'a> Sql<'a> {
    /// A statement written once for both engines.
    pub(crate) fn new(text: &'static str) -> Self {
        Sql {
            text: Cow::Borrowed(text),
            params: Vec::new(),
        }
    }

    /// A statement assembled at run time from constant parts (column names, placeholders):
    /// never from values.
    pub(crate) fn assembled(text: String) -> Self {
        Sql {
            text: Cow::Owned(text),
            params: Vec::new(),
        }
    }

    /// Binds the next placeholder.
    pub(crate) fn bind(mut self, value: impl Into<Param<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Runs the statement; how many rows it changed.
    pub(crate) async fn execute(self, on: &mut impl Executor) -> Result<u64, sqlx::Error> {
        let result = match on.connection() {
            Connection::Sqlite(c) => sqlite::query(self)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
            Connection::Postgres(c) => postgres::query(self)
                .execute(c)
                .await
                .map(|r| r.rows_affected()),
        };
        on.seen(result)
    }

    /// The first row, if any.
    pub(crate) async fn fetch_optional(
        self,
        on: &mut impl Executor,
    ) -> Result<Option<Row>, sqlx::Error> {
        let result = match on.connection() {
            Connection::Sqlite(c) => sqlite::query(self)
                .fetch_optional(c)
                .await
                .map(|r| r.map(Row::Sqlite)),
            Connection::Postgres(c) => postgres::query(self)
                .fetch_optional(c)
                .await
                .map(|r| r.map(Row::Postgres)),
        };
        on.seen(result)
    }

    /// Exactly one row ([`sqlx::Error::RowNotFound`] otherwise).
    pub(crate) async fn fetch_one(self, on: &mut impl Executor) -> Result<Row, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Every row.
    pub(crate) async fn fetch_all(self, on: &mut impl Executor) -> Result<Vec<Row>, sqlx::Error> {
        let result = match on.connection() {
            Connection::Sqlite(c) => sqlite::query(self)
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(Row::Sqlite).collect()),
            Connection::Postgres(c) => postgres::query(self)
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(Row::Postgres).collect()),
        };
        on.seen(result)
    }

    /// The text and the values, for an engine's hook to bind.
    fn into_parts(self) -> (Cow<'static, str>, Vec<Param<'a>>) {
        (self.text, self.params)
    }
}

/// A lock that serialises one kind of change across nodes (see [`Tx::lock`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lock<'a> {
    /// The transparency log's write lock: appends integrate the tree one at a time.
    Log,
    /// The binding of one issuer identifier to keys.
    Issuer(&'a str),
    /// The creation of one subscriber's status lists (their number is capped).
    StatusListsOf(&'a str),
    /// A restore: one at a time, and never beside a writer of the keys, the accounts or the
    /// log (PostgreSQL: those tables locked in `EXCLUSIVE` mode, which lets reads through).
    Restore,
}

/// A column's type, as [`Tx::columns`] reports it: how a backup reads the column's values and
/// a restore binds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnType {
    /// A 64-bit integer (SQLite `INTEGER`, PostgreSQL `BIGINT`).
    Int,
    /// A 32-bit integer (PostgreSQL `INTEGER`; SQLite has none).
    Int32,
    /// Text.
    Text,
    /// Bytes (SQLite `BLOB`, PostgreSQL `BYTEA`).
    Bytes,
    /// A boolean (PostgreSQL `BOOLEAN`; SQLite stores booleans in `INTEGER` columns).
    Flag,
    /// Any other type, by its engine's name: the store has none.
    Other(String),
}

impl ColumnType {
    /// The type's name, for errors.
    pub(crate) fn name(&self) -> &str {
        match self {
            ColumnType::Int => "integer",
            ColumnType::Int32 => "32-bit integer",
            ColumnType::Text => "text",
            ColumnType::Bytes => "bytes",
            ColumnType::Flag => "boolean",
            ColumnType::Other(name) => name,
        }
    }
}

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine's name, for logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A connection a statement runs on: in a transaction, or on its own (one statement,
/// committed by itself).
pub(crate) enum Connection<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// Where [`Sql`] runs: a [`Tx`] or a [`Pooled`] connection.
pub(crate) trait Executor: Send {
    fn connection(&mut self) -> Connection<'_>;

    /// Hands `result` back, first noting a failure that leaves the connection unusable (its
    /// worker gone, its I/O failed), so that it is closed instead of lent again.
    fn seen<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        result
    }
}

/// A transaction. Dropped without [`Tx::commit`], it rolls back.
pub(crate) enum Tx {
    Sqlite(sqlite::SqliteTx),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Takes `lock` until the transaction ends, so that nodes doing the same thing at once take
    /// turns: a PostgreSQL advisory lock (per schema), or for a restore table locks; on SQLite
    /// the write transaction holds the whole database already.
    pub(crate) async fn lock(&mut self, lock: Lock<'_>) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(tx) => postgres::lock(tx, lock).await,
        }
    }

    /// Runs `statements` in order in this transaction, in one round trip where the engine can,
    /// and returns the rows of all of them in order (a caller tells them apart by their
    /// columns). SQLite runs them as one multi-statement query ([`sqlite::joined`]);
    /// PostgreSQL's extended protocol takes one statement per message, so there they run one
    /// after the other. A failing statement fails the call with the ones before it done: the
    /// caller drops the transaction, which rolls them back.
    pub(crate) async fn run_together(
        &mut self,
        statements: Vec<Sql<'_>>,
    ) -> Result<Vec<Row>, sqlx::Error> {
        match self {
            Tx::Sqlite(_) => sqlite::joined(statements).fetch_all(self).await,
            Tx::Postgres(_) => {
                let mut rows = Vec::new();
                for statement in statements {
                    rows.extend(statement.fetch_all(self).await?);
                }
                Ok(rows)
            }
        }
    }

    /// The columns of `table`, in their order, with their types, for a backup (which reads
    /// them) and a restore (which binds them): SQLite's `pragma_table_info`, PostgreSQL's
    /// `information_schema.columns` (of the current schema). Empty when there is no such table.
    pub(crate) async fn columns(
        &mut self,
        table: &str,
    ) -> Result<Vec<(String, ColumnType)>, sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => sqlite::columns(tx.connection(), table).await,
            Tx::Postgres(tx) => postgres::columns(tx, table).await,
        }
    }

    /// After a restore wrote the backup's values into identity columns, makes the identities
    /// of `tables` continue after the highest value restored: PostgreSQL's identity sequences
    /// are set (`setval`); SQLite's `INTEGER PRIMARY KEY` continues after the highest by itself.
    pub(crate) async fn continue_identities(&mut self, tables: &[&str]) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(_) => Ok(()),
            Tx::Postgres(tx) => postgres::continue_identities(tx, tables).await,
        }
    }
}

impl Executor for Tx {
    fn connection(&mut self) -> Connection<'_> {
        match self {
            Tx::Sqlite(tx) => Connection::Sqlite(tx.connection()),
            Tx::Postgres(tx) => Connection::Postgres(&mut *tx),
        }
    }

    fn seen<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if let (Tx::Sqlite(tx), Err(error)) = (&mut *self, &result) {
            tx.note(error);
        }
        result
    }
}

/// A connection of its own, for a statement outside a transaction.
pub(crate) enum Pooled {
    Sqlite(sqlite::Lease),
    Postgres(PoolConnection<Postgres>),
}

impl Executor for Pooled {
    fn connection(&mut self) -> Connection<'_> {
        match self {
            Pooled::Sqlite(c) => Connection::Sqlite(c.connection()),
            Pooled::Postgres(c) => Connection::Postgres(&mut *c),
        }
    }

    fn seen<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        if let (Pooled::Sqlite(lease), Err(error)) = (&mut *self, &result) {
            lease.note(error);
        }
        result
    }
}

/// The connections of one store.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// `reads`; `writer`, one connection, for every write of this process, so writers queue
    /// for it without sleeping instead of contending for SQLite's lock (whose busy handler
    /// sleeps in steps of up to 25 ms). Other processes on the same file still meet the busy
    /// timeout. For an in-memory database both are the same one connection.
    Sqlite {
        reads: Arc<sqlite::Connections>,
        writer: Arc<sqlite::Connections>,
    },
    Postgres {
        pool: PgPool,
    },
}

impl Db {
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Db::Sqlite { .. } => Engine::Sqlite,
            Db::Postgres { .. } => Engine::Postgres,
        }
    }

    /// A connection for reads.
    pub(crate) async fn read(&self) -> Result<Pooled, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { reads, .. } => Pooled::Sqlite(reads.lend().await?),
            Db::Postgres { pool } => Pooled::Postgres(pool.acquire().await?),
        })
    }

    /// A connection for one write statement that commits by itself.
    pub(crate) async fn write(&self) -> Result<Pooled, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { writer, .. } => Pooled::Sqlite(writer.lend().await?),
            Db::Postgres { pool } => Pooled::Postgres(pool.acquire().await?),
        })
    }

    /// A transaction for reads that must see one snapshot: on SQLite a deferred transaction,
    /// whose first read fixes its snapshot (WAL); on PostgreSQL `REPEATABLE READ READ ONLY`
    /// (the default, READ COMMITTED, takes a new snapshot for every statement).
    pub(crate) async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { reads, .. } => {
                Tx::Sqlite(sqlite::SqliteTx::begin(reads.lend().await?, "BEGIN").await?)
            }
            Db::Postgres { pool } => Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        })
    }

    /// A write transaction. On SQLite it holds the database's write lock from its first
    /// statement (`BEGIN IMMEDIATE`), so a check and the change it allows cannot be split by
    /// another writer; on PostgreSQL the statements lock what they check
    /// ([`Sql::for_update`], conditional `UPDATE`s).
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { writer, .. } => {
                Tx::Sqlite(sqlite::SqliteTx::begin(writer.lend().await?, "BEGIN IMMEDIATE").await?)
            }
            // READ COMMITTED whatever the database's default: a statement after the log's
            // advisory lock must see what the lock's previous holder committed.
            Db::Postgres { pool } => Tx::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
                    .await?,
            ),
        })
    }
}

/// A result row of either engine.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Columns for Row {
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.text(column),
            Row::Postgres(r) => r.text(column),
        }
    }
    fn text_opt(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.text_opt(column),
            Row::Postgres(r) => r.text_opt(column),
        }
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.int(column),
            Row::Postgres(r) => r.int(column),
        }
    }
    fn int_opt(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.int_opt(column),
            Row::Postgres(r) => r.int_opt(column),
        }
    }
    fn bytes_opt(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.bytes_opt(column),
            Row::Postgres(r) => r.bytes_opt(column),
        }
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.bytes(column),
            Row::Postgres(r) => r.bytes(column),
        }
    }
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.flag(column),
            Row::Postgres(r) => r.flag(column),
        }
    }
}

impl Engine {
    /// A row source for the JSON array of lowercase hex strings bound at `$n` (see
    /// [`hex_array`]): rows `(ord, v)`, `ord` counting from 0 in the array's order, `v` the
    /// decoded bytes. A list is one parameter, so a batch is a few constant statements whatever
    /// its length.
    pub(crate) fn hex_rows(self, n: u8) -> String {
        match self {
            Engine::Sqlite => format!("SELECT key AS ord, unhex(value) AS v FROM json_each(${n})"),
            Engine::Postgres => format!(
                "SELECT t.ord - 1 AS ord, decode(t.v, 'hex') AS v \
                 FROM json_array_elements_text(CAST(${n} AS json)) WITH ORDINALITY AS t(v, ord)"
            ),
        }
    }

    /// `insert` (an `INSERT INTO t (…) VALUES (…)` of a restore), made to write the values it is
    /// given into identity columns too, so that the backup's ids are kept: PostgreSQL's identity
    /// columns are `GENERATED ALWAYS` and need `OVERRIDING SYSTEM VALUE`; SQLite's
    /// `INTEGER PRIMARY KEY` takes the value given as it is. See also
    /// [`Tx::continue_identities`].
    pub(crate) fn keeping_identity(self, insert: String) -> String {
        match self {
            Engine::Sqlite => insert,
            Engine::Postgres => postgres::keeping_identity(insert),
        }
    }

    /// A row source for the JSON array of integers bound at `$n` (see [`int_array`]): rows
    /// `(v)`.
    pub(crate) fn int_rows(self, n: u8) -> String {
        match self {
            Engine::Sqlite => format!("SELECT value AS v FROM json_each(${n})"),
            Engine::Postgres => format!(
                "SELECT CAST(t.v AS BIGINT) AS v \
                 FROM json_array_elements_text(CAST(${n} AS json)) AS t(v)"
            ),
        }
    }
}

impl Engine {
    /// A row source for the JSON array of strings bound at `$n`: rows `(v)`, `v` text.
    pub(crate) fn text_rows(self, n: u8) -> String {
        match self {
            Engine::Sqlite => format!("SELECT value AS v FROM json_each(${n})"),
            Engine::Postgres => {
                format!("SELECT t.v FROM json_array_elements_text(CAST(${n} AS json)) AS t(v)")
            }
        }
    }

    /// A row source for the JSON array of objects bound at `$n`: rows `(v)`, each an object
    /// whose members both engines read with `v ->> 'name'` (text; `CAST` for numbers). A batch
    /// of rows is then one statement.
    pub(crate) fn object_rows(self, n: u8) -> String {
        match self {
            Engine::Sqlite => format!("SELECT value AS v FROM json_each(${n})"),
            Engine::Postgres => {
                format!("SELECT t.v FROM json_array_elements(CAST(${n} AS json)) AS t(v)")
            }
        }
    }
}

impl Engine {
    /// The most bytes of values one statement carries (a single larger value goes alone).
    ///
    /// PostgreSQL: 8 KiB. sqlx 0.9.0 does not set `TCP_NODELAY` on its connections
    /// (transact-rs/sqlx#4335); a message larger than the socket's send buffer (16 KiB to start
    /// with, `net.ipv4.tcp_wmem`) leaves in two writes, and Nagle's algorithm holds the second
    /// until the server acknowledges the first, which it delays: 40 ms per statement (measured:
    /// a batch of 64 entries of 400 bytes took 49 ms in one statement, 3 ms for 32).
    /// SQLite: 256 KiB, a statement being a call in the same process.
    pub(crate) fn statement_bytes(self) -> usize {
        match self {
            Engine::Sqlite => 256 * 1024,
            Engine::Postgres => 8 * 1024,
        }
    }
}

/// A JSON array of lowercase hex strings, for [`Engine::hex_rows`].
pub(crate) fn hex_array<'a>(items: impl Iterator<Item = &'a [u8]> + Clone) -> String {
    let length: usize = items.clone().map(|item| 2 * item.len() + 3).sum();
    let mut json = Vec::with_capacity(length + 2);
    json.push(b'[');
    let mut digits = Vec::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            json.push(b',');
        }
        digits.resize(2 * item.len(), 0);
        // Cannot fail: `digits` is exactly twice as long as `item`.
        let _ = hex::encode_to_slice(item, &mut digits);
        json.push(b'"');
        json.extend_from_slice(&digits);
        json.push(b'"');
    }
    json.push(b']');
    // Only ASCII was written.
    String::from_utf8(json).unwrap_or_default()
}

/// A JSON array of integers, for [`Engine::int_rows`].
pub(crate) fn int_array(items: &[i64]) -> String {
    let parts: Vec<String> = items.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(","))
}

#[cfg(test)]
impl Db {
    /// Caps the SQLite writer connection's database at its size plus `spare` pages, as a full
    /// disk would (`PRAGMA max_page_count`, per connection).
    pub(crate) async fn limit_pages_for_test(&self, spare: i64) -> Result<(), sqlx::Error> {
        let Db::Sqlite { writer, .. } = self else {
            panic!("only SQLite has a page limit");
        };
        let mut writer = writer.lend().await?;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(writer.connection())
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "PRAGMA max_page_count = {}",
            pages + spare
        )))
        .execute(writer.connection())
        .await?;
        Ok(())
    }

    /// Lifts the limit [`limit_pages_for_test`](Self::limit_pages_for_test) set, as freeing
    /// space on a full disk would.
    pub(crate) async fn free_pages_for_test(&self) -> Result<(), sqlx::Error> {
        let Db::Sqlite { writer, .. } = self else {
            panic!("only SQLite has a page limit");
        };
        let mut writer = writer.lend().await?;
        sqlx::query("PRAGMA max_page_count = 4294967294")
            .execute(writer.connection())
            .await?;
        Ok(())
    }
}
