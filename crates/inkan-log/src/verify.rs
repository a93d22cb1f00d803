//! Offline verification of an exported log (`inkan log export`, `inkan log verify --export`).
//!
//! # Export format
//!
//! JSON Lines, UTF-8, every line ending in `\n` (the last one too), each line exactly as
//! [`entry_line`] or [`checkpoint_line`] prints it (these members, in this order, no
//! whitespace, strings escaped as RFC 8785 escapes them, base64 per RFC 4648 §4 with
//! padding):
//!
//! ```text
//! {"type":"entry","index":0,"entry":"eyJhY3Rvci…"}
//! {"type":"checkpoint","note":"inkan.example/log/production\n1\nq5Ew…=\n\n— inkan.example/log/production AbCd…\n"}
//! ```
//!
//! `entry` is the base64 of the entry's canonical bytes ([`crate::entry::Entry::encode`]);
//! `note` is a signed checkpoint note, printed after the entries it covers. Entries run
//! from index 0 without gaps; checkpoint sizes never decrease; the last line is a checkpoint
//! that covers every entry. No line may exceed [`MAX_LINE_BYTES`].
//!
//! # What is checked
//!
//! Entries are contiguous from 0 and each one decodes canonically; the tree is recomputed
//! in memory with the stored-hashes functions; every checkpoint carries a valid signature by
//! the log key, names exactly the expected origin, covers no more entries than precede it,
//! is not smaller than the checkpoint before it, and its root equals the recomputed root at
//! its size (so consecutive checkpoints are consistent with each other by construction).
//! The export must hold a checkpoint, and the last one must cover every entry: an entry no
//! signed checkpoint covers proves nothing (anyone could have written or changed it), so an
//! export that ends on such entries, or holds no checkpoint at all, is refused rather than
//! reported as verified (criteria 2.1.3(12), 2.3.3(5)).
//! The first problem is reported, naming the entry, checkpoint or line.
//!
//! This module owns the export line format and its verification. It never opens files or
//! databases: the caller hands it a reader.

use std::io::{BufRead, Read as _};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::entry::Entry;
use crate::hash::leaf_hash;
use crate::jcs::push_string;
use crate::note::NoteVerifier;
use crate::tree::MemoryTree;
use crate::{Hash, LogError};

/// The longest line accepted, newline excluded.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportLine {
    /// An entry: its index and canonical bytes.
    Entry {
        /// The entry's index.
        index: u64,
        /// The canonical bytes.
        entry: Vec<u8>,
    },
    /// A signed checkpoint note.
    Checkpoint {
        /// The note text.
        note: String,
    },
}

/// The export line of an entry, without the final newline.
pub fn entry_line(index: u64, entry: &[u8]) -> String {
    format!(
        "{{\"type\":\"entry\",\"index\":{index},\"entry\":\"{}\"}}",
        B64.encode(entry)
    )
}

/// The export line of a signed checkpoint note, without the final newline.
pub fn checkpoint_line(note: &str) -> String {
    let mut out = String::with_capacity(note.len() + 40);
    out.push_str("{\"type\":\"checkpoint\",\"note\":");
    push_string(&mut out, note);
    out.push('}');
    out
}

impl ExportLine {
    /// The line as the exporter prints it, without the final newline.
    pub fn to_line(&self) -> String {
        match self {
            ExportLine::Entry { index, entry } => entry_line(*index, entry),
            ExportLine::Checkpoint { note } => checkpoint_line(note),
        }
    }

    /// Parses one line (without its newline); refuses anything [`to_line`](Self::to_line)
    /// would not print.
    pub fn parse(line: &str) -> Result<ExportLine, LogError> {
        parse_record(line).map_err(|detail| LogError::Malformed {
            what: "export line",
            detail,
        })
    }
}

