//! A fresh SoftHSMv2 token for each test (and for the benchmarks, which include this file
//! with `#[path]`).
//!
//! Owns the test side of SoftHSM: the configuration file that `.cargo/config.toml` points
//! `SOFTHSM2_CONF` at (written here when missing, as `scripts/softhsm-conf` writes it), the
//! token folder under `target/`, and one new token with a unique label per call. It must
//! never touch the system's SoftHSM configuration or tokens, and never skip: without the
//! module the tests fail and say how to install it.
#![allow(dead_code)]

use inkan_device::pkcs11::{PinSource, Pkcs11Config, Pkcs11Device, init_test_token};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, SystemTime};

/// The module used when `INKAN_TEST_PKCS11_MODULE` is not set (Debian's `softhsm2`).
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The SO PIN of every test token.
pub const SO_PIN: &str = "inkan-test-so-pin";
/// The user PIN of every test token.
pub const USER_PIN: &str = "inkan-test-user-pin";
/// Sessions of each test device.
pub const SESSIONS: usize = 4;
/// Test tokens untouched for this long are left over from earlier runs and removed.
const STALE_TOKEN_AGE: Duration = Duration::from_secs(2 * 3600);

/// A freshly initialized test token.
#[derive(Debug, Clone)]
pub struct SoftHsmToken {
    /// The PKCS#11 module.
    pub module: PathBuf,
    /// The token's unique label.
    pub label: String,
}

impl SoftHsmToken {
    /// The device configuration for this token with the PIN from `pin`.
    pub fn config(&self, pin: PinSource) -> Pkcs11Config {
        Pkcs11Config {
            module: self.module.clone(),
            token_label: self.label.clone(),
            pin,
            sessions: SESSIONS,
        }
    }

    /// Opens a device on this token, its user PIN passed through a temporary PIN file.
    pub fn open(&self) -> Pkcs11Device {
        let mut pin_file = tempfile::NamedTempFile::new().expect("temp PIN file");
        std::io::Write::write_all(&mut pin_file, format!("{USER_PIN}\n").as_bytes())
            .expect("write PIN file");
        Pkcs11Device::open(&self.config(PinSource::File(pin_file.path().to_path_buf())))
            .unwrap_or_else(|e| panic!("opening the SoftHSM token {}: {e}", self.label))
    }
}

/// A device on a new SoftHSM token of its own.
pub fn softhsm_device() -> Pkcs11Device {
    softhsm_token().open()
}

/// The PKCS#11 module of the tests: `INKAN_TEST_PKCS11_MODULE`, or SoftHSM where Debian
/// installs it. Panics when it is missing.
pub fn module() -> PathBuf {
    let module = std::env::var_os("INKAN_TEST_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE));
    assert!(
        module.exists(),
        "the PKCS#11 module {} is missing: run `bash .ci/run` (it installs SoftHSMv2) or set \
         INKAN_TEST_PKCS11_MODULE to a PKCS#11 module",
        module.display()
    );
    module
}

/// Initializes a new token with a unique label in SoftHSM's free slot, with [`SO_PIN`] and
/// [`USER_PIN`].
pub fn softhsm_token() -> SoftHsmToken {
    static PREPARED: Once = Once::new();
    PREPARED.call_once(prepare_configuration);
    let module = module();
    let mut random = [0u8; 8];
    getrandom(&mut random);
    // Token labels are at most 32 bytes; 64 random bits keep them unique across runs.
    let label = format!("inkan-t-{}", hex::encode(random));
    init_test_token(&module, &label, SO_PIN, USER_PIN)
        .unwrap_or_else(|e| panic!("initializing the SoftHSM test token {label}: {e}"));
    SoftHsmToken { module, label }
}

fn getrandom(buf: &mut [u8]) {
    use rand_core::RngCore as _;
    rand_core::OsRng.fill_bytes(buf);
}

/// Makes sure the file `SOFTHSM2_CONF` names exists and its token folder too, and clears
/// tokens left by runs long past (SoftHSM reads every token at start-up and on each slot
/// listing, so they would slow every later run down).
fn prepare_configuration() {
    let conf = std::env::var_os("SOFTHSM2_CONF").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "SOFTHSM2_CONF is not set: run the tests through cargo (.cargo/config.toml sets it), \
             never against the system's SoftHSM configuration"
        )
    });
    let token_dir = match std::fs::read_to_string(&conf) {
        Ok(text) => text
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(key, _)| key.trim() == "directories.tokendir")
            .map(|(_, value)| PathBuf::from(value.trim()))
            .unwrap_or_else(|| panic!("{} names no directories.tokendir", conf.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_configuration(&conf),
        Err(e) => panic!("reading {}: {e}", conf.display()),
    };
    std::fs::create_dir_all(&token_dir)
        .unwrap_or_else(|e| panic!("creating {}: {e}", token_dir.display()));
    remove_stale_tokens(&token_dir);
}

/// Writes the configuration as `scripts/softhsm-conf` does: tokens in `tokens/` next to it.
fn write_configuration(conf: &Path) -> PathBuf {
    let dir = conf.parent().expect("SOFTHSM2_CONF has a parent folder");
    let token_dir = dir.join("tokens");
    std::fs::create_dir_all(&token_dir)
        .unwrap_or_else(|e| panic!("creating {}: {e}", token_dir.display()));
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
        token_dir.display()
    );
    // Written aside and renamed, so a test process starting at the same time never reads
    // half a file.
    let partial = dir.join(format!("softhsm2.conf.{}", std::process::id()));
    std::fs::write(&partial, text).unwrap_or_else(|e| panic!("writing {}: {e}", partial.display()));
    std::fs::rename(&partial, conf).unwrap_or_else(|e| panic!("writing {}: {e}", conf.display()));
    token_dir
}

fn remove_stale_tokens(token_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(token_dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok());
        if meta.is_dir() && age.is_some_and(|age| age > STALE_TOKEN_AGE) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
