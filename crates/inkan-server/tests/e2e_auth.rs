//! End-to-end authentication tests (criteria 2.2.1, 2.2.4): a real server (`Server::start`,
//! the code `inkan serve` runs) on a loopback port over TLS 1.3, a real HTTP client, a real
//! store (SQLite file and PostgreSQL), and an injected clock so that timeouts, lockouts and
//! TOTP steps are exact. `crates/inkan/tests/serve.rs` runs the binary itself.
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::server::{Account, Harness, MINUTE, PASSWORD, Session, status};
use inkan_log::entry::{EntryKind, Outcome};
use inkan_server::auth::operators::OperatorRole;
use inkan_server::client::ProofKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn user_flow(engine: Engine) {
    let h = Harness::start(engine, "").await;
    let (_, operator) = h.operator().await;
    let me: Value = h
        .call(&operator, Method::GET, "/v1/me", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["kind"], "operator");
    let (holder, alice) = h.subscriber(&operator, "holder", "alice").await;
    let session = h.login(&alice).await;
    let me = h.call(&session, Method::GET, "/v1/me", None).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["kind"], "user");
    assert_eq!(me["subscriber"], holder.as_str());
    assert_eq!(me["method"], "password+totp");

    // The token alone, without its DPoP proof, or presented as a bearer token: refused.
    let url = format!("{}/v1/me", h.url);
    let bare = h
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {}", session.access))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::UNAUTHORIZED);
    assert!(
        bare.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP")
    );
    let bearer = h
        .http
        .get(&url)
        .header("Authorization", format!("Bearer {}", session.access))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    // A thief's own key, proving for the stolen token: refused.
    let thief = ProofKey::generate().unwrap();
    let stolen = h
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {}", session.access))
        .header(
            "DPoP",
            thief
                .dpop("GET", &url, Some(&session.access), h.now_seconds())
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    // A replayed proof: the first use passes, the second is refused.
    let proof = session
        .key
        .dpop("GET", &url, Some(&session.access), h.now_seconds())
        .unwrap();
    for expected in [StatusCode::OK, StatusCode::UNAUTHORIZED] {
        let response = h
            .http
            .get(&url)
            .header("Authorization", format!("DPoP {}", session.access))
            .header("DPoP", &proof)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected);
    }
    // A proof for another URL, or another method.
    let other_url = format!("{}/v1/keys", h.url);
    for (method, proof_url) in [("GET", other_url.as_str()), ("POST", url.as_str())] {
        let response = h
            .http
            .get(&url)
            .header("Authorization", format!("DPoP {}", session.access))
            .header(
                "DPoP",
                session
                    .key
                    .dpop(method, proof_url, Some(&session.access), h.now_seconds())
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {proof_url}"
        );
    }
    // A stale proof.
    let stale = h
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {}", session.access))
        .header(
            "DPoP",
            session
                .key
                .dpop("GET", &url, Some(&session.access), h.now_seconds() - 120)
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);

    // Keys belong to a subscriber: alice's key is hers; bob (another holder) cannot see it.
    let created = h
        .call(
            &session,
            Method::POST,
            "/v1/keys",
            Some(json!({"algorithm": "ES256", "label": "wallet", "pin": "482913"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let key: Value = created.json().await.unwrap();
    let key_id = key["id"].as_str().unwrap().to_owned();
    assert_eq!(key["owner"], holder.as_str());
    let path = format!("/v1/keys/{key_id}");
    assert_eq!(
        status(h.call(&session, Method::GET, &path, None).await).await,
        StatusCode::OK
    );
    let (_, bob) = h.subscriber(&operator, "holder", "bob").await;
    let bob_session = h.login(&bob).await;
    assert_eq!(
        status(h.call(&bob_session, Method::GET, &path, None).await).await,
        StatusCode::NOT_FOUND
    );
    let listed: Value = h
        .call(&bob_session, Method::GET, "/v1/keys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]));
    // A PIN change needs the current PIN.
    let wrong = h
        .call(
            &session,
            Method::PUT,
            &format!("{path}/pin"),
            Some(json!({"current_pin": "000000", "new_pin": "777777"})),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let right = h
        .call(
            &session,
            Method::PUT,
            &format!("{path}/pin"),
            Some(json!({"current_pin": "482913", "new_pin": "777777"})),
        )
        .await;
    assert_eq!(right.status(), StatusCode::NO_CONTENT);
    // Guessing the current PIN counts towards the account's lock, like a password.
    for _ in 0..5 {
        let wrong = h
            .call(
                &session,
                Method::PUT,
                &format!("{path}/pin"),
                Some(json!({"current_pin": "000000", "new_pin": "888888"})),
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    }
    let locked = h
        .call(
            &session,
            Method::PUT,
            &format!("{path}/pin"),
            Some(json!({"current_pin": "777777", "new_pin": "888888"})),
        )
        .await;
    assert_eq!(locked.status(), StatusCode::FORBIDDEN);
    assert!(locked.text().await.unwrap().contains("locked"));
    // Users are not operators.
    let refused = h
        .call(
            &session,
            Method::POST,
            "/v1/subscribers",
            Some(json!({"kind": "issuer", "name": "x"})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Logout ends the session everywhere.
    assert_eq!(
        status(
            h.call(&session, Method::POST, "/csc/v2/auth/revoke", None)
                .await
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        status(h.call(&session, Method::GET, "/v1/me", None).await).await,
        StatusCode::UNAUTHORIZED
    );

    // Every authentication event is in the transparency log, and no secret is.
    let entries = h.log_entries().await;
    let kinds: Vec<EntryKind> = entries.iter().map(|e| e.kind).collect();
    for kind in [
        EntryKind::AccountCreated,
        EntryKind::AccountActivated,
        EntryKind::Login,
        EntryKind::SubscriberCreated,
        EntryKind::KeyGenerated,
        EntryKind::KeyPinSet,
        EntryKind::AccessRefused,
        EntryKind::Logout,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} missing from the log");
    }
    let text = format!("{entries:?}");
    assert!(
        !text.contains(PASSWORD) && !text.contains(&session.access) && !text.contains("482913")
    );
    h.stop().await;
}

#[tokio::test]
async fn user_flow_sqlite() {
    user_flow(Engine::SqliteFile).await;
}

#[tokio::test]
async fn user_flow_postgres() {
    user_flow(Engine::Postgres).await;
}

/// Idle timeout 15 minutes, absolute 60, access tokens 5.
async fn timeouts(engine: Engine) {
    let h = Harness::start(
        engine,
        "idle_timeout_minutes = 15\nabsolute_timeout_minutes = 60",
    )
    .await;
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, "holder", "alice").await;

    // Idle: used within 15 minutes it lives on; 15 minutes untouched, it is over, refresh
    // included.
    let mut session = h.login(&alice).await;
    h.clock.advance(4 * MINUTE);
    assert_eq!(
        status(h.call(&session, Method::GET, "/v1/me", None).await).await,
        StatusCode::OK
    );
    h.clock.advance(2 * MINUTE);
    let expired = h.call(&session, Method::GET, "/v1/me", None).await;
    assert_eq!(
        expired.status(),
        StatusCode::UNAUTHORIZED,
        "the access token lives 5 minutes"
    );
    assert_eq!(h.refresh(&mut session).await.status(), StatusCode::OK);
    assert_eq!(
        status(h.call(&session, Method::GET, "/v1/me", None).await).await,
        StatusCode::OK
    );
    h.clock.advance(15 * MINUTE);
    let idle = h.call(&session, Method::GET, "/v1/me", None).await;
    assert_eq!(idle.status(), StatusCode::UNAUTHORIZED);
    let idle_refresh = h.refresh(&mut session).await;
    assert_eq!(idle_refresh.status(), StatusCode::UNAUTHORIZED);
    assert!(idle_refresh.text().await.unwrap().contains("idle timeout"));

    // Absolute: kept busy, it still ends 60 minutes after login.
    let mut session = h.login(&alice).await;
    for _ in 0..5 {
        h.clock.advance(10 * MINUTE);
        assert_eq!(h.refresh(&mut session).await.status(), StatusCode::OK);
        assert_eq!(
            status(h.call(&session, Method::GET, "/v1/me", None).await).await,
            StatusCode::OK
        );
    }
    h.clock.advance(10 * MINUTE);
    let over = h.refresh(&mut session).await;
    assert_eq!(over.status(), StatusCode::UNAUTHORIZED);
    assert!(over.text().await.unwrap().contains("absolute timeout"));

    // A refresh token used twice was copied: the session is revoked.
    let mut session = h.login(&alice).await;
    let first_refresh = session.refresh.clone();
    assert_eq!(h.refresh(&mut session).await.status(), StatusCode::OK);
    let mut replay = Session {
        key: ProofKey::generate().unwrap(),
        access: String::new(),
        refresh: first_refresh.clone(),
        http: None,
    };
    // Without the session's DPoP key the old refresh token is simply invalid...
    assert_eq!(
        h.refresh(&mut replay).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(h.call(&session, Method::GET, "/v1/me", None).await).await,
        StatusCode::OK
    );
    // ...with it (the legitimate client's copy leaked with its key), reuse revokes the session.
    let mut reuse = Session {
        key: session.key,
        access: session.access.clone(),
        refresh: first_refresh,
        http: None,
    };
    assert_eq!(
        h.refresh(&mut reuse).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(h.call(&reuse, Method::GET, "/v1/me", None).await).await,
        StatusCode::UNAUTHORIZED
    );
    let entries = h.log_entries().await;
    assert!(entries.iter().any(|e| e.kind == EntryKind::SessionsRevoked
        && matches!(&e.outcome, Outcome::Failed(r) if r.contains("reuse"))));
    assert!(
        entries
            .iter()
            .any(|e| e.kind == EntryKind::TokenRefreshed && e.outcome == Outcome::Succeeded)
    );
    h.stop().await;
}

#[tokio::test]
async fn timeouts_sqlite() {
    timeouts(Engine::SqliteFile).await;
}

#[tokio::test]
async fn timeouts_postgres() {
    timeouts(Engine::Postgres).await;
}

/// Three failures lock an account for 15 minutes; five failures from one source in a minute
/// block the source.
async fn lockout(engine: Engine) {
    let h = Harness::start(
        engine,
        "max_failed_logins = 3\nlockout_minutes = 15\nmax_failures_per_source_per_minute = 5",
    )
    .await;
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, "holder", "alice").await;
    let key = ProofKey::generate().unwrap();
    h.next_step();
    for _ in 0..3 {
        let failed = h
            .login_request(&alice, "wrong password here", &h.otp(&alice), &key)
            .await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: the right password and a fresh OTP are refused, with the same message.
    h.next_step();
    let locked = h
        .login_request(&alice, PASSWORD, &h.otp(&alice), &key)
        .await;
    assert_eq!(locked.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        locked.json::<Value>().await.unwrap()["error_description"],
        "authentication failed"
    );
    assert!(
        h.log_entries()
            .await
            .iter()
            .any(|e| e.kind == EntryKind::AccountLocked)
    );
    // After the lock it works again.
    h.clock.advance(16 * MINUTE);
    let session = h.login(&alice).await;
    assert_eq!(
        status(h.call(&session, Method::GET, "/v1/me", None).await).await,
        StatusCode::OK
    );

    // A wrong OTP and a reused OTP count as failures too.
    h.next_step();
    let otp = h.otp(&alice);
    assert_eq!(
        h.login_request(&alice, PASSWORD, &otp, &key).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        h.login_request(&alice, PASSWORD, &otp, &key).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.login_request(&alice, PASSWORD, "000000", &key)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Per source: 2 failures so far this minute (alice's), 3 more for unknown users reach 5.
    let ghost = Account {
        username: "nobody".into(),
        seed: vec![0; 20],
        terminal: None,
    };
    for _ in 0..3 {
        assert_eq!(
            h.login_request(&ghost, PASSWORD, "123456", &key)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let blocked = h.login_request(&ghost, PASSWORD, "123456", &key).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
    h.stop().await;
}

#[tokio::test]
async fn lockout_sqlite() {
    lockout(Engine::SqliteFile).await;
}

#[tokio::test]
async fn lockout_postgres() {
    lockout(Engine::Postgres).await;
}

/// A self-signed client certificate and its key, PEM.
fn client_certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["e-sealer.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A `client_credentials` request with a client assertion and a DPoP proof by `dpop_key`.
async fn assertion_request(
    h: &Harness,
    dpop_key: &ProofKey,
    assertion: String,
) -> reqwest::Response {
    let token_url = format!("{}/oauth2/token", h.url);
    h.http
        .post(&token_url)
        .header(
            "DPoP",
            dpop_key
                .dpop("POST", &token_url, None, h.now_seconds())
                .unwrap(),
        )
        .form(&[
            ("grant_type", "client_credentials".to_owned()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

/// System clients: mutual TLS (certificate-bound bearer tokens) and `private_key_jwt`
/// (DPoP-bound), scoped to named keys.
async fn system_clients(engine: Engine) {
    let h = Harness::start(engine, "").await;
    let (_, operator) = h.operator().await;
    let (issuer, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let mut keys = Vec::new();
    for label in ["seal", "other"] {
        let created = h
            .call(
                &clerk_session,
                Method::POST,
                "/v1/keys",
                Some(json!({"algorithm": "ES256", "label": label, "pin": "135791"})),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        keys.push(
            created.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let scope = json!({"keys": [{"key": keys[0], "operations": ["read", "sign"]}]});

    // mTLS client.
    let (cert_pem, key_pem) = client_certificate();
    let registered = h
        .call(
            &operator,
            Method::POST,
            &format!("/v1/subscribers/{issuer}/clients"),
            Some(json!({"name": "issuing system", "certificate_pem": cert_pem, "scope": scope})),
        )
        .await;
    let registered = h
        .approve_request(
            registered,
            OperatorRole::RaOfficer,
            Some((&operator, &issuer)),
        )
        .await;
    assert_eq!(
        registered["result"]["token_endpoint_auth_method"],
        "tls_client_auth"
    );
    let cert = std::fs::read(h._dir.path().join("tls/server.crt")).unwrap();
    let mtls = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .identity(reqwest::Identity::from_pem(format!("{cert_pem}{key_pem}").as_bytes()).unwrap())
        .build()
        .unwrap();
    let token_url = format!("{}/oauth2/token", h.url);
    let form = [("grant_type", "client_credentials")];
    let token = mtls.post(&token_url).form(&form).send().await.unwrap();
    assert_eq!(token.status(), StatusCode::OK);
    let token: Value = token.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["scope"], format!("read:{0} sign:{0}", keys[0]));
    assert!(token.get("refresh_token").is_none());
    let access = token["access_token"].as_str().unwrap();
    let key_url = |k: &str| format!("{}/v1/keys/{k}", h.url);
    let with_cert = mtls
        .get(key_url(&keys[0]))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cert.status(), StatusCode::OK);
    // Outside its scope: refused (and logged).
    let out_of_scope = mtls
        .get(key_url(&keys[1]))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(out_of_scope.status(), StatusCode::FORBIDDEN);
    // The same token on a connection without the certificate: refused.
    let stolen = h
        .http
        .get(key_url(&keys[0]))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    // No certificate, no token; an unregistered certificate, no token.
    let anonymous = h.http.post(&token_url).form(&form).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let (other_cert, other_key) = client_certificate();
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .identity(
            reqwest::Identity::from_pem(format!("{other_cert}{other_key}").as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(
        stranger
            .post(&token_url)
            .form(&form)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // A scope wider than registered: refused.
    let wider = mtls
        .post(&token_url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", &format!("sign:{}", keys[1])),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wider.status(), StatusCode::FORBIDDEN);

    // private_key_jwt client, DPoP-bound.
    let client_key = ProofKey::generate().unwrap();
    let registered = h
        .call(
            &operator,
            Method::POST,
            &format!("/v1/subscribers/{issuer}/clients"),
            Some(json!({"name": "batch signer", "jwk": client_key.public_jwk(), "scope": scope})),
        )
        .await;
    let registered = h
        .approve_request(
            registered,
            OperatorRole::RaOfficer,
            Some((&operator, &issuer)),
        )
        .await;
    let client_id = registered["result"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dpop_key = ProofKey::generate().unwrap();
    let assertion = client_key
        .client_assertion(&client_id, &token_url, h.now_seconds())
        .unwrap();
    let token = assertion_request(&h, &dpop_key, assertion.clone()).await;
    assert_eq!(token.status(), StatusCode::OK);
    let token: Value = token.json().await.unwrap();
    assert_eq!(token["token_type"], "DPoP");
    let session = Session {
        key: ProofKey::generate().unwrap(),
        access: token["access_token"].as_str().unwrap().into(),
        refresh: None,
        http: None,
    };
    // The token is bound to the key of the token request's proof.
    assert_eq!(
        status(h.call(&session, Method::GET, "/v1/me", None).await).await,
        StatusCode::UNAUTHORIZED
    );
    let session = Session {
        key: dpop_key,
        ..session
    };
    let me: Value = h
        .call(&session, Method::GET, "/v1/me", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["kind"], "client");
    assert_eq!(me["method"], "private_key_jwt");
    // The same assertion again: a replay.
    assert_eq!(
        assertion_request(&h, &session.key, assertion)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // An assertion signed by another key: refused.
    let forged = ProofKey::generate()
        .unwrap()
        .client_assertion(&client_id, &token_url, h.now_seconds())
        .unwrap();
    assert_eq!(
        assertion_request(&h, &session.key, forged).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The operator revokes every session of the organisation: both clients' tokens stop.
    let revoked = h
        .call(
            &operator,
            Method::POST,
            &format!("/v1/subscribers/{issuer}/sessions/revoke"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert!(
        revoked.json::<Value>().await.unwrap()["revoked"]
            .as_u64()
            .unwrap()
            >= 3
    );
    assert_eq!(
        mtls.get(key_url(&keys[0]))
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(h.call(&session, Method::GET, "/v1/me", None).await).await,
        StatusCode::UNAUTHORIZED
    );
    let kinds: Vec<EntryKind> = h.log_entries().await.iter().map(|e| e.kind).collect();
    for kind in [
        EntryKind::ClientRegistered,
        EntryKind::TokenIssued,
        EntryKind::SessionsRevoked,
        EntryKind::AccessRefused,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} missing from the log");
    }
    h.stop().await;
}

#[tokio::test]
async fn system_clients_sqlite() {
    system_clients(Engine::SqliteFile).await;
}

#[tokio::test]
async fn system_clients_postgres() {
    system_clients(Engine::Postgres).await;
}

/// Activation codes are single use and expire.
#[tokio::test]
async fn activation_codes_are_single_use_and_expire() {
    let h = Harness::start(Engine::SqliteFile, "activation_code_hours = 1").await;
    let _admin = h.admin().await;
    let (operator_account, operator) = h.operator().await;
    let bootstrap = h.server().bootstrap.clone().unwrap();
    let again = h
        .post_json(
            "/v1/activation",
            json!({"activation_code": bootstrap.activation_code.as_str(), "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let created = h
        .call(
            &operator,
            Method::POST,
            "/v1/subscribers",
            Some(json!({"kind": "holder", "name": "late"})),
        )
        .await;
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user = h
        .call(
            &operator,
            Method::POST,
            &format!("/v1/subscribers/{id}/users"),
            Some(json!({"username": "late"})),
        )
        .await;
    let code = user.json::<Value>().await.unwrap()["activation_code"]
        .as_str()
        .unwrap()
        .to_owned();
    h.clock.advance(61 * MINUTE);
    let expired_code = code.clone();
    let expired = h
        .post_json(
            "/v1/activation",
            json!({"activation_code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    // The operator (logged in again: an hour idle ended their session) gives the user a new
    // code; the old one stays dead, the new one works.
    let operator = h.login(&operator_account).await;
    let account_id = h
        .server()
        .service
        .store
        .get_account_by_username("late")
        .await
        .unwrap()
        .unwrap()
        .id;
    let reissued = h
        .call(
            &operator,
            Method::POST,
            &format!("/v1/accounts/{account_id}/activation-code"),
            None,
        )
        .await;
    assert_eq!(reissued.status(), StatusCode::CREATED);
    let new_code = reissued.json::<Value>().await.unwrap()["activation_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_code, expired_code);
    h.activate("late", &new_code).await;
    let unknown = h
        .call(
            &operator,
            Method::POST,
            "/v1/accounts/acc_00000000000000000000000000000000/unlock",
            None,
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // A short password is refused before the code is looked at.
    let short = h
        .post_json(
            "/v1/activation",
            json!({"activation_code": "x", "password": "short"}),
        )
        .await;
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    // Unknown fields and oversized bodies are refused.
    let unknown = h
        .post_json(
            "/v1/activation",
            json!({"activation_code": "x", "password": PASSWORD, "admin": true}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let huge = h
        .http
        .post(format!("{}/v1/activation", h.url))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    h.stop().await;
}
