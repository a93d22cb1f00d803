//! Key status at signing time (criteria 2.2.3(1)B): "is this status entry valid now?", from a
//! W3C Bitstring Status List entry, an IETF Token Status List reference, or the key's
//! certificate (the OCSP responder or the CRL it names).
//!
//! What it owns: the [`StatusChecker`] — fetching status lists over HTTPS ([`fetch`]: TLS 1.3
//! to `[status] ca_files`, no redirect, a timeout, a size limit), verifying them against
//! `[status] trust_anchors` ([`lists`], [`anchors`]), keeping each verified list in a cache by
//! URL until its `ttl` / `exp` / `validUntil` / HTTP `max-age` (at most `[status]
//! max_cache_seconds`, at least [`MIN_CACHE_MILLIS`]), one fetch at a time per URL
//! (single-flight), a failed fetch remembered for [`MIN_CACHE_MILLIS`] (as `unknown`), and reading the entry's status with its evidence (URL, index, SHA-256 of the
//! fetched bytes, the list's `iat` / `exp` / `ttl`). Time comes from the injected [`Clock`].
//!
//! What it must never do:
//! - answer from a stale list: once a list is past its freshness, the answer comes from a new,
//!   verified fetch or is [`KeyStatus::Unknown`] (fail closed: the signing module refuses to
//!   sign), never the old "valid";
//! - trust a list not signed by a trust anchor, fetched over anything but `https://`, or larger
//!   than `[status] max_list_bytes`;
//! - parse list encodings itself (that is `inkan_formats::status`), sign, destroy keys or write
//!   the transparency log (the signing module and the status monitor decide what a status means
//!   for a key).

pub mod anchors;
mod crl;
mod fetch;
mod key;
mod lists;
pub mod monitor;
mod ocsp;

use crate::clock::{Clock, UnixMillis};
use crate::config::StatusConfig;
use inkan_device::PublicKey;
use inkan_formats::status::{
    BitstringStatusListEntry, StatusListReference, StatusPurpose, TokenStatus,
};
pub use key::LiveStatus;
use lists::{Verified, VerifiedList};
pub use ocsp::OcspEntry;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The shortest time a verified list is kept, whatever it or its server says (so a list that
/// asks for no caching does not turn every signature into a fetch).
pub const MIN_CACHE_MILLIS: i64 = 5_000;

/// The longest list, CRL or responder URL used (a certificate's URL beyond it is ignored).
const MAX_URL: usize = 2048;

/// Where a key's status is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusSource {
    /// A W3C Bitstring Status List entry (`statusPurpose` `revocation` or `suspension`,
    /// `statusSize` 1).
    Bitstring(BitstringStatusListEntry),
    /// An IETF Token Status List reference (`uri`, `idx`).
    Token(StatusListReference),
    /// A certificate in the CRL its issuer publishes at the certificate's distribution point.
    Crl(CrlEntry),
    /// A certificate, asked of the OCSP responder it names.
    Ocsp(OcspEntry),
}

/// A certificate, as a CRL lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlEntry {
    /// The CRL's URL (the certificate's first `https://` CRL distribution point).
    pub url: String,
    /// The certificate's issuer name, DER: the CRL must be that issuer's.
    pub issuer: Vec<u8>,
    /// The certificate's serial number (DER integer content).
    pub serial: Vec<u8>,
    /// The issuer's key, when the chain carries the issuer: the CRL must be signed with it.
    pub issuer_key: Option<PublicKey>,
}

/// Checks a status source an operator asks to set for `key` (the one check both the request
/// and, once approved, the change make, criteria 2.2.3(1)B and 2.1.3(12)): a known kind, an
/// `https://` URL of at most 2048 characters, the fields the kind needs, and for `x509` a
/// certificate that names where its status is published. Returns the record to store.
/// Whether the registry's own state may be `key`'s status source: only for holders' keys,
/// which no outside list covers; an issuer's key answers to an outside list (criteria
/// 2.2.3(1)B).
pub(crate) async fn registry_may_cover(
    store: &dyn inkan_store::Store,
    key: &inkan_store::KeyRecord,
) -> Result<bool, inkan_store::StoreError> {
    Ok(matches!(
        store.get_subscriber(&key.owner).await?,
        Some(s) if s.kind == inkan_store::auth::SubscriberKind::Holder
    ))
}

