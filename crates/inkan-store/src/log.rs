//! The transparency log's records, and the tree arithmetic both engines share.
//!
//! The store keeps the log in the "stored hashes" layout of `inkan_log::tree`: entries
//! (opaque bytes, the canonical `inkan_log::entry::Entry` encodings, numbered from 0), the hash
//! of every complete subtree, one head (size and root) and the signed checkpoints. An append
//! is one transaction under the log's write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL an
//! advisory lock, so several nodes take turns integrating the tree): read the size, fetch only
//! the stored hashes the new leaves need (`hashes_needed`), compute the new hashes and root
//! (`integrate`), write entries, hashes and head, commit.
//!
//! A group commit may carry more than entries ([`LogBatch`]): the signature index rows of the
//! `signature.made` entries it appends, written in the same transaction (so a signature in the
//! log is never without its index rows), and the keys whose state the signing module must see
//! as it stands once the batch's write-ahead entries are committed (read in the same
//! transaction, after the append, so a key closed before its own log entry is seen closed by
//! every request logged after that entry).
//!
//! This module owns the arithmetic between "what is stored" and "what to store"; the SQL is in
//! `sql/log.rs`. Must never: rewrite or delete a stored entry, hash or
//! checkpoint (the tables are append-only; triggers refuse it too), or interpret the entry
//! bytes (that is `inkan_log`'s).

use super::StoreError;
use crate::UnixMillis;
use inkan_log::Hash;
use inkan_log::tree::{
    hashes_to_store, indexes_for_append, stored_hash_count, tree_hash, tree_hash_indexes,
};
use std::collections::{BTreeSet, HashMap};

/// Most entries [`Store::log_entries`](super::Store::log_entries) returns at once.
pub const MAX_ENTRIES_PAGE: u32 = 10_000;

/// Most checkpoints [`Store::checkpoints`](super::Store::checkpoints) returns at once.
pub const MAX_CHECKPOINTS_PAGE: u32 = 1_000;

/// How many values one SQL statement carries at most (entries or hashes written, hashes read);
/// longer lists are split into several statements of the same transaction.
pub(crate) const STATEMENT_CHUNK: usize = 1_024;

/// The log as the last committed append left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHead {
    /// How many entries the log holds.
    pub size: u64,
    /// The RFC 9162 root hash of those entries.
    pub root: Hash,
}

/// What one append committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The index of the first entry of the batch; the others follow contiguously.
    pub first_index: u64,
    /// The log after the append.
    pub head: LogHead,
}

/// What one group commit writes, in one transaction ([`Store::append_log_batch`]).
///
/// [`Store::append_log_batch`]: super::Store::append_log_batch
#[derive(Debug, Default)]
pub struct LogBatch {
    /// The entries, numbered in this order.
    pub entries: Vec<Vec<u8>>,
    /// Signature index rows, each with the position in `entries` of its `signature.made`
    /// entry; the store sets `log_index` from that position.
    pub signatures: Vec<(usize, super::SignatureRecord)>,
    /// Keys whose state to read after the append, in the same transaction.
    pub keys: Vec<super::KeyId>,
    /// Who signs a checkpoint of the tree the batch makes, stored in the same transaction, so
    /// that the batch's entries have their receipts at once; none: no checkpoint.
    pub checkpoint: Option<std::sync::Arc<dyn CheckpointSigner>>,
}

/// Signs the checkpoint a batch carries ([`LogBatch::checkpoint`]). Called inside the batch's
/// transaction, under the log's lock, with the size and root of the tree the batch makes:
/// computed from the hashes stored before it and those it adds, so they are the stored tree's
/// once it commits.
#[async_trait::async_trait]
pub trait CheckpointSigner: Send + Sync + std::fmt::Debug {
    /// The signed note for the tree of `size` leaves with root `root`, and the time to store
    /// with it. On an error the batch commits without a checkpoint.
    async fn sign(&self, size: u64, root: Hash) -> Result<(String, UnixMillis), String>;
}

/// What [`LogBatch`] committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCommitted {
    /// The entries' place in the log.
    pub appended: Appended,
    /// The stored hashes the append added, from stored-hash index
    /// `inkan_log::tree::stored_hash_count(appended.first_index)` on.
    pub hashes: Vec<Hash>,
    /// The state and device handle of each key asked for that exists, as committed.
    pub keys: HashMap<super::KeyId, (super::KeyState, String)>,
    /// The checkpoint stored with the batch, if it asked for one and it could be signed.
    pub checkpoint: Option<StoredCheckpoint>,
    /// The cache epoch as the batch's transaction saw it, read under a lock that a change
    /// moving it waits for (none for a batch without entries).
    pub epoch: Option<u64>,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it commits to (at most one checkpoint per size).
    pub size: u64,
    /// The signed note, as signed (C2SP `tlog-checkpoint` body and signature lines).
    pub note: String,
    /// When it was stored.
    pub created_at: UnixMillis,
}

