//! Crash injection: every operation kind is killed after each of its journal writes, in
//! turn, and then recovered by a new engine over the same stores and clouds.
//!
//! The kill: from the chosen write on, every store call of the engine never returns, and the
//! operation's future is dropped with the engine (what a killed process does: nothing after
//! that write reaches the store; calls already sent to the clouds may still take effect).
//! Recovery (`recover_operation`, which continues the operation by default) must then bring
//! every run to the operation's normal end state: one running copy of each VM, nothing
//! leaked on either site or array, the data promised.
//!
//! Each test prints how many crash points it covered; `crash_points_cover_every_write`
//! checks each kind reached them all.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::common::{mappings, setup, Env, MEMBERS};
use protector_core::engine::{
    EngineOptions, FailbackRequest, FailoverRequest, NoProgress, OperationRequest, PollPolicy,
    SiteFailoverRequest, TestFailoverRequest,
};
use protector_core::model::{
    GroupStatus, Member, Operation, OperationStatus, ProtectionGroup, ReplicationPolicy,
    ResourceMappings, Site, TenantMapping,
};
use protector_core::plan::FailoverMode;
use protector_core::store::{
    GroupDocument, GroupMappings, JournalEntry, Lease, LeaseAttempt, LockAttempt, Store,
    SyncLogEntry, SyncState, VersionCheck,
};
use protector_core::{Protector, Result};
use protector_mock::Inventory;

/// When the process dies: after `budget` more journal writes.
#[derive(Debug, Default)]
struct Trip {
    armed: AtomicBool,
    budget: AtomicUsize,
    writes: AtomicUsize,
    dead: AtomicBool,
    died: tokio::sync::Notify,
}

impl Trip {
    fn arm(&self, after_writes: usize) {
        self.writes.store(0, Ordering::SeqCst);
        self.budget.store(after_writes, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Never returns once the process is dead.
    async fn alive(&self) {
        if self.dead.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }

    /// After a journal write: dies when it was the chosen one.
    async fn wrote(&self) {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.armed.load(Ordering::SeqCst) && n == self.budget.load(Ordering::SeqCst) {
            self.dead.store(true, Ordering::SeqCst);
            self.died.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

/// A store whose process can be killed (see [`Trip`]).
#[derive(Debug)]
struct Mortal {
    inner: Arc<dyn Store>,
    trip: Arc<Trip>,
}

#[async_trait]
impl Store for Mortal {
    async fn put_site(&self, site: &Site) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_site(site).await
    }

    async fn get_site(&self, name: &str) -> Result<Option<Site>> {
        self.trip.alive().await;
        self.inner.get_site(name).await
    }

    async fn list_sites(&self) -> Result<Vec<Site>> {
        self.trip.alive().await;
        self.inner.list_sites().await
    }

    async fn delete_site(&self, name: &str) -> Result<()> {
        self.trip.alive().await;
        self.inner.delete_site(name).await
    }

    async fn put_group(&self, group: &ProtectionGroup) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_group(group).await
    }

    async fn get_group(&self, id: &Uuid) -> Result<Option<ProtectionGroup>> {
        self.trip.alive().await;
        self.inner.get_group(id).await
    }

    async fn list_groups(&self) -> Result<Vec<ProtectionGroup>> {
        self.trip.alive().await;
        self.inner.list_groups().await
    }

    async fn delete_group(&self, id: &Uuid) -> Result<()> {
        self.trip.alive().await;
        self.inner.delete_group(id).await
    }

    async fn put_member(&self, member: &Member) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_member(member).await
    }

    async fn list_members(&self, group_id: &Uuid) -> Result<Vec<Member>> {
        self.trip.alive().await;
        self.inner.list_members(group_id).await
    }

    async fn delete_member(&self, id: &Uuid) -> Result<()> {
        self.trip.alive().await;
        self.inner.delete_member(id).await
    }

    async fn put_policy(&self, policy: &ReplicationPolicy) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_policy(policy).await
    }

    async fn get_policy(&self, group_id: &Uuid) -> Result<Option<ReplicationPolicy>> {
        self.trip.alive().await;
        self.inner.get_policy(group_id).await
    }

    async fn put_mappings(&self, mappings: &GroupMappings) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_mappings(mappings).await
    }

