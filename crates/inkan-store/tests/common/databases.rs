//! The test databases of every suite that needs a store (the store's conformance suites, the
//! server's log, backup and end-to-end suites, which include this file by its path): one
//! isolated database per test, on every engine (a SQLite file, SQLite in memory, a fresh schema
//! on the test PostgreSQL), dropped afterwards even when the test fails. PostgreSQL is never
//! skipped: without it the tests fail and say how to start it.

use inkan_store::{self as store, Store, StoreError};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row, SqliteConnection};
use std::future::Future;
use std::sync::Arc;

/// The test PostgreSQL that `.ci/run` starts, unless `INKAN_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://inkan:inkan@127.0.0.1:5432/inkan_test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file in a temporary folder.
    SqliteFile,
    /// `sqlite::memory:`.
    SqliteMemory,
    /// A fresh schema on the test PostgreSQL.
    Postgres,
}

/// One isolated database for one test.
#[derive(Debug)]
pub struct TestDb {
    pub engine: Engine,
    /// The store URL for this test's database.
    pub url: String,
    /// The temporary folder of a SQLite file (removed on drop).
    pub dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server URL as configured, and this test's schema.
    pub postgres: Option<(String, String)>,
}

pub type Ctx = Arc<TestDb>;

impl TestDb {
    pub async fn create(engine: Engine) -> Self {
        match engine {
            Engine::SqliteFile => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("inkan.db").display());
                TestDb {
                    engine,
                    url,
                    dir: Some(dir),
                    postgres: None,
                }
            }
            Engine::SqliteMemory => TestDb {
                engine,
                url: "sqlite::memory:".into(),
                dir: None,
                postgres: None,
            },
            Engine::Postgres => {
                let server = postgres_url();
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = postgres_admin(&server).await;
                admin
                    .execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = with_param(&server, &format!("options[search_path]={schema}"));
                TestDb {
                    engine,
                    url,
                    dir: None,
                    postgres: Some((server, schema)),
                }
            }
        }
    }

    /// Opens the store through `inkan_store::connect`, as the service does.
    pub async fn try_connect(&self) -> Result<Arc<dyn Store>, StoreError> {
        store::connect(&self.url).await
    }

    pub async fn connect(&self) -> Arc<dyn Store> {
        let store = self
            .try_connect()
            .await
            .unwrap_or_else(|e| panic!("connect {:?}: {e}", self.engine));
        let expected = if self.engine == Engine::Postgres {
            "postgres"
        } else {
            "sqlite"
        };
        assert_eq!(store.engine(), expected);
        store
    }

    /// Runs `sql` on this test's database behind the store's back.
    pub async fn exec(&self, sql: impl Into<String>) {
        let sql: String = sql.into();
        match self.engine {
            Engine::SqliteFile => {
                let mut conn = SqliteConnection::connect(&self.url).await.unwrap();
                conn.execute(AssertSqlSafe(sql)).await.unwrap();
                conn.close().await.unwrap();
            }
            Engine::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.unwrap();
                conn.execute(AssertSqlSafe(sql)).await.unwrap();
                conn.close().await.unwrap();
            }
            Engine::SqliteMemory => panic!("an in-memory database cannot be reached from outside"),
        }
    }

    /// Runs `sql` on this test's database behind the store's back; the database's answer.
    pub async fn try_exec(&self, sql: impl Into<String>) -> Result<(), sqlx::Error> {
        let sql: String = sql.into();
        match self.engine {
            Engine::SqliteFile => {
                let mut conn = SqliteConnection::connect(&self.url).await?;
                let result = conn.execute(AssertSqlSafe(sql)).await.map(drop);
                conn.close().await?;
                result
            }
            Engine::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await?;
                let result = conn.execute(AssertSqlSafe(sql)).await.map(drop);
                conn.close().await?;
                result
            }
            Engine::SqliteMemory => panic!("an in-memory database cannot be reached from outside"),
        }
    }

    /// One integer from this test's database, behind the store's back.
    pub async fn query_i64(&self, sql: &'static str) -> i64 {
        match self.engine {
            Engine::SqliteFile => {
                let mut conn = SqliteConnection::connect(&self.url).await.unwrap();
                let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
                row.try_get::<i64, _>(0).unwrap()
            }
            Engine::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.unwrap();
                let row = sqlx::query(sql).fetch_one(&mut conn).await.unwrap();
                row.try_get::<i64, _>(0).unwrap()
            }
            Engine::SqliteMemory => panic!("an in-memory database cannot be reached from outside"),
        }
    }

    pub async fn cleanup(&self) {
        if let Some((server, schema)) = &self.postgres {
            let mut admin = postgres_admin(server).await;
            admin
                .execute(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .await
                .unwrap();
            admin.close().await.unwrap();
        }
    }
}

/// Creates the test's database, runs `case` on it in a task of its own (so that a failing case
/// still gets its PostgreSQL schema dropped), then re-raises the case's panic, if any.
pub async fn run<F, Fut>(engine: Engine, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = Arc::new(TestDb::create(engine).await);
    let outcome = tokio::spawn(case(db.clone())).await;
    db.cleanup().await;
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

pub fn postgres_url() -> String {
    std::env::var("INKAN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

pub async fn postgres_admin(server: &str) -> PgConnection {
    PgConnection::connect(server).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to the test PostgreSQL at {} ({e}). Start it, with the role `inkan` \
             and the database `inkan_test`, by running `bash .ci/run`; or point \
             INKAN_TEST_POSTGRES_URL at another server",
            redact(server)
        )
    })
}

/// `url` with its password (if any) replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

pub fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}
