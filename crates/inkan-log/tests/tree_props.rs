//! Property-style checks of the stored-hashes layout against a naive RFC 9162 implementation
//! computed from the leaves, for every tree of 1 to 64 leaves.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use inkan_log::hash::{empty_root, leaf_hash, node_hash};
use inkan_log::tree::{self, HashReader, MemoryTree};
use inkan_log::{Hash, LogError};

const MAX: u64 = 64;

// ---- naive RFC 9162 §2.1, straight from the definitions -------------------------------

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], whole: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if whole { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], whole);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn naive_consistency(m: usize, d: &[Hash]) -> Vec<Hash> {
    if m == 0 || m == d.len() {
        vec![]
    } else {
        subproof(m, d, true)
    }
}

// ---- helpers --------------------------------------------------------------------------

/// Records every index asked, to check the `*_indexes` twins name exactly what is read.
struct Recording<'a> {
    inner: &'a MemoryTree,
    asked: RefCell<Vec<u64>>,
}

impl HashReader for Recording<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, LogError> {
        self.asked.borrow_mut().extend_from_slice(indexes);
        self.inner.read_hashes(indexes)
    }
}

fn make_leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
        .collect()
}

fn build(n: u64) -> (MemoryTree, Vec<Hash>) {
    let leaves = make_leaves(n);
    let mut t = MemoryTree::new();
    for l in &leaves {
        t.append(*l).unwrap();
    }
    (t, leaves)
}

fn flip(proof: &[Hash], i: usize) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[i][31] ^= 1;
    p
}

// ---- the layout -----------------------------------------------------------------------

#[test]
fn layout_counts_and_indexes() {
    let (t, _) = build(MAX);
    for size in 0..=MAX {
        assert_eq!(
            tree::stored_hash_count(size),
            2 * size - u64::from(size.count_ones())
        );
    }
    assert_eq!(t.stored_hashes().len() as u64, tree::stored_hash_count(MAX));
    // Every complete subtree of the 64-leaf tree has its own index, and together they are
    // exactly 0..count.
    let mut seen = BTreeSet::new();
    for level in 0..=6u8 {
        for n in 0..(MAX >> level) {
            assert!(seen.insert(tree::stored_hash_index(level, n)));
            let (lo, hi) = ((n << level) as usize, ((n + 1) << level) as usize);
            let want = mth(&make_leaves(MAX)[lo..hi]);
            assert_eq!(
                t.stored_hashes()[tree::stored_hash_index(level, n) as usize],
                want
            );
        }
    }
    assert_eq!(seen, (0..tree::stored_hash_count(MAX)).collect());
    assert_eq!(tree::stored_hash_index(0, 0), 0);
    assert_eq!(tree::stored_hash_index(0, 1), 1);
    assert_eq!(tree::stored_hash_index(1, 0), 2);
    assert_eq!(tree::stored_hash_index(0, 2), 3);
    assert_eq!(tree::stored_hash_index(2, 0), 6);
    assert_eq!(tree::stored_hash_index(63, u64::MAX), u64::MAX);
}

#[test]
fn append_only_adds_and_reads_what_it_says() {
    let leaves = make_leaves(MAX);
    let mut map: HashMap<u64, Hash> = HashMap::new();
    for (n, leaf) in leaves.iter().enumerate() {
        let n = n as u64;
        let before = map.clone();
        let asked = tree::indexes_for_append(n);
        assert!(
            asked.len() as u32 <= 64 - n.leading_zeros(),
            "O(log n) reads"
        );
        // Only the named hashes are needed.
        let only: HashMap<u64, Hash> = asked.iter().map(|i| (*i, map[i])).collect();
        let new = tree::hashes_to_store(n, *leaf, &only).unwrap();
        assert_eq!(new, tree::hashes_to_store(n, *leaf, &map).unwrap());
        assert_eq!(
            new.len() as u64,
            tree::stored_hash_count(n + 1) - tree::stored_hash_count(n)
        );
        for (i, h) in new.into_iter().enumerate() {
            assert!(
                map.insert(tree::stored_hash_count(n) + i as u64, h)
                    .is_none()
            );
        }
        for (k, v) in &before {
            assert_eq!(map[k], *v, "append rewrote stored hash {k}");
        }
    }
    // A missing hash is named.
    let mut partial = map.clone();
    partial.remove(&0);
    assert_eq!(tree::tree_hash(1, &partial), Err(LogError::MissingHash(0)));
    assert_eq!(
        tree::inclusion_proof(4, 1, &partial),
        Err(LogError::MissingHash(0))
    );
    assert_eq!(
        tree::hashes_to_store(1, leaves[1], &HashMap::new()),
        Err(LogError::MissingHash(0))
    );
}

#[test]
fn tree_hashes_match_naive() {
    let (t, leaves) = build(MAX);
    for size in 0..=MAX {
        let rec = Recording {
            inner: &t,
            asked: RefCell::new(vec![]),
        };
        let root = tree::tree_hash(size, &rec).unwrap();
        assert_eq!(root, mth(&leaves[..size as usize]), "size {size}");
        assert_eq!(*rec.asked.borrow(), tree::tree_hash_indexes(size));
        assert_eq!(
            tree::tree_hash_indexes(size).len() as u32,
            size.count_ones()
        );
    }
}

