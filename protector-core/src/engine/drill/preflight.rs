//! Everything that can refuse a drill, checked before it changes anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use super::plan::drill_plan_steps;
use super::{test_name, TestFailoverRequest};
use crate::api::{ArrayApi, SiteClients};
use crate::engine::planner::FailoverRequest;
use crate::engine::validate::{Finding, ValidationReport};
use crate::engine::Protector;
use crate::error::{Error, ErrorKind, Hint, MappedResource, Result};
use crate::model::{Member, OperationType, ProtectionGroup, ReplicationType, ResourceMappings};
use crate::plan::Plan;

/// Planner findings that do not concern a drill: it never touches the source site, its array or
/// its VMs, and it checks the group status itself (a drill may run while failed over).
const NOT_FOR_DRILLS: [&str; 4] = [
    "group_not_active",
    "source_unreachable",
    "source_array_unreachable",
    "source_server_missing",
];

/// Everything a drill needs once it has been found possible.
pub(super) struct DrillPlan {
    pub(super) plan: Plan,
    pub(super) group: ProtectionGroup,
    pub(super) snapshot: String,
    /// Array copy name → volume snapshot it is copied from.
    pub(super) sources: BTreeMap<String, String>,
    pub(super) clients: SiteClients,
    pub(super) array: Arc<dyn ArrayApi>,
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
                        "network {} ({}) of member {} is not mapped to an isolated network on {site}: a drill never attaches test VMs to an unmapped network",
                        nic.network_name, nic.network_id, member.instance_name
                    ),
                )
                .with_hint(Hint::MapResource {
                    resource: MappedResource::Network,
                    source: nic.network_name.clone(),
                    site: site.to_string(),
                    isolated: true,
                })
                .for_member(&member.instance_name),
            );
        }
    }
    findings
}

/// A drill's plan as far as it could be made: ready to run, or refused by its findings.
#[expect(
    clippy::large_enum_variant,
    reason = "made once per drill and moved once; boxing buys nothing"
)]
pub(super) enum Prepared {
    /// Nothing blocks: everything the drill needs.
    Ready(DrillPlan),
    /// The findings of the first check that refused it (the plan holds them).
    Blocked(Plan),
}

