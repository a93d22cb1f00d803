//! A person signed in to Inkan's own pages (issue 18; criteria 2.2.1(1), (2), (4)): the
//! sign-in with password and TOTP, the browser session it starts, and the sessions an OAuth2
//! code is exchanged for.
//!
//! A browser session is a session like any other (stored, revocable, with the absolute and
//! idle timeouts), whose access token travels only in a `__Host-` cookie that is `Secure`,
//! `HttpOnly` and `SameSite=Strict`; it has no key binding a browser could keep, so it serves
//! only the pages (`authenticate_browser`), and the API refuses its token. Operators never
//! sign in here: their sessions need their terminal's certificate. Must never: accept a page
//! session's token on the API, or an API token on a page.

use super::accounts::LoginAttempt;
use super::sessions::{ACCESS_PREFIX, Binding, MAX_TOKEN_CHARS, SessionOwner, TOUCH_EVERY};
use super::{Auth, AuthError, Caller, CallerKind, claimed_actor, secret_hash};
use crate::clock::UnixMillis;
use crate::log::Event;
use inkan_log::entry::{ActorKind, EntryKind, Outcome};
use inkan_store::StoreError;
use inkan_store::auth::{
    AccountRecord, AccountRole, SessionRecord, TokenKind, TokenRecord, new_id,
};
use zeroize::Zeroizing;

/// What the `method` of every browser session starts with.
pub const METHOD_PREFIX: &str = "web:";
/// The method of a browser session started with password and TOTP.
const PASSWORD_METHOD: &str = "web:password+totp";
/// The method of a session an OAuth2 `scope=service` code was exchanged for.
pub const SERVICE_METHOD: &str = "oauth2:service";
/// The method of a session an OAuth2 `scope=credential` code was exchanged for: its token is
/// its SAD, and it reaches only [`CREDENTIAL_PATHS`].
pub const CREDENTIAL_METHOD: &str = "oauth2:credential";
/// What a credential-scoped token may call (CSC v2: it signs the hashes it was given for).
pub const CREDENTIAL_PATHS: [&str; 3] = [
    "/csc/v2/signatures/signHash",
    "/csc/v2/credentials/info",
    "/v1/holder/sign",
];

/// A session an OAuth2 code is exchanged for, with its tokens, not yet stored (the store
/// writes it together with the code's use).
#[derive(Debug)]
pub struct GrantedSession {
    /// The session.
    pub session: SessionRecord,
    /// Its access token (and refresh token, when asked for) as stored.
    pub tokens: Vec<TokenRecord>,
    /// What the client is given.
    pub response: super::TokenResponse,
}

impl Auth {
    /// Signs a person in to the pages with username, password and one-time password (the
    /// same checks, counts and log entries as the API's login), and starts a browser session:
    /// returns the caller and the cookie's value.
    pub async fn sign_in_browser(
        &self,
        attempt: LoginAttempt<'_>,
    ) -> Result<(Caller, Zeroizing<String>), AuthError> {
        self.take_source_attempt(attempt.source).await?;
        let account = self.check_login(attempt).await?;
        if account.role == AccountRole::Operator {
            let actor = claimed_actor(ActorKind::Operator, &account.id, PASSWORD_METHOD);
            let reason = "operators sign in from their terminal, not in a browser page";
            self.record_refusal(EntryKind::Login, actor, reason).await;
            return Err(AuthError::Forbidden(reason.into()));
        }
        let (caller, cookie) = self
            .start_browser_session(&account, PASSWORD_METHOD)
            .await?;
        let event = Event::new(EntryKind::Login, caller.actor()).note("browser session");
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok((caller, cookie))
    }

    /// Starts a browser session of `account` (whose sign-in by `method` was checked): the
    /// caller and the cookie's value. Logging the sign-in is the caller's.
    pub(super) async fn start_browser_session(
        &self,
        account: &AccountRecord,
        method: &str,
    ) -> Result<(Caller, Zeroizing<String>), AuthError> {
        let owner = SessionOwner {
            account_id: Some(account.id.clone()),
            client_id: None,
            subscriber: account.subscriber.clone(),
            method,
            scope: None,
        };
        let (session, tokens) = self.start_session(owner, Binding::Browser, false).await?;
        let caller = self.caller_of(&session, None)?;
        Ok((caller, Zeroizing::new(tokens.access_token)))
    }

