//! A self-test of what Inkan needs from a crypto device (issue 19 point 4), for `inkan device
//! check`: each algorithm's key generation and signing, key import, and the backup wrap.
//!
//! Every key it makes is a throwaway labelled [`LABEL`], destroyed before it returns (also
//! when a step fails); signatures are verified with the public key in software and dropped:
//! none leaves this module. The import check wraps a key made here in software, never a real
//! one. Must never touch a key it did not make.

use crate::import::{WrappingAlgorithm, import_checked, wrap_for_import};
use crate::{Algorithm, CryptoDevice, DeviceError, DeviceKind, KeyHandle, KeySpec, PublicKey};
use rand_core::{OsRng, RngCore as _};
use sha2::Digest as _;

/// The label of the self-test's keys.
pub const LABEL: &str = "inkan device check";

/// One capability and how the device did.
#[derive(Debug)]
pub struct Check {
    /// What Inkan uses it for.
    pub capability: &'static str,
    /// The PKCS#11 mechanisms and attributes it exercises.
    pub mechanisms: &'static str,
    /// What a failure disables.
    pub without: &'static str,
    /// How the device did.
    pub outcome: Outcome,
}

/// How the device did at one check.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It works.
    Works,
    /// It works only in part (named).
    Partly(String),
    /// It does not apply to this kind of device (why).
    NotApplicable(String),
    /// It fails (the device's error).
    Fails(String),
}

impl From<Result<(), String>> for Outcome {
    fn from(result: Result<(), String>) -> Outcome {
        match result {
            Ok(()) => Outcome::Works,
            Err(e) => Outcome::Fails(e),
        }
    }
}

/// Runs every check on `device`.
pub fn run(device: &dyn CryptoDevice) -> Vec<Check> {
    let mut checks = Vec::new();
    for (capability, mechanisms, without, spec, algorithms) in [
        (
            "P-256 keys: ES256",
            "CKM_EC_KEY_PAIR_GEN (P-256), CKM_ECDSA",
            "ES256 keys (VC-JWT, Data Integrity ecdsa-*, SD-JWT VC, mdoc)",
            KeySpec::P256,
            &[Algorithm::Es256][..],
        ),
        (
            "P-384 keys: ES384",
            "CKM_EC_KEY_PAIR_GEN (P-384), CKM_ECDSA",
            "ES384 keys",
            KeySpec::P384,
            &[Algorithm::Es384][..],
        ),
        (
            "Ed25519 keys: EdDSA, and the transparency log's key",
            "CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA",
            "Ed25519 keys (eddsa-rdfc-2022), and the log key: the service does not start",
            KeySpec::Ed25519,
            &[Algorithm::EdDsa][..],
        ),
        (
            "RSA-2048 keys: RS256, PS256",
            "CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS, \
             CKM_SHA256_RSA_PKCS_PSS, CKM_RSA_PKCS_PSS",
            "RS256 and PS256 keys",
            KeySpec::Rsa2048,
            &[Algorithm::Rs256, Algorithm::Ps256][..],
        ),
    ] {
        checks.push(Check {
            capability,
            mechanisms,
            without,
            outcome: with_key(device, spec, |handle, public| {
                algorithms
                    .iter()
                    .try_for_each(|alg| signs(device, handle, public, *alg))
            })
            .into(),
        });
    }
    checks.push(Check {
        capability: "key import (wrapped to the device's RSA-3072 import key)",
        mechanisms: "CKM_RSA_PKCS_KEY_PAIR_GEN (3072), CKM_RSA_PKCS_OAEP, \
                     CKM_AES_KEY_WRAP_PAD (unwrap), C_CreateObject",
        without: "inkan keys import (issuers' own keys)",
        outcome: match import(device, WrappingAlgorithm::RsaAesKeyWrapSha256) {
            Ok(()) => Outcome::Works,
            // SoftHSM 2.6, for one, unwraps only with OAEP SHA-1: issuers then wrap so.
            Err(sha256) => match import(device, WrappingAlgorithm::RsaAesKeyWrapSha1) {
                Ok(()) => Outcome::Partly(format!(
                    "only with {}: issuers must wrap with it ({sha256})",
                    WrappingAlgorithm::RsaAesKeyWrapSha1.as_str()
                )),
                Err(_) => Outcome::Fails(sha256),
            },
        },
    });
    checks.push(Check {
        capability: "key backup (wrapped under the SO's trusted AES key)",
        mechanisms: "CKA_WRAP_WITH_TRUSTED, CKA_TRUSTED, CKM_AES_KEY_WRAP_PAD (wrap, unwrap)",
        without: "inkan backup of the device's keys (the token's own backup remains)",
        outcome: backup(device),
    });
    checks
}

