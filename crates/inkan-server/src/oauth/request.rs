//! An OAuth2 authorization request as a CSC API v2 client sends it (`oauth2/authorize`, RFC
//! 6749 section 4.1.1, PKCE RFC 7636, `authorization_details` RFC 9396 of CSC type
//! `credential`), parsed strictly: each parameter at most once, sizes bounded, PKCE S256
//! required, hashes decoded and checked for their algorithm's length.
//!
//! Owns [`AuthorizeParams`] and [`CredentialAuthorization`] (what a `credential` request
//! authorises, stored with the request and shown on the consent page). Must never: accept a
//! request whose client or redirect URI is not checked first (`oauth::begin` does that before
//! any other error is sent back to the client).

use crate::activation::{self, OID_SHA256};
use crate::auth::AuthError;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest query string accepted, bytes.
pub const MAX_QUERY: usize = 16 * 1024;
/// Longest pushed request accepted, bytes (a presentation's summary can be long).
pub const MAX_PUSHED: usize = 64 * 1024;
/// Longest `state`, label or description, bytes.
const MAX_TEXT: usize = 512;

/// The parameters of an authorization request, each given at most once.
#[derive(Debug, Default)]
pub struct AuthorizeParams {
    params: BTreeMap<String, String>,
}

impl AuthorizeParams {
    /// Parses a query string: `application/x-www-form-urlencoded`, no parameter twice.
    pub fn parse(query: &str) -> Result<Self, String> {
        Self::parse_at_most(query, MAX_QUERY)
    }

    /// [`parse`](Self::parse) of a pushed request's body (RFC 9126), which may be longer.
    pub fn parse_pushed(body: &str) -> Result<Self, String> {
        Self::parse_at_most(body, MAX_PUSHED)
    }

    fn parse_at_most(query: &str, most: usize) -> Result<Self, String> {
        if query.len() > most {
            return Err(format!("the request is longer than {most} bytes"));
        }
        let mut params = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if params.insert(name.to_string(), value.to_string()).is_some() {
                return Err(format!("{name} is given more than once"));
            }
        }
        Ok(AuthorizeParams { params })
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A parameter that must be there.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{name} is required"))
    }
}

/// One document to sign, as the consent page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The hash, base64url without padding.
    pub hash: String,
    /// What the client calls the document (`documentDigests[].label`), if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// What a `credential` request authorises: one key, these hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialAuthorization {
    /// The key.
    #[serde(rename = "credentialID")]
    pub credential_id: String,
    /// The hashes' algorithm.
    #[serde(rename = "hashAlgorithmOID")]
    pub hash_algorithm_oid: String,
    /// The documents, in the request's order.
    pub documents: Vec<Document>,
    /// The client's description of the whole, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// For a holder's presentation (an Inkan member of the `credential` details): what
    /// `/v1/holder/prepare` said it discloses, shown on the page and bound to the SAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presentation: Option<Presentation>,
}

/// What a holder's presentation discloses, as `/v1/holder/prepare` summarised it. Shown on the
/// consent page; its digest (`activation::disclosure_digest`) is bound to the SAD, and
/// `/v1/holder/sign` recomputes it from the document it signs: a summary that is not the
/// document's own signs nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Presentation {
    /// `dc+sd-jwt`, `ldp_vp`, `mso_mdoc` or `openid4vci-proof`.
    pub format: String,
    /// `issuedAt` of the preparation.
    pub issued_at: i64,
    /// The preparation's `summary` (a JSON object).
    pub summary: serde_json::Value,
}

