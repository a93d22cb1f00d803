//! Receipts: an entry's proof bundle in the C2SP `tlog-proof` format
//! (<https://c2sp.org/tlog-proof>), verifiable offline with only the log's public key.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! index 5
//! <base64 hash, the leaf's sibling first>
//! …
//!
//! <the signed checkpoint note, verbatim>
//! ```
//!
//! An optional `extra <base64>` line after the header carries unauthenticated opaque data;
//! Inkan does not write it, keeps it when parsing, and never trusts it.
//!
//! This module owns the format and the verification of one receipt. It never fetches a
//! checkpoint or a proof: the server builds receipts from its store.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::{Checkpoint, parse_decimal};
use crate::hash::leaf_hash;
use crate::note::{MAX_NOTE_BYTES, NoteVerifier};
use crate::tree::verify_inclusion;
use crate::{Hash, LogError};

/// The first line of every receipt.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The most proof hashes a receipt may carry (a tree of at most 2^63 leaves).
pub const MAX_PROOF_HASHES: usize = 63;
/// The largest receipt [`Receipt::parse`] accepts.
pub const MAX_RECEIPT_BYTES: usize = MAX_NOTE_BYTES + 64 * 1024;

/// The proof that one entry is in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's index in the log.
    pub index: u64,
    /// The RFC 9162 inclusion proof of the entry in the checkpoint's tree.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint_note: String,
    /// Opaque, unauthenticated extra data (`extra` line), if any. Inkan writes none.
    pub extra: Option<Vec<u8>>,
}

impl Receipt {
    /// A receipt without extra data.
    pub fn new(index: u64, proof: Vec<Hash>, checkpoint_note: String) -> Receipt {
        Receipt {
            index,
            proof,
            checkpoint_note,
            extra: None,
        }
    }

    /// The receipt text.
    pub fn encode(&self) -> String {
        let mut out =
            String::with_capacity(128 + 45 * self.proof.len() + self.checkpoint_note.len());
        out.push_str(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&B64.encode(extra));
            out.push('\n');
        }
        out.push_str("index ");
        out.push_str(&self.index.to_string());
        out.push('\n');
        for h in &self.proof {
            out.push_str(&B64.encode(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint_note);
        out
    }

    /// Parses a receipt strictly (header, optional `extra`, `index` without leading zeros, at
    /// most [`MAX_PROOF_HASHES`] canonical base64 hashes of 32 bytes, an empty line, then the
    /// checkpoint note, which must end with a newline). The note is not opened here.
    pub fn parse(text: &str) -> Result<Receipt, LogError> {
        if text.len() > MAX_RECEIPT_BYTES {
            return Err(bad(format!(
                "{} bytes, more than the {MAX_RECEIPT_BYTES} allowed",
                text.len()
            )));
        }
        let mut rest = text;
        let mut next_line = || -> Result<&str, LogError> {
            let (line, after) = rest
                .split_once('\n')
                .ok_or_else(|| bad("ends before the checkpoint".into()))?;
            rest = after;
            Ok(line)
        };
        if next_line()? != HEADER {
            return Err(bad(format!("first line is not {HEADER}")));
        }
        let mut line = next_line()?;
        let mut extra = None;
        if let Some(data) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(data)
                    .map_err(|_| bad("extra data is not base64".into()))?,
            );
            line = next_line()?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| bad("no index line with a decimal index".into()))?;
        let mut proof = Vec::new();
        loop {
            let line = next_line()?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(bad(format!("more than {MAX_PROOF_HASHES} proof hashes")));
            }
            let hash: Hash = B64
                .decode(line)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| {
                    bad(format!(
                        "proof line {} is not a base64 hash of 32 bytes",
                        proof.len() + 1
                    ))
                })?;
            proof.push(hash);
        }
        if rest.is_empty() || !rest.ends_with('\n') {
            return Err(bad(
                "the checkpoint is missing or does not end with a newline".into(),
            ));
        }
        Ok(Receipt {
            index,
            proof,
            checkpoint_note: rest.to_owned(),
            extra,
        })
    }

    /// Verifies the receipt for `entry` (its canonical bytes): the checkpoint's signature by
    /// `verifier`, its origin, and the inclusion of `leaf_hash(entry)` at `index` under the
    /// checkpoint's root. Returns the checkpoint.
    pub fn verify(
        &self,
        entry: &[u8],
        verifier: &NoteVerifier,
        expected_origin: &str,
    ) -> Result<Checkpoint, LogError> {
        let checkpoint = Checkpoint::open(&self.checkpoint_note, verifier, expected_origin)?;
        verify_inclusion(
            &leaf_hash(entry),
            self.index,
            checkpoint.size,
            &self.proof,
            &checkpoint.root,
        )
        .map_err(|e| match e {
            LogError::BadProof(detail) => LogError::BadProof(format!(
                "entry {} is not proven in the checkpoint of size {}: {detail}",
                self.index, checkpoint.size
            )),
            other => other,
        })?;
        Ok(checkpoint)
    }
}

fn bad(detail: String) -> LogError {
    LogError::Malformed {
        what: "receipt",
        detail,
    }
}
