//! `inkan bench`: load against the HTTPS API, reported as a ratio to the device's raw signing
//! rate measured in the same run.
//!
//! The load is what an issuer's system does: VC-JWT (`vc+jwt`, the key's algorithm) issuance
//! over mutual TLS under standing approval, `--concurrency` requests in flight for
//! `--seconds`, each one through the whole signing path (token check, scope, write-ahead log
//! entry, device, result entry, receipt). Without `--url` the bench starts the service itself
//! on `--config` (or the embedded default in a scratch folder) and provisions what it needs;
//! with `--url` it needs a client certificate, its key and the key id. The raw rate is the same
//! device signing the same kind of input with a throwaway key of the same algorithm, one
//! thread per core, no HTTP, no log. The floor is the cheapest authenticated request the same
//! client makes over the same connections (`GET /v1/me`: the token checked, no signature, no
//! log), measured the same way right after: issuance is reported as a ratio to both.
//!
//! Latency under load is measured a second way too: after the peak (closed loop, as many
//! requests as `--concurrency` allows, each sent when the last is answered), the same request
//! at half the peak's rate in an open loop (one started every 1/rate s whether or not the
//! service kept up, at most `--concurrency` in flight), each latency counted from when the
//! request was due, so a service that falls behind cannot hide it by slowing the sender.
//!
//! `--scenario di-eddsa` issues a fixed VCDM 2.0 credential as `ldp_vc` with an
//! `eddsa-rdfc-2022` Data Integrity proof (an Ed25519 key) instead, and reports the same fields;
//! `--credential-out` writes the credential it issued so that another issuer can be measured on
//! the very same one (`interop/di/bench-digitalbazaar.mjs`).
//!
//! Must never: run against a production or staging configuration (it activates the bootstrap
//! operator and makes accounts, keys and clients), or sign with a registered key outside the
//! signing module (the baseline key is made for it, never registered, and destroyed).

use crate::api_client::{Client, Session};
use clap::{Args, ValueEnum};
use inkan_device::Algorithm;
use inkan_server::api::server::Server;
use inkan_server::clock::SystemClock;
use inkan_server::config::Config;
use inkan_server::device::Device;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A running server (https://…); without it the bench starts one itself. Given more
    /// than once (the front ends of one deployment), the load is spread over them, and a
    /// sender that one fails moves to the next.
    #[arg(long)]
    url: Vec<String>,
    /// With --url: the server's certificate (PEM) to trust.
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// With --url: the system client's certificate and key (PEM, one file).
    #[arg(long)]
    client_identity: Option<PathBuf>,
    /// With --url: the key to issue with (key_…).
    #[arg(long)]
    key_id: Option<String>,
    /// What is issued: VC-JWT (the default) or a Data Integrity `eddsa-rdfc-2022` credential.
    #[arg(long, value_enum, default_value_t = Scenario::VcJwt)]
    scenario: Scenario,
    /// The key's algorithm when the bench makes it (ES256 for vc-jwt; di-eddsa needs EdDSA,
    /// its default).
    #[arg(long)]
    alg: Option<Algorithm>,
    /// di-eddsa: write the credential issued (JSON, with its proof) to this file.
    #[arg(long)]
    credential_out: Option<PathBuf>,
    /// How long to measure, after a one-second warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// What the load issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `vc+jwt` with the key's algorithm.
    #[value(name = "vc-jwt")]
    VcJwt,
    /// `ldp_vc` with an `eddsa-rdfc-2022` proof (RDFC-1.0 canonicalisation, Ed25519).
    #[value(name = "di-eddsa")]
    DiEddsa,
}

impl Scenario {
    /// The key algorithm the scenario signs with, `--alg` when it fits.
    fn algorithm(self, asked: Option<Algorithm>) -> Result<Algorithm, String> {
        match (self, asked) {
            (Scenario::VcJwt, asked) => Ok(asked.unwrap_or(Algorithm::Es256)),
            (Scenario::DiEddsa, None | Some(Algorithm::EdDsa)) => Ok(Algorithm::EdDsa),
            (Scenario::DiEddsa, Some(other)) => Err(format!(
                "--scenario di-eddsa signs with an Ed25519 key (--alg EdDSA), not {}",
                other.as_str()
            )),
        }
    }

