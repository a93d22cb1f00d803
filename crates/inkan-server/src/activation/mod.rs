//! Signature activation (criteria 2.2.3(2)A-1, A-2): a user turns their signing PIN and a
//! one-time password into signature activation data (SAD) for listed digests, or into the
//! right to change a key's PIN or renew the key.
//!
//! The PIN and OTP travel as a compact JWE (`ECDH-ES` + `A256GCM`) encrypted to the activation
//! key, which the service publishes (in CSC `info`) and keeps sealed at rest under
//! the secrets key; so they are protected end to end to this module, not only by TLS. The JWE
//! also carries what it authorises — its purpose, the credential, a digest over the ordered
//! hashes ([`hashes_digest`]) and their number — and a fresh single-use nonce of the caller's
//! session ([`nonce`]); anything the request says beside it must match, so whoever terminates
//! TLS on the way cannot put the user's JWE to another use. A mismatch counts as a failed
//! activation, like a wrong PIN. A SAD is a random value, stored by its SHA-256 with what it is
//! bound to (key, digests, number of signatures, user, session) and a short expiry; the signing
//! module uses it up. Each issue, and each refusal, is logged with the digests it covers. Must
//! never: keep or log a PIN, OTP or SAD value, or authorise anything without both factors and
//! a matching, unused nonce.

pub mod nonce;

use crate::auth::access::{Operation, authorize_key};
use crate::auth::{Auth, AuthError, Caller, CallerKind, password};
use crate::clock::Clock;
use crate::environment::Environment;
use crate::log::{Event, Recorder, TransparencyLog};
use crate::signing::{Input, sad_hash};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_device::sealing::SealingKey;
use inkan_formats::jose::jwe::{self, JweRecipientKey};
use inkan_log::entry::{EntryKind, Outcome};
use inkan_store::auth::new_id;
use inkan_store::signing::SadRecord;
use inkan_store::{KeyRecord, Store};
use nonce::{IssuedNonce, Nonces};
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::sync::Arc;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Most digests one SAD may cover.
pub const MAX_SIGNATURES: u32 = 100;
/// SHA-256's OID, the hash of a request that names none.
pub const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
/// SHA-384's OID.
pub const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";

/// The inputs a SAD is bound to, from hashes of the algorithm `hash_oid` (already decoded):
/// 1 to [`MAX_SIGNATURES`] of them, each of the algorithm's length. Any key may be authorised
/// for SHA-256 or SHA-384 digests: of a hash to sign (`signHash`) or of a document's signing
/// input (prepared presentations and key proofs). Messages name the rule, never a hash.
pub fn digest_inputs(hash_oid: &str, hashes: Vec<Vec<u8>>) -> Result<Vec<Input>, AuthError> {
    let (algorithm, len) = match hash_oid {
        OID_SHA256 => ("sha-256", 32),
        OID_SHA384 => ("sha-384", 48),
        other => {
            return Err(AuthError::BadRequest(format!(
                "hashAlgorithmOID {other}: use {OID_SHA256} (SHA-256) or {OID_SHA384} (SHA-384)"
            )));
        }
    };
    if hashes.is_empty() || hashes.len() > MAX_SIGNATURES as usize {
        return Err(AuthError::BadRequest(format!(
            "give 1 to {MAX_SIGNATURES} hashes"
        )));
    }
    hashes
        .into_iter()
        .map(|bytes| {
            if bytes.len() != len {
                return Err(AuthError::BadRequest(format!(
                    "a {algorithm} hash is {len} bytes, not {}",
                    bytes.len()
                )));
            }
            Ok(Input::Digest { bytes, algorithm })
        })
        .collect()
}
/// The sealed-file name of the activation key.
const SEALED_NAME: &str = "activation-key";

