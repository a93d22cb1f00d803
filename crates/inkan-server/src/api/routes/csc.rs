//! Cloud Signature Consortium API v2 (criteria 2.2.3): `info`, `credentials/list`,
//! `credentials/info`, `credentials/authorize` (SAD) and `signatures/signHash`.
//!
//! Field names and behaviour follow CSC API v2.0. One deliberate difference: `credentials/
//! authorize` takes the PIN and OTP only inside `activationData`, a JWE encrypted to the
//! activation key (criteria 2.2.3(2)A-2); plain `PIN`/`OTP` fields are refused with a message
//! saying so. Users sign with a SAD; system clients sign under their token's scope (standing
//! approval). Parsing here, rules in `activation` and `signing`.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, JsonBody};
use super::keys::load_key;
use crate::activation::{SignatureRequest, hashes_digest};
use crate::auth::access::{Operation, authorize_key};
use crate::auth::{AuthError, CallerKind};
use crate::signing::{Activation, Input, SignRequest, SigningError};
use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use inkan_device::{Algorithm, KeySpec};
use inkan_store::{KeyFilter, KeyRecord, KeyState};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// How `activationData` is made, as `info` and the OpenAPI document say it.
pub const ACTIVATION_DATA: &str = "JWE (ECDH-ES, A256GCM) to activationKey of one JSON object: \
    {\"purpose\": \"authorize\", \"credentialID\", \"hashesDigest\", \"numSignatures\", \
    \"nonce\", \"PIN\", \"OTP\"}; hashesDigest is base64url(SHA-256(hashAlgorithmOID as \
    ASCII || 0x00 || hash_1 || ... || hash_n)) over the decoded hashes in request order; nonce \
    from POST /v1/signature-activation/nonce (single use, this session, 120 s). PIN changes \
    and renewals take purpose pin.change / key.renew with newPIN instead of hashesDigest and \
    numSignatures.";

/// The CSC API version implemented.
pub const CSC_SPECS: &str = "2.0.0.2";

use crate::activation::{OID_SHA256, OID_SHA384};

/// The signature algorithm OID of `alg` (CSC `signAlgo`).
pub fn sign_algo_oid(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::Es256 => "1.2.840.10045.4.3.2",
        Algorithm::Es384 => "1.2.840.10045.4.3.3",
        Algorithm::EdDsa => "1.3.101.112",
        Algorithm::Rs256 => "1.2.840.113549.1.1.11",
        Algorithm::Ps256 => "1.2.840.113549.1.1.10",
    }
}

/// The hash OID and name `alg` signs digests of, if it has a pre-hash mode.
pub fn hash_of(alg: Algorithm) -> Option<(&'static str, &'static str)> {
    match alg {
        Algorithm::Es384 => Some((OID_SHA384, "sha-384")),
        Algorithm::EdDsa => None,
        _ => Some((OID_SHA256, "sha-256")),
    }
}

fn key_description(spec: KeySpec) -> (u32, Option<&'static str>) {
    match spec {
        KeySpec::P256 => (256, Some("1.2.840.10045.3.1.7")),
        KeySpec::P384 => (384, Some("1.3.132.0.34")),
        KeySpec::Ed25519 => (256, Some("1.3.101.112")),
        KeySpec::Rsa2048 => (2048, None),
        KeySpec::Rsa3072 => (3072, None),
        KeySpec::Rsa4096 => (4096, None),
    }
}

/// `info`.
#[utoipa::path(post, path = "/csc/v2/info", tag = "csc",
    responses((status = 200, description = "Service information (CSC API v2 §11.1): specs, name, logo, region, lang, description, authType, methods, and signatureActivation with Inkan's activationKey (the JWK activation data is encrypted to)", body = Object)))]
pub async fn info(State(state): State<Arc<ApiState>>) -> Json<Value> {
    Json(json!({
        "specs": CSC_SPECS,
        "name": "Inkan",
        "logo": format!("{}/logo.png", state.auth.public_url()),
        "region": "JP",
        "lang": "en-US",
        "description": "Remote signing service for Verifiable Credentials",
        "authType": ["basic", "oauth2code"],
        "oauth2": state.auth.public_url(),
        "methods": [
            "auth/login", "auth/revoke", "credentials/list", "credentials/info",
            "credentials/authorize", "signatures/signHash", "oauth2/authorize", "oauth2/token"
        ],
        "signatureActivation": {
            "activationKey": state.activation.public_jwk(),
            "nonceEndpoint": "/v1/signature-activation/nonce",
            "activationData": ACTIVATION_DATA,
        },
    }))
}

