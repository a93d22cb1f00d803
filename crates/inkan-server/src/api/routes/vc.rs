//! W3C VC API (criteria 2.2.3): `POST /credentials/issue`, `/credentials/verify`,
//! `/presentations/verify` and `/credentials/derive` (`ecdsa-sd-2023` disclosures), so W3C
//! test suites and issuers' systems can drive Inkan.
//!
//! Inkan builds what is signed from the document itself (a VCDM 2.0 `vc+jwt`, or a Data
//! Integrity proof with the cryptosuite asked for), so the log records the digest of the real
//! signing input. Issuance is an organisation's e-seal: a system client under its standing
//! approval. The key is named by `options.keyId` (an Inkan extension, as the VC API leaves key
//! selection to the instance; `options.credentialId` holding a key id still works), or found
//! from `credential.issuer` among the client's scoped keys (see [`IssueOptions`]). Before
//! anything is signed the credential must meet the VC Data Model (`inkan_formats::vcdm`).
//! Every response carries the
//! receipts of its signatures. SD-JWT VCs (`/v1/credentials/sd-jwt`) and ISO/IEC 18013-5
//! mdocs (`/v1/credentials/mdoc`, an IssuerSigned whose issuer key must have its document
//! signer certificate attached, for `x5chain`) are issued the same way. `/presentations/verify`
//! verifies an mdoc DeviceResponse (base64url CBOR) with `options.sessionTranscript`.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, AuthenticatedForSigning, JsonBody};
use super::csc::{document_error, signing_error};
use super::keys::load_signing_key;
use crate::auth::access::Operation;
use crate::auth::{AuthError, CallerKind};
use crate::signing::issuer::{self, IssuerError};
use crate::signing::{Activation, SignRequest, verification_method};
use crate::status_lists::{EntryFor, ListChoice};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions, ecdsa_sd};
use inkan_formats::jose::{KeyHint, vc_jwt};
use inkan_formats::trust::IssuerTrust;
use inkan_formats::verify::{VerifyOptions, verify_value};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// `/credentials/issue` options: the VC API's `IssueCredentialOptions` and Inkan's own.
///
/// Which key signs: `keyId` when given (an Inkan extension, `key_…`); else `credentialId` when
/// it is a key id (Inkan's earlier use of that member, kept so existing clients keep working);
/// else the key of the client's scope that `credential.issuer` names (its own `did:key` or
/// `did:jwk`, or an identifier bound to it by `issuer.bind`); else the one key the client's
/// scope names. In the VC API, `credentialId` identifies the issued credential; any other
/// value is accepted as that and does not choose a key.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IssueOptions {
    /// The proof type; only `DataIntegrityProof` (for `ldp_vc`).
    #[serde(rename = "type")]
    pub proof_type: Option<String>,
    /// The key (Inkan extension; `key_…`).
    pub key_id: Option<String>,
    /// The VC API's identifier of the credential; a key id here names the key (Inkan's
    /// earlier use, kept for compatibility).
    pub credential_id: Option<String>,
    /// `ldp_vc` (Data Integrity, the default) or `vc+jwt` (VCDM 2.0 secured with JOSE).
    pub format: Option<String>,
    /// For `ldp_vc`: the cryptosuite (default `ecdsa-rdfc-2019` for EC keys,
    /// `eddsa-rdfc-2022` for Ed25519; `ecdsa-sd-2023` for a selectively disclosable base proof
    /// on a P-256 key, with `mandatoryPointers`).
    pub cryptosuite: Option<String>,
    /// The proof's `created` (XML Schema dateTime); now when absent.
    pub created: Option<String>,
    /// The proof's `challenge` (`ldp_vc`).
    pub challenge: Option<String>,
    /// The proof's `domain` (`ldp_vc`).
    pub domain: Option<String>,
    /// Deliver the signed document to this registered destination (`dst_…`) too.
    pub deliver_to: Option<String>,
    /// For `ecdsa-sd-2023`: JSON pointers (RFC 6901) of what every disclosure derived from the
    /// credential must reveal (the VC API's `mandatoryPointers`).
    pub mandatory_pointers: Option<Vec<String>>,
    /// Give the credential entries in the signing key's status lists (Inkan extension;
    /// `POST /v1/status-lists`): Inkan hands out an index of each at random and adds the
    /// `credentialStatus` (a `BitstringStatusListEntry`, or an array of them).
    pub credential_status: Option<CredentialStatusOption>,
}

/// `options.credentialStatus`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialStatusOption {
    /// The list (`sl_…`), an array of up to four lists of different purposes (revocation and
    /// suspension, say), or `"default"`: the key's newest published revocation list.
    pub status_list: Value,
}

/// `/credentials/issue` request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The unsigned credential.
    pub credential: Value,
    /// How to secure it; all defaults when absent.
    #[serde(default)]
    pub options: Option<IssueOptions>,
}

/// The cryptosuites `options.cryptosuite` may name.
const SUITES: &str =
    "eddsa-rdfc-2022, eddsa-jcs-2022, ecdsa-rdfc-2019, ecdsa-jcs-2019 or ecdsa-sd-2023";

/// Issues a credential: an organisation's system client e-seals it with one of its keys.
/// Refusals carry problem details (RFC 9457; VCDM 2.0 §7.2 for the data model).
#[utoipa::path(post, path = "/credentials/issue", request_body = IssueRequest, tag = "vc",
    responses((status = 201, body = super::IssuedCredential), (status = 400, description = "Invalid credential or options (problem details naming the field)"),
              (status = 403, description = "Refused by the signing module")))]
