//! `inkan serve`: opens the service from its configuration and serves the API over TLS.
//!
//! Owns start-up order (configuration checked → service opened → secrets key → TLS identity →
//! listener bound → bootstrap operator → accept loop), the housekeeping task (purging ended
//! sessions and spent proof ids, and retained documents past their retention), the delivery
//! worker, and shutdown. On the embedded default it needs no setup: it
//! generates the TLS certificate and, on first start, creates the bootstrap operator; on every
//! start until the operator is activated it returns a fresh activation code for that account
//! (the earlier one stops working, so an expired code never leaves a deployment stuck) for the
//! command to print. Must never start in production with a generated certificate (the TLS
//! module refuses) or print a secret other than that one-time code.

use super::listener::{self, Peers};
use super::tls::{self, TlsIdentityInfo};
use super::{ApiState, Limits, operator_router, router};
use crate::activation::ActivationService;
use crate::auth::Auth;
use crate::auth::accounts::NewAccount;
use crate::clock::Clock;
use crate::config::{Config, Role};
use crate::delivery::{Delivery, PostSigning, Retention, Worker};
use crate::service::{Service, StartError};
use crate::signing::SigningModule;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The username of the first operator, created on first start (and given a new activation
/// code on each later start until activated).
pub const BOOTSTRAP_OPERATOR: &str = "operator";
/// How often ended sessions are purged.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);
/// Ended sessions are kept this long for the record (milliseconds).
const KEEP_ENDED_SESSIONS: i64 = 7 * 24 * 3_600_000;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The service could not be opened.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The TLS identity or configuration was refused.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Authentication could not be set up.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// Delivery or retention could not be set up.
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
    /// The status checker could not be set up (its trust anchors or CA files).
    #[error("status checking: {0}")]
    Status(String),
    /// The verify endpoints' trust anchors could not be read.
    #[error("verification: {0}")]
    Verify(String),
    /// A setting's files could not be used (an identity provider's secret or CA files, the
    /// passkey attestation roots).
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
    /// A front end is started with `api::front::Front`, not as the service.
    #[error("[server] role = \"front\" is a front end: it does not open the service")]
    Front,
    /// The listener could not be bound.
    #[error("listening on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl From<inkan_store::StoreError> for ServeError {
    fn from(e: inkan_store::StoreError) -> Self {
        ServeError::Start(StartError::Store(e))
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// The address it listens on.
    pub local_addr: SocketAddr,
    /// The address of the operators' plain-HTTP listener (`/metrics`, `/ready` details), if
    /// configured.
    pub metrics_addr: Option<SocketAddr>,
    /// The URL clients use.
    pub public_url: String,
    /// The TLS identity and where it came from.
    pub tls: TlsIdentityInfo,
    /// The bootstrap operator's account and a fresh one-time activation code, on every start
    /// until the operator is activated (`None` after).
    pub bootstrap: Option<NewAccount>,
    /// The service, shared with the handlers.
    pub service: Arc<Service>,
    /// Authentication, shared with the handlers.
    pub auth: Arc<Auth>,
    /// Signature activation, shared with the handlers.
    pub activation: Arc<ActivationService>,
    /// The signing module, shared with the handlers.
    pub signing: Arc<SigningModule>,
    /// Retention and delivery of signed documents, shared with the handlers.
    pub after: Arc<PostSigning>,
    clock: Arc<dyn Clock>,
    delivery_worker: Worker,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    metrics: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    housekeeping: JoinHandle<()>,
    /// The device's and the store's probes.
    probes: [JoinHandle<()>; 2],
    monitor: JoinHandle<()>,
    publisher: JoinHandle<()>,
    status: Arc<crate::status::StatusChecker>,
    /// The status lists kept for issuers, shared with the handlers.
    pub status_lists: Arc<crate::status_lists::StatusLists>,
}

/// The process-wide metrics recorder (installed once; later servers in the same process share
/// it).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = crate::telemetry::builder().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was installed already; /metrics will be empty");
            }
            crate::telemetry::describe();
            handle
        })
        .clone()
}

