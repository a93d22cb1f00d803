//! Provisioning a test deployment over its own API, on the real clock: two registration
//! officers, an issuer with a user and a key, and a system client under a standing approval
//! for that key (dual control: one officer asks, the other approves, the user consents). For
//! `inkan bench` and `inkan serve --dev`; never on a deployment outside environment `test`
//! (the callers refuse first).
//!
//! Each account uses at most the current and the next TOTP step (the activation takes the
//! current one, the login the next, which the service accepts as one step of drift).

use crate::api_client::{Account, Client, Session, new_operator, self_signed_identity};
use inkan_server::api::server::Server;
use inkan_server::auth::operators::OperatorRole;
use inkan_server::auth::totp;
use inkan_server::client::ProofKey;
use inkan_server::clock::{Clock as _, SystemClock};
use inkan_server::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use zeroize::Zeroizing;

/// What to make.
pub struct Plan<'a> {
    /// A prefix of every name (`bench`, `dev`).
    pub prefix: &'a str,
    /// The accounts' password.
    pub password: &'a str,
    /// The key's algorithm (`ES256`, …).
    pub algorithm: &'a str,
    /// The key's PIN.
    pub pin: &'a str,
    /// What the system client may do with the key (`sign`, `read`).
    pub operations: &'a [&'a str],
}

/// A person with a session: their client (with their terminal's certificate for an operator),
/// their account, the session and its DPoP key as PKCS#8.
pub struct Person {
    pub api: Client,
    pub account: Account,
    pub session: Session,
    pub dpop_pkcs8: Zeroizing<Vec<u8>>,
    /// The terminal's certificate and key (PEM), for an operator.
    pub identity: Option<Zeroizing<String>>,
    /// The last TOTP step used.
    pub last_otp_step: i64,
}

impl std::fmt::Debug for Plan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("prefix", &self.prefix)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Provisioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioned")
            .field("issuer_id", &self.issuer_id)
            .field("key", &self.key["id"])
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Person {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("username", &self.account.username)
            .finish_non_exhaustive()
    }
}

/// What was made.
pub struct Provisioned {
    pub officer: Person,
    pub second_officer: Person,
    pub issuer_id: String,
    pub clerk: Person,
    /// The key as `POST /v1/keys` answered.
    pub key: Value,
    /// The system client (its certificate presented).
    pub system: Client,
    /// The system client's certificate and key (PEM).
    pub system_identity: Zeroizing<String>,
}

impl Provisioned {
    /// The key's id.
    pub fn key_id(&self) -> String {
        self.key["id"].as_str().unwrap_or_default().to_owned()
    }
}

/// Makes everything in `plan` on `server` (whose TLS certificate is `cert`).
pub async fn issuer_with_client(
    server: &Server,
    cert: &[u8],
    plan: &Plan<'_>,
) -> Result<Provisioned, String> {
    let prefix = plan.prefix;
    let officer = operator(server, cert, &format!("{prefix}-registrar"), plan).await?;
    let api = Client::new(&server.public_url, cert, None, Arc::new(SystemClock))?;
    let issuer = officer
        .api
        .call(
            &officer.session,
            Method::POST,
            "/v1/subscribers",
            Some(&json!({"kind": "issuer", "name": format!("{prefix} issuer")})),
            StatusCode::CREATED,
        )
        .await?;
    let issuer_id = issuer["id"].as_str().unwrap_or_default().to_owned();
    let username = format!("{prefix}-clerk");
    let user = officer
        .api
        .call(
            &officer.session,
            Method::POST,
            &format!("/v1/subscribers/{issuer_id}/users"),
            Some(&json!({"username": username})),
            StatusCode::CREATED,
        )
        .await?;
    let account = api
        .activate(
            &username,
            user["activation_code"].as_str().unwrap_or_default(),
            plan.password,
        )
        .await?;
    let clerk = log_in(api, account, None).await?;
    let key = clerk
        .api
        .call(
            &clerk.session,
            Method::POST,
            "/v1/keys",
            Some(
                &json!({"algorithm": plan.algorithm, "label": format!("{prefix} key"),
                         "pin": plan.pin, "rsa_bits": 2048}),
            ),
            StatusCode::CREATED,
        )
        .await?;
    let key_id = key["id"].as_str().unwrap_or_default().to_owned();
    let (client_cert, identity) = self_signed_identity(&format!("{prefix}.system.example"))?;
    let asked = officer
        .api
        .call(
            &officer.session,
            Method::POST,
            &format!("/v1/subscribers/{issuer_id}/clients"),
            Some(
                &json!({"name": format!("{prefix} system"), "certificate_pem": client_cert,
                     "scope": {"keys": [{"key": key_id, "operations": plan.operations}]}}),
            ),
            StatusCode::ACCEPTED,
        )
        .await?;
    let request = asked["id"].as_str().unwrap_or_default().to_owned();
    let second_officer =
        operator(server, cert, &format!("{prefix}-second-registrar"), plan).await?;
    second_officer
        .api
        .call(
            &second_officer.session,
            Method::POST,
            &format!("/v1/approvals/{request}/approve"),
            None,
            StatusCode::OK,
        )
        .await?;
    clerk
        .api
        .call(
            &clerk.session,
            Method::POST,
            &format!("/v1/approvals/{request}/consent"),
            None,
            StatusCode::OK,
        )
        .await?;
    let system = Client::new(
        &server.public_url,
        cert,
        Some(&identity),
        Arc::new(SystemClock),
    )?;
    Ok(Provisioned {
        officer,
        second_officer,
        issuer_id,
        clerk,
        key,
        system,
        system_identity: Zeroizing::new(identity),
    })
}