    async fn list_mappings(&self, group_id: &Uuid) -> Result<Vec<GroupMappings>> {
        self.trip.alive().await;
        self.inner.list_mappings(group_id).await
    }

    async fn apply_document(&self, document: &GroupDocument) -> Result<()> {
        self.trip.alive().await;
        self.inner.apply_document(document).await
    }

    async fn apply_document_if(&self, document: &GroupDocument, check: VersionCheck) -> Result<()> {
        self.trip.alive().await;
        self.inner.apply_document_if(document, check).await
    }

    async fn put_tenant_mapping(&self, mapping: &TenantMapping) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_tenant_mapping(mapping).await
    }

    async fn list_tenant_mappings(&self) -> Result<Vec<TenantMapping>> {
        self.trip.alive().await;
        self.inner.list_tenant_mappings().await
    }

    async fn put_operation(&self, operation: &Operation) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_operation(operation).await
    }

    async fn get_operation(&self, id: &Uuid) -> Result<Option<Operation>> {
        self.trip.alive().await;
        self.inner.get_operation(id).await
    }

    async fn list_operations(&self) -> Result<Vec<Operation>> {
        self.trip.alive().await;
        self.inner.list_operations().await
    }

    async fn list_journal(&self, operation_id: &Uuid) -> Result<Vec<JournalEntry>> {
        self.trip.alive().await;
        self.inner.list_journal(operation_id).await
    }

    async fn put_sync_state(&self, state: &SyncState) -> Result<()> {
        self.trip.alive().await;
        self.inner.put_sync_state(state).await
    }

    async fn get_sync_state(&self, group_id: &Uuid) -> Result<Option<SyncState>> {
        self.trip.alive().await;
        self.inner.get_sync_state(group_id).await
    }

    async fn append_sync_log(&self, entry: &SyncLogEntry) -> Result<()> {
        self.trip.alive().await;
        self.inner.append_sync_log(entry).await
    }

    async fn list_sync_log(&self, group_id: &Uuid, limit: usize) -> Result<Vec<SyncLogEntry>> {
        self.trip.alive().await;
        self.inner.list_sync_log(group_id, limit).await
    }

    async fn lock_operation(&self, id: &Uuid) -> Result<LockAttempt> {
        self.trip.alive().await;
        self.inner.lock_operation(id).await
    }

    async fn append_journal(&self, entry: &JournalEntry) -> Result<u64> {
        self.trip.alive().await;
        let seq = self.inner.append_journal(entry).await?;
        self.trip.wrote().await;
        Ok(seq)
    }

    async fn acquire_lease(
        &self,
        id: &Uuid,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<LeaseAttempt> {
        self.trip.alive().await;
        self.inner.acquire_lease(id, holder, ttl).await
    }

    async fn renew_lease(&self, id: &Uuid, holder: &str, ttl: std::time::Duration) -> Result<bool> {
        self.trip.alive().await;
        self.inner.renew_lease(id, holder, ttl).await
    }

    async fn release_lease(&self, id: &Uuid, holder: &str) -> Result<()> {
        self.trip.alive().await;
        self.inner.release_lease(id, holder).await
    }

    async fn get_lease(&self, id: &Uuid) -> Result<Option<Lease>> {
        self.trip.alive().await;
        self.inner.get_lease(id).await
    }
}

