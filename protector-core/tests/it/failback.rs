//! Unplanned failover, fencing and failback on the in-process simulator: end states on both
//! sites, one running copy of each VM, nothing leaked, and data loss exactly as reported.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::common::{mappings, planned_failover, setup, shape, Env, MEMBERS};

use protector_core::engine::{FailbackRequest, FailoverRequest, NoProgress};
use protector_core::model::{GroupStatus, Member, Operation, OperationStatus, ResourceMappings};
use protector_core::plan::FailoverMode;
use protector_core::ErrorKind;
use protector_mock::{Inventory, Service};

fn unplanned() -> FailoverRequest {
    FailoverRequest {
        mode: FailoverMode::Unplanned,
        commit_window_secs: Some(0),
        ..FailoverRequest::planned(mappings())
    }
}

fn reverse() -> FailbackRequest {
    FailbackRequest {
        reverse_replication: true,
        ..FailbackRequest::default()
    }
}

/// Servers of the seeded members by status on `site`.
fn member_servers(inv: &Inventory, site: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = inv.sites[site]
        .servers
        .iter()
        .filter(|s| MEMBERS.contains(&s.name.as_str()))
        .map(|s| (s.name.clone(), s.status.clone(), s.id.clone()))
        .collect();
    out.sort();
    out
}

/// Exactly one ACTIVE copy of every member, on `site`.
fn assert_one_running_copy(inv: &Inventory, site: &str) {
    for name in MEMBERS {
        let running: Vec<&str> = inv
            .sites
            .iter()
            .flat_map(|(s, i)| {
                i.servers
                    .iter()
                    .filter(|v| v.name == name && v.status == "ACTIVE")
                    .map(move |_| s.as_str())
            })
            .collect();
        assert_eq!(running, vec![site], "{name} runs on {running:?}");
    }
}

/// Records the simulator the moment `step` is reported done.
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

async fn members(env: &Env) -> Vec<Member> {
    env.engine.members("prod-web-app").await.unwrap()
}

#[tokio::test]
async fn failback_returns_the_original_vms_with_zero_loss_and_removes_the_dr_copies() {
    let env = setup().await;
    let initial = env.sim.inspect();
    let originals = member_servers(&initial, "site-a");
    planned_failover(&env).await.unwrap();
    let after_failover = members(&env).await;

    let (at_promote, observer) = capture_after(&env, "promote_storage_primary");
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &observer)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_eq!(op.instances_created, 3);
    assert!(op.steps_failed.is_empty(), "{:?}", op.steps_failed);
    for step in [
        "quiesce_vms",
        "final_snapshot",
        "promote_storage_primary",
        "reverse_replication",
    ] {
        assert!(
            op.steps_completed.iter().any(|s| s == step),
            "{step} missing"
        );
    }

    // Zero loss: the original volumes got exactly what the DR copies held once stopped.
    let at_promote = at_promote.lock().unwrap().take().expect("promote observed");
    let promoted = fingerprints(&at_promote, "site-a");
    let dr = fingerprints(&at_promote, "site-b");
    let mut compared = 0;
    for member in &after_failover {
        let original = member.standby.as_ref().unwrap();
        for (dr_volume, original_volume) in
            member.current.volume_ids.iter().zip(&original.volume_ids)
        {
            assert_eq!(
                promoted[original_volume], dr[dr_volume],
                "{}: data lost",
                member.instance_name
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 4);

    // Same servers as before the failover, running on site-a; nothing left on site-b.
    let now = env.sim.inspect();
    assert_one_running_copy(&now, "site-a");
    let back: Vec<_> = member_servers(&now, "site-a");
    assert_eq!(back, originals);
    assert!(member_servers(&now, "site-b").is_empty());
    let (mut s_now, mut s_initial) = (shape(&now), shape(&initial));
    for v in [&mut s_now, &mut s_initial] {
        // Statuses of the replication objects are compared below.
        for array in v["arrays"].as_object_mut().unwrap().values_mut() {
            array.as_object_mut().unwrap().remove("protection_groups");
        }
    }
    assert_eq!(
        s_now["sites"], s_initial["sites"],
        "servers, ports or volumes leaked"
    );
    assert_eq!(s_now["arrays"], s_initial["arrays"], "array volumes leaked");

    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.current_primary_site, "site-a");
    assert_eq!(group.failover_count, 1);
    for member in members(&env).await {
        assert_eq!(member.current.site, "site-a");
        assert!(member.standby.is_none());
        assert_eq!(member.instance_id, member.current.instance_id);
    }
    let remote = env.store_b.get_group(&group.id).await.unwrap().unwrap();
    assert_eq!(remote.metadata.version, group.metadata.version);

    // The cycle can run again.
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    assert_one_running_copy(&env.sim.inspect(), "site-b");
}

