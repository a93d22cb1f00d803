//! The status monitor (criteria 2.2.2(3)A-B, 2.2.3(1)B): re-checks the status of every active
//! key that has a status source or a certificate, records what it found (the key's last status
//! and its evidence), and destroys a key its list says is revoked or whose certificate has
//! expired.
//!
//! Destruction goes through the key registry (disable, then the device, then `destroyed`), so
//! it is logged like any other, here with the evidence: the list's URL, the entry (index or
//! serial number), the SHA-256 of the list as served and its `iat` / `thisUpdate`. The
//! subscriber's destinations are then sent an `inkan.key.destroyed` notice
//! ([`crate::keys::retire`]).
//!
//! Must never destroy a key on anything but a verified list saying revoked or its own
//! certificate's validity period being over (an unreachable or badly signed list is `unknown`:
//! the key stops signing, it is not destroyed). A certificate not yet valid is `expired` too
//! for signing, but is not destroyed.

use super::{LiveStatus, StatusChecker};
use crate::delivery::Delivery;
use crate::keys::retire::retire;
use crate::service::{Service, system_actor};
use inkan_store::status::{KeyStatusRecord, KeyStatusValue, StatusSourceKind};
use inkan_store::{KeyFilter, KeyState};
use serde_json::{Value, json};

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MonitorReport {
    /// Keys checked.
    pub checked: usize,
    /// Keys destroyed on revocation.
    pub destroyed: Vec<String>,
    /// Keys whose check, destruction or notice failed (checks are retried next round).
    pub failed: usize,
}

/// The evidence a status answer rests on, as the log and the notice carry it.
pub fn evidence_json(live: &LiveStatus) -> Value {
    match &live.evidence {
        Some(e) => json!({
            "url": e.url, "entry": e.entry, "listSha256": e.list_sha256,
            "fetchedAt": e.fetched_at, "issuedAt": e.issued_at, "expiresAt": e.expires_at,
        }),
        None => json!({ "reason": live.reason }),
    }
}

/// Checks every active key's status source once.
pub async fn run_once(
    service: &Service,
    checker: &StatusChecker,
    delivery: &Delivery,
) -> MonitorReport {
    let mut report = MonitorReport::default();
    let keys = match service
        .registry
        .list(KeyFilter {
            state: Some(KeyState::Active),
            ..KeyFilter::default()
        })
        .await
    {
        Ok(keys) => keys,
        Err(e) => {
            tracing::warn!(error = %e, "status monitor: listing active keys failed");
            report.failed += 1;
            return report;
        }
    };
    // Inkan's own keys (the log key) are not subscribers' keys: no status source, no
    // certificate, and only `inkan decommission` ends them.
    for key in keys
        .into_iter()
        .filter(|k| k.owner != crate::keys::own_keys::OWNER)
    {
        // A key with neither a certificate nor a status source has nothing to re-check; one
        // with a certificate is checked for its validity period whatever its source.
        let live = match checker.key_status(service.store.as_ref(), &key).await {
            Ok(live) => live,
            Err(e) => {
                tracing::warn!(key = %key.id, error = %e, "status monitor: check failed");
                report.failed += 1;
                continue;
            }
        };
        if live.source == StatusSourceKind::None && live.value != KeyStatusValue::Expired {
            continue;
        }
        let key_id = key.id.to_string();
        report.checked += 1;
        let evidence = evidence_json(&live);
        let recorded = KeyStatusRecord {
            key_id: key_id.clone(),
            status: live.value,
            checked_at: live.checked_at,
            evidence: Some(evidence.to_string()),
        };
        if let Err(e) = service.store.record_key_status(&recorded).await {
            tracing::warn!(key = %key_id, error = %e, "status monitor: recording failed");
            report.failed += 1;
        }
        let (cause, reason) = match live.value {
            KeyStatusValue::Revoked => {
                ("revoked", format!("revoked by its status list: {evidence}"))
            }
            // Criteria 2.2.2(3)A: a key whose certificate has expired is destroyed, not left
            // to its subscriber's renewal.
            KeyStatusValue::Expired if super::key::certificate_has_ended(&key, live.checked_at) => {
                (
                    "expired",
                    format!("expired: its certificate's validity period is over: {evidence}"),
                )
            }
            _ => continue,
        };
        match retire(
            &service.registry,
            delivery,
            &system_actor(),
            &key,
            cause,
            &reason,
            evidence,
        )
        .await
        {
            Ok(retired) => {
                report.destroyed.push(key_id.clone());
                if retired.notices.is_err() {
                    report.failed += 1;
                }
            }
            Err(e) => {
                tracing::error!(key = %key_id, error = %e, "status monitor: destruction failed");
                report.failed += 1;
            }
        }
    }
    report
}
