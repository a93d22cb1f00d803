-- Inkan store, SQLite, migration 5: delivery and retention of signed documents (criteria
-- 2.2.3(3)A, B).
--
-- Applied once, inside one transaction, by src/store/migrate.rs; never edit a migration that
-- has shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0005_delivery.sql (same tables, columns, constraints and indexes).
--
-- Destinations registered for subscribers, the outbox of deliveries to them, and the documents
-- kept under the retention policy. Read and written by src/store/sqlite/delivery.rs (the
-- `DeliveryStore` trait in src/store/delivery.rs).
--
-- Times are Unix milliseconds (INTEGER). Documents are stored sealed (AES-256-GCM, by the
-- delivery module), never in the clear; a delivery drops its document when it ends (the CHECK
-- says so), keeping only the digest. A delivery's destination must be its subscriber's: the
-- pair names one destination row (the unique constraint on (id, subscriber) is what the foreign
-- key refers to). A pending delivery holds a lease only together with its claim token.
-- STRICT tables refuse values of the wrong type.

CREATE TABLE delivery_destinations (
    id          TEXT    NOT NULL PRIMARY KEY,
    subscriber  TEXT    NOT NULL REFERENCES subscribers (id),
    url         TEXT    NOT NULL
        CONSTRAINT delivery_destinations_url_check
        CHECK (substr(url, 1, 8) = 'https://' AND length(url) <= 2048),
    created_at  INTEGER NOT NULL,
    CONSTRAINT delivery_destinations_id_subscriber_unique UNIQUE (id, subscriber),
    CONSTRAINT delivery_destinations_url_unique UNIQUE (subscriber, url)
) STRICT;

CREATE TABLE deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    subscriber      TEXT    NOT NULL,
    destination_id  TEXT    NOT NULL,
    document_type   TEXT    NOT NULL,
    document        BLOB,
    document_digest TEXT    NOT NULL,
    log_index       INTEGER NOT NULL CONSTRAINT deliveries_log_index_check CHECK (log_index >= 0),
    state           TEXT    NOT NULL
        CONSTRAINT deliveries_state_check CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL CONSTRAINT deliveries_attempts_check CHECK (attempts >= 0),
    last_error      TEXT,
    next_attempt_at INTEGER NOT NULL,
    claim           TEXT,
    lease_until     INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    CONSTRAINT deliveries_destination_fkey FOREIGN KEY (destination_id, subscriber)
        REFERENCES delivery_destinations (id, subscriber),
    CONSTRAINT deliveries_document_check
        CHECK ((state = 'pending') = (document IS NOT NULL)),
    CONSTRAINT deliveries_delivered_check
        CHECK ((state = 'delivered') = (delivered_at IS NOT NULL)),
    CONSTRAINT deliveries_lease_check
        CHECK ((claim IS NULL) = (lease_until IS NULL) AND (state = 'pending' OR claim IS NULL))
) STRICT;

CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_destination_idx ON deliveries (destination_id, subscriber);

CREATE TABLE retained_documents (
    id            TEXT    NOT NULL PRIMARY KEY,
    subscriber    TEXT    NOT NULL REFERENCES subscribers (id),
    key_id        TEXT    NOT NULL REFERENCES keys (id),
    document_type TEXT    NOT NULL,
    document      BLOB    NOT NULL,
    log_index     INTEGER NOT NULL
        CONSTRAINT retained_documents_log_index_check CHECK (log_index >= 0),
    created_at    INTEGER NOT NULL,
    purge_at      INTEGER NOT NULL
        CONSTRAINT retained_documents_purge_check CHECK (purge_at > created_at)
) STRICT;

CREATE INDEX retained_documents_purge_idx ON retained_documents (purge_at);
