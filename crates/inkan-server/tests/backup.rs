#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! Backup and recovery end to end (criteria 2.2.2(4), 2.1.3(13)): a running deployment is
//! backed up (sealed, 2 of 3 key officers' shares), a key is destroyed afterwards, everything
//! is wiped (a new empty database, the token, the KEK and the host's keys deleted), the
//! archive is restored with the later log, and the service signs again with the restored key
//! while the key destroyed after the backup stays destroyed. A tampered archive fails
//! `verify`; too few shares open nothing; a restore over a store that holds data is refused.

mod common;

use common::server::{Harness, key, system_client};
use common::{Engine, TestDb};
use inkan_server::auth::operators::OperatorRole;
use inkan_server::backup::{self, LaterLog};
use inkan_server::clock::Clock as _;
use inkan_server::config::Config;
use inkan_server::service::host_operator;
use inkan_store::{KeyId, KeyState};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn issue(h: &Harness, client: &common::server::Session, key: &str) -> StatusCode {
    issue_response(h, client, key).await.status()
}

async fn issue_response(
    h: &Harness,
    client: &common::server::Session,
    key: &str,
) -> reqwest::Response {
    h.call(
        client,
        Method::POST,
        "/credentials/issue",
        Some(json!({
            "credential": {
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"],
                "credentialSubject": {"id": "did:example:subject"}
            },
            "options": {"credentialId": key, "format": "vc+jwt"}
        })),
    )
    .await
}

/// A fresh SoftHSM token with the backup wrapping key, and its `[device]` section.
fn softhsm_token(dir: &std::path::Path) -> String {
    let module = std::env::var("INKAN_PKCS11_MODULE")
        .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into());
    let label = format!("bak-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let (so_pin, user_pin) = ("backup-test-so", "backup-test-user");
    inkan_device::pkcs11::init_test_token(module.as_ref(), &label, so_pin, user_pin).unwrap();
    assert!(
        inkan_device::pkcs11::create_backup_key(
            module.as_ref(),
            &label,
            &secrecy::SecretString::from(so_pin)
        )
        .unwrap()
    );
    let pin_file = dir.join("user.pin");
    std::fs::write(&pin_file, user_pin).unwrap();
    format!(
        "[device]\nkind = \"pkcs11\"\nmodule = \"{module}\"\ntoken_label = \"{label}\"\nuser_pin_file = \"{}\"",
        pin_file.display()
    )
}

