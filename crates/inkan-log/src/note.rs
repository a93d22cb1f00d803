//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 signatures.
//!
//! A note is a body (non-empty text, every line ending in `\n`), a blank line, then one or
//! more signature lines `— <key name> <base64(key id ‖ signature)>\n`. The key id of an
//! Ed25519 key is the first four bytes of `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)`; the
//! signature is Ed25519 over the body bytes (final newline included, blank line excluded).
//!
//! This module owns the note format: signing through a [`NoteSigner`] (the server backs it
//! with the crypto device) and opening with a [`NoteVerifier`]. It never holds a private key
//! and never interprets the body: [`crate::checkpoint`] does.
//!
//! Opening is strict: at most [`MAX_NOTE_BYTES`] and [`MAX_SIGNATURES`] signature lines,
//! valid UTF-8 without control characters other than newline, every signature line well
//! formed. Signatures by unknown keys (another name or another key id) are ignored, as the
//! specification requires; a signature by the expected key that does not verify, or a second
//! one, rejects the note; a note without a valid signature by the expected key is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::LogError;

/// The largest note [`NoteVerifier::open`] accepts.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// The most signature lines [`NoteVerifier::open`] accepts.
pub const MAX_SIGNATURES: usize = 100;
/// The signature type byte of Ed25519 note signatures.
pub const ED25519_TYPE: u8 = 0x01;

const SIG_PREFIX: &str = "\u{2014} ";

/// Signs note bodies with an Ed25519 key (in Inkan, a key held by the crypto device).
pub trait NoteSigner {
    /// The key name written in signature lines, e.g. `inkan.example/log/production`.
    fn name(&self) -> &str;
    /// The Ed25519 public key.
    fn public_key(&self) -> [u8; 32];
    /// The Ed25519 signature of `message` (the note body bytes).
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], LogError>;
}

/// The key id of an Ed25519 key: the first four bytes of
/// `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`, big-endian.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519_TYPE]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The verifier key string `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
pub fn vkey(name: &str, public_key: &[u8; 32]) -> String {
    let mut typed = Vec::with_capacity(33);
    typed.push(ED25519_TYPE);
    typed.extend_from_slice(public_key);
    format!(
        "{name}+{:08x}+{}",
        key_id(name, public_key),
        B64.encode(typed)
    )
}

/// Whether `name` is a valid key name: non-empty, no Unicode space, no `+`, no control
/// character.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// Signs `body` and returns the note text (body, blank line, one signature line).
///
/// `body` must be non-empty, end with a newline and contain no control character other
/// than newline. The signature is checked against the signer's public key before the note
/// is returned, so a faulty device or a mismatched key is caught here.
pub fn sign_note(body: &str, signer: &dyn NoteSigner) -> Result<String, LogError> {
    check_body(body)?;
    let name = signer.name();
    if !is_valid_key_name(name) {
        return Err(LogError::Signer(format!("invalid key name {name:?}")));
    }
    let public_key = signer.public_key();
    let verifier =
        NoteVerifier::new(name, public_key).map_err(|e| LogError::Signer(e.to_string()))?;
    let signature = signer.sign(body.as_bytes())?;
    verifier.verify_body(body, &signature).map_err(|_| {
        LogError::Signer("the signer's signature does not verify with its public key".into())
    })?;
    let mut blob = Vec::with_capacity(68);
    blob.extend_from_slice(&verifier.key_id.to_be_bytes());
    blob.extend_from_slice(&signature);
    let note = format!("{body}\n{SIG_PREFIX}{name} {}\n", B64.encode(blob));
    if note.len() > MAX_NOTE_BYTES {
        return Err(LogError::InvalidRequest("note too large".into()));
    }
    Ok(note)
}

/// An Ed25519 note verifier: a key name and its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    key_id: u32,
}

