//! The JWT forms of credentials and presentations, and the OpenID4VCI key proof:
//!
//! - VCDM 1.1 `jwt_vc_json`: the credential in the `vc` claim, with `iss`, `sub`, `nbf`,
//!   `exp`, `jti` mapped from `issuer`, `credentialSubject.id`, `issuanceDate`/`validFrom`,
//!   `expirationDate`/`validUntil` and `id` (header `typ` `JWT`);
//! - VCDM 2.0 `vc+jwt` / `vp+jwt` (VC-JOSE-COSE): the credential or presentation itself is
//!   the claims set;
//! - the OpenID4VCI key proof (`typ` `openid4vci-proof+jwt`, `aud`, `iat`, `nonce`, key in a
//!   `jwk` or `kid` header).
//!
//! Owns the claim mapping and the checks (types, times against an injected `now`, audience,
//! nonce, mapped claims agreeing with the credential). It never reads the clock, never
//! decides whether an issuer is trusted, and never resolves keys over the network: the
//! caller passes the verification key (or, for key proofs, the key comes from the header).

use super::jws::{KeyHint, decode_compact, header_for, sign_with_header};
use super::time::parse_rfc3339;
use super::{LEEWAY_SECONDS, format_rfc3339};
use crate::{FormatError, KeyRef, Signer};
use inkan_device::PublicKey;
use serde_json::{Map, Value};

/// The VCDM 1.1 base context.
pub const VCDM1_CONTEXT: &str = "https://www.w3.org/2018/credentials/v1";
/// The VCDM 2.0 base context.
pub const VCDM2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// `typ` of a VCDM 2.0 credential secured with JOSE.
pub const TYP_VC_JWT: &str = "vc+jwt";
/// `typ` of a VCDM 2.0 presentation secured with JOSE.
pub const TYP_VP_JWT: &str = "vp+jwt";
/// `typ` of an OpenID4VCI key proof.
pub const TYP_OPENID4VCI_PROOF: &str = "openid4vci-proof+jwt";

fn object<'a>(what: &'static str, v: &'a Value) -> Result<&'a Map<String, Value>, FormatError> {
    v.as_object()
        .ok_or_else(|| FormatError::malformed(what, "not a JSON object"))
}

fn check_context(
    what: &'static str,
    doc: &Map<String, Value>,
    base: &str,
) -> Result<(), FormatError> {
    match doc
        .get("@context")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
    {
        Some(first) if first == base => Ok(()),
        _ => Err(FormatError::Rejected(format!(
            "{what}: the first `@context` must be {base}"
        ))),
    }
}

fn check_type(
    what: &'static str,
    doc: &Map<String, Value>,
    required: &str,
) -> Result<(), FormatError> {
    let ok = match doc.get("type") {
        Some(Value::String(t)) => t == required,
        Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str() == Some(required)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(FormatError::Rejected(format!(
            "{what}: `type` does not include {required}"
        )))
    }
}

/// The issuer id of a credential (`issuer` as a string or an object's `id`).
fn issuer_id(doc: &Map<String, Value>) -> Option<&str> {
    match doc.get("issuer")? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn subject_id(doc: &Map<String, Value>) -> Option<&str> {
    doc.get("credentialSubject")?
        .as_object()?
        .get("id")?
        .as_str()
}

fn date(doc: &Map<String, Value>, names: &[&str]) -> Result<Option<i64>, FormatError> {
    for name in names {
        if let Some(v) = doc.get(*name) {
            let s = v.as_str().ok_or_else(|| {
                FormatError::malformed("credential", format!("`{name}` is not a string"))
            })?;
            return parse_rfc3339(s).map(Some);
        }
    }
    Ok(None)
}

fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, FormatError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| {
                FormatError::malformed("JWT claims", format!("`{name}` is not a NumericDate"))
            }),
    }
}

