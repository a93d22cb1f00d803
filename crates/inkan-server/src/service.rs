//! Opening Inkan from its configuration: the store, the crypto device, the transparency log
//! (with its key in the device) and the key registry, in that order.
//!
//! This is the one place that wires the parts together; commands and (later) the HTTP
//! service start here. It must never hand out a registry whose changes would not be logged.

use crate::clock::Clock;
use crate::config::Config;
use crate::device::Device;
use crate::environment::Environment;
use crate::keys::own_keys::{self, DeviceNoteSigner};
use crate::keys::{KeyError, KeyRegistry, sha256_digest};
use crate::log::{CheckpointPolicy, Event, Recorder, TransparencyLog};
use inkan_log::entry::{Actor, ActorKind, Authentication, Entry, EntryKind, Outcome};
use inkan_store::{KeyRecord, Store};
use std::sync::Arc;
use std::time::Duration;

/// Why Inkan could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] inkan_store::StoreError),
    /// The device could not be opened.
    #[error(transparent)]
    Device(#[from] inkan_device::DeviceError),
    /// The log key could not be found or made.
    #[error("the transparency log key: {0}")]
    LogKey(#[from] KeyError),
    /// The log could not be opened.
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
    /// The store belongs to another environment (criteria 2.1.3(15)).
    #[error("this store belongs to the {store} environment, not {configured}")]
    WrongEnvironment {
        /// The store's environment.
        store: String,
        /// The configured one.
        configured: Environment,
    },
}

/// A store serves one environment: the one its log's first entry names (criteria
/// 2.1.3(15)). A deployment configured for another is refused before it changes anything.
async fn check_environment(store: &dyn Store, environment: Environment) -> Result<(), StartError> {
    let first = store.log_entries(0, 1).await?;
    let Some(bytes) = first.first() else {
        return Ok(());
    };
    let entry = Entry::decode(bytes).map_err(|e| StartError::Log(e.into()))?;
    if entry.environment != environment.as_str() {
        return Err(StartError::WrongEnvironment {
            store: entry.environment,
            configured: environment,
        });
    }
    Ok(())
}

/// A running Inkan: what commands and the service use.
#[derive(Debug)]
pub struct Service {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The crypto device (without a way to sign for just anyone: `crate::device`).
    pub device: Device,
    /// The transparency log.
    pub log: Arc<TransparencyLog>,
    /// What writes this deployment's events and changes to the log.
    pub recorder: Recorder,
    /// The key registry (every change logged).
    pub registry: KeyRegistry,
    /// The log key in the registry.
    pub log_key: KeyRecord,
    /// This deployment's environment.
    pub environment: Environment,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// This node's name among the nodes of its store (`nodes`), new at every start.
    pub node: String,
    /// Whether a restore left the deployment sealed (no key signs until an approved
    /// `backup.restore`, `crate::backup::seal`).
    pub seal: crate::backup::seal::Seal,
}

impl Service {
    /// Opens everything `config` names. The first start creates the log key in the device
    /// and records its creation as the log's first entry.
    pub async fn open(config: &Config, clock: Arc<dyn Clock>) -> Result<Service, StartError> {
        let environment = config.environment;
        let store = inkan_store::connect(&config.store.url).await?;
        let device = config.open_device()?;
        if !device.is_certified() && environment == Environment::Production {
            tracing::warn!(
                clause = "2.2.2(1)",
                "running production on the uncertified software token"
            );
        }
        if let Some(own) = &config.log.key_device {
            let kind = match own {
                crate::config::DeviceConfig::Soft { .. } => "the software token",
                crate::config::DeviceConfig::Pkcs11 { .. } => "a PKCS#11 token",
            };
            tracing::warn!(
                clause = "2.2.2(1)",
                device = kind,
                "Inkan's own keys (the transparency log's key, the delivery key) are kept in \
                 [log.key_device], not in [device], as the configuration says"
            );
        }
        let node = crate::nodes::new_node_name();
        let opening = || async {
            check_environment(&*store, environment).await?;
            let (log_key, created) =
                own_keys::find_or_create(&device, &store, &clock, environment).await?;
            own_keys::check_where(&device, &log_key)?;
            let origin = config.log.origin(environment);
            let signer = DeviceNoteSigner::new(device.clone(), &log_key, origin.clone())?;
            let policy = CheckpointPolicy {
                every_entries: config.log.checkpoint_every_entries,
                every: Duration::from_secs(config.log.checkpoint_every_seconds),
            };
            let log = Arc::new(
                TransparencyLog::open(
                    store.clone(),
                    Arc::new(signer),
                    origin,
                    policy,
                    clock.clone(),
                )
                .await?,
            );
            let recorder = Recorder::new(log.clone(), clock.clone(), environment);
            if created {
                let event = Event::new(EntryKind::KeyGenerated, system_actor())
                    .key(&log_key.id)
                    .digests(vec![sha256_digest(&log_key.public_key_spki)])
                    .note("transparency log key, made before the log could record it");
                recorder.record(event, Outcome::Succeeded).await?;
            }
            Ok::<_, StartError>((log_key, log, recorder))
        };
        // A store without a log key yet: nodes (and host commands) opening it at once take
        // turns (`nodes`), so one checks the environment, makes the key and records it as the
        // log's first entry, and the others find it. Once it exists nobody waits.
        let first_start = own_keys::active(&*store, environment, own_keys::LOG_KEY_LABEL)
            .await?
            .is_empty();
        let (log_key, log, recorder) = if first_start {
            crate::nodes::alone(&*store, &*clock, &node, "first start", opening).await?
        } else {
            opening().await?
        };
        let registry = KeyRegistry::new(
            device.clone(),
            store.clone(),
            clock.clone(),
            environment,
            log.clone(),
        );
        let seal = crate::backup::seal::Seal::load(&*store).await?;
        Ok(Service {
            node,
            store,
            device,
            log,
            recorder,
            registry,
            log_key,
            environment,
            clock,
            seal,
        })
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> crate::clock::UnixMillis {
        self.clock.now()
    }

    /// Appends an operator's action (`operator.action`) done through a host command, naming
    /// the dual-control request it used, if any; the entry's index.
    pub async fn record_operation(
        &self,
        actor: &Actor,
        approval: Option<&str>,
        note: String,
    ) -> Result<u64, crate::log::LogError> {
        let event = Event::new(EntryKind::OperatorAction, actor.clone())
            .approval(approval)
            .note(note);
        self.recorder.record(event, Outcome::Succeeded).await
    }

    /// The log's verifier key (C2SP vkey) for offline verification of checkpoints and
    /// receipts.
    pub fn log_vkey(&self) -> Result<String, KeyError> {
        let signer = DeviceNoteSigner::new(
            self.device.clone(),
            &self.log_key,
            self.log.origin().to_owned(),
        )?;
        Ok(inkan_log::note::vkey(
            inkan_log::note::NoteSigner::name(&signer),
            &inkan_log::note::NoteSigner::public_key(&signer),
        ))
    }
}

/// Inkan itself, acting on its own (start-up).
pub fn system_actor() -> Actor {
    Actor {
        kind: ActorKind::System,
        id: "inkan".into(),
        auth: Authentication {
            method: "none".into(),
            session: None,
            terminal: None,
        },
    }
}

/// Someone with access to the host running an `inkan` command (operator authentication comes
/// with the operations issue): recorded as an operator authenticated by the host.
pub fn host_operator(user: &str) -> Actor {
    Actor {
        kind: ActorKind::Operator,
        id: user.into(),
        auth: Authentication {
            method: "host".into(),
            session: None,
            terminal: None,
        },
    }
}
