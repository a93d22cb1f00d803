//! The backup archive and its key shares, as bytes (criteria 2.2.2(4), 2.1.3(13)).
//!
//! An archive is four parts: the line `inkan-backup/1`, the manifest (one line of JSON, in the
//! clear: what is inside, the log head it was taken at, the digest of the ciphertext), the
//! manifest's Ed25519 signature by the deployment's log key (base64, one line), and the
//! ciphertext: the payload sealed (AES-256-GCM, `inkan_device::sealing`) under a random
//! archive key. The archive key exists only as Shamir shares ([`Share`], `blahaj`): M of the
//! N key officers' shares open the archive; fewer reveal nothing.
//!
//! Owns the format, parsing with limits, and the shares. Must never: write the archive key
//! anywhere but into shares, or accept a manifest whose digest or signature does not hold.

use super::BackupError;
use crate::environment::Environment;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use inkan_device::sealing::SealingKey;
use inkan_store::backup::TableRows;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// The first line of every archive.
pub const FORMAT: &str = "inkan-backup/1";
/// The first word of every share.
const SHARE_FORMAT: &str = "inkan-backup-share/1";
/// The sealing domain of payloads.
const SEAL_DOMAIN: &str = "inkan-backup/1";
/// Longest manifest line, bytes.
const MAX_MANIFEST: usize = 64 * 1024;
/// Most shares.
pub const MAX_SHARES: u8 = 16;

/// What an archive holds and where it came from (in the clear, signed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// `bak_…`.
    pub id: String,
    /// The deployment's environment; a restore elsewhere is refused.
    pub environment: Environment,
    /// `sqlite` or `postgres`; a restore into the other engine is refused.
    pub engine: String,
    /// The device kind (`soft`).
    pub device: String,
    /// When it was taken (Unix milliseconds).
    pub created_at: i64,
    /// The log's origin.
    pub log_origin: String,
    /// The log's size in the snapshot: entries from here on came after the backup.
    pub log_size: u64,
    /// The log key's public key (SPKI, base64), which signs this manifest.
    pub log_key_spki: String,
    /// Shares needed (M).
    pub threshold: u8,
    /// Shares made (N).
    pub shares: u8,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    /// Files (device, KEK, secrets) in the payload.
    pub files: u64,
    /// SHA-256 of the ciphertext, hex.
    pub ciphertext_sha256: String,
}

/// A file of the deployment, as the payload carries it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// `device` (under the soft token's folder), `kek`, `secrets` or `activation`.
    pub role: String,
    /// For `device`: the path inside the token's folder.
    pub path: String,
    /// The bytes, base64 (sealed key files stay sealed under the KEK).
    pub bytes: String,
}

/// What the ciphertext holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// Every table's rows.
    pub tables: Vec<TableRows>,
    /// The files.
    pub files: Vec<FileEntry>,
}

impl std::fmt::Debug for FileEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileEntry")
            .field("role", &self.role)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("tables", &self.tables.len())
            .field("files", &self.files)
            .finish()
    }
}

/// An archive read back: its parts, checked for form and digest (not yet for signature).
#[derive(Debug, Clone)]
pub struct Archive {
    /// The manifest.
    pub manifest: Manifest,
    /// The manifest line as signed.
    pub manifest_line: String,
    /// The signature.
    pub signature: Vec<u8>,
    /// The sealed payload.
    pub ciphertext: Vec<u8>,
}

/// One key officer's share of an archive key.
#[derive(Clone)]
pub struct Share {
    /// The archive it opens.
    pub archive: String,
    /// Its number (1..=N).
    pub index: u8,
    /// The share's bytes (blahaj format).
    pub bytes: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("archive", &self.archive)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Share {
    /// The share as a line of text: `inkan-backup-share/1 <archive> <i> <base64>`.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{SHARE_FORMAT} {} {} {}\n",
            self.archive,
            self.index,
            B64.encode(self.bytes.as_slice())
        ))
    }

    /// Parses [`to_text`](Self::to_text).
    pub fn parse(text: &str) -> Result<Share, BackupError> {
        let bad = || BackupError::Invalid("not a backup share".into());
        let mut parts = text.trim().split(' ');
        if parts.next() != Some(SHARE_FORMAT) {
            return Err(bad());
        }
        let archive = parts.next().ok_or_else(bad)?.to_owned();
        let index = parts.next().and_then(|i| i.parse().ok()).ok_or_else(bad)?;
        let bytes = Zeroizing::new(
            B64.decode(parts.next().ok_or_else(bad)?)
                .map_err(|_| bad())?,
        );
        if parts.next().is_some() || bytes.len() > 64 {
            return Err(bad());
        }
        Ok(Share {
            archive,
            index,
            bytes,
        })
    }
}

