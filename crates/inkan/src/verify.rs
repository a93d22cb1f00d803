//! `inkan verify FILE`: verify any credential or presentation Inkan knows, for users and
//! relying parties. Needs no configuration, store or device.
//!
//! Exit status: 0 valid; 3 every check passed but the issuer's certificate (mdoc `x5chain`,
//! JOSE `x5c`) leads to no `--trust-anchor`, so the issuer is unauthenticated (never
//! reported as plain valid); 1 not valid or not readable.

use clap::Args;
use inkan_device::PublicKey;
use inkan_formats::trust::{IssuerTrust, TrustAnchors};
use inkan_formats::verify::{VerifyOptions, verify};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit status when every check passed but the issuer is unauthenticated.
pub const EXIT_UNAUTHENTICATED: u8 = 3;

/// Largest document or key file read.
const MAX_FILE: u64 = 2 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The document: Data Integrity VC/VP (JSON), an EnvelopedVerifiableCredential or
    /// EnvelopedVerifiablePresentation (JSON), VC-JWT or VP-JWT, SD-JWT VC (with or without
    /// KB-JWT), mdoc IssuerSigned or DeviceResponse (CBOR as hex or base64url).
    file: PathBuf,
    /// A certificate (PEM, one or more blocks, or DER) that may vouch for the issuer's
    /// certificate the document carries: an IACA root for mdocs, an issuing CA for `x5c`.
    /// Repeatable. Without one that does, the issuer is unauthenticated (exit status 3).
    #[arg(long = "trust-anchor", value_name = "FILE")]
    trust_anchors: Vec<PathBuf>,
    /// The key to verify with (JWK or PEM) where the document does not name a resolvable one
    /// (`did:key`, `did:jwk`, `x5c` and `x5chain` are resolved from the document).
    #[arg(long)]
    key: Option<PathBuf>,
    /// The expected nonce (KB-JWT, VP).
    #[arg(long)]
    nonce: Option<String>,
    /// The expected audience (KB-JWT, VP).
    #[arg(long)]
    aud: Option<String>,
    /// The expected Data Integrity challenge (VP).
    #[arg(long)]
    challenge: Option<String>,
    /// The expected Data Integrity domain (VP).
    #[arg(long)]
    domain: Option<String>,
    /// The mdoc SessionTranscript (CBOR, raw or hex) a DeviceResponse must be bound to.
    #[arg(long)]
    session_transcript: Option<PathBuf>,
    /// Check the cryptographic proof only, not that the issuer controls the key.
    #[arg(long)]
    proof_only: bool,
    /// Verify as of this time: RFC 3339 (2021-01-01T00:00:00Z) or Unix seconds. Default: now.
    #[arg(long)]
    at: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: VerifyArgs) -> ExitCode {
    match check(args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn check(args: VerifyArgs) -> Result<ExitCode, String> {
    let document = crate::keys::read_limited(&args.file, MAX_FILE)?;
    let mut trust_anchors = TrustAnchors::new();
    for path in &args.trust_anchors {
        let bytes = crate::keys::read_limited(path, MAX_FILE)?;
        trust_anchors
            .add(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let key = args.key.as_deref().map(read_key).transpose()?;
    let session_transcript = args
        .session_transcript
        .as_deref()
        .map(|p| {
            crate::keys::read_limited(p, MAX_FILE).map(|b| inkan_formats::verify::hex_or_raw(&b))
        })
        .transpose()?;
    let at = match &args.at {
        Some(text) => parse_time(text)?,
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            i64::try_from(now.as_secs()).unwrap_or(i64::MAX)
        }
    };
    let options = VerifyOptions {
        key,
        nonce: args.nonce,
        aud: args.aud,
        challenge: args.challenge,
        domain: args.domain,
        session_transcript,
        proof_only: args.proof_only,
        at,
        skip_validity_period: false,
        proof_purpose: None,
        trust_anchors: Arc::new(trust_anchors),
    };
    // A closed pipe (`inkan verify F | head`) is not an error of the verification.
    let mut out = std::io::stdout().lock();
    match verify(&document, &options) {
        Ok(found) => {
            let unauthenticated = match &found.issuer_trust {
                IssuerTrust::Unauthenticated { reason } => Some(reason.clone()),
                _ => None,
            };
            let _ = if args.json {
                let report = serde_json::json!({
                    "valid": unauthenticated.is_none(),
                    "issuerTrust": found.issuer_trust.as_str(),
                    "format": found.format,
                    "checks": found.checks,
                    "details": found.details,
                });
                writeln!(out, "{report}")
            } else {
                let details = serde_json::to_string_pretty(&found.details).unwrap_or_default();
                match &unauthenticated {
                    Some(reason) => writeln!(
                        out,
                        "proof valid, issuer UNAUTHENTICATED: {}\n{reason}\n{details}",
                        found.format
                    ),
                    None => writeln!(out, "valid: {}\n{details}", found.format),
                }
            };
            Ok(match unauthenticated {
                Some(_) => {
                    eprintln!(
                        "issuer unauthenticated: give the issuer's CA or IACA with --trust-anchor"
                    );
                    ExitCode::from(EXIT_UNAUTHENTICATED)
                }
                None => ExitCode::SUCCESS,
            })
        }
        Err(e) => {
            if args.json {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "valid": false, "error": e.to_string() })
                );
            }
            Err(format!("not valid: {e}"))
        }
    }
}

/// A JWK (JSON) or a PEM public key.
fn read_key(path: &std::path::Path) -> Result<PublicKey, String> {
    let bytes = crate::keys::read_limited(path, MAX_FILE)?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{} is not text", path.display()))?;
    let text = text.trim();
    if text.starts_with('{') {
        let jwk: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        inkan_formats::data_integrity::keys::public_key_from_jwk(&jwk)
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        PublicKey::from_pem(text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    inkan_formats::mdoc::cbor::parse_rfc3339("--at", text).map_err(|e| e.to_string())
}
