//! The store conformance suite: what every [`Store`] backend must do, run against each one.
//!
//! Each test is a function of a [`Fixture`] (an empty store, a second handle on the same data
//! as another process would open it, and raw access to what is at rest); `suite!` makes one
//! `#[tokio::test]` of each for a backend. SQLite runs in memory and in a file, always;
//! MariaDB when `PROTECTOR_TEST_MYSQL_URL` names a server (each test in a database of its own),
//! and otherwise prints "real MariaDB test skipped" and passes.
//!
//! With the (dev-only) feature `conformance` the suite is public, for backends outside this
//! crate (a remote store over protector-api): they build a [`Fixture`] and call [`suite!`].

#![expect(
    missing_docs,
    reason = "test code, public only for store backends in other crates; each test's name says what it checks"
)]

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::ErrorKind;
use crate::model::{
    GroupStatus, MemberStatus, Operation, OperationStatus, OperationType, Phase, ReplicationPolicy,
    Secret, SiteStatus,
};
use crate::store::fixtures::*;
use crate::store::{
    JournalEntry, JournalKind, LockAttempt, OperationQuery, RemoteSyncStatus, Store, VersionCheck,
};

#[cfg(test)]
pub(crate) mod backends;
mod leases;
#[cfg(feature = "mariadb")]
pub mod mariadb;

pub use leases::*;

/// A backend under test.
pub struct Fixture {
    /// An empty store.
    pub store: Arc<dyn Store>,
    /// A second handle on the same data, as another process opens it.
    pub other: Arc<dyn Store>,
    /// What is stored at rest.
    pub raw: Box<dyn Raw>,
}

/// Reads what a backend keeps at rest, bypassing the [`Store`].
#[async_trait]
pub trait Raw: Send + Sync {
    /// The stored `json` column of the policy of `group_id`.
    async fn raw_policy(&self, group_id: Uuid) -> String;
}

#[cfg(feature = "sqlite")]
#[async_trait]
impl Raw for Arc<crate::store::SqliteStore> {
    async fn raw_policy(&self, group_id: Uuid) -> String {
        self.raw_policy_json(group_id)
    }
}

/// One `#[tokio::test]` per conformance test, on the fixtures `$open().await` gives (`None`:
/// the backend is not available here; the test passes having said so). Other crates use it as
/// `protector_core::store::conformance::suite!(open)` with the feature `conformance`.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_suite {
    ($open:path) => {
        $crate::__store_conformance_suite!(@tests $open;
            missing_records_are_none_and_deletes_succeed,
            sites_round_trip_replace_and_delete,
            groups_round_trip_replace_and_list_by_name,
            members_round_trip_per_group_by_id,
            policy_round_trips_with_tokens_encrypted_at_rest,
            mappings_replace_per_direction,
            tenant_mappings_round_trip_and_replace,
            operations_round_trip_newest_first,
            operation_queries_select_by_group_type_status_and_site,
            journal_numbers_each_operation_from_one,
            concurrent_journal_appends_get_distinct_numbers,
            journal_has_answers_per_operation_and_kind,
            recorded_entries_follow_the_journal_and_come_with_the_operation,
            sync_state_and_log,
            delete_group_cascades_but_keeps_history,
            apply_document_replaces_everything_about_the_group,
            apply_document_if_is_a_compare_and_set_on_the_version_across_handles,
            apply_document_if_lets_exactly_one_of_two_concurrent_writers_win,
            two_concurrent_creates_of_one_name_let_exactly_one_win,
            apply_document_refuses_records_of_other_groups,
            operation_locks_are_exclusive_across_handles_and_released_on_drop,
            leases_are_taken_held_renewed_and_released,
            a_lapsed_lease_is_taken_over_and_lost_by_its_old_holder,
            of_concurrent_claimants_exactly_one_gets_the_lease,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(fixture) = $open().await {
                    $crate::store::conformance::$name(fixture).await;
                }
            }
        )*
    };
}
pub use crate::__store_conformance_suite as suite;

