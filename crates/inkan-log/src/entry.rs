//! Logged events and their canonical encoding (criteria 2.2.3(2)A-3, 2.3.3(5), 2.1.3(5)).
//!
//! An entry records what happened, when, in which environment, who instructed it and how they
//! were authenticated, which key, what was signed (digests only), which approval, and the
//! outcome. Personal data is minimised: ids, methods and digests, never passwords, PINs, OTPs
//! or document bodies.
//!
//! The encoding is versioned (`"v":1`) and canonical: JSON with members in lexicographic
//! order, no insignificant whitespace, integers only, absent optional members omitted.
//! [`Entry::decode`] refuses any input that is not exactly what [`Entry::encode`] would
//! produce, so one event has one byte string and one leaf hash.

use crate::LogError;

/// The current encoding version.
pub const VERSION: u32 = 1;

/// What kind of event an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A signature was requested (written ahead of the device call).
    SignatureRequested,
    /// A signature was made.
    SignatureMade,
    /// A signature was refused.
    SignatureRefused,
    /// A key was generated in the device.
    KeyGenerated,
    /// A key was imported into the device.
    KeyImported,
    /// A certificate chain was attached to a key.
    KeyCertificateAttached,
    /// A key was destroyed.
    KeyDestroyed,
    /// A credential was issued.
    CredentialIssued,
    /// A credential was revoked.
    CredentialRevoked,
    /// An operator did something (including reading personal data).
    OperatorAction,
    /// The configuration changed.
    ConfigurationChanged,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 11] = [
        EntryKind::SignatureRequested,
        EntryKind::SignatureMade,
        EntryKind::SignatureRefused,
        EntryKind::KeyGenerated,
        EntryKind::KeyImported,
        EntryKind::KeyCertificateAttached,
        EntryKind::KeyDestroyed,
        EntryKind::CredentialIssued,
        EntryKind::CredentialRevoked,
        EntryKind::OperatorAction,
        EntryKind::ConfigurationChanged,
    ];

    /// The encoded name, e.g. `signature.requested`, `key.generated`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::SignatureRequested => "signature.requested",
            EntryKind::SignatureMade => "signature.made",
            EntryKind::SignatureRefused => "signature.refused",
            EntryKind::KeyGenerated => "key.generated",
            EntryKind::KeyImported => "key.imported",
            EntryKind::KeyCertificateAttached => "key.certificate_attached",
            EntryKind::KeyDestroyed => "key.destroyed",
            EntryKind::CredentialIssued => "credential.issued",
            EntryKind::CredentialRevoked => "credential.revoked",
            EntryKind::OperatorAction => "operator.action",
            EntryKind::ConfigurationChanged => "configuration.changed",
        }
    }
}

/// Who instructed the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    /// A subscriber (issuer organisation or holder) or their signing agent.
    Subscriber,
    /// A system client of an organisation (automatic e-sealing).
    SystemClient,
    /// An operator of the service.
    Operator,
    /// Inkan itself (the status monitor, start-up, a command run on the host).
    System,
}

impl ActorKind {
    /// The encoded name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Subscriber => "subscriber",
            ActorKind::SystemClient => "system_client",
            ActorKind::Operator => "operator",
            ActorKind::System => "system",
        }
    }
}

/// How the actor was authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Authentication {
    /// The method, e.g. `password+totp`, `mtls`, `private_key_jwt`, `host` (a local command).
    pub method: String,
    /// The session id, if any.
    pub session: Option<String>,
    /// The terminal identity (client certificate fingerprint), if any.
    pub terminal: Option<String>,
}

/// The actor of an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Actor {
    /// What kind of actor.
    pub kind: ActorKind,
    /// Its id (subscriber id, client id, operator id; `inkan` for the system).
    pub id: String,
    /// How it was authenticated.
    pub auth: Authentication,
}

/// How the event ended, as far as this entry knows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Written ahead of the action; a later entry records the result.
    Pending,
    /// Done.
    Succeeded,
    /// Refused or failed, with a short reason (no secrets, no personal data).
    Failed(String),
}

/// One logged event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// What happened.
    pub kind: EntryKind,
    /// When, in Unix milliseconds.
    pub time: i64,
    /// `production`, `staging` or `test`.
    pub environment: String,
    /// Who instructed it.
    pub actor: Actor,
    /// The key concerned, if any (`key_…`).
    pub key_id: Option<String>,
    /// Digests of what was signed or concerned, as `sha-256:<hex>` (or another algorithm name).
    pub digests: Vec<String>,
    /// The approval or SAD id, if any.
    pub approval: Option<String>,
    /// The outcome.
    pub outcome: Outcome,
    /// A short free-text reason or note (never personal data or secrets), if any.
    pub note: Option<String>,
}

impl Entry {
    /// The canonical bytes of the entry.
    pub fn encode(&self) -> Vec<u8> {
        todo!("helper L1")
    }

    /// Parses canonical bytes; refuses anything [`encode`](Self::encode) would not produce.
    pub fn decode(bytes: &[u8]) -> Result<Entry, LogError> {
        todo!("helper L1")
    }
}
