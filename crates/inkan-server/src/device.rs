//! The crypto device as the service holds it (criteria 2.2.3, 2.1.3(12); issue 14 point 1).
//!
//! [`Device`] is the only handle on the crypto device anywhere in the service: every key
//! operation of [`CryptoDevice`] except signing, plus exactly these ways to a signature:
//!
//! - [`Device::sign_for_subscriber`], which takes a [`SignPermit`]. Only the signing module can
//!   make one (its fields are private to `crate::signing`), and it makes one only after the
//!   activation, the key and its status and the write-ahead entry have all been checked.
//! - [`Device::sign_own`], for Inkan's own keys through an [`OwnKey`], which `keys::own_keys`
//!   makes only from the registry record of the transparency log's key; a subscriber's key can
//!   never become one (the registry refuses the owner name `inkan` to anyone else). Each use
//!   names its [`OwnKeyUse`] and is logged.
//! - [`Device::certification_request`]: a PKCS#10 request over the key's own public key, for
//!   the host's `inkan keys csr` (written ahead to the transparency log as a signature by the
//!   key registry).
//! - Checks that return no signature: [`Device::import_checked`] and [`Device::check_signs`]
//!   sign a fresh random challenge to prove a key matches its public key, and
//!   [`Device::signing_rate_baseline`] signs with a throwaway key it makes and destroys, as
//!   does [`Device::self_test`] (`inkan device check`) for each capability it checks.
//!
//! What it must never do: hand the raw device out, or sign a caller's bytes with a key it is
//! given by anything but a permit or an own key. The test
//! `crates/inkan-server/tests/device_privacy.rs` keeps every other module of the service away
//! from the raw device; the `compile_fail` examples on [`SignPermit`] and [`OwnKey`] show that
//! neither can be made outside its module.

use crate::keys::own_keys::OwnKey;
use crate::signing::SignPermit;
use inkan_device::import::WrappingAlgorithm;
use inkan_device::{
    Algorithm, CryptoDevice, DeviceError, DeviceKey, DeviceKind, KeyHandle, KeySpec, PublicKey,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What Inkan signs with its own keys, named in its own server log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnKeyUse {
    /// A checkpoint of the transparency log (C2SP signed note).
    Checkpoint,
    /// The manifest of a backup archive.
    BackupManifest,
    /// An HTTP message Inkan POSTs to a destination (RFC 9421, `delivery::signature`).
    DeliveryMessage,
}

/// The crypto device, without a way to sign for just anyone (see the module documentation).
///
/// Inkan's own keys (the log key, the delivery key) live in the same device unless the
/// configuration names another for them (`[log] key_device`, for an HSM that cannot make
/// Ed25519 keys): they are generated there ([`Device::generate_own`]) and every operation on
/// a handle goes to the device that holds it.
#[derive(Clone)]
pub struct Device {
    raw: Arc<dyn CryptoDevice>,
    own: Option<Arc<dyn CryptoDevice>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("kind", &self.raw.kind())
            .field("own_keys", &self.own.as_ref().map(|d| d.kind()))
            .finish()
    }
}

impl Device {
    /// Takes the device the configuration opened; from here on nothing else holds it.
    pub fn new(raw: Arc<dyn CryptoDevice>) -> Self {
        Device { raw, own: None }
    }

    /// As [`new`](Self::new), with Inkan's own keys in `own` when given.
    pub fn with_own_keys(raw: Arc<dyn CryptoDevice>, own: Option<Arc<dyn CryptoDevice>>) -> Self {
        Device { raw, own }
    }

    /// Whether Inkan's own keys are in a device of their own.
    pub fn own_keys_apart(&self) -> bool {
        self.own.is_some()
    }

    /// The kind of the device that holds Inkan's own keys.
    pub fn own_keys_kind(&self) -> DeviceKind {
        self.own_device().kind()
    }

