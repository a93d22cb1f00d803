//! People's passkeys (issue 18 point 4; criteria 2.2.1(2), (4)): adding one, signing in to the
//! pages with one, removing one.
//!
//! A ceremony's challenge is random, sealed under the secrets key with its purpose, the session
//! it belongs to (for adding) and its end, and carried by the page; it is used once, across
//! nodes (`AuthStore::remember_once`). Adding a passkey takes a signed-in browser session and a
//! fresh one-time password (a session alone must not give itself a lasting way in); removing
//! one takes the session. Signing in with a passkey is counted like a password attempt (per
//! source first, then against the account before the signature is checked), needs user
//! verification (two factors) and a rising signature counter, and starts a browser session of
//! method `web:passkey`. Every change and every refusal of a known passkey is logged. Must
//! never: accept a challenge twice, or a passkey for an operator (operators sign in from their
//! terminal).

use super::browser::METHOD_PREFIX;
use super::webauthn::{self, Expectation};
use super::{Auth, AuthError, Caller, CallerKind, claimed_actor, random_secret};
use crate::log::Event;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_log::entry::{ActorKind, EntryKind, Outcome};
use inkan_store::auth::Attempt;
use inkan_store::auth::{AccountRole, AccountState, new_id};
use inkan_store::passkeys::PasskeyRecord;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// How long a page may take over a ceremony, milliseconds.
const CHALLENGE_MILLIS: i64 = 5 * 60 * 1000;
/// The sealing name of challenges.
const SEALED: &str = "passkey-challenge";
/// What the method of a browser session started with a passkey starts with; the passkey's id
/// follows (`web:passkey:pk_…`), so that its removal ends its sessions.
const PASSKEY_METHOD: &str = "web:passkey";

/// The method of the browser sessions passkey `id` starts.
fn passkey_method(id: &str) -> String {
    format!("{PASSKEY_METHOD}:{id}")
}
/// Longest passkey name, bytes.
const MAX_NAME: usize = 64;

/// What a ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Adding a passkey to the signed-in person's account.
    Register,
    /// Signing in.
    SignIn,
}

impl Ceremony {
    fn as_str(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::SignIn => "sign-in",
        }
    }
}

/// A challenge for the page: the value the browser's WebAuthn call takes, and the sealed form
/// the page posts back with the result.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// base64url, for `navigator.credentials`.
    pub challenge: String,
    /// base64url of the sealed challenge.
    pub sealed: String,
}

/// What a browser returned from `navigator.credentials.create`.
#[derive(Debug)]
pub struct Registration<'a> {
    /// The sealed challenge the page was given.
    pub sealed: &'a str,
    /// `clientDataJSON`.
    pub client_data_json: &'a [u8],
    /// `attestationObject`.
    pub attestation_object: &'a [u8],
}

/// What a browser returned from `navigator.credentials.get`.
#[derive(Debug)]
pub struct SignIn<'a> {
    /// The sealed challenge the page was given.
    pub sealed: &'a str,
    /// The credential id, base64url.
    pub credential_id: &'a str,
    /// `clientDataJSON`.
    pub client_data_json: &'a [u8],
    /// `authenticatorData`.
    pub authenticator_data: &'a [u8],
    /// The signature.
    pub signature: &'a [u8],
}