/// What an activation authorises; the JWE names it, and it must be what the request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Purpose {
    /// CSC `credentials/authorize`: a SAD for listed hashes.
    #[serde(rename = "authorize")]
    Authorize,
    /// `PUT /v1/keys/{id}/pin`.
    #[serde(rename = "pin.change")]
    PinChange,
    /// `POST /v1/keys/{id}/renew`.
    #[serde(rename = "key.renew")]
    KeyRenew,
}

impl Purpose {
    /// The name the JWE uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Authorize => "authorize",
            Purpose::PinChange => "pin.change",
            Purpose::KeyRenew => "key.renew",
        }
    }

    /// The log entry a refusal is recorded as.
    fn entry_kind(self) -> EntryKind {
        match self {
            Purpose::Authorize => EntryKind::SignatureActivated,
            Purpose::PinChange => EntryKind::KeyPinSet,
            Purpose::KeyRenew => EntryKind::KeyDestroyed,
        }
    }
}

/// The digest over the hashes of a `credentials/authorize` request that the activation JWE
/// carries as `hashesDigest`: base64url (no padding) of SHA-256 over the hash algorithm's
/// OID as ASCII (`2.16.840.1.101.3.4.2.1` when the request names none), one zero byte, then
/// each hash's bytes, in the request's order.
pub fn hashes_digest<H: AsRef<[u8]>>(hash_algorithm_oid: &str, hashes: &[H]) -> String {
    let mut sha = Sha256::new();
    sha.update(hash_algorithm_oid.as_bytes());
    sha.update([0u8]);
    for hash in hashes {
        sha.update(hash.as_ref());
    }
    URL_SAFE_NO_PAD.encode(sha.finalize())
}

/// How far a presentation's `issuedAt` may be from now, milliseconds: the time to approve one
/// (ten minutes for a request on the page) and to sign it (a SAD's life, five minutes by
/// default). A presentation, or a key proof without a nonce, is never dated far off.
pub const PRESENTATION_WINDOW_MILLIS: i64 = 15 * 60 * 1000;

/// Whether a presentation dated `issued_at` (seconds) may be approved or signed at `now`.
pub fn presentation_is_current(issued_at: i64, now: crate::clock::UnixMillis) -> bool {
    issued_at.saturating_mul(1000).abs_diff(now) <= PRESENTATION_WINDOW_MILLIS.unsigned_abs()
}

/// The digest of what a holder is shown before approving a presentation (issue 18 point 3):
/// base64url(SHA-256(JCS(`{"format", "credentialID", "issuedAt", "summary"}`))), the summary
/// being `/v1/holder/prepare`'s. A wallet recomputes it from what it displays; the activation
/// data carries it, and the SAD signs only a presentation whose document gives the same.
pub fn disclosure_digest(
    format: &str,
    credential_id: &str,
    issued_at: i64,
    summary: &serde_json::Value,
) -> Result<String, inkan_formats::FormatError> {
    let shown = serde_json::json!({
        "format": format,
        "credentialID": credential_id,
        "issuedAt": issued_at,
        "summary": summary,
    });
    let canonical = inkan_formats::data_integrity::canon::jcs(&shown)?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// The JWE's plaintext: one JSON object, nothing else in it.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct ActivationData {
    #[zeroize(skip)]
    purpose: Purpose,
    #[serde(rename = "credentialID")]
    credential_id: String,
    #[serde(rename = "hashesDigest", default)]
    hashes_digest: Option<String>,
    #[serde(rename = "numSignatures", default)]
    num_signatures: Option<u32>,
    #[serde(rename = "disclosureDigest", default)]
    disclosure_digest: Option<String>,
    nonce: String,
    #[serde(rename = "PIN", default)]
    pin: Option<String>,
    #[serde(rename = "OTP")]
    otp: String,
    #[serde(rename = "newPIN", default)]
    new_pin: Option<String>,
}

