//! W3C Bitstring Status List v1.0: the `encodedList` bitstring, the `BitstringStatusListEntry`
//! a credential carries in `credentialStatus`, and the `BitstringStatusListCredential` that
//! publishes the list.
//!
//! Encoding: `encodedList` is the multibase base64url-no-pad form (prefix `u`) of the GZIP
//! compressed bitstring. Index 0 is the left-most (most significant) bit of the first byte
//! (MSB-first). An entry of `statusSize` bits starts at bit `statusListIndex × statusSize`; its
//! first bit is the most significant bit of the status value. The uncompressed bitstring must
//! hold at least [`MIN_ENTRIES`] (131,072) entries: 16 KB for `statusSize` 1.
//!
//! This module reads a list credential that the caller has **already verified** (Data Integrity
//! proof or VC-JWT signature, by the modules that own them) and never fetches the list: see the
//! [parent module](super).

use super::{b64url_decode, b64url_encode, check_list_size, gunzip_bounded, gzip};
use crate::FormatError;
use crate::limits::MAX_STATUS_LIST_BYTES;
use serde_json::{Map, Value, json};

/// The least number of entries a bitstring must have (herd privacy): 131,072, 16 KB at one bit
/// per entry. An ecosystem may set a different lower bound (`*_with_minimum`).
pub const MIN_ENTRIES: usize = 131_072;

/// The `ttl` (milliseconds) to use when a list credential states none.
pub const DEFAULT_TTL_MS: u64 = 300_000;

/// The largest `statusSize` supported: values are read as `u8`.
pub const MAX_STATUS_SIZE: u8 = 8;

const WHAT: &str = "bitstring status list";
const WHAT_ENTRY: &str = "BitstringStatusListEntry";
const WHAT_CREDENTIAL: &str = "BitstringStatusListCredential";

/// A decoded bitstring status list: the uncompressed bytes and the size of an entry in bits.
///
/// Two lists are equal when their bytes and `statusSize` are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitstringStatusList {
    bytes: Vec<u8>,
    status_size: u8,
}

fn check_status_size(status_size: u8) -> Result<(), FormatError> {
    if status_size == 0 || status_size > MAX_STATUS_SIZE {
        return Err(FormatError::malformed(
            WHAT,
            format!("statusSize {status_size} is not supported (1 to {MAX_STATUS_SIZE})"),
        ));
    }
    Ok(())
}

impl BitstringStatusList {
    /// A list of at least `entries` entries of `status_size` bits, all 0, rounded up to whole
    /// bytes. Refuses fewer than [`MIN_ENTRIES`] entries.
    pub fn new(entries: usize, status_size: u8) -> Result<Self, FormatError> {
        Self::new_with_minimum(entries, status_size, MIN_ENTRIES)
    }

    /// [`new`](Self::new) with an ecosystem's own lower bound instead of [`MIN_ENTRIES`].
    pub fn new_with_minimum(
        entries: usize,
        status_size: u8,
        minimum_entries: usize,
    ) -> Result<Self, FormatError> {
        check_status_size(status_size)?;
        if entries < minimum_entries {
            return Err(FormatError::malformed(
                WHAT,
                format!("{entries} entries, fewer than the minimum of {minimum_entries}"),
            ));
        }
        let bits = entries
            .checked_mul(usize::from(status_size))
            .ok_or_else(|| FormatError::malformed(WHAT, "too many entries"))?;
        let len = bits.div_ceil(8);
        check_list_size(WHAT, len)?;
        Ok(BitstringStatusList {
            bytes: vec![0; len],
            status_size,
        })
    }

    /// Decodes an `encodedList` (multibase `u` + base64url-no-pad of GZIP) whose entries are
    /// `status_size` bits (the entry's `statusSize`, 1 when absent). Refuses a list of fewer
    /// than [`MIN_ENTRIES`] entries (`STATUS_LIST_LENGTH_ERROR`) or one that decompresses to
    /// more than [`MAX_STATUS_LIST_BYTES`].
    pub fn from_encoded(encoded: &str, status_size: u8) -> Result<Self, FormatError> {
        Self::from_encoded_with_minimum(encoded, status_size, MIN_ENTRIES)
    }

