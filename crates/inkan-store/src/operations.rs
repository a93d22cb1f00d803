//! What the store remembers about running the service (criteria 2.1.1, 2.1.3(12), (14),
//! 2.3.3): operators' roles, their terminals, the records of procedures that take several
//! people (enrolment applications, dual-control requests), and the termination of a
//! subscriber's use.
//!
//! Records only: who may do what, and what an application or request means, is the
//! `operations` module's (it keeps typed records as the JSON `body` of a [`WorkflowRecord`]).
//! Must never: change a workflow record without comparing its version (two approvals at once
//! must not both count as the last one).

use super::StoreError;
use crate::UnixMillis;

super::auth::named_enum! {
    /// An operator's role (separation of duties, criteria 2.3.3).
    OperatorRole {
        /// Manages operators, their roles and terminals.
        Admin = "admin",
        /// Registration authority: applications, identity proofing, subscribers, termination.
        RaOfficer = "ra_officer",
        /// Keys: status sources, destruction, import, backups.
        KeyOfficer = "key_officer",
        /// Reads the log and exports evidence; changes nothing.
        Auditor = "auditor",
    }
}

super::auth::named_enum! {
    /// Which procedure a workflow record belongs to.
    WorkflowKind {
        /// An application for use of the service (enrolment, criteria 2.1.1).
        Application = "application",
        /// A request for an action under dual control (criteria 2.1.3(12)).
        Approval = "approval",
    }
}

/// An operator's role and who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRoleRecord {
    /// The operator's account.
    pub account_id: String,
    /// Its role.
    pub role: OperatorRole,
    /// When it was set.
    pub set_at: UnixMillis,
    /// Who set it (an account id, or `host:…` for a command run on the host).
    pub set_by: String,
}

/// A terminal an operator works from, known by its client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalRecord {
    /// base64url SHA-256 of the certificate (DER): RFC 8705 `x5t#S256`.
    pub thumbprint: String,
    /// The operator whose terminal it is.
    pub account_id: String,
    /// A name for people (e.g. the machine's asset tag).
    pub name: String,
    /// When it was registered.
    pub registered_at: UnixMillis,
    /// Who registered it.
    pub registered_by: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixMillis>,
}

/// One record of a procedure: its kind, id, state and body (typed JSON, owned by the
/// `operations` module), with a version that every change compares and increments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRecord {
    /// Application or approval request.
    pub kind: WorkflowKind,
    /// `app_…` or `apr_…`.
    pub id: String,
    /// The state, as the body has it (repeated to list by it).
    pub state: String,
    /// 1 when inserted, +1 on each change.
    pub version: i64,
    /// The record, JSON.
    pub body: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

/// What terminating a subscriber changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Termination {
    /// Accounts disabled.
    pub accounts: u64,
    /// System clients switched off.
    pub clients: u64,
    /// Sessions revoked.
    pub sessions: u64,
}

/// The operations records.
#[async_trait::async_trait]
pub trait OperationsStore: Send + Sync {
    /// Sets (or replaces) an operator's role. [`StoreError::NotFound`] if the account is not
    /// registered; [`StoreError::Conflict`] if it is not an operator's.
    async fn set_operator_role(&self, role: &OperatorRoleRecord) -> Result<(), StoreError>;

    /// An operator's role, if it has one.
    async fn operator_role(&self, account_id: &str) -> Result<Option<OperatorRole>, StoreError>;

    /// Every operator's role, by account id.
    async fn operator_roles(&self) -> Result<Vec<OperatorRoleRecord>, StoreError>;

    /// Registers a terminal. [`StoreError::Conflict`] if the certificate is registered
    /// already (to anyone); [`StoreError::NotFound`] if the account is not.
    async fn insert_terminal(&self, terminal: &TerminalRecord) -> Result<(), StoreError>;

    /// The terminal with this certificate thumbprint, revoked or not.
    async fn get_terminal(&self, thumbprint: &str) -> Result<Option<TerminalRecord>, StoreError>;

    /// Every terminal, oldest first.
    async fn terminals(&self) -> Result<Vec<TerminalRecord>, StoreError>;

    /// Revokes a terminal (its operator can no longer log in from it).
    /// [`StoreError::NotFound`] if it is not registered or already revoked.
    async fn revoke_terminal(&self, thumbprint: &str, at: UnixMillis) -> Result<(), StoreError>;

    /// Inserts a new workflow record (its `version` must be 1). [`StoreError::Conflict`] if
    /// the id is taken.
    async fn insert_workflow(&self, record: &WorkflowRecord) -> Result<(), StoreError>;

    /// The record, if any.
    async fn get_workflow(
        &self,
        kind: WorkflowKind,
        id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError>;

    /// Records of `kind` (in `state`, if given), oldest first, at most `limit`.
    async fn list_workflows(
        &self,
        kind: WorkflowKind,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WorkflowRecord>, StoreError>;

    /// Replaces the record's state and body if its stored version is still
    /// `record.version - 1` (compare-and-set); `false` if it changed in between (nothing is
    /// written). [`StoreError::NotFound`] if there is no such record.
    async fn update_workflow(&self, record: &WorkflowRecord) -> Result<bool, StoreError>;

    /// Disables an account (it can no longer activate or log in); `false` if it was disabled
    /// already. [`StoreError::NotFound`] if there is no such account.
    async fn disable_account(&self, account_id: &str, at: UnixMillis) -> Result<bool, StoreError>;

    /// A deployment setting (`value`, `set_at`), if set.
    async fn setting(&self, name: &str) -> Result<Option<(String, UnixMillis)>, StoreError>;

    /// Sets (or replaces) a deployment setting.
    async fn set_setting(&self, name: &str, value: &str, at: UnixMillis) -> Result<(), StoreError>;

    /// Ends a subscriber's use in one transaction (criteria 2.2.2(3)C): the subscriber
    /// `terminated`, its accounts `disabled`, its system clients off, every session of them
    /// revoked with `reason`. Its keys are not touched: the caller destroys them, each logged.
    /// [`StoreError::NotFound`] if there is no such subscriber.
    async fn terminate_subscriber(
        &self,
        subscriber: &str,
        reason: &str,
        at: UnixMillis,
    ) -> Result<Termination, StoreError>;
}