    /// The `scenario` of the report.
    fn describe(self) -> &'static str {
        match self {
            Scenario::VcJwt => {
                "vc+jwt issuance over HTTPS (mTLS system client, durable log, receipts)"
            }
            Scenario::DiEddsa => {
                "di-eddsa: ldp_vc eddsa-rdfc-2022 issuance over HTTPS (mTLS system client, \
                 durable log, receipts)"
            }
        }
    }

    /// The body of `POST /credentials/issue`.
    fn issuance(self, key_id: &str) -> serde_json::Value {
        match self {
            Scenario::VcJwt => json!({
                "credential": {
                    "@context": ["https://www.w3.org/ns/credentials/v2"],
                    "type": ["VerifiableCredential"],
                    "validFrom": "2026-01-01T00:00:00Z",
                    "credentialSubject": {"id": "did:example:subject", "degree": "BSc"}
                },
                "options": {"credentialId": key_id, "format": "vc+jwt"}
            }),
            // The issuer is filled in by the service: the key's did:key.
            Scenario::DiEddsa => json!({
                "credential": {
                    "@context": [
                        "https://www.w3.org/ns/credentials/v2",
                        "https://www.w3.org/ns/credentials/examples/v2"
                    ],
                    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
                    "type": ["VerifiableCredential", "ExampleDegreeCredential"],
                    "validFrom": "2026-01-01T00:00:00Z",
                    "validUntil": "2036-01-01T00:00:00Z",
                    "credentialSubject": {
                        "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
                        "degree": {
                            "type": "ExampleBachelorDegree",
                            "name": "Bachelor of Science and Arts"
                        }
                    }
                },
                "options": {
                    "keyId": key_id,
                    "format": "ldp_vc",
                    "cryptosuite": "eddsa-rdfc-2022"
                }
            }),
        }
    }
}

const PASSWORD: &str = "bench password, not for production";

