//! Issuers are who their keys say (criteria 2.2.3(1)A, 2.2.3(2)B-1): the one rule every
//! issuing route applies before anything is signed.
//!
//! A credential may name as its issuer only an identifier bound to the key that signs it:
//! - the key's own `did:key` or `did:jwk`: the DID itself, or the DID URL of its verification
//!   method as the formats write it (`did:key:z…#z…`, `did:jwk:…#0`). Anyone can check these
//!   against the signature;
//! - an issuer identifier (`did:web:…` or `https://…`) that operators bound to the key under
//!   dual control (the `issuer.bind` action, `operations::actions`, kept in
//!   `store::issuers`). Compared whole, byte for byte: never by prefix.
//!
//! What names the issuer, per format: the W3C `issuer` (a string, or an object's `id`); the
//! SD-JWT VC `iss`; for an ISO/IEC 18013-5 mdoc, the document signer certificate in `x5chain`
//! (the MSO has no issuer field): always the leaf of the key's own chain, attached by an
//! operator, which must certify this key. The data elements that name the issuing authority
//! (`issuing_country`, `issuing_jurisdiction`, `issuing_authority`, in any name space) must
//! then agree with that certificate's subject: `countryName`, `stateOrProvinceName` (ISO/IEC
//! 18013-5 9.3.3 asks readers to check these two) and `organizationName` (Inkan's choice).
//!
//! A refusal names the request field. Must never: reach the device or the log (it runs before
//! the signing module, so a refused request leaves no `signature.requested` entry), or accept
//! an identifier another subscriber's key is bound to.

use der::asn1::ObjectIdentifier;
use der::{Decode as _, Tag, Tagged as _};
use inkan_device::PublicKey;
use inkan_store::issuers::IssuerStore;
use inkan_store::{KeyRecord, StoreError};
use serde_json::{Map, Value};

/// Longest issuer identifier operators may bind, bytes.
const MAX_IDENTIFIER: usize = 512;

/// Why an issuer was refused.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    /// The request names an issuer the key is not bound to; `field` is the request's field.
    #[error("{field}: {message}")]
    Refused {
        /// The request field that names the issuer.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn refused(field: &str, message: impl Into<String>) -> IssuerError {
    IssuerError::Refused {
        field: field.into(),
        message: message.into(),
    }
}

/// The identifiers a key stands for by itself: its `did:key` and `did:jwk`, each bare and as
/// the verification method URL the formats write.
pub fn own_identifiers(public_key: &PublicKey) -> [String; 4] {
    let did_key = public_key.did_key();
    let did_jwk = public_key.did_jwk();
    [
        super::verification_method(public_key),
        format!("{did_jwk}#0"),
        did_key,
        did_jwk,
    ]
}

/// Accepts `named` (from the request's `field`) only if it is one of the key's own
/// identifiers or bound to the key under dual control.
pub async fn check(
    store: &dyn IssuerStore,
    key: &KeyRecord,
    public_key: &PublicKey,
    field: &str,
    named: &str,
) -> Result<(), IssuerError> {
    if stands_for(store, key, public_key, named).await? {
        return Ok(());
    }
    // The identifier itself is not repeated: the caller knows what it sent.
    Err(refused(
        field,
        format!(
            "the issuer named is not bound to key {}: name the key's own did:key or did:jwk, \
             or an identifier operators bound to it (issuer.bind, under dual control)",
            key.id
        ),
    ))
}

/// Whether `named` is one of the key's own identifiers or bound to the key under dual
/// control.
pub async fn stands_for(
    store: &dyn IssuerStore,
    key: &KeyRecord,
    public_key: &PublicKey,
    named: &str,
) -> Result<bool, StoreError> {
    if own_identifiers(public_key).iter().any(|own| own == named) {
        return Ok(true);
    }
    let bound = store.issuer_bindings(key.id.as_str()).await?;
    Ok(bound.iter().any(|b| b.identifier == named))
}

