#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! PostgreSQL lost under load (issue 20's proving ground; criteria 2.1.3(6)-(9),
//! 2.2.3(2)B-2): a node on a real PostgreSQL, reached through a TCP proxy this test controls
//! (as a deployment reaches its database through a virtual address or a pooler), issues
//! VC-JWTs to a system client, 16 requests in flight, while the database goes away:
//! - the network cut: the proxy closes every connection and refuses new ones, then lets them
//!   through again;
//! - on a cluster of the test's own, over TLS (verify-full), with a synchronous standby: the
//!   primary stopped with `pg_ctl stop -m immediate` and started again; then stopped so once
//!   more, and the standby promoted in its place (the proxy sent to it).
//!
//! While the database is gone:
//! - no request started after it went gets a credential (a signature needs its write-ahead
//!   entry committed);
//! - within a few seconds requests are refused at once with 503 and `Retry-After`, and
//!   `/ready` says 503 (the store's write probe, `health`);
//!
//! and once it is back (or its standby is promoted) the same server serves again, without a
//! restart, and every credential a client received is found by its digest: a failover to a
//! synchronous standby loses nothing acknowledged. Prints the figures.

mod common;

use common::issuing::{Issuing, credential, issuing_client_on};
use common::proxy::Proxy;
use common::{Engine, TestDb};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Issuance requests in flight.
const IN_FLIGHT: usize = 16;
/// How long the load runs before the database goes, and how long it stays away.
const BEFORE_CUT: Duration = Duration::from_secs(1);
const OUTAGE: Duration = Duration::from_secs(6);
/// By when, after the database went, requests must be refused at once.
const REFUSED_WITHIN: Duration = Duration::from_secs(6);
/// What "at once" means.
const PROMPT: Duration = Duration::from_millis(500);
/// By when, after the database is back, the node must be ready again.
const RECOVERED_WITHIN: Duration = Duration::from_secs(15);

/// The example credential with a subject number of its own, so that each request signs
/// something else (a VC-JWT carries no time or nonce of its own: the same credential twice is
/// the same signing input, and a lookup by its digest would find either).
fn numbered_credential() -> Value {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut credential = credential();
    credential["credentialSubject"]["n"] = NEXT.fetch_add(1, Ordering::SeqCst).into();
    credential
}

/// One answer to an issuance: when its request started, how long it took, its status, whether
/// it carried `Retry-After`, and the credential if one came.
struct Answer {
    started: Instant,
    took: Duration,
    status: u16,
    retry_after: bool,
    credential: Option<Value>,
}

/// The issuance load on a node, and what it was answered.
struct Load {
    issuing: Arc<Issuing>,
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<Answer>>>,
    tasks: tokio::task::JoinSet<()>,
}

impl Load {
    /// [`IN_FLIGHT`] clients issuing one credential after another.
    fn start(issuing: Arc<Issuing>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..IN_FLIGHT {
            let (issuing, stop, answers) = (issuing.clone(), stop.clone(), answers.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let answer = issue(&issuing).await;
                    let refused = answer.status != 201;
                    answers.lock().unwrap().push(answer);
                    if refused {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            });
        }
        Load {
            issuing,
            stop,
            answers,
            tasks,
        }
    }

