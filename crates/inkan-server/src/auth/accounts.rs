//! Subscribers, accounts and their credentials (criteria 2.2.1(1), (2)): credentials are
//! delivered as a one-time activation code (random, expiring, stored hashed, single use) with
//! which the user sets a password (Argon2id) and enrols TOTP (RFC 6238); login needs both,
//! failures lock the account after a configured number and are rate limited per source. While
//! an account is pending, its code can be replaced (expired or lost: a user's under dual
//! control, `operations::actions`); the bootstrap operator's is replaced on each start until it
//! is activated.
//!
//! An activation code is two halves, typed as `first.second`. Only the hash of the first half
//! bound to the second half's hash is kept, so the second half can be made — and handed to one
//! officer — before the first is made and handed to another ([`new_code_half`]): a user's code
//! is never whole in any single operator's hands (criteria 2.1.1(5), 2.1.3(12); SECURITY.md).
//!
//! Must never: store or log a password, seed, code or OTP in the clear; say to an
//! unauthenticated caller whether an account exists or why a login failed; hand one operator
//! both halves of a user's code.

use super::operators::Permission;
use super::{
    Auth, AuthError, Caller, claimed_actor, hash_in, password, random_secret, secret_hash, totp,
};
use crate::clock::UnixMillis;
use crate::log::Event;
use inkan_log::entry::{ActorKind, EntryKind, Outcome};
use inkan_store::StoreError;
use inkan_store::auth::{
    AccountRecord, AccountRole, AccountState, ActivationCodeRecord, Attempt, SubscriberKind,
    SubscriberRecord, SubscriberState, new_id,
};
use secrecy::SecretString;
use std::net::IpAddr;
use zeroize::Zeroizing;

/// Longest username.
const MAX_USERNAME: usize = 128;
/// Longest subscriber name.
const MAX_NAME: usize = 200;
/// Random bytes in each half of an activation code.
const ACTIVATION_HALF_BYTES: usize = 16;
/// Between the two halves of an activation code as it is typed (not in the base64url alphabet
/// of the halves).
pub const CODE_HALF_SEPARATOR: char = '.';
/// The issuer shown in authenticator apps.
const TOTP_ISSUER: &str = "Inkan";

/// A new account and the activation code to hand its user through a safe channel.
#[derive(Clone)]
pub struct NewAccount {
    /// The account.
    pub account_id: String,
    /// The username.
    pub username: String,
    /// The one-time activation code (shown once; only its hash is kept): the whole code, or
    /// only its first half when the second was made beforehand ([`new_code_half`]) and handed
    /// to someone else.
    pub activation_code: Zeroizing<String>,
    /// When the code stops working.
    pub expires_at: i64,
}

impl std::fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAccount")
            .field("account_id", &self.account_id)
            .field("username", &self.username)
            .field("activation_code", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The second half of an activation code, made before the code: the half is handed to one
/// officer now and kept nowhere; its hash is kept to bind the first half to it later.
pub struct CodeHalf {
    /// The half, shown once.
    pub half: Zeroizing<String>,
    /// Its hash (SHA-256, hex), kept.
    pub hash: String,
}

impl std::fmt::Debug for CodeHalf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeHalf")
            .field("half", &"[redacted]")
            .field("hash", &self.hash)
            .finish()
    }
}

/// A new random second half of an activation code.
pub fn new_code_half() -> CodeHalf {
    let half = Zeroizing::new(random_secret(ACTIVATION_HALF_BYTES));
    let hash = secret_hash(&half);
    CodeHalf { half, hash }
}

/// Whether `hash` looks like a [`CodeHalf`]'s hash (64 lowercase hex digits).
pub fn is_code_half_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The stored hash of a code whose first half is `first` and whose second half hashes to
/// `second_hash`.
fn bound_code_hash(first: &str, second_hash: &str) -> String {
    secret_hash(&format!("{first}{CODE_HALF_SEPARATOR}{second_hash}"))
}

