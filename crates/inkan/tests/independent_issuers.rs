//! Issue 4's must-show: "credentials made by independent issuers (whose issuer is the key's
//! controller) verify without `--proof-only`". Independent implementations from npm issue
//! with fresh keys, each run here by `node`, and the real `inkan verify` binary checks what
//! they made, without `--proof-only`:
//!
//! - Data Integrity: digitalbazaar's `@digitalbazaar/vc` with the eddsa/ecdsa rdfc and jcs
//!   suites, `did:key` issuers (Ed25519, P-256, P-384), and a presentation by a `did:key` holder
//!   with challenge and domain (`interop/di/issue.mjs`);
//! - JOSE: `jose` issues a VCDM 1.1 JWT VC whose `iss` is a `did:jwk` and VCDM 2.0 `vc+jwt`
//!   whose `issuer` is a `did:key`, each with the header `kid` naming that DID's method;
//!   `@sd-jwt/sd-jwt-vc` issues an SD-JWT VC (verified with `--key`: issuer metadata resolution
//!   is out of scope) and a presentation with KB-JWT (`interop/jose/issue.mjs`);
//! - mdoc: `@auth0/mdl` issues an mDL under its own IACA and document signer certificates and
//!   answers with a DeviceResponse for a SessionTranscript (`interop/mdoc/issue.js`).
//!
//! One tampered copy of each is refused, and so is a well-signed document whose issuer is not
//! the key's controller. The npm packages are installed by `bash .ci/run`; without them these
//! tests fail (they never skip).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use base64::Engine as _;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs an issuer script of `interop/<folder>` with `node`, writing into a fresh directory.
fn issue(folder: &str, script: &str, marker: &str) -> tempfile::TempDir {
    let dir = repo_root().join("interop").join(folder);
    assert!(
        dir.join("node_modules").join(marker).exists(),
        "interop/{folder}/node_modules is missing ({marker} not installed): run `bash .ci/run` \
         (or `npm ci --prefix interop/{folder}`) first"
    );
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new("node")
        .arg(dir.join(script))
        .arg(out_dir.path())
        .current_dir(&dir)
        .output()
        .expect("node is installed (bash .ci/run needs it for the interop folders)");
    assert!(
        out.status.success(),
        "interop/{folder}/{script} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out_dir
}

/// `inkan verify FILE ARGS…`: whether it exited 0, and its stdout and stderr.
fn verify(file: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("verify")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn assert_valid(file: &Path, args: &[&str], format: &str) -> String {
    let (ok, text) = verify(file, args);
    assert!(
        ok && text.starts_with(&format!("valid: {format}\n")),
        "{} {args:?} should verify as {format}: {text}",
        file.display()
    );
    text
}

fn assert_refused(file: &Path, args: &[&str], why: &str) -> String {
    let (ok, text) = verify(file, args);
    assert!(
        !ok && text.contains("not valid"),
        "{} {args:?} should be refused ({why}): {text}",
        file.display()
    );
    text
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A compact JWS with its payload (JSON) changed by `change`, the signature kept.
fn tamper_jws(jws: &str, change: impl FnOnce(&mut Value)) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jws.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {jws}");
    let mut payload: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    change(&mut payload);
    let payload = b64.encode(serde_json::to_vec(&payload).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[test]
fn data_integrity_from_digitalbazaar_verifies_without_proof_only() {
    let out = issue("di", "issue.mjs", "@digitalbazaar/vc");
    let dir = out.path();
    for (file, suite, key_prefix) in [
        ("vc-eddsa-rdfc-2022.json", "eddsa-rdfc-2022", "did:key:z6Mk"),
        ("vc-ecdsa-rdfc-2019.json", "ecdsa-rdfc-2019", "did:key:zDn"),
        ("vc-eddsa-jcs-2022.json", "eddsa-jcs-2022", "did:key:z6Mk"),
        ("vc-ecdsa-jcs-2019.json", "ecdsa-jcs-2019", "did:key:z82"),
    ] {
        let path = dir.join(file);
        let text = assert_valid(&path, &[], &format!("Data Integrity credential ({suite})"));
        assert!(
            text.contains("\"controllerChecked\": true") && text.contains(key_prefix),
            "{file}: {text}"
        );

        // Tampered: the subject's degree changed after issue.
        let mut doc = read_json(&path);
        doc["credentialSubject"]["degree"]["name"] = "Doctor of Tampering".into();
        let bad = write(dir, &format!("tampered-{file}"), &doc.to_string());
        assert_refused(&bad, &[], "tampered subject");
        assert_refused(&bad, &["--proof-only"], "tampered subject");
    }

    // Well signed, but the issuer is not the controller of the proof's key.
    let path = dir.join("vc-issuer-not-controller.json");
    let text = assert_refused(&path, &[], "issuer is not the key's controller");
    assert!(text.contains("controller"), "{text}");
    assert_valid(
        &path,
        &["--proof-only"],
        "Data Integrity credential (eddsa-rdfc-2022)",
    );

    // A presentation by a did:key holder, bound to a challenge and a domain.
    let options = read_json(&dir.join("vp-options.json"));
    let challenge = options["challenge"].as_str().unwrap();
    let domain = options["domain"].as_str().unwrap();
    let vp = dir.join("vp-eddsa-rdfc-2022.json");
    let text = assert_valid(
        &vp,
        &["--challenge", challenge, "--domain", domain],
        "Data Integrity presentation (eddsa-rdfc-2022)",
    );
    assert!(
        text.contains("\"proofPurpose\": \"authentication\"")
            && text.contains("\"controllerChecked\": true"),
        "{text}"
    );
    assert_refused(
        &vp,
        &["--challenge", "other", "--domain", domain],
        "wrong challenge",
    );
    assert_refused(
        &vp,
        &[
            "--challenge",
            challenge,
            "--domain",
            "https://other.example",
        ],
        "wrong domain",
    );
    assert_refused(&vp, &["--domain", domain], "no challenge given");
    assert_refused(&vp, &["--challenge", challenge], "no domain given");
    let mut doc = read_json(&vp);
    doc["proof"]["challenge"] = "replayed".into();
    let bad = write(dir, "tampered-vp-challenge.json", &doc.to_string());
    assert_refused(
        &bad,
        &["--challenge", "replayed", "--domain", domain],
        "challenge rewritten",
    );
    let mut doc = read_json(&vp);
    doc["verifiableCredential"][0]["credentialSubject"]["name"] = "Mallory".into();
    let bad = write(dir, "tampered-vp.json", &doc.to_string());
    assert_refused(
        &bad,
        &["--challenge", challenge, "--domain", domain],
        "tampered presentation",
    );
}

/// The holder signs, with a proof that is itself valid, a presentation of a credential whose
/// subject was changed after issue: the presented credential's own proof is broken, so a
/// verifier of the presentation must refuse it (digitalbazaar's `vc.verify` does).
#[test]
fn data_integrity_presentation_of_a_tampered_credential_is_refused() {
    let out = issue("di", "issue.mjs", "@digitalbazaar/vc");
    let dir = out.path();
    let options = read_json(&dir.join("vp-options.json"));
    let challenge = options["challenge"].as_str().unwrap();
    let domain = options["domain"].as_str().unwrap();
    assert_refused(
        &dir.join("vp-tampered-vc.json"),
        &["--challenge", challenge, "--domain", domain],
        "the presented credential's proof does not verify",
    );
}

/// A credential whose `validUntil` passed a year ago (well signed by its issuer's did:key) is
/// not valid now; `--at` a time inside its validity would accept it.
#[test]
fn data_integrity_credential_past_its_valid_until_is_refused() {
    let out = issue("di", "issue.mjs", "@digitalbazaar/vc");
    let path = out.path().join("vc-expired.json");
    assert_refused(&path, &[], "validUntil has passed");
    let valid_from = read_json(&path)["validFrom"].as_str().unwrap().to_owned();
    assert_valid(
        &path,
        &["--at", &valid_from],
        "Data Integrity credential (eddsa-rdfc-2022)",
    );
}

#[test]
fn vc_jwt_and_sd_jwt_vc_from_jose_and_sd_jwt_verify_without_proof_only() {
    let out = issue("jose", "issue.mjs", "@sd-jwt/sd-jwt-vc");
    let dir = out.path();

    for (file, format, kid) in [
        (
            "vc-jwt-v11-did-jwk.jwt",
            "VC-JWT (VCDM 1.1, jwt_vc_json)",
            "kid did:jwk:",
        ),
        (
            "vc-jwt-v2-did-key.jwt",
            "VC-JWT (VCDM 2.0, vc+jwt)",
            "kid did:key:z6Mk",
        ),
        (
            "vc-jwt-v2-did-key-p256.jwt",
            "VC-JWT (VCDM 2.0, vc+jwt)",
            "kid did:key:zDn",
        ),
    ] {
        let path = dir.join(file);
        let text = assert_valid(&path, &[], format);
        assert!(text.contains(kid), "{file}: {text}");

        let jwt = std::fs::read_to_string(&path).unwrap();
        let tampered = tamper_jws(&jwt, |payload| {
            let subject = match payload.get_mut("vc") {
                Some(vc) => &mut vc["credentialSubject"],
                None => &mut payload["credentialSubject"],
            };
            subject["degree"]["name"] = "Doctor of Tampering".into();
        });
        let bad = write(dir, &format!("tampered-{file}"), &tampered);
        assert_refused(&bad, &[], "tampered payload");
        assert_refused(&bad, &["--proof-only"], "tampered payload");
    }

    // Well signed, but the `kid` DID is not the issuer.
    let path = dir.join("vc-jwt-not-controller.jwt");
    let text = assert_refused(&path, &[], "kid DID is not the issuer");
    assert!(text.contains("not the issuer"), "{text}");
    assert_valid(&path, &["--proof-only"], "VC-JWT (VCDM 2.0, vc+jwt)");

    // SD-JWT VC: the issuer key given with --key.
    let key = dir.join("sd-jwt-issuer.jwk");
    let key_arg = key.to_str().unwrap();
    let sd_jwt = dir.join("sd-jwt-vc.txt");
    let text = assert_valid(&sd_jwt, &["--key", key_arg], "SD-JWT VC");
    for disclosed in [
        "/given_name",
        "/family_name",
        "/address/locality",
        "/nationalities/1",
    ] {
        assert!(
            text.contains(&format!("\"{disclosed}\"")),
            "{disclosed}: {text}"
        );
    }
    // Another key is refused; so is an SD-JWT VC with no key to check it by.
    let other = write(
        dir,
        "other.jwk",
        &std::fs::read_to_string(dir.join("vc-jwt-v11-did-jwk.jwt"))
            .map(|jwt| {
                let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let header: Value =
                    serde_json::from_slice(&b64.decode(jwt.split('.').next().unwrap()).unwrap())
                        .unwrap();
                let did = header["kid"].as_str().unwrap();
                let encoded = did.trim_start_matches("did:jwk:").trim_end_matches("#0");
                String::from_utf8(b64.decode(encoded).unwrap()).unwrap()
            })
            .unwrap(),
    );
    assert_refused(
        &sd_jwt,
        &["--key", other.to_str().unwrap()],
        "another issuer key",
    );
    assert_refused(&sd_jwt, &[], "no issuer key");
    // Tampered: the issuer-signed `vct` changed.
    let text = std::fs::read_to_string(&sd_jwt).unwrap();
    let (jws, rest) = text.trim().split_once('~').unwrap();
    let tampered = tamper_jws(jws, |payload| {
        payload["vct"] = "https://credentials.example/other".into();
    });
    let bad = write(dir, "tampered-sd-jwt-vc.txt", &format!("{tampered}~{rest}"));
    assert_refused(&bad, &["--key", key_arg], "tampered issuer payload");

    // The holder's presentation with a KB-JWT.
    let kb = read_json(&dir.join("sd-jwt-kb.json"));
    let aud = kb["aud"].as_str().unwrap();
    let nonce = kb["nonce"].as_str().unwrap();
    let presentation = dir.join("sd-jwt-vc-kb.txt");
    let text = assert_valid(
        &presentation,
        &["--key", key_arg, "--aud", aud, "--nonce", nonce],
        "SD-JWT VC presentation with KB-JWT",
    );
    assert!(
        text.contains("\"/given_name\"") && !text.contains("\"/family_name\""),
        "only given_name is disclosed: {text}"
    );
    assert_refused(
        &presentation,
        &["--key", key_arg, "--aud", aud, "--nonce", "other"],
        "wrong nonce",
    );
    assert_refused(
        &presentation,
        &[
            "--key",
            key_arg,
            "--aud",
            "https://other.example",
            "--nonce",
            nonce,
        ],
        "wrong audience",
    );
}

#[test]
fn mdoc_device_response_from_auth0_mdl_verifies() {
    let out = issue("mdoc", "issue.js", "@auth0/mdl");
    let dir = out.path();
    let transcript = dir.join("session-transcript.cbor");
    let transcript_arg = transcript.to_str().unwrap();
    let response = dir.join("device-response.hex");
    // Its IACA (written by the issuer) is the trust anchor; without it the issuer is
    // unauthenticated and the exit status is 3 (issue 15).
    let iaca = dir.join("iaca.pem");
    let iaca_arg = iaca.to_str().unwrap();
    let text = assert_valid(
        &response,
        &[
            "--session-transcript",
            transcript_arg,
            "--trust-anchor",
            iaca_arg,
        ],
        "mdoc DeviceResponse",
    );
    let unanchored = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("verify")
        .arg(&response)
        .args(["--session-transcript", transcript_arg])
        .output()
        .unwrap();
    assert_eq!(unanchored.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unanchored.stdout).contains("issuer UNAUTHENTICATED"));
    assert!(
        text.contains("org.iso.18013.5.1.mDL")
            && text.contains("\"family_name\"")
            && text.contains("\"age_over_21\"")
            && !text.contains("\"birth_date\""),
        "only the requested elements are disclosed: {text}"
    );
    assert_refused(&response, &[], "no SessionTranscript given");
    let other_transcript = write(dir, "other-transcript.hex", "83f6f6f6");
    assert_refused(
        &response,
        &["--session-transcript", other_transcript.to_str().unwrap()],
        "another SessionTranscript",
    );

    // Tampered: the disclosed family_name "Jones" becomes "Jonas" (same length, so the CBOR
    // still parses; the value digest no longer matches the MSO).
    let hex_text = std::fs::read_to_string(&response).unwrap();
    let (jones, jonas) = (hex::encode("Jones"), hex::encode("Jonas"));
    assert_eq!(hex_text.matches(&jones).count(), 1, "one family_name value");
    let bad = write(
        dir,
        "tampered-device-response.hex",
        &hex_text.replace(&jones, &jonas),
    );
    assert_refused(
        &bad,
        &["--session-transcript", transcript_arg],
        "tampered element value",
    );

    // The IssuerSigned alone, every issued element.
    let issuer_signed = dir.join("issuer-signed.hex");
    let text = assert_valid(
        &issuer_signed,
        &["--trust-anchor", iaca_arg],
        "mdoc IssuerSigned",
    );
    assert!(text.contains("\"birth_date\""), "{text}");
    let hex_text = std::fs::read_to_string(&issuer_signed).unwrap();
    let bad = write(
        dir,
        "tampered-issuer-signed.hex",
        &hex_text.replace(&jones, &jonas),
    );
    assert_refused(
        &bad,
        &["--trust-anchor", iaca_arg],
        "tampered element value",
    );
}

/// `node interop/di/sd.mjs ARGS` (digitalbazaar's `ecdsa-sd-2023` cryptosuite).
fn sd_mjs(args: &[&str]) {
    let dir = repo_root().join("interop/di");
    assert!(
        dir.join("node_modules/@digitalbazaar/ecdsa-sd-2023-cryptosuite")
            .exists(),
        "interop/di/node_modules is missing: run `bash .ci/run` (or `npm ci --prefix interop/di`) first"
    );
    let out = Command::new("node")
        .arg(dir.join("sd.mjs"))
        .args(args)
        .output()
        .expect("node is installed");
    assert!(
        out.status.success(),
        "interop/di/sd.mjs {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ecdsa_sd_2023_disclosure_from_digitalbazaar_verifies_and_its_base_proof_does_not() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path();
    let unsigned = write(
        dir,
        "unsigned.json",
        r#"{
  "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
  "type": ["VerifiableCredential", "ExampleSailorCredential"],
  "validFrom": "2024-01-01T00:00:00Z",
  "credentialSubject": {"sailNumber": "Earth101", "boards": [{"boardName": "CompFoil170", "year": 2022}, {"boardName": "Kanaha Custom", "year": 2019}]}
}"#,
    );
    let base = dir.join("base.json");
    let derived = dir.join("derived.json");
    let (unsigned, base_s, derived_s) = (
        unsigned.to_str().unwrap(),
        base.to_str().unwrap(),
        derived.to_str().unwrap(),
    );
    sd_mjs(&["issue", unsigned, r#"["/issuer", "/validFrom"]"#, base_s]);
    sd_mjs(&[
        "derive",
        base_s,
        r#"["/credentialSubject/boards/1"]"#,
        derived_s,
    ]);
    assert_valid(&derived, &[], "Data Integrity credential (ecdsa-sd-2023)");
    // A base proof is the holder's: a verifier is told to verify a derived credential.
    let text = assert_refused(&base, &[], "a base proof");
    assert!(text.contains("base proof"), "{text}");
    let mut tampered = read_json(&derived);
    tampered["credentialSubject"]["boards"][0]["year"] = 2020.into();
    let tampered = write(dir, "tampered.json", &tampered.to_string());
    assert_refused(&tampered, &[], "a disclosed value changed");
}
