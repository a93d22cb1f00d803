//! A key's life after its creation (criteria 2.2.3(1)B, 2.2.2(3)), end to end against a real
//! server and a real HTTPS status server started here:
//!
//! - a key whose status source is its X.509 certificate follows the CRL at the certificate's
//!   distribution point: it signs while the CRL does not list it, is refused while the CRL
//!   holds it (`certificateHold`) and signs again once the hold is lifted; a CRL signed by
//!   another CA refuses (fail closed); a revocation refuses, and the monitor destroys the key
//!   (the device no longer has it), logs the evidence and notifies the subscriber's destination;
//!   the key API and CSC `credentials/info` report each status and when it was confirmed;
//! - a key whose certificate names an OCSP responder (and the chain its issuer) is checked
//!   there instead: `good` signs, `certificateHold` refuses, an answer signed by another CA
//!   refuses, `revoked` refuses and the monitor destroys the key;
//! - renewal: a new key replaces the old one, which is destroyed and logged, only with the old
//!   key's PIN.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use common::server::{Harness, Session, key, system_client};
use common::status_server::StatusServer;
use common::x509::{OcspAnswer, TestCa};
use inkan_log::entry::EntryKind;
use inkan_server::auth::operators::OperatorRole;
use inkan_server::clock::Clock as _;
use rcgen::RevocationReason;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECOND: i64 = 1_000;
const CRL_TYPE: &str = "application/pkix-crl";
const SERIAL: u64 = 0x4242;

fn settings(lists: &StatusServer, anchor: &std::path::Path) -> String {
    format!(
        "access_token_seconds = 1800\nidle_timeout_minutes = 120\nabsolute_timeout_minutes = 240\n\
         [status]\nca_files = [\"{ca}\"]\ntrust_anchors = [\"{anchor}\"]\nmax_cache_seconds = 60\n\
         [delivery]\nca_files = [\"{ca}\"]\n",
        ca = lists.tls.ca_file.display(),
        anchor = anchor.display()
    )
}

async fn issue(h: &Harness, client: &Session, key_id: &str) -> (StatusCode, String) {
    let response = h
        .call(
            client,
            Method::POST,
            "/credentials/issue",
            Some(json!({
                "credential": {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": ["VerifiableCredential"],
                    "credentialSubject": {"id": "did:example:subject"}
                },
                "options": {"credentialId": key_id, "format": "vc+jwt"}
            })),
        )
        .await;
    (response.status(), response.text().await.unwrap())
}

/// The live status as the key API and CSC `credentials/info` report it.
async fn reported(h: &Harness, session: &Session, key_id: &str) -> (Value, Value) {
    let view: Value = h
        .call(session, Method::GET, &format!("/v1/keys/{key_id}"), None)
        .await
        .json()
        .await
        .unwrap();
    let info: Value = h
        .call(
            session,
            Method::POST,
            "/csc/v2/credentials/info",
            Some(json!({"credentialID": key_id})),
        )
        .await
        .json()
        .await
        .unwrap();
    (view["status"].clone(), info)
}

