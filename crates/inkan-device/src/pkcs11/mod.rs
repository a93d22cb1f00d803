//! PKCS#11 devices: any token reachable through a PKCS#11 module (SoftHSMv2 in tests, a
//! certified HSM in production, criteria 2.2.2(1)).
//!
//! Owns [`Pkcs11Device`] and its configuration. Keys are generated or unwrapped inside the
//! token as private, sensitive token objects that can leave it only wrapped under the SO's
//! trusted backup key (`CKA_EXTRACTABLE` with `CKA_WRAP_WITH_TRUSTED`, criteria 2.2.2(2)); the
//! device only ever asks the token to sign, and hashes in software only where the token's
//! mechanism takes a digest (ECDSA).
//!
//! Parts:
//! - `context`: one initialized module per process, shared by every device on it;
//! - `pool`: logged-in sessions, checked out one per operation, and recovery when the
//!   sessions or the login are lost;
//! - `objects`: attribute templates and public-key decoding.
//!
//! This module must never read, log or return private key material or the PIN, never create
//! a private key that is not sensitive or that could be wrapped under anything but a trusted
//! key, and never find a token by slot number
//! (slot numbers change when tokens come and go; the label does not).

mod context;
mod objects;
mod pool;

use crate::import::{WrappedKey, WrappingAlgorithm};
use crate::{
    Algorithm, CryptoDevice, DeviceError, DeviceKey, DeviceKind, KeyHandle, KeySpec, PublicKey,
};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use objects::{KEY_ATTRIBUTES, KeyAttributes, WRAPPING_KEY_LABEL};
use pool::{Failure, SessionPool, describe, is_logged_in};
use rand_core::{OsRng, RngCore as _};
use secrecy::SecretString;
use sha2::Digest as _;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use zeroize::Zeroizing;

/// Length of a key's `CKA_ID`; its lowercase hex is the [`KeyHandle`].
const ID_LEN: usize = crate::HANDLE_BYTES;
/// Longest `CKA_LABEL` accepted for a key.
const MAX_LABEL: usize = 256;

/// Where the user PIN of the token comes from. Only where, never the PIN itself, so this is
/// safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// A file holding the PIN; one trailing newline is ignored. A missing or empty file is
    /// refused.
    File(PathBuf),
    /// An environment variable holding the PIN. An unset or empty variable is refused.
    Env(String),
}

impl PinSource {
    /// Reads the PIN. Error messages name the source, never the content.
    pub fn read(&self) -> Result<SecretString, DeviceError> {
        let pin = match self {
            PinSource::File(path) => {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                    DeviceError::Config(format!(
                        "the PKCS#11 PIN file {} cannot be read: {e}",
                        path.display()
                    ))
                })?);
                let pin = text
                    .strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text);
                if pin.is_empty() {
                    return Err(DeviceError::Config(format!(
                        "the PKCS#11 PIN file {} is empty",
                        path.display()
                    )));
                }
                SecretString::from(pin)
            }
            PinSource::Env(name) => {
                let value = Zeroizing::new(std::env::var(name).map_err(|e| match e {
                    std::env::VarError::NotPresent => DeviceError::Config(format!(
                        "the environment variable {name} that should hold the PKCS#11 PIN is not set"
                    )),
                    std::env::VarError::NotUnicode(_) => DeviceError::Config(format!(
                        "the environment variable {name} that holds the PKCS#11 PIN is not valid UTF-8"
                    )),
                })?);
                if value.is_empty() {
                    return Err(DeviceError::Config(format!(
                        "the environment variable {name} that should hold the PKCS#11 PIN is empty"
                    )));
                }
                SecretString::from(value.as_str())
            }
        };
        Ok(pin)
    }
}

/// Settings of a PKCS#11 device.
#[derive(Debug, Clone)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library) of the token's vendor.
    pub module: PathBuf,
    /// The label of the token; the token is found by it, never by slot number.
    pub token_label: String,
    /// Where the user PIN comes from.
    pub pin: PinSource,
    /// How many sessions may be open at once, hence how many operations run in parallel.
    pub sessions: usize,
}

/// Object handles of one key, valid in the session-pool generation they were found in.
#[derive(Debug, Clone, Copy)]
struct CachedKey {
    generation: u64,
    private: ObjectHandle,
    spec: KeySpec,
}

/// The import wrapping key pair as found in one generation.
#[derive(Debug, Clone)]
struct WrappingKey {
    generation: u64,
    private: ObjectHandle,
    public: PublicKey,
}

/// A token reached through a PKCS#11 module.
pub struct Pkcs11Device {
    // Dropped first: the sessions close before anything else goes.
    pool: SessionPool,
    module: PathBuf,
    keys: RwLock<HashMap<KeyHandle, CachedKey>>,
    wrapping: Mutex<Option<WrappingKey>>,
}

impl std::fmt::Debug for Pkcs11Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Device")
            .field("module", &self.module)
            .field("token_label", &self.pool.token_label())
            .finish_non_exhaustive()
    }
}

fn new_id() -> [u8; ID_LEN] {
    let mut id = [0u8; ID_LEN];
    OsRng.fill_bytes(&mut id);
    id
}

