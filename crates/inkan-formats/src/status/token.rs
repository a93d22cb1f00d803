//! IETF Token Status List (draft-ietf-oauth-status-list): the Status List (`bits`, `lst`), the
//! Status List Token's claims (JWT `statuslist+jwt` and CWT `application/statuslist+cwt`), and
//! the `status` claim of a Referenced Token.
//!
//! Encoding: `bits` is 1, 2, 4 or 8; entries are packed LSB-first, index 0 in the least
//! significant `bits` of byte 0; the byte array is ZLIB (RFC 1950) compressed. In JSON `lst` is
//! the base64url (no padding) of the compressed bytes; in CBOR it is a byte string, and the map
//! keys are the text strings `"bits"` and `"lst"` (as in the draft's examples).
//!
//! The token readers take the payload of an **already verified** token: the JWT payload (the
//! [`crate::jose`] module checks the JWS) or the CWT claims set (the COSE_Sign1 is checked by
//! [`crate::mdoc`]). Nothing here fetches the list at `uri`: see the [parent module](super).

use super::{b64url_decode, b64url_encode, check_list_size, unzlib_bounded, zlib};
use crate::FormatError;
use crate::limits::{MAX_DEPTH, MAX_STATUS_LIST_BYTES};
use ciborium::Value as Cbor;
use serde_json::{Map, Value, json};

/// The JWT `typ` of a Status List Token.
pub const JWT_TYP: &str = "statuslist+jwt";
/// The CWT `typ` (COSE header 16) of a Status List Token.
pub const CWT_TYP: &str = "application/statuslist+cwt";

/// CWT claim keys used by Status List Tokens and Referenced Tokens.
pub mod cwt_claim {
    /// `sub` (RFC 8392).
    pub const SUB: i64 = 2;
    /// `exp` (RFC 8392).
    pub const EXP: i64 = 4;
    /// `iat` (RFC 8392).
    pub const IAT: i64 = 6;
    /// `status_list` of a Status List Token.
    pub const STATUS_LIST: i64 = 65533;
    /// `ttl` of a Status List Token.
    pub const TTL: i64 = 65534;
    /// `status` of a Referenced Token.
    pub const STATUS: i64 = 65535;
}

const WHAT: &str = "token status list";
const WHAT_TOKEN: &str = "status list token";
const WHAT_REF: &str = "status claim";

/// A status value of the Token Status List.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    /// 0x00 VALID.
    Valid,
    /// 0x01 INVALID (revoked, for good).
    Invalid,
    /// 0x02 SUSPENDED (reversible).
    Suspended,
    /// Any other value: 0x03 and 0x0C–0x0F are application-specific, the rest reserved.
    Other(u8),
}

impl From<u8> for TokenStatus {
    fn from(value: u8) -> Self {
        match value {
            0 => TokenStatus::Valid,
            1 => TokenStatus::Invalid,
            2 => TokenStatus::Suspended,
            other => TokenStatus::Other(other),
        }
    }
}

impl From<TokenStatus> for u8 {
    fn from(status: TokenStatus) -> Self {
        match status {
            TokenStatus::Valid => 0,
            TokenStatus::Invalid => 1,
            TokenStatus::Suspended => 2,
            TokenStatus::Other(v) => v,
        }
    }
}

/// A decoded Token Status List: the uncompressed byte array and `bits` per entry.
///
/// Two lists are equal when `bits`, bytes and `aggregation_uri` are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatusList {
    bits: u8,
    bytes: Vec<u8>,
    aggregation_uri: Option<String>,
}

fn check_bits(bits: u64) -> Result<u8, FormatError> {
    match bits {
        1 | 2 | 4 | 8 => Ok(bits as u8),
        other => Err(FormatError::malformed(
            WHAT,
            format!("`bits` must be 1, 2, 4 or 8, found {other}"),
        )),
    }
}

impl TokenStatusList {
    /// A list of at least `entries` entries of `bits` bits, all VALID (rounded up to whole bytes).
    pub fn new(entries: usize, bits: u8) -> Result<Self, FormatError> {
        let bits = check_bits(u64::from(bits))?;
        let len = entries
            .checked_mul(usize::from(bits))
            .ok_or_else(|| FormatError::malformed(WHAT, "too many entries"))?
            .div_ceil(8);
        check_list_size(WHAT, len)?;
        Ok(TokenStatusList {
            bits,
            bytes: vec![0; len],
            aggregation_uri: None,
        })
    }

