//! Signing in to the pages through an external OpenID provider (issue 18 point 5; criteria
//! 2.2.1(3): when relying on an external authentication service, make sure it does its part).
//!
//! Inkan is a confidential client of each configured provider (`[[identity_providers]]`):
//! authorization code with PKCE S256 and a nonce, the client secret sent as
//! `client_secret_basic`, every exchange over Inkan's own HTTPS client (the provider's CA files
//! only, no redirects). The issuer is pinned: discovery must name exactly the configured issuer,
//! and so must the ID token, whose signature is checked against the provider's published keys
//! (asymmetric algorithms only), with its audience, expiry, nonce and `auth_time` (within
//! `max_auth_age_seconds`). The sign-in's state, nonce and PKCE verifier travel sealed in a
//! `SameSite=Lax` cookie of the browser that started it, and are used once across nodes.
//!
//! What the provider says counts only as far as the configuration lets it: its `acr` must be one
//! of the values that replace password and TOTP, and its `sub` must be linked to a person's
//! account by an approved dual-control request (`identity_link.add`); a provider's sign-in never
//! creates an account. Every sign-in, made or refused after the provider answered, is logged
//! with the provider, the `sub` and the `acr`. The browser session it starts has method
//! `web:oidc:<provider>`, so removing the link ends it.
//!
//! Must never: accept an ID token of another issuer or audience, one signed with a shared
//! secret or none, a state twice, or a `sub` nobody linked.

use super::sessions::{Binding, SessionOwner};
use super::{Auth, AuthError, Caller, claimed_actor, random_secret};
use crate::clock::UnixMillis;
use crate::config::{ConfigError, IdentityProviderConfig};
use crate::log::Event;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_log::entry::{ActorKind, EntryKind, Outcome};
use inkan_store::auth::{AccountRole, AccountState, Attempt};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
};
use secrecy::{ExposeSecret as _, SecretString};
use std::net::IpAddr;
use std::time::Duration;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// What the method of a browser session started through a provider starts with; the provider's
/// id follows (`web:oidc:<id>`).
const METHOD_PREFIX: &str = "web:oidc:";
/// The sealing name of a sign-in's state.
const SEALED: &str = "oidc-sign-in";
/// How long a person may take at the provider, milliseconds.
const SIGN_IN_MILLIS: i64 = 10 * 60 * 1000;
/// How long discovery and the provider's keys are reused, milliseconds.
const METADATA_MILLIS: i64 = 5 * 60 * 1000;
/// Largest answer read from a provider, bytes.
const MAX_ANSWER: usize = 256 * 1024;
/// Longest `sub` (OpenID Connect Core 1.0 section 2: at most 255 ASCII characters).
pub const MAX_SUBJECT: usize = 255;
/// The signature algorithms an ID token may use: public keys only, never a MAC under the client
/// secret or `none`.
const ALGORITHMS: [CoreJwsSigningAlgorithm; 7] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The method of the browser sessions provider `id` starts.
pub fn provider_method(id: &str) -> String {
    format!("{METHOD_PREFIX}{id}")
}

/// One configured provider, with its secret, its HTTPS client and its last discovery.
pub struct IdentityProvider {
    config: IdentityProviderConfig,
    secret: SecretString,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(UnixMillis, CoreProviderMetadata)>>,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("id", &self.config.id)
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

/// The configured providers.
#[derive(Debug, Default)]
pub struct Federation {
    providers: Vec<IdentityProvider>,
}

impl Federation {
    /// The providers of `[[identity_providers]]`, each with its secret read and its HTTPS client
    /// built (nothing is fetched yet: a provider that is down does not stop the service).
    pub fn from_config(
        providers: &[IdentityProviderConfig],
        timeout: Duration,
    ) -> Result<Self, ConfigError> {
        let mut built = Vec::with_capacity(providers.len());
        for config in providers {
            let what = format!("[[identity_providers]] {} ca_files", config.id);
            let http = crate::https_client::build(&what, &config.ca_files, timeout)
                .map_err(ConfigError::Invalid)?;
            built.push(IdentityProvider {
                secret: config.client_secret()?,
                config: config.clone(),
                http,
                metadata: tokio::sync::Mutex::new(None),
            });
        }
        Ok(Federation { providers: built })
    }

