-- Inkan store, SQLite, migration 1: the key registry.
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0001_key_registry.sql (same tables, columns, constraints and indexes).
--
-- Times are Unix milliseconds (INTEGER). Names (algorithm, spec, device, origin, environment,
-- state) are the `as_str` spellings of the Rust types; the ones with a closed set here carry a
-- CHECK, the device-facing ones (algorithm, spec, device) are checked when read back, so a new
-- algorithm needs no migration. STRICT tables refuse values of the wrong type.

CREATE TABLE keys (
    id               TEXT    NOT NULL PRIMARY KEY,
    owner            TEXT    NOT NULL,
    label            TEXT    NOT NULL,
    algorithm        TEXT    NOT NULL,
    spec             TEXT    NOT NULL,
    device           TEXT    NOT NULL,
    handle           TEXT    NOT NULL,
    public_key_spki  BLOB    NOT NULL,
    origin           TEXT    NOT NULL
        CONSTRAINT keys_origin_check CHECK (origin IN ('generated', 'imported')),
    environment      TEXT    NOT NULL
        CONSTRAINT keys_environment_check CHECK (environment IN ('production', 'staging', 'test')),
    state            TEXT    NOT NULL
        CONSTRAINT keys_state_check CHECK (state IN ('active', 'disabled', 'destroyed')),
    state_reason     TEXT,
    state_changed_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CONSTRAINT keys_device_handle_unique UNIQUE (device, handle)
) STRICT;

CREATE INDEX keys_owner_idx ON keys (owner, created_at);
CREATE INDEX keys_state_idx ON keys (state, created_at);

-- The certificate chain, one DER certificate per row, position 0 the leaf.
CREATE TABLE key_certificates (
    key_id   TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CONSTRAINT key_certificates_position_check CHECK (position >= 0),
    der      BLOB    NOT NULL,
    PRIMARY KEY (key_id, position)
) STRICT;
