//! The status checker (criteria 2.2.3(1)B) against a real HTTPS status server started here
//! (this test's own TLS listener, whose certificate the checker trusts through `[status]
//! ca_files`), serving lists the test signs itself with a key in a software token, configured as
//! the checker's trust anchor.
//!
//! - IETF Token Status List (`statuslist+jwt` and `statuslist+cwt`) and W3C Bitstring Status List (as `vc+jwt` and with a Data Integrity
//!   proof): the server's content changes mid-run (valid → suspended → valid → revoked), each
//!   change seen once the cache has expired on the manual clock and not before; a fresh cache
//!   makes no request (the server counts them).
//! - fail closed: an unreachable server, a list signed by another key, a list over the size
//!   limit, an `http://` URL, a token for another URL, and a stale list whose refetch fails are
//!   each `Unknown`, never the old `Valid`.
//! - single flight: 20 concurrent checks of a stale URL make one request.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::status_server::StatusServer;
use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use inkan_formats::KeyRef;
use inkan_formats::data_integrity::{self as di, Cryptosuite, ProofOptions};
use inkan_formats::jose::{KeyHint, sign_compact, vc_jwt};
use inkan_formats::mdoc::cose;
use inkan_formats::signer::DeviceSigner;
use inkan_formats::status::bitstring::MIN_ENTRIES;
use inkan_formats::status::token::{CWT_TYP, JWT_TYP};
use inkan_formats::status::{
    BitstringStatusList, BitstringStatusListCredential, BitstringStatusListEntry,
    StatusListReference, StatusListToken, StatusPurpose, TokenStatusList,
};
use inkan_server::auth::operators::OperatorRole;
use inkan_server::clock::{Clock as _, ManualClock};
use inkan_server::config::StatusConfig;
use inkan_server::status::{KeyStatus, StatusCheck, StatusChecker, StatusSource};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

const START: i64 = 1_795_651_200_000;
const SECOND: i64 = 1_000;

// ---------------------------------------------------------------------------------------------
// The list issuer: a key in a software token

struct Issuer {
    signer: DeviceSigner,
    key: KeyRef,
    _dir: tempfile::TempDir,
}

impl Issuer {
    fn new(name: &str) -> Issuer {
        let dir = tempfile::tempdir().unwrap();
        let device = Arc::new(
            SoftDevice::open(&SoftConfig {
                path: dir.path().join("token"),
                kek: KekSource::File(dir.path().join("kek")),
            })
            .unwrap(),
        );
        let generated = device.generate(KeySpec::Ed25519, name).unwrap();
        let key = KeyRef {
            handle: generated.handle,
            algorithm: Algorithm::EdDsa,
            public_key: generated.public_key,
            kid: Some(name.to_string()),
            certificate_chain: Vec::new(),
        };
        Issuer {
            signer: DeviceSigner::new(device),
            key,
            _dir: dir,
        }
    }

    /// The public key as a PEM file, for `[status] trust_anchors`.
    fn anchor_file(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join(format!(
            "anchor-{}.pem",
            self.key.public_key.jwk_thumbprint()
        ));
        std::fs::write(&path, self.key.public_key.to_pem()).unwrap();
        path
    }

    /// A signed `statuslist+jwt` for `sub`, with `statuses` (2 bits per entry) at iat = now.
    async fn token(
        &self,
        sub: &str,
        statuses: &[(u64, u8)],
        ttl: Option<u64>,
        exp: Option<u64>,
    ) -> Vec<u8> {
        let mut list = TokenStatusList::new(64, 2).unwrap();
        for (index, value) in statuses {
            list.set(*index, *value).unwrap();
        }
        self.token_of(sub, list, ttl, exp).await
    }

    async fn token_of(
        &self,
        sub: &str,
        list: TokenStatusList,
        ttl: Option<u64>,
        exp: Option<u64>,
    ) -> Vec<u8> {
        let token = StatusListToken {
            sub: sub.to_string(),
            iat: u64::try_from(START / 1000).unwrap(),
            exp,
            ttl,
            status_list: list,
        };
        let claims = serde_json::to_vec(&token.to_jwt_claims().unwrap()).unwrap();
        sign_compact(
            &self.signer,
            &self.key,
            Some(JWT_TYP),
            KeyHint::Kid,
            &serde_json::Map::new(),
            &claims,
        )
        .await
        .unwrap()
        .into_bytes()
    }

    /// A signed `application/statuslist+cwt` (untagged `COSE_Sign1`, protected `typ` as given)
    /// for `sub`, with `statuses` (2 bits per entry) at iat = now.
    async fn token_cwt(
        &self,
        sub: &str,
        statuses: &[(u64, u8)],
        ttl: Option<u64>,
        typ: &str,
    ) -> Vec<u8> {
        let mut list = TokenStatusList::new(64, 2).unwrap();
        for (index, value) in statuses {
            list.set(*index, *value).unwrap();
        }
        let token = StatusListToken {
            sub: sub.to_string(),
            iat: u64::try_from(START / 1000).unwrap(),
            exp: None,
            ttl,
            status_list: list,
        };
        let claims = token.to_cwt_claims().unwrap();
        let sign1 = cose::sign_typed(&self.signer, &self.key, &claims, typ)
            .await
            .unwrap();
        cose::to_bytes(sign1).unwrap()
    }

