//! The delivery and retention records as both engines read and write them, and the checks both
//! apply: shared by `sqlite/delivery.rs` and `postgres/delivery.rs` so that they decode, refuse
//! and decide alike.
//!
//! Owns the column lists of `delivery_destinations`, `deliveries` and `retained_documents`
//! (`*_columns!`, in the order the decoders read them), the decoding of a row into a record (an
//! unknown state or a count out of range is [`StoreError::Corrupt`] naming the record and the
//! column), the checks of a new delivery or kept document, the claim tokens, and the answer to
//! a refused outcome of an attempt. Uses the typed row reads ([`Columns`]) of `auth_rows.rs`.
//!
//! Must never: run a query or hold SQL of one engine (that is each engine's), or decide a policy
//! (backoff, attempt limits, retention periods: the `delivery` module's).

use super::StoreError;
use super::auth_rows::Columns;
use super::delivery::{DeliveryRecord, DeliveryState, DestinationRecord, RetainedRecord};
use super::log;

/// The columns of `delivery_destinations`, for [`destination`].
macro_rules! destination_columns {
    () => {
        "id, subscriber, url, created_at"
    };
}

/// The columns of `deliveries`, for [`delivery`].
macro_rules! delivery_columns {
    () => {
        "id, subscriber, destination_id, document_type, document, document_digest, log_index, \
         state, attempts, last_error, next_attempt_at, claim, lease_until, created_at, \
         updated_at, delivered_at"
    };
}

/// The columns of `retained_documents`, for [`retained`].
macro_rules! retained_columns {
    () => {
        "id, subscriber, key_id, document_type, document, log_index, created_at, purge_at"
    };
}

pub(crate) use {delivery_columns, destination_columns, retained_columns};

/// Most destinations [`list_destinations`](super::DeliveryStore::list_destinations) returns.
pub(crate) const DESTINATIONS_PAGE: i64 = 100;

/// Most deliveries one [`claim_deliveries`](super::DeliveryStore::claim_deliveries) takes.
pub(crate) const MAX_CLAIM: u32 = 100;

pub(crate) fn destination(row: &impl Columns) -> Result<DestinationRecord, StoreError> {
    Ok(DestinationRecord {
        id: row.text("id")?,
        subscriber: row.text("subscriber")?,
        url: row.text("url")?,
        created_at: row.int("created_at")?,
    })
}

pub(crate) fn delivery(row: &impl Columns) -> Result<DeliveryRecord, StoreError> {
    let id = row.text("id")?;
    let record = format!("delivery {id:?}");
    let state = row.text("state")?;
    let state = DeliveryState::parse(&state)
        .ok_or_else(|| StoreError::Corrupt(format!("{record}, state: unknown value {state:?}")))?;
    let attempts = row.int("attempts")?;
    let attempts = u32::try_from(attempts).map_err(|_| {
        StoreError::Corrupt(format!("{record}, attempts: {attempts} is out of range"))
    })?;
    Ok(DeliveryRecord {
        subscriber: row.text("subscriber")?,
        destination_id: row.text("destination_id")?,
        document_type: row.text("document_type")?,
        document: row.bytes_opt("document")?,
        document_digest: row.text("document_digest")?,
        log_index: log::from_db(row.int("log_index")?, "delivery log index")?,
        state,
        attempts,
        last_error: row.text_opt("last_error")?,
        next_attempt_at: row.int("next_attempt_at")?,
        claim: row.text_opt("claim")?,
        lease_until: row.int_opt("lease_until")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        delivered_at: row.int_opt("delivered_at")?,
        id,
    })
}

pub(crate) fn retained(row: &impl Columns) -> Result<RetainedRecord, StoreError> {
    let id = row.text("id")?;
    let document = row.bytes_opt("document")?.ok_or_else(|| {
        StoreError::Corrupt(format!("retained document {id:?}, document: missing"))
    })?;
    Ok(RetainedRecord {
        subscriber: row.text("subscriber")?,
        key_id: row.text("key_id")?,
        document_type: row.text("document_type")?,
        document,
        log_index: log::from_db(row.int("log_index")?, "retained document log index")?,
        created_at: row.int("created_at")?,
        purge_at: row.int("purge_at")?,
        id,
    })
}

/// `insert_delivery`: only a new delivery goes in; its log index as stored.
pub(crate) fn new_delivery(delivery: &DeliveryRecord) -> Result<i64, StoreError> {
    let new = delivery.state == DeliveryState::Pending
        && delivery.attempts == 0
        && delivery.claim.is_none()
        && delivery.lease_until.is_none()
        && delivery.delivered_at.is_none()
        && delivery.document.is_some();
    if !new {
        return Err(StoreError::Conflict(format!(
            "delivery {}: only a new pending delivery with its document can be queued",
            delivery.id
        )));
    }
    log::to_db(delivery.log_index)
}

/// `insert_retained`: kept for some time; its log index as stored.
pub(crate) fn new_retained(document: &RetainedRecord) -> Result<i64, StoreError> {
    if document.purge_at <= document.created_at {
        return Err(StoreError::Conflict(format!(
            "retained document {}: purge_at must be after created_at",
            document.id
        )));
    }
    log::to_db(document.log_index)
}

/// `claim_deliveries`: how many to take (at most [`MAX_CLAIM`]) and the lease end, or `None`
/// when there is nothing to take.
pub(crate) fn claim_bounds(
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Option<(i64, i64)>, StoreError> {
    if lease_ms <= 0 {
        return Err(StoreError::Conflict(format!(
            "a lease of {lease_ms} ms is not a lease"
        )));
    }
    if limit == 0 {
        return Ok(None);
    }
    Ok(Some((
        i64::from(limit.min(MAX_CLAIM)),
        now.saturating_add(lease_ms),
    )))
}

/// A new claim token.
pub(crate) fn claim_token() -> String {
    super::auth::new_id("clm")
}

/// Sorts claimed deliveries as the trait promises: earliest due first, then by id.
pub(crate) fn claimed(mut deliveries: Vec<DeliveryRecord>) -> Vec<DeliveryRecord> {
    deliveries.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
    deliveries
}

/// Why recording an attempt's outcome changed nothing, from the row (`state, claim`) read after
/// its conditional update matched none: `NotFound` without a row, else `Conflict` saying why.
pub(crate) fn outcome_refusal(id: &str, found: Option<&impl Columns>) -> StoreError {
    let Some(row) = found else {
        return StoreError::NotFound(format!("delivery {id}"));
    };
    match row.text("state") {
        Err(e) => StoreError::Database(e),
        Ok(state) if state != DeliveryState::Pending.as_str() => {
            StoreError::Conflict(format!("delivery {id} is {state} already"))
        }
        Ok(_) => StoreError::Conflict(format!(
            "delivery {id} is claimed by someone else now (the lease ran out)"
        )),
    }
}
