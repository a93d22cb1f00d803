//! A client of Inkan's HTTPS API, for `inkan demo` and `inkan bench`: it does what a real
//! client must (activation, password + TOTP login, a fresh DPoP proof per request, PIN and OTP
//! encrypted to the activation key, mutual TLS for system clients) and nothing the API does
//! not offer. Holds no business logic of the service; must never print or log a password, TOTP
//! seed, token or SAD.

use base64::Engine as _;
use inkan_server::auth::totp;
use inkan_server::client::{self, ProofKey};
use inkan_server::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// A user's or client's session: the DPoP key and the tokens.
pub struct Session {
    /// The DPoP key (`None` for certificate-bound tokens).
    pub key: Option<ProofKey>,
    /// The access token.
    pub access: String,
    /// The refresh token, when the login asked for one.
    pub refresh: Option<String>,
    /// When the access token expires (Unix seconds, by this client's clock).
    pub expires_at: i64,
}

/// An account's credentials as the demo's "authenticator app" holds them.
#[derive(Clone)]
pub struct Account {
    pub username: String,
    pub password: String,
    pub seed: Vec<u8>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session([redacted])")
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    clock: Arc<dyn Clock>,
}

/// A fresh self-signed certificate for `name` and its key: (certificate PEM, certificate and
/// key PEM for [`Client::new`]'s `identity`). A terminal or a system client presents it.
pub fn self_signed_identity(name: &str) -> Result<(String, String), String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let cert = rcgen::CertificateParams::new(vec![name.into()])
        .map_err(|e| e.to_string())?
        .self_signed(&key)
        .map_err(|e| e.to_string())?
        .pem();
    let identity = format!("{cert}{}", key.serialize_pem());
    Ok((cert, identity))
}

/// An operator of `role` created on the host (what `inkan operators add` does), activated
/// from a new terminal of its own: the terminal's client (presenting its certificate, which
/// activation registers), the account, ready to log in, and the terminal's certificate and
/// key (PEM).
pub async fn new_operator(
    server: &inkan_server::api::server::Server,
    server_cert_pem: &[u8],
    clock: Arc<dyn Clock>,
    username: &str,
    password: &str,
    role: inkan_server::auth::operators::OperatorRole,
) -> Result<(Client, Account, String), String> {
    let created = server
        .auth
        .create_operator(
            inkan_server::service::host_operator(username),
            username,
            role,
        )
        .await
        .map_err(|e| e.to_string())?;
    let (_, identity) = self_signed_identity(&format!("{username}.terminal.inkan"))?;
    let terminal = Client::new(&server.public_url, server_cert_pem, Some(&identity), clock)?;
    let account = terminal
        .activate(username, &created.activation_code, password)
        .await?;
    Ok((terminal, account, identity))
}

/// A request that failed, with the service's answer.
pub fn failure(status: StatusCode, body: &Value) -> String {
    format!(
        "HTTP {status}: {}",
        body.get("error_description")
            .and_then(Value::as_str)
            .unwrap_or("no description")
    )
}

