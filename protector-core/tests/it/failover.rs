//! Planned failover on the in-process two-site simulator: the refusals of spec/000's
//! troubleshooting section, each leaving both sites and both stores unchanged, and what a fault
//! leaves. The end-to-end planned failover (end states on both sites, one running copy of each
//! VM, nothing leaked, zero data loss) runs against both faces in examples/tests/it/failover.rs.

use std::sync::Arc;

use crate::common::{groups, mappings, planned_failover, setup, shape, Env, MEMBERS};

use protector_core::api::ServerStatus;
use protector_core::engine::{FailoverRequest, NoProgress};
use protector_core::model::{GroupStatus, OperationStatus, ResourceMappings};
use protector_core::ErrorKind;
use protector_mock::{Inventory, Service};

/// Asserts a refused failover changed nothing on either site or store.
async fn assert_refused_unchanged(
    env: &Env,
    kind: ErrorKind,
    request: FailoverRequest,
    needle: &str,
) {
    let before = shape(&env.sim.inspect());
    let groups_before = groups(env).await;
    let err = env
        .engine
        .failover("prod-web-app", request, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        err.to_string().contains(needle),
        "'{err}' does not mention '{needle}'"
    );
    assert_eq!(
        shape(&env.sim.inspect()),
        before,
        "a refused failover changed the simulator"
    );
    assert_eq!(
        groups(env).await,
        groups_before,
        "a refused failover changed a store"
    );
    assert!(env.store_a.list_operations().await.unwrap().is_empty());
}

#[tokio::test]
async fn imported_volumes_hold_exactly_the_source_data() {
    let env = setup().await;
    // Inspected once every volume is imported and before any server boots and writes.
    crate::common::keep_phase_barriers(&env).await;
    let members = env.engine.members("prod-web-app").await.unwrap();
    // Read the target volumes the moment they are imported, before any VM boots on them.
    let at_import: Arc<std::sync::Mutex<Option<Inventory>>> = Arc::default();
    let observer = {
        let sim = env.sim.clone();
        let at_import = at_import.clone();
        move |op: &protector_core::model::Operation| {
            if op.steps_completed.last().map(String::as_str) == Some("manage_volumes_site_b") {
                at_import
                    .lock()
                    .unwrap()
                    .get_or_insert_with(|| sim.inspect());
            }
        }
    };
    let op = env
        .engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            &observer,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    let at_import = at_import
        .lock()
        .unwrap()
        .take()
        .expect("observer saw the import");
    let after = env.engine.members("prod-web-app").await.unwrap();
    let mut compared = 0;
    for (before, after) in members.iter().zip(&after) {
        assert_eq!(before.id, after.id);
        for (i, array_volume) in before.current.array_volumes.iter().enumerate() {
            // The source VM is stopped: this is its final write.
            let source = env
                .sim
                .array_volume_fingerprint("site-a", array_volume)
                .unwrap();
            let target_id = &after.current.volume_ids[i];
            let imported = at_import.sites["site-b"]
                .volumes
                .iter()
                .find(|v| &v.id == target_id)
                .and_then(|v| v.fingerprint)
                .unwrap();
            assert_eq!(
                imported, source,
                "{} volume {i}: data lost",
                before.instance_name
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 4);
}

#[tokio::test]
async fn unmapped_network_is_refused_naming_network_and_member() {
    let env = setup().await;
    let mut partial = mappings();
    partial.networks.remove("net-primary-db");
    let err = env
        .engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(partial.clone()),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed);
    assert!(err.to_string().contains("net-primary-db"), "{err}");
    assert!(err.to_string().contains("db-server-1"), "{err}");
    assert_refused_unchanged(
        &env,
        ErrorKind::ValidationFailed,
        FailoverRequest::planned(partial),
        "net-primary-db",
    )
    .await;
}

#[tokio::test]
async fn every_finding_is_reported_not_just_the_first() {
    let env = setup().await;
    let err = env
        .engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(ResourceMappings::default()),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed);
    let text = err.to_string();
    for needle in [
        "net-primary-web",
        "net-primary-db",
        "m1.large",
        "web-server-1",
        "web-server-2",
        "db-server-1",
    ] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
    assert!(err.findings().len() >= 6, "{:?}", err.findings());
}

#[tokio::test]
async fn peer_site_unreachable_is_refused() {
    let env = setup().await;
    env.sim.set_site_down("site-b", true).unwrap();
    assert_refused_unchanged(
        &env,
        ErrorKind::Unavailable,
        FailoverRequest::planned(mappings()),
        "remote site unreachable",
    )
    .await;
}

#[tokio::test]
async fn metadata_out_of_sync_is_refused() {
    let env = setup().await;
    // The peer moved ahead (a change made while this site could not be reached).
    let mut ahead = env.store_b.list_groups().await.unwrap().remove(0);
    ahead.metadata.version += 1;
    env.store_b.put_group(&ahead).await.unwrap();
    assert_refused_unchanged(
        &env,
        ErrorKind::OutOfSync,
        FailoverRequest::planned(mappings()),
        "out of sync",
    )
    .await;
    // The documented fix works: sync-force pulls the higher version, then the failover runs.
    let report = env.engine.sync_force("prod-web-app").await.unwrap();
    assert_eq!(report.version, ahead.metadata.version);
    // Each site records that it holds that version, naming the other.
    for (store, peer) in [(&env.store_a, "site-b"), (&env.store_b, "site-a")] {
        let state = store.get_sync_state(&ahead.id).await.unwrap().unwrap();
        assert_eq!(
            (state.peer_site.as_str(), state.status, state.remote_version),
            (
                peer,
                protector_core::store::RemoteSyncStatus::Synced,
                ahead.metadata.version
            )
        );
    }
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
}

