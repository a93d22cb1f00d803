//! JOSE formats: JWS compact ([`jws`]), the VC-JWT family and the OpenID4VCI key proof
//! ([`vc_jwt`]), SD-JWT VC with Key Binding ([`sd_jwt`]), the public-key resolution they
//! share ([`jwk`]: JWK, `did:jwk`, `did:key`, `x5c`), and compact JWE for signature
//! activation data ([`jwe`]: ECDH-ES on P-256 with A256GCM).
//!
//! This module owns producing these tokens through a [`Signer`](crate::Signer) (it hands the
//! signer the JWS signing input `b64(header).b64(payload)` and gets back the raw signature)
//! and verifying them strictly. Apart from the activation key of [`jwe`] (a P-256 key that
//! only decrypts activation data and never signs), it must never hold or parse a private key
//! (a JWK with `d` is refused), never accept `alg: none` or a `crit` header it does not understand, never
//! fetch a key or a DID document from the network, and never read outside input before the
//! size and depth limits of [`crate::limits`] are applied.

pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod sd_jwt;
mod time;
pub mod vc_jwt;

pub use jwk::{public_key_from_did, public_key_from_jwk};
pub use jws::{DecodedJws, KeyHint, decode_compact, sign_compact, verify_compact};
pub use time::{format_rfc3339, parse_rfc3339};

use crate::FormatError;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Clock skew tolerated in every time check, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;

/// base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url of the SHA-256 of `bytes`: how JOSE names a hash (`x5t#S256`, DPoP `ath`,
/// SD-JWT digests and `sd_hash`).
pub fn sha256_b64url(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    b64(&sha2::Sha256::digest(bytes))
}

/// Strict base64url decoding: no padding, no whitespace, canonical trailing bits.
pub(crate) fn b64_decode(what: &'static str, s: &str) -> Result<Vec<u8>, FormatError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| FormatError::malformed(what, format!("not unpadded base64url: {e}")))
}
