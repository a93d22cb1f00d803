//! The W3C Verifiable Credentials Data Model rules a credential or presentation must meet
//! before Inkan signs it and before Inkan calls it verified: VCDM 2.0
//! (<https://www.w3.org/TR/vc-data-model-2.0/>) when the first `@context` is
//! `https://www.w3.org/ns/credentials/v2`, VCDM 1.1 (<https://www.w3.org/TR/vc-data-model-1.1/>)
//! when it is `https://www.w3.org/2018/credentials/v1`.
//!
//! Owns the structural MUSTs of the data model, one function per document kind
//! ([`validate_credential`], [`validate_presentation`], [`validate_enveloped`]): contexts,
//! identifiers, types, issuer, subject, validity period (XML Schema `dateTimeStamp`), status,
//! schemas, evidence, terms of use, refresh services, related resources, names and descriptions,
//! holders, and the credentials a presentation carries. Every securing mechanism calls it: Data
//! Integrity and JOSE alike, at issuance and at verification, so the rules never differ by
//! format.
//!
//! A refusal ([`VcdmError`]) names the property by its path (`credential.credentialSubject[1]`)
//! and the rule it breaks, and carries the VCDM 2.0 §7.2 problem type. It must never quote the
//! property's value: documents carry personal data, and messages end up in logs. It checks
//! shape only: no JSON-LD processing (the RDFC suites do that), no network, no clock (whether
//! a credential is valid *now* is the verifier's check).

use crate::jose::vc_jwt::{VCDM1_CONTEXT, VCDM2_CONTEXT};
use serde_json::{Map, Value};

/// The data model version a document follows, from its first `@context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// VCDM 1.1 (`https://www.w3.org/2018/credentials/v1`).
    V1_1,
    /// VCDM 2.0 (`https://www.w3.org/ns/credentials/v2`).
    V2_0,
}

/// The VCDM 2.0 §7.2 problem types a refusal maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A required property is missing or has the wrong JSON type (`PARSING_ERROR`, -64).
    Parsing,
    /// A property's value is not of the required form (`MALFORMED_VALUE_ERROR`, -66).
    MalformedValue,
    /// A value is outside its allowed range, e.g. `validUntil` before `validFrom`
    /// (`RANGE_ERROR`, -67).
    Range,
}

impl Problem {
    /// The problem type URL (VCDM 2.0 §7.2).
    pub fn type_url(self) -> &'static str {
        match self {
            Problem::Parsing => "https://www.w3.org/TR/vc-data-model#PARSING_ERROR",
            Problem::MalformedValue => "https://www.w3.org/TR/vc-data-model#MALFORMED_VALUE_ERROR",
            Problem::Range => "https://www.w3.org/TR/vc-data-model#RANGE_ERROR",
        }
    }

    /// The problem's code (VCDM 2.0 §7.2).
    pub fn code(self) -> i32 {
        match self {
            Problem::Parsing => -64,
            Problem::MalformedValue => -66,
            Problem::Range => -67,
        }
    }

    /// A short title.
    pub fn title(self) -> &'static str {
        match self {
            Problem::Parsing => "Parsing error",
            Problem::MalformedValue => "Malformed value error",
            Problem::Range => "Range error",
        }
    }
}

/// A document that breaks a data model rule: the property's path and the rule, never the
/// property's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct VcdmError {
    /// The property, as a path from the document's root name (`credential.issuer.id`).
    pub path: String,
    /// The rule it breaks.
    pub rule: String,
    /// The VCDM 2.0 problem type.
    pub problem: Problem,
}

fn err(path: &str, problem: Problem, rule: impl Into<String>) -> VcdmError {
    VcdmError {
        path: path.to_owned(),
        rule: rule.into(),
        problem,
    }
}

