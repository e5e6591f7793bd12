//! The [`Store`](super::Store) on MariaDB or MySQL: one database per site, shared by every
//! protector service of that site (feature `mariadb`).
//!
//! The tables are those of the SQLite store: each record is kept as JSON (`LONGTEXT`) next to
//! the few columns used to find and order it; ids are `VARCHAR(36)`, timestamps fixed-width
//! text that sorts like the time; utf8mb4 with a binary collation (names compare and sort
//! byte-wise, as in SQLite), InnoDB. The schema is versioned in table `protector_schema` and
//! created or upgraded only by [`MySqlStore::migrate`] (`protector-manage db sync`);
//! [`MySqlStore::connect`] refuses a database whose schema is older or newer than this code.
//!
//! Conditional writes lock the group's row (`SELECT … FOR UPDATE`) in one transaction; a
//! deadlock (or, on Galera, a certification failure, reported as a deadlock) is retried a few
//! times, as oslo.db's `retry_on_deadlock` does. Operation locks are MariaDB's named locks
//! (`GET_LOCK`) held by a connection of their own: the server releases them when that
//! connection ends, however its process ends. On Galera, named locks are local to one node:
//! two hosts writing through different nodes do not see each other's locks.
//!
//! A host that vanishes (power loss, network cut) closes nothing: the server would keep its
//! connection, and so its locks, until `wait_timeout` (8 hours by default). The connection of
//! a lock therefore gets a `wait_timeout` of [`LOCK_WAIT_TIMEOUT`], and a task owned by the
//! lock pings it every [`LOCK_PING_INTERVAL`] while it is held: a live holder keeps its lock,
//! the locks of a vanished host are free within [`LOCK_WAIT_TIMEOUT`]. Operation leases
//! (`leases`) are compare-and-set statements on the server's clock, safe on Galera.
//!
//! The URL's password is never shown: `Debug`, errors and logs name `user@host:port/database`.

mod leases;
mod records;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use sqlx::mysql::{
    MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions,
};
use sqlx::{Connection, Row};
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use super::lock::OperationLock;
use super::{LockAttempt, SecretKey};
use crate::error::{Error, ErrorKind, Result};

/// Schema version this code reads and writes.
pub const SCHEMA_VERSION: u32 = 3;

/// The command that creates or upgrades a site's database.
const SYNC_COMMAND: &str = "protector-manage db sync";

/// How long a call waits for a connection (and so for an unreachable server).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The idle time after which the server ends the connection holding an operation lock (its
/// session's `wait_timeout`), and so frees the lock of a host that vanished.
pub const LOCK_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a held lock pings its connection, well within [`LOCK_WAIT_TIMEOUT`].
pub const LOCK_PING_INTERVAL: Duration = Duration::from_secs(10);

/// How many times a transaction that lost a deadlock is run again.
const DEADLOCK_ATTEMPTS: u32 = 8;

/// Table options of every table. The `json` columns have a text collation: sqlx reads a
/// binary-collated `LONGTEXT` as a `BLOB`.
const TABLE: &str = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/// One statement of a migration, skipped when `done_if` (a query answering a count) answers
/// more than zero: MariaDB commits DDL at once, so a migration interrupted half-way is run
/// again, and a statement that cannot say `IF NOT EXISTS` (adding columns, in MySQL) asks.
struct Migration {
    sql: String,
    done_if: Option<&'static str>,
}

impl Migration {
    fn run(sql: impl Into<String>) -> Self {
        Migration {
            sql: sql.into(),
            done_if: None,
        }
    }
}

