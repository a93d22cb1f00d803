//! `inkan demo --out DIR`: the whole story runs, and every artifact it writes checks out with
//! other tools: the presentation with `inkan verify` and with npm `@sd-jwt/sd-jwt-vc`, the
//! receipt offline with `inkan log receipt --verify` and the published log key, the Data
//! Integrity VC with digitalbazaar's verifier, and the status list entries (issue 16) against
//! the lists as served with digitalbazaar's and the OpenWallet Foundation's status list
//! libraries.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn inkan(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .args(args)
        .current_dir(dir)
        .env_remove("INKAN_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn interop(dir: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../interop")
        .join(dir);
    assert!(
        path.join("node_modules").is_dir(),
        "interop/{dir}/node_modules is missing: run `bash .ci/run`"
    );
    path
}

fn node(script: PathBuf, args: &[&str]) -> (bool, String) {
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .expect("node is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn demo_runs_and_its_artifacts_check_out_elsewhere() {
    let cwd = tempfile::tempdir().unwrap();
    let out = cwd.path().join("artifacts");
    let (ok, text) = inkan(cwd.path(), &["demo", "--out", out.to_str().unwrap()]);
    assert!(ok, "{text}");
    for said in [
        "SD-JWT VC issued",
        "SAD",
        "valid SD-JWT VC presentation with KB-JWT",
        "is in the log",
        "Demo complete.",
    ] {
        assert!(
            text.contains(said),
            "the demo did not say {said:?}:\n{text}"
        );
    }
    assert!(
        !cwd.path().join("inkan-data").exists(),
        "the demo must not touch ./inkan-data"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let file = |name: &str| {
        out.join(
            manifest[name]["file"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} not in the manifest")),
        )
    };
    for name in [
        "issuer_jwk",
        "sd_jwt_vc",
        "sd_jwt_vc_receipt",
        "presentation",
        "presentation_receipt",
        "log_key",
        "data_integrity_vc",
        "vc_jwt",
    ] {
        assert!(file(name).is_file(), "{name}");
    }
    let path = |name: &str| file(name).to_str().unwrap().to_owned();
    let nonce = "n-0S6_WzA2Mj";
    let aud = "https://verifier.example";
    let (ok, text) = inkan(
        cwd.path(),
        &[
            "verify",
            &path("presentation"),
            "--key",
            &path("issuer_jwk"),
            "--nonce",
            nonce,
            "--aud",
            aud,
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = node(
        interop("jose").join("verify.mjs"),
        &[
            "sd-jwt",
            &path("presentation"),
            &path("issuer_jwk"),
            "--nonce",
            nonce,
            "--aud",
            aud,
        ],
    );
    assert!(ok, "{text}");
    let vkey = std::fs::read_to_string(file("log_key")).unwrap();
    for receipt in ["presentation_receipt", "sd_jwt_vc_receipt"] {
        let (ok, text) = inkan(
            cwd.path(),
            &[
                "log",
                "receipt",
                "--verify",
                &path(receipt),
                "--log-key",
                vkey.trim(),
            ],
        );
        assert!(ok && text.contains("signature.made"), "{receipt}: {text}");
    }
    let (ok, text) = node(
        interop("di").join("verify.mjs"),
        &[&path("data_integrity_vc")],
    );
    assert!(ok, "{text}");
    // Issue 16: the credentials with status list entries verify, and their entries read
    // against the lists as served say what the manifest says.
    let (ok, text) = node(
        interop("di").join("verify.mjs"),
        &[&path("data_integrity_vc_with_status"), "--status-elsewhere"],
    );
    assert!(ok, "{text}");
    let revoked = |name: &str| manifest[name]["revoked"].as_bool().unwrap();
    let url = |name: &str| manifest[name]["url"].as_str().unwrap().to_owned();
    let (ok, text) = node(
        interop("di").join("status-list.mjs"),
        &[
            &path("data_integrity_vc_with_status"),
            &path("w3c_status_list"),
            &url("w3c_status_list"),
            &path("issuer_jwk"),
        ],
    );
    assert!(ok, "{text}");
    assert!(revoked("data_integrity_vc_with_status"));
    assert_eq!(text.trim(), r#"{"status":1}"#);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let (ok, text) = node(
        interop("jose").join("status-list.mjs"),
        &[
            &path("sd_jwt_vc_with_status"),
            &path("token_status_list"),
            &path("issuer_jwk"),
            &now,
        ],
    );
    assert!(ok, "{text}");
    assert!(!revoked("sd_jwt_vc_with_status"));
    assert_eq!(text.trim(), r#"{"status":0}"#);
    assert_eq!(
        manifest["token_status_list"]["mediaType"],
        "application/statuslist+jwt"
    );
    let (ok, text) = node(
        interop("mdoc").join("verify.js"),
        &[
            &path("mdoc_device_response"),
            &path("session_transcript"),
            &path("iaca_root"),
        ],
    );
    assert!(
        ok && text.contains("family_name") && !text.contains("given_name"),
        "{text}"
    );
    let (ok, text) = inkan(
        cwd.path(),
        &[
            "verify",
            &path("mdoc_device_response"),
            "--session-transcript",
            &path("session_transcript"),
            "--trust-anchor",
            &path("iaca_root"),
        ],
    );
    assert!(
        ok && text.contains("\"status\": \"authenticated\""),
        "{text}"
    );
    // Without its IACA the issuer is unauthenticated: not valid (issue 15).
    let (ok, text) = inkan(
        cwd.path(),
        &[
            "verify",
            &path("mdoc_device_response"),
            "--session-transcript",
            &path("session_transcript"),
        ],
    );
    assert!(!ok && text.contains("UNAUTHENTICATED"), "{text}");
    // The enveloped vc+jwt the demo writes verifies as it is (issue 15).
    let (ok, text) = inkan(cwd.path(), &["verify", &path("vc_jwt")]);
    assert!(
        ok && text.contains("EnvelopedVerifiableCredential"),
        "{text}"
    );
}

/// `inkan bench` on the embedded default reports throughput, latency and the raw rate of the
/// same key with their ratio, and the floor (the cheapest authenticated request on the same
/// connections) with the ratio to it (a smoke test of the tool, not a measurement: no figure
/// is judged).
#[test]
fn bench_reports_throughput_against_the_raw_rate() {
    let cwd = tempfile::tempdir().unwrap();
    let (ok, text) = inkan(
        cwd.path(),
        &["bench", "--seconds", "1", "--concurrency", "4", "--json"],
    );
    assert!(ok, "{text}");
    let line = text.lines().find(|l| l.starts_with('{')).unwrap();
    let report: Value = serde_json::from_str(line).unwrap();
    for field in [
        "throughput_per_s",
        "raw_sign_per_s",
        "ratio",
        "p50_ms",
        "p99_ms",
        "floor_per_s",
        "floor_p99_ms",
        "ratio_to_floor",
    ] {
        assert!(
            report[field].as_f64().is_some_and(|v| v > 0.0),
            "{field}: {report}"
        );
    }
    assert_eq!(report["errors"], 0);
    assert_eq!(report["floor_errors"], 0);
    assert!(!cwd.path().join("inkan-data").exists());
}

/// `inkan bench --scenario di-eddsa` issues `eddsa-rdfc-2022` credentials over HTTPS, names the
/// scenario in its report, and writes the credential it issued; digitalbazaar's verifier
/// accepts that credential, and the comparison script issues the same one in-process (a smoke
/// test: no figure is judged).
#[test]
fn bench_di_eddsa_scenario_writes_a_credential_others_verify() {
    let cwd = tempfile::tempdir().unwrap();
    let out = cwd.path().join("credential.json");
    let out_arg = out.to_str().unwrap();
    let (ok, text) = inkan(
        cwd.path(),
        &[
            "bench",
            "--scenario",
            "di-eddsa",
            "--seconds",
            "1",
            "--concurrency",
            "4",
            "--json",
            "--credential-out",
            out_arg,
        ],
    );
    assert!(ok, "{text}");
    let line = text.lines().find(|l| l.starts_with('{')).unwrap();
    let report: Value = serde_json::from_str(line).unwrap();
    assert!(
        report["scenario"]
            .as_str()
            .is_some_and(|s| s.starts_with("di-eddsa")),
        "{report}"
    );
    assert_eq!(report["alg"], "EdDSA");
    assert_eq!(report["errors"], 0);
    assert!(report["throughput_per_s"].as_f64().is_some_and(|v| v > 0.0));
    let credential: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(credential["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    let (ok, text) = node(interop("di").join("verify.mjs"), &[out_arg]);
    assert!(ok, "digitalbazaar verifies the bench's credential: {text}");
    let (ok, text) = node(
        interop("di").join("bench-digitalbazaar.mjs"),
        &["--credential", out_arg, "--seconds", "1"],
    );
    assert!(ok, "{text}");
    let js: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        js["issuances_per_s"].as_f64().is_some_and(|v| v > 0.0),
        "{js}"
    );
}