fn check_label(label: &str) -> Result<(), DeviceError> {
    if label.len() > MAX_LABEL {
        return Err(DeviceError::InvalidInput(format!(
            "key label longer than {MAX_LABEL} bytes"
        )));
    }
    Ok(())
}

/// Finds the objects matching `template` (at most a few are expected).
fn find(session: &Session, template: &[Attribute]) -> Result<Vec<ObjectHandle>, Failure> {
    Ok(session.find_objects(template)?)
}

/// Finds private objects; the login is checked before and after, so that objects hidden by
/// a login lost meanwhile (private objects are invisible without it) are never taken for
/// absent ones, nor a login regained meanwhile by another thread for a search that ran
/// without it.
fn find_private(session: &Session, template: &[Attribute]) -> Result<Vec<ObjectHandle>, Failure> {
    if !is_logged_in(session)? {
        return Err(Failure::LoggedOut);
    }
    let found = find(session, template)?;
    if found.is_empty() && !is_logged_in(session)? {
        return Err(Failure::LoggedOut);
    }
    Ok(found)
}

/// The signing private key carrying `id`, if any.
fn find_signing_key(session: &Session, id: &[u8]) -> Result<Option<ObjectHandle>, Failure> {
    let found = find_private(
        session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Sign(true),
            Attribute::Id(id.to_vec()),
        ],
    )?;
    match found.as_slice() {
        [one] => Ok(Some(*one)),
        [] => Ok(None),
        _ => Err(Failure::Device(DeviceError::Crypto(format!(
            "{} private keys in the token share the CKA_ID {}",
            found.len(),
            hex::encode(id)
        )))),
    }
}

