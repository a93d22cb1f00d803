//! The status part of the store (`StatusStore`): every case is written once against
//! `Arc<dyn Store>` and runs on every engine, which must all behave the same:
//!
//! - `sqlite::<case>`: SQLite in a temporary file;
//! - `sqlite_memory::<case>`: SQLite `sqlite::memory:` (not the cases that reach the database
//!   behind the store's back);
//! - `postgres::<case>`: PostgreSQL at `INKAN_TEST_POSTGRES_URL` (default
//!   `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`), each test in a fresh schema of its
//!   own, dropped at the end. No PostgreSQL is a failure, never a skip: `bash .ci/run` starts it.

#![allow(clippy::unwrap_used)]

use inkan_device::{Algorithm, DeviceKind, KeyHandle, KeySpec};
use inkan_store::Environment;
use inkan_store::{
    KeyId, KeyOrigin, KeyRecord, KeyState, KeyStatusRecord, KeyStatusValue, StateChange,
    StatusSourceKind, StatusSourceRecord, Store, StoreError,
};

#[macro_use]
mod common;

use common::{Ctx, Engine, run};

conformance!(
    every_engine: [
        status_source_set_replace_get,
        status_source_of_unknown_key_is_not_found,
        incomplete_status_sources_are_refused,
        active_status_sources_only_active_oldest_first,
        key_status_record_replace_get,
        key_status_of_unknown_key_is_not_found,
    ],
    outside: [
        schema_refuses_invalid_rows,
        undecodable_rows_are_corrupt,
    ],
);

// ---------------------------------------------------------------------------------------------
// Records

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const MINUTE: i64 = 60_000;

fn new_key(created_at: i64) -> KeyRecord {
    KeyRecord {
        id: KeyId::random(),
        owner: "sub_status_test".to_owned(),
        label: "issuer signing key".to_owned(),
        algorithm: Algorithm::Es256,
        spec: KeySpec::P256,
        device: DeviceKind::Soft,
        handle: KeyHandle::new(format!("soft-{}", uuid::Uuid::new_v4().simple())),
        public_key_spki: vec![0x30, 0x59, 0x00, 0xff],
        certificate_chain: Vec::new(),
        origin: KeyOrigin::Generated,
        environment: Environment::Test,
        state: KeyState::Active,
        state_reason: None,
        state_changed_at: None,
        created_at,
        updated_at: created_at,
    }
}

/// Registers a fresh active key created at `created_at`; its id.
async fn key(store: &dyn Store, created_at: i64) -> String {
    let key = new_key(created_at);
    store.insert_key(&key).await.unwrap();
    key.id.to_string()
}

fn bitstring(key_id: &str, index: u64) -> StatusSourceRecord {
    StatusSourceRecord {
        key_id: key_id.to_owned(),
        kind: StatusSourceKind::Bitstring,
        url: Some("https://status.example.org/credentials/status/3".to_owned()),
        index: Some(index),
        purpose: Some("revocation".to_owned()),
        set_at: T0,
        set_by: "acc_operator".to_owned(),
    }
}

fn token(key_id: &str, index: u64) -> StatusSourceRecord {
    StatusSourceRecord {
        key_id: key_id.to_owned(),
        kind: StatusSourceKind::Token,
        url: Some("https://status.example.org/statuslists/1".to_owned()),
        index: Some(index),
        purpose: None,
        set_at: T0 + MINUTE,
        set_by: "acc_other".to_owned(),
    }
}

fn bare(key_id: &str, kind: StatusSourceKind) -> StatusSourceRecord {
    StatusSourceRecord {
        key_id: key_id.to_owned(),
        kind,
        url: None,
        index: None,
        purpose: None,
        set_at: T0 + 2 * MINUTE,
        set_by: "operator".to_owned(),
    }
}

