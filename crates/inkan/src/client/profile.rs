//! A client profile: one folder that says which service to talk to and as whom, and keeps the
//! session between commands.
//!
//! `profile.json` (written by `inkan client init` or `inkan serve --dev`) names the service's
//! URL and certificate, the client certificate (`identity`, for mutual TLS) and, for a person,
//! the username and where their password, authenticator seed and PIN may be read from.
//! `state.json` holds the session (the DPoP key as PKCS#8, the access and refresh tokens) and
//! the last one-time-password step used; it is written whole, through a temporary file, with
//! mode 0600 in a folder of mode 0700. Must never print, log or `Debug` a secret.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_server::client::ProofKey;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// Largest profile, state or secret file read.
const MAX_FILE: u64 = 256 * 1024;

/// Where a profile lives: `--profile`, `INKAN_CLIENT_PROFILE`, or `~/.config/inkan/client`.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("inkan").join("client")
}

/// `profile.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The service's public URL.
    pub url: String,
    /// The service's TLS certificate (or its CA), PEM; trusted alone, never the OS roots.
    pub server_certificate: PathBuf,
    /// A client certificate and its key, PEM (a terminal's or a system client's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<PathBuf>,
    /// A person's username; without it the profile is a system client (mutual TLS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A file holding the password (else asked on the terminal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// A file holding the TOTP seed (base32): the client then plays the authenticator app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_seed_file: Option<PathBuf>,
    /// A file holding the signing PIN of the profile's keys (else asked on the terminal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_file: Option<PathBuf>,
}

/// The session kept between commands.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// The current session, if logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<StoredSession>,
    /// The last TOTP step this profile used: the service accepts each step once, so the next
    /// code must be of a later step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_otp_step: Option<i64>,
}

/// A session as stored: secrets are wiped from memory when dropped.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSession {
    /// The DPoP key, PKCS#8 base64url (none for a certificate-bound token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_key: Option<String>,
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix seconds).
    pub expires_at: i64,
}

impl Drop for StoredSession {
    fn drop(&mut self) {
        self.dpop_key.zeroize();
        self.access_token.zeroize();
        self.refresh_token.zeroize();
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("session", &self.session.as_ref().map(|_| "[redacted]"))
            .field("last_otp_step", &self.last_otp_step)
            .finish()
    }
}

impl StoredSession {
    /// The stored form of `session` (whose DPoP key's PKCS#8 is `pkcs8`).
    pub fn new(session: &crate::api_client::Session, pkcs8: Option<&[u8]>) -> Self {
        StoredSession {
            dpop_key: pkcs8.map(|der| URL_SAFE_NO_PAD.encode(der)),
            access_token: session.access.clone(),
            refresh_token: session.refresh.clone(),
            expires_at: session.expires_at,
        }
    }

    /// The session for requests, with its DPoP key.
    pub fn to_session(&self) -> Result<crate::api_client::Session, String> {
        Ok(crate::api_client::Session {
            key: self.proof_key()?,
            access: self.access_token.clone(),
            refresh: self.refresh_token.clone(),
            expires_at: self.expires_at,
        })
    }

    /// The DPoP key, if the session has one.
    pub fn proof_key(&self) -> Result<Option<ProofKey>, String> {
        self.dpop_key
            .as_deref()
            .map(|text| {
                let der = Zeroizing::new(
                    URL_SAFE_NO_PAD
                        .decode(text)
                        .map_err(|_| "the stored DPoP key is not base64url")?,
                );
                ProofKey::from_pkcs8(&der).map_err(|e| e.to_string())
            })
            .transpose()
    }
}

/// A profile folder.
#[derive(Debug)]
pub struct Profile {
    /// The folder.
    pub dir: PathBuf,
    /// `profile.json`.
    pub settings: Settings,
}

impl Profile {
    /// Writes a new profile to `dir` (created with mode 0700).
    pub fn create(dir: &Path, settings: Settings) -> Result<Profile, String> {
        create_private_dir(dir)?;
        let text = serde_json::to_vec_pretty(&settings).map_err(|e| e.to_string())?;
        write_private(&dir.join("profile.json"), &text)?;
        Ok(Profile {
            dir: dir.to_owned(),
            settings,
        })
    }

