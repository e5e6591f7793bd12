//! A site failover whose process dies is taken to its end by `recover_operation`: the groups
//! it had not reached are failed over then, a group's failover that was running is recovered
//! like any interrupted failover, and the record settles. Every VM runs exactly once.

mod common;

use std::sync::Arc;

use common::{mappings, setup, Env};
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, OperationRequest, ProgressObserver, SiteFailoverRequest,
};
use protector_core::model::{
    GroupStatus, Operation, OperationStatus, ReplicationType, ResourceMappings,
};
use protector_core::plan::FailoverMode;
use protector_mock::NewServer;

const SECOND: &str = "prod-1";
const SECOND_VM: &str = "prod-vm-1";

/// [`setup`] plus a second group `prod-1` with one VM; both with stored mappings.
async fn two_groups() -> Env {
    let env = setup().await;
    env.sim
        .add_server(&NewServer {
            site: "site-a".into(),
            name: SECOND_VM.into(),
            project: "production-project".into(),
            user: "admin".into(),
            flavor: "m1.small".into(),
            key_name: Some("ops-key".into()),
            nics: vec![("net-primary-web".into(), "10.10.1.150".into())],
            security_groups: vec!["default".into(), "web".into()],
            volumes: vec![("root".into(), 20, "replicated-ssd".into())],
        })
        .unwrap();
    env.engine
        .create_group(CreateGroup {
            name: SECOND.into(),
            description: "second".into(),
            replication_type: ReplicationType::Async,
            primary_site: "site-a".into(),
            secondary_site: "site-b".into(),
            volume_type: "replicated-ssd".into(),
        })
        .await
        .unwrap();
    let id = env.sim.find_server("site-a", SECOND_VM).unwrap().id;
    env.engine
        .add_member(SECOND, AddMember { instance_id: id })
        .await
        .unwrap();
    env.engine
        .create_policy(
            SECOND,
            CreatePolicy {
                primary_array: env.sim.array_endpoint("site-a").unwrap(),
                secondary_array: env.sim.array_endpoint("site-b").unwrap(),
                pure_pg_name: "pg-prod-1".into(),
                replication_interval_secs: 300,
                rpo_minutes: 15,
            },
        )
        .await
        .unwrap();
    env.engine
        .set_mappings("prod-web-app", "site-a", mappings(), true)
        .await
        .unwrap();
    let second = ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", ["net-primary-web=net-secondary-web"])
            .unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.small=m2.small"]).unwrap(),
        ..ResourceMappings::default()
    };
    env.engine
        .set_mappings(SECOND, "site-a", second, true)
        .await
        .unwrap();
    env
}

fn site_request() -> OperationRequest {
    OperationRequest::SiteFailover {
        site: "site-a".into(),
        request: SiteFailoverRequest {
            mode: FailoverMode::Planned,
            concurrency: 1,
            groups: Vec::new(),
            operation_id: None,
        },
    }
}

/// Kills the run (a panic unwinds it: the future is dropped, its locks released, nothing
/// after this point happens) at the first record where `when` holds.
struct CrashWhen<F: Fn(&Operation) -> bool + Send + Sync>(F);

impl<F: Fn(&Operation) -> bool + Send + Sync> ProgressObserver for CrashWhen<F> {
    fn on_update(&self, operation: &Operation) {
        if (self.0)(operation) {
            panic!("simulated crash of the process running the site failover");
        }
    }
}

/// Every member VM runs exactly once, on site-b; nothing of them runs on site-a.
fn assert_all_on_site_b(env: &Env) {
    let inventory = env.sim.inspect();
    for vm in common::MEMBERS.iter().chain([&SECOND_VM]) {
        let running = |site: &str| {
            inventory.sites[site]
                .servers
                .iter()
                .filter(|s| s.name == *vm && s.status.as_str() == "ACTIVE")
                .count()
        };
        assert_eq!(
            (running("site-a"), running("site-b")),
            (0, 1),
            "{vm}: running copies on (site-a, site-b)"
        );
    }
}

