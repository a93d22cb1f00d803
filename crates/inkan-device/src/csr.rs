//! PKCS#10 certification requests signed by a device key (criteria 2.2.2(2)B-2: the
//! issuer or CA receives the public key in a form it can certify).
//!
//! The request body is built here; its signature comes from the device like any other, and
//! ECDSA's raw `r‖s` is re-encoded as the DER `Ecdsa-Sig-Value` X.509 requires.

use crate::{Algorithm, CryptoDevice, DeviceError, KeyHandle};
use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Decode as _, Encode as _};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::str::FromStr as _;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};

/// Longest subject accepted, in characters (RFC 4514 form).
pub const MAX_SUBJECT: usize = 1024;

const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

/// Builds a PEM `CERTIFICATE REQUEST` for the key under `handle`, signed by it with `alg`.
/// `subject` is an RFC 4514 distinguished name such as `CN=Example Issuer,O=Example,C=JP`.
pub fn build_csr(
    device: &dyn CryptoDevice,
    handle: &KeyHandle,
    alg: Algorithm,
    subject: &str,
) -> Result<String, DeviceError> {
    if subject.len() > MAX_SUBJECT || subject.trim().is_empty() {
        return Err(DeviceError::InvalidInput(format!(
            "the subject must be a distinguished name of 1 to {MAX_SUBJECT} characters"
        )));
    }
    let subject = Name::from_str(subject)
        .map_err(|e| DeviceError::InvalidInput(format!("subject {subject:?}: {e}")))?;
    let public_key = device.public_key(handle)?;
    alg.check_fits(public_key.spec())?;
    let encoding = |e: der::Error| DeviceError::Crypto(format!("encoding the request: {e}"));
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key: SubjectPublicKeyInfoOwned::from_der(&public_key.to_spki_der())
            .map_err(encoding)?,
        attributes: Default::default(),
    };
    let to_be_signed = info.to_der().map_err(encoding)?;
    let raw = device.sign(handle, alg, &to_be_signed)?;
    let signature = x509_signature(alg, &raw)?;
    let request = CertReq {
        info,
        algorithm: signature_algorithm(alg)?,
        signature: BitString::from_bytes(&signature).map_err(encoding)?,
    };
    Ok(crate::public_key::pem_encode(
        "CERTIFICATE REQUEST",
        &request.to_der().map_err(encoding)?,
    ))
}

/// The X.509 `AlgorithmIdentifier` of a signature algorithm.
pub fn signature_algorithm(alg: Algorithm) -> Result<AlgorithmIdentifierOwned, DeviceError> {
    let (oid, parameters) = match alg {
        Algorithm::Es256 => (ECDSA_SHA256, None),
        Algorithm::Es384 => (ECDSA_SHA384, None),
        Algorithm::EdDsa => (crate::public_key::OID_ED25519, None),
        Algorithm::Rs256 => (SHA256_RSA, Some(Any::null())),
        Algorithm::Ps256 => {
            let params = rsa::pkcs1::RsaPssParams::new::<sha2::Sha256>(32);
            let der = params
                .to_der()
                .map_err(|e| DeviceError::Crypto(format!("PSS parameters: {e}")))?;
            (
                RSASSA_PSS,
                Some(Any::from_der(&der).map_err(|e| DeviceError::Crypto(e.to_string()))?),
            )
        }
    };
    Ok(AlgorithmIdentifierOwned { oid, parameters })
}

/// The algorithm an X.509 `AlgorithmIdentifier` names, when it is one Inkan signs with (the
/// inverse of [`signature_algorithm`]; RSASSA-PSS only with the SHA-256 parameters it writes).
pub fn algorithm_of(id: &AlgorithmIdentifierOwned) -> Result<Algorithm, DeviceError> {
    let unsupported = || {
        DeviceError::InvalidInput(format!(
            "signature algorithm {} is not one Inkan verifies",
            id.oid
        ))
    };
    let alg = match id.oid {
        ECDSA_SHA256 => Algorithm::Es256,
        ECDSA_SHA384 => Algorithm::Es384,
        crate::public_key::OID_ED25519 => Algorithm::EdDsa,
        SHA256_RSA => Algorithm::Rs256,
        RSASSA_PSS => Algorithm::Ps256,
        _ => return Err(unsupported()),
    };
    if signature_algorithm(alg)? != *id {
        // Other parameters (another PSS hash, absent RSA NULL) are another algorithm.
        let lenient_rsa = alg == Algorithm::Rs256 && id.parameters.is_none();
        if !lenient_rsa {
            return Err(unsupported());
        }
    }
    Ok(alg)
}

/// Verifies an X.509 signature (a certificate's, a CRL's) over `message` made by `key` with
/// the algorithm `id` names; ECDSA signatures come DER-encoded, as X.509 carries them.
pub fn verify_x509_signature(
    key: &crate::PublicKey,
    id: &AlgorithmIdentifierOwned,
    message: &[u8],
    signature: &[u8],
) -> Result<(), DeviceError> {
    let alg = algorithm_of(id)?;
    let bad = |e: ecdsa::Error| DeviceError::Crypto(format!("ECDSA signature: {e}"));
    let raw = match alg {
        Algorithm::Es256 => p256::ecdsa::Signature::from_der(signature)
            .map_err(bad)?
            .to_bytes()
            .to_vec(),
        Algorithm::Es384 => p384::ecdsa::Signature::from_der(signature)
            .map_err(bad)?
            .to_bytes()
            .to_vec(),
        Algorithm::EdDsa | Algorithm::Rs256 | Algorithm::Ps256 => signature.to_vec(),
    };
    key.verify(alg, message, &raw)
}

/// Converts a device's raw signature to the encoding X.509 uses (DER for ECDSA).
pub fn x509_signature(alg: Algorithm, raw: &[u8]) -> Result<Vec<u8>, DeviceError> {
    let bad = |e: ecdsa::Error| DeviceError::Crypto(format!("ECDSA signature: {e}"));
    Ok(match alg {
        Algorithm::Es256 => p256::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
        Algorithm::Es384 => p384::ecdsa::Signature::from_slice(raw)
            .map_err(bad)?
            .to_der()
            .as_bytes()
            .to_vec(),
        Algorithm::EdDsa | Algorithm::Rs256 | Algorithm::Ps256 => raw.to_vec(),
    })
}
