//! Interop: Data Integrity credentials and presentations signed through the software device
//! are verified by an independent implementation, digitalbazaar's `@digitalbazaar/vc` with its
//! Data Integrity cryptosuites (`interop/di/verify.mjs`, installed by `.ci/run` with
//! `npm ci --prefix interop/di`), which also refuses a tampered copy.
#![allow(clippy::unwrap_used)]

mod di_support;

use di_support::{device_key, soft_device};
use inkan_device::KeySpec;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/di");
    assert!(
        dir.join("node_modules/@digitalbazaar/vc").is_dir(),
        "interop/di/node_modules is missing: run `bash .ci/run` (or `npm ci --prefix interop/di`) first"
    );
    dir
}

/// Runs the Node verifier on `doc`; returns (valid, output).
fn node_verify(
    dir: &Path,
    work: &Path,
    name: &str,
    doc: &serde_json::Value,
    extra: &[&str],
) -> (bool, String) {
    let file = work.join(name);
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = Command::new("node")
        .arg(dir.join("verify.mjs"))
        .arg(&file)
        .args(extra)
        .output()
        .expect("node is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const CASES: [(Cryptosuite, KeySpec); 6] = [
    (Cryptosuite::EddsaRdfc2022, KeySpec::Ed25519),
    (Cryptosuite::EddsaJcs2022, KeySpec::Ed25519),
    (Cryptosuite::EcdsaRdfc2019, KeySpec::P256),
    (Cryptosuite::EcdsaRdfc2019, KeySpec::P384),
    (Cryptosuite::EcdsaJcs2019, KeySpec::P256),
    (Cryptosuite::EcdsaJcs2019, KeySpec::P384),
];

#[tokio::test]
async fn digitalbazaar_verifies_inkan_credentials_and_presentations() {
    let dir = interop_dir();
    let (tmp, device) = soft_device();
    for (suite, spec) in CASES {
        let (signer, key) = device_key(&device, spec);
        let vc = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
            "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
            "type": ["VerifiableCredential", "AlumniCredential"],
            "name": "Alumni Credential",
            "issuer": key.public_key.did_key(),
            "validFrom": "2023-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"}
        });
        let signed = data_integrity::sign(&vc, &signer, &key, &ProofOptions::assertion(suite))
            .await
            .unwrap();
        let (ok, out) = node_verify(&dir, tmp.path(), "vc.json", &signed, &[]);
        assert!(
            ok,
            "{suite} {spec}: digitalbazaar refuses Inkan's credential: {out}"
        );
        let mut tampered = signed.clone();
        tampered["credentialSubject"]["alumniOf"] = "Another School".into();
        let (ok, _) = node_verify(&dir, tmp.path(), "vc-tampered.json", &tampered, &[]);
        assert!(
            !ok,
            "{suite} {spec}: digitalbazaar accepts a tampered credential"
        );

        let (holder_signer, holder_key) = device_key(&device, spec);
        let vp = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": holder_key.public_key.did_key(),
            "verifiableCredential": [signed]
        });
        let options = ProofOptions::authentication(
            suite,
            "9b7c4ef1-challenge",
            Some("https://verifier.example".into()),
        );
        let signed_vp = data_integrity::sign(&vp, &holder_signer, &holder_key, &options)
            .await
            .unwrap_or_else(|e| panic!("{suite} {spec}: {e}"));
        let good = [
            "--challenge",
            "9b7c4ef1-challenge",
            "--domain",
            "https://verifier.example",
        ];
        let (ok, out) = node_verify(&dir, tmp.path(), "vp.json", &signed_vp, &good);
        assert!(
            ok,
            "{suite} {spec}: digitalbazaar refuses Inkan's presentation: {out}"
        );
        let bad = [
            "--challenge",
            "another-challenge",
            "--domain",
            "https://verifier.example",
        ];
        let (ok, _) = node_verify(&dir, tmp.path(), "vp.json", &signed_vp, &bad);
        assert!(
            !ok,
            "{suite} {spec}: digitalbazaar accepts a presentation with the wrong challenge"
        );
    }
}

/// `ecdsa-rdfc-2019` with P-384 over a presentation whose canonical form has several blank
/// nodes (the embedded credential's graph and proof, a credential subject without `id` and a
/// nested object): RDFC-1.0 runs with SHA-384, and digitalbazaar reproduces it.
#[tokio::test]
async fn digitalbazaar_verifies_p384_rdfc_presentation_with_several_blank_nodes() {
    let dir = interop_dir();
    let (tmp, device) = soft_device();
    let suite = Cryptosuite::EcdsaRdfc2019;
    let (issuer_signer, issuer_key) = device_key(&device, KeySpec::P384);
    let vc = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential", "AlumniCredential"],
        "issuer": issuer_key.public_key.did_key(),
        "validFrom": "2023-01-01T00:00:00Z",
        "credentialSubject": {
            "name": "Alumna without an id",
            "alumniOf": {"name": "The School of Examples", "description": "a blank node too"}
        }
    });
    let signed_vc = data_integrity::sign(
        &vc,
        &issuer_signer,
        &issuer_key,
        &ProofOptions::assertion(suite),
    )
    .await
    .unwrap();
    let (holder_signer, holder_key) = device_key(&device, KeySpec::P384);
    let vp = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder_key.public_key.did_key(),
        "verifiableCredential": [signed_vc]
    });
    // Several blank nodes, so the SHA-384 hash decides canonical labels.
    let canonical = suite
        .canonicalize(inkan_device::Algorithm::Es384, &vp)
        .unwrap();
    assert!(canonical.contains("_:c14n3 "), "{canonical}");
    let options = ProofOptions::authentication(
        suite,
        "p384-challenge",
        Some("https://verifier.example".into()),
    );
    let signed_vp = data_integrity::sign(&vp, &holder_signer, &holder_key, &options)
        .await
        .unwrap();
    data_integrity::verify(
        &signed_vp,
        &data_integrity::VerifyOptions {
            challenge: Some("p384-challenge".into()),
            domain: Some("https://verifier.example".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let good = [
        "--challenge",
        "p384-challenge",
        "--domain",
        "https://verifier.example",
    ];
    let (ok, out) = node_verify(&dir, tmp.path(), "vp384.json", &signed_vp, &good);
    assert!(ok, "digitalbazaar refuses the P-384 presentation: {out}");
    let mut tampered = signed_vp.clone();
    tampered["verifiableCredential"][0]["credentialSubject"]["alumniOf"]["name"] =
        "Another School".into();
    let (ok, _) = node_verify(&dir, tmp.path(), "vp384-tampered.json", &tampered, &good);
    assert!(!ok, "digitalbazaar accepts a tampered P-384 presentation");
}
