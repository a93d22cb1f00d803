//! The authentication records as both engines read them, and the checks both apply: shared by
//! `sqlite/auth.rs` and `postgres/auth.rs` so that they decode, refuse and decide alike.
//!
//! Owns the column lists of the auth tables (`*_columns!`, in the order the decoders read
//! them, so every query returns what its decoder expects), the decoding of a row into a record
//! (a stored name this version does not know, or a counter out of range, is
//! [`StoreError::Corrupt`] naming the record and the column), the mapping of constraint
//! violations to [`StoreError::Conflict`], and the preconditions of the multi-step operations
//! (activation and its code's replacement, refresh-token rotation), evaluated on rows the
//! engine has read under its write lock.
//!
//! Also owns the two statements of the account lock, which both engines run verbatim (`$n`
//! placeholders, which sqlx binds on SQLite too), so that the rule is written once:
//! [`count_attempt_sql!`] and [`login_success_sql!`].
//!
//! Must never: run a query or hold SQL of one engine (that is each engine's), or decide a policy
//! (expiry lengths, failure limits: those come in as arguments from the `auth` module).

use super::StoreError;
use super::auth::{
    AccountRecord, AccountRole, AccountState, ActivationCodeRecord, Attempt, ClientAuthMethod,
    ClientRecord, KeyPinRecord, SessionRecord, SubscriberKind, SubscriberRecord, SubscriberState,
    TokenKind, TokenRecord,
};
use crate::UnixMillis;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// The columns of `subscribers`, for [`subscriber`].
macro_rules! subscriber_columns {
    () => {
        "id, kind, name, environment, state, created_at"
    };
}

/// The columns of `accounts`, for [`account`].
macro_rules! account_columns {
    () => {
        "id, username, role, subscriber, password_hash, totp_sealed, totp_pending, \
         last_totp_step, failed_logins, locked_until, state, created_at, updated_at"
    };
}

/// Counts an attempt before its secrets are checked (`AuthStore::count_attempt`, criteria
/// 2.2.1(2)): binds `$1` the maximum, `$2` the lock's end, `$3` now, `$4` the account id; returns
/// the account's row, or none when it is locked or not active (nothing changed then).
macro_rules! count_attempt_sql {
    () => {
        concat!(
            "UPDATE accounts SET \
             failed_logins = CASE WHEN failed_logins + 1 >= $1 THEN 0 ELSE failed_logins + 1 END, \
             locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END, \
             updated_at = $3 \
             WHERE id = $4 AND state = 'active' AND (locked_until IS NULL OR locked_until <= $3) \
             RETURNING ",
            account_columns!()
        )
    };
}

/// Records an admitted attempt's success (`AuthStore::record_login_success`): binds `$1` the
/// TOTP step (or NULL), `$2` now, `$3` the account id, `$4` the lock the attempt set (or NULL).
/// Changes no row when the step was used already or another attempt's lock holds.
macro_rules! login_success_sql {
    () => {
        "UPDATE accounts SET last_totp_step = COALESCE($1, last_totp_step), failed_logins = 0, \
         locked_until = NULL, updated_at = $2 \
         WHERE id = $3 AND ($1 IS NULL OR last_totp_step IS NULL OR last_totp_step < $1) \
         AND (locked_until IS NULL OR locked_until <= $2 OR locked_until = $4)"
    };
}

/// The columns of `activation_codes`, for [`activation_code`].
macro_rules! code_columns {
    () => {
        "code_hash, account_id, created_at, expires_at, used_at"
    };
}

/// The columns of `sessions`, qualified with the table name (so that they can be joined with
/// `tokens`) and named explicitly (SQLite leaves the name of an unaliased `t.c` unspecified),
/// for [`session`].
macro_rules! session_columns {
    () => {
        "sessions.id AS id, sessions.account_id AS account_id, \
         sessions.client_id AS client_id, sessions.subscriber AS subscriber, \
         sessions.method AS method, sessions.jkt AS jkt, sessions.x5t AS x5t, \
         sessions.scope AS scope, sessions.created_at AS created_at, \
         sessions.last_seen_at AS last_seen_at, sessions.expires_at AS expires_at, \
         sessions.revoked_at AS revoked_at, sessions.revoked_reason AS revoked_reason"
    };
}

