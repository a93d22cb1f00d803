//! The status monitor (criteria 2.2.2(3)B, 2.2.3(1)B): re-checks the status of every active
//! key that has a status source, records what it found (the key's last status and its
//! evidence), and destroys a key its list says is revoked.
//!
//! Destruction goes through the key registry (disable, then the device, then `destroyed`), so
//! it is logged like any other, here with the evidence: the list's URL, the entry (index or
//! serial number), the SHA-256 of the list as served and its `iat` / `thisUpdate`. The
//! subscriber's destinations are then sent an `inkan.key.destroyed` notice
//! ([`crate::keys::retire`]).
//!
//! Must never destroy a key on anything but a verified list saying revoked (an unreachable or
//! badly signed list is `unknown`, an expired certificate `expired`: the key stops signing, it
//! is not destroyed).

use super::{LiveStatus, StatusChecker};
use crate::delivery::Delivery;
use crate::keys::retire::retire;
use crate::service::{Service, system_actor};
use crate::store::KeyId;
use crate::store::status::{KeyStatusRecord, KeyStatusValue, StatusSourceKind};
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
    let sources = match service.store.active_status_sources().await {
        Ok(sources) => sources,
        Err(e) => {
            tracing::warn!(error = %e, "status monitor: listing status sources failed");
            report.failed += 1;
            return report;
        }
    };
    for source in sources {
        if source.kind == StatusSourceKind::None {
            continue;
        }
        let key = match KeyId::parse(&source.key_id) {
            Ok(id) => service.registry.get(&id).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let live = match key {
            Ok(key) => checker
                .key_status(service.store.as_ref(), &key)
                .await
                .map(|live| (key, live))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let (key, live) = match live {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(key = %source.key_id, error = %e, "status monitor: check failed");
                report.failed += 1;
                continue;
            }
        };
        report.checked += 1;
        let evidence = evidence_json(&live);
        let recorded = KeyStatusRecord {
            key_id: source.key_id.clone(),
            status: live.value,
            checked_at: live.checked_at,
            evidence: Some(evidence.to_string()),
        };
        if let Err(e) = service.store.record_key_status(&recorded).await {
            tracing::warn!(key = %source.key_id, error = %e, "status monitor: recording failed");
            report.failed += 1;
        }
        if live.value != KeyStatusValue::Revoked {
            continue;
        }
        let reason = format!("revoked by its status list: {evidence}");
        match retire(
            &service.registry,
            delivery,
            &system_actor(),
            &key,
            "revoked",
            &reason,
            evidence,
        )
        .await
        {
            Ok(retired) => {
                report.destroyed.push(source.key_id.clone());
                if retired.notices.is_err() {
                    report.failed += 1;
                }
            }
            Err(e) => {
                tracing::error!(key = %source.key_id, error = %e, "status monitor: destruction failed");
                report.failed += 1;
            }
        }
    }
    report
}
