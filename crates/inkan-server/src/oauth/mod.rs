//! The CSC API v2 OAuth2 authorization server (issue 18; criteria 2.2.1(1)-(4), 2.2.3(2)A-1,
//! a signing application sends a person to Inkan's own pages, the person signs in, sees
//! what will be signed and approves with the key's PIN and a one-time password; the
//! application exchanges the code for a token.
//!
//! - `scope=service`: the token is a session of the person, like the API's login.
//! - `scope=credential` (or `authorization_details` of type `credential`): the token is a SAD.
//!   Its session is bound to the application's DPoP key and may only sign; the SAD (stored by
//!   the same hash as the token) covers exactly the approved hashes, once, for a few minutes.
//!
//! The request is stored before the person sees anything ([`AuthorizationServer::begin`]), so
//! what the page shows and what the code grants are the same stored record; the form sends
//! only the decision and the two factors. Clients are registered under dual control
//! (`oauth_client.register`) and send people back only to a registered redirect URI, compared
//! exactly; ending a client (`oauth_client.revoke`) ends every session its codes gave. A request
//! is decided once; a code is used once, within a minute, with its PKCE S256 verifier, by the
//! client it was issued to, while the browser session that approved it lasts. Decisions and
//! exchanges are written ahead; refusals of a known request or code are logged; refusals of
//! requests made without authentication go to the server's log, not the transparency log.
//!
//! Files: `request.rs` (parsing), `decide.rs` (approve, decline), `token.rs` (the code
//! exchange).
//!
//! Must never: issue a code for a request nobody approved with both factors, send a person or a
//! code to an unregistered URI, or let a credential token do anything but sign what it names.

pub mod decide;
pub mod request;
pub mod token;

use crate::activation::ActivationService;
use crate::auth::limiter::Limiter;
use crate::auth::{Auth, AuthError, Caller};
use crate::clock::Clock;
use crate::log::{Event, Recorder};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_log::entry::{Actor, ActorKind, Authentication, EntryKind, Outcome};
use inkan_store::auth::new_id;
use inkan_store::oauth::{OAuthClientRecord, OAuthRequestRecord};
use inkan_store::{KeyId, KeyRecord, Store};
use request::{AuthorizeParams, CredentialAuthorization, check_text};
use std::net::IpAddr;
use std::sync::Arc;

pub use crate::auth::browser::{CREDENTIAL_METHOD, SERVICE_METHOD};
pub use token::{CodeExchange, Exchanged, TokenError};

/// How long a person has to decide a request, milliseconds.
const REQUEST_MILLIS: i64 = 10 * 60 * 1000;
/// How a pushed request is named to its client (RFC 9126 section 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// Seconds a pushed request lasts.
pub const REQUEST_SECONDS: u64 = REQUEST_MILLIS.unsigned_abs() / 1000;
/// How long an authorization code lives, milliseconds.
const CODE_MILLIS: i64 = 60 * 1000;
/// Most authorization requests one source address may start per minute (each is a stored
/// row, made without authentication).
const REQUESTS_PER_MINUTE: u32 = 60;

/// Why an authorization request was refused, and where the person is told.
#[derive(Debug)]
pub enum Refusal {
    /// The client or its redirect URI is not known: told on Inkan's page, never sent back.
    Here(String),
    /// Anything else: sent back to the client's redirect URI (RFC 6749 section 4.1.2.1), or
    /// answered to a pushed request (RFC 9126 section 2.3).
    Back {
        /// The redirect URI with `error`, `error_description`, `state` and `iss`.
        to: String,
        /// The `error` code.
        error: &'static str,
        /// The `error_description`.
        description: String,
    },
    /// Too many requests from this address (RFC 9126 section 2.3: 429).
    TooMany(String),
    /// Something failed inside (logged; the page says nothing more).
    Failed(AuthError),
}

/// A request waiting for its person, as the consent page shows it.
#[derive(Debug)]
pub struct Pending {
    /// The stored request.
    pub request: OAuthRequestRecord,
    /// Its client.
    pub client: OAuthClientRecord,
    /// For `scope=credential`: what it authorises.
    pub credential: Option<CredentialAuthorization>,
}

/// The authorization server.
#[derive(Debug)]
pub struct AuthorizationServer {
    store: Arc<dyn Store>,
    auth: Arc<Auth>,
    activation: Arc<ActivationService>,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    sources: Limiter,
}

