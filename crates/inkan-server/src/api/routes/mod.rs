//! The routes, one file per audience: [`system`] (infrastructure), [`auth`] (getting a
//! session), [`admin`] (operators), [`keys`] (a subscriber's keys), [`csc`] (CSC API v2:
//! activation and signHash), [`vc`] (W3C VC API and issuance), [`present`] (holders'
//! presentations and key proofs), [`signatures`] (confirming a signature afterwards),
//! [`delivery`] (destinations, deliveries, retained documents), [`operations`] (dual control,
//! operators, terminals), [`status_lists`] (issuers' status lists, and their public URLs).
//!
//! Every route parses strictly and hands over to `auth`, `activation`, `signing` or
//! `delivery`. No route may sign except through the signing module, hold a business rule of
//! its own, or answer with an internal error's detail.

pub mod admin;
pub mod auth;
pub mod csc;
pub mod delivery;
pub mod keys;
pub mod operations;
pub mod present;
pub mod signatures;
pub mod status_lists;
pub mod system;
pub mod vc;

use super::ApiState;
use super::error::ApiError;
use crate::signing::ActivatedSigner;
use serde_json::{Map, Value};

/// The receipts (with their entries) of the log entries at `indexes`, encoded for a response.
async fn receipts(state: &ApiState, indexes: &[u64]) -> Result<Vec<Value>, ApiError> {
    let mut receipts = Vec::with_capacity(indexes.len());
    for index in indexes {
        let receipt = state
            .service
            .log
            .receipt_with_entry(*index)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        receipts.push(Value::String(receipt.encode()));
    }
    Ok(receipts)
}

/// Refuses a `deliverTo` destination that is not the subscriber's, before anything is signed.
/// The SAD a request signs under: the one its body names, or, for a caller holding a
/// credential-scoped OAuth2 token (CSC v2), that token itself, which the store keeps as the SAD
/// approved on the consent page. `None` when there is neither.
fn sad_of(
    caller: &crate::auth::Caller,
    headers: &axum::http::HeaderMap,
    named: Option<String>,
) -> Result<Option<zeroize::Zeroizing<String>>, ApiError> {
    if let Some(sad) = named {
        return Ok(Some(zeroize::Zeroizing::new(sad)));
    }
    if caller.method != crate::oauth::CREDENTIAL_METHOD {
        return Ok(None);
    }
    Ok(
        super::extract::single_header(headers, &axum::http::header::AUTHORIZATION)?
            .and_then(|h| h.split_once(' '))
            .map(|(_, token)| zeroize::Zeroizing::new(token.trim().to_owned())),
    )
}

async fn check_destination(
    state: &ApiState,
    subscriber: &str,
    deliver_to: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(id) = deliver_to {
        state.after.delivery.destination_of(subscriber, id).await?;
    }
    Ok(())
}

/// What [`after_signing`] adds to every signing answer, for the OpenAPI document (each
/// answer below flattens it after its document's own members).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // built as a map by `after_signing`; this is its documented shape
pub struct AfterSigningShape {
    /// The receipts of its signatures (C2SP tlog-proofs, each entry in its `extra` line), to
    /// check offline with `GET /v1/log/key`.
    receipts: Vec<String>,
    /// The delivery to the destination `deliverTo` named (`dlv_…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_id: Option<String>,
    /// The retained copy (`[signing] retention_days`).
    #[serde(skip_serializing_if = "Option::is_none")]
    retained_id: Option<String>,
}

/// `/credentials/issue`'s answer (VC API).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // built as a map by the handler; this is its documented shape
pub struct IssuedCredential {
    /// Data Integrity (`ldp_vc`), or an `EnvelopedVerifiableCredential` whose `id` is
    /// `data:application/vc+jwt,<JWT>`.
    #[schema(value_type = Object)]
    verifiable_credential: serde_json::Value,
    #[serde(flatten)]
    after: AfterSigningShape,
}

/// `/v1/credentials/sd-jwt`'s answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built as a map by the handler; this is its documented shape
pub struct IssuedSdJwt {
    /// The SD-JWT VC (`dc+sd-jwt`): the issuer JWT and every disclosure, `~`-separated.
    credential: String,
    #[serde(flatten)]
    after: AfterSigningShape,
}

/// `/v1/holder/sign`'s answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // built as a map by the handler; this is its documented shape
pub struct HolderSigned {
    /// The presentation: a string (SD-JWT with KB-JWT, base64url CBOR DeviceResponse, a key
    /// proof JWT) or a Data Integrity VP.
    #[schema(value_type = Object)]
    document: serde_json::Value,
    /// Its format, as the request named it.
    format: String,
    #[serde(flatten)]
    after: AfterSigningShape,
}

/// What every signing response carries after the document: the receipts of its signatures,
/// and, by configuration and request, the id of the retained copy and of the delivery to a
/// registered destination (criteria 2.2.3(3)).
async fn after_signing(
    state: &ApiState,
    signer: &ActivatedSigner,
    document: &Value,
    deliver_to: Option<&str>,
) -> Result<Map<String, Value>, ApiError> {
    let indexes = signer.log_indexes();
    let mut out = Map::new();
    out.insert(
        "receipts".into(),
        Value::Array(receipts(state, &indexes).await?),
    );
    if let Some(&last) = indexes.last() {
        let request = signer.request();
        let after = state
            .after
            .after_signing(
                &request.caller,
                &request.key.owner,
                &request.document_type,
                document,
                last,
                deliver_to,
            )
            .await?;
        if let Some(id) = after.delivery_id {
            out.insert("deliveryId".into(), id.into());
        }
        if let Some(id) = after.retained_id {
            out.insert("retainedId".into(), id.into());
        }
    }
    Ok(out)
}
