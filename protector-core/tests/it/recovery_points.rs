//! Recovery point choice and the commit window on the in-process simulator: the replicated
//! snapshots listed with their ages; an unplanned failover and a drill from an older point
//! (the recovered data is that point's, not the latest's); the failover left uncommitted until
//! it is committed (re-protection then) or rolled back to an even older point (the old point's
//! resources gone, one running copy of each VM); the refusals, each changing nothing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::common::{groups, mappings, setup, shape, Env, MEMBERS};

use protector_core::engine::{
    FailbackRequest, FailoverRequest, FailoverRollbackRequest, NoProgress, RecoveryPoints,
    TestFailoverRequest,
};
use protector_core::model::{GroupStatus, Member, Operation, OperationStatus, ResourceMappings};
use protector_core::plan::FailoverMode;
use protector_core::{ErrorKind, Protector};
use protector_mock::Inventory;

const GROUP: &str = "prod-web-app";

fn unplanned_at(point: Option<&str>, window: Option<u64>) -> FailoverRequest {
    FailoverRequest {
        mode: FailoverMode::Unplanned,
        mappings: mappings(),
        operation_id: None,
        recovery_point: point.map(str::to_string),
        commit_window_secs: window,
    }
}

/// [`setup`] with three scheduled snapshots (300 s apart) replicated to site-b, the VMs
/// writing all along.
async fn three_points() -> Env {
    let env = setup().await;
    for ticks in [320, 300, 300] {
        env.sim.tick(ticks).unwrap();
    }
    env
}

/// Records the simulator the first time `step` is reported done.
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
        if op.steps_completed.iter().any(|s| s == step) {
            slot.lock().unwrap().get_or_insert_with(|| sim.inspect());
        }
    })
}

/// The data snapshot `name` holds on site-b's array: one fingerprint per volume.
fn snapshot_data(inv: &Inventory, name: &str) -> BTreeSet<u64> {
    inv.arrays["site-b"]
        .snapshots
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("snapshot {name} on site-b's array"))
        .fingerprints
        .values()
        .copied()
        .collect()
}

/// The data the volumes `ids` held on site-b when `inv` was taken.
fn volume_data(inv: &Inventory, ids: &[String]) -> BTreeSet<u64> {
    ids.iter()
        .map(|id| {
            inv.sites["site-b"]
                .volumes
                .iter()
                .find(|v| &v.id == id)
                .and_then(|v| v.fingerprint)
                .unwrap_or_else(|| panic!("volume {id} on site-b"))
        })
        .collect()
}

fn current_volumes(members: &[Member]) -> Vec<String> {
    members
        .iter()
        .flat_map(|m| m.current.volume_ids.clone())
        .collect()
}

/// Every id the members' current placements use (servers, volumes, ports, array volumes).
fn placement_ids(members: &[Member]) -> Vec<String> {
    members
        .iter()
        .flat_map(|m| {
            let p = &m.current;
            std::iter::once(p.instance_id.clone())
                .chain(p.volume_ids.clone())
                .chain(p.port_ids.clone())
                .chain(p.array_volumes.clone())
        })
        .collect()
}

/// Whether anything on site-b (servers, volumes, ports) or its array has id/name `id`.
fn exists_on_b(inv: &Inventory, id: &str) -> bool {
    let site = &inv.sites["site-b"];
    site.servers.iter().any(|s| s.id == id)
        || site.volumes.iter().any(|v| v.id == id)
        || site.ports.iter().any(|p| p.id == id)
        || inv.arrays["site-b"]
            .volumes
            .iter()
            .any(|v| v.name == id && !v.destroyed)
}

/// Exactly one server of each member on site-b, ACTIVE.
fn assert_one_copy_on_b(inv: &Inventory) {
    for name in MEMBERS {
        let copies: Vec<&str> = inv.sites["site-b"]
            .servers
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.status.as_str())
            .collect();
        assert_eq!(copies, vec!["ACTIVE"], "{name} on site-b");
    }
}

fn replicates_from_b(inv: &Inventory) -> bool {
    inv.arrays["site-b"]
        .protection_groups
        .iter()
        .any(|g| g.name == "pg-prod-web-app")
}

/// Runs `refused`, expecting `kind` with `needle` in the message and nothing changed on the
/// simulator or in either store.
async fn assert_refused<F, T>(env: &Env, kind: ErrorKind, needle: &str, refused: F)
where
    F: std::future::Future<Output = protector_core::Result<T>>,
    T: std::fmt::Debug,
{
    let before = shape(&env.sim.inspect());
    let groups_before = groups(env).await;
    let err = refused.await.unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(needle), "'{err}' lacks '{needle}'");
    assert_eq!(
        shape(&env.sim.inspect()),
        before,
        "a refusal changed the sites"
    );
    assert_eq!(
        groups(env).await,
        groups_before,
        "a refusal changed a store"
    );
}

