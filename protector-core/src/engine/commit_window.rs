//! The commit window of an unplanned failover (Zerto's commit policy, ASR's "commit").
//!
//! An unplanned (async) failover ends with the group running on the target from the point it
//! chose, *uncommitted* ([`crate::model::RunningPoint`]): the reverse re-protection is not set
//! up and a failback is refused. Within the window the operator either
//! - commits ([`Protector::failover_commit`]): the point is recorded as committed and the
//!   deferred re-protection runs (best effort, with the failover's note semantics); or
//! - rolls back ([`Protector::failover_rollback`]): what the failover created on the target is
//!   removed and the group recovers again from an older point, uncommitted with a fresh window.
//!
//! Past its deadline the failover counts as committed everywhere (failback allowed, rollback
//! refused). The commit is recorded lazily: by the next `failover_commit` or
//! `failover_rollback` call on the group (the rollback then refuses with `Conflict`); a
//! failback sets the re-protection up itself.
//!
//! A rollback is a failover operation (`OperationType::Failover`) of its own: its plan is the
//! rolled-back failover's journaled plan with the older point, journaled before its first
//! side effect; it claims the group, puts the members back on their source placements,
//! removes the old point's servers, ports, volumes and array copies, then runs as any
//! failover (journaled, compensated on failure, resumable by `recover_operation`).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::copies::{copies_of, copies_on, in_use, remove_copies, tagged_on};
use super::progress::ProgressObserver;
use super::recovery_points::{names, RecoveryPointEntry, RecoveryPoints};
use super::runner::{Resumed, RunRecord};
use super::sync::PeerPolicy;
use super::Protector;
use crate::error::{Error, Hint, Result};
use crate::model::{
    GroupEvent, GroupStatus, Operation, OperationStatus, OperationType, Phase, ProtectionGroup,
    RunningPoint,
};
use crate::plan::{Plan, RecoveryPoint};
use crate::store::{JournalEntry, JournalKind};

/// Ask for the rollback of an uncommitted failover to an older recovery point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverRollbackRequest {
    /// The older snapshot to recover from (full name `array:pg.N`, `pg.N` or the suffix `N`);
    /// the next older fully replicated one when `None`.
    #[serde(default)]
    pub recovery_point: Option<String>,
    /// The new commit window in seconds; the rolled-back failover's when `None`.
    #[serde(default)]
    pub commit_window_secs: Option<u64>,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
}

/// What [`Protector::failover_commit`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverCommitted {
    /// The group as committed (its `recovery_point` has `committed_at`).
    pub group: ProtectionGroup,
    /// Why the reverse re-protection could not be set up (the failback sets it up then);
    /// `None` when the workload replicates back to the other site.
    pub replication_note: Option<String>,
}

/// The failover point `group` awaits a decision on, or `Conflict` saying why there is none.
fn pending_point(group: &ProtectionGroup, what: &str) -> Result<RunningPoint> {
    if let Some(running) = group.active_operation_id {
        return Err(Error::conflict(format!(
            "operation op-{running} is running on protection group '{}' (status {}): nothing was changed; wait for it to finish, then {what} again",
            group.name, group.status
        )));
    }
    let point = group.recovery_point.as_ref().filter(|_| {
        matches!(
            group.status,
            GroupStatus::FailedOver | GroupStatus::FailedOverPartial
        )
    });
    match point {
        None => Err(Error::conflict(format!(
            "protection group '{}' has no failover awaiting a commit (status {}, running on {}): nothing to {what}",
            group.name, group.status, group.current_primary_site
        ))),
        Some(p) if p.committed_at.is_some() => Err(Error::conflict(format!(
            "the failover of protection group '{}' to {} (op-{}, recovery point {}) was committed at {}: nothing to {what}; a failback returns the workload",
            group.name,
            group.current_primary_site,
            p.operation_id,
            p.snapshot,
            p.committed_at.map(|t| crate::views::time(&t)).unwrap_or_default()
        ))),
        Some(p) => Ok(p.clone()),
    }
}