pub fn source_record(
    key: &inkan_store::KeyRecord,
    kind: &str,
    url: Option<String>,
    index: Option<u64>,
    purpose: Option<String>,
    set_by: &str,
    now: UnixMillis,
) -> Result<inkan_store::status::StatusSourceRecord, String> {
    use inkan_store::status::{StatusSourceKind, StatusSourceRecord};
    let kind = StatusSourceKind::parse(kind)
        .ok_or("kind must be x509, bitstring, token, registry or none")?;
    if let Some(url) = &url
        && (!url.starts_with("https://") || url.len() > MAX_URL)
    {
        return Err("the status list URL must be https:// and at most 2048 characters".into());
    }
    let complete = match kind {
        StatusSourceKind::Bitstring => url.is_some() && index.is_some() && purpose.is_some(),
        StatusSourceKind::Token => url.is_some() && index.is_some() && purpose.is_none(),
        _ => url.is_none() && index.is_none() && purpose.is_none(),
    };
    if !complete {
        return Err(
            "bitstring needs url, index and purpose; token needs url and index (no \
                    purpose); x509, registry and none take none of them"
                .into(),
        );
    }
    let record = StatusSourceRecord {
        key_id: key.id.to_string(),
        kind,
        url,
        index,
        purpose,
        set_at: now,
        set_by: set_by.into(),
    };
    if kind == StatusSourceKind::X509
        && let Err(reason) = StatusSource::from_record(&record, key)
    {
        return Err(format!("the key's certificate cannot be checked: {reason}"));
    }
    Ok(record)
}

impl StatusSource {
    /// The list entry a stored status source of `key` names: `Ok(None)` for `none`, `Err`
    /// (saying why) for a source that names no list it can be checked in — an incomplete one,
    /// or `x509` for a key whose certificate names no `https://` CRL distribution point.
    pub fn from_record(
        record: &inkan_store::status::StatusSourceRecord,
        key: &inkan_store::KeyRecord,
    ) -> Result<Option<StatusSource>, String> {
        use inkan_store::status::StatusSourceKind;
        match (record.kind, &record.url, record.index) {
            (StatusSourceKind::None | StatusSourceKind::Registry, _, _) => Ok(None),
            (StatusSourceKind::X509, _, _) => {
                if key.certificate_chain.is_empty() {
                    return Err("its status source is its certificate, and it has none".into());
                }
                let chain =
                    inkan_device::cert::CertificateChain::from_der_list(&key.certificate_chain)
                        .map_err(|e| format!("its certificate: {e}"))?;
                let https = |urls: Result<Vec<String>, inkan_device::DeviceError>| {
                    urls.map(|urls| {
                        urls.into_iter()
                            .find(|url| url.starts_with("https://") && url.len() <= MAX_URL)
                    })
                    .map_err(|e| format!("its certificate: {e}"))
                };
                let issuer = chain
                    .leaf_issuer()
                    .map_err(|e| format!("its certificate: {e}"))?;
                // The responder when the certificate names one and the chain carries the
                // issuer (its key is part of the question); else the CRL.
                if let (Some(url), Some((issuer_key, issuer_bits))) =
                    (https(chain.leaf_ocsp_urls())?, &issuer)
                {
                    return Ok(Some(StatusSource::Ocsp(OcspEntry::new(
                        url,
                        &chain.leaf_issuer_der(),
                        issuer_key.clone(),
                        issuer_bits,
                        chain.leaf_serial(),
                    ))));
                }
                let url = https(chain.leaf_crl_urls())?.ok_or(
                    "its certificate names no https:// CRL distribution point (nor an https:// \
                     OCSP responder with its issuer's certificate in the chain)",
                )?;
                Ok(Some(StatusSource::Crl(CrlEntry {
                    url,
                    issuer: chain.leaf_issuer_der(),
                    serial: chain.leaf_serial(),
                    issuer_key: issuer.map(|(key, _)| key),
                })))
            }
            (StatusSourceKind::Token, Some(url), Some(idx)) => {
                Ok(Some(StatusSource::Token(StatusListReference {
                    idx,
                    uri: url.clone(),
                })))
            }
            (StatusSourceKind::Bitstring, Some(url), Some(index)) => {
                Ok(Some(StatusSource::Bitstring(BitstringStatusListEntry {
                    id: None,
                    status_purpose: StatusPurpose::parse(
                        record.purpose.as_deref().unwrap_or("revocation"),
                    ),
                    status_list_index: index,
                    status_list_credential: url.clone(),
                    status_size: 1,
                    status_messages: Vec::new(),
                    status_reference: Vec::new(),
                })))
            }
            _ => Err("its status source is incomplete".into()),
        }
    }