    /// A list over an uncompressed byte array (the draft's `byte_array`).
    pub fn from_bytes(bytes: Vec<u8>, bits: u8) -> Result<Self, FormatError> {
        let bits = check_bits(u64::from(bits))?;
        check_list_size(WHAT, bytes.len())?;
        Ok(TokenStatusList {
            bits,
            bytes,
            aggregation_uri: None,
        })
    }

    /// Decompresses a ZLIB-compressed byte array (the `lst` bytes), bounded by
    /// [`MAX_STATUS_LIST_BYTES`].
    pub fn from_compressed(compressed: &[u8], bits: u8) -> Result<Self, FormatError> {
        Self::from_compressed_bounded(compressed, bits, MAX_STATUS_LIST_BYTES)
    }

    fn from_compressed_bounded(
        compressed: &[u8],
        bits: u8,
        limit: usize,
    ) -> Result<Self, FormatError> {
        let bits = check_bits(u64::from(bits))?;
        crate::limits::check_size(WHAT, compressed)?;
        let bytes = unzlib_bounded(WHAT, compressed, limit)?;
        Ok(TokenStatusList {
            bits,
            bytes,
            aggregation_uri: None,
        })
    }

    /// The ZLIB-compressed byte array (`lst` before base64url).
    pub fn compressed(&self) -> Result<Vec<u8>, FormatError> {
        zlib(WHAT, &self.bytes)
    }

    /// Sets the `aggregation_uri` written by [`to_json`](Self::to_json) and
    /// [`to_cbor`](Self::to_cbor).
    pub fn with_aggregation_uri(mut self, uri: impl Into<String>) -> Self {
        self.aggregation_uri = Some(uri.into());
        self
    }

    /// `aggregation_uri`, when the list has one.
    pub fn aggregation_uri(&self) -> Option<&str> {
        self.aggregation_uri.as_deref()
    }

    /// Bits per entry.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The uncompressed byte array.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.bytes.len().saturating_mul(8) / usize::from(self.bits)
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    fn locate(&self, index: u64) -> Result<(usize, u32), FormatError> {
        let len = self.len();
        match usize::try_from(index) {
            Ok(i) if i < len => {
                let per_byte = 8 / usize::from(self.bits);
                let shift = (i % per_byte) * usize::from(self.bits);
                Ok((i / per_byte, shift as u32))
            }
            _ => Err(FormatError::malformed(
                "status list index",
                format!("index {index} is out of range: the list has {len} entries"),
            )),
        }
    }

    fn mask(&self) -> u8 {
        if self.bits == 8 {
            0xff
        } else {
            (1u8 << self.bits) - 1
        }
    }

    /// The status value at `index` (LSB-first).
    pub fn status(&self, index: u64) -> Result<u8, FormatError> {
        let (byte, shift) = self.locate(index)?;
        let b = self.bytes.get(byte).copied().unwrap_or(0);
        Ok((b >> shift) & self.mask())
    }

    /// The status at `index`, named.
    pub fn token_status(&self, index: u64) -> Result<TokenStatus, FormatError> {
        self.status(index).map(TokenStatus::from)
    }

    /// Sets the status value at `index`; refuses a value that does not fit in `bits`.
    pub fn set(&mut self, index: u64, value: u8) -> Result<(), FormatError> {
        if value & !self.mask() != 0 {
            return Err(FormatError::malformed(
                WHAT,
                format!("status value {value} does not fit in {} bit(s)", self.bits),
            ));
        }
        let (byte, shift) = self.locate(index)?;
        let mask = self.mask() << shift;
        if let Some(b) = self.bytes.get_mut(byte) {
            *b = (*b & !mask) | (value << shift);
        }
        Ok(())
    }

