//! The CSC OAuth2 flow through Inkan's own pages (issue 18; criteria 2.2.1, 2.2.3(2) ):
//! a person signs in and approves in a real headless Chromium, a CSC client exchanges the code
//! for a credential token, and `signHash` signs exactly the approved hashes, once. The rules of
//! the pages (CSRF, framing, redirect URIs, PKCE, wrong factors, codes used twice, what a
//! credential token may reach) are checked over plain HTTPS as well. Real server, real TLS.
#![allow(clippy::unwrap_used)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::Engine;
use common::interop::{interop, node};
use common::server::{Account, Harness, PASSWORD, key, system_client};
use common::webdriver::Browser;
use inkan_device::{Algorithm, PublicKey};
use inkan_log::entry::{EntryKind, Outcome};
use inkan_server::auth::operators::OperatorRole;
use inkan_server::client::ProofKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const PIN: &str = "482913";
const SETTINGS: &str = "access_token_seconds = 1800\nidle_timeout_minutes = 60";

/// A holder with a key, and a signing application registered under dual control whose
/// redirect URI is a small HTTP server of the test.
struct World {
    h: Harness,
    alice: Account,
    key_id: String,
    jwk: Value,
    public: PublicKey,
    client_id: String,
    redirect: String,
}

/// `kind`: `issuer` for a person who signs hashes (CSC), `holder` for one who presents.
async fn world(engine: Engine, kind: &str) -> World {
    world_with(engine, kind, SETTINGS, None).await
}

/// [`world`] with `settings` (the `[auth]` section and what may follow it), the server's clock
/// moved to `clock_at` (Unix milliseconds) first when given.
async fn world_with(engine: Engine, kind: &str, settings: &str, clock_at: Option<i64>) -> World {
    let h = Harness::start(engine, settings).await;
    if let Some(at) = clock_at {
        h.clock
            .advance(at - inkan_server::clock::Clock::now(h.clock.as_ref()));
    }
    let (_, operator) = h.operator().await;
    let (_, alice) = h.subscriber(&operator, kind, "alice").await;
    let session = h.login(&alice).await;
    let (key_id, jwk) = key(&h, &session, "ES256", PIN).await;
    let public = inkan_formats::jose::public_key_from_jwk(&jwk).unwrap();
    let redirect = format!("http://127.0.0.1:{}/callback", callback_server().await);
    let asked = h
        .call(
            &operator,
            Method::POST,
            "/v1/approvals",
            Some(
                json!({"action": "oauth_client.register", "name": "Example Signing App",
                        "redirect_uris": [redirect]}),
            ),
        )
        .await;
    let done = h
        .approve_request(asked, OperatorRole::RaOfficer, None)
        .await;
    let client_id = done["result"]["client_id"].as_str().unwrap().to_owned();
    World {
        h,
        alice,
        key_id,
        jwk,
        public,
        client_id,
        redirect,
    }
}

/// A loopback HTTP server that answers every request with a short page: where the browser
/// lands with its code. Returns its port.
async fn callback_server() -> u16 {
    page_server("text/plain", "callback".into()).await
}

/// A loopback HTTP server that answers every request with `body`. Returns its port.
async fn page_server(content_type: &'static str, body: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    port
}

/// A PKCE pair: (verifier, S256 challenge).
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::try_from((i * 37 + usize::from(std::process::id() as u8)) % 251).unwrap();
    }
    let digest = Sha256::digest(format!("{:?}{bytes:?}", std::time::Instant::now()));
    digest.into()
}

/// The documents a test signs: (message, label).
const DOCUMENTS: [(&[u8], &str); 3] = [
    (b"contract: 100 yen", "Contract <No. 1>"),
    (b"annex: terms", "Annex & terms"),
    (b"something else", "Not approved"),
];

fn hash_of(message: &[u8]) -> Vec<u8> {
    Sha256::digest(message).to_vec()
}

/// The authorization URL of `w`'s client with PKCE `challenge` and `more` parameters.
fn authorize_with(w: &World, challenge: &str, more: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &w.client_id)
        .append_pair("redirect_uri", &w.redirect)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    for (name, value) in more {
        query.append_pair(name, value);
    }
    format!("{}/oauth2/authorize?{}", w.h.url, query.finish())
}

/// The authorization URL for the first two documents, with `authorization_details`.
fn authorize_url(w: &World, challenge: &str, extra: &str) -> String {
    let details = json!([{
        "type": "credential",
        "credentialID": w.key_id,
        "documentDigests": DOCUMENTS[..2].iter().map(|(m, label)| json!({
            "hash": STANDARD.encode(hash_of(m)), "label": label,
        })).collect::<Vec<_>>(),
        "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
    }]);
    let url = authorize_with(
        w,
        challenge,
        &[
            ("state", "st-42"),
            ("authorization_details", &details.to_string()),
        ],
    );
    format!("{url}{extra}")
}

