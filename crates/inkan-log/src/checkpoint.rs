//! C2SP `tlog-checkpoint` bodies (<https://c2sp.org/tlog-checkpoint>): the signed tree heads
//! of the log.
//!
//! ```text
//! inkan.example/log/production
//! 20852163
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//! ```
//!
//! The origin names the log *and its environment*: a checkpoint is only accepted for the
//! exact origin the verifier expects, so a test log can never pass for a production one.
//!
//! This module owns the body format and the opening of a signed checkpoint (signature, then
//! origin). It never computes tree hashes and never decides when a checkpoint is issued.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::note::{NoteSigner, NoteVerifier, sign_note};
use crate::{Hash, LogError};

/// The largest checkpoint body [`Checkpoint::parse`] accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A tree head: the log's origin, its size and its root hash.
///
/// Extension lines are accepted when parsing (the signature covers them) but not kept: Inkan
/// never writes them, and the signed note text stays the authoritative form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin, e.g. `inkan.example/log/production`.
    pub origin: String,
    /// The number of entries.
    pub size: u64,
    /// The RFC 9162 root hash at that size.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: origin, decimal size and base64 root, each on its own line.
    pub fn to_body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a body strictly: non-empty origin without control characters, a decimal size
    /// without leading zeros, a canonical base64 root of 32 bytes, then optional non-empty
    /// extension lines; every line ends with a newline.
    pub fn parse(body: &str) -> Result<Checkpoint, LogError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(bad(format!(
                "{} bytes, more than the {MAX_BODY_BYTES} allowed",
                body.len()
            )));
        }
        let Some(body) = body.strip_suffix('\n') else {
            return Err(bad("the body does not end with a newline".into()));
        };
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        let size = lines.next().ok_or_else(|| bad("no size line".into()))?;
        let root = lines
            .next()
            .ok_or_else(|| bad("no root hash line".into()))?;
        check_origin(origin)?;
        let size = parse_decimal(size).ok_or_else(|| {
            bad(format!(
                "size {size:?} is not a decimal without leading zeros"
            ))
        })?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("root hash is not 32 bytes in base64".into()))?;
        for ext in lines {
            if ext.is_empty() {
                return Err(bad("empty extension line".into()));
            }
            if ext.chars().any(|c| c.is_control()) {
                return Err(bad("control character in an extension line".into()));
            }
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Signs the body and returns the checkpoint note.
    pub fn sign(&self, signer: &dyn NoteSigner) -> Result<String, LogError> {
        check_origin(&self.origin)?;
        sign_note(&self.to_body(), signer)
    }

    /// Opens a signed checkpoint: the note must carry a valid signature by `verifier` and
    /// name exactly `expected_origin`.
    pub fn open(
        note: &str,
        verifier: &NoteVerifier,
        expected_origin: &str,
    ) -> Result<Checkpoint, LogError> {
        let body = verifier.open(note)?;
        let checkpoint = Checkpoint::parse(body)?;
        if checkpoint.origin != expected_origin {
            return Err(LogError::BadSignature(format!(
                "checkpoint origin {:?}, expected {expected_origin:?}",
                checkpoint.origin
            )));
        }
        Ok(checkpoint)
    }
}

/// Parses an ASCII decimal with no leading zeros (`0` itself allowed).
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn check_origin(origin: &str) -> Result<(), LogError> {
    if origin.is_empty() {
        return Err(bad("empty origin".into()));
    }
    if origin.chars().any(|c| c.is_control()) {
        return Err(bad("control character in the origin".into()));
    }
    Ok(())
}

fn bad(detail: String) -> LogError {
    LogError::Malformed {
        what: "checkpoint",
        detail,
    }
}