pub async fn issue(
    State(state): State<Arc<ApiState>>,
    AuthenticatedForSigning(caller, token): AuthenticatedForSigning,
    request: Result<JsonBody<IssueRequest>, ApiError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let JsonBody(request) = request.map_err(ApiError::with_problem_details)?;
    issue_credential(&state, caller, token, request)
        .await
        .map_err(ApiError::with_problem_details)
}

async fn issue_credential(
    state: &Arc<ApiState>,
    caller: crate::auth::Caller,
    token: Option<crate::auth::TokenCheck>,
    request: IssueRequest,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if caller.kind != CallerKind::Client {
        return Err(AuthError::Forbidden(
            "credentials are issued by an organisation's system client (standing approval); \
             people sign hashes through the CSC API with a SAD"
                .into(),
        )
        .into());
    }
    let options = request.options.unwrap_or_default();
    let format = options.format.as_deref().unwrap_or("ldp_vc");
    let document_type = match format {
        "ldp_vc" => "ldp_vc",
        "vc+jwt" | "jwt" => "vc+jwt",
        _ => {
            return Err(ApiError::bad_request(
                "options.format: use ldp_vc or vc+jwt",
            ));
        }
    };
    if document_type == "vc+jwt" {
        for (field, given) in [
            ("options.type", options.proof_type.is_some()),
            ("options.cryptosuite", options.cryptosuite.is_some()),
            ("options.created", options.created.is_some()),
            ("options.challenge", options.challenge.is_some()),
            ("options.domain", options.domain.is_some()),
            (
                "options.mandatoryPointers",
                options.mandatory_pointers.is_some(),
            ),
        ] {
            if given {
                return Err(ApiError::bad_request(format!(
                    "{field}: a Data Integrity option; vc+jwt has no embedded proof"
                )));
            }
        }
    }
    if options
        .proof_type
        .as_deref()
        .is_some_and(|t| t != "DataIntegrityProof")
    {
        return Err(ApiError::bad_request(
            "options.type: only DataIntegrityProof (with options.cryptosuite) is made",
        ));
    }
    if options
        .created
        .as_deref()
        .is_some_and(|c| inkan_formats::vcdm::date_time_stamp(c).is_none())
    {
        return Err(ApiError::bad_request(
            "options.created: must be an XML Schema dateTimeStamp (e.g. 2026-01-01T00:00:00Z)",
        ));
    }
    let suite = match &options.cryptosuite {
        Some(name) => Some(
            Cryptosuite::from_name(name)
                .map_err(|_| ApiError::bad_request(format!("options.cryptosuite: use {SUITES}")))?,
        ),
        None => None,
    };
    let mut credential = request.credential;
    // The data model first (criteria 2.2.3(1)A; VCDM 2.0): a credential that names its issuer
    // is checked as it is; one without is checked once the key's did:key is filled in.
    let named_issuer = issuer::w3c_issuer(&credential)
        .map_err(issuer_error)?
        .map(str::to_owned);
    if named_issuer.is_some() {
        inkan_formats::vcdm::validate_credential(&credential, "credential")
            .map_err(|e| ApiError::data_model(&e))?;
    }
    let (key, checked_at) = choose_key(state, &caller, &options, named_issuer.as_deref()).await?;
    if named_issuer.is_none() {
        let public_key = crate::signing::key_ref(&key)
            .map_err(signing_error)?
            .public_key;
        if let Some(object) = credential.as_object_mut() {
            object.insert("issuer".into(), public_key.did_key().into());
        }
        inkan_formats::vcdm::validate_credential(&credential, "credential")
            .map_err(|e| ApiError::data_model(&e))?;
    }
    let deliver_to = options.deliver_to.clone();
    super::check_destination(state, &key.owner, deliver_to.as_deref()).await?;
    let signer = state.signing.signer(SignRequest {
        caller,
        key,
        activation: Activation::Standing,
        document_type: document_type.into(),
        checked_at,
        token,
    });
    let key_ref = signer.key_ref().map_err(signing_error)?;
    // The issuer is one the key stands for (criteria 2.2.3(1)A), checked before anything is
    // signed.
    if let Some(named) = &named_issuer {
        issuer::check(
            &*state.service.store,
            &signer.request().key,
            &key_ref.public_key,
            "credential.issuer",
            named,
        )
        .await
        .map_err(issuer_error)?;
    }
    // A VCDM 2.0 vc+jwt's claims set is the credential: a top-level `iss` would be read as
    // the JWT's issuer, so it obeys the same rule.
    if let Some(iss) = credential.get("iss") {
        let named = iss.as_str().ok_or_else(|| {
            issuer_error(IssuerError::Refused {
                field: "credential.iss".into(),
                message: "a string".into(),
            })
        })?;
        issuer::check(
            &*state.service.store,
            &signer.request().key,
            &key_ref.public_key,
            "credential.iss",
            named,
        )
        .await
        .map_err(issuer_error)?;
    }
    // The Data Integrity options, checked before a status index is handed out.
    let suite = match (document_type, suite) {
        ("vc+jwt", _) => None,
        (_, Some(suite)) => Some(suite),
        (_, None) => Some(default_suite(key_ref.algorithm)?),
    };
    if suite == Some(Cryptosuite::EcdsaSd2023) {
        for (field, given) in [
            ("options.challenge", options.challenge.is_some()),
            ("options.domain", options.domain.is_some()),
        ] {
            if given {
                return Err(ApiError::bad_request(format!(
                    "{field}: an ecdsa-sd-2023 base proof is an issuer's assertion, made without one"
                )));
            }
        }
    } else if suite.is_some() && options.mandatory_pointers.is_some() {
        return Err(ApiError::bad_request(
            "options.mandatoryPointers is for the ecdsa-sd-2023 cryptosuite",
        ));
    }
    status_entry(state, &signer, &mut credential, &options).await?;
    let secured = match (document_type, suite) {
        ("vc+jwt", _) | (_, None) => {
            let jwt = vc_jwt::issue_vc_jwt(&signer, &key_ref, &credential, KeyHint::Kid)
                .await
                .map_err(|e| document_error(&signer, e))?;
            json!({
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "id": format!("data:application/vc+jwt,{jwt}"),
                "type": "EnvelopedVerifiableCredential",
            })
        }
        (_, Some(suite)) => {
            if suite == Cryptosuite::EcdsaSd2023 {
                // The base signature is the device's, through the signing module; the HMAC
                // key and the ephemeral key are made here for this credential only.
                let options = ecdsa_sd::BaseOptions {
                    created: options.created.clone(),
                    verification_method: Some(verification_method(&key_ref.public_key)),
                    mandatory_pointers: with_mandatory_members(
                        &credential,
                        options.mandatory_pointers.clone().unwrap_or_default(),
                    ),
                };
                let secrets = ecdsa_sd::BaseSecrets::generate(&mut rand_core::OsRng);
                ecdsa_sd::sign_base(&credential, &signer, &key_ref, &options, secrets)
                    .await
                    .map_err(|e| document_error(&signer, e))?
            } else {
                let options = ProofOptions {
                    created: options.created.clone(),
                    verification_method: Some(verification_method(&key_ref.public_key)),
                    challenge: options.challenge.clone(),
                    domain: options.domain.clone(),
                    ..ProofOptions::assertion(suite)
                };
                data_integrity::sign(&credential, &signer, &key_ref, &options)
                    .await
                    .map_err(|e| document_error(&signer, e))?
            }
        }
    };
    let mut body = super::after_signing(state, &signer, &secured, deliver_to.as_deref()).await?;
    body.insert("verifiableCredential".into(), secured);
    Ok((StatusCode::CREATED, Json(Value::Object(body))))
}