    fn own_device(&self) -> &Arc<dyn CryptoDevice> {
        self.own.as_ref().unwrap_or(&self.raw)
    }

    /// The device that holds `handle`: the own keys' device when it is apart and holds it,
    /// else the device. An own keys' device that cannot answer is an error, never taken for
    /// "not there" (a destruction must not be reported done on the wrong device).
    fn holder(&self, handle: &KeyHandle) -> Result<&Arc<dyn CryptoDevice>, DeviceError> {
        match &self.own {
            Some(own) if own.contains(handle)? => Ok(own),
            _ => Ok(&self.raw),
        }
    }

    /// Whether the device that holds Inkan's own keys holds `handle` (a start checks its own
    /// keys are where the configuration puts them).
    pub fn own_keys_hold(&self, handle: &KeyHandle) -> Result<bool, DeviceError> {
        self.own_device().contains(handle)
    }

    /// Whether both devices answer and the own keys' device holds `handle` (readiness: the log
    /// key is there, and the device that signs for subscribers answers too).
    pub fn answers_with(&self, handle: &KeyHandle) -> Result<bool, DeviceError> {
        if self.own.is_some() {
            // Any handle will do: the question is whether the device answers at all.
            self.raw
                .contains(&KeyHandle::from_bytes([0; inkan_device::HANDLE_BYTES]))?;
        }
        self.own_keys_hold(handle)
    }

    /// Generates one of Inkan's own keys, in the device that holds them (`keys::own_keys`).
    pub(crate) fn generate_own(
        &self,
        spec: KeySpec,
        label: &str,
    ) -> Result<DeviceKey, DeviceError> {
        self.own_device().generate(spec, label)
    }

    /// Which kind of device this is.
    pub fn kind(&self) -> DeviceKind {
        self.raw.kind()
    }

    /// Whether it is a certified crypto device (criteria 2.2.2(1)).
    pub fn is_certified(&self) -> bool {
        self.raw.is_certified()
    }

    /// Generates a key pair inside the device.
    pub fn generate(&self, spec: KeySpec, label: &str) -> Result<DeviceKey, DeviceError> {
        self.raw.generate(spec, label)
    }

    /// The public half of a key.
    pub fn public_key(&self, handle: &KeyHandle) -> Result<PublicKey, DeviceError> {
        self.holder(handle)?.public_key(handle)
    }

    /// Whether the device holds a key under `handle`.
    pub fn contains(&self, handle: &KeyHandle) -> Result<bool, DeviceError> {
        self.holder(handle)?.contains(handle)
    }

    /// Every key the device holds.
    pub fn handles(&self) -> Result<Vec<KeyHandle>, DeviceError> {
        self.raw.handles()
    }

    /// Destroys a key (idempotent).
    pub fn destroy(&self, handle: &KeyHandle) -> Result<(), DeviceError> {
        self.holder(handle)?.destroy(handle)
    }

    /// The import wrapping key.
    pub fn wrapping_public_key(&self) -> Result<PublicKey, DeviceError> {
        self.raw.wrapping_public_key()
    }

    /// A key wrapped for a backup under the device's trusted backup key.
    pub fn export_for_backup(&self, handle: &KeyHandle) -> Result<Vec<u8>, DeviceError> {
        self.holder(handle)?.export_for_backup(handle)
    }

    /// Puts a key from a backup back under its handle.
    pub fn restore_from_backup(
        &self,
        handle: &KeyHandle,
        public_key: &PublicKey,
        label: &str,
        wrapped: &[u8],
    ) -> Result<(), DeviceError> {
        self.raw
            .restore_from_backup(handle, public_key, label, wrapped)
    }

    /// Unwraps an imported key and keeps it only if it signs a fresh challenge that `expected`
    /// verifies (criteria 2.2.2(2)A-5); the challenge's signature never leaves.
    pub fn import_checked(
        &self,
        wrapped: &[u8],
        wrapping: WrappingAlgorithm,
        expected: &PublicKey,
        alg: Algorithm,
        label: &str,
    ) -> Result<DeviceKey, DeviceError> {
        inkan_device::import::import_checked(&*self.raw, wrapped, wrapping, expected, alg, label)
    }