fn engine(env: &Env, local: &str, trip: Option<&Arc<Trip>>) -> Protector {
    let store = |inner: &Arc<dyn Store>| -> Arc<dyn Store> {
        match trip {
            Some(trip) => Arc::new(Mortal {
                inner: inner.clone(),
                trip: trip.clone(),
            }),
            None => inner.clone(),
        }
    };
    Protector::builder()
        .with_local_site(local)
        .with_store("site-a", store(&env.store_a))
        .with_store("site-b", store(&env.store_b))
        .with_connector(Arc::new(env.sim.connector()))
        .with_options(EngineOptions {
            poll: PollPolicy::immediate(500),
            member_concurrency: 4,
            ..EngineOptions::default()
        })
        .build()
        .unwrap()
}

/// One operation kind under test: how to reach the state it starts from, how to submit it,
/// and what its normal end looks like.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Planned,
    Unplanned,
    Failback,
    Drill,
    Cleanup,
    SiteFailover,
}

impl Kind {
    /// The site the operator stands on.
    fn local(self) -> &'static str {
        match self {
            Kind::Unplanned => "site-b",
            _ => "site-a",
        }
    }

    async fn prepare(self, env: &Env) {
        match self {
            Kind::Failback => {
                crate::common::planned_failover(env).await.unwrap();
            }
            Kind::Drill => env.sim.tick(320).unwrap(),
            Kind::Cleanup => {
                env.sim.tick(320).unwrap();
                let op = env
                    .engine
                    .test_failover("prod-web-app", drill_request(), &NoProgress)
                    .await
                    .unwrap();
                assert_eq!(op.status, OperationStatus::Completed, "{op:?}");
            }
            Kind::Unplanned => {
                // A replicated snapshot to recover from, then site-a is lost.
                env.sim.tick(320).unwrap();
                env.sim.set_site_down("site-a", true).unwrap();
            }
            Kind::SiteFailover => {
                env.engine
                    .set_mappings("prod-web-app", "site-a", mappings(), true)
                    .await
                    .unwrap();
            }
            Kind::Planned => {}
        }
    }

    fn request(self) -> OperationRequest {
        let group = "prod-web-app".to_string();
        match self {
            Kind::Planned => OperationRequest::Failover {
                group,
                request: FailoverRequest::planned(mappings()),
            },
            Kind::Unplanned => OperationRequest::Failover {
                group,
                request: FailoverRequest {
                    mode: FailoverMode::Unplanned,
                    ..FailoverRequest::planned(mappings())
                },
            },
            Kind::Failback => OperationRequest::Failback {
                group,
                request: FailbackRequest::default(),
            },
            Kind::Drill => OperationRequest::TestFailover {
                group,
                request: drill_request(),
            },
            Kind::Cleanup => OperationRequest::TestFailoverCleanup { group },
            Kind::SiteFailover => OperationRequest::SiteFailover {
                site: "site-a".into(),
                request: SiteFailoverRequest {
                    mode: FailoverMode::Planned,
                    concurrency: 1,
                    groups: Vec::new(),
                    operation_id: None,
                },
            },
        }
    }

    /// Where each member runs at the normal end: (site-a, site-b) running copies.
    fn placement(self) -> (usize, usize) {
        match self {
            Kind::Failback | Kind::Drill | Kind::Cleanup => (1, 0),
            _ => (0, 1),
        }
    }

    fn group_status(self) -> GroupStatus {
        match self {
            Kind::Failback | Kind::Drill | Kind::Cleanup => GroupStatus::Active,
            _ => GroupStatus::FailedOver,
        }
    }
}

/// Both production networks onto site-b's isolated `dr-test-net`.
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

fn running(inventory: &Inventory, site: &str, name: &str) -> usize {
    inventory.sites[site]
        .servers
        .iter()
        .filter(|s| s.name == name && s.status == "ACTIVE")
        .count()
}

/// Runs `kind` with the process killed after journal write `crash_after` (none: to its end),
/// then recovers it with a fresh engine. Returns how many journal writes the run made before
/// it died or ended.
async fn crash_and_recover(kind: Kind, crash_after: Option<usize>) -> usize {
    crash_and_recover_with(kind, crash_after, false).await.0
}

