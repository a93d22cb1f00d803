#![allow(clippy::unwrap_used)]
//! IETF Token Status List: the draft's examples (testdata/status-list, see its SOURCE.md)
//! decoded to the values the draft states, re-encoded, and the negative cases.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use inkan_formats::FormatError;
use inkan_formats::limits::MAX_STATUS_LIST_BYTES;
use inkan_formats::status::token::{CWT_TYP, JWT_TYP};
use inkan_formats::status::{StatusListReference, StatusListToken, TokenStatus, TokenStatusList};
use std::collections::BTreeMap;
use std::io::Write;

fn vector(name: &str) -> String {
    let path = format!("{}/testdata/status-list/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The JSON of an example file: from the first `{`, with the draft's line wrapping removed.
fn vector_json(name: &str) -> serde_json::Value {
    let text = vector(name);
    let start = text.find('{').unwrap();
    let compact: String = text[start..]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    serde_json::from_str(&compact).unwrap()
}

/// The hex of an example file (after `encoded:` when there is one).
fn vector_hex(name: &str) -> Vec<u8> {
    let text = vector(name);
    let body = text.split("encoded:").last().unwrap();
    let hex_digits: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(hex_digits).unwrap()
}

/// The `byte_array = [0x.., ..]` of an example file.
fn vector_byte_array(name: &str) -> Vec<u8> {
    let text = vector(name);
    let line = text.lines().find(|l| l.starts_with("byte_array")).unwrap();
    let inside = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
    inside
        .split(',')
        .map(|b| u8::from_str_radix(b.trim().trim_start_matches("0x"), 16).unwrap())
        .collect()
}

/// The draft's stated values for one example (`[name]` section of draft_status_values.txt).
fn stated(section: &str) -> BTreeMap<u64, u8> {
    let text = vector("draft_status_values.txt");
    let mut values = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with('[') {
            inside = line == format!("[{section}]");
            continue;
        }
        if inside && let Some(rest) = line.strip_prefix("status[") {
            let (index, value) = rest.split_once(']').unwrap();
            let value = value.trim().trim_start_matches('=').trim();
            assert!(
                values
                    .insert(index.parse().unwrap(), value.parse().unwrap())
                    .is_none(),
                "{section}: {line}"
            );
        }
    }
    assert!(!values.is_empty(), "no values for {section}");
    values
}

/// Every stated value read back, and every other entry 0 (the draft: "All values that are not
/// mentioned ... can be assumed to be 0").
fn assert_matches_stated(list: &TokenStatusList, section: &str) -> usize {
    let values = stated(section);
    for (index, value) in &values {
        assert_eq!(
            list.status(*index).unwrap(),
            *value,
            "{section}: status[{index}]"
        );
    }
    let mut checked = 0;
    for index in 0..list.len() as u64 {
        if !values.contains_key(&index) {
            assert_eq!(
                list.status(index).unwrap(),
                0,
                "{section}: status[{index}] is not stated, must be 0"
            );
        }
        checked += 1;
    }
    checked
}

fn cose_sign1_parts(bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let value: Cbor = ciborium::de::from_reader(bytes).unwrap();
    let (tag, inner) = value.as_tag().unwrap();
    assert_eq!(tag, 18, "COSE_Sign1 tag");
    let items = inner.as_array().unwrap();
    assert_eq!(items.len(), 4);
    (
        items[0].as_bytes().unwrap().clone(),
        items[2].as_bytes().unwrap().clone(),
    )
}

#[test]
fn short_examples_decode_to_the_stated_values() {
    for (json, cbor, section, bits, entries) in [
        (
            "status_list_encoding_json.md",
            "status_list_encoding_cbor.md",
            "short-1bit",
            1,
            16,
        ),
        (
            "status_list_encoding2_json.md",
            "status_list_encoding2_cbor.md",
            "short-2bit",
            2,
            12,
        ),
    ] {
        let from_json = TokenStatusList::from_json(&vector_json(json)).unwrap();
        let from_cbor = TokenStatusList::from_cbor(&vector_hex(cbor)).unwrap();
        assert_eq!(from_json, from_cbor, "{json} and {cbor} hold the same list");
        assert_eq!(from_json.bits(), bits);
        assert_eq!(
            from_json.as_bytes(),
            vector_byte_array(json).as_slice(),
            "{json}: byte_array"
        );
        assert_eq!(
            from_cbor.as_bytes(),
            vector_byte_array(cbor).as_slice(),
            "{cbor}: byte_array"
        );
        assert_eq!(from_json.len(), entries);
        assert_eq!(assert_matches_stated(&from_json, section), entries);
        // and built from the stated values, the byte array is the draft's
        let mut built = TokenStatusList::new(entries, bits).unwrap();
        for (index, value) in stated(section) {
            built.set(index, value).unwrap();
        }
        assert_eq!(
            built.as_bytes(),
            from_json.as_bytes(),
            "{section}: built from the stated values"
        );
    }
}

#[test]
fn appendix_vectors_decode_to_the_stated_values() {
    for (bits, json, cbor, section) in [
        (
            1u8,
            "status_list_encoding1_long_json.md",
            "status_list_encoding1_long_cbor.md",
            "long-1bit",
        ),
        (
            2,
            "status_list_encoding2_long_json.md",
            "status_list_encoding2_long_cbor.md",
            "long-2bit",
        ),
        (
            4,
            "status_list_encoding4_json.md",
            "status_list_encoding4_cbor.md",
            "long-4bit",
        ),
        (
            8,
            "status_list_encoding8_json.md",
            "status_list_encoding8_cbor.md",
            "long-8bit",
        ),
    ] {
        let from_json = TokenStatusList::from_json(&vector_json(json)).unwrap();
        let from_cbor = TokenStatusList::from_cbor(&vector_hex(cbor)).unwrap();
        assert_eq!(from_json, from_cbor, "{json} and {cbor} hold the same list");
        assert_eq!(from_json.bits(), bits);
        // "All examples are initialized with a size of 2^20 entries."
        assert_eq!(from_json.len(), 1 << 20, "{json}: 2^20 entries");
        assert_eq!(assert_matches_stated(&from_json, section), 1 << 20);
        assert!(
            from_json.status(1 << 20).is_err(),
            "{json}: index 2^20 is out of range"
        );
    }
}

#[test]
fn re_encoded_lists_decode_identically() {
    for (json, cbor) in [
        (
            "status_list_encoding_json.md",
            "status_list_encoding_cbor.md",
        ),
        (
            "status_list_encoding2_json.md",
            "status_list_encoding2_cbor.md",
        ),
        (
            "status_list_encoding1_long_json.md",
            "status_list_encoding1_long_cbor.md",
        ),
        (
            "status_list_encoding2_long_json.md",
            "status_list_encoding2_long_cbor.md",
        ),
        (
            "status_list_encoding4_json.md",
            "status_list_encoding4_cbor.md",
        ),
        (
            "status_list_encoding8_json.md",
            "status_list_encoding8_cbor.md",
        ),
    ] {
        let original = TokenStatusList::from_json(&vector_json(json)).unwrap();
        let json_again = original.to_json().unwrap();
        assert_eq!(
            TokenStatusList::from_json(&json_again).unwrap(),
            original,
            "{json} re-encoded as JSON"
        );
        let cbor_again = original.to_cbor().unwrap();
        assert_eq!(
            TokenStatusList::from_cbor(&cbor_again).unwrap(),
            original,
            "{cbor} re-encoded as CBOR"
        );
        // The compressed bytes may differ from the draft's (another DEFLATE implementation);
        // say whether they do.
        let same = cbor_again == vector_hex(cbor);
        println!(
            "{cbor}: re-encoding is {}byte-identical to the draft",
            if same { "" } else { "not " }
        );
    }
}

#[test]
fn status_list_jwt_example_is_read() {
    let raw: String = vector("status_list_jwt_raw.md")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let parts: Vec<&str> = raw.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    StatusListToken::check_jwt_header(&header).unwrap();
    assert_eq!(header["typ"], JWT_TYP);
    // The signature is the jose module's to verify; here the payload is taken as verified.
    let token =
        StatusListToken::from_jwt_payload(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(token.sub, "https://example.com/statuslists/1");
    assert_eq!(token.iat, 1686920170);
    assert_eq!(token.exp, Some(2291720170));
    assert_eq!(token.ttl, Some(43200));
    assert_eq!(token.status_list.bits(), 1);
    assert_eq!(token.status_list.as_bytes(), &[0xb9, 0xa3]);
    assert_matches_stated(&token.status_list, "short-1bit");
    assert!(!token.is_expired_at(1_700_000_000));
    assert!(token.is_expired_at(2291720170));

    // the pretty-printed form of the same example agrees
    let text = vector("status_list_jwt.md");
    let payload_text = &text[text.rfind("\n.\n").unwrap() + 3..];
    let pretty = StatusListToken::from_jwt_payload(payload_text.as_bytes()).unwrap();
    assert_eq!(pretty, token);
}

#[test]
fn status_list_cwt_example_is_read() {
    let (protected, payload) = cose_sign1_parts(&vector_hex("status_list_cwt.md"));
    let protected: Cbor = ciborium::de::from_reader(protected.as_slice()).unwrap();
    let typ = protected
        .as_map()
        .unwrap()
        .iter()
        .find(|(k, _)| k == &Cbor::Integer(16.into()))
        .and_then(|(_, v)| v.as_text())
        .unwrap();
    StatusListToken::check_cwt_typ(typ).unwrap();
    assert_eq!(typ, CWT_TYP);
    // The COSE reader the status checker uses finds the same `typ` in the tagged structure.
    let sign1 = inkan_formats::mdoc::cose::parse(&vector_hex("status_list_cwt.md")).unwrap();
    assert_eq!(
        inkan_formats::mdoc::cose::typ(&sign1).unwrap(),
        Some(CWT_TYP)
    );
    assert_eq!(sign1.payload.as_deref(), Some(payload.as_slice()));
    let token = StatusListToken::from_cwt_claims(&payload).unwrap();
    assert_eq!(token.sub, "https://example.com/statuslists/1");
    assert_eq!(token.iat, 1686920170);
    assert_eq!(token.exp, Some(2291720170));
    assert_eq!(token.ttl, Some(43200));
    assert_eq!(token.status_list.as_bytes(), &[0xb9, 0xa3]);
    assert_matches_stated(&token.status_list, "short-1bit");
}

#[test]
fn referenced_token_cwt_example_is_read_and_looked_up() {
    let (_, payload) = cose_sign1_parts(&vector_hex("referenced_token_cwt.md"));
    let reference = StatusListReference::from_cwt_claims(&payload)
        .unwrap()
        .unwrap();
    assert_eq!(
        reference,
        StatusListReference {
            idx: 0,
            uri: "https://example.com/statuslists/1".into()
        }
    );
    let (_, list_payload) = cose_sign1_parts(&vector_hex("status_list_cwt.md"));
    let list_token = StatusListToken::from_cwt_claims(&list_payload).unwrap();
    // status[0] = 1 in the draft's example list: INVALID
    assert_eq!(
        list_token.status_of(&reference).unwrap(),
        TokenStatus::Invalid
    );
    let elsewhere = StatusListReference {
        idx: 0,
        uri: "https://example.com/statuslists/2".into(),
    };
    assert!(matches!(
        list_token.status_of(&elsewhere),
        Err(FormatError::Rejected(_))
    ));
}

#[test]
fn referenced_token_jwt_status_claim() {
    let claims = serde_json::json!({
        "iss": "https://example.com/issuer",
        "status": {"status_list": {"idx": 3, "uri": "https://example.com/statuslists/1"}}
    });
    let reference = StatusListReference::from_jwt_claims(&claims)
        .unwrap()
        .unwrap();
    assert_eq!(reference.idx, 3);
    assert_eq!(reference.to_jwt_status(), claims["status"]);
    let cbor = reference.to_cbor_status();
    assert_eq!(
        StatusListReference::from_cbor_status(&cbor)
            .unwrap()
            .unwrap(),
        reference
    );
    assert_eq!(
        StatusListReference::from_jwt_claims(&serde_json::json!({"iss": "x"})).unwrap(),
        None
    );
    assert_eq!(
        StatusListReference::from_jwt_claims(&serde_json::json!({"status": {"other": {}}}))
            .unwrap(),
        None
    );
    for bad in [
        serde_json::json!({"status": {"status_list": {"idx": -1, "uri": "u"}}}),
        serde_json::json!({"status": {"status_list": {"idx": "3", "uri": "u"}}}),
        serde_json::json!({"status": {"status_list": {"idx": 3}}}),
        serde_json::json!({"status": "revoked"}),
    ] {
        assert!(StatusListReference::from_jwt_claims(&bad).is_err(), "{bad}");
    }
}

#[test]
fn produced_tokens_read_back() {
    let mut list = TokenStatusList::new(1 << 16, 2).unwrap();
    list.set(0, 1).unwrap();
    list.set(65535, 2).unwrap();
    list.set(1234, 3).unwrap();
    let token = StatusListToken {
        sub: "https://inkan.example/status/1".into(),
        iat: 1_700_000_000,
        exp: Some(1_700_086_400),
        ttl: Some(3600),
        status_list: list.with_aggregation_uri("https://inkan.example/status/aggregation"),
    };
    let jwt_claims = token.to_jwt_claims().unwrap();
    assert_eq!(
        StatusListToken::from_jwt_claims(&jwt_claims).unwrap(),
        token
    );
    let cwt_claims = token.to_cwt_claims().unwrap();
    let back = StatusListToken::from_cwt_claims(&cwt_claims).unwrap();
    assert_eq!(back, token);
    let reference = StatusListReference {
        idx: 65535,
        uri: token.sub.clone(),
    };
    assert_eq!(back.status_of(&reference).unwrap(), TokenStatus::Suspended);
    assert_eq!(
        back.status_list.token_status(1234).unwrap(),
        TokenStatus::Other(3)
    );
    assert_eq!(
        back.status_list.aggregation_uri(),
        Some("https://inkan.example/status/aggregation")
    );
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn malformed(result: Result<TokenStatusList, FormatError>) -> String {
    match result {
        Err(e @ FormatError::Malformed { .. }) => e.to_string(),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn zip_bomb_stops_at_the_limit() {
    // 32 MiB of zeros compresses to ~32 KB; the limit is 16 MiB.
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..32 {
        e.write_all(&chunk).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let err = malformed(TokenStatusList::from_compressed(&bomb, 1));
    assert!(
        err.contains(&format!("more than the {MAX_STATUS_LIST_BYTES} bytes")),
        "{err}"
    );
    let json = serde_json::json!({"bits": 1, "lst": URL_SAFE_NO_PAD.encode(&bomb)});
    assert!(malformed(TokenStatusList::from_json(&json)).contains("decompression stopped"));
    // exactly at the limit is accepted
    let at_limit = zlib(&vec![0u8; MAX_STATUS_LIST_BYTES]);
    assert_eq!(
        TokenStatusList::from_compressed(&at_limit, 8)
            .unwrap()
            .len(),
        MAX_STATUS_LIST_BYTES
    );
}

#[test]
fn malformed_lists_are_refused() {
    let good = zlib(&[0xb9, 0xa3]);
    let lst = URL_SAFE_NO_PAD.encode(&good);
    // bits
    for bits in [0, 3, 5, 16] {
        let err = malformed(TokenStatusList::from_json(
            &serde_json::json!({"bits": bits, "lst": lst}),
        ));
        assert!(err.contains("`bits` must be 1, 2, 4 or 8"), "{err}");
    }
    assert!(TokenStatusList::new(10, 3).is_err());
    malformed(TokenStatusList::from_json(
        &serde_json::json!({"bits": "1", "lst": lst}),
    ));
    malformed(TokenStatusList::from_json(&serde_json::json!({"bits": 1})));
    // base64url: padding, standard alphabet
    malformed(TokenStatusList::from_json(
        &serde_json::json!({"bits": 1, "lst": format!("{lst}==")}),
    ));
    malformed(TokenStatusList::from_json(
        &serde_json::json!({"bits": 1, "lst": "eNrbuRgAAhcBXQ+/"}),
    ));
    // truncated, corrupted checksum, gzip instead of zlib, trailing bytes
    let err = malformed(TokenStatusList::from_compressed(&good[..good.len() - 3], 1));
    assert!(err.contains("bad compressed data"), "{err}");
    let mut bad_sum = good.clone();
    let last = bad_sum.len() - 1;
    bad_sum[last] ^= 1;
    malformed(TokenStatusList::from_compressed(&bad_sum, 1));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&[0xb9, 0xa3]).unwrap();
    malformed(TokenStatusList::from_compressed(&gz.finish().unwrap(), 1));
    let mut trailing = good.clone();
    trailing.push(0);
    malformed(TokenStatusList::from_compressed(&trailing, 1));
    // CBOR: lst as text, trailing bytes, integer keys (the draft's map uses text keys)
    let mut cbor = TokenStatusList::from_compressed(&good, 1)
        .unwrap()
        .to_cbor()
        .unwrap();
    cbor.push(0);
    malformed(TokenStatusList::from_cbor(&cbor));
    let as_text = Cbor::Map(vec![
        (Cbor::Text("bits".into()), Cbor::Integer(1.into())),
        (Cbor::Text("lst".into()), Cbor::Text(lst.clone())),
    ]);
    malformed(TokenStatusList::from_cbor_value(&as_text));
    let int_keys = Cbor::Map(vec![
        (Cbor::Integer(1.into()), Cbor::Integer(1.into())),
        (Cbor::Integer(2.into()), Cbor::Bytes(good.clone())),
    ]);
    malformed(TokenStatusList::from_cbor_value(&int_keys));
}

#[test]
fn index_out_of_range_is_refused() {
    let list = TokenStatusList::from_bytes(vec![0xb9, 0xa3], 1).unwrap();
    assert_eq!(list.status(15).unwrap(), 1);
    let err = list.status(16).unwrap_err().to_string();
    assert!(
        err.contains("index 16 is out of range: the list has 16 entries"),
        "{err}"
    );
    assert!(list.status(u64::MAX).is_err());
    let mut list = list;
    assert!(list.set(16, 1).is_err());
}

#[test]
fn token_claims_are_checked() {
    let list = serde_json::json!({"bits": 1, "lst": "eNrbuRgAAhcBXQ"});
    assert!(
        StatusListToken::from_jwt_claims(
            &serde_json::json!({"sub": "s", "iat": 1, "status_list": list})
        )
        .is_ok()
    );
    for bad in [
        serde_json::json!({"iat": 1, "status_list": list}),
        serde_json::json!({"sub": "s", "status_list": list}),
        serde_json::json!({"sub": "s", "iat": -1, "status_list": list}),
        serde_json::json!({"sub": "s", "iat": 1, "ttl": "1h", "status_list": list}),
        serde_json::json!({"sub": "s", "iat": 1}),
        serde_json::json!({"sub": 7, "iat": 1, "status_list": list}),
    ] {
        assert!(StatusListToken::from_jwt_claims(&bad).is_err(), "{bad}");
    }
    assert!(StatusListToken::check_jwt_header(&serde_json::json!({"typ": "JWT"})).is_err());
    assert!(StatusListToken::check_jwt_header(&serde_json::json!({"alg": "ES256"})).is_err());
    assert!(StatusListToken::check_cwt_typ("application/cwt").is_err());
    assert!(StatusListToken::from_jwt_payload(b"{not json").is_err());
    assert!(
        StatusListToken::from_cwt_claims(&[0xa0]).is_err(),
        "empty claims set"
    );
}
