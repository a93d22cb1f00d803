//! The key registry: the crypto device and the store, kept in step (criteria 2.1.1(7),
//! 2.1.3(16), 2.2.2).
//!
//! Every key operation goes through [`KeyRegistry`], which makes sure a failure part-way
//! leaves no half-done state: a key the store could not record is destroyed in the device
//! again (no orphans); a key being destroyed is disabled first, so it cannot sign while its
//! destruction finishes, and a destruction interrupted half-way is finished by running it
//! again. Keys of another environment are refused (criteria 2.1.3(15)).
//!
//! Every change is written to the transparency log ahead of the action (a `pending` entry;
//! if the log cannot be written, nothing happens) and its result after it (criteria
//! 2.1.3(12), 2.3.3(5)). Entries carry ids, digests and short failure categories, never key
//! material, subjects or other input text (criteria 2.1.3(5)).
//!
//! It never signs documents: signatures come only through the signing module (a later
//! issue); the only signatures made here are the CSR's self-signature (logged as a signature)
//! and the import's pair-consistency check.

pub mod own_keys;
pub mod retire;

use crate::clock::Clock;
use crate::device::Device;
use crate::environment::Environment;
use crate::log::{Event, FailureCategory, Recorder, TransparencyLog};
use inkan_device::cert::CertificateChain;
use inkan_device::import::WrappingAlgorithm;
use inkan_device::{Algorithm, DeviceError, DeviceKey, PublicKey};
use inkan_log::entry::{Actor, EntryKind};
use inkan_store::{
    KeyFilter, KeyId, KeyOrigin, KeyRecord, KeyState, StateChange, Store, StoreError,
};
use sha2::Digest as _;
use std::sync::Arc;

/// Longest label and owner accepted.
pub const MAX_NAME: usize = 128;
/// Longest destruction reason accepted: room for the evidence an automatic destruction records
/// (a status list URL of up to 2,048 characters, the entry, the list's digest and times).
pub const MAX_REASON: usize = 4096;

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key with this id.
    #[error("no key {0}")]
    NotFound(KeyId),
    /// The key belongs to another environment (criteria 2.1.3(15)).
    #[error("key {id} belongs to the {key} environment, not {this}")]
    WrongEnvironment {
        /// The key.
        id: KeyId,
        /// Its environment.
        key: Environment,
        /// This deployment's.
        this: Environment,
    },
    /// The key is not in a state that allows the operation.
    #[error("key {id} is {state}")]
    WrongState {
        /// The key.
        id: KeyId,
        /// Its state.
        state: &'static str,
    },
    /// Input from outside is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The device refused or failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking device task did not complete.
    #[error("device task failed: {0}")]
    Task(String),
    /// The transparency log could not be written: nothing was done (fail closed).
    #[error("transparency log: {0}")]
    Log(#[from] crate::log::LogError),
}

impl FailureCategory for KeyError {
    /// Never the message, which may quote input.
    fn category(&self) -> &'static str {
        match self {
            KeyError::NotFound(_) => "not found",
            KeyError::WrongEnvironment { .. } => "wrong environment",
            KeyError::WrongState { .. } => "wrong state",
            KeyError::InvalidInput(_) => "invalid input",
            KeyError::Device(DeviceError::KeyMismatch(_)) => "key mismatch",
            KeyError::Device(DeviceError::InvalidInput(_)) => "invalid input",
            KeyError::Device(DeviceError::AlgorithmMismatch { .. }) => "algorithm mismatch",
            KeyError::Device(DeviceError::KeyNotFound(_)) => "key not in device",
            KeyError::Device(_) => "device error",
            KeyError::Store(StoreError::Conflict(_)) => "conflict",
            KeyError::Store(_) => "store error",
            KeyError::Task(_) => "device task failed",
            KeyError::Log(_) => "log error",
        }
    }
}

