//! Operations routes (criteria 2.1.1, 2.1.3(12), (14), 2.3.3): enrolment applications,
//! dual-control requests and approvals, the operator list, terminal revocation. Every route needs an operator whose role allows
//! it; the rules are `operations` and `auth::operators`'.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, JsonBody};
use crate::auth::AuthError;
use crate::operations::enrolment::{Application, ApplicationState, NewApplication, ProofingMethod};
use crate::operations::{Action, ApprovalRequest, RequestState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::IntoParams;

/// Asks for an action under dual control (`key.destroy`, `operator.role`,
/// `operator.terminal`, `subscriber.terminate`, `client.register`, `key.status_source`,
/// `issuer.bind`, and the host actions); it runs once M other operators approve (and, for
/// `client.register`, a user of the subscriber consents).
#[utoipa::path(post, path = "/v1/approvals", tag = "operators",
    request_body(content = Action, description = "The action: {\"action\": \"key.destroy\", \"key\": …, \"reason\": …}"),
    responses((status = 201, description = "The request (pending, or executed when no approval is needed)", body = ApprovalRequest),
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
    responses((status = 200, description = "The request after this approval (with `activation_code_first_half` for an activation code's reissue, to this officer only)", body = ApprovedRequest),
        (status = 403, description = "Own request, or the role may not do the action"),
        (status = 409, description = "Not pending, expired, or approved by this operator already")))]
pub async fn approve(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let approved = state.operations.approve_and_hand_over(&caller, &id).await?;
    Ok(match approved.activation_code_first_half {
        // Only the approving officer sees it, only here (criteria 2.1.1(5)).
        Some(half) => {
            let mut body = serde_json::to_value(&approved.request)
                .map_err(|e| AuthError::Internal(e.to_string()))?;
            body["activation_code_first_half"] = Value::String(half.to_string());
            (
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(body),
            )
                .into_response()
        }
        None => Json(approved.request).into_response(),
    })
}

/// Gives the subscriber's consent to a request that grants standing signing power with its
/// keys (`client.register`, criteria 2.2.3(2)B-1): a user of that subscriber, over their own
/// session. With the operators' approvals in, the action is carried out.
#[utoipa::path(post, path = "/v1/approvals/{id}/consent", tag = "operators",
    params(("id" = String, Path, description = "apr_…")),
    responses((status = 200, description = "The request after this consent", body = ApprovalRequest),
        (status = 403, description = "Not a user of the subscriber, or the action takes no consent"),
        (status = 409, description = "Not pending, expired, or consented to already")))]
pub async fn consent(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRequest>, ApiError> {
    Ok(Json(state.operations.consent(&caller, &id).await?))
}

/// One request.
#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "operators",
    params(("id" = String, Path, description = "apr_…")),
    responses((status = 200, description = "The request", body = ApprovalRequest), (status = 404, description = "No such request")))]
pub async fn get_request(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRequest>, ApiError> {
    Ok(Json(state.operations.get(&caller, &id).await?))
}

/// Which requests to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending`, `approved`, `executed`, `failed` or `expired`; all when absent.
    #[param(value_type = Option<String>)]
    pub state: Option<RequestState>,
}

/// Requests, oldest first (at most 500).
#[utoipa::path(get, path = "/v1/approvals", tag = "operators", params(ListQuery),
    responses((status = 200, description = "The requests", body = Vec<ApprovalRequest>)))]
pub async fn list_requests(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ApprovalRequest>>, ApiError> {
    Ok(Json(state.operations.list(&caller, query.state).await?))
}

/// Operators, their roles and terminals (the read is logged).
#[utoipa::path(get, path = "/v1/operators", tag = "operators",
    responses((status = 200, description = "The operators", body = Vec<OperatorView>)))]
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

/// Records an application for use of the service (a registration officer's action); the
/// response alone holds the second half of the new user's activation code, for the recording
/// officer to hand to the applicant (the approving officer receives the first half).
#[utoipa::path(post, path = "/v1/applications", tag = "operators",
    request_body = NewApplication,
    responses((status = 201, description = "The application, pending, with the second half of the user's activation code", body = RecordedApplication)))]
pub async fn apply(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<NewApplication>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let recorded = state.operations.apply(&caller, body).await?;
    let mut body = serde_json::to_value(&recorded.application)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    body["activation_code_second_half"] =
        Value::String(recorded.activation_code_second_half.to_string());
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(body),
    ))
}

/// Which applications to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplicationsQuery {
    /// `pending`, `approving`, `approved`, `rejected` or `failed`; all when absent.
    #[param(value_type = Option<String>)]
    pub state: Option<ApplicationState>,
}

/// Applications, oldest first (at most 500; the read is logged).
#[utoipa::path(get, path = "/v1/applications", tag = "operators", params(ApplicationsQuery),
    responses((status = 200, description = "The applications", body = Vec<Application>)))]
pub async fn list_applications(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ApplicationsQuery>,
) -> Result<Json<Vec<Application>>, ApiError> {
    Ok(Json(
        state.operations.applications(&caller, query.state).await?,
    ))
}

