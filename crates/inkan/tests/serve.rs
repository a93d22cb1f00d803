#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! End-to-end tests of `inkan serve`: the real binary as a child process, over TLS on a
//! loopback port, spoken to by a real HTTP client the way a subscriber's software would
//! (activation, password + TOTP login, DPoP-bound tokens, logout), with the system clock.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use inkan_server::auth::totp;
use inkan_server::client::ProofKey;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PASSWORD: &str = "correct horse battery staple";
/// How long a first start may take (a debug build, generating the TLS certificate and keys).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A scratch deployment: a config file naming only paths inside a temporary folder.
struct Deployment {
    dir: tempfile::TempDir,
    /// `None`: the embedded default (no configuration file), run in `dir`.
    config: Option<PathBuf>,
    /// Two operators' terminals: client certificates and keys (PEM), the same across restarts.
    terminals: [String; 2],
}

/// A fresh self-signed client certificate and its key (PEM): an operator's terminal.
fn terminal_identity() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["terminal.inkan.test".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    format!("{}{}", cert.pem(), key.serialize_pem())
}

impl Deployment {
    fn new() -> Deployment {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let text = format!(
            "environment = \"test\"\n\
             [device]\nkind = \"soft\"\npath = \"{d}/token\"\nkek_file = \"{d}/kek\"\n\
             [store]\nurl = \"sqlite://{d}/inkan.db\"\n\
             [server]\nlisten = \"127.0.0.1:0\"\nmetrics_listen = \"127.0.0.1:0\"\n\
             tls_certificate = \"{d}/tls/server.crt\"\n\
             tls_key = \"{d}/tls/server.key\"\nsecrets_key_file = \"{d}/secrets.key\"\n\
             [signing]\nactivation_key_file = \"{d}/activation.key\"\n"
        );
        let config = dir.path().join("inkan.toml");
        std::fs::write(&config, text).unwrap();
        Deployment {
            dir,
            config: Some(config),
            terminals: [terminal_identity(), terminal_identity()],
        }
    }

    /// The README's first command in an empty folder: no configuration at all, except the
    /// port (any free one, so tests never collide on 8443).
    fn embedded_default() -> Deployment {
        Deployment {
            dir: tempfile::tempdir().unwrap(),
            config: None,
            terminals: [terminal_identity(), terminal_identity()],
        }
    }

    /// `inkan operators add USERNAME --role ROLE` on the host (beside the running service, on
    /// the same store): the new operator's one-time activation code.
    fn add_operator(&self, username: &str, role: &str) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
            .arg("--config")
            .arg(self.config.as_ref().unwrap())
            .args(["operators", "add", username, "--role", role])
            .current_dir(self.dir.path())
            .env_remove("INKAN_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&format!("role {role}")), "{stdout}");
        after(&stdout, "one-time activation code ", " (").to_owned()
    }

    fn cert_path(&self) -> PathBuf {
        match self.config {
            Some(_) => self.dir.path().join("tls/server.crt"),
            None => PathBuf::from("inkan-data/tls/server.crt"),
        }
    }

