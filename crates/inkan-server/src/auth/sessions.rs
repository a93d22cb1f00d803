//! Sessions that cannot be hijacked (criteria 2.2.1(4)).
//!
//! A session starts at login (or when a system client gets a token) and is bound to a key the
//! caller holds: the DPoP key of the login (RFC 9449 `cnf.jkt`) or the client certificate of
//! the TLS connection (RFC 8705 `x5t#S256`). Its tokens are opaque random strings, stored
//! hashed; a stolen token alone is useless without that key. Every use checks, in this order:
//! the token (known, an access token, unexpired), the session (not revoked, within the
//! absolute timeout, within the idle timeout), the binding (a fresh DPoP proof for this method,
//! URL and token, signed by the bound key, its `jti` never seen before, on any node; or the
//! bound certificate on this connection). Refresh tokens rotate on each use; a refresh token
//! used twice revokes its session (it was copied).
//!
//! Session state is in the store, so every node sees logouts and revocations at once. Must
//! never accept a token whose binding it cannot check.

use super::proof::{self, DpopExpectation, DpopProof};
use super::{
    Auth, AuthError, Caller, CallerKind, Scope, accounts::LoginAttempt, random_secret, secret_hash,
};
use crate::clock::UnixMillis;
use crate::log::Event;
use inkan_log::entry::{ActorKind, EntryKind, Outcome};
use inkan_store::StoreError;
use inkan_store::auth::{AccountRole, Rotation, SessionRecord, TokenKind, TokenRecord, new_id};
use serde::Serialize;

/// What [`Auth::authenticate_for_signing`] took from memory, for the signing module to confirm
/// at its write-ahead batch ([`Auth::confirm`]).
#[derive(Clone)]
pub struct TokenCheck {
    /// The cache epoch the token and its session were read at.
    pub read_at: u64,
    token_hash: String,
}

impl std::fmt::Debug for TokenCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCheck")
            .field("read_at", &self.read_at)
            .finish_non_exhaustive()
    }
}

/// The refusal of a token that is not a valid access token (no more said).
fn invalid() -> AuthError {
    AuthError::Unauthenticated("the access token is not valid".into())
}

/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// Longest token accepted (ours are 43 characters after a prefix and the environment).
pub(super) const MAX_TOKEN_CHARS: usize = 128;
/// `last_seen_at` is written at most this often per session (milliseconds).
pub(super) const TOUCH_EVERY: i64 = 1_000;
/// Prefix of access tokens (lets secret scanners recognise a leaked one).
pub(super) const ACCESS_PREFIX: &str = "inkan_at_";
/// Prefix of refresh tokens.
const REFRESH_PREFIX: &str = "inkan_rt_";

/// What the HTTP layer knows about a request, for authenticating it.
#[derive(Debug, Clone, Copy)]
pub struct RequestCredentials<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path, without query.
    pub path: &'a str,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `DPoP` header.
    pub dpop: Option<&'a str>,
    /// The TLS client certificate's SHA-256 thumbprint (base64url), if one was presented.
    pub client_certificate: Option<&'a str>,
}

/// Tokens handed to a caller (CSC `auth/login` and OAuth token response fields).
#[derive(Clone, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// The refresh token, for user sessions that asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `DPoP` (present it with a DPoP proof) or `Bearer` (certificate-bound, RFC 8705).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// For system clients: the granted scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// What a new session is bound to.
#[derive(Debug, Clone)]
pub(super) enum Binding {
    /// A DPoP key (its thumbprint).
    Dpop(String),
    /// A client certificate (its thumbprint).
    Certificate(String),
    /// A person's browser: the token travels only in a `Secure; HttpOnly; SameSite=Strict`
    /// cookie, and the session serves only Inkan's own pages (`auth::browser`), never the API.
    Browser,
    /// An operator's: a DPoP key and the terminal's client certificate, both on every request.
    DpopAndTerminal {
        /// The DPoP key's thumbprint.
        jkt: String,
        /// The terminal certificate's thumbprint.
        x5t: String,
    },
}

