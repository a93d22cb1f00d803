//! Verifying a fetched status list and reading what the checker keeps of it.
//!
//! What it owns: the decision whether fetched bytes are a list Inkan may rely on (criteria
//! 2.2.3(1)B) — an IETF Status List Token (`statuslist+jwt` or `statuslist+cwt`) or a W3C
//! `BitstringStatusListCredential` secured as `vc+jwt` or with a Data Integrity proof — signed
//! by one of the trust anchors, for the URL it was fetched from, within its validity period.
//! Signatures and parsing are the formats crate's (`inkan_formats::jose`,
//! `inkan_formats::data_integrity`, `inkan_formats::status`); this module only chooses the key
//! and checks what binds the list to its URL and to now.
//!
//! What it must never do: accept a list signed by a key that is not a trust anchor (a key named
//! in the list's own header is never trusted for that reason), a list whose `sub` / `id` is
//! another URL, or an expired list.

use inkan_device::PublicKey;
use inkan_formats::FormatError;
use inkan_formats::data_integrity::{self as di, ProofPurpose};
use inkan_formats::jose::{DecodedJws, decode_compact, parse_rfc3339, vc_jwt};
use inkan_formats::mdoc::cose;
use inkan_formats::status::bitstring::{BitstringStatusList, BitstringStatusListCredential};
use inkan_formats::status::token::{CWT_TYP, StatusListToken};
use serde_json::Value;

/// A verified list, as kept in the cache.
#[derive(Debug)]
pub(crate) enum VerifiedList {
    /// An IETF Status List Token.
    Token(StatusListToken),
    /// A W3C Bitstring Status List credential, with its list decoded once at fetch time (a
    /// check reads the bit, it does not decompress the list again).
    Bitstring(Box<DecodedBitstring>),
    /// An X.509 CRL.
    Crl(super::crl::VerifiedCrl),
    /// An OCSP answer about one certificate.
    Ocsp(super::ocsp::OcspStatus),
}

/// A verified W3C list credential and its list, decoded with the credential's `statusSize`.
#[derive(Debug)]
pub(crate) struct DecodedBitstring {
    pub credential: BitstringStatusListCredential,
    pub list: BitstringStatusList,
}

/// A verified list and its times.
#[derive(Debug)]
pub(crate) struct Verified {
    pub list: VerifiedList,
    /// `iat` (token, JWT), `validFrom` or `thisUpdate`, Unix seconds.
    pub issued_at: Option<i64>,
    /// The earliest of `exp` and `validUntil`, or `nextUpdate`, Unix seconds.
    pub expires_at: Option<i64>,
    /// `ttl`, in milliseconds.
    pub ttl_ms: Option<u64>,
}

/// The anchor whose key verifies `jws`.
fn anchor_for(jws: &DecodedJws, anchors: &[PublicKey]) -> Result<PublicKey, String> {
    anchor_verifying(anchors, |key| jws.verify(key).is_ok())
}

/// The anchor whose key `verifies` the list's signature.
fn anchor_verifying(
    anchors: &[PublicKey],
    verifies: impl Fn(&PublicKey) -> bool,
) -> Result<PublicKey, String> {
    if anchors.is_empty() {
        return Err("no trust anchors are configured ([status] trust_anchors)".into());
    }
    anchors
        .iter()
        .find(|key| verifies(key))
        .cloned()
        .ok_or_else(|| "the list's signature does not verify with any trust anchor".into())
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes)
        .map(str::trim)
        .map_err(|_| "the list is not UTF-8 text".into())
}

fn formats(e: FormatError) -> String {
    e.to_string()
}

fn seconds(claims: &serde_json::Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(Value::as_i64)
}

/// The earlier of two optional times.
pub(super) fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An IETF Status List Token fetched from `url`, at `now` (seconds): a `statuslist+jwt`
/// (compact JWS text, which starts `ey`) or an `application/statuslist+cwt` (a `COSE_Sign1`,
/// tagged or not).
pub(crate) fn token(
    bytes: &[u8],
    url: &str,
    anchors: &[PublicKey],
    now: i64,
) -> Result<Verified, String> {
    let token = if bytes.trim_ascii_start().starts_with(b"ey") {
        token_jwt(bytes, anchors)?
    } else {
        token_cwt(bytes, anchors)?
    };
    if token.sub != url {
        return Err(format!(
            "the token's `sub` is {:?}, not the URL it was fetched from",
            token.sub
        ));
    }
    if token.is_expired_at(u64::try_from(now).unwrap_or(0)) {
        return Err("the status list token has expired (`exp`)".into());
    }
    Ok(Verified {
        issued_at: i64::try_from(token.iat).ok(),
        expires_at: token.exp.and_then(|e| i64::try_from(e).ok()),
        ttl_ms: token.ttl.map(|t| t.saturating_mul(1000)),
        list: VerifiedList::Token(token),
    })
}