/// Checks `nbf`/`exp`-style bounds: `not_before <= now < not_after`, with the leeway.
fn check_window(
    what: &str,
    not_before: Option<i64>,
    not_after: Option<i64>,
    now: i64,
) -> Result<(), FormatError> {
    if let Some(nbf) = not_before
        && now + LEEWAY_SECONDS < nbf
    {
        return Err(FormatError::Rejected(format!(
            "{what} is not valid before {}",
            format_rfc3339(nbf)
        )));
    }
    if let Some(exp) = not_after
        && now - LEEWAY_SECONDS >= exp
    {
        return Err(FormatError::Rejected(format!(
            "{what} expired at {}",
            format_rfc3339(exp)
        )));
    }
    Ok(())
}

fn claims_bytes(claims: &Map<String, Value>) -> Result<Vec<u8>, FormatError> {
    serde_json::to_vec(claims).map_err(|e| FormatError::malformed("JWT claims", e.to_string()))
}

/// A verified JWT credential or presentation.
#[derive(Debug, Clone)]
pub struct VerifiedJwt {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The JWT claims set as signed.
    pub claims: Map<String, Value>,
    /// The credential or presentation: for VCDM 1.1 the `vc`/`vp` claim with the mapped JWT
    /// claims restored into it; for VCDM 2.0 the claims set itself.
    pub document: Value,
}

/// Issues a VCDM 1.1 `jwt_vc_json` credential (header `typ` `JWT`).
pub async fn issue_vc_jwt_v11(
    signer: &dyn Signer,
    key: &KeyRef,
    credential: &Value,
    hint: KeyHint,
) -> Result<String, FormatError> {
    let vc = object("credential", credential)?;
    check_context("credential", vc, VCDM1_CONTEXT)?;
    crate::vcdm::validate_credential(credential, "credential")?;
    let mut claims = Map::new();
    let iss = issuer_id(vc).ok_or_else(|| {
        FormatError::malformed("credential", "`issuer` (or `issuer.id`) is missing")
    })?;
    claims.insert("iss".into(), iss.into());
    if let Some(sub) = subject_id(vc) {
        claims.insert("sub".into(), sub.into());
    }
    let nbf = date(vc, &["issuanceDate", "validFrom"])?
        .ok_or_else(|| FormatError::malformed("credential", "`issuanceDate` is missing"))?;
    claims.insert("nbf".into(), nbf.into());
    if let Some(exp) = date(vc, &["expirationDate", "validUntil"])? {
        claims.insert("exp".into(), exp.into());
    }
    if let Some(id) = vc.get("id") {
        claims.insert("jti".into(), id.clone());
    }
    claims.insert("vc".into(), credential.clone());
    let header = header_for(key, Some("JWT"), hint, &Map::new())?;
    sign_with_header(signer, key, &header, &claims_bytes(&claims)?).await
}

/// Verifies a VCDM 1.1 `jwt_vc_json` credential with `key` at time `now` (Unix seconds).
/// The mapped claims must agree with the `vc` members they stand for.
pub fn verify_vc_jwt_v11(
    token: &str,
    key: &PublicKey,
    now: i64,
) -> Result<VerifiedJwt, FormatError> {
    verify_vc_jwt_v11_at(token, key, Some(now))
}

