//! Compact JWE (RFC 7516) for signature activation data (criteria 2.2.3(2)A-2): the client
//! encrypts the user's PIN and OTP to the service's published activation key, and only the
//! signing module decrypts them. Exactly one suite: `alg: "ECDH-ES"` (direct key agreement,
//! RFC 7518 §4.6, Concat KDF of NIST SP 800-56A with SHA-256) on P-256, with
//! `enc: "A256GCM"`.
//!
//! Owns the activation key ([`JweRecipientKey`]: a P-256 key that only ever decrypts, never
//! signs), its public JWK, strict decryption ([`decrypt_compact`]) and the client side
//! ([`encrypt_compact`]). It must never print the secret (its `Debug` redacts it) nor export
//! it except as PKCS#8 for sealing at rest; never accept another `alg` or `enc`, a `zip`, a
//! `crit`, an encrypted key, an unknown header member, or an `epk` that is private, not
//! P-256 or not on the curve; never say, once the header is accepted, which later check
//! failed (one generic error, so no decryption oracle); never return plaintext whose tag did
//! not verify; and never look at a token before its size is checked against
//! [`MAX_JWE_BYTES`].

use super::{b64, b64_decode};
use crate::{FormatError, limits};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Largest compact JWE accepted or produced, in bytes. Activation data is a few dozen bytes.
pub const MAX_JWE_BYTES: usize = 16 * 1024;

/// The one key management algorithm.
pub const ALG: &str = "ECDH-ES";
/// The one content encryption algorithm.
pub const ENC: &str = "A256GCM";

/// The only error once the header has been accepted: it does not say which check failed.
const DECRYPTION_FAILED: &str = "JWE could not be decrypted";

/// Protected header members this implementation understands; anything else is refused.
const HEADER_MEMBERS: [&str; 8] = ["alg", "enc", "epk", "apu", "apv", "kid", "typ", "cty"];

/// JWK members that only a private key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// AES-256-GCM key, IV and tag sizes in bytes.
const CEK_LEN: usize = 32;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The activation key: a P-256 static secret to which clients encrypt activation data.
///
/// The secret is zeroized when the value is dropped; `Debug` shows only the public `x`.
pub struct JweRecipientKey {
    secret: SecretKey,
}

impl std::fmt::Debug for JweRecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (x, _) = coordinates(&self.secret.public_key());
        f.debug_struct("JweRecipientKey")
            .field("x", &x)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl JweRecipientKey {
    /// A fresh key from the operating system's random generator.
    pub fn generate() -> Self {
        JweRecipientKey {
            secret: SecretKey::random(&mut OsRng),
        }
    }

    /// The key from a PKCS#8 `PrivateKeyInfo` (DER) of a P-256 key, as
    /// [`to_pkcs8_der`](Self::to_pkcs8_der) wrote it.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, FormatError> {
        let secret = SecretKey::from_pkcs8_der(der).map_err(|e| {
            FormatError::malformed("JWE key", format!("not a P-256 PKCS#8 private key: {e}"))
        })?;
        Ok(JweRecipientKey { secret })
    }

    /// The secret as PKCS#8 DER, for sealing at rest; the buffer is zeroized when dropped.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        #[allow(clippy::expect_used)]
        let document = self
            .secret
            .to_pkcs8_der()
            .expect("a P-256 secret key always encodes as PKCS#8");
        Zeroizing::new(document.as_bytes().to_vec())
    }

    /// The public JWK to publish: `kty`, `crv`, `x`, `y`, `use: "enc"`, `alg: "ECDH-ES"`.
    pub fn public_jwk(&self) -> Value {
        let (x, y) = coordinates(&self.secret.public_key());
        json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "use": "enc", "alg": ALG})
    }
}

/// base64url of the affine coordinates of a P-256 point.
fn coordinates(public: &PublicKey) -> (String, String) {
    let point = public.to_encoded_point(false);
    // An uncompressed encoding of a valid (non-identity) public key always has both.
    let x = point.x().map(|x| b64(x)).unwrap_or_default();
    let y = point.y().map(|y| b64(y)).unwrap_or_default();
    (x, y)
}