/// `sha-256:<hex>` of `bytes`, the form digests take in log entries.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha-256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A key to generate.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The subscriber the key belongs to.
    pub owner: String,
    /// A label for people.
    pub label: String,
    /// The signature algorithm the key is bound to.
    pub algorithm: Algorithm,
    /// RSA modulus size for RS256/PS256 (2048 or 3072); ignored otherwise.
    pub rsa_bits: usize,
}

/// What an imported key must match (criteria 2.2.2(2)A-5).
#[derive(Debug, Clone)]
pub enum ExpectedPublicKey {
    /// A PEM or DER `SubjectPublicKeyInfo`.
    PublicKey(Vec<u8>),
    /// A certificate chain (PEM or DER), leaf first; it is attached to the key.
    Certificate(Vec<u8>),
}

/// A key to import.
#[derive(Debug, Clone)]
pub struct ImportKey {
    /// The subscriber the key belongs to.
    pub owner: String,
    /// A label for people.
    pub label: String,
    /// The signature algorithm the key is bound to.
    pub algorithm: Algorithm,
    /// The wrapped key (raw or base64), see [`inkan_device::import`].
    pub wrapped: Vec<u8>,
    /// Which RSA-OAEP variant wrapped it.
    pub wrapping: WrappingAlgorithm,
    /// The public key or certificate it must match.
    pub expected: ExpectedPublicKey,
}

/// The device and the store, kept in step, every change in the transparency log.
#[derive(Debug, Clone)]
pub struct KeyRegistry {
    device: Device,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    environment: Environment,
    /// Every change goes to the log through it, written ahead.
    recorder: Recorder,
    /// Keys read for signing, with the cache epoch they were read at (`get_for_signing`).
    signing_keys: Arc<crate::epoch::EpochCache<KeyRecord>>,
}

