//! [`StatusStore`] in SQL, for both engines: keys' status sources and their last checks
//! (`migrations/*/0006_status.sql`).
//!
//! Several nodes (PostgreSQL) or processes (SQLite) share the database. Setting a source and
//! recording a check are each one upsert statement (`INSERT … ON CONFLICT (key_id) DO UPDATE`),
//! atomic on its own: concurrent writers of one key queue on its row (PostgreSQL) or on the
//! database's write lock (SQLite, the one writer connection of this process), and the last one's
//! record stands, whole. A refused statement changes nothing.
//!
//! Must never: build SQL from values (all values are bound), or decode rows or map constraint
//! errors itself (that is `store/status_rows.rs`).

use super::SqlStore;
use crate::StoreError;
use crate::engine::Sql;
use crate::status::{KeyStatusRecord, StatusSourceRecord, StatusStore};
use crate::status_rows::{self as rows, key_status_columns, status_source_columns};

#[async_trait::async_trait]
impl StatusStore for SqlStore {
    async fn set_status_source(&self, source: &StatusSourceRecord) -> Result<(), StoreError> {
        let index = rows::source_index(source)?;
        Sql::new(concat!(
            "INSERT INTO key_status_sources (",
            status_source_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (key_id) DO UPDATE SET kind = excluded.kind, url = excluded.url, \
             idx = excluded.idx, purpose = excluded.purpose, set_at = excluded.set_at, \
             set_by = excluded.set_by"
        ))
        .bind(source.key_id.as_str())
        .bind(source.kind.as_str())
        .bind(source.url.as_deref())
        .bind(index)
        .bind(source.purpose.as_deref())
        .bind(source.set_at)
        .bind(source.set_by.as_str())
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| rows::write_error("status source", &source.key_id, e))?;
        Ok(())
    }

    async fn get_status_source(
        &self,
        key_id: &str,
    ) -> Result<Option<StatusSourceRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            status_source_columns!(),
            " FROM key_status_sources WHERE key_id = $1"
        ))
        .bind(key_id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(rows::status_source).transpose()
    }

    async fn active_status_sources(&self) -> Result<Vec<StatusSourceRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            status_source_columns!(),
            " FROM key_status_sources JOIN keys ON keys.id = key_status_sources.key_id \
             WHERE keys.state = 'active' ORDER BY keys.created_at, keys.id"
        ))
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::status_source).collect()
    }

    async fn record_key_status(&self, status: &KeyStatusRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO key_statuses (",
            key_status_columns!(),
            ") VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key_id) DO UPDATE SET status = excluded.status, \
             checked_at = excluded.checked_at, evidence = excluded.evidence"
        ))
        .bind(status.key_id.as_str())
        .bind(status.status.as_str())
        .bind(status.checked_at)
        .bind(status.evidence.as_deref())
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| rows::write_error("status", &status.key_id, e))?;
        Ok(())
    }

    async fn get_key_status(&self, key_id: &str) -> Result<Option<KeyStatusRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            key_status_columns!(),
            " FROM key_statuses WHERE key_id = $1"
        ))
        .bind(key_id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(rows::key_status).transpose()
    }
}
