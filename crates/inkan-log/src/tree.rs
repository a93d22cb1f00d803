//! The stored-hashes layout of the Merkle tree, and proofs.
//!
//! Stored hash `stored_hash_index(level, n)` is the hash of the complete subtree of `2^level`
//! leaves starting at leaf `n * 2^level`. Appending leaf `n` stores its leaf hash and the
//! hashes of every complete subtree it completes, so stored hashes only ever grow and are
//! never rewritten: append is O(log n).
//!
//! Hashes are numbered in the order appends create them: appending leaf `n` writes its leaf
//! hash (level 0), then the level-1 subtree it completes (if `n` is odd), then level 2, and
//! so on, `trailing_ones(n) + 1` hashes in all. A tree of `size` leaves therefore holds
//! exactly `2 * size - popcount(size)` stored hashes, indexes `0..stored_hash_count(size)`.
//!
//! Any hash the RFC 9162 recursion needs (a tree head, a proof element) is the hash of a leaf
//! range whose binary decomposition is a handful of complete, aligned subtrees; it is
//! computed by folding their stored hashes right to left. Tree heads and proofs for any
//! earlier size remain computable, because nothing is ever rewritten.
//!
//! This module owns the layout, tree heads, inclusion and consistency proofs (RFC 9162
//! §2.1.3, §2.1.4) and their verification. It never stores anything itself (apart from the
//! in-memory [`MemoryTree`] used by the offline verifier and tests) and never does I/O: a
//! store fetches the indexes an `*_indexes` function names and hands them back through a
//! [`HashReader`].

use crate::LogError;
use crate::hash::{Hash, node_hash};

/// The largest tree size the functions here accept (2^62 leaves), so index arithmetic can
/// never overflow.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Reads stored hashes by index. Implementations return them in the order asked.
pub trait HashReader {
    /// The hashes at `indexes`, in that order; [`LogError::MissingHash`] if one is absent.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError>;
}

impl HashReader for std::collections::HashMap<u64, Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|i| self.get(i).copied().ok_or(LogError::MissingHash(*i)))
            .collect()
    }
}

/// A vector holding stored hash `i` at position `i`.
impl HashReader for Vec<Hash> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|p| self.get(p))
                    .copied()
                    .ok_or(LogError::MissingHash(i))
            })
            .collect()
    }
}

/// The index of the stored hash of the subtree at `level` numbered `n`.
///
/// The subtree's last leaf is `m = (n + 1) * 2^level - 1`; before appending `m` the tree held
/// `stored_hash_count(m)` hashes, and appending `m` writes levels `0..=level` in order. For
/// arguments outside a tree of [`MAX_TREE_SIZE`] leaves the result saturates at `u64::MAX`.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    let last_leaf = n
        .checked_add(1)
        .and_then(|v| {
            if level >= 64 {
                None
            } else {
                v.checked_mul(1u64 << level)
            }
        })
        .and_then(|v| v.checked_sub(1));
    match last_leaf {
        Some(m) if m < MAX_TREE_SIZE => stored_hash_count(m) + u64::from(level),
        _ => u64::MAX,
    }
}

/// How many stored hashes a tree of `size` leaves has.
///
/// Saturates at `u64::MAX` above [`MAX_TREE_SIZE`].
pub fn stored_hash_count(size: u64) -> u64 {
    if size > MAX_TREE_SIZE {
        return u64::MAX;
    }
    2 * size - u64::from(size.count_ones())
}

/// The stored hashes [`hashes_to_store`] reads to append leaf `n`.
///
/// Leaf `n` completes one subtree per trailing one bit of `n`; completing the subtree at
/// level `l` needs the stored hash of its left half (level `l - 1`).
pub fn indexes_for_append(n: u64) -> Vec<u64> {
    let completes = n.trailing_ones() as u8;
    (1..=completes)
        .map(|level| stored_hash_index(level - 1, (n >> (level - 1)) - 1))
        .collect()
}

/// The stored hashes to add when appending leaf number `n` (the tree had `n` leaves), in index
/// order starting at `stored_hash_count(n)`.
pub fn hashes_to_store(n: u64, leaf: Hash, read: &dyn HashReader) -> Result<Vec<Hash>, LogError> {
    if n >= MAX_TREE_SIZE {
        return Err(LogError::InvalidRequest(format!(
            "leaf {n} is beyond the maximum tree size"
        )));
    }
    let lefts = read.read_hashes(&indexes_for_append(n))?;
    let expected = n.trailing_ones() as usize;
    if lefts.len() != expected {
        return Err(LogError::InvalidRequest(format!(
            "hash reader returned {} hashes, {expected} asked",
            lefts.len()
        )));
    }
    let mut out = Vec::with_capacity(expected + 1);
    let mut h = leaf;
    out.push(h);
    for left in &lefts {
        h = node_hash(left, &h);
        out.push(h);
    }
    Ok(out)
}

