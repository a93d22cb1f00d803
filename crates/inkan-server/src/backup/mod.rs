//! Backup and recovery (criteria 2.2.2(4), 2.1.3(13)): `inkan backup create / verify /
//! restore`.
//!
//! - **create**: a consistent snapshot of the store (every table), the software token's files
//!   (keys stay sealed under the KEK), the KEK file, the secrets and activation keys, sealed
//!   under a random archive key that exists only as M-of-N Shamir shares for the key
//!   officers ([`archive`]); the manifest is signed by the log key, and the backup is logged.
//! - **verify**: without restoring: the form, the digest, the manifest's signature by the
//!   deployment's log key; with M shares also that the payload opens and matches the manifest.
//! - **restore**: into an empty store and an empty token only; M shares (dual control: M key
//!   officers); then the log as exported after the backup (`inkan log export`) is checked
//!   against the restored log key and appended, so the log continues instead of forking, and
//!   every key destroyed after the backup (a `key.destroyed` entry past the backup's log size:
//!   a tombstone) is destroyed again instead of coming back. Everything is logged.
//!
//! PKCS#11 keys are not exported: an HSM's keys are backed up with the HSM's own means.
//! Must never: write the archive key in the clear, restore over anything, or bring back a
//! key the log says was destroyed.

pub mod archive;
pub mod seal;

use crate::clock::Clock;
use crate::config::{Config, DeviceConfig};
use crate::keys::KeyError;
use crate::service::{Service, StartError};
use archive::{Archive, FileEntry, Manifest, Payload, Share};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use inkan_device::{Algorithm, DeviceError, PublicKey};
use inkan_log::entry::{Actor, Entry, EntryKind};
use inkan_log::verify::ExportLine;
use inkan_store::backup::{Cell, TABLES};
use inkan_store::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest archive or log export read, bytes.
pub const MAX_ARCHIVE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// Deepest folder walked in the token.
const MAX_DEPTH: usize = 4;

/// Why a backup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The input is wrong (names what).
    #[error("{0}")]
    Invalid(String),
    /// The target is not empty, or belongs elsewhere.
    #[error("{0}")]
    Refused(String),
    /// Not possible with this device.
    #[error("{0}")]
    Unsupported(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The device failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The key registry failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The service could not be opened.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A new backup.
#[derive(Debug)]
pub struct Created {
    /// The archive's bytes.
    pub archive: Vec<u8>,
    /// Its manifest.
    pub manifest: Manifest,
    /// The key officers' shares (hand each to one officer).
    pub shares: Vec<Share>,
}

/// Where the soft token and the host secrets live.
struct Paths {
    /// The software token's folder (`None` for PKCS#11: its keys travel wrapped).
    token: Option<PathBuf>,
    kek: Option<PathBuf>,
    secrets: PathBuf,
    activation: PathBuf,
}

fn paths(config: &Config) -> Result<Paths, BackupError> {
    match &config.device {
        DeviceConfig::Soft {
            path,
            kek_file,
            kek_passphrase_file,
            kek_passphrase_env,
        } => Ok(Paths {
            token: Some(path.clone()),
            kek: (kek_passphrase_file.is_none() && kek_passphrase_env.is_none())
                .then(|| kek_file.clone()),
            secrets: config.server.secrets_key_file.clone(),
            activation: config.signing.activation_key_file.clone(),
        }),
        DeviceConfig::Pkcs11 { .. } => Ok(Paths {
            token: None,
            kek: None,
            secrets: config.server.secrets_key_file.clone(),
            activation: config.signing.activation_key_file.clone(),
        }),
    }
}

/// The device kind's name in the manifest.
fn device_name(config: &Config) -> &'static str {
    match config.device {
        DeviceConfig::Soft { .. } => "soft",
        DeviceConfig::Pkcs11 { .. } => "pkcs11",
    }
}

/// A live key of a snapshot: its handle, label, public key (SPKI, base64) and algorithm.
struct LiveKey {
    handle: String,
    label: String,
    spki: String,
    algorithm: String,
}