    /// Waits until the node is ready again and a request started after `back` got a
    /// credential: how long each took.
    async fn recovered_since(&self, back: Instant) -> (Duration, Duration) {
        let h = &self.issuing.h;
        let ready = loop {
            assert!(
                back.elapsed() < RECOVERED_WITHIN,
                "not ready within {RECOVERED_WITHIN:?} of the database coming back"
            );
            let ready = h.http.get(format!("{}/ready", h.url)).send().await.unwrap();
            if ready.status() == 200 {
                break back.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let issuing = loop {
            assert!(
                back.elapsed() < RECOVERED_WITHIN,
                "no credential after recovery"
            );
            let again = self
                .answers
                .lock()
                .unwrap()
                .iter()
                .any(|a| a.status == 201 && a.started > back);
            if again {
                break back.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        (ready, issuing)
    }

    /// `/ready` now must say 503 with `Retry-After`.
    async fn assert_not_ready(&self, what: &str) {
        let h = &self.issuing.h;
        let ready = h.http.get(format!("{}/ready", h.url)).send().await.unwrap();
        assert_eq!(ready.status(), 503, "/ready with {what}");
        assert!(ready.headers().contains_key("retry-after"));
    }

    /// Stops the load: every answer.
    async fn stop(mut self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        while self.tasks.join_next().await.is_some() {}
        std::mem::take(&mut *self.answers.lock().unwrap())
    }
}

/// One issuance request and its answer.
async fn issue(issuing: &Issuing) -> Answer {
    let started = Instant::now();
    let sent = issuing
        .mtls
        .post(format!("{}/credentials/issue", issuing.h.url))
        .bearer_auth(&issuing.access)
        .timeout(Duration::from_secs(20))
        .json(&json!({"credential": numbered_credential(),
                      "options": {"credentialId": issuing.key_id, "format": "vc+jwt"}}))
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let body: Value = response.json().await.unwrap_or(Value::Null);
            Answer {
                started,
                took: started.elapsed(),
                status,
                retry_after,
                credential: (status == 201).then(|| body["verifiableCredential"].clone()),
            }
        }
        Err(_) => Answer {
            started,
            took: started.elapsed(),
            status: 0,
            retry_after: false,
            credential: None,
        },
    }
}

/// What requests started while the database was gone (`from` to `until`) were answered:
/// checks that none got a credential, that every answer was a 503 (or none), and that prompt
/// 503s with `Retry-After` came within [`REFUSED_WITHIN`]; returns a line of figures.
fn while_gone(answers: &[Answer], from: Instant, until: Instant, what: &str) -> String {
    let during: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.started > from && a.started < until)
        .collect();
    let signed_during = during.iter().filter(|a| a.status == 201).count();
    assert_eq!(signed_during, 0, "credentials issued with {what}");
    let first_prompt_503 = during
        .iter()
        .filter(|a| a.status == 503 && a.took < PROMPT && a.retry_after)
        .map(|a| a.started - from)
        .min()
        .unwrap_or_else(|| panic!("no prompt 503 with Retry-After with {what}"));
    assert!(
        first_prompt_503 < REFUSED_WITHIN,
        "{what}: the first prompt 503 came {first_prompt_503:?} after"
    );
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for answer in &during {
        *statuses.entry(answer.status).or_default() += 1;
    }
    // A database that is gone is a 503 (or a request cut off), never a 500.
    assert!(
        statuses.keys().all(|status| [0, 503].contains(status)),
        "{what}: {statuses:?}"
    );
    let slowest = during.iter().map(|a| a.took).max().unwrap_or_default();
    format!(
        "{what}: answers to requests started meanwhile {statuses:?} (0 = no answer), the \
         slowest {} ms, the first prompt 503 {} ms after",
        slowest.as_millis(),
        first_prompt_503.as_millis()
    )
}

/// How many credentials received the node does not find by digest (`GET /v1/signatures`, 16
/// lookups at a time): (received, unlogged).
async fn unlogged(issuing: &Arc<Issuing>, answers: &[Answer]) -> (usize, usize) {
    let digests: Vec<String> = answers
        .iter()
        .filter_map(|a| a.credential.as_ref())
        .map(|credential| {
            let jwt = credential["id"]
                .as_str()
                .and_then(|id| id.strip_prefix("data:application/vc+jwt,"))
                .unwrap();
            let (input, _) = jwt.rsplit_once('.').unwrap();
            inkan_server::keys::sha256_digest(input.as_bytes())
        })
        .collect();
    let received = digests.len();
    let digests = Arc::new(Mutex::new(digests));
    let mut lookups = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (issuing, digests) = (issuing.clone(), digests.clone());
        lookups.spawn(async move {
            let mut unlogged = 0;
            loop {
                let Some(digest) = digests.lock().unwrap().pop() else {
                    return unlogged;
                };
                let found: Value = issuing
                    .mtls
                    .get(format!("{}/v1/signatures?digest={digest}", issuing.h.url))
                    .bearer_auth(&issuing.access)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if found["signatures"].as_array().is_none_or(Vec::is_empty) {
                    unlogged += 1;
                }
            }
        });
    }
    let mut unlogged = 0;
    while let Some(counted) = lookups.join_next().await {
        unlogged += counted.unwrap();
    }
    (received, unlogged)
}

