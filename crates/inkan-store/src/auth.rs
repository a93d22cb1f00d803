//! What the store remembers for authentication (criteria 2.2.1): subscribers, their accounts
//! and credentials, one-time activation codes, sessions and their tokens, system clients, the
//! replay cache of one-time proof ids, and each key's signing PIN.
//!
//! Records only: the rules (what expires when, how many failures lock an account) are the
//! `auth` module's and come in as arguments. Every method that changes more than one row, or
//! that must not race with another node doing the same, is one transaction in the
//! implementation; the doc comment of each method says what is atomic.
//!
//! Secrets are never stored in the clear: activation codes and tokens by their SHA-256, the
//! password and PIN as Argon2id PHC strings, the TOTP seed sealed (AES-256-GCM) by the caller.

use super::StoreError;
use crate::UnixMillis;

/// A fresh random id with a type prefix, e.g. `sub_` and 32 hex digits.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Whether `id` is `prefix`, `_` and 32 lowercase hex digits (ids given from outside are
/// checked before they reach a query).
pub fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hex| {
            hex.len() == 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The stored (and API) name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use named_enum;

named_enum! {
    /// What kind of subscriber (criteria 2.1.1).
    SubscriberKind {
        /// An organisation that e-seals VCs.
        Issuer = "issuer",
        /// A person who presents VCs.
        Holder = "holder",
    }
}

named_enum! {
    /// Whether a subscriber may still use the service.
    SubscriberState {
        /// In use.
        Active = "active",
        /// Use ended (criteria 2.2.2(3)C); kept for the evidence.
        Terminated = "terminated",
    }
}

named_enum! {
    /// What an account may do.
    AccountRole {
        /// An operator of the service (full roles come with the operations issue).
        Operator = "operator",
        /// A person acting for a subscriber.
        User = "user",
    }
}

named_enum! {
    /// Where an account is in its life.
    AccountState {
        /// Created; its activation code has not been used yet.
        Pending = "pending",
        /// Password and TOTP set; may log in.
        Active = "active",
        /// Switched off by an operator or by termination.
        Disabled = "disabled",
    }
}

named_enum! {
    /// How a system client proves who it is (criteria 2.2.1(1)).
    ClientAuthMethod {
        /// Mutual TLS with a registered certificate (RFC 8705 `self_signed_tls_client_auth`,
        /// or a certificate under a configured trust anchor).
        Mtls = "tls_client_auth",
        /// A JWT signed with a registered key (RFC 7523 `private_key_jwt`).
        PrivateKeyJwt = "private_key_jwt",
    }
}

named_enum! {
    /// Which token of a session.
    TokenKind {
        /// Short-lived; presented on each call.
        Access = "access",
        /// Longer-lived; exchanged (once) for a new pair.
        Refresh = "refresh",
    }
}

/// A subscriber: an issuer organisation or a holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberRecord {
    /// `sub_…`.
    pub id: String,
    /// Issuer or holder.
    pub kind: SubscriberKind,
    /// Display name.
    pub name: String,
    /// `production`, `staging` or `test`.
    pub environment: String,
    /// Active or terminated.
    pub state: SubscriberState,
    /// When it was created.
    pub created_at: UnixMillis,
}

/// An account that can log in: an operator, or a user of a subscriber.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// `acc_…`.
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// Operator or user.
    pub role: AccountRole,
    /// The subscriber a user acts for (`None` for operators).
    pub subscriber: Option<String>,
    /// Argon2id PHC string, once set at activation.
    pub password_hash: Option<String>,
    /// The TOTP seed, sealed by the caller, once activation completed.
    pub totp_sealed: Option<Vec<u8>>,
    /// The seed being enrolled (between the two activation steps).
    pub totp_pending: Option<Vec<u8>>,
    /// The last TOTP time step accepted (a code is never accepted twice).
    pub last_totp_step: Option<i64>,
    /// Consecutive failed logins.
    pub failed_logins: u32,
    /// Locked until then, if locked.
    pub locked_until: Option<UnixMillis>,
    /// Pending, active or disabled.
    pub state: AccountState,
    /// When it was created.
    pub created_at: UnixMillis,
    /// When it last changed.
    pub updated_at: UnixMillis,
}

