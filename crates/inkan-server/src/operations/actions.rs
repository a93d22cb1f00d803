//! The actions under dual control (criteria 2.1.3(12)) and how each is carried out.
//!
//! Owns [`Action`]: what an operator may ask for, the permission the requester and every
//! approver must hold, the checks made when it is asked (so a request that could never run is
//! refused at once), and [`Operations::carry_out`]: the one place an approved action happens,
//! each through the code that owns it (key destruction through `keys::retire`, roles and
//! terminals through `auth`, issuer bindings into `store::issuers`). Must never: be called for a request that is not approved.

use super::approvals::Operations;
use crate::auth::AuthError;
use crate::auth::operators::{OperatorRole, Permission};
use crate::keys::retire::retire;
use crate::store::auth::{AccountRole, SubscriberState};
use crate::store::issuers::IssuerBindingRecord;
use crate::store::{KeyFilter, KeyId, KeyState};
use inkan_log::entry::Actor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Every action's name, as `[operations] approvals_for` and the log name them.
pub const ACTIONS: [&str; 9] = [
    "key.destroy",
    "operator.role",
    "operator.terminal",
    "subscriber.terminate",
    "key.import",
    "backup.create",
    "service.decommission",
    "config.change",
    "issuer.bind",
];

/// Longest reason, bytes.
const MAX_REASON: usize = 1024;

/// An action under dual control, as asked (`POST /v1/approvals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", deny_unknown_fields)]
pub enum Action {
    /// Destroy a key outside the automatic triggers (revocation, renewal).
    #[serde(rename = "key.destroy")]
    DestroyKey {
        /// The key.
        key: String,
        /// Why (recorded in the log and the subscriber's notice).
        reason: String,
    },
    /// Give an operator another role.
    #[serde(rename = "operator.role")]
    SetOperatorRole {
        /// The operator's account.
        account: String,
        /// Its new role.
        role: OperatorRole,
    },
    /// Register another terminal of an operator.
    #[serde(rename = "operator.terminal")]
    RegisterTerminal {
        /// The operator's account.
        account: String,
        /// A name for people.
        name: String,
        /// The terminal's client certificate (PEM).
        certificate_pem: String,
    },
    /// End a subscriber's use (criteria 2.2.2(3)C): its keys destroyed, its accounts,
    /// clients and sessions ended; the records kept.
    #[serde(rename = "subscriber.terminate")]
    TerminateSubscriber {
        /// The subscriber.
        subscriber: String,
        /// Why (the subscriber's application, the end of the contract, …).
        reason: String,
    },
    /// Authorises one run of `inkan keys import` on the host (for `owner`).
    #[serde(rename = "key.import")]
    ImportKey {
        /// The subscriber the key will belong to.
        owner: String,
        /// Why.
        reason: String,
    },
    /// Authorises one run of `inkan backup create` on the host.
    #[serde(rename = "backup.create")]
    CreateBackup {
        /// Why (the schedule, a change ahead, …).
        reason: String,
    },
    /// Authorises one run of `inkan decommission` on the host: the end of the service.
    #[serde(rename = "service.decommission")]
    Decommission {
        /// Why.
        reason: String,
    },
    /// Authorises starting production with a changed configuration whose digest is `digest`
    /// (`inkan config digest` prints it).
    #[serde(rename = "config.change")]
    ConfigChange {
        /// SHA-256 (hex) of the new configuration.
        digest: String,
        /// Why.
        reason: String,
    },
    /// Binds an issuer identifier (`did:web:…` or `https://…`) to a key, so credentials
    /// signed with it may name that issuer (criteria 2.2.3(1)A; `signing::issuer`).
    #[serde(rename = "issuer.bind")]
    BindIssuer {
        /// The key.
        key: String,
        /// The identifier.
        identifier: String,
    },
}

