//! The [`Store`](super::Store) on SQLite: one database file per site.
//!
//! Each record is kept as JSON next to the few columns used to find and order it, so adding a
//! field to a model type needs no migration. Several CLI processes may open the same file: the
//! database runs in WAL mode and waits up to [`BUSY_TIMEOUT`] for another writer before failing
//! with [`ErrorKind::Unavailable`]. Policy API tokens are encrypted with the site's
//! [`SecretKey`] before they reach the database.

mod group_commit;
mod records;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Params, Transaction, TransactionBehavior,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::lock::{try_lock_file, MemoryLocks};
pub(crate) use super::shared::{
    check_document, from_json, open_policy, seal_policy, sortable_time, to_json,
};
use super::{GroupDocument, SecretKey, VersionCheck};
use crate::error::{Error, ErrorKind, Result};
use crate::model::ReplicationPolicy;

/// Schema version this code writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 3;

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

/// Version 2: operation leases (who works on an operation, until when). `expires_at` is
/// [`sortable_time`] text, so the store compares times as strings.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS operation_leases (
    operation_id TEXT PRIMARY KEY NOT NULL,
    holder       TEXT NOT NULL,
    expires_at   TEXT NOT NULL
);
";

/// Version 3: the columns of an operation the engine selects on (its group, type, status and
/// target site; copies of its JSON's fields, written with it), indexed, so that planning a
/// group reads that group's operations and not every operation ever run.
const SCHEMA_V3: &str = "
ALTER TABLE operations ADD COLUMN group_id TEXT;
ALTER TABLE operations ADD COLUMN operation_type TEXT;
ALTER TABLE operations ADD COLUMN status TEXT;
ALTER TABLE operations ADD COLUMN target_site TEXT;
UPDATE operations SET
    group_id = json_extract(json, '$.group_id'),
    operation_type = json_extract(json, '$.operation_type'),
    status = json_extract(json, '$.status'),
    target_site = json_extract(json, '$.target_site');
CREATE INDEX IF NOT EXISTS operations_by_group ON operations (group_id, started_at);
CREATE INDEX IF NOT EXISTS operations_by_kind
    ON operations (operation_type, target_site, status, started_at);
";

/// The statements that make each schema version, in order: `SCHEMAS[n - 1]` makes version
/// `n` from version `n - 1`.
const SCHEMAS: [&str; 3] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3];

/// Indexes made at every open (`IF NOT EXISTS`): an index changes no format, so a store that
/// has them still opens with a protector that does not know them (SQLite keeps them up to date
/// whoever writes).
///
/// `journal_cancels`: whether an operation's journal holds a cancel request (checked before
/// every step of a run) is a lookup, not a decoding of every entry of the operation (a run of
/// a 1,000-VM group writes tens of thousands). Partial: only cancel requests are in it, so the
/// other entries' writes do not write its pages.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS journal_cancels ON journal (operation_id)
    WHERE json_extract(json, '$.kind') = 'cancel_requested';
";

/// Whether operation `?1`'s journal has a cancel request: answered by `journal_cancels` (the
/// condition is the index's, character for character).
const JOURNAL_HAS_CANCEL: &str = "SELECT EXISTS(SELECT 1 FROM journal WHERE operation_id = ?1 \
                                  AND json_extract(json, '$.kind') = 'cancel_requested')";