    /// Runs `inkan serve` and waits until it has said where it listens and which certificate
    /// it uses.
    async fn start(&self) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_inkan"));
        match &self.config {
            Some(config) => command.arg("--config").arg(config),
            None => command.env("INKAN_SERVER__LISTEN", "127.0.0.1:0"),
        };
        let mut child = command
            .arg("serve")
            .current_dir(self.dir.path())
            .env_remove("INKAN_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        let mut server = Server {
            child,
            stdout,
            stderr,
            readers,
            url: String::new(),
            fingerprint: String::new(),
            cert_line: String::new(),
            client: reqwest::Client::new(),
            terminals: Vec::new(),
        };
        let serving = server.wait_for_line("inkan serving on ").await;
        server.url = after(&serving, "inkan serving on ", " ").to_owned();
        let listen: SocketAddr = after(&serving, "(listening on ", ",").parse().unwrap();
        assert!(listen.ip().is_loopback(), "{serving}");
        assert!(serving.ends_with("environment test)"), "{serving}");
        assert_eq!(server.url, format!("https://localhost:{}", listen.port()));
        server.cert_line = server.wait_for_line("TLS certificate ").await;
        let cert = after(&server.cert_line, "TLS certificate ", " (");
        assert_eq!(
            PathBuf::from(cert),
            self.cert_path(),
            "{}",
            server.cert_line
        );
        server.fingerprint = after(&server.cert_line, "SHA-256 fingerprint ", "\n").to_owned();
        let pem = std::fs::read(self.dir.path().join(self.cert_path())).unwrap();
        let client = |identity: Option<&String>| {
            let builder = reqwest::Client::builder()
                .use_rustls_tls()
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
                .resolve("localhost", listen)
                .timeout(Duration::from_secs(30));
            match identity {
                Some(pem) => builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap()),
                None => builder,
            }
            .build()
            .unwrap()
        };
        server.client = client(None);
        server.terminals = self.terminals.iter().map(|t| client(Some(t))).collect();
        server
    }
}

/// Reads `from` line by line into `into` until end of file.
fn collect(
    from: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap().push(line);
        }
    })
}

/// The text of `line` after `start`, up to `end` (or the end of the line).
fn after<'a>(line: &'a str, start: &str, end: &str) -> &'a str {
    let rest = &line[line
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in {line:?}"))
        + start.len()..];
    rest.find(end).map_or(rest, |i| &rest[..i])
}

/// A running `inkan serve`; killed when dropped, so a failing test leaks no process, and its
/// output is printed then.
struct Server {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<JoinHandle<()>>,
    /// The public URL (`https://localhost:PORT`).
    url: String,
    fingerprint: String,
    cert_line: String,
    client: reqwest::Client,
    /// Clients presenting the deployment's terminal certificates.
    terminals: Vec<reqwest::Client>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- inkan serve stdout ---\n{}\n--- inkan serve stderr ---\n{}",
                self.stdout.lock().unwrap().join("\n"),
                self.stderr.lock().unwrap().join("\n")
            );
        }
    }
}

