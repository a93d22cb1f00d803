//! Status lists that Inkan keeps for the issuers it signs for (issue 16): each list, and each
//! index of it handed out to a credential with that entry's status.
//!
//! An index is handed out once and never again: the caller proposes indexes chosen at random
//! (herd privacy: an index says nothing about when a credential was issued) and the store takes
//! those no one has taken, atomically, whichever node asks ([`StatusListStore::reserve_status_indexes`]).
//! An entry is never deleted, so an index reserved for a signature that then failed stays
//! taken. A status that is final (a revocation) never changes again.
//!
//! Records only: what a value means (revoked, suspended, a message), who may change it, the
//! write-ahead log of each change and the signed lists published are the server's.

use super::StoreError;
use crate::UnixMillis;

/// What a list is published as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListFormat {
    /// A W3C Bitstring Status List credential (for Data Integrity and `vc+jwt` credentials).
    Bitstring,
    /// An IETF Token Status List (`statuslist+jwt` / `statuslist+cwt`, for SD-JWT VCs and
    /// mdocs).
    Token,
}

impl ListFormat {
    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ListFormat::Bitstring => "bitstring",
            ListFormat::Token => "token",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "bitstring" => Some(ListFormat::Bitstring),
            "token" => Some(ListFormat::Token),
            _ => None,
        }
    }
}

/// How each published version of a list is signed and served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignedAs {
    /// A JWT: `application/vc+jwt` (W3C list) or `application/statuslist+jwt` (token list).
    Jwt,
    /// A CWT: `application/statuslist+cwt` (token list, for mdocs).
    Cwt,
    /// A W3C list credential with a Data Integrity proof.
    DataIntegrity,
}

impl SignedAs {
    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignedAs::Jwt => "jwt",
            SignedAs::Cwt => "cwt",
            SignedAs::DataIntegrity => "data-integrity",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jwt" => Some(SignedAs::Jwt),
            "cwt" => Some(SignedAs::Cwt),
            "data-integrity" => Some(SignedAs::DataIntegrity),
            _ => None,
        }
    }
}

/// A status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListRecord {
    /// `sl_` and random characters.
    pub id: String,
    /// The issuer (subscriber) it belongs to.
    pub owner: String,
    /// The issuer's key that signs it.
    pub key_id: String,
    pub format: ListFormat,
    /// How its versions are signed (which pairs with `format` make sense is the server's rule).
    pub signed_as: SignedAs,
    /// W3C `statusPurpose` (`revocation`, `suspension`, `message`); none for a token list.
    pub purpose: Option<String>,
    /// Bits per entry: W3C `statusSize` (1 unless the purpose is `message`), IETF `bits`;
    /// 1, 2, 4 or 8.
    pub bits: u8,
    /// Entries in the list.
    pub size: u64,
    /// For the `message` purpose, the JSON of the W3C `statusMessage` array.
    pub messages: Option<String>,
    /// How long a verifier may cache the published list.
    pub ttl_ms: i64,
    pub created_at: UnixMillis,
    /// Who created it (a client or account id).
    pub created_by: String,
    /// How many times a value changed (0 when stored; the store counts).
    pub changes: u64,
    /// A delivery destination of the owner (`dst_…`) each new version is pushed to.
    pub deliver_to: Option<String>,
}

/// What a list shows now: its values that are not 0 (by index), and how many changes made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSnapshot {
    pub changes: u64,
    pub values: Vec<(u64, u8)>,
}

/// A signed list as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListVersion {
    pub list_id: String,
    /// From 1, without gaps.
    pub version: u64,
    /// The list's `changes` count it shows.
    pub covers: u64,
    /// `application/vc+jwt`, `application/statuslist+jwt`, ….
    pub media_type: String,
    /// The signed list, as served.
    pub document: String,
    pub valid_from: UnixMillis,
    pub valid_until: UnixMillis,
    /// The write-ahead entry of its signature.
    pub log_index: Option<u64>,
    pub published_at: UnixMillis,
}

/// One index of a list that was handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntryRecord {
    pub list_id: String,
    pub index: u64,
    /// The status value (0: valid, or no message).
    pub value: u8,
    /// The value may no longer change (a revocation).
    pub is_final: bool,
    /// The digest of the credential the index went to, once it is signed.
    pub digest: Option<String>,
    /// The log index of the write-ahead entry of that credential's signature.
    pub log_index: Option<u64>,
    pub reserved_at: UnixMillis,
    /// The last change of `value`, and who made it.
    pub changed_at: Option<UnixMillis>,
    pub changed_by: Option<String>,
    /// The list's change count that the last change made: the first published version that
    /// covers it is the first to show the value.
    pub change_seq: Option<u64>,
}

