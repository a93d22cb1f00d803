//! `inkan keys …`: the key registry from the command line (criteria 2.1.1(7), 2.2.2).

use clap::{Args, Subcommand};
use inkan_device::Algorithm;
use inkan_device::import::WrappingAlgorithm;
use inkan_server::config::Config;
use inkan_server::keys::{ExpectedPublicKey, ImportKey, NewKey, key_view};
use inkan_server::operations::Action;
use inkan_server::service::Service;
use inkan_store::{KeyFilter, KeyId, KeyRecord, KeyState};
use std::path::{Path, PathBuf};

/// Largest file the key commands read (wrapped keys, public keys, certificate chains).
const MAX_INPUT_FILE: u64 = 1024 * 1024;

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a key pair inside the crypto device.
    Generate {
        /// Signature algorithm the key is for: ES256, ES384, EdDSA, RS256 or PS256.
        #[arg(long)]
        alg: Algorithm,
        /// A label for people.
        #[arg(long)]
        label: String,
        /// The subscriber the key belongs to.
        #[arg(long, default_value = "default")]
        owner: String,
        /// RSA modulus size for RS256/PS256: 2048 or 3072.
        #[arg(long, default_value_t = 3072)]
        rsa_bits: usize,
        /// The approved `key.generate` request for this owner (dual control).
        #[arg(long)]
        approval: Option<String>,
    },
    /// List keys.
    List {
        /// Only this subscriber's keys.
        #[arg(long)]
        owner: Option<String>,
        /// Only keys in this state: active, disabled or destroyed (checked before anything is
        /// opened).
        #[arg(long, value_parser = ["active", "disabled", "destroyed"])]
        state: Option<String>,
    },
    /// Show one key.
    Show {
        /// The key id (key_…).
        #[arg(value_parser = checked_id)]
        id: String,
    },
    /// Print the device's import wrapping key (PEM): wrap keys to it with RSA-OAEP and
    /// AES-KWP (CKM_RSA_AES_KEY_WRAP) before importing them.
    WrappingKey,
    /// Import a wrapped key made elsewhere; refused unless it matches the given public key or
    /// certificate.
    Import {
        /// The wrapped key, raw or base64.
        #[arg(long)]
        wrapped: PathBuf,
        /// The RSA-OAEP variant that wrapped it: RSA_AES_KEY_WRAP_SHA_256 or
        /// RSA_AES_KEY_WRAP_SHA_1 (some HSMs, SoftHSM 2.6 among them, unwrap only the latter).
        #[arg(long, default_value = "RSA_AES_KEY_WRAP_SHA_256")]
        wrapping_algorithm: WrappingAlgorithm,
        /// The key's public key (PEM or DER SPKI).
        #[arg(long, conflicts_with = "cert", required_unless_present = "cert")]
        public: Option<PathBuf>,
        /// The key's certificate chain (PEM or DER), leaf first; attached to the key.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// Signature algorithm the key is for.
        #[arg(long)]
        alg: Algorithm,
        /// A label for people.
        #[arg(long)]
        label: String,
        /// The subscriber the key belongs to.
        #[arg(long, default_value = "default")]
        owner: String,
        /// The approved `key.import` request (dual control).
        #[arg(long)]
        approval: Option<String>,
    },
    /// Print a PKCS#10 certification request (PEM) signed by the key.
    Csr {
        /// The key id.
        #[arg(value_parser = checked_id)]
        id: String,
        /// Subject distinguished name, e.g. "CN=Example Issuer,O=Example,C=JP".
        #[arg(long)]
        subject: String,
        /// The approved `key.certificate` request for this key (dual control).
        #[arg(long)]
        approval: Option<String>,
    },
    /// Attach a certificate chain; refused unless its leaf certifies the key.
    AttachCert {
        /// The key id.
        #[arg(value_parser = checked_id)]
        id: String,
        /// The chain (PEM or DER), leaf first.
        #[arg(long)]
        chain: PathBuf,
        /// The approved `key.certificate` request for this key (dual control).
        #[arg(long)]
        approval: Option<String>,
    },
    /// Compare the device with the registry: keys in the device that no live registry key
    /// owns (orphans) and live keys the device no longer holds (missing). Exits non-zero
    /// when either list is not empty.
    Reconcile,
    /// Destroy a key in the device, for good (outside a test deployment, a key is destroyed by
    /// an approved `key.destroy` request, which the service carries out).
    Destroy {
        /// The key id.
        #[arg(value_parser = checked_id)]
        id: String,
        /// Why (recorded with the key).
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(config: &Config, service: &Service, args: KeysArgs) -> Result<(), String> {
    let registry = &service.registry;
    let json = args.json;
    let err = |e: inkan_server::keys::KeyError| e.to_string();
    match args.command {
        KeysCommand::Generate {
            alg,
            label,
            owner,
            rsa_bits,
            approval,
        } => {
            let asked = Action::GenerateKey {
                owner: owner.clone(),
                reason: String::new(),
            };
            let actor = &crate::approval::authorise(
                config,
                service,
                asked.name(),
                Some(&asked.summary()),
                approval.as_deref(),
            )
            .await?;
            let record = registry
                .generate(
                    actor,
                    NewKey {
                        owner,
                        label,
                        algorithm: alg,
                        rsa_bits,
                    },
                )
                .await
                .map_err(err)?;
            print_key(&record, json);
        }
        KeysCommand::List { owner, state } => {
            let state = state
                .map(|s| {
                    KeyState::parse(&s).ok_or(format!(
                        "unknown state {s:?} (active, disabled or destroyed)"
                    ))
                })
                .transpose()?;
            let keys = registry
                .list(KeyFilter {
                    owner,
                    state,
                    environment: None,
                })
                .await
                .map_err(err)?;
            if json {
                let views: Vec<_> = keys.iter().map(key_view).collect();
                println!("{}", serde_json::Value::Array(views));
            } else {
                for key in &keys {
                    println!(
                        "{}  {:<6} {:<9} {:<9} {}",
                        key.id,
                        key.algorithm,
                        key.state.as_str(),
                        key.owner,
                        key.label
                    );
                }
            }
        }
        KeysCommand::Show { id } => {
            let record = registry.get(&parse_id(&id)?).await.map_err(err)?;
            print_key(&record, json);
        }
        KeysCommand::WrappingKey => {
            let key = registry.wrapping_key().await.map_err(err)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "public_key_pem": key.to_pem(), "public_jwk": key.to_jwk(), "key_type": key.spec().as_str() })
                );
            } else {
                print!("{}", key.to_pem());
            }
        }
        KeysCommand::Import {
            wrapped,
            wrapping_algorithm,
            public,
            cert,
            alg,
            label,
            owner,
            approval,
        } => {
            let asked = Action::ImportKey {
                owner: owner.clone(),
                reason: String::new(),
            };
            let actor = &crate::approval::authorise(
                config,
                service,
                asked.name(),
                Some(&asked.summary()),
                approval.as_deref(),
            )
            .await?;
            let expected = match (public, cert) {
                (Some(path), _) => ExpectedPublicKey::PublicKey(read_input(&path)?),
                (None, Some(path)) => ExpectedPublicKey::Certificate(read_input(&path)?),
                (None, None) => return Err("give --public or --cert".into()),
            };
            let request = ImportKey {
                owner,
                label,
                algorithm: alg,
                wrapped: read_input(&wrapped)?,
                wrapping: wrapping_algorithm,
                expected,
            };
            let record = registry.import(actor, request).await.map_err(err)?;
            print_key(&record, json);
        }
        KeysCommand::Csr {
            id,
            subject,
            approval,
        } => {
            let actor = &certify_approval(config, service, &id, approval.as_deref()).await?;
            let pem = registry
                .csr(actor, &parse_id(&id)?, &subject)
                .await
                .map_err(err)?;
            if json {
                println!("{}", serde_json::json!({ "id": id, "csr_pem": pem }));
            } else {
                print!("{pem}");
            }
        }
        KeysCommand::AttachCert {
            id,
            chain,
            approval,
        } => {
            let actor = &certify_approval(config, service, &id, approval.as_deref()).await?;
            let record = registry
                .attach_certificate(actor, &parse_id(&id)?, &read_input(&chain)?)
                .await
                .map_err(err)?;
            print_key(&record, json);
        }
        KeysCommand::Reconcile => {
            let found = registry.reconcile().await.map_err(err)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_value(&found).map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "orphans: {}",
                    found
                        .orphans
                        .iter()
                        .map(|h| h.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                println!(
                    "missing: {}",
                    found
                        .missing
                        .iter()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            if !found.orphans.is_empty() || !found.missing.is_empty() {
                return Err("the device and the key registry disagree".into());
            }
        }
        KeysCommand::Destroy { id, reason } => {
            // No host approval for this: an approved `key.destroy` request is carried out by
            // the service itself (logged, the subscriber notified).
            let actor = &crate::approval::authorise(config, service, "key.destroy", None, None)
                .await
                .map_err(|_| {
                    "key.destroy is under dual control: ask for it (POST /v1/approvals \
                     {\"action\": \"key.destroy\", …}); once approved the service destroys the \
                     key"
                    .to_owned()
                })?;
            let destroyed = registry
                .destroy(actor, &parse_id(&id)?, &reason)
                .await
                .map_err(err)?;
            print_key(&destroyed.record, json);
        }
    }
    Ok(())
}

