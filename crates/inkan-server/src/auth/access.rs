//! Access control on keys (criteria 2.2.1(1)): every key belongs to a subscriber, and a caller
//! may use a key only if it acts for that subscriber and its scope allows the operation.
//!
//! Owns [`Scope`] (what a system client may be granted: named keys, named operations), its
//! parsing from registration JSON and from an OAuth `scope` string, and [`authorize_key`].
//! Operators act on the service, not with subscribers' keys: they may read a key's public
//! record but never sign with it. Must never widen a scope: a token's scope is always a subset
//! of what the client was registered with.

use super::{AuthError, Caller, CallerKind};
use inkan_store::{KeyRecord, KeyState};
use serde::{Deserialize, Serialize};

/// What may be done with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Read the key's public record (public key, certificate, status).
    Read,
    /// Sign with it.
    Sign,
}

impl Operation {
    /// The name used in scopes.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Sign => "sign",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Operation::Read),
            "sign" => Some(Operation::Sign),
            _ => None,
        }
    }
}

/// One key and what may be done with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyGrant {
    /// The key id.
    pub key: String,
    /// The operations allowed.
    pub operations: Vec<Operation>,
    /// The kinds of document it may sign (`vc+jwt`, `ldp_vc`, `dc+sd-jwt`, `mso_mdoc`,
    /// `csc.signHash`); any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<String>>,
    /// At most this many signatures per minute with this key (counted per node); no limit
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_minute: Option<u32>,
}

/// A system client's scope: named keys and operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// The keys granted.
    pub keys: Vec<KeyGrant>,
}

/// Most keys one scope may name.
const MAX_GRANTS: usize = 256;

