//! End-to-end tests of the VC API verify endpoints (issue 15 point 3), against a live
//! `inkan serve` over TLS: presentations without `holder`; credentials given as JSON strings
//! and envelopes without the VCDM context refused; Data Integrity proof sets and chains (made
//! by digitalbazaar's libraries in `interop/di/proofset.mjs`, and by Inkan's own signer, which
//! digitalbazaar's verifier checks in turn); `options.checks`; enveloped VCDM 1.1 VP-JWTs;
//! issuer certificates against `[verify] trust_anchors` (an mdoc under its IACA, under another
//! or a self-made one; an SD-JWT VC with `x5c`). Documents are signed here by a software
//! device the test holds; each refusal's status code and message are asserted.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use common::Engine;
use common::interop::{interop, node};
use common::server::Harness;
use common::x509::TestCa;
use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use inkan_formats::KeyRef;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions};
use inkan_formats::jose::{KeyHint, sign_compact, vc_jwt};
use inkan_formats::signer::DeviceSigner;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use std::sync::Arc;

const V2: &str = "https://www.w3.org/ns/credentials/v2";
const V1: &str = "https://www.w3.org/2018/credentials/v1";

/// A software device the test signs with, standing for other issuers and holders.
struct Wallet {
    _dir: tempfile::TempDir,
    device: Arc<SoftDevice>,
    signer: DeviceSigner,
}

impl Wallet {
    fn new() -> Wallet {
        let dir = tempfile::tempdir().unwrap();
        let device = Arc::new(
            SoftDevice::open(&SoftConfig {
                path: dir.path().join("token"),
                kek: KekSource::File(dir.path().join("kek")),
            })
            .unwrap(),
        );
        Wallet {
            signer: DeviceSigner::new(device.clone()),
            device,
            _dir: dir,
        }
    }

    /// A new key of `spec`, its `kid` its did:key verification method.
    fn key(&self, spec: KeySpec) -> KeyRef {
        let created = self.device.generate(spec, "e2e verify").unwrap();
        let algorithm = match spec {
            KeySpec::Ed25519 => Algorithm::EdDsa,
            KeySpec::P384 => Algorithm::Es384,
            _ => Algorithm::Es256,
        };
        KeyRef {
            handle: created.handle,
            algorithm,
            kid: Some(data_integrity::did_key_verification_method(
                &created.public_key,
            )),
            public_key: created.public_key,
            certificate_chain: Vec::new(),
        }
    }

    async fn sign(&self, document: &Value, key: &KeyRef, options: &ProofOptions) -> Value {
        data_integrity::sign(document, &self.signer, key, options)
            .await
            .unwrap()
    }
}

fn credential(issuer: &str) -> Value {
    json!({
        "@context": [V2, "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:5d3a3f2e-5b8e-4d44-9d2b-6b0f6c3b7a10",
        "type": ["VerifiableCredential", "ExampleDegreeCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "degree": {"type": "ExampleBachelorDegree", "name": "Bachelor of Science and Arts"}
        }
    })
}

/// POSTs `body` to `path`: (status, JSON body).
async fn post(h: &Harness, path: &str, body: Value) -> (StatusCode, Value) {
    let response = h.post_json(path, body).await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn verify_credential(h: &Harness, vc: Value, options: Value) -> (StatusCode, Value) {
    post(
        h,
        "/credentials/verify",
        json!({"verifiableCredential": vc, "options": options}),
    )
    .await
}

async fn verify_presentation(h: &Harness, vp: Value, options: Value) -> (StatusCode, Value) {
    post(
        h,
        "/presentations/verify",
        json!({"verifiablePresentation": vp, "options": options}),
    )
    .await
}

/// The first error message of a refusal, checked to be free of Rust Debug forms.
fn error(body: &Value) -> String {
    assert_eq!(body["verified"], false, "{body}");
    let message = body["errors"][0].as_str().unwrap().to_owned();
    assert!(
        !message.contains("Some(") && !message.contains("None"),
        "a Rust Debug form in a refusal: {message}"
    );
    message
}

/// A server whose `[verify] trust_anchors` is `iaca` (and `ca`).
async fn server(anchors: &[&TestCa]) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, ca) in anchors.iter().enumerate() {
        let path = dir.path().join(format!("anchor-{i}.pem"));
        std::fs::write(&path, &ca.pem).unwrap();
        paths.push(format!("\"{}\"", path.display()));
    }
    let settings = format!("\n[verify]\ntrust_anchors = [{}]", paths.join(", "));
    (Harness::start(Engine::SqliteFile, &settings).await, dir)
}

