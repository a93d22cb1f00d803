//! The authentication part of the store (`AuthStore`): every case is written once against
//! `Arc<dyn Store>` and runs on every engine, which must all behave the same:
//!
//! - `sqlite::<case>`: SQLite in a temporary file;
//! - `sqlite_memory::<case>`: SQLite `sqlite::memory:` (not the cases that reach the database
//!   behind the store's back);
//! - `postgres::<case>`: PostgreSQL at `INKAN_TEST_POSTGRES_URL` (default
//!   `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`), each test in a fresh schema of its
//!   own, dropped at the end. No PostgreSQL is a failure, never a skip: `bash .ci/run` starts it.
//!
//! The concurrent cases race many tasks (on PostgreSQL, many pooled connections) on one record
//! and check that exactly one wins: the atomicity the `auth` module relies on across nodes.

#![allow(clippy::unwrap_used)]

use inkan_store::auth::new_id;
use inkan_store::{
    AccountRecord, AccountRole, AccountState, ActivationCodeRecord, Attempt, ClientAuthMethod,
    ClientRecord, KeyPinRecord, Rotation, SessionRecord, Store, StoreError, SubscriberKind,
    SubscriberRecord, SubscriberState, TokenKind, TokenRecord,
};
use std::sync::Arc;

#[macro_use]
mod common;

use common::records::{MINUTE, T0, assert_conflict, assert_not_found, hash, new_key};
use common::{Ctx, Engine, run};

conformance!(
    every_engine: [
        subscribers_insert_get_list,
        accounts_insert_and_get,
        account_insert_refusals_change_nothing,
        activation_happy_path,
        begin_activation_twice_replaces_the_pending_seed,
        activation_refusals_change_nothing,
        concurrent_activation_completes_once,
        replace_activation_code_starts_activation_over,
        replace_activation_code_refusals_change_nothing,
        concurrent_replacements_and_completions,
        attempts_count_before_checking_and_lock_at_max,
        login_success_resets_and_refuses_a_used_step,
        a_success_never_lifts_a_lock_set_meanwhile,
        concurrent_attempts_admit_at_most_max,
        concurrent_logins_with_one_step_one_wins,
        sessions_insert_get_touch,
        session_insert_refusals_change_nothing,
        rotate_refresh_token_rotated_reused_unknown,
        rotate_refuses_expired_and_foreign_tokens,
        concurrent_rotations_one_wins,
        revoke_session_is_idempotent,
        cache_epoch_moves_when_a_session_or_token_changes,
        revoke_subscriber_sessions_counts_accounts_and_clients,
        purge_sessions_deletes_what_ended,
        remember_once_new_replay_expired,
        concurrent_remember_once_one_wins,
        clients_insert_get_by_thumbprint_list,
        key_pins_set_replace_get,
    ],
    outside: [
        schema_refuses_invalid_rows,
        out_of_range_counter_is_corrupt,
        remember_once_forgets_expired_ids,
    ],
);

// ---------------------------------------------------------------------------------------------
// Records

fn subscriber(kind: SubscriberKind, created_at: i64) -> SubscriberRecord {
    SubscriberRecord {
        id: new_id("sub"),
        kind,
        name: "Example 印鑑 \"Org\"".to_owned(),
        environment: "test".to_owned(),
        state: SubscriberState::Active,
        created_at,
    }
}

