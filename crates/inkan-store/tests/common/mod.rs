//! What the store conformance suites share: the `conformance!` macro, the records they store,
//! and the test databases (`databases.rs`, shared with the server's suites).
#![allow(dead_code, unused_macros, clippy::unwrap_used)]

/// Runs each case on every engine as `<engine>::<case>`; `outside` cases reach the database
/// behind the store's back (not possible with `sqlite::memory:`).
macro_rules! conformance {
    (every_engine: [$($case:ident),* $(,)?], outside: [$($outside:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::SqliteFile, super::$case).await }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $outside() {
                    super::run(super::Engine::SqliteFile, super::$outside).await
                }
            )*
        }
        mod sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::SqliteMemory, super::$case).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() { super::run(super::Engine::Postgres, super::$case).await }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $outside() {
                    super::run(super::Engine::Postgres, super::$outside).await
                }
            )*
        }
    };
}

pub mod databases;
pub mod records;

pub use databases::*;
