-- Inkan store, PostgreSQL, migration 2: the transparency log.
--
-- Applied once, inside one transaction and under an advisory lock, by src/store/migrate.rs;
-- never edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0002_transparency_log.sql (same tables, columns, constraints and
-- triggers). Unqualified names: everything goes to the first schema of the search_path.
--
-- The log is an RFC 9162 Merkle tree in the "stored hashes" layout (inkan_log::tree): the
-- entries (opaque canonical bytes, numbered from 0), the hash of every complete subtree
-- (numbered by inkan_log::tree::stored_hash_index), one head row (the size and root hash the
-- last append committed) and the signed checkpoints (C2SP signed notes, at most one per size).
-- Everything is written by one append transaction under the log's advisory lock (one node at
-- a time integrates the tree), so the entries, the hashes and the head always agree. Times are
-- Unix milliseconds.
--
-- Entries, hashes and checkpoints are append-only: triggers refuse UPDATE, DELETE and TRUNCATE
-- (defence in depth against a mistake in code; a database administrator can still rewrite the
-- tables, which is what signed checkpoints and offline verification are for).

CREATE TABLE log_head (
    id   INTEGER NOT NULL PRIMARY KEY CONSTRAINT log_head_single_row CHECK (id = 1),
    size BIGINT  NOT NULL CONSTRAINT log_head_size_check CHECK (size >= 0),
    root BYTEA   NOT NULL CONSTRAINT log_head_root_check CHECK (octet_length(root) = 32)
);

-- The empty tree: size 0, root SHA-256() (RFC 9162 §2.1.1).
INSERT INTO log_head (id, size, root)
VALUES (1, 0, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'::bytea);

CREATE TABLE log_entries (
    idx   BIGINT NOT NULL PRIMARY KEY CONSTRAINT log_entries_idx_check CHECK (idx >= 0),
    entry BYTEA  NOT NULL
);

CREATE TABLE log_hashes (
    idx  BIGINT NOT NULL PRIMARY KEY CONSTRAINT log_hashes_idx_check CHECK (idx >= 0),
    hash BYTEA  NOT NULL CONSTRAINT log_hashes_hash_check CHECK (octet_length(hash) = 32)
);

CREATE TABLE log_checkpoints (
    size       BIGINT NOT NULL PRIMARY KEY CONSTRAINT log_checkpoints_size_check CHECK (size >= 0),
    note       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER log_entries_append_only BEFORE UPDATE OR DELETE ON log_entries
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_entries_no_truncate BEFORE TRUNCATE ON log_entries
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_hashes_append_only BEFORE UPDATE OR DELETE ON log_hashes
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_hashes_no_truncate BEFORE TRUNCATE ON log_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_checkpoints_append_only BEFORE UPDATE OR DELETE ON log_checkpoints
    FOR EACH ROW EXECUTE FUNCTION log_append_only();
CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION log_append_only();
