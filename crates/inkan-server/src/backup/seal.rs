//! The seal a restore leaves on a deployment (criteria 2.1.3(12), 2.2.3(2)B-1, 2.2.2(3)).
//!
//! Restoring needs M key officers' shares, but it is run on the host by one person, and a
//! backup can bring back keys destroyed after it was taken (when no later log is given). So a
//! restore outside `test` (or in `test` when `[operations] approvals_for` names
//! `backup.restore`) leaves the deployment **sealed**: the restored store carries the
//! `restore` setting, written in the same transaction as the restored rows, and the signing
//! module refuses every signature while it is set. Operators log in and carry an approved
//! `backup.restore` request naming the backup (and whether the later log was given) through
//! dual control; carrying it out lifts the seal, written ahead to the log.
//!
//! Owns the setting's form and the in-memory view every part of one process shares. Must
//! never: lift the seal except through an approved `backup.restore` (`operations::actions`),
//! or let a store error read as "not sealed" (opening the service fails instead).

use inkan_store::backup::{Cell, Row, TableRows};
use inkan_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};

/// The deployment setting that records the last restore.
pub const SETTING: &str = "restore";

/// What a restore recorded about itself, as the `restore` setting holds it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestoreRecord {
    /// The backup restored (`bak_…`).
    pub backup: String,
    /// The log size the backup was taken at.
    pub log_size: u64,
    /// Whether the log written after the backup was given (keys destroyed since stay
    /// destroyed); without it, keys destroyed since came back.
    pub later_log: bool,
    /// Whether the deployment is still sealed.
    pub sealed: bool,
    /// The approved `backup.restore` request that lifted the seal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
}

impl RestoreRecord {
    /// The setting's row, as the restored `deployment_settings` table holds it.
    pub(super) fn setting_row(&self, at: i64) -> Row {
        let mut row = Row::new();
        row.insert("name".into(), Cell::Text(SETTING.into()));
        row.insert("value".into(), Cell::Text(self.to_value()));
        row.insert("set_at".into(), Cell::Int(at));
        row
    }

    /// The setting's value.
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Puts this record into the payload's `deployment_settings` rows (replacing any earlier
    /// one), so that it is written with the restored rows, in one transaction.
    pub(super) fn put_into(&self, tables: &mut Vec<TableRows>, at: i64) {
        let row = self.setting_row(at);
        match tables.iter_mut().find(|t| t.table == "deployment_settings") {
            Some(table) => {
                table
                    .rows
                    .retain(|r| r.get("name") != Some(&Cell::Text(SETTING.into())));
                table.rows.push(row);
            }
            None => tables.push(TableRows {
                table: "deployment_settings".into(),
                rows: vec![row],
            }),
        }
    }
}

/// The seal as this process knows it: read from the store when the service opens, lifted by
/// the approved request. Cheap to check (no store read on the signing path).
#[derive(Debug, Clone, Default)]
pub struct Seal {
    sealed: Arc<RwLock<Option<RestoreRecord>>>,
}

impl Seal {
    /// The seal recorded in `store` (none unless a restore left one).
    pub async fn load(store: &dyn Store) -> Result<Seal, StoreError> {
        let record = match store.setting(SETTING).await? {
            Some((value, _)) => {
                Some(serde_json::from_str::<RestoreRecord>(&value).map_err(|e| {
                    StoreError::Corrupt(format!("the restore setting is not readable: {e}"))
                })?)
            }
            None => None,
        };
        Ok(Seal {
            sealed: Arc::new(RwLock::new(record.filter(|r| r.sealed))),
        })
    }

    /// The restore that sealed the deployment, while it is sealed.
    pub fn sealed(&self) -> Option<RestoreRecord> {
        self.sealed.read().map_or_else(
            // A poisoned lock reads as sealed: fail closed.
            |poisoned| poisoned.into_inner().clone(),
            |guard| guard.clone(),
        )
    }

    /// `Err` with the reason while the deployment is sealed.
    pub fn check(&self) -> Result<(), String> {
        match self.sealed() {
            None => Ok(()),
            Some(record) => Err(format!(
                "this deployment was restored from backup {} and is sealed: no key signs until \
                 an approved backup.restore request for it is carried out (dual control)",
                record.backup
            )),
        }
    }

    /// Lifts the seal in this process, after the store records it lifted.
    pub(crate) fn lift(&self) {
        match self.sealed.write() {
            Ok(mut guard) => *guard = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }
}