/// The stored hashes (all below `stored_hash_count(size)`, i.e. already in the store) that
/// appending `count` leaves to a tree of `size` leaves and computing the new root read, sorted
/// and without repeats. Hashes computed earlier in the same batch are not listed.
pub(crate) fn hashes_needed(size: u64, count: u64) -> Result<Vec<u64>, StoreError> {
    let stored = stored_hash_count(size);
    let end = size
        .checked_add(count)
        .ok_or_else(|| StoreError::Conflict("the log would exceed 2^64 entries".into()))?;
    let mut needed = BTreeSet::new();
    for n in size..end {
        needed.extend(indexes_for_append(n).into_iter().filter(|i| *i < stored));
    }
    needed.extend(tree_hash_indexes(end).into_iter().filter(|i| *i < stored));
    Ok(needed.into_iter().collect())
}

/// What an append writes: the hashes to add (contiguous from `stored_hash_count(size)`) and
/// the new root.
#[derive(Debug)]
pub(crate) struct Integrated {
    /// The new stored hashes, in index order from `stored_hash_count(size)`.
    pub(crate) hashes: Vec<Hash>,
    /// The root of the tree of `size + entries.len()` leaves.
    pub(crate) root: Hash,
}

/// Integrates `entries` into the tree of `size` leaves; `known` holds (at least) the hashes
/// [`hashes_needed`] listed, as fetched from the store.
pub(crate) fn integrate(
    size: u64,
    entries: &[Vec<u8>],
    mut known: HashMap<u64, Hash>,
) -> Result<Integrated, StoreError> {
    let mut hashes = Vec::with_capacity(entries.len() * 2);
    let mut next_index = stored_hash_count(size);
    let mut n = size;
    for entry in entries {
        let leaf = inkan_log::hash::leaf_hash(entry);
        let new = hashes_to_store(n, leaf, &known).map_err(tree_error)?;
        for hash in new {
            known.insert(next_index, hash);
            hashes.push(hash);
            next_index += 1;
        }
        n += 1;
    }
    let root = tree_hash(n, &known).map_err(tree_error)?;
    Ok(Integrated { hashes, root })
}

/// A tree computation over stored data failed: the stored hashes do not fit the stored size.
fn tree_error(error: inkan_log::LogError) -> StoreError {
    StoreError::Corrupt(format!("log tree: {error}"))
}

/// A log position as the engines store it (signed 64-bit).
pub(crate) fn to_db(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Conflict(format!("log position {value} is out of range")))
}

/// A log position read back; negative is corrupt (the schema's CHECKs forbid it).
pub(crate) fn from_db(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("negative {what}: {value}")))
}

/// A stored hash read back; anything but 32 bytes is corrupt.
pub(crate) fn hash_from_db(bytes: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::try_from(bytes).map_err(|_| {
        StoreError::Corrupt(format!(
            "{what} is {} bytes, not a 32-byte hash",
            bytes.len()
        ))
    })
}

/// Puts hashes read by index back in the order asked; a missing one is [`StoreError::NotFound`].
pub(crate) fn in_order(
    indexes: &[u64],
    found: &HashMap<u64, Hash>,
) -> Result<Vec<Hash>, StoreError> {
    indexes
        .iter()
        .map(|i| {
            found
                .get(i)
                .copied()
                .ok_or_else(|| StoreError::NotFound(format!("stored log hash {i}")))
        })
        .collect()
}

/// Checks that rows read as a page of entries are exactly `from, from + 1, …`.
pub(crate) fn check_contiguous(from: u64, indexes: &[u64]) -> Result<(), StoreError> {
    for (offset, index) in indexes.iter().enumerate() {
        let expected = from + offset as u64;
        if *index != expected {
            return Err(StoreError::Corrupt(format!(
                "log entry {expected} is missing (the next stored entry is {index})"
            )));
        }
    }
    Ok(())
}

/// Refuses a checkpoint the log cannot take: for more entries than it holds, or not newer than
/// the latest one (at most one checkpoint per size; sizes never go back).
pub(crate) fn check_checkpoint(
    size: u64,
    log_size: u64,
    latest: Option<u64>,
) -> Result<(), StoreError> {
    if size > log_size {
        return Err(StoreError::Conflict(format!(
            "a checkpoint for size {size}, but the log holds {log_size} entries"
        )));
    }
    match latest {
        Some(latest) if size <= latest => Err(StoreError::Conflict(format!(
            "a checkpoint for size {size}, but one for size {latest} is already stored"
        ))),
        _ => Ok(()),
    }
}
