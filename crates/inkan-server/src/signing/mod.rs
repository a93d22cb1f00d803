//! The signing module: the only code that asks the crypto device for a signature (criteria
//! 2.2.3).
//!
//! For every request, in this order, and a failure at any step signs nothing and is logged:
//! 1. **activation**: a SAD that is valid, unused (used up here, once, across nodes),
//!    unexpired and bound to this key, these exact digests, at most this many signatures, this
//!    user and this session (2.2.3(2)A-1); or the standing approval of a system client whose
//!    token scope allows signing with this key, this kind of document, within its rate
//!    (2.2.3(2)B-1). A user without a SAD is refused.
//! 2. **the key**: active, of this environment, its certificate (if any) within validity, and
//!    its status list (W3C Bitstring or IETF Token Status List) freshly and verifiably saying
//!    valid (2.2.3(1)B; `crate::status`, cached, fail closed).
//! 3. **write-ahead**: a `signature.requested` entry with the digests, the caller, how they
//!    authenticated and the approval id is appended durably (2.2.3(2)A-3). If the log cannot be
//!    written, nothing is signed.
//!    Then the key is read again, as committed in the entry's own transaction
//!    (`Recorder::signature_requested`): a destruction (and with it a termination or
//!    decommission) closes a key (state `disabled`) before it writes its own entry, so a request
//!    whose entry comes after that one is refused here and never reaches the device. A renewal
//!    closes the old key just after its own pending entry (written ahead), and destroys it,
//!    closed first, once the new key exists. A key record or status source that came from
//!    memory (`crate::epoch`) was read at a cache epoch; if the entry's batch saw another, both
//!    are read again from the store and checked before the device signs.
//! 4. **the device signs** (on a blocking thread, but for the software token's elliptic-curve
//!    keys and small messages, which sign in memory in microseconds).
//! 5. **the result**: a `signature.made` entry with the signature index rows by digest, in one
//!    transaction (`Recorder::signature_made`), and the entry's index for the
//!    receipt (2.2.3(3)C). A signature whose result cannot be logged is not returned.
//!
//! The device signs a subscriber's key only with a [`SignPermit`], which only this module can
//! make (see `crate::device`). Format code reaches it only through [`ActivatedSigner`], an `inkan_formats::Signer`, so
//! what the log records is the digest of the real signing input. Must never: sign without
//! steps 1–3 done, return a signature whose `signature.made` entry is not committed, or
//! accept a SAD checked anywhere else.

pub mod index;
pub mod issuer;
pub mod prepare;

use crate::auth::access::{Operation, authorize_key};
use crate::auth::{Caller, CallerKind};
use crate::clock::Clock;
use crate::device::Device;
use crate::environment::Environment;
use crate::keys::sha256_digest;
use crate::log::{Event, LogError, Recorder};
use crate::status::StatusChecker;
use inkan_device::{Algorithm, KeyHandle, PublicKey};
use inkan_formats::signer::SignInput;
use inkan_formats::{FormatError, KeyRef, Signer};
use inkan_log::entry::{EntryKind, Outcome};
use inkan_store::signing::{SadRecord, SignatureRecord};
use inkan_store::status::{KeyStatusValue, StatusSourceKind};
use inkan_store::{KeyRecord, KeyState, Store, StoreError};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The largest message the software token signs on an async worker (see `device_sign`).
const INLINE_MESSAGE_BYTES: usize = 16 * 1024;

/// Why nothing was signed. The message names the reason without leaking a secret.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The activation (SAD or standing approval) does not allow this signature.
    #[error("signature refused: {0}")]
    Refused(String),
    /// The key cannot sign now (not active, another environment, certificate outside
    /// validity, status not confirmed).
    #[error("the key cannot sign: {0}")]
    KeyUnusable(String),
    /// The input is malformed (a digest of the wrong length, an algorithm the key cannot do).
    #[error("{0}")]
    BadInput(String),
    /// The log could not be written: nothing was signed (fail closed).
    #[error("the transparency log could not be written; nothing was signed")]
    Log(#[from] LogError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The device failed.
    #[error("the crypto device failed: {0}")]
    Device(String),
}

