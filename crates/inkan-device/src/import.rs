//! Importing keys made elsewhere (criteria 2.2.2(2)A).
//!
//! The wire format is the one Vault, AWS KMS and Google Cloud KMS share, PKCS#11's
//! `CKM_RSA_AES_KEY_WRAP`: a fresh AES-256 key encrypted to the device's RSA wrapping key
//! with RSA-OAEP (empty label), immediately followed by the PKCS#8 private key wrapped under
//! that AES key with AES Key Wrap with Padding (RFC 5649). It may arrive as raw bytes or
//! base64. Only the device can open it (2.2.2(2)A-4).
//!
//! The OAEP hash comes in the two variants those services name
//! ([`WrappingAlgorithm`]): SHA-256 (the default) and SHA-1, which some HSMs are limited to
//! (SoftHSM 2.6 unwraps OAEP with SHA-1 only). OAEP's security does not rest on the hash's
//! collision resistance, so the SHA-1 variant is still sound for key transport.
//!
//! [`import_checked`] is the one way in: it unwraps inside the device, then proves with a
//! sign-and-verify check that the key matches the public key or certificate it came with
//! (2.2.2(2)A-5), and destroys it again when it does not, leaving nothing behind.

use crate::{Algorithm, CryptoDevice, DeviceError, DeviceKey, PublicKey};
use base64::Engine as _;
use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

/// The RSA-OAEP hash (and MGF1 hash) of the wrapping scheme, named as AWS KMS names its
/// wrapping algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WrappingAlgorithm {
    /// RSA-OAEP with SHA-256 and MGF1-SHA-256, then AES-KWP. The default.
    #[default]
    RsaAesKeyWrapSha256,
    /// RSA-OAEP with SHA-1 and MGF1-SHA-1, then AES-KWP.
    RsaAesKeyWrapSha1,
}

impl WrappingAlgorithm {
    /// Both variants.
    pub const ALL: [WrappingAlgorithm; 2] = [
        WrappingAlgorithm::RsaAesKeyWrapSha256,
        WrappingAlgorithm::RsaAesKeyWrapSha1,
    ];

    /// The name: `RSA_AES_KEY_WRAP_SHA_256` or `RSA_AES_KEY_WRAP_SHA_1`.
    pub fn as_str(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaAesKeyWrapSha256 => "RSA_AES_KEY_WRAP_SHA_256",
            WrappingAlgorithm::RsaAesKeyWrapSha1 => "RSA_AES_KEY_WRAP_SHA_1",
        }
    }

    /// The RSA-OAEP padding scheme of this variant, for software that does the RSA step.
    pub fn oaep(self) -> rsa::Oaep {
        match self {
            WrappingAlgorithm::RsaAesKeyWrapSha256 => rsa::Oaep::new::<sha2::Sha256>(),
            WrappingAlgorithm::RsaAesKeyWrapSha1 => rsa::Oaep::new::<sha1::Sha1>(),
        }
    }
}

impl std::fmt::Display for WrappingAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WrappingAlgorithm {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        WrappingAlgorithm::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            DeviceError::InvalidInput(format!(
                "unknown wrapping algorithm {s:?} (RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1)"
            ))
        })
    }
}

/// Largest wrapped key accepted (an RSA-4096 PKCS#8 wrapped to an RSA-4096 key is ~3 KiB).
pub const MAX_WRAPPED_KEY: usize = 64 * 1024;

/// A wrapped key split into its two parts.
#[derive(Clone)]
pub struct WrappedKey {
    /// Which OAEP hash wrapped the AES key.
    pub algorithm: WrappingAlgorithm,
    /// The AES-256 key, RSA-OAEP encrypted; exactly the wrapping modulus long.
    pub encrypted_aes_key: Vec<u8>,
    /// The PKCS#8 document, AES-KWP wrapped.
    pub wrapped_pkcs8: Vec<u8>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedKey")
            .field("algorithm", &self.algorithm)
            .field("encrypted_aes_key_len", &self.encrypted_aes_key.len())
            .field("wrapped_pkcs8_len", &self.wrapped_pkcs8.len())
            .finish()
    }
}

impl WrappedKey {
    /// Parses raw or base64 input, splitting it at the size of the wrapping key's modulus.
    pub fn parse(
        input: &[u8],
        wrapping_key: &PublicKey,
        algorithm: WrappingAlgorithm,
    ) -> Result<Self, DeviceError> {
        if input.len() > MAX_WRAPPED_KEY {
            return Err(DeviceError::InvalidInput(format!(
                "wrapped key is {} bytes, more than the {MAX_WRAPPED_KEY} accepted",
                input.len()
            )));
        }
        let modulus_len = match wrapping_key {
            PublicKey::Rsa(k) => rsa::traits::PublicKeyParts::size(k),
            _ => {
                return Err(DeviceError::Config(
                    "the wrapping key is not an RSA key".into(),
                ));
            }
        };
        let bytes = decode_maybe_base64(input);
        // AES-KWP output is a multiple of 8 bytes and at least 16.
        let rest = bytes.len().saturating_sub(modulus_len);
        if rest < 16 || rest % 8 != 0 {
            return Err(DeviceError::InvalidInput(format!(
                "wrapped key of {} bytes is not RSA-OAEP({modulus_len} bytes) followed by AES-KWP",
                bytes.len()
            )));
        }
        let (head, tail) = bytes.split_at(modulus_len);
        Ok(WrappedKey {
            algorithm,
            encrypted_aes_key: head.to_vec(),
            wrapped_pkcs8: tail.to_vec(),
        })
    }
}