/// Who runs this command on the host, for the log (`USER`, else `LOGNAME`, else `host`).
pub fn host_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| {
            std::env::var(v)
                .ok()
                .filter(|u| !u.is_empty() && u.len() <= 64)
        })
        .unwrap_or_else(|| "host".into())
}

pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let read = |e: std::io::Error| format!("reading {}: {e}", path.display());
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > limit {
        return Err(format!("{} is larger than {limit} bytes", path.display()));
    }
    std::fs::read(path).map_err(read)
}

/// A key id as the argument parser checks it, before anything is opened.
fn checked_id(id: &str) -> Result<String, String> {
    KeyId::parse(id).map(|_| id.to_owned())
}

fn parse_id(id: &str) -> Result<KeyId, String> {
    KeyId::parse(id)
}

fn read_input(path: &Path) -> Result<Vec<u8>, String> {
    read_limited(path, MAX_INPUT_FILE)
}

fn print_key(record: &KeyRecord, json: bool) {
    let view = key_view(record);
    if json {
        println!("{view}");
        return;
    }
    println!("id:          {}", record.id);
    println!("owner:       {}", record.owner);
    println!("label:       {}", record.label);
    println!("alg:         {} ({})", record.algorithm, record.spec);
    println!("state:       {}", record.state.as_str());
    if let Some(reason) = &record.state_reason {
        println!("reason:      {reason}");
    }
    println!("origin:      {}", record.origin.as_str());
    println!("device:      {}", record.device.as_str());
    println!("environment: {}", record.environment);
    for field in ["kid", "did_key", "did_jwk"] {
        if let Some(value) = view[field].as_str() {
            println!("{:<13}{value}", format!("{field}:"));
        }
    }
    if let Some(pem) = view["public_key_pem"].as_str() {
        print!("{pem}");
    }
    if !record.certificate_chain.is_empty() {
        println!("certificates: {}", record.certificate_chain.len());
    }
}

/// The operator a `key.certificate` approval for key `id` names (criteria 2.1.3(12)): a CSR or
/// a certificate decides whom the key signs for, so outside `test` one operator alone never
/// makes or attaches one.
async fn certify_approval(
    config: &Config,
    service: &Service,
    id: &str,
    approval: Option<&str>,
) -> Result<inkan_log::entry::Actor, String> {
    let asked = Action::CertifyKey {
        key: id.to_owned(),
        reason: String::new(),
    };
    crate::approval::authorise(
        config,
        service,
        asked.name(),
        Some(&asked.summary()),
        approval,
    )
    .await
}
