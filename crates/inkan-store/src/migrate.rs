//! Schema migrations: our own small runner, one ordered list per engine.
//!
//! Owns the `schema_migrations` table and the lists of migrations ([`SQLITE`], [`POSTGRES`]),
//! whose SQL lives in `migrations/<engine>/NNNN_name.sql` and is embedded with `include_str!`.
//! Each pending migration is applied in a transaction of its own together with its
//! `schema_migrations` row, so a migration is either wholly applied and recorded or not at all.
//! Every transaction first takes the engine's lock (`BEGIN IMMEDIATE` on SQLite,
//! `pg_advisory_xact_lock` on PostgreSQL) and then re-reads what is applied, so several nodes
//! starting at once apply each migration exactly once.
//!
//! Refuses ([`StoreError::Corrupt`]) a database that records a migration this binary does not
//! know (a newer Inkan migrated it), one recorded under another name, or a gap (a later
//! migration applied before an earlier one): running on a schema we do not understand could
//! lose keys.
//!
//! Must never: edit or reorder a migration that has shipped (add a new one), run a migration
//! outside its transaction, or touch the tables of the key registry itself.

use super::StoreError;
use sqlx::{PgPool, Row, SqlitePool};

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// Its place in the order; strictly increasing through a list, never reused.
    pub(crate) version: i64,
    /// A short name, recorded with the version and checked on every start.
    pub(crate) name: &'static str,
    /// The statements, run as one batch inside the migration's transaction.
    pub(crate) sql: &'static str,
}

/// The SQLite migrations, in order.
pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "key_registry",
        sql: include_str!("../migrations/sqlite/0001_key_registry.sql"),
    },
    Migration {
        version: 2,
        name: "transparency_log",
        sql: include_str!("../migrations/sqlite/0002_transparency_log.sql"),
    },
    Migration {
        version: 3,
        name: "auth",
        sql: include_str!("../migrations/sqlite/0003_auth.sql"),
    },
    Migration {
        version: 4,
        name: "signing",
        sql: include_str!("../migrations/sqlite/0004_signing.sql"),
    },
    Migration {
        version: 5,
        name: "delivery",
        sql: include_str!("../migrations/sqlite/0005_delivery.sql"),
    },
    Migration {
        version: 6,
        name: "status",
        sql: include_str!("../migrations/sqlite/0006_status.sql"),
    },
    Migration {
        version: 7,
        name: "operations",
        sql: include_str!("../migrations/sqlite/0007_operations.sql"),
    },
    Migration {
        version: 8,
        name: "settings",
        sql: include_str!("../migrations/sqlite/0008_settings.sql"),
    },
    Migration {
        version: 9,
        name: "registry_status",
        sql: include_str!("../migrations/sqlite/0009_registry_status.sql"),
    },
    Migration {
        version: 10,
        name: "issuer_bindings",
        sql: include_str!("../migrations/sqlite/0010_issuer_bindings.sql"),
    },
    Migration {
        version: 11,
        name: "cache_epoch",
        sql: include_str!("../migrations/sqlite/0011_cache_epoch.sql"),
    },
    Migration {
        version: 12,
        name: "status_lists",
        sql: include_str!("../migrations/sqlite/0012_status_lists.sql"),
    },
    Migration {
        version: 13,
        name: "status_list_publication",
        sql: include_str!("../migrations/sqlite/0013_status_list_publication.sql"),
    },
    Migration {
        version: 14,
        name: "sad_disclosure",
        sql: include_str!("../migrations/sqlite/0014_sad_disclosure.sql"),
    },
    Migration {
        version: 15,
        name: "oauth",
        sql: include_str!("../migrations/sqlite/0015_oauth.sql"),
    },
    Migration {
        version: 16,
        name: "identity_links",
        sql: include_str!("../migrations/sqlite/0016_identity_links.sql"),
    },
    Migration {
        version: 17,
        name: "nodes",
        sql: include_str!("../migrations/sqlite/0017_nodes.sql"),
    },
    Migration {
        version: 18,
        name: "rate_windows",
        sql: include_str!("../migrations/sqlite/0018_rate_windows.sql"),
    },
];

