//! [`StatusListStore`] in SQL, for both engines (`migrations/*/0012_status_lists.sql`), with
//! the decoding of its rows.
//!
//! Every change is one statement, atomic on its own whichever node runs it:
//! - handing out indexes is one `INSERT … SELECT` of the candidates that are inside the list
//!   and not taken, `ON CONFLICT DO NOTHING`: on PostgreSQL a concurrent insert of the same
//!   index waits for the other and then does nothing; on SQLite writers take turns. The
//!   primary key `(list_id, idx)` alone guarantees that an index is handed out once. Every
//!   caller inserts its candidates in ascending order, so two callers never wait for each
//!   other's indexes in a cycle (a deadlock PostgreSQL would break by failing one of them);
//! - binding an entry to its credential is a conditional `UPDATE` (`… WHERE digest IS NULL`)
//!   in the log batch that writes the credential's signature ([`bind_entries_sql`]); changing
//!   a value is one too (`… WHERE is_final = 0`), and a refusal is explained by reading the
//!   entry afterwards.
//!
//! Must never: build SQL from values (all values are bound), delete an entry, or change a final
//! value.

use super::SqlStore;
use crate::SignatureRecord;
use crate::StoreError;
use crate::auth_rows::{Columns, write_error};
use crate::engine::{Engine, Lock, Sql, int_array};
use crate::status_lists::{
    ListFormat, SignedAs, StatusChange, StatusEntryRecord, StatusListRecord, StatusListStore,
    StatusListVersion, StatusSnapshot,
};

macro_rules! list_columns {
    () => {
        "id, owner, key_id, format, purpose, bits, size, messages, ttl_ms, created_at, created_by, \
         changes, signed_as, deliver_to"
    };
}

macro_rules! version_columns {
    () => {
        "list_id, version, covers, media_type, document, valid_from, valid_until, log_index, \
         published_at"
    };
}

macro_rules! entry_columns {
    () => {
        "list_id, idx, value, is_final, digest, log_index, reserved_at, changed_at, changed_by, \
         change_seq"
    };
}

fn corrupt(record: &str, column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{record}, {column}: {detail}"))
}

fn unsigned(value: i64, record: &str, column: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(record, column, format!("negative ({value})")))
}

fn byte(value: i64, record: &str, column: &str) -> Result<u8, StoreError> {
    u8::try_from(value).map_err(|_| corrupt(record, column, format!("out of range ({value})")))
}

fn index(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Conflict(format!("index {value} is too large")))
}

fn list(row: &impl Columns) -> Result<StatusListRecord, StoreError> {
    let id = row.text("id")?;
    let record = format!("status list {id:?}");
    let format = row.text("format")?;
    let signed_as = row.text("signed_as")?;
    Ok(StatusListRecord {
        format: ListFormat::parse(&format)
            .ok_or_else(|| corrupt(&record, "format", format!("unknown value {format:?}")))?,
        signed_as: SignedAs::parse(&signed_as)
            .ok_or_else(|| corrupt(&record, "signed_as", format!("unknown value {signed_as:?}")))?,
        owner: row.text("owner")?,
        key_id: row.text("key_id")?,
        purpose: row.text_opt("purpose")?,
        bits: byte(row.int("bits")?, &record, "bits")?,
        size: unsigned(row.int("size")?, &record, "size")?,
        messages: row.text_opt("messages")?,
        ttl_ms: row.int("ttl_ms")?,
        created_at: row.int("created_at")?,
        created_by: row.text("created_by")?,
        changes: unsigned(row.int("changes")?, &record, "changes")?,
        deliver_to: row.text_opt("deliver_to")?,
        id,
    })
}

fn version(row: &impl Columns) -> Result<StatusListVersion, StoreError> {
    let list_id = row.text("list_id")?;
    let record = format!("a published version of status list {list_id:?}");
    Ok(StatusListVersion {
        version: unsigned(row.int("version")?, &record, "version")?,
        covers: unsigned(row.int("covers")?, &record, "covers")?,
        media_type: row.text("media_type")?,
        document: row.text("document")?,
        valid_from: row.int("valid_from")?,
        valid_until: row.int("valid_until")?,
        log_index: row
            .int_opt("log_index")?
            .map(|i| unsigned(i, &record, "log_index"))
            .transpose()?,
        published_at: row.int("published_at")?,
        list_id,
    })
}

