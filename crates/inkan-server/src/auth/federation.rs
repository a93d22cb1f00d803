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

use super::{Auth, AuthError, Caller, claimed_actor, random_secret};
use crate::clock::UnixMillis;
use crate::config::{ConfigError, IdentityProviderConfig};
use crate::log::Event;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_log::entry::{ActorKind, EntryKind, Outcome};
use inkan_store::auth::{AccountRole, AccountState};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm};
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

/// The error code of a provider's refusal as the log names it: one of the codes of RFC 6749
/// section 4.1.2.1 and OpenID Connect Core 1.0 section 3.1.2.6, or `other` (the value is the
/// provider's, or anyone's who sends the browser to the callback).
fn error_code(error: &str) -> &'static str {
    const CODES: [&str; 16] = [
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "interaction_required",
        "login_required",
        "account_selection_required",
        "consent_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
    ];
    CODES.into_iter().find(|c| *c == error).unwrap_or("other")
}

/// The method of the browser sessions provider `id` starts.
pub fn provider_method(id: &str) -> String {
    format!("{METHOD_PREFIX}{id}")
}

/// One configured provider, with its secret, its HTTPS client and its last discovery.
pub struct IdentityProvider {
    config: IdentityProviderConfig,
    secret: SecretString,
    http: reqwest::Client,
    metadata: tokio::sync::Mutex<Option<(UnixMillis, Metadata)>>,
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

    /// The issuer of provider `id`, if it is configured.
    pub fn issuer(&self, id: &str) -> Option<&str> {
        self.provider(id).map(|p| p.config.issuer.as_str())
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

/// What Inkan reads of a provider's discovery document beyond OpenID Connect Discovery 1.0:
/// whether its authorization responses name their issuer (RFC 9207 section 3).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct IssuerParameter {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl openidconnect::AdditionalProviderMetadata for IssuerParameter {}

/// A provider's discovery document with its keys.
type Metadata = openidconnect::ProviderMetadata<
    IssuerParameter,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreClientAuthMethod,
    openidconnect::core::CoreClaimName,
    openidconnect::core::CoreClaimType,
    openidconnect::core::CoreGrantType,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreResponseMode,
    openidconnect::core::CoreResponseType,
    openidconnect::core::CoreSubjectIdentifierType,
>;

impl IdentityProvider {
    /// The provider's discovery document and keys, fetched at most every five minutes. The
    /// issuer it names must be the configured one exactly (the library refuses otherwise).
    async fn metadata(&self, now: UnixMillis) -> Result<Metadata, AuthError> {
        let mut cached = self.metadata.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && now.saturating_sub(*at) < METADATA_MILLIS
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone())
            .map_err(|e| AuthError::Internal(format!("issuer: {e}")))?;
        let http = |request| send(self.http.clone(), request);
        let metadata = Metadata::discover_async(issuer, &http).await.map_err(|e| {
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

    /// Inkan as this provider's client, from `metadata`.
    fn client(
        &self,
        metadata: Metadata,
        public_url: &str,
    ) -> Result<
        openidconnect::core::CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        AuthError,
    > {
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.secret.expose_secret().to_owned())),
        )
        .set_redirect_uri(self.redirect_uri(public_url)?))
    }
}

/// What an ID token must be, apart from its signature keys.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenRules<'a> {
    /// The pinned issuer.
    pub issuer: &'a str,
    /// Inkan's `client_id` at the provider.
    pub client_id: &'a str,
    /// This sign-in's nonce.
    pub nonce: &'a str,
    /// Now, Unix milliseconds.
    pub now: UnixMillis,
    /// The longest time since the person authenticated, seconds.
    pub max_auth_age: u64,
}

/// How far the provider's clock may be from Inkan's, seconds.
const CLOCK_LEEWAY: i64 = 60;

/// Why an ID token was refused: a fixed reason for the transparency log, and the library's
/// detail (which may quote the unverified token) for the server's log only.
#[derive(Debug)]
pub struct Refused {
    /// A fixed phrase.
    pub reason: &'static str,
    /// More, for the server's log.
    pub detail: String,
}

fn refused(reason: &'static str, detail: impl std::fmt::Display) -> Refused {
    Refused {
        reason,
        detail: detail.to_string(),
    }
}

/// A `sub` or `acr` Inkan keeps and logs: 1 to `max` bytes of text without control or
/// invisible formatting characters.
pub fn usable(text: &str, max: usize) -> bool {
    text.len() <= max && crate::oauth::request::check_text("", text).is_ok()
}

