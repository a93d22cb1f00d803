//! What Inkan's PKCS#11 objects look like: the attribute templates of signing keys, public
//! keys, the import wrapping key and the transient import key, and the decoding of public
//! key attributes (`CKA_EC_PARAMS`, `CKA_EC_POINT`, `CKA_MODULUS`, `CKA_PUBLIC_EXPONENT`).
//!
//! Owns only encodings, no sessions. Every private-key template it makes is sensitive and
//! limited to one use (signing, or unwrapping for the wrapping key); a signing key is
//! extractable only wrapped under a trusted key (`CKA_WRAP_WITH_TRUSTED`, for backups), the
//! import wrapping key not at all: it must never produce a template that would let a private
//! key leave the token in the clear or under a key the SO did not make.

use crate::{DeviceError, KeySpec, PublicKey};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use der::{Decode as _, Encode as _};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;

/// `CKA_EC_PARAMS` of P-256: the DER OID 1.2.840.10045.3.1.7.
const PARAMS_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `CKA_EC_PARAMS` of P-384: the DER OID 1.3.132.0.34.
const PARAMS_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// `CKA_EC_PARAMS` of Ed25519 as PKCS#11 3.0 prefers it: the DER OID 1.3.101.112.
const PARAMS_ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `CKA_EC_PARAMS` of Ed25519 as some tokens write it: the PrintableString "edwards25519".
const PARAMS_ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";

/// The public exponent of every RSA key Inkan generates (65537).
const RSA_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// Label of the import wrapping key pair (criteria 2.2.2(2)A-2/-4).
pub(crate) const WRAPPING_KEY_LABEL: &str = "inkan-import-wrapping-key";
/// Modulus size of the import wrapping key.
pub(crate) const WRAPPING_KEY_BITS: u64 = 3072;

fn key_type(spec: KeySpec) -> KeyType {
    match spec {
        KeySpec::P256 | KeySpec::P384 => KeyType::EC,
        KeySpec::Ed25519 => KeyType::EC_EDWARDS,
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => KeyType::RSA,
    }
}

fn ec_params(spec: KeySpec) -> Option<&'static [u8]> {
    match spec {
        KeySpec::P256 => Some(PARAMS_P256),
        KeySpec::P384 => Some(PARAMS_P384),
        KeySpec::Ed25519 => Some(PARAMS_ED25519_OID),
        _ => None,
    }
}

/// The private half of a signing key: a token object, private, sensitive, able to sign and
/// nothing else; extractable only wrapped under a trusted key (`CKA_WRAP_WITH_TRUSTED`: only
/// the token's SO can mark a key trusted — the backup wrapping key), never in the clear.
pub(crate) fn signing_private_template(id: &[u8], label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::WrapWithTrusted(true),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

/// The mechanism and the public and private templates that generate a `spec` key pair.
pub(crate) fn generation(
    spec: KeySpec,
    id: &[u8],
    label: &str,
) -> (Mechanism<'static>, Vec<Attribute>, Vec<Attribute>) {
    let mut public = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let mechanism = match spec {
        KeySpec::P256 | KeySpec::P384 => Mechanism::EccKeyPairGen,
        KeySpec::Ed25519 => Mechanism::EccEdwardsKeyPairGen,
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => Mechanism::RsaPkcsKeyPairGen,
    };
    if let Some(params) = ec_params(spec) {
        public.push(Attribute::EcParams(params.to_vec()));
    }
    if let Some(bits) = spec.rsa_bits() {
        public.push(Attribute::ModulusBits((bits as u64).into()));
        public.push(Attribute::PublicExponent(RSA_EXPONENT.to_vec()));
    }
    let mut private = signing_private_template(id, label);
    private.push(Attribute::KeyType(key_type(spec)));
    (mechanism, public, private)
}

/// The template of a private key unwrapped from an import: as for generated keys, with the
/// key type of `spec`.
pub(crate) fn imported_private_template(spec: KeySpec, id: &[u8], label: &str) -> Vec<Attribute> {
    let mut template = signing_private_template(id, label);
    template.push(Attribute::KeyType(key_type(spec)));
    template
}

/// The public-key object recorded next to an imported key, built from the public key it came
/// with.
pub(crate) fn imported_public_template(
    public_key: &PublicKey,
    id: &[u8],
    label: &str,
) -> Vec<Attribute> {
    let spec = public_key.spec();
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(key_type(spec)),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    match public_key {
        PublicKey::P256(k) => {
            template.push(Attribute::EcParams(PARAMS_P256.to_vec()));
            template.push(Attribute::EcPoint(octet_string(
                k.to_encoded_point(false).as_bytes(),
            )));
        }
        PublicKey::P384(k) => {
            template.push(Attribute::EcParams(PARAMS_P384.to_vec()));
            template.push(Attribute::EcPoint(octet_string(
                k.to_encoded_point(false).as_bytes(),
            )));
        }
        PublicKey::Ed25519(k) => {
            template.push(Attribute::EcParams(PARAMS_ED25519_OID.to_vec()));
            template.push(Attribute::EcPoint(octet_string(k.as_bytes())));
        }
        PublicKey::Rsa(k) => {
            use rsa::traits::PublicKeyParts as _;
            template.push(Attribute::Modulus(k.n().to_bytes_be()));
            template.push(Attribute::PublicExponent(k.e().to_bytes_be()));
        }
    }
    template
}

/// The import wrapping key pair (RSA-3072): the private half can unwrap and do nothing else,
/// in particular it cannot decrypt, so the AES key it opens never leaves the token either.
pub(crate) fn wrapping_generation(
    id: &[u8],
) -> (Mechanism<'static>, Vec<Attribute>, Vec<Attribute>) {
    let label = WRAPPING_KEY_LABEL.as_bytes().to_vec();
    let public = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Wrap(true),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::ModulusBits(WRAPPING_KEY_BITS.into()),
        Attribute::PublicExponent(RSA_EXPONENT.to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.clone()),
    ];
    let private = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Unwrap(true),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Derive(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label),
    ];
    (Mechanism::RsaPkcsKeyPairGen, public, private)
}