    /// The list's URL.
    pub fn url(&self) -> &str {
        match self {
            StatusSource::Bitstring(entry) => &entry.status_list_credential,
            StatusSource::Token(reference) => &reference.uri,
            StatusSource::Crl(entry) => &entry.url,
            StatusSource::Ocsp(entry) => &entry.url,
        }
    }

    /// Which entry of the list: `index 5` for a status list, `serial 0a1b…` (hex) for a CRL.
    pub fn entry(&self) -> String {
        match self {
            StatusSource::Bitstring(entry) => format!("index {}", entry.status_list_index),
            StatusSource::Token(reference) => format!("index {}", reference.idx),
            StatusSource::Crl(entry) => format!("serial {}", hex::encode(&entry.serial)),
            StatusSource::Ocsp(entry) => format!("serial {}", hex::encode(&entry.serial)),
        }
    }

    /// What the cache keeps its answer under: the list's URL, or for OCSP the responder's URL
    /// and the certificate (an answer is about one certificate).
    fn cache_key(&self) -> String {
        match self {
            StatusSource::Ocsp(entry) => format!(
                "{} {} {} {}",
                entry.url,
                hex::encode(&entry.issuer_name_hash),
                hex::encode(&entry.issuer_key_hash),
                hex::encode(&entry.serial)
            ),
            other => other.url().to_owned(),
        }
    }

    fn kind(&self) -> Kind {
        match self {
            StatusSource::Bitstring(_) => Kind::Bitstring,
            StatusSource::Token(_) => Kind::Token,
            StatusSource::Crl(_) => Kind::Crl,
            StatusSource::Ocsp(_) => Kind::Ocsp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Bitstring,
    Token,
    Crl,
    Ocsp,
}

impl Kind {
    /// The source kind as metrics name it.
    fn as_str(self) -> &'static str {
        match self {
            Kind::Bitstring => "bitstring",
            Kind::Token => "token",
            Kind::Crl => "crl",
            Kind::Ocsp => "ocsp",
        }
    }
}

/// What a status list says about a key, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    /// Confirmed valid by a fresh, verified list.
    Valid,
    /// Revoked (W3C `revocation` bit set; IETF `INVALID`): for good.
    Revoked,
    /// Suspended (W3C `suspension` bit set; IETF `SUSPENDED`): signing is refused while it lasts.
    Suspended,
    /// No fresh, verified status could be had; the reason names the source. Signing must be
    /// refused.
    Unknown(String),
}

/// What the answer rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The list's URL.
    pub url: String,
    /// Which entry: `index 5`, or `serial 0a1b…` in a CRL.
    pub entry: String,
    /// SHA-256 of the fetched bytes (lowercase hex), as served.
    pub list_sha256: String,
    /// When the list was fetched (Unix milliseconds, from the checker's clock).
    pub fetched_at: UnixMillis,
    /// The list's `iat` (or `validFrom`, or a CRL's `thisUpdate`), Unix seconds.
    pub issued_at: Option<i64>,
    /// The list's `exp` (or `validUntil`, or a CRL's `nextUpdate`), Unix seconds.
    pub expires_at: Option<i64>,
    /// The list's `ttl`, in milliseconds.
    pub ttl_ms: Option<u64>,
}

/// The answer to one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCheck {
    /// The status.
    pub status: KeyStatus,
    /// When it was checked (Unix milliseconds).
    pub checked_at: UnixMillis,
    /// The list it was read from; `None` when no verified list was available.
    pub evidence: Option<Evidence>,
}

/// The checker could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// A file or setting of `[status]` is unusable.
    #[error("[status]: {0}")]
    Config(String),
}

/// One verified list in the cache.
#[derive(Debug)]
struct Cached {
    verified: Verified,
    sha256: String,
    fetched_at: UnixMillis,
    fresh_until: UnixMillis,
}

#[derive(Debug, Default)]
struct SlotState {
    cached: Option<Arc<Cached>>,
    /// Why the last fetch failed, for callers that waited on it, and until when that answer
    /// stands ([`MIN_CACHE_MILLIS`] after it: reads of a key's status must not turn into a
    /// stream of requests to a failing server).
    last_error: Option<(String, UnixMillis)>,
}

