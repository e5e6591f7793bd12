//! Building failover plans: read the group, its members and both sites' inventories, resolve
//! every mapping, and record every problem as a finding. The members are resolved on the
//! target in `target`, the recovery point in `recovery_point`.

mod recovery_point;
mod target;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use self::recovery_point::planned_replication_findings;
use super::report::ReplicationHealth;
use super::validate::Finding;
use super::Protector;
use crate::api::PgParts;
use crate::error::{ErrorKind, Hint, Result};
use crate::model::{
    GroupStatus, MemberStatus, OperationType, Phase, ProtectionGroup, ReplicationPolicy,
    ReplicationType, ResourceMappings,
};
use crate::plan::{FailoverMode, Plan, Step};

/// Ask for a failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverRequest {
    /// Planned (default) or unplanned (`--force`).
    pub mode: FailoverMode,
    /// Network, flavor and security-group mappings source → target (merged over stored ones).
    pub mappings: ResourceMappings,
    /// Use this id for the operation (a caller that recorded a pending operation first);
    /// a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
    /// Unplanned failover: the replicated snapshot to recover from (its full name
    /// `array:pg.N` or its suffix `N`, as [`Protector::recovery_points`] lists them); the
    /// latest fully replicated one when `None`.
    #[serde(default)]
    pub recovery_point: Option<String>,
    /// Unplanned failover: seconds during which it may be rolled back to an older point before
    /// it counts as committed (`Some(0)`: committed at once); one hour when `None`.
    #[serde(default)]
    pub commit_window_secs: Option<u64>,
}

impl FailoverRequest {
    /// A planned failover with these mappings.
    pub fn planned(mappings: ResourceMappings) -> Self {
        FailoverRequest {
            mode: FailoverMode::Planned,
            mappings,
            operation_id: None,
            recovery_point: None,
            commit_window_secs: None,
        }
    }
}

/// Step name part for a site (`site-b` → `site_b`).
pub(crate) fn site_token(site: &str) -> String {
    site.replace(['-', '.', ' '], "_")
}

/// The steps of a failover to `target`, in order.
fn failover_steps(target: &str, mode: FailoverMode, stop_source: bool, sync: bool) -> Vec<Step> {
    let t = site_token(target);
    let mut steps: Vec<(String, Phase, String)> = vec![
        (
            "validate_sites".into(),
            Phase::Preparation,
            "check both sites and arrays answer".into(),
        ),
        (
            "create_dr_record".into(),
            Phase::Preparation,
            "record the operation; group status failing_over on both sites".into(),
        ),
    ];
    if sync {
        if mode == FailoverMode::Planned || stop_source {
            steps.push((
                "quiesce_vms".into(),
                Phase::Storage,
                "stop the source VMs so that no write is lost".into(),
            ));
        }
        steps.push((
            "verify_pod".into(),
            Phase::Storage,
            "check the pod is online on the target array (synchronously in step)".into(),
        ));
    }
    if !sync && mode == FailoverMode::Unplanned && stop_source {
        steps.push((
            "quiesce_vms".into(),
            Phase::Storage,
            "stop the source VMs that still answer so that only one copy runs".into(),
        ));
    }
    if !sync && mode == FailoverMode::Planned {
        steps.push((
            "quiesce_vms".into(),
            Phase::Storage,
            "stop the source VMs so that no write is lost".into(),
        ));
        steps.push((
            "final_snapshot".into(),
            Phase::Storage,
            "take a protection-group snapshot with replicate_now".into(),
        ));
        steps.push((
            "replicate_snapshot".into(),
            Phase::Storage,
            "wait until the snapshot has fully arrived on the target array".into(),
        ));
    }
    if !sync {
        steps.push((
            "identify_snapshot".into(),
            Phase::Storage,
            "pick the replicated snapshot and its volume snapshots".into(),
        ));
    }
    steps.extend([
        (
            format!("create_volumes_{t}"),
            Phase::Storage,
            "copy each volume snapshot to a new array volume".into(),
        ),
        (
            format!("manage_volumes_{t}"),
            Phase::Storage,
            "import the copies into Cinder (manage existing)".into(),
        ),
        (
            format!("create_ports_{t}"),
            Phase::Instances,
            "create ports on the mapped networks with the security groups".into(),
        ),
        (
            format!("create_instances_{t}"),
            Phase::Instances,
            "boot the servers from the imported volumes".into(),
        ),
        (
            "verify_instances".into(),
            Phase::Instances,
            "wait for every server to be ACTIVE".into(),
        ),
        (
            "update_protection_group".into(),
            Phase::Finalization,
            "status, current primary, failover count".into(),
        ),
        (
            "sync_metadata".into(),
            Phase::Finalization,
            "push the new metadata version to the other site".into(),
        ),
    ]);
    chain(steps)
}