/// The point a rollback from `current` recovers from: the one `wanted` names (fully
/// replicated, strictly older), or the next older fully replicated one.
fn older_point(
    listed: &RecoveryPoints,
    current: &RunningPoint,
    wanted: Option<&str>,
) -> Result<RecoveryPointEntry> {
    let group = &listed.group;
    let hint = Hint::ListRecoveryPoints {
        group: group.clone(),
    };
    let Some(wanted) = wanted else {
        return listed
            .points
            .iter()
            .find(|p| p.usable && p.created_at < current.created_at)
            .cloned()
            .ok_or_else(|| {
                Error::not_found(format!(
                    "no fully replicated snapshot older than {} (the point protection group '{group}' runs on) is on {}'s FlashArray {}: nothing to roll back to; commit the failover to keep it",
                    current.snapshot, listed.site, listed.array
                ))
                .with_hint(hint)
            });
    };
    let found = listed
        .points
        .iter()
        .find(|p| names(&p.name, wanted))
        .ok_or_else(|| {
            Error::invalid(format!(
                "recovery point '{wanted}' of protection group '{group}' is not a replicated snapshot on {}'s FlashArray {} (unknown, or removed by retention): choose one the list shows",
                listed.site, listed.array
            ))
            .with_hint(hint.clone())
        })?;
    if !found.usable {
        return Err(Error::invalid(format!(
            "recovery point {} of protection group '{group}' has not fully arrived on {}'s FlashArray ({:.0} % replicated): choose one that has",
            found.name,
            listed.site,
            found.progress * 100.0
        ))
        .with_hint(hint));
    }
    if found.name == current.snapshot || found.created_at >= current.created_at {
        return Err(Error::invalid(format!(
            "recovery point {} is not older than {}, the point protection group '{group}' runs on: a rollback recovers from an older point (commit the failover to keep this one)",
            found.name, current.snapshot
        ))
        .with_hint(hint));
    }
    Ok(found.clone())
}

/// The rollback's plan: the rolled-back failover's, under a new id, recovering from `point`.
fn rollback_plan(
    old: Plan,
    id: Uuid,
    point: &RecoveryPointEntry,
    listed: &RecoveryPoints,
    request: &FailoverRollbackRequest,
    group: &ProtectionGroup,
) -> Plan {
    let mut plan = old;
    let (old_key, new_key) = (
        plan.id.simple().to_string()[..8].to_string(),
        id.simple().to_string()[..8].to_string(),
    );
    plan.id = id;
    plan.metadata_version = group.metadata.version;
    plan.findings.clear();
    plan.commit_window_secs = request.commit_window_secs.or(plan.commit_window_secs);
    for volume in plan.members.iter_mut().flat_map(|m| m.volumes.iter_mut()) {
        volume.copy_name = volume.copy_name.replacen(&old_key, &new_key, 1);
    }
    // The source VMs were dealt with by the failover (stopped, or the group fenced).
    let mut steps: Vec<(String, Phase, String)> = vec![(
        "remove_previous_point".into(),
        Phase::Preparation,
        format!(
            "remove what the failover from the previous point created on {}",
            plan.target_site
        ),
    )];
    steps.extend(
        plan.steps
            .iter()
            .filter(|s| s.name != "quiesce_vms")
            .map(|s| (s.name.clone(), s.phase, s.description.clone())),
    );
    plan.steps = super::planner::chain(steps);
    let created = point
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    plan.recovery_point = Some(RecoveryPoint {
        snapshot: point.name.clone(),
        created_at: point.created_at,
        replicated_at: point.replicated_at,
        array_time: listed.array_time,
        age_secs: point.age_secs,
        changed_bytes: None,
        data_at_risk: format!(
            "writes to the volumes of '{}' on {} after {created} ({}, {} ago by {}'s FlashArray clock) are lost: the rollback recovers from replicated snapshot {}",
            group.name,
            plan.source_site,
            point.name,
            super::text::human_age(point.age_secs),
            plan.target_site,
            point.name
        ),
    });
    plan
}

impl Protector {
    /// Commits the unplanned failover of `group`: its recovery point is recorded as
    /// committed and the deferred reverse re-protection is set up (best effort: when it
    /// cannot be, e.g. while the other array is down, the result says why and the failback
    /// sets it up). Bumps the group's metadata.
    ///
    /// `Conflict`, changing nothing, when no failover awaits a commit (none ran, already
    /// committed) or an operation runs on the group. A failover whose window has ended counts
    /// as committed already; committing it records that.
    pub async fn failover_commit(&self, group: &str) -> Result<FailoverCommitted> {
        let group = self.group(group).await?;
        pending_point(&group, "commit")?;
        self.record_commit(group).await
    }