/// A pending account as the `auth` module creates one.
fn account(role: AccountRole, subscriber: Option<&str>, username: &str) -> AccountRecord {
    AccountRecord {
        id: new_id("acc"),
        username: username.to_owned(),
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

fn code_for(account: &AccountRecord, expires_at: i64) -> ActivationCodeRecord {
    ActivationCodeRecord {
        code_hash: hash(),
        account_id: account.id.clone(),
        created_at: T0,
        expires_at,
        used_at: None,
    }
}

/// Binary bytes with NUL and 0xff, as a sealed seed is.
fn sealed(seed: u8) -> Vec<u8> {
    let mut v = vec![0, 0xff, seed];
    v.extend((0..=255u8).map(|b| b.wrapping_add(seed)));
    v
}

/// Stores a subscriber and a pending user of it (code valid for 10 minutes).
async fn pending_user(
    store: &dyn Store,
) -> (SubscriberRecord, AccountRecord, ActivationCodeRecord) {
    let sub = subscriber(SubscriberKind::Issuer, T0);
    store.insert_subscriber(&sub).await.unwrap();
    let acc = account(
        AccountRole::User,
        Some(&sub.id),
        &format!("user-{}", new_id("u")),
    );
    let code = code_for(&acc, T0 + 10 * MINUTE);
    store.insert_account(&acc, &code).await.unwrap();
    (sub, acc, code)
}

/// Stores an active user (activated with TOTP step 100 at T0 + 1s).
async fn active_user(store: &dyn Store) -> (SubscriberRecord, AccountRecord) {
    let (sub, _, code) = pending_user(store).await;
    store
        .begin_activation(&code.code_hash, "$argon2id$pw", &sealed(1), T0 + 500)
        .await
        .unwrap();
    let acc = store
        .complete_activation(&code.code_hash, 100, T0 + 1_000)
        .await
        .unwrap();
    (sub, acc)
}

fn client(subscriber: &str, thumbprint: Option<&str>, created_at: i64) -> ClientRecord {
    ClientRecord {
        id: new_id("cli"),
        subscriber: subscriber.to_owned(),
        name: "billing system".to_owned(),
        auth_method: if thumbprint.is_some() {
            ClientAuthMethod::Mtls
        } else {
            ClientAuthMethod::PrivateKeyJwt
        },
        certificate_thumbprint: thumbprint.map(str::to_owned),
        jwk: thumbprint.is_none().then(|| {
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
                .to_owned()
        }),
        scope: r#"{"keys":["*"],"operations":["sign"]}"#.to_owned(),
        active: true,
        created_at,
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
        x5t: Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".to_owned()),
        scope: Some(client.scope.clone()),
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + 60 * MINUTE,
        revoked_at: None,
        revoked_reason: None,
    }
}

fn token(
    session: &SessionRecord,
    kind: TokenKind,
    created_at: i64,
    expires_at: i64,
) -> TokenRecord {
    TokenRecord {
        token_hash: hash(),
        session_id: session.id.clone(),
        kind,
        created_at,
        expires_at,
        used_at: None,
    }
}

/// An access token (5 minutes) and a refresh token (30 minutes) issued at `at`.
fn pair(session: &SessionRecord, at: i64) -> [TokenRecord; 2] {
    [
        token(session, TokenKind::Access, at, at + 5 * MINUTE),
        token(session, TokenKind::Refresh, at, at + 30 * MINUTE),
    ]
}

/// Stores an active user with a session and its first token pair.
async fn user_session(store: &dyn Store) -> (AccountRecord, SessionRecord, [TokenRecord; 2]) {
    let (_, acc) = active_user(store).await;
    let session = account_session(&acc);
    let tokens = pair(&session, T0);
    store.insert_session(&session, &tokens).await.unwrap();
    (acc, session, tokens)
}

// ---------------------------------------------------------------------------------------------
// Subscribers and accounts

async fn subscribers_insert_get_list(db: Ctx) {
    let store = db.connect().await;
    assert!(store.list_subscribers().await.unwrap().is_empty());

    let issuer = subscriber(SubscriberKind::Issuer, T0 + 20);
    let mut holder = subscriber(SubscriberKind::Holder, T0 + 10);
    holder.state = SubscriberState::Terminated;
    holder.environment = "production".to_owned();
    for s in [&issuer, &holder] {
        store.insert_subscriber(s).await.unwrap();
    }
    assert_eq!(
        store.get_subscriber(&issuer.id).await.unwrap(),
        Some(issuer.clone())
    );
    assert_eq!(
        store.get_subscriber(&holder.id).await.unwrap(),
        Some(holder.clone())
    );
    assert_eq!(store.get_subscriber(&new_id("sub")).await.unwrap(), None);
    // Oldest first, not insertion order.
    assert_eq!(
        store.list_subscribers().await.unwrap(),
        vec![holder.clone(), issuer.clone()]
    );

    // The same id again: refused, nothing changed.
    let mut same_id = subscriber(SubscriberKind::Holder, T0 + 30);
    same_id.id = issuer.id.clone();
    assert_conflict(store.insert_subscriber(&same_id).await);
    assert_eq!(
        store.get_subscriber(&issuer.id).await.unwrap(),
        Some(issuer)
    );
    assert_eq!(store.list_subscribers().await.unwrap().len(), 2);
}

async fn accounts_insert_and_get(db: Ctx) {
    let store = db.connect().await;
    let sub = subscriber(SubscriberKind::Issuer, T0);
    store.insert_subscriber(&sub).await.unwrap();

    // Every optional field set, none at its default.
    let mut user = account(AccountRole::User, Some(&sub.id), "Alice.Example");
    user.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned());
    user.totp_sealed = Some(sealed(7));
    user.totp_pending = Some(sealed(8));
    user.last_totp_step = Some(58_000_000);
    user.failed_logins = u32::MAX;
    user.locked_until = Some(T0 + 99);
    user.state = AccountState::Disabled;
    user.updated_at = T0 + 5;
    let user_code = code_for(&user, T0 + MINUTE);
    store.insert_account(&user, &user_code).await.unwrap();

    let operator = account(AccountRole::Operator, None, "root");
    let mut operator_code = code_for(&operator, T0 + MINUTE);
    operator_code.used_at = Some(T0 + 1);
    store
        .insert_account(&operator, &operator_code)
        .await
        .unwrap();

    assert_eq!(
        store.get_account(&user.id).await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        store.get_account(&operator.id).await.unwrap(),
        Some(operator.clone())
    );
    assert_eq!(store.get_account(&new_id("acc")).await.unwrap(), None);
    assert_eq!(
        store
            .get_account_by_username("Alice.Example")
            .await
            .unwrap(),
        Some(user.clone())
    );
    assert_eq!(
        store.get_account_by_username("root").await.unwrap(),
        Some(operator)
    );
    // Usernames compare exactly.
    for other in ["alice.example", "Alice.Example ", "Alice"] {
        assert_eq!(store.get_account_by_username(other).await.unwrap(), None);
    }
    assert_eq!(
        store
            .get_activation_code(&user_code.code_hash)
            .await
            .unwrap(),
        Some(user_code)
    );
    assert_eq!(
        store
            .get_activation_code(&operator_code.code_hash)
            .await
            .unwrap(),
        Some(operator_code)
    );
    assert_eq!(store.get_activation_code(&hash()).await.unwrap(), None);
}

async fn account_insert_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;
    let (sub, first, first_code) = pending_user(&*store).await;

    // Duplicate username (another id).
    let same_name = account(AccountRole::User, Some(&sub.id), &first.username);
    let code = code_for(&same_name, T0 + MINUTE);
    assert_conflict(store.insert_account(&same_name, &code).await);
    assert_eq!(store.get_account(&same_name.id).await.unwrap(), None);
    assert_eq!(
        store.get_activation_code(&code.code_hash).await.unwrap(),
        None
    );

    // Duplicate id (another username).
    let mut same_id = account(AccountRole::User, Some(&sub.id), "someone-else");
    same_id.id = first.id.clone();
    let code = code_for(&same_id, T0 + MINUTE);
    assert_conflict(store.insert_account(&same_id, &code).await);
    assert_eq!(
        store.get_account(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store.get_activation_code(&code.code_hash).await.unwrap(),
        None
    );

    // Unknown subscriber.
    let orphan = account(AccountRole::User, Some(&new_id("sub")), "orphan");
    let code = code_for(&orphan, T0 + MINUTE);
    assert_conflict(store.insert_account(&orphan, &code).await);
    assert_eq!(store.get_account_by_username("orphan").await.unwrap(), None);

    // A duplicate code hash: the account is not stored either (one transaction).
    let second = account(AccountRole::User, Some(&sub.id), "second");
    let mut code = code_for(&second, T0 + MINUTE);
    code.code_hash = first_code.code_hash.clone();
    assert_conflict(store.insert_account(&second, &code).await);
    assert_eq!(store.get_account(&second.id).await.unwrap(), None);
    assert_eq!(
        store
            .get_activation_code(&first_code.code_hash)
            .await
            .unwrap(),
        Some(first_code)
    );

    // A code for another account.
    let code = code_for(&first, T0 + MINUTE);
    assert_conflict(store.insert_account(&second, &code).await);
    assert_eq!(store.get_account(&second.id).await.unwrap(), None);
    assert_eq!(
        store.get_activation_code(&code.code_hash).await.unwrap(),
        None
    );

    // And the same account, correctly built, goes in.
    let code = code_for(&second, T0 + MINUTE);
    store.insert_account(&second, &code).await.unwrap();
    assert_eq!(store.get_account(&second.id).await.unwrap(), Some(second));
}

// ---------------------------------------------------------------------------------------------
// Activation

async fn activation_happy_path(db: Ctx) {
    let store = db.connect().await;
    let (_, acc, code) = pending_user(&*store).await;

    let begun = store
        .begin_activation(&code.code_hash, "$argon2id$pw", &sealed(3), T0 + 100)
        .await
        .unwrap();
    let mut expected = acc.clone();
    expected.password_hash = Some("$argon2id$pw".to_owned());
    expected.totp_pending = Some(sealed(3));
    expected.updated_at = T0 + 100;
    assert_eq!(begun, expected);
    assert_eq!(
        store.get_account(&acc.id).await.unwrap(),
        Some(expected.clone())
    );
    // The code is not used yet.
    assert_eq!(
        store
            .get_activation_code(&code.code_hash)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        None
    );

    let done = store
        .complete_activation(&code.code_hash, 58_000_123, T0 + 200)
        .await
        .unwrap();
    expected.totp_sealed = Some(sealed(3));
    expected.totp_pending = None;
    expected.last_totp_step = Some(58_000_123);
    expected.state = AccountState::Active;
    expected.updated_at = T0 + 200;
    assert_eq!(done, expected);
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(expected));
    let mut used = code.clone();
    used.used_at = Some(T0 + 200);
    assert_eq!(
        store.get_activation_code(&code.code_hash).await.unwrap(),
        Some(used)
    );
}

async fn begin_activation_twice_replaces_the_pending_seed(db: Ctx) {
    let store = db.connect().await;
    let (_, acc, code) = pending_user(&*store).await;
    store
        .begin_activation(&code.code_hash, "$argon2id$first", &sealed(1), T0 + 100)
        .await
        .unwrap();
    let second = store
        .begin_activation(&code.code_hash, "$argon2id$second", &sealed(2), T0 + 200)
        .await
        .unwrap();
    assert_eq!(second.password_hash.as_deref(), Some("$argon2id$second"));
    assert_eq!(second.totp_pending, Some(sealed(2)));
    assert_eq!(second.state, AccountState::Pending);
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(second));

    let done = store
        .complete_activation(&code.code_hash, 7, T0 + 300)
        .await
        .unwrap();
    assert_eq!(
        done.totp_sealed,
        Some(sealed(2)),
        "the latest seed is enrolled"
    );
    assert_eq!(done.password_hash.as_deref(), Some("$argon2id$second"));
}