#[tokio::test]
async fn failback_is_refused_when_the_group_is_active_and_changes_nothing() {
    let env = setup().await;
    let before = shape(&env.sim.inspect());
    let err = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(
        err.to_string().contains("is not in a failed_over state"),
        "{err}"
    );
    assert!(err.to_string().contains("Current status: active"), "{err}");
    assert_eq!(shape(&env.sim.inspect()), before);
}

#[tokio::test]
async fn failback_with_the_primary_unreachable_is_refused_and_changes_nothing() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let before = shape(&env.sim.inspect());
    let version = engine_b
        .group("prod-web-app")
        .await
        .unwrap()
        .metadata
        .version;
    let err = engine_b
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(
        err.to_string()
            .contains("Cannot initiate failback - remote site 'site-a' is unreachable"),
        "{err}"
    );
    assert_eq!(shape(&env.sim.inspect()), before);
    let group = engine_b.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.metadata.version, version);
}

#[tokio::test]
async fn failback_with_a_bad_network_mapping_names_it_and_changes_nothing() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();
    let before = shape(&env.sim.inspect());
    let request = FailbackRequest {
        mappings: ResourceMappings {
            networks: ResourceMappings::parse_pairs("network", ["net-secondary-web=no-such-net"])
                .unwrap(),
            ..ResourceMappings::default()
        },
        ..reverse()
    };
    let err = env
        .engine
        .failback("prod-web-app", request, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.to_string()
            .contains("Network 'no-such-net' not found on site-a"),
        "{err}"
    );
    assert_eq!(shape(&env.sim.inspect()), before);
}

#[tokio::test]
async fn a_failback_that_fails_restarts_the_dr_vms_and_can_be_retried() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();
    env.sim
        .fail_next(
            "site-b",
            Service::Array,
            "create_pg_snapshot",
            ErrorKind::Unavailable,
            "array busy (injected)",
            1,
        )
        .unwrap();
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(op.steps_failed, vec!["final_snapshot".to_string()]);
    assert!(
        op.error_message.as_deref().unwrap().contains("array busy"),
        "{op:?}"
    );
    let inv = env.sim.inspect();
    assert_one_running_copy(&inv, "site-b");
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.current_primary_site, "site-b");

    let op = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_one_running_copy(&env.sim.inspect(), "site-a");
}

