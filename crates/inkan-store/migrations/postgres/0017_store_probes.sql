-- Inkan store, PostgreSQL, migration 17: readiness's write probes (issue 20; criteria 2.1.3(6)-(9)).
--
-- Applied once by src/migrate.rs; never edit a migration that has shipped: add a new file and
-- list it in migrate.rs. Must stay equivalent to ../sqlite/0017_store_probes.sql.
--
-- Each node writes its own row about once a second (inkan-server `health`): the proof that a
-- write commits now (a full disk, a read-only or lost database fail it), which `/ready` and the
-- refusal of requests while the store cannot write rest on. Holds no subscriber's data and
-- decides nothing else; not part of a backup.

CREATE TABLE store_probes (
    node      TEXT NOT NULL PRIMARY KEY,
    probed_at BIGINT NOT NULL
);