/// [`crash_and_recover`], with the members in boot tiers when `tiered` (see
/// `boot_order::tier`); also returns the steps of the run's journal writes.
async fn crash_and_recover_with(
    kind: Kind,
    crash_after: Option<usize>,
    tiered: bool,
) -> (usize, Vec<String>) {
    let env = setup().await;
    if tiered {
        crate::boot_order::tier(&env).await;
    }
    kind.prepare(&env).await;
    let trip = Arc::new(Trip::default());
    let id = {
        let mortal = engine(&env, kind.local(), Some(&trip));
        // The engine's futures are large (a debug build keeps a slot per temporary): boxed, so
        // this frame stays small on the test threads' 2 MiB stacks.
        let submitted = Box::pin(mortal.submit(kind.request())).await.unwrap();
        let id = submitted.operation.id;
        trip.arm(crash_after.unwrap_or(usize::MAX));
        let run = Box::pin(mortal.run(id, NoProgress));
        tokio::select! {
            biased;
            () = trip.died.notified() => {}
            result = run => {
                let op = result.unwrap();
                assert!(crash_after.is_none() || !trip.dead.load(Ordering::SeqCst), "{op:?}");
            }
        }
        id
        // The run's future and the engine are dropped here: the process is gone.
    };
    let writes = trip.writes.load(Ordering::SeqCst);
    let engine = engine(&env, kind.local(), None);
    let op = Box::pin(engine.recover_operation(&format!("op-{id}")))
        .await
        .unwrap_or_else(|e| panic!("{kind:?}, crash after write {crash_after:?}: recover: {e}"));
    let at = format!("{kind:?} killed after journal write {crash_after:?} of {writes}");
    assert!(
        matches!(op.status, OperationStatus::Completed),
        "{at}: {op:#?}"
    );
    // Recovering again changes nothing.
    let again = Box::pin(engine.recover_operation(&format!("op-{id}")))
        .await
        .unwrap();
    assert_eq!(again.status, op.status, "{at}");
    assert_end_state(&env, &engine, kind, &at).await;
    if tiered {
        let order: Vec<Vec<String>> = op.boot_waves.iter().map(|w| w.members.clone()).collect();
        assert_eq!(
            order,
            [["db-server-1"], ["web-server-1"], ["web-server-2"]],
            "{at}"
        );
    }
    let journal = env.store_a.list_journal(&id).await.unwrap();
    (writes, journal.into_iter().map(|e| e.step).collect())
}