/// The stored hash of an activation code as typed, `first.second`. Anything else (one half
/// alone, a half's hash in place of the half) hashes to what no code is stored as: every stored
/// hash is of a first half joined to a 64-digit hash, which a typed code without its second
/// half cannot produce.
pub(super) fn activation_code_hash(code: &str) -> String {
    match code.split_once(CODE_HALF_SEPARATOR) {
        Some((first, second)) if !first.is_empty() && !second.is_empty() => {
            bound_code_hash(first, &secret_hash(second))
        }
        _ => secret_hash(code),
    }
}

/// What the first activation step hands back: the TOTP seed to enrol.
pub struct TotpEnrolment {
    /// The seed, base32, for typing into an authenticator app.
    pub secret_base32: Zeroizing<String>,
    /// The `otpauth://` URI (for a QR code).
    pub uri: Zeroizing<String>,
}

impl std::fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrolment([redacted])")
    }
}

/// A login attempt's inputs.
pub struct LoginAttempt<'a> {
    /// The username.
    pub username: &'a str,
    /// The password.
    pub password: SecretString,
    /// The one-time password.
    pub otp: &'a str,
    /// Where it came from.
    pub source: IpAddr,
}

impl std::fmt::Debug for LoginAttempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("username", &self.username)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Checks a name given from outside: printable, no surrounding spaces, not too long.
pub(super) fn check_name(what: &str, value: &str, max: usize) -> Result<(), AuthError> {
    if value.is_empty()
        || value.len() > max
        || value.trim() != value
        || value.chars().any(char::is_control)
    {
        return Err(AuthError::BadRequest(format!(
            "{what} must be 1 to {max} bytes of printable text without surrounding spaces"
        )));
    }
    Ok(())
}

impl Auth {
    /// Refuses a subscriber or user created directly, outside an approved application: only a
    /// registration officer, and only in the `test` environment (fixtures, `inkan demo`,
    /// `inkan bench`). Elsewhere they come in through `operations::enrolment` (criteria
    /// 2.1.1).
    fn check_direct_enrolment(&self, operator: &Caller) -> Result<(), AuthError> {
        operator.require(Permission::Registration)?;
        if self.environment != crate::environment::Environment::Test {
            return Err(AuthError::Forbidden(format!(
                "in {} subscribers and users are enrolled through an approved application \
                 (POST /v1/applications)",
                self.environment
            )));
        }
        Ok(())
    }

    /// Creates a subscriber directly (the `test` environment only).
    pub async fn create_subscriber(
        &self,
        operator: &Caller,
        kind: SubscriberKind,
        name: &str,
    ) -> Result<SubscriberRecord, AuthError> {
        self.check_direct_enrolment(operator)?;
        self.enrol_subscriber(operator, kind, name).await
    }

    /// Creates a subscriber for an approved application (or a direct creation), logged.
    pub async fn enrol_subscriber(
        &self,
        operator: &Caller,
        kind: SubscriberKind,
        name: &str,
    ) -> Result<SubscriberRecord, AuthError> {
        operator.require(Permission::Registration)?;
        check_name("the subscriber name", name, MAX_NAME)?;
        let subscriber = SubscriberRecord {
            id: new_id("sub"),
            kind,
            name: name.into(),
            environment: self.environment.as_str().into(),
            state: SubscriberState::Active,
            created_at: self.now(),
        };
        let event = Event::new(EntryKind::SubscriberCreated, operator.actor()).note(format!(
            "{} {}",
            kind.as_str(),
            subscriber.id
        ));
        self.recorder
            .write_ahead(event, async {
                Ok::<_, AuthError>(self.store.insert_subscriber(&subscriber).await?)
            })
            .await?;
        Ok(subscriber)
    }

    /// An operator's read of a subscriber's record (personal data: logged, criteria
    /// 2.1.3(14)).
    pub async fn read_subscriber(
        &self,
        operator: &Caller,
        id: &str,
    ) -> Result<SubscriberRecord, AuthError> {
        operator.require(Permission::Read)?;
        let subscriber = self.subscriber(id).await?;
        self.record_operation(operator.actor(), None, format!("read subscriber {id}"))
            .await?;
        Ok(subscriber)
    }

