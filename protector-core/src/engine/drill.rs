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
//! Modules: `preflight` (every refusal, before anything changes), `cleanup` (removal of what a
//! record lists, shared by compensation and cleanup). The drill runs on the engine's shared
//! layer: `runner` (its `Tracker`: operation record, steps and progress, journal; bounded
//! member concurrency) and `resources` (waiting for and removing servers, volumes and array
//! volumes).

mod cleanup;
mod evidence;
mod hooks;
mod plan;
mod preflight;
mod resume;
mod waves;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use self::cleanup::Remover;
use self::plan::drill_steps;
use self::preflight::DrillPlan;
use super::planner::site_token;
use super::progress::ProgressObserver;
use super::resources::{port_request, server_request, wait_server_booted, wait_volume_available};
use super::runner::{each_bounded, lock, Tracker};
use super::sync::PeerPolicy;
use super::wait::PollPolicy;
use super::Protector;
use crate::api::{BlockStorageApi, CopyVolume, ManageVolume, ServerStatus};
use crate::error::{Error, Result};
use crate::model::{
    HookPoint, Operation, OperationStatus, OperationType, ProtectionGroup, ResourceMappings,
    TestFailoverRecord, TestFailoverStatus, TestMember, TestVolume,
};
use crate::plan::{MemberPlan, VolumePlan};
use crate::store::JournalKind;

/// Ask for a DR drill.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestFailoverRequest {
    /// Mappings from the current primary to the isolated test networks of the secondary
    /// (merged over stored ones).
    pub mappings: ResourceMappings,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
    /// The replicated snapshot to copy from (full name `array:pg.N`, `pg.N` or the suffix
    /// `N`, as [`Protector::recovery_points`] lists them); the latest fully replicated one
    /// when `None`. Refused for a sync (pod) group.
    #[serde(default)]
    pub recovery_point: Option<String>,
}

/// Prefix of every name a drill gives (array volumes, Cinder volumes, ports, servers).
const TEST_PREFIX: &str = "test-";
/// Server and volume metadata key naming the operation that created the resource.
const OPERATION_TAG: &str = "protector:operation";
/// Server and volume metadata key naming the member a resource belongs to.
const MEMBER_TAG: &str = "protector:member";
/// Volume metadata key naming the production volume a test volume copies.
const SOURCE_VOLUME_TAG: &str = "protector:source_volume";

/// Runs `f` on the entry of one member of a record being filled or emptied.
fn update_member<R>(
    record: &Mutex<TestFailoverRecord>,
    member_id: Uuid,
    f: impl FnOnce(&mut TestMember) -> R,
) -> Option<R> {
    lock(record).member_mut(member_id).map(f)
}

fn test_name(name: &str) -> String {
    format!("{TEST_PREFIX}{name}")
}

/// The description a drill gives the ports of one member: what cleanup looks for.
fn port_description(operation_id: Uuid, instance_name: &str) -> String {
    format!("protector:{operation_id}:create_port:{instance_name}")
}

// ------------------------------------------------------------------ the drill

struct Drill<'a> {
    engine: &'a Protector,
    tracker: Tracker<'a>,
    plan: DrillPlan,
    record: Mutex<TestFailoverRecord>,
}

impl Protector {
    /// Admits a drill of `group` as operation `id`: its plan, or the refusal (the findings of
    /// the first check that failed, as one error). The plan is kept for the run.
    pub(in crate::engine) async fn admit_drill(
        &self,
        group: ProtectionGroup,
        request: &TestFailoverRequest,
        id: Uuid,
    ) -> Result<()> {
        let plan = self.plan_drill(group, request, id).await?;
        self.inner.admitted.keep(id, plan);
        Ok(())
    }