async fn round_trip(engine: Engine) {
    let h = Harness::start(engine, "").await;
    // Subscribers can read the conditions under which their keys are backed up.
    let policy: serde_json::Value = h
        .http
        .get(format!("{}/v1/policies/key-backup", h.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(policy["keys_backed_up"], true);
    assert!(
        policy["conditions"].to_string().contains("M of N shares"),
        "{policy}"
    );
    let (registrar_account, registrar) = h.operator().await;
    let (issuer, clerk) = h.subscriber(&registrar, "issuer", "clerk").await;
    let clerk = h.login(&clerk).await;
    let (kept, _) = key(&h, &clerk, "ES256", "135791").await;
    let (later_destroyed, _) = key(&h, &clerk, "EdDSA", "135791").await;
    let client = system_client(&h, &registrar, &issuer, &kept).await;
    assert_eq!(issue(&h, &client, &kept).await, StatusCode::CREATED);

    let config_path = h._dir.path().join("inkan.toml");
    let config = Config::load(Some(&config_path), std::iter::empty()).unwrap();
    let service = &h.server().service;
    let actor = host_operator("backup-test");
    let mut steps = Vec::new();
    let created = backup::create(&config, service, &actor, 2, 3, &mut |s: &str| {
        steps.push(s.to_owned())
    })
    .await
    .unwrap();
    assert!(steps.len() >= 4, "progress is shown: {steps:?}");
    let archive = created.archive.clone();
    let spki = service.log_key.public_key_spki.clone();
    // Verify without restoring: the signature holds; with two shares it opens.
    let verified = backup::verify(&archive, &spki, &[]).unwrap();
    assert!(!verified.opened);
    let verified = backup::verify(&archive, &spki, &created.shares[1..]).unwrap();
    assert!(verified.opened);
    // One share opens nothing; a share of another archive is refused.
    let err = backup::verify(&archive, &spki, &created.shares[..1]).unwrap_err();
    assert!(err.to_string().contains("needs 2"), "{err}");
    // A flipped byte anywhere fails verify.
    for at in [archive.len() - 10, 40] {
        let mut tampered = archive.clone();
        tampered[at] ^= 0x01;
        let err = backup::verify(&tampered, &spki, &created.shares[1..]).unwrap_err();
        assert!(
            err.to_string().contains("altered") || err.to_string().contains("not an Inkan backup"),
            "{at}: {err}"
        );
    }
    // Another log key does not vouch for it.
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let other = inkan_device::PublicKey::from_pem(&other.public_key_pem()).unwrap();
    let err = backup::verify(&archive, &other.to_spki_der(), &[]).unwrap_err();
    assert!(err.to_string().contains("another log key"), "{err}");

    // After the backup a key is destroyed; the log is exported (as operators keep it).
    let destroyed_id = KeyId::parse(&later_destroyed).unwrap();
    let destroyed_handle = service.registry.get(&destroyed_id).await.unwrap().handle;
    service
        .registry
        .destroy(&actor, &destroyed_id, "compromised after the backup")
        .await
        .unwrap();
    service.log.checkpoint_now().await.unwrap();
    let mut export = Vec::new();
    service.log.export(&mut export).await.unwrap();

    // A restore over a store that holds data is refused.
    let err = backup::restore(
        &config,
        h.clock.clone(),
        &actor,
        &archive,
        &spki,
        &created.shares[..2],
        LaterLog::None,
        &mut |_: &str| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");

    // Wipe: the server stops, the database is replaced by an empty one, the token, the KEK
    // and the host's keys are deleted.
    let clock = h.clock.clone();
    let mut h = h;
    h.server.take().unwrap().stop().await.unwrap();
    let Harness { _dir: dir, db, .. } = h;
    drop(db);
    let fresh = TestDb::create(engine).await;
    for path in ["soft", "kek", "secrets.key", "activation.key"] {
        let path = dir.path().join(path);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }

    // The restored deployment is to be sealed until a backup.restore is approved (as outside
    // `test`, criteria 2.1.3(12)).
    let text = std::fs::read_to_string(&config_path).unwrap()
        + "\n[operations]\napprovals_for = { \"backup.restore\" = 1 }\n";
    let text = text.replace(&config.store.url, &fresh.url);
    std::fs::write(&config_path, &text).unwrap();
    let config = Config::load(Some(&config_path), std::iter::empty()).unwrap();

    // An archive not signed by the deployment's log key, too few shares, or a later log
    // with entries no checkpoint signs, restore nothing.
    let err = backup::restore(
        &config,
        clock.clone(),
        &actor,
        &archive,
        &other.to_spki_der(),
        &created.shares[..2],
        LaterLog::Export(export.clone()),
        &mut |_: &str| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("another log key"), "{err}");
    let mut unsigned_tail = export.clone();
    let size = export.iter().filter(|b| **b == b'\n').count() as u64;
    unsigned_tail
        .extend_from_slice(format!("{}\n", inkan_log::verify::entry_line(size, b"{}")).as_bytes());
    let err = backup::restore(
        &config,
        clock.clone(),
        &actor,
        &archive,
        &spki,
        &created.shares[..2],
        LaterLog::Export(unsigned_tail),
        &mut |_: &str| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("later log"), "{err}");
    let err = backup::restore(
        &config,
        clock.clone(),
        &actor,
        &archive,
        &spki,
        &created.shares[2..],
        LaterLog::Export(export.clone()),
        &mut |_: &str| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("needs 2"), "{err}");
    assert!(!dir.path().join("kek").exists());

    let restored = backup::restore(
        &config,
        clock.clone(),
        &actor,
        &archive,
        &spki,
        &[created.shares[0].clone(), created.shares[2].clone()],
        LaterLog::Export(export),
        &mut |_: &str| {},
    )
    .await
    .unwrap();
    assert_eq!(restored.tombstoned, vec![later_destroyed.clone()]);
    assert!(restored.later_entries > 0);
    assert!(restored.sealed);

    // The restored service works: the system client's session and the kept key sign again;
    // the key destroyed after the backup stays destroyed, gone from the device.
    let h = Harness::launch(fresh, dir, &text).await;
    // Sessions are not restored: the old client token is refused; a new one signs with the
    // restored key.
    assert_eq!(issue(&h, &client, &kept).await, StatusCode::UNAUTHORIZED);
    // (The new server's clock starts over: move it on to where the old one was, so that a
    // TOTP step the registrar used before is not offered again.)
    h.clock.advance(clock.now() - h.clock.now());
    let registrar = h.login(&registrar_account).await;
    let client = system_client(&h, &registrar, &issuer, &kept).await;
    // Sealed: the restored key signs nothing until the restore is approved, and the refusal
    // says why.
    let refused = issue_response(&h, &client, &kept).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused.text().await.unwrap().contains("sealed"),
        "the refusal names the seal"
    );
    // A request naming another backup, or the restore the wrong way round, is refused at once;
    // the right one, approved by a second key officer, lifts the seal.
    let (_, officer) = h.staff(OperatorRole::KeyOfficer).await;
    let ask = |backup: String, without_later_log: bool| {
        h.call(
            &officer,
            Method::POST,
            "/v1/approvals",
            Some(json!({
                "action": "backup.restore",
                "backup": backup,
                "without_later_log": without_later_log,
                "reason": "recovery drill"
            })),
        )
    };
    assert_eq!(
        ask("bak_other".into(), false).await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        ask(created.manifest.id.clone(), true).await.status(),
        StatusCode::CONFLICT
    );
    let asked = ask(created.manifest.id.clone(), false).await;
    assert_eq!(asked.status(), StatusCode::CREATED);
    let id = asked.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Still sealed while only asked.
    assert_eq!(issue(&h, &client, &kept).await, StatusCode::FORBIDDEN);
    let (_, approver) = h.staff(OperatorRole::KeyOfficer).await;
    let done: serde_json::Value = h
        .call(
            &approver,
            Method::POST,
            &format!("/v1/approvals/{id}/approve"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["state"], "executed", "{done}");
    assert_eq!(done["result"]["sealed"], false, "{done}");
    assert_eq!(issue(&h, &client, &kept).await, StatusCode::CREATED);
    // A second approval finds nothing to lift.
    assert_eq!(
        ask(created.manifest.id.clone(), false).await.status(),
        StatusCode::CONFLICT
    );
    let service = &h.server().service;
    let record = service.store.get_key(&destroyed_id).await.unwrap().unwrap();
    assert_eq!(record.state, KeyState::Destroyed);
    assert!(!service.device.contains(&destroyed_handle).unwrap());
    // The log continued instead of forking: it verifies, and holds the restore.
    let mut export = Vec::new();
    service.log.export(&mut export).await.unwrap();
    let entries = h.log_entries().await;
    assert!(entries.iter().any(|e| {
        e.note
            .as_deref()
            .is_some_and(|n| n.starts_with(&format!("restored backup {}", created.manifest.id)))
    }));
    assert!(entries.iter().any(|e| {
        e.note
            .as_deref()
            .is_some_and(|n| n.contains(&format!("backup {} created", created.manifest.id)))
    }));
    h.stop().await;
}

#[tokio::test]
async fn backup_wipe_restore_sqlite() {
    round_trip(Engine::SqliteFile).await;
}

#[tokio::test]
async fn backup_wipe_restore_postgres() {
    round_trip(Engine::Postgres).await;
}

/// PKCS#11: keys leave the token only wrapped under the SO's trusted backup key and go back
/// into a token holding it (shown on SoftHSM by inkan-device's
/// `keys_leave_only_wrapped_under_the_sos_backup_key`). A key the token cannot wrap gets a
/// clear refusal and no archive: SoftHSM 2.6 cannot wrap Ed25519 keys, and the log key is one,
/// so on SoftHSM 2.6 a whole deployment is not backed up.
#[tokio::test]
async fn pkcs11_backup_refuses_a_key_the_token_cannot_wrap() {
    let pins = tempfile::tempdir().unwrap();
    let section = softhsm_token(pins.path());
    let h = Harness::start_with_device(Engine::SqliteFile, "test", Some(&section), "").await;
    let config = Config::load(Some(&h._dir.path().join("inkan.toml")), std::iter::empty()).unwrap();
    let service = &h.server().service;
    let actor = host_operator("backup-test");
    let err = backup::create(&config, service, &actor, 2, 3, &mut |_: &str| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be backed up"), "{err}");
    // It is the log key (Ed25519) the token refuses to wrap.
    assert!(
        err.to_string().contains(service.log_key.handle.as_str()),
        "{err}"
    );
    let entries = h.log_entries().await;
    assert!(!entries.iter().any(|e| {
        e.note
            .as_deref()
            .is_some_and(|n| n.starts_with("backup ") && n.contains(" created"))
    }));
    h.stop().await;
}
