#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! Crash recovery under HTTP load (issue 17: "the existing kill -9 crash tests still pass, now
//! with HTTP load"; the first case of issue 20's proving ground). The real `inkan` binary
//! (`serve --dev`: SQLite, the software token) issues VC-JWTs to its system client over mutual
//! TLS, 32 requests in flight, and is killed with SIGKILL three times at different moments,
//! each time started again on the configuration it wrote. After the last restart every
//! credential any client received has its `signature.made` entry — the record of each signature
//! (criteria 2.2.3(2)B-2) — found by `GET /v1/signatures?digest=` with its receipt (2.2.3(3)C);
//! a few receipts verify end to end with `inkan client receipt`; and the whole log verifies with
//! `inkan log verify` (2.1.3(12), tamper-evident log). Prints per round what was acknowledged
//! and what failed, the time to ready after each restart, and the acknowledged-but-unlogged
//! count (which must be 0).

mod common;

use common::Dev;
use common::issuing::{Api, Received, SystemClient, unlogged};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::Notify;

/// Issuance requests in flight.
const IN_FLIGHT: usize = 32;
/// When each round's kill comes, after the round's first credential was received.
const KILL_AFTER: [Duration; 3] = [
    Duration::from_millis(300),
    Duration::from_millis(900),
    Duration::from_millis(1800),
];
/// The longest a round may wait for its first credential.
const FIRST_CREDENTIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client pauses after a failure before it tries again (the server is down).
const RETRY_PAUSE: Duration = Duration::from_millis(20);

#[test]
fn every_credential_received_before_a_kill_9_is_logged_after_restart() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut dev = Dev::start();
    let system = SystemClient::read(&dev);
    let received = Arc::new(Mutex::new(Vec::new()));
    let mut restarts = Vec::new();
    for (round, delay) in KILL_AFTER.into_iter().enumerate() {
        let api = runtime.block_on(system.connect(dev.port));
        let figures = load_and_kill(&runtime, &mut dev, api, round + 1, delay, &received);
        let ready = dev.restart();
        eprintln!(
            "round {}: killed {} ms after the first credential with {} requests in flight; \
             {} acknowledged ({} before the kill, {} answered after it), {} failed, refused \
             (status: count) {:?}; restarted, ready in {} ms",
            round + 1,
            delay.as_millis(),
            figures.in_flight_at_kill,
            figures.acknowledged,
            figures.acknowledged_at_kill,
            figures.acknowledged - figures.acknowledged_at_kill,
            figures.failed,
            figures.refused,
            ready.as_millis()
        );
        restarts.push(ready);
    }

    let received = std::mem::take(&mut *received.lock().unwrap());
    let api = Arc::new(runtime.block_on(system.connect(dev.port)));
    let unlogged = runtime.block_on(unlogged(api, &system.key_id, &received));
    for round in 1..=KILL_AFTER.len() {
        eprintln!(
            "round {round}: {} credentials received, {} of them unlogged after the last restart",
            received.iter().filter(|(r, _)| *r == round).count(),
            unlogged.iter().filter(|(r, _)| *r == round).count()
        );
    }
    eprintln!(
        "after the last restart: {} credentials received in all, {} acknowledged but unlogged; \
         ready after each restart in {:?}",
        received.len(),
        unlogged.len(),
        restarts
    );
    assert!(
        unlogged.is_empty(),
        "credentials received but not found after restart: {unlogged:#?}\nthe server's \
         warnings and errors:\n{}",
        warnings(&dev)
    );

    check_receipts_with_the_client(&mut dev, &received);
    let status = dev.kill();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    let config = dev.path("inkan-dev/inkan.toml");
    let config = config.to_str().unwrap();
    let (ok, stdout, stderr) = dev.inkan(&["--config", config, "log", "verify"]);
    assert!(ok && stdout.contains("log verified"), "{stdout}{stderr}");
    eprintln!("{}", stdout.trim());
}

/// What one round saw.
#[derive(Debug)]
struct RoundFigures {
    acknowledged: u64,
    acknowledged_at_kill: u64,
    in_flight_at_kill: u64,
    failed: u64,
    /// How many answers of each status other than 201.
    refused: BTreeMap<u16, u64>,
}

