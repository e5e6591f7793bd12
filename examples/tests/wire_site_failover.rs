//! Issue 6's site failover over the wire (the engine reaches the simulator only through
//! protector-openstack and protector-pure): ten protection groups of three tenants, one failing
//! by an injected boot fault → nine completed, one failed with its error, end states on both
//! sites and both stores; the failed group retried on its own; without the dr_site_admin role
//! the command is refused and nothing changes.
//!
//! Each tenant's groups are created by that tenant's own engine (a clouds.yaml whose `site-a`
//! and `site-b` entries act in the tenant's project); the site failover runs as the DR admin of
//! `production-project` and reaches the other tenants' projects through tenant mappings
//! (`Protector::group_clients`, password credentials re-scoped by project id).

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;

use common::{arrays, engine_with_clouds, wire, write_clouds_yaml, Wire};
use protector_core::engine::{
    AddMember, CreateGroup, CreatePolicy, NoProgress, ProgressObserver, SiteFailoverRequest,
};
use protector_core::model::{
    GroupStatus, Operation, OperationStatus, OperationType, ProtectionGroup, ReplicationType,
    ResourceMappings,
};
use protector_core::plan::FailoverMode;
use protector_core::store::{GroupMappings, Store};
use protector_core::{ErrorKind, Protector};
use protector_mock::{Inventory, NewServer};

// ------------------------------------------------------------------ set-up

/// One protection group of the scenario.
#[derive(Debug, Clone)]
struct GroupSpec {
    name: &'static str,
    tenant: &'static str,
    vms: Vec<&'static str>,
}

/// Ten groups in three tenants: `production-project` (the DR admin's own; no tenant mapping,
/// so its VMs go to the admin's project on site-b), `tenant2` and `tenant3` (mapped). The
/// three seeded VMs of production-project, the seeded tenant2 VM and eight added ones.
fn scenario() -> Vec<GroupSpec> {
    let g = |name, tenant, vms: &[&'static str]| GroupSpec {
        name,
        tenant,
        vms: vms.to_vec(),
    };
    vec![
        g(
            "prod-web-app",
            "production-project",
            &["web-server-1", "web-server-2", "db-server-1"],
        ),
        g("prod-1", "production-project", &["prod-vm-1"]),
        g("prod-2", "production-project", &["prod-vm-2"]),
        g("prod-3", "production-project", &["prod-vm-3"]),
        g("t2-app-group", "tenant2", &["t2-app"]),
        g("t2-1", "tenant2", &["t2-vm-1"]),
        g("t2-2", "tenant2", &["t2-vm-2"]),
        g("t3-1", "tenant3", &["t3-vm-1"]),
        g("t3-2", "tenant3", &["t3-vm-2"]),
        g("t3-3", "tenant3", &["t3-vm-3"]),
    ]
}

/// The group the fault hits, and its VM.
const FAILING_GROUP: &str = "t3-2";
const FAILING_VM: &str = "t3-vm-2";
const BOOT_FAULT: &str = "No valid host was found. There are not enough hosts available.";

const SEEDED: [&str; 4] = ["web-server-1", "web-server-2", "db-server-1", "t2-app"];
const TENANTS: [&str; 3] = ["production-project", "tenant2", "tenant3"];

/// The mappings every group's site failover applies (site-a → site-b).
fn stored_mappings() -> ResourceMappings {
    ResourceMappings {
        networks: ResourceMappings::parse_pairs(
            "network",
            ["net-primary-web=net-secondary-web net-primary-db=net-secondary-db"],
        )
        .unwrap(),
        flavors: ResourceMappings::parse_pairs("flavor", ["m1.large=m2.large m1.small=m2.small"])
            .unwrap(),
        security_groups: BTreeMap::new(),
    }
}

struct World {
    w: Wire,
    groups: Vec<GroupSpec>,
    /// tenant → (project id on site-a, project id on site-b).
    projects: BTreeMap<&'static str, (String, String)>,
}

impl World {
    fn project(&self, tenant: &str, site: &str) -> &str {
        let (a, b) = &self.projects[tenant];
        if site == "site-a" {
            a
        } else {
            b
        }
    }

    fn tenant_of(&self, vm: &str) -> &'static str {
        self.groups
            .iter()
            .find(|g| g.vms.contains(&vm))
            .map(|g| g.tenant)
            .unwrap()
    }

    fn all_vms(&self) -> Vec<&'static str> {
        self.groups.iter().flat_map(|g| g.vms.clone()).collect()
    }
}

