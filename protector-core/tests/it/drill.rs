//! DR drill (test failover, spec/002) and its cleanup on the in-process two-site simulator:
//! test copies of every member run on site-b's isolated network from the latest replicated
//! snapshot while production and replication stay untouched; cleanup removes exactly what the
//! drill created, can run again, and reports what it could not remove.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::common::{groups, setup, shape, Env, MEMBERS};

use protector_core::api::ServerStatus;
use protector_core::engine::{NoProgress, ProgressObserver, TestFailoverRequest};
use protector_core::model::{
    GroupStatus, Operation, OperationStatus, OperationType, ProtectionGroup, ResourceMappings,
    TestFailoverRecord, TestFailoverStatus,
};
use protector_core::store::JournalKind;
use protector_core::ErrorKind;
use protector_mock::{Inventory, Service};

const GROUP: &str = "prod-web-app";

/// Both production networks onto site-b's isolated `dr-test-net`, flavors as for a failover.
fn drill_mappings() -> ResourceMappings {
    ResourceMappings {
        networks: ResourceMappings::parse_pairs(
            "network",
            ["net-primary-web=dr-test-net net-primary-db=dr-test-net"],
        )
        .unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large"]).unwrap(),
        ..ResourceMappings::default()
    }
}

fn request() -> TestFailoverRequest {
    TestFailoverRequest {
        mappings: drill_mappings(),
        operation_id: None,
        recovery_point: None,
    }
}

/// [`setup`] plus simulated time for the replication schedule (300 s) to fire and its
/// snapshot to arrive on site-b.
async fn replicated() -> Env {
    let env = setup().await;
    env.sim.tick(320).unwrap();
    env
}

async fn drill(env: &Env) -> protector_core::Result<Operation> {
    env.engine
        .test_failover(GROUP, request(), &NoProgress)
        .await
}

async fn cleanup(env: &Env) -> Operation {
    env.engine
        .test_failover_cleanup(GROUP, None, &NoProgress)
        .await
        .unwrap()
}

/// Changes the drill record the same way in both stores, behind the engine's back.
async fn rewrite_record(env: &Env, change: impl Fn(&mut TestFailoverRecord)) {
    for store in [&env.store_a, &env.store_b] {
        let mut group = store.list_groups().await.unwrap().remove(0);
        change(group.test_failover.as_mut().expect("a drill is recorded"));
        store.put_group(&group).await.unwrap();
    }
}

#[track_caller]
fn assert_completed(op: &Operation) {
    crate::common::assert_completed(op);
    assert_eq!(op.progress, 100);
}

/// Records every progress the observer sees, and the inventory when `step` is done.
struct Watcher {
    sim: protector_mock::Simulator,
    step: &'static str,
    progress: Mutex<Vec<u8>>,
    at_step: Mutex<Option<Inventory>>,
}

impl ProgressObserver for Watcher {
    fn on_update(&self, op: &Operation) {
        self.progress.lock().unwrap().push(op.progress);
        if op.steps_completed.iter().any(|s| s == self.step) {
            let mut at_step = self.at_step.lock().unwrap();
            if at_step.is_none() {
                *at_step = Some(self.sim.inspect());
            }
        }
    }
}

/// The drill record, equal on both sites.
async fn record(env: &Env) -> Option<TestFailoverRecord> {
    let (a, b) = groups(env).await;
    assert_eq!(a, b, "both sites hold the same metadata");
    a.test_failover
}

/// A group without its drill record and what every change moves (version, checksum, time).
fn settled(group: &ProtectionGroup) -> serde_json::Value {
    let mut group = group.clone();
    group.test_failover = None;
    let mut value = serde_json::to_value(group).unwrap();
    let fields = value.as_object_mut().unwrap();
    fields.remove("metadata");
    fields.remove("updated_at");
    value
}

/// Production as it matters: site-a entirely, and every protection group on both arrays.
fn production(inventory: &Inventory) -> serde_json::Value {
    let shaped = shape(inventory);
    serde_json::json!({
        "site-a": shaped["sites"]["site-a"],
        "array-a": shaped["arrays"]["site-a"],
        "pgroups-b": shaped["arrays"]["site-b"]["protection_groups"],
    })
}

