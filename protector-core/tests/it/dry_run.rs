//! Plans of every operation kind (what `--dry-run` prints): what they list, that making one
//! changes nothing on either site, and that the operation then runs exactly the plan's steps.

use std::collections::BTreeSet;

use crate::common::{assert_completed, existing, mappings, planned_failover, setup, Env, MEMBERS};

use protector_core::engine::{
    FailbackRequest, NoProgress, SiteFailoverRequest, TestFailoverRequest, ValidationReport,
};
use protector_core::model::{GroupStatus, OperationStatus, ResourceMappings, TestFailoverStatus};
use protector_core::plan::{FailoverMode, FoundBy, RemovalKind, SiteGroupAction, Step};
use protector_core::ErrorKind;
use serde_json::Value;

const GROUP: &str = "prod-web-app";

/// Everything an operation could change: both stores' groups (with their members) and
/// operations (with their journals), and what exists on both simulated sites and arrays.
async fn world(env: &Env) -> Value {
    let mut stores = Vec::new();
    for store in [&env.store_a, &env.store_b] {
        let mut groups = Vec::new();
        for group in store.list_groups().await.unwrap() {
            let members = store.list_members(&group.id).await.unwrap();
            groups.push(serde_json::json!({"group": group, "members": members}));
        }
        let mut operations = Vec::new();
        for op in store.list_operations().await.unwrap() {
            let journal = store.list_journal(&op.id).await.unwrap();
            operations.push(serde_json::json!({"operation": op, "journal": journal}));
        }
        stores.push(serde_json::json!({"groups": groups, "operations": operations}));
    }
    serde_json::json!({"stores": stores, "sites": existing(&env.sim.inspect())})
}

fn names(steps: &[Step]) -> Vec<String> {
    steps.iter().map(|s| s.name.clone()).collect()
}

fn planned_members(members: &[protector_core::plan::MemberPlan]) -> BTreeSet<String> {
    members.iter().map(|m| m.instance_name.clone()).collect()
}

fn all_members() -> BTreeSet<String> {
    MEMBERS.iter().map(|m| m.to_string()).collect()
}

fn drill_request() -> TestFailoverRequest {
    TestFailoverRequest {
        recovery_point: None,
        mappings: ResourceMappings {
            networks: ResourceMappings::parse_pairs(
                "network",
                ["net-primary-web=dr-test-net net-primary-db=dr-test-net"],
            )
            .unwrap(),
            flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
            ..ResourceMappings::default()
        },
        operation_id: None,
    }
}

/// [`setup`] with a replicated snapshot on site-b (the schedule fires at 300 s).
async fn replicated() -> Env {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    env
}

#[tokio::test]
async fn the_failback_plan_changes_nothing_and_is_what_the_failback_runs() {
    let env = setup().await;
    let failover = planned_failover(&env).await.unwrap();
    assert_eq!(failover.status, OperationStatus::Completed);
    let before = world(&env).await;

    let plan = env
        .engine
        .plan_failback(GROUP, &FailbackRequest::default())
        .await
        .unwrap();
    assert_eq!(
        (plan.source_site.as_str(), plan.target_site.as_str()),
        ("site-b", "site-a")
    );
    assert_eq!(planned_members(&plan.members), all_members());
    // Every member returns into its original VM on site-a.
    assert!(plan.members.iter().all(|m| m.target_instance_id.is_some()));
    assert_eq!(
        names(&plan.steps),
        [
            "validate_sites",
            "create_dr_record",
            "quiesce_vms",
            "prepare_reverse_replication",
            "final_snapshot",
            "replicate_snapshot",
            "promote_storage_primary",
            "start_instances_site_a",
            "verify_instances",
            "cleanup_site_b",
            "update_protection_group",
            "sync_metadata",
        ]
    );
    assert!(env.engine.validate_plan(&plan).await.unwrap().is_ok());
    assert_eq!(
        world(&env).await,
        before,
        "planning a failback changed something"
    );

    let op = env
        .engine
        .failback(GROUP, FailbackRequest::default(), &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.steps_completed, names(&plan.steps));
}

