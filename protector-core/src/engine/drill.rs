//! Test failover (DR drill, spec/002) and its cleanup.
//!
//! A drill brings the group's VMs up on its current secondary site from the latest fully
//! replicated snapshot, as `test-` copies on isolated networks, while production keeps running:
//! no VM is stopped, no snapshot is taken, the FlashArray protection group, its schedule and its
//! snapshots are only read.
//!
//! 1. Before anything is created: the group is not in flight nor fenced and has no drill yet,
//!    every NIC's network is mapped, the failover planner finds nothing blocking on the drill
//!    site, a fully replicated snapshot holds every member volume; then the drill record
//!    ([`TestFailoverRecord`]) is written on both sites (the peer must answer).
//! 2. Storage: each volume snapshot is copied to a `test-` array volume and managed into Cinder
//!    as `test-<volume name>`.
//! 3. Instances: ports on the mapped networks, servers `test-<instance name>`, ACTIVE.
//! 4. Finalization: the record lists every resource created, on both sites.
//!
//! The record is the drill's undo list. A failure removes what it lists (compensation); cleanup
//! removes what it lists and nothing else: each server, volume and port must carry the drill's
//! operation tag before it is removed. Something already gone counts as removed, so cleanup can
//! run again; whatever could not be removed stays in the record with the reason.
//!
//! Shared helpers written here for any operation (failover.rs could use them too):
//! [`Tracker`] (operation record, steps and progress, journal), [`each_bounded`],
//! [`wait_server_booted`], [`wait_volume_available`], [`remove_server`], [`remove_volume`],
//! [`remove_array_volume`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::planner::{site_token, FailoverRequest};
use super::progress::ProgressObserver;
use super::sync::PeerPolicy;
use super::validate::{Finding, ValidationReport};
use super::wait::{wait_for, PollOutcome, PollPolicy};
use super::Protector;
use crate::api::{
    ArrayApi, BlockDevice, BlockStorageApi, ComputeApi, CopyVolume, CreatePort, CreateServer,
    ListPorts, ListServers, ListVolumes, ManageVolume, Server, ServerStatus, SiteClients, Volume,
};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    Member, Operation, OperationStatus, OperationType, Phase, ProtectionGroup, ResourceMappings,
    TestFailoverRecord, TestFailoverStatus, TestMember, TestVolume,
};
use crate::plan::{MemberPlan, Plan};
use crate::store::{GroupDocument, JournalEntry, JournalKind, RemoteSyncStatus};

/// Ask for a DR drill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFailoverRequest {
    /// Mappings from the current primary to the isolated test networks of the secondary
    /// (merged over stored ones).
    pub mappings: ResourceMappings,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
}

/// Prefix of every name a drill gives (array volumes, Cinder volumes, ports, servers).
const TEST_PREFIX: &str = "test-";
/// Server and volume metadata key naming the operation that created the resource.
const OPERATION_TAG: &str = "protector:operation";
/// Server and volume metadata key naming the member a resource belongs to.
const MEMBER_TAG: &str = "protector:member";

/// Planner findings that do not concern a drill: it never touches the source site, its array or
/// its VMs, and it checks the group status itself (a drill may run while failed over).
const NOT_FOR_DRILLS: [&str; 4] = [
    "group_not_active",
    "source_unreachable",
    "source_array_unreachable",
    "source_server_missing",
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn test_name(name: &str) -> String {
    format!("{TEST_PREFIX}{name}")
}

/// The description a drill gives the ports of one member: what cleanup looks for.
fn port_description(operation_id: Uuid, instance_name: &str) -> String {
    format!("protector:{operation_id}:create_port:{instance_name}")
}

// ------------------------------------------------------------------ operation bookkeeping

/// One step of an operation: its name, its phase and the progress reached once it is done.
#[derive(Debug, Clone)]
pub(super) struct StepSpec {
    name: String,
    phase: Phase,
    done_at: u8,
}

impl StepSpec {
    pub(super) fn new(name: impl Into<String>, phase: Phase, done_at: u8) -> Self {
        StepSpec {
            name: name.into(),
            phase,
            done_at,
        }
    }
}

/// Keeps an operation record up to date while it runs: steps, phase and progress, the
/// journal of side effects, the progress observer, the final record on both sites.
pub(super) struct Tracker<'a> {
    engine: &'a Protector,
    observer: &'a dyn ProgressObserver,
    steps: Vec<StepSpec>,
    op: Mutex<Operation>,
    /// Another site whose store keeps the final record, so `operation show` works there too.
    peer: Option<String>,
}

impl<'a> Tracker<'a> {
    pub(super) fn new(
        engine: &'a Protector,
        observer: &'a dyn ProgressObserver,
        op: Operation,
        steps: Vec<StepSpec>,
        peer: Option<String>,
    ) -> Self {
        Tracker {
            engine,
            observer,
            steps,
            op: Mutex::new(op),
            peer,
        }
    }

    pub(super) fn id(&self) -> Uuid {
        lock(&self.op).id
    }

    pub(super) fn edit<R>(&self, f: impl FnOnce(&mut Operation) -> R) -> R {
        f(&mut lock(&self.op))
    }

    /// Stores the record and tells the observer.
    pub(super) async fn publish(&self) -> Result<()> {
        let op = lock(&self.op).clone();
        self.engine.store().put_operation(&op).await?;
        self.observer.on_update(&op);
        Ok(())
    }

    fn spec(&self, name: &str) -> Option<&StepSpec> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// `name` starts: the operation enters its phase.
    pub(super) async fn begin(&self, name: &str) -> Result<()> {
        if let Some(phase) = self.spec(name).map(|s| s.phase) {
            self.edit(|op| op.phase = phase);
        }
        self.publish().await
    }

    /// `name` is done: recorded, progress advanced to the step's mark.
    pub(super) async fn done(&self, name: &str) -> Result<()> {
        let done_at = self.spec(name).map_or(0, |s| s.done_at);
        self.edit(|op| {
            op.steps_completed.push(name.to_string());
            op.progress = op.progress.max(done_at);
        });
        self.publish().await
    }

    /// The first step not done yet: the one that failed when the operation fails.
    fn pending_step(&self) -> String {
        let op = lock(&self.op);
        self.steps
            .iter()
            .find(|s| !op.steps_completed.contains(&s.name))
            .map_or_else(|| "unknown".to_string(), |s| s.name.clone())
    }