/// The live keys of a snapshot's `keys` table.
fn live_keys(tables: &[inkan_store::backup::TableRows]) -> Vec<LiveKey> {
    let text = |row: &inkan_store::backup::Row, column: &str| match row.get(column) {
        Some(Cell::Text(t)) => Some(t.clone()),
        Some(Cell::Bytes(b)) => Some(b.clone()),
        _ => None,
    };
    tables
        .iter()
        .filter(|t| t.table == "keys")
        .flat_map(|t| t.rows.iter())
        .filter(|row| row.get("state") != Some(&Cell::Text("destroyed".into())))
        .filter_map(|row| {
            Some(LiveKey {
                handle: text(row, "handle")?,
                label: text(row, "label")?,
                spki: text(row, "public_key_spki")?,
                algorithm: text(row, "algorithm")?,
            })
        })
        .collect()
}

/// Takes a backup of the running deployment `service` (configured by `config`): `threshold`
/// of `shares` key officers' shares will open it. `progress` hears what is being done.
pub async fn create(
    config: &Config,
    service: &Service,
    actor: &Actor,
    threshold: u8,
    shares: u8,
    progress: &mut dyn FnMut(&str),
) -> Result<Created, BackupError> {
    if config.log.key_device.is_some() {
        return Err(BackupError::Unsupported(
            "Inkan's own keys are in [log.key_device], which inkan backup does not cover yet: \
             back up that token (its folder and KEK, or the HSM's own means) with the store"
                .into(),
        ));
    }
    let paths = paths(config)?;
    let id = inkan_store::auth::new_id("bak");
    let (key, shares) = archive::split(&id, threshold, shares)?;
    progress("reading the store (one snapshot)");
    let log_size = service.store.log_size().await?;
    let tables = service.store.snapshot().await?;
    // Entries appended between reading the size and the snapshot are in the snapshot; the
    // backup's log size is what the snapshot holds.
    let log_size = tables
        .iter()
        .find(|t| t.table == "log_entries")
        .map_or(log_size, |t| t.rows.len() as u64);
    let rows: u64 = tables.iter().map(|t| t.rows.len() as u64).sum();
    progress(&format!("{} tables, {rows} rows", tables.len()));
    let mut files = Vec::new();
    match &paths.token {
        Some(token) => collect_folder(token, token, 0, &mut files)?,
        // PKCS#11: each live key wrapped under the token's trusted backup key.
        None => {
            for LiveKey { handle, .. } in live_keys(&tables) {
                let device = service.device.clone();
                let key = inkan_device::KeyHandle::new(handle.clone());
                let wrapped = tokio::task::spawn_blocking(move || device.export_for_backup(&key))
                    .await
                    .map_err(|e| BackupError::Invalid(format!("export task: {e}")))?
                    .map_err(|e| {
                        BackupError::Refused(format!("key {handle} cannot be backed up: {e}"))
                    })?;
                files.push(FileEntry {
                    role: "wrapped".into(),
                    path: handle,
                    bytes: B64.encode(wrapped),
                });
            }
        }
    }
    for (role, path) in [
        ("kek", paths.kek.as_ref()),
        ("secrets", Some(&paths.secrets)),
        ("activation", Some(&paths.activation)),
    ] {
        // The secrets and activation keys exist once the service has run; a deployment
        // used only through `inkan keys` has none.
        if let Some(path) = path.filter(|p| role == "kek" || p.exists()) {
            let bytes = std::fs::read(path).map_err(io(path))?;
            files.push(FileEntry {
                role: role.into(),
                path: String::new(),
                bytes: B64.encode(bytes),
            });
        }
    }
    progress(&format!(
        "{} files (token keys stay sealed under the KEK)",
        files.len()
    ));
    let payload = Payload {
        tables: tables.clone(),
        files,
    };
    progress("sealing");
    let ciphertext = archive::seal(&key, &id, &payload)?;
    let manifest = Manifest {
        format: archive::FORMAT.into(),
        id: id.clone(),
        environment: service.environment,
        engine: service.store.engine().into(),
        device: device_name(config).into(),
        created_at: service.now(),
        log_origin: service.log.origin().into(),
        log_size,
        log_key_spki: B64.encode(&service.log_key.public_key_spki),
        threshold,
        shares: u8::try_from(shares.len()).unwrap_or(u8::MAX),
        tables: tables
            .iter()
            .map(|t| (t.table.clone(), t.rows.len() as u64))
            .collect(),
        files: payload.files.len() as u64,
        ciphertext_sha256: archive::digest(&ciphertext),
    };
    let line = serde_json::to_string(&manifest).map_err(|e| BackupError::Invalid(e.to_string()))?;
    let device = service.device.clone();
    let log_key = crate::keys::own_keys::OwnKey::log_key(&service.log_key)
        .map_err(|e| BackupError::Invalid(e.to_string()))?;
    let message = line.clone().into_bytes();
    let signature = tokio::task::spawn_blocking(move || {
        device.sign_own(&log_key, crate::device::OwnKeyUse::BackupManifest, &message)
    })
    .await
    .map_err(|e| BackupError::Invalid(format!("signing task: {e}")))??;
    service.record_operation(
        actor,
        None,
        format!(
            "backup {id} created: log size {log_size}, {rows} rows, {} files, {threshold} of {} \
             key officers' shares open it, manifest sha256 {}",
            manifest.files,
            manifest.shares,
            archive::digest(line.as_bytes())
        ),
    )
    .await?;
    progress("done");
    Ok(Created {
        archive: archive::encode(&line, &signature, &ciphertext),
        manifest,
        shares,
    })
}

