//! [`IssuerStore`] in SQL, for both engines (`migrations/*/0010_issuer_bindings.sql`).
//!
//! A binding is one write transaction that first takes the identifier's lock (`Lock::Issuer`:
//! a PostgreSQL advisory lock, so that two bindings of one identifier at once, on any node, wait
//! for each other; on SQLite the write transaction holds the database's write lock already),
//! then checks that no key of another owner holds the identifier, then inserts. A refusal
//! returns before `commit` and rolls back on drop.
//!
//! Must never: build SQL from values, or decode rows itself (that is `store/issuers.rs`).

use super::SqlStore;
use crate::StoreError;
use crate::engine::{Lock, Sql};
use crate::issuers::{self, IssuerBindingRecord, IssuerStore, issuer_binding_columns};

#[async_trait::async_trait]
impl IssuerStore for SqlStore {
    async fn bind_issuer(&self, binding: &IssuerBindingRecord) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        // Two bindings of one identifier at once wait for each other (on PostgreSQL, READ
        // COMMITTED would let both pass the check below).
        tx.lock(Lock::Issuer(binding.identifier.as_str())).await?;
        let taken = Sql::new(
            "SELECT 1 FROM issuer_bindings b JOIN keys k ON k.id = b.key_id \
             WHERE b.identifier = $1 AND k.owner <> (SELECT owner FROM keys WHERE id = $2)",
        )
        .bind(binding.identifier.as_str())
        .bind(binding.key_id.as_str())
        .fetch_optional(&mut tx)
        .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "{} is bound to another subscriber's key",
                binding.identifier
            )));
        }
        Sql::new(concat!(
            "INSERT INTO issuer_bindings (",
            issuer_binding_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(binding.key_id.as_str())
        .bind(binding.identifier.as_str())
        .bind(binding.approval.as_str())
        .bind(binding.bound_at)
        .bind(binding.bound_by.as_str())
        .execute(&mut tx)
        .await
        .map_err(|e| issuers::write_error(binding, e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn issuer_bindings(&self, key_id: &str) -> Result<Vec<IssuerBindingRecord>, StoreError> {
        let rows = Sql::new(concat!(
            "SELECT ",
            issuer_binding_columns!(),
            " FROM issuer_bindings WHERE key_id = $1 \
             ORDER BY bound_at, identifier"
        ))
        .bind(key_id)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        rows.iter().map(issuers::binding).collect()
    }

    async fn issuer_bound_keys(
        &self,
        identifier: &str,
    ) -> Result<Vec<IssuerBindingRecord>, StoreError> {
        let rows = Sql::new(concat!(
            "SELECT ",
            issuer_binding_columns!(),
            " FROM issuer_bindings WHERE identifier = $1 \
             ORDER BY bound_at, key_id"
        ))
        .bind(identifier)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        rows.iter().map(issuers::binding).collect()
    }
}