/// [`verify_vc_jwt_v11`], checking the validity period only when `now` is given (a caller
/// that asked for the proof alone passes `None`).
pub fn verify_vc_jwt_v11_at(
    token: &str,
    key: &PublicKey,
    now: Option<i64>,
) -> Result<VerifiedJwt, FormatError> {
    let jws = decode_compact(token)?;
    jws.verify(key)?;
    if jws.typ().is_some() {
        jws.expect_typ(&["JWT", "vc+jwt"])?;
    }
    let claims = jws.payload_json()?;
    let mut vc = object(
        "vc claim",
        claims
            .get("vc")
            .ok_or_else(|| FormatError::malformed("JWT claims", "`vc` is missing"))?,
    )?
    .clone();
    check_context("credential", &vc, VCDM1_CONTEXT)?;
    check_type("credential", &vc, "VerifiableCredential")?;
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| FormatError::malformed("JWT claims", "`iss` is missing"))?;
    let agree = |claim: &str, member: &str, value: Option<&str>, expected: Option<&str>| match (
        value, expected,
    ) {
        (Some(a), Some(b)) if a != b => Err(FormatError::Rejected(format!(
            "JWT `{claim}` disagrees with `{member}`"
        ))),
        _ => Ok(()),
    };
    agree("iss", "issuer", Some(iss), issuer_id(&vc))?;
    agree(
        "sub",
        "credentialSubject.id",
        claims.get("sub").and_then(Value::as_str),
        subject_id(&vc),
    )?;
    agree(
        "jti",
        "id",
        claims.get("jti").and_then(Value::as_str),
        vc.get("id").and_then(Value::as_str),
    )?;
    let nbf = numeric_claim(&claims, "nbf")?;
    let exp = numeric_claim(&claims, "exp")?;
    let not_before = nbf.or(date(&vc, &["issuanceDate", "validFrom"])?);
    let not_after = exp.or(date(&vc, &["expirationDate", "validUntil"])?);
    if let Some(now) = now {
        check_window("credential", not_before, not_after, now)?;
    }
    // Restore what the JWT claims stand for (VCDM 1.1 §6.3.1 decoding).
    if issuer_id(&vc).is_none() {
        vc.insert("issuer".into(), iss.into());
    }
    if let (Some(nbf), false) = (
        nbf,
        vc.contains_key("issuanceDate") || vc.contains_key("validFrom"),
    ) {
        vc.insert("issuanceDate".into(), format_rfc3339(nbf).into());
    }
    if let (Some(exp), false) = (
        exp,
        vc.contains_key("expirationDate") || vc.contains_key("validUntil"),
    ) {
        vc.insert("expirationDate".into(), format_rfc3339(exp).into());
    }
    if let (Some(jti), false) = (claims.get("jti"), vc.contains_key("id")) {
        vc.insert("id".into(), jti.clone());
    }
    if let (Some(sub), Some(Value::Object(subject))) =
        (claims.get("sub"), vc.get_mut("credentialSubject"))
    {
        subject.entry("id").or_insert_with(|| sub.clone());
    }
    let vc = Value::Object(vc);
    crate::vcdm::validate_credential(&vc, "credential")?;
    Ok(VerifiedJwt {
        header: jws.header.clone(),
        claims,
        document: vc,
    })
}

/// Issues a VCDM 2.0 credential secured with JOSE (`typ` `vc+jwt`): the credential is the
/// claims set.
pub async fn issue_vc_jwt(
    signer: &dyn Signer,
    key: &KeyRef,
    credential: &Value,
    hint: KeyHint,
) -> Result<String, FormatError> {
    let vc = object("credential", credential)?;
    check_context("credential", vc, VCDM2_CONTEXT)?;
    crate::vcdm::validate_credential(credential, "credential")?;
    let header = header_for(key, Some(TYP_VC_JWT), hint, &Map::new())?;
    sign_with_header(signer, key, &header, &claims_bytes(vc)?).await
}

/// Verifies a `vc+jwt` credential with `key` at `now`: `typ`, context, type, `validFrom`,
/// `validUntil` (and `nbf`/`exp` when present).
pub fn verify_vc_jwt(token: &str, key: &PublicKey, now: i64) -> Result<VerifiedJwt, FormatError> {
    verify_vc_jwt_at(token, key, Some(now))
}