async fn presentation(
    wallet: &Wallet,
    holder_member: Option<&str>,
    credentials: Value,
    suite: Cryptosuite,
) -> (Value, String) {
    let holder = wallet.key(KeySpec::Ed25519);
    let mut vp = json!({
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": credentials,
    });
    if let Some(member) = holder_member {
        vp["holder"] = if member == "self" {
            holder.public_key.did_key()
        } else {
            member.to_owned()
        }
        .into();
    }
    let signed = wallet
        .sign(
            &vp,
            &holder,
            &ProofOptions::authentication(suite, "chal-15", Some("verifier.example".into())),
        )
        .await;
    (signed, holder.public_key.did_key())
}

fn vp_options() -> Value {
    json!({"challenge": "chal-15", "domain": "verifier.example"})
}

#[tokio::test]
async fn presentations_holders_strings_and_envelopes() {
    let (h, _anchors) = server(&[]).await;
    let wallet = Wallet::new();
    let issuer = wallet.key(KeySpec::P256);
    let vc = wallet
        .sign(
            &credential(&issuer.public_key.did_key()),
            &issuer,
            &ProofOptions::assertion(Cryptosuite::EcdsaRdfc2019),
        )
        .await;

    // A presentation without `holder`: its proof is checked by its verification method.
    let (vp, holder) = presentation(&wallet, None, json!([vc]), Cryptosuite::EddsaRdfc2022).await;
    let (status, body) = verify_presentation(&h, vp.clone(), vp_options()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true);
    assert_eq!(body["details"]["controller"], holder);
    assert_eq!(body["details"]["controllerChecked"], false);
    assert_eq!(body["details"]["credentials"].as_array().unwrap().len(), 1);
    // Its challenge still counts.
    let (status, body) = verify_presentation(
        &h,
        vp.clone(),
        json!({"challenge": "other", "domain": "verifier.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("`challenge`"), "{body}");
    // A holder that names itself is checked; one that names someone else is refused,
    // naming the member without its value.
    let (vp, _) = presentation(
        &wallet,
        Some("self"),
        json!([vc]),
        Cryptosuite::EddsaRdfc2022,
    )
    .await;
    let (status, body) = verify_presentation(&h, vp, vp_options()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["details"]["controllerChecked"], true);
    let (vp, _) = presentation(
        &wallet,
        Some("did:example:someone-else"),
        json!([vc]),
        Cryptosuite::EddsaRdfc2022,
    )
    .await;
    let (status, body) = verify_presentation(&h, vp, vp_options()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body);
    assert!(
        message.contains("`holder` is not the controller"),
        "{message}"
    );
    assert!(!message.contains("someone-else"), "{message}");

    // The credential as JSON text: refused, at the top and inside a presentation.
    let (status, body) = verify_credential(&h, Value::String(vc.to_string()), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("string holding JSON"), "{body}");
    let (vp, _) = presentation(
        &wallet,
        None,
        json!([vc.to_string()]),
        Cryptosuite::EddsaJcs2022,
    )
    .await;
    let (status, body) = verify_presentation(&h, vp, vp_options()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body);
    assert!(
        message.contains("verifiableCredential[0]") && message.contains("text form"),
        "{message}"
    );

    // An enveloped vc+jwt: verified with the VCDM context, refused with `@context: []`.
    let jwt = vc_jwt::issue_vc_jwt(
        &wallet.signer,
        &issuer,
        &credential(&issuer.public_key.did_key()),
        KeyHint::Kid,
    )
    .await
    .unwrap();
    let envelope = |context: Value| {
        json!({"@context": context, "type": "EnvelopedVerifiableCredential",
               "id": format!("data:application/vc+jwt,{jwt}")})
    };
    let (status, body) = verify_credential(&h, envelope(json!([V2])), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["format"],
        "VC-JWT (VCDM 2.0, vc+jwt) in an EnvelopedVerifiableCredential"
    );
    let (status, body) = verify_credential(&h, envelope(json!([])), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains(".@context:"), "{body}");
    // Inside a presentation, the same.
    let (vp, _) = presentation(
        &wallet,
        None,
        json!([envelope(json!([V2]))]),
        Cryptosuite::EddsaRdfc2022,
    )
    .await;
    let (status, body) = verify_presentation(&h, vp, vp_options()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (vp, _) = presentation(
        &wallet,
        None,
        json!([envelope(json!([]))]),
        Cryptosuite::EddsaJcs2022,
    )
    .await;
    let (status, body) = verify_presentation(&h, vp, vp_options()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains(".@context:"), "{body}");

    // Each endpoint verifies what it is for.
    let (status, body) = verify_credential(&h, envelope(json!([V2])), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = verify_presentation(&h, envelope(json!([V2])), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("use /credentials/verify"), "{body}");
    h.stop().await;
}

#[tokio::test]
async fn proof_sets_and_chains() {
    let (h, _anchors) = server(&[]).await;
    // Made by digitalbazaar's libraries.
    let out = tempfile::tempdir().unwrap();
    node(
        interop("di").join("proofset.mjs"),
        &[out.path().to_str().unwrap()],
    )
    .unwrap();
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(out.path().join(name)).unwrap()).unwrap()
    };
    for name in ["vc-proof-set.json", "vc-proof-chain.json"] {
        let (status, body) = verify_credential(&h, read(name), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["details"]["proofs"], 2, "{name}");
        assert_eq!(body["details"]["controllerChecked"], true, "{name}");
    }
    let (status, body) = verify_credential(&h, read("vc-proof-chain-broken.json"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("proof 1 of 2"), "{body}");

    // Made by Inkan's signer (the formats crate over a device): a set and a chain.
    let wallet = Wallet::new();
    let issuer = wallet.key(KeySpec::Ed25519);
    let witness = wallet.key(KeySpec::P256);
    let first = wallet
        .sign(
            &credential(&issuer.public_key.did_key()),
            &issuer,
            &ProofOptions {
                id: Some("urn:uuid:0c07c1ce-57cb-41af-bef2-1b932b986873".into()),
                ..ProofOptions::assertion(Cryptosuite::EddsaRdfc2022)
            },
        )
        .await;
    let set = data_integrity::add_proof(
        &first,
        &wallet.signer,
        &witness,
        &ProofOptions::assertion(Cryptosuite::EcdsaRdfc2019),
    )
    .await
    .unwrap();
    let chain = data_integrity::add_proof(
        &first,
        &wallet.signer,
        &witness,
        &ProofOptions {
            previous_proof: vec!["urn:uuid:0c07c1ce-57cb-41af-bef2-1b932b986873".into()],
            ..ProofOptions::assertion(Cryptosuite::EcdsaRdfc2019)
        },
    )
    .await
    .unwrap();
    for (what, document) in [("set", &set), ("chain", &chain)] {
        let (status, body) = verify_credential(&h, document.clone(), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
        assert_eq!(body["details"]["proofs"], 2);
    }
    // digitalbazaar's verifier checks Inkan's proof set (it has no proof chains).
    let file = out.path().join("inkan-proof-set.json");
    std::fs::write(&file, set.to_string()).unwrap();
    node(interop("di").join("verify.mjs"), &[file.to_str().unwrap()]).unwrap();
    // A witness proof swapped into the chain's place: refused.
    let mut broken = chain.clone();
    broken["proof"][1] = set["proof"][1].clone();
    broken["proof"][1]["previousProof"] = "urn:uuid:0c07c1ce-57cb-41af-bef2-1b932b986873".into();
    let (status, body) = verify_credential(&h, broken, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("proof 1 of 2"), "{body}");
    h.stop().await;
}

#[tokio::test]
async fn checks_are_what_the_caller_asks() {
    let (h, _anchors) = server(&[]).await;
    let wallet = Wallet::new();
    let issuer = wallet.key(KeySpec::Ed25519);
    let mut expired = credential(&issuer.public_key.did_key());
    expired["validUntil"] = "2026-01-01T00:00:00Z".into();
    let expired = wallet
        .sign(
            &expired,
            &issuer,
            &ProofOptions::assertion(Cryptosuite::EddsaRdfc2022),
        )
        .await;
    let current = wallet
        .sign(
            &credential(&issuer.public_key.did_key()),
            &issuer,
            &ProofOptions::assertion(Cryptosuite::EddsaRdfc2022),
        )
        .await;

    // The default: proof and validity period, both listed.
    let (status, body) = verify_credential(&h, current.clone(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"], json!(["proof", "validityPeriod"]));
    let (status, body) = verify_credential(&h, expired.clone(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("expired"), "{body}");
    // Proof only: the expired credential's proof verifies, and only that is claimed.
    let (status, body) = verify_credential(&h, expired.clone(), json!({"checks": ["proof"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"], json!(["proof"]));
    let (status, body) = verify_credential(
        &h,
        expired.clone(),
        json!({"checks": ["proof", "validityPeriod"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("expired"), "{body}");
    // A tampered credential fails whatever is asked.
    let mut tampered = expired.clone();
    tampered["credentialSubject"]["degree"]["name"] = "Doctor".into();
    let (status, _) = verify_credential(&h, tampered, json!({"checks": ["proof"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An unknown check is named; a name that is not an identifier is not echoed.
    let (status, body) = verify_credential(
        &h,
        current.clone(),
        json!({"checks": ["proof", "credentialStatus"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body);
    assert!(
        message.contains("options.checks: `credentialStatus` is not a check"),
        "{message}"
    );
    let (status, body) = verify_credential(
        &h,
        current,
        json!({"checks": ["<script>alert(1)</script>"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = error(&body);
    assert!(
        message.contains("options.checks") && !message.contains("script"),
        "{message}"
    );
    // An expired vc+jwt in its envelope: the same.
    let mut expired_jwt = credential(&issuer.public_key.did_key());
    expired_jwt["validUntil"] = "2026-01-01T00:00:00Z".into();
    let mut jwt_key = issuer.clone();
    jwt_key.kid = Some(data_integrity::did_key_verification_method(
        &issuer.public_key,
    ));
    let jwt = vc_jwt::issue_vc_jwt(&wallet.signer, &jwt_key, &expired_jwt, KeyHint::Kid)
        .await
        .unwrap();
    let enveloped = json!({"@context": [V2], "type": "EnvelopedVerifiableCredential",
                           "id": format!("data:application/vc+jwt,{jwt}")});
    let (status, body) = verify_credential(&h, enveloped.clone(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("expired"), "{body}");
    let (status, body) = verify_credential(&h, enveloped, json!({"checks": ["proof"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"], json!(["proof"]));
    // On presentations too.
    let (vp, _) = presentation(&wallet, None, json!([expired]), Cryptosuite::EddsaRdfc2022).await;
    let (status, body) = verify_presentation(&h, vp.clone(), vp_options()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error(&body).contains("credential 0 of the presentation"),
        "{body}"
    );
    let mut options = vp_options();
    options["checks"] = json!(["proof"]);
    let (status, body) = verify_presentation(&h, vp, options).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"], json!(["proof"]));
    h.stop().await;
}

#[tokio::test]
async fn an_enveloped_vcdm_11_presentation_verifies_with_its_credentials() {
    let (h, _anchors) = server(&[]).await;
    let wallet = Wallet::new();
    let issuer = wallet.key(KeySpec::P256);
    let holder = wallet.key(KeySpec::Ed25519);
    let vc11 = json!({
        "@context": [V1],
        "type": ["VerifiableCredential"],
        "issuer": issuer.public_key.did_key(),
        "issuanceDate": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": holder.public_key.did_key(), "name": "Hanako"}
    });
    let vc_jwt = vc_jwt::issue_vc_jwt_v11(&wallet.signer, &issuer, &vc11, KeyHint::Kid)
        .await
        .unwrap();
    let vp_jwt = |credential: String, nonce: &str| {
        let claims = json!({
            "iss": holder.public_key.did_key(),
            "aud": "verifier.example",
            "nonce": nonce,
            "iat": h.now_seconds() - 10,
            "vp": {"@context": [V1], "type": ["VerifiablePresentation"],
                   "verifiableCredential": [credential]}
        });
        let holder = holder.clone();
        let signer = &wallet.signer;
        async move {
            sign_compact(
                signer,
                &holder,
                Some("JWT"),
                KeyHint::Kid,
                &Map::new(),
                claims.to_string().as_bytes(),
            )
            .await
            .unwrap()
        }
    };
    let envelope = |token: String| {
        json!({"@context": [V2], "type": "EnvelopedVerifiablePresentation",
               "id": format!("data:application/vp+jwt,{token}")})
    };
    let token = vp_jwt(vc_jwt.clone(), "chal-15").await;
    let (status, body) = verify_presentation(&h, envelope(token.clone()), vp_options()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["format"],
        "VP-JWT (VCDM 1.1, jwt_vp_json) in an EnvelopedVerifiablePresentation"
    );
    assert_eq!(
        body["details"]["credentials"][0]["format"],
        "VC-JWT (VCDM 1.1, jwt_vc_json)"
    );
    // The challenge is the JWT's nonce: another is refused.
    let (status, body) = verify_presentation(
        &h,
        envelope(token),
        json!({"challenge": "other", "domain": "verifier.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("`nonce`"), "{body}");
    // A credential inside whose signature was changed: refused.
    let mut parts: Vec<String> = vc_jwt.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let token = vp_jwt(parts.join("."), "chal-15").await;
    let (status, body) = verify_presentation(&h, envelope(token), vp_options()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error(&body).contains("credential 0 of the presentation"),
        "{body}"
    );
    h.stop().await;
}

/// The JWK of a device key (for `TestCa`).
fn jwk(key: &KeyRef) -> Value {
    key.public_key.to_jwk()
}

async fn mdoc(wallet: &Wallet, issuer: &KeyRef, now: i64) -> String {
    let holder = wallet.key(KeySpec::P256);
    let request = inkan_formats::mdoc::IssueRequest {
        doc_type: "org.iso.18013.5.1.mDL".into(),
        namespaces: vec![(
            "org.iso.18013.5.1".into(),
            vec![(
                "family_name".into(),
                inkan_formats::mdoc::cbor::from_json(&json!("Sato")).unwrap(),
            )],
        )],
        device_key: holder.public_key.clone(),
        validity: inkan_formats::mdoc::ValidityInfo {
            signed: now - 60,
            valid_from: now - 60,
            valid_until: now + 86_400,
            expected_update: None,
        },
        status: None,
    };
    let issued =
        inkan_formats::mdoc::issue(&wallet.signer, issuer, &request, &mut rand_core::OsRng)
            .await
            .unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(issued.to_bytes().unwrap())
}

#[tokio::test]
async fn issuer_certificates_need_a_configured_anchor() {
    let iaca = TestCa::new("Inkan Test IACA");
    let issuing_ca = TestCa::new("Inkan Test Issuing CA");
    let (h, _anchors) = server(&[&iaca, &issuing_ca]).await;
    let now = h.now_seconds();
    let wallet = Wallet::new();

    // An mdoc under the configured IACA: verified, issuer authenticated.
    let mut issuer = wallet.key(KeySpec::P256);
    issuer.certificate_chain =
        vec![iaca.certify_document_signer(&jwk(&issuer), "Inkan Test Document Signer")];
    let (status, body) =
        verify_credential(&h, mdoc(&wallet, &issuer, now).await.into(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true);
    assert_eq!(body["issuerTrust"], "authenticated");
    assert_eq!(body["details"]["issuerTrust"]["status"], "authenticated");

    // Under an IACA the server does not know: the proof holds, the issuer is
    // unauthenticated, and that is not a verified credential.
    let stranger = TestCa::new("Some Other IACA");
    let mut other = wallet.key(KeySpec::P256);
    other.certificate_chain =
        vec![stranger.certify_document_signer(&jwk(&other), "Inkan Test Document Signer")];
    let (status, body) =
        verify_credential(&h, mdoc(&wallet, &other, now).await.into(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["verified"], false);
    assert_eq!(body["issuerTrust"], "unauthenticated");
    assert!(
        error(&body).starts_with("the issuer is unauthenticated"),
        "{body}"
    );
    assert_eq!(body["format"], "mdoc IssuerSigned");

    // Under a self-made certificate naming the configured IACA: refused as not signed by it.
    let forger = TestCa::new("Inkan Test IACA");
    let mut forged = wallet.key(KeySpec::P256);
    forged.certificate_chain =
        vec![forger.certify_document_signer(&jwk(&forged), "Inkan Test Document Signer")];
    let (status, body) =
        verify_credential(&h, mdoc(&wallet, &forged, now).await.into(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.get("issuerTrust").is_none(), "{body}");
    assert!(error(&body).contains("did not sign"), "{body}");

    // Its certificate altered: the same.
    let mut altered = issuer.clone();
    let mut cert = altered.certificate_chain[0].clone();
    let at = cert.windows(8).position(|w| w == b"Document").unwrap();
    cert[at] = b'd';
    altered.certificate_chain = vec![cert];
    let (status, body) =
        verify_credential(&h, mdoc(&wallet, &altered, now).await.into(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("did not sign"), "{body}");

    // A document signer certificate without the mdoc extended key usage.
    let mut plain = wallet.key(KeySpec::P256);
    let pem = iaca.certify(&jwk(&plain), "Inkan Test Plain Signer", 7, None);
    plain.certificate_chain = inkan_device::cert::CertificateChain::parse(pem.as_bytes())
        .unwrap()
        .to_der_list();
    let (status, body) =
        verify_credential(&h, mdoc(&wallet, &plain, now).await.into(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("1.0.18013.5.1.2"), "{body}");

    // An SD-JWT VC with `x5c`: authenticated by its issuing CA, unauthenticated otherwise.
    use inkan_formats::jose::sd_jwt::{SdJwtVcIssue, issue_sd_jwt_vc};
    let sd_jwt = |key: KeyRef| {
        let signer = &wallet.signer;
        async move {
            issue_sd_jwt_vc(
                signer,
                &key,
                &SdJwtVcIssue {
                    vct: "https://credentials.example/identity".into(),
                    issuer: Some("https://issuer.example".into()),
                    issued_at: Some(now - 60),
                    not_before: None,
                    expires_at: Some(now + 86_400),
                    holder_key: None,
                    status: None,
                    claims: json!({"given_name": "Hanako"}),
                    selectively_disclosable: vec!["/given_name".into()],
                    decoys_per_object: 0,
                    hint: KeyHint::X5c,
                },
                &mut rand_core::OsRng,
            )
            .await
            .unwrap()
            .serialized
        }
    };
    let mut x5c_issuer = wallet.key(KeySpec::P256);
    let pem = issuing_ca.certify(&jwk(&x5c_issuer), "Inkan Test SD-JWT Issuer", 8, None);
    x5c_issuer.certificate_chain = inkan_device::cert::CertificateChain::parse(pem.as_bytes())
        .unwrap()
        .to_der_list();
    let (status, body) = verify_credential(&h, sd_jwt(x5c_issuer).await.into(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["issuerTrust"], "authenticated");
    let mut unknown = wallet.key(KeySpec::P256);
    let pem = stranger.certify(&jwk(&unknown), "Inkan Test SD-JWT Issuer", 9, None);
    unknown.certificate_chain = inkan_device::cert::CertificateChain::parse(pem.as_bytes())
        .unwrap()
        .to_der_list();
    let (status, body) = verify_credential(&h, sd_jwt(unknown).await.into(), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["issuerTrust"], "unauthenticated");
    h.stop().await;

    // A server without anchors authenticates no such issuer.
    let (h, _anchors) = server(&[]).await;
    let (status, body) = verify_credential(
        &h,
        mdoc(&wallet, &issuer, h.now_seconds()).await.into(),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["issuerTrust"], "unauthenticated");
    assert!(error(&body).contains("no trust anchor"), "{body}");
    h.stop().await;
}

/// VC Data Integrity 1.0 §4.3 and the VC API verify options (review of issue 15): a proof past
/// its `expires` is refused, a malformed one too; `expectedProofPurpose` is honoured; a
/// credential proof bound to a `domain` verifies with the caller's expected domain, and is
/// refused with another.
#[tokio::test]
async fn proof_expiry_purpose_and_domain() {
    let (h, _anchors) = server(&[]).await;
    let wallet = Wallet::new();
    let issuer = wallet.key(KeySpec::Ed25519);
    let document = credential(&issuer.public_key.did_key());
    let sign = |expires: Option<&str>, domain: Option<&str>| {
        let options = ProofOptions {
            expires: expires.map(str::to_owned),
            domain: domain.map(str::to_owned),
            ..ProofOptions::assertion(Cryptosuite::EddsaRdfc2022)
        };
        let (wallet, issuer, document) = (&wallet, &issuer, &document);
        async move { wallet.sign(document, issuer, &options).await }
    };

    let fresh = sign(Some("2099-01-01T00:00:00Z"), None).await;
    let (status, body) = verify_credential(&h, fresh.clone(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stale = sign(Some("2026-01-01T00:00:00Z"), None).await;
    let (status, body) = verify_credential(&h, stale, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("expired"), "{body}");
    // An `expires` without a time zone is not a dateTimeStamp (the signature is not reached).
    let mut no_offset = fresh.clone();
    no_offset["proof"]["expires"] = "2099-01-01T00:00:00".into();
    let (status, body) = verify_credential(&h, no_offset, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("expires"), "{body}");

    // The purpose the caller expects.
    let (status, body) = verify_credential(
        &h,
        fresh.clone(),
        json!({"expectedProofPurpose": "assertionMethod"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = verify_credential(
        &h,
        fresh.clone(),
        json!({"expectedProofPurpose": "authentication"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("proof purpose"), "{body}");
    let (status, body) = verify_credential(
        &h,
        fresh,
        json!({"expectedProofPurpose": "capabilityDelegation"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("expectedProofPurpose"), "{body}");

    // A credential proof bound to a domain: verified as it is, and with that domain; refused
    // with another.
    let bound = sign(None, Some("https://verifier.example")).await;
    for options in [json!({}), json!({"domain": "https://verifier.example"})] {
        let (status, body) = verify_credential(&h, bound.clone(), options).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) =
        verify_credential(&h, bound, json!({"domain": "https://other.example"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error(&body).contains("domain"), "{body}");
    h.stop().await;
}
