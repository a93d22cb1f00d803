//! Authentication and authorisation of callers (criteria 2.2.1): who is asking, and may they.
//!
//! [`Auth`] owns the rules; the store keeps the records and the transparency log the events.
//! - [`accounts`]: subscribers, accounts, one-time activation (password + TOTP enrolment), and
//!   multi-factor login with per-account lockout and per-source rate limits;
//! - [`sessions`]: sender-constrained sessions: opaque tokens bound to a DPoP key (RFC 9449) or
//!   a client certificate (RFC 8705), idle and absolute timeouts, refresh-token rotation with
//!   reuse detection, logout and revocation;
//! - [`clients`]: system clients of organisations (mTLS or `private_key_jwt`) and their scoped
//!   tokens;
//! - [`access`]: what a [`Caller`] may do with a key;
//! - [`password`], [`totp`], [`proof`], [`limiter`]: the building blocks.
//!
//! Every authentication event (activation, login success and failure, lockout, refresh,
//! logout, revocation, client registration, access refusal) is appended to the transparency
//! log. A success whose event cannot be logged is not a success. Must never: log or return a
//! secret (password, PIN, OTP, code, token, seed), tell an unauthenticated caller whether an
//! account exists, or accept a token without its binding.

pub mod access;
pub mod accounts;
pub mod browser;
pub mod clients;
pub mod federation;
pub mod limiter;
pub mod operators;
pub mod passkeys;
pub mod password;
pub mod pins;
pub mod proof;
pub mod sessions;
pub mod totp;
pub mod webauthn;

pub use access::{Operation, Scope};
pub use sessions::{RequestCredentials, TokenCheck, TokenResponse};

use crate::clock::{Clock, UnixMillis};
use crate::config::AuthConfig;
use crate::environment::Environment;
use crate::keys::KeyError;
use crate::log::{Event, FailureCategory, LogError, Recorder, TransparencyLog};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_device::sealing::SealingKey;
use inkan_log::entry::{Actor, ActorKind, Authentication, EntryKind, Outcome};
use inkan_store::{Store, StoreError};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// The associated-data domain of sealed TOTP seeds.
const SEAL_DOMAIN: &str = "inkan-auth/v1";

/// Why a request was refused. The HTTP layer maps each to a status and a message that names
/// what was wrong without leaking secrets; the internal ones become a generic 500 with the
/// detail logged.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request is malformed or breaks a rule (400).
    #[error("{0}")]
    BadRequest(String),
    /// Username, password or one-time password wrong, account locked or not active (401):
    /// deliberately one message.
    #[error("authentication failed")]
    InvalidCredentials,
    /// The access token is missing, unknown, expired or not presented with its binding (401).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller is known but may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing, or not the caller's to see (404).
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed attempts from this source; try again after this many seconds (429).
    #[error("too many failed attempts; try again later")]
    TooManyAttempts {
        /// Seconds until the window resets.
        retry_after: u64,
    },
    /// As many password or PIN checks as the machine has cores are running, and as many as
    /// allowed wait: try again shortly (503 with `Retry-After`, criteria 2.1.3(12)).
    #[error("{0}")]
    Busy(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transparency log failed (nothing that needed an event happened).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The key registry failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Something else inside failed.
    #[error("internal: {0}")]
    Internal(String),
}

impl FailureCategory for AuthError {
    /// Never the message, which may name what the caller sent.
    fn category(&self) -> &'static str {
        match self {
            AuthError::BadRequest(_) => "bad request",
            AuthError::InvalidCredentials => "invalid credentials",
            AuthError::Unauthenticated(_) => "unauthenticated",
            AuthError::Forbidden(_) => "forbidden",
            AuthError::NotFound(_) => "not found",
            AuthError::Conflict(_) => "conflict",
            AuthError::TooManyAttempts { .. } => "too many attempts",
            AuthError::Busy(_) => "busy",
            AuthError::Store(_) => "store error",
            AuthError::Log(_) => "log error",
            AuthError::Key(_) => "key error",
            AuthError::Internal(_) => "internal error",
        }
    }
}

