#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! Operations end to end (criteria 2.1.3(12), (14), 2.2.2(3)C, 2.3.3): operators with roles
//! working from registered terminals over real TLS, and dual control: M approvals by distinct
//! operators, never the requester, before a key is destroyed, a role changes, a terminal is
//! registered or a subscriber's use is terminated.

mod common;

use common::Engine;
use common::server::{
    Harness, MINUTE, PASSWORD, Session, client_certificate, key, mtls_client, status,
};
use inkan_log::entry::EntryKind;
use inkan_server::auth::operators::OperatorRole;
use inkan_server::client::ProofKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn call(
    h: &Harness,
    s: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let response = h.call(s, method, path, body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The state of key `id` as its subscriber's user sees it.
async fn key_state(h: &Harness, user: &Session, id: &str) -> String {
    let (status, body) = call(h, user, Method::GET, &format!("/v1/keys/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["state"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn key_destruction_needs_m_approvals_by_other_key_officers() {
    let h = Harness::start(
        Engine::SqliteFile,
        "[operations]\napprovals = 2\napproval_minutes = 30",
    )
    .await;
    let (_, registrar) = h.operator().await;
    let (_, k1) = h.staff(OperatorRole::KeyOfficer).await;
    let (_, k2) = h.staff(OperatorRole::KeyOfficer).await;
    let (_, k3) = h.staff(OperatorRole::KeyOfficer).await;
    let (_, auditor) = h.staff(OperatorRole::Auditor).await;
    let (_, clerk_account) = h.subscriber(&registrar, "issuer", "clerk").await;
    let clerk = h.login(&clerk_account).await;
    let (seal, _) = key(&h, &clerk, "ES256", "135791").await;
    let (spare, _) = key(&h, &clerk, "ES256", "135791").await;

    let destroy =
        |key: &str| json!({"action": "key.destroy", "key": key, "reason": "compromise suspected"});
    // Only a key officer may ask; a malformed or unknown action is refused.
    for who in [&registrar, &auditor] {
        let (s, _) = call(&h, who, Method::POST, "/v1/approvals", Some(destroy(&seal))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = call(
        &h,
        &k1,
        Method::POST,
        "/v1/approvals",
        Some(json!({"action": "key.export", "key": seal})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(
        &h,
        &k1,
        Method::POST,
        "/v1/approvals",
        Some(json!({"action": "key.destroy", "key": "key_nope", "reason": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, request) = call(&h, &k1, Method::POST, "/v1/approvals", Some(destroy(&seal))).await;
    assert_eq!(s, StatusCode::CREATED, "{request}");
    assert_eq!(request["state"], "pending");
    assert_eq!(request["required"], 2);
    let id = request["id"].as_str().unwrap().to_owned();
    let approve = format!("/v1/approvals/{id}/approve");

    // Nobody approves their own request; other roles may not approve it.
    let (s, body) = call(&h, &k1, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("own request"), "{body}");
    for who in [&registrar, &auditor] {
        assert_eq!(
            call(&h, who, Method::POST, &approve, None).await.0,
            StatusCode::FORBIDDEN
        );
    }
    // M − 1 approvals do nothing; the same officer twice counts once.
    let (s, after_one) = call(&h, &k2, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::OK, "{after_one}");
    assert_eq!(after_one["state"], "pending");
    assert_eq!(after_one["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(key_state(&h, &clerk, &seal).await, "active");
    assert_eq!(
        call(&h, &k2, Method::POST, &approve, None).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(key_state(&h, &clerk, &seal).await, "active");
    // The auditor sees the pending request and changes nothing.
    let (s, pending) = call(
        &h,
        &auditor,
        Method::GET,
        "/v1/approvals?state=pending",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(pending.as_array().unwrap().len(), 1);

    // The M-th approval carries it out, once.
    let (s, done) = call(&h, &k3, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "executed");
    assert_eq!(done["result"]["destroyed"][0], seal.as_str());
    assert_eq!(key_state(&h, &clerk, &seal).await, "destroyed");
    let id_parsed = inkan_store::KeyId::parse(&seal).unwrap();
    let record = h
        .server()
        .service
        .store
        .get_key(&id_parsed)
        .await
        .unwrap()
        .unwrap();
    assert!(!h.server().service.device.contains(&record.handle).unwrap());
    for who in [&k1, &k2] {
        assert_eq!(
            call(&h, who, Method::POST, &approve, None).await.0,
            StatusCode::CONFLICT
        );
    }
    // Every step is logged with the request id, by operators at their terminals.
    let entries = h.log_entries().await;
    let steps: Vec<_> = entries
        .iter()
        .filter(|e| e.approval.as_deref() == Some(id.as_str()))
        .collect();
    assert!(steps.len() >= 4, "{steps:?}");
    assert!(steps.iter().all(|e| e.actor.auth.terminal.is_some()));
    assert!(entries.iter().any(|e| e.kind == EntryKind::KeyDestroyed
        && e.key_id.as_deref() == Some(seal.as_str())
        && e.note.as_deref().is_some_and(|n| n.contains(&id))));

    // A request not approved in time expires and does nothing.
    let (_, late) = call(
        &h,
        &k1,
        Method::POST,
        "/v1/approvals",
        Some(destroy(&spare)),
    )
    .await;
    let late = late["id"].as_str().unwrap().to_owned();
    h.clock.advance(31 * MINUTE);
    // (Sessions idle out too: log in again.)
    let (_, k2b) = h.staff(OperatorRole::KeyOfficer).await;
    let (s, body) = call(
        &h,
        &k2b,
        Method::POST,
        &format!("/v1/approvals/{late}/approve"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("expired"), "{body}");
    let clerk_again = h.login(&clerk_account).await;
    assert_eq!(key_state(&h, &clerk_again, &spare).await, "active");
    h.stop().await;
}

async fn terminate(engine: Engine) {
    let h = Harness::start(engine, "[operations]\napprovals = 1").await;
    let (_, ra1) = h.operator().await;
    let (_, ra2) = h.operator().await;
    let (subscriber, clerk_account) = h.subscriber(&ra1, "issuer", "clerk").await;
    let clerk = h.login(&clerk_account).await;
    let (seal, _) = key(&h, &clerk, "ES256", "135791").await;
    let (other, _) = key(&h, &clerk, "EdDSA", "135791").await;
    let handle = |id: &str| {
        let id = inkan_store::KeyId::parse(id).unwrap();
        let store = h.server().service.store.clone();
        async move { store.get_key(&id).await.unwrap().unwrap().handle }
    };
    let handles = [handle(&seal).await, handle(&other).await];
    let terminate = json!({"action": "subscriber.terminate", "subscriber": subscriber,
                           "reason": "the subscriber applied to end its use"});
    let (s, request) = call(&h, &ra1, Method::POST, "/v1/approvals", Some(terminate)).await;
    assert_eq!(s, StatusCode::CREATED, "{request}");
    let id = request["id"].as_str().unwrap().to_owned();
    // Until approved nothing changes.
    assert_eq!(
        status(h.call(&clerk, Method::GET, "/v1/me", None).await).await,
        StatusCode::OK
    );
    let (s, done) = call(
        &h,
        &ra2,
        Method::POST,
        &format!("/v1/approvals/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "executed", "{done}");
    assert_eq!(
        done["result"]["destroyed"].as_array().unwrap().len(),
        2,
        "{done}"
    );
    assert_eq!(done["result"]["sessionsRevoked"], 1, "{done}");
    // The session ends, the user cannot log in again, the keys are gone from the device.
    assert_eq!(
        status(h.call(&clerk, Method::GET, "/v1/me", None).await).await,
        StatusCode::UNAUTHORIZED
    );
    h.next_step();
    let key = ProofKey::generate().unwrap();
    let login = h
        .login_request(&clerk_account, PASSWORD, &h.otp(&clerk_account), &key)
        .await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    for handle in &handles {
        assert!(!h.server().service.device.contains(handle).unwrap());
    }
    // The records stay, as evidence: the subscriber terminated, the keys destroyed.
    let (s, record) = call(
        &h,
        &ra1,
        Method::GET,
        &format!("/v1/subscribers/{subscriber}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(record["state"], "terminated");
    let entries = h.log_entries().await;
    let destroyed: std::collections::BTreeSet<_> = entries
        .iter()
        .filter(|e| {
            e.kind == EntryKind::KeyDestroyed
                && e.note
                    .as_deref()
                    .is_some_and(|n| n.contains("use terminated"))
        })
        .filter_map(|e| e.key_id.clone())
        .collect();
    assert_eq!(destroyed.len(), 2);
    // A second termination is refused.
    let again =
        json!({"action": "subscriber.terminate", "subscriber": subscriber, "reason": "again"});
    assert_eq!(
        call(&h, &ra1, Method::POST, "/v1/approvals", Some(again))
            .await
            .0,
        StatusCode::CONFLICT
    );
    h.stop().await;
}

#[tokio::test]
async fn termination_destroys_keys_and_ends_access_sqlite() {
    terminate(Engine::SqliteFile).await;
}

#[tokio::test]
async fn termination_destroys_keys_and_ends_access_postgres() {
    terminate(Engine::Postgres).await;
}

#[tokio::test]
async fn roles_and_terminals_change_only_under_dual_control() {
    let h = Harness::start(Engine::SqliteFile, "[operations]\napprovals = 1").await;
    let (_, admin) = h.admin().await;
    let (_, admin2) = h.staff(OperatorRole::Admin).await;
    let (officer_account, officer) = h.staff(OperatorRole::KeyOfficer).await;
    let (_, operators) = call(&h, &admin, Method::GET, "/v1/operators", None).await;
    let officer_id = operators
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["username"] == officer_account.username.as_str())
        .unwrap()["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only an admin may ask; an admin does not enrol subscribers or manage keys.
    let to_auditor = json!({"action": "operator.role", "account": officer_id, "role": "auditor"});
    assert_eq!(
        call(
            &h,
            &officer,
            Method::POST,
            "/v1/approvals",
            Some(to_auditor.clone())
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    let (s, _) = call(
        &h,
        &admin,
        Method::POST,
        "/v1/subscribers",
        Some(json!({"kind": "holder", "name": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, request) = call(&h, &admin, Method::POST, "/v1/approvals", Some(to_auditor)).await;
    let id = request["id"].as_str().unwrap();
    let (s, done) = call(
        &h,
        &admin2,
        Method::POST,
        &format!("/v1/approvals/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        (s, &done["state"]),
        (StatusCode::OK, &json!("executed")),
        "{done}"
    );
    // The role holds from the next request.
    let destroy = json!({"action": "key.destroy", "key": "key_x", "reason": "x"});
    let (s, body) = call(&h, &officer, Method::POST, "/v1/approvals", Some(destroy)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("auditor"), "{body}");

    // A second terminal for the officer: not usable before approval, usable after.
    let (laptop, laptop_pem) = h.terminal();
    let key = ProofKey::generate().unwrap();
    h.next_step();
    let refused = h
        .login_request_with(
            &laptop,
            &officer_account,
            PASSWORD,
            &h.otp(&officer_account),
            &key,
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let register = json!({"action": "operator.terminal", "account": officer_id, "name": "laptop",
                          "certificate_pem": laptop_pem});
    let (_, request) = call(&h, &admin, Method::POST, "/v1/approvals", Some(register)).await;
    let id = request["id"].as_str().unwrap();
    let (s, done) = call(
        &h,
        &admin2,
        Method::POST,
        &format!("/v1/approvals/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        (s, &done["state"]),
        (StatusCode::OK, &json!("executed")),
        "{done}"
    );
    let from_laptop = h.login_with(Some(&laptop), &officer_account).await;
    assert_eq!(
        status(
            h.call(&from_laptop, Method::GET, "/v1/approvals", None)
                .await
        )
        .await,
        StatusCode::OK
    );
    // Without any client certificate an operator cannot log in.
    h.next_step();
    let plain = h
        .login_request_with(
            &h.http,
            &officer_account,
            PASSWORD,
            &h.otp(&officer_account),
            &key,
        )
        .await;
    assert_eq!(plain.status(), StatusCode::FORBIDDEN);
    // Revoking the laptop ends its use at once.
    let thumbprint = done["result"]["terminal"].as_str().unwrap();
    let revoke = h
        .call(
            &admin,
            Method::DELETE,
            &format!("/v1/terminals/{thumbprint}"),
            None,
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status(
            h.call(&from_laptop, Method::GET, "/v1/approvals", None)
                .await
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    h.stop().await;
}

#[tokio::test]
async fn enrolment_needs_proofing_a_mandate_and_a_second_officer() {
    let h = Harness::start_in(Engine::SqliteFile, "staging", "").await;
    let (_, ra1) = h.operator().await;
    let (_, ra2) = h.operator().await;
    let (_, ra3) = h.operator().await;
    let (_, auditor) = h.staff(OperatorRole::Auditor).await;
    // Outside `test` nobody is created without an application.
    let (s, _) = call(
        &h,
        &ra1,
        Method::POST,
        "/v1/subscribers",
        Some(json!({"kind": "issuer", "name": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let university = json!({
        "applicant": {"name": "Taro Yamada", "username": "taro"},
        "subscriber": {"new": {"kind": "issuer", "name": "Example University"}},
        "keys": [{"algorithm": "ES256", "label": "e-seal"}]
    });
    let (s, _) = call(
        &h,
        &auditor,
        Method::POST,
        "/v1/applications",
        Some(university.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, bad) = call(
        &h,
        &ra1,
        Method::POST,
        "/v1/applications",
        Some(json!({
            "applicant": {"name": "x", "username": "x"},
            "subscriber": {"new": {"kind": "issuer", "name": "x"}},
            "keys": [{"algorithm": "HS256", "label": "k"}]
        })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    let (s, app) = call(&h, &ra1, Method::POST, "/v1/applications", Some(university)).await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    assert_eq!(app["state"], "pending");
    let id = app["id"].as_str().unwrap().to_owned();
    let path = |what: &str| format!("/v1/applications/{id}{what}");

    // Without identity proofing: refused.
    let (s, body) = call(&h, &ra3, Method::POST, &path("/approve"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("identity-proofing"), "{body}");
    let proofing = json!({"method": "corporate_registry", "evidence_reference": "DMS-2026-0042"});
    let (s, body) = call(
        &h,
        &ra2,
        Method::PUT,
        &path("/identity-proofing"),
        Some(proofing),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        body["proofing"]["checked_by"]["terminal"].is_string(),
        "the checking officer and terminal are recorded: {body}"
    );
    // An organisation acts through a person: without a mandate, refused.
    let (s, body) = call(&h, &ra3, Method::POST, &path("/approve"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("mandate"), "{body}");
    let mandate = json!({"mandator": "President, Example University",
                         "document_reference": "DMS-2026-0043"});
    let (s, _) = call(&h, &ra1, Method::PUT, &path("/mandate"), Some(mandate)).await;
    assert_eq!(s, StatusCode::OK);
    // Its recorder and its checker may not approve it; nor may an auditor.
    for who in [&ra1, &ra2, &auditor] {
        let (s, body) = call(&h, who, Method::POST, &path("/approve"), None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    }
    assert!(
        h.server()
            .service
            .store
            .get_account_by_username("taro")
            .await
            .unwrap()
            .is_none()
    );

    // A third officer approves: the subscriber, the account and the key exist now.
    let (s, approved) = call(&h, &ra3, Method::POST, &path("/approve"), None).await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["application"]["state"], "approved");
    let enrolled = &approved["application"]["enrolled"];
    let key_id = enrolled["keys"][0].as_str().unwrap().to_owned();
    let code = whole_code(&app, &approved);
    assert_eq!(
        call(&h, &ra3, Method::POST, &path("/approve"), None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    let taro = h.activate("taro", &code).await;
    let taro_session = h.login(&taro).await;
    let (s, me) = call(&h, &taro_session, Method::GET, "/v1/me", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["subscriber"], enrolled["subscriber"]);
    let (s, _) = call(
        &h,
        &taro_session,
        Method::PUT,
        &format!("/v1/keys/{key_id}/pin"),
        Some(json!({"activation_data": h
            .change_activation(&taro_session, &taro, "pin.change", &key_id, None, "135791")
            .await})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(key_state(&h, &taro_session, &key_id).await, "active");

    // A person applying for themselves needs no mandate.
    let (_, holder) = call(
        &h,
        &ra1,
        Method::POST,
        "/v1/applications",
        Some(json!({
            "applicant": {"name": "Hana Sato", "username": "hana"},
            "subscriber": {"new": {"kind": "holder", "name": "Hana Sato"}}
        })),
    )
    .await;
    let holder_id = holder["id"].as_str().unwrap();
    let proofing = json!({"method": "jpki", "evidence_reference": "JPKI-7781"});
    call(
        &h,
        &ra2,
        Method::PUT,
        &format!("/v1/applications/{holder_id}/identity-proofing"),
        Some(proofing),
    )
    .await;
    let (s, body) = call(
        &h,
        &ra3,
        Method::POST,
        &format!("/v1/applications/{holder_id}/approve"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(
        body["application"]["enrolled"]["keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A rejected application stays rejected.
    let (_, other) = call(
        &h,
        &ra1,
        Method::POST,
        "/v1/applications",
        Some(json!({
            "applicant": {"name": "Mallory", "username": "mallory"},
            "subscriber": {"new": {"kind": "holder", "name": "Mallory"}}
        })),
    )
    .await;
    let other_id = other["id"].as_str().unwrap();
    let (s, rejected) = call(
        &h,
        &ra2,
        Method::POST,
        &format!("/v1/applications/{other_id}/reject"),
        Some(json!({"reason": "identity could not be confirmed"})),
    )
    .await;
    assert_eq!(
        (s, &rejected["state"]),
        (StatusCode::OK, &json!("rejected"))
    );
    assert_eq!(
        call(
            &h,
            &ra3,
            Method::POST,
            &format!("/v1/applications/{other_id}/approve"),
            None
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    assert!(
        h.server()
            .service
            .store
            .get_account_by_username("mallory")
            .await
            .unwrap()
            .is_none()
    );

    // A failure part-way (the username is another subscriber's) leaves nothing usable: the
    // new subscriber is ended and the application says failed.
    let (_, clash) = call(
        &h,
        &ra1,
        Method::POST,
        "/v1/applications",
        Some(json!({
            "applicant": {"name": "Taro again", "username": "taro"},
            "subscriber": {"new": {"kind": "holder", "name": "Taro again"}},
            "keys": [{"algorithm": "EdDSA", "label": "wallet"}]
        })),
    )
    .await;
    let clash_id = clash["id"].as_str().unwrap();
    let proofing = json!({"method": "in_person", "evidence_reference": "desk-12"});
    call(
        &h,
        &ra2,
        Method::PUT,
        &format!("/v1/applications/{clash_id}/identity-proofing"),
        Some(proofing),
    )
    .await;
    let (s, body) = call(
        &h,
        &ra3,
        Method::POST,
        &format!("/v1/applications/{clash_id}/approve"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let (_, failed) = call(
        &h,
        &ra3,
        Method::GET,
        &format!("/v1/applications/{clash_id}"),
        None,
    )
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let store = &h.server().service.store;
    let orphan = store
        .list_subscribers()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == "Taro again")
        .unwrap();
    assert_eq!(orphan.state.as_str(), "terminated");
    let keys = store
        .list_keys(&inkan_store::KeyFilter {
            owner: Some(orphan.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        keys.iter()
            .all(|k| k.state == inkan_store::KeyState::Destroyed)
    );

    // The auditor reads them; reads of personal data are logged.
    let (s, all) = call(&h, &auditor, Method::GET, "/v1/applications", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all.as_array().unwrap().len(), 4);
    let (s, _) = call(&h, &auditor, Method::GET, &path(""), None).await;
    assert_eq!(s, StatusCode::OK);
    let entries = h.log_entries().await;
    assert!(entries.iter().any(|e| e.kind == EntryKind::OperatorAction
        && e.note.as_deref() == Some(&format!("application {id} read"))
        && e.actor.auth.terminal.is_some()));
    h.stop().await;
}

/// Enrols a holder through an application (two officers) and returns the user's session.
async fn enrol_holder_account(h: &Harness, username: &str) -> common::server::Account {
    let (app, approved) = approve_holder(h, username, json!([])).await;
    h.activate(username, &whole_code(&app, &approved)).await
}

/// A holder's application asking for `keys`, recorded and proofed by one officer and approved
/// by another: what each received (the recorded application, the approval).
async fn approve_holder(h: &Harness, username: &str, keys: Value) -> (Value, Value) {
    let (_, ra1) = h.operator().await;
    let (_, ra2) = h.operator().await;
    let (s, app) = call(
        h,
        &ra1,
        Method::POST,
        "/v1/applications",
        Some(json!({
            "applicant": {"name": username, "username": username},
            "subscriber": {"new": {"kind": "holder", "name": username}},
            "keys": keys
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{app}");
    let id = app["id"].as_str().unwrap();
    let proofing = json!({"method": "in_person", "evidence_reference": "desk-1"});
    let (s, _) = call(
        h,
        &ra1,
        Method::PUT,
        &format!("/v1/applications/{id}/identity-proofing"),
        Some(proofing),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, approved) = call(
        h,
        &ra2,
        Method::POST,
        &format!("/v1/applications/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    (app, approved)
}

/// The activation code the applicant types: the first half (the approving officer's) and the
/// second (the recording officer's), joined.
fn whole_code(recorded: &Value, approved: &Value) -> String {
    format!(
        "{}.{}",
        approved["activation_code_first_half"].as_str().unwrap(),
        recorded["activation_code_second_half"].as_str().unwrap()
    )
}

/// Everything one operator received that could serve as (part of) an activation code: the
/// strings of `received` under a name with `code` in it, and `extra`.
fn code_material(received: &Value, extra: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = received
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.contains("code"))
        .filter_map(|(_, v)| v.as_str().map(str::to_owned))
        .collect();
    found.extend(extra.iter().map(|s| (*s).to_owned()));
    found
}

/// Tries every piece of `material` alone, and every two joined as halves, as an activation
/// code (step 1, which sets the password): the ones that were accepted.
async fn activations_with(h: &Harness, material: &[String]) -> Vec<String> {
    let mut tries: Vec<String> = material.to_vec();
    for a in material {
        for b in material {
            tries.push(format!("{a}.{b}"));
        }
    }
    let mut accepted = Vec::new();
    for code in tries {
        let response = h
            .post_json(
                "/v1/activation",
                json!({"activation_code": code, "password": PASSWORD}),
            )
            .await;
        if response.status() != StatusCode::BAD_REQUEST {
            accepted.push(format!("{code}: {}", response.status()));
        }
    }
    accepted
}

/// Criteria 2.1.1(5), 2.1.3(12) (issue 14 point 8): no single officer can become an enrolled
/// user. The recording officer receives the activation code's second half, the approving
/// officer its first half; with everything either received (and the application record,
/// which holds the second half's hash) neither activates the account, so neither can log in,
/// set the keys' PINs or sign. The applicant, given both halves, activates, sets the PIN and
/// signs; each hand-over is logged with the officer who received it.
#[tokio::test]
async fn no_single_officer_can_activate_an_enrolled_user() {
    use common::server::{Account, Holder, authorize};
    const PIN: &str = "135791";
    let h = Harness::start_in(Engine::SqliteFile, "staging", "").await;
    let (app, approved) = approve_holder(
        &h,
        "yui",
        json!([{"algorithm": "ES256", "label": "wallet"}]),
    )
    .await;
    let id = app["id"].as_str().unwrap();
    let key_id = approved["application"]["enrolled"]["keys"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let hash = approved["application"]["second_half_hash"]
        .as_str()
        .unwrap_or("no hash");
    let approver_holds = code_material(&approved, &[hash]);
    let recorder_holds = code_material(&app, &[hash]);
    assert!(
        !approver_holds.is_empty() && !recorder_holds.is_empty(),
        "{approved} {app}"
    );
    assert_eq!(
        activations_with(&h, &approver_holds).await,
        Vec::<String>::new()
    );
    assert_eq!(
        activations_with(&h, &recorder_holds).await,
        Vec::<String>::new()
    );
    // The account is still pending: nobody can log in as the user, so nobody sets a PIN.
    let store = &h.server().service.store;
    let account = store.get_account_by_username("yui").await.unwrap().unwrap();
    assert_eq!(account.state.as_str(), "pending");
    let guessed = Account {
        username: "yui".into(),
        seed: vec![0; 20],
        terminal: None,
    };
    let key = ProofKey::generate().unwrap();
    let login = h.login_request(&guessed, PASSWORD, "000000", &key).await;
    assert!(login.status().is_client_error(), "{}", login.status());

    // The applicant, with both halves, activates, sets the key's PIN and signs.
    h.clock.advance(MINUTE);
    let yui = h.activate("yui", &whole_code(&app, &approved)).await;
    let session = h.login(&yui).await;
    let (s, body) = call(
        &h,
        &session,
        Method::PUT,
        &format!("/v1/keys/{key_id}/pin"),
        Some(json!({"activation_data": h
            .change_activation(&session, &yui, "pin.change", &key_id, None, PIN)
            .await})),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let holder = Holder {
        account: yui,
        session,
        key_id: key_id.clone(),
        jwk: Value::Null,
    };
    let document = json!({
        "format": "openid4vci-proof", "audience": "https://issuer.example", "nonce": "n-1",
    });
    let (s, prepared) = call(
        &h,
        &holder.session,
        Method::POST,
        "/v1/holder/prepare",
        Some(json!({"credentialID": key_id, "document": document})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{prepared}");
    let sad = authorize(&h, &holder, &h.activation_key().await, &prepared, PIN).await;
    let (s, signed) = call(
        &h,
        &holder.session,
        Method::POST,
        "/v1/holder/sign",
        Some(json!({
            "credentialID": key_id, "document": document,
            "issuedAt": prepared["issuedAt"], "SAD": sad,
        })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{signed}");

    // Who received which half is in the log, and they are two officers.
    let entries = h.log_entries().await;
    let received = |half: &str| {
        entries
            .iter()
            .find(|e| {
                e.kind == EntryKind::OperatorAction
                    && e.note.as_deref().is_some_and(|n| {
                        n.starts_with(&format!("application {id} "))
                            && n.contains(&format!("{half} half handed"))
                    })
                    && e.actor.auth.terminal.is_some()
            })
            .map(|e| e.actor.id.clone())
            .unwrap_or_else(|| panic!("no entry for the {half} half"))
    };
    assert_ne!(received("first"), received("second"));
    h.stop().await;
}

/// Criteria 2.1.3(12), 2.1.1(5) (issue 14 point 8): a user's activation code is reissued only
/// under dual control. The requesting officer receives the new code's second half, the
/// approving officer its first; the request changes nothing until approved, its requester
/// cannot approve it, it cannot be asked through `POST /v1/approvals` with a half the
/// requester chose, the stored request holds no half, and neither officer alone activates the
/// account; the user with both halves does.
#[tokio::test]
async fn reissuing_an_activation_code_needs_a_second_officer() {
    let h = Harness::start_in(Engine::SqliteFile, "staging", "").await;
    let (app, approved) = approve_holder(&h, "ren", json!([])).await;
    let account = approved["application"]["enrolled"]["account"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, ra_a) = h.operator().await;
    let (_, ra_b) = h.operator().await;
    let reissue = format!("/v1/accounts/{account}/activation-code");

    let (s, asked) = call(&h, &ra_a, Method::POST, &reissue, None).await;
    assert_eq!(s, StatusCode::CREATED, "{asked}");
    assert_eq!(asked["request"]["state"], "pending", "{asked}");
    assert_eq!(asked["request"]["required"], 1, "{asked}");
    let request = asked["request"]["id"].as_str().unwrap().to_owned();
    let second_hash = asked["request"]["action"]["second_half_hash"]
        .as_str()
        .unwrap_or("no hash")
        .to_owned();
    let requester_holds = code_material(&asked, &[&second_hash]);
    assert_eq!(
        activations_with(&h, &requester_holds).await,
        Vec::<String>::new()
    );
    // Asked, not approved: the old code still works (step 1 may be repeated).
    let old_code = whole_code(&app, &approved);
    let started = h
        .post_json(
            "/v1/activation",
            json!({"activation_code": old_code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status(), StatusCode::OK);

    // The requester may not approve; a request with a chosen half is refused.
    let approve = format!("/v1/approvals/{request}/approve");
    let (s, body) = call(&h, &ra_a, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let (s, body) = call(
        &h,
        &ra_a,
        Method::POST,
        "/v1/approvals",
        Some(
            json!({"action": "account.activation_code", "account": account,
                    "second_half_hash": "0".repeat(64)}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

    // A second officer approves and receives the first half, which is stored nowhere.
    let (s, done) = call(&h, &ra_b, Method::POST, &approve, None).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["state"], "executed", "{done}");
    let first = done["activation_code_first_half"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, stored) = call(
        &h,
        &ra_a,
        Method::GET,
        &format!("/v1/approvals/{request}"),
        None,
    )
    .await;
    assert!(!stored.to_string().contains(&first), "{stored}");
    let approver_holds = code_material(&done, &[&second_hash]);
    h.clock.advance(MINUTE);
    assert_eq!(
        activations_with(&h, &approver_holds).await,
        Vec::<String>::new()
    );
    assert_eq!(
        activations_with(&h, &[old_code]).await,
        Vec::<String>::new()
    );

    // The user, with both halves, activates.
    h.clock.advance(MINUTE);
    let second = asked["activation_code_second_half"].as_str().unwrap();
    let ren = h.activate("ren", &format!("{first}.{second}")).await;
    h.login(&ren).await;
    let entries = h.log_entries().await;
    assert!(
        entries
            .iter()
            .any(|e| e.approval.as_deref() == Some(&request)
                && e.note.as_deref() == Some(&format!("activation code reissued for {account}")))
    );
    h.stop().await;
}

/// Criteria 2.1.1(5) (issue 14 point 8): where `[operations]` lets other actions run
/// unapproved, a reissued activation code still waits for a second officer (run at once, its
/// requester would receive both halves).
#[tokio::test]
async fn a_reissued_activation_code_waits_for_an_approver_even_when_none_is_configured() {
    let h = Harness::start_in(Engine::SqliteFile, "staging", "[operations]\napprovals = 0").await;
    let (_, approved) = approve_holder(&h, "kai", json!([])).await;
    let account = approved["application"]["enrolled"]["account"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, ra) = h.operator().await;
    let (s, asked) = call(
        &h,
        &ra,
        Method::POST,
        &format!("/v1/accounts/{account}/activation-code"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{asked}");
    assert_eq!(
        (&asked["request"]["state"], &asked["request"]["required"]),
        (&json!("pending"), &json!(1)),
        "{asked}"
    );
    assert_eq!(
        activations_with(&h, &code_material(&asked, &[])).await,
        Vec::<String>::new()
    );
    h.stop().await;
}

/// [`enrol_holder_account`], logged in.
async fn enrol_holder(h: &Harness, username: &str) -> Session {
    let user = enrol_holder_account(h, username).await;
    h.login(&user).await
}

/// Criteria 2.2.3(1)B (issue 14 point 6): on a production node every signature rests on a
/// status check. A holder's key gets the registry's own state as its source (shown by the key
/// API and CSC `credentials/info`) and signs; the same key without a source is refused.
#[tokio::test]
async fn a_production_node_refuses_a_key_without_a_status_source() {
    use common::server::{Holder, authorize};
    const PIN: &str = "135791";
    let h = Harness::start_in(Engine::SqliteFile, "production", "").await;
    let account = enrol_holder_account(&h, "pia").await;
    let session = h.login(&account).await;
    let (key_id, jwk) = key(&h, &session, "ES256", PIN).await;
    let (s, view) = call(
        &h,
        &session,
        Method::GET,
        &format!("/v1/keys/{key_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(view["status"]["source"], "registry", "{view}");
    assert_eq!(view["status"]["value"], "valid", "{view}");
    let (_, info) = call(
        &h,
        &session,
        Method::POST,
        "/csc/v2/credentials/info",
        Some(json!({"credentialID": key_id})),
    )
    .await;
    assert!(info.to_string().contains("registry"), "{info}");
    let activation_key = h.activation_key().await;
    let holder = Holder {
        account,
        session,
        key_id: key_id.clone(),
        jwk,
    };
    let sign = |nonce: &'static str| {
        let (h, holder, activation_key) = (&h, &holder, &activation_key);
        async move {
            let document = json!({
                "format": "openid4vci-proof", "audience": "https://issuer.example",
                "nonce": nonce,
            });
            let (s, prepared) = call(
                h,
                &holder.session,
                Method::POST,
                "/v1/holder/prepare",
                Some(json!({"credentialID": holder.key_id, "document": document})),
            )
            .await;
            assert_eq!(s, StatusCode::OK, "{prepared}");
            let sad = authorize(h, holder, activation_key, &prepared, PIN).await;
            call(
                h,
                &holder.session,
                Method::POST,
                "/v1/holder/sign",
                Some(json!({
                    "credentialID": holder.key_id, "document": document,
                    "issuedAt": prepared["issuedAt"], "SAD": sad,
                })),
            )
            .await
        }
    };
    let (s, signed) = sign("n-1").await;
    assert_eq!(s, StatusCode::OK, "{signed}");
    // The same key without a status source (as a key made before this rule would be).
    let pool = sqlx::SqlitePool::connect(&h.db.url).await.unwrap();
    sqlx::query("DELETE FROM key_status_sources WHERE key_id = ?")
        .bind(&key_id)
        .execute(&pool)
        .await
        .unwrap();
    let (s, refused) = sign("n-2").await;
    assert!(s.is_client_error(), "{s} {refused}");
    assert!(
        refused.to_string().contains("no status source"),
        "{refused}"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_production_node_refuses_test_tokens_and_keys() {
    let test = Harness::start(Engine::SqliteFile, "").await;
    let (_, ra) = test.operator().await;
    let (_, tess) = test.subscriber(&ra, "holder", "tess").await;
    let tess = test.login(&tess).await;
    let production = Harness::start_in(Engine::SqliteFile, "production", "").await;
    // A token of the test deployment, with a proof for the production node: refused by name.
    let stolen = Session {
        key: tess.key,
        access: tess.access.clone(),
        refresh: None,
        http: None,
    };
    let refused = production.call(&stolen, Method::GET, "/v1/me", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("issued in the test environment, not production"),
        "{text}"
    );
    // Production enrols only through applications.
    let (_, officer) = production.operator().await;
    let (s, _) = call(
        &production,
        &officer,
        Method::POST,
        "/v1/subscribers",
        Some(json!({"kind": "holder", "name": "x"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A key record of the test environment (as a restore of the wrong backup would leave it)
    // is refused by every key route.
    let pia = enrol_holder(&production, "pia").await;
    let (key_id, _) = key(&production, &pia, "ES256", "135791").await;
    assert_eq!(key_state(&production, &pia, &key_id).await, "active");
    let pool = sqlx::SqlitePool::connect(&production.db.url).await.unwrap();
    sqlx::query("UPDATE keys SET environment = 'test' WHERE id = ?")
        .bind(&key_id)
        .execute(&pool)
        .await
        .unwrap();
    let (s, body) = call(
        &production,
        &pia,
        Method::GET,
        &format!("/v1/keys/{key_id}"),
        None,
    )
    .await;
    assert!(s.is_client_error(), "{s} {body}");
    assert!(body.to_string().contains("test environment"), "{body}");
    test.stop().await;
    production.stop().await;
}

#[tokio::test]
async fn production_starts_a_changed_configuration_only_with_an_approved_request() {
    use inkan_server::api::server::Server;
    use inkan_server::config::Config;
    let h = Harness::start_in(Engine::SqliteFile, "production", "").await;
    let (_, admin) = h.admin().await;
    let (_, admin2) = h.staff(OperatorRole::Admin).await;
    let path = h._dir.path().join("inkan.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    let changed = original.replace("[auth]\n", "[auth]\nmax_failed_logins = 3\n");
    assert_ne!(changed, original);
    std::fs::write(&path, &changed).unwrap();
    let digest = inkan_server::operations::configuration::digest(
        &Config::load(Some(&path), std::iter::empty()).unwrap(),
    );
    let ask = json!({"action": "config.change", "digest": digest, "reason": "lockout after 3"});
    let (s, request) = call(&h, &admin, Method::POST, "/v1/approvals", Some(ask)).await;
    assert_eq!(s, StatusCode::CREATED, "{request}");
    let id = request["id"].as_str().unwrap().to_owned();
    let clock = h.clock.clone();
    let mut h = h;
    h.server.take().unwrap().stop().await.unwrap();
    let start = |text: String| {
        std::fs::write(&path, text).unwrap();
        let config = Config::load(Some(&path), std::iter::empty()).unwrap();
        let clock = clock.clone();
        async move { Server::start(&config, clock).await }
    };
    // Changed, without an approval, or with one still pending: refused.
    let err = start(changed.clone()).await.unwrap_err();
    assert!(err.to_string().contains("config.change"), "{err}");
    let with_approval = format!("{changed}[operations]\nconfiguration_approval = \"{id}\"\n");
    let err = start(with_approval.clone()).await.unwrap_err();
    assert!(err.to_string().contains("pending"), "{err}");
    // Approved by a second admin: it starts, once; the change is logged with the request.
    let server = start(original.clone()).await.unwrap();
    h.server = Some(server);
    h.url = h.server().public_url.clone();
    let (s, done) = call(
        &h,
        &admin2,
        Method::POST,
        &format!("/v1/approvals/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        (s, &done["state"]),
        (StatusCode::OK, &json!("executed")),
        "{done}"
    );
    h.server.take().unwrap().stop().await.unwrap();
    let server = start(with_approval.clone()).await.unwrap();
    h.server = Some(server);
    let entries = h.log_entries().await;
    let change = entries
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::ConfigurationChanged)
        .unwrap();
    assert_eq!(change.approval.as_deref(), Some(id.as_str()));
    assert!(change.note.as_deref().unwrap().contains(&digest));
    h.server.take().unwrap().stop().await.unwrap();
    // The same configuration starts again; the approval is not needed (nor usable) again.
    let server = start(with_approval).await.unwrap();
    h.server = Some(server);
    h.stop().await;
}

/// What a system client holding `identity` gets: the token endpoint's status and, with a
/// token, the status of e-sealing a credential with `seal`.
async fn client_signs(
    h: &Harness,
    identity: &(String, String),
    seal: &str,
) -> (StatusCode, StatusCode) {
    let mtls = mtls_client(h, &identity.0, &identity.1);
    let token = mtls
        .post(format!("{}/oauth2/token", h.url))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    if token.status() != StatusCode::OK {
        return (token.status(), StatusCode::UNAUTHORIZED);
    }
    let token: Value = token.json().await.unwrap();
    let issued = mtls
        .post(format!("{}/credentials/issue", h.url))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&json!({
            "credential": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:subject"}
            },
            "options": {"credentialId": seal, "format": "vc+jwt"}
        }))
        .send()
        .await
        .unwrap();
    (StatusCode::OK, issued.status())
}

/// Criteria 2.1.3(12), 2.2.3(2)B-1, 2.3.3(5): a system client signs with an organisation's
/// key without a SAD, so registering one is a standing approval. One registration officer
/// alone gets no working client; M approvals by other officers without the organisation's
/// consent neither; with both (a user of the organisation consenting over their own
/// session) it signs, and the log names the requester, the approver and the consenting user.
/// With `[operations] approvals = 0` (test only) the consent is still required.
#[tokio::test]
async fn one_officer_cannot_register_a_client_that_signs() {
    let h = Harness::start(Engine::SqliteFile, "").await;
    let (_, officer) = h.operator().await;
    let (issuer, clerk) = h.subscriber(&officer, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal, _) = key(&h, &clerk_session, "ES256", "135791").await;
    let (_, stranger) = h.subscriber(&officer, "issuer", "stranger").await;
    let stranger = h.login(&stranger).await;
    let identity = client_certificate("e-sealer.example");
    let scope = json!({"keys": [{"key": seal, "operations": ["sign"]}]});
    let (asked, request) = call(
        &h,
        &officer,
        Method::POST,
        &format!("/v1/subscribers/{issuer}/clients"),
        Some(json!({"name": "issuing system", "certificate_pem": identity.0, "scope": scope})),
    )
    .await;
    assert_eq!(asked, StatusCode::ACCEPTED, "{request}");
    assert_eq!(request["state"], "pending");
    assert_eq!(request["action"]["action"], "client.register");
    let id = request["id"].as_str().unwrap().to_owned();
    // The officer alone: no client, no token, no signature.
    assert_eq!(
        client_signs(&h, &identity, &seal).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Nor by approving or consenting themself.
    let approve = format!("/v1/approvals/{id}/approve");
    let consent = format!("/v1/approvals/{id}/consent");
    assert_eq!(
        call(&h, &officer, Method::POST, &approve, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&h, &officer, Method::POST, &consent, None).await.0,
        StatusCode::FORBIDDEN
    );
    // A key officer may not approve a registration; a user of another organisation may not
    // consent to it (nor read it).
    let (_, key_officer) = h.staff(OperatorRole::KeyOfficer).await;
    assert_eq!(
        call(&h, &key_officer, Method::POST, &approve, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&h, &stranger, Method::POST, &consent, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &h,
            &stranger,
            Method::GET,
            &format!("/v1/approvals/{id}"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // M approvals (M = 1) by another officer, no consent: still nothing.
    let (_, second) = h.operator().await;
    let (approved, request) = call(&h, &second, Method::POST, &approve, None).await;
    assert_eq!(approved, StatusCode::OK, "{request}");
    assert_eq!(request["state"], "pending");
    assert!(request.get("result").is_none());
    assert_eq!(
        client_signs(&h, &identity, &seal).await.0,
        StatusCode::UNAUTHORIZED
    );
    // The organisation's user reads what it is asked and consents: registered, and it signs.
    let (read, shown) = call(
        &h,
        &clerk_session,
        Method::GET,
        &format!("/v1/approvals/{id}"),
        None,
    )
    .await;
    assert_eq!(read, StatusCode::OK);
    assert_eq!(shown["action"]["scope"], scope);
    let (consented, request) = call(&h, &clerk_session, Method::POST, &consent, None).await;
    assert_eq!(consented, StatusCode::OK, "{request}");
    assert_eq!(request["state"], "executed");
    let client_id = request["result"]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        client_signs(&h, &identity, &seal).await,
        (StatusCode::OK, StatusCode::CREATED)
    );
    // Once: a second consent finds it executed.
    assert_eq!(
        call(&h, &clerk_session, Method::POST, &consent, None)
            .await
            .0,
        StatusCode::CONFLICT
    );
    // The log: asked by the officer, approved by the second, consented to by the clerk, then
    // registered, each naming the request.
    let (_, me) = call(&h, &clerk_session, Method::GET, "/v1/me", None).await;
    let (_, officer_me) = call(&h, &officer, Method::GET, "/v1/me", None).await;
    let (_, second_me) = call(&h, &second, Method::GET, "/v1/me", None).await;
    let entries: Vec<_> = h
        .log_entries()
        .await
        .into_iter()
        .filter(|e| e.approval.as_deref() == Some(id.as_str()))
        .collect();
    let by = |who: &Value, what: &str| {
        entries.iter().any(|e| {
            e.actor.id == who["id"].as_str().unwrap()
                && e.note.as_deref().is_some_and(|n| n.contains(what))
        })
    };
    assert!(by(&officer_me, "requested client.register"), "{entries:?}");
    assert!(by(&second_me, "approved client.register"), "{entries:?}");
    assert!(by(&me, "subscriber's consent"), "{entries:?}");
    assert!(
        entries.iter().any(|e| e.kind == EntryKind::ClientRegistered
            && e.note.as_deref().is_some_and(|n| n.contains(&client_id))),
        "{entries:?}"
    );
    h.stop().await;

    // M = 0 (allowed in test only): the officer's request still waits for the consent.
    let h = Harness::start(Engine::SqliteFile, "[operations]\napprovals = 0").await;
    let (_, officer) = h.operator().await;
    let (issuer, clerk) = h.subscriber(&officer, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal, _) = key(&h, &clerk_session, "ES256", "135791").await;
    let identity = client_certificate("e-sealer.example");
    let (asked, request) = call(
        &h,
        &officer,
        Method::POST,
        &format!("/v1/subscribers/{issuer}/clients"),
        Some(
            json!({"name": "issuing system", "certificate_pem": identity.0,
            "scope": {"keys": [{"key": seal, "operations": ["sign"]}]}}),
        ),
    )
    .await;
    assert_eq!(asked, StatusCode::ACCEPTED, "{request}");
    assert_eq!(request["state"], "pending");
    assert_eq!(
        client_signs(&h, &identity, &seal).await.0,
        StatusCode::UNAUTHORIZED
    );
    let id = request["id"].as_str().unwrap();
    let (consented, request) = call(
        &h,
        &clerk_session,
        Method::POST,
        &format!("/v1/approvals/{id}/consent"),
        None,
    )
    .await;
    assert_eq!(consented, StatusCode::OK, "{request}");
    assert_eq!(request["state"], "executed");
    assert_eq!(
        client_signs(&h, &identity, &seal).await,
        (StatusCode::OK, StatusCode::CREATED)
    );
    h.stop().await;
}

/// Criteria 2.1.3(12): where a key's status comes from decides whether it may sign, so one
/// key officer cannot set or remove it: the change waits for a second key officer's approval.
#[tokio::test]
async fn a_status_source_changes_only_under_dual_control() {
    let h = Harness::start(Engine::SqliteFile, "").await;
    let (_, officer) = h.operator().await;
    let (_, clerk) = h.subscriber(&officer, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal, _) = key(&h, &clerk_session, "ES256", "135791").await;
    let (_, key_officer) = h.staff(OperatorRole::KeyOfficer).await;
    let source = || h.server().service.store.get_status_source(&seal);
    let path = format!("/v1/keys/{seal}/status-source");
    // Refused at once when incomplete (the one check of status sources).
    let (refused, text) = call(
        &h,
        &key_officer,
        Method::PUT,
        &path,
        Some(json!({"kind": "token", "index": 5})),
    )
    .await;
    assert_eq!(refused, StatusCode::BAD_REQUEST, "{text}");
    let (asked, request) = call(
        &h,
        &key_officer,
        Method::PUT,
        &path,
        Some(json!({"kind": "token", "url": "https://lists.example/t", "index": 5})),
    )
    .await;
    assert_eq!(asked, StatusCode::ACCEPTED, "{request}");
    assert_eq!(request["state"], "pending");
    assert!(source().await.unwrap().is_none(), "not set by one officer");
    let id = request["id"].as_str().unwrap();
    let (_, second) = h.staff(OperatorRole::KeyOfficer).await;
    let (approved, request) = call(
        &h,
        &second,
        Method::POST,
        &format!("/v1/approvals/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(approved, StatusCode::OK, "{request}");
    assert_eq!(request["state"], "executed");
    let set = source().await.unwrap().unwrap();
    assert_eq!(set.kind.as_str(), "token");
    // Among the key's events, naming the request.
    assert!(
        h.log_entries()
            .await
            .iter()
            .any(|e| e.key_id.as_deref() == Some(seal.as_str())
                && e.approval.as_deref() == Some(id)
                && e.note.as_deref() == Some("status source set: token")),
        "the change is logged with the key and the request"
    );
    h.stop().await;
}
