//! [`DeliveryStore`] in SQL, for both engines: delivery destinations, the outbox of deliveries
//! and retained documents (`migrations/*/0005_delivery.sql`).
//!
//! Several nodes (PostgreSQL) or processes (SQLite) share the database. A claim is one
//! statement: `WITH due AS MATERIALIZED (SELECT the due, unleased ids … LIMIT n FOR UPDATE SKIP
//! LOCKED) UPDATE … FROM due WHERE <still unleased> RETURNING …`. On PostgreSQL, rows another
//! claimer has locked are skipped, and a row whose claim committed meanwhile is re-checked
//! against the committed version (READ COMMITTED) and no longer qualifies, so each job goes to
//! one claimer, whatever the node. On SQLite (no row locks: the clause is dropped) the statement
//! takes the database's write lock before it reads, so a concurrent claimer runs after it and no
//! longer finds those jobs unleased. Recording an attempt's outcome is one write transaction
//! ([`Db::begin_write`](crate::engine::Db::begin_write)) holding one conditional
//! `UPDATE … WHERE state = 'pending' AND claim = $n RETURNING …`; only a statement that matched
//! no row reads the row afterwards, in the same transaction, to tell `NotFound` from `Conflict`:
//! that read decides the error, never a success, and the call returns before `commit` (nothing
//! changes).
//!
//! Must never: build SQL from values (all values are bound), decode rows or decide the
//! preconditions itself (that is `store/delivery_rows.rs`), or store a document in the clear (the
//! caller seals it).

use super::SqlStore;
use crate::StoreError;
use crate::UnixMillis;
use crate::auth_rows::Columns as _;
use crate::auth_rows::write_error;
use crate::delivery::{
    AttemptFailure, DeliveryRecord, DeliveryState, DeliveryStore, DestinationRecord, RetainedRecord,
};
use crate::delivery_rows::{
    self as rows, DESTINATIONS_PAGE, delivery_columns, destination_columns, retained_columns,
};
use crate::engine::Sql;

#[async_trait::async_trait]
impl DeliveryStore for SqlStore {
    async fn insert_destination(&self, destination: &DestinationRecord) -> Result<(), StoreError> {
        Sql::new(concat!(
            "INSERT INTO delivery_destinations (",
            destination_columns!(),
            ") VALUES ($1, $2, $3, $4)"
        ))
        .bind(destination.id.as_str())
        .bind(destination.subscriber.as_str())
        .bind(destination.url.as_str())
        .bind(destination.created_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| write_error(&format!("destination {}", destination.id), e))?;
        Ok(())
    }