/// The attestation policy `[auth]` sets for new passkeys.
fn passkey_attestation(
    auth: &crate::config::AuthConfig,
) -> Result<crate::auth::webauthn::AttestationPolicy, ServeError> {
    use crate::auth::webauthn::AttestationPolicy;
    Ok(match auth.passkey_attestation {
        crate::config::PasskeyAttestation::Record => AttestationPolicy::Record,
        crate::config::PasskeyAttestation::Verified => AttestationPolicy::Verified {
            roots: crate::config::load_trust_anchors(
                "[auth] passkey_attestation_roots",
                &auth.passkey_attestation_roots,
            )
            .map_err(crate::config::ConfigError::Invalid)?,
            aaguids: auth.passkey_aaguids.clone(),
        },
    })
}

impl Server {
    /// Opens everything `config` names and starts serving.
    pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<Server, ServeError> {
        // The recorder first, so that everything the start measures is kept.
        let exposition = metrics_handle();
        crate::telemetry::checkpoint_interval(config.log.checkpoint_every_seconds);
        let service = Arc::new(Service::open(config, clock.clone()).await?);
        let seal = Auth::sealing_key(&config.server.secrets_key_file)?;
        let activation_key =
            crate::activation::load_or_create_key(&config.signing.activation_key_file, &seal)?;
        let (identity, tls_info) = tls::load_or_generate(&config.server, config.environment)?;
        let anchors = tls::load_anchors(&config.server.client_ca_files)?;
        // A signer completes handshakes with its front ends only, and hears from them who the
        // client is (issue 20 point 1; criteria 2.2.4(2)).
        let (tls_config, peers) = match config.server.role {
            Role::Single => (tls::server_config(&identity, &anchors)?, Peers::Clients),
            Role::Signer => {
                let fronts = tls::load_anchors(&config.signer.front_ca_files)?;
                // A system client's certificate must never pass for a front end's: the front
                // ends' CA is theirs alone (no client CA with its key; and a front end's
                // certificate must be issued by it directly, `front_ends_only_config`).
                if tls::anchors_share_a_key(&fronts, &anchors)? {
                    return Err(ServeError::Settings(crate::config::ConfigError::Invalid(
                        "[signer] front_ca_files and [server] client_ca_files share a CA: a \
                         client's certificate would pass for a front end's; give the front \
                         ends a CA of their own"
                            .into(),
                    )));
                }
                (
                    tls::front_ends_only_config(&identity, &fronts)?,
                    Peers::FrontEnds,
                )
            }
            Role::Front => return Err(ServeError::Front),
        };
        let (tcp, local_addr, public_url) = bind_public(&config.server).await?;
        let auth = Arc::new(
            Auth::new(
                service.store.clone(),
                service.log.clone(),
                clock.clone(),
                config.auth.clone(),
                config.environment,
                seal,
                public_url.clone(),
            )
            .with_federation(crate::auth::federation::Federation::from_config(
                &config.identity_providers,
                // A callback may make three calls in a row (discovery, keys, token): each gets a
                // quarter of the request's time, so the request can still answer.
                std::time::Duration::from_secs(
                    (config.server.request_timeout_seconds / 4).clamp(1, 10),
                ),
            )?)
            .with_attestation_policy(passkey_attestation(&config.auth)?),
        );
        // Signatures whose index rows were lost (a crash between the entry and its batch) are
        // found again by their digest (criteria 2.2.3(3)C).
        crate::signing::index::rebuild(&*service.store, service.now())
            .await
            .map_err(StartError::from)?;
        // One node at a time (`nodes`): the configuration's check (a change is recorded, and
        // its approval used, once), the delivery key (only a server that may start makes it;
        // host commands never do) and the bootstrap operator.
        let lease = crate::nodes::alone(
            &*service.store,
            &*clock,
            &service.node,
            "server start",
            || async {
                crate::operations::configuration::check_at_start(&service, config).await?;
                let delivery_key = service
                    .registry
                    .delivery_key()
                    .await
                    .map_err(StartError::from)?;
                crate::keys::own_keys::check_where(&service.device, &delivery_key)
                    .map_err(StartError::from)?;
                // One code in force: a pending operator's code is replaced only when no other
                // node is running (a running node printed the one in force). This node counts
                // as running from here on, for the nodes that take the lease after it.
                let now = clock.now();
                let running = service
                    .store
                    .nodes_probed_since(now - crate::health::RUNNING_FOR_MILLIS)
                    .await?;
                let alone = running.iter().all(|node| *node == service.node);
                service.store.probe_write(&service.node, now).await?;
                let bootstrap = auth.bootstrap_operator(BOOTSTRAP_OPERATOR, alone).await?;
                let pending = || async {
                    matches!(
                        service.store.get_account_by_username(BOOTSTRAP_OPERATOR).await,
                        Ok(Some(account)) if account.state == inkan_store::auth::AccountState::Pending
                    )
                };
                if !alone && bootstrap.is_none() && pending().await {
                    tracing::info!(
                        nodes = running.len(),
                        "the bootstrap operator is pending: its activation code is the one a \
                         running node printed (stop every node and start one for a new code)"
                    );
                }
                Ok::<_, ServeError>((delivery_key, bootstrap))
            },
        );
        let (delivery_key, bootstrap) = lease.await?;
        let activation = Arc::new(ActivationService::new(
            service.store.clone(),
            auth.clone(),
            service.log.clone(),
            clock.clone(),
            config.environment,
            activation_key,
            // Nonces are sealed under the secrets key too: every node opens every node's.
            Auth::sealing_key(&config.server.secrets_key_file)?,
            config.signing.sad_seconds,
        ));
        let status = Arc::new(
            crate::status::StatusChecker::new(&config.status, clock.clone())
                .map_err(|e| ServeError::Status(e.to_string()))?,
        );
        let signing = Arc::new(SigningModule::new(
            &service,
            auth.clone(),
            status.clone(),
            config
                .status
                .keys_without_status_may_sign(config.environment),
        ));
        let delivery = Arc::new(Delivery::new(
            &service,
            &delivery_key,
            &config.server.secrets_key_file,
            &config.delivery,
        )?);
        let retention = Arc::new(Retention::new(
            service.store.clone(),
            clock.clone(),
            &config.server.secrets_key_file,
            config.signing.retention_days,
        )?);
        let after = Arc::new(PostSigning::new(
            service.store.clone(),
            delivery.clone(),
            retention,
        ));
        let operations = Arc::new(crate::operations::Operations::new(
            service.clone(),
            auth.clone(),
            delivery.clone(),
            clock.clone(),
            config.operations.clone(),
        ));
        let verify_anchors = Arc::new(config.verify.load_anchors().map_err(ServeError::Verify)?);
        let status_lists = Arc::new(crate::status_lists::StatusLists::new(
            service.clone(),
            signing.clone(),
            after.delivery.clone(),
            &public_url,
            config.status_lists.policy().map_err(ServeError::Status)?,
        ));
        let oauth = Arc::new(crate::oauth::AuthorizationServer::new(
            service.store.clone(),
            auth.clone(),
            activation.clone(),
            service.recorder.clone(),
            clock.clone(),
        ));
        let device_probe = Arc::new(crate::telemetry::device_probe());
        let store_probe = Arc::new(crate::health::Probe::of_the_store());
        let probes = [
            tokio::spawn(crate::telemetry::probe_device(
                device_probe.clone(),
                service.device.clone(),
                service.log_key.handle.clone(),
                exposition.clone(),
            )),
            tokio::spawn(crate::health::probe_store(
                store_probe.clone(),
                service.store.clone(),
                service.node.clone(),
                clock.clone(),
            )),
        ];
        let state = Arc::new(ApiState {
            device_probe,
            store_probe,
            oauth,
            operations,
            service: service.clone(),
            auth: auth.clone(),
            activation: activation.clone(),
            signing: signing.clone(),
            after: after.clone(),
            metrics: exposition,
            verifying: crate::blocking::Gate::sized(
                "credential verifications",
                config.server.concurrent_verifications,
            ),
            verify_anchors,
            status_lists: status_lists.clone(),
        });
        let metrics = match config.server.metrics_listen {
            Some(address) => {
                let tcp = TcpListener::bind(address)
                    .await
                    .map_err(|source| ServeError::Bind { address, source })?;
                let bound = tcp
                    .local_addr()
                    .map_err(|source| ServeError::Bind { address, source })?;
                let (stop, stopped) = oneshot::channel::<()>();
                let app = operator_router(state.clone());
                let task = tokio::spawn(async move {
                    axum::serve(tcp, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                });
                tracing::info!(address = %bound, "operators' metrics listener (plain HTTP)");
                Some((bound, stop, task))
            }
            None => None,
        };
        let metrics_addr = metrics.as_ref().map(|(bound, _, _)| *bound);
        let metrics = metrics.map(|(_, stop, task)| (stop, task));
        let app = router(
            state,
            Limits {
                max_body_bytes: config.server.max_body_bytes,
                timeout: Duration::from_secs(config.server.request_timeout_seconds),
            },
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listener::serve(
            tcp,
            tls_config,
            anchors,
            app,
            config.server.max_connections,
            peers,
            async {
                let _ = stopped.await;
            },
        ));
        let housekeeping =
            tokio::spawn(housekeeping(service.clone(), after.clone(), clock.clone()));
        let delivery_worker = delivery.start_worker();
        let publisher = tokio::spawn(publish_status_lists(status_lists.clone()));
        let monitor = tokio::spawn(monitor(
            service.clone(),
            status.clone(),
            delivery.clone(),
            Duration::from_secs(config.status.monitor_every_seconds),
        ));
        tracing::info!(
            address = %local_addr,
            url = %public_url,
            environment = %config.environment,
            role = config.server.role.as_str(),
            store = service.store.engine(),
            tls_fingerprint = %tls_info.fingerprint,
            "inkan is serving"
        );
        Ok(Server {
            local_addr,
            metrics_addr,
            metrics,
            public_url,
            tls: tls_info,
            bootstrap,
            service,
            auth,
            activation,
            signing,
            after,
            clock,
            delivery_worker,
            stop,
            task,
            housekeeping,
            probes,
            monitor,
            publisher,
            status,
            status_lists,
        })
    }

    /// Stops accepting, lets requests in flight finish, and returns when done.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        if let Some((stop, task)) = self.metrics {
            let _ = stop.send(());
            match task.await {
                Ok(result) => result?,
                Err(e) => return Err(std::io::Error::other(e)),
            }
        }
        self.housekeeping.abort();
        for probe in &self.probes {
            probe.abort();
        }
        // Ended, so that no probe write in flight commits after the row is forgotten.
        for probe in self.probes {
            let _ = probe.await;
        }
        // No longer running: a node started after this one may give a new bootstrap code.
        if let Err(e) = self.service.store.forget_node(&self.service.node).await {
            tracing::warn!(error = %e, "this node's probe row could not be removed");
        }
        self.monitor.abort();
        self.publisher.abort();
        self.delivery_worker.stop().await;
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }

    /// Runs a status monitor round now (as the monitor task does every
    /// `[status] monitor_every_seconds`), unless another node is running one (then an empty
    /// report).
    pub async fn monitor_now(&self) -> crate::status::monitor::MonitorReport {
        monitor_round(&self.service, &self.status, &self.after.delivery).await
    }

    /// Runs the housekeeping round now (as the housekeeping task does every ten minutes).
    pub async fn housekeeping_now(&self) {
        housekeep(&self.service, &self.after, &*self.clock).await;
    }
}

