//! The store: everything Inkan remembers, behind one narrow trait.
//!
//! One [`Store`] trait, one implementation per engine: [`sqlite`] (the embedded default) and
//! [`postgres`] (production and several nodes). Both pass the same conformance suite
//! (`tests/store_conformance.rs`). Business code sees only the trait; [`connect`] is the one
//! place that looks at the URL scheme. Every change that must not half-happen is one
//! transaction inside an implementation.
//!
//! For now the store holds the key registry (criteria 2.1.1(7), 2.1.3(16)); later issues add
//! subscribers, sessions and the log.

mod keys;
mod migrate;
pub mod postgres;
pub mod sqlite;

pub use keys::{KeyFilter, KeyId, KeyOrigin, KeyRecord, KeyState, StateChange};

use crate::clock::UnixMillis;
use std::sync::Arc;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record.
    #[error("not found: {0}")]
    NotFound(String),
    /// The change conflicts with the current state (duplicate id, a transition not allowed
    /// from the state the record is in).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored value could not be decoded (the database holds something this version does
    /// not understand).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The store URL or options are wrong.
    #[error("store configuration: {0}")]
    Config(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// What Inkan remembers. Implementations are cheap to clone behind an `Arc` and safe to use
/// from many tasks at once.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The engine's name, for logs: `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// Adds a key to the registry. Fails with [`StoreError::Conflict`] if the id, or the
    /// device handle on the same device, is already registered.
    async fn insert_key(&self, key: &KeyRecord) -> Result<(), StoreError>;

    /// The key with this id, whatever its state.
    async fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;

    /// Keys matching `filter`, oldest first.
    async fn list_keys(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError>;

    /// Attaches a certificate chain (DER, leaf first) to an `active` key. The caller has
    /// checked that the leaf certifies the key.
    async fn set_certificate_chain(
        &self,
        id: &KeyId,
        chain: &[Vec<u8>],
        at: UnixMillis,
    ) -> Result<KeyRecord, StoreError>;

    /// Moves a key from one of `change.from` to `change.to`, recording the reason and time,
    /// atomically: fails with [`StoreError::Conflict`] when the key is in another state.
    async fn change_key_state(
        &self,
        id: &KeyId,
        change: &StateChange,
    ) -> Result<KeyRecord, StoreError>;
}

/// Opens the store at `url` (`sqlite://PATH` or `sqlite::memory:`, `postgres://…`), running
/// its migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::Config(
            "the store URL must start with sqlite: or postgres://".into(),
        ))
    }
}