/// Steps in order, each depending on the one before.
pub(crate) fn chain(steps: Vec<(String, Phase, String)>) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    for (name, phase, description) in steps {
        let depends_on = out.last().map(|s| vec![s.id.clone()]).unwrap_or_default();
        out.push(Step {
            id: name.clone(),
            name,
            phase,
            description,
            depends_on,
        });
    }
    out
}

impl Protector {
    /// Builds a failover plan for `group` to its current secondary site.
    ///
    /// Problems (unreachable sites, unmapped networks, missing flavors, …) become findings in
    /// the plan rather than errors, so that [`Protector::validate_plan`] can report all of
    /// them; an `Err` means the plan could not be built at all (unknown group, store failure).
    pub async fn plan_failover(&self, group: &str, request: &FailoverRequest) -> Result<Plan> {
        let group = self.group(group).await?;
        self.plan_failover_of(group, request).await
    }

    /// [`Protector::plan_failover`] of a group the caller already holds (a site failover's).
    pub(crate) async fn plan_failover_of(
        &self,
        group: ProtectionGroup,
        request: &FailoverRequest,
    ) -> Result<Plan> {
        let mut plan = Box::pin(self.draft_failover(group, request)).await?;
        self.order_and_estimate(&mut plan, OperationType::Failover)
            .await;
        Ok(plan)
    }

