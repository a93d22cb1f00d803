//! What the store remembers for signing (criteria 2.2.3): signature activation data (SAD) and
//! an index of the signatures made, by digest.
//!
//! A SAD is stored by the SHA-256 of its value, with everything it is bound to; it is used up
//! atomically, once, across every node ([`SigningStore::consume_sad`]). The signature index lets
//! an authorised caller ask whether and when Inkan signed a digest (2.2.3(3)C); the proof itself
//! is the transparency log's receipt, found by the log index kept here. Records only: the rules
//! are the signing module's.

use super::StoreError;
use crate::UnixMillis;

/// Signature activation data: one authorisation to sign listed digests with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SadRecord {
    /// SHA-256 of the SAD value, lowercase hex.
    pub sad_hash: String,
    /// Its public id (`sad_…`), recorded in the log as the approval.
    pub id: String,
    /// The key it activates.
    pub key_id: String,
    /// The account that activated it.
    pub account_id: String,
    /// The session it was created in.
    pub session_id: String,
    /// The digests it allows, in order, each `sha-256:<hex>` (or another algorithm's name).
    pub digests: Vec<String>,
    /// How many signatures it allows (at least one, at most the number of digests).
    pub num_signatures: u32,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it stops working.
    pub expires_at: UnixMillis,
    /// When it was used, if it was.
    pub used_at: Option<UnixMillis>,
    /// The digest of the disclosure a holder approved with it (a presentation's
    /// `disclosureDigest`), if it was given for one: then it signs only that presentation.
    pub disclosure_digest: Option<String>,
}

/// One signature Inkan made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRecord {
    /// The digest that was signed (`sha-256:<hex>`): of the hash given to `signHash`, or of the
    /// whole signing input for documents Inkan built.
    pub digest: String,
    /// The key.
    pub key_id: String,
    /// The key's subscriber.
    pub subscriber: String,
    /// What was signed: `csc.signHash`, `vc+jwt`, `dc+sd-jwt`, …
    pub document_type: String,
    /// The index of the `signature.made` entry in the transparency log.
    pub log_index: u64,
    /// When.
    pub created_at: UnixMillis,
    /// The status list entries (list, index) handed out to the credential signed: bound to
    /// this digest and log index in the transaction that writes the row (issue 16). Not a
    /// column of the index: read back, it is empty (each entry names its credential).
    pub status_entries: Vec<(String, u64)>,
}

/// Signing records. Part of [`super::Store`]; both engines pass the same conformance suite
/// (`tests/signing_store_conformance.rs`).
#[async_trait::async_trait]
pub trait SigningStore: Send + Sync {
    /// Stores a new SAD. `Conflict` on a duplicate hash or id, an unknown key, account or
    /// session, a session that is not the account's, or a `num_signatures` of zero or more than
    /// the digests; nothing is stored then. A SAD is deleted with its session.
    async fn insert_sad(&self, sad: &SadRecord) -> Result<(), StoreError>;

    /// Uses up a SAD, atomically across nodes: if it exists, is unused and `now < expires_at`,
    /// marks it used at `now` and returns it (with `used_at` set). `NotFound` for an unknown
    /// hash; `Conflict` (changing nothing) when it was used already or has expired. Of several
    /// concurrent calls with one hash, at most one succeeds. A stored SAD this version cannot
    /// decode is `Corrupt` (and, on PostgreSQL, used up all the same: it never works).
    async fn consume_sad(&self, sad_hash: &str, now: UnixMillis) -> Result<SadRecord, StoreError>;

    /// Records signatures (one transaction: all or none). `Conflict` on an unknown key or a
    /// `log_index` above `i64::MAX`. Records may share a `log_index` (one `signature.made`
    /// entry lists every digest of a request), and an identical record is stored again.
    async fn insert_signatures(&self, records: &[SignatureRecord]) -> Result<(), StoreError>;

    /// The signatures recorded with this `subscriber` and `digest` (both compared exactly),
    /// oldest first by `created_at`, then in the order recorded; the oldest 100 at most.
    async fn signatures_by_digest(
        &self,
        subscriber: &str,
        digest: &str,
    ) -> Result<Vec<SignatureRecord>, StoreError>;

    /// The log indexes, at or after `from`, that have at least one signature row, ascending
    /// (for rebuilding the index from the log at start, `signing::index::rebuild`).
    async fn indexed_log_indexes(&self, from: u64) -> Result<Vec<u64>, StoreError>;

    /// Deletes SADs that expired before `before` (`expires_at < before`), used or not
    /// (housekeeping). Returns how many.
    async fn purge_sads(&self, before: UnixMillis) -> Result<u64, StoreError>;
}
