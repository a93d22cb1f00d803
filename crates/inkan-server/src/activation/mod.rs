//! Signature activation (criteria 2.2.3(2) ): a user turns their signing PIN and a
//! one-time password into signature activation data (SAD) for listed digests.
//!
//! The PIN and OTP travel as a compact JWE (`ECDH-ES` + `A256GCM`) encrypted to the activation
//! key, which the service publishes (in CSC `info`) and keeps sealed at rest under
//! the secrets key; so they are protected end to end to this module, not only by TLS. A SAD
//! is a random value, stored by its SHA-256 with what it is bound to (key, digests, number of
//! signatures, user, session) and a short expiry; the signing module uses it up. Each issue,
//! and each refusal, is logged with the digests it covers. Must never: keep or log a PIN, OTP
//! or SAD value, or issue a SAD without both factors.

use crate::auth::access::{Operation, authorize_key};
use crate::auth::{Auth, AuthError, Caller, CallerKind};
use crate::clock::Clock;
use crate::environment::Environment;
use crate::log::TransparencyLog;
use crate::signing::sad_hash;
use crate::store::auth::new_id;
use crate::store::signing::SadRecord;
use crate::store::{KeyRecord, Store};
use inkan_device::sealing::SealingKey;
use inkan_formats::jose::jwe::{self, JweRecipientKey};
use inkan_log::entry::{Entry, EntryKind, Outcome};
use secrecy::SecretString;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Most digests one SAD may cover.
pub const MAX_SIGNATURES: u32 = 100;
/// The sealed-file name of the activation key.
const SEALED_NAME: &str = "activation-key";

/// What the JWE carries.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivationData {
    #[serde(rename = "PIN")]
    pin: String,
    #[serde(rename = "OTP")]
    otp: String,
}

/// A SAD handed to the user.
pub struct IssuedSad {
    /// The value (shown once).
    pub sad: Zeroizing<String>,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Its public id, as the log records it.
    pub id: String,
}

impl std::fmt::Debug for IssuedSad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSad")
            .field("id", &self.id)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Issues SADs.
#[derive(Debug)]
pub struct ActivationService {
    store: Arc<dyn Store>,
    auth: Arc<Auth>,
    log: Arc<TransparencyLog>,
    clock: Arc<dyn Clock>,
    environment: Environment,
    key: JweRecipientKey,
    sad_seconds: u64,
}

