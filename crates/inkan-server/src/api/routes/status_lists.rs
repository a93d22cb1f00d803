//! The status lists Inkan keeps for issuers (issue 16): an issuer's system client creates
//! lists and changes its credentials' status; anyone reads a published list at its public URL.
//! The rules are the `status_lists` module's.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, JsonBody};
use crate::auth::AuthError;
use crate::status_lists::{NewList, StatusListError, StatusLists};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use inkan_store::{StatusEntryRecord, StatusListRecord};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

impl From<StatusListError> for ApiError {
    fn from(e: StatusListError) -> Self {
        match e {
            StatusListError::BadRequest(m) => ApiError::bad_request(m),
            StatusListError::NotFound(m) => ApiError::not_found(m),
            StatusListError::Forbidden(m) => AuthError::Forbidden(m).into(),
            StatusListError::Conflict(m) => AuthError::Conflict(m).into(),
            inside @ (StatusListError::Store(_)
            | StatusListError::Log(_)
            | StatusListError::Signing(_)) => ApiError::internal(&inside),
        }
    }
}

/// A new status list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewListBody {
    /// The key (`key_…`) that signs the list and the credentials with entries in it.
    pub key_id: String,
    /// `bitstring` (W3C Bitstring Status List, the default: VC-JWT and Data Integrity
    /// credentials) or `token` (IETF Token Status List: SD-JWT VCs and mdocs).
    pub format: Option<String>,
    /// W3C lists: `revocation` (final), `suspension` (reversible) or `message` (a value per
    /// entry, each with its message). Token lists have none.
    pub purpose: Option<String>,
    /// Bits per entry, 1, 2, 4 or 8: token lists (2, the default: valid, invalid, suspended)
    /// and W3C `message` lists (`statusSize`, 2 by default).
    pub bits: Option<u8>,
    /// W3C `message` lists: the message of each value from 0x0, 2^bits of them (the entries'
    /// `statusMessage`).
    pub messages: Option<Vec<String>>,
    /// A delivery destination of the subscriber (`dst_…`): each new version is also pushed
    /// there (a JWT or a CWT as a base64url string, a Data Integrity list as itself), for
    /// issuers who host their lists elsewhere.
    pub deliver_to: Option<String>,
    /// How each version is signed and served: `jwt` (the default: `application/vc+jwt` for a
    /// W3C list, what VC-JWTs point to; `application/statuslist+jwt` for a token list, what
    /// SD-JWT VCs point to), `data-integrity` for a W3C list (`application/vc` with a Data
    /// Integrity proof, what Data Integrity credentials point to) or `cwt` for a token list
    /// (`application/statuslist+cwt`, what mdocs point to; the key needs its certificate).
    pub signed_as: Option<String>,
    /// Entries: from 131,072 (the default, the W3C minimum for herd privacy) to 16,777,216.
    pub size: Option<u64>,
    /// How long verifiers may cache the list, seconds (default 300).
    pub ttl_seconds: Option<u64>,
}

/// A status list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListBody {
    /// `sl_…`: what `options.credentialStatus.statusList` names at issuance.
    pub id: String,
    /// Where the signed list is published (the `statusListCredential` of its entries).
    pub url: String,
    pub key_id: String,
    /// `bitstring` (W3C Bitstring Status List) or `token` (IETF Token Status List).
    pub format: &'static str,
    /// How its versions are signed: `jwt`, `cwt` (token lists) or `data-integrity` (W3C lists).
    pub signed_as: &'static str,
    /// Where each new version is also pushed (`dst_…`), if anywhere.
    pub deliver_to: Option<String>,
    pub purpose: Option<String>,
    /// Bits per entry.
    pub bits: u8,
    pub size: u64,
    pub ttl_seconds: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// How many status changes it has had.
    pub changes: u64,
}

impl ListBody {
    fn of(list: StatusListRecord, url: String) -> Self {
        ListBody {
            url,
            id: list.id,
            key_id: list.key_id,
            format: list.format.as_str(),
            signed_as: list.signed_as.as_str(),
            deliver_to: list.deliver_to,
            purpose: list.purpose,
            bits: list.bits,
            size: list.size,
            ttl_seconds: list.ttl_ms / 1000,
            created_at: list.created_at,
            changes: list.changes,
        }
    }
}

/// The caller's subscriber's lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListsBody {
    /// Oldest first.
    pub lists: Vec<ListBody>,
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `revoked` (final), `suspended` or `valid`, as the list knows them: a W3C revocation
    /// list `revoked`, a suspension list `suspended` and `valid`, a token list all three
    /// (`suspended` with two bits or more); a W3C message list the value `0x0`… whose message
    /// is meant.
    pub status: String,
}

/// An entry of a list, as changed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryBody {
    pub index: u64,
    /// The status value (W3C: the bit, or the message's value; IETF: 0 valid, 1 invalid, 2
    /// suspended).
    pub value: u8,
    /// Whether it is final (a revocation): it never changes again.
    pub is_final: bool,
    /// The digest of the signing input of the credential it went to (`sha-256:…`).
    pub digest: Option<String>,
    /// Unix milliseconds.
    pub changed_at: Option<i64>,
}

impl From<StatusEntryRecord> for EntryBody {
    fn from(e: StatusEntryRecord) -> Self {
        EntryBody {
            index: e.index,
            value: e.value,
            is_final: e.is_final,
            digest: e.digest,
            changed_at: e.changed_at,
        }
    }
}

