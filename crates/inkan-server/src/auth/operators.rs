//! Operators of the service (criteria 2.1.3(14), 2.3.3): their roles, what each role may do,
//! and the terminals they work from.
//!
//! Owns [`Permission`] and the one table of which [`OperatorRole`] holds which, operator
//! accounts (created with a role), role changes, and terminals: an operator logs in only over
//! a connection that presents the client certificate of one of its own registered,
//! unrevoked terminals, and the session stays bound to that certificate, so every action
//! carries the terminal's identity into the log. An operator's first terminal is the one it
//! completes activation from (the one-time code, handed over through a safe channel, vouches
//! for it); further terminals are registered under dual control.
//!
//! Must never: let an operator without a role do anything, give an auditor a permission that
//! changes something, or accept an operator session from another terminal.

use super::accounts::NewAccount;
use super::{AuthError, Caller, CallerKind};
use crate::log::Event;
use inkan_log::entry::{Actor, EntryKind, Outcome};
use inkan_store::StoreError;
use inkan_store::auth::{AccountRole, AccountState};
use inkan_store::operations::{OperatorRoleRecord, TerminalRecord};

pub use inkan_store::operations::OperatorRole;

/// What an operator may do. Each role holds the permissions [`RolePermissions::allows`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Create operators, change roles, register and revoke terminals.
    ManageOperators,
    /// Record applications, identity proofing and mandates, decide them; manage subscribers'
    /// users, system clients and sessions; terminate a subscriber's use.
    Registration,
    /// Set keys' status sources, destroy keys, import keys, back up and restore.
    KeyManagement,
    /// Read the transparency log and export evidence.
    Audit,
    /// Read records (subscribers, keys, applications, requests, operators); reads of personal
    /// data are logged.
    Read,
}

/// The one table of which [`OperatorRole`] (a store record) holds which [`Permission`].
pub trait RolePermissions {
    /// Whether the role holds `permission` (separation of duties: nobody but an admin manages
    /// operators, nobody but a key officer manages keys, an auditor changes nothing).
    fn allows(self, permission: Permission) -> bool;
}

impl RolePermissions for OperatorRole {
    fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        matches!(
            (self, permission),
            (_, Read)
                | (OperatorRole::Admin, ManageOperators)
                | (OperatorRole::RaOfficer, Registration)
                | (OperatorRole::KeyOfficer, KeyManagement)
                | (OperatorRole::Auditor, Audit)
        )
    }
}

impl Permission {
    /// Who manages an account: operators' accounts are the admin's, users' the registration
    /// officer's.
    pub fn for_account(role: AccountRole) -> Permission {
        match role {
            AccountRole::Operator => Permission::ManageOperators,
            AccountRole::User => Permission::Registration,
        }
    }
}

impl Caller {
    /// Refuses unless the caller is an operator whose role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        match (self.kind, self.role) {
            (CallerKind::Operator, Some(role)) if role.allows(permission) => Ok(()),
            (CallerKind::Operator, Some(role)) => Err(AuthError::Forbidden(format!(
                "the {role} role may not do this"
            ))),
            (CallerKind::Operator, None) => {
                Err(AuthError::Forbidden("this operator has no role yet".into()))
            }
            _ => Err(AuthError::Forbidden("this needs an operator".into())),
        }
    }
}

/// Longest terminal name, bytes.
const MAX_TERMINAL_NAME: usize = 128;

/// An operator, its role and terminals, as an admin or auditor sees them.
#[derive(Debug, Clone)]
pub struct OperatorView {
    /// The account id.
    pub account_id: String,
    /// The login name.
    pub username: String,
    /// Pending, active or disabled.
    pub state: AccountState,
    /// Its role, if it has one.
    pub role: Option<OperatorRole>,
    /// Its terminals, revoked ones included.
    pub terminals: Vec<TerminalRecord>,
}

impl super::Auth {
    /// Creates an operator account with `role` and returns its activation code. Run on the
    /// host (`inkan operators add`) or as an approved dual-control action; `actor` is who.
    pub async fn create_operator(
        &self,
        actor: Actor,
        username: &str,
        role: OperatorRole,
    ) -> Result<NewAccount, AuthError> {
        let account = self
            .create_account(actor.clone(), username, AccountRole::Operator, None, None)
            .await?;
        self.set_role(actor, &account.account_id, role, None)
            .await?;
        Ok(account)
    }

    /// Sets an operator's role (a host command, the bootstrap, or an approved request whose
    /// id is `approval`), logged.
    pub async fn set_role(
        &self,
        actor: Actor,
        account_id: &str,
        role: OperatorRole,
        approval: Option<&str>,
    ) -> Result<(), AuthError> {
        let record = OperatorRoleRecord {
            account_id: account_id.into(),
            role,
            set_at: self.now(),
            set_by: actor.id.clone(),
        };
        let change = async {
            match self.store.set_operator_role(&record).await {
                Ok(()) => Ok(()),
                Err(StoreError::NotFound(_)) => {
                    Err(AuthError::NotFound(format!("no account {account_id}")))
                }
                Err(StoreError::Conflict(m)) => Err(AuthError::Conflict(m)),
                Err(e) => Err(e.into()),
            }
        };
        let note = format!("role of {account_id}: {role}");
        self.operation(actor, approval, note, change).await
    }

    /// The role of an operator account, if it has one.
    pub(super) async fn role_of(
        &self,
        account_id: &str,
    ) -> Result<Option<OperatorRole>, AuthError> {
        Ok(self.store.operator_role(account_id).await?)
    }