/// The cache entry of one URL: the list, and the lock that makes fetches single-flight.
#[derive(Debug, Default)]
struct Slot {
    fetching: tokio::sync::Mutex<()>,
    state: RwLock<SlotState>,
    /// Incremented after each fetch (success or failure).
    generation: AtomicU64,
}

impl Slot {
    fn fresh(&self, now: UnixMillis) -> Option<Arc<Cached>> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state
            .cached
            .as_ref()
            .filter(|c| now < c.fresh_until)
            .cloned()
    }

    fn last_error(&self) -> Option<String> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.last_error.as_ref().map(|(reason, _)| reason.clone())
    }

    /// The last failure, while it stands.
    fn recent_failure(&self, now: UnixMillis) -> Option<String> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state
            .last_error
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(reason, _)| reason.clone())
    }

    fn store(&self, outcome: Result<Arc<Cached>, String>, now: UnixMillis) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(cached) => {
                state.cached = Some(cached);
                state.last_error = None;
            }
            Err(reason) => {
                state.cached = None;
                state.last_error = Some((reason, now.saturating_add(MIN_CACHE_MILLIS)));
            }
        }
        drop(state);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// Answers "is this status entry valid now?" from verified, cached status lists.
#[derive(Debug)]
pub struct StatusChecker {
    http: reqwest::Client,
    anchors: Vec<anchors::Anchor>,
    clock: Arc<dyn Clock>,
    max_list_bytes: usize,
    max_cache_ms: i64,
    slots: Mutex<HashMap<(Kind, String), Arc<Slot>>>,
    /// Keys' status sources read for signing, by key id, with the cache epoch they were read
    /// at (`crate::epoch`; `key_status_for_signing`).
    sources: crate::epoch::EpochCache<Option<inkan_store::status::StatusSourceRecord>>,
}

impl StatusChecker {
    /// A checker trusting status servers whose certificates chain to `config.ca_files` and
    /// lists signed by a key of `config.trust_anchors`. With no trust anchors every answer is
    /// [`KeyStatus::Unknown`].
    pub fn new(config: &StatusConfig, clock: Arc<dyn Clock>) -> Result<Self, StatusError> {
        let http = crate::https_client::build(
            "[status] ca_files",
            &config.ca_files,
            fetch::timeout(config.fetch_timeout_seconds),
        )
        .map_err(StatusError::Config)?;
        let anchors = anchors::load(&config.trust_anchors)
            .map_err(|e| StatusError::Config(format!("trust_anchors: {e}")))?;
        Ok(StatusChecker {
            http,
            anchors,
            clock,
            max_list_bytes: config.max_list_bytes,
            max_cache_ms: i64::try_from(config.max_cache_seconds)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
            slots: Mutex::new(HashMap::new()),
            sources: crate::epoch::EpochCache::default(),
        })
    }

    /// The status of `source` now: from the cached list while it is fresh (no network round
    /// trip), else from a new fetch, verified; [`KeyStatus::Unknown`] when neither can be had.
    /// Callers asking for the same stale list at once share one fetch. Counted by source kind
    /// and result (`crate::telemetry`).
    pub async fn check(&self, source: &StatusSource) -> StatusCheck {
        let answer = self.check_uncounted(source).await;
        let result = match answer.status {
            KeyStatus::Valid => "valid",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Suspended => "suspended",
            KeyStatus::Unknown(_) => "unknown",
        };
        crate::telemetry::status_check(source.kind().as_str(), result);
        answer
    }

    async fn check_uncounted(&self, source: &StatusSource) -> StatusCheck {
        let url = source.url();
        if let Err(reason) = fetch::check_url(url) {
            return self.unknown(url, reason);
        }
        let slot = self.slot(source.kind(), &source.cache_key());
        if let Some(cached) = slot.fresh(self.clock.now()) {
            return self.answer(source, &cached);
        }
        if let Some(reason) = slot.recent_failure(self.clock.now()) {
            return self.unknown(url, reason);
        }
        let seen = slot.generation.load(Ordering::Acquire);
        let _fetching = slot.fetching.lock().await;
        if slot.generation.load(Ordering::Acquire) != seen {
            // Another caller fetched while this one waited: share its outcome.
            if let Some(cached) = slot.fresh(self.clock.now()) {
                return self.answer(source, &cached);
            }
            if let Some(reason) = slot.last_error() {
                return self.unknown(url, reason);
            }
        }
        let outcome = self.fetch_and_verify(source).await.map(Arc::new);
        slot.store(outcome.clone(), self.clock.now());
        match outcome {
            Ok(cached) => self.answer(source, &cached),
            Err(reason) => self.unknown(url, reason),
        }
    }

