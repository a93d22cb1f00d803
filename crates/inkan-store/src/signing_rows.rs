//! The signing records as both engines read and write them, and the checks both apply: shared
//! by `sqlite/signing.rs` and `postgres/signing.rs` so that they decode, refuse and decide
//! alike.
//!
//! Owns the column lists of `sads` and `signatures` (`*_columns!`, in the order the decoders
//! read them), the decoding of a row into a record (digests that are not a JSON array of
//! strings, or a count out of range, are [`StoreError::Corrupt`] naming the record and the
//! column), the encoding of a SAD's digests (a JSON array of strings, in order), the checks of
//! a new SAD, and the answer to a refused [`consume_sad`](super::SigningStore::consume_sad).
//! Uses the typed row reads ([`Columns`]) and the constraint mapping (`write_error`) of
//! `auth_rows.rs`.
//!
//! Must never: run a query or hold SQL of one engine (that is each engine's), or decide a policy
//! (how long a SAD lives, which digests a key may sign: the signing module's).

use super::StoreError;
use super::auth_rows::Columns;
use super::log;
use super::signing::{SadRecord, SignatureRecord};
use crate::UnixMillis;

/// The columns of `sads`, for [`sad`].
macro_rules! sad_columns {
    () => {
        "sad_hash, id, key_id, account_id, session_id, digests, num_signatures, created_at, \
         expires_at, used_at, disclosure_digest"
    };
}

/// The columns of `signatures` (without the row id), for [`signature`].
macro_rules! signature_columns {
    () => {
        "digest, key_id, subscriber, document_type, log_index, created_at"
    };
}

pub(crate) use {sad_columns, signature_columns};

/// Most records [`signatures_by_digest`](super::SigningStore::signatures_by_digest) returns.
pub(crate) const SIGNATURES_PAGE: i64 = 100;

pub(crate) fn sad(row: &impl Columns) -> Result<SadRecord, StoreError> {
    let id = row.text("id")?;
    let record = format!("SAD {id:?}");
    let digests = row.text("digests")?;
    let digests: Vec<String> = serde_json::from_str(&digests).map_err(|e| {
        StoreError::Corrupt(format!(
            "{record}, digests: not a JSON array of strings ({e})"
        ))
    })?;
    let num_signatures = row.int("num_signatures")?;
    let num_signatures = u32::try_from(num_signatures).map_err(|_| {
        StoreError::Corrupt(format!(
            "{record}, num_signatures: {num_signatures} is out of range"
        ))
    })?;
    Ok(SadRecord {
        sad_hash: row.text("sad_hash")?,
        key_id: row.text("key_id")?,
        account_id: row.text("account_id")?,
        session_id: row.text("session_id")?,
        digests,
        num_signatures,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        used_at: row.int_opt("used_at")?,
        disclosure_digest: row.text_opt("disclosure_digest")?,
        id,
    })
}

pub(crate) fn signature(row: &impl Columns) -> Result<SignatureRecord, StoreError> {
    Ok(SignatureRecord {
        digest: row.text("digest")?,
        key_id: row.text("key_id")?,
        subscriber: row.text("subscriber")?,
        document_type: row.text("document_type")?,
        log_index: log::from_db(row.int("log_index")?, "signature log index")?,
        created_at: row.int("created_at")?,
        status_entries: Vec::new(),
    })
}

/// `insert_sad`: at least one signature and no more than digests (the schema's CHECK says the
/// same), and the digests as stored.
pub(crate) fn sad_digests(sad: &SadRecord) -> Result<String, StoreError> {
    let allowed = u32::try_from(sad.digests.len()).unwrap_or(u32::MAX);
    if sad.num_signatures == 0 || sad.num_signatures > allowed {
        return Err(StoreError::Conflict(format!(
            "SAD {}: {} signatures for {} digests",
            sad.id,
            sad.num_signatures,
            sad.digests.len()
        )));
    }
    serde_json::to_string(&sad.digests)
        .map_err(|e| StoreError::Conflict(format!("SAD {}: digests: {e}", sad.id)))
}

/// Why `consume_sad` changed nothing, from the row (`id, used_at, expires_at`) read after its
/// conditional update matched none: `NotFound` without a row, else `Conflict` saying why.
pub(crate) fn consume_refusal(found: Option<&impl Columns>, now: UnixMillis) -> StoreError {
    let Some(row) = found else {
        return StoreError::NotFound("SAD".into());
    };
    let state = (|| -> Result<_, sqlx::Error> {
        Ok((
            row.text("id")?,
            row.int_opt("used_at")?,
            row.int("expires_at")?,
        ))
    })();
    match state {
        Err(e) => StoreError::Database(e),
        Ok((id, Some(_), _)) => StoreError::Conflict(format!("SAD {id} has been used")),
        Ok((id, None, expires_at)) if now >= expires_at => {
            StoreError::Conflict(format!("SAD {id} has expired"))
        }
        // Not reachable under the engines' locking; refused all the same.
        Ok((id, None, _)) => StoreError::Conflict(format!("SAD {id} could not be used")),
    }
}
