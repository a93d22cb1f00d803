//! Crypto devices: where Inkan's signing keys live and the only place that touches them.
//!
//! This crate owns the [`CryptoDevice`] trait and its two implementations:
//! - [`soft::SoftDevice`], a software token for development: private keys are kept on disk
//!   only wrapped by a key-encryption key (AES-256-GCM) and unwrapped only into memory.
//!   It is **not** a certified device (criteria 2.2.2(1)).
//! - [`pkcs11::Pkcs11Device`], any PKCS#11 token (SoftHSMv2 in tests, a certified HSM in
//!   production): keys are generated inside the token and leave it only wrapped under the
//!   SO's trusted backup key.
//!
//! Around the trait it holds what is the same for every device: public-key encodings
//! ([`PublicKey`]: JWK, SPKI PEM, `did:key`, `did:jwk`), the import wrapping format and its
//! pair-consistency check ([`import`], criteria 2.2.2(2)A), PKCS#10 requests ([`csr`]) and
//! certificate matching ([`cert`]).
//!
//! This crate never holds HTTP or SQL, and there is deliberately no public function that
//! signs arbitrary bytes outside a device: signatures are made by a device, on the
//! instruction of the signing module of `inkan-server`.

mod algorithm;
pub mod cert;
pub mod csr;
mod error;
pub mod import;
pub mod pkcs11;
mod public_key;
pub mod sealing;
pub mod self_test;
pub mod soft;

pub use algorithm::{Algorithm, KeySpec};
pub use error::DeviceError;
pub use public_key::PublicKey;

use std::fmt;

/// Result of every device operation.
pub type Result<T, E = DeviceError> = std::result::Result<T, E>;

/// A device's name for one key: the software token's key id, or the PKCS#11 `CKA_ID` in hex.
///
/// It is an opaque reference, not key material, and is safe to log and store.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct KeyHandle(String);

impl KeyHandle {
    /// Wraps a handle string as stored in the key registry.
    pub fn new(handle: impl Into<String>) -> Self {
        Self(handle.into())
    }

    /// The handle as stored in the key registry.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A new handle naming `bytes` (both devices name their keys by 16 random bytes: the
    /// software token's file name, the PKCS#11 `CKA_ID`).
    pub fn from_bytes(bytes: [u8; HANDLE_BYTES]) -> Self {
        Self(hex::encode(bytes))
    }

    /// A new handle of 16 random bytes.
    pub fn random() -> Self {
        let mut bytes = [0u8; HANDLE_BYTES];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        Self::from_bytes(bytes)
    }

    /// The bytes a well-formed handle (exactly 32 lowercase hex digits) names, or `None`.
    /// Devices check every handle with this before it becomes a file name or a `CKA_ID`.
    pub fn to_bytes(&self) -> Option<[u8; HANDLE_BYTES]> {
        let h = self.0.as_bytes();
        if h.len() != 2 * HANDLE_BYTES
            || !h
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        {
            return None;
        }
        let mut bytes = [0u8; HANDLE_BYTES];
        hex::decode_to_slice(h, &mut bytes).ok()?;
        Some(bytes)
    }
}

/// Length in bytes of what a [`KeyHandle`] names.
pub const HANDLE_BYTES: usize = 16;

impl fmt::Debug for KeyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHandle({})", self.0)
    }
}

impl fmt::Display for KeyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which kind of device a key lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The software token ([`soft::SoftDevice`]); uncertified, for development.
    Soft,
    /// A PKCS#11 token ([`pkcs11::Pkcs11Device`]).
    Pkcs11,
}

impl DeviceKind {
    /// The name used in configuration and in the key registry.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Soft => "soft",
            DeviceKind::Pkcs11 => "pkcs11",
        }
    }
}

impl std::str::FromStr for DeviceKind {
    type Err = DeviceError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "soft" => Ok(DeviceKind::Soft),
            "pkcs11" => Ok(DeviceKind::Pkcs11),
            other => Err(DeviceError::InvalidInput(format!(
                "unknown device kind {other:?}"
            ))),
        }
    }
}

/// A key that a device has just created or imported.
#[derive(Debug, Clone)]
pub struct DeviceKey {
    /// The device's name for the key.
    pub handle: KeyHandle,
    /// Its public half.
    pub public_key: PublicKey,
}