    /// What the device can do of what Inkan needs ([`inkan_device::self_test`]): throwaway
    /// keys only, each destroyed; no signature leaves.
    pub fn self_test(&self) -> Vec<inkan_device::self_test::Check> {
        inkan_device::self_test::run(&*self.raw)
    }

    /// Checks that the key under `handle` signs for `public_key`, with a fresh random
    /// challenge whose signature never leaves (a restored key, before it is trusted).
    pub fn check_signs(
        &self,
        handle: &KeyHandle,
        alg: Algorithm,
        public_key: &PublicKey,
    ) -> Result<(), DeviceError> {
        let mut challenge = b"inkan key check\n".to_vec();
        challenge.extend_from_slice(crate::auth::random_secret(32).as_bytes());
        let signature = self.holder(handle)?.sign(handle, alg, &challenge)?;
        public_key.verify(alg, &challenge, &signature)
    }

    /// A PEM PKCS#10 request for the key under `handle`, over its own public key and
    /// `subject` (criteria 2.2.2(2)B-2). Only the key registry calls it, between a
    /// `signature.requested` entry and its result.
    pub(crate) fn certification_request(
        &self,
        handle: &KeyHandle,
        alg: Algorithm,
        subject: &str,
    ) -> Result<String, DeviceError> {
        inkan_device::csr::build_csr(&*self.raw, handle, alg, subject)
    }

    /// Signs for a subscriber: only with the key and inputs the signing module's permit names
    /// (criteria 2.2.3). A permit is used up here.
    pub fn sign_for_subscriber(&self, permit: SignPermit) -> Result<Vec<Vec<u8>>, DeviceError> {
        let (handle, alg) = (permit.handle(), permit.algorithm());
        permit
            .inputs()
            .iter()
            .map(|input| match input {
                crate::signing::Input::Digest { bytes, .. } => {
                    self.raw.sign_digest(handle, alg, bytes)
                }
                crate::signing::Input::Message(m) => self.raw.sign(handle, alg, m),
            })
            .collect()
    }

    /// Signs `message` with one of Inkan's own keys for `purpose`.
    pub fn sign_own(
        &self,
        key: &OwnKey,
        purpose: OwnKeyUse,
        message: &[u8],
    ) -> Result<Vec<u8>, DeviceError> {
        match purpose {
            OwnKeyUse::Checkpoint | OwnKeyUse::DeliveryMessage => {
                tracing::debug!(key = %key.id(), ?purpose, "signing with Inkan's own key")
            }
            OwnKeyUse::BackupManifest => {
                tracing::info!(key = %key.id(), ?purpose, "signing with Inkan's own key")
            }
        }
        self.own_device()
            .sign(key.handle(), key.algorithm(), message)
    }

    /// Signatures per second of this device with a throwaway key of `alg` made for the
    /// measurement (never registered, destroyed afterwards), one thread per core, for
    /// `duration`: the baseline `inkan bench` reports its ratios against. No signature leaves.
    pub fn signing_rate_baseline(
        &self,
        alg: Algorithm,
        duration: Duration,
    ) -> Result<f64, DeviceError> {
        let key = self
            .raw
            .generate(alg.key_spec(2048)?, "inkan-bench-baseline")?;
        let handle = key.handle;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        // A JWS signing input of a typical VC-JWT's size.
        let message = vec![b'e'; 400];
        let deadline = Instant::now() + duration;
        let count = AtomicU64::new(0);
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while Instant::now() < deadline {
                        if self.raw.sign(&handle, alg, &message).is_ok() {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        self.raw.destroy(&handle)?;
        Ok(rate)
    }
}