/// A server whose status checks trust a test CA, an issuer organisation with a clerk, an ES256
/// seal key and the organisation's system client allowed to sign with it.
struct Setup {
    lists: StatusServer,
    ca: TestCa,
    h: Harness,
    operator: Session,
    key_officer: Session,
    organisation: String,
    clerk_session: Session,
    seal: String,
    jwk: Value,
    client: Session,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Setup {
        let lists = StatusServer::start().await;
        let ca = TestCa::new("Inkan Test CA");
        let dir = tempfile::tempdir().unwrap();
        let anchor = dir.path().join("ca.pem");
        std::fs::write(&anchor, &ca.pem).unwrap();
        let h = Harness::start(common::Engine::SqliteFile, &settings(&lists, &anchor)).await;
        let (_, operator) = h.operator().await;
        let (organisation, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
        let clerk_session = h.login(&clerk).await;
        let (seal, jwk) = key(&h, &clerk_session, "ES256", "135791").await;
        let client = system_client(&h, &operator, &organisation, &seal).await;
        let (_, key_officer) = h.staff(OperatorRole::KeyOfficer).await;
        Setup {
            lists,
            ca,
            h,
            operator,
            key_officer,
            organisation,
            clerk_session,
            seal,
            jwk,
            client,
            _dir: dir,
        }
    }
}

#[tokio::test]
async fn signing_follows_the_certificate_crl_and_revocation_destroys_the_key() {
    let Setup {
        lists,
        ca,
        h,
        operator,
        key_officer,
        organisation,
        clerk_session,
        seal,
        jwk,
        client,
        _dir,
    } = Setup::start().await;
    let set_x509 = |key_id: String| {
        let (h, operator) = (&h, &key_officer);
        async move {
            match h
                .set_status_source(operator, &key_id, json!({"kind": "x509"}))
                .await
            {
                Ok(_) => (StatusCode::NO_CONTENT, String::new()),
                Err(refused) => refused,
            }
        }
    };
    // Without a certificate, or with one naming no CRL, the source cannot be set.
    let (status, text) = set_x509(seal.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("has none"), "{text}");
    let id = inkan_store::KeyId::parse(&seal).unwrap();
    let service = &h.server().service;
    let actor = inkan_server::service::system_actor();
    let (other, other_jwk) = key(&h, &clerk_session, "ES256", "246802").await;
    let other_id = inkan_store::KeyId::parse(&other).unwrap();
    service
        .registry
        .attach_certificate(
            &actor,
            &other_id,
            ca.certify(&other_jwk, "no CRL", 7, None).as_bytes(),
        )
        .await
        .unwrap();
    let (status, text) = set_x509(other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.contains("no https:// CRL distribution point"),
        "{text}"
    );

    // The CA certifies the seal key, naming its CRL; the operator sets the source.
    let crl_path = "/crl/ca.crl";
    let certificate = ca.certify(&jwk, "Seal", SERIAL, Some(&lists.url(crl_path)));
    service
        .registry
        .attach_certificate(&actor, &id, certificate.as_bytes())
        .await
        .unwrap();
    lists.put(crl_path, ca.crl(1, &[]), CRL_TYPE, None);
    assert_eq!(set_x509(seal.clone()).await.0, StatusCode::NO_CONTENT);
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let (live, info) = reported(&h, &clerk_session, &seal).await;
    assert_eq!(
        (live["value"].as_str(), live["source"].as_str()),
        (Some("valid"), Some("x509"))
    );
    assert!(live["confirmed_at"].as_i64().unwrap() <= h.clock.now());
    assert_eq!(info["cert"]["status"], "valid");
    assert_eq!(info["status"]["value"], "valid");
    assert_eq!(
        lists.requests(crl_path),
        1,
        "a fresh CRL is not fetched again"
    );

    // On hold: suspended, refused while it lasts, then lifted.
    let other_serial = (99, RevocationReason::KeyCompromise);
    lists.put(
        crl_path,
        ca.crl(
            2,
            &[other_serial, (SERIAL, RevocationReason::CertificateHold)],
        ),
        CRL_TYPE,
        None,
    );
    h.clock.advance(61 * SECOND);
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("suspended"), "{text}");
    let (live, info) = reported(&h, &clerk_session, &seal).await;
    assert_eq!(live["value"], "suspended");
    assert_eq!(info["cert"]["status"], "suspended");
    lists.put(crl_path, ca.crl(3, &[other_serial]), CRL_TYPE, None);
    h.clock.advance(61 * SECOND);
    assert_eq!(issue(&h, &client, &seal).await.0, StatusCode::CREATED);

