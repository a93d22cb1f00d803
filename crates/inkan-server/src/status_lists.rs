//! The status lists Inkan keeps for the issuers it signs for (issue 16): W3C Bitstring Status
//! Lists (`statusPurpose` `revocation` or `suspension`, for VC-JWT and Data Integrity
//! credentials, published as `vc+jwt`) and IETF Token Status Lists (1, 2, 4 or 8 bits,
//! published as `statuslist+jwt` for SD-JWT VCs or `statuslist+cwt` for mdocs).
//!
//! An issuer's system client creates a list for one of its keys ([`StatusLists::create`]);
//! issuance then gives a credential an entry of it ([`StatusLists::entry_for`]: an index chosen
//! at random and handed out by the store once, never again, even if the signature fails); the
//! client changes an entry's status ([`StatusLists::change`]; a revocation is final), and the
//! list is published at a public URL of Inkan, signed with the issuer's key through the signing
//! module.
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
use crate::delivery::{Delivery, DeliveryError};
use crate::log::LogError;
use crate::log::{Event, FailureCategory};
use crate::service::Service;
use crate::signing::{
    ActivatedSigner, Activation, SignRequest, SigningModule, verification_method,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions};
use inkan_formats::jose::{KeyHint, format_rfc3339, sign_compact, vc_jwt};
use inkan_formats::mdoc::cose;
use inkan_formats::status::bitstring::MIN_ENTRIES;
use inkan_formats::status::token::{CWT_TYP, JWT_TYP};
use inkan_formats::status::{
    BitstringStatusList, BitstringStatusListCredential, BitstringStatusListEntry, StatusListToken,
    StatusMessage, StatusPurpose, TokenStatusList,
};
use inkan_log::entry::EntryKind;
use inkan_store::{
    KeyId, KeyRecord, KeyState, ListFormat, SignedAs, StatusChange, StatusEntryRecord,
    StatusListRecord, StatusListVersion, StoreError,
};
use rand_core::RngCore as _;
use std::sync::Arc;
use std::time::Duration;

/// The media type of a published W3C list signed as a JWT.
pub const VC_JWT: &str = "application/vc+jwt";

/// The media type of a published W3C list with a Data Integrity proof (VCDM 2.0 §6.3: a
/// credential whose proof is embedded).
pub const VC_LD: &str = "application/vc";

/// The media type of a published token list signed as a JWT.
pub const STATUSLIST_JWT: &str = "application/statuslist+jwt";

/// The media type of a published token list signed as a CWT (stored base64url, served as
/// bytes).
pub const STATUSLIST_CWT: &str = CWT_TYP;

/// The most entries a list may have (2 MiB of bits).
pub const MAX_ENTRIES: u64 = 16_777_216;

/// What the signing module records a list's signature as (what a client's grant must cover).
fn document_type(format: ListFormat, signed_as: SignedAs) -> &'static str {
    match (format, signed_as) {
        (ListFormat::Token, SignedAs::Cwt) => "statuslist+cwt",
        (ListFormat::Token, _) => "statuslist+jwt",
        (ListFormat::Bitstring, SignedAs::DataIntegrity) => "ldp_vc",
        (ListFormat::Bitstring, _) => "vc+jwt",
    }
}

/// The media type a list's versions are published as.
fn media_type(format: ListFormat, signed_as: SignedAs) -> &'static str {
    match (format, signed_as) {
        (ListFormat::Token, SignedAs::Cwt) => STATUSLIST_CWT,
        (ListFormat::Token, _) => STATUSLIST_JWT,
        (ListFormat::Bitstring, SignedAs::DataIntegrity) => VC_LD,
        (ListFormat::Bitstring, _) => VC_JWT,
    }
}

/// Which lists a credential being issued takes entries of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListChoice {
    /// The key's default: its newest usable revocation (W3C) or token list.
    Default,
    /// These lists (`sl_…`), in this order.
    Named(Vec<String>),
}

impl ListChoice {
    /// The most lists one credential takes entries of.
    pub const MOST: usize = 4;