/// The PostgreSQL migrations, in order; the same versions and names as [`SQLITE`].
pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "key_registry",
        sql: include_str!("../migrations/postgres/0001_key_registry.sql"),
    },
    Migration {
        version: 2,
        name: "transparency_log",
        sql: include_str!("../migrations/postgres/0002_transparency_log.sql"),
    },
    Migration {
        version: 3,
        name: "auth",
        sql: include_str!("../migrations/postgres/0003_auth.sql"),
    },
    Migration {
        version: 4,
        name: "signing",
        sql: include_str!("../migrations/postgres/0004_signing.sql"),
    },
    Migration {
        version: 5,
        name: "delivery",
        sql: include_str!("../migrations/postgres/0005_delivery.sql"),
    },
    Migration {
        version: 6,
        name: "status",
        sql: include_str!("../migrations/postgres/0006_status.sql"),
    },
    Migration {
        version: 7,
        name: "operations",
        sql: include_str!("../migrations/postgres/0007_operations.sql"),
    },
    Migration {
        version: 8,
        name: "settings",
        sql: include_str!("../migrations/postgres/0008_settings.sql"),
    },
    Migration {
        version: 9,
        name: "registry_status",
        sql: include_str!("../migrations/postgres/0009_registry_status.sql"),
    },
    Migration {
        version: 10,
        name: "issuer_bindings",
        sql: include_str!("../migrations/postgres/0010_issuer_bindings.sql"),
    },
    Migration {
        version: 11,
        name: "cache_epoch",
        sql: include_str!("../migrations/postgres/0011_cache_epoch.sql"),
    },
    Migration {
        version: 12,
        name: "status_lists",
        sql: include_str!("../migrations/postgres/0012_status_lists.sql"),
    },
    Migration {
        version: 13,
        name: "status_list_publication",
        sql: include_str!("../migrations/postgres/0013_status_list_publication.sql"),
    },
    Migration {
        version: 14,
        name: "sad_disclosure",
        sql: include_str!("../migrations/postgres/0014_sad_disclosure.sql"),
    },
    Migration {
        version: 15,
        name: "oauth",
        sql: include_str!("../migrations/postgres/0015_oauth.sql"),
    },
    Migration {
        version: 16,
        name: "identity_links",
        sql: include_str!("../migrations/postgres/0016_identity_links.sql"),
    },
    Migration {
        version: 17,
        name: "nodes",
        sql: include_str!("../migrations/postgres/0017_nodes.sql"),
    },
    Migration {
        version: 18,
        name: "rate_windows",
        sql: include_str!("../migrations/postgres/0018_rate_windows.sql"),
    },
];

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT";

const POSTGRES_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// The first key of the PostgreSQL advisory lock taken while migrating ("Inka"); the second
/// is a hash of the schema, so deployments in different schemas of one database do not wait
/// for each other. (The log's write lock uses another class, `engine::postgres::LOG_LOCK_CLASS`.)
const PG_LOCK_CLASS: i32 = 0x496e_6b61;

/// Brings a SQLite database up to date. Returns how many migrations were applied.
pub(crate) async fn sqlite(pool: &SqlitePool) -> Result<usize, StoreError> {
    run_sqlite(pool, SQLITE).await
}

/// Brings a PostgreSQL schema up to date. Returns how many migrations were applied.
pub(crate) async fn postgres(pool: &PgPool) -> Result<usize, StoreError> {
    run_postgres(pool, POSTGRES).await
}

