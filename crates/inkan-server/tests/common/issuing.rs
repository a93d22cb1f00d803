//! A server with an issuer organisation's system client ready to issue: what the issuance
//! suites share (`e2e_vc`, `e2e_metrics`).

use super::Engine;
use super::server::{Harness, Session};
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

/// A client certificate and key (PEM), self-signed.
pub fn client_certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["issuer.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
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
}

pub async fn issuing_client(engine: Engine, grant: Value) -> Issuing {
    issuing_client_with(engine, grant, "").await
}

/// [`issuing_client`] on a service with more `[server]` settings (or sections after it).
pub async fn issuing_client_with(engine: Engine, mut grant: Value, settings: &str) -> Issuing {
    let h = Harness::start_tuned(engine, "test", None, settings, "").await;
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
    let (cert_pem, key_pem) = client_certificate();
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
    let server_cert = std::fs::read(h._dir.path().join("tls/server.crt")).unwrap();
    let mtls = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&server_cert).unwrap())
        .identity(reqwest::Identity::from_pem(format!("{cert_pem}{key_pem}").as_bytes()).unwrap())
        .build()
        .unwrap();
    let access = client_token(&mtls, &h.url).await;
    Issuing {
        h,
        clerk,
        mtls,
        key,
        key_id,
        access,
    }
}

/// A token for the client of `mtls` (its certificate; RFC 8705), by client credentials.
pub async fn client_token(mtls: &reqwest::Client, base: &str) -> String {
    let token: Value = mtls
        .post(format!("{base}/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}