/// The code and state of a redirect URL back to the client.
fn code_of(url: &str) -> (Option<String>, Option<String>, Option<String>) {
    let parsed = url::Url::parse(url).unwrap();
    let get = |name: &str| {
        parsed
            .query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    (get("code"), get("state"), get("error"))
}

/// `POST /oauth2/token` for `code` with a DPoP proof of `key`.
async fn exchange(w: &World, key: &ProofKey, code: &str, verifier: &str) -> reqwest::Response {
    let url = format!("{}/oauth2/token", w.h.url);
    let proof = key.dpop("POST", &url, None, w.h.now_seconds()).unwrap();
    w.h.http
        .post(&url)
        .header("DPoP", proof)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &w.client_id),
            ("redirect_uri", &w.redirect),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// A call with the credential token (`Authorization: DPoP`, a fresh proof).
async fn with_token(
    w: &World,
    key: &ProofKey,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let url = format!("{}{path}", w.h.url);
    let proof = key
        .dpop(method.as_str(), &url, Some(token), w.h.now_seconds())
        .unwrap();
    let mut request =
        w.h.http
            .request(method, &url)
            .header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn sign_hash(
    w: &World,
    key: &ProofKey,
    token: &str,
    documents: &[usize],
) -> reqwest::Response {
    let hashes: Vec<String> = documents
        .iter()
        .map(|&i| STANDARD.encode(hash_of(DOCUMENTS[i].0)))
        .collect();
    with_token(
        w,
        key,
        token,
        Method::POST,
        "/csc/v2/signatures/signHash",
        Some(json!({"credentialID": w.key_id, "hashes": hashes,
                    "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
                    "signAlgo": "1.2.840.10045.4.3.2"})),
    )
    .await
}

/// In Chromium: a person signs in with password and TOTP, sees the two documents (labels
/// escaped, digests, the key, the client), switches to Japanese, approves with the PIN and a
/// fresh OTP; the client exchanges the code and signs exactly those two hashes, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_approves_in_the_browser_and_the_client_signs_those_hashes() {
    let w = world(Engine::SqliteFile, "issuer").await;
    let browser = Browser::start().await;
    let (verifier, challenge) = pkce();
    browser.goto(&authorize_url(&w, &challenge, "")).await;
    let landed = browser
        .url_starting(&format!("{}/oauth2/consent/", w.h.url))
        .await;
    assert!(
        landed.contains("/oauth2/consent/oar_"),
        "{landed}: {}",
        browser.text().await
    );
    let text = browser.text_with("Sign in to Inkan").await;
    assert!(text.contains("Sign in to Inkan"), "{text}");
    assert!(text.contains("Example Signing App"), "{text}");
    browser.keep_screenshot("sign-in").await;

    w.h.next_step();
    browser.type_into("#username", &w.alice.username).await;
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#otp", &w.h.otp(&w.alice)).await;
    browser.click("button[type=submit]").await;
    let consent = browser.text_with("Approve a signature").await;
    assert!(consent.contains("Approve a signature"), "{consent}");
    for needle in [
        "Contract <No. 1>",
        "Annex & terms",
        w.key_id.as_str(),
        &URL_SAFE_NO_PAD.encode(hash_of(DOCUMENTS[0].0)),
        &URL_SAFE_NO_PAD.encode(hash_of(DOCUMENTS[1].0)),
        &w.redirect,
    ] {
        assert!(consent.contains(needle), "{needle} not in {consent}");
    }
    assert!(!consent.contains("Not approved"));
    browser.keep_screenshot("consent").await;

    // The same page in Japanese, by its switch.
    browser.click("p.lang a").await;
    let japanese = browser.text_with("署名の承認").await;
    assert!(japanese.contains("署名の承認"), "{japanese}");
    assert!(japanese.contains("Contract <No. 1>"), "{japanese}");
    browser.keep_screenshot("consent-ja").await;

    w.h.next_step();
    browser.type_into("#pin", PIN).await;
    browser.type_into("#otp", &w.h.otp(&w.alice)).await;
    browser.click("button[value=approve]").await;
    let back = browser.url_starting(&w.redirect).await;
    assert!(back.starts_with(&w.redirect), "{back}");
    let (code, state, error) = code_of(&back);
    assert_eq!((state.as_deref(), error), (Some("st-42"), None));
    browser.quit().await;

    let client_key = ProofKey::generate().unwrap();
    let tokens = exchange(&w, &client_key, &code.unwrap(), &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    let tokens: Value = tokens.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(tokens["scope"], "credential");
    assert_eq!(tokens["credentialID"], w.key_id.as_str());
    assert!(tokens.get("refresh_token").is_none());
    let token = tokens["access_token"].as_str().unwrap();

    let signed = sign_hash(&w, &client_key, token, &[0, 1]).await;
    assert_eq!(signed.status(), StatusCode::OK);
    let body: Value = signed.json().await.unwrap();
    let signatures = body["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 2);
    for (signature, (message, _)) in signatures.iter().zip(DOCUMENTS) {
        let raw = STANDARD.decode(signature.as_str().unwrap()).unwrap();
        w.public.verify(Algorithm::Es256, message, &raw).unwrap();
    }
    // Once.
    let again = sign_hash(&w, &client_key, token, &[0, 1]).await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN);

    // The log: sign-in, the activation under the SAD the code was exchanged for, the code,
    // the token, the signature.
    let entries = w.h.log_entries().await;
    let notes = |kind: EntryKind| {
        entries
            .iter()
            .filter(|e| e.kind == kind && e.outcome == Outcome::Succeeded)
            .map(|e| e.note.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert!(
        notes(EntryKind::Login)
            .iter()
            .any(|n| n == "browser session")
    );
    assert!(
        notes(EntryKind::SignatureActivated)
            .iter()
            .any(|n| n.contains("consent page") && n.contains(&w.client_id))
    );
    let issued = notes(EntryKind::TokenIssued);
    assert!(
        issued
            .iter()
            .any(|n| n.starts_with("OAuth2 credential token"))
    );
    assert!(
        entries
            .iter()
            .any(|e| e.kind == EntryKind::SignatureMade && e.outcome == Outcome::Succeeded)
    );
    w.h.stop().await;
}

/// An SD-JWT VC for `w`'s key (given and family name, birthdate; each disclosable), issued
/// by a new issuer organisation's system client: the credential and the issuer's public JWK.
async fn sd_jwt_for(w: &World) -> (String, Value) {
    let h = &w.h;
    let (_, operator) = h.operator().await;
    let (issuer, clerk) = h.subscriber(&operator, "issuer", "clerk").await;
    let clerk_session = h.login(&clerk).await;
    let (seal_key, seal_jwk) = key(h, &clerk_session, "ES256", "135791").await;
    let issuer_client = system_client(h, &operator, &issuer, &seal_key).await;
    let issued = h
        .call(&issuer_client, Method::POST, "/v1/credentials/sd-jwt", Some(json!({
            "credentialID": seal_key, "vct": "https://credentials.example.com/identity_credential",
            "claims": {"given_name": "Alice", "family_name": "Kato", "birthdate": "1990-01-01"},
            "disclosable": ["/given_name", "/family_name", "/birthdate"],
            "holderJwk": w.jwk,
        })))
        .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let credential = issued.json::<Value>().await.unwrap()["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    (credential, seal_jwk)
}

/// The wallet's preparation of `document` over the holder's own API session: the session and
/// `/v1/holder/prepare`'s answer.
async fn prepared_by_wallet(w: &World, document: &Value) -> (common::server::Session, Value) {
    let wallet = w.h.login(&w.alice).await;
    let prepared: Value =
        w.h.call(
            &wallet,
            Method::POST,
            "/v1/holder/prepare",
            Some(json!({"credentialID": w.key_id, "document": document})),
        )
        .await
        .json()
        .await
        .unwrap();
    (wallet, prepared)
}

/// In Chromium: a holder adds a passkey on the account page, signs in with it, sees on the
/// consent page the SD-JWT claims they disclose, the verifier and the nonce (as
/// `/v1/holder/prepare` summarised them), and approves with the PIN and a fresh OTP; the wallet exchanges the code and signs the presentation with the
/// token, which the OpenWallet Foundation's `@sd-jwt` verifies; the token signs it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_sees_the_disclosure_and_its_verifier_before_approving() {
    let w = world(Engine::SqliteFile, "holder").await;
    let h = &w.h;
    let (credential, seal_jwk) = sd_jwt_for(&w).await;
    let (verifier_url, nonce) = ("https://verifier.example", "n-7c1f0e2a");
    let document = json!({
        "format": "dc+sd-jwt", "credential": credential, "disclose": ["/given_name"],
        "audience": verifier_url, "nonce": nonce,
    });
    // The wallet prepares (here over the holder's own API session) and sends the holder to
    // Inkan's page with what the preparation said.
    let (_, prepared) = prepared_by_wallet(&w, &document).await;
    let details = json!([{
        "type": "credential", "credentialID": w.key_id,
        "documentDigests": [{"hash": prepared["hashes"][0], "label": "Presentation to a verifier"}],
        "hashAlgorithmOID": prepared["hashAlgorithmOID"],
        "presentation": {"format": prepared["format"], "issuedAt": prepared["issuedAt"],
                         "summary": prepared["summary"]},
    }]);
    // The wallet pushes the request (RFC 9126: a presentation's summary is long) and sends
    // the holder with its request_uri alone.
    let (verifier, challenge) = pkce();
    let pushed =
        w.h.http
            .post(format!("{}/oauth2/par", h.url))
            .form(&[
                ("response_type", "code"),
                ("client_id", w.client_id.as_str()),
                ("redirect_uri", w.redirect.as_str()),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("authorization_details", &details.to_string()),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let pushed: Value = pushed.json().await.unwrap();
    assert_eq!(pushed["expires_in"], 600);
    let request_uri = pushed["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let authorize = format!(
        "{}/oauth2/authorize?{}",
        h.url,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &w.client_id)
            .append_pair("request_uri", request_uri)
            .finish()
    );
    // The holder's device: a platform authenticator with user verification.
    let browser = Browser::start_trusting(Some(&h.server_cert)).await;
    let device = browser.add_virtual_authenticator().await;
    // Once, on the account page: sign in with password and TOTP, add a passkey with a fresh
    // one-time password, sign out.
    browser.goto(&format!("{}/account", h.url)).await;
    h.next_step();
    browser.type_into("#username", &w.alice.username).await;
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#otp", &h.otp(&w.alice)).await;
    browser.click("button[type=submit]").await;
    browser.text_with("Add a passkey").await;
    h.next_step();
    browser.type_into("#name", "Alice's laptop").await;
    browser.type_into("#otp", &h.otp(&w.alice)).await;
    browser.click("#passkey-add button[type=submit]").await;
    let account = browser.text_with("Alice's laptop").await;
    assert!(account.contains("Alice's laptop"), "{account}");
    assert_eq!(browser.authenticator_credentials(&device).await.len(), 1);
    browser.keep_screenshot("account-passkeys").await;
    browser.click("button.quiet").await;
    browser.text_with("Signed out").await;

    // The request: signed in with the passkey alone (it verifies the user on the device).
    browser.goto(&authorize).await;
    browser.wait_for("#passkey-sign-in:not([hidden])").await;
    browser.click("#passkey-sign-in button").await;
    let consent = browser.text_with("Disclosed claims").await;
    for shown in [
        "Disclosed claims",
        "/given_name",
        "Verifier",
        verifier_url,
        nonce,
        "dc+sd-jwt",
    ] {
        assert!(consent.contains(shown), "{shown} not in {consent}");
    }
    assert!(!consent.contains("/birthdate"), "{consent}");
    browser.keep_screenshot("consent-presentation").await;
    h.next_step();
    browser.type_into("#pin", PIN).await;
    browser.type_into("#otp", &h.otp(&w.alice)).await;
    browser.click("button[value=approve]").await;
    let (code, _, error) = code_of(&browser.url_starting(&w.redirect).await);
    assert_eq!(error, None);
    browser.quit().await;

    let client_key = ProofKey::generate().unwrap();
    let tokens: Value = exchange(&w, &client_key, &code.unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let sign = |document: Value| {
        with_token(
            &w,
            &client_key,
            token,
            Method::POST,
            "/v1/holder/sign",
            Some(json!({
                "credentialID": w.key_id, "document": document, "issuedAt": prepared["issuedAt"],
            })),
        )
    };
    let signed = sign(document.clone()).await;
    assert_eq!(signed.status(), StatusCode::OK);
    let presented = signed.json::<Value>().await.unwrap()["document"]
        .as_str()
        .unwrap()
        .to_owned();
    let work = tempfile::tempdir().unwrap();
    let (token_file, jwk_file) = (work.path().join("sd.txt"), work.path().join("issuer.jwk"));
    std::fs::write(&token_file, &presented).unwrap();
    std::fs::write(&jwk_file, seal_jwk.to_string()).unwrap();
    let verified = node(
        interop("jose").join("verify.mjs"),
        &[
            "sd-jwt",
            token_file.to_str().unwrap(),
            jwk_file.to_str().unwrap(),
            "--nonce",
            nonce,
            "--aud",
            verifier_url,
        ],
    );
    assert!(
        verified.as_ref().is_ok_and(|out| out.contains("Alice")),
        "{verified:?}"
    );
    assert!(!verified.unwrap().contains("1990-01-01"));
    // The sign-in was the passkey's, logged as such.
    let entries = h.log_entries().await;
    assert!(
        entries
            .iter()
            .any(|e| e.kind == EntryKind::PasskeyChanged && e.outcome == Outcome::Succeeded)
    );
    assert!(entries.iter().any(|e| e.kind == EntryKind::Login
        && e.outcome == Outcome::Succeeded
        && e.actor.auth.method.starts_with("web:passkey:pk_")));
    // Once.
    assert_eq!(sign(document).await.status(), StatusCode::FORBIDDEN);
    w.h.stop().await;
}

/// A presentation approved on the page signs only the disclosure it showed. A wallet that
/// shows the holder another summary than its document's (here: another verifier) with the
/// document's own hash gets a token that signs nothing; and a holder's key is never authorised
/// for a bare hash, which a wallet could have taken from a presentation disclosing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_presentation_approved_on_the_page_signs_nothing_else() {
    let w = world(Engine::SqliteFile, "holder").await;
    let h = &w.h;
    let (credential, _) = sd_jwt_for(&w).await;
    let document = json!({
        "format": "dc+sd-jwt", "credential": credential, "disclose": ["/given_name", "/birthdate"],
        "audience": "https://verifier.example", "nonce": "n-1",
    });
    let (wallet, prepared) = prepared_by_wallet(&w, &document).await;
    let mut pages = Pages::new(&w);

    // The bare hash, labelled as something harmless: refused at approval.
    let bare = json!([{
        "type": "credential", "credentialID": w.key_id,
        "documentDigests": [{"hash": prepared["hashes"][0], "label": "Proof of age to a shop"}],
    }]);
    let (_, challenge) = pkce();
    let path = pages
        .signed_in(&authorize_with(
            &w,
            &challenge,
            &[("authorization_details", &bare.to_string())],
        ))
        .await;
    let page = pages.get(&path).await;
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(page.text().await.unwrap().contains("presentations only"));
    let refused = pages.approve(&path, PIN, None).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("presentations only"));
    let logged = h.log_entries().await.into_iter().any(|e| {
        e.kind == EntryKind::SignatureActivated
            && e.outcome == Outcome::Failed("a holder's key signs presentations only".into())
    });
    assert!(logged, "the refusal is logged");

    // The document's hash with another verifier in the summary shown.
    let mut shown = prepared["summary"].clone();
    shown["audience"] = json!("https://trusted-shop.example");
    let details = json!([{
        "type": "credential", "credentialID": w.key_id,
        "documentDigests": [{"hash": prepared["hashes"][0]}],
        "presentation": {"format": "dc+sd-jwt", "issuedAt": prepared["issuedAt"],
                         "summary": shown},
    }]);
    let (verifier, challenge) = pkce();
    let authorize = authorize_with(
        &w,
        &challenge,
        &[("authorization_details", &details.to_string())],
    );
    let path = pages.signed_in(&authorize).await;
    let page = pages.get(&path).await.text().await.unwrap();
    assert!(
        page.contains("https://trusted-shop.example") && !page.contains("https://verifier.example")
    );
    let approved = pages.approve(&path, PIN, None).await;
    let (code, _, _) = code_of(approved.headers()["location"].to_str().unwrap());
    let client_key = ProofKey::generate().unwrap();
    let tokens: Value = exchange(&w, &client_key, &code.unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    let signed = with_token(
        &w,
        &client_key,
        tokens["access_token"].as_str().unwrap(),
        Method::POST,
        "/v1/holder/sign",
        Some(json!({
            "credentialID": w.key_id, "document": document, "issuedAt": prepared["issuedAt"],
        })),
    )
    .await;
    assert_eq!(signed.status(), StatusCode::FORBIDDEN);
    let why = signed.text().await.unwrap();
    assert!(
        why.contains("not given for what this presentation discloses"),
        "{why}"
    );
    // Nor is a presentation signed dated an hour off, whatever SAD comes with it.
    let later = h
        .call(
            &wallet,
            Method::POST,
            "/v1/holder/sign",
            Some(json!({
                "credentialID": w.key_id, "document": document,
                "issuedAt": prepared["issuedAt"].as_i64().unwrap() + 3600, "SAD": "inkan_sad_x",
            })),
        )
        .await;
    assert_eq!(later.status(), StatusCode::BAD_REQUEST);
    assert!(later.text().await.unwrap().contains("issuedAt"));
    let entries = h.log_entries().await;
    assert!(
        !entries.iter().any(|e| e.kind == EntryKind::SignatureMade
            && e.key_id.as_deref() == Some(w.key_id.as_str()))
    );
    w.h.stop().await;
}

/// In Chromium: the consent page will not show inside a frame (`frame-ancestors 'none'`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_consent_page_refuses_to_be_framed() {
    let w = world(Engine::SqliteFile, "issuer").await;
    let (_, challenge) = pkce();
    let page = no_redirects(&w)
        .get(authorize_url(&w, &challenge, ""))
        .send()
        .await
        .unwrap();
    let location = page.headers()["location"].to_str().unwrap().to_owned();
    let framed = format!("{}{location}", w.h.url);
    // Another site (another origin on this machine) frames the page, and beside it a page of
    // Inkan that may be framed (`/health`): the control that shows frames load at all.
    let framer = page_server(
        "text/html",
        format!(
            "<!DOCTYPE html><h1>outer</h1><iframe id=\"control\" src=\"{}/health\"></iframe>\
             <iframe id=\"consent\" src=\"{framed}\"></iframe>",
            w.h.url
        ),
    )
    .await;
    let browser = Browser::start().await;
    browser.goto(&format!("http://127.0.0.1:{framer}/")).await;
    // Waits (at most ten seconds) until the frame `css` has loaded something, and returns its
    // HTML.
    let loaded = |css: &'static str| {
        let browser = &browser;
        async move {
            for _ in 0..100 {
                assert!(browser.enter_frame(css).await);
                let source = browser.source().await;
                browser.leave_frame().await;
                if source.contains("status")
                    || source.contains("username")
                    || source.contains("ERR_")
                {
                    return source;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the frame {css} never loaded");
        }
    };
    let control = loaded("#control").await;
    assert!(
        control.contains("status") && !control.contains("ERR_"),
        "{control}"
    );
    let consent = loaded("#consent").await;
    assert!(
        !consent.contains("username"),
        "the page rendered in a frame"
    );
    assert!(consent.contains("ERR_BLOCKED_BY"), "{consent}");
    // The same page on its own renders.
    browser.goto(&framed).await;
    assert!(browser.find("#username").await.is_some());
    browser.quit().await;
    w.h.stop().await;
}

/// The API reference (`/docs`, issue 19 point 2) renders the OpenAPI document in a real
/// browser from Inkan alone: Redoc is served by Inkan, and the page's policy lets nothing else
/// load (its Content-Security-Policy names only `'self'`, `data:` and a `blob:` worker).
#[tokio::test]
async fn the_api_reference_renders_from_inkan_alone() {
    let w = world(Engine::SqliteFile, "issuer").await;
    let page = no_redirects(&w)
        .get(format!("{}/docs", w.h.url))
        .send()
        .await
        .unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self';"));
    assert!(!policy.contains("http"), "{policy}");
    let browser = Browser::start().await;
    browser.goto(&format!("{}/docs", w.h.url)).await;
    let text = browser.text_with("/csc/v2/signatures/signHash").await;
    assert!(text.contains("/csc/v2/signatures/signHash"), "{text}");
    assert!(
        text.contains("SignHashResponse") || text.contains("logIndex"),
        "{text}"
    );
    browser.keep_screenshot("api-reference").await;
    browser.quit().await;
    w.h.stop().await;
}

/// A client that does not follow redirects (to read where the pages send the browser), with
/// the test server's certificate.
fn no_redirects(w: &World) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&w.h.server_cert).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The pages over plain HTTPS, as a browser would send them: cookies kept by hand.
struct Pages<'a> {
    w: &'a World,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'a> Pages<'a> {
    fn new(w: &'a World) -> Self {
        Pages {
            w,
            http: no_redirects(w),
            cookies: Vec::new(),
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
                assert!(set.contains(attribute), "{set}");
            }
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            assert!(name.starts_with("__Host-"));
            self.cookies.retain(|(n, _)| n != name);
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.w.h.url)
        } else {
            url.to_owned()
        };
        let response = self
            .http
            .get(url)
            .header("Cookie", self.header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .post(format!("{}{path}", self.w.h.url))
            .header("Cookie", self.header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// Starts a request and signs in: the request's page path.
    async fn signed_in(&mut self, url: &str) -> String {
        let started = self.get(url).await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let page = started.headers()["location"].to_str().unwrap().to_owned();
        let path = page.split('?').next().unwrap().to_owned();
        let sign_in = self.get(&page).await;
        assert_eq!(sign_in.status(), StatusCode::OK);
        self.w.h.next_step();
        let csrf = self.cookie("__Host-inkan_csrf").unwrap().to_owned();
        let otp = self.w.h.otp(&self.w.alice);
        let signed = self
            .post(
                &format!("{path}/sign-in"),
                &[
                    ("csrf", &csrf),
                    ("username", &self.w.alice.username.clone()),
                    ("password", PASSWORD),
                    ("otp", &otp),
                ],
            )
            .await;
        assert_eq!(signed.status(), StatusCode::SEE_OTHER);
        path
    }

    /// Signs alice in on `/account` (password and a fresh OTP): the CSRF value.
    async fn account_signed_in(&mut self) -> String {
        assert_eq!(self.get("/account").await.status(), StatusCode::OK);
        self.w.h.next_step();
        let csrf = self.cookie("__Host-inkan_csrf").unwrap().to_owned();
        let otp = self.w.h.otp(&self.w.alice);
        let signed = self
            .post(
                "/account/sign-in",
                &[
                    ("csrf", &csrf),
                    ("username", &self.w.alice.username.clone()),
                    ("password", PASSWORD),
                    ("otp", &otp),
                ],
            )
            .await;
        assert_eq!(signed.status(), StatusCode::SEE_OTHER);
        csrf
    }

    /// Approves with `pin` and a fresh OTP (`csrf` as given).
    async fn approve(&mut self, path: &str, pin: &str, csrf: Option<&str>) -> reqwest::Response {
        self.w.h.next_step();
        let csrf = csrf
            .map(str::to_owned)
            .unwrap_or_else(|| self.cookie("__Host-inkan_csrf").unwrap().to_owned());
        let otp = self.w.h.otp(&self.w.alice);
        self.post(
            path,
            &[
                ("csrf", &csrf),
                ("decision", "approve"),
                ("pin", pin),
                ("otp", &otp),
            ],
        )
        .await
    }
}

/// The rules of the pages, the code and the credential token, on every engine.
async fn page_rules(engine: Engine) {
    let w = world(engine, "issuer").await;
    let h = &w.h;

    // An unknown redirect URI is refused on Inkan's page, never followed.
    let (verifier, challenge) = pkce();
    let mut pages = Pages::new(&w);
    let url = authorize_url(&w, &challenge, "").replace(
        &url::form_urlencoded::byte_serialize(w.redirect.as_bytes()).collect::<String>(),
        "https%3A%2F%2Fevil.example%2Fcb",
    );
    let refused = pages.get(&url).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("redirect_uri"));
    // Without PKCE: sent back with invalid_request and the state.
    let plain = authorize_url(&w, &challenge, "")
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let back = pages.get(&plain).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let (code, state, error) = code_of(back.headers()["location"].to_str().unwrap());
    assert_eq!(
        (code, state.as_deref(), error.as_deref()),
        (None, Some("st-42"), Some("invalid_request"))
    );

    // Pushed requests (RFC 9126): refusals are JSON; a request_uri works only for its client.
    let par = |form: Vec<(&'static str, String)>| {
        let http = h.http.clone();
        let url = format!("{}/oauth2/par", h.url);
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    let no_pkce = par(vec![
        ("response_type", "code".into()),
        ("client_id", w.client_id.clone()),
        ("redirect_uri", w.redirect.clone()),
        ("scope", "service".into()),
    ])
    .await;
    assert_eq!(no_pkce.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        no_pkce.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let pushed: Value = par(vec![
        ("response_type", "code".into()),
        ("client_id", w.client_id.clone()),
        ("redirect_uri", w.redirect.clone()),
        ("scope", "service".into()),
        ("code_challenge", challenge.clone()),
        ("code_challenge_method", "S256".into()),
    ])
    .await
    .json()
    .await
    .unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap();
    let by_uri = |client: &str| {
        format!(
            "{}/oauth2/authorize?{}",
            h.url,
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", client)
                .append_pair("request_uri", request_uri)
                .finish()
        )
    };
    assert_eq!(
        pages.get(&by_uri("oac_another")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        pages.get(&by_uri(&w.client_id)).await.status(),
        StatusCode::SEE_OTHER
    );

    // A page carries the security headers.
    let path = pages.signed_in(&authorize_url(&w, &challenge, "")).await;
    let page = pages.get(&path).await;
    let headers = page.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(
        csp.contains(&format!(
            "form-action 'self' {}",
            w.redirect.trim_end_matches("/callback")
        )),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Contract &lt;No. 1&gt;") && !html.contains("<No. 1>"),
        "escaped"
    );
    assert!(!html.contains("<script"));

    // Without the CSRF value (or with another) nothing is decided.
    let forged = pages
        .approve(&path, PIN, Some("x".repeat(43).as_str()))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A wrong PIN: the page again, refused, and the request still waits.
    let wrong = pages.approve(&path, "000000", None).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("PIN or the one-time password is wrong")
    );
    let approved = pages.approve(&path, PIN, None).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let (code, _, _) = code_of(approved.headers()["location"].to_str().unwrap());
    let code = code.unwrap();
    // Decided once.
    let twice = pages.approve(&path, PIN, None).await;
    assert_eq!(twice.status(), StatusCode::NOT_FOUND);

    // The code: the wrong verifier is refused, the right one works once.
    let client_key = ProofKey::generate().unwrap();
    let (other_verifier, _) = pkce();
    let wrong = exchange(&w, &client_key, &code, &other_verifier).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let with_secret =
        w.h.http
            .post(format!("{}/oauth2/token", h.url))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_secret", "s"),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(with_secret.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        with_secret.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let tokens: Value = exchange(&w, &client_key, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();

    // The credential token reaches nothing but signing; without its DPoP key it is nothing.
    let keys = with_token(&w, &client_key, &token, Method::GET, "/v1/keys", None).await;
    assert_eq!(keys.status(), StatusCode::FORBIDDEN);
    let thief = ProofKey::generate().unwrap();
    assert_eq!(
        sign_hash(&w, &thief, &token, &[0, 1]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The code presented again: refused, and the session it gave ends (RFC 6749 4.1.2).
    let reused = exchange(&w, &client_key, &code, &verifier).await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        sign_hash(&w, &client_key, &token, &[0, 1]).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Once more, for a hash nobody approved.
    let (verifier, challenge) = pkce();
    let path = pages.signed_in(&authorize_url(&w, &challenge, "")).await;
    let approved = pages.approve(&path, PIN, None).await;
    let (code, _, _) = code_of(approved.headers()["location"].to_str().unwrap());
    let tokens: Value = exchange(&w, &client_key, &code.unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    // A hash nobody approved is refused (and the SAD is used up by the attempt).
    let third = sign_hash(&w, &client_key, &token, &[0, 2]).await;
    assert_eq!(third.status(), StatusCode::FORBIDDEN);
    assert!(third.text().await.unwrap().contains("does not cover"));
    assert_eq!(
        sign_hash(&w, &client_key, &token, &[0, 1]).await.status(),
        StatusCode::FORBIDDEN
    );

    // A browser session's cookie is no API token.
    let session = pages.cookie("__Host-inkan_session").unwrap().to_owned();
    let me = h
        .http
        .get(format!("{}/v1/me", h.url))
        .header("Authorization", format!("Bearer {session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    // Nor is an API token a page cookie: the page asks to sign in.
    let api = h.login(&w.alice).await;
    let (_, challenge) = pkce();
    let mut stranger = Pages::new(&w);
    let started = stranger.get(&authorize_url(&w, &challenge, "")).await;
    let page = started.headers()["location"].to_str().unwrap().to_owned();
    stranger
        .cookies
        .push(("__Host-inkan_session".into(), api.access.clone()));
    let shown = stranger.get(&page).await.text().await.unwrap();
    assert!(shown.contains("Sign in to Inkan"), "{shown}");

    // scope=service: a session of the person, bound to the client's DPoP key.
    let (verifier, challenge) = pkce();
    let authorize = authorize_with(&w, &challenge, &[("scope", "service")]);
    // Handing over a session takes a sign-in for this request: the browser's session from
    // an earlier request gets the sign-in page, not the consent.
    let earlier = pages.get(&authorize).await;
    let earlier = earlier.headers()["location"].to_str().unwrap().to_owned();
    let shown = pages.get(&earlier).await.text().await.unwrap();
    assert!(shown.contains("Sign in to Inkan"), "{shown}");
    let path = pages.signed_in(&authorize).await;
    let csrf = pages.cookie("__Host-inkan_csrf").unwrap().to_owned();
    let approved = pages
        .post(&path, &[("csrf", &csrf), ("decision", "approve")])
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let (code, _, _) = code_of(approved.headers()["location"].to_str().unwrap());
    let tokens: Value = exchange(&w, &client_key, &code.unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["scope"], "service");
    assert!(tokens["refresh_token"].is_string());
    let me = with_token(
        &w,
        &client_key,
        tokens["access_token"].as_str().unwrap(),
        Method::GET,
        "/v1/me",
        None,
    )
    .await;
    assert_eq!(me.status(), StatusCode::OK);
    // RFC 7009: the token ends its session; an unknown token is answered the same.
    let service_token = tokens["access_token"].as_str().unwrap();
    for token in [service_token, "inkan_at_test_unknown"] {
        let revoked = h
            .http
            .post(format!("{}/oauth2/revoke", h.url))
            .form(&[("token", token), ("client_id", &w.client_id)])
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), StatusCode::OK);
    }
    let me = with_token(&w, &client_key, service_token, Method::GET, "/v1/me", None).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    // Discovery: RFC 8414 metadata and CSC info name the endpoints.
    let metadata: Value = h
        .http
        .get(format!("{}/.well-known/oauth-authorization-server", h.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{}/oauth2/authorize", h.url)
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    let info = h.csc_info().await;
    assert!(
        info["authType"]
            .as_array()
            .unwrap()
            .contains(&json!("oauth2code"))
    );

    // Declined: the client hears access_denied.
    let (_, challenge) = pkce();
    let path = pages.signed_in(&authorize_url(&w, &challenge, "")).await;
    let csrf = pages.cookie("__Host-inkan_csrf").unwrap().to_owned();
    let declined = pages
        .post(&path, &[("csrf", &csrf), ("decision", "deny")])
        .await;
    let (code, _, error) = code_of(declined.headers()["location"].to_str().unwrap());
    assert_eq!((code, error.as_deref()), (None, Some("access_denied")));

    // Signing out ends the browser session and clears its cookie.
    let csrf = pages.cookie("__Host-inkan_csrf").unwrap().to_owned();
    let out = pages.post("/oauth2/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(pages.cookie("__Host-inkan_session"), Some(""));

    // Ending the client (dual control) ends the sessions its codes gave and its requests.
    let (verifier, challenge) = pkce();
    let authorize = authorize_with(&w, &challenge, &[("scope", "service")]);
    let path = pages.signed_in(&authorize).await;
    let csrf = pages.cookie("__Host-inkan_csrf").unwrap().to_owned();
    let approved = pages
        .post(&path, &[("csrf", &csrf), ("decision", "approve")])
        .await;
    let (code, _, _) = code_of(approved.headers()["location"].to_str().unwrap());
    let tokens: Value = exchange(&w, &client_key, &code.unwrap(), &verifier)
        .await
        .json()
        .await
        .unwrap();
    let service_token = tokens["access_token"].as_str().unwrap();
    // A key's PIN changed on the account page (issue 18 point 2): the current PIN and a fresh
    // one-time password, one counted attempt; the new PIN then approves, the old one no longer.
    let mut account = Pages::new(&w);
    let csrf = account.account_signed_in().await;
    let page = account.get("/account").await.text().await.unwrap();
    assert!(
        page.contains("Signing PINs") && page.contains(&w.key_id),
        "{page}"
    );
    const NEW_PIN: &str = "731955";
    // A change with `pin` as the current PIN and `csrf`, with a fresh OTP.
    let change = |pin: &str, csrf: &str| {
        w.h.next_step();
        let form = [
            ("csrf", csrf.to_owned()),
            ("key", w.key_id.clone()),
            ("pin", pin.to_owned()),
            ("new_pin", NEW_PIN.to_owned()),
            ("otp", w.h.otp(&w.alice)),
        ];
        account
            .http
            .post(format!("{}/account/pin", w.h.url))
            .header("Cookie", account.header())
            .form(&form)
            .send()
    };
    let wrong_pin = change("000000", &csrf).await.unwrap();
    assert_eq!(wrong_pin.status(), StatusCode::FORBIDDEN);
    let no_csrf = change(PIN, "not-the-cookie-value-but-long-enough-123")
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let changed = change(PIN, &csrf).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert!(
        changed
            .text()
            .await
            .unwrap()
            .contains("The PIN was changed.")
    );
    let (_, challenge) = pkce();
    let path = pages.signed_in(&authorize_url(&w, &challenge, "")).await;
    assert_eq!(
        pages.approve(&path, PIN, None).await.status(),
        StatusCode::FORBIDDEN
    );
    let approved = pages.approve(&path, NEW_PIN, None).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert!(
        approved.headers()["location"]
            .to_str()
            .unwrap()
            .contains("code=")
    );

    let (_, operator) = h.operator().await;
    let asked = h
        .call(
            &operator,
            Method::POST,
            "/v1/approvals",
            Some(
                json!({"action": "oauth_client.revoke", "client": w.client_id,
                        "reason": "the application was withdrawn"}),
            ),
        )
        .await;
    let done = h
        .approve_request(asked, OperatorRole::RaOfficer, None)
        .await;
    assert!(
        done["result"]["sessionsRevoked"].as_u64().unwrap() >= 1,
        "{done}"
    );
    let me = with_token(&w, &client_key, service_token, Method::GET, "/v1/me", None).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let refused = pages.get(&authorize).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    w.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_rules_sqlite() {
    page_rules(Engine::SqliteFile).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_rules_postgres() {
    page_rules(Engine::Postgres).await;
}

/// An authenticator in software (a P-256 key), answering WebAuthn ceremonies as a browser
/// would hand them to the pages: what the passkey rules are tested against over HTTPS.
struct SoftAuthenticator {
    pair: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
    counter: u32,
}

impl SoftAuthenticator {
    fn new() -> Self {
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        SoftAuthenticator {
            pair,
            rng,
            counter: 0,
        }
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": URL_SAFE_NO_PAD.encode(challenge.as_bytes()),
               "origin": origin, "crossOrigin": false})
        .to_string()
        .into_bytes()
    }

    fn authenticator_data(&self, attested: bool) -> Vec<u8> {
        use ring::signature::KeyPair as _;
        let mut data = Sha256::digest(b"localhost").to_vec();
        data.push(0x01 | 0x04 | if attested { 0x40 } else { 0 });
        data.extend(self.counter.to_be_bytes());
        if attested {
            let point = self.pair.public_key().as_ref();
            let int = |i: i64| ciborium::Value::Integer(i.into());
            let key = ciborium::Value::Map(vec![
                (int(1), int(2)),
                (int(3), int(-7)),
                (int(-1), int(1)),
                (int(-2), ciborium::Value::Bytes(point[1..33].to_vec())),
                (int(-3), ciborium::Value::Bytes(point[33..].to_vec())),
            ]);
            data.extend([0u8; 16]);
            data.extend(6u16.to_be_bytes());
            data.extend(b"soft-1");
            ciborium::into_writer(&key, &mut data).unwrap();
        }
        data
    }

    /// `navigator.credentials.create`: (clientDataJSON, attestationObject), base64url.
    fn create(&self, challenge: &str, origin: &str) -> (String, String) {
        let object = ciborium::Value::Map(vec![
            ("fmt".into(), "none".into()),
            ("attStmt".into(), ciborium::Value::Map(vec![])),
            (
                "authData".into(),
                ciborium::Value::Bytes(self.authenticator_data(true)),
            ),
        ]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&object, &mut bytes).unwrap();
        (
            URL_SAFE_NO_PAD.encode(Self::client_data("webauthn.create", challenge, origin)),
            URL_SAFE_NO_PAD.encode(bytes),
        )
    }

    /// `navigator.credentials.get`: (clientDataJSON, authenticatorData, signature), base64url.
    fn get(&self, challenge: &str, origin: &str) -> (String, String, String) {
        let client = Self::client_data("webauthn.get", challenge, origin);
        let data = self.authenticator_data(false);
        let signed = [data.as_slice(), &Sha256::digest(&client)[..]].concat();
        let signature = self.pair.sign(&self.rng, &signed).unwrap();
        (
            URL_SAFE_NO_PAD.encode(client),
            URL_SAFE_NO_PAD.encode(data),
            URL_SAFE_NO_PAD.encode(signature.as_ref()),
        )
    }
}

/// Posts a form of owned values.
async fn post_owned(
    pages: &mut Pages<'_>,
    path: &str,
    form: &[(&'static str, String)],
) -> reqwest::Response {
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
    pages.post(path, &form).await
}

/// In a page, the form whose id is `form`: its `data-challenge` and its `sealed` field.
fn ceremony_of(html: &str, form: &str) -> (String, String) {
    let at = html
        .find(&format!("id=\"{form}\""))
        .unwrap_or_else(|| panic!("no form {form} in {html}"));
    let rest = &html[at..];
    let value_after = |marker: &str| {
        let from = rest.find(marker).unwrap() + marker.len();
        rest[from..from + rest[from..].find('"').unwrap()].to_owned()
    };
    (
        value_after("data-challenge=\""),
        value_after("name=\"sealed\" value=\""),
    )
}

/// The passkey rules over HTTPS, with an authenticator in software: adding needs a fresh OTP
/// and a challenge of this session, used once; a sign-in's challenge is used once; a counter
/// that does not rise is refused; removal ends the sessions the passkey started.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passkey_rules_hold_over_https() {
    let w = world(Engine::SqliteFile, "holder").await;
    let h = &w.h;
    let origin = h.url.clone();
    let mut pages = Pages::new(&w);
    pages.account_signed_in().await;
    let mut device = SoftAuthenticator::new();
    let add_form = |csrf: String, sealed: String, challenge: &str, otp: String| {
        let (client, attestation) = device.create(challenge, &origin);
        vec![
            ("csrf", csrf),
            ("name", "Soft".to_owned()),
            ("otp", otp),
            ("sealed", sealed),
            ("client_data", client),
            ("attestation_object", attestation),
        ]
    };
    let page = pages.get("/account").await.text().await.unwrap();
    let (challenge, sealed) = ceremony_of(&page, "passkey-add");
    // A wrong one-time password: refused, nothing added, and the challenge is spent.
    h.next_step();
    let csrf = pages.cookie("__Host-inkan_csrf").unwrap().to_owned();
    let form = add_form(csrf.clone(), sealed.clone(), &challenge, "000000".into());
    let wrong = post_owned(&mut pages, "/account/passkeys", &form).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let form = add_form(csrf.clone(), sealed.clone(), &challenge, h.otp(&w.alice));
    let again = post_owned(&mut pages, "/account/passkeys", &form).await;
    assert_eq!(
        again.status(),
        StatusCode::BAD_REQUEST,
        "a challenge is used once"
    );
    let page = pages.get("/account").await.text().await.unwrap();
    assert!(!page.contains("<td>Soft</td>"));
    let (challenge, sealed) = ceremony_of(&page, "passkey-add");
    let form = add_form(csrf.clone(), sealed, &challenge, h.otp(&w.alice));
    let added = post_owned(&mut pages, "/account/passkeys", &form).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let page = pages.get("/account").await.text().await.unwrap();
    assert!(page.contains("<td>Soft</td>"), "{page}");

    // Sign in with it, in a browser of its own.
    let mut other = Pages::new(&w);
    let sign_in_form = |csrf: String, page: &str, device: &SoftAuthenticator| {
        let (challenge, sealed) = ceremony_of(page, "passkey-sign-in");
        let (client, data, signature) = device.get(&challenge, &origin);
        vec![
            ("csrf", csrf),
            ("sealed", sealed),
            ("credential_id", URL_SAFE_NO_PAD.encode(b"soft-1")),
            ("client_data", client),
            ("authenticator_data", data),
            ("signature", signature),
        ]
    };
    let page = other.get("/account").await.text().await.unwrap();
    let other_csrf = other.cookie("__Host-inkan_csrf").unwrap().to_owned();
    device.counter = 1;
    let form = sign_in_form(other_csrf.clone(), &page, &device);
    let first = post_owned(&mut other, "/account/passkey", &form).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let session = other.cookie("__Host-inkan_session").unwrap().to_owned();
    // The same challenge again: refused.
    let replayed = post_owned(&mut other, "/account/passkey", &form).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    // A fresh challenge, but a counter that did not rise: refused.
    let mut third = Pages::new(&w);
    let page = third.get("/account").await.text().await.unwrap();
    let third_csrf = third.cookie("__Host-inkan_csrf").unwrap().to_owned();
    let form = sign_in_form(third_csrf, &page, &device);
    let stale = post_owned(&mut third, "/account/passkey", &form).await;
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);

    // Removing the passkey ends the session it started.
    other.cookies.retain(|(n, _)| n != "__Host-inkan_session");
    other
        .cookies
        .push(("__Host-inkan_session".into(), session.clone()));
    assert!(
        other
            .get("/account")
            .await
            .text()
            .await
            .unwrap()
            .contains("Add a passkey")
    );
    let page = pages.get("/account").await.text().await.unwrap();
    let from = page.find("/account/passkeys/pk_").unwrap() + "/account/passkeys/".len();
    let id = page[from..from + page[from..].find("/remove").unwrap()].to_owned();
    let csrf = pages.cookie("__Host-inkan_csrf").unwrap().to_owned();
    let removed = pages
        .post(
            &format!("/account/passkeys/{id}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert!(
        !other
            .get("/account")
            .await
            .text()
            .await
            .unwrap()
            .contains("Add a passkey")
    );
    w.h.stop().await;
}

/// An OpenID provider started by the test: npm `oidc-provider` (`interop/oidc/provider.mjs`)
/// on a loopback HTTPS port, its certificate issued by a CA of the test.
struct OpenIdProvider {
    child: std::process::Child,
    lines: std::io::BufReader<std::process::ChildStdout>,
    issuer: String,
    dir: tempfile::TempDir,
}

impl OpenIdProvider {
    const CLIENT: &'static str = "inkan-pages";
    const SECRET: &'static str = "a client secret of the test, 32+ characters long";

    fn start() -> OpenIdProvider {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Test IdP CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &rcgen::Issuer::from_params(&ca_params, &ca_key))
            .unwrap();
        let write = |name: &str, text: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        write("ca.pem", ca.pem());
        write("secret", Self::SECRET.into());
        let key = write("idp.key", leaf_key.serialize_pem());
        let cert = write("idp.pem", leaf.pem());
        let mut child = std::process::Command::new("node")
            .arg(interop("oidc").join("provider.mjs"))
            .args([&key, &cert, Self::CLIENT, Self::SECRET])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("node (Node.js 20) must be installed");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        let started: Value = serde_json::from_str(&first).unwrap();
        OpenIdProvider {
            child,
            lines,
            issuer: started["issuer"].as_str().unwrap().to_owned(),
            dir,
        }
    }

    /// The `[[identity_providers]]` entry naming it, with the levels `acr_values`.
    fn settings(&self) -> String {
        let d = self.dir.path().display();
        format!(
            "\n[[identity_providers]]\nid = \"test-idp\"\nname = \"Test IdP\"\n\
             issuer = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"{d}/secret\"\n\
             acr_values = [\"urn:inkan:test:high\"]\nca_files = [\"{d}/ca.pem\"]\n",
            self.issuer,
            Self::CLIENT
        )
    }

    /// Registers Inkan's callback as the client's redirect URI; the provider then serves.
    fn serve(&mut self, inkan: &str) {
        use std::io::{BufRead as _, Write as _};
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{inkan}/oauth2/federation/test-idp/callback").unwrap();
        stdin.flush().unwrap();
        let mut ready = String::new();
        self.lines.read_line(&mut ready).unwrap();
        assert!(ready.contains("ready"), "{ready}");
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In Chromium, from the sign-in page of a new request: the provider's button, its sign-in
/// as `login` at `acr`; the page Inkan shows when it is back. A new browser each time, so that
/// no sign-in at the provider is left over from the one before.
async fn through_provider(w: &World, login: &str, acr: &str, expect: &str) -> (Browser, String) {
    let browser = Browser::start().await;
    let (_, challenge) = pkce();
    browser.goto(&authorize_url(w, &challenge, "")).await;
    browser.text_with("Test IdP").await;
    browser.keep_screenshot("sign-in-with-provider").await;
    browser.click("a.provider").await;
    browser.wait_for("#login").await;
    browser.type_into("#login", login).await;
    browser.click(&format!("#acr option[value='{acr}']")).await;
    browser.click("#go").await;
    let text = browser.text_with(expect).await;
    (browser, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_signs_in_through_an_openid_provider_only_at_a_level_that_counts() {
    let mut idp = OpenIdProvider::start();
    let real_now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let settings = format!("{SETTINGS}{}", idp.settings());
    // The provider dates its tokens by the real clock.
    let w = world_with(Engine::SqliteFile, "issuer", &settings, Some(real_now)).await;
    idp.serve(&w.h.url);

    // Linked under dual control: the provider's subject `alice-at-idp` is alice.
    let alice_session = w.h.login(&w.alice).await;
    let me: Value =
        w.h.call(&alice_session, Method::GET, "/v1/me", None)
            .await
            .json()
            .await
            .unwrap();
    let (_, operator) = w.h.operator().await;
    let mut link = json!({"action": "identity_link.add", "provider": "test-idp",
        "issuer": "https://idp.example", "subject": "alice-at-idp", "account": me["id"],
        "reason": "identity checked at the desk"});
    // The request names the provider's issuer, as configured.
    let elsewhere =
        w.h.call(&operator, Method::POST, "/v1/approvals", Some(link.clone()))
            .await;
    assert_eq!(elsewhere.status(), StatusCode::CONFLICT);
    link["issuer"] = json!(idp.issuer);
    let asked =
        w.h.call(&operator, Method::POST, "/v1/approvals", Some(link.clone()))
            .await;
    w.h.approve_request(asked, OperatorRole::RaOfficer, None)
        .await;
    // Once.
    let again =
        w.h.call(&operator, Method::POST, "/v1/approvals", Some(link))
            .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // A callback without the state this browser began with is refused before the provider is
    // asked anything.
    let forged =
        w.h.http
            .get(format!(
                "{}/oauth2/federation/test-idp/callback?code=c&state=s",
                w.h.url
            ))
            .send()
            .await
            .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);
    assert!(forged.text().await.unwrap().contains("start again"));

    // A subject nobody linked signs in as nobody.
    let (browser, text) =
        through_provider(&w, "mallory", "urn:inkan:test:high", "not linked").await;
    assert!(text.contains("not linked to an Inkan account"), "{text}");
    browser.quit().await;

    // Alice, at a level that does not replace password and TOTP: refused.
    let (browser, text) = through_provider(
        &w,
        "alice-at-idp",
        "urn:inkan:test:low",
        "not strong enough",
    )
    .await;
    assert!(text.contains("not strong enough"), "{text}");
    browser.quit().await;

    // Alice at the level that counts: signed in, she approves on the consent page.
    let (browser, text) = through_provider(
        &w,
        "alice-at-idp",
        "urn:inkan:test:high",
        "Approve a signature",
    )
    .await;
    assert!(text.contains("Contract <No. 1>"), "{text}");
    w.h.next_step();
    browser.type_into("#pin", PIN).await;
    browser.type_into("#otp", &w.h.otp(&w.alice)).await;
    browser.click("button[value=approve]").await;
    let back = browser.url_starting(&w.redirect).await;
    let (code, _, error) = code_of(&back);
    assert_eq!(error, None, "{back}");
    assert!(code.is_some(), "{back}");

    // The log names the provider, the subject and the level of every sign-in it answered.
    let entries = w.h.log_entries().await;
    let logins = |outcome: &dyn Fn(&Outcome) -> bool| {
        entries
            .iter()
            .filter(|e| e.kind == EntryKind::Login && outcome(&e.outcome))
            .map(|e| format!("{} {:?}", e.note.clone().unwrap_or_default(), e.outcome))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let failed = logins(&|o| matches!(o, Outcome::Failed(_)));
    assert!(
        failed.contains(
            "provider test-idp, sub mallory, acr urn:inkan:test:high: linked to no account"
        ),
        "{failed}"
    );
    assert!(
        failed.contains("provider test-idp, sub alice-at-idp, acr urn:inkan:test:low: not a level"),
        "{failed}"
    );
    let made = logins(&|o| *o == Outcome::Succeeded);
    assert!(
        made.contains(
            "browser session, provider test-idp, sub alice-at-idp, acr urn:inkan:test:high"
        ),
        "{made}"
    );

    // Unlinked under dual control: the session the provider started ends with the link.
    let unlink = json!({"action": "identity_link.remove", "provider": "test-idp",
        "subject": "alice-at-idp", "reason": "left the organisation"});
    let asked =
        w.h.call(&operator, Method::POST, "/v1/approvals", Some(unlink))
            .await;
    w.h.approve_request(asked, OperatorRole::RaOfficer, None)
        .await;
    browser.goto(&format!("{}/account", w.h.url)).await;
    let text = browser.text_with("Password").await;
    assert!(!text.contains("Passkeys"), "{text}");
    browser.quit().await;
    w.h.stop().await;
}