impl CredentialAuthorization {
    /// From the CSC parameters (`credentialID`, `numSignatures`, `hashes`, `hashAlgorithmOID`,
    /// `description`) or from `authorization_details` of type `credential`; not both.
    pub fn from_params(params: &AuthorizeParams) -> Result<Self, String> {
        let authorization = match params.get("authorization_details") {
            Some(details) => {
                if ["credentialID", "hashes", "numSignatures"]
                    .iter()
                    .any(|p| params.get(p).is_some())
                {
                    return Err(
                        "give authorization_details or credentialID and hashes, not both".into(),
                    );
                }
                Self::from_details(details)?
            }
            None => {
                let hashes = params
                    .required("hashes")
                    .map_err(|_| "hashes are required: the authorization is bound to them")?;
                let documents = hashes
                    .split(',')
                    .map(|hash| {
                        Ok(Document {
                            hash: URL_SAFE_NO_PAD.encode(decode_hash(hash)?),
                            label: None,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let authorization = CredentialAuthorization {
                    credential_id: params.required("credentialID")?.to_owned(),
                    hash_algorithm_oid: params
                        .get("hashAlgorithmOID")
                        .unwrap_or(OID_SHA256)
                        .to_owned(),
                    documents,
                    description: params.get("description").map(str::to_owned),
                    presentation: None,
                };
                let num: usize = params
                    .required("numSignatures")?
                    .parse()
                    .map_err(|_| "numSignatures must be a number")?;
                if num != authorization.documents.len() {
                    return Err("numSignatures must be the number of hashes".into());
                }
                authorization
            }
        };
        authorization.check()?;
        Ok(authorization)
    }

    /// `authorization_details`: a JSON array of one object of type `credential`.
    fn from_details(details: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Digest {
            hash: String,
            label: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Detail {
            r#type: String,
            #[serde(rename = "credentialID")]
            credential_id: String,
            document_digests: Vec<Digest>,
            #[serde(rename = "hashAlgorithmOID")]
            hash_algorithm_oid: Option<String>,
            presentation: Option<Presentation>,
        }
        let details: Vec<Detail> = serde_json::from_str(details).map_err(|e| {
            format!(
                "authorization_details must be a JSON array of one credential object \
                 (credentialID, documentDigests, hashAlgorithmOID): {}",
                crate::api::extract::without_values(&e.to_string())
            )
        })?;
        let [detail] = <[Detail; 1]>::try_from(details)
            .map_err(|_| "authorization_details must hold exactly one object")?;
        if detail.r#type != "credential" {
            return Err("authorization_details: only type credential is supported".into());
        }
        let documents = detail
            .document_digests
            .into_iter()
            .map(|d| {
                Ok(Document {
                    hash: URL_SAFE_NO_PAD.encode(decode_hash(&d.hash)?),
                    label: d.label,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CredentialAuthorization {
            credential_id: detail.credential_id,
            hash_algorithm_oid: detail
                .hash_algorithm_oid
                .unwrap_or_else(|| OID_SHA256.into()),
            documents,
            description: None,
            presentation: detail.presentation,
        })
    }

    /// Sizes, text and the hashes' lengths for their algorithm.
    fn check(&self) -> Result<(), String> {
        check_text("credentialID", &self.credential_id)?;
        if let Some(description) = &self.description {
            check_text("description", description)?;
        }
        for label in self.documents.iter().filter_map(|d| d.label.as_deref()) {
            check_text("a document's label", label)?;
        }
        if let Some(presentation) = &self.presentation {
            if !matches!(
                presentation.format.as_str(),
                "dc+sd-jwt" | "ldp_vp" | "mso_mdoc" | "openid4vci-proof"
            ) {
                return Err(
                    "presentation.format: dc+sd-jwt, ldp_vp, mso_mdoc or openid4vci-proof".into(),
                );
            }
            if !presentation.summary.is_object() {
                return Err("presentation.summary: the summary /v1/holder/prepare answered".into());
            }
            check_summary_text(&presentation.summary, 0)?;
        }
        self.signature_request()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// What the activation checks and the SAD binds: the digests as the log names them.
    pub fn signature_request(&self) -> Result<activation::SignatureRequest, AuthError> {
        let decoded = self
            .documents
            .iter()
            .map(|d| {
                URL_SAFE_NO_PAD
                    .decode(&d.hash)
                    .map_err(|_| AuthError::Internal("a stored hash is not base64url".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let digest = activation::hashes_digest(&self.hash_algorithm_oid, &decoded);
        let inputs = activation::digest_inputs(&self.hash_algorithm_oid, decoded)?;
        let disclosure_digest = self
            .presentation
            .as_ref()
            .map(|p| {
                activation::disclosure_digest(
                    &p.format,
                    &self.credential_id,
                    p.issued_at,
                    &p.summary,
                )
                .map_err(|e| AuthError::BadRequest(format!("presentation.summary: {e}")))
            })
            .transpose()?;
        Ok(activation::SignatureRequest {
            digests: inputs.iter().map(crate::signing::Input::label).collect(),
            hashes_digest: digest,
            num_signatures: u32::try_from(inputs.len()).unwrap_or(u32::MAX),
            disclosure_digest,
        })
    }
}

/// Every string in a summary is text a page may show (no control or invisible format
/// characters), at most 8 levels deep.
fn check_summary_text(value: &serde_json::Value, depth: usize) -> Result<(), String> {
    if depth > 8 {
        return Err("presentation.summary is nested too deep".into());
    }
    match value {
        serde_json::Value::String(text) if !text.is_empty() => {
            check_text("a member of presentation.summary", text)
        }
        serde_json::Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_summary_text(v, depth + 1)),
        serde_json::Value::Object(members) => members.iter().try_for_each(|(name, v)| {
            check_text("a member name of presentation.summary", name)?;
            check_summary_text(v, depth + 1)
        }),
        _ => Ok(()),
    }
}

/// A hash as a client sends it: base64url (CSC `hashes`) or base64 (`documentDigests`).
fn decode_hash(hash: &str) -> Result<Vec<u8>, String> {
    let trimmed = hash.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(hash))
        .map_err(|_| "a hash is neither base64url nor base64".to_owned())
}

/// Whether `c` is a format character that changes how text around it reads without being
/// seen (bidirectional overrides and isolates, zero-width characters, the soft hyphen, the
/// byte order mark): a label shown beside a hash must read as it is.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Printable text of at most [`MAX_TEXT`] bytes, without control or invisible format
/// characters.
pub fn check_text(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty()
        || value.len() > MAX_TEXT
        || value
            .chars()
            .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(format!(
            "{what} must be 1 to {MAX_TEXT} bytes of text without control or invisible \
             formatting characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params(query: &str) -> AuthorizeParams {
        AuthorizeParams::parse(query).unwrap()
    }

    /// The two ways CSC v2 names hashes give the same authorization, and what is wrong is
    /// named.
    #[test]
    fn hashes_from_parameters_or_authorization_details() {
        let h1 = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let h2 = STANDARD.encode([2u8; 32]);
        let plain = CredentialAuthorization::from_params(&params(&format!(
            "credentialID=key_1&numSignatures=2&hashes={h1},{}",
            URL_SAFE_NO_PAD.encode([2u8; 32])
        )))
        .unwrap();
        let details = serde_json::json!([{
            "type": "credential", "credentialID": "key_1",
            "documentDigests": [{"hash": h1, "label": "Contract"}, {"hash": h2, "label": "Annex"}],
            "hashAlgorithmOID": OID_SHA256,
        }]);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("authorization_details", &details.to_string())
            .finish();
        let detailed = CredentialAuthorization::from_params(&params(&query)).unwrap();
        assert_eq!(plain.documents[1].hash, detailed.documents[1].hash);
        assert_eq!(detailed.documents[0].label.as_deref(), Some("Contract"));
        assert_eq!(
            plain.signature_request().unwrap().hashes_digest,
            detailed.signature_request().unwrap().hashes_digest
        );

        for (query, named) in [
            (
                format!("credentialID=k&numSignatures=1&hashes={h1},{h1}"),
                "numSignatures",
            ),
            (
                "credentialID=k&numSignatures=1&hashes=AAAA".to_owned(),
                "32 bytes",
            ),
            (format!("numSignatures=1&hashes={h1}"), "credentialID"),
            (
                format!("credentialID=k&numSignatures=1&hashes={h1}&hashAlgorithmOID=1.2"),
                "hashAlgorithmOID",
            ),
            (format!("{query}&credentialID=k"), "not both"),
        ] {
            let refused = CredentialAuthorization::from_params(&params(&query)).unwrap_err();
            assert!(refused.contains(named), "{query}: {refused}");
        }
        assert!(
            AuthorizeParams::parse("a=1&a=2")
                .unwrap_err()
                .contains("more than once")
        );
        // A label that reads differently than it is (a right-to-left override) is refused.
        let spoofed = serde_json::json!([{
            "type": "credential", "credentialID": "key_1",
            "documentDigests": [{"hash": h1, "label": "Invoice \u{202E}fdp.exe"}],
        }]);
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("authorization_details", &spoofed.to_string())
            .finish();
        let refused = CredentialAuthorization::from_params(&params(&query)).unwrap_err();
        assert!(refused.contains("label"), "{refused}");
    }
}