/// Destroys every signing private key and verifying public key carrying `id`, so a key half
/// created by an interrupted attempt does not stay behind.
fn purge(session: &Session, id: &[u8]) -> Result<(), Failure> {
    let private = find_private(
        session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Sign(true),
            Attribute::Id(id.to_vec()),
        ],
    )?;
    let public = find(
        session,
        &[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Verify(true),
            Attribute::Id(id.to_vec()),
        ],
    )?;
    for object in private.into_iter().chain(public) {
        match session.destroy_object(object) {
            // Destroyed meanwhile by another thread: that is the goal.
            Ok(()) | Err(Error::Pkcs11(RvError::ObjectHandleInvalid, _)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Destroys objects created by a failed attempt; the attempt's error is what matters, so a
/// failure here is only logged (the retry or [`Pkcs11Device::purge_after_failure`] purges by
/// `CKA_ID` again).
fn destroy_quietly(session: &Session, objects: &[ObjectHandle]) {
    for object in objects {
        if let Err(e) = session.destroy_object(*object) {
            tracing::warn!(error = %describe(&e), "could not destroy an object of a failed PKCS#11 operation");
        }
    }
}

fn read_key_attributes(session: &Session, object: ObjectHandle) -> Result<KeyAttributes, Failure> {
    Ok(KeyAttributes::new(
        session.get_attributes(object, &KEY_ATTRIBUTES)?,
    ))
}

/// Why the RSA-OAEP step of an import failed. A token that refuses the mechanism's
/// parameters cannot do this OAEP variant inside it at all (SoftHSM 2.6 knows only SHA-1
/// there): that is the device's limit, not the input's fault, and the message says which
/// variant to use instead. Anything else the module refuses is the input's (wrapped to
/// another key, damaged).
fn oaep_failure(algorithm: WrappingAlgorithm, e: Error) -> Failure {
    match e {
        Error::Pkcs11(
            RvError::ArgumentsBad | RvError::MechanismParamInvalid | RvError::MechanismInvalid,
            _,
        ) => Failure::Device(DeviceError::Config(format!(
            "this token cannot unwrap {algorithm} inside it ({}); wrap the key with another \
             wrapping algorithm (SoftHSM 2.6 supports only {})",
            describe(&e),
            WrappingAlgorithm::RsaAesKeyWrapSha1,
        ))),
        other => refused("RSA-OAEP", other),
    }
}

/// Why the AES-KWP step of an import failed.
fn kwp_failure(spec: KeySpec, e: Error) -> Failure {
    match e {
        Error::Pkcs11(RvError::FunctionFailed, _) if spec == KeySpec::Ed25519 => {
            Failure::Device(DeviceError::Config(format!(
                "this token could not unwrap an Ed25519 private key ({}); SoftHSM 2.6 cannot unwrap \
                 Edwards keys",
                describe(&e)
            )))
        }
        other => refused("AES-KWP", other),
    }
}

/// An unwrap error caused by the wrapped input (not by the session) becomes a plain refusal.
fn refused(step: &str, e: Error) -> Failure {
    match e {
        Error::Pkcs11(rv, _) if !pool::is_connection_loss(rv) => {
            Failure::Device(DeviceError::InvalidInput(format!(
                "the wrapped key could not be unwrapped with this device's wrapping key ({step}: {})",
                describe(&e)
            )))
        }
        other => Failure::Module(other),
    }
}

/// The DER `DigestInfo` prefix of a SHA-256 digest (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO_PREFIX: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (PS256).
fn pss_sha256() -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32u64.into(),
    }
}

impl Pkcs11Device {
    /// Loads the module (once per process), finds the token by its label, reads the PIN and
    /// logs in, so a wrong module, label or PIN fails here.
    pub fn open(config: &Pkcs11Config) -> Result<Self, DeviceError> {
        if config.sessions == 0 {
            return Err(DeviceError::Config(
                "a PKCS#11 device needs at least one session".into(),
            ));
        }
        let pin = config.pin.read()?;
        let ctx = context::module(&config.module)?;
        let pool = SessionPool::connect(ctx, &config.token_label, pin, config.sessions)?;
        tracing::info!(
            module = %config.module.display(),
            token = %config.token_label,
            sessions = config.sessions,
            "PKCS#11 device opened"
        );
        Ok(Pkcs11Device {
            pool,
            module: config.module.clone(),
            keys: RwLock::new(HashMap::new()),
            wrapping: Mutex::new(None),
        })
    }

    /// Takes the login away from every session this process has on the token, as an HSM
    /// restart or a `C_CloseAllSessions` would, so a test can prove that the next operations
    /// recover (reconnect, log in again, retry once).
    ///
    /// `cryptoki` 0.12 offers no safe `C_CloseAllSessions` and this crate forbids `unsafe`,
    /// so this calls `C_Logout` on a new session of the slot: the pooled sessions stay open
    /// but lose their login, and the application's handles to private objects become
    /// invalid, which the module then reports as `CKR_OBJECT_HANDLE_INVALID` or
    /// `CKR_USER_NOT_LOGGED_IN` — the same recovery path as closed sessions.
    #[doc(hidden)]
    pub fn close_all_sessions_for_test(&self) {
        if let Err(e) = self.pool.drop_login_for_test() {
            tracing::warn!(error = %e, "could not log the test token out");
        }
    }

    /// The private key under `handle`, from the cache when it was found in this generation.
    fn signing_key(
        &self,
        session: &Session,
        generation: u64,
        handle: &KeyHandle,
    ) -> Result<CachedKey, Failure> {
        if let Some(key) = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(handle)
            && key.generation == generation
        {
            return Ok(*key);
        }
        let not_found = || Failure::Device(DeviceError::KeyNotFound(handle.to_string()));
        let id = handle.to_bytes().ok_or_else(not_found)?;
        let private = find_signing_key(session, &id)?.ok_or_else(not_found)?;
        let spec = read_key_attributes(session, private)?.spec()?;
        let key = CachedKey {
            generation,
            private,
            spec,
        };
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(handle.clone(), key);
        Ok(key)
    }

    fn remember(&self, handle: &KeyHandle, key: CachedKey) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(handle.clone(), key);
    }

    fn forget(&self, handle: &KeyHandle) {
        self.keys
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(handle);
    }

    /// After an operation that creates objects failed for good, makes one more attempt to
    /// remove whatever carries its `CKA_ID`, so no orphan object stays in the token.
    fn purge_after_failure(&self, id: &[u8]) {
        if let Err(e) = self.pool.run(|s, _| purge(s, id)) {
            tracing::warn!(id = %hex::encode(id), error = %e, "objects of a failed PKCS#11 operation may remain");
        }
    }

    /// Signs `data` with `mechanism` on the token and checks the signature's length.
    fn sign_on_token(
        &self,
        handle: &KeyHandle,
        alg: Algorithm,
        mechanism: &Mechanism<'_>,
        data: &[u8],
    ) -> Result<Vec<u8>, DeviceError> {
        let signature = self.pool.run(|s, generation| {
            let key = self.signing_key(s, generation, handle)?;
            alg.check_fits(key.spec)?;
            Ok(s.sign(mechanism, key.private, data)?)
        })?;
        let expected = match alg {
            Algorithm::Es256 => Some(64),
            Algorithm::Es384 => Some(96),
            Algorithm::EdDsa => Some(64),
            Algorithm::Rs256 | Algorithm::Ps256 => None,
        };
        if let Some(expected) = expected
            && signature.len() != expected
        {
            return Err(DeviceError::Crypto(format!(
                "the token returned a {alg} signature of {} bytes, not {expected}",
                signature.len()
            )));
        }
        Ok(signature)
    }

    /// The import wrapping key pair, found by its label or created on first use. Must be
    /// called with a session checked out (the lock below is only ever taken while holding
    /// one, so it cannot wait on a thread that waits for a session).
    fn wrapping_key(&self, session: &Session, generation: u64) -> Result<WrappingKey, Failure> {
        let mut slot = self.wrapping.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = slot.as_ref()
            && found.generation == generation
        {
            return Ok(found.clone());
        }
        let template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(WRAPPING_KEY_LABEL.as_bytes().to_vec()),
            Attribute::Unwrap(true),
        ];
        let mut candidates = Vec::new();
        for object in find_private(session, &template)? {
            let id = match session
                .get_attributes(object, &[AttributeType::Id])?
                .into_iter()
                .next()
            {
                Some(Attribute::Id(id)) => id,
                _ => Vec::new(),
            };
            candidates.push((id, object));
        }
        // Two processes creating it at once could leave two; every process then picks the
        // same one, the lowest CKA_ID.
        candidates.sort_by(|a, b| a.0.cmp(&b.0));
        let private = match candidates.into_iter().next() {
            Some((_, object)) => object,
            None => {
                let id = new_id();
                let (mechanism, public_template, private_template) =
                    objects::wrapping_generation(&id);
                let (_, private) =
                    session.generate_key_pair(&mechanism, &public_template, &private_template)?;
                tracing::info!(token = %self.pool.token_label(), "import wrapping key created (RSA-3072)");
                private
            }
        };
        // The private object carries the modulus and public exponent: the public half is
        // read from it, so it is the key that will actually unwrap.
        let public = read_key_attributes(session, private)?.public_key()?;
        let found = WrappingKey {
            generation,
            private,
            public,
        };
        *slot = Some(found.clone());
        Ok(found)
    }
}

