//! System clients of organisations, for automatic e-sealing (criteria 2.2.1(1)).
//!
//! A dual-control request registers a client under an issuer organisation (M operators
//! approve and a user of the organisation consents, `operations::actions`), with either a client
//! certificate (mutual TLS, RFC 8705: the token is bound to the certificate's thumbprint) or a
//! public JWK (`private_key_jwt`, RFC 7523: the token is DPoP-bound to a key of the request),
//! and a scope naming the organisation's keys and what the client may do with them. The
//! client then gets access tokens with the OAuth `client_credentials` grant; there are no
//! refresh tokens (it can always authenticate again). Must never issue a token wider than the
//! registered scope, or for a client whose organisation is no longer active.

use super::sessions::{Binding, SessionOwner};
use super::{Auth, AuthError, RequestCredentials, Scope, TokenResponse, proof};
use crate::log::Event;
use inkan_log::entry::{Actor, ActorKind, EntryKind, Outcome};
use inkan_store::auth::{
    ClientAuthMethod, ClientRecord, SubscriberKind, SubscriberState, is_id, new_id,
};
use inkan_store::{KeyId, StoreError};
use serde_json::Value;

/// The client assertion type of RFC 7523.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// Longest registered certificate (PEM).
const MAX_CERTIFICATE_PEM: usize = 16 * 1024;

/// How a client will authenticate, as given at registration.
#[derive(Debug, Clone)]
pub enum ClientCredential {
    /// A certificate (PEM) for mutual TLS.
    Certificate(String),
    /// A public JWK for `private_key_jwt`.
    Jwk(Value),
}

