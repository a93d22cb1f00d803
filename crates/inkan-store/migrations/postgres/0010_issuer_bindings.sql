-- Inkan store, PostgreSQL, migration 10: issuer identifiers bound to keys (criteria
-- 2.2.3(1)A, 2.2.3(2)B-1).
--
-- Applied once, inside one transaction and under an advisory lock, by src/store/migrate.rs;
-- never edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0010_issuer_bindings.sql.
--
-- Read and written by src/store/postgres/issuers.rs (`IssuerStore`, src/store/issuers.rs): an
-- issuer identifier (a `did:web` or an `https` URL) that operators bound to a key under dual
-- control (`issuer.bind`), with the approval request that authorised it.

CREATE TABLE issuer_bindings (
    key_id     TEXT   NOT NULL REFERENCES keys (id),
    identifier TEXT   NOT NULL CONSTRAINT issuer_bindings_identifier_check CHECK (identifier <> ''),
    approval   TEXT   NOT NULL,
    bound_at   BIGINT NOT NULL,
    bound_by   TEXT   NOT NULL,
    PRIMARY KEY (key_id, identifier)
);

CREATE INDEX issuer_bindings_identifier_idx ON issuer_bindings (identifier);
