//! `inkan verify`'s engine: recognise what a document is, verify it with the right module,
//! and say what was found. For users and relying parties.
//!
//! Recognition: JSON with a `proof` is Data Integrity; an `EnvelopedVerifiableCredential` or
//! `…Presentation` object is unwrapped ([`crate::envelope`]) and what it holds verified; text
//! with `~` is SD-JWT (VC, with or without KB-JWT); three dot-separated parts are a JWT
//! (VC-JWT and VP-JWT of VCDM 1.1, `vc+jwt`, `vp+jwt`, a status list token, an OpenID4VCI key
//! proof); hex or base64url CBOR is an mdoc DeviceResponse or IssuerSigned, or a CWT status
//! list token. A presentation's credentials are each verified in full.
//!
//! Where the document carries its issuer's certificate (mdoc `x5chain`, JOSE `x5c`), the
//! chain is checked against the caller's trust anchors ([`crate::trust`]); without one that
//! vouches for it the result says the issuer is unauthenticated ([`Verified::issuer_trust`]),
//! which callers must not report as plain "valid".
//!
//! Owns only the dispatch and the report. It never weakens a check a format module makes,
//! and reports "valid" only when every check passed.

use crate::envelope::{self, EnvelopedKind};
use crate::mdoc::{DeviceResponse, IssuerSigned, IssuerVerification};
use crate::trust::{self, IssuerTrust, Profile, TrustAnchors};
use crate::{FormatError, limits};
use base64::Engine as _;
use inkan_device::PublicKey;
use serde_json::{Value, json};
use std::sync::Arc;

/// How deep envelopes and presentations may nest (an enveloped presentation holding
/// enveloped credentials is 3).
const MAX_DEPTH: usize = 4;

/// The check names a verification reports (VC API `checks`).
pub const CHECK_PROOF: &str = "proof";
/// The validity period check (`validFrom`/`validUntil`, `nbf`/`exp`, the MSO's validity).
pub const CHECK_VALIDITY_PERIOD: &str = "validityPeriod";

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
    /// The purpose a Data Integrity credential's proofs must have (VC API
    /// `expectedProofPurpose`); `assertionMethod` when `None`.
    pub proof_purpose: Option<crate::data_integrity::ProofPurpose>,
    /// Verify as of this time (Unix seconds).
    pub at: i64,
    /// Skip the validity period of credentials: Data Integrity (`validFrom`/`validUntil`)
    /// and VC-JWT (also `nbf`/`exp`). The SD-JWT and mdoc modules, and presentations and
    /// status lists, check their times as part of the proof; those results still list the
    /// check.
    pub skip_validity_period: bool,
    /// The certificates that may vouch for an issuer certificate a document carries (IACA
    /// roots, issuing CAs). None: such an issuer is unauthenticated.
    pub trust_anchors: Arc<TrustAnchors>,
}

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The format, e.g. `mdoc DeviceResponse`, `SD-JWT VC`, `Data Integrity (eddsa-rdfc-2022)`.
    pub format: String,
    /// What the document says, for people: issuer, subject, claims or elements, validity.
    pub details: Value,
    /// What was checked (`proof`, `validityPeriod`).
    pub checks: Vec<&'static str>,
    /// Whether a certificate the document carries was vouched for by a trust anchor.
    pub issuer_trust: IssuerTrust,
    /// Whether it is a presentation (else a credential or token).
    pub presentation: bool,
}

impl Verified {
    fn new(format: impl Into<String>, details: Value) -> Self {
        Verified {
            format: format.into(),
            details,
            checks: vec![CHECK_PROOF, CHECK_VALIDITY_PERIOD],
            issuer_trust: IssuerTrust::NotApplicable,
            presentation: false,
        }
    }

    fn with_trust(mut self, trust: IssuerTrust) -> Self {
        if let Value::Object(details) = &mut self.details
            && trust != IssuerTrust::NotApplicable
        {
            details.insert("issuerTrust".into(), trust_details(&trust));
        }
        self.issuer_trust = trust;
        self
    }
}

fn trust_details(trust: &IssuerTrust) -> Value {
    match trust {
        IssuerTrust::NotApplicable => json!({"status": trust.as_str()}),
        IssuerTrust::Authenticated { anchor } => {
            json!({"status": trust.as_str(), "anchor": anchor})
        }
        IssuerTrust::Unauthenticated { reason } => {
            json!({"status": trust.as_str(), "reason": reason})
        }
    }
}

