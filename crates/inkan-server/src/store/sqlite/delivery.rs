//! The SQLite spelling of [`DeliveryStore`]: delivery destinations, the outbox of deliveries and
//! retained documents (`migrations/sqlite/0005_delivery.sql`).
//!
//! Every operation that writes is one `BEGIN IMMEDIATE` transaction ([`SqliteStore::begin_write`]),
//! so writers on one file, in this process or another, take turns. A claim is one `UPDATE …
//! WHERE id IN (the due, unleased ids) RETURNING …` under the write lock: a concurrent claimer
//! runs after it and no longer finds those jobs unleased. Recording an attempt's outcome is one
//! conditional `UPDATE … WHERE state = 'pending' AND claim = ? RETURNING …`; a call that matches
//! nothing reads the row in the same transaction, still under the write lock, to tell
//! `NotFound` from `Conflict`, and returns before `commit` (nothing changes).
//!
//! Must never: build SQL from values (all values are bound), decode rows or decide the
//! preconditions itself (that is `store/delivery_rows.rs`, shared with PostgreSQL), or store a
//! document in the clear (the caller seals it).

use super::SqliteStore;
use crate::clock::UnixMillis;
use crate::store::StoreError;
use crate::store::auth_rows::write_error;
use crate::store::delivery::{
    AttemptFailure, DeliveryRecord, DeliveryState, DeliveryStore, DestinationRecord, RetainedRecord,
};
use crate::store::delivery_rows::{
    self as rows, DESTINATIONS_PAGE, delivery_columns, destination_columns, retained_columns,
};

#[async_trait::async_trait]
impl DeliveryStore for SqliteStore {
    async fn insert_destination(&self, destination: &DestinationRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO delivery_destinations (",
            destination_columns!(),
            ") VALUES (?, ?, ?, ?)"
        ))
        .bind(destination.id.as_str())
        .bind(destination.subscriber.as_str())
        .bind(destination.url.as_str())
        .bind(destination.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(&format!("destination {}", destination.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_destination(&self, id: &str) -> Result<Option<DestinationRecord>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            destination_columns!(),
            " FROM delivery_destinations WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(rows::destination).transpose()
    }

    async fn list_destinations(
        &self,
        subscriber: &str,
    ) -> Result<Vec<DestinationRecord>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            destination_columns!(),
            " FROM delivery_destinations WHERE subscriber = ? ORDER BY created_at, id LIMIT ?"
        ))
        .bind(subscriber)
        .bind(DESTINATIONS_PAGE)
        .fetch_all(&self.pool)
        .await?;
        found.iter().map(rows::destination).collect()
    }

    async fn insert_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        let log_index = rows::new_delivery(delivery)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO deliveries (",
            delivery_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, NULL, NULL, ?, ?, NULL)"
        ))
        .bind(delivery.id.as_str())
        .bind(delivery.subscriber.as_str())
        .bind(delivery.destination_id.as_str())
        .bind(delivery.document_type.as_str())
        .bind(delivery.document.as_deref())
        .bind(delivery.document_digest.as_str())
        .bind(log_index)
        .bind(DeliveryState::Pending.as_str())
        .bind(delivery.last_error.as_deref())
        .bind(delivery.next_attempt_at)
        .bind(delivery.created_at)
        .bind(delivery.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(&format!("delivery {}", delivery.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(rows::delivery).transpose()
    }

    async fn claim_deliveries(
        &self,
        now: UnixMillis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let Some((limit, lease_until)) = rows::claim_bounds(now, lease_ms, limit)? else {
            return Ok(Vec::new());
        };
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(concat!(
            "UPDATE deliveries SET attempts = attempts + 1, claim = ?1, lease_until = ?2, \
             updated_at = ?3 \
             WHERE id IN (SELECT id FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= ?3 \
                 AND (lease_until IS NULL OR lease_until <= ?3) \
                 ORDER BY next_attempt_at, id LIMIT ?4) \
             RETURNING ",
            delivery_columns!()
        ))
        .bind(rows::claim_token())
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let claimed = claimed
            .iter()
            .map(rows::delivery)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok(rows::claimed(claimed))
    }

    async fn complete_delivery(
        &self,
        id: &str,
        claim: &str,
        now: UnixMillis,
    ) -> Result<DeliveryRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "UPDATE deliveries SET state = 'delivered', document = NULL, claim = NULL, \
             lease_until = NULL, delivered_at = ?1, updated_at = ?1 \
             WHERE id = ?2 AND state = 'pending' AND claim = ?3 RETURNING ",
            delivery_columns!()
        ))
        .bind(now)
        .bind(id)
        .bind(claim)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let found = sqlx::query("SELECT state, claim FROM deliveries WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(rows::outcome_refusal(id, found.as_ref()));
        };
        let delivery = rows::delivery(&row)?;
        tx.commit().await?;
        Ok(delivery)
    }

    async fn fail_delivery_attempt(
        &self,
        id: &str,
        claim: &str,
        now: UnixMillis,
        error: &str,
        then: AttemptFailure,
    ) -> Result<DeliveryRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let update = match then {
            AttemptFailure::RetryAt(at) => sqlx::query(concat!(
                "UPDATE deliveries SET next_attempt_at = ?4, last_error = ?5, claim = NULL, \
                 lease_until = NULL, updated_at = ?1 \
                 WHERE id = ?2 AND state = 'pending' AND claim = ?3 RETURNING ",
                delivery_columns!()
            ))
            .bind(now)
            .bind(id)
            .bind(claim)
            .bind(at)
            .bind(error),
            AttemptFailure::GiveUp => sqlx::query(concat!(
                "UPDATE deliveries SET state = 'failed', document = NULL, last_error = ?4, \
                 claim = NULL, lease_until = NULL, updated_at = ?1 \
                 WHERE id = ?2 AND state = 'pending' AND claim = ?3 RETURNING ",
                delivery_columns!()
            ))
            .bind(now)
            .bind(id)
            .bind(claim)
            .bind(error),
        };
        let row = update.fetch_optional(&mut *tx).await?;
        let Some(row) = row else {
            let found = sqlx::query("SELECT state, claim FROM deliveries WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(rows::outcome_refusal(id, found.as_ref()));
        };
        let delivery = rows::delivery(&row)?;
        tx.commit().await?;
        Ok(delivery)
    }

    async fn insert_retained(&self, document: &RetainedRecord) -> Result<(), StoreError> {
        let log_index = rows::new_retained(document)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO retained_documents (",
            retained_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(document.id.as_str())
        .bind(document.subscriber.as_str())
        .bind(document.key_id.as_str())
        .bind(document.document_type.as_str())
        .bind(document.document.as_slice())
        .bind(log_index)
        .bind(document.created_at)
        .bind(document.purge_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(&format!("retained document {}", document.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_retained(&self, id: &str) -> Result<Option<RetainedRecord>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            retained_columns!(),
            " FROM retained_documents WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        found.as_ref().map(rows::retained).transpose()
    }

    async fn purge_retained(&self, now: UnixMillis) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM retained_documents WHERE purge_at <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected())
    }
}
