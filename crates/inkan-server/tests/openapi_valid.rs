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
