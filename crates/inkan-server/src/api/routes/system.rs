//! Health, readiness, metrics and the OpenAPI document: the routes an operator's
//! infrastructure calls. No authentication; nothing here reveals a subscriber's data.

use super::super::ApiState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use std::sync::Arc;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "The process is alive")))]
pub async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store answers (and so the log can be written).
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, description = "Ready to serve"), (status = 503, description = "The store does not answer")))]
pub async fn ready(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    match state.service.store.log_head().await {
        Ok(head) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "log_size": head.size})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: the store does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable"})),
            )
        }
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document")))]
pub async fn openapi() -> impl IntoResponse {
    Json(super::super::openapi::document())
}
