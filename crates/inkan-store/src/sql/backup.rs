//! [`BackupStore`] in SQL, for both engines: every table read in one read transaction that sees
//! one snapshot ([`Db::begin_read`](crate::engine::Db::begin_read): SQLite's deferred
//! transaction, PostgreSQL's `REPEATABLE READ READ ONLY`), written back in one write transaction.
//! Values are read and bound by their column's type as the engine reports it ([`Tx::columns`]:
//! SQLite's `STRICT` `INTEGER`, `TEXT`, `BLOB`; PostgreSQL's `BIGINT`, `INTEGER`, `TEXT`,
//! `BYTEA`, `BOOLEAN`), NULLs included.
//!
//! A restore takes the restore lock ([`Lock::Restore`]: on PostgreSQL the keys, the accounts and
//! the log locked against writers; on SQLite the write transaction holds the database already),
//! checks the store is empty, keeps the backup's ids in identity columns
//! ([`Engine::keeping_identity`](crate::engine::Engine::keeping_identity)) and makes the
//! identities continue after them ([`Tx::continue_identities`]). A refusal returns before
//! `commit`: nothing changes.
//!
//! Must never: put a name into SQL that is not a table of [`TABLES`] or a column name checked to
//! be `[a-z0-9_]+` (`check_names` for a backup's, the same check for the catalogue's), restore
//! into a store that holds anything, or branch on the engine (a difference is a hook in
//! `store::engine`).

use super::SqlStore;
use crate::StoreError;
use crate::auth_rows::Columns;
use crate::backup::{
    BackupStore, Cell, IS_EMPTY_SQL, Row, TABLES, TableRows, check_names, insert_sql,
};
use crate::engine::{ColumnType, Engine, Lock, Param, Sql, Tx};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::collections::HashMap;

