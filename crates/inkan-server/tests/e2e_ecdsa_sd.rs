//! End-to-end `ecdsa-sd-2023` (issue 15 point 5) against a live server over TLS: an issuer's
//! system client gets base proofs through `/credentials/issue` with `mandatoryPointers` (the
//! base signature made by the device through the signing module — the software token and
//! SoftHSM), holders derive disclosures through `/credentials/derive`, and `/credentials/verify`
//! checks them. digitalbazaar's `@digitalbazaar/ecdsa-sd-2023-cryptosuite`
//! (`interop/di/sd.mjs`) derives from Inkan's base proofs and verifies Inkan's derivations;
//! its own base proofs, with its own key, are derived and verified by Inkan. Tampered
//! disclosures are refused by both.
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::interop::{interop, node};
use common::server::{Harness, Session, key, softhsm_device, system_client};
use inkan_formats::data_integrity::ecdsa_sd;
use inkan_log::entry::{Entry, EntryKind};
use inkan_log::receipt::Receipt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::path::Path;

/// The specification's windsurf racing example as a VCDM 2.0 credential; its terms come from
/// the examples context's `@vocab`.
fn windsurf() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2",
                     "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential"],
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {
            "sailNumber": "Earth101",
            "sails": [
                {"size": 5.5, "sailName": "Kihei", "year": 2023},
                {"size": 6.1, "sailName": "Lahaina", "year": 2023},
                {"size": 7.0, "sailName": "Lahaina", "year": 2020},
                {"size": 7.8, "sailName": "Lahaina", "year": 2023}
            ],
            "boards": [
                {"boardName": "CompFoil170", "brand": "Wailea", "year": 2022},
                {"boardName": "Kanaha Custom", "brand": "Wailea", "year": 2019}
            ]
        }
    })
}

const MANDATORY: [&str; 5] = [
    "/issuer",
    "/validFrom",
    "/credentialSubject/sailNumber",
    "/credentialSubject/sails/1",
    "/credentialSubject/boards/0/year",
];
const SELECTIVE: [&str; 2] = ["/credentialSubject/sails/2", "/credentialSubject/boards/1"];

/// An issuer organisation: a holder-side user session, a P-256 e-seal key and its client.
struct Issuer {
    operator: Session,
    subscriber: String,
    user: Session,
    key_id: String,
    client: Session,
}