impl AuthorizationServer {
    /// The server, logging through `recorder`.
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<Auth>,
        activation: Arc<ActivationService>,
        recorder: Recorder,
        clock: Arc<dyn Clock>,
    ) -> Self {
        AuthorizationServer {
            sources: Limiter::new(store.clone(), "oauth", REQUESTS_PER_MINUTE),
            store,
            auth,
            activation,
            recorder,
            clock,
        }
    }

    /// Checks and stores an authorization request from `source`: first the client and its
    /// redirect URI (refused here), then everything else (refused back to the client). At most
    /// [`REQUESTS_PER_MINUTE`] per source. Refusals go to the server's log only: they come
    /// without authentication, and the transparency log is not for anyone to fill.
    pub async fn begin(
        &self,
        params: &AuthorizeParams,
        source: IpAddr,
    ) -> Result<OAuthRequestRecord, Refusal> {
        let refused = self.check_request(params, source).await;
        if let Err(
            Refusal::Here(why)
            | Refusal::TooMany(why)
            | Refusal::Back {
                description: why, ..
            },
        ) = &refused
        {
            tracing::info!(%source, reason = %why, "an OAuth2 authorization request was refused");
        }
        refused
    }

    async fn check_request(
        &self,
        params: &AuthorizeParams,
        source: IpAddr,
    ) -> Result<OAuthRequestRecord, Refusal> {
        let taken = self
            .sources
            .take_attempt(source, self.clock.now())
            .await
            .map_err(|e| Refusal::Failed(e.into()))?;
        if taken.is_err() {
            return Err(Refusal::TooMany(
                "too many authorization requests from this address: wait a minute".into(),
            ));
        }
        let client_id = params
            .required("client_id")
            .map_err(|e| Refusal::Here(e.clone()))?;
        let client = match self.store.oauth_client(client_id).await {
            Ok(Some(client)) if client.revoked_at.is_none() => client,
            Ok(_) => return Err(Refusal::Here("unknown client_id".into())),
            Err(e) => return Err(Refusal::Failed(e.into())),
        };
        let redirect_uri = params
            .required("redirect_uri")
            .map_err(|e| Refusal::Here(e.clone()))?;
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(Refusal::Here(
                "redirect_uri is not one the client registered".into(),
            ));
        }
        let state = params.get("state");
        let issuer = self.auth.public_url();
        let back = |error: &'static str, description: &str| Refusal::Back {
            to: redirect_with(
                redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description)),
                    ("state", state),
                    ("iss", Some(issuer)),
                ],
            ),
            error,
            description: description.to_owned(),
        };
        let invalid = |e: String| back("invalid_request", &e);
        if params.get("request_uri").is_some() {
            return Err(back(
                "invalid_request",
                "request_uri comes alone with client_id (RFC 9126), not with other parameters",
            ));
        }
        if params.get("response_type") != Some("code") {
            return Err(back(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        if params.get("code_challenge_method") != Some("S256") {
            return Err(invalid(
                "PKCE is required: code_challenge_method=S256".into(),
            ));
        }
        let challenge = params.required("code_challenge").map_err(invalid)?;
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
            return Err(invalid(
                "code_challenge must be base64url(SHA-256(code_verifier))".into(),
            ));
        }
        if let Some(state) = state {
            check_text("state", state).map_err(invalid)?;
        }
        let credential = match (params.get("scope"), params.get("authorization_details")) {
            (Some("service"), None) => None,
            (Some("credential") | None, Some(_)) | (Some("credential"), None) => {
                Some(CredentialAuthorization::from_params(params).map_err(invalid)?)
            }
            _ => {
                return Err(back(
                    "invalid_scope",
                    "scope must be service or credential (or authorization_details of type \
                     credential)",
                ));
            }
        };
        let now = self.clock.now();
        // A presentation is signed as prepared, at its `issuedAt`: one prepared now, not one
        // dated into the future or the past (a key proof without a nonce would keep).
        if let Some(presentation) = credential.as_ref().and_then(|c| c.presentation.as_ref())
            && !crate::activation::presentation_is_current(presentation.issued_at, now)
        {
            return Err(invalid(
                "presentation.issuedAt must be the preparation's, within fifteen minutes of now"
                    .into(),
            ));
        }
        let record = OAuthRequestRecord {
            id: new_id("oar"),
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            code_challenge: challenge.to_owned(),
            scope: if credential.is_some() {
                "credential"
            } else {
                "service"
            }
            .into(),
            credential: credential
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| Refusal::Failed(AuthError::Internal(e.to_string())))?,
            created_at: now,
            expires_at: now.saturating_add(REQUEST_MILLIS),
            account_id: None,
            session_id: None,
            decision: None,
            decided_at: None,
            code_hash: None,
            code_expires_at: None,
            exchanged_at: None,
            granted_session: None,
        };
        self.store
            .insert_oauth_request(&record)
            .await
            .map_err(|e| Refusal::Failed(e.into()))?;
        Ok(record)
    }

    /// The request a pushed authorization request (RFC 9126) stored, from the `request_uri` its
    /// client sends the person with: the client's own, undecided and unexpired.
    pub async fn pushed(&self, client_id: &str, request_uri: &str) -> Result<String, AuthError> {
        let id = request_uri
            .strip_prefix(REQUEST_URI_PREFIX)
            .ok_or_else(|| AuthError::BadRequest("request_uri is not one Inkan gave".into()))?;
        let pending = self.pending(id).await?;
        if pending.client.id != client_id {
            tracing::warn!(request = %id, client = %client_id, "another client's request_uri was presented");
            return Err(AuthError::NotFound(
                "this request has ended or was decided".into(),
            ));
        }
        Ok(pending.request.id)
    }

    /// The undecided, unexpired request `id` with its client and what it authorises.
    pub async fn pending(&self, id: &str) -> Result<Pending, AuthError> {
        let gone = || AuthError::NotFound("this request has ended or was decided".into());
        if id.len() > 64 {
            return Err(gone());
        }
        let request = self.store.oauth_request(id).await?.ok_or_else(gone)?;
        if request.decision.is_some() || self.clock.now() >= request.expires_at {
            return Err(gone());
        }
        let client = self
            .store
            .oauth_client(&request.client_id)
            .await?
            .filter(|c| c.revoked_at.is_none())
            .ok_or_else(gone)?;
        let credential = request
            .credential
            .as_deref()
            .map(serde_json::from_str::<CredentialAuthorization>)
            .transpose()
            .map_err(|e| AuthError::Internal(format!("request {id}: {e}")))?;
        Ok(Pending {
            request,
            client,
            credential,
        })
    }

    /// The key a `credential` request names, if `person` may sign with it; a refusal is
    /// logged (`access.refused`).
    pub async fn key_for(
        &self,
        person: &Caller,
        pending: &Pending,
        credential: &CredentialAuthorization,
    ) -> Result<KeyRecord, AuthError> {
        let not_yours =
            || AuthError::Forbidden("this credential is not one you may sign with".into());
        let key = match KeyId::parse(&credential.credential_id) {
            Ok(id) => self.store.get_key(&id).await?,
            Err(_) => None,
        };
        let refusal = match &key {
            Some(key) => {
                crate::auth::access::authorize_key(person, key, crate::auth::Operation::Sign)
                    .err()
                    .map(|e| e.to_string())
            }
            None => Some("no such key".into()),
        };
        match (key, refusal) {
            (Some(key), None) => Ok(key),
            (_, Some(reason)) => {
                let event = Event::new(EntryKind::AccessRefused, person.actor()).note(format!(
                    "OAuth2 request {} of client {} names credential {:?}",
                    pending.request.id, pending.client.id, credential.credential_id
                ));
                self.recorder.record(event, Outcome::Failed(reason)).await?;
                Err(not_yours())
            }
            (None, None) => Err(not_yours()),
        }
    }

    /// Whether the browser session `id` is still live (a code is exchanged only while the
    /// session it was approved in is).
    async fn session_live(&self, id: Option<&str>) -> Result<bool, AuthError> {
        let Some(id) = id else {
            return Ok(false);
        };
        Ok(match self.store.get_session(id).await? {
            Some(session) => self.auth.session_open(&session),
            None => false,
        })
    }
}