/// `credentials/list` request.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListRequest {
    /// Return `credentialInfos` too.
    #[serde(default)]
    pub credential_info: bool,
    /// `none`, `single` or `chain`.
    pub certificates: Option<String>,
    /// Include certificate details.
    #[serde(default)]
    pub cert_info: bool,
    /// Include authentication details.
    #[serde(default)]
    pub auth_info: bool,
    /// Only usable credentials.
    #[serde(default)]
    pub only_valid: bool,
    /// Ignored (the caller is the user).
    #[serde(rename = "userID")]
    pub user_id: Option<String>,
    /// Ignored.
    pub max_results: Option<u32>,
    /// Ignored.
    pub page_token: Option<String>,
    /// Ignored.
    pub client_data: Option<String>,
}

/// `credentials/list`: the keys the caller may sign with.
#[utoipa::path(post, path = "/csc/v2/credentials/list", tag = "csc",
    request_body(content = Option<Object>, description = "CSC `credentials/list` parameters, all optional (`credentialInfo`, `certificates`, `certInfo`, `authInfo`, `onlyValid`, `maxResults`, `pageToken`, `clientData`)", content_type = "application/json"),
    responses((status = 200, description = "CSC API v2 §11.4: credentialIDs, and credentialInfos when asked", body = Object)))]
pub async fn credentials_list(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    body: Option<Json<Value>>,
) -> Result<Json<Value>, ApiError> {
    let request: ListRequest = match body {
        Some(Json(value)) => serde_json::from_value(value).map_err(|e| {
            ApiError::bad_request(format!(
                "the request body: {}",
                super::super::extract::without_values(&e.to_string())
            ))
        })?,
        None => ListRequest::default(),
    };
    let Some(subscriber) = caller.subscriber.clone() else {
        return Err(AuthError::Forbidden("operators hold no signing credentials".into()).into());
    };
    let keys = state
        .service
        .registry
        .list(KeyFilter {
            owner: Some(subscriber),
            ..KeyFilter::default()
        })
        .await
        .map_err(AuthError::from)?;
    let usable: Vec<&KeyRecord> = keys
        .iter()
        .filter(|k| authorize_key(&caller, k, Operation::Read).is_ok())
        .filter(|k| !request.only_valid || k.state == KeyState::Active)
        .filter(|k| k.state != KeyState::Destroyed)
        .collect();
    let mut body = json!({
        "credentialIDs": usable.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        "onlyValid": request.only_valid,
    });
    if request.credential_info {
        body["credentialInfos"] = usable
            .iter()
            .map(|k| {
                let mut info = credential_info(
                    k,
                    request.certificates.as_deref(),
                    request.cert_info,
                    request.auth_info,
                );
                info["credentialID"] = k.id.as_str().into();
                info
            })
            .collect();
    }
    Ok(Json(body))
}

/// `credentials/info` request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InfoRequest {
    /// The key.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// `none`, `single` (default) or `chain`.
    pub certificates: Option<String>,
    /// Include certificate details.
    #[serde(default)]
    pub cert_info: bool,
    /// Accepted; authentication details are always included.
    #[serde(default)]
    pub auth_info: bool,
    /// Ignored.
    pub lang: Option<String>,
    /// Ignored.
    pub client_data: Option<String>,
}

/// `credentials/info`: a key's status, algorithms, certificate and how to activate it.
#[utoipa::path(post, path = "/csc/v2/credentials/info", request_body = InfoRequest, tag = "csc",
    responses((status = 200, description = "CSC API v2 §11.5 credential information: key {status, algo, len, curve}, cert when attached, authMode, SCAL, multisign", body = Object), (status = 404, description = "No such credential for this caller")))]
pub async fn credentials_info(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<InfoRequest>,
) -> Result<Json<Value>, ApiError> {
    let key = load_key(&state, &caller, &request.credential_id, Operation::Read).await?;
    // How to activate the key is always given: a client cannot do without it.
    let mut info = credential_info(
        &key,
        request.certificates.as_deref(),
        request.cert_info,
        true,
    );
    if key.state == KeyState::Active {
        // Criteria 2.2.3(1)B: the status the signing module would see now, and when the list
        // it rests on was confirmed. CSC's `cert.status` takes it for keys with a certificate.
        let live = state
            .signing
            .key_status(&key)
            .await
            .map_err(signing_error)?;
        if !key.certificate_chain.is_empty() {
            info["cert"]["status"] = live.value.as_str().into();
        }
        info["status"] = json!({
            "value": live.value.as_str(),
            "source": live.source.as_str(),
            "checkedAt": live.checked_at,
            "confirmedAt": live.confirmed_at,
            "reason": live.reason,
        });
    }
    Ok(Json(info))
}

