//! The SQLite spelling of [`SigningStore`]: signature activation data (SAD) and the index of
//! the signatures made (`migrations/sqlite/0004_signing.sql`).
//!
//! Every operation that writes is one `BEGIN IMMEDIATE` transaction ([`SqliteStore::begin_write`]),
//! so writers on one file, in this process or another, take turns. Using up a SAD is one
//! conditional `UPDATE … WHERE used_at IS NULL AND expires_at > now RETURNING …`: of several
//! concurrent calls exactly one matches the row; a call that matches none reads the row in the
//! same transaction, still under the write lock, to tell `NotFound` from `Conflict`. A refusal
//! returns before `commit`: the transaction rolls back on drop and nothing changes.
//!
//! Must never: build SQL from values (all values are bound), decode rows or decide the
//! preconditions itself (that is `store/signing_rows.rs`, shared with PostgreSQL), or store a
//! SAD in the clear (only its SHA-256).

use super::SqliteStore;
use crate::clock::UnixMillis;
use crate::store::StoreError;
use crate::store::auth_rows::write_error;
use crate::store::signing::{SadRecord, SignatureRecord, SigningStore};
use crate::store::signing_rows::{self as rows, SIGNATURES_PAGE, sad_columns, signature_columns};

#[async_trait::async_trait]
impl SigningStore for SqliteStore {
    async fn insert_sad(&self, sad: &SadRecord) -> Result<(), StoreError> {
        let digests = rows::sad_digests(sad)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO sads (",
            sad_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(sad.sad_hash.as_str())
        .bind(sad.id.as_str())
        .bind(sad.key_id.as_str())
        .bind(sad.account_id.as_str())
        .bind(sad.session_id.as_str())
        .bind(digests)
        .bind(i64::from(sad.num_signatures))
        .bind(sad.created_at)
        .bind(sad.expires_at)
        .bind(sad.used_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(&format!("SAD {}", sad.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn consume_sad(&self, sad_hash: &str, now: UnixMillis) -> Result<SadRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "UPDATE sads SET used_at = ?1 \
             WHERE sad_hash = ?2 AND used_at IS NULL AND expires_at > ?1 RETURNING ",
            sad_columns!()
        ))
        .bind(now)
        .bind(sad_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let found = sqlx::query("SELECT id, used_at, expires_at FROM sads WHERE sad_hash = ?")
                .bind(sad_hash)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(rows::consume_refusal(found.as_ref(), now));
        };
        let sad = rows::sad(&row)?;
        tx.commit().await?;
        Ok(sad)
    }

    async fn insert_signatures(&self, records: &[SignatureRecord]) -> Result<(), StoreError> {
        let log_indexes = rows::log_indexes(records)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (record, log_index) in records.iter().zip(log_indexes) {
            sqlx::query(concat!(
                "INSERT INTO signatures (",
                signature_columns!(),
                ") VALUES (?, ?, ?, ?, ?, ?)"
            ))
            .bind(record.digest.as_str())
            .bind(record.key_id.as_str())
            .bind(record.subscriber.as_str())
            .bind(record.document_type.as_str())
            .bind(log_index)
            .bind(record.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(&format!("signature by key {}", record.key_id), e))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn signatures_by_digest(
        &self,
        subscriber: &str,
        digest: &str,
    ) -> Result<Vec<SignatureRecord>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signature_columns!(),
            " FROM signatures WHERE subscriber = ? AND digest = ? ORDER BY created_at, id LIMIT ?"
        ))
        .bind(subscriber)
        .bind(digest)
        .bind(SIGNATURES_PAGE)
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::signature).collect()
    }

    async fn indexed_log_indexes(&self, from: u64) -> Result<Vec<u64>, StoreError> {
        let from = crate::store::log::to_db(from)?;
        let found: Vec<i64> = sqlx::query_scalar(
            "SELECT DISTINCT log_index FROM signatures WHERE log_index >= ? ORDER BY log_index",
        )
        .bind(from)
        .fetch_all(&self.pool)
        .await?;
        found
            .into_iter()
            .map(|i| crate::store::log::from_db(i, "signature log index"))
            .collect()
    }

    async fn purge_sads(&self, before: UnixMillis) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM sads WHERE expires_at < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }
}