/// Binds the public listener of `server` (a whole service, a signer or a front end): the
/// socket, the address it got, and the URL clients use (`public_url`, or
/// `https://localhost:<port>`).
pub(super) async fn bind_public(
    server: &crate::config::ServerConfig,
) -> Result<(TcpListener, SocketAddr, String), ServeError> {
    let address = server.listen;
    let tcp = TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind { address, source })?;
    let local_addr = tcp
        .local_addr()
        .map_err(|source| ServeError::Bind { address, source })?;
    let public_url = match &server.public_url {
        Some(_) => server.public_url(),
        None => format!("https://localhost:{}", local_addr.port()),
    };
    Ok((tcp, local_addr, public_url))
}

/// Publishes the status lists that changed, every `[status_lists] publish_every_seconds`
/// (issue 16).
async fn publish_status_lists(lists: Arc<crate::status_lists::StatusLists>) {
    let mut tick = tokio::time::interval(lists.policy().every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let report = lists.publish_due().await;
        if !report.published.is_empty() || !report.failed.is_empty() {
            tracing::info!(?report, "status lists publication round");
        }
    }
}

/// Runs a status monitor round every `every` (criteria 2.2.2(3)B).
async fn monitor(
    service: Arc<Service>,
    status: Arc<crate::status::StatusChecker>,
    delivery: Arc<Delivery>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let report = monitor_round(&service, &status, &delivery).await;
        crate::telemetry::monitor_round(report.failed > 0, service.now());
        if !report.destroyed.is_empty() || report.failed > 0 {
            tracing::info!(?report, "status monitor round");
        }
    }
}