    /// [`from_encoded`](Self::from_encoded) with an ecosystem's own lower bound.
    pub fn from_encoded_with_minimum(
        encoded: &str,
        status_size: u8,
        minimum_entries: usize,
    ) -> Result<Self, FormatError> {
        Self::decode(encoded, status_size, minimum_entries, MAX_STATUS_LIST_BYTES)
    }

    fn decode(
        encoded: &str,
        status_size: u8,
        minimum_entries: usize,
        limit: usize,
    ) -> Result<Self, FormatError> {
        check_status_size(status_size)?;
        crate::limits::check_size(WHAT, encoded.as_bytes())?;
        let Some(body) = encoded.strip_prefix('u') else {
            let found = encoded
                .chars()
                .next()
                .map_or_else(|| "nothing".to_string(), |c| format!("{c:?}"));
            return Err(FormatError::malformed(
                WHAT,
                format!(
                    "encodedList must start with the multibase prefix 'u' (base64url, no padding), found {found}"
                ),
            ));
        };
        let compressed = b64url_decode(WHAT, body)?;
        let bytes = gunzip_bounded(WHAT, &compressed, limit)?;
        let list = BitstringStatusList { bytes, status_size };
        if list.len() < minimum_entries {
            return Err(FormatError::malformed(
                WHAT,
                format!(
                    "{} entries of {status_size} bit(s), fewer than the minimum of {minimum_entries} (STATUS_LIST_LENGTH_ERROR)",
                    list.len()
                ),
            ));
        }
        Ok(list)
    }

    /// A list over uncompressed bytes (as a test or an issuer builds them), without the minimum.
    pub fn from_bytes(bytes: Vec<u8>, status_size: u8) -> Result<Self, FormatError> {
        check_status_size(status_size)?;
        check_list_size(WHAT, bytes.len())?;
        Ok(BitstringStatusList { bytes, status_size })
    }

    /// The `encodedList` value: `u` + base64url-no-pad of the GZIP-compressed bitstring.
    pub fn encode(&self) -> Result<String, FormatError> {
        Ok(format!("u{}", b64url_encode(&gzip(WHAT, &self.bytes)?)))
    }

    /// The uncompressed bitstring.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Bits per entry (`statusSize`).
    pub fn status_size(&self) -> u8 {
        self.status_size
    }

    /// Number of entries: whole entries that fit in the bitstring.
    pub fn len(&self) -> usize {
        self.bytes.len().saturating_mul(8) / usize::from(self.status_size)
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn first_bit(&self, index: u64) -> Result<usize, FormatError> {
        let len = self.len();
        match usize::try_from(index) {
            Ok(i) if i < len => Ok(i * usize::from(self.status_size)),
            _ => Err(FormatError::malformed(
                "status list index",
                format!("index {index} is out of range: the list has {len} entries (RANGE_ERROR)"),
            )),
        }
    }

    /// The status value at `index` (MSB-first; the entry's first bit is the value's most
    /// significant bit).
    pub fn status(&self, index: u64) -> Result<u8, FormatError> {
        let first = self.first_bit(index)?;
        let mut value = 0u8;
        for bit in first..first + usize::from(self.status_size) {
            let byte = self.bytes.get(bit / 8).copied().unwrap_or(0);
            value = (value << 1) | ((byte >> (7 - bit % 8)) & 1);
        }
        Ok(value)
    }

    /// Sets the status value at `index`; refuses a value that does not fit in `statusSize` bits.
    pub fn set(&mut self, index: u64, value: u8) -> Result<(), FormatError> {
        let size = self.status_size;
        if size < 8 && value >> size != 0 {
            return Err(FormatError::malformed(
                WHAT,
                format!("status value {value} does not fit in {size} bit(s)"),
            ));
        }
        let first = self.first_bit(index)?;
        for k in 0..usize::from(size) {
            let bit = first + k;
            let on = (value >> (usize::from(size) - 1 - k)) & 1 == 1;
            let mask = 1u8 << (7 - bit % 8);
            if let Some(byte) = self.bytes.get_mut(bit / 8) {
                if on {
                    *byte |= mask;
                } else {
                    *byte &= !mask;
                }
            }
        }
        Ok(())
    }
}

/// A `statusPurpose`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusPurpose {
    /// `revocation`: set means revoked, for good.
    Revocation,
    /// `suspension`: set means suspended, reversibly.
    Suspension,
    /// `refresh`: set means a refreshed credential is available.
    Refresh,
    /// `message`: the value indexes the entry's `statusMessage` list.
    Message,
    /// Any other purpose, kept as written (callers decide; the status monitor refuses them).
    Other(String),
}

