//! Health, readiness, metrics and the OpenAPI document: the routes an operator's
//! infrastructure calls. No authentication; nothing here reveals a subscriber's data.
//!
//! On the public listener `/health` and `/ready` say only whether the service is up; the
//! details (`/metrics`, `/ready` with the log's size) are served only by the operators'
//! listener, [`crate::api::operator_router`] on `[server] metrics_listen` (criteria
//! 2.1.3(6)).

use super::super::ApiState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;
use std::sync::Arc;

/// `/health` and `/ready`: `ok`, `ready` or `unavailable`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct Status {
    status: String,
}

/// The key backup conditions (criteria 2.2.2(4)).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct BackupPolicy {
    keys_backed_up: bool,
    /// `soft` or `pkcs11`.
    device: String,
    /// The conditions, in words.
    conditions: Vec<String>,
    environment: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "The process is alive", body = Status)))]
pub async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness: the store commits a write (and so the log can be written) and the crypto device
/// holds the log key, as their background probes last found (answered at once, never waiting
/// for either). Only the status.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, description = "Ready to serve", body = Status), (status = 503, description = "The store cannot write or the device does not answer", body = Status)))]
pub async fn ready(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    match readiness(&state) {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Err(()) => unavailable(),
    }
}

/// Readiness with its details, for the operators' listener only.
pub async fn ready_details(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    let head = async {
        readiness(&state)?;
        let read = state.service.store.log_head();
        match tokio::time::timeout(std::time::Duration::from_secs(1), read).await {
            Ok(Ok(head)) => Ok(head.size),
            _ => Err(()),
        }
    };
    match head.await {
        Ok(size) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "log_size": size})),
        )
            .into_response(),
        Err(()) => unavailable(),
    }
}

/// Whether the store writes and the device holds the log key, as their background probes last
/// found (a request never waits for the store or the device here); what failed is logged.
fn readiness(state: &ApiState) -> Result<(), ()> {
    if !state.store_probe.up() {
        tracing::warn!("readiness check: the store does not commit writes");
        return Err(());
    }
    if !state.device_probe.up() {
        tracing::warn!("readiness check: the crypto device does not answer for the log key");
        return Err(());
    }
    Ok(())
}

/// Not ready: 503, and when to ask again.
fn unavailable() -> axum::response::Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(
            header::RETRY_AFTER,
            crate::health::RETRY_AFTER_SECONDS.to_string(),
        )],
        Json(json!({"status": "unavailable"})),
    )
        .into_response()
}

/// Prometheus metrics (text exposition format), for the operators' listener only; the shared
/// gauges (log, checkpoint, delivery backlog, device) read first.
pub async fn metrics(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    crate::telemetry::refresh(&state).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    Json(super::super::openapi::document())
}

/// The conditions under which subscribers' keys are backed up (criteria 2.2.2(4), note):
/// whether they are, how a backup is protected, and who can restore it.
#[utoipa::path(get, path = "/v1/policies/key-backup", tag = "system",
    responses((status = 200, description = "The key backup conditions", body = BackupPolicy)))]
pub async fn key_backup_policy(State(state): State<Arc<ApiState>>) -> impl IntoResponse {
    let kind = state.service.device.kind();
    let how = match kind {
        inkan_device::DeviceKind::Soft => {
            "Keys are backed up still sealed under the software token's key-encryption key."
        }
        inkan_device::DeviceKind::Pkcs11 => {
            "Keys leave the hardware security module only wrapped (AES key wrap) under a backup key the module's security officer marked trusted; they go back only into a module holding that key."
        }
    };
    Json(json!({
        "keys_backed_up": true,
        "device": kind.as_str(),
        "conditions": [
            "Backups are taken only when M operators other than the requester approve (dual control).",
            how,
            "The backup is sealed (AES-256-GCM) under a random key that exists only as Shamir shares held by key officers: M of N shares are needed to open it.",
            "The archive's manifest is signed by the service's transparency-log key; every backup and restore is recorded in the transparency log.",
            "A restore needs M key officers' shares, goes only into an empty deployment of the same environment, and never brings back a key the log says was destroyed after the backup was taken.",
        ],
        "environment": state.service.environment.as_str(),
    }))
}