/// What `verify` established.
#[derive(Debug)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// Whether the payload was opened (shares given) and matched the manifest.
    pub opened: bool,
}

/// Checks an archive without restoring it: form, digest, and the manifest's signature by
/// `log_key_spki` (the deployment's log key, which the caller trusts); with `shares`, also
/// that the payload opens and holds what the manifest says.
pub fn verify(
    bytes: &[u8],
    log_key_spki: &[u8],
    shares: &[Share],
) -> Result<Verified, BackupError> {
    let archive = archive::decode(bytes)?;
    check_signature(&archive, log_key_spki)?;
    let opened = if shares.is_empty() {
        false
    } else {
        let key = archive::combine(&archive.manifest, shares)?;
        let payload = archive::open(&key, &archive)?;
        check_payload(&archive.manifest, &payload)?;
        true
    };
    Ok(Verified {
        manifest: archive.manifest,
        opened,
    })
}

fn check_signature(archive: &Archive, log_key_spki: &[u8]) -> Result<(), BackupError> {
    let named = B64
        .decode(&archive.manifest.log_key_spki)
        .map_err(|_| BackupError::Invalid("the manifest's log key is not base64".into()))?;
    if named != log_key_spki {
        return Err(BackupError::Invalid(
            "the archive was signed by another log key than this deployment's".into(),
        ));
    }
    PublicKey::from_spki_der(log_key_spki)?
        .verify(
            Algorithm::EdDsa,
            archive.manifest_line.as_bytes(),
            &archive.signature,
        )
        .map_err(|_| {
            BackupError::Invalid("the archive was altered: the manifest's signature fails".into())
        })
}

fn check_payload(manifest: &Manifest, payload: &Payload) -> Result<(), BackupError> {
    let tables: std::collections::BTreeMap<String, u64> = payload
        .tables
        .iter()
        .map(|t| (t.table.clone(), t.rows.len() as u64))
        .collect();
    if tables != manifest.tables || payload.files.len() as u64 != manifest.files {
        return Err(BackupError::Invalid(
            "the payload does not hold what the manifest says".into(),
        ));
    }
    Ok(())
}

/// How a restore treats the log written after the backup.
#[derive(Debug)]
pub enum LaterLog {
    /// The deployment's log as exported after the backup (`inkan log export`): checked,
    /// appended, and its `key.destroyed` entries are tombstones.
    Export(Vec<u8>),
    /// There is none (the operators say so): the restored log ends at the backup.
    None,
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The archive.
    pub manifest: Manifest,
    /// Entries of the later log appended.
    pub later_entries: u64,
    /// Keys destroyed because the log says they were destroyed after the backup.
    pub tombstoned: Vec<String>,
    /// Whether the deployment is sealed until an approved `backup.restore` ([`seal`]).
    pub sealed: bool,
}