/// Parses an EC P-256 public JWK strictly: `kty`, `crv`, 32-byte `x` and `y` on the curve,
/// no private member; `allowed` names the other members tolerated (and ignored).
fn p256_public_from_jwk(
    what: &'static str,
    jwk: &Value,
    allowed: &[&str],
) -> Result<PublicKey, FormatError> {
    let jwk = jwk
        .as_object()
        .ok_or_else(|| FormatError::malformed(what, "not a JSON object"))?;
    if let Some(private) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(FormatError::malformed(
            what,
            format!("carries the private member `{private}`: only a public key is accepted"),
        ));
    }
    if let Some(other) = jwk.keys().find(|k| {
        !matches!(k.as_str(), "kty" | "crv" | "x" | "y") && !allowed.contains(&k.as_str())
    }) {
        return Err(FormatError::malformed(
            what,
            format!("unexpected member `{other}`"),
        ));
    }
    let member = |name: &str| -> Result<&str, FormatError> {
        jwk.get(name).and_then(Value::as_str).ok_or_else(|| {
            FormatError::malformed(what, format!("member `{name}` is missing or not a string"))
        })
    };
    if member("kty")? != "EC" || member("crv")? != "P-256" {
        return Err(FormatError::Unsupported(format!(
            "{what}: only EC P-256 keys (`kty` \"EC\", `crv` \"P-256\")"
        )));
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    for name in ["x", "y"] {
        let bytes = b64_decode(what, member(name)?)?;
        if bytes.len() != 32 {
            return Err(FormatError::malformed(
                what,
                format!("member `{name}` is {} bytes, not 32", bytes.len()),
            ));
        }
        point.extend_from_slice(&bytes);
    }
    PublicKey::from_sec1_bytes(&point)
        .map_err(|_| FormatError::malformed(what, "the point is not on the P-256 curve"))
}

/// The Concat KDF of NIST SP 800-56A §5.8.1 with SHA-256, as RFC 7518 §4.6.2 uses it:
/// `key_len` bytes from the shared secret `z`, with AlgorithmID the `enc` name (or the key
/// wrapping `alg` for `ECDH-ES+A*KW`), PartyUInfo `apu`, PartyVInfo `apv`, SuppPubInfo the
/// key length in bits and SuppPrivInfo empty; every field but SuppPubInfo is prefixed with its
/// 32-bit big-endian length.
fn concat_kdf(
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    key_len: usize,
) -> Zeroizing<Vec<u8>> {
    fn length_prefixed(out: &mut Vec<u8>, data: &[u8]) {
        // Header fields are bounded by MAX_JWE_BYTES, far below 2^32.
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
    }
    let mut other_info = Vec::new();
    length_prefixed(&mut other_info, algorithm_id.as_bytes());
    length_prefixed(&mut other_info, apu);
    length_prefixed(&mut other_info, apv);
    other_info.extend_from_slice(&((key_len * 8) as u32).to_be_bytes());

    let mut out = Zeroizing::new(Vec::with_capacity(key_len + 32));
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let mut hash = Sha256::new();
        hash.update(counter.to_be_bytes());
        hash.update(z);
        hash.update(&other_info);
        let round = Zeroizing::new(hash.finalize());
        out.extend_from_slice(&round);
        counter += 1;
    }
    out.truncate(key_len);
    out
}

/// ECDH-ES: the content encryption key agreed between `secret` and `public`.
fn agree(
    secret: &p256::NonZeroScalar,
    public: &PublicKey,
    enc: &str,
    apu: &[u8],
    apv: &[u8],
    key_len: usize,
) -> Zeroizing<Vec<u8>> {
    let shared = p256::ecdh::diffie_hellman(secret, public.as_affine());
    concat_kdf(shared.raw_secret_bytes(), enc, apu, apv, key_len)
}

/// A protected header that passed every check.
#[derive(Debug)]
struct Header {
    epk: PublicKey,
    apu: Vec<u8>,
    apv: Vec<u8>,
}