    /// Appends to the operation's journal; a journal that cannot be written is logged only.
    pub(super) async fn journal(&self, step: &str, kind: JournalKind, detail: serde_json::Value) {
        let operation_id = self.id();
        let entry = JournalEntry {
            operation_id,
            seq: 0,
            step: step.to_string(),
            kind,
            idempotency_key: format!("{operation_id}:{step}"),
            detail,
            at: Utc::now(),
        };
        if let Err(e) = self.engine.store().append_journal(&entry).await {
            tracing::warn!(error = %e, step, "could not write the journal");
        }
    }

    /// Runs one side effect with its intent and its outcome journaled.
    pub(super) async fn effect<T: Serialize>(
        &self,
        step: &str,
        intent: serde_json::Value,
        side_effect: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.journal(step, JournalKind::Intent, intent).await;
        let outcome = side_effect.await;
        let (kind, detail) = match &outcome {
            Ok(value) => (
                JournalKind::Done,
                serde_json::to_value(value).unwrap_or_default(),
            ),
            Err(e) => (
                JournalKind::Failed,
                json!({"kind": e.kind(), "error": e.message()}),
            ),
        };
        self.journal(step, kind, detail).await;
        outcome
    }

    /// Ends the operation with `status` and stores the final record on both sites.
    pub(super) async fn finish(
        &self,
        status: OperationStatus,
        error_message: Option<String>,
    ) -> Operation {
        let failed_step = (status != OperationStatus::Completed).then(|| self.pending_step());
        let op = self.edit(|op| {
            op.status = status;
            op.completed_at = Some(Utc::now());
            op.error_message = error_message;
            if status == OperationStatus::Failed {
                op.steps_failed
                    .extend(failed_step.filter(|step| !op.steps_failed.contains(step)));
            } else {
                op.progress = 100;
                op.phase = Phase::Finalization;
            }
            op.clone()
        });
        if let Err(e) = self.engine.store().put_operation(&op).await {
            tracing::warn!(error = %e, "could not record the operation");
        }
        if let Some(peer) = self.peer.as_deref() {
            if let Ok(store) = self.engine.store_of(peer) {
                let _ = store.put_operation(&op).await;
            }
        }
        self.observer.on_update(&op);
        op
    }
}

/// Runs `f` on every item, at most `limit` at once. Every item runs; the first error wins.
pub(super) async fn each_bounded<'i, T, F, Fut>(items: &'i [T], limit: usize, f: F) -> Result<()>
where
    F: FnMut(&'i T) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let results: Vec<Result<()>> = stream::iter(items)
        .map(f)
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

// ------------------------------------------------------------------ resource helpers

/// Waits until server `id` has finished booting, ACTIVE or ERROR, and returns it.
pub(super) async fn wait_server_booted(
    compute: &Arc<dyn ComputeApi>,
    id: &str,
    what: &str,
    poll: &PollPolicy,
) -> Result<Server> {
    wait_for(&format!("{what} to become ACTIVE"), poll, || async move {
        Ok(match compute.get_server(id).await? {
            Some(s) if matches!(s.status, ServerStatus::Active | ServerStatus::Error) => {
                PollOutcome::Ready(s)
            }
            Some(s) => PollOutcome::Pending(s.status.as_str().to_string()),
            None => PollOutcome::Pending("not visible yet".into()),
        })
    })
    .await
}

/// Waits until Cinder volume `id` is `available` (after a manage); an `error*` status fails at
/// once.
pub(super) async fn wait_volume_available(
    storage: &Arc<dyn BlockStorageApi>,
    id: &str,
    what: &str,
    poll: &PollPolicy,
) -> Result<Volume> {
    wait_for(
        &format!("{what} to become available"),
        poll,
        || async move {
            match storage.get_volume(id).await? {
                Some(v) if v.status == "available" => Ok(PollOutcome::Ready(v)),
                Some(v) if v.status.starts_with("error") => Err(Error::unexpected(format!(
                    "{what} went to status {}: check the cinder-volume log",
                    v.status
                ))),
                Some(v) => Ok(PollOutcome::Pending(v.status)),
                None => Ok(PollOutcome::Pending("not visible yet".into())),
            }
        },
    )
    .await
}

/// Deletes server `id` and waits until it is gone. A missing server counts as deleted.
pub(super) async fn remove_server(
    compute: &Arc<dyn ComputeApi>,
    id: &str,
    poll: &PollPolicy,
) -> Result<()> {
    compute.delete_server(id).await?;
    wait_for(&format!("server {id} to be deleted"), poll, || async move {
        Ok(match compute.get_server(id).await? {
            None => PollOutcome::Ready(()),
            Some(s) if s.status == ServerStatus::Deleted => PollOutcome::Ready(()),
            Some(s) => PollOutcome::Pending(s.status.as_str().to_string()),
        })
    })
    .await
}

/// Deletes Cinder volume `id` (Cinder removes its array volume) once it is detached and
/// settled, and waits until it is gone. A missing volume counts as deleted.
pub(super) async fn remove_volume(
    storage: &Arc<dyn BlockStorageApi>,
    id: &str,
    poll: &PollPolicy,
) -> Result<()> {
    // `deleting`: someone already deletes it; wait until it is gone.
    const BUSY: [&str; 6] = [
        "creating",
        "attaching",
        "detaching",
        "reserved",
        "in-use",
        "deleting",
    ];
    let settled = wait_for(&format!("volume {id} to detach"), poll, || async move {
        Ok(match storage.get_volume(id).await? {
            Some(v) if !v.attachments.is_empty() || BUSY.contains(&v.status.as_str()) => {
                PollOutcome::Pending(v.status)
            }
            other => PollOutcome::Ready(other.is_some()),
        })
    })
    .await?;
    if !settled {
        return Ok(());
    }
    storage.delete_volume(id).await?;
    wait_for(&format!("volume {id} to be deleted"), poll, || async move {
        match storage.get_volume(id).await? {
            None => Ok(PollOutcome::Ready(())),
            Some(v) if v.status == "error_deleting" => Err(Error::unexpected(format!(
                "volume {id} went to status error_deleting: check the cinder-volume log, then reset its state"
            ))),
            Some(v) => Ok(PollOutcome::Pending(v.status)),
        }
    })
    .await
}

/// Destroys and eradicates array volume `name`. A missing volume counts as removed.
pub(super) async fn remove_array_volume(array: &Arc<dyn ArrayApi>, name: &str) -> Result<()> {
    array.destroy_volume(name).await?;
    array.eradicate_volume(name).await
}

// ------------------------------------------------------------------ removal

/// Removes what a drill record lists from the drill site, phase by phase, keeping in the
/// record whatever could not be removed and why.
///
/// A member whose server could not be removed keeps its ports and volumes (they are still
/// attached); a volume Cinder could not delete keeps its array volume.
struct Remover<'a> {
    clients: &'a SiteClients,
    array: &'a Arc<dyn ArrayApi>,
    poll: &'a PollPolicy,
    limit: usize,
    record: Mutex<TestFailoverRecord>,
    errors: Mutex<Vec<String>>,
}

