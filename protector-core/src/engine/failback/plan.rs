//! Planning a failback: what returns to the original primary (each member's original VM, or
//! a rebuild where it is gone) and every problem found.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::FailbackRequest;
use crate::api::{ArrayVolume, Server};
use crate::engine::planner::site_token;
use crate::engine::validate::Finding;
use crate::engine::Protector;
use crate::error::{ErrorKind, Hint, MappedResource, Result};
use crate::model::{GroupStatus, OperationType, Phase, ProtectionGroup};
use crate::plan::{FailoverMode, MemberPlan, Plan, Resolved, Step, VolumePlan};

fn steps(
    group: &ProtectionGroup,
    target: &str,
    source: &str,
    reverse: bool,
    rebuild: bool,
) -> Vec<Step> {
    let (t, s) = (site_token(target), site_token(source));
    let mut list: Vec<(String, Phase, String)> = vec![(
        "validate_sites".into(),
        Phase::Preparation,
        "check both sites and arrays answer".into(),
    )];
    // The group is claimed before anything is touched, fencing included: a failback that
    // loses the claim to another one must not stop VMs the winner has started.
    list.push((
        "create_dr_record".into(),
        Phase::Preparation,
        "record the operation; group status failing_back on both sites".into(),
    ));
    if group.fence_required_on.is_some() {
        list.push((
            "fence_old_vms".into(),
            Phase::Preparation,
            format!("stop the VMs an unplanned failover left running on {target} and confirm"),
        ));
    }
    list.extend([
        (
            "quiesce_vms".into(),
            Phase::Storage,
            format!("stop the VMs on {source} so that no write is lost"),
        ),
        (
            "prepare_reverse_replication".into(),
            Phase::Storage,
            format!("protection group on {source}'s array with the active volumes, replicating to {target}"),
        ),
        (
            "final_snapshot".into(),
            Phase::Storage,
            "take a protection-group snapshot with replicate_now".into(),
        ),
        (
            "replicate_snapshot".into(),
            Phase::Storage,
            format!("wait until the snapshot has fully arrived on {target}'s array"),
        ),
        (
            "promote_storage_primary".into(),
            Phase::Storage,
            format!("overwrite the original volumes on {target}'s array from the snapshot"),
        ),
    ]);
    if rebuild {
        list.extend([
            (
                format!("create_volumes_{t}"),
                Phase::Storage,
                format!(
                    "copy the snapshot's volumes of members whose original VM is gone on {target}"
                ),
            ),
            (
                format!("manage_volumes_{t}"),
                Phase::Storage,
                "import those copies into Cinder (manage existing)".into(),
            ),
            (
                format!("create_ports_{t}"),
                Phase::Instances,
                "ports for the rebuilt members on their original networks".into(),
            ),
            (
                format!("create_instances_{t}"),
                Phase::Instances,
                "boot the rebuilt members from the imported volumes".into(),
            ),
        ]);
    }
    list.extend([
        (
            format!("start_instances_{t}"),
            Phase::Instances,
            format!("start the original VMs on {target}"),
        ),
        (
            "verify_instances".into(),
            Phase::Instances,
            "wait for every server to be ACTIVE".into(),
        ),
        (
            format!("cleanup_{s}"),
            Phase::Finalization,
            format!("remove the servers, ports and volumes the failover created on {source}"),
        ),
    ]);
    if reverse {
        list.push((
            "reverse_replication".into(),
            Phase::Finalization,
            format!("enable replication {target} → {source} again"),
        ));
    }
    list.extend([
        (
            "update_protection_group".into(),
            Phase::Finalization,
            "status active, current primary back to the original".into(),
        ),
        (
            "sync_metadata".into(),
            Phase::Finalization,
            "push the new metadata version to the other site".into(),
        ),
    ]);
    crate::engine::planner::chain(list)
}

impl Protector {
    /// Builds a failback plan: what returns to the original primary and every problem found.
    pub async fn plan_failback(&self, group: &str, request: &FailbackRequest) -> Result<Plan> {
        let mut plan = self.draft_failback(group, request).await?;
        self.order_and_estimate(&mut plan, OperationType::Failback)
            .await;
        Ok(plan)
    }