pub async fn run(config_path: Option<&Path>, args: BenchArgs) -> Result<(), String> {
    let alg = args.scenario.algorithm(args.alg)?;
    if args.credential_out.is_some() && args.scenario != Scenario::DiEddsa {
        return Err("--credential-out is for --scenario di-eddsa".into());
    }
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (clients, key_id, server) = match args.url.first() {
        Some(_) => {
            let read = |p: &Option<PathBuf>, what: &str| -> Result<Vec<u8>, String> {
                let p = p.as_ref().ok_or(format!("--url needs {what}"))?;
                std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))
            };
            let cacert = read(&args.cacert, "--cacert")?;
            let identity = String::from_utf8(read(&args.client_identity, "--client-identity")?)
                .map_err(|e| e.to_string())?;
            let key_id = args.key_id.clone().ok_or("--url needs --key-id")?;
            let clients = args
                .url
                .iter()
                .map(|url| Client::new(url, &cacert, Some(&identity), Arc::new(SystemClock)))
                .collect::<Result<Vec<Client>, String>>()?;
            (clients, key_id, None)
        }
        None => {
            let config = bench_config(config_path, scratch.path())?;
            let server = Server::start(&config, Arc::new(SystemClock))
                .await
                .map_err(|e| e.to_string())?;
            let cert = std::fs::read(&config.server.tls_certificate).map_err(|e| e.to_string())?;
            let plan = crate::provision::Plan {
                prefix: "bench",
                password: PASSWORD,
                algorithm: alg.as_str(),
                pin: "135791",
                operations: &["sign"],
            };
            let made = crate::provision::issuer_with_client(&server, &cert, &plan).await?;
            (
                vec![made.system.clone()],
                made.key_id(),
                Some((server, config)),
            )
        }
    };
    let targets = Targets::new(clients);
    let session = targets.first().client_token().await?;
    let issuance = Request {
        method: Method::POST,
        path: "/credentials/issue",
        body: Some(args.scenario.issuance(&key_id)),
        expect: StatusCode::CREATED,
    };
    if let Some(out) = &args.credential_out {
        let issued = targets
            .first()
            .call(
                &session,
                issuance.method.clone(),
                issuance.path,
                issuance.body.as_ref(),
                issuance.expect,
            )
            .await?;
        let credential = issued
            .get("verifiableCredential")
            .ok_or("the issuance answer has no verifiableCredential")?;
        let text = serde_json::to_string_pretty(credential).map_err(|e| e.to_string())?;
        std::fs::write(out, text + "\n").map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let issuance = Arc::new(issuance);
    let load = measure_load(&targets, &session, issuance.clone(), &args, Pace::Closed).await?;
    let half_rate = load.ok as f64 / load.seconds / 2.0;
    let half = if load.ok > 0 {
        measure_load(&targets, &session, issuance, &args, Pace::Open(half_rate)).await?
    } else {
        Load::none()
    };
    let floor = Request {
        method: Method::GET,
        path: "/v1/me",
        body: None,
        expect: StatusCode::OK,
    };
    let floor = measure_load(&targets, &session, Arc::new(floor), &args, Pace::Closed).await?;
    // The raw rate of the same device and algorithm, in the same run.
    let raw = match &server {
        Some((server, _)) => Some(raw_rate(server.service.device.clone(), alg).await?),
        None => match config_path {
            Some(path) => {
                let config =
                    Config::load(Some(path), std::env::vars()).map_err(|e| e.to_string())?;
                refuse_unless_test(&config)?;
                let device = config.open_device().map_err(|e| e.to_string())?;
                Some(raw_rate(device, alg).await?)
            }
            None => None,
        },
    };
    if let Some((server, _)) = server {
        server.stop().await.map_err(|e| e.to_string())?;
    }
    report(&load, &half, &floor, raw, alg, &args);
    Ok(())
}

/// The bench provisions accounts and makes keys: never on a production or staging deployment.
fn refuse_unless_test(config: &Config) -> Result<(), String> {
    if config.environment == inkan_server::environment::Environment::Test {
        Ok(())
    } else {
        Err(format!(
            "inkan bench runs only on a test deployment (this configuration is {}): it creates \
             accounts, keys and clients",
            config.environment
        ))
    }
}

/// The configuration: the given file (its listener moved to a free loopback port), or the
/// embedded default in `scratch`.
fn bench_config(path: Option<&Path>, scratch: &Path) -> Result<Config, String> {
    let listen = [("INKAN_SERVER__LISTEN".to_owned(), "127.0.0.1:0".to_owned())];
    match path {
        Some(path) => {
            let env = std::env::vars().chain(listen);
            let config = Config::load(Some(path), env).map_err(|e| e.to_string())?;
            refuse_unless_test(&config)?;
            Ok(config)
        }
        None => crate::provision::test_config(scratch, "127.0.0.1:0", None, ""),
    }
}

/// The measured load.
#[derive(Debug)]
struct Load {
    ok: u64,
    errors: u64,
    seconds: f64,
    latencies_ms: Vec<f64>,
    first_error: Option<String>,
    memory: Memory,
}

impl Load {
    /// No load measured.
    fn none() -> Load {
        Load {
            ok: 0,
            errors: 0,
            seconds: 1.0,
            latencies_ms: Vec::new(),
            first_error: None,
            memory: Memory::default(),
        }
    }
}

/// One kind of request the load repeats.
struct Request {
    method: Method,
    path: &'static str,
    body: Option<serde_json::Value>,
    expect: StatusCode,
}

impl Request {
    async fn send(&self, client: &Client, session: &Session) -> Result<(), String> {
        client
            .call(
                session,
                self.method.clone(),
                self.path,
                self.body.as_ref(),
                self.expect,
            )
            .await
            .map(drop)
    }
}

