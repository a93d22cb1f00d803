//! The relying party's checks of a passkey (W3C Web Authentication Level 2: §7.1 registering a
//! new credential, §7.2 verifying an authentication assertion; issue 18 point 4, criteria
//! 2.2.1(2)).
//!
//! Parsing and verification only, no state: the challenge (single use, `auth::passkeys`), the
//! stored credential and its sign counter are the caller's. User verification is required, so
//! a passkey is two factors (something held, and a biometric or device PIN). Credential keys
//! are ES256 (P-256) or EdDSA (Ed25519), read by the COSE_Key reader the mdoc formats use and
//! verified with `inkan-device`'s `PublicKey`. What an attestation statement must prove is the
//! deployment's [`AttestationPolicy`]: by default its `fmt` is recorded and a passkey is accepted
//! on the authority of the signed-in person who adds it with a fresh one-time password; with
//! `verified`, only a `packed` statement (§8.2) whose certificate chain leads to a configured
//! maker's root, and optionally one of the listed authenticator models. Must never: accept client data of another type, origin or
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

/// What a registration's attestation must prove (`[auth] passkey_attestation`).
#[derive(Debug, Default)]
pub enum AttestationPolicy {
    /// Nothing: the format and the authenticator model are recorded.
    #[default]
    Record,
    /// A `packed` statement with a certificate chain (`x5c`) to one of `roots`, whose signature
    /// over the authenticator data and the client data's hash verifies under its leaf; the
    /// leaf's AAGUID extension, when present, names the authenticator data's model; and, if
    /// `aaguids` is not empty, the model is one of them.
    Verified {
        /// The authenticator makers' attestation roots.
        roots: inkan_formats::trust::TrustAnchors,
        /// The models accepted (hex); empty: any the roots vouch for.
        aaguids: Vec<String>,
    },
}

/// The X.509 extension that names an authenticator's model (FIDO `id-fido-gen-ce-aaguid`).
const AAGUID_EXTENSION: &str = "1.3.6.1.4.1.45724.1.1.4";

