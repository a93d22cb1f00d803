//! The cost of a key status check when the list is cached and fresh (criteria 2.2.3(1)B: the
//! check happens at every signature, so with a fresh cache it must add no network round trip).
//!
//! Setup: an HTTPS status server on 127.0.0.1 (this bench's own TLS listener) serves an IETF
//! Status List Token and a W3C `BitstringStatusListCredential` (`vc+jwt`, 131,072 entries),
//! both signed with an Ed25519 key in a software token configured as the trust anchor; one
//! check fills the cache, then the clock stands still so every measured check is answered from
//! the cache. The bench asserts the server saw exactly one request per list.
//!
//! Then signing with the check against signing with status checks off (criteria 2.2.3(1)B's
//! cost at the device: an ES256 key in the same software token), printed as ratios measured in
//! the same run.
//!
//! Owns only measurements: it must never become a timed test or a pass/fail gate.
//! `cargo bench -p inkan-server --bench status_check` takes a few seconds.

use criterion::Criterion;
use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use inkan_formats::KeyRef;
use inkan_formats::jose::{KeyHint, sign_compact, vc_jwt};
use inkan_formats::signer::DeviceSigner;
use inkan_formats::status::bitstring::MIN_ENTRIES;
use inkan_formats::status::token::JWT_TYP;
use inkan_formats::status::{
    BitstringStatusList, BitstringStatusListCredential, BitstringStatusListEntry,
    StatusListReference, StatusListToken, StatusPurpose, TokenStatusList,
};
use inkan_server::api::{listener, tls};
use inkan_server::clock::ManualClock;
use inkan_server::config::{ServerConfig, StatusConfig};
use inkan_server::environment::Environment;
use inkan_server::status::{KeyStatus, StatusChecker, StatusSource};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const START: i64 = 1_795_651_200_000;