/// The statements of each schema version, in order: `MIGRATIONS[n - 1]` makes version `n`.
/// `IF NOT EXISTS` or a check first everywhere, so that a migration interrupted half-way is
/// simply run again.
fn migrations() -> Vec<Vec<Migration>> {
    let v1 = [
        "CREATE TABLE IF NOT EXISTS sites (
            name VARCHAR(255) NOT NULL PRIMARY KEY,
            json LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci)",
        "CREATE TABLE IF NOT EXISTS `groups` (
            id         VARCHAR(36) NOT NULL PRIMARY KEY,
            name       VARCHAR(255) NOT NULL,
            project_id VARCHAR(255) NOT NULL,
            version    BIGINT UNSIGNED NOT NULL,
            json       LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci,
            KEY groups_by_name (name),
            KEY groups_by_project_name (project_id, name))",
        "CREATE TABLE IF NOT EXISTS members (
            id       VARCHAR(36) NOT NULL PRIMARY KEY,
            group_id VARCHAR(36) NOT NULL,
            json     LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci,
            KEY members_by_group (group_id))",
        "CREATE TABLE IF NOT EXISTS policies (
            group_id VARCHAR(36) NOT NULL PRIMARY KEY,
            json     LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci)",
        "CREATE TABLE IF NOT EXISTS mappings (
            group_id  VARCHAR(36) NOT NULL,
            from_site VARCHAR(255) NOT NULL,
            to_site   VARCHAR(255) NOT NULL,
            json      LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci,
            PRIMARY KEY (group_id, from_site, to_site))",
        "CREATE TABLE IF NOT EXISTS tenant_mappings (
            id   VARCHAR(36) NOT NULL PRIMARY KEY,
            json LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci)",
        "CREATE TABLE IF NOT EXISTS operations (
            id         VARCHAR(36) NOT NULL PRIMARY KEY,
            started_at VARCHAR(40) NOT NULL,
            json       LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci,
            KEY operations_by_start (started_at))",
        "CREATE TABLE IF NOT EXISTS journal (
            operation_id VARCHAR(36) NOT NULL,
            seq          BIGINT UNSIGNED NOT NULL,
            json         LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci,
            PRIMARY KEY (operation_id, seq))",
        // The last sequence number of each operation's journal: the row an append locks, so
        // appends to one operation queue up instead of deadlocking on the journal's gaps.
        "CREATE TABLE IF NOT EXISTS journal_seq (
            operation_id VARCHAR(36) NOT NULL PRIMARY KEY,
            seq          BIGINT UNSIGNED NOT NULL)",
        "CREATE TABLE IF NOT EXISTS sync_state (
            group_id VARCHAR(36) NOT NULL PRIMARY KEY,
            json     LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci)",
        "CREATE TABLE IF NOT EXISTS sync_log (
            id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
            group_id VARCHAR(36) NOT NULL,
            at       VARCHAR(40) NOT NULL,
            json     LONGTEXT NOT NULL COLLATE utf8mb4_unicode_ci,
            KEY sync_log_by_group (group_id, at))",
    ];
    // Operation leases: who works on an operation until when, by the server's clock.
    let v2 = ["CREATE TABLE IF NOT EXISTS operation_leases (
            operation_id VARCHAR(36) NOT NULL PRIMARY KEY,
            holder       VARCHAR(255) NOT NULL,
            expires_at   DATETIME(6) NOT NULL)"];
    // Operations selected by group, kind, status and target site on indexed columns (as the
    // SQLite store's schema 3), filled from each operation's JSON: planning a group reads that
    // group's operations, not every operation ever run.
    let v3 = vec![
        Migration {
            sql: "ALTER TABLE operations
                ADD COLUMN group_id       VARCHAR(36) NULL,
                ADD COLUMN operation_type VARCHAR(40) NULL,
                ADD COLUMN status         VARCHAR(40) NULL,
                ADD COLUMN target_site    VARCHAR(255) NULL,
                ADD KEY operations_by_group (group_id, started_at),
                ADD KEY operations_by_kind (operation_type, target_site, status, started_at)"
                .to_string(),
            done_if: Some(
                "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'operations' AND COLUMN_NAME = 'group_id'",
            ),
        },
        Migration::run(
            "UPDATE operations SET
                group_id       = NULLIF(JSON_VALUE(json, '$.group_id'), 'null'),
                operation_type = JSON_VALUE(json, '$.operation_type'),
                status         = JSON_VALUE(json, '$.status'),
                target_site    = JSON_VALUE(json, '$.target_site')",
        ),
    ];
    let tables = |version: &[&str]| -> Vec<Migration> {
        version
            .iter()
            .map(|s| Migration::run(format!("{s} {TABLE}")))
            .collect()
    };
    vec![tables(&v1), tables(&v2), v3]
}

/// Protector's metadata in a MariaDB/MySQL database, secrets encrypted with a [`SecretKey`].
///
/// `Debug` shows `mysql://user@host:port/database`, never the password or the key.
pub struct MySqlStore {
    pool: MySqlPool,
    key: SecretKey,
    /// `user@host:port/database`, for messages.
    target: String,
    /// `host:port`, for messages about an unreachable server.
    host: String,
    /// The `wait_timeout` of an operation lock's connection and how often the lock pings it
    /// ([`LOCK_WAIT_TIMEOUT`], [`LOCK_PING_INTERVAL`]; shorter in tests).
    lock_keepalive: (Duration, Duration),
}

