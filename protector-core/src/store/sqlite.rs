//! The [`Store`] on SQLite: one database file per site.
//!
//! Each record is kept as JSON next to the few columns used to find and order it, so adding a
//! field to a model type needs no migration. Several CLI processes may open the same file: the
//! database runs in WAL mode and waits up to [`BUSY_TIMEOUT`] for another writer before failing
//! with [`ErrorKind::Unavailable`]. Policy API tokens are encrypted with the site's
//! [`SecretKey`] before they reach the database.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Params, Transaction, TransactionBehavior,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::lock::{try_lock_file, MemoryLocks};
use super::{
    GroupDocument, GroupMappings, JournalEntry, LockAttempt, SecretKey, Store, SyncLogEntry,
    SyncState, VersionCheck,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    Member, Operation, ProtectionGroup, ReplicationPolicy, Secret, Site, TenantMapping,
};

/// Schema version this code writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

/// How long a call waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version 1 of the schema. `CREATE … IF NOT EXISTS` lets two processes that open a new file at
/// the same time both run it.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS sites (
    name TEXT PRIMARY KEY NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id   TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS groups_by_name ON groups (name);
CREATE TABLE IF NOT EXISTS members (
    id       TEXT PRIMARY KEY NOT NULL,
    group_id TEXT NOT NULL,
    json     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS members_by_group ON members (group_id);
CREATE TABLE IF NOT EXISTS policies (
    group_id TEXT PRIMARY KEY NOT NULL,
    json     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mappings (
    group_id  TEXT NOT NULL,
    from_site TEXT NOT NULL,
    to_site   TEXT NOT NULL,
    json      TEXT NOT NULL,
    PRIMARY KEY (group_id, from_site, to_site)
);
CREATE TABLE IF NOT EXISTS tenant_mappings (
    id   TEXT PRIMARY KEY NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS operations (
    id         TEXT PRIMARY KEY NOT NULL,
    started_at TEXT NOT NULL,
    json       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operations_by_start ON operations (started_at);
CREATE TABLE IF NOT EXISTS journal (
    operation_id TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    json         TEXT NOT NULL,
    PRIMARY KEY (operation_id, seq)
);
CREATE TABLE IF NOT EXISTS sync_state (
    group_id TEXT PRIMARY KEY NOT NULL,
    json     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id TEXT NOT NULL,
    at       TEXT NOT NULL,
    json     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_log_by_group ON sync_log (group_id, at);
";

/// Protector's metadata in a SQLite database, secrets encrypted with a [`SecretKey`].
///
/// The connection sits behind a mutex that is never held across an `.await`: every call is one
/// short statement or transaction. `Debug` shows the path, never the key.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    key: SecretKey,
    path: Option<PathBuf>,
    /// Operation locks of a store in memory (a file store locks files next to it).
    locks: MemoryLocks,
}

impl SqliteStore {
    /// Opens the store in `path`, creating the file (with its schema) and its directory when
    /// the file does not exist.
    ///
    /// A new file is readable by its owner only (Unix), and appears complete: it is built
    /// under a temporary name and then published, so an existing file that is empty (0 bytes)
    /// was truncated, not left half-created. Returns [`ErrorKind::ConfigInvalid`], having
    /// written nothing to the file, when it cannot be opened, is empty, is not a protector
    /// store, is damaged (SQLite's `quick_check` fails), or was written by a newer protector;
    /// [`ErrorKind::Unavailable`] when another process holds it locked too long.
    pub fn open(path: &Path, key: SecretKey) -> Result<Self> {
        let config_error = |what: &str, err: std::io::Error| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cannot open the store {}: {what}: {err}: check the state directory and its \
                     permissions",
                    path.display()
                ),
            )
            .with_context("path", path.display().to_string())
            .with_source(err)
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|err| config_error("cannot create its directory", err))?;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.len() == 0 => {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "the store {} is empty (0 bytes): it was truncated; restore it from a \
                         backup, or remove it to start this site's store afresh",
                        path.display()
                    ),
                )
                .with_context("path", path.display().to_string()));
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Self::create_file(path, &key)?;
            }
            Err(err) => return Err(config_error("cannot read its metadata", err)),
        }

        let conn = Connection::open(path).map_err(|err| open_error(path, "opening", err))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|err| open_error(path, "setting the busy timeout", err))?;
        // Before anything writes: a damaged store is left exactly as it is.
        check_integrity(&conn, path)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|err| open_error(path, "enabling WAL", err))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the store is not in WAL mode");
        }
        Self::init(conn, key, Some(path.to_path_buf()))
    }

    /// Creates the store file in `path` with its schema: built under a temporary name in the
    /// same directory and published with a hard link, which, unlike a rename, fails when
    /// another process published its file first (then that one is used).
    fn create_file(path: &Path, key: &SecretKey) -> Result<()> {
        let io_error = |what: &str, err: std::io::Error| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "cannot create the store {}: {what}: {err}: check that the state directory \
                     is writable",
                    path.display()
                ),
            )
            .with_context("path", path.display().to_string())
            .with_source(err)
        };
        let name = path
            .file_name()
            .map_or_else(|| "store".into(), |n| n.to_string_lossy().into_owned());
        let temp = path.with_file_name(format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            Uuid::new_v4().simple()
        ));
        let built = (|| {
            create_private_file(&temp).map_err(|err| io_error("creating a temporary file", err))?;
            let conn = Connection::open(&temp).map_err(|err| open_error(&temp, "opening", err))?;
            let store = Self::init(conn, key.clone(), Some(temp.clone()))?;
            let conn = store
                .conn
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner);
            conn.close()
                .map_err(|(_, err)| open_error(&temp, "closing", err))
        })();
        let published = built.and_then(|()| match std::fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(err) => Err(io_error("publishing it", err)),
        });
        for suffix in ["", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", temp.display()));
        }
        published
    }

    /// A store in memory, empty, gone when dropped. For tests and dry runs.
    pub fn in_memory(key: SecretKey) -> Result<Self> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(|err| open_error(path, "opening", err))?;
        Self::init(conn, key, None)
    }

    /// Creates or checks the schema.
    fn init(mut conn: Connection, key: SecretKey, path: Option<PathBuf>) -> Result<Self> {
        let shown = path
            .as_deref()
            .unwrap_or(Path::new(":memory:"))
            .to_path_buf();
        let fail = |what: &str, err: rusqlite::Error| open_error(&shown, what, err);
        // Immediate: read the version and create the schema under one write lock, so two
        // processes opening a new file do not both decide to create it half-way.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|err| fail("locking", err))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|err| fail("reading the schema version", err))?;
        match version {
            0 => {
                tx.execute_batch(SCHEMA_V1)
                    .map_err(|err| fail("creating the schema", err))?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(|err| fail("writing the schema version", err))?;
            }
            SCHEMA_VERSION => {}
            newer => {
                return Err(Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "the store {} has schema version {newer}, newer than this protector \
                         supports ({SCHEMA_VERSION}): upgrade protector on this host",
                        shown.display()
                    ),
                )
                .with_context("path", shown.display().to_string()));
            }
        }
        tx.commit()
            .map_err(|err| fail("committing the schema", err))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            key,
            path,
            locks: MemoryLocks::default(),
        })
    }

    /// The connection. A panic while it was held leaves nothing half-done (an open transaction
    /// rolls back when dropped), so a poisoned lock is taken over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one statement.
    fn execute(&self, what: impl Fn() -> String, sql: &str, params: impl Params) -> Result<()> {
        self.conn()
            .execute(sql, params)
            .map(|_| ())
            .map_err(|err| sql_error(&what(), err))
    }

    /// Runs `body` in one write transaction, committed when it returns `Ok`.
    ///
    /// Immediate: the write lock is taken up front, so the busy timeout applies to it instead
    /// of failing when a read would have to be upgraded after another process wrote.
    fn transaction(
        &self,
        what: &str,
        body: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<()> {
        let mut conn = self.conn();
        let run = || {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            body(&tx)?;
            tx.commit()
        };
        run().map_err(|err| sql_error(what, err))
    }

    /// Writes a group document in one immediate transaction, after checking the stored version
    /// against `check` inside that transaction (so a concurrent writer in another process
    /// cannot slip in between the check and the write).
    fn write_document(&self, document: &GroupDocument, check: Option<VersionCheck>) -> Result<()> {
        let group_id = document.group.id;
        let what = format!("applying the metadata document of group {group_id}");
        check_document(document).map_err(|err| err.with_prefix(&what))?;

        // Serialize (and encrypt) everything before taking the lock.
        let group_json = to_json(&what, &document.group)?;
        let members = document
            .members
            .iter()
            .map(|m| Ok((m.id.to_string(), to_json(&what, m)?)))
            .collect::<Result<Vec<_>>>()?;
        let policy_json = match &document.policy {
            Some(policy) => Some(to_json(&what, &self.seal_policy(policy))?),
            None => None,
        };
        let mappings = document
            .mappings
            .iter()
            .map(|m| Ok((m, to_json(&what, m)?)))
            .collect::<Result<Vec<_>>>()?;

        let id = group_id.to_string();
        let version = document.group.metadata.version;
        let mut refused: Option<Option<u64>> = None;
        let mut taken = false;
        self.transaction(&what, |tx| {
            if let Some(check) = check {
                let stored: Option<i64> = tx
                    .query_row(
                        "SELECT json_extract(json, '$.metadata.version') FROM groups WHERE id = ?1",
                        [&id],
                        |row| row.get(0),
                    )
                    .optional()?
                    .flatten();
                let stored = stored.map(|v| u64::try_from(v).unwrap_or(0));
                if !check.admits(stored, version) {
                    refused = Some(stored);
                    return Ok(());
                }
                // A group new to this store: its name must be free in its project here, in
                // the same transaction (two creates of one name at once, on one site or one on
                // each).
                if stored.is_none() {
                    taken = tx
                        .query_row(
                            "SELECT 1 FROM groups WHERE name = ?1 AND id != ?2 \
                             AND json_extract(json, '$.project_id') = ?3",
                            params![document.group.name, id, document.group.project_id],
                            |_| Ok(()),
                        )
                        .optional()?
                        .is_some();
                    if taken {
                        return Ok(());
                    }
                }
            }
            tx.execute(
                "INSERT OR REPLACE INTO groups (id, name, json) VALUES (?1, ?2, ?3)",
                params![id, document.group.name, group_json],
            )?;
            tx.execute("DELETE FROM members WHERE group_id = ?1", [&id])?;
            for (member_id, json) in &members {
                tx.execute(
                    "INSERT OR REPLACE INTO members (id, group_id, json) VALUES (?1, ?2, ?3)",
                    params![member_id, id, json],
                )?;
            }
            tx.execute("DELETE FROM policies WHERE group_id = ?1", [&id])?;
            if let Some(json) = &policy_json {
                tx.execute(
                    "INSERT INTO policies (group_id, json) VALUES (?1, ?2)",
                    params![id, json],
                )?;
            }
            tx.execute("DELETE FROM mappings WHERE group_id = ?1", [&id])?;
            for (m, json) in &mappings {
                tx.execute(
                    "INSERT OR REPLACE INTO mappings (group_id, from_site, to_site, json) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, m.from_site, m.to_site, json],
                )?;
            }
            Ok(())
        })?;
        if taken {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "protection group '{}' already exists in project {}: choose another name",
                    document.group.name, document.group.project_id
                ),
            ));
        }
        match refused {
            None => Ok(()),
            Some(stored) => Err(Error::conflict(format!(
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

    /// Reads one record from the `json` column of `sql`'s first row.
    fn query_one<T: DeserializeOwned>(
        &self,
        what: impl Fn() -> String,
        sql: &str,
        params: impl Params,
    ) -> Result<Option<T>> {
        let json: Option<String> = self
            .conn()
            .query_row(sql, params, |row| row.get(0))
            .optional()
            .map_err(|err| sql_error(&what(), err))?;
        json.map(|json| from_json(&what(), &json)).transpose()
    }

    /// Reads the records in the `json` column of `sql`'s rows, in order.
    fn query_all<T: DeserializeOwned>(
        &self,
        what: impl Fn() -> String,
        sql: &str,
        params: impl Params,
    ) -> Result<Vec<T>> {
        let rows = {
            let conn = self.conn();
            let mut statement = conn.prepare(sql).map_err(|err| sql_error(&what(), err))?;
            let rows = statement
                .query_map(params, |row| row.get::<_, String>(0))
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|err| sql_error(&what(), err))?;
            rows
        };
        rows.iter().map(|json| from_json(&what(), json)).collect()
    }

    /// `policy` with both API tokens replaced by their encrypted form.
    fn seal_policy(&self, policy: &ReplicationPolicy) -> ReplicationPolicy {
        let mut sealed = policy.clone();
        for endpoint in [&mut sealed.primary_array, &mut sealed.secondary_array] {
            endpoint.api_token = Secret::new(self.key.encrypt(endpoint.api_token.expose()));
        }
        sealed
    }

    /// A stored policy with both API tokens decrypted.
    fn open_policy(&self, mut policy: ReplicationPolicy) -> Result<ReplicationPolicy> {
        let group_id = policy.group_id;
        for endpoint in [&mut policy.primary_array, &mut policy.secondary_array] {
            let plain = self
                .key
                .decrypt(endpoint.api_token.expose())
                .map_err(|err| {
                    err.with_prefix(format_args!("reading the policy of group {group_id}"))
                        .with_context("group_id", group_id.to_string())
                })?;
            endpoint.api_token = Secret::new(plain);
        }
        Ok(policy)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = match &self.path {
            Some(path) => path.display().to_string(),
            None => ":memory:".to_string(),
        };
        f.debug_struct("SqliteStore")
            .field("path", &path)
            .finish_non_exhaustive()
    }
}

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
        let json = to_json(&what(), operation)?;
        self.execute(
            what,
            "INSERT OR REPLACE INTO operations (id, started_at, json) VALUES (?1, ?2, ?3)",
            params![
                operation.id.to_string(),
                sortable_time(&operation.started_at),
                json
            ],
        )
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

    async fn append_journal(&self, entry: &JournalEntry) -> Result<u64> {
        let operation_id = entry.operation_id;
        let what = || {
            format!(
                "appending step '{}' of operation {operation_id} to table journal",
                entry.step
            )
        };
        let json = to_json(&what(), entry)?;
        // One statement: the next number is computed and taken under the same write lock, so
        // two writers of one operation cannot get the same number. The `seq` column is the
        // truth; the one inside the JSON is replaced on read.
        let seq: i64 = self
            .conn()
            .query_row(
                "INSERT INTO journal (operation_id, seq, json) \
                 SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2 FROM journal WHERE operation_id = ?1 \
                 RETURNING seq",
                params![operation_id.to_string(), json],
                |row| row.get(0),
            )
            .map_err(|err| sql_error(&what(), err))?;
        u64::try_from(seq).map_err(|_| {
            Error::unexpected(format!("{}: the store returned sequence {seq}", what()))
        })
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
}

/// Refuses a document whose parts belong to another group: applying it would move them.
fn check_document(document: &GroupDocument) -> Result<()> {
    let group_id = document.group.id;
    let mut findings = Vec::new();
    for member in &document.members {
        if member.group_id != group_id {
            findings.push(format!(
                "member {} belongs to group {}",
                member.id, member.group_id
            ));
        }
    }
    if let Some(policy) = &document.policy {
        if policy.group_id != group_id {
            findings.push(format!("the policy belongs to group {}", policy.group_id));
        }
    }
    for m in &document.mappings {
        if m.group_id != group_id {
            findings.push(format!(
                "mappings {} -> {} belong to group {}",
                m.from_site, m.to_site, m.group_id
            ));
        }
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(
            "the document mixes records of other groups: rebuild it from one group",
            findings,
        ))
    }
}

/// A timestamp as text that sorts like the time: fixed width, nanoseconds, UTC.
fn sortable_time(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn to_json<T: Serialize>(what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| {
        Error::unexpected(format!("{what}: cannot encode the record as JSON: {err}"))
            .with_source(err)
    })
}

fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|err| {
        Error::unexpected(format!(
            "{what}: the stored record is not valid ({err}): the store was altered or written \
             by an incompatible protector"
        ))
        .with_source(err)
    })
}