/// The CSC description of a key.
fn credential_info(
    key: &KeyRecord,
    certificates: Option<&str>,
    cert_info: bool,
    auth_info: bool,
) -> Value {
    let (len, curve) = key_description(key.spec);
    let mut key_part = json!({
        "status": if key.state == KeyState::Active { "enabled" } else { "disabled" },
        "algo": [sign_algo_oid(key.algorithm)],
        "len": len,
    });
    if let Some(curve) = curve {
        key_part["curve"] = curve.into();
    }
    let mut info = json!({
        "description": key.label,
        "key": key_part,
        "SCAL": "2",
        "multisign": crate::activation::MAX_SIGNATURES,
        "lang": "en-US",
    });
    let chain = inkan_device::cert::CertificateChain::from_der_list(&key.certificate_chain).ok();
    let mut cert = json!({"status": match &chain { Some(_) => "valid", None => "none" }});
    let wanted = match certificates.unwrap_or("single") {
        "none" => 0,
        "chain" => usize::MAX,
        _ => 1,
    };
    cert["certificates"] = key
        .certificate_chain
        .iter()
        .take(wanted)
        .map(|der| Value::String(STANDARD.encode(der)))
        .collect();
    if let (true, Some(chain)) = (cert_info, &chain) {
        let (subject, issuer, serial) = chain.leaf_names();
        let (from, to) = chain.leaf_validity();
        cert["subjectDN"] = subject.into();
        cert["issuerDN"] = issuer.into();
        cert["serialNumber"] = serial.into();
        cert["validFrom"] = inkan_formats::jose::format_rfc3339(from).into();
        cert["validTo"] = inkan_formats::jose::format_rfc3339(to).into();
    }
    info["cert"] = cert;
    if auth_info {
        info["auth"] = json!({
            "mode": "explicit",
            "expression": "PIN AND OTP",
            "objects": [
                {"type": "Password", "id": "PIN", "format": "A", "label": "Signing PIN",
                 "description": "The key's signing PIN, inside activationData (JWE)"},
                {"type": "Password", "id": "OTP", "format": "N", "generator": "totp",
                 "label": "One-time password",
                 "description": "A TOTP code, inside activationData (JWE)"}
            ],
        });
    }
    info
}

/// `credentials/authorize` request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthorizeRequest {
    /// The key.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// How many signatures the SAD allows.
    pub num_signatures: u32,
    /// The hashes to be signed, base64.
    pub hashes: Option<Vec<String>>,
    /// The hashes' algorithm OID.
    #[serde(rename = "hashAlgorithmOID")]
    pub hash_algorithm_oid: Option<String>,
    /// Refused: the PIN travels in `activationData`.
    #[serde(rename = "PIN")]
    pub pin: Option<String>,
    /// Refused: the OTP travels in `activationData`.
    #[serde(rename = "OTP")]
    pub otp: Option<String>,
    /// JWE (ECDH-ES, A256GCM) to the activation key of what it authorises, a nonce, the PIN
    /// and the OTP ([`ACTIVATION_DATA`]).
    pub activation_data: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Ignored.
    pub client_data: Option<String>,
    /// Inkan extension, for a holder's presentation: `/v1/holder/prepare`'s `disclosureDigest`
    /// (what the holder was shown). The activation data must carry the same; the SAD then
    /// signs only a presentation that discloses exactly that.
    pub disclosure_digest: Option<String>,
}

crate::api::redacted_debug!(AuthorizeRequest);