/// Checks a `packed` attestation statement with a certificate chain (§8.2 verification
/// procedure, x5c case; §8.2.1 certificate requirements: version 3, subject OU
/// "Authenticator Attestation", the AAGUID extension naming the model (required when models
/// are listed), not a CA) under `roots` at `now` (Unix seconds).
fn check_packed(
    statement: &[(Value, Value)],
    auth_data: &[u8],
    client_hash: &[u8; 32],
    aaguid: &[u8],
    (roots, models_listed): (&inkan_formats::trust::TrustAnchors, bool),
    now: i64,
) -> Result<(), WebAuthnError> {
    use der::{Decode as _, Encode as _};
    let certs = map_get(statement, "x5c")
        .and_then(Value::as_array)
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| {
            refuse(
                "the attestation is self attestation: it does not say who made the authenticator",
            )
        })?;
    let chain = certs
        .iter()
        .map(|c| c.as_bytes().cloned())
        .collect::<Option<Vec<Vec<u8>>>>()
        .ok_or_else(|| refuse("an x5c item is not a certificate's bytes"))?;
    let alg = match map_get(statement, "alg")
        .and_then(Value::as_integer)
        .map(i128::from)
    {
        Some(-7) => Algorithm::Es256,
        Some(-35) => Algorithm::Es384,
        Some(-8) => Algorithm::EdDsa,
        _ => return Err(refuse("the attestation's alg is not ES256, ES384 or EdDSA")),
    };
    let signature = map_get(statement, "sig")
        .and_then(Value::as_bytes)
        .ok_or_else(|| refuse("the attestation has no sig"))?;
    let leaf = x509_cert::Certificate::from_der(&chain[0])
        .map_err(|_| refuse("the attestation certificate is not DER"))?;
    let spki = leaf
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| refuse("the attestation certificate's key cannot be read"))?;
    PublicKey::from_spki_der(&spki)
        .and_then(|key| key.verify_asn1(alg, &[auth_data, &client_hash[..]].concat(), signature))
        .map_err(|_| refuse("the attestation signature does not verify under its certificate"))?;
    if leaf.tbs_certificate.version != x509_cert::Version::V3 {
        return Err(refuse("the attestation certificate is not X.509 version 3"));
    }
    let attestation_ou = leaf.tbs_certificate.subject.0.iter().any(|rdn| {
        rdn.0.iter().any(|atv| {
            let text = atv
                .value
                .decode_as::<der::asn1::Utf8StringRef<'_>>()
                .map(|v| v.as_str().to_owned())
                .or_else(|_| {
                    atv.value
                        .decode_as::<der::asn1::PrintableStringRef<'_>>()
                        .map(|v| v.as_str().to_owned())
                });
            atv.oid.to_string() == "2.5.4.11"
                && text.is_ok_and(|v| v == "Authenticator Attestation")
        })
    });
    if !attestation_ou {
        return Err(refuse(
            "the attestation certificate's subject has no OU \"Authenticator Attestation\"",
        ));
    }
    let extensions = leaf
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default();
    let named = extensions
        .iter()
        .find(|e| e.extn_id.to_string() == AAGUID_EXTENSION);
    if named.is_none() && models_listed {
        return Err(refuse(
            "the attestation certificate names no authenticator model, and only listed models \
             are accepted",
        ));
    }
    if let Some(named) = named {
        let inner = der::asn1::OctetString::from_der(named.extn_value.as_bytes())
            .map_err(|_| refuse("the certificate's AAGUID extension is malformed"))?;
        if named.critical || inner.as_bytes() != aaguid {
            return Err(refuse(
                "the attestation certificate names another authenticator model",
            ));
        }
    }
    match leaf
        .tbs_certificate
        .get::<x509_cert::ext::pkix::BasicConstraints>()
    {
        Ok(None) => {}
        Ok(Some((_, bc))) if !bc.ca => {}
        Ok(Some(_)) => return Err(refuse("the attestation certificate is a CA")),
        Err(_) => {
            return Err(refuse(
                "the attestation certificate's basic constraints are malformed",
            ));
        }
    }
    match inkan_formats::trust::check_chain(
        &chain,
        roots,
        now,
        inkan_formats::trust::Profile::Generic,
    ) {
        Ok(inkan_formats::trust::IssuerTrust::Authenticated { .. }) => Ok(()),
        Ok(_) => Err(refuse(
            "the attestation certificate leads to none of the configured makers' roots",
        )),
        Err(e) => Err(refuse(format!("the attestation chain: {e}"))),
    }
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
/// Its attestation statement is held to `policy`, certificates checked at `now` (Unix seconds).
pub fn verify_registration(
    expected: &Expectation<'_>,
    client_data_json: &[u8],
    attestation_object: &[u8],
    policy: &AttestationPolicy,
    now: i64,
) -> Result<NewPasskey, WebAuthnError> {
    let client_hash = check_client_data(expected, "webauthn.create", client_data_json)?;
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
    if let AttestationPolicy::Verified { roots, aaguids } = policy {
        if format != "packed" {
            return Err(refuse(format!(
                "attestation {format} is not accepted here: only packed, from a configured maker"
            )));
        }
        let statement = map_get(map, "attStmt")
            .and_then(Value::as_map)
            .ok_or_else(|| refuse("attestationObject has no attStmt"))?;
        check_packed(
            statement,
            data,
            &client_hash,
            &data[37..53],
            (roots, !aaguids.is_empty()),
            now,
        )?;
        if !aaguids.is_empty() && !aaguids.contains(&aaguid) {
            return Err(refuse("this authenticator model is not one accepted here"));
        }
    }
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
        let passkey =
            verify_registration(&expected, &created, &object, &AttestationPolicy::Record, 0)
                .unwrap();
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
        assert!(
            verify_registration(
                &expected,
                &created,
                &attestation(mismatched),
                &AttestationPolicy::Record,
                0
            )
            .is_err()
        );
        let mut trailing = authenticator.data("localhost", UP | UV, 0, true);
        trailing.push(0);
        assert!(
            verify_registration(
                &expected,
                &created,
                &attestation(trailing),
                &AttestationPolicy::Record,
                0
            )
            .unwrap_err()
            .0
            .contains("after")
        );
        // Registration without an attested credential.
        let bare = attestation(authenticator.data("localhost", UP | UV, 0, false));
        assert!(
            verify_registration(&expected, &created, &bare, &AttestationPolicy::Record, 0)
                .unwrap_err()
                .0
                .contains("attested")
        );
    }

    static MAKERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    /// An authenticator maker: a root, and an attestation certificate it issued naming model
    /// `aaguid` (or no model), with its key.
    fn maker(
        aaguid: Option<[u8; 16]>,
    ) -> (inkan_formats::trust::TrustAnchors, Vec<u8>, EcdsaKeyPair) {
        maker_with(aaguid, "Authenticator Attestation")
    }

    /// [`maker`], the certificate's subject OU `ou`.
    fn maker_with(
        aaguid: Option<[u8; 16]>,
        ou: &str,
    ) -> (inkan_formats::trust::TrustAnchors, Vec<u8>, EcdsaKeyPair) {
        let root_key = rcgen::KeyPair::generate().unwrap();
        let mut root = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        root.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        root.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!(
                "Maker Root {}",
                MAKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
        );
        let root_pem = root.self_signed(&root_key).unwrap().pem();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf.distinguished_name
            .push(rcgen::DnType::OrganizationalUnitName, ou);
        if let Some(model) = aaguid {
            let mut content = vec![0x04, 0x10];
            content.extend(model);
            leaf.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 45724, 1, 1, 4],
                content,
            )];
        }
        let leaf_der = leaf
            .signed_by(&leaf_key, &rcgen::Issuer::from_params(&root, &root_key))
            .unwrap()
            .der()
            .to_vec();
        let mut roots = inkan_formats::trust::TrustAnchors::new();
        roots.add(root_pem.as_bytes()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_ASN1_SIGNING,
            &leaf_key.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap();
        (roots, leaf_der, pair)
    }

    /// A `packed` attestation object over `data` and `client`, signed by `key` with `x5c`.
    fn packed(data: &[u8], client: &[u8], key: &EcdsaKeyPair, x5c: Option<&[u8]>) -> Vec<u8> {
        let signed = [data, &Sha256::digest(client)[..]].concat();
        let sig = key.sign(&SystemRandom::new(), &signed).unwrap();
        let mut statement = vec![
            (Value::Text("alg".into()), Value::Integer((-7).into())),
            (
                Value::Text("sig".into()),
                Value::Bytes(sig.as_ref().to_vec()),
            ),
        ];
        if let Some(cert) = x5c {
            statement.push((
                Value::Text("x5c".into()),
                Value::Array(vec![Value::Bytes(cert.to_vec())]),
            ));
        }
        let object = Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("packed".into())),
            (Value::Text("attStmt".into()), Value::Map(statement)),
            (Value::Text("authData".into()), Value::Bytes(data.to_vec())),
        ]);
        let mut out = Vec::new();
        ciborium::into_writer(&object, &mut out).unwrap();
        out
    }

    /// With `verified`, only a packed statement from a configured maker's chain, signed over
    /// this registration, for a listed model, is accepted (§8.2).
    #[test]
    fn a_verified_policy_takes_only_packed_attestations_of_configured_makers() {
        let authenticator = Authenticator::new();
        let expected = Expectation {
            rp_id: "localhost",
            origin: ORIGIN,
            challenge: b"challenge-2",
        };
        let created = client("webauthn.create", expected.challenge, ORIGIN);
        let data = authenticator.data("localhost", UP | UV, 0, true);
        let now = 1_795_651_200;
        let (roots, leaf, key) = maker(Some([7u8; 16]));
        let policy = |roots, aaguids: &[&str]| AttestationPolicy::Verified {
            roots,
            aaguids: aaguids.iter().map(|a| (*a).to_owned()).collect(),
        };
        let check = |object: &[u8], policy: &AttestationPolicy| {
            verify_registration(&expected, &created, object, policy, now).map_err(|e| e.0)
        };
        let good = packed(&data, &created, &key, Some(&leaf));
        let passkey = check(&good, &policy(roots, &[])).unwrap();
        assert_eq!(passkey.attestation_format, "packed");
        let (roots, _, _) = maker(None);
        let (other_roots, _, _) = maker(None);
        // Another maker's root.
        let refused = check(&good, &policy(other_roots, &[])).unwrap_err();
        assert!(refused.contains("none of"), "{refused}");
        // The same chain, from a root that is configured: a model not listed.
        let (roots_b, leaf_b, key_b) = maker(Some([7u8; 16]));
        let good_b = packed(&data, &created, &key_b, Some(&leaf_b));
        assert!(
            check(&good_b, &policy(roots_b, &["08".repeat(16).as_str()]))
                .unwrap_err()
                .contains("model")
        );
        let (roots_c, leaf_c, key_c) = maker(Some([7u8; 16]));
        let good_c = packed(&data, &created, &key_c, Some(&leaf_c));
        check(&good_c, &policy(roots_c, &["07".repeat(16).as_str()])).unwrap();
        // A certificate naming another model.
        let (roots_d, leaf_d, key_d) = maker(Some([8u8; 16]));
        let other_model = packed(&data, &created, &key_d, Some(&leaf_d));
        assert!(
            check(&other_model, &policy(roots_d, &[]))
                .unwrap_err()
                .contains("another authenticator model")
        );
        // Self attestation, a signature over other client data, and the `none` format.
        let (roots_e, leaf_e, key_e) = maker(None);
        let own = packed(&data, &created, &authenticator.pair, None);
        assert!(
            check(&own, &policy(roots, &[]))
                .unwrap_err()
                .contains("self attestation")
        );
        let other_client = client("webauthn.create", b"another", ORIGIN);
        let resigned = packed(&data, &other_client, &key_e, Some(&leaf_e));
        assert!(
            check(&resigned, &policy(roots_e, &[]))
                .unwrap_err()
                .contains("does not verify")
        );
        let (roots_f, _, _) = maker(None);
        assert!(
            check(&attestation(data.clone()), &policy(roots_f, &[]))
                .unwrap_err()
                .contains("only packed")
        );
        // Not an attestation certificate (its OU), and no model named while models are listed.
        let (roots_g, leaf_g, key_g) = maker_with(Some([7u8; 16]), "Web Servers");
        let not_attestation = packed(&data, &created, &key_g, Some(&leaf_g));
        assert!(
            check(&not_attestation, &policy(roots_g, &[]))
                .unwrap_err()
                .contains("Authenticator Attestation")
        );
        let (roots_h, leaf_h, key_h) = maker(None);
        let unnamed = packed(&data, &created, &key_h, Some(&leaf_h));
        assert!(
            check(&unnamed, &policy(roots_h, &["07".repeat(16).as_str()]))
                .unwrap_err()
                .contains("names no authenticator model")
        );
        // The default policy records the format and checks nothing more.
        check(&own, &AttestationPolicy::Record).unwrap();
    }
}