/// [`verify_vc_jwt`], checking the validity period only when `now` is given (a caller that
/// asked for the proof alone passes `None`).
pub fn verify_vc_jwt_at(
    token: &str,
    key: &PublicKey,
    now: Option<i64>,
) -> Result<VerifiedJwt, FormatError> {
    let jws = decode_compact(token)?;
    jws.verify(key)?;
    jws.expect_typ(&[TYP_VC_JWT])?;
    let claims = jws.payload_json()?;
    check_context("credential", &claims, VCDM2_CONTEXT)?;
    crate::vcdm::validate_credential(&Value::Object(claims.clone()), "credential")?;
    let iss = issuer_id(&claims)
        .ok_or_else(|| FormatError::malformed("credential", "`issuer` is missing"))?;
    if let Some(claim) = claims.get("iss").and_then(Value::as_str)
        && claim != iss
    {
        return Err(FormatError::Rejected(
            "JWT `iss` disagrees with `issuer`".into(),
        ));
    }
    let (valid_from, valid_until) = (
        date(&claims, &["validFrom"])?,
        date(&claims, &["validUntil"])?,
    );
    let (nbf, exp) = (
        numeric_claim(&claims, "nbf")?,
        numeric_claim(&claims, "exp")?,
    );
    if let Some(now) = now {
        check_window("credential", valid_from, valid_until, now)?;
        check_window("credential", nbf, exp, now)?;
    }
    Ok(VerifiedJwt {
        header: jws.header.clone(),
        document: Value::Object(claims.clone()),
        claims,
    })
}

/// Verifies a VCDM 1.1 presentation JWT (the presentation in the `vp` claim, `iss` the
/// holder) with the holder's `key` at `now`: the signature, the `vp` claim's context and
/// type, `iss` agreeing with `vp.holder`, `aud`/`nonce` when expected, `nbf`/`exp`/`iat`.
/// The document returned is the `vp` claim with `holder` restored from `iss`. The credentials
/// inside are not verified here.
pub fn verify_vp_jwt_v11(
    token: &str,
    key: &PublicKey,
    now: i64,
    expected_audience: Option<&str>,
    expected_nonce: Option<&str>,
) -> Result<VerifiedJwt, FormatError> {
    let jws = decode_compact(token)?;
    jws.verify(key)?;
    if jws.typ().is_some() {
        jws.expect_typ(&["JWT", TYP_VP_JWT])?;
    }
    let claims = jws.payload_json()?;
    let mut vp = object(
        "vp claim",
        claims
            .get("vp")
            .ok_or_else(|| FormatError::malformed("JWT claims", "`vp` is missing"))?,
    )?
    .clone();
    check_context("presentation", &vp, VCDM1_CONTEXT)?;
    check_type("presentation", &vp, "VerifiablePresentation")?;
    let iss = claims.get("iss").and_then(Value::as_str);
    let holder = match vp.get("holder") {
        None => None,
        Some(Value::String(h)) => Some(h.as_str()),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str),
        Some(_) => {
            return Err(FormatError::malformed(
                "presentation",
                "`holder` is not a string or an object with an id",
            ));
        }
    };
    if let (Some(iss), Some(holder)) = (iss, holder)
        && iss != holder
    {
        return Err(FormatError::Rejected(
            "JWT `iss` disagrees with the presentation's `holder`".into(),
        ));
    }
    check_audience_nonce(&claims, expected_audience, expected_nonce)?;
    check_window(
        "presentation",
        numeric_claim(&claims, "nbf")?,
        numeric_claim(&claims, "exp")?,
        now,
    )?;
    if let Some(iat) = numeric_claim(&claims, "iat")?
        && iat > now + LEEWAY_SECONDS
    {
        return Err(FormatError::Rejected(format!(
            "presentation `iat` {} is in the future",
            format_rfc3339(iat)
        )));
    }
    if let (Some(iss), None) = (iss, holder) {
        vp.insert("holder".into(), iss.into());
    }
    if let (Some(jti), false) = (claims.get("jti"), vp.contains_key("id")) {
        vp.insert("id".into(), jti.clone());
    }
    Ok(VerifiedJwt {
        header: jws.header.clone(),
        claims,
        document: Value::Object(vp),
    })
}

/// What a holder binds a `vp+jwt` presentation to.
#[derive(Debug, Clone, Default)]
pub struct PresentationBinding {
    /// The verifier (`aud`).
    pub audience: Option<String>,
    /// The verifier's challenge (`nonce`).
    pub nonce: Option<String>,
    /// When it was made (`iat`).
    pub issued_at: Option<i64>,
    /// Until when it is valid (`exp`).
    pub expires_at: Option<i64>,
}

