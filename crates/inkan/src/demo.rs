//! `inkan demo`: the whole story in seconds, over real HTTPS, on the embedded default (SQLite,
//! the software token, a generated certificate) in a scratch folder.
//!
//! An issuer and a holder are enrolled; the issuer's system client e-seals an SD-JWT VC over
//! mutual TLS; the holder sees what a presentation would disclose, activates their key (PIN
//! and OTP encrypted to the activation key) and presents with a KB-JWT; the presentation is
//! verified, and the receipt checked offline with the log's public key. `--out DIR` writes
//! every artifact and a `manifest.json` so anyone can check them with other tools, and goes on:
//! a Data Integrity VC and a VC-JWT, an mDL, and credentials with status list entries (one
//! revoked) with the signed lists as their public URLs serve them.
//!
//! The demo plays every person's authenticator app; to stay within seconds it runs the
//! service in-process on a clock it moves to the next 30-second TOTP step when an account
//! needs a fresh code (each code is accepted once); that clock starts five minutes in the past
//! so that the artifacts' timestamps are never in the future. It never touches `./inkan-data`.

use crate::api_client::{Account, Client, Session, new_operator};
use clap::Args;
use inkan_log::entry::Entry;
use inkan_log::note::NoteVerifier;
use inkan_log::receipt::Receipt;
use inkan_server::api::server::Server;
use inkan_server::auth::operators::OperatorRole;
use inkan_server::auth::totp;
use inkan_server::clock::{Clock as _, ManualClock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Write every artifact and a manifest.json to this folder.
    #[arg(long)]
    out: Option<PathBuf>,
}

const PASSWORD: &str = "demo password, not for production";
const HOLDER_PIN: &str = "246810";
const SEAL_PIN: &str = "135791";
const NONCE: &str = "n-0S6_WzA2Mj";
const AUDIENCE: &str = "https://verifier.example";

/// The artifacts written with `--out`.
struct Artifacts {
    dir: Option<PathBuf>,
    manifest: serde_json::Map<String, Value>,
}

impl Artifacts {
    fn write(
        &mut self,
        name: &str,
        file: &str,
        description: &str,
        content: &[u8],
    ) -> Result<(), String> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        std::fs::write(dir.join(file), content).map_err(|e| format!("writing {file}: {e}"))?;
        self.manifest.insert(
            name.into(),
            json!({"file": file, "description": description}),
        );
        Ok(())
    }

    /// Adds `field` to the manifest's entry `name` (written before).
    fn describe(&mut self, name: &str, field: &str, value: Value) {
        if let Some(Value::Object(entry)) = self.manifest.get_mut(name) {
            entry.insert(field.into(), value);
        }
    }
}

fn step(text: &str) {
    println!("\n▶ {text}");
}

fn said(text: &str) {
    println!("  {text}");
}

/// Moves the demo's clock to the next TOTP step.
fn next_step(clock: &ManualClock) {
    let now = clock.now();
    let next = (totp::step_at(now) + 1) * totp::STEP_SECONDS * 1000;
    clock.advance(next - now);
}

pub async fn run(args: DemoArgs) -> Result<(), String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut artifacts = Artifacts {
        dir: args.out.clone(),
        manifest: serde_json::Map::new(),
    };
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    }
    // The clock starts five minutes back, so that after the TOTP steps (at most eight, 30 s
    // each) and the status lists' publication round (a minute) it moves through, every
    // timestamp the demo writes is still in the past for tools checking against the real
    // time, and a verifier's five-minute window for the presentation still holds.
    let clock = Arc::new(ManualClock::new(
        inkan_server::clock::SystemClock.now() - 5 * 60_000,
    ));
    step("Starting Inkan in a scratch folder (SQLite, software token, generated TLS certificate)");
    let server = Server::start(
        &crate::provision::test_config(
            scratch.path(),
            "127.0.0.1:0",
            None,
            "[log]\ncheckpoint_every_entries = 1000\n",
        )?,
        clock.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    said(&format!(
        "serving on {} (TLS 1.3); certificate SHA-256 {}",
        server.public_url, server.tls.fingerprint
    ));
    let result = story(&server, clock.clone(), scratch.path(), &mut artifacts).await;
    server.stop().await.map_err(|e| e.to_string())?;
    result?;
    if let Some(out) = &args.out {
        let manifest = serde_json::to_vec_pretty(&Value::Object(artifacts.manifest))
            .map_err(|e| e.to_string())?;
        std::fs::write(out.join("manifest.json"), manifest).map_err(|e| e.to_string())?;
        println!(
            "\nEvery artifact is in {} (see manifest.json).",
            out.display()
        );
    }
    println!("\nDemo complete.");
    Ok(())
}

