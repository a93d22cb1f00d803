//! [`AuthStore`] in SQL, for both engines: subscribers, accounts and activation, sessions and
//! tokens, the one-time id cache, system clients and signing PINs (`migrations/*/0003_auth.sql`).
//!
//! Several nodes (PostgreSQL) or processes (SQLite, on one file) share the database, so every
//! check-then-change is safe against another doing the same at once:
//! - a change of one row is one conditional statement (`UPDATE … WHERE <condition>`, an upsert
//!   `ON CONFLICT … DO UPDATE … WHERE`): on PostgreSQL concurrent statements queue on the row
//!   lock and the loser re-evaluates the condition against the winner's row (READ COMMITTED);
//!   on SQLite they run one at a time on the one writer connection; either way exactly one
//!   succeeds;
//! - a change of several rows is one write transaction (`Db::begin_write`) that first locks what
//!   it checks (`SELECT … FOR UPDATE`, always an account before its activation codes, the session
//!   before its token, so two such transactions cannot deadlock) and then reads it as last
//!   committed; on SQLite the transaction holds the database's write lock from its first
//!   statement (`BEGIN IMMEDIATE`), so the check and the change are serialised whole.
//!
//! A refusal returns before `commit`: the transaction rolls back on drop and nothing changes.
//!
//! Must never: build SQL from values (all values are bound), decode rows or decide the
//! preconditions itself (that is `store/auth_rows.rs`), or store a secret in the clear (the
//! records carry hashes and sealed bytes only).

use super::SqlStore;
use crate::StoreError;
use crate::UnixMillis;
use crate::auth::{
    AccountRecord, ActivationCodeRecord, Attempt, AuthStore, ClientRecord, KeyPinRecord, Rotation,
    SessionRecord, SubscriberRecord, TokenRecord,
};
use crate::auth_rows::{
    self as rows, ActivationStep, ONCE_PURGE_BATCH, REUSE_REASON, RotationStep, account_columns,
    client_columns, code_columns, count_attempt_sql, key_pin_columns, login_success_sql,
    session_columns, subscriber_columns, token_columns,
};
use crate::engine::{Sql, Tx};

/// Inserts a session and its tokens inside `tx` (a login, or an OAuth2 token exchange
/// together with the code it uses up).
pub(super) async fn insert_session_in(
    tx: &mut Tx,
    session: &SessionRecord,
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    rows::check_tokens_belong(&session.id, tokens)?;
    Sql::new(
        "INSERT INTO sessions (id, account_id, client_id, subscriber, method, jkt, x5t, \
         scope, created_at, last_seen_at, expires_at, revoked_at, revoked_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(session.id.as_str())
    .bind(session.account_id.as_deref())
    .bind(session.client_id.as_deref())
    .bind(session.subscriber.as_deref())
    .bind(session.method.as_str())
    .bind(session.jkt.as_deref())
    .bind(session.x5t.as_deref())
    .bind(session.scope.as_deref())
    .bind(session.created_at)
    .bind(session.last_seen_at)
    .bind(session.expires_at)
    .bind(session.revoked_at)
    .bind(session.revoked_reason.as_deref())
    .execute(tx)
    .await
    .map_err(|e| rows::write_error(&format!("session {}", session.id), e))?;
    insert_tokens(tx, tokens).await?;
    Ok(())
}

/// Inserts `tokens` (the caller has checked that they are the session's).
async fn insert_tokens(tx: &mut Tx, tokens: &[TokenRecord]) -> Result<(), StoreError> {
    for token in tokens {
        Sql::new(
            "INSERT INTO tokens (token_hash, session_id, kind, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token.token_hash.as_str())
        .bind(token.session_id.as_str())
        .bind(token.kind.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.used_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::write_error("token", e))?;
    }
    Ok(())
}

/// The activation code and its account, locked until the transaction ends: the account first
/// (as [`AuthStore::replace_activation_code`] does, so the two cannot deadlock), then the code,
/// read again under the lock (a replacement may have deleted it meanwhile). `NotFound` for an
/// unknown code.
async fn lock_code_and_account(
    tx: &mut Tx,
    code_hash: &str,
) -> Result<(ActivationCodeRecord, AccountRecord), StoreError> {
    let not_found = || StoreError::NotFound("activation code".into());
    let select_code = concat!(
        "SELECT ",
        code_columns!(),
        " FROM activation_codes WHERE code_hash = $1"
    );
    let unlocked = Sql::new(select_code)
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(not_found)?;
    let account_id = rows::activation_code(&unlocked)?.account_id;
    let account = Sql::new(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id = $1 FOR UPDATE"
    ))
    .bind(account_id.as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the account {account_id:?} of an activation code is missing"
        ))
    })?;
    let code = Sql::new(concat!(
        "SELECT ",
        code_columns!(),
        " FROM activation_codes WHERE code_hash = $1 FOR UPDATE"
    ))
    .bind(code_hash)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(not_found)?;
    Ok((rows::activation_code(&code)?, rows::account(&account)?))
}

