//! Getting credentials and sessions (criteria 2.2.1): activation with a one-time code, CSC
//! `auth/login` (password + TOTP, or a refresh token) and `auth/revoke`, and the OAuth token
//! endpoint for system clients.
//!
//! Parses and hands over; the rules are in `auth`. Must never echo a password, code, OTP or
//! token into a response or the log.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, ClientCertificate, JsonBody, Source, credentials};
use crate::auth::TokenResponse;
use crate::auth::accounts::LoginAttempt;
use crate::auth::clients::{ClientTokenRequest, TOKEN_PATH};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use base64::Engine as _;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// Activation, step 1.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationStart {
    /// The one-time activation code.
    pub activation_code: String,
    /// The new password (at least 12 characters).
    pub password: String,
}

/// The TOTP seed to enrol in an authenticator app.
#[derive(Serialize, ToSchema)]
pub struct ActivationStarted {
    /// The seed, base32.
    pub totp_secret: String,
    /// The `otpauth://` URI (for a QR code).
    pub totp_uri: String,
}

/// Activation, step 2.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationComplete {
    /// The same activation code.
    pub activation_code: String,
    /// A current one-time password from the authenticator app.
    pub otp: String,
}

/// Starts activation: sets the password and returns the TOTP seed to enrol.
#[utoipa::path(post, path = "/v1/activation", tag = "auth", request_body = ActivationStart,
    responses((status = 200, body = ActivationStarted), (status = 400, description = "Invalid code or password")))]
pub async fn activation_start(
    State(state): State<Arc<ApiState>>,
    Source(source): Source,
    JsonBody(body): JsonBody<ActivationStart>,
) -> Result<impl IntoResponse, ApiError> {
    let code = Zeroizing::new(body.activation_code);
    let enrolment = state
        .auth
        .begin_activation(&code, SecretString::from(body.password), source)
        .await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(ActivationStarted {
            totp_secret: enrolment.secret_base32.to_string(),
            totp_uri: enrolment.uri.to_string(),
        }),
    ))
}

/// Completes activation with a first one-time password; the code is used up. An operator
/// completes it from its terminal: the connection's client certificate becomes its first
/// registered terminal.
#[utoipa::path(post, path = "/v1/activation/complete", tag = "auth", request_body = ActivationComplete,
    responses((status = 204, description = "The account is active"), (status = 400, description = "Invalid code or OTP")))]
pub async fn activation_complete(
    State(state): State<Arc<ApiState>>,
    Source(source): Source,
    ClientCertificate(terminal): ClientCertificate,
    JsonBody(body): JsonBody<ActivationComplete>,
) -> Result<StatusCode, ApiError> {
    let code = Zeroizing::new(body.activation_code);
    state
        .auth
        .complete_activation(&code, &body.otp, source, terminal.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// CSC `auth/login` body (CSC API v2 section 11.2), with the one-time password added.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginRequest {
    /// A refresh token to exchange (then no Basic credentials are needed).
    #[serde(rename = "refresh_token")]
    pub refresh_token: Option<String>,
    /// Whether to return a refresh token.
    #[serde(default)]
    pub remember_me: bool,
    /// The one-time password (TOTP), required with Basic credentials.
    pub otp: Option<String>,
    /// Free client data (CSC); ignored.
    pub client_data: Option<String>,
}

/// Tokens (CSC `auth/login` response, OAuth token response).
#[derive(Serialize, ToSchema)]
pub struct TokensBody {
    /// The access token.
    pub access_token: String,
    /// The refresh token, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `DPoP` or `Bearer` (certificate-bound).
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The granted scope (system clients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl From<TokenResponse> for TokensBody {
    fn from(t: TokenResponse) -> Self {
        TokensBody {
            access_token: t.access_token.clone(),
            refresh_token: t.refresh_token.clone(),
            token_type: t.token_type.into(),
            expires_in: t.expires_in,
            scope: t.scope.clone(),
        }
    }
}

/// The request's parts, for handlers that authenticate by themselves (login, token).
pub struct RequestParts(Parts);

impl<S: Send + Sync> FromRequestParts<S> for RequestParts {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestParts(parts.clone()))
    }
}

/// `username:password` from an `Authorization: Basic` header.
fn basic_credentials(value: &str) -> Result<(String, SecretString), ApiError> {
    let malformed = || ApiError::bad_request("the Authorization header must be Basic credentials");
    let (scheme, encoded) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("Basic") || encoded.len() > 2048 {
        return Err(malformed());
    }
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| malformed())?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| malformed())?;
    let (user, password) = text.split_once(':').ok_or_else(malformed)?;
    Ok((user.to_owned(), SecretString::from(password.to_owned())))
}

