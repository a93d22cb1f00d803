#![allow(clippy::unwrap_used)]
//! The TLS transport of `inkan serve` (`api::tls`, `api::listener`): the server identity
//! (generated, kept, loaded strictly, refused in production when missing), TLS 1.3 only
//! (criteria 2.2.4(1)/(3)), client certificates with proof of possession and their RFC 8705
//! thumbprint (criteria 2.2.1(1)/(4)), chain verification against client anchors, and graceful
//! shutdown. Each test talks to a real listener on 127.0.0.1 with reqwest or raw rustls.

use axum::Extension;
use axum::routing::get;
use base64::Engine as _;
use inkan_server::api::listener::{self, PeerCertificate, RemoteAddr};
use inkan_server::api::tls::{self, TlsError, TlsSource};
use inkan_server::config::ServerConfig;
use inkan_server::environment::Environment;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn config_in(dir: &Path) -> ServerConfig {
    ServerConfig {
        tls_certificate: dir.join("tls/server.crt"),
        tls_key: dir.join("tls/server.key"),
        tls_names: vec!["inkan.test".into()],
        ..ServerConfig::default()
    }
}

async fn whoami(
    Extension(remote): Extension<RemoteAddr>,
    Extension(peer): Extension<Option<PeerCertificate>>,
) -> String {
    match peer {
        Some(peer) => format!("{} {} {}", peer.thumbprint, peer.chain_verified, remote.0),
        None => format!("none {}", remote.0),
    }
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(700)).await;
    "done"
}

fn router() -> axum::Router {
    axum::Router::new()
        .route("/", get(whoami))
        .route("/slow", get(slow))
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    cert_pem: String,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(anchors: Vec<CertificateDer<'static>>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = config_in(dir.path());
        let (identity, _) = tls::load_or_generate(&config, Environment::Test).unwrap();
        let tls_config = tls::server_config(&identity, &anchors).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listener::serve(
            listener,
            tls_config,
            anchors,
            router(),
            listener::DEFAULT_MAX_CONNECTIONS,
            listener::Peers::Clients,
            async move {
                let _ = stopped.await;
            },
        ));
        let cert_pem = std::fs::read_to_string(&config.tls_certificate).unwrap();
        Server {
            addr,
            stop: Some(stop),
            task,
            cert_pem,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(10))
    }

    fn client(&self, identity: Option<reqwest::Identity>) -> reqwest::Client {
        let mut builder = self.client_builder();
        if let Some(identity) = identity {
            builder = builder.identity(identity);
        }
        builder.build().unwrap()
    }

    /// The server certificate as a rustls root store, for raw rustls clients.
    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(self.cert_pem.as_bytes()) {
            let cert: CertificateDer<'static> = cert.unwrap();
            roots.add(cert).unwrap();
        }
        roots
    }

    /// Asks for shutdown and returns how long `serve` took to return.
    async fn shut_down(mut self) -> Duration {
        let started = Instant::now();
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(15), &mut self.task)
            .await
            .expect("serve did not return after shutdown")
            .unwrap()
            .unwrap();
        started.elapsed()
    }
}