async fn story(
    server: &Server,
    clock: Arc<ManualClock>,
    scratch: &Path,
    artifacts: &mut Artifacts,
) -> Result<(), String> {
    let server_cert = std::fs::read(scratch.join("tls/server.crt")).map_err(|e| e.to_string())?;
    let api = Client::new(&server.public_url, &server_cert, None, clock.clone())?;

    step(
        "On the host, the administrator adds a registration officer (inkan operators add); the \
         officer activates from its terminal (one-time code → password + TOTP) and logs in",
    );
    let (officer_api, officer_account, _) = new_operator(
        server,
        &server_cert,
        clock.clone(),
        "registrar",
        PASSWORD,
        OperatorRole::RaOfficer,
    )
    .await?;
    next_step(&clock);
    let operator = officer_api.login(&officer_account).await?;
    said(
        "the officer's terminal certificate was registered at activation; the session is bound \
         to its DPoP key and to that terminal",
    );

    step("Enrolling the issuer organisation \"Example University\" and its clerk");
    let (issuer, clerk) = enrol(
        &api,
        &officer_api,
        &operator,
        &clock,
        "issuer",
        "Example University",
        "clerk",
    )
    .await?;
    next_step(&clock);
    let clerk_session = api.login(&clerk).await?;
    let seal = api
        .call(
            &clerk_session,
            Method::POST,
            "/v1/keys",
            Some(&json!({"algorithm": "ES256", "label": "university e-seal", "pin": SEAL_PIN})),
            StatusCode::CREATED,
        )
        .await?;
    let seal_id = seal["id"].as_str().unwrap_or_default().to_owned();
    said(&format!(
        "e-seal key {seal_id} generated in the crypto device ({})",
        seal["did_key"].as_str().unwrap_or("")
    ));
    artifacts.write(
        "issuer_jwk",
        "issuer.jwk.json",
        "The issuer's public JWK (ES256)",
        seal["public_jwk"].to_string().as_bytes(),
    )?;

    step(
        "Registering the university's issuing system as a client (mutual TLS, scoped to the e-seal)",
    );
    let (client_cert, client_identity) =
        crate::api_client::self_signed_identity("issuing-system.example")?;
    let asked = officer_api
        .call(
            &operator,
            Method::POST,
            &format!("/v1/subscribers/{issuer}/clients"),
            Some(
                &json!({"name": "issuing system", "certificate_pem": client_cert,
                     "scope": {"keys": [{"key": seal_id, "operations": ["read", "sign"]}]}}),
            ),
            StatusCode::ACCEPTED,
        )
        .await?;
    let request = asked["id"].as_str().unwrap_or_default().to_owned();
    let (second_api, second_account, _) = new_operator(
        server,
        &server_cert,
        clock.clone(),
        "second-registrar",
        PASSWORD,
        OperatorRole::RaOfficer,
    )
    .await?;
    next_step(&clock);
    let second = second_api.login(&second_account).await?;
    second_api
        .call(
            &second,
            Method::POST,
            &format!("/v1/approvals/{request}/approve"),
            None,
            StatusCode::OK,
        )
        .await?;
    api.call(
        &clerk_session,
        Method::POST,
        &format!("/v1/approvals/{request}/consent"),
        None,
        StatusCode::OK,
    )
    .await?;
    said(
        "a standing approval is dual control: a second officer approved the registration and \
         the university's clerk consented to it over her own session",
    );
    let system = Client::new(
        &server.public_url,
        &server_cert,
        Some(&client_identity),
        clock.clone(),
    )?;
    let system_session = system.client_token().await?;
    said("the system got a token bound to its client certificate");

    step("Enrolling the holder Hana and generating her wallet key");
    let (_, hana) = enrol(
        &api,
        &officer_api,
        &operator,
        &clock,
        "holder",
        "Hana Sato",
        "hana",
    )
    .await?;
    next_step(&clock);
    let hana_session = api.login(&hana).await?;
    let wallet = api
        .call(
            &hana_session,
            Method::POST,
            "/v1/keys",
            Some(&json!({"algorithm": "ES256", "label": "wallet", "pin": HOLDER_PIN})),
            StatusCode::CREATED,
        )
        .await?;
    let wallet_id = wallet["id"].as_str().unwrap_or_default().to_owned();

    step(
        "The issuing system e-seals an SD-JWT VC for Hana (standing approval, no person involved)",
    );
    let issued = system
        .call(&system_session, Method::POST, "/v1/credentials/sd-jwt", Some(&json!({
            "credentialID": seal_id,
            "vct": "https://credentials.example.com/university_degree",
            "claims": {"given_name": "Hana", "family_name": "Sato", "degree": "BSc Computer Science"},
            "disclosable": ["/given_name", "/family_name", "/degree"],
            "holderJwk": wallet["public_jwk"],
        })), StatusCode::CREATED)
        .await?;
    let credential = issued["credential"].as_str().unwrap_or_default().to_owned();
    said(&format!(
        "SD-JWT VC issued ({} bytes, 3 selectively disclosable claims)",
        credential.len()
    ));
    artifacts.write(
        "sd_jwt_vc",
        "credential.sd-jwt",
        "The SD-JWT VC (dc+sd-jwt) as issued",
        credential.as_bytes(),
    )?;
    let issue_receipt = first_receipt(&issued)?;
    artifacts.write(
        "sd_jwt_vc_receipt",
        "credential.receipt",
        "Receipt of the SD-JWT VC's signature",
        issue_receipt.as_bytes(),
    )?;

    step("Hana prepares a presentation for a verifier: only her degree");
    let document = json!({"format": "dc+sd-jwt", "credential": credential, "disclose": ["/degree"], "audience": AUDIENCE, "nonce": NONCE});
    let prepared = api
        .call(
            &hana_session,
            Method::POST,
            "/v1/holder/prepare",
            Some(&json!({"credentialID": wallet_id, "document": document})),
            StatusCode::OK,
        )
        .await?;
    said(&format!(
        "Inkan shows her: to {}, disclose {}",
        prepared["summary"]["audience"], prepared["summary"]["disclosed"]
    ));
    let hashes: Vec<String> =
        serde_json::from_value(prepared["hashes"].clone()).map_err(|e| e.to_string())?;

    step(
        "Hana activates her key for exactly that: PIN + one-time password, encrypted to Inkan's activation key",
    );
    next_step(&clock);
    let sad = api
        .authorize(
            &hana_session,
            &hana,
            &wallet_id,
            HOLDER_PIN,
            &hashes,
            prepared["disclosureDigest"].as_str(),
        )
        .await?;
    said(
        "signature activation data (SAD) issued, bound to her key, this hash, her session; single use",
    );
    let signed = api
        .call(&hana_session, Method::POST, "/v1/holder/sign", Some(&json!({
            "credentialID": wallet_id, "document": document, "issuedAt": prepared["issuedAt"], "SAD": sad,
        })), StatusCode::OK)
        .await?;
    let presentation = signed["document"].as_str().unwrap_or_default().to_owned();
    said("presentation signed with a KB-JWT (nonce and aud of the verifier)");
    artifacts.write(
        "presentation",
        "presentation.sd-jwt",
        &format!("SD-JWT + KB-JWT presentation; nonce {NONCE}, aud {AUDIENCE}"),
        presentation.as_bytes(),
    )?;
    let receipt_text = first_receipt(&signed)?;
    artifacts.write(
        "presentation_receipt",
        "presentation.receipt",
        "Receipt of the presentation's signature",
        receipt_text.as_bytes(),
    )?;

    step("The verifier checks the presentation");
    let issuer_key =
        inkan_formats::jose::public_key_from_jwk(&seal["public_jwk"]).map_err(|e| e.to_string())?;
    let verified = inkan_formats::verify::verify(
        presentation.as_bytes(),
        &inkan_formats::verify::VerifyOptions {
            key: Some(issuer_key),
            nonce: Some(NONCE.into()),
            aud: Some(AUDIENCE.into()),
            at: clock.now() / 1000,
            ..Default::default()
        },
    )
    .map_err(|e| format!("the presentation does not verify: {e}"))?;
    said(&format!("valid {}: {}", verified.format, verified.details));

    step(
        "Anyone checks, offline, that Inkan logged the signature (receipt + the log's public key)",
    );
    let published = api.get_public("/v1/log/key").await?;
    let vkey = published["vkey"]
        .as_str()
        .ok_or("no log key published")?
        .to_owned();
    let origin = published["origin"]
        .as_str()
        .ok_or("no log origin published")?
        .to_owned();
    let receipt = Receipt::parse(&receipt_text).map_err(|e| e.to_string())?;
    let entry_bytes = receipt
        .extra
        .clone()
        .ok_or("the receipt carries no entry")?;
    let checkpoint = receipt
        .verify(
            &entry_bytes,
            &NoteVerifier::from_vkey(&vkey).map_err(|e| e.to_string())?,
            &origin,
        )
        .map_err(|e| format!("the receipt does not verify: {e}"))?;
    let entry = Entry::decode(&entry_bytes).map_err(|e| e.to_string())?;
    said(&format!(
        "entry {} ({}) by {} via {} with approval {} is in the log of size {} signed by {origin}",
        receipt.index,
        entry.kind.as_str(),
        entry.actor.id,
        entry.actor.auth.method,
        entry.approval.as_deref().unwrap_or("-"),
        checkpoint.size,
    ));
    artifacts.write(
        "log_key",
        "log.vkey",
        &format!("The transparency log's public key (C2SP vkey), origin {origin}"),
        vkey.as_bytes(),
    )?;

    if artifacts.dir.is_some() {
        step("More from the same issuer, for other tools: a Data Integrity VC and a VC-JWT");
        let unsigned = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
            "type": ["VerifiableCredential", "ExampleAlumniCredential"],
            "credentialSubject": {"id": "did:example:hana", "alumniOf": "Example University"}
        });
        for (format, name, file, what) in [
            (
                "ldp_vc",
                "data_integrity_vc",
                "credential.di.json",
                "Data Integrity VC (ecdsa-rdfc-2019)",
            ),
            (
                "vc+jwt",
                "vc_jwt",
                "credential.vc-jwt.json",
                "VC-JWT (vc+jwt) as an EnvelopedVerifiableCredential",
            ),
        ] {
            let issued = system
                .call(&system_session, Method::POST, "/credentials/issue", Some(&json!({"credential": unsigned, "options": {"credentialId": seal_id, "format": format}})), StatusCode::CREATED)
                .await?;
            let body = serde_json::to_vec_pretty(&issued["verifiableCredential"])
                .map_err(|e| e.to_string())?;
            artifacts.write(name, file, what, &body)?;
            said(&format!("{what} written"));
        }
        mdoc(
            server,
            &api,
            &system,
            &system_session,
            &clock,
            &seal,
            &hana,
            &hana_session,
            &wallet,
            artifacts,
        )
        .await?;
        status_lists(
            server,
            &system,
            &system_session,
            &clock,
            &seal_id,
            &wallet,
            artifacts,
        )
        .await?;
    }
    Ok(())
}