    /// Registers `certificate_pem` as a terminal of operator `account_id` (an approved
    /// request, or the host), logged.
    pub async fn register_terminal(
        &self,
        actor: Actor,
        account_id: &str,
        name: &str,
        certificate_pem: &str,
        approval: Option<&str>,
    ) -> Result<TerminalRecord, AuthError> {
        super::accounts::check_name("the terminal name", name, MAX_TERMINAL_NAME)?;
        let thumbprint = super::clients::certificate_thumbprint(certificate_pem)?;
        match self.store.get_account(account_id).await? {
            Some(a) if a.role == AccountRole::Operator => {}
            _ => return Err(AuthError::NotFound(format!("no operator {account_id}"))),
        }
        let note = format!("terminal {thumbprint} ({name}) registered for {account_id}");
        let change = self.insert_terminal(actor.clone(), account_id, name, &thumbprint);
        self.operation(actor, approval, note, change).await
    }

    async fn insert_terminal(
        &self,
        actor: Actor,
        account_id: &str,
        name: &str,
        thumbprint: &str,
    ) -> Result<TerminalRecord, AuthError> {
        let terminal = TerminalRecord {
            thumbprint: thumbprint.into(),
            account_id: account_id.into(),
            name: name.into(),
            registered_at: self.now(),
            registered_by: actor.id,
            revoked_at: None,
        };
        match self.store.insert_terminal(&terminal).await {
            Ok(()) => Ok(terminal),
            Err(StoreError::Conflict(_)) => Err(AuthError::Conflict(
                "this certificate is registered as a terminal already".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Revokes a terminal (an admin's action; it only takes access away), logged. Sessions
    /// bound to it stop working at once: each request must present the certificate, and its
    /// registration is checked at login.
    pub async fn revoke_terminal(&self, admin: &Caller, thumbprint: &str) -> Result<(), AuthError> {
        admin.require(Permission::ManageOperators)?;
        // Written ahead (criteria 2.1.3(12)): the terminal stays as it is unless the
        // revocation's pending entry is logged first.
        let change = async {
            match self.store.revoke_terminal(thumbprint, self.now()).await {
                Ok(()) => Ok(()),
                Err(StoreError::NotFound(_)) => Err(AuthError::NotFound(format!(
                    "no active terminal {thumbprint}"
                ))),
                Err(e) => Err(e.into()),
            }
        };
        let note = format!("terminal {thumbprint} revoked");
        self.operation(admin.actor(), None, note, change).await
    }

    /// Every operator with its role and terminals (an operator is created with its role).
    pub async fn operators(&self, caller: &Caller) -> Result<Vec<OperatorView>, AuthError> {
        caller.require(Permission::Read)?;
        self.operators_on_host(&caller.actor()).await
    }

    /// [`operators`](Self::operators) for a command run on the host by `actor` (logged: the
    /// list names people).
    pub async fn operators_on_host(&self, actor: &Actor) -> Result<Vec<OperatorView>, AuthError> {
        self.record_operation(actor.clone(), None, "read the operator list".into())
            .await?;
        let roles = self.store.operator_roles().await?;
        let terminals = self.store.terminals().await?;
        let mut out = Vec::new();
        for role in roles {
            let Some(account) = self.store.get_account(&role.account_id).await? else {
                continue;
            };
            out.push(OperatorView {
                role: Some(role.role),
                terminals: terminals
                    .iter()
                    .filter(|t| t.account_id == account.id)
                    .cloned()
                    .collect(),
                account_id: account.id,
                username: account.username,
                state: account.state,
            });
        }
        Ok(out)
    }

    /// The terminal an operator logs in from: the connection's client certificate, which
    /// must be a registered, unrevoked terminal of `account_id`.
    pub(super) async fn operator_terminal(
        &self,
        account_id: &str,
        certificate: Option<&str>,
    ) -> Result<String, &'static str> {
        let Some(thumbprint) = certificate else {
            return Err("an operator must connect with its terminal's client certificate");
        };
        match self.store.get_terminal(thumbprint).await {
            Ok(Some(t)) if t.account_id == account_id && t.revoked_at.is_none() => {
                Ok(thumbprint.to_owned())
            }
            Ok(_) => Err("the client certificate is not a registered terminal of this operator"),
            Err(e) => {
                tracing::error!(error = %e, "reading a terminal");
                Err("the terminal could not be checked")
            }
        }
    }

    /// At activation: the operator's first terminal is the one it activates from.
    pub(super) async fn register_first_terminal(
        &self,
        account_id: &str,
        thumbprint: &str,
    ) -> Result<(), AuthError> {
        let actor = crate::service::system_actor();
        let note = format!("terminal {thumbprint} registered for {account_id} at its activation");
        let change =
            self.insert_terminal(actor.clone(), account_id, "activation terminal", thumbprint);
        self.operation(actor, None, note, change).await?;
        Ok(())
    }

    /// Appends an operator action (`operator.action`), naming the approval request if the
    /// action needed one; `Err` if it could not be logged. For a read, logged before it; a
    /// change goes through [`operation`](Self::operation).
    pub async fn record_operation(
        &self,
        actor: Actor,
        approval: Option<&str>,
        note: String,
    ) -> Result<(), AuthError> {
        let event = Event::new(EntryKind::OperatorAction, actor)
            .approval(approval)
            .note(note);
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(())
    }

    /// Makes an operator's change written ahead (`operator.action`, naming the approval
    /// request if it needed one): nothing changes unless its `pending` entry is logged first
    /// (criteria 2.1.3(12), 2.3.3(5)).
    pub async fn operation<T>(
        &self,
        actor: Actor,
        approval: Option<&str>,
        note: String,
        change: impl std::future::Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let event = Event::new(EntryKind::OperatorAction, actor)
            .approval(approval)
            .note(note);
        self.recorder.write_ahead(event, change).await
    }
}