/// CSC `auth/login`: HTTP Basic username and password plus `otp`, or a `refresh_token`; a
/// DPoP proof (RFC 9449) is required and the session is bound to its key.
#[utoipa::path(post, path = "/csc/v2/auth/login", tag = "csc", request_body = LoginRequest,
    params(("DPoP" = String, Header, description = "DPoP proof for this request"),
           ("Authorization" = Option<String>, Header, description = "Basic username:password (not with refresh_token)")),
    responses((status = 200, body = TokensBody), (status = 401, description = "Authentication failed"),
              (status = 429, description = "Too many failed attempts from this source")))]
pub async fn login(
    State(state): State<Arc<ApiState>>,
    Source(source): Source,
    RequestParts(parts): RequestParts,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let creds = credentials(&parts)?;
    let tokens = match body.refresh_token {
        Some(refresh) => {
            let refresh = Zeroizing::new(refresh);
            state.auth.refresh(&refresh, &creds).await?
        }
        None => {
            let authorization = creds.authorization.ok_or_else(|| {
                ApiError::bad_request("Basic credentials or a refresh_token are required")
            })?;
            let (username, password) = basic_credentials(authorization)?;
            let otp = body.otp.ok_or_else(|| {
                ApiError::bad_request("`otp` (the one-time password) is required")
            })?;
            let creds = crate::auth::RequestCredentials {
                authorization: None,
                ..creds
            };
            let attempt = LoginAttempt {
                username: &username,
                password,
                otp: &otp,
                source,
            };
            state.auth.login(attempt, &creds, body.remember_me).await?
        }
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(TokensBody::from(tokens)),
    ))
}

/// CSC `auth/revoke` body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RevokeRequest {
    /// The token to revoke (CSC); this service ends the session of the calling token.
    pub token: Option<String>,
    /// `access_token` or `refresh_token` (CSC).
    #[serde(rename = "token_type_hint")]
    pub token_type_hint: Option<String>,
    /// Free client data (CSC); ignored.
    pub client_data: Option<String>,
}

/// CSC `auth/revoke`: ends the caller's session (logout); every token of it stops working.
#[utoipa::path(post, path = "/csc/v2/auth/revoke", tag = "csc", request_body = RevokeRequest,
    responses((status = 204, description = "The session has ended"), (status = 401, description = "Not authenticated")))]
pub async fn revoke(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    if !body.is_empty() {
        serde_json::from_slice::<RevokeRequest>(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the request body: {}",
                super::super::extract::without_values(&e.to_string())
            ))
        })?;
    }
    state.auth.logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// OAuth token endpoint for system clients (`client_credentials`): mutual TLS (the token is
/// certificate-bound, RFC 8705) or `private_key_jwt` (RFC 7523, with a DPoP proof).
#[utoipa::path(post, path = "/oauth2/token", tag = "auth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
                 description = "grant_type=client_credentials, client_id, client_assertion_type, client_assertion, scope; or grant_type=authorization_code, code, client_id, redirect_uri, code_verifier (PKCE S256) with a DPoP proof (CSC v2 oauth2/token: a scope=credential code gives a token that signHash accepts as the SAD, once, for exactly the approved hashes)"),
    responses((status = 200, body = TokensBody), (status = 401, description = "invalid_client")))]
