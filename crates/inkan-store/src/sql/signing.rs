//! [`SigningStore`] in SQL, for both engines: signature activation data (SAD) and the index of
//! the signatures made (`migrations/*/0004_signing.sql`).
//!
//! Several nodes (PostgreSQL) or processes (SQLite, on one file) share the database. Using up a
//! SAD is one conditional statement (`UPDATE … WHERE used_at IS NULL AND expires_at > now
//! RETURNING …`): on PostgreSQL concurrent statements queue on the row lock and a loser
//! re-evaluates the condition against the winner's row (READ COMMITTED); on SQLite they run one
//! at a time on the one writer connection; either way exactly one succeeds. Only a statement
//! that matched no row reads the row afterwards, to tell `NotFound` (no such SAD) from
//! `Conflict` (used or expired): that read decides the error, never a success. Signatures are
//! recorded in one write transaction.
//!
//! Must never: build SQL from values (all values are bound), decode rows or decide the
//! preconditions itself (that is `store/signing_rows.rs`), or store a SAD in the clear (only its
//! SHA-256).

use super::SqlStore;
use crate::StoreError;
use crate::UnixMillis;
use crate::auth_rows::{Columns as _, write_error};
use crate::engine::{Engine, Executor, Sql, Tx};
use crate::log;
use crate::signing::{SadRecord, SignatureRecord, SigningStore};
use crate::signing_rows::{self as rows, SIGNATURES_PAGE, sad_columns, signature_columns};

/// Inserts a SAD on `on` (alone, or inside a transaction that makes its session).
pub(super) async fn insert_sad_in(
    on: &mut impl Executor,
    sad: &SadRecord,
) -> Result<(), StoreError> {
    let digests = rows::sad_digests(sad)?;
    Sql::new(concat!(
        "INSERT INTO sads (",
        sad_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(sad.sad_hash.as_str())
    .bind(sad.id.as_str())
    .bind(sad.key_id.as_str())
    .bind(sad.account_id.as_str())
    .bind(sad.session_id.as_str())
    .bind(&digests)
    .bind(i64::from(sad.num_signatures))
    .bind(sad.created_at)
    .bind(sad.expires_at)
    .bind(sad.used_at)
    .bind(sad.disclosure_digest.as_deref())
    .execute(on)
    .await
    .map_err(|e| write_error(&format!("SAD {}", sad.id), e))?;
    Ok(())
}

#[async_trait::async_trait]
impl SigningStore for SqlStore {
    async fn insert_sad(&self, sad: &SadRecord) -> Result<(), StoreError> {
        insert_sad_in(&mut self.db.write().await?, sad).await
    }

    async fn consume_sad(&self, sad_hash: &str, now: UnixMillis) -> Result<SadRecord, StoreError> {
        let row = Sql::new(concat!(
            "UPDATE sads SET used_at = $1 \
             WHERE sad_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING ",
            sad_columns!()
        ))
        .bind(now)
        .bind(sad_hash)
        .fetch_optional(&mut self.db.write().await?)
        .await?;
        if let Some(row) = row {
            return rows::sad(&row);
        }
        let found = Sql::new("SELECT id, used_at, expires_at FROM sads WHERE sad_hash = $1")
            .bind(sad_hash)
            .fetch_optional(&mut self.db.read().await?)
            .await?;
        Err(rows::consume_refusal(found.as_ref(), now))
    }

    async fn insert_signatures(&self, records: &[SignatureRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        let rows: Vec<(u64, &SignatureRecord)> = records.iter().map(|r| (r.log_index, r)).collect();
        insert_signature_rows(self.db.engine(), &mut tx, &rows).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn signatures_by_digest(
        &self,
        subscriber: &str,
        digest: &str,
    ) -> Result<Vec<SignatureRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            signature_columns!(),
            " FROM signatures WHERE subscriber = $1 AND digest = $2 \
             ORDER BY created_at, id LIMIT $3"
        ))
        .bind(subscriber)
        .bind(digest)
        .bind(SIGNATURES_PAGE)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::signature).collect()
    }

    async fn indexed_log_indexes(&self, from: u64) -> Result<Vec<u64>, StoreError> {
        let from = crate::log::to_db(from)?;
        let found = Sql::new(
            "SELECT DISTINCT log_index FROM signatures WHERE log_index >= $1 ORDER BY log_index",
        )
        .bind(from)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found
            .iter()
            .map(|row| crate::log::from_db(row.int("log_index")?, "signature log index"))
            .collect()
    }

    async fn purge_sads(&self, before: UnixMillis) -> Result<u64, StoreError> {
        let deleted = Sql::new("DELETE FROM sads WHERE expires_at < $1")
            .bind(before)
            .execute(&mut self.db.write().await?)
            .await?;
        Ok(deleted)
    }
}

/// Writes index rows in `tx`, each record at the log index given beside it (not its own
/// `log_index`), as few statements as the rows' size allows ([`Engine::statement_bytes`]).
pub(super) async fn insert_signature_rows(
    engine: Engine,
    tx: &mut Tx,
    records: &[(u64, &SignatureRecord)],
) -> Result<(), StoreError> {
    let sql = insert_signatures_sql(engine);
    for list in signature_lists(engine, records)? {
        Sql::assembled(sql.clone())
            .bind(&list)
            .execute(tx)
            .await
            .map_err(|e| write_error("signature index row", e))?;
    }
    Ok(())
}

/// The statement that writes the signature index rows of one list of [`signature_lists`].
pub(super) fn insert_signatures_sql(engine: Engine) -> String {
    format!(
        concat!(
            "INSERT INTO signatures (",
            signature_columns!(),
            ") SELECT l.v ->> 'digest', l.v ->> 'key_id', l.v ->> 'subscriber', \
             l.v ->> 'document_type', CAST(l.v ->> 'log_index' AS BIGINT), \
             CAST(l.v ->> 'created_at' AS BIGINT) FROM ({}) AS l"
        ),
        engine.object_rows(1)
    )
}

/// `records` as JSON lists of rows, each list at most half of [`Engine::statement_bytes`].
pub(super) fn signature_lists(
    engine: Engine,
    records: &[(u64, &SignatureRecord)],
) -> Result<Vec<String>, StoreError> {
    let rows = records
        .iter()
        .map(|(log_index, record)| {
            Ok(serde_json::json!({
                "digest": record.digest,
                "key_id": record.key_id,
                "subscriber": record.subscriber,
                "document_type": record.document_type,
                "log_index": log::to_db(*log_index)?,
                "created_at": record.created_at,
            }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(json_lists(engine, &rows))
}

/// `rows` (JSON objects) as JSON lists, each at most half of [`Engine::statement_bytes`]: the
/// values of statements that read their rows with [`Engine::object_rows`].
pub(super) fn json_lists(engine: Engine, rows: &[serde_json::Value]) -> Vec<String> {
    let mut lists = Vec::new();
    let mut list = Vec::new();
    let mut bytes = 0;
    for (i, row) in rows.iter().enumerate() {
        let row = row.to_string();
        bytes += row.len() + 1;
        list.push(row);
        if bytes >= engine.statement_bytes() / 2 || i + 1 == rows.len() {
            lists.push(format!("[{}]", list.join(",")));
            list.clear();
            bytes = 0;
        }
    }
    lists
}