fn status(key_id: &str, value: KeyStatusValue, at: i64) -> KeyStatusRecord {
    KeyStatusRecord {
        key_id: key_id.to_owned(),
        status: value,
        checked_at: at,
        evidence: Some(format!(
            r#"{{"url":"https://status.example.org/statuslists/1","idx":7,"at":{at}}}"#
        )),
    }
}

async fn change_state(store: &dyn Store, key_id: &str, to: KeyState) {
    store
        .change_key_state(
            &KeyId::parse(key_id).unwrap(),
            &StateChange {
                from: vec![KeyState::Active, KeyState::Disabled],
                to,
                reason: "test".to_owned(),
                at: T0 + 10 * MINUTE,
                only_if_reason: None,
            },
        )
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Cases

async fn status_source_set_replace_get(db: Ctx) {
    let store = db.connect().await;
    let a = key(&*store, T0).await;
    let b = key(&*store, T0).await;
    assert_eq!(store.get_status_source(&a).await.unwrap(), None);

    // Every kind is stored and read back as given; the largest index survives the trip.
    let first = bitstring(&a, u64::try_from(i64::MAX).unwrap());
    store.set_status_source(&first).await.unwrap();
    assert_eq!(store.get_status_source(&a).await.unwrap(), Some(first));
    assert_eq!(store.get_status_source(&b).await.unwrap(), None);

    // Replaced whole, by a source of another kind: no field of the old one is left.
    for next in [
        token(&a, 0),
        bare(&a, StatusSourceKind::X509),
        StatusSourceRecord {
            purpose: Some("suspension".to_owned()),
            ..bitstring(&a, 131_072)
        },
        bare(&a, StatusSourceKind::None),
    ] {
        store.set_status_source(&next).await.unwrap();
        assert_eq!(store.get_status_source(&a).await.unwrap(), Some(next));
    }
    // The other key's source is its own.
    store.set_status_source(&token(&b, 9)).await.unwrap();
    assert_eq!(
        store.get_status_source(&b).await.unwrap(),
        Some(token(&b, 9))
    );
    assert_eq!(
        store.get_status_source(&a).await.unwrap(),
        Some(bare(&a, StatusSourceKind::None))
    );
    assert_eq!(store.get_status_source("key_unknown").await.unwrap(), None);
}

async fn status_source_of_unknown_key_is_not_found(db: Ctx) {
    let store = db.connect().await;
    let unknown = KeyId::random().to_string();
    for source in [
        bitstring(&unknown, 1),
        token(&unknown, 1),
        bare(&unknown, StatusSourceKind::X509),
    ] {
        let refused = store.set_status_source(&source).await;
        assert!(
            matches!(refused, Err(StoreError::NotFound(_))),
            "{source:?}: {refused:?}"
        );
    }
    assert_eq!(store.get_status_source(&unknown).await.unwrap(), None);
    assert!(store.active_status_sources().await.unwrap().is_empty());
}

async fn incomplete_status_sources_are_refused(db: Ctx) {
    let store = db.connect().await;
    let a = key(&*store, T0).await;
    let kept = bitstring(&a, 5);
    store.set_status_source(&kept).await.unwrap();
    let refused = [
        (
            "bitstring without url",
            StatusSourceRecord {
                url: None,
                ..bitstring(&a, 1)
            },
        ),
        (
            "bitstring with an empty url",
            StatusSourceRecord {
                url: Some(String::new()),
                ..bitstring(&a, 1)
            },
        ),
        (
            "bitstring without index",
            StatusSourceRecord {
                index: None,
                ..bitstring(&a, 1)
            },
        ),
        (
            "bitstring without purpose",
            StatusSourceRecord {
                purpose: None,
                ..bitstring(&a, 1)
            },
        ),
        (
            "bitstring with an unknown purpose",
            StatusSourceRecord {
                purpose: Some("refresh".to_owned()),
                ..bitstring(&a, 1)
            },
        ),
        (
            "token without url",
            StatusSourceRecord {
                url: None,
                ..token(&a, 1)
            },
        ),
        (
            "token without index",
            StatusSourceRecord {
                index: None,
                ..token(&a, 1)
            },
        ),
        (
            "token with a purpose",
            StatusSourceRecord {
                purpose: Some("revocation".to_owned()),
                ..token(&a, 1)
            },
        ),
        (
            "x509 with a url",
            StatusSourceRecord {
                url: Some("https://status.example.org/x".to_owned()),
                ..bare(&a, StatusSourceKind::X509)
            },
        ),
        (
            "none with an index",
            StatusSourceRecord {
                index: Some(1),
                ..bare(&a, StatusSourceKind::None)
            },
        ),
        (
            "none with a purpose",
            StatusSourceRecord {
                purpose: Some("suspension".to_owned()),
                ..bare(&a, StatusSourceKind::None)
            },
        ),
        ("an index above i64::MAX", bitstring(&a, u64::MAX)),
    ];
    for (what, source) in refused {
        let result = store.set_status_source(&source).await;
        assert!(
            matches!(result, Err(StoreError::Conflict(_))),
            "{what}: {result:?}"
        );
        // Nothing changed: the source set before stays.
        assert_eq!(
            store.get_status_source(&a).await.unwrap().as_ref(),
            Some(&kept),
            "{what}"
        );
    }
    // A key whose first source is refused has none.
    let b = key(&*store, T0).await;
    let result = store
        .set_status_source(&StatusSourceRecord {
            index: None,
            ..token(&b, 1)
        })
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.get_status_source(&b).await.unwrap(), None);
}

