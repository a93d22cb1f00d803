//! Holder signatures (criteria 2.2.3(2) ): presentations (SD-JWT + KB-JWT, Data
//! Integrity VP, ISO/IEC 18013-5 mdoc DeviceResponse) and the OpenID4VCI key proof a holder
//! signs to request a credential.
//!
//! Two steps, so that the holder consents to exactly what is signed:
//! 1. `POST /v1/holder/prepare` builds the document without signing (a `PreparingSigner`
//!    records the signing input) and answers what would be disclosed, to whom, and the
//!    SHA-256 of the signing input to authorise (CSC `credentials/authorize`, with the PIN and
//!    OTP encrypted);
//! 2. `POST /v1/holder/sign` builds the same document again (same inputs, including the
//!    `issuedAt` from step 1) through the signing module with the SAD; the SAD check compares
//!    digests, so anything other than what was prepared is refused.
//!
//! Stateless between the steps: nothing is stored but the SAD.
//!
//! What the holder is shown (the summary: what is disclosed, from which credential, to whom,
//! with which nonce or session) has a digest of its own, `disclosureDigest`
//! ([`crate::activation::disclosure_digest`]), which the activation data carries and the SAD
//! keeps; step 2 recomputes it from the document and the signing module refuses a mismatch
//! before the device signs (issue 18 point 3).
//!
//! mdoc (`mso_mdoc`): the device signature covers DeviceAuthentication = the SessionTranscript,
//! the docType and the (empty) device-signed name spaces, not the choice of issuer-signed
//! elements, which ISO/IEC 18013-5 leaves outside any device signature (each element is
//! signed by the issuer alone). Other elements of the same credential for the same session
//! have the same signing input: the disclosure digest is what refuses them. Whoever holds the
//! IssuerSigned can re-wrap a DeviceResponse anyway.

use super::super::ApiState;
use super::super::error::ApiError;
use super::super::extract::{Authenticated, JsonBody};
use super::csc::signing_error;
use super::keys::load_key;
use crate::auth::Caller;
use crate::auth::access::Operation;
use crate::keys::sha256_digest;
use crate::signing::prepare::PreparingSigner;
use crate::signing::{Activation, SignRequest, verification_method};
use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions};
use inkan_formats::jose::sd_jwt::{self, KeyBindingRequest};
use inkan_formats::jose::vc_jwt::{self, ProofRequest};
use inkan_formats::jose::{KeyHint, decode_compact, format_rfc3339};
use inkan_formats::mdoc::{self, IssuerSigned, ItemsRequest};
use inkan_formats::{FormatError, KeyRef, Signer};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// What a holder signs.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(tag = "format", deny_unknown_fields)]
pub enum HolderDocument {
    /// An SD-JWT VC presentation with a Key Binding JWT.
    #[serde(rename = "dc+sd-jwt")]
    SdJwt {
        /// The SD-JWT VC as issued (`<jwt>~<disclosure>~…~`).
        credential: String,
        /// JSON pointers of the claims to disclose.
        disclose: Vec<String>,
        /// The verifier (`aud`).
        audience: String,
        /// The verifier's nonce.
        nonce: String,
    },
    /// A Data Integrity verifiable presentation (`authentication` proof).
    #[serde(rename = "ldp_vp")]
    DataIntegrityVp {
        /// The unsigned presentation.
        presentation: Value,
        /// The verifier's challenge.
        challenge: String,
        /// The verifier's domain.
        domain: Option<String>,
        /// The cryptosuite (default `ecdsa-rdfc-2019` for EC keys, `eddsa-rdfc-2022` for
        /// Ed25519).
        cryptosuite: Option<String>,
    },
    /// An OpenID4VCI key proof (`openid4vci-proof+jwt`).
    #[serde(rename = "openid4vci-proof")]
    KeyProof {
        /// The Credential Issuer Identifier (`aud`).
        audience: String,
        /// The issuer's `c_nonce`.
        nonce: Option<String>,
    },
    /// An ISO/IEC 18013-5 mdoc DeviceResponse: the chosen elements of an IssuerSigned, with a
    /// `deviceSignature` over DeviceAuthentication for the verifier's SessionTranscript.
    #[serde(rename = "mso_mdoc")]
    Mdoc {
        /// The IssuerSigned as issued (base64url CBOR), its MSO's device key the holder's key.
        #[serde(rename = "issuerSigned")]
        issuer_signed: String,
        /// The expected `docType`; refused when the MSO says another.
        #[serde(rename = "docType")]
        doc_type: Option<String>,
        /// Name space → identifiers of the data elements to disclose; each must be in the
        /// IssuerSigned.
        elements: ItemsRequest,
        /// The SessionTranscript (or SessionTranscriptBytes) as base64url CBOR.
        #[serde(rename = "sessionTranscript")]
        session_transcript: String,
    },
}