impl Action {
    /// The action's name (one of [`ACTIONS`]).
    pub fn name(&self) -> &'static str {
        match self {
            Action::DestroyKey { .. } => ACTIONS[0],
            Action::SetOperatorRole { .. } => ACTIONS[1],
            Action::RegisterTerminal { .. } => ACTIONS[2],
            Action::TerminateSubscriber { .. } => ACTIONS[3],
            Action::ImportKey { .. } => ACTIONS[4],
            Action::CreateBackup { .. } => ACTIONS[5],
            Action::Decommission { .. } => ACTIONS[6],
            Action::ConfigChange { .. } => ACTIONS[7],
            Action::BindIssuer { .. } => ACTIONS[8],
        }
    }

    /// Whether the action is carried out by a command on the host, which the approval only
    /// authorises (once).
    pub fn on_host(&self) -> bool {
        matches!(
            self,
            Action::ImportKey { .. }
                | Action::CreateBackup { .. }
                | Action::Decommission { .. }
                | Action::ConfigChange { .. }
        )
    }

    /// The permission the requester and every approver must hold.
    pub fn permission(&self) -> Permission {
        match self {
            Action::DestroyKey { .. }
            | Action::ImportKey { .. }
            | Action::CreateBackup { .. }
            | Action::Decommission { .. } => Permission::KeyManagement,
            Action::SetOperatorRole { .. }
            | Action::RegisterTerminal { .. }
            | Action::ConfigChange { .. } => Permission::ManageOperators,
            Action::TerminateSubscriber { .. } | Action::BindIssuer { .. } => {
                Permission::Registration
            }
        }
    }

    /// One line for the log: the action and what it is about (no certificate, no secret).
    pub fn summary(&self) -> String {
        match self {
            Action::DestroyKey { key, .. } => format!("key.destroy {key}"),
            Action::SetOperatorRole { account, role } => format!("operator.role {account} {role}"),
            Action::RegisterTerminal { account, name, .. } => {
                format!("operator.terminal {account} {name:?}")
            }
            Action::TerminateSubscriber { subscriber, .. } => {
                format!("subscriber.terminate {subscriber}")
            }
            Action::ImportKey { owner, .. } => format!("key.import for {owner}"),
            Action::CreateBackup { .. } => "backup.create".into(),
            Action::Decommission { .. } => "service.decommission".into(),
            Action::ConfigChange { digest, .. } => format!("config.change to {digest}"),
            Action::BindIssuer { key, identifier } => {
                format!("issuer.bind {identifier} to {key}")
            }
        }
    }
}

fn check_reason(reason: &str) -> Result<(), AuthError> {
    // The registry refuses control characters in a destruction's reason: refused here, before
    // anyone approves a request that could not be carried out.
    if reason.trim().is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control)
    {
        return Err(AuthError::BadRequest(format!(
            "the reason must be 1 to {MAX_REASON} bytes of text without control characters"
        )));
    }
    Ok(())
}

