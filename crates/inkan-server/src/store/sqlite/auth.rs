//! The SQLite spelling of [`AuthStore`]: subscribers, accounts and activation, sessions and
//! tokens, the one-time id cache, system clients and signing PINs (`migrations/sqlite/
//! 0003_auth.sql`).
//!
//! Every operation that writes is one `BEGIN IMMEDIATE` transaction ([`SqliteStore::begin_write`]):
//! the database's write lock is held from the first read, so a check and the change it allows
//! (an unused activation code, an unused refresh token, a TOTP step not seen yet, an id not
//! remembered yet) cannot be split by another writer, whether in this process or another one
//! on the same file. A refusal returns before `commit`: the transaction rolls back on drop and
//! nothing changes.
//!
//! Must never: build SQL from values (all values are bound), decode rows or decide the
//! preconditions itself (that is `store/auth_rows.rs`, shared with PostgreSQL), or store a
//! secret in the clear (the records carry hashes and sealed bytes only).

use super::SqliteStore;
use crate::clock::UnixMillis;
use crate::store::StoreError;
use crate::store::auth::{
    AccountRecord, ActivationCodeRecord, Attempt, AuthStore, ClientRecord, KeyPinRecord, Rotation,
    SessionRecord, SubscriberRecord, TokenRecord,
};
use crate::store::auth_rows::{
    self as rows, ActivationStep, ONCE_PURGE_BATCH, REUSE_REASON, RotationStep, account_columns,
    client_columns, code_columns, count_attempt_sql, key_pin_columns, login_success_sql,
    session_columns, subscriber_columns, token_columns,
};
use sqlx::{Sqlite, Transaction};

/// Inserts `tokens` (the caller has checked that they are the session's).
async fn insert_tokens(
    tx: &mut Transaction<'static, Sqlite>,
    tokens: &[TokenRecord],
) -> Result<(), StoreError> {
    for token in tokens {
        sqlx::query(
            "INSERT INTO tokens (token_hash, session_id, kind, created_at, expires_at, used_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(token.token_hash.as_str())
        .bind(token.session_id.as_str())
        .bind(token.kind.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.used_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| rows::write_error("token", e))?;
    }
    Ok(())
}

/// The activation code and its account, read under the write lock. `NotFound` for an unknown
/// code.
async fn code_and_account(
    tx: &mut Transaction<'static, Sqlite>,
    code_hash: &str,
) -> Result<(ActivationCodeRecord, AccountRecord), StoreError> {
    let code = sqlx::query(concat!(
        "SELECT ",
        code_columns!(),
        " FROM activation_codes WHERE code_hash = ?"
    ))
    .bind(code_hash)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound("activation code".into()))?;
    let code = rows::activation_code(&code)?;
    let account = sqlx::query(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id = ?"
    ))
    .bind(code.account_id.as_str())
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the account {:?} of an activation code is missing",
            code.account_id
        ))
    })?;
    Ok((code, rows::account(&account)?))
}

/// The account `id`, read inside the transaction (after an update of it matched no row).
async fn account_in(
    tx: &mut Transaction<'static, Sqlite>,
    id: &str,
) -> Result<Option<AccountRecord>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(rows::account).transpose()
}

