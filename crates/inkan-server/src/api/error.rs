//! Errors at the HTTP edge: every refusal becomes a status and a JSON body in the shape CSC and
//! OAuth share (`{"error": …, "error_description": …}`).
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
        }
    }

    /// A 503 with `Retry-After: 1`: a bound on concurrent CPU-heavy work is full.
    pub fn busy(description: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "temporarily_unavailable",
            description: description.into(),
            retry_after: Some(1),
            challenge: None,
        }
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
        }
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
            AuthError::Store(_)
            | AuthError::Log(_)
            | AuthError::Key(_)
            | AuthError::Internal(_) => {
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
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::info!(status = self.status.as_u16(), error = self.code, description = %self.description, "request refused");
        }
        let mut response = (
            self.status,
            Json(json!({"error": self.code, "error_description": self.description})),
        )
            .into_response();
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