fn child(path: &str, member: &str) -> String {
    format!("{path}.{member}")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// A member that holds one item or a non-empty array of them: `check` for each, at its own
/// path (`path[i]` in an array); an empty array is refused with `empty_rule`.
fn one_or_more(
    value: &Value,
    path: &str,
    empty_rule: &str,
    check: impl Fn(&Value, &str) -> Result<(), VcdmError>,
) -> Result<(), VcdmError> {
    match value {
        Value::Array(items) if items.is_empty() => {
            Err(err(path, Problem::MalformedValue, empty_rule))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check(item, &index(path, i))),
        one => check(one, path),
    }
}

/// The verifiable credential types that name a secured envelope.
const ENVELOPED_CREDENTIAL: &str = "EnvelopedVerifiableCredential";
const ENVELOPED_PRESENTATION: &str = "EnvelopedVerifiablePresentation";

/// Checks a credential (secured or not: `proof` is the securing mechanism's) whose root is
/// called `path` in messages. Returns the data model version it follows.
pub fn validate_credential(document: &Value, path: &str) -> Result<Version, VcdmError> {
    let object = as_object(document, path)?;
    let version = contexts(object, path)?;
    optional_url(object, "id", path)?;
    types(object, path, "VerifiableCredential")?;
    names(object, path)?;
    issuer(object, path)?;
    subjects(object, path)?;
    validity(object, path, version)?;
    status_like(object, path, version)?;
    related_resources(object, path)?;
    Ok(version)
}

/// Checks a presentation whose root is called `path` in messages, and each credential it
/// carries (an embedded credential in full, an enveloped one by [`validate_enveloped`]).
pub fn validate_presentation(document: &Value, path: &str) -> Result<Version, VcdmError> {
    let object = as_object(document, path)?;
    let version = contexts(object, path)?;
    optional_url(object, "id", path)?;
    types(object, path, "VerifiablePresentation")?;
    names(object, path)?;
    if let Some(holder) = object.get("holder") {
        party(holder, &child(path, "holder"))?;
    }
    for member in ["termsOfUse", "evidence", "refreshService"] {
        typed_objects(object, member, path, false)?;
    }
    if let Some(credentials) = object.get("verifiableCredential") {
        let here = child(path, "verifiableCredential");
        let items: Vec<(String, &Value)> = match credentials {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (index(&here, i), item))
                .collect(),
            one => vec![(here.clone(), one)],
        };
        for (item_path, item) in items {
            if !item.is_object() {
                return Err(err(
                    &item_path,
                    Problem::Parsing,
                    "must be a verifiable credential object (a secured credential in text form \
                     goes in an EnvelopedVerifiableCredential)",
                ));
            }
            if has_type(item, ENVELOPED_CREDENTIAL) {
                validate_enveloped(item, &item_path)?;
            } else {
                validate_credential(item, &item_path)?;
            }
        }
    }
    Ok(version)
}

/// Checks an enveloped credential or presentation (VCDM 2.0 §4.13): a VCDM 2.0 `@context`,
/// the type `EnvelopedVerifiableCredential` or `EnvelopedVerifiablePresentation`, and an `id`
/// that is a `data:` URL carrying the secured document.
pub fn validate_enveloped(document: &Value, path: &str) -> Result<(), VcdmError> {
    let object = as_object(document, path)?;
    if contexts(object, path)? != Version::V2_0 {
        return Err(err(
            &child(path, "@context"),
            Problem::MalformedValue,
            format!("an enveloped document's first context must be {VCDM2_CONTEXT}"),
        ));
    }
    if !(has_type(document, ENVELOPED_CREDENTIAL) || has_type(document, ENVELOPED_PRESENTATION)) {
        return Err(err(
            &child(path, "type"),
            Problem::MalformedValue,
            "must be EnvelopedVerifiableCredential or EnvelopedVerifiablePresentation",
        ));
    }
    let id_path = child(path, "id");
    match object.get("id") {
        Some(Value::String(id)) if is_data_url(id) => Ok(()),
        Some(_) => Err(err(
            &id_path,
            Problem::MalformedValue,
            "must be a data: URL (data:<media type>,<secured document>)",
        )),
        None => Err(err(
            &id_path,
            Problem::Parsing,
            "is required: a data: URL carrying the secured document",
        )),
    }
}

/// Checks whichever kind `document` is: a presentation when its `type` includes
/// `VerifiablePresentation`, an enveloped document, else a credential. `path` names the root.
pub fn validate(document: &Value, path: &str) -> Result<Version, VcdmError> {
    if has_type(document, ENVELOPED_CREDENTIAL) || has_type(document, ENVELOPED_PRESENTATION) {
        validate_enveloped(document, path)?;
        Ok(Version::V2_0)
    } else if has_type(document, "VerifiablePresentation") {
        validate_presentation(document, path)
    } else {
        validate_credential(document, path)
    }
}

/// Whether `document`'s `type` (a string or an array) includes `wanted`.
pub fn has_type(document: &Value, wanted: &str) -> bool {
    match document.get("type") {
        Some(Value::String(t)) => t == wanted,
        Some(Value::Array(items)) => items.iter().any(|t| t.as_str() == Some(wanted)),
        _ => false,
    }
}

fn as_object<'a>(document: &'a Value, path: &str) -> Result<&'a Map<String, Value>, VcdmError> {
    document
        .as_object()
        .ok_or_else(|| err(path, Problem::Parsing, "must be a JSON object"))
}

