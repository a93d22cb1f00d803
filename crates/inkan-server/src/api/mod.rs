//! The HTTP API: TLS 1.3 transport, routes, extractors and error mapping (criteria 2.2.1,
//! 2.2.4).
//!
//! A request goes [`listener`] (TLS, client certificate, remote address) → [`router`] (limits,
//! timeout, metrics) → a route in [`routes`] → [`extract::Authenticated`] (the `auth` module's
//! token check) → the handler, which calls `auth`, the key registry, `activation` or the
//! signing module. [`server`] wires it up for `inkan serve`. Handlers parse and hand over; they hold
//! no business rules. Must never: serve plain HTTP, answer a protected route without a
//! verified caller, or put an internal error's detail in a response.

pub mod error;
pub mod extract;
pub mod forwarded;
pub mod front;
pub mod listener;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod server;
pub mod tls;

use crate::activation::ActivationService;
use crate::auth::Auth;
use crate::auth::clients::TOKEN_PATH;
use crate::service::Service;
use crate::signing::SigningModule;
use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `Debug` that names the type and shows nothing else, for bodies that carry secrets
/// (passwords, codes, tokens, PINs).
macro_rules! redacted_debug {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}
pub(crate) use redacted_debug;

/// What every handler can reach.
#[derive(Debug)]
pub struct ApiState {
    /// Store, device, log and key registry.
    pub service: Arc<Service>,
    /// Authentication.
    pub auth: Arc<Auth>,
    /// Signature activation (SAD).
    pub activation: Arc<ActivationService>,
    /// The signing module.
    pub signing: Arc<SigningModule>,
    /// What happens to signed documents after signing: retention and delivery.
    pub after: Arc<crate::delivery::PostSigning>,
    /// Dual control and the other operations procedures.
    pub operations: Arc<crate::operations::Operations>,
    /// The metrics recorder's handle, for `/metrics`.
    pub metrics: PrometheusHandle,
    /// The bound on concurrent verifications (`/credentials/verify`, `/presentations/verify`).
    pub verifying: crate::blocking::Gate,
    /// The certificates that may vouch for an issuer certificate a verified document
    /// carries (`[verify] trust_anchors`).
    pub verify_anchors: Arc<inkan_formats::trust::TrustAnchors>,
    /// The status lists kept for issuers' credentials.
    pub status_lists: Arc<crate::status_lists::StatusLists>,
    /// The CSC OAuth2 authorization server behind the pages.
    pub oauth: Arc<crate::oauth::AuthorizationServer>,
    /// Whether the device answers, as the background probe last found.
    pub device_probe: Arc<crate::health::Probe>,
    /// Whether the store writes, as the background probe last found.
    pub store_probe: Arc<crate::health::Probe>,
}

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest body, bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub timeout: Duration,
}

