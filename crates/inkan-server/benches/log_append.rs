//! Transparency log append throughput, on SQLite (a file, WAL, `synchronous=FULL`) and on
//! PostgreSQL (`INKAN_TEST_POSTGRES_URL`, default
//! `postgres://inkan:inkan@127.0.0.1:5432/inkan_test`, a fresh schema dropped at the end), with
//! 1, 8 and 64 concurrent writers:
//!
//! - `group_commit`: `TransparencyLog::append`, the service path: concurrent appends share one
//!   transaction (entries, stored hashes, head), checkpoints by the default policy signed with
//!   an in-memory Ed25519 key;
//! - `unbatched`: `Store::append_log_entries` with one entry per call, the same tree work but
//!   one transaction per entry (what group commit saves);
//! - `insert_baseline`: a single autocommit `INSERT` of the entry bytes into a plain table, no
//!   tree: the floor of one durable write per entry on the engine.
//!
//! Criterion's time per iteration is per append; the throughput line is appends/s. Owns only
//! measurements: it must never become a timed test or a pass/fail gate. Measurement times are
//! short: `cargo bench -p inkan-server --bench log_append` takes a few minutes.

use criterion::{BenchmarkId, Criterion, Throughput};
use ed25519_dalek::Signer as _;
use inkan_log::entry::{Actor, ActorKind, Authentication, Entry, EntryKind, Outcome};
use inkan_log::note::NoteSigner;
use inkan_server::clock::SystemClock;
use inkan_server::log::{CheckpointPolicy, TransparencyLog};
use inkan_store::{self as store, Store};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const DEFAULT_POSTGRES_URL: &str = "postgres://inkan:inkan@127.0.0.1:5432/inkan_test";
const ORIGIN: &str = "inkan.bench/log/test";
const WRITERS: [usize; 3] = [1, 8, 64];

#[derive(Debug)]
struct BenchSigner(ed25519_dalek::SigningKey);

impl NoteSigner for BenchSigner {
    fn name(&self) -> &str {
        ORIGIN
    }
    fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], inkan_log::LogError> {
        Ok(self.0.sign(message).to_bytes())
    }
}

/// A realistic entry (about 400 bytes encoded): a signature request by a subscriber.
fn entry(n: usize) -> Entry {
    Entry {
        kind: EntryKind::SignatureRequested,
        time: 1_767_225_600_000 + n as i64,
        environment: "test".into(),
        actor: Actor {
            kind: ActorKind::Subscriber,
            id: format!("sub_{:032x}", n % 1000),
            auth: Authentication {
                method: "password+totp".into(),
                session: Some(format!("ses_{n:032x}")),
                terminal: None,
            },
        },
        key_id: Some("key_0123456789abcdef0123456789abcdef".into()),
        digests: vec![format!("sha-256:{n:064x}")],
        approval: Some(format!("sad_{n:032x}")),
        outcome: Outcome::Pending,
        note: None,
    }
}

/// One database to measure on.
struct Target {
    name: &'static str,
    url: String,
    baseline_table: &'static str,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Target {
    fn sqlite(folder: &str) -> Target {
        // Under target/, on the build's disk (not a tmpfs): fsync must cost what it costs.
        let dir = tempfile::tempdir_in(folder).expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        Target {
            name: "sqlite",
            url,
            baseline_table: "CREATE TABLE bench_baseline \
                             (id INTEGER PRIMARY KEY AUTOINCREMENT, entry BLOB NOT NULL)",
            _dir: Some(dir),
            schema: None,
        }
    }

    async fn postgres() -> Target {
        let server = std::env::var("INKAN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!("PostgreSQL for the benchmark ({e}): run `bash .ci/run` or set INKAN_TEST_POSTGRES_URL")
        });
        admin
            .execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .await
            .expect("create schema");
        admin.close().await.expect("close");
        let separator = if server.contains('?') { '&' } else { '?' };
        Target {
            name: "postgres",
            url: format!("{server}{separator}options[search_path]={schema}"),
            baseline_table: "CREATE TABLE bench_baseline \
                             (id BIGSERIAL PRIMARY KEY, entry BYTEA NOT NULL)",
            _dir: None,
            schema: Some((server, schema)),
        }
    }

    async fn drop_schema(&self) {
        if let Some((server, schema)) = &self.schema {
            let mut admin = PgConnection::connect(server).await.expect("connect");
            admin
                .execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .await
                .expect("drop schema");
            admin.close().await.expect("close");
        }
    }
}

