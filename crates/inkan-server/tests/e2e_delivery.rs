//! End-to-end tests of what happens to a signed document after signing (criteria 2.2.3(3)A, B),
//! on SQLite (a file) and PostgreSQL: a real server over TLS with a manual clock, a real
//! signature (an issuer's system client e-seals a VC), and the hand-over the signing routes make
//! (`PostSigning::after_signing`).
//!
//! - delivery: an operator registers HTTPS destinations (this test's own HTTPS receivers, whose
//!   certificates Inkan trusts through `[delivery] ca_files`); one receiver refuses twice (503)
//!   then accepts, another never accepts. The manual clock and `run_due_now` drive the retries:
//!   the document arrives exactly once with the right body after 3 attempts, the other delivery
//!   is given up after `max_attempts`, and each final outcome is one `document.delivered` entry.
//! - retention: with `retention_days = 1` the document is readable by its subscriber, stored
//!   sealed (not plaintext), unreadable after a day and purged by housekeeping; with the default
//!   (0) nothing is kept.
#![allow(clippy::unwrap_used)]

mod common;

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use common::server::{Harness, MINUTE, Session, client_certificate, client_token, mtls_client};
use common::tls_server::TlsServer;
use common::{Engine, TestDb};
use inkan_log::entry::{Entry, EntryKind, Outcome};
use inkan_server::auth::operators::OperatorRole;
use inkan_server::auth::{Caller, CallerKind};
use inkan_server::clock::Clock as _;
use inkan_server::delivery::{AfterSigning, DeliveryError};
use inkan_server::keys::sha256_digest;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const SECOND: i64 = 1_000;
const DAY: i64 = 24 * 60 * MINUTE;

// ---------------------------------------------------------------------------------------------
// The receivers: HTTPS servers of this test

/// A request as received: its header lines and its body.
type Received = (Vec<(String, String)>, Vec<u8>);

/// What a receiver was sent (the JSON, and each request as received: its header lines and
/// body), and how many times it refuses before accepting.
#[derive(Clone)]
struct Inbox {
    posts: Arc<Mutex<Vec<Value>>>,
    raw: Arc<Mutex<Vec<Received>>>,
    refuse_first: usize,
}

async fn receive(
    State(inbox): State<Inbox>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> AxumStatus {
    let lines = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8(value.as_bytes().to_vec()).unwrap();
            (name.as_str().to_owned(), value)
        })
        .collect();
    inbox.raw.lock().unwrap().push((lines, body.to_vec()));
    let mut posts = inbox.posts.lock().unwrap();
    posts.push(serde_json::from_slice(&body).unwrap());
    if posts.len() <= inbox.refuse_first {
        AxumStatus::SERVICE_UNAVAILABLE
    } else {
        AxumStatus::OK
    }
}

struct Receiver {
    url: String,
    tls: TlsServer,
    inbox: Inbox,
}

impl Receiver {
    /// An HTTPS receiver on 127.0.0.1 (a generated certificate for localhost) that answers 503
    /// to the first `refuse_first` posts and 200 after.
    async fn start(refuse_first: usize) -> Receiver {
        let inbox = Inbox {
            posts: Arc::new(Mutex::new(Vec::new())),
            raw: Arc::new(Mutex::new(Vec::new())),
            refuse_first,
        };
        let app = axum::Router::new()
            .route("/inbox", post(receive))
            .with_state(inbox.clone());
        let tls = TlsServer::start(app).await;
        Receiver {
            url: format!("{}/inbox", tls.base),
            tls,
            inbox,
        }
    }

    fn posts(&self) -> Vec<Value> {
        self.inbox.posts.lock().unwrap().clone()
    }

    /// Each request as received: header lines and body.
    fn raw(&self) -> Vec<Received> {
        self.inbox.raw.lock().unwrap().clone()
    }

