-- Inkan store, PostgreSQL, migration 17: what several nodes share (issue 20; criteria
-- 2.1.3(6)-(9)).
--
-- Applied once by src/migrate.rs; never edit a migration that has shipped: add a new file and
-- list it in migrate.rs. Must stay equivalent to ../sqlite/0017_nodes.sql.
--
-- store_probes: each node writes its own row about once a second (inkan-server `health`):
-- the proof that a write commits now (a full disk, a read-only or lost database fail it),
-- which `/ready` and the refusal of requests while the store cannot write rest on. Neither
-- table holds a subscriber's data or is part of a backup.

CREATE TABLE store_probes (
    node      TEXT NOT NULL PRIMARY KEY,
    probed_at BIGINT NOT NULL
);

-- leases: work that one node of several must do alone (a new store's log key, and at each
-- server start the configuration's check, the delivery key and the bootstrap operator;
-- inkan-server `nodes`). A lease is taken by one conditional upsert: the holder's, or anyone's
-- once `until` has passed.
CREATE TABLE leases (
    name   TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    until  BIGINT NOT NULL
);
