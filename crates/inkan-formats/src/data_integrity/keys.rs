//! Verification methods resolved without any network: `did:key` (Multikey, from the DID
//! itself) and `did:jwk` (the JWK inside the DID).
//!
//! Multikey (Controlled Identifiers 1.0): `z` + base58btc of a multicodec varint and the key:
//! `0xed 0x01` Ed25519 (32 bytes, `z6Mk…`), `0x80 0x24` P-256 compressed point (33 bytes,
//! `zDn…`), `0x81 0x24` P-384 compressed point (49 bytes, `z82…`). This is the reverse of
//! [`PublicKey::did_key`].

use crate::FormatError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_device::{KeySpec, PublicKey};

const WHAT: &str = "verification method";

/// Parses a Multikey `publicKeyMultibase` value (`z6Mk…`, `zDn…`, `z82…`).
pub fn public_key_from_multikey(multibase: &str) -> Result<PublicKey, FormatError> {
    let encoded = multibase.strip_prefix('z').ok_or_else(|| {
        FormatError::malformed(
            WHAT,
            "a Multikey must be multibase base58btc (starting with z)",
        )
    })?;
    if encoded.len() > 200 {
        return Err(FormatError::malformed(WHAT, "Multikey is too long"));
    }
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|e| FormatError::malformed(WHAT, format!("Multikey base58btc: {e}")))?;
    let bad = |e: inkan_device::DeviceError| FormatError::malformed(WHAT, e.to_string());
    match bytes.as_slice() {
        [0xed, 0x01, key @ ..] if key.len() == 32 => PublicKey::from_ed25519(key).map_err(bad),
        [0x80, 0x24, point @ ..] if point.len() == 33 => {
            PublicKey::from_sec1(KeySpec::P256, point).map_err(bad)
        }
        [0x81, 0x24, point @ ..] if point.len() == 49 => {
            PublicKey::from_sec1(KeySpec::P384, point).map_err(bad)
        }
        _ => Err(FormatError::Unsupported(
            "Multikey type (Ed25519, P-256 and P-384 with compressed points are supported)".into(),
        )),
    }
}

/// Parses a public JWK: the one JWK parser of the crate, [`crate::jose::jwk::public_key_from_jwk`]
/// (a key that does not fit the proof's cryptosuite is refused when the proof is checked).
pub fn public_key_from_jwk(jwk: &serde_json::Value) -> Result<PublicKey, FormatError> {
    crate::jose::jwk::public_key_from_jwk(jwk)
}

/// A verification method resolved to its controller DID and key.
#[derive(Debug, Clone)]
pub struct ResolvedMethod {
    /// The DID that controls the key (the verification method without its fragment).
    pub controller: String,
    /// The key.
    pub public_key: PublicKey,
}

/// Resolves a `did:key:…#…` or `did:jwk:…#0` verification method.
pub fn resolve_verification_method(method: &str) -> Result<ResolvedMethod, FormatError> {
    if method.len() > 4096 {
        return Err(FormatError::malformed(
            WHAT,
            "verification method id is too long",
        ));
    }
    let (did, fragment) = match method.split_once('#') {
        Some((did, fragment)) => (did, Some(fragment)),
        None => (method, None),
    };
    if let Some(id) = did.strip_prefix("did:key:") {
        if let Some(fragment) = fragment
            && fragment != id
        {
            return Err(FormatError::malformed(
                WHAT,
                format!("did:key fragment #{fragment} is not the key {id}"),
            ));
        }
        let public_key = public_key_from_multikey(id)?;
        return Ok(ResolvedMethod {
            controller: did.to_owned(),
            public_key,
        });
    }
    if let Some(encoded) = did.strip_prefix("did:jwk:") {
        if let Some(fragment) = fragment
            && fragment != "0"
        {
            return Err(FormatError::malformed(
                WHAT,
                format!("did:jwk has only the method #0, not #{fragment}"),
            ));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|e| FormatError::malformed(WHAT, format!("did:jwk base64url: {e}")))?;
        let jwk: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| FormatError::malformed(WHAT, format!("did:jwk JSON: {e}")))?;
        let public_key = public_key_from_jwk(&jwk)?;
        return Ok(ResolvedMethod {
            controller: did.to_owned(),
            public_key,
        });
    }
    Err(FormatError::Unsupported(format!(
        "verification method {method}: only did:key and did:jwk are resolved (nothing is fetched)"
    )))
}

/// The `did:key` verification method id of a key: `did:key:z…#z…`.
pub fn did_key_verification_method(key: &PublicKey) -> String {
    let did = key.did_key();
    let id = did.trim_start_matches("did:key:");
    format!("{did}#{id}")
}
