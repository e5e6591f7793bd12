//! The backends the conformance suite runs on.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::{Fixture, Raw};
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
    use crate::store::MySqlStore;

    #[async_trait]
    impl Raw for Arc<MySqlStore> {
        async fn raw_policy(&self, group_id: Uuid) -> String {
            self.raw_policy_json(group_id).await
        }
    }

    /// The server's URL, or `None` having said that the tests are skipped.
    pub(crate) fn server_url() -> Option<String> {
        match std::env::var("PROTECTOR_TEST_MYSQL_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ => {
                eprintln!(
                    "real MariaDB test skipped: set PROTECTOR_TEST_MYSQL_URL to \
                     mysql://user:password@host:port/database (scripts/mariadb.sh start DIR PORT \
                     prints one)"
                );
                None
            }
        }
    }

    /// A new, migrated database on the test server: the URL and two handles on it.
    pub(crate) async fn fresh_database() -> Option<(String, MySqlStore, MySqlStore)> {
        let url = server_url()?;
        let admin = MySqlStore::connect_unchecked(&url, key(1)).await.unwrap();
        let name = format!("protector_test_{}", Uuid::new_v4().simple());
        admin.execute_raw(&format!("CREATE DATABASE {name}")).await;
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (url.as_str(), String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let url = format!("{server}/{name}{query}");
        let store = MySqlStore::connect_unchecked(&url, key(1)).await.unwrap();
        store.migrate().await.unwrap();
        let other = MySqlStore::connect(&url, key(1)).await.unwrap();
        Some((url, store, other))
    }

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
