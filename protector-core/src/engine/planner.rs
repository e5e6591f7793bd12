//! Building failover plans: read the group, its members and both sites' inventories, resolve
//! every mapping, and record every problem as a finding.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::report::{ReplicaState, ReplicationHealth};
use super::text::{human_age, human_bytes};
use super::validate::Finding;
use super::Protector;
use crate::api::{ArrayApi, Flavor, Network, SecurityGroup, SiteClients};
use crate::error::{ErrorKind, Hint, MappedResource, Result};
use crate::model::{
    ArrayEndpoint, GroupStatus, Member, MemberStatus, Phase, ProtectionGroup, ReplicationPolicy,
    ReplicationType, ResourceMappings,
};
use crate::plan::{
    FailoverMode, MemberPlan, NicPlan, Plan, PlannedIp, RecoveryPoint, Resolved, Step, VolumePlan,
};

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
}

impl FailoverRequest {
    /// A planned failover with these mappings.
    pub fn planned(mappings: ResourceMappings) -> Self {
        FailoverRequest {
            mode: FailoverMode::Planned,
            mappings,
            operation_id: None,
        }
    }
}

/// Whether `ip` lies in `cidr` (IPv4 or IPv6).
pub(crate) fn cidr_contains(cidr: &str, ip: &str) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(ip), Ok(len)) = (
        net.parse::<IpAddr>(),
        ip.parse::<IpAddr>(),
        len.parse::<u32>(),
    ) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if len <= 32 => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (u32::from(n) & mask) == (u32::from(i) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if len <= 128 => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (u128::from(n) & mask) == (u128::from(i) & mask)
        }
        _ => false,
    }
}

/// The array's clock (`_as_of` of its answers), the wall clock when it does not say.
pub(crate) fn array_clock(info: &crate::api::ArrayInfo) -> chrono::DateTime<chrono::Utc> {
    info.as_of.unwrap_or_else(chrono::Utc::now)
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

/// A planned failover stops the VMs and then waits for a final snapshot to reach the target:
/// refuse it, before anything stops, when replication could not deliver that snapshot.
fn planned_replication_findings(
    plan: &mut Plan,
    group: &ProtectionGroup,
    policy: &ReplicationPolicy,
    state: Result<ReplicaState>,
) {
    let (name, source, target) = (&group.name, &plan.source_site, &plan.target_site);
    let way_out = "restore the replication link between the arrays and retry, or run an unplanned (forced) failover, which recovers from the last replicated data and accepts the data at risk";
    let state = match state {
        Ok(state) => state,
        Err(e) => {
            plan.findings.push(Finding::error(
                e.kind(),
                "replication_unknown",
                format!(
                    "the replication state of protection group '{name}' could not be read ({}): a planned failover needs working replication to {target}; retry when both arrays answer",
                    e.message()
                ),
            ));
            return;
        }
    };
    let problem = state.problem.unwrap_or_default();
    match state.health {
        ReplicationHealth::Interrupted => plan.findings.push(Finding::error(
            ErrorKind::ValidationFailed,
            "replication_interrupted",
            format!(
                "replication of protection group '{name}' (FlashArray protection group '{}') from {source} to {target} is interrupted: {problem}; a planned failover would stop the VMs and then wait for a final snapshot that cannot arrive: {way_out}",
                policy.pure_pg_name
            ),
        )),
        ReplicationHealth::Degraded => plan.findings.push(Finding::error(
            ErrorKind::ValidationFailed,
            "pod_not_in_sync",
            format!(
                "protection group '{name}' cannot fail over as planned to {target}: {problem}; {way_out}"
            ),
        )),
        ReplicationHealth::RpoExceeded => plan.findings.push(Finding::warning(
            "replication_lagging",
            format!(
                "the last snapshot of protection group '{name}' that reached {target} is {} old, beyond the RPO of {} minutes: the final snapshot may take long to arrive while the VMs are stopped",
                human_age(state.lag_seconds.unwrap_or(0)),
                policy.rpo_minutes
            ),
        )),
        // No replicated snapshot yet, with a working link and a target that allows the
        // replica: the final snapshot is the first full copy. It can arrive, so a group may be
        // moved as soon as it is protected (its wait is bounded like any other).
        ReplicationHealth::NoReplicatedSnapshot
        | ReplicationHealth::Ok
        | ReplicationHealth::Synchronous
        | ReplicationHealth::NotConfigured
        | ReplicationHealth::Unknown => {}
    }
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

fn find_by_id_or_name<'a, T>(
    items: &'a [T],
    key: &str,
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> &str,
) -> std::result::Result<Option<&'a T>, usize> {
    if let Some(found) = items.iter().find(|i| id(i) == key) {
        return Ok(Some(found));
    }
    let named: Vec<&T> = items.iter().filter(|i| name(i) == key).collect();
    match named.len() {
        0 => Ok(None),
        1 => Ok(Some(named[0])),
        n => Err(n),
    }
}