#[tokio::test]
async fn unplanned_failover_loses_exactly_what_it_reported_then_fences_and_fails_back() {
    let env = setup().await;
    // Inspected once every volume is imported and before any server boots and writes.
    crate::common::keep_phase_barriers(&env).await;
    // Let the schedule (300 s) replicate a snapshot, then keep writing past it.
    env.sim.tick(320).unwrap();
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();

    // Refused without being unplanned.
    let err = engine_b
        .failover(
            "prod-web-app",
            FailoverRequest::planned(mappings()),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(
        err.hint(),
        Some(&protector_core::error::Hint::UnplannedFailover {
            group: "prod-web-app".into()
        }),
        "{err}"
    );

    let plan = engine_b
        .plan_failover("prod-web-app", &unplanned())
        .await
        .unwrap();
    let point = plan.recovery_point.clone().expect("data at risk reported");
    assert!(point.age_secs > 0, "{point:?}");
    // site-a's array still answers: its volume diff says how much was written since.
    let changed = point.changed_bytes.expect("the source array answers");
    assert!(changed > 0, "{point:?}");
    assert!(
        point.data_at_risk.contains("changed since then"),
        "{point:?}"
    );
    assert!(point.data_at_risk.contains(&point.snapshot));
    assert!(!plan.source_reachable);

    // The operator saw the plan; exactly that plan runs.
    engine_b
        .validate_plan(&plan)
        .await
        .unwrap()
        .into_result("unplanned failover")
        .unwrap();
    let (at_import, observer) = capture_after(&env, "manage_volumes_site_b");
    let op = engine_b.execute_failover(&plan, &observer).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_eq!(op.data_loss.as_deref(), Some(point.data_at_risk.as_str()));
    assert!(!op
        .steps_completed
        .iter()
        .any(|s| s == "quiesce_vms" || s == "final_snapshot"));

    // Exactly the reported loss: the imported data is the reported snapshot's, no newer.
    let at_import = at_import.lock().unwrap().take().expect("import observed");
    let snapshot = at_import.arrays["site-b"]
        .snapshots
        .iter()
        .find(|s| s.name == point.snapshot)
        .expect("reported snapshot on the target array");
    let members_now = engine_b.members("prod-web-app").await.unwrap();
    let imported = fingerprints(&at_import, "site-b");
    let mut compared = 0;
    for member in &members_now {
        let original = member.standby.as_ref().unwrap();
        for (i, volume_id) in member.current.volume_ids.iter().enumerate() {
            let at_snapshot = snapshot
                .fingerprints
                .iter()
                .find(|(name, _)| name.ends_with(&original.array_volumes[i]))
                .map(|(_, f)| *f)
                .expect("volume in the snapshot");
            assert_eq!(imported[volume_id], at_snapshot, "{}", member.instance_name);
            let source_now = env
                .sim
                .array_volume_fingerprint("site-a", &original.array_volumes[i])
                .unwrap();
            assert!(
                source_now > at_snapshot,
                "the source kept writing after the snapshot"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 4);

    // The old primary is fenced: its VMs still run, unseen; nothing else runs on the group.
    let group = engine_b.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.fence_required_on.as_deref(), Some("site-a"));
    let fenced = engine_b.fence("prod-web-app").await.unwrap_err();
    assert_eq!(fenced.kind(), ErrorKind::Unavailable, "{fenced}");

    // site-a returns: its metadata is behind, failback says so and changes nothing.
    env.sim.set_site_down("site-a", false).unwrap();
    let before = shape(&env.sim.inspect());
    let err = engine_b
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfSync, "{err}");
    assert!(err.to_string().contains("sync-force"), "{err}");
    assert_eq!(shape(&env.sim.inspect()), before);
    let both_running = env.sim.inspect();
    for name in MEMBERS {
        let active = both_running
            .sites
            .values()
            .flat_map(|s| s.servers.iter())
            .filter(|s| s.name == name && s.status == "ACTIVE")
            .count();
        assert_eq!(active, 2, "{name}: the old primary still runs until fenced");
    }

    engine_b.sync_force("prod-web-app").await.unwrap();
    let (at_promote, observer) = capture_after(&env, "promote_storage_primary");
    let op = engine_b
        .failback("prod-web-app", reverse(), &observer)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    // Claimed first, then fenced: a failback that loses the claim fences nothing.
    assert_eq!(op.steps_completed[1], "create_dr_record");
    assert_eq!(op.steps_completed[2], "fence_old_vms");
    let at_promote = at_promote.lock().unwrap().take().unwrap();
    let promoted = fingerprints(&at_promote, "site-a");
    let dr = fingerprints(&at_promote, "site-b");
    for member in &members_now {
        let original = member.standby.as_ref().unwrap();
        for (dr_volume, original_volume) in
            member.current.volume_ids.iter().zip(&original.volume_ids)
        {
            assert_eq!(
                promoted[original_volume], dr[dr_volume],
                "failback lost data"
            );
        }
    }
    let now = env.sim.inspect();
    assert_one_running_copy(&now, "site-a");
    assert!(member_servers(&now, "site-b").is_empty());
    let group = engine_b.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.fence_required_on, None);
    assert_eq!(group.current_primary_site, "site-a");
}

