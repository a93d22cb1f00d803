//! The evidence pack an auditor checks offline (criteria 2.1.3(3), (11)), and the end of the
//! service (criteria 2.1.3(10)).
//!
//! [`export`] writes a folder: the key inventory (`keys.json`), every key lifecycle entry of
//! the log (`key-events.jsonl`), the status lists Inkan keeps for issuers with every published
//! version and each changed entry's last change and the version that first showed it
//! (`status-lists.json`, issue 16), every status list entry of the log (who created a list,
//! who changed which entry when: `status-events.jsonl`), operators with roles and terminals
//! (`operators.json`), the
//! clause map with the tests that show each clause (`compliance.md`), a manifest of their
//! SHA-256 digests, then — after the manifest's digest is appended to the log and a checkpoint
//! signed — the log export (`log.jsonl`), its verification (`verification.json`) and the log
//! key (`log-key.vkey`), so `inkan log verify --export log.jsonl --log-key log-key.vkey` checks
//! it all with no database and no device. [`decommission`] ends the service: every
//! subscriber's use, every key, a final checkpoint, the pack, and last the log key.
//!
//! Must never: write into a folder that holds anything, or leave out a key whatever its state.

use crate::keys::KeyError;
use crate::keys::own_keys::OWNER;
use crate::service::Service;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use inkan_log::entry::{Actor, Entry, EntryKind};
use inkan_store::{KeyFilter, KeyState, Store, StoreError};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::path::Path;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The target folder is not new.
    #[error("{0}")]
    Refused(String),
    /// A file could not be written.
    #[error("{0}")]
    Io(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    /// The key registry failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Pack {
    /// The files and their SHA-256 (hex), in the manifest.
    pub files: Vec<(String, String)>,
    /// The log's size in the pack.
    pub log_entries: u64,
    /// The index of the entry carrying the manifest's digest.
    pub manifest_entry: u64,
}

/// Entries read per page.
const PAGE: u32 = 1000;