/// The target site's inventory, read once per plan.
struct TargetInventory {
    flavors: Vec<Flavor>,
    networks: Vec<Network>,
    security_groups: Vec<SecurityGroup>,
}

impl Protector {
    /// Builds a failover plan for `group` to its current secondary site.
    ///
    /// Problems (unreachable sites, unmapped networks, missing flavors, …) become findings in
    /// the plan rather than errors, so that [`Protector::validate_plan`] can report all of
    /// them; an `Err` means the plan could not be built at all (unknown group, store failure).
    pub async fn plan_failover(&self, group: &str, request: &FailoverRequest) -> Result<Plan> {
        let group = self.group(group).await?;
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
        };
        let findings = &mut plan.findings;

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
        let target_clients = match self.group_clients(&target, &group).await {
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
        let source_clients = match self.group_clients(&source, &group).await {
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

        // Arrays.
        let (source_ep, target_ep) = (
            policy.array_on(&group, &source),
            policy.array_on(&group, &target),
        );
        let target_array = self.inner.connector.array(target_ep).await?;
        match target_array.array_info().await {
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
        plan.source_reachable = source_clients.is_some();
        // How replication stands now, read as `consistency-group show` reads it.
        let replication = match plan.target_array {
            Some(_) => Some(self.replication_state(&group, &policy).await),
            None => None,
        };
        if request.mode == FailoverMode::Unplanned {
            let replication_broken = matches!(
                &replication,
                Some(Ok(state)) if matches!(state.health, ReplicationHealth::Interrupted | ReplicationHealth::Degraded)
            );
            self.plan_recovery_point(
                &mut plan,
                &policy,
                &group,
                target_array.as_ref(),
                source_ep,
                source_clients.is_some(),
                replication_broken,
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
        if request.mode == FailoverMode::Planned {
            let source_array = self.inner.connector.array(source_ep).await?;
            match source_array.array_info().await {
                Ok(info) => {
                    let missing = if group.replication_type == ReplicationType::Sync {
                        source_array.get_pod(&policy.pure_pg_name).await?.is_none()
                    } else {
                        source_array
                            .get_protection_group(&policy.pure_pg_name)
                            .await?
                            .is_none()
                    };
                    if missing {
                        plan.findings.push(
                            Finding::error(
                                ErrorKind::ValidationFailed,
                                "array_group_missing",
                                format!(
                                    "FlashArray protection group '{}' does not exist on {}",
                                    policy.pure_pg_name, info.name
                                ),
                            )
                            .with_hint(Hint::CreatePolicy {
                                group: group.name.clone(),
                            }),
                        );
                    }
                    plan.source_array = Some(info.name);
                }
                Err(e) => plan.findings.push(Finding::error(
                    ErrorKind::Unavailable,
                    "source_array_unreachable",
                    format!(
                        "FlashArray {} of {source} is unreachable: {}",
                        source_ep.url,
                        e.message()
                    ),
                )),
            }
            if let (Some(_), Some(state)) = (&plan.source_array, replication) {
                planned_replication_findings(&mut plan, &group, &policy, state);
            }
        }
        plan.array_group = policy.pure_pg_name.clone();

        let Some(target_clients) = target_clients else {
            return Ok(plan);
        };
        let stored: ResourceMappings = document
            .mappings
            .iter()
            .filter(|m| m.from_site == source && m.to_site == target)
            .fold(ResourceMappings::default(), |acc, m| {
                acc.merged_with(&m.mappings)
            });
        let mappings = request.mappings.merged_with(&stored);
        self.plan_target(
            &mut plan,
            &group,
            &document.members,
            &mappings,
            &target_clients,
            source_clients.as_ref(),
        )
        .await?;
        super::mappings::check_unused_targets(
            &mut plan.findings,
            &document.members,
            &request.mappings,
            &target_clients,
        )
        .await?;
        Ok(plan)
    }

    /// Unplanned failover: refuses while both the source site and its array answer and
    /// replication works (a planned failover loses nothing then), and finds the replicated
    /// snapshot to recover from with the data at risk, by the target array's clock.
    #[expect(
        clippy::too_many_arguments,
        reason = "the planner's state, passed as the caller holds it"
    )]
    async fn plan_recovery_point(
        &self,
        plan: &mut Plan,
        policy: &ReplicationPolicy,
        group: &ProtectionGroup,
        target_array: &dyn ArrayApi,
        source_ep: &ArrayEndpoint,
        source_site_reachable: bool,
        replication_broken: bool,
    ) -> Result<()> {
        let source = plan.source_site.clone();
        let target = plan.target_site.clone();
        let source_array = self.inner.connector.array(source_ep).await?;
        let source_info = source_array.array_info().await.ok();
        let source_array_answers = source_info.is_some();
        // With replication broken a planned failover cannot finish: the unplanned one is the
        // way out, and it stops the source VMs first since they answer.
        if source_site_reachable && source_info.is_some() && !replication_broken {
            plan.findings.push(
                Finding::error(
                    ErrorKind::Conflict,
                    "source_reachable",
                    format!("{source} and its FlashArray answer"),
                )
                .with_hint(Hint::PlannedFailover {
                    group: group.name.clone(),
                }),
            );
        }
        if group.replication_type == ReplicationType::Sync {
            let info = match target_array.array_info().await {
                Ok(i) => i,
                // The target array being down is already a finding.
                Err(e) if e.kind() == ErrorKind::Unavailable => return Ok(()),
                Err(e) => return Err(e),
            };
            let array_time = array_clock(&info);
            match target_array.get_pod(&policy.pure_pg_name).await? {
                Some(pod) if super::pods::online_on(&pod, &info.name) => {
                    plan.recovery_point = Some(RecoveryPoint {
                        snapshot: format!("pod {}", pod.name),
                        created_at: array_time,
                        replicated_at: None,
                        array_time,
                        age_secs: 0,
                        changed_bytes: Some(0),
                        data_at_risk: format!(
                            "none: sync replication, pod '{}' is online on {target}'s FlashArray {} and holds every acknowledged write",
                            pod.name, info.name
                        ),
                    });
                }
                Some(pod) => plan.findings.push(Finding::error(
                    ErrorKind::Unavailable,
                    "pod_offline_on_target",
                    format!(
                        "pod '{}' is not online on {target}'s FlashArray {} ({}): the mediator kept the other array online, so the copy on {target} may miss writes; restore the link or the mediator first",
                        pod.name,
                        info.name,
                        pod.arrays
                            .iter()
                            .map(|a| format!("{} {}", a.name, a.status))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
                None => plan.findings.push(Finding::error(
                    ErrorKind::NotFound,
                    "pod_missing",
                    format!(
                        "pod '{}' does not exist on {target}'s FlashArray {}: nothing to recover '{}' from",
                        policy.pure_pg_name, info.name, group.name
                    ),
                )),
            }
            return Ok(());
        }
        let source_name = source_info
            .map(|i| i.name)
            .or_else(|| policy.array_name_on(group, &source).map(str::to_string));
        let Some(source_name) = source_name else {
            plan.findings.push(Finding::error(
                ErrorKind::ValidationFailed,
                "source_array_name_unknown",
                format!(
                    "the name of {source}'s FlashArray is not recorded in the policy of '{}' and the array does not answer (or fail over when it answers)",
                    group.name
                ),
            )
            .with_hint(Hint::CreatePolicy {
                group: group.name.clone(),
            }));
            return Ok(());
        };
        plan.source_array = Some(source_name.clone());
        let replica_group = format!("{source_name}:{}", policy.pure_pg_name);
        let (transfers, info) = match (
            target_array
                .list_pg_snapshot_transfers(&replica_group)
                .await,
            target_array.array_info().await,
        ) {
            (Ok(t), Ok(i)) => (t, i),
            // The target array being down is already a finding.
            (Err(e), _) | (_, Err(e)) if e.kind() == ErrorKind::Unavailable => return Ok(()),
            (Err(e), _) if e.kind() == ErrorKind::NotFound => {
                (Vec::new(), target_array.array_info().await?)
            }
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        let Some(latest) = transfers.into_iter().find(|t| t.is_complete()) else {
            plan.findings.push(Finding::error(
                ErrorKind::NotFound,
                "no_replicated_snapshot",
                format!(
                    "no fully replicated snapshot of {replica_group} exists on {target}'s FlashArray {}: there is nothing to recover '{}' from",
                    info.name, group.name
                ),
            ));
            return Ok(());
        };
        let created = target_array
            .list_pg_snapshots(&replica_group)
            .await?
            .into_iter()
            .find(|s| s.name == latest.name)
            .map(|s| s.created)
            .or(latest.started)
            .unwrap_or(array_clock(&info));
        let array_time = array_clock(&info);
        let age_secs = (array_time - created).num_seconds().max(0);
        // How much changed since, as the source array's volume diff says (when it answers).
        let (changed_bytes, changed_note) = if source_array_answers {
            let local = latest
                .name
                .split_once(':')
                .map_or(latest.name.as_str(), |(_, n)| n);
            let mut total = 0u64;
            let mut failure = None;
            for member in self.store().list_members(&group.id).await? {
                for volume in &member.current.array_volumes {
                    match source_array
                        .changed_bytes_since(volume, &format!("{local}.{volume}"))
                        .await
                    {
                        Ok(bytes) => total += bytes,
                        Err(e) => {
                            failure = Some(e.message().to_string());
                            break;
                        }
                    }
                }
            }
            match failure {
                None => (
                    Some(total),
                    format!(
                        "{source}'s FlashArray reports {} changed since then (at least: VMs there may still be writing)",
                        human_bytes(total)
                    ),
                ),
                Some(why) => (
                    None,
                    format!("{source}'s FlashArray could not say how much changed since ({why})"),
                ),
            }
        } else {
            (
                None,
                format!(
                    "how much was written since is unknown: {source}'s FlashArray does not answer"
                ),
            )
        };
        let data_at_risk = format!(
            "writes to the volumes of '{}' on {source} after {} ({}, {} ago by {target}'s FlashArray clock) are lost: the failover recovers from replicated snapshot {}; {changed_note}",
            group.name,
            created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            latest.name,
            human_age(age_secs),
            latest.name
        );
        if u64::try_from(age_secs).unwrap_or(0) > policy.rpo_minutes * 60 {
            plan.findings.push(Finding::warning(
                "rpo_exceeded",
                format!(
                    "the latest replicated snapshot is {} old, beyond the RPO of {} minutes",
                    human_age(age_secs),
                    policy.rpo_minutes
                ),
            ));
        }
        plan.recovery_point = Some(RecoveryPoint {
            snapshot: latest.name,
            created_at: created,
            replicated_at: latest.completed,
            array_time,
            age_secs,
            changed_bytes,
            data_at_risk,
        });
        Ok(())
    }

    pub(super) async fn plan_target(
        &self,
        plan: &mut Plan,
        group: &ProtectionGroup,
        members: &[Member],
        mappings: &ResourceMappings,
        target: &SiteClients,
        source: Option<&SiteClients>,
    ) -> Result<()> {
        let inventory = TargetInventory {
            flavors: target.compute.list_flavors().await?,
            networks: target.network.list_networks().await?,
            security_groups: target.network.list_security_groups().await?,
        };
        let site = target.site.clone();
        match target.block_storage.find_volume_type(&group.volume_type).await? {
            Some(vt) if vt.replication_enabled() => plan.target_volume_type = vt.name,
            Some(vt) => plan.findings.push(Finding::error(
                ErrorKind::ValidationFailed,
                "volume_type_not_replicated",
                format!("volume type '{}' on {site} lacks replication_enabled='<is> True'", vt.name),
            )),
            None => plan.findings.push(Finding::error(
                ErrorKind::ValidationFailed,
                "volume_type_missing",
                format!("volume type '{}' does not exist on {site}: create it with the same replication properties", group.volume_type),
            )),
        }
        match target.block_storage.list_volume_services().await {
            Ok(services) => match services.iter().find(|s| s.is_usable()) {
                Some(s) => plan.manage_host = Some(s.host.clone()),
                None => plan.findings.push(Finding::error(
                    ErrorKind::ValidationFailed,
                    "no_volume_service",
                    format!("no cinder-volume service on {site} is up and enabled: volumes cannot be imported"),
                )),
            },
            Err(e) if e.kind() == ErrorKind::PermissionDenied => plan.findings.push(Finding::error(
                ErrorKind::PermissionDenied,
                "volume_manage_rights",
                format!(
                    "the credentials for {site} may not list cinder-volume services ({}): volume manage needs the admin role, \
                     or policy overrides volume_extension:volume_manage, volume_extension:volume_unmanage and \
                     volume_extension:services:index set to rule:admin_or_owner",
                    e.message()
                ),
            )),
            Err(e) => return Err(e),
        }

        let plan_key = plan.id.simple().to_string();
        for member in members {
            let name = member.instance_name.clone();
            let rec = &member.recovery;
            let source_status = match source {
                Some(s) => s
                    .compute
                    .get_server(&member.current.instance_id)
                    .await?
                    .map(|srv| srv.status.as_str().to_string()),
                None => None,
            };
            if source.is_some() && source_status.is_none() && plan.mode == FailoverMode::Planned {
                plan.findings.push(
                    Finding::error(
                        ErrorKind::ValidationFailed,
                        "source_server_missing",
                        format!(
                            "server {} ({}) of member {name} no longer exists on {}: remove the member or restore the VM",
                            member.current.instance_id, name, plan.source_site
                        ),
                    )
                    .for_member(&name),
                );
            }
            // Flavor.
            let flavor_key = mappings
                .flavors
                .get(&rec.flavor.id)
                .or_else(|| mappings.flavors.get(&rec.flavor.name));
            let flavor = match flavor_key {
                Some(wanted) => {
                    match find_by_id_or_name(&inventory.flavors, wanted, |f| &f.id, |f| &f.name) {
                        Ok(Some(f)) => Some(f.clone()),
                        _ => {
                            plan.findings.push(
                            Finding::error(
                                ErrorKind::ValidationFailed,
                                "flavor_mapping_target_missing",
                                format!("Flavor '{wanted}' not found on {site} (mapped from '{}' for member {name})", rec.flavor.name),
                            )
                            .with_hint(Hint::CheckMapping {
                                resource: MappedResource::Flavor,
                            })
                            .for_member(&name),
                        );
                            None
                        }
                    }
                }
                None => {
                    let by_id = inventory.flavors.iter().find(|f| f.id == rec.flavor.id);
                    let by_name = inventory.flavors.iter().find(|f| f.name == rec.flavor.name);
                    match by_id.or(by_name) {
                        Some(f) => Some(f.clone()),
                        None => {
                            plan.findings.push(
                                Finding::error(
                                    ErrorKind::ValidationFailed,
                                    "flavor_unmapped",
                                    format!(
                                        "Flavor '{}' of member {name} not found on {site} (available: {})",
                                        rec.flavor.name,
                                        inventory.flavors.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                                    ),
                                )
                                .with_hint(Hint::MapResource {
                                    resource: MappedResource::Flavor,
                                    source: rec.flavor.name.clone(),
                                    site: site.to_string(),
                                    isolated: false,
                                })
                                .for_member(&name),
                            );
                            None
                        }
                    }
                }
            };
            // Keypair.
            if let Some(key) = &rec.key_name {
                if target.compute.get_keypair(key).await?.is_none() {
                    plan.findings.push(
                        Finding::error(
                            ErrorKind::ValidationFailed,
                            "keypair_missing",
                            format!(
                                "keypair '{key}' of member {name} does not exist on {site} for the user protector authenticates as: import it there with `openstack keypair create --public-key <file> {key}`"
                            ),
                        )
                        .for_member(&name),
                    );
                }
            }
            // NICs.
            let mut nics = Vec::new();
            for nic in &rec.networks {
                let wanted = mappings
                    .networks
                    .get(&nic.network_id)
                    .or_else(|| mappings.networks.get(&nic.network_name))
                    .cloned();
                let resolved = match &wanted {
                    Some(w) => {
                        match find_by_id_or_name(&inventory.networks, w, |n| &n.id, |n| &n.name) {
                            Ok(Some(n)) => Some(n),
                            Ok(None) => {
                                plan.findings.push(
                                Finding::error(
                                    ErrorKind::ValidationFailed,
                                    "network_mapping_target_missing",
                                    format!(
                                        "Network '{w}' not found on {site} (mapped from {} '{}' of member {name})",
                                        nic.network_id, nic.network_name
                                    ),
                                )
                                .with_hint(Hint::CheckMapping {
                                    resource: MappedResource::Network,
                                })
                                .for_member(&name),
                            );
                                None
                            }
                            Err(n) => {
                                plan.findings.push(
                                Finding::error(
                                    ErrorKind::ValidationFailed,
                                    "network_mapping_ambiguous",
                                    format!("{n} networks on {site} are named '{w}': map {} to a network id", nic.network_name),
                                )
                                .for_member(&name),
                            );
                                None
                            }
                        }
                    }
                    None => match inventory.networks.iter().find(|n| n.id == nic.network_id) {
                        Some(n) => Some(n),
                        None => {
                            let hint = inventory
                                .networks
                                .iter()
                                .find(|n| n.name == nic.network_name)
                                .map(|n| {
                                    format!(
                                        " ({site} has a network named '{}', id {})",
                                        n.name, n.id
                                    )
                                })
                                .unwrap_or_default();
                            plan.findings.push(
                                Finding::error(
                                    ErrorKind::ValidationFailed,
                                    "network_unmapped",
                                    format!(
                                        "network {} ({}) of member {name} has no mapping to {site} and does not exist there{hint}",
                                        nic.network_name, nic.network_id
                                    ),
                                )
                                .with_hint(Hint::MapResource {
                                    resource: MappedResource::Network,
                                    source: nic.network_name.clone(),
                                    site: site.to_string(),
                                    isolated: false,
                                })
                                .for_member(&name),
                            );
                            None
                        }
                    },
                };
                let mut fixed_ips = Vec::new();
                if let Some(net) = resolved {
                    if net.subnets.is_empty() {
                        plan.findings.push(
                            Finding::error(
                                ErrorKind::ValidationFailed,
                                "network_without_subnet",
                                format!("network {} on {site} has no subnet: member {name} cannot get an address", net.name),
                            )
                            .for_member(&name),
                        );
                    }
                    for ip in &nic.fixed_ips {
                        let v6 = ip.ip_address.contains(':');
                        if let Some(subnet) = net
                            .subnets
                            .iter()
                            .find(|s| cidr_contains(&s.cidr, &ip.ip_address))
                        {
                            fixed_ips.push(PlannedIp {
                                subnet_id: subnet.id.clone(),
                                ip_address: Some(ip.ip_address.clone()),
                            });
                        } else if let Some(subnet) =
                            net.subnets.iter().find(|s| s.cidr.contains(':') == v6)
                        {
                            fixed_ips.push(PlannedIp {
                                subnet_id: subnet.id.clone(),
                                ip_address: None,
                            });
                        }
                    }
                }
                // Security groups of this port.
                let mut sg_ids = Vec::new();
                for sg_id in &nic.security_group_ids {
                    let sg_name = rec
                        .security_groups
                        .iter()
                        .find(|s| &s.id == sg_id)
                        .map_or(sg_id.as_str(), |s| s.name.as_str());
                    let wanted = mappings
                        .security_groups
                        .get(sg_id)
                        .or_else(|| mappings.security_groups.get(sg_name))
                        .map_or(sg_name, String::as_str);
                    match find_by_id_or_name(&inventory.security_groups, wanted, |s| &s.id, |s| &s.name) {
                        Ok(Some(sg)) => sg_ids.push(sg.id.clone()),
                        _ => plan.findings.push(
                            Finding::error(
                                ErrorKind::ValidationFailed,
                                "security_group_missing",
                                format!(
                                    "security group '{sg_name}' of member {name} has no equivalent on {site}: create it there with the same rules, or pass a security-group mapping"
                                ),
                            )
                            .for_member(&name),
                        ),
                    }
                }
                nics.push(NicPlan {
                    network: Resolved {
                        source: nic.network_id.clone(),
                        target_id: resolved.map(|n| n.id.clone()),
                        target_name: resolved.map(|n| n.name.clone()),
                    },
                    fixed_ips,
                    security_group_ids: sg_ids,
                });
            }
            let volumes = rec
                .volumes
                .iter()
                .zip(member.current.array_volumes.iter())
                .zip(member.current.volume_ids.iter())
                .map(|((spec, array_volume), volume_id)| VolumePlan {
                    source_volume_id: volume_id.clone(),
                    source_array_volume: array_volume.clone(),
                    copy_name: format!(
                        "protector-{}-{}",
                        &plan_key[..8],
                        volume_id.replace('-', "")
                    ),
                    name: spec.name.clone(),
                    size_gb: spec.size_gb,
                    bootable: spec.bootable,
                    boot_index: spec.boot_index.unwrap_or(-1),
                    device: spec.device.clone(),
                })
                .collect();
            plan.members.push(MemberPlan {
                member_id: member.id,
                instance_name: name.clone(),
                source_instance_id: member.current.instance_id.clone(),
                source_status,
                flavor: Resolved {
                    source: rec.flavor.name.clone(),
                    target_id: flavor.as_ref().map(|f| f.id.clone()),
                    target_name: flavor.as_ref().map(|f| f.name.clone()),
                },
                key_name: rec.key_name.clone(),
                nics,
                volumes,
                target_instance_id: None,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr() {
        assert!(cidr_contains("10.10.1.0/24", "10.10.1.5"));
        assert!(!cidr_contains("10.20.1.0/24", "10.10.1.5"));
        assert!(cidr_contains("0.0.0.0/0", "1.2.3.4"));
        assert!(cidr_contains("fd00::/64", "fd00::5"));
        assert!(!cidr_contains("fd00::/64", "10.0.0.1"));
        assert!(!cidr_contains("garbage", "10.0.0.1"));
    }

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