/// The columns of `tokens`, renamed so that they do not collide with a joined session's, for
/// [`token`].
macro_rules! token_columns {
    () => {
        "tokens.token_hash AS token_hash, tokens.session_id AS token_session_id, \
         tokens.kind AS token_kind, tokens.created_at AS token_created_at, \
         tokens.expires_at AS token_expires_at, tokens.used_at AS token_used_at"
    };
}

/// The columns of `clients`, for [`client`].
macro_rules! client_columns {
    () => {
        "id, subscriber, name, auth_method, certificate_thumbprint, jwk, scope, active, created_at"
    };
}

/// The columns of `key_pins`, for [`key_pin`].
macro_rules! key_pin_columns {
    () => {
        "key_id, pin_hash, updated_at"
    };
}

pub(crate) use {
    account_columns, client_columns, code_columns, count_attempt_sql, key_pin_columns,
    login_success_sql, session_columns, subscriber_columns, token_columns,
};

/// The reason [`super::auth::Rotation::Reused`] records on the session it revokes.
pub(crate) const REUSE_REASON: &str = "refresh token reuse";

/// The most expired one-time ids one `remember_once` deletes: the cache is emptied a batch at a
/// time, so a call after a long pause does not stall on a large delete.
pub(crate) const ONCE_PURGE_BATCH: i64 = 1_000;

/// Typed reads of a result row by column name: what the decoders need, for either engine.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn text_opt(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn int_opt(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn bytes_opt(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error>;
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error>;
}

macro_rules! impl_columns {
    ($($row:ty),+) => {$(
        impl Columns for $row {
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn text_opt(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn int_opt(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn bytes_opt(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
                self.try_get(column)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
                self.try_get(column)
            }
            fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
                self.try_get(column)
            }
        }
    )+};
}

impl_columns!(SqliteRow, PgRow);

/// Parses a stored enum name, or says which record and column hold something else.
fn name<T>(
    parse: fn(&str) -> Option<T>,
    stored: &str,
    record: &str,
    column: &str,
) -> Result<T, StoreError> {
    parse(stored)
        .ok_or_else(|| StoreError::Corrupt(format!("{record}, {column}: unknown value {stored:?}")))
}

pub(crate) fn subscriber(row: &impl Columns) -> Result<SubscriberRecord, StoreError> {
    let id = row.text("id")?;
    let record = format!("subscriber {id:?}");
    Ok(SubscriberRecord {
        kind: name(SubscriberKind::parse, &row.text("kind")?, &record, "kind")?,
        name: row.text("name")?,
        environment: row.text("environment")?,
        state: name(
            SubscriberState::parse,
            &row.text("state")?,
            &record,
            "state",
        )?,
        created_at: row.int("created_at")?,
        id,
    })
}

pub(crate) fn account(row: &impl Columns) -> Result<AccountRecord, StoreError> {
    let id = row.text("id")?;
    let record = format!("account {id:?}");
    let failed_logins = row.int("failed_logins")?;
    let failed_logins = u32::try_from(failed_logins).map_err(|_| {
        StoreError::Corrupt(format!(
            "{record}, failed_logins: {failed_logins} is out of range"
        ))
    })?;
    Ok(AccountRecord {
        username: row.text("username")?,
        role: name(AccountRole::parse, &row.text("role")?, &record, "role")?,
        subscriber: row.text_opt("subscriber")?,
        password_hash: row.text_opt("password_hash")?,
        totp_sealed: row.bytes_opt("totp_sealed")?,
        totp_pending: row.bytes_opt("totp_pending")?,
        last_totp_step: row.int_opt("last_totp_step")?,
        failed_logins,
        locked_until: row.int_opt("locked_until")?,
        state: name(AccountState::parse, &row.text("state")?, &record, "state")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        id,
    })
}

pub(crate) fn activation_code(row: &impl Columns) -> Result<ActivationCodeRecord, StoreError> {
    Ok(ActivationCodeRecord {
        code_hash: row.text("code_hash")?,
        account_id: row.text("account_id")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        used_at: row.int_opt("used_at")?,
    })
}

pub(crate) fn session(row: &impl Columns) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id: row.text("id")?,
        account_id: row.text_opt("account_id")?,
        client_id: row.text_opt("client_id")?,
        subscriber: row.text_opt("subscriber")?,
        method: row.text("method")?,
        jkt: row.text_opt("jkt")?,
        x5t: row.text_opt("x5t")?,
        scope: row.text_opt("scope")?,
        created_at: row.int("created_at")?,
        last_seen_at: row.int("last_seen_at")?,
        expires_at: row.int("expires_at")?,
        revoked_at: row.int_opt("revoked_at")?,
        revoked_reason: row.text_opt("revoked_reason")?,
    })
}

