//! `inkan serve --dev`: a running test deployment with everyone ready, so that the next
//! `inkan client` command works at once.
//!
//! It makes a fresh folder (default `./inkan-dev`; one it made before is emptied first, any
//! other folder is refused), starts the service there on the embedded default (environment
//! `test`, SQLite, the software token, a generated certificate), provisions through the API
//! ([`crate::provision`]): two registration officers at their own terminals, an issuer with a
//! user (`dev-clerk`) and an ES256 key, and a system client under a standing approval for that
//! key. Each gets an `inkan client` profile under `profiles/`, logged in, with its password,
//! TOTP seed and the key's PIN in files of mode 0600 beside it. These are test credentials
//! of a test deployment: `--dev` never runs outside environment `test`, and never reads a
//! configuration file.

use crate::client::profile::{self, Profile, Settings, State, StoredSession};
use crate::provision::{self, Person, Plan};
use inkan_server::api::server::Server;
use inkan_server::auth::totp;
use inkan_server::clock::SystemClock;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The file that marks a folder as made by `--dev` (and so safe to empty), and its text. A
/// running `--dev` holds a lock on it, so that a second one cannot empty its folder.
const MARKER: &str = ".inkan-dev";
const MARKER_TEXT: &str = "made by `inkan serve --dev`; emptied at its next start\n";

