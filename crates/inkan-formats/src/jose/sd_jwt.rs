//! SD-JWT (RFC 9901) and SD-JWT VC (`dc+sd-jwt`, draft-ietf-oauth-sd-jwt-vc): issuance with
//! chosen selectively disclosable claims, presentation with a Key Binding JWT, verification.
//!
//! Owns making disclosures (128-bit salts from the caller's CSPRNG, SHA-256 digests, optional
//! decoys), choosing what a holder discloses by JSON pointer, and the verifier's processing:
//! every digest at most once, every disclosure referenced exactly once, `_sd` arrays and
//! `{"...": digest}` array elements, the KB-JWT bound to the `cnf` key, `sd_hash`, `aud`,
//! `nonce` and `iat`. It never reads the clock or an RNG of its own (both are passed in),
//! never trusts an issuer by itself (the caller gives the issuer key) and never signs
//! anything but through the [`Signer`].

use super::jws::{KeyHint, decode_compact, header_for, sign_with_header};
use super::vc_jwt::check_fresh;
use super::{LEEWAY_SECONDS, b64, b64_decode, format_rfc3339, public_key_from_jwk};
use crate::{FormatError, KeyRef, Signer, limits};
use inkan_device::PublicKey;
use rand_core::RngCore;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// `typ` of an SD-JWT VC.
pub const TYP_DC_SD_JWT: &str = "dc+sd-jwt";
/// The `typ` earlier drafts used, still accepted when verifying.
pub const TYP_VC_SD_JWT_LEGACY: &str = "vc+sd-jwt";
/// `typ` of a Key Binding JWT.
pub const TYP_KB_JWT: &str = "kb+jwt";
/// The only digest algorithm produced and accepted.
pub const SD_ALG: &str = "sha-256";
/// Salt length in bytes (128 bits, RFC 9901 §9.3).
pub const SALT_BYTES: usize = 16;

/// Claims the issuer sets through [`SdJwtVcIssue`] and that are never selectively
/// disclosable (draft-ietf-oauth-sd-jwt-vc §3.2.2).
const REGISTERED: [&str; 8] = [
    "iss",
    "iat",
    "nbf",
    "exp",
    "vct",
    "cnf",
    "status",
    "vct#integrity",
];

fn digest(encoded: &str) -> String {
    super::sha256_b64url(encoded.as_bytes())
}

/// One disclosure: `[salt, name, value]` for an object property, `[salt, value]` for an
/// array element.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    /// The base64url form as it appears in the serialisation.
    pub encoded: String,
    /// Its SHA-256 digest, base64url.
    pub digest: String,
    /// The salt.
    pub salt: String,
    /// The claim name; `None` for an array element.
    pub name: Option<String>,
    /// The claim value.
    pub value: Value,
}

impl Disclosure {
    fn make(
        rng: &mut (dyn RngCore + Send),
        name: Option<&str>,
        value: Value,
    ) -> Result<Self, FormatError> {
        let mut salt = [0u8; SALT_BYTES];
        rng.try_fill_bytes(&mut salt)
            .map_err(|e| FormatError::Signer(format!("random salt: {e}")))?;
        let salt = b64(&salt);
        let array = match name {
            Some(n) => Value::Array(vec![salt.clone().into(), n.into(), value.clone()]),
            None => Value::Array(vec![salt.clone().into(), value.clone()]),
        };
        let json = serde_json::to_string(&array)
            .map_err(|e| FormatError::malformed("disclosure", e.to_string()))?;
        let encoded = b64(json.as_bytes());
        Ok(Disclosure {
            digest: digest(&encoded),
            encoded,
            salt,
            name: name.map(str::to_owned),
            value,
        })
    }