    /// [`check`](Self::check) of an IETF Token Status List reference.
    pub async fn check_token(&self, reference: &StatusListReference) -> StatusCheck {
        self.check(&StatusSource::Token(reference.clone())).await
    }

    /// [`check`](Self::check) of a W3C Bitstring Status List entry.
    pub async fn check_bitstring(&self, entry: &BitstringStatusListEntry) -> StatusCheck {
        self.check(&StatusSource::Bitstring(entry.clone())).await
    }

    fn slot(&self, kind: Kind, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(&(kind, key.to_owned())) {
            return slot.clone();
        }
        slots.entry((kind, key.to_owned())).or_default().clone()
    }

    async fn fetch_and_verify(&self, source: &StatusSource) -> Result<Cached, String> {
        let url = source.url();
        let max = self.max_list_bytes;
        let fetched = match source {
            StatusSource::Token(_) => {
                let accept = "application/statuslist+jwt, application/statuslist+cwt";
                fetch::get(&self.http, url, accept, max).await?
            }
            StatusSource::Bitstring(_) => {
                let accept = "application/vc+jwt, application/vc, application/vc+ld+json, \
                              application/json;q=0.5";
                fetch::get(&self.http, url, accept, max).await?
            }
            StatusSource::Crl(_) => {
                fetch::get(&self.http, url, "application/pkix-crl", max).await?
            }
            StatusSource::Ocsp(entry) => {
                let request = entry.request()?;
                let (ask, answer) = ("application/ocsp-request", "application/ocsp-response");
                fetch::post(&self.http, url, ask, request, answer, max).await?
            }
        };
        let fetched_at = self.clock.now();
        let now_seconds = fetched_at.div_euclid(1000);
        let anchors = &anchors::keys_at(&self.anchors, now_seconds);
        let verified = match source {
            StatusSource::Token(_) => lists::token(&fetched.bytes, url, anchors, now_seconds)?,
            StatusSource::Bitstring(_) => {
                lists::bitstring(&fetched.bytes, url, anchors, now_seconds)?
            }
            StatusSource::Crl(_) => crl::verify(&fetched.bytes, anchors, now_seconds)?,
            StatusSource::Ocsp(entry) => ocsp::verify(&fetched.bytes, entry, anchors, now_seconds)?,
        };
        let fresh_until = fresh_until(
            fetched_at,
            [verified.ttl_ms, fetched.max_age_ms]
                .into_iter()
                .flatten()
                .min(),
            lists::min_opt(
                verified.expires_at,
                anchors::valid_until(&self.anchors, now_seconds),
            ),
            self.max_cache_ms,
        );
        Ok(Cached {
            sha256: hex::encode(Sha256::digest(&fetched.bytes)),
            verified,
            fetched_at,
            fresh_until,
        })
    }

