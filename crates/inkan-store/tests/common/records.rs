//! Records and checks shared by the store conformance suites: a fixed time, random hash
//! values, a key record to satisfy foreign keys, a user with a session and a key (`owner`), and the two refusals every suite asserts.

use inkan_device::{Algorithm, DeviceKind, KeyHandle, KeySpec};
use inkan_store::Environment;
use inkan_store::auth::new_id;
use inkan_store::{
    AccountRecord, AccountRole, AccountState, ActivationCodeRecord, SessionRecord, Store,
    SubscriberKind, SubscriberRecord, SubscriberState,
};
use inkan_store::{KeyId, KeyOrigin, KeyRecord, KeyState, StoreError};

/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600_000;
/// A minute, in milliseconds.
pub const MINUTE: i64 = 60_000;

/// A random SHA-256-shaped value (64 lowercase hex digits).
pub fn hash() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A fresh active key, for the PIN cases.
pub fn new_key(owner: &str) -> KeyRecord {
    KeyRecord {
        id: KeyId::random(),
        owner: owner.to_owned(),
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
        created_at: T0,
        updated_at: T0,
    }
}

#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("expected Conflict, got {other:?}"),
    }
}

#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    match result {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// What a SAD is bound to: a key, and a user of a subscriber with a live session.
#[derive(Debug, Clone)]
pub struct Owner {
    pub key: KeyRecord,
    pub subscriber: SubscriberRecord,
    pub account: AccountRecord,
    pub session: SessionRecord,
}

/// Stores a subscriber, a key of it, a (pending) user of it and a session of that user.
pub async fn owner(store: &dyn Store) -> Owner {
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
    let account = AccountRecord {
        id: new_id("acc"),
        username: format!("user-{}", new_id("u")),
        role: AccountRole::User,
        subscriber: Some(subscriber.id.clone()),
        password_hash: None,
        totp_sealed: None,
        totp_pending: None,
        last_totp_step: None,
        failed_logins: 0,
        locked_until: None,
        state: AccountState::Pending,
        created_at: T0,
        updated_at: T0,
    };
    let code = ActivationCodeRecord {
        code_hash: hash(),
        account_id: account.id.clone(),
        created_at: T0,
        expires_at: T0 + 10 * MINUTE,
        used_at: None,
    };
    store.insert_account(&account, &code).await.unwrap();
    let session = session_of(&account);
    store.insert_session(&session, &[]).await.unwrap();
    Owner {
        key,
        subscriber,
        account,
        session,
    }
}

/// A live session of `account` (expires in an hour).
pub fn session_of(account: &AccountRecord) -> SessionRecord {
    SessionRecord {
        id: new_id("ses"),
        account_id: Some(account.id.clone()),
        client_id: None,
        subscriber: account.subscriber.clone(),
        method: "password+totp".to_owned(),
        jkt: None,
        x5t: None,
        scope: None,
        created_at: T0,
        last_seen_at: T0,
        expires_at: T0 + 60 * MINUTE,
        revoked_at: None,
        revoked_reason: None,
    }
}
