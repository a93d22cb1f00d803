//! The store: everything Inkan remembers, behind one narrow trait.
//!
//! One [`Store`] trait and one implementation, [`SqlStore`] (`src/sql/`), whose SQL is written
//! once and runs on both engines through `src/engine/`: SQLite (the embedded default) and
//! PostgreSQL (production and several nodes). Both engines pass the same conformance suites
//! (`tests/*store_conformance.rs`). Business code sees only the trait; [`SqlStore::connect`] is
//! the one place that looks at the URL scheme. Every change that must not half-happen is one
//! transaction.
//!
//! The store holds the key registry (criteria 2.1.1(7), 2.1.3(16)), the transparency log's
//! entries, stored hashes and checkpoints ([`log`]; criteria 2.2.3(2), 2.2.3(3)C), and the
//! authentication records ([`auth`]; criteria 2.2.1): subscribers, accounts and their
//! activation, sessions and tokens, system clients, the replay cache of one-time proof ids and
//! the keys' signing PINs. [`Store`] includes [`AuthStore`]; both engines pass
//! `tests/auth_store_conformance.rs` too. It also holds the signing records ([`signing`];
//! criteria 2.2.3): signature activation data, used up once across every node, and the index of
//! the signatures made, by digest. [`Store`] includes [`SigningStore`]; both engines pass
//! `tests/signing_store_conformance.rs`. And it holds what happens to signed documents after
//! signing ([`delivery`]; criteria 2.2.3(3)A, B): delivery destinations, the outbox of
//! deliveries, and documents kept under the retention policy. [`Store`] includes
//! [`DeliveryStore`]; both engines pass `tests/delivery_store_conformance.rs`. And it holds
//! keys' status ([`status`]; criteria 2.2.3(1)B, 2.2.2(3)B): where each key's status is
//! published and what the last check found, with its evidence. [`Store`] includes
//! [`StatusStore`]; both engines pass `tests/status_store_conformance.rs`. And the issuer
//! identifiers bound to keys ([`issuers`]; criteria 2.2.3(1)A): [`Store`] includes
//! [`issuers::IssuerStore`]; both engines pass `tests/issuer_store_conformance.rs`.
//!
//! The store knows nothing of the service: what its records carry from it, the deployment's
//! [`Environment`] and times as [`UnixMillis`], is defined here, and `inkan-server` re-exports
//! both (`inkan_server::environment`, `inkan_server::clock`).

pub mod auth;
mod auth_rows;
pub mod backup;
pub mod delivery;
mod delivery_rows;
mod engine;
mod environment;
pub mod identity_links;
pub mod issuers;
mod keys;
pub mod log;
mod migrate;
pub mod oauth;
pub mod operations;
mod operations_rows;
pub mod passkeys;
pub mod signing;
mod signing_rows;
mod sql;
pub mod status;
pub mod status_lists;
mod status_rows;

pub use auth::{
    AccountRecord, AccountRole, AccountState, ActivationCodeRecord, Attempt, AuthStore,
    ClientAuthMethod, ClientRecord, KeyPinRecord, Rotation, SessionRecord, SubscriberKind,
    SubscriberRecord, SubscriberState, TokenKind, TokenRecord,
};
pub use delivery::{
    AttemptFailure, DeliveryRecord, DeliveryState, DeliveryStore, DestinationRecord, RetainedRecord,
};
pub use environment::Environment;
pub use keys::{KeyFilter, KeyId, KeyOrigin, KeyRecord, KeyState, StateChange};
pub use log::{Appended, BatchCommitted, CheckpointSigner, LogBatch, LogHead, StoredCheckpoint};
pub use signing::{SadRecord, SignatureRecord, SigningStore};
pub use sql::SqlStore;
pub use status::{
    KeyStatusRecord, KeyStatusValue, StatusSourceKind, StatusSourceRecord, StatusStore,
};
pub use status_lists::{
    ListFormat, SignedAs, StatusChange, StatusEntryRecord, StatusListRecord, StatusListStore,
    StatusListVersion, StatusSnapshot,
};

use inkan_log::Hash;
use std::sync::Arc;

/// Milliseconds since the Unix epoch: every time the store records.
pub type UnixMillis = i64;

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

impl StoreError {
    /// Whether the database could not be reached or could not write, rather than refused
    /// this request: a connection lost or not made in time, the server shutting down or
    /// starting, a full disk, an I/O error. A caller may try again shortly (503, not 500).
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else {
            return false;
        };
        match e {
            // The connection broke, or broke off its start (`Protocol`: what came back was
            // not PostgreSQL's answer, as when a proxy or the server closes it at once).
            sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
                {
                    // SQLSTATEs: connection exceptions (08), insufficient resources (53: a
                    // full disk, too many connections), the server shutting down or starting
                    // (57P01-57P03), a read-only transaction (25006: a standby).
                    code.starts_with("08")
                        || code.starts_with("53")
                        || ["57P01", "57P02", "57P03", "25006"].contains(&code.as_ref())
                } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    // Result codes (an extended one keeps its primary in the low byte):
                    // SQLITE_READONLY (8), SQLITE_IOERR (10), SQLITE_FULL (13).
                    code.parse::<i64>()
                        .is_ok_and(|n| matches!(n & 0xff, 8 | 10 | 13))
                } else {
                    false
                }
            }
            _ => false,
        }
    }
}

/// One minute, in milliseconds: the length of a [`Store::take_from_window`] window.
pub const WINDOW_MILLIS: UnixMillis = 60_000;

