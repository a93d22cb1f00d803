//! The retention policy of signed documents (criteria 2.2.3(3)B, 2.1.3(5)).
//!
//! `[signing] retention_days = 0` (the default): signed documents are not kept; the
//! transparency log holds their digests only. With `N > 0`, [`Retention::keep`] stores each
//! document sealed with AES-256-GCM under the secrets key (domain `inkan-retention/v1`, bound to
//! the record id, so a sealed document cannot pass for another) until `now + N days`; until then
//! its subscriber's users and clients can read it back ([`Retention::get`]); from then on it is
//! unreadable, and housekeeping deletes it ([`Retention::purge`]).
//!
//! Must never: store a document when retention is off or in the clear, or return one to anyone
//! but its subscriber's callers or after its purge time.

use super::{DeliveryError, acts_for, check_document_type};
use crate::auth::Caller;
use crate::clock::{Clock, UnixMillis};
use inkan_device::sealing::SealingKey;
use inkan_store::Store;
use inkan_store::auth::{is_id, new_id};
use inkan_store::delivery::RetainedRecord;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// The associated-data domain of retained documents.
pub const SEAL_DOMAIN: &str = "inkan-retention/v1";

const DAY_MS: i64 = 24 * 3_600_000;

/// The retention policy and the documents kept under it.
#[derive(Debug)]
pub struct Retention {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    seal: SealingKey,
    days: u32,
}

/// A kept document, opened.
#[derive(Debug, Clone, PartialEq)]
pub struct RetainedDocument {
    /// `doc_…`.
    pub id: String,
    /// Its subscriber.
    pub subscriber: String,
    /// The key that signed it.
    pub key_id: String,
    /// What it is.
    pub document_type: String,
    /// The document.
    pub document: Value,
    /// The index of the `signature.made` entry of its signature.
    pub log_index: u64,
    /// When it was kept.
    pub created_at: UnixMillis,
    /// When it stops being readable and is purged.
    pub purge_at: UnixMillis,
}

impl Retention {
    /// The policy: keep documents `days` days (0: keep none), sealed with the key in
    /// `secrets_key_file`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        secrets_key_file: &Path,
        days: u32,
    ) -> Result<Self, DeliveryError> {
        let seal = SealingKey::from_key_file(secrets_key_file, SEAL_DOMAIN)
            .map_err(|e| DeliveryError::Internal(format!("the secrets key: {e}")))?;
        Ok(Retention {
            store,
            clock,
            seal,
            days,
        })
    }

    /// Whether documents are kept at all.
    pub fn enabled(&self) -> bool {
        self.days > 0
    }

    /// Keeps `document` (signed with `key_id`, its signature at `log_index`) sealed for the
    /// configured number of days; its id (`doc_…`), or `None` when retention is off (nothing is
    /// stored then).
    pub async fn keep(
        &self,
        subscriber: &str,
        key_id: &str,
        document_type: &str,
        document: &Value,
        log_index: u64,
    ) -> Result<Option<String>, DeliveryError> {
        if !self.enabled() {
            return Ok(None);
        }
        check_document_type(document_type)?;
        let bytes = zeroize::Zeroizing::new(
            serde_json::to_vec(document)
                .map_err(|e| DeliveryError::Internal(format!("encoding the document: {e}")))?,
        );
        let id = new_id("doc");
        let sealed = self
            .seal
            .seal(&id, &bytes)
            .map_err(|e| DeliveryError::Internal(format!("sealing the document: {e}")))?;
        let now = self.clock.now();
        let record = RetainedRecord {
            id: id.clone(),
            subscriber: subscriber.to_owned(),
            key_id: key_id.to_owned(),
            document_type: document_type.to_owned(),
            document: sealed,
            log_index,
            created_at: now,
            purge_at: now.saturating_add(i64::from(self.days).saturating_mul(DAY_MS)),
        };
        self.store.insert_retained(&record).await?;
        tracing::debug!(document = %id, purge_at = record.purge_at, "signed document kept");
        Ok(Some(id))
    }

    /// The kept document `id`, opened, for its subscriber's users and clients, until its purge
    /// time; `NotFound` otherwise.
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<RetainedDocument, DeliveryError> {
        let not_found = || DeliveryError::NotFound(format!("no document {id}"));
        if !is_id(id, "doc") {
            return Err(not_found());
        }
        let record = match self.store.get_retained(id).await? {
            Some(r)
                if acts_for(caller, &r.subscriber)
                    && crate::auth::access::scope_allows(
                        caller,
                        &r.key_id,
                        crate::auth::access::Operation::Read,
                    )
                    && self.clock.now() < r.purge_at =>
            {
                r
            }
            _ => return Err(not_found()),
        };
        let bytes = self
            .seal
            .open(&record.id, &record.document)
            .map_err(|e| DeliveryError::Internal(format!("opening document {id}: {e}")))?;
        let document = serde_json::from_slice(&bytes)
            .map_err(|e| DeliveryError::Internal(format!("document {id} is not JSON: {e}")))?;
        Ok(RetainedDocument {
            id: record.id,
            subscriber: record.subscriber,
            key_id: record.key_id,
            document_type: record.document_type,
            document,
            log_index: record.log_index,
            created_at: record.created_at,
            purge_at: record.purge_at,
        })
    }

    /// Deletes the documents past their purge time (housekeeping); how many.
    pub async fn purge(&self) -> Result<u64, DeliveryError> {
        Ok(self.store.purge_retained(self.clock.now()).await?)
    }
}