async fn active_status_sources_only_active_oldest_first(db: Ctx) {
    let store = db.connect().await;
    assert!(store.active_status_sources().await.unwrap().is_empty());
    // Registered out of age order, so that the order asked cannot come from insertion.
    let newest = key(&*store, T0 + 3 * MINUTE).await;
    let oldest = key(&*store, T0).await;
    let middle = key(&*store, T0 + MINUTE).await;
    let disabled = key(&*store, T0 - MINUTE).await;
    let destroyed = key(&*store, T0 - 2 * MINUTE).await;
    let _no_source = key(&*store, T0 - 3 * MINUTE).await;
    for (id, source) in [
        (&newest, bare(&newest, StatusSourceKind::X509)),
        (&oldest, bitstring(&oldest, 1)),
        (&middle, token(&middle, 2)),
        (&disabled, bitstring(&disabled, 3)),
        (&destroyed, token(&destroyed, 4)),
    ] {
        assert_eq!(&source.key_id, id);
        store.set_status_source(&source).await.unwrap();
    }
    let ids = |sources: Vec<StatusSourceRecord>| {
        sources.into_iter().map(|s| s.key_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.active_status_sources().await.unwrap()),
        [&destroyed, &disabled, &oldest, &middle, &newest].map(String::clone)
    );
    change_state(&*store, &disabled, KeyState::Disabled).await;
    change_state(&*store, &destroyed, KeyState::Destroyed).await;
    let active = store.active_status_sources().await.unwrap();
    assert_eq!(
        active,
        vec![
            bitstring(&oldest, 1),
            token(&middle, 2),
            bare(&newest, StatusSourceKind::X509),
        ]
    );
    // A disabled key's source is still there; only the listing leaves it out.
    assert_eq!(
        store.get_status_source(&disabled).await.unwrap(),
        Some(bitstring(&disabled, 3))
    );
    // Back to active: listed again, in its place.
    store
        .change_key_state(
            &KeyId::parse(&disabled).unwrap(),
            &StateChange {
                from: vec![KeyState::Disabled],
                to: KeyState::Active,
                reason: "test".to_owned(),
                at: T0 + 20 * MINUTE,
                only_if_reason: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(store.active_status_sources().await.unwrap()),
        [&disabled, &oldest, &middle, &newest].map(String::clone)
    );
}

async fn key_status_record_replace_get(db: Ctx) {
    let store = db.connect().await;
    let a = key(&*store, T0).await;
    let b = key(&*store, T0).await;
    assert_eq!(store.get_key_status(&a).await.unwrap(), None);
    let mut last = None;
    for (i, value) in [
        KeyStatusValue::Valid,
        KeyStatusValue::Expired,
        KeyStatusValue::Suspended,
        KeyStatusValue::Unknown,
        KeyStatusValue::Revoked,
    ]
    .into_iter()
    .enumerate()
    {
        let record = status(&a, value, T0 + i64::try_from(i).unwrap() * MINUTE);
        store.record_key_status(&record).await.unwrap();
        assert_eq!(
            store.get_key_status(&a).await.unwrap().as_ref(),
            Some(&record)
        );
        last = Some(record);
    }
    // Replaced whole: an evidence of none replaces one.
    let unknown = KeyStatusRecord {
        evidence: None,
        ..status(&b, KeyStatusValue::Unknown, T0)
    };
    store.record_key_status(&unknown).await.unwrap();
    assert_eq!(store.get_key_status(&b).await.unwrap(), Some(unknown));
    let with_reason = KeyStatusRecord {
        evidence: Some("the status list could not be fetched".to_owned()),
        ..status(&b, KeyStatusValue::Unknown, T0 + MINUTE)
    };
    store.record_key_status(&with_reason).await.unwrap();
    assert_eq!(store.get_key_status(&b).await.unwrap(), Some(with_reason));
    let cleared = KeyStatusRecord {
        evidence: None,
        ..status(&b, KeyStatusValue::Valid, T0 + 2 * MINUTE)
    };
    store.record_key_status(&cleared).await.unwrap();
    assert_eq!(store.get_key_status(&b).await.unwrap(), Some(cleared));
    // Each key keeps its own; recorded whatever the key's state.
    assert_eq!(store.get_key_status(&a).await.unwrap(), last);
    change_state(&*store, &a, KeyState::Destroyed).await;
    let after = status(&a, KeyStatusValue::Revoked, T0 + 30 * MINUTE);
    store.record_key_status(&after).await.unwrap();
    assert_eq!(store.get_key_status(&a).await.unwrap(), Some(after));
    // Status and source are separate records.
    assert_eq!(store.get_status_source(&a).await.unwrap(), None);
}

async fn key_status_of_unknown_key_is_not_found(db: Ctx) {
    let store = db.connect().await;
    let unknown = KeyId::random().to_string();
    let refused = store
        .record_key_status(&status(&unknown, KeyStatusValue::Valid, T0))
        .await;
    assert!(
        matches!(refused, Err(StoreError::NotFound(_))),
        "{refused:?}"
    );
    assert_eq!(store.get_key_status(&unknown).await.unwrap(), None);
}

async fn schema_refuses_invalid_rows(db: Ctx) {
    let store = db.connect().await;
    let a = key(&*store, T0).await;
    let source = |kind: &str, url: &str, idx: &str, purpose: &str| {
        format!(
            "INSERT INTO key_status_sources (key_id, kind, url, idx, purpose, set_at, set_by) \
             VALUES ('{a}', '{kind}', {url}, {idx}, {purpose}, 0, 'op')"
        )
    };
    let url = "'https://status.example.org/1'";
    let refused = [
        ("an unknown kind", source("ocsp", "NULL", "NULL", "NULL")),
        ("a negative index", source("token", url, "-1", "NULL")),
        (
            "an unknown purpose",
            source("bitstring", url, "1", "'message'"),
        ),
        (
            "bitstring without url",
            source("bitstring", "NULL", "1", "'revocation'"),
        ),
        (
            "bitstring without index",
            source("bitstring", url, "NULL", "'revocation'"),
        ),
        (
            "bitstring without purpose",
            source("bitstring", url, "1", "NULL"),
        ),
        ("token without url", source("token", "NULL", "1", "NULL")),
        ("token without index", source("token", url, "NULL", "NULL")),
        (
            "token with a purpose",
            source("token", url, "1", "'suspension'"),
        ),
        ("an empty url", source("token", "''", "1", "NULL")),
        ("x509 with a url", source("x509", url, "NULL", "NULL")),
        ("none with an index", source("none", "NULL", "0", "NULL")),
        (
            "an unknown key",
            "INSERT INTO key_status_sources (key_id, kind, set_at, set_by) \
             VALUES ('key_x', 'none', 0, 'op')"
                .to_owned(),
        ),
        (
            "an unknown status",
            format!(
                "INSERT INTO key_statuses (key_id, status, checked_at) VALUES ('{a}', 'ok', 0)"
            ),
        ),
        (
            "a status of an unknown key",
            "INSERT INTO key_statuses (key_id, status, checked_at) VALUES ('key_x', 'valid', 0)"
                .to_owned(),
        ),
        (
            "a text time",
            format!(
                "INSERT INTO key_statuses (key_id, status, checked_at) \
                 VALUES ('{a}', 'valid', 'now')"
            ),
        ),
    ];
    for (what, sql) in refused {
        assert!(
            db.try_exec(sql).await.is_err(),
            "the schema accepted {what}"
        );
    }
    // The same rows, complete, are accepted: the refusals above are the CHECKs', not a typo's.
    db.exec(source("bitstring", url, "1", "'revocation'")).await;
    db.exec(format!(
        "DELETE FROM key_status_sources WHERE key_id = '{a}'"
    ))
    .await;
    db.exec(source("token", url, "0", "NULL")).await;
    db.exec(format!(
        "DELETE FROM key_status_sources WHERE key_id = '{a}'"
    ))
    .await;
    db.exec(source("x509", "NULL", "NULL", "NULL")).await;
    db.exec(format!(
        "INSERT INTO key_statuses (key_id, status, checked_at) VALUES ('{a}', 'suspended', 0)"
    ))
    .await;
    assert_eq!(
        db.query_i64("SELECT count(*) FROM key_status_sources")
            .await,
        1
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM key_statuses").await, 1);
}

async fn undecodable_rows_are_corrupt(db: Ctx) {
    let store = db.connect().await;
    let a = key(&*store, T0).await;
    store.set_status_source(&bitstring(&a, 1)).await.unwrap();
    store
        .record_key_status(&status(&a, KeyStatusValue::Valid, T0))
        .await
        .unwrap();
    // What a newer version might write: names this one does not know, a negative index. The
    // CHECKs would refuse them, so they are set aside for the occasion.
    let unchecked = |table: &str, update: String| match db.engine {
        Engine::Postgres => format!(
            "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_kind_check; \
             ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_fields_check; \
             ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_idx_check; \
             ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_status_check; {update}"
        ),
        _ => format!("PRAGMA ignore_check_constraints = ON; {update}"),
    };
    db.exec(unchecked(
        "key_statuses",
        format!("UPDATE key_statuses SET status = 'quarantined' WHERE key_id = '{a}'"),
    ))
    .await;
    match store.get_key_status(&a).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("status"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }

    db.exec(unchecked(
        "key_status_sources",
        format!("UPDATE key_status_sources SET kind = 'did' WHERE key_id = '{a}'"),
    ))
    .await;
    match store.get_status_source(&a).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("kind"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let listed = store.active_status_sources().await;
    assert!(matches!(listed, Err(StoreError::Corrupt(_))), "{listed:?}");

    db.exec(unchecked(
        "key_status_sources",
        format!("UPDATE key_status_sources SET kind = 'token', idx = -4 WHERE key_id = '{a}'"),
    ))
    .await;
    match store.get_status_source(&a).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("idx"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
