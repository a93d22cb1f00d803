//! End-to-end holder flows (criteria 2.2.3(2), 2.2.3(3)A): an issuer's system client
//! issues an SD-JWT VC bound to a holder's Inkan key; the holder prepares a presentation
//! (seeing what is disclosed and to whom), authorises exactly its hash with PIN and OTP
//! encrypted to the activation key, and signs it. The same for a Data Integrity VP and an
//! OpenID4VCI key proof. Independent verifiers (npm `@sd-jwt/sd-jwt-vc`, `jose`,
//! digitalbazaar) accept every output; a document other than the prepared one is refused.
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::interop::{interop, node};
use common::server::{Harness, Holder, authorize, key, system_client};
use inkan_log::entry::EntryKind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PIN: &str = "246810";
const SETTINGS: &str = "access_token_seconds = 1800\nidle_timeout_minutes = 60";

/// Prepare → authorise (PIN + OTP in a JWE) → sign. Returns the signed document and the
/// prepare response.
async fn holder_sign(
    h: &Harness,
    holder: &Holder,
    activation_key: &Value,
    document: Value,
) -> (Value, Value) {
    let prepared = h
        .call(
            &holder.session,
            Method::POST,
            "/v1/holder/prepare",
            Some(json!({"credentialID": holder.key_id, "document": document})),
        )
        .await;
    assert_eq!(
        prepared.status(),
        StatusCode::OK,
        "{}",
        prepared.text().await.unwrap()
    );
    let prepared: Value = prepared.json().await.unwrap();
    let sad = authorize(h, holder, activation_key, &prepared, PIN).await;
    let signed = h
        .call(
            &holder.session,
            Method::POST,
            "/v1/holder/sign",
            Some(json!({
                "credentialID": holder.key_id, "document": document,
                "issuedAt": prepared["issuedAt"], "SAD": sad,
            })),
        )
        .await;
    assert_eq!(
        signed.status(),
        StatusCode::OK,
        "{}",
        signed.text().await.unwrap()
    );
    let signed: Value = signed.json().await.unwrap();
    assert_eq!(signed["receipts"].as_array().unwrap().len(), 1);
    (signed["document"].clone(), prepared)
}

