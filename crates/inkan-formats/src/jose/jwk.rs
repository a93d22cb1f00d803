//! Public keys named by JOSE tokens: a JWK (EC P-256/P-384, OKP Ed25519, RSA), a `did:jwk`,
//! a `did:key`, or the leaf of an `x5c` chain. Owns parsing these strictly; never accepts a
//! private JWK (member `d`, `p`, `q`, …), never resolves anything over the network and does
//! not decide whether a certificate is trusted.

use super::b64_decode;
use crate::FormatError;
use base64::Engine as _;
use inkan_device::{KeySpec, PublicKey};
use serde_json::Value;

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn member<'a>(jwk: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, FormatError> {
    jwk.get(name).and_then(Value::as_str).ok_or_else(|| {
        FormatError::malformed("JWK", format!("member `{name}` is missing or not a string"))
    })
}

fn coordinate(
    jwk: &serde_json::Map<String, Value>,
    name: &str,
    len: usize,
) -> Result<Vec<u8>, FormatError> {
    let bytes = b64_decode("JWK", member(jwk, name)?)?;
    if bytes.len() != len {
        return Err(FormatError::malformed(
            "JWK",
            format!("member `{name}` is {} bytes, not {len}", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Parses a public JWK (RFC 7517/7518/8037).
pub fn public_key_from_jwk(jwk: &Value) -> Result<PublicKey, FormatError> {
    let jwk = jwk
        .as_object()
        .ok_or_else(|| FormatError::malformed("JWK", "not a JSON object"))?;
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(FormatError::malformed(
            "JWK",
            format!("carries the private member `{private}`: only public keys are accepted"),
        ));
    }
    let bad_key = |e: inkan_device::DeviceError| FormatError::malformed("JWK", e.to_string());
    match member(jwk, "kty")? {
        "EC" => {
            let (spec, len) = match member(jwk, "crv")? {
                "P-256" => (KeySpec::P256, 32),
                "P-384" => (KeySpec::P384, 48),
                other => {
                    return Err(FormatError::Unsupported(format!(
                        "JWK curve {other:?} (P-256, P-384)"
                    )));
                }
            };
            let mut point = vec![0x04];
            point.extend(coordinate(jwk, "x", len)?);
            point.extend(coordinate(jwk, "y", len)?);
            PublicKey::from_sec1(spec, &point).map_err(bad_key)
        }
        "OKP" => match member(jwk, "crv")? {
            "Ed25519" => PublicKey::from_ed25519(&coordinate(jwk, "x", 32)?).map_err(bad_key),
            other => Err(FormatError::Unsupported(format!(
                "JWK OKP curve {other:?} (Ed25519)"
            ))),
        },
        "RSA" => {
            let n = b64_decode("JWK", member(jwk, "n")?)?;
            let e = b64_decode("JWK", member(jwk, "e")?)?;
            if n.first() == Some(&0) || e.first() == Some(&0) {
                return Err(FormatError::malformed(
                    "JWK",
                    "RSA `n` or `e` has a leading zero byte",
                ));
            }
            if n.len() * 8 < 2048 {
                return Err(FormatError::Unsupported(format!(
                    "RSA key of {} bits (2048 or more)",
                    n.len() * 8
                )));
            }
            PublicKey::from_rsa(&n, &e).map_err(bad_key)
        }
        other => Err(FormatError::Unsupported(format!(
            "JWK key type {other:?} (EC, OKP, RSA)"
        ))),
    }
}

/// The key of a `did:jwk` or `did:key` identifier (a `#fragment` is ignored). Other DID
/// methods need resolution over the network, which this crate never does.
pub fn public_key_from_did(did: &str) -> Result<PublicKey, FormatError> {
    if did.len() > 16 * 1024 {
        return Err(FormatError::malformed("DID", "longer than 16 KiB"));
    }
    let did = did.split_once('#').map_or(did, |(d, _)| d);
    if let Some(encoded) = did.strip_prefix("did:jwk:") {
        let json = crate::limits::parse_json("did:jwk", &b64_decode("did:jwk", encoded)?)?;
        return public_key_from_jwk(&json);
    }
    if let Some(multibase) = did.strip_prefix("did:key:") {
        let encoded = multibase
            .strip_prefix('z')
            .ok_or_else(|| FormatError::malformed("did:key", "not multibase base58btc (`z`)"))?;
        let bytes = bs58::decode(encoded)
            .into_vec()
            .map_err(|e| FormatError::malformed("did:key", e.to_string()))?;
        let bad_key =
            |e: inkan_device::DeviceError| FormatError::malformed("did:key", e.to_string());
        return match bytes.as_slice() {
            [0xed, 0x01, key @ ..] => PublicKey::from_ed25519(key).map_err(bad_key),
            [0x80, 0x24, point @ ..] => PublicKey::from_sec1(KeySpec::P256, point).map_err(bad_key),
            [0x81, 0x24, point @ ..] => PublicKey::from_sec1(KeySpec::P384, point).map_err(bad_key),
            [0x85, 0x24, der @ ..] => {
                PublicKey::from_spki_der(&rsa_spki_from_pkcs1(der)).map_err(bad_key)
            }
            _ => Err(FormatError::Unsupported(
                "did:key multicodec (Ed25519, P-256, P-384, RSA)".into(),
            )),
        };
    }
    Err(FormatError::Unsupported(format!(
        "DID method of {:?}: only did:jwk and did:key resolve without the network",
        did.chars().take(40).collect::<String>()
    )))
}

/// Wraps a PKCS#1 `RSAPublicKey` in a `SubjectPublicKeyInfo` (rsaEncryption, NULL params).
fn rsa_spki_from_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    fn der_len(len: usize) -> Vec<u8> {
        if len < 0x80 {
            vec![len as u8]
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            let mut out = vec![0x80 | bytes.len() as u8];
            out.extend(bytes);
            out
        }
    }
    const ALG: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x03];
    bit_string.extend(der_len(pkcs1.len() + 1));
    bit_string.push(0);
    bit_string.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    out.extend(der_len(ALG.len() + bit_string.len()));
    out.extend_from_slice(&ALG);
    out.extend(bit_string);
    out
}

/// The leaf public key of an `x5c` header (standard base64 DER, leaf first). The chain's
/// order is checked; trust in its root is the caller's decision.
pub fn public_key_from_x5c(x5c: &Value) -> Result<PublicKey, FormatError> {
    let entries = x5c
        .as_array()
        .filter(|a| !a.is_empty() && a.len() <= 10)
        .ok_or_else(|| FormatError::malformed("x5c", "not an array of 1 to 10 certificates"))?;
    let ders = entries
        .iter()
        .map(|e| {
            let s = e
                .as_str()
                .ok_or_else(|| FormatError::malformed("x5c", "entry is not a string"))?;
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| FormatError::malformed("x5c", format!("entry is not base64: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chain = inkan_device::cert::CertificateChain::from_der_list(&ders)
        .map_err(|e| FormatError::malformed("x5c", e.to_string()))?;
    chain
        .leaf_public_key()
        .map_err(|e| FormatError::malformed("x5c", e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rsa_did_key_round_trips_through_spki() {
        let n = {
            let mut n = vec![0xc3; 256];
            n[255] = 0x01;
            n
        };
        let key = PublicKey::from_rsa(&n, &[1, 0, 1]).unwrap();
        assert_eq!(public_key_from_did(&key.did_key()).unwrap(), key);
        assert_eq!(public_key_from_did(&key.did_jwk()).unwrap(), key);
        assert_eq!(public_key_from_jwk(&key.to_jwk()).unwrap(), key);
    }
}
