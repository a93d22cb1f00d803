//! End-to-end authentication tests (criteria 2.2.1, 2.2.4): a real server (`Server::start`,
//! the code `inkan serve` runs) on a loopback port over TLS 1.3, a real HTTP client, a real
//! store (SQLite file and PostgreSQL), and an injected clock so that timeouts, lockouts and
//! TOTP steps are exact. `crates/inkan/tests/serve.rs` runs the binary itself.
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::server::{
    Account, Harness, MINUTE, PASSWORD, Session, client_certificate, mtls_client, status,
};
use inkan_log::entry::{EntryKind, Outcome};
use inkan_server::auth::operators::OperatorRole;
use inkan_server::auth::totp;
use inkan_server::client::ProofKey;
use inkan_server::clock::Clock as _;
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
    // A PIN change needs the current PIN and an OTP, inside one JWE (2.2.3(2)A-2).
    let change = |pin: &'static str, new_pin: &'static str| {
        let (h, session, alice, path, key_id) =
            (&h, &session, &alice, path.clone(), key_id.as_str());
        async move {
            let data = h
                .change_activation(session, alice, "pin.change", key_id, Some(pin), new_pin)
                .await;
            h.call(
                session,
                Method::PUT,
                &format!("{path}/pin"),
                Some(json!({"activation_data": data})),
            )
            .await
        }
    };
    assert_eq!(
        change("000000", "777777").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        change("482913", "777777").await.status(),
        StatusCode::NO_CONTENT
    );
    // Guessing the current PIN counts towards the account's lock, like a password.
    for _ in 0..5 {
        assert_eq!(
            change("000000", "888888").await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let locked = change("777777", "888888").await;
    assert_eq!(locked.status(), StatusCode::FORBIDDEN);
    assert!(
        h.log_entries()
            .await
            .iter()
            .any(|e| e.kind == inkan_log::entry::EntryKind::AccountLocked)
    );
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
    let (cert_pem, key_pem) = client_certificate("e-sealer.example");
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
    let mtls = mtls_client(&h, &cert_pem, &key_pem);
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
    let (other_cert, other_key) = client_certificate("e-sealer.example");
    let stranger = mtls_client(&h, &other_cert, &other_key);
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
    // The operator (logged in again: an hour idle ended their session) asks for a new code
    // and a second registration officer approves it (dual control, criteria 2.1.1(5)); each
    // receives one half; the old code stays dead, the new one works.
    let operator = h.login(&operator_account).await;
    let (_, second_officer) = h.operator().await;
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
    let reissued = reissued.json::<Value>().await.unwrap();
    let request = reissued["request"]["id"].as_str().unwrap();
    let approved = h
        .call(
            &second_officer,
            Method::POST,
            &format!("/v1/approvals/{request}/approve"),
            None,
        )
        .await;
    assert_eq!(approved.status(), StatusCode::OK);
    let new_code = format!(
        "{}.{}",
        approved.json::<Value>().await.unwrap()["activation_code_first_half"]
            .as_str()
            .unwrap(),
        reissued["activation_code_second_half"].as_str().unwrap()
    );
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

// ---------------------------------------------------------------------------------------------
// Concurrency (issue 14): bursts of requests at once over real HTTPS.

/// Opens `n` connections to the server on the harness's client, so that a burst of `n`
/// requests goes out at once instead of waiting on TLS handshakes.
async fn warm_up(h: &Harness, n: usize) {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (http, url) = (h.http.clone(), format!("{}/health", h.url));
        calls.spawn(async move { http.get(url).send().await.unwrap().status() });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
}

/// Fires one login as `username` per `(password, otp)` at once over HTTPS, each with its own
/// DPoP key; the status and `Retry-After` of each answer.
async fn login_burst(
    h: &Harness,
    username: &str,
    attempts: Vec<(String, String)>,
) -> Vec<(StatusCode, Option<String>)> {
    use base64::Engine as _;
    let url = format!("{}/csc/v2/auth/login", h.url);
    let mut calls = tokio::task::JoinSet::new();
    for (password, otp) in attempts {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let proof = ProofKey::generate()
            .unwrap()
            .dpop("POST", &url, None, h.now_seconds())
            .unwrap();
        let request = h
            .http
            .post(&url)
            .header("Authorization", format!("Basic {basic}"))
            .header("DPoP", proof)
            .json(&json!({"otp": otp}));
        calls.spawn(async move {
            let response = request.send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (response.status(), retry_after)
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = calls.join_next().await {
        answers.push(answer.unwrap());
    }
    answers
}

/// The refused logins among `entries` whose password was checked (hashed): every reason but
/// the refusal of a locked account, which is made without hashing.
fn checked_login_failures(entries: &[inkan_log::entry::Entry]) -> usize {
    entries
        .iter()
        .filter(|e| {
            e.kind == EntryKind::Login
                && matches!(&e.outcome, Outcome::Failed(reason) if reason != "account locked")
        })
        .count()
}

/// Issue 14, criteria 2.2.1(2): 50 logins at once over HTTPS with the right password and
/// wrong one-time passwords, then (once that lock has ended) 50 with wrong passwords. In each
/// burst at most `max_failed_logins` attempts get as far as the password hash (each of those
/// logs its reason; the others are refused as locked without hashing, or as busy), the account
/// locks once, and then even the right password with a fresh one-time password is refused.
async fn concurrent_guesses_lock_after_at_most_max(engine: Engine) {
    const MAX: usize = 5;
    const BURST: i64 = 50;
    let h = Harness::start(
        engine,
        "max_failed_logins = 5\nlockout_minutes = 15\nmax_failures_per_source_per_minute = 1000",
    )
    .await;
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, "holder", "alice").await;
    warm_up(&h, 50).await;
    h.next_step();
    let step = totp::step_at(h.now_seconds() * 1000);
    let wrong_otps = (0..BURST)
        .map(|i| {
            let otp = totp::code_at_step(&alice.seed, step - 100 - i);
            (PASSWORD.to_owned(), otp)
        })
        .collect();
    let wrong_passwords = (0..BURST)
        .map(|i| (format!("wrong password {i}"), h.otp(&alice)))
        .collect();
    for (burst, attempts) in [
        ("wrong OTPs", wrong_otps),
        ("wrong passwords", wrong_passwords),
    ] {
        let before = h.log_entries().await.len();
        let answers = login_burst(&h, &alice.username, attempts).await;
        assert!(
            answers
                .iter()
                .all(|(status, _)| *status == StatusCode::UNAUTHORIZED
                    || *status == StatusCode::SERVICE_UNAVAILABLE),
            "{burst}: {answers:?}"
        );
        let entries = h.log_entries().await;
        let new = &entries[before..];
        let checked = checked_login_failures(new);
        assert!(
            (1..=MAX).contains(&checked),
            "{burst}: {checked} attempts were checked, at most {MAX} may be"
        );
        assert_eq!(
            new.iter()
                .filter(|e| e.kind == EntryKind::AccountLocked)
                .count(),
            1,
            "{burst}: the account locks once"
        );
        // Locked: the right password with a fresh one-time password is refused, unhashed.
        h.next_step();
        let key = ProofKey::generate().unwrap();
        let refused = h
            .login_request(&alice, PASSWORD, &h.otp(&alice), &key)
            .await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{burst}");
        h.clock.advance(16 * MINUTE);
    }
    // Once the lock has ended, the right credentials work.
    h.login(&alice).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_lock_after_at_most_max_sqlite() {
    concurrent_guesses_lock_after_at_most_max(Engine::SqliteFile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_lock_after_at_most_max_postgres() {
    concurrent_guesses_lock_after_at_most_max(Engine::Postgres).await;
}

/// Issue 14, criteria 2.1.3(12), 2.2.1(2): with one password hash at a time allowed (and four
/// waiting), a burst of 40 logins gets some 503 answers with `Retry-After: 1` at once; every
/// other one is an ordinary refusal, logged. A busy refusal writes no log entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_beyond_the_hashing_bound_are_refused_busy() {
    let h = Harness::start(
        Engine::SqliteFile,
        "concurrent_hashes = 1\nmax_failures_per_source_per_minute = 1000",
    )
    .await;
    warm_up(&h, 40).await;
    let before = h.log_entries().await.len();
    let attempts = (0..40)
        .map(|_| (PASSWORD.to_owned(), "123456".to_owned()))
        .collect();
    let answers = login_burst(&h, "nobody", attempts).await;
    let busy: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!busy.is_empty(), "{answers:?}");
    assert!(busy.iter().all(|(_, retry)| retry.as_deref() == Some("1")));
    let refused = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(refused + busy.len(), answers.len(), "{answers:?}");
    let entries = h.log_entries().await;
    assert_eq!(checked_login_failures(&entries[before..]), refused);
    h.stop().await;
}

/// Issue 14, criteria 2.2.1(4): a DPoP proof is accepted until the last millisecond of the
/// second `iat + proof_max_age_seconds`; replayed within that second (at its first and at its
/// last millisecond) it is refused, as anywhere else in its window.
async fn a_dpop_proof_replayed_at_the_edge_of_its_window_is_refused(engine: Engine) {
    let h = Harness::start(engine, "proof_max_age_seconds = 60").await;
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, "holder", "alice").await;
    let session = h.login(&alice).await;
    let url = format!("{}/v1/me", h.url);
    h.next_step();
    let edge = h.now_seconds();
    for into_the_second in [0, 999] {
        h.clock
            .advance(edge * 1000 + into_the_second - h.clock.now());
        let iat = edge - 60;
        let proof = session
            .key
            .dpop("GET", &url, Some(&session.access), iat)
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
            assert_eq!(response.status(), expected, "{into_the_second} ms in");
        }
    }
    // A millisecond later the proof is too old, replayed or not.
    h.clock.advance(1);
    let late = session
        .key
        .dpop("GET", &url, Some(&session.access), edge - 60)
        .unwrap();
    let response = h
        .http
        .get(&url)
        .header("Authorization", format!("DPoP {}", session.access))
        .header("DPoP", &late)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    h.stop().await;
}

#[tokio::test]
async fn a_dpop_proof_replayed_at_the_edge_of_its_window_is_refused_sqlite() {
    a_dpop_proof_replayed_at_the_edge_of_its_window_is_refused(Engine::SqliteFile).await;
}

#[tokio::test]
async fn a_dpop_proof_replayed_at_the_edge_of_its_window_is_refused_postgres() {
    a_dpop_proof_replayed_at_the_edge_of_its_window_is_refused(Engine::Postgres).await;
}

/// Issue 14, criteria 2.1.3(12): credential verifications (JSON-LD canonicalisation) run on
/// the blocking pool behind a bound: with one at a time allowed (and four waiting), a burst of
/// 40 gets some 503 answers with `Retry-After: 1`, the rest their verdict, and `/health`
/// answers meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verifications_beyond_their_bound_are_refused_busy() {
    let h = Harness::start_tuned(
        Engine::SqliteFile,
        "test",
        None,
        "concurrent_verifications = 1",
        "",
    )
    .await;
    // A real Data Integrity credential, made heavier to canonicalise (its proof no longer
    // matches: the verdict is a refusal, after the work).
    let mut vc: Value = serde_json::from_str(include_str!(
        "../../inkan-formats/testdata/data-integrity/ecdsa/ecdsa-rdfc-2019-p384/signedECDSAP384.json"
    ))
    .unwrap();
    for i in 0..400 {
        vc["credentialSubject"][format!("claim{i}")] = json!(format!("value {i}"));
    }
    warm_up(&h, 41).await;
    let url = format!("{}/credentials/verify", h.url);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let request = h.http.post(&url).json(&json!({"verifiableCredential": vc}));
        calls.spawn(async move {
            let response = request.send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (response.status(), retry_after)
        });
    }
    let health = h
        .http
        .get(format!("{}/health", h.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let mut answers = Vec::new();
    while let Some(answer) = calls.join_next().await {
        answers.push(answer.unwrap());
    }
    let busy: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!busy.is_empty(), "{answers:?}");
    assert!(busy.iter().all(|(_, retry)| retry.as_deref() == Some("1")));
    assert!(
        answers.iter().all(|(status, _)| [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::SERVICE_UNAVAILABLE
        ]
        .contains(status)),
        "{answers:?}"
    );
    h.stop().await;
}

/// Issue 14, criteria 2.2.1(2): a refused login for a username nobody has costs what a known
/// account's does: one hash (against a dummy) and one store write besides the proof's `jti`
/// and the log entry (a known account's attempt is counted; an unknown one's writes a
/// throwaway one-time id, expired at once), so neither the time nor the writes tell whether
/// the account exists.
async fn an_unknown_username_costs_the_writes_of_a_known_one(engine: Engine) {
    let h = Harness::start(engine, "").await;
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, "holder", "alice").await;
    let ghost = Account {
        username: "nobody".into(),
        seed: vec![0; 20],
        terminal: None,
    };
    let once_ids = || h.db.query_i64("SELECT COUNT(*) FROM once_ids");
    let alice_updated = || {
        h.db.query_i64("SELECT MAX(updated_at) FROM accounts WHERE username = 'alice'")
    };
    h.next_step();
    // A known account: the proof's jti, and the account's count.
    let (ids, updated) = (once_ids().await, alice_updated().await);
    let key = ProofKey::generate().unwrap();
    let refused = h
        .login_request(&alice, "wrong password here", &h.otp(&alice), &key)
        .await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(once_ids().await, ids + 1);
    assert!(updated < h.now_seconds() * 1000);
    assert_eq!(alice_updated().await, h.now_seconds() * 1000);
    // An unknown one: the proof's jti, and a throwaway id where the count would be.
    h.clock.advance(1_000);
    let ids = once_ids().await;
    let refused = h.login_request(&ghost, PASSWORD, "123456", &key).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(once_ids().await, ids + 2);
    h.stop().await;
}

#[tokio::test]
async fn an_unknown_username_costs_the_writes_of_a_known_one_sqlite() {
    an_unknown_username_costs_the_writes_of_a_known_one(Engine::SqliteFile).await;
}

#[tokio::test]
async fn an_unknown_username_costs_the_writes_of_a_known_one_postgres() {
    an_unknown_username_costs_the_writes_of_a_known_one(Engine::Postgres).await;
}

/// Issue 14, criteria 2.2.3(2)A-2, 2.2.1(2): 50 signature activations at once over HTTPS with
/// a wrong PIN and the right one-time password are one attempt each against the account, counted
/// before the PIN is hashed: at most `max_failed_logins` get as far as the hash, the account
/// locks once, and then the right PIN and OTP are refused, and so is a login.
async fn concurrent_wrong_pins_lock_after_at_most_max(engine: Engine) {
    const MAX: usize = 5;
    const PIN: &str = "246810";
    let h = Harness::start(
        engine,
        "max_failed_logins = 5\nlockout_minutes = 15\nmax_failures_per_source_per_minute = 1000",
    )
    .await;
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, "issuer", "alice").await;
    let session = h.login(&alice).await;
    let (key_id, _) = common::server::key(&h, &session, "ES256", PIN).await;
    let activation_key = h.activation_key().await;
    let url = format!("{}/csc/v2/credentials/authorize", h.url);
    let hashes = vec!["n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=".to_owned()];
    let authorize = |pin: &str, nonce: &str| {
        let data = inkan_server::client::authorize_data(
            &key_id,
            "2.16.840.1.101.3.4.2.1",
            &hashes,
            None,
            nonce,
            pin,
            &h.otp(&alice),
        )
        .unwrap();
        let activation =
            inkan_server::client::encrypt_activation_data(&activation_key, &data).unwrap();
        let proof = session
            .key
            .dpop("POST", &url, Some(&session.access), h.now_seconds())
            .unwrap();
        h.http
            .post(&url)
            .header("Authorization", format!("DPoP {}", session.access))
            .header("DPoP", proof)
            .json(&json!({
                "credentialID": key_id, "numSignatures": 1,
                "hashes": ["n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="],
                "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "activationData": activation,
            }))
    };
    warm_up(&h, 50).await;
    h.next_step();
    let before = h.log_entries().await.len();
    let mut calls = tokio::task::JoinSet::new();
    let mut nonces = Vec::new();
    for _ in 0..51 {
        nonces.push(h.nonce(&session).await);
    }
    for (i, nonce) in nonces.iter().take(50).enumerate() {
        let request = authorize(&format!("13579{i:02}"), nonce);
        calls.spawn(async move { request.send().await.unwrap().status() });
    }
    while let Some(status) = calls.join_next().await {
        let status = status.unwrap();
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::SERVICE_UNAVAILABLE,
            "{status}"
        );
    }
    let entries = h.log_entries().await;
    let new = &entries[before..];
    let hashed = new
        .iter()
        .filter(|e| {
            e.kind == EntryKind::SignatureActivated
                && matches!(&e.outcome, Outcome::Failed(reason)
                    if reason != "the account is locked or not active")
        })
        .count();
    assert!(
        (1..=MAX).contains(&hashed),
        "{hashed} activations had their PIN hashed, at most {MAX} may"
    );
    assert_eq!(
        new.iter()
            .filter(|e| e.kind == EntryKind::AccountLocked)
            .count(),
        1
    );
    // Locked: the right PIN with a fresh OTP is refused, and so is a login.
    h.next_step();
    let refused = authorize(PIN, &nonces[50]).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let key = ProofKey::generate().unwrap();
    let login = h
        .login_request(&alice, PASSWORD, &h.otp(&alice), &key)
        .await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_pins_lock_after_at_most_max_sqlite() {
    concurrent_wrong_pins_lock_after_at_most_max(Engine::SqliteFile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_pins_lock_after_at_most_max_postgres() {
    concurrent_wrong_pins_lock_after_at_most_max(Engine::Postgres).await;
}

/// The log's entries table, moved away behind the store's back (so no append can commit) or
/// put back.
async fn break_log(h: &Harness, broken: bool) {
    let (from, to) = if broken {
        ("log_entries", "log_entries_away")
    } else {
        ("log_entries_away", "log_entries")
    };
    h.db.exec(format!("ALTER TABLE {from} RENAME TO {to}"))
        .await;
}

/// The last two entries: the `pending` entry written ahead and then the result, both of
/// `kind` and saying the same.
async fn last_change(h: &Harness, kind: EntryKind) -> (inkan_log::entry::Entry, Outcome) {
    let entries = h.log_entries().await;
    let [ahead, result] = &entries[entries.len() - 2..] else {
        unreachable!()
    };
    assert_eq!(
        (ahead.kind, &ahead.outcome),
        (kind, &Outcome::Pending),
        "{ahead:?}"
    );
    assert_eq!(result.kind, kind, "{result:?}");
    assert_eq!(
        (&ahead.key_id, &ahead.note, &ahead.actor),
        (&result.key_id, &result.note, &result.actor)
    );
    (result.clone(), result.outcome.clone())
}

/// Every state change is written ahead (criteria 2.1.3(12), 2.3.3(5)): when the log cannot
/// be written, a PIN change and a terminal revocation change nothing; when it can, a
/// `pending` entry precedes the result.
async fn changes_are_written_ahead(engine: Engine) {
    let h = Harness::start(engine, "").await;
    let (_, admin) = h.admin().await;
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, "holder", "alice").await;
    let session = h.login(&alice).await;
    let (key_id, _) = common::server::key(&h, &session, "ES256", "482913").await;
    let store = &h.server().service.store;
    let pin_hash = || async { store.get_key_pin(&key_id).await.unwrap().unwrap().pin_hash };
    let path = format!("/v1/keys/{key_id}/pin");
    // A PIN change: the current PIN, an OTP and the new PIN inside one JWE (2.2.3(2)A-2).
    let change = || async {
        let data = h
            .change_activation(
                &session,
                &alice,
                "pin.change",
                &key_id,
                Some("482913"),
                "777777",
            )
            .await;
        json!({"activation_data": data})
    };

    // The PIN: no log, no change.
    let before = pin_hash().await;
    let refused_change = change().await;
    let entries = h.log_entries().await.len();
    break_log(&h, true).await;
    let refused = h
        .call(&session, Method::PUT, &path, Some(refused_change))
        .await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    break_log(&h, false).await;
    assert_eq!(pin_hash().await, before, "the PIN did not change");
    assert_eq!(h.log_entries().await.len(), entries);
    // With the log: pending, then the result.
    let changed = h
        .call(&session, Method::PUT, &path, Some(change().await))
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    assert_ne!(pin_hash().await, before);
    let (result, outcome) = last_change(&h, EntryKind::KeyPinSet).await;
    assert_eq!(outcome, Outcome::Succeeded);
    assert_eq!(result.key_id.as_deref(), Some(key_id.as_str()));

    // A terminal: no log, no revocation; the operator goes on working from it.
    let (auditor_account, auditor) = h
        .staff(inkan_server::auth::operators::OperatorRole::Auditor)
        .await;
    let auditor_id = store
        .get_account_by_username(&auditor_account.username)
        .await
        .unwrap()
        .unwrap()
        .id;
    let terminal = store
        .terminals()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.account_id == auditor_id)
        .unwrap()
        .thumbprint;
    let revoke = format!("/v1/terminals/{terminal}");
    break_log(&h, true).await;
    let refused = h.call(&admin, Method::DELETE, &revoke, None).await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    break_log(&h, false).await;
    let kept = store.get_terminal(&terminal).await.unwrap().unwrap();
    assert_eq!(kept.revoked_at, None, "the terminal was not revoked");
    assert_eq!(
        status(h.call(&auditor, Method::GET, "/v1/me", None).await).await,
        StatusCode::OK
    );
    // With the log: pending, then the result; the terminal stops working.
    let revoked = h.call(&admin, Method::DELETE, &revoke, None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let (result, outcome) = last_change(&h, EntryKind::OperatorAction).await;
    assert_eq!(outcome, Outcome::Succeeded);
    assert_eq!(result.note, Some(format!("terminal {terminal} revoked")));
    assert!(
        store
            .get_terminal(&terminal)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert_eq!(
        status(h.call(&auditor, Method::GET, "/v1/me", None).await).await,
        StatusCode::UNAUTHORIZED
    );
    // A change that fails is logged as failed after its pending entry.
    let again = h.call(&admin, Method::DELETE, &revoke, None).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let (_, outcome) = last_change(&h, EntryKind::OperatorAction).await;
    assert_eq!(outcome, Outcome::Failed("not found".into()));

    // A dual-control request: no log, no request.
    let ask = json!({"action": "operator.role", "account": auditor_id, "role": "ra_officer"});
    break_log(&h, true).await;
    let refused = h
        .call(&admin, Method::POST, "/v1/approvals", Some(ask.clone()))
        .await;
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    break_log(&h, false).await;
    let listed: Value = h
        .call(&admin, Method::GET, "/v1/approvals", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]), "no request was recorded");
    let asked = h
        .call(&admin, Method::POST, "/v1/approvals", Some(ask))
        .await;
    assert_eq!(asked.status(), StatusCode::CREATED);
    let (result, outcome) = last_change(&h, EntryKind::OperatorAction).await;
    assert_eq!(outcome, Outcome::Succeeded);
    assert!(result.note.unwrap().starts_with("requested "));
    h.stop().await;
}

