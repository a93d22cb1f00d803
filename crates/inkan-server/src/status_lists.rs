//! The status lists Inkan keeps for the issuers it signs for (issue 16; W3C Bitstring Status
//! List, `statusPurpose` `revocation` or `suspension`).
//!
//! An issuer's system client creates a list for one of its keys ([`StatusLists::create`]);
//! issuance then gives a credential an entry of it ([`StatusLists::entry_for`]: an index chosen
//! at random and handed out by the store once, never again, even if the signature fails); the
//! client changes an entry's status ([`StatusLists::change`]; a revocation is final), and the
//! list is published at a public URL of Inkan as a `BitstringStatusListCredential` secured as
//! `vc+jwt`, signed with the issuer's key through the signing module.
//!
//! Publication is batched: a change only counts in the store; every node runs
//! [`StatusLists::publish_due`] every [`PublishPolicy::every`], which signs one new version of
//! each list that changed (however many changes) or whose latest version is half-way through
//! its validity. Versions are numbered and stored only as the next one, so two nodes never
//! publish the same version twice. The first version is signed when the list is created.
//!
//! Whose instruction a publication is: creating a list is the issuer's client instructing
//! Inkan to keep it signed with that key (logged, `status_list.created`). Each publication is
//! signed under that client's standing approval as it stands then: the client must still be
//! active, of the list's subscriber, with a scope that grants it the key for `vc+jwt`, and the
//! signing module makes every check and log entry of any other signature. The content is built
//! here from the store, never taken from a caller.
//!
//! Must never: hand out an index twice or free one, change a final status, sign anything but a
//! list credential built here, sign outside the signing module, or let a caller read or change
//! another subscriber's list.

use crate::auth::access::{Operation, Scope, authorize_key};
use crate::auth::{AuthError, Caller, CallerKind};
use crate::log::LogError;
use crate::log::{Event, FailureCategory};
use crate::service::Service;
use crate::signing::{Activation, SignRequest, SigningModule};
use inkan_formats::jose::{KeyHint, format_rfc3339, vc_jwt};
use inkan_formats::status::bitstring::MIN_ENTRIES;
use inkan_formats::status::{
    BitstringStatusList, BitstringStatusListCredential, BitstringStatusListEntry, StatusPurpose,
};
use inkan_log::entry::EntryKind;
use inkan_store::{
    KeyId, KeyRecord, KeyState, ListFormat, StatusChange, StatusEntryRecord, StatusListRecord,
    StatusListVersion, StoreError,
};
use rand_core::RngCore as _;
use std::sync::Arc;
use std::time::Duration;

/// The media type of a published list.
pub const VC_JWT: &str = "application/vc+jwt";

/// The most entries a list may have (2 MiB of bits).
pub const MAX_ENTRIES: u64 = 16_777_216;

/// What the signing module records a list's signature as.
const LIST_DOCUMENT_TYPE: &str = "vc+jwt";

/// How far back a version's `validFrom` is set.
const VALID_FROM_SLACK_MS: i64 = 60_000;

/// How many rounds a list whose publication failed waits before the next try.
const FAILED_WAIT_ROUNDS: i64 = 10;

/// The time to live of a list when its creator names none.
const DEFAULT_TTL_SECONDS: u64 = 300;

/// How many random indexes are tried, one statement each, before a list is called full (at
/// 90% full the chance of that is 0.1%). One candidate a statement keeps every index equally
/// likely: picking among several would favour some (the store inserts in ascending order).
const ATTEMPTS: usize = 64;

/// Why a status list operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusListError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("signing the status list failed: {0}")]
    Signing(String),
}

impl FailureCategory for StatusListError {
    fn category(&self) -> &'static str {
        match self {
            StatusListError::BadRequest(_) => "bad request",
            StatusListError::NotFound(_) => "not found",
            StatusListError::Forbidden(_) => "forbidden",
            StatusListError::Conflict(_) => "conflict",
            StatusListError::Store(_) => "store error",
            StatusListError::Log(_) => "log error",
            StatusListError::Signing(_) => "signing failed",
        }
    }
}