async fn activation_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;

    // Unknown code: NotFound for both steps.
    assert_not_found(
        store
            .begin_activation(&hash(), "$argon2id$pw", &sealed(1), T0)
            .await,
    );
    assert_not_found(store.complete_activation(&hash(), 1, T0).await);

    // Completing without a pending seed.
    let (_, acc, code) = pending_user(&*store).await;
    assert_conflict(store.complete_activation(&code.code_hash, 1, T0 + 1).await);
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(acc.clone()));

    // Expired: at expires_at the code no longer works, for either step.
    let begun = store
        .begin_activation(
            &code.code_hash,
            "$argon2id$pw",
            &sealed(1),
            code.expires_at - 1,
        )
        .await
        .unwrap();
    assert_conflict(
        store
            .begin_activation(
                &code.code_hash,
                "$argon2id$late",
                &sealed(9),
                code.expires_at,
            )
            .await,
    );
    assert_conflict(
        store
            .complete_activation(&code.code_hash, 1, code.expires_at)
            .await,
    );
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(begun));
    assert_eq!(
        store.get_activation_code(&code.code_hash).await.unwrap(),
        Some(code.clone())
    );

    // Used: once completed, neither step works again.
    let (_, acc, code) = pending_user(&*store).await;
    store
        .begin_activation(&code.code_hash, "$argon2id$pw", &sealed(1), T0 + 1)
        .await
        .unwrap();
    let done = store
        .complete_activation(&code.code_hash, 5, T0 + 2)
        .await
        .unwrap();
    assert_conflict(store.complete_activation(&code.code_hash, 6, T0 + 3).await);
    assert_conflict(
        store
            .begin_activation(&code.code_hash, "$argon2id$again", &sealed(2), T0 + 3)
            .await,
    );
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(done));

    // Wrong state: an account that is not pending, with an unused, unexpired code.
    let sub = subscriber(SubscriberKind::Holder, T0);
    store.insert_subscriber(&sub).await.unwrap();
    for state in [AccountState::Active, AccountState::Disabled] {
        let mut acc = account(AccountRole::User, Some(&sub.id), &format!("in-{state}"));
        acc.state = state;
        acc.totp_pending = Some(sealed(4));
        let code = code_for(&acc, T0 + MINUTE);
        store.insert_account(&acc, &code).await.unwrap();
        assert_conflict(
            store
                .begin_activation(&code.code_hash, "$argon2id$pw", &sealed(1), T0 + 1)
                .await,
        );
        assert_conflict(store.complete_activation(&code.code_hash, 1, T0 + 1).await);
        assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(acc));
        assert_eq!(
            store.get_activation_code(&code.code_hash).await.unwrap(),
            Some(code)
        );
    }
}

async fn concurrent_activation_completes_once(db: Ctx) {
    const TASKS: usize = 8;
    let store = db.connect().await;
    let (_, acc, code) = pending_user(&*store).await;
    store
        .begin_activation(&code.code_hash, "$argon2id$pw", &sealed(1), T0 + 1)
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (store, barrier, code) = (store.clone(), barrier.clone(), code.code_hash.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .complete_activation(&code, 1_000 + i as i64, T0 + 2)
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(account) => winners.push(account),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a loser must see Conflict, not {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one completion wins");
    assert_eq!(
        store.get_account(&acc.id).await.unwrap(),
        Some(winners.remove(0))
    );
}

/// A replacement for `account`'s code, issued at `at` (valid for 10 minutes).
fn replacement(account: &AccountRecord, at: i64) -> ActivationCodeRecord {
    ActivationCodeRecord {
        code_hash: hash(),
        account_id: account.id.clone(),
        created_at: at,
        expires_at: at + 10 * MINUTE,
        used_at: None,
    }
}

async fn replace_activation_code_starts_activation_over(db: Ctx) {
    let store = db.connect().await;
    let (_, acc, old) = pending_user(&*store).await;
    // An activation begun with the old code, then the code is replaced.
    store
        .begin_activation(&old.code_hash, "$argon2id$old", &sealed(1), T0 + 100)
        .await
        .unwrap();
    let new = replacement(&acc, T0 + MINUTE);
    store.replace_activation_code(&new).await.unwrap();

    // The old code is gone and works for neither step; the begun activation is forgotten.
    assert_eq!(
        store.get_activation_code(&old.code_hash).await.unwrap(),
        None
    );
    assert_not_found(
        store
            .begin_activation(&old.code_hash, "$argon2id$pw", &sealed(2), T0 + MINUTE + 1)
            .await,
    );
    assert_not_found(
        store
            .complete_activation(&old.code_hash, 5, T0 + MINUTE + 1)
            .await,
    );
    let mut expected = acc.clone();
    expected.updated_at = T0 + MINUTE;
    assert_eq!(
        store.get_account(&acc.id).await.unwrap(),
        Some(expected.clone())
    );
    assert_conflict(
        store
            .complete_activation(&new.code_hash, 5, T0 + MINUTE + 1)
            .await,
    );
    assert_eq!(
        store.get_activation_code(&new.code_hash).await.unwrap(),
        Some(new.clone())
    );

    // Replaced again (the earlier replacement goes too), then the newest code activates.
    let newest = replacement(&acc, T0 + 2 * MINUTE);
    store.replace_activation_code(&newest).await.unwrap();
    assert_eq!(
        store.get_activation_code(&new.code_hash).await.unwrap(),
        None
    );
    assert_not_found(
        store
            .begin_activation(&new.code_hash, "$argon2id$pw", &sealed(2), T0 + 2 * MINUTE)
            .await,
    );
    let begun = store
        .begin_activation(
            &newest.code_hash,
            "$argon2id$new",
            &sealed(3),
            T0 + 3 * MINUTE,
        )
        .await
        .unwrap();
    assert_eq!(begun.password_hash.as_deref(), Some("$argon2id$new"));
    let done = store
        .complete_activation(&newest.code_hash, 42, T0 + 4 * MINUTE)
        .await
        .unwrap();
    assert_eq!(done.state, AccountState::Active);
    assert_eq!(done.totp_sealed, Some(sealed(3)));
    assert_eq!(done.last_totp_step, Some(42));

    // Active now: no new code, and the used one is kept.
    let refused = replacement(&acc, T0 + 5 * MINUTE);
    assert_conflict(store.replace_activation_code(&refused).await);
    assert_eq!(
        store.get_activation_code(&refused.code_hash).await.unwrap(),
        None
    );
    let mut used = newest.clone();
    used.used_at = Some(T0 + 4 * MINUTE);
    assert_eq!(
        store.get_activation_code(&newest.code_hash).await.unwrap(),
        Some(used)
    );
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(done));
}

async fn replace_activation_code_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;

    // Unknown account.
    let (sub, _, _) = pending_user(&*store).await;
    let ghost = account(AccountRole::User, Some(&sub.id), "ghost");
    let code = replacement(&ghost, T0 + 1);
    assert_not_found(store.replace_activation_code(&code).await);
    assert_eq!(
        store.get_activation_code(&code.code_hash).await.unwrap(),
        None
    );

    // A hash that exists: another account's code, or the account's own current code.
    let (_, acc, current) = pending_user(&*store).await;
    store
        .begin_activation(&current.code_hash, "$argon2id$pw", &sealed(1), T0 + 1)
        .await
        .unwrap();
    let before = store.get_account(&acc.id).await.unwrap();
    let (_, other, others_code) = pending_user(&*store).await;
    for taken in [&others_code.code_hash, &current.code_hash] {
        let mut code = replacement(&acc, T0 + 2);
        code.code_hash = taken.clone();
        assert_conflict(store.replace_activation_code(&code).await);
        assert_eq!(store.get_account(&acc.id).await.unwrap(), before);
        assert_eq!(
            store.get_activation_code(&current.code_hash).await.unwrap(),
            Some(current.clone())
        );
        assert_eq!(
            store
                .get_activation_code(&others_code.code_hash)
                .await
                .unwrap(),
            Some(others_code.clone())
        );
    }
    // The current code still works.
    store
        .complete_activation(&current.code_hash, 9, T0 + 3)
        .await
        .unwrap();
    assert_eq!(
        store.get_account(&other.id).await.unwrap().unwrap().state,
        AccountState::Pending
    );

    // Not pending: active or disabled accounts keep their codes and get no new one.
    for state in [AccountState::Active, AccountState::Disabled] {
        let mut acc = account(AccountRole::User, Some(&sub.id), &format!("not-{state}"));
        acc.state = state;
        let code = code_for(&acc, T0 + MINUTE);
        store.insert_account(&acc, &code).await.unwrap();
        let new = replacement(&acc, T0 + 1);
        assert_conflict(store.replace_activation_code(&new).await);
        assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(acc));
        assert_eq!(
            store.get_activation_code(&code.code_hash).await.unwrap(),
            Some(code)
        );
        assert_eq!(
            store.get_activation_code(&new.code_hash).await.unwrap(),
            None
        );
    }
}