impl<'a> Remover<'a> {
    fn new(
        clients: &'a SiteClients,
        array: &'a Arc<dyn ArrayApi>,
        poll: &'a PollPolicy,
        limit: usize,
        record: TestFailoverRecord,
    ) -> Self {
        Remover {
            clients,
            array,
            poll,
            limit,
            record: Mutex::new(record),
            errors: Mutex::new(Vec::new()),
        }
    }

    fn site(&self) -> String {
        lock(&self.record).site.clone()
    }

    fn tag(&self) -> String {
        lock(&self.record).operation_id.to_string()
    }

    fn members(&self) -> Vec<TestMember> {
        lock(&self.record).members.clone()
    }

    fn update(&self, member_id: Uuid, f: impl FnOnce(&mut TestMember)) {
        if let Some(m) = lock(&self.record)
            .members
            .iter_mut()
            .find(|m| m.member_id == member_id)
        {
            f(m);
        }
    }

    fn failed(&self, what: String, e: &Error) {
        lock(&self.errors).push(format!("{what} on {}: {}", self.site(), e.message()));
    }

    fn not_ours(&self, what: &str) -> Error {
        Error::conflict(format!(
            "{what} does not carry the tag of drill {}, so it was left alone: remove it by hand if it is a leftover",
            self.tag()
        ))
    }

    /// Finds, by their tags, the resources of a drill that was interrupted before it could
    /// record them.
    async fn discover(&self) -> Result<()> {
        let tag = (OPERATION_TAG.to_string(), self.tag());
        let servers = self
            .clients
            .compute
            .list_servers(&ListServers {
                metadata: Some(tag.clone()),
                ..ListServers::default()
            })
            .await?;
        let volumes = self
            .clients
            .block_storage
            .list_volumes(&ListVolumes {
                metadata: Some(tag),
                ..ListVolumes::default()
            })
            .await?;
        let operation_id = lock(&self.record).operation_id;
        for member in self.members() {
            let ports = self
                .clients
                .network
                .list_ports(&ListPorts {
                    description: Some(port_description(operation_id, &member.instance_name)),
                    ..ListPorts::default()
                })
                .await?;
            let member_tag = member.member_id.to_string();
            let server = servers
                .iter()
                .find(|s| s.metadata.get(MEMBER_TAG) == Some(&member_tag));
            self.update(member.member_id, |m| {
                if m.server_id.is_none() {
                    m.server_id = server.map(|s| s.id.clone());
                }
                for port in ports {
                    if !m.port_ids.contains(&port.id) {
                        m.port_ids.push(port.id);
                    }
                }
                for volume in &mut m.volumes {
                    let found = volumes.iter().find(|v| {
                        v.metadata.get("protector:source_volume") == Some(&volume.source_volume_id)
                    });
                    if let (None, Some(found)) = (&volume.volume_id, found) {
                        volume.volume_id = Some(found.id.clone());
                        volume.array_volumes.extend(found.array_volume.clone());
                    }
                }
            });
        }
        Ok(())
    }

    async fn servers(&self) {
        let members = self.members();
        let _ = each_bounded(&members, self.limit, |member| async move {
            let Some(id) = member.server_id.clone() else {
                return Ok(());
            };
            let what = format!("server {id} ({})", member.server_name);
            let compute = &self.clients.compute;
            let result = match compute.get_server(&id).await {
                Ok(None) => Ok(()),
                Ok(Some(s)) if s.metadata.get(OPERATION_TAG) != Some(&self.tag()) => {
                    Err(self.not_ours(&what))
                }
                Ok(Some(_)) => remove_server(compute, &id, self.poll).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => self.update(member.member_id, |m| m.server_id = None),
                Err(e) => self.failed(what, &e),
            }
            Ok(())
        })
        .await;
    }

    async fn ports(&self) {
        let members = self.members();
        let _ = each_bounded(&members, self.limit, |member| async move {
            if member.server_id.is_some() {
                return Ok(());
            }
            let prefix = format!("protector:{}:", self.tag());
            for id in &member.port_ids {
                let network = &self.clients.network;
                let what = format!("port {id} of {}", member.server_name);
                let result = match network.get_port(id).await {
                    Ok(None) => Ok(()),
                    Ok(Some(p)) if !p.description.starts_with(&prefix) => Err(self.not_ours(&what)),
                    Ok(Some(_)) => network.delete_port(id).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => self.update(member.member_id, |m| m.port_ids.retain(|p| p != id)),
                    Err(e) => self.failed(what, &e),
                }
            }
            Ok(())
        })
        .await;
    }

    async fn volumes(&self) {
        let members = self.members();
        let _ = each_bounded(&members, self.limit, |member| async move {
            if member.server_id.is_some() {
                return Ok(());
            }
            for (index, volume) in member.volumes.iter().enumerate() {
                let Some(id) = volume.volume_id.clone() else {
                    continue;
                };
                let storage = &self.clients.block_storage;
                let what = format!("volume {id} ({})", volume.name);
                let result = match storage.get_volume(&id).await {
                    Ok(None) => Ok(()),
                    Ok(Some(v)) if v.metadata.get(OPERATION_TAG) != Some(&self.tag()) => {
                        Err(self.not_ours(&what))
                    }
                    Ok(Some(_)) => remove_volume(storage, &id, self.poll).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => self.update(member.member_id, |m| m.volumes[index].volume_id = None),
                    Err(e) => self.failed(what, &e),
                }
            }
            Ok(())
        })
        .await;
    }

