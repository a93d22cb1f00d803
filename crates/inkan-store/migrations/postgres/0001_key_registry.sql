-- Inkan store, PostgreSQL, migration 1: the key registry.
--
-- Applied once, inside one transaction and under an advisory lock, by src/store/migrate.rs;
-- never edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0001_key_registry.sql (same tables, columns, constraints and indexes).
-- Unqualified names: the tables go to the first schema of the connection's search_path.
--
-- Times are Unix milliseconds (BIGINT). Names (algorithm, spec, device, origin, environment,
-- state) are the `as_str` spellings of the Rust types; the ones with a closed set here carry a
-- CHECK, the device-facing ones (algorithm, spec, device) are checked when read back, so a new
-- algorithm needs no migration.

CREATE TABLE keys (
    id               TEXT   NOT NULL PRIMARY KEY,
    owner            TEXT   NOT NULL,
    label            TEXT   NOT NULL,
    algorithm        TEXT   NOT NULL,
    spec             TEXT   NOT NULL,
    device           TEXT   NOT NULL,
    handle           TEXT   NOT NULL,
    public_key_spki  BYTEA  NOT NULL,
    origin           TEXT   NOT NULL
        CONSTRAINT keys_origin_check CHECK (origin IN ('generated', 'imported')),
    environment      TEXT   NOT NULL
        CONSTRAINT keys_environment_check CHECK (environment IN ('production', 'staging', 'test')),
    state            TEXT   NOT NULL
        CONSTRAINT keys_state_check CHECK (state IN ('active', 'disabled', 'destroyed')),
    state_reason     TEXT,
    state_changed_at BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    CONSTRAINT keys_device_handle_unique UNIQUE (device, handle)
);

CREATE INDEX keys_owner_idx ON keys (owner, created_at);
CREATE INDEX keys_state_idx ON keys (state, created_at);

-- The certificate chain, one DER certificate per row, position 0 the leaf.
CREATE TABLE key_certificates (
    key_id   TEXT    NOT NULL REFERENCES keys (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CONSTRAINT key_certificates_position_check CHECK (position >= 0),
    der      BYTEA   NOT NULL,
    PRIMARY KEY (key_id, position)
);
