//! The canonical entry encoding: round trips for every kind, and refusals.
#![allow(clippy::unwrap_used)]

mod common;

use common::sample_entry;
use inkan_log::LogError;
use inkan_log::entry::{
    Actor, ActorKind, Authentication, Entry, EntryKind, MAX_ENTRY_BYTES, Outcome,
};

fn decode_err(bytes: &[u8]) -> String {
    match Entry::decode(bytes) {
        Err(LogError::Malformed {
            what: "entry",
            detail,
        }) => detail,
        other => panic!(
            "expected a malformed entry, got {other:?} for {}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

#[test]
fn every_kind_round_trips() {
    for (k, kind) in EntryKind::ALL.into_iter().enumerate() {
        for i in 0..12 {
            let entry = sample_entry(kind, (k * 12 + i) as u64);
            let bytes = entry.encode();
            assert_eq!(Entry::decode(&bytes).unwrap(), entry);
            assert_eq!(entry.leaf_hash(), inkan_log::hash::leaf_hash(&bytes));
            // What serde_json reads back is the same value, and members are sorted.
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                serde_json::to_vec(&v).unwrap(),
                bytes,
                "sorted, compact, JCS escapes"
            );
        }
    }
}

#[test]
fn known_encoding() {
    let entry = Entry {
        kind: EntryKind::SignatureRefused,
        time: 1_700_000_000_123,
        environment: "production".into(),
        actor: Actor {
            kind: ActorKind::SystemClient,
            id: "cli_7".into(),
            auth: Authentication {
                method: "mtls".into(),
                session: None,
                terminal: Some("sha-256:ab".into()),
            },
        },
        key_id: Some("key_1".into()),
        digests: vec!["sha-256:01".into(), "sha-256:02".into()],
        approval: Some("sad_9".into()),
        outcome: Outcome::Failed("key revoked".into()),
        note: None,
    };
    let want = concat!(
        r#"{"actor":{"auth":{"method":"mtls","terminal":"sha-256:ab"},"id":"cli_7","kind":"system_client"},"#,
        r#""approval":"sad_9","digests":["sha-256:01","sha-256:02"],"environment":"production","#,
        r#""failure":"key revoked","key_id":"key_1","kind":"signature.refused","outcome":"failed","#,
        r#""time":1700000000123,"v":1}"#
    );
    assert_eq!(String::from_utf8(entry.encode()).unwrap(), want);

    let minimal = Entry {
        kind: EntryKind::ConfigurationChanged,
        time: -1,
        environment: "test".into(),
        actor: Actor {
            kind: ActorKind::System,
            id: "inkan".into(),
            auth: Authentication::default(),
        },
        key_id: None,
        digests: vec![],
        approval: None,
        outcome: Outcome::Succeeded,
        note: Some("a\u{1}b\u{7f}\"\\".into()),
    };
    let want = concat!(
        r#"{"actor":{"auth":{"method":""},"id":"inkan","kind":"system"},"digests":[],"environment":"test","#,
        r#""kind":"configuration.changed","note":"a\u0001b"#,
        "\u{7f}",
        r#"\"\\","outcome":"succeeded","time":-1,"v":1}"#
    );
    assert_eq!(String::from_utf8(minimal.encode()).unwrap(), want);
    assert_eq!(Entry::decode(want.as_bytes()).unwrap(), minimal);
}

#[test]
fn refuses_non_canonical_and_unknown() {
    let entry = sample_entry(EntryKind::SignatureMade, 0);
    let good = String::from_utf8(entry.encode()).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (good.replacen(",", ", ", 1), "not canonical"),
        (format!(" {good}"), "not canonical"),
        (format!("{good}\n"), "not canonical"),
        (
            good.replace(r#""v":1"#, r#""v":2"#),
            "unsupported version 2",
        ),
        (
            good.replace(r#""v":1"#, r#""v":"1""#),
            "unsupported version",
        ),
        (good.replace(r#","v":1"#, ""), "no version"),
        (
            good.replace(r#""v":1"#, r#""v":1,"zz":0"#),
            "unknown member \"zz\"",
        ),
        (
            good.replace(r#""kind":"signature.made""#, r#""kind":"signature.forged""#),
            "unknown kind",
        ),
        (
            good.replace(r#""kind":"subscriber""#, r#""kind":"robot""#),
            "unknown actor kind",
        ),
        (
            good.replace(r#""outcome":"pending""#, r#""outcome":"maybe""#),
            "unknown outcome",
        ),
        (
            good.replace(r#""time":1700000000000"#, r#""time":1700000000000.0"#),
            "time is not an integer",
        ),
        (
            good.replace(r#""time":1700000000000"#, r#""time":1.700000000004e12"#),
            "time is not an integer",
        ),
        (
            good.replace(r#""id":"actor_0""#, r#""id":"actor_\u0030""#),
            "not canonical",
        ),
        (
            good.replace(r#""actor":{"#, r#""actor":{"x":1,"#),
            "unknown member \"x\" in actor",
        ),
        (
            good.replace(r#""digests":[]"#, r#""digests":[1]"#),
            "a digest is not a string",
        ),
        (
            good.replace(
                r#""outcome":"pending""#,
                r#""failure":"x","outcome":"pending""#,
            ),
            "failure member",
        ),
        (
            good.replace(
                r#""environment":"test","#,
                r#""environment":"test","environment":"test","#,
            ),
            "not canonical",
        ),
        ("[]".into(), "not a JSON object"),
        ("{".into(), "not JSON"),
    ];
    assert!(good.contains(r#""outcome":"pending""#), "{good}");
    for (bytes, want) in cases {
        assert_ne!(bytes, good, "case did not change the input: {want}");
        let detail = decode_err(bytes.as_bytes());
        assert!(detail.contains(want), "{detail:?} should mention {want:?}");
    }
    // Reordered members.
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let obj = v.as_object().unwrap();
    let mut reordered = String::from("{");
    for (i, (k, val)) in obj.iter().rev().enumerate() {
        if i > 0 {
            reordered.push(',');
        }
        reordered.push_str(&format!("{}:{}", serde_json::to_string(k).unwrap(), val));
    }
    reordered.push('}');
    assert!(decode_err(reordered.as_bytes()).contains("not canonical"));
    // Oversize.
    let mut big = sample_entry(EntryKind::OperatorAction, 1);
    big.note = Some("x".repeat(MAX_ENTRY_BYTES));
    assert!(decode_err(&big.encode()).contains("more than"));
}