impl StatusPurpose {
    /// Reads a purpose string.
    pub fn parse(text: &str) -> Self {
        match text {
            "revocation" => StatusPurpose::Revocation,
            "suspension" => StatusPurpose::Suspension,
            "refresh" => StatusPurpose::Refresh,
            "message" => StatusPurpose::Message,
            other => StatusPurpose::Other(other.to_string()),
        }
    }

    /// The purpose string.
    pub fn as_str(&self) -> &str {
        match self {
            StatusPurpose::Revocation => "revocation",
            StatusPurpose::Suspension => "suspension",
            StatusPurpose::Refresh => "refresh",
            StatusPurpose::Message => "message",
            StatusPurpose::Other(other) => other,
        }
    }
}

/// One element of `statusMessage`: a status value and its (developer-facing) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMessage {
    /// The value (`status`, written `0x…`).
    pub status: u8,
    /// The `message`.
    pub message: String,
}

/// A `BitstringStatusListEntry` from a credential's `credentialStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitstringStatusListEntry {
    /// `id`, when present.
    pub id: Option<String>,
    /// `statusPurpose`.
    pub status_purpose: StatusPurpose,
    /// `statusListIndex` (a base-10 string in the credential).
    pub status_list_index: u64,
    /// `statusListCredential`: the URL of the list credential (this module never fetches it).
    pub status_list_credential: String,
    /// `statusSize`, 1 when absent.
    pub status_size: u8,
    /// `statusMessage` (required when `statusSize` > 1, with 2^`statusSize` elements).
    pub status_messages: Vec<StatusMessage>,
    /// `statusReference` URLs, when present.
    pub status_reference: Vec<String>,
}

fn get_str<'a>(
    what: &'static str,
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, FormatError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FormatError::malformed(
            what,
            format!("`{name}` must be a string"),
        )),
    }
}

fn require_str<'a>(
    what: &'static str,
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, FormatError> {
    get_str(what, object, name)?
        .ok_or_else(|| FormatError::malformed(what, format!("`{name}` is missing")))
}

/// A JSON-LD `type`: a string or an array of strings.
fn has_type(
    what: &'static str,
    object: &Map<String, Value>,
    wanted: &str,
) -> Result<bool, FormatError> {
    match object.get("type") {
        Some(Value::String(t)) => Ok(t == wanted),
        Some(Value::Array(items)) => {
            let mut found = false;
            for item in items {
                match item {
                    Value::String(t) => found |= t == wanted,
                    _ => return Err(FormatError::malformed(what, "`type` must hold strings")),
                }
            }
            Ok(found)
        }
        Some(_) => Err(FormatError::malformed(
            what,
            "`type` must be a string or an array of strings",
        )),
        None => Err(FormatError::malformed(what, "`type` is missing")),
    }
}

/// Strict `statusListIndex`: ASCII digits only, fitting in `u64`.
fn parse_index(text: &str) -> Result<u64, FormatError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FormatError::malformed(
            WHAT_ENTRY,
            format!("`statusListIndex` must be a base-10 string of digits, found {text:?}"),
        ));
    }
    text.parse::<u64>().map_err(|_| {
        FormatError::malformed(WHAT_ENTRY, format!("`statusListIndex` {text} is too large"))
    })
}