fn assert_production_active(env: &Env, ids: &[String]) {
    for (name, id) in MEMBERS.iter().zip(ids) {
        let server = env.sim.find_server("site-a", name).unwrap();
        assert_eq!(&server.id, id, "{name} is the same server");
        assert_eq!(server.status, ServerStatus::Active, "{name} keeps running");
    }
}

fn production_ids(env: &Env) -> Vec<String> {
    MEMBERS
        .iter()
        .map(|name| env.sim.find_server("site-a", name).unwrap().id)
        .collect()
}

/// Asserts that nothing named `test-` is left anywhere and that both sites look as `before`.
fn assert_nothing_left(env: &Env, before: &serde_json::Value) {
    let after = env.sim.inspect();
    for (site, inventory) in &after.sites {
        assert!(
            inventory
                .servers
                .iter()
                .all(|s| !s.name.starts_with("test-")),
            "test server left on {site}: {:?}",
            inventory.servers
        );
        assert!(
            inventory
                .volumes
                .iter()
                .all(|v| !v.name.starts_with("test-")),
            "test volume left on {site}"
        );
        assert!(
            inventory.ports.iter().all(|p| !p.name.starts_with("test-")),
            "test port left on {site}"
        );
    }
    for (site, array) in &after.arrays {
        assert!(
            array.volumes.iter().all(|v| !v.name.starts_with("test-")),
            "test array volume left on {site}: {:?}",
            array.volumes
        );
    }
    assert_eq!(&shape(&after), before, "the inventories differ from before");
}

