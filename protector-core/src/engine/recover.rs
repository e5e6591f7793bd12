//! Recovering an operation whose process ended before it finished (spec/001 "stuck at
//! running": the engine crashed or was killed).
//!
//! Every side effect of a failover or failback is journaled before it is made, and every
//! resource it creates carries the operation's id (server and volume metadata
//! `protector:operation`, port description `protector:<op>:<step>`). Recovery reads the
//! journal and the tags, not the dead process's memory:
//!
//! - when the group record already says the operation finished (the process ended while
//!   syncing metadata), the operation is recorded as completed;
//! - a failback that already had the original VMs ACTIVE is rolled *forward*: the DR copies
//!   are removed and the group becomes `active` on its original primary;
//! - otherwise a failover or failback is *continued* (the default, [`RecoverMode::Continue`]):
//!   its run goes through its steps again under the same id, and every step whose resource
//!   the dead run made (found on the target by its tags) keeps it instead of making it again
//!   (see `runner::resume`). A run that died before it claimed its group is continued only
//!   while its plan is still valid;
//! - on request ([`RecoverMode::RollBack`]), or when it cannot be continued (no run record),
//!   it is rolled back: everything tagged with the operation is removed from the target,
//!   original VMs it started are stopped, source VMs it stopped run again, and the group
//!   returns to the status it had before.
//!
//! A drill is continued by removing what the dead run made and running it again under the
//! same id (`drill::resume`). A drill cleanup is finished forward: it runs again under its own id, removing what is left
//! of the drill (found by the record and the drill's tags), and clears the drill record. A
//! site failover is taken to its end (`resume_site_failover`): each group's interrupted
//! failover is recovered, the groups it had not reached are failed over.
//!
//! Recovery takes the operation's lock first (see `ownership`): while the process that runs
//! the operation lives, it is refused and changes nothing.

use chrono::Utc;
use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::copies::{
    copies_of, copies_on, in_use, remove_copies, settle_failback, tagged_on, Copies,
};
use super::resources::{remove_resources, start_server_and_wait, stop_server_and_wait};
use super::runner::{Resumed, RunRecord};
use super::runs::OperationRequest;
use super::site_failover::{settle, SiteRun};
use super::sync::PeerPolicy;
use super::Protector;
use crate::api::{ListPorts, ListServers, ListVolumes, SiteClients};
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{GroupEvent, GroupStatus, Operation, OperationStatus, OperationType, Placement};
use crate::store::{GroupDocument, JournalEntry, JournalKind};

/// The servers named in the intents of steps starting with `prefix` (`{"server": id}`).
fn servers_of(journal: &[JournalEntry], prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = journal
        .iter()
        .filter(|e| e.kind == JournalKind::Intent && e.step.starts_with(prefix))
        .filter_map(|e| e.detail.get("server").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    out.dedup();
    out
}

/// What recovery does with a failover or failback whose process ended while it ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecoverMode {
    /// Continue it to its end from where it stopped (what it made is found by its tags and
    /// kept); a run that fails then rolls back as any failed run does.
    #[default]
    Continue,
    /// Undo what it did: the workload runs where it ran before the operation.
    RollBack,
}

impl Protector {
    /// Finishes or rolls back an operation whose process ended before it did; a site
    /// failover is taken to its end (see `resume_site_failover`). A failed
    /// failover or failback has what it left on its target removed (found by its tags; its
    /// rollback could not reach the site); any other finished operation is returned unchanged.
    ///
    /// Refused with `Conflict`, changing nothing, while the process that runs the operation
    /// still holds its lock.
    pub async fn recover_operation(&self, id: &str) -> Result<Operation> {
        self.recover_operation_with(id, RecoverMode::Continue).await
    }