/// `@context`: present; an ordered set whose first item is the VCDM 2.0 (or 1.1) context, the
/// others URLs or objects (VCDM 2.0 §4.3; 1.1 §4.1).
fn contexts(object: &Map<String, Value>, path: &str) -> Result<Version, VcdmError> {
    let here = child(path, "@context");
    let items: Vec<&Value> = match object.get("@context") {
        None => return Err(err(&here, Problem::Parsing, "is required")),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::String(_)) => vec![one],
        Some(_) => {
            return Err(err(
                &here,
                Problem::Parsing,
                "must be an ordered set (array) of URLs and objects",
            ));
        }
    };
    let version = match items.first().and_then(|v| v.as_str()) {
        Some(VCDM2_CONTEXT) => Version::V2_0,
        Some(VCDM1_CONTEXT) => Version::V1_1,
        _ => {
            return Err(err(
                &here,
                Problem::MalformedValue,
                format!(
                    "the first item must be {VCDM2_CONTEXT} (VCDM 2.0) or {VCDM1_CONTEXT} \
                     (VCDM 1.1)"
                ),
            ));
        }
    };
    for (i, item) in items.iter().enumerate().skip(1) {
        match item {
            Value::String(url) if is_url(url) => {}
            Value::Object(_) => {}
            _ => {
                return Err(err(
                    &index(&here, i),
                    Problem::MalformedValue,
                    "must be a URL or a context object",
                ));
            }
        }
    }
    Ok(version)
}

/// `type`: present; a string or a non-empty array of non-empty strings, including `required`
/// (VCDM 2.0 §4.5).
fn types(object: &Map<String, Value>, path: &str, required: &str) -> Result<(), VcdmError> {
    let here = child(path, "type");
    let value = object
        .get("type")
        .ok_or_else(|| err(&here, Problem::Parsing, "is required"))?;
    check_type_value(value, &here)?;
    let included = match value {
        Value::String(t) => t == required,
        Value::Array(items) => items.iter().any(|t| t.as_str() == Some(required)),
        _ => false,
    };
    if !included {
        return Err(err(
            &here,
            Problem::MalformedValue,
            format!("must include {required}"),
        ));
    }
    Ok(())
}

/// A `type` value: one or more non-empty strings (terms or URLs).
fn check_type_value(value: &Value, here: &str) -> Result<(), VcdmError> {
    let bad = |p: &str| err(p, Problem::MalformedValue, "must be a non-empty string");
    match value {
        Value::String(t) if !t.is_empty() => Ok(()),
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(t) if !t.is_empty() => {}
                    _ => return Err(bad(&index(here, i))),
                }
            }
            Ok(())
        }
        Value::Array(_) => Err(err(
            here,
            Problem::MalformedValue,
            "must name at least one type",
        )),
        _ => Err(err(
            here,
            Problem::MalformedValue,
            "must be a string or an array of strings",
        )),
    }
}

/// `member`, when present, must be a URL.
fn optional_url(object: &Map<String, Value>, member: &str, path: &str) -> Result<(), VcdmError> {
    match object.get(member) {
        None => Ok(()),
        Some(Value::String(url)) if is_url(url) => Ok(()),
        Some(_) => Err(err(
            &child(path, member),
            Problem::MalformedValue,
            "must be a single URL",
        )),
    }
}

/// An issuer or holder: a URL, or an object whose `id` is a URL (VCDM 2.0 §4.7, §4.13).
fn party(value: &Value, here: &str) -> Result<(), VcdmError> {
    match value {
        Value::String(url) if is_url(url) => Ok(()),
        Value::String(_) => Err(err(
            here,
            Problem::MalformedValue,
            "must be a URL or an object whose id is a URL",
        )),
        Value::Object(object) => {
            match object.get("id") {
                Some(Value::String(url)) if is_url(url) => {}
                Some(_) => {
                    return Err(err(
                        &child(here, "id"),
                        Problem::MalformedValue,
                        "must be a URL",
                    ));
                }
                None => return Err(err(&child(here, "id"), Problem::Parsing, "is required")),
            }
            names(object, here)
        }
        _ => Err(err(
            here,
            Problem::Parsing,
            "must be a URL or an object whose id is a URL",
        )),
    }
}

fn issuer(object: &Map<String, Value>, path: &str) -> Result<(), VcdmError> {
    let here = child(path, "issuer");
    match object.get("issuer") {
        None => Err(err(&here, Problem::Parsing, "is required")),
        Some(value) => party(value, &here),
    }
}

/// `credentialSubject`: present; an object or a non-empty array of objects, each making at
/// least one claim; an `id` is a URL (VCDM 2.0 §4.8, §4.4).
fn subjects(object: &Map<String, Value>, path: &str) -> Result<(), VcdmError> {
    let here = child(path, "credentialSubject");
    let subject = |value: &Value, p: &str| -> Result<(), VcdmError> {
        let members = value
            .as_object()
            .ok_or_else(|| err(p, Problem::Parsing, "must be an object"))?;
        if members.is_empty() {
            return Err(err(
                p,
                Problem::MalformedValue,
                "must make at least one claim",
            ));
        }
        optional_url(members, "id", p)
    };
    match object.get("credentialSubject") {
        None => Err(err(&here, Problem::Parsing, "is required")),
        Some(value) => one_or_more(value, &here, "must name at least one subject", subject),
    }
}

