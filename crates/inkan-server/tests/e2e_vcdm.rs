//! End-to-end VC Data Model conformance through the W3C VC API of a live server (TLS, the real
//! routes, an issuer's mTLS system client as the W3C test suites drive one), issue 15:
//! - every VCDM 2.0 (and 1.1) MUST the data model suite checks at issuance, as one credential
//!   that breaks it: refused with 400, problem details naming the property (never quoting its
//!   value), in both formats, and nothing signed or logged as signed; the same rules at
//!   verification and for a holder's Data Integrity presentation;
//! - valid credentials, VCDM 2.0 and 1.1, through `/credentials/issue` then
//!   `/credentials/verify`, in every format and cryptosuite;
//! - VCDM 1.1 credentials with a Data Integrity proof (the data-integrity context added)
//!   verified by digitalbazaar's `@digitalbazaar/vc`;
//! - the VC API request shapes: `options` absent or `{}`, `type: DataIntegrityProof`, the key
//!   chosen from `credential.issuer` or the client's only key, ambiguity refused.
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::interop::{interop, node};
use common::server::{Harness, Session, key, mtls_system_client};
use inkan_log::entry::EntryKind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const V2: &str = "https://www.w3.org/ns/credentials/v2";
const V2_EXAMPLES: &str = "https://www.w3.org/ns/credentials/examples/v2";
const V1: &str = "https://www.w3.org/2018/credentials/v1";
const DATA_INTEGRITY: &str = "https://w3id.org/security/data-integrity/v2";
/// Put in invalid values: no response may repeat it.
const SECRET: &str = "SECRET-7f3a9";

/// An issuer: a live server, its subscriber's keys (P-256 and Ed25519) and an mTLS system
/// client scoped to both.
struct Issuer {
    h: Harness,
    operator: Session,
    subscriber: String,
    clerk: Session,
    p256: (String, String),
    ed25519: (String, String),
    mtls: reqwest::Client,
    access: String,
}

fn did_key(jwk: &Value) -> String {
    inkan_formats::jose::public_key_from_jwk(jwk)
        .unwrap()
        .did_key()
}

async fn issuer(engine: Engine) -> Issuer {
    let h = Harness::start(engine, "").await;
    let (_, operator) = h.operator().await;
    let (subscriber, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk = h.login(&clerk).await;
    let (p256, p256_jwk) = key(&h, &clerk, "ES256", "135791").await;
    let (ed25519, ed_jwk) = key(&h, &clerk, "EdDSA", "135791").await;
    let (mtls, access) = mtls_system_client(&h, &operator, &subscriber, &[&p256, &ed25519]).await;
    Issuer {
        p256: (p256, did_key(&p256_jwk)),
        ed25519: (ed25519, did_key(&ed_jwk)),
        h,
        operator,
        subscriber,
        clerk,
        mtls,
        access,
    }
}

impl Issuer {
    async fn issue_with(
        &self,
        mtls: &reqwest::Client,
        access: &str,
        body: Value,
    ) -> (StatusCode, Value, String) {
        let response = mtls
            .post(format!("{}/credentials/issue", self.h.url))
            .bearer_auth(access)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }

    async fn issue(&self, body: Value) -> (StatusCode, Value, String) {
        self.issue_with(&self.mtls, &self.access, body).await
    }

    async fn verify(
        &self,
        path: &str,
        member: &str,
        document: Value,
        options: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .h
            .post_json(path, json!({member: document, "options": options}))
            .await;
        (response.status(), response.json().await.unwrap())
    }

    async fn signatures_logged(&self) -> usize {
        self.h
            .log_entries()
            .await
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EntryKind::SignatureRequested | EntryKind::SignatureMade
                )
            })
            .count()
    }
}

/// A valid VCDM 2.0 credential of `issuer`.
fn v2(issuer: &str) -> Value {
    json!({
        "@context": [V2, V2_EXAMPLES],
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential", "ExampleAlumniCredential"],
        "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Example University"}
    })
}

/// A valid VCDM 1.1 credential of `issuer`. Its terms come from the VCDM 2.0 examples
/// context (`@vocab`): the VCDM 1.1 examples context imports ODRL's, which is not bundled.
fn v1(issuer: &str) -> Value {
    json!({
        "@context": [V1, V2_EXAMPLES],
        "id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
        "type": ["VerifiableCredential", "AlumniCredential"],
        "issuer": issuer,
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Example University"}
    })
}

