//! The delivery part of the store (`DeliveryStore`, criteria 2.2.3(3)A, B): every case is
//! written once against `Arc<dyn Store>` and runs on every engine, which must all behave the
//! same:
//!
//! - `sqlite::<case>`: SQLite in a temporary file;
//! - `sqlite_memory::<case>`: SQLite `sqlite::memory:` (not the cases that reach the database
//!   behind the store's back);
//! - `postgres::<case>`: PostgreSQL at `INKAN_TEST_POSTGRES_URL` (default
//!   `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`), each test in a fresh schema of its
//!   own, dropped at the end. No PostgreSQL is a failure, never a skip: `bash .ci/run` starts it.
//!
//! The concurrent case races many claimers (on PostgreSQL, many pooled connections) over one
//! outbox and checks that no job goes to two of them: what lets several nodes run delivery
//! workers on one database.

#![allow(clippy::unwrap_used)]

use inkan_store::auth::new_id;
use inkan_store::{
    AttemptFailure, DeliveryRecord, DeliveryState, DestinationRecord, KeyId, RetainedRecord, Store,
    StoreError, SubscriberKind, SubscriberRecord, SubscriberState,
};
use std::collections::HashSet;
use std::sync::Arc;

#[macro_use]
mod common;

use common::records::{T0, assert_conflict, assert_not_found, new_key};
use common::{Ctx, Engine, run};

conformance!(
    every_engine: [
        destinations_scoped_and_ordered,
        destination_insert_refusals,
        delivery_insert_refusals_store_nothing,
        claim_then_complete_drops_the_document,
        failed_attempts_retry_then_give_up,
        claim_takes_due_jobs_earliest_first_up_to_the_limit,
        concurrent_claimers_never_share_a_job,
        expired_lease_can_be_reclaimed,
        outcome_refusals_change_nothing,
        retained_insert_and_get,
        retained_insert_refusals,
        purge_removes_only_expired_documents,
    ],
    outside: [
        schema_refuses_invalid_rows,
        undecodable_attempts_are_corrupt,
    ],
);

// ---------------------------------------------------------------------------------------------
// Records

const SECOND: i64 = 1_000;
const DAY: i64 = 86_400_000;

/// A subscriber with a key and a destination.
#[derive(Debug, Clone)]
struct Owner {
    subscriber: String,
    key: String,
    destination: DestinationRecord,
}

async fn owner(store: &dyn Store) -> Owner {
    let subscriber = SubscriberRecord {
        id: new_id("sub"),
        kind: SubscriberKind::Issuer,
        name: "Example Org".to_owned(),
        environment: "test".to_owned(),
        state: SubscriberState::Active,
        created_at: T0,
    };
    store.insert_subscriber(&subscriber).await.unwrap();
    let key = new_key(&subscriber.id);
    store.insert_key(&key).await.unwrap();
    let destination = destination(&subscriber.id, T0);
    store.insert_destination(&destination).await.unwrap();
    Owner {
        subscriber: subscriber.id,
        key: key.id.to_string(),
        destination,
    }
}

fn destination(subscriber: &str, at: i64) -> DestinationRecord {
    let id = new_id("dst");
    DestinationRecord {
        url: format!("https://receiver.example/inbox/{id}"),
        id,
        subscriber: subscriber.to_owned(),
        created_at: at,
    }
}

/// A new delivery of `owner` to its destination, due at `due`.
fn delivery(owner: &Owner, due: i64) -> DeliveryRecord {
    DeliveryRecord {
        id: new_id("dlv"),
        subscriber: owner.subscriber.clone(),
        destination_id: owner.destination.id.clone(),
        document_type: "vc+jwt".to_owned(),
        document: Some(format!("sealed {}", uuid::Uuid::new_v4()).into_bytes()),
        document_digest: format!("sha-256:{}", uuid::Uuid::new_v4().simple()),
        log_index: 7,
        state: DeliveryState::Pending,
        attempts: 0,
        last_error: None,
        next_attempt_at: due,
        claim: None,
        lease_until: None,
        created_at: T0,
        updated_at: T0,
        delivered_at: None,
    }
}