/// Restores `bytes` opened with `shares` into the empty store and token `config` names.
/// `trusted_log_key` is the deployment's log key (SPKI DER) as the operators know it (published
/// at `/v1/log/key`, kept in evidence packs): the archive must be signed by it.
///
/// Everything is checked before anything is written: the signature, the shares, the payload,
/// that the store and the token are empty, and the later log (fully checkpointed, signed by
/// the log key, continuing exactly the backup's log). Keys the later log says were destroyed
/// are written back as destroyed and their device files left out; sessions and tokens are
/// not restored (everyone logs in again). Files written before a failure are removed; the
/// store is written in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn restore(
    config: &Config,
    clock: Arc<dyn Clock>,
    actor: &Actor,
    bytes: &[u8],
    trusted_log_key: &[u8],
    shares: &[Share],
    later: LaterLog,
    progress: &mut dyn FnMut(&str),
) -> Result<Restored, BackupError> {
    if config.log.key_device.is_some() {
        return Err(BackupError::Unsupported(
            "a backup goes back only into a deployment without [log.key_device] (inkan backup \
             does not cover a separate token for Inkan's own keys yet)"
                .into(),
        ));
    }
    let paths = paths(config)?;
    let archive = archive::decode(bytes)?;
    let manifest = archive.manifest.clone();
    check_signature(&archive, trusted_log_key)?;
    if manifest.environment != config.environment {
        return Err(BackupError::Refused(format!(
            "the backup belongs to the {} environment, not {}",
            manifest.environment, config.environment
        )));
    }
    let known: std::collections::BTreeSet<&str> = TABLES.iter().copied().collect();
    if manifest
        .tables
        .keys()
        .map(String::as_str)
        .collect::<std::collections::BTreeSet<_>>()
        != known
    {
        return Err(BackupError::Refused(
            "the backup was taken with another version of the store's tables".into(),
        ));
    }
    let key = archive::combine(&manifest, shares)?;
    progress("opening the archive");
    let mut payload = archive::open(&key, &archive)?;
    check_payload(&manifest, &payload)?;
    let store = inkan_store::connect(&config.store.url).await?;
    if store.engine() != manifest.engine {
        return Err(BackupError::Refused(format!(
            "the backup is of a {} store; this one is {}",
            manifest.engine,
            store.engine()
        )));
    }
    if !store.is_empty().await? {
        return Err(BackupError::Refused(
            "the store is not empty: restore into a new, empty store".into(),
        ));
    }
    if manifest.device != device_name(config) {
        return Err(BackupError::Refused(format!(
            "the backup is of a {} device; this deployment uses {}",
            manifest.device,
            device_name(config)
        )));
    }
    if let Some(token) = &paths.token {
        let token_keys = token.join("keys");
        if token_keys.is_dir()
            && std::fs::read_dir(&token_keys)
                .map_err(io(&token_keys))?
                .next()
                .is_some()
        {
            return Err(BackupError::Refused(format!(
                "the token {} holds keys: restore into an empty token",
                token.display()
            )));
        }
    }
    // PKCS#11: the token must not hold the backup's keys (opening the software token would
    // create its files, so it is opened only by the service at the end).
    let device = match paths.token {
        Some(_) => None,
        None => Some(config.open_device()?),
    };
    if let Some(device) = &device {
        for file in payload.files.iter().filter(|f| f.role == "wrapped") {
            if device.contains(&inkan_device::KeyHandle::new(file.path.clone()))? {
                return Err(BackupError::Refused(format!(
                    "the token holds key {} already: restore into a token without the backup's \
                     keys",
                    file.path
                )));
            }
        }
    }
    let later = match later {
        LaterLog::Export(export) => Some(later_log(
            &manifest,
            trusted_log_key,
            &export,
            &payload.tables,
        )?),
        LaterLog::None => None,
    };
    let tombstoned = match &later {
        Some(later) => bury(&mut payload, &later.tombstones, &manifest.id, clock.now())?,
        None => Vec::new(),
    };
    // Outside `test` the restored deployment is sealed until an approved `backup.restore`
    // (`seal`): the seal is written with the restored rows, in one transaction.
    let sealed = config.environment != crate::environment::Environment::Test
        || config
            .operations
            .approvals_for
            .get("backup.restore")
            .is_some_and(|&m| m > 0);
    if sealed {
        seal::RestoreRecord {
            backup: manifest.id.clone(),
            log_size: manifest.log_size,
            later_log: later.is_some(),
            sealed: true,
            lifted_by: None,
        }
        .put_into(&mut payload.tables, clock.now());
    }
    // A restore ends every session: none is carried over.
    for t in &mut payload.tables {
        if matches!(t.table.as_str(), "sessions" | "tokens" | "sads") {
            t.rows.clear();
        }
    }
    payload
        .tables
        .sort_by_key(|t| TABLES.iter().position(|n| *n == t.table));
    progress("writing the token and the host's keys");
    let mut written = Vec::new();
    let mut restored_keys = Vec::new();
    let outcome = async {
        write_files(&paths, &payload.files, &mut written)?;
        if let Some(device) = &device {
            restore_wrapped(device, &payload, &mut restored_keys)?;
        }
        progress(&format!("restoring {} tables", payload.tables.len()));
        store.restore(&payload.tables).await?;
        Ok::<(), BackupError>(())
    }
    .await;
    if let Err(e) = outcome {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        if let Some(device) = &device {
            for handle in &restored_keys {
                let _ = device.destroy(handle);
            }
        }
        return Err(e);
    }
    drop(device);
    let mut later_entries = 0;
    if let Some(later) = &later {
        progress(&format!(
            "appending {} later log entries",
            later.entries.len()
        ));
        append_later(&*store, later, clock.now()).await?;
        later_entries = later.entries.len() as u64;
    }
    drop(store);
    let service = Service::open(config, clock).await?;
    service.record_operation(
        actor,
        None,
        format!(
            "restored backup {} (taken at log size {}); later log: {}; keys destroyed after the \
             backup, restored as destroyed: {}; sessions ended",
            manifest.id,
            manifest.log_size,
            if later.is_some() {
                format!("{later_entries} entries appended")
            } else {
                "none (the operators said there is none)".into()
            },
            if tombstoned.is_empty() {
                "none".into()
            } else {
                tombstoned.join(", ")
            }
        ) + if sealed {
            "; sealed until an approved backup.restore request"
        } else {
            ""
        },
    )
    .await?;
    progress("done");
    Ok(Restored {
        manifest,
        later_entries,
        tombstoned,
        sealed,
    })
}

