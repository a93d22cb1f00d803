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
        ca = lists.ca_file.display(),
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
    let id = inkan_server::store::KeyId::parse(&seal).unwrap();
    let service = &h.server().service;
    let actor = inkan_server::service::system_actor();
    let (other, other_jwk) = key(&h, &clerk_session, "ES256", "246802").await;
    let other_id = inkan_server::store::KeyId::parse(&other).unwrap();
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
    let report = h.server().monitor_now().await;
    assert_eq!(report.destroyed, vec![seal.clone()]);
    assert_eq!(report.failed, 0);
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
        .filter(|e| e.kind == EntryKind::KeyDestroyed && e.key_id.as_deref() == Some(&seal))
        .filter_map(|e| e.note)
        .collect::<Vec<_>>()
        .join(" ");
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
    let id = inkan_server::store::KeyId::parse(&seal).unwrap();
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
    let renew = |current: &str| {
        let body = json!({"current_pin": current, "pin": "975319"});
        let (h, session, old) = (&h, &session, old.clone());
        async move {
            h.call(
                session,
                Method::POST,
                &format!("/v1/keys/{old}/renew"),
                Some(body),
            )
            .await
        }
    };
    // Not with the wrong PIN: nothing changes.
    assert_eq!(renew("000000").await.status(), StatusCode::FORBIDDEN);
    let service = &h.server().service;
    let old_id = inkan_server::store::KeyId::parse(&old).unwrap();
    let old_handle = service.registry.get(&old_id).await.unwrap().handle;
    assert!(service.device.contains(&old_handle).unwrap());
    // Nor by the organisation's system client.
    let client = system_client(&h, &operator, &organisation, &old).await;
    assert_eq!(
        h.call(
            &client,
            Method::POST,
            &format!("/v1/keys/{old}/renew"),
            Some(json!({"current_pin": "135791", "pin": "975319"}))
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
