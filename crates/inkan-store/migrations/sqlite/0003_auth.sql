-- Inkan store, SQLite, migration 3: authentication (criteria 2.2.1).
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0003_auth.sql (same tables, columns, constraints and indexes).
--
-- Subscribers, their accounts and one-time activation codes, sessions and their tokens, the
-- replay cache of one-time proof ids, system clients, and each key's signing PIN. Read and
-- written by src/store/sqlite/auth.rs (the `AuthStore` trait in src/store/auth.rs).
--
-- Times are Unix milliseconds (INTEGER). Names (kind, state, role, auth_method) are the
-- `as_str` spellings of the Rust enums in src/store/auth.rs, each with a CHECK. Secrets are
-- never stored in the clear: activation codes and tokens by their SHA-256 (lowercase hex), the
-- password and PIN as Argon2id PHC strings, the TOTP seed sealed by the caller. Booleans are
-- INTEGER 0 or 1 (BOOLEAN in PostgreSQL). STRICT tables refuse values of the wrong type.

CREATE TABLE subscribers (
    id          TEXT    NOT NULL PRIMARY KEY,
    kind        TEXT    NOT NULL
        CONSTRAINT subscribers_kind_check CHECK (kind IN ('issuer', 'holder')),
    name        TEXT    NOT NULL,
    environment TEXT    NOT NULL
        CONSTRAINT subscribers_environment_check
        CHECK (environment IN ('production', 'staging', 'test')),
    state       TEXT    NOT NULL
        CONSTRAINT subscribers_state_check CHECK (state IN ('active', 'terminated')),
    created_at  INTEGER NOT NULL
) STRICT;

-- An operator acts for no subscriber; a user for exactly one.
CREATE TABLE accounts (
    id             TEXT    NOT NULL PRIMARY KEY,
    username       TEXT    NOT NULL CONSTRAINT accounts_username_unique UNIQUE,
    role           TEXT    NOT NULL
        CONSTRAINT accounts_role_check CHECK (role IN ('operator', 'user')),
    subscriber     TEXT    REFERENCES subscribers (id),
    password_hash  TEXT,
    totp_sealed    BLOB,
    totp_pending   BLOB,
    last_totp_step INTEGER,
    failed_logins  INTEGER NOT NULL
        CONSTRAINT accounts_failed_logins_check CHECK (failed_logins >= 0),
    locked_until   INTEGER,
    state          TEXT    NOT NULL
        CONSTRAINT accounts_state_check CHECK (state IN ('pending', 'active', 'disabled')),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CONSTRAINT accounts_subscriber_check CHECK (
        (role = 'operator' AND subscriber IS NULL) OR (role = 'user' AND subscriber IS NOT NULL)
    )
) STRICT;

CREATE INDEX accounts_subscriber_idx ON accounts (subscriber);

CREATE TABLE activation_codes (
    code_hash  TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE INDEX activation_codes_account_idx ON activation_codes (account_id);

-- The certificate thumbprint is unique among the clients that have one (NULLs are distinct).
CREATE TABLE clients (
    id                     TEXT    NOT NULL PRIMARY KEY,
    subscriber             TEXT    NOT NULL REFERENCES subscribers (id),
    name                   TEXT    NOT NULL,
    auth_method            TEXT    NOT NULL
        CONSTRAINT clients_auth_method_check
        CHECK (auth_method IN ('tls_client_auth', 'private_key_jwt')),
    certificate_thumbprint TEXT
        CONSTRAINT clients_certificate_thumbprint_unique UNIQUE,
    jwk                    TEXT,
    scope                  TEXT    NOT NULL,
    active                 INTEGER NOT NULL CONSTRAINT clients_active_check CHECK (active IN (0, 1)),
    created_at             INTEGER NOT NULL
) STRICT;

CREATE INDEX clients_subscriber_idx ON clients (subscriber, created_at);

-- A session belongs to exactly one of an account or a client.
CREATE TABLE sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    account_id     TEXT    REFERENCES accounts (id) ON DELETE CASCADE,
    client_id      TEXT    REFERENCES clients (id) ON DELETE CASCADE,
    subscriber     TEXT    REFERENCES subscribers (id),
    method         TEXT    NOT NULL,
    jkt            TEXT,
    x5t            TEXT,
    scope          TEXT,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT,
    CONSTRAINT sessions_owner_check CHECK ((account_id IS NULL) <> (client_id IS NULL))
) STRICT;

CREATE INDEX sessions_account_idx ON sessions (account_id);
CREATE INDEX sessions_client_idx ON sessions (client_id);
CREATE INDEX sessions_subscriber_idx ON sessions (subscriber);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at);

CREATE TABLE tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CONSTRAINT tokens_kind_check CHECK (kind IN ('access', 'refresh')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE INDEX tokens_session_idx ON tokens (session_id);
CREATE INDEX tokens_expires_idx ON tokens (expires_at);

-- The replay cache: one-time proof ids (DPoP and client assertion `jti`) until they expire.
CREATE TABLE once_ids (
    id         TEXT    NOT NULL PRIMARY KEY,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX once_ids_expires_idx ON once_ids (expires_at);

-- The signing PIN of a key (criteria 2.2.3(2)), separate from the login password.
CREATE TABLE key_pins (
    key_id     TEXT    NOT NULL PRIMARY KEY REFERENCES keys (id) ON DELETE CASCADE,
    pin_hash   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
