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

use crate::clock::Clock;
use crate::config::{Config, DeviceConfig};
use crate::keys::KeyError;
use crate::service::{Service, StartError};
use crate::store::{KeyId, KeyState, Store, StoreError};
use archive::{Archive, FileEntry, Manifest, Payload, Share};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use inkan_device::{Algorithm, DeviceError, PublicKey};
use inkan_log::entry::{Actor, Entry, EntryKind, Outcome};
use inkan_log::verify::ExportLine;
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
    token: PathBuf,
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
            token: path.clone(),
            kek: (kek_passphrase_file.is_none() && kek_passphrase_env.is_none())
                .then(|| kek_file.clone()),
            secrets: config.server.secrets_key_file.clone(),
            activation: config.signing.activation_key_file.clone(),
        }),
        DeviceConfig::Pkcs11 { .. } => Err(BackupError::Unsupported(
            "PKCS#11 keys are not extractable: back them up with the HSM's own means \
             (e.g. its cloning or backup tokens); inkan backs up the software token only"
                .into(),
        )),
    }
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
    let paths = paths(config)?;
    let id = crate::store::auth::new_id("bak");
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
    collect_folder(&paths.token, &paths.token, 0, &mut files)?;
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
        device: "soft".into(),
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
    let handle = service.log_key.handle.clone();
    let message = line.clone().into_bytes();
    let signature =
        tokio::task::spawn_blocking(move || device.sign(&handle, Algorithm::EdDsa, &message))
            .await
            .map_err(|e| BackupError::Invalid(format!("signing task: {e}")))??;
    record(
        service,
        actor,
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
}

/// Restores `bytes` opened with `shares` into the empty store and token `config` names.
pub async fn restore(
    config: &Config,
    clock: Arc<dyn Clock>,
    actor: &Actor,
    bytes: &[u8],
    shares: &[Share],
    later: LaterLog,
    progress: &mut dyn FnMut(&str),
) -> Result<Restored, BackupError> {
    let paths = paths(config)?;
    let archive = archive::decode(bytes)?;
    let manifest = archive.manifest.clone();
    let spki = B64
        .decode(&manifest.log_key_spki)
        .map_err(|_| BackupError::Invalid("the manifest's log key is not base64".into()))?;
    check_signature(&archive, &spki)?;
    if manifest.environment != config.environment {
        return Err(BackupError::Refused(format!(
            "the backup belongs to the {} environment, not {}",
            manifest.environment, config.environment
        )));
    }
    let key = archive::combine(&manifest, shares)?;
    progress("opening the archive");
    let payload = archive::open(&key, &archive)?;
    check_payload(&manifest, &payload)?;
    let store = crate::store::connect(&config.store.url).await?;
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
    // The later log, checked before anything is written.
    let later = match later {
        LaterLog::Export(export) => Some(later_log(&manifest, &spki, &export)?),
        LaterLog::None => None,
    };
    progress("writing the token and the host's keys");
    write_files(&paths, &payload.files)?;
    progress(&format!("restoring {} tables", payload.tables.len()));
    store.restore(&payload.tables).await?;
    let mut later_entries = 0;
    let mut tombstones = Vec::new();
    if let Some(later) = later {
        progress(&format!(
            "appending {} later log entries",
            later.entries.len()
        ));
        append_later(&*store, &manifest, &later, clock.now()).await?;
        later_entries = later.entries.len() as u64;
        tombstones = later.tombstones;
    }
    drop(store);
    let service = Service::open(config, clock).await?;
    let mut tombstoned = Vec::new();
    for (key_id, index) in &tombstones {
        let Ok(id) = KeyId::parse(key_id) else {
            continue;
        };
        match service.store.get_key(&id).await? {
            Some(record) if record.state != KeyState::Destroyed => {
                service
                    .registry
                    .destroy(
                        actor,
                        &id,
                        &format!(
                            "destroyed after backup {} was taken (log index {index})",
                            manifest.id
                        ),
                    )
                    .await?;
                tombstoned.push(key_id.clone());
            }
            _ => {}
        }
    }
    record(
        &service,
        actor,
        format!(
            "restored backup {} (taken at log size {}); later log: {}; keys destroyed again: {}",
            manifest.id,
            manifest.log_size,
            if later_entries > 0 || !tombstones.is_empty() {
                format!("{later_entries} entries appended")
            } else {
                "none given".into()
            },
            if tombstoned.is_empty() {
                "none".into()
            } else {
                tombstoned.join(", ")
            }
        ),
    )
    .await?;
    progress("done");
    Ok(Restored {
        manifest,
        later_entries,
        tombstoned,
    })
}