impl Scope {
    /// Checks a scope given at registration: known key ids, at least one operation each, no
    /// key twice.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.keys.is_empty() || self.keys.len() > MAX_GRANTS {
            return Err(AuthError::BadRequest(format!(
                "a scope names 1 to {MAX_GRANTS} keys"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for grant in &self.keys {
            inkan_store::KeyId::parse(&grant.key).map_err(AuthError::BadRequest)?;
            if grant.max_per_minute == Some(0) {
                return Err(AuthError::BadRequest(format!(
                    "max_per_minute for {} must be at least 1",
                    grant.key
                )));
            }
            if grant.operations.is_empty() {
                return Err(AuthError::BadRequest(format!(
                    "the scope grants no operation on {}",
                    grant.key
                )));
            }
            if !seen.insert(grant.key.as_str()) {
                return Err(AuthError::BadRequest(format!(
                    "the scope names {} twice",
                    grant.key
                )));
            }
        }
        Ok(())
    }

    /// The OAuth `scope` string: `sign:key_… read:key_…`.
    pub fn to_oauth(&self) -> String {
        let mut parts = Vec::new();
        for grant in &self.keys {
            for op in &grant.operations {
                parts.push(format!("{}:{}", op.as_str(), grant.key));
            }
        }
        parts.join(" ")
    }

    /// The part of `self` that an OAuth `scope` request names (`None`: all of it). Refuses a
    /// request for anything `self` does not hold.
    pub fn narrow(&self, requested: Option<&str>) -> Result<Scope, AuthError> {
        let Some(requested) = requested.filter(|r| !r.trim().is_empty()) else {
            return Ok(self.clone());
        };
        let mut out = Scope::default();
        for item in requested.split_ascii_whitespace() {
            let (op, key) = item
                .split_once(':')
                .and_then(|(op, key)| Some((Operation::parse(op)?, key)))
                .ok_or_else(|| {
                    AuthError::BadRequest(format!(
                        "scope item {item:?} is not operation:key (read or sign)"
                    ))
                })?;
            if !self.allows(key, op) {
                return Err(AuthError::Forbidden(format!(
                    "scope {item:?} is not registered for this client"
                )));
            }
            match out.keys.iter_mut().find(|g| g.key == key) {
                Some(grant) if !grant.operations.contains(&op) => grant.operations.push(op),
                Some(_) => {}
                None => {
                    let registered = self.grant(key);
                    out.keys.push(KeyGrant {
                        key: key.into(),
                        operations: vec![op],
                        formats: registered.and_then(|g| g.formats.clone()),
                        max_per_minute: registered.and_then(|g| g.max_per_minute),
                    });
                }
            }
        }
        Ok(out)
    }

    /// The grant for `key`, if any.
    pub fn grant(&self, key: &str) -> Option<&KeyGrant> {
        self.keys.iter().find(|g| g.key == key)
    }

    /// Whether the scope allows `op` on `key`.
    pub fn allows(&self, key: &str, op: Operation) -> bool {
        self.keys
            .iter()
            .any(|g| g.key == key && g.operations.contains(&op))
    }
}

/// Whether the caller's token scope allows `op` on the key `key_id`: users act for their whole
/// subscriber; a system client only within its scope, and a client without one may do nothing
/// (fail closed). The subscriber check is the caller's.
pub fn scope_allows(caller: &Caller, key_id: &str, op: Operation) -> bool {
    match (caller.kind, &caller.scope) {
        (_, Some(scope)) => scope.allows(key_id, op),
        (CallerKind::Client, None) => false,
        (_, None) => true,
    }
}

/// Refuses unless `caller` may do `op` with `key`. A key of another subscriber is reported as
/// not found, so callers cannot probe for other subscribers' key ids.
pub fn authorize_key(caller: &Caller, key: &KeyRecord, op: Operation) -> Result<(), AuthError> {
    let not_found = || AuthError::NotFound(format!("no key {}", key.id));
    match caller.kind {
        CallerKind::Operator => {
            if op == Operation::Read {
                caller.require(super::operators::Permission::Read)
            } else {
                Err(AuthError::Forbidden(
                    "operators do not sign with subscribers' keys".into(),
                ))
            }
        }
        CallerKind::User | CallerKind::Client => {
            if caller.subscriber.as_deref() != Some(key.owner.as_str()) {
                return Err(not_found());
            }
            if !scope_allows(caller, key.id.as_str(), op) {
                return Err(AuthError::Forbidden(format!(
                    "the token's scope does not allow {} on {}",
                    op.as_str(),
                    key.id
                )));
            }
            if op == Operation::Sign && key.state != KeyState::Active {
                return Err(AuthError::Conflict(format!(
                    "key {} is {}",
                    key.id,
                    key.state.as_str()
                )));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "key_00000000000000000000000000000001";
    const K2: &str = "key_00000000000000000000000000000002";

    fn scope() -> Scope {
        Scope {
            keys: vec![
                KeyGrant {
                    key: K1.into(),
                    operations: vec![Operation::Read, Operation::Sign],
                    formats: Some(vec!["vc+jwt".into()]),
                    max_per_minute: Some(10),
                },
                KeyGrant {
                    key: K2.into(),
                    operations: vec![Operation::Read],
                    formats: None,
                    max_per_minute: None,
                },
            ],
        }
    }

    #[test]
    fn narrowing_never_widens() {
        let s = scope();
        assert_eq!(s.narrow(None).unwrap(), s);
        let narrowed = s.narrow(Some(&format!("sign:{K1}"))).unwrap();
        assert!(narrowed.allows(K1, Operation::Sign));
        assert_eq!(narrowed.keys[0].formats, Some(vec!["vc+jwt".to_owned()]));
        assert_eq!(narrowed.keys[0].max_per_minute, Some(10));
        assert!(!narrowed.allows(K1, Operation::Read));
        assert!(!narrowed.allows(K2, Operation::Read));
        assert!(matches!(
            s.narrow(Some(&format!("sign:{K2}"))),
            Err(AuthError::Forbidden(_))
        ));
        assert!(matches!(
            s.narrow(Some("delete:key_x")),
            Err(AuthError::BadRequest(_))
        ));
        assert_eq!(s.to_oauth(), format!("read:{K1} sign:{K1} read:{K2}"));
    }

    #[test]
    fn validation_refuses_empty_duplicate_and_malformed_grants() {
        assert!(scope().validate().is_ok());
        assert!(Scope::default().validate().is_err());
        let mut dup = scope();
        dup.keys[1].key = K1.into();
        assert!(dup.validate().is_err());
        let mut bad = scope();
        bad.keys[0].key = "key_x".into();
        assert!(bad.validate().is_err());
        let mut none = scope();
        none.keys[0].operations.clear();
        assert!(none.validate().is_err());
        let mut zero = scope();
        zero.keys[0].max_per_minute = Some(0);
        assert!(zero.validate().is_err());
    }
}
