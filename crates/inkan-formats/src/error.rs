//! The one error type of the formats crate. Messages name what was wrong (which claim, which
//! header, which disclosure) without quoting secrets.

/// Why producing or verifying a credential or presentation failed.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Input is malformed, too large or too deep.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A signature or proof does not verify.
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    /// The document verifies cryptographically but fails a check (expired, wrong audience,
    /// wrong nonce, wrong challenge, a disclosure not in the credential, an issuer that does
    /// not control the key, …).
    #[error("rejected: {0}")]
    Rejected(String),
    /// Something this crate does not support (an algorithm, a cryptosuite, a remote context).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The signer failed.
    #[error("signer: {0}")]
    Signer(String),
    /// The credential or presentation breaks a rule of the W3C VC Data Model: the message
    /// names the property, never its value.
    #[error("{0}")]
    DataModel(#[from] crate::vcdm::VcdmError),
}

impl FormatError {
    /// A [`FormatError::Malformed`].
    pub fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        FormatError::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

impl From<inkan_device::DeviceError> for FormatError {
    fn from(e: inkan_device::DeviceError) -> Self {
        FormatError::Signer(e.to_string())
    }
}