async fn issuer(h: &Harness) -> Issuer {
    let (_, operator) = h.operator().await;
    let (subscriber, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let user = h.login(&clerk).await;
    let (key_id, _) = key(h, &user, "ES256", "135791").await;
    let client = system_client(h, &operator, &subscriber, &key_id).await;
    Issuer {
        operator,
        subscriber,
        user,
        key_id,
        client,
    }
}

async fn issue(h: &Harness, who: &Issuer, key_id: &str, mandatory: &[&str]) -> reqwest::Response {
    h.call(
        &who.client,
        Method::POST,
        "/credentials/issue",
        Some(json!({
            "credential": windsurf(),
            "options": {"credentialId": key_id, "cryptosuite": "ecdsa-sd-2023",
                        "mandatoryPointers": mandatory},
        })),
    )
    .await
}

async fn derive(
    h: &Harness,
    session: &Session,
    vc: &Value,
    pointers: &[&str],
) -> reqwest::Response {
    h.call(
        session,
        Method::POST,
        "/credentials/derive",
        Some(json!({"verifiableCredential": vc, "options": {"selectivePointers": pointers}})),
    )
    .await
}

/// `/credentials/verify`: (status, body).
async fn verify(h: &Harness, vc: &Value) -> (StatusCode, Value) {
    let response = h
        .post_json("/credentials/verify", json!({"verifiableCredential": vc}))
        .await;
    (response.status(), response.json().await.unwrap())
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn read(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `node interop/di/sd.mjs ARGS`.
fn sd_mjs(args: &[&str]) -> Result<String, String> {
    node(interop("di").join("sd.mjs"), args)
}

/// Copies of a derived credential that must not verify: a mandatory value changed, a
/// disclosed value changed, the proof value changed, the statement signatures reordered in the
/// proof, the disclosed sails reordered with one changed.
fn tampered(derived: &Value) -> Vec<Value> {
    let mut mandatory = derived.clone();
    mandatory["credentialSubject"]["sailNumber"] = "Mars202".into();
    let mut selective = derived.clone();
    selective["credentialSubject"]["sails"][1]["year"] = 2024.into();
    let mut signature = derived.clone();
    let value: Vec<char> = signature["proof"]["proofValue"]
        .as_str()
        .unwrap()
        .chars()
        .collect();
    let mut value = value;
    let at = value.len() / 2;
    value[at] = if value[at] == 'A' { 'B' } else { 'A' };
    signature["proof"]["proofValue"] = value.into_iter().collect::<String>().into();
    let mut reordered = derived.clone();
    let mut proof =
        ecdsa_sd::DerivedProofValue::parse(derived["proof"]["proofValue"].as_str().unwrap())
            .unwrap();
    proof.signatures.swap(0, 1);
    reordered["proof"]["proofValue"] = proof.serialize().unwrap().into();
    let mut swapped = derived.clone();
    let sails = swapped["credentialSubject"]["sails"]
        .as_array_mut()
        .unwrap();
    sails.reverse();
    sails[0]["sailName"] = "Kihei".into();
    vec![mandatory, selective, signature, reordered, swapped]
}

/// Issue, derive (Inkan and the library) and verify (Inkan and the library) with the key of
/// `who`; `work` holds the files the library reads.
async fn round_trip(h: &Harness, who: &Issuer, work: &Path) {
    let issued = issue(h, who, &who.key_id, &MANDATORY).await;
    let status = issued.status();
    let body: Value = issued.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let base = body["verifiableCredential"].clone();
    assert_eq!(base["proof"]["cryptosuite"], "ecdsa-sd-2023");
    assert!(
        base["proof"]["proofValue"]
            .as_str()
            .unwrap()
            .starts_with("u2V0A")
    );
    // The base signature went through the signing module: one receipt, whose log entry
    // records the digest of exactly what the device signed.
    let receipts = body["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 1, "{body}");
    let receipt = Receipt::parse(receipts[0].as_str().unwrap()).unwrap();
    let entry = Entry::decode(&receipt.extra.clone().unwrap()).unwrap();
    assert_eq!(entry.kind, EntryKind::SignatureMade);
    assert_eq!(entry.key_id.as_deref(), Some(who.key_id.as_str()));
    let signed = ecdsa_sd::base_signing_input(&base).unwrap();
    assert_eq!(signed.len(), 32 + 35 + 32);
    assert_eq!(
        entry.digests,
        vec![format!(
            "sha-256:{}",
            hex::encode(sha2::Sha256::digest(&signed))
        )]
    );

    // A verifier is not given base proofs.
    let (status, answer) = verify(h, &base).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["errors"][0].as_str().unwrap().contains("base proof"),
        "{answer}"
    );

    // Inkan derives; Inkan and the library verify.
    let derived = derive(h, &who.user, &base, &SELECTIVE).await;
    assert_eq!(derived.status(), StatusCode::CREATED);
    let derived: Value = derived.json().await.unwrap();
    let derived = derived["verifiableCredential"].clone();
    assert_eq!(
        derived["credentialSubject"]["sails"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(derived["credentialSubject"]["sails"][0]["sailName"] == "Lahaina");
    assert_eq!(
        derived["credentialSubject"]["boards"][0],
        json!({"year": 2022})
    );
    let (status, answer) = verify(h, &derived).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["verified"], true);
    let file = write(work, "inkan-derived.json", &derived);
    sd_mjs(&["verify", &file]).unwrap();

    // The library derives from Inkan's base proof; Inkan verifies.
    let base_file = write(work, "inkan-base.json", &base);
    let lib_derived = work.join("lib-derived.json");
    let lib_derived = lib_derived.to_str().unwrap();
    let pointers = serde_json::to_string(&SELECTIVE).unwrap();
    sd_mjs(&["derive", &base_file, &pointers, lib_derived]).unwrap();
    let (status, answer) = verify(h, &read(lib_derived)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Tampered disclosures are refused by both.
    for (i, bad) in tampered(&derived).iter().enumerate() {
        let (status, answer) = verify(h, bad).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "tampered copy {i}: {answer}"
        );
        assert_eq!(answer["verified"], false);
        let file = write(work, &format!("tampered-{i}.json"), bad);
        assert!(
            sd_mjs(&["verify", &file]).is_err(),
            "the library accepted copy {i}"
        );
    }
}

async fn soft_token(engine: Engine) {
    let h = Harness::start(engine, "").await;
    let who = issuer(&h).await;
    let work = tempfile::tempdir().unwrap();
    round_trip(&h, &who, work.path()).await;

    // Who issued it and when it is valid are always mandatory: a holder cannot disclose a
    // credential without them, whatever the issuer's system asked for (review of issue 15).
    let issued = issue(&h, &who, &who.key_id, &["/credentialSubject/sailNumber"]).await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let base: Value = issued.json().await.unwrap();
    let base = base["verifiableCredential"].clone();
    let least = derive(&h, &who.user, &base, &[]).await;
    assert_eq!(least.status(), StatusCode::CREATED);
    let least: Value = least.json().await.unwrap();
    let least = &least["verifiableCredential"];
    assert_eq!(least["issuer"], base["issuer"], "{least}");
    assert_eq!(least["validFrom"], base["validFrom"], "{least}");
    assert!(least["credentialSubject"].get("sails").is_none(), "{least}");
    let (status, answer) = verify(&h, least).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Refusals name the field and never echo its value.
    let bad = issue(
        &h,
        &who,
        &who.key_id,
        &["/issuer", "/credentialSubject/secretField"],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let text = bad.text().await.unwrap();
    assert!(
        text.contains("mandatoryPointers[1]") && !text.contains("secretField"),
        "{text}"
    );
    let issued: Value = issue(&h, &who, &who.key_id, &MANDATORY)
        .await
        .json()
        .await
        .unwrap();
    let base = issued["verifiableCredential"].clone();
    let bad = derive(&h, &who.user, &base, &["/credentialSubject/hiddenThing"]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let text = bad.text().await.unwrap();
    assert!(
        text.contains("selectivePointers[0]") && !text.contains("hiddenThing"),
        "{text}"
    );
    let bad = derive(&h, &who.user, &base, &["not-a-pointer"]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(!bad.text().await.unwrap().contains("not-a-pointer"));
    // Derive is a holder service: authentication required.
    let anonymous = h
        .post_json(
            "/credentials/derive",
            json!({"verifiableCredential": base, "options": {"selectivePointers": SELECTIVE}}),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // A changed base credential is not derived from.
    let mut changed = base.clone();
    changed["credentialSubject"]["sails"][3]["year"] = 1999.into();
    let bad = derive(&h, &who.user, &changed, &SELECTIVE).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    // mandatoryPointers belong to ecdsa-sd-2023 only.
    let bad = h
        .call(
            &who.client,
            Method::POST,
            "/credentials/issue",
            Some(json!({
                "credential": windsurf(),
                "options": {"credentialId": who.key_id, "cryptosuite": "ecdsa-rdfc-2019",
                            "mandatoryPointers": ["/issuer"]},
            })),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.text()
            .await
            .unwrap()
            .contains("options.mandatoryPointers")
    );

    // The library's own base proof (its own key): Inkan derives, both verify; the library's
    // derivation verifies at Inkan.
    let unsigned = write(work.path(), "unsigned.json", &windsurf());
    let lib_base = work.path().join("lib-base.json");
    let lib_base = lib_base.to_str().unwrap();
    sd_mjs(&[
        "issue",
        &unsigned,
        &serde_json::to_string(&MANDATORY).unwrap(),
        lib_base,
    ])
    .unwrap();
    let lib_base_doc = read(lib_base);
    let lib_derived = work.path().join("lib-own-derived.json");
    let lib_derived = lib_derived.to_str().unwrap();
    sd_mjs(&[
        "derive",
        lib_base,
        &serde_json::to_string(&SELECTIVE).unwrap(),
        lib_derived,
    ])
    .unwrap();
    let (status, answer) = verify(&h, &read(lib_derived)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    for (i, bad) in tampered(&read(lib_derived)).iter().enumerate() {
        let (status, answer) = verify(&h, bad).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "tampered library copy {i}: {answer}"
        );
    }
    let derived = derive(&h, &who.user, &lib_base_doc, &SELECTIVE).await;
    assert_eq!(derived.status(), StatusCode::CREATED);
    let derived: Value = derived.json().await.unwrap();
    let derived = derived["verifiableCredential"].clone();
    let (status, answer) = verify(&h, &derived).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let file = write(work.path(), "inkan-derived-from-lib.json", &derived);
    sd_mjs(&["verify", &file]).unwrap();

    // P-384: the suite is defined for P-256.
    let (p384, _) = key(&h, &who.user, "ES384", "135791").await;
    let p384_issuer = Issuer {
        client: system_client(&h, &who.operator, &who.subscriber, &p384).await,
        key_id: p384.clone(),
        ..who
    };
    let refused = issue(&h, &p384_issuer, &p384, &MANDATORY).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("P-256"));
    h.stop().await;
}

#[tokio::test]
async fn soft_token_sqlite() {
    soft_token(Engine::SqliteFile).await;
}

#[tokio::test]
async fn soft_token_postgres() {
    soft_token(Engine::Postgres).await;
}

#[tokio::test]
async fn softhsm_base_proofs_derived_and_verified_both_ways() {
    let token_dir = tempfile::tempdir().unwrap();
    let device = softhsm_device(token_dir.path());
    let h = Harness::start_with_device(Engine::SqliteFile, "test", Some(&device), "").await;
    let who = issuer(&h).await;
    let work = tempfile::tempdir().unwrap();
    round_trip(&h, &who, work.path()).await;
    h.stop().await;
}