#[tokio::test]
async fn fence_stops_the_old_vms_once_the_site_returns() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    engine_b
        .failover("prod-web-app", unplanned(), &NoProgress)
        .await
        .unwrap();
    env.sim.set_site_down("site-a", false).unwrap();
    let group = engine_b.fence("prod-web-app").await.unwrap();
    assert_eq!(group.fence_required_on, None);
    let inv = env.sim.inspect();
    assert!(member_servers(&inv, "site-a")
        .iter()
        .all(|(_, status, _)| status == "SHUTOFF"));
    assert_one_running_copy(&inv, "site-b");
    // Fencing again is a no-op.
    engine_b.fence("prod-web-app").await.unwrap();
}

#[tokio::test]
async fn unplanned_failover_is_refused_while_the_source_and_its_array_answer() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let before = shape(&env.sim.inspect());
    let err = env
        .engine
        .failover("prod-web-app", unplanned(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("run a planned failover"), "{err}");
    assert_eq!(shape(&env.sim.inspect()), before);
}

#[tokio::test]
async fn unplanned_failover_without_a_replicated_snapshot_is_refused() {
    let env = setup().await;
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let before = shape(&env.sim.inspect());
    let err = engine_b
        .failover("prod-web-app", unplanned(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.to_string().contains("no fully replicated snapshot"),
        "{err}"
    );
    assert_eq!(shape(&env.sim.inspect()), before);
}

/// A failback during a replication outage is refused before the VMs on the active site stop;
/// a link cut after they stopped (spec/001 "stuck at running": the final snapshot cannot
/// arrive) ends the failback at once naming the cause, it is rolled back (the DR VMs run
/// again, the group is `failed_over`), and it succeeds once the link is back.
#[tokio::test]
async fn a_cut_link_refuses_the_failback_or_rolls_it_back_and_the_retry_succeeds() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();

    env.sim.set_partition(true).unwrap();
    env.sim.tick(2).unwrap();
    let before = shape(&env.sim.inspect());
    let err = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.to_string()
            .contains("cannot fail back from site-b to site-a: the replication link"),
        "{err}"
    );
    assert_eq!(shape(&env.sim.inspect()), before);
    env.sim.set_partition(false).unwrap();

    let cut = std::sync::atomic::AtomicBool::new(false);
    let sim = env.sim.clone();
    let observer = move |op: &Operation| {
        if op.steps_completed.last().map(String::as_str) == Some("quiesce_vms")
            && !cut.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            sim.set_partition(true).unwrap();
        }
    };
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &observer)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(op.steps_failed, vec!["replicate_snapshot".to_string()]);
    let message = op.error_message.clone().unwrap();
    assert!(message.contains("to site-a's FlashArray"), "{message}");
    assert!(message.contains("stalled"), "{message}");
    assert!(message.contains("replication link"), "{message}");
    assert!(message.contains("rolled back"), "{message}");
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.active_operation_id, None);
    assert_one_running_copy(&env.sim.inspect(), "site-b");

    env.sim.set_partition(false).unwrap();
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_one_running_copy(&env.sim.inspect(), "site-a");
}