    /// [`Protector::recover_operation`], choosing what happens to a failover or failback
    /// that was running: continued to its end ([`RecoverMode::Continue`], the default) or
    /// rolled back ([`RecoverMode::RollBack`]).
    pub async fn recover_operation_with(&self, id: &str, mode: RecoverMode) -> Result<Operation> {
        let found = self.operation(id).await?;
        let may_have_left_resources = found.status == OperationStatus::Failed
            && matches!(
                found.operation_type,
                OperationType::Failover | OperationType::Failback
            );
        if found.status.is_terminal() && !may_have_left_resources {
            return Ok(found);
        }
        let _owner = self.lock_operation(&found.id).await?;
        // Read again under the lock: its process may have finished it meanwhile.
        let mut op = self.operation(id).await?;
        // Submitted, never begun: nothing to undo.
        if let Some(ended) = self.fail_unstarted(op.clone()).await? {
            return Ok(ended);
        }
        if op.status == OperationStatus::Failed
            && matches!(
                op.operation_type,
                OperationType::Failover | OperationType::Failback
            )
        {
            return self.remove_leftovers_of(op).await;
        }
        if op.status.is_terminal() {
            return Ok(op);
        }
        if op.operation_type == OperationType::TestCleanup {
            return self.recover_cleanup(op).await;
        }
        if op.operation_type == OperationType::SiteFailover {
            return self.resume_site_failover(op).await;
        }
        if op.operation_type == OperationType::TestFailover {
            let request = match self.submitted_request(&op.id).await? {
                Some(OperationRequest::TestFailover { request, .. }) => Some(request),
                _ => None,
            };
            return self
                .recover_drill(op, request, mode == RecoverMode::Continue)
                .await;
        }
        if !matches!(
            op.operation_type,
            OperationType::Failover | OperationType::Failback
        ) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "operation op-{} is a {}: it cannot be recovered",
                    op.id,
                    op.operation_type.as_str()
                ),
            ));
        }
        let group_id = op.group_id.ok_or_else(|| {
            Error::invalid(format!("operation op-{} names no protection group", op.id))
        })?;
        let group = self.group_by_id(&group_id).await?;
        let failback = op.operation_type == OperationType::Failback;
        let journal = self.store().list_journal(&op.id).await?;
        let record = RunRecord::of(&journal).filter(|_| mode == RecoverMode::Continue);
        // Finished: its last commit names it. Claimed: the group is still locked by it.
        let finished = group.last_operation_id == Some(op.id);
        let claimed = group.active_operation_id == Some(op.id);
        let now = Utc::now();
        if finished {
            op.status = if op.instances_failed > 0 {
                OperationStatus::Partial
            } else {
                OperationStatus::Completed
            };
            op.progress = 100;
            op.completed_at = Some(now);
            // It may have ended between the group's local write and its push to the peer.
            let synced = self.push_if_behind(&group, "recover-operation").await;
            op.error_message = Some(if synced {
                "the process ended after the protection group was updated: recovered as finished"
                    .to_string()
            } else {
                format!(
                    "the process ended after the protection group was updated: recovered as finished; {}",
                    Hint::SyncStatus {
                        group: group.name.clone()
                    }
                    .describe()
                )
            });
            return self.record_recovered(op, &group).await;
        }
        if let Some(record) = record.filter(|_| {
            let free = !claimed && group.active_operation_id.is_none();
            let original_vms_run =
                failback && op.steps_completed.iter().any(|s| s == "verify_instances");
            (claimed && !original_vms_run) || free
        }) {
            if claimed || self.still_valid(&record).await {
                return self.continue_run(op, record, journal).await;
            }
        }
        if !claimed {
            // It died before it claimed the group (nothing was changed: every side effect
            // comes after the claim), or the group has moved on under another operation.
            op.status = OperationStatus::Failed;
            op.completed_at = Some(now);
            op.steps_failed.push("interrupted".into());
            op.error_message = Some(format!(
                "the process ended before the operation took protection group '{}' (or the group has moved on since): nothing of it to undo; recovered by marking it failed",
                group.name
            ));
            return self.record_recovered(op, &group).await;
        }
        let target = self.ensure_reachable(&op.target_site).await.map_err(|e| {
            e.with_prefix(format!(
                "operation op-{} cannot be recovered while {} is unreachable",
                op.id, op.target_site
            ))
        })?;
        let source = self.ensure_reachable(&op.source_site).await.ok();
        let poll = self.options().poll.clone();
        let mut leftovers = Vec::new();
        let forward = failback && op.steps_completed.iter().any(|s| s == "verify_instances");

        let mut document = self.document(group.clone()).await?;
        if forward {
            // The original VMs run: remove the DR copies and finish.
            match &source {
                Some(source) => {
                    let Copies {
                        servers,
                        ports,
                        volumes,
                        ..
                    } = copies_on(&document.members, &op.source_site);
                    leftovers
                        .extend(remove_resources(source, &servers, &ports, &volumes, &poll).await);
                }
                None => leftovers.push(format!(
                    "{} is unreachable: remove the failover's copies there once it answers",
                    op.source_site
                )),
            }
            let rebuilt = self.rebuilt_placements(&op, &document, &target).await?;
            settle_failback(&mut document, &op.source_site, &op.target_site);
            for member in &mut document.members {
                if let Some(placement) = rebuilt.get(&member.id) {
                    member.current = placement.clone();
                    member.standby = None;
                }
            }
            document.group.apply(GroupEvent::FailbackCompleted)?;
            document.group.current_primary_site = op.target_site.clone();
        } else {
            leftovers.extend(
                self.roll_back(&op, &journal, &target, source.as_ref())
                    .await?,
            );
            let event = if !leftovers.is_empty() {
                GroupEvent::OperationFailed
            } else if failback {
                GroupEvent::FailbackAborted {
                    previous: GroupStatus::FailedOver,
                }
            } else {
                GroupEvent::FailoverAborted {
                    previous: GroupStatus::Active,
                }
            };
            document.group.apply(event)?;
        }
        document.group.active_operation_id = None;
        let committed = self
            .commit(document, "recover-operation", PeerPolicy::BestEffort)
            .await?;
        op.completed_at = Some(now);
        let what = if forward {
            op.status = OperationStatus::Completed;
            op.progress = 100;
            format!(
                "the process ended after the VMs were running on {}: recovered by finishing the failback",
                op.target_site
            )
        } else {
            op.status = OperationStatus::Failed;
            op.steps_failed.push("interrupted".into());
            format!(
                "the process ended before the operation finished: recovered by rolling back; the workload runs on {}",
                committed.group.current_primary_site
            )
        };
        op.error_message = Some(if leftovers.is_empty() {
            what
        } else {
            format!(
                "{what}; not everything could be undone, clean up by hand: {}",
                leftovers.join("; ")
            )
        });
        self.record_recovered(op, &committed.group).await
    }

    /// Whether the plan of a run that died before it claimed its group may still run: the
    /// group has not changed since it was planned and nothing blocks it.
    async fn still_valid(&self, record: &RunRecord) -> bool {
        self.validate_plan(&record.plan)
            .await
            .is_ok_and(|report| report.into_result("").is_ok())
    }

    /// Continues a failover or failback whose process ended (its lock held by the caller):
    /// what the dead run made is observed on the target by its tags and adopted, and the run
    /// goes on from there to its end (or fails and rolls back like any run).
    async fn continue_run(
        &self,
        op: Operation,
        record: RunRecord,
        journal: Vec<JournalEntry>,
    ) -> Result<Operation> {
        let plan = &record.plan;
        let group = self.group_by_id(&plan.group_id).await?;
        let unreachable = |e: Error| {
            e.with_prefix(format!(
                "operation op-{} cannot be continued while {} is unreachable",
                op.id, plan.target_site
            ))
        };
        let target = self
            .group_clients(&plan.target_site, &group)
            .await
            .map_err(unreachable)?;
        let array = self
            .group_array(&group, &plan.target_site)
            .await
            .map_err(unreachable)?;
        let at = op
            .steps_completed
            .last()
            .cloned()
            .unwrap_or_else(|| "its start".to_string());
        let resumed =
            Resumed::observe(op.id, op.steps_completed.clone(), journal, &target, &array).await?;
        let found = resumed.found();
        let previous = record.previous_status;
        let mut finished = match op.operation_type {
            OperationType::Failback => {
                self.run_failback(
                    plan,
                    record.reverse_replication,
                    &super::NoProgress,
                    Some((op, resumed, previous)),
                )
                .await?
            }
            _ => {
                self.run_failover(plan, &super::NoProgress, Some((op, resumed, previous)))
                    .await?
            }
        };
        let how = match finished.status {
            OperationStatus::Failed => "recovered by continuing it, which failed and rolled back",
            _ => "recovered by continuing it to its end",
        };
        let note = format!(
            "the process ended after step '{at}': {how} ({found} resources it had made were found and kept)"
        );
        finished.error_message = Some(match finished.error_message.take() {
            Some(message) => format!("{note}; {message}"),
            None => note,
        });
        self.record_recovered(finished, &group).await
    }

    /// Finishes a drill cleanup whose process ended: the cleanup runs again under the same
    /// id (its lock held by the caller).
    async fn recover_cleanup(&self, op: Operation) -> Result<Operation> {
        let group_id = op.group_id.ok_or_else(|| {
            Error::invalid(format!("operation op-{} names no protection group", op.id))
        })?;
        let Some(group) = self.store().get_group(&group_id).await? else {
            let mut op = op;
            op.status = OperationStatus::Failed;
            op.completed_at = Some(Utc::now());
            op.steps_failed.push("interrupted".into());
            op.error_message = Some(format!(
                "the process ended before the cleanup finished and protection group '{}' no longer exists: nothing left to clean up; recovered by marking it failed",
                op.group_name.as_deref().unwrap_or("(unnamed)")
            ));
            self.store().put_operation(&op).await?;
            return Ok(op);
        };
        let started_at = op.started_at;
        let mut finished = self
            .run_cleanup(group.clone(), op.id, &super::NoProgress)
            .await
            .map_err(|e| {
                e.with_prefix(format!("operation op-{} cannot be recovered yet", op.id))
            })?;
        finished.started_at = started_at;
        let what = if finished.status == OperationStatus::Completed {
            "the process ended before the cleanup finished: recovered by finishing it"
        } else {
            "the process ended before the cleanup finished: recovered by running it again"
        };
        finished.error_message = Some(match finished.error_message.take() {
            Some(message) => format!("{what}; {message}"),
            None => what.to_string(),
        });
        self.record_recovered(finished, &group).await
    }

    /// Where the members a dead failback rebuilt (their original VM was gone) run now, read
    /// from the tags of what it created on the target.
    async fn rebuilt_placements(
        &self,
        op: &Operation,
        document: &GroupDocument,
        target: &SiteClients,
    ) -> Result<std::collections::BTreeMap<uuid::Uuid, Placement>> {
        let mut out = std::collections::BTreeMap::new();
        let tagged = |key: &str, value: String| (key.to_string(), value);
        for member in document
            .members
            .iter()
            .filter(|m| m.current.site == op.source_site)
        {
            let servers = target
                .compute
                .list_servers(&ListServers {
                    name: None,
                    metadata: Some(tagged("protector:member", member.id.to_string())),
                })
                .await?;
            let Some(server) = servers
                .into_iter()
                .find(|s| s.metadata.get("protector:operation") == Some(&op.id.to_string()))
            else {
                continue;
            };
            let volumes = target
                .block_storage
                .list_volumes(&ListVolumes {
                    name: None,
                    metadata: Some(tagged("protector:operation", op.id.to_string())),
                })
                .await?;
            let mut volume_ids = Vec::new();
            let mut array_volumes = Vec::new();
            for source in &member.current.volume_ids {
                if let Some(v) = volumes
                    .iter()
                    .find(|v| v.metadata.get("protector:source_volume") == Some(source))
                {
                    volume_ids.push(v.id.clone());
                    array_volumes.push(v.array_volume.clone().unwrap_or_default());
                }
            }
            let ports = target
                .network
                .list_ports(&ListPorts {
                    device_id: Some(server.id.clone()),
                    ..ListPorts::default()
                })
                .await?;
            out.insert(
                member.id,
                Placement {
                    site: op.target_site.clone(),
                    instance_id: server.id,
                    volume_ids,
                    array_volumes,
                    port_ids: ports.into_iter().map(|p| p.id).collect(),
                },
            );
        }
        Ok(out)
    }

    /// Undoes what the journal and the tags say `op` did. Returns what could not be undone.
    async fn roll_back(
        &self,
        op: &Operation,
        journal: &[JournalEntry],
        target: &SiteClients,
        source: Option<&SiteClients>,
    ) -> Result<Vec<String>> {
        let poll = self.options().poll.clone();
        let mut leftovers = Vec::new();
        // Failback: the original VMs it started go back to SHUTOFF.
        for id in servers_of(journal, "start_server:") {
            if let Err(e) = stop_server_and_wait(&target.compute, &id, &poll).await {
                leftovers.push(format!(
                    "server {id} on {}: {}",
                    op.target_site,
                    e.message()
                ));
            }
        }
        // What it created on the target, found by tag (answers lost included).
        let copies = copies_of(journal);
        let array = if copies.is_empty() {
            None
        } else {
            let group = self.group_by_id(&op.group_id.unwrap_or_default()).await?;
            Some(self.group_array(&group, &op.target_site).await?)
        };
        let keep = in_use(
            &self
                .store()
                .list_members(&op.group_id.unwrap_or_default())
                .await?,
        );
        let found = tagged_on(target, array.as_ref(), op.id, &copies, &keep).await?;
        leftovers.extend(remove_copies(target, array.as_ref(), &found, &poll).await);
        // The source VMs it stopped run again.
        let stopped = servers_of(journal, "stop_server:");
        if !stopped.is_empty() {
            match source {
                Some(source) => {
                    for id in stopped {
                        let started = start_server_and_wait(&source.compute, &id, &poll).await;
                        if let Err(e) = started {
                            leftovers.push(format!(
                                "source server {id} on {} was not restarted: {}",
                                op.source_site,
                                e.message()
                            ));
                        }
                    }
                }
                None => leftovers.push(format!(
                    "{} is unreachable: start its stopped VMs ({}) once it answers",
                    op.source_site,
                    stopped.join(", ")
                )),
            }
        }
        Ok(leftovers)
    }

    /// Recovering a failed failover or failback: removes what it left on its target (its
    /// rollback could not reach the site, or an answer was lost), found by its tags.
    async fn remove_leftovers_of(&self, mut op: Operation) -> Result<Operation> {
        let group = self.group_by_id(&op.group_id.unwrap_or_default()).await?;
        let owned = self
            .failed_towards(&group, &op.target_site)
            .await?
            .iter()
            .all(|o| o.id != op.id);
        if owned {
            // Its outcome is the group's (or it never claimed it): nothing of it is a leftover.
            return Ok(op);
        }
        let target = self.ensure_reachable(&op.target_site).await.map_err(|e| {
            e.with_prefix(format!(
                "what operation op-{} left on {} cannot be removed while the site is unreachable",
                op.id, op.target_site
            ))
        })?;
        let array = self.group_array(&group, &op.target_site).await?;
        let (found, leftovers) = self
            .remove_left_by(&group.id, std::slice::from_ref(&op), &target, Some(&array))
            .await?;
        if !leftovers.is_empty() {
            return Err(Error::unexpected(format!(
                "operation op-{} left resources on {} that could not be removed: {}",
                op.id,
                op.target_site,
                leftovers.join("; ")
            )));
        }
        if found == 0 {
            // Nothing of it is left: recovering again changes nothing.
            return Ok(op);
        }
        let note = format!(
            "recovered: {found} resources it left on {} were removed",
            op.target_site
        );
        op.error_message = Some(match op.error_message.take() {
            Some(m) => format!("{m}; {note}"),
            None => note,
        });
        self.record_recovered(op, &group).await
    }

    async fn record_recovered(
        &self,
        op: Operation,
        group: &crate::model::ProtectionGroup,
    ) -> Result<Operation> {
        self.store().put_operation(&op).await?;
        if let Ok(peer) = self.store_of(group.peer_of(self.local_site())) {
            let _ = peer.put_operation(&op).await;
        }
        Ok(op)
    }
}

