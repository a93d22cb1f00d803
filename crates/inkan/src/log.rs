//! `inkan log …`: the transparency log from the command line (criteria 2.2.3(3)C, 2.1.3(3)).
//!
//! `verify` and `receipt --verify` also work offline, on an export or a receipt alone, with
//! only the log's public key: an auditor needs neither the database nor the device.

use clap::{Args, Subcommand};
use inkan_log::entry::Entry;
use inkan_log::note::NoteVerifier;
use inkan_log::receipt::Receipt;
use inkan_log::verify::{VerifyReport, verify_export};
use inkan_server::service::Service;
use std::path::{Path, PathBuf};

/// Largest receipt or key file read.
const MAX_SMALL_FILE: u64 = 2 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(subcommand)]
    command: LogCommand,
}

#[derive(Debug, Subcommand)]
enum LogCommand {
    /// Recompute the whole tree from the entries, check every checkpoint's signature and
    /// root, and name the first problem. Without --export, verifies this deployment's log.
    Verify {
        /// Verify an export (`inkan log export`) offline instead of the database.
        #[arg(long, requires = "log_key")]
        export: Option<PathBuf>,
        /// The log's public key: a C2SP vkey (as `inkan log key` prints it) or a file holding
        /// one, or a PEM public key file (then give --origin).
        #[arg(long)]
        log_key: Option<String>,
        /// The origin checkpoints must name (default: the vkey's name).
        #[arg(long)]
        origin: Option<String>,
    },
    /// Issue a checkpoint (unless the latest covers every entry) and write the log up to it
    /// as JSON Lines (entries, and each checkpoint after the entries it covers): an export
    /// always ends on a checkpoint that covers every entry in it.
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the receipt of entry INDEX (C2SP tlog-proof, the entry in its `extra` line), or
    /// with --verify check a receipt offline.
    Receipt {
        /// The entry's index.
        #[arg(required_unless_present = "verify")]
        index: Option<u64>,
        /// Verify this receipt file instead.
        #[arg(long, conflicts_with = "index", requires = "log_key")]
        verify: Option<PathBuf>,
        /// The log's public key (see `verify`).
        #[arg(long)]
        log_key: Option<String>,
        /// The origin the checkpoint must name (default: the vkey's name).
        #[arg(long)]
        origin: Option<String>,
    },
    /// Issue a checkpoint now (unless the latest covers every entry) and print it.
    Checkpoint,
    /// Print the log's public key (C2SP vkey), its origin and its PEM.
    Key,
}

/// The commands that need no configuration: verifying an export or a receipt offline.
pub fn run_offline(args: &LogArgs) -> Option<Result<(), String>> {
    match &args.command {
        LogCommand::Verify {
            export: Some(path),
            log_key: Some(key),
            origin,
        } => Some(verify_file(path, key, origin.as_deref())),
        LogCommand::Receipt {
            verify: Some(path),
            log_key: Some(key),
            origin,
            ..
        } => Some(verify_receipt(path, key, origin.as_deref())),
        _ => None,
    }
}