/// A registration officer added on the host, activated from a new terminal and logged in.
async fn operator(
    server: &Server,
    cert: &[u8],
    username: &str,
    plan: &Plan<'_>,
) -> Result<Person, String> {
    let (api, account, identity) = new_operator(
        server,
        cert,
        Arc::new(SystemClock),
        username,
        plan.password,
        OperatorRole::RaOfficer,
    )
    .await?;
    log_in(api, account, Some(Zeroizing::new(identity))).await
}

/// Logs in with the next step's code (the activation used the current one), asking for a
/// refresh token.
async fn log_in(
    api: Client,
    account: Account,
    identity: Option<Zeroizing<String>>,
) -> Result<Person, String> {
    let step = totp::step_at(SystemClock.now()) + 1;
    let (key, dpop_pkcs8) = ProofKey::generate_storable().map_err(|e| e.to_string())?;
    let otp = totp::code_at_step(&account.seed, step);
    let session = api
        .login_with(key, &account.username, &account.password, &otp, true)
        .await?;
    Ok(Person {
        api,
        account,
        session,
        dpop_pkcs8,
        identity,
        last_otp_step: step,
    })
}

/// A configuration of environment `test` with everything in `dir` (SQLite, unless `store`
/// names another store; the software token, a generated TLS certificate), listening on
/// `listen`, with `extra` TOML appended. Written to `dir/inkan.toml` and loaded from there,
/// without the `INKAN_` variables.
pub fn test_config(
    dir: &Path,
    listen: &str,
    store: Option<&str>,
    extra: &str,
) -> Result<Config, String> {
    let d = dir.display();
    let store = match store {
        Some(url) if url.contains(['"', '\\']) || url.chars().any(char::is_control) => {
            return Err("the store URL has a quote, a backslash or a control character".into());
        }
        Some(url) => format!("\"{url}\""),
        None => format!("\"sqlite://{d}/inkan.db\""),
    };
    let text = format!(
        "environment = \"test\"\n\
         [store]\nurl = {store}\n\
         [device]\nkind = \"soft\"\npath = \"{d}/soft-token\"\nkek_file = \"{d}/kek\"\n\
         [server]\nlisten = \"{listen}\"\ntls_certificate = \"{d}/tls/server.crt\"\n\
         tls_key = \"{d}/tls/server.key\"\nsecrets_key_file = \"{d}/secrets.key\"\n\
         [signing]\nactivation_key_file = \"{d}/activation.key\"\n{extra}"
    );
    let path = dir.join("inkan.toml");
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
    Config::load(Some(&path), std::iter::empty()).map_err(|e| e.to_string())
}