/// Prepares `dir`, starts the service and provisions it; returns the running server, what to
/// tell the person who started it, and the folder's lock (hold it while serving).
pub async fn start(
    dir: &Path,
    listen: &str,
    store: Option<&str>,
) -> Result<(Server, String, std::fs::File), String> {
    // Profiles name files by absolute path, so they work from any folder.
    let dir = &std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = fresh_folder(dir)?;
    let config = provision::test_config(dir, listen, store, "")?;
    let server = Server::start(&config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    let cert = std::fs::read(&config.server.tls_certificate).map_err(|e| e.to_string())?;
    // Test credentials, random: base64url of 12 and 6 random bytes (16 and 8 characters).
    let password = inkan_server::auth::random_secret(12);
    let pin = inkan_server::auth::random_secret(6);
    let plan = Plan {
        prefix: "dev",
        password: &password,
        algorithm: "ES256",
        pin: &pin,
        operations: &["read", "sign"],
    };
    let made = match provision::issuer_with_client(&server, &cert, &plan).await {
        Ok(made) => made,
        Err(e) => {
            let _ = server.stop().await;
            return Err(format!("provisioning the dev deployment: {e}"));
        }
    };
    let profiles = dir.join("profiles");
    let cert_path = config.server.tls_certificate.clone();
    let url = server.public_url.clone();
    let person = |name: &str, who: &Person, pin: Option<&str>| {
        write_person(&profiles.join(name), &url, &cert_path, who, pin)
    };
    person("operator", &made.officer, None)?;
    person("second-operator", &made.second_officer, None)?;
    person("issuer", &made.clerk, Some(&pin))?;
    let system_dir = profiles.join("system");
    profile::create_private_dir(&system_dir)?;
    profile::write_private(
        &system_dir.join("client.pem"),
        made.system_identity.as_bytes(),
    )?;
    let system = Profile::create(
        &system_dir,
        Settings {
            url: url.clone(),
            server_certificate: cert_path.clone(),
            identity: Some("client.pem".into()),
            username: None,
            password_file: None,
            totp_seed_file: None,
            pin_file: None,
        },
    )?;
    let token = made.system.client_token().await?;
    system.save_state(&State {
        session: Some(StoredSession::new(&token, None)),
        last_otp_step: None,
    })?;
    let summary = serde_json::json!({
        "url": url,
        "issuer": made.issuer_id,
        "key": made.key_id(),
        "profiles": profiles.display().to_string(),
    });
    profile::write_private(
        &dir.join("dev.json"),
        &serde_json::to_vec_pretty(&summary).map_err(|e| e.to_string())?,
    )?;
    let p = profiles.display();
    let did = made.key["did_key"].as_str().unwrap_or_default();
    let summary = format!(
        "dev deployment ready (test credentials, in {}):\n\
         \x20 issuer {} with key {} (ES256; its PIN in {p}/issuer/pin)\n\
         \x20 profiles, each logged in:\n\
         \x20   {p}/operator, {p}/second-operator   registration officers (dual control)\n\
         \x20   {p}/issuer                          the issuer's user dev-clerk\n\
         \x20   {p}/system                          the issuer's system client (mutual TLS)\n\
         try:\n\
         \x20 inkan client --profile {p}/issuer keys list\n\
         \x20 echo '{{\"@context\":[\"https://www.w3.org/ns/credentials/v2\"],\"type\":[\"VerifiableCredential\"],\"issuer\":\"{did}\",\"credentialSubject\":{{\"id\":\"did:example:1\"}}}}' > vc.json\n\
         \x20 inkan client --profile {p}/system issue --format vc-jwt --key {} --out vc.jwt vc.json\n\
         \x20 inkan client --profile {p}/system receipt vc.jwt",
        dir.display(),
        made.issuer_id,
        made.key_id(),
        made.key_id(),
    );
    Ok((server, summary, lock))
}

/// Writes a person's profile: their terminal certificate (operators), password, TOTP seed,
/// the PIN when given, and their session.
fn write_person(
    dir: &Path,
    url: &str,
    cert_path: &Path,
    who: &Person,
    pin: Option<&str>,
) -> Result<(), String> {
    profile::create_private_dir(dir)?;
    profile::write_private(&dir.join("password"), who.account.password.as_bytes())?;
    let seed = Zeroizing::new(totp::base32(&who.account.seed));
    profile::write_private(&dir.join("totp-seed"), seed.as_bytes())?;
    let identity = match &who.identity {
        Some(pem) => {
            profile::write_private(&dir.join("client.pem"), pem.as_bytes())?;
            Some(PathBuf::from("client.pem"))
        }
        None => None,
    };
    if let Some(pin) = pin {
        profile::write_private(&dir.join("pin"), pin.as_bytes())?;
    }
    let profile = Profile::create(
        dir,
        Settings {
            url: url.to_owned(),
            server_certificate: cert_path.to_owned(),
            identity,
            username: Some(who.account.username.clone()),
            password_file: Some("password".into()),
            totp_seed_file: Some("totp-seed".into()),
            pin_file: pin.map(|_| "pin".into()),
        },
    )?;
    profile.save_state(&State {
        session: Some(StoredSession::new(&who.session, Some(&who.dpop_pkcs8))),
        last_otp_step: Some(who.last_otp_step),
    })
}

/// Makes `dir` empty and locks it: a new folder, or one `--dev` made before and no running
/// `--dev` holds (emptied); anything else is refused, so that `--dev` never deletes a folder
/// it did not make, or one in use.
fn fresh_folder(dir: &Path) -> Result<std::fs::File, String> {
    let marker = dir.join(MARKER);
    if std::fs::symlink_metadata(dir).is_ok() {
        let made_by_dev = std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
            && std::fs::read_to_string(&marker).is_ok_and(|text| text == MARKER_TEXT);
        if !made_by_dev {
            return Err(format!(
                "{} exists and was not made by `inkan serve --dev`: name another folder \
                 with --dev-dir",
                dir.display()
            ));
        }
        let held = std::fs::File::open(&marker)
            .map_err(|e| format!("opening {}: {e}", marker.display()))?;
        if held.try_lock().is_err() {
            return Err(format!(
                "another `inkan serve --dev` is running in {}: stop it, or name another \
                 folder with --dev-dir",
                dir.display()
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|e| format!("emptying {}: {e}", dir.display()))?;
    }
    // The folder is made here, never taken over: another `--dev` that made it in between
    // wins, and this one stops.
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        format!(
            "creating {}: {e} (another `inkan serve --dev` may be starting there)",
            dir.display()
        )
    })?;
    // The marker is created new, locked, and only then says what it is.
    let mut lock = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
        .map_err(|e| format!("creating {}: {e}", marker.display()))?;
    lock.try_lock()
        .map_err(|e| format!("locking {}: {e}", marker.display()))?;
    std::io::Write::write_all(&mut lock, MARKER_TEXT.as_bytes())
        .map_err(|e| format!("writing {}: {e}", marker.display()))?;
    Ok(lock)
}