/// Writes the evidence pack into the new folder `out`.
pub async fn export(
    service: &Service,
    actor: &Actor,
    out: &Path,
    compliance_map: &str,
) -> Result<Pack, EvidenceError> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| EvidenceError::Io(format!("{}: {e}", out.display())))?
            .next()
            .is_some()
    {
        return Err(EvidenceError::Refused(format!(
            "{} is not empty: the pack goes into a new folder",
            out.display()
        )));
    }
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(out)
            .map_err(|e| EvidenceError::Io(format!("{}: {e}", out.display())))?;
    }
    let store = &service.store;
    let key_records = store.list_keys(&KeyFilter::default()).await?;
    let keys: Vec<Value> = key_records
        .iter()
        .map(|k| {
            json!({
                "id": k.id.to_string(),
                "owner": k.owner,
                "label": k.label,
                "algorithm": k.algorithm.as_str(),
                "origin": k.origin.as_str(),
                "environment": k.environment.as_str(),
                "state": k.state.as_str(),
                "state_reason": k.state_reason,
                "state_changed_at": k.state_changed_at,
                "created_at": k.created_at,
                "public_key_spki": B64.encode(&k.public_key_spki),
                "certificates": k.certificate_chain.len(),
            })
        })
        .collect();
    let mut owners: Vec<&str> = key_records.iter().map(|k| k.owner.as_str()).collect();
    owners.sort_unstable();
    owners.dedup();
    let status_lists = status_lists(store.as_ref(), &owners).await?;
    let (mut events, mut status_events) = (String::new(), String::new());
    let mut from = 0u64;
    loop {
        let page = store.log_entries(from, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for (i, bytes) in page.iter().enumerate() {
            let entry = Entry::decode(bytes).map_err(crate::log::LogError::from)?;
            let file = match entry.kind {
                EntryKind::StatusListCreated | EntryKind::CredentialStatusChanged => {
                    &mut status_events
                }
                kind if kind.as_str().starts_with("key.") => &mut events,
                _ => continue,
            };
            let value: Value = serde_json::from_slice(bytes)
                .map_err(|e| EvidenceError::Io(format!("entry {}: {e}", from + i as u64)))?;
            file.push_str(&json!({"index": from + i as u64, "entry": value}).to_string());
            file.push('\n');
        }
        from += page.len() as u64;
    }
    let mut operators = Vec::new();
    let terminals = store.terminals().await?;
    for role in store.operator_roles().await? {
        let account = store.get_account(&role.account_id).await?;
        operators.push(json!({
            "account_id": role.account_id,
            "username": account.as_ref().map(|a| a.username.clone()),
            "state": account.as_ref().map(|a| a.state.as_str()),
            "role": role.role.as_str(),
            "role_set_at": role.set_at,
            "role_set_by": role.set_by,
            "terminals": terminals.iter().filter(|t| t.account_id == role.account_id).map(|t| json!({
                "thumbprint": t.thumbprint, "name": t.name, "registered_at": t.registered_at,
                "registered_by": t.registered_by, "revoked_at": t.revoked_at,
            })).collect::<Vec<_>>(),
        }));
    }
    let mut files = Vec::new();
    let pretty = |v: &Value| serde_json::to_vec_pretty(v).unwrap_or_default();
    for (name, bytes) in [
        ("keys.json", pretty(&Value::Array(keys))),
        ("key-events.jsonl", events.into_bytes()),
        ("status-lists.json", pretty(&Value::Array(status_lists))),
        ("status-events.jsonl", status_events.into_bytes()),
        ("operators.json", pretty(&Value::Array(operators))),
        ("compliance.md", compliance_map.as_bytes().to_vec()),
    ] {
        write(out, name, &bytes)?;
        files.push((name.to_owned(), hex::encode(Sha256::digest(&bytes))));
    }
    let manifest = json!({
        "format": "inkan-evidence/1",
        "environment": service.environment.as_str(),
        "log_origin": service.log.origin(),
        "created_at": service.now(),
        "files": files.iter().map(|(n, d)| (n.clone(), Value::String(d.clone()))).collect::<serde_json::Map<_, _>>(),
    });
    let manifest_bytes = pretty(&manifest);
    write(out, "manifest.json", &manifest_bytes)?;
    let manifest_digest = hex::encode(Sha256::digest(&manifest_bytes));
    let manifest_entry = service
        .record_operation(
            actor,
            None,
            format!("evidence pack exported: manifest.json sha256 {manifest_digest}"),
        )
        .await?;
    service.log.checkpoint_now().await?;
    let mut export = Vec::new();
    service.log.export(&mut export).await?;
    write(out, "log.jsonl", &export)?;
    let vkey = service.log_vkey()?;
    let verifier =
        inkan_log::note::NoteVerifier::from_vkey(&vkey).map_err(crate::log::LogError::from)?;
    let report =
        inkan_log::verify::verify_export(export.as_slice(), &verifier, service.log.origin())
            .map_err(crate::log::LogError::from)?;
    write(out, "log-key.vkey", format!("{vkey}\n").as_bytes())?;
    let public = inkan_device::PublicKey::from_spki_der(&service.log_key.public_key_spki)
        .map_err(KeyError::from)?;
    write(out, "log-key.pem", public.to_pem().as_bytes())?;
    let verification = json!({
        "verified": true,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "root": hex::encode(report.root),
        "last_checkpoint_size": report.last_checkpoint.size,
        "manifest_entry": manifest_entry,
        "manifest_sha256": manifest_digest,
        "check_offline": "inkan log verify --export log.jsonl --log-key log-key.vkey; the entry at manifest_entry names manifest.json's SHA-256, and manifest.json names the other files'",
    });
    write(out, "verification.json", &pretty(&verification))?;
    Ok(Pack {
        files,
        log_entries: report.entries,
        manifest_entry,
    })
}

/// The bytes a published version was served as.
fn served(version: &inkan_store::StatusListVersion) -> Result<Vec<u8>, EvidenceError> {
    crate::status_lists::StatusLists::served(version).map_err(|e| EvidenceError::Io(e.to_string()))
}