impl Pkcs11Device {
    /// The body of [`CryptoDevice::unwrap_key`] (documented there).
    fn unwrap_inside(
        &self,
        wrapped: &WrappedKey,
        public_key: &PublicKey,
        label: &str,
    ) -> Result<KeyHandle, DeviceError> {
        check_label(label)?;
        let spec = public_key.spec();
        let id = new_id();
        let handle = KeyHandle::from_bytes(id);
        let (hash, mgf) = match wrapped.algorithm {
            WrappingAlgorithm::RsaAesKeyWrapSha256 => {
                (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256)
            }
            WrappingAlgorithm::RsaAesKeyWrapSha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        };
        let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
        let transport_template = objects::transport_key_template();
        let private_template = objects::imported_private_template(spec, &id, label);
        let public_template = objects::imported_public_template(public_key, &id, label);
        let result = self.pool.run(|s, generation| {
            purge(s, &id)?;
            let wrapping = self.wrapping_key(s, generation)?;
            let transport = s
                .unwrap_key(
                    &oaep,
                    wrapping.private,
                    &wrapped.encrypted_aes_key,
                    &transport_template,
                )
                .map_err(|e| oaep_failure(wrapped.algorithm, e))?;
            let stored = (|| {
                // The format carries AES-256. SoftHSM 2.6 reports 0 for the length of an
                // unwrapped key (and refuses it in the template), so only a length the token
                // does report is checked.
                let reported = match s
                    .get_attributes(transport, &[AttributeType::ValueLen])?
                    .first()
                {
                    Some(Attribute::ValueLen(len)) => u64::from(*len),
                    _ => 0,
                };
                if reported != 0 && reported != 32 {
                    return Err(Failure::Device(DeviceError::InvalidInput(format!(
                        "the wrapped key carries a {reported}-byte AES key, not an AES-256 key"
                    ))));
                }
                let private = s
                    .unwrap_key(
                        &Mechanism::AesKeyWrapPad,
                        transport,
                        &wrapped.wrapped_pkcs8,
                        &private_template,
                    )
                    .map_err(|e| kwp_failure(spec, e))?;
                let checked = read_key_attributes(s, private)
                    .and_then(|a| Ok(a.spec()?))
                    .and_then(|found| {
                        if found == spec {
                            Ok(())
                        } else {
                            Err(Failure::Device(DeviceError::KeyMismatch(format!(
                                "the wrapped key is a {found} key, the public key a {spec} key"
                            ))))
                        }
                    });
                if let Err(e) = checked {
                    destroy_quietly(s, &[private]);
                    return Err(e);
                }
                match s.create_object(&public_template) {
                    Ok(_) => Ok(private),
                    Err(e) => {
                        destroy_quietly(s, &[private]);
                        Err(e.into())
                    }
                }
            })();
            // The transport key goes whatever happened (it would also die with the session).
            destroy_quietly(s, &[transport]);
            let private = stored?;
            self.remember(
                &handle,
                CachedKey {
                    generation,
                    private,
                    spec,
                },
            );
            Ok(())
        });
        match result {
            Ok(()) => Ok(handle),
            Err(e) => {
                self.purge_after_failure(&id);
                Err(e)
            }
        }
    }
}