/// Base64url (padding tolerated) of a field.
fn base64url(field: &'static str, text: &str) -> Result<Vec<u8>, FormatError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| FormatError::malformed(field, format!("not base64url: {e}")))
}

/// The IssuerSigned and SessionTranscript of an `mso_mdoc` document, checked against the
/// docType and elements asked for.
fn mdoc_inputs(
    issuer_signed: &str,
    doc_type: Option<&str>,
    elements: &ItemsRequest,
    session_transcript: &str,
) -> Result<(IssuerSigned, mdoc::MobileSecurityObject, Vec<u8>), FormatError> {
    let issued = IssuerSigned::from_bytes(&base64url("issuerSigned", issuer_signed)?)?;
    let mso = issued.mso()?;
    if let Some(expected) = doc_type
        && expected != mso.doc_type
    {
        return Err(FormatError::Rejected(format!(
            "the credential is a {:?}, not a {expected:?}",
            mso.doc_type
        )));
    }
    for (namespace, names) in elements {
        let held = issued
            .namespaces
            .iter()
            .find(|(ns, _)| ns == namespace)
            .map(|(_, items)| items.as_slice())
            .unwrap_or_default();
        if let Some(missing) = names
            .iter()
            .find(|name| !held.iter().any(|i| &i.item.element_identifier == *name))
        {
            return Err(FormatError::Rejected(format!(
                "data element {namespace}/{missing} is not in the credential"
            )));
        }
    }
    Ok((
        issued,
        mso,
        base64url("sessionTranscript", session_transcript)?,
    ))
}