    /// [`Protector::plan_failback`] without its boot order and estimate.
    async fn draft_failback(&self, group: &str, request: &FailbackRequest) -> Result<Plan> {
        let group = self.group(group).await?;
        let source = group.current_primary_site.clone();
        let target = group.primary_site.clone();
        let mut plan = Plan {
            id: request.operation_id.unwrap_or_else(Uuid::new_v4),
            mode: FailoverMode::Planned,
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
            steps: steps(&group, &target, &source, request.reverse_replication, false),
            findings: Vec::new(),
            recovery_point: None,
            source_reachable: false,
            source_snapshot: None,
            commit_window_secs: None,
            boot_order: Vec::new(),
            estimate: None,
            hooks: crate::engine::hooks::planned(&group.hooks, false),
        };
        plan.findings.extend(self.hook_findings(&plan.hooks));
        if !matches!(
            group.status,
            GroupStatus::FailedOver | GroupStatus::FailedOverPartial
        ) || source == target
        {
            plan.findings.push(Finding::error(
                ErrorKind::Conflict,
                "group_not_failed_over",
                format!(
                    "Protection Group '{}' is not in a failed_over state. Current status: {} (current primary: {}){}",
                    group.name,
                    group.status,
                    group.current_primary_site,
                    if group.status == GroupStatus::Active {
                        ": its workload already runs on its primary site, no failback is needed"
                    } else {
                        ""
                    }
                ),
            ));
            return Ok(plan);
        }
        if crate::engine::recovery_points::awaits_commit(&group, chrono::Utc::now()) {
            plan.findings.push(
                Finding::error(
                    ErrorKind::Conflict,
                    "failover_not_committed",
                    format!(
                        "the failover of protection group '{}' to {} awaits its commit (recovery point {}): a failback is possible once it is committed, or rolled back to an older point and then committed",
                        group.name,
                        group.current_primary_site,
                        group.recovery_point.as_ref().map(|p| p.snapshot.as_str()).unwrap_or_default()
                    ),
                )
                .with_hint(Hint::CommitOrRollBack {
                    group: group.name.clone(),
                }),
            );
            return Ok(plan);
        }
        let mut clients = BTreeMap::new();
        // Both sites at once; the target's answer is reported first.
        let (target_clients, source_clients) = futures::join!(
            self.group_clients(&target, &group),
            self.group_clients(&source, &group)
        );
        for (site, answer) in [(&target, target_clients), (&source, source_clients)] {
            match answer {
                Ok(c) => {
                    clients.insert(site.clone(), c);
                }
                Err(e) if e.kind() != ErrorKind::Unavailable => {
                    plan.findings
                        .push(Finding::error(e.kind(), "site_clients", e.message()))
                }
                Err(e) => plan.findings.push(
                    Finding::error(
                        ErrorKind::Unavailable,
                        "site_unreachable",
                        format!(
                            "Cannot initiate failback - remote site '{site}' is unreachable ({}). Modifications to a Protection Group require both sites to be reachable; once it answers, {}",
                            e.message(),
                            Hint::SyncForce {
                                group: group.name.clone()
                            }
                            .describe()
                        ),
                    )
                    .with_hint(Hint::ValidateSite { site: site.clone() }),
                ),
            }
        }
        plan.source_reachable = clients.contains_key(&source);
        if clients.len() == 2 {
            if let Err(e) = self.ensure_peer_in_sync(&group).await {
                if request.force {
                    plan.findings.push(Finding::warning(
                        "metadata_out_of_sync",
                        format!("{} (forced: the local version is pushed)", e.message()),
                    ));
                } else {
                    let finding = Finding::error(e.kind(), "metadata_out_of_sync", e.message());
                    plan.findings.push(match e.hint() {
                        Some(hint) => finding.with_hint(hint.clone()),
                        None => finding,
                    });
                }
            }
        }
        let document = self.document(group.clone()).await?;
        let Some(policy) = document.policy.clone() else {
            plan.findings.push(Finding::error(
                ErrorKind::ValidationFailed,
                "no_policy",
                format!(
                    "protection group '{}' has no replication policy",
                    group.name
                ),
            ));
            return Ok(plan);
        };
        plan.array_group = policy.pure_pg_name.clone();
        // Mappings are only checked: the original VMs keep their own ports and flavors.
        let stored = document.mappings_between(&source, &target);
        let mappings = request.mappings.merged_with(&stored);
        let (source_endpoint, target_endpoint) = (
            policy.array_on(&group, &source),
            policy.array_on(&group, &target),
        );
        let source_array = self.inner.connector.array(source_endpoint).await?;
        let target_array = self.inner.connector.array(target_endpoint).await?;
        // The members that move, and what the members' loop reads of them.
        let moving: Vec<_> = document
            .members
            .iter()
            .filter(|m| m.current.site != target)
            .collect();
        let original_ids: Vec<&str> = moving
            .iter()
            .filter_map(|m| m.standby.as_ref().filter(|s| s.site == target))
            .map(|s| s.instance_id.as_str())
            .collect();
        let current_ids: Vec<&str> = moving
            .iter()
            .map(|m| m.current.instance_id.as_str())
            .collect();
        let standby_volumes: Vec<&String> = moving
            .iter()
            .filter_map(|m| m.standby.as_ref().filter(|s| s.site == target))
            .flat_map(|s| s.array_volumes.iter())
            .collect();
        // Every read of the plan at once (independent reads; the per-service limits bound
        // them): both arrays' names and the target's links to its peers; the mapped networks
        // and flavors on the target; the original servers on the target and the current ones
        // on the source, by one listing per site (kept for the operation; a server the listing
        // lacks is read on its own); the original array volumes. Their findings are reported
        // in the order the checks are listed.
        let arrays_part = futures::future::join3(
            source_array.array_info(),
            target_array.array_info(),
            target_array.array_connections(),
        );
        let both = (clients.get(&target), clients.get(&source));
        let reads_part = async {
            let (Some(target_clients), Some(source_clients)) = both else {
                return None;
            };
            let networks = async {
                match mappings.networks.is_empty() {
                    true => Ok(Vec::new()),
                    false => target_clients.network.list_networks().await,
                }
            };
            let flavors = async {
                match mappings.flavors.is_empty() {
                    true => Ok(Vec::new()),
                    false => target_clients.compute.list_flavors().await,
                }
            };
            let servers = futures::future::try_join(
                self.servers_by_id(target_clients, &original_ids),
                self.servers_by_id(source_clients, &current_ids),
            );
            // One read for all (a member whose volume it could not read reads its own below).
            let volumes = async {
                let names: Vec<String> = standby_volumes.iter().map(|n| (*n).clone()).collect();
                match target_array.get_volumes(&names).await {
                    Ok(read) => standby_volumes
                        .iter()
                        .copied()
                        .zip(read.into_iter().map(Ok))
                        .collect(),
                    Err(_) => Vec::new(),
                }
            };
            Some(futures::join!(networks, flavors, servers, volumes))
        };
        let ((source_info, target_info, connections), reads) =
            futures::join!(Box::pin(arrays_part), Box::pin(reads_part));
        for (site, endpoint, info) in [
            (&source, source_endpoint, source_info),
            (&target, target_endpoint, target_info),
        ] {
            match info {
                Ok(info) if site == &source => plan.source_array = Some(info.name),
                Ok(info) => plan.target_array = Some(info.name),
                Err(e) => plan.findings.push(Finding::error(
                    ErrorKind::Unavailable,
                    "array_unreachable",
                    format!(
                        "FlashArray {} of {site} is unreachable: {}",
                        endpoint.url,
                        e.message()
                    ),
                )),
            }
        }
        // A failback stops the VMs on the active site, then waits for a final snapshot (async)
        // or relies on the pod (sync) on the original site's array: both need the link.
        if let (Some(source_name), Some(target_name)) =
            (plan.source_array.clone(), plan.target_array.clone())
        {
            match connections
                .map(|c| crate::engine::report::link_problem_in(&c, &target_name, &source_name))
            {
                Ok(None) => {}
                Ok(Some(problem)) => plan.findings.push(Finding::error(
                    ErrorKind::ValidationFailed,
                    "replication_interrupted",
                    format!(
                        "protection group '{}' cannot fail back from {source} to {target}: {problem}; a failback would stop the VMs on {source} and then wait for data that cannot arrive: restore the replication link between the arrays and retry",
                        group.name
                    ),
                )),
                Err(e) => plan.findings.push(Finding::error(
                    e.kind(),
                    "replication_unknown",
                    format!(
                        "the replication link of protection group '{}' between {source} and {target} could not be read ({}): retry when both arrays answer",
                        group.name,
                        e.message()
                    ),
                )),
            }
        }
        let (
            Some(target_clients),
            Some(source_clients),
            Some((networks, flavors, servers, volume_reads)),
        ) = (clients.get(&target), clients.get(&source), reads)
        else {
            return Ok(plan);
        };
        if !mappings.networks.is_empty() {
            let networks = networks?;
            for wanted in mappings.networks.values() {
                if !networks
                    .iter()
                    .any(|n| &n.id == wanted || &n.name == wanted)
                {
                    plan.findings.push(Finding::error(
                        ErrorKind::ValidationFailed,
                        "network_mapping_target_missing",
                        format!("Network '{wanted}' not found on {target} (a mapping goes from the active site's network to one on {target})"),
                    ).with_hint(Hint::CheckMapping { resource: MappedResource::Network }));
                }
            }
        }
        if !mappings.flavors.is_empty() {
            let flavors = flavors?;
            for wanted in mappings.flavors.values() {
                if !flavors.iter().any(|f| &f.id == wanted || &f.name == wanted) {
                    plan.findings.push(
                        Finding::error(
                            ErrorKind::ValidationFailed,
                            "flavor_mapping_target_missing",
                            format!("Flavor '{wanted}' not found on {target}"),
                        )
                        .with_hint(Hint::CheckMapping {
                            resource: MappedResource::Flavor,
                        }),
                    );
                }
            }
        }
        let (found_originals, found_currents) = servers?;
        let found = |ids: &[&str], found: &BTreeMap<String, Server>| {
            ids.iter()
                .map(|id| (id.to_string(), found.get(*id).cloned()))
                .collect::<BTreeMap<String, Option<Server>>>()
        };
        let originals = found(&original_ids, &found_originals);
        let currents = found(&current_ids, &found_currents);
        let mut array_volumes: BTreeMap<&String, Result<Option<ArrayVolume>>> =
            volume_reads.into_iter().collect();
        let mut rebuild = Vec::new();
        for member in &document.members {
            let name = member.instance_name.clone();
            if member.current.site == target {
                // Failed on the DR site during the failover: it never left.
                continue;
            }
            let standby = member.standby.as_ref().filter(|s| s.site == target);
            let original = match standby {
                Some(s) => originals.get(&s.instance_id).cloned().flatten(),
                None => None,
            };
            let Some(standby) = standby.filter(|_| original.is_some()) else {
                // The original VM is gone: this member is rebuilt on the original primary
                // from the replicated data, like a failover builds it.
                if let Some(s) = standby {
                    plan.findings.push(
                        Finding::warning(
                            "original_vm_gone",
                            format!(
                                "the original server {} of member {name} no longer exists on {target}: it is rebuilt there from the replicated data; its old volumes ({}) are left as they are",
                                s.instance_id,
                                s.volume_ids.join(", ")
                            ),
                        )
                        .for_member(&name),
                    );
                }
                rebuild.push(member.clone());
                continue;
            };
            for array_volume in &standby.array_volumes {
                let read = match array_volumes.remove(array_volume) {
                    Some(read) => read,
                    None => target_array.get_volume(array_volume).await,
                };
                match read {
                    Ok(Some(v)) if !v.destroyed => {}
                    Ok(_) => plan.findings.push(
                        Finding::error(
                            ErrorKind::ValidationFailed,
                            "standby_volume_missing",
                            format!(
                                "array volume {array_volume} of member {name} no longer exists on {target}'s FlashArray: failback restores into the original volumes"
                            ),
                        )
                        .for_member(&name),
                    ),
                    Err(e) if e.kind() == ErrorKind::Unavailable => {}
                    Err(e) => return Err(e),
                }
            }
            let source_status = currents
                .get(&member.current.instance_id)
                .cloned()
                .flatten()
                .map(|s| s.status.as_str().to_string());
            let volumes = member
                .recovery
                .volumes
                .iter()
                .zip(&member.current.volume_ids)
                .zip(&member.current.array_volumes)
                .zip(&standby.array_volumes)
                .map(|(((spec, volume_id), array_volume), original)| VolumePlan {
                    source_volume_id: volume_id.clone(),
                    source_array_volume: array_volume.clone(),
                    copy_name: original.clone(),
                    name: spec.name.clone(),
                    size_gb: spec.size_gb,
                    bootable: spec.bootable,
                    boot_index: spec.boot_index.unwrap_or(-1),
                    device: spec.device.clone(),
                    source_snapshot: None,
                })
                .collect();
            plan.members.push(MemberPlan {
                member_id: member.id,
                instance_name: name,
                source_instance_id: member.current.instance_id.clone(),
                source_status,
                flavor: Resolved {
                    source: member.recovery.flavor.name.clone(),
                    target_id: Some(member.recovery.flavor.id.clone()),
                    target_name: Some(member.recovery.flavor.name.clone()),
                },
                key_name: member.recovery.key_name.clone(),
                nics: Vec::new(),
                volumes,
                target_instance_id: Some(standby.instance_id.clone()),
                priority: member.priority,
                depends_on: member.depends_on.clone(),
                availability_zone: None,
            });
        }
        if !rebuild.is_empty() {
            // Rebuilt members are planned like a failover to the original primary: their
            // recovery metadata describes their VM there, so its networks, flavor and security
            // groups resolve without mappings.
            self.plan_target(
                &mut plan,
                &group,
                &rebuild,
                &mappings,
                target_clients,
                Some(source_clients),
            )
            .await?;
            plan.steps = steps(&group, &target, &source, request.reverse_replication, true);
        }
        Ok(plan)
    }
}
