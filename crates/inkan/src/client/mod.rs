//! `inkan client …`: the command line for Inkan's API, as a person (password and one-time
//! password, a DPoP key per session) or a system client (a certificate-bound token over mutual
//! TLS), so that nobody needs code to make a DPoP proof, an encrypted activation, or a receipt
//! check.
//!
//! Each command is one or a few API calls through [`crate::api_client`]; the service decides
//! everything. The profile ([`profile`]) keeps the session between commands and refreshes it.
//! Must never print or log a password, PIN, seed, token, SAD or DPoP key, and must never send
//! a secret anywhere but the profile's own service.

mod commands;
pub mod output;
pub mod profile;

use crate::api_client::{Client, Session, failure};
use clap::Args;
use inkan_server::auth::totp;
use inkan_server::client::ProofKey;
use inkan_server::clock::{Clock, SystemClock};
use profile::{Profile, State, StoredSession};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use zeroize::Zeroizing;

/// `inkan client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The profile folder (service, identity, session). Default: `INKAN_CLIENT_PROFILE`, else
    /// `~/.config/inkan/client`.
    #[arg(long, env = "INKAN_CLIENT_PROFILE", global = true)]
    pub profile: Option<PathBuf>,
    /// Print the service's answers as JSON (default: tables and lines).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: commands::Command,
}

/// Runs `inkan client`.
pub async fn run(args: ClientArgs) -> Result<(), String> {
    let dir = args.profile.clone().unwrap_or_else(profile::default_dir);
    commands::run(&dir, args.json, args.command).await
}

/// A profile's connection to its service: the HTTP client and the session, refreshed when it
/// is about to expire.
pub struct Connection {
    profile: Profile,
    api: Client,
    clock: Arc<dyn Clock>,
    /// The profile's lock, held for the command ([`Profile::lock`]).
    _lock: std::fs::File,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("profile", &self.profile.dir)
            .finish_non_exhaustive()
    }
}

/// Seconds before expiry at which a session is refreshed.
const REFRESH_MARGIN_SECONDS: i64 = 30;

impl Connection {
    /// The profile in `dir` and a client of its service.
    pub fn open(dir: &std::path::Path) -> Result<Connection, String> {
        let lock = Profile::lock(dir)?;
        let profile = Profile::open(dir)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let identity = profile.identity()?;
        let api = Client::new(
            &profile.settings.url,
            &profile.server_certificate()?,
            identity.as_deref().map(String::as_str),
            clock.clone(),
        )?;
        Ok(Connection {
            profile,
            api,
            clock,
            _lock: lock,
        })
    }

    /// Logs in: a person with their password and a one-time password (`otp`, else from the
    /// profile's seed file, else asked), a system client with its certificate. The session is
    /// stored in the profile.
    pub async fn login(&self, otp: Option<String>) -> Result<Value, String> {
        let mut state = self.profile.state()?;
        // A new login replaces the session: the old one ends at the service first.
        if let Some(old) = state.session.take() {
            self.revoke(&old).await;
            self.profile.save_state(&state)?;
        }
        let Some(username) = self.profile.settings.username.clone() else {
            if self.profile.settings.identity.is_none() {
                return Err("the profile has neither a username nor a client certificate".into());
            }
            let session = self.api.client_token().await?;
            state.session = Some(StoredSession::new(&session, None));
            self.profile.save_state(&state)?;
            return Ok(
                serde_json::json!({"logged_in": "system client", "expires_at": session.expires_at}),
            );
        };
        let password = self.secret(
            self.profile.settings.password_file.as_ref(),
            &format!("password of {username}: "),
        )?;
        let otp = match otp {
            Some(code) => Zeroizing::new(code),
            None => self.one_time_password(&mut state).await?,
        };
        let (key, pkcs8) = ProofKey::generate_storable().map_err(|e| e.to_string())?;
        let session = self
            .api
            .login_with(key, &username, &password, &otp, true)
            .await?;
        state.session = Some(StoredSession::new(&session, Some(&pkcs8)));
        self.profile.save_state(&state)?;
        Ok(serde_json::json!({"logged_in": username, "expires_at": session.expires_at}))
    }

    /// The current one-time password: from the profile's seed (of a step after the last one
    /// used, waiting for it when both allowed steps are spent), or typed at the terminal.
    pub async fn one_time_password(&self, state: &mut State) -> Result<Zeroizing<String>, String> {
        let Some(seed_file) = &self.profile.settings.totp_seed_file else {
            return prompt_line("one-time password: ");
        };
        let text = profile::read_secret(&self.profile.path(seed_file))?;
        let seed = totp::base32_decode(&text).ok_or("the TOTP seed file is not base32")?;
        loop {
            let now = totp::step_at(self.clock.now());
            // The service accepts one step of drift ahead; each step once.
            let step = state.last_otp_step.map_or(now, |last| (last + 1).max(now));
            if step <= now + 1 {
                state.last_otp_step = Some(step);
                self.profile.save_state(state)?;
                return Ok(Zeroizing::new(totp::code_at_step(&seed, step)));
            }
            let wait = (step - 1) * 30_000 - self.clock.now();
            eprintln!(
                "waiting {} s for the next one-time password",
                (wait + 999) / 1000
            );
            tokio::time::sleep(std::time::Duration::from_millis(
                u64::try_from(wait.max(0)).unwrap_or(0) + 50,
            ))
            .await;
        }
    }

