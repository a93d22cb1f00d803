//! The actions under dual control (criteria 2.1.3(12)) and how each is carried out.
//!
//! Owns [`Action`]: what an operator may ask for, the permission the requester and every
//! approver must hold, the checks made when it is asked (so a request that could never run is
//! refused at once), and [`Operations::carry_out`]: the one place an approved action happens,
//! each through the code that owns it (key destruction through `keys::retire`, roles,
//! terminals and system clients through `auth`, issuer bindings into `store::issuers`).
//! Granting standing signing power (a system client) also needs the subscriber's consent
//! ([`Action::consent_of`]). Must never: be called for a request that is not approved.

use super::approvals::Operations;
use crate::auth::clients::ClientCredential;
use crate::auth::operators::{OperatorRole, Permission};
use crate::auth::{AuthError, Scope};
use crate::keys::retire::retire;
use inkan_log::entry::Actor;
use inkan_store::auth::{AccountRole, AccountState, SubscriberState};
use inkan_store::identity_links::IdentityLinkRecord;
use inkan_store::issuers::IssuerBindingRecord;
use inkan_store::status::StatusSourceRecord;
use inkan_store::{KeyFilter, KeyId, KeyState, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Every action's name, as `[operations] approvals_for` and the log name them.
pub const ACTIONS: [&str; 20] = [
    "key.destroy",
    "operator.role",
    "operator.terminal",
    "subscriber.terminate",
    "key.import",
    "backup.create",
    "service.decommission",
    "config.change",
    "client.register",
    "key.status_source",
    "key.generate",
    "operator.add",
    "account.activation_code",
    "issuer.bind",
    "key.certificate",
    "backup.restore",
    "oauth_client.register",
    "oauth_client.revoke",
    "identity_link.add",
    "identity_link.remove",
];

/// Longest reason, bytes.
const MAX_REASON: usize = 1024;

/// An action under dual control, as asked (`POST /v1/approvals`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
        #[schema(value_type = String)]
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
    /// Lifts the seal a restore left (`backup::seal`): the restored deployment signs again.
    /// Names the backup and whether the log written after it was restored too, so approvers
    /// know whether keys destroyed since the backup may have come back.
    #[serde(rename = "backup.restore")]
    ApproveRestore {
        /// The backup restored (`bak_…`).
        backup: String,
        /// The restore was made without the later log.
        without_later_log: bool,
        /// Why.
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
    /// Register a system client of an issuer organisation: a standing approval to use its
    /// keys without a SAD (criteria 2.2.3(2)B-1), so it also needs the consent of a user of
    /// that subscriber. A new scope is a new registration.
    #[serde(rename = "client.register")]
    RegisterClient {
        /// The organisation.
        subscriber: String,
        /// A name for people.
        name: String,
        /// For mutual TLS: the client's certificate (PEM).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        certificate_pem: Option<String>,
        /// For `private_key_jwt`: the client's public JWK.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jwk: Option<Value>,
        /// The keys and operations it may be granted.
        scope: Scope,
    },
    /// Register a signing application for the CSC OAuth2 flow (issue 18): where people may
    /// be sent back after signing in on Inkan's pages.
    #[serde(rename = "oauth_client.register")]
    RegisterOAuthClient {
        /// A name for people (shown on the sign-in and consent pages).
        name: String,
        /// Its redirect URIs: `https`, or `http` on a loopback address (RFC 8252), compared
        /// exactly.
        redirect_uris: Vec<String>,
    },
    /// End a signing application (issue 18): no new request or code of it is accepted, and
    /// every session its codes gave ends.
    #[serde(rename = "oauth_client.revoke")]
    RevokeOAuthClient {
        /// The `client_id`.
        client: String,
        /// Why (recorded in the log).
        reason: String,
    },
    /// Let an external identity provider's subject sign a person in (issue 18 point 5; criteria
    /// 2.2.1(3)): from then on, that provider's sign-in at one of its configured `acr` levels
    /// signs the account's person in to the pages, as password and TOTP do.
    #[serde(rename = "identity_link.add")]
    LinkIdentity {
        /// The provider (`[[identity_providers]] id`).
        provider: String,
        /// Its issuer, as configured: named in the request so that approvers see it, and
        /// checked against the configuration when asked and when carried out.
        issuer: String,
        /// The provider's `sub` for the person.
        subject: String,
        /// The person's account.
        account: String,
        /// Why (for example the identity check the link rests on).
        reason: String,
    },
    /// Remove such a link: the provider's sign-in no longer signs the person in, and the
    /// sessions it started end.
    #[serde(rename = "identity_link.remove")]
    UnlinkIdentity {
        /// The provider.
        provider: String,
        /// The provider's `sub`.
        subject: String,
        /// Why.
        reason: String,
    },
    /// Authorises one run of `inkan keys generate` on the host (for `owner`).
    #[serde(rename = "key.generate")]
    GenerateKey {
        /// The subscriber the key will belong to.
        owner: String,
        /// Why.
        reason: String,
    },
    /// Authorises one run of `inkan keys csr` or `inkan keys attach-cert` for `key` on the
    /// host: what a key is certified as decides whom it signs for (an mdoc's issuer, and when
    /// its certificate expires), so one operator alone never decides it.
    #[serde(rename = "key.certificate")]
    CertifyKey {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// Authorises one run of `inkan operators add` on the host (beyond the first admin).
    #[serde(rename = "operator.add")]
    AddOperator {
        /// The new operator's login name.
        username: String,
        /// Its role.
        #[schema(value_type = String)]
        role: OperatorRole,
        /// Why.
        reason: String,
    },
    /// Set (or, with kind `none`, remove) where a key's status is published, which decides
    /// whether it may sign (criteria 2.2.3(1)B).
    #[serde(rename = "key.status_source")]
    SetStatusSource {
        /// The key.
        key: String,
        /// `x509`, `bitstring`, `token` or `none`.
        kind: String,
        /// Bitstring: the status list credential's URL; token: the Status List Token's `uri`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// The index in the list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u64>,
        /// Bitstring: `revocation` or `suspension`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        purpose: Option<String>,
    },
    /// Give a pending user account a new activation code (criteria 2.1.1(5), 2.1.3(12)): the
    /// requesting officer receives its second half when asking, the approving officer its
    /// first half when the request is carried out; nobody receives both. Asked through
    /// `POST /v1/accounts/{id}/activation-code` (the server makes the second half), never
    /// through `POST /v1/approvals`.
    #[serde(rename = "account.activation_code")]
    ReissueActivationCode {
        /// The user's account.
        account: String,
        /// The hash of the second half handed to the requesting officer.
        second_half_hash: String,
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
            Action::RegisterClient { .. } => ACTIONS[8],
            Action::SetStatusSource { .. } => ACTIONS[9],
            Action::GenerateKey { .. } => ACTIONS[10],
            Action::AddOperator { .. } => ACTIONS[11],
            Action::ReissueActivationCode { .. } => ACTIONS[12],
            Action::BindIssuer { .. } => ACTIONS[13],
            Action::CertifyKey { .. } => ACTIONS[14],
            Action::ApproveRestore { .. } => ACTIONS[15],
            Action::RegisterOAuthClient { .. } => ACTIONS[16],
            Action::RevokeOAuthClient { .. } => ACTIONS[17],
            Action::LinkIdentity { .. } => ACTIONS[18],
            Action::UnlinkIdentity { .. } => ACTIONS[19],
        }
    }

    /// The subscriber whose own consent the action needs besides the operators' approvals
    /// (an authorised user of it approves over their own session): a standing approval to
    /// sign with its keys is never granted by operators alone (criteria 2.2.3(2)B-1).
    pub fn consent_of(&self) -> Option<&str> {
        match self {
            Action::RegisterClient { subscriber, .. } => Some(subscriber),
            _ => None,
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
                | Action::GenerateKey { .. }
                | Action::CertifyKey { .. }
                | Action::AddOperator { .. }
        )
    }

    /// The permission the requester and every approver must hold.
    pub fn permission(&self) -> Permission {
        match self {
            Action::DestroyKey { .. }
            | Action::ImportKey { .. }
            | Action::CreateBackup { .. }
            | Action::ApproveRestore { .. }
            | Action::Decommission { .. }
            | Action::SetStatusSource { .. }
            | Action::GenerateKey { .. }
            | Action::CertifyKey { .. } => Permission::KeyManagement,
            Action::SetOperatorRole { .. }
            | Action::RegisterTerminal { .. }
            | Action::ConfigChange { .. }
            | Action::AddOperator { .. } => Permission::ManageOperators,
            Action::TerminateSubscriber { .. }
            | Action::RegisterClient { .. }
            | Action::RegisterOAuthClient { .. }
            | Action::RevokeOAuthClient { .. }
            | Action::LinkIdentity { .. }
            | Action::UnlinkIdentity { .. }
            | Action::ReissueActivationCode { .. }
            | Action::BindIssuer { .. } => Permission::Registration,
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
            Action::ApproveRestore {
                backup,
                without_later_log,
                ..
            } => format!(
                "backup.restore {backup} {}",
                if *without_later_log {
                    "without the later log (keys destroyed since the backup are back)"
                } else {
                    "with the later log"
                }
            ),
            Action::Decommission { .. } => "service.decommission".into(),
            Action::ConfigChange { digest, .. } => format!("config.change to {digest}"),
            Action::RegisterClient {
                subscriber,
                name,
                scope,
                ..
            } => format!(
                "client.register {name:?} of {subscriber} scope {}",
                scope.to_oauth()
            ),
            Action::SetStatusSource { key, kind, .. } => {
                format!("key.status_source {key} {kind:?}")
            }
            Action::GenerateKey { owner, .. } => format!("key.generate for {owner}"),
            Action::CertifyKey { key, .. } => format!("key.certificate for {key}"),
            Action::AddOperator { username, role, .. } => {
                format!("operator.add {username:?} {role}")
            }
            Action::ReissueActivationCode { account, .. } => {
                format!("account.activation_code {account}")
            }
            Action::BindIssuer { key, identifier } => {
                format!("issuer.bind {identifier} to {key}")
            }
            Action::RegisterOAuthClient {
                name,
                redirect_uris,
            } => format!("oauth_client.register {name:?} redirect_uris {redirect_uris:?}"),
            Action::RevokeOAuthClient { client, .. } => format!("oauth_client.revoke {client}"),
            Action::LinkIdentity {
                provider,
                issuer,
                subject,
                account,
                ..
            } => format!("identity_link.add {provider} ({issuer}) sub {subject:?} to {account}"),
            Action::UnlinkIdentity {
                provider, subject, ..
            } => format!("identity_link.remove {provider} sub {subject:?}"),
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
                if record.owner == crate::keys::own_keys::OWNER {
                    return Err(AuthError::Forbidden(
                        "Inkan's own keys (the transparency log's key, the delivery key) end only with \
                         the service (inkan decommission)"
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
            Action::CertifyKey { key, reason } => {
                check_reason(reason)?;
                let record = self.key(key).await?;
                if record.owner == crate::keys::own_keys::OWNER {
                    return Err(AuthError::BadRequest(
                        "Inkan's own keys are not certified by operators".into(),
                    ));
                }
            }
            Action::ImportKey { reason, .. }
            | Action::GenerateKey { reason, .. }
            | Action::AddOperator { reason, .. }
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
            Action::RegisterClient { .. } => {
                self.client_to_register(action).await?;
            }
            Action::SetStatusSource { .. } => {
                self.status_source_record(action, "").await?;
            }
            Action::ReissueActivationCode {
                account,
                second_half_hash,
            } => {
                if !crate::auth::accounts::is_code_half_hash(second_half_hash) {
                    return Err(AuthError::BadRequest(
                        "second_half_hash is a SHA-256, 64 lowercase hex digits".into(),
                    ));
                }
                self.auth.reissuable_account(account).await?;
            }
            Action::BindIssuer { key, identifier } => self.check_binding(key, identifier).await?,
            Action::RegisterOAuthClient {
                name,
                redirect_uris,
            } => {
                crate::oauth::client_record(name, redirect_uris, "", 0)?;
            }
            Action::RevokeOAuthClient { client, reason } => {
                check_reason(reason)?;
                match self.store.oauth_client(client).await? {
                    Some(c) if c.revoked_at.is_none() => {}
                    Some(_) => {
                        return Err(AuthError::Conflict(format!(
                            "OAuth2 client {client} has ended already"
                        )));
                    }
                    None => return Err(AuthError::NotFound(format!("no OAuth2 client {client}"))),
                }
            }
            Action::ApproveRestore { .. } => {
                self.restore_to_approve(action).await?;
            }
            Action::LinkIdentity {
                provider,
                issuer,
                subject,
                account,
                reason,
            } => {
                check_reason(reason)?;
                self.check_identity(provider, subject)?;
                if self.auth.federation().issuer(provider) != Some(issuer.as_str()) {
                    return Err(AuthError::Conflict(format!(
                        "identity provider {provider} has another issuer than {issuer:?}"
                    )));
                }
                match self.store.get_account(account).await? {
                    Some(a) if a.role == AccountRole::User && a.state == AccountState::Active => {}
                    _ => {
                        return Err(AuthError::NotFound(format!(
                            "no active person's account {account}"
                        )));
                    }
                }
                if self.store.identity_link(provider, subject).await?.is_some() {
                    return Err(AuthError::Conflict(format!(
                        "{provider} sub {subject:?} is linked already"
                    )));
                }
            }
            Action::UnlinkIdentity {
                provider,
                subject,
                reason,
            } => {
                check_reason(reason)?;
                if self.store.identity_link(provider, subject).await?.is_none() {
                    return Err(AuthError::NotFound(format!(
                        "{provider} sub {subject:?} is linked to no account"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A provider's subject can be linked: the provider is configured, the `sub` is 1 to 255
    /// characters of text (OpenID Connect Core 1.0 section 2).
    fn check_identity(&self, provider: &str, subject: &str) -> Result<(), AuthError> {
        if self.auth.federation().issuer(provider).is_none() {
            return Err(AuthError::NotFound(format!(
                "no identity provider {provider:?} is configured"
            )));
        }
        if !crate::auth::federation::usable(subject, crate::auth::federation::MAX_SUBJECT) {
            return Err(AuthError::BadRequest(
                "subject must be 1 to 255 bytes without control or invisible formatting characters"
                    .into(),
            ));
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

    /// The seal `action` (a [`Action::ApproveRestore`]) would lift: the one the store holds
    /// now (not this process's view, which another node or a later restore may have
    /// outdated), and only when the request names its backup and how it was restored.
    async fn restore_to_approve(
        &self,
        action: &Action,
    ) -> Result<crate::backup::seal::RestoreRecord, AuthError> {
        let Action::ApproveRestore {
            backup,
            without_later_log,
            reason,
        } = action
        else {
            return Err(AuthError::Internal("not a restore approval".into()));
        };
        check_reason(reason)?;
        let Some(record) = crate::backup::seal::Seal::load(&*self.store)
            .await?
            .sealed()
        else {
            return Err(AuthError::Conflict(
                "this deployment is not sealed by a restore".into(),
            ));
        };
        if record.backup != *backup {
            return Err(AuthError::Conflict(format!(
                "this deployment was restored from backup {}, not {backup}",
                record.backup
            )));
        }
        if record.later_log == *without_later_log {
            return Err(AuthError::Conflict(format!(
                "backup {backup} was restored {} the later log: without_later_log is {}",
                if record.later_log { "with" } else { "without" },
                !record.later_log
            )));
        }
        Ok(record)
    }

    /// The client `action` (a [`Action::RegisterClient`]) would register, checked.
    async fn client_to_register(
        &self,
        action: &Action,
    ) -> Result<inkan_store::auth::ClientRecord, AuthError> {
        let Action::RegisterClient {
            subscriber,
            name,
            certificate_pem,
            jwk,
            scope,
        } = action
        else {
            return Err(AuthError::Internal("not a client registration".into()));
        };
        let credential = match (certificate_pem, jwk) {
            (Some(pem), None) => ClientCredential::Certificate(pem.clone()),
            (None, Some(jwk)) => ClientCredential::Jwk(jwk.clone()),
            _ => {
                return Err(AuthError::BadRequest(
                    "give exactly one of certificate_pem (mutual TLS) and jwk (private_key_jwt)"
                        .into(),
                ));
            }
        };
        self.auth
            .client_record(subscriber, name, credential, scope)
            .await
    }

    /// The key and the status source `action` (a [`Action::SetStatusSource`]) would set for
    /// it, checked by the one check of status sources.
    async fn status_source_record(
        &self,
        action: &Action,
        set_by: &str,
    ) -> Result<(inkan_store::KeyRecord, StatusSourceRecord), AuthError> {
        let Action::SetStatusSource {
            key,
            kind,
            url,
            index,
            purpose,
        } = action
        else {
            return Err(AuthError::Internal("not a status source".into()));
        };
        let record = self.key(key).await?;
        if kind == inkan_store::status::StatusSourceKind::Registry.as_str()
            && !crate::status::registry_may_cover(self.store.as_ref(), &record).await?
        {
            return Err(AuthError::BadRequest(
                "registry is the status source of holders' keys only".into(),
            ));
        }
        let source = crate::status::source_record(
            &record,
            kind,
            url.clone(),
            *index,
            purpose.clone(),
            set_by,
            self.now(),
        )
        .map_err(AuthError::BadRequest)?;
        Ok((record, source))
    }

    async fn key(&self, id: &str) -> Result<inkan_store::KeyRecord, AuthError> {
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
            Action::RegisterClient { .. } => {
                let client = self.client_to_register(action).await?;
                let client = self
                    .auth
                    .register_client(actor.clone(), Some(approval), client)
                    .await?;
                Ok(json!({
                    "client_id": client.id,
                    "subscriber": client.subscriber,
                    "token_endpoint_auth_method": client.auth_method.as_str(),
                    "certificate_thumbprint": client.certificate_thumbprint,
                }))
            }
            Action::SetStatusSource { key, kind, .. } => {
                let (record, source) = self.status_source_record(action, &actor.id).await?;
                let change = async {
                    self.store
                        .set_status_source(&source)
                        .await
                        .map_err(|e| match e {
                            StoreError::Conflict(m) => AuthError::BadRequest(m),
                            other => other.into(),
                        })
                };
                self.auth
                    .operator_key_change(
                        actor.clone(),
                        Some(approval),
                        &record,
                        &format!("status source set: {kind}"),
                        change,
                    )
                    .await?;
                Ok(json!({ "key": key, "kind": kind }))
            }
            Action::RegisterOAuthClient {
                name,
                redirect_uris,
            } => {
                let client =
                    crate::oauth::client_record(name, redirect_uris, approval, self.now())?;
                self.auth
                    .operation(
                        actor.clone(),
                        Some(approval),
                        format!("OAuth2 client {} registered", client.id),
                        async {
                            Ok::<_, AuthError>(self.store.insert_oauth_client(&client).await?)
                        },
                    )
                    .await?;
                Ok(json!({ "client_id": client.id, "redirect_uris": client.redirect_uris }))
            }
            Action::RevokeOAuthClient { client, reason } => {
                let at = self.now();
                let sessions = self
                    .auth
                    .operation(
                        actor.clone(),
                        Some(approval),
                        format!("OAuth2 client {client} revoked: {reason}"),
                        async {
                            Ok::<_, AuthError>(self.store.revoke_oauth_client(client, at).await?)
                        },
                    )
                    .await?;
                Ok(json!({ "client_id": client, "sessionsRevoked": sessions }))
            }
            Action::LinkIdentity {
                provider,
                issuer,
                subject,
                account,
                ..
            } => {
                // Checked again: the provider's issuer or the account may have changed since it
                // was asked.
                self.check_action(action).await?;
                let link = IdentityLinkRecord {
                    provider: provider.clone(),
                    subject: subject.clone(),
                    issuer: issuer.clone(),
                    account_id: account.clone(),
                    approval: approval.into(),
                    created_at: self.now(),
                };
                self.auth
                    .operation(
                        actor.clone(),
                        Some(approval),
                        format!("{provider} sub {subject:?} linked to account {account}"),
                        async { Ok::<_, AuthError>(self.store.insert_identity_link(&link).await?) },
                    )
                    .await?;
                Ok(
                    json!({ "provider": provider, "issuer": issuer, "subject": subject, "account": account }),
                )
            }
            Action::UnlinkIdentity {
                provider,
                subject,
                reason,
            } => {
                let method = crate::auth::federation::provider_method(provider);
                let at = self.now();
                let removed = self
                    .auth
                    .operation(
                        actor.clone(),
                        Some(approval),
                        format!("{provider} sub {subject:?} unlinked: {reason}"),
                        async {
                            self.store
                                .delete_identity_link(provider, subject, &method, at)
                                .await?
                                .ok_or_else(|| {
                                    AuthError::NotFound(format!(
                                        "{provider} sub {subject:?} is not linked"
                                    ))
                                })
                        },
                    )
                    .await?;
                Ok(
                    json!({ "provider": provider, "subject": subject, "account": removed.account_id }),
                )
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
            Action::ApproveRestore { backup, .. } => {
                // Checked again: the seal may have been lifted by another request meanwhile.
                let record = self.restore_to_approve(action).await?;
                let lifted = crate::backup::seal::RestoreRecord {
                    sealed: false,
                    lifted_by: Some(approval.into()),
                    ..record
                };
                self.auth
                    .operation(
                        actor.clone(),
                        Some(approval),
                        format!("the seal of the restore of backup {backup} lifted"),
                        async {
                            Ok::<_, AuthError>(
                                self.store
                                    .set_setting(
                                        crate::backup::seal::SETTING,
                                        &lifted.to_value(),
                                        self.now(),
                                    )
                                    .await?,
                            )
                        },
                    )
                    .await?;
                self.service.seal.lift();
                Ok(json!({ "backup": backup, "sealed": false }))
            }
            Action::ImportKey { .. }
            | Action::GenerateKey { .. }
            | Action::CertifyKey { .. }
            | Action::AddOperator { .. }
            | Action::CreateBackup { .. }
            | Action::Decommission { .. }
            | Action::ConfigChange { .. } => Ok(
                json!({ "authorises": format!("one run of the host command ({})", action.name()) }),
            ),
            // Its first half goes to the approving officer and nowhere else (not into the
            // request's stored result): carried out by `reissue_code`, from `complete`.
            Action::ReissueActivationCode { .. } => Err(AuthError::Internal(
                "an activation code is reissued with its hand-over (Operations::reissue_code)"
                    .into(),
            )),
        }
    }

    /// Carries out an approved `account.activation_code` as `actor`: the account's new code is
    /// bound to the requester's second half; returns what was done (no secret) and the first
    /// half, for the approving officer only.
    pub(super) async fn reissue_code(
        &self,
        actor: &Actor,
        approval: &str,
        account: &str,
        second_half_hash: &str,
    ) -> Result<(Value, zeroize::Zeroizing<String>), AuthError> {
        let reissued = self
            .auth
            .reissue_activation_code(actor.clone(), account, second_half_hash, approval)
            .await?;
        Ok((
            json!({ "account": account, "expiresAt": reissued.expires_at }),
            reissued.activation_code,
        ))
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