impl std::fmt::Debug for AccountRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("subscriber", &self.subscriber)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "totp_sealed",
                &self.totp_sealed.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "totp_pending",
                &self.totp_pending.as_ref().map(|_| "[redacted]"),
            )
            .field("failed_logins", &self.failed_logins)
            .field("locked_until", &self.locked_until)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// A one-time activation code, stored by its SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationCodeRecord {
    /// SHA-256 of the code, lowercase hex.
    pub code_hash: String,
    /// The account it activates.
    pub account_id: String,
    /// When it was issued.
    pub created_at: UnixMillis,
    /// When it stops working.
    pub expires_at: UnixMillis,
    /// When it was used, if it was.
    pub used_at: Option<UnixMillis>,
}

/// A logged-in session of an account or a system client (criteria 2.2.1(4)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// `ses_…`.
    pub id: String,
    /// The account, for a user or operator session.
    pub account_id: Option<String>,
    /// The client, for a system client session.
    pub client_id: Option<String>,
    /// The subscriber the caller acts for (`None` for operators).
    pub subscriber: Option<String>,
    /// How the caller authenticated, e.g. `password+totp`, `mtls`, `private_key_jwt`.
    pub method: String,
    /// DPoP binding: the JWK SHA-256 thumbprint of the proof key (RFC 9449 `cnf.jkt`).
    pub jkt: Option<String>,
    /// mTLS binding: the SHA-256 thumbprint of the client certificate (RFC 8705 `x5t#S256`).
    pub x5t: Option<String>,
    /// For system clients: the scope granted, as JSON.
    pub scope: Option<String>,
    /// When it started.
    pub created_at: UnixMillis,
    /// When a token of it was last used (the idle timeout runs from here).
    pub last_seen_at: UnixMillis,
    /// The absolute end, whatever the activity.
    pub expires_at: UnixMillis,
    /// When it was ended early (logout, revocation, refresh-token reuse), if it was.
    pub revoked_at: Option<UnixMillis>,
    /// Why it was ended early.
    pub revoked_reason: Option<String>,
}

/// A bearer of a session, stored by its SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the token, lowercase hex.
    pub token_hash: String,
    /// Its session.
    pub session_id: String,
    /// Access or refresh.
    pub kind: TokenKind,
    /// When it was issued.
    pub created_at: UnixMillis,
    /// When it stops working.
    pub expires_at: UnixMillis,
    /// For refresh tokens: when it was exchanged, if it was.
    pub used_at: Option<UnixMillis>,
}

/// What [`AuthStore::rotate_refresh_token`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was fresh: it is now used and the new tokens are stored.
    Rotated(SessionRecord),
    /// The token had been used before: a sign it was stolen. Its session is now revoked
    /// (reason `refresh token reuse`) and nothing was stored.
    Reused(SessionRecord),
    /// No such token, not a refresh token, its session is revoked, or (unused) it or its
    /// session has expired (`now >= expires_at`): nothing changed.
    Unknown,
}

/// What [`AuthStore::count_attempt`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Counted: its secrets may be checked.
    Admitted {
        /// The account after counting.
        account: AccountRecord,
        /// The lock this attempt set (its count reached the maximum): only this attempt's
        /// success lifts it.
        lock: Option<UnixMillis>,
    },
    /// The account is locked or not active: nothing counted, nothing to check.
    Refused(AccountRecord),
}

/// A system client of an organisation (criteria 2.2.1(1)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// `cli_…`.
    pub id: String,
    /// The organisation it acts for.
    pub subscriber: String,
    /// Display name.
    pub name: String,
    /// mTLS or `private_key_jwt`.
    pub auth_method: ClientAuthMethod,
    /// For mTLS: SHA-256 thumbprint (base64url) of the registered certificate.
    pub certificate_thumbprint: Option<String>,
    /// For `private_key_jwt`: the registered public JWK, as JSON.
    pub jwk: Option<String>,
    /// The scope it may be granted, as JSON (keys and operations).
    pub scope: String,
    /// Whether it may still get tokens.
    pub active: bool,
    /// When it was registered.
    pub created_at: UnixMillis,
}

/// The signing PIN of a key (criteria 2.2.3(2)): separate from the login password.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPinRecord {
    /// The key.
    pub key_id: String,
    /// Argon2id PHC string.
    pub pin_hash: String,
    /// When it was set.
    pub updated_at: UnixMillis,
}