fn parse_status_size(what: &'static str, value: Option<&Value>) -> Result<Option<u8>, FormatError> {
    match value {
        None => Ok(None),
        Some(v) => {
            let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                FormatError::malformed(what, "`statusSize` must be an integer greater than zero")
            })?;
            let size = u8::try_from(n)
                .ok()
                .filter(|s| *s <= MAX_STATUS_SIZE)
                .ok_or_else(|| {
                    FormatError::Unsupported(format!(
                        "statusSize {n} (1 to {MAX_STATUS_SIZE} supported)"
                    ))
                })?;
            Ok(Some(size))
        }
    }
}

fn parse_hex_status(text: &str) -> Result<u8, FormatError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            FormatError::malformed(
                WHAT_ENTRY,
                format!("statusMessage `status` {text:?} must be written 0x…"),
            )
        })?;
    u8::from_str_radix(digits, 16).map_err(|_| {
        FormatError::malformed(
            WHAT_ENTRY,
            format!("statusMessage `status` {text:?} is not a hexadecimal byte"),
        )
    })
}

impl BitstringStatusListEntry {
    /// Reads one `credentialStatus` object of type `BitstringStatusListEntry`.
    pub fn from_json(value: &Value) -> Result<Self, FormatError> {
        let object = value
            .as_object()
            .ok_or_else(|| FormatError::malformed(WHAT_ENTRY, "must be a JSON object"))?;
        if !has_type(WHAT_ENTRY, object, "BitstringStatusListEntry")? {
            return Err(FormatError::malformed(
                WHAT_ENTRY,
                "`type` is not BitstringStatusListEntry",
            ));
        }
        let status_purpose =
            StatusPurpose::parse(require_str(WHAT_ENTRY, object, "statusPurpose")?);
        let status_list_index = parse_index(require_str(WHAT_ENTRY, object, "statusListIndex")?)?;
        let status_list_credential =
            require_str(WHAT_ENTRY, object, "statusListCredential")?.to_string();
        let status_size = parse_status_size(WHAT_ENTRY, object.get("statusSize"))?.unwrap_or(1);
        let mut status_messages = Vec::new();
        match object.get("statusMessage") {
            None => {}
            Some(Value::Array(items)) => {
                for item in items {
                    let m = item.as_object().ok_or_else(|| {
                        FormatError::malformed(
                            WHAT_ENTRY,
                            "`statusMessage` elements must be objects",
                        )
                    })?;
                    status_messages.push(StatusMessage {
                        status: parse_hex_status(require_str(WHAT_ENTRY, m, "status")?)?,
                        message: require_str(WHAT_ENTRY, m, "message")?.to_string(),
                    });
                }
            }
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_ENTRY,
                    "`statusMessage` must be an array",
                ));
            }
        }
        if status_size > 1 || !status_messages.is_empty() {
            let expected = 1usize << status_size;
            if status_messages.len() != expected {
                return Err(FormatError::malformed(
                    WHAT_ENTRY,
                    format!(
                        "statusSize {status_size} needs a `statusMessage` of {expected} elements, found {}",
                        status_messages.len()
                    ),
                ));
            }
        }
        let status_reference = match object.get("statusReference") {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str().map(str::to_string).ok_or_else(|| {
                        FormatError::malformed(WHAT_ENTRY, "`statusReference` must hold URLs")
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_ENTRY,
                    "`statusReference` must be a URL or an array of URLs",
                ));
            }
        };
        Ok(BitstringStatusListEntry {
            id: get_str(WHAT_ENTRY, object, "id")?.map(str::to_string),
            status_purpose,
            status_list_index,
            status_list_credential,
            status_size,
            status_messages,
            status_reference,
        })
    }

    /// Every `BitstringStatusListEntry` in a credential's `credentialStatus` (an object or an
    /// array); entries of other types (other status mechanisms) are skipped, a malformed
    /// `BitstringStatusListEntry` is an error. None when the credential has no such entry.
    pub fn all_from_credential(credential: &Value) -> Result<Vec<Self>, FormatError> {
        crate::limits::check_json_depth(WHAT_ENTRY, credential)?;
        let items: Vec<&Value> = match credential.get("credentialStatus") {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_ENTRY,
                    "`credentialStatus` must be an object or an array",
                ));
            }
        };
        let mut entries = Vec::new();
        for item in items {
            let object = item.as_object().ok_or_else(|| {
                FormatError::malformed(WHAT_ENTRY, "`credentialStatus` elements must be objects")
            })?;
            if has_type(WHAT_ENTRY, object, "BitstringStatusListEntry")? {
                entries.push(Self::from_json(item)?);
            }
        }
        Ok(entries)
    }

    /// This entry as a `credentialStatus` object, for issuers.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        if let Some(id) = &self.id {
            object.insert("id".into(), json!(id));
        }
        object.insert("type".into(), json!("BitstringStatusListEntry"));
        object.insert("statusPurpose".into(), json!(self.status_purpose.as_str()));
        object.insert(
            "statusListIndex".into(),
            json!(self.status_list_index.to_string()),
        );
        object.insert(
            "statusListCredential".into(),
            json!(self.status_list_credential),
        );
        if self.status_size != 1 {
            object.insert("statusSize".into(), json!(self.status_size));
        }
        if !self.status_messages.is_empty() {
            let messages: Vec<Value> = self
                .status_messages
                .iter()
                .map(|m| json!({"status": format!("0x{:x}", m.status), "message": m.message}))
                .collect();
            object.insert("statusMessage".into(), Value::Array(messages));
        }
        match self.status_reference.as_slice() {
            [] => {}
            [one] => {
                object.insert("statusReference".into(), json!(one));
            }
            many => {
                object.insert("statusReference".into(), json!(many));
            }
        }
        Value::Object(object)
    }
}