/// `name` and `description`: a string, a language value object, or an array of those
/// (VCDM 2.0 §4.6, §11.1).
fn names(object: &Map<String, Value>, path: &str) -> Result<(), VcdmError> {
    for member in ["name", "description"] {
        let here = child(path, member);
        let language_value = |value: &Value, p: &str| -> Result<(), VcdmError> {
            match value {
                Value::String(_) => Ok(()),
                Value::Object(o) => {
                    if !matches!(o.get("@value"), Some(Value::String(_))) {
                        return Err(err(
                            &child(p, "@value"),
                            Problem::MalformedValue,
                            "a language value object needs @value, a string",
                        ));
                    }
                    if o.get("@language").is_some_and(|l| !l.is_string()) {
                        return Err(err(
                            &child(p, "@language"),
                            Problem::MalformedValue,
                            "must be a language tag (a string)",
                        ));
                    }
                    match o.get("@direction") {
                        None => {}
                        Some(Value::String(d)) if d == "ltr" || d == "rtl" => {}
                        Some(_) => {
                            return Err(err(
                                &child(p, "@direction"),
                                Problem::MalformedValue,
                                "must be ltr or rtl",
                            ));
                        }
                    }
                    Ok(())
                }
                _ => Err(err(
                    p,
                    Problem::MalformedValue,
                    "must be a string or a language value object",
                )),
            }
        };
        match object.get(member) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(_) => language_value(item, &index(&here, i))?,
                        _ => {
                            return Err(err(
                                &index(&here, i),
                                Problem::MalformedValue,
                                "must be a language value object",
                            ));
                        }
                    }
                }
            }
            Some(value) => language_value(value, &here)?,
        }
    }
    Ok(())
}

/// The validity period: VCDM 2.0 `validFrom`/`validUntil` (§4.9), VCDM 1.1 `issuanceDate`
/// (required) / `expirationDate` (§4.6, §4.7); each an XML Schema `dateTimeStamp`, and the
/// start not after the end.
fn validity(object: &Map<String, Value>, path: &str, version: Version) -> Result<(), VcdmError> {
    let (from, until) = match version {
        Version::V2_0 => ("validFrom", "validUntil"),
        Version::V1_1 => ("issuanceDate", "expirationDate"),
    };
    if version == Version::V1_1 && !object.contains_key(from) {
        return Err(err(
            &child(path, from),
            Problem::Parsing,
            "is required (VCDM 1.1)",
        ));
    }
    let mut stamps = [None, None];
    // VCDM 1.1 credentials may carry the 2.0 names too; they follow the same rule.
    let mut members = vec![(from, 0), (until, 1)];
    if version == Version::V1_1 {
        members.extend([("validFrom", 2), ("validUntil", 2)]);
    }
    for (member, slot) in members {
        let here = child(path, member);
        match object.get(member) {
            None => {}
            Some(Value::String(text)) => {
                let seconds = date_time_stamp(text).ok_or_else(|| {
                    err(
                        &here,
                        Problem::MalformedValue,
                        "must be an XML Schema dateTimeStamp (YYYY-MM-DDThh:mm:ss with a time \
                         zone, e.g. 2026-01-01T00:00:00Z)",
                    )
                })?;
                if slot < 2 {
                    stamps[slot] = Some(seconds);
                }
            }
            Some(_) => {
                return Err(err(
                    &here,
                    Problem::MalformedValue,
                    "must be a dateTimeStamp string",
                ));
            }
        }
    }
    if let [Some(start), Some(end)] = stamps
        && start > end
    {
        return Err(err(
            &child(path, until),
            Problem::Range,
            format!("must not be before {from}"),
        ));
    }
    Ok(())
}

/// `credentialStatus`, `credentialSchema`, `evidence`, `termsOfUse`, `refreshService`: one or
/// more objects, each with a `type` (VCDM 2.0 §4.10, §4.11, §5.4–5.6). `credentialSchema`
/// also needs its `id` (a URL); VCDM 1.1 also asks for the `id` of `credentialStatus` and
/// `refreshService`. Any `id` given is a URL.
fn status_like(object: &Map<String, Value>, path: &str, version: Version) -> Result<(), VcdmError> {
    let v1 = version == Version::V1_1;
    typed_objects(object, "credentialStatus", path, v1)?;
    typed_objects(object, "credentialSchema", path, true)?;
    typed_objects(object, "evidence", path, false)?;
    typed_objects(object, "termsOfUse", path, false)?;
    typed_objects(object, "refreshService", path, v1)
}

