#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! A full file system under the SQLite store (issue 17 point 5; issue 20's proving ground):
//! the real `inkan` binary, on the deployment `serve --dev` made, issues VC-JWTs to its system
//! client; then every write it makes fails with EFBIG (`prlimit --fsize=0` on the running
//! process, which ignores SIGXFSZ: to SQLite, as a disk with no space left), and later the
//! limit is lifted. While nothing can be written:
//! - no credential is answered: a signature needs its write-ahead entry committed (criteria
//!   2.2.3(2)B-2, 2.1.3(12));
//! - within a few seconds every request is refused at once with 503 and `Retry-After`, and
//!   `/ready` says 503 (the store's write probe, inkan-server `health`; criteria 2.1.3(6)-(9)).
//!
//! Once writes succeed again, the same process serves again within a few seconds, without a
//! restart; every credential received before and after is found by its digest, and the log
//! verifies. Prints the figures: answers by status while full, the time to the first prompt
//! 503, the time to recover.

mod common;

use common::issuing::{Api, Received, SystemClient, unlogged};
use common::{Dev, Launch};
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Credentials issued before the fault and after the recovery.
const BEFORE_AND_AFTER: u64 = 10;
/// How long the store may take to be found unable to write (two probes a second apart, each
/// allowed a second) before requests must be refused at once.
const REFUSED_WITHIN: Duration = Duration::from_secs(8);
/// How long a refusal may take once the store is known to be down.
const PROMPT: Duration = Duration::from_millis(500);
/// How long the service may take to serve again once writes succeed.
const RECOVERED_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn a_full_file_system_fails_closed_and_the_service_recovers_without_a_restart() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut dev = Dev::start();
    dev.kill();
    dev.restart_as(Launch::IgnoringFileSizeSignal);
    let pid = dev.pid();
    let system = SystemClient::read(&dev);
    let api = Arc::new(runtime.block_on(system.connect(dev.port)));
    let mut received: Vec<Received> = Vec::new();
    issue_all(&runtime, &api, 0, &mut received);

    // The disk is full: no write of the process reaches any file.
    set_file_size_limit(pid, "0:unlimited");
    let full = Instant::now();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut n = 1_000;
    let refused_promptly_after = loop {
        assert!(
            full.elapsed() < REFUSED_WITHIN,
            "no prompt 503 within {REFUSED_WITHIN:?} of the disk filling up: {statuses:?}"
        );
        n += 1;
        let asked = Instant::now();
        let answer = runtime.block_on(api.issue_response(n)).unwrap();
        let took = asked.elapsed();
        let status = answer.status().as_u16();
        let retry_after = answer.headers().get("retry-after").cloned();
        *statuses.entry(status).or_default() += 1;
        assert!(
            status >= 500,
            "an issuance was answered {status} while nothing could be written"
        );
        if status == 503 && took < PROMPT {
            assert!(retry_after.is_some(), "a 503 without Retry-After");
            break full.elapsed();
        }
    };
    // A signature's own failed write is a 503 at once; `/ready` follows within two probes.
    let not_ready = Instant::now();
    loop {
        let (ready, retry_after) = runtime.block_on(api.get_anonymous("/ready"));
        if ready == 503 {
            assert!(retry_after.is_some(), "/ready's 503 without Retry-After");
            break;
        }
        assert!(
            not_ready.elapsed() < REFUSED_WITHIN,
            "/ready said {ready} within {REFUSED_WITHIN:?} of a full disk"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (health, _) = runtime.block_on(api.get_anonymous("/health"));
    assert_eq!(health, 200, "the process itself is alive");

    // Space again: the same process serves again.
    set_file_size_limit(pid, "unlimited:unlimited");
    let freed = Instant::now();
    let recovered_after = loop {
        assert!(
            freed.elapsed() < RECOVERED_WITHIN,
            "not ready within {RECOVERED_WITHIN:?} of the space coming back"
        );
        if runtime.block_on(api.get_anonymous("/ready")).0 == 200 {
            break freed.elapsed();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    issue_all(&runtime, &api, 1, &mut received);
    assert!(
        dev.running() && dev.pid() == pid,
        "the server recovered in the same process, without a restart"
    );

    let missing = runtime.block_on(unlogged(api, &system.key_id, &received));
    eprintln!(
        "full disk: answers while full {statuses:?}; refused at once after {} ms; ready again \
         {} ms after space came back; {} credentials received, {} unlogged",
        refused_promptly_after.as_millis(),
        recovered_after.as_millis(),
        received.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "received but not logged: {missing:#?}");
    dev.kill();
    let config = dev.path("inkan-dev/inkan.toml");
    let (ok, stdout, stderr) = dev.inkan(&["--config", config.to_str().unwrap(), "log", "verify"]);
    assert!(ok && stdout.contains("log verified"), "{stdout}{stderr}");
}

/// Issues [`BEFORE_AND_AFTER`] credentials, each of which must be answered 201, into `received`
/// under `step`.
fn issue_all(
    runtime: &tokio::runtime::Runtime,
    api: &Api,
    step: usize,
    received: &mut Vec<Received>,
) {
    for n in 0..BEFORE_AND_AFTER {
        let (status, body) = runtime.block_on(api.issue(step as u64 * 100 + n)).unwrap();
        assert_eq!(status, 201, "{body}");
        received.push((step, body["verifiableCredential"].clone()));
    }
}

/// `prlimit --fsize=SOFT:HARD` on the running server (raising the soft limit again needs no
/// privilege while the hard one stays unlimited).
fn set_file_size_limit(pid: u32, limits: &str) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--fsize={limits}"))
        .status()
        .unwrap();
    assert!(status.success(), "prlimit --fsize={limits}");
}
