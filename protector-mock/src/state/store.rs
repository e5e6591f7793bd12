//! SQLite persistence of the world: one row per record (`sim_objects`), plus the clock/counters
//! and the faults (`sim_meta`). Each call saves exactly the rows it changed, in one transaction,
//! before it returns, so a reopened simulator resumes where the last call left it.
//!
//! Several processes may open the same file (CLI invocations next to a long-lived simulator):
//! every change runs in a `BEGIN IMMEDIATE` transaction and first reloads the world when
//! `PRAGMA data_version` says another connection committed, so their calls serialize.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use protector_core::{Error, ErrorKind, Result};

use super::{Meta, World, SCHEMA_VERSION};
use crate::faults::Faults;

/// The SQLite side of the simulator.
pub(crate) struct Store {
    conn: Connection,
    /// Whether the world is saved at all: a simulator in memory only
    /// ([`Store::in_memory`]) has no other process to share its state with and no file to
    /// resume from, so its calls skip serialising the rows they change.
    persist: bool,
    saved_meta: String,
    saved_faults: String,
    /// `PRAGMA data_version` when we last looked: it changes when another connection commits.
    data_version: Option<i64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish()
    }
}

/// Clears every table's record of changed rows (a save that writes nothing).
fn forget_changes(world: &mut World) {
    for (_, table) in world.tables_mut() {
        table.forget_dirty();
    }
}

fn db_error(what: &str, e: rusqlite::Error) -> Error {
    Error::unexpected(format!("simulator state: {what} failed: {e}"))
}