/// The members of a `BitstringStatusListCredential` that matter for status, read from a
/// credential whose proof the caller has **already verified**.
///
/// For a VCDM 2.0 `vc+jwt` pass the JWT payload; for a VCDM 1.1 `jwt_vc_json` pass its `vc`
/// claim; for a Data Integrity credential pass the document itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitstringStatusListCredential {
    /// The credential's `id`, when present (must equal the entry's `statusListCredential`).
    pub id: Option<String>,
    /// The `credentialSubject.id`, when present.
    pub subject_id: Option<String>,
    /// `credentialSubject.statusPurpose` (one or more).
    pub status_purposes: Vec<StatusPurpose>,
    /// `credentialSubject.encodedList`, not yet decoded.
    pub encoded_list: String,
    /// `credentialSubject.statusSize`, when present.
    pub status_size: Option<u8>,
    /// `credentialSubject.ttl` in milliseconds, when present (see [`Self::ttl_ms`]).
    pub ttl: Option<u64>,
    /// `validFrom`, as written (an XML Schema dateTimeStamp; the caller checks it).
    pub valid_from: Option<String>,
    /// `validUntil`, as written.
    pub valid_until: Option<String>,
}

/// The outcome of looking an entry up in a list credential (the Validate Algorithm's result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitstringStatus {
    /// The purpose checked.
    pub purpose: StatusPurpose,
    /// The status value (0 or 1 for `statusSize` 1).
    pub status: u8,
    /// For a `statusMessage` entry, the message of that value.
    pub message: Option<String>,
}

impl BitstringStatus {
    /// `valid` in the Validate Algorithm: the status value is 0.
    pub fn is_valid(&self) -> bool {
        self.status == 0
    }
}