impl std::fmt::Debug for KeyPinRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPinRecord")
            .field("key_id", &self.key_id)
            .field("pin_hash", &"[redacted]")
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Authentication records. Part of [`super::Store`]; both engines pass the same conformance
/// suite (`tests/auth_store_conformance.rs`).
#[async_trait::async_trait]
pub trait AuthStore: Send + Sync {
    // -- Subscribers ----------------------------------------------------------------------

    /// Adds a subscriber. [`StoreError::Conflict`] if the id exists.
    async fn insert_subscriber(&self, subscriber: &SubscriberRecord) -> Result<(), StoreError>;

    /// The subscriber with this id.
    async fn get_subscriber(&self, id: &str) -> Result<Option<SubscriberRecord>, StoreError>;

    /// Every subscriber, oldest first.
    async fn list_subscribers(&self) -> Result<Vec<SubscriberRecord>, StoreError>;

    // -- Accounts and activation ------------------------------------------------------------

    /// Adds an account and its first activation code, atomically. [`StoreError::Conflict`] if
    /// the id or the username exists (usernames compare exactly), the subscriber does not, the
    /// code's hash exists, or the code is for another account; nothing is stored then.
    async fn insert_account(
        &self,
        account: &AccountRecord,
        code: &ActivationCodeRecord,
    ) -> Result<(), StoreError>;

    /// The account with this id.
    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError>;

    /// The account with this username.
    async fn get_account_by_username(
        &self,
        username: &str,
    ) -> Result<Option<AccountRecord>, StoreError>;

    /// The activation code with this hash, used or not.
    async fn get_activation_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<ActivationCodeRecord>, StoreError>;

    /// Gives a `pending` account a new activation code (the old one expired or was lost),
    /// atomically: deletes the account's unused codes (they stop working, for either step),
    /// clears the password hash and pending TOTP seed an earlier code may have set (the next
    /// activation starts over), sets `updated_at` to the code's `created_at`, and stores
    /// `code`. `NotFound` for an unknown account; `Conflict` if it is not `pending` or the
    /// code's hash exists (even as one of the account's own codes), changing nothing.
    async fn replace_activation_code(&self, code: &ActivationCodeRecord) -> Result<(), StoreError>;

    /// First activation step, atomically: if the code is unused and `now < expires_at` and
    /// its account is `pending`, sets the account's password hash and pending TOTP seed
    /// (replacing any earlier attempt's) and `updated_at`, and returns the account. Otherwise
    /// [`StoreError::Conflict`] (or `NotFound` for an unknown code), changing nothing.
    async fn begin_activation(
        &self,
        code_hash: &str,
        password_hash: &str,
        totp_pending: &[u8],
        now: UnixMillis,
    ) -> Result<AccountRecord, StoreError>;

    /// Second activation step, atomically: if the code is unused and unexpired (`now <
    /// expires_at`), its account `pending` with a pending seed, marks the code used (`now`),
    /// moves the seed to `totp_sealed`, records `totp_step` as the last accepted step and makes
    /// the account `active`. Otherwise `Conflict` (or `NotFound`), changing nothing.
    async fn complete_activation(
        &self,
        code_hash: &str,
        totp_step: i64,
        now: UnixMillis,
    ) -> Result<AccountRecord, StoreError>;

    /// Counts an authentication attempt before its secrets are checked, atomically (one
    /// `UPDATE … RETURNING`, criteria 2.2.1(2)): if the account is `active` and not locked
    /// (`locked_until` unset or `<= now`), adds one to `failed_logins`; when that reaches
    /// `max_failures`, locks it (`locked_until = now + lock_millis`, count back to zero) and
    /// says so in [`Attempt::Admitted::lock`]. Otherwise changes nothing and answers
    /// [`Attempt::Refused`]. Every attempt counts as a failure until its success says
    /// otherwise ([`record_login_success`](Self::record_login_success)), so of any number of
    /// concurrent attempts at most `max_failures` are admitted. `NotFound` for an unknown
    /// account.
    async fn count_attempt(
        &self,
        account_id: &str,
        max_failures: u32,
        lock_millis: i64,
        now: UnixMillis,
    ) -> Result<Attempt, StoreError>;

