//! The software token's key-encryption key (KEK) and the sealed files it protects.
//!
//! The KEK is 32 bytes, either read from a file that is created with mode 0600 on first start,
//! or derived from a passphrase with Argon2id and a per-token salt. It lives only in a
//! zeroizing buffer. Everything the token writes to disk is sealed with AES-256-GCM under
//! it, with the file's purpose and name as associated data so that sealed files cannot be
//! swapped for one another. This module must never write unsealed key material.

use crate::DeviceError;
pub(crate) use crate::sealing::write_private_file;
use crate::sealing::{KEY_LEN, SealingKey, read_or_create_key_file};
use rand_core::{OsRng, RngCore as _};
use secrecy::{ExposeSecret as _, SecretString};
use std::fs;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where the KEK comes from.
#[derive(Debug, Clone)]
pub enum KekSource {
    /// A file of 32 random bytes, created with mode 0600 when absent. A file readable by
    /// group or others is refused.
    File(PathBuf),
    /// A passphrase, stretched with Argon2id (64 MiB, 3 passes) and the token's salt.
    Passphrase(SecretString),
}

/// The unwrapped KEK, able to seal and open the token's files.
#[derive(Debug)]
pub(crate) struct Kek(SealingKey);

/// The associated-data domain of the token's sealed files.
const DOMAIN: &str = "inkan-soft-token/v1";
const SALT_FILE: &str = "kek.salt";
const CHECK_FILE: &str = "kek-check";
const CHECK_PLAINTEXT: &[u8] = b"inkan soft token: key-encryption key check v1";

impl Kek {
    /// Obtains the KEK for the token in `dir` and proves it is the one the token was created
    /// with (a sealed check value is written on first start and opened on every later one).
    pub(crate) fn open(dir: &Path, source: &KekSource) -> Result<Self, DeviceError> {
        let key = match source {
            KekSource::File(path) => read_or_create_key_file(path)?,
            KekSource::Passphrase(passphrase) => derive_from_passphrase(dir, passphrase)?,
        };
        let kek = Kek(SealingKey::new(&key, DOMAIN)?);
        let check = dir.join(CHECK_FILE);
        if check.exists() {
            let sealed = fs::read(&check)?;
            let opened = kek.open_sealed(CHECK_FILE, &sealed).map_err(|_| {
                DeviceError::Kek(
                    "this is not the key-encryption key the soft token was created with".into(),
                )
            })?;
            if opened.as_slice() != CHECK_PLAINTEXT {
                return Err(DeviceError::Kek(
                    "the soft token's KEK check value is corrupt".into(),
                ));
            }
        } else {
            let sealed = kek.seal(CHECK_FILE, CHECK_PLAINTEXT)?;
            write_private_file(&check, &sealed)?;
        }
        Ok(kek)
    }

    /// Seals `plaintext` for the file called `name`: `base64(nonce ‖ AES-256-GCM ciphertext)`.
    pub(crate) fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, DeviceError> {
        self.0.seal(name, plaintext)
    }

    /// Opens what [`seal`](Self::seal) wrote for `name`.
    pub(crate) fn open_sealed(
        &self,
        name: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, DeviceError> {
        self.0.open(name, sealed)
    }
}

fn derive_from_passphrase(
    dir: &Path,
    passphrase: &SecretString,
) -> Result<Zeroizing<[u8; KEY_LEN]>, DeviceError> {
    if passphrase.expose_secret().len() < 12 {
        return Err(DeviceError::Kek(
            "the KEK passphrase must be at least 12 characters".into(),
        ));
    }
    let salt_path = dir.join(SALT_FILE);
    let salt = match fs::read(&salt_path) {
        Ok(salt) => salt,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut salt = vec![0u8; 16];
            OsRng.fill_bytes(&mut salt);
            write_private_file(&salt_path, &salt)?;
            salt
        }
        Err(e) => return Err(e.into()),
    };
    let params = argon2::Params::new(64 * 1024, 3, 1, Some(KEY_LEN))
        .map_err(|e| DeviceError::Kek(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase.expose_secret().as_bytes(), &salt, key.as_mut())
        .map_err(|e| DeviceError::Kek(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        let source = KekSource::File(path.clone());
        let kek = Kek::open(dir.path(), &source).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let sealed = kek.seal("a", b"secret").unwrap();
        let again = Kek::open(dir.path(), &source).unwrap();
        assert_eq!(
            again.open_sealed("a", &sealed).unwrap().as_slice(),
            b"secret"
        );
        assert!(
            again.open_sealed("b", &sealed).is_err(),
            "sealed files are bound to their name"
        );
    }

    #[test]
    fn a_loose_key_file_or_another_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        Kek::open(dir.path(), &KekSource::File(path.clone())).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Kek::open(dir.path(), &KekSource::File(path.clone())),
            Err(DeviceError::Kek(_))
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, [9u8; 32]).unwrap();
        let err = Kek::open(dir.path(), &KekSource::File(path)).unwrap_err();
        assert!(
            err.to_string().contains("not the key-encryption key"),
            "{err}"
        );
    }

    #[test]
    fn passphrase_kek_opens_with_the_same_passphrase_only() {
        let dir = tempfile::tempdir().unwrap();
        let good = KekSource::Passphrase(SecretString::from("correct horse battery staple"));
        let sealed = Kek::open(dir.path(), &good)
            .unwrap()
            .seal("x", b"data")
            .unwrap();
        let kek = Kek::open(dir.path(), &good).unwrap();
        assert_eq!(kek.open_sealed("x", &sealed).unwrap().as_slice(), b"data");
        let bad = KekSource::Passphrase(SecretString::from("incorrect horse battery"));
        assert!(Kek::open(dir.path(), &bad).is_err());
    }
}
