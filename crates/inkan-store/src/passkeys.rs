//! A person's passkeys (WebAuthn credentials; issue 18 point 4, criteria 2.2.1(2)).
//!
//! Records only: what a valid registration or assertion is, is `inkan-server`'s
//! `auth::webauthn`. Owns the decoding of a row, shared by both engines. Must never: accept an
//! assertion whose counter does not rise (a cloned authenticator), or let a person remove
//! another's passkey.

use super::StoreError;
use super::auth_rows::Columns;
use crate::UnixMillis;

/// One passkey of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// `pk_…`.
    pub id: String,
    /// Whose.
    pub account_id: String,
    /// The WebAuthn credential id, base64url.
    pub credential_id: String,
    /// Its public key, the COSE_Key bytes as base64url.
    pub public_key: String,
    /// Its COSE algorithm.
    pub algorithm: i64,
    /// The name its person gave it.
    pub name: String,
    /// The authenticator's signature counter at its last use.
    pub sign_count: i64,
    /// Backup flags: 1 backup-eligible, 2 backed up.
    pub backup: i64,
    /// The authenticator model (AAGUID), hex.
    pub aaguid: String,
    /// The attestation statement format at registration.
    pub attestation_format: String,
    /// When it was added.
    pub created_at: UnixMillis,
    /// When it last signed a person in.
    pub last_used_at: Option<UnixMillis>,
}

/// The passkeys.
#[async_trait::async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Adds a passkey; [`StoreError::Conflict`] if its credential id is registered already
    /// (to anyone), [`StoreError::NotFound`] if the account is unknown.
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> Result<(), StoreError>;

    /// The account's passkeys, oldest first.
    async fn passkeys_of(&self, account_id: &str) -> Result<Vec<PasskeyRecord>, StoreError>;

    /// The passkey of a credential id.
    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRecord>, StoreError>;

    /// Records a verified use of passkey `id`, in one conditional statement: the counter must
    /// rise (or stay 0 for an authenticator that keeps none). `false` if it did not (a copy of
    /// the credential may exist) or the passkey is gone; nothing changes then.
    async fn use_passkey(
        &self,
        id: &str,
        sign_count: i64,
        backup: i64,
        at: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Removes the account's passkey `id` and, in the same transaction, ends the account's
    /// sessions of method `sessions_method` (those the passkey started) at `at`: `false`, and
    /// nothing changed, if the account has no such passkey.
    async fn delete_passkey(
        &self,
        account_id: &str,
        id: &str,
        sessions_method: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError>;
}

/// The columns of `passkeys`, in the order [`passkey`] reads them.
macro_rules! passkey_columns {
    () => {
        "id, account_id, credential_id, public_key, algorithm, name, sign_count, backup, aaguid, \
         attestation_format, created_at, last_used_at"
    };
}

pub(crate) use passkey_columns;

/// Decodes a row of `passkeys`.
pub(crate) fn passkey(row: &impl Columns) -> Result<PasskeyRecord, StoreError> {
    Ok(PasskeyRecord {
        id: row.text("id")?,
        account_id: row.text("account_id")?,
        credential_id: row.text("credential_id")?,
        public_key: row.text("public_key")?,
        algorithm: row.int("algorithm")?,
        name: row.text("name")?,
        sign_count: row.int("sign_count")?,
        backup: row.int("backup")?,
        aaguid: row.text("aaguid")?,
        attestation_format: row.text("attestation_format")?,
        created_at: row.int("created_at")?,
        last_used_at: row.int_opt("last_used_at")?,
    })
}
