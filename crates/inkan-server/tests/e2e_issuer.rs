//! End-to-end: issuers are who their keys say (criteria 2.2.3(1)A, 2.2.3(2)B-1). An
//! organisation's system client, over real TLS with DPoP, cannot sign a credential naming
//! another identity as its issuer: W3C `issuer` (string and object), SD-JWT VC `iss`, and the
//! data elements of an mdoc that name its issuing authority are each refused with a 400 naming
//! the field, and no `signature.requested` entry is written. The key's own `did:key` and
//! `did:jwk` are accepted; a `did:web` only once registration officers bound it to the key
//! under dual control (`issuer.bind`, one officer alone cannot).
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::server::{Harness, Session, key, system_client};
use common::x509::{JwkPublicKey, TestCa, test_name};
use inkan_log::entry::{EntryKind, Outcome};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const OTHER_ORG: &str = "did:web:other-university.example";
const OWN_WEB: &str = "did:web:issuer.example";

fn credential(issuer: Option<Value>) -> Value {
    let mut vc = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential", "ExampleAlumniCredential"],
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Example University"}
    });
    if let Some(issuer) = issuer {
        vc["issuer"] = issuer;
    }
    vc
}

/// An issuer organisation with an ES256 key and its system client.
struct Issuer {
    subscriber: String,
    key_id: String,
    jwk: Value,
    client: Session,
}

async fn issuer(h: &Harness, registrar: &Session, username: &str) -> Issuer {
    let (subscriber, clerk) = h.subscriber(registrar, "issuer", username).await;
    let clerk_session = h.login(&clerk).await;
    let (key_id, jwk) = key(h, &clerk_session, "ES256", "135791").await;
    let client = system_client(h, registrar, &subscriber, &key_id).await;
    Issuer {
        subscriber,
        key_id,
        jwk,
        client,
    }
}

fn did_key(jwk: &Value) -> (String, String) {
    let public = inkan_formats::jose::public_key_from_jwk(jwk).unwrap();
    (public.did_key(), public.did_jwk())
}

async fn vc(h: &Harness, who: &Issuer, format: &str, issuer: Option<Value>) -> reqwest::Response {
    h.call(
        &who.client,
        Method::POST,
        "/credentials/issue",
        Some(json!({
            "credential": credential(issuer),
            "options": {"credentialId": who.key_id, "format": format},
        })),
    )
    .await
}

async fn sd_jwt(h: &Harness, who: &Issuer, iss: Option<&str>) -> reqwest::Response {
    let mut body = json!({
        "credentialID": who.key_id, "vct": "https://credentials.example/degree",
        "claims": {"given_name": "Hana"},
    });
    if let Some(iss) = iss {
        body["issuer"] = iss.into();
    }
    h.call(
        &who.client,
        Method::POST,
        "/v1/credentials/sd-jwt",
        Some(body),
    )
    .await
}

/// Asserts a 400 whose description names `field`, and that nothing was asked of the signing
/// module since `before` log entries.
async fn assert_refused(h: &Harness, response: reqwest::Response, field: &str, before: usize) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.unwrap();
    assert!(text.contains(field), "{field} not named: {text}");
    let entries = h.log_entries().await;
    assert!(
        !entries[before..].iter().any(|e| matches!(
            e.kind,
            EntryKind::SignatureRequested | EntryKind::SignatureMade
        )),
        "a refused issuer reached the signing module"
    );
}

/// The issuer named in a signed SD-JWT VC (`iss` of its JWT).
async fn sd_jwt_iss(response: reqwest::Response) -> Value {
    use base64::Engine as _;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let jwt = body["credential"]
        .as_str()
        .unwrap()
        .split('~')
        .next()
        .unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice::<Value>(&payload).unwrap()["iss"].clone()
}

