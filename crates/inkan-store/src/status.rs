//! What the store remembers about keys' status (criteria 2.2.3(1)B, 2.2.2(3)B): where each
//! key's public-key information can be found valid or revoked (its status source), and what
//! the last check said, with its evidence.
//!
//! Records only: fetching, verifying and deciding are the `status` module's; destroying a
//! revoked key is the key registry's.

use super::StoreError;
use crate::UnixMillis;

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The stored (and API) name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

status_enum! {
    /// Where a key's status is published.
    StatusSourceKind {
        /// The certificate chain attached to the key (validity; CRL/OCSP named in it).
        X509 = "x509",
        /// A W3C Bitstring Status List entry (`url` = the list credential, `index`, `purpose`).
        Bitstring = "bitstring",
        /// An IETF Token Status List reference (`url` = `uri`, `index` = `idx`).
        Token = "token",
        /// The registry's own state: for keys no outside list covers (holders' keys), valid
        /// while the key is active in the registry (criteria 2.2.3(1)B).
        Registry = "registry",
        /// None: the signing policy decides whether the key may sign (only in `test`).
        None = "none",
    }
}

status_enum! {
    /// What a check found.
    KeyStatusValue {
        /// Confirmed valid.
        Valid = "valid",
        /// The certificate's validity period is over (or not begun).
        Expired = "expired",
        /// Revoked: the key must be destroyed.
        Revoked = "revoked",
        /// Suspended: no signing while it lasts.
        Suspended = "suspended",
        /// No fresh, verified status could be had.
        Unknown = "unknown",
    }
}

/// A key's status source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSourceRecord {
    /// The key.
    pub key_id: String,
    /// What kind of source.
    pub kind: StatusSourceKind,
    /// The list URL (Bitstring: the status list credential; Token: `uri`).
    pub url: Option<String>,
    /// The index in the list (Bitstring `statusListIndex`, Token `idx`).
    pub index: Option<u64>,
    /// Bitstring `statusPurpose` (`revocation` or `suspension`).
    pub purpose: Option<String>,
    /// When it was set.
    pub set_at: UnixMillis,
    /// Who set it (operator or account id).
    pub set_by: String,
}

/// The last status check of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatusRecord {
    /// The key.
    pub key_id: String,
    /// What was found.
    pub status: KeyStatusValue,
    /// When it was confirmed.
    pub checked_at: UnixMillis,
    /// The evidence, as JSON (list URL, index, SHA-256 of the list, its `iat`/`exp`), or the
    /// reason when `unknown`.
    pub evidence: Option<String>,
}

/// Status records. Part of [`super::Store`]; both engines pass the same conformance suite
/// (`tests/status_store_conformance.rs`).
#[async_trait::async_trait]
pub trait StatusStore: Send + Sync {
    /// Sets (or replaces) the key's status source. `NotFound` if the key is not registered.
    /// `Conflict` if the source does not carry exactly the fields its kind needs, as the
    /// schema's CHECKs say: `bitstring` a non-empty `url`, an `index` and a `purpose` of
    /// `revocation` or `suspension`; `token` a non-empty `url` and an `index` and no `purpose`;
    /// `x509` and `none` no `url`, `index` or `purpose`; or if `index` is above `i64::MAX`.
    /// Nothing changes then (a source already set stays as it was).
    async fn set_status_source(&self, source: &StatusSourceRecord) -> Result<(), StoreError>;

    /// The key's status source, if one was set.
    async fn get_status_source(
        &self,
        key_id: &str,
    ) -> Result<Option<StatusSourceRecord>, StoreError>;

    /// The status sources of every key in state `active`, oldest key first (by the key's
    /// `created_at`, then its id), for the monitor. Keys without a source are not listed.
    async fn active_status_sources(&self) -> Result<Vec<StatusSourceRecord>, StoreError>;

    /// Records (replaces) the key's last check, whatever the key's state. `NotFound` if the key
    /// is not registered.
    async fn record_key_status(&self, status: &KeyStatusRecord) -> Result<(), StoreError>;

    /// The key's last check, if any.
    async fn get_key_status(&self, key_id: &str) -> Result<Option<KeyStatusRecord>, StoreError>;
}