    /// The providers, in configuration order: `(id, name)`.
    pub fn list(&self) -> impl Iterator<Item = (&str, &str)> {
        self.providers
            .iter()
            .map(|p| (p.config.id.as_str(), p.config.name.as_str()))
    }

    /// Whether `id` is a configured provider.
    pub fn knows(&self, id: &str) -> bool {
        self.provider(id).is_some()
    }

    fn provider(&self, id: &str) -> Option<&IdentityProvider> {
        self.providers.iter().find(|p| p.config.id == id)
    }
}

/// A sign-in begun: where the browser goes, and the sealed state for its cookie.
#[derive(Debug)]
pub struct Begun {
    /// The provider's authorization URL.
    pub location: String,
    /// The sealed state (base64url), the cookie's value.
    pub sealed: String,
}

/// What the provider sent the browser back with (the callback's query).
#[derive(Debug)]
pub struct Callback<'a> {
    /// `code`.
    pub code: Option<&'a str>,
    /// `state`.
    pub state: Option<&'a str>,
    /// `iss` (RFC 9207), when the provider sends it.
    pub iss: Option<&'a str>,
    /// `error`, when the provider refused.
    pub error: Option<&'a str>,
}

/// A sign-in made through a provider.
#[derive(Debug)]
pub struct Federated {
    /// The person.
    pub caller: Caller,
    /// The new browser session's cookie value.
    pub session: Zeroizing<String>,
    /// Where the browser goes on (`begin_federated`'s `back`).
    pub back: String,
}

/// An HTTP failure talking to a provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Sends one request of the OpenID exchange through `http`, reading at most [`MAX_ANSWER`].
async fn send(
    http: reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let mut response = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| HttpError(format!("{}: {e}", parts.uri)))?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(HttpError(format!("{}: the answer is too large", parts.uri)));
        }
        body.extend_from_slice(&chunk);
    }
    answer.body(body).map_err(|e| HttpError(e.to_string()))
}

impl IdentityProvider {
    /// The provider's discovery document and keys, fetched at most every five minutes. The
    /// issuer it names must be the configured one exactly (the library refuses otherwise).
    async fn metadata(&self, now: UnixMillis) -> Result<CoreProviderMetadata, AuthError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && now.saturating_sub(*at) < METADATA_MILLIS
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| AuthError::Internal(format!("issuer: {e}")))?;
        let http = |request| send(self.http.clone(), request);
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| {
                AuthError::Busy(format!(
                    "the identity provider {} could not be reached: {e}",
                    self.config.id
                ))
            })?;
        *cached = Some((now, metadata.clone()));
        Ok(metadata)
    }

    fn redirect_uri(&self, public_url: &str) -> Result<RedirectUrl, AuthError> {
        RedirectUrl::new(format!(
            "{}/oauth2/federation/{}/callback",
            public_url.trim_end_matches('/'),
            self.config.id
        ))
        .map_err(|e| AuthError::Internal(format!("redirect URI: {e}")))
    }
}

impl Auth {
    /// The configured identity providers.
    pub fn federation(&self) -> &Federation {
        &self.federation
    }

