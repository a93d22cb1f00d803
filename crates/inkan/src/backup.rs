//! `inkan backup`: create, verify and restore backups (criteria 2.2.2(4), 2.1.3(13)). The
//! work is `inkan_server::backup`'s; this file reads and writes the files and talks to the
//! person running it (progress on standard error).
//!
//! Must never: print a share to the terminal, or write a share or archive readable by others.

use clap::{Args, Subcommand};
use inkan_server::backup::archive::Share;
use inkan_server::backup::{self, LaterLog};
use inkan_server::clock::SystemClock;
use inkan_server::config::Config;
use inkan_server::keys::own_keys;
use inkan_server::service::{Service, host_operator};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest share file read.
const MAX_SHARE_FILE: u64 = 4096;

/// `inkan backup …`
#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: BackupCommand,
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Back up the store, the software token (keys stay sealed under the KEK) and the host's
    /// keys into one sealed archive; write one share of its key per key officer.
    Create {
        /// The archive to write.
        #[arg(long)]
        out: PathBuf,
        /// The folder for the shares (one file each, to hand to one key officer).
        #[arg(long)]
        share_dir: PathBuf,
        /// Shares needed to open the archive (M).
        #[arg(long)]
        threshold: u8,
        /// Shares made (N, one per key officer).
        #[arg(long)]
        shares: u8,
        /// The approved `backup.create` request (dual control).
        #[arg(long)]
        approval: Option<String>,
    },
    /// Check an archive without restoring it: its form, its digest and the manifest's
    /// signature by this deployment's log key; with --share (M of them) also that it opens.
    Verify {
        /// The archive.
        archive: PathBuf,
        /// A share file (repeat).
        #[arg(long = "share")]
        shares: Vec<PathBuf>,
        /// The trusted log key (PEM SPKI) when this deployment's store has none.
        #[arg(long)]
        log_key: Option<PathBuf>,
    },
    /// PKCS#11, the SO's ceremony: make the token's backup wrapping key (AES-256, trusted: the
    /// only key signing keys can be wrapped under) unless it has one. Run it before the service
    /// logs in to the token; a recovery HSM needs the same key, copied by the HSM's own means.
    WrappingKey {
        /// A file holding the token's SO PIN.
        #[arg(long)]
        so_pin_file: PathBuf,
    },
    /// Restore an archive into an empty store and token, with M key officers' shares. Outside
    /// `test` the restored deployment is sealed (no key signs) until an approved
    /// `backup.restore` request names the backup.
    Restore {
        /// The archive.
        archive: PathBuf,
        /// A share file (repeat; M of them).
        #[arg(long = "share", required = true)]
        shares: Vec<PathBuf>,
        /// The log as exported after the backup (`inkan log export`): appended, and keys it
        /// says were destroyed since are destroyed again.
        #[arg(long, required_unless_present = "without_later_log")]
        later_log: Option<PathBuf>,
        /// There is no later log (the restored log ends at the backup; keys destroyed since
        /// cannot be known).
        #[arg(long, conflicts_with = "later_log")]
        without_later_log: bool,
        /// With --without-later-log: the largest checkpoint (or a receipt, whose checkpoint
        /// counts) the operators hold of this log. Refused if it covers more than the backup's
        /// log; required outside a test deployment.
        #[arg(long, requires = "without_later_log")]
        latest_checkpoint: Option<PathBuf>,
        /// The deployment's log key (PEM, as `inkan log key` prints it and evidence packs
        /// keep it): the archive must be signed by it.
        #[arg(long)]
        log_key: PathBuf,
    },
}

