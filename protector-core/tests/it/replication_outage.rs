//! Failovers while the replication link between the arrays is cut (issue 10, defect 3): a
//! planned failover is refused before anything stops; a replication that stalls after the
//! source VMs were stopped ends the failover at once and the rollback restarts them; an
//! unplanned failover, the way out of an outage, still runs and says what is at risk.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::{
    assert_completed, groups, mappings, planned_failover, setup, shape, Env, MEMBERS,
};

use protector_core::api::ServerStatus;
use protector_core::engine::{FailoverRequest, NoProgress, ReplicationHealth};
use protector_core::model::{GroupStatus, Operation, OperationStatus};
use protector_core::plan::FailoverMode;
use protector_core::ErrorKind;
use protector_mock::Service;

/// Lets the first scheduled snapshot (300 s interval) reach site-b's array, so that the only
/// problem left is the one a test injects.
async fn replicated() -> Env {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let report = env.engine.consistency_group("prod-web-app").await.unwrap();
    assert_eq!(
        report.replication_status,
        ReplicationHealth::Ok,
        "{report:?}"
    );
    env
}

/// Every member runs on site-a again and nothing of the failover is left on site-b; the
/// group is `active` on site-a in both stores.
async fn assert_back_on_site_a(env: &Env) {
    for name in MEMBERS {
        assert_eq!(
            env.sim.find_server("site-a", name).unwrap().status,
            ServerStatus::Active,
            "{name}"
        );
    }
    let inventory = env.sim.inspect();
    let site_b = &inventory.sites["site-b"];
    assert!(
        site_b.servers.is_empty() && site_b.volumes.is_empty() && site_b.ports.is_empty(),
        "left on site-b: {site_b:?}"
    );
    assert!(
        inventory.arrays["site-b"]
            .volumes
            .iter()
            .all(|v| !v.name.starts_with("protector-")),
        "array volumes left on site-b: {:?}",
        inventory.arrays["site-b"].volumes
    );
    let (a, b) = groups(env).await;
    assert_eq!(a, b, "both stores hold the same metadata");
    assert_eq!(a.status, GroupStatus::Active);
    assert_eq!(a.current_primary_site, "site-a");
    assert_eq!(a.failover_count, 0);
    assert!(a.active_operation_id.is_none());
}

/// An observer that runs `inject` once, when the source VMs have just been stopped (before
/// the final snapshot is taken).
fn after_the_stop(inject: impl Fn() + Send + Sync) -> impl Fn(&Operation) + Send + Sync {
    let done = AtomicBool::new(false);
    move |op: &Operation| {
        if op.steps_completed.last().map(String::as_str) == Some("quiesce_vms")
            && !done.swap(true, Ordering::SeqCst)
        {
            inject();
        }
    }
}

#[tokio::test]
async fn consistency_group_show_names_a_cut_link() {
    let env = replicated().await;
    env.sim.set_partition(true).unwrap();
    let report = env.engine.consistency_group("prod-web-app").await.unwrap();
    assert_eq!(report.replication_status, ReplicationHealth::Interrupted);
    let why = report.replication_error.unwrap();
    assert!(
        why.contains("replication link") && why.contains("connecting"),
        "{why}"
    );
    // The last snapshot that did arrive is still reported.
    assert!(report.last_replicated_snapshot.is_some());
}

#[tokio::test]
async fn planned_failover_during_a_replication_outage_is_refused_before_anything_stops() {
    let env = replicated().await;
    env.sim.set_partition(true).unwrap();
    // Let the simulator settle the partition (the seeded pod goes offline on one side).
    env.sim.tick(2).unwrap();
    let before = shape(&env.sim.inspect());
    let groups_before = groups(&env).await;

    let err = planned_failover(&env).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    let message = err.to_string();
    for needle in [
        "'prod-web-app'",
        "pg-prod-web-app",
        "replication link",
        "restore the replication link",
        "unplanned (forced) failover",
    ] {
        assert!(
            message.contains(needle),
            "'{needle}' missing from: {message}"
        );
    }
    assert_eq!(shape(&env.sim.inspect()), before, "the simulator changed");
    assert_eq!(groups(&env).await, groups_before, "a store changed");
    assert!(env.store_a.list_operations().await.unwrap().is_empty());
    assert_back_on_site_a(&env).await;
}

