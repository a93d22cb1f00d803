//! The `inkan` command. It parses arguments and calls the crates; it holds no business logic.
//!
//! `inkan serve` runs the service; `inkan keys …` manages the key registry, `inkan log …` the transparency log. There is
//! deliberately no command that signs arbitrary data: signatures come only through the
//! signing module of the service.

mod api_client;
mod approval;
mod backup;
mod bench;
mod client;
mod demo;
mod dev;
mod device;
mod evidence;
mod keys;
mod log;
mod operators;
mod provision;
mod serve;
mod verify;

use clap::{Parser, Subcommand};
use inkan_server::clock::SystemClock;
use inkan_server::config::Config;
use inkan_server::service::Service;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The process's allocator. Under load the service allocates on many threads at once, and
/// glibc's arena locks cost a tenth of the signing path's CPU (docs/benchmarks.md); mimalloc
/// keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Run the service: the HTTPS API (TLS 1.3) on the configured address.
    Serve(serve::ServeArgs),
    /// The whole story in seconds: enrol an issuer and a holder, issue, present, verify, check
    /// the receipt offline (in a scratch folder; `--out DIR` keeps every artifact).
    Demo(demo::DemoArgs),
    /// Load against the HTTPS API (VC-JWT issuance by a system client), as a ratio to the
    /// device's raw signing rate measured in the same run.
    Bench(bench::BenchArgs),
    /// Manage signing keys: generate, import, CSR, certificates, destruction.
    Keys(keys::KeysArgs),
    /// The crypto device: `inkan device check` self-tests what Inkan needs from it.
    Device(device::DeviceArgs),
    /// The transparency log: verify, export, receipts, checkpoints, the log key.
    Log(log::LogArgs),
    /// Operators: add one with a role (prints its activation code), list them.
    Operators(operators::OperatorsArgs),
    /// Backups: create (sealed, M-of-N key officers' shares), verify, restore.
    Backup(backup::BackupArgs),
    /// The evidence pack for an auditor.
    Evidence(evidence::EvidenceArgs),
    /// The configuration: `inkan config digest` prints the SHA-256 a `config.change` request
    /// names (production starts on a changed configuration only with one approved).
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// End the service: every subscriber's use and every key, a final evidence pack.
    Decommission(evidence::DecommissionArgs),
    /// A shell completion script (bash, zsh, fish, elvish or powershell) on standard output,
    /// e.g. `inkan completions bash > /etc/bash_completion.d/inkan`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Man pages: `inkan.1` and one per subcommand (`inkan-keys.1`, …), written to `--out`.
    Man {
        /// The folder to write them to.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// The API from the command line, as a person or a system client: log in, keys, sign,
    /// issue, present, verify, status, approvals, subscribers, clients, receipts, any call.
    Client(client::ClientArgs),
    /// Verify a credential or presentation (any format Inkan knows); exit 0 only when valid,
    /// 3 when every check passed but the issuer's certificate leads to no `--trust-anchor`
    /// (issuer unauthenticated), 1 otherwise.
    Verify(verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service logs structured JSON lines at info; the other commands talk to a person.
    let serving = matches!(cli.command, Command::Serve(_));
    let filter = tracing_subscriber::EnvFilter::try_from_env("INKAN_LOG")
        .unwrap_or_else(|_| if serving { "info" } else { "warn" }.into());
    // Colours only for a person at a terminal, never into a file or a pipe. A log line that
    // cannot be written (standard error is a file on a full disk) is lost, not reported on
    // standard error: that report panics when it fails too, and takes down whatever task was
    // logging (tests/full_disk.rs).
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .log_internal_errors(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter);
    if serving {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
    // Offline verification needs no runtime, configuration, store or device; its exit code
    // tells an unauthenticated issuer apart.
    let command = match cli.command {
        Command::Verify(args) => return verify::run(args),
        Command::Completions { shell } => {
            // Into memory first: the library panics on a write error (a closed pipe).
            let mut script = Vec::new();
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "inkan", &mut script);
            return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => fail(&format!("writing the completion script: {e}")),
            };
        }
        Command::Man { out } => {
            let written = std::fs::create_dir_all(&out).and_then(|()| {
                clap_mangen::generate_to(<Cli as clap::CommandFactory>::command(), &out)
            });
            return match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&format!("writing the man pages to {}: {e}", out.display())),
            };
        }
        other => other,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("starting the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        let command = match command {
            Command::Demo(args) => return demo::run(args).await,
            Command::Bench(args) => return bench::run(cli.config.as_deref(), args).await,
            Command::Client(args) => return client::run(args).await,
            Command::Serve(args) if args.dev => {
                // A container image sets INKAN_CONFIG for its real configuration: --dev passes
                // it by; a --config on the command line is a mistake and refused.
                let from_environment =
                    std::env::var_os("INKAN_CONFIG").map(PathBuf::from) == cli.config;
                if cli.config.is_some() && !from_environment {
                    return Err("--dev makes its own test configuration: drop --config".into());
                }
                return serve::run_dev(args).await;
            }
            other => other,
        };
        if let Command::Log(args) = &command
            && let Some(result) = log::run_offline(args)
        {
            return result;
        }
        if let Command::Config {
            command: ConfigCommand::Check { file },
        } = &command
        {
            let path = file.as_deref().or(cli.config.as_deref());
            let config = Config::load(path, std::env::vars()).map_err(|e| e.to_string())?;
            let text = format!(
                "{config:#?}\ndigest: {}\n",
                inkan_server::operations::configuration::digest(&config)
            );
            return match std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(format!("writing the configuration: {e}"))
                }
                _ => Ok(()),
            };
        }
        // `serve --role` is one more override, read like `INKAN_SERVER__ROLE`, before the
        // configuration is checked (a signer's file has a [signer] table).
        let role = match &command {
            Command::Serve(args) => args.role.clone(),
            _ => None,
        };
        let overrides = std::env::vars().chain(role.map(|r| ("INKAN_SERVER__ROLE".to_owned(), r)));
        let config = Config::load(cli.config.as_deref(), overrides).map_err(|e| e.to_string())?;
        let command = match command {
            Command::Serve(args) => return serve::run(&config, args).await,
            Command::Config {
                command: ConfigCommand::Digest | ConfigCommand::Check { .. },
            } => {
                println!(
                    "{}",
                    inkan_server::operations::configuration::digest(&config)
                );
                return Ok(());
            }
            // A restore must not open the service first (that would make a new log key).
            Command::Backup(args) => return backup::run(&config, args).await,
            // The device alone: a token that cannot make the log key can still be checked.
            Command::Device(args) => return device::run(&config, args).await,
            other => other,
        };
        let service = Service::open(&config, Arc::new(SystemClock))
            .await
            .map_err(|e| e.to_string())?;
        match command {
            Command::Keys(args) => keys::run(&config, &service, args).await,
            Command::Log(args) => log::run(&service, args).await,
            Command::Operators(args) => operators::run(&config, &service, args).await,
            Command::Evidence(args) => evidence::run(&service, args).await,
            Command::Decommission(args) => evidence::decommission(&config, &service, args).await,
            Command::Verify(_)
            | Command::Completions { .. }
            | Command::Man { .. }
            | Command::Serve(_)
            | Command::Demo(_)
            | Command::Client(_)
            | Command::Bench(_)
            | Command::Backup(_)
            | Command::Device(_)
            | Command::Config { .. } => {
                unreachable!("handled above")
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

#[derive(Debug, clap::Subcommand)]
enum ConfigCommand {
    /// Print the configuration's digest.
    Digest,
    /// Check a configuration (the file, or `--config`, with the `INKAN_` variables) as a start
    /// would, and print the effective configuration with every default filled in and its
    /// digest. It holds no secret (only the files and variables secrets are read from). Opens
    /// nothing: no store, no device.
    Check {
        /// The file (default: `--config`, or the embedded default).
        file: Option<PathBuf>,
    },
}

fn fail(message: &str) -> ExitCode {
    // A message may quote what a service answered: no control characters reach the terminal.
    eprintln!("error: {}", client::output::sanitize(message));
    ExitCode::FAILURE
}
