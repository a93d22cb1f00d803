//! The one outbound HTTPS client builder, shared by delivery (`delivery/outbox.rs`), the
//! status checker (`status/`) and a front end's client of its signers (`api/front.rs`).
//!
//! What it owns: how Inkan talks to other servers — TLS 1.3 only (rustls, ring), the
//! server certificate must chain to the configured CA files (the operating system's roots are
//! never used), `https://` only, no redirects, no proxy, one timeout for the whole exchange.
//!
//! What it must never do: trust a certificate outside the configured anchors, follow a
//! redirect, fall back to plain HTTP, or read a proxy from the environment.

use std::path::PathBuf;
use std::time::Duration;

/// Builds the client. `what` names the configuration key of `ca_files` in errors (for example
/// `[delivery] ca_files`).
pub fn build(
    what: &str,
    ca_files: &[PathBuf],
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    builder(what, ca_files, timeout)?
        .build()
        .map_err(|e| format!("the HTTPS client ({what}): {e}"))
}

/// The client's builder, for a caller that adds to it (a front end's client certificate and
/// connection pool, `api/front.rs`).
pub fn builder(
    what: &str,
    ca_files: &[PathBuf],
    timeout: Duration,
) -> Result<reqwest::ClientBuilder, String> {
    let anchors = crate::api::tls::load_anchors(ca_files).map_err(|e| format!("{what}: {e}"))?;
    let mut http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .min_tls_version(reqwest::tls::Version::TLS_1_3)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .user_agent(concat!("inkan/", env!("CARGO_PKG_VERSION")));
    for anchor in &anchors {
        let certificate =
            reqwest::Certificate::from_der(anchor).map_err(|e| format!("{what}: {e}"))?;
        http = http.add_root_certificate(certificate);
    }
    Ok(http)
}
