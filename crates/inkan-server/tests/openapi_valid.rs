//! The OpenAPI document is valid OpenAPI 3.1 by an independent validator (PyPI
//! `openapi-spec-validator`, in `interop/openapi`, installed by `.ci/run`; issue 19 point 2),
//! names how callers authenticate, and gives every operation its own `operationId`.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::process::Command;

#[test]
fn the_openapi_document_is_valid_and_says_how_to_authenticate() {
    let document = inkan_server::api::openapi::document();
    let folder = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/openapi");
    let python = folder.join(".venv/bin/python");
    assert!(
        python.exists(),
        "interop/openapi/.venv is missing: run `bash .ci/run` (or `python3 -m venv \
         interop/openapi/.venv && interop/openapi/.venv/bin/pip install -r \
         interop/openapi/requirements.txt`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let out = Command::new(python)
        .arg(folder.join("validate.py"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .unwrap();
    for scheme in [
        "dpop",
        "mutualTls",
        "cscBasic",
        "clientCredentials",
        "cscAuthorizationCode",
    ] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
    assert!(
        document["servers"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    let mut ids = HashSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: operationId {id:?} twice"
            );
        }
    }
}

/// Every handler with an OpenAPI annotation, read from the source (`syn`): (method, path,
/// whether it takes an `Authenticated` caller, whether it reads a body).
fn handlers() -> Vec<(String, String, bool, bool)> {
    use quote::ToTokens as _;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut found = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
            for item in file.items {
                let syn::Item::Fn(function) = item else {
                    continue;
                };
                let Some(annotation) = function.attrs.iter().find(|a| {
                    a.path().segments.last().is_some_and(|s| s.ident == "path")
                        && a.path().segments.len() == 2
                }) else {
                    continue;
                };
                let text = annotation.meta.to_token_stream().to_string();
                let inner = text.split_once('(').unwrap().1;
                let method = inner.split(',').next().unwrap().trim().to_owned();
                let route = inner
                    .split("path = \"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap()
                    .to_owned();
                let signature = function.sig.inputs.to_token_stream().to_string();
                let authenticated = signature.contains("Authenticated");
                let body = ["JsonBody", "Json <", "Form <", "Bytes"]
                    .iter()
                    .any(|extractor| signature.contains(extractor));
                found.push((method, route, authenticated, body));
            }
        }
    }
    found
}

/// Each operation declares how a caller authenticates, and the declaration agrees with the
/// handler: one that takes an `Authenticated` caller requires DPoP or mutual TLS, and one that
/// does not is anonymous, a browser page, or authenticates in the request itself (CSC login,
/// the OAuth token endpoint). Every refusal has the error schema.
#[test]
fn every_operation_declares_its_security_and_its_errors() {
    let document = inkan_server::api::openapi::document();
    let handlers = handlers();
    assert!(handlers.len() > 70, "{}", handlers.len());
    for (method, path, authenticated, body) in &handlers {
        let operation = &document["paths"][path][method];
        assert!(
            operation.is_object(),
            "{method} {path} is not in the document"
        );
        // A handler that reads a body documents it, with a schema.
        if *body {
            let content = operation["requestBody"]["content"].as_object();
            assert!(
                content.is_some_and(|c| c.values().all(|m| m["schema"].is_object())),
                "{method} {path} reads a body its document does not describe"
            );
        }
        let security = operation["security"].as_array().unwrap_or_else(|| {
            panic!("{method} {path} declares no security");
        });
        let anonymous_allowed = security.is_empty()
            || security
                .iter()
                .any(|s| s.as_object().is_some_and(|o| o.is_empty()))
            // A page's own session is its handler's to check, not the API's.
            || (inkan_server::api::openapi::is_page(path)
                && security.iter().all(|s| s.get("browserSession").is_some()));
        if *authenticated {
            assert!(
                !anonymous_allowed,
                "{method} {path} takes an authenticated caller but its document allows none"
            );
        } else {
            assert!(
                anonymous_allowed,
                "{method} {path} takes no authenticated caller but its document requires one"
            );
        }
        let page = inkan_server::api::openapi::is_page(path);
        // Every answer with a body says what is in it: a schema for each media type. Only
        // "no content" answers, redirects and RFC 7009's empty 200 have none.
        for (code, response) in operation["responses"].as_object().unwrap() {
            // (A page's refusals are pages too, or its script's JSON: said in words.)
            let empty = code == "204"
                || code.starts_with('3')
                || (page && !code.starts_with('2'))
                || (method == "post" && path == "/oauth2/revoke" && code == "200");
            if empty {
                continue;
            }
            let content = response["content"].as_object();
            assert!(
                content
                    .is_some_and(|c| !c.is_empty() && c.values().all(|m| m["schema"].is_object())),
                "{method} {path} {code} answers without a schema"
            );
        }
        for (code, response) in operation["responses"].as_object().unwrap() {
            if code.starts_with('2') || code.starts_with('3') || page {
                continue;
            }
            let schema = &response["content"]["application/json"]["schema"];
            assert!(
                schema["$ref"] == "#/components/schemas/Error" || schema.is_object(),
                "{method} {path} {code} has no error schema"
            );
        }
    }
}
