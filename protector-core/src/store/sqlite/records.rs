//! Every record kind of the [`Store`] in its table.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

use super::{
    from_json, sortable_time, sql_error, to_json, try_lock_file, SqliteStore, JOURNAL_HAS,
    JOURNAL_HAS_CANCEL,
};
use crate::error::{Error, Result};
use crate::model::{Member, Operation, ProtectionGroup, ReplicationPolicy, Site, TenantMapping};
use crate::store::shared::{operation_query, OperationRow};
use crate::store::{
    GroupDocument, GroupMappings, JournalEntry, JournalKind, Lease, LeaseAttempt, LockAttempt,
    OperationQuery, Store, SyncLogEntry, SyncState, VersionCheck,
};

#[async_trait]
impl Store for SqliteStore {
    async fn put_site(&self, site: &Site) -> Result<()> {
        let what = || format!("writing site '{}' to table sites", site.name);
        let json = to_json(&what(), site)?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO sites (name, json) VALUES (?1, ?2)",
            params![site.name, json],
        )
    }

    async fn get_site(&self, name: &str) -> Result<Option<Site>> {
        self.query_one(
            || format!("reading site '{name}' from table sites"),
            "SELECT json FROM sites WHERE name = ?1",
            [name],
        )
    }

    async fn list_sites(&self) -> Result<Vec<Site>> {
        self.query_all(
            || "listing table sites".to_string(),
            "SELECT json FROM sites ORDER BY name",
            [],
        )
    }

    async fn delete_site(&self, name: &str) -> Result<()> {
        self.execute(
            || format!("deleting site '{name}' from table sites"),
            "DELETE FROM sites WHERE name = ?1",
            [name],
        )
    }

    async fn put_group(&self, group: &ProtectionGroup) -> Result<()> {
        let what = || format!("writing group {} to table groups", group.id);
        let json = to_json(&what(), group)?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO groups (id, name, json) VALUES (?1, ?2, ?3)",
            params![group.id.to_string(), group.name, json],
        )
    }

    async fn get_group(&self, id: &Uuid) -> Result<Option<ProtectionGroup>> {
        self.query_one(
            || format!("reading group {id} from table groups"),
            "SELECT json FROM groups WHERE id = ?1",
            [id.to_string()],
        )
    }

    async fn list_groups(&self) -> Result<Vec<ProtectionGroup>> {
        self.query_all(
            || "listing table groups".to_string(),
            "SELECT json FROM groups ORDER BY name, id",
            [],
        )
    }

    async fn delete_group(&self, id: &Uuid) -> Result<()> {
        let what = format!("deleting group {id} with its members, policy, mappings and sync state");
        let id = id.to_string();
        self.transaction(&what, |tx| {
            // Operations, the journal and the sync log stay: they are history.
            tx.execute("DELETE FROM members WHERE group_id = ?1", [&id])?;
            tx.execute("DELETE FROM policies WHERE group_id = ?1", [&id])?;
            tx.execute("DELETE FROM mappings WHERE group_id = ?1", [&id])?;
            tx.execute("DELETE FROM sync_state WHERE group_id = ?1", [&id])?;
            tx.execute("DELETE FROM groups WHERE id = ?1", [&id])?;
            Ok(())
        })
    }

    async fn put_member(&self, member: &Member) -> Result<()> {
        let what = || format!("writing member {} to table members", member.id);
        let json = to_json(&what(), member)?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO members (id, group_id, json) VALUES (?1, ?2, ?3)",
            params![member.id.to_string(), member.group_id.to_string(), json],
        )
    }

    async fn list_members(&self, group_id: &Uuid) -> Result<Vec<Member>> {
        self.query_all(
            || format!("listing members of group {group_id} in table members"),
            "SELECT json FROM members WHERE group_id = ?1 ORDER BY id",
            [group_id.to_string()],
        )
    }

    async fn delete_member(&self, id: &Uuid) -> Result<()> {
        self.execute(
            || format!("deleting member {id} from table members"),
            "DELETE FROM members WHERE id = ?1",
            [id.to_string()],
        )
    }

    async fn put_policy(&self, policy: &ReplicationPolicy) -> Result<()> {
        let what = || {
            format!(
                "writing the policy of group {} to table policies",
                policy.group_id
            )
        };
        let json = to_json(&what(), &self.seal_policy(policy))?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO policies (group_id, json) VALUES (?1, ?2)",
            params![policy.group_id.to_string(), json],
        )
    }

    async fn get_policy(&self, group_id: &Uuid) -> Result<Option<ReplicationPolicy>> {
        let stored: Option<ReplicationPolicy> = self.query_one(
            || format!("reading the policy of group {group_id} from table policies"),
            "SELECT json FROM policies WHERE group_id = ?1",
            [group_id.to_string()],
        )?;
        stored.map(|policy| self.open_policy(policy)).transpose()
    }

    async fn put_mappings(&self, mappings: &GroupMappings) -> Result<()> {
        let what = || {
            format!(
                "writing mappings {} -> {} of group {} to table mappings",
                mappings.from_site, mappings.to_site, mappings.group_id
            )
        };
        let json = to_json(&what(), mappings)?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO mappings (group_id, from_site, to_site, json) \
             VALUES (?1, ?2, ?3, ?4)",
            params![
                mappings.group_id.to_string(),
                mappings.from_site,
                mappings.to_site,
                json
            ],
        )
    }

    async fn list_mappings(&self, group_id: &Uuid) -> Result<Vec<GroupMappings>> {
        self.query_all(
            || format!("listing mappings of group {group_id} in table mappings"),
            "SELECT json FROM mappings WHERE group_id = ?1 ORDER BY from_site, to_site",
            [group_id.to_string()],
        )
    }

    async fn apply_document(&self, document: &GroupDocument) -> Result<()> {
        self.write_document(document, None)
    }

    async fn apply_document_if(&self, document: &GroupDocument, check: VersionCheck) -> Result<()> {
        self.write_document(document, Some(check))
    }

    async fn put_tenant_mapping(&self, mapping: &TenantMapping) -> Result<()> {
        let what = || {
            format!(
                "writing tenant mapping {} to table tenant_mappings",
                mapping.id
            )
        };
        let json = to_json(&what(), mapping)?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO tenant_mappings (id, json) VALUES (?1, ?2)",
            params![mapping.id.to_string(), json],
        )
    }

    async fn list_tenant_mappings(&self) -> Result<Vec<TenantMapping>> {
        self.query_all(
            || "listing table tenant_mappings".to_string(),
            "SELECT json FROM tenant_mappings ORDER BY id",
            [],
        )
    }

    async fn put_operation(&self, operation: &Operation) -> Result<()> {
        let what = || format!("writing operation {} to table operations", operation.id);
        let row = OperationRow::new(&what(), operation)?;
        write_operation_row(&self.conn(), &row).map_err(|err| sql_error(&what(), err))
    }

    async fn get_operation(&self, id: &Uuid) -> Result<Option<Operation>> {
        self.query_one(
            || format!("reading operation {id} from table operations"),
            "SELECT json FROM operations WHERE id = ?1",
            [id.to_string()],
        )
    }

    async fn list_operations(&self) -> Result<Vec<Operation>> {
        self.query_all(
            || "listing table operations".to_string(),
            "SELECT json FROM operations ORDER BY started_at DESC, id DESC",
            [],
        )
    }

    async fn query_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        let (sql, values) = operation_query(query, sqlite_placeholder);
        self.query_all(
            || "querying table operations".to_string(),
            &sql,
            rusqlite::params_from_iter(values),
        )
    }

    async fn append_journal(&self, entry: &JournalEntry) -> Result<u64> {
        let operation_id = entry.operation_id;
        let what = || {
            format!(
                "appending step '{}' of operation {operation_id} to table journal",
                entry.step
            )
        };
        let json = to_json(&what(), entry)?;
        let seq = write_journal(&self.conn(), &operation_id, &json)
            .map_err(|err| sql_error(&what(), err))?;
        u64::try_from(seq).map_err(|_| {
            Error::unexpected(format!("{}: the store returned sequence {seq}", what()))
        })
    }

    async fn record(&self, entries: &[JournalEntry], operation: Option<&Operation>) -> Result<()> {
        let what = match (entries.first(), operation) {
            (Some(entry), _) => format!(
                "appending to the journal of operation {}",
                entry.operation_id
            ),
            (None, Some(operation)) => {
                format!("writing operation {} to table operations", operation.id)
            }
            (None, None) => return Ok(()),
        };
        let entries = entries
            .iter()
            .map(|entry| Ok((entry.operation_id, to_json(&what, entry)?)))
            .collect::<Result<Vec<_>>>()?;
        let operation = operation
            .map(|operation| OperationRow::new(&what, operation))
            .transpose()?;
        // With the writes of the other runs of this moment: one commit (`group_commit`).
        self.record_queued(what, entries, operation).await
    }

    async fn list_journal(&self, operation_id: &Uuid) -> Result<Vec<JournalEntry>> {
        let what = || format!("reading the journal of operation {operation_id}");
        let rows = {
            let conn = self.conn();
            let mut statement = conn
                .prepare("SELECT seq, json FROM journal WHERE operation_id = ?1 ORDER BY seq")
                .map_err(|err| sql_error(&what(), err))?;
            let rows = statement
                .query_map([operation_id.to_string()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|err| sql_error(&what(), err))?;
            rows
        };
        rows.into_iter()
            .map(|(seq, json)| {
                let mut entry: JournalEntry = from_json(&what(), &json)?;
                entry.seq = u64::try_from(seq).unwrap_or_default();
                Ok(entry)
            })
            .collect()
    }

    async fn journal_has(&self, operation_id: &Uuid, kind: JournalKind) -> Result<bool> {
        let what = || format!("reading the journal of operation {operation_id}");
        let operation_id = operation_id.to_string();
        // The entries are JSON text: SQLite looks at their kind without decoding them here.
        let conn = self.conn();
        let answer = if kind == JournalKind::CancelRequested {
            conn.prepare_cached(JOURNAL_HAS_CANCEL)
                .and_then(|mut statement| statement.query_row([operation_id], |row| row.get(0)))
        } else {
            conn.prepare_cached(JOURNAL_HAS).and_then(|mut statement| {
                statement.query_row(params![operation_id, kind.as_str()], |row| row.get(0))
            })
        };
        answer.map_err(|err| sql_error(&what(), err))
    }

    async fn put_sync_state(&self, state: &SyncState) -> Result<()> {
        let what = || {
            format!(
                "writing the sync state of group {} to table sync_state",
                state.group_id
            )
        };
        let json = to_json(&what(), state)?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO sync_state (group_id, json) VALUES (?1, ?2)",
            params![state.group_id.to_string(), json],
        )
    }

    async fn get_sync_state(&self, group_id: &Uuid) -> Result<Option<SyncState>> {
        self.query_one(
            || format!("reading the sync state of group {group_id} from table sync_state"),
            "SELECT json FROM sync_state WHERE group_id = ?1",
            [group_id.to_string()],
        )
    }

    async fn append_sync_log(&self, entry: &SyncLogEntry) -> Result<()> {
        let what = || {
            format!(
                "appending to the sync log of group {} in table sync_log",
                entry.group_id
            )
        };
        let json = to_json(&what(), entry)?;
        self.execute(
            what,
            "INSERT INTO sync_log (group_id, at, json) VALUES (?1, ?2, ?3)",
            params![entry.group_id.to_string(), sortable_time(&entry.at), json],
        )
    }

    async fn list_sync_log(&self, group_id: &Uuid, limit: usize) -> Result<Vec<SyncLogEntry>> {
        self.query_all(
            || format!("reading the sync log of group {group_id} from table sync_log"),
            "SELECT json FROM sync_log WHERE group_id = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
            params![
                group_id.to_string(),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )
    }

    /// A file store locks `<database dir>/locks/op-<id>.lock`, shared by every process (and
    /// every site's store) in that directory.
    async fn lock_operation(&self, id: &Uuid) -> Result<LockAttempt> {
        match &self.path {
            Some(path) => {
                let dir = path.parent().unwrap_or(Path::new(".")).join("locks");
                try_lock_file(&dir, id)
            }
            None => Ok(self.locks.try_lock(id)),
        }
    }

    /// One upsert under SQLite's write lock: it takes the row only when it is free, lapsed
    /// (by this host's clock: a file store is shared by the processes of one host) or
    /// `holder`'s own.
    async fn acquire_lease(&self, id: &Uuid, holder: &str, ttl: Duration) -> Result<LeaseAttempt> {
        let what =
            format!("taking the lease of operation {id} for {holder} in table operation_leases");
        let now = Utc::now();
        let expires = sortable_time(&lease_end(&what, now, ttl)?);
        let mut found = None;
        self.transaction(&what, |tx| {
            tx.execute(
                "INSERT INTO operation_leases (operation_id, holder, expires_at) \
                 VALUES (?1, ?2, ?3) \
                 ON CONFLICT (operation_id) DO UPDATE \
                 SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE operation_leases.holder = excluded.holder \
                    OR operation_leases.expires_at <= ?4",
                params![id.to_string(), holder, expires, sortable_time(&now)],
            )?;
            found = read_lease(tx, id)?;
            Ok(())
        })?;
        let lease = lease_from_row(&what, id, found)?.ok_or_else(|| {
            Error::unexpected(format!("{what}: the lease row is missing after its upsert"))
        })?;
        Ok(if lease.holder == holder {
            LeaseAttempt::Acquired(lease)
        } else {
            LeaseAttempt::Held(lease)
        })
    }

    async fn renew_lease(&self, id: &Uuid, holder: &str, ttl: Duration) -> Result<bool> {
        let what =
            format!("renewing the lease of operation {id} for {holder} in table operation_leases");
        let expires = sortable_time(&lease_end(&what, Utc::now(), ttl)?);
        let changed = self
            .conn()
            .execute(
                "UPDATE operation_leases SET expires_at = ?3 \
                 WHERE operation_id = ?1 AND holder = ?2",
                params![id.to_string(), holder, expires],
            )
            .map_err(|err| sql_error(&what, err))?;
        Ok(changed == 1)
    }

    async fn release_lease(&self, id: &Uuid, holder: &str) -> Result<()> {
        self.execute(
            || {
                format!(
                    "releasing the lease of operation {id} for {holder} in table operation_leases"
                )
            },
            "DELETE FROM operation_leases WHERE operation_id = ?1 AND holder = ?2",
            params![id.to_string(), holder],
        )
    }

    async fn get_lease(&self, id: &Uuid) -> Result<Option<Lease>> {
        let what = format!("reading the lease of operation {id} from table operation_leases");
        let found = {
            let conn = self.conn();
            read_lease(&conn, id).map_err(|err| sql_error(&what, err))?
        };
        lease_from_row(&what, id, found)
    }
}

