//! The status lists Inkan keeps for issuers (`StatusListStore`, issue 16): every case is
//! written once against `Arc<dyn Store>` and runs on every engine (`sqlite::<case>`,
//! `sqlite_memory::<case>`, `postgres::<case>`; see `status_store_conformance.rs`). No
//! PostgreSQL is a failure, never a skip: `bash .ci/run` starts it.
//!
//! What they hold the store to: an index is handed out once, whoever asks and however many ask
//! at once (two stores on one database stand for two nodes); an index outside the list is never
//! handed out; a final value never changes; an entry goes to one credential.

#![allow(clippy::unwrap_used)]

use inkan_store::{
    ListFormat, SignedAs, StatusChange, StatusListRecord, StatusListVersion, StatusSnapshot, Store,
    StoreError,
};

#[macro_use]
mod common;

use common::records::{T0, assert_conflict, assert_not_found, new_key};
use common::{Ctx, Engine, run};

conformance!(
    every_engine: [
        lists_are_stored_once_for_a_registered_key,
        indexes_are_handed_out_once_and_only_inside_the_list,
        two_nodes_reserving_at_once_never_share_an_index,
        two_nodes_creating_at_once_keep_an_owner_within_the_cap,
        two_nodes_changing_at_once_number_each_change_once,
        entries_bind_once_and_final_values_never_change,
        entries_bind_in_the_batch_that_logs_their_signature,
        versions_are_published_in_order_once_each,
    ],
    outside: [
        the_schema_refuses_lists_without_the_fields_of_their_format,
    ],
);

async fn new_list(store: &dyn Store, format: ListFormat, size: u64) -> StatusListRecord {
    new_list_at(store, format, size, T0).await
}

async fn new_list_at(
    store: &dyn Store,
    format: ListFormat,
    size: u64,
    created_at: i64,
) -> StatusListRecord {
    let key = new_key("sub_lists");
    store.insert_key(&key).await.unwrap();
    let list = StatusListRecord {
        id: format!("sl_{}", uuid::Uuid::new_v4().simple()),
        owner: "sub_lists".into(),
        key_id: key.id.to_string(),
        format,
        signed_as: if format == ListFormat::Token {
            SignedAs::Cwt
        } else {
            SignedAs::Jwt
        },
        purpose: (format == ListFormat::Bitstring).then(|| "revocation".into()),
        bits: if format == ListFormat::Token { 2 } else { 1 },
        size,
        messages: None,
        ttl_ms: 300_000,
        created_at,
        created_by: "cli_issuer".into(),
        changes: 0,
        deliver_to: (format == ListFormat::Token).then(|| "dst_lists".into()),
    };
    store.insert_status_list(&list, u32::MAX).await.unwrap();
    list
}