/// The AES-256 key carried inside an import, while it exists: a session object (gone with
/// the session at the latest), sensitive, non-extractable, able only to unwrap. Without
/// `CKA_VALUE_LEN`: SoftHSM 2.6 refuses it in an unwrap template (`CKR_ATTRIBUTE_READ_ONLY`).
pub(crate) fn transport_key_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Unwrap(true),
        Attribute::Wrap(false),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Derive(false),
    ]
}

/// The attributes to read from a key object to learn its kind and public half.
pub(crate) const KEY_ATTRIBUTES: [AttributeType; 5] = [
    AttributeType::KeyType,
    AttributeType::EcParams,
    AttributeType::EcPoint,
    AttributeType::Modulus,
    AttributeType::PublicExponent,
];

/// The attribute values read with [`KEY_ATTRIBUTES`] (absent ones stay `None`).
#[derive(Default)]
pub(crate) struct KeyAttributes {
    key_type: Option<KeyType>,
    ec_params: Option<Vec<u8>>,
    ec_point: Option<Vec<u8>>,
    modulus: Option<Vec<u8>>,
    public_exponent: Option<Vec<u8>>,
}

impl KeyAttributes {
    pub(crate) fn new(attributes: Vec<Attribute>) -> Self {
        let mut out = KeyAttributes::default();
        for attribute in attributes {
            match attribute {
                Attribute::KeyType(t) => out.key_type = Some(t),
                Attribute::EcParams(v) => out.ec_params = Some(v),
                Attribute::EcPoint(v) => out.ec_point = Some(v),
                Attribute::Modulus(v) => out.modulus = Some(v),
                Attribute::PublicExponent(v) => out.public_exponent = Some(v),
                _ => {}
            }
        }
        out
    }

    /// The kind of key. For a private key, only the key type, the curve and the modulus are
    /// needed, all of which are readable on a sensitive key.
    pub(crate) fn spec(&self) -> Result<KeySpec, DeviceError> {
        let unsupported =
            |what: String| DeviceError::Crypto(format!("unsupported key in the token: {what}"));
        match self.key_type {
            Some(t) if t == KeyType::EC => match self.ec_params.as_deref() {
                Some(PARAMS_P256) => Ok(KeySpec::P256),
                Some(PARAMS_P384) => Ok(KeySpec::P384),
                Some(other) => Err(unsupported(format!(
                    "EC key with CKA_EC_PARAMS {}",
                    hex::encode(other)
                ))),
                None => Err(unsupported("EC key without CKA_EC_PARAMS".into())),
            },
            Some(t) if t == KeyType::EC_EDWARDS => match self.ec_params.as_deref() {
                Some(PARAMS_ED25519_OID | PARAMS_ED25519_NAME) => Ok(KeySpec::Ed25519),
                Some(other) => Err(unsupported(format!(
                    "Edwards key with CKA_EC_PARAMS {}",
                    hex::encode(other)
                ))),
                None => Err(unsupported("Edwards key without CKA_EC_PARAMS".into())),
            },
            Some(t) if t == KeyType::RSA => {
                let modulus = self
                    .modulus
                    .as_deref()
                    .ok_or_else(|| unsupported("RSA key without CKA_MODULUS".into()))?;
                KeySpec::rsa(significant_bits(modulus))
            }
            Some(t) => Err(unsupported(format!("key type {t}"))),
            None => Err(unsupported("object without CKA_KEY_TYPE".into())),
        }
    }

