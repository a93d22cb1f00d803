//! Records and checks shared by the store conformance suites: a fixed time, random hash
//! values, a key record to satisfy foreign keys, and the two refusals every suite asserts.

use inkan_device::{Algorithm, DeviceKind, KeyHandle, KeySpec};
use inkan_store::Environment;
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