impl CryptoDevice for Pkcs11Device {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Pkcs11
    }

    /// A PKCS#11 token is taken as certified (criteria 2.2.2(1)); that the configured token
    /// really is a certified device is the operator's declaration, not something the module
    /// can prove.
    fn is_certified(&self) -> bool {
        true
    }

    fn generate(&self, spec: KeySpec, label: &str) -> Result<DeviceKey, DeviceError> {
        check_label(label)?;
        let id = new_id();
        let handle = KeyHandle::from_bytes(id);
        let (mechanism, public_template, private_template) = objects::generation(spec, &id, label);
        let result = self.pool.run(|s, generation| {
            purge(s, &id)?;
            let (public, private) =
                s.generate_key_pair(&mechanism, &public_template, &private_template)?;
            let read =
                read_key_attributes(s, public).and_then(|attributes| Ok(attributes.public_key()?));
            let public_key = match read {
                Ok(key) if key.spec() == spec => key,
                Ok(key) => {
                    destroy_quietly(s, &[private, public]);
                    return Err(DeviceError::Crypto(format!(
                        "asked the token for a {spec} key, it made a {}",
                        key.spec()
                    ))
                    .into());
                }
                Err(e) => {
                    destroy_quietly(s, &[private, public]);
                    return Err(e);
                }
            };
            self.remember(
                &handle,
                CachedKey {
                    generation,
                    private,
                    spec,
                },
            );
            Ok(public_key)
        });
        match result {
            Ok(public_key) => Ok(DeviceKey { handle, public_key }),
            Err(e) => {
                self.purge_after_failure(&id);
                Err(e)
            }
        }
    }

    fn sign(
        &self,
        handle: &KeyHandle,
        alg: Algorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, DeviceError> {
        match alg {
            // ECDSA on the token takes a digest (SoftHSM offers only CKM_ECDSA); the hash is
            // of public data, so computing it here gives nothing away.
            Algorithm::Es256 => self.sign_digest(handle, alg, &sha2::Sha256::digest(message)),
            Algorithm::Es384 => self.sign_digest(handle, alg, &sha2::Sha384::digest(message)),
            Algorithm::EdDsa => self.sign_on_token(
                handle,
                alg,
                &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                message,
            ),
            Algorithm::Rs256 => self.sign_on_token(handle, alg, &Mechanism::Sha256RsaPkcs, message),
            Algorithm::Ps256 => self.sign_on_token(
                handle,
                alg,
                &Mechanism::Sha256RsaPkcsPss(pss_sha256()),
                message,
            ),
        }
    }

    fn sign_digest(
        &self,
        handle: &KeyHandle,
        alg: Algorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, DeviceError> {
        alg.check_digest(digest)?;
        match alg {
            Algorithm::Es256 | Algorithm::Es384 => {
                self.sign_on_token(handle, alg, &Mechanism::Ecdsa, digest)
            }
            // Raw PKCS#1 v1.5 over the DER DigestInfo of a SHA-256 digest (RFC 8017 §9.2).
            Algorithm::Rs256 => {
                let digest_info = [SHA256_DIGEST_INFO_PREFIX, digest].concat();
                self.sign_on_token(handle, alg, &Mechanism::RsaPkcs, &digest_info)
            }
            Algorithm::Ps256 => {
                self.sign_on_token(handle, alg, &Mechanism::RsaPkcsPss(pss_sha256()), digest)
            }
            Algorithm::EdDsa => Err(DeviceError::InvalidInput(
                "EdDSA has no pre-hash mode".into(),
            )),
        }
    }

    fn public_key(&self, handle: &KeyHandle) -> Result<PublicKey, DeviceError> {
        let id = handle
            .to_bytes()
            .ok_or_else(|| DeviceError::KeyNotFound(handle.to_string()))?;
        self.pool.run(|s, generation| {
            let key = self.signing_key(s, generation, handle)?;
            let public = find(
                s,
                &[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::Verify(true),
                    Attribute::Id(id.to_vec()),
                ],
            )?;
            let attributes = match public.first() {
                Some(object) => read_key_attributes(s, *object)?,
                // An RSA private key carries its public half; an EC one does not.
                None if key.spec.rsa_bits().is_some() => read_key_attributes(s, key.private)?,
                None => {
                    return Err(DeviceError::Crypto(format!(
                        "key {handle} has no public-key object in the token"
                    ))
                    .into());
                }
            };
            let public_key = attributes.public_key()?;
            if public_key.spec() != key.spec {
                return Err(DeviceError::Crypto(format!(
                    "the public-key object of {handle} is a {}, its private key a {}",
                    public_key.spec(),
                    key.spec
                ))
                .into());
            }
            Ok(public_key)
        })
    }

    fn contains(&self, handle: &KeyHandle) -> Result<bool, DeviceError> {
        let Some(id) = handle.to_bytes() else {
            return Ok(false);
        };
        self.pool
            .run(|s, _| Ok(find_signing_key(s, &id)?.is_some()))
    }

    /// The handles of the signing private keys (`CKA_SIGN` true) whose `CKA_ID` has Inkan's
    /// form (16 bytes); keys other applications keep in the same token are not listed, nor is
    /// the import wrapping key (it cannot sign).
    fn handles(&self) -> Result<Vec<KeyHandle>, DeviceError> {
        let mut handles = self.pool.run(|s, _| {
            let mut handles = Vec::new();
            for object in find_private(
                s,
                &[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::Sign(true),
                ],
            )? {
                if let Some(Attribute::Id(id)) = s
                    .get_attributes(object, &[AttributeType::Id])?
                    .into_iter()
                    .next()
                    && id.len() == ID_LEN
                {
                    handles.push(KeyHandle::new(hex::encode(id)));
                }
            }
            Ok(handles)
        })?;
        handles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        handles.dedup();
        Ok(handles)
    }

    fn wrapping_public_key(&self) -> Result<PublicKey, DeviceError> {
        self.pool
            .run(|s, generation| Ok(self.wrapping_key(s, generation)?.public))
    }

    /// Unwraps inside the token (criteria 2.2.2(2)A): the RSA-OAEP part opens a session
    /// AES-256 key that never leaves the token and can only unwrap; that key unwraps the
    /// PKCS#8 into a sensitive, non-extractable signing key; the AES key is then destroyed,
    /// whatever happened. The public key given is stored next to it under the same `CKA_ID`.
    /// A failure part-way destroys what was created.
    ///
    /// This is the two-step form of `CKM_RSA_AES_KEY_WRAP`. The one-step mechanism is never
    /// used: `cryptoki` 0.12 has no mechanism type for it (it drops it from mechanism lists
    /// and accepts only vendor-defined numbers for unknown ones) and SoftHSM 2.6 does not
    /// offer it.
    ///
    /// A token that cannot do the wrapped key's OAEP variant inside it (SoftHSM 2.6 answers
    /// `CKR_ARGUMENTS_BAD` to SHA-256) refuses it with [`DeviceError::Config`] naming the
    /// variant it does know: opening the AES key outside the token would defeat
    /// 2.2.2(2)A-4, so there is no fallback.
    fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        public_key: &PublicKey,
        label: &str,
    ) -> Result<KeyHandle, DeviceError> {
        self.unwrap_inside(wrapped, public_key, label)
    }

    fn export_for_backup(&self, handle: &KeyHandle) -> Result<Vec<u8>, DeviceError> {
        let id = handle
            .to_bytes()
            .ok_or_else(|| DeviceError::KeyNotFound(handle.to_string()))?;
        self.pool.run(|s, _| {
            let key = find_signing_key(s, &id)?
                .ok_or_else(|| Failure::Device(DeviceError::KeyNotFound(handle.to_string())))?;
            let wrapping = find_backup_key(s)?;
            Ok(s.wrap_key(&Mechanism::AesKeyWrapPad, wrapping, key)?)
        })
    }

    fn restore_from_backup(
        &self,
        handle: &KeyHandle,
        public_key: &PublicKey,
        label: &str,
        wrapped: &[u8],
    ) -> Result<(), DeviceError> {
        check_label(label)?;
        let id = handle.to_bytes().ok_or_else(|| {
            DeviceError::InvalidInput(format!("{handle} is not a PKCS#11 handle"))
        })?;
        let spec = public_key.spec();
        let private_template = objects::imported_private_template(spec, &id, label);
        let public_template = objects::imported_public_template(public_key, &id, label);
        self.pool.run(|s, _| {
            if find_signing_key(s, &id)?.is_some() {
                return Err(Failure::Device(DeviceError::InvalidInput(format!(
                    "the token holds key {handle} already"
                ))));
            }
            let wrapping = find_backup_key(s)?;
            let private = s.unwrap_key(
                &Mechanism::AesKeyWrapPad,
                wrapping,
                wrapped,
                &private_template,
            )?;
            if let Err(e) = s.create_object(&public_template) {
                destroy_quietly(s, &[private]);
                return Err(e.into());
            }
            Ok(())
        })
    }

    fn destroy(&self, handle: &KeyHandle) -> Result<(), DeviceError> {
        self.forget(handle);
        let Some(id) = handle.to_bytes() else {
            return Ok(());
        };
        self.pool.run(|s, _| purge(s, &id))?;
        self.forget(handle);
        Ok(())
    }
}