    async fn record_commit(&self, group: ProtectionGroup) -> Result<FailoverCommitted> {
        let note = self.protect_where_running(&group).await;
        let mut document = self.document(group).await?;
        if let Some(point) = &mut document.group.recovery_point {
            point.committed_at = Some(Utc::now());
        }
        let committed = self
            .commit(document, "failover-commit", PeerPolicy::BestEffort)
            .await?;
        Ok(FailoverCommitted {
            group: committed.group,
            replication_note: note,
        })
    }

    /// The re-protection an unplanned failover defers to its commit: the volumes the members
    /// run on go into the group's FlashArray protection group on the array they run on,
    /// replicating to the other site's array on the policy's schedule.
    async fn protect_where_running(&self, group: &ProtectionGroup) -> Option<String> {
        let (running, other) = (
            group.current_primary_site.as_str(),
            group.current_secondary_site(),
        );
        let result = async {
            let policy = self.store().get_policy(&group.id).await?.ok_or_else(|| {
                Error::invalid(format!(
                    "protection group '{}' has no replication policy",
                    group.name
                ))
            })?;
            let running_array = self.group_array(group, running).await?;
            let other_array = self.group_array(group, other).await?;
            let running_name = running_array.array_info().await?.name;
            let other_name = match policy.array_name_on(group, other) {
                Some(name) => name.to_string(),
                None => other_array.array_info().await?.name,
            };
            let volumes: Vec<String> = self
                .store()
                .list_members(&group.id)
                .await?
                .into_iter()
                .filter(|m| m.current.site == running)
                .flat_map(|m| m.current.array_volumes)
                .collect();
            let array_group = &group.consistency_group.array_group;
            super::resources::ensure_replicating(
                running_array.as_ref(),
                &running_name,
                other_array.as_ref(),
                &other_name,
                array_group,
                &volumes,
                (policy.replication_interval_secs > 0).then_some(policy.replication_interval_secs),
            )
            .await?;
            Ok::<(), Error>(())
        }
        .await;
        result.err().map(|e| {
            format!(
                "the workload on {running} is not replicated to {other} yet ({}): the failback sets it up",
                e.message()
            )
        })
    }

