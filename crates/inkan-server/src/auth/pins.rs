//! Signing PINs (criteria 2.2.3(2)): each key has its own PIN, separate from the login
//! password, which the user gives when activating a signature. Stored as an Argon2id hash.
//!
//! Owns setting and changing a PIN; checking it at signature activation belongs to the
//! activation module, through [`Auth::verify_key_pin`]. Must never store or log a PIN.

use super::{Auth, AuthError, Caller, CallerKind, blocking, password};
use crate::store::KeyRecord;
use crate::store::auth::KeyPinRecord;
use inkan_log::entry::{Entry, EntryKind};
use secrecy::SecretString;

impl Auth {
    /// Sets the PIN of `key`. The caller must be a user of the key's subscriber; when a PIN is
    /// set already, `current` must match it.
    pub async fn set_key_pin(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        current: Option<SecretString>,
        new_pin: SecretString,
    ) -> Result<(), AuthError> {
        if caller.kind != CallerKind::User || caller.subscriber.as_deref() != Some(&key.owner) {
            return Err(AuthError::Forbidden(
                "only a user of the key's subscriber sets its signing PIN".into(),
            ));
        }
        password::check_pin_policy(&new_pin).map_err(|e| AuthError::BadRequest(e.to_string()))?;
        if self.store.get_key_pin(key.id.as_str()).await?.is_some() {
            let current = current.ok_or_else(|| {
                AuthError::BadRequest("the key has a PIN: give the current one to change it".into())
            })?;
            self.confirm_key_pin(caller, key, EntryKind::KeyPinSet, current)
                .await?;
        }
        let pin_hash = blocking(move || password::hash(&new_pin))
            .await?
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        // Written ahead (criteria 2.1.3(12)): no PIN changes unless its entry is logged first.
        let event = Entry {
            key_id: Some(key.id.to_string()),
            ..self.event(EntryKind::KeyPinSet, caller.actor(), None)
        };
        let change = async {
            let record = KeyPinRecord {
                key_id: key.id.to_string(),
                pin_hash,
                updated_at: self.now(),
            };
            Ok(self.store.set_key_pin(&record).await?)
        };
        self.write_ahead(event, change).await
    }

    /// Fails with `Forbidden` unless `pin` is the current PIN of `key`: the user proving
    /// control of the key before changing it (its PIN, its renewal). A wrong PIN counts towards
    /// the caller's account lock, like a wrong password, and is logged as a refused `kind`.
    pub async fn confirm_key_pin(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        kind: EntryKind,
        pin: SecretString,
    ) -> Result<(), AuthError> {
        self.check_not_locked(caller).await?;
        if !self.verify_key_pin(key, pin).await? {
            self.record_refusal(kind, caller.actor(), "wrong current PIN")
                .await;
            self.count_failure(caller, &caller.id).await?;
            return Err(AuthError::Forbidden("the current PIN is wrong".into()));
        }
        Ok(())
    }

    /// Whether `pin` is the PIN of `key` (false when none is set).
    pub async fn verify_key_pin(
        &self,
        key: &KeyRecord,
        pin: SecretString,
    ) -> Result<bool, AuthError> {
        let stored = self
            .store
            .get_key_pin(key.id.as_str())
            .await?
            .map(|p| p.pin_hash);
        blocking(move || password::verify(&pin, stored.as_deref())).await
    }
}
