//! End-to-end W3C VC API tests (criteria 2.2.3(1)A, 2.2.3(2)B-1, 2.2.3(3)A, C): an issuer's
//! system client e-seals credentials over mutual TLS under its standing approval; every
//! output verifies with an independent verifier (npm `jose`, digitalbazaar's Data Integrity
//! suites, in `interop/`), with Inkan's own `/credentials/verify`, and its receipts verify
//! offline. People cannot issue without SAD.
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::interop::{interop, node};
use common::issuing::{Issuing, credential, issuing_client, issuing_client_with};
use common::server::{Harness, client_token};
use inkan_formats::status::{BitstringStatusListEntry, StatusListReference};
use inkan_log::entry::{Entry, EntryKind, Outcome};
use inkan_log::note::NoteVerifier;
use inkan_log::receipt::Receipt;
use inkan_server::config::StatusConfig;
use inkan_server::status::{KeyStatus, StatusChecker, StatusSource};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn issue_and_verify(engine: Engine) {
    let Issuing {
        h,
        clerk: clerk_session,
        mtls,
        key,
        key_id,
        access,
        ..
    } = issuing_client(engine, json!({"operations": ["read", "sign"]})).await;
    let vkey = h.server().service.log_vkey().unwrap();
    let origin = h.server().service.log.origin().to_owned();
    let work = tempfile::tempdir().unwrap();

    for (format, suite) in [
        ("vc+jwt", None),
        ("ldp_vc", Some("ecdsa-rdfc-2019")),
        ("ldp_vc", Some("ecdsa-jcs-2019")),
    ] {
        let mut options = json!({"credentialId": key_id, "format": format});
        if let Some(suite) = suite {
            options["cryptosuite"] = suite.into();
        }
        let issued = mtls
            .post(format!("{}/credentials/issue", h.url))
            .bearer_auth(&access)
            .json(&json!({"credential": credential(), "options": options}))
            .send()
            .await
            .unwrap();
        assert_eq!(issued.status(), StatusCode::CREATED, "{format} {suite:?}");
        let body: Value = issued.json().await.unwrap();
        let vc = body["verifiableCredential"].clone();

        // An independent verifier accepts it.
        match format {
            "vc+jwt" => {
                let jwt = vc["id"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("data:application/vc+jwt,")
                    .unwrap();
                let token_file = work.path().join("vc.jwt");
                let jwk_file = work.path().join("issuer.jwk");
                std::fs::write(&token_file, jwt).unwrap();
                std::fs::write(&jwk_file, key["public_jwk"].to_string()).unwrap();
                let verified = node(
                    interop("jose").join("verify.mjs"),
                    &[
                        "jwt",
                        token_file.to_str().unwrap(),
                        jwk_file.to_str().unwrap(),
                        "--typ",
                        "vc+jwt",
                    ],
                );
                assert!(verified.is_ok(), "{verified:?}");
            }
            _ => {
                let file = work.path().join("vc.json");
                std::fs::write(&file, serde_json::to_vec(&vc).unwrap()).unwrap();
                let verified = node(interop("di").join("verify.mjs"), &[file.to_str().unwrap()]);
                assert!(verified.is_ok(), "{suite:?}: {verified:?}");
                assert_eq!(
                    vc["issuer"],
                    vc["proof"]["verificationMethod"]
                        .as_str()
                        .unwrap()
                        .split('#')
                        .next()
                        .unwrap()
                );
            }
        }
        // Inkan's own verifier accepts it, and refuses a tampered copy.
        let verified = h
            .post_json("/credentials/verify", json!({"verifiableCredential": vc}))
            .await;
        assert_eq!(verified.status(), StatusCode::OK);
        assert_eq!(verified.json::<Value>().await.unwrap()["verified"], true);
        if format == "ldp_vc" {
            let mut tampered = vc.clone();
            tampered["credentialSubject"]["alumniOf"] = "Another University".into();
            let refused = h
                .post_json(
                    "/credentials/verify",
                    json!({"verifiableCredential": tampered}),
                )
                .await;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
            assert_eq!(refused.json::<Value>().await.unwrap()["verified"], false);
        }
        // One receipt per signature, verifiable offline, naming the client and the key.
        let receipts = body["receipts"].as_array().unwrap();
        assert_eq!(receipts.len(), 1);
        let receipt = Receipt::parse(receipts[0].as_str().unwrap()).unwrap();
        let entry_bytes = receipt.extra.clone().unwrap();
        receipt
            .verify(
                &entry_bytes,
                &NoteVerifier::from_vkey(&vkey).unwrap(),
                &origin,
            )
            .unwrap();
        let entry = Entry::decode(&entry_bytes).unwrap();
        assert_eq!(entry.kind, EntryKind::SignatureMade);
        assert_eq!(entry.key_id.as_deref(), Some(key_id.as_str()));
        assert_eq!(entry.actor.auth.method, "mtls");
        assert_eq!(
            entry.note.as_deref(),
            Some(if format == "vc+jwt" {
                "vc+jwt"
            } else {
                "ldp_vc"
            })
        );
    }

    // A person cannot issue through the VC API (they sign hashes with a SAD).
    let refused = h
        .call(
            &clerk_session,
            Method::POST,
            "/credentials/issue",
            Some(json!({"credential": credential(), "options": {"credentialId": key_id}})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // A malformed credential is refused with a reason, and nothing is signed.
    let before = h.log_entries().await.len();
    let bad = mtls
        .post(format!("{}/credentials/issue", h.url))
        .bearer_auth(&access)
        .json(&json!({"credential": {"type": ["VerifiableCredential"]}, "options": {"credentialId": key_id, "format": "vc+jwt"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let after = h.log_entries().await;
    assert!(
        !after[before..]
            .iter()
            .any(|e| e.kind == EntryKind::SignatureMade)
    );
    h.stop().await;
}

#[tokio::test]
async fn issue_and_verify_sqlite() {
    issue_and_verify(Engine::SqliteFile).await;
}

#[tokio::test]
async fn issue_and_verify_postgres() {
    issue_and_verify(Engine::Postgres).await;
}

/// A standing approval covers the formats and the rate its scope names, no more.
#[tokio::test]
async fn standing_approval_limits_formats_and_rate() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(
        Engine::SqliteFile,
        json!({"operations": ["sign"], "formats": ["vc+jwt"], "max_per_minute": 2}),
    )
    .await;
    let issue = |format: &'static str| {
        mtls.post(format!("{}/credentials/issue", h.url))
            .bearer_auth(&access)
            .json(&json!({"credential": credential(), "options": {"credentialId": key_id, "format": format}}))
            .send()
    };
    assert_eq!(
        issue("ldp_vc").await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "not a format of the scope"
    );
    assert_eq!(issue("vc+jwt").await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(issue("vc+jwt").await.unwrap().status(), StatusCode::CREATED);
    let third = issue("vc+jwt").await.unwrap();
    assert_eq!(third.status(), StatusCode::FORBIDDEN, "over the rate");
    assert!(
        third
            .text()
            .await
            .unwrap()
            .contains("2 signatures a minute")
    );
    h.clock.advance(61_000);
    assert_eq!(issue("vc+jwt").await.unwrap().status(), StatusCode::CREATED);
    let refused = h
        .log_entries()
        .await
        .into_iter()
        .filter(|e| e.kind == EntryKind::SignatureRefused)
        .count();
    assert_eq!(refused, 2);
    h.stop().await;
}

/// Issue 20: a standing approval's rate is counted across nodes (criteria 2.2.3(2)B-1). Eight
/// requests at once, spread over two nodes on one PostgreSQL, get the rate of four once
/// between them, not four on each node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standing_approvals_rate_holds_across_nodes() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(
        Engine::Postgres,
        json!({"operations": ["sign"], "max_per_minute": 4}),
    )
    .await;
    let second = h.second_node().await;
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..8 {
        let base = if n % 2 == 0 {
            h.url.clone()
        } else {
            second.public_url.clone()
        };
        let (mtls, access) = (mtls.clone(), access.clone());
        let body = json!({"credential": credential(),
                          "options": {"keyId": key_id, "format": "vc+jwt"}});
        requests.spawn(async move {
            mtls.post(format!("{base}/credentials/issue"))
                .bearer_auth(&access)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = requests.join_next().await {
        statuses.push(status.unwrap());
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((created, refused), (4, 4), "{statuses:?}");
    second.stop().await.unwrap();
    h.stop().await;
}

/// Issue 16: two nodes on one PostgreSQL issue credentials with entries of one list at the same
/// time, each node 16 at a time: every credential gets an index of its own, each index is
/// bound to the one credential it went to, and no index is spent beyond the credentials
/// (the store's primary key is what decides, whichever node asks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_issuing_at_once_never_hand_out_one_index_twice() {
    const PER_NODE: usize = 128;
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(Engine::Postgres, json!({"operations": ["sign"]})).await;
    let list = new_list(
        &mtls,
        &h.url,
        &access,
        json!({"keyId": key_id, "purpose": "revocation"}),
    )
    .await;
    let list_id = list["id"].as_str().unwrap().to_owned();
    let second = h.second_node().await;
    // Each node: 16 workers, each issuing its share one after another.
    let mut workers = tokio::task::JoinSet::new();
    for base in [h.url.clone(), second.public_url.clone()] {
        for _ in 0..16 {
            let (mtls, access, base) = (mtls.clone(), access.clone(), base.clone());
            let body = json!({"credential": credential(),
                              "options": {"keyId": key_id, "format": "vc+jwt",
                                          "credentialStatus": {"statusList": list_id}}});
            workers.spawn(async move {
                let mut got = Vec::new();
                for _ in 0..PER_NODE / 16 {
                    let issued = post_as(&mtls, &base, &access, "/credentials/issue", &body)
                        .await
                        .unwrap();
                    assert_eq!(issued.status(), StatusCode::CREATED);
                    let issued: Value = issued.json().await.unwrap();
                    let index = status_entry_of(&issued)["statusListIndex"]
                        .as_str()
                        .unwrap()
                        .parse::<u64>()
                        .unwrap();
                    got.push(index);
                }
                got
            });
        }
    }
    let mut indexes: Vec<u64> = workers.join_all().await.into_iter().flatten().collect();
    second.stop().await.unwrap();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 2 * PER_NODE, "an index was handed out twice");
    let store = &h.server().service.store;
    assert_eq!(
        store.reserved_status_count(&list_id).await.unwrap(),
        (2 * PER_NODE) as u64
    );
    let mut digests = std::collections::HashSet::new();
    for index in indexes {
        let entry = store.status_entry(&list_id, index).await.unwrap().unwrap();
        assert!(digests.insert(entry.digest.expect("bound to its credential")));
    }
}

/// Issue 16: 10,000 status changes in one burst (64 at a time over TLS, each written ahead)
/// make one new signed version of the list in the next publication round, and it shows every
/// one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_status_changes_makes_one_list_signature() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let list = new_list(
        &mtls,
        &h.url,
        &access,
        json!({"keyId": key_id, "purpose": "revocation"}),
    )
    .await;
    let list_id = list["id"].as_str().unwrap().to_owned();
    // The indexes, handed out as issuance hands them out (10,000 issuances are not the point).
    const CHANGES: u64 = 10_000;
    let indexes: Vec<u64> = (0..CHANGES).map(|i| i * 13).collect();
    let store = h.server().service.store.clone();
    for chunk in indexes.chunks(500) {
        let taken = store
            .reserve_status_indexes(&list_id, chunk, chunk.len(), 0)
            .await
            .unwrap();
        assert_eq!(taken.len(), chunk.len());
    }
    let signatures = |log: &[Entry]| {
        log.iter()
            .filter(|e| e.kind == EntryKind::SignatureMade)
            .count()
    };
    let before = signatures(&h.log_entries().await);
    let mut calls = tokio::task::JoinSet::new();
    let mut pending = indexes.iter().copied();
    let mut done = 0;
    loop {
        while calls.len() < 64
            && let Some(index) = pending.next()
        {
            let request = post_as(
                &mtls,
                &h.url,
                &access,
                &format!("/v1/status-lists/{list_id}/entries/{index}"),
                &json!({"status": "revoked"}),
            );
            calls.spawn(async move { request.await.unwrap().status() });
        }
        match calls.join_next().await {
            Some(status) => {
                assert_eq!(status.unwrap(), StatusCode::OK);
                done += 1;
            }
            None => break,
        }
    }
    assert_eq!(done, CHANGES);
    h.clock.advance(60_000);
    let lists = &h.server().status_lists;
    assert_eq!(lists.publish_due().await.published, vec![list_id.clone()]);
    let log = h.log_entries().await;
    assert_eq!(
        signatures(&log),
        before + 1,
        "one list signature for the whole burst"
    );
    let changes = log
        .iter()
        .filter(|e| e.kind == EntryKind::CredentialStatusChanged && e.outcome == Outcome::Succeeded)
        .count();
    assert_eq!(changes as u64, CHANGES);
    // The published version shows all of them, and nothing else.
    let published = lists.published(&list_id).await.unwrap();
    assert_eq!(published.covers, CHANGES);
    let claims = jwt_claims(&published.document);
    let credential =
        inkan_formats::status::BitstringStatusListCredential::from_verified_json(&claims).unwrap();
    let bits = credential.list(1).unwrap();
    let set: Vec<u64> = (0..131_072u64)
        .filter(|i| bits.status(*i).unwrap() == 1)
        .collect();
    assert_eq!(set, indexes);
}

/// Issue 16: a token status list (two bits) for SD-JWT VCs. Issuance with `statusList` sets the
/// `status` claim (`status_list.idx`, `uri`) at different indexes; the list is published as a
/// `statuslist+jwt`; suspension, reinstatement and revocation are seen by Inkan's own status
/// check after each publication round; a revocation is final; a W3C list is refused here.
#[tokio::test]
async fn sd_jwt_vcs_carry_token_status_list_entries() {
    let Issuing {
        h,
        mtls,
        key,
        key_id,
        access,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let post = |path: String, body: Value| post_as(&mtls, &h.url, &access, &path, &body);
    let create = |body: Value| post("/v1/status-lists".into(), body);
    let refused = create(json!({"keyId": key_id, "format": "token", "purpose": "revocation"}))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let refused = create(json!({"keyId": key_id, "format": "token", "bits": 3}))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let list: Value = create(json!({"keyId": key_id, "format": "token"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (list["format"].clone(), list["bits"].clone()),
        (json!("token"), json!(2))
    );
    let (list_id, url) = (
        list["id"].as_str().unwrap().to_owned(),
        list["url"].as_str().unwrap().to_owned(),
    );
    let w3c: Value = create(json!({"keyId": key_id, "purpose": "revocation"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = h.http.get(&url).send().await.unwrap();
    assert_eq!(
        public.headers()["content-type"],
        "application/statuslist+jwt"
    );

    let issue = |list: &str| {
        post(
            "/v1/credentials/sd-jwt".into(),
            json!({"credentialID": key_id, "vct": "https://credentials.example/degree",
                   "claims": {"given_name": "Hana"}, "statusList": list}),
        )
    };
    assert_eq!(
        issue(w3c["id"].as_str().unwrap()).await.unwrap().status(),
        StatusCode::BAD_REQUEST,
        "a W3C list for an SD-JWT VC"
    );
    let mut references = Vec::new();
    let mut credentials = Vec::new();
    for _ in 0..2 {
        let issued = issue(&list_id).await.unwrap();
        assert_eq!(issued.status(), StatusCode::CREATED);
        let issued: Value = issued.json().await.unwrap();
        credentials.push(issued["credential"].as_str().unwrap().to_owned());
        let claims = jwt_claims(issued["credential"].as_str().unwrap());
        let reference = claims["status"]["status_list"].clone();
        assert_eq!(reference["uri"], url.as_str());
        references.push(reference["idx"].as_u64().unwrap());
    }
    assert_ne!(references[0], references[1]);
    // A `status` the client writes itself into one of Inkan's lists is refused: its index was
    // never handed out.
    let forged = post(
        "/v1/credentials/sd-jwt".into(),
        json!({"credentialID": key_id, "vct": "https://credentials.example/degree",
               "claims": {"given_name": "Hana"},
               "status": {"status_list": {"idx": references[0], "uri": url}}}),
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    // A one-bit list knows no suspension.
    let one_bit: Value = create(json!({"keyId": key_id, "format": "token", "bits": 1}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let one_bit_id = one_bit["id"].as_str().unwrap();
    let issued: Value = issue(one_bit_id).await.unwrap().json().await.unwrap();
    let one_bit_index = jwt_claims(issued["credential"].as_str().unwrap())["status"]["status_list"]
        ["idx"]
        .as_u64()
        .unwrap();
    let suspend = post(
        format!("/v1/status-lists/{one_bit_id}/entries/{one_bit_index}"),
        json!({"status": "suspended"}),
    )
    .await
    .unwrap();
    assert_eq!(suspend.status(), StatusCode::BAD_REQUEST);

    let status_of = |idx: u64| {
        let source = StatusSource::Token(StatusListReference {
            idx,
            uri: url.clone(),
        });
        inkan_status(&h, &key, source)
    };
    let change = |idx: u64, status: &str| {
        post(
            format!("/v1/status-lists/{list_id}/entries/{idx}"),
            json!({"status": status}),
        )
    };
    // The same, by the OpenWallet Foundation's status list library and `jose`.
    let independent = |credential: String| {
        let now = inkan_server::clock::Clock::now(&*h.clock) / 1000;
        let list = h.http.get(url.clone()).send();
        let (h, key) = (&h, &key);
        async move {
            let list = list.await.unwrap().text().await.unwrap();
            let args = [
                scratch_file(h, &credential),
                scratch_file(h, &list),
                scratch_file(h, &key["public_jwk"].to_string()),
            ];
            let out = node(
                interop("jose").join("status-list.mjs"),
                &[&args[0], &args[1], &args[2], &now.to_string()],
            )
            .unwrap_or_else(|e| panic!("@sd-jwt/jwt-status-list refused the reference: {e}"));
            serde_json::from_str::<Value>(&out).unwrap()["status"].clone()
        }
    };
    let lists = &h.server().status_lists;
    let round = || async {
        h.clock.advance(60_000);
        lists.publish_due().await.published
    };
    assert_eq!(status_of(references[0]).await, KeyStatus::Valid);
    assert_eq!(independent(credentials[0].clone()).await, json!(0));
    for (status, seen, value) in [
        ("suspended", KeyStatus::Suspended, 2),
        ("valid", KeyStatus::Valid, 0),
        ("revoked", KeyStatus::Revoked, 1),
    ] {
        let changed = change(references[0], status).await.unwrap();
        assert_eq!(changed.status(), StatusCode::OK, "{status}");
        assert!(round().await.contains(&list_id));
        assert_eq!(status_of(references[0]).await, seen, "{status}");
        assert_eq!(status_of(references[1]).await, KeyStatus::Valid);
        assert_eq!(independent(credentials[0].clone()).await, json!(value));
        assert_eq!(independent(credentials[1].clone()).await, json!(0));
    }
    assert_eq!(
        change(references[0], "valid").await.unwrap().status(),
        StatusCode::CONFLICT,
        "a revocation is final"
    );
}

/// Issue 16: a W3C list signed as a Data Integrity credential (`signedAs: data-integrity`) is
/// served as `application/vc` with an `ecdsa-rdfc-2019` proof by the issuer's key: digitalbazaar
/// verifies the list credential itself and reads a Data Integrity VC's entry from it, before
/// and after a suspension and its reversal; Inkan's own check agrees.
#[tokio::test]
async fn data_integrity_status_lists_verify_with_digitalbazaar() {
    let Issuing {
        h,
        mtls,
        key,
        key_id,
        access: _,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    // digitalbazaar checks the list's validity against the real time: the service's clock is
    // moved to three minutes before it (two publication rounds later it is still behind), and
    // the client takes a new token.
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    h.clock
        .advance(real_now - 180_000 - inkan_server::clock::Clock::now(&*h.clock));
    let access = client_token(&mtls, &h.url).await;
    let post = |path: String, body: Value| post_as(&mtls, &h.url, &access, &path, &body);
    let refused = post(
        "/v1/status-lists".into(),
        json!({"keyId": key_id, "format": "token", "signedAs": "data-integrity"}),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let list: Value = post(
        "/v1/status-lists".into(),
        json!({"keyId": key_id, "purpose": "suspension", "signedAs": "data-integrity"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(list["signedAs"], "data-integrity");
    let (list_id, url) = (
        list["id"].as_str().unwrap().to_owned(),
        list["url"].as_str().unwrap().to_owned(),
    );
    let issued: Value = post(
        "/credentials/issue".into(),
        json!({"credential": credential(), "options": {"keyId": key_id, "format": "ldp_vc",
               "credentialStatus": {"statusList": list_id}}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let credential = issued["verifiableCredential"].clone();
    let entry = credential["credentialStatus"].clone();
    assert_eq!(entry["statusPurpose"], "suspension");
    let credential_file = scratch_file(&h, &credential.to_string());
    node(
        interop("di").join("verify.mjs"),
        &[&credential_file, "--status-elsewhere"],
    )
    .unwrap_or_else(|e| panic!("digitalbazaar refused the credential's proof: {e}"));
    let jwk = scratch_file(&h, &key["public_jwk"].to_string());
    let independent = || async {
        let served = h.http.get(&url).send().await.unwrap();
        assert_eq!(served.headers()["content-type"], "application/vc");
        let list: Value = served.json().await.unwrap();
        assert_eq!(list["proof"]["cryptosuite"], "ecdsa-rdfc-2019");
        assert_eq!(list["type"][1], "BitstringStatusListCredential");
        let list = scratch_file(&h, &list.to_string());
        let out = node(
            interop("di").join("status-list.mjs"),
            &[&credential_file, &list, &url, &jwk],
        )
        .unwrap_or_else(|e| panic!("digitalbazaar refused the list or the entry: {e}"));
        serde_json::from_str::<Value>(&out).unwrap()["status"].clone()
    };
    assert_eq!(independent().await, json!(0));
    assert_eq!(inkan_status_of(&h, &key, &entry).await, KeyStatus::Valid);
    let index = entry["statusListIndex"].as_str().unwrap();
    for (status, bit, seen) in [
        ("suspended", 1, KeyStatus::Suspended),
        ("valid", 0, KeyStatus::Valid),
    ] {
        let changed = post(
            format!("/v1/status-lists/{list_id}/entries/{index}"),
            json!({"status": status}),
        )
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
        assert_eq!(independent().await, json!(bit), "{status}");
        assert_eq!(inkan_status_of(&h, &key, &entry).await, seen, "{status}");
    }
}

/// Issue 16: a W3C `message` list (`statusSize` 2) gives each entry its value's messages
/// (`statusMessage`, one per value); the issuer sets a value by its `0x…` name, and after the
/// next round the signed list shows it, read by the W3C Validate Algorithm with its message.
/// Wrong message counts, values beyond the size and messages on other lists are refused.
#[tokio::test]
async fn message_lists_carry_a_value_and_its_message_per_entry() {
    use inkan_formats::status::{BitstringStatusListCredential, BitstringStatusListEntry};
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let post = |path: String, body: Value| post_as(&mtls, &h.url, &access, &path, &body);
    let messages = json!(["pending review", "accepted", "rejected", "withdrawn"]);
    for refused in [
        json!({"keyId": key_id, "purpose": "message", "messages": ["only", "three", "given"]}),
        json!({"keyId": key_id, "purpose": "message"}),
        json!({"keyId": key_id, "purpose": "message", "bits": 3, "messages": messages}),
        json!({"keyId": key_id, "purpose": "revocation", "messages": messages}),
        json!({"keyId": key_id, "purpose": "message", "messages": ["a", "", "c", "d"]}),
    ] {
        let answer = post("/v1/status-lists".into(), refused.clone())
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{refused}");
    }
    let list: Value = post(
        "/v1/status-lists".into(),
        json!({"keyId": key_id, "purpose": "message", "messages": messages}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        (list["purpose"].clone(), list["bits"].clone()),
        (json!("message"), json!(2))
    );
    let (list_id, url) = (
        list["id"].as_str().unwrap().to_owned(),
        list["url"].as_str().unwrap().to_owned(),
    );
    let issued: Value = post(
        "/credentials/issue".into(),
        json!({"credential": credential(), "options": {"keyId": key_id, "format": "vc+jwt",
               "credentialStatus": {"statusList": list_id}}}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let entry = status_entry_of(&issued);
    assert_eq!(entry["statusPurpose"], "message");
    assert_eq!(entry["statusSize"], 2);
    assert_eq!(
        entry["statusMessage"],
        json!([
            {"status": "0x0", "message": "pending review"},
            {"status": "0x1", "message": "accepted"},
            {"status": "0x2", "message": "rejected"},
            {"status": "0x3", "message": "withdrawn"},
        ])
    );
    let index = entry["statusListIndex"].as_str().unwrap().to_owned();
    // A message list with a Data Integrity proof is published too (its first version at once),
    // and a VC-JWT takes no entry in it: its verifiers read JOSE.
    let di: Value = post(
        "/v1/status-lists".into(),
        json!({"keyId": key_id, "purpose": "message", "messages": messages,
               "signedAs": "data-integrity"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let served = h
        .http
        .get(di["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "application/vc");
    let mixed = post(
        "/credentials/issue".into(),
        json!({"credential": credential(), "options": {"keyId": key_id, "format": "vc+jwt",
               "credentialStatus": {"statusList": di["id"]}}}),
    )
    .await
    .unwrap();
    assert_eq!(mixed.status(), StatusCode::BAD_REQUEST);
    let set = |status: &str| {
        post(
            format!("/v1/status-lists/{list_id}/entries/{index}"),
            json!({"status": status}),
        )
    };
    for refused in ["0x4", "revoked", "2", "0x", "0x+1"] {
        assert_eq!(
            set(refused).await.unwrap().status(),
            StatusCode::BAD_REQUEST,
            "{refused}"
        );
    }
    let read = || async {
        let served = h.http.get(&url).send().await.unwrap().text().await.unwrap();
        let list = BitstringStatusListCredential::from_verified_json(&jwt_claims(&served)).unwrap();
        list.check(&BitstringStatusListEntry::from_json(&entry).unwrap())
            .unwrap()
    };
    assert_eq!(read().await.message.as_deref(), Some("pending review"));
    for (value, message) in [("0x2", "rejected"), ("0x1", "accepted")] {
        assert_eq!(set(value).await.unwrap().status(), StatusCode::OK);
        h.clock.advance(60_000);
        assert!(
            h.server()
                .status_lists
                .publish_due()
                .await
                .published
                .contains(&list_id)
        );
        let status = read().await;
        assert_eq!(status.message.as_deref(), Some(message));
        assert_eq!(format!("{:#x}", status.status), value);
    }
}

/// Issue 16: a subscriber keeps at most `[status_lists] max_per_subscriber` lists; one more is
/// refused (409) and nothing is logged or stored for it.
#[tokio::test]
async fn a_subscriber_keeps_at_most_the_configured_number_of_lists() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client_with(
        Engine::SqliteMemory,
        json!({"operations": ["sign"]}),
        "[status_lists]\nmax_per_subscriber = 2",
    )
    .await;
    let create = || {
        post_as(
            &mtls,
            &h.url,
            &access,
            "/v1/status-lists",
            &json!({"keyId": key_id, "purpose": "revocation"}),
        )
    };
    for _ in 0..2 {
        assert_eq!(create().await.unwrap().status(), StatusCode::CREATED);
    }
    let refused = create().await.unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        refused.text().await.unwrap().contains("max_per_subscriber"),
        "the refusal names the setting"
    );
    let created = h
        .log_entries()
        .await
        .iter()
        .filter(|e| e.kind == EntryKind::StatusListCreated)
        .count();
    assert_eq!(created, 4, "two lists, each written ahead and then done");
}

/// Issue 16: a credential takes entries of several lists of different purposes (an array of
/// `BitstringStatusListEntry`), or of the key's defaults (of each purpose its newest published
/// list) when no list is named; every entry is bound to the credential's signature in the
/// batch that logs it; two lists of one purpose, a list named twice and five lists are refused
/// before any index is handed out; an SD-JWT VC takes the key's default token list.
#[tokio::test]
async fn credentials_take_entries_of_several_lists_or_the_keys_defaults() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let list = |purpose: &str| {
        new_list(
            &mtls,
            &h.url,
            &access,
            json!({"keyId": key_id, "purpose": purpose}),
        )
    };
    let old_revocation = list("revocation").await;
    h.clock.advance(1_000);
    let (revocation, suspension) = (list("revocation").await, list("suspension").await);
    let id = |list: &Value| list["id"].as_str().unwrap().to_owned();
    let issue = |status: Value| {
        post_as(
            &mtls,
            &h.url,
            &access,
            "/credentials/issue",
            &json!({"credential": credential(), "options": {"keyId": key_id, "format": "vc+jwt",
                   "credentialStatus": status}}),
        )
    };
    let store = h.server().service.store.clone();
    let handed_out = || async {
        let mut n = 0;
        for list in [&old_revocation, &revocation, &suspension] {
            n += store.reserved_status_count(&id(list)).await.unwrap();
        }
        n
    };
    for refused in [
        json!({"statusList": [id(&old_revocation), id(&revocation)]}),
        json!({"statusList": [id(&revocation), id(&revocation)]}),
        json!({"statusList": [id(&revocation), "sl_a", "sl_b", "sl_c", "sl_d"]}),
        json!({"statusList": []}),
        json!({"statusList": 7}),
    ] {
        let answer = issue(refused.clone()).await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{refused}");
    }
    assert_eq!(
        handed_out().await,
        0,
        "nothing handed out for a refused request"
    );

    let statuses_of = |issued: &Value| match status_entry_of(issued) {
        Value::Array(entries) => entries,
        one => vec![one],
    };
    let named: Value = issue(json!({"statusList": [id(&revocation), id(&suspension)]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = statuses_of(&named);
    assert_eq!(
        entries
            .iter()
            .map(|e| (
                e["statusPurpose"].clone(),
                e["statusListCredential"].clone()
            ))
            .collect::<Vec<_>>(),
        vec![
            (json!("revocation"), revocation["url"].clone()),
            (json!("suspension"), suspension["url"].clone()),
        ]
    );
    // Both bound to the credential's signature, in the batch that logged it.
    let digest = {
        use sha2::Digest as _;
        let jwt = vc_jwt_of(&named);
        let input = jwt.rsplit_once('.').unwrap().0;
        format!(
            "sha-256:{}",
            hex::encode(sha2::Sha256::digest(input.as_bytes()))
        )
    };
    // Each entry the credential carries is bound to it, with its signature.made entry.
    let made = h
        .log_entries()
        .await
        .iter()
        .position(|e| e.kind == EntryKind::SignatureMade && e.digests.contains(&digest))
        .unwrap() as u64;
    let mut bound: Vec<(String, u64, Option<u64>)> = store
        .status_entries_by_digest(&digest)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.list_id, e.index, e.log_index))
        .collect();
    bound.sort();
    let mut carried: Vec<(String, u64, Option<u64>)> = entries
        .iter()
        .map(|e| {
            let url = e["statusListCredential"].as_str().unwrap();
            let index = e["statusListIndex"].as_str().unwrap().parse().unwrap();
            (
                url.rsplit('/').next().unwrap().to_owned(),
                index,
                Some(made),
            )
        })
        .collect();
    carried.sort();
    assert_eq!(bound, carried);

    // The default: the newest revocation list (not the older one, not the suspension list);
    // naming nothing is refused.
    let issued: Value = issue(json!({"statusList": "default"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lists: Vec<Value> = statuses_of(&issued)
        .iter()
        .map(|e| e["statusListCredential"].clone())
        .collect();
    assert_eq!(lists, vec![revocation["url"].clone()]);
    assert_eq!(
        issue(json!({})).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        store
            .reserved_status_count(&id(&old_revocation))
            .await
            .unwrap(),
        0
    );

    // An SD-JWT VC: the key's default token list; none yet is a clear refusal.
    let sd_jwt = || {
        post_as(
            &mtls,
            &h.url,
            &access,
            "/v1/credentials/sd-jwt",
            &json!({"credentialID": key_id, "vct": "https://credentials.example/degree",
                   "claims": {"given_name": "Hana"}, "statusList": "default"}),
        )
    };
    let none = sd_jwt().await.unwrap();
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    assert!(none.text().await.unwrap().contains("POST /v1/status-lists"));
    let token = new_list(
        &mtls,
        &h.url,
        &access,
        json!({"keyId": key_id, "format": "token"}),
    )
    .await;
    let issued: Value = sd_jwt().await.unwrap().json().await.unwrap();
    let claims = jwt_claims(issued["credential"].as_str().unwrap());
    assert_eq!(claims["status"]["status_list"]["uri"], token["url"]);
}

/// A new status list of the issuing client's, as `POST /v1/status-lists` answers it.
async fn new_list(mtls: &reqwest::Client, base: &str, access: &str, body: Value) -> Value {
    let created = post_as(mtls, base, access, "/v1/status-lists", &body)
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    created.json().await.unwrap()
}

/// A POST of `body` (JSON) to `path` by the issuing client: over its mTLS connection, with its
/// access token.
fn post_as(
    mtls: &reqwest::Client,
    base: &str,
    access: &str,
    path: &str,
    body: &Value,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + use<> {
    mtls.post(format!("{base}{path}"))
        .bearer_auth(access)
        .json(body)
        .send()
}

/// The VC-JWT of an enveloped credential as `/credentials/issue` answers it.
fn vc_jwt_of(issued: &Value) -> &str {
    let id = issued["verifiableCredential"]["id"].as_str().unwrap();
    id.strip_prefix("data:application/vc+jwt,").unwrap()
}

/// The claims of a compact JWS, or of the issuer-signed JWT of an SD-JWT (before its first
/// `~`), read without checking the signature.
fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let jwt = token.split('~').next().unwrap();
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The `credentialStatus` of a VC-JWT issued with `options.credentialStatus`.
fn status_entry_of(issued: &Value) -> Value {
    jwt_claims(vc_jwt_of(issued))["credentialStatus"].clone()
}

/// Inkan's own status check (the one it runs before signing) of `source`, against the list as
/// published now, trusting the issuer's key `key` (fresh: nothing cached).
async fn inkan_status(h: &Harness, key: &Value, source: StatusSource) -> KeyStatus {
    let anchor = scratch_file(h, key["public_key_pem"].as_str().unwrap());
    let config = StatusConfig {
        ca_files: vec![h._dir.path().join("tls/server.crt")],
        trust_anchors: vec![anchor.into()],
        fetch_timeout_seconds: 5,
        ..StatusConfig::default()
    };
    let checker = StatusChecker::new(&config, h.clock.clone()).unwrap();
    checker.check(&source).await.status
}

/// [`inkan_status`] of a W3C `credentialStatus` entry.
async fn inkan_status_of(h: &Harness, key: &Value, entry: &Value) -> KeyStatus {
    let entry = BitstringStatusListEntry::from_json(entry).unwrap();
    inkan_status(h, key, StatusSource::Bitstring(entry)).await
}

/// Writes `text` to a new file in the harness's folder (for the independent verifiers); its
/// path.
fn scratch_file(h: &Harness, text: &str) -> String {
    let path = h
        ._dir
        .path()
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Issue 16: an issuer's client creates a revocation list for its key (published at once at
/// a public URL); VC-JWTs issued with `options.credentialStatus` carry entries of it at
/// different indexes; revoking one is written ahead, final, and public after the next
/// publication round, which signs one new version for any number of changes; Inkan's own
/// status check reads the published list, signed by the issuer's key, as it says.
#[tokio::test]
async fn issued_credentials_carry_status_entries_that_the_published_list_follows() {
    let Issuing {
        h,
        clerk,
        mtls,
        key,
        key_id,
        access,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let post = |path: String, body: Value| post_as(&mtls, &h.url, &access, &path, &body);
    let created = post(
        "/v1/status-lists".into(),
        json!({"keyId": key_id, "purpose": "revocation"}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let list: Value = created.json().await.unwrap();
    let list_id = list["id"].as_str().unwrap().to_owned();
    let url = list["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("{}/status-lists/{list_id}", h.url));
    assert_eq!(list["size"], 131_072);
    let public = h.http.get(&url).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    assert_eq!(public.headers()["content-type"], "application/vc+jwt");
    assert_eq!(public.headers()["cache-control"], "public, max-age=300");
    let first_version = public.text().await.unwrap();

    let issue = |status: Value| {
        post(
            "/credentials/issue".into(),
            json!({"credential": credential(), "options": {"keyId": key_id, "format": "vc+jwt",
                   "credentialStatus": status}}),
        )
    };
    let mut entries = Vec::new();
    let mut jwts = Vec::new();
    for _ in 0..2 {
        let issued = issue(json!({"statusList": list_id})).await.unwrap();
        assert_eq!(issued.status(), StatusCode::CREATED);
        let issued: Value = issued.json().await.unwrap();
        jwts.push(vc_jwt_of(&issued).to_owned());
        let entry = status_entry_of(&issued);
        assert_eq!(entry["type"], "BitstringStatusListEntry");
        assert_eq!(entry["statusPurpose"], "revocation");
        assert_eq!(entry["statusListCredential"], url.as_str());
        entries.push(entry);
    }
    let index = |entry: &Value| {
        entry["statusListIndex"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert_ne!(index(&entries[0]), index(&entries[1]));
    // Another list than the key's, and a credential that brings its own entry, are refused.
    let refused = issue(json!({"statusList": "sl_none"})).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    for entry in &entries {
        assert_eq!(inkan_status_of(&h, &key, entry).await, KeyStatus::Valid);
    }
    // The same, by digitalbazaar's status list library on the published list (ES256 checked
    // with Node's crypto).
    let independent = |jwt: String| {
        let url = url.clone();
        let list = h.http.get(url.clone()).send();
        let (h, key) = (&h, &key);
        async move {
            let list = list.await.unwrap().text().await.unwrap();
            let credential = scratch_file(h, &jwt);
            let list = scratch_file(h, &list);
            let jwk = scratch_file(h, &key["public_jwk"].to_string());
            let out = node(
                interop("di").join("status-list.mjs"),
                &[&credential, &list, &url, &jwk],
            )
            .unwrap_or_else(|e| panic!("digitalbazaar refused the status entry: {e}"));
            serde_json::from_str::<Value>(&out).unwrap()["status"].clone()
        }
    };
    for jwt in &jwts {
        assert_eq!(independent(jwt.clone()).await, json!(0));
    }

    let change = |index: u64, status: &str| {
        post(
            format!("/v1/status-lists/{list_id}/entries/{index}"),
            json!({"status": status}),
        )
    };
    let revoked = change(index(&entries[0]), "revoked").await.unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked: Value = revoked.json().await.unwrap();
    assert_eq!(
        (revoked["value"].clone(), revoked["isFinal"].clone()),
        (json!(1), json!(true))
    );
    assert!(revoked["digest"].as_str().unwrap().starts_with("sha-256:"));
    // Final: neither back to valid nor revoked again; an index never handed out is unknown.
    for status in ["valid", "revoked"] {
        let again = change(index(&entries[0]), status).await.unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT, "{status}");
    }
    let unknown = (0..131_072u64)
        .find(|i| *i != index(&entries[0]) && *i != index(&entries[1]))
        .unwrap();
    assert_eq!(
        change(unknown, "revoked").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // A person of the issuer does not change statuses: its client does.
    let by_person = h
        .call(
            &clerk,
            Method::POST,
            &format!("/v1/status-lists/{list_id}/entries/{}", index(&entries[1])),
            Some(json!({"status": "revoked"})),
        )
        .await;
    assert_eq!(by_person.status(), StatusCode::FORBIDDEN);
    // Not public before the publication round; then one new version, once.
    assert_eq!(
        h.http.get(&url).send().await.unwrap().text().await.unwrap(),
        first_version
    );
    let lists = &h.server().status_lists;
    // The node that created the list holds it for a round.
    assert!(lists.publish_due().await.published.is_empty());
    h.clock.advance(60_000);
    assert_eq!(lists.publish_due().await.published, vec![list_id.clone()]);
    assert!(lists.publish_due().await.published.is_empty());
    assert_ne!(
        h.http.get(&url).send().await.unwrap().text().await.unwrap(),
        first_version
    );
    assert_eq!(
        inkan_status_of(&h, &key, &entries[0]).await,
        KeyStatus::Revoked
    );
    assert_eq!(
        inkan_status_of(&h, &key, &entries[1]).await,
        KeyStatus::Valid
    );
    assert_eq!(independent(jwts[0].clone()).await, json!(1));
    assert_eq!(independent(jwts[1].clone()).await, json!(0));

    // By the credential's digest (its signing input's, as `GET /v1/signatures` knows it).
    let digest = |jwt: &str| {
        use sha2::Digest as _;
        let signing_input = jwt.rsplit_once('.').unwrap().0;
        format!(
            "sha-256:{}",
            hex::encode(sha2::Sha256::digest(signing_input.as_bytes()))
        )
    };
    let by_digest = |digest: String| {
        post(
            "/v1/status-lists/by-digest".into(),
            json!({"digest": digest, "status": "revoked"}),
        )
    };
    let revoked: Value = by_digest(digest(&jwts[1]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["entries"][0]["index"], index(&entries[1]));
    assert_eq!(revoked["entries"][0]["isFinal"], true);
    assert_eq!(
        by_digest(format!("sha-256:{}", "0".repeat(64)))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        by_digest("sha-256:beef".into()).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );

    // In the log: the list's creation and each attempt to change an entry, written ahead, by
    // the client (the way back to valid is refused before, as no status of the list); and the
    // list's two versions signed with the key like any signature.
    let log = h.log_entries().await;
    let client = log
        .iter()
        .find(|e| e.kind == EntryKind::StatusListCreated)
        .map(|e| e.actor.id.clone())
        .unwrap();
    assert!(client.starts_with("cli_"), "{client}");
    let outcomes = |kind: EntryKind| -> Vec<Outcome> {
        log.iter()
            .filter(|e| e.kind == kind)
            .inspect(|e| assert_eq!(e.actor.id, client))
            .map(|e| e.outcome.clone())
            .collect()
    };
    assert_eq!(
        outcomes(EntryKind::StatusListCreated),
        vec![Outcome::Pending, Outcome::Succeeded]
    );
    assert_eq!(
        outcomes(EntryKind::CredentialStatusChanged),
        vec![
            Outcome::Pending,
            Outcome::Succeeded,
            Outcome::Pending,
            Outcome::Failed("conflict".into()),
            Outcome::Pending,
            Outcome::Failed("not found".into()),
            Outcome::Pending,
            Outcome::Succeeded,
        ]
    );
    let made = log
        .iter()
        .filter(|e| e.kind == EntryKind::SignatureMade && e.key_id.as_deref() == Some(&key_id))
        .count();
    assert_eq!(made, 4, "two credentials and two versions of the list");

    // The evidence pack carries the list's history: both versions (the SHA-256 of each as
    // served), each revocation with who made it, the credential it revoked, and the first
    // version that showed it (none yet for the one made after the last round); and the log's
    // status entries.
    let pack = h._dir.path().join("evidence");
    inkan_server::evidence::export(
        &h.server().service,
        &inkan_server::service::system_actor(),
        &pack,
        "",
    )
    .await
    .unwrap();
    let lists: Value =
        serde_json::from_slice(&std::fs::read(pack.join("status-lists.json")).unwrap()).unwrap();
    let ours = lists
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == list_id.as_str())
        .unwrap();
    let versions = ours["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let latest = h
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        versions[1]["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&latest))
    );
    let history = ours["history"].as_array().unwrap();
    let of = |entry: &Value| {
        history
            .iter()
            .find(|h| h["index"] == index(entry))
            .unwrap()
            .clone()
    };
    let (first, second) = (of(&entries[0]), of(&entries[1]));
    assert_eq!(history.len(), 2);
    for revoked in [&first, &second] {
        assert_eq!(
            (revoked["value"].clone(), revoked["final"].clone()),
            (json!(1), json!(true))
        );
        assert_eq!(revoked["changed_by"], client.as_str());
    }
    assert_eq!(first["shown_from_version"], 2);
    assert_eq!(second["shown_from_version"], Value::Null);
    assert_eq!(second["credential_digest"], digest(&jwts[1]).as_str());
    let status_events = std::fs::read_to_string(pack.join("status-events.jsonl")).unwrap();
    assert_eq!(
        status_events
            .lines()
            .filter(|l| l.contains("credential.status_changed"))
            .count(),
        outcomes(EntryKind::CredentialStatusChanged).len()
    );
}

/// Issue 17: a signing key's record comes from memory, tagged with the store's cache epoch; a
/// change made behind the node's back (here by hand in the database) moves the epoch, so the
/// next request's write-ahead batch sees another epoch than its key's tag and the signing
/// module reads the key again before the device signs: the request is refused, logged, and
/// the one after it is checked against the key as it now is.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_changed_behind_the_cache_is_read_again_before_signing() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let issue = || {
        mtls.post(format!("{}/credentials/issue", h.url))
            .bearer_auth(&access)
            .json(&json!({"credential": credential(), "options": {"keyId": key_id, "format": "vc+jwt"}}))
            .send()
    };
    // Twice: the second from memory.
    assert_eq!(issue().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(issue().await.unwrap().status(), StatusCode::CREATED);

    h.db.exec(format!(
        "UPDATE keys SET owner = 'sub_elsewhere' WHERE id = '{key_id}'"
    ))
    .await;
    let refused = issue().await.unwrap();
    assert_ne!(refused.status(), StatusCode::CREATED);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("changed while the request was being logged"),
        "{text}"
    );
    // The next request reads the key as it is now: another subscriber's, which this client
    // is not shown.
    let after = issue().await.unwrap();
    assert_eq!(after.status(), StatusCode::NOT_FOUND);
    let entries = h.log_entries().await;
    let kinds: Vec<EntryKind> = entries
        .iter()
        .filter(|e| e.key_id.as_deref() == Some(key_id.as_str()))
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EntryKind::SignatureMade)
            .count(),
        2
    );
    // The refused one was written ahead, then refused; the last was refused at access.
    assert!(
        kinds.ends_with(&[
            EntryKind::SignatureRequested,
            EntryKind::SignatureRefused,
            EntryKind::AccessRefused
        ]),
        "{kinds:?}"
    );
    h.stop().await;
}

/// Issue 17: a system client's token and session come from memory for signing; a session ended
/// behind the node's back (by hand in the database: the trigger moves the epoch) is seen by
/// the signing module before the device signs, and the next request is refused at the door.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_ended_behind_the_cache_signs_nothing() {
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client(Engine::SqliteFile, json!({"operations": ["sign"]})).await;
    let issue = || {
        mtls.post(format!("{}/credentials/issue", h.url))
            .bearer_auth(&access)
            .json(&json!({"credential": credential(), "options": {"keyId": key_id, "format": "vc+jwt"}}))
            .send()
    };
    assert_eq!(issue().await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(issue().await.unwrap().status(), StatusCode::CREATED);
    h.db.exec("UPDATE sessions SET revoked_at = 1, revoked_reason = 'by hand' WHERE client_id IS NOT NULL")
        .await;
    let refused = issue().await.unwrap();
    let status = refused.status();
    let text = refused.text().await.unwrap();
    assert_ne!(status, StatusCode::CREATED, "{text}");
    assert!(text.contains("session has ended"), "{status} {text}");
    assert_eq!(issue().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let kinds: Vec<EntryKind> = h
        .log_entries()
        .await
        .into_iter()
        .filter(|e| e.key_id.as_deref() == Some(key_id.as_str()))
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EntryKind::SignatureMade)
            .count(),
        2
    );
    // The third came through from memory, was written ahead and refused at step 3c (read from
    // the store at the door, it would have been turned away unlogged, like the fourth).
    assert!(
        kinds.ends_with(&[EntryKind::SignatureRequested, EntryKind::SignatureRefused]),
        "{kinds:?}"
    );
    h.stop().await;
}
