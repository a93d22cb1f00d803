//! The one error type of the log crate.

/// Why a log operation or verification failed. Messages name the problem (which entry, which
/// checkpoint, which line) so an auditor can act on them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    /// A hash the computation needs was not provided by the reader.
    #[error("stored hash {0} is missing")]
    MissingHash(u64),
    /// Arguments out of range (an index past the tree size, an old size larger than the new).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A proof does not verify.
    #[error("proof does not verify: {0}")]
    BadProof(String),
    /// A note, checkpoint, entry, receipt or export is malformed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A signature does not verify, or no signature by the expected key is present.
    #[error("signature: {0}")]
    BadSignature(String),
    /// The log content contradicts itself or its checkpoints.
    #[error("log inconsistent: {0}")]
    Inconsistent(String),
    /// The signer failed.
    #[error("signer: {0}")]
    Signer(String),
}
