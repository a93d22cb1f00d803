//! The operations records as both engines read them: shared by `sqlite/operations.rs` and
//! `postgres/operations.rs` so that they decode and refuse alike.
//!
//! Owns the column lists (`*_columns!`, in the order the decoders read them), the decoding of
//! rows (an unknown name is [`StoreError::Corrupt`] naming the record and column) and the
//! mapping of a refused write. Must never: run a query, or read a workflow's body (that is
//! the `operations` module's).

use super::StoreError;
use super::auth_rows::Columns;
use super::operations::{
    OperatorRole, OperatorRoleRecord, TerminalRecord, WorkflowKind, WorkflowRecord,
};

macro_rules! operator_role_columns {
    () => {
        "account_id, role, set_at, set_by"
    };
}

macro_rules! terminal_columns {
    () => {
        "thumbprint, account_id, name, registered_at, registered_by, revoked_at"
    };
}

macro_rules! workflow_columns {
    () => {
        "kind, id, state, version, body, created_by, created_at, updated_at"
    };
}

pub(crate) use {operator_role_columns, terminal_columns, workflow_columns};

fn corrupt(record: &str, column: &str, stored: &str) -> StoreError {
    StoreError::Corrupt(format!("{record}, {column}: unknown value {stored:?}"))
}

pub(crate) fn operator_role(row: &impl Columns) -> Result<OperatorRoleRecord, StoreError> {
    let account_id = row.text("account_id")?;
    let role = row.text("role")?;
    Ok(OperatorRoleRecord {
        role: OperatorRole::parse(&role)
            .ok_or_else(|| corrupt(&format!("role of {account_id}"), "role", &role))?,
        set_at: row.int("set_at")?,
        set_by: row.text("set_by")?,
        account_id,
    })
}

pub(crate) fn terminal(row: &impl Columns) -> Result<TerminalRecord, StoreError> {
    Ok(TerminalRecord {
        thumbprint: row.text("thumbprint")?,
        account_id: row.text("account_id")?,
        name: row.text("name")?,
        registered_at: row.int("registered_at")?,
        registered_by: row.text("registered_by")?,
        revoked_at: row.int_opt("revoked_at")?,
    })
}

pub(crate) fn workflow(row: &impl Columns) -> Result<WorkflowRecord, StoreError> {
    let id = row.text("id")?;
    let kind = row.text("kind")?;
    Ok(WorkflowRecord {
        kind: WorkflowKind::parse(&kind)
            .ok_or_else(|| corrupt(&format!("workflow {id}"), "kind", &kind))?,
        state: row.text("state")?,
        version: row.int("version")?,
        body: row.text("body")?,
        created_by: row.text("created_by")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        id,
    })
}

/// A refused write of `what`: a foreign key means the account is not registered
/// (`NotFound`); a CHECK or a uniqueness constraint is `Conflict`.
pub(crate) fn write_error(what: &str, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("the account of {what}"))
        }
        sqlx::Error::Database(db) if db.is_check_violation() || db.is_unique_violation() => {
            StoreError::Conflict(format!("{what}: {}", db.message()))
        }
        _ => StoreError::Database(error),
    }
}