/// Issues a VCDM 2.0 presentation secured with JOSE (`typ` `vp+jwt`), signed by the holder;
/// `aud`, `nonce`, `iat`, `exp` are added to the claims set from `binding`.
pub async fn issue_vp_jwt(
    signer: &dyn Signer,
    holder: &KeyRef,
    presentation: &Value,
    binding: &PresentationBinding,
    hint: KeyHint,
) -> Result<String, FormatError> {
    let mut vp = object("presentation", presentation)?.clone();
    check_context("presentation", &vp, VCDM2_CONTEXT)?;
    crate::vcdm::validate_presentation(presentation, "presentation")?;
    for (name, value) in [
        ("aud", binding.audience.clone().map(Value::from)),
        ("nonce", binding.nonce.clone().map(Value::from)),
        ("iat", binding.issued_at.map(Value::from)),
        ("exp", binding.expires_at.map(Value::from)),
    ] {
        if let Some(value) = value
            && vp.insert(name.into(), value).is_some()
        {
            return Err(FormatError::Rejected(format!(
                "the presentation already has a `{name}` member"
            )));
        }
    }
    let header = header_for(holder, Some(TYP_VP_JWT), hint, &Map::new())?;
    sign_with_header(signer, holder, &header, &claims_bytes(&vp)?).await
}

/// Verifies a `vp+jwt` presentation with the holder's `key` at `now`; when given, `aud` must
/// contain `expected_audience` and `nonce` must equal `expected_nonce`. The credentials
/// inside are not verified here.
pub fn verify_vp_jwt(
    token: &str,
    key: &PublicKey,
    now: i64,
    expected_audience: Option<&str>,
    expected_nonce: Option<&str>,
) -> Result<VerifiedJwt, FormatError> {
    let jws = decode_compact(token)?;
    jws.verify(key)?;
    jws.expect_typ(&[TYP_VP_JWT])?;
    let claims = jws.payload_json()?;
    check_context("presentation", &claims, VCDM2_CONTEXT)?;
    crate::vcdm::validate_presentation(&Value::Object(claims.clone()), "presentation")?;
    check_audience_nonce(&claims, expected_audience, expected_nonce)?;
    check_window(
        "presentation",
        numeric_claim(&claims, "nbf")?,
        numeric_claim(&claims, "exp")?,
        now,
    )?;
    if let Some(iat) = numeric_claim(&claims, "iat")?
        && iat > now + LEEWAY_SECONDS
    {
        return Err(FormatError::Rejected(format!(
            "presentation `iat` {} is in the future",
            format_rfc3339(iat)
        )));
    }
    Ok(VerifiedJwt {
        header: jws.header.clone(),
        document: Value::Object(claims.clone()),
        claims,
    })
}

fn check_audience_nonce(
    claims: &Map<String, Value>,
    expected_audience: Option<&str>,
    expected_nonce: Option<&str>,
) -> Result<(), FormatError> {
    if let Some(want) = expected_audience {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => a == want,
            Some(Value::Array(a)) => a.iter().any(|a| a.as_str() == Some(want)),
            _ => false,
        };
        if !ok {
            return Err(FormatError::Rejected(format!(
                "`aud` is not the expected audience {want:?}"
            )));
        }
    }
    if let Some(want) = expected_nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(want)
    {
        return Err(FormatError::Rejected(
            "`nonce` is not the expected nonce".into(),
        ));
    }
    Ok(())
}

/// What an OpenID4VCI key proof says.
#[derive(Debug, Clone)]
pub struct ProofRequest<'a> {
    /// The Credential Issuer Identifier (`aud`).
    pub audience: &'a str,
    /// The `c_nonce` from the issuer's Nonce Endpoint, when it has one (`nonce`).
    pub nonce: Option<&'a str>,
    /// When the proof is made (`iat`).
    pub issued_at: i64,
    /// The client id (`iss`), left out for anonymous pre-authorized code flows.
    pub client_id: Option<&'a str>,
}