/// Replacements race each other and the activation they cut short: on every engine they
/// serialise (no deadlock, no lost update), and exactly one code survives.
async fn concurrent_replacements_and_completions(db: Ctx) {
    const TASKS: usize = 8;
    let store = db.connect().await;

    // Many replacements of one account's code: all succeed, one after the other, and only one
    // of the new codes is left.
    let (_, acc, old) = pending_user(&*store).await;
    let codes: Vec<_> = (0..TASKS).map(|_| replacement(&acc, T0 + 1)).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = codes
        .iter()
        .map(|code| {
            let (store, barrier, code) = (store.clone(), barrier.clone(), code.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.replace_activation_code(&code).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        store.get_activation_code(&old.code_hash).await.unwrap(),
        None
    );
    let mut left = 0;
    for code in &codes {
        left += usize::from(
            store
                .get_activation_code(&code.code_hash)
                .await
                .unwrap()
                .is_some(),
        );
    }
    assert_eq!(left, 1, "exactly one replacement survives");

    // A replacement racing the completion of an activation begun with the old code: either the
    // activation wins (and the replacement is refused) or the replacement does (and the old
    // code is gone), never both, never neither.
    let pairs: Vec<_> = {
        let mut pairs = Vec::new();
        for _ in 0..TASKS {
            let (_, acc, code) = pending_user(&*store).await;
            store
                .begin_activation(&code.code_hash, "$argon2id$pw", &sealed(1), T0 + 1)
                .await
                .unwrap();
            pairs.push((acc, code));
        }
        pairs
    };
    let barrier = Arc::new(tokio::sync::Barrier::new(2 * TASKS));
    let mut tasks = Vec::new();
    for (acc, code) in &pairs {
        let new = replacement(acc, T0 + 2);
        let (s1, b1, old) = (store.clone(), barrier.clone(), code.code_hash.clone());
        let completion = tokio::spawn(async move {
            b1.wait().await;
            s1.complete_activation(&old, 7, T0 + 2).await
        });
        let (s2, b2, new2) = (store.clone(), barrier.clone(), new.clone());
        let replaced = tokio::spawn(async move {
            b2.wait().await;
            s2.replace_activation_code(&new2).await
        });
        tasks.push((acc.clone(), code.clone(), new, completion, replaced));
    }
    for (acc, old, new, completion, replaced) in tasks {
        let completion = completion.await.unwrap();
        let replaced = replaced.await.unwrap();
        let account = store.get_account(&acc.id).await.unwrap().unwrap();
        let stored_old = store.get_activation_code(&old.code_hash).await.unwrap();
        let stored_new = store.get_activation_code(&new.code_hash).await.unwrap();
        match (completion, replaced) {
            (Ok(done), Err(StoreError::Conflict(_))) => {
                assert_eq!(account, done);
                assert_eq!(account.state, AccountState::Active);
                assert_eq!(stored_old.unwrap().used_at, Some(T0 + 2));
                assert_eq!(stored_new, None);
            }
            (Err(StoreError::NotFound(_)), Ok(())) => {
                assert_eq!(account.state, AccountState::Pending);
                assert_eq!(account.totp_pending, None);
                assert_eq!(stored_old, None);
                assert_eq!(stored_new, Some(new));
            }
            other => panic!("one of the two must win, cleanly: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Logins

/// The account an attempt was admitted for, and the lock it set.
fn admitted(attempt: Attempt) -> (AccountRecord, Option<i64>) {
    match attempt {
        Attempt::Admitted { account, lock } => (account, lock),
        Attempt::Refused(account) => panic!("refused: {account:?}"),
    }
}

/// Criteria 2.2.1(2): every attempt is counted before its secrets are checked; the one that
/// reaches the maximum locks the account, and a locked account admits none.
async fn attempts_count_before_checking_and_lock_at_max(db: Ctx) {
    let store = db.connect().await;
    let (_, acc) = active_user(&*store).await;
    let lock = 15 * MINUTE;

    let (first, no_lock) = admitted(
        store
            .count_attempt(&acc.id, 3, lock, T0 + 10)
            .await
            .unwrap(),
    );
    assert_eq!(
        (first.failed_logins, first.locked_until, no_lock),
        (1, None, None)
    );
    assert_eq!(first.updated_at, T0 + 10);
    let (second, _) = admitted(
        store
            .count_attempt(&acc.id, 3, lock, T0 + 20)
            .await
            .unwrap(),
    );
    assert_eq!((second.failed_logins, second.locked_until), (2, None));
    // The third reaches the maximum: it is still checked, but the account is locked from now
    // (count back to zero) unless that check succeeds.
    let (third, own_lock) = admitted(
        store
            .count_attempt(&acc.id, 3, lock, T0 + 30)
            .await
            .unwrap(),
    );
    assert_eq!(own_lock, Some(T0 + 30 + lock));
    assert_eq!((third.failed_logins, third.locked_until), (0, own_lock));
    assert_eq!(
        store.get_account(&acc.id).await.unwrap(),
        Some(third.clone())
    );
    // Locked: the next attempt is not admitted and changes nothing.
    match store
        .count_attempt(&acc.id, 3, lock, T0 + 40)
        .await
        .unwrap()
    {
        Attempt::Refused(seen) => assert_eq!(seen, third),
        other => panic!("a locked account admitted {other:?}"),
    }
    assert_eq!(
        store.get_account(&acc.id).await.unwrap(),
        Some(third.clone())
    );
    // Everything else is untouched.
    let mut rest = third.clone();
    rest.failed_logins = acc.failed_logins;
    rest.locked_until = acc.locked_until;
    rest.updated_at = acc.updated_at;
    assert_eq!(rest, acc);
    // When the lock ends, counting starts again.
    let (after, none) = admitted(
        store
            .count_attempt(&acc.id, 3, lock, T0 + 30 + lock)
            .await
            .unwrap(),
    );
    assert_eq!((after.failed_logins, none), (1, None));

    // An operator unlocks.
    store
        .count_attempt(&acc.id, 2, lock, T0 + 30 + lock + 1)
        .await
        .unwrap();
    store.unlock_account(&acc.id, T0 + 50).await.unwrap();
    let unlocked = store.get_account(&acc.id).await.unwrap().unwrap();
    assert_eq!(
        (
            unlocked.failed_logins,
            unlocked.locked_until,
            unlocked.updated_at
        ),
        (0, None, T0 + 50)
    );

    // An account that is not active admits nothing; an unknown one is not found.
    let (_, pending, _) = pending_user(&*store).await;
    assert!(matches!(
        store.count_attempt(&pending.id, 3, lock, T0).await.unwrap(),
        Attempt::Refused(_)
    ));
    assert_not_found(store.count_attempt(&new_id("acc"), 3, lock, T0).await);
    assert_not_found(store.unlock_account(&new_id("acc"), T0).await);
}

async fn login_success_resets_and_refuses_a_used_step(db: Ctx) {
    let store = db.connect().await;
    let (_, acc) = active_user(&*store).await;
    assert_eq!(acc.last_totp_step, Some(100));

    // The step used at activation, and an earlier one, are refused.
    assert_conflict(
        store
            .record_login_success(&acc.id, Some(100), None, T0 + 10)
            .await,
    );
    assert_conflict(
        store
            .record_login_success(&acc.id, Some(99), None, T0 + 10)
            .await,
    );
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(acc.clone()));

    // The attempt that locked the account (max 2) lifts its own lock when it succeeds, and
    // clears the count.
    store
        .count_attempt(&acc.id, 2, MINUTE, T0 + 20)
        .await
        .unwrap();
    let (_, own_lock) = admitted(
        store
            .count_attempt(&acc.id, 2, MINUTE, T0 + 21)
            .await
            .unwrap(),
    );
    assert!(own_lock.is_some());
    store
        .record_login_success(&acc.id, Some(101), own_lock, T0 + 30)
        .await
        .unwrap();
    let after = store.get_account(&acc.id).await.unwrap().unwrap();
    assert_eq!(
        (
            after.last_totp_step,
            after.failed_logins,
            after.locked_until,
            after.updated_at
        ),
        (Some(101), 0, None, T0 + 30)
    );

    // The same step again is a replay: refused, nothing changed.
    store
        .count_attempt(&acc.id, 5, MINUTE, T0 + 40)
        .await
        .unwrap();
    let before = store.get_account(&acc.id).await.unwrap().unwrap();
    assert_conflict(
        store
            .record_login_success(&acc.id, Some(101), None, T0 + 50)
            .await,
    );
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(before));
    // Without a step (a right signing PIN) the count is cleared and the step stays.
    store
        .record_login_success(&acc.id, None, None, T0 + 55)
        .await
        .unwrap();
    let after = store.get_account(&acc.id).await.unwrap().unwrap();
    assert_eq!((after.last_totp_step, after.failed_logins), (Some(101), 0));
    store
        .record_login_success(&acc.id, Some(150), None, T0 + 60)
        .await
        .unwrap();

    assert_not_found(
        store
            .record_login_success(&new_id("acc"), Some(1), None, T0)
            .await,
    );

    // An account that never completed activation has no step yet: any step is new.
    let (_, pending, _) = pending_user(&*store).await;
    store
        .record_login_success(&pending.id, Some(0), None, T0 + 70)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_account(&pending.id)
            .await
            .unwrap()
            .unwrap()
            .last_totp_step,
        Some(0)
    );
}

/// Criteria 2.2.1(2): an attempt admitted before another one locked the account cannot lift
/// that lock by succeeding; only the locking attempt's own success lifts it.
async fn a_success_never_lifts_a_lock_set_meanwhile(db: Ctx) {
    let store = db.connect().await;
    let (_, acc) = active_user(&*store).await;
    let (_, early) = admitted(
        store
            .count_attempt(&acc.id, 2, MINUTE, T0 + 10)
            .await
            .unwrap(),
    );
    assert_eq!(early, None);
    let (locked, late) = admitted(
        store
            .count_attempt(&acc.id, 2, MINUTE, T0 + 11)
            .await
            .unwrap(),
    );
    assert!(late.is_some());
    // The early attempt's check succeeds after the late one locked the account: refused, for
    // a TOTP step and without one alike, and nothing changes.
    assert_conflict(
        store
            .record_login_success(&acc.id, Some(101), early, T0 + 12)
            .await,
    );
    assert_conflict(
        store
            .record_login_success(&acc.id, None, early, T0 + 12)
            .await,
    );
    assert_eq!(store.get_account(&acc.id).await.unwrap(), Some(locked));
    // A lock of the same length set at another time is not this attempt's either.
    assert_conflict(
        store
            .record_login_success(&acc.id, Some(101), Some(T0 + 10 + MINUTE), T0 + 12)
            .await,
    );
    // The locking attempt's own success lifts it.
    store
        .record_login_success(&acc.id, Some(101), late, T0 + 13)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_account(&acc.id)
            .await
            .unwrap()
            .unwrap()
            .locked_until,
        None
    );
}

/// Criteria 2.2.1(2): of 50 concurrent attempts (on PostgreSQL, over many connections) at most
/// the maximum are admitted to have their secrets checked, exactly one of them locks the
/// account, and no count is lost.
async fn concurrent_attempts_admit_at_most_max(db: Ctx) {
    const TASKS: usize = 50;
    const MAX: u32 = 5;
    let store = db.connect().await;
    let (_, acc) = active_user(&*store).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, barrier, id) = (store.clone(), barrier.clone(), acc.id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.count_attempt(&id, MAX, MINUTE, T0 + 5).await
            })
        })
        .collect();
    let (mut counts, mut locks, mut refused) = (Vec::new(), 0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap() {
            Attempt::Admitted { account, lock } => {
                counts.push(account.failed_logins);
                locks += usize::from(lock.is_some());
            }
            Attempt::Refused(_) => refused += 1,
        }
    }
    counts.sort_unstable();
    assert_eq!(
        counts,
        [0, 1, 2, 3, 4],
        "the fifth locks and resets the count"
    );
    assert_eq!((locks, refused), (1, TASKS - MAX as usize));
    let after = store.get_account(&acc.id).await.unwrap().unwrap();
    assert_eq!(after.locked_until, Some(T0 + 5 + MINUTE));
}