impl BitstringStatusListCredential {
    /// Reads an already verified list credential (see the type's documentation).
    pub fn from_verified_json(credential: &Value) -> Result<Self, FormatError> {
        crate::limits::check_json_depth(WHAT_CREDENTIAL, credential)?;
        let object = credential
            .as_object()
            .ok_or_else(|| FormatError::malformed(WHAT_CREDENTIAL, "must be a JSON object"))?;
        if !has_type(WHAT_CREDENTIAL, object, "BitstringStatusListCredential")? {
            return Err(FormatError::malformed(
                WHAT_CREDENTIAL,
                "`type` does not include BitstringStatusListCredential",
            ));
        }
        let subject = match object.get("credentialSubject") {
            Some(Value::Object(s)) => s,
            Some(Value::Array(items)) => match items.as_slice() {
                [Value::Object(s)] => s,
                _ => {
                    return Err(FormatError::malformed(
                        WHAT_CREDENTIAL,
                        "`credentialSubject` must be one object (the BitstringStatusList)",
                    ));
                }
            },
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_CREDENTIAL,
                    "`credentialSubject` must be an object",
                ));
            }
            None => {
                return Err(FormatError::malformed(
                    WHAT_CREDENTIAL,
                    "`credentialSubject` is missing",
                ));
            }
        };
        if !has_type(WHAT_CREDENTIAL, subject, "BitstringStatusList")? {
            return Err(FormatError::malformed(
                WHAT_CREDENTIAL,
                "`credentialSubject.type` is not BitstringStatusList",
            ));
        }
        let status_purposes = match subject.get("statusPurpose") {
            Some(Value::String(p)) => vec![StatusPurpose::parse(p)],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| {
                    i.as_str().map(StatusPurpose::parse).ok_or_else(|| {
                        FormatError::malformed(WHAT_CREDENTIAL, "`statusPurpose` must hold strings")
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_CREDENTIAL,
                    "`statusPurpose` must be a string or a non-empty array",
                ));
            }
            None => {
                return Err(FormatError::malformed(
                    WHAT_CREDENTIAL,
                    "`credentialSubject.statusPurpose` is missing",
                ));
            }
        };
        let ttl = match subject.get("ttl") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| {
                FormatError::malformed(
                    WHAT_CREDENTIAL,
                    "`ttl` must be a non-negative integer (milliseconds)",
                )
            })?),
        };
        Ok(BitstringStatusListCredential {
            id: get_str(WHAT_CREDENTIAL, object, "id")?.map(str::to_string),
            subject_id: get_str(WHAT_CREDENTIAL, subject, "id")?.map(str::to_string),
            status_purposes,
            encoded_list: require_str(WHAT_CREDENTIAL, subject, "encodedList")?.to_string(),
            status_size: parse_status_size(WHAT_CREDENTIAL, subject.get("statusSize"))?,
            ttl,
            valid_from: get_str(WHAT_CREDENTIAL, object, "validFrom")?.map(str::to_string),
            valid_until: get_str(WHAT_CREDENTIAL, object, "validUntil")?.map(str::to_string),
        })
    }

    /// The time to live in milliseconds: `ttl`, or [`DEFAULT_TTL_MS`] when absent.
    pub fn ttl_ms(&self) -> u64 {
        self.ttl.unwrap_or(DEFAULT_TTL_MS)
    }

    /// Decodes the list with entries of `status_size` bits (take it from the entry).
    pub fn list(&self, status_size: u8) -> Result<BitstringStatusList, FormatError> {
        BitstringStatusList::from_encoded(&self.encoded_list, status_size)
    }

    /// The Validate Algorithm, from step 5 on, for an entry of a credential: the list's id (when
    /// it has one) must be the entry's `statusListCredential`, the entry's purpose must be one of
    /// the list's, and the sizes must agree; then the value is read at the entry's index.
    ///
    /// Mismatches are [`FormatError::Rejected`] (`STATUS_VERIFICATION_ERROR`); a short list or
    /// an index outside it is [`FormatError::Malformed`].
    pub fn check(&self, entry: &BitstringStatusListEntry) -> Result<BitstringStatus, FormatError> {
        self.check_with(entry, None)
    }

    /// [`check`](Self::check), reading the value from `decoded`, this credential's list decoded
    /// once (a cache keeps it, so a check does not decompress the list again), when its status
    /// size is the entry's; otherwise as `check`.
    pub fn check_decoded(
        &self,
        decoded: &BitstringStatusList,
        entry: &BitstringStatusListEntry,
    ) -> Result<BitstringStatus, FormatError> {
        self.check_with(entry, Some(decoded))
    }

    fn check_with(
        &self,
        entry: &BitstringStatusListEntry,
        decoded: Option<&BitstringStatusList>,
    ) -> Result<BitstringStatus, FormatError> {
        if let Some(id) = &self.id
            && id != &entry.status_list_credential
        {
            return Err(FormatError::Rejected(format!(
                "the status list credential is {id}, the entry points to {} (STATUS_VERIFICATION_ERROR)",
                entry.status_list_credential
            )));
        }
        if !self.status_purposes.contains(&entry.status_purpose) {
            return Err(FormatError::Rejected(format!(
                "the entry's statusPurpose {} is not a purpose of the list (STATUS_VERIFICATION_ERROR)",
                entry.status_purpose.as_str()
            )));
        }
        if let Some(size) = self.status_size
            && size != entry.status_size
        {
            return Err(FormatError::Rejected(format!(
                "the list's statusSize {size} differs from the entry's {} (STATUS_VERIFICATION_ERROR)",
                entry.status_size
            )));
        }
        let status = match decoded {
            Some(list) if list.status_size() == entry.status_size => {
                list.status(entry.status_list_index)?
            }
            _ => self
                .list(entry.status_size)?
                .status(entry.status_list_index)?,
        };
        let message = entry
            .status_messages
            .iter()
            .find(|m| m.status == status)
            .map(|m| m.message.clone());
        Ok(BitstringStatus {
            purpose: entry.status_purpose.clone(),
            status,
            message,
        })
    }

    /// An unsigned VCDM 2.0 `BitstringStatusListCredential` publishing `list`, for an issuer to
    /// sign (through the Data Integrity or VC-JOSE module). `ttl` is in milliseconds.
    pub fn unsigned(
        list_url: &str,
        issuer: &str,
        purpose: &StatusPurpose,
        list: &BitstringStatusList,
        valid_from: Option<&str>,
        valid_until: Option<&str>,
        ttl: Option<u64>,
    ) -> Result<Value, FormatError> {
        let mut subject = Map::new();
        subject.insert("id".into(), json!(format!("{list_url}#list")));
        subject.insert("type".into(), json!("BitstringStatusList"));
        subject.insert("statusPurpose".into(), json!(purpose.as_str()));
        // `statusSize` is the entries' (Bitstring Status List v1.0 §2.1), never the list's: the
        // VCDM 2.0 context defines no such term on a BitstringStatusList, so a Data Integrity
        // proof could not be made over it.
        subject.insert("encodedList".into(), json!(list.encode()?));
        if let Some(ttl) = ttl {
            subject.insert("ttl".into(), json!(ttl));
        }
        let mut credential = Map::new();
        credential.insert(
            "@context".into(),
            json!(["https://www.w3.org/ns/credentials/v2"]),
        );
        credential.insert("id".into(), json!(list_url));
        credential.insert(
            "type".into(),
            json!(["VerifiableCredential", "BitstringStatusListCredential"]),
        );
        credential.insert("issuer".into(), json!(issuer));
        if let Some(from) = valid_from {
            credential.insert("validFrom".into(), json!(from));
        }
        if let Some(until) = valid_until {
            credential.insert("validUntil".into(), json!(until));
        }
        credential.insert("credentialSubject".into(), Value::Object(subject));
        Ok(Value::Object(credential))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn multi_bit_values_are_msb_first() {
        let mut list = BitstringStatusList::from_bytes(vec![0; 2], 2).unwrap();
        list.set(0, 0b10).unwrap();
        list.set(3, 0b01).unwrap();
        assert_eq!(list.as_bytes(), &[0b1000_0001, 0]);
        assert_eq!(list.status(0).unwrap(), 2);
        assert_eq!(list.status(3).unwrap(), 1);
        assert!(list.set(1, 4).is_err());
    }

    #[test]
    fn decompression_bound_is_applied() {
        let list = BitstringStatusList::from_bytes(vec![0; 4096], 1).unwrap();
        let encoded = list.encode().unwrap();
        assert!(BitstringStatusList::decode(&encoded, 1, 0, 4096).is_ok());
        let err = BitstringStatusList::decode(&encoded, 1, 0, 4095)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than the 4095 bytes"), "{err}");
    }
}
