//! A real server for end-to-end tests: `Server::start` (what `inkan serve` runs) on a loopback
//! port over TLS, a store of the given engine, the software token, a manual clock, and a
//! real HTTP client that logs in the way a client must (activation, password + TOTP, DPoP).

use super::{Engine, TestDb};
use base64::Engine as _;
use inkan_log::entry::Entry;
use inkan_server::api::server::Server;
use inkan_server::auth::operators::OperatorRole;
use inkan_server::auth::totp;
use inkan_server::client::ProofKey;
use inkan_server::clock::{Clock, ManualClock};
use inkan_server::config::Config;
use inkan_server::service::host_operator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// 2026-11-26T00:00:00Z, on a TOTP step boundary.
pub const START: i64 = 1_795_651_200_000;
pub const MINUTE: i64 = 60_000;
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Harness {
    pub server: Option<Server>,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub url: String,
    pub _dir: tempfile::TempDir,
    pub db: TestDb,
    /// The server's TLS certificate (PEM), to build more clients.
    pub server_cert: Vec<u8>,
    operators: std::sync::atomic::AtomicU32,
}

/// A logged-in party: its DPoP key and tokens.
pub struct Session {
    pub key: ProofKey,
    pub access: String,
    pub refresh: Option<String>,
    /// The client it calls through: an operator's presents its terminal certificate.
    pub http: Option<reqwest::Client>,
}

pub struct Account {
    pub username: String,
    pub seed: Vec<u8>,
    /// An operator's terminal (the client presenting its certificate).
    pub terminal: Option<reqwest::Client>,
}

impl Harness {
    pub async fn start(engine: Engine, auth_settings: &str) -> Harness {
        Harness::start_in(engine, "test", auth_settings).await
    }

    /// [`start`](Self::start) in `environment` (`production`, `staging` or `test`).
    pub async fn start_in(engine: Engine, environment: &str, auth_settings: &str) -> Harness {
        Harness::start_with_device(engine, environment, None, auth_settings).await
    }

    /// [`start_in`](Self::start_in) with `device` (a `[device]` section) instead of the
    /// software token.
    pub async fn start_with_device(
        engine: Engine,
        environment: &str,
        device: Option<&str>,
        auth_settings: &str,
    ) -> Harness {
        Harness::start_tuned(engine, environment, device, "", auth_settings).await
    }

    /// [`start_with_device`](Self::start_with_device) with more `[server]` settings.
    pub async fn start_tuned(
        engine: Engine,
        environment: &str,
        device: Option<&str>,
        server_settings: &str,
        auth_settings: &str,
    ) -> Harness {
        let db = TestDb::create(engine).await;
        Harness::start_tuned_on(db, environment, device, server_settings, auth_settings).await
    }

    /// [`start_tuned`](Self::start_tuned) on `db` (whose URL a test may have changed, to reach
    /// the database through a proxy it controls).
    pub async fn start_tuned_on(
        db: TestDb,
        environment: &str,
        device: Option<&str>,
        server_settings: &str,
        auth_settings: &str,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // Production refuses the software token unless allowed, and generated TLS
        // certificates: allow the one, provide the other.
        let production = if environment == "production" {
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            std::fs::create_dir_all(dir.path().join("tls")).unwrap();
            std::fs::write(dir.path().join("tls/server.crt"), cert.pem()).unwrap();
            let key_file = dir.path().join("tls/server.key");
            std::fs::write(&key_file, key.serialize_pem()).unwrap();
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
            "allow_software_device_in_production = true"
        } else {
            ""
        };
        let config = format!(
            r#"
environment = "{environment}"
{production}
[store]
url = "{url}"
{device}
[server]
listen = "127.0.0.1:0"
tls_certificate = "{d}/tls/server.crt"
tls_key = "{d}/tls/server.key"
secrets_key_file = "{d}/secrets.key"
{server_settings}
[signing]
activation_key_file = "{d}/activation.key"
[auth]
{auth_settings}
"#,
            url = db.url,
            device = device.map_or_else(
                || format!(
                    "[device]\nkind = \"soft\"\npath = \"{d}/soft\"\nkek_file = \"{d}/kek\""
                ),
                str::to_owned
            ),
        );
        Harness::launch(db, dir, &config).await
    }