async fn lists_are_stored_once_for_a_registered_key(db: Ctx) {
    let store = db.connect().await;
    let first = new_list(&*store, ListFormat::Bitstring, 131_072).await;
    let second = new_list_at(&*store, ListFormat::Token, 1024, T0 + 1).await;
    assert_eq!(
        store.get_status_list(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_status_list("sl_none").await.unwrap(), None);
    assert_eq!(
        store.status_lists_of("sub_lists").await.unwrap(),
        vec![first.clone(), second]
    );
    assert!(store.status_lists_of("sub_other").await.unwrap().is_empty());
    assert_conflict(store.insert_status_list(&first, u32::MAX).await);
    let unknown_key = StatusListRecord {
        id: "sl_unknown_key".into(),
        key_id: "key_none".into(),
        ..first
    };
    assert_conflict(store.insert_status_list(&unknown_key, u32::MAX).await);
}

async fn indexes_are_handed_out_once_and_only_inside_the_list(db: Ctx) {
    let store = db.connect().await;
    let list = new_list(&*store, ListFormat::Bitstring, 100).await;
    // Duplicates count once; 100 and beyond are outside the list.
    let taken = store
        .reserve_status_indexes(&list.id, &[7, 7, 3, 100, 5000], 10, T0)
        .await
        .unwrap();
    assert_eq!(sorted(taken), vec![3, 7]);
    // Taken ones are skipped; at most `wanted` are handed out.
    let taken = store
        .reserve_status_indexes(&list.id, &[3, 7, 8, 9, 10], 2, T0 + 1)
        .await
        .unwrap();
    assert_eq!(taken.len(), 2);
    assert!(taken.iter().all(|i| [8, 9, 10].contains(i)), "{taken:?}");
    assert_eq!(store.reserved_status_count(&list.id).await.unwrap(), 4);
    let entry = store.status_entry(&list.id, 3).await.unwrap().unwrap();
    assert_eq!(
        (entry.value, entry.is_final, entry.reserved_at),
        (0, false, T0)
    );
    assert_eq!((entry.digest, entry.log_index), (None, None));
    assert_eq!(store.status_entry(&list.id, 4).await.unwrap(), None);
    assert!(
        store
            .reserve_status_indexes(&list.id, &[3, 7], 5, T0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(store.reserve_status_indexes("sl_none", &[1], 1, T0).await);
    // Every index of a small list, and then none is left.
    let small = new_list(&*store, ListFormat::Token, 8).await;
    let all: Vec<u64> = (0..16).collect();
    let taken = store
        .reserve_status_indexes(&small.id, &all, 16, T0)
        .await
        .unwrap();
    assert_eq!(sorted(taken), (0..8).collect::<Vec<_>>());
    assert!(
        store
            .reserve_status_indexes(&small.id, &all, 16, T0)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn two_nodes_reserving_at_once_never_share_an_index(db: Ctx) {
    let first = db.connect().await;
    // An in-memory database is one process's own: there the two callers share one store.
    let second = match db.engine {
        Engine::SqliteMemory => first.clone(),
        _ => db.connect().await,
    };
    // Three rounds, each on a fresh list: eight callers on each node ask for the same
    // overlapping candidates at once (in different orders).
    for _ in 0..3 {
        reserve_at_once(&first, &second).await;
    }
}

/// Sixteen creations for one owner at once, half on each node, with room for five: five are
/// stored, the others refused as conflicts.
async fn two_nodes_creating_at_once_keep_an_owner_within_the_cap(db: Ctx) {
    let first = db.connect().await;
    let second = match db.engine {
        Engine::SqliteMemory => first.clone(),
        _ => db.connect().await,
    };
    let template = new_list(&*first, ListFormat::Bitstring, 64).await;
    let mut tasks = Vec::new();
    for caller in 0..16 {
        let store = if caller % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let list = StatusListRecord {
            id: format!("{}_{caller}", template.id),
            ..template.clone()
        };
        tasks.push(tokio::spawn(async move {
            store.insert_status_list(&list, 6).await
        }));
    }
    let mut stored = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => stored += 1,
            refused => assert_conflict(refused),
        }
    }
    assert_eq!(stored, 5);
    assert_eq!(
        first.status_lists_of(&template.owner).await.unwrap().len(),
        6
    );
}

/// Thirty-two changes of one list at once, half on each node: each takes a number of its own,
/// from 1 to 32, and the list counts 32.
async fn two_nodes_changing_at_once_number_each_change_once(db: Ctx) {
    let first = db.connect().await;
    let second = match db.engine {
        Engine::SqliteMemory => first.clone(),
        _ => db.connect().await,
    };
    let list = new_list(&*first, ListFormat::Token, 64).await;
    let indexes: Vec<u64> = (0..16).collect();
    first
        .reserve_status_indexes(&list.id, &indexes, 16, T0)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for caller in 0..32u64 {
        let store = if caller % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let change = StatusChange {
            list_id: list.id.clone(),
            index: caller % 16,
            value: if caller < 16 { 2 } else { 0 },
            make_final: false,
            at: T0,
            by: "cli_issuer".into(),
        };
        tasks.push(tokio::spawn(async move {
            store
                .change_status(&change)
                .await
                .unwrap()
                .change_seq
                .unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    assert_eq!(sorted(numbers), (1..=32).collect::<Vec<_>>());
    assert_eq!(first.status_snapshot(&list.id).await.unwrap().changes, 32);
}

async fn reserve_at_once(first: &std::sync::Arc<dyn Store>, second: &std::sync::Arc<dyn Store>) {
    let list = new_list(&**first, ListFormat::Token, 64).await;
    let mut tasks = Vec::new();
    for caller in 0..16u64 {
        let store = if caller % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let id = list.id.clone();
        tasks.push(tokio::spawn(async move {
            let candidates: Vec<u64> = (0..64).map(|i| (i * 7 + caller) % 64).collect();
            store
                .reserve_status_indexes(&id, &candidates, 6, T0)
                .await
                .unwrap()
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let taken = task.await.unwrap();
        assert!(taken.len() <= 6);
        all.extend(taken);
    }
    let handed_out = all.len();
    assert_eq!(
        sorted(all).len(),
        handed_out,
        "an index was handed out twice"
    );
    assert_eq!(
        first.reserved_status_count(&list.id).await.unwrap(),
        handed_out as u64
    );
}

async fn entries_bind_once_and_final_values_never_change(db: Ctx) {
    let store = db.connect().await;
    let list = new_list(&*store, ListFormat::Token, 1000).await;
    let taken = store
        .reserve_status_indexes(&list.id, &[11, 12], 2, T0)
        .await
        .unwrap();
    assert_eq!(sorted(taken), vec![11, 12]);
    // Bound by the batch that logs the credential's signature (see
    // `entries_bind_in_the_batch_that_logs_their_signature`).
    let size = store.log_size().await.unwrap();
    store
        .append_log_batch(&inkan_store::LogBatch {
            entries: vec![vec![7; 40]],
            signatures: vec![(0, signature_with(&list, "sha-256:aa", &[11]))],
            ..Default::default()
        })
        .await
        .unwrap();
    let bound = store.status_entries_by_digest("sha-256:aa").await.unwrap();
    assert_eq!(bound.len(), 1);
    assert_eq!((bound[0].index, bound[0].log_index), (11, Some(size)));

    let change = |index, value, make_final, at| StatusChange {
        list_id: list.id.clone(),
        index,
        value,
        make_final,
        at,
        by: "cli_issuer".into(),
    };
    // Suspended, then valid again, then revoked for good.
    let suspended = store
        .change_status(&change(11, 2, false, T0 + 1))
        .await
        .unwrap();
    assert_eq!((suspended.value, suspended.is_final), (2, false));
    assert_eq!(suspended.changed_at, Some(T0 + 1));
    assert_eq!(suspended.changed_by.as_deref(), Some("cli_issuer"));
    let values = |changes, values| StatusSnapshot { changes, values };
    assert_eq!(
        store.status_snapshot(&list.id).await.unwrap(),
        values(1, vec![(11, 2)])
    );
    store
        .change_status(&change(11, 0, false, T0 + 2))
        .await
        .unwrap();
    assert_eq!(
        store.status_snapshot(&list.id).await.unwrap(),
        values(2, vec![])
    );
    store
        .change_status(&change(12, 1, true, T0 + 3))
        .await
        .unwrap();
    match store.change_status(&change(12, 0, false, T0 + 4)).await {
        Err(StoreError::Conflict(reason)) => assert!(reason.contains("final"), "{reason}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_conflict(store.change_status(&change(12, 1, true, T0 + 5)).await);
    assert_not_found(store.change_status(&change(13, 1, true, T0 + 6)).await);
    let revoked = store.status_entry(&list.id, 12).await.unwrap().unwrap();
    assert_eq!((revoked.value, revoked.is_final), (1, true));
    assert_eq!(revoked.changed_at, Some(T0 + 3));
    store
        .change_status(&change(11, 3, false, T0 + 7))
        .await
        .unwrap();
    // Refused changes are not counted.
    assert_eq!(
        store.status_snapshot(&list.id).await.unwrap(),
        values(4, vec![(11, 3), (12, 1)])
    );
    assert_not_found(store.status_snapshot("sl_none").await);
    // The history: each changed entry with the change count its last change made (refused
    // changes take no number), by index, in pages.
    let history = |from, limit| {
        let (store, id) = (store.clone(), list.id.clone());
        async move {
            store
                .changed_status_entries(&id, from, limit)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.index, e.value, e.change_seq))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        history(0, 10).await,
        vec![(11, 3, Some(4)), (12, 1, Some(3))]
    );
    assert_eq!(history(0, 1).await, vec![(11, 3, Some(4))]);
    assert_eq!(history(12, 10).await, vec![(12, 1, Some(3))]);
    // Reserved but never changed: not in the history.
    store
        .reserve_status_indexes(&list.id, &[20], 1, T0)
        .await
        .unwrap();
    assert_eq!(history(13, 10).await, vec![]);
}

/// The signature index row of a credential that was given a status entry binds that entry in
/// the log batch that writes it: both commit, or neither (a failing batch leaves the entry
/// unbound); an entry bound already stays with its first credential, and the batch commits.
async fn entries_bind_in_the_batch_that_logs_their_signature(db: Ctx) {
    let store = db.connect().await;
    let list = new_list(&*store, ListFormat::Bitstring, 100).await;
    store
        .reserve_status_indexes(&list.id, &[1, 2], 2, T0)
        .await
        .unwrap();
    let record = |digest: &str, idx: u64| signature_with(&list, digest, &[idx]);
    let entry = |i: u8| vec![i; 40];
    // A batch that fails after its binding ran (its second signature row names an unknown
    // key; the bindings go first) binds nothing: the binding is rolled back with it.
    let failing = inkan_store::LogBatch {
        entries: vec![entry(1), entry(1)],
        signatures: vec![
            (0, record("sha-256:aa", 1)),
            (
                1,
                inkan_store::SignatureRecord {
                    key_id: "key_none".into(),
                    ..record("sha-256:ab", 2)
                },
            ),
        ],
        ..Default::default()
    };
    assert!(store.append_log_batch(&failing).await.is_err());
    let bound = |idx: u64| {
        let (store, id) = (store.clone(), list.id.clone());
        async move {
            let entry = store.status_entry(&id, idx).await.unwrap().unwrap();
            (entry.digest, entry.log_index)
        }
    };
    assert_eq!(bound(1).await, (None, None));
    // Two credentials in one batch, each with its own entry.
    let size = store.log_size().await.unwrap();
    let batch = inkan_store::LogBatch {
        entries: vec![entry(2), entry(3)],
        signatures: vec![(0, record("sha-256:bb", 1)), (1, record("sha-256:cc", 2))],
        ..Default::default()
    };
    store.append_log_batch(&batch).await.unwrap();
    assert_eq!(bound(1).await, (Some("sha-256:bb".into()), Some(size)));
    assert_eq!(bound(2).await, (Some("sha-256:cc".into()), Some(size + 1)));
    // Bound already: the signature is still logged, the entry keeps its credential.
    let again = inkan_store::LogBatch {
        entries: vec![entry(4)],
        signatures: vec![(0, record("sha-256:dd", 1))],
        ..Default::default()
    };
    store.append_log_batch(&again).await.unwrap();
    assert_eq!(store.log_size().await.unwrap(), size + 3);
    assert_eq!(bound(1).await, (Some("sha-256:bb".into()), Some(size)));
    // A signature by another key never binds this key's list.
    store
        .reserve_status_indexes(&list.id, &[3], 1, T0)
        .await
        .unwrap();
    let other = new_key("sub_lists");
    store.insert_key(&other).await.unwrap();
    let foreign = inkan_store::LogBatch {
        entries: vec![entry(5)],
        signatures: vec![(
            0,
            inkan_store::SignatureRecord {
                key_id: other.id.to_string(),
                ..record("sha-256:ee", 3)
            },
        )],
        ..Default::default()
    };
    store.append_log_batch(&foreign).await.unwrap();
    assert_eq!(bound(3).await, (None, None));
}

/// A signature index row of `list`'s key for `digest`, giving its credential `entries`.
fn signature_with(
    list: &StatusListRecord,
    digest: &str,
    entries: &[u64],
) -> inkan_store::SignatureRecord {
    inkan_store::SignatureRecord {
        digest: digest.into(),
        key_id: list.key_id.clone(),
        subscriber: list.owner.clone(),
        document_type: "vc+jwt".into(),
        log_index: 0,
        created_at: T0,
        status_entries: entries.iter().map(|i| (list.id.clone(), *i)).collect(),
    }
}

async fn versions_are_published_in_order_once_each(db: Ctx) {
    let store = db.connect().await;
    let list = new_list(&*store, ListFormat::Bitstring, 100).await;
    let quiet = new_list_at(&*store, ListFormat::Token, 100, T0 + 1).await;
    let to_publish = |renew_at| {
        let store = store.clone();
        async move {
            let lists = store.status_lists_to_publish(renew_at, T0).await.unwrap();
            lists.into_iter().map(|l| l.id).collect::<Vec<_>>()
        }
    };
    let mut both = vec![list.id.clone(), quiet.id.clone()];
    both.sort();
    assert_eq!(to_publish(T0).await, both, "never published");
    let version = |number, covers, valid_until| StatusListVersion {
        list_id: list.id.clone(),
        version: number,
        covers,
        media_type: "application/vc+jwt".into(),
        document: format!("signed-{number}"),
        valid_from: T0,
        valid_until,
        log_index: Some(number + 100),
        published_at: T0,
    };
    assert_conflict(
        store
            .insert_status_list_version(&version(2, 0, T0 + 10))
            .await,
    );
    assert_conflict(
        store
            .insert_status_list_version(&version(1, 1, T0 + 10))
            .await,
    );
    store
        .insert_status_list_version(&version(1, 0, T0 + 10))
        .await
        .unwrap();
    assert_conflict(
        store
            .insert_status_list_version(&version(1, 0, T0 + 10))
            .await,
    );
    assert_eq!(
        store.latest_status_list_version(&list.id).await.unwrap(),
        Some(version(1, 0, T0 + 10))
    );
    assert_eq!(
        store.latest_status_list_version(&quiet.id).await.unwrap(),
        None
    );
    assert_eq!(to_publish(T0).await, vec![quiet.id.clone()]);
    assert_eq!(to_publish(T0 + 10).await, both, "its validity ends");
    // A change makes it due again, until a version covers it.
    store
        .reserve_status_indexes(&list.id, &[5], 1, T0)
        .await
        .unwrap();
    store
        .change_status(&StatusChange {
            list_id: list.id.clone(),
            index: 5,
            value: 1,
            make_final: true,
            at: T0,
            by: "cli_issuer".into(),
        })
        .await
        .unwrap();
    assert_eq!(to_publish(T0).await, both);
    store
        .insert_status_list_version(&version(2, 1, T0 + 20))
        .await
        .unwrap();
    assert_eq!(to_publish(T0 + 10).await, vec![quiet.id.clone()]);
    // A version from an older state than the latest one is refused.
    assert_conflict(
        store
            .insert_status_list_version(&version(3, 0, T0 + 30))
            .await,
    );
    // One node claims a list for a round; the others skip it until the claim ends, and a list
    // held back after a failure waits.
    assert!(
        store
            .claim_status_list(&quiet.id, T0, T0 + 60)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_status_list(&quiet.id, T0 + 59, T0 + 120)
            .await
            .unwrap()
    );
    assert!(to_publish(T0).await.is_empty());
    assert_eq!(
        store
            .status_lists_to_publish(T0, T0 + 60)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .claim_status_list(&quiet.id, T0 + 60, T0 + 120)
            .await
            .unwrap()
    );
    store.hold_status_list(&quiet.id, T0 + 1000).await.unwrap();
    assert!(
        !store
            .claim_status_list(&quiet.id, T0 + 999, T0 + 1060)
            .await
            .unwrap()
    );
    assert!(
        store
            .status_lists_to_publish(T0, T0 + 999)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .latest_status_list_version(&list.id)
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    // Every version, oldest first, in pages.
    let versions = |from, limit| {
        let (store, id) = (store.clone(), list.id.clone());
        async move { store.status_list_versions(&id, from, limit).await.unwrap() }
    };
    assert_eq!(
        versions(0, 10).await,
        vec![version(1, 0, T0 + 10), version(2, 1, T0 + 20)]
    );
    assert_eq!(versions(2, 1).await, vec![version(2, 1, T0 + 20)]);
    assert!(versions(3, 10).await.is_empty());
}

/// The columns a row of `status_lists` is written with by hand (`changes` has its default).
const LIST_COLUMNS: &str =
    "id, owner, key_id, format, purpose, bits, size, messages, ttl_ms, created_at, created_by";

async fn the_schema_refuses_lists_without_the_fields_of_their_format(db: Ctx) {
    let store = db.connect().await;
    let list = new_list(&*store, ListFormat::Bitstring, 16).await;
    let refused = [
        // a token list with a purpose
        format!(
            "INSERT INTO status_lists ({LIST_COLUMNS}) VALUES ('sl_a', 'o', '{}', 'token', 'revocation', 2, 16, \
             NULL, 1000, 0, 'x')",
            list.key_id
        ),
        // a message list without its messages
        format!(
            "INSERT INTO status_lists ({LIST_COLUMNS}) VALUES ('sl_b', 'o', '{}', 'bitstring', 'message', 2, 16, \
             NULL, 1000, 0, 'x')",
            list.key_id
        ),
        // a revocation list of two bits per entry
        format!(
            "INSERT INTO status_lists ({LIST_COLUMNS}) VALUES ('sl_c', 'o', '{}', 'bitstring', 'revocation', 2, \
             16, NULL, 1000, 0, 'x')",
            list.key_id
        ),
        // three bits
        format!(
            "INSERT INTO status_lists ({LIST_COLUMNS}) VALUES ('sl_d', 'o', '{}', 'token', NULL, 3, 16, NULL, \
             1000, 0, 'x')",
            list.key_id
        ),
        // signed as something unknown
        format!(
            "INSERT INTO status_lists ({LIST_COLUMNS}, signed_as) VALUES ('sl_f', 'o', '{}', 'token', NULL, 2, \
             16, NULL, 1000, 0, 'x', 'xml')",
            list.key_id
        ),
        // a W3C list signed as a CWT, a token list with a Data Integrity proof
        format!(
            "INSERT INTO status_lists ({LIST_COLUMNS}, signed_as) VALUES ('sl_g', 'o', '{}', 'bitstring', \
             'revocation', 1, 16, NULL, 1000, 0, 'x', 'cwt')",
            list.key_id
        ),
        format!(
            "INSERT INTO status_lists ({LIST_COLUMNS}, signed_as) VALUES ('sl_h', 'o', '{}', 'token', NULL, 2, \
             16, NULL, 1000, 0, 'x', 'data-integrity')",
            list.key_id
        ),
        // a value over a byte
        format!(
            "INSERT INTO status_list_entries (list_id, idx, value, reserved_at) \
             VALUES ('{}', 1, 256, 0)",
            list.id
        ),
    ];
    for sql in refused {
        assert!(db.try_exec(sql.clone()).await.is_err(), "accepted: {sql}");
    }
    // A message list with its messages is accepted.
    db.exec(format!(
        "INSERT INTO status_lists ({LIST_COLUMNS}) VALUES ('sl_e', 'o', '{}', 'bitstring', 'message', 2, 16, \
         '[]', 1000, 0, 'x')",
        list.key_id
    ))
    .await;
}

fn sorted(mut indexes: Vec<u64>) -> Vec<u64> {
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}