async fn another_identity_is_refused(engine: Engine) {
    let h = Harness::start(engine, "").await;
    let (_, registrar) = h.operator().await;
    let seal = issuer(&h, &registrar, "clerk").await;
    let (own_key, own_jwk) = did_key(&seal.jwk);

    // Another organisation's did:web, as a string and as an object, in both W3C formats.
    for format in ["vc+jwt", "ldp_vc"] {
        for named in [
            json!(OTHER_ORG),
            json!({"id": OTHER_ORG, "name": "Other University"}),
        ] {
            let before = h.log_entries().await.len();
            let refused = vc(&h, &seal, format, Some(named)).await;
            assert_refused(&h, refused, "credential.issuer", before).await;
        }
    }
    // Or slipped in as the `iss` claim of a vc+jwt whose `issuer` is the key's own.
    let mut sneaky = credential(Some(json!(own_key)));
    sneaky["iss"] = OTHER_ORG.into();
    let before = h.log_entries().await.len();
    let refused = h
        .call(
            &seal.client,
            Method::POST,
            "/credentials/issue",
            Some(json!({"credential": sneaky, "options": {"credentialId": seal.key_id, "format": "vc+jwt"}})),
        )
        .await;
    assert_refused(&h, refused, "credential.iss", before).await;
    // The same in an SD-JWT VC's `iss`.
    let before = h.log_entries().await.len();
    let refused = sd_jwt(&h, &seal, Some(OTHER_ORG)).await;
    assert_refused(&h, refused, "issuer", before).await;

    // The key's own identifiers are accepted, bare or as its verification method, and no
    // issuer at all is the key's did:key (as before).
    let vm = format!("{own_key}#{}", own_key.trim_start_matches("did:key:"));
    for (format, named) in [
        ("vc+jwt", Some(json!(own_key))),
        (
            "ldp_vc",
            Some(json!({"id": own_jwk, "name": "Example University"})),
        ),
        ("vc+jwt", Some(json!(vm))),
        ("ldp_vc", None),
    ] {
        let issued = vc(&h, &seal, format, named.clone()).await;
        assert_eq!(issued.status(), StatusCode::CREATED, "{format} {named:?}");
    }
    assert_eq!(
        sd_jwt_iss(sd_jwt(&h, &seal, Some(&own_jwk)).await).await,
        json!(own_jwk)
    );
    assert_eq!(
        sd_jwt_iss(sd_jwt(&h, &seal, None).await).await,
        json!(own_key)
    );

    // An inline context is accepted when, expanded, the credential says what its `issuer`
    // says (the W3C suites issue such credentials); one that makes another term mean
    // `issuer` is refused, in both formats, with nothing signed.
    let inline = |extra: Value, issuer: Value| {
        let mut credential = credential(Some(issuer));
        credential["@context"] = json!([
            "https://www.w3.org/ns/credentials/v2",
            "https://www.w3.org/ns/credentials/examples/v2",
            {"ExampleVerifiableCredential": "https://example.org/#ExampleVerifiableCredential",
             "boss": {"@id": "https://www.w3.org/2018/credentials#issuer", "@type": "@id"}}
        ]);
        credential["type"] = json!(["VerifiableCredential", "ExampleVerifiableCredential"]);
        if let (Some(object), Value::Object(extra)) = (credential.as_object_mut(), extra) {
            object.extend(extra);
        }
        credential
    };
    for format in ["ldp_vc", "vc+jwt"] {
        let issued = h
            .call(
                &seal.client,
                Method::POST,
                "/credentials/issue",
                Some(json!({"credential": inline(json!({}), json!(own_key)),
                            "options": {"credentialId": seal.key_id, "format": format}})),
            )
            .await;
        assert_eq!(issued.status(), StatusCode::CREATED, "{format}");
        let before = h.log_entries().await.len();
        let refused = h
            .call(
                &seal.client,
                Method::POST,
                "/credentials/issue",
                Some(
                    json!({"credential": inline(json!({"boss": OTHER_ORG}), json!(own_key)),
                            "options": {"credentialId": seal.key_id, "format": format}}),
                ),
            )
            .await;
        assert_refused(&h, refused, "credential.@context", before).await;
    }
    h.stop().await;
}

#[tokio::test]
async fn another_identity_is_refused_sqlite() {
    another_identity_is_refused(Engine::SqliteFile).await;
}

#[tokio::test]
async fn another_identity_is_refused_postgres() {
    another_identity_is_refused(Engine::Postgres).await;
}

