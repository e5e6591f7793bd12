//! The plans of a drill and of its cleanup: what `--dry-run` prints, made by the functions the
//! executors run from.
//!
//! A drill's plan is the failover planner's plan of its members (volumes renamed `test-…`, each
//! with the replicated snapshot it is copied from) with the drill's own steps; its executor
//! (`Protector::test_failover`) runs the plan `prepare_drill` returns. A cleanup's plan lists
//! what the drill record names plus what a tag sweep finds on the drill site, as its executor
//! (`Protector::test_failover_cleanup`) does before it removes anything; both refuse through
//! the same [`Protector::cleanup_preflight`].

use uuid::Uuid;

use super::cleanup::Remover;
use super::preflight::Prepared;
use super::TestFailoverRequest;
use crate::engine::planner::{chain, site_token};
use crate::engine::runner::{StepSpec, Tracker};
use crate::engine::validate::Finding;
use crate::engine::{NoProgress, Protector};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    Operation, OperationType, Phase, ProtectionGroup, TestFailoverRecord, TestFailoverStatus,
};
use crate::plan::{CleanupPlan, FoundBy, Plan, PlannedRemoval, RemovalKind, Step};
use crate::store::OperationLock;

/// One step of a drill or a cleanup: name, phase, progress once done, what it does.
type StepRow = (String, Phase, u8, String);

fn drill_rows(site: &str) -> Vec<StepRow> {
    let t = site_token(site);
    vec![
        (
            "validate_sites".into(),
            Phase::Preparation,
            10,
            "check the group can be drilled: not in flight, not fenced, no drill yet, every network mapped".into(),
        ),
        (
            "create_test_record".into(),
            Phase::Preparation,
            20,
            "record the drill on both sites before anything is created".into(),
        ),
        (
            "identify_snapshot".into(),
            Phase::Storage,
            25,
            format!("the latest fully replicated snapshot (or the pod) on {site}'s array"),
        ),
        (
            format!("create_volumes_{t}"),
            Phase::Storage,
            40,
            format!("copy each volume snapshot to a test- array volume on {site}'s array"),
        ),
        (
            format!("manage_volumes_{t}"),
            Phase::Storage,
            60,
            "import the copies into Cinder as test-<volume>, tagged with the drill".into(),
        ),
        (
            format!("create_ports_{t}"),
            Phase::Instances,
            70,
            "ports on the mapped isolated networks".into(),
        ),
        (
            format!("create_instances_{t}"),
            Phase::Instances,
            80,
            "boot test-<instance> servers from the imported volumes".into(),
        ),
        (
            "verify_instances".into(),
            Phase::Instances,
            90,
            "wait for every test server to be ACTIVE".into(),
        ),
        (
            "update_protection_group".into(),
            Phase::Finalization,
            100,
            "record every test resource in the drill record on both sites".into(),
        ),
    ]
}

fn cleanup_rows(site: &str) -> Vec<StepRow> {
    let t = site_token(site);
    vec![
        (
            "validate_sites".into(),
            Phase::Preparation,
            15,
            format!("{site} answers; a drill recorded running or failed is searched by its tags"),
        ),
        (
            format!("delete_instances_{t}"),
            Phase::Instances,
            40,
            "delete the test servers carrying the drill's tag".into(),
        ),
        (
            format!("delete_ports_{t}"),
            Phase::Instances,
            55,
            "delete the ports of the deleted servers".into(),
        ),
        (
            format!("delete_volumes_{t}"),
            Phase::Storage,
            75,
            "delete the test volumes of the deleted servers".into(),
        ),
        (
            format!("delete_array_volumes_{t}"),
            Phase::Storage,
            90,
            "remove the test array volumes Cinder did not remove".into(),
        ),
        (
            "update_protection_group".into(),
            Phase::Finalization,
            100,
            "clear the drill record on both sites (or keep what is left, with the reason)".into(),
        ),
    ]
}

fn specs(rows: Vec<StepRow>) -> Vec<StepSpec> {
    rows.into_iter()
        .map(|(name, phase, done_at, _)| StepSpec::new(name, phase, done_at))
        .collect()
}

fn plan_steps(rows: Vec<StepRow>) -> Vec<Step> {
    chain(
        rows.into_iter()
            .map(|(name, phase, _, description)| (name, phase, description))
            .collect(),
    )
}