async fn run_sqlite(pool: &SqlitePool, known: &[Migration]) -> Result<usize, StoreError> {
    let mut applied_now = 0;
    loop {
        // IMMEDIATE takes the write lock up front: another process migrating the same file
        // waits (busy timeout) instead of failing half-way.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::raw_sql(SQLITE_TABLE).execute(&mut *tx).await?;
        let rows = sqlx::query("SELECT version, name FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?;
        let applied = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("version")?,
                    r.try_get::<String, _>("name")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let Some(migration) = next(known, &applied)? else {
            tx.commit().await?;
            return Ok(applied_now);
        };
        sqlx::raw_sql(migration.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("sqlite", migration, e))?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at)
             VALUES (?, ?, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER))",
        )
        .bind(migration.version)
        .bind(migration.name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        applied_now += 1;
        tracing::info!(
            engine = "sqlite",
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
}

async fn run_postgres(pool: &PgPool, known: &[Migration]) -> Result<usize, StoreError> {
    let mut applied_now = 0;
    loop {
        let mut tx = pool.begin().await?;
        // Held until this transaction ends. Taken before anything else, so the table creation
        // below cannot race another node's, and what we read next is what the last holder
        // committed (READ COMMITTED: each statement sees the latest commits).
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))")
            .bind(PG_LOCK_CLASS)
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(POSTGRES_TABLE).execute(&mut *tx).await?;
        let rows = sqlx::query("SELECT version, name FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?;
        let applied = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("version")?,
                    r.try_get::<String, _>("name")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let Some(migration) = next(known, &applied)? else {
            tx.commit().await?;
            return Ok(applied_now);
        };
        sqlx::raw_sql(migration.sql)
            .execute(&mut *tx)
            .await
            .map_err(|e| failed("postgres", migration, e))?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at)
             VALUES ($1, $2, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        applied_now += 1;
        tracing::info!(
            engine = "postgres",
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
}

fn failed(engine: &str, migration: &Migration, error: sqlx::Error) -> StoreError {
    tracing::error!(
        engine,
        version = migration.version,
        name = migration.name,
        %error,
        "migration failed; rolled back"
    );
    StoreError::Database(error)
}

/// The next migration to apply given the `(version, name)` rows already recorded, or `None`
/// when the database is up to date; refuses a database this list does not explain.
fn next<'m>(
    known: &'m [Migration],
    applied: &[(i64, String)],
) -> Result<Option<&'m Migration>, StoreError> {
    let newest_known = known.iter().map(|m| m.version).max().unwrap_or(0);
    for (version, name) in applied {
        match known.iter().find(|m| m.version == *version) {
            Some(m) if m.name == name => {}
            Some(m) => {
                return Err(StoreError::Corrupt(format!(
                    "schema migration {version} is recorded as {name:?}, but this Inkan knows it \
                     as {:?}",
                    m.name
                )));
            }
            None if *version > newest_known => {
                return Err(StoreError::Corrupt(format!(
                    "the database schema is at migration {version} ({name:?}), newer than this \
                     Inkan knows (up to {newest_known}): a newer version migrated it; refusing \
                     to run"
                )));
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "the database records schema migration {version} ({name:?}), which this \
                     Inkan does not know"
                )));
            }
        }
    }
    let newest_applied = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let pending = known
        .iter()
        .find(|m| !applied.iter().any(|(v, _)| *v == m.version));
    match pending {
        Some(m) if m.version < newest_applied => Err(StoreError::Corrupt(format!(
            "schema migration {} ({:?}) is missing although {newest_applied} is applied",
            m.version, m.name
        ))),
        other => Ok(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const M: &[Migration] = &[
        Migration {
            version: 1,
            name: "one",
            sql: "",
        },
        Migration {
            version: 2,
            name: "two",
            sql: "",
        },
    ];

    fn rows(v: &[(i64, &str)]) -> Vec<(i64, String)> {
        v.iter().map(|(v, n)| (*v, (*n).to_owned())).collect()
    }

    #[test]
    fn lists_are_strictly_increasing_and_agree() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
            assert!(
                list.iter()
                    .all(|m| m.version > 0 && !m.sql.trim().is_empty())
            );
        }
        let names = |l: &[Migration]| l.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(names(SQLITE), names(POSTGRES));
    }

    #[test]
    fn applies_in_order_then_stops() {
        assert_eq!(next(M, &[]).unwrap().map(|m| m.version), Some(1));
        assert_eq!(
            next(M, &rows(&[(1, "one")])).unwrap().map(|m| m.version),
            Some(2)
        );
        assert!(next(M, &rows(&[(1, "one"), (2, "two")])).unwrap().is_none());
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for applied in [
            rows(&[(1, "one"), (2, "two"), (3, "three")]),
            rows(&[(1, "uno")]),
            rows(&[(2, "two")]),
            rows(&[(0, "zero")]),
        ] {
            assert!(
                matches!(next(M, &applied), Err(StoreError::Corrupt(_))),
                "{applied:?}"
            );
        }
    }
}