fn parse_record(line: &str) -> Result<ExportLine, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    let parsed = match map.get("type").and_then(Value::as_str) {
        Some("entry") => {
            let index = map
                .get("index")
                .and_then(Value::as_u64)
                .ok_or("entry line without an integer index")?;
            let b64 = map
                .get("entry")
                .and_then(Value::as_str)
                .ok_or("entry line without an entry string")?;
            let entry = B64.decode(b64).map_err(|_| "entry is not base64")?;
            ExportLine::Entry { index, entry }
        }
        Some("checkpoint") => {
            let note = map
                .get("note")
                .and_then(Value::as_str)
                .ok_or("checkpoint line without a note string")?;
            ExportLine::Checkpoint {
                note: note.to_owned(),
            }
        }
        Some(other) => return Err(format!("unknown line type {other:?}")),
        None => return Err("no type member".into()),
    };
    if parsed.to_line() != line {
        return Err(
            "not in the exact export form (members, order, spacing or escapes differ)".into(),
        );
    }
    Ok(parsed)
}

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many entries the export holds.
    pub entries: u64,
    /// How many checkpoints it holds (at least one).
    pub checkpoints: u64,
    /// The last checkpoint: it covers every entry.
    pub last_checkpoint: Checkpoint,
    /// The recomputed root over all entries.
    pub root: Hash,
}

/// Verifies an export read from `reader` against the log key and the expected origin.
pub fn verify_export(
    mut reader: impl BufRead,
    verifier: &NoteVerifier,
    expected_origin: &str,
) -> Result<VerifyReport, LogError> {
    let mut tree = MemoryTree::new();
    let mut checkpoints = 0u64;
    // The last checkpoint that matched the entries, and the line it was on.
    let mut last: Option<(Checkpoint, u64)> = None;
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    loop {
        line_no += 1;
        let line = match read_line(&mut reader, &mut buf, line_no)? {
            Line::End => break,
            Line::Complete(line) => line,
            Line::Bad(detail) => return Err(bad_line(&mut reader, &mut buf, line_no, detail)),
        };
        let record = match parse_record(line) {
            Ok(record) => record,
            Err(detail) => return Err(bad_line(&mut reader, &mut buf, line_no, detail)),
        };
        match record {
            ExportLine::Entry { index, entry } => {
                let expected = tree.size();
                if index > expected {
                    return Err(LogError::Inconsistent(format!(
                        "entry {expected} missing (found {index} at line {line_no})"
                    )));
                }
                if index < expected {
                    return Err(LogError::Inconsistent(format!(
                        "entry {index} at line {line_no} is out of order or repeated (expected entry {expected})"
                    )));
                }
                if let Err(e) = Entry::decode(&entry) {
                    let detail = match e {
                        LogError::Malformed { detail, .. } => detail,
                        other => other.to_string(),
                    };
                    return Err(LogError::Inconsistent(format!(
                        "entry {index} (line {line_no}) is not canonical: {detail}"
                    )));
                }
                tree.append(leaf_hash(&entry))?;
            }
            ExportLine::Checkpoint { note } => {
                let checkpoint = Checkpoint::open(&note, verifier, expected_origin)
                    .map_err(|e| prefix(e, &format!("checkpoint at line {line_no}: ")))?;
                let size = checkpoint.size;
                if size > tree.size() {
                    return Err(LogError::Inconsistent(format!(
                        "checkpoint at line {line_no} (size {size}) covers entries {}..{} that are not in the export before it (truncated log?)",
                        tree.size(),
                        size - 1
                    )));
                }
                if let Some((previous, previous_line)) = &last
                    && size < previous.size
                {
                    return Err(LogError::Inconsistent(format!(
                        "checkpoint at line {line_no} (size {size}) is smaller than the checkpoint at line {previous_line} (size {})",
                        previous.size
                    )));
                }
                if tree.root_at(size)? != checkpoint.root {
                    let since = match &last {
                        Some((previous, previous_line)) => format!(
                            "; the checkpoint at line {previous_line} (size {}) matched, so the difference lies in entries {}..{}",
                            previous.size,
                            previous.size,
                            size.saturating_sub(1)
                        ),
                        None => String::new(),
                    };
                    return Err(LogError::Inconsistent(format!(
                        "checkpoint at line {line_no} (size {size}): root does not match the entries{since}"
                    )));
                }
                checkpoints += 1;
                last = Some((checkpoint, line_no));
            }
        }
    }
    let Some((last, last_line)) = last else {
        return Err(LogError::Inconsistent(format!(
            "the export holds no signed checkpoint, so none of its {} entries is covered by a \
             signature (an export ends on a checkpoint: export it again)",
            tree.size()
        )));
    };
    if last.size < tree.size() {
        return Err(LogError::Inconsistent(format!(
            "entries {}..{} are covered by no signed checkpoint (the last, at line {last_line}, \
             has size {}): they prove nothing (an export ends on a checkpoint that covers every \
             entry: export it again)",
            last.size,
            tree.size() - 1,
            last.size
        )));
    }
    Ok(VerifyReport {
        entries: tree.size(),
        checkpoints,
        last_checkpoint: last,
        root: tree.root()?,
    })
}