#[tokio::test]
async fn group_not_active_is_refused() {
    let env = setup().await;
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    let before = shape(&env.sim.inspect());
    let groups_before = groups(&env).await;
    let err = planned_failover(&env).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("not active"), "{err}");
    assert_eq!(shape(&env.sim.inspect()), before);
    assert_eq!(groups(&env).await, groups_before);
    assert_eq!(env.store_a.list_operations().await.unwrap().len(), 1);
}

#[tokio::test]
async fn volume_manage_refused_by_policy_rolls_back_completely() {
    let env = setup().await;
    let before = shape(&env.sim.inspect());
    env.sim
        .fail_next(
            "site-b",
            Service::Volume,
            "manage_volume",
            ErrorKind::PermissionDenied,
            "Policy doesn't allow volume_extension:volume_manage to be performed.",
            1,
        )
        .unwrap();
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    let message = op.error_message.clone().unwrap();
    assert!(
        message.contains("volume_extension:volume_manage"),
        "{message}"
    );
    assert!(message.contains("rolled back"), "{message}");
    assert_eq!(op.steps_failed, ["manage_volumes_site_b"]);

    // Back where it started: the same servers ACTIVE on site-a, nothing on site-b.
    let after = env.sim.inspect();
    let site_b = &after.sites["site-b"];
    assert!(site_b.servers.is_empty() && site_b.volumes.is_empty() && site_b.ports.is_empty());
    assert!(
        after.arrays["site-b"]
            .volumes
            .iter()
            .all(|v| !v.name.starts_with("protector-") && !v.name.starts_with("volume-")),
        "leftover array volumes on site-b: {:?}",
        after.arrays["site-b"].volumes
    );
    assert_eq!(shape(&after)["sites"], before["sites"]);
    for name in MEMBERS {
        assert_eq!(
            env.sim.find_server("site-a", name).unwrap().status,
            ServerStatus::Active
        );
    }
    let (a, b) = groups(&env).await;
    assert_eq!(a, b);
    assert_eq!(a.status, GroupStatus::Active);
    assert_eq!(a.current_primary_site, "site-a");
    assert_eq!(a.failover_count, 0);

    // The documented fix (policy granted) then retry works.
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
}

#[tokio::test]
async fn instance_in_error_on_target_gives_partial_with_one_running_copy() {
    let env = setup().await;
    env.sim
        .fail_server_boot(
            "site-b",
            "web-server-2",
            "No valid host was found. There are not enough hosts available.",
        )
        .unwrap();
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Partial);
    assert_eq!(op.instances_created, 2);
    assert_eq!(op.instances_failed, 1);
    assert!(op.error_message.unwrap().contains("No valid host"));
    let (a, _) = groups(&env).await;
    assert_eq!(a.status, GroupStatus::FailedOverPartial);
    let inventory = env.sim.inspect();
    for name in MEMBERS {
        let on_a = inventory.sites["site-a"]
            .servers
            .iter()
            .filter(|s| s.name == name && s.status == "ACTIVE")
            .count();
        let on_b = inventory.sites["site-b"]
            .servers
            .iter()
            .filter(|s| s.name == name && s.status == "ACTIVE")
            .count();
        assert_eq!(
            on_a + on_b,
            1,
            "{name} must run exactly once (a: {on_a}, b: {on_b})"
        );
    }
    assert!(inventory.sites["site-b"]
        .servers
        .iter()
        .all(|s| s.name != "web-server-2"));
    let members = env.engine.members("prod-web-app").await.unwrap();
    let failed = members
        .iter()
        .find(|m| m.instance_name == "web-server-2")
        .unwrap();
    assert_eq!(failed.current.site, "site-a");
    assert!(failed
        .error_message
        .as_ref()
        .unwrap()
        .contains("No valid host"));
}

#[tokio::test]
async fn plan_is_data_and_names_every_resolution() {
    let env = setup().await;
    let plan = env
        .engine
        .plan_failover("prod-web-app", &FailoverRequest::planned(mappings()))
        .await
        .unwrap();
    assert!(plan.findings.is_empty(), "{:?}", plan.findings);
    assert_eq!(plan.members.len(), 3);
    let db = plan
        .members
        .iter()
        .find(|m| m.instance_name == "db-server-1")
        .unwrap();
    assert_eq!(db.flavor.target_name.as_deref(), Some("m2.large"));
    assert_eq!(db.nics.len(), 2);
    assert_eq!(db.volumes.len(), 2);
    assert_eq!(db.volumes[0].boot_index, 0);
    assert!(db.volumes.iter().all(|v| v.copy_name.len() <= 63));
    let json = plan.to_json();
    let back: protector_core::plan::Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, plan);
    // Planning changes nothing.
    assert!(env.store_a.list_operations().await.unwrap().is_empty());
}