fn json_error(what: &str, e: serde_json::Error) -> Error {
    Error::new(
        ErrorKind::ConfigInvalid,
        format!(
            "simulator state: {what} cannot be read ({e}); delete the state file to start over"
        ),
    )
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub(crate) fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).map_err(|e| {
            Error::new(
                ErrorKind::ConfigInvalid,
                format!("cannot open simulator state {}: {e}", path.display()),
            )
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db_error("setting WAL mode", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| db_error("setting synchronous mode", e))?;
        Store::init(conn)
    }

    /// A store for a world that lives in memory only: nothing is saved (no other connection
    /// could read it), the calls only forget which rows they changed.
    pub(crate) fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory().map_err(|e| db_error("opening memory", e))?;
        Ok(Store {
            persist: false,
            ..Store::init(conn)?
        })
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sim_meta (
                 key  TEXT PRIMARY KEY,
                 body TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS sim_objects (
                 kind TEXT NOT NULL,
                 key  TEXT NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (kind, key)
             );",
        )
        .map_err(|e| db_error("creating tables", e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| db_error("setting the busy timeout", e))?;
        Ok(Store {
            conn,
            persist: true,
            saved_meta: String::new(),
            saved_faults: String::new(),
            data_version: None,
        })
    }

    /// The saved world, or `None` for a fresh database.
    fn load(&mut self) -> Result<Option<World>> {
        let meta_body: Option<String> = self
            .conn
            .query_row("SELECT body FROM sim_meta WHERE key = 'meta'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|e| db_error("reading meta", e))?;
        let Some(meta_body) = meta_body else {
            return Ok(None);
        };
        let meta: Meta = serde_json::from_str(&meta_body).map_err(|e| json_error("meta", e))?;
        if meta.schema_version != SCHEMA_VERSION {
            return Err(Error::new(
                ErrorKind::ConfigInvalid,
                format!(
                    "simulator state has schema version {}, this build reads {SCHEMA_VERSION}; delete the state file to start over",
                    meta.schema_version
                ),
            ));
        }
        let faults_body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM sim_meta WHERE key = 'faults'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| db_error("reading faults", e))?;
        let faults: Faults = match &faults_body {
            Some(body) => serde_json::from_str(body).map_err(|e| json_error("faults", e))?,
            None => Faults::default(),
        };

        let mut world = World::empty(meta.seed);
        world.meta = meta;
        world.faults = faults;
        let mut stmt = self
            .conn
            .prepare("SELECT kind, key, body FROM sim_objects ORDER BY kind, key")
            .map_err(|e| db_error("reading records", e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| db_error("reading records", e))?;
        {
            let mut tables = world.tables_mut();
            for row in rows {
                let (kind, key, body) = row.map_err(|e| db_error("reading a record", e))?;
                let table = tables
                    .iter_mut()
                    .find(|(name, _)| *name == kind)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::ConfigInvalid,
                            format!("simulator state has unknown record kind '{kind}'; delete the state file to start over"),
                        )
                    })?;
                table.1.load_row(key, &body)?;
            }
        }
        // Before rounds were counted apart, every tick was one.
        world.meta.write_round = Some(world.meta.write_round());
        crate::writes::replay(&mut world);
        self.saved_meta = meta_body;
        self.saved_faults = faults_body.unwrap_or_default();
        Ok(Some(world))
    }

    /// Loads the saved world, or seeds and saves a new one when the database is fresh, in one
    /// transaction so two processes opening a new file do not both seed it.
    pub(crate) fn load_or_seed(&mut self, seed: impl FnOnce() -> World) -> Result<World> {
        if !self.persist {
            let mut world = seed();
            crate::writes::settle(&mut world);
            forget_changes(&mut world);
            return Ok(world);
        }
        self.begin()?;
        // Record where the file stands now, so that the first transaction reloads only when
        // another process commits after this load, and never writes over such a commit.
        let result = (|| {
            self.stale()?;
            match self.load()? {
                Some(world) => Ok(world),
                None => {
                    let mut world = seed();
                    crate::writes::settle(&mut world);
                    for (_, table) in world.tables_mut() {
                        table.mark_all_dirty();
                    }
                    self.write_changes(&mut world)?;
                    Ok(world)
                }
            }
        })();
        self.finish(result)
    }

    /// Runs `f` on `world` in one `BEGIN IMMEDIATE` transaction: first reloads the world if
    /// another connection (another process on the same file) committed since we last looked,
    /// then saves exactly the rows `f` changed and commits before returning.
    pub(crate) fn transact<T>(
        &mut self,
        world: &mut World,
        f: impl FnOnce(&mut World) -> T,
    ) -> Result<T> {
        if !self.persist {
            let out = f(world);
            crate::writes::settle(world);
            forget_changes(world);
            return Ok(out);
        }
        self.begin()?;
        let result = (|| {
            self.reload_if_stale(world)?;
            let out = f(world);
            // The writers may have changed: close the epoch before saving (`crate::writes`).
            crate::writes::settle(world);
            self.write_changes(world)?;
            Ok(out)
        })();
        let result = self.finish(result);
        if result.is_err() {
            // Nothing was committed: the next save writes every row again.
            for (_, table) in world.tables_mut() {
                table.mark_all_dirty();
            }
            self.saved_meta.clear();
            self.saved_faults.clear();
        }
        result
    }

    /// Reloads `world` if another connection committed since we last looked (inside a
    /// transaction). A function of its own so that the loaded world's temporaries are not part
    /// of [`Store::transact`]'s frame, which stays on the stack while the call runs (a debug
    /// build keeps a slot for every temporary, and callers' futures are deep already).
    #[inline(never)]
    fn reload_if_stale(&mut self, world: &mut World) -> Result<()> {
        if self.stale()? {
            *world = self.load()?.ok_or_else(|| {
                Error::new(
                    ErrorKind::ConfigInvalid,
                    "simulator state was emptied by another process; delete the state file to start over",
                )
            })?;
        }
        Ok(())
    }

    /// Reloads `world` if another connection committed since we last looked (for reads).
    pub(crate) fn refresh(&mut self, world: &mut World) -> Result<()> {
        if !self.persist || !self.stale()? {
            return Ok(());
        }
        self.conn
            .execute_batch("BEGIN")
            .map_err(|e| db_error("starting a read", e))?;
        let loaded = self.load();
        let _ = self.conn.execute_batch("COMMIT");
        if let Some(loaded) = loaded? {
            *world = loaded;
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| db_error("starting a transaction", e))
    }

    fn finish<T>(&mut self, result: Result<T>) -> Result<T> {
        match result {
            Ok(value) => match self.conn.execute_batch("COMMIT") {
                Ok(()) => Ok(value),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    Err(db_error("committing", e))
                }
            },
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Whether another connection committed since the last check.
    fn stale(&mut self) -> Result<bool> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|e| db_error("reading data_version", e))?;
        let stale = self.data_version.is_some_and(|seen| seen != version);
        self.data_version = Some(version);
        Ok(stale)
    }

    /// Writes what changed since the last save (inside the caller's transaction).
    fn write_changes(&mut self, world: &mut World) -> Result<()> {
        let meta = serde_json::to_string(&world.meta)
            .map_err(|e| Error::unexpected(format!("simulator meta cannot be saved: {e}")))?;
        let faults = serde_json::to_string(&world.faults)
            .map_err(|e| Error::unexpected(format!("simulator faults cannot be saved: {e}")))?;
        let mut changes = Vec::new();
        for (kind, table) in world.tables_mut() {
            for (key, body) in table.drain_dirty()? {
                changes.push((kind, key, body));
            }
        }
        if changes.is_empty() && meta == self.saved_meta && faults == self.saved_faults {
            return Ok(());
        }
        self.write(&changes, &meta, &faults)?;
        self.saved_meta = meta;
        self.saved_faults = faults;
        Ok(())
    }

    fn write(
        &mut self,
        changes: &[(&'static str, String, Option<String>)],
        meta: &str,
        faults: &str,
    ) -> Result<()> {
        let tx = &self.conn;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO sim_objects (kind, key, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                )
                .map_err(|e| db_error("preparing an upsert", e))?;
            let mut delete = tx
                .prepare_cached("DELETE FROM sim_objects WHERE kind = ?1 AND key = ?2")
                .map_err(|e| db_error("preparing a delete", e))?;
            for (kind, key, body) in changes {
                match body {
                    Some(body) => upsert
                        .execute(params![kind, key, body])
                        .map_err(|e| db_error("saving a record", e))?,
                    None => delete
                        .execute(params![kind, key])
                        .map_err(|e| db_error("deleting a record", e))?,
                };
            }
            let mut put_meta = tx
                .prepare_cached(
                    "INSERT INTO sim_meta (key, body) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET body = excluded.body",
                )
                .map_err(|e| db_error("preparing meta", e))?;
            if meta != self.saved_meta {
                put_meta
                    .execute(params!["meta", meta])
                    .map_err(|e| db_error("saving meta", e))?;
            }
            if faults != self.saved_faults {
                put_meta
                    .execute(params!["faults", faults])
                    .map_err(|e| db_error("saving faults", e))?;
            }
        }
        Ok(())
    }
}
