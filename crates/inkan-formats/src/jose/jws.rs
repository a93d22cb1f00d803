//! JWS compact serialisation (RFC 7515) with ES256, ES384, EdDSA, RS256 and PS256.
//!
//! Owns building the protected header, handing the signing input to the [`Signer`] and
//! decoding/verifying compact tokens strictly: size limit, three parts of unpadded base64url,
//! a JSON object header whose `alg` is one of the five and fits the key, no `crit`
//! (this implementation understands no extension). Never accepts `alg: none` and never
//! chooses the verification key from the token by itself (see [`DecodedJws::header_key`]).

use super::jwk::{public_key_from_jwk, public_key_from_x5c};
use super::{b64, b64_decode};
use crate::signer::SignInput;
use crate::{FormatError, KeyRef, Signer, limits};
use base64::Engine as _;
use inkan_device::{Algorithm, PublicKey};
use serde_json::{Map, Value};

/// How the protected header names the signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHint {
    /// `kid` from [`KeyRef::kid`] (an error when the key has none).
    Kid,
    /// `x5c` from [`KeyRef::certificate_chain`] (an error when the key has none).
    X5c,
    /// `jwk`: the public key itself.
    Jwk,
    /// Nothing: the verifier knows the key.
    None,
}

/// Builds the protected header for `key`: `alg`, `typ`, the key hint, then `extra`.
pub(crate) fn header_for(
    key: &KeyRef,
    typ: Option<&str>,
    hint: KeyHint,
    extra: &Map<String, Value>,
) -> Result<Map<String, Value>, FormatError> {
    let mut header = Map::new();
    header.insert("alg".into(), key.algorithm.as_str().into());
    if let Some(typ) = typ {
        header.insert("typ".into(), typ.into());
    }
    match hint {
        KeyHint::Kid => {
            let kid = key.kid.as_deref().ok_or_else(|| {
                FormatError::Rejected("a `kid` header was asked for but the key has no kid".into())
            })?;
            header.insert("kid".into(), kid.into());
        }
        KeyHint::X5c => {
            if key.certificate_chain.is_empty() {
                return Err(FormatError::Rejected(
                    "an `x5c` header was asked for but the key has no certificate chain".into(),
                ));
            }
            let chain = key
                .certificate_chain
                .iter()
                .map(|der| Value::String(base64::engine::general_purpose::STANDARD.encode(der)))
                .collect();
            header.insert("x5c".into(), Value::Array(chain));
        }
        KeyHint::Jwk => {
            header.insert("jwk".into(), key.public_key.to_jwk());
        }
        KeyHint::None => {}
    }
    for (name, value) in extra {
        if matches!(name.as_str(), "alg" | "crit" | "b64") || header.contains_key(name) {
            return Err(FormatError::Rejected(format!(
                "header parameter `{name}` cannot be set as an extra"
            )));
        }
        header.insert(name.clone(), value.clone());
    }
    Ok(header)
}

/// The signature size each algorithm's signer must return, when fixed.
fn fixed_signature_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::Es256 | Algorithm::EdDsa => Some(64),
        Algorithm::Es384 => Some(96),
        Algorithm::Rs256 | Algorithm::Ps256 => None,
    }
}

/// Signs `payload` with `key` under an already built `header`; returns the compact JWS.
pub(crate) async fn sign_with_header(
    signer: &dyn Signer,
    key: &KeyRef,
    header: &Map<String, Value>,
    payload: &[u8],
) -> Result<String, FormatError> {
    key.algorithm
        .check_fits(key.public_key.spec())
        .map_err(|e| FormatError::Rejected(e.to_string()))?;
    let header = serde_json::to_vec(header)
        .map_err(|e| FormatError::malformed("JWS header", e.to_string()))?;
    let signing_input = format!("{}.{}", b64(&header), b64(payload));
    let signature = signer
        .sign(key, SignInput::Message(signing_input.as_bytes()))
        .await?;
    if let Some(len) = fixed_signature_len(key.algorithm)
        && signature.len() != len
    {
        return Err(FormatError::Signer(format!(
            "{} signature of {} bytes, expected {len}",
            key.algorithm,
            signature.len()
        )));
    }
    Ok(format!("{signing_input}.{}", b64(&signature)))
}

/// Signs `payload` as a compact JWS: header `alg` (from the key), `typ`, the key hint and
/// `extra` members.
pub async fn sign_compact(
    signer: &dyn Signer,
    key: &KeyRef,
    typ: Option<&str>,
    hint: KeyHint,
    extra: &Map<String, Value>,
    payload: &[u8],
) -> Result<String, FormatError> {
    let header = header_for(key, typ, hint, extra)?;
    sign_with_header(signer, key, &header, payload).await
}

/// A compact JWS whose structure and header have been checked, signature not yet.
#[derive(Debug, Clone)]
pub struct DecodedJws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// Its `alg`.
    pub alg: Algorithm,
    /// The decoded payload bytes.
    pub payload: Vec<u8>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Decodes a compact JWS without verifying it (see [`DecodedJws::verify`]).
