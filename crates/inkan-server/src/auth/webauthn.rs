//! The relying party's checks of a passkey (W3C Web Authentication Level 2: §7.1 registering a
//! new credential, §7.2 verifying an authentication assertion; issue 18 point 4, criteria
//! 2.2.1(2)).
//!
//! Parsing and verification only, no state: the challenge (single use, `auth::passkeys`), the
//! stored credential and its sign counter are the caller's. User verification is required, so
//! a passkey is two factors (something held, and a biometric or device PIN). Credential keys
//! are ES256 (P-256) or EdDSA (Ed25519), read by the COSE_Key reader the mdoc formats use and
//! verified with `inkan-device`'s `PublicKey`. Attestation statements are not verified: the
//! `fmt` is recorded; a passkey is accepted on the authority of the signed-in person who adds
//! it with a fresh one-time password. Must never: accept client data of another type, origin or
//! challenge, an authenticator result for another relying party, or one without user presence
//! and user verification.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value;
use inkan_device::{Algorithm, PublicKey};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Largest client data, authenticator data or attestation object accepted, bytes.
pub const MAX_BYTES: usize = 16 * 1024;

/// COSE algorithm identifiers accepted (RFC 9053): ES256, EdDSA.
pub const ALGORITHMS: [i64; 2] = [-7, -8];

/// Authenticator data flags (§6.1).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;
const ED: u8 = 0x80;

/// Why a registration or an assertion was refused (the message names the check, never a
/// secret).
#[derive(Debug, thiserror::Error)]
#[error("passkey: {0}")]
pub struct WebAuthnError(pub String);

fn refuse(message: impl Into<String>) -> WebAuthnError {
    WebAuthnError(message.into())
}

/// What the relying party expects of a ceremony.
#[derive(Debug, Clone, Copy)]
pub struct Expectation<'a> {
    /// The relying party id (the host of Inkan's public URL).
    pub rp_id: &'a str,
    /// The origin the pages are served from.
    pub origin: &'a str,
    /// The challenge this ceremony was given.
    pub challenge: &'a [u8],
}

/// A credential the person's authenticator made, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPasskey {
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// Its public key, the COSE_Key bytes as the authenticator gave them.
    pub public_key: Vec<u8>,
    /// Its COSE algorithm.
    pub algorithm: i64,
    /// The authenticator's signature counter.
    pub sign_count: u32,
    /// Whether the credential may be backed up (synced), and whether it is.
    pub backup: (bool, bool),
    /// The authenticator's model (AAGUID), hex.
    pub aaguid: String,
    /// The attestation statement format (recorded, not verified).
    pub attestation_format: String,
}

/// A verified assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assertion {
    /// The authenticator's signature counter now.
    pub sign_count: u32,
    /// Whether the credential may be backed up, and whether it is.
    pub backup: (bool, bool),
}

/// Checks `clientDataJSON` (§7.1 steps 5-10, §7.2 steps 10-14) and returns its SHA-256.
fn check_client_data(
    expected: &Expectation<'_>,
    ceremony: &str,
    client_data_json: &[u8],
) -> Result<[u8; 32], WebAuthnError> {
    if client_data_json.len() > MAX_BYTES {
        return Err(refuse("clientDataJSON is too large"));
    }
    let data: serde_json::Value = serde_json::from_slice(client_data_json)
        .map_err(|_| refuse("clientDataJSON is not JSON"))?;
    if data.get("type").and_then(|v| v.as_str()) != Some(ceremony) {
        return Err(refuse(format!("clientDataJSON type must be {ceremony}")));
    }
    let challenge = data
        .get("challenge")
        .and_then(|v| v.as_str())
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .ok_or_else(|| refuse("clientDataJSON has no challenge"))?;
    if !bool::from(challenge.ct_eq(expected.challenge)) {
        return Err(refuse("the challenge is not this ceremony's"));
    }
    if data.get("origin").and_then(|v| v.as_str()) != Some(expected.origin) {
        return Err(refuse("the origin is not Inkan's"));
    }
    if data.get("crossOrigin").and_then(serde_json::Value::as_bool) == Some(true) {
        return Err(refuse("a ceremony inside another site's frame is refused"));
    }
    Ok(Sha256::digest(client_data_json).into())
}