pub async fn run(service: &Service, args: LogArgs) -> Result<(), String> {
    match args.command {
        LogCommand::Verify { origin, .. } => {
            let mut export = Vec::new();
            service
                .log
                .export(&mut export)
                .await
                .map_err(|e| e.to_string())?;
            let vkey = service.log_vkey().map_err(|e| e.to_string())?;
            let verifier = NoteVerifier::from_vkey(&vkey).map_err(|e| e.to_string())?;
            let origin = origin.unwrap_or_else(|| service.log.origin().to_owned());
            let report = verify_export(export.as_slice(), &verifier, &origin)
                .map_err(|e| format!("log verification failed: {e}"))?;
            print_report(&report);
        }
        LogCommand::Export { out } => match out {
            Some(path) => {
                let file = tokio::fs::File::create(&path)
                    .await
                    .map_err(|e| format!("creating {}: {e}", path.display()))?;
                let mut file = tokio::io::BufWriter::new(file);
                let summary = service
                    .log
                    .export(&mut file)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::io::AsyncWriteExt::flush(&mut file)
                    .await
                    .map_err(|e| e.to_string())?;
                eprintln!(
                    "exported {} entries and {} checkpoints to {}",
                    summary.entries,
                    summary.checkpoints,
                    path.display()
                );
            }
            None => {
                let mut stdout = tokio::io::stdout();
                service
                    .log
                    .export(&mut stdout)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::io::AsyncWriteExt::flush(&mut stdout)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        },
        LogCommand::Receipt { index, .. } => {
            let index = index.ok_or("give the entry's index")?;
            let receipt = service
                .log
                .receipt_with_entry(index)
                .await
                .map_err(|e| e.to_string())?;
            print!("{}", receipt.encode());
        }
        LogCommand::Checkpoint => {
            let checkpoint = service
                .log
                .checkpoint_now()
                .await
                .map_err(|e| e.to_string())?;
            print!("{}", checkpoint.note);
        }
        LogCommand::Key => {
            let vkey = service.log_vkey().map_err(|e| e.to_string())?;
            let public = inkan_device::PublicKey::from_spki_der(&service.log_key.public_key_spki)
                .map_err(|e| e.to_string())?;
            println!("origin: {}", service.log.origin());
            println!("vkey:   {vkey}");
            print!("{}", public.to_pem());
        }
    }
    Ok(())
}

/// A verifier from `--log-key`: a vkey, a file holding one, or a PEM public key file (whose
/// key name is the origin).
fn verifier(log_key: &str, origin: Option<&str>) -> Result<(NoteVerifier, String), String> {
    let path = Path::new(log_key);
    let text = if path.is_file() {
        let bytes = crate::keys::read_limited(path, MAX_SMALL_FILE)?;
        String::from_utf8(bytes).map_err(|_| format!("{} is not text", path.display()))?
    } else {
        log_key.to_owned()
    };
    let text = text.trim();
    let verifier = if text.starts_with("-----BEGIN") {
        let origin =
            origin.ok_or("a PEM log key needs --origin (the log's origin is its key name)")?;
        NoteVerifier::from_public_key_pem(origin, text)
    } else {
        NoteVerifier::from_vkey(text)
    }
    .map_err(|e| format!("--log-key: {e}"))?;
    let origin = origin
        .map(str::to_owned)
        .unwrap_or_else(|| verifier.name().to_owned());
    Ok((verifier, origin))
}

fn verify_file(path: &Path, log_key: &str, origin: Option<&str>) -> Result<(), String> {
    let (verifier, origin) = verifier(log_key, origin)?;
    let file = std::fs::File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let report = verify_export(std::io::BufReader::new(file), &verifier, &origin)
        .map_err(|e| format!("log verification failed: {e}"))?;
    print_report(&report);
    Ok(())
}

fn print_report(report: &VerifyReport) {
    println!(
        "log verified: {} entries, {} checkpoints",
        report.entries, report.checkpoints
    );
    let checkpoint = &report.last_checkpoint;
    println!(
        "latest checkpoint: size {} root {} (covers every entry)",
        checkpoint.size,
        hex::encode(checkpoint.root)
    );
}

fn verify_receipt(path: &Path, log_key: &str, origin: Option<&str>) -> Result<(), String> {
    let (verifier, origin) = verifier(log_key, origin)?;
    let bytes = crate::keys::read_limited(path, MAX_SMALL_FILE)?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{} is not text", path.display()))?;
    let receipt = Receipt::parse(&text).map_err(|e| format!("receipt: {e}"))?;
    let entry_bytes = receipt
        .extra
        .clone()
        .ok_or("the receipt carries no entry (no extra line)")?;
    let entry = Entry::decode(&entry_bytes).map_err(|e| format!("the receipt's entry: {e}"))?;
    let checkpoint = receipt
        .verify(&entry_bytes, &verifier, &origin)
        .map_err(|e| format!("receipt verification failed: {e}"))?;
    println!(
        "receipt verified: entry {} is in the log {} of size {}",
        receipt.index, checkpoint.origin, checkpoint.size
    );
    println!(
        "entry: {} {} at {} by {} {} ({})",
        entry.kind.as_str(),
        entry.outcome.as_str(),
        entry.time,
        entry.actor.kind.as_str(),
        entry.actor.id,
        entry.actor.auth.method
    );
    if let Some(key) = &entry.key_id {
        println!("key: {key}");
    }
    for digest in &entry.digests {
        println!("digest: {digest}");
    }
    Ok(())
}