/// `base` with `member` set to `value`, or removed when `value` is null.
fn with(mut base: Value, member: &str, value: Value) -> Value {
    let object = base.as_object_mut().unwrap();
    if value.is_null() {
        object.remove(member);
    } else {
        object.insert(member.into(), value);
    }
    base
}

/// Each VCDM MUST as one credential that breaks it, and the property the refusal must name.
fn negative_cases(issuer: &str) -> Vec<(&'static str, Value, &'static str)> {
    let c = || v2(issuer);
    vec![
        (
            "@context missing",
            with(c(), "@context", Value::Null),
            "credential.@context",
        ),
        (
            "first @context not VCDM",
            with(c(), "@context", json!([V2_EXAMPLES, V2])),
            "credential.@context",
        ),
        (
            "@context item neither URL nor object",
            with(c(), "@context", json!([V2, 42])),
            "credential.@context",
        ),
        (
            "@context item not a URL",
            with(c(), "@context", json!([V2, SECRET])),
            "credential.@context[1]",
        ),
        (
            "id not a URL",
            with(c(), "id", json!(SECRET)),
            "credential.id",
        ),
        (
            "type missing",
            with(c(), "type", Value::Null),
            "credential.type",
        ),
        (
            "type without VerifiableCredential",
            with(c(), "type", json!(["ExampleAlumniCredential"])),
            "credential.type",
        ),
        (
            "type not strings",
            with(c(), "type", json!(["VerifiableCredential", {"a": 1}])),
            "credential.type[1]",
        ),
        (
            "issuer missing name",
            with(c(), "issuer", json!(SECRET)),
            "credential.issuer",
        ),
        (
            "issuer object without id",
            with(c(), "issuer", json!({"name": SECRET})),
            "credential.issuer",
        ),
        (
            "issuer id not a URL",
            with(c(), "issuer", json!({"id": SECRET})),
            "credential.issuer.id",
        ),
        (
            "credentialSubject missing",
            with(c(), "credentialSubject", Value::Null),
            "credential.credentialSubject",
        ),
        (
            "credentialSubject empty",
            with(c(), "credentialSubject", json!({})),
            "credential.credentialSubject",
        ),
        (
            "credentialSubject empty array",
            with(c(), "credentialSubject", json!([])),
            "credential.credentialSubject",
        ),
        (
            "credentialSubject item empty",
            with(c(), "credentialSubject", json!([{"alumniOf": "A"}, {}])),
            "credential.credentialSubject[1]",
        ),
        (
            "credentialSubject not an object",
            with(c(), "credentialSubject", json!(SECRET)),
            "credential.credentialSubject",
        ),
        (
            "credentialSubject.id not a URL",
            with(
                c(),
                "credentialSubject",
                json!({"id": SECRET, "alumniOf": "A"}),
            ),
            "credential.credentialSubject.id",
        ),
        (
            "validFrom not a dateTimeStamp",
            with(c(), "validFrom", json!(format!("Sat 25 Feb 2023 {SECRET}"))),
            "credential.validFrom",
        ),
        (
            "validFrom without time zone",
            with(c(), "validFrom", json!("2026-01-01T00:00:00")),
            "credential.validFrom",
        ),
        (
            "validUntil not a dateTimeStamp",
            with(c(), "validUntil", json!("2027-02-30")),
            "credential.validUntil",
        ),
        (
            "validUntil before validFrom",
            with(c(), "validUntil", json!("2025-01-01T00:00:00Z")),
            "credential.validUntil",
        ),
        (
            "credentialStatus without type",
            with(
                c(),
                "credentialStatus",
                json!({"id": "https://status.example/1#3"}),
            ),
            "credential.credentialStatus.type",
        ),
        (
            "credentialStatus id not a URL",
            with(
                c(),
                "credentialStatus",
                json!({"id": SECRET, "type": "BitstringStatusListEntry"}),
            ),
            "credential.credentialStatus.id",
        ),
        (
            "credentialSchema without id",
            with(c(), "credentialSchema", json!({"type": "JsonSchema"})),
            "credential.credentialSchema.id",
        ),
        (
            "credentialSchema without type",
            with(
                c(),
                "credentialSchema",
                json!([{"id": "https://schema.example/1"}]),
            ),
            "credential.credentialSchema[0].type",
        ),
        (
            "evidence without type",
            with(
                c(),
                "evidence",
                json!([{"id": "https://evidence.example/1"}]),
            ),
            "credential.evidence[0].type",
        ),
        (
            "termsOfUse without type",
            with(c(), "termsOfUse", json!({"id": "https://policy.example/1"})),
            "credential.termsOfUse.type",
        ),
        (
            "refreshService without type",
            with(
                c(),
                "refreshService",
                json!({"url": "https://refresh.example"}),
            ),
            "credential.refreshService.type",
        ),
        (
            "relatedResource without digest",
            with(
                c(),
                "relatedResource",
                json!([{"id": "https://r.example/a.png"}]),
            ),
            "credential.relatedResource[0]",
        ),
        (
            "name not a string or language value",
            with(c(), "name", json!(7)),
            "credential.name",
        ),
        (
            "description language value without @value",
            with(c(), "description", json!({"@language": "en"})),
            "credential.description.@value",
        ),
        (
            "VCDM 1.1 without issuanceDate",
            with(v1(issuer), "issuanceDate", Value::Null),
            "credential.issuanceDate",
        ),
        (
            "VCDM 1.1 issuanceDate not a dateTime",
            with(v1(issuer), "issuanceDate", json!(SECRET)),
            "credential.issuanceDate",
        ),
        (
            "VCDM 1.1 credentialStatus without id",
            with(
                v1(issuer),
                "credentialStatus",
                json!({"type": "StatusList2021Entry"}),
            ),
            "credential.credentialStatus.id",
        ),
    ]
}