    /// [`Protector::plan_failover_of`] without its boot order and estimate.
    async fn draft_failover(
        &self,
        group: ProtectionGroup,
        request: &FailoverRequest,
    ) -> Result<Plan> {
        let source = group.current_primary_site.clone();
        let target = group.current_secondary_site().to_string();
        let mut plan = Plan {
            id: request.operation_id.unwrap_or_else(Uuid::new_v4),
            mode: request.mode,
            group_id: group.id,
            group_name: group.name.clone(),
            metadata_version: group.metadata.version,
            source_site: source.clone(),
            target_site: target.clone(),
            replication_type: group.replication_type,
            array_group: group.consistency_group.array_group.clone(),
            source_array: None,
            target_array: None,
            target_volume_type: group.volume_type.clone(),
            manage_host: None,
            members: Vec::new(),
            steps: failover_steps(
                &target,
                request.mode,
                false,
                group.replication_type == ReplicationType::Sync,
            ),
            findings: Vec::new(),
            recovery_point: None,
            source_reachable: false,
            source_snapshot: None,
            commit_window_secs: request.commit_window_secs,
            boot_order: Vec::new(),
            estimate: None,
            hooks: super::hooks::planned(&group.hooks, false),
        };
        super::recovery_points::check_choice(
            &mut plan,
            &group,
            request.mode,
            request.recovery_point.as_deref(),
        );
        let findings = &mut plan.findings;
        findings.extend(self.hook_findings(&plan.hooks));

        if !matches!(group.status, GroupStatus::Active | GroupStatus::Error) {
            findings.push(Finding::error(
                ErrorKind::Conflict,
                "group_not_active",
                format!(
                    "Protection Group '{}' is not active (status: {}): a failover needs status active{}",
                    group.name,
                    group.status,
                    if matches!(group.status, GroupStatus::FailedOver | GroupStatus::FailedOverPartial) {
                        format!("; its workload already runs on {}, use failback to return it", group.current_primary_site)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        if let Some(drill) = &group.test_failover {
            findings.push(Finding::warning(
                "drill_resources",
                format!(
                    "the DR drill op-{} still has test resources on {}: they stay until it is cleaned up",
                    drill.operation_id, drill.site
                ),
            )
            .with_hint(Hint::CleanupDrill {
                group: group.name.clone(),
            }));
        }
        if let Some(site) = &group.fence_required_on {
            findings.push(Finding::error(
                ErrorKind::Conflict,
                "fence_required",
                format!("the VMs of protection group '{}' on {site} must be confirmed stopped before any operation", group.name),
            ));
        }
        // Both sites must answer for a planned failover; the local one is where the metadata is.
        let (target_answer, source_answer) = futures::join!(
            self.group_clients(&target, &group),
            self.group_clients(&source, &group)
        );
        let target_clients = match target_answer {
            Ok(c) => Some(c),
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                findings.push(Finding::error(
                    ErrorKind::Unavailable,
                    "target_unreachable",
                    format!(
                        "Cannot execute failover — remote site unreachable: {}",
                        e.message()
                    ),
                ));
                None
            }
            Err(e) => {
                findings.push(Finding::error(e.kind(), "target_clients", e.message()));
                None
            }
        };
        let source_clients = match source_answer {
            Ok(c) => Some(c),
            Err(e) => {
                if request.mode == FailoverMode::Planned {
                    findings.push(
                        Finding::error(
                            ErrorKind::Unavailable,
                            "source_unreachable",
                            format!(
                                "Cannot execute failover — remote site unreachable: {}; if {source} is lost",
                                e.message()
                            ),
                        )
                        .with_hint(Hint::UnplannedFailover {
                            group: group.name.clone(),
                        }),
                    );
                }
                None
            }
        };
        let peer = group.peer_of(self.local_site()).to_string();
        let peer_reachable = if peer == target {
            target_clients.is_some()
        } else {
            source_clients.is_some()
        };
        if peer_reachable {
            if let Err(e) = self.ensure_peer_in_sync(&group).await {
                findings.push(Finding::error(
                    e.kind(),
                    "metadata_out_of_sync",
                    e.message().to_string(),
                ));
            }
        }

        let document = self.document(group.clone()).await?;
        let Some(policy) = document.policy.clone() else {
            plan.findings.push(
                Finding::error(
                    ErrorKind::ValidationFailed,
                    "no_policy",
                    format!(
                        "protection group '{}' has no replication policy",
                        group.name
                    ),
                )
                .with_hint(Hint::CreatePolicy {
                    group: group.name.clone(),
                }),
            );
            return Ok(plan);
        };
        if document.members.is_empty() {
            plan.findings.push(
                Finding::error(
                    ErrorKind::ValidationFailed,
                    "no_members",
                    format!("protection group '{}' has no members", group.name),
                )
                .with_hint(Hint::AddMembers {
                    group: group.name.clone(),
                }),
            );
        }
        for member in &document.members {
            if member.status != MemberStatus::Protected {
                plan.findings.push(
                    Finding::error(
                        ErrorKind::ValidationFailed,
                        "member_not_protected",
                        format!(
                            "member {} ({}) is in status {}: {}",
                            member.instance_name,
                            member.id,
                            member.status.as_str(),
                            member
                                .error_message
                                .clone()
                                .unwrap_or_else(|| "fix it or remove it before a failover".into())
                        ),
                    )
                    .for_member(&member.instance_name),
                );
            }
        }

        // Arrays, and the members on the target: two independent chains of reads, at once.
        let stored = document.mappings_between(&source, &target);
        let mappings = request.mappings.merged_with(&stored);
        let mut members_plan = Plan {
            findings: Vec::new(),
            ..plan.clone()
        };
        let members_part = async {
            let Some(target_clients) = &target_clients else {
                return Ok(false);
            };
            self.plan_target(
                &mut members_plan,
                &group,
                &document.members,
                &mappings,
                target_clients,
                source_clients.as_ref(),
            )
            .await?;
            super::mappings::check_unused_targets(
                &mut members_plan.findings,
                &document.members,
                &request.mappings,
                target_clients,
            )
            .await?;
            Ok(true)
        };
        let source_reachable = source_clients.is_some();
        let arrays_part = self.plan_arrays(&mut plan, &group, &policy, request, source_reachable);
        let ((), planned_members) = futures::try_join!(arrays_part, members_part)?;
        if planned_members {
            plan.members = members_plan.members;
            plan.target_volume_type = members_plan.target_volume_type;
            plan.manage_host = members_plan.manage_host;
            plan.findings.extend(members_plan.findings);
        }
        Ok(plan)
    }

    /// The arrays of a failover plan: both answer, the array group exists, replication can
    /// deliver (planned), or the recovery point (unplanned). Both arrays are read at once.
    async fn plan_arrays(
        &self,
        plan: &mut Plan,
        group: &ProtectionGroup,
        policy: &ReplicationPolicy,
        request: &FailoverRequest,
        source_reachable: bool,
    ) -> Result<()> {
        let (source, target) = (plan.source_site.clone(), plan.target_site.clone());
        let (source_ep, target_ep) = (
            policy.array_on(group, &source),
            policy.array_on(group, &target),
        );
        let planned = request.mode == FailoverMode::Planned;
        let target_array = self.inner.connector.array(target_ep).await?;
        // The source array of a planned failover: its name, and whether the array group
        // exists there (`Err`: it does not answer).
        let source_part = async {
            if !planned {
                return Ok(None);
            }
            let source_array = self.inner.connector.array(source_ep).await?;
            // Its name and the group at once (the group's answer counts when it named itself).
            let exists = async {
                if group.replication_type == ReplicationType::Sync {
                    Ok(source_array.get_pod(&policy.pure_pg_name).await?.is_some())
                } else {
                    Ok(source_array
                        .get_protection_group_parts(&policy.pure_pg_name, PgParts::GROUP)
                        .await?
                        .is_some())
                }
            };
            let (info, exists): (_, Result<bool>) =
                futures::join!(source_array.array_info(), exists);
            match info {
                Ok(info) => Ok(Some(Ok((info.name, !exists?)))),
                Err(e) => Ok(Some(Err(e))),
            }
        };
        // How replication stands now, read as `consistency-group show` reads it (kept only
        // when the target array answers).
        let (target_info, replication, source_side) = futures::join!(
            target_array.array_info(),
            self.replication_state(group, policy),
            source_part
        );
        let source_side: Option<std::result::Result<(String, bool), crate::error::Error>> =
            source_side?;
        match target_info {
            Ok(info) => plan.target_array = Some(info.name),
            Err(e) => plan.findings.push(Finding::error(
                ErrorKind::Unavailable,
                "target_array_unreachable",
                format!(
                    "FlashArray {} of {target} is unreachable: {}",
                    target_ep.url,
                    e.message()
                ),
            )),
        }
        plan.source_reachable = source_reachable;
        let replication = plan.target_array.as_ref().map(|_| replication);
        if request.mode == FailoverMode::Unplanned {
            let replication_broken = matches!(
                &replication,
                Some(Ok(state)) if matches!(state.health, ReplicationHealth::Interrupted | ReplicationHealth::Degraded)
            );
            self.plan_recovery_point(
                plan,
                policy,
                group,
                target_array.as_ref(),
                source_ep,
                source_reachable,
                replication_broken,
                request.recovery_point.as_deref(),
            )
            .await?;
            if plan.source_reachable {
                plan.steps = failover_steps(
                    &target,
                    request.mode,
                    true,
                    group.replication_type == ReplicationType::Sync,
                );
            }
        }
        match source_side {
            Some(Ok((name, missing))) => {
                if missing {
                    plan.findings.push(
                        Finding::error(
                            ErrorKind::ValidationFailed,
                            "array_group_missing",
                            format!(
                                "FlashArray protection group '{}' does not exist on {}",
                                policy.pure_pg_name, name
                            ),
                        )
                        .with_hint(Hint::CreatePolicy {
                            group: group.name.clone(),
                        }),
                    );
                }
                plan.source_array = Some(name);
            }
            Some(Err(e)) => plan.findings.push(Finding::error(
                ErrorKind::Unavailable,
                "source_array_unreachable",
                format!(
                    "FlashArray {} of {source} is unreachable: {}",
                    source_ep.url,
                    e.message()
                ),
            )),
            None => {}
        }
        if planned {
            if let (Some(_), Some(state)) = (&plan.source_array, replication) {
                planned_replication_findings(plan, group, policy, state);
            }
        }
        plan.array_group = policy.pure_pg_name.clone();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_named_like_the_spec() {
        let steps = failover_steps("site-b", FailoverMode::Planned, false, false);
        let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "validate_sites",
                "create_dr_record",
                "quiesce_vms",
                "final_snapshot",
                "replicate_snapshot",
                "identify_snapshot",
                "create_volumes_site_b",
                "manage_volumes_site_b",
                "create_ports_site_b",
                "create_instances_site_b",
                "verify_instances",
                "update_protection_group",
                "sync_metadata"
            ]
        );
        assert_eq!(steps[3].depends_on, ["quiesce_vms"]);
    }
}