#[async_trait::async_trait]
impl BackupStore for SqlStore {
    async fn snapshot(&self) -> Result<Vec<TableRows>, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let columns = tx.columns(table).await?;
            let rows = Sql::assembled(select_sql(table, &columns)?)
                .fetch_all(&mut tx)
                .await?;
            let mut decoded = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut cells = Row::new();
                for (column, kind) in &columns {
                    cells.insert(column.clone(), cell(table, row, column, kind)?);
                }
                decoded.push(cells);
            }
            out.push(TableRows {
                table: (*table).to_owned(),
                rows: decoded,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let row = Sql::new(IS_EMPTY_SQL)
            .fetch_one(&mut self.db.read().await?)
            .await?;
        Ok(row.int("n")? == 0)
    }

    async fn restore(&self, tables: &[TableRows]) -> Result<(), StoreError> {
        check_names(tables)?;
        let mut tx = self.db.begin_write().await?;
        // One restore at a time, and never beside a writer of the log.
        tx.lock(Lock::Restore).await?;
        let n = Sql::new(IS_EMPTY_SQL).fetch_one(&mut tx).await?.int("n")?;
        if n != 0 {
            return Err(StoreError::Conflict(
                "the store is not empty: a restore does not merge".into(),
            ));
        }
        // An empty store still holds what migrations seed (the log's head at size 0): cleared,
        // children first, then replaced by the backup's.
        for table in TABLES.iter().rev() {
            Sql::assembled(format!("DELETE FROM {table}"))
                .execute(&mut tx)
                .await?;
        }
        for t in tables {
            restore_table(&mut tx, self.db.engine(), t).await?;
        }
        // Identity sequences continue after the restored values.
        tx.continue_identities(TABLES).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Writes the rows of `t` (its table and column names checked by `check_names`), each value
/// bound with its column's type.
async fn restore_table(tx: &mut Tx, engine: Engine, t: &TableRows) -> Result<(), StoreError> {
    let types: HashMap<String, ColumnType> = tx.columns(&t.table).await?.into_iter().collect();
    for row in &t.rows {
        let mut values = Vec::with_capacity(row.len());
        for (column, cell) in row {
            let kind = types.get(column).ok_or_else(|| {
                StoreError::Conflict(format!("{} has no column {column}", t.table))
            })?;
            values.push(value(&t.table, column, kind, cell)?);
        }
        let columns: Vec<&String> = row.keys().collect();
        // Identity columns keep the backup's values.
        let mut insert =
            Sql::assembled(
                engine.keeping_identity(insert_sql(&t.table, &columns, |i| format!("${i}"))),
            );
        for value in &values {
            insert = insert.bind(value.param());
        }
        insert.execute(&mut *tx).await.map_err(|e| match &e {
            sqlx::Error::Database(db) => {
                StoreError::Conflict(format!("restoring {}: {}", t.table, db.message()))
            }
            _ => StoreError::Database(e),
        })?;
    }
    Ok(())
}

/// The `SELECT` of every column of `table`, each as [`cell`] reads it on both engines: a
/// PostgreSQL `INTEGER` widened to `BIGINT`, a boolean as 1 or 0 (NULL stays NULL). A column of
/// another type, or whose name is not `[a-z0-9_]+`, is [`StoreError::Corrupt`].
fn select_sql(table: &str, columns: &[(String, ColumnType)]) -> Result<String, StoreError> {
    if columns.is_empty() {
        return Err(StoreError::Corrupt(format!("table {table} is missing")));
    }
    let mut list = Vec::with_capacity(columns.len());
    for (column, kind) in columns {
        if !plain_name(column) {
            return Err(StoreError::Corrupt(format!(
                "{table}: a column named {column:?}"
            )));
        }
        list.push(match kind {
            ColumnType::Int | ColumnType::Text | ColumnType::Bytes => column.clone(),
            ColumnType::Int32 => format!("CAST({column} AS BIGINT) AS {column}"),
            ColumnType::Flag => format!(
                "CAST(CASE WHEN {column} THEN 1 WHEN NOT {column} THEN 0 END AS BIGINT) \
                 AS {column}"
            ),
            ColumnType::Other(other) => {
                return Err(StoreError::Corrupt(format!(
                    "{table}.{column}: a {other} column"
                )));
            }
        });
    }
    Ok(format!("SELECT {} FROM {table}", list.join(", ")))
}

/// Whether a column name from the catalogue may go into SQL: `[a-z0-9_]+`, as `check_names`
/// asks of a backup's.
fn plain_name(column: &str) -> bool {
    !column.is_empty()
        && column
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The value of `column` (of type `kind`) in a row read by [`select_sql`]'s statement.
fn cell(
    table: &str,
    row: &impl Columns,
    column: &str,
    kind: &ColumnType,
) -> Result<Cell, StoreError> {
    Ok(match kind {
        ColumnType::Int | ColumnType::Int32 => row.int_opt(column)?.map_or(Cell::Null, Cell::Int),
        ColumnType::Text => row.text_opt(column)?.map_or(Cell::Null, Cell::Text),
        ColumnType::Bytes => row
            .bytes_opt(column)?
            .map_or(Cell::Null, |bytes| Cell::Bytes(B64.encode(bytes))),
        ColumnType::Flag => row
            .int_opt(column)?
            .map_or(Cell::Null, |flag| Cell::Bool(flag != 0)),
        ColumnType::Other(other) => {
            return Err(StoreError::Corrupt(format!(
                "{table}.{column}: a {other} column"
            )));
        }
    })
}

/// A backup's value, checked against its column's type, to bind.
enum Value<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Bytes(Option<Vec<u8>>),
    Flag(bool),
}

impl Value<'_> {
    fn param(&self) -> Param<'_> {
        match self {
            Value::Int(v) => Param::Int(*v),
            Value::Text(v) => Param::Text(*v),
            Value::Bytes(v) => Param::Bytes(v.as_deref()),
            Value::Flag(v) => Param::Flag(*v),
        }
    }
}

/// `cell`, to be written into `table.column` of type `kind`: [`StoreError::Conflict`] if it is
/// not of that type. A boolean goes into an integer column as 1 or 0 (SQLite keeps booleans in
/// `INTEGER` columns, so a backup of PostgreSQL restores into SQLite).
fn value<'a>(
    table: &str,
    column: &str,
    kind: &ColumnType,
    cell: &'a Cell,
) -> Result<Value<'a>, StoreError> {
    let bad = || StoreError::Conflict(format!("{table}.{column}: not a {}", kind.name()));
    Ok(match (kind, cell) {
        (ColumnType::Int | ColumnType::Int32, Cell::Null) => Value::Int(None),
        (ColumnType::Text, Cell::Null) => Value::Text(None),
        (ColumnType::Bytes, Cell::Null) => Value::Bytes(None),
        (ColumnType::Int, Cell::Int(v)) => Value::Int(Some(*v)),
        (ColumnType::Int32, Cell::Int(v)) => {
            i32::try_from(*v).map_err(|_| bad())?;
            Value::Int(Some(*v))
        }
        (ColumnType::Text, Cell::Text(v)) => Value::Text(Some(v.as_str())),
        (ColumnType::Bytes, Cell::Bytes(v)) => {
            Value::Bytes(Some(B64.decode(v).map_err(|_| bad())?))
        }
        (ColumnType::Flag, Cell::Bool(v)) => Value::Flag(*v),
        (ColumnType::Int, Cell::Bool(v)) => Value::Int(Some(i64::from(*v))),
        _ => return Err(bad()),
    })
}