/// The application: every route, with the body limit, the timeout and request metrics.
pub fn router(state: Arc<ApiState>, limits: Limits) -> Router {
    use routes::{
        admin, auth, csc, delivery, keys, operations, present, signatures, status_lists, system, vc,
    };
    Router::new()
        .route("/health", get(system::health))
        .route("/ready", get(system::ready))
        .route("/v1/policies/key-backup", get(system::key_backup_policy))
        .route("/openapi.json", get(system::openapi))
        .route("/v1/activation", post(auth::activation_start))
        .route("/v1/activation/complete", post(auth::activation_complete))
        .route("/csc/v2/auth/login", post(auth::login))
        .route("/csc/v2/auth/revoke", post(auth::revoke))
        .route("/csc/v2/info", post(csc::info).get(csc::info))
        .route("/csc/v2/credentials/list", post(csc::credentials_list))
        .route("/csc/v2/credentials/info", post(csc::credentials_info))
        .route(
            "/csc/v2/credentials/authorize",
            post(csc::credentials_authorize),
        )
        .route("/csc/v2/signatures/signHash", post(csc::sign_hash))
        .route(
            "/v1/signature-activation/nonce",
            post(csc::activation_nonce),
        )
        .route(TOKEN_PATH, post(auth::token))
        .route("/oauth2/authorize", get(pages::authorize))
        .route("/oauth2/revoke", post(auth::oauth_revoke))
        .route("/oauth2/par", post(auth::par))
        .route(
            "/.well-known/oauth-authorization-server",
            get(auth::oauth_metadata),
        )
        .route(
            "/oauth2/consent/{id}",
            get(pages::consent_page).post(pages::decide),
        )
        .route("/oauth2/consent/{id}/sign-in", post(pages::sign_in))
        .route("/oauth2/sign-out", post(pages::sign_out))
        .route(
            "/oauth2/consent/{id}/passkey",
            post(pages::account::consent_passkey),
        )
        .route(
            "/oauth2/federation/{provider}",
            get(pages::federation::start),
        )
        .route(
            "/oauth2/federation/{provider}/callback",
            get(pages::federation::callback),
        )
        .route("/account", get(pages::account::account))
        .route("/account/sign-in", post(pages::account::account_sign_in))
        .route("/account/passkey", post(pages::account::account_passkey))
        .route("/account/passkeys", post(pages::account::add_passkey))
        .route("/account/pin", post(pages::account::change_pin))
        .route(
            "/account/passkeys/{id}/remove",
            post(pages::account::remove_passkey),
        )
        .route(pages::html::SCRIPT, get(pages::account::script))
        .route(pages::html::STYLESHEET, get(pages::stylesheet))
        .route("/docs", get(pages::docs::reference))
        .route(
            "/static/redoc.standalone.js",
            get(pages::docs::redoc_script),
        )
        .route("/credentials/issue", post(vc::issue))
        .route("/credentials/verify", post(vc::verify_credential))
        .route("/credentials/derive", post(vc::derive))
        .route("/v1/credentials/sd-jwt", post(vc::issue_sd_jwt))
        .route("/v1/credentials/mdoc", post(vc::issue_mdoc))
        .route("/presentations/verify", post(vc::verify_presentation))
        .route("/v1/holder/prepare", post(present::prepare))
        .route("/v1/holder/sign", post(present::sign))
        .route("/v1/signatures", get(signatures::by_digest))
        .route(
            "/v1/status-lists",
            post(status_lists::create).get(status_lists::list_all),
        )
        .route(
            "/v1/status-lists/by-digest",
            post(status_lists::change_by_digest),
        )
        .route("/v1/status-lists/{id}", get(status_lists::get_one))
        .route(
            "/v1/status-lists/{id}/entries/{index}",
            post(status_lists::change),
        )
        .route("/status-lists/{id}", get(status_lists::published))
        .route("/v1/log/key", get(signatures::log_key))
        .route("/v1/delivery/keys", get(delivery::delivery_keys))
        .route("/v1/me", get(keys::me))
        .route("/v1/keys", post(keys::create_key).get(keys::list_keys))
        .route("/v1/keys/{id}", get(keys::get_key))
        .route("/v1/keys/{id}/pin", put(keys::set_pin))
        .route("/v1/keys/{id}/renew", post(keys::renew_key))
        .route("/v1/keys/{id}/status-source", put(keys::set_status_source))
        .route(
            "/v1/approvals",
            post(operations::request).get(operations::list_requests),
        )
        .route("/v1/approvals/{id}", get(operations::get_request))
        .route("/v1/approvals/{id}/approve", post(operations::approve))
        .route("/v1/approvals/{id}/consent", post(operations::consent))
        .route("/v1/operators", get(operations::list_operators))
        .route(
            "/v1/applications",
            post(operations::apply).get(operations::list_applications),
        )
        .route("/v1/applications/{id}", get(operations::get_application))
        .route(
            "/v1/applications/{id}/identity-proofing",
            put(operations::record_proofing),
        )
        .route(
            "/v1/applications/{id}/mandate",
            put(operations::record_mandate),
        )
        .route(
            "/v1/applications/{id}/approve",
            post(operations::approve_application),
        )
        .route(
            "/v1/applications/{id}/reject",
            post(operations::reject_application),
        )
        .route(
            "/v1/terminals/{thumbprint}",
            axum::routing::delete(operations::revoke_terminal),
        )
        .route("/v1/subscribers", post(admin::create_subscriber))
        .route("/v1/subscribers/{id}", get(admin::get_subscriber))
        .route("/v1/subscribers/{id}/users", post(admin::create_user))
        .route("/v1/subscribers/{id}/clients", post(admin::register_client))
        .route(
            "/v1/subscribers/{id}/sessions/revoke",
            post(admin::revoke_sessions),
        )
        .route("/v1/accounts/{id}/unlock", post(admin::unlock))
        .route(
            "/v1/subscribers/{id}/destinations",
            post(delivery::register_destination).get(delivery::list_destinations),
        )
        .route("/v1/deliveries/{id}", get(delivery::get_delivery))
        .route("/v1/documents/{id}", get(delivery::get_document))
        .route(
            "/v1/accounts/{id}/activation-code",
            post(admin::reissue_activation_code),
        )
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::health::refuse_while_store_down,
        ))
        .layer(axum::middleware::from_fn(record_metrics))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            limits.max_body_bytes,
        ))
        .with_state(state)
}

/// The operators' plain-HTTP listener (`[server] metrics_listen`): `/metrics` for Prometheus,
/// `/ready` with its details, `/health`. Never on the public listener (criteria 2.1.3(6)).
pub fn operator_router(state: Arc<ApiState>) -> Router {
    use routes::system;
    Router::new()
        .route("/health", get(system::health))
        .route("/ready", get(system::ready_details))
        .route("/metrics", get(system::metrics))
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .with_state(state)
}

/// Counts requests and their latency by route and status (no path parameters, so no ids).
async fn record_metrics(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // A fixed set: a client's own method name must not make a new series.
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        axum::http::Method::PATCH => "PATCH",
        _ => "other",
    }
    .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!(crate::telemetry::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(crate::telemetry::HTTP_DURATION, &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