/// Marks the keys of `tombstones` destroyed in the payload's `keys` rows and drops their
/// device files; returns the ids buried.
fn bury(
    payload: &mut Payload,
    tombstones: &[(String, u64)],
    backup: &str,
    now: i64,
) -> Result<Vec<String>, BackupError> {
    let mut buried = Vec::new();
    let mut handles = Vec::new();
    if let Some(keys) = payload.tables.iter_mut().find(|t| t.table == "keys") {
        for row in &mut keys.rows {
            let Some(Cell::Text(id)) = row.get("id") else {
                continue;
            };
            let Some((_, index)) = tombstones.iter().find(|(k, _)| k == id) else {
                continue;
            };
            if row.get("state") == Some(&Cell::Text("destroyed".into())) {
                continue;
            }
            let id = id.clone();
            if let Some(Cell::Text(handle)) = row.get("handle") {
                handles.push(format!("keys/{handle}"));
            }
            row.insert("state".into(), Cell::Text("destroyed".into()));
            row.insert(
                "state_reason".into(),
                Cell::Text(format!(
                    "destroyed after backup {backup} was taken (log index {index})"
                )),
            );
            row.insert("state_changed_at".into(), Cell::Int(now));
            buried.push(id);
        }
    }
    payload.files.retain(|f| {
        !((f.role == "device" && handles.contains(&f.path))
            || (f.role == "wrapped" && handles.contains(&format!("keys/{}", f.path))))
    });
    Ok(buried)
}