/// The host and port of a PostgreSQL URL.
fn host_and_port(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(_, rest)| rest.split_once('/'))
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_out_of_reach_gives_prompt_503s_no_credential_and_recovery_without_restart() {
    let mut db = TestDb::create(Engine::Postgres).await;
    let upstream = host_and_port(&db.url).to_owned();
    let proxy = Proxy::start(upstream.clone()).await;
    db.url = db.url.replacen(&upstream, &proxy.address.to_string(), 1);
    let issuing =
        Arc::new(issuing_client_on(db, json!({"operations": ["read", "sign"]}), "").await);
    let load = Load::start(issuing.clone());

    tokio::time::sleep(BEFORE_CUT).await;
    proxy.cut();
    let cut = Instant::now();
    tokio::time::sleep(OUTAGE / 2).await;
    load.assert_not_ready("the database out of reach").await;
    tokio::time::sleep(OUTAGE / 2).await;
    proxy.restore();
    let restored = Instant::now();
    let (ready, issuing_again) = load.recovered_since(restored).await;
    let answers = load.stop().await;
    let figures = while_gone(&answers, cut, restored, "the network to PostgreSQL cut");
    let (received, unlogged) = unlogged(&issuing, &answers).await;
    eprintln!(
        "{figures}; ready {} ms and issuing {} ms after the database came back; {received} \
         credentials received, {unlogged} of them unlogged",
        ready.as_millis(),
        issuing_again.as_millis(),
    );
    assert_eq!(unlogged, 0, "credentials received but not logged");
}

/// A PostgreSQL primary with a synchronous standby, in a folder of its own, run as the
/// `postgres` user when the test runs as root (PostgreSQL refuses root), over TLS with the
/// certificate `.ci/run` installed for the shared cluster (`localhost`, `127.0.0.1`).
struct Cluster {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
    primary_port: u16,
    standby_port: u16,
}

/// The test cluster's TLS identity, as `.ci/run` installs it.
const CLUSTER_TLS: &str = "/etc/postgresql/15/main/inkan-tls";
/// Where Debian puts PostgreSQL 15's programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `program args` as the `postgres` user (as this user unless root): success, or a panic with
/// its output.
fn as_postgres(program: &str, args: &[&str]) {
    let (program, out) = run_as_postgres(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `program args` as the `postgres` user: the program's path and what it did.
fn run_as_postgres(program: &str, args: &[&str]) -> (String, std::process::Output) {
    let program = format!("{PG_BIN}/{program}");
    let root = std::env::var("USER").as_deref() == Ok("root")
        || Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &program]);
        c
    } else {
        Command::new(&program)
    };
    let out = command.args(args).output().unwrap();
    (program, out)
}