async fn concurrent_logins_with_one_step_one_wins(db: Ctx) {
    const TASKS: usize = 8;
    let store = db.connect().await;
    let (_, acc) = active_user(&*store).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, barrier, id) = (store.clone(), barrier.clone(), acc.id.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .record_login_success(&id, Some(200), None, T0 + 5)
                    .await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("a loser must see Conflict, not {other:?}"),
        }
    }
    assert_eq!(wins, 1, "one TOTP code logs in once");
}

// ---------------------------------------------------------------------------------------------
// Sessions and tokens

async fn sessions_insert_get_touch(db: Ctx) {
    let store = db.connect().await;
    let (acc, session, [access, refresh]) = user_session(&*store).await;
    assert_eq!(
        store.get_session(&session.id).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.get_session(&new_id("ses")).await.unwrap(), None);
    assert_eq!(
        store.get_token(&access.token_hash).await.unwrap(),
        Some((access.clone(), session.clone()))
    );
    assert_eq!(
        store.get_token(&refresh.token_hash).await.unwrap(),
        Some((refresh.clone(), session.clone()))
    );
    assert_eq!(store.get_token(&hash()).await.unwrap(), None);

    // A client's session, every optional field set; and an operator's, none.
    let cli = client(acc.subscriber.as_deref().unwrap(), Some("thumb-1"), T0);
    store.insert_client(&cli).await.unwrap();
    let mut cs = client_session(&cli);
    cs.revoked_at = Some(T0 + 7);
    cs.revoked_reason = Some("logout ✓".to_owned());
    let cs_token = token(&cs, TokenKind::Access, T0, T0 + MINUTE);
    store
        .insert_session(&cs, std::slice::from_ref(&cs_token))
        .await
        .unwrap();
    assert_eq!(store.get_session(&cs.id).await.unwrap(), Some(cs.clone()));
    assert_eq!(
        store.get_token(&cs_token.token_hash).await.unwrap(),
        Some((cs_token, cs))
    );
    let op = account(AccountRole::Operator, None, "operator");
    store
        .insert_account(&op, &code_for(&op, T0 + MINUTE))
        .await
        .unwrap();
    let mut os = account_session(&op);
    os.jkt = None;
    store.insert_session(&os, &[]).await.unwrap();
    assert_eq!(store.get_session(&os.id).await.unwrap(), Some(os));

    // Touch moves last_seen_at forward, never back, and changes nothing else.
    store.touch_session(&session.id, T0 + 500).await.unwrap();
    store.touch_session(&session.id, T0 + 100).await.unwrap();
    let mut touched = session.clone();
    touched.last_seen_at = T0 + 500;
    assert_eq!(
        store.get_session(&session.id).await.unwrap(),
        Some(touched.clone())
    );
    assert_eq!(
        store.get_token(&access.token_hash).await.unwrap(),
        Some((access, touched))
    );
    assert_not_found(store.touch_session(&new_id("ses"), T0).await);
}

async fn session_insert_refusals_change_nothing(db: Ctx) {
    let store = db.connect().await;
    let (acc, session, [access, _]) = user_session(&*store).await;

    // The same id again.
    let mut same_id = account_session(&acc);
    same_id.id = session.id.clone();
    same_id.method = "other".to_owned();
    assert_conflict(store.insert_session(&same_id, &[]).await);
    assert_eq!(
        store.get_session(&session.id).await.unwrap(),
        Some(session.clone())
    );

    // A token hash that exists: the session is not stored either.
    let other = account_session(&acc);
    let mut dup = token(&other, TokenKind::Access, T0, T0 + MINUTE);
    dup.token_hash = access.token_hash.clone();
    let fresh = token(&other, TokenKind::Refresh, T0, T0 + MINUTE);
    assert_conflict(store.insert_session(&other, &[fresh.clone(), dup]).await);
    assert_eq!(store.get_session(&other.id).await.unwrap(), None);
    assert_eq!(store.get_token(&fresh.token_hash).await.unwrap(), None);
    assert_eq!(
        store
            .get_token(&access.token_hash)
            .await
            .unwrap()
            .unwrap()
            .1,
        session
    );

    // A token of another session.
    let foreign = token(&session, TokenKind::Access, T0, T0 + MINUTE);
    assert_conflict(
        store
            .insert_session(&other, std::slice::from_ref(&foreign))
            .await,
    );
    assert_eq!(store.get_session(&other.id).await.unwrap(), None);
    assert_eq!(store.get_token(&foreign.token_hash).await.unwrap(), None);

    // An unknown account or client.
    let mut unknown = account_session(&acc);
    unknown.account_id = Some(new_id("acc"));
    assert_conflict(store.insert_session(&unknown, &[]).await);
    let mut unknown = account_session(&acc);
    unknown.account_id = None;
    unknown.client_id = Some(new_id("cli"));
    assert_conflict(store.insert_session(&unknown, &[]).await);
    assert_eq!(store.get_session(&unknown.id).await.unwrap(), None);

    // The same session, correctly built, goes in.
    store.insert_session(&other, &[fresh]).await.unwrap();
    assert_eq!(store.get_session(&other.id).await.unwrap(), Some(other));
}

