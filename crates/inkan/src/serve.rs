//! `inkan serve`: runs the service until Ctrl-C or SIGTERM (criteria 2.2.1, 2.2.4).
//!
//! Prints where it listens (and where the operators' metrics listener does), the TLS certificate's fingerprint (to pin or compare), and, on
//! a start with no other node running until the bootstrap operator is activated, a fresh
//! one-time activation code for it: the only time that code is shown (such a start replaces the
//! previous one, so an expired code is fixed by a restart). `--role front` runs a front end
//! instead (`inkan_server::api::front`). Logs go to stderr as JSON lines.

use clap::Args;
use inkan_server::api::front::Front;
use inkan_server::api::server::Server;
use inkan_server::api::tls::TlsSource;
use inkan_server::clock::SystemClock;
use inkan_server::config::{Config, Role};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A test deployment with everyone ready: an operator, an issuer with a key and a system
    /// client, each with a logged-in `inkan client` profile (see the printed folder). Always
    /// environment `test`, on the embedded default; never reads --config.
    #[arg(long)]
    pub dev: bool,
    /// The folder of `--dev` (emptied at each start if `--dev` made it; refused otherwise).
    #[arg(long, requires = "dev", default_value = "inkan-dev")]
    pub dev_dir: PathBuf,
    /// The address `--dev` listens on (`127.0.0.1:0` for a free port).
    #[arg(long, requires = "dev", default_value = "127.0.0.1:8443")]
    pub listen: String,
    /// The store of `--dev`: a PostgreSQL URL (a database or schema of its own: the dev
    /// deployment is provisioned into it), for trying several nodes. Default: SQLite in the
    /// folder.
    #[arg(long, requires = "dev")]
    pub dev_store: Option<String>,
    /// What this process is, over `[server] role`: `single` (the whole service), `front`
    /// (forwards every request to `[front] signers` over mutual TLS; no key, no store) or
    /// `signer` (the service with the crypto device, reached only by front ends).
    #[arg(long, conflicts_with = "dev", value_parser = ["single", "front", "signer"])]
    pub role: Option<String>,
}

/// `inkan serve --dev`: provisions a fresh test deployment, then serves it.
pub async fn run_dev(args: ServeArgs) -> Result<(), String> {
    let (server, summary, _lock) =
        crate::dev::start(&args.dev_dir, &args.listen, args.dev_store.as_deref()).await?;
    let environment = inkan_server::environment::Environment::Test.to_string();
    serve(server, &environment, Some(&summary)).await
}

/// `inkan serve`, as `config` says (its role included: `--role` was read into it).
pub async fn run(config: &Config, _args: ServeArgs) -> Result<(), String> {
    if config.server.role == Role::Front {
        return front(config).await;
    }
    let server = Server::start(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    serve(server, &config.environment.to_string(), None).await
}

/// `inkan serve --role front`: prints where it listens and its certificate, then forwards
/// until a signal.
async fn front(config: &Config) -> Result<(), String> {
    let front = Front::start(config).await.map_err(|e| e.to_string())?;
    println!(
        "inkan front end on {} (listening on {}, environment {}), forwarding to {}",
        front.public_url,
        front.local_addr,
        config.environment,
        config.front.signers.join(", ")
    );
    println!(
        "TLS certificate {}, SHA-256 fingerprint {}",
        front.tls.certificate_path.display(),
        front.tls.fingerprint
    );
    wait_for_signal().await;
    println!("inkan stopping");
    front.stop().await.map_err(|e| e.to_string())
}

/// Prints where `server` listens, its certificate and `notes`, then serves until a signal.
async fn serve(server: Server, environment: &str, notes: Option<&str>) -> Result<(), String> {
    println!(
        "inkan serving on {} (listening on {}, environment {environment})",
        server.public_url, server.local_addr
    );
    if let Some(address) = server.metrics_addr {
        println!("metrics and readiness details on http://{address} (operators only)");
    }
    let made = match server.tls.source {
        TlsSource::Generated => "generated now, self-signed",
        TlsSource::Loaded => "loaded",
    };
    println!(
        "TLS certificate {} ({made}), SHA-256 fingerprint {}",
        server.tls.certificate_path.display(),
        server.tls.fingerprint
    );
    if let Some(bootstrap) = &server.bootstrap {
        println!(
            "bootstrap operator {:?}: one-time activation code {} (expires {}; shown only now)",
            bootstrap.username,
            bootstrap.activation_code.as_str(),
            inkan_formats::jose::format_rfc3339(bootstrap.expires_at / 1000),
        );
    }
    if let Some(notes) = notes {
        println!("{notes}");
    }
    wait_for_signal().await;
    println!("inkan stopping");
    server.stop().await.map_err(|e| e.to_string())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