impl ActivationService {
    /// The service, decrypting activation data with `key` (see [`load_or_create_key`]).
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<Auth>,
        log: Arc<TransparencyLog>,
        clock: Arc<dyn Clock>,
        environment: Environment,
        key: JweRecipientKey,
        sad_seconds: u64,
    ) -> Self {
        ActivationService {
            store,
            auth,
            log,
            clock,
            environment,
            key,
            sad_seconds,
        }
    }

    /// The activation key to encrypt PIN and OTP to (public JWK).
    pub fn public_jwk(&self) -> serde_json::Value {
        self.key.public_jwk()
    }

    /// CSC `credentials/authorize`: checks the PIN and OTP in `activation_jwe` and issues a SAD
    /// for `digests` (labels `sha-256:<hex>`) with `key`, for this caller and session.
    pub async fn authorize(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        digests: Vec<String>,
        num_signatures: u32,
        activation_jwe: &str,
    ) -> Result<IssuedSad, AuthError> {
        if caller.kind != CallerKind::User {
            return Err(AuthError::Forbidden(
                "signature activation is a user's act; system clients sign under their standing \
                 approval"
                    .into(),
            ));
        }
        authorize_key(caller, key, Operation::Sign)?;
        if num_signatures == 0 || num_signatures > MAX_SIGNATURES {
            return Err(AuthError::BadRequest(format!(
                "numSignatures must be 1 to {MAX_SIGNATURES}"
            )));
        }
        if digests.is_empty() || digests.len() != num_signatures as usize {
            return Err(AuthError::BadRequest(
                "list exactly numSignatures hashes to authorise".into(),
            ));
        }
        let plaintext = jwe::decrypt_compact(activation_jwe, &self.key).map_err(|e| {
            AuthError::BadRequest(format!(
                "activationData must be a JWE (ECDH-ES, A256GCM) to the activation key: {e}"
            ))
        })?;
        let data: ActivationData = serde_json::from_slice(&plaintext).map_err(|_| {
            AuthError::BadRequest(
                "activationData must hold a JSON object {\"PIN\": …, \"OTP\": …}".into(),
            )
        })?;
        let pin = SecretString::from(data.pin);
        let otp = Zeroizing::new(data.otp);
        // One attempt, counted against the account before the PIN is hashed (criteria
        // 2.2.3(2)A-2, 2.2.1(2)).
        let checked = self.auth.verify_pin_and_otp(caller, key, pin, &otp).await?;
        let now = self.clock.now();
        if let Err(reason) = checked {
            self.record(caller, key, &digests, None, Outcome::Failed(reason))
                .await;
            return Err(AuthError::Forbidden(
                "the PIN or the one-time password is wrong".into(),
            ));
        }
        let sad = Zeroizing::new(format!("inkan_sad_{}", crate::auth::random_secret(32)));
        let lifetime = i64::try_from(self.sad_seconds)
            .unwrap_or(300)
            .saturating_mul(1000);
        let record = SadRecord {
            sad_hash: sad_hash(&sad),
            id: new_id("sad"),
            key_id: key.id.to_string(),
            account_id: caller.id.clone(),
            session_id: caller.session.clone(),
            digests: digests.clone(),
            num_signatures,
            created_at: now,
            expires_at: now.saturating_add(lifetime),
            used_at: None,
        };
        self.store.insert_sad(&record).await?;
        let entry = self.entry(caller, key, &digests, Some(&record.id), Outcome::Succeeded);
        self.log.append(&entry).await?;
        Ok(IssuedSad {
            sad,
            expires_in: self.sad_seconds,
            id: record.id,
        })
    }

    fn entry(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        digests: &[String],
        approval: Option<&str>,
        outcome: Outcome,
    ) -> Entry {
        Entry {
            kind: EntryKind::SignatureActivated,
            time: self.clock.now(),
            environment: self.environment.as_str().into(),
            actor: caller.actor(),
            key_id: Some(key.id.to_string()),
            digests: digests.to_vec(),
            approval: approval.map(str::to_owned),
            outcome,
            note: None,
        }
    }

    async fn record(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        digests: &[String],
        approval: Option<&str>,
        outcome: Outcome,
    ) {
        let entry = self.entry(caller, key, digests, approval, outcome);
        if let Err(e) = self.log.append(&entry).await {
            tracing::error!(error = %e, "could not log a refused activation");
        }
    }
}

/// Reads the sealed activation key at `path`, or makes one and writes it sealed (mode 0600).
pub fn load_or_create_key(path: &Path, seal: &SealingKey) -> Result<JweRecipientKey, AuthError> {
    let internal = |e: &dyn std::fmt::Display| {
        AuthError::Internal(format!("the activation key {}: {e}", path.display()))
    };
    match std::fs::read(path) {
        Ok(sealed) => {
            let der = seal.open(SEALED_NAME, &sealed).map_err(|e| internal(&e))?;
            JweRecipientKey::from_pkcs8_der(&der).map_err(|e| internal(&e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = JweRecipientKey::generate();
            let der = key.to_pkcs8_der();
            let sealed = seal.seal(SEALED_NAME, &der).map_err(|e| internal(&e))?;
            inkan_device::sealing::write_private_file(path, &sealed).map_err(|e| internal(&e))?;
            tracing::info!(path = %path.display(), "created the signature activation key");
            Ok(key)
        }
        Err(e) => Err(internal(&e)),
    }
}