    /// Reads the JSON Status List object `{"bits": …, "lst": "…"}` (with an optional
    /// `aggregation_uri`; other members are ignored).
    pub fn from_json(value: &Value) -> Result<Self, FormatError> {
        let object = value
            .as_object()
            .ok_or_else(|| FormatError::malformed(WHAT, "must be a JSON object"))?;
        let bits = object
            .get("bits")
            .ok_or_else(|| FormatError::malformed(WHAT, "`bits` is missing"))?
            .as_u64()
            .ok_or_else(|| FormatError::malformed(WHAT, "`bits` must be an integer"))?;
        let bits = check_bits(bits)?;
        let lst = match object.get("lst") {
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT,
                    "`lst` must be a base64url string",
                ));
            }
            None => return Err(FormatError::malformed(WHAT, "`lst` is missing")),
        };
        let aggregation_uri = match object.get("aggregation_uri") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT,
                    "`aggregation_uri` must be a string",
                ));
            }
        };
        let mut list = Self::from_compressed(&b64url_decode(WHAT, lst)?, bits)?;
        list.aggregation_uri = aggregation_uri;
        Ok(list)
    }

    /// The JSON Status List object.
    pub fn to_json(&self) -> Result<Value, FormatError> {
        let mut object = Map::new();
        object.insert("bits".into(), json!(self.bits));
        object.insert("lst".into(), json!(b64url_encode(&self.compressed()?)));
        if let Some(uri) = &self.aggregation_uri {
            object.insert("aggregation_uri".into(), json!(uri));
        }
        Ok(Value::Object(object))
    }

    /// Reads the CBOR Status List map `{"bits": uint, "lst": bstr}` from its encoding.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, FormatError> {
        Self::from_cbor_value(&parse_cbor(WHAT, bytes)?)
    }

    /// Reads the CBOR Status List map from a decoded CBOR value.
    pub fn from_cbor_value(value: &Cbor) -> Result<Self, FormatError> {
        let map = cbor_map(WHAT, value)?;
        let bits = cbor_uint(WHAT, "bits", cbor_get(WHAT, map, &text_key("bits"))?)?;
        let bits = check_bits(bits)?;
        let lst = match cbor_get(WHAT, map, &text_key("lst"))? {
            Some(Cbor::Bytes(b)) => b,
            Some(_) => return Err(FormatError::malformed(WHAT, "`lst` must be a byte string")),
            None => return Err(FormatError::malformed(WHAT, "`lst` is missing")),
        };
        let aggregation_uri = match cbor_get(WHAT, map, &text_key("aggregation_uri"))? {
            None => None,
            Some(Cbor::Text(s)) => Some(s.clone()),
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT,
                    "`aggregation_uri` must be a text string",
                ));
            }
        };
        let mut list = Self::from_compressed(lst, bits)?;
        list.aggregation_uri = aggregation_uri;
        Ok(list)
    }

    /// The CBOR Status List map as a value.
    pub fn to_cbor_value(&self) -> Result<Cbor, FormatError> {
        let mut map = vec![
            (text_key("bits"), Cbor::Integer(self.bits.into())),
            (text_key("lst"), Cbor::Bytes(self.compressed()?)),
        ];
        if let Some(uri) = &self.aggregation_uri {
            map.push((text_key("aggregation_uri"), Cbor::Text(uri.clone())));
        }
        Ok(Cbor::Map(map))
    }

    /// The CBOR Status List map, encoded.
    pub fn to_cbor(&self) -> Result<Vec<u8>, FormatError> {
        encode_cbor(WHAT, &self.to_cbor_value()?)
    }
}

/// The claims of a Status List Token (JWT or CWT), read from an **already verified** token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListToken {
    /// `sub`: the URI of this list; a Referenced Token's `uri` must equal it.
    pub sub: String,
    /// `iat` (seconds since the epoch).
    pub iat: u64,
    /// `exp`, when present.
    pub exp: Option<u64>,
    /// `ttl` in seconds, when present: how long the list may be cached before fetching again.
    pub ttl: Option<u64>,
    /// `status_list`.
    pub status_list: TokenStatusList,
}

impl StatusListToken {
    /// Checks a JWT header's `typ` is `statuslist+jwt` (the jose module verifies the rest).
    pub fn check_jwt_header(header: &Value) -> Result<(), FormatError> {
        match header.get("typ").and_then(Value::as_str) {
            Some(JWT_TYP) => Ok(()),
            Some(other) => Err(FormatError::Rejected(format!(
                "status list token `typ` is {other:?}, not {JWT_TYP}"
            ))),
            None => Err(FormatError::Rejected(format!(
                "status list token has no `typ` (expected {JWT_TYP})"
            ))),
        }
    }

    /// Checks a CWT's COSE `typ` header (16) is `application/statuslist+cwt`.
    pub fn check_cwt_typ(typ: &str) -> Result<(), FormatError> {
        if typ == CWT_TYP {
            Ok(())
        } else {
            Err(FormatError::Rejected(format!(
                "status list token `typ` is {typ:?}, not {CWT_TYP}"
            )))
        }
    }