/// The label of the AES-256 key a token's SO makes for backups ([`create_backup_key`]).
pub const BACKUP_KEY_LABEL: &str = "inkan backup wrapping key";

/// The token's backup wrapping key: a public (`CKA_PRIVATE` false, so the SO could make it),
/// trusted AES-256 key labelled [`BACKUP_KEY_LABEL`].
fn find_backup_key(session: &Session) -> Result<ObjectHandle, Failure> {
    let found = find(
        session,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(BACKUP_KEY_LABEL.as_bytes().to_vec()),
            Attribute::Trusted(true),
        ],
    )?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure::Device(DeviceError::Config(
            "the token has no backup wrapping key: its SO makes one with `inkan backup wrapping-key --so-pin-file FILE`"
                .into(),
        ))),
        _ => Err(Failure::Device(DeviceError::Config(format!(
            "the token has {} backup wrapping keys",
            found.len()
        )))),
    }
}

/// The SO's part of the backup ceremony: makes the token's backup wrapping key (AES-256,
/// trusted, sensitive, never extractable, wrap and unwrap only) unless it has one. Restoring
/// into another token needs the same key there, copied by the HSM's own means (cloning).
/// Returns whether a key was made.
pub fn create_backup_key(
    module: &Path,
    token_label: &str,
    so_pin: &SecretString,
) -> Result<bool, DeviceError> {
    let failed = |what: &str| {
        let what = what.to_owned();
        move |e: Error| DeviceError::Pkcs11(format!("{what}: {}", describe(&e)))
    };
    let ctx = context::module(module)?;
    let slot = pool::find_slot(&ctx, token_label)?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(failed("opening a session"))?;
    session
        .login(UserType::So, Some(so_pin))
        .map_err(failed("SO login"))?;
    let made = match find_backup_key(&session) {
        Ok(_) => Ok(false),
        Err(Failure::Device(DeviceError::Config(_))) => session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(cryptoki::object::KeyType::AES),
                    Attribute::ValueLen(32.into()),
                    Attribute::Token(true),
                    Attribute::Private(false),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Encrypt(false),
                    Attribute::Decrypt(false),
                    Attribute::Sign(false),
                    Attribute::Wrap(true),
                    Attribute::Unwrap(true),
                    Attribute::Trusted(true),
                    Attribute::Label(BACKUP_KEY_LABEL.as_bytes().to_vec()),
                ],
            )
            .map(|_| true)
            .map_err(failed("generating the backup wrapping key")),
        Err(Failure::Device(e)) => Err(e),
        Err(other) => Err(DeviceError::Pkcs11(format!("{other:?}"))),
    };
    let _ = session.logout();
    made
}

