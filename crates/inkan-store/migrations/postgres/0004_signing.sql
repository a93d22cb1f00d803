-- Inkan store, PostgreSQL, migration 4: signing (criteria 2.2.3).
--
-- Applied once, inside one transaction and under an advisory lock, by src/store/migrate.rs;
-- never edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0004_signing.sql (same tables, columns, constraints and indexes).
-- Unqualified names: the tables go to the first schema of the connection's search_path.
--
-- Signature activation data (SAD) and the index of the signatures made. Read and written by
-- src/store/postgres/signing.rs (the `SigningStore` trait in src/store/signing.rs).
--
-- Times are Unix milliseconds (BIGINT). A SAD is stored by the SHA-256 of its value
-- (lowercase hex), never in the clear; its digests are a JSON array of strings, in order, kept
-- as TEXT (as in SQLite; the CHECKs parse it). A SAD is bound to its session and to that
-- session's account: the pair must name one session row (the unique index on sessions (id,
-- account_id) is what the foreign key refers to), and the SAD goes with its session.
-- Signatures are never bound to a log entry by a foreign key: one `signature.made` entry may
-- list several digests, one row each, so log_index repeats.

CREATE UNIQUE INDEX sessions_id_account_unique ON sessions (id, account_id);

CREATE TABLE sads (
    sad_hash       TEXT   NOT NULL PRIMARY KEY,
    id             TEXT   NOT NULL CONSTRAINT sads_id_unique UNIQUE,
    key_id         TEXT   NOT NULL REFERENCES keys (id),
    account_id     TEXT   NOT NULL REFERENCES accounts (id),
    session_id     TEXT   NOT NULL,
    digests        TEXT   NOT NULL
        CONSTRAINT sads_digests_check CHECK (json_typeof(digests::json) = 'array'),
    num_signatures BIGINT NOT NULL
        CONSTRAINT sads_num_signatures_check
        CHECK (num_signatures >= 1 AND num_signatures <= json_array_length(digests::json)),
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    CONSTRAINT sads_session_fkey FOREIGN KEY (session_id, account_id)
        REFERENCES sessions (id, account_id) ON DELETE CASCADE
);

CREATE INDEX sads_expires_idx ON sads (expires_at);
CREATE INDEX sads_session_idx ON sads (session_id, account_id);

CREATE TABLE signatures (
    id            BIGINT NOT NULL GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest        TEXT   NOT NULL,
    key_id        TEXT   NOT NULL REFERENCES keys (id),
    subscriber    TEXT   NOT NULL,
    document_type TEXT   NOT NULL,
    log_index     BIGINT NOT NULL CONSTRAINT signatures_log_index_check CHECK (log_index >= 0),
    created_at    BIGINT NOT NULL
);

CREATE INDEX signatures_digest_idx ON signatures (subscriber, digest);