#[tokio::test]
async fn the_drill_plan_changes_nothing_and_is_what_the_drill_runs() {
    let env = replicated().await;
    let before = world(&env).await;

    let plan = env
        .engine
        .plan_test_failover(GROUP, &drill_request())
        .await
        .unwrap();
    assert_eq!(plan.target_site, "site-b");
    assert_eq!(plan.source_site, "site-a");
    assert_eq!(planned_members(&plan.members), all_members());
    assert!(plan.findings.is_empty(), "{:?}", plan.findings);
    let snapshot = plan.source_snapshot.clone().expect("the drill's snapshot");
    for member in &plan.members {
        for volume in &member.volumes {
            assert!(
                volume.copy_name.starts_with("test-"),
                "{}",
                volume.copy_name
            );
            assert!(volume.name.starts_with("test-"), "{}", volume.name);
            let source = volume.source_snapshot.as_deref().unwrap();
            assert!(source.starts_with(&format!("{snapshot}.")), "{source}");
        }
        // Every NIC lands on the isolated network.
        for nic in &member.nics {
            assert_eq!(nic.network.target_name.as_deref(), Some("dr-test-net"));
        }
    }
    assert_eq!(
        names(&plan.steps),
        [
            "validate_sites",
            "create_test_record",
            "identify_snapshot",
            "create_volumes_site_b",
            "manage_volumes_site_b",
            "create_ports_site_b",
            "create_instances_site_b",
            "verify_instances",
            "update_protection_group",
        ]
    );
    assert_eq!(
        world(&env).await,
        before,
        "planning a drill changed something"
    );

    let op = env
        .engine
        .test_failover(GROUP, drill_request(), &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.steps_completed, names(&plan.steps));
    let group = env.engine.group(GROUP).await.unwrap();
    let record = group.test_failover.unwrap();
    assert_eq!(record.snapshot, snapshot);
}

#[tokio::test]
async fn a_blocked_drill_plan_holds_the_refusal_the_drill_makes() {
    let env = replicated().await;
    let before = world(&env).await;
    let unmapped = TestFailoverRequest::default();

    let plan = env
        .engine
        .plan_test_failover(GROUP, &unmapped)
        .await
        .unwrap();
    let codes: BTreeSet<&str> = plan.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, BTreeSet::from(["drill_network_unmapped"]));
    let refusal = ValidationReport {
        findings: plan.findings.clone(),
    }
    .into_result("DR drill of protection group 'prod-web-app'")
    .unwrap_err();
    assert_eq!(world(&env).await, before);

    let err = env
        .engine
        .test_failover(GROUP, unmapped, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed);
    assert_eq!(err.to_string(), refusal.to_string());
    assert_eq!(
        world(&env).await,
        before,
        "a refused drill changed something"
    );
}