#[tokio::test]
async fn drill_runs_test_copies_on_the_isolated_network_and_leaves_production_untouched() {
    let env = replicated().await;
    let before = env.sim.inspect();
    let ids = production_ids(&env);
    let (group_before, _) = groups(&env).await;
    let members = env.engine.members(GROUP).await.unwrap();

    // Watch progress, and read site-b the moment the copies are imported (before any boot).
    let watcher = Watcher {
        sim: env.sim.clone(),
        step: "manage_volumes_site_b",
        progress: Mutex::default(),
        at_step: Mutex::default(),
    };
    let op = env
        .engine
        .test_failover(GROUP, request(), &watcher)
        .await
        .unwrap();
    assert_completed(&op);
    assert_eq!(op.operation_type, OperationType::TestFailover);
    assert_eq!(
        (op.source_site.as_str(), op.target_site.as_str()),
        ("site-a", "site-b")
    );
    assert_eq!((op.instances_created, op.instances_failed), (3, 0));
    assert_eq!(op.error_message, None);
    assert_eq!(
        op.steps_completed,
        [
            "validate_sites",
            "create_test_record",
            "identify_snapshot",
            "create_volumes_site_b",
            "manage_volumes_site_b",
            "create_ports_site_b",
            "create_instances_site_b",
            "verify_instances",
            "update_protection_group"
        ]
    );
    let seen = watcher.progress.lock().unwrap().clone();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&100));
    // The other site keeps the operation too.
    assert_eq!(
        env.store_b.get_operation(&op.id).await.unwrap().unwrap(),
        op
    );

    // The record, on both sites; the group itself did not move.
    let record = record(&env).await.expect("the drill is recorded");
    assert_eq!(record.operation_id, op.id);
    assert_eq!(record.status, TestFailoverStatus::Ready);
    assert_eq!(record.site, "site-b");
    assert!(record.errors.is_empty());
    let (group, _) = groups(&env).await;
    assert_eq!(group.status, GroupStatus::Active);
    assert_eq!(group.current_primary_site, "site-a");
    assert_eq!(settled(&group), settled(&group_before));
    assert_eq!(env.engine.members(GROUP).await.unwrap(), members);
    assert!(env.engine.sync_status(GROUP).await.unwrap().in_sync);

    // Site-b: one ACTIVE test copy per member, only on the isolated network.
    let after = env.sim.inspect();
    let clients_b = env.engine.clients("site-b").await.unwrap();
    let test_net = clients_b
        .network
        .find_network("dr-test-net")
        .await
        .unwrap()
        .unwrap();
    for member in &members {
        let test = record
            .members
            .iter()
            .find(|m| m.member_id == member.id)
            .unwrap();
        assert_eq!(test.server_name, format!("test-{}", member.instance_name));
        let server_id = test.server_id.as_deref().unwrap();
        let server = env.sim.find_server("site-b", &test.server_name).unwrap();
        assert_eq!(server.id, server_id);
        assert_eq!(
            (server.status, server.flavor_name.as_str()),
            (ServerStatus::Active, "m2.large")
        );
        // Its ports: exactly the recorded ones, one per NIC, all on the isolated network.
        let ports: Vec<_> = after.sites["site-b"]
            .ports
            .iter()
            .filter(|p| p.device_id == server_id)
            .collect();
        let port_ids: BTreeSet<_> = ports.iter().map(|p| p.id.clone()).collect();
        assert_eq!(port_ids, test.port_ids.iter().cloned().collect());
        assert_eq!(port_ids.len(), member.recovery.networks.len());
        for port in &ports {
            assert_eq!(port.network_id, test_net.id, "{}", member.instance_name);
            assert!(port.fixed_ips[0].ip_address.starts_with("10.99.0."));
        }
        // Volumes: test-<name>, holding the replicated snapshot's data when imported.
        let at_import = watcher.at_step.lock().unwrap().clone();
        let at_import = at_import.expect("the observer saw the import");
        let snapshot = at_import.arrays["site-b"]
            .snapshots
            .iter()
            .find(|s| s.name == record.snapshot)
            .cloned()
            .expect("the snapshot used exists on site-b");
        for (spec, volume) in member.recovery.volumes.iter().zip(&test.volumes) {
            assert_eq!(volume.name, format!("test-{}", spec.name));
            assert_eq!(volume.source_volume_id, spec.volume_id);
            let id = volume.volume_id.as_deref().unwrap();
            let imported = at_import.sites["site-b"]
                .volumes
                .iter()
                .find(|v| v.id == id)
                .unwrap()
                .clone();
            assert_eq!(imported.name, volume.name);
            assert_eq!(
                imported.fingerprint,
                Some(snapshot.fingerprints[&spec.array_volume]),
                "{}: the test copy holds the replicated snapshot",
                volume.name
            );
            // Production kept writing after that snapshot: the copy is not its live data.
            assert!(
                env.sim
                    .array_volume_fingerprint("site-a", &spec.array_volume)
                    .unwrap()
                    > snapshot.fingerprints[&spec.array_volume]
            );
            assert!(after.arrays["site-b"]
                .volumes
                .iter()
                .any(|v| volume.array_volumes.contains(&v.name)));
        }
    }
    let site_b = &after.sites["site-b"];
    assert_eq!(site_b.servers.len(), 3);
    assert_eq!(site_b.volumes.len(), 4);
    assert_eq!(site_b.ports.len(), 4);

    // Production and replication: untouched (no quiesce, no snapshot, same protection groups).
    assert_production_active(&env, &ids);
    assert_eq!(production(&after), production(&before));
    let snapshot_names = |inventory: &Inventory, site: &str| -> Vec<String> {
        inventory.arrays[site]
            .snapshots
            .iter()
            .map(|s| s.name.clone())
            .collect()
    };
    assert_eq!(
        snapshot_names(&after, "site-a"),
        snapshot_names(&before, "site-a"),
        "the drill took no snapshot"
    );
    let journal = env.store_a.list_journal(&op.id).await.unwrap();
    assert!(journal.iter().all(|e| !e.step.starts_with("stop_server")
        && !e.step.contains("snapshot:")
        && e.step != "final_snapshot"));
}