/// Who is calling, established from a verified token and its binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Operator, subscriber user or system client.
    pub kind: CallerKind,
    /// The account id or client id.
    pub id: String,
    /// The subscriber the caller acts for (`None` for operators).
    pub subscriber: Option<String>,
    /// The session.
    pub session: String,
    /// How the session was established (`password+totp`, `mtls`, `private_key_jwt`).
    pub method: String,
    /// What a system client was granted (`None`: everything the subscriber owns).
    pub scope: Option<Scope>,
    /// The client certificate's thumbprint, if the request came with one (for an operator:
    /// its registered terminal).
    pub terminal: Option<String>,
    /// An operator's role (`None` for others, and for an operator without one).
    pub role: Option<operators::OperatorRole>,
}

/// What kind of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// An operator of the service.
    Operator,
    /// A person acting for a subscriber.
    User,
    /// A system client of an organisation.
    Client,
}

impl Caller {
    /// Whether the caller's standing approval of `key_id` covers `document_type` documents: a
    /// grant that names no formats covers every type, and so does a caller without a scope.
    /// (Whether the key is granted at all is `access::authorize_key`'s.)
    pub fn grant_covers(&self, key_id: &str, document_type: &str) -> bool {
        self.scope
            .as_ref()
            .and_then(|s| s.grant(key_id))
            .and_then(|g| g.formats.as_ref())
            .is_none_or(|formats| formats.iter().any(|f| f == document_type))
    }

    /// The caller as the transparency log records it.
    pub fn actor(&self) -> Actor {
        Actor {
            kind: match self.kind {
                CallerKind::Operator => ActorKind::Operator,
                CallerKind::User => ActorKind::Subscriber,
                CallerKind::Client => ActorKind::SystemClient,
            },
            id: self.id.clone(),
            auth: Authentication {
                method: self.method.clone(),
                session: Some(self.session.clone()),
                terminal: self.terminal.clone(),
            },
        }
    }
}

/// The authentication service.
#[derive(Debug)]
pub struct Auth {
    store: Arc<dyn Store>,
    /// Every event and change goes to the log through it.
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    config: AuthConfig,
    environment: Environment,
    seal: SealingKey,
    public_url: String,
    sources: limiter::Limiter,
    /// At most `concurrent_hashes` Argon2 hashes at once (default: one per core), a few more
    /// waiting; beyond, `Busy`.
    hashing: crate::blocking::Gate,
    /// System clients' access tokens and sessions read for signing, by token hash, with the
    /// cache epoch they were read at (`authenticate_for_signing`).
    tokens: crate::epoch::EpochCache<(
        inkan_store::auth::TokenRecord,
        inkan_store::auth::SessionRecord,
    )>,
    /// The external identity providers people may sign in to the pages with.
    federation: federation::Federation,
    /// What a new passkey's attestation must prove.
    attestation: webauthn::AttestationPolicy,
}

impl Auth {
    /// The service over `store` and `log`, sealing TOTP seeds with `seal`, reachable at
    /// `public_url` (for DPoP `htu` and client assertion `aud`).
    pub fn new(
        store: Arc<dyn Store>,
        log: Arc<TransparencyLog>,
        clock: Arc<dyn Clock>,
        config: AuthConfig,
        environment: Environment,
        seal: SealingKey,
        public_url: String,
    ) -> Self {
        let sources = limiter::Limiter::new(
            store.clone(),
            "login",
            config.max_failures_per_source_per_minute,
        );
        let hashing =
            crate::blocking::Gate::sized("password and PIN checks", config.concurrent_hashes);
        Auth {
            store,
            recorder: Recorder::new(log, clock.clone(), environment),
            clock,
            config,
            environment,
            seal,
            public_url,
            sources,
            hashing,
            tokens: crate::epoch::EpochCache::default(),
            federation: federation::Federation::default(),
            attestation: webauthn::AttestationPolicy::Record,
        }
    }

    /// Whether new passkeys must bring a verified attestation (the page then asks the browser
    /// for `direct` attestation; otherwise `none`).
    pub fn passkey_attestation_verified(&self) -> bool {
        matches!(
            self.attestation,
            webauthn::AttestationPolicy::Verified { .. }
        )
    }

    /// With the attestation policy for new passkeys.
    pub fn with_attestation_policy(mut self, policy: webauthn::AttestationPolicy) -> Self {
        self.attestation = policy;
        self
    }