/// Most redirect URIs of one client.
const MAX_REDIRECT_URIS: usize = 10;

/// The client an `oauth_client.register` approval creates, checked: a printable name, 1 to
/// 10 redirect URIs, each absolute, without a fragment, `https` or `http` on a loopback
/// address (RFC 8252 section 7.3). Stores nothing.
pub fn client_record(
    name: &str,
    redirect_uris: &[String],
    approval: &str,
    now: crate::clock::UnixMillis,
) -> Result<OAuthClientRecord, AuthError> {
    check_text("name", name).map_err(AuthError::BadRequest)?;
    if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(AuthError::BadRequest(format!(
            "give 1 to {MAX_REDIRECT_URIS} redirect_uris"
        )));
    }
    for uri in redirect_uris {
        check_text("a redirect URI", uri).map_err(AuthError::BadRequest)?;
        let parsed = url::Url::parse(uri)
            .map_err(|_| AuthError::BadRequest(format!("redirect URI {uri:?} is not a URL")))?;
        let loopback = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        let allowed = match parsed.scheme() {
            "https" => parsed.host().is_some(),
            "http" => loopback,
            _ => false,
        };
        if !allowed || parsed.fragment().is_some() || parsed.as_str() != uri {
            return Err(AuthError::BadRequest(format!(
                "redirect URI {uri:?}: https (or http on 127.0.0.1 / [::1]), normalised, \
                 without a fragment"
            )));
        }
    }
    Ok(OAuthClientRecord {
        id: new_id("oac"),
        name: name.to_owned(),
        redirect_uris: redirect_uris.to_vec(),
        approval: approval.to_owned(),
        created_at: now,
        revoked_at: None,
    })
}

/// The SAD id a request's approval is logged under and its code is exchanged for.
fn sad_id(request_id: &str) -> String {
    format!("sad_{}", request_id.trim_start_matches("oar_"))
}

/// The actor of a refused exchange whose person is unknown: the client.
fn client_actor(client_id: &str) -> Actor {
    Actor {
        kind: ActorKind::SystemClient,
        id: client_id.to_owned(),
        auth: Authentication {
            method: "oauth2:code".into(),
            session: None,
            terminal: None,
        },
    }
}

/// `uri` with `params` (those given) added to its query.
fn redirect_with(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}
