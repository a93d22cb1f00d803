//! The two transformations of the Data Integrity cryptosuites: RDF Dataset Canonicalization
//! (RDFC-1.0, JSON-LD expanded to RDF then canonical N-Quads by [`super::rdfc`]) and the JSON Canonicalization
//! Scheme (RFC 8785).
//!
//! JSON-LD contexts come only from the bundled files under `contexts/` (see `SOURCE.md`
//! there); a document naming any other remote context is refused with its URL, before any
//! expansion, and nothing is ever fetched from the network. Expansion runs in the "safe mode"
//! the Data Integrity specification recommends: a term the contexts do not define, or an
//! invalid IRI, is an error instead of being dropped silently (a dropped term would be outside
//! the signature while still shown to the reader).

use super::context_cache::{self, ActiveContext};
use super::rdfc::{self, HashAlgorithm, Quad, Term};
use crate::FormatError;
use iref::IriBuf;
use json_ld::Process as _;
use json_ld::RemoteDocument;
use json_ld::rdf::RdfQuads as _;
use json_ld::syntax::TryFromJson as _;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The bundled JSON-LD contexts: URL and file content.
pub const BUNDLED_CONTEXTS: &[(&str, &str)] = &[
    (
        "https://www.w3.org/2018/credentials/v1",
        include_str!("../../contexts/w3c-2018-credentials-v1.jsonld"),
    ),
    (
        "https://www.w3.org/2018/credentials/examples/v1",
        include_str!("../../contexts/w3c-2018-credentials-examples-v1.jsonld"),
    ),
    (
        "https://www.w3.org/ns/credentials/v2",
        include_str!("../../contexts/w3c-ns-credentials-v2.jsonld"),
    ),
    (
        "https://www.w3.org/ns/credentials/examples/v2",
        include_str!("../../contexts/w3c-ns-credentials-examples-v2.jsonld"),
    ),
    (
        "https://w3id.org/security/data-integrity/v2",
        include_str!("../../contexts/w3id-data-integrity-v2.jsonld"),
    ),
    (
        "https://w3id.org/security/multikey/v1",
        include_str!("../../contexts/w3id-multikey-v1.jsonld"),
    ),
    (
        "https://www.w3.org/ns/did/v1",
        include_str!("../../contexts/w3c-did-v1.jsonld"),
    ),
];

/// Whether `url` is one of the bundled contexts.
pub fn is_bundled_context(url: &str) -> bool {
    BUNDLED_CONTEXTS.iter().any(|(u, _)| *u == url)
}

/// The loader over the bundled contexts, parsed once.
fn loader() -> Result<&'static BTreeMap<IriBuf, RemoteDocument>, FormatError> {
    static LOADER: OnceLock<Result<BTreeMap<IriBuf, RemoteDocument>, String>> = OnceLock::new();
    LOADER
        .get_or_init(|| {
            let mut map = BTreeMap::new();
            for (url, text) in BUNDLED_CONTEXTS {
                let iri = IriBuf::new((*url).to_owned()).map_err(|e| format!("{url}: {e}"))?;
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| format!("{url}: {e}"))?;
                let media_type = "application/ld+json"
                    .parse()
                    .map_err(|_| "media type".to_owned())?;
                let doc = RemoteDocument::new(
                    Some(iri.clone()),
                    Some(media_type),
                    json_syntax::Value::from_serde_json(value),
                );
                map.insert(iri, doc);
            }
            Ok(map)
        })
        .as_ref()
        .map_err(|e| {
            FormatError::Unsupported(format!("bundled JSON-LD context does not load: {e}"))
        })
}

/// Refuses any `@context` URL (anywhere in the document) that is not bundled.
fn check_contexts(value: &serde_json::Value) -> Result<(), FormatError> {
    fn check_context_value(ctx: &serde_json::Value) -> Result<(), FormatError> {
        match ctx {
            serde_json::Value::String(url) if !is_bundled_context(url) => {
                Err(FormatError::Unsupported(format!(
                    "JSON-LD context {url} is not bundled with Inkan, and remote contexts are never fetched"
                )))
            }
            serde_json::Value::Array(items) => items.iter().try_for_each(check_context_value),
            serde_json::Value::Object(_) => check_contexts(ctx),
            _ => Ok(()),
        }
    }
    match value {
        serde_json::Value::Object(members) => {
            for (key, member) in members {
                if key == "@context" {
                    check_context_value(member)?;
                } else {
                    check_contexts(member)?;
                }
            }
            Ok(())
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(check_contexts),
        _ => Ok(()),
    }
}

/// Runs a future that never waits (the bundled loader answers at once) to completion.
fn run_ready<F: std::future::Future>(future: F) -> Result<F::Output, FormatError> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => Ok(out),
        std::task::Poll::Pending => Err(FormatError::Unsupported(
            "JSON-LD processing tried to wait on a remote resource".into(),
        )),
    }
}

/// The RDFC-1.0 canonical N-Quads of a JSON-LD document (each quad ends with a newline), with
/// SHA-256 as the canonicalization hash.
pub fn rdfc(document: &serde_json::Value) -> Result<String, FormatError> {
    rdfc_with(document, HashAlgorithm::Sha256)
}

/// The RDFC-1.0 canonical N-Quads of a JSON-LD document, with `hash` as the canonicalization
/// hash (SHA-384 for `ecdsa-rdfc-2019` with P-384 keys).
pub fn rdfc_with(document: &serde_json::Value, hash: HashAlgorithm) -> Result<String, FormatError> {
    rdfc::canonicalize(&to_quads(document)?, hash)
}