/// Checks an ID token (OpenID Connect Core 1.0 section 3.1.3.7) under the provider's published
/// `keys`: signed with an asymmetric algorithm (the verifier holds no client secret, so no MAC
/// can pass), issued by `rules.issuer` for `rules.client_id` alone (and `azp`, if present,
/// names it), unexpired, with this sign-in's nonce and an `auth_time` within
/// `max_auth_age` of now (and not ahead of it). Returns the `sub` and the `acr`.
pub fn check_id_token(
    id_token: &openidconnect::core::CoreIdToken,
    keys: &openidconnect::core::CoreJsonWebKeySet,
    rules: IdTokenRules<'_>,
) -> Result<(String, Option<String>), Refused> {
    let issuer = IssuerUrl::new(rules.issuer.to_owned())
        .map_err(|e| refused("the issuer is not a URL", e))?;
    let now = rules.now;
    let max_age = i64::try_from(rules.max_auth_age).unwrap_or(3600);
    let checker = openidconnect::core::CoreIdTokenVerifier::new_public_client(
        ClientId::new(rules.client_id.to_owned()),
        issuer,
        keys.clone(),
    )
    .set_allowed_algs(ALGORITHMS)
    .set_time_fn(move || chrono::DateTime::from_timestamp_millis(now).unwrap_or_default())
    .set_issue_time_verifier_fn(move |iat| {
        if iat.timestamp() > now / 1000 + CLOCK_LEEWAY {
            Err("issued in the future".into())
        } else {
            Ok(())
        }
    })
    .set_auth_time_verifier_fn(move |auth_time| {
        let Some(at) = auth_time.map(|t| t.timestamp()) else {
            return Err("no auth_time".into());
        };
        let age = (now / 1000).saturating_sub(at);
        if age < -CLOCK_LEEWAY {
            Err("auth_time is in the future".into())
        } else if age > max_age + CLOCK_LEEWAY {
            Err("the person authenticated too long ago".into())
        } else {
            Ok(())
        }
    });
    use openidconnect::ClaimsVerificationError as E;
    let claims = id_token
        .claims(&checker, &Nonce::new(rules.nonce.to_owned()))
        .map_err(|e| {
            let reason = match &e {
                E::Expired(_) => "expired, or issued ahead of now",
                E::InvalidAudience(_) => "for another audience",
                E::InvalidAuthTime(_) => "auth_time missing or not recent",
                E::InvalidIssuer(_) => "of another issuer",
                E::InvalidNonce(_) => "for another nonce",
                E::SignatureVerification(_) => "its signature did not verify",
                _ => "not usable",
            };
            refused(reason, e)
        })?;
    if claims
        .authorized_party()
        .is_some_and(|azp| azp.as_str() != rules.client_id)
    {
        return Err(refused("azp names another client", "azp"));
    }
    let subject = claims.subject().as_str();
    if !usable(subject, MAX_SUBJECT) {
        return Err(refused("its sub is not usable", "sub"));
    }
    let acr = claims.auth_context_ref().map(|acr| acr.as_str().to_owned());
    if acr.as_ref().is_some_and(|acr| !usable(acr, 256)) {
        return Err(refused("its acr is not usable", "acr"));
    }
    Ok((subject.to_owned(), acr))
}

impl Auth {
    /// The configured identity providers.
    pub fn federation(&self) -> &Federation {
        &self.federation
    }

