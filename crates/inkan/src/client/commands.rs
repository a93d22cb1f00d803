//! The `inkan client` subcommands: each names its API calls and prints the answer.

use super::profile::{self, Profile, Settings};
use super::{Connection, output};
use clap::Subcommand;
use inkan_log::entry::Entry;
use inkan_log::note::NoteVerifier;
use inkan_log::receipt::Receipt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Largest document read from a file.
const MAX_DOCUMENT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Make a profile: the service's URL and certificate, and who you are there.
    Init {
        /// The service's public URL (as `inkan serve` prints it).
        #[arg(long)]
        url: String,
        /// The service's TLS certificate (PEM; compare its fingerprint with what the server
        /// printed). Copied into the profile.
        #[arg(long)]
        server_certificate: PathBuf,
        /// A person's username (omit for a system client).
        #[arg(long)]
        username: Option<String>,
        /// A client certificate and key (PEM) to present: a terminal's or a system client's.
        #[arg(long, conflicts_with = "new_identity")]
        identity: Option<PathBuf>,
        /// Make a fresh self-signed client certificate with this DNS name (a new terminal, or
        /// a system client to register); its certificate is written to `client.crt`.
        #[arg(long)]
        new_identity: Option<String>,
        /// A file the password is read from (else asked at each login).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// A file with the TOTP seed (base32): the client then computes the one-time passwords.
        #[arg(long)]
        totp_seed_file: Option<PathBuf>,
        /// A file the signing PIN is read from (else asked when one is needed).
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Activate the profile's account with its one-time activation code: sets the password
    /// (read as at login) and enrols TOTP. The authenticator's `otpauth://` URI is shown once on
    /// the terminal; the first code is asked for (or `--otp`).
    Activate {
        /// The activation code (both halves, `first.second`, for an enrolled user).
        code: String,
        /// The first one-time password from the authenticator app.
        #[arg(long, conflicts_with = "store_totp_seed")]
        otp: Option<String>,
        /// Keep the TOTP seed in the profile (`totp-seed`, mode 0600) and compute the codes
        /// here instead of an authenticator app: for test deployments and automation only,
        /// since the folder then holds the second factor too.
        #[arg(long)]
        store_totp_seed: bool,
    },
    /// Log in (a person: password + one-time password; a system client: its certificate).
    Login {
        /// The one-time password (else from the profile's seed file, else asked).
        #[arg(long)]
        otp: Option<String>,
    },
    /// Log out: the service revokes the session, the profile forgets it.
    Logout,
    /// Who the session is.
    Me,
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign SHA-256 hashes (base64) with a key: the PIN and a one-time password authorise
    /// exactly these hashes (CSC `credentials/authorize`, then `signatures/signHash`).
    SignHash {
        /// The key.
        #[arg(long)]
        key: String,
        /// A file the PIN is read from (else the profile's, else asked).
        #[arg(long)]
        pin_file: Option<PathBuf>,
        /// The hashes, base64 (standard alphabet, as CSC sends them).
        #[arg(required = true)]
        hashes: Vec<String>,
    },
    /// Issue a credential as a system client (standing approval).
    Issue {
        /// `vc-jwt` or `ldp-vc` (FILE is the unsigned credential), `sd-jwt` or `mdoc` (FILE is
        /// the request body of `/v1/credentials/sd-jwt` or `/v1/credentials/mdoc`).
        #[arg(long, value_parser = ["vc-jwt", "ldp-vc", "sd-jwt", "mdoc"])]
        format: String,
        /// The key (else the service chooses from the client's scope).
        #[arg(long)]
        key: Option<String>,
        /// For `ldp-vc`: the cryptosuite.
        #[arg(long)]
        cryptosuite: Option<String>,
        /// Write the credential here, and its receipt to `<out>.receipt`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The document (`-` for standard input).
        file: PathBuf,
    },
    /// Sign a presentation as a holder: shows what would be disclosed, then authorises exactly
    /// that with the PIN and a one-time password (`/v1/holder/prepare`, `authorize`,
    /// `/v1/holder/sign`).
    Present {
        /// The holder's key.
        #[arg(long)]
        key: String,
        /// A file the PIN is read from (else the profile's, else asked).
        #[arg(long)]
        pin_file: Option<PathBuf>,
        /// Write the presentation here, and its receipt to `<out>.receipt`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Sign without asking (what is disclosed is still printed); needed when standard input
        /// is not a terminal.
        #[arg(long)]
        yes: bool,
        /// The presentation request: the `document` of `/v1/holder/prepare` (`-` for
        /// standard input).
        file: PathBuf,
    },
    /// Verify a credential or presentation at the service (a JSON document, or a JWT, SD-JWT
    /// or CBOR text); exit 1 unless it verifies.
    Verify {
        /// It is a presentation (else found from a JSON document's `type`).
        #[arg(long)]
        presentation: bool,
        /// The challenge (nonce) a presentation must carry.
        #[arg(long)]
        challenge: Option<String>,
        /// The domain (audience) a presentation must carry.
        #[arg(long)]
        domain: Option<String>,
        /// The document (`-` for standard input).
        file: PathBuf,
    },
    /// Status lists: make one, or change the status of a credential in its lists.
    Status {
        #[command(subcommand)]
        command: StatusCommand,
    },
    /// Dual-control requests.
    Approvals {
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// Subscribers (registration officers).
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// System clients (registration officers): register one with its scope.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Find Inkan's signatures of a digest (or of a credential file) and check each receipt
    /// offline against the log's public key.
    Receipt {
        /// `sha-256:<hex>`, or a file holding a VC-JWT, an SD-JWT or an enveloped VC-JWT.
        of: String,
        /// The log's public key (C2SP vkey) to check against; default: the one the service
        /// publishes (`GET /v1/log/key`), fetched over the profile's pinned TLS.
        #[arg(long)]
        log_key: Option<String>,
        /// Write each receipt to this folder (`<logIndex>.receipt`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Any API call, with the session's authentication (DPoP proof or client certificate).
    Call {
        /// GET, POST, PUT, DELETE.
        #[arg(value_parser = ["GET", "POST", "PUT", "DELETE", "PATCH"])]
        method: String,
        /// The path, e.g. `/v1/keys`.
        path: String,
        /// A JSON body from this file (`-` for standard input).
        #[arg(long)]
        body: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The session's keys.
    List,
    /// Generate a key in the crypto device.
    Create {
        /// ES256, ES384, Ed25519, …
        #[arg(long, default_value = "ES256")]
        algorithm: String,
        /// A label.
        #[arg(long)]
        label: String,
        /// A file the PIN is read from (else the profile's, else asked).
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// One key, with its live status.
    Show {
        /// The key.
        id: String,
    },
    /// Change a key's PIN (the current PIN, a one-time password, the new PIN).
    SetPin {
        /// The key.
        id: String,
        /// A file the current PIN is read from (else the profile's, else asked).
        #[arg(long)]
        pin_file: Option<PathBuf>,
        /// A file the new PIN is read from (else asked).
        #[arg(long)]
        new_pin_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StatusCommand {
    /// The status lists of the client's keys.
    Lists,
    /// Make a status list for a key.
    Create {
        /// The key that signs the list and its credentials.
        #[arg(long)]
        key: String,
        /// `bitstring` (W3C) or `token` (IETF).
        #[arg(long, default_value = "bitstring")]
        format: String,
        /// For W3C lists: `revocation` or `suspension`.
        #[arg(long)]
        purpose: Option<String>,
    },
    /// Revoke a credential (final), by the digest of its signing input.
    Revoke {
        /// `sha-256:<hex>`.
        digest: String,
    },
    /// Suspend a credential.
    Suspend {
        /// `sha-256:<hex>`.
        digest: String,
    },
    /// Make a suspended credential valid again.
    Resume {
        /// `sha-256:<hex>`.
        digest: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Requests (all, or only pending ones).
    List {
        /// Only pending requests.
        #[arg(long)]
        pending: bool,
    },
    /// One request.
    Show {
        /// The request.
        id: String,
    },
    /// Make a request: a JSON file `{action, …}` (`-` for standard input).
    Request {
        /// The request body.
        file: PathBuf,
    },
    /// Approve another operator's request.
    Approve {
        /// The request.
        id: String,
    },
    /// Consent, as a user of the subscriber, to a client's registration.
    Consent {
        /// The request.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Make a subscriber (environment `test`; elsewhere enrolment goes through applications).
    Create {
        /// `issuer` or `holder`.
        #[arg(long, value_parser = ["issuer", "holder"])]
        kind: String,
        /// The name.
        #[arg(long)]
        name: String,
    },
    /// One subscriber.
    Show {
        /// The subscriber.
        id: String,
    },
    /// Add a user; prints their one-time activation code.
    AddUser {
        /// The subscriber.
        id: String,
        /// The user's username.
        #[arg(long)]
        username: String,
    },
    /// End every session of the subscriber's users and clients.
    RevokeSessions {
        /// The subscriber.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Ask to register a system client (another officer approves, a user of the subscriber
    /// consents): prints the request.
    Register {
        /// The subscriber.
        #[arg(long)]
        subscriber: String,
        /// The client's name.
        #[arg(long)]
        name: String,
        /// Its certificate (PEM), for mutual TLS.
        #[arg(long, conflicts_with = "jwk")]
        certificate: Option<PathBuf>,
        /// Its public JWK (JSON), for `private_key_jwt`.
        #[arg(long)]
        jwk: Option<PathBuf>,
        /// A key it may use: `KEY` (read and sign) or `KEY:op,op`. Repeat for more keys.
        #[arg(long = "key", required = true)]
        keys: Vec<String>,
    },
}

/// Runs one command with the profile in `dir`.
pub async fn run(dir: &Path, json: bool, command: Command) -> Result<(), String> {
    // The columns of a list worth a line each; `--json` has everything.
    let columns: Option<&[&str]> = match &command {
        Command::Keys {
            command: KeysCommand::List,
        } => Some(&["id", "alg", "label", "state", "did_key"]),
        Command::Approvals {
            command: ApprovalsCommand::List { .. },
        } => Some(&["id", "action", "state", "required", "expires_at"]),
        _ => None,
    };
    let answer = match command {
        Command::Init {
            url,
            server_certificate,
            username,
            identity,
            new_identity,
            password_file,
            totp_seed_file,
            pin_file,
        } => {
            let absolute = |p: Option<PathBuf>| p.map(|p| std::path::absolute(&p).unwrap_or(p));
            profile::check_url(&url)?;
            profile::create_private_dir(dir)?;
            let certificate = read_file(&server_certificate)?;
            profile::write_private(&dir.join("server.crt"), &certificate)?;
            let identity = match (identity, new_identity) {
                (Some(path), _) => absolute(Some(path)),
                (None, Some(name)) => {
                    let (cert, both) = crate::api_client::self_signed_identity(&name)?;
                    profile::write_private(&dir.join("client.pem"), both.as_bytes())?;
                    profile::write_private(&dir.join("client.crt"), cert.as_bytes())?;
                    Some(PathBuf::from("client.pem"))
                }
                (None, None) => None,
            };
            let settings = Settings {
                url,
                server_certificate: "server.crt".into(),
                identity,
                username,
                password_file: absolute(password_file),
                totp_seed_file: absolute(totp_seed_file),
                pin_file: absolute(pin_file),
            };
            // A new profile starts without a session: an old one was for another service or
            // person.
            let _lock = Profile::lock(dir)?;
            let state = dir.join("state.json");
            if state.exists() {
                std::fs::remove_file(&state)
                    .map_err(|e| format!("removing {}: {e}", state.display()))?;
            }
            Profile::create(dir, settings)?;
            json!({"profile": dir.display().to_string()})
        }
        Command::Activate {
            code,
            otp,
            store_totp_seed,
        } => activate(dir, &code, otp, store_totp_seed).await?,
        Command::Login { otp } => Connection::open(dir)?.login(otp).await?,
        Command::Logout => Connection::open(dir)?.logout().await?,
        Command::Me => {
            Connection::open(dir)?
                .call(Method::GET, "/v1/me", None)
                .await?
        }
        Command::Keys { command } => keys(&Connection::open(dir)?, command).await?,
        Command::SignHash {
            key,
            pin_file,
            hashes,
        } => sign_hash(&Connection::open(dir)?, &key, pin_file.as_ref(), &hashes).await?,
        Command::Issue {
            format,
            key,
            cryptosuite,
            out,
            file,
        } => {
            let document = read_json(&file)?;
            let connection = Connection::open(dir)?;
            let (path, mut body) = match format.as_str() {
                "vc-jwt" | "ldp-vc" => {
                    let mut options = json!({
                        "format": if format == "vc-jwt" { "vc+jwt" } else { "ldp_vc" },
                    });
                    if let Some(key) = &key {
                        options["keyId"] = key.as_str().into();
                    }
                    if let Some(suite) = &cryptosuite {
                        options["cryptosuite"] = suite.as_str().into();
                    }
                    (
                        "/credentials/issue",
                        json!({"credential": document, "options": options}),
                    )
                }
                "sd-jwt" => ("/v1/credentials/sd-jwt", document),
                _ => ("/v1/credentials/mdoc", document),
            };
            if let (Some(key), false) = (&key, path == "/credentials/issue") {
                body["credentialID"] = key.as_str().into();
            }
            let answer = connection.call(Method::POST, path, Some(&body)).await?;
            let credential = answer
                .get("verifiableCredential")
                .or_else(|| answer.get("credential"))
                .cloned()
                .unwrap_or(Value::Null);
            signed_output(&credential, &answer, out.as_deref(), json)?
        }
        Command::Present {
            key,
            pin_file,
            out,
            yes,
            file,
        } => {
            let connection = Connection::open(dir)?;
            let document = read_json(&file)?;
            let prepared = connection
                .call(
                    Method::POST,
                    "/v1/holder/prepare",
                    Some(&json!({"credentialID": key, "document": document})),
                )
                .await?;
            // What is approved is what is shown here: the digest is recomputed from the summary
            // printed, never taken from the service on trust (issue 18 point 3).
            let summary = &prepared["summary"];
            let shown = inkan_server::activation::disclosure_digest(
                document["format"].as_str().unwrap_or_default(),
                &key,
                prepared["issuedAt"]
                    .as_i64()
                    .ok_or("the service gave no issuedAt")?,
                summary,
            )
            .map_err(|e| e.to_string())?;
            if prepared["disclosureDigest"].as_str() != Some(shown.as_str()) {
                return Err(
                    "the service's disclosure digest is not that of what it showed: \
                            nothing was signed"
                        .into(),
                );
            }
            eprintln!(
                "disclosing: {}",
                output::sanitize(&serde_json::to_string_pretty(summary).unwrap_or_default())
            );
            if !yes {
                if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    return Err("give --yes to sign without a terminal to confirm on".into());
                }
                let answer = super::prompt_line("sign this presentation? [y/N] ")?;
                if !matches!(answer.as_str(), "y" | "Y" | "yes") {
                    return Err("not signed".into());
                }
            }
            let hashes: Vec<String> = serde_json::from_value(prepared["hashes"].clone())
                .map_err(|_| "the service gave no hashes to authorise")?;
            let sad = connection
                .authorize(&key, &hashes, Some(&shown), pin_file.as_ref())
                .await?;
            let body = json!({
                "credentialID": key, "document": document,
                "issuedAt": prepared["issuedAt"], "SAD": sad.as_str(),
            });
            let answer = connection
                .call(Method::POST, "/v1/holder/sign", Some(&body))
                .await?;
            signed_output(&answer["document"], &answer, out.as_deref(), json)?
        }
        Command::Verify {
            presentation,
            challenge,
            domain,
            file,
        } => verify(dir, presentation, challenge, domain, &file).await?,
        Command::Status { command } => status(&Connection::open(dir)?, command).await?,
        Command::Approvals { command } => {
            let connection = Connection::open(dir)?;
            match command {
                ApprovalsCommand::List { pending } => {
                    let path = if pending {
                        "/v1/approvals?state=pending"
                    } else {
                        "/v1/approvals"
                    };
                    connection.call(Method::GET, path, None).await?
                }
                ApprovalsCommand::Show { id } => {
                    let path = format!("/v1/approvals/{}", segment(&id)?);
                    connection.call(Method::GET, &path, None).await?
                }
                ApprovalsCommand::Request { file } => {
                    let body = read_json(&file)?;
                    connection
                        .call(Method::POST, "/v1/approvals", Some(&body))
                        .await?
                }
                ApprovalsCommand::Approve { id } => {
                    let path = format!("/v1/approvals/{}/approve", segment(&id)?);
                    connection.call(Method::POST, &path, None).await?
                }
                ApprovalsCommand::Consent { id } => {
                    let path = format!("/v1/approvals/{}/consent", segment(&id)?);
                    connection.call(Method::POST, &path, None).await?
                }
            }
        }
        Command::Subscribers { command } => {
            let connection = Connection::open(dir)?;
            match command {
                SubscribersCommand::Create { kind, name } => {
                    let body = json!({"kind": kind, "name": name});
                    connection
                        .call(Method::POST, "/v1/subscribers", Some(&body))
                        .await?
                }
                SubscribersCommand::Show { id } => {
                    let path = format!("/v1/subscribers/{}", segment(&id)?);
                    connection.call(Method::GET, &path, None).await?
                }
                SubscribersCommand::AddUser { id, username } => {
                    let path = format!("/v1/subscribers/{}/users", segment(&id)?);
                    let body = json!({"username": username});
                    connection.call(Method::POST, &path, Some(&body)).await?
                }
                SubscribersCommand::RevokeSessions { id } => {
                    let path = format!("/v1/subscribers/{}/sessions/revoke", segment(&id)?);
                    connection.call(Method::POST, &path, None).await?
                }
            }
        }
        Command::Clients {
            command:
                ClientsCommand::Register {
                    subscriber,
                    name,
                    certificate,
                    jwk,
                    keys,
                },
        } => {
            let scope: Vec<Value> = keys
                .iter()
                .map(|spec| match spec.split_once(':') {
                    Some((key, ops)) => {
                        json!({"key": key, "operations": ops.split(',').collect::<Vec<_>>()})
                    }
                    None => json!({"key": spec, "operations": ["read", "sign"]}),
                })
                .collect();
            let mut body = json!({"name": name, "scope": {"keys": scope}});
            match (certificate, jwk) {
                (Some(path), None) => {
                    body["certificate_pem"] = String::from_utf8(read_file(&path)?)
                        .map_err(|_| format!("{} is not PEM text", path.display()))?
                        .into();
                }
                (None, Some(path)) => body["jwk"] = read_json(&path)?,
                _ => return Err("give the client's --certificate or its --jwk".into()),
            }
            let path = format!("/v1/subscribers/{}/clients", segment(&subscriber)?);
            Connection::open(dir)?
                .call(Method::POST, &path, Some(&body))
                .await?
        }
        Command::Receipt { of, log_key, out } => {
            receipt(&Connection::open(dir)?, &of, log_key, out.as_deref()).await?
        }
        Command::Call { method, path, body } => {
            let method = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
            if !path.starts_with('/') {
                return Err("the path starts with / (it is relative to the profile's URL)".into());
            }
            let body = body.map(|file| read_json(&file)).transpose()?;
            Connection::open(dir)?
                .call(method, &path, body.as_ref())
                .await?
        }
    };
    output::print(&answer, json, columns);
    Ok(())
}

async fn activate(
    dir: &Path,
    code: &str,
    otp: Option<String>,
    store_seed: bool,
) -> Result<Value, String> {
    let mut connection = Connection::open(dir)?;
    let settings = &connection.profile().settings;
    let username = settings
        .username
        .clone()
        .ok_or("the profile names no username (inkan client init --username)")?;
    let password = connection.secret(
        settings.password_file.as_ref(),
        &format!("new password of {username}: "),
    )?;
    if settings.password_file.is_none() {
        let again = connection.secret(None, "the same password again: ")?;
        if again != password {
            return Err("the passwords differ: nothing was changed".into());
        }
    }
    let started = connection
        .call_public(
            "/v1/activation",
            &json!({"activation_code": code, "password": password.as_str()}),
            StatusCode::OK,
        )
        .await?;
    let seed_text = zeroize::Zeroizing::new(
        started["totp_secret"]
            .as_str()
            .ok_or("the activation gave no TOTP seed")?
            .to_owned(),
    );
    let seed = inkan_server::auth::totp::base32_decode(&seed_text)
        .ok_or("the activation's TOTP seed is not base32")?;
    let mut state = connection.profile().state()?;
    let otp = if store_seed {
        let seed_path = connection.profile().dir.join("totp-seed");
        profile::write_private(&seed_path, seed_text.as_bytes())?;
        connection.profile.settings.totp_seed_file = Some("totp-seed".into());
        connection.profile().save_settings()?;
        connection.one_time_password(&mut state).await?
    } else {
        // Shown once, to the person enrolling their authenticator; never stored here.
        let uri = inkan_server::auth::totp::provisioning_uri("Inkan", &username, &seed);
        eprintln!(
            "add this to your authenticator app (shown only now):\n{}",
            uri.as_str()
        );
        match otp {
            Some(code) => zeroize::Zeroizing::new(code),
            None => super::prompt_line("the first one-time password it shows: ")?,
        }
    };
    connection
        .call_public(
            "/v1/activation/complete",
            &json!({"activation_code": code, "otp": otp.as_str()}),
            StatusCode::NO_CONTENT,
        )
        .await?;
    Ok(json!({"activated": username, "totp_seed_stored": store_seed}))
}

async fn keys(connection: &Connection, command: KeysCommand) -> Result<Value, String> {
    match command {
        KeysCommand::List => connection.call(Method::GET, "/v1/keys", None).await,
        KeysCommand::Create {
            algorithm,
            label,
            pin_file,
        } => {
            let pin = connection.pin(pin_file.as_ref())?;
            let body = json!({"algorithm": algorithm, "label": label, "pin": pin.as_str()});
            connection.call(Method::POST, "/v1/keys", Some(&body)).await
        }
        KeysCommand::Show { id } => {
            let path = format!("/v1/keys/{}", segment(&id)?);
            connection.call(Method::GET, &path, None).await
        }
        KeysCommand::SetPin {
            id,
            pin_file,
            new_pin_file,
        } => {
            let pin = connection.pin(pin_file.as_ref())?;
            let new_pin = match &new_pin_file {
                Some(path) => profile::read_secret(path)?,
                None => connection.secret(None, "new signing PIN: ")?,
            };
            let mut state = connection.profile().state()?;
            let otp = connection.one_time_password(&mut state).await?;
            let path = format!("/v1/keys/{}/pin", segment(&id)?);
            let session = connection.session().await?;
            let jwe = connection
                .api()
                .activation_data(&session, |nonce| {
                    Ok(inkan_server::client::change_data(
                        "pin.change",
                        &id,
                        nonce,
                        Some(&pin),
                        &otp,
                        &new_pin,
                    ))
                })
                .await?;
            connection
                .call(Method::PUT, &path, Some(&json!({"activation_data": jwe})))
                .await?;
            Ok(json!({"pin_changed": id}))
        }
    }
}

async fn sign_hash(
    connection: &Connection,
    key: &str,
    pin_file: Option<&PathBuf>,
    hashes: &[String],
) -> Result<Value, String> {
    let info = connection
        .call(
            Method::POST,
            "/csc/v2/credentials/info",
            Some(&json!({"credentialID": key})),
        )
        .await?;
    let sign_algo = info["key"]["algo"][0]
        .as_str()
        .ok_or("the key names no signature algorithm")?
        .to_owned();
    let sad = connection.authorize(key, hashes, None, pin_file).await?;
    let body = json!({
        "credentialID": key, "SAD": sad.as_str(), "hashes": hashes,
        "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": sign_algo,
    });
    connection
        .call(Method::POST, "/csc/v2/signatures/signHash", Some(&body))
        .await
}

async fn verify(
    dir: &Path,
    presentation: bool,
    challenge: Option<String>,
    domain: Option<String>,
    file: &Path,
) -> Result<Value, String> {
    let bytes = read_file(file)?;
    let document: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) => String::from_utf8(bytes)
            .map_err(|_| format!("{} is neither JSON nor text", file.display()))?
            .trim()
            .to_owned()
            .into(),
    };
    let presentation = presentation
        || document["type"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == "VerifiablePresentation"))
        || document["type"] == "VerifiablePresentation";
    let mut options = json!({});
    if let Some(challenge) = challenge {
        options["challenge"] = challenge.into();
    }
    if let Some(domain) = domain {
        options["domain"] = domain.into();
    }
    let (path, member) = if presentation {
        ("/presentations/verify", "verifiablePresentation")
    } else {
        ("/credentials/verify", "verifiableCredential")
    };
    let connection = Connection::open(dir)?;
    let body = json!({member: document, "options": options});
    let (status, answer) = connection.api().post_json(path, &body).await?;
    if status != StatusCode::OK || answer["verified"] != true {
        return Err(format!(
            "not verified: {}",
            serde_json::to_string(&answer).unwrap_or_default()
        ));
    }
    Ok(answer)
}

async fn status(connection: &Connection, command: StatusCommand) -> Result<Value, String> {
    let (digest, status) = match command {
        StatusCommand::Lists => {
            return connection.call(Method::GET, "/v1/status-lists", None).await;
        }
        StatusCommand::Create {
            key,
            format,
            purpose,
        } => {
            let mut body = json!({"keyId": key, "format": format});
            if let Some(purpose) = purpose {
                body["purpose"] = purpose.into();
            }
            return connection
                .call(Method::POST, "/v1/status-lists", Some(&body))
                .await;
        }
        StatusCommand::Revoke { digest } => (digest, "revoked"),
        StatusCommand::Suspend { digest } => (digest, "suspended"),
        StatusCommand::Resume { digest } => (digest, "valid"),
    };
    connection
        .call(
            Method::POST,
            "/v1/status-lists/by-digest",
            Some(&json!({"digest": digest, "status": status})),
        )
        .await
}

/// Looks up the signatures of a digest and checks each receipt offline: the inclusion proof
/// under a checkpoint signed by the log key, and the entry naming the digest.
async fn receipt(
    connection: &Connection,
    of: &str,
    log_key: Option<String>,
    out: Option<&Path>,
) -> Result<Value, String> {
    let digest = if of.starts_with("sha-256:") || of.starts_with("sha-384:") {
        of.to_owned()
    } else {
        signing_input_digest(&read_file(Path::new(of))?)?
    };
    let (vkey, origin) = match log_key {
        Some(vkey) => {
            let origin = vkey.split('+').next().unwrap_or_default().to_owned();
            (vkey, origin)
        }
        None => {
            let published = connection.api().get_public("/v1/log/key").await?;
            (
                published["vkey"]
                    .as_str()
                    .ok_or("no log key published")?
                    .to_owned(),
                published["origin"]
                    .as_str()
                    .ok_or("no log origin published")?
                    .to_owned(),
            )
        }
    };
    let verifier = NoteVerifier::from_vkey(&vkey).map_err(|e| format!("the log key: {e}"))?;
    let path = format!("/v1/signatures?digest={digest}");
    let found = connection.call(Method::GET, &path, None).await?;
    let mut checked = Vec::new();
    for signature in found["signatures"].as_array().into_iter().flatten() {
        let text = signature["receipt"]
            .as_str()
            .ok_or("a signature came without its receipt")?;
        let receipt = Receipt::parse(text).map_err(|e| format!("a receipt: {e}"))?;
        let entry_bytes = receipt.extra.clone().ok_or("a receipt carries no entry")?;
        let checkpoint = receipt
            .verify(&entry_bytes, &verifier, &origin)
            .map_err(|e| {
                format!(
                    "the receipt of entry {} does not verify: {e}",
                    receipt.index
                )
            })?;
        let entry = Entry::decode(&entry_bytes).map_err(|e| e.to_string())?;
        if !entry.digests.contains(&digest) {
            return Err(format!("entry {} does not name {digest}", receipt.index));
        }
        if let Some(dir) = out {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let file = dir.join(format!("{}.receipt", receipt.index));
            std::fs::write(&file, text).map_err(|e| format!("writing {}: {e}", file.display()))?;
        }
        checked.push(json!({
            "logIndex": receipt.index, "entry": entry.kind.as_str(), "keyId": entry.key_id,
            "signedAt": signature["signedAt"], "checkpointSize": checkpoint.size,
            "receipt": "verified",
        }));
    }
    if checked.is_empty() {
        return Err(format!(
            "the service knows no signature of {digest} for this caller"
        ));
    }
    Ok(json!({"digest": digest, "signatures": checked}))
}

/// The digest (`sha-256:<hex>`) of the JWS signing input of a VC-JWT, an SD-JWT's issuer JWT,
/// or an enveloped VC-JWT (as `/credentials/issue` answers): what the log's entry names.
fn signing_input_digest(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "the credential is not text")?
        .trim();
    let compact = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(envelope)) => envelope
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.split_once(','))
            .map(|(_, jwt)| jwt.to_owned())
            .ok_or(
                "a JSON credential here must be an enveloped VC-JWT (give its digest instead)",
            )?,
        Ok(Value::String(jwt)) => jwt,
        _ => text.to_owned(),
    };
    let jws = compact.split('~').next().unwrap_or_default();
    let input = jws
        .rsplit_once('.')
        .map(|(input, _)| input)
        .filter(|input| input.contains('.'))
        .ok_or("not a compact JWS")?;
    Ok(inkan_server::keys::sha256_digest(input.as_bytes()))
}

/// Writes a signed document and its receipt (`--out`), or returns what to print.
fn signed_output(
    document: &Value,
    answer: &Value,
    out: Option<&Path>,
    json: bool,
) -> Result<Value, String> {
    let receipt = answer["receipts"][0].as_str();
    let Some(out) = out else {
        return Ok(if json {
            answer.clone()
        } else {
            document.clone()
        });
    };
    let bytes = match document {
        Value::String(text) => text.clone().into_bytes(),
        other => serde_json::to_vec_pretty(other).map_err(|e| e.to_string())?,
    };
    std::fs::write(out, bytes).map_err(|e| format!("writing {}: {e}", out.display()))?;
    let mut written = json!({"document": out.display().to_string()});
    if let Some(receipt) = receipt {
        let path = PathBuf::from(format!("{}.receipt", out.display()));
        std::fs::write(&path, receipt).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written["receipt"] = path.display().to_string().into();
    }
    Ok(written)
}

/// An identifier put into a path: letters, digits, `_`, `-` and `.` only.
fn segment(id: &str) -> Result<&str, String> {
    if id.len() <= 128
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        Ok(id)
    } else {
        Err(format!("{id:?} is not an identifier"))
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    profile::read_at_most(path, MAX_DOCUMENT)
}

fn read_json(path: &Path) -> Result<Value, String> {
    serde_json::from_slice(&read_file(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_of_a_credential_is_of_its_jws_signing_input() {
        let expected = inkan_server::keys::sha256_digest(b"eyJh.eyJi");
        for text in [
            "eyJh.eyJi.c2ln",
            "eyJh.eyJi.c2ln~WyJkIl0~",
            "{\"id\":\"data:application/vc+jwt,eyJh.eyJi.c2ln\",\"type\":\"EnvelopedVerifiableCredential\"}",
        ] {
            assert_eq!(signing_input_digest(text.as_bytes()).unwrap(), expected);
        }
        assert!(signing_input_digest(b"{\"proof\":{}}").is_err());
        assert!(signing_input_digest(b"nodots").is_err());
    }

    #[test]
    fn identifiers_in_paths_are_plain() {
        assert_eq!(segment("key_01J.x-y").unwrap(), "key_01J.x-y");
        for bad in ["", "../keys", "..", ".", "a/b", "a?b", "a b", "-x"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
    }
}