/// One application (the read is logged).
#[utoipa::path(get, path = "/v1/applications/{id}", tag = "operators",
    params(("id" = String, Path, description = "app_…")),
    responses((status = 200, description = "The application", body = Application), (status = 404, description = "No such application")))]
pub async fn get_application(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(state.operations.application(&caller, &id).await?))
}

/// The identity-proofing record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofingBody {
    /// `in_person`, `jpki`, `ekyc`, `corporate_registry` or `documents_and_mail`.
    pub method: ProofingMethod,
    /// Where the evidence is kept.
    pub evidence_reference: String,
}

/// Records how the applicant's identity was checked (the caller is the checking officer).
#[utoipa::path(put, path = "/v1/applications/{id}/identity-proofing", tag = "operators",
    params(("id" = String, Path, description = "app_…")),
    request_body = ProofingBody,
    responses((status = 200, description = "The application", body = Application)))]
pub async fn record_proofing(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ProofingBody>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(
        state
            .operations
            .record_proofing(&caller, &id, body.method, &body.evidence_reference)
            .await?,
    ))
}

/// The mandate record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MandateBody {
    /// Who grants it.
    pub mandator: String,
    /// Where the letter of mandate is kept.
    pub document_reference: String,
    /// Until when it holds (Unix milliseconds), if limited.
    pub valid_until: Option<i64>,
}

/// Records the applicant's mandate to act for the subscriber.
#[utoipa::path(put, path = "/v1/applications/{id}/mandate", tag = "operators",
    params(("id" = String, Path, description = "app_…")),
    request_body = MandateBody,
    responses((status = 200, description = "The application", body = Application)))]
pub async fn record_mandate(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<MandateBody>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(
        state
            .operations
            .record_mandate(
                &caller,
                &id,
                &body.mandator,
                &body.document_reference,
                body.valid_until,
            )
            .await?,
    ))
}

/// Approves an application (an officer who neither recorded it nor checked the identity):
/// the subscriber, the user's account and the keys are created; the first half of the
/// activation code is shown only in this response (the recording officer received the second).
#[utoipa::path(post, path = "/v1/applications/{id}/approve", tag = "operators",
    params(("id" = String, Path, description = "app_…")),
    responses((status = 200, description = "The application and the first half of the user's one-time activation code", body = ApprovedApplication),
        (status = 403, description = "The recorder or checker may not approve"),
        (status = 409, description = "Not pending, or a required record is missing")))]
pub async fn approve_application(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let approval = state.operations.approve_application(&caller, &id).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "application": approval.application,
            "activation_code_first_half": approval.activation_code_first_half.as_ref().map(|c| c.as_str()),
            "expires_at": approval.code_expires_at,
        })),
    ))
}

/// A recorded application, and the second half of the new user's activation code (shown only
/// in this answer).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built as a map by `apply`; this is its documented shape
pub struct RecordedApplication {
    #[serde(flatten)]
    application: Application,
    activation_code_second_half: String,
}

/// A request after an approval; for an activation code's reissue, the code's first half for
/// the approving officer only.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built as a map by `approve`; this is its documented shape
pub struct ApprovedRequest {
    #[serde(flatten)]
    request: ApprovalRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    activation_code_first_half: Option<String>,
}

impl std::fmt::Debug for RecordedApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordedApplication([redacted])")
    }
}

impl std::fmt::Debug for ApprovedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApprovedRequest([redacted])")
    }
}

/// An operator as `GET /v1/operators` shows them.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct OperatorView {
    account_id: String,
    username: String,
    state: String,
    /// `admin`, `ra_officer`, `key_officer` or `auditor`.
    role: Option<String>,
    terminals: Vec<TerminalView>,
}

/// An operator's registered terminal.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct TerminalView {
    /// SHA-256 of its client certificate.
    thumbprint: String,
    name: String,
    /// Unix milliseconds.
    registered_at: i64,
    registered_by: String,
    revoked_at: Option<i64>,
}

/// The answer to an application's approval.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json! by `approve_application`; this is its documented shape
pub struct ApprovedApplication {
    application: Application,
    /// The first half of the new user's one-time activation code, shown only here.
    activation_code_first_half: Option<String>,
    /// When the code expires (Unix milliseconds).
    expires_at: Option<i64>,
}

impl std::fmt::Debug for ApprovedApplication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApprovedApplication([redacted])")
    }
}

/// Why an application is rejected.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// The reason.
    pub reason: String,
}

/// Rejects a pending application.
#[utoipa::path(post, path = "/v1/applications/{id}/reject", tag = "operators",
    params(("id" = String, Path, description = "app_…")),
    request_body = RejectBody,
    responses((status = 200, description = "The application, rejected", body = Application)))]
pub async fn reject_application(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RejectBody>,
) -> Result<Json<Application>, ApiError> {
    Ok(Json(
        state.operations.reject(&caller, &id, &body.reason).await?,
    ))
}