/// A change of one entry's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub list_id: String,
    pub index: u64,
    pub value: u8,
    /// The new value is final: no later change is accepted.
    pub make_final: bool,
    pub at: UnixMillis,
    /// Who asked (a client or account id).
    pub by: String,
}

/// Status lists in the store.
#[async_trait::async_trait]
pub trait StatusListStore: Send + Sync {
    /// Stores a new list, if its owner keeps fewer than `most` lists (counted and inserted in
    /// one transaction that two creations for one owner, on any node, take in turn).
    /// [`StoreError::Conflict`] for an id that exists, a key that does not, or an owner with
    /// `most` lists already.
    async fn insert_status_list(
        &self,
        list: &StatusListRecord,
        most: u32,
    ) -> Result<(), StoreError>;

    /// The list `id`, if there is one.
    async fn get_status_list(&self, id: &str) -> Result<Option<StatusListRecord>, StoreError>;

    /// The lists of `owner`, oldest first.
    async fn status_lists_of(&self, owner: &str) -> Result<Vec<StatusListRecord>, StoreError>;

    /// Hands out at most `wanted` of `candidates` (indexes the caller chose at random) that
    /// are inside the list and not handed out before, in one statement, and returns them (in
    /// no particular order). Fewer than `wanted` when some were taken: the caller asks again
    /// with other candidates. Concurrent callers, on any node, never get the same index.
    /// [`StoreError::NotFound`] for an unknown list.
    async fn reserve_status_indexes(
        &self,
        list_id: &str,
        candidates: &[u64],
        wanted: usize,
        at: UnixMillis,
    ) -> Result<Vec<u64>, StoreError>;

    /// Sets an entry's value and counts the change in the list (one transaction), and returns
    /// the entry as changed.
    /// [`StoreError::NotFound`] for an index not handed out; [`StoreError::Conflict`] if the
    /// entry's value is final.
    async fn change_status(&self, change: &StatusChange) -> Result<StatusEntryRecord, StoreError>;

    /// The entry at `index` of `list_id`, if it was handed out.
    async fn status_entry(
        &self,
        list_id: &str,
        index: u64,
    ) -> Result<Option<StatusEntryRecord>, StoreError>;

    /// The entries that went to the credential with `digest` (in any of the lists).
    async fn status_entries_by_digest(
        &self,
        digest: &str,
    ) -> Result<Vec<StatusEntryRecord>, StoreError>;

    /// What `list_id` shows now, read in one snapshot: what a published version signs.
    async fn status_snapshot(&self, list_id: &str) -> Result<StatusSnapshot, StoreError>;

    /// Stores `version` if it is the next one of its list (the latest + 1, from 1), covers no
    /// more changes than the list has and no fewer than the latest version: [`StoreError::Conflict`]
    /// otherwise (another node published it first, from a newer state).
    async fn insert_status_list_version(
        &self,
        version: &StatusListVersion,
    ) -> Result<(), StoreError>;

    /// The latest published version of `list_id`, if any.
    async fn latest_status_list_version(
        &self,
        list_id: &str,
    ) -> Result<Option<StatusListVersion>, StoreError>;

    /// The lists to publish at `now` (at most 100, those waiting longest first): never
    /// published, changed since their latest version, or whose latest version is valid until
    /// `renew_at` or earlier; and not held until after `now` ([`claim_status_list`]).
    ///
    /// [`claim_status_list`]: StatusListStore::claim_status_list
    async fn status_lists_to_publish(
        &self,
        renew_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<Vec<StatusListRecord>, StoreError>;

    /// Claims `list_id` for publication at `now` until `until`, in one conditional statement:
    /// `false` if another node holds it (or it waits after a failure) until after `now`.
    async fn claim_status_list(
        &self,
        list_id: &str,
        now: UnixMillis,
        until: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Holds `list_id` back from publication until `until` (after a failed try).
    async fn hold_status_list(&self, list_id: &str, until: UnixMillis) -> Result<(), StoreError>;

    /// How many indexes of `list_id` were handed out.
    async fn reserved_status_count(&self, list_id: &str) -> Result<u64, StoreError>;

    /// The entries of `list_id` whose value was ever changed, from index `from` on, at most
    /// `limit`, by index (the list's history, for the evidence pack).
    async fn changed_status_entries(
        &self,
        list_id: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StatusEntryRecord>, StoreError>;

    /// The published versions of `list_id` from version `from` on, at most `limit`, oldest
    /// first.
    async fn status_list_versions(
        &self,
        list_id: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StatusListVersion>, StoreError>;
}