    /// Reads the claims from a verified JWT payload (JSON bytes), with the size and depth limits.
    pub fn from_jwt_payload(payload: &[u8]) -> Result<Self, FormatError> {
        Self::from_jwt_claims(&crate::limits::parse_json(WHAT_TOKEN, payload)?)
    }

    /// Reads the claims from a verified JWT payload, already parsed.
    pub fn from_jwt_claims(claims: &Value) -> Result<Self, FormatError> {
        let object = claims
            .as_object()
            .ok_or_else(|| FormatError::malformed(WHAT_TOKEN, "claims must be a JSON object"))?;
        let sub = match object.get("sub") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(FormatError::malformed(WHAT_TOKEN, "`sub` must be a string")),
            None => return Err(FormatError::malformed(WHAT_TOKEN, "`sub` is missing")),
        };
        let uint = |name: &str| -> Result<Option<u64>, FormatError> {
            match object.get(name) {
                None => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                    FormatError::malformed(
                        WHAT_TOKEN,
                        format!("`{name}` must be a non-negative integer"),
                    )
                }),
            }
        };
        let iat =
            uint("iat")?.ok_or_else(|| FormatError::malformed(WHAT_TOKEN, "`iat` is missing"))?;
        let status_list = TokenStatusList::from_json(
            object
                .get("status_list")
                .ok_or_else(|| FormatError::malformed(WHAT_TOKEN, "`status_list` is missing"))?,
        )?;
        Ok(StatusListToken {
            sub,
            iat,
            exp: uint("exp")?,
            ttl: uint("ttl")?,
            status_list,
        })
    }

    /// Reads the claims from a verified CWT's claims set (the COSE_Sign1 payload bytes).
    pub fn from_cwt_claims(claims: &[u8]) -> Result<Self, FormatError> {
        Self::from_cwt_claims_value(&parse_cbor(WHAT_TOKEN, claims)?)
    }

    /// Reads the claims from a verified CWT claims set, already decoded.
    pub fn from_cwt_claims_value(claims: &Cbor) -> Result<Self, FormatError> {
        let map = cbor_map(WHAT_TOKEN, claims)?;
        let sub = match cbor_get(WHAT_TOKEN, map, &int_key(cwt_claim::SUB))? {
            Some(Cbor::Text(s)) => s.clone(),
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_TOKEN,
                    "`sub` (2) must be a text string",
                ));
            }
            None => return Err(FormatError::malformed(WHAT_TOKEN, "`sub` (2) is missing")),
        };
        let uint = |key: i64, name: &str| -> Result<Option<u64>, FormatError> {
            match cbor_get(WHAT_TOKEN, map, &int_key(key))? {
                None => Ok(None),
                some => cbor_uint(WHAT_TOKEN, name, some).map(Some),
            }
        };
        let iat = uint(cwt_claim::IAT, "iat (6)")?
            .ok_or_else(|| FormatError::malformed(WHAT_TOKEN, "`iat` (6) is missing"))?;
        let status_list = TokenStatusList::from_cbor_value(
            cbor_get(WHAT_TOKEN, map, &int_key(cwt_claim::STATUS_LIST))?.ok_or_else(|| {
                FormatError::malformed(WHAT_TOKEN, "`status_list` (65533) is missing")
            })?,
        )?;
        Ok(StatusListToken {
            sub,
            iat,
            exp: uint(cwt_claim::EXP, "exp (4)")?,
            ttl: uint(cwt_claim::TTL, "ttl (65534)")?,
            status_list,
        })
    }

    /// The JWT claims, for an issuer to sign with `typ` [`JWT_TYP`].
    pub fn to_jwt_claims(&self) -> Result<Value, FormatError> {
        let mut object = Map::new();
        object.insert("sub".into(), json!(self.sub));
        object.insert("iat".into(), json!(self.iat));
        if let Some(exp) = self.exp {
            object.insert("exp".into(), json!(exp));
        }
        if let Some(ttl) = self.ttl {
            object.insert("ttl".into(), json!(ttl));
        }
        object.insert("status_list".into(), self.status_list.to_json()?);
        Ok(Value::Object(object))
    }

    /// The CWT claims set, encoded, for an issuer to sign with `typ` [`CWT_TYP`].
    pub fn to_cwt_claims(&self) -> Result<Vec<u8>, FormatError> {
        let mut map = vec![
            (int_key(cwt_claim::SUB), Cbor::Text(self.sub.clone())),
            (int_key(cwt_claim::IAT), Cbor::Integer(self.iat.into())),
        ];
        if let Some(exp) = self.exp {
            map.push((int_key(cwt_claim::EXP), Cbor::Integer(exp.into())));
        }
        if let Some(ttl) = self.ttl {
            map.push((int_key(cwt_claim::TTL), Cbor::Integer(ttl.into())));
        }
        map.push((
            int_key(cwt_claim::STATUS_LIST),
            self.status_list.to_cbor_value()?,
        ));
        encode_cbor(WHAT_TOKEN, &Cbor::Map(map))
    }

    /// Whether `exp` has passed at `now` (seconds since the epoch). Freshness by `ttl` is the
    /// status monitor's business: it knows when it fetched the token.
    pub fn is_expired_at(&self, now: u64) -> bool {
        self.exp.is_some_and(|exp| now >= exp)
    }

    /// The status of a Referenced Token: its `uri` must be this token's `sub`
    /// ([`FormatError::Rejected`] otherwise), then the value at `idx` is read.
    pub fn status_of(&self, reference: &StatusListReference) -> Result<TokenStatus, FormatError> {
        if reference.uri != self.sub {
            return Err(FormatError::Rejected(format!(
                "the referenced token points to {}, this status list token is {}",
                reference.uri, self.sub
            )));
        }
        self.status_list.token_status(reference.idx)
    }
}

