//! The `Signer` seam: the only way format code gets a signature.
//!
//! A [`Signer`] takes a key reference, an algorithm and the bytes to sign and returns the raw
//! signature (ECDSA `r‖s`, Ed25519 64 bytes, RSA modulus-sized). The hashing contract:
//!
//! | format | hands the signer | signer hashes with |
//! |---|---|---|
//! | JWS / JWT / SD-JWT / KB-JWT | the JWS signing input `b64(header).b64(payload)` | the algorithm's hash (SHA-256 for ES256/RS256/PS256, SHA-384 for ES384, none for EdDSA) |
//! | COSE_Sign1 (mdoc MSO, DeviceAuth) | the `Sig_structure` bytes | as above |
//! | Data Integrity (all four suites) | `hash(proof config) ‖ hash(document)` (64 or 96 bytes) | as above: the suites sign these bytes, which the algorithm hashes again (ECDSA) or signs directly (EdDSA) |
//! | Data Integrity `ecdsa-sd-2023` base proof | `proofHash ‖ ephemeral public key (Multikey) ‖ mandatoryHash` (99 bytes) | SHA-256 (ES256; the statement signatures are the ephemeral key's, in software) |
//! | CSC `signHash` | a digest ([`SignInput::Digest`]) | nothing: the digest is signed as is (pre-hash mode) |
//!
//! Implementations: [`DeviceSigner`] over any [`inkan_device::CryptoDevice`] (the signing
//! module of the server wraps it with activation checks and the write-ahead log).

use crate::FormatError;
use inkan_device::{Algorithm, CryptoDevice, KeyHandle, PublicKey};
use std::sync::Arc;

/// Which key signs: the device handle, and what the format needs to name it.
#[derive(Debug, Clone)]
pub struct KeyRef {
    /// The device's handle.
    pub handle: KeyHandle,
    /// The algorithm the key is bound to.
    pub algorithm: Algorithm,
    /// Its public key (for `kid`, `did:key`, `x5c`, `cnf`, verification method ids).
    pub public_key: PublicKey,
    /// The key id to put in headers / verification methods, when the caller has one.
    pub kid: Option<String>,
    /// The certificate chain (DER, leaf first), when the format carries one (`x5c`, `x5chain`).
    pub certificate_chain: Vec<Vec<u8>>,
}

/// What to sign.
#[derive(Debug, Clone, Copy)]
pub enum SignInput<'a> {
    /// The message; the signer hashes it as the algorithm prescribes.
    Message(&'a [u8]),
    /// A digest made by the caller (CSC `signHash`); signed as is.
    Digest(&'a [u8]),
}

/// Makes signatures with keys it holds elsewhere (a device, a remote service).
#[async_trait::async_trait]
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// Signs `input` with `key`, returning the raw signature.
    async fn sign(&self, key: &KeyRef, input: SignInput<'_>) -> Result<Vec<u8>, FormatError>;
}

/// A [`Signer`] over a crypto device; device calls run on a blocking thread.
#[derive(Debug, Clone)]
pub struct DeviceSigner {
    device: Arc<dyn CryptoDevice>,
}

impl DeviceSigner {
    /// Signs with keys of `device`.
    pub fn new(device: Arc<dyn CryptoDevice>) -> Self {
        DeviceSigner { device }
    }
}

#[async_trait::async_trait]
impl Signer for DeviceSigner {
    async fn sign(&self, key: &KeyRef, input: SignInput<'_>) -> Result<Vec<u8>, FormatError> {
        let (device, handle, alg) = (self.device.clone(), key.handle.clone(), key.algorithm);
        let (bytes, pre_hashed) = match input {
            SignInput::Message(m) => (m.to_vec(), false),
            SignInput::Digest(d) => (d.to_vec(), true),
        };
        tokio::task::spawn_blocking(move || {
            if pre_hashed {
                device.sign_digest(&handle, alg, &bytes)
            } else {
                device.sign(&handle, alg, &bytes)
            }
        })
        .await
        .map_err(|e| FormatError::Signer(e.to_string()))?
        .map_err(FormatError::from)
    }
}