/// The fixed part of authenticator data (§6.1): checks the relying party, user presence and
/// verification; returns the flags and the counter.
fn check_authenticator_data(
    expected: &Expectation<'_>,
    data: &[u8],
) -> Result<(u8, u32), WebAuthnError> {
    if data.len() < 37 || data.len() > MAX_BYTES {
        return Err(refuse("authenticatorData has the wrong length"));
    }
    let rp_id_hash = Sha256::digest(expected.rp_id.as_bytes());
    if !bool::from(data[..32].ct_eq(&rp_id_hash[..])) {
        return Err(refuse(
            "the authenticator answered for another relying party",
        ));
    }
    let flags = data[32];
    if flags & UP == 0 {
        return Err(refuse("the user was not present"));
    }
    if flags & UV == 0 {
        return Err(refuse(
            "the user was not verified (a passkey needs its PIN or biometric)",
        ));
    }
    if flags & BS != 0 && flags & BE == 0 {
        return Err(refuse("backed up but not backup-eligible"));
    }
    let count = u32::from_be_bytes([data[33], data[34], data[35], data[36]]);
    Ok((flags, count))
}

fn map_get<'v>(map: &'v [(Value, Value)], name: &str) -> Option<&'v Value> {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(name))
        .map(|(_, v)| v)
}

/// The COSE algorithm of a COSE_Key (label 3), if it is one of [`ALGORITHMS`].
fn algorithm_of(key: &Value) -> Result<i64, WebAuthnError> {
    let alg = key
        .as_map()
        .and_then(|m| {
            m.iter()
                .find(|(k, _)| k.as_integer().is_some_and(|i| i128::from(i) == 3))
        })
        .and_then(|(_, v)| v.as_integer())
        .and_then(|i| i64::try_from(i128::from(i)).ok())
        .ok_or_else(|| refuse("the credential key names no algorithm"))?;
    if !ALGORITHMS.contains(&alg) {
        return Err(refuse(format!(
            "COSE algorithm {alg}: ES256 (-7) or EdDSA (-8)"
        )));
    }
    Ok(alg)
}

/// The key of a stored COSE_Key.
fn credential_key(cose_key: &[u8]) -> Result<(PublicKey, Algorithm), WebAuthnError> {
    let value: Value =
        ciborium::from_reader(cose_key).map_err(|_| refuse("the credential key is not CBOR"))?;
    let alg = match algorithm_of(&value)? {
        -8 => Algorithm::EdDsa,
        _ => Algorithm::Es256,
    };
    let key = inkan_formats::mdoc::issuer::public_key_from_cose(&value)
        .map_err(|e| refuse(e.to_string()))?;
    Ok((key, alg))
}