/// The issuer a W3C credential names (`issuer` as a string, or an object's `id`), `None` when
/// it names none; anything else is refused as `credential.issuer`.
pub fn w3c_issuer(credential: &Value) -> Result<Option<&str>, IssuerError> {
    const FIELD: &str = "credential.issuer";
    refuse_issuer_aliases(credential)?;
    match credential.get("issuer") {
        None => Ok(None),
        Some(Value::String(id)) => Ok(Some(id)),
        Some(Value::Object(object)) => match object.get("id") {
            Some(Value::String(id)) => Ok(Some(id)),
            _ => Err(refused(FIELD, "an issuer object needs its `id` (a string)")),
        },
        Some(_) => Err(refused(FIELD, "a string or an object with `id`")),
    }
}

/// Refuses what could give the credential a second issuer that the member `issuer` does not
/// show once JSON-LD is expanded: an inline (object) context that makes another term mean
/// `https://www.w3.org/2018/credentials#issuer` (checked by expanding the credential,
/// [`check_expanded_issuer`]), a top-level member named by an absolute or compact IRI, and
/// nested nodes that merge into the credential ([`refuse_nested_aliases`]).
fn refuse_issuer_aliases(credential: &Value) -> Result<(), IssuerError> {
    let inline = match credential.get("@context") {
        Some(Value::Array(contexts)) => contexts.iter().any(|c| !c.is_string()),
        Some(Value::String(_)) | None => false,
        Some(_) => {
            return Err(refused(
                "credential.@context",
                "a list of context URLs and objects",
            ));
        }
    };
    if inline {
        check_expanded_issuer(credential)?;
    }
    if let Some(member) = credential
        .as_object()
        .and_then(|o| o.keys().find(|k| !k.starts_with('@') && k.contains(':')))
    {
        return Err(refused(
            &format!("credential.{member}"),
            "members named by an IRI are refused: use the contexts' terms",
        ));
    }
    let own_id = credential.get("id").and_then(Value::as_str);
    if let Some(object) = credential.as_object() {
        for (member, value) in object {
            if matches!(member.as_str(), "@included" | "@graph" | "@reverse") {
                return Err(refused(
                    &format!("credential.{member}"),
                    "@included, @graph and @reverse are refused: they put other nodes beside \
                     the credential",
                ));
            }
            refuse_nested_aliases(value, &format!("credential.{member}"), own_id)?;
        }
    }
    Ok(())
}

/// The predicate every VCDM context maps `issuer` to.
const ISSUER_IRI: &str = "https://www.w3.org/2018/credentials#issuer";

/// A credential with inline (object) contexts, which can give any term the meaning of
/// `issuer`, is expanded as JSON-LD (the bundled contexts and its own, nothing fetched; the
/// VCDM contexts are `@protected`, so `issuer` itself cannot be redefined) and must then say
/// exactly what its `issuer` member says: one `cred:issuer` statement naming that issuer, or
/// none when it names none.
fn check_expanded_issuer(credential: &Value) -> Result<(), IssuerError> {
    const FIELD: &str = "credential.@context";
    let named = match credential.get("issuer") {
        None => None,
        Some(Value::String(id)) => Some(id.as_str()),
        Some(Value::Object(object)) => object.get("id").and_then(Value::as_str),
        Some(_) => None,
    };
    let quads = inkan_formats::data_integrity::canon::to_quads(credential).map_err(|_| {
        refused(
            FIELD,
            "the credential does not expand as JSON-LD with its contexts (inline contexts \
             must not redefine the VC Data Model's terms)",
        )
    })?;
    let issuers: Vec<&inkan_formats::data_integrity::rdfc::Term> = quads
        .iter()
        .filter(|q| q.predicate == ISSUER_IRI)
        .map(|q| &q.object)
        .collect();
    let agrees = match (issuers.as_slice(), named) {
        ([], None) => true,
        ([inkan_formats::data_integrity::rdfc::Term::Iri(iri)], Some(named)) => iri == named,
        _ => false,
    };
    if agrees {
        Ok(())
    } else {
        Err(refused(
            FIELD,
            "an inline context gives the credential another issuer than its `issuer` member",
        ))
    }
}