type Documents = Arc<Mutex<HashMap<String, Vec<u8>>>>;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let requests = Arc::new(AtomicUsize::new(0));
    let documents: Documents = Arc::default();

    // The HTTPS status server.
    let server_config = ServerConfig {
        tls_certificate: dir.path().join("tls/server.crt"),
        tls_key: dir.path().join("tls/server.key"),
        ..ServerConfig::default()
    };
    let base = rt.block_on(async {
        let (identity, _) = tls::load_or_generate(&server_config, Environment::Test).expect("tls");
        let tls_config = tls::server_config(&identity, &[]).expect("tls config");
        let (docs, count) = (documents.clone(), requests.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (docs, count) = (docs.clone(), count.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                docs.lock()
                    .expect("documents")
                    .get(uri.path())
                    .cloned()
                    .unwrap_or_default()
            }
        });
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = tcp.local_addr().expect("addr").port();
        tokio::spawn(listener::serve(
            tcp,
            tls_config,
            Vec::new(),
            app,
            listener::DEFAULT_MAX_CONNECTIONS,
            listener::Peers::Clients,
            std::future::pending(),
        ));
        format!("https://localhost:{port}")
    });

    // The list issuer, and the two lists.
    let device = Arc::new(
        SoftDevice::open(&SoftConfig {
            path: dir.path().join("token"),
            kek: KekSource::File(dir.path().join("kek")),
        })
        .expect("soft token"),
    );
    let generated = device.generate(KeySpec::Ed25519, "lists").expect("key");
    let key = KeyRef {
        handle: generated.handle,
        algorithm: Algorithm::EdDsa,
        public_key: generated.public_key,
        kid: Some("lists".into()),
        certificate_chain: Vec::new(),
    };
    let device_for_signing = device.clone();
    let signer = DeviceSigner::new(device);
    let anchor = dir.path().join("anchor.pem");
    std::fs::write(&anchor, key.public_key.to_pem()).expect("anchor");
    let token_url = format!("{base}/token");
    let w3c_url = format!("{base}/w3c");
    // The W3C list credential served (131,072 entries, all valid), also read directly below.
    let w3c_document = BitstringStatusListCredential::unsigned(
        &w3c_url,
        "did:example:lists",
        &StatusPurpose::Revocation,
        &BitstringStatusList::new(MIN_ENTRIES, 1).expect("list"),
        None,
        None,
        Some(3_600_000),
    )
    .expect("credential");
    rt.block_on(async {
        let token = StatusListToken {
            sub: token_url.clone(),
            iat: u64::try_from(START / 1000).expect("iat"),
            exp: None,
            ttl: Some(3600),
            status_list: TokenStatusList::new(1 << 16, 2).expect("list"),
        };
        let claims = serde_json::to_vec(&token.to_jwt_claims().expect("claims")).expect("json");
        let jwt = sign_compact(
            &signer,
            &key,
            Some(JWT_TYP),
            KeyHint::Kid,
            &serde_json::Map::new(),
            &claims,
        )
        .await
        .expect("sign");
        let vc = vc_jwt::issue_vc_jwt(&signer, &key, &w3c_document, KeyHint::Kid)
            .await
            .expect("vc");
        let mut docs = documents.lock().expect("documents");
        docs.insert("/token".into(), jwt.into_bytes());
        docs.insert("/w3c".into(), vc.into_bytes());
    });

    let config = StatusConfig {
        ca_files: vec![server_config.tls_certificate.clone()],
        trust_anchors: vec![anchor],
        ..StatusConfig::default()
    };
    let checker = StatusChecker::new(&config, Arc::new(ManualClock::new(START))).expect("checker");
    let token = StatusSource::Token(StatusListReference {
        idx: 1234,
        uri: token_url,
    });
    let w3c = StatusSource::Bitstring(BitstringStatusListEntry {
        id: None,
        status_purpose: StatusPurpose::Revocation,
        status_list_index: 1234,
        status_list_credential: w3c_url,
        status_size: 1,
        status_messages: Vec::new(),
        status_reference: Vec::new(),
    });
    for source in [&token, &w3c] {
        let first = rt.block_on(checker.check(source));
        assert_eq!(first.status, KeyStatus::Valid, "{first:?}");
    }

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut group = c.benchmark_group("status_check_fresh_cache");
    group.bench_function("ietf_token_status_list", |b| {
        b.iter(|| rt.block_on(checker.check(&token)))
    });
    group.bench_function("w3c_bitstring_status_list", |b| {
        b.iter(|| rt.block_on(checker.check(&w3c)))
    });
    group.finish();

    // The W3C lookup alone, as the checker made it before issue 16 (the 131,072-entry list
    // decompressed on every check) and as it makes it now (decoded once at fetch time, kept in
    // the cache), on the same list credential.
    let credential =
        BitstringStatusListCredential::from_verified_json(&w3c_document).expect("list credential");
    let StatusSource::Bitstring(entry) = &w3c else {
        unreachable!("the W3C source is a Bitstring entry")
    };
    let decoded = credential.list(1).expect("decoded");
    let mut group = c.benchmark_group("w3c_entry_lookup");
    group.bench_function("decompressed_each_check", |b| {
        b.iter(|| credential.check(entry).expect("check"))
    });
    group.bench_function("decoded_once", |b| {
        b.iter(|| credential.check_decoded(&decoded, entry).expect("check"))
    });
    group.finish();

    // Signing with the status check against signing without it: an ES256 key in the same soft
    // token, the check answered from the fresh cache.
    let seal = device_for_signing
        .generate(KeySpec::P256, "seal")
        .expect("key");
    let message = [7u8; 200];
    let sign = || {
        device_for_signing
            .sign(&seal.handle, Algorithm::Es256, &message)
            .expect("sign")
    };
    let mut group = c.benchmark_group("sign_es256");
    group.bench_function("status_checks_off", |b| b.iter(sign));
    group.bench_function("token_status_fresh_cache", |b| {
        b.iter(|| {
            let check = rt.block_on(checker.check(&token));
            assert_eq!(check.status, KeyStatus::Valid);
            sign()
        })
    });
    group.bench_function("w3c_status_fresh_cache", |b| {
        b.iter(|| {
            let check = rt.block_on(checker.check(&w3c));
            assert_eq!(check.status, KeyStatus::Valid);
            sign()
        })
    });
    group.finish();
    // The same as ratios measured in this run (signatures per second with the check, over
    // without it), for docs/benchmarks.md.
    let rate = |f: &dyn Fn()| {
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < Duration::from_secs(2) {
            f();
            n += 1;
        }
        f64::from(n) / start.elapsed().as_secs_f64()
    };
    let off = rate(&|| {
        sign();
    });
    let token_on = rate(&|| {
        rt.block_on(checker.check(&token));
        sign();
    });
    let w3c_on = rate(&|| {
        rt.block_on(checker.check(&w3c));
        sign();
    });
    println!(
        "signing ES256: {off:.0}/s with status checks off; token list {token_on:.0}/s (ratio \
         {:.3}); W3C list {w3c_on:.0}/s (ratio {:.3})",
        token_on / off,
        w3c_on / off
    );
    assert_eq!(
        requests.load(Ordering::SeqCst),
        2,
        "a fresh cache must make no request"
    );
    c.final_summary();
}