/// The `credentialStatus` entry that `options.credentialStatus` asks for, added to
/// `credential` once every other check of the request has passed (an index handed out is never
/// handed out again, even if the signature then fails) and given to `signer`, which binds it
/// to the signature in the batch that logs it. Refuses a
/// credential that brings an entry of its own in one of Inkan's lists (its index would not be
/// handed out), asks for one on a VCDM 1.1 credential (whose context does not define the entry),
/// or names an issuer other than the key's `did:key`, which signs the list (verifiers match the
/// two).
async fn status_entry(
    state: &ApiState,
    signer: &crate::signing::ActivatedSigner,
    credential: &mut Value,
    options: &IssueOptions,
) -> Result<(), ApiError> {
    if let Some(given) = credential.get("credentialStatus") {
        if options.credential_status.is_some() {
            return Err(ApiError::bad_request(
                "credential.credentialStatus: Inkan adds the entry that options.credentialStatus \
                 asks for; give one or the other",
            ));
        }
        if state.status_lists.points_into_a_list(given) {
            return Err(ApiError::bad_request(
                "credential.credentialStatus: an entry in a list Inkan keeps is added by Inkan \
                 (options.credentialStatus), never given",
            ));
        }
        return Ok(());
    }
    let Some(status) = &options.credential_status else {
        return Ok(());
    };
    let v2 = credential
        .get("@context")
        .and_then(|c| c.get(0))
        .and_then(Value::as_str)
        == Some("https://www.w3.org/ns/credentials/v2");
    if !v2 {
        return Err(ApiError::bad_request(
            "options.credentialStatus: a BitstringStatusListEntry needs a VCDM 2.0 credential \
             (@context https://www.w3.org/ns/credentials/v2)",
        ));
    }
    grant_covers(signer.request())?;
    let key = &signer.request().key;
    let did = crate::signing::key_ref(key)
        .map_err(signing_error)?
        .public_key
        .did_key();
    let issuer = issuer::w3c_issuer(credential).map_err(issuer_error)?;
    if issuer.is_some_and(|named| named != did) {
        return Err(ApiError::bad_request(
            "options.credentialStatus: the key's status lists are issued by its did:key; a \
             credential with another issuer would fail verifiers that match the two",
        ));
    }
    let choice = ListChoice::parse(&status.status_list, true)?;
    let mut entries = state
        .status_lists
        .entries_for(
            key,
            &choice,
            if signer.request().document_type == "vc+jwt" {
                EntryFor::W3cJwt
            } else {
                EntryFor::W3cDataIntegrity
            },
            signer,
        )
        .await?;
    if let Some(object) = credential.as_object_mut() {
        let status = match entries.len() {
            1 => entries.remove(0),
            _ => Value::Array(entries),
        };
        object.insert("credentialStatus".into(), status);
    }
    Ok(())
}