#[tokio::test]
async fn changes_are_written_ahead_sqlite() {
    changes_are_written_ahead(Engine::SqliteFile).await;
}

#[tokio::test]
async fn changes_are_written_ahead_postgres() {
    changes_are_written_ahead(Engine::Postgres).await;
}

/// `/metrics` and `/ready`'s details are not served to an anonymous client on the public
/// listener, only on the operators' plain listener `[server] metrics_listen` (criteria
/// 2.1.3(6)); `/health` says only ok.
#[tokio::test]
async fn metrics_and_readiness_details_are_for_operators_only() {
    use inkan_server::api::server::Server;
    use inkan_server::config::Config;
    let h = Harness::start(Engine::SqliteFile, "").await;
    let get = |path: &str| h.http.get(format!("{}{path}", h.url)).send();
    assert_eq!(
        get("/metrics").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let ready: Value = get("/ready").await.unwrap().json().await.unwrap();
    assert_eq!(ready, json!({"status": "ready"}));
    let health: Value = get("/health").await.unwrap().json().await.unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    assert!(h.server().metrics_addr.is_none(), "off unless configured");

    // Configured: a plain listener of its own serves them.
    let path = h._dir.path().join("inkan.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[server]\n", "[server]\nmetrics_listen = \"127.0.0.1:0\"\n");
    std::fs::write(&path, text).unwrap();
    let (clock, mut h) = (h.clock.clone(), h);
    h.server.take().unwrap().stop().await.unwrap();
    let config = Config::load(Some(&path), std::iter::empty()).unwrap();
    let server = Server::start(&config, clock).await.unwrap();
    let operators = format!("http://{}", server.metrics_addr.unwrap());
    let plain = reqwest::Client::new();
    let details: Value = plain
        .get(format!("{operators}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(details["log_size"].as_u64().unwrap() > 0, "{details}");
    let metrics = plain
        .get(format!("{operators}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let public = format!("https://localhost:{}/metrics", server.local_addr.port());
    assert_eq!(
        h.http.get(public).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    server.stop().await.unwrap();
}