/// Whether operation `?1`'s journal has an entry of kind `?2` (any other kind): SQLite reads
/// the kind of each of the operation's entries.
const JOURNAL_HAS: &str = "SELECT EXISTS(SELECT 1 FROM journal WHERE operation_id = ?1 \
                           AND json_extract(json, '$.kind') = ?2)";

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
    /// Journal writes waiting for their commit (`group_commit`).
    commits: group_commit::CommitQueue,
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
        // In WAL mode, NORMAL syncs the log at checkpoints instead of at every commit: a
        // commit survives the process being killed at any moment (the log is in the kernel's
        // page cache) and the file is never corrupted; only a power loss of this host can take
        // back the last commits. FULL (an fsync per journal entry) was a fifth of the engine's
        // CPU in a 100-VM failover. The services keep their state in MariaDB.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|err| open_error(path, "setting synchronous", err))?;
        // A checkpoint copies the log's pages into the file and syncs it: every 10,000 pages
        // (about 40 MB of log) instead of SQLite's 1,000. A run rewrites the same few pages
        // (the journal's last, the operation's record) thousands of times; the checkpoints
        // were about 3% of the engine's CPU in a 100-VM failover.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)
            .map_err(|err| open_error(path, "setting the checkpoint interval", err))?;
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
        // Every statement the store runs stays prepared (rusqlite keeps 16 by default; the
        // store has more, and an evicted one is prepared again at its next use).
        conn.set_prepared_statement_cache_capacity(64);
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
            older @ 0..SCHEMA_VERSION => {
                // `older` is non-negative and below `SCHEMAS.len()`.
                for schema in SCHEMAS.iter().skip(older as usize) {
                    tx.execute_batch(schema)
                        .map_err(|err| fail("creating the schema", err))?;
                }
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(|err| fail("writing the schema version", err))?;
                if older > 0 {
                    tracing::info!(
                        path = %shown.display(),
                        from = older,
                        to = SCHEMA_VERSION,
                        "upgraded the store's schema"
                    );
                }
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
        tx.execute_batch(INDEXES)
            .map_err(|err| fail("creating the indexes", err))?;
        tx.commit()
            .map_err(|err| fail("committing the schema", err))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            key,
            path,
            locks: MemoryLocks::default(),
            commits: Default::default(),
        })
    }

    /// The connection. A panic while it was held leaves nothing half-done (an open transaction
    /// rolls back when dropped), so a poisoned lock is taken over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one statement.
    fn execute(&self, what: impl Fn() -> String, sql: &str, params: impl Params) -> Result<()> {
        // Cached: the engine runs the same few statements thousands of times an operation.
        self.conn()
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute(params))
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
                    .prepare_cached(
                        "SELECT json_extract(json, '$.metadata.version') FROM groups WHERE id = ?1",
                    )?
                    .query_row([&id], |row| row.get(0))
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
            execute_cached(
                tx,
                "INSERT OR REPLACE INTO groups (id, name, json) VALUES (?1, ?2, ?3)",
                params![id, document.group.name, group_json],
            )?;
            execute_cached(tx, "DELETE FROM members WHERE group_id = ?1", [&id])?;
            for (member_id, json) in &members {
                execute_cached(
                    tx,
                    "INSERT OR REPLACE INTO members (id, group_id, json) VALUES (?1, ?2, ?3)",
                    params![member_id, id, json],
                )?;
            }
            execute_cached(tx, "DELETE FROM policies WHERE group_id = ?1", [&id])?;
            if let Some(json) = &policy_json {
                execute_cached(
                    tx,
                    "INSERT INTO policies (group_id, json) VALUES (?1, ?2)",
                    params![id, json],
                )?;
            }
            execute_cached(tx, "DELETE FROM mappings WHERE group_id = ?1", [&id])?;
            for (m, json) in &mappings {
                execute_cached(
                    tx,
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
            .prepare_cached(sql)
            .and_then(|mut statement| statement.query_row(params, |row| row.get(0)))
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
            let mut statement = conn
                .prepare_cached(sql)
                .map_err(|err| sql_error(&what(), err))?;
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
        seal_policy(&self.key, policy)
    }

    /// A stored policy with both API tokens decrypted.
    fn open_policy(&self, policy: ReplicationPolicy) -> Result<ReplicationPolicy> {
        open_policy(&self.key, policy)
    }
}

#[cfg(any(test, feature = "conformance"))]
impl SqliteStore {
    /// The raw `json` column of the policy of `group_id`, as it is at rest (the conformance
    /// suite's check that tokens are encrypted).
    pub fn raw_policy_json(&self, group_id: Uuid) -> String {
        self.conn()
            .query_row(
                "SELECT json FROM policies WHERE group_id = ?1",
                [group_id.to_string()],
                |row| row.get(0),
            )
            .unwrap()
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

/// Runs `sql` through the connection's statement cache: a group's metadata is written at
/// every change of a failover, and preparing its statements again each time was a tenth of
/// the write.
fn execute_cached(conn: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