/// How long one node may hold the status monitor's lease: far longer than a round takes.
const MONITOR_LEASE_MILLIS: i64 = 10 * 60_000;

/// One round of the status monitor, by one node at a time (`nodes::if_free`): several nodes'
/// rounds never race to destroy the same key. A round another node is running is skipped
/// (an empty report); a lease that cannot be taken is a failed round.
async fn monitor_round(
    service: &Service,
    status: &crate::status::StatusChecker,
    delivery: &Delivery,
) -> crate::status::monitor::MonitorReport {
    let round = crate::nodes::if_free(
        &*service.store,
        &*service.clock,
        &service.node,
        "status monitor",
        MONITOR_LEASE_MILLIS,
        || crate::status::monitor::run_once(service, status, delivery),
    )
    .await;
    match round {
        Ok(Some(report)) => report,
        Ok(None) => crate::status::monitor::MonitorReport::default(),
        Err(e) => {
            tracing::warn!(error = %e, "status monitor: its lease could not be taken");
            crate::status::monitor::MonitorReport {
                failed: 1,
                ..Default::default()
            }
        }
    }
}

/// Runs [`housekeep`] every ten minutes.
async fn housekeeping(service: Arc<Service>, after: Arc<PostSigning>, clock: Arc<dyn Clock>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_EVERY);
    loop {
        tick.tick().await;
        housekeep(&service, &after, &*clock).await;
    }
}

