//! The store in SQL, written once for both engines: [`SqlStore`].
//!
//! Every [`Store`](super::Store) operation is here, one file per record family (`auth.rs`,
//! `signing.rs`, `delivery.rs`, `status.rs`, `operations.rs`, `issuers.rs`, `oauth.rs`, `passkeys.rs`, `identity_links.rs`, `backup.rs`, the key
//! registry and the log in `keys.rs` and `log.rs`), each statement written once with `$n`
//! placeholders and run through `store::engine`, which holds what differs between SQLite and
//! PostgreSQL. Both engines pass the same conformance suites (`tests/*store_conformance.rs`).
//!
//! Concurrency, on both engines: a change of one row is one conditional statement
//! (`UPDATE … WHERE <condition>`, an upsert `ON CONFLICT … DO UPDATE … WHERE`); a change of
//! several rows is one write transaction ([`Db::begin_write`]) that locks what it checks
//! (`SELECT … FOR UPDATE`, always an account before its activation codes, the session before its
//! token, so two such transactions cannot deadlock) and then reads it as last committed. On
//! SQLite the write transaction holds the database's write lock from its first statement, so the
//! same code is serialised whole. A refusal returns before `commit`: the transaction rolls back
//! on drop and nothing changes.
//!
//! Must never: build SQL from values (values are always bound; only constant column names are
//! spliced in), branch on the engine (a difference is a hook in `store::engine`), or decode stored
//! names itself (that is `store/*_rows.rs` and `StoredKey::decode` in `store/keys.rs`).

mod auth;
mod backup;
mod delivery;
mod identity_links;
mod issuers;
mod keys;
mod log;
mod oauth;
mod operations;
mod passkeys;
mod signing;
mod status;
mod status_lists;

use super::StoreError;
use super::engine::{self, Db};

/// The store on either engine.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    /// Opens the store at `url` (`sqlite://PATH` or `sqlite::memory:`, `postgres://…`),
    /// running its migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = if url.starts_with("sqlite:") {
            engine::sqlite::connect(url).await?
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            engine::postgres::connect(url).await?
        } else {
            return Err(StoreError::Config(
                "the store URL must start with sqlite: or postgres://".into(),
            ));
        };
        Ok(SqlStore { db })
    }

    /// Whether the store's sessions with its database are encrypted (TLS), as the server sees
    /// it: always false for SQLite, which has no sessions.
    pub async fn session_encrypted(&self) -> Result<bool, StoreError> {
        match &self.db {
            Db::Postgres { pool } => engine::postgres::session_encrypted(pool).await,
            Db::Sqlite { .. } => Ok(false),
        }
    }
}
