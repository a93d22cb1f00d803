//! The status records as both engines read and write them: shared by `sqlite/status.rs` and
//! `postgres/status.rs` so that they decode and refuse alike.
//!
//! Owns the column lists of `key_status_sources` and `key_statuses` (`*_columns!`, in the order
//! the decoders read them), the decoding of a row into a record (a name this version does not
//! know, or a negative index, is [`StoreError::Corrupt`] naming the record and the column), the
//! index as stored, and the mapping of a refused write: the key's foreign key is
//! [`StoreError::NotFound`], a CHECK (a source without the fields its kind needs) is
//! [`StoreError::Conflict`]. Uses the typed row reads ([`Columns`]) of `auth_rows.rs`.
//!
//! Must never: run a query or hold SQL of one engine (that is each engine's), or decide what a
//! status means (the `status` module's).

use super::StoreError;
use super::auth_rows::Columns;
use super::status::{KeyStatusRecord, KeyStatusValue, StatusSourceKind, StatusSourceRecord};

/// The columns of `key_status_sources`, for [`status_source`]. None of them is also a column of
/// `keys`, so they can be named unqualified in a join with it.
macro_rules! status_source_columns {
    () => {
        "key_id, kind, url, idx, purpose, set_at, set_by"
    };
}

/// The columns of `key_statuses`, for [`key_status`].
macro_rules! key_status_columns {
    () => {
        "key_id, status, checked_at, evidence"
    };
}

pub(crate) use {key_status_columns, status_source_columns};

/// Parses a stored enum name, or says which record and column hold something else.
fn name<T>(
    parse: fn(&str) -> Option<T>,
    stored: &str,
    record: &str,
    column: &str,
) -> Result<T, StoreError> {
    parse(stored)
        .ok_or_else(|| StoreError::Corrupt(format!("{record}, {column}: unknown value {stored:?}")))
}

pub(crate) fn status_source(row: &impl Columns) -> Result<StatusSourceRecord, StoreError> {
    let key_id = row.text("key_id")?;
    let record = format!("status source of key {key_id:?}");
    let index = row
        .int_opt("idx")?
        .map(|idx| {
            u64::try_from(idx)
                .map_err(|_| StoreError::Corrupt(format!("{record}, idx: negative ({idx})")))
        })
        .transpose()?;
    Ok(StatusSourceRecord {
        kind: name(StatusSourceKind::parse, &row.text("kind")?, &record, "kind")?,
        url: row.text_opt("url")?,
        index,
        purpose: row.text_opt("purpose")?,
        set_at: row.int("set_at")?,
        set_by: row.text("set_by")?,
        key_id,
    })
}

pub(crate) fn key_status(row: &impl Columns) -> Result<KeyStatusRecord, StoreError> {
    let key_id = row.text("key_id")?;
    let record = format!("status of key {key_id:?}");
    Ok(KeyStatusRecord {
        status: name(
            KeyStatusValue::parse,
            &row.text("status")?,
            &record,
            "status",
        )?,
        checked_at: row.int("checked_at")?,
        evidence: row.text_opt("evidence")?,
        key_id,
    })
}

/// `set_status_source`: the index as stored; above `i64::MAX` is `Conflict`.
pub(crate) fn source_index(source: &StatusSourceRecord) -> Result<Option<i64>, StoreError> {
    source
        .index
        .map(|index| {
            i64::try_from(index).map_err(|_| {
                StoreError::Conflict(format!(
                    "status source of key {}: index {index} is out of range",
                    source.key_id
                ))
            })
        })
        .transpose()
}

/// A refused write of `what` (a record of key `key_id`): the key's foreign key means the key is
/// not registered (`NotFound`); a CHECK or a uniqueness constraint is `Conflict`.
pub(crate) fn write_error(what: &str, key_id: &str, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("key {key_id}"))
        }
        sqlx::Error::Database(db) if db.is_check_violation() || db.is_unique_violation() => {
            StoreError::Conflict(format!("{what} of key {key_id}: {}", db.message()))
        }
        _ => StoreError::Database(error),
    }
}
