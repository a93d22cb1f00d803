//! The sqlite spelling of [`IssuerStore`] (`migrations/sqlite/0010_issuer_bindings.sql`).
//! Must never: build SQL from values, or decode rows itself (that is `store/issuers.rs`).

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::issuers::{self, IssuerBindingRecord, IssuerStore, issuer_binding_columns};

#[async_trait::async_trait]
impl IssuerStore for SqliteStore {
    async fn bind_issuer(&self, binding: &IssuerBindingRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(
            "SELECT 1 FROM issuer_bindings b JOIN keys k ON k.id = b.key_id \
             WHERE b.identifier = ? AND k.owner <> (SELECT owner FROM keys WHERE id = ?)",
        )
        .bind(binding.identifier.as_str())
        .bind(binding.key_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "{} is bound to another subscriber's key",
                binding.identifier
            )));
        }
        sqlx::query(concat!(
            "INSERT INTO issuer_bindings (",
            issuer_binding_columns!(),
            ") VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(binding.key_id.as_str())
        .bind(binding.identifier.as_str())
        .bind(binding.approval.as_str())
        .bind(binding.bound_at)
        .bind(binding.bound_by.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| issuers::write_error(binding, e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn issuer_bindings(&self, key_id: &str) -> Result<Vec<IssuerBindingRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            issuer_binding_columns!(),
            " FROM issuer_bindings WHERE key_id = ? \
             ORDER BY bound_at, identifier"
        ))
        .bind(key_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(issuers::binding).collect()
    }

    async fn issuer_bound_keys(
        &self,
        identifier: &str,
    ) -> Result<Vec<IssuerBindingRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            issuer_binding_columns!(),
            " FROM issuer_bindings WHERE identifier = ? \
             ORDER BY bound_at, key_id"
        ))
        .bind(identifier)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(issuers::binding).collect()
    }
}