fn entry(row: &impl Columns) -> Result<StatusEntryRecord, StoreError> {
    let list_id = row.text("list_id")?;
    let idx = row.int("idx")?;
    let record = format!("status entry {idx} of list {list_id:?}");
    Ok(StatusEntryRecord {
        index: unsigned(idx, &record, "idx")?,
        value: byte(row.int("value")?, &record, "value")?,
        is_final: row.int("is_final")? != 0,
        digest: row.text_opt("digest")?,
        log_index: row
            .int_opt("log_index")?
            .map(|i| unsigned(i, &record, "log_index"))
            .transpose()?,
        reserved_at: row.int("reserved_at")?,
        changed_at: row.int_opt("changed_at")?,
        changed_by: row.text_opt("changed_by")?,
        change_seq: row
            .int_opt("change_seq")?
            .map(|i| unsigned(i, &record, "change_seq"))
            .transpose()?,
        list_id,
    })
}

/// The statement that binds status list entries to the credentials they went to, in the log
/// batch that writes those credentials' signatures: rows (see [`binding_rows`]) of list,
/// index, digest, log index and the signing key, each bound only if it is not bound yet and
/// its list is the key's.
pub(super) fn bind_entries_sql(engine: Engine) -> String {
    format!(
        "UPDATE status_list_entries SET digest = l.v ->> 'digest', \
         log_index = CAST(l.v ->> 'log_index' AS BIGINT) FROM ({}) AS l \
         WHERE status_list_entries.list_id = l.v ->> 'list_id' \
         AND status_list_entries.idx = CAST(l.v ->> 'idx' AS BIGINT) \
         AND status_list_entries.digest IS NULL \
         AND EXISTS (SELECT 1 FROM status_lists s \
                     WHERE s.id = l.v ->> 'list_id' AND s.key_id = l.v ->> 'key_id')",
        engine.object_rows(1)
    )
}

/// The rows of [`bind_entries_sql`] for `records` (signature index rows with their log
/// indexes).
pub(super) fn binding_rows(
    records: &[(u64, &SignatureRecord)],
) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut rows = Vec::new();
    for (log_index, record) in records {
        for (list_id, idx) in &record.status_entries {
            rows.push(serde_json::json!({
                "list_id": list_id, "idx": index(*idx)?, "digest": record.digest,
                "log_index": index(*log_index)?, "key_id": record.key_id,
            }));
        }
    }
    Ok(rows)
}

impl SqlStore {
    /// The entry, or why there is none.
    async fn existing_entry(
        &self,
        list_id: &str,
        idx: u64,
    ) -> Result<StatusEntryRecord, StoreError> {
        self.status_entry(list_id, idx).await?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "index {idx} of status list {list_id} (not handed out)"
            ))
        })
    }
}