pub(crate) fn token(row: &impl Columns) -> Result<TokenRecord, StoreError> {
    let token_hash = row.text("token_hash")?;
    let kind = row.text("token_kind")?;
    let record = format!("token {token_hash:?}");
    Ok(TokenRecord {
        session_id: row.text("token_session_id")?,
        kind: name(TokenKind::parse, &kind, &record, "kind")?,
        created_at: row.int("token_created_at")?,
        expires_at: row.int("token_expires_at")?,
        used_at: row.int_opt("token_used_at")?,
        token_hash,
    })
}

pub(crate) fn client(row: &impl Columns) -> Result<ClientRecord, StoreError> {
    let id = row.text("id")?;
    let record = format!("client {id:?}");
    Ok(ClientRecord {
        subscriber: row.text("subscriber")?,
        name: row.text("name")?,
        auth_method: name(
            ClientAuthMethod::parse,
            &row.text("auth_method")?,
            &record,
            "auth_method",
        )?,
        certificate_thumbprint: row.text_opt("certificate_thumbprint")?,
        jwk: row.text_opt("jwk")?,
        scope: row.text("scope")?,
        active: row.flag("active")?,
        created_at: row.int("created_at")?,
        id,
    })
}

pub(crate) fn key_pin(row: &impl Columns) -> Result<KeyPinRecord, StoreError> {
    Ok(KeyPinRecord {
        key_id: row.text("key_id")?,
        pin_hash: row.text("pin_hash")?,
        updated_at: row.int("updated_at")?,
    })
}

/// A unique or foreign-key violation is a [`StoreError::Conflict`] (`what` names the change);
/// anything else stays a database error.
pub(crate) fn write_error(what: &str, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => {
            StoreError::Conflict(format!("{what}: {}", db.message()))
        }
        _ => StoreError::Database(error),
    }
}

/// Setting a PIN: a foreign-key violation means the key is not registered.
pub(crate) fn key_pin_error(key_id: &str, error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(format!("key {key_id}"))
        }
        _ => StoreError::Database(error),
    }
}

/// `insert_account`: the code must be the account's.
pub(crate) fn check_code_account(
    account: &AccountRecord,
    code: &ActivationCodeRecord,
) -> Result<(), StoreError> {
    if code.account_id == account.id {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "the activation code is for account {:?}, not {:?}",
            code.account_id, account.id
        )))
    }
}

/// `insert_session` and `rotate_refresh_token`: every new token must be the session's.
pub(crate) fn check_tokens_belong(
    session_id: &str,
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    match tokens.iter().find(|t| t.session_id != session_id) {
        None => Ok(()),
        Some(t) => Err(StoreError::Conflict(format!(
            "a token of session {:?} cannot be stored with session {session_id:?}",
            t.session_id
        ))),
    }
}

