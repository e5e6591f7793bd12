//! What only the MariaDB store does: its URL, schema versions, tables and named locks. What
//! every store does is in `store::conformance`. Tests that need a server skip without
//! `PROTECTOR_TEST_MYSQL_URL`.

use super::*;
use crate::model::{OperationStatus, OperationType};
use crate::store::conformance::backends::mysql::{fresh_database, server_url};
use crate::store::fixtures::{at, id, key, operation};
use crate::store::shared::operation_query;
use crate::store::{OperationLock, OperationQuery, Store};

const PASSWORD: &str = "pw-4e1f9a7c-never-shown";

#[tokio::test]
async fn an_unreachable_server_is_unavailable_naming_the_host_not_the_password() {
    // Port 1 on loopback: nothing listens there.
    let url = format!("mysql://protector:{PASSWORD}@127.0.0.1:1/protector");
    let err = MySqlStore::connect(&url, key(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.message().contains("127.0.0.1:1"), "{err}");
    assert!(err.message().contains("check that MariaDB runs"), "{err}");
    assert!(!format!("{err:?}").contains(PASSWORD), "{err:?}");
}

#[tokio::test]
async fn a_malformed_url_is_config_invalid_without_echoing_it() {
    for url in [
        format!("mysql://protector:{PASSWORD}@127.0.0.1:notaport/protector"),
        format!("mysql://protector:{PASSWORD}@127.0.0.1:3306"),
    ] {
        let err = MySqlStore::connect(&url, key(1)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
        assert!(
            err.message().contains("mysql://user:password@host"),
            "{err}"
        );
        assert!(!format!("{err:?}").contains(PASSWORD), "{err:?}");
    }
}

#[tokio::test]
async fn wrong_credentials_are_config_invalid_and_debug_hides_the_password() {
    let Some(url) = server_url() else { return };
    let store = MySqlStore::connect_unchecked(&url, key(1)).await.unwrap();
    let shown = format!("{store:?}");
    assert!(
        shown.starts_with("MySqlStore { database: \"mysql://"),
        "{shown}"
    );
    assert!(shown.contains("@127.0.0.1:"), "{shown}");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, password)| password.to_string())
        .unwrap();
    assert!(!shown.contains(&password), "{shown}");

    let wrong = url.replacen(&format!(":{password}@"), &format!(":{PASSWORD}@"), 1);
    let err = MySqlStore::connect(&wrong, key(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.message().contains("check the user, password"), "{err}");
    assert!(!format!("{err:?}").contains(PASSWORD), "{err:?}");
}

#[tokio::test]
async fn the_schema_is_made_by_migrate_only_and_a_mismatch_names_the_command() {
    let Some((url, store, _)) = fresh_database().await else {
        return;
    };
    // `fresh_database` migrated it; again is a no-op.
    assert_eq!(store.migrate().await.unwrap(), (3, 3));
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);

    // An empty database: refused until `db sync`.
    store.execute_raw("DROP TABLE protector_schema").await;
    let err = MySqlStore::connect(&url, key(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.message().contains("protector-manage db sync"), "{err}");
    assert_eq!(store.migrate().await.unwrap(), (0, 3));
    MySqlStore::connect(&url, key(1)).await.unwrap();

    // A version 1 database (before operation leases and the operations' query columns):
    // refused until `db sync`, which adds them and keeps the records.
    store
        .put_site(&crate::store::fixtures::site("site-a"))
        .await
        .unwrap();
    let (mut older, mut newer) = (operation(3, at(10)), operation(4, at(20)));
    older.status = OperationStatus::Failed;
    newer.group_id = None;
    newer.operation_type = OperationType::SiteFailover;
    for op in [&older, &newer] {
        store.put_operation(op).await.unwrap();
    }
    store.execute_raw("DROP TABLE operation_leases").await;
    store
        .execute_raw(
            "ALTER TABLE operations DROP KEY operations_by_group, DROP KEY operations_by_kind, \
             DROP COLUMN group_id, DROP COLUMN operation_type, DROP COLUMN status, \
             DROP COLUMN target_site",
        )
        .await;
    store
        .execute_raw("UPDATE protector_schema SET version = 1")
        .await;
    let err = MySqlStore::connect(&url, key(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.message().contains("version 1, older"), "{err}");
    assert!(err.message().contains("protector-manage db sync"), "{err}");
    assert_eq!(store.migrate().await.unwrap(), (1, SCHEMA_VERSION));
    let upgraded = MySqlStore::connect(&url, key(1)).await.unwrap();
    assert!(upgraded.get_site("site-a").await.unwrap().is_some());
    // The columns are filled from each operation's JSON (a site failover has no group).
    let failed_of_one = OperationQuery::of_group(id(1))
        .of_types(&[OperationType::Failover])
        .in_statuses(&[OperationStatus::Failed])
        .into_site("site-b");
    assert_eq!(
        upgraded.query_operations(&failed_of_one).await.unwrap(),
        vec![older.clone()]
    );
    let site_failovers = OperationQuery::default().of_types(&[OperationType::SiteFailover]);
    assert_eq!(
        upgraded.query_operations(&site_failovers).await.unwrap(),
        vec![newer.clone()]
    );
    assert_eq!(
        upgraded
            .query_operations(&OperationQuery::of_group(id(1)))
            .await
            .unwrap(),
        vec![older.clone()]
    );
    // A migration stopped after its columns were added (before the version was written) is
    // run again: the columns are kept, the values filled again.
    store
        .execute_raw("UPDATE protector_schema SET version = 2")
        .await;
    store
        .execute_raw("UPDATE operations SET status = NULL")
        .await;
    assert_eq!(store.migrate().await.unwrap(), (2, SCHEMA_VERSION));
    assert_eq!(
        upgraded.query_operations(&failed_of_one).await.unwrap(),
        vec![older]
    );
    let op = Uuid::new_v4();
    assert!(matches!(
        upgraded
            .acquire_lease(&op, "host:1:w", Duration::from_secs(30))
            .await
            .unwrap(),
        crate::store::LeaseAttempt::Acquired(_)
    ));

    // Written by a newer protector: refused, and not downgraded.
    store
        .execute_raw("UPDATE protector_schema SET version = 99")
        .await;
    let err = MySqlStore::connect(&url, key(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.message().contains("upgrade protector"), "{err}");
    let err = store.migrate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert_eq!(store.schema_version().await.unwrap(), 99);
}

/// The index MariaDB's plan for `sql` (with `values` inlined as text) reads, if any.
async fn index_of(store: &MySqlStore, sql: &str, values: &[String]) -> Option<String> {
    let mut explained = format!("EXPLAIN {sql}");
    for value in values {
        explained = explained.replacen('?', &format!("'{value}'"), 1);
    }
    let row = sqlx::query(&explained)
        .fetch_one(store.pool())
        .await
        .unwrap();
    row.try_get::<Option<String>, _>("key").unwrap()
}

#[tokio::test]
async fn operation_queries_use_the_operation_indexes() {
    let Some((_, store, _)) = fresh_database().await else {
        return;
    };
    for n in 0..96u128 {
        let mut op = operation(100 + n, at(n as i64));
        op.group_id = Some(id(n % 12));
        op.status = if n % 3 == 0 {
            OperationStatus::Completed
        } else {
            OperationStatus::Failed
        };
        store.put_operation(&op).await.unwrap();
    }
    store.execute_raw("ANALYZE TABLE operations").await;
    let (sql, values) = operation_query(&OperationQuery::of_group(id(5)), |_| "?".to_string());
    assert_eq!(
        index_of(&store, &sql, &values).await.as_deref(),
        Some("operations_by_group")
    );
    let history = OperationQuery::default()
        .of_types(&[OperationType::TestFailover])
        .in_statuses(&[OperationStatus::Completed])
        .into_site("site-b")
        .newest(6);
    let (sql, values) = operation_query(&history, |_| "?".to_string());
    assert_eq!(
        index_of(&store, &sql, &values).await.as_deref(),
        Some("operations_by_kind")
    );
}

#[tokio::test]
async fn tables_are_innodb_utf8mb4() {
    let Some((_, store, _)) = fresh_database().await else {
        return;
    };
    let tables: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "groups",
            "journal",
            "journal_seq",
            "mappings",
            "members",
            "operations",
            "operation_leases",
            "policies",
            "protector_schema",
            "sites",
            "sync_log",
            "sync_state",
            "tenant_mappings"
        ]
    );
    for (name, engine, collation) in &tables {
        assert_eq!(engine, "InnoDB", "{name}");
        assert_eq!(collation, "utf8mb4_bin", "{name}");
    }
    // Names are compared byte-wise, as in SQLite: "Web" and "web" are two sites.
    let mut site = crate::store::fixtures::site("web");
    store.put_site(&site).await.unwrap();
    site.name = "Web".to_string();
    store.put_site(&site).await.unwrap();
    let names: Vec<String> = store
        .list_sites()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["Web", "web"]);
}