    /// With the external identity providers people may sign in to the pages with.
    pub fn with_federation(mut self, federation: federation::Federation) -> Self {
        self.federation = federation;
        self
    }

    /// The key that seals TOTP seeds, from `path` (created on first start).
    pub fn sealing_key(path: &std::path::Path) -> Result<SealingKey, AuthError> {
        SealingKey::from_key_file(path, SEAL_DOMAIN)
            .map_err(|e| AuthError::Internal(format!("the secrets key: {e}")))
    }

    /// The URL clients use to reach the service.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The settings.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// Makes an operator's change to a key (e.g. its status source), under the dual-control
    /// request `approval`, written ahead: nothing changes unless its `pending` entry is logged
    /// first (criteria 2.1.3(12)).
    pub async fn operator_key_change<T>(
        &self,
        actor: Actor,
        approval: Option<&str>,
        key: &inkan_store::KeyRecord,
        note: &str,
        change: impl std::future::Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let event = Event::new(EntryKind::OperatorAction, actor)
            .key(&key.id)
            .approval(approval)
            .note(note);
        self.recorder.write_ahead(event, change).await
    }

    /// Appends the event of a refusal; a log failure is itself logged and the refusal stands.
    async fn record_refusal(&self, kind: EntryKind, actor: Actor, reason: &str) {
        let event = Event::new(kind, actor);
        if let Err(e) = self
            .recorder
            .record(event, Outcome::Failed(reason.into()))
            .await
        {
            tracing::error!(error = %e, kind = kind.as_str(), "could not log a refusal");
        }
    }

    /// Changes `key`'s state as `actor` asked, written ahead (`key.state_changed`: `pending`
    /// before, the result after; no log, no change).
    pub(crate) async fn key_state_change<T>(
        &self,
        actor: Actor,
        key: &inkan_store::KeyRecord,
        note: &str,
        change: impl std::future::Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let event = Event::new(EntryKind::KeyStateChanged, actor)
            .key(&key.id)
            .note(note);
        self.recorder.write_ahead(event, change).await
    }

    /// Records that access control refused `caller` the use of `key` (criteria 2.2.1(1)); a
    /// log failure is itself logged and the refusal stands.
    pub async fn record_access_refused(
        &self,
        caller: &Caller,
        key: &inkan_store::KeyRecord,
        reason: &str,
    ) {
        let event = Event::new(EntryKind::AccessRefused, caller.actor()).key(&key.id);
        if let Err(e) = self
            .recorder
            .record(event, Outcome::Failed(reason.into()))
            .await
        {
            tracing::error!(error = %e, "could not log an access refusal");
        }
    }
}

/// A new random secret (activation code, token, SAD): `bytes` random bytes, base64url.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; bytes]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut buf);
    URL_SAFE_NO_PAD.encode(buf.as_slice())
}

/// How secrets are stored and looked up: SHA-256, lowercase hex. The secrets are random and
/// long, so a fast hash is enough and lets the store index them.
pub(crate) fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Someone not yet authenticated, as the log records them: the username they claimed (never
/// the password) and where from.
fn claimed_actor(kind: ActorKind, id: &str, method: &str) -> Actor {
    Actor {
        kind,
        id: id.into(),
        auth: Authentication {
            method: method.into(),
            session: None,
            terminal: None,
        },
    }
}

impl Auth {
    /// A place behind the hashing gate (one Argon2 running per core, a few more waiting), taken
    /// before anything durable is written for the check it is for: `Busy` at once when full.
    fn hash_place(&self) -> Result<crate::blocking::Place, AuthError> {
        self.hashing.admit().map_err(gate_error)
    }

    /// Runs Argon2 (`work`) behind the hashing gate.
    async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        hash_in(self.hash_place()?, work).await
    }
}

/// Runs Argon2 (`work`) in its `place` on the blocking pool.
async fn hash_in<T: Send + 'static>(
    place: crate::blocking::Place,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AuthError> {
    place.run(work).await.map_err(gate_error)
}

fn gate_error(e: crate::blocking::GateError) -> AuthError {
    match e {
        crate::blocking::GateError::Busy(_) => AuthError::Busy(e.to_string()),
        crate::blocking::GateError::Failed(why) => {
            AuthError::Internal(format!("a blocking task failed: {why}"))
        }
    }
}