/// An OAuth token request (`application/x-www-form-urlencoded`, RFC 6749 section 4.4).
#[derive(Clone, Default, serde::Deserialize)]
pub struct ClientTokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: String,
    /// The client id (optional with a client assertion, which names it).
    pub client_id: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` with an assertion.
    pub client_assertion_type: Option<String>,
    /// The client assertion.
    pub client_assertion: Option<String>,
    /// The scope asked for (`sign:key_… read:key_…`); all of the registered one when absent.
    pub scope: Option<String>,
    /// `authorization_code`: the code (`crate::oauth`).
    pub code: Option<String>,
    /// `authorization_code`: the request's redirect URI.
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier.
    pub code_verifier: Option<String>,
    /// Refused: Inkan's authorization-code clients are public (PKCE and DPoP); named so that
    /// a client that sends one hears so instead of being half-authenticated.
    pub client_secret: Option<String>,
}

crate::api::redacted_debug!(ClientTokenRequest);

impl Auth {
    /// The client a registration would create, checked: an active issuer organisation, a
    /// printable name, a scope naming only that organisation's keys, a valid certificate or
    /// JWK. Stores nothing (the registration is a dual-control request first, criteria
    /// 2.1.3(12)).
    pub async fn client_record(
        &self,
        subscriber: &str,
        name: &str,
        credential: ClientCredential,
        scope: &Scope,
    ) -> Result<ClientRecord, AuthError> {
        let subscriber = self.subscriber(subscriber).await?;
        if subscriber.kind != SubscriberKind::Issuer || subscriber.state != SubscriberState::Active
        {
            return Err(AuthError::Conflict(
                "system clients are registered under an active issuer organisation".into(),
            ));
        }
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(AuthError::BadRequest(
                "the client name must be 1 to 200 bytes of printable text".into(),
            ));
        }
        scope.validate()?;
        for grant in &scope.keys {
            let id = KeyId::parse(&grant.key).map_err(AuthError::BadRequest)?;
            match self.store.get_key(&id).await? {
                Some(key) if key.owner == subscriber.id => {}
                _ => {
                    return Err(AuthError::BadRequest(format!(
                        "the scope names {}, which is not a key of {}",
                        grant.key, subscriber.id
                    )));
                }
            }
        }
        let (auth_method, certificate_thumbprint, jwk) = match credential {
            ClientCredential::Certificate(pem) => (
                ClientAuthMethod::Mtls,
                Some(certificate_thumbprint(&pem)?),
                None,
            ),
            ClientCredential::Jwk(jwk) => {
                inkan_formats::jose::public_key_from_jwk(&jwk)
                    .map_err(|e| AuthError::BadRequest(format!("the client's JWK: {e}")))?;
                (ClientAuthMethod::PrivateKeyJwt, None, Some(jwk.to_string()))
            }
        };
        Ok(ClientRecord {
            id: new_id("cli"),
            subscriber: subscriber.id.clone(),
            name: name.into(),
            auth_method,
            certificate_thumbprint,
            jwk,
            scope: serde_json::to_string(scope).map_err(|e| AuthError::Internal(e.to_string()))?,
            active: true,
            created_at: self.now(),
        })
    }

    /// Registers `client` (made by [`Auth::client_record`]) once its dual-control request
    /// `approval` has the operators' approvals and the subscriber's consent; only
    /// `operations` calls it.
    pub async fn register_client(
        &self,
        actor: Actor,
        approval: Option<&str>,
        client: ClientRecord,
    ) -> Result<ClientRecord, AuthError> {
        let event = Event::new(EntryKind::ClientRegistered, actor)
            .approval(approval)
            .note(format!(
                "{} {} of {} scope {}",
                client.auth_method.as_str(),
                client.id,
                client.subscriber,
                client.scope
            ));
        // Written ahead (criteria 2.1.3(12)): no client exists unless its entry is logged first.
        let change = async {
            self.store
                .insert_client(&client)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => AuthError::Conflict(
                        "this certificate is already registered to another client".into(),
                    ),
                    other => other.into(),
                })
        };
        self.recorder.write_ahead(event, change).await?;
        Ok(client)
    }

    /// The OAuth `client_credentials` grant for a system client, authenticated by its
    /// certificate on this connection or by a client assertion (with a DPoP proof).
    pub async fn client_token(
        &self,
        request: &ClientTokenRequest,
        creds: &RequestCredentials<'_>,
    ) -> Result<TokenResponse, AuthError> {
        if request.grant_type != "client_credentials" {
            return Err(AuthError::BadRequest(
                "unsupported_grant_type: only client_credentials is supported here".into(),
            ));
        }
        let now = self.now();
        let invalid_client = || AuthError::Unauthenticated("invalid_client".into());
        let (client, binding) = match (&request.client_assertion, creds.client_certificate) {
            (Some(assertion), _) => {
                if request.client_assertion_type.as_deref() != Some(JWT_BEARER) {
                    return Err(AuthError::BadRequest(format!(
                        "client_assertion_type must be {JWT_BEARER}"
                    )));
                }
                let id = proof::assertion_client_id(assertion)
                    .map_err(|e| AuthError::Unauthenticated(e.to_string()))?;
                if request.client_id.as_ref().is_some_and(|given| given != &id) {
                    return Err(invalid_client());
                }
                let client = self.active_client(&id).await?.ok_or_else(invalid_client)?;
                let jwk = match (client.auth_method, &client.jwk) {
                    (ClientAuthMethod::PrivateKeyJwt, Some(jwk)) => {
                        serde_json::from_str::<Value>(jwk)
                            .map_err(|e| AuthError::Internal(e.to_string()))?
                    }
                    _ => return Err(invalid_client()),
                };
                let audience = format!("{}{TOKEN_PATH}", self.public_url);
                let max_age = i64::try_from(self.config.proof_max_age_seconds).unwrap_or(60);
                let checked = match proof::check_client_assertion(
                    assertion, &jwk, &client.id, &audience, now, max_age,
                ) {
                    Ok(checked) => checked,
                    Err(e) => {
                        self.record_refusal(
                            EntryKind::TokenIssued,
                            super::claimed_actor(
                                ActorKind::SystemClient,
                                &client.id,
                                "private_key_jwt",
                            ),
                            "client assertion refused",
                        )
                        .await;
                        return Err(AuthError::Unauthenticated(e.to_string()));
                    }
                };
                let once = format!(
                    "assertion:{}",
                    super::secret_hash(&format!("{} {}", client.id, checked.jti))
                );
                if !self
                    .store
                    .remember_once(&once, checked.expires_at, now)
                    .await?
                {
                    return Err(AuthError::Unauthenticated(
                        "the client assertion was used before (replay)".into(),
                    ));
                }
                let dpop = self.check_dpop_proof(creds, None).await?;
                (client, Binding::Dpop(dpop.jkt))
            }
            (None, Some(thumbprint)) => {
                let client = self
                    .store
                    .get_client_by_thumbprint(thumbprint)
                    .await?
                    .filter(|c| c.active && c.auth_method == ClientAuthMethod::Mtls)
                    .ok_or_else(invalid_client)?;
                if request
                    .client_id
                    .as_ref()
                    .is_some_and(|given| given != &client.id)
                {
                    return Err(invalid_client());
                }
                (client, Binding::Certificate(thumbprint.to_owned()))
            }
            (None, None) => {
                return Err(AuthError::Unauthenticated(
                    "invalid_client: authenticate with a client certificate (mutual TLS) or a \
                     client assertion"
                        .into(),
                ));
            }
        };
        let subscriber = self.subscriber(&client.subscriber).await?;
        if subscriber.state != SubscriberState::Active {
            return Err(invalid_client());
        }
        let registered: Scope = serde_json::from_str(&client.scope)
            .map_err(|e| AuthError::Internal(format!("client {} scope: {e}", client.id)))?;
        let scope = registered.narrow(request.scope.as_deref())?;
        let owner = SessionOwner {
            account_id: None,
            client_id: Some(client.id.clone()),
            subscriber: Some(client.subscriber.clone()),
            method: match client.auth_method {
                ClientAuthMethod::Mtls => "mtls",
                ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
            },
            scope: Some(scope),
        };
        let (session, tokens) = self.start_session(owner, binding, false).await?;
        let caller = self.caller_of(&session, creds.client_certificate)?;
        let mut event = Event::new(EntryKind::TokenIssued, caller.actor());
        event.note = tokens.scope.clone();
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(tokens)
    }

    async fn active_client(&self, id: &str) -> Result<Option<ClientRecord>, AuthError> {
        if !is_id(id, "cli") {
            return Ok(None);
        }
        Ok(self.store.get_client(id).await?.filter(|c| c.active))
    }
}

/// The RFC 8705 `x5t#S256` of a single PEM certificate (a client's or a terminal's), refusing
/// anything over the size limit or not a certificate.
pub(super) fn certificate_thumbprint(pem: &str) -> Result<String, AuthError> {
    if pem.len() > MAX_CERTIFICATE_PEM {
        return Err(AuthError::BadRequest("the certificate is too large".into()));
    }
    Ok(inkan_formats::jose::sha256_b64url(&certificate_der(pem)?))
}

/// The DER of a single PEM certificate, checked to be a certificate.
fn certificate_der(pem: &str) -> Result<Vec<u8>, AuthError> {
    use der::{Decode as _, DecodePem as _, Encode as _};
    let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes())
        .map_err(|e| AuthError::BadRequest(format!("the client certificate (PEM): {e}")))?;
    let der = cert
        .to_der()
        .map_err(|e| AuthError::BadRequest(format!("the client certificate: {e}")))?;
    x509_cert::Certificate::from_der(&der)
        .map_err(|e| AuthError::BadRequest(format!("the client certificate: {e}")))?;
    Ok(der)
}