/// The engine of `tenant`: its clouds.yaml's `site-a` and `site-b` act in the tenant's project
/// (the DR admin's user, which has a role there). production-project's is the wire engine.
fn tenant_engine(w: &Wire, tenant: &str) -> Protector {
    let clouds = write_clouds_yaml(
        w,
        &format!("clouds-{tenant}.yaml"),
        &[
            ("site-a", "site-a", Some(tenant)),
            ("site-b", "site-b", Some(tenant)),
        ],
    );
    engine_with_clouds(w, &clouds)
}

/// Serves a fresh simulator and sets up `groups` (a subset of [`scenario`] or all of it):
/// tenant3, role grants for the DR admin in tenant2 and tenant3 on both sites, tenant
/// mappings, the added VMs, each group created by its tenant's engine with members and a
/// policy, and its stored mappings (site-a → site-b) on both stores.
async fn build(groups: Vec<GroupSpec>) -> World {
    let w = wire().await;
    w.sim.add_project("tenant3").unwrap();
    let mut projects = BTreeMap::new();
    for tenant in TENANTS {
        let a = w.sim.project_id("site-a", tenant).unwrap();
        let b = w.sim.project_id("site-b", tenant).unwrap();
        projects.insert(tenant, (a, b));
    }
    for site in ["site-a", "site-b"] {
        for tenant in ["tenant2", "tenant3"] {
            w.sim
                .grant_roles(site, "admin", tenant, &["admin", "member", "reader"])
                .unwrap();
        }
    }
    for tenant in ["tenant2", "tenant3"] {
        let (a, b) = &projects[tenant];
        w.engine
            .create_tenant_mapping(a, "site-b", b, tenant)
            .await
            .unwrap();
    }

    let mut next_ip = 100;
    for group in &groups {
        for vm in &group.vms {
            if SEEDED.contains(vm) {
                continue;
            }
            next_ip += 1;
            w.sim
                .add_server(&NewServer {
                    site: "site-a".into(),
                    name: vm.to_string(),
                    project: group.tenant.into(),
                    user: "admin".into(),
                    flavor: "m1.small".into(),
                    key_name: Some("ops-key".into()),
                    nics: vec![("net-primary-web".into(), format!("10.10.1.{next_ip}"))],
                    security_groups: vec!["default".into(), "web".into()],
                    volumes: vec![
                        ("root".into(), 20, "replicated-ssd".into()),
                        ("data".into(), 10, "replicated-ssd".into()),
                    ],
                })
                .unwrap();
        }
    }

    let endpoints = arrays(&w.server.arrays_json());
    let mut engines: BTreeMap<&str, Protector> = BTreeMap::new();
    engines.insert("production-project", w.engine.clone());
    for tenant in ["tenant2", "tenant3"] {
        engines.insert(tenant, tenant_engine(&w, tenant));
    }
    let world = World {
        w,
        groups,
        projects,
    };
    for group in &world.groups {
        let engine = &engines[group.tenant];
        let created = engine
            .create_group(CreateGroup {
                name: group.name.into(),
                description: format!("{} of {}", group.name, group.tenant),
                replication_type: ReplicationType::Async,
                primary_site: "site-a".into(),
                secondary_site: "site-b".into(),
                volume_type: "replicated-ssd".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            created.project_id,
            world.project(group.tenant, "site-a"),
            "{} belongs to {}",
            group.name,
            group.tenant
        );
        for vm in &group.vms {
            let id = world.w.sim.find_server("site-a", vm).unwrap().id;
            engine
                .add_member(group.name, AddMember { instance_id: id })
                .await
                .unwrap();
        }
        engine
            .create_policy(
                group.name,
                CreatePolicy {
                    primary_array: endpoints["site-a"].clone(),
                    secondary_array: endpoints["site-b"].clone(),
                    pure_pg_name: format!("pg-{}", group.name),
                    replication_interval_secs: 300,
                    rpo_minutes: 15,
                },
            )
            .await
            .unwrap();
        // The mappings a site failover applies, written to both stores the way a sync leaves
        // them.
        let mappings = GroupMappings {
            group_id: created.id,
            from_site: "site-a".into(),
            to_site: "site-b".into(),
            mappings: stored_mappings(),
        };
        world.w.store_a.put_mappings(&mappings).await.unwrap();
        world.w.store_b.put_mappings(&mappings).await.unwrap();
    }
    world
}

// ------------------------------------------------------------------ observation

/// Every record the observer was given.
#[derive(Default)]
struct Recorder(Mutex<Vec<Operation>>);

impl ProgressObserver for Recorder {
    fn on_update(&self, operation: &Operation) {
        self.0.lock().unwrap().push(operation.clone());
    }
}

impl Recorder {
    fn all(&self) -> Vec<Operation> {
        self.0.lock().unwrap().clone()
    }
}

fn request(groups: &[&str]) -> SiteFailoverRequest {
    SiteFailoverRequest {
        mode: FailoverMode::Planned,
        concurrency: 4,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        operation_id: None,
    }
}

/// Servers named `name` on `site`: (status, project id).
fn servers<'i>(inventory: &'i Inventory, site: &str, name: &str) -> Vec<(&'i str, &'i str)> {
    inventory.sites[site]
        .servers
        .iter()
        .filter(|s| s.name == name)
        .map(|s| (s.status.as_str(), s.project_id.as_str()))
        .collect()
}

