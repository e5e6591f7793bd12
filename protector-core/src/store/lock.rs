//! Operation locks: who runs an operation right now.
//!
//! The process running an operation holds its lock from before its first side effect to its
//! end; recovery takes the same lock first, so it never acts while the owner lives. A store in
//! a file keeps one lock file per running operation next to its database and holds an
//! exclusive advisory lock on it, which the kernel releases when the process ends, however it
//! ends: a killed owner is seen at once, without timeouts. A store in memory keeps the held ids
//! in the process.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use uuid::Uuid;

use crate::error::{Error, ErrorKind, Result};

/// The lock of one operation, released when dropped.
#[must_use = "the lock is released when dropped"]
pub struct OperationLock {
    id: Uuid,
    held: Held,
}

enum Held {
    /// The open file carries the kernel's lock; closing it releases the lock.
    File {
        _file: File,
        path: PathBuf,
    },
    Memory(Arc<Mutex<BTreeSet<Uuid>>>),
    /// A database connection holds a named lock; dropping it releases the lock and closes the
    /// connection, and the server releases it when the connection ends in any other way.
    #[cfg(feature = "mariadb")]
    Connection(super::mysql::HeldLock),
    /// A store outside this crate (a remote store's lease): dropping the guard releases it.
    Guard(#[allow(dead_code)] Box<dyn Send + Sync>),
}

impl OperationLock {
    /// The operation it locks.
    pub fn operation_id(&self) -> Uuid {
        self.id
    }

    /// The lock of operation `id` held by `guard`, for a [`Store`](super::Store) implemented
    /// outside this crate: the lock is released when `guard` is dropped (its `Drop` releases
    /// it), and it must also end when its process ends (a lease that expires, a connection
    /// that closes).
    pub fn with_guard(id: Uuid, guard: impl Send + Sync + 'static) -> Self {
        OperationLock {
            id,
            held: Held::Guard(Box::new(guard)),
        }
    }

    /// The lock of operation `id`, held by a database connection.
    #[cfg(feature = "mariadb")]
    pub(crate) fn on_connection(id: Uuid, held: super::mysql::HeldLock) -> Self {
        OperationLock {
            id,
            held: Held::Connection(held),
        }
    }
}

impl std::fmt::Debug for OperationLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("OperationLock");
        s.field("id", &self.id);
        match &self.held {
            Held::File { path, .. } => {
                s.field("path", path);
            }
            #[cfg(feature = "mariadb")]
            Held::Connection(held) => {
                s.field("held", held);
            }
            Held::Memory(_) | Held::Guard(_) => {}
        }
        s.finish()
    }
}

impl Drop for OperationLock {
    fn drop(&mut self) {
        match &self.held {
            // Removed while still locked: a process that opened the file before it went
            // checks, once it has the lock, that the path still names the file it locked.
            Held::File { path, .. } => {
                if cfg!(unix) {
                    let _ = std::fs::remove_file(path);
                }
            }
            Held::Memory(held) => {
                held.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&self.id);
            }
            // Released by its own drop.
            #[cfg(feature = "mariadb")]
            Held::Connection(_) => {}
            Held::Guard(_) => {}
        }
    }
}

/// The outcome of trying to take an operation's lock.
#[derive(Debug)]
pub enum LockAttempt {
    /// Taken: this caller owns the operation until it drops the lock.
    Acquired(OperationLock),
    /// Another holder has it; `pid` is its process when known.
    Held {
        /// The holding process, when it could be read.
        pid: Option<u32>,
    },
}

/// The operation locks of a store kept in memory: held ids, shared by the store's clones.
#[derive(Debug, Default, Clone)]
pub(crate) struct MemoryLocks(Arc<Mutex<BTreeSet<Uuid>>>);

impl MemoryLocks {
    pub(crate) fn try_lock(&self, id: &Uuid) -> LockAttempt {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.insert(*id) {
            return LockAttempt::Held {
                pid: Some(std::process::id()),
            };
        }
        LockAttempt::Acquired(OperationLock {
            id: *id,
            held: Held::Memory(self.0.clone()),
        })
    }
}

/// Takes the lock of operation `id` in `dir` (`<dir>/op-<id>.lock`), creating the directory.
pub(crate) fn try_lock_file(dir: &Path, id: &Uuid) -> Result<LockAttempt> {
    let path = dir.join(format!("op-{id}.lock"));
    let failed = |what: &str, err: std::io::Error| {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "cannot {what} the lock of operation op-{id} ({}): {err}: check the state directory and its permissions",
                path.display()
            ),
        )
        .with_context("path", path.display().to_string())
        .with_source(err)
    };
    std::fs::create_dir_all(dir).map_err(|err| failed("create the directory of", err))?;
    loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|err| failed("open", err))?;
        match try_lock(&file) {
            Ok(true) => {}
            Ok(false) => {
                return Ok(LockAttempt::Held {
                    pid: read_pid(&mut file),
                })
            }
            Err(err) => return Err(failed("take", err)),
        }
        // The previous holder may have removed the file between our open and our lock: the
        // lock is then on a file nobody else will find. Take the one at the path instead.
        if !same_file(&file, &path) {
            continue;
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.write_all(pid.as_bytes()))
            .map_err(|err| failed("write", err))?;
        return Ok(LockAttempt::Acquired(OperationLock {
            id: *id,
            held: Held::File { _file: file, path },
        }));
    }
}

/// An exclusive `flock(2)` without waiting: `false` when another open file holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(errno) => Err(errno.into()),
    }
}

/// Elsewhere std's own lock (Rust 1.89 or newer there).
#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(err)) => Err(err),
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    // Lock files are never removed there.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acquired(attempt: LockAttempt) -> OperationLock {
        match attempt {
            LockAttempt::Acquired(lock) => lock,
            LockAttempt::Held { pid } => panic!("held by {pid:?}"),
        }
    }

    #[test]
    fn a_file_lock_is_exclusive_names_its_holder_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4();
        let lock = acquired(try_lock_file(dir.path(), &id).unwrap());
        match try_lock_file(dir.path(), &id).unwrap() {
            LockAttempt::Held { pid } => assert_eq!(pid, Some(std::process::id())),
            LockAttempt::Acquired(_) => panic!("taken twice"),
        }
        // Another operation is not affected.
        drop(acquired(
            try_lock_file(dir.path(), &Uuid::new_v4()).unwrap(),
        ));
        drop(lock);
        let again = acquired(try_lock_file(dir.path(), &id).unwrap());
        assert_eq!(again.operation_id(), id);
        drop(again);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "released locks leave no files"
        );
    }

    #[test]
    fn a_memory_lock_is_exclusive_and_released_on_drop() {
        let locks = MemoryLocks::default();
        let id = Uuid::new_v4();
        let lock = acquired(locks.try_lock(&id));
        assert!(matches!(
            locks.clone().try_lock(&id),
            LockAttempt::Held { .. }
        ));
        drop(lock);
        drop(acquired(locks.try_lock(&id)));
    }
}