/// Whether SQLite gave up waiting for another connection's lock.
fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Maps a SQLite error met while doing `what` (which names the table and record).
fn sql_error(what: &str, err: rusqlite::Error) -> Error {
    if is_busy(&err) {
        Error::unavailable(format!(
            "{what}: the store is locked by another protector process (waited {} s): retry \
             when it has finished",
            BUSY_TIMEOUT.as_secs()
        ))
        .with_source(err)
    } else if is_corrupt(&err) {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!("{what}: the store is damaged ({err}): restore it from a backup"),
        )
        .with_source(err)
    } else {
        Error::unexpected(format!("{what}: SQLite error: {err}")).with_source(err)
    }
}

/// Runs SQLite's `quick_check` on the store (read only): a damaged file is local configuration
/// to restore, refused before anything writes to it.
fn check_integrity(conn: &Connection, path: &Path) -> Result<()> {
    let findings: Vec<String> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|err| open_error(path, "checking its integrity", err))?;
    if findings.len() == 1 && findings[0] == "ok" {
        return Ok(());
    }
    let first = findings.first().map_or("no answer", String::as_str);
    Err(Error::new(
        ErrorKind::ConfigInvalid,
        format!(
            "the store {} is damaged (SQLite integrity check: {}): restore it from a backup; \
             nothing was written to it",
            path.display(),
            first.lines().next().unwrap_or(first)
        ),
    )
    .with_context("path", path.display().to_string()))
}