/// The members each purpose takes, for messages.
const SHAPE: &str = "activationData must hold one JSON object: purpose, credentialID, nonce, \
                     PIN and OTP (strings), with hashesDigest (string), numSignatures \
                     (number) and for a presentation disclosureDigest (string) for \
                     authorize, newPIN (string) for pin.change and key.renew, \
                     and nothing else";

impl ActivationData {
    /// Parses the plaintext strictly. Messages name members, never their values.
    fn parse(plaintext: &[u8]) -> Result<Self, AuthError> {
        serde_json::from_slice(plaintext).map_err(|e| {
            let message = e.to_string();
            // These messages name members (or the purpose), never a value of another member.
            let names_only = [
                "unknown field",
                "duplicate field",
                "missing field",
                "unknown variant",
            ]
            .iter()
            .any(|p| message.starts_with(p));
            AuthError::BadRequest(if names_only {
                format!("{SHAPE} ({message})")
            } else {
                SHAPE.to_owned()
            })
        })
    }

    /// The members `purpose` needs are there, the others are not, and a new PIN keeps the
    /// policy: a malformed request, refused before anything is used up.
    fn check_shape(&self) -> Result<(), AuthError> {
        let bad = |m: String| Err(AuthError::BadRequest(format!("activationData: {m}")));
        let purpose = self.purpose.as_str();
        let authorize = self.purpose == Purpose::Authorize;
        for (name, present) in [
            ("hashesDigest", self.hashes_digest.is_some()),
            ("numSignatures", self.num_signatures.is_some()),
        ] {
            match (authorize, present) {
                (true, false) => return bad(format!("{name} is required for {purpose}")),
                (false, true) => return bad(format!("{name} has no place in {purpose}")),
                _ => {}
            }
        }
        if !authorize && self.disclosure_digest.is_some() {
            return bad(format!("disclosureDigest has no place in {purpose}"));
        }
        match (authorize, &self.new_pin) {
            (true, Some(_)) => return bad(format!("newPIN has no place in {purpose}")),
            (false, None) => return bad(format!("newPIN is required for {purpose}")),
            (false, Some(new_pin)) => {
                password::check_pin_policy(&SecretString::from(new_pin.clone()))
                    .map_err(|e| AuthError::BadRequest(format!("activationData: newPIN: {e}")))?;
            }
            (true, None) => {}
        }
        // A PIN change of a key that has none yet is the one activation without a PIN; the
        // key's PIN record decides (see `confirm_change`).
        if self.pin.is_none() && self.purpose != Purpose::PinChange {
            return bad(format!("PIN is required for {purpose}"));
        }
        Ok(())
    }
}

/// What a `credentials/authorize` request asks beside its JWE.
#[derive(Debug)]
pub struct SignatureRequest {
    /// The digests to authorise, in order, as SADs and the log name them (`sha-256:<hex>`).
    pub digests: Vec<String>,
    /// [`hashes_digest`] of the request's hashes.
    pub hashes_digest: String,
    /// `numSignatures`.
    pub num_signatures: u32,
    /// For a holder's presentation, the digest of what was shown (`disclosureDigest`): the
    /// activation data must carry it, and the SAD is bound to it.
    pub disclosure_digest: Option<String>,
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

/// A PIN change or renewal the user authorised with both factors: the only way to change a
/// key's PIN once it has one (`Auth::change_key_pin`) or to renew the key.
pub struct ConfirmedChange {
    purpose: Purpose,
    key_id: String,
    new_pin: SecretString,
}

impl std::fmt::Debug for ConfirmedChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfirmedChange")
            .field("purpose", &self.purpose)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl ConfirmedChange {
    /// What was authorised.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// The key it was authorised for.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The new PIN (of the key, or of its successor), used up.
    pub fn into_new_pin(self) -> SecretString {
        self.new_pin
    }
}

/// Issues SADs and confirms PIN changes and renewals.
#[derive(Debug)]
pub struct ActivationService {
    store: Arc<dyn Store>,
    auth: Arc<Auth>,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    key: JweRecipientKey,
    nonces: Nonces,
    sad_seconds: u64,
}

impl ActivationService {
    /// The service, decrypting activation data with `key` (see [`load_or_create_key`]) and
    /// sealing nonces with `seal` (the secrets key).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<Auth>,
        log: Arc<TransparencyLog>,
        clock: Arc<dyn Clock>,
        environment: Environment,
        key: JweRecipientKey,
        seal: SealingKey,
        sad_seconds: u64,
    ) -> Self {
        ActivationService {
            nonces: Nonces::new(seal, store.clone(), clock.clone()),
            store,
            auth,
            recorder: Recorder::new(log, clock.clone(), environment),
            clock,
            key,
            sad_seconds,
        }
    }

