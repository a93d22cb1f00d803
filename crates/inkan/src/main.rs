//! The `inkan` command. It parses arguments and calls the crates; it holds no business logic.
//!
//! `inkan keys …` manages the key registry. There is deliberately no command that signs
//! arbitrary data: signatures come only through the signing module of the service.

mod keys;

use clap::{Parser, Subcommand};
use inkan_server::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

/// Inkan: a remote signing service for Verifiable Credentials.
#[derive(Debug, Parser)]
#[command(name = "inkan", version, about)]
struct Cli {
    /// Configuration file (TOML). Without it, the embedded default: environment "test",
    /// the software token and SQLite under ./inkan-data.
    #[arg(long, global = true, env = "INKAN_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage signing keys: generate, import, CSR, certificates, destruction.
    Keys(keys::KeysArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INKAN_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("starting the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        let config =
            Config::load(cli.config.as_deref(), std::env::vars()).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Keys(args) => keys::run(&config, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
