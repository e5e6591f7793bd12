//! Every record kind of the [`Store`] in its MariaDB table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use sqlx::mysql::MySqlArguments;
use sqlx::query::Query;
use sqlx::{MySql, MySqlConnection, Row};
use uuid::Uuid;

use super::{deadlock_backoff, is_deadlock, MySqlStore, DEADLOCK_ATTEMPTS};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Member, Operation, ProtectionGroup, ReplicationPolicy, Site, TenantMapping};
use crate::store::shared::{
    check_document, from_json, open_policy, operation_query, seal_policy, sortable_time, to_json,
    OperationRow,
};
use crate::store::{
    GroupDocument, GroupMappings, JournalEntry, JournalKind, Lease, LeaseAttempt, LockAttempt,
    OperationQuery, Store, SyncLogEntry, SyncState, VersionCheck,
};

type Sql = std::result::Result<(), sqlx::Error>;

/// What a conditional document write found.
enum Outcome {
    Written,
    Refused(Option<u64>),
    NameTaken,
}

impl MySqlStore {
    /// Runs one statement.
    async fn execute(&self, what: String, query: Query<'_, MySql, MySqlArguments>) -> Result<()> {
        query
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|err| self.db_error(&what, err))
    }

    /// Reads one record from the `json` column of the query's first row.
    async fn query_one<T: DeserializeOwned>(
        &self,
        what: String,
        query: Query<'_, MySql, MySqlArguments>,
    ) -> Result<Option<T>> {
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.db_error(&what, err))?;
        row.map(|row| {
            let json: String = row.try_get(0).map_err(|err| self.db_error(&what, err))?;
            from_json(&what, &json)
        })
        .transpose()
    }

    /// Reads the records in the `json` column of the query's rows, in order.
    async fn query_all<T: DeserializeOwned>(
        &self,
        what: String,
        query: Query<'_, MySql, MySqlArguments>,
    ) -> Result<Vec<T>> {
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.db_error(&what, err))?;
        rows.iter()
            .map(|row| {
                let json: String = row.try_get(0).map_err(|err| self.db_error(&what, err))?;
                from_json(&what, &json)
            })
            .collect()
    }

    /// Writes a group document in one transaction, after checking (and locking) the stored
    /// version against `check` inside it. A lost deadlock runs it again.
    async fn write_document(
        &self,
        document: &GroupDocument,
        check: Option<VersionCheck>,
    ) -> Result<()> {
        let group_id = document.group.id;
        let what = format!("applying the metadata document of group {group_id}");
        check_document(document).map_err(|err| err.with_prefix(&what))?;
        let rows = DocumentRows {
            id: group_id.to_string(),
            group: to_json(&what, &document.group)?,
            members: document
                .members
                .iter()
                .map(|m| Ok((m.id.to_string(), to_json(&what, m)?)))
                .collect::<Result<Vec<_>>>()?,
            policy: match &document.policy {
                Some(policy) => Some(to_json(&what, &seal_policy(&self.key, policy))?),
                None => None,
            },
            mappings: document
                .mappings
                .iter()
                .map(|m| Ok((m.from_site.clone(), m.to_site.clone(), to_json(&what, m)?)))
                .collect::<Result<Vec<_>>>()?,
        };
        let mut attempt = 1;
        let outcome = loop {
            let result = async {
                let mut tx = self.pool.begin().await?;
                let outcome = write_rows(&mut tx, document, &rows, check).await?;
                if matches!(outcome, Outcome::Written) {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                Ok::<_, sqlx::Error>(outcome)
            }
            .await;
            match result {
                Err(err) if is_deadlock(&err) && attempt < DEADLOCK_ATTEMPTS => {
                    deadlock_backoff(attempt).await;
                    attempt += 1;
                }
                other => break other.map_err(|err| self.db_error(&what, err))?,
            }
        };
        let version = document.group.metadata.version;
        match outcome {
            Outcome::Written => Ok(()),
            Outcome::NameTaken => Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "protection group '{}' already exists in project {}: choose another name",
                    document.group.name, document.group.project_id
                ),
            )),
            Outcome::Refused(stored) => Err(Error::conflict(format!(
                "group {group_id} was changed concurrently: it is at version {} in this store, \
                 the write of version {version} expected {}",
                stored.map_or_else(|| "none (absent)".to_string(), |v| v.to_string()),
                match check {
                    Some(VersionCheck::Exactly(0)) => "no group".to_string(),
                    Some(VersionCheck::Exactly(v)) => format!("version {v}"),
                    _ => "an older version".to_string(),
                }
            ))
            .with_context("stored_version", stored.unwrap_or(0).to_string())),
        }
    }

    /// Runs `body` in one transaction, again after a lost deadlock.
    async fn transaction<F>(&self, what: &str, body: F) -> Result<()>
    where
        F: for<'c> Fn(
            &'c mut MySqlConnection,
        )
            -> futures::future::BoxFuture<'c, std::result::Result<(), sqlx::Error>>,
    {
        let mut attempt = 1;
        loop {
            let result = async {
                let mut tx = self.pool.begin().await?;
                body(&mut tx).await?;
                tx.commit().await
            }
            .await;
            match result {
                Err(err) if is_deadlock(&err) && attempt < DEADLOCK_ATTEMPTS => {
                    deadlock_backoff(attempt).await;
                    attempt += 1;
                }
                other => return other.map_err(|err| self.db_error(what, err)),
            }
        }
    }
}