async fn listed(engine: &Protector) -> RecoveryPoints {
    engine.recovery_points(GROUP).await.unwrap()
}

#[tokio::test]
async fn recovery_points_are_listed_newest_first_with_their_age() {
    let env = three_points().await;
    let points = listed(&env.engine).await;
    assert_eq!(points.site, "site-b");
    assert_eq!(points.array, env.sim.array_name("site-b").unwrap());
    assert!(points.points.len() >= 3, "{points:?}");
    let array_a = env.sim.array_name("site-a").unwrap();
    for pair in points.points.windows(2) {
        assert!(pair[0].created_at > pair[1].created_at, "{points:?}");
        assert!(pair[0].age_secs < pair[1].age_secs, "{points:?}");
    }
    for point in &points.points {
        assert!(point
            .name
            .starts_with(&format!("{array_a}:pg-prod-web-app.")));
        assert!(point.usable && point.progress >= 1.0 && !point.current);
        assert_eq!(
            point.age_secs,
            (points.array_time - point.created_at).num_seconds()
        );
    }
    // A snapshot on its way (the next schedule, caught one simulated second at a time and
    // held there by cutting the link) is listed, not usable (the refusal to recover from it is
    // `choose`'s unit test).
    for _ in 0..400 {
        let inv = env.sim.inspect();
        if inv.arrays["site-b"].snapshots.iter().any(|s| !s.complete) {
            break;
        }
        env.sim.tick(1).unwrap();
    }
    env.sim.set_partition(true).unwrap();
    let points = listed(&env.engine).await;
    let arriving = points
        .points
        .iter()
        .find(|p| !p.usable)
        .expect("a snapshot on its way");
    assert!(arriving.progress < 1.0 && arriving.replicated_at.is_none());
    assert!(points.points.iter().filter(|p| p.usable).count() >= 3);
}

