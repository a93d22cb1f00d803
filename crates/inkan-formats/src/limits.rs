//! Limits on outside input, applied by every parser before any work.

/// Largest credential, presentation or token accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Deepest JSON or CBOR nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Most SD-JWT disclosures accepted in one token.
pub const MAX_DISCLOSURES: usize = 1024;
/// Largest status list accepted after decompression, in bytes.
pub const MAX_STATUS_LIST_BYTES: usize = 16 * 1024 * 1024;

use crate::FormatError;

/// Refuses input larger than [`MAX_DOCUMENT_BYTES`].
pub fn check_size(what: &'static str, bytes: &[u8]) -> Result<(), FormatError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(FormatError::malformed(
            what,
            format!(
                "{} bytes, more than the {MAX_DOCUMENT_BYTES} accepted",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// Refuses JSON nested deeper than [`MAX_DEPTH`].
pub fn check_json_depth(what: &'static str, value: &serde_json::Value) -> Result<(), FormatError> {
    fn depth(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            serde_json::Value::Object(members) => {
                1 + members.values().map(depth).max().unwrap_or(0)
            }
            _ => 0,
        }
    }
    if depth(value) > MAX_DEPTH {
        return Err(FormatError::malformed(
            what,
            format!("nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(())
}

/// Parses JSON from outside with the size and depth limits.
pub fn parse_json(what: &'static str, bytes: &[u8]) -> Result<serde_json::Value, FormatError> {
    check_size(what, bytes)?;
    // serde_json itself stops at 128 levels; the depth check below is ours.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| FormatError::malformed(what, e.to_string()))?;
    check_json_depth(what, &value)?;
    Ok(value)
}
