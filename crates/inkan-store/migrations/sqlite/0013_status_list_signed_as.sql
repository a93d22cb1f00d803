-- Inkan store, SQLite, migration 13: how a status list is signed and served (issue 16).
--
-- Applied once, inside one transaction, by src/migrate.rs; never edit a migration that has
-- shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0013_status_list_signed_as.sql.
--
-- `signed_as` says what each published version of a list is: `jwt` (a W3C list as
-- `application/vc+jwt`, a token list as `application/statuslist+jwt`), `cwt` (a token list
-- as `application/statuslist+cwt`, for mdocs) or `data-integrity` (a W3C list credential
-- with a Data Integrity proof). Which pairs of `format` and `signed_as` make sense is the
-- server's rule; every list stored before this migration was signed as `jwt`.

ALTER TABLE status_lists ADD COLUMN signed_as TEXT NOT NULL DEFAULT 'jwt'
    CONSTRAINT status_lists_signed_as_check CHECK (signed_as IN ('jwt', 'cwt', 'data-integrity'));
