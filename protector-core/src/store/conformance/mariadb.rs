//! The suite's MariaDB/MySQL server (`PROTECTOR_TEST_MYSQL_URL`): a database of its own per
//! test, for the MySQL store here and for stores over it elsewhere (protector-api's tests).

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use super::Raw;
use crate::store::fixtures::key;
use crate::store::MySqlStore;

#[async_trait]
impl Raw for Arc<MySqlStore> {
    async fn raw_policy(&self, group_id: Uuid) -> String {
        self.raw_policy_json(group_id).await
    }
}

/// The server's URL, or `None` having said that the tests are skipped.
pub fn server_url() -> Option<String> {
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

/// A new, migrated database on the test server (its stores' key is the fixtures' `key(1)`):
/// the URL and two handles on it.
pub async fn fresh_database() -> Option<(String, MySqlStore, MySqlStore)> {
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