/// The RDF quads of a JSON-LD document (JSON-LD expansion and toRdf over bundled contexts).
///
/// The JSON-LD stack is third-party code fed with outside input, and it can panic on some of
/// it (fuzzing found `pct-str` unwrapping a percent-escape that is not UTF-8): a panic there
/// becomes a `Malformed` error instead of taking the process down.
pub fn to_quads(document: &serde_json::Value) -> Result<Vec<Quad>, FormatError> {
    check_contexts(document)?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| expand_to_quads(document))).unwrap_or_else(|_| {
        Err(FormatError::malformed(
            "JSON-LD document",
            "JSON-LD processing failed on this input (for example an IRI whose percent-escapes are not UTF-8)",
        ))
    })
}

fn expand_to_quads(document: &serde_json::Value) -> Result<Vec<Quad>, FormatError> {
    let loader = loader()?;
    let options = json_ld::Options::<IriBuf> {
        expansion_policy: json_ld::expansion::Policy {
            invalid: json_ld::expansion::Action::Reject,
            allow_undefined: false,
            ..Default::default()
        },
        ..Default::default()
    }
    // What `to_rdf` does: expansion need not order keys, RDFC-1.0 sorts afterwards.
    .unordered();
    let failed = |e: json_ld::expansion::Error| {
        let e = json_ld::ToRdfError::Expand(json_ld::ExpandError::Expansion(e));
        FormatError::malformed("JSON-LD document", e.to_string())
    };
    // The JSON-LD expansion of a document whose top-level `@context` was processed first: the
    // algorithm's first step on the top-level object, done here once per distinct `@context`
    // and kept ([`context_cache`]), instead of on every call.
    let (active_context, body) = match document.as_object() {
        Some(object) if object.contains_key("@context") => {
            let mut body = object.clone();
            let context = body.remove("@context").unwrap_or_default();
            let active = top_level_context(&context, loader, &options).map_err(failed)?;
            (active, serde_json::Value::Object(body))
        }
        _ => (json_ld::Context::new(None), document.clone()),
    };
    let body = json_syntax::Value::from_serde_json(body);
    let mut expanded = run_ready(json_ld::Expand::expand_full(
        &body,
        &mut (),
        active_context,
        None,
        loader,
        options.expansion_options(),
        (),
    ))?
    .map_err(failed)?;
    let mut generator = rdf_types::generator::Blank::new();
    expanded.relabel_and_canonicalize_with(&mut (), &mut generator);
    let rdf_quads: Vec<json_ld::rdf::Quad<IriBuf, rdf_types::BlankIdBuf, rdf_types::Literal>> =
        expanded
            .rdf_quads_full(
                &mut (),
                &mut generator,
                options.rdf_direction,
                options.produce_generalized_rdf,
            )
            .cloned()
            .collect();
    let id = |id: rdf_types::Id| match id {
        rdf_types::Id::Iri(iri) => Term::Iri(iri.into_string()),
        rdf_types::Id::Blank(b) => Term::Blank(b.suffix().to_owned()),
    };
    let mut quads = Vec::new();
    for rdf_types::Quad(subject, predicate, object, graph) in rdf_quads {
        let predicate = match predicate {
            rdf_types::Id::Iri(iri) => iri.into_string(),
            rdf_types::Id::Blank(b) => {
                return Err(FormatError::malformed(
                    "JSON-LD document",
                    format!("blank node {b} used as a property"),
                ));
            }
        };
        let object = match object {
            rdf_types::Term::Id(i) => id(i),
            rdf_types::Term::Literal(literal) => match literal.type_ {
                rdf_types::LiteralType::Any(datatype) => Term::Literal {
                    value: literal.value,
                    datatype: datatype.into_string(),
                    language: None,
                },
                rdf_types::LiteralType::LangString(tag) => Term::Literal {
                    value: literal.value,
                    datatype: RDF_LANG_STRING.to_owned(),
                    language: Some(tag.to_string()),
                },
            },
        };
        quads.push(Quad {
            subject: id(subject),
            predicate,
            object,
            graph: graph.map(id),
        });
    }
    Ok(quads)
}

/// The active context of a top-level `@context` value: kept from an earlier call, or processed
/// now (over the bundled loader, no base IRI, the expansion's options) and kept.
fn top_level_context(
    context: &serde_json::Value,
    loader: &BTreeMap<IriBuf, RemoteDocument>,
    options: &json_ld::Options<IriBuf>,
) -> Result<ActiveContext, json_ld::expansion::Error> {
    let key = context_cache::key(context);
    if let Some(active) = key.as_deref().and_then(context_cache::get) {
        return Ok(active);
    }
    let local = json_ld::syntax::context::Context::try_from_json(
        json_syntax::Value::from_serde_json(context.clone()),
    )?;
    let processing: json_ld::context_processing::Options = options.expansion_options().into();
    let active = run_ready(local.process_with(
        &mut (),
        &json_ld::Context::new(None),
        loader,
        None,
        processing,
    ))
    .map_err(|_| {
        json_ld::expansion::Error::ContextProcessing(
            json_ld::context_processing::Error::LoadingDocumentFailed,
        )
    })?
    .map_err(json_ld::expansion::Error::ContextProcessing)?
    .into_processed();
    if let Some(key) = key {
        context_cache::insert(key, &active);
    }
    Ok(active)
}

const RDF_LANG_STRING: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";

/// The RFC 8785 (JCS) canonical form of a JSON value.
pub fn jcs(value: &serde_json::Value) -> Result<String, FormatError> {
    serde_json_canonicalizer::to_string(value)
        .map_err(|e| FormatError::malformed("JSON document", e.to_string()))
}
