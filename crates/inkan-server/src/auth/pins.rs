//! Signing PINs (criteria 2.2.3(2)): each key has its own PIN, separate from the login
//! password, which the user gives when activating a signature. Stored as an Argon2id hash.
//!
//! Owns setting and changing a PIN; checking it, at signature activation and before a PIN
//! change or renewal, belongs to the activation module (PIN and OTP inside one JWE, criteria
//! 2.2.3(2)A-2), through [`Auth::verify_pin_and_otp`]. Must never store or log a PIN, or change a
//! PIN that is set without the activation module's confirmation.

use super::{Auth, AuthError, Caller, CallerKind, hash_in, password};
use crate::activation::{ConfirmedChange, Purpose};
use crate::log::Event;
use inkan_log::entry::EntryKind;
use inkan_store::KeyRecord;
use inkan_store::auth::KeyPinRecord;
use secrecy::SecretString;

impl Auth {
    /// Sets the PIN of `key`, which has none yet (a new key, or one whose PIN could not be
    /// set when it was made). The caller must be a user of the key's subscriber. A key that
    /// has a PIN changes it only through [`Auth::change_key_pin`].
    pub async fn set_key_pin(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        new_pin: SecretString,
    ) -> Result<(), AuthError> {
        Self::check_pin_owner(caller, key)?;
        if self.key_has_pin(key).await? {
            return Err(AuthError::BadRequest(
                "the key has a PIN: change it with activationData (PIN and OTP)".into(),
            ));
        }
        self.store_key_pin(caller, key, new_pin).await
    }

    /// Changes the PIN of `key` to the one the user authorised with both factors
    /// (`ActivationService::confirm_change`, criteria 2.2.3(2)A-2).
    pub async fn change_key_pin(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        confirmed: ConfirmedChange,
    ) -> Result<(), AuthError> {
        Self::check_pin_owner(caller, key)?;
        if confirmed.purpose() != Purpose::PinChange || confirmed.key_id() != key.id.as_str() {
            return Err(AuthError::Internal(
                "a PIN change was confirmed for another purpose or key".into(),
            ));
        }
        self.store_key_pin(caller, key, confirmed.into_new_pin())
            .await
    }

    fn check_pin_owner(caller: &Caller, key: &KeyRecord) -> Result<(), AuthError> {
        if caller.kind != CallerKind::User || caller.subscriber.as_deref() != Some(&key.owner) {
            return Err(AuthError::Forbidden(
                "only a user of the key's subscriber sets its signing PIN".into(),
            ));
        }
        Ok(())
    }

    async fn store_key_pin(
        &self,
        caller: &Caller,
        key: &KeyRecord,
        new_pin: SecretString,
    ) -> Result<(), AuthError> {
        password::check_pin_policy(&new_pin).map_err(|e| AuthError::BadRequest(e.to_string()))?;
        let pin_hash = self
            .hash_work(move || password::hash(&new_pin))
            .await?
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        // Written ahead (criteria 2.1.3(12)): no PIN changes unless its entry is logged first.
        let event = Event::new(EntryKind::KeyPinSet, caller.actor()).key(&key.id);
        let change = async {
            let record = KeyPinRecord {
                key_id: key.id.to_string(),
                pin_hash,
                updated_at: self.now(),
            };
            Ok(self.store.set_key_pin(&record).await?)
        };
        self.recorder.write_ahead(event, change).await
    }

    /// Whether `key` has a PIN.
    pub async fn key_has_pin(&self, key: &KeyRecord) -> Result<bool, AuthError> {
        Ok(self.store.get_key_pin(key.id.as_str()).await?.is_some())
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