/// Registration (§7.1): the client data of a `webauthn.create`, and the attestation object's
/// authenticator data with its attested credential.
pub fn verify_registration(
    expected: &Expectation<'_>,
    client_data_json: &[u8],
    attestation_object: &[u8],
) -> Result<NewPasskey, WebAuthnError> {
    check_client_data(expected, "webauthn.create", client_data_json)?;
    if attestation_object.len() > MAX_BYTES {
        return Err(refuse("attestationObject is too large"));
    }
    let object: Value = ciborium::from_reader(attestation_object)
        .map_err(|_| refuse("attestationObject is not CBOR"))?;
    let map = object
        .as_map()
        .ok_or_else(|| refuse("attestationObject is not a map"))?;
    let format = map_get(map, "fmt")
        .and_then(Value::as_text)
        .filter(|f| {
            !f.is_empty()
                && f.len() <= 32
                && f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .ok_or_else(|| refuse("attestationObject has no fmt, or not a format name"))?;
    let data = map_get(map, "authData")
        .and_then(Value::as_bytes)
        .ok_or_else(|| refuse("attestationObject has no authData"))?;
    let (flags, sign_count) = check_authenticator_data(expected, data)?;
    if flags & AT == 0 || data.len() < 55 {
        return Err(refuse("authData carries no attested credential"));
    }
    let aaguid = hex::encode(&data[37..53]);
    let id_len = usize::from(u16::from_be_bytes([data[53], data[54]]));
    if id_len == 0 || id_len > 1023 || data.len() < 55 + id_len {
        return Err(refuse("the credential id has the wrong length"));
    }
    let credential_id = data[55..55 + id_len].to_vec();
    let rest = &data[55 + id_len..];
    let mut cursor = std::io::Cursor::new(rest);
    let key: Value =
        ciborium::from_reader(&mut cursor).map_err(|_| refuse("the credential key is not CBOR"))?;
    let key_len = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
    let public_key = rest
        .get(..key_len)
        .ok_or_else(|| refuse("the credential key is cut short"))?
        .to_vec();
    if flags & ED == 0 && rest.len() != key_len {
        return Err(refuse("authData has bytes after the credential key"));
    }
    let algorithm = algorithm_of(&key)?;
    // The key must be one we can verify with, of its algorithm, now rather than at the first
    // sign-in (where a mismatch would count as a failed attempt).
    let (checked, alg) = credential_key(&public_key)?;
    alg.check_fits(checked.spec())
        .map_err(|_| refuse("the credential key does not fit its algorithm"))?;
    if algorithm == -7
        && !matches!(
            key.as_map().and_then(|m| m
                .iter()
                .find(|(k, _)| k.as_integer().is_some_and(|i| i128::from(i) == -3))),
            Some((_, Value::Bytes(_)))
        )
    {
        return Err(refuse("an EC2 credential key carries y in full"));
    }
    Ok(NewPasskey {
        credential_id,
        public_key,
        algorithm,
        sign_count,
        backup: (flags & BE != 0, flags & BS != 0),
        aaguid,
        attestation_format: format.to_owned(),
    })
}

/// Authentication (§7.2): the client data of a `webauthn.get`, the authenticator data, and
/// the signature over both by the stored credential's key.
pub fn verify_assertion(
    expected: &Expectation<'_>,
    stored_key: &[u8],
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
) -> Result<Assertion, WebAuthnError> {
    let client_hash = check_client_data(expected, "webauthn.get", client_data_json)?;
    let (flags, sign_count) = check_authenticator_data(expected, authenticator_data)?;
    if signature.is_empty() || signature.len() > 1024 {
        return Err(refuse("the signature has the wrong length"));
    }
    let (key, alg) = credential_key(stored_key)?;
    let signed = [authenticator_data, client_hash.as_slice()].concat();
    key.verify_asn1(alg, &signed, signature)
        .map_err(|_| refuse("the signature does not verify"))?;
    Ok(Assertion {
        sign_count,
        backup: (flags & BE != 0, flags & BS != 0),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

    const ORIGIN: &str = "https://localhost:8443";

    /// An authenticator in software: a P-256 key, the authenticator data it writes.
    struct Authenticator {
        pair: EcdsaKeyPair,
        rng: SystemRandom,
    }

    impl Authenticator {
        fn new() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .unwrap();
            Authenticator { pair, rng }
        }

        fn cose_key(&self) -> Vec<u8> {
            let point = self.pair.public_key().as_ref();
            let int = |i: i64| Value::Integer(i.into());
            let key = Value::Map(vec![
                (int(1), int(2)),
                (int(3), int(-7)),
                (int(-1), int(1)),
                (int(-2), Value::Bytes(point[1..33].to_vec())),
                (int(-3), Value::Bytes(point[33..].to_vec())),
            ]);
            let mut out = Vec::new();
            ciborium::into_writer(&key, &mut out).unwrap();
            out
        }

        fn data(&self, rp_id: &str, flags: u8, count: u32, attested: bool) -> Vec<u8> {
            let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
            data.push(flags | if attested { AT } else { 0 });
            data.extend(count.to_be_bytes());
            if attested {
                data.extend([7u8; 16]);
                data.extend(4u16.to_be_bytes());
                data.extend(b"cred");
                data.extend(self.cose_key());
            }
            data
        }

        fn sign(&self, data: &[u8], client: &[u8]) -> Vec<u8> {
            let signed = [data, &Sha256::digest(client)[..]].concat();
            self.pair
                .sign(&self.rng, &signed)
                .unwrap()
                .as_ref()
                .to_vec()
        }
    }

    fn client(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
        serde_json::json!({"type": kind, "challenge": URL_SAFE_NO_PAD.encode(challenge),
                           "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
    }

    fn attestation(data: Vec<u8>) -> Vec<u8> {
        let object = Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Text("attStmt".into()), Value::Map(vec![])),
            (Value::Text("authData".into()), Value::Bytes(data)),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&object, &mut out).unwrap();
        out
    }

    /// A registration and an assertion made as §7.1 and §7.2 describe pass, and each check
    /// refuses what it is for.
    #[test]
    fn registration_and_assertion_are_checked_step_by_step() {
        let authenticator = Authenticator::new();
        let expected = Expectation {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: b"challenge-1",
        };
        let created = client("webauthn.create", expected.challenge, ORIGIN);
        let object = attestation(authenticator.data("localhost", UP | UV | BE, 0, true));
        let passkey = verify_registration(&expected, &created, &object).unwrap();
        assert_eq!(passkey.credential_id, b"cred");
        assert_eq!((passkey.algorithm, passkey.backup), (-7, (true, false)));
        assert_eq!(passkey.attestation_format, "none");

        let got = client("webauthn.get", expected.challenge, ORIGIN);
        let data = authenticator.data("localhost", UP | UV, 5, false);
        let signature = authenticator.sign(&data, &got);
        let assertion =
            verify_assertion(&expected, &passkey.public_key, &got, &data, &signature).unwrap();
        assert_eq!(assertion.sign_count, 5);

        let refused = |result: Result<Assertion, WebAuthnError>| result.unwrap_err().0;
        // Another challenge, origin or ceremony type.
        let other = client("webauthn.get", b"challenge-2", ORIGIN);
        let sig = authenticator.sign(&data, &other);
        assert!(
            refused(verify_assertion(
                &expected,
                &passkey.public_key,
                &other,
                &data,
                &sig
            ))
            .contains("challenge")
        );
        let evil = client("webauthn.get", expected.challenge, "https://evil.example");
        let sig = authenticator.sign(&data, &evil);
        assert!(
            refused(verify_assertion(
                &expected,
                &passkey.public_key,
                &evil,
                &data,
                &sig
            ))
            .contains("origin")
        );
        assert!(
            refused(verify_assertion(
                &expected,
                &passkey.public_key,
                &created,
                &data,
                &signature
            ))
            .contains("type")
        );
        // Another relying party, no user verification, no presence.
        for (rp, flags, named) in [
            ("evil.example", UP | UV, "relying party"),
            ("localhost", UP, "verified"),
            ("localhost", UV, "present"),
        ] {
            let data = authenticator.data(rp, flags, 6, false);
            let sig = authenticator.sign(&data, &got);
            assert!(
                refused(verify_assertion(
                    &expected,
                    &passkey.public_key,
                    &got,
                    &data,
                    &sig
                ))
                .contains(named),
                "{named}"
            );
        }
        // A changed byte of what was signed.
        let mut tampered = data.clone();
        tampered[36] ^= 1;
        assert!(
            refused(verify_assertion(
                &expected,
                &passkey.public_key,
                &got,
                &tampered,
                &signature
            ))
            .contains("does not verify")
        );
        // Another key.
        let stranger = Authenticator::new();
        assert!(
            refused(verify_assertion(
                &expected,
                &stranger.cose_key(),
                &got,
                &data,
                &signature
            ))
            .contains("does not verify")
        );
        // Inside another site's frame; backed up without being backup-eligible.
        let framed = serde_json::json!({"type": "webauthn.get",
            "challenge": URL_SAFE_NO_PAD.encode(expected.challenge), "origin": ORIGIN,
            "crossOrigin": true})
        .to_string()
        .into_bytes();
        let sig = authenticator.sign(&data, &framed);
        assert!(
            refused(verify_assertion(
                &expected,
                &passkey.public_key,
                &framed,
                &data,
                &sig
            ))
            .contains("frame")
        );
        let odd = authenticator.data("localhost", UP | UV | BS, 7, false);
        let sig = authenticator.sign(&odd, &got);
        assert!(
            refused(verify_assertion(
                &expected,
                &passkey.public_key,
                &got,
                &odd,
                &sig
            ))
            .contains("backup")
        );
        // A key that does not fit its algorithm (EdDSA named for a P-256 key), and bytes after
        // the key without extensions, are refused at registration.
        let mut mismatched = authenticator.data("localhost", UP | UV, 0, true);
        let at = mismatched.len() - authenticator.cose_key().len();
        let key_bytes = authenticator.cose_key();
        let mut key: Value = ciborium::from_reader(key_bytes.as_slice()).unwrap();
        if let Value::Map(members) = &mut key {
            for (k, v) in members.iter_mut() {
                if k.as_integer().is_some_and(|i| i128::from(i) == 3) {
                    *v = Value::Integer((-8).into());
                }
            }
        }
        mismatched.truncate(at);
        ciborium::into_writer(&key, &mut mismatched).unwrap();
        assert!(verify_registration(&expected, &created, &attestation(mismatched)).is_err());
        let mut trailing = authenticator.data("localhost", UP | UV, 0, true);
        trailing.push(0);
        assert!(
            verify_registration(&expected, &created, &attestation(trailing))
                .unwrap_err()
                .0
                .contains("after")
        );
        // Registration without an attested credential.
        let bare = attestation(authenticator.data("localhost", UP | UV, 0, false));
        assert!(
            verify_registration(&expected, &created, &bare)
                .unwrap_err()
                .0
                .contains("attested")
        );
    }
}
