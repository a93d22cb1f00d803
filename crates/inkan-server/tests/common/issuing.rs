//! A server with an issuer organisation's system client ready to issue: what the issuance
//! suites share (`e2e_vc`, `e2e_metrics`).

use super::server::{Harness, Session, client_certificate, client_token, mtls_client};
use super::{Engine, TestDb};
use inkan_server::auth::operators::OperatorRole;
use reqwest::Method;
use serde_json::{Value, json};

/// An example credential (VCDM 2.0).
pub fn credential() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential", "ExampleAlumniCredential"],
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Example University"}
    })
}

/// A running server with an issuer (its clerk logged in), one ES256 key and a system client
/// (mTLS) whose scope gives `grant` (the key's entry, without `key`) on it, with a fresh access
/// token of the client.
pub struct Issuing {
    pub h: Harness,
    pub clerk: Session,
    pub mtls: reqwest::Client,
    /// The key as `POST /v1/keys` answered.
    pub key: Value,
    pub key_id: String,
    pub access: String,
    /// The system client's certificate (PEM), which its token is bound to.
    #[allow(dead_code)]
    pub cert_pem: String,
}

pub async fn issuing_client(engine: Engine, grant: Value) -> Issuing {
    issuing_client_with(engine, grant, "").await
}

/// [`issuing_client`] on a service with more `[server]` settings (or sections after it).
pub async fn issuing_client_with(engine: Engine, grant: Value, settings: &str) -> Issuing {
    issuing_client_on(TestDb::create(engine).await, grant, settings).await
}

/// [`issuing_client_with`] on `db`.
pub async fn issuing_client_on(db: TestDb, mut grant: Value, settings: &str) -> Issuing {
    let h = Harness::start_tuned_on(db, "test", None, settings, "").await;
    let (_, operator) = h.operator().await;
    let (issuer, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk: Session = h.login(&clerk).await;
    let key: Value = h
        .call(
            &clerk,
            Method::POST,
            "/v1/keys",
            Some(json!({"algorithm": "ES256", "label": "e-seal", "pin": "135791"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let key_id = key["id"].as_str().unwrap().to_owned();
    grant["key"] = key_id.clone().into();
    let (cert_pem, key_pem) = client_certificate("issuer.example");
    let registered = h
        .call(
            &operator,
            Method::POST,
            &format!("/v1/subscribers/{issuer}/clients"),
            Some(json!({
                "name": "issuing system", "certificate_pem": cert_pem,
                "scope": {"keys": [grant]}
            })),
        )
        .await;
    h.approve_request(
        registered,
        OperatorRole::RaOfficer,
        Some((&operator, &issuer)),
    )
    .await;
    let mtls = mtls_client(&h, &cert_pem, &key_pem);
    let access = client_token(&mtls, &h.url).await;
    Issuing {
        h,
        clerk,
        mtls,
        key,
        key_id,
        access,
        cert_pem,
    }
}