    fn credential(
        &self,
        url: &str,
        purpose: &StatusPurpose,
        set: &[u64],
        ttl_ms: Option<u64>,
    ) -> serde_json::Value {
        let mut list = BitstringStatusList::new(MIN_ENTRIES, 1).unwrap();
        for index in set {
            list.set(*index, 1).unwrap();
        }
        BitstringStatusListCredential::unsigned(
            url,
            &self.key.public_key.did_key(),
            purpose,
            &list,
            None,
            None,
            ttl_ms,
        )
        .unwrap()
    }

    /// A `BitstringStatusListCredential` as `vc+jwt`.
    async fn w3c_jwt(
        &self,
        url: &str,
        purpose: &StatusPurpose,
        set: &[u64],
        ttl_ms: Option<u64>,
    ) -> Vec<u8> {
        let credential = self.credential(url, purpose, set, ttl_ms);
        vc_jwt::issue_vc_jwt(&self.signer, &self.key, &credential, KeyHint::Kid)
            .await
            .unwrap()
            .into_bytes()
    }

    /// A `BitstringStatusListCredential` with an `eddsa-jcs-2022` Data Integrity proof.
    async fn w3c_di(
        &self,
        url: &str,
        purpose: &StatusPurpose,
        set: &[u64],
        ttl_ms: Option<u64>,
    ) -> Vec<u8> {
        let credential = self.credential(url, purpose, set, ttl_ms);
        let mut options = ProofOptions::assertion(Cryptosuite::EddsaJcs2022);
        options.created = Some("2026-01-01T00:00:00Z".into());
        let secured = di::sign(&credential, &self.signer, &self.key, &options)
            .await
            .unwrap();
        serde_json::to_vec(&secured).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

struct Setup {
    server: StatusServer,
    issuer: Issuer,
    clock: Arc<ManualClock>,
    checker: Arc<StatusChecker>,
    _dir: tempfile::TempDir,
}

async fn setup_with(configure: impl FnOnce(&mut StatusConfig)) -> Setup {
    let server = StatusServer::start().await;
    let issuer = Issuer::new("lists");
    let dir = tempfile::tempdir().unwrap();
    let mut config = StatusConfig {
        ca_files: vec![server.tls.ca_file.clone()],
        trust_anchors: vec![issuer.anchor_file(dir.path())],
        fetch_timeout_seconds: 5,
        ..StatusConfig::default()
    };
    configure(&mut config);
    let clock = Arc::new(ManualClock::new(START));
    let checker = Arc::new(StatusChecker::new(&config, clock.clone()).unwrap());
    Setup {
        server,
        issuer,
        clock,
        checker,
        _dir: dir,
    }
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

fn token_ref(uri: &str, idx: u64) -> StatusSource {
    StatusSource::Token(StatusListReference {
        idx,
        uri: uri.to_string(),
    })
}

fn w3c_entry(url: &str, index: u64, purpose: StatusPurpose) -> StatusSource {
    StatusSource::Bitstring(BitstringStatusListEntry {
        id: None,
        status_purpose: purpose,
        status_list_index: index,
        status_list_credential: url.to_string(),
        status_size: 1,
        status_messages: Vec::new(),
        status_reference: Vec::new(),
    })
}

fn unknown_reason(check: &StatusCheck) -> &str {
    match &check.status {
        KeyStatus::Unknown(reason) => reason,
        other => panic!("expected Unknown, got {other:?}"),
    }
}

const TOKEN_TYPE: &str = "application/statuslist+jwt";
const TOKEN_CWT_TYPE: &str = "application/statuslist+cwt";
const VC_JWT_TYPE: &str = "application/vc+jwt";
const VC_TYPE: &str = "application/vc";

// ---------------------------------------------------------------------------------------------
// IETF Token Status List

#[tokio::test]
async fn token_status_changes_are_seen_once_the_cache_expires() {
    let s = setup().await;
    let path = "/tokens/1";
    let url = s.server.url(path);
    let source = token_ref(&url, 7);
    let publish = |statuses: Vec<(u64, u8)>| {
        let (issuer, url) = (&s.issuer, url.clone());
        async move { issuer.token(&url, &statuses, Some(60), None).await }
    };

    let body = publish(vec![(3, 1)]).await;
    s.server.put(path, body.clone(), TOKEN_TYPE, None);
    let first = s.checker.check(&source).await;
    assert_eq!(first.status, KeyStatus::Valid);
    assert_eq!(first.checked_at, START);
    let evidence = first.evidence.clone().unwrap();
    assert_eq!(evidence.url, url);
    assert_eq!(evidence.entry, "index 7");
    assert_eq!(evidence.list_sha256, hex::encode(Sha256::digest(&body)));
    assert_eq!(evidence.issued_at, Some(START / 1000));
    assert_eq!(evidence.ttl_ms, Some(60_000));
    assert_eq!(evidence.fetched_at, START);
    assert_eq!(s.server.requests(path), 1);

    // Suspended on the server; the cache is fresh for 60 s: no request, still valid.
    s.server
        .put(path, publish(vec![(3, 1), (7, 2)]).await, TOKEN_TYPE, None);
    s.clock.advance(59 * SECOND);
    assert_eq!(s.checker.check(&source).await.status, KeyStatus::Valid);
    assert_eq!(s.server.requests(path), 1, "a fresh cache makes no request");

    s.clock.advance(2 * SECOND);
    let suspended = s.checker.check(&source).await;
    assert_eq!(suspended.status, KeyStatus::Suspended);
    assert_eq!(suspended.checked_at, START + 61 * SECOND);
    assert_eq!(s.server.requests(path), 2);
    // Another index of the same list comes from the same (cached) fetch.
    assert_eq!(
        s.checker.check(&token_ref(&url, 3)).await.status,
        KeyStatus::Revoked
    );
    assert_eq!(s.server.requests(path), 2);

    s.server.put(path, publish(vec![]).await, TOKEN_TYPE, None);
    s.clock.advance(61 * SECOND);
    assert_eq!(s.checker.check(&source).await.status, KeyStatus::Valid);
    assert_eq!(s.server.requests(path), 3);

    let revoked_body = publish(vec![(7, 1)]).await;
    s.server.put(path, revoked_body.clone(), TOKEN_TYPE, None);
    s.clock.advance(61 * SECOND);
    let revoked = s.checker.check(&source).await;
    assert_eq!(revoked.status, KeyStatus::Revoked);
    assert_eq!(
        revoked.evidence.unwrap().list_sha256,
        hex::encode(Sha256::digest(&revoked_body))
    );
    assert_eq!(s.server.requests(path), 4);
}

/// Issue 16 (5): CWT Status List Tokens are read as JWT ones are — tagged or not, signed by a
/// trust anchor, typed `application/statuslist+cwt`, for the URL fetched, followed as they
/// change; one of another type, or signed by another key, is `Unknown`.
#[tokio::test]
async fn cwt_status_lists_are_verified_and_followed() {
    let s = setup().await;
    let path = "/tokens/cwt";
    let url = s.server.url(path);
    let source = token_ref(&url, 5);
    let body = s.issuer.token_cwt(&url, &[(1, 1)], Some(60), CWT_TYP).await;
    s.server.put(path, body.clone(), TOKEN_CWT_TYPE, None);
    let first = s.checker.check(&source).await;
    assert_eq!(first.status, KeyStatus::Valid);
    let evidence = first.evidence.unwrap();
    assert_eq!(evidence.list_sha256, hex::encode(Sha256::digest(&body)));
    assert_eq!(evidence.ttl_ms, Some(60_000));
    assert_eq!(
        s.checker.check(&token_ref(&url, 1)).await.status,
        KeyStatus::Revoked
    );
    assert_eq!(s.server.requests(path), 1);

    // Suspended, served tagged (CBOR tag 18) this time: seen once the cache expires.
    let mut tagged = vec![0xd2];
    tagged.extend(s.issuer.token_cwt(&url, &[(5, 2)], Some(60), CWT_TYP).await);
    s.server.put(path, tagged, TOKEN_CWT_TYPE, None);
    s.clock.advance(30 * SECOND);
    assert_eq!(s.checker.check(&source).await.status, KeyStatus::Valid);
    s.clock.advance(31 * SECOND);
    assert_eq!(s.checker.check(&source).await.status, KeyStatus::Suspended);
    assert_eq!(s.server.requests(path), 2);

    // Another CWT type signed by the anchor, a list signed by another key, a CWT for another
    // URL: each Unknown.
    let other_type = s.server.url("/tokens/cwt-typ");
    s.server.put(
        "/tokens/cwt-typ",
        s.issuer
            .token_cwt(&other_type, &[], None, "application/cwt")
            .await,
        TOKEN_CWT_TYPE,
        None,
    );
    let check = s.checker.check(&token_ref(&other_type, 0)).await;
    assert!(
        unknown_reason(&check).contains("statuslist+cwt"),
        "{check:?}"
    );
    let impostor = Issuer::new("impostor");
    let signed_elsewhere = s.server.url("/tokens/cwt-impostor");
    s.server.put(
        "/tokens/cwt-impostor",
        impostor
            .token_cwt(&signed_elsewhere, &[], None, CWT_TYP)
            .await,
        TOKEN_CWT_TYPE,
        None,
    );
    let check = s.checker.check(&token_ref(&signed_elsewhere, 0)).await;
    assert!(unknown_reason(&check).contains("trust anchor"), "{check:?}");
    let moved = s.server.url("/tokens/cwt-moved");
    s.server.put(
        "/tokens/cwt-moved",
        s.issuer.token_cwt(&url, &[], None, CWT_TYP).await,
        TOKEN_CWT_TYPE,
        None,
    );
    let check = s.checker.check(&token_ref(&moved, 0)).await;
    assert!(unknown_reason(&check).contains("sub"), "{check:?}");
    // Bytes that are neither a JWT nor a COSE_Sign1.
    s.server.put(
        "/tokens/junk",
        b"\x01\x02junk".to_vec(),
        TOKEN_CWT_TYPE,
        None,
    );
    let check = s
        .checker
        .check(&token_ref(&s.server.url("/tokens/junk"), 0))
        .await;
    assert!(unknown_reason(&check).contains("neither"), "{check:?}");
}

#[tokio::test]
async fn cache_lifetime_follows_max_age_the_cap_and_exp() {
    let s = setup_with(|c| c.max_cache_seconds = 100).await;
    // No ttl, Cache-Control max-age 30: refetched after 30 s.
    let (p1, u1) = ("/tokens/max-age", s.server.url("/tokens/max-age"));
    s.server.put(
        p1,
        s.issuer.token(&u1, &[], None, None).await,
        TOKEN_TYPE,
        Some("public, max-age=30"),
    );
    // ttl of a day: capped by max_cache_seconds (100 s).
    let (p2, u2) = ("/tokens/long", s.server.url("/tokens/long"));
    s.server.put(
        p2,
        s.issuer.token(&u2, &[], Some(86_400), None).await,
        TOKEN_TYPE,
        None,
    );
    // exp in 20 s with a long ttl: never used past exp.
    let (p3, u3) = ("/tokens/exp", s.server.url("/tokens/exp"));
    let exp = u64::try_from(START / 1000 + 20).unwrap();
    s.server.put(
        p3,
        s.issuer.token(&u3, &[], Some(3600), Some(exp)).await,
        TOKEN_TYPE,
        None,
    );

    for u in [&u1, &u2, &u3] {
        assert_eq!(
            s.checker.check(&token_ref(u, 0)).await.status,
            KeyStatus::Valid
        );
    }
    s.clock.advance(19 * SECOND);
    for u in [&u1, &u2, &u3] {
        s.checker.check(&token_ref(u, 0)).await;
    }
    assert_eq!(
        (
            s.server.requests(p1),
            s.server.requests(p2),
            s.server.requests(p3)
        ),
        (1, 1, 1)
    );
    s.clock.advance(2 * SECOND); // 21 s: past exp
    let expired = s.checker.check(&token_ref(&u3, 0)).await;
    assert!(unknown_reason(&expired).contains("expired"), "{expired:?}");
    assert_eq!(s.server.requests(p3), 2);
    s.clock.advance(10 * SECOND); // 31 s: past max-age
    s.checker.check(&token_ref(&u1, 0)).await;
    s.checker.check(&token_ref(&u2, 0)).await;
    assert_eq!((s.server.requests(p1), s.server.requests(p2)), (2, 1));
    s.clock.advance(70 * SECOND); // 101 s: past the cap
    s.checker.check(&token_ref(&u2, 0)).await;
    assert_eq!(s.server.requests(p2), 2);
}

// ---------------------------------------------------------------------------------------------
// Failures: fail closed

#[tokio::test]
async fn a_stale_list_whose_refetch_fails_is_unknown_never_the_old_valid() {
    let mut s = setup().await;
    let path = "/tokens/stale";
    let url = s.server.url(path);
    let source = token_ref(&url, 1);
    s.server.put(
        path,
        s.issuer.token(&url, &[], Some(60), None).await,
        TOKEN_TYPE,
        None,
    );
    assert_eq!(s.checker.check(&source).await.status, KeyStatus::Valid);

    // Re-signed by another key: the refetch does not verify.
    let other = Issuer::new("impostor");
    s.server.put(
        path,
        other.token(&url, &[], Some(60), None).await,
        TOKEN_TYPE,
        None,
    );
    s.clock.advance(61 * SECOND);
    let badly_signed = s.checker.check(&source).await;
    assert!(
        unknown_reason(&badly_signed).contains("trust anchor"),
        "{badly_signed:?}"
    );
    assert!(badly_signed.evidence.is_none());
    assert!(
        unknown_reason(&badly_signed).contains(&url),
        "the reason names the source"
    );

    // Good again: the failure stands for a few seconds (reads do not turn into a stream of
    // requests to a failing server), then the list is fetched again.
    s.server.put(
        path,
        s.issuer.token(&url, &[], Some(60), None).await,
        TOKEN_TYPE,
        None,
    );
    let requests = s.server.requests(path);
    assert!(matches!(
        s.checker.check(&source).await.status,
        KeyStatus::Unknown(_)
    ));
    assert_eq!(s.server.requests(path), requests);
    s.clock.advance(inkan_server::status::MIN_CACHE_MILLIS);
    assert_eq!(s.checker.check(&source).await.status, KeyStatus::Valid);
    // Then the server goes away.
    s.server.stop();
    s.clock.advance(30 * SECOND);
    assert_eq!(
        s.checker.check(&source).await.status,
        KeyStatus::Valid,
        "still fresh"
    );
    s.clock.advance(31 * SECOND);
    let unreachable = s.checker.check(&source).await;
    assert!(
        unknown_reason(&unreachable).contains("connect"),
        "{unreachable:?}"
    );
}

#[tokio::test]
async fn bad_lists_and_urls_are_unknown() {
    let s = setup_with(|c| c.max_list_bytes = 4096).await;
    // A list signed by a key that is not a trust anchor.
    let other = Issuer::new("impostor");
    let url = s.server.url("/tokens/impostor");
    s.server.put(
        "/tokens/impostor",
        other.token(&url, &[], None, None).await,
        TOKEN_TYPE,
        None,
    );
    let check = s.checker.check(&token_ref(&url, 0)).await;
    assert!(unknown_reason(&check).contains("trust anchor"), "{check:?}");

    // A list over max_list_bytes (incompressible statuses), and a small one that passes.
    let mut big = TokenStatusList::new(8192, 8).unwrap();
    let mut x: u32 = 12345;
    for i in 0..8192 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        big.set(i, (x >> 16) as u8).unwrap();
    }
    let url = s.server.url("/tokens/big");
    let body = s.issuer.token_of(&url, big, None, None).await;
    assert!(body.len() > 4096);
    s.server.put("/tokens/big", body, TOKEN_TYPE, None);
    let check = s.checker.check(&token_ref(&url, 0)).await;
    assert!(
        unknown_reason(&check).contains("max_list_bytes"),
        "{check:?}"
    );
    let url = s.server.url("/tokens/small");
    s.server.put(
        "/tokens/small",
        s.issuer.token(&url, &[], None, None).await,
        TOKEN_TYPE,
        None,
    );
    assert_eq!(
        s.checker.check(&token_ref(&url, 0)).await.status,
        KeyStatus::Valid
    );

    // A token whose `sub` is another URL.
    let url = s.server.url("/tokens/moved");
    let elsewhere = s.server.url("/tokens/elsewhere");
    s.server.put(
        "/tokens/moved",
        s.issuer.token(&elsewhere, &[], None, None).await,
        TOKEN_TYPE,
        None,
    );
    let check = s.checker.check(&token_ref(&url, 0)).await;
    assert!(unknown_reason(&check).contains("sub"), "{check:?}");

    // A missing list (404), an index outside the list.
    let check = s
        .checker
        .check(&token_ref(&s.server.url("/tokens/none"), 0))
        .await;
    assert!(unknown_reason(&check).contains("404"), "{check:?}");
    let check = s
        .checker
        .check(&token_ref(&s.server.url("/tokens/small"), 100_000))
        .await;
    assert!(unknown_reason(&check).contains("out of range"), "{check:?}");

    // http:// is refused before any request, for both kinds.
    let plain = s.server.url("/tokens/small").replace("https://", "http://");
    let check = s.checker.check(&token_ref(&plain, 0)).await;
    assert!(unknown_reason(&check).contains("https://"), "{check:?}");
    let check = s
        .checker
        .check(&w3c_entry(&plain, 0, StatusPurpose::Revocation))
        .await;
    assert!(unknown_reason(&check).contains("https://"), "{check:?}");
    assert_eq!(s.server.requests("/tokens/small"), 1);

    // Nothing listening at all.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let check = s
        .checker
        .check(&token_ref(&format!("https://localhost:{port}/list"), 0))
        .await;
    assert!(unknown_reason(&check).contains("connect"), "{check:?}");
}

/// The issuer's Ed25519 key as rcgen certifies it.
struct Ed25519Key(Vec<u8>);

impl rcgen::PublicKeyData for Ed25519Key {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ED25519
    }
}

/// Issue 16 (5): a trust anchor given as a certificate vouches only within its validity
/// period: an expired one verifies nothing, and a list it verified is cached no longer than
/// the certificate lasts, then refused.
#[tokio::test]
async fn an_anchor_certificate_vouches_only_while_it_is_valid() {
    use base64::Engine as _;
    let server = StatusServer::start().await;
    let issuer = Issuer::new("lists");
    let dir = tempfile::tempdir().unwrap();
    let ca = common::x509::TestCa::new("lists CA");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(issuer.key.public_key.to_jwk()["x"].as_str().unwrap())
        .unwrap();
    let start = rcgen::date_time_ymd(2026, 11, 26);
    let certificate = |file: &str, not_before, not_after| {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = common::x509::test_name("lists");
        params.not_before = not_before;
        params.not_after = not_after;
        let pem = params
            .signed_by(
                &Ed25519Key(raw.clone()),
                &rcgen::Issuer::from_params(&ca.params, &ca.key),
            )
            .unwrap()
            .pem();
        let path = dir.path().join(file);
        std::fs::write(&path, pem).unwrap();
        path
    };
    let expired = certificate(
        "expired.pem",
        rcgen::date_time_ymd(2020, 1, 1),
        rcgen::date_time_ymd(2026, 6, 1),
    );
    let ends_soon = certificate(
        "ends-soon.pem",
        rcgen::date_time_ymd(2020, 1, 1),
        start + Duration::from_secs(600),
    );
    let checker = |anchor: PathBuf, clock: Arc<ManualClock>| {
        let config = StatusConfig {
            ca_files: vec![server.tls.ca_file.clone()],
            trust_anchors: vec![anchor],
            fetch_timeout_seconds: 5,
            max_cache_seconds: 86_400,
            ..StatusConfig::default()
        };
        StatusChecker::new(&config, clock).unwrap()
    };
    let path = "/tokens/anchored";
    let url = server.url(path);
    server.put(
        path,
        issuer.token(&url, &[], Some(3600), None).await,
        TOKEN_TYPE,
        None,
    );

    let clock = Arc::new(ManualClock::new(START));
    let check = checker(expired, clock.clone())
        .check(&token_ref(&url, 0))
        .await;
    assert!(unknown_reason(&check).contains("trust anchor"), "{check:?}");

    let checker = checker(ends_soon, clock.clone());
    assert_eq!(
        checker.check(&token_ref(&url, 0)).await.status,
        KeyStatus::Valid
    );
    assert_eq!(server.requests(path), 2);
    // The list says an hour; the anchor's certificate ends in ten minutes.
    clock.advance(599 * SECOND);
    assert_eq!(
        checker.check(&token_ref(&url, 0)).await.status,
        KeyStatus::Valid
    );
    assert_eq!(
        server.requests(path),
        2,
        "still fresh before the certificate ends"
    );
    clock.advance(SECOND);
    let check = checker.check(&token_ref(&url, 0)).await;
    assert!(unknown_reason(&check).contains("trust anchor"), "{check:?}");
    assert_eq!(server.requests(path), 3);
}

#[tokio::test]
async fn a_checker_without_trust_anchors_knows_nothing() {
    let s = setup_with(|c| c.trust_anchors.clear()).await;
    let url = s.server.url("/tokens/1");
    s.server.put(
        "/tokens/1",
        s.issuer.token(&url, &[], None, None).await,
        TOKEN_TYPE,
        None,
    );
    let check = s.checker.check(&token_ref(&url, 0)).await;
    assert!(
        unknown_reason(&check).contains("no trust anchors"),
        "{check:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Single flight

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_of_a_stale_list_make_one_request() {
    let s = setup().await;
    let path = "/tokens/busy";
    let url = s.server.url(path);
    s.server.put(
        path,
        s.issuer.token(&url, &[(5, 2)], Some(60), None).await,
        TOKEN_TYPE,
        None,
    );
    s.server.set_delay(Duration::from_millis(300));
    for round in 1..=2 {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let checker = s.checker.clone();
                let source = token_ref(&url, if i % 2 == 0 { 5 } else { 6 });
                tokio::spawn(async move { checker.check(&source).await })
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            let expected = if i % 2 == 0 {
                KeyStatus::Suspended
            } else {
                KeyStatus::Valid
            };
            assert_eq!(task.await.unwrap().status, expected);
        }
        assert_eq!(s.server.requests(path), round, "one fetch per stale round");
        s.clock.advance(61 * SECOND);
    }
    // Failures are shared too: 20 waiters on a failing fetch make one request.
    let missing = "/tokens/missing";
    let url = s.server.url(missing);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let checker = s.checker.clone();
            let source = token_ref(&url, 0);
            tokio::spawn(async move { checker.check(&source).await })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await.unwrap().status, KeyStatus::Unknown(_)));
    }
    assert_eq!(s.server.requests(missing), 1);
}