/// A place that keeps private keys and makes signatures with them.
///
/// Implementations are blocking (an HSM call is a blocking C call); async callers run them
/// on a blocking thread. They must be safe to call from many threads at once.
///
/// What every implementation promises:
/// - private keys never leave it in plaintext: there is no export operation;
/// - [`sign`](Self::sign) returns the raw signature the formats need: ECDSA as `r‖s` of fixed
///   width (never DER), Ed25519 as 64 bytes, RSA as the modulus-sized signature;
/// - after [`destroy`](Self::destroy), no handle reaches the key again.
pub trait CryptoDevice: Send + Sync + fmt::Debug {
    /// Which kind of device this is.
    fn kind(&self) -> DeviceKind;

    /// Whether the device can be relied on as a certified crypto device (criteria 2.2.2(1)).
    /// The software token answers `false`.
    fn is_certified(&self) -> bool;

    /// Generates a new key pair inside the device. The private key never leaves it in the
    /// clear (a PKCS#11 token lets it out only wrapped under its trusted backup key).
    fn generate(&self, spec: KeySpec, label: &str) -> Result<DeviceKey>;

    /// Signs `message` with the key under `handle`, hashing inside the device as `alg`
    /// prescribes (SHA-256 for ES256/RS256/PS256, SHA-384 for ES384, none for EdDSA).
    fn sign(&self, handle: &KeyHandle, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>>;

    /// Signs a digest made by the caller (pre-hash mode, for CSC `signHash`): SHA-256 for
    /// ES256/RS256/PS256, SHA-384 for ES384. EdDSA has no pre-hash mode and is refused, as is
    /// a digest of the wrong length ([`Algorithm::check_digest`]).
    fn sign_digest(&self, handle: &KeyHandle, alg: Algorithm, digest: &[u8]) -> Result<Vec<u8>>;

    /// The public half of the key under `handle`.
    fn public_key(&self, handle: &KeyHandle) -> Result<PublicKey>;

    /// Whether the device still holds a key under `handle`.
    fn contains(&self, handle: &KeyHandle) -> Result<bool>;

    /// Handles of every signing key the device holds (not the import wrapping key), sorted.
    /// Lets an operator reconcile the device with the key registry: a key in the device but
    /// not in the registry is an orphan, one in the registry but not the device is lost.
    fn handles(&self) -> Result<Vec<KeyHandle>>;

    /// The key `handle`, wrapped for a backup under the device's trusted backup key (PKCS#11:
    /// `CKM_AES_KEY_WRAP_PAD` under the `CKA_TRUSTED` AES key the token's SO made, the only
    /// key signing keys can be wrapped under). The software token is backed up as its sealed
    /// files instead and refuses.
    fn export_for_backup(&self, handle: &KeyHandle) -> Result<Vec<u8>> {
        Err(DeviceError::Config(format!(
            "this device does not export keys for backup (key {handle})"
        )))
    }

    /// Puts a key from [`export_for_backup`](Self::export_for_backup) back under the same
    /// handle, with its public key; the device must hold the same trusted backup key, and
    /// must not hold the handle already.
    fn restore_from_backup(
        &self,
        handle: &KeyHandle,
        public_key: &PublicKey,
        label: &str,
        wrapped: &[u8],
    ) -> Result<()> {
        let _ = (public_key, label, wrapped);
        Err(DeviceError::Config(format!(
            "this device does not restore keys from a backup (key {handle})"
        )))
    }

    /// The RSA public key that issuers wrap keys to before sending them in (criteria
    /// 2.2.2(2)A-2/-4). Created inside the device on first use; its private half never leaves.
    fn wrapping_public_key(&self) -> Result<PublicKey>;

    /// Unwraps a key wrapped to [`wrapping_public_key`](Self::wrapping_public_key) with
    /// RSA-OAEP(SHA-256) + AES-KWP ([`import::WrappedKey`]) and stores it inside the device,
    /// as a key of `public_key.spec()`, with `public_key` recorded as its public half where
    /// the device keeps public-key objects.
    ///
    /// This does **not** check that the private key matches `public_key`: call
    /// [`import::import_checked`], which does, and destroys the key when it does not.
    fn unwrap_key(
        &self,
        wrapped: &import::WrappedKey,
        public_key: &PublicKey,
        label: &str,
    ) -> Result<KeyHandle>;

    /// Destroys the key under `handle` (criteria 2.2.2(3)). Destroying a key that is already
    /// gone is not an error, so an interrupted destruction can be finished.
    fn destroy(&self, handle: &KeyHandle) -> Result<()>;
}
