//! Executing a failover plan: four phases with the spec's progress ranges, a journal of every
//! side effect, and compensation when a step fails so that nothing is left half-done.
//!
//! Planned failover order (zero data loss):
//! 1. preparation: check the sites, record the operation, group `failing_over` on both sites;
//! 2. storage: stop the source VMs *first*, take a pg snapshot with `replicate_now`, wait for
//!    the transfer, copy its volume snapshots on the target array, manage the copies into the
//!    target Cinder;
//! 3. instances: ports on the mapped networks with the security groups, servers booted from
//!    the imported volumes, wait for ACTIVE;
//! 4. finalization: group `failed_over`, primary swapped, count + 1, metadata pushed.
//!
//! spec/000 lists the source shutdown after the storage phase; that would lose the writes made
//! in between, so protector stops the VMs before the final replication.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::json;
use uuid::Uuid;

use super::planner::FailoverRequest;
use super::progress::ProgressObserver;
use super::resources::{
    port_request, remove_resources, server_request, start_server_and_wait, stop_server_and_wait,
    wait_server_booted, wait_stopped, wait_volume_available,
};
use super::sync::PeerPolicy;
use super::validate::{Finding, ValidationReport};
use super::wait::{wait_for, PollOutcome};
use super::Protector;
use crate::api::{ArrayApi, CopyVolume, CreatePgSnapshot, ManageVolume, ServerStatus, SiteClients};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{
    GroupEvent, GroupStatus, MemberStatus, Operation, OperationStatus, OperationType, Phase,
    Placement, ReplicationType,
};
use crate::plan::{FailoverMode, MemberPlan, Plan};
use crate::store::{GroupDocument, JournalEntry, JournalKind, RemoteSyncStatus};

/// What a run created or changed, so that a failure can be undone.
#[derive(Debug, Default)]
pub(super) struct Undo {
    /// Source servers this run stopped.
    pub(super) stopped: Vec<String>,
    /// Array volumes on the target created by copy and not (yet) managed.
    pub(super) copies: Vec<String>,
    /// Cinder volumes created on the target by manage.
    pub(super) volumes: Vec<String>,
    /// Ports created on the target.
    pub(super) ports: Vec<String>,
    /// Servers created on the target.
    pub(super) servers: Vec<String>,
    /// Existing servers this run started on the target (failback): stopped again on rollback.
    pub(super) started: Vec<String>,
}

/// What happened to one member on the target.
#[derive(Debug, Default, Clone)]
pub(super) struct MemberResult {
    pub(super) volume_ids: Vec<String>,
    pub(super) array_volumes: Vec<String>,
    pub(super) port_ids: Vec<String>,
    pub(super) server_id: Option<String>,
    pub(super) error: Option<String>,
}

/// One execution of a plan (failover or failback): the operation record, the clients, and
/// what to undo.
pub(super) struct Run<'a> {
    pub(super) engine: &'a Protector,
    pub(super) plan: &'a Plan,
    pub(super) op: Mutex<Operation>,
    pub(super) observer: &'a dyn ProgressObserver,
    pub(super) source: Option<SiteClients>,
    pub(super) target: SiteClients,
    pub(super) source_array: Option<Arc<dyn ArrayApi>>,
    pub(super) target_array: Arc<dyn ArrayApi>,
    pub(super) undo: Mutex<Undo>,
    pub(super) results: Mutex<BTreeMap<Uuid, MemberResult>>,
    pub(super) previous_status: GroupStatus,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Protector {
    /// Re-checks a plan against the current group: its findings plus staleness.
    pub async fn validate_plan(&self, plan: &Plan) -> Result<ValidationReport> {
        let mut report = ValidationReport {
            findings: plan.findings.clone(),
        };
        // A plan is the caller's data: its group is resolved like a named one.
        let group = self.group(&plan.group_id.to_string()).await?;
        if let Some(running) = group.active_operation_id {
            // Another operation claimed the group after this plan was made.
            report.findings.push(Finding::error(
                ErrorKind::Conflict,
                "operation_running",
                format!(
                    "operation op-{running} is running on protection group '{}' (status {}): \
                     nothing was changed; wait for it to finish and plan again",
                    group.name, group.status
                ),
            ));
        } else if group.metadata.version != plan.metadata_version {
            report.findings.push(Finding::error(
                ErrorKind::Conflict,
                "plan_stale",
                format!(
                    "the plan was made from metadata version {} of '{}', which is now at version {} (status {}): plan again",
                    plan.metadata_version, group.name, group.metadata.version, group.status
                ),
            ));
        }
        Ok(report)
    }

    /// Plans, validates and executes a failover of `group` to its current secondary site.
    ///
    /// Returns `Err` when the failover is refused before anything happens (the error carries
    /// every finding; nothing changed on either site). Once started, returns the operation
    /// record, whose status is `completed`, `partial` or `failed` (after compensation).
    pub async fn failover(
        &self,
        group: &str,
        request: FailoverRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let plan = self.plan_failover(group, &request).await?;
        self.validate_plan(&plan).await?.into_result(&format!(
            "failover of protection group '{}'",
            plan.group_name
        ))?;
        self.execute_failover(&plan, observer).await
    }

    /// Executes a validated failover plan. See [`Protector::failover`].
    pub async fn execute_failover(
        &self,
        plan: &Plan,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let _owner = self.own_operation(&plan.id).await?;
        // A plan is the caller's data: its group is resolved like a named one.
        let group = self.group(&plan.group_id.to_string()).await?;
        let target = self.group_clients(&plan.target_site, &group).await?;
        let source = self.group_clients(&plan.source_site, &group).await.ok();
        let policy = self.store().get_policy(&group.id).await?.ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{}' has no replication policy",
                group.name
            ))
        })?;
        let (source_ep, target_ep) = (
            policy.array_on(&group, &plan.source_site),
            policy.array_on(&group, &plan.target_site),
        );
        let target_array = self.inner.connector.array(target_ep).await?;
        let source_array = Some(self.inner.connector.array(source_ep).await?);
        let mut op = Operation::start(
            OperationType::Failover,
            Some((&group.id, &group.name)),
            &plan.source_site,
            &plan.target_site,
            Utc::now(),
        );
        op.id = plan.id;
        let run = Run {
            engine: self,
            plan,
            op: Mutex::new(op),
            observer,
            source,
            target,
            source_array,
            target_array,
            undo: Mutex::new(Undo::default()),
            results: Mutex::new(BTreeMap::new()),
            previous_status: group.status,
        };
        run.save().await?;
        let outcome = run.execute().await;
        let refusal = run.claim_refused(&outcome);
        let op = run.finish(outcome).await;
        // The other site keeps the record too, so `operation show` works from either side.
        if let Ok(peer) = self.store_of(&plan.target_site) {
            if plan.target_site != self.local_site() {
                let _ = peer.put_operation(&op).await;
            }
        }
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(op),
        }
    }
}

