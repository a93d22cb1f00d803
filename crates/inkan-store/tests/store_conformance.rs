//! The store conformance suite: every case is written once against `Arc<dyn Store>` and runs on
//! every engine, which must all behave the same (DESIGN.md, "Storage"):
//!
//! - `sqlite::<case>`: SQLite in a temporary file;
//! - `sqlite_memory::<case>`: SQLite `sqlite::memory:` (not the cases that reopen a database);
//! - `postgres::<case>`: PostgreSQL at `INKAN_TEST_POSTGRES_URL` (default
//!   `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`), each test in a fresh schema of its
//!   own (`CREATE SCHEMA t_<random>`, reached with `options[search_path]=` in the URL), dropped
//!   at the end. No PostgreSQL is a failure, never a skip: `bash .ci/run` starts it.

#![allow(clippy::unwrap_used)]

use inkan_device::{Algorithm, DeviceKind, KeyHandle, KeySpec};
use inkan_log::Hash;
use inkan_log::hash::{empty_root, leaf_hash, node_hash};
use inkan_log::tree::{inclusion_proof, inclusion_proof_indexes, stored_hash_index};
use inkan_store::Environment;
use inkan_store::SqlStore;
use inkan_store::log::{MAX_CHECKPOINTS_PAGE, MAX_ENTRIES_PAGE};
use inkan_store::{
    KeyFilter, KeyId, KeyOrigin, KeyRecord, KeyState, LogHead, StateChange, Store, StoreError,
};
use std::collections::HashMap;
use std::sync::Arc;

mod common;

use common::{Ctx, Engine, run, with_param};

/// Runs each case on every engine as `<engine>::<case>`; `reopening` cases need a database that
/// outlives a connection (not `sqlite::memory:`); `postgres_only` cases run on PostgreSQL alone.
macro_rules! conformance {
    (
        every_engine: [$($case:ident),* $(,)?],
        reopening: [$($reopen:ident),* $(,)?],
        postgres_only: [$($pg:ident),* $(,)?] $(,)?
    ) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::SqliteFile, super::$case).await }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $reopen() { super::run(super::Engine::SqliteFile, super::$reopen).await }
            )*
        }
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::SqliteMemory, super::$case).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::Postgres, super::$case).await }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $reopen() { super::run(super::Engine::Postgres, super::$reopen).await }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $pg() { super::run(super::Engine::Postgres, super::$pg).await }
            )*
        }
    };
}

conformance!(
    every_engine: [
        insert_and_get,
        duplicates_conflict,
        list_with_each_filter,
        state_transitions,
        state_change_conflicts_and_not_found,
        a_change_bound_to_a_reason_undoes_only_its_own,
        certificate_chain_set_replace_refuse,
        concurrent_state_changes_one_wins,
        concurrent_inserts_one_wins,
        log_starts_empty,
        log_append_and_read,
        log_large_batch,
        log_hashes_missing_are_not_found,
        log_checkpoints_one_per_size_never_back,
        log_concurrent_appends_serialize,
        log_batch_writes_index_rows_and_reads_keys,
        cache_epoch_moves_with_every_key_change,
        a_lease_has_one_holder_at_a_time,
        nodes_taking_at_once_share_one_window,
    ],
    reopening: [
        migrations_are_idempotent,
        concurrent_first_connects_migrate_once,
        newer_schema_is_refused,
        unknown_stored_names_are_corrupt,
        log_two_nodes_append_one_log,
        log_survives_reopen,
        log_tables_are_append_only,
        probe_writes_touch_nothing_else,
    ],
    postgres_only: [tls_require_encrypts_the_session],
);

// ---------------------------------------------------------------------------------------------
// Records

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/// A fresh active key, as the registry creates one; every call a new id and handle.
fn new_key(owner: &str, created_at: i64) -> KeyRecord {
    KeyRecord {
        id: KeyId::random(),
        owner: owner.to_owned(),
        label: "issuer signing key".to_owned(),
        algorithm: Algorithm::Es256,
        spec: KeySpec::P256,
        device: DeviceKind::Soft,
        handle: KeyHandle::new(format!("soft-{}", uuid::Uuid::new_v4().simple())),
        public_key_spki: spki(91, 1),
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

/// Binary bytes shaped like DER, every byte value present (NUL and 0xff included).
fn spki(len: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0x30, 0x00, 0xff, 0x00];
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(seed)));
    v.extend(0..=255u8);
    v
}

/// A chain of `n` distinct binary "certificates" of different lengths, leaf first.
fn chain(n: usize, seed: u8) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| spki(300 + 211 * i, seed.wrapping_add(i as u8)))
        .collect()
}

fn change(from: &[KeyState], to: KeyState, reason: &str, at: i64) -> StateChange {
    StateChange {
        from: from.to_vec(),
        to,
        reason: reason.to_owned(),
        at,
        only_if_reason: None,
    }
}