/// The stored hashes [`tree_hash`] reads for a tree of `size` leaves.
pub fn tree_hash_indexes(size: u64) -> Vec<u64> {
    if size > MAX_TREE_SIZE {
        return Vec::new();
    }
    let mut out = Vec::new();
    cover(0, size, &mut out);
    out
}

/// The root hash of the tree of `size` leaves.
pub fn tree_hash(size: u64, read: &dyn HashReader) -> Result<Hash, LogError> {
    check_size(size)?;
    if size == 0 {
        return Ok(crate::hash::empty_root());
    }
    let plan = Plan::new(&[(0, size)]);
    let mut hashes = plan.compute(read)?;
    hashes.pop().ok_or(LogError::MissingHash(0))
}

/// The stored hashes [`inclusion_proof`] reads.
pub fn inclusion_proof_indexes(size: u64, index: u64) -> Result<Vec<u64>, LogError> {
    Ok(Plan::new(&inclusion_ranges(size, index)?).indexes)
}

/// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(
    size: u64,
    index: u64,
    read: &dyn HashReader,
) -> Result<Vec<Hash>, LogError> {
    Plan::new(&inclusion_ranges(size, index)?).compute(read)
}

/// The stored hashes [`consistency_proof`] reads.
pub fn consistency_proof_indexes(old_size: u64, size: u64) -> Result<Vec<u64>, LogError> {
    Ok(Plan::new(&consistency_ranges(old_size, size)?).indexes)
}

/// The RFC 9162 consistency proof between the trees of `old_size` and `size` leaves.
///
/// Empty when `old_size` is 0 or equals `size`.
pub fn consistency_proof(
    old_size: u64,
    size: u64,
    read: &dyn HashReader,
) -> Result<Vec<Hash>, LogError> {
    Plan::new(&consistency_ranges(old_size, size)?).compute(read)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
///
/// As in RFC 9162, the proof alone does not pin the tree size: the same proof verifies for
/// sizes whose trees have the same shape along the leaf's path. The size and root must come
/// from a signed checkpoint.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LogError> {
    if index >= size {
        return Err(LogError::BadProof(format!(
            "leaf index {index} is not below tree size {size}"
        )));
    }
    // `f` walks the leaf's position up the tree, `s` the last leaf's position: where they
    // meet, the leaf's subtree is the right edge of the tree and has no right sibling.
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(LogError::BadProof("inclusion proof is too long".into()));
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(LogError::BadProof("inclusion proof is too short".into()));
    }
    if r != *root {
        return Err(LogError::BadProof(format!(
            "inclusion proof of leaf {index} does not lead to the root of the tree of size {size}"
        )));
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
///
/// Equal sizes need an empty proof and equal roots; an old size of 0 needs an empty proof
/// and `old_root` equal to the empty tree's root (any new root is consistent with it). As
/// for inclusion, sizes and roots must come from signed checkpoints.
pub fn verify_consistency(
    old_size: u64,
    old_root: &Hash,
    size: u64,
    root: &Hash,
    proof: &[Hash],
) -> Result<(), LogError> {
    if old_size > size {
        return Err(LogError::BadProof(format!(
            "old size {old_size} is larger than new size {size}"
        )));
    }
    if old_size == size || old_size == 0 {
        if !proof.is_empty() {
            return Err(LogError::BadProof(format!(
                "consistency proof from size {old_size} to {size} must be empty"
            )));
        }
        if old_size == 0 && *old_root != crate::hash::empty_root() {
            return Err(LogError::BadProof(
                "old root is not the empty tree's root".into(),
            ));
        }
        if old_size == size && old_root != root {
            return Err(LogError::BadProof(format!(
                "two different roots for size {size}"
            )));
        }
        return Ok(());
    }
    let Some((first, rest)) = proof.split_first() else {
        return Err(LogError::BadProof("consistency proof is empty".into()));
    };
    // When the old tree is a complete subtree, the proof omits its root: start from it.
    let (start, path): (Hash, &[Hash]) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (*first, rest)
    };
    let (mut f, mut s) = (old_size - 1, size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in path {
        if s == 0 {
            return Err(LogError::BadProof("consistency proof is too long".into()));
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(LogError::BadProof("consistency proof is too short".into()));
    }
    if fr != *old_root {
        return Err(LogError::BadProof(format!(
            "consistency proof does not lead to the root of size {old_size}"
        )));
    }
    if sr != *root {
        return Err(LogError::BadProof(format!(
            "consistency proof does not lead to the root of size {size}"
        )));
    }
    Ok(())
}

/// A whole tree in memory: stored hash `i` at position `i`. Used by the offline verifier,
/// tests and benchmarks; the server keeps its stored hashes in the database instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    hashes: Vec<Hash>,
    size: u64,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The stored hashes, in index order.
    pub fn stored_hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash; returns its index.
    pub fn append(&mut self, leaf: Hash) -> Result<u64, LogError> {
        let n = self.size;
        let new = hashes_to_store(n, leaf, &self.hashes)?;
        self.hashes.extend(new);
        self.size = n + 1;
        Ok(n)
    }

    /// The root of the tree as it is now.
    pub fn root(&self) -> Result<Hash, LogError> {
        tree_hash(self.size, &self.hashes)
    }

    /// The root the tree had at `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.check_known(size)?;
        tree_hash(size, &self.hashes)
    }

    /// The inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, size: u64, index: u64) -> Result<Vec<Hash>, LogError> {
        self.check_known(size)?;
        inclusion_proof(size, index, &self.hashes)
    }

    /// The consistency proof from `old_size` to `size` leaves.
    pub fn consistency_proof(&self, old_size: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        self.check_known(size)?;
        consistency_proof(old_size, size, &self.hashes)
    }

    fn check_known(&self, size: u64) -> Result<(), LogError> {
        if size > self.size {
            return Err(LogError::InvalidRequest(format!(
                "size {size} is beyond the tree's {} leaves",
                self.size
            )));
        }
        Ok(())
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        self.hashes.read_hashes(indexes)
    }
}