/// Refuses, before a status index is handed out, a request whose standing approval does not
/// cover its document type (the signing module would refuse it after, and the index would be
/// spent).
fn grant_covers(request: &SignRequest) -> Result<(), ApiError> {
    if !request
        .caller
        .grant_covers(request.key.id.as_str(), &request.document_type)
    {
        return Err(AuthError::Forbidden(format!(
            "the client's standing approval does not cover {} documents",
            request.document_type
        ))
        .into());
    }
    Ok(())
}

/// How to name the key, for refusals.
const HOW_TO_CHOOSE: &str = "name the key with options.keyId, or give as credential.issuer \
     the did:key or did:jwk of a key in the client's scope (GET /v1/keys shows them) or an \
     identifier bound to one";

/// The key that signs (see [`IssueOptions`]): named, else the one of the client's scope that
/// `issuer` names, else the only one of its scope. A 400 saying how to choose otherwise.
async fn choose_key(
    state: &ApiState,
    caller: &crate::auth::Caller,
    options: &IssueOptions,
    issuer: Option<&str>,
) -> Result<(inkan_store::KeyRecord, Option<u64>), ApiError> {
    let legacy = options
        .credential_id
        .as_deref()
        .filter(|id| inkan_store::KeyId::parse(id).is_ok());
    if let Some(id) = options.key_id.as_deref().or(legacy) {
        return load_signing_key(state, caller, id).await;
    }
    let scoped: Vec<&str> = caller
        .scope
        .as_ref()
        .map(|scope| {
            scope
                .keys
                .iter()
                .filter(|g| g.operations.contains(&Operation::Sign))
                .map(|g| g.key.as_str())
                .collect()
        })
        .unwrap_or_default();
    let Some(named) = issuer else {
        return match scoped.as_slice() {
            [only] => load_signing_key(state, caller, only).await,
            [] => Err(ApiError::bad_request(
                "options.keyId: this client's scope names no key it may sign with",
            )),
            _ => Err(ApiError::bad_request(format!(
                "options.keyId: the client's scope names several keys; {HOW_TO_CHOOSE}"
            ))),
        };
    };
    let mut matching = Vec::new();
    for id in scoped {
        let Ok(key_id) = inkan_store::KeyId::parse(id) else {
            continue;
        };
        let key = match state.service.registry.get(&key_id).await {
            Ok(key) => key,
            Err(crate::keys::KeyError::NotFound(_)) => continue,
            Err(e) => return Err(AuthError::from(e).into()),
        };
        if crate::auth::access::authorize_key(caller, &key, Operation::Sign).is_err() {
            continue;
        }
        let Ok(key_ref) = crate::signing::key_ref(&key) else {
            continue;
        };
        if issuer::stands_for(&*state.service.store, &key, &key_ref.public_key, named)
            .await
            .map_err(|e| ApiError::internal(&e))?
        {
            matching.push(key);
        }
    }
    match matching.len() {
        1 => Ok((matching.remove(0), None)),
        0 => Err(ApiError::bad_request(format!(
            "credential.issuer: no key this client may sign with stands for the issuer named; \
             {HOW_TO_CHOOSE}"
        ))),
        _ => Err(ApiError::bad_request(
            "options.keyId: several keys of the client's scope stand for credential.issuer; \
             name one with options.keyId",
        )),
    }
}

/// The members of a credential a holder may never leave out of an `ecdsa-sd-2023` disclosure,
/// added to the issuer's mandatory pointers when the credential has them: who issued it, when
/// it is valid, and where its status is (a derived credential without `credentialStatus`
/// could never be revoked, one without `validUntil` would never expire).
const ALWAYS_MANDATORY: [&str; 6] = [
    "/issuer",
    "/validFrom",
    "/validUntil",
    "/issuanceDate",
    "/expirationDate",
    "/credentialStatus",
];

fn with_mandatory_members(credential: &Value, mut pointers: Vec<String>) -> Vec<String> {
    for pointer in ALWAYS_MANDATORY {
        if credential.pointer(pointer).is_some() && !pointers.iter().any(|p| p == pointer) {
            pointers.push(pointer.to_owned());
        }
    }
    pointers
}

/// An SD-JWT VC to issue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SdJwtIssueRequest {
    /// The issuer's key.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// The credential type (`vct`).
    pub vct: String,
    /// The issuer (`iss`): the key's own `did:key`/`did:jwk` or an identifier bound to it
    /// (`signing::issuer`); the key's `did:key` when absent.
    pub issuer: Option<String>,
    /// The claims (a JSON object).
    pub claims: Value,
    /// JSON pointers into `claims` of what is selectively disclosable.
    #[serde(default)]
    pub disclosable: Vec<String>,
    /// The holder's public JWK, for `cnf` (Key Binding).
    pub holder_jwk: Option<Value>,
    /// `exp`, Unix seconds.
    pub expires_at: Option<i64>,
    /// The `status` claim (a status list reference).
    pub status: Option<Value>,
    /// Give the credential an entry in one of the key's token status lists signed as JWTs
    /// (`sl_…`, or `"default"`: the key's newest; Inkan extension; `POST /v1/status-lists`
    /// with `format` `token`): Inkan hands out an index at random and sets `status`
    /// (`status_list.idx`, `status_list.uri`).
    pub status_list: Option<String>,
    /// Deliver the signed document to this registered destination (`dst_…`) too.
    pub deliver_to: Option<String>,
}

/// Issues an SD-JWT VC (`dc+sd-jwt`): an organisation's system client e-seals it.
#[utoipa::path(post, path = "/v1/credentials/sd-jwt", request_body = SdJwtIssueRequest, tag = "vc",
    responses((status = 201, body = super::IssuedSdJwt), (status = 400, description = "Invalid claims")))]