#[tokio::test]
async fn cleanup_removes_exactly_what_the_drill_created_and_can_run_again() {
    let env = replicated().await;
    let ids = production_ids(&env);
    let before = shape(&env.sim.inspect());
    let op = drill(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);

    let cleaned = cleanup(&env).await;
    assert_completed(&cleaned);
    assert_eq!(cleaned.operation_type, OperationType::TestCleanup);
    assert_eq!(
        cleaned.steps_completed,
        [
            "validate_sites",
            "delete_instances_site_b",
            "delete_ports_site_b",
            "delete_volumes_site_b",
            "delete_array_volumes_site_b",
            "update_protection_group"
        ]
    );
    assert_nothing_left(&env, &before);
    assert_production_active(&env, &ids);
    assert_eq!(record(&env).await, None);
    assert!(env.engine.sync_status(GROUP).await.unwrap().in_sync);
    // Every removal is journaled, intent then outcome.
    let journal = env.store_a.list_journal(&cleaned.id).await.unwrap();
    let servers_deleted = journal
        .iter()
        .filter(|e| e.step.starts_with("delete:server ") && e.kind == JournalKind::Done)
        .count();
    assert_eq!(servers_deleted, 3, "{journal:#?}");
    assert!(journal.iter().all(|e| e.kind != JournalKind::Failed));

    // Again: nothing to do, nothing touched.
    let groups_before = groups(&env).await;
    let again = cleanup(&env).await;
    assert_eq!(again.status, OperationStatus::Completed);
    assert_eq!(again.error_message, None);
    assert_nothing_left(&env, &before);
    assert_eq!(groups(&env).await, groups_before);

    // The group can be drilled again afterwards.
    let op = drill(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    assert_eq!(cleanup(&env).await.status, OperationStatus::Completed);
    assert_nothing_left(&env, &before);
}

#[tokio::test]
async fn a_second_drill_is_refused_until_cleanup() {
    let env = replicated().await;
    let first = drill(&env).await.unwrap();
    assert_eq!(first.status, OperationStatus::Completed);
    let id = first.id.to_string();
    let needles = ["already has a DR drill", id.as_str(), "cleanup"];
    assert_refused(&env, request(), ErrorKind::Conflict, &needles).await;
}

/// Asserts a refused drill changed nothing on either site or store.
async fn assert_refused(
    env: &Env,
    request: TestFailoverRequest,
    kind: ErrorKind,
    needles: &[&str],
) {
    let before = shape(&env.sim.inspect());
    let groups_before = groups(env).await;
    let operations_before = env.store_a.list_operations().await.unwrap();
    let err = env
        .engine
        .test_failover(GROUP, request, &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), kind, "{err}");
    for needle in needles {
        assert!(err.to_string().contains(needle), "'{err}' lacks '{needle}'");
    }
    assert_eq!(
        shape(&env.sim.inspect()),
        before,
        "a refused drill changed a site"
    );
    assert_eq!(
        groups(env).await,
        groups_before,
        "a refused drill changed a store"
    );
    assert_eq!(
        env.store_a.list_operations().await.unwrap(),
        operations_before
    );
}

#[tokio::test]
async fn an_unmapped_network_is_refused_naming_it_before_anything_happens() {
    let env = replicated().await;
    let mut partial = request();
    partial.mappings.networks.remove("net-primary-db");
    assert_refused(
        &env,
        partial,
        ErrorKind::ValidationFailed,
        &[
            "net-primary-db",
            "db-server-1",
            "map network 'net-primary-db' to an isolated network on site-b",
        ],
    )
    .await;
}

