//! `inkan verify`'s engine: recognise what a document is, verify it with the right module,
//! and say what was found. For users and relying parties.
//!
//! Recognition: JSON with a `proof` is Data Integrity; text with `~` is SD-JWT (VC, with or
//! without KB-JWT); three dot-separated parts are a JWT (VC-JWT, `vc+jwt`, `vp+jwt`, a status
//! list token, an OpenID4VCI key proof); hex or base64url CBOR is an mdoc DeviceResponse or
//! IssuerSigned, or a CWT status list token.
//!
//! Owns only the dispatch and the report. It never weakens a check a format module makes,
//! and reports "valid" only when every check passed.

use crate::mdoc::{DeviceResponse, IssuerSigned, IssuerVerification};
use crate::{FormatError, limits};
use base64::Engine as _;
use inkan_device::PublicKey;
use serde_json::{Value, json};

/// What the verifier may be told besides the document.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The key to verify with, where the document does not name a resolvable one.
    pub key: Option<PublicKey>,
    /// The expected `nonce` (KB-JWT, VP-JWT).
    pub nonce: Option<String>,
    /// The expected audience (`aud` of a KB-JWT or VP-JWT).
    pub aud: Option<String>,
    /// The expected Data Integrity `challenge` (VPs).
    pub challenge: Option<String>,
    /// The expected Data Integrity `domain` (VPs).
    pub domain: Option<String>,
    /// The mdoc SessionTranscript (CBOR) a DeviceResponse must be bound to.
    pub session_transcript: Option<Vec<u8>>,
    /// Check the cryptographic proof only, not that the issuer controls the key.
    pub proof_only: bool,
    /// Verify as of this time (Unix seconds).
    pub at: i64,
}

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The format, e.g. `mdoc DeviceResponse`, `SD-JWT VC`, `Data Integrity (eddsa-rdfc-2022)`.
    pub format: String,
    /// What the document says, for people: issuer, subject, claims or elements, validity.
    pub details: Value,
}

/// Recognises and verifies `input`.
pub fn verify(input: &[u8], options: &VerifyOptions) -> Result<Verified, FormatError> {
    limits::check_size("document", input)?;
    let text = std::str::from_utf8(input).map(str::trim);
    match text {
        Ok(t) if t.starts_with('{') => verify_json(t.as_bytes(), options),
        Ok(t) if is_hex(t) => verify_cbor(&hex_decode(t)?, options),
        Ok(t) if t.contains('~') => verify_sd_jwt(t, options),
        Ok(t) if t.split('.').count() == 3 && !t.contains(char::is_whitespace) => verify_jwt(t, options),
        Ok(t) => match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t) {
            Ok(bytes) => verify_cbor(&bytes, options),
            Err(_) => Err(FormatError::Unsupported(
                "not a recognised credential or presentation (JSON, JWT, SD-JWT, or CBOR as hex or base64url)".into(),
            )),
        },
        Err(_) => verify_cbor(input, options),
    }
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_decode(text: &str) -> Result<Vec<u8>, FormatError> {
    hex::decode(text).map_err(|e| FormatError::malformed("hex", e.to_string()))
}

/// Bytes given as hex text (surrounding whitespace allowed) are decoded; anything else is
/// taken as it is. For CBOR inputs such as a SessionTranscript file.
pub fn hex_or_raw(bytes: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(bytes).map(str::trim) {
        Ok(text) if is_hex(text) => hex_decode(text).unwrap_or_else(|_| bytes.to_vec()),
        _ => bytes.to_vec(),
    }
}

