//! Operations routes (criteria 2.1.3(12), (14), 2.3.3): dual-control requests and approvals,
//! the operator list, terminal revocation. Every route needs an operator whose role allows
//! it; the rules are `operations` and `auth::operators`'.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, JsonBody};
use crate::auth::AuthError;
use crate::operations::{Action, ApprovalRequest, RequestState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::IntoParams;

/// Asks for an action under dual control (`key.destroy`, `operator.role`,
/// `operator.terminal`, `subscriber.terminate`); it runs once M other operators approve.
#[utoipa::path(post, path = "/v1/approvals", tag = "operators",
    request_body(content = Object, description = "The action: {\"action\": \"key.destroy\", \"key\": …, \"reason\": …}"),
    responses((status = 201, description = "The request (pending, or executed when no approval is needed)"),
        (status = 403, description = "The role may not ask for this")))]
pub async fn request(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(action): JsonBody<Action>,
) -> Result<(StatusCode, Json<ApprovalRequest>), ApiError> {
    let request = state.operations.request(&caller, action).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

/// Approves a request; the approval that completes the count carries the action out.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "operators",
    params(("id" = String, Path, description = "apr_…")),
    responses((status = 200, description = "The request after this approval"),
        (status = 403, description = "Own request, or the role may not do the action"),
        (status = 409, description = "Not pending, expired, or approved by this operator already")))]
pub async fn approve(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRequest>, ApiError> {
    Ok(Json(state.operations.approve(&caller, &id).await?))
}

/// One request.
#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "operators",
    params(("id" = String, Path, description = "apr_…")),
    responses((status = 200, description = "The request"), (status = 404, description = "No such request")))]
pub async fn get_request(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRequest>, ApiError> {
    Ok(Json(state.operations.get(&caller, &id).await?))
}

/// Which requests to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending`, `approved`, `executed`, `failed` or `expired`; all when absent.
    #[param(value_type = Option<String>)]
    pub state: Option<RequestState>,
}

/// Requests, oldest first (at most 500).
#[utoipa::path(get, path = "/v1/approvals", tag = "operators", params(ListQuery),
    responses((status = 200, description = "The requests")))]
pub async fn list_requests(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ApprovalRequest>>, ApiError> {
    Ok(Json(state.operations.list(&caller, query.state).await?))
}

/// Operators, their roles and terminals (the read is logged).
#[utoipa::path(get, path = "/v1/operators", tag = "operators",
    responses((status = 200, description = "The operators")))]
pub async fn list_operators(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Value>, ApiError> {
    let operators = state.auth.operators(&caller).await?;
    let body: Vec<Value> = operators
        .into_iter()
        .map(|op| {
            json!({
                "account_id": op.account_id,
                "username": op.username,
                "state": op.state.as_str(),
                "role": op.role.map(|r| r.as_str()),
                "terminals": op.terminals.iter().map(|t| json!({
                    "thumbprint": t.thumbprint,
                    "name": t.name,
                    "registered_at": t.registered_at,
                    "registered_by": t.registered_by,
                    "revoked_at": t.revoked_at,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(Value::Array(body)))
}

/// Revokes an operator's terminal (an admin's action; it only takes access away, so it needs
/// no second approval).
#[utoipa::path(delete, path = "/v1/terminals/{thumbprint}", tag = "operators",
    params(("thumbprint" = String, Path, description = "The certificate's x5t#S256")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such active terminal")))]
pub async fn revoke_terminal(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(thumbprint): Path<String>,
) -> Result<StatusCode, ApiError> {
    if thumbprint.len() > 64 {
        return Err(AuthError::NotFound("no such terminal".into()).into());
    }
    state.auth.revoke_terminal(&caller, &thumbprint).await?;
    Ok(StatusCode::NO_CONTENT)
}
