//! A key's status now (criteria 2.2.3(1)B): the one answer the signing module acts on and the
//! key API and CSC `credentials/info` show.
//!
//! What it owns: combining what is known of a key — its certificate's validity period
//! (`expired`), then its status source (the Bitstring or Token Status List entry, or its
//! certificate's CRL) through the [`StatusChecker`] (`valid`, `suspended`, `revoked`, or
//! `unknown` when no fresh, verified answer can be had) — with when that answer was last
//! confirmed (the fetch of the list it rests on).
//!
//! Keys no outside list covers (holders' keys) have the source `registry`: valid while the
//! registry holds them active.
//!
//! What it must never do: answer from the monitor's last record (that is history, kept for the
//! evidence), or call a key without a status source `valid` (it is `unknown`; whether such a
//! key may sign is the signing policy's decision, not this module's).

use super::{Evidence, KeyStatus, StatusChecker, StatusSource};
use crate::clock::UnixMillis;
use inkan_store::status::{KeyStatusValue, StatusSourceKind, StatusStore};
use inkan_store::{KeyRecord, StoreError};

/// What is known of a key's status now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStatus {
    /// `valid`, `expired`, `revoked`, `suspended` or `unknown`.
    pub value: KeyStatusValue,
    /// Where it is published (`none` when no source is set).
    pub source: StatusSourceKind,
    /// When this answer was given (Unix milliseconds).
    pub checked_at: UnixMillis,
    /// The list the answer rests on, if one was consulted.
    pub url: Option<String>,
    /// When the list the answer rests on was fetched and verified (Unix milliseconds).
    pub confirmed_at: Option<UnixMillis>,
    /// Why it is not `valid`.
    pub reason: Option<String>,
    /// The list's evidence, if one was consulted.
    pub evidence: Option<Evidence>,
}

impl LiveStatus {
    fn without_list(
        value: KeyStatusValue,
        source: StatusSourceKind,
        checked_at: UnixMillis,
        reason: String,
    ) -> Self {
        LiveStatus {
            value,
            source,
            checked_at,
            url: None,
            confirmed_at: None,
            reason: Some(reason),
            evidence: None,
        }
    }

    /// What the registry itself says of a key no outside list covers: valid while active.
    fn from_registry(key: &KeyRecord, checked_at: UnixMillis) -> Self {
        let active = key.state == inkan_store::KeyState::Active;
        LiveStatus {
            value: if active {
                KeyStatusValue::Valid
            } else {
                KeyStatusValue::Revoked
            },
            source: StatusSourceKind::Registry,
            checked_at,
            url: None,
            confirmed_at: Some(checked_at),
            reason: (!active).then(|| format!("the registry holds it {}", key.state.as_str())),
            evidence: None,
        }
    }

    /// The status as the key API shows it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "value": self.value.as_str(),
            "source": self.source.as_str(),
            "url": self.url,
            "checked_at": self.checked_at,
            "confirmed_at": self.confirmed_at,
            "reason": self.reason,
            "list_sha256": self.evidence.as_ref().map(|e| &e.list_sha256),
        })
    }
}

impl StatusChecker {
    /// The status of `key` now: `expired` outside its certificate's validity period, else what
    /// its status source says (from the cache while fresh, else a new verified fetch).
    pub async fn key_status(
        &self,
        store: &dyn StatusStore,
        key: &KeyRecord,
    ) -> Result<LiveStatus, StoreError> {
        let source = store.get_status_source(key.id.as_str()).await?;
        self.status_from(source, key).await
    }

    /// As [`key_status`](Self::key_status) for the signing module, the key's status source
    /// from memory when it was read at the newest cache epoch `epoch` has seen; returns the
    /// epoch it was read at, which the signing module confirms at its write-ahead batch
    /// (`crate::epoch`).
    pub async fn key_status_for_signing(
        &self,
        store: &dyn inkan_store::Store,
        epoch: &crate::epoch::Epoch,
        key: &KeyRecord,
    ) -> Result<(LiveStatus, Option<u64>), StoreError> {
        let (source, read_at) = match self.sources.get(key.id.as_str(), epoch) {
            Some(cached) => cached,
            None => {
                let read_at = epoch.read(store).await?;
                let source = store.get_status_source(key.id.as_str()).await?;
                self.sources.put(key.id.as_str(), read_at, source.clone());
                (source, read_at)
            }
        };
        Ok((self.status_from(source, key).await?, Some(read_at)))
    }

    /// What `source`, the status source of `key`, says now.
    async fn status_from(
        &self,
        source: Option<inkan_store::status::StatusSourceRecord>,
        key: &KeyRecord,
    ) -> Result<LiveStatus, StoreError> {
        let kind = source.as_ref().map_or(StatusSourceKind::None, |s| s.kind);
        let checked_at = self.clock.now();
        if !key.certificate_chain.is_empty() {
            let now = checked_at.div_euclid(1000);
            match inkan_device::cert::CertificateChain::from_der_list(&key.certificate_chain) {
                Ok(chain) => {
                    let (not_before, not_after) = chain.leaf_validity();
                    if now < not_before || now > not_after {
                        return Ok(LiveStatus::without_list(
                            KeyStatusValue::Expired,
                            kind,
                            checked_at,
                            "its certificate is outside its validity period".into(),
                        ));
                    }
                }
                Err(e) => {
                    return Ok(LiveStatus::without_list(
                        KeyStatusValue::Unknown,
                        kind,
                        checked_at,
                        format!("its certificate: {e}"),
                    ));
                }
            }
        }
        let list = match source.map(|s| StatusSource::from_record(&s, key)) {
            Some(Ok(None)) if kind == StatusSourceKind::Registry => {
                return Ok(LiveStatus::from_registry(key, checked_at));
            }
            None | Some(Ok(None)) => {
                return Ok(LiveStatus::without_list(
                    KeyStatusValue::Unknown,
                    StatusSourceKind::None,
                    checked_at,
                    "no status source is set".into(),
                ));
            }
            Some(Err(reason)) => {
                return Ok(LiveStatus::without_list(
                    KeyStatusValue::Unknown,
                    kind,
                    checked_at,
                    reason,
                ));
            }
            Some(Ok(Some(list))) => list,
        };
        let check = self.check(&list).await;
        let (value, reason) = match check.status {
            KeyStatus::Valid => (KeyStatusValue::Valid, None),
            KeyStatus::Suspended => (
                KeyStatusValue::Suspended,
                Some(format!("its status list {} says suspended", list.url())),
            ),
            KeyStatus::Revoked => (
                KeyStatusValue::Revoked,
                Some(format!("its status list {} says revoked", list.url())),
            ),
            KeyStatus::Unknown(reason) => (
                KeyStatusValue::Unknown,
                Some(format!("no fresh, verified status: {reason}")),
            ),
        };
        Ok(LiveStatus {
            value,
            source: kind,
            checked_at: check.checked_at,
            url: Some(list.url().to_owned()),
            confirmed_at: check.evidence.as_ref().map(|e| e.fetched_at),
            reason,
            evidence: check.evidence,
        })
    }
}

/// Whether `key`'s certificate's validity period ended before `now` (a certificate not yet
/// valid has not ended): the monitor destroys such a key (criteria 2.2.2(3)A).
pub fn certificate_has_ended(key: &KeyRecord, now: UnixMillis) -> bool {
    if key.certificate_chain.is_empty() {
        return false;
    }
    match inkan_device::cert::CertificateChain::from_der_list(&key.certificate_chain) {
        Ok(chain) => now.div_euclid(1000) > chain.leaf_validity().1,
        Err(_) => false,
    }
}