fn check_size(size: u64) -> Result<(), LogError> {
    if size > MAX_TREE_SIZE {
        return Err(LogError::InvalidRequest(format!(
            "tree size {size} exceeds the maximum"
        )));
    }
    Ok(())
}

/// The largest power of two strictly below `n` (`n >= 2`): RFC 9162's split point `k`.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Appends the stored indexes of the complete subtrees covering leaves `lo..hi`, largest
/// first. Only called on ranges the RFC 9162 recursion visits: `lo` is a multiple of a power
/// of two at least `hi - lo`, so the cover is the binary decomposition of `hi - lo`, and
/// folding it right to left gives the range's MTH.
fn cover(lo: u64, hi: u64, out: &mut Vec<u64>) {
    let mut at = lo;
    while at < hi {
        let align = if at == 0 { 63 } else { at.trailing_zeros() };
        let fits = 63 - (hi - at).leading_zeros();
        let level = align.min(fits);
        out.push(stored_hash_index(level as u8, at >> level));
        at += 1u64 << level;
    }
}

/// The leaf ranges whose hashes make up the inclusion proof of `index`, leaf end first.
fn inclusion_ranges(size: u64, index: u64) -> Result<Vec<(u64, u64)>, LogError> {
    check_size(size)?;
    if index >= size {
        return Err(LogError::InvalidRequest(format!(
            "leaf {index} is not in a tree of size {size}"
        )));
    }
    let mut ranges = Vec::new();
    let (mut lo, mut hi) = (0, size);
    while hi - lo > 1 {
        let mid = lo + split_point(hi - lo);
        if index < mid {
            ranges.push((mid, hi));
            hi = mid;
        } else {
            ranges.push((lo, mid));
            lo = mid;
        }
    }
    // Found top-down; RFC 9162 lists the sibling nearest the leaf first.
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges whose hashes make up the consistency proof from `old` to `size`, in
/// RFC 9162 order.
fn consistency_ranges(old: u64, size: u64) -> Result<Vec<(u64, u64)>, LogError> {
    check_size(size)?;
    if old > size {
        return Err(LogError::InvalidRequest(format!(
            "old size {old} is larger than size {size}"
        )));
    }
    let mut ranges = Vec::new();
    if old == 0 || old == size {
        return Ok(ranges);
    }
    // SUBPROOF(m, D[lo:hi], whole): `whole` stays true while the old tree is a prefix of
    // the range being walked and has not been cut on the left.
    let (mut lo, mut hi, mut m, mut whole) = (0, size, old, true);
    loop {
        if m == hi - lo {
            if !whole {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// Which stored hashes to read for a list of range hashes, and how to fold them.
struct Plan {
    indexes: Vec<u64>,
    /// How many consecutive entries of `indexes` each range folds.
    groups: Vec<usize>,
}

impl Plan {
    fn new(ranges: &[(u64, u64)]) -> Plan {
        let mut indexes = Vec::new();
        let mut groups = Vec::with_capacity(ranges.len());
        for &(lo, hi) in ranges {
            let before = indexes.len();
            cover(lo, hi, &mut indexes);
            groups.push(indexes.len() - before);
        }
        Plan { indexes, groups }
    }

    fn compute(&self, read: &dyn HashReader) -> Result<Vec<Hash>, LogError> {
        let hashes = read.read_hashes(&self.indexes)?;
        if hashes.len() != self.indexes.len() {
            return Err(LogError::InvalidRequest(format!(
                "hash reader returned {} hashes, {} asked",
                hashes.len(),
                self.indexes.len()
            )));
        }
        let mut out = Vec::with_capacity(self.groups.len());
        let mut at = 0;
        for &len in &self.groups {
            let group = &hashes[at..at + len];
            at += len;
            let mut iter = group.iter().rev();
            let Some(mut h) = iter.next().copied() else {
                return Err(LogError::InvalidRequest("empty range".into()));
            };
            for left in iter {
                h = node_hash(left, &h);
            }
            out.push(h);
        }
        Ok(out)
    }
}
