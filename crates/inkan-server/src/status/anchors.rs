//! The status lists' trust anchors: the public keys a list must be signed with
//! (`[status] trust_anchors`), read from PEM `PUBLIC KEY` (SPKI) or `CERTIFICATE` blocks, or a
//! public JWK.
//!
//! What it owns: reading those files, strictly and with a size limit, into public keys, and the
//! check that an X.509-signed object (a CRL, an OCSP response) was signed by one of them. A
//! certificate counts by its public key only (criteria 2.2.3(1)B: the list must come from the
//! signer the operator named; chains and validity periods of list signers are not checked here).
//!
//! What it must never do: accept a file holding a private key, skip a block it does not
//! understand, or return an empty set without saying so.

use inkan_device::PublicKey;
use inkan_device::cert::CertificateChain;
use std::path::{Path, PathBuf};

/// Largest trust-anchor file read.
const MAX_ANCHOR_FILE: u64 = 1024 * 1024;

/// Reads every key of every file.
pub fn load(files: &[PathBuf]) -> Result<Vec<PublicKey>, String> {
    let mut keys = Vec::new();
    for path in files {
        keys.extend(load_file(path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(keys)
}

fn load_file(path: &Path) -> Result<Vec<PublicKey>, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_ANCHOR_FILE {
        return Err("larger than 1 MiB".into());
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "not UTF-8 text (PEM or JWK)")?;
    if text.trim_start().starts_with('{') {
        let jwk: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not a JWK: {e}"))?;
        if jwk.get("d").is_some() {
            return Err("holds a private JWK (`d`): give the public key only".into());
        }
        let key = inkan_formats::jose::public_key_from_jwk(&jwk).map_err(|e| e.to_string())?;
        return Ok(vec![key]);
    }
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after.find("-----").ok_or("a PEM header without its end")?;
        let label = &after[..label_end];
        let footer = format!("-----END {label}-----");
        let end = rest[start..]
            .find(&footer)
            .map(|i| start + i + footer.len())
            .ok_or_else(|| format!("a PEM {label:?} block without {footer}"))?;
        let block = &rest[start..end];
        let key = match label {
            "PUBLIC KEY" => PublicKey::from_pem(block).map_err(|e| e.to_string())?,
            "CERTIFICATE" => CertificateChain::parse(block.as_bytes())
                .and_then(|c| c.leaf_public_key())
                .map_err(|e| e.to_string())?,
            other => {
                return Err(format!(
                    "a PEM {other:?} block: only PUBLIC KEY and CERTIFICATE are trust anchors"
                ));
            }
        };
        keys.push(key);
        rest = &rest[end..];
    }
    if keys.is_empty() {
        return Err("no PEM PUBLIC KEY or CERTIFICATE block, and not a JWK".into());
    }
    Ok(keys)
}

/// The one of `anchors` that made `signature` (X.509 encoding, with `algorithm`) over
/// `message`; `what` names the signed thing in the error ("the CRL", "the OCSP response").
pub(crate) fn check_x509_signed(
    anchors: &[PublicKey],
    algorithm: &x509_cert::spki::AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &der::asn1::BitString,
    what: &str,
) -> Result<PublicKey, String> {
    let signature = signature
        .as_bytes()
        .ok_or_else(|| format!("{what}'s signature is not a whole number of bytes"))?;
    if anchors.is_empty() {
        return Err("no trust anchors are configured ([status] trust_anchors)".into());
    }
    anchors
        .iter()
        .find(|anchor| {
            inkan_device::csr::verify_x509_signature(anchor, algorithm, message, signature).is_ok()
        })
        .cloned()
        .ok_or_else(|| format!("{what}'s signature does not verify with any trust anchor"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn keys_certificates_and_jwks_are_read_private_keys_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key_pair = rcgen::KeyPair::generate().unwrap();
        let certificate = rcgen::CertificateParams::new(vec!["lists.example".into()])
            .unwrap()
            .self_signed(&key_pair)
            .unwrap();
        let spki = PublicKey::from_pem(&key_pair.public_key_pem()).unwrap();
        let both = dir.path().join("both.pem");
        std::fs::write(&both, format!("{}\n{}", spki.to_pem(), certificate.pem())).unwrap();
        let jwk = dir.path().join("key.jwk");
        std::fs::write(&jwk, spki.to_jwk().to_string()).unwrap();
        let keys = load(&[both, jwk]).unwrap();
        assert_eq!(keys, vec![spki.clone(), spki.clone(), spki]);

        let private = dir.path().join("private.pem");
        std::fs::write(&private, key_pair.serialize_pem()).unwrap();
        let err = load(&[private]).unwrap_err();
        assert!(err.contains("PRIVATE KEY"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here").unwrap();
        assert!(load(&[empty]).is_err());
    }
}