/// Purges sessions that ended more than a week ago, SADs expired as long, OAuth2 requests
/// nothing can use any more, rate windows that ended, and retained documents past their
/// retention (criteria 2.2.3(3)B).
async fn housekeep(service: &Service, after: &PostSigning, clock: &dyn Clock) {
    let before = clock.now().saturating_sub(KEEP_ENDED_SESSIONS);
    match service.store.purge_sessions(before).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "purged ended sessions"),
        Err(e) => tracing::warn!(error = %e, "purging ended sessions failed"),
    }
    match service.store.purge_sads(before).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "purged expired signature activation data"),
        Err(e) => tracing::warn!(error = %e, "purging expired SADs failed"),
    }
    match service.store.purge_oauth_requests(before).await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "purged ended OAuth2 authorization requests"),
        Err(e) => tracing::warn!(error = %e, "purging OAuth2 authorization requests failed"),
    }
    match service.store.purge_windows(clock.now()).await {
        Ok(0) => {}
        Ok(purged) => tracing::debug!(purged, "purged ended rate windows"),
        Err(e) => tracing::warn!(error = %e, "purging ended rate windows failed"),
    }
    match after.retention.purge().await {
        Ok(0) => {}
        Ok(purged) => tracing::info!(purged, "purged signed documents past their retention"),
        Err(e) => tracing::warn!(error = %e, "purging retained documents failed"),
    }
}
