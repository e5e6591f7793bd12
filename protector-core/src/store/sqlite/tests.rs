//! The store's records: each kind round-trips, documents apply as a whole.

use super::fixtures::*;
use super::*;
use crate::model::{GroupStatus, MemberStatus, OperationStatus, Phase, SiteStatus};
use crate::store::{JournalEntry, JournalKind, RemoteSyncStatus, Store};

#[tokio::test]
async fn missing_records_are_none_and_deletes_succeed() {
    let s = store();
    assert_eq!(s.get_site("nope").await.unwrap(), None);
    assert_eq!(s.get_group(&id(1)).await.unwrap(), None);
    assert_eq!(s.get_policy(&id(1)).await.unwrap(), None);
    assert_eq!(s.get_operation(&id(1)).await.unwrap(), None);
    assert_eq!(s.get_sync_state(&id(1)).await.unwrap(), None);
    assert!(s.list_sites().await.unwrap().is_empty());
    assert!(s.list_groups().await.unwrap().is_empty());
    assert!(s.list_members(&id(1)).await.unwrap().is_empty());
    assert!(s.list_mappings(&id(1)).await.unwrap().is_empty());
    assert!(s.list_tenant_mappings().await.unwrap().is_empty());
    assert!(s.list_operations().await.unwrap().is_empty());
    assert!(s.list_journal(&id(1)).await.unwrap().is_empty());
    assert!(s.list_sync_log(&id(1), 10).await.unwrap().is_empty());
    s.delete_site("nope").await.unwrap();
    s.delete_group(&id(1)).await.unwrap();
    s.delete_member(&id(1)).await.unwrap();
}

#[tokio::test]
async fn sites_round_trip_replace_and_delete() {
    let s = store();
    let b = site("site-b");
    let mut a = site("site-a");
    s.put_site(&b).await.unwrap();
    s.put_site(&a).await.unwrap();
    assert_eq!(s.get_site("site-a").await.unwrap(), Some(a.clone()));

    a.status = SiteStatus::Unreachable;
    a.cloud = Some("cloud-a".to_string());
    s.put_site(&a).await.unwrap();
    assert_eq!(s.get_site("site-a").await.unwrap(), Some(a.clone()));
    assert_eq!(s.list_sites().await.unwrap(), vec![a, b.clone()]);

    s.delete_site("site-a").await.unwrap();
    assert_eq!(s.get_site("site-a").await.unwrap(), None);
    assert_eq!(s.list_sites().await.unwrap(), vec![b]);
}

#[tokio::test]
async fn groups_round_trip_replace_and_list_by_name() {
    let s = store();
    let web = group(1, "web");
    let mut db = group(2, "db");
    s.put_group(&web).await.unwrap();
    s.put_group(&db).await.unwrap();
    assert_eq!(s.get_group(&web.id).await.unwrap(), Some(web.clone()));

    db.status = GroupStatus::FailedOver;
    db.current_primary_site = "site-b".to_string();
    db.metadata.version = 2;
    db.active_operation_id = Some(id(99));
    db.fence_required_on = Some("site-a".to_string());
    s.put_group(&db).await.unwrap();
    assert_eq!(s.get_group(&db.id).await.unwrap(), Some(db.clone()));
    assert_eq!(s.list_groups().await.unwrap(), vec![db, web]);
}

#[tokio::test]
async fn members_round_trip_per_group_by_id() {
    let s = store();
    let (g1, g2) = (id(1), id(2));
    let m3 = member(13, g1, "web-3");
    let mut m1 = member(11, g1, "web-1");
    let other = member(12, g2, "db-1");
    for m in [&m3, &m1, &other] {
        s.put_member(m).await.unwrap();
    }
    assert_eq!(
        s.list_members(&g1).await.unwrap(),
        vec![m1.clone(), m3.clone()]
    );
    assert_eq!(s.list_members(&g2).await.unwrap(), vec![other]);

    m1.status = MemberStatus::Error;
    m1.error_message = Some("volume detached".to_string());
    m1.standby = Some(m1.current.clone());
    s.put_member(&m1).await.unwrap();
    assert_eq!(s.list_members(&g1).await.unwrap(), vec![m1, m3.clone()]);

    s.delete_member(&id(11)).await.unwrap();
    assert_eq!(s.list_members(&g1).await.unwrap(), vec![m3]);
}

