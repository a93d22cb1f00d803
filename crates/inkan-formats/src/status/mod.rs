//! Status lists: the W3C Bitstring Status List ([`bitstring`]) and the IETF Token Status List
//! ([`token`]), read and written.
//!
//! What this module owns: the list encodings (multibase, base64url, GZIP, ZLIB, the bit orders,
//! multi-bit status values), the claims and credential members that carry a list or point into
//! one, and the strict, bounded parsing of all of them. Decompression stops as soon as the
//! output would pass [`crate::limits::MAX_STATUS_LIST_BYTES`], so a small "zip bomb" never
//! becomes a large allocation.
//!
//! What it must never do:
//! - **fetch**: it never dereferences a `statusListCredential` URL or a `uri` claim, and keeps no
//!   cache. Fetching (over HTTPS, with size limits), caching by `ttl` / `exp` / `validUntil`, and
//!   deciding what a stale or missing list means belong to the server's status monitor;
//! - **verify signatures**: a status list credential or token is outside input whose proof or
//!   signature must be checked first, by [`crate::data_integrity`] (Data Integrity proofs),
//!   [`crate::jose`] (VC-JWT, `statuslist+jwt`) or [`crate::mdoc`] (COSE_Sign1 of a
//!   `statuslist+cwt`). Every reader here takes the *already verified* credential JSON, JWT
//!   payload or CWT claims, and says so in its name or documentation;
//! - hold keys or sign: producing a list gives the unsigned encoding, credential or claims; the
//!   format modules sign them through the [`crate::Signer`].

pub mod bitstring;
pub mod token;

pub use bitstring::{
    BitstringStatus, BitstringStatusList, BitstringStatusListCredential, BitstringStatusListEntry,
    StatusMessage, StatusPurpose,
};
pub use token::{StatusListReference, StatusListToken, TokenStatus, TokenStatusList};

use crate::FormatError;
use crate::limits::MAX_STATUS_LIST_BYTES;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::io::{Read, Write};

/// Decodes base64url without padding, refusing padding, other alphabets and non-zero trailing
/// bits.
fn b64url_decode(what: &'static str, text: &str) -> Result<Vec<u8>, FormatError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| FormatError::malformed(what, format!("not base64url without padding: {e}")))
}

fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a decompressing reader to its end, but never more than `limit` bytes of output.
///
/// Returns the output and the decoder (so the caller can look for trailing input).
fn read_bounded<R: Read>(
    what: &'static str,
    mut decoder: R,
    limit: usize,
) -> Result<(Vec<u8>, R), FormatError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    (&mut decoder)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| FormatError::malformed(what, format!("bad compressed data: {e}")))?;
    if out.len() > limit {
        return Err(FormatError::malformed(
            what,
            format!(
                "decompresses to more than the {limit} bytes accepted (decompression stopped there)"
            ),
        ));
    }
    Ok((out, decoder))
}

/// GZIP (RFC 1952) decompression of one member, bounded by `limit`; trailing bytes are refused.
fn gunzip_bounded(
    what: &'static str,
    compressed: &[u8],
    limit: usize,
) -> Result<Vec<u8>, FormatError> {
    let (out, decoder) = read_bounded(what, flate2::bufread::GzDecoder::new(compressed), limit)?;
    if !decoder.into_inner().is_empty() {
        return Err(FormatError::malformed(
            what,
            "bytes after the end of the GZIP data",
        ));
    }
    Ok(out)
}

/// ZLIB (RFC 1950) decompression, bounded by `limit`; trailing bytes are refused.
fn unzlib_bounded(
    what: &'static str,
    compressed: &[u8],
    limit: usize,
) -> Result<Vec<u8>, FormatError> {
    let (out, decoder) = read_bounded(what, flate2::bufread::ZlibDecoder::new(compressed), limit)?;
    if !decoder.into_inner().is_empty() {
        return Err(FormatError::malformed(
            what,
            "bytes after the end of the ZLIB data",
        ));
    }
    Ok(out)
}

fn gzip(what: &'static str, bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    // flate2's default GZIP header has no name, mtime 0 and OS "unknown": the output depends
    // only on the input.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .map_err(|e| FormatError::malformed(what, format!("compression failed: {e}")))?;
    encoder
        .finish()
        .map_err(|e| FormatError::malformed(what, format!("compression failed: {e}")))
}

fn zlib(what: &'static str, bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(bytes)
        .map_err(|e| FormatError::malformed(what, format!("compression failed: {e}")))?;
    encoder
        .finish()
        .map_err(|e| FormatError::malformed(what, format!("compression failed: {e}")))
}

/// Refuses lists whose uncompressed size is over [`MAX_STATUS_LIST_BYTES`] (for lists made here).
fn check_list_size(what: &'static str, bytes: usize) -> Result<(), FormatError> {
    if bytes > MAX_STATUS_LIST_BYTES {
        return Err(FormatError::malformed(
            what,
            format!("{bytes} bytes uncompressed, more than the {MAX_STATUS_LIST_BYTES} accepted"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bounded_gunzip_stops_at_the_limit() {
        let big = gzip("t", &vec![0u8; 10_000]).unwrap();
        assert_eq!(gunzip_bounded("t", &big, 10_000).unwrap().len(), 10_000);
        let err = gunzip_bounded("t", &big, 9_999).unwrap_err().to_string();
        assert!(err.contains("more than the 9999 bytes"), "{err}");
    }

    #[test]
    fn bounded_unzlib_stops_at_the_limit() {
        let big = zlib("t", &vec![7u8; 4_096]).unwrap();
        assert_eq!(unzlib_bounded("t", &big, 4_096).unwrap(), vec![7u8; 4_096]);
        assert!(unzlib_bounded("t", &big, 4_095).is_err());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut z = zlib("t", b"abc").unwrap();
        z.push(0);
        let err = unzlib_bounded("t", &z, 100).unwrap_err().to_string();
        assert!(err.contains("after the end"), "{err}");
        let mut g = gzip("t", b"abc").unwrap();
        g.extend_from_slice(b"x");
        assert!(gunzip_bounded("t", &g, 100).is_err());
    }
}