impl KeyRegistry {
    /// A registry for keys of `environment`, recording into `log`.
    pub fn new(
        device: Device,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        environment: Environment,
        log: Arc<TransparencyLog>,
    ) -> Self {
        KeyRegistry {
            device,
            store,
            recorder: Recorder::new(log, clock.clone(), environment),
            clock,
            environment,
            signing_keys: Arc::default(),
        }
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs a blocking device call off the async threads.
    async fn on_device<T, F>(&self, f: F) -> Result<T, KeyError>
    where
        T: Send + 'static,
        F: FnOnce(&Device) -> Result<T, DeviceError> + Send + 'static,
    {
        let device = self.device.clone();
        tokio::task::spawn_blocking(move || f(&device))
            .await
            .map_err(|e| KeyError::Task(e.to_string()))?
            .map_err(KeyError::from)
    }

    /// Generates a key in the device and registers it (criteria 2.2.2(2)B-1).
    pub async fn generate(&self, actor: &Actor, request: NewKey) -> Result<KeyRecord, KeyError> {
        check_owner(&request.owner)?;
        check_name("label", &request.label)?;
        let spec = request.algorithm.key_spec(request.rsa_bits)?;
        let id = KeyId::random();
        let action = async {
            let label = request.label.clone();
            let key = self.on_device(move |d| d.generate(spec, &label)).await?;
            self.register(
                id.clone(),
                key,
                request.owner,
                request.label,
                request.algorithm,
                KeyOrigin::Generated,
                Vec::new(),
            )
            .await
        };
        let event = Event::new(EntryKind::KeyGenerated, actor.clone()).key(&id);
        let (key, _) = self
            .recorder
            .write_ahead_with(event, action, |k| vec![sha256_digest(&k.public_key_spki)])
            .await?;
        Ok(key)
    }

    /// This environment's delivery key ([`own_keys`]): the oldest active one (two nodes that
    /// started at once may each have made one), else a new Ed25519 key generated in the device,
    /// written ahead as a generation by Inkan itself.
    pub async fn delivery_key(&self) -> Result<KeyRecord, KeyError> {
        let existing =
            own_keys::active(&*self.store, self.environment, own_keys::DELIVERY_KEY_LABEL).await?;
        if let Some(key) = existing.into_iter().next() {
            return Ok(key);
        }
        let id = KeyId::random();
        let action = async {
            let key = self
                .on_device(|d| {
                    d.generate_own(inkan_device::KeySpec::Ed25519, own_keys::DELIVERY_KEY_LABEL)
                })
                .await?;
            self.register(
                id.clone(),
                key,
                own_keys::OWNER.into(),
                own_keys::DELIVERY_KEY_LABEL.into(),
                Algorithm::EdDsa,
                KeyOrigin::Generated,
                Vec::new(),
            )
            .await
        };
        let event = Event::new(EntryKind::KeyGenerated, crate::service::system_actor())
            .key(&id)
            .note("delivery signature key (RFC 9421)");
        let (key, _) = self
            .recorder
            .write_ahead_with(event, action, |k| vec![sha256_digest(&k.public_key_spki)])
            .await?;
        tracing::info!(key = %key.id, "delivery signature key generated in the device");
        Ok(key)
    }

    /// Imports a wrapped key after proving it matches the public key or certificate given
    /// with it (criteria 2.2.2(2)A). A mismatch is refused and leaves nothing behind.
    pub async fn import(&self, actor: &Actor, request: ImportKey) -> Result<KeyRecord, KeyError> {
        check_owner(&request.owner)?;
        check_name("label", &request.label)?;
        let (expected, chain) = match &request.expected {
            ExpectedPublicKey::PublicKey(bytes) => (parse_public_key(bytes)?, Vec::new()),
            ExpectedPublicKey::Certificate(bytes) => {
                let chain = CertificateChain::parse(bytes)?;
                (chain.leaf_public_key()?, chain.to_der_list())
            }
        };
        let id = KeyId::random();
        let ahead = vec![
            sha256_digest(&request.wrapped),
            sha256_digest(&expected.to_spki_der()),
        ];
        let action = async {
            let (wrapped, wrapping, alg, label) = (
                request.wrapped.clone(),
                request.wrapping,
                request.algorithm,
                request.label.clone(),
            );
            let key = self
                .on_device(move |d| d.import_checked(&wrapped, wrapping, &expected, alg, &label))
                .await?;
            self.register(
                id.clone(),
                key,
                request.owner,
                request.label,
                request.algorithm,
                KeyOrigin::Imported,
                chain,
            )
            .await
        };
        let event = Event::new(EntryKind::KeyImported, actor.clone())
            .key(&id)
            .digests(ahead);
        let (key, _) = self
            .recorder
            .write_ahead_with(event, action, |k| vec![sha256_digest(&k.public_key_spki)])
            .await?;
        Ok(key)
    }

    /// Records a key the device now holds; destroys it again if the store refuses.
    #[allow(clippy::too_many_arguments)]
    async fn register(
        &self,
        id: KeyId,
        key: DeviceKey,
        owner: String,
        label: String,
        algorithm: Algorithm,
        origin: KeyOrigin,
        certificate_chain: Vec<Vec<u8>>,
    ) -> Result<KeyRecord, KeyError> {
        let registration = Registration {
            id,
            owner,
            label,
            algorithm,
            origin,
            certificate_chain,
        };
        let record = register_key(
            &self.device,
            &*self.store,
            self.environment,
            self.clock.now(),
            key,
            registration,
        )
        .await?;
        self.set_registry_status_source(&record).await?;
        Ok(record)
    }

    /// A holder's key is covered by no outside status list: its status source is the
    /// registry's own state, so that it too is status-checked at every signature (criteria
    /// 2.2.3(1)B). Issuers' keys get theirs from an operator. Part of the registration (the
    /// same log entries); if it cannot be recorded the key is destroyed again.
    async fn set_registry_status_source(&self, record: &KeyRecord) -> Result<(), KeyError> {
        use inkan_store::status::{StatusSourceKind, StatusSourceRecord};
        // A store failure here leaves the key without a source: it then cannot sign outside
        // `test` (fail closed).
        let holder = crate::status::registry_may_cover(self.store.as_ref(), record)
            .await
            .unwrap_or(false);
        if !holder {
            return Ok(());
        }
        let source = StatusSourceRecord {
            key_id: record.id.to_string(),
            kind: StatusSourceKind::Registry,
            url: None,
            index: None,
            purpose: None,
            set_at: record.created_at,
            set_by: "inkan".into(),
        };
        if let Err(e) = self.store.set_status_source(&source).await {
            let handle = record.handle.clone();
            if let Err(destroy) = self.on_device(move |d| d.destroy(&handle)).await {
                tracing::error!(error = %destroy, key = %record.id, "a key whose status source could not be recorded could not be destroyed again");
            }
            let _ = self
                .store
                .change_key_state(
                    &record.id,
                    &StateChange {
                        from: vec![KeyState::Active],
                        to: KeyState::Destroyed,
                        reason: "its status source could not be recorded".into(),
                        at: self.clock.now(),
                        only_if_reason: None,
                    },
                )
                .await;
            return Err(e.into());
        }
        Ok(())
    }

    /// The key `id` of this environment, whatever its state.
    pub async fn get(&self, id: &KeyId) -> Result<KeyRecord, KeyError> {
        let record = self
            .store
            .get_key(id)
            .await?
            .ok_or_else(|| KeyError::NotFound(id.clone()))?;
        if record.environment != self.environment {
            return Err(KeyError::WrongEnvironment {
                id: id.clone(),
                key: record.environment,
                this: self.environment,
            });
        }
        Ok(record)
    }

    /// As [`get`](Self::get) for a signature, from memory when the record was read at the
    /// newest cache epoch the log's batches have seen, with the epoch it was read at: the
    /// signing module confirms it at the request's write-ahead batch and reads the key again if
    /// the batch saw another (`crate::epoch`, `SignRequest::checked_at`). Only for a
    /// `SignRequest`: nothing else confirms the epoch.
    pub async fn get_for_signing(&self, id: &KeyId) -> Result<(KeyRecord, u64), KeyError> {
        let epoch = self.recorder.epoch();
        if let Some(cached) = self.signing_keys.get(id.as_str(), epoch) {
            return Ok(cached);
        }
        let read_at = epoch.read(self.store.as_ref()).await?;
        let record = self.get(id).await?;
        self.signing_keys.put(id.as_str(), read_at, record.clone());
        Ok((record, read_at))
    }

    async fn get_active(&self, id: &KeyId) -> Result<KeyRecord, KeyError> {
        let record = self.get(id).await?;
        if record.state != KeyState::Active {
            return Err(KeyError::WrongState {
                id: id.clone(),
                state: record.state.as_str(),
            });
        }
        Ok(record)
    }

    /// Keys of this environment matching `filter`.
    pub async fn list(&self, mut filter: KeyFilter) -> Result<Vec<KeyRecord>, KeyError> {
        filter.environment = Some(self.environment);
        Ok(self.store.list_keys(&filter).await?)
    }

    /// The device's import wrapping key.
    pub async fn wrapping_key(&self) -> Result<PublicKey, KeyError> {
        self.on_device(|d| d.wrapping_public_key()).await
    }

    /// A PKCS#10 request for an active key, signed by it (criteria 2.2.2(2)B-2). The
    /// self-signature is a signature by the key, so it is logged as one.
    pub async fn csr(&self, actor: &Actor, id: &KeyId, subject: &str) -> Result<String, KeyError> {
        let record = self.get_active(id).await?;
        if record.owner == own_keys::OWNER {
            // Inkan's own keys sign only through `Device::sign_own`, for their named uses.
            return Err(KeyError::InvalidInput(
                "Inkan's own keys sign no certification request".into(),
            ));
        }
        let subject = subject.to_owned();
        let action = self.on_device(move |d| {
            d.certification_request(&record.handle, record.algorithm, &subject)
        });
        let event = Event::new(EntryKind::SignatureRequested, actor.clone())
            .key(id)
            .note(CSR_NOTE)
            .resulting_in(EntryKind::SignatureMade, EntryKind::SignatureRefused);
        let (pem, _) = self
            .recorder
            .write_ahead_with(event, action, |pem| vec![sha256_digest(pem.as_bytes())])
            .await?;
        Ok(pem)
    }

    /// Attaches a certificate chain whose leaf certifies the key; refused otherwise.
    pub async fn attach_certificate(
        &self,
        actor: &Actor,
        id: &KeyId,
        chain: &[u8],
    ) -> Result<KeyRecord, KeyError> {
        let record = self.get_active(id).await?;
        if record.owner == own_keys::OWNER {
            // A certificate decides when the monitor retires a key: Inkan's own keys have none.
            return Err(KeyError::InvalidInput(
                "Inkan's own keys take no certificate".into(),
            ));
        }
        let ahead = vec![sha256_digest(chain)];
        let action = async {
            let chain = CertificateChain::parse(chain)?;
            chain.check_certifies(&PublicKey::from_spki_der(&record.public_key_spki)?)?;
            Ok::<_, KeyError>(
                self.store
                    .set_certificate_chain(id, &chain.to_der_list(), self.clock.now())
                    .await?,
            )
        };
        let event = Event::new(EntryKind::KeyCertificateAttached, actor.clone())
            .key(id)
            .digests(ahead);
        let (key, _) = self
            .recorder
            .write_ahead_with(event, action, |k: &KeyRecord| {
                k.certificate_chain
                    .iter()
                    .map(|der| sha256_digest(der))
                    .collect()
            })
            .await?;
        Ok(key)
    }

    /// Destroys a key (criteria 2.2.2(3)): disabled first so it cannot sign, destroyed in the
    /// device, then recorded as destroyed, the reason in the log. Running it again finishes
    /// an interrupted destruction.
    pub async fn destroy(
        &self,
        actor: &Actor,
        id: &KeyId,
        reason: &str,
    ) -> Result<Destroyed, KeyError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > MAX_REASON || reason.chars().any(char::is_control) {
            return Err(KeyError::InvalidInput(format!(
                "a reason of 1 to {MAX_REASON} characters without control characters is required"
            )));
        }
        let record = self.get(id).await?;
        if record.state == KeyState::Destroyed {
            return Err(KeyError::WrongState {
                id: id.clone(),
                state: "already destroyed",
            });
        }
        let ahead = vec![sha256_digest(&record.public_key_spki)];
        // The key is closed to signing before the pending entry is written, so every
        // signature requested after that entry is refused by the signing module's re-read
        // (criteria 2.2.2(3)). Closing only takes power away: if the entry cannot be written,
        // the key stays disabled and a second `destroy` finishes the job.
        self.store
            .change_key_state(
                id,
                &StateChange {
                    from: vec![KeyState::Active, KeyState::Disabled],
                    to: KeyState::Disabled,
                    reason: format!("destruction in progress: {reason}"),
                    at: self.clock.now(),
                    only_if_reason: None,
                },
            )
            .await?;
        let action = async {
            let handle = record.handle.clone();
            self.on_device(move |d| d.destroy(&handle)).await?;
            let destroyed = self
                .store
                .change_key_state(
                    id,
                    &StateChange {
                        from: vec![KeyState::Disabled],
                        to: KeyState::Destroyed,
                        reason: reason.to_owned(),
                        at: self.clock.now(),
                        only_if_reason: None,
                    },
                )
                .await?;
            tracing::info!(key = %id, "key destroyed");
            Ok::<_, KeyError>(destroyed)
        };
        let event = Event::new(EntryKind::KeyDestroyed, actor.clone())
            .key(id)
            .digests(ahead.clone())
            .note(reason);
        let (record, log_index) = self
            .recorder
            .write_ahead_with(event, action, |_| ahead)
            .await?;
        Ok(Destroyed { record, log_index })
    }
}

