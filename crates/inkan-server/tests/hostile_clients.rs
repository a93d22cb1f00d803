#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! Hostile clients against a running node (issue 20's proving ground; criteria 2.1.3(6)-(9),
//! 2.2.4(1)), over real sockets: 500 connections opened and left silent, connections that send
//! bytes that are not TLS, TLS connections that start a request's headers and never finish
//! them, a 10 MiB body, JSON nested 100,000 deep. Throughout, a well-behaved system client is
//! served as usual; the silent and slow connections are closed by the server within its
//! handshake and header timeouts; the oversized and overdeep requests are refused with a
//! clear 4xx. And at `[server] max_connections` the node accepts nothing more until
//! connections end, then serves the next at once.

mod common;

use common::Engine;
use common::issuing::{Issuing, credential, issuing_client_with};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Silent connections held open.
const SILENT: usize = 500;
/// The server's handshake and header timeouts (10 s each), and some slack.
const CLOSED_WITHIN: Duration = Duration::from_secs(15);
/// How long a well-behaved request may take while the hostile ones are held.
const SERVED_WITHIN: Duration = Duration::from_secs(5);

/// The node's address from its URL (`https://localhost:PORT`).
fn address(url: &str) -> String {
    let port = url.rsplit(':').next().unwrap();
    format!("127.0.0.1:{port}")
}

/// One well-behaved issuance, which must succeed in time.
async fn issue_well(mtls: &reqwest::Client, url: &str, access: &str, key_id: &str) {
    let started = Instant::now();
    let issued = mtls
        .post(format!("{url}/credentials/issue"))
        .bearer_auth(access)
        .json(&json!({"credential": credential(), "options": {"credentialId": key_id, "format": "vc+jwt"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201, "{}", issued.text().await.unwrap());
    assert!(
        started.elapsed() < SERVED_WITHIN,
        "a well-behaved issuance took {:?}",
        started.elapsed()
    );
}

/// Whether the server has closed `stream` (end of stream or reset) within `within`.
async fn closed_by_server(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    within: Duration,
) -> bool {
    let mut buffer = [0u8; 512];
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {} // an alert or an error page; read on to the end
        }
    }
}

/// A TLS client that trusts the node's certificate.
fn tls_connector(server_certificate: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        <rustls_pki_types::CertificateDer as rustls_pki_types::pem::PemObject>::pem_slice_iter(
            server_certificate,
        )
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_clients_do_not_keep_a_well_behaved_one_from_being_served() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client_with(Engine::SqliteFile, json!({"operations": ["sign"]}), "").await;
    let address = address(&h.url);

    // 500 silent connections, and 20 that send what is not TLS.
    let mut silent = Vec::new();
    for _ in 0..SILENT {
        silent.push(TcpStream::connect(&address).await.unwrap());
    }
    let mut garbage = Vec::new();
    for i in 0..20u8 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        let noise: Vec<u8> = (0..4096u32)
            .map(|n| (n as u8).wrapping_mul(31).wrapping_add(i))
            .collect();
        stream.write_all(&noise).await.unwrap();
        garbage.push(stream);
    }
    // 10 TLS connections that start a request and never finish its headers.
    let connector = tls_connector(&h.server_cert);
    let mut slow = Vec::new();
    for _ in 0..10 {
        let tcp = TcpStream::connect(&address).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"POST /credentials/issue HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            .await
            .unwrap();
        tls.flush().await.unwrap();
        slow.push(tls);
    }

    // Served as usual meanwhile.
    for _ in 0..10 {
        issue_well(&mtls, &h.url, &access, &key_id).await;
    }
    let health = h
        .http
        .get(format!("{}/health", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // A 10 MiB body (the limit is 1 MiB by default) is refused from its length alone, before a
    // byte of it is read.
    let tcp = TcpStream::connect(&address).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(
        b"POST /credentials/issue HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 10485760\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(SERVED_WITHIN, tls.read(&mut buffer))
            .await
            .expect("no answer to a 10 MiB body's headers")
            .unwrap();
        assert!(read > 0, "closed without an answer");
        answer.extend_from_slice(&buffer[..read]);
    }
    let status_line = String::from_utf8_lossy(&answer);
    assert!(
        status_line.starts_with("HTTP/1.1 413"),
        "a 10 MiB body: {status_line}"
    );
    // JSON nested 100,000 deep (200 KB, under the limit) is refused as bad input.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let refused = mtls
        .post(format!("{}/credentials/issue", h.url))
        .bearer_auth(&access)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"credential": {deep}, "options": {{"credentialId": "{key_id}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "JSON nested 100,000 deep");
    let answer: Value = refused.json().await.unwrap();
    assert!(answer["error_description"].is_string(), "{answer}");
    issue_well(&mtls, &h.url, &access, &key_id).await;

    // The server ends what it was sent garbage at once, and the silent and slow ones within
    // its timeouts.
    for stream in &mut garbage {
        assert!(
            closed_by_server(stream, Duration::from_secs(2)).await,
            "garbage kept open"
        );
    }
    let started = Instant::now();
    for stream in silent.iter_mut().step_by(100) {
        assert!(
            closed_by_server(stream, CLOSED_WITHIN).await,
            "a silent connection kept open"
        );
    }
    for stream in &mut slow {
        assert!(
            closed_by_server(stream, CLOSED_WITHIN).await,
            "unfinished headers kept open"
        );
    }
    eprintln!(
        "hostile clients: {SILENT} silent, 20 garbage, 10 slow-header connections; the well-behaved \
         client served throughout; the silent and slow ones closed by the server within {:?}",
        started.elapsed()
    );
    issue_well(&mtls, &h.url, &access, &key_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_max_connections_nothing_more_is_served_until_connections_end() {
    // A node that nobody has talked to yet: the eight connections below are all it has.
    let h = common::server::Harness::start_tuned(
        Engine::SqliteMemory,
        "test",
        None,
        "max_connections = 8",
        "",
    )
    .await;
    let address = address(&h.url);
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(TcpStream::connect(&address).await.unwrap());
    }
    // The kernel queues the ninth; the node does not take it while eight are open.
    let fresh = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&h.server_cert).unwrap())
        .build()
        .unwrap();
    let waiting = tokio::spawn({
        let url = h.url.clone();
        async move {
            let answer = fresh.get(format!("{url}/health")).send().await.unwrap();
            answer.status().as_u16()
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !waiting.is_finished(),
        "a ninth connection was served at a limit of eight"
    );
    // They end: the waiting one is served at once (not after the 10 s handshake timeout).
    held.clear();
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting connection was not served once the others ended")
        .unwrap();
    assert_eq!(status, 200);
}
