-- Inkan store, SQLite, migration 11: the cache epoch (issue 17).
--
-- Applied once, inside one transaction, by src/migrate.rs; never edit a migration that has
-- shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0011_cache_epoch.sql.
--
-- A node may answer a signing request's key, status-source and (for a system client's
-- certificate-bound session) token and session reads from memory, tagged with the epoch they
-- were read at; the log batch that carries the request's write-ahead entry reads the epoch
-- again, and a request whose tag is not the batch's is checked from the store again before
-- anything is signed (inkan-server `signing`). Every change of what those reads return moves
-- the epoch, by trigger, so no code path can change a key, its certificates, its status
-- source, a token or what a session stands for without it. Not watched: a session's
-- `last_seen_at` (it changes every second of use: a node checks the idle timeout against its
-- own touches and decides any refusal from the store) and a refresh token's `used_at` (set by
-- a rotation; it decides nothing about an access token, and a reuse revokes the session). Never decreases; not part of a backup (a
-- restore fills a new store).

CREATE TABLE cache_epoch (
    id    INTEGER NOT NULL PRIMARY KEY CONSTRAINT cache_epoch_id_check CHECK (id = 1),
    value INTEGER NOT NULL CONSTRAINT cache_epoch_value_check CHECK (value >= 0)
) STRICT;

INSERT INTO cache_epoch (id, value) VALUES (1, 0);

CREATE TRIGGER keys_update_epoch AFTER UPDATE ON keys
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER keys_delete_epoch AFTER DELETE ON keys
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER key_certificates_insert_epoch AFTER INSERT ON key_certificates
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER key_certificates_update_epoch AFTER UPDATE ON key_certificates
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER key_certificates_delete_epoch AFTER DELETE ON key_certificates
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER key_status_sources_insert_epoch AFTER INSERT ON key_status_sources
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER key_status_sources_update_epoch AFTER UPDATE ON key_status_sources
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER key_status_sources_delete_epoch AFTER DELETE ON key_status_sources
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_update_epoch AFTER UPDATE OF token_hash, session_id, kind, expires_at
    ON tokens
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_delete_epoch AFTER DELETE ON tokens
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER sessions_update_epoch AFTER UPDATE OF
    revoked_at, revoked_reason, expires_at, scope, jkt, x5t, method, subscriber, account_id,
    client_id ON sessions
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER sessions_delete_epoch AFTER DELETE ON sessions
BEGIN UPDATE cache_epoch SET value = value + 1 WHERE id = 1; END;