/// How requests are sent.
#[derive(Debug, Clone, Copy)]
enum Pace {
    /// `--concurrency` senders, each sending its next request when the last is answered.
    Closed,
    /// Requests due at this many per second whatever the answers; at most `--concurrency` in
    /// flight; latency from when each was due.
    Open(f64),
}

/// `request` repeated at `pace` for `--seconds` after a second's warm-up.
async fn measure_load(
    targets: &Targets,
    session: &Session,
    request: Arc<Request>,
    args: &BenchArgs,
    pace: Pace,
) -> Result<Load, String> {
    // One request first: a configuration error is reported, not measured.
    targets.preflight(&request, session).await?;
    match pace {
        Pace::Closed => measure_closed(targets, session, request, args).await,
        Pace::Open(per_s) => measure_open(targets, session, request, args, per_s).await,
    }
}

/// The servers the load goes to (one, or the front ends of a deployment): the `n`th sender
/// or request goes to the `n`th in turn, passing over for two seconds one whose request failed
/// (as a front end passes over a signer).
#[derive(Clone)]
struct Targets {
    clients: Arc<[Client]>,
    /// Per target: when its last request failed, milliseconds after `epoch` (0: never).
    failed_at: Arc<[AtomicU64]>,
    epoch: Instant,
}

/// How long a target whose request failed is passed over, milliseconds.
const PASS_OVER_MILLIS: u64 = 2_000;