impl Protector {
    /// Takes a site failover whose process ended before it did to its end (by
    /// [`Protector::recover_operation`], under the operation's lock). Each group's own failover
    /// that was running is recovered like any interrupted failover (finished, or rolled back so
    /// that the group can be retried alone); groups it had not started yet are failed over now
    /// with the submitted request's mode and concurrency. When the request is not recorded
    /// (the site failover was run directly, not submitted), groups not started are reported
    /// failed, untouched, to be retried alone. The record then settles as a finished run does.
    ///
    /// Boxed: it recovers each group's failover through [`Protector::recover_operation`],
    /// which calls it.
    pub(super) fn resume_site_failover(
        &self,
        op: Operation,
    ) -> futures::future::BoxFuture<'_, Result<Operation>> {
        Box::pin(self.resume_site_failover_now(op))
    }

    async fn resume_site_failover_now(&self, mut op: Operation) -> Result<Operation> {
        let request = match self.submitted_request(&op.id).await? {
            Some(OperationRequest::SiteFailover { request, .. }) => Some(request),
            _ => None,
        };
        let engine = self.unscoped();
        let mut to_start = Vec::new();
        for result in &mut op.group_results {
            if result.status.is_terminal() {
                continue;
            }
            let child = match result.operation_id {
                Some(id) => engine.store().get_operation(&id).await?,
                None => None,
            };
            let Some(child) = child else {
                // Never started (or stopped before its failover recorded anything).
                result.operation_id = None;
                to_start.push(result.group_id);
                continue;
            };
            match engine.recover_operation(&format!("op-{}", child.id)).await {
                Ok(child) => {
                    result.status = child.status;
                    result.error_message = child.error_message;
                }
                Err(e) => {
                    result.status = OperationStatus::Failed;
                    result.error_message = Some(format!(
                        "its failover op-{} could not be recovered: {e}",
                        child.id
                    ));
                }
            }
        }
        let run = SiteRun {
            engine: &engine,
            observer: &super::NoProgress,
            op: tokio::sync::Mutex::new(op),
        };
        run.record(|op| op.status = OperationStatus::Running).await;
        match request {
            Some(request) => {
                let mut groups = Vec::new();
                for id in to_start {
                    match engine.group_by_id(&id).await {
                        Ok(group) => groups.push(group),
                        Err(e) => {
                            run.set_group(id, |r| {
                                r.status = OperationStatus::Failed;
                                r.error_message = Some(e.to_string());
                            })
                            .await
                        }
                    }
                }
                stream::iter(groups.iter())
                    .for_each_concurrent(request.concurrency.max(1), |group| {
                        run.run_group(group, request.mode)
                    })
                    .await;
            }
            None => {
                for id in to_start {
                    run.set_group(id, |r| {
                        r.status = OperationStatus::Failed;
                        r.error_message = Some(
                            "not started: the site failover was interrupted before it reached this group; fail it over on its own"
                                .into(),
                        );
                    })
                    .await;
                }
            }
        }
        run.record(settle).await;
        let op = run.op.into_inner();
        if op.target_site != self.local_site() {
            if let Ok(peer) = self.store_of(&op.target_site) {
                if let Err(e) = peer.put_operation(&op).await {
                    tracing::warn!(error = %e, site = %op.target_site, "could not copy the site failover record");
                }
            }
        }
        Ok(op)
    }
}
