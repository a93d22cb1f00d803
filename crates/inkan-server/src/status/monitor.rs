//! The status monitor (criteria 2.2.2(3)B, 2.2.3(1)B): re-checks the status list of every
//! active key that has one, records what it found (the key's last status and its evidence),
//! and destroys a key its list says is revoked.
//!
//! Destruction goes through the key registry (disable, then the device, then `destroyed`), so
//! it is logged like any other, here with the evidence: the list's URL, the index, the SHA-256
//! of the list as served and its `iat`. Must never destroy a key on anything but a verified
//! list saying revoked (an unreachable or badly signed list is `unknown`: the key stops
//! signing, it is not destroyed).

use super::{KeyStatus, StatusChecker, StatusSource};
use crate::service::{Service, system_actor};
use crate::store::KeyId;
use crate::store::status::{KeyStatusRecord, KeyStatusValue};
use serde_json::json;

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MonitorReport {
    /// Keys checked.
    pub checked: usize,
    /// Keys destroyed on revocation.
    pub destroyed: Vec<String>,
    /// Keys whose check or destruction failed (retried next round).
    pub failed: usize,
}

/// Checks every active key's status source once.
pub async fn run_once(service: &Service, checker: &StatusChecker) -> MonitorReport {
    let mut report = MonitorReport::default();
    let sources = match service.store.active_status_sources().await {
        Ok(sources) => sources,
        Err(e) => {
            tracing::warn!(error = %e, "status monitor: listing status sources failed");
            report.failed += 1;
            return report;
        }
    };
    for record in sources {
        let list = match StatusSource::from_record(&record) {
            Ok(Some(list)) => list,
            Ok(None) => continue,
            Err(reason) => {
                tracing::warn!(key = %record.key_id, %reason, "status monitor: bad source");
                report.failed += 1;
                continue;
            }
        };
        let check = checker.check(&list).await;
        report.checked += 1;
        let (status, evidence) = match &check.status {
            KeyStatus::Valid => (KeyStatusValue::Valid, None),
            KeyStatus::Suspended => (KeyStatusValue::Suspended, None),
            KeyStatus::Revoked => (KeyStatusValue::Revoked, None),
            KeyStatus::Unknown(reason) => (KeyStatusValue::Unknown, Some(reason.clone())),
        };
        let evidence = check
            .evidence
            .as_ref()
            .map(|e| {
                json!({
                    "url": e.url, "index": e.index, "listSha256": e.list_sha256,
                    "fetchedAt": e.fetched_at, "issuedAt": e.issued_at, "expiresAt": e.expires_at,
                })
                .to_string()
            })
            .or(evidence);
        let recorded = KeyStatusRecord {
            key_id: record.key_id.clone(),
            status,
            checked_at: check.checked_at,
            evidence: evidence.clone(),
        };
        if let Err(e) = service.store.record_key_status(&recorded).await {
            tracing::warn!(key = %record.key_id, error = %e, "status monitor: recording failed");
            report.failed += 1;
        }
        if status != KeyStatusValue::Revoked {
            continue;
        }
        let reason = format!(
            "revoked by its status list: {}",
            evidence.as_deref().unwrap_or("no evidence")
        );
        let destroyed = match KeyId::parse(&record.key_id) {
            Ok(id) => {
                service
                    .registry
                    .destroy(&system_actor(), &id, &reason)
                    .await
            }
            Err(e) => {
                tracing::error!(key = %record.key_id, error = %e, "status monitor: bad key id");
                report.failed += 1;
                continue;
            }
        };
        match destroyed {
            Ok(_) => {
                tracing::warn!(key = %record.key_id, %reason, "key destroyed on revocation");
                report.destroyed.push(record.key_id);
            }
            Err(e) => {
                tracing::error!(key = %record.key_id, error = %e, "status monitor: destruction failed");
                report.failed += 1;
            }
        }
    }
    report
}
