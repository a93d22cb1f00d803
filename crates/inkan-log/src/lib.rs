//! Inkan's transparency log, transport-free: what Inkan signed, provable afterwards
//! (criteria 2.2.3(2)A-3, 2.2.3(3)C, 2.1.3(12), 2.3.3(5)).
//!
//! - [`hash`]: RFC 9162 hashing (`leaf = H(0x00‖entry)`, `node = H(0x01‖left‖right)`).
//! - [`tree`]: the "stored hashes" layout of a Merkle tree (the hash of every complete subtree,
//!   numbered so that appending a leaf only adds hashes), tree heads, inclusion and consistency
//!   proofs and their verification. Reads go through [`tree::HashReader`]; each computation
//!   has an `*_indexes` twin telling a store which hashes to fetch first. [`tree::MemoryTree`]
//!   keeps a whole tree in memory (offline verification, tests, benchmarks).
//! - [`note`], [`checkpoint`]: C2SP signed notes and `tlog-checkpoint` bodies.
//! - [`entry`]: the versioned, canonical encoding of a logged event.
//! - [`receipt`]: an entry's proof bundle, verifiable offline with the log's public key.
//! - [`verify`]: the export line format (JSON Lines) and offline verification of a whole
//!   exported log.
//!
//! This crate never does I/O: no HTTP, no SQL, no files. It never signs with a key of its
//! own: signing goes through [`note::NoteSigner`], which the server backs with the crypto
//! device.

pub mod checkpoint;
pub mod entry;
mod error;
pub mod hash;
mod jcs;
pub mod note;
pub mod receipt;
pub mod tree;
pub mod verify;

pub use error::LogError;
pub use hash::Hash;
