//! Sync protection groups on ActiveCluster pods: policy-create, planned and unplanned failover
//! and failback, with zero data loss in every case.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::common::{shape, sites_only, Env};

use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, FailbackRequest, FailoverRequest, NoProgress,
};
use protector_core::model::{GroupStatus, Operation, OperationStatus, ReplicationType};
use protector_core::plan::FailoverMode;
use protector_core::ErrorKind;
use protector_mock::Inventory;

const POD: &str = "cinder-pod";

fn mappings() -> protector_core::model::ResourceMappings {
    let mut m = common::mappings();
    m.flavors.insert("m1.small".into(), "m2.small".into());
    m
}

async fn sync_group(pod: &str) -> (Env, protector_core::Result<()>) {
    let env = sites_only().await;
    env.engine
        .create_group(CreateGroup {
            name: "ledger".into(),
            description: "sync tier".into(),
            replication_type: ReplicationType::Sync,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-sync".into(),
        })
        .await
        .unwrap();
    let id = env.sim.find_server("site-a", "ledger-db").unwrap().id;
    env.engine
        .add_member("ledger", AddMember { instance_id: id })
        .await
        .unwrap();
    let policy = env
        .engine
        .create_policy(
            "ledger",
            CreatePolicy {
                primary_array: env.sim.array_endpoint("site-a").unwrap(),
                secondary_array: env.sim.array_endpoint("site-b").unwrap(),
                pure_pg_name: pod.into(),
                replication_interval_secs: 0,
                rpo_minutes: 0,
            },
        )
        .await
        .map(|_| ());
    (env, policy)
}

fn capture_after(
    env: &Env,
    step: &'static str,
) -> (
    Arc<Mutex<Option<Inventory>>>,
    impl Fn(&Operation) + Send + Sync,
) {
    let seen: Arc<Mutex<Option<Inventory>>> = Arc::default();
    let sim = env.sim.clone();
    let slot = seen.clone();
    (seen, move |op: &Operation| {
        if op.steps_completed.last().map(String::as_str) == Some(step) {
            slot.lock().unwrap().get_or_insert_with(|| sim.inspect());
        }
    })
}

fn fingerprints(inv: &Inventory, site: &str) -> BTreeMap<String, u64> {
    inv.sites[site]
        .volumes
        .iter()
        .filter_map(|v| v.fingerprint.map(|f| (v.id.clone(), f)))
        .collect()
}

fn running(inv: &Inventory, name: &str) -> Vec<String> {
    inv.sites
        .iter()
        .filter(|(_, s)| {
            s.servers
                .iter()
                .any(|v| v.name == name && v.status == "ACTIVE")
        })
        .map(|(site, _)| site.clone())
        .collect()
}

#[tokio::test]
async fn policy_create_refuses_a_pod_the_volumes_are_not_in() {
    let (env, result) = sync_group("other-pod").await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(err.to_string().contains("in pod 'cinder-pod'"), "{err}");
    assert!(env.engine.policy("ledger").await.unwrap().is_none());
}

#[tokio::test]
async fn planned_sync_failover_and_failback_lose_nothing() {
    let (env, policy) = sync_group(POD).await;
    policy.unwrap();
    let before = env.engine.members("ledger").await.unwrap();

    let (at_import, observer) = capture_after(&env, "manage_volumes_site_b");
    let op = env
        .engine
        .failover("ledger", FailoverRequest::planned(mappings()), &observer)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert!(op.steps_completed.iter().any(|s| s == "verify_pod"));
    assert!(!op.steps_completed.iter().any(|s| s == "final_snapshot"));
    let at_import = at_import.lock().unwrap().take().unwrap();
    let after = env.engine.members("ledger").await.unwrap();
    for (i, source) in before[0].current.array_volumes.iter().enumerate() {
        // The source VM is stopped: its pod volume holds its last write.
        let last = env.sim.array_volume_fingerprint("site-a", source).unwrap();
        let imported = fingerprints(&at_import, "site-b")[&after[0].current.volume_ids[i]];
        assert_eq!(imported, last, "volume {i}: data lost");
    }
    assert_eq!(running(&env.sim.inspect(), "ledger-db"), vec!["site-b"]);

    let (at_promote, observer) = capture_after(&env, "promote_storage_primary");
    let op = env
        .engine
        .failback(
            "ledger",
            FailbackRequest {
                reverse_replication: true,
                ..FailbackRequest::default()
            },
            &observer,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let at_promote = at_promote.lock().unwrap().take().unwrap();
    let (a, b) = (
        fingerprints(&at_promote, "site-a"),
        fingerprints(&at_promote, "site-b"),
    );
    for (dr, original) in after[0]
        .current
        .volume_ids
        .iter()
        .zip(&before[0].current.volume_ids)
    {
        assert_eq!(a[original], b[dr], "failback lost data");
    }
    let now = env.sim.inspect();
    assert_eq!(running(&now, "ledger-db"), vec!["site-a"]);
    assert!(!now.sites["site-b"]
        .servers
        .iter()
        .any(|s| s.name == "ledger-db"));
    // The original volumes are still in the stretched pod: replication continues.
    let members = env.engine.members("ledger").await.unwrap();
    for volume in &members[0].current.array_volumes {
        assert!(volume.starts_with("cinder-pod::"), "{volume}");
        assert_eq!(
            env.sim.array_volume_fingerprint("site-a", volume),
            env.sim.array_volume_fingerprint("site-b", volume),
            "pod copies differ"
        );
    }
    let group = env.engine.group("ledger").await.unwrap();
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.current_primary_site, "site-a");
}