pub async fn issue_sd_jwt(
    State(state): State<Arc<ApiState>>,
    AuthenticatedForSigning(caller, token): AuthenticatedForSigning,
    JsonBody(request): JsonBody<SdJwtIssueRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if caller.kind != CallerKind::Client {
        return Err(AuthError::Forbidden(
            "credentials are issued by an organisation's system client (standing approval)".into(),
        )
        .into());
    }
    let (key, checked_at) = load_signing_key(&state, &caller, &request.credential_id).await?;
    let holder_key = request
        .holder_jwk
        .as_ref()
        .map(inkan_formats::jose::public_key_from_jwk)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("holderJwk: {e}")))?;
    let deliver_to = request.deliver_to.clone();
    super::check_destination(&state, &key.owner, deliver_to.as_deref()).await?;
    let signer = state.signing.signer(SignRequest {
        caller,
        key,
        activation: Activation::Standing,
        document_type: "dc+sd-jwt".into(),
        checked_at,
        token,
    });
    let key_ref = signer.key_ref().map_err(signing_error)?;
    // `iss` is one the key stands for (criteria 2.2.3(1)A); none named is its did:key.
    if let Some(named) = &request.issuer {
        issuer::check(
            &*state.service.store,
            &signer.request().key,
            &key_ref.public_key,
            "issuer",
            named,
        )
        .await
        .map_err(issuer_error)?;
    }
    // The status entry last, once the request is otherwise sound (an index handed out is never
    // handed out again).
    let status = match (&request.status_list, request.status) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "status: Inkan sets it for statusList; give one or the other",
            ));
        }
        (Some(list), None) => {
            if request
                .issuer
                .as_deref()
                .is_some_and(|named| named != key_ref.public_key.did_key())
            {
                return Err(ApiError::bad_request(
                    "statusList: the key's status lists are signed by its did:key; name no \
                     other issuer with one",
                ));
            }
            grant_covers(signer.request())?;
            let choice = ListChoice::parse(&Value::String(list.clone()), false)?;
            state
                .status_lists
                .entries_for(&signer.request().key, &choice, EntryFor::SdJwtVc, &signer)
                .await?
                .into_iter()
                .next()
        }
        (None, Some(given)) if state.status_lists.points_into_a_list(&given) => {
            return Err(ApiError::bad_request(
                "status: an entry in a list Inkan keeps is set by Inkan (statusList), never given",
            ));
        }
        (None, status) => status,
    };
    let issue = inkan_formats::jose::sd_jwt::SdJwtVcIssue {
        vct: request.vct,
        issuer: Some(
            request
                .issuer
                .unwrap_or_else(|| key_ref.public_key.did_key()),
        ),
        issued_at: Some(state.auth.now() / 1000),
        not_before: None,
        expires_at: request.expires_at,
        holder_key,
        status,
        claims: request.claims,
        selectively_disclosable: request.disclosable,
        decoys_per_object: 0,
        hint: KeyHint::Kid,
    };
    let issued = inkan_formats::jose::sd_jwt::issue_sd_jwt_vc(
        &signer,
        &key_ref,
        &issue,
        &mut rand_core::OsRng,
    )
    .await
    .map_err(|e| document_error(&signer, e))?;
    let credential = Value::String(issued.serialized);
    let mut body =
        super::after_signing(&state, &signer, &credential, deliver_to.as_deref()).await?;
    body.insert("credential".into(), credential);
    Ok((StatusCode::CREATED, Json(Value::Object(body))))
}

/// An ISO/IEC 18013-5 mdoc to issue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MdocIssueRequest {
    /// The issuer's key (ES256, ES384 or EdDSA), with its document signer certificate
    /// attached: it goes in `x5chain`.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// `docType`, e.g. `org.iso.18013.5.1.mDL`.
    pub doc_type: String,
    /// Name space → data element identifier → value (JSON, written as CBOR; see
    /// `inkan_formats::mdoc::cbor::from_json` for dates and byte strings).
    pub name_spaces: serde_json::Map<String, Value>,
    /// The holder's public JWK: the MSO's `deviceKeyInfo.deviceKey`.
    pub device_key_jwk: Value,
    /// Start of validity: Unix seconds or an RFC 3339 date-time; now when absent.
    pub valid_from: Option<Value>,
    /// End of validity: Unix seconds or an RFC 3339 date-time; a year after `validFrom`
    /// when absent.
    pub valid_until: Option<Value>,
    /// Deliver the signed document to this registered destination (`dst_…`) too.
    pub deliver_to: Option<String>,
    /// A status list of the issuer key (`sl_…`, a token list signed as `cwt`, or `"default"`:
    /// the key's newest): Inkan hands out an index of it at random and sets the MSO's `status`
    /// (`status_list.idx`, `uri`).
    pub status_list: Option<String>,
}

/// Default validity of an mdoc: a year.
const MDOC_VALIDITY_SECONDS: i64 = 365 * 86_400;

/// Unix seconds from a JSON number or an RFC 3339 date-time text.
fn unix_seconds(field: &str, value: &Value) -> Result<i64, ApiError> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => inkan_formats::mdoc::cbor::parse_rfc3339("date", text).ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(format!(
            "{field}: give Unix seconds or an RFC 3339 date-time"
        ))
    })
}