/// Runs `iters` operations spread over `writers` concurrent tasks; returns the wall time.
async fn spread<F, Fut>(writers: usize, iters: u64, op: F) -> Duration
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let total = iters as usize;
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (next, op) = (next.clone(), op.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    op(n).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    start.elapsed()
}

fn bench_target(c: &mut Criterion, rt: &tokio::runtime::Runtime, target: &Target) {
    let store: Arc<dyn Store> = rt.block_on(store::connect(&target.url)).expect("store");
    let log = Arc::new(
        rt.block_on(TransparencyLog::open(
            store.clone(),
            Arc::new(BenchSigner(ed25519_dalek::SigningKey::from_bytes(
                &[0x42; 32],
            ))),
            ORIGIN.to_owned(),
            CheckpointPolicy::default(),
            Arc::new(SystemClock),
        ))
        .expect("log"),
    );
    let baseline = rt.block_on(sqlx_pool(&target.url));
    rt.block_on(baseline.create(target.baseline_table));

    let mut group = c.benchmark_group(format!("log_append/{}", target.name));
    group.throughput(Throughput::Elements(1));
    for writers in WRITERS {
        let log = log.clone();
        group.bench_with_input(
            BenchmarkId::new("group_commit", writers),
            &writers,
            |b, &writers| {
                b.iter_custom(|iters| {
                    let log = log.clone();
                    rt.block_on(spread(writers, iters, move |n| {
                        let log = log.clone();
                        async move {
                            log.append(&entry(n)).await.expect("append");
                        }
                    }))
                })
            },
        );
    }
    for writers in WRITERS {
        let store = store.clone();
        group.bench_with_input(
            BenchmarkId::new("unbatched", writers),
            &writers,
            |b, &writers| {
                b.iter_custom(|iters| {
                    let store = store.clone();
                    rt.block_on(spread(writers, iters, move |n| {
                        let store = store.clone();
                        async move {
                            store
                                .append_log_entries(&[entry(n).encode()])
                                .await
                                .expect("append");
                        }
                    }))
                })
            },
        );
    }
    for writers in WRITERS {
        let baseline = baseline.clone();
        group.bench_with_input(
            BenchmarkId::new("insert_baseline", writers),
            &writers,
            |b, &writers| {
                b.iter_custom(|iters| {
                    let baseline = baseline.clone();
                    rt.block_on(spread(writers, iters, move |n| {
                        let baseline = baseline.clone();
                        async move { baseline.insert(entry(n).encode()).await }
                    }))
                })
            },
        );
    }
    group.finish();
    drop(log);
}

/// A plain connection pool for the baseline, with the store's durability settings.
#[derive(Clone)]
enum Baseline {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

async fn sqlx_pool(url: &str) -> Baseline {
    use std::str::FromStr as _;
    if url.starts_with("sqlite:") {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
            .expect("url")
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(60));
        Baseline::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .expect("pool"),
        )
    } else {
        Baseline::Postgres(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(10)
                .connect(url)
                .await
                .expect("pool"),
        )
    }
}

impl Baseline {
    async fn create(&self, sql: &'static str) {
        match self {
            Baseline::Sqlite(pool) => pool.execute(sql).await.map(drop),
            Baseline::Postgres(pool) => pool.execute(sql).await.map(drop),
        }
        .expect("baseline table");
    }

    async fn insert(&self, entry: Vec<u8>) {
        match self {
            Baseline::Sqlite(pool) => sqlx::query("INSERT INTO bench_baseline (entry) VALUES (?)")
                .bind(entry)
                .execute(pool)
                .await
                .map(drop),
            Baseline::Postgres(pool) => {
                sqlx::query("INSERT INTO bench_baseline (entry) VALUES ($1)")
                    .bind(entry)
                    .execute(pool)
                    .await
                    .map(drop)
            }
        }
        .expect("insert");
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let sqlite = Target::sqlite(env!("CARGO_TARGET_TMPDIR"));
    bench_target(&mut c, &rt, &sqlite);
    let postgres = rt.block_on(Target::postgres());
    bench_target(&mut c, &rt, &postgres);
    rt.block_on(postgres.drop_schema());
    c.final_summary();
}