#[async_trait::async_trait]
impl AuthStore for SqlStore {
    async fn insert_subscriber(&self, subscriber: &SubscriberRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO subscribers (",
            subscriber_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(subscriber.id.as_str())
        .bind(subscriber.kind.as_str())
        .bind(subscriber.name.as_str())
        .bind(subscriber.environment.as_str())
        .bind(subscriber.state.as_str())
        .bind(subscriber.created_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| rows::write_error(&format!("subscriber {}", subscriber.id), e))?;
        Ok(())
    }

    async fn get_subscriber(&self, id: &str) -> Result<Option<SubscriberRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            subscriber_columns!(),
            " FROM subscribers WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::subscriber).transpose()
    }

    async fn list_subscribers(&self) -> Result<Vec<SubscriberRecord>, StoreError> {
        // `COLLATE "C"`: byte order on both engines, whatever the database's collation.
        let found = Sql::new(concat!(
            "SELECT ",
            subscriber_columns!(),
            " FROM subscribers ORDER BY created_at, id COLLATE \"C\""
        ))
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::subscriber).collect()
    }

    async fn insert_account(
        &self,
        account: &AccountRecord,
        code: &ActivationCodeRecord,
    ) -> Result<(), StoreError> {
        rows::check_code_account(account, code)?;
        let mut tx = self.db.begin_write().await?;
        Sql::new(concat!(
            "INSERT INTO accounts (",
            account_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(account.id.as_str())
        .bind(account.username.as_str())
        .bind(account.role.as_str())
        .bind(account.subscriber.as_deref())
        .bind(account.password_hash.as_deref())
        .bind(account.totp_sealed.as_deref())
        .bind(account.totp_pending.as_deref())
        .bind(account.last_totp_step)
        .bind(i64::from(account.failed_logins))
        .bind(account.locked_until)
        .bind(account.state.as_str())
        .bind(account.created_at)
        .bind(account.updated_at)
        .execute(&mut tx)
        .await
        .map_err(|e| {
            rows::write_error(
                &format!("account {} ({:?})", account.id, account.username),
                e,
            )
        })?;
        Sql::new(concat!(
            "INSERT INTO activation_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(code.code_hash.as_str())
        .bind(code.account_id.as_str())
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(code.used_at)
        .execute(&mut tx)
        .await
        .map_err(|e| rows::write_error("activation code", e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn get_account_by_username(
        &self,
        username: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn get_activation_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<ActivationCodeRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            code_columns!(),
            " FROM activation_codes WHERE code_hash = $1"
        ))
        .bind(code_hash)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::activation_code).transpose()
    }

    async fn replace_activation_code(&self, code: &ActivationCodeRecord) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        // The account is locked before its codes, as the activation steps lock it: a step
        // holding the old code either finishes first (the account is active: refused here)
        // or finds the code gone.
        let account = Sql::new(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = $1 FOR UPDATE"
        ))
        .bind(code.account_id.as_str())
        .fetch_optional(&mut tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {}", code.account_id)))?;
        rows::check_replacement(&rows::account(&account)?)?;
        // The new code first: a hash that exists (even as one of the codes about to go) is a
        // conflict.
        Sql::new(concat!(
            "INSERT INTO activation_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(code.code_hash.as_str())
        .bind(code.account_id.as_str())
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(code.used_at)
        .execute(&mut tx)
        .await
        .map_err(|e| rows::write_error("activation code", e))?;
        Sql::new(
            "DELETE FROM activation_codes \
             WHERE account_id = $1 AND used_at IS NULL AND code_hash <> $2",
        )
        .bind(code.account_id.as_str())
        .bind(code.code_hash.as_str())
        .execute(&mut tx)
        .await?;
        Sql::new(
            "UPDATE accounts SET password_hash = NULL, totp_pending = NULL, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(code.created_at)
        .bind(code.account_id.as_str())
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin_activation(
        &self,
        code_hash: &str,
        password_hash: &str,
        totp_pending: &[u8],
        now: UnixMillis,
    ) -> Result<AccountRecord, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let (code, account) = lock_code_and_account(&mut tx, code_hash).await?;
        rows::check_activation(&code, &account, ActivationStep::Begin, now)?;
        let row = Sql::new(concat!(
            "UPDATE accounts SET password_hash = $1, totp_pending = $2, updated_at = $3 \
             WHERE id = $4 RETURNING ",
            account_columns!()
        ))
        .bind(password_hash)
        .bind(totp_pending)
        .bind(now)
        .bind(account.id.as_str())
        .fetch_one(&mut tx)
        .await?;
        let account = rows::account(&row)?;
        tx.commit().await?;
        Ok(account)
    }

    async fn complete_activation(
        &self,
        code_hash: &str,
        totp_step: i64,
        now: UnixMillis,
    ) -> Result<AccountRecord, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let (code, account) = lock_code_and_account(&mut tx, code_hash).await?;
        rows::check_activation(&code, &account, ActivationStep::Complete, now)?;
        Sql::new("UPDATE activation_codes SET used_at = $1 WHERE code_hash = $2")
            .bind(now)
            .bind(code_hash)
            .execute(&mut tx)
            .await?;
        let row = Sql::new(concat!(
            "UPDATE accounts SET totp_sealed = totp_pending, totp_pending = NULL, \
             last_totp_step = $1, state = 'active', updated_at = $2 WHERE id = $3 RETURNING ",
            account_columns!()
        ))
        .bind(totp_step)
        .bind(now)
        .bind(account.id.as_str())
        .fetch_one(&mut tx)
        .await?;
        let account = rows::account(&row)?;
        tx.commit().await?;
        Ok(account)
    }

    async fn count_attempt(
        &self,
        account_id: &str,
        max_failures: u32,
        lock_millis: i64,
        now: UnixMillis,
    ) -> Result<Attempt, StoreError> {
        // One statement: concurrent attempts queue on the row (PostgreSQL, where each re-reads
        // the count and the lock the one before it left, READ COMMITTED) or on the one writer
        // connection (SQLite), so each counts once and none is admitted past the maximum.
        let counted = Sql::new(count_attempt_sql!())
            .bind(i64::from(max_failures))
            .bind(rows::lock_end(now, lock_millis))
            .bind(now)
            .bind(account_id)
            .fetch_optional(&mut self.db.write().await?)
            .await?;
        match counted {
            Some(row) => Ok(rows::admitted(rows::account(&row)?, now)),
            None => rows::not_admitted(self.get_account(account_id).await?, account_id),
        }
    }

    async fn record_login_success(
        &self,
        account_id: &str,
        totp_step: Option<i64>,
        own_lock: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        // The step and the lock are re-checked against a concurrent winner's row: one login per
        // TOTP step, whatever the node, and never past a lock another attempt set.
        let updated = Sql::new(login_success_sql!())
            .bind(totp_step)
            .bind(now)
            .bind(account_id)
            .bind(own_lock)
            .execute(&mut self.db.write().await?)
            .await?;
        if updated > 0 {
            return Ok(());
        }
        let account = self.get_account(account_id).await?;
        Err(rows::success_refusal(
            account.as_ref(),
            account_id,
            totp_step,
            now,
        ))
    }

    async fn unlock_account(&self, account_id: &str, now: UnixMillis) -> Result<(), StoreError> {
        let updated = Sql::new(
            "UPDATE accounts SET failed_logins = 0, locked_until = NULL, updated_at = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(account_id)
        .execute(&mut self.db.write().await?)
        .await?;
        if updated == 0 {
            return Err(StoreError::NotFound(format!("account {account_id}")));
        }
        Ok(())
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        tokens: &[TokenRecord],
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        insert_session_in(&mut tx, session, tokens).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::session).transpose()
    }

    async fn get_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(TokenRecord, SessionRecord)>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            token_columns!(),
            ", ",
            session_columns!(),
            " FROM tokens JOIN sessions ON sessions.id = tokens.session_id \
             WHERE tokens.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.map(|row| Ok((rows::token(&row)?, rows::session(&row)?)))
            .transpose()
    }

    async fn touch_session(&self, id: &str, now: UnixMillis) -> Result<(), StoreError> {
        let updated = Sql::new(
            "UPDATE sessions \
             SET last_seen_at = CASE WHEN last_seen_at > $1 THEN last_seen_at ELSE $1 END \
             WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut self.db.write().await?)
        .await?;
        if updated == 0 {
            return Err(StoreError::NotFound(format!("session {id}")));
        }
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        new_tokens: &[TokenRecord],
        now: UnixMillis,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.db.begin_write().await?;
        // The session first, then the token: every rotation of a session's tokens queues here,
        // and a revocation (which locks the session) either precedes or follows it whole.
        let session = Sql::new(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE sessions.id = \
             (SELECT session_id FROM tokens WHERE token_hash = $1) FOR UPDATE"
        ))
        .bind(token_hash)
        .fetch_optional(&mut tx)
        .await?;
        let Some(session) = session else {
            return Ok(Rotation::Unknown);
        };
        let session = rows::session(&session)?;
        let token = Sql::new(concat!(
            "SELECT ",
            token_columns!(),
            " FROM tokens WHERE token_hash = $1 FOR UPDATE"
        ))
        .bind(token_hash)
        .fetch_optional(&mut tx)
        .await?;
        let Some(token) = token else {
            return Ok(Rotation::Unknown);
        };
        let token = rows::token(&token)?;
        match rows::rotation_step(&token, &session, now) {
            RotationStep::Unknown => Ok(Rotation::Unknown),
            RotationStep::RevokeForReuse => {
                let row = Sql::new(concat!(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 \
                     RETURNING ",
                    session_columns!()
                ))
                .bind(now)
                .bind(REUSE_REASON)
                .bind(session.id.as_str())
                .fetch_one(&mut tx)
                .await?;
                let session = rows::session(&row)?;
                tx.commit().await?;
                Ok(Rotation::Reused(session))
            }
            RotationStep::Rotate => {
                rows::check_tokens_belong(&session.id, new_tokens)?;
                Sql::new("UPDATE tokens SET used_at = $1 WHERE token_hash = $2")
                    .bind(now)
                    .bind(token_hash)
                    .execute(&mut tx)
                    .await?;
                insert_tokens(&mut tx, new_tokens).await?;
                let row = Sql::new(concat!(
                    "UPDATE sessions \
                     SET last_seen_at = CASE WHEN last_seen_at > $1 THEN last_seen_at ELSE $1 END \
                     WHERE id = $2 RETURNING ",
                    session_columns!()
                ))
                .bind(now)
                .bind(session.id.as_str())
                .fetch_one(&mut tx)
                .await?;
                let session = rows::session(&row)?;
                tx.commit().await?;
                Ok(Rotation::Rotated(session))
            }
        }
    }

    async fn revoke_session(
        &self,
        id: &str,
        reason: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let updated = Sql::new(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut self.db.write().await?)
        .await?;
        Ok(updated > 0)
    }

    async fn revoke_subscriber_sessions(
        &self,
        subscriber: &str,
        reason: &str,
        now: UnixMillis,
    ) -> Result<u64, StoreError> {
        let updated = Sql::new(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE revoked_at IS NULL AND expires_at > $1 AND (subscriber = $3 \
             OR account_id IN (SELECT id FROM accounts WHERE subscriber = $3) \
             OR client_id IN (SELECT id FROM clients WHERE subscriber = $3))",
        )
        .bind(now)
        .bind(reason)
        .bind(subscriber)
        .execute(&mut self.db.write().await?)
        .await?;
        Ok(updated)
    }

    async fn purge_sessions(&self, before: UnixMillis) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let tokens = Sql::new(
            "DELETE FROM tokens WHERE expires_at < $1 OR session_id IN \
             (SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1)",
        )
        .bind(before)
        .execute(&mut tx)
        .await?;
        // Tokens added meanwhile to a session that goes now follow it (ON DELETE CASCADE).
        let sessions = Sql::new("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
            .bind(before)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(tokens + sessions)
    }

    async fn remember_once(
        &self,
        id: &str,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_write().await?;
        // Expired ids another node is deleting right now are left to it.
        Sql::new(
            "DELETE FROM once_ids WHERE id IN (SELECT id FROM once_ids WHERE expires_at <= $1 \
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now)
        .bind(ONCE_PURGE_BATCH)
        .execute(&mut tx)
        .await?;
        // Inserts a new id, or takes over an expired one; an unexpired one stays as it is and
        // returns no row. A concurrent insert of the same id waits for ours, then sees it.
        let fresh = Sql::new(
            "INSERT INTO once_ids (id, expires_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE once_ids.expires_at <= $3 RETURNING id",
        )
        .bind(id)
        .bind(expires_at)
        .bind(now)
        .fetch_optional(&mut tx)
        .await?
        .is_some();
        tx.commit().await?;
        Ok(fresh)
    }

    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO clients (",
            client_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(client.id.as_str())
        .bind(client.subscriber.as_str())
        .bind(client.name.as_str())
        .bind(client.auth_method.as_str())
        .bind(client.certificate_thumbprint.as_deref())
        .bind(client.jwk.as_deref())
        .bind(client.scope.as_str())
        .bind(client.active)
        .bind(client.created_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| rows::write_error(&format!("client {}", client.id), e))?;
        Ok(())
    }

    async fn get_client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::client).transpose()
    }

    async fn get_client_by_thumbprint(
        &self,
        thumbprint: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE certificate_thumbprint = $1"
        ))
        .bind(thumbprint)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::client).transpose()
    }

    async fn list_clients(&self, subscriber: &str) -> Result<Vec<ClientRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE subscriber = $1 ORDER BY created_at, id COLLATE \"C\""
        ))
        .bind(subscriber)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::client).collect()
    }

    async fn set_key_pin(&self, pin: &KeyPinRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO key_pins (",
            key_pin_columns!(),
            ") VALUES ($1, $2, $3) ON CONFLICT (key_id) DO UPDATE \
             SET pin_hash = excluded.pin_hash, updated_at = excluded.updated_at"
        ))
        .bind(pin.key_id.as_str())
        .bind(pin.pin_hash.as_str())
        .bind(pin.updated_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| rows::key_pin_error(&pin.key_id, e))?;
        Ok(())
    }

    async fn get_key_pin(&self, key_id: &str) -> Result<Option<KeyPinRecord>, StoreError> {
        let row = Sql::new(concat!(
            "SELECT ",
            key_pin_columns!(),
            " FROM key_pins WHERE key_id = $1"
        ))
        .bind(key_id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        row.as_ref().map(rows::key_pin).transpose()
    }
}