pub async fn token(
    State(state): State<Arc<ApiState>>,
    RequestParts(parts): RequestParts,
    form: Result<axum::Form<ClientTokenRequest>, axum::extract::rejection::FormRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let axum::Form(request) = form.map_err(|e| {
        ApiError::bad_request(super::super::extract::without_values(&e.body_text()))
    })?;
    let creds = credentials(&parts)?;
    if request.grant_type == "authorization_code" {
        return Ok(authorization_code(&state, &request, &creds).await);
    }
    let tokens = state.auth.client_token(&request, &creds).await?;
    let body =
        serde_json::to_value(TokensBody::from(tokens)).map_err(|e| ApiError::internal(&e))?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The `authorization_code` grant (`crate::oauth::token`): the tokens, or the refusal as RFC
/// 6749 section 5.2 shapes it (`{"error", "error_description"}`, 400; `invalid_client` 401).
async fn authorization_code(
    state: &ApiState,
    request: &ClientTokenRequest,
    creds: &crate::auth::RequestCredentials<'_>,
) -> axum::response::Response {
    use crate::oauth::TokenError;
    let refuse = |e: TokenError| {
        let status = match e {
            TokenError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({"error": e.code(), "error_description": e.to_string()});
        (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    };
    if request.client_secret.is_some() || request.client_assertion.is_some() {
        return refuse(TokenError::InvalidClient(
            "authorization-code clients are public here: PKCE S256 and a DPoP proof, no secret \
             or assertion"
                .into(),
        ));
    }
    let missing = |name: &str| TokenError::InvalidRequest(format!("{name} is required"));
    let (Some(code), Some(client_id), Some(redirect_uri), Some(code_verifier)) = (
        request.code.as_deref(),
        request.client_id.as_deref(),
        request.redirect_uri.as_deref(),
        request.code_verifier.as_deref(),
    ) else {
        let name = [
            ("code", request.code.is_none()),
            ("client_id", request.client_id.is_none()),
            ("redirect_uri", request.redirect_uri.is_none()),
            ("code_verifier", request.code_verifier.is_none()),
        ]
        .iter()
        .find(|(_, absent)| *absent)
        .map_or("code", |(name, _)| *name);
        return refuse(missing(name));
    };
    let grant = crate::oauth::CodeExchange {
        code,
        client_id,
        redirect_uri,
        code_verifier,
    };
    match state.oauth.exchange(&grant, creds).await {
        Ok(exchanged) => {
            let mut body = match serde_json::to_value(TokensBody::from(exchanged.tokens)) {
                Ok(body) => body,
                Err(e) => return ApiError::internal(&e).into_response(),
            };
            body["scope"] = exchanged.scope.into();
            if let Some(credential) = exchanged.credential_id {
                body["credentialID"] = credential.into();
            }
            ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
        }
        Err(TokenError::Failed(e)) => ApiError::from(e).into_response(),
        Err(e) => refuse(e),
    }
}

/// Pushed authorization requests (RFC 9126): the parameters of `/oauth2/authorize` in the
/// body (up to 64 KiB, for presentations' summaries); the answer names the stored request,
/// which the client then sends the person to with only `client_id` and `request_uri`. Public
/// clients, as at the token endpoint: the request is checked as the authorization endpoint
/// checks it, and refusals are RFC 6749 errors in JSON.
#[utoipa::path(post, path = "/oauth2/par", tag = "oauth2",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "the parameters of /oauth2/authorize"),
    responses((status = 201, body = PushedRequest), (status = 400, description = "A refusal")))]
pub async fn par(
    State(state): State<Arc<ApiState>>,
    Source(source): Source,
    headers: axum::http::HeaderMap,
    body: String,
) -> axum::response::Response {
    let refuse = |status: StatusCode, error: &str, description: &str| {
        let body = serde_json::json!({"error": error, "error_description": description});
        (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    };
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let params = match crate::oauth::request::AuthorizeParams::parse_pushed(&body) {
        Ok(params) => params,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid_request", &e),
    };
    // Public clients, as at the token endpoint; request objects (RFC 9101) are not read.
    if ["client_secret", "client_assertion"]
        .iter()
        .any(|p| params.get(p).is_some())
    {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "authorization-code clients are public here: PKCE S256, no secret or assertion",
        );
    }
    if params.get("request").is_some() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "request_not_supported",
            "request objects are not supported: send the parameters themselves",
        );
    }
    match state.oauth.begin(&params, source).await {
        Ok(request) => {
            tracing::info!(request = %request.id, client = %request.client_id, %source, "an authorization request was pushed");
            (
                StatusCode::CREATED,
                [(header::CACHE_CONTROL, "no-store")],
                Json(serde_json::json!({
                    "request_uri": format!("{}{}", crate::oauth::REQUEST_URI_PREFIX, request.id),
                    "expires_in": crate::oauth::REQUEST_SECONDS,
                })),
            )
                .into_response()
        }
        Err(crate::oauth::Refusal::TooMany(description)) => refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request",
            &description,
        ),
        Err(crate::oauth::Refusal::Here(description)) if description == "unknown client_id" => {
            refuse(StatusCode::UNAUTHORIZED, "invalid_client", &description)
        }
        Err(crate::oauth::Refusal::Here(description)) => {
            refuse(StatusCode::BAD_REQUEST, "invalid_request", &description)
        }
        Err(crate::oauth::Refusal::Back {
            error, description, ..
        }) => refuse(StatusCode::BAD_REQUEST, error, &description),
        Err(crate::oauth::Refusal::Failed(e)) => {
            tracing::error!(error = %e, "a pushed authorization request failed");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the request could not be stored",
            )
        }
    }
}