impl NoteVerifier {
    /// A verifier for `name` and a raw Ed25519 public key. Refuses invalid names and keys
    /// that are not valid points or have small order.
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<NoteVerifier, LogError> {
        if !is_valid_key_name(name) {
            return Err(bad_key(format!("invalid key name {name:?}")));
        }
        let key = VerifyingKey::from_bytes(&public_key)
            .map_err(|_| bad_key("not an Ed25519 public key".into()))?;
        if key.is_weak() {
            return Err(bad_key("weak (small order) Ed25519 public key".into()));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            key,
        })
    }

    /// Parses a verifier key `<name>+<hex key id>+<base64(0x01 ‖ public key)>` and checks that
    /// the key id matches the name and key.
    pub fn from_vkey(vkey: &str) -> Result<NoteVerifier, LogError> {
        let (name, rest) = vkey
            .split_once('+')
            .ok_or_else(|| bad_key("no '+' after the name".into()))?;
        let (id_hex, key_b64) = rest
            .split_once('+')
            .ok_or_else(|| bad_key("no '+' after the key id".into()))?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad_key("key id is not 8 hex digits".into()));
        }
        let id =
            u32::from_str_radix(id_hex, 16).map_err(|_| bad_key("key id is not hex".into()))?;
        let typed = B64
            .decode(key_b64)
            .map_err(|_| bad_key("key is not base64".into()))?;
        let [ty, key @ ..]: [u8; 33] = typed
            .try_into()
            .map_err(|_| bad_key("key is not 33 bytes".into()))?;
        if ty != ED25519_TYPE {
            return Err(bad_key(format!("key type {ty:#04x} is not Ed25519 (0x01)")));
        }
        let verifier = NoteVerifier::new(name, key)?;
        if verifier.key_id != id {
            return Err(bad_key("key id does not match the name and key".into()));
        }
        Ok(verifier)
    }

    /// A verifier for `name` and an Ed25519 public key in PEM (SubjectPublicKeyInfo).
    pub fn from_public_key_pem(name: &str, pem: &str) -> Result<NoteVerifier, LogError> {
        use ed25519_dalek::pkcs8::DecodePublicKey as _;
        let key = VerifyingKey::from_public_key_pem(pem)
            .map_err(|e| bad_key(format!("not an Ed25519 PEM public key: {e}")))?;
        NoteVerifier::new(name, key.to_bytes())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The verifier key string of this verifier.
    pub fn vkey(&self) -> String {
        vkey(&self.name, &self.key.to_bytes())
    }

    /// Opens a signed note: checks its form and that it carries a valid signature by this
    /// key; returns the body (final newline included).
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, LogError> {
        let parsed = parse(note)?;
        let mut verified = false;
        let mut others = Vec::new();
        for sig in &parsed.signatures {
            if sig.name != self.name || sig.key_id != self.key_id {
                if others.len() < 5 {
                    others.push(format!("{}+{:08x}", sig.name, sig.key_id));
                }
                continue;
            }
            if verified {
                return Err(malformed(format!(
                    "two signatures by {}+{:08x}",
                    self.name, self.key_id
                )));
            }
            let signature: [u8; 64] = sig.signature.as_slice().try_into().map_err(|_| {
                LogError::BadSignature(format!("signature by {} is not 64 bytes", self.name))
            })?;
            self.verify_body(parsed.body, &signature).map_err(|_| {
                LogError::BadSignature(format!("signature by {} does not verify", self.name))
            })?;
            verified = true;
        }
        if !verified {
            let by = if others.is_empty() {
                "nobody".to_owned()
            } else {
                others.join(", ")
            };
            return Err(LogError::BadSignature(format!(
                "no signature by the expected key {}+{:08x} (signed by an unknown key: {by})",
                self.name, self.key_id
            )));
        }
        Ok(parsed.body)
    }

    fn verify_body(
        &self,
        body: &str,
        signature: &[u8; 64],
    ) -> Result<(), ed25519_dalek::SignatureError> {
        self.key
            .verify_strict(body.as_bytes(), &Signature::from_bytes(signature))
    }
}

/// One signature line, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
}

/// A note split into body and signature lines, none verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedNote<'a> {
    /// The body, final newline included.
    pub body: &'a str,
    /// The signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

/// Splits a note into body and signatures, checking the form only (no signature is
/// verified). The body ends at the last blank line.
pub fn parse(note: &str) -> Result<ParsedNote<'_>, LogError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(malformed(format!(
            "{} bytes, more than the {MAX_NOTE_BYTES} allowed",
            note.len()
        )));
    }
    if let Some(c) = note.chars().find(|&c| c != '\n' && u32::from(c) < 0x20) {
        return Err(malformed(format!(
            "control character {:#04x}",
            u32::from(c)
        )));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| malformed("no blank line before the signatures".into()))?;
    let body = &note[..split + 1];
    let sigs = &note[split + 2..];
    check_body(body)?;
    if sigs.is_empty() {
        return Err(malformed("no signature lines".into()));
    }
    let Some(sigs) = sigs.strip_suffix('\n') else {
        return Err(malformed(
            "last signature line does not end with a newline".into(),
        ));
    };
    let mut signatures = Vec::new();
    for line in sigs.split('\n') {
        if signatures.len() == MAX_SIGNATURES {
            return Err(malformed(format!("more than {MAX_SIGNATURES} signatures")));
        }
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| {
            malformed("signature line does not start with an em dash and a space".into())
        })?;
        let (name, blob) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("signature line has no signature".into()))?;
        if !is_valid_key_name(name) {
            return Err(malformed(format!(
                "invalid key name {name:?} in a signature line"
            )));
        }
        let blob = B64
            .decode(blob)
            .map_err(|_| malformed(format!("signature by {name} is not base64")))?;
        if blob.len() < 5 {
            return Err(malformed(format!("signature by {name} is too short")));
        }
        let (id, signature) = blob.split_at(4);
        let key_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
        signatures.push(NoteSignature {
            name: name.to_owned(),
            key_id,
            signature: signature.to_vec(),
        });
    }
    Ok(ParsedNote { body, signatures })
}

fn check_body(body: &str) -> Result<(), LogError> {
    if body.is_empty() || !body.ends_with('\n') {
        return Err(malformed(
            "the body must be non-empty and end with a newline".into(),
        ));
    }
    if body.len() > MAX_NOTE_BYTES {
        return Err(malformed("body too large".into()));
    }
    if let Some(c) = body.chars().find(|&c| c != '\n' && u32::from(c) < 0x20) {
        return Err(malformed(format!(
            "control character {:#04x} in the body",
            u32::from(c)
        )));
    }
    Ok(())
}

fn malformed(detail: String) -> LogError {
    LogError::Malformed {
        what: "note",
        detail,
    }
}

fn bad_key(detail: String) -> LogError {
    LogError::Malformed {
        what: "note verifier key",
        detail,
    }
}