    /// Starts the server of `config` (TOML) written in `dir`, over `db`.
    pub async fn launch(db: TestDb, dir: tempfile::TempDir, config: &str) -> Harness {
        let path = dir.path().join("inkan.toml");
        std::fs::write(&path, config).unwrap();
        let config = Config::load(Some(&path), std::iter::empty()).unwrap();
        let clock = Arc::new(ManualClock::new(START));
        let server = Server::start(&config, clock.clone()).await.unwrap();
        let cert = std::fs::read(dir.path().join("tls/server.crt")).unwrap();
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
            .build()
            .unwrap();
        let url = server.public_url.clone();
        Harness {
            server: Some(server),
            clock,
            http,
            url,
            _dir: dir,
            db,
            server_cert: cert,
            operators: Default::default(),
        }
    }

    /// A new terminal: a client presenting a fresh self-signed certificate (PEM returned).
    pub fn terminal(&self) -> (reqwest::Client, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["terminal.inkan.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem();
        let identity =
            reqwest::Identity::from_pem(format!("{cert}{}", key.serialize_pem()).as_bytes())
                .unwrap();
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.server_cert).unwrap())
            .identity(identity)
            .build()
            .unwrap();
        (client, cert)
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// Another node of the same deployment: a server started from this one's configuration
    /// (the same store, device, secrets and TLS identity) on a port of its own, on the same
    /// clock. The caller stops it.
    #[allow(dead_code)]
    pub async fn second_node(&self) -> Server {
        let path = self._dir.path().join("inkan.toml");
        let config = Config::load(Some(&path), std::iter::empty()).unwrap();
        Server::start(&config, self.clock.clone()).await.unwrap()
    }

    pub fn now_seconds(&self) -> i64 {
        self.clock.now() / 1000
    }

    pub fn otp(&self, account: &Account) -> String {
        totp::code_at_step(&account.seed, totp::step_at(self.clock.now()))
    }

    /// Moves to the start of the next TOTP step (a code is accepted once per step).
    pub fn next_step(&self) {
        let now = self.clock.now();
        let next = (totp::step_at(now) + 1) * totp::STEP_SECONDS * 1000;
        self.clock.advance(next - now);
    }

