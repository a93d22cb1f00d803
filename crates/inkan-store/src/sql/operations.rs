//! [`OperationsStore`] in SQL, for both engines: operators' roles and terminals, workflow
//! records, termination (`migrations/*/0007_operations.sql`).
//!
//! Every write is one write transaction (`Db::begin_write`); a refused write returns before
//! `commit` and rolls back on drop. Must never: build SQL from values, or decode rows itself
//! (that is `store/operations_rows.rs`).

use super::SqlStore;
use crate::StoreError;
use crate::UnixMillis;
use crate::auth_rows::Columns as _;
use crate::engine::Sql;
use crate::operations::{
    OperationsStore, OperatorRole, OperatorRoleRecord, TerminalRecord, Termination, WorkflowKind,
    WorkflowRecord,
};
use crate::operations_rows::{
    self as rows, operator_role_columns, terminal_columns, workflow_columns,
};

#[async_trait::async_trait]
impl OperationsStore for SqlStore {
    async fn set_operator_role(&self, role: &OperatorRoleRecord) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        let account: Option<String> = Sql::new("SELECT role FROM accounts WHERE id = $1")
            .bind(role.account_id.as_str())
            .fetch_optional(&mut tx)
            .await?
            .map(|row| row.text("role"))
            .transpose()?;
        match account.as_deref() {
            None => return Err(StoreError::NotFound(format!("account {}", role.account_id))),
            Some("operator") => {}
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "account {} is not an operator's",
                    role.account_id
                )));
            }
        }
        Sql::new(concat!(
            "INSERT INTO operator_roles (",
            operator_role_columns!(),
            ") VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET role = excluded.role, \
             set_at = excluded.set_at, set_by = excluded.set_by"
        ))
        .bind(role.account_id.as_str())
        .bind(role.role.as_str())
        .bind(role.set_at)
        .bind(role.set_by.as_str())
        .execute(&mut tx)
        .await
        .map_err(|e| rows::write_error("operator role", e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn operator_role(&self, account_id: &str) -> Result<Option<OperatorRole>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            operator_role_columns!(),
            " FROM operator_roles WHERE account_id = $1"
        ))
        .bind(account_id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        Ok(found
            .as_ref()
            .map(rows::operator_role)
            .transpose()?
            .map(|r| r.role))
    }

    async fn operator_roles(&self) -> Result<Vec<OperatorRoleRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            operator_role_columns!(),
            " FROM operator_roles ORDER BY account_id"
        ))
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::operator_role).collect()
    }

    async fn insert_terminal(&self, terminal: &TerminalRecord) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        Sql::new(concat!(
            "INSERT INTO operator_terminals (",
            terminal_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(terminal.thumbprint.as_str())
        .bind(terminal.account_id.as_str())
        .bind(terminal.name.as_str())
        .bind(terminal.registered_at)
        .bind(terminal.registered_by.as_str())
        .bind(terminal.revoked_at)
        .execute(&mut tx)
        .await
        .map_err(|e| rows::write_error("terminal", e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_terminal(&self, thumbprint: &str) -> Result<Option<TerminalRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            terminal_columns!(),
            " FROM operator_terminals WHERE thumbprint = $1"
        ))
        .bind(thumbprint)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(rows::terminal).transpose()
    }

    async fn terminals(&self) -> Result<Vec<TerminalRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            terminal_columns!(),
            " FROM operator_terminals ORDER BY registered_at, thumbprint"
        ))
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::terminal).collect()
    }

    async fn revoke_terminal(&self, thumbprint: &str, at: UnixMillis) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        let done = Sql::new(
            "UPDATE operator_terminals SET revoked_at = $1 \
             WHERE thumbprint = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(thumbprint)
        .execute(&mut tx)
        .await?;
        if done == 0 {
            return Err(StoreError::NotFound(format!(
                "active terminal {thumbprint}"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert_workflow(&self, record: &WorkflowRecord) -> Result<(), StoreError> {
        if record.version != 1 {
            return Err(StoreError::Conflict(format!(
                "{} {}: a new record has version 1",
                record.kind, record.id
            )));
        }
        let mut tx = self.db.begin_write().await?;
        Sql::new(concat!(
            "INSERT INTO workflows (",
            workflow_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(record.kind.as_str())
        .bind(record.id.as_str())
        .bind(record.state.as_str())
        .bind(record.version)
        .bind(record.body.as_str())
        .bind(record.created_by.as_str())
        .bind(record.created_at)
        .bind(record.updated_at)
        .execute(&mut tx)
        .await
        .map_err(|e| rows::write_error(&format!("{} {}", record.kind, record.id), e))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_workflow(
        &self,
        kind: WorkflowKind,
        id: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            workflow_columns!(),
            " FROM workflows WHERE kind = $1 AND id = $2"
        ))
        .bind(kind.as_str())
        .bind(id)
        .fetch_optional(&mut self.db.read().await?)
        .await?;
        found.as_ref().map(rows::workflow).transpose()
    }

    async fn list_workflows(
        &self,
        kind: WorkflowKind,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WorkflowRecord>, StoreError> {
        let found = Sql::new(concat!(
            "SELECT ",
            workflow_columns!(),
            " FROM workflows WHERE kind = $1 AND (CAST($2 AS TEXT) IS NULL OR state = $2) \
             ORDER BY created_at, id LIMIT $3"
        ))
        .bind(kind.as_str())
        .bind(state)
        .bind(i64::from(limit))
        .fetch_all(&mut self.db.read().await?)
        .await?;
        found.iter().map(rows::workflow).collect()
    }

    async fn update_workflow(&self, record: &WorkflowRecord) -> Result<bool, StoreError> {
        // No stored version precedes i64::MIN: the compare can only fail.
        let Some(previous) = record.version.checked_sub(1) else {
            return Ok(false);
        };
        let mut tx = self.db.begin_write().await?;
        let done = Sql::new(
            "UPDATE workflows SET state = $1, version = $2, body = $3, updated_at = $4 \
             WHERE kind = $5 AND id = $6 AND version = $7",
        )
        .bind(record.state.as_str())
        .bind(record.version)
        .bind(record.body.as_str())
        .bind(record.updated_at)
        .bind(record.kind.as_str())
        .bind(record.id.as_str())
        .bind(previous)
        .execute(&mut tx)
        .await?;
        if done == 1 {
            tx.commit().await?;
            return Ok(true);
        }
        let exists = Sql::new("SELECT 1 FROM workflows WHERE kind = $1 AND id = $2")
            .bind(record.kind.as_str())
            .bind(record.id.as_str())
            .fetch_optional(&mut tx)
            .await?;
        match exists {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound(format!(
                "{} {}",
                record.kind, record.id
            ))),
        }
    }

    async fn disable_account(&self, account_id: &str, at: UnixMillis) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let done = Sql::new("UPDATE accounts SET state = 'disabled', updated_at = $1 WHERE id = $2 AND state <> 'disabled'")
            .bind(at)
            .bind(account_id)
            .execute(&mut tx)
            .await?;
        if done == 0 {
            let exists = Sql::new("SELECT 1 FROM accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(&mut tx)
                .await?;
            return match exists {
                Some(_) => Ok(false),
                None => Err(StoreError::NotFound(format!("account {account_id}"))),
            };
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn setting(&self, name: &str) -> Result<Option<(String, UnixMillis)>, StoreError> {
        let found = Sql::new("SELECT value, set_at FROM deployment_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut self.db.read().await?)
            .await?;
        found
            .map(|row| Ok((row.text("value")?, row.int("set_at")?)))
            .transpose()
    }

    async fn set_setting(&self, name: &str, value: &str, at: UnixMillis) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().await?;
        Sql::new(
            "INSERT INTO deployment_settings (name, value, set_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, set_at = excluded.set_at",
        )
        .bind(name)
        .bind(value)
        .bind(at)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn terminate_subscriber(
        &self,
        subscriber: &str,
        reason: &str,
        at: UnixMillis,
    ) -> Result<Termination, StoreError> {
        let mut tx = self.db.begin_write().await?;
        let found = Sql::new("UPDATE subscribers SET state = 'terminated' WHERE id = $1")
            .bind(subscriber)
            .execute(&mut tx)
            .await?;
        if found == 0 {
            return Err(StoreError::NotFound(format!("subscriber {subscriber}")));
        }
        let accounts = Sql::new(
            "UPDATE accounts SET state = 'disabled', updated_at = $1 \
             WHERE subscriber = $2 AND state <> 'disabled'",
        )
        .bind(at)
        .bind(subscriber)
        .execute(&mut tx)
        .await?;
        let clients =
            Sql::new("UPDATE clients SET active = FALSE WHERE subscriber = $1 AND active")
                .bind(subscriber)
                .execute(&mut tx)
                .await?;
        let sessions = Sql::new(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE revoked_at IS NULL AND expires_at > $1 AND (subscriber = $3 \
             OR account_id IN (SELECT id FROM accounts WHERE subscriber = $3) \
             OR client_id IN (SELECT id FROM clients WHERE subscriber = $3))",
        )
        .bind(at)
        .bind(reason)
        .bind(subscriber)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(Termination {
            accounts,
            clients,
            sessions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::SqlStore;
    use crate::operations::OperationsStore as _;

    /// Issue 17 point 5: after "database or disk is full" the SQLite writer is left clean, so
    /// the next write succeeds once there is room again, without a restart. The full disk is
    /// the writer connection's `max_page_count`; freeing space lifts it.
    #[tokio::test]
    async fn a_full_database_does_not_poison_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/full.db", dir.path().display());
        let store = SqlStore::connect(&url).await.unwrap();
        store.db.limit_pages_for_test(2).await.unwrap();
        let big = "x".repeat(256 * 1024);
        let err = store.set_setting("big", &big, 1).await.unwrap_err();
        assert!(err.to_string().contains("full"), "{err}");
        store.db.free_pages_for_test().await.unwrap();
        store
            .set_setting("small", "after the disk was freed", 2)
            .await
            .unwrap();
        assert_eq!(
            store.setting("small").await.unwrap().unwrap().0,
            "after the disk was freed"
        );
        assert!(store.setting("big").await.unwrap().is_none());
    }

    /// A write dropped while its `BEGIN IMMEDIATE` waits for another process's lock (a request
    /// timing out) leaves no transaction behind on the writer: the next write commits, as
    /// another connection sees.
    #[tokio::test]
    async fn a_write_dropped_while_it_waits_for_the_lock_leaves_no_transaction() {
        use sqlx::Connection as _;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/busy.db", dir.path().display());
        let store = SqlStore::connect(&url).await.unwrap();
        let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .unwrap();
        let waited = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            store.set_setting("dropped", "never", 1),
        )
        .await;
        assert!(
            waited.is_err(),
            "the write should still be waiting for the lock"
        );
        sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
        store.set_setting("after", "committed", 2).await.unwrap();
        let seen: Option<String> =
            sqlx::query_scalar("SELECT value FROM deployment_settings WHERE name = 'after'")
                .fetch_optional(&mut other)
                .await
                .unwrap();
        assert_eq!(seen.as_deref(), Some("committed"));
        assert!(store.setting("dropped").await.unwrap().is_none());
    }
}
