//! Interop: a DeviceResponse made through the software device is verified by an independent
//! implementation, `@auth0/mdl` (npm), through `interop/mdoc/verify.js` (issuer signature
//! and certificate chain, value digests, validity, device signature over the
//! SessionTranscript, issuing_country against the certificate). Its packages are installed by
//! `bash .ci/run` (`npm ci --prefix interop/mdoc`).
#![allow(clippy::unwrap_used)]

mod mdoc_support;

use inkan_formats::mdoc::{ItemsRequest, issue, present};
use mdoc_support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/mdoc")
}

fn require_packages() {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/@auth0/mdl/package.json").exists(),
        "the interop packages are missing in {}: run `bash .ci/run` (or `npm ci --prefix interop/mdoc`)",
        dir.display()
    );
}

/// Runs the independent verifier; returns (success, stdout, stderr).
fn node_verify(response: &[u8], transcript: &[u8], root_pem: &str) -> (bool, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let (r, t, c) = (
        tmp.path().join("response.cbor"),
        tmp.path().join("transcript.cbor"),
        tmp.path().join("root.pem"),
    );
    std::fs::write(&r, response).unwrap();
    std::fs::write(&t, transcript).unwrap();
    std::fs::write(&c, root_pem).unwrap();
    let out = Command::new("node")
        .arg(interop_dir().join("verify.js"))
        .args([&r, &t, &c])
        .output()
        .expect("node must be installed: run `bash .ci/run`");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn auth0_mdl_verifies_inkan_device_responses() {
    require_packages();
    let now = now();
    let s = setup_with(
        (inkan_device::KeySpec::P256, inkan_device::Algorithm::Es256),
        (inkan_device::KeySpec::P256, inkan_device::Algorithm::Es256),
        now,
    );
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, now),
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let request: ItemsRequest = [(
        NS.to_string(),
        vec![
            "family_name".to_string(),
            "issuing_country".to_string(),
            "age_over_18".to_string(),
        ],
    )]
    .into_iter()
    .collect();
    let st = transcript("interop-nonce");
    let response = present(&s.signer, &s.holder, &issued, &request, &st)
        .await
        .unwrap();
    let bytes = response.to_bytes().unwrap();

    let (ok, stdout, stderr) = node_verify(&bytes, &st, &s.issuer_pem);
    assert!(
        ok,
        "@auth0/mdl refused Inkan's DeviceResponse:\n{stderr}\n{stdout}"
    );
    assert!(stdout.contains(MDL), "{stdout}");
    for e in ["family_name", "issuing_country", "age_over_18"] {
        assert!(stdout.contains(e), "{e} missing in {stdout}");
    }
    // Only the requested elements were disclosed.
    assert!(
        !stdout.contains("given_name") && !stdout.contains("document_number"),
        "{stdout}"
    );

    // The independent verifier also refuses it for another transcript, and under another
    // trusted root: it really checks.
    let (ok, _, stderr) = node_verify(&bytes, &transcript("other-nonce"), &s.issuer_pem);
    assert!(!ok, "accepted a wrong transcript");
    assert!(stderr.contains("FAILED"), "{stderr}");
    let other = setup_with(
        (inkan_device::KeySpec::P256, inkan_device::Algorithm::Es256),
        (inkan_device::KeySpec::P256, inkan_device::Algorithm::Es256),
        now,
    );
    let (ok, _, _) = node_verify(&bytes, &st, &other.issuer_pem);
    assert!(!ok, "accepted an untrusted issuer");
}

#[tokio::test]
async fn auth0_mdl_verifies_eddsa_device_signatures() {
    require_packages();
    let now = now();
    let s = setup_with(
        (inkan_device::KeySpec::P384, inkan_device::Algorithm::Es384),
        (
            inkan_device::KeySpec::Ed25519,
            inkan_device::Algorithm::EdDsa,
        ),
        now,
    );
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, now),
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let request: ItemsRequest = [(NS.to_string(), vec!["given_name".to_string()])]
        .into_iter()
        .collect();
    let st = transcript("interop-nonce-2");
    let response = present(&s.signer, &s.holder, &issued, &request, &st)
        .await
        .unwrap();
    let (ok, stdout, stderr) = node_verify(&response.to_bytes().unwrap(), &st, &s.issuer_pem);
    assert!(
        ok,
        "@auth0/mdl refused an ES384-issued, EdDSA-presented DeviceResponse:\n{stderr}\n{stdout}"
    );
}
