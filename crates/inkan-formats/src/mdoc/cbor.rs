//! CBOR helpers shared by the mdoc code: bounded parsing, encoding, tag-24 wrapping, map
//! look-ups and the `tdate` / `full-date` text forms.

use crate::FormatError;
use crate::limits::{MAX_DEPTH, check_size};
use ciborium::Value;

/// CBOR tag of an embedded CBOR data item (`#6.24(bstr .cbor X)`).
pub const TAG_ENCODED_CBOR: u64 = 24;
/// CBOR tag of an RFC 3339 date-time text (`tdate`).
pub const TAG_TDATE: u64 = 0;

/// Parses one CBOR data item from outside, with the size and depth limits; trailing bytes
/// are refused.
pub fn parse(what: &'static str, bytes: &[u8]) -> Result<Value, FormatError> {
    check_size(what, bytes)?;
    let mut reader = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_DEPTH)
        .map_err(|e| FormatError::malformed(what, e.to_string()))?;
    if !reader.is_empty() {
        return Err(FormatError::malformed(
            what,
            format!("{} bytes after the CBOR data item", reader.len()),
        ));
    }
    Ok(value)
}

/// Encodes a value.
pub fn encode(value: &Value) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out)
        .map_err(|e| FormatError::malformed("CBOR encoding", e.to_string()))?;
    Ok(out)
}

/// `#6.24(bstr)` around already encoded CBOR.
pub fn tag24(encoded: Vec<u8>) -> Value {
    Value::Tag(TAG_ENCODED_CBOR, Box::new(Value::Bytes(encoded)))
}

/// The bytes inside `#6.24(bstr)`.
pub fn untag24<'a>(what: &'static str, value: &'a Value) -> Result<&'a [u8], FormatError> {
    match value {
        Value::Tag(TAG_ENCODED_CBOR, inner) => match inner.as_ref() {
            Value::Bytes(b) => Ok(b),
            _ => Err(FormatError::malformed(
                what,
                "tag 24 does not hold a byte string",
            )),
        },
        _ => Err(FormatError::malformed(
            what,
            "expected an embedded CBOR item (tag 24)",
        )),
    }
}

/// The entries of a map.
pub fn as_map<'a>(
    what: &'static str,
    value: &'a Value,
) -> Result<&'a [(Value, Value)], FormatError> {
    match value {
        Value::Map(m) => Ok(m),
        _ => Err(FormatError::malformed(what, "expected a map")),
    }
}

/// The items of an array.
pub fn as_array<'a>(what: &'static str, value: &'a Value) -> Result<&'a [Value], FormatError> {
    match value {
        Value::Array(a) => Ok(a),
        _ => Err(FormatError::malformed(what, "expected an array")),
    }
}

/// A text string.
pub fn as_text<'a>(what: &'static str, value: &'a Value) -> Result<&'a str, FormatError> {
    match value {
        Value::Text(t) => Ok(t),
        _ => Err(FormatError::malformed(what, "expected a text string")),
    }
}

/// A byte string.
pub fn as_bytes<'a>(what: &'static str, value: &'a Value) -> Result<&'a [u8], FormatError> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(FormatError::malformed(what, "expected a byte string")),
    }
}

/// An unsigned integer.
pub fn as_uint(what: &'static str, value: &Value) -> Result<u64, FormatError> {
    match value {
        Value::Integer(i) => u64::try_from(*i)
            .map_err(|_| FormatError::malformed(what, "expected an unsigned integer")),
        _ => Err(FormatError::malformed(what, "expected an unsigned integer")),
    }
}

/// The value under a text key, refusing duplicate keys.
pub fn get<'a>(
    what: &'static str,
    map: &'a [(Value, Value)],
    key: &str,
) -> Result<Option<&'a Value>, FormatError> {
    let mut found = None;
    for (k, v) in map {
        if matches!(k, Value::Text(t) if t == key) {
            if found.is_some() {
                return Err(FormatError::malformed(
                    what,
                    format!("duplicate key {key:?}"),
                ));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

/// The value under a text key that must be present.
pub fn require<'a>(
    what: &'static str,
    map: &'a [(Value, Value)],
    key: &str,
) -> Result<&'a Value, FormatError> {
    get(what, map, key)?.ok_or_else(|| FormatError::malformed(what, format!("missing {key:?}")))
}

/// The value under an integer key (COSE_Key labels), refusing duplicates.
pub fn get_int<'a>(
    what: &'static str,
    map: &'a [(Value, Value)],
    key: i64,
) -> Result<Option<&'a Value>, FormatError> {
    let mut found = None;
    for (k, v) in map {
        if matches!(k, Value::Integer(i) if i128::from(*i) == i128::from(key)) {
            if found.is_some() {
                return Err(FormatError::malformed(
                    what,
                    format!("duplicate label {key}"),
                ));
            }
            found = Some(v);
        }
    }
    Ok(found)
}