async fn rotate_refresh_token_rotated_reused_unknown(db: Ctx) {
    let store = db.connect().await;
    let (_, session, [access, refresh]) = user_session(&*store).await;

    // Rotated: the old refresh token is used, the new pair stored, the session seen now.
    let second = pair(&session, T0 + MINUTE);
    let rotated = store
        .rotate_refresh_token(&refresh.token_hash, &second, T0 + MINUTE)
        .await
        .unwrap();
    let mut seen = session.clone();
    seen.last_seen_at = T0 + MINUTE;
    assert_eq!(rotated, Rotation::Rotated(seen.clone()));
    let mut used = refresh.clone();
    used.used_at = Some(T0 + MINUTE);
    assert_eq!(
        store.get_token(&refresh.token_hash).await.unwrap(),
        Some((used, seen.clone()))
    );
    for t in &second {
        assert_eq!(
            store.get_token(&t.token_hash).await.unwrap(),
            Some((t.clone(), seen.clone()))
        );
    }
    // Access tokens are not exchanged.
    assert_eq!(
        store
            .rotate_refresh_token(&access.token_hash, &pair(&session, T0), T0 + MINUTE)
            .await
            .unwrap(),
        Rotation::Unknown
    );

    // Reused: the old refresh token again. The session is revoked; nothing is stored.
    let third = pair(&session, T0 + 2 * MINUTE);
    let reused = store
        .rotate_refresh_token(&refresh.token_hash, &third, T0 + 2 * MINUTE)
        .await
        .unwrap();
    let mut revoked = seen.clone();
    revoked.revoked_at = Some(T0 + 2 * MINUTE);
    revoked.revoked_reason = Some("refresh token reuse".to_owned());
    assert_eq!(reused, Rotation::Reused(revoked.clone()));
    assert_eq!(
        store.get_session(&session.id).await.unwrap(),
        Some(revoked.clone())
    );
    for t in &third {
        assert_eq!(store.get_token(&t.token_hash).await.unwrap(), None);
    }

    // Unknown: the fresh refresh token of the revoked session, the reused one again (the
    // revocation is not repeated), and a token that does not exist.
    for presented in [&second[1].token_hash, &refresh.token_hash, &hash()] {
        let fourth = pair(&session, T0 + 3 * MINUTE);
        assert_eq!(
            store
                .rotate_refresh_token(presented, &fourth, T0 + 3 * MINUTE)
                .await
                .unwrap(),
            Rotation::Unknown
        );
        assert_eq!(store.get_token(&fourth[0].token_hash).await.unwrap(), None);
    }
    assert_eq!(store.get_session(&session.id).await.unwrap(), Some(revoked));
    assert_eq!(
        store
            .get_token(&second[1].token_hash)
            .await
            .unwrap()
            .unwrap()
            .0
            .used_at,
        None
    );
}

async fn rotate_refuses_expired_and_foreign_tokens(db: Ctx) {
    let store = db.connect().await;
    let (acc, session, [_, refresh]) = user_session(&*store).await;

    // New tokens of another session: refused, nothing changed.
    let other = account_session(&acc);
    store.insert_session(&other, &[]).await.unwrap();
    let foreign = pair(&other, T0 + 1);
    assert_conflict(
        store
            .rotate_refresh_token(&refresh.token_hash, &foreign, T0 + 1)
            .await,
    );
    assert_eq!(
        store.get_token(&refresh.token_hash).await.unwrap(),
        Some((refresh.clone(), session.clone()))
    );
    assert_eq!(store.get_token(&foreign[0].token_hash).await.unwrap(), None);

    // A new token whose hash exists: refused, the old one stays unused.
    let mut clash = pair(&session, T0 + 1);
    clash[1].token_hash = refresh.token_hash.clone();
    assert_conflict(
        store
            .rotate_refresh_token(&refresh.token_hash, &clash, T0 + 1)
            .await,
    );
    assert_eq!(
        store.get_token(&refresh.token_hash).await.unwrap(),
        Some((refresh.clone(), session.clone()))
    );
    assert_eq!(store.get_token(&clash[0].token_hash).await.unwrap(), None);

    // An expired refresh token: Unknown, nothing changed.
    let next = pair(&session, refresh.expires_at);
    assert_eq!(
        store
            .rotate_refresh_token(&refresh.token_hash, &next, refresh.expires_at)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert_eq!(
        store.get_token(&refresh.token_hash).await.unwrap(),
        Some((refresh.clone(), session.clone()))
    );
    assert_eq!(store.get_token(&next[0].token_hash).await.unwrap(), None);

    // A refresh token that outlives its session: Unknown once the session has expired.
    let mut short = account_session(&acc);
    short.expires_at = T0 + MINUTE;
    let long = token(&short, TokenKind::Refresh, T0, T0 + 10 * MINUTE);
    store
        .insert_session(&short, std::slice::from_ref(&long))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh_token(&long.token_hash, &pair(&short, T0 + MINUTE), T0 + MINUTE)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert_eq!(
        store.get_token(&long.token_hash).await.unwrap(),
        Some((long, short))
    );
}

async fn concurrent_rotations_one_wins(db: Ctx) {
    const TASKS: usize = 8;
    let store = db.connect().await;
    let (_, session, [_, refresh]) = user_session(&*store).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let (presented, next) = (refresh.token_hash.clone(), pair(&session, T0 + 1));
            tokio::spawn(async move {
                barrier.wait().await;
                let outcome = store
                    .rotate_refresh_token(&presented, &next, T0 + 1)
                    .await
                    .unwrap();
                (outcome, next)
            })
        })
        .collect();
    // One exchange wins; the next presentation is a reuse and revokes the session; every later
    // one finds the session revoked.
    let (mut rotated, mut reused, mut unknown) = (0, 0, 0);
    for task in tasks {
        let (outcome, next) = task.await.unwrap();
        let stored = store
            .get_token(&next[1].token_hash)
            .await
            .unwrap()
            .is_some();
        match outcome {
            Rotation::Rotated(_) => {
                rotated += 1;
                assert!(stored, "the winner's tokens are stored");
            }
            Rotation::Reused(_) => {
                reused += 1;
                assert!(!stored, "a loser's tokens are not");
            }
            Rotation::Unknown => {
                unknown += 1;
                assert!(!stored, "a loser's tokens are not");
            }
        }
    }
    assert_eq!(
        (rotated, reused, unknown),
        (1, 1, TASKS - 2),
        "exactly one exchange wins, exactly one revokes"
    );
    let session = store.get_session(&session.id).await.unwrap().unwrap();
    assert_eq!(
        session.revoked_reason.as_deref(),
        Some("refresh token reuse")
    );
}

async fn revoke_session_is_idempotent(db: Ctx) {
    let store = db.connect().await;
    let (_, session, _) = user_session(&*store).await;
    assert!(
        store
            .revoke_session(&session.id, "logout", T0 + 10)
            .await
            .unwrap()
    );
    let mut revoked = session.clone();
    revoked.revoked_at = Some(T0 + 10);
    revoked.revoked_reason = Some("logout".to_owned());
    assert_eq!(
        store.get_session(&session.id).await.unwrap(),
        Some(revoked.clone())
    );
    // Again: nothing changes, the first reason and time stay.
    assert!(
        !store
            .revoke_session(&session.id, "admin", T0 + 20)
            .await
            .unwrap()
    );
    assert_eq!(store.get_session(&session.id).await.unwrap(), Some(revoked));
    assert!(
        !store
            .revoke_session(&new_id("ses"), "logout", T0)
            .await
            .unwrap()
    );
}