    /// From a request's option: `"default"`, a list id, or (where `many`) an array of them.
    pub fn parse(value: &serde_json::Value, many: bool) -> Result<Self, StatusListError> {
        let refused = || {
            StatusListError::BadRequest(format!(
                "statusList: \"default\" or a list id (sl_…){}",
                if many {
                    format!(", or an array of up to {} list ids", Self::MOST)
                } else {
                    String::new()
                }
            ))
        };
        match value {
            serde_json::Value::String(s) if s == "default" => Ok(ListChoice::Default),
            serde_json::Value::String(id) => Ok(ListChoice::Named(vec![id.clone()])),
            serde_json::Value::Array(ids) if many && !ids.is_empty() && ids.len() <= Self::MOST => {
                let ids: Vec<String> = ids
                    .iter()
                    .map(|id| id.as_str().map(str::to_owned).ok_or_else(refused))
                    .collect::<Result<_, _>>()?;
                let mut unique = ids.clone();
                unique.sort();
                unique.dedup();
                if unique.len() != ids.len() {
                    return Err(StatusListError::BadRequest(
                        "statusList: a list is named twice".into(),
                    ));
                }
                Ok(ListChoice::Named(ids))
            }
            _ => Err(refused()),
        }
    }
}

/// What a credential being issued takes an entry in: which lists fit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFor {
    /// A W3C credential secured as a VC-JWT: a `BitstringStatusListEntry` of a bitstring list
    /// signed as a JWT (what a JOSE verifier reads).
    W3cJwt,
    /// A W3C credential with a Data Integrity proof: a `BitstringStatusListEntry` of a
    /// bitstring list signed as a Data Integrity credential (what a DI verifier reads).
    W3cDataIntegrity,
    /// An SD-JWT VC: the `status` claim, of a token list published as `statuslist+jwt` (what
    /// its verifiers fetch).
    SdJwtVc,
    /// An mdoc: the MSO's `status`, of a token list published as `statuslist+cwt`.
    Mdoc,
}

impl EntryFor {
    /// Why `list` cannot take this credential's entry, if it cannot.
    fn refusal(self, list: &StatusListRecord) -> Option<&'static str> {
        match (self, list.format, list.signed_as) {
            (EntryFor::W3cJwt, ListFormat::Bitstring, SignedAs::Jwt)
            | (EntryFor::W3cDataIntegrity, ListFormat::Bitstring, SignedAs::DataIntegrity)
            | (EntryFor::SdJwtVc, ListFormat::Token, SignedAs::Jwt)
            | (EntryFor::Mdoc, ListFormat::Token, SignedAs::Cwt) => None,
            (EntryFor::W3cJwt, _, _) => {
                Some("a VC-JWT takes a bitstring list signed as jwt (its verifiers read JOSE)")
            }
            (EntryFor::W3cDataIntegrity, _, _) => Some(
                "a Data Integrity credential takes a bitstring list signed as data-integrity \
                 (its verifiers read Data Integrity)",
            ),
            (EntryFor::SdJwtVc, _, _) => {
                Some("an SD-JWT VC takes a token list signed as jwt (statuslist+jwt)")
            }
            (EntryFor::Mdoc, _, _) => {
                Some("an mdoc takes a token list signed as cwt (statuslist+cwt)")
            }
        }
    }
}

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
    /// `bitstring` (W3C, the default) or `token` (IETF Token Status List).
    pub format: Option<String>,
    /// W3C: `revocation` or `suspension`; none for a token list.
    pub purpose: Option<String>,
    /// Bits per entry. Token list: 1 (valid, invalid), 2 (the default: also suspended), 4 or 8.
    /// W3C `message` list: its `statusSize`, 1, 2 (the default), 4 or 8.
    pub bits: Option<u8>,
    /// W3C `message` list: the message of each value, from 0x0 (2^bits of them).
    pub messages: Option<Vec<String>>,
    /// How versions are signed: `jwt` (the default), `cwt` (token lists, for mdocs).
    pub signed_as: Option<String>,
    /// Entries (default and minimum 131,072, the W3C minimum for herd privacy).
    pub size: Option<u64>,
    /// A delivery destination of the subscriber (`dst_…`) each new version is pushed to.
    pub deliver_to: Option<String>,
    /// How long verifiers may cache the list (default 300 s).
    pub ttl_seconds: Option<u64>,
}