/// The `status_list` member of a Referenced Token's `status` claim: where its status is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListReference {
    /// `idx`: the index in the list.
    pub idx: u64,
    /// `uri`: the Status List Token's URI (its `sub`). Never fetched here.
    pub uri: String,
}

impl StatusListReference {
    /// Reads `status.status_list` from a verified JWT's claims (JWT, SD-JWT VC payload).
    /// `None` when the token has no `status` claim or it holds no `status_list`.
    pub fn from_jwt_claims(claims: &Value) -> Result<Option<Self>, FormatError> {
        let status = match claims.get("status") {
            None => return Ok(None),
            Some(Value::Object(s)) => s,
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_REF,
                    "`status` must be a JSON object",
                ));
            }
        };
        let reference = match status.get("status_list") {
            None => return Ok(None),
            Some(Value::Object(r)) => r,
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_REF,
                    "`status_list` must be a JSON object",
                ));
            }
        };
        let idx = reference
            .get("idx")
            .ok_or_else(|| FormatError::malformed(WHAT_REF, "`idx` is missing"))?
            .as_u64()
            .ok_or_else(|| {
                FormatError::malformed(WHAT_REF, "`idx` must be a non-negative integer")
            })?;
        let uri = match reference.get("uri") {
            Some(Value::String(u)) => u.clone(),
            Some(_) => return Err(FormatError::malformed(WHAT_REF, "`uri` must be a string")),
            None => return Err(FormatError::malformed(WHAT_REF, "`uri` is missing")),
        };
        Ok(Some(StatusListReference { idx, uri }))
    }

    /// Reads claim 65535 (`status`) → `"status_list"` from a verified CWT's claims set (bytes).
    pub fn from_cwt_claims(claims: &[u8]) -> Result<Option<Self>, FormatError> {
        Self::from_cwt_claims_value(&parse_cbor(WHAT_REF, claims)?)
    }

    /// As [`from_cwt_claims`](Self::from_cwt_claims), from a decoded claims set.
    pub fn from_cwt_claims_value(claims: &Cbor) -> Result<Option<Self>, FormatError> {
        let map = cbor_map(WHAT_REF, claims)?;
        match cbor_get(WHAT_REF, map, &int_key(cwt_claim::STATUS))? {
            None => Ok(None),
            Some(status) => Self::from_cbor_status(status),
        }
    }

    /// Reads a CBOR `status` claim value (`{"status_list": {"idx": uint, "uri": tstr}}`), as
    /// an mdoc MSO carries it too.
    pub fn from_cbor_status(status: &Cbor) -> Result<Option<Self>, FormatError> {
        let status = cbor_map(WHAT_REF, status)?;
        let Some(reference) = cbor_get(WHAT_REF, status, &text_key("status_list"))? else {
            return Ok(None);
        };
        let reference = cbor_map(WHAT_REF, reference)?;
        let idx = cbor_uint(
            WHAT_REF,
            "idx",
            cbor_get(WHAT_REF, reference, &text_key("idx"))?,
        )?;
        let uri = match cbor_get(WHAT_REF, reference, &text_key("uri"))? {
            Some(Cbor::Text(u)) => u.clone(),
            Some(_) => {
                return Err(FormatError::malformed(
                    WHAT_REF,
                    "`uri` must be a text string",
                ));
            }
            None => return Err(FormatError::malformed(WHAT_REF, "`uri` is missing")),
        };
        Ok(Some(StatusListReference { idx, uri }))
    }

    /// The JWT `status` claim value `{"status_list": {"idx": …, "uri": …}}`.
    pub fn to_jwt_status(&self) -> Value {
        json!({"status_list": {"idx": self.idx, "uri": self.uri}})
    }

    /// The CBOR `status` claim value (claim 65535 of a CWT).
    pub fn to_cbor_status(&self) -> Cbor {
        Cbor::Map(vec![(
            text_key("status_list"),
            Cbor::Map(vec![
                (text_key("idx"), Cbor::Integer(self.idx.into())),
                (text_key("uri"), Cbor::Text(self.uri.clone())),
            ]),
        )])
    }
}

