//! RFC 9162 (RFC 6962) hashing with SHA-256.
//!
//! Owns the two domain-separated hash functions of the Merkle tree (leaves are prefixed with
//! `0x00`, interior nodes with `0x01`, so a leaf can never be passed off as a node) and the
//! hash of the empty tree. Never anything else: the tree layout lives in [`crate::tree`].

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree, `SHA-256()`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> Hash {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // Values from transparency-dev/merkle rfc6962/rfc6962_test.go (TestRFC6962Hasher).
    #[test]
    fn published_hasher_vectors() {
        assert_eq!(
            empty_root(),
            hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(
            leaf_hash(b""),
            hex32("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        );
        assert_eq!(
            leaf_hash(b"L123456"),
            hex32("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
        );
    }

    #[test]
    fn domain_separation() {
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
        let mut cat = Vec::new();
        cat.extend_from_slice(&a);
        cat.extend_from_slice(&b);
        assert_ne!(node_hash(&a, &b), leaf_hash(&cat));
    }
}