/// With the array link cut the pod is online on one array only: a planned failover, which
/// would stop the VMs first, is refused before anything stops.
#[tokio::test]
async fn planned_sync_failover_is_refused_while_the_pod_is_not_in_sync() {
    let (env, policy) = sync_group(POD).await;
    policy.unwrap();
    env.sim.set_partition(true).unwrap();
    env.sim.tick(2).unwrap();
    let before = shape(&env.sim.inspect());
    let err = env
        .engine
        .failover("ledger", FailoverRequest::planned(mappings()), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    let message = err.to_string();
    assert!(
        message.contains("protection group 'ledger' cannot fail over as planned")
            && message.contains("is not online on both arrays")
            && message.contains("restore the replication link"),
        "{message}"
    );
    assert_eq!(shape(&env.sim.inspect()), before);
    assert!(env.store_a.list_operations().await.unwrap().is_empty());
}

#[tokio::test]
async fn unplanned_sync_failover_reports_and_loses_nothing() {
    let (env, policy) = sync_group(POD).await;
    policy.unwrap();
    let before = env.engine.members("ledger").await.unwrap();
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    env.sim.set_array_down("site-a", true).unwrap();
    let request = FailoverRequest {
        mode: FailoverMode::Unplanned,
        mappings: mappings(),
        operation_id: None,
        recovery_point: None,
        commit_window_secs: Some(0),
    };
    let plan = engine_b.plan_failover("ledger", &request).await.unwrap();
    let point = plan.recovery_point.clone().unwrap();
    assert_eq!(point.age_secs, 0);
    assert!(point.data_at_risk.starts_with("none"), "{point:?}");

    let (at_import, observer) = capture_after(&env, "manage_volumes_site_b");
    let op = engine_b
        .failover("ledger", request, &observer)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let at_import = at_import.lock().unwrap().take().unwrap();
    let after = engine_b.members("ledger").await.unwrap();
    for (i, source) in before[0].current.array_volumes.iter().enumerate() {
        // Every write acknowledged on site-a is in site-a's copy of the pod, frozen since its
        // array went down; the import holds all of it.
        let acknowledged = env.sim.array_volume_fingerprint("site-a", source).unwrap();
        let imported = fingerprints(&at_import, "site-b")[&after[0].current.volume_ids[i]];
        assert_eq!(imported, acknowledged, "volume {i}: data lost");
    }
    let group = engine_b.group("ledger").await.unwrap();
    assert_eq!(group.fence_required_on.as_deref(), Some("site-a"));
}

#[tokio::test]
async fn unplanned_sync_failover_is_refused_when_the_target_side_of_the_pod_is_offline() {
    let (env, policy) = sync_group(POD).await;
    policy.unwrap();
    let engine_b = env.engine.on_site("site-b").unwrap();
    // The link between the arrays drops: the mediator keeps site-a's array online.
    env.sim.set_partition(true).unwrap();
    env.sim.tick(2).unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let before = shape(&env.sim.inspect());
    let err = engine_b
        .failover(
            "ledger",
            FailoverRequest {
                mode: FailoverMode::Unplanned,
                mappings: mappings(),
                operation_id: None,
                recovery_point: None,
                commit_window_secs: Some(0),
            },
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("is not online on site-b"), "{err}");
    assert_eq!(shape(&env.sim.inspect()), before);
}

#[tokio::test]
async fn a_sync_drill_copies_the_pod_volumes_and_cleanup_removes_them() {
    let (env, policy) = sync_group(POD).await;
    policy.unwrap();
    let before = shape(&env.sim.inspect());
    let mut drill_mappings = mappings();
    drill_mappings.networks = protector_core::model::ResourceMappings::parse_pairs(
        "network",
        ["net-primary-db=dr-test-net"],
    )
    .unwrap();
    let op = env
        .engine
        .test_failover(
            "ledger",
            protector_core::engine::TestFailoverRequest {
                mappings: drill_mappings,
                operation_id: None,
                recovery_point: None,
            },
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let during = env.sim.inspect();
    assert_eq!(
        running(&during, "ledger-db"),
        vec!["site-a"],
        "production untouched"
    );
    assert!(during.sites["site-b"]
        .servers
        .iter()
        .any(|s| s.name == "test-ledger-db" && s.status == "ACTIVE"));
    let op = env
        .engine
        .test_failover_cleanup("ledger", None, &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_eq!(
        shape(&env.sim.inspect()),
        before,
        "the drill left something"
    );
}

#[tokio::test]
async fn a_group_with_drill_resources_cannot_be_deleted_until_cleanup() {
    let (env, policy) = sync_group(POD).await;
    policy.unwrap();
    let mut drill_mappings = mappings();
    drill_mappings.networks = protector_core::model::ResourceMappings::parse_pairs(
        "network",
        ["net-primary-db=dr-test-net"],
    )
    .unwrap();
    env.engine
        .test_failover(
            "ledger",
            protector_core::engine::TestFailoverRequest {
                mappings: drill_mappings,
                operation_id: None,
                recovery_point: None,
            },
            &NoProgress,
        )
        .await
        .unwrap();
    let err = env.engine.delete_group("ledger").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert_eq!(
        err.hint(),
        Some(&protector_core::error::Hint::CleanupDrill {
            group: "ledger".into()
        }),
        "{err}"
    );
    assert!(env.engine.group("ledger").await.is_ok());
    env.engine
        .test_failover_cleanup("ledger", None, &NoProgress)
        .await
        .unwrap();
    env.engine.delete_group("ledger").await.unwrap();
}