async fn group_statuses(env: &Env) -> Vec<(String, GroupStatus, Option<uuid::Uuid>)> {
    let mut out: Vec<_> = env
        .store_a
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.name, g.status, g.active_operation_id))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn a_site_failover_killed_between_groups_is_finished_by_recover() {
    let env = two_groups().await;
    let submitted = env.engine.submit(site_request()).await.unwrap();
    let id = submitted.operation.id;
    // Killed as the second group is about to start: the first has failed over.
    let crash = CrashWhen(|op: &Operation| {
        op.group_results
            .iter()
            .any(|r| r.status == OperationStatus::Completed)
            && op
                .group_results
                .iter()
                .any(|r| r.status == OperationStatus::Running)
    });
    let killed = tokio::spawn(env.engine.run(id, crash)).await;
    assert!(killed.unwrap_err().is_panic());
    let left = env.engine.operation(&id.to_string()).await.unwrap();
    assert_eq!(left.status, OperationStatus::Running);

    let op = env.engine.recover_operation(&id.to_string()).await.unwrap();
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
    assert_eq!(op.completed_count, Some(2));
    assert_eq!(op.failed_count, Some(0));
    assert!(op
        .group_results
        .iter()
        .all(|r| r.status == OperationStatus::Completed && r.operation_id.is_some()));
    assert_all_on_site_b(&env);
    for (name, status, active) in group_statuses(&env).await {
        assert_eq!((status, active), (GroupStatus::FailedOver, None), "{name}");
    }
    // Recovering again changes nothing.
    let again = env.engine.recover_operation(&id.to_string()).await.unwrap();
    assert_eq!(again, op);
}

#[tokio::test]
async fn a_site_failover_killed_inside_a_groups_failover_ends_with_one_copy_of_each_vm() {
    let env = two_groups().await;
    let submitted = env.engine.submit(site_request()).await.unwrap();
    let id = submitted.operation.id;
    let store = env.store_a.clone();
    // Killed while the first group's own failover has stopped its VMs (its record says so):
    // the crash comes from the site run's next record, so the child is cut mid-way.
    let child_stopped_vms = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = child_stopped_vms.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let ops = store.list_operations().await.unwrap();
            if ops.iter().any(|o| {
                o.operation_type == protector_core::model::OperationType::Failover
                    && o.steps_completed.iter().any(|s| s == "quiesce_vms")
            }) {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                return;
            }
            tokio::task::yield_now().await;
        }
    });
    let run = tokio::spawn(env.engine.run(id, protector_core::engine::NoProgress));
    watcher.await.unwrap();
    run.abort();
    let _ = run.await;
    assert!(child_stopped_vms.load(std::sync::atomic::Ordering::SeqCst));

    let op = env.engine.recover_operation(&id.to_string()).await.unwrap();
    assert!(op.status.is_terminal(), "{op:?}");
    // Whatever point the run was cut at: every VM runs exactly once; groups whose failover
    // completed are failed over, the others are back on site-a, free to be retried.
    let inventory = env.sim.inspect();
    for vm in common::MEMBERS.iter().chain([&SECOND_VM]) {
        let running: usize = ["site-a", "site-b"]
            .iter()
            .map(|site| {
                inventory.sites[*site]
                    .servers
                    .iter()
                    .filter(|s| s.name == *vm && s.status.as_str() == "ACTIVE")
                    .count()
            })
            .sum();
        assert_eq!(running, 1, "{vm}");
    }
    for result in &op.group_results {
        assert!(result.status.is_terminal(), "{result:?}");
    }
    for (name, status, active) in group_statuses(&env).await {
        assert!(
            matches!(status, GroupStatus::FailedOver | GroupStatus::Active),
            "{name}: {status}"
        );
        assert_eq!(active, None, "{name}");
    }
}