/// Below the top level: no node object that names the credential itself (JSON-LD merges
/// nodes by `id`, so its members, an `issuer` among them, would become the credential's), no
/// inline context, and no `@included`, `@graph` or `@reverse`, which put nodes beside the
/// credential. `path` names the member for the refusal, never its value.
fn refuse_nested_aliases(
    value: &Value,
    path: &str,
    own_id: Option<&str>,
) -> Result<(), IssuerError> {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                refuse_nested_aliases(item, &format!("{path}[{i}]"), own_id)?;
            }
        }
        Value::Object(object) => {
            if own_id.is_some() && object.get("id").and_then(Value::as_str) == own_id {
                return Err(refused(
                    &format!("{path}.id"),
                    "a nested object may not name the credential itself",
                ));
            }
            for (member, inner) in object {
                if matches!(
                    member.as_str(),
                    "@context" | "@included" | "@graph" | "@reverse"
                ) {
                    return Err(refused(
                        &format!("{path}.{member}"),
                        "inline contexts and @included, @graph or @reverse are refused inside \
                         a credential",
                    ));
                }
                refuse_nested_aliases(inner, &format!("{path}.{member}"), own_id)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Refuses an mdoc whose issuer is not the key's own document signer certificate, or whose
/// data elements name another issuing authority than that certificate's subject. The field
/// named is `x5chain` or `nameSpaces.<name space>.<element>`.
pub fn check_mdoc(
    key: &KeyRecord,
    public_key: &PublicKey,
    name_spaces: &Map<String, Value>,
) -> Result<(), IssuerError> {
    let Some(leaf) = key.certificate_chain.first() else {
        return Err(refused(
            "x5chain",
            format!(
                "the issuer key {} has no document signer certificate",
                key.id
            ),
        ));
    };
    let certificate = x509_cert::Certificate::from_der(leaf)
        .map_err(|e| refused("x5chain", format!("the document signer certificate: {e}")))?;
    let certified = der::Encode::to_der(&certificate.tbs_certificate.subject_public_key_info)
        .ok()
        .and_then(|spki| PublicKey::from_spki_der(&spki).ok());
    if certified.as_ref() != Some(public_key) {
        return Err(refused(
            "x5chain",
            format!(
                "the document signer certificate of key {} does not certify it",
                key.id
            ),
        ));
    }
    let subject = &certificate.tbs_certificate.subject;
    for (element, oid, attribute) in [
        ("issuing_country", "2.5.4.6", "countryName"),
        ("issuing_jurisdiction", "2.5.4.8", "stateOrProvinceName"),
        ("issuing_authority", "2.5.4.10", "organizationName"),
    ] {
        let oid = ObjectIdentifier::new_unwrap(oid);
        for (name_space, elements) in name_spaces {
            let Some(value) = elements.get(element) else {
                continue;
            };
            let field = format!("nameSpaces.{name_space}.{element}");
            let certified = subject_values(subject, oid);
            match value.as_str() {
                Some(text) if certified.iter().any(|c| c == text) => {}
                _ => {
                    return Err(refused(
                        &field,
                        format!(
                            "is not the {attribute} of the document signer \
                             certificate (which says: {}): an mdoc names the issuer its \
                             certificate names",
                            certified.join(", ")
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The text values of `oid` in a certificate subject.
fn subject_values(subject: &x509_cert::name::Name, oid: ObjectIdentifier) -> Vec<String> {
    subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid)
        .filter(|atv| {
            matches!(
                atv.value.tag(),
                Tag::PrintableString | Tag::Utf8String | Tag::Ia5String | Tag::TeletexString
            )
        })
        .filter_map(|atv| {
            std::str::from_utf8(atv.value.value())
                .ok()
                .map(str::to_owned)
        })
        .collect()
}

/// Refuses an identifier operators could not bind: it must be a `did:web` or an `https` URL
/// (a key's `did:key`/`did:jwk` is its own already), at most [`MAX_IDENTIFIER`] bytes, of
/// visible ASCII, without a fragment.
pub fn check_bindable(identifier: &str) -> Result<(), String> {
    let rest = identifier
        .strip_prefix("did:web:")
        .or_else(|| identifier.strip_prefix("https://"))
        .ok_or("the identifier is a did:web or an https URL")?;
    if rest.is_empty()
        || identifier.len() > MAX_IDENTIFIER
        || !identifier.bytes().all(|b| b.is_ascii_graphic())
        || identifier.contains('#')
    {
        return Err(format!(
            "the identifier is 1 to {MAX_IDENTIFIER} bytes of visible ASCII after its \
             scheme, without a fragment"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindable_identifiers() {
        assert!(check_bindable("did:web:example.org").is_ok());
        assert!(check_bindable("https://issuer.example.org/tenant/1").is_ok());
        for bad in [
            "did:key:z6Mk",
            "did:web:",
            "https://",
            "http://example.org",
            "did:web:example.org#key-1",
            "did:web:exa mple.org",
        ] {
            assert!(check_bindable(bad).is_err(), "{bad}");
        }
    }

    /// Review finding (issue 14 point 5): a second issuer through a JSON-LD alias is refused.
    #[test]
    fn issuer_aliases_are_refused() {
        use serde_json::json;
        let v2 = "https://www.w3.org/ns/credentials/v2";
        for (credential, field) in [
            (
                json!({"@context": [v2, {"boss": "https://www.w3.org/2018/credentials#issuer"}],
                       "boss": "did:web:victim"}),
                "credential.@context",
            ),
            (
                json!({"@context": [v2],
                       "https://www.w3.org/2018/credentials#issuer": {"@id": "did:web:victim"}}),
                "credential.https://www.w3.org/2018/credentials#issuer",
            ),
            (
                json!({"@context": {"@vocab": "https://x.example/"}}),
                "credential.@context",
            ),
            // A nested node that is the credential itself: its `issuer` would be merged in.
            (
                json!({"@context": [v2], "id": "urn:uuid:1", "issuer": "did:key:z6Mk",
                       "credentialSubject": {"id": "urn:uuid:1", "issuer": "did:web:victim"}}),
                "credential.credentialSubject.id",
            ),
            (
                json!({"@context": [v2], "id": "urn:uuid:1",
                       "@included": [{"id": "urn:uuid:1", "issuer": "did:web:victim"}]}),
                "credential.@included",
            ),
            (
                json!({"@context": [v2], "evidence": [{"type": "E",
                       "@context": {"x": "https://www.w3.org/2018/credentials#issuer"}}]}),
                "credential.evidence[0].@context",
            ),
        ] {
            match w3c_issuer(&credential) {
                Err(IssuerError::Refused { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{credential}: {other:?}"),
            }
        }
        assert_eq!(
            w3c_issuer(&json!({"@context": [v2], "issuer": "did:web:a"})).unwrap(),
            Some("did:web:a")
        );
    }

    #[test]
    fn w3c_issuer_forms() {
        use serde_json::json;
        assert_eq!(w3c_issuer(&json!({})).unwrap(), None);
        assert_eq!(
            w3c_issuer(&json!({"issuer": "did:web:a"})).unwrap(),
            Some("did:web:a")
        );
        assert_eq!(
            w3c_issuer(&json!({"issuer": {"id": "did:web:a", "name": "A"}})).unwrap(),
            Some("did:web:a")
        );
        for bad in [json!({"issuer": 1}), json!({"issuer": {"name": "A"}})] {
            let e = w3c_issuer(&bad).unwrap_err().to_string();
            assert!(e.starts_with("credential.issuer"), "{e}");
        }
    }
}
