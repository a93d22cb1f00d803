//! Operator routes: subscribers, their users and system clients, session revocation,
//! unlocking and new activation codes (criteria 2.2.1(1), 2.2.1(4)). Every route needs an
//! operator session; every change is logged by `auth`. The full enrolment workflow (identity
//! proofing, dual control) comes with the operations issue.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, JsonBody};
use crate::auth::Scope;
use crate::auth::accounts::NewAccount;
use crate::operations::{Action, ApprovalRequest};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_store::auth::{SubscriberKind, SubscriberRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// A new subscriber.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscriber {
    /// `issuer` or `holder`.
    #[schema(value_type = String, example = "issuer")]
    pub kind: SubscriberKind,
    /// Display name.
    pub name: String,
}

/// A subscriber.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberBody {
    /// `sub_…`.
    pub id: String,
    /// `issuer` or `holder`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// `active` or `terminated`.
    pub state: String,
    /// The environment it belongs to.
    pub environment: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<SubscriberRecord> for SubscriberBody {
    fn from(s: SubscriberRecord) -> Self {
        SubscriberBody {
            id: s.id,
            kind: s.kind.as_str().into(),
            name: s.name,
            state: s.state.as_str().into(),
            environment: s.environment,
            created_at: s.created_at,
        }
    }
}

/// Creates a subscriber.
#[utoipa::path(post, path = "/v1/subscribers", tag = "operators", request_body = NewSubscriber,
    responses((status = 201, body = SubscriberBody), (status = 403, description = "Not an operator")))]
pub async fn create_subscriber(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<NewSubscriber>,
) -> Result<(StatusCode, Json<SubscriberBody>), ApiError> {
    let subscriber = state
        .auth
        .create_subscriber(&caller, body.kind, &body.name)
        .await?;
    Ok((StatusCode::CREATED, Json(subscriber.into())))
}

/// One subscriber.
#[utoipa::path(get, path = "/v1/subscribers/{id}", tag = "operators",
    params(("id" = String, Path, description = "sub_…")),
    responses((status = 200, body = SubscriberBody), (status = 404, description = "No such subscriber")))]
pub async fn get_subscriber(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<SubscriberBody>, ApiError> {
    Ok(Json(state.auth.read_subscriber(&caller, &id).await?.into()))
}

/// A new user of a subscriber.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The login name.
    pub username: String,
}

/// A new account and its activation code, to hand to the user through a safe channel.
#[derive(Serialize, ToSchema)]
pub struct NewAccountBody {
    /// `acc_…`.
    pub account_id: String,
    /// The login name.
    pub username: String,
    /// The one-time activation code (shown only here).
    pub activation_code: String,
    /// When the code stops working (Unix milliseconds).
    pub expires_at: i64,
}

/// Creates a user account for a subscriber and returns its one-time activation code.
#[utoipa::path(post, path = "/v1/subscribers/{id}/users", tag = "operators", request_body = NewUser,
    params(("id" = String, Path, description = "sub_…")),
    responses((status = 201, body = NewAccountBody), (status = 409, description = "Username taken")))]
pub async fn create_user(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<NewAccountBody>), ApiError> {
    let account = state.auth.create_user(&caller, &id, &body.username).await?;
    Ok((StatusCode::CREATED, Json(NewAccountBody::from(&account))))
}

/// Asks for a new one-time activation code for a user account still pending activation (the
/// earlier one expired or was lost), under dual control (criteria 2.1.1(5), 2.1.3(12)): the
/// response alone holds the new code's second half, for this officer; another registration
/// officer approves the request (`POST /v1/approvals/{id}/approve`) and receives the first
/// half, and only then does the earlier code stop working.
#[utoipa::path(post, path = "/v1/accounts/{id}/activation-code", tag = "operators",
    params(("id" = String, Path, description = "acc_…")),
    responses((status = 201, body = ReissuedCode),
        (status = 403, description = "Not a registration officer, or an operator's account"),
        (status = 404, description = "No such account"),
        (status = 409, description = "The account is not pending activation")))]
pub async fn reissue_activation_code(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let (request, second_half) = state
        .operations
        .request_activation_code(&caller, &id)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({
            "request": request,
            "activation_code_second_half": second_half.as_str(),
        })),
    ))
}

/// A reissued activation code's request, and the code's second half for this officer.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json! by `reissue_activation_code`; this is its documented shape
pub struct ReissuedCode {
    request: crate::operations::ApprovalRequest,
    /// Shown only here.
    activation_code_second_half: String,
}

impl std::fmt::Debug for ReissuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReissuedCode([redacted])")
    }
}

impl From<&NewAccount> for NewAccountBody {
    fn from(account: &NewAccount) -> Self {
        NewAccountBody {
            account_id: account.account_id.clone(),
            username: account.username.clone(),
            activation_code: account.activation_code.to_string(),
            expires_at: account.expires_at,
        }
    }
}

/// A new system client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// Display name.
    pub name: String,
    /// For mutual TLS: the client's certificate (PEM).
    pub certificate_pem: Option<String>,
    /// For `private_key_jwt`: the client's public JWK.
    #[schema(value_type = Option<Object>)]
    pub jwk: Option<serde_json::Value>,
    /// The keys and operations it may be granted.
    #[schema(value_type = Object)]
    pub scope: Scope,
}

/// Asks to register a system client of an issuer organisation: a dual-control request
/// (`client.register`, criteria 2.1.3(12), 2.2.3(2)B-1). The client exists once M other
/// operators approve and a user of the organisation consents (`POST
/// /v1/approvals/{id}/consent`); the executed request's `result` names it.
#[utoipa::path(post, path = "/v1/subscribers/{id}/clients", tag = "operators", request_body = NewClient,
    params(("id" = String, Path, description = "sub_…")),
    responses((status = 202, description = "The request, pending approvals and the subscriber's consent", body = crate::operations::ApprovalRequest),
        (status = 400, description = "Invalid credential or scope")))]
pub async fn register_client(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewClient>,
) -> Result<(StatusCode, Json<ApprovalRequest>), ApiError> {
    let action = Action::RegisterClient {
        subscriber: id,
        name: body.name,
        certificate_pem: body.certificate_pem,
        jwk: body.jwk,
        scope: body.scope,
    };
    let request = state.operations.request(&caller, action).await?;
    Ok((StatusCode::ACCEPTED, Json(request)))
}

/// How many sessions were revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedBody {
    /// The count.
    pub revoked: u64,
}

/// Revokes every session of a subscriber's users and clients.
#[utoipa::path(post, path = "/v1/subscribers/{id}/sessions/revoke", tag = "operators",
    params(("id" = String, Path, description = "sub_…")),
    responses((status = 200, body = RevokedBody)))]
pub async fn revoke_sessions(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<RevokedBody>, ApiError> {
    let revoked = state.auth.revoke_subscriber_sessions(&caller, &id).await?;
    Ok(Json(RevokedBody { revoked }))
}

/// Clears an account's lock.
#[utoipa::path(post, path = "/v1/accounts/{id}/unlock", tag = "operators",
    params(("id" = String, Path, description = "acc_…")),
    responses((status = 204, description = "Unlocked")))]
pub async fn unlock(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.auth.unlock(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

crate::api::redacted_debug!(NewAccountBody);