pub async fn missing_records_are_none_and_deletes_succeed(f: Fixture) {
    let s = &*f.store;
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

pub async fn sites_round_trip_replace_and_delete(f: Fixture) {
    let s = &*f.store;
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

pub async fn groups_round_trip_replace_and_list_by_name(f: Fixture) {
    let s = &*f.store;
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

pub async fn members_round_trip_per_group_by_id(f: Fixture) {
    let s = &*f.store;
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

pub async fn policy_round_trips_with_tokens_encrypted_at_rest(f: Fixture) {
    let s = &*f.store;
    let mut p = policy(id(1));
    s.put_policy(&p).await.unwrap();
    assert_eq!(s.get_policy(&id(1)).await.unwrap(), Some(p.clone()));

    let raw = f.raw.raw_policy(id(1)).await;
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

pub async fn mappings_replace_per_direction(f: Fixture) {
    let s = &*f.store;
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

pub async fn tenant_mappings_round_trip_and_replace(f: Fixture) {
    let s = &*f.store;
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

pub async fn operations_round_trip_newest_first(f: Fixture) {
    let s = &*f.store;
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

pub async fn operation_queries_select_by_group_type_status_and_site(f: Fixture) {
    let s = &*f.store;
    // Twelve operations over two groups (and one of none), three types, three statuses, two
    // target sites; each query gives what the filter of the whole list gives, in its order.
    let types = [
        OperationType::Failover,
        OperationType::Failback,
        OperationType::TestCleanup,
    ];
    let statuses = [
        OperationStatus::Completed,
        OperationStatus::Failed,
        OperationStatus::Running,
    ];
    for n in 0..12u128 {
        let mut op = operation(10 + n, at(100 + i64::try_from(n).unwrap()));
        op.group_id = match n % 3 {
            0 => Some(id(1)),
            1 => Some(id(2)),
            _ => None,
        };
        op.operation_type = types[usize::try_from(n % 3).unwrap()];
        op.status = statuses[usize::try_from((n / 2) % 3).unwrap()];
        op.target_site = if n % 4 < 2 { "site-b" } else { "site-a" }.to_string();
        s.put_operation(&op).await.unwrap();
    }
    // One written again, changed: queries see what it is now.
    let mut changed = s.get_operation(&id(10)).await.unwrap().unwrap();
    changed.status = OperationStatus::Failed;
    s.record(&[], Some(&changed)).await.unwrap();

    let all = s.list_operations().await.unwrap();
    let queries = [
        OperationQuery::default(),
        OperationQuery::of_group(id(1)),
        OperationQuery::of_group(id(3)),
        OperationQuery::of_group(id(2)).unfinished(),
        OperationQuery::of_group(id(1))
            .of_types(&[OperationType::Failover, OperationType::Failback])
            .in_statuses(&[OperationStatus::Failed])
            .into_site("site-b"),
        OperationQuery::default()
            .of_types(&[OperationType::Failback])
            .in_statuses(&[OperationStatus::Completed, OperationStatus::Running])
            .newest(2),
        OperationQuery::default().into_site("site-a").newest(3),
        OperationQuery::default().newest(0),
    ];
    for query in queries {
        let mut expected: Vec<Operation> =
            all.iter().filter(|op| query.matches(op)).cloned().collect();
        expected.truncate(query.limit.unwrap_or(usize::MAX));
        assert_eq!(
            s.query_operations(&query).await.unwrap(),
            expected,
            "{query:?}"
        );
    }
    let failed_of_one = OperationQuery::of_group(id(1)).in_statuses(&[OperationStatus::Failed]);
    let ids: Vec<Uuid> = s
        .query_operations(&failed_of_one)
        .await
        .unwrap()
        .into_iter()
        .map(|op| op.id)
        .collect();
    assert!(ids.contains(&id(10)), "{ids:?}");
}

pub async fn journal_numbers_each_operation_from_one(f: Fixture) {
    let s = &*f.store;
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
    assert_eq!(listed, numbered([intent, done, failed]));
    assert_eq!(s.list_journal(&op2).await.unwrap().len(), 1);
}

/// `entries` as the journal lists them: numbered from one, in order.
fn numbered(entries: impl IntoIterator<Item = JournalEntry>) -> Vec<JournalEntry> {
    entries
        .into_iter()
        .zip(1..)
        .map(|(mut e, seq)| {
            e.seq = seq;
            e
        })
        .collect()
}

/// A run's outcomes that waited, written with its next write: numbered after what the journal
/// holds, in order, the operation record with them.
pub async fn recorded_entries_follow_the_journal_and_come_with_the_operation(f: Fixture) {
    let s = &*f.store;
    let op = operation(1, at(10));
    let intent = journal(op.id, "create_server:web-1", JournalKind::Intent);
    s.append_journal(&intent).await.unwrap();
    let waited = [
        journal(op.id, "create_server:web-1", JournalKind::Done),
        journal(op.id, "create_port:web-2", JournalKind::Done),
    ];
    let mut saved = op.clone();
    saved.steps_completed = vec!["create_server:web-1".to_string()];
    s.record(&waited, Some(&saved)).await.unwrap();
    assert_eq!(s.get_operation(&op.id).await.unwrap(), Some(saved));
    // Then an intent with nothing else; nothing at all writes nothing.
    let next = journal(op.id, "create_server:web-3", JournalKind::Intent);
    s.record(std::slice::from_ref(&next), None).await.unwrap();
    s.record(&[], None).await.unwrap();

    let [first, second] = waited;
    let listed = s.list_journal(&op.id).await.unwrap();
    assert_eq!(listed, numbered([intent, first, second, next]));
    assert_eq!(s.list_operations().await.unwrap().len(), 1);
}

/// A run's check for a cancel request: an entry of that kind in that operation's journal.
pub async fn journal_has_answers_per_operation_and_kind(f: Fixture) {
    let s = &*f.store;
    let (op1, op2) = (id(1), id(2));
    assert!(!s
        .journal_has(&op1, JournalKind::CancelRequested)
        .await
        .unwrap());
    s.append_journal(&journal(op1, "stop_server:web-1", JournalKind::Intent))
        .await
        .unwrap();
    s.append_journal(&journal(op2, "cancel", JournalKind::CancelRequested))
        .await
        .unwrap();
    assert!(!s
        .journal_has(&op1, JournalKind::CancelRequested)
        .await
        .unwrap());
    assert!(s.journal_has(&op1, JournalKind::Intent).await.unwrap());
    assert!(s
        .journal_has(&op2, JournalKind::CancelRequested)
        .await
        .unwrap());
    s.append_journal(&journal(op1, "cancel", JournalKind::CancelRequested))
        .await
        .unwrap();
    assert!(s
        .journal_has(&op1, JournalKind::CancelRequested)
        .await
        .unwrap());
    assert!(!s.journal_has(&id(3), JournalKind::Intent).await.unwrap());
}

pub async fn sync_state_and_log(f: Fixture) {
    let s = &*f.store;
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

pub async fn delete_group_cascades_but_keeps_history(f: Fixture) {
    let s = &*f.store;
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

pub async fn apply_document_replaces_everything_about_the_group(f: Fixture) {
    let s = &*f.store;
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
    let raw = f.raw.raw_policy(g.id).await;
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

pub async fn apply_document_if_is_a_compare_and_set_on_the_version_across_handles(f: Fixture) {
    // Two handles on one store: two processes sharing a site's store.
    let (one, two) = (&*f.store, &*f.other);
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

pub async fn apply_document_refuses_records_of_other_groups(f: Fixture) {
    let s = &*f.store;
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

pub async fn concurrent_journal_appends_get_distinct_numbers(f: Fixture) {
    let op = id(1);
    let mut tasks = Vec::new();
    for n in 0..8 {
        let s = if n % 2 == 0 {
            f.store.clone()
        } else {
            f.other.clone()
        };
        tasks.push(tokio::spawn(async move {
            s.append_journal(&journal(op, &format!("step-{n}"), JournalKind::Intent))
                .await
                .unwrap()
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=8).collect::<Vec<u64>>());
    let listed = f.store.list_journal(&op).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.seq).collect::<Vec<_>>(), numbers);
}

pub async fn apply_document_if_lets_exactly_one_of_two_concurrent_writers_win(f: Fixture) {
    let mut g = group(1, "web");
    g.metadata.version = 1;
    let created = document(g.clone(), vec![member(11, g.id, "web-1")]);
    f.store
        .apply_document_if(&created, VersionCheck::Exactly(0))
        .await
        .unwrap();
    for round in 1..=10u64 {
        // Both writers read version `round` and write `round + 1`, at the same time.
        let write = |s: Arc<dyn Store>, who: &str| {
            let mut doc = created.clone();
            doc.group.metadata.version = round + 1;
            doc.group.description = format!("{who} in round {round}");
            tokio::spawn(async move {
                let result = s
                    .apply_document_if(&doc, VersionCheck::Exactly(round))
                    .await;
                (result, doc.group)
            })
        };
        let one = write(f.store.clone(), "one");
        let two = write(f.other.clone(), "two");
        let (one, two) = (one.await.unwrap(), two.await.unwrap());
        let (winner, loser) = match (&one.0, &two.0) {
            (Ok(()), Err(_)) => (one, two),
            (Err(_), Ok(())) => (two, one),
            _ => panic!("round {round}: exactly one writer must win: {one:?} / {two:?}"),
        };
        let err = loser.0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert_eq!(
            f.store.get_group(&g.id).await.unwrap(),
            Some(winner.1),
            "round {round}"
        );
    }
}

pub async fn two_concurrent_creates_of_one_name_let_exactly_one_win(f: Fixture) {
    for round in 0..5u128 {
        let name = format!("web-{round}");
        let create = |s: Arc<dyn Store>, n: u128| {
            let doc = document(group(n, &name), Vec::new());
            tokio::spawn(async move { s.apply_document_if(&doc, VersionCheck::Exactly(0)).await })
        };
        let one = create(f.store.clone(), 100 + round * 2);
        let two = create(f.other.clone(), 101 + round * 2);
        let results = [one.await.unwrap(), two.await.unwrap()];
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {results:?}");
        let err = results.into_iter().find_map(|r| r.err()).unwrap();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    }
    assert_eq!(f.store.list_groups().await.unwrap().len(), 5);
}

pub async fn operation_locks_are_exclusive_across_handles_and_released_on_drop(f: Fixture) {
    let (op, other_op) = (Uuid::new_v4(), Uuid::new_v4());
    let lock = match f.store.lock_operation(&op).await.unwrap() {
        LockAttempt::Acquired(lock) => lock,
        LockAttempt::Held { pid } => panic!("a free lock is held by {pid:?}"),
    };
    assert_eq!(lock.operation_id(), op);
    for s in [&f.store, &f.other] {
        assert!(
            matches!(
                s.lock_operation(&op).await.unwrap(),
                LockAttempt::Held { .. }
            ),
            "a second attempt must find the lock held"
        );
    }
    // Another operation's lock is independent.
    let other_lock = f.other.lock_operation(&other_op).await.unwrap();
    assert!(matches!(other_lock, LockAttempt::Acquired(_)));

    drop(lock);
    let again = match f.other.lock_operation(&op).await.unwrap() {
        LockAttempt::Acquired(lock) => lock,
        LockAttempt::Held { pid } => panic!("a dropped lock is still held by {pid:?}"),
    };
    assert!(matches!(
        f.store.lock_operation(&op).await.unwrap(),
        LockAttempt::Held { .. }
    ));
    drop(again);
    drop(other_lock);
    assert!(matches!(
        f.store.lock_operation(&op).await.unwrap(),
        LockAttempt::Acquired(_)
    ));
}