fn verify_cbor(bytes: &[u8], options: &VerifyOptions) -> Result<Verified, FormatError> {
    let issuer = IssuerVerification {
        at: options.at,
        issuer_key: options.key.as_ref(),
    };
    let as_response = match DeviceResponse::from_bytes(bytes) {
        Ok(response) => {
            let transcript = options.session_transcript.as_deref().ok_or_else(|| {
                FormatError::Rejected(
                    "a DeviceResponse is bound to a SessionTranscript: give --session-transcript"
                        .into(),
                )
            })?;
            let documents = response.verify(transcript, &issuer)?;
            let details: Vec<Value> = documents
                .iter()
                .map(|d| mdoc_details(&d.doc_type, &d.issuer))
                .collect();
            return Ok(Verified {
                format: "mdoc DeviceResponse".into(),
                details: json!({ "documents": details }),
            });
        }
        Err(e) => e,
    };
    let as_issuer_signed = match IssuerSigned::from_bytes(bytes) {
        Ok(signed) => {
            let verified = signed.verify(&issuer)?;
            return Ok(Verified {
                format: "mdoc IssuerSigned".into(),
                details: mdoc_details(&verified.mso.doc_type, &verified),
            });
        }
        Err(e) => e,
    };
    let as_cwt = match verify_status_list_cwt(bytes, options) {
        Ok(verified) => return Ok(verified),
        Err(FormatError::Unsupported(detail)) => detail,
        Err(e) => return Err(e),
    };
    Err(FormatError::Unsupported(format!(
        "CBOR that is neither an mdoc DeviceResponse ({as_response}), an IssuerSigned \
         ({as_issuer_signed}) nor a status list CWT ({as_cwt})"
    )))
}

/// A Token Status List CWT (`application/statuslist+cwt`): the COSE_Sign1 signature with the
/// given key or the `x5chain` leaf, then the claims and the list. `Unsupported` when the
/// input is not such a token at all.
fn verify_status_list_cwt(bytes: &[u8], options: &VerifyOptions) -> Result<Verified, FormatError> {
    use crate::mdoc::cose;
    use crate::status::token::StatusListToken;
    let sign1 = cose::parse(bytes).map_err(|e| FormatError::Unsupported(e.to_string()))?;
    let typ = sign1
        .protected
        .header
        .rest
        .iter()
        .find_map(|(label, value)| match (label, value) {
            (coset::Label::Int(16), ciborium::Value::Text(t)) => Some(t.clone()),
            _ => None,
        });
    let typ =
        typ.ok_or_else(|| FormatError::Unsupported("a COSE_Sign1 without a `typ` header".into()))?;
    StatusListToken::check_cwt_typ(&typ).map_err(|e| FormatError::Unsupported(e.to_string()))?;
    let (key, source) = match &options.key {
        Some(key) => (key.clone(), "given with --key"),
        None => {
            let chain = cose::x5chain(&sign1)?;
            let leaf = chain.first().ok_or_else(|| {
                FormatError::Rejected(
                    "the status list CWT names no key (no x5chain): give --key".into(),
                )
            })?;
            let chain = inkan_device::cert::CertificateChain::parse(leaf)
                .map_err(|e| FormatError::malformed("x5chain", e.to_string()))?;
            let key = chain
                .leaf_public_key()
                .map_err(|e| FormatError::malformed("x5chain", e.to_string()))?;
            (key, "x5chain leaf certificate (its trust is not checked)")
        }
    };
    cose::verify(&sign1, &key, None)?;
    let claims = sign1
        .payload
        .as_deref()
        .ok_or_else(|| FormatError::malformed("status list CWT", "no payload"))?;
    let token = StatusListToken::from_cwt_claims(claims)?;
    if token.is_expired_at(u64::try_from(options.at).unwrap_or(0)) {
        return Err(FormatError::Rejected(
            "the status list token has expired".into(),
        ));
    }
    Ok(Verified {
        format: "status list token (CWT)".into(),
        details: json!({ "issuerKey": source, "sub": token.sub, "iat": token.iat, "exp": token.exp, "ttl": token.ttl }),
    })
}

fn mdoc_details(doc_type: &str, issuer: &crate::mdoc::VerifiedIssuerSigned) -> Value {
    let elements: serde_json::Map<String, Value> = issuer
        .elements
        .iter()
        .map(|(namespace, items)| {
            let names: Vec<Value> = items.keys().map(|k| Value::String(k.clone())).collect();
            (namespace.clone(), Value::Array(names))
        })
        .collect();
    json!({
        "docType": doc_type,
        "validFrom": issuer.mso.validity.valid_from,
        "validUntil": issuer.mso.validity.valid_until,
        "elements": elements,
        "issuerCertificates": issuer.x5chain.len(),
    })
}

