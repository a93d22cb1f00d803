-- Inkan store, SQLite, migration 4: signing (criteria 2.2.3).
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0004_signing.sql (same tables, columns, constraints and indexes).
--
-- Signature activation data (SAD) and the index of the signatures made. Read and written by
-- src/store/sqlite/signing.rs (the `SigningStore` trait in src/store/signing.rs).
--
-- Times are Unix milliseconds (INTEGER). A SAD is stored by the SHA-256 of its value
-- (lowercase hex), never in the clear; its digests are a JSON array of strings, in order. A
-- SAD is bound to its session and to that session's account: the pair must name one session
-- row (the unique index on sessions (id, account_id) is what the foreign key refers to), and
-- the SAD goes with its session. Signatures are never bound to a log entry by a foreign key:
-- one `signature.made` entry may list several digests, one row each, so log_index repeats.
-- STRICT tables refuse values of the wrong type.

CREATE UNIQUE INDEX sessions_id_account_unique ON sessions (id, account_id);

CREATE TABLE sads (
    sad_hash       TEXT    NOT NULL PRIMARY KEY,
    id             TEXT    NOT NULL CONSTRAINT sads_id_unique UNIQUE,
    key_id         TEXT    NOT NULL REFERENCES keys (id),
    account_id     TEXT    NOT NULL REFERENCES accounts (id),
    session_id     TEXT    NOT NULL,
    digests        TEXT    NOT NULL
        CONSTRAINT sads_digests_check CHECK (json_type(digests) = 'array'),
    num_signatures INTEGER NOT NULL
        CONSTRAINT sads_num_signatures_check
        CHECK (num_signatures >= 1 AND num_signatures <= json_array_length(digests)),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    CONSTRAINT sads_session_fkey FOREIGN KEY (session_id, account_id)
        REFERENCES sessions (id, account_id) ON DELETE CASCADE
) STRICT;

CREATE INDEX sads_expires_idx ON sads (expires_at);
CREATE INDEX sads_session_idx ON sads (session_id, account_id);

CREATE TABLE signatures (
    id            INTEGER NOT NULL PRIMARY KEY,
    digest        TEXT    NOT NULL,
    key_id        TEXT    NOT NULL REFERENCES keys (id),
    subscriber    TEXT    NOT NULL,
    document_type TEXT    NOT NULL,
    log_index     INTEGER NOT NULL CONSTRAINT signatures_log_index_check CHECK (log_index >= 0),
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX signatures_digest_idx ON signatures (subscriber, digest);