/// The refusals that come first: a drill never runs next to another operation, before a fence
/// or over an earlier drill.
fn conflicts(group: &ProtectionGroup) -> Vec<Finding> {
    let name = &group.name;
    let mut findings = Vec::new();
    if group.status.is_in_flight() {
        findings.push(Finding::error(
            ErrorKind::Conflict,
            "group_in_flight",
            format!(
                "cannot run a DR drill of protection group '{name}' while it is {}: wait for the running operation to finish",
                group.status
            ),
        ));
    } else if let Some(site) = &group.fence_required_on {
        findings.push(Finding::error(
            ErrorKind::Conflict,
            "group_fenced",
            format!(
                "cannot run a DR drill of protection group '{name}': its VMs on {site} must first be confirmed stopped (fence the old primary)"
            ),
        ));
    } else if let Some(existing) = &group.test_failover {
        findings.push(Finding::error(
            ErrorKind::Conflict,
            "drill_exists",
            format!(
                "protection group '{name}' already has a DR drill (operation {}, {} on {}, started {}): run the drill cleanup of '{name}' first",
                existing.operation_id,
                existing.status,
                existing.site,
                existing.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    findings
}

/// Whether `findings` block.
fn blocks(findings: &[Finding]) -> bool {
    !ValidationReport {
        findings: findings.to_vec(),
    }
    .is_ok()
}

impl Protector {
    /// Everything that can refuse a drill before it changes anything: the drill's plan, or
    /// the refusal (the findings of the first check that failed, as one error).
    pub(super) async fn plan_drill(
        &self,
        group: ProtectionGroup,
        request: &TestFailoverRequest,
        operation_id: Uuid,
    ) -> Result<DrillPlan> {
        let name = group.name.clone();
        match self.prepare_drill(group, request, operation_id).await? {
            Prepared::Ready(plan) => Ok(plan),
            Prepared::Blocked(plan) => Err(ValidationReport {
                findings: plan.findings,
            }
            .into_result(&format!("DR drill of protection group '{name}'"))
            .expect_err("a blocked plan has a blocking finding")),
        }
    }

    /// The drill's plan, checked in this order, the first check with a blocking finding
    /// ending it: the group (not in flight, not fenced, no drill yet), every network mapped
    /// by the drill itself, the failover planner's findings that concern a drill. Then the
    /// snapshot the copies come from; the failures there (no policy, the pod not online,
    /// nothing replicated yet) are errors, as there is no plan to show without them.
    pub(super) async fn prepare_drill(
        &self,
        group: ProtectionGroup,
        request: &TestFailoverRequest,
        operation_id: Uuid,
    ) -> Result<Prepared> {
        let name = group.name.clone();
        let source = group.current_primary_site.clone();
        let target = group.current_secondary_site().to_string();
        let failover = FailoverRequest {
            operation_id: Some(operation_id),
            ..FailoverRequest::planned(request.mappings.clone())
        };
        let mut plan = self.plan_failover(&group.id.to_string(), &failover).await?;
        plan.steps = drill_plan_steps(&target);
        self.order_and_estimate(&mut plan, OperationType::TestFailover)
            .await;
        plan.hooks = crate::engine::hooks::planned(&group.hooks, true);
        let planner_findings = std::mem::take(&mut plan.findings);
        let conflicts = conflicts(&group);
        if blocks(&conflicts) {
            plan.findings = conflicts;
            return Ok(Prepared::Blocked(plan));
        }
        let document = self.document(group.clone()).await?;
        // Networks must be mapped by the drill itself: the stored mappings lead to the DR
        // site's production networks, where test copies (same addresses) must never land.
        let unmapped = unmapped_networks(&document.members, &request.mappings, &target);
        if blocks(&unmapped) {
            plan.findings = unmapped;
            return Ok(Prepared::Blocked(plan));
        }
        plan.findings = planner_findings;
        plan.findings
            .retain(|f| f.code != crate::engine::hooks::COMMANDS_REFUSED);
        plan.findings.extend(self.hook_findings(&plan.hooks));
        plan.findings
            .retain(|f| !NOT_FOR_DRILLS.contains(&f.code.as_str()));
        if blocks(&plan.findings) {
            return Ok(Prepared::Blocked(plan));
        }

        let policy = document.policy.clone().ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{name}' has no replication policy"
            ))
        })?;
        // In the group's own project on the drill site: what the drill creates is the tenant's.
        let clients = self.group_clients(&target, &group).await?;
        let array = self
            .inner
            .connector
            .array(policy.array_on(&group, &target))
            .await?;
        if let (Some(wanted), ReplicationType::Sync) =
            (&request.recovery_point, group.replication_type)
        {
            return Err(Error::invalid(format!(
                "recovery point '{wanted}' cannot be used for a DR drill of protection group '{name}': it replicates synchronously (pod, RPO 0) and the drill copies the pod volumes themselves"
            )));
        }
        let (snapshot, volume_snapshots) = if group.replication_type == ReplicationType::Sync {
            // The pod holds every acknowledged write on the drill site's array too: the test
            // copies are taken from the pod volumes there.
            let target_name = plan.target_array.clone().unwrap_or_default();
            let pod =
                crate::engine::pods::pod_on(array.as_ref(), &target_name, &policy.pure_pg_name)
                    .await?;
            if !crate::engine::pods::online_on(&pod, &target_name) {
                return Err(Error::unavailable(format!(
                    "pod '{}' is not online on {target}'s FlashArray {target_name}: its copy there may be behind; run the drill once the pod is online on both arrays",
                    pod.name
                )));
            }
            (format!("pod {}", pod.name), None)
        } else {
            let source_array = plan
                .source_array
                .clone()
                .or_else(|| policy.array_name_on(&group, &source).map(str::to_string))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "the name of {source}'s FlashArray is not recorded in the policy of '{name}' and the array does not answer"
                    ))
                    .with_hint(Hint::CreatePolicy { group: name.to_string() })
                })?;
            let replica = format!("{source_array}:{}", policy.pure_pg_name);
            let transfers = match array.list_pg_snapshot_transfers(&replica).await {
                Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
                other => other?,
            };
            let snapshot = crate::engine::recovery_points::choose(
                transfers,
                request.recovery_point.as_deref(),
                &name,
                &target,
            )?
            .map(|t| t.name)
            .ok_or_else(|| {
                    Error::not_found(format!(
                        "no fully replicated snapshot of {replica} exists on {target}'s FlashArray yet: a DR drill copies the latest one; wait for the next scheduled replication (every {} s) and run the drill again",
                        policy.replication_interval_secs
                    ))
                })?;
            let volume_snapshots = array.list_volume_snapshots(&snapshot).await?;
            (snapshot, Some(volume_snapshots))
        };
        let mut sources = BTreeMap::new();
        for member in &mut plan.members {
            for (index, volume) in member.volumes.iter_mut().enumerate() {
                let source = match &volume_snapshots {
                    // Sync: each copy is made from the pod volume itself.
                    None => volume.source_array_volume.clone(),
                    Some(volume_snapshots) => {
                        let wanted = format!("{snapshot}.{}", volume.source_array_volume);
                        volume_snapshots
                            .iter()
                            .find(|s| {
                                s.name == wanted || s.source_volume == volume.source_array_volume
                            })
                            .ok_or_else(|| {
                                Error::not_found(format!(
                                    "replicated snapshot {snapshot} on {target} holds no copy of volume {} of member {}: it was added after that snapshot was taken; wait for the next scheduled replication and run the drill again",
                                    volume.source_array_volume, member.instance_name
                                ))
                            })?
                            .name
                            .clone()
                    }
                };
                volume.copy_name = test_name(&volume.copy_name);
                volume.name = if volume.name.is_empty() {
                    test_name(&format!("{}-volume-{index}", member.instance_name))
                } else {
                    test_name(&volume.name)
                };
                volume.source_snapshot = Some(source.clone());
                sources.insert(volume.copy_name.clone(), source);
            }
        }
        plan.source_snapshot = Some(snapshot.clone());
        Ok(Prepared::Ready(DrillPlan {
            plan,
            group,
            snapshot,
            sources,
            clients,
            array,
        }))
    }
}
