//! Passwords and signing PINs at rest: Argon2id PHC strings (criteria 2.2.1(2)).
//!
//! Owns the hashing parameters, the length rules, and verification in constant time (the
//! `argon2` crate compares the derived hashes in constant time). Hashing is deliberately slow:
//! callers run it on a blocking thread. An unknown account is checked against a dummy hash so
//! that the time taken does not say whether the account exists. Must never log a password, a
//! PIN or a hash.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::OnceLock;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password or PIN accepted, in bytes (Argon2 takes anything; the limit stops abuse).
pub const MAX_SECRET_BYTES: usize = 256;
/// Shortest signing PIN accepted.
pub const MIN_PIN_CHARS: usize = 6;

/// Why a password or PIN was refused or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// It breaks the length rules.
    #[error("{0}")]
    Policy(String),
    /// Hashing failed (should not happen).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// OWASP's recommended Argon2id parameters: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    // The parameters are constants within the crate's limits; `default()` is the fallback that
    // cannot be reached.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Refuses a password outside the length rules.
pub fn check_password_policy(password: &SecretString) -> Result<(), PasswordError> {
    check_length(password, MIN_PASSWORD_CHARS, "password")
}

/// Refuses a signing PIN outside the length rules.
pub fn check_pin_policy(pin: &SecretString) -> Result<(), PasswordError> {
    check_length(pin, MIN_PIN_CHARS, "signing PIN")
}

fn check_length(secret: &SecretString, min_chars: usize, what: &str) -> Result<(), PasswordError> {
    let text = secret.expose_secret();
    if text.chars().count() < min_chars {
        return Err(PasswordError::Policy(format!(
            "the {what} must be at least {min_chars} characters"
        )));
    }
    if text.len() > MAX_SECRET_BYTES {
        return Err(PasswordError::Policy(format!(
            "the {what} must be at most {MAX_SECRET_BYTES} bytes"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(PasswordError::Policy(format!(
            "the {what} must not contain control characters"
        )));
    }
    Ok(())
}

/// Hashes `secret` with a fresh salt into a PHC string. Slow: call on a blocking thread.
pub fn hash(secret: &SecretString) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut rand_core::OsRng);
    argon2()
        .hash_password(secret.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `secret` matches the PHC string `stored`; `None` checks against a dummy hash and
/// returns false, taking the same time. Slow: call on a blocking thread.
pub fn verify(secret: &SecretString, stored: Option<&str>) -> bool {
    let candidate = secret.expose_secret().as_bytes();
    if candidate.len() > MAX_SECRET_BYTES {
        return false;
    }
    match stored {
        Some(stored) => match PasswordHash::new(stored) {
            Ok(parsed) => argon2().verify_password(candidate, &parsed).is_ok(),
            Err(_) => {
                tracing::error!("a stored password hash cannot be parsed");
                false
            }
        },
        None => {
            if let Ok(parsed) = PasswordHash::new(dummy_hash()) {
                let _ = argon2().verify_password(candidate, &parsed);
            }
            false
        }
    }
}

/// A hash of a random password, made once, for checking unknown accounts.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut random = [0u8; 24];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
        hash(&SecretString::from(hex::encode(random))).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let password = SecretString::from("correct horse battery staple");
        let stored = hash(&password).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify(&password, Some(&stored)));
        assert!(!verify(
            &SecretString::from("correct horse battery stapl"),
            Some(&stored)
        ));
        assert!(!verify(&password, None));
        assert!(!verify(&password, Some("not a phc string")));
    }

    #[test]
    fn policy_refuses_short_long_and_control_characters() {
        assert!(check_password_policy(&SecretString::from("short")).is_err());
        assert!(check_password_policy(&SecretString::from("x".repeat(257))).is_err());
        assert!(check_password_policy(&SecretString::from("twelve chars\u{7}")).is_err());
        assert!(check_password_policy(&SecretString::from("twelve chars")).is_ok());
        assert!(check_pin_policy(&SecretString::from("12345")).is_err());
        assert!(check_pin_policy(&SecretString::from("123456")).is_ok());
    }
}