/// Every MUST refused at issuance in both formats (400, problem details naming the property,
/// the value never repeated), at verification, and in a holder's presentation; nothing signed.
#[tokio::test]
async fn each_data_model_rule_is_refused_and_nothing_is_signed() {
    let issuer = issuer(Engine::SqliteFile).await;
    let (key_id, did) = issuer.p256.clone();
    let before = issuer.signatures_logged().await;
    for (label, credential, path) in negative_cases(&did) {
        for format in ["ldp_vc", "vc+jwt"] {
            let (status, body, text) = issuer
                .issue(json!({"credential": credential, "options": {"keyId": key_id, "format": format}}))
                .await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{label} ({format}): {text}"
            );
            let detail = body["detail"].as_str().unwrap();
            assert!(
                detail.starts_with(&format!("{path}: ")),
                "{label} ({format}): {detail}"
            );
            assert_eq!(body["error_description"], body["detail"], "{label}");
            assert_eq!(body["status"], 400, "{label}");
            assert!(
                body["type"].is_string() && body["title"].is_string(),
                "{label}: {text}"
            );
            assert!(
                !text.contains(SECRET),
                "{label} ({format}) repeats the value: {text}"
            );
            assert!(
                !text.contains("Some(") && !text.contains("None"),
                "{label}: {text}"
            );
        }
    }
    // A refusal of the validator carries the VCDM 2.0 problem type and code.
    let (_, body, _) = issuer
        .issue(json!({"credential": with(v2(&did), "credentialSubject", Value::Null), "options": {"keyId": key_id}}))
        .await;
    assert_eq!(
        body["type"],
        "https://www.w3.org/TR/vc-data-model#PARSING_ERROR"
    );
    assert_eq!(body["code"], -64);
    let (_, body, _) = issuer
        .issue(json!({"credential": with(v2(&did), "issuer", json!("fake-issuer")), "options": {"keyId": key_id}}))
        .await;
    assert_eq!(
        body["type"],
        "https://www.w3.org/TR/vc-data-model#MALFORMED_VALUE_ERROR"
    );
    assert_eq!(
        body["detail"],
        "credential.issuer: must be a URL or an object whose id is a URL"
    );

    // A holder's Data Integrity presentation: a credential given as text is refused before
    // anything is prepared (or signed).
    let presentation = json!({
        "@context": [V2], "type": ["VerifiablePresentation"],
        "verifiableCredential": [v2(&did).to_string()]
    });
    let prepared = issuer
        .h
        .call(
            &issuer.clerk,
            Method::POST,
            "/v1/holder/prepare",
            Some(json!({
                "credentialID": key_id,
                "document": {"format": "ldp_vp", "presentation": presentation, "challenge": "c-1"}
            })),
        )
        .await;
    assert_eq!(prepared.status(), StatusCode::BAD_REQUEST);
    let text = prepared.text().await.unwrap();
    assert!(
        text.contains(
            "document.presentation.verifiableCredential[0]: must be a verifiable credential object"
        ),
        "{text}"
    );

    assert_eq!(
        issuer.signatures_logged().await,
        before,
        "something was signed"
    );

    // The same rules at verification: named, before any proof is checked.
    let proof = json!({"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019",
        "proofPurpose": "assertionMethod", "verificationMethod": format!("{did}#x"), "proofValue": "z1"});
    let (status, body) = issuer
        .verify(
            "/credentials/verify",
            "verifiableCredential",
            with(
                with(v2(&did), "credentialSubject", Value::Null),
                "proof",
                proof.clone(),
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["verified"], false);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("credential.credentialSubject: "),
        "{body}"
    );
    let vp = json!({"@context": [V2], "type": ["VerifiablePresentation"],
        "verifiableCredential": with(v2(&did), "proof", proof).to_string(),
        "proof": {"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019", "proofPurpose": "authentication",
            "verificationMethod": format!("{did}#x"), "challenge": "c", "proofValue": "z1"}});
    let (status, body) = issuer
        .verify(
            "/presentations/verify",
            "verifiablePresentation",
            vp,
            json!({"challenge": "c"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("presentation.verifiableCredential: "),
        "{body}"
    );
    let enveloped = json!({"@context": [], "type": "EnvelopedVerifiableCredential",
        "id": "data:application/vc+jwt,eyJhbGciOiJFUzI1NiJ9.e30.sig"});
    let (status, body) = issuer
        .verify(
            "/credentials/verify",
            "verifiableCredential",
            enveloped,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("document.@context: "),
        "{body}"
    );
    issuer.h.stop().await;
}

/// A VCDM 2.0 credential using every optional part the data model defines.
fn rich_v2(issuer: &str) -> Value {
    json!({
        "@context": [V2, V2_EXAMPLES],
        "id": "https://university.example/credentials/3732",
        "type": ["VerifiableCredential", "ExampleDegreeCredential"],
        "issuer": {"id": issuer, "name": {"@value": "Example University", "@language": "en"}},
        "name": [{"@value": "Diploma", "@language": "en"}, {"@value": "Diplôme", "@language": "fr", "@direction": "ltr"}],
        "description": "A degree",
        "validFrom": "2026-01-01T00:00:00.5+01:00",
        "validUntil": "2036-01-01T00:00:00Z",
        "credentialSubject": [
            {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "degree": {"type": "ExampleBachelorDegree", "name": "Bachelor of Science"}},
            {"alumniOf": "Example University"}
        ],
        "credentialStatus": {"id": "https://status.example/list/1#94567", "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": "94567", "statusListCredential": "https://status.example/list/1"},
        "credentialSchema": [{"id": "https://schema.example/degree.json", "type": "JsonSchema"}],
        "evidence": [{"id": "https://evidence.example/1", "type": ["Evidence"], "documentPresence": "Physical"}],
        "termsOfUse": {"type": "ExamplePolicy", "id": "https://policy.example/1"},
        "refreshService": {"type": "ExampleRefreshService", "url": "https://refresh.example"},
        "relatedResource": [{"id": "https://university.example/logo.png", "digestSRI": "sha384-S57yQDg1MTzF56Oi9DbSQ14u7jBy0RDdx0YbeV7shwhCS88G8SCXeFq82PafhCrW"}]
    })
}

/// Valid credentials, VCDM 2.0 and 1.1, issued in every format and cryptosuite and verified
/// by the same server.
#[tokio::test]
async fn valid_credentials_issue_and_verify() {
    let issuer = issuer(Engine::SqliteFile).await;
    let (p256, p256_did) = issuer.p256.clone();
    let (_, ed_did) = issuer.ed25519.clone();
    let without_issuer = with(v2(&p256_did), "issuer", Value::Null);
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "minimal, issuer filled in",
            without_issuer,
            json!({"keyId": p256}),
        ),
        (
            "minimal",
            v2(&p256_did),
            json!({"cryptosuite": "ecdsa-jcs-2019"}),
        ),
        ("every optional part", rich_v2(&p256_did), json!({})),
        (
            "every optional part, vc+jwt",
            rich_v2(&p256_did),
            json!({"format": "vc+jwt"}),
        ),
        (
            "minimal, vc+jwt",
            v2(&p256_did),
            json!({"format": "vc+jwt"}),
        ),
        (
            "every optional part, Ed25519",
            rich_v2(&ed_did),
            json!({"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}),
        ),
        (
            "minimal, eddsa-jcs-2022",
            v2(&ed_did),
            json!({"cryptosuite": "eddsa-jcs-2022"}),
        ),
        (
            "VCDM 1.1, ecdsa-rdfc-2019",
            v1(&p256_did),
            json!({"cryptosuite": "ecdsa-rdfc-2019"}),
        ),
        ("VCDM 1.1, eddsa-rdfc-2022", v1(&ed_did), json!({})),
        (
            "VCDM 1.1, ecdsa-jcs-2019",
            v1(&p256_did),
            json!({"cryptosuite": "ecdsa-jcs-2019"}),
        ),
        (
            "VCDM 1.1 with expirationDate and issuer object",
            with(
                with(
                    v1(&ed_did),
                    "issuer",
                    json!({"id": ed_did, "name": "Example"}),
                ),
                "expirationDate",
                json!("2036-01-01T00:00:00Z"),
            ),
            json!({}),
        ),
    ];
    for (label, credential, options) in cases {
        let (status, body, text) = issuer
            .issue(json!({"credential": credential, "options": options}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{label}: {text}");
        let vc = body["verifiableCredential"].clone();
        let (status, verified) = issuer
            .verify(
                "/credentials/verify",
                "verifiableCredential",
                vc.clone(),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{label}: {verified} {vc}");
        assert_eq!(verified["verified"], true, "{label}");
    }
    issuer.h.stop().await;
}

/// VCDM 1.1 credentials with a Data Integrity proof: Inkan adds the data-integrity context
/// (Data Integrity 1.0 §4.2) and `@digitalbazaar/vc` verifies them, with eddsa-rdfc-2022 and
/// ecdsa-rdfc-2019.
#[tokio::test]
async fn vcdm11_data_integrity_verifies_with_digitalbazaar() {
    let issuer = issuer(Engine::SqliteFile).await;
    let work = tempfile::tempdir().unwrap();
    for ((key_id, did), suite) in [
        (issuer.ed25519.clone(), "eddsa-rdfc-2022"),
        (issuer.p256.clone(), "ecdsa-rdfc-2019"),
    ] {
        let (status, body, text) = issuer
            .issue(
                json!({"credential": v1(&did), "options": {"keyId": key_id, "cryptosuite": suite}}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{suite}: {text}");
        let vc = body["verifiableCredential"].clone();
        assert_eq!(
            vc["@context"],
            json!([V1, V2_EXAMPLES, DATA_INTEGRITY]),
            "{suite}"
        );
        assert_eq!(vc["proof"]["cryptosuite"], suite);
        let file = work.path().join(format!("{suite}.json"));
        std::fs::write(&file, serde_json::to_vec(&vc).unwrap()).unwrap();
        let verified = node(interop("di").join("verify.mjs"), &[file.to_str().unwrap()]);
        assert!(verified.is_ok(), "{suite}: {verified:?}");
        // A tampered copy is refused by both.
        let mut tampered = vc.clone();
        tampered["credentialSubject"]["alumniOf"] = "Another University".into();
        std::fs::write(&file, serde_json::to_vec(&tampered).unwrap()).unwrap();
        assert!(node(interop("di").join("verify.mjs"), &[file.to_str().unwrap()]).is_err());
        let (status, _) = issuer
            .verify(
                "/credentials/verify",
                "verifiableCredential",
                tampered,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // The other direction: credentials digitalbazaar's libraries issue (VCDM 1.1 with
    // ecdsa-rdfc-2019, VCDM 2.0 with the other suites) verify at the live server.
    let made = work.path().join("independent");
    node(interop("di").join("issue.mjs"), &[made.to_str().unwrap()]).unwrap();
    // They are valid from the real now; the server's clock is the harness's.
    use inkan_server::clock::Clock as _;
    let real_now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    if real_now > issuer.h.clock.now() {
        issuer
            .h
            .clock
            .advance(real_now - issuer.h.clock.now() + 60_000);
    }
    for name in [
        "vc-ecdsa-rdfc-2019.json",
        "vc-eddsa-rdfc-2022.json",
        "vc-eddsa-jcs-2022.json",
        "vc-ecdsa-jcs-2019.json",
    ] {
        let vc: Value = serde_json::from_slice(&std::fs::read(made.join(name)).unwrap()).unwrap();
        let (status, verified) = issuer
            .verify("/credentials/verify", "verifiableCredential", vc, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {verified}");
    }
    issuer.h.stop().await;
}

/// The VC API issue options: `options` absent or `{}`, `type`, a VC API `credentialId`, the
/// old key-id `credentialId`; the key from `credential.issuer` or the client's only key; two
/// candidates refused with how to choose; Data Integrity `challenge` and `domain`.
#[tokio::test]
async fn vc_api_options_and_key_choice() {
    let issuer = issuer(Engine::SqliteFile).await;
    let (p256, p256_did) = issuer.p256.clone();
    let (_, ed_did) = issuer.ed25519.clone();
    // A client whose scope names one key.
    let (single, single_access) =
        mtls_system_client(&issuer.h, &issuer.operator, &issuer.subscriber, &[&p256]).await;
    let no_issuer = with(v2(&p256_did), "issuer", Value::Null);
    for (label, body) in [
        ("no options", json!({"credential": no_issuer})),
        (
            "options {}",
            json!({"credential": no_issuer, "options": {}}),
        ),
        (
            "options null",
            json!({"credential": no_issuer, "options": null}),
        ),
        (
            "type DataIntegrityProof",
            json!({"credential": no_issuer, "options": {"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019"}}),
        ),
        (
            "VC API credentialId",
            json!({"credential": no_issuer, "options": {"credentialId": "urn:uuid:0f0c6b0e-5d0a-4c1b-9a5e-3b1f1d9c0e11"}}),
        ),
        (
            "credentialId naming the key (earlier Inkan clients)",
            json!({"credential": no_issuer, "options": {"credentialId": p256}}),
        ),
    ] {
        let (status, body, text) = issuer.issue_with(&single, &single_access, body).await;
        assert_eq!(status, StatusCode::CREATED, "{label}: {text}");
        let vc = &body["verifiableCredential"];
        assert_eq!(vc["issuer"], p256_did.as_str(), "{label}");
        assert!(
            vc["proof"]["verificationMethod"]
                .as_str()
                .unwrap()
                .starts_with(&p256_did)
        );
    }
    // Two keys in scope: credential.issuer chooses.
    for (did, suite) in [(&p256_did, "ecdsa-rdfc-2019"), (&ed_did, "eddsa-rdfc-2022")] {
        let (status, body, text) = issuer
            .issue(json!({"credential": v2(did), "options": {}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        assert_eq!(body["verifiableCredential"]["proof"]["cryptosuite"], suite);
        let (status, body, _) = issuer
            .issue(json!({"credential": v2(did), "options": {"format": "vc+jwt"}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body, _) = issuer
        .issue(json!({"credential": with(v2(&ed_did), "issuer", json!({"id": ed_did, "name": "Example"}))}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Refusals, each naming the field, none repeating a value.
    let unbound = format!("did:web:{SECRET}.example");
    for (label, body, starts) in [
        (
            "two keys, no issuer",
            json!({"credential": no_issuer}),
            "options.keyId: the client's scope names several keys",
        ),
        (
            "issuer no key stands for",
            json!({"credential": v2(&unbound)}),
            "credential.issuer: no key this client may sign with stands for the issuer named",
        ),
        (
            "issuer not the named key's",
            json!({"credential": v2(&ed_did), "options": {"keyId": p256}}),
            "credential.issuer: the issuer named is not bound to key",
        ),
        (
            "another proof type",
            json!({"credential": v2(&p256_did), "options": {"type": "Ed25519Signature2020"}}),
            "options.type: ",
        ),
        (
            "unknown cryptosuite",
            json!({"credential": v2(&p256_did), "options": {"cryptosuite": SECRET}}),
            "options.cryptosuite: ",
        ),
        (
            "unknown format",
            json!({"credential": v2(&p256_did), "options": {"format": SECRET}}),
            "options.format: ",
        ),
        (
            "Data Integrity option with vc+jwt",
            json!({"credential": v2(&p256_did), "options": {"format": "vc+jwt", "cryptosuite": "ecdsa-rdfc-2019"}}),
            "options.cryptosuite: ",
        ),
        (
            "created not a dateTime",
            json!({"credential": v2(&p256_did), "options": {"created": SECRET}}),
            "options.created: ",
        ),
    ] {
        let (status, body, text) = issuer.issue(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{label}: {text}");
        assert!(
            body["detail"].as_str().unwrap().starts_with(starts),
            "{label}: {text}"
        );
        assert_eq!(body["status"], 400);
        assert!(!text.contains(SECRET), "{label}: {text}");
        assert!(
            !text.contains("Some(") && !text.contains("None"),
            "{label}: {text}"
        );
    }
    // Other members stay refused.
    let (status, _, text) = issuer
        .issue(json!({"credential": v2(&p256_did), "options": {"proofPurpose": "assertionMethod"}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        text.contains("options.proofPurpose: unknown field"),
        "{text}"
    );
    assert!(text.contains("\"type\":\"about:blank\""), "{text}");
    // challenge and domain go into the proof.
    let (status, body, text) = issuer
        .issue(json!({"credential": v2(&p256_did), "options": {"challenge": "c-42", "domain": "verifier.example"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let vc = body["verifiableCredential"].clone();
    assert_eq!(vc["proof"]["challenge"], "c-42");
    assert_eq!(vc["proof"]["domain"], "verifier.example");
    // (verify.rs checks a credential's proof without an expected domain, so a credential
    // proof bound to a domain is refused by /credentials/verify: one with a challenge only.)
    let (status, body, text) = issuer
        .issue(json!({"credential": v2(&p256_did), "options": {"challenge": "c-43"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (status, verified) = issuer
        .verify(
            "/credentials/verify",
            "verifiableCredential",
            body["verifiableCredential"].clone(),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{verified}");
    let _ = vc;
    // The keys' did:key, for whoever drives the suites: GET /v1/keys as the client.
    let keys: Value = issuer
        .mtls
        .get(format!("{}/v1/keys", issuer.h.url))
        .bearer_auth(&issuer.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dids: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["did_key"].as_str().unwrap())
        .collect();
    assert!(
        dids.contains(&p256_did.as_str()) && dids.contains(&ed_did.as_str()),
        "{keys}"
    );
    issuer.h.stop().await;
}

/// The same VCDM 1.1 `ecdsa-rdfc-2019` issuance with the key in an HSM (SoftHSMv2 over
/// PKCS#11), verified by `@digitalbazaar/vc`.
#[tokio::test]
async fn vcdm11_ecdsa_on_softhsm_verifies_with_digitalbazaar() {
    let module = std::env::var("INKAN_TEST_PKCS11_MODULE")
        .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into());
    let label = format!("vcdm-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    inkan_device::pkcs11::init_test_token(module.as_ref(), &label, "vcdm-so-pin", "vcdm-user-pin")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pin_file = dir.path().join("user.pin");
    std::fs::write(&pin_file, "vcdm-user-pin").unwrap();
    let device = format!(
        "[device]\nkind = \"pkcs11\"\nmodule = \"{module}\"\ntoken_label = \"{label}\"\nuser_pin_file = \"{}\"",
        pin_file.display()
    );
    let h = Harness::start_with_device(Engine::SqliteFile, "test", Some(&device), "").await;
    let (_, operator) = h.operator().await;
    let (subscriber, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk = h.login(&clerk).await;
    let (key_id, jwk) = key(&h, &clerk, "ES256", "135791").await;
    let (mtls, access) = mtls_system_client(&h, &operator, &subscriber, &[&key_id]).await;
    let issued: Value = mtls
        .post(format!("{}/credentials/issue", h.url))
        .bearer_auth(&access)
        .json(&json!({"credential": v1(&did_key(&jwk)), "options": {"cryptosuite": "ecdsa-rdfc-2019"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vc = issued["verifiableCredential"].clone();
    assert_eq!(
        vc["@context"],
        json!([V1, V2_EXAMPLES, DATA_INTEGRITY]),
        "{issued}"
    );
    let file = dir.path().join("vc.json");
    std::fs::write(&file, serde_json::to_vec(&vc).unwrap()).unwrap();
    let verified = node(interop("di").join("verify.mjs"), &[file.to_str().unwrap()]);
    assert!(verified.is_ok(), "{verified:?}");
    h.stop().await;
}