    /// The subscriber, if it exists in this environment.
    pub async fn subscriber(&self, id: &str) -> Result<SubscriberRecord, AuthError> {
        let not_found = || AuthError::NotFound(format!("no subscriber {id}"));
        if !inkan_store::auth::is_id(id, "sub") {
            return Err(not_found());
        }
        match self.store.get_subscriber(id).await? {
            Some(s) if s.environment == self.environment.as_str() => Ok(s),
            _ => Err(not_found()),
        }
    }

    /// Creates a user account of `subscriber` directly (the `test` environment only),
    /// returning its activation code.
    pub async fn create_user(
        &self,
        operator: &Caller,
        subscriber: &str,
        username: &str,
    ) -> Result<NewAccount, AuthError> {
        self.check_direct_enrolment(operator)?;
        self.enrol_user(operator, subscriber, username, None).await
    }

    /// Creates a user account of an active `subscriber` for an approved application (or a
    /// direct creation), returning its activation code: only the first half when
    /// `second_half_hash` is the hash of a second half made beforehand ([`new_code_half`]).
    pub async fn enrol_user(
        &self,
        operator: &Caller,
        subscriber: &str,
        username: &str,
        second_half_hash: Option<&str>,
    ) -> Result<NewAccount, AuthError> {
        operator.require(Permission::Registration)?;
        let subscriber = self.subscriber(subscriber).await?;
        if subscriber.state != SubscriberState::Active {
            return Err(AuthError::Conflict(format!(
                "subscriber {} is {}",
                subscriber.id, subscriber.state
            )));
        }
        self.create_account(
            operator.actor(),
            username,
            AccountRole::User,
            Some(subscriber.id),
            second_half_hash,
        )
        .await
    }

    /// The bootstrap of a new deployment: creates the first operator account if there is none
    /// yet and returns its activation code. While that account is still `pending` (its
    /// operator never activated it, and the code may have expired), a call with `replace`
    /// gives it a fresh code (logged, actor `system`; the earlier one stops working) and
    /// returns it, so that a start until activation prints a working code; without `replace`
    /// (another node is running and printed the code in force) `None`. `None` once it is
    /// active (or disabled).
    pub async fn bootstrap_operator(
        &self,
        username: &str,
        replace: bool,
    ) -> Result<Option<NewAccount>, AuthError> {
        match self.store.get_account_by_username(username).await? {
            None => self
                .create_operator(
                    crate::service::system_actor(),
                    username,
                    super::operators::OperatorRole::Admin,
                )
                .await
                .map(Some),
            Some(account)
                if replace
                    && account.role == AccountRole::Operator
                    && account.state == AccountState::Pending =>
            {
                self.replace_code(crate::service::system_actor(), &account, None, None)
                    .await
                    .map(Some)
            }
            Some(_) => Ok(None),
        }
    }

    /// The user account `account_id`, if its activation code may be reissued: `NotFound` for
    /// an unknown account (or a user of another environment's subscriber), `Forbidden` for an
    /// operator's, `Conflict` for an account that is not pending or whose subscriber is not
    /// active.
    pub async fn reissuable_account(&self, account_id: &str) -> Result<AccountRecord, AuthError> {
        let not_found = || AuthError::NotFound(format!("no account {account_id}"));
        if !inkan_store::auth::is_id(account_id, "acc") {
            return Err(not_found());
        }
        let account = self
            .store
            .get_account(account_id)
            .await?
            .ok_or_else(not_found)?;
        if account.role == AccountRole::Operator {
            // Whoever holds a pending operator's new code becomes that operator (and registers
            // its terminal): an admin could make a second identity for dual control.
            return Err(AuthError::Forbidden(
                "an operator's activation code comes from the host (inkan operators add)".into(),
            ));
        }
        if let Some(subscriber) = &account.subscriber {
            let subscriber = self.subscriber(subscriber).await.map_err(|e| match e {
                AuthError::NotFound(_) => not_found(),
                other => other,
            })?;
            if subscriber.state != SubscriberState::Active {
                return Err(AuthError::Conflict(format!(
                    "subscriber {} is {}",
                    subscriber.id, subscriber.state
                )));
            }
        }
        if account.state != AccountState::Pending {
            return Err(AuthError::Conflict(format!(
                "account {} is {}, not pending activation",
                account.id, account.state
            )));
        }
        Ok(account)
    }