pub fn decode_compact(token: &str) -> Result<DecodedJws, FormatError> {
    limits::check_size("JWS", token.as_bytes())?;
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FormatError::malformed(
            "JWS",
            "not three dot-separated parts (compact serialisation)",
        ));
    };
    let header = match limits::parse_json("JWS header", &b64_decode("JWS header", h)?)? {
        Value::Object(m) => m,
        _ => return Err(FormatError::malformed("JWS header", "not a JSON object")),
    };
    let alg = match header.get("alg") {
        Some(Value::String(a)) if a.eq_ignore_ascii_case("none") => {
            return Err(FormatError::Rejected(
                "`alg` none: unsecured JWS are refused".into(),
            ));
        }
        Some(Value::String(a)) => a.parse::<Algorithm>().map_err(|_| {
            FormatError::Unsupported(format!(
                "JWS `alg` {a:?} (ES256, ES384, EdDSA, RS256, PS256)"
            ))
        })?,
        _ => {
            return Err(FormatError::malformed(
                "JWS header",
                "`alg` is missing or not a string",
            ));
        }
    };
    if let Some(crit) = header.get("crit") {
        let names = crit.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
            FormatError::malformed("JWS header", "`crit` is not a non-empty array")
        })?;
        let first = names.first().and_then(Value::as_str).unwrap_or("?");
        return Err(FormatError::Unsupported(format!(
            "critical header parameter {first:?} is not understood"
        )));
    }
    let payload = b64_decode("JWS payload", p)?;
    let signature = b64_decode("JWS signature", s)?;
    if signature.is_empty() {
        return Err(FormatError::malformed("JWS signature", "empty"));
    }
    Ok(DecodedJws {
        header,
        alg,
        payload,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

/// Decodes and verifies a compact JWS with `key`.
pub fn verify_compact(token: &str, key: &PublicKey) -> Result<DecodedJws, FormatError> {
    let jws = decode_compact(token)?;
    jws.verify(key)?;
    Ok(jws)
}

impl DecodedJws {
    /// Verifies the signature with `key`; the header's `alg` must fit the key.
    pub fn verify(&self, key: &PublicKey) -> Result<(), FormatError> {
        if !self.alg.fits(key.spec()) {
            return Err(FormatError::Rejected(format!(
                "header `alg` {} does not match the {} key",
                self.alg,
                key.spec()
            )));
        }
        key.verify(self.alg, self.signing_input.as_bytes(), &self.signature)
            .map_err(|e| FormatError::InvalidSignature(format!("JWS: {e}")))
    }

    /// The payload as a JSON object (with the limits on outside input).
    pub fn payload_json(&self) -> Result<Map<String, Value>, FormatError> {
        match limits::parse_json("JWT claims", &self.payload)? {
            Value::Object(m) => Ok(m),
            _ => Err(FormatError::malformed("JWT claims", "not a JSON object")),
        }
    }

    /// The header's `typ`, if any.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// Refuses unless `typ` is `expected` (compared as a media type: case-insensitive, an
    /// `application/` prefix allowed).
    pub fn expect_typ(&self, expected: &[&str]) -> Result<(), FormatError> {
        let typ = self.typ().ok_or_else(|| {
            FormatError::Rejected(format!(
                "header `typ` is missing (expected {})",
                expected.join(" or ")
            ))
        })?;
        let lower = typ.to_ascii_lowercase();
        let short = lower.strip_prefix("application/").unwrap_or(&lower);
        if expected.iter().any(|e| e.eq_ignore_ascii_case(short)) {
            Ok(())
        } else {
            Err(FormatError::Rejected(format!(
                "header `typ` is {typ:?}, expected {}",
                expected.join(" or ")
            )))
        }
    }

    /// The key the header carries itself (`x5c` leaf, `jwk`, or a `kid` that is a `did:jwk`
    /// or `did:key` URL), if any. Whether that key is trusted is the caller's decision. A
    /// header naming a key twice (`x5c` and `jwk`) is refused: a chain must never vouch for a
    /// key other than its own leaf's.
    pub fn header_key(&self) -> Result<Option<PublicKey>, FormatError> {
        if let Some(x5c) = self.header.get("x5c") {
            if self.header.contains_key("jwk") {
                return Err(FormatError::Rejected(
                    "the header names its key twice (`x5c` and `jwk`)".into(),
                ));
            }
            return public_key_from_x5c(x5c).map(Some);
        }
        if let Some(jwk) = self.header.get("jwk") {
            return public_key_from_jwk(jwk).map(Some);
        }
        match self.header.get("kid").and_then(Value::as_str) {
            Some(kid) if kid.starts_with("did:jwk:") || kid.starts_with("did:key:") => {
                super::public_key_from_did(kid).map(Some)
            }
            _ => Ok(None),
        }
    }
}