/// The steps a drill on `site` records, with their progress marks.
pub(super) fn drill_steps(site: &str) -> Vec<StepSpec> {
    specs(drill_rows(site))
}

/// The same steps, as a plan lists them.
pub(super) fn drill_plan_steps(site: &str) -> Vec<Step> {
    plan_steps(drill_rows(site))
}

/// The steps a cleanup on `site` records, with their progress marks.
pub(super) fn cleanup_steps(site: &str) -> Vec<StepSpec> {
    specs(cleanup_rows(site))
}

/// Whether a cleanup searches the drill site by the drill's tags before removing: a drill
/// recorded as running may have been interrupted before it recorded what it created, and a
/// failed drill's rollback may not have reached the site.
pub(super) fn sweeps_tags(record: &TestFailoverRecord) -> bool {
    matches!(
        record.status,
        TestFailoverStatus::Running | TestFailoverStatus::Failed
    )
}

/// The site a cleanup of `group` removes from, and the site production runs on.
pub(super) fn cleanup_sites(group: &ProtectionGroup) -> (String, String) {
    match &group.test_failover {
        Some(r) => (r.site.clone(), r.source_site.clone()),
        None => (
            group.current_secondary_site().to_string(),
            group.current_primary_site.clone(),
        ),
    }
}

/// What `found` lists, servers first, each marked as found in `recorded` or by the tags.
fn removals(recorded: &TestFailoverRecord, found: &TestFailoverRecord) -> Vec<PlannedRemoval> {
    let mut out = Vec::new();
    for member in &found.members {
        let listed = recorded
            .members
            .iter()
            .find(|m| m.member_id == member.member_id);
        let by = |in_record: bool| {
            if in_record {
                FoundBy::Record
            } else {
                FoundBy::Tags
            }
        };
        let mut push = |kind, id: &str, name: Option<&str>, in_record| {
            out.push(PlannedRemoval {
                kind,
                id: id.to_string(),
                name: name.map(str::to_string),
                member: member.instance_name.clone(),
                found_by: by(in_record),
            });
        };
        if let Some(id) = &member.server_id {
            let in_record = listed.is_some_and(|m| m.server_id.as_ref() == Some(id));
            push(
                RemovalKind::Server,
                id,
                Some(&member.server_name),
                in_record,
            );
        }
        for id in &member.port_ids {
            let in_record = listed.is_some_and(|m| m.port_ids.contains(id));
            push(RemovalKind::Port, id, None, in_record);
        }
        for (index, volume) in member.volumes.iter().enumerate() {
            let before = listed.and_then(|m| m.volumes.get(index));
            if let Some(id) = &volume.volume_id {
                let in_record = before.is_some_and(|v| v.volume_id.as_ref() == Some(id));
                push(RemovalKind::Volume, id, Some(&volume.name), in_record);
            }
            for name in &volume.array_volumes {
                let in_record = before.is_some_and(|v| v.array_volumes.contains(name));
                push(RemovalKind::ArrayVolume, name, Some(name), in_record);
            }
        }
    }
    out.sort_by_key(|r| r.kind);
    out
}

impl Protector {
    /// The plan of a DR drill of `group`: the test copies of its members on its current
    /// secondary site (each volume with the replicated snapshot it is copied from), the drill's
    /// steps, and what blocks it.
    ///
    /// Made by the function [`Protector::test_failover`] runs from; nothing is changed. Its
    /// findings are those of the first check that refuses the drill (group status, unmapped
    /// networks, the failover planner's findings that concern a drill), so that validating
    /// them reports what the drill would. `Err` when the group is not the caller's, and for
    /// what leaves no plan to show: no replication policy, the pod not online, nothing
    /// replicated yet.
    pub async fn plan_test_failover(
        &self,
        group: &str,
        request: &TestFailoverRequest,
    ) -> Result<Plan> {
        let group = self.group(group).await?;
        let operation_id = request.operation_id.unwrap_or_else(Uuid::new_v4);
        Ok(
            match self.prepare_drill(group, request, operation_id).await? {
                Prepared::Ready(drill) => drill.plan,
                Prepared::Blocked(plan) => plan,
            },
        )
    }

