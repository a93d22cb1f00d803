//! `inkan evidence export` and `inkan decommission` (criteria 2.1.3(3), (10), (11)): the work
//! is `inkan_server::evidence`'s; this file carries the clause map into the pack and reports.

use clap::{Args, Subcommand};
use inkan_server::config::Config;
use inkan_server::service::{Service, host_operator};
use std::path::PathBuf;

/// The clause map with the tests that show each clause, as built.
const COMPLIANCE_MAP: &str = include_str!("../../../docs/compliance.md");

/// `inkan evidence …`
#[derive(Debug, Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    command: EvidenceCommand,
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Write the evidence pack an auditor checks offline into a new folder: key inventory and
    /// lifecycle entries, operators and roles, the clause map, a manifest whose digest goes
    /// into the log, the log export with its checkpoints, its verification and the log key.
    Export {
        /// The new folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `inkan decommission`
#[derive(Debug, Args)]
pub struct DecommissionArgs {
    /// Why the service ends.
    #[arg(long)]
    reason: String,
    /// The new folder for the final evidence pack.
    #[arg(long)]
    evidence_out: PathBuf,
    /// The approved `service.decommission` request (dual control).
    #[arg(long)]
    approval: Option<String>,
}

pub async fn run(service: &Service, args: EvidenceArgs) -> Result<(), String> {
    let actor = host_operator(&crate::keys::host_user());
    match args.command {
        EvidenceCommand::Export { out } => {
            let pack = inkan_server::evidence::export(service, &actor, &out, COMPLIANCE_MAP)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "evidence pack written to {} ({} files, log of {} entries; entry {} names the \
                 manifest); check it with: inkan log verify --export log.jsonl --log-key log-key.vkey",
                out.display(),
                pack.files.len() + 5,
                pack.log_entries,
                pack.manifest_entry
            );
        }
    }
    Ok(())
}

pub async fn decommission(
    config: &Config,
    service: &Service,
    args: DecommissionArgs,
) -> Result<(), String> {
    let actor = crate::approval::authorise(
        config,
        service,
        "service.decommission",
        None,
        args.approval.as_deref(),
    )
    .await?;
    let ended = inkan_server::evidence::decommission(
        service,
        &actor,
        &args.reason,
        &args.evidence_out,
        COMPLIANCE_MAP,
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "decommissioned: {} subscribers ended, {} keys destroyed (the log key last): {}; \
         final evidence pack in {}",
        ended.subscribers.len(),
        ended.destroyed.len(),
        ended.destroyed.join(", "),
        args.evidence_out.display()
    );
    Ok(())
}
