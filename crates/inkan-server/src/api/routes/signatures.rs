//! Confirming a signature afterwards (criteria 2.2.3(3)C): `GET /v1/signatures?digest=…` tells
//! a caller of the subscriber whether and when Inkan signed a digest, with which key, and
//! gives the receipt (inclusion proof under a signed checkpoint, the entry in its `extra`
//! line) to check it offline with the log's public key (`GET /v1/log/key`).

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::Authenticated;
use crate::auth::AuthError;
use crate::auth::access::{Operation, scope_allows};
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestQuery {
    /// `sha-256:<hex>` (or `sha-384:<hex>`): of a hash given to signHash, or of the signing
    /// input of a document Inkan built (as in the receipt's entry).
    pub digest: String,
}

/// The signatures of a digest.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct SignaturesFound {
    digest: String,
    /// None when Inkan did not sign it for this caller.
    signatures: Vec<SignatureFound>,
}

/// One signature of a digest.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct SignatureFound {
    key_id: String,
    /// `vc+jwt`, `dc+sd-jwt`, `raw` (signHash), …
    document_type: String,
    /// The `signature.made` entry.
    log_index: u64,
    /// Unix milliseconds.
    signed_at: i64,
    /// The entry's receipt (C2SP tlog-proof, the entry in its `extra` line).
    receipt: String,
}

/// The transparency log's public key.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built with json!; this is its documented shape
pub struct LogKey {
    /// C2SP note verifier key (`<name>+<hash>+<base64>`).
    vkey: String,
    /// The origin checkpoints name (`<name>/<environment>`).
    origin: String,
}

/// Whether and when the caller's subscriber had `digest` signed.
#[utoipa::path(get, path = "/v1/signatures", tag = "signatures",
    params(("digest" = String, Query, description = "sha-256:<hex>")),
    responses((status = 200, body = SignaturesFound)))]
pub async fn by_digest(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Query(query): Query<DigestQuery>,
) -> Result<Json<Value>, ApiError> {
    let Some(subscriber) = caller.subscriber.as_deref() else {
        return Err(AuthError::Forbidden("operators read the log with `inkan log`".into()).into());
    };
    let well_formed = query.digest.split_once(':').is_some_and(|(alg, hex)| {
        matches!((alg, hex.len()), ("sha-256", 64) | ("sha-384", 96))
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if !well_formed {
        return Err(ApiError::bad_request(
            "digest must be sha-256:<64 lowercase hex> or sha-384:<96 lowercase hex>",
        ));
    }
    let mut records = state
        .service
        .store
        .signatures_by_digest(subscriber, &query.digest)
        .await
        .map_err(AuthError::from)?;
    // A system client sees only the keys of its scope.
    records.retain(|r| scope_allows(&caller, &r.key_id, Operation::Read));
    let indexes: Vec<u64> = records.iter().map(|r| r.log_index).collect();
    let receipts = super::receipts(&state, &indexes).await?;
    let signatures: Vec<Value> = records
        .iter()
        .zip(receipts)
        .map(|(r, receipt)| {
            json!({
                "keyId": r.key_id,
                "documentType": r.document_type,
                "logIndex": r.log_index,
                "signedAt": r.created_at,
                "receipt": receipt,
            })
        })
        .collect();
    Ok(Json(
        json!({"digest": query.digest, "signatures": signatures}),
    ))
}

/// The transparency log's public key (C2SP vkey) and origin, for offline verification.
#[utoipa::path(get, path = "/v1/log/key", tag = "signatures",
    responses((status = 200, body = LogKey)))]
pub async fn log_key(State(state): State<Arc<ApiState>>) -> Result<Json<Value>, ApiError> {
    let vkey = state
        .service
        .log_vkey()
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(
        json!({"vkey": vkey, "origin": state.service.log.origin()}),
    ))
}