/// Signs an OpenID4VCI key proof with the holder key. `hint` must be [`KeyHint::Jwk`],
/// [`KeyHint::Kid`] or [`KeyHint::X5c`]: the issuer learns the key to bind from the header.
pub async fn issue_openid4vci_proof(
    signer: &dyn Signer,
    holder: &KeyRef,
    request: &ProofRequest<'_>,
    hint: KeyHint,
) -> Result<String, FormatError> {
    if hint == KeyHint::None {
        return Err(FormatError::Rejected(
            "an OpenID4VCI proof must name its key (`jwk`, `kid` or `x5c`)".into(),
        ));
    }
    let mut claims = Map::new();
    claims.insert("aud".into(), request.audience.into());
    claims.insert("iat".into(), request.issued_at.into());
    if let Some(nonce) = request.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    if let Some(iss) = request.client_id {
        claims.insert("iss".into(), iss.into());
    }
    let header = header_for(holder, Some(TYP_OPENID4VCI_PROOF), hint, &Map::new())?;
    sign_with_header(signer, holder, &header, &claims_bytes(&claims)?).await
}

/// A verified OpenID4VCI key proof.
#[derive(Debug, Clone)]
pub struct VerifiedProof {
    /// The key to bind the credential to.
    pub holder_key: PublicKey,
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
}

/// Verifies an OpenID4VCI key proof: `typ`, exactly one of `jwk`/`kid`/`x5c` (a `kid` must
/// be a `did:jwk`/`did:key` URL unless `kid_key` resolves it), the signature by that key,
/// `aud`, `nonce` (when the issuer expects one), and `iat` no older than `max_age` seconds
/// and not in the future.
pub fn verify_openid4vci_proof(
    token: &str,
    expected_audience: &str,
    expected_nonce: Option<&str>,
    now: i64,
    max_age: i64,
    kid_key: Option<&PublicKey>,
) -> Result<VerifiedProof, FormatError> {
    let jws = decode_compact(token)?;
    jws.expect_typ(&[TYP_OPENID4VCI_PROOF])?;
    let named: Vec<&str> = ["jwk", "kid", "x5c"]
        .into_iter()
        .filter(|h| jws.header.contains_key(*h))
        .collect();
    if named.len() != 1 {
        return Err(FormatError::Rejected(format!(
            "an OpenID4VCI proof header needs exactly one of `jwk`, `kid`, `x5c` (found {})",
            if named.is_empty() {
                "none".to_owned()
            } else {
                named.join(", ")
            }
        )));
    }
    let holder_key = match (jws.header_key()?, kid_key) {
        (Some(k), _) => k,
        (None, Some(k)) => k.clone(),
        (None, None) => {
            return Err(FormatError::Unsupported(
                "the proof's `kid` is not a did:jwk or did:key URL and no key was given for it"
                    .into(),
            ));
        }
    };
    jws.verify(&holder_key)?;
    let claims = jws.payload_json()?;
    check_audience_nonce(&claims, Some(expected_audience), expected_nonce)?;
    let iat = numeric_claim(&claims, "iat")?
        .ok_or_else(|| FormatError::malformed("OpenID4VCI proof", "`iat` is missing"))?;
    check_fresh("OpenID4VCI proof", iat, now, max_age)?;
    Ok(VerifiedProof {
        holder_key,
        header: jws.header.clone(),
        claims,
    })
}

/// `iat` must be within `[now - max_age, now]` (with the leeway).
pub(crate) fn check_fresh(what: &str, iat: i64, now: i64, max_age: i64) -> Result<(), FormatError> {
    if iat > now + LEEWAY_SECONDS {
        return Err(FormatError::Rejected(format!(
            "{what} `iat` {} is in the future",
            format_rfc3339(iat)
        )));
    }
    if iat < now - max_age - LEEWAY_SECONDS {
        return Err(FormatError::Rejected(format!(
            "{what} `iat` {} is older than {max_age} seconds",
            format_rfc3339(iat)
        )));
    }
    Ok(())
}