impl HolderDocument {
    fn kind(&self) -> &'static str {
        match self {
            HolderDocument::SdJwt { .. } => "dc+sd-jwt",
            HolderDocument::DataIntegrityVp { .. } => "ldp_vp",
            HolderDocument::KeyProof { .. } => "openid4vci-proof",
            HolderDocument::Mdoc { .. } => "mso_mdoc",
        }
    }

    /// Who the signature is for, and what it discloses, for the holder to see.
    fn summary(&self) -> Result<Value, ApiError> {
        Ok(match self {
            HolderDocument::SdJwt {
                credential,
                disclose,
                audience,
                nonce,
            } => {
                let parts = sd_jwt::split_sd_jwt(credential).map_err(bad)?;
                let payload = decode_compact(parts.jws)
                    .and_then(|jws| jws.payload_json())
                    .map_err(bad)?;
                json!({
                    "audience": audience,
                    "nonce": nonce,
                    "issuer": payload.get("iss"),
                    "vct": payload.get("vct"),
                    "credential": sha256_digest(credential.as_bytes()),
                    "disclosed": disclose,
                })
            }
            HolderDocument::DataIntegrityVp {
                presentation,
                domain,
                challenge,
                ..
            } => {
                // Each credential presented: who issued it, its types, what it says of its
                // subject (a Data Integrity credential is presented whole: every claim goes),
                // and its digest.
                let credentials = match presentation.get("verifiableCredential") {
                    Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
                    Some(one) => vec![one],
                    None => Vec::new(),
                }
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    // A credential Inkan cannot read (enveloped, or only referenced) would be
                    // disclosed without the holder seeing what it says: refused.
                    let claims = c
                        .get("credentialSubject")
                        .filter(|s| s.is_object() || s.is_array())
                        .ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "verifiableCredential[{i}] has no embedded credentialSubject: the \
                                 holder is shown every claim a presentation discloses, and this \
                                 one cannot be read"
                            ))
                        })?;
                    // Its other members, by name (evidence, names, descriptions go too).
                    let others = names_besides(
                        c,
                        &["@context", "type", "issuer", "credentialSubject", "proof"],
                    );
                    Ok(json!({
                        "issuer": c.get("issuer").map(|i| i.get("id").unwrap_or(i)),
                        "type": c.get("type"),
                        "claims": shown(claims),
                        "otherMembers": others,
                        "digest": sha256_digest(c.to_string().as_bytes()),
                    }))
                })
                .collect::<Result<Vec<Value>, ApiError>>()?;
                // Whatever else the presentation says about its holder, shown by name. No
                // `holder` (null here) means the key's own did:key, which `build` writes.
                let other_members = names_besides(
                    presentation,
                    &["@context", "type", "verifiableCredential", "holder"],
                );
                json!({
                    "audience": domain,
                    "challenge": challenge,
                    "holder": presentation.get("holder"),
                    "credentials": credentials,
                    "otherMembers": other_members,
                    "presentation": sha256_digest(presentation.to_string().as_bytes()),
                })
            }
            HolderDocument::KeyProof { audience, nonce } => {
                json!({"audience": audience, "nonce": nonce,
                       "disclosed": ["the holder's public key"]})
            }
            HolderDocument::Mdoc {
                issuer_signed,
                doc_type,
                elements,
                session_transcript,
            } => {
                let (issued, mso, _) = mdoc_inputs(
                    issuer_signed,
                    doc_type.as_deref(),
                    elements,
                    session_transcript,
                )
                .map_err(bad)?;
                // Who issued it, as its document signer certificate says (not checked here).
                let issuer = mdoc::cose::x5chain(&issued.issuer_auth)
                    .ok()
                    .and_then(|chain| {
                        inkan_device::cert::CertificateChain::from_der_list(&chain).ok()
                    })
                    .map(|chain| chain.leaf_names().0);
                let disclosed: ItemsRequest = elements
                    .iter()
                    .filter(|(_, names)| !names.is_empty())
                    .map(|(ns, names)| (ns.clone(), names.clone()))
                    .collect();
                json!({
                    "docType": mso.doc_type,
                    "issuer": issuer,
                    "validUntil": format_rfc3339(mso.validity.valid_until),
                    "disclosed": disclosed,
                    "credential": sha256_digest(issuer_signed.as_bytes()),
                    "sessionTranscript": sha256_digest(session_transcript.as_bytes()),
                })
            }
        })
    }

    /// The digest of everything the holder is shown (criteria 2.2.3(2)A-2, issue 18): the
    /// format, the key, the time and the whole summary (what is disclosed, from which
    /// credential, to whom, with which nonce or session). The SAD is bound to it, so a
    /// document that discloses anything else is refused before the device signs, in formats
    /// whose signature does not cover the disclosure (an mdoc's issuer-signed elements) too.
    fn disclosure_digest(
        &self,
        summary: &Value,
        credential_id: &str,
        issued_at: i64,
    ) -> Result<String, ApiError> {
        crate::activation::disclosure_digest(self.kind(), credential_id, issued_at, summary)
            .map_err(bad)
    }

    /// Builds the document, signing through `signer`.
    async fn build(
        &self,
        signer: &dyn Signer,
        key: &KeyRef,
        issued_at: i64,
    ) -> Result<Value, FormatError> {
        match self {
            HolderDocument::SdJwt {
                credential,
                disclose,
                audience,
                nonce,
            } => {
                let pointers: Vec<&str> = disclose.iter().map(String::as_str).collect();
                let request = KeyBindingRequest {
                    audience,
                    nonce,
                    issued_at,
                };
                let presented =
                    sd_jwt::present_sd_jwt(signer, credential, &pointers, Some((key, &request)))
                        .await?;
                Ok(Value::String(presented))
            }
            HolderDocument::DataIntegrityVp {
                presentation,
                challenge,
                domain,
                cryptosuite,
            } => {
                let suite = match cryptosuite {
                    Some(name) => Cryptosuite::from_name(name)?,
                    None if key.algorithm == inkan_device::Algorithm::EdDsa => {
                        Cryptosuite::EddsaRdfc2022
                    }
                    None => Cryptosuite::EcdsaRdfc2019,
                };
                let mut presentation = presentation.clone();
                let did = key.public_key.did_key();
                if let Some(object) = presentation.as_object_mut() {
                    match object.get("holder") {
                        None => {
                            object.insert("holder".into(), did.into());
                        }
                        // The holder is the key's own DID: a presentation never speaks for
                        // another holder than the one who signs it.
                        Some(holder)
                            if holder.as_str() != Some(did.as_str())
                                && holder.get("id").and_then(Value::as_str)
                                    != Some(did.as_str()) =>
                        {
                            return Err(FormatError::Rejected(
                                "document.presentation.holder: the signing key's did:key (or \
                                 none)"
                                    .into(),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                // The VC Data Model before anything is signed (or prepared).
                inkan_formats::vcdm::validate_presentation(&presentation, "document.presentation")?;
                let options = ProofOptions {
                    created: Some(format_rfc3339(issued_at)),
                    verification_method: Some(verification_method(&key.public_key)),
                    ..ProofOptions::authentication(suite, challenge.clone(), domain.clone())
                };
                data_integrity::sign(&presentation, signer, key, &options).await
            }
            HolderDocument::KeyProof { audience, nonce } => {
                let request = ProofRequest {
                    audience,
                    nonce: nonce.as_deref(),
                    issued_at,
                    client_id: None,
                };
                let proof =
                    vc_jwt::issue_openid4vci_proof(signer, key, &request, KeyHint::Jwk).await?;
                Ok(Value::String(proof))
            }
            HolderDocument::Mdoc {
                issuer_signed,
                doc_type,
                elements,
                session_transcript,
            } => {
                let (issued, _, transcript) = mdoc_inputs(
                    issuer_signed,
                    doc_type.as_deref(),
                    elements,
                    session_transcript,
                )?;
                let response = mdoc::present(signer, key, &issued, elements, &transcript).await?;
                Ok(Value::String(
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(response.to_bytes()?),
                ))
            }
        }
    }
}

/// The names of `object`'s members other than `shown` (what a summary names but does not show).
fn names_besides<'a>(object: &'a Value, shown: &[&str]) -> Vec<&'a String> {
    object
        .as_object()
        .map(|o| o.keys().filter(|k| !shown.contains(&k.as_str())).collect())
        .unwrap_or_default()
}

/// Claims as the consent page can show them: a value longer than the pages show, or holding
/// control or invisible formatting characters, nested deeper than four levels, or claims
/// longer than 8 KiB in all, stand as their SHA-256 and size. (The disclosure digest covers
/// the credential's own digest, so what stands for a value still binds it.)
fn shown(claims: &Value) -> Value {
    const MAX_CLAIMS: usize = 8 * 1024;
    fn stand_in(value: &Value) -> Value {
        let text = value.to_string();
        Value::String(format!(
            "(not shown here: {} bytes, {})",
            text.len(),
            sha256_digest(text.as_bytes())
        ))
    }
    fn walk(value: &Value, depth: usize) -> Value {
        let readable = |text: &str| crate::oauth::request::check_text("", text).is_ok();
        match value {
            Value::String(text) if !text.is_empty() && !readable(text) => stand_in(value),
            Value::Array(_) | Value::Object(_) if depth >= 4 => stand_in(value),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, depth + 1)).collect()),
            Value::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(name, v)| {
                        let name = if readable(name) {
                            name.clone()
                        } else {
                            format!(
                                "(a name not shown here: {})",
                                sha256_digest(name.as_bytes())
                            )
                        };
                        (name, walk(v, depth + 1))
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let shown = walk(claims, 0);
    if shown.to_string().len() > MAX_CLAIMS {
        stand_in(claims)
    } else {
        shown
    }
}

fn bad(e: FormatError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// What a presentation would sign, and what the holder is shown before approving it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // built with json! by `prepare`; this is its documented shape
pub struct Prepared {
    format: String,
    /// The hashes to authorise (base64), SHA-256.
    hashes: Vec<String>,
    #[schema(rename = "hashAlgorithmOID")]
    #[serde(rename = "hashAlgorithmOID")]
    hash_algorithm_oid: String,
    /// What the activation data must carry: the digest of exactly these hashes.
    hashes_digest: String,
    num_signatures: u64,
    /// Unix seconds: the presentation's time, to send back to `/v1/holder/sign`.
    issued_at: i64,
    /// What is disclosed, to whom: what the holder is shown.
    #[schema(value_type = Object)]
    summary: serde_json::Value,
    /// base64url(SHA-256(JCS({format, credentialID, issuedAt, summary}))): recompute it from
    /// what you show; the activation data and `credentials/authorize` carry it.
    disclosure_digest: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrepareRequest {
    /// The holder's key.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// What to sign.
    pub document: HolderDocument,
}

/// The hash algorithm of prepared hashes (SHA-256).
const HASH_OID: &str = "2.16.840.1.101.3.4.2.1";

/// Step 1: what would be signed, and the hash to authorise.
#[utoipa::path(post, path = "/v1/holder/prepare", request_body = PrepareRequest, tag = "holder",
    responses((status = 200, body = Prepared)))]
pub async fn prepare(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<PrepareRequest>,
) -> Result<Json<Value>, ApiError> {
    let key_ref = holder_key(&state, &caller, &request.credential_id).await?;
    let issued_at = state.auth.now() / 1000;
    let recorder = PreparingSigner::new();
    match request.document.build(&recorder, &key_ref, issued_at).await {
        Ok(_) => {}
        // Formats that check their signer's output refuse the placeholder, after the signing
        // input was recorded: that is all a preparation needs.
        Err(FormatError::Signer(_)) if !recorder.inputs().is_empty() => {}
        Err(e) => return Err(bad(e)),
    }
    let digests: Vec<_> = recorder.inputs().iter().map(Sha256::digest).collect();
    let summary = request.document.summary()?;
    let disclosure_digest =
        request
            .document
            .disclosure_digest(&summary, &request.credential_id, issued_at)?;
    let hashes: Vec<String> = digests
        .iter()
        .map(|digest| base64::engine::general_purpose::STANDARD.encode(digest))
        .collect();
    Ok(Json(json!({
        "format": request.document.kind(),
        "hashes": hashes,
        "hashAlgorithmOID": HASH_OID,
        // What the holder's activationData must carry (criteria 2.2.3(2)A-2): the digest of
        // exactly these hashes, so the consent shown is the consent bound.
        "hashesDigest": crate::activation::hashes_digest(HASH_OID, &digests),
        "numSignatures": hashes.len(),
        "issuedAt": issued_at,
        "summary": summary,
        // What the activationData and credentials/authorize carry beside the hashes: the SAD
        // then signs only a document that discloses exactly what the summary shows.
        "disclosureDigest": disclosure_digest,
    })))
}

/// `sign` request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HolderSignRequest {
    /// The holder's key.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// The same document as prepared.
    pub document: HolderDocument,
    /// `issuedAt` from the prepare step.
    pub issued_at: i64,
    /// The SAD for the prepared hash; absent with a credential-scoped OAuth2 token, which is
    /// the SAD the holder approved on the consent page.
    #[serde(rename = "SAD")]
    pub sad: Option<String>,
    /// Deliver the signed document to this registered destination (`dst_…`) too.
    pub deliver_to: Option<String>,
}

crate::api::redacted_debug!(HolderSignRequest);

/// Step 2: signs the prepared document with the holder's SAD; returns it with its receipt.
#[utoipa::path(post, path = "/v1/holder/sign", request_body = HolderSignRequest, tag = "holder",
    responses((status = 200, body = super::HolderSigned), (status = 403, description = "The SAD does not cover this document")))]