    fn stop(mut self) {
        self.tls.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// The service

/// `Harness::start` with `[signing] retention_days` and a `[delivery]` section of our own.
async fn start(engine: Engine, retention_days: u32, ca_files: &[PathBuf]) -> Harness {
    let db = TestDb::create(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let ca_files: Vec<String> = ca_files
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    let config = format!(
        r#"
environment = "test"
[store]
url = "{url}"
[device]
kind = "soft"
path = "{d}/soft"
kek_file = "{d}/kek"
[server]
listen = "127.0.0.1:0"
tls_certificate = "{d}/tls/server.crt"
tls_key = "{d}/tls/server.key"
secrets_key_file = "{d}/secrets.key"
[signing]
activation_key_file = "{d}/activation.key"
retention_days = {retention_days}
[delivery]
ca_files = [{ca_files}]
max_attempts = 3
timeout_seconds = 5
poll_millis = 50
"#,
        url = db.url,
        ca_files = ca_files.join(", "),
    );
    Harness::launch(db, dir, &config).await
}

/// An issuer with a logged-in user (`clerk`), a key, and a system client that e-sealed one VC:
/// what the signing routes would hand over.
struct Issuer {
    id: String,
    clerk: common::server::Account,
    clerk_session: Session,
    client_id: String,
    key_id: String,
    /// The e-sealed VC.
    vc: Value,
    /// The index of its `signature.made` entry.
    log_index: u64,
    /// The system client's connection (its certificate) and token.
    mtls: reqwest::Client,
    access: String,
}

impl Issuer {
    /// The system client as `auth` establishes it from its mTLS token.
    fn caller(&self) -> Caller {
        Caller {
            kind: CallerKind::Client,
            id: self.client_id.clone(),
            subscriber: Some(self.id.clone()),
            session: "ses_e2e".into(),
            method: "mtls".into(),
            scope: None,
            terminal: None,
            role: None,
        }
    }
}

async fn issuer(h: &Harness, operator: &Session, username: &str) -> Issuer {
    let (id, clerk) = h.subscriber(operator, "issuer", username).await;
    let clerk_session = h.login(&clerk).await;
    let key: Value = h
        .call(
            &clerk_session,
            Method::POST,
            "/v1/keys",
            Some(json!({"algorithm": "ES256", "label": "e-seal", "pin": "135791"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let key_id = key["id"].as_str().unwrap().to_owned();
    let (cert_pem, key_pem) = client_certificate("issuer.example");
    let registered = h
        .call(
            operator,
            Method::POST,
            &format!("/v1/subscribers/{id}/clients"),
            Some(json!({
                "name": "issuing system", "certificate_pem": cert_pem,
                "scope": {"keys": [{"key": key_id, "operations": ["read", "sign"]}]}
            })),
        )
        .await;
    let registered = h
        .approve_request(registered, OperatorRole::RaOfficer, Some((operator, &id)))
        .await;
    let client_id = registered["result"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mtls = mtls_client(h, &cert_pem, &key_pem);
    let access = client_token(&mtls, &h.url).await;
    let issued = mtls
        .post(format!("{}/credentials/issue", h.url))
        .bearer_auth(&access)
        .json(&json!({
            "credential": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "validFrom": "2026-01-01T00:00:00Z",
                "credentialSubject": {"id": format!("did:example:{username}-subject-7f3a9c")}
            },
            "options": {"credentialId": key_id, "format": "vc+jwt"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), StatusCode::CREATED);
    let vc = issued.json::<Value>().await.unwrap()["verifiableCredential"].clone();
    let entries = h.log_entries().await;
    let log_index = entries
        .iter()
        .rposition(|e| {
            e.kind == EntryKind::SignatureMade && e.key_id.as_deref() == Some(key_id.as_str())
        })
        .unwrap() as u64;
    Issuer {
        id,
        clerk,
        clerk_session,
        client_id,
        key_id,
        vc,
        log_index,
        mtls,
        access,
    }
}

async fn register(h: &Harness, operator: &Session, subscriber: &str, url: &str) -> String {
    let created = h
        .call(
            operator,
            Method::POST,
            &format!("/v1/subscribers/{subscriber}/destinations"),
            Some(json!({"url": url})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["url"], url);
    assert_eq!(body["subscriber"], subscriber);
    body["id"].as_str().unwrap().to_owned()
}

async fn get(h: &Harness, session: &Session, path: &str) -> (StatusCode, Value) {
    let response = h.call(session, Method::GET, path, None).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Runs every due delivery now, by the manual clock; how many attempts were made.
async fn run_due(h: &Harness) -> usize {
    h.server().after.delivery.run_due_now().await.unwrap()
}

fn delivered_entries(entries: &[Entry]) -> Vec<&Entry> {
    entries
        .iter()
        .filter(|e| e.kind == EntryKind::DocumentDelivered)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Delivery

async fn delivery(engine: Engine) {
    let flaky = Receiver::start(2).await;
    let dead = Receiver::start(usize::MAX).await;
    let h = start(
        engine,
        0,
        &[flaky.tls.ca_file.clone(), dead.tls.ca_file.clone()],
    )
    .await;
    let (_, operator) = h.operator().await;
    let issuer = issuer(&h, &operator, "clerk").await;
    let other = self::issuer(&h, &operator, "stranger").await;
    let path = format!("/v1/subscribers/{}/destinations", issuer.id);

    // Destinations: operators only, https only, within limits, once per subscriber.
    for (url, status) in [
        ("http://127.0.0.1:8080/inbox", StatusCode::BAD_REQUEST),
        ("http://localhost/inbox", StatusCode::BAD_REQUEST),
        (
            "https://user:secret@receiver.example/",
            StatusCode::BAD_REQUEST,
        ),
        ("ftp://receiver.example/", StatusCode::BAD_REQUEST),
        ("not a URL", StatusCode::BAD_REQUEST),
    ] {
        let refused = h
            .call(&operator, Method::POST, &path, Some(json!({"url": url})))
            .await;
        assert_eq!(refused.status(), status, "{url}");
    }
    let long = format!("https://receiver.example/{}", "a".repeat(2048));
    let refused = h
        .call(&operator, Method::POST, &path, Some(json!({"url": long})))
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused = h
        .call(
            &issuer.clerk_session,
            Method::POST,
            &path,
            Some(json!({"url": flaky.url})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let unknown = h
        .call(
            &operator,
            Method::POST,
            "/v1/subscribers/sub_00000000000000000000000000000000/destinations",
            Some(json!({"url": flaky.url})),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let to_flaky = register(&h, &operator, &issuer.id, &flaky.url).await;
    let to_dead = register(&h, &operator, &issuer.id, &dead.url).await;
    let again = h
        .call(
            &operator,
            Method::POST,
            &path,
            Some(json!({"url": flaky.url})),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let theirs = register(&h, &operator, &other.id, &flaky.url).await;
    // The subscriber's users see their destinations; others see nothing.
    let (status, listed) = get(&h, &issuer.clerk_session, &path).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = listed["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    let mut registered = vec![to_flaky.as_str(), to_dead.as_str()];
    registered.sort_unstable(); // registered at the same time: in id order
    assert_eq!(ids, registered);
    assert_eq!(get(&h, &operator, &path).await.1, listed);
    assert_eq!(
        get(
            &h,
            &operator,
            "/v1/subscribers/sub_00000000000000000000000000000000/destinations"
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&h, &other.clerk_session, &path).await.0,
        StatusCode::NOT_FOUND
    );
    // Registrations are logged as operator actions.
    let entries = h.log_entries().await;
    assert!(entries.iter().any(|e| e.kind == EntryKind::OperatorAction
        && e.note.as_deref().is_some_and(|n| n.contains(&to_flaky))));

    // Hand-over refusals: nothing is queued.
    let after = &h.server().after;
    let caller = issuer.caller();
    let hand_over = |caller: Caller, subscriber: String, log_index: u64, to: Option<String>| {
        let document = issuer.vc.clone();
        async move {
            after
                .after_signing(
                    &caller,
                    &subscriber,
                    "vc+jwt",
                    &document,
                    log_index,
                    to.as_deref(),
                )
                .await
        }
    };
    assert!(matches!(
        hand_over(
            other.caller(),
            issuer.id.clone(),
            issuer.log_index,
            Some(to_flaky.clone())
        )
        .await,
        Err(DeliveryError::Forbidden(_))
    ));
    assert!(matches!(
        hand_over(
            caller.clone(),
            issuer.id.clone(),
            issuer.log_index,
            Some(theirs.clone())
        )
        .await,
        Err(DeliveryError::NotFound(_))
    ));
    assert!(matches!(
        hand_over(caller.clone(), issuer.id.clone(), 0, Some(to_flaky.clone())).await,
        Err(DeliveryError::BadRequest(_))
    ));
    assert!(matches!(
        hand_over(
            caller.clone(),
            issuer.id.clone(),
            other.log_index,
            Some(to_flaky.clone())
        )
        .await,
        Err(DeliveryError::BadRequest(_))
    ));
    assert!(matches!(
        hand_over(
            caller.clone(),
            issuer.id.clone(),
            u64::MAX,
            Some(to_flaky.clone())
        )
        .await,
        Err(DeliveryError::BadRequest(_))
    ));
    assert_eq!(h.db.query_i64("SELECT count(*) FROM deliveries").await, 0);
    // Without a destination and with retention off, nothing happens at all.
    assert_eq!(
        hand_over(caller.clone(), issuer.id.clone(), issuer.log_index, None)
            .await
            .unwrap(),
        AfterSigning::default()
    );

    // Delivery to the flaky receiver: refused twice, then accepted.
    let handed = hand_over(
        caller.clone(),
        issuer.id.clone(),
        issuer.log_index,
        Some(to_flaky.clone()),
    )
    .await
    .unwrap();
    assert_eq!(handed.retained_id, None, "retention is off");
    let delivery_id = handed.delivery_id.unwrap();
    assert!(delivery_id.starts_with("dlv_"));
    let status_path = format!("/v1/deliveries/{delivery_id}");
    // Attempt 1 (by the worker, woken, or by this call): 503; due again in 1 s.
    run_due(&h).await;
    assert_eq!(flaky.posts().len(), 1);
    let (status, body) = get(&h, &issuer.clerk_session, &status_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "pending");
    assert_eq!(body["attempts"], 1);
    assert_eq!(body["lastError"], "the destination answered HTTP 503");
    assert_eq!(body["nextAttemptAt"], h.clock.now() + SECOND);
    // Not before its time.
    h.clock.advance(SECOND - 1);
    assert_eq!(run_due(&h).await, 0);
    assert_eq!(flaky.posts().len(), 1);
    // Attempt 2 after 1 s: 503 again; due again in 2 s.
    h.clock.advance(1);
    run_due(&h).await;
    assert_eq!(flaky.posts().len(), 2);
    h.clock.advance(2 * SECOND - 1);
    assert_eq!(run_due(&h).await, 0);
    // Attempt 3 after 2 s: accepted.
    h.clock.advance(1);
    run_due(&h).await;
    let posts = flaky.posts();
    assert_eq!(posts.len(), 3);
    let expected = json!({
        "id": delivery_id,
        "type": "vc+jwt",
        "document": issuer.vc,
        "logIndex": issuer.log_index,
    });
    for post in &posts {
        assert_eq!(post, &expected);
    }
    // Each attempt is signed (RFC 9421) with Inkan's published delivery key, as an independent
    // verifier checks it; altered in any covered part, it no longer verifies.
    let jwks = h
        .http
        .get(format!("{}/v1/delivery/keys", h.url))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "{jwks}");
    let now = h.clock.now() / 1000;
    let raw = flaky.raw();
    assert_eq!(raw.len(), 3);
    let (headers, body) = raw.last().unwrap().clone();
    let verified = verify_delivery(&flaky.url, &headers, &body, &jwks, now);
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(verified["keyid"], jwks["keys"][0]["kid"]);
    let mut altered = body.clone();
    let at = altered.iter().position(|b| *b == b'v').unwrap();
    altered[at] = b'w';
    // Each refusal is the library's `InvalidSignature`, for the reason the case is about: a
    // message, or for a signature that does not verify, cryptography's own exception.
    let refused = |verdict: Value, reason: &str| {
        assert_eq!(verdict["verified"], false, "{verdict}");
        assert_eq!(verdict["kind"], "InvalidSignature", "{verdict}");
        let error = verdict["error"].as_str().unwrap().to_lowercase();
        let cause = verdict["cause"].as_str().unwrap_or_default();
        let cryptographic =
            reason == "signature" && cause == "cryptography.exceptions.InvalidSignature";
        assert!(
            cryptographic || error.contains(reason),
            "expected {reason:?}: {verdict}"
        );
    };
    refused(
        verify_delivery(&flaky.url, &headers, &altered, &jwks, now),
        "digest",
    );
    let other_url = flaky.url.replace("/inbox", "/other");
    refused(
        verify_delivery(&other_url, &headers, &body, &jwks, now),
        "signature",
    );
    refused(
        verify_delivery(&flaky.url, &headers, &body, &jwks, now + 300 + 10),
        "expires",
    );
    let stranger = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": jwks["keys"][0]["kid"],
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
    refused(
        verify_delivery(&flaky.url, &headers, &body, &stranger, now),
        "signature",
    );
    let (_, body) = get(&h, &issuer.clerk_session, &status_path).await;
    assert_eq!(body["state"], "delivered");
    assert_eq!(body["attempts"], 3);
    assert_eq!(body["deliveredAt"], h.clock.now());
    assert_eq!(body["destination"], to_flaky.as_str());
    assert!(body.get("nextAttemptAt").is_none());
    // Only its subscriber's callers can follow it.
    assert_eq!(
        get(&h, &other.clerk_session, &status_path).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&h, &operator, &status_path).await.0,
        StatusCode::NOT_FOUND
    );
    for unknown in ["dlv_00000000000000000000000000000000", "dlv_x"] {
        assert_eq!(
            get(
                &h,
                &issuer.clerk_session,
                &format!("/v1/deliveries/{unknown}")
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
    }
    // Exactly once: nothing more, however long we wait.
    h.clock.advance(DAY);
    assert_eq!(run_due(&h).await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(flaky.posts().len(), 3);
    // One `document.delivered` entry, succeeded, with the document's digest (never its body).
    let entries = h.log_entries().await;
    let outcomes = delivered_entries(&entries);
    assert_eq!(outcomes.len(), 1);
    let entry = outcomes[0];
    assert_eq!(entry.outcome, Outcome::Succeeded);
    let digest = sha256_digest(&serde_json::to_vec(&issuer.vc).unwrap());
    assert_eq!(entry.digests, vec![digest.clone()]);
    let note = entry.note.as_deref().unwrap();
    assert!(
        note.contains(&delivery_id) && note.contains(&to_flaky),
        "{note}"
    );
    assert!(!String::from_utf8_lossy(&entry.encode()).contains("subject-7f3a9c"));

    // Delivery to a receiver that never accepts: given up after max_attempts (3).
    let handed = hand_over(
        caller.clone(),
        issuer.id.clone(),
        issuer.log_index,
        Some(to_dead.clone()),
    )
    .await
    .unwrap();
    let dead_id = handed.delivery_id.unwrap();
    run_due(&h).await;
    h.clock.advance(SECOND);
    run_due(&h).await;
    h.clock.advance(2 * SECOND);
    run_due(&h).await;
    assert_eq!(dead.posts().len(), 3);
    h.clock.advance(DAY);
    assert_eq!(run_due(&h).await, 0);
    assert_eq!(dead.posts().len(), 3, "no attempt after the last");
    let clerk_session = h.login(&issuer.clerk).await;
    let (_, body) = get(&h, &clerk_session, &format!("/v1/deliveries/{dead_id}")).await;
    assert_eq!(body["state"], "failed");
    assert_eq!(body["attempts"], 3);
    assert_eq!(body["lastError"], "the destination answered HTTP 503");
    assert!(body.get("deliveredAt").is_none());
    let entries = h.log_entries().await;
    let outcomes = delivered_entries(&entries);
    assert_eq!(outcomes.len(), 2);
    match &outcomes[1].outcome {
        Outcome::Failed(reason) => assert!(
            reason.contains("3 attempts") && reason.contains("503"),
            "{reason}"
        ),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(outcomes[1].note.as_deref().unwrap().contains(&dead_id));

    // Finished deliveries keep no document; nothing was retained.
    assert_eq!(
        h.db.query_i64("SELECT count(*) FROM deliveries WHERE document IS NOT NULL")
            .await,
        0
    );
    assert_eq!(h.db.query_i64("SELECT count(*) FROM deliveries").await, 2);
    assert_eq!(
        h.db.query_i64("SELECT count(*) FROM retained_documents")
            .await,
        0
    );
    h.stop().await;
    flaky.stop();
    dead.stop();
}

/// Issue 16: a status list created with `deliverTo` pushes every version it publishes to that
/// destination (its first at creation, then one per round that changed it), as the signed
/// document with its signature's log index; a destination of another subscriber is refused.
#[tokio::test]
async fn status_list_versions_are_pushed_to_their_destination() {
    let receiver = Receiver::start(0).await;
    let h = start(
        Engine::SqliteFile,
        0,
        std::slice::from_ref(&receiver.tls.ca_file),
    )
    .await;
    let (_, operator) = h.operator().await;
    let issuer = issuer(&h, &operator, "clerk").await;
    let other = self::issuer(&h, &operator, "stranger").await;
    let destination = register(&h, &operator, &issuer.id, &receiver.url).await;
    let elsewhere = register(&h, &operator, &other.id, &receiver.url).await;
    let create = |deliver_to: &str| {
        issuer
            .mtls
            .post(format!("{}/v1/status-lists", h.url))
            .bearer_auth(&issuer.access)
            .json(&json!({"keyId": issuer.key_id, "format": "token", "deliverTo": deliver_to}))
            .send()
    };
    assert_eq!(
        create(&elsewhere).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let list: Value = create(&destination).await.unwrap().json().await.unwrap();
    assert_eq!(list["deliverTo"], destination.as_str());
    let list_id = list["id"].as_str().unwrap().to_owned();
    run_due(&h).await;
    let served = || async {
        let url = list["url"].as_str().unwrap();
        h.http.get(url).send().await.unwrap().text().await.unwrap()
    };
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["type"], "statuslist+jwt");
    assert_eq!(posts[0]["document"], served().await.as_str());
    // A change, a round: the new version is pushed too, with its signature's log index.
    let issued: Value = issuer
        .mtls
        .post(format!("{}/v1/credentials/sd-jwt", h.url))
        .bearer_auth(&issuer.access)
        .json(
            &json!({"credentialID": issuer.key_id, "vct": "https://credentials.example/degree",
                      "claims": {"given_name": "Hana"}, "statusList": list_id}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = issued["credential"].as_str().unwrap();
    let payload = credential
        .split('~')
        .next()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let index = claims["status"]["status_list"]["idx"].as_u64().unwrap();
    let changed = issuer
        .mtls
        .post(format!(
            "{}/v1/status-lists/{list_id}/entries/{index}",
            h.url
        ))
        .bearer_auth(&issuer.access)
        .json(&json!({"status": "revoked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    h.clock.advance(60_000);
    assert!(
        h.server()
            .status_lists
            .publish_due()
            .await
            .published
            .contains(&list_id)
    );
    run_due(&h).await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1]["document"], served().await.as_str());
    // The log index pushed is the latest version's own signature.
    let latest = h
        .server()
        .service
        .store
        .latest_status_list_version(&list_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(posts[1]["logIndex"].as_u64(), latest.log_index);
    let entries = h.log_entries().await;
    let signature = &entries[latest.log_index.unwrap() as usize];
    assert_eq!(signature.kind, EntryKind::SignatureMade);
    assert_eq!(signature.key_id.as_deref(), Some(issuer.key_id.as_str()));
    receiver.stop();
}

#[tokio::test]
async fn delivery_sqlite() {
    delivery(Engine::SqliteFile).await;
}

#[tokio::test]
async fn delivery_postgres() {
    delivery(Engine::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// Retention

/// The stored (sealed) bytes of a retained document, read behind the store's back.
async fn raw_document(db: &TestDb, id: &str) -> Vec<u8> {
    let sql = match db.engine {
        Engine::Postgres => "SELECT document FROM retained_documents WHERE id = $1",
        _ => "SELECT document FROM retained_documents WHERE id = ?",
    };
    match db.engine {
        Engine::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            row.try_get::<Vec<u8>, _>(0).unwrap()
        }
        _ => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            let row = sqlx::query(sql)
                .bind(id)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            row.try_get::<Vec<u8>, _>(0).unwrap()
        }
    }
}

async fn retention(engine: Engine) {
    let h = start(engine, 1, &[]).await;
    let (_, operator) = h.operator().await;
    let issuer = issuer(&h, &operator, "clerk").await;
    let other = self::issuer(&h, &operator, "stranger").await;
    let after = &h.server().after;

    let handed = after
        .after_signing(
            &issuer.caller(),
            &issuer.id,
            "vc+jwt",
            &issuer.vc,
            issuer.log_index,
            None,
        )
        .await
        .unwrap();
    assert_eq!(handed.delivery_id, None);
    let id = handed.retained_id.unwrap();
    assert!(id.starts_with("doc_"));
    let kept_at = h.clock.now();

    // Readable by its subscriber's callers, as signed.
    let path = format!("/v1/documents/{id}");
    let (status, body) = get(&h, &issuer.clerk_session, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["type"], "vc+jwt");
    assert_eq!(body["document"], issuer.vc);
    assert_eq!(body["keyId"], issuer.key_id.as_str());
    assert_eq!(body["logIndex"], issuer.log_index);
    assert_eq!(body["purgeAt"], kept_at + DAY);
    // Nobody else: another subscriber, an operator; an unknown or malformed id.
    assert_eq!(
        get(&h, &other.clerk_session, &path).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&h, &operator, &path).await.0, StatusCode::NOT_FOUND);
    for unknown in ["doc_00000000000000000000000000000000", "doc_x", "../etc"] {
        assert_eq!(
            get(
                &h,
                &issuer.clerk_session,
                &format!("/v1/documents/{unknown}")
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
    }

    // Stored sealed: neither the document nor anything of it in the clear.
    let raw = raw_document(&h.db, &id).await;
    let raw_text = String::from_utf8_lossy(&raw);
    let jwt = issuer.vc["id"].as_str().unwrap();
    let plain = serde_json::to_string(&issuer.vc).unwrap();
    assert!(!raw_text.contains(&plain));
    assert!(!raw_text.contains(jwt.split('.').nth(1).unwrap()));
    assert!(!raw_text.contains("vc+jwt") && !raw_text.contains("VerifiableCredential"));
    assert!(serde_json::from_slice::<Value>(&raw).is_err());

    // Readable and kept until a millisecond before the day is up (a fresh login first: logging
    // in moves the clock to the next TOTP step)…
    // (The VCs issued through `/credentials/issue` were retained too: count this one's row.)
    let this_row: &'static str = Box::leak(
        format!("SELECT count(*) FROM retained_documents WHERE id = '{id}'").into_boxed_str(),
    );
    h.clock.advance(DAY - MINUTE);
    let clerk_session = h.login(&issuer.clerk).await;
    h.clock.advance(kept_at + DAY - 1 - h.clock.now());
    assert_eq!(get(&h, &clerk_session, &path).await.0, StatusCode::OK);
    h.server().housekeeping_now().await;
    assert_eq!(h.db.query_i64(this_row).await, 1);
    // …then unreadable at once, and purged by housekeeping.
    h.clock.advance(1);
    assert_eq!(
        get(&h, &clerk_session, &path).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(h.db.query_i64(this_row).await, 1);
    h.server().housekeeping_now().await;
    assert_eq!(
        h.db.query_i64("SELECT count(*) FROM retained_documents")
            .await,
        0
    );
    assert_eq!(
        get(&h, &clerk_session, &path).await.0,
        StatusCode::NOT_FOUND
    );
    h.stop().await;
}

#[tokio::test]
async fn retention_sqlite() {
    retention(Engine::SqliteFile).await;
}

#[tokio::test]
async fn retention_postgres() {
    retention(Engine::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// Through the issuance routes

/// `/credentials/issue` with `deliverTo` returns the signed VC, keeps a sealed copy (retention
/// on) and delivers it; an unknown destination is refused before anything is signed.
async fn issuance_routes(engine: Engine) {
    let receiver = Receiver::start(0).await;
    let h = start(engine, 1, std::slice::from_ref(&receiver.tls.ca_file)).await;
    let (_, operator) = h.operator().await;
    let issuer = issuer(&h, &operator, "clerk").await;
    let destination = register(&h, &operator, &issuer.id, &receiver.url).await;
    let issue = |deliver_to: &str| {
        issuer
            .mtls
            .post(format!("{}/credentials/issue", h.url))
            .bearer_auth(&issuer.access)
            .json(&json!({
                "credential": {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "did:example:delivered"}
                },
                "options": {"credentialId": issuer.key_id, "format": "vc+jwt", "deliverTo": deliver_to}
            }))
            .send()
    };
    let made_before = h
        .log_entries()
        .await
        .iter()
        .filter(|e| e.kind == EntryKind::SignatureMade)
        .count();
    let unknown = issue("dst_00000000000000000000000000000000").await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let made_after = h
        .log_entries()
        .await
        .iter()
        .filter(|e| e.kind == EntryKind::SignatureMade)
        .count();
    assert_eq!(
        made_after, made_before,
        "nothing signed for an unknown destination"
    );
    let issued = issue(&destination).await.unwrap();
    assert_eq!(issued.status(), StatusCode::CREATED);
    let body: Value = issued.json().await.unwrap();
    let delivery_id = body["deliveryId"].as_str().unwrap().to_owned();
    let retained_id = body["retainedId"].as_str().unwrap().to_owned();
    assert_eq!(body["receipts"].as_array().unwrap().len(), 1);
    run_due(&h).await;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["id"], delivery_id.as_str());
    assert_eq!(posts[0]["document"], body["verifiableCredential"]);
    let (status, kept) = get(
        &h,
        &issuer.clerk_session,
        &format!("/v1/documents/{retained_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kept["document"], body["verifiableCredential"]);
    let (status, state) = get(
        &h,
        &issuer.clerk_session,
        &format!("/v1/deliveries/{delivery_id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["state"], "delivered");
    receiver.stop();
    h.stop().await;
}

#[tokio::test]
async fn issuance_routes_sqlite() {
    issuance_routes(Engine::SqliteFile).await;
}

#[tokio::test]
async fn issuance_routes_postgres() {
    issuance_routes(Engine::Postgres).await;
}

/// The PyPI package `http-message-signatures` (RFC 9421, RFC 9530; `interop/httpsig`, installed
/// by `.ci/run`) verifying one received request at the receiver's time `now`.
fn verify_delivery(
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    jwks: &Value,
    now: i64,
) -> Value {
    use base64::Engine as _;
    use std::io::Write as _;
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/httpsig");
    let python = folder.join(".venv/bin/python");
    assert!(
        python.exists(),
        "interop/httpsig/.venv is missing: run `bash .ci/run` (or make the venv from \
         interop/httpsig/requirements.txt)"
    );
    let input = json!({
        "method": "POST",
        "url": url,
        "headers": headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(body),
        "jwks": jwks,
        "now": now,
    });
    let mut child = std::process::Command::new(python)
        .arg(folder.join("verify.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}