    // A CRL of the same name signed by another CA: no verified status, refused.
    let impostor = TestCa::new("Inkan Test CA");
    lists.put(crl_path, impostor.crl(4, &[]), CRL_TYPE, None);
    h.clock.advance(61 * SECOND);
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        text.contains("no fresh, verified status") && text.contains("does not verify"),
        "{text}"
    );
    assert_eq!(
        reported(&h, &clerk_session, &seal).await.0["value"],
        "unknown"
    );

    // Revoked: refused; the monitor destroys the key, logs the evidence and tells the
    // subscriber's destination.
    let inbox = lists.url("/inbox");
    let registered = h
        .call(
            &operator,
            Method::POST,
            &format!("/v1/subscribers/{organisation}/destinations"),
            Some(json!({"url": inbox})),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let revoked = ca.crl(5, &[(SERIAL, RevocationReason::KeyCompromise)]);
    lists.put(crl_path, revoked.clone(), CRL_TYPE, None);
    h.clock.advance(61 * SECOND);
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("revoked"), "{text}");
    let handle = service.registry.get(&id).await.unwrap().handle;
    assert!(service.device.contains(&handle).unwrap());
    // Two nodes' monitors in the same round (issue 20: several nodes on one store): the key is
    // destroyed once, by one of them, with one entry and one notice.
    let second = h.second_node().await;
    let (report, other) = tokio::join!(h.server().monitor_now(), second.monitor_now());
    second.stop().await.unwrap();
    let destroyed_by: Vec<&String> = report.destroyed.iter().chain(&other.destroyed).collect();
    assert_eq!(destroyed_by, vec![&seal], "{report:?} {other:?}");
    assert_eq!(report.failed + other.failed, 0, "{report:?} {other:?}");
    assert!(!service.device.contains(&handle).unwrap());
    assert_eq!(
        service.registry.get(&id).await.unwrap().state.as_str(),
        "destroyed"
    );
    let digest = hex::encode(Sha256::digest(&revoked));
    let destroyed = h
        .log_entries()
        .await
        .into_iter()
        .filter(|e| {
            e.kind == EntryKind::KeyDestroyed
                && e.key_id.as_deref() == Some(&seal)
                && e.outcome == inkan_log::entry::Outcome::Succeeded
        })
        .filter_map(|e| e.note)
        .collect::<Vec<_>>();
    assert_eq!(
        destroyed.len(),
        1,
        "one destruction recorded: {destroyed:?}"
    );
    let destroyed = destroyed.join(" ");
    assert!(
        destroyed.contains(&digest) && destroyed.contains("serial 4242"),
        "{destroyed}"
    );
    h.server().after.delivery.run_due_now().await.unwrap();
    let notices: Vec<Value> = lists
        .posted("/inbox")
        .iter()
        .map(|body| serde_json::from_slice(body).unwrap())
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["type"], "inkan.key.destroyed");
    let notice = &notices[0]["document"];
    assert_eq!(
        (notice["keyId"].as_str(), notice["cause"].as_str()),
        (Some(seal.as_str()), Some("revoked"))
    );
    assert_eq!(notice["details"]["listSha256"], digest.as_str());
    assert_eq!(notice["logIndex"], notices[0]["logIndex"]);
    h.stop().await;
}

