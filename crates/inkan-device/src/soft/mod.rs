//! The software token: a [`CryptoDevice`] for development and tests.
//!
//! Layout of its folder (`[device] path`):
//! - `kek-check`, `kek.salt`: prove the key-encryption key (see [`kek`]);
//! - `keys/<handle>`: each private key as PKCS#8, sealed with AES-256-GCM under the KEK;
//! - `wrapping-key`: the RSA-3072 import wrapping key, sealed the same way.
//!
//! Unwrapped keys exist only in this process's memory, from first use until they are
//! destroyed or the process ends; they are never written anywhere. The token is **not a
//! certified crypto device** (criteria 2.2.2(1)): the server refuses it in production unless
//! `allow_software_device_in_production = true`.

mod kek;
mod keys;

pub use kek::KekSource;

use crate::import::WrappedKey;
use crate::{
    Algorithm, CryptoDevice, DeviceError, DeviceKey, DeviceKind, KeyHandle, KeySpec, PublicKey,
};
use kek::{Kek, write_private_file};
use keys::{LoadedKey, normalize_pkcs8};
use pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ring::rand::SystemRandom;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use zeroize::Zeroizing;

const WRAPPING_KEY_FILE: &str = "wrapping-key";
const WRAPPING_KEY_BITS: usize = 3072;

/// Settings of a software token.
#[derive(Debug, Clone)]
pub struct SoftConfig {
    /// Folder holding the sealed keys; created when absent.
    pub path: PathBuf,
    /// Where the key-encryption key comes from.
    pub kek: KekSource,
}

/// The software token.
pub struct SoftDevice {
    dir: PathBuf,
    kek: Kek,
    rng: SystemRandom,
    loaded: RwLock<HashMap<KeyHandle, Arc<LoadedKey>>>,
    wrapping_key: Mutex<Option<Arc<rsa::RsaPrivateKey>>>,
}

impl std::fmt::Debug for SoftDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftDevice")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SoftDevice {
    /// Opens (creating when absent) the token in `config.path`.
    pub fn open(config: &SoftConfig) -> Result<Self, DeviceError> {
        // Owner-only: the sealed files are encrypted, but nobody else needs to list them.
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(config.path.join("keys"))?;
        let kek = Kek::open(&config.path, &config.kek)?;
        Ok(SoftDevice {
            dir: config.path.clone(),
            kek,
            rng: SystemRandom::new(),
            loaded: RwLock::new(HashMap::new()),
            wrapping_key: Mutex::new(None),
        })
    }

    /// The sealed file of a key. A handle that is not well formed is refused here, so a
    /// handle can never name a path outside `keys/`.
    fn key_path(&self, handle: &KeyHandle) -> Result<PathBuf, DeviceError> {
        match handle.to_bytes() {
            Some(_) => Ok(self.dir.join("keys").join(handle.as_str())),
            None => Err(DeviceError::KeyNotFound(handle.to_string())),
        }
    }

    /// What is sealed for each key: the spec line, then the PKCS#8 bytes.
    fn seal_key(&self, handle: &KeyHandle, spec: KeySpec, pkcs8: &[u8]) -> Result<(), DeviceError> {
        let mut plain = Zeroizing::new(format!("{spec}\n").into_bytes());
        plain.extend_from_slice(pkcs8);
        let sealed = self.kek.seal(&format!("keys/{handle}"), &plain)?;
        write_private_file(&self.key_path(handle)?, &sealed)
    }

    /// The key under `handle`, unwrapping it into memory on first use.
    ///
    /// The first use reads the sealed file while holding the write lock, the lock
    /// [`destroy`](CryptoDevice::destroy) holds while it removes the file: a load and a
    /// destruction never interleave, so a destroyed key can never be put back in the cache
    /// by a load that read its file just before.
    fn loaded(&self, handle: &KeyHandle) -> Result<Arc<LoadedKey>, DeviceError> {
        if let Some(key) = self.loaded.read().map_err(poisoned)?.get(handle) {
            return Ok(key.clone());
        }
        let mut loaded = self.loaded.write().map_err(poisoned)?;
        if let Some(key) = loaded.get(handle) {
            return Ok(key.clone());
        }
        let path = self.key_path(handle)?;
        let sealed = match fs::read(&path) {
            Ok(sealed) => sealed,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DeviceError::KeyNotFound(handle.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let plain = self.kek.open_sealed(&format!("keys/{handle}"), &sealed)?;
        let split = plain
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| corrupt(handle))?;
        let spec: KeySpec = std::str::from_utf8(&plain[..split])
            .map_err(|_| corrupt(handle))?
            .parse()?;
        let key = Arc::new(LoadedKey::from_pkcs8(spec, &plain[split + 1..], &self.rng)?);
        loaded.insert(handle.clone(), key.clone());
        Ok(key)
    }

    fn insert_new(
        &self,
        spec: KeySpec,
        key: LoadedKey,
        pkcs8: &[u8],
    ) -> Result<DeviceKey, DeviceError> {
        let handle = KeyHandle::random();
        self.seal_key(&handle, spec, pkcs8)?;
        let public_key = key.public_key().clone();
        self.loaded
            .write()
            .map_err(poisoned)?
            .insert(handle.clone(), Arc::new(key));
        Ok(DeviceKey { handle, public_key })
    }

    /// The import wrapping key, created and sealed on first use.
    fn wrapping_private_key(&self) -> Result<Arc<rsa::RsaPrivateKey>, DeviceError> {
        let mut slot = self.wrapping_key.lock().map_err(poisoned)?;
        if let Some(key) = slot.as_ref() {
            return Ok(key.clone());
        }
        let path = self.dir.join(WRAPPING_KEY_FILE);
        let key = match fs::read(&path) {
            Ok(sealed) => {
                let der = self.kek.open_sealed(WRAPPING_KEY_FILE, &sealed)?;
                rsa::RsaPrivateKey::from_pkcs8_der(&der)
                    .map_err(|e| DeviceError::Crypto(format!("wrapping key: {e}")))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, WRAPPING_KEY_BITS)
                    .map_err(|e| {
                        DeviceError::Crypto(format!("generating the wrapping key: {e}"))
                    })?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|e| DeviceError::Crypto(e.to_string()))?;
                write_private_file(&path, &self.kek.seal(WRAPPING_KEY_FILE, der.as_bytes())?)?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        let key = Arc::new(key);
        *slot = Some(key.clone());
        Ok(key)
    }
}