#[tokio::test]
async fn a_lock_is_released_when_its_connection_dies() {
    let Some((_, store, other)) = fresh_database().await else {
        return;
    };
    let id = Uuid::new_v4();
    let lock = match store.lock_operation(&id).await.unwrap() {
        LockAttempt::Acquired(lock) => lock,
        LockAttempt::Held { .. } => panic!("a free lock is held"),
    };
    assert!(format!("{lock:?}").contains(&lock_name(&id)), "{lock:?}");
    let holder: i64 = sqlx::query_scalar("SELECT IS_USED_LOCK(?)")
        .bind(lock_name(&id))
        .fetch_one(other.pool())
        .await
        .unwrap();
    // The holder's session ends as it would when its process is killed.
    other
        .execute_raw(&format!("KILL CONNECTION {holder}"))
        .await;
    // The server frees the lock once it has ended the session: wait for that on its side.
    let mut probe = other.pool().acquire().await.unwrap();
    let got: i64 = sqlx::query_scalar("SELECT GET_LOCK(?, 10)")
        .bind(lock_name(&id))
        .fetch_one(&mut *probe)
        .await
        .unwrap();
    assert_eq!(got, 1, "the dead holder's lock was not released");
    sqlx::query("DO RELEASE_LOCK(?)")
        .bind(lock_name(&id))
        .execute(&mut *probe)
        .await
        .unwrap();
    assert!(matches!(
        other.lock_operation(&id).await.unwrap(),
        LockAttempt::Acquired(_)
    ));
    // Dropping the lock whose connection is gone is harmless.
    drop(lock);
}