#[tokio::test]
async fn policy_round_trips_with_tokens_encrypted_at_rest() {
    let s = store();
    let mut p = policy(id(1));
    s.put_policy(&p).await.unwrap();
    assert_eq!(s.get_policy(&id(1)).await.unwrap(), Some(p.clone()));

    let raw = raw_policy(&s, id(1));
    assert!(!raw.contains(TOKEN_A) && !raw.contains(TOKEN_B), "{raw}");
    let stored: ReplicationPolicy = serde_json::from_str(&raw).unwrap();
    assert!(stored
        .primary_array
        .api_token
        .expose()
        .starts_with("enc:v1:"));
    assert!(stored
        .secondary_array
        .api_token
        .expose()
        .starts_with("enc:v1:"));
    assert_eq!(stored.pure_pg_name, "pg-web");

    p.rpo_minutes = 5;
    p.primary_array.api_token = Secret::new("T-rotated");
    p.primary_array.ca_file = Some("/etc/protector/fa-a.pem".to_string());
    s.put_policy(&p).await.unwrap();
    assert_eq!(s.get_policy(&id(1)).await.unwrap(), Some(p));
    // The caller's policy is not modified by the encryption.
    assert_eq!(policy(id(1)).primary_array.api_token.expose(), TOKEN_A);
}

#[tokio::test]
async fn mappings_replace_per_direction() {
    let s = store();
    let g = id(1);
    let back = mappings(g, "site-b", "site-a");
    let mut forth = mappings(g, "site-a", "site-b");
    s.put_mappings(&back).await.unwrap();
    s.put_mappings(&forth).await.unwrap();
    s.put_mappings(&mappings(id(2), "site-a", "site-b"))
        .await
        .unwrap();
    assert_eq!(
        s.list_mappings(&g).await.unwrap(),
        vec![forth.clone(), back.clone()]
    );

    forth
        .mappings
        .flavors
        .insert("m1.small".to_string(), "m1.small-dr".to_string());
    s.put_mappings(&forth).await.unwrap();
    assert_eq!(s.list_mappings(&g).await.unwrap(), vec![forth, back]);
}

#[tokio::test]
async fn tenant_mappings_round_trip_and_replace() {
    let s = store();
    let mut t2 = tenant_mapping(2);
    let t1 = tenant_mapping(1);
    s.put_tenant_mapping(&t2).await.unwrap();
    s.put_tenant_mapping(&t1).await.unwrap();
    assert_eq!(
        s.list_tenant_mappings().await.unwrap(),
        vec![t1.clone(), t2.clone()]
    );

    t2.remote_tenant = "project-b-new".to_string();
    s.put_tenant_mapping(&t2).await.unwrap();
    assert_eq!(s.list_tenant_mappings().await.unwrap(), vec![t1, t2]);
}

#[tokio::test]
async fn operations_round_trip_newest_first() {
    let s = store();
    let old = operation(1, at(10));
    let tie_low = operation(2, at(20));
    let tie_high = operation(3, at(20));
    // Sub-second precision must order too (fixed-width timestamps).
    let newest = operation(4, at(20) + chrono::Duration::milliseconds(500));
    for op in [&tie_low, &newest, &old, &tie_high] {
        s.put_operation(op).await.unwrap();
    }
    assert_eq!(
        s.list_operations().await.unwrap(),
        vec![newest, tie_high, tie_low, old.clone()]
    );

    let mut done = old;
    done.status = OperationStatus::Completed;
    done.progress = 100;
    done.phase = Phase::Finalization;
    done.steps_completed = vec!["create_server:web-1".to_string()];
    done.completed_at = Some(at(30));
    done.data_loss = Some("none".to_string());
    s.put_operation(&done).await.unwrap();
    assert_eq!(s.get_operation(&done.id).await.unwrap(), Some(done.clone()));
    assert_eq!(s.list_operations().await.unwrap().len(), 4);
}

#[tokio::test]
async fn journal_numbers_each_operation_from_one() {
    let s = store();
    let (op1, op2) = (id(1), id(2));
    let mut intent = journal(op1, "create_server:web-1", JournalKind::Intent);
    intent.seq = 42; // ignored
    assert_eq!(s.append_journal(&intent).await.unwrap(), 1);
    assert_eq!(
        s.append_journal(&journal(op2, "import_volume:v1", JournalKind::Intent))
            .await
            .unwrap(),
        1
    );
    let done = journal(op1, "create_server:web-1", JournalKind::Done);
    assert_eq!(s.append_journal(&done).await.unwrap(), 2);
    let failed = journal(op1, "create_port:web-1", JournalKind::Failed);
    assert_eq!(s.append_journal(&failed).await.unwrap(), 3);

    let listed = s.list_journal(&op1).await.unwrap();
    let expected: Vec<JournalEntry> = [intent, done, failed]
        .into_iter()
        .zip(1..)
        .map(|(mut e, seq)| {
            e.seq = seq;
            e
        })
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(s.list_journal(&op2).await.unwrap().len(), 1);
}