/// Issue 17: ending a session, a refresh token's reuse or purging tokens moves the cache epoch
/// (by trigger), so a node's token check from memory is confirmed from the store; a session's
/// touch (every second of use), a new session and a rotation (which leaves the access tokens
/// as they were) do not.
async fn cache_epoch_moves_when_a_session_or_token_changes(db: Ctx) {
    let store = db.connect().await;
    let before = store.cache_epoch().await.unwrap();
    let (_, session, tokens) = user_session(&*store).await;
    store.touch_session(&session.id, T0 + 5).await.unwrap();
    let rotated = pair(&session, T0 + 6);
    store
        .rotate_refresh_token(&tokens[1].token_hash, &rotated, T0 + 6)
        .await
        .unwrap();
    assert_eq!(
        store.cache_epoch().await.unwrap(),
        before,
        "a new session, a touch or a rotation"
    );
    // The old refresh token again: a reuse, which revokes the session.
    store
        .rotate_refresh_token(&tokens[1].token_hash, &pair(&session, T0 + 7), T0 + 7)
        .await
        .unwrap();
    let after_reuse = store.cache_epoch().await.unwrap();
    assert!(after_reuse > before, "a reuse");
    let (_, other, _) = user_session(&*store).await;
    store
        .revoke_session(&other.id, "logout", T0 + 10)
        .await
        .unwrap();
    let after_revocation = store.cache_epoch().await.unwrap();
    assert!(after_revocation > after_reuse, "a revocation");
    store.purge_sessions(T0 + 3_600_000).await.unwrap();
    assert!(
        store.cache_epoch().await.unwrap() > after_revocation,
        "a purge"
    );
}

async fn revoke_subscriber_sessions_counts_accounts_and_clients(db: Ctx) {
    let store = db.connect().await;
    let (sub, user) = active_user(&*store).await;
    let (other_sub, other_user) = active_user(&*store).await;
    let cli = client(&sub.id, None, T0);
    store.insert_client(&cli).await.unwrap();
    let operator = account(AccountRole::Operator, None, "op");
    store
        .insert_account(&operator, &code_for(&operator, T0 + MINUTE))
        .await
        .unwrap();

    let now = T0 + 10 * MINUTE;
    let of_user = account_session(&user);
    let of_client = client_session(&cli);
    // Recorded without a subscriber: found through the account.
    let mut bare = account_session(&user);
    bare.subscriber = None;
    let mut already = account_session(&user);
    already.revoked_at = Some(T0 + 1);
    already.revoked_reason = Some("logout".to_owned());
    let mut expired = client_session(&cli);
    expired.expires_at = now;
    let elsewhere = account_session(&other_user);
    let operator_session = account_session(&operator);
    for s in [
        &of_user,
        &of_client,
        &bare,
        &already,
        &expired,
        &elsewhere,
        &operator_session,
    ] {
        store.insert_session(s, &[]).await.unwrap();
    }

    assert_eq!(
        store
            .revoke_subscriber_sessions(&sub.id, "terminated", now)
            .await
            .unwrap(),
        3
    );
    for s in [&of_user, &of_client, &bare] {
        let got = store.get_session(&s.id).await.unwrap().unwrap();
        assert_eq!(
            (got.revoked_at, got.revoked_reason.as_deref()),
            (Some(now), Some("terminated")),
            "{}",
            s.id
        );
    }
    for s in [&already, &expired, &elsewhere, &operator_session] {
        assert_eq!(store.get_session(&s.id).await.unwrap().as_ref(), Some(s));
    }
    // Nothing open is left.
    assert_eq!(
        store
            .revoke_subscriber_sessions(&sub.id, "terminated", now + 1)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .revoke_subscriber_sessions(&other_sub.id, "terminated", now)
            .await
            .unwrap(),
        1
    );
}

async fn purge_sessions_deletes_what_ended(db: Ctx) {
    let store = db.connect().await;
    let (_, acc) = active_user(&*store).await;
    let cutoff = T0 + 60 * MINUTE;

    // Expired before the cutoff, with two tokens.
    let mut expired = account_session(&acc);
    expired.expires_at = cutoff - 1;
    let expired_tokens = pair(&expired, T0);
    // Revoked before the cutoff (but not expired), with one token.
    let mut revoked = account_session(&acc);
    revoked.expires_at = cutoff + 60 * MINUTE;
    revoked.revoked_at = Some(cutoff - 1);
    revoked.revoked_reason = Some("logout".to_owned());
    let revoked_token = token(&revoked, TokenKind::Refresh, T0, cutoff + MINUTE);
    // Live, with an expired access token and a live refresh token.
    let mut live = account_session(&acc);
    live.expires_at = cutoff + 60 * MINUTE;
    let live_old = token(&live, TokenKind::Access, T0, cutoff - 1);
    let live_new = token(&live, TokenKind::Refresh, T0, cutoff + 30 * MINUTE);
    // Ends exactly at the cutoff: not before it.
    let mut at_cutoff = account_session(&acc);
    at_cutoff.expires_at = cutoff;
    let at_cutoff_token = token(&at_cutoff, TokenKind::Access, T0, cutoff);

    store
        .insert_session(&expired, &expired_tokens)
        .await
        .unwrap();
    store
        .insert_session(&revoked, std::slice::from_ref(&revoked_token))
        .await
        .unwrap();
    store
        .insert_session(&live, &[live_old.clone(), live_new.clone()])
        .await
        .unwrap();
    store
        .insert_session(&at_cutoff, std::slice::from_ref(&at_cutoff_token))
        .await
        .unwrap();

    // 2 + 1 tokens of ended sessions, 1 expired token of a live one, 2 sessions.
    assert_eq!(store.purge_sessions(cutoff).await.unwrap(), 6);
    assert_eq!(store.get_session(&expired.id).await.unwrap(), None);
    assert_eq!(store.get_session(&revoked.id).await.unwrap(), None);
    for t in expired_tokens.iter().chain([&revoked_token, &live_old]) {
        assert_eq!(store.get_token(&t.token_hash).await.unwrap(), None);
    }
    assert_eq!(
        store.get_token(&live_new.token_hash).await.unwrap(),
        Some((live_new, live))
    );
    assert_eq!(
        store.get_token(&at_cutoff_token.token_hash).await.unwrap(),
        Some((at_cutoff_token, at_cutoff))
    );
    assert_eq!(store.purge_sessions(cutoff).await.unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// One-time ids

async fn remember_once_new_replay_expired(db: Ctx) {
    let store = db.connect().await;
    let id = format!("jti-{}", uuid::Uuid::new_v4());
    assert!(store.remember_once(&id, T0 + 100, T0).await.unwrap());
    assert!(!store.remember_once(&id, T0 + 200, T0 + 1).await.unwrap());
    assert!(!store.remember_once(&id, T0 + 200, T0 + 99).await.unwrap());
    // Another id is independent.
    assert!(
        store
            .remember_once("jti-other", T0 + 100, T0 + 1)
            .await
            .unwrap()
    );
    // At its expiry the id is forgotten: new again, remembered until the new expiry.
    assert!(store.remember_once(&id, T0 + 300, T0 + 100).await.unwrap());
    assert!(!store.remember_once(&id, T0 + 400, T0 + 299).await.unwrap());
    assert!(store.remember_once(&id, T0 + 400, T0 + 300).await.unwrap());
}

async fn concurrent_remember_once_one_wins(db: Ctx) {
    const TASKS: usize = 8;
    let store = db.connect().await;
    // Fresh ids, and ids whose earlier entry has expired (taken over by exactly one).
    for round in 0..6 {
        let id = format!("jti-{round}-{}", uuid::Uuid::new_v4());
        let now = T0 + 1_000;
        if round % 2 == 1 {
            assert!(store.remember_once(&id, now - 1, T0).await.unwrap());
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (store, barrier, id) = (store.clone(), barrier.clone(), id.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.remember_once(&id, now + 100, now).await.unwrap()
                })
            })
            .collect();
        let mut new = 0;
        for task in tasks {
            if task.await.unwrap() {
                new += 1;
            }
        }
        assert_eq!(new, 1, "round {round}: exactly one sees the id as new");
    }
}