/// Takes the lock of `id` on `store`, which must be free.
async fn take(store: &MySqlStore, id: &Uuid) -> OperationLock {
    match store.lock_operation(id).await.unwrap() {
        LockAttempt::Acquired(lock) => lock,
        LockAttempt::Held { .. } => panic!("a free lock is held"),
    }
}

/// `GET_LOCK(name, seconds)` on a connection of its own: the server waits up to `seconds` for
/// the lock (1: taken, then released; 0: still held by someone else when time ran out).
async fn probe(other: &MySqlStore, id: &Uuid, seconds: u32) -> i64 {
    let mut probe = other.pool().acquire().await.unwrap();
    let got: i64 = sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
        .bind(lock_name(id))
        .bind(seconds)
        .fetch_one(&mut *probe)
        .await
        .unwrap();
    if got == 1 {
        sqlx::query("DO RELEASE_LOCK(?)")
            .bind(lock_name(id))
            .execute(&mut *probe)
            .await
            .unwrap();
    }
    got
}

#[tokio::test]
async fn a_held_lock_outlives_its_connections_idle_timeout_by_pinging_it() {
    let Some((_, store, other)) = fresh_database().await else {
        return;
    };
    let store = store.with_lock_keepalive(Duration::from_secs(1), Duration::from_millis(200));
    let id = Uuid::new_v4();
    let lock = take(&store, &id).await;
    // The server waits 3 s for the lock, three times the holder's idle timeout: the pings keep
    // the holder's connection, so the lock stays held.
    assert_eq!(
        probe(&other, &id, 3).await,
        0,
        "the live holder lost its lock"
    );
    drop(lock);
    assert_eq!(probe(&other, &id, 10).await, 1);
}

#[tokio::test]
async fn the_lock_of_a_holder_that_stops_answering_is_freed_by_the_servers_idle_timeout() {
    let Some((_, store, other)) = fresh_database().await else {
        return;
    };
    // A holder whose pings never come (its host vanished): the server ends the idle
    // connection after 1 s, which frees the lock; the probe waits for that on the server.
    let store = store.with_lock_keepalive(Duration::from_secs(1), Duration::from_secs(3600));
    let id = Uuid::new_v4();
    let lock = take(&store, &id).await;
    assert_eq!(
        probe(&other, &id, 20).await,
        1,
        "the silent holder's lock was kept"
    );
    drop(lock);
}
