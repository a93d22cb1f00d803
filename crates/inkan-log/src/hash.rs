//! RFC 9162 (RFC 6962) hashing with SHA-256.

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    todo!("helper L1")
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    todo!("helper L1")
}

/// The root of the empty tree, `SHA-256()`.
pub fn empty_root() -> Hash {
    todo!("helper L1")
}
