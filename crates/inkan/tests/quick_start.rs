#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! The README's quick start as a newcomer runs it (issue 19): `inkan serve --dev` as a child
//! process, then `inkan client` commands alone — no code, no curl — on the profiles it wrote:
//! a person logs in and creates a key; the key gets a system client of its own under dual
//! control (one officer asks, the second approves, the person consents); the client issues a
//! VC-JWT; it is verified; its receipt is checked against the log's key, by the client and by
//! `inkan log receipt --verify` offline. No secret reaches the output.

mod common;

use common::Dev;
use serde_json::Value;
use std::path::Path;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_newcomer_issues_and_checks_a_credential_with_inkan_client_alone() {
    let mut dev = Dev::start();
    let summary = read_json(&dev.path("inkan-dev/dev.json"));
    let subscriber = summary["issuer"].as_str().unwrap().to_owned();

    // The profiles are logged in already: the next command works at once.
    let keys = dev.json("issuer", &["keys", "list"]);
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    let (ok, table, _) = dev.client("issuer", &["keys", "list"]);
    assert!(
        ok && table.starts_with("id ") && table.contains("ES256"),
        "{table}"
    );

    // The person logs in again (password and TOTP from the profile's files), makes a key.
    let login = dev.json("issuer", &["login"]);
    assert_eq!(login["logged_in"], "dev-clerk");
    let key = dev.json("issuer", &["keys", "create", "--label", "quick start"]);
    let key_id = key["id"].as_str().unwrap().to_owned();
    let did = key["did_key"].as_str().unwrap().to_owned();

    // A system client for that key: a new profile with a fresh certificate, registered by
    // one officer, approved by the second, consented to by the person.
    let url = read_json(&dev.profile("issuer").join("profile.json"))["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let cert = dev.path("inkan-dev/tls/server.crt");
    let (ok, _, stderr) = dev.client(
        "quick-system",
        &[
            "init",
            "--url",
            &url,
            "--server-certificate",
            cert.to_str().unwrap(),
            "--new-identity",
            "quick-start.example",
        ],
    );
    assert!(ok, "{stderr}");
    let client_cert = dev.profile("quick-system").join("client.crt");
    let asked = dev.json(
        "operator",
        &[
            "clients",
            "register",
            "--subscriber",
            &subscriber,
            "--name",
            "quick start system",
            "--certificate",
            client_cert.to_str().unwrap(),
            "--key",
            &key_id,
        ],
    );
    let request = asked["id"].as_str().unwrap().to_owned();
    // The one who asked cannot approve it too.
    let (ok, _, refused) = dev.client("operator", &["approvals", "approve", &request]);
    assert!(!ok && refused.contains("403"), "{refused}");
    let pending = dev.json("second-operator", &["approvals", "list", "--pending"]);
    assert!(pending.to_string().contains(&request), "{pending}");
    dev.json("second-operator", &["approvals", "approve", &request]);
    dev.json("issuer", &["approvals", "consent", &request]);
    dev.json("quick-system", &["login"]);

    // Issue a VC-JWT with the new key; verify it; check its receipt.
    let credential = serde_json::json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "credentialSubject": {"id": "did:example:newcomer"},
    });
    std::fs::write(dev.path("vc.json"), credential.to_string()).unwrap();
    let written = dev.json(
        "quick-system",
        &[
            "issue", "--format", "vc-jwt", "--key", &key_id, "--out", "vc.jwt", "vc.json",
        ],
    );
    assert_eq!(written["receipt"], "vc.jwt.receipt", "{written}");
    let envelope = read_json(&dev.path("vc.jwt"));
    assert_eq!(envelope["type"], "EnvelopedVerifiableCredential");
    let verified = dev.json("quick-system", &["verify", "vc.jwt"]);
    assert_eq!(verified["verified"], true, "{verified}");
    // A credential altered after issuance does not verify (exit status 1).
    let jwt = envelope["id"].as_str().unwrap().split_once(',').unwrap().1;
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    std::fs::write(dev.path("forged.jwt"), forged).unwrap();
    let (ok, _, refused) = dev.client("quick-system", &["verify", "forged.jwt"]);
    assert!(!ok && refused.contains("not verified"), "{refused}");

    let receipts = dev.json("quick-system", &["receipt", "vc.jwt", "--out", "receipts"]);
    let found = receipts["signatures"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{receipts}");
    assert_eq!(found[0]["receipt"], "verified");
    assert_eq!(found[0]["entry"], "signature.made");
    assert_eq!(found[0]["keyId"], key_id.as_str());
    // The same receipt, offline, with only the log's public key.
    let log_key = dev.json("quick-system", &["call", "GET", "/v1/log/key"]);
    let (ok, _, stderr) = dev.inkan(&[
        "log",
        "receipt",
        "--verify",
        "vc.jwt.receipt",
        "--log-key",
        log_key["vkey"].as_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    // Checked against another key of the same name, the receipt fails.
    let origin = log_key["origin"].as_str().unwrap();
    let other = {
        use ring::signature::KeyPair as _;
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        inkan_log::note::vkey(origin, pair.public_key().as_ref().try_into().unwrap())
    };
    let (ok, _, refused) = dev.client("quick-system", &["receipt", "vc.jwt", "--log-key", &other]);
    assert!(!ok && refused.contains("does not verify"), "{refused}");

    // Logged out, the session is gone in the profile and at the service: the saved tokens,
    // put back, are refused (the access token with its DPoP key, and the refresh token).
    let state_path = dev.profile("issuer").join("state.json");
    let saved = std::fs::read(&state_path).unwrap();
    let state: Value = serde_json::from_slice(&saved).unwrap();
    let token = state["session"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = state["session"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Its access token has expired (as it will have, most of the time): logout refreshes first,
    // so that the session itself ends at the service.
    let mut expired: Value = serde_json::from_slice(&saved).unwrap();
    expired["session"]["expires_at"] = 0.into();
    std::fs::write(&state_path, expired.to_string()).unwrap();
    let out = dev.json("issuer", &["logout"]);
    assert_eq!(out["revoked_at_service"], true, "{out}");
    let (ok, _, refused) = dev.client("issuer", &["keys", "list"]);
    assert!(!ok && refused.contains("not logged in"), "{refused}");
    std::fs::write(&state_path, &saved).unwrap();
    let (ok, _, refused) = dev.client("issuer", &["keys", "list"]);
    assert!(
        !ok && refused.contains("401"),
        "a revoked access token: {refused}"
    );
    std::fs::write(&state_path, expired.to_string()).unwrap();
    let (ok, _, refused) = dev.client("issuer", &["keys", "list"]);
    assert!(
        !ok && refused.contains("refreshing"),
        "a revoked refresh token: {refused}"
    );

    // Files that hold secrets are the owner's alone; no output carried a secret.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in ["state.json", "password", "totp-seed", "pin"] {
            let mode = std::fs::metadata(dev.profile("issuer").join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file} is readable by others");
        }
    }
    let secrets = ["password", "totp-seed", "pin"]
        .map(|f| std::fs::read_to_string(dev.profile("issuer").join(f)).unwrap());
    let server_log = std::fs::read_to_string(dev.path("server.log")).unwrap();
    assert!(
        server_log.contains("inkan is serving"),
        "the server's log was kept"
    );
    for output in dev.outputs.iter().chain([&server_log]) {
        assert!(!output.contains(&token), "an access token was printed");
        assert!(!output.contains(&refresh), "a refresh token was printed");
        for secret in &secrets {
            assert!(!output.contains(secret.trim()), "a secret was printed");
        }
    }
}