impl MySqlStore {
    /// Connects to the database of `url` (`mysql://user:password@host:port/database`) and
    /// checks that its schema is the one this code uses.
    ///
    /// [`ErrorKind::ConfigInvalid`] for a malformed URL, refused credentials, an unknown
    /// database or a schema that is missing, older (run `protector-manage db sync`) or newer
    /// (upgrade protector); [`ErrorKind::Unavailable`] when the server does not answer.
    pub async fn connect(url: &str, key: SecretKey) -> Result<Self> {
        let store = Self::connect_unchecked(url, key).await?;
        match store.schema_version().await? {
            SCHEMA_VERSION => Ok(store),
            0 => Err(store.schema_error(format!(
                "the database {} has no protector schema: run `{SYNC_COMMAND}` to create it",
                store.target
            ))),
            older if older < SCHEMA_VERSION => Err(store.schema_error(format!(
                "the database {} has schema version {older}, older than this protector's \
                 ({SCHEMA_VERSION}): run `{SYNC_COMMAND}` to upgrade it",
                store.target
            ))),
            newer => Err(store.newer_error(newer)),
        }
    }

    /// Connects to the database of `url` without checking its schema: for
    /// [`migrate`](Self::migrate) (`protector-manage db sync`).
    pub async fn connect_unchecked(url: &str, key: SecretKey) -> Result<Self> {
        let options = MySqlConnectOptions::from_str(url).map_err(|_| {
            Error::new(
                ErrorKind::ConfigInvalid,
                "the database connection is not a valid URL: write it as \
                 mysql://user:password@host:port/database",
            )
        })?;
        let database = options.get_database().unwrap_or_default().to_string();
        if database.is_empty() {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                "the database connection names no database: write it as \
                 mysql://user:password@host:port/database",
            ));
        }
        let host = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => format!("{}:{}", options.get_host(), options.get_port()),
        };
        let target = format!("{}@{host}/{database}", options.get_username());
        let pool = MySqlPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        let store = MySqlStore {
            pool,
            key,
            target,
            host,
            lock_keepalive: (LOCK_WAIT_TIMEOUT, LOCK_PING_INTERVAL),
        };
        // One round trip now: a wrong host, user or database is reported here.
        sqlx::query("SELECT 1")
            .execute(&store.pool)
            .await
            .map_err(|err| store.db_error("connecting", err))?;
        Ok(store)
    }

    /// Creates the schema or upgrades it to [`SCHEMA_VERSION`]; returns the versions before
    /// and after. Safe to run from several hosts at once (a named lock serializes them) and
    /// again after an interruption.
    pub async fn migrate(&self) -> Result<(u32, u32)> {
        let what = format!("migrating the schema of {}", self.target);
        let fail = |err| self.db_error(&what, err);
        let mut conn = self.pool.acquire().await.map_err(fail)?.detach();
        let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK('protector-schema', 60)")
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
        if locked != Some(1) {
            return Err(Error::unavailable(format!(
                "{what}: another `{SYNC_COMMAND}` has held the schema lock for 60 s: retry when \
                 it has finished"
            )));
        }
        let result = async {
            sqlx::query(&format!(
                "CREATE TABLE IF NOT EXISTS protector_schema (
                    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
                    version INT UNSIGNED NOT NULL) {TABLE}"
            ))
            .execute(&mut conn)
            .await
            .map_err(fail)?;
            let before = read_version(&mut conn).await.map_err(fail)?;
            if before > SCHEMA_VERSION {
                return Err(self.newer_error(before));
            }
            for (version, statements) in (1..).zip(migrations()).skip(before as usize) {
                for statement in statements {
                    if let Some(check) = statement.done_if {
                        let done: i64 = sqlx::query_scalar(check)
                            .fetch_one(&mut conn)
                            .await
                            .map_err(fail)?;
                        if done > 0 {
                            continue;
                        }
                    }
                    sqlx::query(&statement.sql)
                        .execute(&mut conn)
                        .await
                        .map_err(fail)?;
                }
                sqlx::query("REPLACE INTO protector_schema (id, version) VALUES (1, ?)")
                    .bind(version)
                    .execute(&mut conn)
                    .await
                    .map_err(fail)?;
            }
            if before < SCHEMA_VERSION {
                tracing::info!(
                    database = %self.target,
                    from = before,
                    to = SCHEMA_VERSION,
                    "migrated the store's schema"
                );
            }
            Ok((before, SCHEMA_VERSION))
        }
        .await;
        let _ = sqlx::query("DO RELEASE_LOCK('protector-schema')")
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        result
    }

    /// The stored schema version; 0 when there is none.
    pub async fn schema_version(&self) -> Result<u32> {
        let what = format!("reading the schema version of {}", self.target);
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|err| self.db_error(&what, err))?;
        read_version(&mut conn)
            .await
            .map_err(|err| self.db_error(&what, err))
    }

    fn schema_error(&self, message: String) -> Error {
        Error::new(ErrorKind::ConfigInvalid, message).with_context("database", self.target.clone())
    }

    fn newer_error(&self, newer: u32) -> Error {
        self.schema_error(format!(
            "the database {} has schema version {newer}, newer than this protector supports \
             ({SCHEMA_VERSION}): upgrade protector on this host",
            self.target
        ))
    }

    /// Maps a database error met while doing `what` (which names the table and record).
    fn db_error(&self, what: &str, err: sqlx::Error) -> Error {
        let error = match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => Error::unavailable(format!(
                "{what}: the database server {} does not answer ({err}): check that MariaDB \
                 runs there and is reachable from this host, then retry",
                self.host
            )),
            sqlx::Error::Database(db) => match error_number(&err) {
                Some(1213 | 1205) => Error::unavailable(format!(
                    "{what}: the database {} kept refusing the write for concurrent ones \
                     ({DEADLOCK_ATTEMPTS} attempts): retry",
                    self.target
                )),
                Some(1045 | 1044 | 1049 | 1698) => Error::new(
                    ErrorKind::ConfigInvalid,
                    format!(
                        "{what}: the database {} refused the connection ({}): check the user, \
                         password and database of the database connection",
                        self.target,
                        db.message()
                    ),
                ),
                Some(1146) => self.schema_error(format!(
                    "{what}: the database {} lacks a protector table ({}): run \
                     `{SYNC_COMMAND}`",
                    self.target,
                    db.message()
                )),
                _ => Error::unexpected(format!(
                    "{what}: database error in {}: {}",
                    self.target,
                    db.message()
                )),
            },
            _ => Error::unexpected(format!("{what}: database error in {}: {err}", self.target)),
        };
        error
            .with_context("database", self.target.clone())
            .with_source(err)
    }

    /// Tries the named lock of operation `id` on a connection of its own.
    async fn try_lock(&self, id: &Uuid) -> Result<LockAttempt> {
        let name = lock_name(id);
        let key = format!("{}/{name}", self.host);
        // A lock this process dropped a moment ago is released by a task: wait for it, so a
        // drop followed by a new attempt sees the lock free.
        let pending = releases()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(mut released) = pending {
            let _ = released.wait_for(|done| *done).await;
            let mut map = releases().lock().unwrap_or_else(PoisonError::into_inner);
            if map.get(&key).is_some_and(|rx| *rx.borrow()) {
                map.remove(&key);
            }
        }
        let what = format!("taking the lock of operation {id} ({name})");
        let fail = |err| self.db_error(&what, err);
        let mut conn = self.pool.acquire().await.map_err(fail)?.detach();
        // The server ends this connection (freeing the lock) once it is idle that long: the
        // held lock pings it meanwhile.
        let (wait_timeout, ping_interval) = self.lock_keepalive;
        sqlx::query(&format!(
            "SET SESSION wait_timeout = {}",
            wait_timeout.as_secs().max(1)
        ))
        .execute(&mut conn)
        .await
        .map_err(fail)?;
        let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(fail)?;
        match got {
            Some(1) => Ok(LockAttempt::Acquired(OperationLock::on_connection(
                *id,
                HeldLock::keep(conn, name, key, ping_interval),
            ))),
            Some(0) => {
                let _ = conn.close().await;
                Ok(LockAttempt::Held { pid: None })
            }
            other => Err(Error::unexpected(format!(
                "{what}: GET_LOCK answered {other:?} in {}",
                self.target
            ))),
        }
    }
}

