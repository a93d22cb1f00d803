//! A real headless Chromium, driven over W3C WebDriver by Debian's `chromedriver` (issue 18):
//! the few commands the page tests need, sent as JSON with reqwest (no WebDriver crate).
//! `.ci/run` installs `chromium` and `chromium-driver`; without them these tests fail, they
//! are never skipped.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The WebDriver element reference key (W3C WebDriver section 12.1).
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the driver process ends with it.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `chromedriver` on a free port and a headless Chromium session that accepts the
    /// test server's self-made certificate (`acceptInsecureCerts`).
    pub async fn start() -> Browser {
        Browser::start_trusting(None).await
    }

    /// [`start`](Self::start), and Chromium takes the server certificate `pem` as valid (its
    /// key's SPKI hash in `--ignore-certificate-errors-spki-list`): a page with a certificate
    /// error is not a secure context, and WebAuthn refuses to run there.
    pub async fn start_trusting(pem: Option<&[u8]>) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; .ci/run installs it)");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=900,1100".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        if let Some(pem) = pem {
            args.push(format!(
                "--ignore-certificate-errors-spki-list={}",
                spki_hash(pem)
            ));
        }
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "acceptInsecureCerts": true,
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": args,
                },
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Browser {
            driver,
            http,
            session: format!("{base}/session/{session}"),
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        match self.try_command(method, path, body).await {
            Ok(value) => value,
            Err(error) => panic!("WebDriver {path}: {error}"),
        }
    }

    /// A command whose WebDriver error is returned (`no such element` is `Ok(Null)`).
    async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        let value = answer["value"].clone();
        match value["error"].as_str() {
            // Looked for and not there: the caller decides.
            Some("no such element") => Ok(Value::Null),
            Some(error) => Err(format!("{error}: {}", value["message"])),
            None => Ok(value),
        }
    }

    /// The page's visible text once it contains `needle` (a click's next page may still be
    /// loading when the click returns); the text as it is after ten seconds otherwise.
    pub async fn text_with(&self, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self.text().await;
            if text.contains(needle) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        text
    }

    /// The page's URL once it starts with `prefix` (at most ten seconds), else as it is.
    pub async fn url_starting(&self, prefix: &str) -> String {
        let mut url = String::new();
        for _ in 0..100 {
            url = self.url().await;
            if url.starts_with(prefix) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        url
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The page's URL.
    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> Option<String> {
        let found = self
            .try_command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await
            .ok()?;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    /// Waits (at most ten seconds) for an element matching `css`, as a page loads.
    pub async fn wait_for(&self, css: &str) -> String {
        for _ in 0..100 {
            if let Some(element) = self.find(css).await {
                return element;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {css} after ten seconds: {}", self.text().await)
    }

    /// Types `text` into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.wait_for(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Clicks the element matching `css` (the next page has loaded when this returns).
    pub async fn click(&self, css: &str) {
        let element = self.wait_for(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The visible text of the page's body (empty while a page is being replaced).
    pub async fn text(&self) -> String {
        let Some(body) = self.find("body").await else {
            return String::new();
        };
        self.try_command(reqwest::Method::GET, &format!("/element/{body}/text"), None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The page's HTML as the browser holds it.
    pub async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Switches into the frame matching `css`; `false` if there is none.
    pub async fn enter_frame(&self, css: &str) -> bool {
        let Some(frame) = self.find(css).await else {
            return false;
        };
        self.command(
            reqwest::Method::POST,
            "/frame",
            Some(json!({"id": {ELEMENT: frame}})),
        )
        .await;
        true
    }

    /// Adds a WebAuthn virtual authenticator (CTAP2, platform, resident keys, user
    /// verification that always succeeds), as a person's device with a passkey would be.
    pub async fn add_virtual_authenticator(&self) -> String {
        let id = self
            .command(
                reqwest::Method::POST,
                "/webauthn/authenticator",
                Some(json!({"protocol": "ctap2", "transport": "internal",
                            "hasResidentKey": true, "hasUserVerification": true,
                            "isUserConsenting": true, "isUserVerified": true})),
            )
            .await;
        id.as_str().unwrap().to_owned()
    }

    /// The credentials the virtual authenticator `id` holds.
    pub async fn authenticator_credentials(&self, id: &str) -> Vec<Value> {
        self.command(
            reqwest::Method::GET,
            &format!("/webauthn/authenticator/{id}/credentials"),
            None,
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Switches back to the page from a frame.
    pub async fn leave_frame(&self) {
        self.command(reqwest::Method::POST, "/frame/parent", Some(json!({})))
            .await;
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let png = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap()
    }

    /// Saves a screenshot as `docs/screenshots/<name>.png` when `INKAN_SCREENSHOTS` is set
    /// (how the pictures in `docs/` are made).
    pub async fn keep_screenshot(&self, name: &str) {
        if std::env::var_os("INKAN_SCREENSHOTS").is_none() {
            return;
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), self.screenshot().await).unwrap();
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        self.command(reqwest::Method::DELETE, "", None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// base64 of the SHA-256 of a PEM certificate's SubjectPublicKeyInfo, as Chromium's
/// `--ignore-certificate-errors-spki-list` takes it.
fn spki_hash(pem: &[u8]) -> String {
    use base64::Engine as _;
    use der::{DecodePem as _, Encode as _};
    use sha2::Digest as _;
    let certificate = x509_cert::Certificate::from_pem(pem).expect("the server certificate is PEM");
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki))
}
