//! The key registry's records: what the store remembers about each device key.

use crate::clock::UnixMillis;
use crate::environment::Environment;
use inkan_device::{Algorithm, DeviceKind, KeyHandle, KeySpec};
use std::fmt;

/// Inkan's id for a registered key (`key_` and 32 hex digits). Distinct from the device handle.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// A fresh random id.
    pub fn random() -> Self {
        KeyId(format!("key_{}", uuid::Uuid::new_v4().simple()))
    }

    /// Parses an id given from outside; fails on anything but `key_` and 32 hex digits.
    pub fn parse(s: &str) -> Result<Self, String> {
        let hex = s.strip_prefix("key_").unwrap_or("");
        if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(format!("{s:?} is not a key id (key_ followed by 32 lowercase hex digits)"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the key came to be in the device (criteria 2.2.2(2)A and B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyOrigin {
    /// Generated inside the device.
    Generated,
    /// Made elsewhere and imported wrapped.
    Imported,
}

impl KeyOrigin {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrigin::Generated => "generated",
            KeyOrigin::Imported => "imported",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "generated" => Some(KeyOrigin::Generated),
            "imported" => Some(KeyOrigin::Imported),
            _ => None,
        }
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Usable for signing.
    Active,
    /// Not usable; kept (suspended by an operator, or on its way to destruction).
    Disabled,
    /// Gone from the device for good. Terminal.
    Destroyed,
}

impl KeyState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Disabled => "disabled",
            KeyState::Destroyed => "destroyed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(KeyState::Active),
            "disabled" => Some(KeyState::Disabled),
            "destroyed" => Some(KeyState::Destroyed),
            _ => None,
        }
    }
}

/// A state transition, applied only if the key is in one of `from`.
#[derive(Debug, Clone)]
pub struct StateChange {
    /// States the key may be in for the change to apply.
    pub from: Vec<KeyState>,
    /// The new state.
    pub to: KeyState,
    /// Why (recorded with the key; never personal data or secrets).
    pub reason: String,
    /// When.
    pub at: UnixMillis,
}

/// One registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Inkan's id for the key.
    pub id: KeyId,
    /// The subscriber (issuer organisation or holder) the key belongs to.
    pub owner: String,
    /// A human label, unique for nobody; for display.
    pub label: String,
    /// The signature algorithm the key is bound to.
    pub algorithm: Algorithm,
    /// The kind of key pair.
    pub spec: KeySpec,
    /// The device that holds it.
    pub device: DeviceKind,
    /// The device's handle for it.
    pub handle: KeyHandle,
    /// The public key, DER `SubjectPublicKeyInfo`.
    pub public_key_spki: Vec<u8>,
    /// The certificate chain, DER, leaf first; empty when none is attached.
    pub certificate_chain: Vec<Vec<u8>>,
    /// Generated here or imported.
    pub origin: KeyOrigin,
    /// The environment the key belongs to.
    pub environment: Environment,
    /// Current state.
    pub state: KeyState,
    /// Why the key is in its current state (`None` while active since creation).
    pub state_reason: Option<String>,
    /// When the state last changed (`None` while active since creation).
    pub state_changed_at: Option<UnixMillis>,
    /// When the key was registered.
    pub created_at: UnixMillis,
    /// When the record last changed.
    pub updated_at: UnixMillis,
}

/// Which keys [`crate::store::Store::list_keys`] returns; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// Only this owner's keys.
    pub owner: Option<String>,
    /// Only keys in this state.
    pub state: Option<KeyState>,
    /// Only keys of this environment.
    pub environment: Option<Environment>,
}