    /// Begins a sign-in at provider `id`, to come back to `back` (a path of Inkan's pages),
    /// ending the browser session `previous` once it succeeds: the provider's URL with a fresh
    /// state, nonce and PKCE challenge, and those sealed, with `back` and `previous`, for the
    /// browser's cookie.
    pub async fn begin_federated(
        &self,
        id: &str,
        back: &str,
        previous: Option<&str>,
    ) -> Result<Begun, AuthError> {
        let provider = self
            .federation
            .provider(id)
            .ok_or_else(|| AuthError::NotFound(format!("no identity provider {id}")))?;
        let now = self.now();
        let client = provider.client(provider.metadata(now).await?, self.public_url())?;
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
                "previous": previous,
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
    /// link checked, and a browser session started (logged). Every refusal after the state was
    /// found good is logged with the provider (and, once the ID token is good, its `sub` and
    /// `acr`).
    pub async fn finish_federated(
        &self,
        source: IpAddr,
        id: &str,
        sealed: Option<&str>,
        callback: &Callback<'_>,
    ) -> Result<Federated, AuthError> {
        self.take_source_attempt(source).await?;
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
        let method = provider_method(id);
        let unknown = || claimed_actor(ActorKind::Subscriber, "unknown", &method);
        let metadata = match provider.metadata(now).await {
            Ok(metadata) => metadata,
            Err(e) => {
                let reason =
                    format!("provider {id}: its discovery document or keys could not be read");
                self.record_refusal(EntryKind::Login, unknown(), &reason)
                    .await;
                return Err(e);
            }
        };
        // RFC 9207 section 2.4: the issuer first (also of an error), and required where the
        // provider says it sends it.
        let names_issuer = metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported;
        let issuer_ok = match callback.iss {
            Some(iss) => iss == provider.config.issuer,
            None => !names_issuer,
        };
        let code = callback.code.filter(|c| !c.is_empty() && c.len() <= 2048);
        let refusal = if !issuer_ok {
            Some("the authorization response named another issuer, or none".to_owned())
        } else if let Some(error) = callback.error {
            Some(format!("the provider answered {}", error_code(error)))
        } else if code.is_none() {
            Some("the provider sent no usable code".to_owned())
        } else {
            None
        };
        let (None, Some(code)) = (refusal.as_ref(), code) else {
            let reason = refusal.unwrap_or_default();
            self.record_refusal(
                EntryKind::Login,
                unknown(),
                &format!("provider {id}: {reason}"),
            )
            .await;
            return Err(AuthError::InvalidCredentials);
        };
        let keys = metadata.jwks().clone();
        let client = provider.client(metadata, self.public_url())?;
        let http = |request| send(provider.http.clone(), request);
        let answer = match client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| AuthError::Internal(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(&http)
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(provider = id, error = %e, "the provider refused the code");
                let reason = format!("provider {id}: the code was refused at its token endpoint");
                self.record_refusal(EntryKind::Login, unknown(), &reason)
                    .await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        let rules = IdTokenRules {
            issuer: &provider.config.issuer,
            client_id: &provider.config.client_id,
            nonce: &nonce,
            now,
            max_auth_age: provider.config.max_auth_age_seconds,
        };
        let checked = openidconnect::TokenResponse::id_token(&answer)
            .ok_or_else(|| refused("missing", "the token response has no id_token"))
            .and_then(|token| check_id_token(token, &keys, rules));
        let (subject, acr) = match checked {
            Ok(checked) => checked,
            Err(e) => {
                tracing::warn!(provider = id, error = %e.detail, "an ID token was refused");
                let reason = format!("provider {id}: the ID token was refused: {}", e.reason);
                self.record_refusal(EntryKind::Login, unknown(), &reason)
                    .await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        let noted = format!(
            "provider {id}, sub {subject}, acr {}",
            acr.as_deref().unwrap_or("none")
        );
        let link = match self.store.identity_link(id, &subject).await? {
            Some(link) if link.issuer == provider.config.issuer => link,
            found => {
                let reason = if found.is_some() {
                    "linked for another issuer of that provider id"
                } else {
                    "linked to no account"
                };
                self.record_refusal(EntryKind::Login, unknown(), &format!("{noted}: {reason}"))
                    .await;
                return Err(AuthError::InvalidCredentials);
            }
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
        // The provider proved nothing Inkan counts attempts of: a locked or inactive account is
        // refused, and the count of failed attempts (which also bounds PIN and OTP guesses at the
        // consent page) is neither raised nor reset.
        let account = self.store.get_account(&link.account_id).await?;
        let Some(account) = account.filter(|a| {
            a.role == AccountRole::User
                && a.state == AccountState::Active
                && a.locked_until.is_none_or(|until| until <= now)
        }) else {
            let reason = format!("{noted}: account locked, not active or not a person's");
            self.record_refusal(EntryKind::Login, actor, &reason).await;
            return Err(AuthError::InvalidCredentials);
        };
        self.source_succeeded(source).await;
        let (caller, cookie) = self.start_browser_session(&account, &method).await?;
        // Read again under a share lock, now that the session exists: a removal of the link
        // either committed before (seen here) or waits and then ends this session with the others.
        let still = self.store.identity_link(id, &subject).await?;
        if !still.is_some_and(|l| l.account_id == account.id && l.issuer == link.issuer) {
            self.logout(&caller).await?;
            let reason = format!("{noted}: the link was removed meanwhile");
            self.record_refusal(EntryKind::Login, actor, &reason).await;
            return Err(AuthError::InvalidCredentials);
        }
        let event =
            Event::new(EntryKind::Login, caller.actor()).note(format!("browser session, {noted}"));
        self.recorder.record(event, Outcome::Succeeded).await?;
        if let Some(previous) = claims["previous"].as_str() {
            self.end_browser_session(previous).await;
        }
        Ok(Federated {
            caller,
            session: cookie,
            back: claims["back"].as_str().unwrap_or("/account").to_owned(),
        })
    }

    /// Ends browser session `id` (logged like a logout), if it is one still open; a failure is
    /// logged and otherwise ignored (the browser holds the new session's cookie anyway).
    async fn end_browser_session(&self, id: &str) {
        let session = match self.store.get_session(id).await {
            Ok(Some(session)) => session,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the previous browser session");
                return;
            }
        };
        if !session.method.starts_with(super::browser::METHOD_PREFIX)
            || session.revoked_at.is_some()
        {
            return;
        }
        let ended = match self.caller_of(&session, None) {
            Ok(caller) => self.logout(&caller).await,
            Err(e) => Err(e),
        };
        if let Err(e) = ended {
            tracing::warn!(error = %e, "could not end the previous browser session");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use serde_json::{Value, json};
    use std::str::FromStr as _;

    const ISSUER: &str = "https://idp.example";
    const NOW: i64 = 1_795_651_200_000;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A provider's signing key and its published key set.
    fn provider_key() -> (EcdsaKeyPair, openidconnect::core::CoreJsonWebKeySet) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let set = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
            "alg": "ES256", "x": b64(&point[1..33]), "y": b64(&point[33..])}]});
        (pair, serde_json::from_value(set).unwrap())
    }

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": "inkan", "sub": "alice", "nonce": "n-1",
               "iat": NOW / 1000 - 5, "exp": NOW / 1000 + 300, "auth_time": NOW / 1000 - 30,
               "acr": "high"})
    }

    fn signed(header: &Value, claims: &Value, key: &EcdsaKeyPair) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    fn check(
        token: &str,
        keys: &openidconnect::core::CoreJsonWebKeySet,
    ) -> Result<(String, Option<String>), &'static str> {
        let token = openidconnect::core::CoreIdToken::from_str(token).map_err(|_| "unparsed")?;
        let rules = IdTokenRules {
            issuer: ISSUER,
            client_id: "inkan",
            nonce: "n-1",
            now: NOW,
            max_auth_age: 300,
        };
        check_id_token(&token, keys, rules).map_err(|e| e.reason)
    }

    /// An ID token passes only signed by the provider's published key with an asymmetric
    /// algorithm, for this issuer, client and nonce, unexpired, with a recent `auth_time`
    /// (OpenID Connect Core 1.0 section 3.1.3.7).
    #[test]
    fn id_tokens_are_checked_claim_by_claim() {
        let (key, keys) = provider_key();
        let header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
        let good = signed(&header, &claims(), &key);
        assert_eq!(
            check(&good, &keys).unwrap(),
            ("alice".to_owned(), Some("high".to_owned()))
        );
        let with = |name: &str, value: Value| {
            let mut changed = claims();
            if value.is_null() {
                changed.as_object_mut().unwrap().remove(name);
            } else {
                changed[name] = value;
            }
            signed(&header, &changed, &key)
        };
        for (name, value, reason) in [
            (
                "iss",
                json!("https://idp.example/other"),
                "of another issuer",
            ),
            ("aud", json!("someone-else"), "for another audience"),
            (
                "aud",
                json!(["inkan", "someone-else"]),
                "for another audience",
            ),
            ("nonce", json!("n-2"), "for another nonce"),
            ("nonce", Value::Null, "for another nonce"),
            (
                "exp",
                json!(NOW / 1000 - 1),
                "expired, or issued ahead of now",
            ),
            (
                "iat",
                json!(NOW / 1000 + 3600),
                "expired, or issued ahead of now",
            ),
            ("auth_time", Value::Null, "auth_time missing or not recent"),
            (
                "auth_time",
                json!(NOW / 1000 - 3600),
                "auth_time missing or not recent",
            ),
            (
                "auth_time",
                json!(NOW / 1000 + 3600),
                "auth_time missing or not recent",
            ),
            ("azp", json!("someone-else"), "azp names another client"),
            ("sub", json!("alice\u{202e}"), "its sub is not usable"),
            ("acr", json!("high\u{7}"), "its acr is not usable"),
        ] {
            assert_eq!(
                check(&with(name, value.clone()), &keys),
                Err(reason),
                "{name} {value}"
            );
        }
        // Another key, a MAC under a shared secret, and no signature at all.
        let (other, _) = provider_key();
        assert_eq!(
            check(&signed(&header, &claims(), &other), &keys),
            Err("its signature did not verify")
        );
        let body = format!(
            "{}.{}",
            b64(json!({"alg": "HS256", "kid": "k1"}).to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"the client secret"),
            body.as_bytes(),
        );
        assert!(check(&format!("{body}.{}", b64(mac.as_ref())), &keys).is_err());
        let unsigned = format!(
            "{}.{}.",
            b64(json!({"alg": "none"}).to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        assert!(check(&unsigned, &keys).is_err());
        // No acr is not refused here: the caller refuses it as not a configured level.
        assert_eq!(check(&with("acr", Value::Null), &keys).unwrap().1, None);
    }
}