fn retained(owner: &Owner, created_at: i64, purge_at: i64) -> RetainedRecord {
    RetainedRecord {
        id: new_id("doc"),
        subscriber: owner.subscriber.clone(),
        key_id: owner.key.clone(),
        document_type: "dc+sd-jwt".to_owned(),
        document: format!("sealed {}", uuid::Uuid::new_v4()).into_bytes(),
        log_index: 11,
        created_at,
        purge_at,
    }
}

/// `job` as a claim at `now` with `lease_ms` must have left it.
#[track_caller]
fn assert_claimed(claimed: &DeliveryRecord, job: &DeliveryRecord, now: i64, lease_ms: i64) {
    let claim = claimed.claim.clone().expect("a claim token");
    assert!(claim.starts_with("clm_"), "{claim}");
    assert_eq!(
        claimed,
        &DeliveryRecord {
            attempts: job.attempts + 1,
            claim: Some(claim),
            lease_until: Some(now + lease_ms),
            updated_at: now,
            ..job.clone()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Destinations

async fn destinations_scoped_and_ordered(db: Ctx) {
    let store = db.connect().await;
    let mine = owner(&*store).await;
    let theirs = owner(&*store).await;
    // Registered out of time order; two at the same time come in id order.
    let late = destination(&mine.subscriber, T0 + 20);
    let mut early = destination(&mine.subscriber, T0 + 10);
    let mut early_too = destination(&mine.subscriber, T0 + 10);
    if early_too.id < early.id {
        std::mem::swap(&mut early, &mut early_too);
    }
    for d in [&late, &early_too, &early] {
        store.insert_destination(d).await.unwrap();
    }
    assert_eq!(
        store.list_destinations(&mine.subscriber).await.unwrap(),
        vec![mine.destination.clone(), early.clone(), early_too, late]
    );
    assert_eq!(
        store.list_destinations(&theirs.subscriber).await.unwrap(),
        vec![theirs.destination.clone()]
    );
    assert!(
        store
            .list_destinations(&new_id("sub"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.get_destination(&early.id).await.unwrap(), Some(early));
    assert_eq!(store.get_destination(&new_id("dst")).await.unwrap(), None);
}

async fn destination_insert_refusals(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    // The same id; the same URL for the same subscriber; an unknown subscriber.
    let mut same_id = destination(&owner.subscriber, T0);
    same_id.id = owner.destination.id.clone();
    assert_conflict(store.insert_destination(&same_id).await);
    let mut same_url = destination(&owner.subscriber, T0);
    same_url.url = owner.destination.url.clone();
    assert_conflict(store.insert_destination(&same_url).await);
    let unknown = destination(&new_id("sub"), T0);
    assert_conflict(store.insert_destination(&unknown).await);
    assert_eq!(store.get_destination(&same_url.id).await.unwrap(), None);
    assert_eq!(store.get_destination(&unknown.id).await.unwrap(), None);
    assert_eq!(
        store.list_destinations(&owner.subscriber).await.unwrap(),
        vec![owner.destination.clone()]
    );
    // Another subscriber may register the same URL.
    let other = self::owner(&*store).await;
    let mut shared = destination(&other.subscriber, T0);
    shared.url = owner.destination.url.clone();
    store.insert_destination(&shared).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// The outbox

async fn delivery_insert_refusals_store_nothing(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let other = self::owner(&*store).await;
    let first = delivery(&owner, T0);
    store.insert_delivery(&first).await.unwrap();
    assert_eq!(
        store.get_delivery(&first.id).await.unwrap(),
        Some(first.clone())
    );

    let mut refused = Vec::new();
    let mut same_id = delivery(&owner, T0);
    same_id.id = first.id.clone();
    assert_conflict(store.insert_delivery(&same_id).await);
    let mut unknown_destination = delivery(&owner, T0);
    unknown_destination.destination_id = new_id("dst");
    let mut foreign_destination = delivery(&owner, T0);
    foreign_destination.destination_id = other.destination.id.clone();
    let mut unknown_subscriber = delivery(&owner, T0);
    unknown_subscriber.subscriber = new_id("sub");
    let mut too_far = delivery(&owner, T0);
    too_far.log_index = i64::MAX as u64 + 1;
    // Not new: attempted, claimed, finished, or without its document.
    let mut attempted = delivery(&owner, T0);
    attempted.attempts = 1;
    let mut claimed = delivery(&owner, T0);
    claimed.claim = Some("clm_x".into());
    claimed.lease_until = Some(T0 + 1);
    let mut delivered = delivery(&owner, T0);
    delivered.state = DeliveryState::Delivered;
    delivered.delivered_at = Some(T0);
    delivered.document = None;
    let mut failed = delivery(&owner, T0);
    failed.state = DeliveryState::Failed;
    let mut no_document = delivery(&owner, T0);
    no_document.document = None;
    for bad in [
        unknown_destination,
        foreign_destination,
        unknown_subscriber,
        too_far,
        attempted,
        claimed,
        delivered,
        failed,
        no_document,
    ] {
        assert_conflict(store.insert_delivery(&bad).await);
        refused.push(bad);
    }
    for bad in &refused {
        assert_eq!(store.get_delivery(&bad.id).await.unwrap(), None, "{bad:?}");
    }
    assert_eq!(store.get_delivery(&first.id).await.unwrap(), Some(first));
    // Exactly one job is waiting.
    assert_eq!(
        store
            .claim_deliveries(T0 + DAY, 1_000, 100)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn claim_then_complete_drops_the_document(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let job = delivery(&owner, T0 + 10);
    store.insert_delivery(&job).await.unwrap();

    // Not due yet.
    assert!(
        store
            .claim_deliveries(T0 + 9, 5_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Due: claimed once, with a lease.
    let claimed = store.claim_deliveries(T0 + 10, 5_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_claimed(&claimed[0], &job, T0 + 10, 5_000);
    assert_eq!(
        store.get_delivery(&job.id).await.unwrap().as_ref(),
        Some(&claimed[0])
    );
    // Leased: nobody else gets it.
    assert!(
        store
            .claim_deliveries(T0 + 11, 5_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claim = claimed[0].claim.clone().unwrap();
    let done = store
        .complete_delivery(&job.id, &claim, T0 + 20)
        .await
        .unwrap();
    assert_eq!(
        done,
        DeliveryRecord {
            state: DeliveryState::Delivered,
            document: None,
            attempts: 1,
            claim: None,
            lease_until: None,
            delivered_at: Some(T0 + 20),
            updated_at: T0 + 20,
            ..job.clone()
        }
    );
    assert_eq!(
        store.get_delivery(&job.id).await.unwrap(),
        Some(done.clone())
    );
    // Finished: never claimed again, and its outcome cannot be recorded again.
    assert!(
        store
            .claim_deliveries(T0 + DAY, 5_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_conflict(store.complete_delivery(&job.id, &claim, T0 + 30).await);
    assert_conflict(
        store
            .fail_delivery_attempt(&job.id, &claim, T0 + 30, "late", AttemptFailure::GiveUp)
            .await,
    );
    assert_eq!(store.get_delivery(&job.id).await.unwrap(), Some(done));
}

async fn failed_attempts_retry_then_give_up(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let job = delivery(&owner, T0);
    store.insert_delivery(&job).await.unwrap();

    // Attempt 1 fails: retried two seconds later, the claim released.
    let first = store.claim_deliveries(T0, 5_000, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    let retry = store
        .fail_delivery_attempt(
            &job.id,
            first[0].claim.as_deref().unwrap(),
            T0 + 100,
            "the destination answered HTTP 503",
            AttemptFailure::RetryAt(T0 + 2 * SECOND),
        )
        .await
        .unwrap();
    assert_eq!(
        retry,
        DeliveryRecord {
            attempts: 1,
            last_error: Some("the destination answered HTTP 503".into()),
            next_attempt_at: T0 + 2 * SECOND,
            updated_at: T0 + 100,
            ..job.clone()
        }
    );
    // Not before its time, even with the lease gone.
    assert!(
        store
            .claim_deliveries(T0 + 2 * SECOND - 1, 5_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Attempt 2 fails for good: given up, the document dropped.
    let second = store
        .claim_deliveries(T0 + 2 * SECOND, 5_000, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_claimed(&second[0], &retry, T0 + 2 * SECOND, 5_000);
    let failed = store
        .fail_delivery_attempt(
            &job.id,
            second[0].claim.as_deref().unwrap(),
            T0 + 3 * SECOND,
            "timed out",
            AttemptFailure::GiveUp,
        )
        .await
        .unwrap();
    assert_eq!(
        failed,
        DeliveryRecord {
            state: DeliveryState::Failed,
            document: None,
            attempts: 2,
            last_error: Some("timed out".into()),
            updated_at: T0 + 3 * SECOND,
            ..retry
        }
    );
    assert_eq!(store.get_delivery(&job.id).await.unwrap(), Some(failed));
    assert!(
        store
            .claim_deliveries(T0 + DAY, 5_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn claim_takes_due_jobs_earliest_first_up_to_the_limit(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    // Five jobs due at T0+50 … T0+10 (inserted latest first), one not due.
    let jobs: Vec<DeliveryRecord> = (1..=5)
        .rev()
        .map(|i| delivery(&owner, T0 + 10 * i))
        .collect();
    for job in &jobs {
        store.insert_delivery(job).await.unwrap();
    }
    store
        .insert_delivery(&delivery(&owner, T0 + DAY))
        .await
        .unwrap();

    assert!(
        store
            .claim_deliveries(T0 + 100, 1_000, 0)
            .await
            .unwrap()
            .is_empty()
    );
    let firsts = store.claim_deliveries(T0 + 100, 1_000, 2).await.unwrap();
    let ids = |l: &[DeliveryRecord]| l.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&firsts), vec![jobs[4].id.clone(), jobs[3].id.clone()]);
    assert_eq!(firsts[0].claim, firsts[1].claim, "one token per claim");
    let rest = store.claim_deliveries(T0 + 100, 1_000, 100).await.unwrap();
    assert_eq!(
        ids(&rest),
        vec![jobs[2].id.clone(), jobs[1].id.clone(), jobs[0].id.clone()]
    );
    assert_ne!(
        rest[0].claim, firsts[0].claim,
        "a new token for a new claim"
    );
    assert!(
        store
            .claim_deliveries(T0 + 100, 1_000, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A lease must be positive.
    assert_conflict(store.claim_deliveries(T0 + 100, 0, 10).await);
}

async fn concurrent_claimers_never_share_a_job(db: Ctx) {
    const JOBS: usize = 40;
    const CLAIMERS: usize = 8;
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let mut all = HashSet::new();
    for i in 0..JOBS {
        let job = delivery(&owner, T0 + i as i64);
        store.insert_delivery(&job).await.unwrap();
        all.insert(job.id);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(CLAIMERS));
    let tasks: Vec<_> = (0..CLAIMERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut mine = Vec::new();
                // Claim small batches until nothing is left.
                loop {
                    let claimed = store.claim_deliveries(T0 + 1_000, 60_000, 3).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed);
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut winners = 0;
    for task in tasks {
        let mine = task.await.unwrap();
        winners += usize::from(!mine.is_empty());
        for job in mine {
            assert_eq!(job.attempts, 1, "{} claimed twice", job.id);
            assert!(
                seen.insert(job.id.clone()),
                "{} went to two claimers",
                job.id
            );
        }
    }
    assert_eq!(seen, all, "every job was claimed");
    assert!(winners >= 1);
    for id in &all {
        assert_eq!(store.get_delivery(id).await.unwrap().unwrap().attempts, 1);
    }
}

async fn expired_lease_can_be_reclaimed(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let job = delivery(&owner, T0);
    store.insert_delivery(&job).await.unwrap();
    let first = store.claim_deliveries(T0, 1_000, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    let old_claim = first[0].claim.clone().unwrap();
    // Still leased a millisecond before the end.
    assert!(
        store
            .claim_deliveries(T0 + 999, 1_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The lease ran out (the first claimer died): another takes it over, one more attempt.
    let second = store.claim_deliveries(T0 + 1_000, 1_000, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_claimed(&second[0], &first[0], T0 + 1_000, 1_000);
    let new_claim = second[0].claim.clone().unwrap();
    assert_ne!(new_claim, old_claim);
    // The first claimer, back late, cannot record anything.
    assert_conflict(
        store
            .complete_delivery(&job.id, &old_claim, T0 + 1_500)
            .await,
    );
    assert_conflict(
        store
            .fail_delivery_attempt(
                &job.id,
                &old_claim,
                T0 + 1_500,
                "late",
                AttemptFailure::RetryAt(T0 + 9_000),
            )
            .await,
    );
    assert_eq!(
        store.get_delivery(&job.id).await.unwrap().as_ref(),
        Some(&second[0])
    );
    // The current holder can.
    let done = store
        .complete_delivery(&job.id, &new_claim, T0 + 1_600)
        .await
        .unwrap();
    assert_eq!(done.state, DeliveryState::Delivered);
    assert_eq!(done.attempts, 2);
}

async fn outcome_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let job = delivery(&owner, T0);
    store.insert_delivery(&job).await.unwrap();
    // Unknown delivery: NotFound.
    assert_not_found(store.complete_delivery(&new_id("dlv"), "clm_x", T0).await);
    assert_not_found(
        store
            .fail_delivery_attempt(&new_id("dlv"), "clm_x", T0, "x", AttemptFailure::GiveUp)
            .await,
    );
    // Never claimed, or claimed under another token: Conflict.
    assert_conflict(store.complete_delivery(&job.id, "clm_x", T0).await);
    assert_eq!(
        store.get_delivery(&job.id).await.unwrap(),
        Some(job.clone())
    );
    let claimed = store.claim_deliveries(T0, 1_000, 10).await.unwrap();
    assert_conflict(store.complete_delivery(&job.id, "clm_x", T0).await);
    assert_conflict(
        store
            .fail_delivery_attempt(&job.id, "clm_x", T0, "x", AttemptFailure::GiveUp)
            .await,
    );
    assert_eq!(
        store.get_delivery(&job.id).await.unwrap().as_ref(),
        Some(&claimed[0])
    );
}

// ---------------------------------------------------------------------------------------------
// Retained documents

async fn retained_insert_and_get(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let mut document = retained(&owner, T0, T0 + DAY);
    document.log_index = i64::MAX as u64;
    document.document = vec![0, 1, 2, 0xff];
    store.insert_retained(&document).await.unwrap();
    assert_eq!(
        store.get_retained(&document.id).await.unwrap(),
        Some(document)
    );
    assert_eq!(store.get_retained(&new_id("doc")).await.unwrap(), None);
}

async fn retained_insert_refusals(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let first = retained(&owner, T0, T0 + DAY);
    store.insert_retained(&first).await.unwrap();
    let mut same_id = retained(&owner, T0, T0 + DAY);
    same_id.id = first.id.clone();
    assert_conflict(store.insert_retained(&same_id).await);
    let mut unknown_subscriber = retained(&owner, T0, T0 + DAY);
    unknown_subscriber.subscriber = new_id("sub");
    let mut unknown_key = retained(&owner, T0, T0 + DAY);
    unknown_key.key_id = KeyId::random().to_string();
    let never_kept = retained(&owner, T0, T0);
    let mut too_far = retained(&owner, T0, T0 + DAY);
    too_far.log_index = u64::MAX;
    for bad in [unknown_subscriber, unknown_key, never_kept, too_far] {
        assert_conflict(store.insert_retained(&bad).await);
        assert_eq!(store.get_retained(&bad.id).await.unwrap(), None);
    }
    assert_eq!(store.get_retained(&first.id).await.unwrap(), Some(first));
}

async fn purge_removes_only_expired_documents(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let early = retained(&owner, T0, T0 + 10);
    let at_boundary = retained(&owner, T0, T0 + 20);
    let live = retained(&owner, T0, T0 + DAY);
    for d in [&early, &at_boundary, &live] {
        store.insert_retained(d).await.unwrap();
    }
    assert_eq!(
        store.purge_retained(T0 + 9).await.unwrap(),
        0,
        "none before"
    );
    assert_eq!(store.purge_retained(T0 + 20).await.unwrap(), 2);
    assert_eq!(
        store.purge_retained(T0 + 20).await.unwrap(),
        0,
        "nothing left"
    );
    assert_eq!(store.get_retained(&early.id).await.unwrap(), None);
    assert_eq!(store.get_retained(&at_boundary.id).await.unwrap(), None);
    assert_eq!(
        store.get_retained(&live.id).await.unwrap(),
        Some(live.clone())
    );
    assert_eq!(store.purge_retained(T0 + DAY).await.unwrap(), 1);
    assert_eq!(store.get_retained(&live.id).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Behind the store's back

async fn schema_refuses_invalid_rows(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let sub = &owner.subscriber;
    let dst = &owner.destination.id;
    let blob = if db.engine == Engine::Postgres {
        "'\\x00'::bytea"
    } else {
        "x'00'"
    };
    let row = |state: &str, document: &str, claim: &str, lease: &str, delivered: &str| {
        format!(
            "INSERT INTO deliveries (id, subscriber, destination_id, document_type, document, \
             document_digest, log_index, state, attempts, next_attempt_at, claim, lease_until, \
             created_at, updated_at, delivered_at) VALUES ('{}', '{sub}', '{dst}', 't', \
             {document}, 'd', 0, '{state}', 0, 0, {claim}, {lease}, 0, 0, {delivered})",
            new_id("dlv")
        )
    };
    for (what, sql) in [
        (
            "a plain-HTTP destination",
            format!(
                "INSERT INTO delivery_destinations (id, subscriber, url, created_at) VALUES \
                 ('{}', '{sub}', 'http://receiver.example/', 0)",
                new_id("dst")
            ),
        ),
        (
            "a destination URL over 2048 characters",
            format!(
                "INSERT INTO delivery_destinations (id, subscriber, url, created_at) VALUES \
                 ('{}', '{sub}', 'https://r.example/{}', 0)",
                new_id("dst"),
                "a".repeat(2048)
            ),
        ),
        (
            "an unknown state",
            row("sent", blob, "NULL", "NULL", "NULL"),
        ),
        (
            "a pending delivery without its document",
            row("pending", "NULL", "NULL", "NULL", "NULL"),
        ),
        (
            "a delivered one that keeps its document",
            row("delivered", blob, "NULL", "NULL", "1"),
        ),
        (
            "a delivered one without its time",
            row("delivered", "NULL", "NULL", "NULL", "NULL"),
        ),
        (
            "a failed one with a delivery time",
            row("failed", "NULL", "NULL", "NULL", "1"),
        ),
        (
            "a claim without a lease",
            row("pending", blob, "'clm_x'", "NULL", "NULL"),
        ),
        (
            "a finished one still claimed",
            row("failed", "NULL", "'clm_x'", "5", "NULL"),
        ),
        (
            "another subscriber's destination",
            format!(
                "INSERT INTO deliveries (id, subscriber, destination_id, document_type, \
                 document, document_digest, log_index, state, attempts, next_attempt_at, \
                 created_at, updated_at) VALUES ('{}', '{}', '{dst}', 't', {blob}, 'd', 0, \
                 'pending', 0, 0, 0, 0)",
                new_id("dlv"),
                self::owner(&*store).await.subscriber
            ),
        ),
        (
            "a retained document purged before it was kept",
            format!(
                "INSERT INTO retained_documents (id, subscriber, key_id, document_type, \
                 document, log_index, created_at, purge_at) VALUES ('{}', '{sub}', '{}', 't', \
                 {blob}, 0, 5, 5)",
                new_id("doc"),
                owner.key
            ),
        ),
    ] {
        assert!(
            db.try_exec(sql).await.is_err(),
            "the schema accepted {what}"
        );
    }
    // The control rows go in.
    db.exec(row("pending", blob, "'clm_x'", "5", "NULL")).await;
    db.exec(row("delivered", "NULL", "NULL", "NULL", "1")).await;
    db.exec(row("failed", "NULL", "NULL", "NULL", "NULL")).await;
    assert_eq!(db.query_i64("SELECT count(*) FROM deliveries").await, 3);
}

async fn undecodable_attempts_are_corrupt(db: Ctx) {
    let store = db.connect().await;
    let owner = owner(&*store).await;
    let job = delivery(&owner, T0);
    store.insert_delivery(&job).await.unwrap();
    // A count the schema allows but a record cannot hold.
    db.exec(format!(
        "UPDATE deliveries SET attempts = 4294967296 WHERE id = '{}'",
        job.id
    ))
    .await;
    match store.get_delivery(&job.id).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("attempts"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