/// A document's rows, serialized (and its secrets encrypted) before the transaction.
struct DocumentRows {
    id: String,
    group: String,
    members: Vec<(String, String)>,
    policy: Option<String>,
    mappings: Vec<(String, String, String)>,
}

async fn write_rows(
    tx: &mut MySqlConnection,
    document: &GroupDocument,
    rows: &DocumentRows,
    check: Option<VersionCheck>,
) -> std::result::Result<Outcome, sqlx::Error> {
    let group = &document.group;
    if let Some(check) = check {
        let stored: Option<u64> =
            sqlx::query_scalar("SELECT version FROM `groups` WHERE id = ? FOR UPDATE")
                .bind(&rows.id)
                .fetch_optional(&mut *tx)
                .await?;
        if !check.admits(stored, group.metadata.version) {
            return Ok(Outcome::Refused(stored));
        }
        // A group new to this store: its name must be free in its project, checked (and the
        // range locked) in the same transaction.
        if stored.is_none() {
            let taken = sqlx::query(
                "SELECT 1 FROM `groups` WHERE project_id = ? AND name = ? AND id != ? FOR UPDATE",
            )
            .bind(&group.project_id)
            .bind(&group.name)
            .bind(&rows.id)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Ok(Outcome::NameTaken);
            }
        }
    }
    put_group_row(group, &rows.group).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM members WHERE group_id = ?")
        .bind(&rows.id)
        .execute(&mut *tx)
        .await?;
    for (member_id, json) in &rows.members {
        sqlx::query("REPLACE INTO members (id, group_id, json) VALUES (?, ?, ?)")
            .bind(member_id)
            .bind(&rows.id)
            .bind(json)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM policies WHERE group_id = ?")
        .bind(&rows.id)
        .execute(&mut *tx)
        .await?;
    if let Some(json) = &rows.policy {
        sqlx::query("INSERT INTO policies (group_id, json) VALUES (?, ?)")
            .bind(&rows.id)
            .bind(json)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM mappings WHERE group_id = ?")
        .bind(&rows.id)
        .execute(&mut *tx)
        .await?;
    for (from, to, json) in &rows.mappings {
        sqlx::query(
            "REPLACE INTO mappings (group_id, from_site, to_site, json) VALUES (?, ?, ?, ?)",
        )
        .bind(&rows.id)
        .bind(from)
        .bind(to)
        .bind(json)
        .execute(&mut *tx)
        .await?;
    }
    Ok(Outcome::Written)
}

fn put_group_row<'q>(
    group: &'q ProtectionGroup,
    json: &'q str,
) -> Query<'q, MySql, MySqlArguments> {
    sqlx::query(
        "REPLACE INTO `groups` (id, name, project_id, version, json) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(group.id.to_string())
    .bind(&group.name)
    .bind(&group.project_id)
    .bind(group.metadata.version)
    .bind(json)
}

#[async_trait]
impl Store for MySqlStore {
    async fn put_site(&self, site: &Site) -> Result<()> {
        let what = format!("writing site '{}' to table sites", site.name);
        let json = to_json(&what, site)?;
        let query = sqlx::query("REPLACE INTO sites (name, json) VALUES (?, ?)")
            .bind(&site.name)
            .bind(json);
        self.execute(what, query).await
    }