/// The statuses of the servers named `name` on `site`.
fn statuses<'i>(inventory: &'i Inventory, site: &str, name: &str) -> Vec<&'i str> {
    servers(inventory, site, name)
        .into_iter()
        .map(|(status, _)| status)
        .collect()
}

/// Exactly one ACTIVE copy of every VM across both sites.
fn assert_one_running_copy(inventory: &Inventory, vms: &[&str]) {
    for vm in vms {
        let running: usize = ["site-a", "site-b"]
            .iter()
            .map(|site| {
                servers(inventory, site, vm)
                    .iter()
                    .filter(|(status, _)| *status == "ACTIVE")
                    .count()
            })
            .sum();
        assert_eq!(running, 1, "{vm} runs {running} times");
    }
}

/// The VM runs on site-b (one server, ACTIVE, in its tenant's project there, its volumes
/// in-use in that project and a port on it) and its source on site-a is stopped.
fn assert_moved(world: &World, inventory: &Inventory, vm: &str) {
    let project = world.project(world.tenant_of(vm), "site-b");
    assert_eq!(
        servers(inventory, "site-b", vm),
        [("ACTIVE", project)],
        "{vm} on site-b"
    );
    assert_eq!(
        statuses(inventory, "site-a", vm),
        ["SHUTOFF"],
        "{vm} on site-a"
    );
    let b = &inventory.sites["site-b"];
    let server = b.servers.iter().find(|s| s.name == vm).unwrap();
    assert!(!server.volumes.is_empty(), "{vm} has no volumes on site-b");
    for volume in &server.volumes {
        let volume = b.volumes.iter().find(|v| &v.id == volume).unwrap();
        assert_eq!(
            (volume.status.as_str(), volume.project_id.as_str()),
            ("in-use", project),
            "{vm}: {volume:?}"
        );
    }
    assert!(
        b.ports.iter().any(|p| p.device_id == server.id),
        "{vm} has no port on site-b"
    );
}

/// The VM still runs on site-a only and nothing of it is left on site-b.
fn assert_stayed(inventory: &Inventory, vm: &str) {
    assert_eq!(
        statuses(inventory, "site-a", vm),
        ["ACTIVE"],
        "{vm} on site-a"
    );
    let b = &inventory.sites["site-b"];
    assert!(
        servers(inventory, "site-b", vm).is_empty(),
        "{vm} left a server on site-b"
    );
    let prefix = format!("{vm}-");
    assert!(
        !b.volumes.iter().any(|v| v.name.starts_with(&prefix)),
        "{vm} left volumes on site-b"
    );
    assert!(
        !b.ports.iter().any(|p| p.name.starts_with(&prefix)),
        "{vm} left ports on site-b"
    );
}

