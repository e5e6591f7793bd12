//! Issue 6's full cycle, against both faces of the simulator (in process, and
//! protector-openstack and protector-pure against its HTTP(S) face): create → members → policy → planned failover → failback with
//! reverse replication → drill → cleanup → unplanned failover with site-a down → site-a back →
//! failback. After every step: exactly one running copy of each member, nothing leaked on
//! either site, and the data each step promised.

use std::sync::{Arc, Mutex};

use crate::common::{
    assert_completed, failover_mappings, mappings, setup, shape, Face, GROUP, MEMBERS,
};
use protector_core::engine::{FailbackRequest, FailoverRequest, NoProgress, TestFailoverRequest};
use protector_core::model::{GroupStatus, Member, Operation};
use protector_core::plan::FailoverMode;
use protector_mock::{Inventory, Simulator};

/// Servers, ports, Cinder volumes and array volumes, without what moves on its own (write
/// fingerprints, replication objects and their snapshots).
fn resources(inventory: &Inventory) -> serde_json::Value {
    let mut v = shape(inventory);
    for array in v["arrays"].as_object_mut().unwrap().values_mut() {
        array.as_object_mut().unwrap().remove("protection_groups");
    }
    v
}

/// Exactly one ACTIVE copy of every member, on `site`, and no other copy of it running.
fn assert_one_running_copy(inventory: &Inventory, site: &str, step: &str) {
    for name in MEMBERS {
        let running: Vec<&str> = inventory
            .sites
            .iter()
            .flat_map(|(s, i)| {
                i.servers
                    .iter()
                    .filter(|v| v.name == name && v.status == "ACTIVE")
                    .map(move |_| s.as_str())
            })
            .collect();
        assert_eq!(
            running,
            vec![site],
            "after {step}: {name} runs on {running:?}"
        );
    }
}

/// An observer that keeps the simulator's state the moment `step` is reported done.
fn capture_after(
    sim: &Simulator,
    step: &'static str,
) -> (
    Arc<Mutex<Option<Inventory>>>,
    impl Fn(&Operation) + Send + Sync,
) {
    let seen: Arc<Mutex<Option<Inventory>>> = Arc::default();
    let (sim, slot) = (sim.clone(), seen.clone());
    (seen, move |op: &Operation| {
        if op.steps_completed.last().map(String::as_str) == Some(step) {
            slot.lock().unwrap().get_or_insert_with(|| sim.inspect());
        }
    })
}

fn fingerprint(inventory: &Inventory, site: &str, volume_id: &str) -> u64 {
    inventory.sites[site]
        .volumes
        .iter()
        .find(|v| v.id == volume_id)
        .and_then(|v| v.fingerprint)
        .unwrap_or_else(|| panic!("volume {volume_id} on {site}"))
}

