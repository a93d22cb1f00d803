//! Public keys and their encodings: SPKI (DER/PEM), JWK, JWK thumbprint, `did:key`, `did:jwk`;
//! and signature verification, used for the pair-consistency checks of import and
//! certificate attach and by tests. Never holds private keys.

use crate::{Algorithm, DeviceError, KeySpec};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use pkcs8::der::Decode as _;
use sha2::Digest as _;
use signature::Verifier as _;
use spki::{DecodePublicKey as _, EncodePublicKey as _};
use std::collections::BTreeMap;

const OID_EC_PUBLIC_KEY: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(crate) const OID_ED25519: spki::ObjectIdentifier =
    spki::ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Largest SPKI or PEM input accepted (an RSA-4096 SPKI PEM is about 800 bytes).
pub const MAX_PUBLIC_KEY_INPUT: usize = 16 * 1024;

/// The public half of a device key.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// A P-256 point.
    P256(p256::PublicKey),
    /// A P-384 point.
    P384(p384::PublicKey),
    /// An Ed25519 key.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// An RSA key.
    Rsa(rsa::RsaPublicKey),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, {})", self.spec(), self.jwk_thumbprint())
    }
}

impl PublicKey {
    /// Parses a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, DeviceError> {
        if der.len() > MAX_PUBLIC_KEY_INPUT {
            return Err(DeviceError::InvalidInput("public key is too large".into()));
        }
        let bad = |e: &dyn std::fmt::Display| DeviceError::InvalidInput(format!("public key: {e}"));
        let info = spki::SubjectPublicKeyInfoRef::from_der(der).map_err(|e| bad(&e))?;
        let oid = info.algorithm.oid;
        let key = if oid == OID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|e| bad(&e))?;
            if curve == OID_P256 {
                PublicKey::P256(p256::PublicKey::from_public_key_der(der).map_err(|e| bad(&e))?)
            } else if curve == OID_P384 {
                PublicKey::P384(p384::PublicKey::from_public_key_der(der).map_err(|e| bad(&e))?)
            } else {
                return Err(DeviceError::InvalidInput(format!(
                    "unsupported elliptic curve {curve}"
                )));
            }
        } else if oid == OID_ED25519 {
            PublicKey::Ed25519(
                ed25519_dalek::VerifyingKey::from_public_key_der(der).map_err(|e| bad(&e))?,
            )
        } else if oid == OID_RSA {
            let key = rsa::RsaPublicKey::from_public_key_der(der).map_err(|e| bad(&e))?;
            let public = PublicKey::Rsa(key);
            KeySpec::rsa(public.rsa_bits().unwrap_or_default())?;
            public
        } else {
            return Err(DeviceError::InvalidInput(format!(
                "unsupported public key algorithm {oid}"
            )));
        };
        Ok(key)
    }

    /// Parses a PEM `PUBLIC KEY` (SPKI).
    pub fn from_pem(pem: &str) -> Result<Self, DeviceError> {
        if pem.len() > MAX_PUBLIC_KEY_INPUT {
            return Err(DeviceError::InvalidInput("public key is too large".into()));
        }
        let (label, der) = pem_rfc7468_decode(pem)?;
        if label != "PUBLIC KEY" {
            return Err(DeviceError::InvalidInput(format!(
                "expected a PEM \"PUBLIC KEY\", found {label:?}"
            )));
        }
        Self::from_spki_der(&der)
    }

    /// Builds a key from an uncompressed or compressed SEC1 point on the curve of `spec`.
    pub fn from_sec1(spec: KeySpec, point: &[u8]) -> Result<Self, DeviceError> {
        let bad = |e: &dyn std::fmt::Display| DeviceError::InvalidInput(format!("EC point: {e}"));
        match spec {
            KeySpec::P256 => Ok(PublicKey::P256(
                p256::PublicKey::from_sec1_bytes(point).map_err(|e| bad(&e))?,
            )),
            KeySpec::P384 => Ok(PublicKey::P384(
                p384::PublicKey::from_sec1_bytes(point).map_err(|e| bad(&e))?,
            )),
            other => Err(DeviceError::InvalidInput(format!(
                "{other} is not a NIST curve"
            ))),
        }
    }

    /// Builds an Ed25519 key from its 32 bytes.
    pub fn from_ed25519(bytes: &[u8]) -> Result<Self, DeviceError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            DeviceError::InvalidInput(format!("Ed25519 key of {} bytes", bytes.len()))
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(PublicKey::Ed25519)
            .map_err(|e| DeviceError::InvalidInput(format!("Ed25519 key: {e}")))
    }

    /// Builds an RSA key from its big-endian modulus and public exponent.
    pub fn from_rsa(modulus: &[u8], exponent: &[u8]) -> Result<Self, DeviceError> {
        let key = rsa::RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(modulus),
            rsa::BigUint::from_bytes_be(exponent),
        )
        .map_err(|e| DeviceError::InvalidInput(format!("RSA key: {e}")))?;
        Ok(PublicKey::Rsa(key))
    }

    /// The kind of key.
    pub fn spec(&self) -> KeySpec {
        match self {
            PublicKey::P256(_) => KeySpec::P256,
            PublicKey::P384(_) => KeySpec::P384,
            PublicKey::Ed25519(_) => KeySpec::Ed25519,
            PublicKey::Rsa(_) => match self.rsa_bits() {
                Some(2048) => KeySpec::Rsa2048,
                Some(3072) => KeySpec::Rsa3072,
                _ => KeySpec::Rsa4096,
            },
        }
    }

    fn rsa_bits(&self) -> Option<usize> {
        match self {
            PublicKey::Rsa(k) => Some(rsa::traits::PublicKeyParts::size(k) * 8),
            _ => None,
        }
    }

    /// The SEC1 uncompressed point of an EC key (a lone 0x04 for other keys).
    fn sec1_uncompressed(&self) -> Vec<u8> {
        match self {
            PublicKey::P256(k) => k.to_encoded_point(false).as_bytes().to_vec(),
            PublicKey::P384(k) => k.to_encoded_point(false).as_bytes().to_vec(),
            _ => vec![0x04],
        }
    }

    /// DER `SubjectPublicKeyInfo`.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let doc = match self {
            PublicKey::P256(k) => k.to_public_key_der(),
            PublicKey::P384(k) => k.to_public_key_der(),
            PublicKey::Ed25519(k) => k.to_public_key_der(),
            PublicKey::Rsa(k) => k.to_public_key_der(),
        };
        // Encoding a key we already hold as a parsed value cannot fail.
        doc.map(|d| d.into_vec()).unwrap_or_default()
    }

    /// PEM `PUBLIC KEY` (SPKI).
    pub fn to_pem(&self) -> String {
        pem_encode("PUBLIC KEY", &self.to_spki_der())
    }

    /// The members of the public JWK (RFC 7517/7518/8037), in lexicographic order.
    fn jwk_members(&self) -> BTreeMap<&'static str, String> {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut m = BTreeMap::new();
        match self {
            PublicKey::P256(_) | PublicKey::P384(_) => {
                // Uncompressed SEC1: 0x04 ‖ x ‖ y, the coordinates of equal width.
                let point = self.sec1_uncompressed();
                let (x, y) = point[1..].split_at((point.len() - 1) / 2);
                m.insert("kty", "EC".into());
                m.insert("crv", self.spec().as_str().into());
                m.insert("x", b64(x));
                m.insert("y", b64(y));
            }
            PublicKey::Ed25519(k) => {
                m.insert("kty", "OKP".into());
                m.insert("crv", "Ed25519".into());
                m.insert("x", b64(k.as_bytes()));
            }
            PublicKey::Rsa(k) => {
                use rsa::traits::PublicKeyParts as _;
                m.insert("kty", "RSA".into());
                m.insert("n", b64(&k.n().to_bytes_be()));
                m.insert("e", b64(&k.e().to_bytes_be()));
            }
        }
        m
    }

    /// The public JWK as a JSON object (members `kty`, `crv`, `x`, `y` / `n`, `e`).
    pub fn to_jwk(&self) -> serde_json::Value {
        let members = self.jwk_members();
        serde_json::Value::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect(),
        )
    }

    /// The JWK in JSON Canonicalization Scheme form (RFC 8785): members sorted, no spaces.
    /// Every member value is a base64url or ASCII name, so no escaping is ever needed.
    fn jwk_canonical(&self) -> String {
        let body: Vec<String> = self
            .jwk_members()
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":\"{v}\""))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url). The required members of each key
    /// type are exactly the members [`to_jwk`](Self::to_jwk) emits.
    pub fn jwk_thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(self.jwk_canonical().as_bytes()))
    }

    /// The `did:jwk` identifier: `did:jwk:` + base64url of the canonical JWK.
    pub fn did_jwk(&self) -> String {
        format!(
            "did:jwk:{}",
            URL_SAFE_NO_PAD.encode(self.jwk_canonical().as_bytes())
        )
    }

    /// The `did:key` identifier: multibase base58btc of the multicodec-prefixed key
    /// (`ed25519-pub` 0xed, `p256-pub` 0x1200, `p384-pub` 0x1201 with compressed points,
    /// `rsa-pub` 0x1205 with the PKCS#1 `RSAPublicKey`).
    pub fn did_key(&self) -> String {
        let mut bytes: Vec<u8> = match self {
            PublicKey::Ed25519(_) => vec![0xed, 0x01],
            PublicKey::P256(_) => vec![0x80, 0x24],
            PublicKey::P384(_) => vec![0x81, 0x24],
            PublicKey::Rsa(_) => vec![0x85, 0x24],
        };
        match self {
            PublicKey::Ed25519(k) => bytes.extend_from_slice(k.as_bytes()),
            PublicKey::P256(k) => bytes.extend_from_slice(k.to_encoded_point(true).as_bytes()),
            PublicKey::P384(k) => bytes.extend_from_slice(k.to_encoded_point(true).as_bytes()),
            PublicKey::Rsa(k) => {
                use rsa::pkcs1::EncodeRsaPublicKey as _;
                bytes.extend_from_slice(
                    k.to_pkcs1_der()
                        .map(|d| d.into_vec())
                        .unwrap_or_default()
                        .as_slice(),
                );
            }
        }
        format!("did:key:z{}", bs58::encode(bytes).into_string())
    }

    /// Verifies `signature` over `message` with this key and `alg`, ECDSA signatures DER
    /// encoded (X9.62 `ECDSA-Sig-Value`, as WebAuthn and X.509 carry them); other algorithms as
    /// [`verify`](Self::verify).
    pub fn verify_asn1(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), DeviceError> {
        alg.check_fits(self.spec())?;
        let params = match (self, alg) {
            (PublicKey::P256(_), Algorithm::Es256) => &ring::signature::ECDSA_P256_SHA256_ASN1,
            (PublicKey::P384(_), Algorithm::Es384) => &ring::signature::ECDSA_P384_SHA384_ASN1,
            _ => return self.verify(alg, message, signature),
        };
        ring::signature::UnparsedPublicKey::new(params, self.sec1_uncompressed())
            .verify(message, signature)
            .map_err(|_| DeviceError::Crypto(format!("{alg} signature does not verify")))
    }

    /// Verifies a raw signature (as [`crate::CryptoDevice::sign`] returns it) over `message`.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), DeviceError> {
        alg.check_fits(self.spec())?;
        let invalid = |_| DeviceError::Crypto(format!("{alg} signature does not verify"));
        match (self, alg) {
            // ECDSA verifies with ring (assembly; the p256 crate is ~6x slower here). Fixed-size
            // r||s only, as the devices produce and the formats carry.
            (PublicKey::P256(_), Algorithm::Es256) | (PublicKey::P384(_), Algorithm::Es384) => {
                let params = if alg == Algorithm::Es256 {
                    &ring::signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &ring::signature::ECDSA_P384_SHA384_FIXED
                };
                ring::signature::UnparsedPublicKey::new(params, self.sec1_uncompressed())
                    .verify(message, signature)
                    .map_err(|_| DeviceError::Crypto(format!("{alg} signature does not verify")))
            }
            (PublicKey::Ed25519(k), Algorithm::EdDsa) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(invalid)?;
                k.verify_strict(message, &sig).map_err(invalid)
            }
            (PublicKey::Rsa(k), Algorithm::Rs256) => {
                let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(invalid)?;
                rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(k.clone())
                    .verify(message, &sig)
                    .map_err(invalid)
            }
            (PublicKey::Rsa(k), Algorithm::Ps256) => {
                let sig = rsa::pss::Signature::try_from(signature).map_err(invalid)?;
                rsa::pss::VerifyingKey::<sha2::Sha256>::new(k.clone())
                    .verify(message, &sig)
                    .map_err(invalid)
            }
            _ => Err(DeviceError::AlgorithmMismatch {
                alg: alg.as_str(),
                spec: self.spec().as_str(),
            }),
        }
    }
}