async fn approvals(
    h: &Harness,
    who: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = h.call(who, method, path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A did:web is accepted only after `issuer.bind` was approved by another registration
/// officer; the binding is written ahead to the log; an identifier bound to one
/// organisation's key cannot be bound to another's.
async fn did_web_needs_dual_control(engine: Engine) {
    let h = Harness::start(engine, "[operations]\napprovals = 1").await;
    let (_, ra1) = h.operator().await;
    let (_, ra2) = h.operator().await;
    let seal = issuer(&h, &ra1, "clerk").await;
    let other = issuer(&h, &ra1, "rival").await;
    assert_ne!(seal.subscriber, other.subscriber);

    // Not bound yet: refused.
    let before = h.log_entries().await.len();
    let refused = vc(&h, &seal, "vc+jwt", Some(json!(OWN_WEB))).await;
    assert_refused(&h, refused, "credential.issuer", before).await;

    let bind = |key: &str, identifier: &str| json!({"action": "issuer.bind", "key": key, "identifier": identifier});
    // Only a did:web or an https URL can be bound.
    let (s, _) = approvals(
        &h,
        &ra1,
        Method::POST,
        "/v1/approvals",
        Some(bind(
            &seal.key_id,
            "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        )),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, request) = approvals(
        &h,
        &ra1,
        Method::POST,
        "/v1/approvals",
        Some(bind(&seal.key_id, OWN_WEB)),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{request}");
    let id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(request["state"], "pending");
    // One officer alone cannot bind: the requester's own approval is refused, and the
    // identifier is still refused.
    let approve = format!("/v1/approvals/{id}/approve");
    let (s, _) = approvals(&h, &ra1, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let before = h.log_entries().await.len();
    let refused = sd_jwt(&h, &seal, Some(OWN_WEB)).await;
    assert_refused(&h, refused, "issuer", before).await;

    // A second officer approves: bound, written ahead.
    let (s, done) = approvals(&h, &ra2, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "executed");
    let entries = h.log_entries().await;
    let note = format!("issuer {OWN_WEB} bound to key {}", seal.key_id);
    let binding: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::OperatorAction && e.note.as_deref() == Some(&note))
        .collect();
    assert_eq!(binding.len(), 2, "a pending entry and its result");
    assert_eq!(binding[0].outcome, Outcome::Pending);
    assert_eq!(binding[1].outcome, Outcome::Succeeded);
    assert_eq!(binding[1].approval.as_deref(), Some(id.as_str()));

    // Now the did:web is accepted, in every form, and only for the key it is bound to.
    let issued = vc(&h, &seal, "vc+jwt", Some(json!(OWN_WEB))).await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let issued = vc(&h, &seal, "ldp_vc", Some(json!({"id": OWN_WEB}))).await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    assert_eq!(
        sd_jwt_iss(sd_jwt(&h, &seal, Some(OWN_WEB)).await).await,
        json!(OWN_WEB)
    );
    let before = h.log_entries().await.len();
    let refused = vc(&h, &other, "vc+jwt", Some(json!(OWN_WEB))).await;
    assert_refused(&h, refused, "credential.issuer", before).await;
    // Nor can it be bound to another organisation's key.
    let (s, _) = approvals(
        &h,
        &ra1,
        Method::POST,
        "/v1/approvals",
        Some(bind(&other.key_id, OWN_WEB)),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    h.stop().await;
}

#[tokio::test]
async fn did_web_needs_dual_control_sqlite() {
    did_web_needs_dual_control(Engine::SqliteFile).await;
}

#[tokio::test]
async fn did_web_needs_dual_control_postgres() {
    did_web_needs_dual_control(Engine::Postgres).await;
}

/// A document signer certificate for `jwk`: `C=JP, O=Inkan Test Issuer`.
fn certify(jwk: &Value) -> String {
    use rcgen::{CertificateParams, IsCa, Issuer, KeyUsagePurpose};
    let iaca = TestCa::new("Inkan Test IACA");
    let mut ds = CertificateParams::new(Vec::<String>::new()).unwrap();
    ds.distinguished_name = test_name("Inkan Test mDL Document Signer");
    ds.is_ca = IsCa::ExplicitNoCa;
    ds.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    ds.signed_by(
        &JwkPublicKey::new(jwk),
        &Issuer::from_params(&iaca.params, &iaca.key),
    )
    .unwrap()
    .pem()
}

/// An mdoc names its issuer through its document signer certificate: data elements naming
/// another issuing country or authority are refused.
#[tokio::test]
async fn mdoc_names_the_certificates_issuer() {
    const NS: &str = "org.iso.18013.5.1";
    let h = Harness::start(Engine::SqliteFile, "").await;
    let (_, registrar) = h.operator().await;
    let seal = issuer(&h, &registrar, "clerk").await;
    h.server()
        .service
        .registry
        .attach_certificate(
            &inkan_server::service::system_actor(),
            &inkan_store::KeyId::parse(&seal.key_id).unwrap(),
            certify(&seal.jwk).as_bytes(),
        )
        .await
        .unwrap();
    let device_key = inkan_server::client::ProofKey::generate()
        .unwrap()
        .public_jwk();
    let mdoc = |elements: Value| {
        json!({
            "credentialID": seal.key_id, "docType": "org.iso.18013.5.1.mDL",
            "nameSpaces": {NS: elements}, "deviceKeyJwk": device_key,
        })
    };
    for (element, value) in [
        ("issuing_country", "FR"),
        ("issuing_authority", "Other University"),
        ("issuing_jurisdiction", "FR-75"),
    ] {
        let mut elements = json!({"family_name": "Sato", "issuing_country": "JP"});
        elements[element] = value.into();
        let before = h.log_entries().await.len();
        let refused = h
            .call(
                &seal.client,
                Method::POST,
                "/v1/credentials/mdoc",
                Some(mdoc(elements)),
            )
            .await;
        assert_refused(&h, refused, &format!("nameSpaces.{NS}.{element}"), before).await;
    }
    // The certificate's own country and organisation are accepted.
    let issued = h
        .call(
            &seal.client,
            Method::POST,
            "/v1/credentials/mdoc",
            Some(mdoc(json!({
                "family_name": "Sato", "issuing_country": "JP",
                "issuing_authority": "Inkan Test Issuer",
            }))),
        )
        .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    h.stop().await;
}