// ---------------------------------------------------------------------------------------------
// W3C Bitstring Status List

#[tokio::test]
async fn w3c_vc_jwt_lists_revocation_and_suspension() {
    let s = setup().await;
    let (rev_path, sus_path) = ("/w3c/revocation", "/w3c/suspension");
    let (rev_url, sus_url) = (s.server.url(rev_path), s.server.url(sus_path));
    let revocation = w3c_entry(&rev_url, 42, StatusPurpose::Revocation);
    let suspension = w3c_entry(&sus_url, 42, StatusPurpose::Suspension);
    let ttl = Some(60_000);
    let publish = |suspended: bool, revoked: bool| {
        let (issuer, rev_url, sus_url) = (&s.issuer, rev_url.clone(), sus_url.clone());
        async move {
            let sus: &[u64] = if suspended { &[42] } else { &[41] };
            let rev: &[u64] = if revoked { &[42] } else { &[43] };
            (
                issuer
                    .w3c_jwt(&rev_url, &StatusPurpose::Revocation, rev, ttl)
                    .await,
                issuer
                    .w3c_jwt(&sus_url, &StatusPurpose::Suspension, sus, ttl)
                    .await,
            )
        }
    };
    let state = |s: &Setup| {
        let checker = s.checker.clone();
        let (revocation, suspension) = (revocation.clone(), suspension.clone());
        async move {
            (
                checker.check(&revocation).await.status,
                checker.check(&suspension).await.status,
            )
        }
    };
    let (rev, sus) = publish(false, false).await;
    s.server.put(rev_path, rev.clone(), VC_JWT_TYPE, None);
    s.server.put(sus_path, sus, VC_JWT_TYPE, None);
    let first = s.checker.check(&revocation).await;
    assert_eq!(first.status, KeyStatus::Valid);
    let evidence = first.evidence.unwrap();
    assert_eq!(evidence.list_sha256, hex::encode(Sha256::digest(&rev)));
    assert_eq!(
        (evidence.entry.as_str(), evidence.ttl_ms),
        ("index 42", Some(60_000))
    );
    assert_eq!(state(&s).await, (KeyStatus::Valid, KeyStatus::Valid));

    let (rev, sus) = publish(true, false).await;
    s.server.put(rev_path, rev, VC_JWT_TYPE, None);
    s.server.put(sus_path, sus, VC_JWT_TYPE, None);
    s.clock.advance(30 * SECOND);
    assert_eq!(
        state(&s).await,
        (KeyStatus::Valid, KeyStatus::Valid),
        "cache fresh"
    );
    assert_eq!(
        (s.server.requests(rev_path), s.server.requests(sus_path)),
        (1, 1)
    );
    s.clock.advance(31 * SECOND);
    assert_eq!(state(&s).await, (KeyStatus::Valid, KeyStatus::Suspended));

    let (rev, sus) = publish(false, false).await;
    s.server.put(rev_path, rev, VC_JWT_TYPE, None);
    s.server.put(sus_path, sus, VC_JWT_TYPE, None);
    s.clock.advance(61 * SECOND);
    assert_eq!(state(&s).await, (KeyStatus::Valid, KeyStatus::Valid));

    let (rev, sus) = publish(false, true).await;
    s.server.put(rev_path, rev, VC_JWT_TYPE, None);
    s.server.put(sus_path, sus, VC_JWT_TYPE, None);
    s.clock.advance(61 * SECOND);
    assert_eq!(state(&s).await, (KeyStatus::Revoked, KeyStatus::Valid));
    assert_eq!(
        (s.server.requests(rev_path), s.server.requests(sus_path)),
        (4, 4)
    );

    // A purpose the list does not have, and a list credential signed by another key.
    let check = s
        .checker
        .check(&w3c_entry(&rev_url, 42, StatusPurpose::Suspension))
        .await;
    assert!(
        unknown_reason(&check).contains("statusPurpose"),
        "{check:?}"
    );
    let other = Issuer::new("impostor");
    let url = s.server.url("/w3c/impostor");
    s.server.put(
        "/w3c/impostor",
        other
            .w3c_jwt(&url, &StatusPurpose::Revocation, &[], ttl)
            .await,
        VC_JWT_TYPE,
        None,
    );
    let check = s
        .checker
        .check(&w3c_entry(&url, 1, StatusPurpose::Revocation))
        .await;
    assert!(unknown_reason(&check).contains("trust anchor"), "{check:?}");
}

