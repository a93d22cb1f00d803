//! The one error type of the device layer.
//!
//! Messages name what was wrong without key material, PINs or passphrases in them.

/// Why a device operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// No key under this handle (never created, or destroyed).
    #[error("no key {0} in the device")]
    KeyNotFound(String),
    /// The algorithm cannot be used with this key or on this device.
    #[error("algorithm {alg} cannot be used with a {spec} key")]
    AlgorithmMismatch {
        /// The requested signature algorithm.
        alg: &'static str,
        /// The kind of key.
        spec: &'static str,
    },
    /// Input from outside (a wrapped key, a certificate, a public key, a subject) is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An imported key or an attached certificate does not belong to the key it claims to
    /// (criteria 2.2.2(2)A-5).
    #[error("key mismatch: {0}")]
    KeyMismatch(String),
    /// The key-encryption key could not be obtained or is wrong.
    #[error("key-encryption key: {0}")]
    Kek(String),
    /// The device's storage could not be read or written.
    #[error("device storage: {0}")]
    Storage(#[from] std::io::Error),
    /// The PKCS#11 module reported an error.
    #[error("PKCS#11: {0}")]
    Pkcs11(String),
    /// The device is not usable in this configuration.
    #[error("device configuration: {0}")]
    Config(String),
    /// A cryptographic operation failed inside the device.
    #[error("crypto operation failed: {0}")]
    Crypto(String),
}