    /// The activation key to encrypt PIN and OTP to (public JWK).
    pub fn public_jwk(&self) -> serde_json::Value {
        self.key.public_jwk()
    }

    /// A fresh nonce for the caller's session, to put in its next activation JWE.
    pub fn nonce(&self, caller: &Caller) -> Result<IssuedNonce, AuthError> {
        self.nonces.issue(caller)
    }

    /// CSC `credentials/authorize`: checks that `activation_jwe` authorises exactly `request`
    /// with `key` and holds the PIN and OTP, and issues a SAD for this caller and session.
    pub async fn authorize(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        request: &SignatureRequest,
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
        self.holder_keys_sign_presentations(caller, key, request)
            .await?;
        let num_signatures = request.num_signatures;
        if num_signatures == 0 || num_signatures > MAX_SIGNATURES {
            return Err(AuthError::BadRequest(format!(
                "numSignatures must be 1 to {MAX_SIGNATURES}"
            )));
        }
        if request.digests.is_empty() || request.digests.len() != num_signatures as usize {
            return Err(AuthError::BadRequest(
                "list exactly numSignatures hashes to authorise".into(),
            ));
        }
        let digests = &request.digests;
        let mut data = self.open(activation_jwe)?;
        self.check_binding(
            caller,
            key,
            &data,
            Purpose::Authorize,
            Some(request),
            digests,
        )
        .await?;
        let pin = data.pin.take().map(SecretString::from);
        self.check_factors(caller, key, Purpose::Authorize, pin, &data.otp, digests)
            .await?;
        let now = self.clock.now();
        let sad = Zeroizing::new(format!("inkan_sad_{}", crate::auth::random_secret(32)));
        let lifetime = self.sad_millis();
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
            disclosure_digest: request.disclosure_digest.clone(),
        };
        self.store.insert_sad(&record).await?;
        let mut event =
            Self::event(Purpose::Authorize, caller, key, digests).approval(Some(&record.id));
        if let Some(shown) = &record.disclosure_digest {
            // Which disclosure the holder approved (its digest, never its content).
            event = event.note(format!(
                "for the presentation whose disclosure digest is {shown}"
            ));
        }
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(IssuedSad {
            sad,
            expires_in: self.sad_seconds,
            id: record.id,
        })
    }

    /// The consent page's activation (issue 18, CSC OAuth2 `scope=credential`): the person
    /// typed the key's PIN and a one-time password into Inkan's own page, which showed
    /// `request` (the key, each hash and its label); what it authorises was fixed by the
    /// authorization request stored before the page was shown, not by anything the form sends.
    /// The same rules as [`authorize`](Self::authorize): a user of the key's subscriber, both
    /// factors as one counted attempt, a refusal logged. Returns the activation's event for
    /// the caller to write ahead around its decision (`oauth`), under `sad_id`, the SAD the
    /// client's code will be exchanged for; stores nothing itself.
    pub async fn check_on_page(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        request: &SignatureRequest,
        (pin, otp): (SecretString, &str),
        sad_id: &str,
    ) -> Result<Event, AuthError> {
        if caller.kind != CallerKind::User {
            return Err(AuthError::Forbidden(
                "signature activation is a user's act".into(),
            ));
        }
        authorize_key(caller, key, Operation::Sign)?;
        self.holder_keys_sign_presentations(caller, key, request)
            .await?;
        let digests = &request.digests;
        if digests.is_empty() || digests.len() != request.num_signatures as usize {
            return Err(AuthError::BadRequest(
                "list exactly numSignatures hashes to authorise".into(),
            ));
        }
        self.check_factors(caller, key, Purpose::Authorize, Some(pin), otp, digests)
            .await?;
        Ok(Self::event(Purpose::Authorize, caller, key, digests).approval(Some(sad_id)))
    }

    /// A holder's key signs presentations only (issue 18 point 3): its authorization names the
    /// disclosure the holder was shown (`disclosureDigest`). A bare hash of a holder's key is
    /// never authorised, since a wallet could have taken it from a presentation that discloses
    /// more than the label it showed says.
    async fn holder_keys_sign_presentations(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        request: &SignatureRequest,
    ) -> Result<(), AuthError> {
        if request.disclosure_digest.is_some() {
            return Ok(());
        }
        if self.auth.subscriber(&key.owner).await?.kind == inkan_store::auth::SubscriberKind::Holder
        {
            let why = "a holder's key signs presentations only";
            self.record(
                Purpose::Authorize,
                caller,
                key,
                &request.digests,
                Outcome::Failed(why.into()),
            )
            .await;
            return Err(AuthError::BadRequest(format!(
                "{why}: prepare one with /v1/holder/prepare and authorise it with its \
                 disclosureDigest"
            )));
        }
        Ok(())
    }

    /// How long a SAD lives, milliseconds.
    pub fn sad_millis(&self) -> i64 {
        i64::try_from(self.sad_seconds)
            .unwrap_or(300)
            .saturating_mul(1000)
    }

    /// A PIN change or renewal of `key` (`purpose`): checks that `activation_jwe` is for it,
    /// with an unused nonce of this session, the key's current PIN (none only when the key has
    /// none yet, for a PIN change) and a valid OTP, and returns the confirmation that carries
    /// the new PIN.
    pub async fn confirm_change(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        purpose: Purpose,
        activation_jwe: &str,
    ) -> Result<ConfirmedChange, AuthError> {
        if purpose == Purpose::Authorize {
            return Err(AuthError::Internal(
                "confirm_change is for PIN changes and renewals".into(),
            ));
        }
        if caller.kind != CallerKind::User || caller.subscriber.as_deref() != Some(&key.owner) {
            return Err(AuthError::Forbidden(
                "only a user of the key's subscriber changes its PIN or renews it".into(),
            ));
        }
        let mut data = self.open(activation_jwe)?;
        self.check_binding(caller, key, &data, purpose, None, &[])
            .await?;
        let pin = data.pin.take().map(SecretString::from);
        self.check_factors(caller, key, purpose, pin, &data.otp, &[])
            .await?;
        Ok(ConfirmedChange {
            purpose,
            key_id: key.id.to_string(),
            new_pin: SecretString::from(data.new_pin.take().unwrap_or_default()),
        })
    }

    /// A PIN change typed into Inkan's own account page (issue 18 point 2): the same rules as
    /// [`confirm_change`](Self::confirm_change) without the JWE (the page is Inkan's, behind
    /// the browser session and its CSRF check): a user of the key's subscriber, the new PIN
    /// within the policy, the current PIN (none only while the key has none) and a one-time
    /// password as one counted attempt, a refusal logged; then the PIN is set (logged). `key_id`
    /// the person may not use is refused and logged like an API read.
    pub async fn change_pin_on_page(
        &self,
        caller: &Caller,
        key_id: &str,
        (pin, otp): (Option<SecretString>, &str),
        new_pin: SecretString,
    ) -> Result<(), AuthError> {
        let not_yours = || AuthError::Forbidden("this key is not one of yours".into());
        let key = match inkan_store::KeyId::parse(key_id) {
            Ok(id) => self.store.get_key(&id).await?.ok_or_else(not_yours)?,
            Err(_) => return Err(not_yours()),
        };
        if let Err(e) = authorize_key(caller, &key, Operation::Read) {
            self.auth
                .record_access_refused(caller, &key, &e.to_string())
                .await;
            return Err(not_yours());
        }
        if caller.kind != CallerKind::User || caller.subscriber.as_deref() != Some(&key.owner) {
            return Err(not_yours());
        }
        if key.state != inkan_store::KeyState::Active {
            return Err(AuthError::Conflict(format!(
                "key {} is {}",
                key.id,
                key.state.as_str()
            )));
        }
        password::check_pin_policy(&new_pin)
            .map_err(|e| AuthError::BadRequest(format!("the new PIN: {e}")))?;
        self.check_factors(caller, &key, Purpose::PinChange, pin, otp, &[])
            .await?;
        let confirmed = ConfirmedChange {
            purpose: Purpose::PinChange,
            key_id: key.id.to_string(),
            new_pin,
        };
        self.auth.change_key_pin(caller, &key, confirmed).await
    }

    /// Decrypts and parses the JWE, and checks its shape (400s: nothing is used up).
    fn open(&self, activation_jwe: &str) -> Result<ActivationData, AuthError> {
        let plaintext = jwe::decrypt_compact(activation_jwe, &self.key).map_err(|e| {
            AuthError::BadRequest(format!(
                "activationData must be a JWE (ECDH-ES, A256GCM) to the activation key: {e}"
            ))
        })?;
        let data = ActivationData::parse(&plaintext)?;
        data.check_shape()?;
        Ok(data)
    }

    /// Uses up the nonce, then compares what the JWE authorises with the request: each
    /// refusal names the member, is logged and counts as a failed activation.
    async fn check_binding(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        data: &ActivationData,
        purpose: Purpose,
        request: Option<&SignatureRequest>,
        digests: &[String],
    ) -> Result<(), AuthError> {
        let refusal: Option<String> = match self.nonces.use_once(caller, &data.nonce).await? {
            Err(why) => Some(format!("nonce: {why}")),
            Ok(()) if data.purpose != purpose => Some(format!(
                "purpose: the activation is for {}, not {}",
                data.purpose.as_str(),
                purpose.as_str()
            )),
            Ok(()) if data.credential_id != key.id.as_str() => {
                Some("credentialID: the activation is for another credential".into())
            }
            Ok(()) => request.and_then(|request| {
                if data.hashes_digest.as_deref() != Some(request.hashes_digest.as_str()) {
                    Some("hashesDigest: the activation is for other hashes".into())
                } else if data.num_signatures != Some(request.num_signatures) {
                    Some("numSignatures: the activation is for another number of signatures".into())
                } else if data.disclosure_digest != request.disclosure_digest {
                    Some("disclosureDigest: the activation is for another disclosure".into())
                } else {
                    None
                }
            }),
        };
        let Some(reason) = refusal else {
            return Ok(());
        };
        self.record(
            purpose,
            caller,
            key,
            digests,
            Outcome::Failed(reason.clone()),
        )
        .await;
        self.auth.count_failure(caller).await?;
        Err(AuthError::Forbidden(format!("activationData {reason}")))
    }

    /// Checks the PIN (when the key has one, or given) and the OTP; both are always checked,
    /// so a wrong PIN is not told apart by timing. A refusal is logged.
    async fn check_factors(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        purpose: Purpose,
        pin: Option<SecretString>,
        otp: &str,
        digests: &[String],
    ) -> Result<(), AuthError> {
        // One attempt, counted against the account before the PIN is hashed (criteria
        // 2.2.3(2)A-2, 2.2.1(2)).
        let otp = Zeroizing::new(otp.to_owned());
        if let Err(reason) = self.auth.verify_pin_and_otp(caller, key, pin, &otp).await? {
            self.record(purpose, caller, key, digests, Outcome::Failed(reason))
                .await;
            return Err(AuthError::Forbidden(
                "the PIN or the one-time password is wrong".into(),
            ));
        }
        Ok(())
    }

    /// The event of an activation of `key` for `purpose` by `caller`, for `digests`.
    fn event(purpose: Purpose, caller: &Caller, key: &KeyRecord, digests: &[String]) -> Event {
        Event::new(purpose.entry_kind(), caller.actor())
            .key(&key.id)
            .digests(digests.to_vec())
    }

    async fn record(
        &self,
        purpose: Purpose,
        caller: &Caller,
        key: &KeyRecord,
        digests: &[String],
        outcome: Outcome,
    ) {
        let event = Self::event(purpose, caller, key, digests);
        if let Err(e) = self.recorder.record(event, outcome).await {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SHA256: &str = "2.16.840.1.101.3.4.2.1";

    /// The formula the OpenAPI document and README give, computed independently (Python's
    /// hashlib) for two hashes; the OID, the order and every byte count.
    #[test]
    fn hashes_digest_is_the_documented_formula() {
        let (h1, h2) = ((0u8..32).collect::<Vec<_>>(), vec![0xffu8; 32]);
        let digest = hashes_digest(SHA256, &[&h1, &h2]);
        assert_eq!(digest, "0JBPOwL6U4U6-mox80I4KY0AxdTCNjrM7gS8dH5Mz-s");
        assert_ne!(hashes_digest(SHA256, &[&h2, &h1]), digest);
        assert_ne!(hashes_digest("2.16.840.1.101.3.4.2.2", &[&h1, &h2]), digest);
        assert_ne!(hashes_digest(SHA256, &[&h1]), digest);
    }

    fn data(members: serde_json::Value) -> Vec<u8> {
        let mut base = serde_json::json!({
            "purpose": "authorize", "credentialID": "key_1", "hashesDigest": "d",
            "numSignatures": 1, "nonce": "n", "PIN": "482913", "OTP": "123456",
        });
        for (name, value) in members.as_object().unwrap() {
            if value.is_null() {
                base.as_object_mut().unwrap().remove(name);
            } else {
                base[name] = value.clone();
            }
        }
        base.to_string().into_bytes()
    }

    fn message(result: Result<ActivationData, AuthError>) -> String {
        match result {
            Err(AuthError::BadRequest(m)) => m,
            Err(e) => panic!("not a 400: {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    /// Strict parsing: unknown and repeated members and wrong types are refused; messages name
    /// members, never a value (a PIN given as a number is not echoed).
    #[test]
    fn activation_data_is_parsed_strictly_without_echoing_values() {
        assert!(ActivationData::parse(&data(serde_json::json!({}))).is_ok());
        let unknown = message(ActivationData::parse(&data(
            serde_json::json!({"extra": 1}),
        )));
        assert!(unknown.contains("unknown field `extra`"), "{unknown}");
        let repeated = br#"{"purpose":"authorize","PIN":"482913","PIN":"111111"}"#;
        let repeated = message(ActivationData::parse(repeated));
        assert!(repeated.contains("duplicate field `PIN`"), "{repeated}");
        assert!(!repeated.contains("482913") && !repeated.contains("111111"));
        let typed = message(ActivationData::parse(&data(
            serde_json::json!({"PIN": 975319}),
        )));
        assert!(!typed.contains("975319"), "{typed}");
        let purpose = message(ActivationData::parse(&data(
            serde_json::json!({"purpose": "x"}),
        )));
        assert!(purpose.contains("unknown variant"), "{purpose}");
        let missing = message(ActivationData::parse(&data(
            serde_json::json!({"nonce": null}),
        )));
        assert!(missing.contains("missing field `nonce`"), "{missing}");
        assert!(ActivationData::parse(b"[1]").is_err());
    }

    /// The disclosure digest is JCS: a wallet gets the same from the same summary whatever the
    /// order it holds the members in, and any change of what is shown changes it.
    #[test]
    fn the_disclosure_digest_is_over_the_canonical_form_of_what_is_shown() {
        let summary: serde_json::Value = serde_json::from_str(
            r#"{"audience":"https://verifier.example","nonce":"n-1","disclosed":["/degree"]}"#,
        )
        .unwrap();
        let reordered: serde_json::Value = serde_json::from_str(
            r#"{"disclosed":["/degree"],"nonce":"n-1","audience":"https://verifier.example"}"#,
        )
        .unwrap();
        let digest = disclosure_digest("dc+sd-jwt", "key_1", 1_700_000_000, &summary).unwrap();
        assert_eq!(
            digest,
            disclosure_digest("dc+sd-jwt", "key_1", 1_700_000_000, &reordered).unwrap()
        );
        // Computed independently: SHA-256 over the RFC 8785 text, written out here.
        let canonical = r#"{"credentialID":"key_1","format":"dc+sd-jwt","issuedAt":1700000000,"summary":{"audience":"https://verifier.example","disclosed":["/degree"],"nonce":"n-1"}}"#;
        assert_eq!(
            digest,
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut more = summary.clone();
        more["disclosed"] = serde_json::json!(["/degree", "/birthdate"]);
        assert_ne!(
            digest,
            disclosure_digest("dc+sd-jwt", "key_1", 1_700_000_000, &more).unwrap()
        );
        assert_ne!(
            digest,
            disclosure_digest("dc+sd-jwt", "key_2", 1_700_000_000, &summary).unwrap()
        );
    }

    /// Each purpose takes its own members: a request for one cannot carry another's.
    #[test]
    fn each_purpose_takes_its_members() {
        let shape = |members| {
            ActivationData::parse(&data(members))
                .unwrap()
                .check_shape()
                .map_err(|e| e.to_string())
        };
        assert!(shape(serde_json::json!({})).is_ok());
        for (members, named) in [
            (serde_json::json!({"hashesDigest": null}), "hashesDigest"),
            (serde_json::json!({"numSignatures": null}), "numSignatures"),
            (serde_json::json!({"newPIN": "975319"}), "newPIN"),
            (serde_json::json!({"PIN": null}), "PIN"),
            (serde_json::json!({"purpose": "pin.change"}), "hashesDigest"),
            (
                serde_json::json!({"purpose": "key.renew", "hashesDigest": null,
                                   "numSignatures": null}),
                "newPIN",
            ),
            (
                serde_json::json!({"purpose": "key.renew", "hashesDigest": null,
                                   "numSignatures": null, "newPIN": "975319", "PIN": null}),
                "PIN",
            ),
            (
                serde_json::json!({"purpose": "pin.change", "hashesDigest": null,
                                   "numSignatures": null, "newPIN": "1"}),
                "newPIN",
            ),
            // A presentation's disclosure belongs to an authorization only.
            (
                serde_json::json!({"purpose": "key.renew", "hashesDigest": null,
                                   "numSignatures": null, "newPIN": "975319",
                                   "disclosureDigest": "d"}),
                "disclosureDigest",
            ),
        ] {
            let refused = shape(members.clone()).unwrap_err();
            assert!(refused.contains(named), "{members}: {refused}");
        }
        assert!(shape(serde_json::json!({"disclosureDigest": "d"})).is_ok());
        // A PIN change of a key without a PIN carries none (the key's record decides).
        assert!(
            shape(
                serde_json::json!({"purpose": "pin.change", "hashesDigest": null,
                                      "numSignatures": null, "newPIN": "975319", "PIN": null})
            )
            .is_ok()
        );
    }
}
