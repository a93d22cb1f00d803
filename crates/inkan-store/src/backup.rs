//! What a backup reads from the store and a restore writes back (criteria 2.2.2(4),
//! 2.1.3(13)): every table's rows, engine-neutral, in one consistent snapshot.
//!
//! Owns the list of tables in the order their foreign keys need ([`TABLES`]) and the cell
//! values ([`Cell`]). Must never: restore into a store that holds anything (a restore does not
//! merge), or read a table that is not in [`TABLES`] (names are never taken from input).

use super::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every table, parents before children (the migrations' order).
pub const TABLES: &[&str] = &[
    "keys",
    "key_certificates",
    "log_head",
    "log_entries",
    "log_hashes",
    "log_checkpoints",
    "subscribers",
    "accounts",
    "activation_codes",
    "clients",
    "sessions",
    "tokens",
    "once_ids",
    "key_pins",
    "sads",
    "signatures",
    "delivery_destinations",
    "deliveries",
    "retained_documents",
    "key_status_sources",
    "key_statuses",
    "operator_roles",
    "operator_terminals",
    "workflows",
    "deployment_settings",
    "issuer_bindings",
    "status_lists",
    "status_list_entries",
    "status_list_versions",
    "oauth_clients",
    "oauth_requests",
    "passkeys",
    "identity_links",
];

/// One value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes, base64 (standard, padded).
    Bytes(String),
    /// A boolean (PostgreSQL; SQLite stores them as integers).
    Bool(bool),
}

/// A row: column name → value.
pub type Row = BTreeMap<String, Cell>;

/// A table's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRows {
    /// One of [`TABLES`].
    pub table: String,
    /// Its rows.
    pub rows: Vec<Row>,
}

/// Backup and restore of the whole store.
#[async_trait::async_trait]
pub trait BackupStore: Send + Sync {
    /// Every row of every table in [`TABLES`], read in one transaction (a consistent
    /// snapshot while the service runs).
    async fn snapshot(&self) -> Result<Vec<TableRows>, StoreError>;

    /// Whether the store holds no key, account or log entry (a restore's precondition).
    async fn is_empty(&self) -> Result<bool, StoreError>;

    /// Writes `tables` into an empty store in one transaction: all or nothing.
    /// [`StoreError::Conflict`] if the store is not empty, a table is not in [`TABLES`], or a
    /// column name is not a plain identifier.
    async fn restore(&self, tables: &[TableRows]) -> Result<(), StoreError>;
}

/// Refuses a table not in [`TABLES`] or a column name that is not `[a-z0-9_]+`: names go into
/// SQL text, so only these may.
pub(crate) fn check_names(tables: &[TableRows]) -> Result<(), StoreError> {
    for t in tables {
        if !TABLES.contains(&t.table.as_str()) {
            return Err(StoreError::Conflict(format!("unknown table {:?}", t.table)));
        }
        for row in &t.rows {
            if let Some(bad) = row.keys().find(|c| {
                c.is_empty()
                    || c.len() > 64
                    || !c
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            }) {
                return Err(StoreError::Conflict(format!(
                    "table {}: bad column name {bad:?}",
                    t.table
                )));
            }
        }
    }
    Ok(())
}

/// The INSERT for a row of `table` with `columns` and placeholders from `placeholder(i)`.
pub(crate) fn insert_sql(
    table: &str,
    columns: &[&String],
    placeholder: impl Fn(usize) -> String,
) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
    let marks: Vec<String> = (1..=columns.len()).map(placeholder).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    )
}

/// The store's "nothing here yet" test, shared by the engines.
pub(crate) const IS_EMPTY_SQL: &str = "SELECT (SELECT COUNT(*) FROM keys) + (SELECT COUNT(*) FROM accounts) \
     + (SELECT COUNT(*) FROM log_entries) AS n";