/// `POST /oauth2/revoke` (RFC 7009).
#[derive(serde::Deserialize)]
pub struct OAuthRevokeRequest {
    /// The access or refresh token.
    pub token: String,
    /// `access_token` or `refresh_token`; either is looked up.
    pub token_type_hint: Option<String>,
    /// The client (public clients send it; not needed to find the token).
    pub client_id: Option<String>,
}

/// A pushed authorization request's handle (RFC 9126).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct PushedRequest {
    /// `urn:ietf:params:oauth:request_uri:…`, for `/oauth2/authorize`.
    request_uri: String,
    /// Seconds it stays valid.
    expires_in: u64,
}

/// OAuth2 token revocation (RFC 7009) for tokens of the authorization-code flow: the session
/// ends, every token of it stops working. 200 whether or not the token was known.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth2",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint, client_id"),
    responses((status = 200, description = "Revoked, or nothing to revoke")))]
pub async fn oauth_revoke(
    State(state): State<Arc<ApiState>>,
    form: Result<axum::Form<OAuthRevokeRequest>, axum::extract::rejection::FormRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let axum::Form(request) = form.map_err(|e| {
        ApiError::bad_request(super::super::extract::without_values(&e.body_text()))
    })?;
    state.auth.revoke_granted(&request.token).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], StatusCode::OK))
}

/// The authorization server's metadata (RFC 8414), for CSC clients that discover it.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oauth2",
    responses((status = 200, description = "RFC 8414 metadata", body = Object)))]
pub async fn oauth_metadata(State(state): State<Arc<ApiState>>) -> Json<serde_json::Value> {
    let base = state.auth.public_url();
    Json(serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}{TOKEN_PATH}"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "pushed_authorization_request_endpoint": format!("{base}/oauth2/par"),
        "require_pushed_authorization_requests": false,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["service", "credential"],
        "authorization_details_types_supported": ["credential"],
        "authorization_response_iss_parameter_supported": true,
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt", "tls_client_auth"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "dpop_signing_alg_values_supported": ["ES256", "ES384", "EdDSA", "RS256", "PS256"],
        "ui_locales_supported": ["en", "ja"],
    }))
}

crate::api::redacted_debug!(OAuthRevokeRequest);
crate::api::redacted_debug!(ActivationComplete);
crate::api::redacted_debug!(ActivationStart);
crate::api::redacted_debug!(ActivationStarted);
crate::api::redacted_debug!(LoginRequest);
crate::api::redacted_debug!(RequestParts);
crate::api::redacted_debug!(RevokeRequest);
crate::api::redacted_debug!(TokensBody);