    /// Gives a pending user account a new activation code, when its code expired or was lost,
    /// as approved request `approval` (`account.activation_code`, dual control): the earlier
    /// code stops working, an activation begun with it starts over, and the first half is
    /// returned (for the approving officer) bound to the second half whose hash the requesting
    /// officer's request holds.
    pub async fn reissue_activation_code(
        &self,
        actor: inkan_log::entry::Actor,
        account_id: &str,
        second_half_hash: &str,
        approval: &str,
    ) -> Result<NewAccount, AuthError> {
        let account = self.reissuable_account(account_id).await?;
        self.replace_code(actor, &account, Some(second_half_hash), Some(approval))
            .await
    }

    /// A new random activation code for `account_id`, valid for the configured hours from
    /// `now`, and its record (the code's hash). With `second_half_hash` only a new first half
    /// is returned, bound to that second half; without, the whole code (`first.second`).
    fn new_activation_code(
        &self,
        account_id: &str,
        now: UnixMillis,
        second_half_hash: Option<&str>,
    ) -> (Zeroizing<String>, ActivationCodeRecord) {
        let first = Zeroizing::new(random_secret(ACTIVATION_HALF_BYTES));
        let (code, code_hash) = match second_half_hash {
            Some(second_hash) => (first.clone(), bound_code_hash(&first, second_hash)),
            None => {
                let second = new_code_half();
                let whole = format!("{}{CODE_HALF_SEPARATOR}{}", *first, *second.half);
                (Zeroizing::new(whole), bound_code_hash(&first, &second.hash))
            }
        };
        let hours = i64::try_from(self.config.activation_code_hours).unwrap_or(i64::MAX / 4);
        let record = ActivationCodeRecord {
            code_hash,
            account_id: account_id.into(),
            created_at: now,
            expires_at: now.saturating_add(hours.saturating_mul(3_600_000)),
            used_at: None,
        };
        (code, record)
    }

