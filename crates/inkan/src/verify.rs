//! `inkan verify FILE`: verify any credential or presentation Inkan knows, for users and
//! relying parties. Needs no configuration, store or device.

use clap::Args;
use inkan_device::PublicKey;
use inkan_formats::verify::{VerifyOptions, verify};
use std::io::Write as _;
use std::path::PathBuf;

/// Largest document or key file read.
const MAX_FILE: u64 = 2 * 1024 * 1024;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The document: Data Integrity VC/VP (JSON), VC-JWT, SD-JWT VC (with or without KB-JWT),
    /// mdoc IssuerSigned or DeviceResponse (CBOR as hex or base64url).
    file: PathBuf,
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

pub fn run(args: VerifyArgs) -> Result<(), String> {
    let document = crate::keys::read_limited(&args.file, MAX_FILE)?;
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
    };
    // A closed pipe (`inkan verify F | head`) is not an error of the verification.
    let mut out = std::io::stdout().lock();
    match verify(&document, &options) {
        Ok(found) => {
            let _ = if args.json {
                let report = serde_json::json!({ "valid": true, "format": found.format, "details": found.details });
                writeln!(out, "{report}")
            } else {
                let details = serde_json::to_string_pretty(&found.details).unwrap_or_default();
                writeln!(out, "valid: {}\n{details}", found.format)
            };
            Ok(())
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