#[tokio::test]
async fn w3c_data_integrity_lists_are_verified_and_followed() {
    let s = setup().await;
    let path = "/w3c/di";
    let url = s.server.url(path);
    let entry = w3c_entry(&url, 1000, StatusPurpose::Revocation);
    let body = s
        .issuer
        .w3c_di(&url, &StatusPurpose::Revocation, &[999], Some(60_000))
        .await;
    s.server.put(path, body, VC_TYPE, None);
    assert_eq!(s.checker.check(&entry).await.status, KeyStatus::Valid);
    assert_eq!(
        s.checker
            .check(&w3c_entry(&url, 999, StatusPurpose::Revocation))
            .await
            .status,
        KeyStatus::Revoked
    );
    assert_eq!(s.server.requests(path), 1);

    s.server.put(
        path,
        s.issuer
            .w3c_di(&url, &StatusPurpose::Revocation, &[1000], Some(60_000))
            .await,
        VC_TYPE,
        None,
    );
    s.clock.advance(61 * SECOND);
    assert_eq!(s.checker.check(&entry).await.status, KeyStatus::Revoked);
    assert_eq!(s.server.requests(path), 2);

    // A Data Integrity list by another key, then a tampered one.
    let other = Issuer::new("impostor");
    s.server.put(
        path,
        other
            .w3c_di(&url, &StatusPurpose::Revocation, &[], Some(60_000))
            .await,
        VC_TYPE,
        None,
    );
    s.clock.advance(61 * SECOND);
    let check = s.checker.check(&entry).await;
    assert!(
        unknown_reason(&check).contains("not a trust anchor"),
        "{check:?}"
    );
    let good = s
        .issuer
        .w3c_di(&url, &StatusPurpose::Revocation, &[1000], Some(60_000))
        .await;
    let mut tampered: serde_json::Value = serde_json::from_slice(&good).unwrap();
    tampered["credentialSubject"]["encodedList"] = serde_json::json!(
        BitstringStatusList::new(MIN_ENTRIES, 1)
            .unwrap()
            .encode()
            .unwrap()
    );
    s.server
        .put(path, serde_json::to_vec(&tampered).unwrap(), VC_TYPE, None);
    s.clock.advance(61 * SECOND);
    assert!(matches!(
        s.checker.check(&entry).await.status,
        KeyStatus::Unknown(_)
    ));
    assert_eq!(s.clock.now(), START + 183 * SECOND);
}