/// A key the registry destroyed.
#[derive(Debug, Clone)]
pub struct Destroyed {
    /// Its record, in state `destroyed`.
    pub record: KeyRecord,
    /// The index of its `key.destroyed` entry in the transparency log.
    pub log_index: u64,
}

/// The note on log entries of a CSR's self-signature.
const CSR_NOTE: &str = "PKCS#10 certification request";

/// What the registry records about a key the device has just made or imported.
pub(crate) struct Registration {
    pub(crate) id: KeyId,
    pub(crate) owner: String,
    pub(crate) label: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) origin: KeyOrigin,
    pub(crate) certificate_chain: Vec<Vec<u8>>,
}

/// Records `key` (which the device now holds) as an active key of `environment`; if the store
/// refuses, destroys it in the device again, so no key exists that the registry does not know.
pub(crate) async fn register_key(
    device: &Device,
    store: &dyn Store,
    environment: Environment,
    now: crate::clock::UnixMillis,
    key: DeviceKey,
    registration: Registration,
) -> Result<KeyRecord, KeyError> {
    // Inkan's own keys may live in a device of their own (`[log] key_device`).
    let device_kind = if registration.owner == own_keys::OWNER {
        device.own_keys_kind()
    } else {
        device.kind()
    };
    let record = KeyRecord {
        id: registration.id,
        owner: registration.owner,
        label: registration.label,
        algorithm: registration.algorithm,
        spec: key.public_key.spec(),
        device: device_kind,
        handle: key.handle.clone(),
        public_key_spki: key.public_key.to_spki_der(),
        certificate_chain: registration.certificate_chain,
        origin: registration.origin,
        environment,
        state: KeyState::Active,
        state_reason: None,
        state_changed_at: None,
        created_at: now,
        updated_at: now,
    };
    if let Err(stored) = store.insert_key(&record).await {
        let (device, handle) = (device.clone(), key.handle);
        match tokio::task::spawn_blocking(move || device.destroy(&handle)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a key the store refused could not be destroyed again")
            }
            Err(e) => {
                tracing::error!(error = %e, "a key the store refused could not be destroyed again")
            }
        }
        return Err(stored.into());
    }
    tracing::info!(key = %record.id, alg = %record.algorithm, origin = record.origin.as_str(), "key registered");
    Ok(record)
}