/// Issues an mdoc (ISO/IEC 18013-5 IssuerSigned): an organisation's system client signs the
/// Mobile Security Object with its document signer key under standing approval. Returns the
/// IssuerSigned as base64url CBOR, for the holder's wallet.
#[utoipa::path(post, path = "/v1/credentials/mdoc", request_body = MdocIssueRequest, tag = "vc",
    responses((status = 201, body = IssuedMdoc),
              (status = 400, description = "Invalid data elements, device key or validity, or an issuer key without a certificate"),
              (status = 403, description = "Refused by the signing module")))]
pub async fn issue_mdoc(
    State(state): State<Arc<ApiState>>,
    AuthenticatedForSigning(caller, token): AuthenticatedForSigning,
    JsonBody(request): JsonBody<MdocIssueRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    use base64::Engine as _;
    if caller.kind != CallerKind::Client {
        return Err(AuthError::Forbidden(
            "credentials are issued by an organisation's system client (standing approval)".into(),
        )
        .into());
    }
    let (key, checked_at) = load_signing_key(&state, &caller, &request.credential_id).await?;
    if key.certificate_chain.is_empty() {
        return Err(ApiError::bad_request(format!(
            "the issuer key {} has no certificate: an mdoc carries its document signer \
             certificate in x5chain (ISO/IEC 18013-5 9.1.2.4). Make a request with `inkan keys \
             csr`, have it certified by your IACA, and attach it with `inkan keys attach-cert`",
            request.credential_id
        )));
    }
    let device_key = inkan_formats::jose::public_key_from_jwk(&request.device_key_jwk)
        .map_err(|e| ApiError::bad_request(format!("deviceKeyJwk: {e}")))?;
    let mut namespaces = Vec::with_capacity(request.name_spaces.len());
    for (namespace, elements) in &request.name_spaces {
        let Value::Object(elements) = elements else {
            return Err(ApiError::bad_request(format!(
                "nameSpaces.{namespace}: an object of data elements"
            )));
        };
        let mut items = Vec::with_capacity(elements.len());
        for (name, value) in elements {
            let value = inkan_formats::mdoc::cbor::from_json(value).map_err(|e| {
                ApiError::bad_request(format!("nameSpaces.{namespace}.{name}: {e}"))
            })?;
            items.push((name.clone(), value));
        }
        namespaces.push((namespace.clone(), items));
    }
    if namespaces.iter().all(|(_, items)| items.is_empty()) {
        return Err(ApiError::bad_request("nameSpaces holds no data element"));
    }
    let now = state.auth.now() / 1000;
    let valid_from = match &request.valid_from {
        Some(v) => unix_seconds("validFrom", v)?,
        None => now,
    };
    let valid_until = match &request.valid_until {
        Some(v) => unix_seconds("validUntil", v)?,
        None => valid_from.saturating_add(MDOC_VALIDITY_SECONDS),
    };
    let mut issue = inkan_formats::mdoc::IssueRequest {
        doc_type: request.doc_type,
        namespaces,
        device_key,
        validity: inkan_formats::mdoc::ValidityInfo {
            signed: now,
            valid_from,
            valid_until,
            expected_update: None,
        },
        status: None,
    };
    let deliver_to = request.deliver_to.clone();
    super::check_destination(&state, &key.owner, deliver_to.as_deref()).await?;
    let signer = state.signing.signer(SignRequest {
        caller,
        key,
        activation: Activation::Standing,
        document_type: "mso_mdoc".into(),
        checked_at,
        token,
    });
    let key_ref = signer.key_ref().map_err(signing_error)?;
    // The issuer is the key's own document signer certificate, and the data elements naming
    // the issuing authority agree with it (criteria 2.2.3(1)A).
    issuer::check_mdoc(
        &signer.request().key,
        &key_ref.public_key,
        &request.name_spaces,
    )
    .map_err(issuer_error)?;
    // The status entry last, once the request is otherwise sound (an index handed out is never
    // handed out again).
    if let Some(list) = &request.status_list {
        grant_covers(signer.request())?;
        let choice = ListChoice::parse(&Value::String(list.clone()), false)?;
        let entries = state
            .status_lists
            .entries_for(&signer.request().key, &choice, EntryFor::Mdoc, &signer)
            .await?;
        // The same `{"status_list": {"idx", "uri"}}` as the JWT claim, in CBOR.
        if let Some(entry) = entries.first() {
            let cbor = inkan_formats::mdoc::cbor::from_json(entry).map_err(format_error)?;
            issue.status = inkan_formats::status::StatusListReference::from_cbor_status(&cbor)
                .map_err(format_error)?;
        }
    }
    let issued = inkan_formats::mdoc::issue(&signer, &key_ref, &issue, &mut rand_core::OsRng)
        .await
        .map_err(|e| document_error(&signer, e))?;
    let bytes = issued.to_bytes().map_err(format_error)?;
    let issuer_signed =
        Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let mut body =
        super::after_signing(&state, &signer, &issuer_signed, deliver_to.as_deref()).await?;
    body.insert("issuerSigned".into(), issuer_signed);
    body.insert("docType".into(), issue.doc_type.clone().into());
    Ok((StatusCode::CREATED, Json(Value::Object(body))))
}

fn default_suite(alg: inkan_device::Algorithm) -> Result<Cryptosuite, ApiError> {
    Cryptosuite::default_for(alg).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Data Integrity has no cryptosuite for {alg} keys; use format vc+jwt"
        ))
    })
}