#[tokio::test]
async fn an_unplanned_failover_from_an_older_point_awaits_its_commit_then_rolls_back_and_commits() {
    let env = three_points().await;
    // Inspected once every volume is imported and before any server boots and writes.
    crate::common::keep_phase_barriers(&env).await;
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let points = listed(&engine_b).await.points;
    let (latest, older, oldest) = (&points[0], &points[1], &points[2]);

    // Refused, nothing changed: an unknown point, and a planned failover with a point.
    assert_refused(
        &env,
        ErrorKind::InvalidInput,
        "'no-such-point'",
        engine_b.failover(
            GROUP,
            unplanned_at(Some("no-such-point"), None),
            &NoProgress,
        ),
    )
    .await;
    assert!(env.store_b.list_operations().await.unwrap().is_empty());

    // Recover from the older point, named by its suffix.
    let suffix = older.name.rsplit_once('.').unwrap().1;
    let (at_import, observer) = capture_after(&env, "manage_volumes_site_b");
    let op = engine_b
        .failover(GROUP, unplanned_at(Some(suffix), None), &observer)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert!(
        op.data_loss.as_deref().unwrap().contains(&older.name),
        "{op:?}"
    );
    let first = engine_b.members(GROUP).await.unwrap();
    let at_import = at_import.lock().unwrap().take().expect("import observed");
    let recovered = volume_data(&at_import, &current_volumes(&first));
    assert_eq!(recovered, snapshot_data(&at_import, &older.name));
    assert_ne!(recovered, snapshot_data(&at_import, &latest.name));

    // Uncommitted: the point recorded, not re-protected, failback refused.
    let group = engine_b.group(GROUP).await.unwrap();
    let running = group.recovery_point.clone().expect("the point is recorded");
    assert_eq!(running.snapshot, older.name);
    assert_eq!(running.created_at, older.created_at);
    assert_eq!(running.operation_id, op.id);
    assert_eq!(running.committed_at, None);
    assert!(running.commit_deadline.unwrap() > chrono::Utc::now());
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert!(!replicates_from_b(&env.sim.inspect()));
    let failback = FailbackRequest {
        reverse_replication: true,
        ..FailbackRequest::default()
    };
    assert_refused(
        &env,
        ErrorKind::Conflict,
        "awaits its commit",
        engine_b.failback(GROUP, failback.clone(), &NoProgress),
    )
    .await;

    // The list now shows the points a rollback can use, the current one marked.
    let points_now = listed(&engine_b).await;
    assert_eq!(points_now.site, "site-b");
    let current: Vec<&str> = points_now
        .points
        .iter()
        .filter(|p| p.current)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(current, vec![older.name.as_str()]);

    // Rolling back to the same or a newer point is refused, nothing changed.
    for point in [&older.name, &latest.name] {
        let request = FailoverRollbackRequest {
            recovery_point: Some(point.clone()),
            ..FailoverRollbackRequest::default()
        };
        assert_refused(
            &env,
            ErrorKind::InvalidInput,
            "is not older than",
            engine_b.failover_rollback(GROUP, request, &NoProgress),
        )
        .await;
    }

    // Roll back to the next older point (the default).
    let (at_import, observer) = capture_after(&env, "manage_volumes_site_b");
    let rollback = engine_b
        .failover_rollback(GROUP, FailoverRollbackRequest::default(), &observer)
        .await
        .unwrap();
    assert_eq!(rollback.status, OperationStatus::Completed, "{rollback:?}");
    assert_eq!(rollback.steps_completed[0], "remove_previous_point");
    let second = engine_b.members(GROUP).await.unwrap();
    let at_import = at_import.lock().unwrap().take().expect("import observed");
    let recovered = volume_data(&at_import, &current_volumes(&second));
    assert_eq!(recovered, snapshot_data(&at_import, &oldest.name));
    // The older point's servers, ports, volumes and array copies are gone; one copy runs.
    let inv = env.sim.inspect();
    for id in placement_ids(&first) {
        assert!(
            !exists_on_b(&inv, &id),
            "{id} of the rolled-back point leaked"
        );
    }
    for id in placement_ids(&second) {
        assert!(exists_on_b(&inv, &id), "{id} of the new point is missing");
    }
    assert_one_copy_on_b(&inv);
    let members_on_b = inv.sites["site-b"]
        .volumes
        .iter()
        .filter(|v| current_volumes(&second).contains(&v.id))
        .count();
    assert_eq!(members_on_b, 4);
    let group = engine_b.group(GROUP).await.unwrap();
    let running = group.recovery_point.clone().unwrap();
    assert_eq!(running.snapshot, oldest.name);
    assert_eq!(running.operation_id, rollback.id);
    assert_eq!(running.committed_at, None);
    assert_eq!(group.status, GroupStatus::FailedOver);
    assert_eq!(group.failover_count, 1);
    assert_eq!(group.current_primary_site, "site-b");
    assert_eq!(group.fence_required_on.as_deref(), Some("site-a"));
    for member in &second {
        assert_eq!(member.standby.as_ref().unwrap().site, "site-a");
    }

    // Commit: recorded, and the re-protection runs then.
    let committed = engine_b.failover_commit(GROUP).await.unwrap();
    assert_eq!(committed.replication_note, None);
    assert!(committed
        .group
        .recovery_point
        .unwrap()
        .committed_at
        .is_some());
    assert!(committed.group.metadata.version > group.metadata.version);
    let inv = env.sim.inspect();
    let pg = inv.arrays["site-b"]
        .protection_groups
        .iter()
        .find(|g| g.name == "pg-prod-web-app")
        .expect("re-protected on commit");
    let mut protected = pg.volumes.clone();
    protected.sort();
    let mut running_on: Vec<String> = second
        .iter()
        .flat_map(|m| m.current.array_volumes.clone())
        .collect();
    running_on.sort();
    assert_eq!(protected, running_on);

    // Once committed: no rollback, no second commit.
    assert_refused(
        &env,
        ErrorKind::Conflict,
        "was committed",
        engine_b.failover_rollback(GROUP, FailoverRollbackRequest::default(), &NoProgress),
    )
    .await;
    assert_refused(
        &env,
        ErrorKind::Conflict,
        "was committed",
        engine_b.failover_commit(GROUP),
    )
    .await;
}

