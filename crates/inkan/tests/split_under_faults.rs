#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! The split deployment under faults (issue 20 points 1–3; criteria 2.2.4(2), 2.2.3(2)B-2):
//! real `inkan` processes on one PostgreSQL, reached over TLS with the server's certificate
//! verified. `serve --dev --dev-store` provisions a deployment into a schema of its own and is
//! stopped; then two signers (`serve --role signer`, the only processes with the crypto device
//! and the store) and three front ends (`serve --role front`, which forward over mutual TLS and
//! hold no key) start on it. The dev deployment's system client issues VC-JWTs through the
//! front ends, 32 requests in flight, each client moving to the next front end when one fails
//! it. A signer is killed with SIGKILL three times at different moments (each time started
//! again on its port, while the load goes on), then one front end. Afterwards every credential
//! a client received has its `signature.made` entry, found by digest through a front end still
//! running, and the log verifies. Prints what was acknowledged between the kills, what failed
//! and how, and the acknowledged-but-unlogged count (which must be 0).

mod common;

use common::issuing::{Api, Received, SystemClient, unlogged};
use common::{Dev, Process, SERVING};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Issuance requests in flight.
const IN_FLIGHT: usize = 32;
/// Signers and front ends.
const SIGNERS: usize = 2;
const FRONTS: usize = 3;
/// The signers' kills, at different moments: how long after the first credential (or the
/// last restart) each comes, and which signer it hits; each is started again at once on its
/// port.
const SIGNER_KILLS: [(Duration, usize); 3] = [
    (Duration::from_millis(300), 0),
    (Duration::from_millis(900), 1),
    (Duration::from_millis(1800), 0),
];
/// After the last signer's restart: the front end's kill; after that, the end of the load.
const FRONT_KILL_AFTER: Duration = Duration::from_millis(600);
const LOAD_AFTER: Duration = Duration::from_millis(1500);
/// The longest the load may wait for its first credential.
const FIRST_CREDENTIAL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a client pauses after a failure before it tries the next front end.
const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// What a front end prints once it listens, before its port.
const FRONT_SERVING: &str = "inkan front end on https://localhost:";

/// The test PostgreSQL (as `.ci/run` starts it).
fn postgres_server() -> String {
    std::env::var("INKAN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://inkan:inkan@127.0.0.1:5432/inkan_test".to_owned())
}

/// A schema of its own on the test PostgreSQL, dropped with this: its name and the store URL.
struct Schema(String, String);

impl Schema {
    fn new() -> Schema {
        let schema = format!("split_{}", std::process::id());
        let server = postgres_server();
        let made = std::process::Command::new("psql")
            .args([server.as_str(), "-v", "ON_ERROR_STOP=1", "-qc"])
            .arg(format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options[search_path]={schema}");
        Schema(schema, url)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([postgres_server().as_str(), "-qc"])
            .arg(format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0))
            .output();
    }
}

/// Writes `text` to `dir/name` (mode 0600: it may be a key) and returns the path as a string.
fn write(dir: &Path, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The front ends' CA and one client certificate of it (PEM): the CA, the certificate, the key.
fn front_end_identity() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Inkan front ends");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["front.inkan.test".to_owned()]).unwrap();
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .unwrap();
    (ca_pem, leaf.pem(), key.serialize_pem())
}