#[tokio::test]
async fn nothing_replicated_yet_is_refused() {
    let env = setup().await;
    assert_refused(
        &env,
        request(),
        ErrorKind::NotFound,
        &["no fully replicated snapshot", "site-b"],
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_peer_refuses_the_drill() {
    let env = replicated().await;
    env.sim.set_site_down("site-b", true).unwrap();
    assert_refused(&env, request(), ErrorKind::Unavailable, &["unreachable"]).await;

    // Standing on site-b with site-a down: the drill needs nothing from site-a's cloud, but
    // its record must reach site-a's metadata first.
    env.sim.set_site_down("site-b", false).unwrap();
    env.sim.set_site_down("site-a", true).unwrap();
    let on_b = env.engine.on_site("site-b").unwrap();
    let before = shape(&env.sim.inspect());
    let groups_before = groups(&env).await;
    let err = on_b
        .test_failover(GROUP, request(), &NoProgress)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("'site-a' unreachable"), "{err}");
    assert_eq!(shape(&env.sim.inspect()), before);
    assert_eq!(groups(&env).await, groups_before);
}

#[tokio::test]
async fn groups_in_flight_or_fenced_are_refused() {
    let env = replicated().await;
    for change in [
        (|g: &mut ProtectionGroup| g.status = GroupStatus::FailingOver) as fn(&mut ProtectionGroup),
        |g| g.fence_required_on = Some("site-a".into()),
    ] {
        let (mut a, mut b) = groups(&env).await;
        let original = (a.clone(), b.clone());
        change(&mut a);
        change(&mut b);
        env.store_a.put_group(&a).await.unwrap();
        env.store_b.put_group(&b).await.unwrap();
        assert_refused(&env, request(), ErrorKind::Conflict, &["prod-web-app"]).await;
        env.store_a.put_group(&original.0).await.unwrap();
        env.store_b.put_group(&original.1).await.unwrap();
    }
}

#[tokio::test]
async fn a_fault_during_the_drill_is_compensated_completely() {
    for (service, operation, kind, message, step) in [
        (
            Service::Compute,
            "create_server",
            ErrorKind::InvalidInput,
            "Invalid block device mapping (simulated).",
            "create_instances_site_b",
        ),
        (
            Service::Volume,
            "manage_volume",
            ErrorKind::PermissionDenied,
            "Policy doesn't allow volume_extension:volume_manage to be performed.",
            "manage_volumes_site_b",
        ),
        (
            Service::Network,
            "create_port",
            ErrorKind::Conflict,
            "IP address already allocated (simulated).",
            "create_ports_site_b",
        ),
    ] {
        let env = replicated().await;
        let ids = production_ids(&env);
        let before = shape(&env.sim.inspect());
        env.sim
            .fail_next("site-b", service, operation, kind, message, 1)
            .unwrap();
        let op = drill(&env).await.unwrap();
        assert_eq!(op.status, OperationStatus::Failed, "{operation}");
        let text = op.error_message.clone().unwrap();
        assert!(text.contains(message), "{text}");
        assert!(
            text.contains("rolled back: nothing was left on site-b"),
            "{text}"
        );
        assert_eq!(op.steps_failed, [step]);
        let journal = env.store_a.list_journal(&op.id).await.unwrap();
        let failed = journal
            .iter()
            .find(|e| e.kind == JournalKind::Failed)
            .expect("the failed side effect is journaled");
        assert_eq!(failed.detail["kind"], serde_json::json!(kind), "{failed:?}");

        assert_nothing_left(&env, &before);
        assert_production_active(&env, &ids);
        assert_eq!(record(&env).await, None, "{operation}");
        // And the next drill runs.
        assert_eq!(
            drill(&env).await.unwrap().status,
            OperationStatus::Completed
        );
    }
}

#[tokio::test]
async fn a_cleanup_that_cannot_remove_everything_reports_it_and_the_next_one_finishes() {
    let env = replicated().await;
    let before = shape(&env.sim.inspect());
    drill(&env).await.unwrap();
    env.sim
        .fail_next(
            "site-b",
            Service::Compute,
            "delete_server",
            ErrorKind::Unavailable,
            "Nova API is down (simulated).",
            1,
        )
        .unwrap();
    let first = cleanup(&env).await;
    assert_eq!(first.status, OperationStatus::Partial, "{first:?}");
    let text = first.error_message.clone().unwrap();
    assert!(text.contains("Nova API is down"), "{text}");
    assert!(text.contains("run the cleanup again"), "{text}");
    assert_eq!(first.steps_failed, ["delete_instances_site_b"]);
    let kept = record(&env).await.expect("the record keeps what is left");
    assert_eq!(kept.status, TestFailoverStatus::CleanupIncomplete);
    assert_eq!(kept.errors.len(), 1, "{:?}", kept.errors);
    let left: Vec<_> = kept.members.iter().filter(|m| !m.is_removed()).collect();
    assert_eq!(left.len(), 1, "one member's server could not be deleted");
    let member = left[0];
    // Its server survived, so its ports and volumes were left attached to it.
    assert!(member.server_id.is_some());
    assert!(!member.port_ids.is_empty());
    assert!(member.volumes.iter().all(|v| v.volume_id.is_some()));
    let site_b = &env.sim.inspect().sites["site-b"];
    assert_eq!(site_b.servers.len(), 1);
    assert_eq!(site_b.servers[0].name, member.server_name);

    assert_completed(&cleanup(&env).await);
    assert_nothing_left(&env, &before);
    assert_eq!(record(&env).await, None);
}

#[tokio::test]
async fn a_test_instance_in_error_gives_partial_and_cleanup_removes_it_too() {
    let env = replicated().await;
    let before = shape(&env.sim.inspect());
    env.sim
        .fail_server_boot(
            "site-b",
            "test-web-server-2",
            "No valid host was found. There are not enough hosts available.",
        )
        .unwrap();
    let op = drill(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Partial);
    assert_eq!((op.instances_created, op.instances_failed), (2, 1));
    let text = op.error_message.unwrap();
    assert!(text.contains("test-web-server-2"), "{text}");
    assert!(text.contains("No valid host"), "{text}");
    let kept = record(&env).await.unwrap();
    assert_eq!(kept.status, TestFailoverStatus::Ready);
    let failed: Vec<_> = kept.members.iter().filter(|m| m.error.is_some()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].instance_name, "web-server-2");

    assert_eq!(cleanup(&env).await.status, OperationStatus::Completed);
    assert_nothing_left(&env, &before);
}