impl Client {
    /// A client of the service at `base` trusting `server_cert_pem`, with a client certificate
    /// (`cert_pem` + `key_pem`) when given.
    pub fn new(
        base: &str,
        server_cert_pem: &[u8],
        identity: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            // Passwords, PINs, tokens and DPoP proofs go to the pinned service only: never in
            // the clear, never along a redirect.
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .add_root_certificate(
                reqwest::Certificate::from_pem(server_cert_pem).map_err(|e| e.to_string())?,
            )
            .pool_max_idle_per_host(64);
        if let Some(pem) = identity {
            builder = builder
                .identity(reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| e.to_string())?);
        }
        Ok(Client {
            http: builder.build().map_err(|e| e.to_string())?,
            base: base.trim_end_matches('/').to_owned(),
            clock,
        })
    }

    fn now_seconds(&self) -> i64 {
        self.clock.now() / 1000
    }

    /// The current TOTP code of `account`.
    pub fn otp(&self, account: &Account) -> String {
        totp::code_at_step(&account.seed, totp::step_at(self.clock.now()))
    }

    /// Sends a request; returns the status and the JSON body (`null` when empty).
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Value), String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Ok((status, body))
    }

    /// POSTs JSON without authentication; fails unless the status is `expect`.
    pub async fn post_public(
        &self,
        path: &str,
        body: &Value,
        expect: StatusCode,
    ) -> Result<Value, String> {
        let (status, answer) = self.post_json(path, body).await?;
        if status != expect {
            return Err(format!("POST {path}: {}", failure(status, &answer)));
        }
        Ok(answer)
    }

    /// POSTs JSON without authentication: the status and the JSON answer, whatever they are.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<(StatusCode, Value), String> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// GETs a public resource; fails unless the status is 200.
    pub async fn get_public(&self, path: &str) -> Result<Value, String> {
        let (status, answer) = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await?;
        if status != StatusCode::OK {
            return Err(format!("GET {path}: {}", failure(status, &answer)));
        }
        Ok(answer)
    }

    /// GETs `url` (absolute) without authentication, as a verifier fetches a published
    /// document: its media type and bytes. Fails unless the status is 200.
    pub async fn get_public_bytes(&self, url: &str) -> Result<(String, Vec<u8>), String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok((media_type, bytes.to_vec()))
    }

    /// Activates an account with its one-time code: sets the password, enrols the TOTP seed
    /// (returned) and confirms it with a first code.
    pub async fn activate(
        &self,
        username: &str,
        code: &str,
        password: &str,
    ) -> Result<Account, String> {
        let started = self
            .post_public(
                "/v1/activation",
                &json!({"activation_code": code, "password": password}),
                StatusCode::OK,
            )
            .await?;
        let seed = started["totp_secret"]
            .as_str()
            .and_then(totp::base32_decode)
            .ok_or("the activation gave no TOTP seed")?
            .to_vec();
        let account = Account {
            username: username.into(),
            password: password.into(),
            seed,
        };
        self.post_public(
            "/v1/activation/complete",
            &json!({"activation_code": code, "otp": self.otp(&account)}),
            StatusCode::NO_CONTENT,
        )
        .await?;
        Ok(account)
    }

    /// CSC `auth/login` with password and the current OTP, bound to a fresh DPoP key.
    pub async fn login(&self, account: &Account) -> Result<Session, String> {
        self.login_at(account, self.clock.now()).await
    }

    /// As [`login`](Self::login), with the OTP of the step containing `otp_time` (Unix ms).
    pub async fn login_at(&self, account: &Account, otp_time: i64) -> Result<Session, String> {
        let key = ProofKey::generate().map_err(|e| e.to_string())?;
        let otp = totp::code_at_step(&account.seed, totp::step_at(otp_time));
        self.login_with(key, &account.username, &account.password, &otp, false)
            .await
    }

    /// CSC `auth/login` with a password and a one-time password the caller has, bound to
    /// `key`; with a refresh token when `remember` is set.
    pub async fn login_with(
        &self,
        key: ProofKey,
        username: &str,
        password: &str,
        otp: &str,
        remember: bool,
    ) -> Result<Session, String> {
        let basic = zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")),
        );
        let body = json!({"otp": otp, "rememberMe": remember});
        self.csc_login(key, Some(&basic), &body)
            .await
            .map_err(|e| format!("login of {username}: {e}"))
    }

    /// A new access token for `key`'s session from its refresh token.
    pub async fn refresh(&self, key: ProofKey, refresh_token: &str) -> Result<Session, String> {
        let body = json!({"refresh_token": refresh_token});
        self.csc_login(key, None, &body)
            .await
            .map_err(|e| format!("refreshing the session: {e}"))
    }

    async fn csc_login(
        &self,
        key: ProofKey,
        basic: Option<&str>,
        body: &Value,
    ) -> Result<Session, String> {
        let url = format!("{}/csc/v2/auth/login", self.base);
        let proof = key
            .dpop("POST", &url, None, self.now_seconds())
            .map_err(|e| e.to_string())?;
        let mut request = self.http.post(&url).header("DPoP", proof).json(body);
        if let Some(basic) = basic {
            request = request.header("Authorization", format!("Basic {basic}"));
        }
        let (status, body) = self.send(request).await?;
        if status != StatusCode::OK {
            return Err(failure(status, &body));
        }
        Ok(self.session(Some(key), &body))
    }

    fn session(&self, key: Option<ProofKey>, tokens: &Value) -> Session {
        Session {
            key,
            access: tokens["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh: tokens["refresh_token"].as_str().map(str::to_owned),
            expires_at: self.now_seconds() + tokens["expires_in"].as_i64().unwrap_or_default(),
        }
    }

    /// A system client's token over mutual TLS (this client's certificate).
    pub async fn client_token(&self) -> Result<Session, String> {
        let (status, body) = self
            .send(
                self.http
                    .post(format!("{}/oauth2/token", self.base))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await?;
        if status != StatusCode::OK {
            return Err(format!("client token: {}", failure(status, &body)));
        }
        Ok(self.session(None, &body))
    }

    /// An authenticated request (DPoP proof or certificate-bound bearer token).
    pub fn request(
        &self,
        session: &Session,
        method: Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, String> {
        let url = format!("{}{}", self.base, path);
        let path_only = url.split('?').next().unwrap_or(&url).to_owned();
        let builder = self.http.request(method.clone(), &url);
        Ok(match &session.key {
            Some(key) => {
                let proof = key
                    .dpop(
                        method.as_str(),
                        &path_only,
                        Some(&session.access),
                        self.now_seconds(),
                    )
                    .map_err(|e| e.to_string())?;
                builder
                    .header("Authorization", format!("DPoP {}", session.access))
                    .header("DPoP", proof)
            }
            None => builder.bearer_auth(&session.access),
        })
    }

    /// An authenticated JSON call; fails unless the status is `expect`.
    pub async fn call(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expect: StatusCode,
    ) -> Result<Value, String> {
        let mut request = self.request(session, method.clone(), path)?;
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, answer) = self.send(request).await?;
        if status != expect {
            return Err(format!("{method} {path}: {}", failure(status, &answer)));
        }
        Ok(answer)
    }

    /// Activation data for `session`: a fresh nonce from the service, the plaintext `build`
    /// makes with it, encrypted to the service's activation key (compact JWE).
    pub async fn activation_data(
        &self,
        session: &Session,
        build: impl FnOnce(&str) -> Result<Value, String>,
    ) -> Result<String, String> {
        let (_, info) = self
            .send(
                self.http
                    .post(format!("{}/csc/v2/info", self.base))
                    .json(&json!({})),
            )
            .await?;
        let activation_key = &info["signatureActivation"]["activationKey"];
        let nonce = self
            .call(
                session,
                Method::POST,
                "/v1/signature-activation/nonce",
                None,
                StatusCode::OK,
            )
            .await?;
        let nonce = nonce["nonce"]
            .as_str()
            .ok_or("the nonce endpoint gave no nonce")?;
        client::encrypt_activation_data(activation_key, &build(nonce)?).map_err(|e| e.to_string())
    }

    /// CSC `credentials/authorize`: a fresh nonce, then the hashes' digest (and for a
    /// presentation the digest of what was shown), the nonce, the PIN and the current OTP
    /// encrypted to the activation key; returns the SAD.
    pub async fn authorize(
        &self,
        session: &Session,
        account: &Account,
        key_id: &str,
        pin: &str,
        hashes: &[String],
        shown: Option<&str>,
    ) -> Result<String, String> {
        self.authorize_with_otp(session, key_id, pin, &self.otp(account), hashes, shown)
            .await
    }

    /// As [`authorize`](Self::authorize), with a one-time password the caller has.
    pub async fn authorize_with_otp(
        &self,
        session: &Session,
        key_id: &str,
        pin: &str,
        otp: &str,
        hashes: &[String],
        shown: Option<&str>,
    ) -> Result<String, String> {
        const SHA256: &str = "2.16.840.1.101.3.4.2.1";
        let jwe = self
            .activation_data(session, |nonce| {
                client::authorize_data(key_id, SHA256, hashes, shown, nonce, pin, otp)
                    .map_err(|e| e.to_string())
            })
            .await?;
        let body = json!({
            "credentialID": key_id,
            "numSignatures": hashes.len(),
            "hashes": hashes,
            "hashAlgorithmOID": SHA256,
            "activationData": jwe,
            "disclosureDigest": shown,
        });
        let answer = self
            .call(
                session,
                Method::POST,
                "/csc/v2/credentials/authorize",
                Some(&body),
                StatusCode::OK,
            )
            .await?;
        answer["SAD"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "authorize returned no SAD".into())
    }
}
