//! `inkan device check`: what the configured crypto device can do of what Inkan needs
//! (issue 19 point 4; docs/hsm.md), as a table: each capability, whether it works, the PKCS#11
//! mechanisms it exercised, and what a failure disables.
//!
//! It opens only the device (no store, no service) and uses throwaway keys it destroys
//! ([`inkan_device::self_test`]). Those keys are not in the transparency log, so it refuses a
//! `production` configuration, and a token that already holds signing keys unless told
//! (`--token-in-use`): check a token before it holds production keys, or its twin under a
//! `staging` configuration. The import check makes the device's import wrapping key when it
//! has none, as the service's first import would.

use clap::{Args, Subcommand};
use inkan_device::self_test::Outcome;
use inkan_server::config::{Config, DeviceConfig};
use inkan_server::environment::Environment;

#[derive(Debug, Args)]
pub struct DeviceArgs {
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Self-test the configured device: key generation and signing for each algorithm, key
    /// import, key backup. Exit status 1 when anything fails. Refused on a token that already
    /// holds signing keys, unless `--token-in-use`.
    Check {
        /// Run on a token that already holds keys (a staging twin of production's, say): its
        /// throwaway keys are made and destroyed beside them.
        #[arg(long)]
        token_in_use: bool,
    },
}

pub async fn run(config: &Config, args: DeviceArgs) -> Result<(), String> {
    let DeviceCommand::Check { token_in_use } = args.command;
    if config.environment == Environment::Production {
        return Err(
            "inkan device check makes and destroys throwaway keys outside the transparency log: \
             run it on this token before it holds production keys, or on its twin with a \
             staging configuration"
                .into(),
        );
    }
    let device = config.open_device().map_err(|e| e.to_string())?;
    let held = device.handles().map_err(|e| e.to_string())?.len();
    if held > 0 && !token_in_use {
        return Err(format!(
            "the device holds {held} signing keys: a self-test belongs on a token before it is \
             used (give --token-in-use to run beside them; the import check also makes the \
             device's import wrapping key if it has none, as the service does at its first import)"
        ));
    }
    let checks = tokio::task::spawn_blocking(move || device.self_test())
        .await
        .map_err(|e| e.to_string())?;
    match &config.device {
        DeviceConfig::Pkcs11 {
            module,
            token_label,
            ..
        } => println!(
            "device: PKCS#11 module {}, token {token_label:?}",
            module.display()
        ),
        DeviceConfig::Soft { path, .. } => {
            println!("device: the software token in {}", path.display())
        }
    }
    let mut failed = 0;
    for check in &checks {
        let (status, detail) = match &check.outcome {
            Outcome::Works => ("ok", String::new()),
            Outcome::Partly(how) => ("partly", format!(": {how}")),
            Outcome::NotApplicable(why) => ("n/a", format!(": {why}")),
            Outcome::Fails(e) => {
                failed += 1;
                (
                    "FAILED",
                    format!(": {e}\n{:8}without it: {}", "", check.without),
                )
            }
        };
        println!(
            "{status:8}{}{detail}\n{:8}mechanisms: {}",
            check.capability, "", check.mechanisms
        );
    }
    if failed > 0 {
        return Err(format!(
            "{failed} of {} checks failed: see docs/hsm.md for what each vendor supports",
            checks.len()
        ));
    }
    println!("every check passed");
    Ok(())
}
