//! The postgres spelling of [`IssuerStore`] (`migrations/postgres/0010_issuer_bindings.sql`).
//! Must never: build SQL from values, or decode rows itself (that is `store/issuers.rs`).

use super::PostgresStore;
use crate::store::StoreError;
use crate::store::issuers::{self, IssuerBindingRecord, IssuerStore, issuer_binding_columns};

#[async_trait::async_trait]
impl IssuerStore for PostgresStore {
    async fn bind_issuer(&self, binding: &IssuerBindingRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Two bindings of one identifier at once wait for each other (READ COMMITTED would let
        // both pass the check below).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('inkan.issuer:' || $1))")
            .bind(binding.identifier.as_str())
            .execute(&mut *tx)
            .await?;
        let taken = sqlx::query(
            "SELECT 1 FROM issuer_bindings b JOIN keys k ON k.id = b.key_id \
             WHERE b.identifier = $1 AND k.owner <> (SELECT owner FROM keys WHERE id = $2)",
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
            ") VALUES ($1, $2, $3, $4, $5)"
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
            " FROM issuer_bindings WHERE key_id = $1 \
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
            " FROM issuer_bindings WHERE identifier = $1 \
             ORDER BY bound_at, key_id"
        ))
        .bind(identifier)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(issuers::binding).collect()
    }
}