    async fn get_destination(&self, id: &str) -> Result<Option<DestinationRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            destination_columns!(),
            " FROM delivery_destinations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(rows::destination).transpose()
    }

    async fn list_destinations(
        &self,
        subscriber: &str,
    ) -> Result<Vec<DestinationRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            destination_columns!(),
            " FROM delivery_destinations WHERE subscriber = $1 ORDER BY created_at, id LIMIT $2"
        ))
        .bind(subscriber)
        .bind(DESTINATIONS_PAGE)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::destination).collect()
    }

    async fn insert_delivery(&self, delivery: &DeliveryRecord) -> Result<(), StoreError> {
        let log_index = rows::new_delivery(delivery)?;
        Sql::new(concat!(
            "INSERT INTO deliveries (",
            delivery_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, NULL, NULL, $11, $12, NULL)"
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
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| write_error(&format!("delivery {}", delivery.id), e))?;
        Ok(())
    }

    async fn get_delivery(&self, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
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
        // The CTE is evaluated once (`MATERIALIZED`; on PostgreSQL a data-modifying statement's
        // `FOR UPDATE` CTE is materialised anyway): `id IN (subquery … LIMIT)` could be
        // re-evaluated per row on PostgreSQL and take more. SQLite runs `WITH … UPDATE … FROM`
        // since 3.33 and `MATERIALIZED` since 3.35 (the bundled library is newer).
        let claimed = Sql::new(concat!(
            "WITH due AS MATERIALIZED (SELECT id AS due_id FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= $3 \
                 AND (lease_until IS NULL OR lease_until <= $3) \
                 ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             UPDATE deliveries SET attempts = attempts + 1, claim = $1, lease_until = $2, \
             updated_at = $3 \
             FROM due WHERE deliveries.id = due.due_id \
             AND deliveries.state = 'pending' \
             AND (deliveries.lease_until IS NULL OR deliveries.lease_until <= $3) \
             RETURNING ",
            delivery_columns!()
        ))
        .bind(&rows::claim_token())
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut self.db.write().await?)
        .await?;
        let claimed = claimed
            .iter()
            .map(rows::delivery)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows::claimed(claimed))
    }

    async fn complete_delivery(
        &self,
        id: &str,
        claim: &str,
        now: UnixMillis,
    ) -> Result<DeliveryRecord, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let row = Sql::new(concat!(
            "UPDATE deliveries SET state = 'delivered', document = NULL, claim = NULL, \
             lease_until = NULL, delivered_at = $1, updated_at = $1 \
             WHERE id = $2 AND state = 'pending' AND claim = $3 RETURNING ",
            delivery_columns!()
        ))
        .bind(now)
        .bind(id)
        .bind(claim)
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = row else {
            let found = Sql::new("SELECT state, claim FROM deliveries WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut tx)
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
        let update = match then {
            AttemptFailure::RetryAt(at) => Sql::new(concat!(
                "UPDATE deliveries SET next_attempt_at = $4, last_error = $5, claim = NULL, \
                 lease_until = NULL, updated_at = $1 \
                 WHERE id = $2 AND state = 'pending' AND claim = $3 RETURNING ",
                delivery_columns!()
            ))
            .bind(now)
            .bind(id)
            .bind(claim)
            .bind(at)
            .bind(error),
            AttemptFailure::GiveUp => Sql::new(concat!(
                "UPDATE deliveries SET state = 'failed', document = NULL, last_error = $4, \
                 claim = NULL, lease_until = NULL, updated_at = $1 \
                 WHERE id = $2 AND state = 'pending' AND claim = $3 RETURNING ",
                delivery_columns!()
            ))
            .bind(now)
            .bind(id)
            .bind(claim)
            .bind(error),
        };
        let mut tx = self.db.begin_write().await?;
        let Some(row) = update.fetch_optional(&mut tx).await? else {
            let found = Sql::new("SELECT state, claim FROM deliveries WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut tx)
                .await?;
            return Err(rows::outcome_refusal(id, found.as_ref()));
        };
        let delivery = rows::delivery(&row)?;
        tx.commit().await?;
        Ok(delivery)
    }

    async fn insert_retained(&self, document: &RetainedRecord) -> Result<(), StoreError> {
        let log_index = rows::new_retained(document)?;
        Sql::new(concat!(
            "INSERT INTO retained_documents (",
            retained_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(document.id.as_str())
        .bind(document.subscriber.as_str())
        .bind(document.key_id.as_str())
        .bind(document.document_type.as_str())
        .bind(document.document.as_slice())
        .bind(log_index)
        .bind(document.created_at)
        .bind(document.purge_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| write_error(&format!("retained document {}", document.id), e))?;
        Ok(())
    }

    async fn get_retained(&self, id: &str) -> Result<Option<RetainedRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            retained_columns!(),
            " FROM retained_documents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(rows::retained).transpose()
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        let row = Sql::new("SELECT COUNT(*) AS n FROM deliveries WHERE state = 'pending'")
            .fetch_one(&mut self.db.read().await?)
            .await?;
        Ok(u64::try_from(row.int("n")?).unwrap_or(0))
    }

    async fn purge_retained(&self, now: UnixMillis) -> Result<u64, StoreError> {
        let deleted = Sql::new("DELETE FROM retained_documents WHERE purge_at <= $1")
            .bind(now)
            .execute(&mut self.db.write().await?)
            .await?;
        Ok(deleted)
    }
}