    async fn array_volumes(&self) {
        let members = self.members();
        let _ = each_bounded(&members, self.limit, |member| async move {
            for (index, volume) in member.volumes.iter().enumerate() {
                // Still in Cinder: its array volume goes with it.
                if volume.volume_id.is_some() {
                    continue;
                }
                for name in &volume.array_volumes {
                    match remove_array_volume(self.array, name).await {
                        Ok(()) => self.update(member.member_id, |m| {
                            m.volumes[index].array_volumes.retain(|n| n != name);
                        }),
                        Err(e) => self.failed(format!("array volume {name}"), &e),
                    }
                }
            }
            Ok(())
        })
        .await;
    }

    /// Every phase in order.
    async fn all(&self) {
        self.servers().await;
        self.ports().await;
        self.volumes().await;
        self.array_volumes().await;
    }

    /// The record as it stands now, and what could not be removed.
    fn into_parts(self) -> (TestFailoverRecord, Vec<String>) {
        let record = self
            .record
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let errors = self
            .errors
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        (record, errors)
    }
}

// ------------------------------------------------------------------ the drill

/// Everything a drill needs once it has been found possible.
struct DrillPlan {
    plan: Plan,
    group: ProtectionGroup,
    snapshot: String,
    /// Array copy name → volume snapshot it is copied from.
    sources: BTreeMap<String, String>,
    clients: SiteClients,
    array: Arc<dyn ArrayApi>,
}

struct Drill<'a> {
    engine: &'a Protector,
    tracker: Tracker<'a>,
    plan: DrillPlan,
    record: Mutex<TestFailoverRecord>,
}

fn drill_steps(site: &str) -> Vec<StepSpec> {
    let t = site_token(site);
    vec![
        StepSpec::new("validate_sites", Phase::Preparation, 10),
        StepSpec::new("create_test_record", Phase::Preparation, 20),
        StepSpec::new("identify_snapshot", Phase::Storage, 25),
        StepSpec::new(format!("create_volumes_{t}"), Phase::Storage, 40),
        StepSpec::new(format!("manage_volumes_{t}"), Phase::Storage, 60),
        StepSpec::new(format!("create_ports_{t}"), Phase::Instances, 70),
        StepSpec::new(format!("create_instances_{t}"), Phase::Instances, 80),
        StepSpec::new("verify_instances", Phase::Instances, 90),
        StepSpec::new("update_protection_group", Phase::Finalization, 100),
    ]
}

fn cleanup_steps(site: &str) -> Vec<StepSpec> {
    let t = site_token(site);
    vec![
        StepSpec::new("validate_sites", Phase::Preparation, 15),
        StepSpec::new(format!("delete_instances_{t}"), Phase::Instances, 40),
        StepSpec::new(format!("delete_ports_{t}"), Phase::Instances, 55),
        StepSpec::new(format!("delete_volumes_{t}"), Phase::Storage, 75),
        StepSpec::new(format!("delete_array_volumes_{t}"), Phase::Storage, 90),
        StepSpec::new("update_protection_group", Phase::Finalization, 100),
    ]
}

/// The mappings stored for one direction of a group.
fn stored_mappings(document: &GroupDocument, from: &str, to: &str) -> ResourceMappings {
    let mut merged = ResourceMappings::default();
    for stored in &document.mappings {
        if stored.from_site == from && stored.to_site == to {
            merged = merged.merged_with(&stored.mappings);
        }
    }
    merged
}

/// A finding for every NIC whose network is not mapped: a drill never falls back to a network
/// of the same id, which could be a production one.
fn unmapped_networks(members: &[Member], mappings: &ResourceMappings, site: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for member in members {
        for nic in &member.recovery.networks {
            if mappings.networks.contains_key(&nic.network_id)
                || mappings.networks.contains_key(&nic.network_name)
            {
                continue;
            }
            findings.push(
                Finding::error(
                    ErrorKind::ValidationFailed,
                    "drill_network_unmapped",
                    format!(
                        "network {} ({}) of member {} is not mapped to an isolated network on {site}: a drill never attaches test VMs to an unmapped network; pass --network-mapping {}=<isolated network on {site}>",
                        nic.network_name, nic.network_id, member.instance_name, nic.network_name
                    ),
                )
                .for_member(&member.instance_name),
            );
        }
    }
    findings
}

impl Protector {
    /// Runs a DR drill of `group` on its current secondary site.
    ///
    /// Returns `Err` when the drill is refused before anything happens (group in flight or
    /// fenced, a drill already exists, an unmapped network, nothing replicated yet, the peer
    /// site unreachable, …); nothing changed then. Once started, returns the operation record:
    /// `completed`, `partial` (some test VMs did not become ACTIVE; they stay for inspection
    /// until cleanup) or `failed` (everything the drill created was removed again, or what
    /// could not be is listed in the message and in the drill record for cleanup).
    pub async fn test_failover(
        &self,
        group: &str,
        request: TestFailoverRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let group = self.group(group).await?;
        let operation_id = request.operation_id.unwrap_or_else(Uuid::new_v4);
        let plan = self.plan_drill(group, &request, operation_id).await?;
        let target = plan.plan.target_site.clone();
        let mut op = Operation::start(
            OperationType::TestFailover,
            Some((&plan.group.id, &plan.group.name)),
            &plan.plan.source_site,
            &target,
            Utc::now(),
        );
        op.id = operation_id;
        let record = TestFailoverRecord {
            operation_id,
            status: TestFailoverStatus::Running,
            source_site: plan.plan.source_site.clone(),
            site: target.clone(),
            snapshot: plan.snapshot.clone(),
            started_at: op.started_at,
            completed_at: None,
            members: plan
                .plan
                .members
                .iter()
                .map(|m| TestMember {
                    member_id: m.member_id,
                    instance_name: m.instance_name.clone(),
                    server_name: test_name(&m.instance_name),
                    server_id: None,
                    port_ids: Vec::new(),
                    volumes: m
                        .volumes
                        .iter()
                        .map(|v| TestVolume {
                            source_volume_id: v.source_volume_id.clone(),
                            name: v.name.clone(),
                            volume_id: None,
                            array_volumes: vec![v.copy_name.clone()],
                        })
                        .collect(),
                    error: None,
                })
                .collect(),
            errors: Vec::new(),
        };
        // The record is the drill's lock and undo list: both sites hold it before anything
        // is created, or the drill does not start.
        let mut document = self.document(plan.group.clone()).await?;
        document.group.test_failover = Some(record.clone());
        self.commit(document, "test-failover-start", PeerPolicy::Required)
            .await?;

        let peer = plan.group.peer_of(self.local_site()).to_string();
        let drill = Drill {
            engine: self,
            tracker: Tracker::new(self, observer, op, drill_steps(&target), Some(peer)),
            plan,
            record: Mutex::new(record),
        };
        let outcome = drill.execute().await;
        Ok(match outcome {
            Ok(()) => drill.finish().await,
            Err(error) => drill.roll_back(error).await,
        })
    }