    /// Replaces a pending account's activation code with a new one (bound to
    /// `second_half_hash`, see [`new_activation_code`](Self::new_activation_code)) and logs it,
    /// naming the request `approval` that allowed it.
    async fn replace_code(
        &self,
        actor: inkan_log::entry::Actor,
        account: &AccountRecord,
        second_half_hash: Option<&str>,
        approval: Option<&str>,
    ) -> Result<NewAccount, AuthError> {
        if account.state != AccountState::Pending {
            return Err(AuthError::Conflict(format!(
                "account {} is {}, not pending activation",
                account.id, account.state
            )));
        }
        let (code, record) = self.new_activation_code(&account.id, self.now(), second_half_hash);
        let event = Event::new(EntryKind::AccountCreated, actor)
            .approval(approval)
            .note(format!("activation code reissued for {}", account.id));
        let change = async {
            self.store
                .replace_activation_code(&record)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        AuthError::NotFound(format!("no account {}", account.id))
                    }
                    StoreError::Conflict(why) => AuthError::Conflict(why),
                    other => other.into(),
                })
        };
        self.recorder.write_ahead(event, change).await?;
        Ok(NewAccount {
            account_id: account.id.clone(),
            username: account.username.clone(),
            activation_code: code,
            expires_at: record.expires_at,
        })
    }

    pub(super) async fn create_account(
        &self,
        actor: inkan_log::entry::Actor,
        username: &str,
        role: AccountRole,
        subscriber: Option<String>,
        second_half_hash: Option<&str>,
    ) -> Result<NewAccount, AuthError> {
        check_name("the username", username, MAX_USERNAME)?;
        let now = self.now();
        let account = AccountRecord {
            id: new_id("acc"),
            username: username.into(),
            role,
            subscriber,
            password_hash: None,
            totp_sealed: None,
            totp_pending: None,
            last_totp_step: None,
            failed_logins: 0,
            locked_until: None,
            state: AccountState::Pending,
            created_at: now,
            updated_at: now,
        };
        let (code, record) = self.new_activation_code(&account.id, now, second_half_hash);
        let event = Event::new(EntryKind::AccountCreated, actor).note(format!(
            "{} {}",
            role.as_str(),
            account.id
        ));
        let change = async {
            self.store
                .insert_account(&account, &record)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        AuthError::Conflict(format!("the username {username:?} is taken"))
                    }
                    other => other.into(),
                })
        };
        self.recorder.write_ahead(event, change).await?;
        Ok(NewAccount {
            account_id: account.id,
            username: username.into(),
            activation_code: code,
            expires_at: record.expires_at,
        })
    }

    /// Activation, step 1: with a valid code, sets the password and starts TOTP enrolment.
    /// May be repeated until step 2 (each time with a new seed).
    pub async fn begin_activation(
        &self,
        code: &str,
        new_password: SecretString,
        source: IpAddr,
    ) -> Result<TotpEnrolment, AuthError> {
        password::check_password_policy(&new_password)
            .map_err(|e| AuthError::BadRequest(e.to_string()))?;
        self.take_source_attempt(source).await?;
        let code_hash = activation_code_hash(code);
        let now = self.now();
        let refused = || async move {
            self.record_refusal(
                EntryKind::AccountActivated,
                claimed_actor(ActorKind::Subscriber, "unknown", "activation-code"),
                "invalid, used or expired activation code",
            )
            .await;
            AuthError::BadRequest("the activation code is invalid, used or expired".into())
        };
        // The seed is sealed under the account id, so it stays bound to the account after
        // activation; the store re-checks the code inside its transaction.
        let Some(record) = self.store.get_activation_code(&code_hash).await? else {
            return Err(refused().await);
        };
        let hashed = self
            .hash_work(move || password::hash(&new_password))
            .await?
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let seed = totp::new_seed();
        let sealed = self
            .seal
            .seal(&format!("totp/{}", record.account_id), &seed)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let account = match self
            .store
            .begin_activation(&code_hash, &hashed, &sealed, now)
            .await
        {
            Ok(account) => account,
            Err(StoreError::NotFound(_) | StoreError::Conflict(_)) => {
                return Err(refused().await);
            }
            Err(e) => return Err(e.into()),
        };
        self.source_succeeded(source).await;
        Ok(TotpEnrolment {
            secret_base32: Zeroizing::new(totp::base32(&seed)),
            uri: totp::provisioning_uri(TOTP_ISSUER, &account.username, &seed),
        })
    }

    /// Activation, step 2: proves the authenticator app holds the seed, uses up the code and
    /// makes the account active.
    pub async fn complete_activation(
        &self,
        code: &str,
        otp: &str,
        source: IpAddr,
        terminal: Option<&str>,
    ) -> Result<(), AuthError> {
        self.take_source_attempt(source).await?;
        let code_hash = activation_code_hash(code);
        let now = self.now();
        let refused = |reason: &'static str| async move {
            self.record_refusal(
                EntryKind::AccountActivated,
                claimed_actor(ActorKind::Subscriber, "unknown", "activation-code"),
                reason,
            )
            .await;
            AuthError::BadRequest(format!("activation refused: {reason}"))
        };
        let Some(record) = self.store.get_activation_code(&code_hash).await? else {
            return Err(refused("invalid, used or expired activation code").await);
        };
        let Some(account) = self.store.get_account(&record.account_id).await? else {
            return Err(refused("invalid, used or expired activation code").await);
        };
        let Some(sealed) = account.totp_pending.as_deref() else {
            return Err(refused("set the password first (activation step 1)").await);
        };
        let seed = self
            .seal
            .open(&format!("totp/{}", account.id), sealed)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let Some(step) = totp::check(&seed, otp, now) else {
            return Err(refused("the one-time password is wrong").await);
        };
        // An operator's first terminal is the one it activates from (criteria 2.1.3(14)).
        let operator_terminal = match (account.role, terminal) {
            (AccountRole::Operator, None) => {
                return Err(refused(
                    "an operator activates from its terminal: connect with the terminal's \
                     client certificate",
                )
                .await);
            }
            (AccountRole::Operator, Some(t)) => {
                if self.store.get_terminal(t).await?.is_some() {
                    return Err(refused("this client certificate is another terminal's").await);
                }
                Some(t)
            }
            (AccountRole::User, _) => None,
        };
        let activated = match self.store.complete_activation(&code_hash, step, now).await {
            Ok(account) => account,
            Err(StoreError::NotFound(_) | StoreError::Conflict(_)) => {
                return Err(refused("invalid, used or expired activation code").await);
            }
            Err(e) => return Err(e.into()),
        };
        let kind = match activated.role {
            AccountRole::Operator => ActorKind::Operator,
            AccountRole::User => ActorKind::Subscriber,
        };
        if let Some(thumbprint) = operator_terminal {
            self.register_first_terminal(&activated.id, thumbprint)
                .await?;
        }
        self.source_succeeded(source).await;
        let actor = claimed_actor(kind, &activated.id, "activation-code+totp");
        let event = Event::new(EntryKind::AccountActivated, actor);
        self.recorder.record(event, Outcome::Succeeded).await?;
        Ok(())
    }

    /// Counts an attempt from `source` before anything of it is checked or written; refused
    /// with `TooManyAttempts` once the source has used its failures for this minute (criteria
    /// 2.2.1(2)). A success gives it back ([`source_succeeded`](Self::source_succeeded)).
    pub(super) async fn take_source_attempt(&self, source: IpAddr) -> Result<(), AuthError> {
        self.sources
            .take_attempt(source, self.now())
            .await?
            .map_err(|retry_after| AuthError::TooManyAttempts { retry_after })
    }

    /// Gives back the attempt counted for `source`: it succeeded.
    pub(super) async fn source_succeeded(&self, source: IpAddr) {
        self.sources.give_back(source, self.now()).await;
    }

    /// Counts an attempt against `account_id` before its secrets are checked (one atomic
    /// statement: of any number of concurrent attempts, at most `max_failed_logins` are
    /// admitted, criteria 2.2.1(2)); the attempt that reaches the maximum locks the account.
    pub(super) async fn count_attempt(
        &self,
        account_id: &str,
        now: UnixMillis,
    ) -> Result<Attempt, AuthError> {
        Ok(self
            .store
            .count_attempt(
                account_id,
                self.config.max_failed_logins,
                self.lock_millis(),
                now,
            )
            .await?)
    }

    /// Logs the lock a failed attempt set, if it set one.
    pub(super) async fn record_lock(
        &self,
        actor: inkan_log::entry::Actor,
        own_lock: Option<UnixMillis>,
    ) {
        if own_lock.is_some() {
            self.record_refusal(
                EntryKind::AccountLocked,
                actor,
                &format!("{} failed attempts", self.config.max_failed_logins),
            )
            .await;
        }
    }

    /// Checks username, password and OTP; on success returns the account and gives the
    /// source's attempt back ([`take_source_attempt`](Self::take_source_attempt) counted it).
    /// The attempt is counted against the account before the password is hashed, and only an
    /// attempt so admitted is hashed at all; every failure is logged.
    pub(super) async fn check_login(
        &self,
        attempt: LoginAttempt<'_>,
    ) -> Result<AccountRecord, AuthError> {
        let now = self.now();
        let account = if attempt.username.len() <= MAX_USERNAME {
            self.store.get_account_by_username(attempt.username).await?
        } else {
            None
        };
        // The place in the hashing gate first: a refusal for being busy writes nothing.
        let place = self.hash_place()?;
        let Some(account) = account else {
            return Err(self
                .refuse_unknown_login(place, attempt.password, now)
                .await);
        };
        let actor_kind = match account.role {
            AccountRole::Operator => ActorKind::Operator,
            AccountRole::User => ActorKind::Subscriber,
        };
        let actor = claimed_actor(actor_kind, &account.id, "password+totp");
        let own_lock = match self.count_attempt(&account.id, now).await? {
            Attempt::Admitted { lock, .. } => lock,
            Attempt::Refused(now_account) => {
                let reason = if now_account.state == AccountState::Active {
                    "account locked"
                } else {
                    "account not active"
                };
                self.record_refusal(EntryKind::Login, actor, reason).await;
                return Err(AuthError::InvalidCredentials);
            }
        };
        let stored = account.password_hash.clone();
        let password_ok = hash_in(place, move || {
            password::verify(&attempt.password, stored.as_deref())
        })
        .await?;
        let reason: std::borrow::Cow<'static, str> = if !password_ok {
            "wrong password".into()
        } else {
            match self.totp_step(&account, attempt.otp, now)? {
                None => "wrong or used one-time password".into(),
                Some(step) => match self
                    .store
                    .record_login_success(&account.id, Some(step), own_lock, now)
                    .await
                {
                    Ok(()) => {
                        self.source_succeeded(attempt.source).await;
                        return Ok(account);
                    }
                    Err(StoreError::Conflict(why)) => why.into(),
                    Err(e) => return Err(e.into()),
                },
            }
        };
        self.record_lock(actor.clone(), own_lock).await;
        self.record_refusal(EntryKind::Login, actor, &reason).await;
        Err(AuthError::InvalidCredentials)
    }

    /// Refuses a login for a username nobody has, at the cost of a known one's refusal: the
    /// same durable write (a throwaway one-time id, expired at once, where a known account's
    /// attempt is counted) and the same hash (against a dummy), so that neither the time nor
    /// the writes say whether the account exists (criteria 2.2.1(2); SECURITY.md).
    async fn refuse_unknown_login(
        &self,
        place: crate::blocking::Place,
        password: SecretString,
        now: UnixMillis,
    ) -> AuthError {
        let throwaway = format!("login-attempt:{}", random_secret(16));
        if let Err(e) = self.store.remember_once(&throwaway, now, now).await {
            return e.into();
        }
        if let Err(e) = hash_in(place, move || password::verify(&password, None)).await {
            return e;
        }
        self.record_refusal(
            EntryKind::Login,
            claimed_actor(ActorKind::Subscriber, "unknown", "password+totp"),
            "unknown username",
        )
        .await;
        AuthError::InvalidCredentials
    }

    /// The TOTP step `otp` is for, if it is right for `account` and later than the last one
    /// accepted.
    fn totp_step(
        &self,
        account: &AccountRecord,
        otp: &str,
        now: UnixMillis,
    ) -> Result<Option<i64>, AuthError> {
        let sealed = account.totp_sealed.as_deref().unwrap_or_default();
        let seed = self
            .seal
            .open(&format!("totp/{}", account.id), sealed)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(totp::check(&seed, otp, now)
            .filter(|step| account.last_totp_step.is_none_or(|last| *step > last)))
    }

    /// Checks the two factors of a signature activation, the key's signing PIN (`None`: right
    /// only for a key that has no PIN yet) and the user's one-time password, as one attempt counted against the caller's account before the PIN
    /// is hashed (criteria 2.2.3(2)A-2, 2.2.1(2)): both right records the OTP's step (never
    /// accepted again) and clears the count; anything else is a failure towards the lock.
    /// `Ok(Err(reason))` for a refusal (the account locked or not active, a wrong PIN, a wrong
    /// or used OTP); `Err` when the check itself could not be made (busy, store).
    pub async fn verify_pin_and_otp(
        &self,
        caller: &Caller,
        key: &inkan_store::KeyRecord,
        pin: Option<SecretString>,
        otp: &str,
    ) -> Result<Result<(), String>, AuthError> {
        self.verify_with_otp(caller, Some((key, pin)), otp).await
    }

    /// The caller's one-time password alone, as one attempt counted against the account (a
    /// change that a session alone must not make, such as adding a passkey); like
    /// [`verify_pin_and_otp`](Self::verify_pin_and_otp) otherwise.
    pub async fn verify_otp(
        &self,
        caller: &Caller,
        otp: &str,
    ) -> Result<Result<(), String>, AuthError> {
        self.verify_with_otp(caller, None, otp).await
    }

    async fn verify_with_otp(
        &self,
        caller: &Caller,
        key_pin: Option<(&inkan_store::KeyRecord, Option<SecretString>)>,
        otp: &str,
    ) -> Result<Result<(), String>, AuthError> {
        let now = self.now();
        let place = self.hash_place()?;
        let (account, own_lock) = match self.count_attempt(&caller.id, now).await? {
            Attempt::Admitted { account, lock } => (account, lock),
            Attempt::Refused(_) => return Ok(Err("the account is locked or not active".into())),
        };
        let pin_ok = match key_pin {
            Some((key, Some(pin))) => self.check_key_pin(place, key, pin).await?,
            // Only a PIN change comes without a PIN: right only for a key that has none yet.
            Some((key, None)) => !self.key_has_pin(key).await?,
            None => true,
        };
        // Both factors are always checked, so a wrong PIN is not told apart by timing.
        let step = self.totp_step(&account, otp, now)?;
        let reason = match (step, pin_ok) {
            (None, _) => "the one-time password is wrong or was used".to_owned(),
            (Some(_), false) => "wrong PIN".to_owned(),
            (Some(step), true) => match self
                .store
                .record_login_success(&account.id, Some(step), own_lock, now)
                .await
            {
                Ok(()) => return Ok(Ok(())),
                // Another request used this step first, or locked the account meanwhile.
                Err(StoreError::Conflict(why)) => why,
                Err(e) => return Err(e.into()),
            },
        };
        self.record_lock(caller.actor(), own_lock).await;
        Ok(Err(reason))
    }

    /// How long a lock lasts, in milliseconds.
    fn lock_millis(&self) -> i64 {
        i64::try_from(self.config.lockout_minutes)
            .unwrap_or(i64::MAX / 120_000)
            .saturating_mul(60_000)
    }

    /// Counts a failed activation that was refused before its factors were checked (the
    /// activation data bound to something else, criteria 2.2.3(2)A-2) against the caller's
    /// account, like a wrong PIN: one atomic attempt, never cleared by a success; the attempt
    /// that reaches the limit locks the account and the lock is logged.
    pub(crate) async fn count_failure(&self, caller: &Caller) -> Result<(), AuthError> {
        let own_lock = match self.count_attempt(&caller.id, self.now()).await? {
            Attempt::Admitted { lock, .. } => lock,
            Attempt::Refused(_) => None,
        };
        self.record_lock(caller.actor(), own_lock).await;
        Ok(())
    }

    /// The account `account_id`, if `operator` manages accounts like it (operators' are the
    /// admin's, users' the registration officer's); `NotFound` for an unknown id.
    async fn managed_account(
        &self,
        operator: &Caller,
        account_id: &str,
    ) -> Result<inkan_store::auth::AccountRecord, AuthError> {
        let not_found = || AuthError::NotFound(format!("no account {account_id}"));
        if !inkan_store::auth::is_id(account_id, "acc") {
            return Err(not_found());
        }
        let account = self
            .store
            .get_account(account_id)
            .await?
            .ok_or_else(not_found)?;
        operator.require(Permission::for_account(account.role))?;
        Ok(account)
    }

    /// Clears an account's lock (an operator's action).
    pub async fn unlock(&self, operator: &Caller, account_id: &str) -> Result<(), AuthError> {
        self.managed_account(operator, account_id).await?;
        let event = Event::new(EntryKind::AccountLocked, operator.actor())
            .note(format!("unlocked {account_id}"));
        let change = async {
            match self.store.unlock_account(account_id, self.now()).await {
                Ok(()) => Ok(()),
                Err(StoreError::NotFound(_)) => {
                    Err(AuthError::NotFound(format!("no account {account_id}")))
                }
                Err(e) => Err(e.into()),
            }
        };
        self.recorder.write_ahead(event, change).await
    }
}