impl Auth {
    /// The relying party id and origin of the pages: from the public URL.
    pub fn passkey_relying_party(&self) -> Result<(String, String), AuthError> {
        let url = url::Url::parse(self.public_url())
            .map_err(|e| AuthError::Internal(format!("public_url: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| AuthError::Internal("public_url has no host".into()))?
            .to_owned();
        Ok((host, url.origin().ascii_serialization()))
    }

    /// A fresh challenge for `ceremony`, bound to `session` (for adding a passkey).
    pub fn passkey_challenge(
        &self,
        ceremony: Ceremony,
        session: Option<&str>,
    ) -> Result<Challenge, AuthError> {
        let challenge = random_secret(32);
        let claims = serde_json::json!({
            "for": ceremony.as_str(),
            "challenge": challenge,
            "session": session,
            "until": self.now().saturating_add(CHALLENGE_MILLIS),
        });
        let sealed = self
            .seal
            .seal(SEALED, claims.to_string().as_bytes())
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Challenge {
            challenge,
            sealed: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Opens a sealed challenge of `ceremony` (and `session`) and uses it up; its bytes.
    async fn use_challenge(
        &self,
        sealed: &str,
        ceremony: Ceremony,
        session: Option<&str>,
    ) -> Result<Vec<u8>, AuthError> {
        let bad =
            || AuthError::BadRequest("the passkey challenge is not valid: start again".into());
        if sealed.len() > 1024 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| bad())?;
        let opened = self.seal.open(SEALED, &bytes).map_err(|_| bad())?;
        let claims: serde_json::Value = serde_json::from_slice(&opened).map_err(|_| bad())?;
        let until = claims["until"].as_i64().unwrap_or(0);
        let now = self.now();
        if claims["for"] != ceremony.as_str()
            || claims["session"].as_str() != session
            || now >= until
        {
            return Err(bad());
        }
        let challenge = claims["challenge"].as_str().ok_or_else(bad)?.to_owned();
        if !self
            .store
            .remember_once(&format!("passkey:{challenge}"), until, now)
            .await?
        {
            return Err(bad());
        }
        Ok(challenge.into_bytes())
    }

    fn expectation<'a>(rp: &'a (String, String), challenge: &'a [u8]) -> Expectation<'a> {
        Expectation {
            rp_id: &rp.0,
            origin: &rp.1,
            challenge,
        }
    }

    /// Adds a passkey to the signed-in person's account: the registration checked against a
    /// challenge of this session, and a fresh one-time password. Written ahead.
    pub async fn add_passkey(
        &self,
        person: &Caller,
        name: &str,
        otp: &str,
        registration: &Registration<'_>,
    ) -> Result<PasskeyRecord, AuthError> {
        if person.kind != CallerKind::User || !person.method.starts_with(METHOD_PREFIX) {
            return Err(AuthError::Forbidden(
                "passkeys are added in a signed-in browser session".into(),
            ));
        }
        super::accounts::check_name("name", name, MAX_NAME)?;
        let challenge = match self
            .use_challenge(
                registration.sealed,
                Ceremony::Register,
                Some(&person.session),
            )
            .await
        {
            Ok(challenge) => challenge,
            Err(e) => {
                self.record_refusal(
                    EntryKind::PasskeyChanged,
                    person.actor(),
                    "a challenge not of this session, used or expired",
                )
                .await;
                return Err(e);
            }
        };
        let rp = self.passkey_relying_party()?;
        let checked = webauthn::verify_registration(
            &Self::expectation(&rp, &challenge),
            registration.client_data_json,
            registration.attestation_object,
            &self.attestation,
            self.now() / 1000,
        );
        let checked = match checked {
            Ok(checked) => checked,
            Err(e) => {
                self.record_refusal(EntryKind::PasskeyChanged, person.actor(), &e.0)
                    .await;
                return Err(AuthError::BadRequest(e.to_string()));
            }
        };
        if let Err(reason) = self.verify_otp(person, otp).await? {
            self.record_refusal(EntryKind::PasskeyChanged, person.actor(), &reason)
                .await;
            return Err(AuthError::Forbidden(
                "the one-time password is wrong or was used".into(),
            ));
        }
        let record = PasskeyRecord {
            id: new_id("pk"),
            account_id: person.id.clone(),
            credential_id: URL_SAFE_NO_PAD.encode(&checked.credential_id),
            public_key: URL_SAFE_NO_PAD.encode(&checked.public_key),
            algorithm: checked.algorithm,
            name: name.to_owned(),
            sign_count: i64::from(checked.sign_count),
            backup: i64::from(checked.backup.0) | (i64::from(checked.backup.1) << 1),
            aaguid: checked.aaguid,
            attestation_format: checked.attestation_format,
            created_at: self.now(),
            last_used_at: None,
        };
        let event = Event::new(EntryKind::PasskeyChanged, person.actor()).note(format!(
            "passkey {} added (authenticator {}, attestation {})",
            record.id, record.aaguid, record.attestation_format
        ));
        let change = async {
            self.store
                .insert_passkey(&record)
                .await
                .map_err(AuthError::from)
        };
        self.recorder.write_ahead(event, change).await?;
        Ok(record)
    }

    /// Removes one of the signed-in person's passkeys. Written ahead.
    pub async fn remove_passkey(&self, person: &Caller, id: &str) -> Result<(), AuthError> {
        if !inkan_store::auth::is_id(id, "pk") {
            return Err(AuthError::NotFound("no such passkey".into()));
        }
        let event = Event::new(EntryKind::PasskeyChanged, person.actor())
            .note(format!("passkey {id} removed"));
        let change = async {
            if self
                .store
                .delete_passkey(&person.id, id, &passkey_method(id), self.now())
                .await?
            {
                Ok(())
            } else {
                Err(AuthError::NotFound(format!("no passkey {id}")))
            }
        };
        self.recorder.write_ahead(event, change).await
    }

    /// The signed-in person's passkeys.
    pub async fn passkeys(&self, person: &Caller) -> Result<Vec<PasskeyRecord>, AuthError> {
        Ok(self.store.passkeys_of(&person.id).await?)
    }

    /// Signs a person in to the pages with a passkey; returns the caller and the session
    /// cookie's value, as [`sign_in_browser`](Self::sign_in_browser) does for a password.
    pub async fn sign_in_with_passkey(
        &self,
        source: IpAddr,
        sign_in: &SignIn<'_>,
    ) -> Result<(Caller, Zeroizing<String>), AuthError> {
        self.take_source_attempt(source).await?;
        let challenge = self
            .use_challenge(sign_in.sealed, Ceremony::SignIn, None)
            .await?;
        let unknown = claimed_actor(ActorKind::Subscriber, "unknown", PASSKEY_METHOD);
        let Some(passkey) = self
            .store
            .passkey_by_credential(sign_in.credential_id)
            .await?
        else {
            self.record_refusal(EntryKind::Login, unknown, "unknown passkey")
                .await;
            return Err(AuthError::InvalidCredentials);
        };
        let actor = claimed_actor(ActorKind::Subscriber, &passkey.account_id, PASSKEY_METHOD);
        let now = self.now();
        let (account, own_lock) = match self.count_attempt(&passkey.account_id, now).await? {
            Attempt::Admitted { account, lock } => (account, lock),
            Attempt::Refused(_) => {
                self.record_refusal(EntryKind::Login, actor, "account locked or not active")
                    .await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        if account.role != AccountRole::User || account.state != AccountState::Active {
            self.record_refusal(EntryKind::Login, actor, "not a person's active account")
                .await;
            return Err(AuthError::InvalidCredentials);
        }
        let rp = self.passkey_relying_party()?;
        let stored = URL_SAFE_NO_PAD
            .decode(&passkey.public_key)
            .map_err(|e| AuthError::Internal(format!("passkey {}: {e}", passkey.id)))?;
        let reason = match webauthn::verify_assertion(
            &Self::expectation(&rp, &challenge),
            &stored,
            sign_in.client_data_json,
            sign_in.authenticator_data,
            sign_in.signature,
        ) {
            Err(e) => Some(e.0),
            Ok(assertion) => {
                let backup = i64::from(assertion.backup.0) | (i64::from(assertion.backup.1) << 1);
                if self
                    .store
                    .use_passkey(&passkey.id, i64::from(assertion.sign_count), backup, now)
                    .await?
                {
                    None
                } else {
                    Some(
                        "the signature counter did not rise: a copy of the passkey may exist"
                            .into(),
                    )
                }
            }
        };
        if let Some(reason) = reason {
            self.record_lock(actor.clone(), own_lock).await;
            self.record_refusal(EntryKind::Login, actor, &reason).await;
            return Err(AuthError::InvalidCredentials);
        }
        self.store
            .record_login_success(&account.id, None, own_lock, now)
            .await?;
        self.source_succeeded(source).await;
        let method = passkey_method(&passkey.id);
        let (caller, cookie) = self.start_browser_session(&account, &method).await?;
        let event = Event::new(EntryKind::Login, caller.actor())
            .note(format!("browser session, passkey {}", passkey.id));
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok((caller, cookie))
    }
}
