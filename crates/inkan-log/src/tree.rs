//! The stored-hashes layout of the Merkle tree, and proofs.
//!
//! Stored hash `stored_hash_index(level, n)` is the hash of the complete subtree of `2^level`
//! leaves starting at leaf `n * 2^level`. Appending leaf `n` stores its leaf hash and the
//! hashes of every complete subtree it completes, so stored hashes only ever grow and are
//! never rewritten: append is O(log n).

use crate::{Hash, LogError};

/// Reads stored hashes by index. Implementations return them in the order asked.
pub trait HashReader {
    /// The hashes at `indexes`, in that order; [`LogError::MissingHash`] if one is absent.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError>;
}

impl HashReader for std::collections::HashMap<u64, Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes.iter().map(|i| self.get(i).copied().ok_or(LogError::MissingHash(*i))).collect()
    }
}

/// The index of the stored hash of the subtree at `level` numbered `n`.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    todo!("helper L1")
}

/// How many stored hashes a tree of `size` leaves has.
pub fn stored_hash_count(size: u64) -> u64 {
    todo!("helper L1")
}

/// The stored hashes [`hashes_to_store`] reads to append leaf `n`.
pub fn indexes_for_append(n: u64) -> Vec<u64> {
    todo!("helper L1")
}

/// The stored hashes to add when appending leaf number `n` (the tree had `n` leaves), in index
/// order starting at `stored_hash_count(n)`.
pub fn hashes_to_store(n: u64, leaf: Hash, read: &dyn HashReader) -> Result<Vec<Hash>, LogError> {
    todo!("helper L1")
}

/// The stored hashes [`tree_hash`] reads for a tree of `size` leaves.
pub fn tree_hash_indexes(size: u64) -> Vec<u64> {
    todo!("helper L1")
}

/// The root hash of the tree of `size` leaves.
pub fn tree_hash(size: u64, read: &dyn HashReader) -> Result<Hash, LogError> {
    todo!("helper L1")
}

/// The stored hashes [`inclusion_proof`] reads.
pub fn inclusion_proof_indexes(size: u64, index: u64) -> Result<Vec<u64>, LogError> {
    todo!("helper L1")
}

/// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(size: u64, index: u64, read: &dyn HashReader) -> Result<Vec<Hash>, LogError> {
    todo!("helper L1")
}

/// The stored hashes [`consistency_proof`] reads.
pub fn consistency_proof_indexes(old_size: u64, size: u64) -> Result<Vec<u64>, LogError> {
    todo!("helper L1")
}

/// The RFC 9162 consistency proof between the trees of `old_size` and `size` leaves.
pub fn consistency_proof(old_size: u64, size: u64, read: &dyn HashReader) -> Result<Vec<Hash>, LogError> {
    todo!("helper L1")
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), LogError> {
    todo!("helper L1")
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    old_root: &Hash,
    size: u64,
    root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    todo!("helper L1")
}