async fn group_on(store: &std::sync::Arc<dyn Store>, name: &str) -> ProtectionGroup {
    store
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

/// Both stores agree on the group's status and current primary.
async fn assert_group(world: &World, name: &str, status: GroupStatus, primary: &str) {
    for store in [&world.w.store_a, &world.w.store_b] {
        let group = group_on(store, name).await;
        assert_eq!(
            (group.status, group.current_primary_site.as_str()),
            (status, primary),
            "{name}"
        );
    }
}

/// The inventory without what moves on its own (write fingerprints, scheduled snapshots).
fn shape(inventory: &Inventory) -> serde_json::Value {
    let mut v = serde_json::to_value(inventory).unwrap();
    for site in v["sites"].as_object_mut().unwrap().values_mut() {
        for volume in site["volumes"].as_array_mut().unwrap() {
            volume.as_object_mut().unwrap().remove("fingerprint");
        }
    }
    for array in v["arrays"].as_object_mut().unwrap().values_mut() {
        let array = array.as_object_mut().unwrap();
        array.remove("snapshots");
        for volume in array["volumes"].as_array_mut().unwrap() {
            volume.as_object_mut().unwrap().remove("fingerprint");
        }
    }
    v
}

/// What the simulator and both stores hold, for "nothing changed" comparisons.
async fn snapshot(
    w: &Wire,
) -> (
    serde_json::Value,
    Vec<ProtectionGroup>,
    Vec<ProtectionGroup>,
) {
    (
        shape(&w.sim.inspect()),
        w.store_a.list_groups().await.unwrap(),
        w.store_b.list_groups().await.unwrap(),
    )
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_failover_of_ten_groups_in_three_tenants_over_http_survives_one_failure_and_retries_it(
) {
    let world = build(scenario()).await;
    let w = &world.w;
    assert_eq!(world.all_vms().len(), 12);
    // Every group starts on site-a with its VMs running there only.
    let inventory = w.sim.inspect();
    assert_one_running_copy(&inventory, &world.all_vms());
    for vm in world.all_vms() {
        assert_stayed(&inventory, vm);
    }
    w.sim
        .fail_server_boot("site-b", FAILING_VM, BOOT_FAULT)
        .unwrap();

    let recorder = Recorder::default();
    let op = w
        .engine
        .site_failover("site-a", request(&[]), &recorder)
        .await
        .unwrap();

    // The record: nine completed, one failed with its error.
    assert_eq!(op.operation_type, OperationType::SiteFailover);
    assert_eq!(
        op.status,
        OperationStatus::Partial,
        "{:?}",
        op.error_message
    );
    assert_eq!(
        (
            op.total_protection_groups,
            op.completed_count,
            op.failed_count
        ),
        (Some(10), Some(9), Some(1))
    );
    assert_eq!(op.progress, 100);
    assert_eq!(
        (op.source_site.as_str(), op.target_site.as_str()),
        ("site-a", "site-b")
    );
    assert_eq!(op.group_results.len(), 10);
    for result in &op.group_results {
        let spec = world
            .groups
            .iter()
            .find(|g| g.name == result.group_name)
            .unwrap();
        assert_eq!(result.project_id, world.project(spec.tenant, "site-a"));
        let child_id = result
            .operation_id
            .expect("every group ran its own failover");
        let child = w.engine.operation(&child_id.to_string()).await.unwrap();
        assert_eq!(child.operation_type, OperationType::Failover);
        assert_eq!(child.group_id, Some(result.group_id));
        assert_eq!(child.status, result.status);
        if result.group_name == FAILING_GROUP {
            assert_eq!(result.status, OperationStatus::Failed);
            let error = result.error_message.as_deref().unwrap();
            assert!(error.contains(BOOT_FAULT), "{error}");
            assert!(error.contains(FAILING_VM), "{error}");
            assert!(error.contains("rolled back"), "{error}");
            assert_eq!(child.error_message.as_deref(), Some(error));
        } else {
            assert_eq!(
                result.status,
                OperationStatus::Completed,
                "{}: {:?}",
                result.group_name,
                result.error_message
            );
            assert_eq!(result.error_message, None);
        }
    }
    let message = op.error_message.as_deref().unwrap();
    assert!(
        message.starts_with("1 of 10 protection groups did not complete"),
        "{message}"
    );
    assert!(message.contains(FAILING_GROUP), "{message}");

    // What the observer saw: pending first with every group pending, each group running with
    // its operation id before it finished, progress never going back, the last record saved.
    let seen = recorder.all();
    let first = &seen[0];
    assert_eq!(
        (first.id, first.status, first.total_protection_groups),
        (op.id, OperationStatus::Pending, Some(10))
    );
    assert!(first
        .group_results
        .iter()
        .all(|r| r.status == OperationStatus::Pending && r.operation_id.is_none()));
    for result in &op.group_results {
        assert!(
            seen.iter().any(
                |o| o.group_results.iter().any(|r| r.group_id == result.group_id
                    && r.status == OperationStatus::Running
                    && r.operation_id == result.operation_id)
            ),
            "{} was never reported running",
            result.group_name
        );
    }
    assert!(seen.windows(2).all(|s| s[0].progress <= s[1].progress));
    assert_eq!(seen.last(), Some(&op));
    assert_eq!(w.engine.operation(&op.id.to_string()).await.unwrap(), op);
    assert_eq!(w.store_b.get_operation(&op.id).await.unwrap(), Some(op));

    // End states on both sites and in both stores.
    let inventory = w.sim.inspect();
    assert_one_running_copy(&inventory, &world.all_vms());
    for vm in world.all_vms() {
        if vm == FAILING_VM {
            assert_stayed(&inventory, vm);
        } else {
            assert_moved(&world, &inventory, vm);
        }
    }
    // VMs of no group are not touched.
    for vm in ["legacy-app", "ledger-db"] {
        assert_eq!(statuses(&inventory, "site-a", vm), ["ACTIVE"], "{vm}");
        assert!(servers(&inventory, "site-b", vm).is_empty(), "{vm}");
    }
    for group in &world.groups {
        if group.name == FAILING_GROUP {
            assert_group(&world, group.name, GroupStatus::Active, "site-a").await;
        } else {
            assert_group(&world, group.name, GroupStatus::FailedOver, "site-b").await;
        }
    }

    // The failed group alone, once its cause is gone (the boot fault fired once).
    let retry = w
        .engine
        .site_failover("site-a", request(&[FAILING_GROUP]), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        retry.status,
        OperationStatus::Completed,
        "{:?}",
        retry.error_message
    );
    assert_eq!(
        (
            retry.total_protection_groups,
            retry.completed_count,
            retry.failed_count
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(retry.group_results.len(), 1);
    assert_eq!(retry.group_results[0].group_name, FAILING_GROUP);
    let inventory = w.sim.inspect();
    assert_one_running_copy(&inventory, &world.all_vms());
    for vm in world.all_vms() {
        assert_moved(&world, &inventory, vm);
    }
    for group in &world.groups {
        assert_group(&world, group.name, GroupStatus::FailedOver, "site-b").await;
    }

    // Nothing runs on site-a any more: another site failover has nothing in scope.
    let before = snapshot(w).await;
    let empty = w
        .engine
        .site_failover("site-a", request(&[]), &NoProgress)
        .await
        .unwrap();
    assert_eq!(empty.status, OperationStatus::Completed);
    assert_eq!(
        (
            empty.total_protection_groups,
            empty.completed_count,
            empty.failed_count
        ),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(snapshot(w).await, before);
    world.w.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_dr_site_admin_the_site_failover_over_http_is_refused_and_nothing_changes() {
    // One group of each tenant.
    let groups = scenario()
        .into_iter()
        .filter(|g| ["prod-1", "t2-1", "t3-1"].contains(&g.name))
        .collect();
    let world = build(groups).await;
    let w = &world.w;
    // The member user's clouds.yaml: site-a and site-b as `member-user` (member, reader).
    let clouds = write_clouds_yaml(
        w,
        "clouds-member.yaml",
        &[
            ("site-a", "site-a-member", None),
            ("site-b", "site-b-member", None),
        ],
    );
    let member = engine_with_clouds(w, &clouds);

    let before = snapshot(w).await;
    let recorder = Recorder::default();
    let err = member
        .site_failover("site-a", request(&[]), &recorder)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let message = err.to_string();
    for needle in [
        "dr_site_admin",
        "member-user",
        "production-project",
        "site-a",
        "Nothing was changed",
    ] {
        assert!(
            message.contains(needle),
            "'{message}' does not mention '{needle}'"
        );
    }
    // Retrying one group is refused the same way.
    let err = member
        .site_failover("site-a", request(&["t3-1"]), &recorder)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");

    assert!(recorder.all().is_empty());
    assert_eq!(snapshot(w).await, before);
    assert!(w.store_a.list_operations().await.unwrap().is_empty());
    assert!(w.store_b.list_operations().await.unwrap().is_empty());
    let inventory = w.sim.inspect();
    for vm in world.all_vms() {
        assert_stayed(&inventory, vm);
    }

    // The same with the role: every group moves.
    let op = w
        .engine
        .site_failover("site-a", request(&[]), &NoProgress)
        .await
        .unwrap();
    assert_eq!(
        op.status,
        OperationStatus::Completed,
        "{:?}",
        op.error_message
    );
    assert_eq!(
        (
            op.total_protection_groups,
            op.completed_count,
            op.failed_count
        ),
        (Some(3), Some(3), Some(0))
    );
    let inventory = w.sim.inspect();
    assert_one_running_copy(&inventory, &world.all_vms());
    for vm in world.all_vms() {
        assert_moved(&world, &inventory, vm);
    }
    world.w.server.shutdown().await;
}