pub async fn run(config: &Config, args: BackupArgs) -> Result<(), String> {
    let actor = host_operator(&crate::keys::host_user());
    let mut progress = |step: &str| eprintln!("backup: {step}");
    match args.command {
        BackupCommand::Create {
            out,
            share_dir,
            threshold,
            shares,
            approval,
        } => {
            let service = Service::open(config, Arc::new(SystemClock))
                .await
                .map_err(|e| e.to_string())?;
            let actor = crate::approval::authorise(
                config,
                &service,
                "backup.create",
                None,
                approval.as_deref(),
            )
            .await?;
            let created =
                backup::create(config, &service, &actor, threshold, shares, &mut progress)
                    .await
                    .map_err(|e| e.to_string())?;
            write_private(&out, &created.archive)?;
            std::fs::create_dir_all(&share_dir)
                .map_err(|e| format!("{}: {e}", share_dir.display()))?;
            for share in &created.shares {
                let path = share_dir.join(format!("{}.share-{}", created.manifest.id, share.index));
                write_private(&path, share.to_text().as_bytes())?;
            }
            println!(
                "backup {} written to {} (log size {}, {} files); {} shares in {}, {} of them open it",
                created.manifest.id,
                out.display(),
                created.manifest.log_size,
                created.manifest.files,
                created.manifest.shares,
                share_dir.display(),
                created.manifest.threshold
            );
        }
        BackupCommand::WrappingKey { so_pin_file } => {
            let inkan_server::config::DeviceConfig::Pkcs11 {
                module,
                token_label,
                ..
            } = &config.device
            else {
                return Err(
                    "the software token needs no wrapping key: its sealed files are backed up"
                        .into(),
                );
            };
            let pin =
                zeroize::Zeroizing::new(crate::keys::read_limited(&so_pin_file, MAX_SHARE_FILE)?);
            let pin = std::str::from_utf8(&pin)
                .map_err(|_| format!("{} is not text", so_pin_file.display()))?
                .trim()
                .to_owned();
            let made = inkan_device::pkcs11::create_backup_key(
                module,
                token_label,
                &secrecy::SecretString::from(pin),
            )
            .map_err(|e| e.to_string())?;
            println!(
                "{}",
                if made {
                    "the token's backup wrapping key was made"
                } else {
                    "the token has its backup wrapping key already"
                }
            );
        }
        BackupCommand::Verify {
            archive,
            shares,
            log_key,
        } => {
            let bytes = crate::keys::read_limited(&archive, backup::MAX_ARCHIVE_BYTES)?;
            let spki = match log_key {
                Some(path) => spki_from_pem(&path)?,
                None => deployment_log_key(config).await?,
            };
            let shares = read_shares(&shares)?;
            let verified = backup::verify(&bytes, &spki, &shares).map_err(|e| e.to_string())?;
            println!(
                "backup {} verifies: taken {} in {} at log size {}, signed by the log key{}",
                verified.manifest.id,
                inkan_formats::jose::format_rfc3339(verified.manifest.created_at / 1000),
                verified.manifest.environment,
                verified.manifest.log_size,
                if verified.opened {
                    "; the shares open it and it holds what the manifest says"
                } else {
                    " (give --share to check that it opens)"
                }
            );
        }
        BackupCommand::Restore {
            archive,
            shares,
            later_log,
            without_later_log,
            latest_checkpoint,
            log_key,
        } => {
            let bytes = crate::keys::read_limited(&archive, backup::MAX_ARCHIVE_BYTES)?;
            let trusted = spki_from_pem(&log_key)?;
            let shares = read_shares(&shares)?;
            if without_later_log {
                let log_size = backup::verify(&bytes, &trusted, &[])
                    .map_err(|e| e.to_string())?
                    .manifest
                    .log_size;
                check_no_later_log(config, log_size, latest_checkpoint.as_deref())?;
            }
            let later = match (later_log, without_later_log) {
                (Some(path), _) => {
                    LaterLog::Export(crate::keys::read_limited(&path, backup::MAX_ARCHIVE_BYTES)?)
                }
                (None, true) => LaterLog::None,
                (None, false) => return Err("give --later-log or --without-later-log".into()),
            };
            let restored = backup::restore(
                config,
                Arc::new(SystemClock),
                &actor,
                &bytes,
                &trusted,
                &shares,
                later,
                &mut progress,
            )
            .await
            .map_err(|e| e.to_string())?;
            println!(
                "restored backup {} (log size {}); later log entries appended: {}; keys destroyed \
                 since the backup, destroyed again: {}",
                restored.manifest.id,
                restored.manifest.log_size,
                restored.later_entries,
                if restored.tombstoned.is_empty() {
                    "none".to_owned()
                } else {
                    restored.tombstoned.join(", ")
                }
            );
            if restored.sealed {
                println!(
                    "the deployment is sealed: no key signs until an operator asks for \
                     backup.restore (POST /v1/approvals {{\"action\": \"backup.restore\", \
                     \"backup\": \"{}\", \"without_later_log\": {}, \"reason\": …}}) and \
                     it is approved (dual control)",
                    restored.manifest.id, without_later_log
                );
            }
        }
    }
    Ok(())
}

