//! Inkan's own keys (issue 3, issue 19 point 7): Ed25519 keys in the crypto device, registered
//! like any other key under the owner [`OWNER`], never keys in a file.
//!
//! - The transparency log's key (criteria 2.1.3(12)) signs checkpoints through
//!   [`DeviceNoteSigner`], which only ever asks the device to sign the checkpoint body it is
//!   given. It is made before the log can record anything, so its creation cannot be written
//!   ahead; [`crate::service::Service::open`] records it as soon as the log is open.
//! - The delivery key (criteria 2.2.3(3)A) signs the HTTP messages Inkan POSTs to subscribers'
//!   destinations (`crate::delivery::signature`, RFC 9421), so that a receiver knows they came
//!   from Inkan unaltered. It is made by the key registry after the log is open, written ahead
//!   like any generated key, and published at `GET /v1/delivery/keys`.
//!
//! An [`OwnKey`] is made only here, from the registry record of one of these keys; the registry
//! refuses the owner [`OWNER`] to everyone else, so a subscriber's key never becomes one.

use crate::clock::Clock;
use crate::device::{Device, OwnKeyUse};
use crate::environment::Environment;
use inkan_device::{Algorithm, KeyHandle, KeySpec, PublicKey};
use inkan_log::LogError;
use inkan_log::note::NoteSigner;
use inkan_store::{KeyFilter, KeyId, KeyOrigin, KeyRecord, KeyState, Store};
use std::sync::Arc;

/// The owner of Inkan's own keys in the registry.
pub const OWNER: &str = "inkan";
/// The label of the log key.
pub const LOG_KEY_LABEL: &str = "transparency log";
/// The label of the delivery key.
pub const DELIVERY_KEY_LABEL: &str = "delivery signatures";

/// This environment's active own keys labelled `label` (the log key's, the delivery key's),
/// oldest first: the registry lists keys by creation, so of two nodes' keys made at once,
/// every node takes the same one.
pub async fn active(
    store: &dyn Store,
    environment: Environment,
    label: &str,
) -> Result<Vec<KeyRecord>, inkan_store::StoreError> {
    let filter = KeyFilter {
        owner: Some(OWNER.into()),
        state: Some(KeyState::Active),
        environment: Some(environment),
    };
    let mut keys = store.list_keys(&filter).await?;
    keys.retain(|k| k.label == label);
    Ok(keys)
}

/// Finds this environment's active log key, or generates one in the device and registers it.
/// Returns the key and whether it was created now. When several exist (two nodes started at
/// once), the oldest is the log key.
pub(crate) async fn find_or_create(
    device: &Device,
    store: &Arc<dyn Store>,
    clock: &Arc<dyn Clock>,
    environment: Environment,
) -> Result<(KeyRecord, bool), super::KeyError> {
    if let Some(key) = active(&**store, environment, LOG_KEY_LABEL)
        .await?
        .into_iter()
        .next()
    {
        return Ok((key, false));
    }
    // A log with entries but no key: it was destroyed (`inkan decommission`) or lost. A new
    // key would sign a log it did not witness: refused.
    if store.log_size().await? > 0 {
        return Err(super::KeyError::InvalidInput(
            "the log has entries but no active key: this deployment was decommissioned (or its \
             log key was lost); restore a backup instead"
                .into(),
        ));
    }
    let generating = device.clone();
    let key = tokio::task::spawn_blocking(move || {
        generating.generate_own(KeySpec::Ed25519, LOG_KEY_LABEL)
    })
    .await
    .map_err(|e| super::KeyError::Task(e.to_string()))??;
    let registration = super::Registration {
        id: KeyId::random(),
        owner: OWNER.into(),
        label: LOG_KEY_LABEL.into(),
        algorithm: Algorithm::EdDsa,
        origin: KeyOrigin::Generated,
        certificate_chain: Vec::new(),
    };
    let record = super::register_key(
        device,
        &**store,
        environment,
        clock.now(),
        key,
        registration,
    )
    .await?;
    tracing::info!(key = %record.id, "transparency log key generated in the device");
    Ok((record, true))
}

