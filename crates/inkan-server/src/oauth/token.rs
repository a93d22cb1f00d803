//! The token endpoint's `authorization_code` grant (RFC 6749 section 4.1.3, PKCE RFC 7636,
//! DPoP RFC 9449; CSC API v2 `oauth2/token`): a code for a DPoP-bound token, once.
//!
//! The code must be this client's, for this redirect URI, with the PKCE verifier of its
//! challenge, unexpired and unused, its person's account active and the browser session that
//! approved it still live; then the session, its token and (for `credential`) the SAD are
//! written with the code's use, written ahead in the log. A code presented again ends the
//! session it was exchanged for (RFC 6749 section 4.1.2). Clients are public: one that
//! presents a secret or an assertion is refused, not silently half-authenticated. Must never:
//! say which check refused a code (`invalid_grant` only), or hand out a token the log does not
//! show.

use super::{AuthorizationServer, CREDENTIAL_METHOD, SERVICE_METHOD, client_actor, sad_id};
use crate::auth::browser::GrantedSession;
use crate::auth::{AuthError, Caller, RequestCredentials, TokenResponse, secret_hash};
use crate::log::Event;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_log::entry::{EntryKind, Outcome};
use inkan_store::SadRecord;
use inkan_store::auth::AccountState;
use inkan_store::oauth::{OAuthGrant, OAuthRequestRecord};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The grant as the client sends it.
#[derive(Debug)]
pub struct CodeExchange<'a> {
    /// The code.
    pub code: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// The redirect URI of the request, again.
    pub redirect_uri: &'a str,
    /// The PKCE verifier.
    pub code_verifier: &'a str,
}

/// What a code was exchanged for.
#[derive(Debug)]
pub struct Exchanged {
    /// The tokens.
    pub tokens: TokenResponse,
    /// `service` or `credential`.
    pub scope: String,
    /// For `credential`: the key.
    pub credential_id: Option<String>,
}

/// A refusal as RFC 6749 section 5.2 and RFC 9449 section 5 name it.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// `invalid_request`.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// `invalid_client`.
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// `invalid_grant`, nothing more said.
    #[error("invalid_grant: the code is not valid for this client")]
    InvalidGrant,
    /// `invalid_dpop_proof`.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(String),
    /// Something failed inside.
    #[error(transparent)]
    Failed(#[from] AuthError),
}

impl From<inkan_store::StoreError> for TokenError {
    fn from(e: inkan_store::StoreError) -> Self {
        TokenError::Failed(e.into())
    }
}

impl TokenError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient(_) => "invalid_client",
            TokenError::InvalidGrant => "invalid_grant",
            TokenError::InvalidDpopProof(_) => "invalid_dpop_proof",
            TokenError::Failed(_) => "server_error",
        }
    }
}

/// Whether `verifier` is an RFC 7636 code verifier (43 to 128 unreserved characters) whose
/// S256 challenge is `challenge`.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        && bool::from(
            URL_SAFE_NO_PAD
                .encode(Sha256::digest(verifier.as_bytes()))
                .as_bytes()
                .ct_eq(challenge.as_bytes()),
        )
}

impl AuthorizationServer {
    /// Exchanges a code for tokens bound to the request's DPoP key.
    pub async fn exchange(
        &self,
        grant: &CodeExchange<'_>,
        creds: &RequestCredentials<'_>,
    ) -> Result<Exchanged, TokenError> {
        let proof = self.auth.dpop_proof(creds).await.map_err(|e| match e {
            AuthError::Unauthenticated(m) => TokenError::InvalidDpopProof(m),
            other => other.into(),
        })?;
        if grant.code.len() > 128 {
            return Err(TokenError::InvalidGrant);
        }
        let code_hash = secret_hash(grant.code);
        let Some(request) = self.store.oauth_request_by_code(&code_hash).await? else {
            tracing::info!(client = %grant.client_id, "an unknown authorization code was presented");
            return Err(TokenError::InvalidGrant);
        };
        let person = self.person(request.account_id.as_deref()).await?;
        let now = self.clock.now();
        let refusal = if request.client_id != grant.client_id {
            Some("another client's code")
        } else if request.redirect_uri != grant.redirect_uri {
            Some("redirect_uri differs from the request's")
        } else if !pkce_matches(grant.code_verifier, &request.code_challenge) {
            Some("PKCE code_verifier does not match")
        } else if request.exchanged_at.is_some() {
            Some("code presented again")
        } else if request.code_expires_at.is_none_or(|end| now >= end) {
            Some("code expired")
        } else if person.is_none() {
            Some("the approving account is no longer active")
        } else if !self.session_live(request.session_id.as_deref()).await? {
            Some("the browser session that approved it has ended")
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.refuse(grant, &request, reason).await?;
            return Err(TokenError::InvalidGrant);
        }
        let Some(person) = person else {
            return Err(TokenError::InvalidGrant);
        };
        self.grant(&request, &code_hash, &person, &proof.jkt).await
    }

