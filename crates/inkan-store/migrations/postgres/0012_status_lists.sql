-- Inkan store, PostgreSQL, migration 12: status lists that Inkan keeps for issuers (issue 16).
--
-- Applied once, inside one transaction and under an advisory lock, by src/migrate.rs; never
-- edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0012_status_lists.sql (same tables, columns, constraints and
-- indexes).
--
-- A status list belongs to one issuer (`owner`, a subscriber) and is signed by one of its keys
-- (`key_id`). `format` says what is published: a W3C Bitstring Status List (`bitstring`, with a
-- `purpose` and, for `message`, its `messages` as the JSON of `statusMessage`) or an IETF
-- Token Status List (`token`, no purpose). `bits` is the size of one entry (W3C `statusSize`,
-- IETF `bits`: 1, 2, 4 or 8), `size` the number of entries.
--
-- An entry exists once its index is handed out (`status_list_entries`): indexes are chosen at
-- random by the caller and taken here, so the primary key alone guarantees that no index is
-- handed out twice, whichever node asks; an entry is never deleted (an index is never reused,
-- even when the signature it was reserved for failed). `value` is the entry's status (0: valid
-- or no message), `is_final` is set when the value may no longer change (a revocation), `digest`
-- and `log_index` name the credential and the write-ahead entry that the index went to, once
-- known. `changes` counts the changes of values, so that a published version says which
-- changes it shows (`covers`). `publish_after` is when a node may next try to publish the list:
-- a node claims a list by moving it ahead (one conditional `UPDATE`, so one node signs a given
-- round), and a list whose publication failed waits longer before the next try.
--
-- `status_list_versions` holds each signed list as published (`document`, of `media_type`),
-- numbered from 1 without gaps: a version is stored only as the next one, so two nodes never
-- publish the same version twice, and the public URL serves the latest. `log_index` is the
-- write-ahead entry of its signature.
--
-- Times are Unix milliseconds (BIGINT).

CREATE TABLE status_lists (
    id         TEXT    NOT NULL PRIMARY KEY CONSTRAINT status_lists_id_check CHECK (id <> ''),
    owner      TEXT    NOT NULL,
    key_id     TEXT    NOT NULL REFERENCES keys (id),
    format     TEXT    NOT NULL
        CONSTRAINT status_lists_format_check CHECK (format IN ('bitstring', 'token')),
    purpose    TEXT
        CONSTRAINT status_lists_purpose_check
        CHECK (purpose IN ('revocation', 'suspension', 'message')),
    bits       BIGINT  NOT NULL CONSTRAINT status_lists_bits_check CHECK (bits IN (1, 2, 4, 8)),
    size       BIGINT  NOT NULL
        CONSTRAINT status_lists_size_check CHECK (size > 0 AND size <= 16777216),
    messages   TEXT,
    ttl_ms     BIGINT  NOT NULL CONSTRAINT status_lists_ttl_check CHECK (ttl_ms > 0),
    created_at BIGINT  NOT NULL,
    created_by TEXT    NOT NULL,
    changes    BIGINT  NOT NULL DEFAULT 0 CONSTRAINT status_lists_changes_check CHECK (changes >= 0),
    publish_after BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT status_lists_fields_check CHECK (
        (format = 'bitstring' AND purpose IS NOT NULL
            AND (messages IS NOT NULL) = (purpose = 'message')
            AND (purpose = 'message' OR bits = 1))
        OR (format = 'token' AND purpose IS NULL AND messages IS NULL)
    )
);

CREATE INDEX status_lists_owner ON status_lists (owner, created_at);

CREATE TABLE status_list_entries (
    list_id     TEXT    NOT NULL REFERENCES status_lists (id),
    idx         BIGINT  NOT NULL CONSTRAINT status_list_entries_idx_check CHECK (idx >= 0),
    value       BIGINT  NOT NULL DEFAULT 0
        CONSTRAINT status_list_entries_value_check CHECK (value >= 0 AND value <= 255),
    is_final    BIGINT  NOT NULL DEFAULT 0
        CONSTRAINT status_list_entries_final_check CHECK (is_final IN (0, 1)),
    digest      TEXT,
    log_index   BIGINT  CONSTRAINT status_list_entries_log_index_check CHECK (log_index >= 0),
    reserved_at BIGINT  NOT NULL,
    changed_at  BIGINT,
    changed_by  TEXT,
    PRIMARY KEY (list_id, idx)
);

CREATE INDEX status_list_entries_digest ON status_list_entries (digest) WHERE digest IS NOT NULL;

CREATE TABLE status_list_versions (
    list_id      TEXT    NOT NULL REFERENCES status_lists (id),
    version      BIGINT  NOT NULL CONSTRAINT status_list_versions_version_check CHECK (version >= 1),
    covers       BIGINT  NOT NULL CONSTRAINT status_list_versions_covers_check CHECK (covers >= 0),
    media_type   TEXT    NOT NULL,
    document     TEXT    NOT NULL CONSTRAINT status_list_versions_document_check CHECK (document <> ''),
    valid_from   BIGINT  NOT NULL,
    valid_until  BIGINT  NOT NULL,
    log_index    BIGINT  CONSTRAINT status_list_versions_log_index_check CHECK (log_index >= 0),
    published_at BIGINT  NOT NULL,
    CONSTRAINT status_list_versions_validity_check CHECK (valid_until > valid_from),
    PRIMARY KEY (list_id, version)
);
