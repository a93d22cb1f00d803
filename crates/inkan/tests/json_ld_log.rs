//! Issue 15 point 6: the JSON-LD library's warnings (a context defining a term by a malformed
//! IRI, …) reach the log through `tracing`, never as bare lines on standard error quoting the
//! document (the patched `json-ld-context-processing`, `vendor/`).
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn json_ld_warnings_go_through_the_log_without_the_value() {
    let did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    let document = serde_json::json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", {"secretTerm": "bar baz-7f3a9"}],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject", "secretTerm": "x"},
        "proof": {
            "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
            "proofPurpose": "assertionMethod",
            "verificationMethod": format!("{did}#{}", did.trim_start_matches("did:key:")),
            "proofValue": "z1111"
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vc.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("verify")
        .arg(&file)
        .env_remove("INKAN_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}{stderr}");
    // The warning went through tracing (a log line with its level and target) ...
    assert!(
        stderr.contains("JSON-LD context processing warning")
            && stderr.contains("json_ld")
            && stderr.contains("malformed IRI"),
        "{stderr}"
    );
    // ... and nothing quotes the value that raised it.
    assert!(!stderr.contains("bar baz-7f3a9"), "{stderr}");
    assert!(!stdout.contains("bar baz-7f3a9"), "{stdout}");
}
