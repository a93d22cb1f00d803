-- Inkan store, PostgreSQL, migration 11: the cache epoch (issue 17).
--
-- Applied once, inside one transaction and under an advisory lock, by src/migrate.rs; never
-- edit a migration that has shipped: add a new file and list it in migrate.rs. Must stay
-- equivalent to ../sqlite/0011_cache_epoch.sql.
--
-- A node may answer a signing request's key, status-source and (for a system client's
-- certificate-bound session) token and session reads from memory, tagged with the epoch they
-- were read at; the log batch that carries the request's write-ahead entry reads
-- the epoch again (`FOR SHARE`, so a change that moves it commits before that read or after the
-- batch), and a request whose tag is not the batch's is checked from the store again before
-- anything is signed (inkan-server `signing`). Every change of what those reads return moves
-- the epoch, by trigger (once per statement), so no code path can change a key, its
-- certificates, its status source, a token or what a session stands for without it. Not
-- watched: a session's `last_seen_at` (it changes every second of use: a node checks the idle
-- timeout against its own touches and decides any refusal from the store) and a refresh
-- token's `used_at` (set by a rotation; it decides nothing about an access token, and a reuse
-- revokes the session). Never
-- decreases; not part of a backup.

CREATE TABLE cache_epoch (
    id    INTEGER NOT NULL PRIMARY KEY CONSTRAINT cache_epoch_id_check CHECK (id = 1),
    value BIGINT  NOT NULL CONSTRAINT cache_epoch_value_check CHECK (value >= 0)
);

INSERT INTO cache_epoch (id, value) VALUES (1, 0);

CREATE FUNCTION inkan_cache_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_epoch SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER keys_epoch AFTER UPDATE OR DELETE ON keys
    FOR EACH STATEMENT EXECUTE FUNCTION inkan_cache_epoch_bump();
CREATE TRIGGER key_certificates_epoch AFTER INSERT OR UPDATE OR DELETE ON key_certificates
    FOR EACH STATEMENT EXECUTE FUNCTION inkan_cache_epoch_bump();
CREATE TRIGGER key_status_sources_epoch AFTER INSERT OR UPDATE OR DELETE ON key_status_sources
    FOR EACH STATEMENT EXECUTE FUNCTION inkan_cache_epoch_bump();
CREATE TRIGGER tokens_epoch AFTER UPDATE OF token_hash, session_id, kind, expires_at OR DELETE
    ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION inkan_cache_epoch_bump();
CREATE TRIGGER sessions_epoch AFTER UPDATE OF
    revoked_at, revoked_reason, expires_at, scope, jkt, x5t, method, subscriber, account_id,
    client_id OR DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION inkan_cache_epoch_bump();