async fn get_text(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn expected_thumbprint(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

/// A self-signed client certificate: (certificate, its DER, key PEM).
fn self_signed_client(name: &str) -> (String, Vec<u8>, String) {
    let certified = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    (
        certified.cert.pem(),
        certified.cert.der().to_vec(),
        certified.signing_key.serialize_pem(),
    )
}

fn identity(cert_pem: &str, key_pem: &str) -> reqwest::Identity {
    reqwest::Identity::from_pem(format!("{cert_pem}{key_pem}").as_bytes()).unwrap()
}

/// A client CA and a client certificate it issued: (CA DER, CA PEM, leaf PEM, leaf DER, leaf
/// key PEM).
fn ca_and_client() -> (CertificateDer<'static>, String, String, Vec<u8>, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test client CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut leaf_params = rcgen::CertificateParams::new(vec!["issuer.example".into()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "issuer system client");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (
        ca_cert.der().clone(),
        ca_cert.pem(),
        leaf.pem(),
        leaf.der().to_vec(),
        leaf_key.serialize_pem(),
    )
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Presents a fixed certificate and key, whatever they are (to present a key that does not
/// belong to the certificate).
#[derive(Debug)]
struct Present(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Present {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

fn presenting(server: &Server, cert_der: &[u8], key_pem: &str) -> rustls::ClientConfig {
    let key = rustls::pki_types::pem::PemObject::from_pem_slice(key_pem.as_bytes()).unwrap();
    let key: PrivateKeyDer<'static> = key;
    let signing_key = ring().key_provider.load_private_key(key).unwrap();
    let certified =
        rustls::sign::CertifiedKey::new(vec![CertificateDer::from(cert_der.to_vec())], signing_key);
    rustls::ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(server.roots())
        .with_client_cert_resolver(Arc::new(Present(Arc::new(certified))))
}

// ---------------------------------------------------------------------------------------------
// The server identity
// ---------------------------------------------------------------------------------------------

#[test]
fn identity_is_generated_once_then_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());

    let (first, info) = tls::load_or_generate(&config, Environment::Test).unwrap();
    assert_eq!(info.source, TlsSource::Generated);
    assert_eq!(info.fingerprint, first.fingerprint());
    assert_eq!(info.certificate_path, config.tls_certificate);
    // Colon-separated upper-case hex of SHA-256 of the leaf.
    let hex: Vec<String> = Sha256::digest(first.leaf())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(info.fingerprint, hex.join(":"));

    let (second, info) = tls::load_or_generate(&config, Environment::Test).unwrap();
    assert_eq!(info.source, TlsSource::Loaded);
    assert_eq!(second.certificates(), first.certificates());
    assert_eq!(second.fingerprint(), first.fingerprint());

    // Staging may also generate; production loads what exists.
    let (third, info) = tls::load_or_generate(&config, Environment::Production).unwrap();
    assert_eq!(info.source, TlsSource::Loaded);
    assert_eq!(third.leaf(), first.leaf());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&config.tls_key), 0o600);
        assert_eq!(mode(config.tls_key.parent().unwrap()), 0o700);
    }
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("tls"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // The key is never printed.
    let debug = format!("{first:?}");
    assert!(debug.contains("redacted"), "{debug}");
    let key_pem = std::fs::read_to_string(&config.tls_key).unwrap();
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert!(!debug.contains(&key_body[..20]), "{debug}");
}

#[test]
fn generated_certificate_says_what_it_is() {
    use x509_cert::der::Decode as _;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let (identity, _) = tls::load_or_generate(&config, Environment::Staging).unwrap();
    let cert = x509_cert::Certificate::from_der(identity.leaf()).unwrap();
    let tbs = &cert.tbs_certificate;
    assert!(
        tbs.subject.to_string().contains("inkan (generated)"),
        "{}",
        tbs.subject
    );
    let not_before = tbs.validity.not_before.to_unix_duration().as_secs();
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
    assert_eq!(not_after - not_before, 365 * 86_400);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(not_before <= now && now < not_before + 86_400);
    // ECDSA P-256 (id-ecPublicKey with prime256v1).
    let spki = &tbs.subject_public_key_info;
    assert_eq!(spki.algorithm.oid.to_string(), "1.2.840.10045.2.1");
    let curve = spki.algorithm.parameters.as_ref().unwrap();
    assert_eq!(
        curve
            .decode_as::<x509_cert::der::asn1::ObjectIdentifier>()
            .unwrap()
            .to_string(),
        "1.2.840.10045.3.1.7"
    );
}

#[test]
fn production_without_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    let err = tls::load_or_generate(&config, Environment::Production).unwrap_err();
    assert!(matches!(err, TlsError::CertificateRequired { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("production needs a TLS certificate"),
        "{err}"
    );
    // Nothing was generated.
    assert!(!config.tls_certificate.exists());
    assert!(!config.tls_key.exists());
}

#[test]
fn only_one_of_certificate_and_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    tls::load_or_generate(&config, Environment::Test).unwrap();

    // Key without certificate.
    let cert = std::fs::read(&config.tls_certificate).unwrap();
    std::fs::remove_file(&config.tls_certificate).unwrap();
    let err = tls::load_or_generate(&config, Environment::Test).unwrap_err();
    match &err {
        TlsError::Incomplete { present, missing } => {
            assert_eq!(present, &config.tls_key);
            assert_eq!(missing, &config.tls_certificate);
        }
        other => panic!("unexpected: {other}"),
    }
    assert!(
        !config.tls_certificate.exists(),
        "must not generate over a lone key"
    );

    // Certificate without key.
    std::fs::write(&config.tls_certificate, &cert).unwrap();
    std::fs::remove_file(&config.tls_key).unwrap();
    let err = tls::load_or_generate(&config, Environment::Production).unwrap_err();
    assert!(
        matches!(&err, TlsError::Incomplete { present, .. } if present == &config.tls_certificate),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn key_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    tls::load_or_generate(&config, Environment::Test).unwrap();
    std::fs::set_permissions(&config.tls_key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = tls::load_or_generate(&config, Environment::Test).unwrap_err();
    assert!(
        matches!(&err, TlsError::KeyPermissions { path, mode: 0o640 } if path == &config.tls_key),
        "{err}"
    );
    assert!(err.to_string().contains("server.key"), "{err}");
}

#[test]
fn malformed_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path());
    tls::load_or_generate(&config, Environment::Test).unwrap();
    let cert_pem = std::fs::read_to_string(&config.tls_certificate).unwrap();
    let key_pem = std::fs::read_to_string(&config.tls_key).unwrap();
    let load = || tls::load_or_generate(&config, Environment::Test).map(|_| ());
    let invalid_file = |err: TlsError| match err {
        TlsError::Invalid { path, reason } => (path, reason),
        other => panic!("unexpected: {other}"),
    };

    // Two keys.
    std::fs::write(&config.tls_key, format!("{key_pem}{key_pem}")).unwrap();
    let (path, reason) = invalid_file(load().unwrap_err());
    assert_eq!(path, config.tls_key);
    assert!(reason.contains("exactly one"), "{reason}");

    // A key of another pair.
    let (_, _, other_key) = self_signed_client("other");
    std::fs::write(&config.tls_key, &other_key).unwrap();
    let (path, reason) = invalid_file(load().unwrap_err());
    assert_eq!(path, config.tls_certificate);
    assert!(reason.contains("pair"), "{reason}");
    std::fs::write(&config.tls_key, &key_pem).unwrap();

    // A private key in the certificate file.
    std::fs::write(&config.tls_certificate, format!("{cert_pem}{key_pem}")).unwrap();
    let (path, reason) = invalid_file(load().unwrap_err());
    assert_eq!(path, config.tls_certificate);
    assert!(reason.contains("private key"), "{reason}");

    // No certificate at all.
    std::fs::write(&config.tls_certificate, "nothing here\n").unwrap();
    let (path, _) = invalid_file(load().unwrap_err());
    assert_eq!(path, config.tls_certificate);

    // Larger than 1 MiB.
    let mut big = cert_pem.clone();
    while big.len() <= 1024 * 1024 {
        big.push_str(&cert_pem);
    }
    std::fs::write(&config.tls_certificate, big).unwrap();
    let (path, reason) = invalid_file(load().unwrap_err());
    assert_eq!(path, config.tls_certificate);
    assert!(reason.contains("1 MiB"), "{reason}");

    // Back to the real files: loads again.
    std::fs::write(&config.tls_certificate, &cert_pem).unwrap();
    load().unwrap();
}

#[test]
fn anchors_are_loaded_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_der, ca_pem, _, _, ca_leaf_key) = ca_and_client();
    let good = dir.path().join("ca.pem");
    std::fs::write(&good, &ca_pem).unwrap();
    assert_eq!(
        tls::load_anchors(std::slice::from_ref(&good)).unwrap(),
        vec![ca_der]
    );
    assert!(tls::load_anchors(&[]).unwrap().is_empty());

    let with_key = dir.path().join("with-key.pem");
    std::fs::write(&with_key, format!("{ca_pem}{ca_leaf_key}")).unwrap();
    let err = tls::load_anchors(&[good.clone(), with_key.clone()]).unwrap_err();
    assert!(
        matches!(&err, TlsError::Invalid { path, .. } if path == &with_key),
        "{err}"
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let err = tls::load_anchors(std::slice::from_ref(&empty)).unwrap_err();
    assert!(
        matches!(&err, TlsError::Invalid { path, .. } if path == &empty),
        "{err}"
    );

    let missing = dir.path().join("missing.pem");
    let err = tls::load_anchors(&[missing]).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The listener
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn without_client_certificate_the_peer_is_none() {
    let server = Server::start(Vec::new()).await;
    let text = get_text(&server.client(None), &server.url("/")).await;
    let (peer, remote) = text.split_once(' ').unwrap();
    assert_eq!(peer, "none");
    let remote: SocketAddr = remote.parse().unwrap();
    assert_eq!(remote.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_ne!(remote.port(), server.addr.port());

    // The generated certificate also names localhost and the configured extra name.
    for name in ["localhost", "inkan.test"] {
        let client = server
            .client_builder()
            .resolve(name, server.addr)
            .build()
            .unwrap();
        let url = format!("https://{name}:{}/", server.addr.port());
        assert!(get_text(&client, &url).await.starts_with("none "));
    }
    server.shut_down().await;
}

#[tokio::test]
async fn self_signed_client_certificate_gives_its_thumbprint_unverified() {
    let (ca_der, _, _, _, _) = ca_and_client();
    for anchors in [Vec::new(), vec![ca_der]] {
        let server = Server::start(anchors).await;
        let (cert_pem, cert_der, key_pem) = self_signed_client("system-client");
        let client = server.client(Some(identity(&cert_pem, &key_pem)));
        let text = get_text(&client, &server.url("/")).await;
        let parts: Vec<&str> = text.split(' ').collect();
        assert_eq!(parts[0], expected_thumbprint(&cert_der), "{text}");
        assert_eq!(parts[1], "false", "{text}");
        server.shut_down().await;
    }
}

#[tokio::test]
async fn client_certificate_from_an_anchor_is_chain_verified() {
    let (ca_der, _, leaf_pem, leaf_der, leaf_key) = ca_and_client();
    let server = Server::start(vec![ca_der]).await;
    let client = server.client(Some(identity(&leaf_pem, &leaf_key)));
    let text = get_text(&client, &server.url("/")).await;
    let parts: Vec<&str> = text.split(' ').collect();
    assert_eq!(parts[0], expected_thumbprint(&leaf_der), "{text}");
    assert_eq!(parts[1], "true", "{text}");
    server.shut_down().await;

    // The same certificate without anchors is not verified.
    let server = Server::start(Vec::new()).await;
    let client = server.client(Some(identity(&leaf_pem, &leaf_key)));
    let text = get_text(&client, &server.url("/")).await;
    assert!(
        text.starts_with(&format!("{} false ", expected_thumbprint(&leaf_der))),
        "{text}"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn client_certificate_without_its_key_is_refused() {
    let server = Server::start(Vec::new()).await;
    let (_, cert_der, key_pem) = self_signed_client("honest");
    let (_, _, other_key_pem) = self_signed_client("thief");

    // Control: the same raw rustls client with the right key works.
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(presenting(&server, &cert_der, &key_pem))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let text = get_text(&client, &server.url("/")).await;
    assert!(text.starts_with(&expected_thumbprint(&cert_der)), "{text}");

    // The certificate with someone else's key: the handshake signature does not verify.
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(presenting(&server, &cert_der, &other_key_pem))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let result = client.get(server.url("/")).send().await;
    assert!(result.is_err(), "{result:?}");
    server.shut_down().await;
}

#[tokio::test]
async fn only_tls_1_3_with_http_1_1_is_negotiated() {
    let server = Server::start(Vec::new()).await;

    // reqwest limited to TLS 1.2 cannot connect (the client builds; the handshake fails).
    let client = server
        .client_builder()
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");

    // A raw TLS 1.2 client: the server answers with a protocol_version alert.
    let config = rustls::ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(server.roots())
        .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let err = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap_err();
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a TLS error: {err:?}"));
    assert_eq!(
        inner,
        &rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion)
    );

    // A client offering 1.2 and 1.3 and two protocols gets 1.3 and http/1.1.
    let mut config = rustls::ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(server.roots())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (_, connection) = stream.get_ref();
    assert_eq!(
        connection.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(connection.alpn_protocol(), Some(&b"http/1.1"[..]));
    drop(stream);

    // The failed handshakes did not disturb the listener.
    assert!(
        get_text(&server.client(None), &server.url("/"))
            .await
            .starts_with("none ")
    );
    server.shut_down().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_returns() {
    let server = Server::start(Vec::new()).await;
    let client = server.client(None);
    // An idle keep-alive connection in the client's pool…
    assert!(
        get_text(&client, &server.url("/"))
            .await
            .starts_with("none ")
    );
    // …a connection stuck before its handshake…
    let _stalled = TcpStream::connect(server.addr).await.unwrap();
    // …and a request in flight.
    let in_flight = tokio::spawn({
        let client = server.client(None);
        let url = server.url("/slow");
        async move { get_text(&client, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let addr = server.addr;
    let took = server.shut_down().await;
    assert_eq!(in_flight.await.unwrap(), "done");
    // Neither the idle nor the stalled connection held shutdown to the 10 s grace period.
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // No longer accepting.
    assert!(TcpStream::connect(addr).await.is_err());
}