#[tokio::test]
async fn cleanup_of_an_interrupted_drill_finds_its_resources_by_their_tags() {
    let env = replicated().await;
    let before = shape(&env.sim.inspect());
    let op = drill(&env).await.unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    // As if the engine had died after creating everything but before recording it.
    let mut stuck = op.clone();
    stuck.status = OperationStatus::Running;
    env.store_a.put_operation(&stuck).await.unwrap();
    rewrite_record(&env, |record| {
        record.status = TestFailoverStatus::Running;
        for member in &mut record.members {
            member.server_id = None;
            member.port_ids.clear();
            for volume in &mut member.volumes {
                volume.volume_id = None;
                volume.array_volumes.truncate(1);
            }
        }
    })
    .await;
    let cleaned = cleanup(&env).await;
    assert_completed(&cleaned);
    assert_nothing_left(&env, &before);
    assert_eq!(record(&env).await, None);
    // The drill's operation no longer claims to run.
    let closed = env.store_a.get_operation(&op.id).await.unwrap().unwrap();
    assert_eq!(closed.status, OperationStatus::Failed);
    assert!(closed
        .error_message
        .unwrap()
        .contains(&format!("cleanup op-{}", cleaned.id)));
}

#[tokio::test]
async fn cleanup_leaves_alone_what_does_not_carry_the_drill_tag() {
    let env = replicated().await;
    drill(&env).await.unwrap();
    // A record pointing at a production server (a corrupted or forged record).
    let production_server = env.sim.find_server("site-a", "web-server-1").unwrap().id;
    rewrite_record(&env, |record| {
        record.site = "site-a".into();
        record.members.truncate(1);
        let member = &mut record.members[0];
        member.server_id = Some(production_server.clone());
        member.port_ids.clear();
        member.volumes.clear();
    })
    .await;
    let op = cleanup(&env).await;
    assert_eq!(op.status, OperationStatus::Failed, "{op:?}");
    let text = op.error_message.unwrap();
    assert!(text.contains("does not carry the tag"), "{text}");
    let server = env.sim.find_server("site-a", "web-server-1").unwrap();
    assert_eq!(server.id, production_server);
    assert_eq!(server.status, ServerStatus::Active);
    assert!(record(&env).await.is_some(), "the record is kept");
}

#[tokio::test]
async fn cleanup_while_the_drill_site_is_down_removes_nothing_and_keeps_the_record() {
    let env = replicated().await;
    let before = shape(&env.sim.inspect());
    drill(&env).await.unwrap();
    let drilled = shape(&env.sim.inspect());
    let kept = record(&env).await;
    env.sim.set_site_down("site-b", true).unwrap();
    let op = cleanup(&env).await;
    assert_eq!(op.status, OperationStatus::Failed);
    assert_eq!(op.steps_failed, ["validate_sites"]);
    let text = op.error_message.unwrap();
    assert!(text.contains("site-b"), "{text}");
    assert!(text.contains("run the cleanup again"), "{text}");
    assert_eq!(record(&env).await, kept);
    env.sim.set_site_down("site-b", false).unwrap();
    assert_eq!(shape(&env.sim.inspect()), drilled);

    assert_completed(&cleanup(&env).await);
    assert_nothing_left(&env, &before);
}
