//! The typed records of procedures (applications, dual-control requests) over the store's
//! workflow records: JSON bodies, decoded strictly, every change a compare-and-set on the
//! record's version.
//!
//! Owns [`Workflow`] (what a record type says about itself) and the four moves on records:
//! insert, load, save, list. Must never: write a record without comparing its version.

use super::Operations;
use crate::auth::AuthError;
use inkan_store::Store;
use inkan_store::operations::{WorkflowKind, WorkflowRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Most records one listing returns.
pub const MAX_LISTED: u32 = 500;

/// A record type kept as a workflow record.
pub trait Workflow: Serialize + DeserializeOwned {
    /// Its kind in the store.
    const KIND: WorkflowKind;
    /// The prefix of its ids (`apr`, `app`).
    const PREFIX: &'static str;
    /// What people call it in messages.
    const NOUN: &'static str;
    /// Its id.
    fn id(&self) -> &str;
    /// Its state's name (stored beside the body to list by it).
    fn state_name(&self) -> &'static str;
}

impl Operations {
    /// Stores a new record created by `created_by`.
    pub(super) async fn insert_record<T: Workflow>(
        &self,
        created_by: &str,
        item: &T,
    ) -> Result<WorkflowRecord, AuthError> {
        let now = self.now();
        let record = WorkflowRecord {
            kind: T::KIND,
            id: item.id().into(),
            state: item.state_name().into(),
            version: 1,
            body: encode(item)?,
            created_by: created_by.into(),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_workflow(&record).await?;
        Ok(record)
    }

    /// The record `id` and its decoded body; `NotFound` for an unknown or malformed id.
    pub(super) async fn load_record<T: Workflow>(
        &self,
        id: &str,
    ) -> Result<(WorkflowRecord, T), AuthError> {
        load(&*self.store, id).await
    }

    /// Writes `item` over `record` if nobody changed it meanwhile (`Conflict` otherwise);
    /// returns the new record.
    pub(super) async fn save_record<T: Workflow>(
        &self,
        record: &WorkflowRecord,
        item: &T,
    ) -> Result<WorkflowRecord, AuthError> {
        save(&*self.store, record, item, self.now()).await
    }

    /// Records in `state` (all when `None`), oldest first, at most [`MAX_LISTED`].
    pub(super) async fn list_records<T: Workflow>(
        &self,
        state: Option<&str>,
    ) -> Result<Vec<T>, AuthError> {
        let records = self
            .store
            .list_workflows(T::KIND, state, MAX_LISTED)
            .await?;
        records.iter().map(decode).collect()
    }
}

/// [`Operations::load_record`] over a store alone (for commands on the host).
pub(super) async fn load<T: Workflow>(
    store: &dyn Store,
    id: &str,
) -> Result<(WorkflowRecord, T), AuthError> {
    let not_found = || AuthError::NotFound(format!("no {} {id}", T::NOUN));
    if !inkan_store::auth::is_id(id, T::PREFIX) {
        return Err(not_found());
    }
    let record = store
        .get_workflow(T::KIND, id)
        .await?
        .ok_or_else(not_found)?;
    let item = decode(&record)?;
    Ok((record, item))
}

/// [`Operations::save_record`] over a store alone.
pub(super) async fn save<T: Workflow>(
    store: &dyn Store,
    record: &WorkflowRecord,
    item: &T,
    now: crate::clock::UnixMillis,
) -> Result<WorkflowRecord, AuthError> {
    let next = WorkflowRecord {
        state: item.state_name().into(),
        version: record.version + 1,
        body: encode(item)?,
        updated_at: now,
        ..record.clone()
    };
    if store.update_workflow(&next).await? {
        Ok(next)
    } else {
        Err(AuthError::Conflict(format!(
            "{} {} changed meanwhile; read it again",
            T::NOUN,
            item.id()
        )))
    }
}

fn encode<T: Workflow>(item: &T) -> Result<String, AuthError> {
    serde_json::to_string(item).map_err(|e| AuthError::Internal(e.to_string()))
}

fn decode<T: Workflow>(record: &WorkflowRecord) -> Result<T, AuthError> {
    serde_json::from_str(&record.body)
        .map_err(|e| AuthError::Internal(format!("{} {}: {e}", T::NOUN, record.id)))
}
