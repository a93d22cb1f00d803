//! What the store remembers of signed documents after signing (criteria 2.2.3(3)A, B): the
//! destinations operators register for subscribers, the outbox of deliveries to them, and the
//! documents kept under a retention policy.
//!
//! A delivery is a job in an outbox: `pending` until it is `delivered` or `failed` (given up).
//! Workers on every node take due jobs with [`DeliveryStore::claim_deliveries`], which leases
//! them atomically under a claim token of its own: of several concurrent claimers, on one node
//! or many, each job goes to one, and a lease that runs out (a node died mid-attempt) lets the
//! job be claimed again. Only the holder of the latest claim can record the attempt's outcome.
//! The document travels sealed (the caller seals it) and is dropped when the job ends: a
//! finished delivery keeps its digest, never its body. Retained documents are kept sealed until
//! their `purge_at`. Records only: the rules (who may register what, backoff, how long to keep)
//! are the `delivery` module's.

use super::StoreError;
use crate::UnixMillis;

/// A registered destination of a subscriber's signed documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationRecord {
    /// `dst_…`.
    pub id: String,
    /// The subscriber whose documents go there.
    pub subscriber: String,
    /// The `https://` URL documents are POSTed to.
    pub url: String,
    /// When it was registered.
    pub created_at: UnixMillis,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its next attempt (or being attempted, under a lease).
    Pending,
    /// The destination accepted it.
    Delivered,
    /// Given up after the last allowed attempt.
    Failed,
}

impl DeliveryState {
    /// The stored name: `pending`, `delivered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state with this stored name.
    pub fn parse(name: &str) -> Option<DeliveryState> {
        match name {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One delivery of a signed document to a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// `dlv_…`; also sent to the destination, which can ignore a repeat by it.
    pub id: String,
    /// The subscriber whose document it is.
    pub subscriber: String,
    /// The destination (of the same subscriber).
    pub destination_id: String,
    /// What the document is: `vc+jwt`, `dc+sd-jwt`, `ldp_vc`, …
    pub document_type: String,
    /// The document, sealed by the caller; `None` once the delivery has ended.
    pub document: Option<Vec<u8>>,
    /// The document's digest (`sha-256:<hex>`), kept after the document is dropped.
    pub document_digest: String,
    /// The index of the `signature.made` entry of the document's signature.
    pub log_index: u64,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts started so far (a claim starts one).
    pub attempts: u32,
    /// Why the last failed attempt failed.
    pub last_error: Option<String>,
    /// When it may be attempted (next).
    pub next_attempt_at: UnixMillis,
    /// The token of the latest claim, while one is held.
    pub claim: Option<String>,
    /// Until when the latest claim holds it.
    pub lease_until: Option<UnixMillis>,
    /// When it was queued.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
    /// When the destination accepted it.
    pub delivered_at: Option<UnixMillis>,
}

/// A signed document kept, sealed, under the retention policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedRecord {
    /// `doc_…`.
    pub id: String,
    /// The subscriber whose document it is.
    pub subscriber: String,
    /// The key that signed it.
    pub key_id: String,
    /// What the document is.
    pub document_type: String,
    /// The document, sealed by the caller.
    pub document: Vec<u8>,
    /// The index of the `signature.made` entry of its signature.
    pub log_index: u64,
    /// When it was kept.
    pub created_at: UnixMillis,
    /// From when it is purged (after `created_at`).
    pub purge_at: UnixMillis,
}

/// How an attempt that failed ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptFailure {
    /// Try again from this time (the job stays `pending`).
    RetryAt(UnixMillis),
    /// Give up: the job is `failed` and its document dropped.
    GiveUp,
}

/// Records of what happens to signed documents after signing. Part of [`super::Store`]; both
/// engines pass the same conformance suite (`tests/delivery_store_conformance.rs`).
#[async_trait::async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Registers a destination. `Conflict` on a duplicate id, a URL the subscriber has
    /// registered already, or an unknown subscriber.
    async fn insert_destination(&self, destination: &DestinationRecord) -> Result<(), StoreError>;

    /// The destination with this id.
    async fn get_destination(&self, id: &str) -> Result<Option<DestinationRecord>, StoreError>;

    /// A subscriber's destinations, oldest first (by `created_at`, then id); the oldest 100 at
    /// most.
    async fn list_destinations(
        &self,
        subscriber: &str,
    ) -> Result<Vec<DestinationRecord>, StoreError>;

    /// Queues a delivery. It must be new: `pending`, no attempt, no claim, not delivered, with
    /// a document; `Conflict` otherwise, and on a duplicate id, a destination that is unknown
    /// or another subscriber's, or a `log_index` above `i64::MAX`.
    async fn insert_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError>;

    /// The delivery with this id.
    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError>;

    /// How many deliveries are still `pending` (due or waiting for a retry): the backlog an
    /// operator watches.
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;

    /// Claims up to `limit` (at most 100) deliveries that are `pending`, due
    /// (`next_attempt_at <= now`) and not leased (no lease, or `lease_until <= now`), the
    /// earliest due first, atomically across nodes: each gets one more attempt, a new claim
    /// token (one per call) and `lease_until = now + lease_ms`. Of concurrent calls, each job
    /// goes to at most one. Returned as claimed, earliest due first.
    async fn claim_deliveries(
        &self,
        now: UnixMillis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// Records that the attempt under `claim` succeeded: `delivered` at `now`, document
    /// dropped, claim released. `NotFound` for an unknown id; `Conflict` (changing nothing)
    /// when the delivery is not `pending` or `claim` is not its latest claim.
    async fn complete_delivery(
        &self,
        id: &str,
        claim: &str,
        now: UnixMillis,
    ) -> Result<DeliveryRecord, StoreError>;

    /// Records that the attempt under `claim` failed with `error`: retried at the given time,
    /// or given up (`failed`, document dropped); the claim is released either way. Refusals as
    /// [`complete_delivery`](Self::complete_delivery).
    async fn fail_delivery_attempt(
        &self,
        id: &str,
        claim: &str,
        now: UnixMillis,
        error: &str,
        then: AttemptFailure,
    ) -> Result<DeliveryRecord, StoreError>;

    /// Keeps a document. `Conflict` on a duplicate id, an unknown subscriber or key, a
    /// `purge_at` not after `created_at`, or a `log_index` above `i64::MAX`.
    async fn insert_retained(&self, document: &RetainedRecord) -> Result<(), StoreError>;

    /// The kept document with this id, until it is purged (whatever its `purge_at`).
    async fn get_retained(&self, id: &str) -> Result<Option<RetainedRecord>, StoreError>;

    /// Deletes the kept documents due for purging (`purge_at <= now`). Returns how many.
    async fn purge_retained(&self, now: UnixMillis) -> Result<u64, StoreError>;
}