impl From<AuthError> for StatusListError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NotFound(m) => StatusListError::NotFound(m),
            AuthError::BadRequest(m) => StatusListError::BadRequest(m),
            AuthError::Conflict(m) => StatusListError::Conflict(m),
            AuthError::Forbidden(m) | AuthError::Unauthenticated(m) => {
                StatusListError::Forbidden(m)
            }
            AuthError::Store(e) => StatusListError::Store(e),
            AuthError::Log(e) => StatusListError::Log(e),
            // Inside failures stay inside (a 500 whose detail is logged).
            other => StatusListError::Signing(other.to_string()),
        }
    }
}

/// What a client asks for a new list.
#[derive(Debug, Clone)]
pub struct NewList {
    /// The key that signs the list and the credentials with entries in it.
    pub key_id: String,
    /// `revocation` or `suspension`.
    pub purpose: String,
    /// Entries (default and minimum 131,072, the W3C minimum for herd privacy).
    pub size: Option<u64>,
    /// How long verifiers may cache the list (default 300 s).
    pub ttl_seconds: Option<u64>,
}

/// How lists are published.
#[derive(Debug, Clone, Copy)]
pub struct PublishPolicy {
    /// How often each node publishes the lists that changed.
    pub every: Duration,
    /// How long a published version is valid (`validUntil`); a new one is signed half-way.
    pub valid_for: Duration,
}

impl Default for PublishPolicy {
    fn default() -> Self {
        PublishPolicy {
            every: Duration::from_secs(60),
            valid_for: Duration::from_secs(86_400),
        }
    }
}

/// What a round of [`StatusLists::publish_due`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PublishReport {
    /// Lists a new version was signed for, by this node.
    pub published: Vec<String>,
    /// Lists whose publication failed (logged; tried again next round).
    pub failed: Vec<String>,
}

/// The status lists of issuers, as the API and the publisher task use them.
#[derive(Debug)]
pub struct StatusLists {
    service: Arc<Service>,
    signing: Arc<SigningModule>,
    public_url: String,
    policy: PublishPolicy,
}

impl StatusLists {
    pub fn new(
        service: Arc<Service>,
        signing: Arc<SigningModule>,
        public_url: &str,
        policy: PublishPolicy,
    ) -> Self {
        StatusLists {
            service,
            signing,
            public_url: public_url.trim_end_matches('/').to_owned(),
            policy,
        }
    }

    /// How often [`publish_due`](Self::publish_due) runs.
    pub fn policy(&self) -> PublishPolicy {
        self.policy
    }

    /// The public URL of list `id`: the list credential's `id` and what entries point to.
    pub fn url(&self, id: &str) -> String {
        format!("{}/status-lists/{id}", self.public_url)
    }

    /// Creates a list for one of the caller's keys (written ahead: `status_list.created`) and
    /// publishes its first version under the caller's standing approval.
    pub async fn create(
        &self,
        caller: &Caller,
        new: NewList,
    ) -> Result<StatusListRecord, StatusListError> {
        if caller.kind != CallerKind::Client {
            return Err(StatusListError::Forbidden(
                "a status list is created by an issuer's system client".into(),
            ));
        }
        let key = self.signing_key(caller, &new.key_id, true).await?;
        let purpose = match new.purpose.as_str() {
            "revocation" | "suspension" => new.purpose.clone(),
            other => {
                return Err(StatusListError::BadRequest(format!(
                    "purpose: {other:?} is not revocation or suspension"
                )));
            }
        };
        let size = new.size.unwrap_or(MIN_ENTRIES as u64);
        if !(MIN_ENTRIES as u64..=MAX_ENTRIES).contains(&size) {
            return Err(StatusListError::BadRequest(format!(
                "size: from {MIN_ENTRIES} (the W3C minimum, for herd privacy) to {MAX_ENTRIES} \
                 entries"
            )));
        }
        let ttl_seconds = new.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
        if !(1..=86_400).contains(&ttl_seconds) {
            return Err(StatusListError::BadRequest(
                "ttlSeconds: from 1 to 86400".into(),
            ));
        }
        let list = StatusListRecord {
            id: inkan_store::auth::new_id("sl"),
            owner: key.owner.clone(),
            key_id: key.id.to_string(),
            format: ListFormat::Bitstring,
            purpose: Some(purpose),
            bits: 1,
            size,
            messages: None,
            ttl_ms: i64::try_from(ttl_seconds * 1000).unwrap_or(i64::MAX),
            created_at: self.service.clock.now(),
            created_by: caller.id.clone(),
            changes: 0,
        };
        let event = Event::new(EntryKind::StatusListCreated, caller.actor())
            .key(&key.id)
            .note(format!(
                "status list {} ({}, {} entries) at {}",
                list.id,
                list.purpose.as_deref().unwrap_or_default(),
                list.size,
                self.url(&list.id)
            ));
        let store = self.service.store.clone();
        let stored = list.clone();
        self.service
            .recorder
            .write_ahead(event, async move {
                store.insert_status_list(&stored).await?;
                Ok::<_, StatusListError>(())
            })
            .await?;
        // The first version now, so that entries never point to nothing. If it fails the list
        // stays (unused: no entry is handed out before it is published) and the publisher
        // tries again later.
        self.claim_and_publish(&list, caller.clone(), key).await?;
        Ok(list)
    }