    /// Everything that can refuse a drill before it changes anything.
    async fn plan_drill(
        &self,
        group: ProtectionGroup,
        request: &TestFailoverRequest,
        operation_id: Uuid,
    ) -> Result<DrillPlan> {
        let name = group.name.clone();
        if group.status.is_in_flight() {
            return Err(Error::conflict(format!(
                "cannot run a DR drill of protection group '{name}' while it is {}: wait for the running operation to finish",
                group.status
            )));
        }
        if let Some(site) = &group.fence_required_on {
            return Err(Error::conflict(format!(
                "cannot run a DR drill of protection group '{name}': its VMs on {site} must first be confirmed stopped (fence the old primary)"
            )));
        }
        if let Some(existing) = &group.test_failover {
            return Err(Error::conflict(format!(
                "protection group '{name}' already has a DR drill (operation {}, {} on {}, started {}): run the drill cleanup of '{name}' first",
                existing.operation_id,
                existing.status,
                existing.site,
                existing.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )));
        }
        let source = group.current_primary_site.clone();
        let target = group.current_secondary_site().to_string();
        let document = self.document(group.clone()).await?;
        let mappings = request
            .mappings
            .merged_with(&stored_mappings(&document, &source, &target));
        ValidationReport {
            findings: unmapped_networks(&document.members, &mappings, &target),
        }
        .into_result(&format!("DR drill of protection group '{name}'"))?;

        let failover = FailoverRequest {
            operation_id: Some(operation_id),
            ..FailoverRequest::planned(request.mappings.clone())
        };
        let mut plan = self.plan_failover(&group.id.to_string(), &failover).await?;
        plan.findings
            .retain(|f| !NOT_FOR_DRILLS.contains(&f.code.as_str()));
        ValidationReport {
            findings: plan.findings.clone(),
        }
        .into_result(&format!("DR drill of protection group '{name}'"))?;

        let policy = document.policy.clone().ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{name}' has no replication policy"
            ))
        })?;
        let clients = self.ensure_reachable(&target).await?;
        let array = self
            .inner
            .connector
            .array(policy.array_on(&group, &target))
            .await?;
        let source_array = plan
            .source_array
            .clone()
            .or_else(|| policy.array_name_on(&group, &source).map(str::to_string))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "the name of {source}'s FlashArray is not recorded in the policy of '{name}' and the array does not answer: re-run `protector protection-group policy-create {name}` once"
                ))
            })?;
        let replica = format!("{source_array}:{}", policy.pure_pg_name);
        let transfers = match array.list_pg_snapshot_transfers(&replica).await {
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            other => other?,
        };
        let snapshot = transfers
            .into_iter()
            .find(|t| t.is_complete())
            .map(|t| t.name)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "no fully replicated snapshot of {replica} exists on {target}'s FlashArray yet: a DR drill copies the latest one; wait for the next scheduled replication (every {} s) and run the drill again",
                    policy.replication_interval_secs
                ))
            })?;
        let volume_snapshots = array.list_volume_snapshots(&snapshot).await?;
        let mut sources = BTreeMap::new();
        for member in &mut plan.members {
            for (index, volume) in member.volumes.iter_mut().enumerate() {
                let wanted = format!("{snapshot}.{}", volume.source_array_volume);
                let found = volume_snapshots
                    .iter()
                    .find(|s| s.name == wanted || s.source_volume == volume.source_array_volume)
                    .ok_or_else(|| {
                        Error::not_found(format!(
                            "replicated snapshot {snapshot} on {target} holds no copy of volume {} of member {}: it was added after that snapshot was taken; wait for the next scheduled replication and run the drill again",
                            volume.source_array_volume, member.instance_name
                        ))
                    })?;
                volume.copy_name = test_name(&volume.copy_name);
                volume.name = if volume.name.is_empty() {
                    test_name(&format!("{}-volume-{index}", member.instance_name))
                } else {
                    test_name(&volume.name)
                };
                sources.insert(volume.copy_name.clone(), found.name.clone());
            }
        }
        Ok(DrillPlan {
            plan,
            group,
            snapshot,
            sources,
            clients,
            array,
        })
    }
}