    pub async fn post_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.post_json_with(&self.http, path, body).await
    }

    pub async fn post_json_with(
        &self,
        http: &reqwest::Client,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        http.post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Activates an account with its code: password, TOTP enrolment, first OTP.
    pub async fn activate(&self, username: &str, code: &str) -> Account {
        self.activate_with(&self.http, username, code).await
    }

    /// Activates an account over `http` (an operator's: from its terminal).
    pub async fn activate_with(
        &self,
        http: &reqwest::Client,
        username: &str,
        code: &str,
    ) -> Account {
        let started = self
            .post_json_with(
                http,
                "/v1/activation",
                json!({"activation_code": code, "password": PASSWORD}),
            )
            .await;
        assert_eq!(started.status(), StatusCode::OK);
        let started: Value = started.json().await.unwrap();
        let seed = totp::base32_decode(started["totp_secret"].as_str().unwrap())
            .unwrap()
            .to_vec();
        assert!(
            started["totp_uri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/Inkan:")
        );
        let account = Account {
            username: username.into(),
            seed,
            terminal: None,
        };
        let done = self
            .post_json_with(
                http,
                "/v1/activation/complete",
                json!({"activation_code": code, "otp": self.otp(&account)}),
            )
            .await;
        assert_eq!(done.status(), StatusCode::NO_CONTENT);
        account
    }

    pub async fn login_request(
        &self,
        account: &Account,
        password: &str,
        otp: &str,
        key: &ProofKey,
    ) -> reqwest::Response {
        self.login_request_with(&self.http, account, password, otp, key)
            .await
    }

    pub async fn login_request_with(
        &self,
        http: &reqwest::Client,
        account: &Account,
        password: &str,
        otp: &str,
        key: &ProofKey,
    ) -> reqwest::Response {
        let url = format!("{}/csc/v2/auth/login", self.url);
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{password}", account.username));
        http.post(&url)
            .header("Authorization", format!("Basic {basic}"))
            .header(
                "DPoP",
                key.dpop("POST", &url, None, self.now_seconds()).unwrap(),
            )
            .json(&json!({"otp": otp, "rememberMe": true}))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, account: &Account) -> Session {
        self.login_with(None, account).await
    }

    /// Logs in over `http` (an operator's terminal), or the harness's client.
    pub async fn login_with(&self, http: Option<&reqwest::Client>, account: &Account) -> Session {
        let http = http.or(account.terminal.as_ref());
        self.next_step();
        let key = ProofKey::generate().unwrap();
        let response = self
            .login_request_with(
                http.unwrap_or(&self.http),
                account,
                PASSWORD,
                &self.otp(account),
                &key,
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "DPoP");
        assert!(body["expires_in"].as_u64().unwrap() > 0);
        Session {
            key,
            access: body["access_token"].as_str().unwrap().into(),
            refresh: body["refresh_token"].as_str().map(str::to_owned),
            http: http.cloned(),
        }
    }

    /// A DPoP-bound call with a fresh proof.
    pub async fn call(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.url);
        let proof = session
            .key
            .dpop(
                method.as_str(),
                &url,
                Some(&session.access),
                self.now_seconds(),
            )
            .unwrap();
        let mut request = session
            .http
            .as_ref()
            .unwrap_or(&self.http)
            .request(method, &url)
            .header("Authorization", format!("DPoP {}", session.access))
            .header("DPoP", proof);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn refresh(&self, session: &mut Session) -> reqwest::Response {
        let url = format!("{}/csc/v2/auth/login", self.url);
        let response = session
            .http
            .as_ref()
            .unwrap_or(&self.http)
            .post(&url)
            .header(
                "DPoP",
                session
                    .key
                    .dpop("POST", &url, None, self.now_seconds())
                    .unwrap(),
            )
            .json(&json!({"refresh_token": session.refresh.clone().unwrap()}))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            session.access = body["access_token"].as_str().unwrap().into();
            session.refresh = body["refresh_token"].as_str().map(str::to_owned);
            return self
                .http
                .get(format!("{}/health", self.url))
                .send()
                .await
                .unwrap();
        }
        response
    }

    /// A fresh signature activation nonce for `session` (criteria 2.2.3(2)A-2).
    pub async fn nonce(&self, session: &Session) -> String {
        let response = self
            .call(
                session,
                Method::POST,
                "/v1/signature-activation/nonce",
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["expiresIn"], 120);
        body["nonce"].as_str().unwrap().to_owned()
    }

    /// The `activation_data` of a PIN change (`pin.change`) or renewal (`key.renew`) of
    /// `key`: a fresh nonce, `pin`, a fresh OTP of `account` and `new_pin`, encrypted to the
    /// activation key.
    pub async fn change_activation(
        &self,
        session: &Session,
        account: &Account,
        purpose: &str,
        key: &str,
        pin: Option<&str>,
        new_pin: &str,
    ) -> String {
        self.next_step();
        let nonce = self.nonce(session).await;
        let data = inkan_server::client::change_data(
            purpose,
            key,
            &nonce,
            pin,
            &self.otp(account),
            new_pin,
        );
        inkan_server::client::encrypt_activation_data(&self.activation_key().await, &data).unwrap()
    }

    /// CSC `info`.
    pub async fn csc_info(&self) -> Value {
        self.http
            .post(format!("{}/csc/v2/info", self.url))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The service's activation key (CSC `info`).
    pub async fn activation_key(&self) -> Value {
        self.csc_info().await["signatureActivation"]["activationKey"].clone()
    }

    /// The bootstrap operator (an admin), activated from a new terminal and logged in.
    pub async fn admin(&self) -> (Account, Session) {
        let bootstrap = self.server().bootstrap.clone().unwrap();
        let (terminal, _) = self.terminal();
        let mut account = self
            .activate_with(&terminal, &bootstrap.username, &bootstrap.activation_code)
            .await;
        account.terminal = Some(terminal.clone());
        let session = self.login_with(Some(&terminal), &account).await;
        (account, session)
    }

    /// A new operator of `role`, created on the host (`inkan operators add`), activated from
    /// a new terminal and logged in.
    pub async fn staff(&self, role: OperatorRole) -> (Account, Session) {
        // The next free name (a restored database has those of the harness it was taken on).
        let (username, created) = loop {
            let n = self
                .operators
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let username = format!("{role}-{n}");
            match self
                .server()
                .auth
                .create_operator(host_operator("test"), &username, role)
                .await
            {
                Ok(created) => break (username, created),
                Err(inkan_server::auth::AuthError::Conflict(_)) => continue,
                Err(e) => panic!("{e}"),
            }
        };
        let (terminal, _) = self.terminal();
        let mut account = self
            .activate_with(&terminal, &username, &created.activation_code)
            .await;
        account.terminal = Some(terminal.clone());
        let session = self.login_with(Some(&terminal), &account).await;
        (account, session)
    }

    /// A registration officer (creates subscribers, users, clients), logged in.
    pub async fn operator(&self) -> (Account, Session) {
        self.staff(OperatorRole::RaOfficer).await
    }

    /// A new subscriber of `kind` with one activated user.
    pub async fn subscriber(
        &self,
        operator: &Session,
        kind: &str,
        username: &str,
    ) -> (String, Account) {
        let created = self
            .call(
                operator,
                Method::POST,
                "/v1/subscribers",
                Some(json!({"kind": kind, "name": format!("{username}'s")})),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let user = self.user(operator, &id, username).await;
        (id, user)
    }

    /// A new activated user `username` of subscriber `id`.
    pub async fn user(&self, operator: &Session, id: &str, username: &str) -> Account {
        let user = self
            .call(
                operator,
                Method::POST,
                &format!("/v1/subscribers/{id}/users"),
                Some(json!({"username": username})),
            )
            .await;
        assert_eq!(user.status(), StatusCode::CREATED);
        let code = user.json::<Value>().await.unwrap()["activation_code"]
            .as_str()
            .unwrap()
            .to_owned();
        self.activate(username, &code).await
    }

    /// Carries a dual-control request through (criteria 2.1.3(12)): approved by a new
    /// operator of `role` (M = 1), and, for an action that needs it, consented to by a new user
    /// of `subscriber`. Returns the request as it ends (`executed`, with its result).
    pub async fn approve_request(
        &self,
        request: reqwest::Response,
        role: OperatorRole,
        subscriber: Option<(&Session, &str)>,
    ) -> Value {
        let status = request.status();
        let request: Value = request.json().await.unwrap();
        // 202 from a route that asks for approval, 201 from `POST /v1/approvals` itself.
        assert!(
            status == StatusCode::ACCEPTED || status == StatusCode::CREATED,
            "{status} {request}"
        );
        let id = request["id"].as_str().unwrap().to_owned();
        let (_, approver) = self.staff(role).await;
        let approved = self
            .call(
                &approver,
                Method::POST,
                &format!("/v1/approvals/{id}/approve"),
                None,
            )
            .await;
        assert_eq!(approved.status(), StatusCode::OK);
        let mut done: Value = approved.json().await.unwrap();
        if let Some((operator, subscriber)) = subscriber {
            // Named after the request: unique even over a restored database.
            let username = format!("consenter-{}", &id[id.len() - 12..]);
            let user = self.user(operator, subscriber, &username).await;
            let session = self.login(&user).await;
            let consented = self
                .call(
                    &session,
                    Method::POST,
                    &format!("/v1/approvals/{id}/consent"),
                    None,
                )
                .await;
            assert_eq!(consented.status(), StatusCode::OK);
            done = consented.json().await.unwrap();
        }
        assert_eq!(done["state"], "executed", "{done}");
        done
    }

    /// Sets `key`'s status source (`body` as `PUT /v1/keys/{id}/status-source` takes it) as
    /// `operator` (a key administrator), approved by a second one. The response when the
    /// request is refused at once.
    pub async fn set_status_source(
        &self,
        operator: &Session,
        key: &str,
        body: Value,
    ) -> Result<Value, (StatusCode, String)> {
        let asked = self
            .call(
                operator,
                Method::PUT,
                &format!("/v1/keys/{key}/status-source"),
                Some(body),
            )
            .await;
        if asked.status() != StatusCode::ACCEPTED {
            return Err((asked.status(), asked.text().await.unwrap()));
        }
        Ok(self
            .approve_request(asked, OperatorRole::KeyOfficer, None)
            .await)
    }

    pub async fn log_entries(&self) -> Vec<Entry> {
        let store = &self.server().service.store;
        let mut out = Vec::new();
        loop {
            let page = store.log_entries(out.len() as u64, 1000).await.unwrap();
            if page.is_empty() {
                return out;
            }
            out.extend(page.iter().map(|b| Entry::decode(b).unwrap()));
        }
    }

    pub async fn stop(mut self) {
        self.server.take().unwrap().stop().await.unwrap();
    }
}

/// The status of a response (for assertions on one line).
pub async fn status(response: reqwest::Response) -> StatusCode {
    response.status()
}

/// A holder: their account, session, and one key.
pub struct Holder {
    pub account: Account,
    pub session: Session,
    pub key_id: String,
    pub jwk: Value,
}

/// Generates a key of `alg` with `pin` for the session's subscriber: (id, public JWK).
pub async fn key(h: &Harness, session: &Session, alg: &str, pin: &str) -> (String, Value) {
    let created = h
        .call(
            session,
            Method::POST,
            "/v1/keys",
            Some(json!({"algorithm": alg, "label": "k", "pin": pin})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let view: Value = created.json().await.unwrap();
    (
        view["id"].as_str().unwrap().to_owned(),
        view["public_jwk"].clone(),
    )
}

/// CSC `credentials/authorize` for what `prepared` (a `/v1/holder/prepare` answer) names, with
/// `pin` and a fresh OTP encrypted to `activation_key`; returns the SAD.
pub async fn authorize(
    h: &Harness,
    holder: &Holder,
    activation_key: &Value,
    prepared: &Value,
    pin: &str,
) -> String {
    // What the holder was shown, bound with the hashes, in the encrypted data and the request.
    let shown = prepared["disclosureDigest"].as_str();
    let authorized =
        authorize_showing(h, holder, activation_key, prepared, pin, shown, shown).await;
    assert_eq!(
        authorized.status(),
        StatusCode::OK,
        "{}",
        authorized.text().await.unwrap()
    );
    authorized.json::<Value>().await.unwrap()["SAD"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// [`authorize`] whose encrypted activation data carries `shown` as the disclosure digest and
/// whose request names `named`; the answer as it comes.
#[allow(dead_code)]
pub async fn authorize_showing(
    h: &Harness,
    holder: &Holder,
    activation_key: &Value,
    prepared: &Value,
    pin: &str,
    shown: Option<&str>,
    named: Option<&str>,
) -> reqwest::Response {
    h.next_step();
    let otp = totp::code_at_step(&holder.account.seed, totp::step_at(h.clock.now()));
    let hashes: Vec<String> = serde_json::from_value(prepared["hashes"].clone()).unwrap();
    let oid = prepared["hashAlgorithmOID"].as_str().unwrap();
    let nonce = h.nonce(&holder.session).await;
    let data = inkan_server::client::authorize_data(
        &holder.key_id,
        oid,
        &hashes,
        shown,
        &nonce,
        pin,
        &otp,
    )
    .unwrap();
    // The digest bound in the JWE is the one the holder was shown (criteria 2.2.3(2)A-2).
    assert_eq!(data["hashesDigest"], prepared["hashesDigest"]);
    let activation = inkan_server::client::encrypt_activation_data(activation_key, &data).unwrap();
    h.call(
        &holder.session,
        Method::POST,
        "/csc/v2/credentials/authorize",
        Some(json!({
            "credentialID": holder.key_id,
            "numSignatures": prepared["numSignatures"],
            "hashes": prepared["hashes"],
            "hashAlgorithmOID": prepared["hashAlgorithmOID"],
            "activationData": activation,
            "disclosureDigest": named,
        })),
    )
    .await
}

/// The issuer organisation's system client (private_key_jwt + DPoP) with sign scope on
/// `seal_key`.
pub async fn system_client(
    h: &Harness,
    operator: &Session,
    issuer: &str,
    seal_key: &str,
) -> Session {
    let client_key = inkan_server::client::ProofKey::generate().unwrap();
    let asked = h
        .call(
            operator,
            Method::POST,
            &format!("/v1/subscribers/{issuer}/clients"),
            Some(json!({
                "name": "issuing system", "jwk": client_key.public_jwk(),
                "scope": {"keys": [{"key": seal_key, "operations": ["sign"]}]}
            })),
        )
        .await;
    let registered = h
        .approve_request(asked, OperatorRole::RaOfficer, Some((operator, issuer)))
        .await;
    let client_id = registered["result"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token_url = format!("{}/oauth2/token", h.url);
    let dpop_key = inkan_server::client::ProofKey::generate().unwrap();
    let token: Value = h
        .http
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
            (
                "client_assertion",
                client_key
                    .client_assertion(&client_id, &token_url, h.now_seconds())
                    .unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Session {
        key: dpop_key,
        access: token["access_token"].as_str().unwrap().into(),
        refresh: None,
        http: None,
    }
}

/// A self-signed client certificate for `dns_name` and its key, PEM.
pub fn client_certificate(dns_name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![dns_name.into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A client of `h` that trusts its server certificate and presents `cert_pem` (with
/// `key_pem`) for mutual TLS.
pub fn mtls_client(h: &Harness, cert_pem: &str, key_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&h.server_cert).unwrap())
        .identity(reqwest::Identity::from_pem(format!("{cert_pem}{key_pem}").as_bytes()).unwrap())
        .build()
        .unwrap()
}

/// A token for the client of `mtls` (its certificate; RFC 8705), by client credentials.
pub async fn client_token(mtls: &reqwest::Client, base: &str) -> String {
    let token: Value = mtls
        .post(format!("{base}/oauth2/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_owned()
}

/// An issuer organisation's system client over mutual TLS (as the W3C suites' issuers are
/// reached), registered by `operator` for subscriber `issuer` with sign and read scope on
/// `keys`: the client presenting its certificate, and its access token.
pub async fn mtls_system_client(
    h: &Harness,
    operator: &Session,
    issuer: &str,
    keys: &[&str],
) -> (reqwest::Client, String) {
    let (cert, key_pem) = client_certificate("issuer.example");
    let grants: Vec<Value> = keys
        .iter()
        .map(|k| json!({"key": k, "operations": ["read", "sign"]}))
        .collect();
    let registered = h
        .call(
            operator,
            Method::POST,
            &format!("/v1/subscribers/{issuer}/clients"),
            Some(json!({
                "name": "issuing system", "certificate_pem": cert,
                "scope": {"keys": grants}
            })),
        )
        .await;
    h.approve_request(
        registered,
        OperatorRole::RaOfficer,
        Some((operator, issuer)),
    )
    .await;
    let mtls = mtls_client(h, &cert, &key_pem);
    let access = client_token(&mtls, &h.url).await;
    (mtls, access)
}

/// A fresh SoftHSM token (its user PIN in a file under `dir`) and the `[device]` section that
/// opens it, for [`Harness::start_with_device`]. The module is `INKAN_TEST_PKCS11_MODULE`
/// (Debian's SoftHSM when unset).
pub fn softhsm_device(dir: &std::path::Path) -> String {
    let module = std::env::var("INKAN_TEST_PKCS11_MODULE")
        .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into());
    let label = format!("e2e-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let (so_pin, user_pin) = ("e2e-test-so", "e2e-test-user");
    inkan_device::pkcs11::init_test_token(module.as_ref(), &label, so_pin, user_pin).unwrap();
    let pin_file = dir.join("user.pin");
    std::fs::write(&pin_file, user_pin).unwrap();
    format!(
        "[device]\nkind = \"pkcs11\"\nmodule = \"{module}\"\ntoken_label = \"{label}\"\nuser_pin_file = \"{}\"",
        pin_file.display()
    )
}