impl Targets {
    fn new(clients: Vec<Client>) -> Targets {
        let failed_at = clients.iter().map(|_| AtomicU64::new(0)).collect();
        Targets {
            clients: clients.into(),
            failed_at,
            epoch: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        // From 1, so that 0 means "never failed".
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
    }

    fn passed_over(&self, i: usize) -> bool {
        let failed = self.failed_at[i].load(Ordering::Relaxed);
        failed != 0 && self.now() < failed + PASS_OVER_MILLIS
    }

    fn first(&self) -> &Client {
        &self.clients[0]
    }

    /// The target for sender or request `n`: its own in turn, or the next not passed over.
    fn pick(&self, n: usize) -> usize {
        let count = self.clients.len();
        (0..count)
            .map(|i| (n + i) % count)
            .find(|&i| !self.passed_over(i))
            .unwrap_or(n % count)
    }

    /// Sends `request` to target `i`, and notes whether it failed.
    async fn send(&self, i: usize, request: &Request, session: &Session) -> Result<(), String> {
        let result = request.send(&self.clients[i], session).await;
        if result.is_err() {
            self.failed_at[i].store(self.now(), Ordering::Relaxed);
        }
        result
    }

    /// One request that must succeed on some target.
    async fn preflight(&self, request: &Request, session: &Session) -> Result<(), String> {
        let mut last = Err("no target".to_owned());
        for i in 0..self.clients.len() {
            last = self.send(i, request, session).await;
            if last.is_ok() {
                break;
            }
        }
        last
    }
}

/// A copy of the client's session for one sender (no DPoP key, no refresh: a system client).
fn sender_session(session: &Session) -> Session {
    Session {
        key: None,
        access: session.access.clone(),
        refresh: None,
        expires_at: session.expires_at,
    }
}

/// `--concurrency` senders in a closed loop.
async fn measure_closed(
    targets: &Targets,
    session: &Session,
    request: Arc<Request>,
    args: &BenchArgs,
) -> Result<Load, String> {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for sender in 0..args.concurrency.max(1) {
        let (targets, request, measuring, stop, errors, answered) = (
            targets.clone(),
            request.clone(),
            measuring.clone(),
            stop.clone(),
            errors.clone(),
            answered.clone(),
        );
        let session = sender_session(session);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut first_error = None;
            let mut target = sender;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let i = targets.pick(target);
                let result = targets.send(i, &request, &session).await;
                if result.is_err() {
                    target = i + 1;
                }
                let elapsed = started.elapsed().as_secs_f64() * 1000.0;
                if result.is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    match result {
                        Ok(_) => latencies.push(elapsed),
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
            (latencies, first_error)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds.max(1));
    let mut memory = Memory::default();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if memory.at_10k_kib.is_none() && answered.load(Ordering::Relaxed) >= 10_000 {
            memory.at_10k_kib = resident_kib();
        }
    }
    stop.store(true, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    memory.at_end_kib = resident_kib();
    memory.answered = answered.load(Ordering::Relaxed);
    let mut latencies_ms = Vec::new();
    let mut first_error = None;
    for task in tasks {
        let (l, e) = task.await.map_err(|e| e.to_string())?;
        latencies_ms.extend(l);
        if first_error.is_none() {
            first_error = e;
        }
    }
    latencies_ms.sort_by(f64::total_cmp);
    Ok(Load {
        ok: latencies_ms.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        latencies_ms,
        first_error,
        memory,
    })
}

/// The bench process's resident memory (the service and the load generator, when the bench
/// starts the service itself) after the load's first 10,000 answers and at its end.
#[derive(Debug, Default)]
struct Memory {
    at_10k_kib: Option<u64>,
    at_end_kib: Option<u64>,
    /// Requests answered in all, the warm-up included.
    answered: u64,
}

/// This process's resident set size (`VmRSS` of `/proc/self/status`), KiB; `None` where there
/// is no such file.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Requests due every `1 / per_s` seconds, each on a task of its own once one of
/// `--concurrency` places is free; a latency runs from when the request was due, so a wait
/// for a place (a service falling behind) counts, for every request it delays.
async fn measure_open(
    targets: &Targets,
    session: &Session,
    request: Arc<Request>,
    args: &BenchArgs,
    per_s: f64,
) -> Result<Load, String> {
    if !(per_s.is_finite() && per_s > 0.0) {
        return Err(format!("no open-loop load at {per_s} requests/s"));
    }
    let places = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let session = Arc::new(sender_session(session));
    let every = Duration::from_secs_f64(1.0 / per_s);
    let warm_up = Duration::from_secs(1);
    let measured = Duration::from_secs(args.seconds.max(1));
    let started = tokio::time::Instant::now();
    let mut answers = tokio::task::JoinSet::new();
    for n in 0u32.. {
        let due = started + every * n;
        if due >= started + warm_up + measured {
            break;
        }
        tokio::time::sleep_until(due).await;
        let place = places
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (targets, request, session) = (targets.clone(), request.clone(), session.clone());
        let counted = due >= started + warm_up;
        answers.spawn(async move {
            let i = targets.pick(n as usize);
            let result = targets.send(i, &request, &session).await;
            drop(place);
            // From when it was due: a wait for a place, here or for the requests before it,
            // counts (and so does the timer's lateness, up to a millisecond).
            let latency_ms = due.elapsed().as_secs_f64() * 1000.0;
            (counted, result.map(|()| latency_ms))
        });
    }
    let mut load = Load {
        seconds: measured.as_secs_f64(),
        ..Load::none()
    };
    while let Some(answer) = answers.join_next().await {
        match answer.map_err(|e| e.to_string())? {
            (false, _) => {}
            (true, Ok(latency_ms)) => load.latencies_ms.push(latency_ms),
            (true, Err(e)) => {
                load.errors += 1;
                load.first_error.get_or_insert(e);
            }
        }
    }
    load.latencies_ms.sort_by(f64::total_cmp);
    load.ok = load.latencies_ms.len() as u64;
    Ok(load)
}

/// Signatures per second of `device` with a throwaway key of `alg` made for the baseline
/// (never registered, destroyed afterwards), one thread per core, for two seconds.
async fn raw_rate(device: Device, alg: Algorithm) -> Result<f64, String> {
    tokio::task::spawn_blocking(move || {
        device
            .signing_rate_baseline(alg, Duration::from_secs(2))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(
    load: &Load,
    half: &Load,
    floor: &Load,
    raw: Option<f64>,
    alg: Algorithm,
    args: &BenchArgs,
) {
    let throughput = load.ok as f64 / load.seconds;
    let p50 = percentile(&load.latencies_ms, 50.0);
    let p99 = percentile(&load.latencies_ms, 99.0);
    let half_rate = throughput / 2.0;
    let half_p50 = percentile(&half.latencies_ms, 50.0);
    let half_p99 = percentile(&half.latencies_ms, 99.0);
    let ratio = raw.map(|r| if r > 0.0 { throughput / r } else { 0.0 });
    let floor_rate = floor.ok as f64 / floor.seconds;
    let floor_p99 = percentile(&floor.latencies_ms, 99.0);
    let to_floor = if floor_rate > 0.0 {
        throughput / floor_rate
    } else {
        0.0
    };
    if args.json {
        let out = json!({
            "scenario": args.scenario.describe(),
            "alg": alg.as_str(),
            "concurrency": args.concurrency,
            "seconds": load.seconds,
            "requests_ok": load.ok,
            "errors": load.errors,
            "throughput_per_s": throughput,
            "raw_sign_per_s": raw,
            "ratio": ratio,
            "p50_ms": p50,
            "p99_ms": p99,
            "half_load": "open loop at half the peak's rate, latency from when each request was due",
            "half_load_per_s": half_rate,
            "half_load_answered_per_s": half.ok as f64 / half.seconds,
            "half_load_p50_ms": half_p50,
            "half_load_p99_ms": half_p99,
            "half_load_errors": half.errors,
            "rss": "the bench process (service and load generator when the bench starts the service)",
            "rss_kib_after_10000": load.memory.at_10k_kib,
            "rss_kib_at_end": load.memory.at_end_kib,
            "requests_answered": load.memory.answered,
            "floor": "GET /v1/me (token checked; no signature, no log)",
            "floor_per_s": floor_rate,
            "floor_p99_ms": floor_p99,
            "floor_errors": floor.errors,
            "ratio_to_floor": to_floor,
            "first_error": first_error(&[load, half, floor]),
        });
        println!("{out}");
        return;
    }
    println!(
        "{}, {} in flight, {:.1} s:",
        args.scenario.describe(),
        args.concurrency,
        load.seconds
    );
    println!(
        "  {throughput:.0} issuances/s ({} ok, {} errors); latency p50 {p50:.1} ms, p99 {p99:.1} ms",
        load.ok, load.errors
    );
    println!(
        "  at half that rate, open loop: {:.0}/s answered ({} errors); latency from when due \
         p50 {half_p50:.1} ms, p99 {half_p99:.1} ms",
        half.ok as f64 / half.seconds,
        half.errors
    );
    if let (Some(at_10k), Some(at_end)) = (load.memory.at_10k_kib, load.memory.at_end_kib) {
        println!(
            "  resident memory of this process: {:.1} MiB after 10,000 answers, {:.1} MiB after \
             {} ({:.2}×)",
            at_10k as f64 / 1024.0,
            at_end as f64 / 1024.0,
            load.memory.answered,
            at_end as f64 / at_10k.max(1) as f64
        );
    }
    match (raw, ratio) {
        (Some(raw), Some(ratio)) => println!(
            "  raw device signing, same key, one thread per core: {raw:.0}/s; ratio {ratio:.2}"
        ),
        _ => println!("  raw device rate not measured (give --config with --url to measure it)"),
    }
    println!(
        "  floor, GET /v1/me on the same connections: {floor_rate:.0}/s (p99 {floor_p99:.1} ms, \
         {} errors); issuance costs {:.1} empty requests (ratio {to_floor:.2})",
        floor.errors,
        if to_floor > 0.0 { 1.0 / to_floor } else { 0.0 }
    );
    if let Some(e) = first_error(&[load, half, floor]) {
        println!("  first error: {e}");
    }
}

/// The first error of the first load that had one.
fn first_error<'a>(loads: &[&'a Load]) -> Option<&'a String> {
    loads.iter().find_map(|load| load.first_error.as_ref())
}