fn typed_objects(
    object: &Map<String, Value>,
    member: &str,
    path: &str,
    id_required: bool,
) -> Result<(), VcdmError> {
    let here = child(path, member);
    let one = |value: &Value, p: &str| -> Result<(), VcdmError> {
        let members = value
            .as_object()
            .ok_or_else(|| err(p, Problem::Parsing, "must be an object"))?;
        match members.get("type") {
            None => return Err(err(&child(p, "type"), Problem::Parsing, "is required")),
            Some(t) => check_type_value(t, &child(p, "type"))?,
        }
        if id_required && !members.contains_key("id") {
            return Err(err(&child(p, "id"), Problem::Parsing, "is required"));
        }
        optional_url(members, "id", p)
    };
    match object.get(member) {
        None => Ok(()),
        Some(value) => one_or_more(value, &here, "must hold at least one object", one),
    }
}

/// `relatedResource`: one or more objects, each with an `id` (a URL) and a `digestSRI` or
/// `digestMultibase` (VCDM 2.0 §5.3).
fn related_resources(object: &Map<String, Value>, path: &str) -> Result<(), VcdmError> {
    let here = child(path, "relatedResource");
    let one = |value: &Value, p: &str| -> Result<(), VcdmError> {
        let members = value
            .as_object()
            .ok_or_else(|| err(p, Problem::Parsing, "must be an object"))?;
        if !members.contains_key("id") {
            return Err(err(&child(p, "id"), Problem::Parsing, "is required"));
        }
        optional_url(members, "id", p)?;
        let digest = ["digestSRI", "digestMultibase"]
            .iter()
            .any(|d| matches!(members.get(*d), Some(Value::String(_))));
        if !digest {
            return Err(err(
                p,
                Problem::Parsing,
                "needs digestSRI or digestMultibase (a string)",
            ));
        }
        Ok(())
    };
    match object.get("relatedResource") {
        None => Ok(()),
        Some(value) => one_or_more(value, &here, "must hold at least one object", one),
    }
}

/// An absolute URL (RFC 3986 `scheme ":" …`, as VCDM identifiers are): a scheme of a letter
/// then letters, digits, `+`, `-` or `.`, a colon, something after it, and no whitespace or
/// control characters. `did:`, `urn:`, `https:` and `data:` URLs all qualify.
pub fn is_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_data_url(text: &str) -> bool {
    text.strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .is_some_and(|(_, data)| !data.is_empty())
        && is_url(text)
}