/// The weakest of several trust results: unauthenticated if any is, else authenticated if
/// any is.
fn weakest(results: impl IntoIterator<Item = IssuerTrust>) -> IssuerTrust {
    let mut out = IssuerTrust::NotApplicable;
    for trust in results {
        match (&out, &trust) {
            (IssuerTrust::Unauthenticated { .. }, _) => {}
            (_, IssuerTrust::Unauthenticated { .. }) | (IssuerTrust::NotApplicable, _) => {
                out = trust
            }
            _ => {}
        }
    }
    out
}

/// Recognises and verifies `input`.
pub fn verify(input: &[u8], options: &VerifyOptions) -> Result<Verified, FormatError> {
    verify_at(input, options, 0)
}

/// Verifies a document given as a JSON value (the VC API's request members): an object
/// (Data Integrity, or an envelope), or a string holding a JWT, SD-JWT or CBOR text. A string
/// holding JSON is refused: a credential is an object, not its text.
pub fn verify_value(value: &Value, options: &VerifyOptions) -> Result<Verified, FormatError> {
    match value {
        Value::Object(_) => verify_json_value(value, options, 0),
        Value::String(text) if text.trim_start().starts_with('{') => Err(FormatError::Rejected(
            "the document is a string holding JSON: give the credential or presentation as a JSON object".into(),
        )),
        Value::String(text) => verify_at(text.as_bytes(), options, 0),
        _ => Err(FormatError::Rejected(
            "the document is neither a JSON object nor a string".into(),
        )),
    }
}