/// Decodes CSC `hashes` (base64) of the algorithm `hash_oid` (SHA-256 when absent) into the
/// inputs SADs and the log name (`sha-256:<hex>`, [`activation::digest_inputs`]).
fn parse_hashes(hashes: &[String], hash_oid: Option<&str>) -> Result<Vec<Input>, ApiError> {
    let decoded = hashes
        .iter()
        .map(|h| {
            STANDARD
                .decode(h)
                .map_err(|_| ApiError::bad_request("a hash is not base64"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::activation::digest_inputs(
        hash_oid.unwrap_or(OID_SHA256),
        decoded,
    )?)
}

/// [`parse_hashes`] for `signHash` with a key of `alg`: the hash must be the one `alg` signs in
/// pre-hash mode.
fn digest_inputs(
    alg: Algorithm,
    hashes: &[String],
    hash_oid: Option<&str>,
) -> Result<Vec<Input>, ApiError> {
    let (expected_oid, _) = hash_of(alg).ok_or_else(|| {
        ApiError::bad_request("EdDSA keys have no pre-hash mode: sign documents, not hashes")
    })?;
    let oid = hash_oid.unwrap_or(expected_oid);
    if oid != expected_oid {
        return Err(ApiError::bad_request(format!(
            "hashAlgorithmOID {oid} does not fit this {alg} key (use {expected_oid})"
        )));
    }
    parse_hashes(hashes, Some(oid))
}

/// A fresh activation nonce (criteria 2.2.3(2)A-2): the caller puts it in its next
/// `activationData` (authorize, PIN change, renewal). Single use, this session only, 120 s.
#[utoipa::path(post, path = "/v1/signature-activation/nonce", tag = "csc",
    responses((status = 200, body = NonceResponse), (status = 403, description = "Not a user")))]
pub async fn activation_nonce(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
) -> Result<Json<NonceResponse>, ApiError> {
    let issued = state.activation.nonce(&caller)?;
    Ok(Json(NonceResponse {
        nonce: issued.nonce,
        expires_in: issued.expires_in,
    }))
}

/// A nonce for activation data.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NonceResponse {
    /// Single use, this session only.
    pub nonce: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// CSC `credentials/authorize`'s answer (CSC API v2 §11.6). Its `Debug` shows no SAD.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeResponse {
    /// The signature activation data: for exactly the hashes authorised, this session, once.
    #[serde(rename = "SAD")]
    pub sad: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

impl std::fmt::Debug for AuthorizeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// CSC `signatures/signHash`'s answer (CSC API v2 §11.9), with the transparency log's receipt.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignHashResponse {
    /// The signatures, base64, in the order of the hashes (ECDSA as `r‖s`).
    pub signatures: Vec<String>,
    /// The receipt of the `signature.made` entry (C2SP tlog-proof, the entry in its `extra`
    /// line): check it offline with `GET /v1/log/key`.
    pub receipt: String,
    /// That entry's index in the log.
    pub log_index: u64,
}

/// `credentials/authorize`: turns the PIN and OTP (encrypted, with what they authorise and a
/// nonce: [`ACTIVATION_DATA`]) into a SAD for listed hashes.
#[utoipa::path(post, path = "/csc/v2/credentials/authorize", request_body = AuthorizeRequest, tag = "csc",
    description = "activationData: JWE (ECDH-ES, A256GCM) to the activation key of one JSON object {purpose: \"authorize\", credentialID, hashesDigest, numSignatures, nonce, PIN, OTP, and disclosureDigest when the request has one}. hashesDigest = base64url(SHA-256(hashAlgorithmOID as ASCII || 0x00 || hash_1 || ... || hash_n)), the hashes decoded, in request order (the OID is 2.16.840.1.101.3.4.2.1 when the request names none). nonce: from POST /v1/signature-activation/nonce, single use, this session, 120 s. Any member that does not match the request is refused (403 naming it) and counts as a failed activation.",
    responses((status = 200, body = AuthorizeResponse), (status = 400, description = "Malformed request or activationData"), (status = 403, description = "Wrong PIN or OTP, or activationData for something else (the member is named)")))]
pub async fn credentials_authorize(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<AuthorizeRequest>,
) -> Result<Json<AuthorizeResponse>, ApiError> {
    if request.pin.is_some() || request.otp.is_some() {
        return Err(ApiError::bad_request(
            "PIN and OTP are accepted only encrypted, in activationData (a JWE to the activation \
             key published by info), never in the clear",
        ));
    }
    let jwe = request
        .activation_data
        .ok_or_else(|| ApiError::bad_request("activationData (JWE of PIN and OTP) is required"))?;
    let key = load_key(&state, &caller, &request.credential_id, Operation::Sign).await?;
    let hashes = request
        .hashes
        .ok_or_else(|| ApiError::bad_request("hashes are required: a SAD is bound to them"))?;
    let hash_oid = request.hash_algorithm_oid.as_deref().unwrap_or(OID_SHA256);
    let inputs = parse_hashes(&hashes, Some(hash_oid))?;
    if let Some(digest) = &request.disclosure_digest
        && !(digest.len() == 43
            && digest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(ApiError::bad_request(
            "disclosureDigest: the base64url SHA-256 /v1/holder/prepare answered",
        ));
    }
    let bytes: Vec<&[u8]> = inputs
        .iter()
        .filter_map(|input| match input {
            Input::Digest { bytes, .. } => Some(bytes.as_slice()),
            Input::Message(_) => None,
        })
        .collect();
    let signature_request = SignatureRequest {
        digests: inputs.iter().map(Input::label).collect(),
        hashes_digest: hashes_digest(hash_oid, &bytes),
        num_signatures: request.num_signatures,
        disclosure_digest: request.disclosure_digest.clone(),
    };
    let issued = state
        .activation
        .authorize(&caller, &key, &signature_request, &jwe)
        .await?;
    Ok(Json(AuthorizeResponse {
        sad: issued.sad.as_str().to_owned(),
        expires_in: issued.expires_in,
    }))
}