/// A restore without the later log brings back every key destroyed after the backup (criteria
/// 2.2.3(2)B-1, 2.1.3(12)): refused when the operators hold a checkpoint (or receipt) of a
/// larger log than the backup's, since that log exists and must be given (`--later-log`).
/// Outside `test` the operators must say what they hold. The checkpoint's signature is not
/// needed: a forged larger one only refuses the restore.
fn check_no_later_log(config: &Config, log_size: u64, latest: Option<&Path>) -> Result<(), String> {
    let Some(path) = latest else {
        if config.environment == inkan_server::environment::Environment::Test {
            return Ok(());
        }
        return Err(
            "--without-later-log needs --latest-checkpoint: the largest checkpoint or receipt \
             of this log the operators hold"
                .into(),
        );
    };
    let text = String::from_utf8(crate::keys::read_limited(path, 1024 * 1024)?)
        .map_err(|_| format!("{} is not text", path.display()))?;
    let note = match inkan_log::receipt::Receipt::parse(&text) {
        Ok(receipt) => receipt.checkpoint_note,
        Err(_) => text,
    };
    let size = inkan_log::note::parse(&note)
        .and_then(|parsed| inkan_log::checkpoint::Checkpoint::parse(parsed.body))
        .map_err(|e| {
            format!(
                "{}: neither a checkpoint nor a receipt: {e}",
                path.display()
            )
        })?
        .size;
    if size > log_size {
        return Err(format!(
            "refused: {} covers {size} log entries and the backup only {log_size}: the later \
             log exists (give it with --later-log), and restoring without it would bring back \
             keys destroyed since the backup",
            path.display()
        ));
    }
    Ok(())
}

fn read_shares(paths: &[PathBuf]) -> Result<Vec<Share>, String> {
    paths
        .iter()
        .map(|path| {
            let bytes = zeroize::Zeroizing::new(crate::keys::read_limited(path, MAX_SHARE_FILE)?);
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| format!("{} is not a share", path.display()))?;
            Share::parse(text).map_err(|e| format!("{}: {e}", path.display()))
        })
        .collect()
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if path.exists() {
        return Err(format!("{} exists: not overwritten", path.display()));
    }
    inkan_device::sealing::write_private_file(path, bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn spki_from_pem(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = crate::keys::read_limited(path, MAX_SHARE_FILE)?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{} is not PEM", path.display()))?;
    let key =
        inkan_device::PublicKey::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(key.to_spki_der())
}

/// The log key's public key as this deployment's store records it (without opening the
/// device, so a verify changes nothing).
async fn deployment_log_key(config: &Config) -> Result<Vec<u8>, String> {
    let store = inkan_store::connect(&config.store.url)
        .await
        .map_err(|e| e.to_string())?;
    own_keys::active(&*store, config.environment, own_keys::LOG_KEY_LABEL)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .map(|k| k.public_key_spki)
        .ok_or_else(|| "this deployment has no log key: give --log-key".into())
}
