//! End-to-end ISO/IEC 18013-5 mdoc (criteria 2.2.3): an issuer's system client issues an mDL
//! (IssuerSigned) to a holder's Inkan key under standing approval, its key certified by the
//! issuer's IACA (a test CA); the holder prepares a DeviceResponse for a verifier's
//! SessionTranscript (seeing the docType and the elements disclosed), authorises its hash with
//! PIN and OTP encrypted to the activation key, and signs it. Inkan's `/presentations/verify`
//! and an independent verifier (npm `@auth0/mdl`, `interop/mdoc/verify.js`) accept it; a
//! response for another SessionTranscript than the one prepared is refused.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use common::Engine;
use common::server::{Harness, Holder, START, authorize, authorize_showing, key, system_client};
use common::x509::{JwkPublicKey, TestCa, test_name};
use inkan_log::entry::EntryKind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

const PIN: &str = "246810";
const SETTINGS: &str = "access_token_seconds = 1800\nidle_timeout_minutes = 60";
const MDL: &str = "org.iso.18013.5.1.mDL";
const NS: &str = "org.iso.18013.5.1";
const DAY: i64 = 86_400;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// CBOR head of major type `major` with length `len` (< 65536).
fn cbor_head(major: u8, len: usize) -> Vec<u8> {
    match len {
        0..=23 => vec![major << 5 | len as u8],
        24..=255 => vec![major << 5 | 24, len as u8],
        _ => vec![major << 5 | 25, (len >> 8) as u8, len as u8],
    }
}

/// A SessionTranscript as the verifier makes it, as SessionTranscriptBytes
/// (`#6.24(bstr .cbor [null, null, ["inkan-e2e-handover", nonce]])`), OpenID4VP-like.
fn session_transcript(nonce: &str) -> Vec<u8> {
    let text = |s: &str| [cbor_head(3, s.len()), s.as_bytes().to_vec()].concat();
    let inner = [
        vec![0x83, 0xf6, 0xf6, 0x82],
        text("inkan-e2e-handover"),
        text(nonce),
    ]
    .concat();
    [vec![0xd8, 0x18], cbor_head(2, inner.len()), inner].concat()
}

fn interop_mdoc() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/mdoc");
    assert!(
        path.join("node_modules/@auth0/mdl/package.json").exists(),
        "interop/mdoc/node_modules is missing: run `bash .ci/run` (or `npm ci --prefix interop/mdoc`)"
    );
    path
}

/// `@auth0/mdl` verifies `response` for `transcript` under the trusted `root_pem`.
fn auth0_verify(response: &[u8], transcript: &[u8], root_pem: &str) -> Result<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let (r, t, c) = (
        tmp.path().join("response.cbor"),
        tmp.path().join("transcript.cbor"),
        tmp.path().join("root.pem"),
    );
    std::fs::write(&r, response).unwrap();
    std::fs::write(&t, transcript).unwrap();
    std::fs::write(&c, root_pem).unwrap();
    let out = Command::new("node")
        .arg(interop_mdoc().join("verify.js"))
        .args([&r, &t, &c])
        .output()
        .expect("node (Node.js 20) must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// A P-256 public key from its JWK, for rcgen to certify.
/// The issuer's IACA (a test CA whose key the test holds) certifies the document signer key
/// `jwk`. Returns (IACA root PEM, document signer certificate PEM).
fn certify(iaca: &TestCa, jwk: &Value) -> (String, String) {
    use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyUsagePurpose};
    let mut ds = CertificateParams::new(Vec::<String>::new()).unwrap();
    ds.distinguished_name = test_name("Inkan Test mDL Document Signer");
    ds.is_ca = IsCa::ExplicitNoCa;
    ds.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // id-mdl-kp-mdlDS (ISO/IEC 18013-5 Annex B).
    ds.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![1, 0, 18013, 5, 1, 2])];
    ds.not_before = rcgen::date_time_ymd(2020, 1, 2);
    ds.not_after = rcgen::date_time_ymd(2040, 12, 30);
    let leaf = ds
        .signed_by(
            &JwkPublicKey::new(jwk),
            &Issuer::from_params(&iaca.params, &iaca.key),
        )
        .unwrap();
    (iaca.pem.clone(), leaf.pem())
}

async fn prepare(h: &Harness, holder: &Holder, document: &Value) -> reqwest::Response {
    h.call(
        &holder.session,
        Method::POST,
        "/v1/holder/prepare",
        Some(json!({"credentialID": holder.key_id, "document": document})),
    )
    .await
}