/// An issuer the key does not stand for: a 400 naming the field; a store failure inside.
fn issuer_error(e: IssuerError) -> ApiError {
    match e {
        IssuerError::Refused { .. } => ApiError::bad_request(e.to_string()),
        IssuerError::Store(e) => ApiError::internal(&e),
    }
}

/// A format error outside signing: what is wrong with the request or document.
fn format_error(e: inkan_formats::FormatError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// `/credentials/verify` and `/presentations/verify` options. Members other
/// implementations send and Inkan does not use are ignored.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequestOptions {
    /// The expected Data Integrity `challenge` (presentations).
    pub challenge: Option<String>,
    /// The expected Data Integrity `domain` (presentations).
    pub domain: Option<String>,
    /// The SessionTranscript an mdoc DeviceResponse is bound to: base64url CBOR
    /// (SessionTranscript or SessionTranscriptBytes).
    pub session_transcript: Option<String>,
    /// The checks the caller asks for (VC API): `proof` (always made) and `validityPeriod`.
    /// Both when absent. An unknown name is a 400 naming it.
    pub checks: Option<Vec<String>>,
    /// The proof purpose expected (VC API, Data Integrity): `assertionMethod` for credentials
    /// and `authentication` for presentations when absent.
    pub expected_proof_purpose: Option<String>,
}

/// The checks a caller may ask for.
const KNOWN_CHECKS: [&str; 2] = [
    inkan_formats::verify::CHECK_PROOF,
    inkan_formats::verify::CHECK_VALIDITY_PERIOD,
];

/// `/credentials/verify` request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyCredentialRequest {
    /// The credential (Data Integrity, or an `EnvelopedVerifiableCredential`).
    pub verifiable_credential: Value,
    /// Options.
    #[serde(default)]
    pub options: VerifyRequestOptions,
}

/// `/presentations/verify` request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyPresentationRequest {
    /// The presentation.
    pub verifiable_presentation: Value,
    /// Options.
    #[serde(default)]
    pub options: VerifyRequestOptions,
}

/// Verifies a credential. No authentication: verifying is public. A credential whose issuer
/// certificate (mdoc `x5chain`, JOSE `x5c`) leads to none of `[verify] trust_anchors` is not
/// verified: 400 with `issuerTrust: "unauthenticated"` (its proof did verify).
#[utoipa::path(post, path = "/credentials/verify", request_body = VerifyCredentialRequest, tag = "vc",
    responses((status = 200, body = VerificationResult),
              (status = 400, description = "Not verified (issuerTrust \"unauthenticated\" when only the issuer's certificate is not vouched for)", body = VerificationResult)))]
pub async fn verify_credential(
    State(state): State<Arc<ApiState>>,
    JsonBody(request): JsonBody<VerifyCredentialRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    verify_document(
        &state,
        &request.verifiable_credential,
        &request.options,
        Expected::Credential,
    )
    .await
}

/// Verifies a presentation (its `challenge` and `domain` when given) and every credential in
/// it.
#[utoipa::path(post, path = "/presentations/verify", request_body = VerifyPresentationRequest, tag = "vc",
    responses((status = 200, body = VerificationResult),
              (status = 400, description = "Not verified (issuerTrust \"unauthenticated\" when only an issuer's certificate is not vouched for)", body = VerificationResult)))]
pub async fn verify_presentation(
    State(state): State<Arc<ApiState>>,
    JsonBody(request): JsonBody<VerifyPresentationRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    verify_document(
        &state,
        &request.verifiable_presentation,
        &request.options,
        Expected::Presentation,
    )
    .await
}

/// What an endpoint verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Credential,
    Presentation,
}

/// `/credentials/derive` options (VC API `deriveCredential`).
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeriveOptions {
    /// JSON pointers (RFC 6901) of what to disclose beyond the mandatory statements.
    #[serde(default)]
    pub selective_pointers: Vec<String>,
}

/// `/credentials/derive` request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeriveRequest {
    /// A credential with an `ecdsa-sd-2023` base proof.
    pub verifiable_credential: Value,
    /// What to disclose.
    #[serde(default)]
    pub options: DeriveOptions,
}

/// Derives a selective disclosure from a credential with an `ecdsa-sd-2023` base proof (VC API
/// `deriveCredential`, a holder service). It needs no private key and signs nothing, so no
/// signing authority: any authenticated caller (a holder, or an organisation's client) may
/// ask, as the VC API authorises its holder endpoints; the base proof is checked first and
/// nothing of the credential is logged. CPU work, on the blocking pool behind the
/// verification gate (503 at once when it is full).
#[utoipa::path(post, path = "/credentials/derive", request_body = DeriveRequest, tag = "vc",
    responses((status = 201, description = "The derived credential: {verifiableCredential}", body = Object),
              (status = 400, description = "Not an ecdsa-sd-2023 base proof, a pointer that selects nothing, or a base proof that does not verify"),
              (status = 401, description = "Not authenticated"), (status = 503, description = "Verification gate full")))]
pub async fn derive(
    State(state): State<Arc<ApiState>>,
    Authenticated(_caller): Authenticated,
    JsonBody(request): JsonBody<DeriveRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let DeriveRequest {
        verifiable_credential,
        options,
    } = request;
    let derived = state
        .verifying
        .run(move || ecdsa_sd::derive(&verifiable_credential, &options.selective_pointers))
        .await
        .map_err(|e| match e {
            crate::blocking::GateError::Busy(_) => ApiError::busy(e.to_string()),
            crate::blocking::GateError::Failed(_) => ApiError::internal(&e),
        })?
        .map_err(format_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "verifiableCredential": derived })),
    ))
}