// ---------------------------------------------------------------------------------------------
// The signing module follows the key's status list (criteria 2.2.3(1)B)

/// A real server whose issuer key has a Token Status List entry: issuance succeeds while the
/// list says valid, is refused while it says suspended, succeeds again, is refused once it says
/// revoked, and is refused when no verified list can be had.
#[tokio::test]
async fn signing_follows_the_key_status_list() {
    use common::server::{Harness, key, system_client};
    let lists = StatusServer::start().await;
    let issuer = Issuer::new("lists");
    let dir = tempfile::tempdir().unwrap();
    let anchor = issuer.anchor_file(dir.path());
    let settings = format!(
        "access_token_seconds = 1800\nidle_timeout_minutes = 120\nabsolute_timeout_minutes = 240\n\
         [status]\nca_files = [\"{}\"]\ntrust_anchors = [\"{}\"]\n",
        lists.tls.ca_file.display(),
        anchor.display()
    );
    let h = Harness::start(common::Engine::SqliteFile, &settings).await;
    let (_, operator) = h.operator().await;
    let (organisation, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal, _) = key(&h, &clerk_session, "ES256", "135791").await;
    let client = system_client(&h, &operator, &organisation, &seal).await;
    let (_, key_officer) = h.staff(OperatorRole::KeyOfficer).await;
    let path = "/tokens/seal";
    let url = lists.url(path);
    let publish = |statuses: Vec<(u64, u8)>| {
        let (issuer, url) = (&issuer, url.clone());
        async move { issuer.token(&url, &statuses, Some(60), None).await }
    };
    lists.put(path, publish(vec![]).await, TOKEN_TYPE, None);
    h.set_status_source(
        &key_officer,
        &seal,
        serde_json::json!({"kind": "token", "url": url, "index": 5}),
    )
    .await
    .unwrap();
    let issue = || async {
        let response = h
            .call(
                &client,
                reqwest::Method::POST,
                "/credentials/issue",
                Some(serde_json::json!({
                    "credential": {
                        "@context": ["https://www.w3.org/ns/credentials/v2"],
                        "type": ["VerifiableCredential"],
                        "credentialSubject": {"id": "did:example:subject"}
                    },
                    "options": {"credentialId": seal, "format": "vc+jwt"}
                })),
            )
            .await;
        (response.status(), response.text().await.unwrap())
    };
    let (status, text) = issue().await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{text}");
    // Suspended: refused while it lasts.
    lists.put(path, publish(vec![(5, 2)]).await, TOKEN_TYPE, None);
    h.clock.advance(61 * SECOND);
    let (status, text) = issue().await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    assert!(text.contains("suspended"), "{text}");
    // Lifted: signs again.
    lists.put(path, publish(vec![]).await, TOKEN_TYPE, None);
    h.clock.advance(61 * SECOND);
    assert_eq!(issue().await.0, reqwest::StatusCode::CREATED);
    // No verified list to be had (it is gone): refused, naming the source.
    let set_source = |url: String| {
        let (h, operator, seal) = (&h, &key_officer, seal.clone());
        async move {
            h.set_status_source(
                operator,
                &seal,
                serde_json::json!({"kind": "token", "url": url, "index": 5}),
            )
            .await
            .map(|_| ())
        }
    };
    assert_eq!(set_source(lists.url("/tokens/missing")).await, Ok(()));
    let (status, text) = issue().await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    assert!(text.contains("no fresh, verified status"), "{text}");
    assert_eq!(set_source(url.clone()).await, Ok(()));
    // Revoked: refused, and the monitor destroys the key with the evidence in the log.
    let revoked = publish(vec![(5, 1)]).await;
    lists.put(path, revoked.clone(), TOKEN_TYPE, None);
    h.clock.advance(61 * SECOND);
    let (status, text) = issue().await;
    assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
    assert!(text.contains("revoked"), "{text}");
    let service = &h.server().service;
    let id = inkan_store::KeyId::parse(&seal).unwrap();
    let handle = service.registry.get(&id).await.unwrap().handle;
    assert!(service.device.contains(&handle).unwrap());
    let report = h.server().monitor_now().await;
    assert_eq!(report.destroyed, vec![seal.clone()]);
    assert!(
        !service.device.contains(&handle).unwrap(),
        "the device no longer has it"
    );
    let record = service.registry.get(&id).await.unwrap();
    assert_eq!(record.state.as_str(), "destroyed");
    let last = service.store.get_key_status(&seal).await.unwrap().unwrap();
    assert_eq!(last.status.as_str(), "revoked");
    let destroyed = h
        .log_entries()
        .await
        .into_iter()
        .filter(|e| {
            e.kind == inkan_log::entry::EntryKind::KeyDestroyed
                && e.key_id.as_deref() == Some(seal.as_str())
        })
        .filter_map(|e| e.note)
        .collect::<Vec<_>>()
        .join(" ");
    let digest = hex::encode(Sha256::digest(&revoked));
    assert!(
        destroyed.contains(&digest) && destroyed.contains(&url),
        "{destroyed}"
    );
    // Every refusal is in the log.
    let refused = h
        .log_entries()
        .await
        .into_iter()
        .filter(|e| e.kind == inkan_log::entry::EntryKind::SignatureRefused)
        .count();
    assert_eq!(refused, 3);
    h.stop().await;
}
