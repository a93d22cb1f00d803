//! Signing PINs (criteria 2.2.3(2)): each key has its own PIN, separate from the login
//! password, which the user gives when activating a signature. Stored as an Argon2id hash.
//!
//! Owns setting and changing a PIN; checking it at signature activation belongs to the
//! activation module, through [`Auth::verify_pin_and_otp`]. Must never store or log a PIN.

use super::{Auth, AuthError, Caller, CallerKind, hash_in, password};
use crate::store::KeyRecord;
use crate::store::StoreError;
use crate::store::auth::{Attempt, KeyPinRecord};
use inkan_log::entry::{EntryKind, Outcome};
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
        let pin_hash = self
            .hash_work(move || password::hash(&new_pin))
            .await?
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        self.store
            .set_key_pin(&KeyPinRecord {
                key_id: key.id.to_string(),
                pin_hash,
                updated_at: self.now(),
            })
            .await?;
        self.record_key_event(EntryKind::KeyPinSet, caller, key, Outcome::Succeeded)
            .await
    }

    /// Fails with `Forbidden` unless `pin` is the current PIN of `key`: the user proving
    /// control of the key before changing it (its PIN, its renewal). The check is an attempt
    /// counted against the caller's account before the PIN is hashed, like a login (criteria
    /// 2.2.1(2)): a locked account is refused unhashed, a wrong PIN is a failure towards the
    /// lock (logged as a refused `kind`), the right one clears the count.
    pub async fn confirm_key_pin(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        kind: EntryKind,
        pin: SecretString,
    ) -> Result<(), AuthError> {
        let locked = || AuthError::Forbidden("the account is locked or not active".into());
        let now = self.now();
        let place = self.hash_place()?;
        let own_lock = match self.count_attempt(&caller.id, now).await? {
            Attempt::Admitted { lock, .. } => lock,
            Attempt::Refused(_) => return Err(locked()),
        };
        if !self.check_key_pin(place, key, pin).await? {
            self.record_refusal(kind, caller.actor(), "wrong current PIN")
                .await;
            self.record_lock(caller.actor(), own_lock).await;
            return Err(AuthError::Forbidden("the current PIN is wrong".into()));
        }
        match self
            .store
            .record_login_success(&caller.id, None, own_lock, now)
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(locked()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether `pin` is the PIN of `key` (false when none is set), hashed in `place`.
    pub(super) async fn check_key_pin(
        &self,
        place: crate::blocking::Place,
        key: &KeyRecord,
        pin: SecretString,
    ) -> Result<bool, AuthError> {
        let stored = self
            .store
            .get_key_pin(key.id.as_str())
            .await?
            .map(|p| p.pin_hash);
        hash_in(place, move || password::verify(&pin, stored.as_deref())).await
    }
}
