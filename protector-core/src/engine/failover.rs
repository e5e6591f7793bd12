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
use std::sync::Mutex;

use chrono::Utc;
use serde_json::json;

use super::planner::FailoverRequest;
use super::progress::ProgressObserver;
use super::runner::{lock, ChainSteps, Resumed, Run, Undo};
use super::sync::PeerPolicy;
use super::Protector;
use crate::api::CreatePgSnapshot;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{
    GroupEvent, GroupStatus, HookPoint, MemberStatus, Operation, OperationStatus, OperationType,
    Phase, Placement, ReplicationType,
};
use crate::plan::{FailoverMode, MemberPlan, Plan};
use crate::store::{JournalKind, RemoteSyncStatus};

impl Protector {
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
        self.run_failover(plan, observer, None).await
    }

    /// Runs failover `plan` (its lock held by the caller): afresh, or continuing the run of
    /// the same operation that `resumed` observed (recovery; its record is `op`).
    pub(super) async fn run_failover(
        &self,
        plan: &Plan,
        observer: &dyn ProgressObserver,
        resumed: Option<(Operation, Resumed, GroupStatus)>,
    ) -> Result<Operation> {
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
        let (op, resumed, previous_status) = match resumed {
            Some((mut op, resumed, previous)) => {
                op.status = OperationStatus::Running;
                (op, Some(resumed), previous)
            }
            None => {
                let mut op = Operation::start(
                    OperationType::Failover,
                    Some((&group.id, &group.name)),
                    &plan.source_site,
                    &plan.target_site,
                    Utc::now(),
                );
                op.id = plan.id;
                op.estimate = plan.estimate.clone();
                (op, None, group.status)
            }
        };
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
            previous_status,
            resumed,
            unwritten: Mutex::default(),
        };
        run.save().await?;
        run.record_plan(false).await;
        run.inherit_undo();
        // Boxed: the run is a large future, and a site failover nests one per group.
        let outcome = Box::pin(run.execute()).await;
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
    async fn execute(&self) -> Result<()> {
        let plan = self.plan;
        let target_token = super::planner::site_token(&plan.target_site);

        // Preparation.
        self.hooks_at(HookPoint::PrePreparation).await?;
        self.step_started("validate_sites").await?;
        // Both sites at once (the source only when planned); the target's answer first.
        let source_check = async {
            if plan.mode == FailoverMode::Planned {
                self.engine.ensure_reachable(&plan.source_site).await?;
            }
            Ok::<(), Error>(())
        };
        let (target, source) = futures::join!(
            Box::pin(self.engine.ensure_reachable(&plan.target_site)),
            Box::pin(source_check)
        );
        target?;
        source?;
        self.step_done("validate_sites").await?;

        self.step_started("create_dr_record").await?;
        let group = self.engine.group_by_id(&plan.group_id).await?;
        Protector::ensure_not_claimed(&group, self.op_id())?;
        if !self.claimed_before(&group) {
            let mut document = self.engine.document(group).await?;
            document.group.apply(GroupEvent::FailoverStarted)?;
            document.group.active_operation_id = Some(self.op_id());
            // An unplanned failover runs because the other site is lost: it records the
            // change here and the other site catches up with sync-force when it returns.
            let peer_policy = if plan.mode == FailoverMode::Planned {
                PeerPolicy::Required
            } else {
                PeerPolicy::BestEffort
            };
            self.engine
                .commit(document, "failover-start", peer_policy)
                .await?;
        }
        self.step_done("create_dr_record").await?;
        self.clear_earlier_leftovers().await;
        self.hooks_at(HookPoint::PostPreparation).await?;

        // Storage.
        self.hooks_at(HookPoint::PreStorage).await?;
        let (sources, snapshot) = if plan.replication_type == ReplicationType::Sync {
            Box::pin(self.pod_sources()).await?
        } else {
            Box::pin(self.snapshot_sources()).await?
        };

        let steps = ChainSteps {
            create_volumes: format!("create_volumes_{target_token}"),
            manage_volumes: format!("manage_volumes_{target_token}"),
            create_ports: format!("create_ports_{target_token}"),
            instances: format!("create_instances_{target_token}"),
        };
        if self.needs_barriers() {
            Box::pin(self.phases_with_barriers(&steps, &sources)).await?;
        } else {
            // Each member's chain goes as soon as its own inputs are ready (runner::chains).
            Box::pin(self.member_chains(
                &steps,
                |_| true,
                &sources,
                |m| self.create_ports(m),
                |m| self.create_server(m),
            ))
            .await?;
        }

        self.step_started("verify_instances").await?;
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
        // The workload runs on the target: the recovery time ends here, re-protection follows.
        self.mark_recovered().await?;
        self.hooks_at(HookPoint::PostInstances).await?;

        // Finalization.
        self.hooks_at(HookPoint::PreFinalization).await?;
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
        document.group.recovery_point = Some(super::recovery_points::running_point(
            plan,
            self.op_id(),
            &snapshot,
            now,
        ));
        // Uncommitted: the re-protection waits for the commit (a rollback removes the copies).
        let awaits_commit = super::recovery_points::awaits_commit(&document.group, now);
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
        // Re-protection, its own step after the recovery: the imported volumes replicate back.
        // Timed in the operation's step times (`reprotect`) rather than listed among the
        // plan's steps, so the completed steps still read as the plan that ran.
        if plan.replication_type == ReplicationType::Async && !awaits_commit {
            lock(&self.op).note_step_started("reprotect", Phase::Finalization, Utc::now());
            self.save().await?;
            match self.protect_on_target().await {
                None => {
                    lock(&self.op).note_step_done("reprotect", Utc::now());
                    self.save().await?;
                }
                Some(note) => {
                    let mut op = lock(&self.op);
                    op.steps_failed.push("reprotect".into());
                    op.error_message = Some(match op.error_message.take() {
                        Some(e) => format!("{e}; {note}"),
                        None => note,
                    });
                }
            }
        }
        self.hooks_at(HookPoint::PostFinalization).await
    }

    /// The storage and instance phases with barriers, for a plan with a hook between them:
    /// every member's volumes, then the hooks, then ports and the boot waves.
    async fn phases_with_barriers(
        &self,
        steps: &ChainSteps,
        sources: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.step_started(&steps.create_volumes).await?;
        self.for_members(|m| self.copy_volumes(m, sources)).await?;
        self.step_done(&steps.create_volumes).await?;

        self.step_started(&steps.manage_volumes).await?;
        self.for_members(|m| self.manage_volumes(m)).await?;
        self.step_done(&steps.manage_volumes).await?;
        self.hooks_at(HookPoint::PostStorage).await?;

        // Instances.
        self.hooks_at(HookPoint::PreInstances).await?;
        self.step_started(&steps.create_ports).await?;
        self.for_members(|m| self.create_ports(m)).await?;
        self.step_done(&steps.create_ports).await?;

        self.step_started(&steps.instances).await?;
        // Wave by wave (boot order): each wave is verified ACTIVE before the next boots.
        self.boot_waves(|m| self.create_server(m)).await?;
        self.step_done(&steps.instances).await?;
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
            // Resumed: the snapshot the interrupted run took (the VMs were stopped before
            // it), else a new one (they are stopped now: it holds every write).
            let taken = self
                .output_before("final_snapshot")
                .and_then(|o| o.get("name").and_then(|n| n.as_str()).map(str::to_string));
            let snap = match taken {
                Some(name) => name,
                None => {
                    self.effect(
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
                    .await?
                    .name
                }
            };
            self.step_done("final_snapshot").await?;

            self.step_started("replicate_snapshot").await?;
            let source_name = plan.source_array.clone().unwrap_or_default();
            let replica = format!("{source_name}:{snap}");
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
        // The final snapshot was taken of the protection group the plan read a moment ago:
        // its volume snapshots are named after the members' volumes, no listing needed (a
        // copy from one that is missing fails with the array's word). A recovery point found
        // on the target is listed: it may predate a member's volume.
        let taken_now = snapshot.is_some();
        let snapshot = match snapshot {
            Some(s) => s,
            None => self.reported_recovery_point().await?,
        };
        let volume_snapshots = match taken_now {
            true => None,
            false => Some(self.target_array.list_volume_snapshots(&snapshot).await?),
        };
        let mut sources = BTreeMap::new();
        for member in &plan.members {
            for volume in &member.volumes {
                let wanted = format!("{snapshot}.{}", volume.source_array_volume);
                let Some(volume_snapshots) = &volume_snapshots else {
                    sources.insert(volume.copy_name.clone(), wanted);
                    continue;
                };
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
        let result = super::resources::ensure_replicating(
            self.target_array.as_ref(),
            target_name,
            source_array.as_ref(),
            source_name,
            &plan.array_group,
            &volumes,
            (interval > 0).then_some(interval),
        )
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
}