/// How the caller activated the key for this request.
#[derive(Clone)]
pub enum Activation {
    /// A SAD value (CSC `credentials/authorize`), and for a holder's presentation the digest
    /// of what its document discloses (`shown`), which the SAD must have been given for: a
    /// SAD given for a disclosure signs nothing else, and a presentation signs only under
    /// one given for its own.
    Sad {
        value: Zeroizing<String>,
        shown: Option<String>,
    },
    /// A system client's standing approval: its token's scope.
    Standing,
}

impl std::fmt::Debug for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Activation::Sad { shown, .. } => write!(f, "Sad([redacted], shown: {shown:?})"),
            Activation::Standing => f.write_str("Standing"),
        }
    }
}

/// One request: who, with which key, how activated, and what kind of document.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// The authenticated caller.
    pub caller: Caller,
    /// The key.
    pub key: KeyRecord,
    /// The activation.
    pub activation: Activation,
    /// What is being signed: `csc.signHash`, `vc+jwt`, `dc+sd-jwt`, … (recorded).
    pub document_type: String,
    /// The cache epoch `key` was read at, if it came from memory
    /// (`KeyRegistry::get_for_signing`): confirmed at step 3 (`crate::epoch`). `None`: read
    /// from the store for this request.
    pub checked_at: Option<u64>,
    /// What the caller's authentication took from memory
    /// (`Auth::authenticate_for_signing`), confirmed at step 3 like `checked_at`.
    pub token: Option<crate::auth::TokenCheck>,
}

/// What to sign, with the name the log records it by.
#[derive(Debug, Clone)]
pub enum Input {
    /// A digest made by the caller (CSC `signHash`), with its algorithm's name (`sha-256`).
    Digest {
        /// The digest.
        bytes: Vec<u8>,
        /// `sha-256` or `sha-384`.
        algorithm: &'static str,
    },
    /// A signing input built by Inkan from a document; recorded by its SHA-256.
    Message(Vec<u8>),
}

impl Input {
    /// How the log and SADs name this input: `sha-256:<hex>`.
    pub fn label(&self) -> String {
        match self {
            Input::Digest { bytes, algorithm } => format!("{algorithm}:{}", hex::encode(bytes)),
            Input::Message(m) => sha256_digest(m),
        }
    }
}

/// What the signing module lets the crypto device sign for a subscriber: one key, these
/// inputs (issue 14 point 1). Only this module makes one — its fields are private to it — and
/// only at step 4, after the activation, the key, its status and the write-ahead entry were
/// checked; [`Device::sign_for_subscriber`] uses it up. Nowhere else can a subscriber's key
/// sign.
///
/// ```compile_fail
/// // Outside the signing module a permit cannot be made:
/// fn forge(handle: inkan_device::KeyHandle) -> inkan_server::signing::SignPermit {
///     inkan_server::signing::SignPermit {
///         handle,
///         algorithm: inkan_device::Algorithm::Es256,
///         inputs: Vec::new(),
///     }
/// }
/// ```
pub struct SignPermit {
    handle: KeyHandle,
    algorithm: Algorithm,
    inputs: Vec<Input>,
}

impl SignPermit {
    pub(crate) fn handle(&self) -> &KeyHandle {
        &self.handle
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn inputs(&self) -> &[Input] {
        &self.inputs
    }
}

impl std::fmt::Debug for SignPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignPermit")
            .field("handle", &self.handle)
            .field("inputs", &self.inputs.len())
            .finish()
    }
}

/// Signatures and where they are recorded.
#[derive(Debug, Clone)]
pub struct Signed {
    /// One raw signature per input, in order.
    pub signatures: Vec<Vec<u8>>,
    /// The index of the `signature.made` entry (for the receipt).
    pub log_index: u64,
}

/// The signing module.
#[derive(Debug)]
pub struct SigningModule {
    store: Arc<dyn Store>,
    device: Device,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    environment: Environment,
    /// Standing approvals' signatures per (client, key) and minute, counted across nodes.
    rates: crate::auth::limiter::Limiter,
    /// Status lists, checked at step 2 (criteria 2.2.3(1)B).
    status: Arc<StatusChecker>,
    /// Whether keys without a status source may sign.
    allow_keys_without_status: bool,
    /// Set while a restored deployment awaits its approved `backup.restore`.
    seal: crate::backup::seal::Seal,
    /// Confirms, at step 3c, a caller's authentication taken from memory.
    auth: Arc<crate::auth::Auth>,
}