    /// The plan admitted for drill `id` when the run may use it: it is recent, the group has
    /// not changed since (same version), and both sites answer now (a site lost since the
    /// admission is found before anything changes; the run then plans again and refuses).
    async fn admitted_drill(&self, id: Uuid, group: &ProtectionGroup) -> Option<DrillPlan> {
        let plan = self.inner.admitted.take::<DrillPlan>(id)?;
        // Anything that would refuse the drill now is found by planning again.
        if plan.group.metadata.version != group.metadata.version
            || group.status.is_in_flight()
            || group.fence_required_on.is_some()
            || group.test_failover.is_some()
        {
            return None;
        }
        let (target, source) = futures::join!(
            Box::pin(self.ensure_reachable(&plan.plan.target_site)),
            Box::pin(self.ensure_reachable(&plan.plan.source_site))
        );
        (target.is_ok() && source.is_ok()).then_some(plan)
    }

    /// The plan drill `id` runs: the one its admission made when it may (see
    /// `admitted_drill`; never for a resumed run), else a new one.
    async fn drill_plan_for_run(
        &self,
        group: ProtectionGroup,
        request: &TestFailoverRequest,
        id: Uuid,
        resumed: bool,
    ) -> Result<DrillPlan> {
        if !resumed {
            if let Some(plan) = self.admitted_drill(id, &group).await {
                return Ok(plan);
            }
        }
        self.plan_drill(group, request, id).await
    }

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
        let _owner = self.own_operation(&operation_id).await?;
        self.run_drill(group, &request, operation_id, observer, None)
            .await
    }

    /// Plans and runs drill `operation_id` of `group` (its lock held by the caller); `resumed`
    /// is the record of a run of the same operation whose process ended (recovery), which
    /// this run continues under the same id.
    pub(in crate::engine) async fn run_drill(
        &self,
        group: ProtectionGroup,
        request: &TestFailoverRequest,
        operation_id: Uuid,
        observer: &dyn ProgressObserver,
        resumed: Option<Operation>,
    ) -> Result<Operation> {
        let plan =
            Box::pin(self.drill_plan_for_run(group, request, operation_id, resumed.is_some()))
                .await?;
        let target = plan.plan.target_site.clone();
        let op = match resumed {
            Some(mut op) => {
                op.status = OperationStatus::Running;
                op
            }
            None => {
                let mut op = Operation::start(
                    OperationType::TestFailover,
                    Some((&plan.group.id, &plan.group.name)),
                    &plan.plan.source_site,
                    &target,
                    Utc::now(),
                );
                op.id = operation_id;
                op.estimate = plan.plan.estimate.clone();
                op
            }
        };
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
            hooks_to_undo: Vec::new(),
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
        let outcome = Box::pin(drill.execute()).await;
        Ok(match outcome {
            Ok(()) => drill.finish().await,
            Err(error) => drill.roll_back(error).await,
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
        update_member(&self.record, member_id, |m| m.clone())
            .expect("every planned member has a record")
    }

    fn update(&self, member_id: Uuid, f: impl FnOnce(&mut TestMember)) {
        update_member(&self.record, member_id, f);
    }

    /// Tags of a server or volume: what cleanup checks before removing it; `origin` names
    /// the production resource it copies.
    fn tags(&self, member_id: Uuid, step: &str, origin: (&str, &str)) -> BTreeMap<String, String> {
        let operation_id = self.tracker.id();
        [
            (OPERATION_TAG, operation_id.to_string()),
            (MEMBER_TAG, member_id.to_string()),
            ("protector:step", format!("{operation_id}:{step}")),
            ("protector:drill", "true".to_string()),
            (origin.0, origin.1.to_string()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
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
        self.hooks_at(HookPoint::PrePreparation).await?;
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
        self.record_evidence().await;
        self.hooks_at(HookPoint::PostPreparation).await?;
        let t = site_token(self.site());
        self.hooks_at(HookPoint::PreStorage).await?;
        self.phase(&format!("create_volumes_{t}"), |m| self.copy_volumes(m))
            .await?;
        self.phase(&format!("manage_volumes_{t}"), |m| self.manage_volumes(m))
            .await?;
        self.hooks_at(HookPoint::PostStorage).await?;
        self.hooks_at(HookPoint::PreInstances).await?;
        self.phase(&format!("create_ports_{t}"), |m| self.create_ports(m))
            .await?;
        // Wave by wave (boot order): each wave is verified ACTIVE before the next boots.
        let create_instances = format!("create_instances_{t}");
        self.tracker.begin(&create_instances).await?;
        self.boot_waves().await?;
        self.tracker.done(&create_instances).await?;
        self.tracker.begin("verify_instances").await?;
        self.tracker.done("verify_instances").await?;
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
        self.hooks_at(HookPoint::PostInstances).await?;
        self.hooks_at(HookPoint::PreFinalization).await
    }

    /// Copies the member's volumes, all at once (independent array calls; all run, the first
    /// error wins).
    async fn copy_volumes(&self, member: &MemberPlan) -> Result<()> {
        join_all(member.volumes.iter().map(|volume| async move {
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
                })
                .map(drop)
        }))
        .await
        .into_iter()
        .collect()
    }

    /// Manages the member's volumes into Cinder and waits until each is available, all at
    /// once (all run, the first error wins).
    async fn manage_volumes(&self, member: &MemberPlan) -> Result<()> {
        let host = self.plan.plan.manage_host.clone().ok_or_else(|| {
            Error::invalid(format!(
                "no cinder-volume host to manage into on {}",
                self.site()
            ))
        })?;
        let storage = &self.plan.clients.block_storage;
        join_all(member.volumes.iter().enumerate().map(|(index, volume)| {
            let host = host.clone();
            async move {
                self.manage_volume(member, index, volume, host, storage)
                    .await
            }
        }))
        .await
        .into_iter()
        .collect()
    }

    async fn manage_volume(
        &self,
        member: &MemberPlan,
        index: usize,
        volume: &VolumePlan,
        host: String,
        storage: &Arc<dyn BlockStorageApi>,
    ) -> Result<()> {
        let step = format!("manage_volume:{}", volume.copy_name);
        let metadata = self.tags(
            member.member_id,
            &step,
            (SOURCE_VOLUME_TAG, &volume.source_volume_id),
        );
        let request = ManageVolume {
            host,
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
        Ok(())
    }

    async fn create_ports(&self, member: &MemberPlan) -> Result<()> {
        let description = port_description(self.tracker.id(), &member.instance_name);
        for (index, nic) in member.nics.iter().enumerate() {
            let request = port_request(
                member,
                nic,
                format!("{}-port-{index}", test_name(&member.instance_name)),
                description.clone(),
                self.site(),
            )?;
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
        let step = format!("create_server:{}", created.server_name);
        let metadata = self.tags(
            member.member_id,
            &step,
            ("protector:source_instance", &member.source_instance_id),
        );
        let volume_ids: Vec<String> = created
            .volumes
            .iter()
            .map(|v| v.volume_id.clone().unwrap_or_default())
            .collect();
        let request = server_request(
            member,
            &created.server_name,
            &volume_ids,
            created.port_ids.clone(),
            metadata,
            self.site(),
        )?;
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
        } else {
            self.record_boot(&created.server_name, &id).await;
            self.after_boot(member).await;
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
        // Before the record is written, so that it keeps their undo actions; their failure
        // only warns (hooks/mod.rs).
        let _ = self.hooks_at(HookPoint::PostFinalization).await;
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
        self.undo_hooks().await;
        let record = lock(&self.record).clone();
        let remover = Remover::new(
            &self.plan.clients,
            &self.plan.array,
            &self.tracker,
            "compensate:delete",
            record,
        );
        // A create whose answer was lost (a timeout after it took effect) is in no record:
        // find what carries the drill's tags first.
        let searched = remover.discover().await;
        remover.all().await;
        let (mut record, mut leftovers) = remover.into_parts();
        if let Err(e) = &searched {
            // The record stays, so that the drill cleanup searches again.
            leftovers.insert(
                0,
                format!(
                    "{} could not be searched for what drill op-{} created there ({})",
                    self.site(),
                    self.tracker.id(),
                    e.message()
                ),
            );
        }
        let clean = record.is_removed() && searched.is_ok();
        let note = if clean {
            format!("rolled back: nothing was left on {}", self.site())
        } else {
            format!(
                "rollback incomplete, the drill record keeps what is left for the drill cleanup: {}",
                leftovers.join("; ")
            )
        };
        record.status = TestFailoverStatus::Failed;
        record.errors = leftovers;
        let kept = (!clean).then_some(record);
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