    fn answer(&self, source: &StatusSource, cached: &Cached) -> StatusCheck {
        let checked_at = self.clock.now();
        let url = source.url();
        let evidence = Evidence {
            url: url.to_owned(),
            entry: source.entry(),
            list_sha256: cached.sha256.clone(),
            fetched_at: cached.fetched_at,
            issued_at: cached.verified.issued_at,
            expires_at: cached.verified.expires_at,
            ttl_ms: cached.verified.ttl_ms,
        };
        let status = match (&cached.verified.list, source) {
            (VerifiedList::Token(token), StatusSource::Token(reference)) => {
                match token.status_of(reference) {
                    Ok(TokenStatus::Valid) => KeyStatus::Valid,
                    Ok(TokenStatus::Invalid) => KeyStatus::Revoked,
                    Ok(TokenStatus::Suspended) => KeyStatus::Suspended,
                    Ok(TokenStatus::Other(value)) => KeyStatus::Unknown(format!(
                        "{url}: status value 0x{value:02x} at index {} has no meaning here",
                        reference.idx
                    )),
                    Err(e) => KeyStatus::Unknown(format!("{url}: {e}")),
                }
            }
            (VerifiedList::Bitstring(decoded), StatusSource::Bitstring(entry)) => {
                if entry.status_size != 1 {
                    KeyStatus::Unknown(format!(
                        "{url}: statusSize {} is not supported for key status (1 only)",
                        entry.status_size
                    ))
                } else {
                    let checked = decoded.credential.check_decoded(&decoded.list, entry);
                    match (checked, &entry.status_purpose) {
                        (Ok(s), StatusPurpose::Revocation | StatusPurpose::Suspension)
                            if s.is_valid() =>
                        {
                            KeyStatus::Valid
                        }
                        (Ok(_), StatusPurpose::Revocation) => KeyStatus::Revoked,
                        (Ok(_), StatusPurpose::Suspension) => KeyStatus::Suspended,
                        (Ok(_), other) => KeyStatus::Unknown(format!(
                            "{url}: statusPurpose {} does not say whether a key is valid",
                            other.as_str()
                        )),
                        (Err(e), _) => KeyStatus::Unknown(format!("{url}: {e}")),
                    }
                }
            }
            (VerifiedList::Crl(crl), StatusSource::Crl(entry)) => {
                if crl.issuer != entry.issuer {
                    KeyStatus::Unknown(format!(
                        "{url}: the CRL is not issued by the certificate's issuer"
                    ))
                } else if entry
                    .issuer_key
                    .as_ref()
                    .is_some_and(|key| *key != crl.signer)
                {
                    KeyStatus::Unknown(format!(
                        "{url}: the CRL is not signed by the certificate's issuer"
                    ))
                } else {
                    match crl.lookup(&entry.serial) {
                        None => KeyStatus::Valid,
                        Some(crl::Listed::Hold) => KeyStatus::Suspended,
                        Some(crl::Listed::Revoked) => KeyStatus::Revoked,
                    }
                }
            }
            (VerifiedList::Ocsp(status), StatusSource::Ocsp(_)) => match status {
                ocsp::OcspStatus::Good => KeyStatus::Valid,
                ocsp::OcspStatus::Hold => KeyStatus::Suspended,
                ocsp::OcspStatus::Revoked => KeyStatus::Revoked,
                ocsp::OcspStatus::Unknown => KeyStatus::Unknown(format!(
                    "{url}: the OCSP responder does not know the certificate"
                )),
            },
            _ => KeyStatus::Unknown(format!("{url}: the cached list is of another kind")),
        };
        StatusCheck {
            status,
            checked_at,
            evidence: Some(evidence),
        }
    }

    fn unknown(&self, url: &str, reason: String) -> StatusCheck {
        StatusCheck {
            status: KeyStatus::Unknown(format!("{url}: {reason}")),
            checked_at: self.clock.now(),
            evidence: None,
        }
    }
}

/// Until when a list fetched at `now` is used: its lifetime (the shortest of `ttl` and
/// `max-age`, else the cap) between [`MIN_CACHE_MILLIS`] and `max_cache_ms`, and never past
/// `expires_at` (Unix seconds).
fn fresh_until(
    now: UnixMillis,
    lifetime_ms: Option<u64>,
    expires_at: Option<i64>,
    max_cache_ms: i64,
) -> UnixMillis {
    let floor = MIN_CACHE_MILLIS.min(max_cache_ms);
    let lifetime = lifetime_ms
        .map(|l| {
            i64::try_from(l)
                .unwrap_or(i64::MAX)
                .clamp(floor, max_cache_ms)
        })
        .unwrap_or(max_cache_ms);
    let until = now.saturating_add(lifetime);
    match expires_at {
        Some(exp) => until.min(exp.saturating_mul(1000)),
        None => until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_is_bounded_by_the_cap_the_floor_and_expiry() {
        let cap = 300_000;
        assert_eq!(fresh_until(1_000, Some(60_000), None, cap), 61_000);
        assert_eq!(fresh_until(1_000, Some(10_000_000), None, cap), 301_000);
        assert_eq!(fresh_until(1_000, Some(0), None, cap), 6_000, "the floor");
        assert_eq!(fresh_until(1_000, None, None, cap), 301_000);
        assert_eq!(
            fresh_until(1_000, Some(60_000), Some(30), cap),
            30_000,
            "never past exp, even below the floor"
        );
    }
}
