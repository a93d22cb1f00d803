-- Inkan store, SQLite, migration 8: deployment settings (criteria 2.1.3(12)).
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0008_settings.sql.
--
-- Facts about the deployment the service must remember between starts, by name: today the
-- digest of the configuration it last ran with (`configuration`), so that a change is logged
-- and, in production, started only with an approved dual-control request. Read and written by
-- src/store/sqlite/operations.rs. Times are Unix milliseconds.

CREATE TABLE deployment_settings (
    name   TEXT    NOT NULL PRIMARY KEY,
    value  TEXT    NOT NULL,
    set_at INTEGER NOT NULL
) STRICT;