    /// Parses a disclosure from outside.
    pub fn parse(encoded: &str) -> Result<Self, FormatError> {
        let json = limits::parse_json("disclosure", &b64_decode("disclosure", encoded)?)?;
        let items = json
            .as_array()
            .ok_or_else(|| FormatError::malformed("disclosure", "not a JSON array"))?;
        let salt = |v: &Value| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| FormatError::malformed("disclosure", "the salt is not a string"))
        };
        let (salt, name, value) = match items.as_slice() {
            [s, Value::String(n), v] => {
                if n == "_sd" || n == "..." {
                    return Err(FormatError::malformed(
                        "disclosure",
                        format!("claim name {n:?} is reserved"),
                    ));
                }
                (salt(s)?, Some(n.clone()), v.clone())
            }
            [_, _, _] => {
                return Err(FormatError::malformed(
                    "disclosure",
                    "the claim name is not a string",
                ));
            }
            [s, v] => (salt(s)?, None, v.clone()),
            _ => {
                return Err(FormatError::malformed(
                    "disclosure",
                    format!("{} elements, not 2 or 3", items.len()),
                ));
            }
        };
        Ok(Disclosure {
            encoded: encoded.to_owned(),
            digest: digest(encoded),
            salt,
            name,
            value,
        })
    }
}

/// Parses an RFC 6901 JSON pointer into its reference tokens.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, FormatError> {
    let rest = pointer.strip_prefix('/').ok_or_else(|| {
        FormatError::malformed(
            "JSON pointer",
            format!("{pointer:?} does not start with `/`"),
        )
    })?;
    rest.split('/')
        .map(|t| {
            if t.contains('~') && t.replace("~0", "").replace("~1", "").contains('~') {
                return Err(FormatError::malformed(
                    "JSON pointer",
                    format!("{pointer:?} has a bad `~` escape"),
                ));
            }
            Ok(t.replace("~1", "/").replace("~0", "~"))
        })
        .collect()
}

fn push_token(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

/// What to issue as an SD-JWT VC.
#[derive(Debug, Clone)]
pub struct SdJwtVcIssue {
    /// The credential type (`vct`).
    pub vct: String,
    /// The issuer (`iss`).
    pub issuer: Option<String>,
    /// `iat`.
    pub issued_at: Option<i64>,
    /// `nbf`.
    pub not_before: Option<i64>,
    /// `exp`.
    pub expires_at: Option<i64>,
    /// The holder key, put in `cnf.jwk` (needed for Key Binding).
    pub holder_key: Option<PublicKey>,
    /// The `status` claim (e.g. `{"status_list": {"idx": 0, "uri": "…"}}`).
    pub status: Option<Value>,
    /// The user claims (a JSON object without the registered claims above).
    pub claims: Value,
    /// JSON pointers into `claims` of what is selectively disclosable: object properties and
    /// array elements, at any depth (inner ones are made first, then their containers).
    pub selectively_disclosable: Vec<String>,
    /// Decoy digests added to every `_sd` array.
    pub decoys_per_object: usize,
    /// How the header names the issuer key.
    pub hint: KeyHint,
}

/// An issued SD-JWT VC.
#[derive(Debug, Clone)]
pub struct IssuedSdJwt {
    /// `<issuer-signed JWT>~<disclosure>~…~`.
    pub serialized: String,
    /// The disclosures, in the order of the serialisation.
    pub disclosures: Vec<Disclosure>,
}

/// Finds the value a token path points at.
fn locate_mut<'a>(
    root: &'a mut Value,
    tokens: &[String],
    pointer: &str,
) -> Result<&'a mut Value, FormatError> {
    let mut at = root;
    for token in tokens {
        at = match at {
            Value::Object(m) => m.get_mut(token),
            Value::Array(a) => token
                .parse::<usize>()
                .ok()
                .filter(|_| !token.starts_with('+'))
                .and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| {
            FormatError::Rejected(format!(
                "selectively disclosable claim {pointer:?} is not in the claims"
            ))
        })?;
    }
    Ok(at)
}

