//! SQLite persistence of the world: one row per record (`sim_objects`), plus the clock/counters
//! and the faults (`sim_meta`). Each call saves exactly the rows it changed, in one transaction,
//! before it returns, so a reopened simulator resumes where the last call left it.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use protector_core::{Error, ErrorKind, Result};

use super::{Meta, World, SCHEMA_VERSION};
use crate::faults::Faults;

/// The SQLite side of the simulator.
pub(crate) struct Store {
    conn: Connection,
    saved_meta: String,
    saved_faults: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.conn.path())
            .finish()
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

    /// A database that lives in memory only.
    pub(crate) fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory().map_err(|e| db_error("opening memory", e))?;
        Store::init(conn)
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
        Ok(Store {
            conn,
            saved_meta: String::new(),
            saved_faults: String::new(),
        })
    }

    /// The saved world, or `None` for a fresh database.
    pub(crate) fn load(&mut self) -> Result<Option<World>> {
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
        self.saved_meta = meta_body;
        self.saved_faults = faults_body.unwrap_or_default();
        Ok(Some(world))
    }

    /// Saves every row of `world` (first save of a seeded world).
    pub(crate) fn save_all(&mut self, world: &mut World) -> Result<()> {
        for (_, table) in world.tables_mut() {
            table.mark_all_dirty();
        }
        self.save(world)
    }

    /// Saves what changed since the last save, in one transaction.
    pub(crate) fn save(&mut self, world: &mut World) -> Result<()> {
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
        match self.write(&changes, &meta, &faults) {
            Ok(()) => {
                self.saved_meta = meta;
                self.saved_faults = faults;
                Ok(())
            }
            Err(e) => {
                // Nothing was committed: the next save writes every row again.
                for (_, table) in world.tables_mut() {
                    table.mark_all_dirty();
                }
                self.saved_meta.clear();
                self.saved_faults.clear();
                Err(e)
            }
        }
    }

    fn write(
        &mut self,
        changes: &[(&'static str, String, Option<String>)],
        meta: &str,
        faults: &str,
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| db_error("starting a transaction", e))?;
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
        tx.commit().map_err(|e| db_error("committing", e))
    }
}