#[async_trait::async_trait]
impl StatusListStore for SqlStore {
    async fn insert_status_list(
        &self,
        list: &StatusListRecord,
        most: u32,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        // Two creations for one owner wait for each other (on PostgreSQL, READ COMMITTED would
        // let both count the same lists); SQLite's write transaction is one at a time already.
        tx.lock(Lock::StatusListsOf(list.owner.as_str())).await?;
        let kept = Sql::new("SELECT count(*) AS n FROM status_lists WHERE owner = $1")
            .bind(list.owner.as_str())
            .fetch_one(&mut tx)
            .await?
            .int("n")?;
        if kept >= i64::from(most) {
            return Err(StoreError::Conflict(format!(
                "the subscriber keeps {kept} status lists, the most allowed"
            )));
        }
        Sql::new(concat!(
            "INSERT INTO status_lists (",
            list_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13)"
        ))
        .bind(list.id.as_str())
        .bind(list.owner.as_str())
        .bind(list.key_id.as_str())
        .bind(list.format.as_str())
        .bind(list.purpose.as_deref())
        .bind(i64::from(list.bits))
        .bind(index(list.size)?)
        .bind(list.messages.as_deref())
        .bind(list.ttl_ms)
        .bind(list.created_at)
        .bind(list.created_by.as_str())
        .bind(list.signed_as.as_str())
        .bind(list.deliver_to.as_deref())
        .execute(&mut tx)
        .await
        .map_err(|e| write_error(&format!("status list {}", list.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_status_list(&self, id: &str) -> Result<Option<StatusListRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            list_columns!(),
            " FROM status_lists WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(list).transpose()
    }

    async fn status_lists_of(&self, owner: &str) -> Result<Vec<StatusListRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            list_columns!(),
            " FROM status_lists WHERE owner = $1 ORDER BY created_at, id COLLATE \"C\""
        ))
        .bind(owner)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(list).collect()
    }

    async fn reserve_status_indexes(
        &self,
        list_id: &str,
        candidates: &[u64],
        wanted: usize,
        at: i64,
    ) -> Result<Vec<u64>, StoreError> {
        let mut distinct = candidates
            .iter()
            .map(|c| index(*c))
            .collect::<Result<Vec<_>, _>>()?;
        distinct.sort_unstable();
        distinct.dedup();
        let taken = if distinct.is_empty() || wanted == 0 {
            Vec::new()
        } else {
            let rows = Sql::assembled(format!(
                "INSERT INTO status_list_entries (list_id, idx, reserved_at) \
                 SELECT $1, l.v, $2 FROM ({}) AS l \
                 WHERE l.v < (SELECT size FROM status_lists WHERE id = $1) \
                 AND NOT EXISTS (SELECT 1 FROM status_list_entries e \
                                 WHERE e.list_id = $1 AND e.idx = l.v) \
                 ORDER BY l.v LIMIT $4 \
                 ON CONFLICT (list_id, idx) DO NOTHING RETURNING idx",
                self.db.engine().int_rows(3)
            ))
            .bind(list_id)
            .bind(at)
            .bind(&int_array(&distinct))
            .bind(i64::try_from(wanted).unwrap_or(i64::MAX))
            .fetch_all(&mut self.db.write().await?)
            .await
            .map_err(|e| write_error(&format!("indexes of status list {list_id}"), e))?;
            let record = format!("status list {list_id:?}");
            rows.iter()
                .map(|row| unsigned(row.int("idx")?, &record, "idx"))
                .collect::<Result<Vec<_>, _>>()?
        };
        // Whether the list exists is asked only when fewer were handed out than wanted (an
        // unknown list hands out nothing): not on the common path of issuance.
        if taken.len() < wanted.max(1) && self.get_status_list(list_id).await?.is_none() {
            return Err(StoreError::NotFound(format!("status list {list_id}")));
        }
        Ok(taken)
    }

    async fn change_status(&self, change: &StatusChange) -> Result<StatusEntryRecord, StoreError> {
        let mut tx = self.db.begin_write().await?;
        // The list's count first: its row lock orders concurrent changes of one list, so each
        // change gets a number of its own (rolled back with the rest if the entry is final).
        let seq = Sql::new(
            "UPDATE status_lists SET changes = changes + 1 WHERE id = $1 RETURNING changes",
        )
        .bind(change.list_id.as_str())
        .fetch_optional(&mut tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("status list {}", change.list_id)))?
        .int("changes")?;
        let changed = Sql::new(concat!(
            "UPDATE status_list_entries SET value = $3, is_final = $4, changed_at = $5, \
             changed_by = $6, change_seq = $7 WHERE list_id = $1 AND idx = $2 AND is_final = 0 \
             RETURNING ",
            entry_columns!()
        ))
        .bind(change.list_id.as_str())
        .bind(index(change.index)?)
        .bind(i64::from(change.value))
        .bind(i64::from(change.make_final))
        .bind(change.at)
        .bind(change.by.as_str())
        .bind(seq)
        .fetch_optional(&mut tx)
        .await?;
        if let Some(row) = changed {
            tx.commit().await?;
            return entry(&row);
        }
        drop(tx);
        let current = self.existing_entry(&change.list_id, change.index).await?;
        Err(StoreError::Conflict(format!(
            "index {} of status list {} has the final value {}: it does not change again",
            change.index, change.list_id, current.value
        )))
    }

    async fn status_entry(
        &self,
        list_id: &str,
        idx: u64,
    ) -> Result<Option<StatusEntryRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM status_list_entries WHERE list_id = $1 AND idx = $2"
        ))
        .bind(list_id)
        .bind(index(idx)?)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(entry).transpose()
    }

    async fn status_entries_by_digest(
        &self,
        digest: &str,
    ) -> Result<Vec<StatusEntryRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM status_list_entries WHERE digest = $1 ORDER BY list_id COLLATE \"C\", idx"
        ))
        .bind(digest)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(entry).collect()
    }

    async fn status_snapshot(&self, list_id: &str) -> Result<StatusSnapshot, StoreError> {
        let mut tx = self.db.begin_read().await?;
        let changes = Sql::new("SELECT changes FROM status_lists WHERE id = $1")
            .bind(list_id)
            .fetch_optional(&mut tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("status list {list_id}")))?
            .int("changes")?;
        let found = Sql::new(
            "SELECT idx, value FROM status_list_entries \
             WHERE list_id = $1 AND value <> 0 ORDER BY idx",
        )
        .bind(list_id)
        .fetch_all(&mut tx)
        .await?;
        let record = format!("status list {list_id:?}");
        let values = found
            .iter()
            .map(|row| {
                Ok((
                    unsigned(row.int("idx")?, &record, "idx")?,
                    byte(row.int("value")?, &record, "value")?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(StatusSnapshot {
            changes: unsigned(changes, &record, "changes")?,
            values,
        })
    }

    async fn insert_status_list_version(
        &self,
        published: &StatusListVersion,
    ) -> Result<(), StoreError> {
        let inserted = Sql::new(concat!(
            "INSERT INTO status_list_versions (",
            version_columns!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE $2 = 1 + (SELECT coalesce(max(version), 0) FROM status_list_versions \
                             WHERE list_id = $1) \
             AND $3 <= (SELECT changes FROM status_lists WHERE id = $1) \
             AND $3 >= (SELECT coalesce(max(covers), 0) FROM status_list_versions \
                        WHERE list_id = $1) \
             ON CONFLICT (list_id, version) DO NOTHING"
        ))
        .bind(published.list_id.as_str())
        .bind(index(published.version)?)
        .bind(index(published.covers)?)
        .bind(published.media_type.as_str())
        .bind(published.document.as_str())
        .bind(published.valid_from)
        .bind(published.valid_until)
        .bind(published.log_index.map(index).transpose()?)
        .bind(published.published_at)
        .execute(&mut self.db.write().await?)
        .await
        .map_err(|e| write_error(&format!("status list {}", published.list_id), e))?;
        if inserted == 1 {
            return Ok(());
        }
        Err(StoreError::Conflict(format!(
            "version {} of status list {} is not the next one (or covers changes it does not \
             have)",
            published.version, published.list_id
        )))
    }

    async fn latest_status_list_version(
        &self,
        list_id: &str,
    ) -> Result<Option<StatusListVersion>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            version_columns!(),
            " FROM status_list_versions WHERE list_id = $1 ORDER BY version DESC LIMIT 1"
        ))
        .bind(list_id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(version).transpose()
    }

    async fn status_lists_to_publish(
        &self,
        renew_at: i64,
        now: i64,
    ) -> Result<Vec<StatusListRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            list_columns!(),
            " FROM status_lists LEFT JOIN status_list_versions \
             ON list_id = id AND version = (SELECT max(version) FROM status_list_versions \
                                            WHERE list_id = id) \
             WHERE publish_after <= $2 \
             AND (list_id IS NULL OR covers < changes OR valid_until <= $1) \
             ORDER BY publish_after, id COLLATE \"C\" LIMIT 100"
        ))
        .bind(renew_at)
        .bind(now)
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(list).collect()
    }

    async fn claim_status_list(
        &self,
        list_id: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let claimed = Sql::new(
            "UPDATE status_lists SET publish_after = $3 WHERE id = $1 AND publish_after <= $2",
        )
        .bind(list_id)
        .bind(now)
        .bind(until)
        .execute(&mut self.db.write().await?)
        .await?;
        Ok(claimed == 1)
    }

    async fn hold_status_list(&self, list_id: &str, until: i64) -> Result<(), StoreError> {
        Sql::new("UPDATE status_lists SET publish_after = $2 WHERE id = $1")
            .bind(list_id)
            .bind(until)
            .execute(&mut self.db.write().await?)
            .await?;
        Ok(())
    }

    async fn reserved_status_count(&self, list_id: &str) -> Result<u64, StoreError> {
        let row = Sql::new("SELECT count(*) AS n FROM status_list_entries WHERE list_id = $1")
            .bind(list_id)
            .fetch_one(&mut self.db.read().await?)
            .await?;
        unsigned(row.int("n")?, &format!("status list {list_id:?}"), "count")
    }

    async fn changed_status_entries(
        &self,
        list_id: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StatusEntryRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            entry_columns!(),
            " FROM status_list_entries WHERE list_id = $1 AND idx >= $2 \
             AND changed_at IS NOT NULL ORDER BY idx LIMIT $3"
        ))
        .bind(list_id)
        .bind(index(from)?)
        .bind(i64::from(limit))
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(entry).collect()
    }

    async fn status_list_versions(
        &self,
        list_id: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StatusListVersion>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            version_columns!(),
            " FROM status_list_versions WHERE list_id = $1 AND version >= $2 \
             ORDER BY version LIMIT $3"
        ))
        .bind(list_id)
        .bind(index(from)?)
        .bind(i64::from(limit))
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(version).collect()
    }
}
