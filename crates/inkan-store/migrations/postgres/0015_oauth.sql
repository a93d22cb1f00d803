-- Inkan store, PostgreSQL, migration 15: the CSC OAuth2 authorization server (issue 18).
--
-- Applied once, inside one transaction, by src/migrate.rs; never edit a migration that has
-- shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../sqlite/0015_oauth.sql.
--
-- `oauth_clients` are the signing applications registered under dual control
-- (`oauth_client.register`, the approval request in `approval`): a user is sent back only to
-- one of their `redirect_uris` (a JSON array, compared exactly). A client is never deleted;
-- `revoked_at` ends it.
--
-- `oauth_requests` are authorization requests (RFC 6749 section 4.1, PKCE S256 RFC 7636,
-- pushed ones RFC 9126), each for `scope` `service` (sign-in) or `credential` (one key and
-- listed hashes: `credential`, the JSON of what the consent page shows and the SAD covers).
-- One person decides a request once (`decision`, by `account_id` in the browser session
-- `session_id`); an approval stores the authorization code's SHA-256 (`code_hash`), and the
-- code is exchanged once (`exchanged_at`, one conditional UPDATE) for a session
-- (`granted_session`, no foreign key: sessions are purged), which ends with its client.
--
-- `passkeys` are a person's WebAuthn credentials (issue 18 point 4): the credential id and
-- public key (COSE_Key, both base64url), the COSE algorithm, a name the person gave it, the
-- authenticator's signature counter (an assertion must raise it, unless the authenticator keeps
-- none: 0 and 0), the backup flags as bits (1 eligible, 2 backed up), the authenticator model
-- (AAGUID) and the attestation format as given.
--
-- Times are Unix milliseconds.

CREATE TABLE oauth_clients (
    id            TEXT    NOT NULL PRIMARY KEY CONSTRAINT oauth_clients_id_check CHECK (id <> ''),
    name          TEXT    NOT NULL,
    redirect_uris TEXT    NOT NULL,
    approval      TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE oauth_requests (
    id              TEXT    NOT NULL PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES oauth_clients (id),
    redirect_uri    TEXT    NOT NULL,
    state           TEXT,
    code_challenge  TEXT    NOT NULL,
    scope           TEXT    NOT NULL
        CONSTRAINT oauth_requests_scope_check CHECK (scope IN ('service', 'credential')),
    credential      TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    account_id      TEXT    REFERENCES accounts (id),
    session_id      TEXT,
    decision        TEXT
        CONSTRAINT oauth_requests_decision_check CHECK (decision IN ('approved', 'denied')),
    decided_at      BIGINT,
    code_hash       TEXT    UNIQUE,
    code_expires_at BIGINT,
    exchanged_at    BIGINT,
    granted_session TEXT,
    CONSTRAINT oauth_requests_credential_check
        CHECK ((scope = 'credential') = (credential IS NOT NULL)),
    CONSTRAINT oauth_requests_code_check
        CHECK ((code_hash IS NULL) OR (decision = 'approved' AND code_expires_at IS NOT NULL))
);

CREATE INDEX oauth_requests_expires_idx ON oauth_requests (expires_at);

CREATE TABLE passkeys (
    id                 TEXT    NOT NULL PRIMARY KEY,
    account_id         TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id      TEXT    NOT NULL UNIQUE,
    public_key         TEXT    NOT NULL,
    algorithm          BIGINT NOT NULL,
    name               TEXT    NOT NULL,
    sign_count         BIGINT NOT NULL,
    backup             BIGINT NOT NULL,
    aaguid             TEXT    NOT NULL,
    attestation_format TEXT    NOT NULL,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT
);

CREATE INDEX passkeys_account_idx ON passkeys (account_id);