/// The university keeps its credentials' status with Inkan: a W3C revocation list and an IETF
/// Token Status List, each signed with the e-seal key; a Data Integrity VC and an SD-JWT VC
/// carry entries of them; the first is revoked, and after the next publication round the
/// lists are fetched from their public URLs as a verifier would.
async fn status_lists(
    server: &Server,
    system: &Client,
    system_session: &Session,
    clock: &ManualClock,
    seal_id: &str,
    wallet: &Value,
    artifacts: &mut Artifacts,
) -> Result<(), String> {
    step(
        "The university keeps its credentials' status with Inkan: two status lists, one revocation",
    );
    let create = |body: Value| async move {
        system
            .call(
                system_session,
                Method::POST,
                "/v1/status-lists",
                Some(&body),
                StatusCode::CREATED,
            )
            .await
    };
    let w3c =
        create(json!({"keyId": seal_id, "purpose": "revocation", "signedAs": "data-integrity"}))
            .await?;
    let token = create(json!({"keyId": seal_id, "format": "token"})).await?;
    let (w3c_id, token_id) = (
        w3c["id"].as_str().unwrap_or_default(),
        token["id"].as_str().unwrap_or_default(),
    );
    said(&format!(
        "W3C Bitstring revocation list {w3c_id} and Token Status List {token_id}, {} entries each, \
         published at once",
        w3c["size"]
    ));
    let unsigned = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential", "ExampleAlumniCredential"],
        "credentialSubject": {"id": "did:example:hana", "alumniOf": "Example University"}
    });
    let di = system
        .call(
            system_session,
            Method::POST,
            "/credentials/issue",
            Some(&json!({
                "credential": unsigned,
                "options": {"credentialId": seal_id, "format": "ldp_vc",
                            "credentialStatus": {"statusList": w3c_id}},
            })),
            StatusCode::CREATED,
        )
        .await?;
    let di = di["verifiableCredential"].clone();
    let sd_jwt = system
        .call(
            system_session,
            Method::POST,
            "/v1/credentials/sd-jwt",
            Some(&json!({
                "credentialID": seal_id,
                "vct": "https://credentials.example.com/university_degree",
                "claims": {"given_name": "Hana", "degree": "BSc Computer Science"},
                "disclosable": ["/given_name", "/degree"],
                "holderJwk": wallet["public_jwk"],
                "statusList": token_id,
            })),
            StatusCode::CREATED,
        )
        .await?;
    let sd_jwt = sd_jwt["credential"].as_str().unwrap_or_default().to_owned();
    let index = di["credentialStatus"]["statusListIndex"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let changed = system
        .call(
            system_session,
            Method::POST,
            &format!("/v1/status-lists/{w3c_id}/entries/{index}"),
            Some(&json!({"status": "revoked"})),
            StatusCode::OK,
        )
        .await?;
    // As the service answered the change: value 1, final.
    let revoked = changed["value"] == 1 && changed["isFinal"] == true;
    said(&format!(
        "the Data Integrity VC (index {index}) is revoked: written ahead to the log, final"
    ));
    // The publisher runs every minute; the demo runs its round now, a minute on.
    clock.advance(61_000);
    let report = server.status_lists.publish_due().await;
    said(&format!(
        "the next publication round signed {} new list version(s) through the signing module",
        report.published.len()
    ));
    let body = serde_json::to_vec_pretty(&di).map_err(|e| e.to_string())?;
    artifacts.write(
        "data_integrity_vc_with_status",
        "credential-status.di.json",
        "Data Integrity VC with a BitstringStatusListEntry (revoked)",
        &body,
    )?;
    artifacts.describe("data_integrity_vc_with_status", "revoked", revoked.into());
    artifacts.write(
        "sd_jwt_vc_with_status",
        "credential-status.sd-jwt",
        "SD-JWT VC with a Token Status List status (valid)",
        sd_jwt.as_bytes(),
    )?;
    // Never changed: valid as issued.
    artifacts.describe("sd_jwt_vc_with_status", "revoked", false.into());
    for (name, file, list, what) in [
        (
            "w3c_status_list",
            "status-list.w3c.json",
            &w3c,
            "The W3C BitstringStatusListCredential with its Data Integrity proof, as its URL serves it",
        ),
        (
            "token_status_list",
            "status-list.token.jwt",
            &token,
            "The IETF Status List Token, signed, as its URL serves it",
        ),
    ] {
        let url = list["url"].as_str().unwrap_or_default();
        let (media_type, served) = system.get_public_bytes(url).await?;
        artifacts.write(name, file, what, &served)?;
        artifacts.describe(name, "url", url.into());
        artifacts.describe(name, "mediaType", media_type.into());
    }
    said(
        "both lists fetched from their public URLs (no authentication, Cache-Control: max-age=ttl)",
    );
    Ok(())
}