    /// Logs a refused exchange of a known code, as the client that presented it; a code
    /// presented again also ends the session it was exchanged for.
    async fn refuse(
        &self,
        grant: &CodeExchange<'_>,
        request: &OAuthRequestRecord,
        reason: &str,
    ) -> Result<(), AuthError> {
        let event = Event::new(EntryKind::TokenIssued, client_actor(grant.client_id))
            .note(format!("OAuth2 code of request {}", request.id));
        self.recorder
            .record(event, Outcome::Failed(reason.into()))
            .await?;
        if request.exchanged_at.is_some()
            && let Some(session) = &request.granted_session
        {
            let event = Event::new(EntryKind::SessionsRevoked, client_actor(grant.client_id)).note(
                format!(
                    "session {session}: the authorization code of request {} was presented again",
                    request.id
                ),
            );
            let change = async {
                match self
                    .store
                    .revoke_session(
                        session,
                        "authorization code presented again",
                        self.clock.now(),
                    )
                    .await
                {
                    Ok(_) | Err(inkan_store::StoreError::NotFound(_)) => Ok(()),
                    Err(e) => Err(AuthError::from(e)),
                }
            };
            self.recorder.write_ahead(event, change).await?;
        }
        Ok(())
    }

    /// Writes the session, its token and (for `credential`) the SAD with the code's use,
    /// written ahead.
    async fn grant(
        &self,
        request: &OAuthRequestRecord,
        code_hash: &str,
        person: &Caller,
        jkt: &str,
    ) -> Result<Exchanged, TokenError> {
        let now = self.clock.now();
        let credential = request
            .credential
            .as_deref()
            .map(serde_json::from_str::<super::request::CredentialAuthorization>)
            .transpose()
            .map_err(|e| AuthError::Internal(format!("request {}: {e}", request.id)))?;
        let (method, ends) = match &credential {
            Some(_) => (
                CREDENTIAL_METHOD,
                Some(now.saturating_add(self.activation.sad_millis())),
            ),
            None => (SERVICE_METHOD, None),
        };
        let GrantedSession {
            session,
            tokens,
            response,
        } = self
            .auth
            .granted_session(person, jkt, method, credential.is_none(), ends);
        let sad = match &credential {
            None => None,
            Some(credential) => {
                let signature_request = credential.signature_request()?;
                Some(SadRecord {
                    // The token is the SAD: signHash uses it up by the same hash.
                    sad_hash: crate::signing::sad_hash(&response.access_token),
                    id: sad_id(&request.id),
                    key_id: credential.credential_id.clone(),
                    account_id: person.id.clone(),
                    session_id: session.id.clone(),
                    digests: signature_request.digests,
                    num_signatures: signature_request.num_signatures,
                    created_at: now,
                    expires_at: session.expires_at,
                    used_at: None,
                    disclosure_digest: signature_request.disclosure_digest,
                })
            }
        };
        let mut actor = person.actor();
        actor.auth.session = Some(session.id.clone());
        let event = Event::new(EntryKind::TokenIssued, actor)
            .approval(sad.as_ref().map(|s| s.id.as_str()))
            .note(format!(
                "OAuth2 {} token for client {} (request {})",
                request.scope, request.client_id, request.id
            ));
        let written = OAuthGrant {
            session,
            tokens,
            sad,
        };
        let change = async {
            if self
                .store
                .exchange_oauth_code(code_hash, now, &written)
                .await?
            {
                Ok(())
            } else {
                Err(AuthError::Conflict(
                    "the code was used, has expired, or its client has ended".into(),
                ))
            }
        };
        match self.recorder.write_ahead(event, change).await {
            Ok(()) => Ok(Exchanged {
                tokens: response,
                scope: request.scope.clone(),
                credential_id: credential.map(|c| c.credential_id),
            }),
            Err(AuthError::Conflict(_)) => Err(TokenError::InvalidGrant),
            Err(e) => Err(e.into()),
        }
    }

    /// The person who approved, as a caller, if their account is still active.
    async fn person(&self, account_id: Option<&str>) -> Result<Option<Caller>, AuthError> {
        let Some(account_id) = account_id else {
            return Ok(None);
        };
        let Some(account) = self.store.get_account(account_id).await? else {
            return Ok(None);
        };
        if account.state != AccountState::Active || account.subscriber.is_none() {
            return Ok(None);
        }
        Ok(Some(Caller {
            kind: crate::auth::CallerKind::User,
            id: account.id,
            subscriber: account.subscriber,
            session: String::new(),
            method: SERVICE_METHOD.into(),
            scope: None,
            terminal: None,
            role: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 appendix B: the verifier and challenge of the example.
    #[test]
    fn pkce_s256_is_checked_with_the_verifier_alphabet() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(&verifier[1..], challenge));
        assert!(!pkce_matches(&format!("{verifier}+"), challenge));
        assert!(!pkce_matches(challenge, challenge));
    }
}