/// Input that is entirely base64 (standard or URL-safe, padded or not, line breaks allowed)
/// is decoded; anything else is taken as raw bytes.
fn decode_maybe_base64(input: &[u8]) -> Vec<u8> {
    let text: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let engines = [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(&text).ok())
        .unwrap_or_else(|| input.to_vec())
}

/// The issuer's side of the scheme: wraps a PKCS#8 DER private key to `wrapping_key`.
/// Inkan itself never calls this with a real key; it exists for tooling and tests.
pub fn wrap_for_import(
    wrapping_key: &PublicKey,
    algorithm: WrappingAlgorithm,
    pkcs8_der: &[u8],
) -> Result<Vec<u8>, DeviceError> {
    let PublicKey::Rsa(rsa_key) = wrapping_key else {
        return Err(DeviceError::Config(
            "the wrapping key is not an RSA key".into(),
        ));
    };
    let mut aes_key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(aes_key.as_mut());
    let encrypted = rsa_key
        .encrypt(&mut OsRng, algorithm.oaep(), aes_key.as_ref())
        .map_err(|e| DeviceError::Crypto(format!("RSA-OAEP: {e}")))?;
    let kek = aes_kw::KekAes256::from(*aes_key);
    let wrapped = kek
        .wrap_with_padding_vec(pkcs8_der)
        .map_err(|e| DeviceError::Crypto(format!("AES-KWP: {e}")))?;
    Ok([encrypted, wrapped].concat())
}

/// Unwraps `wrapped` into `device` and keeps it only if it signs a fresh challenge that
/// `expected` verifies with `alg` (criteria 2.2.2(2)A-5). On a mismatch the unwrapped key is
/// destroyed before the error returns, so a refused import leaves nothing in the device.
pub fn import_checked(
    device: &dyn CryptoDevice,
    wrapped: &[u8],
    wrapping: WrappingAlgorithm,
    expected: &PublicKey,
    alg: Algorithm,
    label: &str,
) -> Result<DeviceKey, DeviceError> {
    let spec = expected.spec();
    alg.check_fits(spec)?;
    let wrapping_key = device.wrapping_public_key()?;
    let wrapped = WrappedKey::parse(wrapped, &wrapping_key, wrapping)?;
    let handle = device.unwrap_key(&wrapped, expected, label)?;

    let mut challenge = b"inkan import pair-consistency check\n".to_vec();
    let mut nonce = [0u8; 32];
    OsRng.fill_bytes(&mut nonce);
    challenge.extend_from_slice(&nonce);
    let checked = device
        .sign(&handle, alg, &challenge)
        .and_then(|signature| expected.verify(alg, &challenge, &signature));
    match checked {
        Ok(()) => Ok(DeviceKey {
            handle,
            public_key: expected.clone(),
        }),
        Err(cause) => {
            device.destroy(&handle)?;
            Err(DeviceError::KeyMismatch(format!(
                "the imported private key does not match the given {spec} public key ({cause})"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_malformed_input() {
        let rsa = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let public = PublicKey::Rsa(rsa.to_public_key());
        let sha256 = WrappingAlgorithm::RsaAesKeyWrapSha256;
        assert!(WrappedKey::parse(&[0u8; 100], &public, sha256).is_err());
        assert!(WrappedKey::parse(&vec![0u8; 256 + 17], &public, sha256).is_err());
        assert!(WrappedKey::parse(&vec![0u8; MAX_WRAPPED_KEY + 1], &public, sha256).is_err());
        let ok = WrappedKey::parse(&vec![1u8; 256 + 40], &public, sha256).unwrap();
        assert_eq!(ok.encrypted_aes_key.len(), 256);
        assert_eq!(ok.wrapped_pkcs8.len(), 40);
    }

    #[test]
    fn base64_and_raw_forms_are_the_same_key() {
        let rsa = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let public = PublicKey::Rsa(rsa.to_public_key());
        let sha1 = WrappingAlgorithm::RsaAesKeyWrapSha1;
        let raw = wrap_for_import(&public, sha1, &[7u8; 100]).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        let a = WrappedKey::parse(&raw, &public, sha1).unwrap();
        let b = WrappedKey::parse(format!("{b64}\n").as_bytes(), &public, sha1).unwrap();
        assert_eq!(a.encrypted_aes_key, b.encrypted_aes_key);
        assert_eq!(a.wrapped_pkcs8, b.wrapped_pkcs8);
    }

    #[test]
    fn wrapping_algorithm_names_round_trip() {
        for alg in WrappingAlgorithm::ALL {
            assert_eq!(alg.as_str().parse::<WrappingAlgorithm>().unwrap(), alg);
        }
        assert!(
            "RSA_AES_KEY_WRAP_SHA_512"
                .parse::<WrappingAlgorithm>()
                .is_err()
        );
    }
}