impl Operations {
    /// Refuses an action that could not be carried out as asked.
    pub(super) async fn check_action(&self, action: &Action) -> Result<(), AuthError> {
        match action {
            Action::DestroyKey { key, reason } => {
                check_reason(reason)?;
                let record = self.key(key).await?;
                if record.state == KeyState::Destroyed {
                    return Err(AuthError::Conflict(format!(
                        "key {key} is destroyed already"
                    )));
                }
                if record.owner == crate::keys::log_key::LOG_KEY_OWNER {
                    return Err(AuthError::Forbidden(
                        "the transparency log's key ends only with the service (inkan \
                         decommission)"
                            .into(),
                    ));
                }
            }
            Action::SetOperatorRole { account, .. } | Action::RegisterTerminal { account, .. } => {
                match self.store.get_account(account).await? {
                    Some(a) if a.role == AccountRole::Operator => {}
                    _ => return Err(AuthError::NotFound(format!("no operator {account}"))),
                }
            }
            Action::TerminateSubscriber { subscriber, reason } => {
                check_reason(reason)?;
                let record = self.auth.subscriber(subscriber).await?;
                if record.state != SubscriberState::Active {
                    return Err(AuthError::Conflict(format!(
                        "subscriber {subscriber} is {}",
                        record.state
                    )));
                }
            }
            Action::ImportKey { reason, .. }
            | Action::CreateBackup { reason }
            | Action::Decommission { reason } => check_reason(reason)?,
            Action::ConfigChange { digest, reason } => {
                check_reason(reason)?;
                if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AuthError::BadRequest(
                        "digest is the configuration's SHA-256, 64 hex digits".into(),
                    ));
                }
            }
            Action::BindIssuer { key, identifier } => self.check_binding(key, identifier).await?,
        }
        Ok(())
    }

    /// An identifier can be bound to an active key, once, and to the keys of one subscriber
    /// only (one organisation's identifier never signs for another).
    async fn check_binding(&self, key: &str, identifier: &str) -> Result<(), AuthError> {
        crate::signing::issuer::check_bindable(identifier).map_err(AuthError::BadRequest)?;
        let record = self.key(key).await?;
        if record.state != KeyState::Active {
            return Err(AuthError::Conflict(format!(
                "key {key} is {}",
                record.state.as_str()
            )));
        }
        for bound in self.store.issuer_bound_keys(identifier).await? {
            if bound.key_id == key {
                return Err(AuthError::Conflict(format!(
                    "{identifier} is bound to key {key} already"
                )));
            }
            let other = self.key(&bound.key_id).await?;
            if other.owner != record.owner {
                return Err(AuthError::Conflict(format!(
                    "{identifier} is bound to another subscriber's key"
                )));
            }
        }
        Ok(())
    }

    async fn key(&self, id: &str) -> Result<crate::store::KeyRecord, AuthError> {
        let not_found = || AuthError::NotFound(format!("no key {id}"));
        let id = KeyId::parse(id).map_err(|_| not_found())?;
        match self.store.get_key(&id).await? {
            Some(k) if k.environment == self.environment => Ok(k),
            _ => Err(not_found()),
        }
    }

    /// Carries out an approved action as `actor` (the last approver), naming the request
    /// `approval` in what it logs; returns what was done.
    pub(super) async fn carry_out(
        &self,
        actor: &Actor,
        approval: &str,
        action: &Action,
    ) -> Result<Value, AuthError> {
        match action {
            Action::DestroyKey { key, reason } => {
                let record = self.key(key).await?;
                let retired = retire(
                    &self.service.registry,
                    &self.delivery,
                    actor,
                    &record,
                    "operator",
                    &format!("{reason} (dual control: {approval})"),
                    json!({ "approval": approval }),
                )
                .await?;
                Ok(json!({
                    "destroyed": [key],
                    "logIndex": retired.destroyed.log_index,
                    "noticesQueued": retired.notices.is_ok(),
                }))
            }
            Action::SetOperatorRole { account, role } => {
                self.auth
                    .set_role(actor.clone(), account, *role, Some(approval))
                    .await?;
                Ok(json!({ "account": account, "role": role }))
            }
            Action::RegisterTerminal {
                account,
                name,
                certificate_pem,
            } => {
                let terminal = self
                    .auth
                    .register_terminal(
                        actor.clone(),
                        account,
                        name,
                        certificate_pem,
                        Some(approval),
                    )
                    .await?;
                Ok(json!({ "account": account, "terminal": terminal.thumbprint }))
            }
            Action::TerminateSubscriber { subscriber, reason } => {
                self.terminate(actor, approval, subscriber, reason).await
            }
            Action::BindIssuer { key, identifier } => {
                // Checked again: another binding may have been approved since it was asked.
                self.check_binding(key, identifier).await?;
                let binding = IssuerBindingRecord {
                    key_id: key.clone(),
                    identifier: identifier.clone(),
                    approval: approval.into(),
                    bound_at: self.now(),
                    bound_by: actor.id.clone(),
                };
                self.auth
                    .operation(
                        actor.clone(),
                        Some(approval),
                        format!("issuer {identifier} bound to key {key}"),
                        async { Ok::<_, AuthError>(self.store.bind_issuer(&binding).await?) },
                    )
                    .await?;
                Ok(json!({ "key": key, "issuer": identifier }))
            }
            Action::ImportKey { .. }
            | Action::CreateBackup { .. }
            | Action::Decommission { .. }
            | Action::ConfigChange { .. } => Ok(
                json!({ "authorises": format!("one run of the host command ({})", action.name()) }),
            ),
        }
    }

    /// Ends a subscriber's use: first everything that lets anyone act for it (subscriber,
    /// accounts, clients, sessions, in one transaction), then each of its keys destroyed with
    /// cause `terminated` (logged, the subscriber's destinations notified). A key whose
    /// destruction fails is reported and stays disabled or active for a retry of the
    /// destruction (`key.destroy`); the subscriber stays terminated.
    async fn terminate(
        &self,
        actor: &Actor,
        approval: &str,
        subscriber: &str,
        reason: &str,
    ) -> Result<Value, AuthError> {
        let ended = self
            .store
            .terminate_subscriber(subscriber, &format!("terminated: {reason}"), self.now())
            .await?;
        self.auth
            .record_operation(
                actor.clone(),
                Some(approval),
                format!(
                    "subscriber {subscriber} terminated: {} accounts disabled, {} clients off, \
                     {} sessions revoked",
                    ended.accounts, ended.clients, ended.sessions
                ),
            )
            .await?;
        let keys = self
            .store
            .list_keys(&KeyFilter {
                owner: Some(subscriber.into()),
                ..KeyFilter::default()
            })
            .await?;
        let mut destroyed = Vec::new();
        let mut failed = Vec::new();
        for key in keys.iter().filter(|k| k.state != KeyState::Destroyed) {
            match retire(
                &self.service.registry,
                &self.delivery,
                actor,
                key,
                "terminated",
                &format!("use terminated: {reason} (dual control: {approval})"),
                json!({ "approval": approval, "subscriber": subscriber }),
            )
            .await
            {
                Ok(_) => destroyed.push(key.id.to_string()),
                Err(e) => {
                    tracing::error!(key = %key.id, error = %e, "destroying a terminated subscriber's key");
                    failed.push(key.id.to_string());
                }
            }
        }
        Ok(json!({
            "subscriber": subscriber,
            "accountsDisabled": ended.accounts,
            "clientsDisabled": ended.clients,
            "sessionsRevoked": ended.sessions,
            "destroyed": destroyed,
            "notDestroyed": failed,
        }))
    }
}