async fn holder_flows(engine: Engine) {
    let h = Harness::start(engine, SETTINGS).await;
    let (_, operator) = h.operator().await;
    // The issuer organisation, its e-seal key and its system client (private_key_jwt + DPoP).
    let (issuer, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal_key, seal_jwk) = key(&h, &clerk_session, "ES256", "135791").await;
    let issuer_client = system_client(&h, &operator, &issuer, &seal_key).await;

    // The holder and their key.
    let (_, account) = h.subscriber(&operator, "holder", "hana").await;
    let session = h.login(&account).await;
    let (key_id, jwk) = key(&h, &session, "ES256", PIN).await;
    let holder = Holder {
        account,
        session,
        key_id,
        jwk,
    };
    let info: Value = h
        .http
        .get(format!("{}/csc/v2/info", h.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let activation_key = info["signatureActivation"]["activationKey"].clone();
    let work = tempfile::tempdir().unwrap();

    // 1. SD-JWT VC issued to the holder's key, presented with a KB-JWT.
    let issued = h
        .call(&issuer_client, Method::POST, "/v1/credentials/sd-jwt", Some(json!({
            "credentialID": seal_key, "vct": "https://credentials.example.com/identity_credential",
            "claims": {"given_name": "Hana", "family_name": "Sato", "birthdate": "1990-01-01"},
            "disclosable": ["/given_name", "/family_name", "/birthdate"],
            "holderJwk": holder.jwk,
        })))
        .await;
    assert_eq!(
        issued.status(),
        StatusCode::CREATED,
        "{}",
        issued.text().await.unwrap()
    );
    let credential = issued.json::<Value>().await.unwrap()["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    let document = json!({
        "format": "dc+sd-jwt", "credential": credential, "disclose": ["/given_name"],
        "audience": "https://verifier.example", "nonce": "n-0S6_WzA2Mj",
    });
    let (presented, prepared) = holder_sign(&h, &holder, &activation_key, document.clone()).await;
    assert_eq!(prepared["summary"]["audience"], "https://verifier.example");
    assert_eq!(prepared["summary"]["disclosed"], json!(["/given_name"]));
    let presented = presented.as_str().unwrap();
    assert_eq!(
        presented.matches('~').count(),
        2,
        "one disclosure and the KB-JWT"
    );
    let token_file = work.path().join("sd.txt");
    let jwk_file = work.path().join("issuer.jwk");
    std::fs::write(&token_file, presented).unwrap();
    std::fs::write(&jwk_file, seal_jwk.to_string()).unwrap();
    let verified = node(
        interop("jose").join("verify.mjs"),
        &[
            "sd-jwt",
            token_file.to_str().unwrap(),
            jwk_file.to_str().unwrap(),
            "--nonce",
            "n-0S6_WzA2Mj",
            "--aud",
            "https://verifier.example",
        ],
    );
    assert!(verified.is_ok(), "{verified:?}");
    assert!(verified.unwrap().contains("Hana"));

    // The SAD covers only the prepared presentation: disclosing more, or to another verifier,
    // with it is refused.
    let prepared = h
        .call(
            &holder.session,
            Method::POST,
            "/v1/holder/prepare",
            Some(json!({"credentialID": holder.key_id, "document": document})),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let sad = authorize(&h, &holder, &activation_key, &prepared, PIN).await;
    let mut more = document.clone();
    more["disclose"] = json!(["/given_name", "/birthdate"]);
    let refused = h
        .call(&holder.session, Method::POST, "/v1/holder/sign", Some(json!({
            "credentialID": holder.key_id, "document": more, "issuedAt": prepared["issuedAt"], "SAD": sad,
        })))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // 2. An OpenID4VCI key proof.
    let (proof, _) = holder_sign(&h, &holder, &activation_key, json!({
        "format": "openid4vci-proof", "audience": "https://issuer.example", "nonce": "c-nonce-1",
    }))
    .await;
    std::fs::write(work.path().join("proof.jwt"), proof.as_str().unwrap()).unwrap();
    let verified = node(
        interop("jose").join("verify.mjs"),
        &[
            "jwt",
            work.path().join("proof.jwt").to_str().unwrap(),
            "embedded",
            "--typ",
            "openid4vci-proof+jwt",
            "--aud",
            "https://issuer.example",
            "--nonce",
            "c-nonce-1",
        ],
    );
    assert!(verified.is_ok(), "{verified:?}");

    // 3. A Data Integrity VP over a Data Integrity VC the organisation issued.
    let vc = h
        .call(&issuer_client, Method::POST, "/credentials/issue", Some(json!({
            "credential": {
                "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
                "type": ["VerifiableCredential", "ExampleAlumniCredential"],
                "credentialSubject": {"id": "did:example:hana", "alumniOf": "Example University"}
            },
            "options": {"credentialId": seal_key, "format": "ldp_vc"},
        })))
        .await;
    assert_eq!(vc.status(), StatusCode::CREATED);
    let vc = vc.json::<Value>().await.unwrap()["verifiableCredential"].clone();
    let (vp, _) = holder_sign(
        &h,
        &holder,
        &activation_key,
        json!({
            "format": "ldp_vp",
            "presentation": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiablePresentation"],
                "verifiableCredential": [vc],
            },
            "challenge": "chal-42", "domain": "verifier.example",
        }),
    )
    .await;
    std::fs::write(
        work.path().join("vp.json"),
        serde_json::to_vec(&vp).unwrap(),
    )
    .unwrap();
    let verified = node(
        interop("di").join("verify.mjs"),
        &[
            work.path().join("vp.json").to_str().unwrap(),
            "--challenge",
            "chal-42",
            "--domain",
            "verifier.example",
        ],
    );
    assert!(verified.is_ok(), "{verified:?}");
    let ours = h
        .post_json("/presentations/verify", json!({"verifiablePresentation": vp, "options": {"challenge": "chal-42", "domain": "verifier.example"}}))
        .await;
    assert_eq!(
        ours.status(),
        StatusCode::OK,
        "{}",
        ours.text().await.unwrap()
    );

    // A presentation speaks only for the key's own holder: another `holder` is refused before
    // anything is authorised, and the summary names the holder and any other member shown.
    let prepare = |presentation: Value| {
        h.call(
            &holder.session,
            Method::POST,
            "/v1/holder/prepare",
            Some(json!({"credentialID": holder.key_id, "document": {
                "format": "ldp_vp", "presentation": presentation,
                "challenge": "chal-42", "domain": "verifier.example"}})),
        )
    };
    let base = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": [vc],
    });
    let mut other_holder = base.clone();
    other_holder["holder"] = json!("did:example:someone-else");
    assert_eq!(
        prepare(other_holder).await.status(),
        StatusCode::BAD_REQUEST
    );
    let mut with_id = base.clone();
    with_id["id"] = json!("urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5");
    let prepared: Value = prepare(with_id).await.json().await.unwrap();
    assert_eq!(prepared["summary"]["otherMembers"], json!(["id"]));
    // Every claim of a presented credential is shown: it is disclosed whole.
    assert_eq!(
        prepared["summary"]["credentials"][0]["claims"],
        vc["credentialSubject"]
    );
    assert!(vc["credentialSubject"].is_object());
    // A credential Inkan cannot read is refused; a claim too long to show stands as its
    // digest and size.
    let mut enveloped = base.clone();
    enveloped["verifiableCredential"] = json!([{
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "EnvelopedVerifiableCredential",
        "id": "data:application/vc+jwt,eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    }]);
    assert_eq!(prepare(enveloped).await.status(), StatusCode::BAD_REQUEST);
    let mut long = base.clone();
    long["verifiableCredential"][0]["credentialSubject"]["photo"] = json!("x".repeat(600));
    let prepared: Value = prepare(long).await.json().await.unwrap();
    let photo = prepared["summary"]["credentials"][0]["claims"]["photo"]
        .as_str()
        .unwrap();
    assert!(
        photo.starts_with("(not shown here: 602 bytes, sha-256:"),
        "{photo}"
    );
    // No holder given: Inkan writes the key's own did:key.
    assert_eq!(prepared["summary"]["holder"], Value::Null);

    // Every holder signature is in the log with its SAD as the approval.
    let made: Vec<_> = h
        .log_entries()
        .await
        .into_iter()
        .filter(|e| {
            e.kind == EntryKind::SignatureMade
                && e.key_id.as_deref() == Some(holder.key_id.as_str())
        })
        .collect();
    assert_eq!(made.len(), 3);
    assert!(
        made.iter()
            .all(|e| e.approval.as_deref().unwrap().starts_with("sad_"))
    );
    h.stop().await;
}

#[tokio::test]
async fn holder_flows_sqlite() {
    holder_flows(Engine::SqliteFile).await;
}

#[tokio::test]
async fn holder_flows_postgres() {
    holder_flows(Engine::Postgres).await;
}
