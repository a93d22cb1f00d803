#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! PostgreSQL out of reach under load (issue 20's proving ground; criteria 2.1.3(6)-(9),
//! 2.2.3(2)B-2): a node on a real PostgreSQL, reached through a TCP proxy this test controls,
//! issues VC-JWTs to a system client, 16 requests in flight, when the proxy closes every
//! connection and refuses new ones (the database gone, as to a node when its server stops or
//! the network between them fails) and, seconds later, lets them through again. While the
//! database is out of reach:
//! - no request started after the cut gets a credential (a signature needs its write-ahead
//!   entry committed);
//! - within a few seconds requests are refused at once with 503 and `Retry-After`, and
//!   `/ready` says 503 (the store's write probe, `health`);
//!
//! and once it is back the same server serves again, without a restart, and every credential
//! a client received is found by its digest. Prints the figures.

mod common;

use common::issuing::{Issuing, credential, issuing_client_on};
use common::{Engine, TestDb};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// Issuance requests in flight.
const IN_FLIGHT: usize = 16;
/// How long the load runs before the cut, and how long the database stays out of reach.
const BEFORE_CUT: Duration = Duration::from_secs(1);
const OUTAGE: Duration = Duration::from_secs(6);
/// By when, after the cut, requests must be refused at once.
const REFUSED_WITHIN: Duration = Duration::from_secs(6);
/// What "at once" means.
const PROMPT: Duration = Duration::from_millis(500);
/// By when, after the database is back, the node must be ready again.
const RECOVERED_WITHIN: Duration = Duration::from_secs(15);

/// A TCP proxy to PostgreSQL that can cut every connection and refuse new ones.
struct Proxy {
    address: SocketAddr,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accepting, kept) = (open.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // Under the lock that `cut` takes: a relay is either started before the cut,
                // and aborted by it, or refused after it.
                let mut relays = kept.lock().unwrap();
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let upstream = upstream.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                relays.push(relay.abort_handle());
            }
        });
        Proxy {
            address,
            open,
            connections,
        }
    }

    /// Closes every connection and refuses new ones.
    fn cut(&self) {
        let mut relays = self.connections.lock().unwrap();
        self.open.store(false, Ordering::SeqCst);
        for relay in relays.drain(..) {
            relay.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_out_of_reach_gives_prompt_503s_no_credential_and_recovery_without_restart() {
    let mut db = TestDb::create(Engine::Postgres).await;
    let (host_and_port, _) = db
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(_, rest)| rest.split_once('/'))
        .unwrap();
    let proxy = Proxy::start(host_and_port.to_owned()).await;
    db.url = db
        .url
        .replacen(host_and_port, &proxy.address.to_string(), 1);
    let Issuing {
        h,
        mtls,
        key_id,
        access,
        ..
    } = issuing_client_on(db, json!({"operations": ["read", "sign"]}), "").await;

    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let mut load = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (mtls, url, access, key_id) =
            (mtls.clone(), h.url.clone(), access.clone(), key_id.clone());
        let (stop, answers) = (stop.clone(), answers.clone());
        load.spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let sent = mtls
                    .post(format!("{url}/credentials/issue"))
                    .bearer_auth(&access)
                    .timeout(Duration::from_secs(20))
                    .json(&json!({"credential": numbered_credential(), "options": {"credentialId": key_id, "format": "vc+jwt"}}))
                    .send()
                    .await;
                let answer = match sent {
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
                };
                let refused = answer.status != 201;
                answers.lock().unwrap().push(answer);
                if refused {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
    }

    tokio::time::sleep(BEFORE_CUT).await;
    proxy.cut();
    let cut = Instant::now();
    tokio::time::sleep(OUTAGE / 2).await;
    let ready_while_cut = h.http.get(format!("{}/ready", h.url)).send().await.unwrap();
    assert_eq!(
        ready_while_cut.status(),
        503,
        "/ready with the database out of reach"
    );
    assert!(ready_while_cut.headers().contains_key("retry-after"));
    tokio::time::sleep(OUTAGE / 2).await;
    proxy.restore();
    let restored = Instant::now();
    let recovered_after = loop {
        assert!(
            restored.elapsed() < RECOVERED_WITHIN,
            "not ready within {RECOVERED_WITHIN:?} of the database coming back"
        );
        let ready = h.http.get(format!("{}/ready", h.url)).send().await.unwrap();
        if ready.status() == 200 {
            break restored.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The load runs on until a credential is issued again.
    let issued_again_after = loop {
        assert!(
            restored.elapsed() < RECOVERED_WITHIN,
            "no credential after recovery"
        );
        let again = answers
            .lock()
            .unwrap()
            .iter()
            .any(|a| a.status == 201 && a.started > restored);
        if again {
            break restored.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.store(true, Ordering::SeqCst);
    while load.join_next().await.is_some() {}
    let answers = std::mem::take(&mut *answers.lock().unwrap());

    // While out of reach: nothing started after the cut got a credential, and the refusals
    // became prompt 503s with Retry-After.
    let during: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.started > cut && a.started < restored)
        .collect();
    let signed_during = during.iter().filter(|a| a.status == 201).count();
    assert_eq!(
        signed_during, 0,
        "credentials issued with the database out of reach"
    );
    let first_prompt_503 = during
        .iter()
        .filter(|a| a.status == 503 && a.took < PROMPT && a.retry_after)
        .map(|a| a.started - cut)
        .min()
        .expect("no prompt 503 with Retry-After while the database was out of reach");
    assert!(
        first_prompt_503 < REFUSED_WITHIN,
        "the first prompt 503 came {first_prompt_503:?} after the cut"
    );
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for answer in &during {
        *statuses.entry(answer.status).or_default() += 1;
    }
    let slowest = during.iter().map(|a| a.took).max().unwrap_or_default();

    // Every credential received, before, during (answered for requests started before the
    // cut) or after, has its signature found by digest.
    let received: Vec<&Value> = answers
        .iter()
        .filter_map(|a| a.credential.as_ref())
        .collect();
    let mut unlogged = 0;
    for credential in &received {
        let jwt = credential["id"]
            .as_str()
            .and_then(|id| id.strip_prefix("data:application/vc+jwt,"))
            .unwrap();
        let (input, _) = jwt.rsplit_once('.').unwrap();
        let digest = inkan_server::keys::sha256_digest(input.as_bytes());
        let found: Value = mtls
            .get(format!("{}/v1/signatures?digest={digest}", h.url))
            .bearer_auth(&access)
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
    eprintln!(
        "PostgreSQL out of reach for {OUTAGE:?}: answers to requests started meanwhile \
         {statuses:?} (0 = no answer), the slowest {} ms; first prompt 503 {} ms after the cut; \
         ready {} ms and issuing {} ms after the database came back; {} credentials received, \
         {unlogged} of them unlogged",
        slowest.as_millis(),
        first_prompt_503.as_millis(),
        recovered_after.as_millis(),
        issued_again_after.as_millis(),
        received.len()
    );
    assert_eq!(unlogged, 0, "credentials received but not logged");
}