fn poisoned<T>(_: T) -> DeviceError {
    DeviceError::Crypto("a soft-token lock was poisoned by a panic".into())
}

fn corrupt(handle: &KeyHandle) -> DeviceError {
    DeviceError::Crypto(format!("sealed key {handle} is corrupt"))
}

impl CryptoDevice for SoftDevice {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Soft
    }

    fn is_certified(&self) -> bool {
        false
    }

    fn generate(&self, spec: KeySpec, _label: &str) -> Result<DeviceKey, DeviceError> {
        let (key, pkcs8) = LoadedKey::generate(spec, &self.rng)?;
        self.insert_new(spec, key, &pkcs8)
    }

    fn sign(
        &self,
        handle: &KeyHandle,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, DeviceError> {
        self.loaded(handle)?.sign(alg, message, &self.rng)
    }

    fn sign_digest(
        &self,
        handle: &KeyHandle,
        alg: Algorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, DeviceError> {
        self.loaded(handle)?.sign_digest(alg, digest)
    }

    fn public_key(&self, handle: &KeyHandle) -> Result<PublicKey, DeviceError> {
        Ok(self.loaded(handle)?.public_key().clone())
    }

    fn contains(&self, handle: &KeyHandle) -> Result<bool, DeviceError> {
        if self.loaded.read().map_err(poisoned)?.contains_key(handle) {
            return Ok(true);
        }
        match self.key_path(handle) {
            Ok(path) => Ok(path.exists()),
            Err(_) => Ok(false),
        }
    }

    fn handles(&self) -> Result<Vec<KeyHandle>, DeviceError> {
        let mut handles = Vec::new();
        for entry in fs::read_dir(self.dir.join("keys"))? {
            let name = entry?.file_name();
            let handle = KeyHandle::new(name.to_string_lossy());
            // Leftover temporary files of an interrupted write are not keys.
            if self.key_path(&handle).is_ok() {
                handles.push(handle);
            }
        }
        handles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(handles)
    }

    fn wrapping_public_key(&self) -> Result<PublicKey, DeviceError> {
        Ok(PublicKey::Rsa(self.wrapping_private_key()?.to_public_key()))
    }

    fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        public_key: &PublicKey,
        _label: &str,
    ) -> Result<KeyHandle, DeviceError> {
        let spec = public_key.spec();
        let refused = || {
            DeviceError::InvalidInput(
                "the wrapped key could not be unwrapped with this device's wrapping key".into(),
            )
        };
        let wrapping_key = self.wrapping_private_key()?;
        let aes_key = Zeroizing::new(
            wrapping_key
                .decrypt(wrapped.algorithm.oaep(), &wrapped.encrypted_aes_key)
                .map_err(|_| refused())?,
        );
        let aes_key: [u8; 32] = aes_key.as_slice().try_into().map_err(|_| refused())?;
        let aes_key = Zeroizing::new(aes_key);
        let pkcs8 = Zeroizing::new(
            aes_kw::KekAes256::from(*aes_key)
                .unwrap_with_padding_vec(&wrapped.wrapped_pkcs8)
                .map_err(|_| refused())?,
        );
        let pkcs8 = normalize_pkcs8(spec, &pkcs8)?;
        let key = LoadedKey::from_pkcs8(spec, &pkcs8, &self.rng)?;
        Ok(self.insert_new(spec, key, &pkcs8)?.handle)
    }

    fn destroy(&self, handle: &KeyHandle) -> Result<(), DeviceError> {
        // Held until the file is gone: see `loaded`.
        let mut loaded = self.loaded.write().map_err(poisoned)?;
        loaded.remove(handle);
        let path = match self.key_path(handle) {
            Ok(path) => path,
            Err(_) => return Ok(()),
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        fs::File::open(self.dir.join("keys"))?.sync_all()?;
        Ok(())
    }
}