/// Seconds since 1970 of an XML Schema `dateTimeStamp` (a `dateTime` with a time zone), as
/// VCDM 2.0 §4.9 gives it by regular expression:
/// `-?([1-9][0-9]{3,}|0[0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?|(24:00:00(\.0+)?))(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))`.
/// `None` when `text` does not match. Fractions of a second are dropped.
pub fn date_time_stamp(text: &str) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (year_text, rest) = rest.split_once('-')?;
    // At most nine digits: the seconds since 1970 of any such year fit an i64.
    if !digits(year_text) || year_text.len() < 4 || year_text.len() > 9 {
        return None;
    }
    // Four digits may start with 0; more than four may not.
    if year_text.len() > 4 && year_text.starts_with('0') {
        return None;
    }
    let year: i64 = year_text.parse().ok()?;
    let year = if negative { -year } else { year };
    let b = rest.as_bytes();
    if b.len() < 14 || b[2] != b'-' || b[5] != b'T' || b[8] != b':' || b[11] != b':' {
        return None;
    }
    let two = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = rest.get(r)?;
        if digits(s) { s.parse().ok() } else { None }
    };
    let (month, day) = (two(0..2)?, two(3..5)?);
    let (hour, minute, second) = (two(6..8)?, two(9..11)?, two(12..14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut tail = &rest[14..];
    let mut fraction_zero = true;
    if let Some(fraction) = tail.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        fraction_zero = fraction[..n].bytes().all(|b| b == b'0');
        tail = &fraction[n..];
    }
    let time_ok = (hour <= 23 && minute <= 59 && second <= 59)
        || (hour == 24 && minute == 0 && second == 0 && fraction_zero);
    if !time_ok {
        return None;
    }
    let offset_minutes = if tail == "Z" {
        0
    } else {
        let z = tail.as_bytes();
        if z.len() != 6 || !(z[0] == b'+' || z[0] == b'-') || z[3] != b':' {
            return None;
        }
        let hours: i64 = digits(&tail[1..3]).then(|| tail[1..3].parse().ok())??;
        let minutes: i64 = digits(&tail[4..6]).then(|| tail[4..6].parse().ok())??;
        let ok = (hours <= 13 && minutes <= 59) || (hours == 14 && minutes == 0);
        if !ok {
            return None;
        }
        let sign = if z[0] == b'-' { -1 } else { 1 };
        sign * (hours * 60 + minutes)
    };
    // Days since 1970-01-01 of the civil date (H. Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn credential() -> Value {
        json!({
            "@context": [VCDM2_CONTEXT, "https://www.w3.org/ns/credentials/examples/v2"],
            "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
            "type": ["VerifiableCredential", "ExampleAlumniCredential"],
            "issuer": "did:example:issuer",
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:subject", "alumniOf": "Example University"}
        })
    }

    fn v1_credential() -> Value {
        json!({
            "@context": [VCDM1_CONTEXT, "https://www.w3.org/2018/credentials/examples/v1"],
            "type": ["VerifiableCredential"],
            "issuer": {"id": "did:example:issuer", "name": "Example"},
            "issuanceDate": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:subject"}
        })
    }

    fn with(mut base: Value, pointer: &str, value: Option<Value>) -> Value {
        let (parent, member) = pointer.rsplit_once('/').unwrap();
        let target = base.pointer_mut(parent).unwrap();
        match (target, value) {
            (Value::Object(o), Some(v)) => {
                o.insert(member.into(), v);
            }
            (Value::Object(o), None) => {
                o.remove(member);
            }
            (Value::Array(a), Some(v)) => a[member.parse::<usize>().unwrap()] = v,
            _ => panic!("{pointer}"),
        }
        base
    }

    #[test]
    fn valid_documents_pass() {
        assert_eq!(
            validate_credential(&credential(), "credential"),
            Ok(Version::V2_0)
        );
        assert_eq!(
            validate_credential(&v1_credential(), "credential"),
            Ok(Version::V1_1)
        );
        let rich = json!({
            "@context": [VCDM2_CONTEXT, {"@vocab": "https://example.org/#"}],
            "type": "VerifiableCredential",
            "issuer": {"id": "https://issuer.example", "name": {"@value": "Issuer", "@language": "en"}},
            "name": [{"@value": "Diplom", "@language": "de"}, {"@value": "Diploma", "@language": "en", "@direction": "ltr"}],
            "description": "A diploma",
            "validFrom": "2026-01-01T00:00:00.123+01:00",
            "validUntil": "2027-01-01T00:00:00-05:00",
            "credentialSubject": [{"id": "did:example:a", "x": 1}, {"y": 2}],
            "credentialStatus": {"id": "https://status.example/1#5", "type": "BitstringStatusListEntry"},
            "credentialSchema": [{"id": "https://schema.example/1", "type": "JsonSchema"}],
            "evidence": [{"type": ["Evidence"]}],
            "termsOfUse": {"type": "IssuerPolicy", "id": "https://policy.example/1"},
            "refreshService": {"type": "VerifiableCredentialRefreshService2021", "url": "https://r.example"},
            "relatedResource": [{"id": "https://r.example/img.png", "digestSRI": "sha384-abc"}]
        });
        assert_eq!(validate(&rich, "credential"), Ok(Version::V2_0));
        let presentation = json!({
            "@context": [VCDM2_CONTEXT],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [credential(), {
                "@context": [VCDM2_CONTEXT],
                "type": "EnvelopedVerifiableCredential",
                "id": "data:application/vc+jwt,eyJ.eyJ.sig"
            }]
        });
        assert_eq!(validate(&presentation, "presentation"), Ok(Version::V2_0));
    }

    /// Each VCDM 2.0 (or 1.1) MUST as one document that breaks it: the path named, the value
    /// never quoted.
    #[test]
    fn each_rule_is_refused_by_path() {
        let secret = "SECRET-VALUE";
        let c = credential;
        let cases: Vec<(Value, &str)> = vec![
            (json!("not an object"), "credential"),
            (with(c(), "/@context", None), "credential.@context"),
            (
                with(c(), "/@context", Some(json!([secret]))),
                "credential.@context",
            ),
            (
                with(
                    c(),
                    "/@context",
                    Some(json!([
                        "https://www.w3.org/ns/credentials/examples/v2",
                        VCDM2_CONTEXT
                    ])),
                ),
                "credential.@context",
            ),
            (
                with(c(), "/@context/1", Some(json!(7))),
                "credential.@context[1]",
            ),
            (
                with(c(), "/@context/1", Some(json!(secret))),
                "credential.@context[1]",
            ),
            (with(c(), "/id", Some(json!(secret))), "credential.id"),
            (
                with(c(), "/id", Some(json!(["urn:a", "urn:b"]))),
                "credential.id",
            ),
            (with(c(), "/type", None), "credential.type"),
            (
                with(c(), "/type", Some(json!(["ExampleAlumniCredential"]))),
                "credential.type",
            ),
            (
                with(c(), "/type", Some(json!(["VerifiableCredential", 5]))),
                "credential.type[1]",
            ),
            (with(c(), "/type", Some(json!([]))), "credential.type"),
            (with(c(), "/issuer", None), "credential.issuer"),
            (
                with(c(), "/issuer", Some(json!(secret))),
                "credential.issuer",
            ),
            (
                with(c(), "/issuer", Some(json!({"name": "x"}))),
                "credential.issuer.id",
            ),
            (
                with(c(), "/issuer", Some(json!({"id": secret}))),
                "credential.issuer.id",
            ),
            (with(c(), "/issuer", Some(json!(42))), "credential.issuer"),
            (
                with(c(), "/credentialSubject", None),
                "credential.credentialSubject",
            ),
            (
                with(c(), "/credentialSubject", Some(json!({}))),
                "credential.credentialSubject",
            ),
            (
                with(c(), "/credentialSubject", Some(json!([]))),
                "credential.credentialSubject",
            ),
            (
                with(c(), "/credentialSubject", Some(json!([{"a": 1}, {}]))),
                "credential.credentialSubject[1]",
            ),
            (
                with(c(), "/credentialSubject", Some(json!(secret))),
                "credential.credentialSubject",
            ),
            (
                with(c(), "/credentialSubject/id", Some(json!(secret))),
                "credential.credentialSubject.id",
            ),
            (
                with(c(), "/validFrom", Some(json!("Sat 25 Feb 2023 11:00"))),
                "credential.validFrom",
            ),
            (
                with(c(), "/validFrom", Some(json!("2026-01-01T00:00:00"))),
                "credential.validFrom",
            ),
            (
                with(c(), "/validFrom", Some(json!("2026-13-01T00:00:00Z"))),
                "credential.validFrom",
            ),
            (
                with(c(), "/validUntil", Some(json!(1_700_000_000))),
                "credential.validUntil",
            ),
            (
                with(c(), "/validUntil", Some(json!("2025-01-01T00:00:00Z"))),
                "credential.validUntil",
            ),
            (
                with(
                    c(),
                    "/credentialStatus",
                    Some(json!({"id": "https://s.example/1"})),
                ),
                "credential.credentialStatus.type",
            ),
            (
                with(
                    c(),
                    "/credentialStatus",
                    Some(json!({"id": secret, "type": "X"})),
                ),
                "credential.credentialStatus.id",
            ),
            (
                with(
                    c(),
                    "/credentialStatus",
                    Some(json!([{"type": "X"}, "https://s.example"])),
                ),
                "credential.credentialStatus[1]",
            ),
            (
                with(
                    c(),
                    "/credentialSchema",
                    Some(json!({"type": "JsonSchema"})),
                ),
                "credential.credentialSchema.id",
            ),
            (
                with(
                    c(),
                    "/credentialSchema",
                    Some(json!({"id": "https://s.example/1"})),
                ),
                "credential.credentialSchema.type",
            ),
            (
                with(c(), "/evidence", Some(json!([{"id": "https://e.example"}]))),
                "credential.evidence[0].type",
            ),
            (
                with(c(), "/termsOfUse", Some(json!({"id": "https://t.example"}))),
                "credential.termsOfUse.type",
            ),
            (
                with(
                    c(),
                    "/refreshService",
                    Some(json!({"url": "https://r.example"})),
                ),
                "credential.refreshService.type",
            ),
            (
                with(
                    c(),
                    "/relatedResource",
                    Some(json!([{"id": "https://r.example"}])),
                ),
                "credential.relatedResource[0]",
            ),
            (with(c(), "/name", Some(json!(3))), "credential.name"),
            (
                with(c(), "/name", Some(json!({"@language": "en"}))),
                "credential.name.@value",
            ),
            (
                with(
                    c(),
                    "/description",
                    Some(json!({"@value": "x", "@direction": "up"})),
                ),
                "credential.description.@direction",
            ),
            (
                with(c(), "/description", Some(json!(["plain"]))),
                "credential.description[0]",
            ),
            (
                with(v1_credential(), "/issuanceDate", None),
                "credential.issuanceDate",
            ),
            (
                with(v1_credential(), "/issuanceDate", Some(json!(secret))),
                "credential.issuanceDate",
            ),
            (
                with(
                    v1_credential(),
                    "/expirationDate",
                    Some(json!("2020-01-01T00:00:00Z")),
                ),
                "credential.expirationDate",
            ),
            (
                with(
                    v1_credential(),
                    "/credentialStatus",
                    Some(json!({"type": "X"})),
                ),
                "credential.credentialStatus.id",
            ),
        ];
        for (document, path) in cases {
            let e = validate_credential(&document, "credential").unwrap_err();
            assert_eq!(e.path, path, "{document}: {e}");
            assert!(!e.to_string().contains(secret), "{e}");
        }
    }

    #[test]
    fn presentations() {
        let vp = |vc: Value| json!({"@context": [VCDM2_CONTEXT], "type": "VerifiablePresentation", "verifiableCredential": vc});
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"@context": [VCDM2_CONTEXT], "type": ["VerifiableCredential"]}),
                "presentation.type",
            ),
            (
                json!({"@context": [VCDM2_CONTEXT], "type": "VerifiablePresentation", "holder": "nope"}),
                "presentation.holder",
            ),
            (
                json!({"@context": [VCDM2_CONTEXT], "type": "VerifiablePresentation", "holder": {"name": "x"}}),
                "presentation.holder.id",
            ),
            (
                json!({"@context": [VCDM2_CONTEXT], "type": "VerifiablePresentation", "id": "nope"}),
                "presentation.id",
            ),
            (
                vp(json!(credential().to_string())),
                "presentation.verifiableCredential",
            ),
            (
                vp(json!([credential(), "eyJ.eyJ.sig"])),
                "presentation.verifiableCredential[1]",
            ),
            (
                vp(
                    json!([{"@context": [], "type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,eyJ"}]),
                ),
                "presentation.verifiableCredential[0].@context",
            ),
            (
                vp(
                    json!([{"@context": [VCDM2_CONTEXT], "type": "EnvelopedVerifiableCredential", "id": "https://x.example"}]),
                ),
                "presentation.verifiableCredential[0].id",
            ),
            (
                vp(json!([{"@context": [VCDM2_CONTEXT], "type": "EnvelopedVerifiableCredential"}])),
                "presentation.verifiableCredential[0].id",
            ),
            (
                vp(json!([with(credential(), "/issuer", None)])),
                "presentation.verifiableCredential[0].issuer",
            ),
        ];
        for (document, path) in cases {
            let e = validate_presentation(&document, "presentation").unwrap_err();
            assert_eq!(e.path, path, "{document}: {e}");
        }
        // holder is optional.
        assert!(
            validate(
                &json!({"@context": [VCDM2_CONTEXT], "type": "VerifiablePresentation"}),
                "presentation"
            )
            .is_ok()
        );
        assert_eq!(
            validate_enveloped(
                &json!({"@context": [], "type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,x"}),
                "verifiableCredential"
            )
            .unwrap_err()
            .path,
            "verifiableCredential.@context"
        );
    }

    /// Examples of the XML Schema 1.1 Part 2 `dateTimeStamp` lexical space, and values
    /// outside it.
    #[test]
    fn date_time_stamps() {
        assert_eq!(date_time_stamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(date_time_stamp("2026-11-26T00:00:00Z"), Some(1_795_651_200));
        assert_eq!(date_time_stamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(date_time_stamp("1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(date_time_stamp("1970-01-01T24:00:00Z"), Some(86_400));
        assert!(date_time_stamp("2023-02-24T23:36:38.123456Z").is_some());
        // Years beyond nine digits are refused rather than overflowing the seconds.
        assert!(date_time_stamp("999999999-12-31T23:59:59Z").is_some());
        assert!(date_time_stamp("99999999999999-01-01T00:00:00Z").is_none());
        assert!(date_time_stamp("-99999999999999-01-01T00:00:00Z").is_none());
        assert!(date_time_stamp("12026-01-01T00:00:00+14:00").is_some());
        assert!(date_time_stamp("-0001-01-01T00:00:00Z").is_some());
        for bad in [
            "2023-02-24T23:36:38",
            "2023-02-24 23:36:38Z",
            "2023-02-24T24:00:01Z",
            "2023-02-24T23:60:00Z",
            "2023-02-24T23:00:00+14:01",
            "2023-02-24T23:00:00+1:00",
            "2023-02-24T23:00:00.Z",
            "023-02-24T23:00:00Z",
            "02023-02-24T23:00:00Z",
            "2023-00-24T23:00:00Z",
            "2023-02-32T23:00:00Z",
            "Sat 25 Feb 2023",
            "",
        ] {
            assert_eq!(date_time_stamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls() {
        for good in [
            "https://example.org/a",
            "did:key:z6Mk",
            "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
            "data:application/vc+jwt,eyJ",
        ] {
            assert!(is_url(good), "{good}");
        }
        for bad in [
            "fake-issuer",
            "",
            ":x",
            "1a:b",
            "https://exa mple.org",
            "did:",
        ] {
            assert!(!is_url(bad), "{bad}");
        }
    }
}