    /// The public key. `CKA_EC_POINT` may be a DER OCTET STRING around the point (as PKCS#11
    /// specifies and SoftHSM writes) or the bare point (as some tokens write): both are taken.
    pub(crate) fn public_key(&self) -> Result<PublicKey, DeviceError> {
        let spec = self.spec()?;
        let missing =
            |what: &str| DeviceError::Crypto(format!("the {spec} key object has no {what}"));
        match spec {
            KeySpec::P256 | KeySpec::P384 => {
                let point = self
                    .ec_point
                    .as_deref()
                    .ok_or_else(|| missing("CKA_EC_POINT"))?;
                let coordinate = if spec == KeySpec::P256 { 32 } else { 48 };
                let point =
                    unwrap_octet_string(point, |n| n == 2 * coordinate + 1 || n == coordinate + 1);
                PublicKey::from_sec1(spec, point)
            }
            KeySpec::Ed25519 => {
                let point = self
                    .ec_point
                    .as_deref()
                    .ok_or_else(|| missing("CKA_EC_POINT"))?;
                PublicKey::from_ed25519(unwrap_octet_string(point, |n| n == 32))
            }
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let n = self
                    .modulus
                    .as_deref()
                    .ok_or_else(|| missing("CKA_MODULUS"))?;
                let e = self
                    .public_exponent
                    .as_deref()
                    .ok_or_else(|| missing("CKA_PUBLIC_EXPONENT"))?;
                PublicKey::from_rsa(n, e)
            }
        }
    }
}

/// Bits of a big-endian unsigned integer, ignoring leading zero bytes.
fn significant_bits(bytes: &[u8]) -> usize {
    let trimmed: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => &[],
    };
    match trimmed.first() {
        Some(first) => (trimmed.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    }
}

/// A DER OCTET STRING holding `bytes`.
fn octet_string(bytes: &[u8]) -> Vec<u8> {
    der::asn1::OctetStringRef::new(bytes)
        .and_then(|os| os.to_der())
        .unwrap_or_default()
}

/// The content of `bytes` if it is one DER OCTET STRING whose content has a length
/// `plausible` for the point; otherwise `bytes` itself, taken as a bare point. (A bare
/// point can look like an OCTET STRING by accident, e.g. `04 3f …` of 65 bytes, but then
/// its content has the wrong length.)
fn unwrap_octet_string(bytes: &[u8], plausible: impl Fn(usize) -> bool) -> &[u8] {
    match der::asn1::OctetStringRef::from_der(bytes) {
        Ok(os) if plausible(os.as_bytes().len()) => os.as_bytes(),
        _ => bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec(params: &[u8], point: Vec<u8>) -> KeyAttributes {
        KeyAttributes {
            key_type: Some(if params == PARAMS_P256 || params == PARAMS_P384 {
                KeyType::EC
            } else {
                KeyType::EC_EDWARDS
            }),
            ec_params: Some(params.to_vec()),
            ec_point: Some(point),
            ..Default::default()
        }
    }

    #[test]
    fn ec_points_are_taken_wrapped_and_bare() {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let point = secret
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        let wrapped = octet_string(&point);
        assert_eq!(&wrapped[..3], &[0x04, 0x41, 0x04]);
        let expected = PublicKey::P256(secret.public_key());
        assert_eq!(ec(PARAMS_P256, wrapped).public_key().unwrap(), expected);
        assert_eq!(ec(PARAMS_P256, point).public_key().unwrap(), expected);

        let ed = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        let expected = PublicKey::Ed25519(ed);
        assert_eq!(
            ec(PARAMS_ED25519_OID, octet_string(ed.as_bytes()))
                .public_key()
                .unwrap(),
            expected
        );
        assert_eq!(
            ec(PARAMS_ED25519_NAME, ed.as_bytes().to_vec())
                .public_key()
                .unwrap(),
            expected
        );
    }

    #[test]
    fn a_bare_point_that_parses_as_der_is_still_a_point() {
        // 04 3f … (65 bytes) is a valid OCTET STRING of 63 bytes, which no P-256 point is.
        let (secret, point) = (1u16..)
            .map(|n| {
                let mut seed = [1u8; 32];
                seed[..2].copy_from_slice(&n.to_be_bytes());
                let secret = p256::SecretKey::from_slice(&seed).unwrap();
                let point = secret
                    .public_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec();
                (secret, point)
            })
            .find(|(_, point)| point[1] == 0x3f)
            .unwrap();
        assert!(
            der::asn1::OctetStringRef::from_der(&point).is_ok(),
            "the bare point also parses as DER"
        );
        assert_eq!(
            ec(PARAMS_P256, point).public_key().unwrap(),
            PublicKey::P256(secret.public_key())
        );
        assert_eq!(
            unwrap_octet_string(&[0x04, 0x01, 0xaa], |n| n == 65),
            &[0x04, 0x01, 0xaa]
        );
    }

    #[test]
    fn specs_follow_curve_and_modulus() {
        let rsa = KeyAttributes {
            key_type: Some(KeyType::RSA),
            modulus: Some([&[0u8][..], &[0x80; 256][..]].concat()),
            ..Default::default()
        };
        assert_eq!(rsa.spec().unwrap(), KeySpec::Rsa2048);
        assert_eq!(ec(PARAMS_P384, vec![]).spec().unwrap(), KeySpec::P384);
        assert!(ec(&[0x06, 0x03, 0x2b, 0x65, 0x71], vec![]).spec().is_err());
        assert_eq!(significant_bits(&[0x01, 0x00]), 9);
        assert_eq!(significant_bits(&[]), 0);
    }
}