enum Line<'a> {
    End,
    Complete(&'a str),
    Bad(String),
}

fn read_line<'a>(
    reader: &mut impl BufRead,
    buf: &'a mut Vec<u8>,
    line_no: u64,
) -> Result<Line<'a>, LogError> {
    buf.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    reader
        .by_ref()
        .take(limit)
        .read_until(b'\n', buf)
        .map_err(|e| LogError::Malformed {
            what: "export",
            detail: format!("line {line_no}: read error: {e}"),
        })?;
    if buf.is_empty() {
        return Ok(Line::End);
    }
    let Some(content) = buf.strip_suffix(b"\n") else {
        if buf.len() as u64 >= limit {
            skip_rest_of_line(reader).map_err(|e| LogError::Malformed {
                what: "export",
                detail: format!("line {line_no}: read error: {e}"),
            })?;
            return Ok(Line::Bad(format!("longer than {MAX_LINE_BYTES} bytes")));
        }
        return Ok(Line::Bad("no newline at the end (incomplete line)".into()));
    };
    match std::str::from_utf8(content) {
        Ok(line) => Ok(Line::Complete(line)),
        Err(_) => Ok(Line::Bad("not UTF-8".into())),
    }
}

/// The error for a line that is not a record: "trailing garbage" when no record follows it,
/// otherwise a malformed line in the middle of the export.
fn bad_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    line_no: u64,
    detail: String,
) -> LogError {
    let mut later = line_no;
    let followed = loop {
        later += 1;
        match read_line(reader, buf, later) {
            Ok(Line::Complete(line)) if parse_record(line).is_ok() => break true,
            Ok(Line::Complete(_)) | Ok(Line::Bad(_)) => {}
            Ok(Line::End) | Err(_) => break false,
        }
    };
    let detail = if followed {
        format!("line {line_no} is not a log record: {detail}")
    } else {
        format!("trailing garbage at line {line_no}: {detail}")
    };
    LogError::Malformed {
        what: "export",
        detail,
    }
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(at) = chunk.iter().position(|&b| b == b'\n') {
            reader.consume(at + 1);
            return Ok(());
        }
        let len = chunk.len();
        reader.consume(len);
    }
}

/// Prefixes an error's message with where it happened, keeping its kind.
fn prefix(e: LogError, at: &str) -> LogError {
    match e {
        LogError::BadSignature(m) => LogError::BadSignature(format!("{at}{m}")),
        LogError::Malformed { what, detail } => LogError::Malformed {
            what,
            detail: format!("{at}{detail}"),
        },
        LogError::Inconsistent(m) => LogError::Inconsistent(format!("{at}{m}")),
        LogError::BadProof(m) => LogError::BadProof(format!("{at}{m}")),
        LogError::InvalidRequest(m) => LogError::InvalidRequest(format!("{at}{m}")),
        LogError::Signer(m) => LogError::Signer(format!("{at}{m}")),
        other @ LogError::MissingHash(_) => other,
    }
}