/// Creates a status list for one of the client's keys and publishes its first version.
#[utoipa::path(post, path = "/v1/status-lists", tag = "status-lists", request_body = NewListBody,
    responses((status = 201, body = ListBody), (status = 400, description = "Bad purpose, size or ttl"),
        (status = 403, description = "Not a system client granted the key"), (status = 404, description = "No such key")))]
pub async fn create(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<NewListBody>,
) -> Result<(StatusCode, Json<ListBody>), ApiError> {
    let lists = &state.status_lists;
    let list = lists
        .create(
            &caller,
            NewList {
                key_id: body.key_id,
                format: body.format,
                purpose: body.purpose,
                bits: body.bits,
                signed_as: body.signed_as,
                messages: body.messages,
                deliver_to: body.deliver_to,
                size: body.size,
                ttl_seconds: body.ttl_seconds,
            },
        )
        .await?;
    let url = lists.url(&list.id);
    Ok((StatusCode::CREATED, Json(ListBody::of(list, url))))
}

/// The status lists of the caller's subscriber.
#[utoipa::path(get, path = "/v1/status-lists", tag = "status-lists",
    responses((status = 200, body = ListsBody)))]
pub async fn list_all(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<ListsBody>, ApiError> {
    let lists = &state.status_lists;
    let found = lists.lists(&caller).await?;
    Ok(Json(ListsBody {
        lists: found
            .into_iter()
            .map(|l| {
                let url = lists.url(&l.id);
                ListBody::of(l, url)
            })
            .collect(),
    }))
}

/// One status list of the caller's subscriber.
#[utoipa::path(get, path = "/v1/status-lists/{id}", tag = "status-lists",
    params(("id" = String, Path, description = "sl_…")),
    responses((status = 200, body = ListBody), (status = 404, description = "No such list of the caller's subscriber")))]
pub async fn get_one(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ListBody>, ApiError> {
    let lists = &state.status_lists;
    let list = lists.list(&caller, &id).await?;
    let url = lists.url(&list.id);
    Ok(Json(ListBody::of(list, url)))
}

/// Changes the status of a credential's entry (written ahead to the log; published by the next
/// publication round).
#[utoipa::path(post, path = "/v1/status-lists/{id}/entries/{index}", tag = "status-lists",
    request_body = StatusBody,
    params(("id" = String, Path, description = "sl_…"), ("index" = u64, Path, description = "statusListIndex")),
    responses((status = 200, body = EntryBody), (status = 400, description = "Not a status of this list"),
        (status = 404, description = "No such list, or the index was not handed out"),
        (status = 409, description = "The entry is revoked: final")))]
pub async fn change(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    Path((id, index)): Path<(String, u64)>,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<EntryBody>, ApiError> {
    let entry = state
        .status_lists
        .change(&caller, &id, index, &body.status)
        .await?;
    Ok(Json(entry.into()))
}

/// A status change of a credential named by its digest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DigestStatusBody {
    /// The digest of the credential's signing input, as `GET /v1/signatures` knows it
    /// (`sha-256:` and 64 hex digits).
    pub digest: String,
    /// `revoked` (its entry in a revocation list; final), `suspended` or `valid` (its entry in a
    /// suspension list).
    pub status: String,
}

/// The entries changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntriesBody {
    pub entries: Vec<EntryBody>,
}

/// Changes the status of a credential found by its digest: its entries in the caller's lists
/// whose purpose knows the status (each written ahead to the log).
#[utoipa::path(post, path = "/v1/status-lists/by-digest", tag = "status-lists",
    request_body = DigestStatusBody,
    responses((status = 200, body = EntriesBody), (status = 400, description = "Not a digest"),
        (status = 404, description = "No entry of that credential in such a list of the caller's"),
        (status = 409, description = "The entry is revoked: final")))]
pub async fn change_by_digest(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<DigestStatusBody>,
) -> Result<Json<EntriesBody>, ApiError> {
    let well_formed = body
        .digest
        .strip_prefix("sha-256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if !well_formed {
        return Err(ApiError::bad_request(
            "digest: sha-256: and 64 hex digits (the signing input's digest)",
        ));
    }
    let digest = body.digest.to_ascii_lowercase();
    let changed = state
        .status_lists
        .change_by_digest(&caller, &digest, &body.status)
        .await?;
    Ok(Json(EntriesBody {
        entries: changed.into_iter().map(Into::into).collect(),
    }))
}

/// The latest published version of a status list, as signed (public, no authentication).
#[utoipa::path(get, path = "/status-lists/{id}", tag = "status-lists",
    params(("id" = String, Path, description = "sl_…")),
    responses((status = 200, description = "The signed list: application/vc+jwt or application/vc (a W3C list signed as a JWT or with a Data Integrity proof), application/statuslist+jwt or application/statuslist+cwt (a token list), as it was created",
        content((String = "application/vc+jwt"), (Object = "application/vc"), (String = "application/statuslist+jwt"), (String = "application/statuslist+cwt"))),
        (status = 404, description = "No such published list")))]
pub async fn published(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let lists = &state.status_lists;
    let version = lists.published(&id).await?;
    let ttl = match state.service.store.get_status_list(&id).await {
        Ok(Some(list)) => list.ttl_ms / 1000,
        Ok(None) => 0,
        Err(e) => return Err(ApiError::internal(&e)),
    };
    let mut response = StatusLists::served(&version)?.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&version.media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={ttl}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    Ok(response)
}