/// Step 3b: the key's state and handle as committed with the write-ahead entry.
fn still_active(key: &KeyRecord, now: Option<(KeyState, String)>) -> Result<(), SigningError> {
    match now {
        Some((KeyState::Active, handle)) if handle == key.handle.as_str() => Ok(()),
        Some((KeyState::Active, _)) => Err(SigningError::KeyUnusable(
            "its device handle changed while the request was being logged".into(),
        )),
        Some((state, _)) => Err(SigningError::KeyUnusable(format!(
            "it became {} while the request was being logged",
            state.as_str()
        ))),
        None => Err(SigningError::KeyUnusable("it no longer exists".into())),
    }
}

/// The SHA-256 of a SAD value, as the store keeps it (like every random secret).
pub fn sad_hash(sad: &str) -> String {
    crate::auth::secret_hash(sad)
}

impl SigningModule {
    /// The module over the service's store, device, log, clock, environment and restore
    /// seal, with the authentication it confirms cached checks with.
    pub fn new(
        service: &crate::service::Service,
        auth: Arc<crate::auth::Auth>,
        status: Arc<StatusChecker>,
        allow_keys_without_status: bool,
    ) -> Self {
        SigningModule {
            auth,
            seal: service.seal.clone(),
            status,
            allow_keys_without_status,
            store: service.store.clone(),
            device: service.device.clone(),
            recorder: service.recorder.clone(),
            clock: service.clock.clone(),
            environment: service.environment,
            // Only `try_take` is used, with each grant's own maximum.
            rates: crate::auth::limiter::Limiter::new(service.store.clone(), "standing", 0),
        }
    }

    /// Signs `inputs` for `request`, through the five steps (see the module documentation).
    pub async fn sign(
        &self,
        request: &SignRequest,
        inputs: &[Input],
    ) -> Result<Signed, SigningError> {
        self.sign_giving(request, inputs, Vec::new()).await
    }

    /// [`sign`](Self::sign) for a credential that was given the status list entries
    /// `status_entries` (list, index): step 5 binds them to the signature in the same
    /// transaction.
    async fn sign_giving(
        &self,
        request: &SignRequest,
        inputs: &[Input],
        status_entries: Vec<(String, u64)>,
    ) -> Result<Signed, SigningError> {
        let labels: Vec<String> = inputs.iter().map(Input::label).collect();
        // 1. Activation.
        let approval = match self.check_activation(request, &labels).await {
            Ok(approval) => approval,
            Err(e) => {
                self.refused(request, &labels, None, &e).await;
                return Err(e);
            }
        };
        // 2. The key, and the inputs against it; then its status list.
        // (A restored deployment signs nothing until its restore is approved.)
        let checked = match self
            .seal
            .check()
            .map_err(SigningError::KeyUnusable)
            .and_then(|()| self.check_key(&request.key, inputs))
        {
            Ok(()) => self.check_status(&request.key, true).await,
            Err(e) => Err(e),
        };
        // The cache epochs of what was read from memory (token, key, status source).
        let read_at: Vec<u64> = match checked {
            Ok(status_at) => request
                .checked_at
                .into_iter()
                .chain(status_at)
                .chain(request.token.as_ref().map(|t| t.read_at))
                .collect(),
            Err(e) => {
                self.refused(request, &labels, Some(&approval), &e).await;
                return Err(e);
            }
        };
        // 3. Write-ahead: nothing is signed unless this is durable.
        let requested = Self::event(
            request,
            EntryKind::SignatureRequested,
            &labels,
            Some(&approval),
        );
        let logged = self
            .recorder
            .signature_requested(requested, &request.key.id)
            .await?;
        // 3b. The key again, as committed with the request's entry: a destruction closes the
        // key before it writes its own entry, so a request logged after that entry finds it
        // closed here (criteria 2.2.2(3)).
        // 3c. What came from memory was read at an epoch the entry's batch no longer saw: the
        // key and its status again, from the store (a change committed before the entry is
        // seen before the device signs).
        let rechecked = match still_active(&request.key, logged.key) {
            Ok(()) if read_at.iter().any(|at| Some(*at) != logged.epoch) => {
                self.recheck(request).await
            }
            other => other,
        };
        if let Err(e) = rechecked {
            self.refused(request, &labels, Some(&approval), &e).await;
            return Err(e);
        }
        // 4. The device.
        let signatures = match self.device_sign(&request.key, inputs).await {
            Ok(signatures) => signatures,
            Err(e) => {
                self.refused(request, &labels, Some(&approval), &e).await;
                return Err(e);
            }
        };
        // 5. The result and its index rows, in one transaction, before anything is returned.
        let made = Self::event(request, EntryKind::SignatureMade, &labels, Some(&approval));
        let mut records: Vec<SignatureRecord> = labels
            .iter()
            .map(|digest| SignatureRecord {
                digest: digest.clone(),
                key_id: request.key.id.to_string(),
                subscriber: request.key.owner.clone(),
                document_type: request.document_type.clone(),
                // The entry's index and time, set when it is appended.
                log_index: 0,
                created_at: 0,
                // A credential is one signature: its entries go with the first.
                status_entries: Vec::new(),
            })
            .collect();
        if let Some(first) = records.first_mut() {
            first.status_entries = status_entries;
        }
        let made = self.recorder.signature_made(made, records).await;
        crate::telemetry::signatures(
            &request.document_type,
            if made.is_ok() { "made" } else { "failed" },
            request.key.device.as_str(),
            labels.len(),
        );
        let log_index = made?;
        Ok(Signed {
            signatures,
            log_index,
        })
    }