impl Drill<'_> {
    fn poll(&self) -> &PollPolicy {
        &self.engine.options().poll
    }

    fn site(&self) -> &str {
        &self.plan.plan.target_site
    }

    fn member(&self, member_id: Uuid) -> TestMember {
        lock(&self.record)
            .members
            .iter()
            .find(|m| m.member_id == member_id)
            .cloned()
            .expect("every planned member has a record")
    }

    fn update(&self, member_id: Uuid, f: impl FnOnce(&mut TestMember)) {
        if let Some(m) = lock(&self.record)
            .members
            .iter_mut()
            .find(|m| m.member_id == member_id)
        {
            f(m);
        }
    }

    /// Tags of a server or volume: what cleanup checks before removing it.
    fn tags(&self, member_id: Uuid, step: &str) -> BTreeMap<String, String> {
        let operation_id = self.tracker.id();
        BTreeMap::from([
            (OPERATION_TAG.to_string(), operation_id.to_string()),
            (MEMBER_TAG.to_string(), member_id.to_string()),
            (
                "protector:step".to_string(),
                format!("{operation_id}:{step}"),
            ),
            ("protector:drill".to_string(), "true".to_string()),
        ])
    }

    /// Runs one phase for every member with the engine's member concurrency.
    async fn phase<'m, F, Fut>(&'m self, step: &str, f: F) -> Result<()>
    where
        F: FnMut(&'m MemberPlan) -> Fut,
        Fut: Future<Output = Result<()>>,
    {
        self.tracker.begin(step).await?;
        each_bounded(
            &self.plan.plan.members,
            self.engine.options().member_concurrency,
            f,
        )
        .await?;
        self.tracker.done(step).await
    }

    async fn execute(&self) -> Result<()> {
        // Checked and recorded before the operation started.
        for step in ["validate_sites", "create_test_record", "identify_snapshot"] {
            self.tracker.done(step).await?;
        }
        self.tracker
            .journal(
                "identify_snapshot",
                JournalKind::Done,
                json!({"snapshot": self.plan.snapshot, "volumes": self.plan.sources}),
            )
            .await;
        let t = site_token(self.site());
        self.phase(&format!("create_volumes_{t}"), |m| self.copy_volumes(m))
            .await?;
        self.phase(&format!("manage_volumes_{t}"), |m| self.manage_volumes(m))
            .await?;
        self.phase(&format!("create_ports_{t}"), |m| self.create_ports(m))
            .await?;
        self.phase(&format!("create_instances_{t}"), |m| self.create_server(m))
            .await?;
        self.phase("verify_instances", |m| self.verify_server(m))
            .await?;
        let record = lock(&self.record).clone();
        let failed: Vec<String> = record
            .members
            .iter()
            .filter_map(|m| m.error.as_ref().map(|e| format!("{}: {e}", m.server_name)))
            .collect();
        if failed.len() == record.members.len() {
            return Err(Error::unexpected(format!(
                "no test instance became ACTIVE on {}: {}",
                self.site(),
                failed.join("; ")
            )));
        }
        Ok(())
    }

    async fn copy_volumes(&self, member: &MemberPlan) -> Result<()> {
        for volume in &member.volumes {
            let source = &self.plan.sources[&volume.copy_name];
            let request = CopyVolume {
                name: volume.copy_name.clone(),
                source: source.clone(),
                overwrite: false,
            };
            self.tracker
                .effect(
                    &format!("copy_volume:{}", volume.copy_name),
                    json!({"source": source, "name": volume.copy_name}),
                    self.plan.array.copy_volume(&request),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "copying snapshot {source} to {} on {}'s FlashArray",
                        volume.copy_name,
                        self.site()
                    ))
                })?;
        }
        Ok(())
    }

    async fn manage_volumes(&self, member: &MemberPlan) -> Result<()> {
        let host = self.plan.plan.manage_host.clone().ok_or_else(|| {
            Error::invalid(format!(
                "no cinder-volume host to manage into on {}",
                self.site()
            ))
        })?;
        let storage = &self.plan.clients.block_storage;
        for (index, volume) in member.volumes.iter().enumerate() {
            let step = format!("manage_volume:{}", volume.copy_name);
            let mut metadata = self.tags(member.member_id, &step);
            metadata.insert(
                "protector:source_volume".to_string(),
                volume.source_volume_id.clone(),
            );
            let request = ManageVolume {
                host: host.clone(),
                source_name: volume.copy_name.clone(),
                name: volume.name.clone(),
                volume_type: self.plan.plan.target_volume_type.clone(),
                bootable: volume.bootable,
                description: format!(
                    "DR drill {} of volume {} ({}): removed by the drill cleanup",
                    self.tracker.id(),
                    volume.source_volume_id,
                    self.plan.plan.source_site
                ),
                metadata,
            };
            let created = self
                .tracker
                .effect(
                    &step,
                    json!({"source_name": volume.copy_name}),
                    storage.manage_volume(&request),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "managing {} into Cinder on {}",
                        volume.copy_name,
                        self.site()
                    ))
                })?;
            self.update(member.member_id, |m| {
                m.volumes[index].volume_id = Some(created.id.clone());
            });
            let ready = wait_volume_available(
                storage,
                &created.id,
                &format!("volume {} on {}", volume.name, self.site()),
                self.poll(),
            )
            .await?;
            let array_name = ready
                .array_volume
                .unwrap_or_else(|| format!("volume-{}-cinder", ready.id));
            self.update(member.member_id, |m| {
                let names = &mut m.volumes[index].array_volumes;
                if !names.contains(&array_name) {
                    names.push(array_name);
                }
            });
        }
        Ok(())
    }

    async fn create_ports(&self, member: &MemberPlan) -> Result<()> {
        let description = port_description(self.tracker.id(), &member.instance_name);
        for (index, nic) in member.nics.iter().enumerate() {
            let network_id = nic.network.target_id.clone().ok_or_else(|| {
                Error::not_found(format!(
                    "network {} of member {} has no isolated network on {}",
                    nic.network.source,
                    member.instance_name,
                    self.site()
                ))
            })?;
            let request = CreatePort {
                network_id,
                name: format!("{}-port-{index}", test_name(&member.instance_name)),
                fixed_ips: nic
                    .fixed_ips
                    .iter()
                    .map(|ip| (ip.subnet_id.clone(), ip.ip_address.clone()))
                    .collect(),
                security_group_ids: nic.security_group_ids.clone(),
                description: description.clone(),
            };
            let port = self
                .tracker
                .effect(
                    &format!("create_port:{}:{index}", member.instance_name),
                    json!({"network": request.network_id, "name": request.name}),
                    self.plan.clients.network.create_port(&request),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!("creating port {} on {}", request.name, self.site()))
                })?;
            self.update(member.member_id, |m| m.port_ids.push(port.id));
        }
        Ok(())
    }

    async fn create_server(&self, member: &MemberPlan) -> Result<()> {
        let created = self.member(member.member_id);
        let flavor_id = member.flavor.target_id.clone().ok_or_else(|| {
            Error::not_found(format!(
                "flavor '{}' not found on {}: pass --flavor-mapping",
                member.flavor.source,
                self.site()
            ))
        })?;
        let step = format!("create_server:{}", created.server_name);
        let mut metadata = self.tags(member.member_id, &step);
        metadata.insert(
            "protector:source_instance".to_string(),
            member.source_instance_id.clone(),
        );
        let request = CreateServer {
            name: created.server_name.clone(),
            flavor_id,
            key_name: member.key_name.clone(),
            availability_zone: None,
            block_devices: member
                .volumes
                .iter()
                .zip(&created.volumes)
                .map(|(planned, volume)| BlockDevice {
                    volume_id: volume.volume_id.clone().unwrap_or_default(),
                    boot_index: planned.boot_index,
                    device_name: (!planned.device.is_empty()).then(|| planned.device.clone()),
                    delete_on_termination: false,
                })
                .collect(),
            port_ids: created.port_ids.clone(),
            metadata,
        };
        let server = self
            .tracker
            .effect(
                &step,
                json!({"name": request.name}),
                self.plan.clients.compute.create_server(&request),
            )
            .await
            .map_err(|e| {
                e.with_prefix(format!(
                    "creating test instance '{}' on {}",
                    created.server_name,
                    self.site()
                ))
            })?;
        self.update(member.member_id, |m| m.server_id = Some(server.id));
        Ok(())
    }

    async fn verify_server(&self, member: &MemberPlan) -> Result<()> {
        let created = self.member(member.member_id);
        let id = created.server_id.clone().unwrap_or_default();
        let server = wait_server_booted(
            &self.plan.clients.compute,
            &id,
            &format!("test instance {} on {}", created.server_name, self.site()),
            self.poll(),
        )
        .await?;
        if server.status == ServerStatus::Error {
            let fault = server.fault.unwrap_or_else(|| "no fault recorded".into());
            self.tracker
                .journal(
                    &format!("verify_server:{}", created.server_name),
                    JournalKind::Failed,
                    json!({"fault": fault}),
                )
                .await;
            self.update(member.member_id, |m| m.error = Some(fault));
        }
        Ok(())
    }

    /// Whether the group still holds this drill's record (a cleanup may have run meanwhile).
    async fn current_group(&self) -> Result<ProtectionGroup> {
        let group = self.engine.group_by_id(&self.plan.group.id).await?;
        match &group.test_failover {
            Some(r) if r.operation_id == self.tracker.id() => Ok(group),
            _ => Err(Error::conflict(format!(
                "the record of DR drill {} disappeared from protection group '{}' while it ran (a cleanup ran meanwhile)",
                self.tracker.id(),
                group.name
            ))),
        }
    }

    /// Records every test resource on both sites and ends the operation.
    async fn finish(self) -> Operation {
        if let Err(e) = self.tracker.begin("update_protection_group").await {
            return self.roll_back(e).await;
        }
        let record = {
            let mut record = lock(&self.record);
            record.status = TestFailoverStatus::Ready;
            record.completed_at = Some(Utc::now());
            record.clone()
        };
        let committed = match self.current_group().await {
            Ok(group) => self.engine.record_drill(group, Some(record.clone())).await,
            Err(e) => Err(e),
        };
        let committed = match committed {
            Ok(c) => c,
            Err(e) => return self.roll_back(e).await,
        };
        let failed: Vec<String> = record
            .members
            .iter()
            .filter_map(|m| m.error.as_ref().map(|e| format!("{} ({e})", m.server_name)))
            .collect();
        let total = record.members.len();
        self.tracker.edit(|op| {
            op.instances_created = u32::try_from(total - failed.len()).unwrap_or(u32::MAX);
            op.instances_failed = u32::try_from(failed.len()).unwrap_or(u32::MAX);
        });
        let _ = self.tracker.done("update_protection_group").await;
        let mut notes = Vec::new();
        if !failed.is_empty() {
            notes.push(format!(
                "{} of {total} test instances did not become ACTIVE on {}: {}; they are kept for inspection, the drill cleanup removes them with the others",
                failed.len(),
                self.site(),
                failed.join("; ")
            ));
        }
        notes.extend(self.engine.sync_note(&committed).await);
        let status = if failed.is_empty() {
            OperationStatus::Completed
        } else {
            OperationStatus::Partial
        };
        self.tracker
            .finish(status, (!notes.is_empty()).then(|| notes.join("; ")))
            .await
    }

    /// Removes everything the drill created and ends the operation as failed.
    async fn roll_back(self, error: Error) -> Operation {
        let record = lock(&self.record).clone();
        let remover = Remover::new(
            &self.plan.clients,
            &self.plan.array,
            self.poll(),
            self.engine.options().member_concurrency,
            record,
        );
        remover.all().await;
        let (mut record, leftovers) = remover.into_parts();
        let note = if record.is_removed() {
            format!("rolled back: nothing was left on {}", self.site())
        } else {
            format!(
                "rollback incomplete, the drill record keeps what is left for the drill cleanup: {}",
                leftovers.join("; ")
            )
        };
        record.status = TestFailoverStatus::Failed;
        record.errors = leftovers;
        let kept = (!record.is_removed()).then_some(record);
        match self.current_group().await {
            Ok(group) => {
                if let Err(e) = self.engine.record_drill(group, kept).await {
                    tracing::warn!(error = %e, "could not record the failed drill on the group");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the failed drill is no longer recorded"),
        }
        self.tracker
            .finish(OperationStatus::Failed, Some(format!("{error} ({note})")))
            .await
    }
}

// ------------------------------------------------------------------ cleanup

impl Protector {
    /// Writes (or clears) the drill record of `group` on both sites. The world already
    /// changed, so the peer being unreachable does not stop it (see [`Protector::sync_note`]).
    async fn record_drill(
        &self,
        group: ProtectionGroup,
        record: Option<TestFailoverRecord>,
    ) -> Result<GroupDocument> {
        let reason = match &record {
            None => "test-failover-cleanup",
            Some(r) if r.status == TestFailoverStatus::Ready => "test-failover",
            Some(_) => "test-failover-leftovers",
        };
        let mut document = self.document(group).await?;
        document.group.test_failover = record;
        self.commit(document, reason, PeerPolicy::BestEffort).await
    }

    /// What to tell the operator when a committed version did not reach the peer.
    async fn sync_note(&self, committed: &GroupDocument) -> Option<String> {
        let group = &committed.group;
        let state = self.store().get_sync_state(&group.id).await.ok().flatten();
        match state {
            Some(s)
                if s.status == RemoteSyncStatus::Synced
                    && s.remote_version == group.metadata.version =>
            {
                None
            }
            other => Some(format!(
                "metadata version {} could not be pushed to the other site ({}): run `protector protection-group sync-force {}`",
                group.metadata.version,
                other.and_then(|s| s.last_error).unwrap_or_else(|| "unknown".into()),
                group.name
            )),
        }
    }

    /// Removes exactly what the drill of `group` created; safe to run again.
    ///
    /// `operation_id` is the id of the cleanup operation itself (a caller that recorded a
    /// pending operation first); a fresh one otherwise. Without a drill on record the cleanup
    /// succeeds without doing anything. The operation is `completed` when everything is gone
    /// (the drill record is cleared on both sites), `partial` when some resources could not be
    /// removed and `failed` when none could; the message lists each with the reason, and the
    /// drill record keeps them for the next run.
    pub async fn test_failover_cleanup(
        &self,
        group: &str,
        operation_id: Option<Uuid>,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let group = self.group(group).await?;
        if group.status.is_in_flight() {
            return Err(Error::conflict(format!(
                "cannot clean up the DR drill of protection group '{}' while it is {}: wait for the running operation to finish",
                group.name, group.status
            )));
        }
        // A reachable peer must agree on the record; an unreachable one catches up later.
        match self.ensure_peer_in_sync(&group).await {
            Err(e) if e.kind() != ErrorKind::Unavailable => return Err(e),
            _ => {}
        }
        let site = group.test_failover.as_ref().map_or_else(
            || group.current_secondary_site().to_string(),
            |r| r.site.clone(),
        );
        let source = group.test_failover.as_ref().map_or_else(
            || group.current_primary_site.clone(),
            |r| r.source_site.clone(),
        );
        let mut op = Operation::start(
            OperationType::TestCleanup,
            Some((&group.id, &group.name)),
            &source,
            &site,
            Utc::now(),
        );
        op.id = operation_id.unwrap_or_else(Uuid::new_v4);
        let peer = group.peer_of(self.local_site()).to_string();
        let tracker = Tracker::new(self, observer, op, cleanup_steps(&site), Some(peer));
        let Some(record) = group.test_failover.clone() else {
            return Ok(tracker.finish(OperationStatus::Completed, None).await);
        };
        tracker.publish().await?;
        let outcome = self.clean_up(&group, record, &tracker).await;
        Ok(match outcome {
            Ok((status, message)) => tracker.finish(status, message).await,
            Err(e) => {
                let message = format!(
                    "{e} (the drill record is kept: run the cleanup again once this is fixed)"
                );
                tracker.finish(OperationStatus::Failed, Some(message)).await
            }
        })
    }

    async fn clean_up(
        &self,
        group: &ProtectionGroup,
        record: TestFailoverRecord,
        tracker: &Tracker<'_>,
    ) -> Result<(OperationStatus, Option<String>)> {
        let t = site_token(&record.site);
        let record_site = record.site.clone();
        tracker.begin("validate_sites").await?;
        let clients = self.ensure_reachable(&record.site).await?;
        let policy = self.store().get_policy(&group.id).await?.ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{}' has no replication policy: its FlashArrays are unknown",
                group.name
            ))
        })?;
        let array = self
            .inner
            .connector
            .array(policy.array_on(group, &record.site))
            .await?;
        let interrupted = record.status == TestFailoverStatus::Running;
        let remover = Remover::new(
            &clients,
            &array,
            &self.options().poll,
            self.options().member_concurrency,
            record,
        );
        if interrupted {
            remover.discover().await?;
        }
        tracker.done("validate_sites").await?;

        let listed = resource_count(&lock(&remover.record));
        let servers = format!("delete_instances_{t}");
        cleanup_phase(tracker, &remover, &servers, remover.servers()).await?;
        let ports = format!("delete_ports_{t}");
        cleanup_phase(tracker, &remover, &ports, remover.ports()).await?;
        let volumes = format!("delete_volumes_{t}");
        cleanup_phase(tracker, &remover, &volumes, remover.volumes()).await?;
        let arrays = format!("delete_array_volumes_{t}");
        cleanup_phase(tracker, &remover, &arrays, remover.array_volumes()).await?;
        let (mut record, leftovers) = remover.into_parts();

        tracker.begin("update_protection_group").await?;
        let current = self.group_by_id(&group.id).await?;
        if current
            .test_failover
            .as_ref()
            .is_none_or(|r| r.operation_id != record.operation_id)
        {
            return Err(Error::conflict(format!(
                "the DR drill record of protection group '{}' changed while the cleanup ran: run the cleanup again",
                group.name
            )));
        }
        let done = record.is_removed();
        let anything_removed = resource_count(&record) < listed;
        if !done {
            record.status = TestFailoverStatus::CleanupIncomplete;
            record.errors = leftovers.clone();
        }
        let committed = self
            .record_drill(current, (!done).then_some(record))
            .await?;
        let mut notes = Vec::new();
        let status = if done {
            tracker.done("update_protection_group").await?;
            OperationStatus::Completed
        } else {
            notes.push(format!(
                "could not remove {} resource(s) of the DR drill on {}: {}; the drill record keeps them: fix the cause and run the cleanup again",
                leftovers.len(),
                record_site,
                leftovers.join("; ")
            ));
            if anything_removed {
                OperationStatus::Partial
            } else {
                OperationStatus::Failed
            }
        };
        notes.extend(self.sync_note(&committed).await);
        Ok((status, (!notes.is_empty()).then(|| notes.join("; "))))
    }
}

/// One removal phase of a cleanup: a step that fails when the removal left something.
async fn cleanup_phase(
    tracker: &Tracker<'_>,
    remover: &Remover<'_>,
    step: &str,
    removal: impl Future<Output = ()>,
) -> Result<()> {
    tracker.begin(step).await?;
    let errors_before = lock(&remover.errors).len();
    removal.await;
    if lock(&remover.errors).len() == errors_before {
        tracker.done(step).await
    } else {
        tracker.edit(|op| op.steps_failed.push(step.to_string()));
        tracker.publish().await
    }
}

/// How many resources a record lists.
fn resource_count(record: &TestFailoverRecord) -> usize {
    record
        .members
        .iter()
        .map(|m| {
            usize::from(m.server_id.is_some())
                + m.port_ids.len()
                + m.volumes
                    .iter()
                    .map(|v| usize::from(v.volume_id.is_some()) + v.array_volumes.len())
                    .sum::<usize>()
        })
        .sum()
}