#[cfg(any(test, feature = "conformance"))]
impl MySqlStore {
    /// The raw `json` column of the policy of `group_id`, as it is at rest.
    pub(crate) async fn raw_policy_json(&self, group_id: Uuid) -> String {
        sqlx::query_scalar("SELECT json FROM policies WHERE group_id = ?")
            .bind(group_id.to_string())
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Runs `sql` (test set-up), panicking on an error.
    pub(crate) async fn execute_raw(&self, sql: &str) {
        sqlx::query(sql).execute(&self.pool).await.unwrap();
    }

    /// The same store with operation locks whose connections the server ends after
    /// `wait_timeout` idle, pinged every `ping_interval`.
    #[cfg(test)]
    pub(crate) fn with_lock_keepalive(
        mut self,
        wait_timeout: Duration,
        ping_interval: Duration,
    ) -> Self {
        self.lock_keepalive = (wait_timeout, ping_interval);
        self
    }

    /// The pool, for tests that look behind the store.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

async fn read_version(conn: &mut MySqlConnection) -> std::result::Result<u32, sqlx::Error> {
    let row = sqlx::query("SELECT version FROM protector_schema WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await;
    match row {
        Ok(Some(row)) => row.try_get::<u32, _>(0),
        Ok(None) => Ok(0),
        Err(err) if error_number(&err) == Some(1146) => Ok(0),
        Err(err) => Err(err),
    }
}

/// Whether `err` is a lost deadlock (or a Galera certification failure), worth running the
/// transaction again.
fn is_deadlock(err: &sqlx::Error) -> bool {
    error_number(err) == Some(1213)
}

/// MariaDB's error number (`ER_LOCK_DEADLOCK` is 1213), for a database error.
fn error_number(err: &sqlx::Error) -> Option<u16> {
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number),
        _ => None,
    }
}

/// A short random pause before running a transaction that lost a deadlock again, so the
/// writers that collided do not collide again in step.
async fn deadlock_backoff(attempt: u32) {
    use rand::Rng;
    let millis = rand::thread_rng().gen_range(1..=5 * u64::from(attempt));
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// The server-wide name of the lock of operation `id` (at most 64 characters).
pub(crate) fn lock_name(id: &Uuid) -> String {
    format!("protector-op-{id}")
}

/// Releases of dropped locks still under way, by `host/lock name`.
fn releases() -> &'static Mutex<HashMap<String, watch::Receiver<bool>>> {
    static RELEASES: OnceLock<Mutex<HashMap<String, watch::Receiver<bool>>>> = OnceLock::new();
    RELEASES.get_or_init(Default::default)
}

/// A named lock and the connection that holds it, kept by a task of its own that pings the
/// connection every [`LOCK_PING_INTERVAL`] (so that the server, which ends it after
/// [`LOCK_WAIT_TIMEOUT`] idle, keeps it while its holder lives). Dropping it tells the task to
/// release the lock (`RELEASE_LOCK`, best effort) and close the connection; when its process
/// dies, or its runtime ends, the connection closes and the server releases the lock itself.
pub(crate) struct HeldLock {
    /// Given the sender of "released" when the lock is dropped.
    release: Option<oneshot::Sender<watch::Sender<bool>>>,
    name: String,
    key: String,
}

impl HeldLock {
    /// Holds the lock `name` taken on `conn`, pinging it every `ping_interval` from a task of
    /// the current runtime.
    fn keep(conn: MySqlConnection, name: String, key: String, ping_interval: Duration) -> Self {
        let (release, released) = oneshot::channel();
        tokio::spawn(hold(conn, name.clone(), ping_interval, released));
        HeldLock {
            release: Some(release),
            name,
            key,
        }
    }
}

/// Keeps `conn` (holding lock `name`) alive until `release` answers, then releases the lock.
async fn hold(
    mut conn: MySqlConnection,
    name: String,
    ping_interval: Duration,
    mut release: oneshot::Receiver<watch::Sender<bool>>,
) {
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut alive = true;
    let done = loop {
        tokio::select! {
            done = &mut release => break done.ok(),
            _ = ping.tick(), if alive => {
                if let Err(err) = conn.ping().await {
                    // The server ended the session (it was idle past its timeout, or killed):
                    // the lock is free, and the operation no longer protected from a second
                    // runner. Nothing to do but say so.
                    tracing::warn!(
                        lock = %name,
                        error = %err,
                        "lost the database connection holding an operation lock: the lock \
                         is free"
                    );
                    alive = false;
                }
            }
        }
    };
    if alive {
        let _ = sqlx::query("DO RELEASE_LOCK(?)")
            .bind(&name)
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
    if let Some(done) = done {
        let _ = done.send(true);
    }
}

impl fmt::Debug for HeldLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldLock")
            .field("name", &self.name)
            .finish()
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let Some(release) = self.release.take() else {
            return;
        };
        let (done, released) = watch::channel(false);
        // When the task is gone (its runtime ended) `done` is dropped with the message, which
        // also ends a wait on `released`.
        if release.send(done).is_ok() {
            releases()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(self.key.clone(), released);
        }
    }
}

impl fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlStore")
            .field("database", &format!("mysql://{}", self.target))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