    /// Step 1: the SAD or the standing approval. Returns the approval id for the log.
    async fn check_activation(
        &self,
        request: &SignRequest,
        labels: &[String],
    ) -> Result<String, SigningError> {
        let caller = &request.caller;
        authorize_key(caller, &request.key, Operation::Sign)
            .map_err(|e| SigningError::Refused(e.to_string()))?;
        match &request.activation {
            Activation::Standing => {
                if caller.kind != CallerKind::Client {
                    return Err(SigningError::Refused(
                        "a user's signature needs signature activation data (SAD): call \
                         credentials/authorize first"
                            .into(),
                    ));
                }
                let key_id = request.key.id.as_str();
                let grant = caller.scope.as_ref().and_then(|s| s.grant(key_id));
                if !caller.grant_covers(key_id, &request.document_type) {
                    return Err(SigningError::Refused(format!(
                        "the client's standing approval does not cover {} documents",
                        request.document_type
                    )));
                }
                if let Some(max) = grant.and_then(|g| g.max_per_minute) {
                    // Client ids and key ids hold no ':'.
                    let slot = format!("{}:{key_id}", caller.id);
                    let units = u32::try_from(labels.len()).unwrap_or(u32::MAX);
                    if let Err(wait) = self
                        .rates
                        .try_take(&slot, self.clock.now(), units, max)
                        .await?
                    {
                        return Err(SigningError::Refused(format!(
                            "the client's standing approval allows {max} signatures a minute \
                             with this key; retry in {wait} s"
                        )));
                    }
                }
                Ok(format!("standing:{}", caller.id))
            }
            Activation::Sad { value, shown } => {
                let sad = match self
                    .store
                    .consume_sad(&sad_hash(value), self.clock.now())
                    .await
                {
                    Ok(sad) => sad,
                    Err(StoreError::NotFound(_)) => {
                        return Err(SigningError::Refused("the SAD is not valid".into()));
                    }
                    Err(StoreError::Conflict(_)) => {
                        return Err(SigningError::Refused(
                            "the SAD was used already or has expired".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                };
                check_sad_binding(&sad, request, labels)?;
                if sad.disclosure_digest != *shown {
                    return Err(SigningError::Refused(
                        match shown {
                            Some(_) => "the SAD was not given for what this presentation discloses",
                            None => "the SAD was given for a presentation: it signs only that one",
                        }
                        .into(),
                    ));
                }
                Ok(sad.id)
            }
        }
    }

    /// Step 2.
    fn check_key(&self, key: &KeyRecord, inputs: &[Input]) -> Result<(), SigningError> {
        if key.state != KeyState::Active {
            return Err(SigningError::KeyUnusable(format!(
                "it is {}",
                key.state.as_str()
            )));
        }
        if key.environment != self.environment {
            return Err(SigningError::KeyUnusable(format!(
                "it belongs to the {} environment",
                key.environment
            )));
        }
        if !key.certificate_chain.is_empty() {
            // Its validity is the status check's; a chain that no longer parses refuses here,
            // whatever the policy for keys without a status source.
            inkan_device::cert::CertificateChain::from_der_list(&key.certificate_chain)
                .map_err(|e| SigningError::KeyUnusable(format!("its certificate: {e}")))?;
        }
        for input in inputs {
            if let Input::Digest { bytes, .. } = input {
                key.algorithm
                    .check_digest(bytes)
                    .map_err(|e| SigningError::BadInput(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// The key's status now, as step 2 sees it (for the key API and CSC `credentials/info`).
    pub async fn key_status(
        &self,
        key: &KeyRecord,
    ) -> Result<crate::status::LiveStatus, SigningError> {
        Ok(self.status.key_status(self.store.as_ref(), key).await?)
    }

    /// Step 3c: the caller's token and session (if they came from memory) must still stand for
    /// the caller, the key as the store has it now must be the one the request was checked
    /// with, and its status must still say it may sign.
    async fn recheck(&self, request: &SignRequest) -> Result<(), SigningError> {
        if let Some(token) = &request.token {
            self.auth
                .confirm(token, &request.caller)
                .await
                .map_err(|e| SigningError::Refused(e.to_string()))?;
        }
        let key = &request.key;
        let now = self
            .store
            .get_key(&key.id)
            .await?
            .ok_or_else(|| SigningError::KeyUnusable("it no longer exists".into()))?;
        // Everything but its times (a renewal of its certificate moves `updated_at` too, and
        // then the chain differs).
        let same = now.state == key.state
            && now.handle == key.handle
            && now.algorithm == key.algorithm
            && now.spec == key.spec
            && now.device == key.device
            && now.origin == key.origin
            && now.label == key.label
            && now.public_key_spki == key.public_key_spki
            && now.certificate_chain == key.certificate_chain
            && now.environment == key.environment
            && now.owner == key.owner
            && now.state_reason == key.state_reason;
        if !same {
            return Err(SigningError::KeyUnusable(
                "it changed while the request was being logged".into(),
            ));
        }
        self.check_status(&now, false).await.map(drop)
    }

    /// Step 2, the status: the key's status list must say valid, freshly and verifiably
    /// (criteria 2.2.3(1)B). A suspension refuses while it lasts; a revocation refuses (the
    /// status monitor destroys the key); no fresh, verified answer refuses (fail closed). A key
    /// without a source signs only if the policy allows it. With `from_memory`, the key's
    /// status source may come from memory: returns the cache epoch it was read at, for step 3c.
    async fn check_status(
        &self,
        key: &KeyRecord,
        from_memory: bool,
    ) -> Result<Option<u64>, SigningError> {
        let (live, read_at) = if from_memory {
            self.status
                .key_status_for_signing(self.store.as_ref(), self.recorder.epoch(), key)
                .await?
        } else {
            (self.key_status(key).await?, None)
        };
        let reason = || live.reason.clone().unwrap_or_default();
        match (live.value, live.source) {
            (KeyStatusValue::Valid, _) => Ok(read_at),
            (KeyStatusValue::Expired, _) => Err(SigningError::KeyUnusable(reason())),
            (_, StatusSourceKind::None) if self.allow_keys_without_status => Ok(read_at),
            (_, StatusSourceKind::None) => Err(SigningError::KeyUnusable(
                "it has no status source and the policy requires one".into(),
            )),
            _ => Err(SigningError::KeyUnusable(reason())),
        }
    }

    /// Step 4, timed.
    async fn device_sign(
        &self,
        key: &KeyRecord,
        inputs: &[Input],
    ) -> Result<Vec<Vec<u8>>, SigningError> {
        let started = std::time::Instant::now();
        let signed = self.device_sign_untimed(key, inputs).await;
        crate::telemetry::device_signed(
            key.device.as_str(),
            key.algorithm.as_str(),
            started.elapsed().as_secs_f64(),
        );
        signed
    }

    async fn device_sign_untimed(
        &self,
        key: &KeyRecord,
        inputs: &[Input],
    ) -> Result<Vec<Vec<u8>>, SigningError> {
        let permit = SignPermit {
            handle: key.handle.clone(),
            algorithm: key.algorithm,
            inputs: inputs.to_vec(),
        };
        let device = self.device.clone();
        // The software token's elliptic-curve signature of a small message is made in memory
        // in tens of microseconds, less than a hand-off to a blocking thread costs. A PKCS#11
        // call, an RSA signature, a large input or a digest (whose path parses the key each
        // time) must not hold an async worker. (A key's first use after start reads and
        // unseals its file: once per key, about a millisecond.)
        let inline = device.kind() == inkan_device::DeviceKind::Soft
            && !matches!(key.algorithm, Algorithm::Rs256 | Algorithm::Ps256)
            && inputs.len() <= 2
            && inputs
                .iter()
                .all(|i| matches!(i, Input::Message(m) if m.len() <= INLINE_MESSAGE_BYTES));
        if inline {
            return device
                .sign_for_subscriber(permit)
                .map_err(|e| SigningError::Device(e.to_string()));
        }
        tokio::task::spawn_blocking(move || device.sign_for_subscriber(permit))
            .await
            .map_err(|e| SigningError::Device(e.to_string()))?
            .map_err(|e| SigningError::Device(e.to_string()))
    }

    /// What the log says of `request`, of `kind`, with `approval`.
    fn event(
        request: &SignRequest,
        kind: EntryKind,
        labels: &[String],
        approval: Option<&str>,
    ) -> Event {
        Event::new(kind, request.caller.actor())
            .key(&request.key.id)
            .digests(labels.to_vec())
            .approval(approval)
            .note(request.document_type.clone())
    }

    /// Logs a refusal; if even that fails, the refusal stands and the failure is logged.
    async fn refused(
        &self,
        request: &SignRequest,
        labels: &[String],
        approval: Option<&str>,
        why: &SigningError,
    ) {
        let outcome = match why {
            SigningError::Refused(_) | SigningError::KeyUnusable(_) | SigningError::BadInput(_) => {
                "refused"
            }
            SigningError::Log(_) | SigningError::Store(_) | SigningError::Device(_) => "failed",
        };
        crate::telemetry::signatures(
            &request.document_type,
            outcome,
            request.key.device.as_str(),
            labels.len().max(1),
        );
        let event = Self::event(request, EntryKind::SignatureRefused, labels, approval);
        if let Err(e) = self
            .recorder
            .record(event, Outcome::Failed(why.to_string()))
            .await
        {
            tracing::error!(error = %e, "could not log a refused signature");
        }
    }

    /// A `Signer` for format code, bound to `request`: each signature it makes goes through
    /// every step, recorded by the digest of the real signing input.
    pub fn signer(self: &Arc<Self>, request: SignRequest) -> ActivatedSigner {
        ActivatedSigner {
            module: self.clone(),
            request,
            made: std::sync::Mutex::new(Vec::new()),
            failure: std::sync::Mutex::new(None),
            status_entries: std::sync::Mutex::new(Vec::new()),
        }
    }
}

/// Checks that a used-up SAD allows exactly this request.
fn check_sad_binding(
    sad: &SadRecord,
    request: &SignRequest,
    labels: &[String],
) -> Result<(), SigningError> {
    let caller = &request.caller;
    if sad.key_id != request.key.id.as_str() {
        return Err(SigningError::Refused(
            "the SAD was issued for another key".into(),
        ));
    }
    if caller.kind != CallerKind::User || sad.account_id != caller.id {
        return Err(SigningError::Refused(
            "the SAD was issued to another user".into(),
        ));
    }
    if sad.session_id != caller.session {
        return Err(SigningError::Refused(
            "the SAD was issued in another session".into(),
        ));
    }
    let allowed = usize::try_from(sad.num_signatures).unwrap_or(usize::MAX);
    if labels.is_empty() || labels.len() > allowed {
        return Err(SigningError::Refused(format!(
            "the SAD allows {} signature(s), {} asked",
            sad.num_signatures,
            labels.len()
        )));
    }
    if let Some(other) = labels.iter().find(|l| !sad.digests.contains(l)) {
        return Err(SigningError::Refused(format!(
            "the SAD does not cover the digest {other}"
        )));
    }
    Ok(())
}

/// How format code names and reaches `key`: its handle, algorithm, public key, certificate
/// chain, and [`verification_method`] as `kid`.
pub fn key_ref(key: &KeyRecord) -> Result<KeyRef, SigningError> {
    let public_key = PublicKey::from_spki_der(&key.public_key_spki)
        .map_err(|e| SigningError::KeyUnusable(e.to_string()))?;
    Ok(KeyRef {
        handle: key.handle.clone(),
        algorithm: key.algorithm,
        kid: Some(verification_method(&public_key)),
        public_key,
        certificate_chain: key.certificate_chain.clone(),
    })
}

/// The verification method id documents signed with `public_key` name: its `did:key` URL
/// (`did:key:z…#z…`), which every verifier can resolve without a network.
pub fn verification_method(public_key: &PublicKey) -> String {
    let did = public_key.did_key();
    let fragment = did.trim_start_matches("did:key:").to_owned();
    format!("{did}#{fragment}")
}

/// An `inkan_formats::Signer` bound to one request (see [`SigningModule::signer`]). Remembers
/// the log index of each signature it made, for the receipts.
#[derive(Debug)]
pub struct ActivatedSigner {
    module: Arc<SigningModule>,
    request: SignRequest,
    /// Each signature made: the log index of its `signature.made` entry and the digest of its
    /// signing input (as the log and the signature index name it).
    made: std::sync::Mutex<Vec<(u64, String)>>,
    /// Why the last signature failed: format code sees only a `FormatError::Signer`, the
    /// HTTP edge needs to tell a refusal from a failure inside.
    failure: std::sync::Mutex<Option<SigningError>>,
    /// The status list entries handed out to the credential this signer signs, bound to the
    /// next signature in its own log batch ([`give_status_entry`](Self::give_status_entry)).
    status_entries: std::sync::Mutex<Vec<(String, u64)>>,
}

impl ActivatedSigner {
    /// The format code's view of the key.
    pub fn key_ref(&self) -> Result<KeyRef, SigningError> {
        key_ref(&self.request.key)
    }

    /// Why the last signature failed, if it did (taken once).
    pub fn take_failure(&self) -> Option<SigningError> {
        self.failure.lock().ok().and_then(|mut f| f.take())
    }

    /// The request this signer serves.
    pub fn request(&self) -> &SignRequest {
        &self.request
    }

    /// Gives the credential this signer signs next the status list entry `index` of
    /// `list_id` (reserved for it; a credential may be given several): the entry is bound to that signature's digest and
    /// `signature.made` entry in the transaction that writes them (issue 16), so a logged
    /// credential never leaves its entry unbound.
    pub fn give_status_entry(&self, list_id: &str, index: u64) {
        if let Ok(mut entries) = self.status_entries.lock() {
            entries.push((list_id.to_owned(), index));
        }
    }

    /// The log indexes of the signatures made so far.
    pub fn log_indexes(&self) -> Vec<u64> {
        self.signatures()
            .into_iter()
            .map(|(index, _)| index)
            .collect()
    }

    /// The signatures made so far: the log index of each one's `signature.made` entry and the
    /// digest of its signing input (`sha-256:…`).
    pub fn signatures(&self) -> Vec<(u64, String)> {
        self.made
            .lock()
            .map(|m| m.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

#[async_trait::async_trait]
impl Signer for ActivatedSigner {
    async fn sign(&self, key: &KeyRef, input: SignInput<'_>) -> Result<Vec<u8>, FormatError> {
        if key.handle != self.request.key.handle {
            return Err(FormatError::Signer(
                "the format asked for a key other than the request's".into(),
            ));
        }
        let input = match input {
            SignInput::Message(m) => Input::Message(m.to_vec()),
            SignInput::Digest(d) => Input::Digest {
                bytes: d.to_vec(),
                algorithm: match d.len() {
                    48 => "sha-384",
                    _ => "sha-256",
                },
            },
        };
        let label = input.label();
        let status_entries = self
            .status_entries
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default();
        let signed = match self
            .module
            .sign_giving(
                &self.request,
                std::slice::from_ref(&input),
                status_entries.clone(),
            )
            .await
        {
            Ok(signed) => signed,
            Err(e) => {
                // Not bound: they stay for the next signature of this signer, if any.
                if let Ok(mut entries) = self.status_entries.lock() {
                    entries.extend(status_entries);
                }
                let message = e.to_string();
                if let Ok(mut failure) = self.failure.lock() {
                    *failure = Some(e);
                }
                return Err(FormatError::Signer(message));
            }
        };
        if let Ok(mut made) = self.made.lock() {
            made.push((signed.log_index, label));
        }
        signed
            .signatures
            .into_iter()
            .next()
            .ok_or_else(|| FormatError::Signer("the signing module returned nothing".into()))
    }
}