/// How lists are published, and how many a subscriber may keep.
#[derive(Debug, Clone, Copy)]
pub struct PublishPolicy {
    /// How often each node publishes the lists that changed.
    pub every: Duration,
    /// How long a published version is valid (`validUntil`); a new one is signed half-way.
    pub valid_for: Duration,
    /// The most lists one subscriber keeps (checked before a creation is logged, and again by
    /// the store where creations for one subscriber take turns).
    pub max_per_subscriber: u32,
}

impl Default for PublishPolicy {
    fn default() -> Self {
        PublishPolicy {
            every: Duration::from_secs(60),
            valid_for: Duration::from_secs(86_400),
            max_per_subscriber: 100,
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
    delivery: Arc<Delivery>,
    public_url: String,
    policy: PublishPolicy,
}

impl StatusLists {
    pub fn new(
        service: Arc<Service>,
        signing: Arc<SigningModule>,
        delivery: Arc<Delivery>,
        public_url: &str,
        policy: PublishPolicy,
    ) -> Self {
        StatusLists {
            service,
            signing,
            delivery,
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

    /// Whether a status entry a caller wrote itself (`credentialStatus`, an SD-JWT `status`)
    /// names one of the lists Inkan keeps: its index was never handed out, so it is refused.
    pub fn points_into_a_list(&self, given: &serde_json::Value) -> bool {
        given.to_string().contains(&self.url(""))
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
        let format = match new.format.as_deref().unwrap_or("bitstring") {
            "bitstring" => ListFormat::Bitstring,
            "token" => ListFormat::Token,
            other => {
                return Err(StatusListError::BadRequest(format!(
                    "format: {other:?} is not bitstring or token"
                )));
            }
        };
        let signed_as = match (format, new.signed_as.as_deref().unwrap_or("jwt")) {
            (_, "jwt") => SignedAs::Jwt,
            (ListFormat::Token, "cwt") => SignedAs::Cwt,
            (ListFormat::Bitstring, "data-integrity") => SignedAs::DataIntegrity,
            (_, other) => {
                return Err(StatusListError::BadRequest(format!(
                    "signedAs: {other:?} is not {} for a {} list",
                    match format {
                        ListFormat::Token => "jwt or cwt",
                        ListFormat::Bitstring => "jwt or data-integrity",
                    },
                    format.as_str()
                )));
            }
        };
        let key = self
            .signing_key(caller, &new.key_id, Some(document_type(format, signed_as)))
            .await?;
        if signed_as == SignedAs::DataIntegrity && Cryptosuite::default_for(key.algorithm).is_none()
        {
            return Err(StatusListError::BadRequest(format!(
                "signedAs: Data Integrity has no cryptosuite for {} keys; use jwt",
                key.algorithm
            )));
        }
        // A CWT list names its signer only by the certificate in its `x5chain` (as the mdocs
        // pointing to it do): a key without one could not be told apart by a verifier.
        if signed_as == SignedAs::Cwt && key.certificate_chain.is_empty() {
            return Err(StatusListError::BadRequest(format!(
                "signedAs: a CWT list carries its signer's certificate (x5chain), and {} has \
                 none: attach the document signer certificate first (inkan keys attach-cert)",
                key.id
            )));
        }
        let (purpose, bits) = match (format, new.purpose.as_deref(), new.bits) {
            (ListFormat::Bitstring, Some(p @ ("revocation" | "suspension")), None | Some(1)) => {
                (Some(p.to_owned()), 1)
            }
            (ListFormat::Bitstring, Some(p @ ("revocation" | "suspension")), Some(_)) => {
                return Err(StatusListError::BadRequest(format!(
                    "bits: a {p} list has one bit per entry"
                )));
            }
            (ListFormat::Bitstring, Some("message"), bits @ (None | Some(1 | 2 | 4 | 8))) => {
                (Some("message".to_owned()), bits.unwrap_or(2))
            }
            (ListFormat::Bitstring, Some("message"), Some(other)) => {
                return Err(StatusListError::BadRequest(format!(
                    "bits: {other} is not 1, 2, 4 or 8"
                )));
            }
            (ListFormat::Bitstring, other, _) => {
                return Err(StatusListError::BadRequest(format!(
                    "purpose: {other:?} is not revocation, suspension or message"
                )));
            }
            (ListFormat::Token, Some(_), _) => {
                return Err(StatusListError::BadRequest(
                    "purpose: a token list has none (its values say valid, invalid or \
                     suspended)"
                        .into(),
                ));
            }
            (ListFormat::Token, None, bits @ (None | Some(1 | 2 | 4 | 8))) => {
                (None, bits.unwrap_or(2))
            }
            (ListFormat::Token, None, Some(other)) => {
                return Err(StatusListError::BadRequest(format!(
                    "bits: {other} is not 1, 2, 4 or 8"
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
        let messages = status_messages(purpose.as_deref(), bits, new.messages)?;
        if let Some(destination) = &new.deliver_to {
            self.delivery
                .destination_of(&key.owner, destination)
                .await
                .map_err(|e| match e {
                    DeliveryError::Store(e) => StatusListError::Store(e),
                    other => StatusListError::BadRequest(format!("deliverTo: {other}")),
                })?;
        }
        let kept = self.service.store.status_lists_of(&key.owner).await?.len();
        if kept >= self.policy.max_per_subscriber as usize {
            return Err(StatusListError::Conflict(format!(
                "the subscriber keeps {kept} status lists, the most this service allows \
                 ([status_lists] max_per_subscriber): use one of them"
            )));
        }
        let list = StatusListRecord {
            id: inkan_store::auth::new_id("sl"),
            owner: key.owner.clone(),
            key_id: key.id.to_string(),
            format,
            signed_as,
            purpose,
            bits,
            size,
            messages,
            ttl_ms: i64::try_from(ttl_seconds * 1000).unwrap_or(i64::MAX),
            created_at: self.service.clock.now(),
            created_by: caller.id.clone(),
            changes: 0,
            deliver_to: new.deliver_to,
        };
        let event = Event::new(EntryKind::StatusListCreated, caller.actor())
            .key(&key.id)
            .note(format!(
                "status list {} ({} {}, {} entries of {} bits, signed as {}) at {}",
                list.id,
                list.format.as_str(),
                list.purpose.as_deref().unwrap_or_default(),
                list.size,
                list.bits,
                list.signed_as.as_str(),
                self.url(&list.id)
            ));
        let store = self.service.store.clone();
        let stored = list.clone();
        let max = self.policy.max_per_subscriber;
        self.service
            .recorder
            .write_ahead(event, async move {
                store
                    .insert_status_list(&stored, max)
                    .await
                    .map_err(|e| match e {
                        StoreError::Conflict(m) => StatusListError::Conflict(format!(
                            "{m} ([status_lists] max_per_subscriber)"
                        )),
                        other => StatusListError::Store(other),
                    })?;
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

    /// Hands out an index of each list `choice` names, for a credential that `key` is about to
    /// sign (and gives it to `signer`, which binds it to the signature): the entries to put in
    /// the credential, in order. Every list is checked before any index is handed out: one of
    /// the key's (the same key signs the list), of the kind the credential's verifiers read,
    /// published and unexpired, and no two of one purpose.
    pub async fn entries_for(
        &self,
        key: &KeyRecord,
        choice: &ListChoice,
        credential: EntryFor,
        signer: &ActivatedSigner,
    ) -> Result<Vec<serde_json::Value>, StatusListError> {
        let now = self.service.clock.now();
        let lists = match choice {
            ListChoice::Named(ids) => {
                let mut lists = Vec::with_capacity(ids.len());
                for id in ids {
                    lists.push(self.usable(key, id, credential, now).await?);
                }
                lists
            }
            ListChoice::Default => self.defaults(key, credential, now).await?,
        };
        let mut purposes: Vec<Option<&str>> = lists.iter().map(|l| l.purpose.as_deref()).collect();
        purposes.sort_unstable();
        if purposes.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(StatusListError::BadRequest(
                "statusList: name one list per purpose (two entries of one purpose would leave \
                 verifiers to pick one)"
                    .into(),
            ));
        }
        let mut entries = Vec::with_capacity(lists.len());
        for list in &lists {
            let (index, entry) = self.reserve(list, now).await?;
            signer.give_status_entry(&list.id, index);
            entries.push(entry);
        }
        Ok(entries)
    }

    /// The list `list_id`, if `key` may give `credential` an entry of it now.
    async fn usable(
        &self,
        key: &KeyRecord,
        list_id: &str,
        credential: EntryFor,
        now: i64,
    ) -> Result<StatusListRecord, StatusListError> {
        match self.service.store.get_status_list(list_id).await? {
            Some(list) if list.owner == key.owner && list.key_id == key.id.as_str() => {
                self.ready(list, credential, now).await
            }
            _ => Err(StatusListError::BadRequest(format!(
                "statusList: {list_id} is not a status list of the signing key"
            ))),
        }
    }

    /// `list` (one of the signing key's), if `credential` may take an entry of it now: of the
    /// kind its verifiers read, published and unexpired.
    async fn ready(
        &self,
        list: StatusListRecord,
        credential: EntryFor,
        now: i64,
    ) -> Result<StatusListRecord, StatusListError> {
        if let Some(why) = credential.refusal(&list) {
            return Err(StatusListError::BadRequest(format!(
                "statusList: {} is a {} list signed as {}; {why}",
                list.id,
                list.format.as_str(),
                list.signed_as.as_str()
            )));
        }
        match self
            .service
            .store
            .latest_status_list_version(&list.id)
            .await?
        {
            Some(latest) if latest.valid_until > now => Ok(list),
            Some(_) => Err(StatusListError::Conflict(format!(
                "status list {} has not been published again in time (its latest version has \
                 expired): its entries would not be checked",
                list.id
            ))),
            None => Err(StatusListError::Conflict(format!(
                "status list {} is not published yet: its entries would point to nothing",
                list.id
            ))),
        }
    }

    /// The key's default list for `credential`: its newest usable revocation list (a W3C
    /// credential) or token list (an SD-JWT VC, an mdoc); an issuer whose list fills up creates
    /// another, and new credentials go there. Suspension and message lists are named, never
    /// defaults: whether a credential can be suspended is the issuer's choice per credential.
    async fn defaults(
        &self,
        key: &KeyRecord,
        credential: EntryFor,
        now: i64,
    ) -> Result<Vec<StatusListRecord>, StatusListError> {
        let mut lists = self.service.store.status_lists_of(&key.owner).await?;
        lists.retain(|l| {
            l.key_id == key.id.as_str()
                && credential.refusal(l).is_none()
                && matches!(l.purpose.as_deref(), None | Some("revocation"))
        });
        // Newest first (the id decides between two of one millisecond).
        lists.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        for list in lists {
            match self.ready(list, credential, now).await {
                Ok(list) => return Ok(vec![list]),
                // Not published (yet, or in time): the next newest.
                Err(StatusListError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StatusListError::BadRequest(
            "statusList: the signing key has no published revocation or token list for this \
             credential (POST /v1/status-lists creates one)"
                .into(),
        ))
    }

    /// Takes a free index of `list` at random: the index and the entry that points to it.
    async fn reserve(
        &self,
        list: &StatusListRecord,
        now: i64,
    ) -> Result<(u64, serde_json::Value), StatusListError> {
        let purpose = StatusPurpose::parse(list.purpose.as_deref().unwrap_or_default());
        let messages = messages_of(list)?;
        for _ in 0..ATTEMPTS {
            let candidate = rand_core::OsRng.next_u64() % list.size;
            let taken = self
                .service
                .store
                .reserve_status_indexes(&list.id, &[candidate], 1, now)
                .await?;
            if let Some(&index) = taken.first() {
                let url = self.url(&list.id);
                let entry = match list.format {
                    ListFormat::Bitstring => BitstringStatusListEntry {
                        id: Some(format!("{url}#{index}")),
                        status_purpose: purpose,
                        status_list_index: index,
                        status_list_credential: url,
                        status_size: list.bits,
                        status_messages: messages,
                        status_reference: Vec::new(),
                    }
                    .to_json(),
                    // The Referenced Token's `status` claim (the MSO's `status` for an mdoc).
                    ListFormat::Token => serde_json::json!({
                        "status_list": {"idx": index, "uri": url}
                    }),
                };
                return Ok((index, entry));
            }
        }
        Err(StatusListError::Conflict(format!(
            "status list {} has no free index left (or nearly none): create another",
            list.id
        )))
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
        self.key_granted(
            caller,
            &list.key_id,
            Some(document_type(list.format, list.signed_as)),
        )
        .await?;
        if index >= list.size {
            return Err(StatusListError::NotFound(format!(
                "index {index} is outside status list {list_id} ({} entries)",
                list.size
            )));
        }
        let (value, make_final) = match value_of(&list, status) {
            Some(value) => value,
            None if list.purpose.as_deref() == Some("revocation") && status == "valid" => {
                return Err(StatusListError::Conflict(
                    "a revocation is final: a revocation list knows no way back to valid".into(),
                ));
            }
            None => {
                return Err(StatusListError::BadRequest(format!(
                    "status: {status:?} is not a status of this list ({})",
                    statuses_of(&list)
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
        if !["revoked", "suspended", "valid"].contains(&status) {
            return Err(StatusListError::BadRequest(format!(
                "status: {status:?} is not revoked, suspended or valid"
            )));
        }
        let entries = self.service.store.status_entries_by_digest(digest).await?;
        let mut changed = Vec::new();
        for entry in entries {
            let list = match self.list(caller, &entry.list_id).await {
                Ok(list) => list,
                // Not one the caller may see.
                Err(StatusListError::NotFound(_)) => continue,
                Err(other) => return Err(other),
            };
            if value_of(&list, status).is_some() {
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

    /// The bytes a published version is served as: a CWT is stored base64url and served as
    /// CBOR, every other kind as stored.
    pub fn served(version: &StatusListVersion) -> Result<Vec<u8>, StatusListError> {
        if version.media_type == STATUSLIST_CWT {
            URL_SAFE_NO_PAD.decode(&version.document).map_err(|e| {
                StatusListError::Store(StoreError::Corrupt(format!(
                    "status list {} version {}: the stored CWT is not base64url ({e})",
                    version.list_id, version.version
                )))
            })
        } else {
            Ok(version.document.clone().into_bytes())
        }
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
        let key = self
            .signing_key(
                &caller,
                &list.key_id,
                Some(document_type(list.format, list.signed_as)),
            )
            .await?;
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
        let now = self.service.clock.now();
        let valid_for = i64::try_from(self.policy.valid_for.as_millis()).unwrap_or(i64::MAX);
        // `validFrom` (`iat`) a minute back, for verifiers whose clock is a little behind.
        let (valid_from, valid_until) = (now - VALID_FROM_SLACK_MS, now.saturating_add(valid_for));
        let url = self.url(&list.id);
        let signer = self.signing.signer(SignRequest {
            caller,
            key,
            activation: Activation::Standing,
            document_type: document_type(list.format, list.signed_as).into(),
            checked_at: None,
            token: None,
        });
        let key_ref = signer
            .key_ref()
            .map_err(|e| StatusListError::Signing(e.to_string()))?;
        let built = |e: inkan_formats::FormatError| StatusListError::Signing(e.to_string());
        let signed = match list.format {
            ListFormat::Bitstring => {
                let mut bits = BitstringStatusList::new(size, list.bits).map_err(built)?;
                for (index, value) in &snapshot.values {
                    bits.set(*index, *value).map_err(built)?;
                }
                let credential = BitstringStatusListCredential::unsigned(
                    &url,
                    &key_ref.public_key.did_key(),
                    &StatusPurpose::parse(list.purpose.as_deref().unwrap_or_default()),
                    &bits,
                    Some(&format_rfc3339(valid_from.div_euclid(1000))),
                    Some(&format_rfc3339(valid_until.div_euclid(1000))),
                    u64::try_from(list.ttl_ms).ok(),
                )
                .map_err(built)?;
                match (list.signed_as, Cryptosuite::default_for(key_ref.algorithm)) {
                    (SignedAs::DataIntegrity, Some(suite)) => {
                        let options = ProofOptions {
                            verification_method: Some(verification_method(&key_ref.public_key)),
                            ..ProofOptions::assertion(suite)
                        };
                        data_integrity::sign(&credential, &signer, &key_ref, &options)
                            .await
                            .and_then(|signed| {
                                serde_json::to_string(&signed).map_err(|e| {
                                    inkan_formats::FormatError::Rejected(e.to_string())
                                })
                            })
                    }
                    (SignedAs::DataIntegrity, None) => {
                        Err(inkan_formats::FormatError::Unsupported(format!(
                            "a Data Integrity proof by a {} key",
                            key_ref.algorithm
                        )))
                    }
                    _ => vc_jwt::issue_vc_jwt(&signer, &key_ref, &credential, KeyHint::Kid).await,
                }
            }
            ListFormat::Token => {
                let mut statuses = TokenStatusList::new(size, list.bits).map_err(built)?;
                for (index, value) in &snapshot.values {
                    statuses.set(*index, *value).map_err(built)?;
                }
                let token = StatusListToken {
                    sub: url.clone(),
                    iat: u64::try_from(valid_from.div_euclid(1000)).unwrap_or(0),
                    exp: u64::try_from(valid_until.div_euclid(1000)).ok(),
                    ttl: u64::try_from(list.ttl_ms / 1000).ok(),
                    status_list: statuses,
                };
                match list.signed_as {
                    SignedAs::Cwt => {
                        let claims = token.to_cwt_claims().map_err(built)?;
                        match cose::sign_typed(&signer, &key_ref, &claims, CWT_TYP).await {
                            Ok(sign1) => cose::to_tagged_bytes(sign1)
                                .map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
                            Err(e) => Err(e),
                        }
                    }
                    _ => {
                        let claims = serde_json::to_vec(&token.to_jwt_claims().map_err(built)?)
                            .map_err(|e| StatusListError::Signing(e.to_string()))?;
                        sign_compact(
                            &signer,
                            &key_ref,
                            Some(JWT_TYP),
                            KeyHint::Kid,
                            &serde_json::Map::new(),
                            &claims,
                        )
                        .await
                    }
                }
            }
        };
        let document = signed.map_err(|e| match signer.take_failure() {
            Some(failure) => StatusListError::Signing(failure.to_string()),
            None => StatusListError::Signing(e.to_string()),
        })?;
        let version = StatusListVersion {
            list_id: list.id.clone(),
            version: next,
            covers: snapshot.changes,
            media_type: media_type(list.format, list.signed_as).into(),
            document,
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
        self.push(list, &version).await;
        Ok(version)
    }

    /// Queues `version` for the list's delivery destination, if it has one. The version is
    /// published whatever happens here: a failure is logged, and the next version is pushed.
    async fn push(&self, list: &StatusListRecord, version: &StatusListVersion) {
        let (Some(destination), Some(log_index)) = (&list.deliver_to, version.log_index) else {
            return;
        };
        // The document as JSON: a JWT or a CWT (base64url) as a string, a Data Integrity
        // credential as itself.
        let document = match list.signed_as {
            SignedAs::DataIntegrity => serde_json::from_str(&version.document)
                .unwrap_or_else(|_| serde_json::Value::String(version.document.clone())),
            _ => serde_json::Value::String(version.document.clone()),
        };
        if let Err(error) = self
            .delivery
            .enqueue(
                &list.owner,
                destination,
                document_type(list.format, list.signed_as),
                &document,
                log_index,
            )
            .await
        {
            tracing::error!(list = %list.id, version = version.version, %error, "a status list version could not be queued for delivery");
        }
    }

    /// The key `key_id`, granted to `caller` for signing (and for signing `document_type`
    /// documents, what a list is signed as, when given), in whatever state it is.
    async fn key_granted(
        &self,
        caller: &Caller,
        key_id: &str,
        document_type: Option<&str>,
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
        if let Some(wanted) = document_type
            && !caller.grant_covers(key.id.as_str(), wanted)
        {
            return Err(StatusListError::Forbidden(format!(
                "the client's grant of {key_id} does not cover {wanted} documents, which this \
                 status list is signed as"
            )));
        }
        Ok(key)
    }

    /// [`key_granted`](Self::key_granted), and active.
    async fn signing_key(
        &self,
        caller: &Caller,
        key_id: &str,
        document_type: Option<&str>,
    ) -> Result<KeyRecord, StatusListError> {
        let key = self.key_granted(caller, key_id, document_type).await?;
        if key.state != KeyState::Active {
            return Err(StatusListError::Conflict(format!(
                "key {key_id} is {}",
                key.state.as_str()
            )));
        }
        Ok(key)
    }
}

/// The value `status` sets in `list`, and whether it is final; `None` if the list has no such
/// status. W3C: `revoked` (final) in a revocation list, `suspended` or `valid` in a suspension
/// list. Token list (draft-ietf-oauth-status-list): `revoked` is INVALID (0x01, final),
/// `suspended` SUSPENDED (0x02, two bits or more), `valid` VALID (0x00).
fn value_of(list: &StatusListRecord, status: &str) -> Option<(u8, bool)> {
    match (list.format, list.purpose.as_deref(), status) {
        (ListFormat::Bitstring, Some("revocation"), "revoked") => Some((1, true)),
        (ListFormat::Bitstring, Some("suspension"), "suspended") => Some((1, false)),
        (ListFormat::Bitstring, Some("suspension"), "valid") => Some((0, false)),
        (ListFormat::Bitstring, Some("message"), value) => value
            .strip_prefix("0x")
            .filter(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|v| u16::from(*v) < 1u16 << list.bits)
            .map(|v| (v, false)),
        (ListFormat::Token, None, "revoked") => Some((1, true)),
        (ListFormat::Token, None, "suspended") if list.bits >= 2 => Some((2, false)),
        (ListFormat::Token, None, "valid") => Some((0, false)),
        _ => None,
    }
}

/// The statuses `list` knows, for refusals.
fn statuses_of(list: &StatusListRecord) -> String {
    match (list.format, list.purpose.as_deref()) {
        (ListFormat::Bitstring, Some("revocation")) => "revoked".into(),
        (ListFormat::Bitstring, Some("message")) => format!(
            "a value from 0x0 to {:#x}, as its statusMessage says",
            (1u16 << list.bits) - 1
        ),
        (ListFormat::Bitstring, _) => "suspended or valid".into(),
        (ListFormat::Token, _) if list.bits >= 2 => "revoked, suspended or valid".into(),
        (ListFormat::Token, _) => "revoked or valid".into(),
    }
}

/// The longest message of a `message` list.
const MAX_MESSAGE: usize = 256;

/// The stored `statusMessage` of a new list (the JSON of the W3C array: `status` as `0x…`,
/// `message`): for the `message` purpose, exactly one message per value (W3C Bitstring Status
/// List §2.1: as many as `statusSize` allows); none otherwise.
fn status_messages(
    purpose: Option<&str>,
    bits: u8,
    given: Option<Vec<String>>,
) -> Result<Option<String>, StatusListError> {
    let wanted = 1usize << bits;
    match (purpose, given) {
        (Some("message"), Some(messages)) => {
            if messages.len() != wanted {
                return Err(StatusListError::BadRequest(format!(
                    "messages: a list of {bits} bits per entry has {wanted} values: give one \
                     message for each, from 0x0 (gave {})",
                    messages.len()
                )));
            }
            if let Some(bad) = messages
                .iter()
                .position(|m| m.trim().is_empty() || m.chars().count() > MAX_MESSAGE)
            {
                return Err(StatusListError::BadRequest(format!(
                    "messages[{bad}]: from 1 to {MAX_MESSAGE} characters"
                )));
            }
            let array: Vec<serde_json::Value> = messages
                .into_iter()
                .enumerate()
                .map(|(value, message)| {
                    serde_json::json!({"status": format!("{value:#x}"), "message": message})
                })
                .collect();
            Ok(Some(serde_json::Value::Array(array).to_string()))
        }
        (Some("message"), None) => Err(StatusListError::BadRequest(format!(
            "messages: a message list needs one message per value ({wanted})"
        ))),
        (_, Some(_)) => Err(StatusListError::BadRequest(
            "messages: only a message list has messages".into(),
        )),
        (_, None) => Ok(None),
    }
}

/// The `statusMessage` of `list`'s entries, as stored.
fn messages_of(list: &StatusListRecord) -> Result<Vec<StatusMessage>, StatusListError> {
    let Some(stored) = &list.messages else {
        return Ok(Vec::new());
    };
    let corrupt = |detail: String| {
        StatusListError::Store(StoreError::Corrupt(format!(
            "status list {}: statusMessage {detail}",
            list.id
        )))
    };
    let array: Vec<serde_json::Value> =
        serde_json::from_str(stored).map_err(|e| corrupt(e.to_string()))?;
    array
        .iter()
        .map(|m| {
            let status = m["status"]
                .as_str()
                .and_then(|s| s.strip_prefix("0x"))
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| corrupt(format!("status {}", m["status"])))?;
            let message = m["message"]
                .as_str()
                .ok_or_else(|| corrupt("without a message".into()))?;
            Ok(StatusMessage {
                status,
                message: message.to_owned(),
            })
        })
        .collect()
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