/// What [`KeyRegistry::reconcile`] found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Reconciliation {
    /// Handles the device holds that no live registry key owns: keys that should not exist
    /// (a destroyed key still present, or a key created and never recorded).
    pub orphans: Vec<inkan_device::KeyHandle>,
    /// Live registry keys whose handle the device no longer holds.
    pub missing: Vec<KeyId>,
}

impl KeyRegistry {
    /// Compares the device with the registry (all environments sharing the device). An empty
    /// result means every key in the device is accounted for and every live key is present.
    pub async fn reconcile(&self) -> Result<Reconciliation, KeyError> {
        let device_kind = self.device.kind();
        let records = self.store.list_keys(&KeyFilter::default()).await?;
        let held = self.on_device(|d| d.handles()).await?;
        let live: Vec<&KeyRecord> = records
            .iter()
            .filter(|r| r.device == device_kind && r.state != KeyState::Destroyed)
            .collect();
        let orphans = held
            .iter()
            .filter(|h| !live.iter().any(|r| &r.handle == *h))
            .cloned()
            .collect();
        let missing = live
            .iter()
            .filter(|r| !held.contains(&r.handle))
            .map(|r| r.id.clone())
            .collect();
        Ok(Reconciliation { orphans, missing })
    }
}

/// A key's owner: a name, and never Inkan's own (`inkan`), which only `keys::own_keys` gives
/// its keys, so that no subscriber's key can become an [`own_keys::OwnKey`] (issue 14 point 1).
fn check_owner(owner: &str) -> Result<(), KeyError> {
    check_name("owner", owner)?;
    if owner == own_keys::OWNER {
        return Err(KeyError::InvalidInput(format!(
            "the owner {owner:?} is reserved for Inkan's own keys"
        )));
    }
    Ok(())
}