    /// Records the success of an attempt [`count_attempt`](Self::count_attempt) admitted,
    /// atomically: only if `totp_step` (when given) is greater than the last accepted step, or
    /// none was accepted yet, and the account is not locked by anything but `own_lock` (the
    /// lock this attempt set, if it set one), stores the step, resets `failed_logins` and
    /// clears `locked_until`. Else `Conflict` saying which (the code was used already, or the
    /// account was locked meanwhile: a success never lifts a lock another attempt set),
    /// changing nothing. `NotFound` for an unknown account.
    async fn record_login_success(
        &self,
        account_id: &str,
        totp_step: Option<i64>,
        own_lock: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<(), StoreError>;

    /// Clears a lock and the failure count (an operator's action). `NotFound` for an unknown
    /// account.
    async fn unlock_account(&self, account_id: &str, now: UnixMillis) -> Result<(), StoreError>;

    // -- Sessions and tokens --------------------------------------------------------------

    /// Adds a session and its first tokens, atomically. `Conflict` on a duplicate id or hash,
    /// an unknown account, client or subscriber, or a token of another session; nothing is
    /// stored then.
    async fn insert_session(
        &self,
        session: &SessionRecord,
        tokens: &[TokenRecord],
    ) -> Result<(), StoreError>;

    /// The session with this id, revoked or not.
    async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// The token with this hash and its session.
    async fn get_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(TokenRecord, SessionRecord)>, StoreError>;

    /// Sets the session's `last_seen_at` to `now` (never moves it back). `NotFound` for an
    /// unknown session.
    async fn touch_session(&self, id: &str, now: UnixMillis) -> Result<(), StoreError>;

    /// Exchanges a refresh token, atomically (see [`Rotation`]). `new_tokens` belong to the
    /// same session; on `Rotated` the session's `last_seen_at` becomes `now` (never moves
    /// back). `Conflict` if a new token is of another session or its hash exists, changing
    /// nothing. Of several concurrent exchanges of one token, one is `Rotated` and the next
    /// `Reused` (which revokes the session).
    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        new_tokens: &[TokenRecord],
        now: UnixMillis,
    ) -> Result<Rotation, StoreError>;

    /// Ends one session (if not revoked already: the first reason and time stay). Returns
    /// whether it changed anything (`false` for an unknown session).
    async fn revoke_session(
        &self,
        id: &str,
        reason: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    /// Ends every open session (not revoked, `now < expires_at`) recorded for the subscriber
    /// or belonging to one of its accounts or clients. Returns how many.
    async fn revoke_subscriber_sessions(
        &self,
        subscriber: &str,
        reason: &str,
        now: UnixMillis,
    ) -> Result<u64, StoreError>;

    /// Deletes tokens and sessions that ended before `before` (housekeeping): sessions whose
    /// `expires_at` or `revoked_at` is earlier, with their tokens, and tokens whose
    /// `expires_at` is earlier. Returns how many rows went.
    async fn purge_sessions(&self, before: UnixMillis) -> Result<u64, StoreError>;

    // -- One-time proof ids (DPoP `jti`, client assertion `jti`) --------------------------

    /// Remembers `id` until `expires_at`, atomically across nodes: `true` if it was new,
    /// `false` if it was already remembered and unexpired (`now < expires_at`: a replay).
    /// Forgets expired ids on the way (a bounded batch per call). Of several concurrent calls
    /// with one id, exactly one gets `true`.
    async fn remember_once(
        &self,
        id: &str,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;

    // -- System clients -------------------------------------------------------------------

    /// Registers a client. `Conflict` on a duplicate id, an unknown subscriber, or a
    /// certificate thumbprint already registered to another client.
    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError>;

    /// The client with this id.
    async fn get_client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;

    /// The client whose registered certificate has this thumbprint.
    async fn get_client_by_thumbprint(
        &self,
        thumbprint: &str,
    ) -> Result<Option<ClientRecord>, StoreError>;

    /// The subscriber's clients, oldest first.
    async fn list_clients(&self, subscriber: &str) -> Result<Vec<ClientRecord>, StoreError>;

    // -- Signing PINs ---------------------------------------------------------------------

    /// Sets (or replaces) the key's PIN. `NotFound` if the key is not registered.
    async fn set_key_pin(&self, pin: &KeyPinRecord) -> Result<(), StoreError>;

    /// The key's PIN, if set.
    async fn get_key_pin(&self, key_id: &str) -> Result<Option<KeyPinRecord>, StoreError>;
}