/// Library users spawn operations (`tokio::spawn`, Python bindings): their futures must be
/// `Send`. Checked at compile time.
#[allow(dead_code)]
fn operation_futures_are_send(engine: &protector_core::Protector) {
    fn send<T: Send>(_: T) {}
    send(engine.failover("g", unplanned(), &NoProgress));
    send(engine.failback("g", reverse(), &NoProgress));
    send(engine.fence("g"));
}

#[tokio::test]
async fn stored_mappings_let_a_failover_run_without_any_and_are_checked_first() {
    let env = setup().await;
    let before = env
        .store_b
        .list_mappings(&env.engine.group("prod-web-app").await.unwrap().id)
        .await
        .unwrap();
    let bad = ResourceMappings {
        networks: ResourceMappings::parse_pairs("network", ["net-primary-web=nowhere"]).unwrap(),
        ..ResourceMappings::default()
    };
    let err = env
        .engine
        .set_mappings("prod-web-app", "site-a", bad, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ValidationFailed, "{err}");
    assert!(
        err.to_string()
            .contains("network 'nowhere' not found on site-b"),
        "{err}"
    );
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(env.store_b.list_mappings(&group.id).await.unwrap(), before);

    let stored = env
        .engine
        .set_mappings("prod-web-app", "site-a", mappings(), false)
        .await
        .unwrap();
    assert_eq!(stored.to_site, "site-b");
    // Both sites hold them, at the same metadata version.
    assert_eq!(
        env.store_b.list_mappings(&group.id).await.unwrap(),
        vec![stored]
    );
    let op = env
        .engine
        .failover(
            "prod-web-app",
            FailoverRequest::planned(ResourceMappings::default()),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
}

#[tokio::test]
async fn with_the_source_array_down_too_the_loss_is_its_age_only() {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    env.sim.set_array_down("site-a", true).unwrap();
    let plan = engine_b
        .plan_failover("prod-web-app", &unplanned())
        .await
        .unwrap();
    let point = plan.recovery_point.expect("data at risk reported");
    assert_eq!(point.changed_bytes, None);
    assert!(
        point
            .data_at_risk
            .contains("site-a's FlashArray does not answer"),
        "{point:?}"
    );
    let op = engine_b
        .failover("prod-web-app", unplanned(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_one_running_copy_on_b_only(&env.sim.inspect());
}

/// site-a cannot be asked: only site-b's servers count.
fn assert_one_running_copy_on_b_only(inv: &Inventory) {
    for name in MEMBERS {
        let running = inv.sites["site-b"]
            .servers
            .iter()
            .filter(|s| s.name == name && s.status == "ACTIVE")
            .count();
        assert_eq!(running, 1, "{name}");
    }
}

#[tokio::test]
async fn a_member_whose_original_vm_was_deleted_is_rebuilt_on_failback() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();
    let failed_over = members(&env).await;
    let gone = failed_over
        .iter()
        .find(|m| m.instance_name == "web-server-1")
        .unwrap();
    let original_id = gone.standby.as_ref().unwrap().instance_id.clone();
    // Someone deleted the stopped original on site-a.
    let site_a = env.engine.clients("site-a").await.unwrap();
    site_a.compute.delete_server(&original_id).await.unwrap();
    env.sim.tick(10).unwrap();
    assert!(site_a
        .compute
        .get_server(&original_id)
        .await
        .unwrap()
        .is_none());

    let plan = env
        .engine
        .plan_failback("prod-web-app", &reverse())
        .await
        .unwrap();
    assert!(
        plan.findings.iter().any(|f| f.code == "original_vm_gone"),
        "{:?}",
        plan.findings
    );
    let (at_import, observer) = capture_after(&env, "manage_volumes_site_a");
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &observer)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert!(op
        .steps_completed
        .iter()
        .any(|s| s == "create_instances_site_a"));

    let now = env.sim.inspect();
    assert_one_running_copy(&now, "site-a");
    assert!(member_servers(&now, "site-b").is_empty(), "DR copies left");
    let after = members(&env).await;
    let rebuilt = after
        .iter()
        .find(|m| m.instance_name == "web-server-1")
        .unwrap();
    assert_eq!(rebuilt.current.site, "site-a");
    assert_ne!(rebuilt.current.instance_id, original_id);
    assert!(rebuilt.standby.is_none());
    // No loss: the rebuilt volume holds what the stopped DR copy held.
    let at_import = at_import.lock().unwrap().take().unwrap();
    for (dr, new) in gone
        .current
        .volume_ids
        .iter()
        .zip(&rebuilt.current.volume_ids)
    {
        assert_eq!(
            fingerprints(&at_import, "site-a")[new],
            fingerprints(&at_import, "site-b")[dr],
            "rebuilt volume lost data"
        );
    }
    // The rebuilt member's new port is on its original network with its original address.
    let ports = &now.sites["site-a"].ports;
    let port = ports
        .iter()
        .find(|p| p.id == rebuilt.current.port_ids[0])
        .unwrap();
    assert_eq!(port.network_id, gone.recovery.networks[0].network_id);
    assert_eq!(
        port.fixed_ips[0].ip_address,
        gone.recovery.networks[0].fixed_ips[0].ip_address
    );
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::Active);
}