impl Server {
    async fn wait_for_line(&mut self, prefix: &str) -> String {
        let started = Instant::now();
        loop {
            let found = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.starts_with(prefix))
                .cloned();
            if let Some(line) = found {
                return line;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("inkan serve exited ({status}) before printing {prefix:?}");
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "no {prefix:?} line after {START_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The bootstrap operator's activation code, printed on every start until it is
    /// activated.
    async fn bootstrap_code(&mut self) -> String {
        let line = self
            .wait_for_line("bootstrap operator \"operator\": ")
            .await;
        assert!(line.ends_with("shown only now)"), "{line}");
        after(&line, "one-time activation code ", " (").to_owned()
    }

    /// Sends SIGTERM and waits (at most 15 s) for the process to exit; returns its status and
    /// everything it printed on stdout.
    async fn stop(&mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no exit 15 s after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        (status, self.stdout.lock().unwrap().clone())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// The client of an account or session: its terminal's, or the plain one.
    fn client_of(&self, terminal: Option<usize>) -> &reqwest::Client {
        terminal.map_or(&self.client, |t| &self.terminals[t])
    }

    /// A request with the access token but no DPoP proof.
    fn with_token(&self, method: Method, path: &str, session: &Session) -> RequestBuilder {
        self.client_of(session.terminal)
            .request(method, self.url(path))
            .header("Authorization", format!("DPoP {}", session.access))
    }

    /// A request with the access token and a fresh proof for it by the session's key.
    fn authed(&self, method: Method, path: &str, session: &Session) -> RequestBuilder {
        let proof = session.proof(method.as_str(), &self.url(path));
        self.with_token(method, path, session).header("DPoP", proof)
    }

    /// Activates an account with its one-time code: sets the password, enrols TOTP.
    async fn activate(&self, code: &str, username: &str) -> Account {
        self.activate_from(None, code, username).await
    }

    /// Activates an operator from terminal `terminal` (which activation registers).
    async fn activate_operator(&self, terminal: usize, code: &str, username: &str) -> Account {
        self.activate_from(Some(terminal), code, username).await
    }

    async fn activate_from(&self, terminal: Option<usize>, code: &str, username: &str) -> Account {
        let client = self.client_of(terminal);
        let body = json!({"activation_code": code, "password": PASSWORD});
        let started = expect(client.post(self.url("/v1/activation")).json(&body), 200).await;
        assert!(
            started["totp_uri"]
                .as_str()
                .unwrap()
                .starts_with("otpauth://totp/")
        );
        let seed = totp::base32_decode(started["totp_secret"].as_str().unwrap()).unwrap();
        let mut account = Account {
            username: username.into(),
            seed: seed.to_vec(),
            last_step: 0,
            terminal,
        };
        let body = json!({"activation_code": code, "otp": account.next_otp().await});
        expect(
            client.post(self.url("/v1/activation/complete")).json(&body),
            204,
        )
        .await;
        account
    }

    /// CSC `auth/login` with password, TOTP and a new DPoP key.
    async fn login(&self, account: &mut Account) -> Session {
        let key = ProofKey::generate().unwrap();
        let url = self.url("/csc/v2/auth/login");
        let basic = STANDARD.encode(format!("{}:{PASSWORD}", account.username));
        let request = self
            .client_of(account.terminal)
            .post(url.clone())
            .header("Authorization", format!("Basic {basic}"))
            .header("DPoP", key.dpop("POST", &url, None, now_seconds()).unwrap())
            .json(&json!({"otp": account.next_otp().await, "rememberMe": true}));
        let tokens = expect(request, 200).await;
        assert_eq!(tokens["token_type"], "DPoP");
        assert!(tokens["expires_in"].as_u64().unwrap() > 0);
        Session {
            key,
            access: tokens["access_token"].as_str().unwrap().into(),
            refresh: tokens["refresh_token"].as_str().unwrap().into(),
            terminal: account.terminal,
        }
    }
}

/// An account and its authenticator app.
struct Account {
    username: String,
    seed: Vec<u8>,
    /// The last time step a code was sent for: the server takes each code once.
    last_step: i64,
    /// An operator's terminal (an index into the deployment's).
    terminal: Option<usize>,
}

impl Account {
    /// A code the server has not seen: now's, or the next step's when now's was used (the
    /// server accepts one step of drift, as from an app whose clock runs a little ahead).
    async fn next_otp(&mut self) -> String {
        let step = (self.last_step + 1).max(totp::step_at(now_millis()));
        while totp::step_at(now_millis()) + 1 < step {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.last_step = step;
        totp::code_at_step(&self.seed, step)
    }
}

/// A logged-in session: its DPoP key and tokens.
struct Session {
    key: ProofKey,
    access: String,
    refresh: String,
    terminal: Option<usize>,
}

impl Session {
    fn proof(&self, method: &str, url: &str) -> String {
        self.key
            .dpop(method, url, Some(&self.access), now_seconds())
            .unwrap()
    }
}

fn now_millis() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn now_seconds() -> i64 {
    now_millis() / 1000
}

/// Sends `request` and returns the status and the body (JSON, a string, or null when empty).
async fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = match text.as_str() {
        "" => Value::Null,
        _ => serde_json::from_str(&text).unwrap_or(Value::String(text)),
    };
    (status, body)
}

/// Sends `request`, checks the status, returns the body.
async fn expect(request: RequestBuilder, status: u16) -> Value {
    let (got, body) = send(request).await;
    assert_eq!(got, status, "{body}");
    body
}

/// Sends `request`, expects a 401 whose description contains `why`, returns the body.
async fn refused(request: RequestBuilder, why: &str) -> Value {
    let (status, body) = send(request).await;
    assert_eq!(status, 401, "expected a refusal ({why}): {body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(why), "expected {why:?}: {body}");
    body
}

/// SHA-256 of the first certificate in `pem`, as colon-separated upper-case hex.
fn pem_fingerprint(pem: &str) -> String {
    let base64: String = pem
        .lines()
        .skip_while(|l| *l != "-----BEGIN CERTIFICATE-----")
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = STANDARD.decode(base64).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, &der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[tokio::test]
async fn serve_end_to_end() {
    let deployment = Deployment::new();
    let mut server = deployment.start().await;
    let code = server.bootstrap_code().await;
    assert!(
        server.cert_line.contains("(generated now, self-signed)"),
        "{}",
        server.cert_line
    );
    let pem = std::fs::read_to_string(deployment.cert_path()).unwrap();
    assert_eq!(server.fingerprint, pem_fingerprint(&pem));

    // The infrastructure routes.
    let health = expect(server.request(Method::GET, "/health"), 200).await;
    assert_eq!(health["status"], "ok");
    let ready = expect(server.request(Method::GET, "/ready"), 200).await;
    assert_eq!(ready["status"], "ready");
    let openapi = expect(server.request(Method::GET, "/openapi.json"), 200).await;
    assert!(
        openapi["openapi"].as_str().unwrap().starts_with('3'),
        "{}",
        openapi["openapi"]
    );
    assert!(openapi["paths"]["/csc/v2/auth/login"].is_object());

    // The bootstrap operator (an admin) activates (once) from its terminal and logs in.
    let mut operator = server.activate_operator(0, &code, "operator").await;
    let again = json!({"activation_code": code, "password": PASSWORD});
    expect(
        server.request(Method::POST, "/v1/activation").json(&again),
        400,
    )
    .await;
    let admin = server.login(&mut operator).await;
    let me = expect(server.authed(Method::GET, "/v1/me", &admin), 200).await;
    assert_eq!(me["kind"], "operator");
    // An admin manages operators; it does not enrol subscribers.
    let body = json!({"kind": "holder", "name": "Example holder"});
    let refused_to_admin = server
        .authed(Method::POST, "/v1/subscribers", &admin)
        .json(&body);
    expect(refused_to_admin, 403).await;
    // Without its terminal certificate the admin cannot log in, nor use its session.
    let plain = Account {
        terminal: None,
        ..operator
    };
    let key = ProofKey::generate().unwrap();
    let url = server.url("/csc/v2/auth/login");
    let basic = STANDARD.encode(format!("operator:{PASSWORD}"));
    let mut plain = plain;
    let no_terminal = server
        .request(Method::POST, "/csc/v2/auth/login")
        .header("Authorization", format!("Basic {basic}"))
        .header("DPoP", key.dpop("POST", &url, None, now_seconds()).unwrap())
        .json(&json!({"otp": plain.next_otp().await}));
    expect(no_terminal, 403).await;
    let stolen = Session {
        key: admin.key,
        access: admin.access.clone(),
        refresh: admin.refresh.clone(),
        terminal: None,
    };
    refused(
        server.authed(Method::GET, "/v1/me", &stolen),
        "operator terminal",
    )
    .await;
    let operator = Account {
        terminal: Some(0),
        ..plain
    };

    // On the host, the admin adds a registration officer, who activates from its own terminal.
    let registrar_code = deployment.add_operator("registrar", "ra_officer");
    let mut registrar = server
        .activate_operator(1, &registrar_code, "registrar")
        .await;
    let op = server.login(&mut registrar).await;

    // The registration officer enrols a holder organisation and a user of it.
    let body = json!({"kind": "holder", "name": "Example holder"});
    let subscriber = expect(
        server
            .authed(Method::POST, "/v1/subscribers", &op)
            .json(&body),
        201,
    )
    .await;
    let subscriber = subscriber["id"].as_str().unwrap();
    let path = format!("/v1/subscribers/{subscriber}/users");
    let body = json!({"username": "alice"});
    let user = expect(server.authed(Method::POST, &path, &op).json(&body), 201).await;
    assert_eq!(user["username"], "alice");

    // The user activates, logs in, and makes and reads a key.
    let mut alice = server
        .activate(user["activation_code"].as_str().unwrap(), "alice")
        .await;
    let session = server.login(&mut alice).await;
    let me = expect(server.authed(Method::GET, "/v1/me", &session), 200).await;
    assert_eq!(me["kind"], "user");
    assert_eq!(me["id"], user["account_id"]);
    assert_eq!(me["subscriber"], subscriber);
    assert_eq!(me["method"], "password+totp");
    let body = json!({"algorithm": "ES256", "label": "e2e key", "pin": "123456"});
    let key = expect(
        server
            .authed(Method::POST, "/v1/keys", &session)
            .json(&body),
        201,
    )
    .await;
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["owner"], subscriber);
    let path = format!("/v1/keys/{}", key["id"].as_str().unwrap());
    let read = expect(server.authed(Method::GET, &path, &session), 200).await;
    assert_eq!(read["id"], key["id"]);
    assert_eq!(read["public_jwk"], key["public_jwk"]);

    // The token alone is useless: no proof, another key's proof, a replayed proof, a proof
    // for another URL or method are all refused.
    let me_url = server.url("/v1/me");
    let me_with = |proof: &str| {
        server
            .with_token(Method::GET, "/v1/me", &session)
            .header("DPoP", proof)
    };
    let no_proof = server.with_token(Method::GET, "/v1/me", &session);
    let body = refused(no_proof, "DPoP proof (RFC 9449) is required").await;
    assert_eq!(body["error"], "invalid_token");
    let thief = ProofKey::generate().unwrap();
    let proof = thief.dpop("GET", &me_url, Some(&session.access), now_seconds());
    refused(me_with(&proof.unwrap()), "not signed with the key").await;
    let proof = session.proof("GET", &me_url);
    expect(me_with(&proof), 200).await;
    refused(me_with(&proof), "replay").await;
    let proof = session.proof("GET", &server.url("/v1/keys"));
    refused(me_with(&proof), "`htu`").await;
    let proof = session.proof("POST", &me_url);
    refused(me_with(&proof), "`htm`").await;
    expect(server.authed(Method::GET, "/v1/me", &session), 200).await;

    // Logout ends the session: its access and refresh tokens stop working.
    let logout = server.authed(Method::POST, "/csc/v2/auth/revoke", &session);
    expect(logout, 204).await;
    refused(
        server.authed(Method::GET, "/v1/me", &session),
        "session has ended",
    )
    .await;
    let login_url = server.url("/csc/v2/auth/login");
    let proof = session.key.dpop("POST", &login_url, None, now_seconds());
    let refresh = server
        .request(Method::POST, "/csc/v2/auth/login")
        .header("DPoP", proof.unwrap())
        .json(&json!({"refresh_token": session.refresh}));
    refused(refresh, "session has ended").await;

    // Metrics and readiness details only on the operators' plain listener (criteria
    // 2.1.3(6)); the public one says no more than ready.
    let public = server
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let ready = expect(server.request(Method::GET, "/ready"), 200).await;
    assert_eq!(ready, json!({"status": "ready"}));
    let line = server
        .wait_for_line("metrics and readiness details on http://")
        .await;
    let metrics_url = after(&line, "details on ", " (");
    let plain = reqwest::Client::new();
    let details: Value = plain
        .get(format!("{metrics_url}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(details["log_size"].as_u64().unwrap() > 0, "{details}");
    let metrics = plain
        .get(format!("{metrics_url}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("inkan_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/me\""), "{metrics}");

    let (status, stdout) = server.stop().await;
    assert!(status.success(), "{status}");
    assert!(stdout.iter().any(|l| l == "inkan stopping"), "{stdout:?}");

    // The log (stderr, JSON lines) has none of the secrets that went over the wire.
    let log = server.stderr.lock().unwrap().join("\n");
    assert!(log.contains("inkan is serving"), "{log}");
    let user_code = user["activation_code"].as_str().unwrap();
    let seeds = [totp::base32(&operator.seed), totp::base32(&alice.seed)];
    let tokens = [&op.access, &op.refresh, &session.access, &session.refresh];
    for secret in [PASSWORD, &code, user_code, &seeds[0], &seeds[1]]
        .into_iter()
        .chain(tokens.map(String::as_str))
    {
        assert!(!log.contains(secret), "the log shows a secret");
    }
}

#[tokio::test]
async fn restart_keeps_state_and_prints_no_new_code() {
    let deployment = Deployment::new();
    let mut first = deployment.start().await;
    let code = first.bootstrap_code().await;
    let mut operator = first.activate_operator(0, &code, "operator").await;
    let fingerprint = first.fingerprint.clone();
    let (status, _) = first.stop().await;
    assert!(status.success(), "{status}");
    drop(first);

    let mut second = deployment.start().await;
    assert!(
        second.cert_line.contains("(loaded)"),
        "{}",
        second.cert_line
    );
    assert_eq!(second.fingerprint, fingerprint);
    let op = second.login(&mut operator).await;
    let me = expect(second.authed(Method::GET, "/v1/me", &op), 200).await;
    assert_eq!(me["kind"], "operator");
    let (status, stdout) = second.stop().await;
    assert!(status.success(), "{status}");
    assert!(
        !stdout.iter().any(|l| l.contains("activation code")),
        "{stdout:?}"
    );
}

/// An operator who never activated is not locked out: each start replaces the code (the
/// earlier one, perhaps expired, stops working) and prints the new one.
#[tokio::test]
async fn restart_before_activation_prints_a_new_code() {
    let deployment = Deployment::new();
    let mut first = deployment.start().await;
    let old = first.bootstrap_code().await;
    let (status, _) = first.stop().await;
    assert!(status.success(), "{status}");
    drop(first);

    let mut second = deployment.start().await;
    let new = second.bootstrap_code().await;
    assert_ne!(new, old);
    let body = json!({"activation_code": old, "password": PASSWORD});
    expect(
        second.request(Method::POST, "/v1/activation").json(&body),
        400,
    )
    .await;
    let mut operator = second.activate_operator(0, &new, "operator").await;
    let op = second.login(&mut operator).await;
    let me = expect(second.authed(Method::GET, "/v1/me", &op), 200).await;
    assert_eq!(me["kind"], "operator");
    let (status, _) = second.stop().await;
    assert!(status.success(), "{status}");
    drop(second);

    // Activated: the next start prints no code, and neither code works any more.
    let mut third = deployment.start().await;
    for code in [&old, &new] {
        let body = json!({"activation_code": code, "password": PASSWORD});
        expect(
            third.request(Method::POST, "/v1/activation").json(&body),
            400,
        )
        .await;
    }
    let (status, stdout) = third.stop().await;
    assert!(status.success(), "{status}");
    assert!(
        !stdout.iter().any(|l| l.contains("activation code")),
        "{stdout:?}"
    );
}

#[tokio::test]
async fn plain_http_is_refused() {
    let deployment = Deployment::new();
    let server = deployment.start().await;
    let port = server.url.rsplit(':').next().unwrap();
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let result = plain
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(result.is_err(), "plain HTTP got an answer: {result:?}");

    // Byte for byte: whatever comes back is not an HTTP response.
    let mut tcp = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // The listener still serves TLS.
    expect(server.request(Method::GET, "/health"), 200).await;
}

/// The README's first command works in an empty folder: it generates what it needs under
/// `./inkan-data`, owner-only, and serves.
#[tokio::test]
async fn readme_first_command_serves_from_an_empty_folder() {
    let deployment = Deployment::embedded_default();
    let mut server = deployment.start().await;
    assert!(server.cert_line.contains("(generated now, self-signed)"));
    server.bootstrap_code().await;
    expect(server.request(Method::GET, "/ready"), 200).await;
    use std::os::unix::fs::PermissionsExt as _;
    for private in [
        "inkan-data",
        "inkan-data/kek",
        "inkan-data/secrets.key",
        "inkan-data/tls",
        "inkan-data/tls/server.key",
        "inkan-data/inkan.db",
    ] {
        let mode = std::fs::metadata(deployment.dir.path().join(private))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{private} is readable by others");
    }
    let (status, _) = server.stop().await;
    assert!(status.success());
}