pub async fn sign(
    State(state): State<Arc<ApiState>>,
    Authenticated(caller): Authenticated,
    headers: axum::http::HeaderMap,
    JsonBody(request): JsonBody<HolderSignRequest>,
) -> Result<Json<Value>, ApiError> {
    let sad = super::sad_of(&caller, &headers, request.sad.clone())?.ok_or_else(|| {
        ApiError::bad_request("SAD is required: authorise the prepared hash first")
    })?;
    // Signed as prepared, and prepared now: never a presentation or key proof dated far off.
    if !crate::activation::presentation_is_current(request.issued_at, state.auth.now()) {
        return Err(ApiError::bad_request(
            "issuedAt must be the preparation's, within fifteen minutes of now",
        ));
    }
    let key = load_key(&state, &caller, &request.credential_id, Operation::Sign).await?;
    let kind = request.document.kind();
    let deliver_to = request.deliver_to.clone();
    super::check_destination(&state, &key.owner, deliver_to.as_deref()).await?;
    let signer = state.signing.signer(SignRequest {
        caller,
        key,
        activation: Activation::Sad {
            value: sad,
            shown: Some(request.document.disclosure_digest(
                &request.document.summary()?,
                &request.credential_id,
                request.issued_at,
            )?),
        },
        document_type: kind.into(),
        checked_at: None,
        token: None,
    });
    let key_ref = signer.key_ref().map_err(signing_error)?;
    let document = request
        .document
        .build(&signer, &key_ref, request.issued_at)
        .await
        .map_err(|e| super::csc::document_error(&signer, e))?;
    let mut body = super::after_signing(&state, &signer, &document, deliver_to.as_deref()).await?;
    body.insert("format".into(), kind.into());
    body.insert("document".into(), document);
    Ok(Json(Value::Object(body)))
}

/// The caller's key, for a holder's signature (the signing module checks the rest).
async fn holder_key(state: &ApiState, caller: &Caller, id: &str) -> Result<KeyRef, ApiError> {
    let key = load_key(state, caller, id, Operation::Sign).await?;
    crate::signing::key_ref(&key).map_err(signing_error)
}
