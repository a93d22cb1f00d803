//! The status lists' trust anchors: the public keys a list must be signed with
//! (`[status] trust_anchors`), read from PEM `PUBLIC KEY` (SPKI) or `CERTIFICATE` blocks, or a
//! public JWK.
//!
//! What it owns: reading those files, strictly and with a size limit, into public keys, and the
//! check that an X.509-signed object (a CRL, an OCSP response) was signed by one of them. A
//! certificate counts by its public key within its validity period only ([`keys_at`]): before
//! `notBefore` or from `notAfter` on it vouches for nothing, and a list verified by the anchors
//! is cached no longer than the first of their certificates ends ([`valid_until`]). Chains
//! that a list carries (`x5c`, `x5chain`) are not followed: the list must be signed by the
//! signer the operator named (criteria 2.2.3(1)B).
//!
//! What it must never do: accept a file holding a private key, skip a block it does not
//! understand, or return an empty set without saying so.

use inkan_device::PublicKey;
use inkan_device::cert::CertificateChain;
use std::path::{Path, PathBuf};

/// Largest trust-anchor file read.
const MAX_ANCHOR_FILE: u64 = 1024 * 1024;

/// A trust anchor: a public key and, when it was given as a certificate, the certificate's
/// validity period (`notBefore`, `notAfter`, Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub key: PublicKey,
    pub valid: Option<(i64, i64)>,
}

/// Reads every key of every file.
pub fn load(files: &[PathBuf]) -> Result<Vec<Anchor>, String> {
    let mut keys = Vec::new();
    for path in files {
        keys.extend(load_file(path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(keys)
}

/// The keys of `anchors` that vouch at `now` (Unix seconds): a bare key always, a
/// certificate's key from its `notBefore` until (not including) its `notAfter`.
pub fn keys_at(anchors: &[Anchor], now: i64) -> Vec<PublicKey> {
    anchors
        .iter()
        .filter(|a| {
            a.valid
                .is_none_or(|(from, until)| from <= now && now < until)
        })
        .map(|a| a.key.clone())
        .collect()
}

/// The first `notAfter` of the anchor certificates that vouch at `now`: a list they verified
/// is not relied on past it without being verified again.
pub fn valid_until(anchors: &[Anchor], now: i64) -> Option<i64> {
    anchors
        .iter()
        .filter_map(|a| a.valid)
        .filter(|(from, until)| *from <= now && now < *until)
        .map(|(_, until)| until)
        .min()
}

fn load_file(path: &Path) -> Result<Vec<Anchor>, String> {
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
        return Ok(vec![Anchor { key, valid: None }]);
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
        let anchor = match label {
            "PUBLIC KEY" => Anchor {
                key: PublicKey::from_pem(block).map_err(|e| e.to_string())?,
                valid: None,
            },
            "CERTIFICATE" => {
                let certificate =
                    CertificateChain::parse(block.as_bytes()).map_err(|e| e.to_string())?;
                Anchor {
                    key: certificate.leaf_public_key().map_err(|e| e.to_string())?,
                    valid: Some(certificate.leaf_validity()),
                }
            }
            other => {
                return Err(format!(
                    "a PEM {other:?} block: only PUBLIC KEY and CERTIFICATE are trust anchors"
                ));
            }
        };
        keys.push(anchor);
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

    /// A certificate vouches only within its validity period; bare keys always; the cache
    /// of a list ends with the first anchor certificate that ends.
    #[test]
    fn anchor_certificates_vouch_only_while_valid() {
        let keys: Vec<PublicKey> = (0..4)
            .map(|_| PublicKey::from_pem(&rcgen::KeyPair::generate().unwrap().public_key_pem()))
            .collect::<Result<_, _>>()
            .unwrap();
        let key = |i: usize| keys[i].clone();
        let anchors = [
            Anchor {
                key: key(1),
                valid: None,
            },
            Anchor {
                key: key(2),
                valid: Some((100, 200)),
            },
            Anchor {
                key: key(3),
                valid: Some((150, 300)),
            },
        ];
        assert_eq!(keys_at(&anchors, 99), vec![key(1)]);
        assert_eq!(keys_at(&anchors, 100), vec![key(1), key(2)]);
        assert_eq!(keys_at(&anchors, 199), vec![key(1), key(2), key(3)]);
        assert_eq!(keys_at(&anchors, 200), vec![key(1), key(3)]);
        assert_eq!(keys_at(&anchors, 300), vec![key(1)]);
        assert_eq!(valid_until(&anchors, 120), Some(200));
        assert_eq!(valid_until(&anchors, 160), Some(200));
        assert_eq!(valid_until(&anchors, 250), Some(300));
        assert_eq!(valid_until(&anchors, 300), None);
    }

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
        let anchors = load(&[both, jwk]).unwrap();
        let keys: Vec<_> = anchors.iter().map(|a| a.key.clone()).collect();
        assert_eq!(keys, vec![spki.clone(), spki.clone(), spki]);
        let validity = CertificateChain::parse(certificate.pem().as_bytes())
            .unwrap()
            .leaf_validity();
        let valid: Vec<_> = anchors.iter().map(|a| a.valid).collect();
        assert_eq!(valid, vec![None, Some(validity), None]);

        let private = dir.path().join("private.pem");
        std::fs::write(&private, key_pair.serialize_pem()).unwrap();
        let err = load(&[private]).unwrap_err();
        assert!(err.contains("PRIVATE KEY"), "{err}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here").unwrap();
        assert!(load(&[empty]).is_err());
    }
}