async fn sign(
    h: &Harness,
    holder: &Holder,
    document: &Value,
    prepared: &Value,
    sad: &str,
) -> reqwest::Response {
    h.call(
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

async fn mdoc_flows(engine: Engine) {
    // The IACA the verify endpoints trust ([verify] trust_anchors, issue 15).
    let iaca = TestCa::new("Inkan Test IACA");
    let anchors = tempfile::tempdir().unwrap();
    let anchor = anchors.path().join("iaca.pem");
    std::fs::write(&anchor, &iaca.pem).unwrap();
    let settings = format!(
        "{SETTINGS}\n[verify]\ntrust_anchors = [\"{}\"]",
        anchor.display()
    );
    let h = Harness::start(engine, &settings).await;
    let (_, operator) = h.operator().await;
    // The issuer organisation, its document signer key and its system client.
    let (issuer, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal_key, seal_jwk) = key(&h, &clerk_session, "ES256", "135791").await;
    let issuer_client = system_client(&h, &operator, &issuer, &seal_key).await;

    // The holder and their key.
    let (_, account) = h.subscriber(&operator, "holder", "hana").await;
    let session = h.login(&account).await;
    let (key_id, jwk) = key(&h, &session, "ES256", PIN).await;
    let holder = Holder {
        account,
        session,
        key_id,
        jwk,
    };
    let info: Value = h
        .http
        .get(format!("{}/csc/v2/info", h.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let activation_key = info["signatureActivation"]["activationKey"].clone();

    // Valid around both the service's clock and the real one (the independent verifier
    // checks the validity against the real time).
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (start, now) = (START / 1000, h.now_seconds());
    let valid_from = start.min(real_now) - DAY;
    let valid_until = start.max(real_now) + 30 * DAY;
    let issue_request = json!({
        "credentialID": seal_key, "docType": MDL,
        "nameSpaces": {NS: {
            "family_name": "Sato", "given_name": "Hana",
            "birth_date": {"$date": "1990-01-01"}, "issuing_country": "JP",
            "age_over_18": true, "document_number": "DL-0123456789",
        }},
        "deviceKeyJwk": holder.jwk,
        "validFrom": valid_from, "validUntil": valid_until,
    });

    // Without a certificate for x5chain, the issuer key cannot issue an mdoc.
    let refused = h
        .call(
            &issuer_client,
            Method::POST,
            "/v1/credentials/mdoc",
            Some(issue_request.clone()),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("inkan keys csr") && text.contains("attach-cert"),
        "{text}"
    );
    // The issuer's IACA certifies the key; the operator attaches it (`inkan keys attach-cert`).
    let (root_pem, ds_pem) = certify(&iaca, &seal_jwk);
    h.server()
        .service
        .registry
        .attach_certificate(
            &inkan_server::service::system_actor(),
            &inkan_store::KeyId::parse(&seal_key).unwrap(),
            ds_pem.as_bytes(),
        )
        .await
        .unwrap();

    // A person cannot issue under standing approval.
    let by_person = h
        .call(
            &clerk_session,
            Method::POST,
            "/v1/credentials/mdoc",
            Some(issue_request.clone()),
        )
        .await;
    assert_eq!(by_person.status(), StatusCode::FORBIDDEN);

    // 1. Issuance.
    let issued = h
        .call(
            &issuer_client,
            Method::POST,
            "/v1/credentials/mdoc",
            Some(issue_request),
        )
        .await;
    assert_eq!(
        issued.status(),
        StatusCode::CREATED,
        "{}",
        issued.text().await.unwrap()
    );
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["docType"], MDL);
    assert_eq!(issued["receipts"].as_array().unwrap().len(), 1);
    let issuer_signed = issued["issuerSigned"].as_str().unwrap().to_owned();
    // Inkan's verifier reads it (issuer signature, digests, validity, x5chain leaf).
    let ours = h
        .post_json(
            "/credentials/verify",
            json!({"verifiableCredential": issuer_signed}),
        )
        .await;
    assert_eq!(ours.status(), StatusCode::OK);
    let ours: Value = ours.json().await.unwrap();
    assert_eq!(ours["format"], "mdoc IssuerSigned", "{ours}");
    assert_eq!(ours["details"]["docType"], MDL);
    assert_eq!(ours["details"]["elements"][NS].as_array().unwrap().len(), 6);
    assert_eq!(ours["details"]["issuerCertificates"], 1);
    assert_eq!(ours["issuerTrust"], "authenticated", "{ours}");
    assert_eq!(ours["details"]["validFrom"], valid_from);
    assert!(now >= valid_from);

    // 2. Presentation: the verifier's SessionTranscript, three elements of six.
    let transcript = session_transcript("n-0S6_WzA2Mj");
    let document = json!({
        "format": "mso_mdoc", "issuerSigned": issuer_signed, "docType": MDL,
        "elements": {NS: ["family_name", "issuing_country", "age_over_18"]},
        "sessionTranscript": b64(&transcript),
    });
    let prepared = prepare(&h, &holder, &document).await;
    assert_eq!(
        prepared.status(),
        StatusCode::OK,
        "{}",
        prepared.text().await.unwrap()
    );
    let prepared: Value = prepared.json().await.unwrap();
    assert_eq!(prepared["format"], "mso_mdoc");
    assert_eq!(prepared["numSignatures"], 1);
    assert_eq!(prepared["summary"]["docType"], MDL);
    assert_eq!(
        prepared["summary"]["disclosed"],
        json!({NS: ["family_name", "issuing_country", "age_over_18"]})
    );
    assert!(
        prepared["summary"]["issuer"]
            .as_str()
            .unwrap()
            .contains("CN=Inkan Test mDL Document Signer"),
        "{prepared}"
    );
    let sad = authorize(&h, &holder, &activation_key, &prepared, PIN).await;
    let signed = sign(&h, &holder, &document, &prepared, &sad).await;
    assert_eq!(
        signed.status(),
        StatusCode::OK,
        "{}",
        signed.text().await.unwrap()
    );
    let signed: Value = signed.json().await.unwrap();
    assert_eq!(signed["format"], "mso_mdoc");
    assert_eq!(signed["receipts"].as_array().unwrap().len(), 1);
    let response = signed["document"].as_str().unwrap().to_owned();

    // Inkan's own verifier, with the SessionTranscript.
    let ours = h
        .post_json(
            "/presentations/verify",
            json!({"verifiablePresentation": response,
                   "options": {"sessionTranscript": b64(&transcript)}}),
        )
        .await;
    assert_eq!(ours.status(), StatusCode::OK);
    let ours: Value = ours.json().await.unwrap();
    assert_eq!(ours["format"], "mdoc DeviceResponse", "{ours}");
    assert_eq!(ours["issuerTrust"], "authenticated", "{ours}");
    let document0 = &ours["details"]["documents"][0];
    assert_eq!(document0["docType"], MDL);
    assert_eq!(
        document0["elements"][NS],
        json!(["age_over_18", "family_name", "issuing_country"])
    );
    // … and not for another session, nor without one.
    for options in [
        json!({"sessionTranscript": b64(&session_transcript("another-nonce"))}),
        json!({}),
    ] {
        let refused = h
            .post_json(
                "/presentations/verify",
                json!({"verifiablePresentation": response, "options": options}),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_eq!(refused.json::<Value>().await.unwrap()["verified"], false);
    }

    // The independent verifier: the IACA as trusted root, the chain, the digests, the
    // validity, the device signature over the SessionTranscript, issuing_country against the
    // certificate's C.
    let response_bytes = unb64(&response);
    let verified = auth0_verify(&response_bytes, &transcript, &root_pem);
    let out = verified.unwrap_or_else(|e| panic!("@auth0/mdl refused the DeviceResponse: {e}"));
    assert!(out.contains(MDL), "{out}");
    for e in ["family_name", "issuing_country", "age_over_18"] {
        assert!(out.contains(e), "{e} missing in {out}");
    }
    for e in ["given_name", "birth_date", "document_number"] {
        assert!(!out.contains(e), "{e} disclosed: {out}");
    }
    let other = auth0_verify(
        &response_bytes,
        &session_transcript("another-nonce"),
        &root_pem,
    );
    assert!(other.is_err(), "accepted for another SessionTranscript");
    let (other_root, _) = certify(&TestCa::new("Inkan Test IACA"), &seal_jwk);
    let untrusted = auth0_verify(&response_bytes, &transcript, &other_root);
    assert!(untrusted.is_err(), "accepted under another IACA");

    // The SAD covers only the prepared DeviceResponse: one for another verifier's session
    // is refused.
    let prepared = prepare(&h, &holder, &document)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let sad = authorize(&h, &holder, &activation_key, &prepared, PIN).await;
    let mut elsewhere = document.clone();
    elsewhere["sessionTranscript"] = json!(b64(&session_transcript("another-nonce")));
    let refused = sign(&h, &holder, &elsewhere, &prepared, &sad).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // The device signature covers the session and the docType, not the choice of
    // issuer-signed elements (ISO/IEC 18013-5 leaves it outside DeviceAuthentication): the
    // hash to authorise is the same whatever is disclosed. The SAD is bound to the digest of
    // the whole disclosure shown too (issue 18 point 3), so a response with more elements than
    // the holder approved is refused before the device signs.
    let mut more = document.clone();
    more["elements"] = json!({NS: ["family_name", "issuing_country", "age_over_18", "birth_date"]});
    let prepared_more = prepare(&h, &holder, &more)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(prepared_more["hashes"], prepared["hashes"]);
    assert_ne!(
        prepared_more["disclosureDigest"],
        prepared["disclosureDigest"]
    );
    assert_eq!(
        prepared_more["summary"]["disclosed"][NS]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let made_before = h
        .log_entries()
        .await
        .iter()
        .filter(|e| e.kind == EntryKind::SignatureMade)
        .count();
    let sad = authorize(&h, &holder, &activation_key, &prepared, PIN).await;
    let widened = sign(&h, &holder, &more, &prepared, &sad).await;
    assert_eq!(widened.status(), StatusCode::FORBIDDEN);
    assert!(
        widened.text().await.unwrap().contains("discloses"),
        "the refusal says why"
    );
    let entries = h.log_entries().await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.kind == EntryKind::SignatureMade)
            .count(),
        made_before,
        "nothing signed"
    );
    // The holder's encrypted activation data must carry what was shown: data without it, or
    // with another disclosure's digest, is refused (naming the member) and no SAD is issued.
    let named = prepared["disclosureDigest"].as_str();
    for shown in [None, prepared_more["disclosureDigest"].as_str()] {
        let refused =
            authorize_showing(&h, &holder, &activation_key, &prepared, PIN, shown, named).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let why = refused.text().await.unwrap();
        assert!(why.contains("disclosureDigest"), "{why}");
    }
    // No plain CSC authorization of the same hash: a holder's key signs presentations only.
    let plain = authorize_showing(&h, &holder, &activation_key, &prepared, PIN, None, None).await;
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    let why = plain.text().await.unwrap();
    assert!(why.contains("presentations only"), "{why}");
    // A SAD given for a presentation signs no bare hash either.
    let sad = authorize(&h, &holder, &activation_key, &prepared, PIN).await;
    let hash_signed = h
        .call(
            &holder.session,
            Method::POST,
            "/csc/v2/signatures/signHash",
            Some(json!({
                "credentialID": holder.key_id, "SAD": sad,
                "hashes": prepared["hashes"], "signAlgo": "1.2.840.10045.4.3.2",
            })),
        )
        .await;
    assert_eq!(hash_signed.status(), StatusCode::FORBIDDEN);
    let why = hash_signed.text().await.unwrap();
    assert!(why.contains("given for a presentation"), "{why}");

    // What the holder cannot present: an element not issued, another docType, a credential
    // bound to another key.
    let mut missing = document.clone();
    missing["elements"] = json!({NS: ["family_name", "portrait"]});
    assert_eq!(
        prepare(&h, &holder, &missing).await.status(),
        StatusCode::BAD_REQUEST
    );
    let mut wrong_type = document.clone();
    wrong_type["docType"] = json!("org.iso.23220.photoid.1");
    assert_eq!(
        prepare(&h, &holder, &wrong_type).await.status(),
        StatusCode::BAD_REQUEST
    );
    let (other_key, _) = key(&h, &holder.session, "ES256", PIN).await;
    let not_bound = h
        .call(
            &holder.session,
            Method::POST,
            "/v1/holder/prepare",
            Some(json!({"credentialID": other_key, "document": document})),
        )
        .await;
    assert_eq!(not_bound.status(), StatusCode::BAD_REQUEST);

    // The log: the issuer's MSO signature under standing approval, the holder's under the SAD.
    let entries = h.log_entries().await;
    let made = |key: &str| -> Vec<_> {
        entries
            .iter()
            .filter(|e| e.kind == EntryKind::SignatureMade && e.key_id.as_deref() == Some(key))
            .collect()
    };
    let issuer_made = made(&seal_key);
    assert_eq!(issuer_made.len(), 1);
    assert_eq!(issuer_made[0].note.as_deref(), Some("mso_mdoc"));
    assert!(
        issuer_made[0]
            .approval
            .as_deref()
            .unwrap()
            .starts_with("standing:")
    );
    let holder_made = made(&holder.key_id);
    assert_eq!(holder_made.len(), 1);
    assert_eq!(holder_made[0].note.as_deref(), Some("mso_mdoc"));
    assert!(
        holder_made[0]
            .approval
            .as_deref()
            .unwrap()
            .starts_with("sad_")
    );
    h.stop().await;
}

#[tokio::test]
async fn mdoc_flows_sqlite() {
    mdoc_flows(Engine::SqliteFile).await;
}

#[tokio::test]
async fn mdoc_flows_postgres() {
    mdoc_flows(Engine::Postgres).await;
}

/// Issue 16: an mdoc issuer's client creates a Token Status List signed as a CWT; mdocs
/// issued with `statusList` carry the MSO `status` (`status_list.idx`, `uri`) at different
/// indexes; the list is served as `application/statuslist+cwt`, signed by the document signer
/// key with its certificate in `x5chain`. Suspension, its reversal and revocation are seen
/// after a publication round by Inkan's own status check (the one it runs before signing, the
/// document signer certificate as its trust anchor) and by an independent reader (cose-kit and
/// cbor-x, `interop/mdoc/status-list.js`, under the IACA); a revocation is final; lists that
/// do not fit an mdoc are refused.
#[tokio::test]
async fn mdocs_carry_token_status_list_entries_published_as_cwt() {
    use inkan_server::config::StatusConfig;
    use inkan_server::status::{KeyStatus, StatusChecker, StatusSource};
    let iaca = TestCa::new("Inkan Test IACA");
    let h = Harness::start(Engine::SqliteFile, SETTINGS).await;
    let (_, operator) = h.operator().await;
    let (issuer, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal_key, seal_jwk) = key(&h, &clerk_session, "ES256", "135791").await;
    let client = system_client(&h, &operator, &issuer, &seal_key).await;
    // A CWT list names its signer by the certificate alone: none yet, refused.
    let early = h
        .call(
            &client,
            Method::POST,
            "/v1/status-lists",
            Some(json!({"keyId": seal_key, "format": "token", "signedAs": "cwt"})),
        )
        .await;
    assert_eq!(early.status(), StatusCode::BAD_REQUEST);
    assert!(early.text().await.unwrap().contains("x5chain"));
    let (root_pem, ds_pem) = certify(&iaca, &seal_jwk);
    h.server()
        .service
        .registry
        .attach_certificate(
            &inkan_server::service::system_actor(),
            &inkan_store::KeyId::parse(&seal_key).unwrap(),
            ds_pem.as_bytes(),
        )
        .await
        .unwrap();
    let (_, holder) = h.subscriber(&operator, "holder", "hana").await;
    let holder_session = h.login(&holder).await;
    let (_, holder_jwk) = key(&h, &holder_session, "ES256", PIN).await;

    let post = |path: String, body: Value| {
        let (h, client) = (&h, &client);
        async move { h.call(client, Method::POST, &path, Some(body)).await }
    };
    let create = |body: Value| post("/v1/status-lists".into(), body);
    assert_eq!(
        create(json!({"keyId": seal_key, "signedAs": "cwt"}))
            .await
            .status(),
        StatusCode::BAD_REQUEST,
        "a W3C list is not signed as a CWT"
    );
    let list: Value = create(json!({"keyId": seal_key, "format": "token", "signedAs": "cwt"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["signedAs"], "cwt");
    let (list_id, url) = (
        list["id"].as_str().unwrap().to_owned(),
        list["url"].as_str().unwrap().to_owned(),
    );
    let jwt_list: Value = create(json!({"keyId": seal_key, "format": "token"}))
        .await
        .json()
        .await
        .unwrap();
    let fetch = || async {
        let served = h.http.get(&url).send().await.unwrap();
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(
            served.headers()["content-type"],
            "application/statuslist+cwt"
        );
        served.bytes().await.unwrap().to_vec()
    };
    // A tagged COSE_Sign1 (18).
    assert_eq!(fetch().await[0], 0xd2);

    let issue = |list: &str| {
        post(
            "/v1/credentials/mdoc".into(),
            json!({
                "credentialID": seal_key, "docType": MDL,
                "nameSpaces": {NS: {"family_name": "Sato", "given_name": "Hana"}},
                "deviceKeyJwk": holder_jwk, "statusList": list,
            }),
        )
    };
    assert_eq!(
        issue(jwt_list["id"].as_str().unwrap()).await.status(),
        StatusCode::BAD_REQUEST,
        "an mdoc takes a list signed as a CWT"
    );
    let by_sd_jwt = post(
        "/v1/credentials/sd-jwt".into(),
        json!({"credentialID": seal_key, "vct": "https://credentials.example/degree",
               "claims": {"given_name": "Hana"}, "statusList": list_id}),
    )
    .await;
    assert_eq!(
        by_sd_jwt.status(),
        StatusCode::BAD_REQUEST,
        "an SD-JWT VC takes a list signed as a JWT"
    );
    let mut issued = Vec::new();
    for _ in 0..2 {
        let response = issue(&list_id).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        let issuer_signed = body["issuerSigned"].as_str().unwrap().to_owned();
        let mso = inkan_formats::mdoc::IssuerSigned::from_bytes(&unb64(&issuer_signed))
            .unwrap()
            .mso()
            .unwrap();
        let reference = mso.status.unwrap();
        assert_eq!(reference.uri, url);
        issued.push((issuer_signed, reference.idx));
    }
    assert_ne!(issued[0].1, issued[1].1);

    // Inkan's own check, with the document signer certificate as the trust anchor (a new
    // checker each time: one keeps a list for its `ttl`).
    let scratch = tempfile::tempdir().unwrap();
    let anchor = scratch.path().join("ds.pem");
    std::fs::write(&anchor, &ds_pem).unwrap();
    let inkan_reads = |idx: u64| {
        let source = StatusSource::Token(inkan_formats::status::StatusListReference {
            idx,
            uri: url.clone(),
        });
        let checker = StatusChecker::new(
            &StatusConfig {
                ca_files: vec![h._dir.path().join("tls/server.crt")],
                trust_anchors: vec![anchor.clone()],
                fetch_timeout_seconds: 5,
                ..StatusConfig::default()
            },
            h.clock.clone(),
        )
        .unwrap();
        async move { checker.check(&source).await.status }
    };
    // The independent reader, under the IACA root.
    let root = scratch.path().join("iaca.pem");
    std::fs::write(&root, &root_pem).unwrap();
    let independent = |which: usize| {
        let (issued, root, now) = (&issued, &root, h.now_seconds());
        let (mdoc, listed) = (
            scratch.path().join(format!("mdoc{which}")),
            scratch.path().join(format!("list{which}")),
        );
        async move {
            std::fs::write(&mdoc, &issued[which].0).unwrap();
            std::fs::write(&listed, fetch().await).unwrap();
            let out = Command::new("node")
                .arg(interop_mdoc().join("status-list.js"))
                .args([&mdoc, &listed, root])
                .arg(now.to_string())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "cose-kit/cbor-x refused: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let read: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(read["idx"], issued[which].1);
            read["status"].clone()
        }
    };
    assert_eq!(inkan_reads(issued[0].1).await, KeyStatus::Valid);
    assert_eq!(independent(0).await, json!(0));
    let change = |status: &str| {
        post(
            format!("/v1/status-lists/{list_id}/entries/{}", issued[0].1),
            json!({"status": status}),
        )
    };
    for (status, seen, value) in [
        ("suspended", KeyStatus::Suspended, 2),
        ("valid", KeyStatus::Valid, 0),
        ("revoked", KeyStatus::Revoked, 1),
    ] {
        assert_eq!(change(status).await.status(), StatusCode::OK, "{status}");
        h.clock.advance(60_000);
        let published = h.server().status_lists.publish_due().await.published;
        assert!(published.contains(&list_id), "{status}");
        assert_eq!(inkan_reads(issued[0].1).await, seen, "{status}");
        assert_eq!(inkan_reads(issued[1].1).await, KeyStatus::Valid);
        assert_eq!(independent(0).await, json!(value), "{status}");
        assert_eq!(independent(1).await, json!(0));
    }
    assert_eq!(
        change("valid").await.status(),
        StatusCode::CONFLICT,
        "a revocation is final"
    );
    // Every version is signed with the key like any signature and logged as one: the two
    // mdocs, the CWT list's four versions and the JWT list's first.
    let made = h
        .log_entries()
        .await
        .iter()
        .filter(|e| e.kind == EntryKind::SignatureMade && e.key_id.as_deref() == Some(&seal_key))
        .count();
    assert_eq!(made, 2 + 4 + 1);
}