    async fn get_site(&self, name: &str) -> Result<Option<Site>> {
        let query = sqlx::query("SELECT json FROM sites WHERE name = ?").bind(name);
        self.query_one(format!("reading site '{name}' from table sites"), query)
            .await
    }

    async fn list_sites(&self) -> Result<Vec<Site>> {
        let query = sqlx::query("SELECT json FROM sites ORDER BY name");
        self.query_all("listing table sites".to_string(), query)
            .await
    }

    async fn delete_site(&self, name: &str) -> Result<()> {
        let query = sqlx::query("DELETE FROM sites WHERE name = ?").bind(name);
        self.execute(format!("deleting site '{name}' from table sites"), query)
            .await
    }

    async fn put_group(&self, group: &ProtectionGroup) -> Result<()> {
        let what = format!("writing group {} to table groups", group.id);
        let json = to_json(&what, group)?;
        self.execute(what, put_group_row(group, &json)).await
    }

    async fn get_group(&self, id: &Uuid) -> Result<Option<ProtectionGroup>> {
        let query = sqlx::query("SELECT json FROM `groups` WHERE id = ?").bind(id.to_string());
        self.query_one(format!("reading group {id} from table groups"), query)
            .await
    }

    async fn list_groups(&self) -> Result<Vec<ProtectionGroup>> {
        let query = sqlx::query("SELECT json FROM `groups` ORDER BY name, id");
        self.query_all("listing table groups".to_string(), query)
            .await
    }