/// Who a new session is for.
#[derive(Debug, Clone)]
pub(super) struct SessionOwner<'a> {
    pub account_id: Option<String>,
    pub client_id: Option<String>,
    pub subscriber: Option<String>,
    pub method: &'a str,
    pub scope: Option<Scope>,
}

impl Auth {
    fn minutes(&self, minutes: u64) -> i64 {
        i64::try_from(minutes)
            .unwrap_or(i64::MAX / 60_000)
            .saturating_mul(60_000)
    }

    fn access_lifetime(&self) -> i64 {
        i64::try_from(self.config.access_token_seconds)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000)
    }

    /// Checks the request's DPoP proof (bound to `access_token` when given) and remembers its
    /// `jti` so it can never be used again, on any node.
    pub(super) async fn check_dpop_proof(
        &self,
        creds: &RequestCredentials<'_>,
        access_token: Option<&str>,
    ) -> Result<DpopProof, AuthError> {
        let header = creds.dpop.ok_or_else(|| {
            AuthError::Unauthenticated("a DPoP proof (RFC 9449) is required".into())
        })?;
        let url = format!("{}{}", self.public_url, creds.path);
        let now = self.now();
        let checked = proof::check_dpop(
            header,
            &DpopExpectation {
                method: creds.method,
                url: &url,
                access_token,
                now,
                max_age_seconds: i64::try_from(self.config.proof_max_age_seconds).unwrap_or(60),
            },
        )
        .map_err(|e| AuthError::Unauthenticated(e.to_string()))?;
        let once = format!(
            "dpop:{}",
            secret_hash(&format!("{} {}", checked.jkt, checked.jti))
        );
        if !self
            .store
            .remember_once(&once, checked.expires_at, now)
            .await?
        {
            return Err(AuthError::Unauthenticated(
                "the DPoP proof was used before (replay)".into(),
            ));
        }
        Ok(checked)
    }

    /// Starts a session and returns its tokens.
    pub(super) async fn start_session(
        &self,
        owner: SessionOwner<'_>,
        binding: Binding,
        with_refresh: bool,
    ) -> Result<(SessionRecord, TokenResponse), AuthError> {
        let now = self.now();
        let (jkt, x5t, token_type) = match binding {
            Binding::Dpop(jkt) => (Some(jkt), None, "DPoP"),
            Binding::Certificate(x5t) => (None, Some(x5t), "Bearer"),
            Binding::DpopAndTerminal { jkt, x5t } => (Some(jkt), Some(x5t), "DPoP"),
            Binding::Browser => (None, None, "Cookie"),
        };
        let scope_json = owner
            .scope
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let session = SessionRecord {
            id: new_id("ses"),
            account_id: owner.account_id,
            client_id: owner.client_id,
            subscriber: owner.subscriber,
            method: owner.method.into(),
            jkt,
            x5t,
            scope: scope_json,
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(self.minutes(self.config.absolute_timeout_minutes)),
            revoked_at: None,
            revoked_reason: None,
        };
        let (records, response) = self.new_tokens(&session, with_refresh, token_type, now);
        self.store.insert_session(&session, &records).await?;
        let response = TokenResponse {
            scope: owner.scope.as_ref().map(Scope::to_oauth),
            ..response
        };
        Ok((session, response))
    }

    /// Fresh tokens for `session` (not yet stored).
    pub(super) fn new_tokens(
        &self,
        session: &SessionRecord,
        with_refresh: bool,
        token_type: &'static str,
        now: UnixMillis,
    ) -> (Vec<TokenRecord>, TokenResponse) {
        let environment = self.environment.as_str();
        let access = format!(
            "{ACCESS_PREFIX}{environment}_{}",
            random_secret(TOKEN_BYTES)
        );
        // An access token never outlives its session.
        let access_expires = now
            .saturating_add(self.access_lifetime())
            .min(session.expires_at);
        let mut records = vec![TokenRecord {
            token_hash: secret_hash(&access),
            session_id: session.id.clone(),
            kind: TokenKind::Access,
            created_at: now,
            expires_at: access_expires,
            used_at: None,
        }];
        let refresh = with_refresh.then(|| {
            format!(
                "{REFRESH_PREFIX}{environment}_{}",
                random_secret(TOKEN_BYTES)
            )
        });
        if let Some(refresh) = &refresh {
            records.push(TokenRecord {
                token_hash: secret_hash(refresh),
                session_id: session.id.clone(),
                kind: TokenKind::Refresh,
                created_at: now,
                expires_at: session.expires_at,
                used_at: None,
            });
        }
        let response = TokenResponse {
            access_token: access,
            refresh_token: refresh,
            token_type,
            expires_in: u64::try_from((access_expires - now).max(0) / 1000).unwrap_or(0),
            scope: None,
        };
        (records, response)
    }

    /// Whether `session` may still be used at `now`: the reason if not.
    pub(super) fn session_ended(
        &self,
        session: &SessionRecord,
        now: UnixMillis,
    ) -> Option<&'static str> {
        if session.revoked_at.is_some() {
            Some("the session has ended")
        } else if now >= session.expires_at {
            Some("the session has expired (absolute timeout)")
        } else if now.saturating_sub(session.last_seen_at)
            >= self.minutes(self.config.idle_timeout_minutes)
        {
            Some("the session has expired (idle timeout)")
        } else {
            None
        }
    }

    /// CSC `auth/login` with username, password and OTP: checks them (see
    /// [`check_login`](Auth::check_login)), and starts a session bound to the request's DPoP
    /// key, with a refresh token when `remember_me`.
    pub async fn login(
        &self,
        attempt: LoginAttempt<'_>,
        creds: &RequestCredentials<'_>,
        remember_me: bool,
    ) -> Result<TokenResponse, AuthError> {
        // The source's attempt is counted before anything is checked or written (remembering
        // the proof's `jti` is a durable write), criteria 2.2.1(2). Then the proof: without it
        // no session could be bound, and a request without one says nothing about the password.
        self.take_source_attempt(attempt.source).await?;
        let proof = self.check_dpop_proof(creds, None).await?;
        let account = self.check_login(attempt).await?;
        let operator = account.role == AccountRole::Operator;
        let binding = if operator {
            match self
                .operator_terminal(&account.id, creds.client_certificate)
                .await
            {
                Ok(x5t) => Binding::DpopAndTerminal {
                    jkt: proof.jkt,
                    x5t,
                },
                Err(reason) => {
                    let actor =
                        super::claimed_actor(ActorKind::Operator, &account.id, "password+totp");
                    self.record_refusal(EntryKind::Login, actor, reason).await;
                    return Err(AuthError::Forbidden(reason.into()));
                }
            }
        } else {
            Binding::Dpop(proof.jkt)
        };
        let owner = SessionOwner {
            account_id: Some(account.id.clone()),
            client_id: None,
            subscriber: if operator {
                None
            } else {
                account.subscriber.clone()
            },
            method: "password+totp",
            scope: None,
        };
        let (session, tokens) = self.start_session(owner, binding, remember_me).await?;
        let caller = self.caller_of(&session, creds.client_certificate)?;
        let event = Event::new(EntryKind::Login, caller.actor());
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(tokens)
    }

    /// CSC `auth/login` with a refresh token: rotates it (new access and refresh tokens) if
    /// the request's DPoP proof is signed by the session's key. A refresh token used twice
    /// revokes the session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        creds: &RequestCredentials<'_>,
    ) -> Result<TokenResponse, AuthError> {
        let invalid = || AuthError::Unauthenticated("the refresh token is not valid".into());
        let proof = self.check_dpop_proof(creds, None).await?;
        if refresh_token.len() > MAX_TOKEN_CHARS {
            return Err(invalid());
        }
        self.check_token_environment(refresh_token, REFRESH_PREFIX)?;
        let hash = secret_hash(refresh_token);
        let Some((token, session)) = self.store.get_token(&hash).await? else {
            return Err(invalid());
        };
        if token.kind != TokenKind::Refresh
            || session.jkt.as_deref() != Some(proof.jkt.as_str())
            || session
                .x5t
                .as_deref()
                .is_some_and(|x5t| creds.client_certificate != Some(x5t))
        {
            return Err(invalid());
        }
        let now = self.now();
        let caller = self.caller_of(&session, creds.client_certificate)?;
        if let Some(reason) = self.session_ended(&session, now) {
            self.record_refusal(EntryKind::TokenRefreshed, caller.actor(), reason)
                .await;
            return Err(AuthError::Unauthenticated(reason.into()));
        }
        let (records, response) = self.new_tokens(&session, true, "DPoP", now);
        match self
            .store
            .rotate_refresh_token(&hash, &records, now)
            .await?
        {
            Rotation::Rotated(_) => {
                let event = Event::new(EntryKind::TokenRefreshed, caller.actor());
                self.recorder.record(event, Outcome::Succeeded).await?;
                Ok(response)
            }
            Rotation::Reused(_) => {
                self.record_refusal(
                    EntryKind::SessionsRevoked,
                    caller.actor(),
                    "refresh token reuse: session revoked",
                )
                .await;
                Err(AuthError::Unauthenticated(
                    "the refresh token was used before; the session is revoked".into(),
                ))
            }
            Rotation::Unknown => Err(invalid()),
        }
    }

    /// The access token of a request: its scheme and value, checked for length and
    /// environment before any lookup.
    fn access_token<'c>(
        &self,
        creds: &RequestCredentials<'c>,
    ) -> Result<(&'c str, &'c str), AuthError> {
        let header = creds.authorization.ok_or_else(|| {
            AuthError::Unauthenticated("an access token is required (Authorization: DPoP …)".into())
        })?;
        let (scheme, token) = header
            .split_once(' ')
            .map(|(s, t)| (s, t.trim()))
            .ok_or_else(|| AuthError::Unauthenticated("malformed Authorization header".into()))?;
        let invalid = || AuthError::Unauthenticated("the access token is not valid".into());
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
            return Err(invalid());
        }
        self.check_token_environment(token, ACCESS_PREFIX)?;
        Ok((scheme, token))
    }

    /// The caller of a request with an access token, after checking the token, its session
    /// and its binding.
    pub async fn authenticate(&self, creds: &RequestCredentials<'_>) -> Result<Caller, AuthError> {
        let (scheme, token) = self.access_token(creds)?;
        let Some((record, mut session)) = self.store.get_token(&secret_hash(token)).await? else {
            return Err(invalid());
        };
        self.accept(creds, scheme, token, &record, &mut session)
            .await
    }

    /// As [`authenticate`](Self::authenticate), for a route whose signature the signing module
    /// confirms at its write-ahead batch (`SignRequest::token`): the token and session of a
    /// system client's certificate-bound session come from memory when they were read at the
    /// newest cache epoch (`crate::epoch`; `tokens` and `sessions` move it by trigger), and
    /// the returned [`TokenCheck`] lets the signing module confirm them ([`Auth::confirm`]).
    /// Anything refused from memory is decided again from the store. DPoP-bound sessions (a
    /// proof to check and remember on every request) are always read from the store.
    pub async fn authenticate_for_signing(
        &self,
        creds: &RequestCredentials<'_>,
    ) -> Result<(Caller, Option<TokenCheck>), AuthError> {
        let (scheme, token) = self.access_token(creds)?;
        let token_hash = secret_hash(token);
        let epoch = self.recorder.epoch();
        if let Some(((record, mut session), read_at)) = self.tokens.get(&token_hash, epoch) {
            let seen = session.last_seen_at;
            if let Ok(caller) = self
                .accept(creds, scheme, token, &record, &mut session)
                .await
            {
                if session.last_seen_at != seen {
                    self.tokens.put(&token_hash, read_at, (record, session));
                }
                return Ok((
                    caller,
                    Some(TokenCheck {
                        read_at,
                        token_hash,
                    }),
                ));
            }
        }
        let read_at = epoch.read(self.store.as_ref()).await?;
        let Some((record, mut session)) = self.store.get_token(&token_hash).await? else {
            return Err(invalid());
        };
        let caller = self
            .accept(creds, scheme, token, &record, &mut session)
            .await?;
        if session.jkt.is_some() || caller.kind != CallerKind::Client {
            return Ok((caller, None));
        }
        self.tokens.put(&token_hash, read_at, (record, session));
        Ok((
            caller,
            Some(TokenCheck {
                read_at,
                token_hash,
            }),
        ))
    }

    /// Confirms, from the store as it is now, what [`authenticate_for_signing`]
    /// (Self::authenticate_for_signing) took from memory for `caller`: the token is still a
    /// valid access token, its session has not ended, is still bound to the certificate the
    /// request presented and still stands for the same caller with the same scope.
    pub async fn confirm(&self, check: &TokenCheck, caller: &Caller) -> Result<(), AuthError> {
        let Some((record, session)) = self.store.get_token(&check.token_hash).await? else {
            return Err(invalid());
        };
        let now = self.now();
        if record.kind != TokenKind::Access || now >= record.expires_at {
            return Err(invalid());
        }
        if let Some(reason) = self.session_ended(&session, now) {
            return Err(AuthError::Unauthenticated(reason.into()));
        }
        let bound = session.jkt.is_none()
            && session.x5t.is_some()
            && session.x5t.as_deref() == caller.terminal.as_deref();
        if !bound || self.caller_of(&session, caller.terminal.as_deref())? != *caller {
            return Err(AuthError::Unauthenticated(
                "the session changed while the request was being logged".into(),
            ));
        }
        Ok(())
    }

    /// The checks of a token `record` of `session` for a request with `creds`: the token is a
    /// valid access token, the session has not ended, the request shows the session's binding;
    /// the session's last use is recorded (at most every [`TOUCH_EVERY`] ms; `session` is
    /// updated). Returns the caller.
    async fn accept(
        &self,
        creds: &RequestCredentials<'_>,
        scheme: &str,
        token: &str,
        record: &TokenRecord,
        session: &mut SessionRecord,
    ) -> Result<Caller, AuthError> {
        let invalid = || AuthError::Unauthenticated("the access token is not valid".into());
        let now = self.now();
        if record.kind != TokenKind::Access {
            return Err(invalid());
        }
        if now >= record.expires_at {
            return Err(AuthError::Unauthenticated(
                "the access token has expired".into(),
            ));
        }
        if let Some(reason) = self.session_ended(session, now) {
            return Err(AuthError::Unauthenticated(reason.into()));
        }
        match (&session.jkt, &session.x5t) {
            (Some(jkt), _) => {
                if !scheme.eq_ignore_ascii_case("DPoP") {
                    return Err(AuthError::Unauthenticated(
                        "this access token is DPoP-bound: send it as `Authorization: DPoP` with \
                         a DPoP proof"
                            .into(),
                    ));
                }
                let proof = self.check_dpop_proof(creds, Some(token)).await?;
                if &proof.jkt != jkt {
                    return Err(AuthError::Unauthenticated(
                        "the DPoP proof is not signed with the key the token is bound to".into(),
                    ));
                }
                if let Some(x5t) = &session.x5t
                    && creds.client_certificate != Some(x5t.as_str())
                {
                    return Err(AuthError::Unauthenticated(
                        "this session is bound to an operator terminal whose client certificate \
                         this connection did not present"
                            .into(),
                    ));
                }
            }
            (None, Some(x5t)) => {
                if !scheme.eq_ignore_ascii_case("Bearer") {
                    return Err(invalid());
                }
                if creds.client_certificate != Some(x5t.as_str()) {
                    return Err(AuthError::Unauthenticated(
                        "this access token is bound to a client certificate that this \
                         connection did not present"
                            .into(),
                    ));
                }
            }
            // A browser session's cookie is not an API token.
            (None, None) if session.method.starts_with(super::browser::METHOD_PREFIX) => {
                return Err(invalid());
            }
            (None, None) => {
                tracing::error!(session = %session.id, "a session without a binding");
                return Err(invalid());
            }
        }
        if session.method == super::browser::CREDENTIAL_METHOD
            && !super::browser::CREDENTIAL_PATHS.contains(&creds.path)
        {
            return Err(AuthError::Forbidden(
                "a credential-scoped token (OAuth2 scope=credential) reaches only \
                 signatures/signHash, credentials/info and /v1/holder/sign"
                    .into(),
            ));
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            match self.store.touch_session(&session.id, now).await {
                Ok(()) => {}
                // Purged between the two reads: it had ended anyway.
                Err(StoreError::NotFound(_)) => return Err(invalid()),
                Err(e) => return Err(e.into()),
            }
            session.last_seen_at = now;
        }
        let mut caller = self.caller_of(session, creds.client_certificate)?;
        if caller.kind == CallerKind::Operator {
            if let Err(reason) = self
                .operator_terminal(&caller.id, creds.client_certificate)
                .await
            {
                return Err(AuthError::Unauthenticated(reason.into()));
            }
            caller.role = self.role_of(&caller.id).await?;
        }
        Ok(caller)
    }

    /// Refuses a token another environment issued (criteria 2.1.3(15)): tokens carry the
    /// environment after their prefix (`inkan_at_test_…`), so a test token shown to a
    /// production node is refused by name, before any lookup.
    pub(super) fn check_token_environment(
        &self,
        token: &str,
        prefix: &str,
    ) -> Result<(), AuthError> {
        let issued_in = token
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('_'))
            .map(|(environment, _)| environment);
        match issued_in.map(str::parse::<crate::environment::Environment>) {
            Some(Ok(environment)) if environment != self.environment => {
                Err(AuthError::Unauthenticated(format!(
                    "this token was issued in the {environment} environment, not {}",
                    self.environment
                )))
            }
            // Ours, or not a token of any environment (the lookup refuses it).
            _ => Ok(()),
        }
    }

    /// The caller a session stands for.
    pub(super) fn caller_of(
        &self,
        session: &SessionRecord,
        terminal: Option<&str>,
    ) -> Result<Caller, AuthError> {
        let (kind, id) = match (&session.client_id, &session.account_id) {
            (Some(client), _) => (CallerKind::Client, client.clone()),
            (None, Some(account)) if session.subscriber.is_none() => {
                (CallerKind::Operator, account.clone())
            }
            (None, Some(account)) => (CallerKind::User, account.clone()),
            (None, None) => {
                return Err(AuthError::Internal(format!(
                    "session {} has no owner",
                    session.id
                )));
            }
        };
        let scope = session
            .scope
            .as_deref()
            .map(serde_json::from_str::<Scope>)
            .transpose()
            .map_err(|e| AuthError::Internal(format!("session {} scope: {e}", session.id)))?;
        Ok(Caller {
            kind,
            id,
            subscriber: session.subscriber.clone(),
            session: session.id.clone(),
            method: session.method.clone(),
            scope,
            terminal: terminal.map(str::to_owned),
            role: None,
        })
    }

    /// Ends the caller's own session (logout; CSC `auth/revoke` of the caller's token).
    pub async fn logout(&self, caller: &Caller) -> Result<(), AuthError> {
        let event = Event::new(EntryKind::Logout, caller.actor());
        let change = async {
            self.store
                .revoke_session(&caller.session, "logout", self.now())
                .await?;
            Ok(())
        };
        self.recorder.write_ahead(event, change).await
    }

    /// Ends every session of a subscriber's users and clients (an operator's action).
    pub async fn revoke_subscriber_sessions(
        &self,
        operator: &Caller,
        subscriber: &str,
    ) -> Result<u64, AuthError> {
        operator.require(super::operators::Permission::Registration)?;
        let subscriber = self.subscriber(subscriber).await?;
        // Written ahead; the count revoked is in the server's own log (the entry's note is
        // fixed before the change).
        let event = Event::new(EntryKind::SessionsRevoked, operator.actor())
            .note(format!("sessions of {}", subscriber.id));
        let change = async {
            Ok::<_, AuthError>(
                self.store
                    .revoke_subscriber_sessions(
                        &subscriber.id,
                        "revoked by an operator",
                        self.now(),
                    )
                    .await?,
            )
        };
        let count = self.recorder.write_ahead(event, change).await?;
        tracing::info!(subscriber = %subscriber.id, count, "sessions revoked");
        Ok(count)
    }
}