fn verify_json(bytes: &[u8], options: &VerifyOptions) -> Result<Verified, FormatError> {
    let value = limits::parse_json("document", bytes)?;
    if value.get("proof").is_none() {
        return Err(FormatError::Unsupported(
            "JSON without a Data Integrity `proof`: nothing to verify".into(),
        ));
    }
    if types(&value).any(|t| t == "VerifiablePresentation") {
        verify_di_presentation(&value, options)
    } else {
        let (format, details) = verify_di_credential(&value, options)?;
        Ok(Verified { format, details })
    }
}

/// A Data Integrity credential: its proof (`assertionMethod`), its issuer's control of the key
/// (unless `proof_only`) and its validity period at `options.at`.
fn verify_di_credential(
    value: &Value,
    options: &VerifyOptions,
) -> Result<(String, Value), FormatError> {
    use crate::data_integrity::{self as di, ProofPurpose};
    let di_options = di::VerifyOptions {
        proof_only: options.proof_only,
        purpose: Some(ProofPurpose::AssertionMethod),
        challenge: None,
        domain: None,
    };
    crate::vcdm::validate_credential(value, "credential")?;
    let verified = di::verify(value, &di_options)?;
    check_validity(value, options.at)?;
    let mut details = di_details(value, &verified);
    if types(value).any(|t| t == "BitstringStatusListCredential") {
        let list =
            crate::status::bitstring::BitstringStatusListCredential::from_verified_json(value)?;
        details["statusList"] = json!({ "ttlMs": list.ttl_ms() });
    }
    Ok((
        format!(
            "Data Integrity credential ({})",
            verified.cryptosuite.as_str()
        ),
        details,
    ))
}

/// A Data Integrity presentation: the holder's proof (`authentication`, challenge, domain)
/// and every credential it carries, each verified in full; a credential this verifier cannot
/// check (an enveloped one) is refused, never passed over.
fn verify_di_presentation(value: &Value, options: &VerifyOptions) -> Result<Verified, FormatError> {
    use crate::data_integrity::{self as di, ProofPurpose};
    let di_options = di::VerifyOptions {
        proof_only: options.proof_only,
        purpose: Some(ProofPurpose::Authentication),
        challenge: options.challenge.clone(),
        domain: options.domain.clone(),
    };
    crate::vcdm::validate_presentation(value, "presentation")?;
    let verified = di::verify(value, &di_options)?;
    let embedded: Vec<&Value> = match value.get("verifiableCredential") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    let mut credentials = Vec::new();
    for (i, credential) in embedded.into_iter().enumerate() {
        if !credential.is_object() || credential.get("proof").is_none() {
            return Err(FormatError::Unsupported(format!(
                "credential {i} of the presentation is not a Data Integrity credential; it cannot be checked here"
            )));
        }
        let (format, details) = verify_di_credential(credential, options).map_err(|e| {
            FormatError::Rejected(format!("credential {i} of the presentation: {e}"))
        })?;
        credentials.push(json!({ "format": format, "details": details }));
    }
    let mut details = di_details(value, &verified);
    details["credentials"] = Value::Array(credentials);
    Ok(Verified {
        format: format!(
            "Data Integrity presentation ({})",
            verified.cryptosuite.as_str()
        ),
        details,
    })
}

fn di_details(value: &Value, verified: &crate::data_integrity::Verified) -> Value {
    json!({
        "cryptosuite": verified.cryptosuite.as_str(),
        "proofPurpose": verified.purpose.as_str(),
        "verificationMethod": verified.verification_method,
        "controller": verified.controller,
        "controllerChecked": verified.controller_checked,
        "created": verified.created,
        "issuer": value.get("issuer").cloned(),
        "holder": value.get("holder").cloned(),
        "credentialSubject": value.get("credentialSubject").cloned(),
        "validFrom": value.get("validFrom").or_else(|| value.get("issuanceDate")).cloned(),
        "validUntil": value.get("validUntil").or_else(|| value.get("expirationDate")).cloned(),
    })
}

