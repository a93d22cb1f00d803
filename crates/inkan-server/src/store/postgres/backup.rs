//! The PostgreSQL spelling of [`BackupStore`]: every table read in one `REPEATABLE READ`
//! transaction (a consistent snapshot), written back in one transaction. Values are read by
//! their column type (BIGINT, INTEGER, TEXT, BYTEA, BOOLEAN) and bound with the target
//! column's type, NULLs included.

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::backup::{
    BackupStore, Cell, IS_EMPTY_SQL, Row, TABLES, TableRows, check_names, insert_sql,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sqlx::{AssertSqlSafe, Column as _, Row as _, TypeInfo as _, ValueRef as _};
use std::collections::HashMap;

#[async_trait::async_trait]
impl BackupStore for PostgresStore {
    async fn snapshot(&self) -> Result<Vec<TableRows>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let rows = sqlx::query(AssertSqlSafe(format!("SELECT * FROM {table}")))
                .fetch_all(&mut *tx)
                .await?;
            let mut decoded = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut cells = Row::new();
                for (i, column) in row.columns().iter().enumerate() {
                    let cell = if row.try_get_raw(i)?.is_null() {
                        Cell::Null
                    } else {
                        match column.type_info().name() {
                            "INT8" => Cell::Int(row.try_get(i)?),
                            "INT4" => Cell::Int(i64::from(row.try_get::<i32, _>(i)?)),
                            "TEXT" => Cell::Text(row.try_get(i)?),
                            "BYTEA" => Cell::Bytes(B64.encode(row.try_get::<Vec<u8>, _>(i)?)),
                            "BOOL" => Cell::Bool(row.try_get(i)?),
                            other => {
                                return Err(StoreError::Corrupt(format!(
                                    "{table}.{}: a {other} column",
                                    column.name()
                                )));
                            }
                        }
                    };
                    cells.insert(column.name().to_owned(), cell);
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
        let row = sqlx::query(IS_EMPTY_SQL).fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")? == 0)
    }

    async fn restore(&self, tables: &[TableRows]) -> Result<(), StoreError> {
        check_names(tables)?;
        let mut tx = self.pool.begin().await?;
        // One restore at a time, and never beside a writer of the log.
        sqlx::query("LOCK TABLE keys, accounts, log_entries IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let n: i64 = sqlx::query(IS_EMPTY_SQL)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if n != 0 {
            return Err(StoreError::Conflict(
                "the store is not empty: a restore does not merge".into(),
            ));
        }
        // An empty store still holds what migrations seed (the log's head at size 0): cleared,
        // children first, then replaced by the backup's.
        for table in TABLES.iter().rev() {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await?;
        }
        for t in tables {
            let types: HashMap<String, String> = sqlx::query(
                "SELECT column_name::TEXT AS name, udt_name::TEXT AS type \
                 FROM information_schema.columns \
                 WHERE table_name = $1 AND table_schema = current_schema()",
            )
            .bind(t.table.as_str())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("type")?)))
            .collect::<Result<_, sqlx::Error>>()?;
            for row in &t.rows {
                let columns: Vec<&String> = row.keys().collect();
                // Identity columns keep the backup's values.
                let sql = insert_sql(&t.table, &columns, |i| format!("${i}")).replacen(
                    ") VALUES (",
                    ") OVERRIDING SYSTEM VALUE VALUES (",
                    1,
                );
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for (column, cell) in row {
                    let kind = types.get(column).map(String::as_str).ok_or_else(|| {
                        StoreError::Conflict(format!("{} has no column {column}", t.table))
                    })?;
                    let bad =
                        || StoreError::Conflict(format!("{}.{column}: not a {kind}", t.table));
                    query = match (kind, cell) {
                        ("int8", Cell::Null) => query.bind(None::<i64>),
                        ("int4", Cell::Null) => query.bind(None::<i32>),
                        ("text", Cell::Null) => query.bind(None::<String>),
                        ("bytea", Cell::Null) => query.bind(None::<Vec<u8>>),
                        ("bool", Cell::Null) => query.bind(None::<bool>),
                        ("int8", Cell::Int(v)) => query.bind(*v),
                        ("int4", Cell::Int(v)) => query.bind(i32::try_from(*v).map_err(|_| bad())?),
                        ("text", Cell::Text(v)) => query.bind(v.as_str()),
                        ("bytea", Cell::Bytes(v)) => query.bind(B64.decode(v).map_err(|_| bad())?),
                        ("bool", Cell::Bool(v)) => query.bind(*v),
                        _ => return Err(bad()),
                    };
                }
                query.execute(&mut *tx).await.map_err(|e| match &e {
                    sqlx::Error::Database(db) => {
                        StoreError::Conflict(format!("restoring {}: {}", t.table, db.message()))
                    }
                    _ => StoreError::Database(e),
                })?;
            }
        }
        // Identity sequences continue after the restored values.
        let identities = sqlx::query(
            "SELECT table_name::TEXT AS t, column_name::TEXT AS c FROM information_schema.columns \
             WHERE is_identity = 'YES' AND table_schema = current_schema()",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in &identities {
            let (table, column): (String, String) = (row.try_get("t")?, row.try_get("c")?);
            if !TABLES.contains(&table.as_str())
                || !column.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                continue;
            }
            sqlx::query(AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
                 COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table}"
            )))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