/// A new archive key and its `n` shares, `m` of which open it.
pub fn split(
    archive: &str,
    m: u8,
    n: u8,
) -> Result<(Zeroizing<[u8; 32]>, Vec<Share>), BackupError> {
    if m == 0 || m > n || n > MAX_SHARES {
        return Err(BackupError::Invalid(format!(
            "shares: 1 <= threshold <= shares <= {MAX_SHARES}"
        )));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, key.as_mut_slice());
    let dealer = blahaj::Sharks(m).dealer(key.as_slice());
    let shares = dealer
        .take(usize::from(n))
        .enumerate()
        .map(|(i, share)| Share {
            archive: archive.into(),
            index: u8::try_from(i + 1).unwrap_or(u8::MAX),
            bytes: Zeroizing::new(Vec::from(&share)),
        })
        .collect();
    Ok((key, shares))
}

/// The archive key from `shares` (at least the manifest's threshold, all of this archive).
pub fn combine(manifest: &Manifest, shares: &[Share]) -> Result<Zeroizing<[u8; 32]>, BackupError> {
    let mut seen = std::collections::BTreeSet::new();
    for share in shares {
        if share.archive != manifest.id {
            return Err(BackupError::Invalid(format!(
                "share {} is of archive {}, not {}",
                share.index, share.archive, manifest.id
            )));
        }
        if !seen.insert(share.index) {
            return Err(BackupError::Invalid(format!(
                "share {} given twice",
                share.index
            )));
        }
    }
    if seen.len() < usize::from(manifest.threshold) {
        return Err(BackupError::Invalid(format!(
            "{} of {} shares given; this archive needs {}",
            seen.len(),
            manifest.shares,
            manifest.threshold
        )));
    }
    let parsed = shares
        .iter()
        .map(|s| blahaj::Share::try_from(s.bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BackupError::Invalid(format!("a share does not parse: {e}")))?;
    let secret = Zeroizing::new(
        blahaj::Sharks(manifest.threshold)
            .recover(&parsed)
            .map_err(|e| BackupError::Invalid(format!("the shares do not combine: {e}")))?,
    );
    let key: [u8; 32] = secret
        .as_slice()
        .try_into()
        .map_err(|_| BackupError::Invalid("the shares do not combine to a key".into()))?;
    Ok(Zeroizing::new(key))
}

/// Seals `payload` under `key` for archive `id`.
pub fn seal(key: &[u8; 32], id: &str, payload: &Payload) -> Result<Vec<u8>, BackupError> {
    let json = Zeroizing::new(
        serde_json::to_vec(payload).map_err(|e| BackupError::Invalid(e.to_string()))?,
    );
    Ok(SealingKey::new(key, SEAL_DOMAIN)?.seal(id, &json)?)
}

/// Opens the payload; `Invalid` when the key (the shares) does not open it.
pub fn open(key: &[u8; 32], archive: &Archive) -> Result<Payload, BackupError> {
    let json = SealingKey::new(key, SEAL_DOMAIN)?
        .open(&archive.manifest.id, &archive.ciphertext)
        .map_err(|_| {
            BackupError::Invalid("the shares do not open this archive (or it was altered)".into())
        })?;
    serde_json::from_slice(&json)
        .map_err(|e| BackupError::Invalid(format!("the payload does not parse: {e}")))
}

/// The digest the manifest names for `ciphertext`.
pub fn digest(ciphertext: &[u8]) -> String {
    hex::encode(Sha256::digest(ciphertext))
}

/// The archive's bytes.
pub fn encode(manifest_line: &str, signature: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(manifest_line.len() + ciphertext.len() + 200);
    out.extend_from_slice(FORMAT.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(manifest_line.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(B64.encode(signature).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(ciphertext);
    out
}

/// Reads an archive: its form, the manifest, and that the ciphertext is the one the manifest
/// names. The signature is the caller's to check (it needs the trusted log key).
pub fn decode(bytes: &[u8]) -> Result<Archive, BackupError> {
    let bad = |what: &str| BackupError::Invalid(format!("not an Inkan backup: {what}"));
    let mut rest = bytes;
    let mut line = |max: usize| -> Result<&[u8], BackupError> {
        let end = rest
            .iter()
            .take(max + 1)
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("a line is missing or too long"))?;
        let (line, tail) = rest.split_at(end);
        rest = &tail[1..];
        Ok(line)
    };
    if line(FORMAT.len())? != FORMAT.as_bytes() {
        return Err(bad("unknown format"));
    }
    let manifest_line = std::str::from_utf8(line(MAX_MANIFEST)?)
        .map_err(|_| bad("the manifest is not text"))?
        .to_owned();
    let signature = B64
        .decode(line(200)?)
        .map_err(|_| bad("the signature is not base64"))?;
    let ciphertext = rest.to_vec();
    let manifest: Manifest =
        serde_json::from_str(&manifest_line).map_err(|e| bad(&format!("the manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(bad("the manifest names another format"));
    }
    if digest(&ciphertext) != manifest.ciphertext_sha256 {
        return Err(BackupError::Invalid(
            "the archive was altered: its contents do not match the manifest's digest".into(),
        ));
    }
    Ok(Archive {
        manifest,
        manifest_line,
        signature,
        ciphertext,
    })
}