async fn remember_once_forgets_expired_ids(db: Ctx) {
    let store = db.connect().await;
    for i in 0..5 {
        assert!(
            store
                .remember_once(&format!("old-{i}"), T0 + 10, T0)
                .await
                .unwrap()
        );
    }
    assert!(store.remember_once("live", T0 + 1_000, T0).await.unwrap());
    assert_eq!(db.query_i64("SELECT count(*) FROM once_ids").await, 6);
    assert!(
        store
            .remember_once("new", T0 + 1_000, T0 + 10)
            .await
            .unwrap()
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM once_ids").await,
        2,
        "the expired ids are gone, the live ones kept"
    );
}

// ---------------------------------------------------------------------------------------------
// System clients

async fn clients_insert_get_by_thumbprint_list(db: Ctx) {
    let store = db.connect().await;
    let sub = subscriber(SubscriberKind::Issuer, T0);
    let other = subscriber(SubscriberKind::Issuer, T0);
    store.insert_subscriber(&sub).await.unwrap();
    store.insert_subscriber(&other).await.unwrap();

    let mtls = client(&sub.id, Some("x5t-AAAA"), T0 + 20);
    let jwt = client(&sub.id, None, T0 + 10);
    // No thumbprint is not a duplicate of another client's no thumbprint.
    let mut jwt2 = client(&sub.id, None, T0 + 30);
    jwt2.active = false;
    let elsewhere = client(&other.id, Some("x5t-BBBB"), T0);
    for c in [&mtls, &jwt, &jwt2, &elsewhere] {
        store.insert_client(c).await.unwrap();
    }
    for c in [&mtls, &jwt, &jwt2, &elsewhere] {
        assert_eq!(store.get_client(&c.id).await.unwrap().as_ref(), Some(c));
    }
    assert_eq!(store.get_client(&new_id("cli")).await.unwrap(), None);
    assert_eq!(
        store.get_client_by_thumbprint("x5t-AAAA").await.unwrap(),
        Some(mtls.clone())
    );
    assert_eq!(
        store.get_client_by_thumbprint("x5t-BBBB").await.unwrap(),
        Some(elsewhere.clone())
    );
    assert_eq!(
        store.get_client_by_thumbprint("x5t-aaaa").await.unwrap(),
        None
    );
    assert_eq!(
        store.list_clients(&sub.id).await.unwrap(),
        vec![jwt.clone(), mtls.clone(), jwt2.clone()]
    );
    assert_eq!(
        store.list_clients(&other.id).await.unwrap(),
        vec![elsewhere]
    );
    assert!(store.list_clients(&new_id("sub")).await.unwrap().is_empty());

    // A thumbprint registered to another client, a duplicate id, an unknown subscriber.
    let stolen = client(&other.id, Some("x5t-AAAA"), T0);
    assert_conflict(store.insert_client(&stolen).await);
    assert_eq!(store.get_client(&stolen.id).await.unwrap(), None);
    let mut same_id = client(&sub.id, Some("x5t-CCCC"), T0);
    same_id.id = jwt.id.clone();
    assert_conflict(store.insert_client(&same_id).await);
    assert_eq!(store.get_client(&jwt.id).await.unwrap(), Some(jwt));
    assert_eq!(
        store.get_client_by_thumbprint("x5t-CCCC").await.unwrap(),
        None
    );
    let orphan = client(&new_id("sub"), Some("x5t-DDDD"), T0);
    assert_conflict(store.insert_client(&orphan).await);
    assert_eq!(store.get_client(&orphan.id).await.unwrap(), None);
    assert_eq!(
        store.get_client_by_thumbprint("x5t-AAAA").await.unwrap(),
        Some(mtls)
    );
}

// ---------------------------------------------------------------------------------------------
// Signing PINs

async fn key_pins_set_replace_get(db: Ctx) {
    let store = db.connect().await;
    let key = new_key("org:pins");
    let pin = KeyPinRecord {
        key_id: key.id.to_string(),
        pin_hash: "$argon2id$pin-one".to_owned(),
        updated_at: T0,
    };
    // Not registered yet.
    assert_not_found(store.set_key_pin(&pin).await);
    assert_eq!(store.get_key_pin(key.id.as_str()).await.unwrap(), None);

    store.insert_key(&key).await.unwrap();
    store.set_key_pin(&pin).await.unwrap();
    assert_eq!(
        store.get_key_pin(key.id.as_str()).await.unwrap(),
        Some(pin.clone())
    );
    let replaced = KeyPinRecord {
        pin_hash: "$argon2id$pin-two".to_owned(),
        updated_at: T0 + 10,
        ..pin
    };
    store.set_key_pin(&replaced).await.unwrap();
    assert_eq!(
        store.get_key_pin(key.id.as_str()).await.unwrap(),
        Some(replaced)
    );
    // Another key has none.
    let other = new_key("org:pins");
    store.insert_key(&other).await.unwrap();
    assert_eq!(store.get_key_pin(other.id.as_str()).await.unwrap(), None);
}

// ---------------------------------------------------------------------------------------------
// Behind the store's back

async fn schema_refuses_invalid_rows(db: Ctx) {
    let store = db.connect().await;
    let (sub, acc) = active_user(&*store).await;
    let cli = client(&sub.id, None, T0);
    store.insert_client(&cli).await.unwrap();
    let sub_id = &sub.id;
    let acc_id = &acc.id;
    let cli_id = &cli.id;
    for (what, sql) in [
        (
            "an unknown subscriber kind",
            "INSERT INTO subscribers (id, kind, name, environment, state, created_at) \
             VALUES ('sub_x', 'agency', 'n', 'test', 'active', 0)"
                .to_owned(),
        ),
        (
            "an unknown account role",
            format!(
                "INSERT INTO accounts (id, username, role, subscriber, failed_logins, state, \
                 created_at, updated_at) VALUES ('acc_x', 'x', 'admin', '{sub_id}', 0, \
                 'pending', 0, 0)"
            ),
        ),
        (
            "an operator acting for a subscriber",
            format!(
                "INSERT INTO accounts (id, username, role, subscriber, failed_logins, state, \
                 created_at, updated_at) VALUES ('acc_y', 'y', 'operator', '{sub_id}', 0, \
                 'pending', 0, 0)"
            ),
        ),
        (
            "a user acting for nobody",
            "INSERT INTO accounts (id, username, role, failed_logins, state, created_at, \
             updated_at) VALUES ('acc_z', 'z', 'user', 0, 'pending', 0, 0)"
                .to_owned(),
        ),
        (
            "an unknown account state",
            format!("UPDATE accounts SET state = 'locked' WHERE id = '{acc_id}'"),
        ),
        (
            "a negative failure count",
            format!("UPDATE accounts SET failed_logins = -1 WHERE id = '{acc_id}'"),
        ),
        (
            "a session of both an account and a client",
            format!(
                "INSERT INTO sessions (id, account_id, client_id, method, created_at, \
                 last_seen_at, expires_at) VALUES ('ses_x', '{acc_id}', '{cli_id}', 'm', 0, 0, 1)"
            ),
        ),
        (
            "a session of nobody",
            "INSERT INTO sessions (id, method, created_at, last_seen_at, expires_at) \
             VALUES ('ses_y', 'm', 0, 0, 1)"
                .to_owned(),
        ),
        (
            "an unknown client auth method",
            format!("UPDATE clients SET auth_method = 'client_secret' WHERE id = '{cli_id}'"),
        ),
        (
            "a PIN of an unknown key",
            "INSERT INTO key_pins (key_id, pin_hash, updated_at) VALUES ('key_x', 'h', 0)"
                .to_owned(),
        ),
    ] {
        assert!(
            db.try_exec(sql).await.is_err(),
            "the schema accepted {what}"
        );
    }
    // The rows the store wrote are still as they were.
    assert_eq!(store.get_account(acc_id).await.unwrap(), Some(acc));
    assert_eq!(store.get_client(cli_id).await.unwrap(), Some(cli));
}

async fn out_of_range_counter_is_corrupt(db: Ctx) {
    let store = db.connect().await;
    let (_, acc) = active_user(&*store).await;
    db.exec(format!(
        "UPDATE accounts SET failed_logins = 4294967296 WHERE id = '{}'",
        acc.id
    ))
    .await;
    match store.get_account(&acc.id).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("failed_logins"), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
