//! What happens to a signed VC or VP after signing (criteria 2.2.3(3)A, B).
//!
//! - [`outbox`]: [`Delivery`], sending a signed document to a destination an operator registered
//!   for its subscriber: the job is stored durably (the document sealed), and a worker on every
//!   node claims due jobs atomically (a lease, so two nodes never attempt one job at once), POSTs
//!   them over HTTPS, retries with exponential backoff up to `[delivery] max_attempts`, and
//!   appends each final outcome (delivered, given up) to the transparency log as
//!   `document.delivered`. Every attempt is counted in the store and logged (tracing).
//! - [`retention`]: [`Retention`], the retention policy: by default (`[signing] retention_days =
//!   0`) signed documents are not kept, only their digests in the log; otherwise each is kept
//!   sealed (AES-256-GCM under the secrets key) for that many days, readable by its subscriber,
//!   then purged by housekeeping.
//! - [`PostSigning`]: the one call the issuance and presentation handlers make after a
//!   signature, [`PostSigning::after_signing`]: retention if configured, delivery if asked.
//!
//! Must never: keep a document in the clear, keep one when retention is off, hand a document to
//! anyone but its subscriber's users and clients or its subscriber's registered destinations,
//! follow a redirect or speak plain HTTP, or put a document body in the transparency log (its
//! digest only).

pub mod outbox;
pub mod retention;
pub mod signature;

pub use outbox::{Delivery, Worker};
pub use retention::{RetainedDocument, Retention};

use crate::auth::{Caller, CallerKind};
use crate::log::LogError;
use inkan_log::entry::{Entry, EntryKind, Outcome};
use inkan_store::{KeyId, Store, StoreError};
use serde_json::Value;
use std::sync::Arc;

/// The longest document type name (`vc+jwt`, `dc+sd-jwt`, `ldp_vp`, …).
const MAX_DOCUMENT_TYPE: usize = 100;

/// Why a delivery or retention request was refused, or failed inside.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The request is malformed or breaks a rule (400).
    #[error("{0}")]
    BadRequest(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or not the caller's to see (404).
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with what is stored (409).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The transparency log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Something else inside failed (sealing, the HTTP client's set-up).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => DeliveryError::Conflict(m),
            other => DeliveryError::Store(other),
        }
    }
}

/// What [`PostSigning::after_signing`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AfterSigning {
    /// The queued delivery (`dlv_…`), when a destination was given.
    pub delivery_id: Option<String>,
    /// The kept document (`doc_…`), when retention is on.
    pub retained_id: Option<String>,
}

/// Retention and delivery of signed documents, for the handlers that sign.
#[derive(Debug)]
pub struct PostSigning {
    /// Delivery to registered destinations.
    pub delivery: Arc<Delivery>,
    /// The retention policy.
    pub retention: Arc<Retention>,
    store: Arc<dyn Store>,
}

impl PostSigning {
    /// The service over `store`, with its delivery and retention parts.
    pub fn new(store: Arc<dyn Store>, delivery: Arc<Delivery>, retention: Arc<Retention>) -> Self {
        PostSigning {
            delivery,
            retention,
            store,
        }
    }

    /// Hands over a document just signed: keeps it if retention is on and queues its delivery
    /// to `deliver_to` (a destination id of `subscriber`) if given.
    ///
    /// `caller` must act for `subscriber`; `log_index` must be the `signature.made` entry of the
    /// document's signature, made with a key of `subscriber` (its key is what the kept record
    /// names). With retention off and no destination, nothing is checked or stored. Refused
    /// (nothing kept, nothing queued): another subscriber's caller (`Forbidden`), an unknown
    /// destination or another subscriber's (`NotFound`), a bad document type or log index
    /// (`BadRequest`).
    pub async fn after_signing(
        &self,
        caller: &Caller,
        subscriber: &str,
        document_type: &str,
        document: &Value,
        log_index: u64,
        deliver_to: Option<&str>,
    ) -> Result<AfterSigning, DeliveryError> {
        if caller.kind == CallerKind::Operator || caller.subscriber.as_deref() != Some(subscriber) {
            return Err(DeliveryError::Forbidden(
                "only the subscriber's users and clients can hand over its signed documents".into(),
            ));
        }
        if !self.retention.enabled() && deliver_to.is_none() {
            return Ok(AfterSigning::default());
        }
        check_document_type(document_type)?;
        if document_type.starts_with("inkan.") {
            // Reserved for the service's own notices (`inkan.key.destroyed`).
            return Err(DeliveryError::BadRequest(
                "document types starting with `inkan.` are the service's own".into(),
            ));
        }
        let key_id = self.signature_key(subscriber, log_index).await?;
        if let Some(destination) = deliver_to {
            self.delivery
                .destination_of(subscriber, destination)
                .await?;
        }
        let retained_id = self
            .retention
            .keep(subscriber, &key_id, document_type, document, log_index)
            .await?;
        let delivery_id = match deliver_to {
            Some(destination) => Some(
                self.delivery
                    .enqueue(subscriber, destination, document_type, document, log_index)
                    .await?,
            ),
            None => None,
        };
        Ok(AfterSigning {
            delivery_id,
            retained_id,
        })
    }

    /// The key of the signature recorded at `log_index`, if that entry is a signature made with
    /// a key of `subscriber`.
    async fn signature_key(
        &self,
        subscriber: &str,
        log_index: u64,
    ) -> Result<String, DeliveryError> {
        let refused = || {
            DeliveryError::BadRequest(format!(
                "log index {log_index} is not a signature made with a key of this subscriber"
            ))
        };
        if log_index >= self.store.log_size().await? {
            return Err(refused());
        }
        let entries = self.store.log_entries(log_index, 1).await?;
        let bytes = entries.first().ok_or_else(refused)?;
        let entry = Entry::decode(bytes)
            .map_err(|e| DeliveryError::Internal(format!("log entry {log_index}: {e}")))?;
        if entry.kind != EntryKind::SignatureMade || entry.outcome != Outcome::Succeeded {
            return Err(refused());
        }
        let key_id = entry.key_id.ok_or_else(refused)?;
        let key = KeyId::parse(&key_id).map_err(|_| refused())?;
        match self.store.get_key(&key).await? {
            Some(key) if key.owner == subscriber => Ok(key_id),
            _ => Err(refused()),
        }
    }
}

/// A document type: 1 to 100 visible ASCII characters.
fn check_document_type(document_type: &str) -> Result<(), DeliveryError> {
    if document_type.is_empty()
        || document_type.len() > MAX_DOCUMENT_TYPE
        || !document_type.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(DeliveryError::BadRequest(
            "the document type must be 1 to 100 visible ASCII characters".into(),
        ));
    }
    Ok(())
}

/// Whether `caller` acts for `subscriber` (its users and system clients).
fn acts_for(caller: &Caller, subscriber: &str) -> bool {
    caller.kind != CallerKind::Operator && caller.subscriber.as_deref() == Some(subscriber)
}