/// The log written after the backup, checked.
struct Later {
    /// The entries after the backup.
    entries: Vec<Vec<u8>>,
    checkpoints: Vec<(u64, String)>,
    /// Keys destroyed after the backup, and the index that says so.
    tombstones: Vec<(String, u64)>,
}

fn later_log(
    manifest: &Manifest,
    spki: &[u8],
    export: &[u8],
    tables: &[inkan_store::backup::TableRows],
) -> Result<Later, BackupError> {
    let PublicKey::Ed25519(key) = PublicKey::from_spki_der(spki)? else {
        return Err(BackupError::Invalid("the log key is not Ed25519".into()));
    };
    let vkey = inkan_log::note::vkey(&manifest.log_origin, &key.to_bytes());
    let verifier = inkan_log::note::NoteVerifier::from_vkey(&vkey)
        .map_err(|e| BackupError::Invalid(format!("the log key: {e}")))?;
    let report = inkan_log::verify::verify_export(export, &verifier, &manifest.log_origin)
        .map_err(|e| BackupError::Invalid(format!("the later log does not verify: {e}")))?;
    // The verifier refuses entries no checkpoint signs: the export ends on one.
    if report.entries < manifest.log_size {
        return Err(BackupError::Invalid(format!(
            "the later log has {} entries, fewer than the backup's {}",
            report.entries, manifest.log_size
        )));
    }
    // The backup's own log entries, as the payload holds them.
    let mut backed_up = std::collections::BTreeMap::new();
    for row in tables
        .iter()
        .find(|t| t.table == "log_entries")
        .map_or(&[][..], |t| t.rows.as_slice())
    {
        if let (Some(Cell::Int(idx)), Some(Cell::Bytes(entry))) = (row.get("idx"), row.get("entry"))
        {
            backed_up.insert(*idx, entry.clone());
        }
    }
    let not_ours =
        || BackupError::Invalid("the later log does not continue this backup's log".into());
    if backed_up.len() as u64 != manifest.log_size {
        return Err(not_ours());
    }
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    let mut tombstones = Vec::new();
    for line in std::str::from_utf8(export)
        .map_err(|_| BackupError::Invalid("the later log is not text".into()))?
        .lines()
    {
        match ExportLine::parse(line).map_err(|e| BackupError::Invalid(e.to_string()))? {
            ExportLine::Entry { index, entry } if index < manifest.log_size => {
                let ours = i64::try_from(index).ok().and_then(|i| backed_up.get(&i));
                if ours != Some(&B64.encode(&entry)) {
                    return Err(not_ours());
                }
            }
            ExportLine::Entry { index, entry } => {
                let decoded =
                    Entry::decode(&entry).map_err(|e| BackupError::Invalid(e.to_string()))?;
                if decoded.kind == EntryKind::KeyDestroyed
                    && let Some(key) = decoded.key_id
                {
                    tombstones.push((key, index));
                }
                entries.push(entry);
            }
            ExportLine::Checkpoint { note } => {
                let body = verifier
                    .open(&note)
                    .map_err(|e| BackupError::Invalid(e.to_string()))?;
                let size = body
                    .lines()
                    .nth(1)
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| BackupError::Invalid("a checkpoint without a size".into()))?;
                checkpoints.push((size, note));
            }
        }
    }
    Ok(Later {
        entries,
        checkpoints,
        tombstones,
    })
}

async fn append_later(store: &dyn Store, later: &Later, at: i64) -> Result<(), BackupError> {
    for chunk in later.entries.chunks(1000) {
        store.append_log_entries(chunk).await?;
    }
    let mut latest = store.latest_checkpoint().await?.map_or(0, |c| c.size);
    for (size, note) in &later.checkpoints {
        if *size > latest {
            store.insert_checkpoint(*size, note, at).await?;
            latest = *size;
        }
    }
    Ok(())
}

