//! Helpers shared by the integration tests: a software note signer and sample entries.
#![allow(dead_code, clippy::unwrap_used)]

use ed25519_dalek::{Signer as _, SigningKey};
use inkan_log::LogError;
use inkan_log::entry::{Actor, ActorKind, Authentication, Entry, EntryKind, Outcome};
use inkan_log::note::{NoteSigner, NoteVerifier};

pub const TEST_ORIGIN: &str = "inkan.example/log/test";
pub const PROD_ORIGIN: &str = "inkan.example/log/production";

/// An Ed25519 key in memory (the server uses the crypto device instead).
pub struct SoftSigner {
    pub name: String,
    pub key: SigningKey,
}

impl SoftSigner {
    pub fn new(name: &str, seed: u8) -> SoftSigner {
        SoftSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier::new(&self.name, self.public_key()).unwrap()
    }
}

impl NoteSigner for SoftSigner {
    fn name(&self) -> &str {
        &self.name
    }
    fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], LogError> {
        Ok(self.key.sign(message).to_bytes())
    }
}

/// A plausible entry of the given kind, varied by `i`.
pub fn sample_entry(kind: EntryKind, i: u64) -> Entry {
    let (actor_kind, method) = match i % 4 {
        0 => (ActorKind::Subscriber, "password+totp"),
        1 => (ActorKind::SystemClient, "mtls"),
        2 => (ActorKind::Operator, "password+webauthn"),
        _ => (ActorKind::System, "host"),
    };
    Entry {
        kind,
        time: 1_700_000_000_000 + i as i64,
        environment: "test".into(),
        actor: Actor {
            kind: actor_kind,
            id: format!("actor_{i}"),
            auth: Authentication {
                method: method.into(),
                session: i.is_multiple_of(2).then(|| format!("ses_{i}")),
                terminal: i.is_multiple_of(3).then(|| "sha-256:00ff".to_owned()),
            },
        },
        key_id: (!i.is_multiple_of(5)).then(|| format!("key_{i}")),
        digests: (0..(i % 3))
            .map(|d| format!("sha-256:{:064x}", d + i))
            .collect(),
        approval: (i % 2 == 1).then(|| format!("sad_{i}")),
        outcome: match i % 3 {
            0 => Outcome::Pending,
            1 => Outcome::Succeeded,
            _ => Outcome::Failed(format!("status list says revoked ({i})")),
        },
        note: (i % 4 == 3).then(|| "quoted \"note\"\n\twith escapes — ü".to_owned()),
    }
}
