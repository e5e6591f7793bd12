//! The store's file: private, in WAL mode, shared between processes, refused when damaged,
//! never holding a token in clear.

use super::fixtures::*;
use super::*;
use crate::model::{OperationStatus, OperationType};
use crate::store::{JournalKind, OperationQuery, Store};

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
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();

    let err = SqliteStore::open(&path, key(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
    assert_eq!(
        err.message(),
        format!(
            "the store {} has schema version {}, newer than this protector supports \
             ({SCHEMA_VERSION}): upgrade protector on this host",
            path.display(),
            SCHEMA_VERSION + 1
        )
    );
}

#[tokio::test]
async fn a_version_1_store_is_upgraded_on_open_keeping_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protector.db");
    let s = SqliteStore::open(&path, key(1)).unwrap();
    let kept = site("site-a");
    s.put_site(&kept).await.unwrap();
    let (mut older, mut newer) = (operation(3, at(10)), operation(4, at(20)));
    older.status = OperationStatus::Failed;
    newer.group_id = Some(id(9));
    for op in [&older, &newer] {
        s.put_operation(op).await.unwrap();
    }
    drop(s);
    // As version 1 left it: no lease table, operations without the columns queries select on.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE operation_leases; \
         DROP INDEX operations_by_group; DROP INDEX operations_by_kind; \
         ALTER TABLE operations DROP COLUMN group_id; \
         ALTER TABLE operations DROP COLUMN operation_type; \
         ALTER TABLE operations DROP COLUMN status; \
         ALTER TABLE operations DROP COLUMN target_site; \
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let s = SqliteStore::open(&path, key(1)).unwrap();
    assert_eq!(s.get_site("site-a").await.unwrap(), Some(kept));
    // The columns are filled from each operation's JSON.
    let failed_of_one = OperationQuery::of_group(id(1))
        .of_types(&[OperationType::Failover])
        .in_statuses(&[OperationStatus::Failed])
        .into_site("site-b");
    assert_eq!(
        s.query_operations(&failed_of_one).await.unwrap(),
        vec![older]
    );
    assert_eq!(
        s.query_operations(&OperationQuery::of_group(id(9)))
            .await
            .unwrap(),
        vec![newer]
    );
    let op = id(7);
    let attempt = s
        .acquire_lease(&op, "host:1:w", std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        matches!(attempt, crate::store::LeaseAttempt::Acquired(_)),
        "{attempt:?}"
    );
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

/// The query plan of `sql` as SQLite reports it (its `detail` column).
fn query_plan(conn: &Connection, sql: &str) -> String {
    let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let rows = statement
        .query_map(params!["op"], |row| row.get::<_, String>(3))
        .unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
}

#[tokio::test]
async fn a_store_without_the_cancel_index_gets_it_and_looks_cancels_up_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protector.db");
    let s = SqliteStore::open(&path, key(1)).unwrap();
    let op = id(3);
    let mut entry = crate::store::JournalEntry {
        operation_id: op,
        seq: 0,
        step: "stop_server:web-1".into(),
        kind: JournalKind::Intent,
        idempotency_key: format!("{op}:stop_server:web-1"),
        detail: serde_json::json!({}),
        at: chrono::Utc::now(),
    };
    s.append_journal(&entry).await.unwrap();
    drop(s);
    // As a protector before the index left it (same schema version).
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("DROP INDEX journal_cancels").unwrap();
    assert!(!query_plan(&conn, JOURNAL_HAS_CANCEL).contains("journal_cancels"));
    drop(conn);

    let s = SqliteStore::open(&path, key(1)).unwrap();
    let plan = query_plan(&s.conn(), JOURNAL_HAS_CANCEL);
    assert!(
        plan.contains("USING INDEX journal_cancels"),
        "a cancel request is looked up, not decoded from every entry: {plan}"
    );
    // And answers as before, the entries written before the index included.
    assert!(s.journal_has(&op, JournalKind::Intent).await.unwrap());
    assert!(!s
        .journal_has(&op, JournalKind::CancelRequested)
        .await
        .unwrap());
    entry.kind = JournalKind::CancelRequested;
    entry.step = "cancel".into();
    s.append_journal(&entry).await.unwrap();
    assert!(s
        .journal_has(&op, JournalKind::CancelRequested)
        .await
        .unwrap());
    assert!(!s
        .journal_has(&id(4), JournalKind::CancelRequested)
        .await
        .unwrap());
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
fn operation_queries_use_the_operation_indexes() {
    let s = store();
    let plan = |query: &OperationQuery| {
        let (sql, values) =
            crate::store::shared::operation_query(query, super::records::sqlite_placeholder);
        let conn = s.conn();
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = statement
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    let of_group = plan(
        &OperationQuery::of_group(id(1))
            .of_types(&[OperationType::Failover, OperationType::Failback])
            .in_statuses(&[OperationStatus::Failed])
            .into_site("site-b"),
    );
    assert!(of_group.contains("INDEX operations_by_group"), "{of_group}");
    let history = plan(
        &OperationQuery::default()
            .of_types(&[OperationType::Failover])
            .in_statuses(&[OperationStatus::Completed])
            .into_site("site-b")
            .newest(6),
    );
    assert!(history.contains("INDEX operations_by_kind"), "{history}");
}