fn check_name(what: &str, value: &str) -> Result<(), KeyError> {
    if value.trim().is_empty() || value.len() > MAX_NAME || value.chars().any(char::is_control) {
        return Err(KeyError::InvalidInput(format!(
            "the {what} must be 1 to {MAX_NAME} characters without control characters"
        )));
    }
    Ok(())
}

/// A public key given as PEM or DER SPKI.
fn parse_public_key(bytes: &[u8]) -> Result<PublicKey, DeviceError> {
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| DeviceError::InvalidInput("the PEM is not text".into()))?;
        PublicKey::from_pem(text)
    } else {
        PublicKey::from_spki_der(bytes)
    }
}

/// A key's public record as the API and `inkan keys` show it (never anything secret): the
/// JSON of [`KeyView`].
pub fn key_view(record: &KeyRecord) -> serde_json::Value {
    serde_json::to_value(KeyView::of(record)).unwrap_or_default()
}

/// A key's public record (`GET /v1/keys/{id}` and the lists).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// `key_…`.
    pub id: String,
    /// The subscriber (`sub_…`), or `inkan` for Inkan's own keys.
    pub owner: String,
    pub label: String,
    /// `ES256`, `ES384`, `EdDSA`, `RS256`, `PS256`.
    pub alg: String,
    /// `P-256`, `P-384`, `Ed25519`, `RSA-2048`, …
    pub key_type: String,
    /// `active`, `disabled`, `revoked`, `destroyed`, …
    pub state: String,
    pub state_reason: Option<String>,
    /// Unix milliseconds.
    pub state_changed_at: Option<i64>,
    /// `generated` or `imported`.
    pub origin: String,
    pub environment: String,
    /// `soft` or `pkcs11`.
    pub device: String,
    /// The RFC 7638 thumbprint of its public JWK.
    pub kid: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub public_jwk: Option<serde_json::Value>,
    pub public_key_pem: Option<String>,
    pub did_key: Option<String>,
    pub did_jwk: Option<String>,
    /// Its certificate and chain (PEM), once attached.
    pub certificate_chain_pem: Option<String>,
    pub certificate_validity: Option<CertificateValidity>,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub updated_at: i64,
    /// `GET /v1/keys/{id}` of an active key: its live status as the signing module sees it now
    /// (`status`: `valid`, `expired`, `revoked`, `suspended` or `unknown`; its source; when it
    /// was last confirmed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub status: Option<serde_json::Value>,
}

