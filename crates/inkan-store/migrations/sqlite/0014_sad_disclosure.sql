-- Inkan store, SQLite, migration 14: what a holder was shown, bound to the SAD (issue 18).
--
-- Applied once, inside one transaction, by src/migrate.rs; never edit a migration that has
-- shipped: add a new file and list it in migrate.rs. Must stay equivalent to
-- ../postgres/0014_sad_disclosure.sql.
--
-- `disclosure_digest` is the digest of the whole disclosure a holder approved with this SAD
-- (`/v1/holder/prepare`'s `disclosureDigest`: what is disclosed, to whom, with which nonce),
-- carried in the activation data the holder encrypted with the PIN and OTP. A presentation
-- signs only under a SAD whose disclosure digest is the one its document shows; a SAD with
-- one signs nothing else. None for a CSC `signHash` SAD.

ALTER TABLE sads ADD COLUMN disclosure_digest TEXT;