/// The claims of a `statuslist+jwt` signed by a trust anchor.
fn token_jwt(bytes: &[u8], anchors: &[PublicKey]) -> Result<StatusListToken, String> {
    let jws = decode_compact(text(bytes)?).map_err(formats)?;
    StatusListToken::check_jwt_header(&Value::Object(jws.header.clone())).map_err(formats)?;
    anchor_for(&jws, anchors)?;
    StatusListToken::from_jwt_payload(&jws.payload).map_err(formats)
}

/// The claims of an `application/statuslist+cwt` signed by a trust anchor: its protected `typ`
/// (16) names the type, as the draft requires, so a CWT of another kind signed by the same key
/// is not read as a status list.
fn token_cwt(bytes: &[u8], anchors: &[PublicKey]) -> Result<StatusListToken, String> {
    let sign1 = cose::parse(bytes)
        .map_err(|e| format!("the list is neither a statuslist+jwt nor a statuslist+cwt: {e}"))?;
    match cose::typ(&sign1).map_err(formats)? {
        Some(typ) => StatusListToken::check_cwt_typ(typ).map_err(formats)?,
        None => {
            return Err(format!(
                "the status list CWT has no `typ` header (16), expected {CWT_TYP}"
            ));
        }
    }
    anchor_verifying(anchors, |key| cose::verify(&sign1, key, None).is_ok())?;
    let claims = sign1
        .payload
        .as_deref()
        .ok_or("the status list CWT carries no claims (a detached payload)")?;
    StatusListToken::from_cwt_claims(claims).map_err(formats)
}

/// A W3C `BitstringStatusListCredential` fetched from `url` (a `vc+jwt`, or JSON with a Data
/// Integrity proof), at `now` (seconds).
pub(crate) fn bitstring(
    bytes: &[u8],
    url: &str,
    anchors: &[PublicKey],
    now: i64,
) -> Result<Verified, String> {
    let text = text(bytes)?;
    let (document, issued_at, expires_at) = if text.starts_with('{') {
        let value = inkan_formats::limits::parse_json("status list credential", text.as_bytes())
            .map_err(formats)?;
        let options = di::VerifyOptions {
            proof_only: false,
            purpose: Some(ProofPurpose::AssertionMethod),
            challenge: None,
            domain: None,
            at: Some(now),
        };
        // A list credential is a credential: the VC Data Model as for any other (vc+jwt lists
        // are checked inside `verify_vc_jwt`).
        inkan_formats::vcdm::validate_credential(&value, "status list credential")
            .map_err(|e| e.to_string())?;
        let verified = di::verify(&value, &options).map_err(formats)?;
        if anchors.is_empty() {
            return Err("no trust anchors are configured ([status] trust_anchors)".into());
        }
        if !anchors.contains(&verified.public_key) {
            return Err(format!(
                "the list's proof is made with {}, which is not a trust anchor",
                verified.verification_method
            ));
        }
        let date = |name: &str| -> Result<Option<i64>, String> {
            match value.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => parse_rfc3339(s).map(Some).map_err(formats),
                Some(_) => Err(format!("`{name}` is not a date-time string")),
            }
        };
        let (from, until) = (date("validFrom")?, date("validUntil")?);
        if from.is_some_and(|from| now < from) {
            return Err("the status list credential is not valid yet (`validFrom`)".into());
        }
        if until.is_some_and(|until| now >= until) {
            return Err("the status list credential has expired (`validUntil`)".into());
        }
        (value, from, until)
    } else {
        let jws = decode_compact(text).map_err(formats)?;
        let key = anchor_for(&jws, anchors)?;
        let verified = vc_jwt::verify_vc_jwt(text, &key, now).map_err(formats)?;
        let parse = |name: &str| {
            verified
                .claims
                .get(name)
                .and_then(Value::as_str)
                .and_then(|s| parse_rfc3339(s).ok())
        };
        let issued_at = seconds(&verified.claims, "iat").or_else(|| parse("validFrom"));
        let expires_at = min_opt(seconds(&verified.claims, "exp"), parse("validUntil"));
        (verified.document, issued_at, expires_at)
    };
    let credential =
        BitstringStatusListCredential::from_verified_json(&document).map_err(formats)?;
    if let Some(id) = &credential.id
        && id != url
    {
        return Err(format!(
            "the list credential's `id` is {id:?}, not the URL it was fetched from"
        ));
    }
    // Decoded once here: a malformed list is refused at fetch time, and checks read the kept
    // list instead of decompressing it each time.
    let list = credential
        .list(credential.status_size.unwrap_or(1))
        .map_err(formats)?;
    Ok(Verified {
        issued_at,
        expires_at,
        ttl_ms: Some(credential.ttl_ms()),
        list: VerifiedList::Bitstring(Box::new(DecodedBitstring { credential, list })),
    })
}
