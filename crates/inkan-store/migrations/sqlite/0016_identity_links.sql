-- Issue 18 point 5 (criteria 2.2.1(3)): which person an external OpenID provider's subject
-- signs in as. A link is made by an approved dual-control request (`identity_link.add`,
-- named in `approval`), never by a sign-in; one provider's subject is linked to one account.
-- `issuer` is the provider's issuer when the link was made (OpenID Connect Core 1.0 section
-- 5.7: only `iss` and `sub` together name a person): a provider id later pointed at another
-- issuer signs nobody in through the old links.
-- Removing a link ends, in the same transaction, the sessions it started (method
-- `web:oidc:<provider>`). Times are Unix milliseconds.

CREATE TABLE identity_links (
    provider   TEXT    NOT NULL CONSTRAINT identity_links_provider_check CHECK (provider <> ''),
    subject    TEXT    NOT NULL CONSTRAINT identity_links_subject_check CHECK (subject <> ''),
    issuer     TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    approval   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
) STRICT;

CREATE INDEX identity_links_account_idx ON identity_links (account_id);