/// The status lists of `owners`, each with its published versions (the SHA-256 of the document
/// as served, not the document) and its history: every entry ever changed, its last change, and the first
/// published version that showed it (the first whose `covers` reaches the change's number).
async fn status_lists(store: &dyn Store, owners: &[&str]) -> Result<Vec<Value>, EvidenceError> {
    let mut lists = Vec::new();
    for owner in owners {
        for list in store.status_lists_of(owner).await? {
            let mut versions = Vec::new();
            let mut from = 0;
            loop {
                let page = store.status_list_versions(&list.id, from, PAGE).await?;
                let Some(last) = page.last() else { break };
                from = last.version + 1;
                versions.extend(page);
            }
            let mut history = Vec::new();
            let mut from = 0;
            loop {
                let page = store.changed_status_entries(&list.id, from, PAGE).await?;
                let Some(last) = page.last() else { break };
                from = last.index + 1;
                for entry in page {
                    let shown_from = entry.change_seq.and_then(|seq| {
                        versions.iter().find(|v| v.covers >= seq).map(|v| v.version)
                    });
                    history.push(json!({
                        "index": entry.index, "value": entry.value, "final": entry.is_final,
                        "changed_at": entry.changed_at, "changed_by": entry.changed_by,
                        "change_number": entry.change_seq, "shown_from_version": shown_from,
                        "credential_digest": entry.digest,
                        "credential_log_index": entry.log_index,
                    }));
                }
            }
            lists.push(json!({
                "id": list.id, "owner": list.owner, "key_id": list.key_id,
                "format": list.format.as_str(), "signed_as": list.signed_as.as_str(),
                "purpose": list.purpose, "bits": list.bits, "size": list.size,
                "ttl_ms": list.ttl_ms, "created_at": list.created_at,
                "created_by": list.created_by, "changes": list.changes,
                "versions": versions.iter().map(|v| Ok(json!({
                    "version": v.version, "covers": v.covers, "media_type": v.media_type,
                    "sha256": hex::encode(Sha256::digest(&served(v)?)),
                    "valid_from": v.valid_from, "valid_until": v.valid_until,
                    "log_index": v.log_index, "published_at": v.published_at,
                }))).collect::<Result<Vec<_>, EvidenceError>>()?,
                "history": history,
            }));
        }
    }
    Ok(lists)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), EvidenceError> {
    let path = dir.join(name);
    inkan_device::sealing::write_private_file(&path, bytes)
        .map_err(|e| EvidenceError::Io(format!("{}: {e}", path.display())))
}

/// What [`decommission`] did.
#[derive(Debug)]
pub struct Ended {
    /// Subscribers whose use was ended.
    pub subscribers: Vec<String>,
    /// Keys destroyed (the log key last).
    pub destroyed: Vec<String>,
    /// The evidence pack.
    pub pack: Pack,
}

/// Ends the service (criteria 2.1.3(10)): every subscriber's use (accounts, clients,
/// sessions), every key (signing stops at the first step: all keys are disabled before any is
/// destroyed), a final checkpoint and the evidence pack in `evidence_out`, and last the log
/// key itself, so nothing can sign for this deployment again and `inkan serve` refuses to
/// start on it. The caller has checked dual control.
pub async fn decommission(
    service: &Service,
    actor: &Actor,
    reason: &str,
    evidence_out: &Path,
    compliance_map: &str,
) -> Result<Ended, EvidenceError> {
    let store = &service.store;
    let cause = format!("decommissioned: {reason}");
    let keys = store.list_keys(&KeyFilter::default()).await?;
    let (log_keys, keys): (Vec<_>, Vec<_>) = keys
        .into_iter()
        .filter(|k| k.state != KeyState::Destroyed && k.environment == service.environment)
        .partition(|k| k.owner == OWNER);
    for key in keys.iter().filter(|k| k.state == KeyState::Active) {
        store
            .change_key_state(
                &key.id,
                &inkan_store::StateChange {
                    from: vec![KeyState::Active],
                    to: KeyState::Disabled,
                    reason: cause.clone(),
                    at: service.now(),
                    only_if_reason: None,
                },
            )
            .await?;
    }
    let mut subscribers = Vec::new();
    for subscriber in store.list_subscribers().await? {
        if subscriber.environment == service.environment.as_str()
            && subscriber.state == inkan_store::auth::SubscriberState::Active
        {
            store
                .terminate_subscriber(&subscriber.id, &cause, service.now())
                .await?;
            subscribers.push(subscriber.id);
        }
    }
    let mut destroyed = Vec::new();
    for key in &keys {
        service.registry.destroy(actor, &key.id, &cause).await?;
        destroyed.push(key.id.to_string());
    }
    let pack = export(service, actor, evidence_out, compliance_map).await?;
    for key in &log_keys {
        service.registry.destroy(actor, &key.id, &cause).await?;
        destroyed.push(key.id.to_string());
    }
    Ok(Ended {
        subscribers,
        destroyed,
        pack,
    })
}