/// After a failback: the original volumes got exactly what the DR copies held once stopped.
fn assert_failback_lossless(at_promote: &Inventory, failed_over: &[Member], step: &str) {
    let mut compared = 0;
    for member in failed_over {
        let original = member.standby.as_ref().unwrap();
        for (dr, back) in member.current.volume_ids.iter().zip(&original.volume_ids) {
            assert_eq!(
                fingerprint(at_promote, &original.site, back),
                fingerprint(at_promote, &member.current.site, dr),
                "{step}: {} lost data",
                member.instance_name
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 4);
}

on_both_faces!(full_dr_cycle);

async fn full_dr_cycle(face: Face) {
    let env = setup(face).await;
    let (sim, engine) = (env.sim.clone(), env.engine.clone());
    let (store_a, store_b) = (&env.store_a, &env.store_b);
    let engine_b = engine.on_site("site-b").unwrap();
    // The imports are inspected once every volume is imported and before any server boots
    // and writes: a hook between storage and instances keeps the phase barriers.
    engine
        .add_hook(
            GROUP,
            protector_core::engine::HookSpec::new(
                "barrier",
                protector_core::model::HookPoint::PostStorage,
                protector_core::model::HookAction::Command {
                    argv: vec!["true".into()],
                },
            ),
        )
        .await
        .unwrap();
    let baseline = resources(&sim.inspect());
    let originals = engine.members(GROUP).await.unwrap();
    let failover_mappings = failover_mappings();

    // Planned failover: zero loss.
    let (at_import, observer) = capture_after(&sim, "manage_volumes_site_b");
    let op = engine
        .failover(
            GROUP,
            FailoverRequest::planned(failover_mappings.clone()),
            &observer,
        )
        .await
        .unwrap();
    assert_completed(&op);
    let at_import = at_import.lock().unwrap().take().unwrap();
    let failed_over = engine.members(GROUP).await.unwrap();
    let after_failover = sim.inspect();
    for (before, after) in originals.iter().zip(&failed_over) {
        for (i, array_volume) in before.current.array_volumes.iter().enumerate() {
            let stopped = sim
                .array_volume_fingerprint("site-a", array_volume)
                .unwrap();
            // The lineage says the same after the VMs started writing on site-b.
            assert_eq!(
                after_failover.check_started_from_last_write(
                    "site-b",
                    &after.current.volume_ids[i],
                    "site-a",
                    array_volume
                ),
                Ok(stopped),
                "planned failover: {} lost data",
                before.instance_name
            );
            assert_eq!(
                fingerprint(&at_import, "site-b", &after.current.volume_ids[i]),
                stopped,
                "planned failover: {} lost data",
                before.instance_name
            );
        }
    }
    assert_one_running_copy(&sim.inspect(), "site-b", "planned failover");

    // Failback with reverse replication: zero loss, nothing left on site-b.
    let (at_promote, observer) = capture_after(&sim, "promote_storage_primary");
    let op = engine_b
        .failback(
            GROUP,
            FailbackRequest {
                reverse_replication: true,
                ..FailbackRequest::default()
            },
            &observer,
        )
        .await
        .unwrap();
    assert_completed(&op);
    assert_failback_lossless(
        &at_promote.lock().unwrap().take().unwrap(),
        &failed_over,
        "failback",
    );
    let now = sim.inspect();
    assert_one_running_copy(&now, "site-a", "failback");
    assert_eq!(resources(&now), baseline, "failback leaked something");
    let group = engine.group(GROUP).await.unwrap();
    assert_eq!(
        (
            group.status,
            group.current_primary_site.as_str(),
            group.failover_count
        ),
        (GroupStatus::Active, "site-a", 1)
    );
    let members = engine.members(GROUP).await.unwrap();
    for (now, before) in members.iter().zip(&originals) {
        assert_eq!(now.current, before.current, "the original VM is back");
    }

    // Drill and cleanup: production untouched, then nothing left.
    sim.tick(320).unwrap();
    let op = engine
        .test_failover(
            GROUP,
            TestFailoverRequest {
                mappings: mappings("net-primary-web=dr-test-net net-primary-db=dr-test-net"),
                operation_id: None,
                recovery_point: None,
            },
            &NoProgress,
        )
        .await
        .unwrap();
    assert_completed(&op);
    let during = sim.inspect();
    assert_one_running_copy(&during, "site-a", "drill");
    for name in MEMBERS {
        let test = during.sites["site-b"]
            .servers
            .iter()
            .find(|s| s.name == format!("test-{name}"))
            .unwrap_or_else(|| panic!("test-{name} on site-b"));
        assert_eq!(test.status, "ACTIVE");
    }
    let op = engine
        .test_failover_cleanup(GROUP, None, &NoProgress)
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(
        resources(&sim.inspect()),
        baseline,
        "the drill leaked something"
    );

    // Unplanned failover with site-a down: loses exactly what it reported.
    sim.tick(320).unwrap();
    env.set_site_down("site-a", true).await;
    let unplanned = FailoverRequest {
        mode: FailoverMode::Unplanned,
        mappings: failover_mappings.clone(),
        operation_id: None,
        recovery_point: None,
        commit_window_secs: Some(0),
    };
    let plan = engine_b.plan_failover(GROUP, &unplanned).await.unwrap();
    engine_b
        .validate_plan(&plan)
        .await
        .unwrap()
        .into_result("unplanned failover")
        .unwrap();
    let point = plan
        .recovery_point
        .clone()
        .expect("the data at risk is reported");
    let (at_import, observer) = capture_after(&sim, "manage_volumes_site_b");
    let op = engine_b.execute_failover(&plan, &observer).await.unwrap();
    assert_completed(&op);
    assert_eq!(op.data_loss.as_deref(), Some(point.data_at_risk.as_str()));
    let at_import = at_import.lock().unwrap().take().unwrap();
    let snapshot = at_import.arrays["site-b"]
        .snapshots
        .iter()
        .find(|s| s.name == point.snapshot)
        .expect("the reported snapshot");
    let failed_over = engine_b.members(GROUP).await.unwrap();
    for member in &failed_over {
        let original = member.standby.as_ref().unwrap();
        for (i, volume_id) in member.current.volume_ids.iter().enumerate() {
            let reported = snapshot.fingerprints[&original.array_volumes[i]];
            assert_eq!(
                fingerprint(&at_import, "site-b", volume_id),
                reported,
                "unplanned failover: {} holds other data than reported",
                member.instance_name
            );
        }
    }
    let group = engine_b.group(GROUP).await.unwrap();
    assert_eq!(group.fence_required_on.as_deref(), Some("site-a"));
    // site-a is unreachable, so only site-b is looked at: one running copy there.
    for name in MEMBERS {
        let running = sim.inspect().sites["site-b"]
            .servers
            .iter()
            .filter(|s| s.name == name && s.status == "ACTIVE")
            .count();
        assert_eq!(running, 1, "{name} on site-b");
    }

    // site-a back: sync, then failback (which fences first).
    env.set_site_down("site-a", false).await;
    engine_b.sync_force(GROUP).await.unwrap();
    let (at_promote, observer) = capture_after(&sim, "promote_storage_primary");
    let op = engine_b
        .failback(
            GROUP,
            FailbackRequest {
                reverse_replication: true,
                ..FailbackRequest::default()
            },
            &observer,
        )
        .await
        .unwrap();
    assert_completed(&op);
    assert!(op.steps_completed.iter().any(|s| s == "fence_old_vms"));
    assert_failback_lossless(
        &at_promote.lock().unwrap().take().unwrap(),
        &failed_over,
        "second failback",
    );
    let now = sim.inspect();
    assert_one_running_copy(&now, "site-a", "second failback");
    assert_eq!(
        resources(&now),
        baseline,
        "the second failback leaked something"
    );
    let group = engine.group(GROUP).await.unwrap();
    assert_eq!(
        (
            group.status,
            group.current_primary_site.as_str(),
            group.failover_count,
            group.fence_required_on.clone()
        ),
        (GroupStatus::Active, "site-a", 2, None)
    );
    assert_eq!(
        store_a
            .get_group(&group.id)
            .await
            .unwrap()
            .unwrap()
            .metadata,
        store_b
            .get_group(&group.id)
            .await
            .unwrap()
            .unwrap()
            .metadata
    );
    env.shutdown().await;
}
