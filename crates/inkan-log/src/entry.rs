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
//!
//! # Encoding, version 1
//!
//! One JSON object, no whitespace, members in this (lexicographic) order, strings escaped
//! as RFC 8785 (JCS) escapes them, `time` a plain integer:
//!
//! | member | value | when |
//! |---|---|---|
//! | `actor` | `{"auth":{"method":…,"session":…,"terminal":…},"id":…,"kind":…}` (`session`, `terminal` omitted when absent) | always |
//! | `approval` | string | when present |
//! | `digests` | array of strings, in the entry's order (possibly `[]`) | always |
//! | `environment` | string | always |
//! | `failure` | the reason, a string (possibly empty) | only when `outcome` is `failed` |
//! | `key_id` | string | when present |
//! | `kind` | [`EntryKind::as_str`], e.g. `signature.made` | always |
//! | `note` | string | when present |
//! | `outcome` | `pending`, `succeeded` or `failed` | always |
//! | `time` | Unix milliseconds, integer | always |
//! | `v` | `1` | always |
//!
//! For example:
//!
//! ```text
//! {"actor":{"auth":{"method":"password+totp","session":"ses_1"},"id":"sub_1","kind":"subscriber"},"digests":["sha-256:ab…"],"environment":"test","key_id":"key_1","kind":"signature.requested","outcome":"pending","time":1700000000000,"v":1}
//! ```
//!
//! This module owns the event types and their bytes. It never hashes, stores or signs them,
//! and it never holds secrets or document bodies.

use crate::LogError;
use crate::jcs::push_string;
use serde_json::{Map, Value};

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
    /// A subscriber (issuer organisation or holder) was created.
    SubscriberCreated,
    /// An account was created and its activation code issued.
    AccountCreated,
    /// An account was activated (password and TOTP set) or an activation step failed.
    AccountActivated,
    /// A login succeeded or failed.
    Login,
    /// An account was locked after too many failed logins, or unlocked.
    AccountLocked,
    /// A system client was issued an access token, or refused one.
    TokenIssued,
    /// A session's tokens were refreshed, or a refresh was refused.
    TokenRefreshed,
    /// A session was ended by its user.
    Logout,
    /// Sessions were revoked (by an operator, or on refresh-token reuse).
    SessionsRevoked,
    /// A system client was registered.
    ClientRegistered,
    /// A request was refused by access control.
    AccessRefused,
    /// A key's signing PIN was set or changed, or a change was refused.
    KeyPinSet,
    /// Signature activation data was issued for listed digests, or its issue was refused.
    SignatureActivated,
    /// A signed document reached its registered destination, or its delivery was given up.
    DocumentDelivered,
    /// A key was closed or re-opened outside its generation and destruction (a renewal
    /// closes the old key first, and re-opens it if the renewal fails).
    KeyStateChanged,
    /// A status list was created for an issuer's credentials (issue 16).
    StatusListCreated,
    /// The status of an issued credential's entry in a status list changed (revoked,
    /// suspended, reinstated).
    CredentialStatusChanged,
    /// A person added or removed a passkey (issue 18).
    PasskeyChanged,
}

