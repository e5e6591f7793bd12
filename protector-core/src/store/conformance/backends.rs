//! The backends the conformance suite runs on.

use std::sync::Arc;

use super::Fixture;
use crate::store::fixtures::key;
use crate::store::SqliteStore;

/// SQLite in memory: one handle (a store in memory is not shared between processes).
mod sqlite_memory {
    use super::*;

    async fn open() -> Option<Fixture> {
        let store = Arc::new(SqliteStore::in_memory(key(1)).unwrap());
        Some(Fixture {
            store: store.clone(),
            other: store.clone(),
            raw: Box::new(store),
        })
    }

    crate::store::conformance::suite!(open);
}

/// SQLite in a file, opened twice as two processes would.
mod sqlite_file {
    use super::*;

    async fn open() -> Option<Fixture> {
        // Kept for the test's duration: the directory goes when the process ends.
        let dir = tempfile::tempdir().unwrap().keep();
        let path = dir.join("protector.db");
        let store = Arc::new(SqliteStore::open(&path, key(1)).unwrap());
        let other = Arc::new(SqliteStore::open(&path, key(1)).unwrap());
        Some(Fixture {
            store: store.clone(),
            other,
            raw: Box::new(store),
        })
    }

    crate::store::conformance::suite!(open);
}

/// MariaDB/MySQL at `PROTECTOR_TEST_MYSQL_URL`, each test in a new database of its own.
#[cfg(feature = "mariadb")]
pub(crate) mod mysql {
    use super::*;

    pub(crate) use crate::store::conformance::mariadb::{fresh_database, server_url};

    async fn open() -> Option<Fixture> {
        let (_, store, other) = fresh_database().await?;
        let store = Arc::new(store);
        Some(Fixture {
            store: store.clone(),
            other: Arc::new(other),
            raw: Box::new(store),
        })
    }

    crate::store::conformance::suite!(open);
}