impl Cluster {
    fn start() -> Cluster {
        assert!(
            Path::new(CLUSTER_TLS).join("server.crt").exists(),
            "{CLUSTER_TLS} is missing: run `bash .ci/run` once"
        );
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pg");
        std::fs::create_dir(&dir).unwrap();
        // The folder is the postgres user's (the temporary folder above it lets it through).
        let _ = Command::new("chown")
            .args(["postgres:postgres", dir.to_str().unwrap()])
            .status();
        let _ = Command::new("chmod")
            .args(["755", tmp.path().to_str().unwrap()])
            .status();
        let d = dir.to_str().unwrap().to_owned();
        let d = d.as_str();
        let (primary_port, standby_port) = (free_port(), free_port());
        as_postgres(
            "initdb",
            &[
                "-D",
                &format!("{d}/primary"),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        let cluster = Cluster {
            dir: dir.clone(),
            _tmp: tmp,
            primary_port,
            standby_port,
        };
        cluster.start_primary();
        as_postgres(
            "psql",
            &[
                "-h",
                d,
                "-p",
                &primary_port.to_string(),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                "CREATE ROLE inkan LOGIN PASSWORD 'inkan'",
                "-qc",
                "CREATE DATABASE inkan OWNER inkan",
            ],
        );
        as_postgres(
            "pg_basebackup",
            &[
                "-D",
                &format!("{d}/standby"),
                "-R",
                "-X",
                "stream",
                // At once, not at the pace of a spread checkpoint (minutes).
                "-c",
                "fast",
                "-d",
                &format!("host={d} port={primary_port} user=postgres application_name=standby"),
            ],
        );
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                &format!("{d}/standby"),
                "-w",
                "-l",
                &format!("{d}/standby.log"),
                "-o",
                &cluster.options(standby_port),
                "start",
            ],
        );
        // Synchronous from here on (set before, the role and database above would have
        // waited for a standby not yet there); the standby's own copy never names one, so once
        // promoted it commits alone.
        as_postgres(
            "psql",
            &[
                "-h",
                d,
                "-p",
                &primary_port.to_string(),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                "ALTER SYSTEM SET synchronous_standby_names = 'standby'",
                "-qc",
                "SELECT pg_reload_conf()",
            ],
        );
        cluster.wait_for_synchronous_standby();
        cluster
    }

    /// The server options of one of its two servers.
    fn options(&self, port: u16) -> String {
        format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c ssl=on -c ssl_cert_file={CLUSTER_TLS}/server.crt \
             -c ssl_key_file={CLUSTER_TLS}/server.key -c wal_level=replica \
             -c max_wal_senders=4 -c synchronous_commit=on",
            self.dir.display()
        )
    }

    fn start_primary(&self) {
        let d = self.dir.display();
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                &format!("{d}/primary"),
                "-w",
                "-l",
                &format!("{d}/primary.log"),
                "-o",
                &self.options(self.primary_port),
                "start",
            ],
        );
    }

    /// `pg_ctl stop -m immediate` of the primary: no shutdown checkpoint, connections dropped.
    fn stop_primary_immediately(&self) {
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                &format!("{}/primary", self.dir.display()),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }

    fn promote_standby(&self) {
        as_postgres(
            "pg_ctl",
            &[
                "-D",
                &format!("{}/standby", self.dir.display()),
                "-w",
                "promote",
            ],
        );
    }

    /// Waits until the primary reports its standby as synchronous.
    fn wait_for_synchronous_standby(&self) {
        let started = Instant::now();
        loop {
            let out = Command::new(format!("{PG_BIN}/psql"))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.primary_port.to_string(),
                    "-U",
                    "postgres",
                    "-tAc",
                    "SELECT sync_state FROM pg_stat_replication",
                ])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).trim() == "sync" {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the standby is not synchronous: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The store URL of database `inkan` through `address`, TLS with the server's certificate
    /// checked against the test CA (the one of `INKAN_TEST_POSTGRES_URL`).
    fn url(&self, address: &str) -> String {
        let shared = common::postgres_url();
        let root = shared
            .split_once("sslrootcert=")
            .map(|(_, rest)| rest.split('&').next().unwrap().to_owned())
            .expect("INKAN_TEST_POSTGRES_URL names sslrootcert (bash .ci/run sets it)");
        format!("postgres://inkan:inkan@{address}/inkan?sslmode=verify-full&sslrootcert={root}")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Whichever of the two still runs (the primary was stopped, or the standby promoted).
        for server in ["primary", "standby"] {
            let data = self.dir.join(server);
            // Never a panic here: a drop while a failed test unwinds would abort.
            if data.join("postmaster.pid").exists() {
                let _ = run_as_postgres(
                    "pg_ctl",
                    &["-D", &data.to_string_lossy(), "-m", "immediate", "stop"],
                );
            }
        }
    }
}