#[async_trait::async_trait]
impl AuthStore for SqliteStore {
    async fn insert_subscriber(&self, subscriber: &SubscriberRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO subscribers (",
            subscriber_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(subscriber.id.as_str())
        .bind(subscriber.kind.as_str())
        .bind(subscriber.name.as_str())
        .bind(subscriber.environment.as_str())
        .bind(subscriber.state.as_str())
        .bind(subscriber.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::write_error(&format!("subscriber {}", subscriber.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_subscriber(&self, id: &str) -> Result<Option<SubscriberRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            subscriber_columns!(),
            " FROM subscribers WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::subscriber).transpose()
    }

    async fn list_subscribers(&self) -> Result<Vec<SubscriberRecord>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            subscriber_columns!(),
            " FROM subscribers ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::subscriber).collect()
    }

    async fn insert_account(
        &self,
        account: &AccountRecord,
        code: &ActivationCodeRecord,
    ) -> Result<(), StoreError> {
        rows::check_code_account(account, code)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO accounts (",
            account_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            rows::write_error(
                &format!("account {} ({:?})", account.id, account.username),
                e,
            )
        })?;
        sqlx::query(concat!(
            "INSERT INTO activation_codes (",
            code_columns!(),
            ") VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(code.code_hash.as_str())
        .bind(code.account_id.as_str())
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(code.used_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::write_error("activation code", e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn get_account_by_username(
        &self,
        username: &str,
    ) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn get_activation_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<ActivationCodeRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            code_columns!(),
            " FROM activation_codes WHERE code_hash = ?"
        ))
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::activation_code).transpose()
    }

    async fn replace_activation_code(&self, code: &ActivationCodeRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let account = sqlx::query(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE id = ?"
        ))
        .bind(code.account_id.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {}", code.account_id)))?;
        rows::check_replacement(&rows::account(&account)?)?;
        // The new code first: a hash that exists (even as one of the codes about to go) is a
        // conflict.
        sqlx::query(concat!(
            "INSERT INTO activation_codes (",
            code_columns!(),
            ") VALUES (?, ?, ?, ?, ?)"
        ))
        .bind(code.code_hash.as_str())
        .bind(code.account_id.as_str())
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(code.used_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::write_error("activation code", e))?;
        sqlx::query(
            "DELETE FROM activation_codes \
             WHERE account_id = ? AND used_at IS NULL AND code_hash <> ?",
        )
        .bind(code.account_id.as_str())
        .bind(code.code_hash.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE accounts SET password_hash = NULL, totp_pending = NULL, updated_at = ? \
             WHERE id = ?",
        )
        .bind(code.created_at)
        .bind(code.account_id.as_str())
        .execute(&mut *tx)
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
        let mut tx = self.begin_write().await?;
        let (code, account) = code_and_account(&mut tx, code_hash).await?;
        rows::check_activation(&code, &account, ActivationStep::Begin, now)?;
        let row = sqlx::query(concat!(
            "UPDATE accounts SET password_hash = ?, totp_pending = ?, updated_at = ? \
             WHERE id = ? RETURNING ",
            account_columns!()
        ))
        .bind(password_hash)
        .bind(totp_pending)
        .bind(now)
        .bind(account.id.as_str())
        .fetch_one(&mut *tx)
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
        let mut tx = self.begin_write().await?;
        let (code, account) = code_and_account(&mut tx, code_hash).await?;
        rows::check_activation(&code, &account, ActivationStep::Complete, now)?;
        sqlx::query("UPDATE activation_codes SET used_at = ? WHERE code_hash = ?")
            .bind(now)
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(concat!(
            "UPDATE accounts SET totp_sealed = totp_pending, totp_pending = NULL, \
             last_totp_step = ?, state = 'active', updated_at = ? WHERE id = ? RETURNING ",
            account_columns!()
        ))
        .bind(totp_step)
        .bind(now)
        .bind(account.id.as_str())
        .fetch_one(&mut *tx)
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
        let mut tx = self.begin_write().await?;
        let counted = sqlx::query(count_attempt_sql!())
            .bind(i64::from(max_failures))
            .bind(rows::lock_end(now, lock_millis))
            .bind(now)
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = counted {
            let account = rows::account(&row)?;
            tx.commit().await?;
            return Ok(rows::admitted(account, now));
        }
        rows::not_admitted(account_in(&mut tx, account_id).await?, account_id)
    }

    async fn record_login_success(
        &self,
        account_id: &str,
        totp_step: Option<i64>,
        own_lock: Option<UnixMillis>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(login_success_sql!())
            .bind(totp_step)
            .bind(now)
            .bind(account_id)
            .bind(own_lock)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            let account = account_in(&mut tx, account_id).await?;
            return Err(rows::success_refusal(
                account.as_ref(),
                account_id,
                totp_step,
                now,
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn unlock_account(&self, account_id: &str, now: UnixMillis) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE accounts SET failed_logins = 0, locked_until = NULL, updated_at = ? \
             WHERE id = ?",
        )
        .bind(now)
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("account {account_id}")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_session(
        &self,
        session: &SessionRecord,
        tokens: &[TokenRecord],
    ) -> Result<(), StoreError> {
        rows::check_tokens_belong(&session.id, tokens)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, account_id, client_id, subscriber, method, jkt, x5t, \
             scope, created_at, last_seen_at, expires_at, revoked_at, revoked_reason) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::write_error(&format!("session {}", session.id), e))?;
        insert_tokens(&mut tx, tokens).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::session).transpose()
    }

    async fn get_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(TokenRecord, SessionRecord)>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            ", ",
            session_columns!(),
            " FROM tokens JOIN sessions ON sessions.id = tokens.session_id \
             WHERE tokens.token_hash = ?"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((rows::token(&row)?, rows::session(&row)?)))
            .transpose()
    }