#[test]
fn inclusion_proofs_match_naive_and_verify() {
    let (t, leaves) = build(MAX);
    for size in 1..=MAX {
        let root = mth(&leaves[..size as usize]);
        for index in 0..size {
            let rec = Recording {
                inner: &t,
                asked: RefCell::new(vec![]),
            };
            let proof = tree::inclusion_proof(size, index, &rec).unwrap();
            assert_eq!(
                *rec.asked.borrow(),
                tree::inclusion_proof_indexes(size, index).unwrap()
            );
            assert_eq!(
                proof,
                path(index as usize, &leaves[..size as usize]),
                "{index} in {size}"
            );
            let leaf = &leaves[index as usize];
            tree::verify_inclusion(leaf, index, size, &proof, &root).unwrap();
            for i in 0..proof.len() {
                assert!(
                    tree::verify_inclusion(leaf, index, size, &flip(&proof, i), &root).is_err()
                );
            }
            let mut bad_root = root;
            bad_root[0] ^= 0x80;
            assert!(tree::verify_inclusion(leaf, index, size, &proof, &bad_root).is_err());
            assert!(
                tree::verify_inclusion(&leaf_hash(b"other"), index, size, &proof, &root).is_err()
            );
            for other in 0..size {
                if other != index {
                    // Another index fails unless it names the same leaf hash position's
                    // path, which RFC 9162 makes impossible for distinct leaves.
                    assert!(tree::verify_inclusion(leaf, other, size, &proof, &root).is_err());
                }
            }
            // A proof does not bind the tree size on its own (the signed checkpoint does):
            // RFC 9162 verification walks the same path for sizes whose trees have the same
            // shape along the leaf's path. A size whose path has another length fails.
            for other_size in [size - 1, size + 1, size * 2, size / 2] {
                if other_size > index && other_size != size {
                    let other_len = path(index as usize, &make_leaves(other_size)).len();
                    let ok = tree::verify_inclusion(leaf, index, other_size, &proof, &root).is_ok();
                    assert!(
                        !ok || other_len == proof.len(),
                        "{index} in {size} verified as size {other_size}"
                    );
                }
            }
            assert!(tree::verify_inclusion(leaf, size, size, &proof, &root).is_err());
        }
        assert!(matches!(
            tree::inclusion_proof(size, size, &t),
            Err(LogError::InvalidRequest(_))
        ));
    }
}

#[test]
fn consistency_proofs_match_naive_and_verify() {
    let (t, leaves) = build(MAX);
    for size in 0..=MAX {
        let root = mth(&leaves[..size as usize]);
        for old in 0..=size {
            let old_root = mth(&leaves[..old as usize]);
            let rec = Recording {
                inner: &t,
                asked: RefCell::new(vec![]),
            };
            let proof = tree::consistency_proof(old, size, &rec).unwrap();
            assert_eq!(
                *rec.asked.borrow(),
                tree::consistency_proof_indexes(old, size).unwrap()
            );
            assert_eq!(
                proof,
                naive_consistency(old as usize, &leaves[..size as usize]),
                "{old} to {size}"
            );
            tree::verify_consistency(old, &old_root, size, &root, &proof).unwrap();
            for i in 0..proof.len() {
                assert!(
                    tree::verify_consistency(old, &old_root, size, &root, &flip(&proof, i))
                        .is_err()
                );
            }
            if old > 0 && old < size {
                let mut bad = old_root;
                bad[0] ^= 1;
                assert!(tree::verify_consistency(old, &bad, size, &root, &proof).is_err());
                let mut bad = root;
                bad[0] ^= 1;
                assert!(tree::verify_consistency(old, &old_root, size, &bad, &proof).is_err());
                // As for inclusion, sizes are bound by the signed checkpoints; a proof
                // verifies under other sizes only when their proofs have the same length.
                for (o, s) in [
                    (old - 1, size),
                    (old + 1, size),
                    (old, size + 1),
                    (old, size - 1),
                    (old, size * 2),
                ] {
                    if o <= s && (o, s) != (old, size) {
                        let other_len = naive_consistency(o as usize, &make_leaves(s)).len();
                        let ok = tree::verify_consistency(o, &old_root, s, &root, &proof).is_ok();
                        assert!(
                            !ok || other_len == proof.len(),
                            "{old}->{size} verified as {o}->{s}"
                        );
                    }
                }
            }
        }
        if size > 0 {
            assert!(tree::consistency_proof(size + 1, size, &t).is_err());
        }
    }
    // Size 0 and equal sizes.
    let r = mth(&leaves[..5]);
    assert!(tree::verify_consistency(0, &empty_root(), 5, &r, &[]).is_ok());
    assert!(tree::verify_consistency(0, &r, 5, &r, &[]).is_err());
    assert!(tree::verify_consistency(5, &r, 5, &r, &[]).is_ok());
    assert!(tree::verify_consistency(5, &r, 5, &r, &[r]).is_err());
    assert!(tree::verify_consistency(5, &r, 5, &empty_root(), &[]).is_err());
    assert!(tree::verify_consistency(6, &r, 5, &r, &[]).is_err());
}

#[test]
fn historical_heads_stay_available() {
    // Appending never rewrites, so every earlier root and proof is still computable from
    // the final stored hashes.
    let (t, leaves) = build(MAX);
    for size in 1..=MAX {
        assert_eq!(t.root_at(size).unwrap(), mth(&leaves[..size as usize]));
    }
    assert!(t.root_at(MAX + 1).is_err());
}