/// `replace_activation_code`: only an account still waiting for activation gets a new code
/// (read under the write lock); [`StoreError::Conflict`] saying why not.
pub(crate) fn check_replacement(account: &AccountRecord) -> Result<(), StoreError> {
    if account.state == AccountState::Pending {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "account {:?} is {}, not pending activation",
            account.id, account.state
        )))
    }
}

/// Which activation step is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActivationStep {
    /// `begin_activation`.
    Begin,
    /// `complete_activation`: a seed must be pending as well.
    Complete,
}

/// Whether an activation step may proceed with this code and account (read under the write
/// lock); [`StoreError::Conflict`] saying why not.
pub(crate) fn check_activation(
    code: &ActivationCodeRecord,
    account: &AccountRecord,
    step: ActivationStep,
    now: UnixMillis,
) -> Result<(), StoreError> {
    let refuse = |why: String| Err(StoreError::Conflict(why));
    if code.used_at.is_some() {
        return refuse("the activation code has been used".into());
    }
    if now >= code.expires_at {
        return refuse("the activation code has expired".into());
    }
    if account.state != AccountState::Pending {
        return refuse(format!(
            "account {:?} is {}, not pending activation",
            account.id, account.state
        ));
    }
    if step == ActivationStep::Complete && account.totp_pending.is_none() {
        return refuse(format!(
            "account {:?} has no TOTP seed being enrolled (begin the activation first)",
            account.id
        ));
    }
    Ok(())
}

/// What `rotate_refresh_token` does with a token and its session (read under the write lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotationStep {
    /// Not a usable refresh token: change nothing, answer `Unknown`.
    Unknown,
    /// Used before: revoke the session, answer `Reused`.
    RevokeForReuse,
    /// Fresh: mark it used, store the new tokens, answer `Rotated`.
    Rotate,
}

pub(crate) fn rotation_step(
    token: &TokenRecord,
    session: &SessionRecord,
    now: UnixMillis,
) -> RotationStep {
    if token.kind != TokenKind::Refresh || session.revoked_at.is_some() {
        RotationStep::Unknown
    } else if token.used_at.is_some() {
        RotationStep::RevokeForReuse
    } else if now >= token.expires_at || now >= session.expires_at {
        RotationStep::Unknown
    } else {
        RotationStep::Rotate
    }
}

/// `now + lock_millis`, saturating (a lock never wraps into the past).
pub(crate) fn lock_end(now: UnixMillis, lock_millis: i64) -> UnixMillis {
    now.saturating_add(lock_millis.max(0))
}

/// `count_attempt`: the account row [`count_attempt_sql!`] returned, with the lock it set if the
/// count reached the maximum (the statement only counts an unlocked account, so a lock in the
/// future is this attempt's).
pub(crate) fn admitted(account: AccountRecord, now: UnixMillis) -> Attempt {
    let lock = account.locked_until.filter(|until| *until > now);
    Attempt::Admitted { account, lock }
}

/// `count_attempt` counted nothing: the account as read after (`None`: no such account).
pub(crate) fn not_admitted(
    account: Option<AccountRecord>,
    account_id: &str,
) -> Result<Attempt, StoreError> {
    account
        .map(Attempt::Refused)
        .ok_or_else(|| StoreError::NotFound(format!("account {account_id}")))
}

/// `record_login_success` changed no row: why, from the account as read after (`None`: no such
/// account).
pub(crate) fn success_refusal(
    account: Option<&AccountRecord>,
    account_id: &str,
    totp_step: Option<i64>,
    now: UnixMillis,
) -> StoreError {
    match account {
        None => StoreError::NotFound(format!("account {account_id}")),
        Some(a)
            if totp_step.is_some_and(|step| a.last_totp_step.is_some_and(|last| step <= last)) =>
        {
            StoreError::Conflict("this TOTP code (or a later one) has been used already".into())
        }
        Some(a) if a.locked_until.is_some_and(|until| until > now) => {
            StoreError::Conflict("the account was locked meanwhile by another attempt".into())
        }
        Some(_) => StoreError::Conflict("the account changed meanwhile".into()),
    }
}