/// `signatures/signHash` request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignHashRequest {
    /// The key.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// The SAD (users); absent for system clients.
    #[serde(rename = "SAD")]
    pub sad: Option<String>,
    /// The hashes, base64.
    pub hashes: Vec<String>,
    /// The hashes' algorithm OID.
    #[serde(rename = "hashAlgorithmOID")]
    pub hash_algorithm_oid: Option<String>,
    /// The signature algorithm OID.
    pub sign_algo: String,
    /// Its parameters (RSASSA-PSS); ignored: PS256 is SHA-256, MGF1-SHA-256, salt 32.
    pub sign_algo_params: Option<String>,
    /// Only `S` (synchronous).
    pub operation_mode: Option<String>,
    /// Ignored.
    pub client_data: Option<String>,
}

crate::api::redacted_debug!(SignHashRequest);

/// `signatures/signHash`: signs hashes through the signing module; the response carries the
/// signatures and the receipt of the `signature.made` log entry.
#[utoipa::path(post, path = "/csc/v2/signatures/signHash", request_body = SignHashRequest, tag = "csc",
    responses((status = 200, body = SignHashResponse), (status = 403, description = "Refused by the signing module")))]
pub async fn sign_hash(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    headers: axum::http::HeaderMap,
    JsonBody(request): JsonBody<SignHashRequest>,
) -> Result<Json<SignHashResponse>, ApiError> {
    if request.operation_mode.as_deref().is_some_and(|m| m != "S") {
        return Err(ApiError::bad_request(
            "only operationMode S (synchronous) is supported",
        ));
    }
    let key = load_key(&state, &caller, &request.credential_id, Operation::Sign).await?;
    if request.sign_algo != sign_algo_oid(key.algorithm) {
        return Err(ApiError::bad_request(format!(
            "signAlgo {} does not fit this {} key (use {})",
            request.sign_algo,
            key.algorithm,
            sign_algo_oid(key.algorithm)
        )));
    }
    let inputs = digest_inputs(
        key.algorithm,
        &request.hashes,
        request.hash_algorithm_oid.as_deref(),
    )?;
    let activation = match (super::sad_of(&caller, &headers, request.sad)?, caller.kind) {
        (Some(value), _) => Activation::Sad { value, shown: None },
        (None, CallerKind::Client) => Activation::Standing,
        (None, _) => {
            return Err(ApiError::bad_request(
                "SAD is required: call credentials/authorize for these hashes first",
            ));
        }
    };
    let sign_request = SignRequest {
        caller,
        key,
        activation,
        document_type: "csc.signHash".into(),
        checked_at: None,
        token: None,
    };
    let signed = state
        .signing
        .sign(&sign_request, &inputs)
        .await
        .map_err(signing_error)?;
    let receipt = state
        .service
        .log
        .receipt_with_entry(signed.log_index)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(SignHashResponse {
        signatures: signed
            .signatures
            .iter()
            .map(|s| STANDARD.encode(s))
            .collect(),
        receipt: receipt.encode(),
        log_index: signed.log_index,
    }))
}

/// Maps a format error raised while building a document through `signer`: the signing
/// module's own error when it failed (a refusal is 403, a failure inside 500), else a 400
/// naming what is wrong with the document.
pub fn document_error(
    signer: &crate::signing::ActivatedSigner,
    e: inkan_formats::FormatError,
) -> ApiError {
    match (e, signer.take_failure()) {
        (inkan_formats::FormatError::Signer(_), Some(failure)) => signing_error(failure),
        (inkan_formats::FormatError::Signer(message), None) => {
            signing_error(SigningError::Refused(message))
        }
        (inkan_formats::FormatError::DataModel(e), _) => ApiError::data_model(&e),
        (other, _) => ApiError::bad_request(other.to_string()),
    }
}

/// Maps a signing refusal to a response.
pub fn signing_error(e: SigningError) -> ApiError {
    match e {
        SigningError::Refused(_) | SigningError::KeyUnusable(_) => {
            AuthError::Forbidden(e.to_string()).into()
        }
        SigningError::BadInput(m) => ApiError::bad_request(m),
        SigningError::Log(ref log) => ApiError::failed(&e, log.is_unavailable()),
        SigningError::Store(ref store) => ApiError::failed(&e, store.is_unavailable()),
        SigningError::Device(_) => ApiError::internal(&e),
    }
}