/// When a key's certificate is valid (Unix seconds).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CertificateValidity {
    pub not_before: i64,
    pub not_after: i64,
}

impl KeyView {
    /// The view of `record`.
    pub fn of(record: &KeyRecord) -> KeyView {
        let public = PublicKey::from_spki_der(&record.public_key_spki).ok();
        let chain = (!record.certificate_chain.is_empty())
            .then(|| CertificateChain::from_der_list(&record.certificate_chain).ok())
            .flatten();
        KeyView {
            id: record.id.to_string(),
            owner: record.owner.clone(),
            label: record.label.clone(),
            alg: record.algorithm.as_str().into(),
            key_type: record.spec.as_str().into(),
            state: record.state.as_str().into(),
            state_reason: record.state_reason.clone(),
            state_changed_at: record.state_changed_at,
            origin: record.origin.as_str().into(),
            environment: record.environment.as_str().into(),
            device: record.device.as_str().into(),
            kid: public.as_ref().map(PublicKey::jwk_thumbprint),
            public_jwk: public.as_ref().map(PublicKey::to_jwk),
            public_key_pem: public.as_ref().map(PublicKey::to_pem),
            did_key: public.as_ref().map(PublicKey::did_key),
            did_jwk: public.as_ref().map(PublicKey::did_jwk),
            certificate_chain_pem: chain.as_ref().map(CertificateChain::to_pem),
            certificate_validity: chain.as_ref().map(|c| {
                let (not_before, not_after) = c.leaf_validity();
                CertificateValidity {
                    not_before,
                    not_after,
                }
            }),
            created_at: record.created_at,
            updated_at: record.updated_at,
            status: None,
        }
    }
}