#[tokio::test]
async fn the_cleanup_plan_lists_what_the_cleanup_removes_and_changes_nothing() {
    let env = replicated().await;

    // No drill: nothing to remove, no step.
    let plan = env.engine.plan_test_cleanup(GROUP).await.unwrap();
    assert!(plan.removals.is_empty() && plan.steps.is_empty());
    assert_eq!(plan.drill_operation_id, None);

    let drill = env
        .engine
        .test_failover(GROUP, drill_request(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(drill.status, OperationStatus::Completed);
    let before = world(&env).await;

    let plan = env.engine.plan_test_cleanup(GROUP).await.unwrap();
    assert_eq!(plan.site, "site-b");
    assert_eq!(plan.drill_operation_id, Some(drill.id));
    assert_eq!(plan.drill_status, Some(TestFailoverStatus::Ready));
    assert!(!plan.tag_sweep);
    assert!(plan.findings.is_empty(), "{:?}", plan.findings);
    assert!(plan.removals.iter().all(|r| r.found_by == FoundBy::Record));
    let count = |kind| plan.removals.iter().filter(|r| r.kind == kind).count();
    assert_eq!(count(RemovalKind::Server), MEMBERS.len());
    assert!(count(RemovalKind::Port) >= MEMBERS.len());
    assert!(count(RemovalKind::Volume) >= MEMBERS.len());
    assert_eq!(
        count(RemovalKind::ArrayVolume),
        count(RemovalKind::Volume) * 2
    );
    // Servers first, as the cleanup removes them.
    assert_eq!(plan.removals[0].kind, RemovalKind::Server);
    let members: BTreeSet<String> = plan.removals.iter().map(|r| r.member.clone()).collect();
    assert_eq!(members, all_members());
    assert_eq!(
        names(&plan.steps),
        [
            "validate_sites",
            "delete_instances_site_b",
            "delete_ports_site_b",
            "delete_volumes_site_b",
            "delete_array_volumes_site_b",
            "update_protection_group",
        ]
    );
    assert_eq!(
        world(&env).await,
        before,
        "planning a cleanup changed something"
    );

    let op = env
        .engine
        .test_failover_cleanup(GROUP, None, &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.steps_completed, names(&plan.steps));
    // Every listed server, port and volume is gone from site-b.
    let inventory = env.sim.inspect();
    let site_b = &inventory.sites["site-b"];
    for removal in &plan.removals {
        let present = match removal.kind {
            RemovalKind::Server => site_b.servers.iter().any(|s| s.id == removal.id),
            RemovalKind::Port => site_b.ports.iter().any(|p| p.id == removal.id),
            RemovalKind::Volume => site_b.volumes.iter().any(|v| v.id == removal.id),
            RemovalKind::ArrayVolume => continue,
        };
        assert!(!present, "{removal:?} is still on site-b");
    }
}

#[tokio::test]
async fn a_cleanup_plan_of_a_group_in_flight_holds_the_refusal() {
    let env = replicated().await;
    env.engine
        .test_failover(GROUP, drill_request(), &NoProgress)
        .await
        .unwrap();
    for store in [&env.store_a, &env.store_b] {
        let mut group = store.list_groups().await.unwrap().remove(0);
        group.status = GroupStatus::FailingOver;
        store.put_group(&group).await.unwrap();
    }
    let before = world(&env).await;
    let plan = env.engine.plan_test_cleanup(GROUP).await.unwrap();
    assert_eq!(plan.findings.len(), 1, "{:?}", plan.findings);
    assert_eq!(plan.findings[0].kind, ErrorKind::Conflict);
    assert!(plan.removals.is_empty());
    let err = env
        .engine
        .test_failover_cleanup(GROUP, None, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.message(), plan.findings[0].message);
    assert_eq!(world(&env).await, before);
}

#[tokio::test]
async fn the_site_failover_plan_lists_each_group_and_is_what_the_site_failover_runs() {
    let env = setup().await;
    env.engine
        .set_mappings(GROUP, "site-a", mappings(), true)
        .await
        .unwrap();
    let before = world(&env).await;
    let request = SiteFailoverRequest {
        mode: FailoverMode::Planned,
        concurrency: 2,
        groups: Vec::new(),
        operation_id: None,
    };

    let plan = env
        .engine
        .plan_site_failover_groups("site-a", &request)
        .await
        .unwrap();
    assert_eq!(
        (plan.failed_site.as_str(), plan.target_site.as_str()),
        ("site-a", "site-b")
    );
    assert_eq!((plan.mode, plan.concurrency), (FailoverMode::Planned, 2));
    assert_eq!(plan.groups.len(), 1);
    let group = &plan.groups[0];
    assert_eq!(group.group_name, GROUP);
    assert_eq!(
        (group.action, group.mode),
        (SiteGroupAction::Failover, FailoverMode::Planned)
    );
    let group_plan = group.plan.as_ref().expect("the group's failover plan");
    assert_eq!(group_plan.target_site, "site-b");
    assert_eq!(planned_members(&group_plan.members), all_members());
    assert!(plan.blocking().is_empty(), "{:?}", plan.blocking());
    assert_eq!(
        names(&group_plan.steps)[..3],
        ["validate_sites", "create_dr_record", "quiesce_vms"]
    );
    assert_eq!(
        world(&env).await,
        before,
        "planning a site failover changed something"
    );

    let op = env
        .engine
        .site_failover("site-a", request, &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    let child = op.group_results[0].operation_id.unwrap();
    let child = env.engine.operation(&child.to_string()).await.unwrap();
    assert_eq!(child.steps_completed, names(&group_plan.steps));
}

#[tokio::test]
async fn a_busy_group_is_planned_as_skipped() {
    let env = setup().await;
    for store in [&env.store_a, &env.store_b] {
        let mut group = store.list_groups().await.unwrap().remove(0);
        group.status = GroupStatus::FailingOver;
        group.active_operation_id = Some(uuid::Uuid::new_v4());
        store.put_group(&group).await.unwrap();
    }
    let request = SiteFailoverRequest {
        mode: FailoverMode::Planned,
        concurrency: 1,
        groups: Vec::new(),
        operation_id: None,
    };
    let plan = env
        .engine
        .plan_site_failover_groups("site-a", &request)
        .await
        .unwrap();
    let group = &plan.groups[0];
    assert_eq!(group.action, SiteGroupAction::Skip);
    assert!(group.plan.is_none());
    let reason = group.reason.clone().unwrap();
    let blocking = plan.blocking();
    assert_eq!(blocking.len(), 1);
    assert_eq!(blocking[0].1.message, reason);

    let op = env
        .engine
        .site_failover("site-a", request, &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.group_results[0].status, OperationStatus::Failed);
    assert_eq!(
        op.group_results[0].error_message.as_deref(),
        Some(reason.as_str())
    );
}