#[tokio::test]
async fn sync_state_and_log() {
    let s = store();
    let g = id(1);
    s.put_sync_state(&sync_state(g, RemoteSyncStatus::Synced))
        .await
        .unwrap();
    let mut failed = sync_state(g, RemoteSyncStatus::Unreachable);
    failed.last_error = Some("connection refused".to_string());
    s.put_sync_state(&failed).await.unwrap();
    assert_eq!(s.get_sync_state(&g).await.unwrap(), Some(failed));

    let first = sync_log(g, 1, at(1));
    let second_a = sync_log(g, 2, at(2));
    let mut second_b = sync_log(g, 3, at(2));
    second_b.result = "failed".to_string();
    second_b.error = Some("peer answered 500".to_string());
    for entry in [&first, &second_a, &second_b, &sync_log(id(2), 9, at(9))] {
        s.append_sync_log(entry).await.unwrap();
    }
    // Newest first; equal times in insertion order reversed.
    assert_eq!(
        s.list_sync_log(&g, 10).await.unwrap(),
        vec![second_b.clone(), second_a.clone(), first]
    );
    assert_eq!(
        s.list_sync_log(&g, 2).await.unwrap(),
        vec![second_b, second_a]
    );
    assert!(s.list_sync_log(&g, 0).await.unwrap().is_empty());
    assert_eq!(s.list_sync_log(&g, usize::MAX).await.unwrap().len(), 3);
}

#[tokio::test]
async fn delete_group_cascades_but_keeps_history() {
    let s = store();
    let doomed = group(1, "web");
    let kept = group(2, "db");
    for g in [&doomed, &kept] {
        s.put_group(g).await.unwrap();
        s.put_member(&member(g.id.as_u128() * 10, g.id, "vm"))
            .await
            .unwrap();
        s.put_policy(&policy(g.id)).await.unwrap();
        s.put_mappings(&mappings(g.id, "site-a", "site-b"))
            .await
            .unwrap();
        s.put_sync_state(&sync_state(g.id, RemoteSyncStatus::Synced))
            .await
            .unwrap();
        s.append_sync_log(&sync_log(g.id, 1, at(1))).await.unwrap();
    }
    let mut op = operation(7, at(1));
    op.group_id = Some(doomed.id);
    s.put_operation(&op).await.unwrap();
    s.append_journal(&journal(op.id, "step", JournalKind::Intent))
        .await
        .unwrap();

    s.delete_group(&doomed.id).await.unwrap();

    assert_eq!(s.get_group(&doomed.id).await.unwrap(), None);
    assert!(s.list_members(&doomed.id).await.unwrap().is_empty());
    assert_eq!(s.get_policy(&doomed.id).await.unwrap(), None);
    assert!(s.list_mappings(&doomed.id).await.unwrap().is_empty());
    assert_eq!(s.get_sync_state(&doomed.id).await.unwrap(), None);
    // History stays.
    assert_eq!(s.get_operation(&op.id).await.unwrap(), Some(op.clone()));
    assert_eq!(s.list_journal(&op.id).await.unwrap().len(), 1);
    assert_eq!(s.list_sync_log(&doomed.id, 10).await.unwrap().len(), 1);
    // The other group is untouched.
    assert_eq!(s.list_groups().await.unwrap(), vec![kept.clone()]);
    assert_eq!(s.list_members(&kept.id).await.unwrap().len(), 1);
    assert!(s.get_policy(&kept.id).await.unwrap().is_some());
    assert_eq!(s.list_mappings(&kept.id).await.unwrap().len(), 1);
    assert!(s.get_sync_state(&kept.id).await.unwrap().is_some());
}

