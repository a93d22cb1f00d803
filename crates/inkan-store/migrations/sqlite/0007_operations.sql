-- Inkan store, SQLite, migration 7: operations (criteria 2.1.1, 2.1.3(12), (14), 2.3.3).
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0007_operations.sql (same tables, columns, constraints and indexes).
--
-- Read and written by src/store/sqlite/operations.rs (the `OperationsStore` trait in
-- src/store/operations.rs):
-- - operator_roles: the one role of each operator account (separation of duties);
-- - operator_terminals: the client certificates (by SHA-256 thumbprint, base64url) that
--   identify an operator's terminals; an operator logs in only from one of its own that is
--   not revoked;
-- - workflows: the records of procedures that span several people: enrolment applications
--   (applicant, identity proofing, mandate, decision) and dual-control requests (the action,
--   its approvals, its result). The body is the typed record as JSON, decoded and checked by
--   src/operations/; `state` is repeated as a column to list by it, and `version` makes every
--   change a compare-and-set (two approvals at once cannot both count as the last one).
--
-- Times are Unix milliseconds (INTEGER). STRICT tables refuse values of the wrong type.

CREATE TABLE operator_roles (
    account_id TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id),
    role       TEXT    NOT NULL
        CONSTRAINT operator_roles_role_check
        CHECK (role IN ('admin', 'ra_officer', 'key_officer', 'auditor')),
    set_at     INTEGER NOT NULL,
    set_by     TEXT    NOT NULL
) STRICT;

-- Operators created before roles existed (the bootstrap operator) become admins.
INSERT INTO operator_roles (account_id, role, set_at, set_by)
SELECT id, 'admin', updated_at, 'migration 7' FROM accounts WHERE role = 'operator';

CREATE TABLE operator_terminals (
    thumbprint    TEXT    NOT NULL PRIMARY KEY,
    account_id    TEXT    NOT NULL REFERENCES accounts (id),
    name          TEXT    NOT NULL,
    registered_at INTEGER NOT NULL,
    registered_by TEXT    NOT NULL,
    revoked_at    INTEGER
) STRICT;

CREATE INDEX operator_terminals_account_idx ON operator_terminals (account_id);

CREATE TABLE workflows (
    kind       TEXT    NOT NULL
        CONSTRAINT workflows_kind_check CHECK (kind IN ('application', 'approval')),
    id         TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    version    INTEGER NOT NULL CONSTRAINT workflows_version_check CHECK (version >= 1),
    body       TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) STRICT;

CREATE INDEX workflows_state_idx ON workflows (kind, state, created_at);