/// Initializes a new token labelled `label` in the module's free slot, with `so_pin` and
/// then the user PIN `user_pin`; for tests and benchmarks on SoftHSM, which always offers
/// one uninitialized slot (and adds another after each initialization). Calls within a
/// process are serialized.
#[doc(hidden)]
pub fn init_test_token(
    module: &Path,
    label: &str,
    so_pin: &str,
    user_pin: &str,
) -> Result<(), DeviceError> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let failed = |what: &str| {
        let what = what.to_owned();
        move |e: Error| DeviceError::Pkcs11(format!("{what}: {}", describe(&e)))
    };
    let ctx = context::module(module)?;
    let slots = ctx
        .get_slots_with_token()
        .map_err(failed("listing slots"))?;
    let mut free = None;
    for slot in slots {
        if !ctx
            .get_token_info(slot)
            .map_err(failed("reading token info"))?
            .token_initialized()
        {
            free = Some(slot);
            break;
        }
    }
    let free = free.ok_or_else(|| {
        DeviceError::Config("the PKCS#11 module has no uninitialized slot".into())
    })?;
    let so_pin = SecretString::from(so_pin);
    ctx.init_token(free, &so_pin, label)
        .map_err(failed("C_InitToken"))?;
    // SoftHSM gives an initialized token a new slot number: find it again by its label.
    let slot = pool::find_slot(&ctx, label)?;
    let session = ctx
        .open_rw_session(slot)
        .map_err(failed("opening a session"))?;
    session
        .login(UserType::So, Some(&so_pin))
        .map_err(failed("SO login"))?;
    session
        .init_pin(&SecretString::from(user_pin))
        .map_err(failed("C_InitPIN"))?;
    session.logout().map_err(failed("SO logout"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn handles_are_32_lowercase_hex_digits() {
        let id = [0xabu8; ID_LEN];
        let handle = KeyHandle::from_bytes(id);
        assert_eq!(handle.to_bytes(), Some(id));
        assert_eq!(KeyHandle::new("AB".repeat(ID_LEN)).to_bytes(), None);
        assert_eq!(KeyHandle::new("ab".repeat(ID_LEN + 1)).to_bytes(), None);
        assert_eq!(KeyHandle::new("../etc/passwd").to_bytes(), None);
    }

    #[test]
    fn pin_files_lose_one_trailing_newline_and_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, "1234\n").unwrap();
        assert_eq!(
            PinSource::File(path.clone())
                .read()
                .unwrap()
                .expose_secret(),
            "1234"
        );
        std::fs::write(&path, "1234\r\n").unwrap();
        assert_eq!(
            PinSource::File(path.clone())
                .read()
                .unwrap()
                .expose_secret(),
            "1234"
        );
        std::fs::write(&path, "\n").unwrap();
        let err = PinSource::File(path.clone())
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("is empty"), "{err}");
        let err = PinSource::File(dir.path().join("missing"))
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be read"), "{err}");
    }

    /// A device on a new SoftHSM token. The integration tests' helper
    /// (`tests/common/softhsm.rs`) cannot be shared with unit tests, so the little it does is
    /// repeated here; like it, this never skips.
    fn softhsm_device() -> (Pkcs11Device, tempfile::TempDir) {
        let conf = PathBuf::from(
            std::env::var_os("SOFTHSM2_CONF").expect("SOFTHSM2_CONF (set by .cargo/config.toml)"),
        );
        if !conf.exists() {
            let tokens = conf.parent().expect("conf folder").join("tokens");
            std::fs::create_dir_all(&tokens).unwrap();
            let text = format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                tokens.display()
            );
            let partial = conf.with_extension(format!("unit.{}", std::process::id()));
            std::fs::write(&partial, text).unwrap();
            std::fs::rename(&partial, &conf).unwrap();
        }
        let module = std::env::var_os("INKAN_TEST_PKCS11_MODULE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
        assert!(
            module.exists(),
            "{} is missing: run `bash .ci/run` (it installs SoftHSMv2)",
            module.display()
        );
        let label = format!("inkan-u-{}", hex::encode(&new_id()[..8]));
        init_test_token(&module, &label, "unit-so-pin", "unit-user-pin").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("pin");
        std::fs::write(&pin, "unit-user-pin\n").unwrap();
        let config = Pkcs11Config {
            module,
            token_label: label,
            pin: PinSource::File(pin),
            sessions: 2,
        };
        (Pkcs11Device::open(&config).unwrap(), dir)
    }

    /// The import format with the OAEP variant SoftHSM 2.6 supports.
    fn wrap_sha1(wrapping: &PublicKey, pkcs8: &[u8]) -> WrappedKey {
        let sha1 = WrappingAlgorithm::RsaAesKeyWrapSha1;
        let bytes = crate::import::wrap_for_import(wrapping, sha1, pkcs8).unwrap();
        WrappedKey::parse(&bytes, wrapping, sha1).unwrap()
    }

    /// Objects of any class with `label`, and secret keys (a transport key left behind).
    fn leftovers(device: &Pkcs11Device, label: &str) -> (usize, usize) {
        device
            .pool
            .run(|s, _| {
                let labelled = find(s, &[Attribute::Label(label.as_bytes().to_vec())])?.len();
                let secret = find(s, &[Attribute::Class(ObjectClass::SECRET_KEY)])?.len();
                Ok((labelled, secret))
            })
            .unwrap()
    }

    /// Every step of the in-token import on SoftHSM, with the one OAEP hash it knows: the
    /// import's success path, its cleanup and the transport key's removal.
    #[test]
    fn unwrapping_inside_softhsm() {
        use pkcs8::EncodePrivateKey as _;
        let (device, _dir) = softhsm_device();
        let wrapping = device.wrapping_public_key().unwrap();
        let p256 = p256::SecretKey::random(&mut OsRng);
        let rsa = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
        let message = b"imported inside the token";
        for (alg, pkcs8, public) in [
            (
                Algorithm::Es256,
                p256.to_pkcs8_der().unwrap().as_bytes().to_vec(),
                PublicKey::P256(p256.public_key()),
            ),
            (
                Algorithm::Ps256,
                rsa.to_pkcs8_der().unwrap().as_bytes().to_vec(),
                PublicKey::Rsa(rsa.to_public_key()),
            ),
        ] {
            let label = format!("unit import {alg}");
            let handle = device
                .unwrap_key(&wrap_sha1(&wrapping, &pkcs8), &public, &label)
                .unwrap();
            assert_eq!(
                leftovers(&device, &label),
                (2, 0),
                "{alg}: a private and a public object, no AES key"
            );
            assert_eq!(device.public_key(&handle).unwrap(), public);
            let signature = device.sign(&handle, alg, message).unwrap();
            public.verify(alg, message, &signature).unwrap();
            assert!(device.handles().unwrap().contains(&handle));
        }

        // Unwrapped, but with someone else's public key: the import check destroys both halves.
        let (_, other) = (
            0,
            PublicKey::P256(p256::SecretKey::random(&mut OsRng).public_key()),
        );
        let pkcs8 = p256::SecretKey::random(&mut OsRng)
            .to_pkcs8_der()
            .unwrap()
            .as_bytes()
            .to_vec();
        let handle = device
            .unwrap_key(&wrap_sha1(&wrapping, &pkcs8), &other, "unit mismatch")
            .unwrap();
        let signature = device.sign(&handle, Algorithm::Es256, message).unwrap();
        assert!(other.verify(Algorithm::Es256, message, &signature).is_err());
        device.destroy(&handle).unwrap();
        assert_eq!(leftovers(&device, "unit mismatch"), (0, 0));

        // An RSA key claimed to be a P-256 key, a damaged PKCS#8 and an Ed25519 key (SoftHSM
        // 2.6 cannot unwrap Edwards keys): refused, nothing left.
        let rsa_pkcs8 = rsa.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let err = device
            .unwrap_key(&wrap_sha1(&wrapping, &rsa_pkcs8), &other, "unit kind")
            .unwrap_err();
        assert!(
            matches!(
                err,
                DeviceError::InvalidInput(_) | DeviceError::KeyMismatch(_)
            ),
            "{err}"
        );
        assert_eq!(leftovers(&device, "unit kind"), (0, 0));
        let mut damaged = wrap_sha1(&wrapping, &pkcs8);
        damaged.wrapped_pkcs8[3] ^= 1;
        let err = device
            .unwrap_key(&damaged, &other, "unit damaged")
            .unwrap_err();
        assert!(matches!(err, DeviceError::InvalidInput(_)), "{err}");
        assert_eq!(leftovers(&device, "unit damaged"), (0, 0));
        let ed = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let ed_pkcs8 = ed.to_pkcs8_der().unwrap().as_bytes().to_vec();
        let ed_public = PublicKey::Ed25519(ed.verifying_key());
        match device.unwrap_key(&wrap_sha1(&wrapping, &ed_pkcs8), &ed_public, "unit ed25519") {
            // A later SoftHSM (or another token) may manage it.
            Ok(handle) => {
                let signature = device.sign(&handle, Algorithm::EdDsa, message).unwrap();
                ed_public
                    .verify(Algorithm::EdDsa, message, &signature)
                    .unwrap();
            }
            Err(err) => {
                assert!(
                    matches!(&err, DeviceError::Config(m) if m.contains("Ed25519")),
                    "{err}"
                );
                assert_eq!(leftovers(&device, "unit ed25519"), (0, 0));
            }
        }

        // The SHA-256 variant is refused as a limit of this token, unless the token can do it.
        let sha256 = WrappingAlgorithm::RsaAesKeyWrapSha256;
        let wrapped = crate::import::wrap_for_import(&wrapping, sha256, &pkcs8).unwrap();
        let wrapped = WrappedKey::parse(&wrapped, &wrapping, sha256).unwrap();
        match device.unwrap_key(&wrapped, &other, "unit sha256") {
            Ok(handle) => device.destroy(&handle).unwrap(),
            Err(err) => assert!(
                matches!(&err, DeviceError::Config(m) if m.contains("RSA_AES_KEY_WRAP_SHA_256")),
                "{err}"
            ),
        }
        assert_eq!(leftovers(&device, "unit sha256"), (0, 0));
    }
}