#[test]
fn every_credential_received_through_front_ends_is_logged_when_a_signer_and_a_front_end_die() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let schema = Schema::new();
    let mut dev = Dev::start_with(&["--dev-store", &schema.1]);
    let system = SystemClient::read(&dev);
    // The deployment is provisioned; from here on only signers reach the store.
    dev.kill();
    let dir = dev.dir.path();
    let tls = dev.path("inkan-dev/tls/server.crt");
    let tls = tls.to_str().unwrap();
    let tls_key = dev.path("inkan-dev/tls/server.key");
    let tls_key = tls_key.to_str().unwrap();

    let (ca, certificate, key) = front_end_identity();
    // The signers' file says their role, so that host commands on it (`inkan log verify`)
    // read it as `serve` does.
    let dev_config = std::fs::read_to_string(dev.path("inkan-dev/inkan.toml"))
        .unwrap()
        .replacen("[server]\n", "[server]\nrole = \"signer\"\n", 1);
    let signer_config = write(
        dir,
        "signer.toml",
        &format!(
            "{dev_config}\n[signer]\nfront_ca_files = [\"{}\"]\n",
            write(dir, "front-ca.pem", &ca)
        ),
    );
    // Each signer on a port of its own, the same after a restart (the front ends name it).
    let signer_configs: Vec<String> = (0..SIGNERS)
        .map(|i| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let text = std::fs::read_to_string(&signer_config).unwrap().replacen(
                "listen = \"127.0.0.1:0\"",
                &format!("listen = \"127.0.0.1:{port}\""),
                1,
            );
            write(dir, &format!("signer-{i}.toml"), &text)
        })
        .collect();
    let start_signer = |i: usize| {
        Process::start(
            dir,
            &["--config", &signer_configs[i], "serve", "--role", "signer"],
            SERVING,
        )
    };
    let mut signers: Vec<Process> = (0..SIGNERS).map(start_signer).collect();
    let signer_urls: Vec<String> = signers
        .iter()
        .map(|s| format!("\"https://localhost:{}\"", s.port))
        .collect();
    let front_config = write(
        dir,
        "front.toml",
        &format!(
            "environment = \"test\"\n[server]\nlisten = \"127.0.0.1:0\"\n\
             tls_certificate = \"{tls}\"\ntls_key = \"{tls_key}\"\n\
             [front]\nsigners = [{}]\nsigner_ca_files = [\"{tls}\"]\n\
             client_certificate = \"{}\"\nclient_key = \"{}\"\n",
            signer_urls.join(", "),
            write(dir, "front.crt", &certificate),
            write(dir, "front.key", &key),
        ),
    );
    let mut fronts: Vec<Process> = (0..FRONTS)
        .map(|_| {
            Process::start(
                dir,
                &["--config", &front_config, "serve", "--role", "front"],
                FRONT_SERVING,
            )
        })
        .collect();
    let apis: Vec<Arc<Api>> = fronts
        .iter()
        .map(|f| Arc::new(runtime.block_on(system.connect(f.port))))
        .collect();

    let load = Arc::new(Load::new(apis.clone()));
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|i| runtime.spawn(load.clone().issue_until_stopped(i % FRONTS)))
        .collect();
    runtime
        .block_on(async {
            tokio::time::timeout(FIRST_CREDENTIAL_TIMEOUT, load.first.notified()).await
        })
        .expect("no credential within the timeout");
    let mut at_kills = Vec::new();
    for (after, signer) in SIGNER_KILLS {
        std::thread::sleep(after);
        at_kills.push(load.acknowledged.load(Ordering::SeqCst));
        let status = signers[signer].kill();
        assert_eq!(status.signal(), Some(9), "{status:?}");
        let port = signers[signer].port;
        signers[signer] = start_signer(signer);
        assert_eq!(signers[signer].port, port, "a signer back on its port");
    }
    std::thread::sleep(FRONT_KILL_AFTER);
    let at_front_kill = load.acknowledged.load(Ordering::SeqCst);
    let status = fronts[0].kill();
    assert_eq!(status.signal(), Some(9), "{status:?}");
    std::thread::sleep(LOAD_AFTER);
    load.stop.store(true, Ordering::SeqCst);
    runtime.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
    let acknowledged = load.acknowledged.load(Ordering::SeqCst);
    let refused = load.refused.lock().unwrap().clone();
    let failed = load.failed.load(Ordering::SeqCst);

    let received = std::mem::take(&mut *load.received.lock().unwrap());
    let unlogged = runtime.block_on(unlogged(apis[1].clone(), &system.key_id, &received));
    eprintln!(
        "{SIGNERS} signers and {FRONTS} front ends on one PostgreSQL, {IN_FLIGHT} requests in \
         flight: {acknowledged} credentials acknowledged (so many in all at each signer's \
         kill -9 {at_kills:?}, {at_front_kill} at the front end's); {failed} requests failed \
         without an answer, refused (status: count) {refused:?}; {} acknowledged but unlogged",
        unlogged.len()
    );
    assert!(
        at_kills.windows(2).all(|w| w[1] > w[0]) && at_front_kill > at_kills[2],
        "the deployment went on issuing between the kills: {at_kills:?} {at_front_kill}"
    );
    assert!(
        unlogged.is_empty(),
        "credentials received but not logged: {unlogged:#?}"
    );
    assert!(
        acknowledged > at_front_kill,
        "the deployment went on issuing after both kills"
    );
    // What the kills may cost: requests cut off (no answer), or a front end's 502 (a signer
    // lost during the request) and 503 (none reachable for a moment). Nothing else.
    assert!(
        refused.keys().all(|status| [502, 503].contains(status)),
        "{refused:?}"
    );

    for process in signers.iter_mut().chain(fronts.iter_mut()).skip(1) {
        process.kill();
    }
    let (ok, stdout, stderr) = dev.inkan(&["--config", &signer_config, "log", "verify"]);
    assert!(ok && stdout.contains("log verified"), "{stdout}{stderr}");
    eprintln!("{}", stdout.trim());
}

/// The load: its clients share the front ends' connections, the counters and what was
/// received.
struct Load {
    apis: Vec<Arc<Api>>,
    stop: AtomicBool,
    /// Told at each credential received (the test waits for the first).
    first: tokio::sync::Notify,
    acknowledged: AtomicU64,
    failed: AtomicU64,
    /// How many answers of each status other than 201.
    refused: Mutex<BTreeMap<u16, u64>>,
    received: Mutex<Vec<Received>>,
}

/// Numbers the credentials, so that no two are the same.
static NEXT_SUBJECT_NUMBER: AtomicU64 = AtomicU64::new(0);

impl Load {
    fn new(apis: Vec<Arc<Api>>) -> Load {
        Load {
            apis,
            stop: AtomicBool::new(false),
            first: tokio::sync::Notify::new(),
            acknowledged: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            refused: Mutex::new(BTreeMap::new()),
            received: Mutex::new(Vec::new()),
        }
    }

    /// One client: issues credentials one after another through front end `front`, moving to
    /// the next after a failure, until told to stop.
    async fn issue_until_stopped(self: Arc<Self>, mut front: usize) {
        while !self.stop.load(Ordering::SeqCst) {
            let n = NEXT_SUBJECT_NUMBER.fetch_add(1, Ordering::SeqCst);
            match self.apis[front].issue(n).await {
                Ok((201, body)) => {
                    let credential = body["verifiableCredential"].clone();
                    self.received.lock().unwrap().push((1, credential));
                    self.acknowledged.fetch_add(1, Ordering::SeqCst);
                    self.first.notify_one();
                    continue;
                }
                Ok((status, _)) => {
                    *self.refused.lock().unwrap().entry(status).or_default() += 1;
                }
                Err(_) => {
                    self.failed.fetch_add(1, Ordering::SeqCst);
                }
            }
            front = (front + 1) % self.apis.len();
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
}
