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
//! exactly. A request is decided once; a code is used once, within a minute, with its PKCE S256
//! verifier, by the client it was issued to. Every decision, refusal and exchange is logged.
//!
//! Must never: issue a code for a request nobody approved with both factors, send a person or a
//! code to an unregistered URI, or let a credential token do anything but sign what it names.

pub mod request;

use crate::activation::ActivationService;
use crate::auth::browser::GrantedSession;
use crate::auth::{Auth, AuthError, Caller, RequestCredentials, random_secret, secret_hash};
use crate::clock::Clock;
use crate::log::{Event, Recorder};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_log::entry::{Actor, ActorKind, Authentication, EntryKind, Outcome};
use inkan_store::auth::{AccountState, new_id};
use inkan_store::oauth::{OAuthClientRecord, OAuthDecision, OAuthGrant, OAuthRequestRecord};
use inkan_store::{KeyId, KeyRecord, SadRecord, Store};
use request::{AuthorizeParams, CredentialAuthorization, check_text};
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// How long a person has to decide a request, milliseconds.
const REQUEST_MILLIS: i64 = 10 * 60 * 1000;
/// How long an authorization code lives, milliseconds.
const CODE_MILLIS: i64 = 60 * 1000;
pub use crate::auth::browser::{CREDENTIAL_METHOD, SERVICE_METHOD};

/// Why an authorization request was refused, and where the person is told.
#[derive(Debug)]
pub enum Refusal {
    /// The client or its redirect URI is not known: told on Inkan's page, never sent back.
    Here(String),
    /// Anything else: sent back to the client's redirect URI (RFC 6749 section 4.1.2.1).
    Back {
        /// The redirect URI with `error`, `error_description` and `state`.
        to: String,
    },
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

/// The token endpoint's `authorization_code` grant.
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
    pub tokens: crate::auth::TokenResponse,
    /// `service` or `credential`.
    pub scope: String,
    /// For `credential`: the key.
    pub credential_id: Option<String>,
}

/// The authorization server.
#[derive(Debug)]
pub struct AuthorizationServer {
    store: Arc<dyn Store>,
    auth: Arc<Auth>,
    activation: Arc<ActivationService>,
    recorder: Recorder,
    clock: Arc<dyn Clock>,
}

