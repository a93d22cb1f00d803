-- Inkan store, PostgreSQL, migration 9: the `registry` status source (criteria 2.2.3(1)B).
--
-- Applied once, inside one transaction and under an advisory lock, by src/store/migrate.rs;
-- never edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0009_registry_status.sql.
--
-- Keys no outside status list covers (holders' keys) take the registry's own state as their
-- status source, `registry`, so that outside `test` every signature rests on a status check.
-- Existing keys of holder subscribers without a source get `registry`.

ALTER TABLE key_status_sources DROP CONSTRAINT key_status_sources_kind_check;
ALTER TABLE key_status_sources ADD CONSTRAINT key_status_sources_kind_check
    CHECK (kind IN ('x509', 'bitstring', 'token', 'registry', 'none'));
ALTER TABLE key_status_sources DROP CONSTRAINT key_status_sources_fields_check;
ALTER TABLE key_status_sources ADD CONSTRAINT key_status_sources_fields_check CHECK (
    (kind = 'bitstring' AND url IS NOT NULL AND idx IS NOT NULL AND purpose IS NOT NULL)
    OR (kind = 'token' AND url IS NOT NULL AND idx IS NOT NULL AND purpose IS NULL)
    OR (kind IN ('x509', 'registry', 'none') AND url IS NULL AND idx IS NULL
        AND purpose IS NULL)
);

INSERT INTO key_status_sources (key_id, kind, set_at, set_by)
    SELECT k.id, 'registry', k.updated_at, 'migration 9'
    FROM keys k JOIN subscribers s ON s.id = k.owner
    WHERE s.kind = 'holder'
      AND k.id NOT IN (SELECT key_id FROM key_status_sources);