/// Whether SQLite found the file damaged or not a database at all.
fn is_corrupt(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Maps a SQLite error met while opening the store: a file that is not a store is local
/// configuration, not a bug.
fn open_error(path: &Path, what: &str, err: rusqlite::Error) -> Error {
    let error = if is_busy(&err) {
        sql_error(
            &format!("opening the store {}: {what}", path.display()),
            err,
        )
    } else {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "cannot open the store {}: {what}: {err}: check that the path names a protector \
                 store and is writable",
                path.display()
            ),
        )
        .with_source(err)
    };
    error.with_context("path", path.display().to_string())
}

/// Creates an empty database file readable by its owner only, unless it exists. SQLite gives
/// its `-wal` and `-shm` files the same permissions.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{
        ArrayEndpoint, ConsistencyGroupBinding, FlavorRef, GroupStatus, MemberStatus,
        MetadataVersion, OperationStatus, OperationType, Phase, Placement, RecoveryMetadata,
        ReplicationType, ResourceMappings, SiteStatus, SiteType,
    };
    use crate::store::{JournalKind, RemoteSyncStatus};

    const TOKEN_A: &str = "T-primary-0f3c9e1a-token";
    const TOKEN_B: &str = "T-secondary-77d2b4c8-token";

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; 32])
    }

    fn store() -> SqliteStore {
        SqliteStore::in_memory(key(1)).unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
    }

    /// A uuid whose text sorts by `n`.
    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn site(name: &str) -> Site {
        Site {
            id: Uuid::new_v4(),
            name: name.to_string(),
            description: format!("{name} datacenter"),
            site_type: SiteType::Primary,
            auth_url: format!("https://keystone.{name}.example:5000/v3"),
            region_name: "RegionOne".to_string(),
            status: SiteStatus::Active,
            cloud: None,
            created_at: at(0),
        }
    }

    fn group(n: u128, name: &str) -> ProtectionGroup {
        ProtectionGroup {
            id: id(n),
            name: name.to_string(),
            description: String::new(),
            project_id: "project-a".to_string(),
            project_name: "project-a".to_string(),
            primary_site: "site-a".to_string(),
            secondary_site: "site-b".to_string(),
            current_primary_site: "site-a".to_string(),
            replication_type: ReplicationType::Async,
            volume_type: "pure-replicated".to_string(),
            status: GroupStatus::Active,
            failover_count: 0,
            last_failover_at: None,
            consistency_group: ConsistencyGroupBinding {
                id: Uuid::new_v4(),
                primary_cg_id: Some("cg-a".to_string()),
                secondary_cg_id: None,
                array_group: format!("pg-{name}"),
                backend_name: Some("cinder@pure".to_string()),
            },
            metadata: MetadataVersion {
                version: 1,
                checksum: "c0ffee".to_string(),
                modified_at: Some(at(1)),
            },
            active_operation_id: None,
            fence_required_on: None,
            last_operation_id: None,
            test_failover: None,
            created_at: at(0),
            updated_at: at(1),
        }
    }

    fn member(n: u128, group_id: Uuid, name: &str) -> Member {
        Member {
            id: id(n),
            group_id,
            instance_id: format!("server-{name}"),
            instance_name: name.to_string(),
            status: MemberStatus::Protected,
            error_message: None,
            recovery: RecoveryMetadata {
                flavor: FlavorRef {
                    id: "f-1".to_string(),
                    name: "m1.small".to_string(),
                },
                networks: Vec::new(),
                security_groups: Vec::new(),
                key_name: Some("ops".to_string()),
                availability_zone: None,
                volumes: Vec::new(),
            },
            current: Placement {
                site: "site-a".to_string(),
                instance_id: format!("server-{name}"),
                volume_ids: vec![format!("vol-{name}")],
                array_volumes: vec![format!("volume-{name}-cinder")],
                port_ids: vec![format!("port-{name}")],
            },
            standby: None,
        }
    }

    fn endpoint(url: &str, token: &str) -> ArrayEndpoint {
        ArrayEndpoint {
            url: url.to_string(),
            api_token: Secret::new(token),
            ca_file: None,
            allow_insecure_http: false,
        }
    }

    fn policy(group_id: Uuid) -> ReplicationPolicy {
        ReplicationPolicy {
            group_id,
            primary_array: endpoint("https://fa-a.example", TOKEN_A),
            secondary_array: endpoint("https://fa-b.example", TOKEN_B),
            pure_pg_name: "pg-web".to_string(),
            replication_interval_secs: 300,
            rpo_minutes: 15,
            primary_array_name: Some("fa-a".to_string()),
            secondary_array_name: Some("fa-b".to_string()),
        }
    }

    fn mappings(group_id: Uuid, from: &str, to: &str) -> GroupMappings {
        GroupMappings {
            group_id,
            from_site: from.to_string(),
            to_site: to.to_string(),
            mappings: ResourceMappings {
                networks: BTreeMap::from([(format!("net-{from}"), format!("net-{to}"))]),
                ..ResourceMappings::default()
            },
        }
    }

    fn tenant_mapping(n: u128) -> TenantMapping {
        TenantMapping {
            id: id(n),
            local_site: "site-a".to_string(),
            local_tenant: format!("project-a-{n}"),
            remote_site: "site-b".to_string(),
            remote_tenant: format!("project-b-{n}"),
            description: String::new(),
        }
    }

    fn operation(n: u128, started_at: DateTime<Utc>) -> Operation {
        let mut op = Operation::start(
            OperationType::Failover,
            Some((&id(1), "web")),
            "site-a",
            "site-b",
            started_at,
        );
        op.id = id(n);
        op
    }

    fn journal(operation_id: Uuid, step: &str, kind: JournalKind) -> JournalEntry {
        JournalEntry {
            operation_id,
            seq: 0,
            step: step.to_string(),
            kind,
            idempotency_key: format!("protector:{operation_id}:{step}"),
            detail: serde_json::json!({ "server_id": "srv-1" }),
            at: at(5),
        }
    }

    fn sync_state(group_id: Uuid, status: RemoteSyncStatus) -> SyncState {
        SyncState {
            group_id,
            peer_site: "site-b".to_string(),
            status,
            remote_version: 3,
            last_sync_at: Some(at(3)),
            last_error: None,
        }
    }

    fn sync_log(group_id: Uuid, version: u64, when: DateTime<Utc>) -> SyncLogEntry {
        SyncLogEntry {
            group_id,
            at: when,
            version,
            peer_site: "site-b".to_string(),
            result: "success".to_string(),
            reason: "member-add".to_string(),
            error: None,
        }
    }

    fn document(group: ProtectionGroup, members: Vec<Member>) -> GroupDocument {
        let group_id = group.id;
        GroupDocument {
            group,
            members,
            policy: Some(policy(group_id)),
            mappings: vec![mappings(group_id, "site-a", "site-b")],
        }
    }

    /// Every byte SQLite wrote for the store in `dir`: database, WAL and shared memory files.
    fn bytes_on_disk(dir: &Path) -> Vec<u8> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                all.extend(std::fs::read(path).unwrap());
            }
        }
        all
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    /// The raw `json` column of the policy of `group_id`.
    fn raw_policy(store: &SqliteStore, group_id: Uuid) -> String {
        store
            .conn()
            .query_row(
                "SELECT json FROM policies WHERE group_id = ?1",
                [group_id.to_string()],
                |row| row.get(0),
            )
            .unwrap()
    }

    #[tokio::test]
    async fn missing_records_are_none_and_deletes_succeed() {
        let s = store();
        assert_eq!(s.get_site("nope").await.unwrap(), None);
        assert_eq!(s.get_group(&id(1)).await.unwrap(), None);
        assert_eq!(s.get_policy(&id(1)).await.unwrap(), None);
        assert_eq!(s.get_operation(&id(1)).await.unwrap(), None);
        assert_eq!(s.get_sync_state(&id(1)).await.unwrap(), None);
        assert!(s.list_sites().await.unwrap().is_empty());
        assert!(s.list_groups().await.unwrap().is_empty());
        assert!(s.list_members(&id(1)).await.unwrap().is_empty());
        assert!(s.list_mappings(&id(1)).await.unwrap().is_empty());
        assert!(s.list_tenant_mappings().await.unwrap().is_empty());
        assert!(s.list_operations().await.unwrap().is_empty());
        assert!(s.list_journal(&id(1)).await.unwrap().is_empty());
        assert!(s.list_sync_log(&id(1), 10).await.unwrap().is_empty());
        s.delete_site("nope").await.unwrap();
        s.delete_group(&id(1)).await.unwrap();
        s.delete_member(&id(1)).await.unwrap();
    }

    #[tokio::test]
    async fn sites_round_trip_replace_and_delete() {
        let s = store();
        let b = site("site-b");
        let mut a = site("site-a");
        s.put_site(&b).await.unwrap();
        s.put_site(&a).await.unwrap();
        assert_eq!(s.get_site("site-a").await.unwrap(), Some(a.clone()));

        a.status = SiteStatus::Unreachable;
        a.cloud = Some("cloud-a".to_string());
        s.put_site(&a).await.unwrap();
        assert_eq!(s.get_site("site-a").await.unwrap(), Some(a.clone()));
        assert_eq!(s.list_sites().await.unwrap(), vec![a, b.clone()]);

        s.delete_site("site-a").await.unwrap();
        assert_eq!(s.get_site("site-a").await.unwrap(), None);
        assert_eq!(s.list_sites().await.unwrap(), vec![b]);
    }

    #[tokio::test]
    async fn groups_round_trip_replace_and_list_by_name() {
        let s = store();
        let web = group(1, "web");
        let mut db = group(2, "db");
        s.put_group(&web).await.unwrap();
        s.put_group(&db).await.unwrap();
        assert_eq!(s.get_group(&web.id).await.unwrap(), Some(web.clone()));

        db.status = GroupStatus::FailedOver;
        db.current_primary_site = "site-b".to_string();
        db.metadata.version = 2;
        db.active_operation_id = Some(id(99));
        db.fence_required_on = Some("site-a".to_string());
        s.put_group(&db).await.unwrap();
        assert_eq!(s.get_group(&db.id).await.unwrap(), Some(db.clone()));
        assert_eq!(s.list_groups().await.unwrap(), vec![db, web]);
    }

    #[tokio::test]
    async fn members_round_trip_per_group_by_id() {
        let s = store();
        let (g1, g2) = (id(1), id(2));
        let m3 = member(13, g1, "web-3");
        let mut m1 = member(11, g1, "web-1");
        let other = member(12, g2, "db-1");
        for m in [&m3, &m1, &other] {
            s.put_member(m).await.unwrap();
        }
        assert_eq!(
            s.list_members(&g1).await.unwrap(),
            vec![m1.clone(), m3.clone()]
        );
        assert_eq!(s.list_members(&g2).await.unwrap(), vec![other]);

        m1.status = MemberStatus::Error;
        m1.error_message = Some("volume detached".to_string());
        m1.standby = Some(m1.current.clone());
        s.put_member(&m1).await.unwrap();
        assert_eq!(s.list_members(&g1).await.unwrap(), vec![m1, m3.clone()]);

        s.delete_member(&id(11)).await.unwrap();
        assert_eq!(s.list_members(&g1).await.unwrap(), vec![m3]);
    }

    #[tokio::test]
    async fn policy_round_trips_with_tokens_encrypted_at_rest() {
        let s = store();
        let mut p = policy(id(1));
        s.put_policy(&p).await.unwrap();
        assert_eq!(s.get_policy(&id(1)).await.unwrap(), Some(p.clone()));

        let raw = raw_policy(&s, id(1));
        assert!(!raw.contains(TOKEN_A) && !raw.contains(TOKEN_B), "{raw}");
        let stored: ReplicationPolicy = serde_json::from_str(&raw).unwrap();
        assert!(stored
            .primary_array
            .api_token
            .expose()
            .starts_with("enc:v1:"));
        assert!(stored
            .secondary_array
            .api_token
            .expose()
            .starts_with("enc:v1:"));
        assert_eq!(stored.pure_pg_name, "pg-web");

        p.rpo_minutes = 5;
        p.primary_array.api_token = Secret::new("T-rotated");
        p.primary_array.ca_file = Some("/etc/protector/fa-a.pem".to_string());
        s.put_policy(&p).await.unwrap();
        assert_eq!(s.get_policy(&id(1)).await.unwrap(), Some(p));
        // The caller's policy is not modified by the encryption.
        assert_eq!(policy(id(1)).primary_array.api_token.expose(), TOKEN_A);
    }

    #[tokio::test]
    async fn mappings_replace_per_direction() {
        let s = store();
        let g = id(1);
        let back = mappings(g, "site-b", "site-a");
        let mut forth = mappings(g, "site-a", "site-b");
        s.put_mappings(&back).await.unwrap();
        s.put_mappings(&forth).await.unwrap();
        s.put_mappings(&mappings(id(2), "site-a", "site-b"))
            .await
            .unwrap();
        assert_eq!(
            s.list_mappings(&g).await.unwrap(),
            vec![forth.clone(), back.clone()]
        );

        forth
            .mappings
            .flavors
            .insert("m1.small".to_string(), "m1.small-dr".to_string());
        s.put_mappings(&forth).await.unwrap();
        assert_eq!(s.list_mappings(&g).await.unwrap(), vec![forth, back]);
    }

    #[tokio::test]
    async fn tenant_mappings_round_trip_and_replace() {
        let s = store();
        let mut t2 = tenant_mapping(2);
        let t1 = tenant_mapping(1);
        s.put_tenant_mapping(&t2).await.unwrap();
        s.put_tenant_mapping(&t1).await.unwrap();
        assert_eq!(
            s.list_tenant_mappings().await.unwrap(),
            vec![t1.clone(), t2.clone()]
        );

        t2.remote_tenant = "project-b-new".to_string();
        s.put_tenant_mapping(&t2).await.unwrap();
        assert_eq!(s.list_tenant_mappings().await.unwrap(), vec![t1, t2]);
    }

    #[tokio::test]
    async fn operations_round_trip_newest_first() {
        let s = store();
        let old = operation(1, at(10));
        let tie_low = operation(2, at(20));
        let tie_high = operation(3, at(20));
        // Sub-second precision must order too (fixed-width timestamps).
        let newest = operation(4, at(20) + chrono::Duration::milliseconds(500));
        for op in [&tie_low, &newest, &old, &tie_high] {
            s.put_operation(op).await.unwrap();
        }
        assert_eq!(
            s.list_operations().await.unwrap(),
            vec![newest, tie_high, tie_low, old.clone()]
        );

        let mut done = old;
        done.status = OperationStatus::Completed;
        done.progress = 100;
        done.phase = Phase::Finalization;
        done.steps_completed = vec!["create_server:web-1".to_string()];
        done.completed_at = Some(at(30));
        done.data_loss = Some("none".to_string());
        s.put_operation(&done).await.unwrap();
        assert_eq!(s.get_operation(&done.id).await.unwrap(), Some(done.clone()));
        assert_eq!(s.list_operations().await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn journal_numbers_each_operation_from_one() {
        let s = store();
        let (op1, op2) = (id(1), id(2));
        let mut intent = journal(op1, "create_server:web-1", JournalKind::Intent);
        intent.seq = 42; // ignored
        assert_eq!(s.append_journal(&intent).await.unwrap(), 1);
        assert_eq!(
            s.append_journal(&journal(op2, "import_volume:v1", JournalKind::Intent))
                .await
                .unwrap(),
            1
        );
        let done = journal(op1, "create_server:web-1", JournalKind::Done);
        assert_eq!(s.append_journal(&done).await.unwrap(), 2);
        let failed = journal(op1, "create_port:web-1", JournalKind::Failed);
        assert_eq!(s.append_journal(&failed).await.unwrap(), 3);

        let listed = s.list_journal(&op1).await.unwrap();
        let expected: Vec<JournalEntry> = [intent, done, failed]
            .into_iter()
            .zip(1..)
            .map(|(mut e, seq)| {
                e.seq = seq;
                e
            })
            .collect();
        assert_eq!(listed, expected);
        assert_eq!(s.list_journal(&op2).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn sync_state_and_log() {
        let s = store();
        let g = id(1);
        s.put_sync_state(&sync_state(g, RemoteSyncStatus::Synced))
            .await
            .unwrap();
        let mut failed = sync_state(g, RemoteSyncStatus::Unreachable);
        failed.last_error = Some("connection refused".to_string());
        s.put_sync_state(&failed).await.unwrap();
        assert_eq!(s.get_sync_state(&g).await.unwrap(), Some(failed));

        let first = sync_log(g, 1, at(1));
        let second_a = sync_log(g, 2, at(2));
        let mut second_b = sync_log(g, 3, at(2));
        second_b.result = "failed".to_string();
        second_b.error = Some("peer answered 500".to_string());
        for entry in [&first, &second_a, &second_b, &sync_log(id(2), 9, at(9))] {
            s.append_sync_log(entry).await.unwrap();
        }
        // Newest first; equal times in insertion order reversed.
        assert_eq!(
            s.list_sync_log(&g, 10).await.unwrap(),
            vec![second_b.clone(), second_a.clone(), first]
        );
        assert_eq!(
            s.list_sync_log(&g, 2).await.unwrap(),
            vec![second_b, second_a]
        );
        assert!(s.list_sync_log(&g, 0).await.unwrap().is_empty());
        assert_eq!(s.list_sync_log(&g, usize::MAX).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn delete_group_cascades_but_keeps_history() {
        let s = store();
        let doomed = group(1, "web");
        let kept = group(2, "db");
        for g in [&doomed, &kept] {
            s.put_group(g).await.unwrap();
            s.put_member(&member(g.id.as_u128() * 10, g.id, "vm"))
                .await
                .unwrap();
            s.put_policy(&policy(g.id)).await.unwrap();
            s.put_mappings(&mappings(g.id, "site-a", "site-b"))
                .await
                .unwrap();
            s.put_sync_state(&sync_state(g.id, RemoteSyncStatus::Synced))
                .await
                .unwrap();
            s.append_sync_log(&sync_log(g.id, 1, at(1))).await.unwrap();
        }
        let mut op = operation(7, at(1));
        op.group_id = Some(doomed.id);
        s.put_operation(&op).await.unwrap();
        s.append_journal(&journal(op.id, "step", JournalKind::Intent))
            .await
            .unwrap();

        s.delete_group(&doomed.id).await.unwrap();

        assert_eq!(s.get_group(&doomed.id).await.unwrap(), None);
        assert!(s.list_members(&doomed.id).await.unwrap().is_empty());
        assert_eq!(s.get_policy(&doomed.id).await.unwrap(), None);
        assert!(s.list_mappings(&doomed.id).await.unwrap().is_empty());
        assert_eq!(s.get_sync_state(&doomed.id).await.unwrap(), None);
        // History stays.
        assert_eq!(s.get_operation(&op.id).await.unwrap(), Some(op.clone()));
        assert_eq!(s.list_journal(&op.id).await.unwrap().len(), 1);
        assert_eq!(s.list_sync_log(&doomed.id, 10).await.unwrap().len(), 1);
        // The other group is untouched.
        assert_eq!(s.list_groups().await.unwrap(), vec![kept.clone()]);
        assert_eq!(s.list_members(&kept.id).await.unwrap().len(), 1);
        assert!(s.get_policy(&kept.id).await.unwrap().is_some());
        assert_eq!(s.list_mappings(&kept.id).await.unwrap().len(), 1);
        assert!(s.get_sync_state(&kept.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn apply_document_replaces_everything_about_the_group() {
        let s = store();
        let g = group(1, "web");
        let (stale, kept) = (member(11, g.id, "web-1"), member(12, g.id, "web-2"));
        s.apply_document(&document(g.clone(), vec![stale.clone(), kept.clone()]))
            .await
            .unwrap();
        s.put_mappings(&mappings(g.id, "site-b", "site-a"))
            .await
            .unwrap();
        let state = sync_state(g.id, RemoteSyncStatus::Synced);
        s.put_sync_state(&state).await.unwrap();
        // Another group is not touched by the document.
        let other = group(2, "db");
        let other_member = member(21, other.id, "db-1");
        s.apply_document(&document(other.clone(), vec![other_member.clone()]))
            .await
            .unwrap();

        let mut next = g.clone();
        next.name = "web-renamed".to_string();
        next.metadata.version = 2;
        let mut changed = kept.clone();
        changed.instance_name = "web-2b".to_string();
        let added = member(13, g.id, "web-3");
        let mut doc = document(next.clone(), vec![changed.clone(), added.clone()]);
        doc.policy.as_mut().unwrap().rpo_minutes = 1;
        doc.mappings = vec![mappings(g.id, "site-a", "site-c")];
        s.apply_document(&doc).await.unwrap();

        assert_eq!(s.get_group(&g.id).await.unwrap(), Some(next));
        assert_eq!(s.list_members(&g.id).await.unwrap(), vec![changed, added]);
        assert_eq!(s.get_policy(&g.id).await.unwrap(), doc.policy);
        assert_eq!(s.list_mappings(&g.id).await.unwrap(), doc.mappings);
        assert_eq!(s.get_sync_state(&g.id).await.unwrap(), Some(state));
        let raw = raw_policy(&s, g.id);
        assert!(!raw.contains(TOKEN_A) && !raw.contains(TOKEN_B), "{raw}");

        doc.policy = None;
        doc.members.clear();
        doc.mappings.clear();
        s.apply_document(&doc).await.unwrap();
        assert_eq!(s.get_policy(&g.id).await.unwrap(), None);
        assert!(s.list_members(&g.id).await.unwrap().is_empty());
        assert!(s.list_mappings(&g.id).await.unwrap().is_empty());

        assert_eq!(s.get_group(&other.id).await.unwrap(), Some(other.clone()));
        assert_eq!(s.list_members(&other.id).await.unwrap(), vec![other_member]);
        assert!(s.get_policy(&other.id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn apply_document_if_is_a_compare_and_set_on_the_version_across_handles() {
        // Two handles on one file: two processes sharing a site's store.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        let (one, two) = (
            SqliteStore::open(&path, key(1)).unwrap(),
            SqliteStore::open(&path, key(1)).unwrap(),
        );
        let mut g = group(1, "web");
        g.metadata.version = 1;
        let created = document(g.clone(), vec![member(11, g.id, "web-1")]);
        one.apply_document_if(&created, VersionCheck::Exactly(0))
            .await
            .unwrap();
        // A second create of the same group is refused.
        let err = two
            .apply_document_if(&created, VersionCheck::Exactly(0))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");

        // Both read version 1 and write version 2: the first wins, the second changes nothing.
        let mut first = created.clone();
        first.group.metadata.version = 2;
        first.group.description = "first".to_string();
        let mut second = first.clone();
        second.group.description = "second".to_string();
        second.members.clear();
        one.apply_document_if(&first, VersionCheck::Exactly(1))
            .await
            .unwrap();
        let err = two
            .apply_document_if(&second, VersionCheck::Exactly(1))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert!(err.message().contains("version 2"), "{err}");
        assert_eq!(
            two.get_group(&g.id).await.unwrap(),
            Some(first.group.clone())
        );
        assert_eq!(two.list_members(&g.id).await.unwrap(), first.members);

        // A push to a peer applies only over an older version.
        let err = two
            .apply_document_if(&first, VersionCheck::Older)
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Conflict,
            "the same version is not older"
        );
        let mut third = first.clone();
        third.group.metadata.version = 3;
        two.apply_document_if(&third, VersionCheck::Older)
            .await
            .unwrap();
        let err = one
            .apply_document_if(&first, VersionCheck::Older)
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::Conflict,
            "an older version never overwrites"
        );
        assert_eq!(one.get_group(&g.id).await.unwrap(), Some(third.group));
        // Absent counts as older.
        let other = document(group(2, "db"), Vec::new());
        one.apply_document_if(&other, VersionCheck::Older)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn apply_document_refuses_records_of_other_groups() {
        let s = store();
        let g = group(1, "web");
        let before = document(g.clone(), vec![member(11, g.id, "web-1")]);
        s.apply_document(&before).await.unwrap();

        let mut doc = document(g.clone(), vec![member(12, id(2), "intruder")]);
        doc.policy.as_mut().unwrap().group_id = id(2);
        let err = s.apply_document(&doc).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValidationFailed);
        assert!(err.message().contains(&g.id.to_string()), "{err}");
        assert_eq!(err.findings().len(), 2, "{err}");

        assert_eq!(s.list_members(&g.id).await.unwrap(), before.members);
        assert!(s.list_members(&id(2)).await.unwrap().is_empty());
        assert_eq!(s.get_policy(&g.id).await.unwrap(), before.policy);
    }

    #[tokio::test]
    async fn file_store_keeps_data_and_never_writes_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/site-a/protector.db");
        let g = group(1, "web");
        let doc = document(g.clone(), vec![member(11, g.id, "web-1")]);
        {
            let s = SqliteStore::open(&path, key(1)).unwrap();
            s.apply_document(&doc).await.unwrap();
            s.put_policy(&policy(g.id)).await.unwrap();
            s.put_site(&site("site-a")).await.unwrap();
            s.append_journal(&journal(id(5), "step", JournalKind::Intent))
                .await
                .unwrap();
            // While open, the latest pages may live in the WAL file: check every file.
            let bytes = bytes_on_disk(path.parent().unwrap());
            assert!(contains(&bytes, "pg-web"), "the policy was written");
            assert!(!contains(&bytes, TOKEN_A) && !contains(&bytes, TOKEN_B));
        }
        let bytes = bytes_on_disk(path.parent().unwrap());
        assert!(!contains(&bytes, TOKEN_A) && !contains(&bytes, TOKEN_B));

        let s = SqliteStore::open(&path, key(1)).unwrap();
        assert_eq!(s.get_group(&g.id).await.unwrap(), Some(g.clone()));
        assert_eq!(s.list_members(&g.id).await.unwrap(), doc.members);
        assert_eq!(s.get_policy(&g.id).await.unwrap(), doc.policy);
        assert_eq!(s.list_mappings(&g.id).await.unwrap(), doc.mappings);
        assert_eq!(s.list_sites().await.unwrap().len(), 1);
        // Numbering continues after a reopen.
        assert_eq!(
            s.append_journal(&journal(id(5), "step", JournalKind::Done))
                .await
                .unwrap(),
            2
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn file_store_is_private_and_in_wal_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        let s = SqliteStore::open(&path, key(1)).unwrap();
        let mode: String = s
            .conn()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let permissions = std::fs::metadata(&path).unwrap().permissions();
        assert_eq!(permissions.mode() & 0o777, 0o600);
    }

    #[tokio::test]
    async fn two_stores_share_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        let first = SqliteStore::open(&path, key(1)).unwrap();
        let second = SqliteStore::open(&path, key(1)).unwrap();
        first.put_group(&group(1, "web")).await.unwrap();
        second.put_policy(&policy(id(1))).await.unwrap();
        assert_eq!(second.list_groups().await.unwrap().len(), 1);
        assert_eq!(first.get_policy(&id(1)).await.unwrap(), Some(policy(id(1))));
        let op = id(3);
        assert_eq!(
            first
                .append_journal(&journal(op, "a", JournalKind::Intent))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            second
                .append_journal(&journal(op, "a", JournalKind::Done))
                .await
                .unwrap(),
            2
        );
    }

    #[tokio::test]
    async fn wrong_key_fails_on_reading_the_policy_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        {
            let s = SqliteStore::open(&path, key(1)).unwrap();
            s.put_group(&group(1, "web")).await.unwrap();
            s.put_policy(&policy(id(1))).await.unwrap();
        }
        let s = SqliteStore::open(&path, key(2)).unwrap();
        let err = s.get_policy(&id(1)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err.message().starts_with(&format!(
            "reading the policy of group {}: cannot decrypt stored secret: the key file does not \
             match the store (",
            id(1)
        )));
        assert_eq!(
            err.context_value("group_id"),
            Some(id(1).to_string().as_str())
        );
        assert!(!format!("{err} {err:?}").contains(TOKEN_A));
        // Everything else stays readable.
        assert!(s.get_group(&id(1)).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        drop(SqliteStore::open(&path, key(1)).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 2)
            .unwrap();

        let err = SqliteStore::open(&path, key(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert_eq!(
            err.message(),
            format!(
                "the store {} has schema version 2, newer than this protector supports (1): \
                 upgrade protector on this host",
                path.display()
            )
        );
    }

    #[test]
    fn a_new_store_is_published_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        drop(SqliteStore::open(&path, key(1)).unwrap());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["protector.db"], "no temporary file is left");
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn an_empty_store_file_is_refused_and_left_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        std::fs::write(&path, b"").unwrap();
        let err = SqliteStore::open(&path, key(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert_eq!(
            err.message(),
            format!(
                "the store {} is empty (0 bytes): it was truncated; restore it from a backup, or \
                 remove it to start this site's store afresh",
                path.display()
            )
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[tokio::test]
    async fn a_damaged_store_is_refused_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        {
            let s = SqliteStore::open(&path, key(1)).unwrap();
            for n in 1..=20 {
                s.put_group(&group(n, &format!("web-{n}"))).await.unwrap();
            }
        }
        // Page 3 holds the groups table: overwrite it with garbage.
        let mut bytes = std::fs::read(&path).unwrap();
        let page: usize = 4096;
        assert!(bytes.len() > 3 * page);
        bytes[2 * page..3 * page].fill(0xA5);
        std::fs::write(&path, &bytes).unwrap();

        let err = SqliteStore::open(&path, key(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
        assert!(
            err.message()
                .starts_with(&format!("the store {} is damaged", path.display())),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn damage_found_after_opening_is_config_invalid() {
        for code in [rusqlite::ffi::SQLITE_CORRUPT, rusqlite::ffi::SQLITE_NOTADB] {
            let err = sql_error(
                "reading groups",
                rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
            );
            assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
            assert!(
                err.message()
                    .starts_with("reading groups: the store is damaged ("),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_store_is_config_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = SqliteStore::open(&path, key(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert!(err
            .message()
            .starts_with(&format!("cannot open the store {}", path.display())));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn a_locked_store_is_unavailable_and_retryable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protector.db");
        let s = SqliteStore::open(&path, key(1)).unwrap();
        // Do not wait for the lock: the mapping is what is tested, not the timeout.
        s.conn().busy_timeout(Duration::ZERO).unwrap();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();

        let err = s.put_site(&site("site-a")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.is_retryable());
        assert!(err
            .message()
            .starts_with("writing site 'site-a' to table sites: the store is locked"));
        let err = s.delete_group(&id(1)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);

        holder.execute_batch("COMMIT").unwrap();
        s.put_site(&site("site-a")).await.unwrap();
    }

    #[tokio::test]
    async fn a_corrupt_record_names_its_table() {
        let s = store();
        s.conn()
            .execute(
                "INSERT INTO groups (id, name, json) VALUES (?1, 'web', '{not json')",
                [id(1).to_string()],
            )
            .unwrap();
        let err = s.get_group(&id(1)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unexpected);
        assert!(err.message().starts_with(&format!(
            "reading group {} from table groups: the stored record",
            id(1)
        )));
        assert_eq!(
            s.list_groups().await.unwrap_err().kind(),
            ErrorKind::Unexpected
        );
    }

    #[test]
    fn debug_shows_the_path_not_the_key() {
        let s = store();
        let shown = format!("{s:?}");
        assert_eq!(shown, r#"SqliteStore { path: ":memory:", .. }"#);
    }

    #[test]
    fn the_store_is_usable_as_a_shared_trait_object() {
        let shared: std::sync::Arc<dyn Store> = std::sync::Arc::new(store());
        assert!(format!("{shared:?}").starts_with("SqliteStore"));
    }
}