/// What [`Store::take_from_window`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowTake {
    /// The units were taken.
    Taken,
    /// Nothing was taken: the window open now would go over its maximum. It ends at `ends_at`.
    Full {
        /// When the window ends (milliseconds).
        ends_at: UnixMillis,
    },
}

/// What Inkan remembers. Implementations are cheap to clone behind an `Arc` and safe to use
/// from many tasks at once.
#[async_trait::async_trait]
pub trait Store:
    auth::AuthStore
    + signing::SigningStore
    + delivery::DeliveryStore
    + status::StatusStore
    + status_lists::StatusListStore
    + operations::OperationsStore
    + issuers::IssuerStore
    + oauth::OAuthStore
    + passkeys::PasskeyStore
    + identity_links::IdentityLinkStore
    + backup::BackupStore
    + Send
    + Sync
    + std::fmt::Debug
{
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

    // -- The transparency log ([`log`]) ------------------------------------------------------

    /// Appends `entries` (opaque bytes, numbered in the order given) to the log in one
    /// transaction under the log's write lock: the entries, the new stored hashes and the new
    /// head are committed together or not at all, and the indexes are assigned inside the
    /// database, so several nodes appending at once take turns. Returns the first index and
    /// the head after the append. An empty `entries` writes nothing and returns the head.
    async fn append_log_entries(&self, entries: &[Vec<u8>]) -> Result<Appended, StoreError>;

    /// As [`append_log_entries`](Store::append_log_entries), in the same transaction writing the
    /// batch's signature index rows (their `log_index` set from their entry's position) and then
    /// reading the state and handle of the keys the batch names, and, if the batch asks for
    /// it and has entries, storing the checkpoint of the new tree signed by its
    /// [`CheckpointSigner`]. `Conflict` (nothing written) if a signature row's position is
    /// outside the batch.
    async fn append_log_batch(&self, batch: &LogBatch) -> Result<BatchCommitted, StoreError>;

    /// The size and root of the log as last committed.
    async fn log_head(&self) -> Result<LogHead, StoreError>;

    /// The cache epoch: moved by every change of a key, its certificates or its status source
    /// (by trigger, `migrations/*/0011_cache_epoch.sql`), never back. What a node keeps of
    /// those in memory is tagged with the epoch read before it, and a log batch reports the
    /// epoch as of its commit ([`BatchCommitted::epoch`]).
    async fn cache_epoch(&self) -> Result<u64, StoreError>;

    /// Writes and commits this node's row of `store_probes` (`at`): the proof, for readiness,
    /// that a write commits now. Fails as a signature's log entry would (a full disk, a
    /// database gone or read-only). Rows not written for a week (nodes gone, or earlier starts
    /// of this one) are deleted.
    async fn probe_write(&self, node: &str, at: UnixMillis) -> Result<(), StoreError>;

    /// The nodes whose store probe last committed at or after `since` (running nodes).
    async fn nodes_probed_since(&self, since: UnixMillis) -> Result<Vec<String>, StoreError>;

    /// Deletes `node`'s probe row: a node that stops is no longer counted as running.
    async fn forget_node(&self, node: &str) -> Result<(), StoreError>;

    /// Takes the lease `name` for `holder` until `until`, if nobody holds it at `now` or
    /// `holder` does: whether it did. Of several callers at once, one gets it. For work one node
    /// of several must do alone.
    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        until: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Gives the lease `name` back, if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// Takes `units` from `slot`'s one-minute window at `now`, if that leaves at most `max`
    /// taken in it; a window starts at the first take after the last one ended. Of any number of
    /// nodes taking at once, together they never take more than `max` from one window. Counts
    /// shared by every node: sign-in failures per source, a standing approval's rate.
    async fn take_from_window(
        &self,
        slot: &str,
        now: UnixMillis,
        units: u32,
        max: u32,
    ) -> Result<WindowTake, StoreError>;

    /// Gives one unit back to `slot`'s window, if the window that is open at `now` has one.
    async fn give_back_to_window(&self, slot: &str, now: UnixMillis) -> Result<(), StoreError>;

    /// Deletes the windows that ended before `before`; how many.
    async fn purge_windows(&self, before: UnixMillis) -> Result<u64, StoreError>;

    /// How many entries the log holds.
    async fn log_size(&self) -> Result<u64, StoreError> {
        Ok(self.log_head().await?.size)
    }

    /// Up to `limit` (at most [`log::MAX_ENTRIES_PAGE`]) entries from index `from` on, in index
    /// order: entry `i` of the result is log entry `from + i`. Fewer (or none) at the end of
    /// the log.
    async fn log_entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, StoreError>;

    /// The stored hashes at `indexes` (see `inkan_log::tree::stored_hash_index`), in the order
    /// asked; [`StoreError::NotFound`] if one is not stored.
    async fn log_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;

    /// Stores a signed checkpoint for tree size `size`. Fails with [`StoreError::Conflict`]
    /// if `size` exceeds the log's size or is not larger than the latest stored checkpoint's
    /// (one checkpoint per size; sizes never go back). The caller has checked that the note
    /// commits to the log's root at `size`.
    async fn insert_checkpoint(
        &self,
        size: u64,
        note: &str,
        at: UnixMillis,
    ) -> Result<(), StoreError>;

    /// The checkpoint of the largest size, if any.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Up to `limit` (at most [`log::MAX_CHECKPOINTS_PAGE`]) checkpoints of size `from_size` or
    /// more, smallest size first.
    async fn checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError>;
}

/// Opens the store at `url` (`sqlite://PATH` or `sqlite::memory:`, `postgres://…`), running
/// its migrations.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(SqlStore::connect(url).await?))
}
