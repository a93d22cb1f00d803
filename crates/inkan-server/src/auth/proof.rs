//! Proofs of possession a caller sends as signed JWTs: DPoP proofs (RFC 9449) that bind a
//! session to the caller's key, and client assertions (RFC 7523 `private_key_jwt`) that
//! authenticate a system client (criteria 2.2.1(1), 2.2.1(4)).
//!
//! Owns the stateless checks: structure, `typ`, signature, the claims each RFC requires, the
//! time window. What needs memory (that a `jti` is never seen twice, across nodes) is the
//! caller's, through `AuthStore::remember_once`, with the expiry returned here. Must never
//! accept `alg: none`, a symmetric algorithm or a key with private members (the JOSE parser
//! refuses all three), or let the token choose a key other than the one the check names.

use inkan_formats::jose;
use inkan_formats::jose::DecodedJws;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

/// Largest proof accepted, in bytes (a DPoP proof with a P-384 or RSA key is well under 4 KiB).
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti` accepted.
const MAX_JTI_CHARS: usize = 256;

/// Why a proof was refused. The message names what was wrong and never echoes a secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

fn refuse(message: impl Into<String>) -> ProofError {
    ProofError(message.into())
}

/// What a valid DPoP proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// The JWK SHA-256 thumbprint of the proof key (RFC 7638), for `cnf.jkt`.
    pub jkt: String,
    /// The proof's id, to be remembered until [`expires_at`](Self::expires_at).
    pub jti: String,
    /// The first instant its `iat` is too old to be accepted, Unix millis: the proof can be
    /// replayed until then, so its `jti` is remembered until then.
    pub expires_at: i64,
}

/// What a DPoP proof must match.
#[derive(Debug, Clone, Copy)]
pub struct DpopExpectation<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The request's URL, without query and fragment (`htu`).
    pub url: &'a str,
    /// The access token presented with the proof, if any (`ath`).
    pub access_token: Option<&'a str>,
    /// Now, Unix millis.
    pub now: i64,
    /// How far `iat` may be from now, seconds.
    pub max_age_seconds: i64,
}

/// Checks a DPoP proof (RFC 9449 section 4.3) against the request it came with.
pub fn check_dpop(proof: &str, expect: &DpopExpectation<'_>) -> Result<DpopProof, ProofError> {
    let jws = decode(proof, "DPoP proof")?;
    jws.expect_typ(&["dpop+jwt"])
        .map_err(|e| refuse(format!("DPoP proof: {e}")))?;
    let jwk = jws
        .header
        .get("jwk")
        .ok_or_else(|| refuse("DPoP proof: the header has no `jwk`"))?;
    let key = jose::public_key_from_jwk(jwk).map_err(|e| refuse(format!("DPoP proof: {e}")))?;
    jws.verify(&key)
        .map_err(|e| refuse(format!("DPoP proof: {e}")))?;
    let claims = claims(&jws, "DPoP proof")?;
    let jti = jti(&claims, "DPoP proof")?;
    let htm = string_claim(&claims, "htm", "DPoP proof")?;
    if htm != expect.method {
        return Err(refuse(format!(
            "DPoP proof: `htm` is {htm:?}, the request is {}",
            expect.method
        )));
    }
    let htu = string_claim(&claims, "htu", "DPoP proof")?;
    if normalise_url(htu).as_deref() != Some(&normalise_url(expect.url).unwrap_or_default()) {
        return Err(refuse(format!(
            "DPoP proof: `htu` {htu:?} is not this request's URL"
        )));
    }
    let accepted_until = check_iat(&claims, expect.now, expect.max_age_seconds, "DPoP proof")?;
    match (expect.access_token, claims.get("ath")) {
        (Some(token), Some(Value::String(ath))) => {
            let expected = jose::sha256_b64url(token.as_bytes());
            if !bool::from(ath.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(refuse(
                    "DPoP proof: `ath` is not the hash of the access token presented",
                ));
            }
        }
        (Some(_), _) => {
            return Err(refuse(
                "DPoP proof: `ath` (the access token's hash) is missing or not a string",
            ));
        }
        (None, _) => {}
    }
    Ok(DpopProof {
        jkt: key.jwk_thumbprint(),
        jti: jti.to_owned(),
        expires_at: accepted_until,
    })
}

/// What a valid client assertion established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    /// The assertion's id, to be remembered until [`expires_at`](Self::expires_at).
    pub jti: String,
    /// Its `exp`, Unix millis.
    pub expires_at: i64,
}

/// Reads the client id (`iss`, which must equal `sub`) of a client assertion, unverified, to
/// look up the client's registered key.
pub fn assertion_client_id(assertion: &str) -> Result<String, ProofError> {
    let jws = decode(assertion, "client assertion")?;
    let claims = claims(&jws, "client assertion")?;
    let iss = string_claim(&claims, "iss", "client assertion")?;
    let sub = string_claim(&claims, "sub", "client assertion")?;
    if iss != sub {
        return Err(refuse(
            "client assertion: `iss` and `sub` must both be the client id",
        ));
    }
    Ok(iss.to_owned())
}

/// Checks a client assertion (RFC 7523 section 3, OpenID Connect `private_key_jwt`) signed
/// with the client's registered JWK, for the token endpoint `audience`.
pub fn check_client_assertion(
    assertion: &str,
    registered_jwk: &Value,
    client_id: &str,
    audience: &str,
    now: i64,
    max_age_seconds: i64,
) -> Result<ClientAssertion, ProofError> {
    let jws = decode(assertion, "client assertion")?;
    let key = jose::public_key_from_jwk(registered_jwk)
        .map_err(|e| refuse(format!("the client's registered key: {e}")))?;
    jws.verify(&key)
        .map_err(|e| refuse(format!("client assertion: {e}")))?;
    let claims = claims(&jws, "client assertion")?;
    for claim in ["iss", "sub"] {
        if string_claim(&claims, claim, "client assertion")? != client_id {
            return Err(refuse(format!(
                "client assertion: `{claim}` is not the client id"
            )));
        }
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => same_url(aud, audience),
        Some(Value::Array(auds)) => auds
            .iter()
            .any(|a| a.as_str().is_some_and(|a| same_url(a, audience))),
        _ => false,
    };
    if !audience_ok {
        return Err(refuse(format!(
            "client assertion: `aud` must be this token endpoint ({audience})"
        )));
    }
    let jti = jti(&claims, "client assertion")?;
    let exp = int_claim(&claims, "exp", "client assertion")?
        .ok_or_else(|| refuse("client assertion: `exp` is missing"))?;
    let now_seconds = now.div_euclid(1000);
    if exp <= now_seconds {
        return Err(refuse("client assertion: expired (`exp`)"));
    }
    if exp > now_seconds.saturating_add(max_age_seconds) {
        return Err(refuse(format!(
            "client assertion: `exp` is more than {max_age_seconds} s ahead"
        )));
    }
    if int_claim(&claims, "iat", "client assertion")?.is_some() {
        check_iat(&claims, now, max_age_seconds, "client assertion")?;
    }
    if let Some(nbf) = int_claim(&claims, "nbf", "client assertion")?
        && nbf > now_seconds.saturating_add(max_age_seconds)
    {
        return Err(refuse("client assertion: not valid yet (`nbf`)"));
    }
    Ok(ClientAssertion {
        jti: jti.to_owned(),
        expires_at: exp.saturating_mul(1000),
    })
}

fn decode(token: &str, what: &str) -> Result<DecodedJws, ProofError> {
    if token.len() > MAX_PROOF_BYTES {
        return Err(refuse(format!(
            "{what}: larger than {MAX_PROOF_BYTES} bytes"
        )));
    }
    jose::decode_compact(token).map_err(|e| refuse(format!("{what}: {e}")))
}

fn claims(jws: &DecodedJws, what: &str) -> Result<Map<String, Value>, ProofError> {
    jws.payload_json()
        .map_err(|e| refuse(format!("{what}: {e}")))
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<&'a str, ProofError> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| refuse(format!("{what}: `{name}` is missing or not a string")))
}

fn int_claim(
    claims: &Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<Option<i64>, ProofError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| refuse(format!("{what}: `{name}` is not an integer"))),
    }
}

fn jti<'a>(claims: &'a Map<String, Value>, what: &str) -> Result<&'a str, ProofError> {
    let jti = string_claim(claims, "jti", what)?;
    if jti.is_empty() || jti.chars().count() > MAX_JTI_CHARS {
        return Err(refuse(format!(
            "{what}: `jti` must be 1 to {MAX_JTI_CHARS} characters"
        )));
    }
    Ok(jti)
}

/// `iat` within `max_age_seconds` of now either way (whole seconds: `iat + max_age_seconds` is
/// accepted to its last millisecond). Returns the first instant, Unix millis, from which it is
/// too old, `(iat + max_age_seconds + 1) * 1000`: whatever remembers the proof's id must do so
/// until then, or the proof could be replayed in the last second of its window (criteria
/// 2.2.1(4)).
fn check_iat(
    claims: &Map<String, Value>,
    now: i64,
    max_age_seconds: i64,
    what: &str,
) -> Result<i64, ProofError> {
    let iat = int_claim(claims, "iat", what)?
        .ok_or_else(|| refuse(format!("{what}: `iat` is missing")))?;
    let now_seconds = now.div_euclid(1000);
    if iat.abs_diff(now_seconds) > max_age_seconds.unsigned_abs() {
        return Err(refuse(format!(
            "{what}: `iat` is more than {max_age_seconds} s from the server's time"
        )));
    }
    Ok(iat
        .saturating_add(max_age_seconds)
        .saturating_add(1)
        .saturating_mul(1000))
}

/// `url` without query and fragment, scheme and host lowercased, default port dropped
/// (RFC 9449 section 4.3 point 9 compares this way).
pub fn normalise_url(url: &str) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return None;
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    Some(parsed.to_string())
}

fn same_url(a: &str, b: &str) -> bool {
    matches!((normalise_url(a), normalise_url(b)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ProofKey;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;
    const URL: &str = "https://inkan.example:8443/v1/me";

    fn expect(token: Option<&str>) -> DpopExpectation<'_> {
        DpopExpectation {
            method: "GET",
            url: URL,
            access_token: token,
            now: NOW,
            max_age_seconds: 60,
        }
    }

    #[test]
    fn a_good_proof_gives_the_key_thumbprint_and_its_replay_window() {
        let key = ProofKey::generate().unwrap();
        let proof = key.dpop("GET", URL, Some("tok"), NOW / 1000).unwrap();
        let checked = check_dpop(&proof, &expect(Some("tok"))).unwrap();
        assert_eq!(checked.jkt, key.jkt());
        assert_eq!(checked.expires_at, NOW + 61_000);
        // The query and a default-port spelling do not matter; scheme and host case neither.
        let proof = key
            .dpop(
                "GET",
                "HTTPS://Inkan.Example:8443/v1/me?x=1",
                None,
                NOW / 1000,
            )
            .unwrap();
        check_dpop(&proof, &expect(None)).unwrap();
    }

    #[test]
    fn the_id_is_remembered_for_as_long_as_the_proof_is_accepted() {
        // criteria 2.2.1(4): at the last millisecond of the window the proof is still
        // accepted, so its `jti` must still be remembered then; a millisecond later it is
        // refused.
        let key = ProofKey::generate().unwrap();
        let proof = key.dpop("GET", URL, None, NOW / 1000).unwrap();
        for now in [NOW + 60_000, NOW + 60_999] {
            let at_edge = DpopExpectation {
                now,
                ..expect(None)
            };
            let checked = check_dpop(&proof, &at_edge).unwrap();
            assert!(
                checked.expires_at > now,
                "accepted at {now}, forgotten by then"
            );
        }
        let past = DpopExpectation {
            now: NOW + 61_000,
            ..expect(None)
        };
        assert!(check_dpop(&proof, &past).is_err());
    }

    #[test]
    fn each_claim_is_checked() {
        let key = ProofKey::generate().unwrap();
        let refused = |proof: String, token: Option<&str>, needle: &str| {
            let err = check_dpop(&proof, &expect(token)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        };
        refused(
            key.dpop("POST", URL, None, NOW / 1000).unwrap(),
            None,
            "htm",
        );
        refused(
            key.dpop(
                "GET",
                "https://inkan.example:8443/v1/keys",
                None,
                NOW / 1000,
            )
            .unwrap(),
            None,
            "htu",
        );
        refused(
            key.dpop("GET", URL, None, NOW / 1000 - 61).unwrap(),
            None,
            "iat",
        );
        refused(
            key.dpop("GET", URL, None, NOW / 1000 + 61).unwrap(),
            None,
            "iat",
        );
        refused(
            key.dpop("GET", URL, None, NOW / 1000).unwrap(),
            Some("tok"),
            "ath",
        );
        refused(
            key.dpop("GET", URL, Some("other"), NOW / 1000).unwrap(),
            Some("tok"),
            "ath",
        );
        // Wrong typ, no jwk, a tampered payload.
        let claims = json!({"jti": "1", "htm": "GET", "htu": URL, "iat": NOW / 1000});
        let jwt = key
            .sign_jwt(
                &json!({"typ": "JWT", "alg": "ES256", "jwk": key.public_jwk()}),
                &claims,
            )
            .unwrap();
        refused(jwt, None, "typ");
        let jwt = key
            .sign_jwt(&json!({"typ": "dpop+jwt", "alg": "ES256"}), &claims)
            .unwrap();
        refused(jwt, None, "jwk");
        let other = ProofKey::generate().unwrap();
        let good = key.dpop("GET", URL, None, NOW / 1000).unwrap();
        let forged = other.dpop("GET", URL, None, NOW / 1000).unwrap();
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged_parts: Vec<&str> = forged.split('.').collect();
        parts[2] = forged_parts[2];
        refused(parts.join("."), None, "signature");
        refused("a.b".into(), None, "DPoP proof");
    }

    #[test]
    fn client_assertions_are_bound_to_client_audience_and_time() {
        let key = ProofKey::generate().unwrap();
        let aud = "https://inkan.example:8443/oauth2/token";
        let jwk = key.public_jwk();
        let assertion = key.client_assertion("cli_1", aud, NOW / 1000).unwrap();
        assert_eq!(assertion_client_id(&assertion).unwrap(), "cli_1");
        let checked = check_client_assertion(&assertion, &jwk, "cli_1", aud, NOW, 300).unwrap();
        assert_eq!(checked.expires_at, NOW + 60_000);
        assert!(check_client_assertion(&assertion, &jwk, "cli_2", aud, NOW, 300).is_err());
        assert!(
            check_client_assertion(
                &assertion,
                &jwk,
                "cli_1",
                "https://x/oauth2/token",
                NOW,
                300
            )
            .is_err()
        );
        assert!(
            check_client_assertion(&assertion, &jwk, "cli_1", aud, NOW + 61_000, 300).is_err(),
            "expired"
        );
        let other = ProofKey::generate().unwrap().public_jwk();
        assert!(check_client_assertion(&assertion, &other, "cli_1", aud, NOW, 300).is_err());
    }
}