/// Encodes DER as PEM with 64-column lines (RFC 7468).
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes one PEM block, returning its label and DER bytes.
pub(crate) fn pem_rfc7468_decode(pem: &str) -> Result<(String, Vec<u8>), DeviceError> {
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| DeviceError::InvalidInput(format!("PEM: {e}")))?;
    Ok((label.to_owned(), der))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The P-256 example of the did:jwk method specification (w3c-ccg/did-jwk, "Examples").
    #[test]
    fn did_jwk_matches_the_specification_example() {
        let x = URL_SAFE_NO_PAD
            .decode("acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0")
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode("_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE")
            .unwrap();
        let point = [&[4u8][..], &x, &y].concat();
        let key = PublicKey::from_sec1(KeySpec::P256, &point).unwrap();
        assert_eq!(
            key.did_jwk(),
            "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9"
        );
    }

    /// RFC 8037 appendix A.2/A.3: the Ed25519 public key and its RFC 7638 thumbprint.
    #[test]
    fn ed25519_thumbprint_matches_rfc8037() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = PublicKey::from_ed25519(&x).unwrap();
        assert_eq!(
            key.jwk_thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    /// Published did:key vectors: an Ed25519 key and its DID as listed in the ACA-Py DID test
    /// fixtures (publicKeyBase58 ↔ did:key), and a P-256 DID whose round trip must be exact.
    #[test]
    fn did_key_matches_the_specification_vectors() {
        let ed = PublicKey::from_ed25519(
            &bs58::decode("8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K")
                .into_vec()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            ed.did_key(),
            "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th"
        );
        let did = "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169";
        let bytes = bs58::decode(&did["did:key:z".len()..]).into_vec().unwrap();
        assert_eq!(&bytes[..2], &[0x80, 0x24]);
        let p256 = PublicKey::from_sec1(KeySpec::P256, &bytes[2..]).unwrap();
        assert_eq!(p256.did_key(), did);
    }

    #[test]
    fn spki_pem_round_trips() {
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = PublicKey::from_ed25519(&x).unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), key);
        assert!(
            PublicKey::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                .is_err()
        );
    }
}