/// Verifies on the blocking pool behind the verification gate (JSON-LD canonicalisation and
/// signature checks are CPU work that would stall the async workers, criteria 2.1.3(12)): 503
/// at once when the gate is full. The document is an object (Data Integrity, or an envelope
/// unwrapped by `inkan_formats::envelope`), or a string holding a JWT, SD-JWT or CBOR text;
/// a string holding JSON is refused.
async fn verify_document(
    state: &ApiState,
    document: &Value,
    options: &VerifyRequestOptions,
    expected: Expected,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut skip_validity_period = false;
    if let Some(checks) = &options.checks {
        for check in checks {
            if !KNOWN_CHECKS.contains(&check.as_str()) {
                let named = if !check.is_empty()
                    && check.len() <= 40
                    && check
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    format!("`{check}`")
                } else {
                    "a name".into()
                };
                return Ok(failed(format!(
                    "options.checks: {named} is not a check this verifier makes (it makes: {})",
                    KNOWN_CHECKS.join(", ")
                )));
            }
        }
        skip_validity_period = !checks
            .iter()
            .any(|c| c == inkan_formats::verify::CHECK_VALIDITY_PERIOD);
    }
    let proof_purpose = match options.expected_proof_purpose.as_deref() {
        None => None,
        Some(name) => match inkan_formats::data_integrity::ProofPurpose::from_name(name) {
            Ok(purpose) => Some(purpose),
            Err(_) => {
                return Ok(failed(
                    "options.expectedProofPurpose: assertionMethod or authentication".into(),
                ));
            }
        },
    };
    let session_transcript = match &options.session_transcript {
        Some(text) => {
            use base64::Engine as _;
            match base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
            {
                Ok(bytes) => Some(bytes),
                Err(_) => {
                    return Ok(failed("options.sessionTranscript is not base64url".into()));
                }
            }
        }
        None => None,
    };
    // A JWT presentation (VP-JWT, SD-JWT with KB-JWT) is bound by `nonce` and `aud`: the
    // challenge and domain the caller expects.
    let options = VerifyOptions {
        nonce: options.challenge.clone(),
        aud: options.domain.clone(),
        challenge: options.challenge.clone(),
        domain: options.domain.clone(),
        session_transcript,
        at: state.auth.now() / 1000,
        skip_validity_period,
        proof_purpose,
        trust_anchors: state.verify_anchors.clone(),
        ..VerifyOptions::default()
    };
    let document = document.clone();
    let verified = state
        .verifying
        .run(move || verify_value(&document, &options))
        .await
        .map_err(|e| match e {
            crate::blocking::GateError::Busy(_) => ApiError::busy(e.to_string()),
            crate::blocking::GateError::Failed(_) => ApiError::internal(&e),
        })?;
    let verified = match verified {
        Ok(verified) => verified,
        Err(e) => return Ok(failed(e.to_string())),
    };
    if verified.presentation != (expected == Expected::Presentation) {
        return Ok(failed(match expected {
            Expected::Credential => {
                "verifiableCredential is a presentation: use /presentations/verify".into()
            }
            Expected::Presentation => {
                "verifiablePresentation is a credential: use /credentials/verify".into()
            }
        }));
    }
    let mut body = json!({
        "checks": verified.checks,
        "warnings": [],
        "errors": [],
        "format": verified.format,
        "details": verified.details,
    });
    match &verified.issuer_trust {
        IssuerTrust::Unauthenticated { reason } => {
            body["verified"] = false.into();
            body["issuerTrust"] = "unauthenticated".into();
            body["errors"] = json!([format!(
                "the issuer is unauthenticated: {reason} ([verify] trust_anchors)"
            )]);
            Ok((StatusCode::BAD_REQUEST, Json(body)))
        }
        trust => {
            body["verified"] = true.into();
            if *trust != IssuerTrust::NotApplicable {
                body["issuerTrust"] = trust.as_str().into();
            }
            Ok((StatusCode::OK, Json(body)))
        }
    }
}

/// A verification's answer (VC API `VerificationResult`, with Inkan's details).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // built as a map by `verify_document`; this is its documented shape
pub struct VerificationResult {
    /// Whether everything checked passed (and the issuer is vouched for where it must be).
    verified: bool,
    /// The checks made (`proof`, `validityPeriod`, …).
    checks: Option<Vec<String>>,
    warnings: Option<Vec<String>>,
    /// Why it is not verified.
    errors: Vec<String>,
    /// The format found (`vc+jwt`, `ldp_vc`, `dc+sd-jwt`, `mso_mdoc`, …).
    format: Option<String>,
    /// What was found: issuer, subject, claims, disclosures, …
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
    /// `authenticated`, or `unauthenticated` when the issuer's certificate leads to none of
    /// `[verify] trust_anchors`.
    issuer_trust: Option<String>,
}

/// `/v1/credentials/mdoc`'s answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // built as a map by `issue_mdoc`; this is its documented shape
pub struct IssuedMdoc {
    /// The IssuerSigned structure (ISO/IEC 18013-5), base64url CBOR.
    issuer_signed: String,
    doc_type: String,
    #[serde(flatten)]
    after: super::AfterSigningShape,
}

fn failed(message: String) -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"verified": false, "errors": [message]})),
    )
}