/// The refusal of a grant (RFC 6749 section 5.2 `invalid_grant`), nothing more said.
fn invalid_grant() -> AuthError {
    AuthError::BadRequest("invalid_grant: the code is not valid for this client".into())
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
            store,
            auth,
            activation,
            recorder,
            clock,
        }
    }

    /// Checks and stores an authorization request: first the client and its redirect URI
    /// (refused here), then everything else (refused back to the client).
    pub async fn begin(&self, params: &AuthorizeParams) -> Result<OAuthRequestRecord, Refusal> {
        let client_id = params
            .required("client_id")
            .map_err(|e| Refusal::Here(e.clone()))?;
        let client = match self.store.oauth_client(client_id).await {
            Ok(Some(client)) if client.revoked_at.is_none() => client,
            Ok(_) => return Err(Refusal::Here("unknown client_id".into())),
            Err(e) => return Err(Refusal::Here(AuthError::from(e).to_string())),
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
        let back = |error: &str, description: &str| Refusal::Back {
            to: redirect_with(
                redirect_uri,
                &[
                    ("error", Some(error)),
                    ("error_description", Some(description)),
                    ("state", state),
                ],
            ),
        };
        let invalid = |e: String| back("invalid_request", &e);
        if params.get("request_uri").is_some() {
            return Err(back(
                "invalid_request",
                "request_uri (pushed requests) is not supported yet",
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
                .map_err(|e| Refusal::Here(e.to_string()))?,
            created_at: now,
            expires_at: now.saturating_add(REQUEST_MILLIS),
            account_id: None,
            session_id: None,
            decision: None,
            decided_at: None,
            code_hash: None,
            code_expires_at: None,
            exchanged_at: None,
        };
        self.store
            .insert_oauth_request(&record)
            .await
            .map_err(|e| Refusal::Here(AuthError::from(e).to_string()))?;
        Ok(record)
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

    /// The key a `credential` request names, if `person` may sign with it.
    pub async fn key_for(
        &self,
        person: &Caller,
        credential: &CredentialAuthorization,
    ) -> Result<KeyRecord, AuthError> {
        let not_yours =
            || AuthError::Forbidden("this credential is not one you may sign with".into());
        let id = KeyId::parse(&credential.credential_id).map_err(|_| not_yours())?;
        let key = self.store.get_key(&id).await?.ok_or_else(not_yours)?;
        crate::auth::access::authorize_key(person, &key, crate::auth::Operation::Sign)
            .map_err(|_| not_yours())?;
        Ok(key)
    }

    /// The person approves: for `credential`, with the key's PIN and a one-time password
    /// (checked and logged by the activation module); returns where the browser goes next,
    /// with the code.
    pub async fn approve(
        &self,
        person: &Caller,
        id: &str,
        factors: Option<(SecretString, &str)>,
    ) -> Result<String, AuthError> {
        let pending = self.pending(id).await?;
        if let Some(credential) = &pending.credential {
            let key = self.key_for(person, credential).await?;
            let (pin, otp) = factors.ok_or_else(|| {
                AuthError::BadRequest("the PIN and the one-time password are required".into())
            })?;
            let request = credential.signature_request()?;
            self.activation
                .approve_on_page(
                    person,
                    &key,
                    &request,
                    (pin, otp),
                    &sad_id(id),
                    &pending.client.id,
                )
                .await?;
        }
        let code = format!("inkan_code_{}", random_secret(32));
        let now = self.clock.now();
        let code_hash = secret_hash(&code);
        let decision = OAuthDecision {
            account_id: &person.id,
            session_id: &person.session,
            code: Some((&code_hash, now.saturating_add(CODE_MILLIS))),
            at: now,
        };
        if !self.store.decide_oauth_request(id, &decision).await? {
            return Err(AuthError::Conflict(
                "this request was decided already".into(),
            ));
        }
        let event = Event::new(EntryKind::TokenIssued, person.actor()).note(format!(
            "authorization code for OAuth2 client {} ({}, request {id})",
            pending.client.id, pending.request.scope
        ));
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(redirect_with(
            &pending.request.redirect_uri,
            &[
                ("code", Some(&code)),
                ("state", pending.request.state.as_deref()),
            ],
        ))
    }

    /// The person declines: the client hears `access_denied`.
    pub async fn deny(&self, person: &Caller, id: &str) -> Result<String, AuthError> {
        let pending = self.pending(id).await?;
        let decision = OAuthDecision {
            account_id: &person.id,
            session_id: &person.session,
            code: None,
            at: self.clock.now(),
        };
        if !self.store.decide_oauth_request(id, &decision).await? {
            return Err(AuthError::Conflict(
                "this request was decided already".into(),
            ));
        }
        let event = Event::new(EntryKind::TokenIssued, person.actor()).note(format!(
            "declined OAuth2 client {} (request {id})",
            pending.client.id
        ));
        self.recorder
            .record(event, Outcome::Failed("declined by the person".into()))
            .await?;
        Ok(redirect_with(
            &pending.request.redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("state", pending.request.state.as_deref()),
            ],
        ))
    }

    /// `POST /oauth2/token` with `grant_type=authorization_code`: the code, its client, its
    /// redirect URI and PKCE verifier, and a DPoP proof whose key the tokens are bound to.
    pub async fn exchange(
        &self,
        grant: &CodeExchange<'_>,
        creds: &RequestCredentials<'_>,
    ) -> Result<Exchanged, AuthError> {
        let proof = self.auth.dpop_proof(creds).await?;
        if grant.code.len() > 128 {
            return Err(invalid_grant());
        }
        let code_hash = secret_hash(grant.code);
        let request = self
            .store
            .oauth_request_by_code(&code_hash)
            .await?
            .ok_or_else(invalid_grant)?;
        let now = self.clock.now();
        let verifier_ok = (43..=128).contains(&grant.code_verifier.len())
            && URL_SAFE_NO_PAD.encode(Sha256::digest(grant.code_verifier.as_bytes()))
                == request.code_challenge;
        let refusal = if request.client_id != grant.client_id {
            Some("another client's code")
        } else if request.redirect_uri != grant.redirect_uri {
            Some("redirect_uri differs from the request's")
        } else if !verifier_ok {
            Some("PKCE code_verifier does not match")
        } else if request.exchanged_at.is_some() {
            Some("code used before")
        } else if request.code_expires_at.is_none_or(|end| now >= end) {
            Some("code expired")
        } else {
            None
        };
        let account_id = request.account_id.clone().unwrap_or_default();
        let person = self.person(&account_id).await?;
        if let Some(reason) = refusal {
            let actor = person
                .as_ref()
                .map_or_else(|| client_actor(grant.client_id), Caller::actor);
            let event = Event::new(EntryKind::TokenIssued, actor)
                .note(format!("OAuth2 code of request {}", request.id));
            self.recorder
                .record(event, Outcome::Failed(reason.into()))
                .await?;
            return Err(invalid_grant());
        }
        let person = person.ok_or_else(invalid_grant)?;
        let credential = request
            .credential
            .as_deref()
            .map(serde_json::from_str::<CredentialAuthorization>)
            .transpose()
            .map_err(|e| AuthError::Internal(format!("request {}: {e}", request.id)))?;
        let (method, sad_ends) = match &credential {
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
            .granted_session(&person, &proof.jkt, method, credential.is_none(), sad_ends);
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
                    disclosure_digest: None,
                })
            }
        };
        let session_id = session.id.clone();
        let grant_record = OAuthGrant {
            session,
            tokens,
            sad,
        };
        if !self
            .store
            .exchange_oauth_code(&code_hash, now, &grant_record)
            .await?
        {
            return Err(invalid_grant());
        }
        let mut actor = person.actor();
        actor.auth.session = Some(session_id);
        let event = Event::new(EntryKind::TokenIssued, actor).note(format!(
            "OAuth2 {} token for client {} (request {})",
            request.scope, request.client_id, request.id
        ));
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(Exchanged {
            tokens: response,
            scope: request.scope,
            credential_id: credential.map(|c| c.credential_id),
        })
    }

    /// The person who approved, as a caller, if their account is still active.
    async fn person(&self, account_id: &str) -> Result<Option<Caller>, AuthError> {
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