impl EntryKind {
    /// Every kind.
    pub const ALL: [EntryKind; 29] = [
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
        EntryKind::SubscriberCreated,
        EntryKind::AccountCreated,
        EntryKind::AccountActivated,
        EntryKind::Login,
        EntryKind::AccountLocked,
        EntryKind::TokenIssued,
        EntryKind::TokenRefreshed,
        EntryKind::Logout,
        EntryKind::SessionsRevoked,
        EntryKind::ClientRegistered,
        EntryKind::AccessRefused,
        EntryKind::KeyPinSet,
        EntryKind::SignatureActivated,
        EntryKind::DocumentDelivered,
        EntryKind::KeyStateChanged,
        EntryKind::StatusListCreated,
        EntryKind::CredentialStatusChanged,
        EntryKind::PasskeyChanged,
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
            EntryKind::SubscriberCreated => "subscriber.created",
            EntryKind::AccountCreated => "account.created",
            EntryKind::AccountActivated => "account.activated",
            EntryKind::Login => "auth.login",
            EntryKind::AccountLocked => "auth.locked",
            EntryKind::TokenIssued => "auth.token_issued",
            EntryKind::TokenRefreshed => "auth.token_refreshed",
            EntryKind::Logout => "auth.logout",
            EntryKind::SessionsRevoked => "auth.sessions_revoked",
            EntryKind::ClientRegistered => "client.registered",
            EntryKind::AccessRefused => "access.refused",
            EntryKind::KeyPinSet => "key.pin_set",
            EntryKind::SignatureActivated => "signature.activated",
            EntryKind::DocumentDelivered => "document.delivered",
            EntryKind::KeyStateChanged => "key.state_changed",
            EntryKind::StatusListCreated => "status_list.created",
            EntryKind::CredentialStatusChanged => "credential.status_changed",
            EntryKind::PasskeyChanged => "auth.passkey_changed",
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

/// The largest encoded entry [`Entry::decode`] accepts.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

impl EntryKind {
    /// The kind with this encoded name.
    pub fn from_name(name: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl ActorKind {
    /// Every kind of actor.
    pub const ALL: [ActorKind; 4] = [
        ActorKind::Subscriber,
        ActorKind::SystemClient,
        ActorKind::Operator,
        ActorKind::System,
    ];

    /// The actor kind with this encoded name.
    pub fn from_name(name: &str) -> Option<ActorKind> {
        ActorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl Outcome {
    /// The encoded name: `pending`, `succeeded` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Succeeded => "succeeded",
            Outcome::Failed(_) => "failed",
        }
    }
}

impl Entry {
    /// The canonical bytes of the entry.
    pub fn encode(&self) -> Vec<u8> {
        let mut o = String::with_capacity(256);
        o.push_str("{\"actor\":{\"auth\":{\"method\":");
        push_string(&mut o, &self.actor.auth.method);
        if let Some(session) = &self.actor.auth.session {
            o.push_str(",\"session\":");
            push_string(&mut o, session);
        }
        if let Some(terminal) = &self.actor.auth.terminal {
            o.push_str(",\"terminal\":");
            push_string(&mut o, terminal);
        }
        o.push_str("},\"id\":");
        push_string(&mut o, &self.actor.id);
        o.push_str(",\"kind\":");
        push_string(&mut o, self.actor.kind.as_str());
        o.push('}');
        if let Some(approval) = &self.approval {
            o.push_str(",\"approval\":");
            push_string(&mut o, approval);
        }
        o.push_str(",\"digests\":[");
        for (i, d) in self.digests.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            push_string(&mut o, d);
        }
        o.push_str("],\"environment\":");
        push_string(&mut o, &self.environment);
        if let Outcome::Failed(reason) = &self.outcome {
            o.push_str(",\"failure\":");
            push_string(&mut o, reason);
        }
        if let Some(key_id) = &self.key_id {
            o.push_str(",\"key_id\":");
            push_string(&mut o, key_id);
        }
        o.push_str(",\"kind\":");
        push_string(&mut o, self.kind.as_str());
        if let Some(note) = &self.note {
            o.push_str(",\"note\":");
            push_string(&mut o, note);
        }
        o.push_str(",\"outcome\":");
        push_string(&mut o, self.outcome.as_str());
        o.push_str(",\"time\":");
        o.push_str(&self.time.to_string());
        o.push_str(",\"v\":");
        o.push_str(&VERSION.to_string());
        o.push('}');
        o.into_bytes()
    }

    /// The RFC 9162 leaf hash of the canonical bytes.
    pub fn leaf_hash(&self) -> crate::Hash {
        crate::hash::leaf_hash(&self.encode())
    }

    /// Parses canonical bytes; refuses anything [`encode`](Self::encode) would not produce.
    ///
    /// Refused: more than [`MAX_ENTRY_BYTES`], invalid JSON, another version, unknown or
    /// missing members, unknown kinds or outcomes, `failure` without `failed` (or the
    /// reverse), and any byte sequence that differs from the re-encoding (member order,
    /// whitespace, escapes, duplicate members, number forms).
    pub fn decode(bytes: &[u8]) -> Result<Entry, LogError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(bad(format!(
                "{} bytes, more than the {MAX_ENTRY_BYTES} allowed",
                bytes.len()
            )));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
        let Value::Object(top) = value else {
            return Err(bad("not a JSON object".into()));
        };
        match top.get("v") {
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(VERSION)) => {}
            Some(v) => return Err(bad(format!("unsupported version {v}"))),
            None => return Err(bad("no version member \"v\"".into())),
        }
        only_members(
            &top,
            "entry",
            &[
                "actor",
                "approval",
                "digests",
                "environment",
                "failure",
                "key_id",
                "kind",
                "note",
                "outcome",
                "time",
                "v",
            ],
        )?;
        let kind_name = req_str(&top, "kind")?;
        let kind = EntryKind::from_name(kind_name)
            .ok_or_else(|| bad(format!("unknown kind \"{kind_name}\"")))?;
        let time = match top.get("time") {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| bad("time is not an integer".into()))?,
            Some(_) => return Err(bad("time is not an integer".into())),
            None => return Err(bad("missing member \"time\"".into())),
        };
        let environment = req_str(&top, "environment")?.to_owned();
        let actor = match top.get("actor") {
            Some(Value::Object(a)) => decode_actor(a)?,
            Some(_) => return Err(bad("actor is not an object".into())),
            None => return Err(bad("missing member \"actor\"".into())),
        };
        let digests = match top.get("digests") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|d| {
                    d.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("a digest is not a string".into()))
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(bad("digests is not an array".into())),
            None => return Err(bad("missing member \"digests\"".into())),
        };
        let failure = opt_str(&top, "failure")?;
        let outcome = match (req_str(&top, "outcome")?, failure) {
            ("pending", None) => Outcome::Pending,
            ("succeeded", None) => Outcome::Succeeded,
            ("failed", Some(reason)) => Outcome::Failed(reason),
            ("failed", None) => return Err(bad("outcome failed without a failure member".into())),
            ("pending" | "succeeded", Some(_)) => {
                return Err(bad(
                    "failure member with an outcome other than failed".into()
                ));
            }
            (other, _) => return Err(bad(format!("unknown outcome \"{other}\""))),
        };
        let entry = Entry {
            kind,
            time,
            environment,
            actor,
            key_id: opt_str(&top, "key_id")?,
            digests,
            approval: opt_str(&top, "approval")?,
            outcome,
            note: opt_str(&top, "note")?,
        };
        let canonical = entry.encode();
        if canonical != bytes {
            let at = canonical
                .iter()
                .zip(bytes)
                .take_while(|(a, b)| a == b)
                .count();
            return Err(bad(format!(
                "not canonical: differs from the canonical encoding at byte {at}"
            )));
        }
        Ok(entry)
    }
}