/// Adds decoys to and sorts every `_sd` array still visible in `value`.
fn finish_sd_arrays(
    value: &mut Value,
    rng: &mut (dyn RngCore + Send),
    decoys: usize,
) -> Result<(), FormatError> {
    match value {
        Value::Object(m) => {
            if let Some(Value::Array(sd)) = m.get_mut("_sd") {
                for _ in 0..decoys {
                    let mut salt = [0u8; SALT_BYTES];
                    rng.try_fill_bytes(&mut salt)
                        .map_err(|e| FormatError::Signer(format!("random decoy: {e}")))?;
                    sd.push(digest(&b64(&salt)).into());
                }
                sd.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
            for (k, v) in m.iter_mut() {
                if k != "_sd" {
                    finish_sd_arrays(v, rng, decoys)?;
                }
            }
        }
        Value::Array(a) => {
            for v in a {
                finish_sd_arrays(v, rng, decoys)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Builds the SD-JWT payload and disclosures (no signing).
fn build_payload(
    request: &SdJwtVcIssue,
    rng: &mut (dyn RngCore + Send),
) -> Result<(Map<String, Value>, Vec<Disclosure>), FormatError> {
    let mut claims = request.claims.clone();
    let members = claims
        .as_object()
        .ok_or_else(|| FormatError::malformed("SD-JWT VC claims", "not a JSON object"))?;
    if let Some(name) = members
        .keys()
        .find(|k| REGISTERED.contains(&k.as_str()) || *k == "_sd" || *k == "_sd_alg" || *k == "...")
    {
        return Err(FormatError::Rejected(format!(
            "claim `{name}` is reserved: set it through SdJwtVcIssue, not in the claims"
        )));
    }
    limits::check_json_depth("SD-JWT VC claims", &claims)?;
    let mut pointers = request
        .selectively_disclosable
        .iter()
        .map(|p| parse_pointer(p).map(|t| (p.as_str(), t)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    for (p, tokens) in &pointers {
        if !seen.insert(tokens.clone()) {
            return Err(FormatError::Rejected(format!(
                "selectively disclosable claim {p:?} is listed twice"
            )));
        }
        if let Some(t) = tokens.iter().find(|t| *t == "_sd" || *t == "...") {
            return Err(FormatError::Rejected(format!(
                "{p:?} names the reserved member `{t}`"
            )));
        }
    }
    if pointers.len() > limits::MAX_DISCLOSURES {
        return Err(FormatError::Rejected(format!(
            "more than {} selectively disclosable claims",
            limits::MAX_DISCLOSURES
        )));
    }
    // Deepest first: a container's disclosure then holds its members' digests.
    pointers.sort_by_key(|(_, tokens)| std::cmp::Reverse(tokens.len()));
    let mut disclosures = Vec::with_capacity(pointers.len());
    for (pointer, tokens) in &pointers {
        let (last, parent_tokens) = tokens.split_last().ok_or_else(|| {
            FormatError::Rejected(
                "the whole claims object cannot be selectively disclosable".into(),
            )
        })?;
        let parent = locate_mut(&mut claims, parent_tokens, pointer)?;
        let disclosure = match parent {
            Value::Object(m) => {
                let mut value = m.remove(last).ok_or_else(|| {
                    FormatError::Rejected(format!(
                        "selectively disclosable claim {pointer:?} is not in the claims"
                    ))
                })?;
                finish_sd_arrays(&mut value, rng, request.decoys_per_object)?;
                let d = Disclosure::make(rng, Some(last), value)?;
                match m.entry("_sd").or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(sd) => sd.push(d.digest.clone().into()),
                    _ => {
                        return Err(FormatError::Rejected(
                            "an `_sd` member that is not an array".into(),
                        ));
                    }
                }
                d
            }
            Value::Array(a) => {
                let slot = last
                    .parse::<usize>()
                    .ok()
                    .filter(|_| !last.starts_with('+'))
                    .and_then(|i| a.get_mut(i))
                    .ok_or_else(|| {
                        FormatError::Rejected(format!(
                            "selectively disclosable element {pointer:?} is not in the claims"
                        ))
                    })?;
                let mut value = slot.take();
                finish_sd_arrays(&mut value, rng, request.decoys_per_object)?;
                let d = Disclosure::make(rng, None, value)?;
                let mut ellipsis = Map::new();
                ellipsis.insert("...".into(), d.digest.clone().into());
                *slot = Value::Object(ellipsis);
                d
            }
            _ => {
                return Err(FormatError::Rejected(format!(
                    "{pointer:?} does not point into an object or array"
                )));
            }
        };
        disclosures.push(disclosure);
    }
    finish_sd_arrays(&mut claims, rng, request.decoys_per_object)?;
    let Value::Object(mut payload) = claims else {
        return Err(FormatError::malformed(
            "SD-JWT VC claims",
            "not a JSON object",
        ));
    };
    if let Some(iss) = &request.issuer {
        payload.insert("iss".into(), iss.clone().into());
    }
    for (name, time) in [
        ("iat", request.issued_at),
        ("nbf", request.not_before),
        ("exp", request.expires_at),
    ] {
        if let Some(t) = time {
            payload.insert(name.into(), t.into());
        }
    }
    payload.insert("vct".into(), request.vct.clone().into());
    if let Some(status) = &request.status {
        payload.insert("status".into(), status.clone());
    }
    if let Some(holder) = &request.holder_key {
        let mut cnf = Map::new();
        cnf.insert("jwk".into(), holder.to_jwk());
        payload.insert("cnf".into(), Value::Object(cnf));
    }
    payload.insert("_sd_alg".into(), SD_ALG.into());
    Ok((payload, disclosures))
}

/// Issues an SD-JWT VC signed by `key` (header `typ` `dc+sd-jwt`). Salts and decoys come
/// from `rng`, which must be a CSPRNG outside tests.
pub async fn issue_sd_jwt_vc(
    signer: &dyn Signer,
    key: &KeyRef,
    request: &SdJwtVcIssue,
    rng: &mut (dyn RngCore + Send),
) -> Result<IssuedSdJwt, FormatError> {
    if request.vct.is_empty() {
        return Err(FormatError::Rejected("`vct` is empty".into()));
    }
    let (payload, disclosures) = build_payload(request, rng)?;
    let header = header_for(key, Some(TYP_DC_SD_JWT), request.hint, &Map::new())?;
    let payload = serde_json::to_vec(&payload)
        .map_err(|e| FormatError::malformed("SD-JWT payload", e.to_string()))?;
    let jws = sign_with_header(signer, key, &header, &payload).await?;
    let mut serialized = jws;
    serialized.push('~');
    for d in &disclosures {
        serialized.push_str(&d.encoded);
        serialized.push('~');
    }
    Ok(IssuedSdJwt {
        serialized,
        disclosures,
    })
}

/// An SD-JWT split into its parts.
#[derive(Debug, Clone)]
pub struct SdJwtParts<'a> {
    /// The issuer-signed JWT.
    pub jws: &'a str,
    /// The disclosures as serialised.
    pub disclosures: Vec<&'a str>,
    /// The Key Binding JWT, if any.
    pub kb_jwt: Option<&'a str>,
    /// Everything up to and including the last `~` (what `sd_hash` covers).
    pub presented: &'a str,
}

/// Splits `<JWT>~<D1>~…~<Dn>~[<KB-JWT>]`.
pub fn split_sd_jwt(serialized: &str) -> Result<SdJwtParts<'_>, FormatError> {
    limits::check_size("SD-JWT", serialized.as_bytes())?;
    let last_tilde = serialized
        .rfind('~')
        .ok_or_else(|| FormatError::malformed("SD-JWT", "no `~`: not an SD-JWT serialisation"))?;
    let (presented, kb) = serialized.split_at(last_tilde + 1);
    let mut parts = presented[..last_tilde].split('~');
    let jws = parts.next().unwrap_or_default();
    let disclosures: Vec<&str> = parts.collect();
    if disclosures.len() > limits::MAX_DISCLOSURES {
        return Err(FormatError::malformed(
            "SD-JWT",
            format!("more than {} disclosures", limits::MAX_DISCLOSURES),
        ));
    }
    if disclosures.iter().any(|d| d.is_empty()) {
        return Err(FormatError::malformed(
            "SD-JWT",
            "an empty disclosure (`~~`)",
        ));
    }
    Ok(SdJwtParts {
        jws,
        disclosures,
        kb_jwt: (!kb.is_empty()).then_some(kb),
        presented,
    })
}

/// Where a disclosure's claim sits in the processed claims.
#[derive(Debug, Clone)]
pub struct Located {
    /// JSON pointer into the processed claims.
    pub pointer: String,
    /// The disclosure.
    pub disclosure: Disclosure,
}

struct Processor<'a> {
    disclosures: &'a [Disclosure],
    by_digest: HashMap<&'a str, usize>,
    seen: HashSet<String>,
    used: Vec<bool>,
    located: Vec<Located>,
}

impl Processor<'_> {
    fn claim_digest(&mut self, digest: &Value) -> Result<Option<usize>, FormatError> {
        let digest = digest
            .as_str()
            .ok_or_else(|| FormatError::malformed("SD-JWT", "a digest is not a string"))?;
        if !self.seen.insert(digest.to_owned()) {
            return Err(FormatError::Rejected(format!(
                "digest {digest} appears more than once"
            )));
        }
        let index = self.by_digest.get(digest).copied();
        if let Some(i) = index
            && let Some(used) = self.used.get_mut(i)
        {
            *used = true;
        }
        Ok(index)
    }

    fn walk(&mut self, value: Value, pointer: &str, depth: usize) -> Result<Value, FormatError> {
        if depth > limits::MAX_DEPTH {
            return Err(FormatError::malformed(
                "SD-JWT",
                format!("claims nested deeper than {} levels", limits::MAX_DEPTH),
            ));
        }
        match value {
            Value::Object(mut m) => {
                let sd = m.remove("_sd");
                let mut out = Map::new();
                for (k, v) in m {
                    let child = push_token(pointer, &k);
                    out.insert(k, self.walk(v, &child, depth + 1)?);
                }
                if let Some(sd) = sd {
                    let Value::Array(digests) = sd else {
                        return Err(FormatError::malformed(
                            "SD-JWT",
                            format!("`_sd` at {pointer:?} is not an array"),
                        ));
                    };
                    for d in &digests {
                        let Some(i) = self.claim_digest(d)? else {
                            continue;
                        };
                        let disclosure = self
                            .disclosures
                            .get(i)
                            .cloned()
                            .ok_or_else(|| FormatError::Rejected("disclosure index".into()))?;
                        let Some(name) = disclosure.name.clone() else {
                            return Err(FormatError::Rejected(format!(
                                "array-element disclosure {} is referenced from `_sd` at {pointer:?}",
                                disclosure.digest
                            )));
                        };
                        if out.contains_key(&name) {
                            return Err(FormatError::Rejected(format!(
                                "disclosed claim {name:?} already exists at {pointer:?}"
                            )));
                        }
                        let child = push_token(pointer, &name);
                        let value = self.walk(disclosure.value.clone(), &child, depth + 1)?;
                        self.located.push(Located {
                            pointer: child,
                            disclosure,
                        });
                        out.insert(name, value);
                    }
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let child = push_token(pointer, &out.len().to_string());
                    match item {
                        Value::Object(m) if m.len() == 1 && m.contains_key("...") => {
                            let d = m.get("...").cloned().unwrap_or(Value::Null);
                            let Some(i) = self.claim_digest(&d)? else {
                                continue;
                            };
                            let disclosure =
                                self.disclosures.get(i).cloned().ok_or_else(|| {
                                    FormatError::Rejected("disclosure index".into())
                                })?;
                            if disclosure.name.is_some() {
                                return Err(FormatError::Rejected(format!(
                                    "object-property disclosure {} is referenced as an array element at {pointer:?}",
                                    disclosure.digest
                                )));
                            }
                            let value = self.walk(disclosure.value.clone(), &child, depth + 1)?;
                            self.located.push(Located {
                                pointer: child,
                                disclosure,
                            });
                            out.push(value);
                        }
                        other => out.push(self.walk(other, &child, depth + 1)?),
                    }
                }
                Ok(Value::Array(out))
            }
            other => Ok(other),
        }
    }
}

/// Processes an SD-JWT payload with its disclosures (RFC 9901 §7.1 step 3 onward): returns
/// the processed claims (without `_sd`, `_sd_alg`) and where each disclosure went.
pub fn process_disclosures(
    payload: &Map<String, Value>,
    disclosures: &[Disclosure],
) -> Result<(Map<String, Value>, Vec<Located>), FormatError> {
    match payload.get("_sd_alg") {
        None => {}
        Some(Value::String(a)) if a == SD_ALG => {}
        Some(other) => {
            return Err(FormatError::Unsupported(format!(
                "`_sd_alg` {other} (sha-256)"
            )));
        }
    }
    let mut by_digest = HashMap::new();
    for (i, d) in disclosures.iter().enumerate() {
        if by_digest.insert(d.digest.as_str(), i).is_some() {
            return Err(FormatError::Rejected(format!(
                "disclosure {} is presented twice",
                d.digest
            )));
        }
    }
    let mut p = Processor {
        disclosures,
        by_digest,
        seen: HashSet::new(),
        used: vec![false; disclosures.len()],
        located: Vec::new(),
    };
    let mut payload = payload.clone();
    payload.remove("_sd_alg");
    let processed = p.walk(Value::Object(payload), "", 0)?;
    if let Some(i) = p.used.iter().position(|u| !u) {
        let d = disclosures.get(i).map(|d| d.digest.as_str()).unwrap_or("?");
        return Err(FormatError::Rejected(format!(
            "disclosure {d} is not referenced by the SD-JWT"
        )));
    }
    let Value::Object(claims) = processed else {
        return Err(FormatError::malformed("SD-JWT", "payload is not an object"));
    };
    Ok((claims, p.located))
}

/// What the holder's Key Binding JWT says.
#[derive(Debug, Clone)]
pub struct KeyBindingRequest<'a> {
    /// The verifier (`aud`).
    pub audience: &'a str,
    /// The verifier's nonce (`nonce`).
    pub nonce: &'a str,
    /// When the presentation is made (`iat`).
    pub issued_at: i64,
}

fn selected(located_pointer: &str, requested: &str) -> bool {
    located_pointer == requested
        || requested
            .strip_prefix(located_pointer)
            .is_some_and(|rest| rest.starts_with('/'))
        || located_pointer
            .strip_prefix(requested)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn resolves(claims: &Value, tokens: &[String]) -> bool {
    let mut at = claims;
    for t in tokens {
        let next = match at {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => return false,
        }
    }
    true
}

/// Makes a presentation of an issued SD-JWT: the disclosures needed for each JSON pointer in
/// `disclose` (the claim, everything inside it, and the containers it sits in), then, when
/// `holder` is given, a KB-JWT signed by the holder key (which must be the `cnf` key).
pub async fn present_sd_jwt(
    signer: &dyn Signer,
    issued: &str,
    disclose: &[&str],
    holder: Option<(&KeyRef, &KeyBindingRequest<'_>)>,
) -> Result<String, FormatError> {
    let parts = split_sd_jwt(issued)?;
    if parts.kb_jwt.is_some() {
        return Err(FormatError::Rejected(
            "the SD-JWT already carries a Key Binding JWT".into(),
        ));
    }
    let payload = decode_compact(parts.jws)?.payload_json()?;
    let disclosures = parts
        .disclosures
        .iter()
        .map(|d| Disclosure::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    let (claims, located) = process_disclosures(&payload, &disclosures)?;
    let claims = Value::Object(claims);
    let mut chosen: HashSet<String> = HashSet::new();
    for requested in disclose {
        let tokens = parse_pointer(requested)?;
        let normal = tokens.iter().fold(String::new(), |p, t| push_token(&p, t));
        if !resolves(&claims, &tokens) {
            return Err(FormatError::Rejected(format!(
                "no claim at {requested:?} to disclose"
            )));
        }
        for l in located.iter().filter(|l| selected(&l.pointer, &normal)) {
            chosen.insert(l.disclosure.digest.clone());
        }
    }
    let mut out = format!("{}~", parts.jws);
    for d in disclosures.iter().filter(|d| chosen.contains(&d.digest)) {
        out.push_str(&d.encoded);
        out.push('~');
    }
    let Some((key, request)) = holder else {
        return Ok(out);
    };
    if let Some(jwk) = payload.get("cnf").and_then(|c| c.get("jwk"))
        && public_key_from_jwk(jwk)? != key.public_key
    {
        return Err(FormatError::Rejected(
            "the holder key is not the SD-JWT's `cnf` key".into(),
        ));
    }
    let mut kb = Map::new();
    kb.insert("iat".into(), request.issued_at.into());
    kb.insert("aud".into(), request.audience.into());
    kb.insert("nonce".into(), request.nonce.into());
    kb.insert("sd_hash".into(), digest(&out).into());
    let header = header_for(key, Some(TYP_KB_JWT), KeyHint::None, &Map::new())?;
    let kb =
        serde_json::to_vec(&kb).map_err(|e| FormatError::malformed("KB-JWT", e.to_string()))?;
    let kb_jwt = sign_with_header(signer, key, &header, &kb).await?;
    out.push_str(&kb_jwt);
    Ok(out)
}

/// What the verifier expects of the Key Binding JWT.
#[derive(Debug, Clone)]
pub struct KeyBindingExpectation<'a> {
    /// Its own identifier (`aud`).
    pub audience: &'a str,
    /// The nonce it gave the holder.
    pub nonce: &'a str,
    /// Oldest acceptable `iat`, in seconds before `now`.
    pub max_age: i64,
}

/// How to verify an SD-JWT VC.
#[derive(Debug, Clone)]
pub struct SdJwtVerifyOptions<'a> {
    /// The time to check against (Unix seconds).
    pub now: i64,
    /// When given, a KB-JWT is required and checked against it. When `None`, a KB-JWT that
    /// is present is still checked (signature by the `cnf` key, `typ`, `sd_hash`), but not
    /// its `aud`, `nonce` or age.
    pub key_binding: Option<KeyBindingExpectation<'a>>,
}

/// A verified SD-JWT VC.
#[derive(Debug, Clone)]
pub struct VerifiedSdJwt {
    /// The issuer-signed JWT's header.
    pub header: Map<String, Value>,
    /// Its payload as signed (with `_sd` digests).
    pub payload: Map<String, Value>,
    /// The processed claims: the always-visible claims plus the disclosed ones.
    pub claims: Map<String, Value>,
    /// Each disclosure and where it went.
    pub disclosed: Vec<Located>,
    /// The KB-JWT's claims, when there was one.
    pub key_binding: Option<Map<String, Value>>,
}

/// Verifies an SD-JWT VC (issuance or presentation) with the issuer's key.
pub fn verify_sd_jwt_vc(
    serialized: &str,
    issuer_key: &PublicKey,
    options: &SdJwtVerifyOptions<'_>,
) -> Result<VerifiedSdJwt, FormatError> {
    let parts = split_sd_jwt(serialized)?;
    let jws = decode_compact(parts.jws)?;
    jws.expect_typ(&[TYP_DC_SD_JWT, TYP_VC_SD_JWT_LEGACY])?;
    jws.verify(issuer_key)?;
    let payload = jws.payload_json()?;
    let disclosures = parts
        .disclosures
        .iter()
        .map(|d| Disclosure::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    let (claims, disclosed) = process_disclosures(&payload, &disclosures)?;
    if !claims.get("vct").is_some_and(Value::is_string) {
        return Err(FormatError::Rejected(
            "`vct` is missing or not a string".into(),
        ));
    }
    let time = |name: &str| -> Result<Option<i64>, FormatError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                FormatError::malformed("SD-JWT VC", format!("`{name}` is not a NumericDate"))
            }),
        }
    };
    if let Some(exp) = time("exp")?
        && options.now - LEEWAY_SECONDS >= exp
    {
        return Err(FormatError::Rejected(format!(
            "SD-JWT VC expired at {}",
            format_rfc3339(exp)
        )));
    }
    if let Some(nbf) = time("nbf")?
        && options.now + LEEWAY_SECONDS < nbf
    {
        return Err(FormatError::Rejected(format!(
            "SD-JWT VC is not valid before {}",
            format_rfc3339(nbf)
        )));
    }
    if let Some(iat) = time("iat")?
        && iat > options.now + LEEWAY_SECONDS
    {
        return Err(FormatError::Rejected(format!(
            "SD-JWT VC `iat` {} is in the future",
            format_rfc3339(iat)
        )));
    }
    let key_binding = match (parts.kb_jwt, &options.key_binding) {
        (None, Some(_)) => {
            return Err(FormatError::Rejected(
                "a Key Binding JWT is required but the presentation has none".into(),
            ));
        }
        (None, None) => None,
        (Some(kb), expectation) => {
            let jwk = claims
                .get("cnf")
                .and_then(|c| c.get("jwk"))
                .ok_or_else(|| {
                    FormatError::Rejected(
                        "a Key Binding JWT is present but the SD-JWT has no `cnf.jwk`".into(),
                    )
                })?;
            let holder_key = public_key_from_jwk(jwk)?;
            let kb = decode_compact(kb)?;
            kb.expect_typ(&[TYP_KB_JWT])?;
            kb.verify(&holder_key).map_err(|e| match e {
                FormatError::InvalidSignature(m) => FormatError::InvalidSignature(format!(
                    "Key Binding JWT (by the `cnf` key): {m}"
                )),
                other => other,
            })?;
            let kb_claims = kb.payload_json()?;
            if kb_claims.get("sd_hash").and_then(Value::as_str)
                != Some(digest(parts.presented).as_str())
            {
                return Err(FormatError::Rejected(
                    "KB-JWT `sd_hash` does not match the presented SD-JWT".into(),
                ));
            }
            if let Some(want) = expectation {
                if kb_claims.get("aud").and_then(Value::as_str) != Some(want.audience) {
                    return Err(FormatError::Rejected(format!(
                        "KB-JWT `aud` is not the expected audience {:?}",
                        want.audience
                    )));
                }
                if kb_claims.get("nonce").and_then(Value::as_str) != Some(want.nonce) {
                    return Err(FormatError::Rejected(
                        "KB-JWT `nonce` is not the expected nonce".into(),
                    ));
                }
                let iat = kb_claims
                    .get("iat")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| {
                        FormatError::malformed("KB-JWT", "`iat` is missing or not a NumericDate")
                    })?;
                check_fresh("KB-JWT", iat, options.now, want.max_age)?;
            }
            Some(kb_claims)
        }
    };
    Ok(VerifiedSdJwt {
        header: jws.header.clone(),
        payload,
        claims,
        disclosed,
        key_binding,
    })
}