#[tokio::test]
async fn an_original_vm_that_cannot_start_rolls_the_failback_back_with_one_copy_running() {
    let env = setup().await;
    planned_failover(&env).await.unwrap();
    env.sim
        .fail_next(
            "site-a",
            Service::Compute,
            "start_server",
            ErrorKind::Unexpected,
            "No valid host was found (injected)",
            1,
        )
        .unwrap();
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed, "{op:?}");
    assert_eq!(op.steps_failed, vec!["start_instances_site_a".to_string()]);
    let message = op.error_message.clone().unwrap();
    assert!(message.contains("No valid host"), "{message}");
    assert!(message.contains("rolled back"), "{message}");
    // The VMs that did start on site-a were stopped again; the DR copies run.
    let inv = env.sim.inspect();
    assert_one_running_copy(&inv, "site-b");
    assert!(member_servers(&inv, "site-a")
        .iter()
        .all(|(_, status, _)| status == "SHUTOFF"));
    let group = env.engine.group("prod-web-app").await.unwrap();
    assert_eq!(group.status, GroupStatus::FailedOver);
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_one_running_copy(&env.sim.inspect(), "site-a");
}

#[tokio::test]
async fn after_a_failover_the_workload_replicates_back_on_the_policy_schedule() {
    let env = setup().await;
    let op = planned_failover(&env).await.unwrap();
    assert_eq!(op.error_message, None, "{op:?}");
    let members = members(&env).await;
    let inv = env.sim.inspect();
    let pg = inv.arrays["site-b"]
        .protection_groups
        .iter()
        .find(|g| g.name == "pg-prod-web-app")
        .expect("a protection group on site-b's array");
    let mut protected: Vec<&String> = pg.volumes.iter().collect();
    protected.sort();
    let mut running: Vec<&String> = members
        .iter()
        .flat_map(|m| m.current.array_volumes.iter())
        .collect();
    running.sort();
    assert_eq!(protected, running, "the imported volumes are protected");
    let array_a = env.sim.array_name("site-a").unwrap();
    assert!(pg.targets.iter().any(|t| t.name == array_a), "{pg:?}");
    // One interval later a snapshot of them has reached site-a's array.
    env.sim.tick(320).unwrap();
    let array_b = env.sim.array_name("site-b").unwrap();
    let inv = env.sim.inspect();
    assert!(
        inv.arrays["site-a"]
            .snapshots
            .iter()
            .any(|s| s.name.starts_with(&format!("{array_b}:pg-prod-web-app.")) && s.complete),
        "{:?}",
        inv.arrays["site-a"].snapshots
    );
    // The failback still runs as before.
    let op = env
        .engine
        .failback("prod-web-app", reverse(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_one_running_copy(&env.sim.inspect(), "site-a");
}
