//! The signing part of the store (`SigningStore`): every case is written once against
//! `Arc<dyn Store>` and runs on every engine, which must all behave the same:
//!
//! - `sqlite::<case>`: SQLite in a temporary file;
//! - `sqlite_memory::<case>`: SQLite `sqlite::memory:` (not the cases that reach the database
//!   behind the store's back);
//! - `postgres::<case>`: PostgreSQL at `INKAN_TEST_POSTGRES_URL` (default
//!   `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`), each test in a fresh schema of its
//!   own, dropped at the end. No PostgreSQL is a failure, never a skip: `bash .ci/run` starts it.
//!
//! The concurrent case races many tasks (on PostgreSQL, many pooled connections) on one SAD and
//! checks that exactly one uses it up: the atomicity the signing module relies on across nodes.

#![allow(clippy::unwrap_used)]

use inkan_store::auth::new_id;
use inkan_store::{KeyId, SadRecord, SignatureRecord, Store, StoreError};
use std::sync::Arc;

#[macro_use]
mod common;

use common::records::{MINUTE, Owner, T0, assert_conflict, assert_not_found, hash, owner};
use common::{Ctx, Engine, run};

conformance!(
    every_engine: [
        sad_insert_and_consume,
        sad_consume_refusals,
        sad_insert_refusals_store_nothing,
        concurrent_consumes_one_wins,
        sads_go_with_their_session,
        purge_sads_removes_only_expired,
        signatures_by_digest_scoped_and_ordered,
        signatures_by_digest_at_most_100,
        signature_insert_refusals_store_nothing,
        indexed_log_indexes_lists_each_once,
    ],
    outside: [
        refused_consume_changes_nothing,
        schema_refuses_invalid_rows,
        undecodable_digests_are_corrupt,
    ],
);

// ---------------------------------------------------------------------------------------------
// Records

fn digest() -> String {
    format!("sha-256:{}", hash())
}

/// A fresh unused SAD of `owner` for `digests` random digests (one signature each), valid until
/// `expires_at`.
fn sad(owner: &Owner, digests: usize, expires_at: i64) -> SadRecord {
    SadRecord {
        sad_hash: hash(),
        id: new_id("sad"),
        key_id: owner.key.id.to_string(),
        account_id: owner.account.id.clone(),
        session_id: owner.session.id.clone(),
        digests: (0..digests).map(|_| digest()).collect(),
        num_signatures: u32::try_from(digests).unwrap(),
        created_at: T0,
        expires_at,
        used_at: None,
        disclosure_digest: None,
    }
}

fn signature(owner: &Owner, digest: &str, log_index: u64, created_at: i64) -> SignatureRecord {
    SignatureRecord {
        digest: digest.to_owned(),
        key_id: owner.key.id.to_string(),
        subscriber: owner.subscriber.id.clone(),
        document_type: "csc.signHash".to_owned(),
        log_index,
        created_at,
        status_entries: Vec::new(),
    }
}