    /// The person a page request's session cookie stands for: the token known, unexpired, of
    /// a browser session that has not ended.
    pub async fn authenticate_browser(&self, cookie: &str) -> Result<Caller, AuthError> {
        let invalid = || AuthError::Unauthenticated("not signed in".into());
        if cookie.is_empty() || cookie.len() > MAX_TOKEN_CHARS {
            return Err(invalid());
        }
        self.check_token_environment(cookie, ACCESS_PREFIX)?;
        let Some((token, mut session)) = self.store.get_token(&secret_hash(cookie)).await? else {
            return Err(invalid());
        };
        let now = self.now();
        if token.kind != TokenKind::Access
            || now >= token.expires_at
            || session.jkt.is_some()
            || session.x5t.is_some()
            || !session.method.starts_with(METHOD_PREFIX)
        {
            return Err(invalid());
        }
        if let Some(reason) = self.session_ended(&session, now) {
            return Err(AuthError::Unauthenticated(reason.into()));
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            match self.store.touch_session(&session.id, now).await {
                Ok(()) => session.last_seen_at = now,
                Err(StoreError::NotFound(_)) => return Err(invalid()),
                Err(e) => return Err(e.into()),
            }
        }
        let caller = self.caller_of(&session, None)?;
        if caller.kind != CallerKind::User {
            return Err(invalid());
        }
        Ok(caller)
    }

    /// The session an OAuth2 authorization code of `person` is exchanged for, bound to the
    /// client's DPoP key `jkt`, ending no later than `ends` (a credential token's SAD); not
    /// stored. `method` says what it is for (`oauth2:service`, `oauth2:credential`).
    pub fn granted_session(
        &self,
        person: &Caller,
        jkt: &str,
        method: &'static str,
        with_refresh: bool,
        ends: Option<UnixMillis>,
    ) -> GrantedSession {
        let now = self.now();
        let absolute = now.saturating_add(
            i64::try_from(self.config.absolute_timeout_minutes)
                .unwrap_or(i64::MAX / 60_000)
                .saturating_mul(60_000),
        );
        let session = SessionRecord {
            id: new_id("ses"),
            account_id: Some(person.id.clone()),
            client_id: None,
            subscriber: person.subscriber.clone(),
            method: method.into(),
            jkt: Some(jkt.into()),
            x5t: None,
            scope: None,
            created_at: now,
            last_seen_at: now,
            expires_at: ends.map_or(absolute, |ends| ends.min(absolute)),
            revoked_at: None,
            revoked_reason: None,
        };
        let (tokens, response) = self.new_tokens(&session, with_refresh, "DPoP", now);
        GrantedSession {
            session,
            tokens,
            response,
        }
    }

    /// The request's DPoP proof, bound to no token yet, remembered so that it is never used
    /// again: the key the tokens of an OAuth2 code are bound to.
    pub async fn dpop_proof(
        &self,
        creds: &super::RequestCredentials<'_>,
    ) -> Result<super::proof::DpopProof, AuthError> {
        self.check_dpop_proof(creds, None).await
    }

    /// RFC 7009 revocation for the sessions an OAuth2 code was exchanged for: whoever holds
    /// one of a session's tokens may end it (written ahead like a logout). An unknown token,
    /// or one of another kind of session, changes nothing and is answered the same (RFC 7009
    /// section 2.2), so the answer says nothing about a token.
    pub async fn revoke_granted(&self, token: &str) -> Result<(), AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS {
            return Ok(());
        }
        let Some((_, session)) = self.store.get_token(&secret_hash(token)).await? else {
            return Ok(());
        };
        if !session.method.starts_with("oauth2:") || session.revoked_at.is_some() {
            return Ok(());
        }
        let caller = self.caller_of(&session, None)?;
        self.logout(&caller).await
    }

    /// Whether `session` has not ended (revoked, or past its absolute or idle timeout).
    pub fn session_open(&self, session: &SessionRecord) -> bool {
        self.session_ended(session, self.now()).is_none()
    }
}
