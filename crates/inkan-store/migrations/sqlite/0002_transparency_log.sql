-- Inkan store, SQLite, migration 2: the transparency log.
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0002_transparency_log.sql (same tables, columns, constraints and triggers).
--
-- The log is an RFC 9162 Merkle tree in the "stored hashes" layout (inkan_log::tree): the
-- entries (opaque canonical bytes, numbered from 0), the hash of every complete subtree
-- (numbered by inkan_log::tree::stored_hash_index), one head row (the size and root hash the
-- last append committed) and the signed checkpoints (C2SP signed notes, at most one per size).
-- Everything is written by one append transaction under the log's write lock, so the entries,
-- the hashes and the head always agree. Times are Unix milliseconds.
--
-- Entries, hashes and checkpoints are append-only: triggers refuse UPDATE and DELETE (defence
-- in depth against a mistake in code; a database administrator can still rewrite the tables,
-- which is what signed checkpoints and offline verification are for).

CREATE TABLE log_head (
    id   INTEGER NOT NULL PRIMARY KEY CONSTRAINT log_head_single_row CHECK (id = 1),
    size INTEGER NOT NULL CONSTRAINT log_head_size_check CHECK (size >= 0),
    root BLOB    NOT NULL CONSTRAINT log_head_root_check CHECK (length(root) = 32)
) STRICT;

-- The empty tree: size 0, root SHA-256() (RFC 9162 §2.1.1).
INSERT INTO log_head (id, size, root)
VALUES (1, 0, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

CREATE TABLE log_entries (
    idx   INTEGER NOT NULL PRIMARY KEY CONSTRAINT log_entries_idx_check CHECK (idx >= 0),
    entry BLOB    NOT NULL
) STRICT;

CREATE TABLE log_hashes (
    idx  INTEGER NOT NULL PRIMARY KEY CONSTRAINT log_hashes_idx_check CHECK (idx >= 0),
    hash BLOB    NOT NULL CONSTRAINT log_hashes_hash_check CHECK (length(hash) = 32)
) STRICT;

CREATE TABLE log_checkpoints (
    size       INTEGER NOT NULL PRIMARY KEY CONSTRAINT log_checkpoints_size_check CHECK (size >= 0),
    note       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TRIGGER log_entries_no_update BEFORE UPDATE ON log_entries
BEGIN SELECT RAISE(ABORT, 'log_entries is append-only'); END;
CREATE TRIGGER log_entries_no_delete BEFORE DELETE ON log_entries
BEGIN SELECT RAISE(ABORT, 'log_entries is append-only'); END;
CREATE TRIGGER log_hashes_no_update BEFORE UPDATE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'log_hashes is append-only'); END;
CREATE TRIGGER log_hashes_no_delete BEFORE DELETE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'log_hashes is append-only'); END;
CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only'); END;
CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints
BEGIN SELECT RAISE(ABORT, 'log_checkpoints is append-only'); END;