/// Uses up `sad` at `now` and checks that the store returns it as stored, marked used at `now`.
async fn consume_ok(store: &dyn Store, sad: &SadRecord, now: i64) {
    let used = store.consume_sad(&sad.sad_hash, now).await.unwrap();
    assert_eq!(
        used,
        SadRecord {
            used_at: Some(now),
            ..sad.clone()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// SADs

async fn sad_insert_and_consume(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;

    // Digests in order, one of them with characters JSON escapes; fewer signatures than digests.
    let mut first = sad(&owner, 3, T0 + 5 * MINUTE);
    first.digests[1] = "sha-512:\"quoted\" \\ 印鑑".to_owned();
    first.num_signatures = 2;
    // A holder's SAD carries the digest of what was shown, and gives it back.
    let second = SadRecord {
        disclosure_digest: Some("Hf2uSwdoK5Nm3l7dSF0HqEb1-lgSdm6TXIvRtmJTmaA".into()),
        ..sad(&owner, 1, T0 + 5 * MINUTE)
    };
    store.insert_sad(&first).await.unwrap();
    store.insert_sad(&second).await.unwrap();

    consume_ok(&*store, &first, T0 + 1_000).await;
    // Used up: a second use is refused, at any time.
    assert_conflict(store.consume_sad(&first.sad_hash, T0 + 1_000).await);
    assert_conflict(store.consume_sad(&first.sad_hash, T0 + 2_000).await);
    // The other one is untouched, usable up to the last millisecond.
    consume_ok(&*store, &second, T0 + 5 * MINUTE - 1).await;
    assert_conflict(
        store
            .consume_sad(&second.sad_hash, T0 + 5 * MINUTE - 1)
            .await,
    );
}

async fn sad_consume_refusals(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let expiring = sad(&owner, 1, T0 + MINUTE);
    store.insert_sad(&expiring).await.unwrap();

    // Unknown: NotFound, whatever the time.
    assert_not_found(store.consume_sad(&hash(), T0).await);
    assert_not_found(store.consume_sad("", T0).await);
    // Expired: at `expires_at` and after.
    assert_conflict(store.consume_sad(&expiring.sad_hash, T0 + MINUTE).await);
    assert_conflict(store.consume_sad(&expiring.sad_hash, T0 + 2 * MINUTE).await);
    // The refusals changed nothing: before expiry it is still unused.
    consume_ok(&*store, &expiring, T0 + MINUTE - 1).await;
    assert_conflict(store.consume_sad(&expiring.sad_hash, T0).await);
}

async fn sad_insert_refusals_store_nothing(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let other = self::owner(&*store).await;
    let first = sad(&owner, 2, T0 + MINUTE);
    store.insert_sad(&first).await.unwrap();

    // Each refused SAD, then a check that none of it was stored.
    let mut refused = Vec::new();

    // The same hash under another id: the first SAD stays as it was.
    let mut same_hash = sad(&owner, 1, T0 + 2 * MINUTE);
    same_hash.sad_hash = first.sad_hash.clone();
    assert_conflict(store.insert_sad(&same_hash).await);

    // The same id under another hash.
    let mut same_id = sad(&owner, 1, T0 + MINUTE);
    same_id.id = first.id.clone();
    assert_conflict(store.insert_sad(&same_id).await);
    refused.push(same_id);

    // An unknown key, account or session.
    let mut unknown_key = sad(&owner, 1, T0 + MINUTE);
    unknown_key.key_id = KeyId::random().to_string();
    let mut unknown_account = sad(&owner, 1, T0 + MINUTE);
    unknown_account.account_id = new_id("acc");
    let mut unknown_session = sad(&owner, 1, T0 + MINUTE);
    unknown_session.session_id = new_id("ses");
    // Another account's session.
    let mut foreign_session = sad(&owner, 1, T0 + MINUTE);
    foreign_session.session_id = other.session.id.clone();
    // No signature at all, or more signatures than digests.
    let mut no_signature = sad(&owner, 2, T0 + MINUTE);
    no_signature.num_signatures = 0;
    let mut too_many = sad(&owner, 2, T0 + MINUTE);
    too_many.num_signatures = 3;
    let mut no_digest = sad(&owner, 0, T0 + MINUTE);
    no_digest.num_signatures = 1;
    for bad in [
        unknown_key,
        unknown_account,
        unknown_session,
        foreign_session,
        no_signature,
        too_many,
        no_digest,
    ] {
        assert_conflict(store.insert_sad(&bad).await);
        refused.push(bad);
    }
    for bad in &refused {
        assert_not_found(store.consume_sad(&bad.sad_hash, T0).await);
    }

    // The first SAD is the one stored under its hash.
    consume_ok(&*store, &first, T0 + 1).await;
    // A correct SAD of the other owner goes in.
    let theirs = sad(&other, 1, T0 + MINUTE);
    store.insert_sad(&theirs).await.unwrap();
    consume_ok(&*store, &theirs, T0 + 1).await;
}

async fn concurrent_consumes_one_wins(db: Ctx) {
    const TASKS: usize = 8;
    let store = db.connect().await;
    let owner = owner(&*store).await;
    for round in 0..5 {
        let sad = sad(&owner, 1, T0 + MINUTE);
        store.insert_sad(&sad).await.unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let (store, barrier, hash) = (store.clone(), barrier.clone(), sad.sad_hash.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.consume_sad(&hash, T0 + 1 + i as i64).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(used) => winners.push(used),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("round {round}: expected Ok or Conflict, got {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one uses the SAD");
        let used_at = winners[0].used_at.unwrap();
        assert!((T0 + 1..T0 + 1 + TASKS as i64).contains(&used_at));
        assert_eq!(
            winners[0],
            SadRecord {
                used_at: Some(used_at),
                ..sad.clone()
            }
        );
        assert_conflict(store.consume_sad(&sad.sad_hash, T0 + 100).await);
    }
}

async fn sads_go_with_their_session(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let sad = sad(&owner, 1, T0 + 2 * 60 * MINUTE);
    store.insert_sad(&sad).await.unwrap();
    // The session (expires at T0 + 1 h) is purged; its SAD goes with it.
    assert!(store.purge_sessions(T0 + 61 * MINUTE).await.unwrap() >= 1);
    assert_eq!(store.get_session(&owner.session.id).await.unwrap(), None);
    assert_not_found(store.consume_sad(&sad.sad_hash, T0 + 1).await);
}

async fn purge_sads_removes_only_expired(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let expired = sad(&owner, 1, T0 + 10);
    let expired_used = sad(&owner, 1, T0 + 10);
    let at_boundary = sad(&owner, 1, T0 + 20);
    let used = sad(&owner, 1, T0 + 30);
    let live = sad(&owner, 1, T0 + 30);
    for s in [&expired, &expired_used, &at_boundary, &used, &live] {
        store.insert_sad(s).await.unwrap();
    }
    consume_ok(&*store, &expired_used, T0 + 1).await;
    consume_ok(&*store, &used, T0 + 1).await;

    assert_eq!(store.purge_sads(T0 + 10).await.unwrap(), 0, "none before");
    assert_eq!(store.purge_sads(T0 + 20).await.unwrap(), 2);
    assert_eq!(store.purge_sads(T0 + 20).await.unwrap(), 0, "nothing left");

    // Gone: unknown now, even at a time they were valid.
    assert_not_found(store.consume_sad(&expired.sad_hash, T0 + 2).await);
    assert_not_found(store.consume_sad(&expired_used.sad_hash, T0 + 2).await);
    // Kept: an unexpired used one still refuses, the others still work.
    assert_conflict(store.consume_sad(&used.sad_hash, T0 + 2).await);
    consume_ok(&*store, &at_boundary, T0 + 19).await;
    consume_ok(&*store, &live, T0 + 2).await;

    assert_eq!(store.purge_sads(T0 + 31).await.unwrap(), 3);
}

// ---------------------------------------------------------------------------------------------
// Signatures

async fn signatures_by_digest_scoped_and_ordered(db: Ctx) {
    let store = db.connect().await;
    let mine = owner(&*store).await;
    let theirs = owner(&*store).await;
    let d = digest();
    let e = digest();
    assert!(
        store
            .signatures_by_digest(&mine.subscriber.id, &d)
            .await
            .unwrap()
            .is_empty()
    );

    // Inserted out of time order; two at the same time keep their insertion order. The log
    // index goes up to the largest a database integer holds.
    let late = signature(&mine, &d, 7, T0 + 20);
    let early = signature(&mine, &d, 3, T0 + 10);
    let mut early_too = signature(&mine, &d, i64::MAX as u64, T0 + 10);
    early_too.document_type = "vc+jwt".to_owned();
    let other_digest = signature(&mine, &e, 3, T0 + 10);
    let other_subscriber = signature(&theirs, &d, 4, T0 + 5);
    store
        .insert_signatures(&[late.clone(), early.clone(), other_digest.clone()])
        .await
        .unwrap();
    store
        .insert_signatures(std::slice::from_ref(&early_too))
        .await
        .unwrap();
    store
        .insert_signatures(std::slice::from_ref(&other_subscriber))
        .await
        .unwrap();
    store.insert_signatures(&[]).await.unwrap();

    assert_eq!(
        store
            .signatures_by_digest(&mine.subscriber.id, &d)
            .await
            .unwrap(),
        vec![early, early_too, late]
    );
    assert_eq!(
        store
            .signatures_by_digest(&mine.subscriber.id, &e)
            .await
            .unwrap(),
        vec![other_digest]
    );
    // Another subscriber sees only its own, and nobody sees another's by its digest.
    assert_eq!(
        store
            .signatures_by_digest(&theirs.subscriber.id, &d)
            .await
            .unwrap(),
        vec![other_subscriber]
    );
    assert!(
        store
            .signatures_by_digest(&theirs.subscriber.id, &e)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .signatures_by_digest(&new_id("sub"), &d)
            .await
            .unwrap()
            .is_empty()
    );
    // Digests compare exactly.
    assert!(
        store
            .signatures_by_digest(&mine.subscriber.id, &d.to_uppercase())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn signatures_by_digest_at_most_100(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let d = digest();
    // 105 signatures of one digest, newest first: the oldest 100 come back, oldest first.
    let all: Vec<SignatureRecord> = (0..105u64)
        .rev()
        .map(|i| signature(&owner, &d, i, T0 + i as i64))
        .collect();
    store.insert_signatures(&all).await.unwrap();
    let found = store
        .signatures_by_digest(&owner.subscriber.id, &d)
        .await
        .unwrap();
    let expected: Vec<SignatureRecord> = all.iter().rev().take(100).cloned().collect();
    assert_eq!(found.len(), 100);
    assert_eq!(found, expected);
}

async fn signature_insert_refusals_store_nothing(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let d = digest();

    // An unknown key anywhere in the batch: none of it is stored.
    let good = signature(&owner, &d, 1, T0);
    let mut unknown_key = signature(&owner, &d, 2, T0 + 1);
    unknown_key.key_id = KeyId::random().to_string();
    assert_conflict(store.insert_signatures(&[good.clone(), unknown_key]).await);
    // A log index a database integer cannot hold: refused before anything is written.
    let too_far = signature(&owner, &d, i64::MAX as u64 + 1, T0 + 2);
    assert_conflict(store.insert_signatures(&[good.clone(), too_far]).await);
    let too_far = signature(&owner, &d, u64::MAX, T0 + 2);
    assert_conflict(
        store
            .insert_signatures(std::slice::from_ref(&too_far))
            .await,
    );
    assert!(
        store
            .signatures_by_digest(&owner.subscriber.id, &d)
            .await
            .unwrap()
            .is_empty()
    );

    // The same record twice is two signatures (one log entry may list a digest twice).
    store
        .insert_signatures(&[good.clone(), good.clone()])
        .await
        .unwrap();
    assert_eq!(
        store
            .signatures_by_digest(&owner.subscriber.id, &d)
            .await
            .unwrap(),
        vec![good.clone(), good]
    );
}

// ---------------------------------------------------------------------------------------------
// Behind the store's back

async fn refused_consume_changes_nothing(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let expired = sad(&owner, 1, T0 + 10);
    let used = sad(&owner, 1, T0 + MINUTE);
    store.insert_sad(&expired).await.unwrap();
    store.insert_sad(&used).await.unwrap();
    consume_ok(&*store, &used, T0 + 5).await;

    assert_conflict(store.consume_sad(&expired.sad_hash, T0 + 10).await);
    assert_conflict(store.consume_sad(&used.sad_hash, T0 + 7).await);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM sads WHERE used_at IS NULL")
            .await,
        1,
        "the expired SAD is still unused"
    );
    assert_eq!(
        db.query_i64("SELECT max(used_at) FROM sads").await,
        T0 + 5,
        "the used SAD keeps its first use"
    );
}

async fn schema_refuses_invalid_rows(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let other = self::owner(&*store).await;
    let sad = sad(&owner, 2, T0 + MINUTE);
    store.insert_sad(&sad).await.unwrap();
    let key = owner.key.id.to_string();
    let acc = &owner.account.id;
    let ses = &owner.session.id;
    let other_ses = &other.session.id;
    let row = |digests: &str, num: i64, session: &str| {
        format!(
            "INSERT INTO sads (sad_hash, id, key_id, account_id, session_id, digests, \
             num_signatures, created_at, expires_at) VALUES ('{}', '{}', '{key}', '{acc}', \
             '{session}', '{digests}', {num}, 0, 1)",
            hash(),
            new_id("sad")
        )
    };
    for (what, sql) in [
        ("no signature", row(r#"["sha-256:aa"]"#, 0, ses)),
        (
            "more signatures than digests",
            row(r#"["sha-256:aa"]"#, 2, ses),
        ),
        (
            "digests that are not an array",
            row(r#"{"d":"sha-256:aa"}"#, 1, ses),
        ),
        ("digests that are a string", row(r#""sha-256:aa""#, 1, ses)),
        ("digests that are not JSON", row("sha-256:aa", 1, ses)),
        (
            "another account's session",
            row(r#"["sha-256:aa"]"#, 1, other_ses),
        ),
        (
            "a duplicate SAD id",
            format!(
                "INSERT INTO sads (sad_hash, id, key_id, account_id, session_id, digests, \
                 num_signatures, created_at, expires_at) VALUES ('{}', '{}', '{key}', '{acc}', \
                 '{ses}', '[\"d\"]', 1, 0, 1)",
                hash(),
                sad.id
            ),
        ),
        (
            "a negative log index",
            format!(
                "INSERT INTO signatures (digest, key_id, subscriber, document_type, log_index, \
                 created_at) VALUES ('d', '{key}', 's', 't', -1, 0)"
            ),
        ),
        (
            "a signature by an unknown key",
            "INSERT INTO signatures (digest, key_id, subscriber, document_type, log_index, \
             created_at) VALUES ('d', 'key_x', 's', 't', 1, 0)"
                .to_owned(),
        ),
    ] {
        assert!(
            db.try_exec(sql).await.is_err(),
            "the schema accepted {what}"
        );
    }
    // The control row goes in, and the store's SAD is untouched.
    db.exec(row(r#"["sha-256:aa","sha-256:bb"]"#, 2, ses)).await;
    assert_eq!(db.query_i64("SELECT count(*) FROM sads").await, 2);
    consume_ok(&*store, &sad, T0 + 1).await;
}

async fn undecodable_digests_are_corrupt(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let sad = sad(&owner, 2, T0 + MINUTE);
    store.insert_sad(&sad).await.unwrap();
    // A JSON array, as the schema wants, but not of strings.
    db.exec(format!(
        "UPDATE sads SET digests = '[1, 2]' WHERE sad_hash = '{}'",
        sad.sad_hash
    ))
    .await;
    match store.consume_sad(&sad.sad_hash, T0 + 1).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("digests"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// The log indexes that have index rows, from a point on, each once and ascending (what the
/// index's rebuild at start compares the log with).
async fn indexed_log_indexes_lists_each_once(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let (d, e) = (digest(), digest());
    assert!(store.indexed_log_indexes(0).await.unwrap().is_empty());
    store
        .insert_signatures(&[
            signature(&owner, &d, 7, T0),
            signature(&owner, &e, 7, T0),
            signature(&owner, &d, 3, T0),
            signature(&owner, &d, 12, T0),
        ])
        .await
        .unwrap();
    assert_eq!(store.indexed_log_indexes(0).await.unwrap(), vec![3, 7, 12]);
    assert_eq!(store.indexed_log_indexes(7).await.unwrap(), vec![7, 12]);
    assert!(store.indexed_log_indexes(13).await.unwrap().is_empty());
}