/// When a lease taken at `now` for `ttl` lapses.
fn lease_end(what: &str, now: DateTime<Utc>, ttl: Duration) -> Result<DateTime<Utc>> {
    chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .ok_or_else(|| {
            Error::invalid(format!(
                "{what}: a lease of {ttl:?} is too long: give a ttl of at most a few hours"
            ))
        })
}

/// The holder and end (as stored) of the lease of `id`.
fn read_lease(
    conn: &rusqlite::Connection,
    id: &Uuid,
) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT holder, expires_at FROM operation_leases WHERE operation_id = ?1",
        [id.to_string()],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

fn lease_from_row(what: &str, id: &Uuid, row: Option<(String, String)>) -> Result<Option<Lease>> {
    row.map(|(holder, expires_at)| {
        let expires_at = DateTime::parse_from_rfc3339(&expires_at)
            .map_err(|err| {
                Error::unexpected(format!(
                    "{what}: the stored end of the lease ({expires_at}) is not a time ({err}): the \
                     store was altered"
                ))
            })?
            .with_timezone(&Utc);
        Ok(Lease {
            operation_id: *id,
            holder,
            expires_at,
        })
    })
    .transpose()
}

/// Appends one journal entry (its JSON) to operation `operation_id`'s journal; returns its
/// sequence number. One statement: the next number is computed and taken under the same write
/// lock, so two writers of one operation cannot get the same number. The `seq` column is the
/// truth; the one inside the JSON is replaced on read.
pub(super) fn write_journal(
    conn: &rusqlite::Connection,
    operation_id: &Uuid,
    json: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO journal (operation_id, seq, json) \
         SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2 FROM journal WHERE operation_id = ?1 \
         RETURNING seq",
    )?
    .query_row(params![operation_id.to_string(), json], |row| row.get(0))
}

