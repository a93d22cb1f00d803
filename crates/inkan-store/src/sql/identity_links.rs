//! [`IdentityLinkStore`] in SQL, for both engines (`migrations/*/0016_identity_links.sql`).
//!
//! Must never: build SQL from values, or decode rows itself (that is `identity_links.rs`).

use super::SqlStore;
use crate::auth_rows::write_error;
use crate::engine::Sql;
use crate::identity_links::{self, IdentityLinkRecord, IdentityLinkStore, identity_link_columns};
use crate::{StoreError, UnixMillis};

#[async_trait::async_trait]
impl IdentityLinkStore for SqlStore {
    async fn insert_identity_link(&self, link: &IdentityLinkRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO identity_links (",
            identity_link_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(link.provider.as_str())
        .bind(link.subject.as_str())
        .bind(link.issuer.as_str())
        .bind(link.account_id.as_str())
        .bind(link.approval.as_str())
        .bind(link.created_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("account {}", link.account_id))
            }
            _ => write_error("identity link", e),
        })?;
        Ok(())
    }

    async fn identity_link(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<IdentityLinkRecord>, StoreError> {
        Sql::new(concat!(
            "SELECT ",
            identity_link_columns!(),
            " FROM identity_links WHERE provider = $1 AND subject = $2 FOR SHARE"
        ))
        .bind(provider)
        .bind(subject)
        .fetch_optional(&mut self.db.read().await?)
        .await?
        .as_ref()
        .map(identity_links::identity_link)
        .transpose()
    }

    async fn delete_identity_link(
        &self,
        provider: &str,
        subject: &str,
        sessions_method: &str,
        at: UnixMillis,
    ) -> Result<Option<IdentityLinkRecord>, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let Some(link) = Sql::new(concat!(
            "SELECT ",
            identity_link_columns!(),
            " FROM identity_links WHERE provider = $1 AND subject = $2 FOR UPDATE"
        ))
        .bind(provider)
        .bind(subject)
        .fetch_optional(&mut tx)
        .await?
        .as_ref()
        .map(identity_links::identity_link)
        .transpose()?
        else {
            return Ok(None);
        };
        Sql::new("DELETE FROM identity_links WHERE provider = $1 AND subject = $2")
            .bind(provider)
            .bind(subject)
            .execute(&mut tx)
            .await?;
        Sql::new(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = 'its identity link was removed' \
             WHERE account_id = $2 AND method = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(link.account_id.as_str())
        .bind(sessions_method)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(Some(link))
    }
}
