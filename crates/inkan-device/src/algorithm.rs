//! Key types and the signature algorithms each one can make.

use crate::DeviceError;
use std::fmt;
use std::str::FromStr;

/// The kind of key pair a device holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// Ed25519.
    Ed25519,
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus (import wrapping keys and imported keys only).
    Rsa4096,
}

impl KeySpec {
    /// The name used in the registry and in output, e.g. `P-256`, `RSA-3072`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeySpec::P256 => "P-256",
            KeySpec::P384 => "P-384",
            KeySpec::Ed25519 => "Ed25519",
            KeySpec::Rsa2048 => "RSA-2048",
            KeySpec::Rsa3072 => "RSA-3072",
            KeySpec::Rsa4096 => "RSA-4096",
        }
    }

    /// The RSA modulus size in bits, or `None` for elliptic-curve keys.
    pub fn rsa_bits(self) -> Option<usize> {
        match self {
            KeySpec::Rsa2048 => Some(2048),
            KeySpec::Rsa3072 => Some(3072),
            KeySpec::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// The RSA key spec for a modulus of `bits`.
    pub fn rsa(bits: usize) -> Result<Self, DeviceError> {
        match bits {
            2048 => Ok(KeySpec::Rsa2048),
            3072 => Ok(KeySpec::Rsa3072),
            4096 => Ok(KeySpec::Rsa4096),
            other => Err(DeviceError::InvalidInput(format!(
                "unsupported RSA modulus size {other} (2048, 3072 or 4096)"
            ))),
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeySpec {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        Ok(match s {
            "P-256" => KeySpec::P256,
            "P-384" => KeySpec::P384,
            "Ed25519" => KeySpec::Ed25519,
            "RSA-2048" => KeySpec::Rsa2048,
            "RSA-3072" => KeySpec::Rsa3072,
            "RSA-4096" => KeySpec::Rsa4096,
            other => {
                return Err(DeviceError::InvalidInput(format!(
                    "unknown key type {other:?}"
                )));
            }
        })
    }
}

/// A signature algorithm, named as in JOSE (RFC 7518, RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256; signature `r‖s`, 64 bytes.
    Es256,
    /// ECDSA on P-384 with SHA-384; signature `r‖s`, 96 bytes.
    Es384,
    /// Ed25519 (pure EdDSA); 64 bytes.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    Ps256,
}

impl Algorithm {
    /// All algorithms, in the order they are documented.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
        Algorithm::Rs256,
        Algorithm::Ps256,
    ];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
        }
    }

    /// Whether a key of `spec` can make this algorithm's signatures.
    pub fn fits(self, spec: KeySpec) -> bool {
        match self {
            Algorithm::Es256 => spec == KeySpec::P256,
            Algorithm::Es384 => spec == KeySpec::P384,
            Algorithm::EdDsa => spec == KeySpec::Ed25519,
            Algorithm::Rs256 | Algorithm::Ps256 => spec.rsa_bits().is_some(),
        }
    }

    /// Fails with [`DeviceError::AlgorithmMismatch`] unless a `spec` key can make `self`.
    pub fn check_fits(self, spec: KeySpec) -> Result<(), DeviceError> {
        if self.fits(spec) {
            Ok(())
        } else {
            Err(DeviceError::AlgorithmMismatch {
                alg: self.as_str(),
                spec: spec.as_str(),
            })
        }
    }

    /// The length of the digest this algorithm signs in pre-hash mode (SHA-256: 32,
    /// SHA-384: 48), or `None` for EdDSA, which has no pre-hash mode (Ed25519ph is another
    /// algorithm).
    pub fn digest_len(self) -> Option<usize> {
        match self {
            Algorithm::Es256 | Algorithm::Rs256 | Algorithm::Ps256 => Some(32),
            Algorithm::Es384 => Some(48),
            Algorithm::EdDsa => None,
        }
    }

    /// Fails unless `digest` can be signed with this algorithm in pre-hash mode.
    pub fn check_digest(self, digest: &[u8]) -> Result<(), DeviceError> {
        match self.digest_len() {
            None => Err(DeviceError::InvalidInput(format!(
                "{self} signs messages, not digests: it has no pre-hash mode"
            ))),
            Some(len) if len != digest.len() => Err(DeviceError::InvalidInput(format!(
                "a {self} digest is {len} bytes, not {}",
                digest.len()
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The key spec generated for this algorithm; RSA takes `rsa_bits` (2048 or 3072).
    pub fn key_spec(self, rsa_bits: usize) -> Result<KeySpec, DeviceError> {
        match self {
            Algorithm::Es256 => Ok(KeySpec::P256),
            Algorithm::Es384 => Ok(KeySpec::P384),
            Algorithm::EdDsa => Ok(KeySpec::Ed25519),
            Algorithm::Rs256 | Algorithm::Ps256 => match rsa_bits {
                2048 | 3072 => KeySpec::rsa(rsa_bits),
                other => Err(DeviceError::InvalidInput(format!(
                    "signing keys are RSA-2048 or RSA-3072, not {other}"
                ))),
            },
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self, DeviceError> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                DeviceError::InvalidInput(format!(
                    "unknown algorithm {s:?} (ES256, ES384, EdDSA, RS256 or PS256)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
        }
        for spec in [
            KeySpec::P256,
            KeySpec::P384,
            KeySpec::Ed25519,
            KeySpec::Rsa2048,
            KeySpec::Rsa3072,
            KeySpec::Rsa4096,
        ] {
            assert_eq!(spec.as_str().parse::<KeySpec>().unwrap(), spec);
        }
        assert!("es256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn algorithms_fit_only_their_keys() {
        assert!(Algorithm::Es256.fits(KeySpec::P256));
        assert!(!Algorithm::Es256.fits(KeySpec::P384));
        assert!(Algorithm::Ps256.fits(KeySpec::Rsa3072));
        assert!(!Algorithm::EdDsa.fits(KeySpec::Rsa2048));
        assert!(Algorithm::Rs256.key_spec(4096).is_err());
    }
}
