#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! Several nodes on one PostgreSQL (issue 20 point 2): nodes started at the same moment on a
//! new database all come up (their first-start work is done one node at a time under a lease
//! in the store, `nodes`), exactly one log key and one delivery key are made, and one
//! bootstrap operator, whose activation code exactly one node prints (a start replaces a pending
//! operator's code only when no other node is running).

mod common;

use common::{Engine, TestDb};
use inkan_server::api::server::Server;
use inkan_server::clock::SystemClock;
use inkan_server::config::Config;
use std::sync::Arc;

/// Nodes started at once.
const NODES: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_started_at_once_on_a_new_database_all_start_and_make_one_of_each_own_key() {
    let db = TestDb::create(Engine::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let config = |url: &str| {
        let text = format!(
            "environment = \"test\"\n[store]\nurl = \"{url}\"\n\
             [device]\nkind = \"soft\"\npath = \"{d}/soft\"\nkek_file = \"{d}/kek\"\n\
             [server]\nlisten = \"127.0.0.1:0\"\ntls_certificate = \"{d}/tls/server.crt\"\n\
             tls_key = \"{d}/tls/server.key\"\nsecrets_key_file = \"{d}/secrets.key\"\n\
             [signing]\nactivation_key_file = \"{d}/activation.key\"\n"
        );
        let path = dir.path().join("inkan.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), std::iter::empty()).unwrap()
    };
    // The files a deployment's nodes share (TLS identity, secrets, KEK) are made once, as an
    // operator provisions them before starting several nodes: by a first start on a store of
    // its own.
    let scratch = dir.path().join("scratch.db");
    let provisioning = Server::start(
        &config(&format!("sqlite://{}", scratch.display())),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    provisioning.stop().await.unwrap();

    let config = config(&db.url);
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..NODES {
        let config = config.clone();
        starts.spawn(async move { Server::start(&config, Arc::new(SystemClock)).await });
    }
    let mut nodes = Vec::new();
    while let Some(started) = starts.join_next().await {
        match started.unwrap() {
            Ok(node) => nodes.push(node),
            Err(e) => panic!("a node did not start beside the others: {e}"),
        }
    }
    let log_keys = db
        .query_i64(
            "SELECT count(*) FROM keys WHERE owner = 'inkan' AND label = 'transparency log' \
             AND state = 'active'",
        )
        .await;
    let delivery_keys = db
        .query_i64(
            "SELECT count(*) FROM keys WHERE owner = 'inkan' AND label <> 'transparency log' \
             AND state = 'active'",
        )
        .await;
    let operators = db
        .query_i64("SELECT count(*) FROM accounts WHERE username = 'operator'")
        .await;
    let codes = nodes.iter().filter(|n| n.bootstrap.is_some()).count();
    eprintln!(
        "{NODES} nodes at once: {log_keys} active log keys, {delivery_keys} delivery keys, \
         {operators} bootstrap operators, {codes} codes printed"
    );
    assert_eq!(log_keys, 1, "active log keys");
    assert_eq!(delivery_keys, 1, "active delivery keys");
    assert_eq!(operators, 1, "bootstrap operators");
    assert_eq!(codes, 1, "bootstrap codes printed");
    // The one code printed is the one in force, on any node.
    let code = nodes
        .iter()
        .find_map(|n| n.bootstrap.as_ref())
        .unwrap()
        .activation_code
        .as_str()
        .to_owned();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(
                &std::fs::read(dir.path().join("tls/server.crt")).unwrap(),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let last = nodes.last().unwrap();
    let activated = http
        .post(format!("https://localhost:{}/v1/activation", last.local_addr.port()))
        .json(&serde_json::json!({"activation_code": code, "password": "correct horse battery staple 42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        activated.status(),
        reqwest::StatusCode::OK,
        "{:?}",
        activated.text().await
    );
    for node in nodes {
        node.stop().await.unwrap();
    }
}