/// Puts the payload's wrapped keys (PKCS#11) back into the device, each checked to sign for
/// its public key; notes each one restored in `restored`.
fn restore_wrapped(
    device: &crate::device::Device,
    payload: &Payload,
    restored: &mut Vec<inkan_device::KeyHandle>,
) -> Result<(), BackupError> {
    let keys = live_keys(&payload.tables);
    for file in payload.files.iter().filter(|f| f.role == "wrapped") {
        let key = keys.iter().find(|k| k.handle == file.path).ok_or_else(|| {
            BackupError::Invalid(format!("a wrapped key {} without its record", file.path))
        })?;
        let spki = B64
            .decode(&key.spki)
            .map_err(|_| BackupError::Invalid("a public key that is not base64".into()))?;
        let public = PublicKey::from_spki_der(&spki)?;
        let wrapped = B64
            .decode(&file.bytes)
            .map_err(|_| BackupError::Invalid("a wrapped key that is not base64".into()))?;
        let handle = inkan_device::KeyHandle::new(file.path.clone());
        device.restore_from_backup(&handle, &public, &key.label, &wrapped)?;
        restored.push(handle.clone());
        let alg: Algorithm = key
            .algorithm
            .parse()
            .map_err(|e| BackupError::Invalid(format!("key {}: {e}", key.handle)))?;
        device.check_signs(&handle, alg, &public)?;
    }
    Ok(())
}

fn collect_folder(
    root: &Path,
    dir: &Path,
    depth: usize,
    out: &mut Vec<FileEntry>,
) -> Result<(), BackupError> {
    if depth > MAX_DEPTH {
        return Err(BackupError::Invalid(format!(
            "{} is nested too deep",
            dir.display()
        )));
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by_key(std::fs::DirEntry::path);
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            collect_folder(root, &path, depth + 1, out)?;
        } else if kind.is_file() {
            let relative = path
                .strip_prefix(root)
                .ok()
                .and_then(Path::to_str)
                .ok_or_else(|| {
                    BackupError::Invalid(format!("{}: not a plain name", path.display()))
                })?
                .to_owned();
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            out.push(FileEntry {
                role: "device".into(),
                path: relative,
                bytes: B64.encode(bytes),
            });
        }
    }
    Ok(())
}

/// Writes the payload's files (the token's, checked empty before), and the host's keys where
/// none are, or where the same ones are; notes each file written in `written`.
fn write_files(
    paths: &Paths,
    files: &[FileEntry],
    written: &mut Vec<PathBuf>,
) -> Result<(), BackupError> {
    for file in files {
        let bytes = B64
            .decode(&file.bytes)
            .map_err(|_| BackupError::Invalid("a file that is not base64".into()))?;
        let target = match file.role.as_str() {
            "wrapped" => continue,
            "device" => {
                let Some(token) = &paths.token else {
                    return Err(BackupError::Invalid(
                        "token files for a PKCS#11 device".into(),
                    ));
                };
                let relative = Path::new(&file.path);
                if relative.is_absolute()
                    || relative
                        .components()
                        .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    return Err(BackupError::Invalid(format!(
                        "a file named {:?}",
                        file.path
                    )));
                }
                token.join(relative)
            }
            "kek" => match &paths.kek {
                Some(path) => path.clone(),
                None => continue,
            },
            "secrets" => paths.secrets.clone(),
            "activation" => paths.activation.clone(),
            other => return Err(BackupError::Invalid(format!("a file of role {other:?}"))),
        };
        if target.exists() {
            let existing = std::fs::read(&target).map_err(io(&target))?;
            if existing == bytes {
                continue;
            }
            return Err(BackupError::Refused(format!(
                "{} exists and differs from the backup's",
                target.display()
            )));
        }
        if let Some(parent) = target.parent() {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io(parent))?;
        }
        inkan_device::sealing::write_private_file(&target, &bytes)?;
        written.push(target);
    }
    Ok(())
}
