//! The operations part of the store (`OperationsStore`): every case is written once against
//! `Arc<dyn Store>` and runs on every engine, which must all behave the same:
//!
//! - `sqlite::<case>`: SQLite in a temporary file;
//! - `sqlite_memory::<case>`: SQLite `sqlite::memory:` (not the cases that reach the database
//!   behind the store's back);
//! - `postgres::<case>`: PostgreSQL at `INKAN_TEST_POSTGRES_URL` (default
//!   `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`), each test in a fresh schema of its
//!   own, dropped at the end. No PostgreSQL is a failure, never a skip: `bash .ci/run` starts it.
//!
//! The concurrent case races many tasks (on PostgreSQL, many pooled connections) on one
//! workflow record and checks that exactly one compare-and-set wins: two approvals at once must
//! not both count as the last one.

#![allow(clippy::unwrap_used)]

use inkan_store::auth::new_id;
use inkan_store::operations::{
    OperatorRole, OperatorRoleRecord, TerminalRecord, Termination, WorkflowKind, WorkflowRecord,
};
use inkan_store::{
    AccountRecord, AccountRole, AccountState, ActivationCodeRecord, ClientAuthMethod, ClientRecord,
    KeyState, SessionRecord, Store, StoreError, SubscriberKind, SubscriberRecord, SubscriberState,
};
use std::sync::Arc;

#[macro_use]
mod common;

use common::records::{MINUTE, T0, assert_conflict, assert_not_found, hash, new_key};
use common::{Ctx, Engine, run};

conformance!(
    every_engine: [
        operator_role_set_replace_get,
        operator_role_refusals_change_nothing,
        terminals_insert_get_list,
        terminal_insert_refusals_change_nothing,
        revoke_terminal_once,
        workflows_insert_get_list,
        workflow_insert_refusals_change_nothing,
        update_workflow_compares_and_sets,
        concurrent_workflow_updates_one_wins,
        terminate_subscriber_ends_its_use,
        terminate_unknown_subscriber_is_not_found,
        disable_account_once,
    ],
    outside: [
        schema_refuses_invalid_rows,
        undecodable_rows_are_corrupt,
    ],
);

// ---------------------------------------------------------------------------------------------
// Records

fn subscriber(created_at: i64) -> SubscriberRecord {
    SubscriberRecord {
        id: new_id("sub"),
        kind: SubscriberKind::Issuer,
        name: "Example 印鑑 Org".to_owned(),
        environment: "test".to_owned(),
        state: SubscriberState::Active,
        created_at,
    }
}

/// A pending account as the `auth` module creates one.
fn account(role: AccountRole, subscriber: Option<&str>) -> AccountRecord {
    AccountRecord {
        id: new_id("acc"),
        username: format!("name-{}", new_id("u")),
        role,
        subscriber: subscriber.map(str::to_owned),
        password_hash: None,
        totp_sealed: None,
        totp_pending: None,
        last_totp_step: None,
        failed_logins: 0,
        locked_until: None,
        state: AccountState::Pending,
        created_at: T0,
        updated_at: T0,
    }
}

fn code_for(account: &AccountRecord) -> ActivationCodeRecord {
    ActivationCodeRecord {
        code_hash: hash(),
        account_id: account.id.clone(),
        created_at: T0,
        expires_at: T0 + 10 * MINUTE,
        used_at: None,
    }
}

/// Stores a pending account with its activation code.
async fn insert_account(
    store: &dyn Store,
    role: AccountRole,
    subscriber: Option<&str>,
) -> AccountRecord {
    let acc = account(role, subscriber);
    let code = code_for(&acc);
    store.insert_account(&acc, &code).await.unwrap();
    acc
}

/// Stores a pending operator account.
async fn operator(store: &dyn Store) -> AccountRecord {
    insert_account(store, AccountRole::Operator, None).await
}

/// Stores an active user of `subscriber` (activated with TOTP step 100 at T0 + 1s).
async fn active_user(store: &dyn Store, subscriber: &str) -> AccountRecord {
    let acc = account(AccountRole::User, Some(subscriber));
    let code = code_for(&acc);
    store.insert_account(&acc, &code).await.unwrap();
    store
        .begin_activation(&code.code_hash, "$argon2id$pw", &[0, 0xff, 1], T0 + 500)
        .await
        .unwrap();
    let acc = store
        .complete_activation(&code.code_hash, 100, T0 + 1_000)
        .await
        .unwrap();
    assert_eq!(acc.state, AccountState::Active);
    acc
}