    /// Rewrites `profile.json` with the current settings.
    pub fn save_settings(&self) -> Result<(), String> {
        let text = serde_json::to_vec_pretty(&self.settings).map_err(|e| e.to_string())?;
        write_private(&self.dir.join("profile.json"), &text)
    }

    /// Holds the profile for one command: an exclusive lock on `<profile>/lock`, so that two
    /// commands never both refresh the session (the service takes a refresh token used twice
    /// for a stolen one and ends the session) or both use one TOTP step. Released when the
    /// returned file is dropped.
    pub fn lock(dir: &Path) -> Result<std::fs::File, String> {
        let path = dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        file.lock()
            .map_err(|e| format!("locking {}: {e}", path.display()))?;
        Ok(file)
    }

    /// Reads the profile in `dir`.
    pub fn open(dir: &Path) -> Result<Profile, String> {
        let path = dir.join("profile.json");
        let bytes = read_limited(&path).map_err(|e| {
            format!("{e} (make a profile with `inkan client init`, or name one with --profile)")
        })?;
        let settings: Settings =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        check_url(&settings.url)?;
        Ok(Profile {
            dir: dir.to_owned(),
            settings,
        })
    }

    /// A path of the profile, relative ones taken from its folder.
    pub fn path(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.dir.join(path)
        }
    }

    /// The service's certificate, PEM.
    pub fn server_certificate(&self) -> Result<Vec<u8>, String> {
        read_limited(&self.path(&self.settings.server_certificate))
    }

    /// The client certificate and key, PEM, if the profile has one.
    pub fn identity(&self) -> Result<Option<Zeroizing<String>>, String> {
        self.settings
            .identity
            .as_ref()
            .map(|path| read_secret(&self.path(path)))
            .transpose()
    }

    /// The stored state (empty when there is none yet).
    pub fn state(&self) -> Result<State, String> {
        let path = self.dir.join("state.json");
        if !path.exists() {
            return Ok(State::default());
        }
        let bytes = Zeroizing::new(read_limited(&path)?);
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Replaces the stored state.
    pub fn save_state(&self, state: &State) -> Result<(), String> {
        let text = Zeroizing::new(serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?);
        write_private(&self.dir.join("state.json"), &text)
    }
}

/// Refuses a service URL that is not `https://`: a password, PIN or token never travels in
/// the clear.
pub fn check_url(url: &str) -> Result<(), String> {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.scheme() == "https" && parsed.host().is_some() => Ok(()),
        _ => Err(format!("{url:?} is not an https:// URL of a service")),
    }
}

/// Reads a secret from a file: its first line, without the line ending.
pub fn read_secret(path: &Path) -> Result<Zeroizing<String>, String> {
    let bytes = Zeroizing::new(read_limited(path)?);
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("{} is not UTF-8", path.display()))?;
    let first = text.lines().next().unwrap_or_default();
    if first.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    // A PEM identity is read whole; other secrets are one line.
    if text.starts_with("-----BEGIN") {
        return Ok(Zeroizing::new(text.to_owned()));
    }
    Ok(Zeroizing::new(first.to_owned()))
}

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    read_at_most(path, MAX_FILE)
}

/// The file at `path` (`-`: standard input), refused when it is larger than `max` bytes.
pub fn read_at_most(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().take(max + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| format!("reading {}: {e}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(format!("{} is larger than {max} bytes", path.display()));
    }
    Ok(bytes)
}

/// Creates `dir` (and its parents) with mode 0700 for the last part. An existing `dir` must
/// be a real folder (not a link) of mode 0700 already: it is never changed, so that a profile
/// named `.` or `~` cannot make a shared folder private, or a link redirect one.
pub fn create_private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => {
            if !meta.is_dir() {
                return Err(format!("{} is not a folder", dir.display()));
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(format!(
                        "{} is open to others: a profile folder must be its owner's alone \
                         (chmod 700, or name a new folder)",
                        dir.display()
                    ));
                }
            }
            Ok(())
        }
        Err(_) => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("creating {}: {e}", parent.display()))?;
            }
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder
                .create(dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))
        }
    }
}

/// Writes `bytes` to `path` whole (a temporary file in the same folder, then a rename), with
/// mode 0600 from the start.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    // tempfile creates with mode 0600.
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("writing in {}: {e}", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    file.persist(path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(())
}