    /// Begins a sign-in at provider `id`, to come back to `back` (a path of Inkan's pages): the
    /// provider's URL with a fresh state, nonce and PKCE challenge, and those sealed, with
    /// `back`, for the browser's cookie.
    pub async fn begin_federated(&self, id: &str, back: &str) -> Result<Begun, AuthError> {
        let provider = self
            .federation
            .provider(id)
            .ok_or_else(|| AuthError::NotFound(format!("no identity provider {id}")))?;
        let now = self.now();
        let metadata = provider.metadata(now).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            Some(ClientSecret::new(
                provider.secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(provider.redirect_uri(self.public_url())?);
        let (state, nonce, verifier) = (random_secret(32), random_secret(32), random_secret(32));
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                {
                    let state = state.clone();
                    move || CsrfToken::new(state)
                },
                {
                    let nonce = nonce.clone();
                    move || Nonce::new(nonce)
                },
            )
            .set_pkce_challenge(challenge)
            .set_max_age(Duration::from_secs(provider.config.max_auth_age_seconds));
        for acr in &provider.config.acr_values {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (url, _, _) = request.url();
        let claims = Zeroizing::new(
            serde_json::json!({
                "provider": id,
                "state": state,
                "nonce": nonce,
                "verifier": verifier,
                "back": back,
                "until": now.saturating_add(SIGN_IN_MILLIS),
            })
            .to_string(),
        );
        let sealed = self
            .seal
            .seal(SEALED, claims.as_bytes())
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Begun {
            location: url.to_string(),
            sealed: URL_SAFE_NO_PAD.encode(sealed),
        })
    }

    /// Finishes a sign-in at provider `id` from its callback and the browser's sealed state:
    /// the state used up, the code exchanged, the ID token checked, its `acr` and its `sub`'s
    /// link checked, and a browser session started (logged).
    pub async fn finish_federated(
        &self,
        source: IpAddr,
        id: &str,
        sealed: Option<&str>,
        callback: &Callback<'_>,
    ) -> Result<Federated, AuthError> {
        self.take_source_attempt(source)?;
        let provider = self
            .federation
            .provider(id)
            .ok_or_else(|| AuthError::NotFound(format!("no identity provider {id}")))?;
        let stale =
            || AuthError::BadRequest("the sign-in is not valid any more: start again".into());
        let sealed = sealed.filter(|s| s.len() <= 2048).ok_or_else(stale)?;
        let opened = URL_SAFE_NO_PAD
            .decode(sealed)
            .ok()
            .and_then(|bytes| self.seal.open(SEALED, &bytes).ok())
            .ok_or_else(stale)?;
        let claims: serde_json::Value = serde_json::from_slice(&opened).map_err(|_| stale())?;
        let text = |name: &str| claims[name].as_str().map(str::to_owned).ok_or_else(stale);
        let (state, nonce, verifier) = (
            Zeroizing::new(text("state")?),
            Zeroizing::new(text("nonce")?),
            Zeroizing::new(text("verifier")?),
        );
        let until = claims["until"].as_i64().unwrap_or(0);
        let now = self.now();
        let given_state = callback.state.unwrap_or_default();
        if claims["provider"] != id
            || now >= until
            || !bool::from(given_state.as_bytes().ct_eq(state.as_bytes()))
        {
            return Err(stale());
        }
        if !self
            .store
            .remember_once(&format!("oidc:{}", state.as_str()), until, now)
            .await?
        {
            return Err(stale());
        }
        if let Some(error) = callback.error {
            tracing::info!(provider = id, error = %error.chars().take(64).collect::<String>(),
                "the identity provider refused the sign-in");
            return Err(AuthError::InvalidCredentials);
        }
        // RFC 9207: an authorization response that names its issuer must name this one.
        if callback
            .iss
            .is_some_and(|iss| iss != provider.config.issuer)
        {
            tracing::warn!(provider = id, "a callback named another issuer");
            return Err(AuthError::InvalidCredentials);
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or_else(|| AuthError::BadRequest("the provider sent no code".into()))?;
        let (subject, acr) = self
            .checked_id_token(provider, code, &verifier, &nonce, now)
            .await?;
        let method = provider_method(id);
        let noted = format!(
            "provider {id}, sub {subject}, acr {}",
            acr.as_deref().unwrap_or("none")
        );
        let Some(link) = self.store.identity_link(id, &subject).await? else {
            let unknown = claimed_actor(ActorKind::Subscriber, "unknown", &method);
            let reason = format!("{noted}: linked to no account");
            self.record_refusal(EntryKind::Login, unknown, &reason)
                .await;
            return Err(AuthError::InvalidCredentials);
        };
        let actor = claimed_actor(ActorKind::Subscriber, &link.account_id, &method);
        if !acr
            .as_ref()
            .is_some_and(|acr| provider.config.acr_values.contains(acr))
        {
            let reason = format!("{noted}: not a level that replaces password and TOTP");
            self.record_refusal(EntryKind::Login, actor, &reason).await;
            return Err(AuthError::Forbidden(
                "the identity provider's sign-in is not strong enough here".into(),
            ));
        }
        let (account, own_lock) = match self.count_attempt(&link.account_id, now).await? {
            Attempt::Admitted { account, lock } => (account, lock),
            Attempt::Refused(_) => {
                let reason = format!("{noted}: account locked or not active");
                self.record_refusal(EntryKind::Login, actor, &reason).await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        if account.role != AccountRole::User || account.state != AccountState::Active {
            let reason = format!("{noted}: not a person's active account");
            self.record_refusal(EntryKind::Login, actor, &reason).await;
            return Err(AuthError::InvalidCredentials);
        }
        self.store
            .record_login_success(&account.id, None, own_lock, now)
            .await?;
        self.source_succeeded(source);
        let owner = SessionOwner {
            account_id: Some(account.id.clone()),
            client_id: None,
            subscriber: account.subscriber.clone(),
            method: &method,
            scope: None,
        };
        let (session, tokens) = self.start_session(owner, Binding::Browser, false).await?;
        let caller = self.caller_of(&session, None)?;
        let event =
            Event::new(EntryKind::Login, caller.actor()).note(format!("browser session, {noted}"));
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(Federated {
            caller,
            session: Zeroizing::new(tokens.access_token),
            back: claims["back"].as_str().unwrap_or("/account").to_owned(),
        })
    }

    /// Exchanges `code` at the provider and checks the ID token it answers with: its `sub` and
    /// its `acr`. A provider that refuses, or a token that fails a check, is logged to the
    /// server's log (nobody is known yet) and refused.
    async fn checked_id_token(
        &self,
        provider: &IdentityProvider,
        code: &str,
        verifier: &str,
        nonce: &str,
        now: UnixMillis,
    ) -> Result<(String, Option<String>), AuthError> {
        let refused = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(provider = %provider.config.id, error = %e, "{what}");
            AuthError::InvalidCredentials
        };
        let metadata = provider.metadata(now).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            Some(ClientSecret::new(
                provider.secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(provider.redirect_uri(self.public_url())?);
        let http = |request| send(provider.http.clone(), request);
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| AuthError::Internal(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&http)
            .await
            .map_err(|e| refused("the provider refused the code", &e))?;
        let id_token = openidconnect::TokenResponse::id_token(&answer)
            .ok_or_else(|| refused("the provider sent no ID token", &"no id_token"))?;
        let max_age = i64::try_from(provider.config.max_auth_age_seconds).unwrap_or(3600);
        let checker = client
            .id_token_verifier()
            .set_allowed_algs(ALGORITHMS)
            .set_time_fn(move || chrono::DateTime::from_timestamp_millis(now).unwrap_or_default())
            .set_auth_time_verifier_fn(move |auth_time| match auth_time {
                // A minute's leeway for the two clocks.
                Some(at) if (now / 1000).saturating_sub(at.timestamp()) <= max_age + 60 => Ok(()),
                Some(_) => Err("the person authenticated too long ago".into()),
                None => Err("no auth_time".into()),
            });
        let claims = id_token
            .claims(&checker, &Nonce::new(nonce.to_owned()))
            .map_err(|e| refused("the ID token was refused", &e))?;
        let subject = claims.subject().as_str();
        if subject.is_empty()
            || subject.len() > MAX_SUBJECT
            || subject.chars().any(char::is_control)
        {
            return Err(refused("the ID token's sub is not usable", &"sub"));
        }
        let acr = claims.auth_context_ref().map(|acr| acr.as_str().to_owned());
        if acr
            .as_ref()
            .is_some_and(|acr| acr.len() > 256 || acr.chars().any(char::is_control))
        {
            return Err(refused("the ID token's acr is not usable", &"acr"));
        }
        Ok((subject.to_owned(), acr))
    }
}