    /// Rolls the uncommitted unplanned failover of `group` back and recovers again from an
    /// older point (`request.recovery_point`, or the next older fully replicated snapshot):
    /// what the failover created on the target (servers, ports, Cinder volumes, array copies)
    /// is removed, then the members are recovered from that point as a failover does, and the
    /// group is left uncommitted on it with a fresh window.
    ///
    /// Refused before anything changes: `Conflict` when no failover awaits a commit (none ran,
    /// already committed, or its window ended: that commit is recorded then) or an operation
    /// runs; `InvalidInput` for a point that is unknown, not fully replicated, or not older
    /// than the current one; `NotFound` when no older point exists or the rolled-back
    /// failover's plan is not in this site's store. Once started, returns the operation record
    /// (a failover) as [`Protector::failover`] does.
    pub async fn failover_rollback(
        &self,
        group: &str,
        request: FailoverRollbackRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let group = self.group(group).await?;
        let now = Utc::now();
        if let Some(point) = group
            .recovery_point
            .clone()
            .filter(|p| p.commit_overdue(now))
        {
            pending_point(&group, "roll back")?;
            self.record_commit(group.clone()).await?;
            return Err(Error::conflict(format!(
                "the commit window of the failover of protection group '{}' (op-{}, recovery point {}) ended at {}: it counts as committed (recorded now) and can no longer be rolled back; a failback returns the workload",
                group.name,
                point.operation_id,
                point.snapshot,
                point.commit_deadline.map(|t| crate::views::time(&t)).unwrap_or_default()
            )));
        }
        let current = pending_point(&group, "roll back")?;
        let journal = self.store().list_journal(&current.operation_id).await?;
        let record = RunRecord::of(&journal).ok_or_else(|| {
            Error::not_found(format!(
                "the plan of failover op-{} of protection group '{}' is not in the store of {}: roll it back from the site that ran it",
                current.operation_id,
                group.name,
                self.local_site()
            ))
        })?;
        let listed = self.list_points(&group).await?;
        let point = older_point(&listed, &current, request.recovery_point.as_deref())?;
        let id = request.operation_id.unwrap_or_else(Uuid::new_v4);
        let plan = rollback_plan(record.plan, id, &point, &listed, &request, &group);
        let _owner = self.own_operation(&plan.id).await?;
        let clients = self.group_clients(&plan.target_site, &group).await?;
        let array = self.group_array(&group, &plan.target_site).await?;

        let mut op = Operation::start(
            OperationType::Failover,
            Some((&group.id, &group.name)),
            &plan.source_site,
            &plan.target_site,
            now,
        );
        op.id = plan.id;
        self.store().put_operation(&op).await?;
        let entry = |step: &str, kind, detail| JournalEntry {
            operation_id: plan.id,
            seq: 0,
            step: step.to_string(),
            kind,
            idempotency_key: format!("{}:{step}", plan.id),
            detail,
            at: Utc::now(),
        };
        let run_record = RunRecord {
            plan: plan.clone(),
            previous_status: GroupStatus::Active,
            reverse_replication: false,
        };
        self.store()
            .append_journal(&entry(
                "plan",
                JournalKind::Planned,
                serde_json::to_value(&run_record).unwrap_or_default(),
            ))
            .await?;

        // Claim the group and put the members back on their source placements, in one commit:
        // from here the run owns the group, as any failover does after its claim.
        let mut document = self.document(group).await?;
        let mut copies = copies_on(&document.members, &plan.target_site);
        for member in &mut document.members {
            let back = member.current.site == plan.target_site
                && member
                    .standby
                    .as_ref()
                    .is_some_and(|s| s.site == plan.source_site);
            if back {
                if let Some(standby) = member.standby.take() {
                    member.current = standby;
                }
            }
        }
        let keep = in_use(&document.members);
        document.group.apply(GroupEvent::RollbackStarted)?;
        document.group.active_operation_id = Some(plan.id);
        document.group.current_primary_site = plan.source_site.clone();
        document.group.failover_count = document.group.failover_count.saturating_sub(1);
        document.group.recovery_point = None;
        document.group.fence_required_on = None;
        let claimed = self
            .commit(document, "failover-rollback", PeerPolicy::BestEffort)
            .await?;

        // Remove the previous point's copies: what the members ran on, and whatever else the
        // failover that made them left tagged on the target.
        copies.merge(
            tagged_on(
                &clients,
                Some(&array),
                current.operation_id,
                &copies_of(&journal),
                &keep,
            )
            .await
            .unwrap_or_default(),
        );
        let listed_copies = json!({
            "failover": current.operation_id,
            "snapshot": current.snapshot,
            "servers": copies.servers,
            "ports": copies.ports,
            "volumes": copies.volumes,
            "array_volumes": copies.array_volumes,
        });
        self.store()
            .append_journal(&entry(
                "remove_previous_point",
                JournalKind::Intent,
                listed_copies.clone(),
            ))
            .await?;
        let leftovers = remove_copies(&clients, Some(&array), &copies, &self.options().poll).await;
        if !leftovers.is_empty() {
            let _ = self
                .store()
                .append_journal(&entry(
                    "remove_previous_point",
                    JournalKind::Failed,
                    json!({ "leftovers": leftovers }),
                ))
                .await;
            let mut document = self.document(claimed.group).await?;
            document.group.apply(GroupEvent::OperationFailed)?;
            document.group.active_operation_id = None;
            document.group.last_operation_id = Some(plan.id);
            self.commit(document, "failover-rollback-failed", PeerPolicy::BestEffort)
                .await?;
            op.status = OperationStatus::Failed;
            op.completed_at = Some(Utc::now());
            op.steps_failed.push("remove_previous_point".into());
            op.error_message = Some(format!(
                "the rollback of protection group '{}' could not remove what the failover from {} created on {}: {}; remove them, then run an unplanned failover choosing the point",
                plan.group_name,
                current.snapshot,
                plan.target_site,
                leftovers.join("; ")
            ));
            self.store().put_operation(&op).await?;
            return Ok(op);
        }
        self.store()
            .append_journal(&entry(
                "remove_previous_point",
                JournalKind::Done,
                listed_copies,
            ))
            .await?;
        op.steps_completed.push("remove_previous_point".into());
        self.store().put_operation(&op).await?;
        self.run_failover(
            &plan,
            observer,
            Some((op, Resumed::default(), GroupStatus::Active)),
        )
        .await
    }
}
