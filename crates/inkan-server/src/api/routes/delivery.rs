//! What happens to signed documents after signing (criteria 2.2.3(3)A, B): operators register
//! delivery destinations for subscribers; a subscriber's users and clients follow their
//! deliveries and read back the documents kept under the retention policy. The rules are the
//! `delivery` module's; documents are handed over by the signing routes
//! (`PostSigning::after_signing`).

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, JsonBody};
use crate::auth::AuthError;
use crate::delivery::{DeliveryError, RetainedDocument};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use inkan_store::delivery::{DeliveryRecord, DeliveryState, DestinationRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;

impl From<DeliveryError> for ApiError {
    fn from(e: DeliveryError) -> Self {
        match e {
            DeliveryError::BadRequest(m) => ApiError::bad_request(m),
            DeliveryError::NotFound(m) => ApiError::not_found(m),
            DeliveryError::Forbidden(m) => AuthError::Forbidden(m).into(),
            DeliveryError::Conflict(m) => AuthError::Conflict(m).into(),
            inside @ (DeliveryError::Store(_)
            | DeliveryError::Log(_)
            | DeliveryError::Internal(_)) => ApiError::internal(&inside),
        }
    }
}

/// A new delivery destination.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDestination {
    /// Where signed documents are POSTed: `https://` only, no user information or fragment,
    /// at most 2048 characters.
    #[schema(example = "https://issuer.example/inkan/inbox")]
    pub url: String,
}

/// A delivery destination.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationBody {
    /// `dst_…`: what a signing request names to have its document delivered here.
    pub id: String,
    /// The subscriber whose documents go there.
    pub subscriber: String,
    /// The URL (normalised).
    pub url: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl From<DestinationRecord> for DestinationBody {
    fn from(d: DestinationRecord) -> Self {
        DestinationBody {
            id: d.id,
            subscriber: d.subscriber,
            url: d.url,
            created_at: d.created_at,
        }
    }
}

/// A subscriber's destinations.
#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationsBody {
    /// Oldest first.
    pub destinations: Vec<DestinationBody>,
}

/// Registers a destination for a subscriber's signed documents (operators).
#[utoipa::path(post, path = "/v1/subscribers/{id}/destinations", tag = "delivery",
    request_body = NewDestination, params(("id" = String, Path, description = "sub_…")),
    responses((status = 201, body = DestinationBody), (status = 400, description = "Not an https:// URL"),
        (status = 403, description = "Not an operator"), (status = 404, description = "No such subscriber"),
        (status = 409, description = "URL registered already, or subscriber terminated")))]
pub async fn register_destination(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewDestination>,
) -> Result<(StatusCode, Json<DestinationBody>), ApiError> {
    let destination = state
        .after
        .delivery
        .register_destination(&caller, &id, &body.url)
        .await?;
    Ok((StatusCode::CREATED, Json(destination.into())))
}

/// A subscriber's destinations (operators, and the subscriber's users and clients).
#[utoipa::path(get, path = "/v1/subscribers/{id}/destinations", tag = "delivery",
    params(("id" = String, Path, description = "sub_…")),
    responses((status = 200, body = DestinationsBody), (status = 404, description = "No such subscriber")))]
pub async fn list_destinations(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<DestinationsBody>, ApiError> {
    let destinations = state.after.delivery.destinations(&caller, &id).await?;
    Ok(Json(DestinationsBody {
        destinations: destinations.into_iter().map(Into::into).collect(),
    }))
}

/// Where a delivery stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryBody {
    /// `dlv_…`, also sent to the destination.
    pub id: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: &'static str,
    /// Attempts made so far.
    pub attempts: u32,
    /// Why the last failed attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the destination accepted it (Unix milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    /// When it is attempted next, while pending (Unix milliseconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    /// The destination.
    pub destination: String,
    /// The document's digest (`sha-256:…`).
    pub document_digest: String,
    /// The index of the `signature.made` entry of the document's signature.
    pub log_index: u64,
}

impl From<DeliveryRecord> for DeliveryBody {
    fn from(d: DeliveryRecord) -> Self {
        DeliveryBody {
            state: d.state.as_str(),
            attempts: d.attempts,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            next_attempt_at: (d.state == DeliveryState::Pending).then_some(d.next_attempt_at),
            destination: d.destination_id,
            document_digest: d.document_digest,
            log_index: d.log_index,
            id: d.id,
        }
    }
}

/// A delivery of one of the subscriber's signed documents.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "delivery",
    params(("id" = String, Path, description = "dlv_…")),
    responses((status = 200, body = DeliveryBody), (status = 404, description = "No such delivery of the caller's subscriber")))]
pub async fn get_delivery(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<DeliveryBody>, ApiError> {
    Ok(Json(
        state.after.delivery.status(&caller, &id).await?.into(),
    ))
}

/// A signed document kept under the retention policy.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentBody {
    /// `doc_…`.
    pub id: String,
    /// What it is: `vc+jwt`, `dc+sd-jwt`, `ldp_vc`, …
    #[serde(rename = "type")]
    pub document_type: String,
    /// The signed document, as it was returned.
    #[schema(value_type = Object)]
    pub document: Value,
    /// The key that signed it.
    pub key_id: String,
    /// The index of the `signature.made` entry of its signature.
    pub log_index: u64,
    /// When it was kept (Unix milliseconds).
    pub created_at: i64,
    /// When it is purged (Unix milliseconds); not readable from then on.
    pub purge_at: i64,
}

impl From<RetainedDocument> for DocumentBody {
    fn from(d: RetainedDocument) -> Self {
        DocumentBody {
            id: d.id,
            document_type: d.document_type,
            document: d.document,
            key_id: d.key_id,
            log_index: d.log_index,
            created_at: d.created_at,
            purge_at: d.purge_at,
        }
    }
}

/// A signed document of the caller's subscriber, kept under the retention policy, until it is
/// purged.
#[utoipa::path(get, path = "/v1/documents/{id}", tag = "delivery",
    params(("id" = String, Path, description = "doc_…")),
    responses((status = 200, body = DocumentBody), (status = 404, description = "No such document of the caller's subscriber, or purged")))]
pub async fn get_document(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<DocumentBody>, ApiError> {
    Ok(Json(state.after.retention.get(&caller, &id).await?.into()))
}

/// Inkan's delivery keys (criteria 2.2.3(3)A; RFC 9421): the public keys whose signatures every
/// POST to a destination carries, as a JWK Set. Each key's `kid` is the `keyid` its
/// signatures name (its RFC 7638 thumbprint); its RFC 9421 algorithm is `ed25519`. Public:
/// a receiver fetches it once over Inkan's TLS and pins it (docs/delivery-signatures.md).
#[utoipa::path(get, path = "/v1/delivery/keys", tag = "delivery",
    responses((status = 200, description = "A JWK Set: {keys: [{kty: OKP, crv: Ed25519, x, kid, alg: EdDSA, use: sig}]}", body = Object)))]
pub async fn delivery_keys(State(state): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    use crate::keys::own_keys;
    let records = own_keys::active(
        &*state.service.store,
        state.service.environment,
        own_keys::DELIVERY_KEY_LABEL,
    )
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let mut keys = Vec::new();
    for record in &records {
        let public = inkan_device::PublicKey::from_spki_der(&record.public_key_spki)
            .map_err(|e| ApiError::internal(&e))?;
        let mut jwk = public.to_jwk();
        jwk["kid"] = public.jwk_thumbprint().into();
        jwk["alg"] = "EdDSA".into();
        jwk["use"] = "sig".into();
        keys.push(jwk);
    }
    Ok(Json(serde_json::json!({ "keys": keys })))
}