#[tokio::test]
async fn apply_document_replaces_everything_about_the_group() {
    let s = store();
    let g = group(1, "web");
    let (stale, kept) = (member(11, g.id, "web-1"), member(12, g.id, "web-2"));
    s.apply_document(&document(g.clone(), vec![stale.clone(), kept.clone()]))
        .await
        .unwrap();
    s.put_mappings(&mappings(g.id, "site-b", "site-a"))
        .await
        .unwrap();
    let state = sync_state(g.id, RemoteSyncStatus::Synced);
    s.put_sync_state(&state).await.unwrap();
    // Another group is not touched by the document.
    let other = group(2, "db");
    let other_member = member(21, other.id, "db-1");
    s.apply_document(&document(other.clone(), vec![other_member.clone()]))
        .await
        .unwrap();

    let mut next = g.clone();
    next.name = "web-renamed".to_string();
    next.metadata.version = 2;
    let mut changed = kept.clone();
    changed.instance_name = "web-2b".to_string();
    let added = member(13, g.id, "web-3");
    let mut doc = document(next.clone(), vec![changed.clone(), added.clone()]);
    doc.policy.as_mut().unwrap().rpo_minutes = 1;
    doc.mappings = vec![mappings(g.id, "site-a", "site-c")];
    s.apply_document(&doc).await.unwrap();

    assert_eq!(s.get_group(&g.id).await.unwrap(), Some(next));
    assert_eq!(s.list_members(&g.id).await.unwrap(), vec![changed, added]);
    assert_eq!(s.get_policy(&g.id).await.unwrap(), doc.policy);
    assert_eq!(s.list_mappings(&g.id).await.unwrap(), doc.mappings);
    assert_eq!(s.get_sync_state(&g.id).await.unwrap(), Some(state));
    let raw = raw_policy(&s, g.id);
    assert!(!raw.contains(TOKEN_A) && !raw.contains(TOKEN_B), "{raw}");

    doc.policy = None;
    doc.members.clear();
    doc.mappings.clear();
    s.apply_document(&doc).await.unwrap();
    assert_eq!(s.get_policy(&g.id).await.unwrap(), None);
    assert!(s.list_members(&g.id).await.unwrap().is_empty());
    assert!(s.list_mappings(&g.id).await.unwrap().is_empty());

    assert_eq!(s.get_group(&other.id).await.unwrap(), Some(other.clone()));
    assert_eq!(s.list_members(&other.id).await.unwrap(), vec![other_member]);
    assert!(s.get_policy(&other.id).await.unwrap().is_some());
}

#[tokio::test]
async fn apply_document_if_is_a_compare_and_set_on_the_version_across_handles() {
    // Two handles on one file: two processes sharing a site's store.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protector.db");
    let (one, two) = (
        SqliteStore::open(&path, key(1)).unwrap(),
        SqliteStore::open(&path, key(1)).unwrap(),
    );
    let mut g = group(1, "web");
    g.metadata.version = 1;
    let created = document(g.clone(), vec![member(11, g.id, "web-1")]);
    one.apply_document_if(&created, VersionCheck::Exactly(0))
        .await
        .unwrap();
    // A second create of the same group is refused.
    let err = two
        .apply_document_if(&created, VersionCheck::Exactly(0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");

    // Both read version 1 and write version 2: the first wins, the second changes nothing.
    let mut first = created.clone();
    first.group.metadata.version = 2;
    first.group.description = "first".to_string();
    let mut second = first.clone();
    second.group.description = "second".to_string();
    second.members.clear();
    one.apply_document_if(&first, VersionCheck::Exactly(1))
        .await
        .unwrap();
    let err = two
        .apply_document_if(&second, VersionCheck::Exactly(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.message().contains("version 2"), "{err}");
    assert_eq!(
        two.get_group(&g.id).await.unwrap(),
        Some(first.group.clone())
    );
    assert_eq!(two.list_members(&g.id).await.unwrap(), first.members);

    // A push to a peer applies only over an older version.
    let err = two
        .apply_document_if(&first, VersionCheck::Older)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "the same version is not older"
    );
    let mut third = first.clone();
    third.group.metadata.version = 3;
    two.apply_document_if(&third, VersionCheck::Older)
        .await
        .unwrap();
    let err = one
        .apply_document_if(&first, VersionCheck::Older)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "an older version never overwrites"
    );
    assert_eq!(one.get_group(&g.id).await.unwrap(), Some(third.group));
    // Absent counts as older.
    let other = document(group(2, "db"), Vec::new());
    one.apply_document_if(&other, VersionCheck::Older)
        .await
        .unwrap();
}

#[tokio::test]
async fn apply_document_refuses_records_of_other_groups() {
    let s = store();
    let g = group(1, "web");
    let before = document(g.clone(), vec![member(11, g.id, "web-1")]);
    s.apply_document(&before).await.unwrap();

    let mut doc = document(g.clone(), vec![member(12, id(2), "intruder")]);
    doc.policy.as_mut().unwrap().group_id = id(2);
    let err = s.apply_document(&doc).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed);
    assert!(err.message().contains(&g.id.to_string()), "{err}");
    assert_eq!(err.findings().len(), 2, "{err}");

    assert_eq!(s.list_members(&g.id).await.unwrap(), before.members);
    assert!(s.list_members(&id(2)).await.unwrap().is_empty());
    assert_eq!(s.get_policy(&g.id).await.unwrap(), before.policy);
}

#[test]
fn debug_shows_the_path_not_the_key() {
    let s = store();
    let shown = format!("{s:?}");
    assert_eq!(shown, r#"SqliteStore { path: ":memory:", .. }"#);
}

#[test]
fn the_store_is_usable_as_a_shared_trait_object() {
    let shared: std::sync::Arc<dyn Store> = std::sync::Arc::new(store());
    assert!(format!("{shared:?}").starts_with("SqliteStore"));
}
