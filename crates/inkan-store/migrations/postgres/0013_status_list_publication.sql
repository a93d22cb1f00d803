-- Inkan store, PostgreSQL, migration 13: how a status list is signed and served, and which change each entry last had (issue 16).
--
-- Applied once, inside one transaction, by src/migrate.rs; never edit a migration that has
-- shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../sqlite/0013_status_list_publication.sql.
--
-- `signed_as` says what each published version of a list is: `jwt` (a W3C list as
-- `application/vc+jwt`, a token list as `application/statuslist+jwt`), `cwt` (a token list
-- as `application/statuslist+cwt`, for mdocs) or `data-integrity` (a W3C list credential
-- with a Data Integrity proof): `cwt` only for a token list, `data-integrity` only for a W3C
-- list. Every list stored before this migration was signed as `jwt`. `deliver_to` is a
-- delivery destination (`dst_…`) of the list's subscriber that each new version is also
-- pushed to, for issuers who host their lists elsewhere.
--
-- `change_seq` is the list's `changes` count that an entry's last change made: the first
-- published version whose `covers` reaches it is the first that shows the entry's value (the
-- list's history in the evidence pack). Entries changed before this migration have none.

ALTER TABLE status_lists ADD COLUMN signed_as TEXT NOT NULL DEFAULT 'jwt'
    CONSTRAINT status_lists_signed_as_check CHECK (
        signed_as = 'jwt'
        OR (signed_as = 'cwt' AND format = 'token')
        OR (signed_as = 'data-integrity' AND format = 'bitstring')
    );

ALTER TABLE status_lists ADD COLUMN deliver_to TEXT;

ALTER TABLE status_list_entries ADD COLUMN change_seq BIGINT
    CONSTRAINT status_list_entries_change_seq_check CHECK (change_seq > 0);