    /// What a cleanup of the DR drill of `group` will remove, and where: what the drill
    /// record lists and, for a drill recorded as running or failed, what carries its tags on
    /// the drill site now. Nothing is changed.
    ///
    /// [`Protector::test_failover_cleanup`] removes exactly these, plus what its own tag sweep
    /// finds when it runs (a drill still running elsewhere is refused, so that sweep finds the
    /// same unless the site changed meanwhile). Its refusals are the findings here.
    pub async fn plan_test_cleanup(&self, group: &str) -> Result<CleanupPlan> {
        let group = self.group(group).await?;
        let (site, source_site) = cleanup_sites(&group);
        let record = group.test_failover.clone();
        let mut plan = CleanupPlan {
            id: Uuid::new_v4(),
            group_id: group.id,
            group_name: group.name.clone(),
            site: site.clone(),
            source_site,
            drill_operation_id: record.as_ref().map(|r| r.operation_id),
            drill_status: record.as_ref().map(|r| r.status),
            tag_sweep: record.as_ref().is_some_and(sweeps_tags),
            removals: Vec::new(),
            steps: match &record {
                Some(_) => plan_steps(cleanup_rows(&site)),
                None => Vec::new(),
            },
            findings: Vec::new(),
        };
        let refusal = |e: Error| {
            let finding = Finding::error(e.kind(), "cleanup_refused", e.message());
            match e.hint() {
                Some(hint) => finding.with_hint(hint.clone()),
                None => finding,
            }
        };
        // Taken and given back at once: the run takes it again.
        if let Err(e) = self.cleanup_preflight(&group).await {
            plan.findings.push(refusal(e));
            return Ok(plan);
        }
        let Some(record) = record else {
            return Ok(plan);
        };
        let found = match self.cleanup_listing(&group, &record).await {
            Ok(found) => found,
            Err(e) => {
                plan.findings.push(refusal(e));
                record.clone()
            }
        };
        plan.removals = removals(&record, &found);
        Ok(plan)
    }

    /// The refusals of a cleanup of `group`, checked before anything is removed: the group in
    /// flight, its peer holding another version (an unreachable peer catches up later), the
    /// drill still running in another process. Returns the lock of a drill recorded as
    /// running, which the cleanup holds to its end so that the drill cannot be resumed
    /// meanwhile.
    pub(super) async fn cleanup_preflight(
        &self,
        group: &ProtectionGroup,
    ) -> Result<Option<OperationLock>> {
        if group.status.is_in_flight() {
            return Err(Error::conflict(format!(
                "cannot clean up the DR drill of protection group '{}' while it is {}: wait for the running operation to finish",
                group.name, group.status
            )));
        }
        match self.ensure_peer_in_sync(group).await {
            Err(e) if e.kind() != ErrorKind::Unavailable => return Err(e),
            _ => {}
        }
        match group.test_failover.as_ref() {
            Some(r) if r.status == TestFailoverStatus::Running => {
                let lock = self.lock_operation(&r.operation_id).await.map_err(|e| {
                    e.with_prefix(format!(
                        "cannot clean up the DR drill of protection group '{}' while it runs",
                        group.name
                    ))
                })?;
                Ok(Some(lock))
            }
            _ => Ok(None),
        }
    }

    /// `record` plus, when the cleanup sweeps by tags, what the drill site holds with the
    /// drill's tags: found by [`Remover`]'s own search, the one the executor runs, on a copy.
    async fn cleanup_listing(
        &self,
        group: &ProtectionGroup,
        record: &TestFailoverRecord,
    ) -> Result<TestFailoverRecord> {
        if !sweeps_tags(record) {
            return Ok(record.clone());
        }
        let clients = self.group_clients(&record.site, group).await?;
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
        // A tracker that is never published: the search only reads.
        let op = Operation::start(
            OperationType::TestCleanup,
            Some((&group.id, &group.name)),
            &record.source_site,
            &record.site,
            chrono::Utc::now(),
        );
        let tracker = Tracker::new(self, &NoProgress, op, Vec::new(), None);
        let remover = Remover::new(&clients, &array, &tracker, "delete", record.clone());
        remover.discover().await?;
        Ok(remover.into_parts().0)
    }
}