fn verify_at(input: &[u8], options: &VerifyOptions, depth: usize) -> Result<Verified, FormatError> {
    limits::check_size("document", input)?;
    if depth > MAX_DEPTH {
        return Err(FormatError::Rejected(
            "envelopes and presentations nest too deeply".into(),
        ));
    }
    let text = std::str::from_utf8(input).map(str::trim);
    match text {
        Ok(t) if t.starts_with('{') => verify_json(t.as_bytes(), options, depth),
        Ok(t) if is_hex(t) => verify_cbor(&hex_decode(t)?, options),
        Ok(t) if t.contains('~') => verify_sd_jwt(t, options),
        Ok(t) if t.split('.').count() == 3 && !t.contains(char::is_whitespace) => {
            verify_jwt(t, options, depth)
        }
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
            let mut trusts = Vec::new();
            let mut details = Vec::new();
            for d in &documents {
                let trust = mdoc_trust(&d.issuer, options)?;
                let mut one = mdoc_details(&d.doc_type, &d.issuer);
                if trust != IssuerTrust::NotApplicable {
                    one["issuerTrust"] = trust_details(&trust);
                }
                details.push(one);
                trusts.push(trust);
            }
            let mut verified =
                Verified::new("mdoc DeviceResponse", json!({ "documents": details }))
                    .with_trust(weakest(trusts));
            verified.presentation = true;
            return Ok(verified);
        }
        Err(e) => e,
    };
    let as_issuer_signed = match IssuerSigned::from_bytes(bytes) {
        Ok(signed) => {
            let verified = signed.verify(&issuer)?;
            let trust = mdoc_trust(&verified, options)?;
            return Ok(Verified::new(
                "mdoc IssuerSigned",
                mdoc_details(&verified.mso.doc_type, &verified),
            )
            .with_trust(trust));
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

/// Whether an mdoc's issuer is vouched for: not a question when the caller gave the key,
/// else its `x5chain` against the trust anchors, as an ISO/IEC 18013-5 document signer.
fn mdoc_trust(
    verified: &crate::mdoc::VerifiedIssuerSigned,
    options: &VerifyOptions,
) -> Result<IssuerTrust, FormatError> {
    if options.key.is_some() {
        return Ok(IssuerTrust::NotApplicable);
    }
    trust::check_chain(
        &verified.x5chain,
        &options.trust_anchors,
        options.at,
        Profile::MdocDocumentSigner,
    )
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
    let (key, source, trust) = match &options.key {
        Some(key) => (key.clone(), "given with --key", IssuerTrust::NotApplicable),
        None => {
            let ders = cose::x5chain(&sign1)?;
            if ders.is_empty() {
                return Err(FormatError::Rejected(
                    "the status list CWT names no key (no x5chain): give --key".into(),
                ));
            }
            let chain = inkan_device::cert::CertificateChain::from_der_list(&ders)
                .map_err(|e| FormatError::malformed("x5chain", e.to_string()))?;
            let key = chain
                .leaf_public_key()
                .map_err(|e| FormatError::malformed("x5chain", e.to_string()))?;
            // The signature first: a chain is only worth checking for a signed token.
            cose::verify(&sign1, &key, None)?;
            let trust =
                trust::check_chain(&ders, &options.trust_anchors, options.at, Profile::Generic)?;
            (key, "x5chain leaf certificate", trust)
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
    Ok(Verified::new(
        "status list token (CWT)",
        json!({ "issuerKey": source, "sub": token.sub, "iat": token.iat, "exp": token.exp, "ttl": token.ttl }),
    )
    .with_trust(trust))
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

fn verify_json(
    bytes: &[u8],
    options: &VerifyOptions,
    depth: usize,
) -> Result<Verified, FormatError> {
    let value = limits::parse_json("document", bytes)?;
    verify_json_value(&value, options, depth)
}

fn verify_json_value(
    value: &Value,
    options: &VerifyOptions,
    depth: usize,
) -> Result<Verified, FormatError> {
    limits::check_json_depth("document", value)?;
    if let Some(enveloped) = envelope::unwrap(value)? {
        return verify_enveloped(&enveloped, options, depth);
    }
    if value.get("proof").is_none() {
        return Err(FormatError::Unsupported(
            "JSON without a Data Integrity `proof` that is not an enveloped credential or presentation: nothing to verify".into(),
        ));
    }
    if types(value).any(|t| t == "VerifiablePresentation") {
        verify_di_presentation(value, options, depth)
    } else {
        verify_di_credential(value, options)
    }
}

/// What an envelope holds, verified; it must be what the envelope says it is.
fn verify_enveloped(
    enveloped: &envelope::Enveloped,
    options: &VerifyOptions,
    depth: usize,
) -> Result<Verified, FormatError> {
    let text = std::str::from_utf8(&enveloped.content)
        .map_err(|_| FormatError::Rejected("the envelope's content is not text".into()))?;
    if text.trim_start().starts_with('{') {
        return Err(FormatError::Rejected(
            "the envelope holds JSON, not a secured (JOSE or SD-JWT) document".into(),
        ));
    }
    let mut verified = verify_at(text.as_bytes(), options, depth + 1)?;
    let presentation = enveloped.kind == EnvelopedKind::Presentation;
    // An SD-JWT with its KB-JWT is a holder's presentation of one credential: it may come in
    // either envelope.
    let either = verified.format == "SD-JWT VC presentation with KB-JWT";
    if verified.presentation != presentation && !either {
        return Err(FormatError::Rejected(format!(
            "the enveloped {} holds a {}",
            if presentation {
                "presentation"
            } else {
                "credential"
            },
            if verified.presentation {
                "presentation"
            } else {
                "credential"
            },
        )));
    }
    verified.format = format!(
        "{} in an {}",
        verified.format,
        match enveloped.kind {
            EnvelopedKind::Credential => envelope::ENVELOPED_CREDENTIAL,
            EnvelopedKind::Presentation => envelope::ENVELOPED_PRESENTATION,
        }
    );
    if let Value::Object(details) = &mut verified.details {
        details.insert("mediaType".into(), enveloped.media_type.clone().into());
    }
    Ok(verified)
}

/// A Data Integrity credential: its proofs (`assertionMethod`), its issuer's control of a
/// proof's key (unless `proof_only`) and, unless skipped, its validity period at `options.at`.
fn verify_di_credential(value: &Value, options: &VerifyOptions) -> Result<Verified, FormatError> {
    use crate::data_integrity::{self as di, ProofPurpose};
    if types(value).any(|t| t == "VerifiablePresentation") {
        return Err(FormatError::Rejected(
            "a presentation where a credential was expected".into(),
        ));
    }
    // The caller's challenge and domain, if any, bind a credential's proof too (a credential
    // inside a presentation is verified without the holder's: `verify_credentials`).
    let di_options = di::VerifyOptions {
        proof_only: options.proof_only,
        purpose: Some(
            options
                .proof_purpose
                .unwrap_or(ProofPurpose::AssertionMethod),
        ),
        challenge: options.challenge.clone(),
        domain: options.domain.clone(),
        at: Some(options.at),
    };
    crate::vcdm::validate_credential(value, "credential")?;
    let verified = di::verify(value, &di_options)?;
    let mut checks = vec![CHECK_PROOF];
    if !options.skip_validity_period {
        check_validity(value, options.at)?;
        checks.push(CHECK_VALIDITY_PERIOD);
    }
    let mut details = di_details(value, &verified);
    if types(value).any(|t| t == "BitstringStatusListCredential") {
        let list =
            crate::status::bitstring::BitstringStatusListCredential::from_verified_json(value)?;
        details["statusList"] = json!({ "ttlMs": list.ttl_ms() });
    }
    let mut out = Verified::new(
        format!(
            "Data Integrity credential ({})",
            verified.cryptosuite.as_str()
        ),
        details,
    );
    out.checks = checks;
    Ok(out)
}

/// A Data Integrity presentation: the holder's proofs (`authentication`, challenge, domain;
/// the `holder`, when it names one, must control a proof's key) and every credential it
/// carries, each verified in full.
fn verify_di_presentation(
    value: &Value,
    options: &VerifyOptions,
    depth: usize,
) -> Result<Verified, FormatError> {
    use crate::data_integrity::{self as di, ProofPurpose};
    let di_options = di::VerifyOptions {
        proof_only: options.proof_only,
        purpose: Some(
            options
                .proof_purpose
                .unwrap_or(ProofPurpose::Authentication),
        ),
        challenge: options.challenge.clone(),
        domain: options.domain.clone(),
        at: Some(options.at),
    };
    crate::vcdm::validate_presentation(value, "presentation")?;
    let verified = di::verify(value, &di_options)?;
    let embedded = embedded_credentials(value.get("verifiableCredential"));
    let (credentials, trust) = verify_credentials(&embedded, options, depth, false)?;
    let mut details = di_details(value, &verified);
    details["credentials"] = Value::Array(credentials);
    let mut out = Verified::new(
        format!(
            "Data Integrity presentation ({})",
            verified.cryptosuite.as_str()
        ),
        details,
    )
    .with_trust(trust);
    out.presentation = true;
    if options.skip_validity_period {
        out.checks = vec![CHECK_PROOF];
    }
    Ok(out)
}

/// The `verifiableCredential` member as a list.
fn embedded_credentials(member: Option<&Value>) -> Vec<&Value> {
    match member {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

/// Verifies each credential of a presentation: an object with a Data Integrity proof, an
/// enveloped credential, or (only in a VCDM 1.1 VP-JWT, `jwt_strings`) a VC-JWT as a string.
/// Anything else is refused, never passed over. The holder's expectations (challenge,
/// domain, audience, nonce) are not the credentials'.
fn verify_credentials(
    embedded: &[&Value],
    options: &VerifyOptions,
    depth: usize,
    jwt_strings: bool,
) -> Result<(Vec<Value>, IssuerTrust), FormatError> {
    let inner = VerifyOptions {
        nonce: None,
        aud: None,
        challenge: None,
        domain: None,
        proof_purpose: None,
        session_transcript: None,
        ..options.clone()
    };
    let mut credentials = Vec::new();
    let mut trusts = Vec::new();
    for (i, credential) in embedded.iter().enumerate() {
        let result = match credential {
            Value::String(text) if jwt_strings && !text.trim_start().starts_with('{') => {
                verify_at(text.as_bytes(), &inner, depth + 1)
            }
            Value::String(_) => Err(FormatError::Rejected(
                "it is a string: a presentation holds credential objects (with a proof, or enveloped)".into(),
            )),
            Value::Object(_) if envelope::envelope_kind(credential).is_some() => {
                verify_json_value(credential, &inner, depth + 1)
            }
            Value::Object(_) if credential.get("proof").is_some() => {
                verify_di_credential(credential, &inner)
            }
            _ => Err(FormatError::Rejected(
                "it has no proof and is not enveloped: it cannot be checked".into(),
            )),
        };
        let verified = result.map_err(|e| {
            FormatError::Rejected(format!("credential {i} of the presentation: {e}"))
        })?;
        if verified.presentation {
            return Err(FormatError::Rejected(format!(
                "credential {i} of the presentation is a presentation"
            )));
        }
        credentials.push(json!({ "format": verified.format, "details": verified.details }));
        trusts.push(verified.issuer_trust);
    }
    Ok((credentials, weakest(trusts)))
}

fn di_details(value: &Value, verified: &crate::data_integrity::Verified) -> Value {
    json!({
        "cryptosuite": verified.cryptosuite.as_str(),
        "proofPurpose": verified.purpose.as_str(),
        "verificationMethod": verified.verification_method,
        "controller": verified.controller,
        "controllerChecked": verified.controller_checked,
        "proofs": verified.proof_count,
        "otherVerificationMethods": verified.other_methods,
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
    let (key, key_source, trust) = jws_key(&jws, issuer, false, options)?;
    let key_binding = match (&options.aud, &options.nonce) {
        (Some(audience), Some(nonce)) => Some(KeyBindingExpectation {
            audience,
            nonce,
            max_age: KB_MAX_AGE_SECONDS,
        }),
        (None, None) => None,
        _ => {
            return Err(FormatError::Rejected(
                "key binding needs both the expected audience and nonce (--aud and --nonce; domain and challenge)".into(),
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
    let presentation = verified.key_binding.is_some();
    let format = if presentation {
        "SD-JWT VC presentation with KB-JWT"
    } else {
        "SD-JWT VC"
    };
    let mut out = Verified::new(
        format,
        json!({
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
    )
    .with_trust(trust);
    // An SD-JWT with a KB-JWT is the holder's presentation of one credential; inside a
    // presentation envelope or as a credential it is still one credential.
    out.presentation = false;
    Ok(out)
}

/// How old a KB-JWT may be when `inkan verify` checks it.
const KB_MAX_AGE_SECONDS: i64 = 300;

fn verify_jwt(text: &str, options: &VerifyOptions, depth: usize) -> Result<Verified, FormatError> {
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
    let typ = typ.as_deref().map(|t| {
        let lower = t.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(lower)
    });
    // VCDM 1.1 JWTs carry the document in `vc`/`vp` and have no top-level `@context`.
    let v11 = !claims.contains_key("@context");
    #[derive(PartialEq)]
    enum Kind {
        StatusList,
        Vc2,
        Vp2,
        KeyProof,
        Vc11,
        Vp11,
    }
    let (kind, format, issuer) = match typ.as_deref() {
        Some("statuslist+jwt") => (
            Kind::StatusList,
            "status list token (JWT)",
            claims.get("iss").and_then(Value::as_str).map(str::to_owned),
        ),
        Some("openid4vci-proof+jwt") => (Kind::KeyProof, "OpenID4VCI key proof", None),
        _ if v11 && claims.contains_key("vp") => (
            Kind::Vp11,
            "VP-JWT (VCDM 1.1, jwt_vp_json)",
            claims.get("iss").and_then(Value::as_str).map(str::to_owned),
        ),
        _ if v11 && claims.contains_key("vc") => (
            Kind::Vc11,
            "VC-JWT (VCDM 1.1, jwt_vc_json)",
            claims.get("iss").and_then(Value::as_str).map(str::to_owned),
        ),
        Some("vc+jwt") => (
            Kind::Vc2,
            "VC-JWT (VCDM 2.0, vc+jwt)",
            issuer_of(claims.get("issuer")),
        ),
        Some("vp+jwt") => (
            Kind::Vp2,
            "VP-JWT (VCDM 2.0, vp+jwt)",
            issuer_of(claims.get("holder")),
        ),
        _ => {
            return Err(FormatError::Unsupported(
                "a JWT that is not a VC, VP, key proof or status list token".into(),
            ));
        }
    };
    if kind == Kind::KeyProof {
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
        return Ok(Verified::new(
            format,
            json!({ "holderKey": proof.holder_key.to_jwk(), "claims": Value::Object(proof.claims) }),
        ));
    }
    let presentation = matches!(kind, Kind::Vp2 | Kind::Vp11);
    let (key, key_source, trust) = jws_key(&jws, issuer.as_deref(), presentation, options)?;
    // A VC-JWT's validity period may be left out of the checks; every other JWT's times are
    // part of its proof (a presentation's freshness, a status list's expiry).
    let skips_validity = options.skip_validity_period && matches!(kind, Kind::Vc2 | Kind::Vc11);
    let validity_at = (!skips_validity).then_some(options.at);
    let mut credentials = None;
    let details = match kind {
        Kind::StatusList => {
            jws.verify(&key)?;
            let token = StatusListToken::from_jwt_payload(&jws.payload)?;
            if token.is_expired_at(u64::try_from(options.at).unwrap_or(0)) {
                return Err(FormatError::Rejected(
                    "the status list token has expired".into(),
                ));
            }
            json!({ "sub": token.sub, "iat": token.iat, "exp": token.exp, "ttl": token.ttl })
        }
        Kind::Vc2 => vc_jwt::verify_vc_jwt_at(text, &key, validity_at)?.document,
        Kind::Vp2 => {
            let document = vc_jwt::verify_vp_jwt(
                text,
                &key,
                options.at,
                options.aud.as_deref(),
                options.nonce.as_deref(),
            )?
            .document;
            let embedded = embedded_credentials(document.get("verifiableCredential"));
            credentials = Some(verify_credentials(&embedded, options, depth, false)?);
            document
        }
        Kind::Vp11 => {
            let document = vc_jwt::verify_vp_jwt_v11(
                text,
                &key,
                options.at,
                options.aud.as_deref(),
                options.nonce.as_deref(),
            )?
            .document;
            let embedded = embedded_credentials(document.get("verifiableCredential"));
            credentials = Some(verify_credentials(&embedded, options, depth, true)?);
            document
        }
        Kind::Vc11 => vc_jwt::verify_vc_jwt_v11_at(text, &key, validity_at)?.document,
        Kind::KeyProof => unreachable!("handled above"),
    };
    let mut details = json!({ "issuerKey": key_source, "document": details });
    let trust = match credentials {
        Some((list, inner)) => {
            details["credentials"] = Value::Array(list);
            weakest([trust, inner])
        }
        None => trust,
    };
    let mut out = Verified::new(format, details).with_trust(trust);
    out.presentation = presentation;
    // A presentation's own times are checked, its credentials' validity periods were not.
    if skips_validity || (presentation && options.skip_validity_period) {
        out.checks = vec![CHECK_PROOF];
    }
    Ok(out)
}

/// The certificates of a JOSE `x5c` header (base64 DER, leaf first).
fn x5c_chain(header: &serde_json::Map<String, Value>) -> Result<Vec<Vec<u8>>, FormatError> {
    let items = header
        .get("x5c")
        .and_then(Value::as_array)
        .ok_or_else(|| FormatError::malformed("JWS header", "`x5c` is not a list"))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .ok_or_else(|| {
                    FormatError::malformed("JWS header", "an `x5c` item is not base64 DER")
                })
        })
        .collect()
}

/// The key a JWS is verified with, where it came from, and whether a trust anchor vouches
/// for it. Unless `proof_only`, a key the token only asserts for itself (`jwk` header) is not
/// enough, and a `kid` DID must be the issuer's (or holder's: a presentation without a holder
/// is checked by its key alone, `party_optional`). An `x5c` chain is checked against the
/// trust anchors: without one that vouches for it, the issuer is unauthenticated.
fn jws_key(
    jws: &crate::jose::DecodedJws,
    issuer: Option<&str>,
    party_optional: bool,
    options: &VerifyOptions,
) -> Result<(PublicKey, String, IssuerTrust), FormatError> {
    if let Some(key) = &options.key {
        return Ok((
            key.clone(),
            "given with --key".into(),
            IssuerTrust::NotApplicable,
        ));
    }
    let key = jws.header_key()?.ok_or_else(|| {
        FormatError::Rejected(
            "the token names no key to verify it with (no jwk, x5c or DID kid): give --key".into(),
        )
    })?;
    let header = &jws.header;
    if header.contains_key("x5c") {
        // The signature first: a chain is only worth checking for a signed token.
        jws.verify(&key)?;
        let chain = x5c_chain(header)?;
        let mut trust =
            trust::check_chain(&chain, &options.trust_anchors, options.at, Profile::Generic)?;
        // The issuer the token names must be the certificate's (SD-JWT VC §3.5: a SAN URI, or
        // the DNS name of an https issuer); otherwise the anchor vouches for someone else.
        if let (Some(named), Some(leaf)) = (issuer, chain.first())
            && !matches!(trust, IssuerTrust::NotApplicable)
            && !trust::names_issuer(leaf, named)?
        {
            trust = IssuerTrust::Unauthenticated {
                reason: "the issuer the token names is not among its certificate's subject \
                         alternative names"
                    .into(),
            };
        }
        return Ok((key, "x5c leaf certificate".into(), trust));
    }
    if header.contains_key("jwk") {
        if !options.proof_only {
            return Err(FormatError::Rejected(
                "the key is only asserted by the token itself (jwk header): give --key, or --proof-only".into(),
            ));
        }
        return Ok((
            key,
            "jwk header (proof only)".into(),
            IssuerTrust::NotApplicable,
        ));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let did = kid.split('#').next().unwrap_or_default();
    let unchecked = options.proof_only || (party_optional && issuer.is_none());
    if !unchecked && issuer != Some(did) {
        return Err(FormatError::Rejected(
            "the signing key (`kid`) is not the issuer's (or holder's) DID; give --proof-only to check the proof alone".into(),
        ));
    }
    Ok((key, format!("kid {kid}"), IssuerTrust::NotApplicable))
}