/// Formats Unix seconds as `tdate` text without fractions (`YYYY-MM-DDTHH:MM:SSZ`), as
/// ISO/IEC 18013-5 §9.1.2.4 requires.
pub fn format_tdate(unix: i64) -> Result<String, FormatError> {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return Err(FormatError::malformed(
            "date",
            format!("year {y} is out of range"),
        ));
    }
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// Parses an RFC 3339 date-time (`Z` or a numeric offset, optional fraction, which is
/// dropped) to Unix seconds.
pub fn parse_rfc3339(what: &'static str, text: &str) -> Result<i64, FormatError> {
    let bad = || FormatError::malformed(what, format!("{text:?} is not an RFC 3339 date-time"));
    let b = text.as_bytes();
    if b.len() < 20
        || b.len() > 40
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, FormatError> {
        let s = text.get(r).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, d, h, mi, s) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return Err(bad());
            }
            let oh: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let om: i64 = rest[4..6].parse().map_err(|_| bad())?;
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
    };
    Ok(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Reads a `tdate` (`#6.0(tstr)`; an untagged text is accepted too).
pub fn parse_tdate(what: &'static str, value: &Value) -> Result<i64, FormatError> {
    match value {
        Value::Tag(TAG_TDATE, inner) => parse_rfc3339(what, as_text(what, inner)?),
        Value::Text(t) => parse_rfc3339(what, t),
        _ => Err(FormatError::malformed(what, "expected a tdate (tag 0)")),
    }
}

/// A `tdate` value.
pub fn tdate(unix: i64) -> Result<Value, FormatError> {
    Ok(Value::Tag(
        TAG_TDATE,
        Box::new(Value::Text(format_tdate(unix)?)),
    ))
}

/// CBOR tag of an RFC 8943 `full-date` text (`YYYY-MM-DD`), as mDL dates are.
pub const TAG_FULL_DATE: u64 = 1004;

/// A data element value given as JSON, as CBOR: strings, numbers (integers stay integers),
/// booleans, `null`, arrays and objects (maps with text keys) as they are, and three one-key
/// objects for what JSON cannot say: `{"$date": "YYYY-MM-DD"}` is a `full-date`
/// (`#6.1004(tstr)`), `{"$tdate": "<RFC 3339>"}` a `tdate` (`#6.0(tstr)`, normalised to
/// `YYYY-MM-DDTHH:MM:SSZ`) and `{"$bytes": "<base64url>"}` a byte string (a portrait).
pub fn from_json(value: &serde_json::Value) -> Result<Value, FormatError> {
    use base64::Engine as _;
    use serde_json::Value as J;
    const W: &str = "data element value";
    Ok(match value {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Integer(i.into()),
            (None, Some(u), _) => Value::Integer(u.into()),
            (None, None, Some(f)) => Value::Float(f),
            _ => return Err(FormatError::malformed(W, format!("the number {n}"))),
        },
        J::String(s) => Value::Text(s.clone()),
        J::Array(items) => Value::Array(items.iter().map(from_json).collect::<Result<_, _>>()?),
        J::Object(map) => match map.iter().next() {
            Some((key, J::String(text))) if map.len() == 1 && key == "$date" => {
                let b = text.as_bytes();
                let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
                if b.len() != 10
                    || b[4] != b'-'
                    || b[7] != b'-'
                    || !digits(0..4)
                    || !digits(5..7)
                    || !digits(8..10)
                    || parse_rfc3339(W, &format!("{text}T00:00:00Z")).is_err()
                {
                    return Err(FormatError::malformed(
                        W,
                        format!("$date {text:?} is not YYYY-MM-DD"),
                    ));
                }
                Value::Tag(TAG_FULL_DATE, Box::new(Value::Text(text.clone())))
            }
            Some((key, J::String(text))) if map.len() == 1 && key == "$tdate" => {
                tdate(parse_rfc3339(W, text)?)?
            }
            Some((key, J::String(text))) if map.len() == 1 && key == "$bytes" => Value::Bytes(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(text.trim_end_matches('='))
                    .map_err(|e| FormatError::malformed(W, format!("$bytes: {e}")))?,
            ),
            Some((key, _))
                if map.len() == 1 && matches!(key.as_str(), "$date" | "$tdate" | "$bytes") =>
            {
                return Err(FormatError::malformed(W, format!("{key} takes a string")));
            }
            _ => Value::Map(
                map.iter()
                    .map(|(k, v)| Ok((Value::Text(k.clone()), from_json(v)?)))
                    .collect::<Result<_, FormatError>>()?,
            ),
        },
    })
}

// Howard Hinnant's civil-date algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(format_tdate(0).unwrap(), "1970-01-01T00:00:00Z");
        let t = parse_rfc3339("t", "2020-10-01T13:30:02Z").unwrap();
        assert_eq!(t, 1_601_559_002);
        assert_eq!(format_tdate(t).unwrap(), "2020-10-01T13:30:02Z");
        assert_eq!(
            parse_rfc3339("t", "2020-10-01T15:30:02.123+02:00").unwrap(),
            t
        );
        assert!(parse_rfc3339("t", "2020-13-01T13:30:02Z").is_err());
    }

    #[test]
    fn json_values_become_cbor() {
        let v = serde_json::json!({
            "n": 7, "s": "x", "b": true, "a": [1.5, null],
            "d": {"$date": "1990-04-01"}, "t": {"$tdate": "2020-10-01T15:30:02+02:00"},
            "p": {"$bytes": "AAEC"},
        });
        let Value::Map(m) = from_json(&v).unwrap() else {
            panic!("not a map")
        };
        let get = |k: &str| {
            m.iter()
                .find(|(key, _)| *key == Value::Text(k.into()))
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(get("n"), Value::Integer(7.into()));
        assert_eq!(get("a"), Value::Array(vec![Value::Float(1.5), Value::Null]));
        assert_eq!(
            get("d"),
            Value::Tag(TAG_FULL_DATE, Box::new(Value::Text("1990-04-01".into())))
        );
        assert_eq!(get("t"), tdate(1_601_559_002).unwrap());
        assert_eq!(get("p"), Value::Bytes(vec![0, 1, 2]));
        assert!(from_json(&serde_json::json!({"$date": "1990-4-1"})).is_err());
        assert!(from_json(&serde_json::json!({"$bytes": 3})).is_err());
    }
}