/// Inserts or replaces `row`.
///
/// A running operation rewrites its row at every step, with the same id, start, group, type,
/// target and (mostly) status: then only its JSON is updated, in place. `INSERT OR REPLACE`
/// deletes the row and inserts it again under a new rowid, so each write also rewrote an entry
/// in each of the table's four indexes (a ten-group site failover's commits wrote eleven pages
/// of log each on average, six since).
pub(super) fn write_operation_row(
    conn: &rusqlite::Connection,
    row: &OperationRow,
) -> rusqlite::Result<()> {
    let updated = conn
        .prepare_cached(
            "UPDATE operations SET json = ?2 WHERE id = ?1 AND started_at = ?3 \
             AND group_id IS ?4 AND operation_type = ?5 AND status = ?6 AND target_site = ?7",
        )?
        .execute(params![
            row.id,
            row.json,
            row.started_at,
            row.group_id,
            row.operation_type,
            row.status,
            row.target_site
        ])?;
    if updated > 0 {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO operations \
         (id, started_at, json, group_id, operation_type, status, target_site) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        row.id,
        row.started_at,
        row.json,
        row.group_id,
        row.operation_type,
        row.status,
        row.target_site
    ])
    .map(|_| ())
}

/// The n-th parameter of a SQLite statement.
pub(super) fn sqlite_placeholder(n: usize) -> String {
    format!("?{n}")
}