// ---- CBOR helpers: strict (one item, no trailing bytes, bounded depth, no duplicate keys) ----

fn text_key(key: &str) -> Cbor {
    Cbor::Text(key.to_string())
}

fn int_key(key: i64) -> Cbor {
    Cbor::Integer(key.into())
}

fn parse_cbor(what: &'static str, bytes: &[u8]) -> Result<Cbor, FormatError> {
    crate::limits::check_size(what, bytes)?;
    let mut rest = bytes;
    let value: Cbor = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|e| FormatError::malformed(what, format!("bad CBOR: {e}")))?;
    if !rest.is_empty() {
        return Err(FormatError::malformed(
            what,
            format!("{} bytes after the CBOR item", rest.len()),
        ));
    }
    Ok(value)
}

fn encode_cbor(what: &'static str, value: &Cbor) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out)
        .map_err(|e| FormatError::malformed(what, format!("CBOR encoding failed: {e}")))?;
    Ok(out)
}

fn cbor_map<'a>(what: &'static str, value: &'a Cbor) -> Result<&'a [(Cbor, Cbor)], FormatError> {
    match value {
        Cbor::Map(entries) => Ok(entries),
        _ => Err(FormatError::malformed(what, "must be a CBOR map")),
    }
}

fn cbor_get<'a>(
    what: &'static str,
    map: &'a [(Cbor, Cbor)],
    key: &Cbor,
) -> Result<Option<&'a Cbor>, FormatError> {
    let mut found = None;
    for (k, v) in map {
        if k == key {
            if found.is_some() {
                return Err(FormatError::malformed(
                    what,
                    format!("duplicate map key {key:?}"),
                ));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

fn cbor_uint(what: &'static str, name: &str, value: Option<&Cbor>) -> Result<u64, FormatError> {
    match value {
        Some(Cbor::Integer(i)) => u64::try_from(*i).map_err(|_| {
            FormatError::malformed(what, format!("`{name}` must be an unsigned integer"))
        }),
        Some(_) => Err(FormatError::malformed(
            what,
            format!("`{name}` must be an unsigned integer"),
        )),
        None => Err(FormatError::malformed(what, format!("`{name}` is missing"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lsb_first_packing() {
        let mut list = TokenStatusList::new(8, 4).unwrap();
        list.set(0, 0xA).unwrap();
        list.set(1, 0x3).unwrap();
        assert_eq!(list.as_bytes()[0], 0x3A);
        assert_eq!(list.status(1).unwrap(), 3);
        assert!(list.set(2, 16).is_err());
        assert!(list.status(8).is_err());
    }

    #[test]
    fn zlib_bound_is_applied() {
        let list = TokenStatusList::from_bytes(vec![0; 1000], 1).unwrap();
        let z = list.compressed().unwrap();
        assert!(TokenStatusList::from_compressed_bounded(&z, 1, 1000).is_ok());
        assert!(TokenStatusList::from_compressed_bounded(&z, 1, 999).is_err());
    }

    #[test]
    fn duplicate_cbor_keys_are_refused() {
        let map = Cbor::Map(vec![
            (text_key("bits"), Cbor::Integer(1.into())),
            (text_key("bits"), Cbor::Integer(2.into())),
            (text_key("lst"), Cbor::Bytes(vec![])),
        ]);
        let err = TokenStatusList::from_cbor_value(&map)
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate"), "{err}");
    }
}