/// Checks the decoded protected header: a JSON object with only known members, `alg`
/// exactly `ECDH-ES`, `enc` exactly `A256GCM`, a public P-256 `epk`, optional `apu`/`apv`.
fn parse_header(header: &Value) -> Result<Header, FormatError> {
    let header = header
        .as_object()
        .ok_or_else(|| FormatError::malformed("JWE header", "not a JSON object"))?;
    if header.contains_key("crit") {
        return Err(FormatError::Unsupported(
            "JWE `crit` header: no extension is understood".into(),
        ));
    }
    if header.contains_key("zip") {
        return Err(FormatError::Unsupported(
            "JWE `zip` header: compressed plaintext is refused".into(),
        ));
    }
    let string = |name: &str| -> Result<Option<&str>, FormatError> {
        match header.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(FormatError::malformed(
                "JWE header",
                format!("`{name}` is not a string"),
            )),
        }
    };
    match string("alg")? {
        Some(ALG) => {}
        Some(other) => {
            return Err(FormatError::Unsupported(format!(
                "JWE `alg` {other:?} (only {ALG:?})"
            )));
        }
        None => return Err(FormatError::malformed("JWE header", "`alg` is missing")),
    }
    match string("enc")? {
        Some(ENC) => {}
        Some(other) => {
            return Err(FormatError::Unsupported(format!(
                "JWE `enc` {other:?} (only {ENC:?})"
            )));
        }
        None => return Err(FormatError::malformed("JWE header", "`enc` is missing")),
    }
    if let Some(other) = header
        .keys()
        .find(|k| !HEADER_MEMBERS.contains(&k.as_str()))
    {
        return Err(FormatError::Unsupported(format!(
            "JWE header parameter `{other}`"
        )));
    }
    for name in ["kid", "typ", "cty"] {
        string(name)?;
    }
    let epk = header
        .get("epk")
        .ok_or_else(|| FormatError::malformed("JWE header", "`epk` is missing"))?;
    let epk = p256_public_from_jwk("JWE `epk`", epk, &[])?;
    let party = |name: &str| -> Result<Vec<u8>, FormatError> {
        string(name)?
            .map(|s| b64_decode("JWE header", s))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(Header {
        epk,
        apu: party("apu")?,
        apv: party("apv")?,
    })
}

/// Decrypts a compact JWE made for `key` (`alg: "ECDH-ES"`, `enc: "A256GCM"`, P-256).
///
/// A token that is too large, not five parts or whose header is refused gets an error that
/// says why; once the header is accepted, every failure (a non-empty encrypted key, a bad
/// IV, tag or ciphertext encoding, a wrong key, a tampered header or ciphertext) gets the
/// same [`FormatError::Rejected`] message.
pub fn decrypt_compact(
    token: &str,
    key: &JweRecipientKey,
) -> Result<Zeroizing<Vec<u8>>, FormatError> {
    if token.len() > MAX_JWE_BYTES {
        return Err(FormatError::malformed(
            "JWE",
            format!(
                "{} bytes, more than the {MAX_JWE_BYTES} accepted",
                token.len()
            ),
        ));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_b64, encrypted_key, iv, ciphertext, tag] = parts.as_slice() else {
        return Err(FormatError::malformed(
            "JWE",
            "not five dot-separated parts (compact serialisation)",
        ));
    };
    let header = limits::parse_json("JWE header", &b64_decode("JWE header", header_b64)?)?;
    let header = parse_header(&header)?;

    // From here on, one answer for every failure.
    let failed = || FormatError::Rejected(DECRYPTION_FAILED.into());
    if !encrypted_key.is_empty() {
        return Err(failed());
    }
    let iv = b64_decode("JWE", iv).map_err(|_| failed())?;
    let tag = b64_decode("JWE", tag).map_err(|_| failed())?;
    let mut buffer = Zeroizing::new(b64_decode("JWE", ciphertext).map_err(|_| failed())?);
    let iv = <[u8; IV_LEN]>::try_from(iv.as_slice()).map_err(|_| failed())?;
    let tag = <[u8; TAG_LEN]>::try_from(tag.as_slice()).map_err(|_| failed())?;
    let cek = agree(
        &key.secret.to_nonzero_scalar(),
        &header.epk,
        ENC,
        &header.apu,
        &header.apv,
        CEK_LEN,
    );
    let cipher = Aes256Gcm::new_from_slice(&cek).map_err(|_| failed())?;
    cipher
        .decrypt_in_place_detached(
            &Nonce::from(iv),
            header_b64.as_bytes(),
            &mut buffer,
            &Tag::from(tag),
        )
        .map_err(|_| failed())?;
    Ok(buffer)
}