/// A credential's validity period (`validFrom`/`validUntil`, or VCDM 1.1's
/// `issuanceDate`/`expirationDate`) must hold at `at`.
fn check_validity(value: &Value, at: i64) -> Result<(), FormatError> {
    let date = |names: [&str; 2]| -> Result<Option<i64>, FormatError> {
        match names.iter().find_map(|n| value.get(*n)) {
            None => Ok(None),
            Some(Value::String(text)) => crate::jose::parse_rfc3339(text).map(Some),
            Some(_) => Err(FormatError::malformed(
                "credential",
                format!("`{}` is not a date-time string", names[0]),
            )),
        }
    };
    if let Some(from) = date(["validFrom", "issuanceDate"])?
        && at < from
    {
        return Err(FormatError::Rejected(
            "the credential is not valid yet (validFrom)".into(),
        ));
    }
    if let Some(until) = date(["validUntil", "expirationDate"])?
        && at >= until
    {
        return Err(FormatError::Rejected(
            "the credential has expired (validUntil)".into(),
        ));
    }
    Ok(())
}

/// The `type` values of a JSON-LD document (a string or an array of strings).
fn types(value: &Value) -> impl Iterator<Item = &str> {
    let list: Vec<&str> = match value.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
}

fn verify_sd_jwt(text: &str, options: &VerifyOptions) -> Result<Verified, FormatError> {
    use crate::jose::sd_jwt::{
        KeyBindingExpectation, SdJwtVerifyOptions, split_sd_jwt, verify_sd_jwt_vc,
    };
    let parts = split_sd_jwt(text)?;
    let jws = crate::jose::decode_compact(parts.jws)?;
    let claims = jws.payload_json()?;
    let issuer = claims.get("iss").and_then(Value::as_str);
    let (key, key_source) = jws_key(&jws, issuer, options)?;
    let key_binding = match (&options.aud, &options.nonce) {
        (Some(audience), Some(nonce)) => Some(KeyBindingExpectation {
            audience,
            nonce,
            max_age: KB_MAX_AGE_SECONDS,
        }),
        (None, None) => None,
        _ => {
            return Err(FormatError::Rejected(
                "key binding needs both --aud and --nonce".into(),
            ));
        }
    };
    let verified = verify_sd_jwt_vc(
        text,
        &key,
        &SdJwtVerifyOptions {
            now: options.at,
            key_binding,
        },
    )?;
    let disclosed: Vec<&str> = verified
        .disclosed
        .iter()
        .map(|d| d.pointer.as_str())
        .collect();
    let format = if verified.key_binding.is_some() {
        "SD-JWT VC presentation with KB-JWT"
    } else {
        "SD-JWT VC"
    };
    Ok(Verified {
        format: format.into(),
        details: json!({
            "issuer": issuer,
            "issuerKey": key_source,
            "vct": verified.claims.get("vct"),
            "claims": Value::Object(verified.claims.clone()),
            "disclosed": disclosed,
            "keyBinding": verified.key_binding.as_ref().map(|kb| json!({
                "aud": kb.get("aud"), "nonce": kb.get("nonce"), "iat": kb.get("iat"),
                "checked": options.aud.is_some(),
            })),
        }),
    })
}

/// How old a KB-JWT may be when `inkan verify` checks it.
const KB_MAX_AGE_SECONDS: i64 = 300;

