//! [`OAuthStore`] in SQL, for both engines (`migrations/*/0015_oauth.sql`).
//!
//! A request is decided by one conditional `UPDATE … WHERE decision IS NULL AND expires_at > now`,
//! so two approvals at once (two tabs, two nodes) give one code. A code is exchanged in one
//! write transaction that first uses it up (`UPDATE … WHERE exchanged_at IS NULL AND
//! code_expires_at > now`) and then inserts the session, its tokens and the SAD it grants: a
//! second exchange matches no row and writes nothing, and a failed insert rolls the use back.
//!
//! Must never: build SQL from values, or decode rows itself (that is `store/oauth.rs`).

use super::SqlStore;
use super::auth::insert_session_in;
use super::signing::insert_sad_in;
use crate::auth_rows::{Columns as _, write_error};
use crate::engine::Sql;
use crate::oauth::{
    self, OAuthClientRecord, OAuthDecision, OAuthGrant, OAuthRequestRecord, OAuthStore,
    oauth_client_columns, oauth_request_columns,
};
use crate::{StoreError, UnixMillis};

#[async_trait::async_trait]
impl OAuthStore for SqlStore {
    async fn insert_oauth_client(&self, client: &OAuthClientRecord) -> Result<(), StoreError> {
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?;
        Sql::new(concat!(
            "INSERT INTO oauth_clients (",
            oauth_client_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(client.id.as_str())
        .bind(client.name.as_str())
        .bind(uris.as_str())
        .bind(client.approval.as_str())
        .bind(client.created_at)
        .bind(client.revoked_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| write_error(&format!("OAuth client {}", client.id), e))?;
        Ok(())
    }

    async fn oauth_client(&self, id: &str) -> Result<Option<OAuthClientRecord>, StoreError> {
        Sql::new(concat!(
            "SELECT ",
            oauth_client_columns!(),
            " FROM oauth_clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?
        .as_ref()
        .map(oauth::client)
        .transpose()
    }

    async fn oauth_clients(&self) -> Result<Vec<OAuthClientRecord>, StoreError> {
        Sql::new(concat!(
            "SELECT ",
            oauth_client_columns!(),
            " FROM oauth_clients ORDER BY created_at, id"
        ))
        .fetch_all(&mut self.db.read().await?)
        .await?
        .iter()
        .map(oauth::client)
        .collect()
    }

    async fn revoke_oauth_client(&self, id: &str, at: UnixMillis) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let row = Sql::new("SELECT revoked_at FROM oauth_clients WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("OAuth client {id}")))?;
        if row.int_opt("revoked_at")?.is_some() {
            return Err(StoreError::Conflict(format!(
                "OAuth client {id} has ended already"
            )));
        }
        Sql::new("UPDATE oauth_clients SET revoked_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&mut tx)
            .await?;
        let sessions = Sql::new(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = 'its OAuth2 client was revoked' \
             WHERE revoked_at IS NULL AND id IN \
             (SELECT granted_session FROM oauth_requests WHERE client_id = $2 \
              AND granted_session IS NOT NULL)",
        )
        .bind(at)
        .bind(id)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(sessions)
    }

    async fn purge_oauth_requests(&self, before: UnixMillis) -> Result<u64, StoreError> {
        Ok(Sql::new(
            "DELETE FROM oauth_requests WHERE expires_at < $1 \
             AND (code_expires_at IS NULL OR code_expires_at < $1) \
             AND (granted_session IS NULL OR granted_session NOT IN (SELECT id FROM sessions))",
        )
        .bind(before)
        .execute(&mut self.db.write().await?)
        .await?)
    }

    async fn insert_oauth_request(&self, request: &OAuthRequestRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO oauth_requests (",
            oauth_request_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(request.id.as_str())
        .bind(request.client_id.as_str())
        .bind(request.redirect_uri.as_str())
        .bind(request.state.as_deref())
        .bind(request.code_challenge.as_str())
        .bind(request.scope.as_str())
        .bind(request.credential.as_deref())
        .bind(request.created_at)
        .bind(request.expires_at)
        .bind(request.account_id.as_deref())
        .bind(request.session_id.as_deref())
        .bind(request.decision.as_deref())
        .bind(request.decided_at)
        .bind(request.code_hash.as_deref())
        .bind(request.code_expires_at)
        .bind(request.exchanged_at)
        .bind(request.granted_session.as_deref())
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("OAuth client {}", request.client_id))
            }
            _ => write_error(&format!("OAuth request {}", request.id), e),
        })?;
        Ok(())
    }

    async fn oauth_request(&self, id: &str) -> Result<Option<OAuthRequestRecord>, StoreError> {
        Sql::new(concat!(
            "SELECT ",
            oauth_request_columns!(),
            " FROM oauth_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?
        .as_ref()
        .map(oauth::request)
        .transpose()
    }

    async fn oauth_request_by_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<OAuthRequestRecord>, StoreError> {
        Sql::new(concat!(
            "SELECT ",
            oauth_request_columns!(),
            " FROM oauth_requests WHERE code_hash = $1"
        ))
        .bind(code_hash)
        .fetch_optional(&mut self.db.read().await?)
        .await?
        .as_ref()
        .map(oauth::request)
        .transpose()
    }

    async fn decide_oauth_request(
        &self,
        id: &str,
        decision: &OAuthDecision<'_>,
    ) -> Result<bool, StoreError> {
        let (code_hash, code_expires_at) = decision.code.unzip();
        let changed = Sql::new(
            "UPDATE oauth_requests SET account_id = $1, session_id = $2, decision = $3, \
             decided_at = $4, code_hash = $5, code_expires_at = $6 \
             WHERE id = $7 AND decision IS NULL AND expires_at > $4",
        )
        .bind(decision.account_id)
        .bind(decision.session_id)
        .bind(if decision.code.is_some() {
            "approved"
        } else {
            "denied"
        })
        .bind(decision.at)
        .bind(code_hash)
        .bind(code_expires_at)
        .bind(id)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| write_error(&format!("OAuth request {id}"), e))?;
        Ok(changed == 1)
    }

    async fn exchange_oauth_code(
        &self,
        code_hash: &str,
        now: UnixMillis,
        grant: &OAuthGrant,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_write().await?;
        // The client's row first, shared: a revocation of the client (which locks it) waits
        // for this exchange, or this exchange finds the client ended.
        let active = Sql::new(
            "SELECT id FROM oauth_clients WHERE revoked_at IS NULL \
             AND id = (SELECT client_id FROM oauth_requests WHERE code_hash = $1) FOR SHARE",
        )
        .bind(code_hash)
        .fetch_optional(&mut tx)
        .await?;
        if active.is_none() {
            return Ok(false);
        }
        let used = Sql::new(
            "UPDATE oauth_requests SET exchanged_at = $1, granted_session = $3 \
             WHERE code_hash = $2 AND exchanged_at IS NULL AND code_expires_at > $1",
        )
        .bind(now)
        .bind(code_hash)
        .bind(grant.session.id.as_str())
        .execute(&mut tx)
        .await?;
        if used != 1 {
            return Ok(false);
        }
        insert_session_in(&mut tx, &grant.session, &grant.tokens).await?;
        if let Some(sad) = &grant.sad {
            insert_sad_in(&mut tx, sad).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
