//! [`PasskeyStore`] in SQL, for both engines (`migrations/*/0015_oauth.sql`).
//!
//! A use is one conditional `UPDATE … WHERE sign_count < $new OR both are 0`, so two uses of
//! one assertion's counter, or of a copy's, cannot both pass. Must never: build SQL from
//! values, or decode rows itself (that is `store/passkeys.rs`).

use super::SqlStore;
use crate::auth_rows::write_error;
use crate::engine::Sql;
use crate::passkeys::{self, PasskeyRecord, PasskeyStore, passkey_columns};
use crate::{StoreError, UnixMillis};

#[async_trait::async_trait]
impl PasskeyStore for SqlStore {
    async fn insert_passkey(&self, passkey: &PasskeyRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO passkeys (",
            passkey_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(passkey.id.as_str())
        .bind(passkey.account_id.as_str())
        .bind(passkey.credential_id.as_str())
        .bind(passkey.public_key.as_str())
        .bind(passkey.algorithm)
        .bind(passkey.name.as_str())
        .bind(passkey.sign_count)
        .bind(passkey.backup)
        .bind(passkey.aaguid.as_str())
        .bind(passkey.attestation_format.as_str())
        .bind(passkey.created_at)
        .bind(passkey.last_used_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("account {}", passkey.account_id))
            }
            _ => write_error("passkey", e),
        })?;
        Ok(())
    }

    async fn passkeys_of(&self, account_id: &str) -> Result<Vec<PasskeyRecord>, StoreError> {
        Sql::new(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE account_id = $1 ORDER BY created_at, id"
        ))
        .bind(account_id)
        .fetch_all(&mut self.db.read().await?)
        .await?
        .iter()
        .map(passkeys::passkey)
        .collect()
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        Sql::new(concat!(
            "SELECT ",
            passkey_columns!(),
            " FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(&mut self.db.read().await?)
        .await?
        .as_ref()
        .map(passkeys::passkey)
        .transpose()
    }

    async fn use_passkey(
        &self,
        id: &str,
        sign_count: i64,
        backup: i64,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        let changed = Sql::new(
            "UPDATE passkeys SET sign_count = $2, backup = $3, last_used_at = $4 \
             WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))",
        )
        .bind(id)
        .bind(sign_count)
        .bind(backup)
        .bind(at)
        .execute(&mut self.db.write().await?)
        .await?;
        Ok(changed == 1)
    }

    async fn delete_passkey(
        &self,
        account_id: &str,
        id: &str,
        sessions_method: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let deleted = Sql::new("DELETE FROM passkeys WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut tx)
            .await?;
        if deleted != 1 {
            return Ok(false);
        }
        Sql::new(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = 'its passkey was removed' \
             WHERE account_id = $2 AND method = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(account_id)
        .bind(sessions_method)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