/// Stores a fresh active subscriber.
async fn new_subscriber(store: &dyn Store) -> SubscriberRecord {
    let sub = subscriber(T0);
    store.insert_subscriber(&sub).await.unwrap();
    sub
}

fn role(account_id: &str, role: OperatorRole, set_at: i64, set_by: &str) -> OperatorRoleRecord {
    OperatorRoleRecord {
        account_id: account_id.to_owned(),
        role,
        set_at,
        set_by: set_by.to_owned(),
    }
}

fn terminal(account_id: &str, registered_at: i64) -> TerminalRecord {
    TerminalRecord {
        // Unique per call, as a certificate's SHA-256 thumbprint is.
        thumbprint: format!("x5t-{}", uuid::Uuid::new_v4().simple()),
        account_id: account_id.to_owned(),
        name: format!("terminal 端末 {registered_at}"),
        registered_at,
        registered_by: "host:inkan-admin".to_owned(),
        revoked_at: None,
    }
}

fn workflow(kind: WorkflowKind, state: &str, created_at: i64) -> WorkflowRecord {
    let prefix = match kind {
        WorkflowKind::Application => "app",
        WorkflowKind::Approval => "apr",
    };
    let id = new_id(prefix);
    WorkflowRecord {
        kind,
        body: format!(r#"{{"id":"{id}","state":"{state}","note":"印鑑 \"x\""}}"#),
        id,
        state: state.to_owned(),
        version: 1,
        created_by: "acc_ra".to_owned(),
        created_at,
        updated_at: created_at,
    }
}

/// The next version of `record`: a new state and body, at `at`.
fn next(record: &WorkflowRecord, state: &str, at: i64) -> WorkflowRecord {
    WorkflowRecord {
        state: state.to_owned(),
        version: record.version + 1,
        body: format!(
            r#"{{"id":"{}","state":"{state}","v":{}}}"#,
            record.id,
            record.version + 1
        ),
        updated_at: at,
        ..record.clone()
    }
}

fn ids(records: &[WorkflowRecord]) -> Vec<&str> {
    records.iter().map(|r| r.id.as_str()).collect()
}

fn client(subscriber: &str) -> ClientRecord {
    ClientRecord {
        id: new_id("cli"),
        subscriber: subscriber.to_owned(),
        name: "billing system".to_owned(),
        auth_method: ClientAuthMethod::Mtls,
        certificate_thumbprint: Some(format!("cli-{}", uuid::Uuid::new_v4().simple())),
        jwk: None,
        scope: r#"{"keys":["*"],"operations":["sign"]}"#.to_owned(),
        active: true,
        created_at: T0,
    }
}

/// A live session of an account (expires in an hour).
fn account_session(account: &AccountRecord) -> SessionRecord {
    SessionRecord {
        id: new_id("ses"),
        account_id: Some(account.id.clone()),
        client_id: None,
        subscriber: account.subscriber.clone(),
        method: "password+totp".to_owned(),
        jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".to_owned()),
        x5t: None,
        scope: None,
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + 60 * MINUTE,
        revoked_at: None,
        revoked_reason: None,
    }
}

/// A live session of a client (expires in an hour).
fn client_session(client: &ClientRecord) -> SessionRecord {
    SessionRecord {
        id: new_id("ses"),
        account_id: None,
        client_id: Some(client.id.clone()),
        subscriber: Some(client.subscriber.clone()),
        method: "mtls".to_owned(),
        jkt: None,
        x5t: client.certificate_thumbprint.clone(),
        scope: Some(client.scope.clone()),
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + 60 * MINUTE,
        revoked_at: None,
        revoked_reason: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Operators' roles

async fn operator_role_set_replace_get(db: Ctx) {
    let store = db.connect().await;
    assert!(store.operator_roles().await.unwrap().is_empty());
    let a = operator(&*store).await;
    let b = operator(&*store).await;
    assert_eq!(store.operator_role(&a.id).await.unwrap(), None);

    let first = role(&a.id, OperatorRole::Admin, T0, "host:inkan-admin");
    store.set_operator_role(&first).await.unwrap();
    assert_eq!(
        store.operator_role(&a.id).await.unwrap(),
        Some(OperatorRole::Admin)
    );
    assert_eq!(store.operator_role(&b.id).await.unwrap(), None);
    assert_eq!(store.operator_roles().await.unwrap(), vec![first.clone()]);

    let of_b = role(&b.id, OperatorRole::Auditor, T0 + MINUTE, &a.id);
    store.set_operator_role(&of_b).await.unwrap();
    // By account id.
    let mut expected = vec![first, of_b.clone()];
    expected.sort_by(|x, y| x.account_id.cmp(&y.account_id));
    assert_eq!(store.operator_roles().await.unwrap(), expected);

    // Replaced whole (role, time and author), one record per account; every role round-trips.
    for (i, r) in [
        OperatorRole::RaOfficer,
        OperatorRole::KeyOfficer,
        OperatorRole::Auditor,
        OperatorRole::Admin,
        OperatorRole::KeyOfficer,
    ]
    .into_iter()
    .enumerate()
    {
        let at = T0 + (2 + i64::try_from(i).unwrap()) * MINUTE;
        let replacement = role(&a.id, r, at, &b.id);
        store.set_operator_role(&replacement).await.unwrap();
        assert_eq!(store.operator_role(&a.id).await.unwrap(), Some(r));
        let mut expected = vec![replacement, of_b.clone()];
        expected.sort_by(|x, y| x.account_id.cmp(&y.account_id));
        assert_eq!(store.operator_roles().await.unwrap(), expected);
    }
    // The other operator's role is its own.
    assert_eq!(
        store.operator_role(&b.id).await.unwrap(),
        Some(OperatorRole::Auditor)
    );
    assert_eq!(store.operator_role("acc_unknown").await.unwrap(), None);
}

async fn operator_role_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;
    let op = operator(&*store).await;
    let kept = role(&op.id, OperatorRole::RaOfficer, T0, "host:inkan-admin");
    store.set_operator_role(&kept).await.unwrap();

    // An account that is not registered.
    let unknown = new_id("acc");
    assert_not_found(
        store
            .set_operator_role(&role(&unknown, OperatorRole::Admin, T0, &op.id))
            .await,
    );
    assert_eq!(store.operator_role(&unknown).await.unwrap(), None);

    // A user's account, pending or active, is not an operator's.
    let sub = new_subscriber(&*store).await;
    let pending = insert_account(&*store, AccountRole::User, Some(&sub.id)).await;
    let active = active_user(&*store, &sub.id).await;
    for user in [&pending, &active] {
        for r in [OperatorRole::Admin, OperatorRole::Auditor] {
            assert_conflict(
                store
                    .set_operator_role(&role(&user.id, r, T0 + MINUTE, &op.id))
                    .await,
            );
        }
        assert_eq!(store.operator_role(&user.id).await.unwrap(), None);
    }
    // Nothing changed.
    assert_eq!(store.operator_roles().await.unwrap(), vec![kept]);
    assert_eq!(
        store.operator_role(&op.id).await.unwrap(),
        Some(OperatorRole::RaOfficer)
    );
}

// ---------------------------------------------------------------------------------------------
// Terminals

async fn terminals_insert_get_list(db: Ctx) {
    let store = db.connect().await;
    assert!(store.terminals().await.unwrap().is_empty());
    let a = operator(&*store).await;
    let b = operator(&*store).await;

    // Registered out of age order, so that the order asked cannot come from insertion.
    let newest = terminal(&a.id, T0 + 2 * MINUTE);
    let oldest = terminal(&a.id, T0);
    let middle = TerminalRecord {
        // A terminal inserted revoked keeps its revocation.
        revoked_at: Some(T0 + 3 * MINUTE),
        ..terminal(&b.id, T0 + MINUTE)
    };
    assert_eq!(store.get_terminal(&newest.thumbprint).await.unwrap(), None);
    for t in [&newest, &oldest, &middle] {
        store.insert_terminal(t).await.unwrap();
        assert_eq!(
            store.get_terminal(&t.thumbprint).await.unwrap().as_ref(),
            Some(t)
        );
    }
    assert_eq!(
        store.terminals().await.unwrap(),
        vec![oldest.clone(), middle.clone(), newest.clone()]
    );
    assert_eq!(store.get_terminal("x5t-unknown").await.unwrap(), None);
}

async fn terminal_insert_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;
    let a = operator(&*store).await;
    let b = operator(&*store).await;
    let kept = terminal(&a.id, T0);
    store.insert_terminal(&kept).await.unwrap();

    // The same certificate again: for the same operator, for another one, under another name.
    for again in [
        terminal(&a.id, T0 + MINUTE),
        terminal(&b.id, T0 + MINUTE),
        TerminalRecord {
            name: "another name".to_owned(),
            ..kept.clone()
        },
    ] {
        let again = TerminalRecord {
            thumbprint: kept.thumbprint.clone(),
            ..again
        };
        assert_conflict(store.insert_terminal(&again).await);
        assert_eq!(
            store.get_terminal(&kept.thumbprint).await.unwrap().as_ref(),
            Some(&kept)
        );
    }

    // An account that is not registered.
    let orphan = terminal(&new_id("acc"), T0 + MINUTE);
    assert_not_found(store.insert_terminal(&orphan).await);
    assert_eq!(store.get_terminal(&orphan.thumbprint).await.unwrap(), None);

    // A revoked certificate is still taken.
    store
        .revoke_terminal(&kept.thumbprint, T0 + 2 * MINUTE)
        .await
        .unwrap();
    let revoked = TerminalRecord {
        revoked_at: Some(T0 + 2 * MINUTE),
        ..kept.clone()
    };
    assert_conflict(
        store
            .insert_terminal(&TerminalRecord {
                thumbprint: kept.thumbprint.clone(),
                ..terminal(&b.id, T0 + 3 * MINUTE)
            })
            .await,
    );
    assert_eq!(store.terminals().await.unwrap(), vec![revoked]);
}

async fn revoke_terminal_once(db: Ctx) {
    let store = db.connect().await;
    let op = operator(&*store).await;
    let revoked = terminal(&op.id, T0);
    let other = terminal(&op.id, T0 + MINUTE);
    for t in [&revoked, &other] {
        store.insert_terminal(t).await.unwrap();
    }

    let at = T0 + 5 * MINUTE;
    store
        .revoke_terminal(&revoked.thumbprint, at)
        .await
        .unwrap();
    let expected = TerminalRecord {
        revoked_at: Some(at),
        ..revoked.clone()
    };
    assert_eq!(
        store
            .get_terminal(&revoked.thumbprint)
            .await
            .unwrap()
            .as_ref(),
        Some(&expected)
    );
    // The other terminal is untouched.
    assert_eq!(
        store
            .get_terminal(&other.thumbprint)
            .await
            .unwrap()
            .as_ref(),
        Some(&other)
    );

    // Revoking again is NotFound, and keeps the first time.
    assert_not_found(
        store
            .revoke_terminal(&revoked.thumbprint, at + MINUTE)
            .await,
    );
    assert_eq!(
        store
            .get_terminal(&revoked.thumbprint)
            .await
            .unwrap()
            .as_ref(),
        Some(&expected)
    );
    assert_not_found(store.revoke_terminal("x5t-unknown", at).await);
    assert_eq!(store.get_terminal("x5t-unknown").await.unwrap(), None);

    // Still listed, revoked.
    assert_eq!(store.terminals().await.unwrap(), vec![expected, other]);
}

// ---------------------------------------------------------------------------------------------
// Workflows

async fn workflows_insert_get_list(db: Ctx) {
    let store = db.connect().await;
    let app = WorkflowKind::Application;
    assert!(
        store
            .list_workflows(app, None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Created out of age order, so that the order asked cannot come from insertion.
    let newest = workflow(app, "submitted", T0 + 2 * MINUTE);
    let oldest = workflow(app, "approved", T0);
    let middle = workflow(app, "submitted", T0 + MINUTE);
    let later = workflow(app, "rejected", T0 + 3 * MINUTE);
    // The same id under the other kind is another record.
    let request = WorkflowRecord {
        kind: WorkflowKind::Approval,
        id: newest.id.clone(),
        ..workflow(WorkflowKind::Approval, "submitted", T0 - MINUTE)
    };
    let other_request = workflow(WorkflowKind::Approval, "executed", T0 + MINUTE);
    assert_eq!(store.get_workflow(app, &newest.id).await.unwrap(), None);
    for w in [&newest, &oldest, &later, &middle, &request, &other_request] {
        store.insert_workflow(w).await.unwrap();
        assert_eq!(
            store.get_workflow(w.kind, &w.id).await.unwrap().as_ref(),
            Some(w)
        );
    }
    assert_eq!(
        store
            .get_workflow(WorkflowKind::Approval, &newest.id)
            .await
            .unwrap(),
        Some(request.clone())
    );
    assert_eq!(
        store.get_workflow(app, &newest.id).await.unwrap(),
        Some(newest.clone())
    );
    assert_eq!(
        store
            .get_workflow(WorkflowKind::Approval, &oldest.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.get_workflow(app, "app_unknown").await.unwrap(), None);

    // By kind, oldest first, whole records.
    assert_eq!(
        store.list_workflows(app, None, 100).await.unwrap(),
        vec![
            oldest.clone(),
            middle.clone(),
            newest.clone(),
            later.clone()
        ]
    );
    assert_eq!(
        store
            .list_workflows(WorkflowKind::Approval, None, 100)
            .await
            .unwrap(),
        vec![request.clone(), other_request.clone()]
    );
    // In a state.
    let listed = store
        .list_workflows(app, Some("submitted"), 100)
        .await
        .unwrap();
    assert_eq!(listed, vec![middle.clone(), newest.clone()]);
    assert_eq!(
        ids(&store
            .list_workflows(WorkflowKind::Approval, Some("submitted"), 100)
            .await
            .unwrap()),
        [request.id.as_str()]
    );
    assert_eq!(
        ids(&store
            .list_workflows(app, Some("approved"), 100)
            .await
            .unwrap()),
        [oldest.id.as_str()]
    );
    assert!(
        store
            .list_workflows(app, Some("executed"), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_workflows(app, Some(""), 100)
            .await
            .unwrap()
            .is_empty()
    );
    // At most `limit`, the oldest.
    assert_eq!(
        ids(&store.list_workflows(app, None, 2).await.unwrap()),
        [oldest.id.as_str(), middle.id.as_str()]
    );
    assert_eq!(
        ids(&store
            .list_workflows(app, Some("submitted"), 1)
            .await
            .unwrap()),
        [middle.id.as_str()]
    );
    assert_eq!(
        ids(&store.list_workflows(app, None, 4).await.unwrap()),
        ids(&[oldest, middle, newest, later])
    );
    assert!(store.list_workflows(app, None, 0).await.unwrap().is_empty());
}

async fn workflow_insert_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;
    let app = WorkflowKind::Application;
    // A new record has version 1.
    for version in [0, 2, 7, -1] {
        let w = WorkflowRecord {
            version,
            ..workflow(app, "submitted", T0)
        };
        assert_conflict(store.insert_workflow(&w).await);
        assert_eq!(store.get_workflow(app, &w.id).await.unwrap(), None);
    }
    assert!(
        store
            .list_workflows(app, None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // The id is taken: whatever the rest of the record says.
    let kept = workflow(app, "submitted", T0);
    store.insert_workflow(&kept).await.unwrap();
    for again in [
        kept.clone(),
        WorkflowRecord {
            id: kept.id.clone(),
            ..workflow(app, "approved", T0 + MINUTE)
        },
    ] {
        assert_conflict(store.insert_workflow(&again).await);
        assert_eq!(
            store.get_workflow(app, &kept.id).await.unwrap().as_ref(),
            Some(&kept)
        );
    }
    assert_eq!(
        store.list_workflows(app, None, 100).await.unwrap(),
        vec![kept]
    );
}

async fn update_workflow_compares_and_sets(db: Ctx) {
    let store = db.connect().await;
    let app = WorkflowKind::Application;
    let v1 = workflow(app, "submitted", T0);
    let bystander = workflow(app, "submitted", T0 + MINUTE);
    store.insert_workflow(&v1).await.unwrap();
    store.insert_workflow(&bystander).await.unwrap();

    // Version 1 → 2: state, body, version and time replaced; the creation kept.
    let v2 = next(&v1, "proofed", T0 + 2 * MINUTE);
    assert!(store.update_workflow(&v2).await.unwrap());
    assert_eq!(
        store.get_workflow(app, &v1.id).await.unwrap().as_ref(),
        Some(&v2)
    );

    // A change made from version 1 lost the race: false, nothing written.
    let stale = next(&v1, "rejected", T0 + 3 * MINUTE);
    assert_eq!(stale.version, 2);
    assert!(!store.update_workflow(&stale).await.unwrap());
    // Neither may a version be skipped, or an old one written again.
    let skipped = next(
        &next(&v2, "approved", T0 + 3 * MINUTE),
        "x",
        T0 + 3 * MINUTE,
    );
    assert_eq!(skipped.version, 4);
    assert!(!store.update_workflow(&skipped).await.unwrap());
    assert!(!store.update_workflow(&v1).await.unwrap());
    assert!(!store.update_workflow(&v2).await.unwrap());
    assert_eq!(
        store.get_workflow(app, &v1.id).await.unwrap().as_ref(),
        Some(&v2)
    );

    // Version 2 → 3, listed by its new state.
    let v3 = next(&v2, "approved", T0 + 4 * MINUTE);
    assert!(store.update_workflow(&v3).await.unwrap());
    assert_eq!(
        store.get_workflow(app, &v1.id).await.unwrap().as_ref(),
        Some(&v3)
    );
    assert_eq!(
        store
            .list_workflows(app, Some("approved"), 10)
            .await
            .unwrap(),
        vec![v3.clone()]
    );
    assert_eq!(
        store
            .list_workflows(app, Some("submitted"), 10)
            .await
            .unwrap(),
        vec![bystander.clone()]
    );

    // No such record: NotFound, under another id or the other kind.
    assert_not_found(
        store
            .update_workflow(&WorkflowRecord {
                id: new_id("app"),
                ..next(&v3, "executed", T0 + 5 * MINUTE)
            })
            .await,
    );
    assert_not_found(
        store
            .update_workflow(&WorkflowRecord {
                kind: WorkflowKind::Approval,
                ..next(&v3, "executed", T0 + 5 * MINUTE)
            })
            .await,
    );
    assert_eq!(
        store
            .get_workflow(WorkflowKind::Approval, &v1.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_workflow(app, &v1.id).await.unwrap().as_ref(),
        Some(&v3)
    );
    assert_eq!(
        store
            .get_workflow(app, &bystander.id)
            .await
            .unwrap()
            .as_ref(),
        Some(&bystander)
    );
}

async fn concurrent_workflow_updates_one_wins(db: Ctx) {
    const TASKS: usize = 8;
    let store = db.connect().await;
    let v1 = workflow(WorkflowKind::Approval, "pending", T0);
    store.insert_workflow(&v1).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let candidate = next(&v1, &format!("approved-by-{i}"), T0 + MINUTE);
            tokio::spawn(async move {
                barrier.wait().await;
                let won = store.update_workflow(&candidate).await.unwrap();
                (won, candidate)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (won, candidate) = task.await.unwrap();
        if won {
            winners.push(candidate);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one change from version 1 wins");
    assert_eq!(
        store
            .get_workflow(WorkflowKind::Approval, &v1.id)
            .await
            .unwrap(),
        winners.pop()
    );
}

// ---------------------------------------------------------------------------------------------
// Termination

async fn terminate_subscriber_ends_its_use(db: Ctx) {
    let store = db.connect().await;
    let sub = new_subscriber(&*store).await;
    let active = active_user(&*store, &sub.id).await;
    let pending = insert_account(&*store, AccountRole::User, Some(&sub.id)).await;
    let cli = client(&sub.id);
    store.insert_client(&cli).await.unwrap();
    let key = new_key(&sub.id);
    store.insert_key(&key).await.unwrap();

    // Another subscriber, and an operator: not touched.
    let other = new_subscriber(&*store).await;
    let other_user = active_user(&*store, &other.id).await;
    let other_client = client(&other.id);
    store.insert_client(&other_client).await.unwrap();
    let op = operator(&*store).await;

    let of_user = account_session(&active);
    let of_client = client_session(&cli);
    // Ended before: keeps its own revocation.
    let logged_out = SessionRecord {
        revoked_at: Some(T0 + 1),
        revoked_reason: Some("logout".to_owned()),
        ..account_session(&active)
    };
    let elsewhere = account_session(&other_user);
    let of_other_client = client_session(&other_client);
    let of_operator = account_session(&op);
    for s in [
        &of_user,
        &of_client,
        &logged_out,
        &elsewhere,
        &of_other_client,
        &of_operator,
    ] {
        store.insert_session(s, &[]).await.unwrap();
    }
    let untouched_accounts = [
        store.get_account(&other_user.id).await.unwrap().unwrap(),
        store.get_account(&op.id).await.unwrap().unwrap(),
    ];

    let now = T0 + 10 * MINUTE;
    let reason = "subscriber terminated: contract ended";
    assert_eq!(
        store
            .terminate_subscriber(&sub.id, reason, now)
            .await
            .unwrap(),
        Termination {
            accounts: 2,
            clients: 1,
            sessions: 2,
        }
    );

    // The subscriber is terminated, nothing else of it changed.
    assert_eq!(
        store.get_subscriber(&sub.id).await.unwrap(),
        Some(SubscriberRecord {
            state: SubscriberState::Terminated,
            ..sub.clone()
        })
    );
    // Both accounts disabled, whatever state they were in.
    for acc in [&active, &pending] {
        let got = store.get_account(&acc.id).await.unwrap().unwrap();
        assert_eq!(
            got,
            AccountRecord {
                state: AccountState::Disabled,
                updated_at: now,
                ..acc.clone()
            },
            "{}",
            acc.id
        );
    }
    // The client switched off.
    assert_eq!(
        store.get_client(&cli.id).await.unwrap(),
        Some(ClientRecord {
            active: false,
            ..cli.clone()
        })
    );
    // Its live sessions revoked with the reason; an ended one keeps its own.
    for s in [&of_user, &of_client] {
        assert_eq!(
            store.get_session(&s.id).await.unwrap(),
            Some(SessionRecord {
                revoked_at: Some(now),
                revoked_reason: Some(reason.to_owned()),
                ..s.clone()
            }),
            "{}",
            s.id
        );
    }
    assert_eq!(
        store.get_session(&logged_out.id).await.unwrap().as_ref(),
        Some(&logged_out)
    );
    // Its keys are the caller's to destroy.
    assert_eq!(
        store.get_key(&key.id).await.unwrap().map(|k| k.state),
        Some(KeyState::Active)
    );

    // The other subscriber and the operator: untouched.
    assert_eq!(store.get_subscriber(&other.id).await.unwrap(), Some(other));
    for acc in &untouched_accounts {
        assert_eq!(
            store.get_account(&acc.id).await.unwrap().as_ref(),
            Some(acc)
        );
    }
    assert_eq!(
        store.get_client(&other_client.id).await.unwrap(),
        Some(other_client)
    );
    for s in [&elsewhere, &of_other_client, &of_operator] {
        assert_eq!(
            store.get_session(&s.id).await.unwrap().as_ref(),
            Some(s),
            "{}",
            s.id
        );
    }

    // Again: the subscriber is found, nothing is left to change.
    assert_eq!(
        store
            .terminate_subscriber(&sub.id, "again", now + MINUTE)
            .await
            .unwrap(),
        Termination::default()
    );
    assert_eq!(
        store
            .get_session(&of_user.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_reason
            .as_deref(),
        Some(reason)
    );
    assert_eq!(
        store
            .get_account(&active.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        now
    );
}

async fn terminate_unknown_subscriber_is_not_found(db: Ctx) {
    let store = db.connect().await;
    let sub = new_subscriber(&*store).await;
    let user = active_user(&*store, &sub.id).await;
    let session = account_session(&user);
    store.insert_session(&session, &[]).await.unwrap();

    let unknown = new_id("sub");
    assert_not_found(
        store
            .terminate_subscriber(&unknown, "terminated", T0 + MINUTE)
            .await,
    );
    assert_eq!(store.get_subscriber(&unknown).await.unwrap(), None);
    // Nothing of anyone else changed.
    assert_eq!(store.get_subscriber(&sub.id).await.unwrap(), Some(sub));
    assert_eq!(
        store.get_account(&user.id).await.unwrap().as_ref(),
        Some(&user)
    );
    assert_eq!(store.get_session(&session.id).await.unwrap(), Some(session));
}

async fn disable_account_once(db: Ctx) {
    let store = db.connect().await;
    let sub = new_subscriber(&*store).await;
    let user = active_user(&*store, &sub.id).await;
    let other = active_user(&*store, &sub.id).await;
    assert!(store.disable_account(&user.id, T0 + MINUTE).await.unwrap());
    let disabled = store.get_account(&user.id).await.unwrap().unwrap();
    assert_eq!(disabled.state, AccountState::Disabled);
    assert_eq!(disabled.updated_at, T0 + MINUTE);
    // Again: nothing to do, the first time stays.
    assert!(
        !store
            .disable_account(&user.id, T0 + 2 * MINUTE)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_account(&user.id)
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        T0 + MINUTE
    );
    assert_not_found(store.disable_account(&new_id("acc"), T0).await);
    // Nobody else changed.
    assert_eq!(store.get_account(&other.id).await.unwrap(), Some(other));
}

// ---------------------------------------------------------------------------------------------
// Behind the store's back

async fn schema_refuses_invalid_rows(db: Ctx) {
    let store = db.connect().await;
    let op = operator(&*store).await;
    let op = &op.id;
    let role_row = |account: &str, role: &str| {
        format!(
            "INSERT INTO operator_roles (account_id, role, set_at, set_by) \
             VALUES ('{account}', '{role}', 0, 'op')"
        )
    };
    let terminal_row = |thumbprint: &str, account: &str| {
        format!(
            "INSERT INTO operator_terminals \
             (thumbprint, account_id, name, registered_at, registered_by) \
             VALUES ('{thumbprint}', '{account}', 'desk', 0, 'op')"
        )
    };
    let workflow_row = |kind: &str, id: &str, version: &str| {
        format!(
            "INSERT INTO workflows \
             (kind, id, state, version, body, created_by, created_at, updated_at) \
             VALUES ('{kind}', '{id}', 'submitted', {version}, '{{}}', 'op', 0, 0)"
        )
    };
    let refused = [
        ("an unknown role", role_row(op, "root")),
        ("a role of an unknown account", role_row("acc_x", "admin")),
        (
            "a terminal of an unknown account",
            terminal_row("t1", "acc_x"),
        ),
        ("an unknown kind", workflow_row("request", "w1", "1")),
        ("a version 0", workflow_row("application", "w1", "0")),
        ("a negative version", workflow_row("approval", "w1", "-1")),
        ("a text version", workflow_row("approval", "w1", "'one'")),
    ];
    for (what, sql) in refused {
        assert!(
            db.try_exec(sql).await.is_err(),
            "the schema accepted {what}"
        );
    }
    // The same rows, complete, are accepted: the refusals above are the constraints', not a
    // typo's. Then one role per account, one terminal per thumbprint, one record per id.
    db.exec(role_row(op, "auditor")).await;
    assert!(db.try_exec(role_row(op, "admin")).await.is_err());
    db.exec(terminal_row("t1", op)).await;
    assert!(db.try_exec(terminal_row("t1", op)).await.is_err());
    db.exec(workflow_row("application", "w1", "1")).await;
    db.exec(workflow_row("approval", "w1", "1")).await;
    assert!(
        db.try_exec(workflow_row("approval", "w1", "2"))
            .await
            .is_err()
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM operator_roles").await, 1);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM operator_terminals")
            .await,
        1
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM workflows").await, 2);
    assert_eq!(
        store.operator_role(op).await.unwrap(),
        Some(OperatorRole::Auditor)
    );
}

async fn undecodable_rows_are_corrupt(db: Ctx) {
    let store = db.connect().await;
    let op = operator(&*store).await;
    store
        .set_operator_role(&role(&op.id, OperatorRole::Admin, T0, "host:x"))
        .await
        .unwrap();
    let w = workflow(WorkflowKind::Application, "submitted", T0);
    store.insert_workflow(&w).await.unwrap();
    // What a newer version might write: names this one does not know. The CHECKs would refuse
    // them, so they are set aside for the occasion.
    let unchecked = |table: &str, constraint: &str, update: String| match db.engine {
        Engine::Postgres => {
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}; {update}")
        }
        _ => format!("PRAGMA ignore_check_constraints = ON; {update}"),
    };
    db.exec(unchecked(
        "operator_roles",
        "operator_roles_role_check",
        format!(
            "UPDATE operator_roles SET role = 'superuser' WHERE account_id = '{}'",
            op.id
        ),
    ))
    .await;
    for result in [
        store.operator_role(&op.id).await.map(drop),
        store.operator_roles().await.map(drop),
    ] {
        match result {
            Err(StoreError::Corrupt(m)) => assert!(m.contains("role"), "{m}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    db.exec(unchecked(
        "workflows",
        "workflows_kind_check",
        format!(
            "UPDATE workflows SET kind = 'petition' WHERE id = '{}'",
            w.id
        ),
    ))
    .await;
    // Not found under a kind it no longer has; listed by none; corrupt once read.
    assert_eq!(
        store
            .get_workflow(WorkflowKind::Application, &w.id)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .list_workflows(WorkflowKind::Application, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    db.exec(format!(
        "UPDATE workflows SET kind = 'application' WHERE id = '{}'",
        w.id
    ))
    .await;
    assert_eq!(
        store
            .get_workflow(WorkflowKind::Application, &w.id)
            .await
            .unwrap(),
        Some(w)
    );
}
