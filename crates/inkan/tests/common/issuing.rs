//! The dev deployment's system client over HTTPS, as an issuer's system talks to Inkan: mutual
//! TLS, a `client_credentials` token, VC-JWT issuance, and the lookup of a credential's
//! signature by digest (with what it takes to compute that digest).
#![allow(dead_code, clippy::unwrap_used)]

use super::Dev;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The longest any one HTTP call may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lookups by digest in flight.
const LOOKUPS_IN_FLIGHT: usize = 8;

/// A credential received, beside the round (or step) of the test that received it.
pub type Received = (usize, Value);

/// The dev deployment's system client: its certificate and key, the server's certificate, the
/// key it issues with.
pub struct SystemClient {
    identity: Vec<u8>,
    server_certificate: Vec<u8>,
    pub key_id: String,
}

impl SystemClient {
    pub fn read(dev: &Dev) -> SystemClient {
        let summary: Value =
            serde_json::from_slice(&std::fs::read(dev.path("inkan-dev/dev.json")).unwrap())
                .unwrap();
        SystemClient {
            identity: std::fs::read(dev.profile("system").join("client.pem")).unwrap(),
            server_certificate: std::fs::read(dev.path("inkan-dev/tls/server.crt")).unwrap(),
            key_id: summary["key"].as_str().unwrap().to_owned(),
        }
    }

    /// A connection to the server on `port` as `crates/inkan/src/api_client.rs` makes it (TLS
    /// 1.3, the server's certificate alone trusted, `localhost`, the client's certificate),
    /// with a fresh token (`client_credentials` over mutual TLS).
    pub async fn connect(&self, port: u16) -> Api {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .min_tls_version(reqwest::tls::Version::TLS_1_3)
            .https_only(true)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.server_certificate).unwrap())
            .identity(reqwest::Identity::from_pem(&self.identity).unwrap())
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
            .timeout(HTTP_TIMEOUT)
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let base = format!("https://localhost:{port}");
        let answer = http
            .post(format!("{base}/oauth2/token"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "the client token");
        let tokens: Value = answer.json().await.unwrap();
        Api {
            http,
            base,
            token: tokens["access_token"].as_str().unwrap().to_owned(),
            key_id: self.key_id.clone(),
        }
    }
}

/// The system client's requests, with its token.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    key_id: String,
}

impl Api {
    /// The client's access token (a certificate-bound `Bearer` token).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// `POST /credentials/issue` of a VC-JWT for subject number `n`: the status and the answer.
    pub async fn issue(&self, n: u64) -> Result<(u16, Value), reqwest::Error> {
        let answer = self.issue_response(n).await?;
        let status = answer.status().as_u16();
        // An answer cut short by the kill was not received.
        let bytes = answer.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// `POST /credentials/issue` of a VC-JWT for subject number `n`: the response as it came.
    pub async fn issue_response(&self, n: u64) -> Result<reqwest::Response, reqwest::Error> {
        let body = json!({
            "credential": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "validFrom": "2026-01-01T00:00:00Z",
                "credentialSubject": {"id": "did:example:subject", "n": n}
            },
            "options": {"credentialId": self.key_id, "format": "vc+jwt"}
        });
        self.http
            .post(format!("{}/credentials/issue", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
    }

    /// `GET path` without a token: the status and the `Retry-After` header.
    pub async fn get_anonymous(&self, path: &str) -> (u16, Option<String>) {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (answer.status().as_u16(), retry_after)
    }

    /// `GET /v1/signatures?digest=`: the signatures found.
    pub async fn signatures(&self, digest: &str) -> Value {
        let answer = self
            .http
            .get(format!("{}/v1/signatures?digest={digest}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "GET /v1/signatures?digest={digest}");
        answer.json().await.unwrap()
    }
}

/// The received credentials whose signature the server does not know, with its answer.
pub async fn unlogged(api: Arc<Api>, key_id: &str, received: &[Received]) -> Vec<(usize, Value)> {
    let chunks: Vec<Vec<Received>> = received
        .chunks(received.len().div_ceil(LOOKUPS_IN_FLIGHT).max(1))
        .map(<[Received]>::to_vec)
        .collect();
    let mut lookups = tokio::task::JoinSet::new();
    for chunk in chunks {
        let api = api.clone();
        let key_id = key_id.to_owned();
        lookups.spawn(async move {
            let mut missing = Vec::new();
            for (round, credential) in chunk {
                let digest = signing_input_digest(&credential);
                let found = api.signatures(&digest).await;
                if !logged(&found, &key_id) {
                    missing.push((round, found));
                }
            }
            missing
        });
    }
    let mut missing = Vec::new();
    while let Some(chunk) = lookups.join_next().await {
        missing.extend(chunk.unwrap());
    }
    missing
}

/// Whether `found` (an answer of `GET /v1/signatures`) holds a VC-JWT signature by `key_id`
/// with its receipt.
pub fn logged(found: &Value, key_id: &str) -> bool {
    found["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            s["keyId"] == key_id
                && s["documentType"] == "vc+jwt"
                && s["receipt"].as_str().is_some_and(|r| !r.is_empty())
        })
}

/// The compact JWT of an enveloped VC-JWT, as `/credentials/issue` answers it.
pub fn jwt(credential: &Value) -> &str {
    assert_eq!(
        credential["type"], "EnvelopedVerifiableCredential",
        "{credential}"
    );
    credential["id"]
        .as_str()
        .and_then(|id| id.strip_prefix("data:application/vc+jwt,"))
        .unwrap_or_else(|| panic!("not an enveloped VC-JWT: {credential}"))
}

/// The digest the log's entry names: SHA-256 of the JWS signing input (`header.payload`), as
/// `inkan client receipt` computes it.
pub fn signing_input_digest(credential: &Value) -> String {
    let (input, _signature) = jwt(credential).rsplit_once('.').unwrap();
    inkan_server::keys::sha256_digest(input.as_bytes())
}
