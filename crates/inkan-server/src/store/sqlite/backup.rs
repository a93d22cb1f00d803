//! The SQLite spelling of [`BackupStore`]: every table read in one read transaction, written
//! back in one `BEGIN IMMEDIATE` transaction. Values are read by their storage class (STRICT
//! tables: INTEGER, TEXT, BLOB) and bound as such.

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::backup::{
    BackupStore, Cell, IS_EMPTY_SQL, Row, TABLES, TableRows, check_names, insert_sql,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sqlx::{AssertSqlSafe, Column as _, Row as _, TypeInfo as _, ValueRef as _};

#[async_trait::async_trait]
impl BackupStore for SqliteStore {
    async fn snapshot(&self) -> Result<Vec<TableRows>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let rows = sqlx::query(AssertSqlSafe(format!("SELECT * FROM {table}")))
                .fetch_all(&mut *tx)
                .await?;
            let mut decoded = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut cells = Row::new();
                for (i, column) in row.columns().iter().enumerate() {
                    let raw = row.try_get_raw(i)?;
                    let cell = if raw.is_null() {
                        Cell::Null
                    } else {
                        match raw.type_info().name() {
                            "INTEGER" => Cell::Int(row.try_get(i)?),
                            "TEXT" => Cell::Text(row.try_get(i)?),
                            "BLOB" => Cell::Bytes(B64.encode(row.try_get::<Vec<u8>, _>(i)?)),
                            other => {
                                return Err(StoreError::Corrupt(format!(
                                    "{table}.{}: a {other} value",
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
        let mut tx = self.begin_write().await?;
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
            for row in &t.rows {
                let columns: Vec<&String> = row.keys().collect();
                let sql = insert_sql(&t.table, &columns, |i| format!("?{i}"));
                let mut query = sqlx::query(AssertSqlSafe(sql));
                for cell in row.values() {
                    query = match cell {
                        Cell::Null => query.bind(None::<i64>),
                        Cell::Int(v) => query.bind(*v),
                        Cell::Text(v) => query.bind(v.as_str()),
                        Cell::Bytes(v) => query.bind(B64.decode(v).map_err(|_| {
                            StoreError::Conflict(format!("{}: bytes that are not base64", t.table))
                        })?),
                        Cell::Bool(v) => query.bind(i64::from(*v)),
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
        tx.commit().await?;
        Ok(())
    }
}