/// Runs the issuance load on `api` until `dev`'s server is killed, `delay` after the first
/// credential arrived: what the round saw. Every credential received goes to `received`.
fn load_and_kill(
    runtime: &Runtime,
    dev: &mut Dev,
    api: Api,
    round: usize,
    delay: Duration,
    received: &Arc<Mutex<Vec<Received>>>,
) -> RoundFigures {
    let load = Arc::new(Load::new(api, round, received.clone()));
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|_| runtime.spawn(load.clone().issue_until_stopped()))
        .collect();
    runtime
        .block_on(async {
            tokio::time::timeout(FIRST_CREDENTIAL_TIMEOUT, load.first.notified()).await
        })
        .unwrap_or_else(|_| panic!("round {round}: no credential within the timeout"));
    std::thread::sleep(delay);
    let in_flight_at_kill = load.in_flight.load(Ordering::SeqCst);
    let acknowledged_at_kill = load.acknowledged.load(Ordering::SeqCst);
    let status = dev.kill();
    load.stop.store(true, Ordering::SeqCst);
    assert_eq!(
        status.signal(),
        Some(9),
        "round {round}: the server must die of SIGKILL ({status:?})"
    );
    runtime.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert!(
        acknowledged_at_kill > 0,
        "round {round}: no credential before the kill"
    );
    assert!(
        in_flight_at_kill > 0,
        "round {round}: no request in flight at the kill"
    );
    RoundFigures {
        acknowledged: load.acknowledged.load(Ordering::SeqCst),
        acknowledged_at_kill,
        in_flight_at_kill,
        failed: load.failed.load(Ordering::SeqCst),
        refused: load.refused.lock().unwrap().clone(),
    }
}

/// One round's load: its clients share the connection, the counters and the list of what was
/// received.
struct Load {
    api: Api,
    round: usize,
    stop: AtomicBool,
    /// Told at each credential received (the round waits for the first).
    first: Notify,
    in_flight: AtomicU64,
    acknowledged: AtomicU64,
    failed: AtomicU64,
    /// How many answers of each status other than 201.
    refused: Mutex<BTreeMap<u16, u64>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// Numbers the credentials, so that no two are the same.
static NEXT_SUBJECT_NUMBER: AtomicU64 = AtomicU64::new(0);

impl Load {
    fn new(api: Api, round: usize, received: Arc<Mutex<Vec<Received>>>) -> Load {
        Load {
            api,
            round,
            stop: AtomicBool::new(false),
            first: Notify::new(),
            in_flight: AtomicU64::new(0),
            acknowledged: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            refused: Mutex::new(BTreeMap::new()),
            received,
        }
    }

    /// One client: issues credentials one after another until told to stop.
    async fn issue_until_stopped(self: Arc<Self>) {
        while !self.stop.load(Ordering::SeqCst) {
            let n = NEXT_SUBJECT_NUMBER.fetch_add(1, Ordering::SeqCst);
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            let answer = self.api.issue(n).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            match answer {
                Ok((201, body)) => {
                    let credential = body["verifiableCredential"].clone();
                    self.received.lock().unwrap().push((self.round, credential));
                    self.acknowledged.fetch_add(1, Ordering::SeqCst);
                    self.first.notify_one();
                }
                Ok((status, _)) => {
                    *self.refused.lock().unwrap().entry(status).or_default() += 1;
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(_) => {
                    self.failed.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

/// The last credential received in each round (the nearest to its kill): its receipt checked
/// by `inkan client receipt` against the log's key. The profile `--dev` wrote names the first
/// server's port, so a new profile for the restarted server is made with the same client
/// certificate.
fn check_receipts_with_the_client(dev: &mut Dev, received: &[Received]) {
    let url = format!("https://localhost:{}", dev.port);
    let certificate = dev.path("inkan-dev/tls/server.crt");
    let identity = dev.profile("system").join("client.pem");
    let (ok, _, stderr) = dev.client(
        "after-restart",
        &[
            "init",
            "--url",
            &url,
            "--server-certificate",
            certificate.to_str().unwrap(),
            "--identity",
            identity.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stderr}");
    dev.json("after-restart", &["login"]);
    for round in 1..=KILL_AFTER.len() {
        let (_, credential) = received.iter().rev().find(|(r, _)| *r == round).unwrap();
        let file = format!("round-{round}.vc.json");
        std::fs::write(dev.path(&file), credential.to_string()).unwrap();
        let checked = dev.json("after-restart", &["receipt", &file]);
        let signatures = checked["signatures"].as_array().unwrap();
        assert!(
            signatures
                .iter()
                .any(|s| s["receipt"] == "verified" && s["entry"] == "signature.made"),
            "round {round}: {checked}"
        );
    }
}

/// The server's log lines at level WARN or ERROR (the last 40), to show with a failure.
fn warnings(dev: &Dev) -> String {
    let log = dev.server_log();
    let kept: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("\"WARN\"") || line.contains("\"ERROR\""))
        .collect();
    common::tail(&kept.join("\n"), 40)
}
