//! Errors at the HTTP edge: every refusal becomes a status and a JSON body in the shape CSC and
//! OAuth share (`{"error": …, "error_description": …}`). The W3C VC API routes add the members
//! of an RFC 9457 problem details object to it (`type`, `title`, `detail`, `status`, and the
//! VCDM 2.0 §7.2 `code`), so one body serves both kinds of client.
//!
//! Outside errors (bad input, failed authentication, refused access) say what was wrong;
//! inside errors (store, log, device) become a generic 500 whose detail goes to the log only,
//! under a reference the caller can quote. Must never put a secret or an internal detail in a
//! response.

use crate::auth::AuthError;
use crate::keys::KeyError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A refusal or failure, ready to become a response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: String,
    retry_after: Option<u64>,
    /// Set for 401s of token-protected resources (RFC 9449 section 7.1).
    challenge: Option<&'static str>,
    /// Problem details members (RFC 9457), for the VC API routes.
    problem: Option<Problem>,
}

/// The problem details of a refusal (RFC 9457; VCDM 2.0 §7.2 for data model refusals).
#[derive(Debug, Clone, Copy)]
struct Problem {
    type_url: &'static str,
    title: &'static str,
    code: Option<i32>,
}

impl ApiError {
    /// A 400 with this description.
    pub fn bad_request(description: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            description: description.into(),
            retry_after: None,
            challenge: None,
            problem: None,
        }
    }

    /// A 404 with this description.
    pub fn not_found(description: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            description: description.into(),
            retry_after: None,
            challenge: None,
            problem: None,
        }
    }

    /// A refusal with any status and `error` code (a front end's 413, 502 and 504).
    pub fn with_status(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            description: description.into(),
            retry_after: None,
            challenge: None,
            problem: None,
        }
    }

    /// A 503 with `Retry-After: 1`: a bound on concurrent CPU-heavy work is full.
    pub fn busy(description: impl Into<String>) -> Self {
        ApiError::unavailable(description, 1)
    }

    /// A 503 with `Retry-After: retry_after` (seconds): the service cannot serve now.
    pub fn unavailable(description: impl Into<String>, retry_after: u64) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: description.into(),
            retry_after: Some(retry_after),
            challenge: None,
            problem: None,
        }
    }

    /// A failure inside: a 503 with `Retry-After` when the store could not be reached or could
    /// not write (`unavailable`: a retry shortly may succeed), else a 500. The detail is
    /// logged, not returned. Nothing was returned, but something may have been spent or made
    /// before the store went (a SAD used up, a signature whose result entry could not be
    /// written), and the answer says so.
    pub fn failed(detail: &dyn std::fmt::Display, unavailable: bool) -> Self {
        if unavailable {
            tracing::warn!(error = %detail, "request refused: the store is unavailable");
            return ApiError::unavailable(
                "the service cannot record anything right now; try again shortly. A signature \
                 activation (SAD) sent with this request may have been used up: authorize \
                 again; GET /v1/signatures?digest= tells whether a signature was made",
                crate::health::RETRY_AFTER_SECONDS,
            );
        }
        ApiError::internal(detail)
    }

    /// A 500 whose detail is logged, not returned.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        let reference = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(reference = %reference, error = %detail, "request failed inside");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server_error",
            description: format!("the request failed inside the service (reference {reference})"),
            retry_after: None,
            challenge: None,
            problem: None,
        }
    }

    /// A 400 for a document that breaks a VC Data Model rule: the property's path and the
    /// rule, with the VCDM 2.0 §7.2 problem type.
    pub fn data_model(e: &inkan_formats::vcdm::VcdmError) -> Self {
        let mut error = ApiError::bad_request(e.to_string());
        error.problem = Some(Problem {
            type_url: e.problem.type_url(),
            title: e.problem.title(),
            code: Some(e.problem.code()),
        });
        error
    }

    /// The same refusal with problem details members (RFC 9457, `type` `about:blank` unless a
    /// more precise one is set), for the VC API routes. Internal failures stay generic.
    pub fn with_problem_details(mut self) -> Self {
        if self.problem.is_none() && self.status.is_client_error() {
            self.problem = Some(Problem {
                type_url: "about:blank",
                title: self.status.canonical_reason().unwrap_or("Refused"),
                code: None,
            });
        }
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let (status, code) = match &e {
            AuthError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AuthError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "authentication_error"),
            AuthError::Unauthenticated(m) if m.starts_with("invalid_client") => {
                (StatusCode::UNAUTHORIZED, "invalid_client")
            }
            AuthError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            AuthError::Forbidden(_) => (StatusCode::FORBIDDEN, "access_denied"),
            AuthError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AuthError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AuthError::TooManyAttempts { retry_after } => {
                return ApiError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    code: "too_many_requests",
                    description: e.to_string(),
                    retry_after: Some(*retry_after),
                    challenge: None,
                    problem: None,
                };
            }
            // The service's bound on concurrent hashing, not this caller's fault: 503, and
            // the caller may retry in a second (SECURITY.md).
            AuthError::Busy(_) => {
                return ApiError::busy(e.to_string());
            }
            AuthError::Key(KeyError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
            AuthError::Key(KeyError::WrongEnvironment { .. } | KeyError::WrongState { .. }) => {
                (StatusCode::CONFLICT, "conflict")
            }
            AuthError::Key(KeyError::InvalidInput(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            AuthError::Store(store) => {
                return ApiError::failed(&e, store.is_unavailable());
            }
            AuthError::Log(log) => {
                return ApiError::failed(&e, log.is_unavailable());
            }
            AuthError::Key(_) | AuthError::Internal(_) => {
                return ApiError::internal(&e);
            }
        };
        let challenge = (code == "invalid_token")
            .then_some("DPoP algs=\"ES256 ES384 EdDSA PS256 RS256\", error=\"invalid_token\"");
        ApiError {
            status,
            code,
            description: e.to_string(),
            retry_after: None,
            challenge,
            problem: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::info!(status = self.status.as_u16(), error = self.code, description = %self.description, "request refused");
        }
        let mut body = json!({"error": self.code, "error_description": self.description});
        if let Some(problem) = self.problem {
            body["type"] = problem.type_url.into();
            body["title"] = problem.title.into();
            body["detail"] = self.description.clone().into();
            body["status"] = self.status.as_u16().into();
            if let Some(code) = problem.code {
                body["code"] = code.into();
            }
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
