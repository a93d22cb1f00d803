#![allow(clippy::unwrap_used)]
//! W3C Bitstring Status List: the specification's example decoded, round trips, the 16 KB
//! minimum, MSB-first order against hand-computed bytes, entries and list credentials, and the
//! negative cases.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_formats::FormatError;
use inkan_formats::limits::MAX_STATUS_LIST_BYTES;
use inkan_formats::status::bitstring::{DEFAULT_TTL_MS, MIN_ENTRIES};
use inkan_formats::status::{
    BitstringStatusList, BitstringStatusListCredential, BitstringStatusListEntry, StatusMessage,
    StatusPurpose,
};
use serde_json::json;
use std::io::Write;

fn vector_json(name: &str) -> serde_json::Value {
    let path = format!("{}/testdata/status-list/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn multibase(bytes: &[u8]) -> String {
    format!("u{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn malformed<T: std::fmt::Debug>(result: Result<T, FormatError>) -> String {
    match result {
        Err(e @ FormatError::Malformed { .. }) => e.to_string(),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn specification_example_is_decoded_and_checked() {
    // "Example BitstringStatusListCredential" of the W3C Recommendation: 16 KB of zeros.
    let credential = BitstringStatusListCredential::from_verified_json(&vector_json(
        "w3c_example_bitstring_status_list_credential.json",
    ))
    .unwrap();
    assert_eq!(
        credential.id.as_deref(),
        Some("https://example.com/credentials/status/3")
    );
    assert_eq!(
        credential.subject_id.as_deref(),
        Some("https://example.com/status/3#list")
    );
    assert_eq!(credential.status_purposes, vec![StatusPurpose::Revocation]);
    assert_eq!(
        credential.valid_from.as_deref(),
        Some("2021-04-05T14:27:40Z")
    );
    assert_eq!(credential.ttl_ms(), DEFAULT_TTL_MS);
    let list = credential.list(1).unwrap();
    assert_eq!(list.as_bytes().len(), 16 * 1024);
    assert_eq!(list.len(), MIN_ENTRIES);
    assert!(list.as_bytes().iter().all(|b| *b == 0));

    // The specification's credential with two entries (revocation in list 3, suspension in 4).
    let entries = BitstringStatusListEntry::all_from_credential(&vector_json(
        "w3c_example_credential_with_status.json",
    ))
    .unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].status_list_index, 94567);
    assert_eq!(entries[0].status_purpose, StatusPurpose::Revocation);
    assert_eq!(entries[0].status_size, 1);
    assert_eq!(entries[1].status_list_index, 23452);
    assert_eq!(entries[1].status_purpose, StatusPurpose::Suspension);
    let status = credential.check(&entries[0]).unwrap();
    assert!(status.is_valid());
    assert_eq!(status.status, 0);
    // the second entry points to another list (status/4): refused, not silently read
    assert!(matches!(
        credential.check(&entries[1]),
        Err(FormatError::Rejected(_))
    ));
}

#[test]
fn msb_first_against_hand_computed_bytes() {
    let mut list = BitstringStatusList::new(MIN_ENTRIES, 1).unwrap();
    // indexes 0 and 3 in byte 0: 1001_0000 = 0x90; index 9 in byte 1: 0100_0000 = 0x40;
    // the last index is the right-most bit of the last byte: 0000_0001.
    for index in [0, 3, 9, MIN_ENTRIES as u64 - 1] {
        list.set(index, 1).unwrap();
    }
    assert_eq!(list.as_bytes()[0], 0x90);
    assert_eq!(list.as_bytes()[1], 0x40);
    assert_eq!(list.as_bytes()[16 * 1024 - 1], 0x01);

    // and the other way: a bitstring made by hand, compressed by another GZIP call
    let mut bytes = vec![0u8; 16 * 1024];
    bytes[0] = 0b1010_0000;
    bytes[2] = 0b0000_0011;
    let decoded = BitstringStatusList::from_encoded(&multibase(&gzip(&bytes)), 1).unwrap();
    let set: Vec<u64> = (0..decoded.len() as u64)
        .filter(|i| decoded.status(*i).unwrap() == 1)
        .collect();
    assert_eq!(set, vec![0, 2, 22, 23]);

    // statusSize 2: entry 0 = bits 0-1, entry 1 = bits 2-3, first bit most significant
    let mut bytes = vec![0u8; 32 * 1024];
    bytes[0] = 0b10_01_11_00;
    let decoded = BitstringStatusList::from_encoded(&multibase(&gzip(&bytes)), 2).unwrap();
    assert_eq!(decoded.len(), MIN_ENTRIES);
    assert_eq!(
        [0, 1, 2, 3].map(|i| decoded.status(i).unwrap()),
        [2, 1, 3, 0]
    );
}

#[test]
fn round_trips() {
    for size in [1u8, 2, 4, 8] {
        let mut list = BitstringStatusList::new(MIN_ENTRIES, size).unwrap();
        let max = if size == 8 { 255 } else { (1u8 << size) - 1 };
        for (n, index) in [0u64, 1, 7, 8, 94567, MIN_ENTRIES as u64 - 1]
            .into_iter()
            .enumerate()
        {
            list.set(index, (n as u8 % max) + 1).unwrap();
        }
        let encoded = list.encode().unwrap();
        assert!(encoded.starts_with('u'));
        let back = BitstringStatusList::from_encoded(&encoded, size).unwrap();
        assert_eq!(back, list, "statusSize {size}");
        // setting back to 0 clears only that entry
        let mut cleared = back.clone();
        cleared.set(94567, 0).unwrap();
        assert_eq!(cleared.status(94567).unwrap(), 0);
        assert_eq!(cleared.status(8).unwrap(), back.status(8).unwrap());
    }
}

#[test]
fn sixteen_kilobyte_minimum() {
    assert!(BitstringStatusList::new(MIN_ENTRIES - 1, 1).is_err());
    assert_eq!(
        BitstringStatusList::new(MIN_ENTRIES, 1)
            .unwrap()
            .as_bytes()
            .len(),
        16 * 1024
    );
    let short = multibase(&gzip(&vec![0u8; 16 * 1024 - 1]));
    let err = malformed(BitstringStatusList::from_encoded(&short, 1));
    assert!(err.contains("STATUS_LIST_LENGTH_ERROR"), "{err}");
    // with statusSize 2, 16 KB holds only 65,536 entries
    let sixteen = multibase(&gzip(&vec![0u8; 16 * 1024]));
    assert!(BitstringStatusList::from_encoded(&sixteen, 1).is_ok());
    assert!(BitstringStatusList::from_encoded(&sixteen, 2).is_err());
    // an ecosystem may set another lower bound
    assert_eq!(
        BitstringStatusList::from_encoded_with_minimum(&short, 1, 1024)
            .unwrap()
            .len(),
        16 * 1024 * 8 - 8
    );
    assert!(BitstringStatusList::new_with_minimum(16, 1, 8).is_ok());
}

#[test]
fn message_entries_with_status_size_2() {
    let entry_json = json!({
        "id": "https://example.com/credentials/status/8#492847",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": "492847",
        "statusSize": 2,
        "statusListCredential": "https://example.com/credentials/status/8",
        "statusMessage": [
            {"status": "0x0", "message": "pending_review"},
            {"status": "0x1", "message": "accepted"},
            {"status": "0x2", "message": "rejected"},
            {"status": "0x3", "message": "undefined"}
        ],
        "statusReference": "https://example.org/status-dictionary/"
    });
    let entry = BitstringStatusListEntry::from_json(&entry_json).unwrap();
    assert_eq!(entry.status_size, 2);
    assert_eq!(
        entry.status_messages[2],
        StatusMessage {
            status: 2,
            message: "rejected".into()
        }
    );
    assert_eq!(entry.to_json(), entry_json);

    let mut list = BitstringStatusList::new(1 << 19, 2).unwrap();
    list.set(492847, 2).unwrap();
    let mut credential_json = BitstringStatusListCredential::unsigned(
        "https://example.com/credentials/status/8",
        "did:example:12345",
        &StatusPurpose::Message,
        &list,
        Some("2024-04-05T03:52:31Z"),
        Some("2034-04-05T03:52:31Z"),
        Some(600_000),
    )
    .unwrap();
    let credential = BitstringStatusListCredential::from_verified_json(&credential_json).unwrap();
    // The list credential names no statusSize: it is the entry's (the VCDM 2.0 context has
    // no such term on a BitstringStatusList).
    assert_eq!(credential.status_size, None);
    assert!(
        credential_json["credentialSubject"]
            .get("statusSize")
            .is_none()
    );
    assert_eq!(credential.ttl_ms(), 600_000);
    assert_eq!(
        credential.valid_until.as_deref(),
        Some("2034-04-05T03:52:31Z")
    );
    let status = credential.check(&entry).unwrap();
    assert_eq!(
        (status.status, status.message.as_deref()),
        (2, Some("rejected"))
    );
    assert!(!status.is_valid());

    // a list that names a statusSize other than the entry's (as some issuers write) is
    // refused
    credential_json["credentialSubject"]["statusSize"] = json!(1);
    let credential = BitstringStatusListCredential::from_verified_json(&credential_json).unwrap();
    assert!(matches!(
        credential.check(&entry),
        Err(FormatError::Rejected(_))
    ));
}

#[test]
fn revocation_and_suspension_lists() {
    let mut list = BitstringStatusList::new(MIN_ENTRIES, 1).unwrap();
    list.set(42, 1).unwrap();
    let url = "https://inkan.example/status/rev";
    let credential_json = BitstringStatusListCredential::unsigned(
        url,
        "did:example:inkan",
        &StatusPurpose::Revocation,
        &list,
        None,
        None,
        None,
    )
    .unwrap();
    let credential = BitstringStatusListCredential::from_verified_json(&credential_json).unwrap();
    let entry = |index: u64, purpose: &str| {
        BitstringStatusListEntry::from_json(&json!({
            "type": "BitstringStatusListEntry",
            "statusPurpose": purpose,
            "statusListIndex": index.to_string(),
            "statusListCredential": url
        }))
        .unwrap()
    };
    assert!(
        !credential
            .check(&entry(42, "revocation"))
            .unwrap()
            .is_valid()
    );
    assert!(
        credential
            .check(&entry(43, "revocation"))
            .unwrap()
            .is_valid()
    );
    // purpose mismatch
    assert!(matches!(
        credential.check(&entry(42, "suspension")),
        Err(FormatError::Rejected(_))
    ));
    // index past the end
    let err = malformed(credential.check(&entry(MIN_ENTRIES as u64, "revocation")));
    assert!(err.contains("out of range"), "{err}");

    // a list for several purposes (statusPurpose as an array)
    let mut multi = credential_json.clone();
    multi["credentialSubject"]["statusPurpose"] = json!(["revocation", "suspension"]);
    let multi = BitstringStatusListCredential::from_verified_json(&multi).unwrap();
    assert!(!multi.check(&entry(42, "suspension")).unwrap().is_valid());

    // a VCDM 1.1-style `credentialStatus` object with another mechanism beside
    let vc =
        json!({"credentialStatus": [{"type": "OtherStatus"}, entry(7, "revocation").to_json()]});
    assert_eq!(
        BitstringStatusListEntry::all_from_credential(&vc).unwrap(),
        vec![entry(7, "revocation")]
    );
    assert!(
        BitstringStatusListEntry::all_from_credential(&json!({}))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn wrong_multibase_prefix_is_refused() {
    let encoded = BitstringStatusList::new(MIN_ENTRIES, 1)
        .unwrap()
        .encode()
        .unwrap();
    let body = &encoded[1..];
    for bad in [
        format!("z{body}"),
        format!("U{body}"),
        body.to_string(),
        String::new(),
    ] {
        let err = malformed(BitstringStatusList::from_encoded(&bad, 1));
        assert!(err.contains("multibase prefix 'u'"), "{err}");
    }
    // standard base64 with padding after the prefix
    let std_b64 = format!(
        "u{}",
        base64::engine::general_purpose::STANDARD.encode(gzip(&[0u8; 16384]))
    );
    assert!(BitstringStatusList::from_encoded(&std_b64, 1).is_err());
}

#[test]
fn bad_gzip_is_refused() {
    let good = gzip(&vec![0u8; 16 * 1024]);
    // corrupted CRC-32
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 5] ^= 0xff;
    malformed(BitstringStatusList::from_encoded(&multibase(&bad_crc), 1));
    // truncated
    let err = malformed(BitstringStatusList::from_encoded(
        &multibase(&good[..good.len() - 10]),
        1,
    ));
    assert!(err.contains("bad compressed data"), "{err}");
    // not GZIP at all (ZLIB, raw bytes)
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&[0u8; 16384]).unwrap();
    malformed(BitstringStatusList::from_encoded(
        &multibase(&z.finish().unwrap()),
        1,
    ));
    malformed(BitstringStatusList::from_encoded(
        &multibase(&[0u8; 16384]),
        1,
    ));
    // trailing bytes after the member
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    malformed(BitstringStatusList::from_encoded(&multibase(&trailing), 1));
}

#[test]
fn zip_bomb_stops_at_the_limit() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..32 {
        e.write_all(&chunk).unwrap();
    }
    let bomb = multibase(&e.finish().unwrap());
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let err = malformed(BitstringStatusList::from_encoded(&bomb, 1));
    assert!(
        err.contains(&format!("more than the {MAX_STATUS_LIST_BYTES} bytes")),
        "{err}"
    );
}

#[test]
fn index_out_of_range_is_refused() {
    let list = BitstringStatusList::new(MIN_ENTRIES, 1).unwrap();
    assert_eq!(list.status(MIN_ENTRIES as u64 - 1).unwrap(), 0);
    let err = malformed(list.status(MIN_ENTRIES as u64));
    assert!(err.contains("RANGE_ERROR"), "{err}");
    assert!(list.status(u64::MAX).is_err());
    let mut list = list;
    assert!(list.set(MIN_ENTRIES as u64, 1).is_err());
    assert!(list.set(0, 2).is_err(), "2 does not fit in one bit");
    assert!(BitstringStatusList::new(MIN_ENTRIES, 0).is_err());
    assert!(BitstringStatusList::new(MIN_ENTRIES, 9).is_err());
}

#[test]
fn malformed_entries_and_credentials_are_refused() {
    let base = json!({
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://example.com/credentials/status/3"
    });
    assert!(BitstringStatusListEntry::from_json(&base).is_ok());
    let with = |name: &str, value: serde_json::Value| {
        let mut v = base.clone();
        v[name] = value;
        v
    };
    for bad in [
        with("statusListIndex", json!(94567)),
        with("statusListIndex", json!("-1")),
        with("statusListIndex", json!("12a")),
        with("statusListIndex", json!("")),
        with("statusListIndex", json!("99999999999999999999999")),
        with("type", json!("StatusList2021Entry")),
        with("statusSize", json!(0)),
        with("statusSize", json!(2)),
        with("statusMessage", json!([{"status": "0x0", "message": "ok"}])),
        with("statusListCredential", json!(null)),
    ] {
        assert!(BitstringStatusListEntry::from_json(&bad).is_err(), "{bad}");
    }
    let mut without_index = base.clone();
    without_index
        .as_object_mut()
        .unwrap()
        .remove("statusListIndex");
    assert!(BitstringStatusListEntry::from_json(&without_index).is_err());

    let credential = vector_json("w3c_example_bitstring_status_list_credential.json");
    let edit = |path: &[&str], value: serde_json::Value| {
        let mut c = credential.clone();
        let mut target = &mut c;
        for p in &path[..path.len() - 1] {
            target = &mut target[*p];
        }
        target[path[path.len() - 1]] = value;
        c
    };
    for bad in [
        edit(&["type"], json!(["VerifiableCredential"])),
        edit(&["credentialSubject", "type"], json!("StatusList2021")),
        edit(&["credentialSubject", "statusPurpose"], json!([])),
        edit(&["credentialSubject", "encodedList"], json!(1)),
        edit(&["credentialSubject", "ttl"], json!("5m")),
        edit(&["credentialSubject"], json!("list")),
    ] {
        assert!(
            BitstringStatusListCredential::from_verified_json(&bad).is_err(),
            "{bad}"
        );
    }
}