    /// A secret from `file` (relative to the profile), else asked at the terminal without echo.
    pub fn secret(
        &self,
        file: Option<&PathBuf>,
        prompt: &str,
    ) -> Result<Zeroizing<String>, String> {
        match file {
            Some(path) => profile::read_secret(&self.profile.path(path)),
            None => rpassword::prompt_password(prompt)
                .map(Zeroizing::new)
                .map_err(|e| format!("reading the {}: {e}", prompt.trim_end_matches([':', ' ']))),
        }
    }

    /// The stored session, refreshed first when it is about to expire.
    async fn session(&self) -> Result<Session, String> {
        let mut state = self.profile.state()?;
        let Some(stored) = &state.session else {
            return Err("not logged in (inkan client login)".into());
        };
        let now = self.clock.now() / 1000;
        if stored.expires_at - REFRESH_MARGIN_SECONDS > now {
            return stored.to_session();
        }
        let fresh = match (&stored.refresh_token, stored.proof_key()?) {
            (Some(refresh), Some(key)) => {
                let pkcs8 = stored.dpop_key.clone();
                let session = self.api.refresh(key, refresh).await?;
                let mut record = StoredSession::new(&session, None);
                record.dpop_key = pkcs8;
                record
            }
            (_, None) if self.profile.settings.username.is_none() => {
                StoredSession::new(&self.api.client_token().await?, None)
            }
            _ => return Err("the session has expired: log in again (inkan client login)".into()),
        };
        let session = fresh.to_session()?;
        state.session = Some(fresh);
        self.profile.save_state(&state)?;
        Ok(session)
    }

    /// An authenticated call; any 2xx answer is returned, anything else is an error naming
    /// the service's description.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let session = self.session().await?;
        let mut request = self.api.request(&session, method.clone(), path)?;
        if let Some(body) = body {
            request = request.json(body);
        }
        let (status, answer) = self.api.send(request).await?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {}", failure(status, &answer)));
        }
        Ok(answer)
    }

    /// An unauthenticated call (activation, public verification).
    pub async fn call_public(
        &self,
        path: &str,
        body: &Value,
        expect: StatusCode,
    ) -> Result<Value, String> {
        self.api.post_public(path, body, expect).await
    }

    /// Logs out: the service revokes the session, the profile forgets it.
    pub async fn logout(&self) -> Result<Value, String> {
        let mut state = self.profile.state()?;
        if state.session.is_none() {
            return Ok(serde_json::json!({"logged_out": false}));
        }
        // The session may already be gone at the service (expired, revoked): forget it anyway.
        let revoked = match &state.session {
            Some(stored) => self.revoke(stored).await,
            None => false,
        };
        state.session = None;
        self.profile.save_state(&state)?;
        if !revoked {
            eprintln!(
                "warning: the service did not confirm the session's end (it may have ended \
                 already); the profile has forgotten it"
            );
        }
        Ok(serde_json::json!({"logged_out": true, "revoked_at_service": revoked}))
    }

    /// Ends `stored` at the service (`auth/revoke` ends the whole session, its refresh token
    /// too); whether the service said so.
    async fn revoke(&self, stored: &StoredSession) -> bool {
        let Ok(mut session) = stored.to_session() else {
            return false;
        };
        // An expired access token cannot revoke: refresh first (the session's refresh token is
        // what must end), then revoke with the fresh one.
        if stored.expires_at - REFRESH_MARGIN_SECONDS <= self.clock.now() / 1000 {
            match (&stored.refresh_token, stored.proof_key()) {
                (Some(refresh), Ok(Some(key))) => match self.api.refresh(key, refresh).await {
                    Ok(fresh) => session = fresh,
                    Err(_) => return false,
                },
                // A certificate-bound token that expired has ended already.
                _ => return false,
            }
        }
        let body = serde_json::json!({"token": session.access});
        match self
            .api
            .request(&session, Method::POST, "/csc/v2/auth/revoke")
        {
            Ok(request) => matches!(
                self.api.send(request.json(&body)).await,
                Ok((status, _)) if status.is_success()
            ),
            Err(_) => false,
        }
    }

    /// CSC `credentials/authorize` for `hashes` (base64), with the PIN and a fresh one-time
    /// password: the SAD.
    pub async fn authorize(
        &self,
        key_id: &str,
        hashes: &[String],
        shown: Option<&str>,
        pin_file: Option<&PathBuf>,
    ) -> Result<Zeroizing<String>, String> {
        let pin = self.pin(pin_file)?;
        let mut state = self.profile.state()?;
        let otp = self.one_time_password(&mut state).await?;
        let session = self.session().await?;
        self.api
            .authorize_with_otp(&session, key_id, &pin, &otp, hashes, shown)
            .await
            .map(Zeroizing::new)
    }

    /// The signing PIN: `--pin-file`, else the profile's, else asked.
    pub fn pin(&self, pin_file: Option<&PathBuf>) -> Result<Zeroizing<String>, String> {
        match pin_file {
            Some(path) => profile::read_secret(path),
            None => self.secret(self.profile.settings.pin_file.as_ref(), "signing PIN: "),
        }
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The HTTP client.
    pub fn api(&self) -> &Client {
        &self.api
    }
}

/// A line typed at the terminal (echoed; for one-time passwords).
pub(crate) fn prompt_line(prompt: &str) -> Result<Zeroizing<String>, String> {
    use std::io::Write as _;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the one-time password: {e}"))?;
    let code = Zeroizing::new(line.trim().to_owned());
    if code.is_empty() {
        return Err(
            "no one-time password given (--otp, or a TOTP seed file in the profile)".into(),
        );
    }
    Ok(code)
}