/// The normal end state of `kind`: each member runs once where it should, the group is
/// settled on both sites, and nothing is left over.
async fn assert_end_state(env: &Env, engine: &Protector, kind: Kind, at: &str) {
    let inventory = env.sim.inspect();
    let group = engine.group("prod-web-app").await.unwrap();
    for vm in MEMBERS {
        let copies = (
            running(&inventory, "site-a", vm),
            running(&inventory, "site-b", vm),
        );
        if matches!(kind, Kind::Unplanned) {
            // Lost with its site: the old copy is fenced (stopped) once site-a answers.
            assert_eq!(copies.1, 1, "{at}: running copies of {vm} on site-b");
            assert_eq!(group.fence_required_on.as_deref(), Some("site-a"), "{at}");
            continue;
        }
        assert_eq!(
            copies,
            kind.placement(),
            "{at}: running copies of {vm} on (site-a, site-b)"
        );
    }
    assert_eq!(group.status, kind.group_status(), "{at}");
    assert_eq!(group.active_operation_id, None, "{at}");
    let drill_up = matches!(kind, Kind::Drill);
    assert_eq!(group.test_failover.is_some(), drill_up, "{at}");
    // Nothing leaked: site-b holds exactly the recovered (or test) copies, or nothing.
    let site_b = &inventory.sites["site-b"];
    let (servers, volumes, ports) = if kind.placement() == (0, 1) || drill_up {
        (3, 4, 4)
    } else {
        (0, 0, 0)
    };
    assert_eq!(site_b.servers.len(), servers, "{at}: servers on site-b");
    assert_eq!(site_b.volumes.len(), volumes, "{at}: volumes on site-b");
    assert_eq!(site_b.ports.len(), ports, "{at}: ports on site-b");
    // No stray array volume: every copy a run makes is either managed into Cinder (which
    // renames it `volume-<id>-cinder`) or removed; every managed one belongs to a live volume.
    let managed: Vec<&str> = inventory
        .sites
        .values()
        .flat_map(|s| s.volumes.iter())
        .filter_map(|v| v.array_volume.as_deref())
        .collect();
    for array in inventory.arrays.values() {
        for volume in array.volumes.iter().filter(|v| !v.destroyed) {
            let name = volume.name.as_str();
            assert!(
                !name.starts_with("protector-") && !name.starts_with("test-"),
                "{at}: stray copy {name} on array {}",
                array.name
            );
            if name.ends_with("-cinder") {
                assert!(
                    managed.contains(&name),
                    "{at}: array volume {name} on {} belongs to no Cinder volume",
                    array.name
                );
            }
        }
    }
    // Planned moves lose nothing: every recovered volume holds at least the source's last
    // write (the source VMs were stopped before the final snapshot).
    if matches!(kind, Kind::Planned | Kind::SiteFailover) {
        for member in engine.members("prod-web-app").await.unwrap() {
            let standby = member.standby.expect("failed over");
            for (i, array_volume) in standby.array_volumes.iter().enumerate() {
                let source = env
                    .sim
                    .array_volume_fingerprint("site-a", array_volume)
                    .unwrap();
                let target = site_b
                    .volumes
                    .iter()
                    .find(|v| v.id == member.current.volume_ids[i])
                    .and_then(|v| v.fingerprint)
                    .unwrap();
                assert!(target >= source, "{at}: {array_volume} lost writes");
            }
        }
    }
}

/// Kills `kind` after each of its journal writes in turn; returns how many crash points ran.
async fn every_crash_point(kind: Kind) -> usize {
    let total = crash_and_recover(kind, None).await;
    assert!(total > 0, "{kind:?} wrote no journal");
    for n in 1..=total {
        crash_and_recover(kind, Some(n)).await;
    }
    eprintln!("crash injection: {kind:?}: {total} crash points covered");
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failover_killed_after_any_journal_write_is_finished_by_recovery() {
    assert!(every_crash_point(Kind::Planned).await >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unplanned_failover_killed_after_any_journal_write_is_finished_by_recovery() {
    assert!(every_crash_point(Kind::Unplanned).await >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failback_killed_after_any_journal_write_is_finished_by_recovery() {
    assert!(every_crash_point(Kind::Failback).await >= 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_killed_after_any_journal_write_is_finished_by_recovery() {
    assert!(every_crash_point(Kind::Drill).await >= 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_cleanup_killed_after_any_journal_write_is_finished_by_recovery() {
    assert!(every_crash_point(Kind::Cleanup).await >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_failover_killed_after_any_journal_write_is_finished_by_recovery() {
    assert!(every_crash_point(Kind::SiteFailover).await >= 10);
}

/// Killed after each journal write of its instance phase (wave starts and ends, server
/// creates): the recovered failover boots the rest in order and ends as a normal one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_failover_killed_mid_wave_is_finished_by_recovery_in_order() {
    let (total, steps) = crash_and_recover_with(Kind::Planned, None, true).await;
    let points: Vec<usize> = steps
        .iter()
        .take(total)
        .enumerate()
        .filter(|(_, step)| step.starts_with("boot_wave:") || step.starts_with("create_server:"))
        .map(|(i, _)| i + 1)
        .collect();
    assert!(points.len() >= 9, "{steps:?}");
    for n in &points {
        crash_and_recover_with(Kind::Planned, Some(*n), true).await;
    }
    eprintln!(
        "crash injection: tiered failover: {} crash points in its waves",
        points.len()
    );
}
