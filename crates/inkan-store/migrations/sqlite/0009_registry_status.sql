-- Inkan store, SQLite, migration 9: the `registry` status source (criteria 2.2.3(1)B).
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0009_registry_status.sql.
--
-- Keys no outside status list covers (holders' keys) take the registry's own state as their
-- status source, `registry`, so that outside `test` every signature rests on a status check.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the wider one
-- (nothing references it). Existing keys of holder subscribers without a source get
-- `registry`.

CREATE TABLE key_status_sources_9 (
    key_id  TEXT    NOT NULL PRIMARY KEY REFERENCES keys (id),
    kind    TEXT    NOT NULL
        CONSTRAINT key_status_sources_kind_check
        CHECK (kind IN ('x509', 'bitstring', 'token', 'registry', 'none')),
    url     TEXT    CONSTRAINT key_status_sources_url_check CHECK (url <> ''),
    idx     INTEGER CONSTRAINT key_status_sources_idx_check CHECK (idx >= 0),
    purpose TEXT
        CONSTRAINT key_status_sources_purpose_check
        CHECK (purpose IN ('revocation', 'suspension')),
    set_at  INTEGER NOT NULL,
    set_by  TEXT    NOT NULL,
    CONSTRAINT key_status_sources_fields_check CHECK (
        (kind = 'bitstring' AND url IS NOT NULL AND idx IS NOT NULL AND purpose IS NOT NULL)
        OR (kind = 'token' AND url IS NOT NULL AND idx IS NOT NULL AND purpose IS NULL)
        OR (kind IN ('x509', 'registry', 'none') AND url IS NULL AND idx IS NULL
            AND purpose IS NULL)
    )
) STRICT;

INSERT INTO key_status_sources_9 (key_id, kind, url, idx, purpose, set_at, set_by)
    SELECT key_id, kind, url, idx, purpose, set_at, set_by FROM key_status_sources;

DROP TABLE key_status_sources;

ALTER TABLE key_status_sources_9 RENAME TO key_status_sources;

INSERT INTO key_status_sources (key_id, kind, set_at, set_by)
    SELECT k.id, 'registry', k.updated_at, 'migration 9'
    FROM keys k JOIN subscribers s ON s.id = k.owner
    WHERE s.kind = 'holder'
      AND k.id NOT IN (SELECT key_id FROM key_status_sources);