impl Run<'_> {
    pub(super) fn snapshot(&self) -> Operation {
        lock(&self.op).clone()
    }

    pub(super) async fn save(&self) -> Result<()> {
        let op = self.snapshot();
        self.engine.store().put_operation(&op).await?;
        self.observer.on_update(&op);
        Ok(())
    }

    fn phase_progress(&self, op: &Operation, phase: Phase) -> u8 {
        let steps: Vec<_> = self
            .plan
            .steps
            .iter()
            .filter(|s| s.phase == phase)
            .collect();
        let done = steps
            .iter()
            .filter(|s| op.steps_completed.contains(&s.name))
            .count();
        let (start, end) = phase.range();
        let span = usize::from(end - start);
        let total = steps.len().max(1);
        start + u8::try_from(span * done / total).unwrap_or(0)
    }

    pub(super) async fn step_started(&self, name: &str) -> Result<()> {
        let id = lock(&self.op).id;
        self.engine.stop_if_cancelled(&id, name).await?;
        let phase = self
            .plan
            .steps
            .iter()
            .find(|s| s.name == name)
            .map_or(Phase::Preparation, |s| s.phase);
        {
            let mut op = lock(&self.op);
            op.phase = phase;
            op.progress = op.progress.max(self.phase_progress(&op, phase));
        }
        self.save().await
    }

    pub(super) async fn step_done(&self, name: &str) -> Result<()> {
        {
            let mut op = lock(&self.op);
            op.steps_completed.push(name.to_string());
            let phase = op.phase;
            op.progress = op.progress.max(self.phase_progress(&op, phase));
        }
        self.save().await
    }

    pub(super) async fn journal(&self, step: &str, kind: JournalKind, detail: serde_json::Value) {
        let op_id = lock(&self.op).id;
        let entry = JournalEntry {
            operation_id: op_id,
            seq: 0,
            step: step.to_string(),
            kind,
            idempotency_key: format!("{op_id}:{step}"),
            detail,
            at: Utc::now(),
        };
        if let Err(e) = self.engine.store().append_journal(&entry).await {
            tracing::warn!(error = %e, step, "could not write the journal");
        }
    }

    /// Runs one side effect with intent and outcome journaled.
    pub(super) async fn effect<T, F>(
        &self,
        step: &str,
        intent: serde_json::Value,
        f: F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
        T: serde::Serialize,
    {
        self.journal(step, JournalKind::Intent, intent).await;
        match f.await {
            Ok(v) => {
                self.journal(
                    step,
                    JournalKind::Done,
                    serde_json::to_value(&v).unwrap_or_default(),
                )
                .await;
                Ok(v)
            }
            Err(e) => {
                self.journal(
                    step,
                    JournalKind::Failed,
                    json!({"kind": e.kind(), "error": e.message()}),
                )
                .await;
                Err(e)
            }
        }
    }

    pub(super) fn source(&self) -> Result<&SiteClients> {
        self.source.as_ref().ok_or_else(|| {
            Error::unavailable(format!(
                "source site {} is unreachable",
                self.plan.source_site
            ))
        })
    }

    pub(super) fn op_id(&self) -> Uuid {
        lock(&self.op).id
    }

    async fn execute(&self) -> Result<()> {
        let plan = self.plan;
        let target_token = super::planner::site_token(&plan.target_site);

        // Preparation.
        self.step_started("validate_sites").await?;
        self.engine.ensure_reachable(&plan.target_site).await?;
        if plan.mode == FailoverMode::Planned {
            self.engine.ensure_reachable(&plan.source_site).await?;
        }
        self.step_done("validate_sites").await?;

        self.step_started("create_dr_record").await?;
        let group = self.engine.group_by_id(&plan.group_id).await?;
        Protector::ensure_not_claimed(&group, self.op_id())?;
        let mut document = self.engine.document(group).await?;
        document.group.apply(GroupEvent::FailoverStarted)?;
        document.group.active_operation_id = Some(self.op_id());
        // An unplanned failover runs because the other site is lost: it records the change
        // here and the other site catches up with sync-force when it returns.
        let peer_policy = if plan.mode == FailoverMode::Planned {
            PeerPolicy::Required
        } else {
            PeerPolicy::BestEffort
        };
        self.engine
            .commit(document, "failover-start", peer_policy)
            .await?;
        self.step_done("create_dr_record").await?;
        self.clear_earlier_leftovers().await;

        // Storage.
        let (sources, snapshot) = if plan.replication_type == ReplicationType::Sync {
            self.pod_sources().await?
        } else {
            self.snapshot_sources().await?
        };

        let create_volumes = format!("create_volumes_{target_token}");
        self.step_started(&create_volumes).await?;
        self.for_members(|m| self.copy_volumes(m, &sources)).await?;
        self.step_done(&create_volumes).await?;

        let manage_volumes = format!("manage_volumes_{target_token}");
        self.step_started(&manage_volumes).await?;
        self.for_members(|m| self.manage_volumes(m)).await?;
        self.step_done(&manage_volumes).await?;

        // Instances.
        let create_ports = format!("create_ports_{target_token}");
        self.step_started(&create_ports).await?;
        self.for_members(|m| self.create_ports(m)).await?;
        self.step_done(&create_ports).await?;

        let create_instances = format!("create_instances_{target_token}");
        self.step_started(&create_instances).await?;
        self.for_members(|m| self.create_server(m)).await?;
        self.step_done(&create_instances).await?;

        self.step_started("verify_instances").await?;
        self.for_members(|m| self.verify_server(m)).await?;
        let failed: Vec<MemberPlan> = {
            let results = lock(&self.results);
            plan.members
                .iter()
                .filter(|m| results.get(&m.member_id).is_some_and(|r| r.error.is_some()))
                .cloned()
                .collect()
        };
        if !failed.is_empty() {
            if failed.len() == plan.members.len() {
                let results = lock(&self.results);
                let reasons: Vec<String> = failed
                    .iter()
                    .map(|m| {
                        format!(
                            "{}: {}",
                            m.instance_name,
                            results[&m.member_id].error.clone().unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(Error::unexpected(format!(
                    "no instance became ACTIVE on {}: {}",
                    plan.target_site,
                    reasons.join("; ")
                )));
            }
            for member in &failed {
                self.restore_member(member).await?;
            }
        }
        self.step_done("verify_instances").await?;

        // Finalization.
        self.step_started("update_protection_group").await?;
        let group = self.engine.group_by_id(&plan.group_id).await?;
        let mut document = self.engine.document(group).await?;
        let partial = !failed.is_empty();
        document.group.apply(if partial {
            GroupEvent::FailoverPartial
        } else {
            GroupEvent::FailoverCompleted
        })?;
        let now = Utc::now();
        document.group.current_primary_site = plan.target_site.clone();
        document.group.failover_count += 1;
        document.group.last_failover_at = Some(now);
        document.group.active_operation_id = None;
        document.group.last_operation_id = Some(self.op_id());
        if plan.mode == FailoverMode::Unplanned && !plan.source_reachable {
            document.group.fence_required_on = Some(plan.source_site.clone());
        }
        {
            let results = lock(&self.results);
            for member in &mut document.members {
                let Some(result) = results.get(&member.id) else {
                    continue;
                };
                if let Some(error) = &result.error {
                    member.status = MemberStatus::Error;
                    member.error_message = Some(error.clone());
                    continue;
                }
                let placement = Placement {
                    site: plan.target_site.clone(),
                    instance_id: result.server_id.clone().unwrap_or_default(),
                    volume_ids: result.volume_ids.clone(),
                    array_volumes: result.array_volumes.clone(),
                    port_ids: result.port_ids.clone(),
                };
                member.standby = Some(std::mem::replace(&mut member.current, placement));
                member.status = MemberStatus::Protected;
                member.error_message = None;
            }
        }
        let committed = self
            .engine
            .commit(document, "failover", PeerPolicy::BestEffort)
            .await?;
        {
            let mut op = lock(&self.op);
            let results = lock(&self.results);
            op.instances_created =
                u32::try_from(results.values().filter(|r| r.error.is_none()).count())
                    .unwrap_or(u32::MAX);
            op.instances_failed = u32::try_from(failed.len()).unwrap_or(u32::MAX);
            op.data_loss = Some(match (&plan.mode, &plan.recovery_point) {
                (FailoverMode::Planned, _) if plan.replication_type == ReplicationType::Sync => {
                    "none: source VMs were stopped first and the pod replicates synchronously"
                        .to_string()
                }
                (FailoverMode::Planned, _) => {
                    "none: source VMs were stopped before the final replicated snapshot".to_string()
                }
                (FailoverMode::Unplanned, Some(point)) => point.data_at_risk.clone(),
                (FailoverMode::Unplanned, None) => {
                    format!("writes after snapshot {snapshot} were not replicated")
                }
            });
            if partial {
                op.error_message = Some(format!(
                    "{} of {} instances failed on {} and were restored on {}: {}",
                    failed.len(),
                    plan.members.len(),
                    plan.target_site,
                    plan.source_site,
                    failed
                        .iter()
                        .map(|m| format!(
                            "{} ({})",
                            m.instance_name,
                            results[&m.member_id].error.clone().unwrap_or_default()
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        }
        if plan.replication_type == ReplicationType::Async {
            if let Some(note) = self.protect_on_target().await {
                let mut op = lock(&self.op);
                op.error_message = Some(match op.error_message.take() {
                    Some(e) => format!("{e}; {note}"),
                    None => note,
                });
            }
        }
        self.step_done("update_protection_group").await?;

        self.step_started("sync_metadata").await?;
        let state = self
            .engine
            .store()
            .get_sync_state(&committed.group.id)
            .await?;
        match state {
            Some(s)
                if s.status == RemoteSyncStatus::Synced
                    && s.remote_version == committed.group.metadata.version =>
            {
                self.step_done("sync_metadata").await?;
            }
            other => {
                let why = other
                    .and_then(|s| s.last_error)
                    .unwrap_or_else(|| "unknown".into());
                let mut op = lock(&self.op);
                op.steps_failed.push("sync_metadata".into());
                let note = format!(
                    "metadata version {} could not be pushed to the other site ({why}): {}",
                    committed.group.metadata.version,
                    Hint::SyncForce {
                        group: plan.group_name.clone()
                    }
                    .describe()
                );
                op.error_message = Some(match op.error_message.take() {
                    Some(e) => format!("{e}; {note}"),
                    None => note,
                });
            }
        }
        Ok(())
    }

    /// Async storage phase up to the copy: final replicated snapshot (planned) or the reported
    /// recovery point (unplanned), and the volume snapshot each copy is made from.
    async fn snapshot_sources(&self) -> Result<(BTreeMap<String, String>, String)> {
        let plan = self.plan;
        let snapshot = if plan.mode == FailoverMode::Planned {
            self.step_started("quiesce_vms").await?;
            self.quiesce().await?;
            self.step_done("quiesce_vms").await?;

            self.step_started("final_snapshot").await?;
            let source_array = self
                .source_array
                .as_ref()
                .expect("planned has a source array");
            let snap = self
                .effect(
                    "final_snapshot",
                    json!({"protection_group": plan.array_group}),
                    source_array.create_pg_snapshot(
                        &plan.array_group,
                        &CreatePgSnapshot {
                            replicate_now: true,
                            apply_retention: true,
                            suffix: None,
                        },
                    ),
                )
                .await?;
            self.step_done("final_snapshot").await?;

            self.step_started("replicate_snapshot").await?;
            let source_name = plan.source_array.clone().unwrap_or_default();
            let replica = format!("{source_name}:{}", snap.name);
            self.wait_replicated(&replica).await?;
            self.step_done("replicate_snapshot").await?;
            Some(replica)
        } else {
            if plan.steps.iter().any(|s| s.name == "quiesce_vms") {
                // The source site answers although its array does not: stop what still runs
                // there, so that the group needs no fencing.
                self.step_started("quiesce_vms").await?;
                self.quiesce().await?;
                self.step_done("quiesce_vms").await?;
            }
            None
        };

        self.step_started("identify_snapshot").await?;
        let snapshot = match snapshot {
            Some(s) => s,
            None => self.reported_recovery_point().await?,
        };
        let volume_snapshots = self.target_array.list_volume_snapshots(&snapshot).await?;
        let mut sources = BTreeMap::new();
        for member in &plan.members {
            for volume in &member.volumes {
                let wanted = format!("{snapshot}.{}", volume.source_array_volume);
                let found = volume_snapshots.iter().find(|v| v.name == wanted).ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "snapshot {snapshot} on {} holds no copy of volume {} of member {}: the volume is not in FlashArray protection group '{}'; re-add the member",
                            plan.target_site, volume.source_array_volume, member.instance_name, plan.array_group
                        ),
                    )
                })?;
                sources.insert(volume.copy_name.clone(), found.name.clone());
            }
        }
        self.journal(
            "identify_snapshot",
            JournalKind::Done,
            json!({"snapshot": snapshot}),
        )
        .await;
        self.step_done("identify_snapshot").await?;
        Ok((sources, snapshot))
    }

    /// Sync storage phase up to the copy: the source VMs stopped (when they answer), the pod
    /// online on the target array; each copy is made from the pod volume itself.
    async fn pod_sources(&self) -> Result<(BTreeMap<String, String>, String)> {
        let plan = self.plan;
        if plan.steps.iter().any(|s| s.name == "quiesce_vms") {
            self.step_started("quiesce_vms").await?;
            self.quiesce().await?;
            self.step_done("quiesce_vms").await?;
        }
        self.step_started("verify_pod").await?;
        let target_name = plan.target_array.clone().unwrap_or_default();
        let pod = super::pods::pod_on(self.target_array.as_ref(), &target_name, &plan.array_group)
            .await?;
        if !super::pods::online_on(&pod, &target_name) {
            return Err(Error::unavailable(format!(
                "pod '{}' is not online on {target_name} ({}): its copy there may be behind, so a failover now could lose data; wait until the pod is online on both arrays",
                pod.name,
                pod.arrays
                    .iter()
                    .map(|a| format!("{} {}", a.name, a.status))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let sources = plan
            .members
            .iter()
            .flat_map(|m| m.volumes.iter())
            .map(|v| (v.copy_name.clone(), v.source_array_volume.clone()))
            .collect();
        self.journal(
            "verify_pod",
            JournalKind::Done,
            json!({"pod": pod.name, "arrays": pod.arrays.iter().map(|a| (&a.name, &a.status)).collect::<Vec<_>>()}),
        )
        .await;
        self.step_done("verify_pod").await?;
        Ok((sources, format!("pod {}", pod.name)))
    }

    /// Waits until pg snapshot `replica` (`source-array:pg.N`) has fully arrived on the target
    /// array.
    /// Waits until snapshot `replica` (`source:pg.N`) has fully arrived on the target array.
    ///
    /// The source VMs are stopped while this runs, so the wait is short: it ends at once when
    /// the target array reports the replication link down, and after
    /// [`super::wait::final_snapshot_wait`] of the policy's interval otherwise. Either way the
    /// error names the group, the snapshot and the cause, and the operation's rollback
    /// restarts the source VMs.
    pub(super) async fn wait_replicated(&self, replica: &str) -> Result<()> {
        let plan = self.plan;
        let interval = self
            .engine
            .store()
            .get_policy(&plan.group_id)
            .await?
            .map_or(0, |p| p.replication_interval_secs);
        let bound = super::wait::final_snapshot_wait(interval);
        let poll = self.engine.options().poll.at_most(bound);
        let target_array = self.target_array.clone();
        let target_name = plan.target_array.clone().unwrap_or_default();
        let source_name = replica.split_once(':').map_or("", |(s, _)| s).to_string();
        let stalled = format!(
            "replication of snapshot {replica} of protection group '{}' to {}'s FlashArray {target_name} stalled",
            plan.group_name, plan.target_site
        );
        let advice = if lock(&self.op).operation_type == OperationType::Failover {
            "restore the replication link between the arrays and retry, or run an unplanned (forced) failover, which accepts the data at risk"
        } else {
            "restore the replication link between the arrays and retry"
        };
        let last = Mutex::new(String::from("not polled yet"));
        let outcome = wait_for(
            &format!("snapshot {replica} to arrive on {}", plan.target_site),
            &poll,
            || {
                let target_array = target_array.clone();
                let (replica, target_name, source_name) = (replica, &target_name, &source_name);
                let (stalled, last) = (&stalled, &last);
                async move {
                    // The target answers "does not exist" until the transfer starts.
                    let transfers = match target_array.list_pg_snapshot_transfers(replica).await {
                        Ok(t) => t,
                        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
                        Err(e) => {
                            *lock(last) = format!("error: {}", e.message());
                            return Err(e);
                        }
                    };
                    let state = match transfers.into_iter().find(|t| t.name == replica) {
                        Some(t) if t.is_complete() => return Ok(PollOutcome::Ready(())),
                        Some(t) => format!("progress {:.0}%", t.progress * 100.0),
                        None => "not on the target array yet".to_string(),
                    };
                    *lock(last) = state.clone();
                    // A cut link will not deliver it: stop waiting now.
                    if let Some(problem) =
                        super::report::link_problem(target_array.as_ref(), target_name, source_name)
                            .await?
                    {
                        return Err(Error::unavailable(format!(
                            "{stalled} ({state}): {problem}; {advice}"
                        ))
                        .with_retry(crate::error::RetryStatus::Permanent));
                    }
                    Ok(PollOutcome::Pending(state))
                }
            },
        )
        .await;
        match outcome {
            Err(e) if e.kind() == ErrorKind::Timeout => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{stalled}: it had not arrived within {} (the wait allowed by the replication interval of {interval} s; last state: {}); check the replication link and both arrays, then retry",
                    super::planner::human_age(i64::try_from(poll.timeout.as_secs()).unwrap_or(i64::MAX)),
                    lock(&last)
                ),
            )),
            other => other,
        }
    }

    /// Runs `f` for every member with bounded concurrency; the first error wins after all ran.
    pub(super) async fn for_members<'m, F, Fut>(&'m self, f: F) -> Result<()>
    where
        F: Fn(&'m MemberPlan) -> Fut,
        Fut: std::future::Future<Output = Result<()>> + 'm,
    {
        self.for_members_where(|_| true, f).await
    }

    /// [`Run::for_members`] for the members `keep` selects.
    pub(super) async fn for_members_where<'m, K, F, Fut>(&'m self, keep: K, f: F) -> Result<()>
    where
        K: Fn(&MemberPlan) -> bool,
        F: Fn(&'m MemberPlan) -> Fut,
        Fut: std::future::Future<Output = Result<()>> + 'm,
    {
        let skip: Vec<Uuid> = lock(&self.results)
            .iter()
            .filter(|(_, r)| r.error.is_some())
            .map(|(id, _)| *id)
            .collect();
        // The futures are made up front (they do nothing until polled) so that the stream
        // holds no closure: that keeps the whole operation's future `Send` for any caller.
        let futures: Vec<Fut> = self
            .plan
            .members
            .iter()
            .filter(|m| !skip.contains(&m.member_id) && keep(m))
            .map(f)
            .collect();
        let results: Vec<Result<()>> = stream::iter(futures)
            .buffer_unordered(self.engine.options().member_concurrency.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    pub(super) async fn quiesce(&self) -> Result<()> {
        let compute = self.source()?.compute.clone();
        let poll = self.engine.options().poll.clone();
        self.for_members(|member| {
            let compute = compute.clone();
            let poll = poll.clone();
            async move {
                let id = member.source_instance_id.clone();
                let server = compute.get_server(&id).await?.ok_or_else(|| {
                    Error::not_found(format!(
                        "server {id} of member {} disappeared from {}",
                        member.instance_name, self.plan.source_site
                    ))
                })?;
                if server.status != ServerStatus::Shutoff {
                    self.effect(
                        &format!("stop_server:{}", member.instance_name),
                        json!({"server": id}),
                        compute.stop_server(&id),
                    )
                    .await?;
                    lock(&self.undo).stopped.push(id.clone());
                }
                wait_stopped(
                    &compute,
                    &id,
                    &format!(
                        "server {} on {}",
                        member.instance_name, self.plan.source_site
                    ),
                    &poll,
                )
                .await
            }
        })
        .await
    }

    /// Protects the workload where it now runs: the imported volumes go into the policy's
    /// protection group on the target array, replicating back to the source array on the
    /// policy's schedule, so that the RPO holds while failed over and a failback's final
    /// snapshot has little to send. Best effort (the failover itself is done): returns a note
    /// when it could not be set up, e.g. while the source array is down; the failback sets it
    /// up then.
    async fn protect_on_target(&self) -> Option<String> {
        let plan = self.plan;
        let (Some(source_array), Some(source_name), Some(target_name)) = (
            self.source_array.as_ref(),
            plan.source_array.as_ref(),
            plan.target_array.as_ref(),
        ) else {
            return Some(format!(
                "replication {} → {} was not set up (an array name is unknown): the failback sets it up",
                plan.target_site, plan.source_site
            ));
        };
        let volumes: Vec<String> = lock(&self.results)
            .values()
            .filter(|r| r.error.is_none())
            .flat_map(|r| r.array_volumes.clone())
            .collect();
        let interval = match self.engine.store().get_policy(&plan.group_id).await {
            Ok(Some(policy)) => policy.replication_interval_secs,
            _ => 0,
        };
        let result = async {
            super::resources::ensure_replicating(
                self.target_array.as_ref(),
                target_name,
                source_array.as_ref(),
                source_name,
                &plan.array_group,
                &volumes,
            )
            .await?;
            if interval > 0 {
                self.target_array
                    .set_replication_schedule(&plan.array_group, true, interval)
                    .await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        self.journal(
            "protect_on_target",
            if result.is_ok() {
                JournalKind::Done
            } else {
                JournalKind::Failed
            },
            json!({"protection_group": plan.array_group, "array": target_name, "volumes": volumes}),
        )
        .await;
        result.err().map(|e| {
            format!(
                "the workload on {} is not replicated to {} yet ({}): the failback sets it up",
                plan.target_site,
                plan.source_site,
                e.message()
            )
        })
    }

    /// The snapshot the plan reported the data at risk for: recovering from exactly that one
    /// makes the loss exactly the one reported (a newer snapshot may have arrived since).
    async fn reported_recovery_point(&self) -> Result<String> {
        let point = self.plan.recovery_point.as_ref().ok_or_else(|| {
            Error::invalid(format!(
                "the plan of this unplanned failover of '{}' has no recovery point: plan again",
                self.plan.group_name
            ))
        })?;
        let transfers = self
            .target_array
            .list_pg_snapshot_transfers(&point.snapshot)
            .await?;
        if transfers
            .iter()
            .any(|t| t.name == point.snapshot && t.is_complete())
        {
            Ok(point.snapshot.clone())
        } else {
            Err(Error::not_found(format!(
                "replicated snapshot {} is no longer on {}'s FlashArray (retention removed it): plan the unplanned failover again",
                point.snapshot, self.plan.target_site
            )))
        }
    }

    pub(super) async fn copy_volumes(
        &self,
        member: &MemberPlan,
        sources: &BTreeMap<String, String>,
    ) -> Result<()> {
        for volume in &member.volumes {
            let source = sources[&volume.copy_name].clone();
            let request = CopyVolume {
                name: volume.copy_name.clone(),
                source: source.clone(),
                overwrite: false,
            };
            self.effect(
                &format!("copy_volume:{}", volume.copy_name),
                json!({"source": source, "name": volume.copy_name}),
                self.target_array.copy_volume(&request),
            )
            .await?;
            lock(&self.undo).copies.push(volume.copy_name.clone());
        }
        Ok(())
    }

    pub(super) async fn manage_volumes(&self, member: &MemberPlan) -> Result<()> {
        let host = self.plan.manage_host.clone().ok_or_else(|| {
            Error::invalid(format!(
                "no cinder-volume host to manage into on {}",
                self.plan.target_site
            ))
        })?;
        let op_id = self.op_id();
        let mut volume_ids = Vec::new();
        let mut array_volumes = Vec::new();
        for volume in &member.volumes {
            let step = format!("manage_volume:{}", volume.copy_name);
            let mut metadata = BTreeMap::new();
            metadata.insert("protector:operation".to_string(), op_id.to_string());
            metadata.insert("protector:step".to_string(), format!("{op_id}:{step}"));
            metadata.insert(
                "protector:source_volume".to_string(),
                volume.source_volume_id.clone(),
            );
            let request = ManageVolume {
                host: host.clone(),
                source_name: volume.copy_name.clone(),
                name: volume.name.clone(),
                volume_type: self.plan.target_volume_type.clone(),
                bootable: volume.bootable,
                description: format!(
                    "Imported by protector failover {op_id} from volume {} on {}",
                    volume.source_volume_id, self.plan.source_site
                ),
                metadata,
            };
            let created = self
                .effect(
                    &step,
                    json!({"source_name": volume.copy_name}),
                    self.target.block_storage.manage_volume(&request),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "Failed to manage volume {} on {}",
                        volume.copy_name, self.plan.target_site
                    ))
                })?;
            lock(&self.undo).volumes.push(created.id.clone());
            let storage = self.target.block_storage.clone();
            let id = created.id.clone();
            let ready = wait_volume_available(
                &storage,
                &id,
                &format!("volume {} on {}", volume.name, self.plan.target_site),
                &self.engine.options().poll,
            )
            .await?;
            lock(&self.undo).copies.retain(|c| c != &volume.copy_name);
            volume_ids.push(ready.id.clone());
            array_volumes.push(
                ready
                    .array_volume
                    .clone()
                    .unwrap_or_else(|| format!("volume-{}-cinder", ready.id)),
            );
        }
        let mut results = lock(&self.results);
        let entry = results.entry(member.member_id).or_default();
        entry.volume_ids = volume_ids;
        entry.array_volumes = array_volumes;
        Ok(())
    }

    pub(super) async fn create_ports(&self, member: &MemberPlan) -> Result<()> {
        let op_id = self.op_id();
        let mut port_ids = Vec::new();
        for (i, nic) in member.nics.iter().enumerate() {
            let step = format!("create_port:{}:{i}", member.instance_name);
            let request = port_request(
                member,
                nic,
                format!("{}-port-{i}", member.instance_name),
                format!("protector:{op_id}:{step}"),
                &self.plan.target_site,
            )?;
            let port = self
                .effect(
                    &step,
                    json!({"network": request.network_id}),
                    self.target.network.create_port(&request),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "creating a port for {} on {}",
                        member.instance_name, self.plan.target_site
                    ))
                })?;
            lock(&self.undo).ports.push(port.id.clone());
            port_ids.push(port.id);
        }
        lock(&self.results)
            .entry(member.member_id)
            .or_default()
            .port_ids = port_ids;
        Ok(())
    }

    pub(super) async fn create_server(&self, member: &MemberPlan) -> Result<()> {
        let op_id = self.op_id();
        let (volume_ids, port_ids) = {
            let results = lock(&self.results);
            let r = results.get(&member.member_id).cloned().unwrap_or_default();
            (r.volume_ids, r.port_ids)
        };
        let step = format!("create_server:{}", member.instance_name);
        let mut metadata = BTreeMap::new();
        metadata.insert("protector:operation".to_string(), op_id.to_string());
        metadata.insert("protector:member".to_string(), member.member_id.to_string());
        metadata.insert("protector:step".to_string(), format!("{op_id}:{step}"));
        metadata.insert(
            "protector:source_instance".to_string(),
            member.source_instance_id.clone(),
        );
        let request = server_request(
            member,
            &member.instance_name,
            &volume_ids,
            port_ids,
            metadata,
            &self.plan.target_site,
        )?;
        let server = self
            .effect(
                &step,
                json!({"name": request.name}),
                self.target.compute.create_server(&request),
            )
            .await
            .map_err(|e| {
                e.with_prefix(format!(
                    "Failed to create instance '{}' on {}",
                    member.instance_name, self.plan.target_site
                ))
            })?;
        lock(&self.undo).servers.push(server.id.clone());
        lock(&self.results)
            .entry(member.member_id)
            .or_default()
            .server_id = Some(server.id);
        Ok(())
    }

    pub(super) async fn verify_server(&self, member: &MemberPlan) -> Result<()> {
        let id = lock(&self.results)
            .get(&member.member_id)
            .and_then(|r| r.server_id.clone())
            .unwrap_or_default();
        let server = wait_server_booted(
            &self.target.compute,
            &id,
            &format!(
                "instance {} on {}",
                member.instance_name, self.plan.target_site
            ),
            &self.engine.options().poll,
        )
        .await?;
        if server.status == ServerStatus::Error {
            let fault = server.fault.unwrap_or_else(|| "no fault recorded".into());
            self.journal(
                &format!("verify_server:{}", member.instance_name),
                JournalKind::Failed,
                json!({"fault": fault}),
            )
            .await;
            lock(&self.results)
                .entry(member.member_id)
                .or_default()
                .error = Some(format!(
                "instance went to ERROR on {}: {fault}",
                self.plan.target_site
            ));
        }
        Ok(())
    }

    /// Before anything is created on the target (the group is claimed, nothing else runs on
    /// it): removes what earlier failed failovers and failbacks of the group left there, found
    /// by their tags (a create whose answer was lost, a rollback that could not reach the
    /// site), so that this run adds the only set. Never what a member of the group uses. Best
    /// effort: what cannot be removed is journaled, and stays for the next run or for
    /// recovering the failed operation.
    pub(super) async fn clear_earlier_leftovers(&self) {
        let result = async {
            let group = self.engine.group_by_id(&self.plan.group_id).await?;
            self.engine
                .remove_earlier_leftovers(&group, self.op_id(), &self.target, &self.target_array)
                .await
        }
        .await;
        let (kind, detail) = match &result {
            Ok((0, _)) => return,
            Ok((removed, leftovers)) => (
                if leftovers.is_empty() {
                    JournalKind::Done
                } else {
                    JournalKind::Failed
                },
                json!({"found": removed, "leftovers": leftovers}),
            ),
            Err(e) => (JournalKind::Failed, json!({"error": e.message()})),
        };
        if kind == JournalKind::Failed {
            tracing::warn!(%detail, site = %self.plan.target_site, "could not remove what earlier failed operations left");
        }
        self.journal("remove_earlier_leftovers", kind, detail).await;
    }

    /// Undoes one member's target resources and restarts its source VM (partial failover).
    async fn restore_member(&self, member: &MemberPlan) -> Result<()> {
        let result = lock(&self.results)
            .get(&member.member_id)
            .cloned()
            .unwrap_or_default();
        let mut undo = Undo::default();
        undo.servers.extend(result.server_id.clone());
        undo.ports.extend(result.port_ids.clone());
        undo.volumes.extend(result.volume_ids.clone());
        if lock(&self.undo)
            .stopped
            .contains(&member.source_instance_id)
        {
            undo.stopped.push(member.source_instance_id.clone());
        }
        {
            let mut all = lock(&self.undo);
            all.servers.retain(|s| !undo.servers.contains(s));
            all.ports.retain(|s| !undo.ports.contains(s));
            all.volumes.retain(|s| !undo.volumes.contains(s));
            all.stopped.retain(|s| !undo.stopped.contains(s));
        }
        let leftovers = self.undo_listed(undo).await;
        if leftovers.is_empty() {
            Ok(())
        } else {
            Err(Error::unexpected(format!(
                "could not restore member {} after its instance failed: {}",
                member.instance_name,
                leftovers.join("; ")
            )))
        }
    }

    /// Deletes servers (waiting until gone), then ports, then volumes (once detached) on the
    /// site of `clients`, journaling each. Missing ones count as removed. Returns what could not
    /// be removed.
    pub(super) async fn remove_site_resources(
        &self,
        clients: &SiteClients,
        servers: &[String],
        ports: &[String],
        volumes: &[String],
    ) -> Vec<String> {
        let leftovers = remove_resources(
            clients,
            servers,
            ports,
            volumes,
            &self.engine.options().poll,
        )
        .await;
        self.journal(
            &format!("remove_resources:{}", clients.site),
            JournalKind::Compensated,
            json!({"servers": servers, "ports": ports, "volumes": volumes, "leftovers": leftovers}),
        )
        .await;
        leftovers
    }

    /// Undoes the whole run: what `undo` lists and everything else on the target tagged with
    /// this operation (a create whose answer was lost, a timeout or a reset connection after
    /// the request took effect, left no id in `undo`). Returns what could not be undone; when
    /// the target could not be searched, that says so and names the recovery.
    pub(super) async fn compensate(&self, undo: Undo) -> Vec<String> {
        self.undo_all(undo, true).await
    }

    /// Undoes what `undo` lists and nothing else (one member of a run that goes on). Returns
    /// what could not be undone.
    async fn undo_listed(&self, undo: Undo) -> Vec<String> {
        self.undo_all(undo, false).await
    }

    /// What the target holds tagged with this operation: servers and volumes by metadata,
    /// ports by description, array copies by the names its journal intended (and `copies`).
    /// Nothing a member of the group uses is returned. The search only reads, so a transient
    /// failure (the same timeouts that lose answers) is tried again, three times at most.
    async fn tagged_on_target(&self, copies: &[String]) -> Result<super::copies::Copies> {
        let op_id = self.op_id();
        let journal = self.engine.store().list_journal(&op_id).await?;
        let mut names = super::copies::copies_of(&journal);
        names.extend(
            copies
                .iter()
                .filter(|c| !names.contains(c))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let members = self
            .engine
            .store()
            .list_members(&self.plan.group_id)
            .await?;
        let keep = super::copies::in_use(&members);
        let mut attempt = 1;
        loop {
            let found = super::copies::tagged_on(
                &self.target,
                Some(&self.target_array),
                op_id,
                &names,
                &keep,
            )
            .await;
            match found {
                Err(e) if e.is_retryable() && attempt < 3 => attempt += 1,
                other => return other,
            }
        }
    }

    /// Undoes what `undo` lists (and, with `sweep`, what the target holds tagged with this
    /// operation), in reverse order of creation. Returns what could not be undone.
    async fn undo_all(&self, undo: Undo, sweep: bool) -> Vec<String> {
        let mut leftovers = Vec::new();
        let poll = &self.engine.options().poll;
        let compute = self.target.compute.clone();
        for id in &undo.started {
            if let Err(e) = stop_server_and_wait(&compute, id, poll).await {
                leftovers.push(format!(
                    "server {id} on {} was started and could not be stopped again: {}",
                    self.plan.target_site,
                    e.message()
                ));
            }
        }
        let mut copies = super::copies::Copies {
            servers: undo.servers.clone(),
            ports: undo.ports.clone(),
            volumes: undo.volumes.clone(),
            array_volumes: undo.copies.clone(),
        };
        if sweep {
            match self.tagged_on_target(&undo.copies).await {
                Ok(found) => copies.merge(found),
                Err(e) => {
                    let op_id = self.op_id();
                    leftovers.push(format!(
                        "{site} could not be searched for what operation op-{op_id} created there ({}): recover the operation op-{op_id} once {site} answers, to remove what it left",
                        e.message(),
                        site = self.plan.target_site,
                    ));
                }
            }
        }
        let removed =
            super::copies::remove_copies(&self.target, Some(&self.target_array), &copies, poll)
                .await;
        self.journal(
            &format!("remove_resources:{}", self.target.site),
            JournalKind::Compensated,
            json!({
                "servers": copies.servers,
                "ports": copies.ports,
                "volumes": copies.volumes,
                "array_volumes": copies.array_volumes,
                "leftovers": removed,
            }),
        )
        .await;
        leftovers.extend(removed);
        if !undo.stopped.is_empty() {
            match self.source() {
                Ok(source) => {
                    for id in &undo.stopped {
                        let result = start_server_and_wait(&source.compute, id, poll).await;
                        if let Err(e) = result {
                            leftovers.push(format!(
                                "source server {id} on {} was not restarted: {}",
                                self.plan.source_site,
                                e.message()
                            ));
                        }
                    }
                }
                Err(e) => leftovers.push(format!("source VMs were not restarted: {}", e.message())),
            }
        }
        leftovers
    }

    /// Records the outcome: compensates on failure and settles the group status.
    /// What the rollback could not record, and how to repair it: the group's end state written
    /// by the rollback (`recorded`) may have reached only the local site, or neither.
    async fn unrecorded_rollback(
        &self,
        recorded: Result<GroupDocument>,
        in_flight: GroupStatus,
    ) -> Option<String> {
        let group = &self.plan.group_name;
        let local = self.engine.local_site().to_string();
        let document = match recorded {
            Ok(document) => document,
            Err(e) => {
                tracing::warn!(error = %e, "could not record the failed operation on the group");
                return Some(format!(
                    "the group could not be set back and is still recorded as {in_flight} ({}): \
                     recover operation op-{} to settle it",
                    e.message(),
                    self.op_id()
                ));
            }
        };
        let peer = document.group.peer_of(&local).to_string();
        let synced = self
            .engine
            .store()
            .get_sync_state(&document.group.id)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| {
                s.status == RemoteSyncStatus::Synced
                    && s.remote_version == document.group.metadata.version
            });
        (!synced).then(|| {
            format!(
                "{peer} could not be told and still records protection group '{group}' as \
                 {in_flight}: once {peer} is reachable, run sync-force on the group to repair it"
            )
        })
    }

    /// The error to return instead of the operation record when the run stopped because
    /// another operation claimed the group first (nothing was changed by this run).
    pub(super) fn claim_refused(&self, outcome: &Result<()>) -> Option<Error> {
        let Err(error) = outcome else {
            return None;
        };
        let claimed = lock(&self.op)
            .steps_completed
            .iter()
            .any(|s| s == "create_dr_record");
        (error.kind() == ErrorKind::Conflict && !claimed)
            .then(|| Error::conflict(error.message().to_string()))
    }

    pub(super) async fn finish(&self, outcome: Result<()>) -> Operation {
        let now = Utc::now();
        match outcome {
            Ok(()) => {
                let mut op = lock(&self.op);
                op.status = if op.instances_failed > 0 {
                    OperationStatus::Partial
                } else {
                    OperationStatus::Completed
                };
                op.progress = 100;
                op.phase = Phase::Finalization;
                op.completed_at = Some(now);
            }
            Err(error) => {
                let failed_step = {
                    let op = lock(&self.op);
                    self.plan
                        .steps
                        .iter()
                        .find(|s| !op.steps_completed.contains(&s.name))
                        .map_or_else(|| "unknown".to_string(), |s| s.name.clone())
                };
                let undo = std::mem::take(&mut *lock(&self.undo));
                let changed_world = !(undo.stopped.is_empty()
                    && undo.started.is_empty()
                    && undo.copies.is_empty()
                    && undo.volumes.is_empty()
                    && undo.ports.is_empty()
                    && undo.servers.is_empty());
                let leftovers = self.compensate(undo).await;
                let failback = lock(&self.op).operation_type == OperationType::Failback;
                let in_flight = if failback {
                    GroupStatus::FailingBack
                } else {
                    GroupStatus::FailingOver
                };
                // Only the operation that holds the group may put it back: a run that lost
                // the claim to another operation must not undo what that one recorded.
                let op_id = self.op_id();
                let group_recorded = self
                    .engine
                    .group_by_id(&self.plan.group_id)
                    .await
                    .is_ok_and(|g| g.status == in_flight && g.active_operation_id == Some(op_id));
                let mut note = if leftovers.is_empty() {
                    if changed_world {
                        format!("rolled back: nothing was left on {} and the source VMs run again on {}", self.plan.target_site, self.plan.source_site)
                    } else {
                        "nothing was changed".to_string()
                    }
                } else {
                    format!(
                        "rollback incomplete, clean up by hand: {}",
                        leftovers.join("; ")
                    )
                };
                if group_recorded {
                    if let Ok(group) = self.engine.group_by_id(&self.plan.group_id).await {
                        if let Ok(mut document) = self.engine.document(group).await {
                            let event = if !leftovers.is_empty() {
                                GroupEvent::OperationFailed
                            } else if failback {
                                GroupEvent::FailbackAborted {
                                    previous: self.previous_status,
                                }
                            } else {
                                GroupEvent::FailoverAborted {
                                    previous: self.previous_status,
                                }
                            };
                            if document.group.apply(event).is_ok() {
                                document.group.active_operation_id = None;
                                let recorded = self
                                    .engine
                                    .commit(
                                        document,
                                        if failback {
                                            "failback-failed"
                                        } else {
                                            "failover-failed"
                                        },
                                        PeerPolicy::BestEffort,
                                    )
                                    .await;
                                if let Some(gap) =
                                    self.unrecorded_rollback(recorded, in_flight).await
                                {
                                    note.push_str("; ");
                                    note.push_str(&gap);
                                }
                            }
                        }
                    }
                }
                let mut op = lock(&self.op);
                op.status = OperationStatus::Failed;
                op.steps_failed.push(failed_step);
                op.completed_at = Some(now);
                op.error_message = Some(format!("{error} ({note})"));
            }
        }
        let op = self.snapshot();
        if let Err(e) = self.engine.store().put_operation(&op).await {
            tracing::warn!(error = %e, "could not record the operation");
        }
        self.observer.on_update(&op);
        op
    }
}
