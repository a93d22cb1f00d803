#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! The split deployment (issue 20 point 1; criteria 2.2.4(1)-(3)): a front end that holds no
//! key forwards to a signer over mutually authenticated TLS 1.3, on real sockets.
//!
//! - a system client issues through the front end, its certificate passed on to the signer
//!   (its token is bound to it, RFC 8705), and a client's own copy of the forwarding headers
//!   is never believed;
//! - the signer completes no handshake without a front end's certificate: none, or one from
//!   another CA, is refused;
//! - a front end without a reachable signer answers 503 with `Retry-After`, and its own
//!   `/health` still answers.

mod common;

use common::Engine;
use common::issuing::{Issuing, credential, issuing_client};
use common::server::client_certificate;
use common::x509::TestCa;
use inkan_server::api::front::Front;
use inkan_server::api::server::Server;
use inkan_server::config::{Config, Role};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Signers and a front end beside the harness's own server, on its store and TLS identity.
struct Split {
    signers: Vec<Server>,
    front: Front,
    front_url: String,
    /// A CA the signer does not know, and the front end's CA (for more clients).
    stranger: TestCa,
    fronts_ca: TestCa,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    // A key file others can read is refused, like the server's own.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

async fn split(issuing: &Issuing, signers: usize) -> Split {
    let h = &issuing.h;
    let dir = h._dir.path().to_path_buf();
    let base = Config::load(Some(&dir.join("inkan.toml")), std::iter::empty()).unwrap();
    // A root that could have intermediates under it, as a real one may.
    let fronts_ca = TestCa::allowing_intermediates("Inkan front ends");
    let (front_cert, front_key) = fronts_ca.certify_client("front-1.inkan.test");

    let mut signer = base.clone();
    signer.server.role = Role::Signer;
    signer.server.listen = "127.0.0.1:0".parse().unwrap();
    signer.signer.front_ca_files = vec![write(&dir, "front-ca.pem", &fronts_ca.pem)];
    signer.validate().unwrap();
    let mut started = Vec::new();
    for _ in 0..signers {
        started.push(Server::start(&signer, h.clock.clone()).await.unwrap());
    }

    let mut front = base.clone();
    front.server.role = Role::Front;
    front.server.listen = "127.0.0.1:0".parse().unwrap();
    front.front.signers = started
        .iter()
        .map(|s| format!("https://localhost:{}", s.local_addr.port()))
        .collect();
    // The signer's certificate is the deployment's self-signed one: its own anchor here.
    front.front.signer_ca_files = vec![base.server.tls_certificate.clone()];
    front.front.client_certificate = Some(write(&dir, "front.crt", &front_cert));
    front.front.client_key = Some(write(&dir, "front.key", &front_key));
    front.validate().unwrap();
    let front = Front::start(&front).await.unwrap();
    let front_url = format!("https://localhost:{}", front.local_addr.port());
    Split {
        signers: started,
        front,
        front_url,
        stranger: TestCa::new("Not a front end"),
        fronts_ca,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_client_issues_through_a_front_end_and_its_certificate_goes_with_it() {
    let issuing = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = &issuing;
    let s = split(&issuing, 1).await;
    let body = json!({"credential": credential(),
                      "options": {"keyId": key_id, "format": "vc+jwt"}});
    let issued = mtls
        .post(format!("{}/credentials/issue", s.front_url))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        issued.status(),
        StatusCode::CREATED,
        "{:?}",
        issued.text().await
    );
    let issued: Value = issued.json().await.unwrap();
    assert!(issued.get("verifiableCredential").is_some(), "{issued}");

    // `/ready` is the signer's answer; `/health` the front end's own.
    for path in ["/ready", "/health"] {
        let answer = mtls
            .get(format!("{}{path}", s.front_url))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
    }

    // The token is bound to the client's certificate: without it, through the front end,
    // refused; and a client that writes the certificate into the forwarding header itself is
    // not believed (the front end removes it and writes what the handshake showed).
    let plain = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&h.server_cert).unwrap())
        .build()
        .unwrap();
    let der = first_certificate_der(&issuing.cert_pem);
    use base64::Engine as _;
    for forged in [
        None,
        Some(format!(
            ":{}:",
            base64::engine::general_purpose::STANDARD.encode(&der)
        )),
    ] {
        let mut request = plain
            .post(format!("{}/credentials/issue", s.front_url))
            .bearer_auth(access)
            .json(&body);
        if let Some(forged) = &forged {
            request = request
                .header("client-cert", forged)
                .header("forwarded", "for=\"192.0.2.1:1\"");
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{forged:?}");
    }
    s.front.stop().await.unwrap();
    for signer in s.signers {
        signer.stop().await.unwrap();
    }
}

/// The DER of the first certificate of a PEM text.
fn first_certificate_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// A client of the signer itself, presenting `identity` (certificate and key, PEM) if given.
fn signer_client(h_cert: &[u8], identity: Option<(String, String)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(h_cert).unwrap());
    if let Some((cert, key)) = identity {
        builder = builder
            .identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// Criteria 2.2.4(2): the signer's listener completes a handshake only with a front end's
/// certificate. No certificate, a certificate of another CA, one through an intermediate under
/// the front ends' CA, or the system client's own (self-signed, registered with the service):
/// refused before any request. A front end's: served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signer_answers_front_ends_only() {
    let issuing = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let s = split(&issuing, 1).await;
    let h = &issuing.h;
    let signer_url = format!("https://localhost:{}", s.signers[0].local_addr.port());
    let (client_cert, client_key) = client_certificate("issuer.example");
    // A client CA issued under the front ends' root: its clients send their leaf and it.
    let under = s
        .fronts_ca
        .intermediate("Clients under the front ends' root");
    let (leaf, leaf_key) = under.certify_client("client.inkan.test");
    for (who, identity) in [
        (
            "a certificate through an intermediate under the front ends' CA",
            Some((format!("{leaf}{}", under.pem), leaf_key)),
        ),
        ("no certificate", None),
        (
            "another CA's front end",
            Some(s.stranger.certify_client("front-9.inkan.test")),
        ),
        ("a system client's own", Some((client_cert, client_key))),
    ] {
        let answer = signer_client(&h.server_cert, identity)
            .get(format!("{signer_url}/health"))
            .send()
            .await;
        assert!(answer.is_err(), "{who}: {answer:?}");
    }
    let front_end = signer_client(
        &h.server_cert,
        Some(s.fronts_ca.certify_client("front-2.inkan.test")),
    );
    let answer = front_end
        .get(format!("{signer_url}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    // A signer whose front ends' CA is also a CA of client certificates does not start: a
    // client's certificate would pass for a front end's.
    let dir = h._dir.path();
    let mut shared = Config::load(Some(&dir.join("inkan.toml")), std::iter::empty()).unwrap();
    shared.server.role = Role::Signer;
    shared.server.listen = "127.0.0.1:0".parse().unwrap();
    let ca = write(dir, "shared-ca.pem", &s.fronts_ca.pem);
    shared.signer.front_ca_files = vec![ca.clone()];
    shared.server.client_ca_files = vec![ca];
    let refused = Server::start(&shared, h.clock.clone()).await.unwrap_err();
    assert!(refused.to_string().contains("share a CA"), "{refused}");

    s.front.stop().await.unwrap();
    for signer in s.signers {
        signer.stop().await.unwrap();
    }
}

/// A front end passes over a signer it cannot reach, and with none left fails closed: 503
/// with `Retry-After`, nothing signed; its own `/health` answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_end_passes_over_a_lost_signer_and_answers_503_without_any() {
    let issuing = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let mut s = split(&issuing, 2).await;
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = &issuing;
    let issue = || {
        mtls.post(format!("{}/credentials/issue", s.front_url))
            .bearer_auth(access)
            .json(&json!({"credential": credential(),
                          "options": {"keyId": key_id, "format": "vc+jwt"}}))
            .send()
    };
    s.signers.remove(0).stop().await.unwrap();
    for _ in 0..4 {
        assert_eq!(issue().await.unwrap().status(), StatusCode::CREATED);
    }
    s.signers.remove(0).stop().await.unwrap();
    let before = h.log_entries().await.len();
    let refused = issue().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["retry-after"], "2");
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"], "temporarily_unavailable");
    assert_eq!(
        h.log_entries().await.len(),
        before,
        "nothing was asked of anyone"
    );
    let health = mtls
        .get(format!("{}/health", s.front_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    s.front.stop().await.unwrap();
}