/// The university's IACA certifies its e-seal key (an mdoc issuer needs a certificate), the
/// system issues an mDL to Hana's wallet key, and Hana presents part of it over a
/// SessionTranscript as a verifier would make it.
#[allow(clippy::too_many_arguments)]
async fn mdoc(
    server: &Server,
    api: &Client,
    system: &Client,
    system_session: &Session,
    clock: &ManualClock,
    seal: &Value,
    hana: &Account,
    hana_session: &Session,
    wallet: &Value,
    artifacts: &mut Artifacts,
) -> Result<(), String> {
    step(
        "The university's IACA certifies the e-seal key; the system issues an mDL; Hana presents part of it",
    );
    let (root_pem, leaf_pem) = certify(&seal["public_jwk"])?;
    let seal_id = seal["id"].as_str().unwrap_or_default();
    server
        .service
        .registry
        .attach_certificate(
            &inkan_server::service::host_operator("demo"),
            &inkan_store::KeyId::parse(seal_id)?,
            leaf_pem.as_bytes(),
        )
        .await
        .map_err(|e| e.to_string())?;
    artifacts.write(
        "iaca_root",
        "iaca-root.pem",
        "The issuer's IACA root certificate (trust anchor for the mdoc)",
        root_pem.as_bytes(),
    )?;
    artifacts.write(
        "issuer_certificate",
        "issuer-certificate.pem",
        "The e-seal key's document signer certificate",
        leaf_pem.as_bytes(),
    )?;
    let issued = system
        .call(
            system_session,
            Method::POST,
            "/v1/credentials/mdoc",
            Some(&json!({
                "credentialID": seal_id,
                "docType": "org.iso.18013.5.1.mDL",
                "nameSpaces": {"org.iso.18013.5.1": {
                    "family_name": "Sato", "given_name": "Hana",
                    "birth_date": {"$date": "1990-01-01"}, "issuing_country": "JP"
                }},
                "deviceKeyJwk": wallet["public_jwk"],
            })),
            StatusCode::CREATED,
        )
        .await?;
    let issuer_signed = issued["issuerSigned"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    artifacts.write(
        "mdoc_issuer_signed",
        "mdoc-issuer-signed.cbor",
        "mdoc IssuerSigned (CBOR)",
        &b64url_decode(&issuer_signed)?,
    )?;
    let transcript = session_transcript(NONCE)?;
    artifacts.write(
        "session_transcript",
        "session-transcript.cbor",
        "The SessionTranscriptBytes the DeviceResponse is bound to (CBOR)",
        &transcript,
    )?;
    let document = json!({
        "format": "mso_mdoc", "issuerSigned": issuer_signed,
        "elements": {"org.iso.18013.5.1": ["family_name", "issuing_country"]},
        "sessionTranscript": b64url(&transcript),
    });
    let wallet_id = wallet["id"].as_str().unwrap_or_default();
    let prepared = api
        .call(
            hana_session,
            Method::POST,
            "/v1/holder/prepare",
            Some(&json!({"credentialID": wallet_id, "document": document})),
            StatusCode::OK,
        )
        .await?;
    said(&format!(
        "Inkan shows her: disclose {}",
        prepared["summary"]["disclosed"]
    ));
    let hashes: Vec<String> =
        serde_json::from_value(prepared["hashes"].clone()).map_err(|e| e.to_string())?;
    next_step(clock);
    let sad = api
        .authorize(
            hana_session,
            hana,
            wallet_id,
            HOLDER_PIN,
            &hashes,
            prepared["disclosureDigest"].as_str(),
        )
        .await?;
    let signed = api
        .call(hana_session, Method::POST, "/v1/holder/sign", Some(&json!({
            "credentialID": wallet_id, "document": document, "issuedAt": prepared["issuedAt"], "SAD": sad,
        })), StatusCode::OK)
        .await?;
    let response = b64url_decode(signed["document"].as_str().unwrap_or_default())?;
    artifacts.write(
        "mdoc_device_response",
        "mdoc-device-response.cbor",
        "mdoc DeviceResponse (CBOR) over session-transcript.cbor",
        &response,
    )?;
    said(
        "mDL issued and presented (family_name, issuing_country) over the verifier's SessionTranscript",
    );
    Ok(())
}

/// `#6.24(bstr .cbor [null, null, ["inkan-demo-handover", nonce]])`, as a verifier makes it.
fn session_transcript(nonce: &str) -> Result<Vec<u8>, String> {
    use inkan_formats::mdoc::cbor;
    let inner = cbor::from_json(&json!([null, null, ["inkan-demo-handover", nonce]]))
        .and_then(|v| cbor::encode(&v))
        .map_err(|e| e.to_string())?;
    cbor::encode(&cbor::tag24(inner)).map_err(|e| e.to_string())
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64url_decode(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| e.to_string())
}

/// An EC P-256 public key from its JWK, for rcgen to certify.
struct JwkPublicKey(Vec<u8>);

impl rcgen::PublicKeyData for JwkPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// A demo IACA (its key made here and dropped) certifies the P-256 key `jwk` as an mDL
/// document signer. Returns (root PEM, document signer certificate PEM).
fn certify(jwk: &Value) -> Result<(String, String), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let coordinate = |name: &str| b64url_decode(jwk[name].as_str().unwrap_or_default());
    let point = [vec![0x04], coordinate("x")?, coordinate("y")?].concat();
    let name = |cn: &str| {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "JP");
        dn.push(DnType::OrganizationName, "Example University");
        dn.push(DnType::CommonName, cn);
        dn
    };
    let err = |e: rcgen::Error| e.to_string();
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.distinguished_name = name("Example University IACA (demo)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root = ca.self_signed(&ca_key).map_err(err)?;
    let mut ds = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ds.distinguished_name = name("Example University document signer (demo)");
    ds.is_ca = IsCa::ExplicitNoCa;
    ds.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // id-mdl-kp-mdlDS (ISO/IEC 18013-5 Annex B).
    ds.extended_key_usages = vec![ExtendedKeyUsagePurpose::Other(vec![1, 0, 18013, 5, 1, 2])];
    let leaf = ds
        .signed_by(&JwkPublicKey(point), &Issuer::from_params(&ca, &ca_key))
        .map_err(err)?;
    Ok((root.pem(), leaf.pem()))
}

/// Creates a subscriber of `kind` and a user, and activates the user.
async fn enrol(
    api: &Client,
    officer_api: &Client,
    operator: &Session,
    clock: &ManualClock,
    kind: &str,
    name: &str,
    username: &str,
) -> Result<(String, Account), String> {
    let subscriber = officer_api
        .call(
            operator,
            Method::POST,
            "/v1/subscribers",
            Some(&json!({"kind": kind, "name": name})),
            StatusCode::CREATED,
        )
        .await?;
    let id = subscriber["id"].as_str().unwrap_or_default().to_owned();
    let user = officer_api
        .call(
            operator,
            Method::POST,
            &format!("/v1/subscribers/{id}/users"),
            Some(&json!({"username": username})),
            StatusCode::CREATED,
        )
        .await?;
    let code = user["activation_code"].as_str().unwrap_or_default();
    said(&format!(
        "{kind} {id} created; {username}'s activation code is handed over out of band"
    ));
    next_step(clock);
    let account = api.activate(username, code, PASSWORD).await?;
    said(&format!("{username} set a password and enrolled TOTP"));
    Ok((id, account))
}

fn first_receipt(body: &Value) -> Result<String, String> {
    body["receipts"][0]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the response carries no receipt".into())
}