/// The primary stopped with `-m immediate` and started again, then stopped so once more and
/// its synchronous standby promoted in its place: nothing signed while the database is gone,
/// prompt 503s, the node serving again without a restart, and nothing acknowledged lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_stopped_immediately_and_failed_over_loses_nothing_acknowledged() {
    let cluster = Cluster::start();
    let primary = format!("127.0.0.1:{}", cluster.primary_port);
    let proxy = Proxy::start(primary.clone()).await;
    // `localhost`: the certificate's name, checked (verify-full), reached through the proxy.
    let db = TestDb {
        engine: Engine::Postgres,
        url: cluster.url(&format!("localhost:{}", proxy.address.port())),
        dir: None,
        postgres: None,
    };
    let issuing =
        Arc::new(issuing_client_on(db, json!({"operations": ["read", "sign"]}), "").await);

    // 1. The primary stopped at once, and started again.
    let load = Load::start(issuing.clone());
    tokio::time::sleep(BEFORE_CUT).await;
    cluster.stop_primary_immediately();
    let stopped = Instant::now();
    tokio::time::sleep(OUTAGE / 2).await;
    load.assert_not_ready("PostgreSQL stopped").await;
    tokio::time::sleep(OUTAGE / 2).await;
    cluster.start_primary();
    let started = Instant::now();
    let (ready, issuing_again) = load.recovered_since(started).await;
    let first_phase = load.stop().await;
    let restart = while_gone(
        &first_phase,
        stopped,
        started,
        "PostgreSQL stopped -m immediate",
    );
    let (received, unlogged_1) = unlogged(&issuing, &first_phase).await;
    eprintln!(
        "{restart}; ready {} ms and issuing {} ms after it started again; {received} \
         credentials received, {unlogged_1} of them unlogged",
        ready.as_millis(),
        issuing_again.as_millis()
    );
    assert_eq!(unlogged_1, 0, "credentials received but not logged");
    cluster.wait_for_synchronous_standby();

    // 2. Stopped at once again, and the synchronous standby promoted in its place.
    let load = Load::start(issuing.clone());
    tokio::time::sleep(BEFORE_CUT).await;
    cluster.stop_primary_immediately();
    let stopped = Instant::now();
    proxy.cut(); // what the primary's connections were is gone with it
    cluster.promote_standby();
    proxy.retarget(format!("127.0.0.1:{}", cluster.standby_port));
    tokio::time::sleep(OUTAGE / 2).await;
    proxy.restore();
    let promoted = Instant::now();
    let (ready, issuing_again) = load.recovered_since(promoted).await;
    let answers = load.stop().await;
    let failover = while_gone(&answers, stopped, promoted, "the primary lost");
    // Found on the promoted standby: every credential of both phases.
    let (received, unlogged_2) = unlogged(&issuing, &answers).await;
    let (_, unlogged_before) = unlogged(&issuing, &first_phase).await;
    assert_eq!(
        unlogged_before, 0,
        "credentials of the first phase missing on the promoted standby"
    );
    eprintln!(
        "{failover}; ready {} ms and issuing {} ms after the standby took its place; \
         {received} credentials received in this phase, {unlogged_2} of them unlogged on the \
         promoted standby",
        ready.as_millis(),
        issuing_again.as_millis()
    );
    assert_eq!(
        unlogged_2, 0,
        "credentials received but not on the promoted standby"
    );
    // And the log as the promoted standby holds it verifies, entries and checkpoints.
    let service = &issuing.h.server().service;
    let verifier = inkan_log::note::NoteVerifier::from_vkey(&service.log_vkey().unwrap()).unwrap();
    let mut export = Vec::new();
    service.log.export(&mut export).await.unwrap();
    let report =
        inkan_log::verify::verify_export(export.as_slice(), &verifier, service.log.origin())
            .unwrap_or_else(|e| panic!("the log on the promoted standby does not verify: {e}"));
    eprintln!(
        "the log on the promoted standby verifies: {} entries, {} checkpoints",
        report.entries, report.checkpoints
    );
}