/// Refuses a start whose own key `record` is not in the device the configuration names for
/// Inkan's own keys (`[log.key_device]`, else `[device]`): a configuration that gained or lost
/// that section after the key was made would otherwise sign with the wrong device, or not at
/// all.
pub(crate) fn check_where(device: &Device, record: &KeyRecord) -> Result<(), super::KeyError> {
    if record.device != device.own_keys_kind() || !device.own_keys_hold(&record.handle)? {
        return Err(super::KeyError::InvalidInput(format!(
            "Inkan's own key {} ({}) is not in the device the configuration names for Inkan's \
             own keys ({}): [log.key_device] was added or removed after it was made; put the \
             configuration back",
            record.id,
            record.label,
            if device.own_keys_apart() {
                "[log.key_device]"
            } else {
                "[device]"
            }
        )));
    }
    Ok(())
}

/// One of Inkan's own keys, which [`Device::sign_own`] signs with (issue 14 point 1). Made
/// only by [`OwnKey::log_key`] and [`OwnKey::delivery_key`], from the registry record of the
/// transparency log's key or the delivery key: a subscriber's key can never be one (no other
/// key has the owner [`OWNER`]).
///
/// ```compile_fail
/// // Outside this module an own key cannot be made from a subscriber's handle:
/// fn forge(handle: inkan_device::KeyHandle) -> inkan_server::keys::own_keys::OwnKey {
///     inkan_server::keys::own_keys::OwnKey {
///         id: inkan_store::KeyId::random(),
///         handle,
///         algorithm: inkan_device::Algorithm::EdDsa,
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct OwnKey {
    id: KeyId,
    handle: KeyHandle,
    algorithm: Algorithm,
}

impl OwnKey {
    /// The log key `record`, refused unless it is Inkan's own Ed25519 log key.
    pub(crate) fn log_key(record: &KeyRecord) -> Result<OwnKey, super::KeyError> {
        Self::own(record, LOG_KEY_LABEL, "log key")
    }

    /// The delivery key `record`, refused unless it is Inkan's own Ed25519 delivery key.
    pub(crate) fn delivery_key(record: &KeyRecord) -> Result<OwnKey, super::KeyError> {
        Self::own(record, DELIVERY_KEY_LABEL, "delivery key")
    }

    fn own(record: &KeyRecord, label: &str, what: &str) -> Result<OwnKey, super::KeyError> {
        if record.owner != OWNER || record.label != label || record.algorithm != Algorithm::EdDsa {
            return Err(super::KeyError::InvalidInput(format!(
                "key {} is not Inkan's {what}",
                record.id
            )));
        }
        Ok(OwnKey {
            id: record.id.clone(),
            handle: record.handle.clone(),
            algorithm: record.algorithm,
        })
    }

    /// Its registry id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub(crate) fn handle(&self) -> &KeyHandle {
        &self.handle
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// Signs checkpoint notes with the log key in the crypto device.
#[derive(Debug)]
pub struct DeviceNoteSigner {
    device: Device,
    key: OwnKey,
    name: String,
    public_key: [u8; 32],
}

impl DeviceNoteSigner {
    /// A signer for `key` (an Ed25519 key of the device) whose note signatures carry `name`
    /// (the log's origin).
    pub(crate) fn new(
        device: Device,
        key: &KeyRecord,
        name: String,
    ) -> Result<Self, super::KeyError> {
        let public_key = match PublicKey::from_spki_der(&key.public_key_spki)? {
            PublicKey::Ed25519(k) => k.to_bytes(),
            other => {
                return Err(super::KeyError::InvalidInput(format!(
                    "the log key must be Ed25519, not {}",
                    other.spec()
                )));
            }
        };
        Ok(DeviceNoteSigner {
            device,
            key: OwnKey::log_key(key)?,
            name,
            public_key,
        })
    }
}

impl NoteSigner for DeviceNoteSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], LogError> {
        let signature = self
            .device
            .sign_own(&self.key, OwnKeyUse::Checkpoint, message)
            .map_err(|e| LogError::Signer(e.to_string()))?;
        signature.try_into().map_err(|_| {
            LogError::Signer("the device returned an Ed25519 signature that is not 64 bytes".into())
        })
    }
}