/// The log written after the backup, checked.
struct Later {
    /// The entries the backup holds too (they must be the restored ones).
    prefix: Vec<Vec<u8>>,
    /// The entries after the backup.
    entries: Vec<Vec<u8>>,
    checkpoints: Vec<(u64, String)>,
    /// Keys destroyed after the backup, and the index that says so.
    tombstones: Vec<(String, u64)>,
}

fn later_log(manifest: &Manifest, spki: &[u8], export: &[u8]) -> Result<Later, BackupError> {
    let PublicKey::Ed25519(key) = PublicKey::from_spki_der(spki)? else {
        return Err(BackupError::Invalid("the log key is not Ed25519".into()));
    };
    let vkey = inkan_log::note::vkey(&manifest.log_origin, &key.to_bytes());
    let verifier = inkan_log::note::NoteVerifier::from_vkey(&vkey)
        .map_err(|e| BackupError::Invalid(format!("the log key: {e}")))?;
    let report = inkan_log::verify::verify_export(export, &verifier, &manifest.log_origin)
        .map_err(|e| BackupError::Invalid(format!("the later log does not verify: {e}")))?;
    if report.entries < manifest.log_size {
        return Err(BackupError::Invalid(format!(
            "the later log has {} entries, fewer than the backup's {}",
            report.entries, manifest.log_size
        )));
    }
    let mut entries = Vec::new();
    let mut checkpoints = Vec::new();
    let mut tombstones = Vec::new();
    let mut prefix = Vec::new();
    for line in std::str::from_utf8(export)
        .map_err(|_| BackupError::Invalid("the later log is not text".into()))?
        .lines()
    {
        match ExportLine::parse(line).map_err(|e| BackupError::Invalid(e.to_string()))? {
            ExportLine::Entry { index, entry } if index < manifest.log_size => prefix.push(entry),
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
    if prefix.len() as u64 != manifest.log_size {
        return Err(BackupError::Invalid("the later log is not complete".into()));
    }
    Ok(Later {
        prefix,
        entries,
        checkpoints,
        tombstones,
    })
}

async fn append_later(
    store: &dyn Store,
    manifest: &Manifest,
    later: &Later,
    at: i64,
) -> Result<(), BackupError> {
    // The restored log must be the later log's beginning: same size, entry for entry.
    let not_ours =
        || BackupError::Invalid("the later log does not continue this backup's log".into());
    if store.log_size().await? != manifest.log_size {
        return Err(not_ours());
    }
    let mut from = 0u64;
    for expected in later.prefix.chunks(1000) {
        let stored = store
            .log_entries(from, u32::try_from(expected.len()).unwrap_or(1000))
            .await?;
        if stored.as_slice() != expected {
            return Err(not_ours());
        }
        from += expected.len() as u64;
    }
    for chunk in later.entries.chunks(1000) {
        store.append_log_entries(chunk).await?;
    }
    let latest = store.latest_checkpoint().await?.map_or(0, |c| c.size);
    for (size, note) in &later.checkpoints {
        if *size > latest {
            store.insert_checkpoint(*size, note, at).await?;
        }
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

/// Writes the payload's files: into an empty (or absent) token folder, and the host's keys
/// where none are, or where the same ones are.
fn write_files(paths: &Paths, files: &[FileEntry]) -> Result<(), BackupError> {
    let keys = paths.token.join("keys");
    if keys.is_dir()
        && std::fs::read_dir(&keys)
            .map_err(io(&keys))?
            .next()
            .is_some()
    {
        return Err(BackupError::Refused(format!(
            "the token {} holds keys: restore into an empty token",
            paths.token.display()
        )));
    }
    for file in files {
        let bytes = B64
            .decode(&file.bytes)
            .map_err(|_| BackupError::Invalid("a file that is not base64".into()))?;
        let target = match file.role.as_str() {
            "device" => {
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
                paths.token.join(relative)
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
    }
    Ok(())
}

async fn record(service: &Service, actor: &Actor, note: String) -> Result<(), BackupError> {
    let entry = Entry {
        kind: EntryKind::OperatorAction,
        time: service.now(),
        environment: service.environment.as_str().into(),
        actor: actor.clone(),
        key_id: None,
        digests: Vec::new(),
        approval: None,
        outcome: Outcome::Succeeded,
        note: Some(note),
    };
    service.log.append(&entry).await?;
    Ok(())
}
