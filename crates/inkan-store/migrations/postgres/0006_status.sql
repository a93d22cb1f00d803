-- Inkan store, PostgreSQL, migration 6: key status (criteria 2.2.3(1)B, 2.2.2(3)B).
--
-- Applied once, inside one transaction and under an advisory lock, by src/store/migrate.rs;
-- never edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0006_status.sql (same tables, columns, constraints and indexes).
-- Unqualified names: the tables go to the first schema of the connection's search_path.
--
-- Where each key's status is published (its status source) and what the last check of it
-- found, with the evidence. Read and written by src/store/postgres/status.rs (the `StatusStore`
-- trait in src/store/status.rs). At most one of each per key (the key id is the primary key);
-- both are replaced, never appended.
--
-- Times are Unix milliseconds (BIGINT). Names (kind, purpose, status) are the `as_str`
-- spellings of the Rust types. A source carries exactly the fields its kind needs (the
-- fields CHECK): a Bitstring Status List entry its list URL, index and purpose; a Token Status
-- List reference its `uri` and `idx` (no purpose: one token list says valid, invalid or
-- suspended); `x509` and `none` none of them. The evidence is kept as given (JSON, or the
-- reason of an `unknown`).

CREATE TABLE key_status_sources (
    key_id  TEXT   NOT NULL PRIMARY KEY REFERENCES keys (id),
    kind    TEXT   NOT NULL
        CONSTRAINT key_status_sources_kind_check
        CHECK (kind IN ('x509', 'bitstring', 'token', 'none')),
    url     TEXT   CONSTRAINT key_status_sources_url_check CHECK (url <> ''),
    idx     BIGINT CONSTRAINT key_status_sources_idx_check CHECK (idx >= 0),
    purpose TEXT
        CONSTRAINT key_status_sources_purpose_check
        CHECK (purpose IN ('revocation', 'suspension')),
    set_at  BIGINT NOT NULL,
    set_by  TEXT   NOT NULL,
    CONSTRAINT key_status_sources_fields_check CHECK (
        (kind = 'bitstring' AND url IS NOT NULL AND idx IS NOT NULL AND purpose IS NOT NULL)
        OR (kind = 'token' AND url IS NOT NULL AND idx IS NOT NULL AND purpose IS NULL)
        OR (kind IN ('x509', 'none') AND url IS NULL AND idx IS NULL AND purpose IS NULL)
    )
);

CREATE TABLE key_statuses (
    key_id     TEXT   NOT NULL PRIMARY KEY REFERENCES keys (id),
    status     TEXT   NOT NULL
        CONSTRAINT key_statuses_status_check
        CHECK (status IN ('valid', 'expired', 'revoked', 'suspended', 'unknown')),
    checked_at BIGINT NOT NULL,
    evidence   TEXT
);