#[tokio::test]
async fn signing_follows_the_ocsp_responder_the_certificate_names() {
    let Setup {
        lists,
        ca,
        h,
        operator: _,
        key_officer,
        organisation: _,
        clerk_session,
        seal,
        jwk,
        client,
        _dir,
    } = Setup::start().await;
    let (ocsp_path, crl_path) = ("/ocsp", "/crl/unused.crl");
    let leaf = ca.certify_with(
        &jwk,
        "Seal",
        SERIAL,
        Some(&lists.url(crl_path)),
        Some(&lists.url(ocsp_path)),
    );
    let id = inkan_store::KeyId::parse(&seal).unwrap();
    let service = &h.server().service;
    service
        .registry
        .attach_certificate(
            &inkan_server::service::system_actor(),
            &id,
            format!("{leaf}{}", ca.pem).as_bytes(),
        )
        .await
        .unwrap();
    let answer = |a| ca.ocsp_response(&leaf, a);
    lists.put(
        ocsp_path,
        answer(OcspAnswer::Good),
        "application/ocsp-response",
        None,
    );
    h.set_status_source(&key_officer, &seal, json!({"kind": "x509"}))
        .await
        .unwrap();
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    // The responder was asked about this certificate, and the CRL was not needed.
    let asked = lists.posted(ocsp_path);
    assert_eq!(asked.len(), 1);
    let request = <x509_ocsp::OcspRequest as der::Decode>::from_der(&asked[0]).unwrap();
    assert_eq!(
        request.tbs_request.request_list[0]
            .req_cert
            .serial_number
            .as_bytes(),
        [0x42, 0x42]
    );
    assert_eq!(lists.requests(crl_path), 0);
    let (live, info) = reported(&h, &clerk_session, &seal).await;
    assert_eq!(live["value"], "valid");
    assert_eq!(info["cert"]["status"], "valid");

    // On hold: refused; good again: signs.
    let put = |bytes| lists.put(ocsp_path, bytes, "application/ocsp-response", None);
    put(answer(OcspAnswer::Hold));
    h.clock.advance(61 * SECOND);
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("suspended"), "{text}");
    put(answer(OcspAnswer::Good));
    h.clock.advance(61 * SECOND);
    assert_eq!(issue(&h, &client, &seal).await.0, StatusCode::CREATED);
    // An answer signed by another CA: refused.
    put(TestCa::new("Inkan Test CA").ocsp_response(&leaf, OcspAnswer::Good));
    h.clock.advance(61 * SECOND);
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("does not verify"), "{text}");
    // Revoked: refused, and the monitor destroys the key.
    put(answer(OcspAnswer::Revoked));
    h.clock.advance(61 * SECOND);
    let (status, text) = issue(&h, &client, &seal).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(text.contains("revoked"), "{text}");
    let handle = service.registry.get(&id).await.unwrap().handle;
    let report = h.server().monitor_now().await;
    assert_eq!(report.destroyed, vec![seal.clone()]);
    assert!(!service.device.contains(&handle).unwrap());
    h.stop().await;
}

