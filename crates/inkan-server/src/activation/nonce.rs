//! Activation nonces (criteria 2.2.3(2)A-2): the fresh value a client puts inside its
//! activation JWE, so that one JWE is good once, in the session it was made for, for a short
//! time.
//!
//! A nonce is its random id, the session and account it was issued to and its expiry, sealed
//! (AES-256-GCM under the secrets key, the sealing every node shares), so issuing one writes
//! nothing; using one remembers the SHA-256 of its id through `AuthStore::remember_once` until
//! it expires, atomically across nodes, so it works once. Must never: accept a nonce of another
//! session or account, an expired one, or one used before; store a nonce's id in the clear.

use crate::auth::{AuthError, Caller, CallerKind, random_secret, secret_hash};
use crate::clock::{Clock, UnixMillis};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_device::sealing::SealingKey;
use inkan_store::Store;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How long an issued nonce stays usable.
pub const NONCE_SECONDS: u64 = 120;
/// What the sealing binds a nonce to, so no other sealed value opens as one.
const SEAL_NAME: &str = "signature-activation-nonce";

/// What a nonce carries (sealed, so the client cannot read or change it).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NonceBody {
    id: String,
    session: String,
    account: String,
    expires_at: UnixMillis,
}

/// A nonce handed to a client.
#[derive(Debug)]
pub struct IssuedNonce {
    /// The value to put in the activation JWE.
    pub nonce: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Issues and uses up nonces.
pub struct Nonces {
    seal: SealingKey,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nonces").finish_non_exhaustive()
    }
}

impl Nonces {
    /// Nonces sealed with `seal` (the secrets key: every node must hold the same).
    pub fn new(seal: SealingKey, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Nonces { seal, store, clock }
    }

    /// A fresh nonce for this user's session.
    pub fn issue(&self, caller: &Caller) -> Result<IssuedNonce, AuthError> {
        if caller.kind != CallerKind::User {
            return Err(AuthError::Forbidden(
                "activation nonces are for users, who activate with a PIN and an OTP".into(),
            ));
        }
        let lifetime = i64::try_from(NONCE_SECONDS).unwrap_or(120) * 1000;
        let body = NonceBody {
            id: random_secret(16),
            session: caller.session.clone(),
            account: caller.id.clone(),
            expires_at: self.clock.now().saturating_add(lifetime),
        };
        let json = serde_json::to_vec(&body).map_err(|e| AuthError::Internal(e.to_string()))?;
        let sealed = self
            .seal
            .seal(SEAL_NAME, &json)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        // The sealing is standard base64; the nonce travels base64url, like the rest of JOSE.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(IssuedNonce {
            nonce: URL_SAFE_NO_PAD.encode(raw),
            expires_in: NONCE_SECONDS,
        })
    }

    /// Uses up `nonce` for `caller`: `Ok(Err(why))` when it is refused (not ours, another
    /// session's, expired, used already), `Err` when the store failed.
    pub async fn use_once(
        &self,
        caller: &Caller,
        nonce: &str,
    ) -> Result<Result<(), &'static str>, AuthError> {
        let Some(body) = self.open(nonce) else {
            return Ok(Err("the nonce is not one this service issued"));
        };
        let now = self.clock.now();
        if now >= body.expires_at {
            return Ok(Err("the nonce has expired: fetch a new one"));
        }
        if body.session != caller.session || body.account != caller.id {
            return Ok(Err("the nonce was issued to another session"));
        }
        // The id, not the nonce's text, is remembered: a re-encoding of one nonce is the same
        // nonce.
        let once = format!("sad-nonce:{}", secret_hash(&body.id));
        if !self
            .store
            .remember_once(&once, body.expires_at, now)
            .await?
        {
            return Ok(Err("the nonce was used already: fetch a new one"));
        }
        Ok(Ok(()))
    }

    fn open(&self, nonce: &str) -> Option<NonceBody> {
        let raw = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        let sealed = base64::engine::general_purpose::STANDARD.encode(raw);
        let json = self.seal.open(SEAL_NAME, sealed.as_bytes()).ok()?;
        serde_json::from_slice(&json).ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn caller(session: &str) -> Caller {
        Caller {
            kind: CallerKind::User,
            id: "acc_alice".into(),
            subscriber: Some("sub_1".into()),
            session: session.into(),
            method: "password+totp".into(),
            scope: None,
            terminal: None,
            role: None,
        }
    }

    async fn service() -> (Nonces, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let store = inkan_store::connect("sqlite::memory:").await.unwrap();
        let seal = SealingKey::new(&[7; 32], "test").unwrap();
        (Nonces::new(seal, store, clock.clone()), clock)
    }

    /// Once, in its session, before it expires; a changed or foreign nonce never.
    #[tokio::test]
    async fn a_nonce_works_once_in_its_session_until_it_expires() {
        let (nonces, clock) = service().await;
        let alice = caller("ses_1");
        let issued = nonces.issue(&alice).unwrap();
        assert_eq!(issued.expires_in, NONCE_SECONDS);
        assert_eq!(
            nonces
                .use_once(&caller("ses_2"), &issued.nonce)
                .await
                .unwrap(),
            Err("the nonce was issued to another session")
        );
        assert_eq!(
            nonces.use_once(&alice, &issued.nonce).await.unwrap(),
            Ok(())
        );
        assert!(
            nonces
                .use_once(&alice, &issued.nonce)
                .await
                .unwrap()
                .is_err()
        );
        // Expiry: usable at 119.999 s, not at 120 s.
        let late = nonces.issue(&alice).unwrap();
        let edge = nonces.issue(&alice).unwrap();
        clock.advance(119_999);
        assert_eq!(nonces.use_once(&alice, &edge.nonce).await.unwrap(), Ok(()));
        clock.advance(1);
        assert_eq!(
            nonces.use_once(&alice, &late.nonce).await.unwrap(),
            Err("the nonce has expired: fetch a new one")
        );
        // Changed, foreign (another service's sealing key), or not a nonce at all.
        let fresh = nonces.issue(&alice).unwrap().nonce;
        let mut changed = fresh.clone().into_bytes();
        let last = changed.len() - 5;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).unwrap();
        let (other, _) = service().await;
        let other = Nonces {
            seal: SealingKey::new(&[8; 32], "test").unwrap(),
            ..other
        };
        let foreign = other.issue(&alice).unwrap().nonce;
        for bad in [changed.as_str(), foreign.as_str(), "", "not a nonce"] {
            assert_eq!(
                nonces.use_once(&alice, bad).await.unwrap(),
                Err("the nonce is not one this service issued")
            );
        }
        // Operators and system clients get none.
        let client = Caller {
            kind: CallerKind::Client,
            ..caller("ses_3")
        };
        assert!(nonces.issue(&client).is_err());
    }

    /// Two uses of one nonce at once: exactly one gets through.
    #[tokio::test]
    async fn two_uses_at_once_one_wins() {
        let (nonces, _) = service().await;
        let alice = caller("ses_1");
        let nonce = nonces.issue(&alice).unwrap().nonce;
        let (a, b) = tokio::join!(
            nonces.use_once(&alice, &nonce),
            nonces.use_once(&alice, &nonce)
        );
        let wins = [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|r| r.is_ok())
            .count();
        assert_eq!(wins, 1);
    }
}