    async fn delete_group(&self, id: &Uuid) -> Result<()> {
        let what = format!("deleting group {id} with its members, policy, mappings and sync state");
        let id = id.to_string();
        self.transaction(&what, |tx| {
            let id = id.clone();
            Box::pin(async move {
                // Operations, the journal and the sync log stay: they are history.
                for table in ["members", "policies", "mappings", "sync_state"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE group_id = ?"))
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM `groups` WHERE id = ?")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                Sql::Ok(())
            })
        })
        .await
    }

    async fn put_member(&self, member: &Member) -> Result<()> {
        let what = format!("writing member {} to table members", member.id);
        let json = to_json(&what, member)?;
        let query = sqlx::query("REPLACE INTO members (id, group_id, json) VALUES (?, ?, ?)")
            .bind(member.id.to_string())
            .bind(member.group_id.to_string())
            .bind(json);
        self.execute(what, query).await
    }

    async fn list_members(&self, group_id: &Uuid) -> Result<Vec<Member>> {
        let query = sqlx::query("SELECT json FROM members WHERE group_id = ? ORDER BY id")
            .bind(group_id.to_string());
        self.query_all(
            format!("listing members of group {group_id} in table members"),
            query,
        )
        .await
    }

    async fn delete_member(&self, id: &Uuid) -> Result<()> {
        let query = sqlx::query("DELETE FROM members WHERE id = ?").bind(id.to_string());
        self.execute(format!("deleting member {id} from table members"), query)
            .await
    }

    async fn put_policy(&self, policy: &ReplicationPolicy) -> Result<()> {
        let what = format!(
            "writing the policy of group {} to table policies",
            policy.group_id
        );
        let json = to_json(&what, &seal_policy(&self.key, policy))?;
        let query = sqlx::query("REPLACE INTO policies (group_id, json) VALUES (?, ?)")
            .bind(policy.group_id.to_string())
            .bind(json);
        self.execute(what, query).await
    }

    async fn get_policy(&self, group_id: &Uuid) -> Result<Option<ReplicationPolicy>> {
        let query =
            sqlx::query("SELECT json FROM policies WHERE group_id = ?").bind(group_id.to_string());
        let stored: Option<ReplicationPolicy> = self
            .query_one(
                format!("reading the policy of group {group_id} from table policies"),
                query,
            )
            .await?;
        stored
            .map(|policy| open_policy(&self.key, policy))
            .transpose()
    }

    async fn put_mappings(&self, mappings: &GroupMappings) -> Result<()> {
        let what = format!(
            "writing mappings {} -> {} of group {} to table mappings",
            mappings.from_site, mappings.to_site, mappings.group_id
        );
        let json = to_json(&what, mappings)?;
        let query = sqlx::query(
            "REPLACE INTO mappings (group_id, from_site, to_site, json) VALUES (?, ?, ?, ?)",
        )
        .bind(mappings.group_id.to_string())
        .bind(&mappings.from_site)
        .bind(&mappings.to_site)
        .bind(json);
        self.execute(what, query).await
    }

    async fn list_mappings(&self, group_id: &Uuid) -> Result<Vec<GroupMappings>> {
        let query =
            sqlx::query("SELECT json FROM mappings WHERE group_id = ? ORDER BY from_site, to_site")
                .bind(group_id.to_string());
        self.query_all(
            format!("listing mappings of group {group_id} in table mappings"),
            query,
        )
        .await
    }

    async fn apply_document(&self, document: &GroupDocument) -> Result<()> {
        self.write_document(document, None).await
    }

    async fn apply_document_if(&self, document: &GroupDocument, check: VersionCheck) -> Result<()> {
        self.write_document(document, Some(check)).await
    }

    async fn put_tenant_mapping(&self, mapping: &TenantMapping) -> Result<()> {
        let what = format!(
            "writing tenant mapping {} to table tenant_mappings",
            mapping.id
        );
        let json = to_json(&what, mapping)?;
        let query = sqlx::query("REPLACE INTO tenant_mappings (id, json) VALUES (?, ?)")
            .bind(mapping.id.to_string())
            .bind(json);
        self.execute(what, query).await
    }

    async fn list_tenant_mappings(&self) -> Result<Vec<TenantMapping>> {
        let query = sqlx::query("SELECT json FROM tenant_mappings ORDER BY id");
        self.query_all("listing table tenant_mappings".to_string(), query)
            .await
    }

    async fn put_operation(&self, operation: &Operation) -> Result<()> {
        let what = format!("writing operation {} to table operations", operation.id);
        let row = OperationRow::new(&what, operation)?;
        // An update in place when the row exists (a run rewrites it at every step): REPLACE
        // deletes and inserts it again, rewriting every index's entry.
        let query = sqlx::query(
            "INSERT INTO operations \
             (id, started_at, json, group_id, operation_type, status, target_site) \
             VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE started_at = VALUES(started_at), json = VALUES(json), \
             group_id = VALUES(group_id), operation_type = VALUES(operation_type), \
             status = VALUES(status), target_site = VALUES(target_site)",
        )
        .bind(row.id)
        .bind(row.started_at)
        .bind(row.json)
        .bind(row.group_id)
        .bind(row.operation_type)
        .bind(row.status)
        .bind(row.target_site);
        self.execute(what, query).await
    }

    async fn get_operation(&self, id: &Uuid) -> Result<Option<Operation>> {
        let query = sqlx::query("SELECT json FROM operations WHERE id = ?").bind(id.to_string());
        self.query_one(
            format!("reading operation {id} from table operations"),
            query,
        )
        .await
    }

    async fn list_operations(&self) -> Result<Vec<Operation>> {
        let query = sqlx::query("SELECT json FROM operations ORDER BY started_at DESC, id DESC");
        self.query_all("listing table operations".to_string(), query)
            .await
    }

    async fn query_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        let (sql, values) = operation_query(query, |_| "?".to_string());
        let query = values
            .into_iter()
            .fold(sqlx::query(&sql), |query, value| query.bind(value));
        self.query_all("querying table operations".to_string(), query)
            .await
    }

