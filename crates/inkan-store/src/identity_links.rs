//! Which person an external identity provider's subject signs in as (issue 18 point 5;
//! criteria 2.2.1(3)).
//!
//! A link is made only by an approved dual-control request (`identity_link.add`), never by a
//! sign-in: a provider's subject without a link signs in as nobody. Records only: what a valid
//! ID token is, is `inkan-server`'s `auth::federation`. Must never: link one subject of one
//! provider to two accounts, or keep the sessions a removed link started.

use super::StoreError;
use super::auth_rows::Columns;
use crate::UnixMillis;

/// One provider's subject, linked to one person's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLinkRecord {
    /// The provider's id in the configuration (`[[identity_providers]] id`).
    pub provider: String,
    /// The provider's `sub` for the person.
    pub subject: String,
    /// The provider's issuer when the link was made: the link counts only for it.
    pub issuer: String,
    /// The person's account.
    pub account_id: String,
    /// The dual-control request that made it.
    pub approval: String,
    /// When.
    pub created_at: UnixMillis,
}

/// The links.
#[async_trait::async_trait]
pub trait IdentityLinkStore: Send + Sync {
    /// Adds a link; [`StoreError::Conflict`] if the provider's subject is linked already,
    /// [`StoreError::NotFound`] if the account is unknown.
    async fn insert_identity_link(&self, link: &IdentityLinkRecord) -> Result<(), StoreError>;

    /// The link of a provider's subject, read under a share lock (PostgreSQL): a sign-in that
    /// reads it after starting its session either sees a removal that has committed, or makes
    /// the removal wait until its session is there to be ended.
    async fn identity_link(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<IdentityLinkRecord>, StoreError>;

    /// Removes the link of a provider's subject and, in the same transaction, ends the linked
    /// account's sessions of method `sessions_method` (those the provider started) at `at`:
    /// `None`, and nothing changed, if there is no such link; else the link removed.
    async fn delete_identity_link(
        &self,
        provider: &str,
        subject: &str,
        sessions_method: &str,
        at: UnixMillis,
    ) -> Result<Option<IdentityLinkRecord>, StoreError>;
}

/// The columns of `identity_links`, in the order [`identity_link`] reads them.
macro_rules! identity_link_columns {
    () => {
        "provider, subject, issuer, account_id, approval, created_at"
    };
}

pub(crate) use identity_link_columns;

/// Decodes a row of `identity_links`.
pub(crate) fn identity_link(row: &impl Columns) -> Result<IdentityLinkRecord, StoreError> {
    Ok(IdentityLinkRecord {
        provider: row.text("provider")?,
        subject: row.text("subject")?,
        issuer: row.text("issuer")?,
        account_id: row.text("account_id")?,
        approval: row.text("approval")?,
        created_at: row.int("created_at")?,
    })
}