#[tokio::test]
async fn renewal_replaces_the_key_and_destroys_the_old_one() {
    let h = Harness::start(common::Engine::SqliteFile, "").await;
    let (_, operator) = h.operator().await;
    let (organisation, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let session = h.login(&clerk).await;
    let (old, _) = key(&h, &session, "ES256", "135791").await;
    let renew = |current: &'static str| {
        let (h, session, clerk, old) = (&h, &session, &clerk, old.clone());
        async move {
            let data = h
                .change_activation(session, clerk, "key.renew", &old, Some(current), "975319")
                .await;
            h.call(
                session,
                Method::POST,
                &format!("/v1/keys/{old}/renew"),
                Some(json!({"activation_data": data})),
            )
            .await
        }
    };
    // Not with the wrong PIN: nothing changes.
    assert_eq!(renew("000000").await.status(), StatusCode::FORBIDDEN);
    let service = &h.server().service;
    let old_id = inkan_store::KeyId::parse(&old).unwrap();
    let old_handle = service.registry.get(&old_id).await.unwrap().handle;
    assert!(service.device.contains(&old_handle).unwrap());
    // Nor by the organisation's system client.
    let client = system_client(&h, &operator, &organisation, &old).await;
    assert_eq!(
        h.call(
            &client,
            Method::POST,
            &format!("/v1/keys/{old}/renew"),
            Some(json!({"activation_data": "a.b.c.d.e"}))
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );

    let renewed = renew("135791").await;
    assert_eq!(renewed.status(), StatusCode::CREATED);
    let body: Value = renewed.json().await.unwrap();
    let new = body["key"]["id"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(body["replaced"], old.as_str());
    assert_eq!(body["key"]["alg"], "ES256");
    assert!(!service.device.contains(&old_handle).unwrap());
    assert_eq!(
        service.registry.get(&old_id).await.unwrap().state.as_str(),
        "destroyed"
    );
    let entries = h.log_entries().await;
    let destroyed = entries
        .iter()
        .find(|e| {
            e.kind == EntryKind::KeyDestroyed
                && e.key_id.as_deref() == Some(&old)
                && e.outcome == inkan_log::entry::Outcome::Succeeded
        })
        .unwrap();
    assert!(
        destroyed.note.as_deref().unwrap().contains(&new),
        "{destroyed:?}"
    );
    // The old key was closed for the renewal written ahead (issue 14 point 10): `pending`,
    // then `succeeded`, both before the new key was generated.
    let closing: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == EntryKind::KeyStateChanged && e.key_id.as_deref() == Some(&old))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(closing.len(), 2, "{closing:?}");
    assert_eq!(
        entries[closing[0]].outcome,
        inkan_log::entry::Outcome::Pending
    );
    assert_eq!(
        entries[closing[1]].outcome,
        inkan_log::entry::Outcome::Succeeded
    );
    let generated = entries
        .iter()
        .position(|e| e.kind == EntryKind::KeyGenerated && e.key_id.as_deref() == Some(&new))
        .unwrap();
    assert!(closing[1] < generated);
    assert_eq!(
        u64::try_from(
            entries
                .iter()
                .position(|e| std::ptr::eq(e, destroyed))
                .unwrap()
        )
        .unwrap(),
        body["destroyed_log_index"].as_u64().unwrap()
    );
    // The old key cannot be renewed again; the new one is active.
    assert_eq!(renew("135791").await.status(), StatusCode::CONFLICT);
    let view: Value = h
        .call(&session, Method::GET, &format!("/v1/keys/{new}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["state"], "active");
    h.stop().await;
}

/// Criteria 2.2.2(3), 2.2.3(1)B (issue 14 point 3): the seal key is destroyed while its system
/// client signs with it from twelve connections at once. No signature is made for a request
/// whose `signature.requested` entry comes after the destruction's pending entry: the signing
/// module reads the key again once its own entry is durable, and the registry closes the key
/// before it writes that entry.
#[tokio::test]
async fn a_destruction_racing_signatures_stops_every_later_request() {
    use inkan_log::entry::{Actor, ActorKind, Outcome};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let s = std::sync::Arc::new(Setup::start().await);
    let counters = std::sync::Arc::new((
        AtomicBool::new(false),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ));
    let mut signers = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (s, counters) = (s.clone(), counters.clone());
        signers.spawn(async move {
            let (stop, made, refused) = &*counters;
            while !stop.load(Ordering::SeqCst) {
                let (status, body) = issue(&s.h, &s.client, &s.seal).await;
                if status.is_success() {
                    made.fetch_add(1, Ordering::SeqCst);
                } else if made.load(Ordering::SeqCst) < 24 {
                    panic!("refused before the destruction: {status} {body}");
                } else {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }
    let (stop, made, refused) = &*counters;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while made.load(Ordering::SeqCst) < 24 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} made, {} refused",
            made.load(Ordering::SeqCst),
            refused.load(Ordering::SeqCst)
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let host = Actor {
        kind: ActorKind::System,
        id: "inkan".into(),
        auth: Default::default(),
    };
    let id = inkan_store::KeyId::parse(&s.seal).unwrap();
    s.h.server()
        .service
        .registry
        .destroy(&host, &id, "destroyed while signing")
        .await
        .unwrap();
    // Let the signers run into the destroyed key for a while.
    let after = refused.load(Ordering::SeqCst);
    while refused.load(Ordering::SeqCst) < after + 24 {
        assert!(
            std::time::Instant::now() < deadline,
            "no refusals after the destruction"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    while let Some(done) = signers.join_next().await {
        done.unwrap();
    }

    let entries = s.h.log_entries().await;
    let seal = s.seal.clone();
    let seal = seal.as_str();
    let entries = &entries;
    let for_seal = |kind: EntryKind| {
        entries
            .iter()
            .enumerate()
            .filter(move |(_, e)| e.kind == kind && e.key_id.as_deref() == Some(seal))
    };
    let (pending, _) = for_seal(EntryKind::KeyDestroyed)
        .find(|(_, e)| e.outcome == Outcome::Pending)
        .unwrap();
    let mut checked = 0;
    for (made_at, signature) in for_seal(EntryKind::SignatureMade) {
        let (requested_at, _) = for_seal(EntryKind::SignatureRequested)
            .rfind(|(i, e)| *i < made_at && e.digests == signature.digests)
            .unwrap();
        assert!(
            requested_at < pending,
            "a signature was made for the request logged at {requested_at}, after the \
             destruction's pending entry at {pending}"
        );
        checked += 1;
    }
    assert!(checked >= 24, "only {checked} signatures were made");
    // A request logged after the pending entry (whether one lands in that window depends on
    // timing) was refused by the signing module's read of the key after its own entry.
    for (requested_at, request) in
        for_seal(EntryKind::SignatureRequested).filter(|(i, _)| *i > pending)
    {
        assert!(
            for_seal(EntryKind::SignatureRefused)
                .any(|(i, e)| i > requested_at && e.digests == request.digests),
            "the request logged at {requested_at}, after the destruction's pending entry, \
             was not refused"
        );
    }
    match std::sync::Arc::try_unwrap(s) {
        Ok(s) => s.h.stop().await,
        Err(_) => panic!("a signer still holds the harness"),
    }
}

/// Criteria 2.2.2(3)A (issue 14 point 6): a key whose certificate has expired is destroyed by
/// the status monitor with cause `expired`, not left to its subscriber's renewal; until then
/// the monitor leaves it alone.
#[tokio::test]
async fn the_monitor_destroys_a_key_whose_certificate_has_expired() {
    let s = Setup::start().await;
    let service = &s.h.server().service;
    let id = inkan_store::KeyId::parse(&s.seal).unwrap();
    let certificate = s.ca.certify(&s.jwk, "Seal", SERIAL, None);
    service
        .registry
        .attach_certificate(
            &inkan_server::service::system_actor(),
            &id,
            certificate.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(issue(&s.h, &s.client, &s.seal).await.0, StatusCode::CREATED);
    assert!(s.h.server().monitor_now().await.destroyed.is_empty());
    // The test CA's certificates end on 2040-12-30; go to 2041-01-01.
    s.h.clock.advance(2_240_611_200_000 - s.h.clock.now());
    let report = s.h.server().monitor_now().await;
    assert_eq!(report.destroyed, vec![s.seal.clone()]);
    assert_eq!(
        service.registry.get(&id).await.unwrap().state.as_str(),
        "destroyed"
    );
    let destroyed =
        s.h.log_entries()
            .await
            .into_iter()
            .filter(|e| {
                e.kind == EntryKind::KeyDestroyed
                    && e.key_id.as_deref() == Some(s.seal.as_str())
                    && e.outcome == inkan_log::entry::Outcome::Succeeded
            })
            .filter_map(|e| e.note)
            .collect::<String>();
    assert!(destroyed.contains("expired"), "{destroyed}");
    s.h.stop().await;
}

/// The activation data of a PIN change or renewal with `otp` (the right one when `None`),
/// sent as `activation_data` of `method path`.
#[allow(clippy::too_many_arguments)]
async fn change(
    h: &Harness,
    session: &Session,
    clerk: &common::server::Account,
    method: Method,
    path: &str,
    purpose: &str,
    key_id: &str,
    pin: &str,
    otp: Option<&str>,
    new_pin: &str,
) -> reqwest::Response {
    h.next_step();
    let nonce = h.nonce(session).await;
    let right = h.otp(clerk);
    let data = inkan_server::client::change_data(
        purpose,
        key_id,
        &nonce,
        Some(pin),
        otp.unwrap_or(&right),
        new_pin,
    );
    let jwe =
        inkan_server::client::encrypt_activation_data(&h.activation_key().await, &data).unwrap();
    h.call(session, method, path, Some(json!({"activation_data": jwe})))
        .await
}

/// Criteria 2.2.3(2)A-2: a PIN change and a renewal take the key's PIN and an OTP inside one
/// activation JWE bound to the purpose, the key and a fresh nonce. The PIN alone (in the clear,
/// as before), a JWE without the OTP or with a wrong one, a JWE for another key or purpose:
/// each is refused and nothing changes; then both work.
#[tokio::test]
async fn pin_change_and_renewal_need_the_otp_inside_the_jwe() {
    let settings = "access_token_seconds = 1800\nidle_timeout_minutes = 60\nmax_failed_logins = 20";
    let h = Harness::start(common::Engine::SqliteFile, settings).await;
    let (_, operator) = h.operator().await;
    let (_, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let session = h.login(&clerk).await;
    let (k, _) = key(&h, &session, "ES256", "135791").await;
    let (other, _) = key(&h, &session, "ES256", "246802").await;
    let pin_path = format!("/v1/keys/{k}/pin");
    let renew_path = format!("/v1/keys/{k}/renew");
    let right = h.otp(&clerk);
    let wrong_otp = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    for (method, path, purpose, old_api) in [
        (
            Method::PUT,
            &pin_path,
            "pin.change",
            json!({"current_pin": "135791", "new_pin": "777777"}),
        ),
        (
            Method::POST,
            &renew_path,
            "key.renew",
            json!({"current_pin": "135791", "pin": "777777"}),
        ),
    ] {
        // The PIN alone, as the API took it before.
        let response = h.call(&session, method.clone(), path, Some(old_api)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        // A JWE without the OTP.
        h.next_step();
        let nonce = h.nonce(&session).await;
        let mut data =
            inkan_server::client::change_data(purpose, &k, &nonce, Some("135791"), "", "777777");
        data.as_object_mut().unwrap().remove("OTP");
        let jwe = inkan_server::client::encrypt_activation_data(&h.activation_key().await, &data)
            .unwrap();
        let response = h
            .call(
                &session,
                method.clone(),
                path,
                Some(json!({"activation_data": jwe})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(response.text().await.unwrap().contains("OTP"));
        // The right PIN with a wrong OTP.
        let response = change(
            &h,
            &session,
            &clerk,
            method.clone(),
            path,
            purpose,
            &k,
            "135791",
            Some(&wrong_otp),
            "777777",
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        // The right PIN and OTP, for another key of hers.
        let response = change(
            &h,
            &session,
            &clerk,
            method.clone(),
            path,
            purpose,
            &other,
            "246802",
            None,
            "777777",
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.text().await.unwrap().contains("credentialID"));
        // The right PIN and OTP, for the other purpose.
        let swapped = if purpose == "pin.change" {
            "key.renew"
        } else {
            "pin.change"
        };
        let response = change(
            &h,
            &session,
            &clerk,
            method.clone(),
            path,
            swapped,
            &k,
            "135791",
            None,
            "777777",
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.text().await.unwrap().contains("purpose"));
    }
    // Nothing changed: two keys, both active, and the PIN is still the old one.
    let keys: Value = h
        .call(&session, Method::GET, "/v1/keys", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k["state"] == "active")
    );
    assert!(
        !h.log_entries()
            .await
            .iter()
            .any(|e| e.kind == EntryKind::KeyDestroyed
                && e.outcome == inkan_log::entry::Outcome::Succeeded)
    );
    // Both work with the PIN and the OTP inside: the change, then a renewal with the new PIN.
    let response = change(
        &h,
        &session,
        &clerk,
        Method::PUT,
        &pin_path,
        "pin.change",
        &k,
        "135791",
        None,
        "777777",
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = change(
        &h,
        &session,
        &clerk,
        Method::POST,
        &renew_path,
        "key.renew",
        &k,
        "777777",
        None,
        "975319",
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    h.stop().await;
}