    async fn append_journal(&self, entry: &JournalEntry) -> Result<u64> {
        let operation_id = entry.operation_id.to_string();
        let what = format!(
            "appending step '{}' of operation {operation_id} to table journal",
            entry.step
        );
        let json = to_json(&what, entry)?;
        // The operation's counter row is incremented (and so locked) first: a second append to
        // the same operation waits for this transaction's commit and takes the next number.
        // The `seq` column is the truth; the one inside the JSON is replaced on read.
        let seq = Arc::new(AtomicU64::new(0));
        self.transaction(&what, |tx| {
            let (operation_id, json, seq) = (operation_id.clone(), json.clone(), seq.clone());
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO journal_seq (operation_id, seq) VALUES (?, 1) \
                     ON DUPLICATE KEY UPDATE seq = seq + 1",
                )
                .bind(&operation_id)
                .execute(&mut *tx)
                .await?;
                let next: u64 =
                    sqlx::query_scalar("SELECT seq FROM journal_seq WHERE operation_id = ?")
                        .bind(&operation_id)
                        .fetch_one(&mut *tx)
                        .await?;
                sqlx::query("INSERT INTO journal (operation_id, seq, json) VALUES (?, ?, ?)")
                    .bind(&operation_id)
                    .bind(next)
                    .bind(&json)
                    .execute(&mut *tx)
                    .await?;
                seq.store(next, Ordering::SeqCst);
                Sql::Ok(())
            })
        })
        .await?;
        Ok(seq.load(Ordering::SeqCst))
    }

    async fn list_journal(&self, operation_id: &Uuid) -> Result<Vec<JournalEntry>> {
        let what = format!("reading the journal of operation {operation_id}");
        let rows = sqlx::query("SELECT seq, json FROM journal WHERE operation_id = ? ORDER BY seq")
            .bind(operation_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.db_error(&what, err))?;
        rows.iter()
            .map(|row| {
                let seq: u64 = row.try_get(0).map_err(|err| self.db_error(&what, err))?;
                let json: String = row.try_get(1).map_err(|err| self.db_error(&what, err))?;
                let mut entry: JournalEntry = from_json(&what, &json)?;
                entry.seq = seq;
                Ok(entry)
            })
            .collect()
    }

    async fn journal_has(&self, operation_id: &Uuid, kind: JournalKind) -> Result<bool> {
        let what = format!("reading the journal of operation {operation_id}");
        let kind = kind.as_str();
        // The entries are JSON text: MariaDB looks at their kind without sending them here.
        let row = sqlx::query(
            "SELECT 1 FROM journal WHERE operation_id = ? \
             AND JSON_VALUE(json, '$.kind') = ? LIMIT 1",
        )
        .bind(operation_id.to_string())
        .bind(kind)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| self.db_error(&what, err))?;
        Ok(row.is_some())
    }

    async fn put_sync_state(&self, state: &SyncState) -> Result<()> {
        let what = format!(
            "writing the sync state of group {} to table sync_state",
            state.group_id
        );
        let json = to_json(&what, state)?;
        let query = sqlx::query("REPLACE INTO sync_state (group_id, json) VALUES (?, ?)")
            .bind(state.group_id.to_string())
            .bind(json);
        self.execute(what, query).await
    }

    async fn get_sync_state(&self, group_id: &Uuid) -> Result<Option<SyncState>> {
        let query = sqlx::query("SELECT json FROM sync_state WHERE group_id = ?")
            .bind(group_id.to_string());
        self.query_one(
            format!("reading the sync state of group {group_id} from table sync_state"),
            query,
        )
        .await
    }

    async fn append_sync_log(&self, entry: &SyncLogEntry) -> Result<()> {
        let what = format!(
            "appending to the sync log of group {} in table sync_log",
            entry.group_id
        );
        let json = to_json(&what, entry)?;
        let query = sqlx::query("INSERT INTO sync_log (group_id, at, json) VALUES (?, ?, ?)")
            .bind(entry.group_id.to_string())
            .bind(sortable_time(&entry.at))
            .bind(json);
        self.execute(what, query).await
    }

    async fn list_sync_log(&self, group_id: &Uuid, limit: usize) -> Result<Vec<SyncLogEntry>> {
        let query = sqlx::query(
            "SELECT json FROM sync_log WHERE group_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(group_id.to_string())
        .bind(u64::try_from(limit).unwrap_or(u64::MAX));
        self.query_all(
            format!("reading the sync log of group {group_id} from table sync_log"),
            query,
        )
        .await
    }

    /// A named lock (`GET_LOCK`) on a connection of its own, server-wide.
    async fn lock_operation(&self, id: &Uuid) -> Result<LockAttempt> {
        self.try_lock(id).await
    }

    /// Compare-and-set statements on the server's clock (see `leases`).
    async fn acquire_lease(
        &self,
        id: &Uuid,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<LeaseAttempt> {
        self.take_lease(id, holder, ttl).await
    }

    async fn renew_lease(&self, id: &Uuid, holder: &str, ttl: std::time::Duration) -> Result<bool> {
        self.extend_lease(id, holder, ttl).await
    }

    async fn release_lease(&self, id: &Uuid, holder: &str) -> Result<()> {
        self.drop_lease(id, holder).await
    }

    async fn get_lease(&self, id: &Uuid) -> Result<Option<Lease>> {
        self.find_lease(id).await
    }
}