#[tokio::test]
async fn a_group_whose_first_replication_never_arrived_is_refused_while_the_link_is_cut() {
    // The set-up: the link is cut before the first scheduled snapshot arrives.
    let env = setup().await;
    env.sim.set_partition(true).unwrap();
    env.sim.tick(320).unwrap();
    let report = env.engine.consistency_group("prod-web-app").await.unwrap();
    assert_eq!(report.replication_status, ReplicationHealth::Interrupted);
    assert!(report.last_replicated_snapshot.is_none());
    let groups_before = groups(&env).await;

    let err = planned_failover(&env).await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(err.to_string().contains("replication link"), "{err}");
    assert_eq!(groups(&env).await, groups_before);
    assert_back_on_site_a(&env).await;
}

#[tokio::test]
async fn a_link_cut_after_the_stop_fails_the_failover_at_once_and_restarts_the_source_vms() {
    let env = replicated().await;
    let sim = env.sim.clone();
    let observer = after_the_stop(move || sim.set_partition(true).unwrap());

    let op = env
        .engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            &observer,
        )
        .await
        .unwrap();

    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(op.steps_failed, ["replicate_snapshot"]);
    let message = op.error_message.clone().unwrap();
    for needle in [
        "replication of snapshot ",
        ":pg-prod-web-app.",
        "of protection group 'prod-web-app'",
        "stalled",
        "the replication link between FlashArrays",
        "rolled back",
    ] {
        assert!(
            message.contains(needle),
            "'{needle}' missing from: {message}"
        );
    }
    assert_back_on_site_a(&env).await;

    // Once the link is back the failover runs.
    env.sim.set_partition(false).unwrap();
    let op = planned_failover(&env).await.unwrap();
    assert_completed(&op);
}

#[tokio::test]
async fn a_transfer_that_never_completes_ends_within_the_wait_the_interval_allows() {
    let env = replicated().await;
    // The target array stops answering about transfers once the source VMs are stopped:
    // the wait runs out (its bound comes from the policy's 300 s interval).
    let sim = env.sim.clone();
    let observer = after_the_stop(move || {
        sim.fail_next(
            "site-b",
            Service::Array,
            "list_pg_snapshot_transfers",
            ErrorKind::Unavailable,
            "The array is busy.",
            100_000,
        )
        .unwrap();
    });

    let op = env
        .engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            &observer,
        )
        .await
        .unwrap();

    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(op.steps_failed, ["replicate_snapshot"]);
    let message = op.error_message.clone().unwrap();
    for needle in [
        "of protection group 'prod-web-app'",
        "stalled",
        "within 10m 0s",
        "replication interval of 300 s",
        "The array is busy.",
        "rolled back",
    ] {
        assert!(
            message.contains(needle),
            "'{needle}' missing from: {message}"
        );
    }
    assert_back_on_site_a(&env).await;
}

#[tokio::test]
async fn unplanned_failover_runs_during_a_replication_outage_and_says_what_is_at_risk() {
    let env = replicated().await;
    env.sim.set_partition(true).unwrap();
    let request = FailoverRequest {
        mode: FailoverMode::Unplanned,
        mappings: mappings(),
        operation_id: None,
        recovery_point: None,
        commit_window_secs: Some(0),
    };
    let plan = env
        .engine
        .plan_failover("prod-web-app", &request)
        .await
        .unwrap();
    let point = plan.recovery_point.clone().expect("a recovery point");
    assert!(point.data_at_risk.contains("are lost"), "{point:?}");

    let op = env
        .engine
        .failover("prod-web-app", request, &NoProgress)
        .await
        .unwrap();

    assert_completed(&op);
    assert!(op.data_loss.unwrap().contains("are lost"));
    // One running copy of each VM: the source answered, so its VMs were stopped.
    let inventory = env.sim.inspect();
    for name in MEMBERS {
        let running = |site: &str| {
            inventory.sites[site]
                .servers
                .iter()
                .filter(|s| s.name == name && s.status == "ACTIVE")
                .count()
        };
        assert_eq!((running("site-a"), running("site-b")), (0, 1), "{name}");
    }
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    assert_eq!(a.status, GroupStatus::FailedOver);
    assert_eq!(a.current_primary_site, "site-b");
}