#[tokio::test]
async fn a_window_of_zero_commits_at_once_and_a_lapsed_window_counts_as_committed() {
    let env = three_points().await;
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let op = engine_b
        .failover(GROUP, unplanned_at(None, Some(0)), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let group = engine_b.group(GROUP).await.unwrap();
    let running = group.recovery_point.unwrap();
    assert!(running.committed_at.is_some() && running.commit_deadline.is_none());
    assert!(
        replicates_from_b(&env.sim.inspect()),
        "re-protected at once"
    );

    // A window that ended without a commit: the rollback records the commit and refuses.
    let env = three_points().await;
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    engine_b
        .failover(GROUP, unplanned_at(None, None), &NoProgress)
        .await
        .unwrap();
    let mut lapsed = env.store_b.list_groups().await.unwrap().remove(0);
    let point = lapsed.recovery_point.as_mut().unwrap();
    point.commit_deadline = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    env.store_b.put_group(&lapsed).await.unwrap();
    let err = engine_b
        .failover_rollback(GROUP, FailoverRollbackRequest::default(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("counts as committed"), "{err}");
    let group = engine_b.group(GROUP).await.unwrap();
    assert!(group.recovery_point.unwrap().committed_at.is_some());
    assert!(replicates_from_b(&env.sim.inspect()));
}

#[tokio::test]
async fn a_planned_failover_with_a_point_is_refused_and_changes_nothing() {
    let env = three_points().await;
    let older = listed(&env.engine).await.points[1].name.clone();
    let request = FailoverRequest {
        recovery_point: Some(older),
        ..FailoverRequest::planned(mappings())
    };
    assert_refused(
        &env,
        ErrorKind::InvalidInput,
        "planned failover",
        env.engine.failover(GROUP, request, &NoProgress),
    )
    .await;
    assert_refused(
        &env,
        ErrorKind::Conflict,
        "no failover awaiting a commit",
        env.engine.failover_commit(GROUP),
    )
    .await;
}

fn drill_request() -> TestFailoverRequest {
    TestFailoverRequest {
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
        recovery_point: None,
    }
}

#[tokio::test]
async fn a_drill_copies_the_older_point_it_is_given() {
    let env = three_points().await;
    let points = listed(&env.engine).await.points;
    assert_refused(
        &env,
        ErrorKind::InvalidInput,
        "'pg.0'",
        env.engine.test_failover(
            GROUP,
            TestFailoverRequest {
                recovery_point: Some("pg.0".into()),
                ..drill_request()
            },
            &NoProgress,
        ),
    )
    .await;
    let (at_import, observer) = capture_after(&env, "manage_volumes_site_b");
    let op = env
        .engine
        .test_failover(
            GROUP,
            TestFailoverRequest {
                recovery_point: Some(points[2].name.clone()),
                ..drill_request()
            },
            &observer,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    let record = env
        .engine
        .group(GROUP)
        .await
        .unwrap()
        .test_failover
        .unwrap();
    let test_volumes: Vec<String> = record
        .members
        .iter()
        .flat_map(|m| m.volumes.iter().filter_map(|v| v.volume_id.clone()))
        .collect();
    let at_import = at_import.lock().unwrap().take().expect("import observed");
    let copied = volume_data(&at_import, &test_volumes);
    assert_eq!(copied, snapshot_data(&at_import, &points[2].name));
    assert_ne!(copied, snapshot_data(&at_import, &points[0].name));
}

#[tokio::test]
async fn a_rollback_whose_recovery_fails_leaves_nothing_behind_and_the_failover_can_run_again() {
    let env = three_points().await;
    let engine_b = env.engine.on_site("site-b").unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let points = listed(&engine_b).await.points;
    let before = crate::common::existing(&env.sim.inspect());
    engine_b
        .failover(
            GROUP,
            unplanned_at(Some(&points[0].name), None),
            &NoProgress,
        )
        .await
        .unwrap();
    let first = engine_b.members(GROUP).await.unwrap();

    // Every port creation on site-b fails: the recovery from the older point fails and is
    // compensated after the previous point's copies were removed.
    env.sim
        .fail_next(
            "site-b",
            protector_mock::Service::Network,
            "create_port",
            ErrorKind::InvalidInput,
            "port quota exceeded (simulated)",
            50,
        )
        .unwrap();
    let op = engine_b
        .failover_rollback(GROUP, FailoverRollbackRequest::default(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Failed, "{op:?}");
    let inv = env.sim.inspect();
    for id in placement_ids(&first) {
        assert!(
            !exists_on_b(&inv, &id),
            "{id} of the rolled-back point leaked"
        );
    }
    assert_eq!(
        crate::common::existing(&inv)["sites"]["site-b"],
        before["sites"]["site-b"],
        "the failed rollback left something on site-b"
    );
    assert_eq!(
        crate::common::existing(&inv)["arrays"]["site-b"]["volumes"],
        before["arrays"]["site-b"]["volumes"],
        "the failed rollback left an array copy"
    );
    let group = engine_b.group(GROUP).await.unwrap();
    assert_eq!(group.status, GroupStatus::Active, "{group:?}");
    assert_eq!(group.current_primary_site, "site-a");
    assert_eq!(group.recovery_point, None);
    assert_eq!(group.active_operation_id, None);

    // The group is where it was before the first failover: an unplanned one runs again.
    env.sim.clear().unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let op = engine_b
        .failover(
            GROUP,
            unplanned_at(Some(&points[2].name), Some(0)),
            &NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
    assert_one_copy_on_b(&env.sim.inspect());
    let group = engine_b.group(GROUP).await.unwrap();
    assert_eq!(group.recovery_point.unwrap().snapshot, points[2].name);
}