/// Encrypts `plaintext` as a compact JWE to `recipient_jwk` (an EC P-256 public JWK, as
/// [`JweRecipientKey::public_jwk`] gives it) with a fresh ephemeral key and a random IV.
/// The JWK's `kid`, if any, is copied into the header; a JWK whose `alg` is not `ECDH-ES`
/// or whose `use` is not `enc` is refused.
pub fn encrypt_compact(plaintext: &[u8], recipient_jwk: &Value) -> Result<String, FormatError> {
    let recipient = p256_public_from_jwk(
        "recipient JWK",
        recipient_jwk,
        &["kid", "use", "alg", "key_ops"],
    )?;
    let member = |name: &str| recipient_jwk.get(name);
    if member("alg").is_some_and(|a| a != ALG) {
        return Err(FormatError::Rejected(format!(
            "recipient JWK `alg` is not {ALG:?}"
        )));
    }
    if member("use").is_some_and(|u| u != "enc") {
        return Err(FormatError::Rejected(
            "recipient JWK `use` is not \"enc\"".into(),
        ));
    }
    if member("key_ops").is_some() {
        return Err(FormatError::Unsupported(
            "recipient JWK `key_ops` (use `use: \"enc\"`)".into(),
        ));
    }
    let kid = match member("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => {
            return Err(FormatError::malformed(
                "recipient JWK",
                "`kid` is not a string",
            ));
        }
    };

    let ephemeral = SecretKey::random(&mut OsRng);
    let (x, y) = coordinates(&ephemeral.public_key());
    let mut header = Map::new();
    header.insert("alg".into(), ALG.into());
    header.insert("enc".into(), ENC.into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    header.insert(
        "epk".into(),
        json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
    );
    let header = serde_json::to_vec(&header)
        .map_err(|e| FormatError::malformed("JWE header", e.to_string()))?;
    let header_b64 = b64(&header);

    let cek = agree(
        &ephemeral.to_nonzero_scalar(),
        &recipient,
        ENC,
        &[],
        &[],
        CEK_LEN,
    );
    drop(ephemeral);
    let mut iv = [0u8; IV_LEN];
    OsRng.fill_bytes(&mut iv);
    let cipher = Aes256Gcm::new_from_slice(&cek)
        .map_err(|_| FormatError::Rejected("JWE encryption failed".into()))?;
    let mut buffer = Zeroizing::new(plaintext.to_vec());
    let tag = cipher
        .encrypt_in_place_detached(&Nonce::from(iv), header_b64.as_bytes(), &mut buffer)
        .map_err(|_| FormatError::Rejected("JWE encryption failed".into()))?;
    let token = format!("{header_b64}..{}.{}.{}", b64(&iv), b64(&buffer), b64(&tag));
    if token.len() > MAX_JWE_BYTES {
        return Err(FormatError::Rejected(format!(
            "the JWE would be {} bytes, more than the {MAX_JWE_BYTES} accepted",
            token.len()
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PLAINTEXT: &[u8] = br#"{"pin":"123456","otp":"654321"}"#;

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    fn header_of(token: &str) -> Map<String, Value> {
        let h = b64_decode("test", &parts(token)[0]).unwrap();
        serde_json::from_slice(&h).unwrap()
    }

    /// `token` with its protected header replaced by `header` (so the AAD changes too).
    fn with_header(token: &str, header: &Map<String, Value>) -> String {
        let mut p = parts(token);
        p[0] = b64(&serde_json::to_vec(header).unwrap());
        p.join(".")
    }

    fn with_part(token: &str, index: usize, value: &str) -> String {
        let mut p = parts(token);
        p[index] = value.to_owned();
        p.join(".")
    }

    /// Flips the lowest bit of the first byte of part `index`.
    fn flip(token: &str, index: usize) -> String {
        let mut bytes = b64_decode("test", &parts(token)[index]).unwrap();
        bytes[0] ^= 1;
        with_part(token, index, &b64(&bytes))
    }

    fn is_generic(e: &FormatError) -> bool {
        matches!(e, FormatError::Rejected(m) if m == DECRYPTION_FAILED)
    }

    fn assert_generic(token: &str, key: &JweRecipientKey, case: &str) {
        let e = decrypt_compact(token, key).unwrap_err();
        assert!(is_generic(&e), "{case}: {e}");
        assert_eq!(
            e.to_string(),
            "rejected: JWE could not be decrypted",
            "{case}"
        );
    }

    #[test]
    fn round_trip() {
        let key = JweRecipientKey::generate();
        for plaintext in [&b""[..], b"x", PLAINTEXT, &[0xa5; 4000][..]] {
            let token = encrypt_compact(plaintext, &key.public_jwk()).unwrap();
            assert_eq!(parts(&token).len(), 5);
            assert_eq!(parts(&token)[1], "", "ECDH-ES has no encrypted key");
            assert_eq!(*decrypt_compact(&token, &key).unwrap(), plaintext);
        }
        // Every token has a fresh ephemeral key and IV.
        let a = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        let b = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        assert_ne!(header_of(&a)["epk"], header_of(&b)["epk"]);
        assert_ne!(parts(&a)[2], parts(&b)[2]);
    }

    #[test]
    fn header_and_kid() {
        let key = JweRecipientKey::generate();
        let token = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        let header = header_of(&token);
        assert_eq!(header["alg"], "ECDH-ES");
        assert_eq!(header["enc"], "A256GCM");
        assert!(!header.contains_key("kid"));
        let mut epk_members: Vec<&String> = header["epk"].as_object().unwrap().keys().collect();
        epk_members.sort();
        assert_eq!(epk_members, ["crv", "kty", "x", "y"]);

        let mut jwk = key.public_jwk();
        jwk["kid"] = "activation-2026".into();
        let token = encrypt_compact(PLAINTEXT, &jwk).unwrap();
        assert_eq!(header_of(&token)["kid"], "activation-2026");
        assert_eq!(*decrypt_compact(&token, &key).unwrap(), PLAINTEXT);
    }

    #[test]
    fn public_jwk_pkcs8_and_debug() {
        let key = JweRecipientKey::generate();
        let jwk = key.public_jwk();
        let mut members: Vec<&String> = jwk.as_object().unwrap().keys().collect();
        members.sort();
        assert_eq!(members, ["alg", "crv", "kty", "use", "x", "y"]);
        assert_eq!(jwk["use"], "enc");
        assert_eq!(jwk["alg"], "ECDH-ES");
        // The JWK parses back to the same public key.
        assert_eq!(
            p256_public_from_jwk("test", &jwk, &["use", "alg"]).unwrap(),
            key.secret.public_key()
        );

        let der = key.to_pkcs8_der();
        let again = JweRecipientKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(again.public_jwk(), jwk);
        let token = encrypt_compact(PLAINTEXT, &jwk).unwrap();
        assert_eq!(*decrypt_compact(&token, &again).unwrap(), PLAINTEXT);
        assert!(JweRecipientKey::from_pkcs8_der(&der[..der.len() - 1]).is_err());
        assert!(JweRecipientKey::from_pkcs8_der(b"").is_err());

        let debug = format!("{key:?}");
        let d = b64(&key.secret.to_bytes());
        assert!(debug.contains("[redacted]"), "{debug}");
        assert!(!debug.contains(&d), "{debug}");
        assert!(
            !debug.contains(&hex::encode(key.secret.to_bytes())),
            "{debug}"
        );
    }

    #[test]
    fn tampering_is_refused_with_one_generic_error() {
        let key = JweRecipientKey::generate();
        let token = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        assert_generic(&flip(&token, 3), &key, "ciphertext");
        assert_generic(&flip(&token, 4), &key, "tag");
        assert_generic(&flip(&token, 2), &key, "IV");
        assert_generic(&with_part(&token, 3, ""), &key, "ciphertext removed");
        assert_generic(&with_part(&token, 2, "AAAA"), &key, "IV of 3 bytes");
        assert_generic(&with_part(&token, 4, "AAAA"), &key, "tag of 3 bytes");
        assert_generic(&with_part(&token, 4, "!!"), &key, "tag not base64url");
        assert_generic(&with_part(&token, 3, "a=="), &key, "ciphertext padded");
        assert_generic(
            &with_part(&token, 1, "AAAA"),
            &key,
            "non-empty encrypted key",
        );
        let cek = b64(&[0u8; 32]);
        assert_generic(&with_part(&token, 1, &cek), &key, "a 32-byte encrypted key");

        // A header that still passes every check but differs (the AAD) fails the tag.
        let mut header = header_of(&token);
        header.insert("kid".into(), "added".into());
        assert_generic(&with_header(&token, &header), &key, "header member added");
        let mut header = header_of(&token);
        header.insert("apu".into(), b64(b"Mallory").into());
        assert_generic(&with_header(&token, &header), &key, "apu added");
        // The same header encoded differently (a space) is a different AAD.
        let mut p = parts(&token);
        let spaced = String::from_utf8(b64_decode("t", &p[0]).unwrap())
            .unwrap()
            .replacen(',', ", ", 1);
        p[0] = b64(spaced.as_bytes());
        assert_generic(&p.join("."), &key, "header re-encoded");

        // Another ephemeral key in the header: another agreed key.
        let other = JweRecipientKey::generate().public_jwk();
        let mut header = header_of(&token);
        header.insert(
            "epk".into(),
            json!({"kty": "EC", "crv": "P-256", "x": other["x"], "y": other["y"]}),
        );
        assert_generic(&with_header(&token, &header), &key, "epk replaced");

        // The untouched token still decrypts.
        assert_eq!(*decrypt_compact(&token, &key).unwrap(), PLAINTEXT);
    }

    #[test]
    fn wrong_key_is_refused() {
        let key = JweRecipientKey::generate();
        let token = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        assert_generic(&token, &JweRecipientKey::generate(), "wrong key");
    }

    #[test]
    fn other_algorithms_are_refused() {
        let key = JweRecipientKey::generate();
        let token = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        for (member, value) in [
            ("alg", "ECDH-ES+A256KW"),
            ("alg", "ECDH-ES+A128KW"),
            ("alg", "dir"),
            ("alg", "RSA-OAEP-256"),
            ("alg", "ecdh-es"),
            ("alg", "none"),
            ("enc", "A128GCM"),
            ("enc", "A192GCM"),
            ("enc", "A256CBC-HS512"),
            ("enc", "a256gcm"),
        ] {
            let mut header = header_of(&token);
            header.insert(member.into(), value.into());
            let e = decrypt_compact(&with_header(&token, &header), &key).unwrap_err();
            assert!(
                matches!(&e, FormatError::Unsupported(m) if m.contains(value)),
                "{member} {value}: {e}"
            );
        }
        for member in ["alg", "enc", "epk"] {
            let mut header = header_of(&token);
            header.remove(member);
            let e = decrypt_compact(&with_header(&token, &header), &key).unwrap_err();
            assert!(e.to_string().contains(member), "{member} missing: {e}");
        }
        let mut header = header_of(&token);
        header.insert("alg".into(), json!(["ECDH-ES"]));
        assert!(decrypt_compact(&with_header(&token, &header), &key).is_err());
    }

    #[test]
    fn zip_crit_and_unknown_members_are_refused() {
        let key = JweRecipientKey::generate();
        let token = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        for (member, value, expect) in [
            ("zip", json!("DEF"), "zip"),
            ("crit", json!(["exp"]), "crit"),
            ("jku", json!("https://attacker.example/keys"), "jku"),
            ("jwk", json!({"kty": "EC"}), "jwk"),
            ("p2c", json!(1000), "p2c"),
            ("kid", json!(7), "kid"),
            ("apu", json!("QWxpY2U="), "base64url"),
        ] {
            let mut header = header_of(&token);
            header.insert(member.into(), value);
            let e = decrypt_compact(&with_header(&token, &header), &key).unwrap_err();
            assert!(!is_generic(&e), "{member}: {e}");
            assert!(e.to_string().contains(expect), "{member}: {e}");
        }
    }

    #[test]
    fn private_and_off_curve_epk_are_refused() {
        let key = JweRecipientKey::generate();
        let token = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        let epk = header_of(&token)["epk"].clone();

        // An epk with `d` (any value: it is the presence that is refused).
        let mut private = epk.clone();
        private["d"] = b64(&[7u8; 32]).into();
        let mut header = header_of(&token);
        header.insert("epk".into(), private);
        let e = decrypt_compact(&with_header(&token, &header), &key).unwrap_err();
        assert!(e.to_string().contains("private member `d`"), "{e}");

        // Off the curve: y + 1.
        let mut y = b64_decode("t", epk["y"].as_str().unwrap()).unwrap();
        let last = y.len() - 1;
        y[last] = y[last].wrapping_add(1);
        let mut off = epk.clone();
        off["y"] = b64(&y).into();
        let mut header = header_of(&token);
        header.insert("epk".into(), off);
        let e = decrypt_compact(&with_header(&token, &header), &key).unwrap_err();
        assert!(e.to_string().contains("not on the P-256 curve"), "{e}");

        // The point at infinity cannot be written as x, y; (0, 0) is not on the curve.
        let zero = b64(&[0u8; 32]);
        let mut header = header_of(&token);
        header.insert(
            "epk".into(),
            json!({"kty": "EC", "crv": "P-256", "x": zero, "y": zero}),
        );
        assert!(decrypt_compact(&with_header(&token, &header), &key).is_err());

        // Other curves, key types, short coordinates and extra members.
        for bad in [
            json!({"kty": "EC", "crv": "P-384", "x": epk["x"], "y": epk["y"]}),
            json!({"kty": "OKP", "crv": "X25519", "x": epk["x"]}),
            json!({"kty": "EC", "crv": "P-256", "x": epk["x"]}),
            json!({"kty": "EC", "crv": "P-256", "x": b64(&[1u8; 31]), "y": epk["y"]}),
            json!({"kty": "EC", "crv": "P-256", "x": epk["x"], "y": epk["y"], "kid": "k"}),
            json!("not an object"),
        ] {
            let mut header = header_of(&token);
            header.insert("epk".into(), bad.clone());
            let e = decrypt_compact(&with_header(&token, &header), &key).unwrap_err();
            assert!(!is_generic(&e), "{bad}: {e}");
        }
    }

    #[test]
    fn structure_and_size_are_checked_first() {
        let key = JweRecipientKey::generate();
        let token = encrypt_compact(PLAINTEXT, &key.public_jwk()).unwrap();
        let four = parts(&token)[..4].join(".");
        assert!(
            decrypt_compact(&four, &key)
                .unwrap_err()
                .to_string()
                .contains("five")
        );
        let six = format!("{token}.");
        assert!(
            decrypt_compact(&six, &key)
                .unwrap_err()
                .to_string()
                .contains("five")
        );
        assert!(decrypt_compact("", &key).is_err());
        let huge = format!("{token}{}", "A".repeat(MAX_JWE_BYTES));
        assert!(
            decrypt_compact(&huge, &key)
                .unwrap_err()
                .to_string()
                .contains("more than")
        );
        let not_json = with_part(&token, 0, &b64(b"[1,2]"));
        assert!(
            decrypt_compact(&not_json, &key)
                .unwrap_err()
                .to_string()
                .contains("object")
        );
        let padded = with_part(&token, 0, &format!("{}=", parts(&token)[0]));
        assert!(decrypt_compact(&padded, &key).is_err());
        // Too large to produce is refused at encryption too.
        assert!(encrypt_compact(&vec![0; MAX_JWE_BYTES], &key.public_jwk()).is_err());
    }

    #[test]
    fn recipient_jwk_is_checked() {
        let key = JweRecipientKey::generate();
        let jwk = key.public_jwk();
        let with = |name: &str, value: Value| {
            let mut j = jwk.clone();
            j[name] = value;
            j
        };
        assert!(encrypt_compact(PLAINTEXT, &with("alg", "ES256".into())).is_err());
        assert!(encrypt_compact(PLAINTEXT, &with("use", "sig".into())).is_err());
        assert!(encrypt_compact(PLAINTEXT, &with("kid", 1.into())).is_err());
        assert!(encrypt_compact(PLAINTEXT, &with("d", b64(&[1; 32]).into())).is_err());
        assert!(encrypt_compact(PLAINTEXT, &with("crv", "P-384".into())).is_err());
        assert!(encrypt_compact(PLAINTEXT, &with("x5c", json!([]))).is_err());
        // Without `use` and `alg` it is still an ECDH-ES recipient.
        let bare = json!({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]});
        let token = encrypt_compact(PLAINTEXT, &bare).unwrap();
        assert_eq!(*decrypt_compact(&token, &key).unwrap(), PLAINTEXT);
    }

    /// RFC 7518 Appendix C: Alice's ephemeral key, Bob's key, `apu` "Alice", `apv` "Bob",
    /// `enc` A128GCM give Z and the derived key `VqqN6vgjbSBcIijNcacQGg`.
    #[test]
    fn rfc7518_appendix_c_key_agreement() {
        let vector: Value =
            serde_json::from_str(include_str!("../../testdata/jwe/rfc7518-appendix-c.json"))
                .unwrap();
        let d = |jwk: &Value| {
            SecretKey::from_slice(&b64_decode("t", jwk["d"].as_str().unwrap()).unwrap()).unwrap()
        };
        let public = |jwk: &Value| {
            let mut public = jwk.as_object().unwrap().clone();
            public.remove("d");
            p256_public_from_jwk("test", &Value::Object(public), &[]).unwrap()
        };
        let alice = &vector["alice_ephemeral_key"];
        let bob = &vector["bob_key"];
        // Each published `d` belongs to its published `x`, `y`.
        assert_eq!(d(alice).public_key(), public(alice));
        assert_eq!(d(bob).public_key(), public(bob));

        let z: Vec<u8> = serde_json::from_value(vector["z"].clone()).unwrap();
        let z_alice =
            p256::ecdh::diffie_hellman(d(alice).to_nonzero_scalar(), public(bob).as_affine());
        let z_bob =
            p256::ecdh::diffie_hellman(d(bob).to_nonzero_scalar(), public(alice).as_affine());
        assert_eq!(&z_alice.raw_secret_bytes()[..], z);
        assert_eq!(&z_bob.raw_secret_bytes()[..], z);

        let expected = vector["derived_key"].as_str().unwrap();
        let expected_bytes: Vec<u8> =
            serde_json::from_value(vector["derived_key_bytes"].clone()).unwrap();
        assert_eq!(b64_decode("t", expected).unwrap(), expected_bytes);
        let derived = concat_kdf(&z, "A128GCM", b"Alice", b"Bob", 16);
        assert_eq!(b64(&derived), expected);

        // The header of the example goes through the same parser as a token's header:
        // epk is Alice's public key, apu/apv decode to "Alice"/"Bob"; only its `enc`
        // (A128GCM) is refused by this implementation.
        let header = &vector["header"];
        let e = parse_header(header).unwrap_err();
        assert!(e.to_string().contains("A128GCM"), "{e}");
        let mut ours = header.clone();
        ours["enc"] = ENC.into();
        let parsed = parse_header(&ours).unwrap();
        assert_eq!(parsed.epk, public(alice));
        assert_eq!(
            (&parsed.apu[..], &parsed.apv[..]),
            (&b"Alice"[..], &b"Bob"[..])
        );
        let cek = agree(
            &d(bob).to_nonzero_scalar(),
            &parsed.epk,
            "A128GCM",
            &parsed.apu,
            &parsed.apv,
            16,
        );
        assert_eq!(b64(&cek), expected);
    }

    #[test]
    fn concat_kdf_layout_and_lengths() {
        // One round: SHA-256(00000001 || Z || OtherInfo), OtherInfo written out by hand.
        let z = [0x11u8; 32];
        let mut input = vec![0, 0, 0, 1];
        input.extend_from_slice(&z);
        input.extend_from_slice(&[0, 0, 0, 7]);
        input.extend_from_slice(b"A256GCM");
        input.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        input.extend_from_slice(&[0, 0, 1, 0]);
        assert_eq!(
            &concat_kdf(&z, "A256GCM", b"", b"", 32)[..],
            &Sha256::digest(&input)[..]
        );
        // Two rounds for more than 32 bytes, counters 1 and 2, SuppPubInfo 384 bits.
        let long = concat_kdf(&z, "X", b"", b"", 48);
        assert_eq!(long.len(), 48);
        let round = |counter: u8| {
            let mut input = vec![0, 0, 0, counter];
            input.extend_from_slice(&z);
            input.extend_from_slice(&[0, 0, 0, 1, b'X', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 128]);
            Sha256::digest(&input)
        };
        assert_eq!(&long[..32], &round(1)[..]);
        assert_eq!(&long[32..], &round(2)[..16]);
    }
}