fn decode_actor(a: &Map<String, Value>) -> Result<Actor, LogError> {
    only_members(a, "actor", &["auth", "id", "kind"])?;
    let kind_name = req_str(a, "kind")?;
    let kind = ActorKind::from_name(kind_name)
        .ok_or_else(|| bad(format!("unknown actor kind \"{kind_name}\"")))?;
    let auth = match a.get("auth") {
        Some(Value::Object(auth)) => {
            only_members(auth, "actor.auth", &["method", "session", "terminal"])?;
            Authentication {
                method: req_str(auth, "method")?.to_owned(),
                session: opt_str(auth, "session")?,
                terminal: opt_str(auth, "terminal")?,
            }
        }
        Some(_) => return Err(bad("actor.auth is not an object".into())),
        None => return Err(bad("missing member \"actor.auth\"".into())),
    };
    Ok(Actor {
        kind,
        id: req_str(a, "id")?.to_owned(),
        auth,
    })
}

fn bad(detail: String) -> LogError {
    LogError::Malformed {
        what: "entry",
        detail,
    }
}

fn only_members(map: &Map<String, Value>, what: &str, allowed: &[&str]) -> Result<(), LogError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(bad(format!("unknown member \"{unknown}\" in {what}"))),
        None => Ok(()),
    }
}

fn req_str<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a str, LogError> {
    match map.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(format!("{name} is not a string"))),
        None => Err(bad(format!("missing member \"{name}\""))),
    }
}

fn opt_str(map: &Map<String, Value>, name: &str) -> Result<Option<String>, LogError> {
    match map.get(name) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{name} is not a string"))),
        None => Ok(None),
    }
}