    /// The lists of the caller's subscriber (for a system client, of the keys its scope
    /// names).
    pub async fn lists(&self, caller: &Caller) -> Result<Vec<StatusListRecord>, StatusListError> {
        let subscriber = subscriber_of(caller)?;
        let lists = self.service.store.status_lists_of(subscriber).await?;
        Ok(lists.into_iter().filter(|l| in_scope(caller, l)).collect())
    }

    /// The list `id` if it is the caller's subscriber's (`NotFound` otherwise).
    pub async fn list(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<StatusListRecord, StatusListError> {
        let subscriber = subscriber_of(caller)?;
        match self.service.store.get_status_list(id).await? {
            Some(list) if list.owner == subscriber && in_scope(caller, &list) => Ok(list),
            _ => Err(StatusListError::NotFound(format!("no status list {id}"))),
        }
    }

    /// Hands out an index of `list_id` for a credential that `key` is about to sign: the index
    /// and the `credentialStatus` entry to put in the credential. The list must be one of the
    /// key's (the same key signs the list).
    pub async fn entry_for(
        &self,
        key: &KeyRecord,
        list_id: &str,
    ) -> Result<(u64, serde_json::Value), StatusListError> {
        let list = match self.service.store.get_status_list(list_id).await? {
            Some(list) if list.owner == key.owner && list.key_id == key.id.as_str() => list,
            _ => {
                return Err(StatusListError::BadRequest(format!(
                    "options.credentialStatus.statusList: {list_id} is not a status list of the \
                     signing key"
                )));
            }
        };
        if self
            .service
            .store
            .latest_status_list_version(&list.id)
            .await?
            .is_none()
        {
            return Err(StatusListError::Conflict(format!(
                "status list {} is not published yet: its entries would point to nothing",
                list.id
            )));
        }
        let purpose = StatusPurpose::parse(list.purpose.as_deref().unwrap_or_default());
        let now = self.service.clock.now();
        for _ in 0..ATTEMPTS {
            let candidate = rand_core::OsRng.next_u64() % list.size;
            let taken = self
                .service
                .store
                .reserve_status_indexes(&list.id, &[candidate], 1, now)
                .await?;
            if let Some(&index) = taken.first() {
                let url = self.url(&list.id);
                let entry = BitstringStatusListEntry {
                    id: Some(format!("{url}#{index}")),
                    status_purpose: purpose,
                    status_list_index: index,
                    status_list_credential: url,
                    status_size: 1,
                    status_messages: Vec::new(),
                    status_reference: Vec::new(),
                };
                return Ok((index, entry.to_json()));
            }
        }
        Err(StatusListError::Conflict(format!(
            "status list {} has no free index left (or nearly none): create another",
            list.id
        )))
    }

    /// Records that `index` of `list_id` went to the credential whose signature is the log
    /// entry `log_index`, signing input `digest`.
    pub async fn bind(
        &self,
        list_id: &str,
        index: u64,
        digest: &str,
        log_index: u64,
    ) -> Result<(), StatusListError> {
        Ok(self
            .service
            .store
            .bind_status_entry(list_id, index, digest, log_index)
            .await?)
    }

    /// Sets the status of entry `index` of `list_id` (written ahead:
    /// `credential.status_changed`): `revoked` (final) on a revocation list, `suspended` or
    /// `valid` on a suspension list. The caller must be a client of the list's subscriber
    /// granted its key. Published by the next round of [`publish_due`](Self::publish_due).
    pub async fn change(
        &self,
        caller: &Caller,
        list_id: &str,
        index: u64,
        status: &str,
    ) -> Result<StatusEntryRecord, StatusListError> {
        if caller.kind != CallerKind::Client {
            return Err(StatusListError::Forbidden(
                "a credential's status is changed by an issuer's system client".into(),
            ));
        }
        let list = self.list(caller, list_id).await?;
        // Granted the key for the list's signatures, whatever state the key is in now: an
        // issuer must be able to revoke after its key was closed or renewed.
        self.key_granted(caller, &list.key_id, true).await?;
        if index >= list.size {
            return Err(StatusListError::NotFound(format!(
                "index {index} is outside status list {list_id} ({} entries)",
                list.size
            )));
        }
        let (value, make_final) = match (list.purpose.as_deref(), status) {
            (Some("revocation"), "revoked") => (1, true),
            (Some("revocation"), "valid") => {
                return Err(StatusListError::Conflict(
                    "a revocation is final: a revocation list knows no way back to valid".into(),
                ));
            }
            (Some("suspension"), "suspended") => (1, false),
            (Some("suspension"), "valid") => (0, false),
            (purpose, other) => {
                return Err(StatusListError::BadRequest(format!(
                    "status: {other:?} is not a status of a {} list (revoked; suspended or \
                     valid)",
                    purpose.unwrap_or("token")
                )));
            }
        };
        let change = StatusChange {
            list_id: list.id.clone(),
            index,
            value,
            make_final,
            at: self.service.clock.now(),
            by: caller.id.clone(),
        };
        let event = Event::new(EntryKind::CredentialStatusChanged, caller.actor())
            .key(&list.key_id)
            .note(format!("status list {} index {index}: {status}", list.id));
        let store = self.service.store.clone();
        self.service
            .recorder
            .write_ahead(event, async move {
                store.change_status(&change).await.map_err(|e| match e {
                    StoreError::NotFound(m) => StatusListError::NotFound(m),
                    StoreError::Conflict(m) => StatusListError::Conflict(m),
                    other => StatusListError::Store(other),
                })
            })
            .await
    }

    /// [`change`](Self::change) of every entry that went to the credential whose signing input
    /// has `digest` (as the signature index names it, `sha-256:…`), in the lists the caller
    /// may see whose purpose knows `status`. `NotFound` if there is none.
    pub async fn change_by_digest(
        &self,
        caller: &Caller,
        digest: &str,
        status: &str,
    ) -> Result<Vec<StatusEntryRecord>, StatusListError> {
        let entries = self.service.store.status_entries_by_digest(digest).await?;
        let mut changed = Vec::new();
        for entry in entries {
            let Ok(list) = self.list(caller, &entry.list_id).await else {
                continue;
            };
            let known = matches!(
                (list.purpose.as_deref(), status),
                (Some("revocation"), "revoked") | (Some("suspension"), "suspended" | "valid")
            );
            if known {
                changed.push(self.change(caller, &list.id, entry.index, status).await?);
            }
        }
        if changed.is_empty() {
            return Err(StatusListError::NotFound(format!(
                "no entry for {digest} in a list whose purpose knows {status:?}"
            )));
        }
        Ok(changed)
    }

    /// The latest published version of list `id`, for its public URL.
    pub async fn published(&self, id: &str) -> Result<StatusListVersion, StatusListError> {
        self.service
            .store
            .latest_status_list_version(id)
            .await?
            .ok_or_else(|| StatusListError::NotFound(format!("no published status list {id}")))
    }

    /// Signs a new version of every list that changed since its latest one, or whose latest
    /// version is half-way through its validity, each under its creator's standing approval.
    pub async fn publish_due(&self) -> PublishReport {
        let mut report = PublishReport::default();
        let half = i64::try_from(self.policy.valid_for.as_millis() / 2).unwrap_or(i64::MAX);
        let now = self.service.clock.now();
        let renew_at = now.saturating_add(half);
        let due = match self
            .service
            .store
            .status_lists_to_publish(renew_at, now)
            .await
        {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "could not read the status lists due for publication");
                return report;
            }
        };
        for list in due {
            match self.publish_as_creator(&list).await {
                Ok(true) => report.published.push(list.id),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(list = %list.id, %error, "a status list was not published");
                    // Held back, so that a list that keeps failing does not take the place of
                    // others in every round.
                    let until = self
                        .service
                        .clock
                        .now()
                        .saturating_add(self.lease_ms().saturating_mul(FAILED_WAIT_ROUNDS));
                    if let Err(error) = self.service.store.hold_status_list(&list.id, until).await {
                        tracing::error!(list = %list.id, %error, "could not hold a failing status list back");
                    }
                    report.failed.push(list.id);
                }
            }
        }
        report
    }

    /// How long a node holds a list it claimed: one round.
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.policy.every.as_millis()).unwrap_or(i64::MAX)
    }

    /// Claims `list` for this round and publishes it for `caller`: `false` if another node
    /// holds it.
    async fn claim_and_publish(
        &self,
        list: &StatusListRecord,
        caller: Caller,
        key: KeyRecord,
    ) -> Result<bool, StatusListError> {
        let now = self.service.clock.now();
        let until = now.saturating_add(self.lease_ms());
        if !self
            .service
            .store
            .claim_status_list(&list.id, now, until)
            .await?
        {
            return Ok(false);
        }
        match self.publish(list, caller, key).await {
            Ok(_) => Ok(true),
            Err(StatusListError::Conflict(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// [`publish`](Self::publish) under the standing approval of the client that created
    /// `list`, as it stands now. `false` if another node published the version first.
    async fn publish_as_creator(&self, list: &StatusListRecord) -> Result<bool, StatusListError> {
        let client = self
            .service
            .store
            .get_client(&list.created_by)
            .await?
            .filter(|c| c.active && c.subscriber == list.owner)
            .ok_or_else(|| {
                StatusListError::Forbidden(format!(
                    "the client {} that keeps status list {} signed is no longer active for its \
                     subscriber",
                    list.created_by, list.id
                ))
            })?;
        let scope = serde_json::from_str::<Scope>(&client.scope).map_err(|e| {
            StatusListError::Forbidden(format!("client {}'s scope: {e}", client.id))
        })?;
        let caller = Caller {
            kind: CallerKind::Client,
            id: client.id,
            subscriber: Some(client.subscriber),
            session: format!("status-list:{}", list.id),
            method: "standing".into(),
            scope: Some(scope),
            terminal: None,
            role: None,
        };
        let key = self.signing_key(&caller, &list.key_id, true).await?;
        self.claim_and_publish(list, caller, key).await
    }

    /// Signs and stores the next version of `list` as the store has it now, through the signing
    /// module for `caller` (standing approval). `Conflict` if another node stored that version
    /// first.
    async fn publish(
        &self,
        list: &StatusListRecord,
        caller: Caller,
        key: KeyRecord,
    ) -> Result<StatusListVersion, StatusListError> {
        let store = &self.service.store;
        // The latest version first, then the state: a version stored meanwhile by another node
        // takes this one's number, never a newer number over an older state (the store also
        // refuses a version covering fewer changes than the latest).
        let next = store
            .latest_status_list_version(&list.id)
            .await?
            .map_or(1, |v| v.version + 1);
        let snapshot = store.status_snapshot(&list.id).await?;
        let size = usize::try_from(list.size)
            .map_err(|_| StatusListError::BadRequest("the list is too large".into()))?;
        let mut bits = BitstringStatusList::new(size, 1)
            .map_err(|e| StatusListError::BadRequest(e.to_string()))?;
        for (index, value) in &snapshot.values {
            bits.set(*index, *value)
                .map_err(|e| StatusListError::Signing(e.to_string()))?;
        }
        let now = self.service.clock.now();
        let valid_for = i64::try_from(self.policy.valid_for.as_millis()).unwrap_or(i64::MAX);
        // `validFrom` a minute back, for verifiers whose clock is a little behind.
        let (valid_from, valid_until) = (now - VALID_FROM_SLACK_MS, now.saturating_add(valid_for));
        let public_key = crate::signing::key_ref(&key)
            .map_err(|e| StatusListError::Signing(e.to_string()))?
            .public_key;
        let url = self.url(&list.id);
        let credential = BitstringStatusListCredential::unsigned(
            &url,
            &public_key.did_key(),
            &StatusPurpose::parse(list.purpose.as_deref().unwrap_or_default()),
            &bits,
            Some(&format_rfc3339(valid_from.div_euclid(1000))),
            Some(&format_rfc3339(valid_until.div_euclid(1000))),
            u64::try_from(list.ttl_ms).ok(),
        )
        .map_err(|e| StatusListError::Signing(e.to_string()))?;
        let signer = self.signing.signer(SignRequest {
            caller,
            key,
            activation: Activation::Standing,
            document_type: LIST_DOCUMENT_TYPE.into(),
            checked_at: None,
            token: None,
        });
        let key_ref = signer
            .key_ref()
            .map_err(|e| StatusListError::Signing(e.to_string()))?;
        let jwt = vc_jwt::issue_vc_jwt(&signer, &key_ref, &credential, KeyHint::Kid)
            .await
            .map_err(|e| match signer.take_failure() {
                Some(failure) => StatusListError::Signing(failure.to_string()),
                None => StatusListError::Signing(e.to_string()),
            })?;
        let version = StatusListVersion {
            list_id: list.id.clone(),
            version: next,
            covers: snapshot.changes,
            media_type: VC_JWT.into(),
            document: jwt,
            valid_from,
            valid_until,
            log_index: signer.log_indexes().last().copied(),
            published_at: self.service.clock.now(),
        };
        store
            .insert_status_list_version(&version)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => StatusListError::Conflict(m),
                other => StatusListError::Store(other),
            })?;
        tracing::info!(list = %list.id, version = next, covers = snapshot.changes, "status list published");
        Ok(version)
    }

    /// The key `key_id`, granted to `caller` for signing (and, with `lists`, for signing
    /// `vc+jwt` documents, which its lists are), in whatever state it is.
    async fn key_granted(
        &self,
        caller: &Caller,
        key_id: &str,
        lists: bool,
    ) -> Result<KeyRecord, StatusListError> {
        let id =
            KeyId::parse(key_id).map_err(|e| StatusListError::BadRequest(format!("keyId: {e}")))?;
        let key = self.service.registry.get(&id).await.map_err(|e| match e {
            crate::keys::KeyError::NotFound(_) => {
                StatusListError::NotFound(format!("no key {key_id}"))
            }
            other => StatusListError::Signing(other.to_string()),
        })?;
        authorize_key(caller, &key, Operation::Sign)?;
        let formats = caller
            .scope
            .as_ref()
            .and_then(|s| s.grant(key.id.as_str()))
            .and_then(|g| g.formats.as_ref());
        if lists && formats.is_some_and(|f| !f.iter().any(|f| f == LIST_DOCUMENT_TYPE)) {
            return Err(StatusListError::Forbidden(format!(
                "the client's grant of {key_id} does not cover {LIST_DOCUMENT_TYPE} documents, \
                 which its status lists are"
            )));
        }
        Ok(key)
    }

    /// [`key_granted`](Self::key_granted), and active.
    async fn signing_key(
        &self,
        caller: &Caller,
        key_id: &str,
        lists: bool,
    ) -> Result<KeyRecord, StatusListError> {
        let key = self.key_granted(caller, key_id, lists).await?;
        if key.state != KeyState::Active {
            return Err(StatusListError::Conflict(format!(
                "key {key_id} is {}",
                key.state.as_str()
            )));
        }
        Ok(key)
    }
}

/// Whether `caller` may see `list`: anyone of its subscriber, a system client only for a key
/// its scope names.
fn in_scope(caller: &Caller, list: &StatusListRecord) -> bool {
    match (&caller.kind, &caller.scope) {
        (CallerKind::Client, Some(scope)) => scope.grant(&list.key_id).is_some(),
        _ => true,
    }
}

/// The subscriber a caller acts for (operators have none here).
fn subscriber_of(caller: &Caller) -> Result<&str, StatusListError> {
    caller.subscriber.as_deref().ok_or_else(|| {
        StatusListError::Forbidden("status lists belong to a subscriber's issuers".into())
    })
}