/// Makes a throwaway key of `spec`, runs `test` on it, destroys it whatever happened.
fn with_key(
    device: &dyn CryptoDevice,
    spec: KeySpec,
    test: impl FnOnce(&KeyHandle, &PublicKey) -> Result<(), DeviceError>,
) -> Result<(), String> {
    let key = device.generate(spec, LABEL).map_err(|e| e.to_string())?;
    let tested = test(&key.handle, &key.public_key);
    let destroyed = device.destroy(&key.handle);
    tested.map_err(|e| e.to_string())?;
    destroyed.map_err(|e| format!("destroying the test key: {e}"))
}

/// Signs a random message (and, where there is one, its digest) and verifies both.
fn signs(
    device: &dyn CryptoDevice,
    handle: &KeyHandle,
    public: &PublicKey,
    alg: Algorithm,
) -> Result<(), DeviceError> {
    let mut message = b"inkan device check\n".to_vec();
    let mut nonce = [0u8; 32];
    OsRng.fill_bytes(&mut nonce);
    message.extend_from_slice(&nonce);
    public.verify(alg, &message, &device.sign(handle, alg, &message)?)?;
    let digest = match alg {
        Algorithm::EdDsa => return Ok(()),
        Algorithm::Es384 => sha2::Sha384::digest(&message).to_vec(),
        _ => sha2::Sha256::digest(&message).to_vec(),
    };
    let signature = device.sign_digest(handle, alg, &digest)?;
    public.verify(alg, &message, &signature)
}

/// Imports a P-256 key made here in software, wrapped with `algorithm`, checks it signs,
/// destroys it.
fn import(device: &dyn CryptoDevice, algorithm: WrappingAlgorithm) -> Result<(), String> {
    use p256::pkcs8::EncodePrivateKey as _;
    let secret = p256::SecretKey::random(&mut OsRng);
    let der = secret.to_pkcs8_der().map_err(|e| e.to_string())?;
    let point = secret.public_key().to_sec1_bytes();
    let public = PublicKey::from_sec1(KeySpec::P256, &point).map_err(|e| e.to_string())?;
    let wrapping = device.wrapping_public_key().map_err(|e| e.to_string())?;
    let wrapped =
        wrap_for_import(&wrapping, algorithm, der.as_bytes()).map_err(|e| e.to_string())?;
    let key = import_checked(
        device,
        &wrapped,
        algorithm,
        &public,
        Algorithm::Es256,
        LABEL,
    )
    .map_err(|e| e.to_string())?;
    device
        .destroy(&key.handle)
        .map_err(|e| format!("destroying the test key: {e}"))
}

/// Wraps a throwaway key for a backup, destroys it, restores it and checks it signs.
fn backup(device: &dyn CryptoDevice) -> Outcome {
    if device.kind() == DeviceKind::Soft {
        return Outcome::NotApplicable(
            "the software token is backed up as its sealed files".into(),
        );
    }
    backup_round_trip(device).into()
}

fn backup_round_trip(device: &dyn CryptoDevice) -> Result<(), String> {
    let key = device
        .generate(KeySpec::P256, LABEL)
        .map_err(|e| e.to_string())?;
    let wrapped = match device.export_for_backup(&key.handle) {
        Ok(wrapped) => wrapped,
        Err(e) => {
            let _ = device.destroy(&key.handle);
            return Err(e.to_string());
        }
    };
    device
        .destroy(&key.handle)
        .map_err(|e| format!("destroying the test key: {e}"))?;
    let restored = device
        .restore_from_backup(&key.handle, &key.public_key, LABEL, &wrapped)
        .and_then(|()| signs(device, &key.handle, &key.public_key, Algorithm::Es256));
    let destroyed = device.destroy(&key.handle);
    restored.map_err(|e| format!("restoring: {e}"))?;
    destroyed.map_err(|e| format!("destroying the restored test key: {e}"))
}