fn ids(keys: &[KeyRecord]) -> Vec<KeyId> {
    keys.iter().map(|k| k.id.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// Cases

async fn insert_and_get(db: Ctx) {
    let store = db.connect().await;

    // Every field set, none at its default: a 3-certificate chain, binary SPKI, a state with
    // reason and time, and text that is not ASCII.
    let full = KeyRecord {
        id: KeyId::random(),
        owner: "org:example-issuer".to_owned(),
        label: "Clé d'émission 印鑑 \"quoted\" 'single'".to_owned(),
        algorithm: Algorithm::Es384,
        spec: KeySpec::P384,
        device: DeviceKind::Pkcs11,
        handle: KeyHandle::new("0a1b2c3d4e5f"),
        public_key_spki: spki(120, 7),
        certificate_chain: chain(3, 11),
        origin: KeyOrigin::Imported,
        environment: Environment::Staging,
        state: KeyState::Disabled,
        state_reason: Some("suspended: audit ✓".to_owned()),
        state_changed_at: Some(T0 + 5_000),
        created_at: T0,
        updated_at: T0 + 6_000,
    };
    let fresh = new_key("org:other", T0 + 1);
    store.insert_key(&full).await.unwrap();
    store.insert_key(&fresh).await.unwrap();
    assert_eq!(store.get_key(&full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(store.get_key(&fresh.id).await.unwrap(), Some(fresh.clone()));

    // Every stored name of every enum survives the round trip.
    let specs = [
        KeySpec::P256,
        KeySpec::P384,
        KeySpec::Ed25519,
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::Rsa4096,
    ];
    let envs = [
        Environment::Production,
        Environment::Staging,
        Environment::Test,
    ];
    let states = [KeyState::Active, KeyState::Disabled, KeyState::Destroyed];
    for (i, spec) in specs.into_iter().enumerate() {
        let mut key = new_key("org:names", T0 + 10 + i as i64);
        key.spec = spec;
        key.algorithm = Algorithm::ALL[i % Algorithm::ALL.len()];
        key.device = if i % 2 == 0 {
            DeviceKind::Soft
        } else {
            DeviceKind::Pkcs11
        };
        key.origin = if i % 2 == 0 {
            KeyOrigin::Imported
        } else {
            KeyOrigin::Generated
        };
        key.environment = envs[i % envs.len()];
        key.state = states[i % states.len()];
        key.certificate_chain = chain(i % 3, i as u8);
        store.insert_key(&key).await.unwrap();
        assert_eq!(store.get_key(&key.id).await.unwrap(), Some(key));
    }

    assert_eq!(store.get_key(&KeyId::random()).await.unwrap(), None);
}

async fn duplicates_conflict(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("org:a", T0);
    store.insert_key(&key).await.unwrap();

    // The same id again, even with another handle and a chain: refused, nothing changed.
    let mut same_id = new_key("org:b", T0 + 1);
    same_id.id = key.id.clone();
    same_id.certificate_chain = chain(2, 3);
    let err = store.insert_key(&same_id).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(key.clone()));

    // The same handle on the same device under a new id: refused, nothing written.
    let mut same_handle = new_key("org:b", T0 + 2);
    same_handle.handle = key.handle.clone();
    same_handle.certificate_chain = chain(1, 4);
    let err = store.insert_key(&same_handle).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_key(&same_handle.id).await.unwrap(), None);

    // The same handle on another device is another key.
    same_handle.device = DeviceKind::Pkcs11;
    store.insert_key(&same_handle).await.unwrap();
    assert_eq!(
        store.get_key(&same_handle.id).await.unwrap(),
        Some(same_handle)
    );
    assert_eq!(
        store.list_keys(&KeyFilter::default()).await.unwrap().len(),
        2
    );
}

async fn list_with_each_filter(db: Ctx) {
    let store = db.connect().await;
    let a = new_key("alice", T0 + 100);
    let mut b = new_key("bob", T0 + 200);
    b.environment = Environment::Production;
    b.certificate_chain = chain(3, 9);
    let mut c = new_key("alice", T0 + 300);
    c.environment = Environment::Staging;
    c.state = KeyState::Disabled;
    c.state_reason = Some("suspended".into());
    c.state_changed_at = Some(T0 + 310);
    let mut d = new_key("alice", T0 + 50);
    d.state = KeyState::Destroyed;
    d.certificate_chain = chain(1, 5);
    // Inserted out of order: listing is oldest first, not insertion order.
    for key in [&c, &a, &d, &b] {
        store.insert_key(key).await.unwrap();
    }

    let list = |filter: KeyFilter| {
        let store = store.clone();
        async move { store.list_keys(&filter).await.unwrap() }
    };
    let all = list(KeyFilter::default()).await;
    assert_eq!(
        all,
        vec![d.clone(), a.clone(), b.clone(), c.clone()],
        "every field, chains included"
    );

    let owner = |o: &str| KeyFilter {
        owner: Some(o.to_owned()),
        ..KeyFilter::default()
    };
    assert_eq!(
        ids(&list(owner("alice")).await),
        ids(&[d.clone(), a.clone(), c.clone()])
    );
    assert_eq!(ids(&list(owner("bob")).await), ids(&[b.clone()]));
    assert!(list(owner("nobody")).await.is_empty());

    let state = |s| KeyFilter {
        state: Some(s),
        ..KeyFilter::default()
    };
    assert_eq!(
        ids(&list(state(KeyState::Active)).await),
        ids(&[a.clone(), b.clone()])
    );
    assert_eq!(
        ids(&list(state(KeyState::Disabled)).await),
        ids(&[c.clone()])
    );
    assert_eq!(list(state(KeyState::Destroyed)).await, vec![d.clone()]);

    let env = |e| KeyFilter {
        environment: Some(e),
        ..KeyFilter::default()
    };
    assert_eq!(
        ids(&list(env(Environment::Test)).await),
        ids(&[d.clone(), a.clone()])
    );
    assert_eq!(list(env(Environment::Production)).await, vec![b.clone()]);
    assert_eq!(
        ids(&list(env(Environment::Staging)).await),
        ids(&[c.clone()])
    );

    let combined = KeyFilter {
        owner: Some("alice".into()),
        state: Some(KeyState::Active),
        environment: Some(Environment::Test),
    };
    assert_eq!(list(combined).await, vec![a.clone()]);
    let none = KeyFilter {
        owner: Some("bob".into()),
        state: Some(KeyState::Disabled),
        environment: None,
    };
    assert!(list(none).await.is_empty());
}

async fn state_transitions(db: Ctx) {
    let store = db.connect().await;
    let mut key = new_key("org:a", T0);
    key.certificate_chain = chain(2, 1);
    store.insert_key(&key).await.unwrap();

    let disabled = store
        .change_key_state(
            &key.id,
            &change(
                &[KeyState::Active],
                KeyState::Disabled,
                "suspended by operator",
                T0 + 1_000,
            ),
        )
        .await
        .unwrap();
    let mut expected = key.clone();
    expected.state = KeyState::Disabled;
    expected.state_reason = Some("suspended by operator".into());
    expected.state_changed_at = Some(T0 + 1_000);
    expected.updated_at = T0 + 1_000;
    assert_eq!(disabled, expected);
    assert_eq!(
        store.get_key(&key.id).await.unwrap(),
        Some(expected.clone())
    );

    let destroyed = store
        .change_key_state(
            &key.id,
            &change(
                &[KeyState::Active, KeyState::Disabled],
                KeyState::Destroyed,
                "retired",
                T0 + 2_000,
            ),
        )
        .await
        .unwrap();
    expected.state = KeyState::Destroyed;
    expected.state_reason = Some("retired".into());
    expected.state_changed_at = Some(T0 + 2_000);
    expected.updated_at = T0 + 2_000;
    assert_eq!(destroyed, expected);
    assert_eq!(
        store.get_key(&key.id).await.unwrap(),
        Some(expected.clone())
    );

    // The registry never lists `destroyed` in `from`, so nothing brings the key back.
    let err = store
        .change_key_state(
            &key.id,
            &change(
                &[KeyState::Active, KeyState::Disabled],
                KeyState::Active,
                "revive",
                T0 + 3_000,
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(expected));
}

/// Issue 14 (criteria 2.2.2(3)): a failed renewal re-opens its key only while the key is
/// still closed for that renewal; a destruction that took it over since stands.
async fn a_change_bound_to_a_reason_undoes_only_its_own(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("org:a", T0);
    store.insert_key(&key).await.unwrap();
    let renewing = change(&[KeyState::Active], KeyState::Disabled, "renewing", T0 + 1);
    store.change_key_state(&key.id, &renewing).await.unwrap();
    let undo = StateChange {
        only_if_reason: Some("renewing".into()),
        ..change(
            &[KeyState::Disabled],
            KeyState::Active,
            "renewal failed",
            T0 + 3,
        )
    };
    // A destruction takes the closed key over: the renewal's undo is refused.
    let destroying = change(
        &[KeyState::Active, KeyState::Disabled],
        KeyState::Disabled,
        "destruction in progress",
        T0 + 2,
    );
    store.change_key_state(&key.id, &destroying).await.unwrap();
    let err = store.change_key_state(&key.id, &undo).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let now = store.get_key(&key.id).await.unwrap().unwrap();
    assert_eq!(now.state, KeyState::Disabled);
    // Still closed for the renewal: undone.
    let other = new_key("org:b", T0);
    store.insert_key(&other).await.unwrap();
    store.change_key_state(&other.id, &renewing).await.unwrap();
    let reopened = store.change_key_state(&other.id, &undo).await.unwrap();
    assert_eq!(reopened.state, KeyState::Active);
}

async fn state_change_conflicts_and_not_found(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("org:a", T0);
    store.insert_key(&key).await.unwrap();

    for from in [
        &[KeyState::Disabled][..],
        &[KeyState::Destroyed, KeyState::Disabled],
        &[],
    ] {
        let err = store
            .change_key_state(
                &key.id,
                &change(from, KeyState::Destroyed, "wrong from", T0 + 1),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict(m) if m.contains("active")),
            "{from:?}: {err:?}"
        );
    }
    assert_eq!(
        store.get_key(&key.id).await.unwrap(),
        Some(key),
        "a refused change changes nothing"
    );

    let err = store
        .change_key_state(
            &KeyId::random(),
            &change(&[KeyState::Active], KeyState::Disabled, "x", T0),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

async fn certificate_chain_set_replace_refuse(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("org:a", T0);
    store.insert_key(&key).await.unwrap();

    let three = chain(3, 20);
    let set = store
        .set_certificate_chain(&key.id, &three, T0 + 500)
        .await
        .unwrap();
    let mut expected = key.clone();
    expected.certificate_chain = three;
    expected.updated_at = T0 + 500;
    assert_eq!(set, expected);
    assert_eq!(
        store.get_key(&key.id).await.unwrap(),
        Some(expected.clone())
    );

    // A new chain replaces the old one whole, shorter or not.
    let one = chain(1, 40);
    let replaced = store
        .set_certificate_chain(&key.id, &one, T0 + 600)
        .await
        .unwrap();
    expected.certificate_chain = one;
    expected.updated_at = T0 + 600;
    assert_eq!(replaced, expected);
    assert_eq!(
        store.get_key(&key.id).await.unwrap(),
        Some(expected.clone())
    );

    // Not on a key that is not active; the chain it had stays.
    let disabled = store
        .change_key_state(
            &key.id,
            &change(
                &[KeyState::Active],
                KeyState::Disabled,
                "suspended",
                T0 + 700,
            ),
        )
        .await
        .unwrap();
    assert_eq!(disabled.certificate_chain, expected.certificate_chain);
    let err = store
        .set_certificate_chain(&key.id, &chain(2, 60), T0 + 800)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.get_key(&key.id).await.unwrap(), Some(disabled));

    let err = store
        .set_certificate_chain(&KeyId::random(), &chain(1, 1), T0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

async fn concurrent_state_changes_one_wins(db: Ctx) {
    const TASKS: usize = 24;
    let store = db.connect().await;
    let mut key = new_key("org:a", T0);
    key.certificate_chain = chain(2, 2);
    store.insert_key(&key).await.unwrap();

    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (store, id, barrier) = (store.clone(), key.id.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let to = if i % 2 == 0 {
                    KeyState::Disabled
                } else {
                    KeyState::Destroyed
                };
                store
                    .change_key_state(
                        &id,
                        &change(&[KeyState::Active], to, &format!("task {i}"), T0 + i as i64),
                    )
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(record) => winners.push(record),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a loser must see Conflict, not {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one change wins");
    let stored = store.get_key(&key.id).await.unwrap().unwrap();
    assert_eq!(stored, winners[0]);
    assert_eq!(stored.certificate_chain, key.certificate_chain);
}

async fn concurrent_inserts_one_wins(db: Ctx) {
    const TASKS: usize = 16;
    let store = db.connect().await;
    let key = new_key("org:a", T0);
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let mut key = key.clone();
            key.label = format!("task {i}");
            key.certificate_chain = chain(1 + i % 3, i as u8);
            tokio::spawn(async move {
                barrier.wait().await;
                store.insert_key(&key).await.map(|()| key)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(key) => winners.push(key),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a loser must see Conflict, not {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one insert wins");
    assert_eq!(
        store.get_key(&key.id).await.unwrap(),
        Some(winners.remove(0)),
        "and only its chain is stored"
    );
}

async fn migrations_are_idempotent(db: Ctx) {
    let first = db.connect().await;
    let mut key = new_key("org:a", T0);
    key.certificate_chain = chain(3, 3);
    first.insert_key(&key).await.unwrap();
    let migrations = db.query_i64("SELECT count(*) FROM schema_migrations").await;
    assert!(migrations >= 1);
    if let Some(dir) = &db.dir {
        // WAL journal: the write-ahead log sits next to the database while it is open.
        assert!(
            dir.path().join("inkan.db-wal").exists(),
            "the SQLite file is not in WAL mode"
        );
    }

    // Reopening (while the first store is still open, and again after) migrates nothing and
    // keeps every record.
    let second = db.connect().await;
    assert_eq!(second.get_key(&key.id).await.unwrap(), Some(key.clone()));
    drop((first, second));
    let third = db.connect().await;
    assert_eq!(third.get_key(&key.id).await.unwrap(), Some(key));
    assert_eq!(
        db.query_i64("SELECT count(*) FROM schema_migrations").await,
        migrations
    );
}

async fn concurrent_first_connects_migrate_once(db: Ctx) {
    // Several nodes starting at once on an empty database.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.try_connect().await })
        })
        .collect();
    let mut stores = Vec::new();
    for task in tasks {
        stores.push(
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("concurrent connect: {e}")),
        );
    }
    let versions = db.query_i64("SELECT count(*) FROM schema_migrations").await;
    let distinct = db
        .query_i64("SELECT count(DISTINCT version) FROM schema_migrations")
        .await;
    assert!(versions >= 1);
    assert_eq!(versions, distinct);
    let key = new_key("org:a", T0);
    stores[0].insert_key(&key).await.unwrap();
    assert_eq!(stores[3].get_key(&key.id).await.unwrap(), Some(key));
}

async fn newer_schema_is_refused(db: Ctx) {
    drop(db.connect().await);
    db.exec(
        "INSERT INTO schema_migrations (version, name, applied_at) \
         VALUES (999999, 'from_a_newer_inkan', 0)"
            .to_owned(),
    )
    .await;
    match db.try_connect().await {
        Err(StoreError::Corrupt(message)) => assert!(message.contains("999999"), "{message}"),
        Err(other) => panic!("expected Corrupt, got {other:?}"),
        Ok(_) => panic!("a database migrated by a newer Inkan was accepted"),
    }
}

async fn unknown_stored_names_are_corrupt(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("org:a", T0);
    store.insert_key(&key).await.unwrap();
    // No CHECK on algorithm (a new one must not need a migration): the read refuses it instead.
    db.exec(format!(
        "UPDATE keys SET algorithm = 'ES999' WHERE id = '{}'",
        key.id
    ))
    .await;
    let err = store.get_key(&key.id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("ES999")),
        "{err:?}"
    );
    let err = store.list_keys(&KeyFilter::default()).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

async fn tls_require_encrypts_the_session(db: Ctx) {
    // The Debian cluster runs with ssl=on (snakeoil certificate): `require` encrypts without
    // verifying, and the server must see the session as TLS.
    let url = with_param(&db.url, "sslmode=require");
    let tls = SqlStore::connect(&url).await.unwrap_or_else(|e| {
        panic!("sslmode=require: {e} (is ssl=on? `bash .ci/run` sets the cluster up)")
    });
    assert!(
        tls.session_encrypted().await.unwrap(),
        "sslmode=require gave an unencrypted session"
    );
    let key = new_key("org:tls", T0);
    tls.insert_key(&key).await.unwrap();
    assert_eq!(tls.get_key(&key.id).await.unwrap(), Some(key));

    // And the check can tell the difference.
    let plain = SqlStore::connect(&with_param(&db.url, "sslmode=disable"))
        .await
        .unwrap();
    assert!(!plain.session_encrypted().await.unwrap());
}

// ---------------------------------------------------------------------------------------------
// The transparency log

/// RFC 9162 §2.1.1 MTH, straight from the definition: the reference the store's incremental
/// tree must agree with.
fn reference_root(entries: &[Vec<u8>]) -> Hash {
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                // The largest power of two smaller than n.
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
    mth(&leaves)
}

/// Distinct binary entries: `n` of them, numbered from `start`, every byte value present in
/// some, lengths varying (the empty entry included).
fn log_entries(start: usize, n: usize) -> Vec<Vec<u8>> {
    (start..start + n)
        .map(|i| {
            let mut e = (i as u64).to_be_bytes().to_vec();
            e.extend((0..(i * 7) % 300).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8)));
            if i % 97 == 5 {
                e.clear();
            }
            e
        })
        .collect()
}

/// Every entry of the log, read back page by page.
async fn read_all(store: &dyn Store) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    loop {
        let page = store.log_entries(all.len() as u64, 1_000).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Checks the stored tree against `expected`: head, entries, leaf hashes, and an inclusion
/// proof of a few leaves built from the stored hashes.
async fn check_log(store: &dyn Store, expected: &[Vec<u8>]) {
    let size = expected.len() as u64;
    let root = reference_root(expected);
    assert_eq!(store.log_head().await.unwrap(), LogHead { size, root });
    assert_eq!(store.log_size().await.unwrap(), size);
    assert_eq!(read_all(store).await, expected);
    if size == 0 {
        return;
    }
    let leaf_indexes: Vec<u64> = (0..size).map(|i| stored_hash_index(0, i)).collect();
    let leaves = store.log_hashes(&leaf_indexes).await.unwrap();
    for (leaf, entry) in leaves.iter().zip(expected) {
        assert_eq!(*leaf, leaf_hash(entry));
    }
    for index in [0, size / 3, size / 2, size - 1] {
        let wanted = inclusion_proof_indexes(size, index).unwrap();
        let hashes = store.log_hashes(&wanted).await.unwrap();
        let map: HashMap<u64, Hash> = wanted.into_iter().zip(hashes).collect();
        let proof = inclusion_proof(size, index, &map).unwrap();
        inkan_log::tree::verify_inclusion(
            &leaf_hash(&expected[index as usize]),
            index,
            size,
            &proof,
            &root,
        )
        .unwrap();
    }
}

async fn log_starts_empty(db: Ctx) {
    let store = db.connect().await;
    let head = store.log_head().await.unwrap();
    assert_eq!(
        head,
        LogHead {
            size: 0,
            root: empty_root()
        }
    );
    assert!(store.log_entries(0, 10).await.unwrap().is_empty());
    assert!(store.log_hashes(&[]).await.unwrap().is_empty());
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    assert!(store.checkpoints(0, 10).await.unwrap().is_empty());
    // Appending nothing writes nothing.
    let appended = store.append_log_entries(&[]).await.unwrap();
    assert_eq!((appended.first_index, appended.head), (0, head));
}

async fn log_append_and_read(db: Ctx) {
    let store = db.connect().await;
    let mut expected = Vec::new();
    // Batches of many shapes: single entries, odd and power-of-two lengths, at odd offsets.
    for n in [1, 1, 2, 3, 5, 8, 13, 1, 16, 31, 64, 2, 100] {
        let batch = log_entries(expected.len(), n);
        let appended = store.append_log_entries(&batch).await.unwrap();
        assert_eq!(appended.first_index, expected.len() as u64);
        expected.extend(batch);
        assert_eq!(
            appended.head,
            LogHead {
                size: expected.len() as u64,
                root: reference_root(&expected)
            }
        );
    }
    check_log(&*store, &expected).await;

    // Pages: from the middle, past the end, and clamped to the page limit.
    assert_eq!(
        store.log_entries(10, 5).await.unwrap(),
        expected[10..15].to_vec()
    );
    let n = expected.len() as u64;
    assert_eq!(store.log_entries(n - 2, 10).await.unwrap().len(), 2);
    assert!(store.log_entries(n, 10).await.unwrap().is_empty());
    assert!(store.log_entries(n + 100, 10).await.unwrap().is_empty());
    assert!(store.log_entries(0, 0).await.unwrap().is_empty());
    assert_eq!(
        store.log_entries(0, u32::MAX).await.unwrap().len() as u64,
        n.min(u64::from(MAX_ENTRIES_PAGE))
    );
    // Hashes come back in the order asked, repeats included.
    let asked = [5, 0, 5, 3];
    let hashes = store.log_hashes(&asked).await.unwrap();
    assert_eq!(hashes[0], hashes[2]);
    assert_eq!(hashes[1], leaf_hash(&expected[0]));
}

/// Signs a batch's checkpoint as `size root-hex` (the store does not read notes), or fails;
/// counts what it was asked to sign.
#[derive(Debug, Default)]
struct NoteOfRoot {
    fails: bool,
    asked: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl inkan_store::CheckpointSigner for NoteOfRoot {
    async fn sign(&self, size: u64, root: inkan_log::Hash) -> Result<(String, i64), String> {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.fails {
            return Err("the log key is unreachable".into());
        }
        Ok((format!("{size} {}", hex::encode(root)), T0 + 5))
    }
}

/// Issue 17: one group commit writes the entries, the index rows of its `signature.made`
/// entries (their log index from their position), the checkpoint of the tree it makes (signed
/// with the root it computed) and reads the keys' committed state, in one transaction; a row
/// naming a position outside the batch writes nothing at all; a checkpoint that cannot be
/// signed leaves the batch without one; a batch that fails part-way (an index row for an
/// unknown key) writes nothing, and what it had signed is not stored.
async fn log_batch_writes_index_rows_and_reads_keys(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("sub_batch", T0);
    store.insert_key(&key).await.unwrap();
    let gone = KeyId::random();
    store.append_log_entries(&log_entries(0, 3)).await.unwrap();
    let record = |digest: &str| inkan_store::SignatureRecord {
        digest: digest.into(),
        key_id: key.id.to_string(),
        subscriber: key.owner.clone(),
        document_type: "vc+jwt".into(),
        log_index: 0,
        created_at: T0,
        status_entries: Vec::new(),
    };

    let refused = inkan_store::LogBatch {
        entries: log_entries(3, 2),
        signatures: vec![(2, record("sha-256:00"))],
        keys: vec![],
        checkpoint: Some(std::sync::Arc::new(NoteOfRoot::default())),
    };
    assert!(matches!(
        store.append_log_batch(&refused).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.log_size().await.unwrap(), 3);

    let batch = inkan_store::LogBatch {
        entries: log_entries(3, 4),
        signatures: vec![
            (1, record("sha-256:aa")),
            (3, record("sha-256:bb")),
            (3, record("sha-256:cc")),
        ],
        keys: vec![key.id.clone(), gone.clone()],
        checkpoint: Some(std::sync::Arc::new(NoteOfRoot::default())),
    };
    let committed = store.append_log_batch(&batch).await.unwrap();
    assert_eq!(committed.appended.first_index, 3);
    assert_eq!(committed.appended.head.size, 7);
    let checkpoint = inkan_store::StoredCheckpoint {
        size: 7,
        note: format!("7 {}", hex::encode(committed.appended.head.root)),
        created_at: T0 + 5,
    };
    assert_eq!(committed.checkpoint.as_ref(), Some(&checkpoint));
    assert_eq!(store.latest_checkpoint().await.unwrap(), Some(checkpoint));
    assert_eq!(
        committed.keys.get(&key.id),
        Some(&(KeyState::Active, key.handle.as_str().to_owned()))
    );
    assert!(!committed.keys.contains_key(&gone));
    // The hashes it returns are the ones stored, from the first new stored index on.
    let first = inkan_log::tree::stored_hash_count(3);
    let indexes: Vec<u64> = (first..first + committed.hashes.len() as u64).collect();
    assert_eq!(store.log_hashes(&indexes).await.unwrap(), committed.hashes);
    let found = |digest: &'static str| {
        let store = store.clone();
        let owner = key.owner.clone();
        async move { store.signatures_by_digest(&owner, digest).await.unwrap() }
    };
    assert_eq!(found("sha-256:aa").await[0].log_index, 4);
    assert_eq!(found("sha-256:bb").await[0].log_index, 6);
    assert_eq!(found("sha-256:cc").await[0].log_index, 6);
    assert!(found("sha-256:00").await.is_empty());
    let unsigned = inkan_store::LogBatch {
        entries: log_entries(7, 1),
        checkpoint: Some(std::sync::Arc::new(NoteOfRoot {
            fails: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    let committed = store.append_log_batch(&unsigned).await.unwrap();
    assert_eq!(committed.appended.head.size, 8);
    assert_eq!(committed.checkpoint, None);
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, 7);
    let signer = std::sync::Arc::new(NoteOfRoot::default());
    let failing = inkan_store::LogBatch {
        entries: log_entries(8, 2),
        signatures: vec![(
            1,
            inkan_store::SignatureRecord {
                key_id: KeyId::random().to_string(),
                ..record("sha-256:dd")
            },
        )],
        checkpoint: Some(signer.clone()),
        ..Default::default()
    };
    assert!(store.append_log_batch(&failing).await.is_err());
    // The tree is signed inside the transaction, before its writes: what was signed for the
    // failed batch went with it.
    assert_eq!(signer.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(store.log_size().await.unwrap(), 8);
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, 7);
    assert!(found("sha-256:dd").await.is_empty());
    let mut expected = log_entries(0, 3);
    expected.extend(log_entries(3, 5));
    check_log(&*store, &expected).await;
}

/// Issue 17: every change of a key, its certificates or its status source moves the cache
/// epoch (by trigger, whatever the code path: here a plain SQL statement too), a new key does
/// not, and a log batch reports the epoch as of its transaction.
async fn cache_epoch_moves_with_every_key_change(db: Ctx) {
    let store = db.connect().await;
    let mut last = store.cache_epoch().await.unwrap();
    let key = new_key("org:epoch", T0);
    store.insert_key(&key).await.unwrap();
    assert_eq!(store.cache_epoch().await.unwrap(), last);
    let mut moved = |what: &str, now: u64| {
        assert!(
            now > last,
            "{what} did not move the epoch ({last} -> {now})"
        );
        last = now;
    };
    store
        .set_certificate_chain(&key.id, &chain(2, 7), T0 + 1)
        .await
        .unwrap();
    moved("a certificate chain", store.cache_epoch().await.unwrap());
    let source = inkan_store::status::StatusSourceRecord {
        key_id: key.id.to_string(),
        kind: inkan_store::status::StatusSourceKind::Token,
        url: Some("https://status.example.org/lists/1".into()),
        index: Some(3),
        purpose: None,
        set_at: T0 + 2,
        set_by: "acc_operator".into(),
    };
    store.set_status_source(&source).await.unwrap();
    moved("a new status source", store.cache_epoch().await.unwrap());
    let source = inkan_store::status::StatusSourceRecord {
        index: Some(4),
        ..source
    };
    store.set_status_source(&source).await.unwrap();
    moved(
        "a changed status source",
        store.cache_epoch().await.unwrap(),
    );
    store
        .change_key_state(
            &key.id,
            &change(&[KeyState::Active], KeyState::Disabled, "suspended", T0 + 3),
        )
        .await
        .unwrap();
    moved("a state change", store.cache_epoch().await.unwrap());
    if db.engine != Engine::SqliteMemory {
        db.exec("DELETE FROM key_status_sources").await;
        moved(
            "a source deleted by hand",
            store.cache_epoch().await.unwrap(),
        );
    }
    let batch = inkan_store::LogBatch {
        entries: log_entries(0, 1),
        ..Default::default()
    };
    let committed = store.append_log_batch(&batch).await.unwrap();
    assert_eq!(committed.epoch, Some(last));
    let empty = store
        .append_log_batch(&inkan_store::LogBatch::default())
        .await
        .unwrap();
    assert_eq!(empty.epoch, None);
}

async fn log_large_batch(db: Ctx) {
    // Longer than one statement's chunk, and a page limit's worth of reads.
    let store = db.connect().await;
    let first = log_entries(0, 3);
    store.append_log_entries(&first).await.unwrap();
    let batch = log_entries(3, 2_500);
    let appended = store.append_log_entries(&batch).await.unwrap();
    assert_eq!(appended.first_index, 3);
    let mut expected = first;
    expected.extend(batch);
    check_log(&*store, &expected).await;
    // Reading many hashes at once (more than one statement's worth).
    let all: Vec<u64> = (0..inkan_log::tree::stored_hash_count(expected.len() as u64)).collect();
    assert_eq!(store.log_hashes(&all).await.unwrap().len(), all.len());
}

async fn log_hashes_missing_are_not_found(db: Ctx) {
    let store = db.connect().await;
    store.append_log_entries(&log_entries(0, 4)).await.unwrap();
    // Four leaves store 2 * 4 - 1 = 7 hashes: 0..=6.
    assert_eq!(store.log_hashes(&[6]).await.unwrap().len(), 1);
    let err = store.log_hashes(&[0, 7]).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::NotFound(m) if m.contains('7')),
        "{err:?}"
    );
}

async fn log_checkpoints_one_per_size_never_back(db: Ctx) {
    let store = db.connect().await;
    // The empty tree may be checkpointed; a size the log does not have may not.
    store.insert_checkpoint(0, "empty\n", T0).await.unwrap();
    let err = store.insert_checkpoint(1, "ahead\n", T0).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    store.append_log_entries(&log_entries(0, 5)).await.unwrap();
    let note = "inkan.test/log\n3\nroot=\n\n\u{2014} key sig\n";
    store.insert_checkpoint(3, note, T0 + 10).await.unwrap();
    // The same size again, or a smaller one: refused, the stored one unchanged.
    for (size, text) in [(3, "again\n"), (2, "older\n"), (0, "empty again\n")] {
        let err = store
            .insert_checkpoint(size, text, T0 + 20)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{size}: {err:?}");
    }
    let three = inkan_store::StoredCheckpoint {
        size: 3,
        note: note.to_owned(),
        created_at: T0 + 10,
    };
    assert_eq!(
        store.latest_checkpoint().await.unwrap(),
        Some(three.clone())
    );
    store.insert_checkpoint(5, "five\n", T0 + 30).await.unwrap();

    let all = store.checkpoints(0, 100).await.unwrap();
    let sizes: Vec<u64> = all.iter().map(|c| c.size).collect();
    assert_eq!(sizes, [0, 3, 5]);
    assert_eq!(all[1], three);
    assert_eq!(all[0].created_at, T0);
    let from_one: Vec<u64> = store
        .checkpoints(1, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(from_one, [3, 5]);
    assert_eq!(store.checkpoints(0, 2).await.unwrap().len(), 2);
    assert!(store.checkpoints(6, 10).await.unwrap().is_empty());
    assert_eq!(
        store.checkpoints(0, u32::MAX).await.unwrap().len() as u32,
        3.min(MAX_CHECKPOINTS_PAGE)
    );
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, 5);
}

/// `tasks` writers on `stores` (round robin), each appending `batches` batches of `batch`
/// entries tagged with its number; checks that every batch got its own contiguous range and
/// that the log is exactly the entries at the indexes they were given.
async fn concurrent_appends(stores: &[Arc<dyn Store>], tasks: usize, batches: usize, batch: usize) {
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let store = stores[t % stores.len()].clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut placed = Vec::new();
                for b in 0..batches {
                    let entries: Vec<Vec<u8>> = (0..batch)
                        .map(|i| format!("task {t} batch {b} entry {i}").into_bytes())
                        .collect();
                    let appended = store.append_log_entries(&entries).await.unwrap();
                    placed.push((appended.first_index, entries));
                }
                placed
            })
        })
        .collect();
    let total = (tasks * batches * batch) as u64;
    let mut by_index: Vec<Option<Vec<u8>>> = vec![None; total as usize];
    for handle in handles {
        for (first, entries) in handle.await.unwrap() {
            for (offset, entry) in entries.into_iter().enumerate() {
                let slot = &mut by_index[first as usize + offset];
                assert!(
                    slot.is_none(),
                    "index {} given twice",
                    first as usize + offset
                );
                *slot = Some(entry);
            }
        }
    }
    let expected: Vec<Vec<u8>> = by_index.into_iter().map(Option::unwrap).collect();
    for store in stores {
        check_log(&**store, &expected).await;
    }
}

async fn log_concurrent_appends_serialize(db: Ctx) {
    let store = db.connect().await;
    concurrent_appends(&[store], 16, 8, 3).await;
}

async fn log_two_nodes_append_one_log(db: Ctx) {
    // Two stores on one database, as two nodes: their appends take turns on the write lock.
    let nodes = [db.connect().await, db.connect().await];
    concurrent_appends(&nodes, 16, 8, 3).await;
}

async fn log_survives_reopen(db: Ctx) {
    let first = db.connect().await;
    let mut expected = log_entries(0, 37);
    first.append_log_entries(&expected).await.unwrap();
    first.insert_checkpoint(37, "37\n", T0).await.unwrap();
    drop(first);
    let second = db.connect().await;
    check_log(&*second, &expected).await;
    let more = log_entries(37, 6);
    let appended = second.append_log_entries(&more).await.unwrap();
    assert_eq!(appended.first_index, 37);
    expected.extend(more);
    check_log(&*second, &expected).await;
    assert_eq!(second.latest_checkpoint().await.unwrap().unwrap().size, 37);
}

async fn log_tables_are_append_only(db: Ctx) {
    let store = db.connect().await;
    let expected = log_entries(0, 9);
    store.append_log_entries(&expected).await.unwrap();
    store.insert_checkpoint(9, "nine\n", T0).await.unwrap();
    for sql in [
        "UPDATE log_entries SET entry = entry WHERE idx = 3",
        "DELETE FROM log_entries WHERE idx = 8",
        "UPDATE log_hashes SET hash = hash WHERE idx = 0",
        "DELETE FROM log_hashes",
        "UPDATE log_checkpoints SET note = 'forged' WHERE size = 9",
        "DELETE FROM log_checkpoints",
    ] {
        let err = db.try_exec(sql.to_owned()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if db.engine == Engine::Postgres {
        for table in ["log_entries", "log_hashes", "log_checkpoints"] {
            let err = db.try_exec(format!("TRUNCATE {table}")).await.unwrap_err();
            assert!(err.to_string().contains("append-only"), "{table}: {err}");
        }
    }
    check_log(&*store, &expected).await;
    assert_eq!(
        store.latest_checkpoint().await.unwrap().unwrap().note,
        "nine\n"
    );
}

/// Readiness's write probe (issue 20): each node's row is written again and again, and
/// nothing a signature or a cache depends on moves (the log, the cache epoch).
async fn probe_writes_touch_nothing_else(db: Ctx) {
    let store = db.connect().await;
    let (epoch, head) = (
        store.cache_epoch().await.unwrap(),
        store.log_head().await.unwrap(),
    );
    for at in [T0, T0 + 1_000, T0 + 2_000] {
        store.probe_write("node-a", at).await.unwrap();
        store.probe_write("node-b", at).await.unwrap();
    }
    assert_eq!(db.query_i64("SELECT count(*) FROM store_probes").await, 2);
    // Running nodes are those probed lately; a node that stops is forgotten at once.
    assert_eq!(
        store.nodes_probed_since(T0 + 2_000).await.unwrap(),
        ["node-a", "node-b"]
    );
    assert!(
        store
            .nodes_probed_since(T0 + 2_001)
            .await
            .unwrap()
            .is_empty()
    );
    store.probe_write("node-c", T0 + 2_000).await.unwrap();
    store.forget_node("node-c").await.unwrap();
    assert_eq!(store.nodes_probed_since(T0).await.unwrap().len(), 2);
    assert_eq!(
        db.query_i64("SELECT max(probed_at) FROM store_probes")
            .await,
        T0 + 2_000
    );
    // A week later, the node that stopped probing is forgotten; the other writes on.
    store
        .probe_write("node-b", T0 + 8 * 24 * 3_600_000)
        .await
        .unwrap();
    assert_eq!(db.query_i64("SELECT count(*) FROM store_probes").await, 1);
    assert_eq!(store.cache_epoch().await.unwrap(), epoch);
    assert_eq!(store.log_head().await.unwrap(), head);
}

/// Work one node of several must do alone (issue 20): of eight takers at once one gets the
/// lease; its holder may take it again; nobody else until it runs out or is given back.
async fn a_lease_has_one_holder_at_a_time(db: Ctx) {
    let store = db.connect().await;
    let mut takers = tokio::task::JoinSet::new();
    for n in 0..8 {
        let store = store.clone();
        takers.spawn(async move {
            let holder = format!("node-{n}");
            let taken = store
                .take_lease("start", &holder, T0, T0 + 60_000)
                .await
                .unwrap();
            (holder, taken)
        });
    }
    let mut winners = Vec::new();
    while let Some(taken) = takers.join_next().await {
        let (holder, taken) = taken.unwrap();
        if taken {
            winners.push(holder);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let holder = &winners[0];
    assert!(
        store
            .take_lease("start", holder, T0 + 1, T0 + 60_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_lease("start", "other", T0 + 59_999, T0 + 120_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .take_lease("another", "other", T0, T0 + 60_000)
            .await
            .unwrap()
    );
    // Given back (by its holder only), then anyone's.
    store.release_lease("start", "other").await.unwrap();
    assert!(
        !store
            .take_lease("start", "other", T0 + 2, T0 + 60_000)
            .await
            .unwrap()
    );
    store.release_lease("start", holder).await.unwrap();
    assert!(
        store
            .take_lease("start", "other", T0 + 3, T0 + 60_000)
            .await
            .unwrap()
    );
    // Run out: anyone's.
    assert!(
        store
            .take_lease("start", "third", T0 + 60_000, T0 + 120_000)
            .await
            .unwrap()
    );
}

/// Rates counted across nodes (issue 20; criteria 2.2.1(2), 2.2.3(2)B-1): sixteen takers at
/// once (as many nodes) get exactly the window's maximum between them; the window refuses
/// until it ends, then starts again; a unit given back is taken again; ended windows are
/// purged.
async fn nodes_taking_at_once_share_one_window(db: Ctx) {
    use inkan_store::WindowTake;
    let store = db.connect().await;
    let mut takers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let store = store.clone();
        takers.spawn(async move {
            store
                .take_from_window("standing:client:key", T0, 1, 10)
                .await
                .unwrap()
        });
    }
    let mut taken = 0;
    while let Some(take) = takers.join_next().await {
        match take.unwrap() {
            WindowTake::Taken => taken += 1,
            WindowTake::Full { ends_at } => assert_eq!(ends_at, T0 + 60_000),
        }
    }
    assert_eq!(taken, 10, "exactly the maximum, between all takers");
    // A batch that does not fit takes nothing; nor does one larger than the maximum.
    assert_eq!(
        store
            .take_from_window("standing:client:key", T0 + 59_999, 1, 10)
            .await
            .unwrap(),
        WindowTake::Full {
            ends_at: T0 + 60_000
        }
    );
    assert!(matches!(
        store.take_from_window("fresh", T0, 11, 10).await.unwrap(),
        WindowTake::Full { .. }
    ));
    // Given back in its window: one more fits, and no more.
    store
        .give_back_to_window("standing:client:key", T0 + 30_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .take_from_window("standing:client:key", T0 + 30_001, 1, 10)
            .await
            .unwrap(),
        WindowTake::Taken
    );
    assert!(matches!(
        store
            .take_from_window("standing:client:key", T0 + 30_002, 1, 10)
            .await
            .unwrap(),
        WindowTake::Full { .. }
    ));
    // Another slot is counted apart.
    assert_eq!(
        store
            .take_from_window("login:192.0.2.1", T0 + 30_000, 1, 10)
            .await
            .unwrap(),
        WindowTake::Taken
    );
    // The window ends: a new one starts at the next take, and a give-back after the end
    // touches nothing.
    store
        .give_back_to_window("standing:client:key", T0 + 60_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .take_from_window("standing:client:key", T0 + 60_000, 10, 10)
            .await
            .unwrap(),
        WindowTake::Taken
    );
    assert_eq!(
        store
            .take_from_window("standing:client:key", T0 + 60_001, 1, 10)
            .await
            .unwrap(),
        WindowTake::Full {
            ends_at: T0 + 120_000
        }
    );
    // Purged once ended: the login window (ended at T0 + 90 s), not the open one.
    assert_eq!(store.purge_windows(T0 + 100_000).await.unwrap(), 1);
    assert!(
        matches!(
            store
                .take_from_window("standing:client:key", T0 + 100_001, 1, 10)
                .await
                .unwrap(),
            WindowTake::Full { .. }
        ),
        "the open window was kept, full"
    );
}
