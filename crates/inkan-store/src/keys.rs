//! The key registry's records: what the store remembers about each device key.

use crate::UnixMillis;
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
        if hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a key id (key_ followed by 32 lowercase hex digits)"
            ))
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
    /// Applied only while the key's recorded reason is this one (`None`: whatever it is): a
    /// change that undoes an earlier one of its own never undoes another's taken over since.
    pub only_if_reason: Option<String>,
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

/// Which keys [`crate::Store::list_keys`] returns; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// Only this owner's keys.
    pub owner: Option<String>,
    /// Only keys in this state.
    pub state: Option<KeyState>,
    /// Only keys of this environment.
    pub environment: Option<Environment>,
}

/// A key row as the database holds it, every column in its stored form, before decoding.
///
/// Both engines fill one of these and call [`StoredKey::decode`], so that they decode (and
/// refuse) stored values the same way. Never built from outside input.
#[derive(Debug)]
pub(crate) struct StoredKey {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) label: String,
    pub(crate) algorithm: String,
    pub(crate) spec: String,
    pub(crate) device: String,
    pub(crate) handle: String,
    pub(crate) public_key_spki: Vec<u8>,
    pub(crate) certificate_chain: Vec<Vec<u8>>,
    pub(crate) origin: String,
    pub(crate) environment: String,
    pub(crate) state: String,
    pub(crate) state_reason: Option<String>,
    pub(crate) state_changed_at: Option<UnixMillis>,
    pub(crate) created_at: UnixMillis,
    pub(crate) updated_at: UnixMillis,
}

impl StoredKey {
    /// Parses every stored name; a value this version does not know is
    /// [`StoreError::Corrupt`](crate::StoreError::Corrupt), naming the key and the column.
    pub(crate) fn decode(self) -> Result<KeyRecord, crate::StoreError> {
        use crate::StoreError;
        let id = self.id;
        let corrupt = |column: &str, detail: String| {
            StoreError::Corrupt(format!("key {id:?}, {column}: {detail}"))
        };
        let key_id = KeyId::parse(&id).map_err(|e| corrupt("id", e))?;
        let algorithm = self
            .algorithm
            .parse::<Algorithm>()
            .map_err(|e| corrupt("algorithm", e.to_string()))?;
        let spec = self
            .spec
            .parse::<KeySpec>()
            .map_err(|e| corrupt("spec", e.to_string()))?;
        let device = self
            .device
            .parse::<DeviceKind>()
            .map_err(|e| corrupt("device", e.to_string()))?;
        let origin = KeyOrigin::parse(&self.origin)
            .ok_or_else(|| corrupt("origin", format!("unknown origin {:?}", self.origin)))?;
        let environment = self
            .environment
            .parse::<Environment>()
            .map_err(|e| corrupt("environment", e))?;
        let state = KeyState::parse(&self.state)
            .ok_or_else(|| corrupt("state", format!("unknown state {:?}", self.state)))?;
        Ok(KeyRecord {
            id: key_id,
            owner: self.owner,
            label: self.label,
            algorithm,
            spec,
            device,
            handle: KeyHandle::new(self.handle),
            public_key_spki: self.public_key_spki,
            certificate_chain: self.certificate_chain,
            origin,
            environment,
            state,
            state_reason: self.state_reason,
            state_changed_at: self.state_changed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl StateChange {
    /// `from` as three query parameters, one per state, `None` for a state not in `from`.
    ///
    /// Bound to `state IN (?, ?, ?)`: a NULL never compares equal, so one static statement
    /// covers every from-set, the empty one included (it matches no row).
    pub(crate) fn allowed_state_params(&self) -> [Option<&'static str>; 3] {
        [KeyState::Active, KeyState::Disabled, KeyState::Destroyed]
            .map(|s| self.from.contains(&s).then_some(s.as_str()))
    }
}

impl KeyFilter {
    /// The filter as `(column, value)` pairs, every value text, in a fixed order.
    ///
    /// Each engine builds its `WHERE` from these: only the constant column names reach the SQL
    /// text, the values are always bound.
    pub(crate) fn conditions(&self) -> Vec<(&'static str, &str)> {
        let mut conditions = Vec::with_capacity(3);
        if let Some(owner) = &self.owner {
            conditions.push(("owner", owner.as_str()));
        }
        if let Some(state) = self.state {
            conditions.push(("state", state.as_str()));
        }
        if let Some(environment) = self.environment {
            conditions.push(("environment", environment.as_str()));
        }
        conditions
    }
}