    async fn touch_session(&self, id: &str, now: UnixMillis) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated =
            sqlx::query("UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("session {id}")));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        new_tokens: &[TokenRecord],
        now: UnixMillis,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            ", ",
            session_columns!(),
            " FROM tokens JOIN sessions ON sessions.id = tokens.session_id \
             WHERE tokens.token_hash = ?"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let (token, session) = (rows::token(&row)?, rows::session(&row)?);
        match rows::rotation_step(&token, &session, now) {
            RotationStep::Unknown => Ok(Rotation::Unknown),
            RotationStep::RevokeForReuse => {
                let row = sqlx::query(concat!(
                    "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? \
                     RETURNING ",
                    session_columns!()
                ))
                .bind(now)
                .bind(REUSE_REASON)
                .bind(session.id.as_str())
                .fetch_one(&mut *tx)
                .await?;
                let session = rows::session(&row)?;
                tx.commit().await?;
                Ok(Rotation::Reused(session))
            }
            RotationStep::Rotate => {
                rows::check_tokens_belong(&session.id, new_tokens)?;
                sqlx::query("UPDATE tokens SET used_at = ? WHERE token_hash = ?")
                    .bind(now)
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?;
                insert_tokens(&mut tx, new_tokens).await?;
                let row = sqlx::query(concat!(
                    "UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ? \
                     RETURNING ",
                    session_columns!()
                ))
                .bind(now)
                .bind(session.id.as_str())
                .fetch_one(&mut *tx)
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
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE sessions SET revoked_at = ?, revoked_reason = ? \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated.rows_affected() > 0)
    }

    async fn revoke_subscriber_sessions(
        &self,
        subscriber: &str,
        reason: &str,
        now: UnixMillis,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE sessions SET revoked_at = ?1, revoked_reason = ?2 \
             WHERE revoked_at IS NULL AND expires_at > ?1 AND (subscriber = ?3 \
             OR account_id IN (SELECT id FROM accounts WHERE subscriber = ?3) \
             OR client_id IN (SELECT id FROM clients WHERE subscriber = ?3))",
        )
        .bind(now)
        .bind(reason)
        .bind(subscriber)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated.rows_affected())
    }

    async fn purge_sessions(&self, before: UnixMillis) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let tokens = sqlx::query(
            "DELETE FROM tokens WHERE expires_at < ?1 OR session_id IN \
             (SELECT id FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(tokens.rows_affected() + sessions.rows_affected())
    }

    async fn remember_once(
        &self,
        id: &str,
        expires_at: UnixMillis,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM once_ids WHERE id IN \
             (SELECT id FROM once_ids WHERE expires_at <= ? LIMIT ?)",
        )
        .bind(now)
        .bind(ONCE_PURGE_BATCH)
        .execute(&mut *tx)
        .await?;
        // Inserts a new id, or takes over an expired one; an unexpired one stays as it is and
        // returns no row.
        let fresh = sqlx::query(
            "INSERT INTO once_ids (id, expires_at) VALUES (?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE once_ids.expires_at <= ?3 RETURNING id",
        )
        .bind(id)
        .bind(expires_at)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        tx.commit().await?;
        Ok(fresh)
    }

    async fn insert_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO clients (",
            client_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::write_error(&format!("client {}", client.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::client).transpose()
    }

    async fn get_client_by_thumbprint(
        &self,
        thumbprint: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE certificate_thumbprint = ?"
        ))
        .bind(thumbprint)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::client).transpose()
    }

    async fn list_clients(&self, subscriber: &str) -> Result<Vec<ClientRecord>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE subscriber = ? ORDER BY created_at, id"
        ))
        .bind(subscriber)
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::client).collect()
    }

    async fn set_key_pin(&self, pin: &KeyPinRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO key_pins (",
            key_pin_columns!(),
            ") VALUES (?, ?, ?) ON CONFLICT (key_id) DO UPDATE \
             SET pin_hash = excluded.pin_hash, updated_at = excluded.updated_at"
        ))
        .bind(pin.key_id.as_str())
        .bind(pin.pin_hash.as_str())
        .bind(pin.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| rows::key_pin_error(&pin.key_id, e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_key_pin(&self, key_id: &str) -> Result<Option<KeyPinRecord>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            key_pin_columns!(),
            " FROM key_pins WHERE key_id = ?"
        ))
        .bind(key_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::key_pin).transpose()
    }
}
