//! Sealing small secrets at rest with AES-256-GCM under a 32-byte key, and writing private
//! files.
//!
//! One job: the software token seals its key files with it (`soft::kek`), and the service
//! seals its own secrets (TOTP seeds) with a key of its own. Every sealed value is bound to a
//! domain and a name through the associated data, so one cannot be swapped for another. The
//! key lives only in the cipher state and a zeroizing buffer; this module must never write
//! an unsealed secret or log one.

use crate::DeviceError;
use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit as _, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::{OsRng, RngCore as _};
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use zeroize::Zeroizing;

/// Length of a sealing key.
pub const KEY_LEN: usize = 32;

/// A key that seals and opens values for one domain.
pub struct SealingKey {
    cipher: Aes256Gcm,
    domain: &'static str,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey({}, [redacted])", self.domain)
    }
}

impl SealingKey {
    /// A sealing key for `domain` (e.g. `inkan-soft-token/v1`) from raw key bytes.
    pub fn new(key: &[u8; KEY_LEN], domain: &'static str) -> Result<Self, DeviceError> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|e| DeviceError::Kek(e.to_string()))?;
        Ok(SealingKey { cipher, domain })
    }

    /// The key in the file at `path` (32 random bytes, created with mode 0600 and an
    /// owner-only folder when absent; refused when readable by group or others).
    pub fn from_key_file(path: &Path, domain: &'static str) -> Result<Self, DeviceError> {
        let key = read_or_create_key_file(path)?;
        Self::new(&key, domain)
    }

    /// Seals `plaintext` for the file called `name`: `base64(nonce ‖ AES-256-GCM ciphertext)`.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, DeviceError> {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: self.aad(name).as_bytes(),
                },
            )
            .map_err(|_| DeviceError::Crypto("sealing failed".into()))?;
        Ok(STANDARD
            .encode([&nonce[..], &ciphertext].concat())
            .into_bytes())
    }

    /// Opens what [`seal`](Self::seal) wrote for `name`.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, DeviceError> {
        let corrupt = || DeviceError::Crypto(format!("sealed value {name} cannot be opened"));
        let bytes = STANDARD
            .decode(sealed.trim_ascii())
            .map_err(|_| corrupt())?;
        if bytes.len() < 12 + 16 {
            return Err(corrupt());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| corrupt())?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: self.aad(name).as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| corrupt())
    }

    fn aad(&self, name: &str) -> String {
        format!("{}/{name}", self.domain)
    }
}

/// Reads the 32-byte key file at `path`, creating it (mode 0600) when absent.
pub(crate) fn read_or_create_key_file(
    path: &Path,
) -> Result<Zeroizing<[u8; KEY_LEN]>, DeviceError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    match fs::metadata(path) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(DeviceError::Kek(format!(
                    "{} is readable by group or others; it must be mode 0600",
                    path.display()
                )));
            }
            let bytes = Zeroizing::new(fs::read(path)?);
            if bytes.len() != KEY_LEN {
                return Err(DeviceError::Kek(format!(
                    "{} must hold exactly {KEY_LEN} bytes",
                    path.display()
                )));
            }
            key.copy_from_slice(&bytes);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            OsRng.fill_bytes(key.as_mut());
            if let Some(folder) = path.parent().filter(|f| !f.as_os_str().is_empty()) {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(folder)?;
            }
            write_private_file(path, key.as_ref())?;
            tracing::info!(path = %path.display(), "created a new key file");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(key)
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename, fsync of the folder),
/// readable only by the owner; a missing folder is created owner-only.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), DeviceError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}