fn verify_jwt(text: &str, options: &VerifyOptions) -> Result<Verified, FormatError> {
    use crate::jose::vc_jwt;
    use crate::status::token::StatusListToken;
    let jws = crate::jose::decode_compact(text)?;
    let claims = jws.payload_json()?;
    let issuer_of = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let typ = jws.typ().map(str::to_owned);
    let (format, issuer) = match typ.as_deref() {
        Some("statuslist+jwt") => (
            "status list token (JWT)",
            claims.get("iss").and_then(Value::as_str).map(str::to_owned),
        ),
        Some("vc+jwt") => ("VC-JWT (VCDM 2.0, vc+jwt)", issuer_of(claims.get("issuer"))),
        Some("vp+jwt") => ("VP-JWT (VCDM 2.0, vp+jwt)", issuer_of(claims.get("holder"))),
        Some("openid4vci-proof+jwt") => ("OpenID4VCI key proof", None),
        _ if claims.contains_key("vc") => (
            "VC-JWT (VCDM 1.1, jwt_vc_json)",
            claims.get("iss").and_then(Value::as_str).map(str::to_owned),
        ),
        _ => {
            return Err(FormatError::Unsupported(
                "a JWT that is not a VC, VP, key proof or status list token".into(),
            ));
        }
    };
    if format == "OpenID4VCI key proof" {
        let (aud, nonce) = match (&options.aud, &options.nonce) {
            (Some(a), Some(n)) => (a.as_str(), n.as_str()),
            _ => {
                return Err(FormatError::Rejected(
                    "a key proof is bound to the issuer: give --aud and --nonce".into(),
                ));
            }
        };
        let proof = vc_jwt::verify_openid4vci_proof(
            text,
            aud,
            Some(nonce),
            options.at,
            KB_MAX_AGE_SECONDS,
            options.key.as_ref(),
        )?;
        return Ok(Verified {
            format: format.into(),
            details: json!({ "holderKey": proof.holder_key.to_jwk(), "claims": Value::Object(proof.claims) }),
        });
    }
    let (key, key_source) = jws_key(&jws, issuer.as_deref(), options)?;
    let details = match typ.as_deref() {
        Some("statuslist+jwt") => {
            jws.verify(&key)?;
            let token = StatusListToken::from_jwt_payload(&jws.payload)?;
            if token.is_expired_at(u64::try_from(options.at).unwrap_or(0)) {
                return Err(FormatError::Rejected(
                    "the status list token has expired".into(),
                ));
            }
            json!({ "sub": token.sub, "iat": token.iat, "exp": token.exp, "ttl": token.ttl })
        }
        Some("vc+jwt") => vc_jwt::verify_vc_jwt(text, &key, options.at)?.document,
        Some("vp+jwt") => {
            vc_jwt::verify_vp_jwt(
                text,
                &key,
                options.at,
                options.aud.as_deref(),
                options.nonce.as_deref(),
            )?
            .document
        }
        _ => vc_jwt::verify_vc_jwt_v11(text, &key, options.at)?.document,
    };
    Ok(Verified {
        format: format.into(),
        details: json!({ "issuerKey": key_source, "document": details }),
    })
}

/// The key a JWS is verified with, and where it came from. Unless `proof_only`, a key the
/// token only asserts for itself (`jwk` header) is not enough, and a `kid` DID must be the
/// issuer's (or holder's) DID. An `x5c` leaf is used as given: certificate trust is the
/// relying party's configuration, reported as not checked.
fn jws_key(
    jws: &crate::jose::DecodedJws,
    issuer: Option<&str>,
    options: &VerifyOptions,
) -> Result<(PublicKey, String), FormatError> {
    if let Some(key) = &options.key {
        return Ok((key.clone(), "given with --key".into()));
    }
    let key = jws.header_key()?.ok_or_else(|| {
        FormatError::Rejected(
            "the token names no key to verify it with (no jwk, x5c or DID kid): give --key".into(),
        )
    })?;
    let header = &jws.header;
    if header.contains_key("x5c") {
        return Ok((
            key,
            "x5c leaf certificate (its trust is not checked)".into(),
        ));
    }
    if header.contains_key("jwk") {
        if !options.proof_only {
            return Err(FormatError::Rejected(
                "the key is only asserted by the token itself (jwk header): give --key, or --proof-only".into(),
            ));
        }
        return Ok((key, "jwk header (proof only)".into()));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let did = kid.split('#').next().unwrap_or_default();
    if !options.proof_only && issuer != Some(did) {
        return Err(FormatError::Rejected(format!(
            "the signing key {did} is not the issuer's ({}); give --proof-only to check the proof alone",
            issuer.unwrap_or("none")
        )));
    }
    Ok((key, format!("kid {kid}")))
}
