//! Issuer identifiers bound to keys (criteria 2.2.3(1)A, 2.2.3(2)B-1): the `did:web` or
//! `https` identifiers operators bound to a key under dual control (`issuer.bind`), so that
//! credentials signed with the key may name them as their issuer.
//!
//! Records only: which identifiers are acceptable, and who may bind them, is
//! `signing::issuer` and `operations::actions`. Owns the decoding of a row, shared by both
//! engines. Must never: bind without the approval request that authorised it, or bind one
//! identifier to the keys of two owners.

use super::StoreError;
use super::auth_rows::Columns;
use crate::UnixMillis;

/// One identifier bound to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerBindingRecord {
    /// The key.
    pub key_id: String,
    /// The issuer identifier (`did:web:…` or `https://…`).
    pub identifier: String,
    /// The approval request (`apr_…`) that authorised the binding.
    pub approval: String,
    /// When it was bound.
    pub bound_at: UnixMillis,
    /// The operator who carried it out (the last approver).
    pub bound_by: String,
}

/// The issuer bindings.
#[async_trait::async_trait]
pub trait IssuerStore: Send + Sync {
    /// Binds an identifier to a key. [`StoreError::Conflict`] if it is bound to this key
    /// already, or to a key of another owner (checked and written in one transaction, so two
    /// organisations binding one identifier at once cannot both succeed);
    /// [`StoreError::NotFound`] if there is no such key.
    async fn bind_issuer(&self, binding: &IssuerBindingRecord) -> Result<(), StoreError>;

    /// The identifiers bound to `key_id`, oldest first.
    async fn issuer_bindings(&self, key_id: &str) -> Result<Vec<IssuerBindingRecord>, StoreError>;

    /// The keys `identifier` is bound to, oldest first.
    async fn issuer_bound_keys(
        &self,
        identifier: &str,
    ) -> Result<Vec<IssuerBindingRecord>, StoreError>;
}

/// The columns, in the order [`binding`] reads them.
macro_rules! issuer_binding_columns {
    () => {
        "key_id, identifier, approval, bound_at, bound_by"
    };
}

pub(crate) use issuer_binding_columns;

/// Decodes a row of `issuer_bindings`.
pub(crate) fn binding(row: &impl Columns) -> Result<IssuerBindingRecord, StoreError> {
    Ok(IssuerBindingRecord {
        key_id: row.text("key_id")?,
        identifier: row.text("identifier")?,
        approval: row.text("approval")?,
        bound_at: row.int("bound_at")?,
        bound_by: row.text("bound_by")?,
    })
}

/// A refused write: a foreign key means there is no such key; the primary key, a duplicate.
pub(crate) fn write_error(binding: &IssuerBindingRecord, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("key {}", binding.key_id))
        }
        sqlx::Error::Database(db) if db.is_check_violation() || db.is_unique_violation() => {
            StoreError::Conflict(format!(
                "issuer {} bound to key {}: {}",
                binding.identifier,
                binding.key_id,
                db.message()
            ))
        }
        _ => StoreError::Database(error),
    }
}
