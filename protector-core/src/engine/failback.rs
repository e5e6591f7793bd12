//! Failback (spec/001) and fencing of an old primary after an unplanned failover.
//!
//! A failover keeps the stopped original VMs on the site it left (`Member::standby`): same
//! server ids, ports, addresses and Cinder volumes. Failback brings the data back into them
//! instead of rebuilding everything:
//!
//! 1. preparation: both sites must answer and hold the same metadata version; VMs an unplanned
//!    failover left on the original primary are stopped and confirmed stopped (fencing); group
//!    `failing_back` on both sites;
//! 2. storage: the VMs on the active site are stopped *first*; their volumes are put in a
//!    FlashArray protection group on the active site's array replicating to the original
//!    primary's array; a snapshot is replicated now; the original volumes are overwritten from
//!    it (`promote_storage_primary`), so nothing written on the DR site is lost;
//! 3. instances: the original VMs start and must be ACTIVE;
//! 4. finalization: the DR site's copies (servers, ports, volumes) are removed, replication
//!    primary → secondary is enabled again when asked (`--reverse-replication`), the group is
//!    `active` on its original primary and the metadata is pushed.
//!
//! A failure before the original VMs run restarts the VMs on the DR site and leaves the group
//! `failed_over`, from where the failback can be retried.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::progress::ProgressObserver;
use super::resources::{ensure_replicating, stop_server_and_wait};
use super::runner::{lock, Run, Undo};
use super::sync::PeerPolicy;
use super::validate::Finding;
use super::Protector;
use crate::api::{ArrayApi, CopyVolume, CreatePgSnapshot, ServerStatus};
use crate::error::{Error, ErrorKind, Hint, MappedResource, Result};
use crate::model::{
    GroupEvent, GroupStatus, Operation, OperationType, Phase, Placement, ProtectionGroup,
    ReplicationPolicy, ReplicationType, ResourceMappings,
};
use crate::plan::{FailoverMode, MemberPlan, Plan, Resolved, Step, VolumePlan};
use crate::store::{JournalKind, RemoteSyncStatus};

use super::planner::site_token;

/// Ask for a failback to the group's original primary site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailbackRequest {
    /// Mappings from the current active site back to the original primary (merged over stored
    /// ones). The original VMs keep their ports, so these are only checked: every target must
    /// exist on the original primary.
    pub mappings: ResourceMappings,
    /// Re-enable replication original primary → secondary once the failback is done.
    pub reverse_replication: bool,
    /// Proceed although the metadata of the two sites differs (the local version is pushed).
    /// Reachability of both sites is never skipped, and the VMs are always stopped before the
    /// final replication: a forced failback loses nothing either.
    pub force: bool,
    /// Use this id for the operation; a fresh one otherwise.
    #[serde(default)]
    pub operation_id: Option<Uuid>,
}

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
    super::planner::chain(list)
}

impl Protector {
    /// Builds a failback plan: what returns to the original primary and every problem found.
    pub async fn plan_failback(&self, group: &str, request: &FailbackRequest) -> Result<Plan> {
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
        };
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
        let mut clients = BTreeMap::new();
        for site in [&target, &source] {
            match self.group_clients(site, &group).await {
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
        for (site, slot) in [(&source, 0), (&target, 1)] {
            let endpoint = policy.array_on(&group, site);
            let array = self.inner.connector.array(endpoint).await?;
            match array.array_info().await {
                Ok(info) if slot == 0 => plan.source_array = Some(info.name),
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
            let target_array = self
                .inner
                .connector
                .array(policy.array_on(&group, &target))
                .await?;
            match super::report::link_problem(target_array.as_ref(), &target_name, &source_name)
                .await
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
        let (Some(target_clients), Some(source_clients)) =
            (clients.get(&target), clients.get(&source))
        else {
            return Ok(plan);
        };
        // Mappings are only checked: the original VMs keep their own ports and flavors.
        let stored = document
            .mappings
            .iter()
            .filter(|m| m.from_site == source && m.to_site == target)
            .fold(ResourceMappings::default(), |acc, m| {
                acc.merged_with(&m.mappings)
            });
        let mappings = request.mappings.merged_with(&stored);
        if !mappings.networks.is_empty() {
            let networks = target_clients.network.list_networks().await?;
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
            let flavors = target_clients.compute.list_flavors().await?;
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
        let target_array = self
            .inner
            .connector
            .array(policy.array_on(&group, &target))
            .await?;
        let mut rebuild = Vec::new();
        for member in &document.members {
            let name = member.instance_name.clone();
            if member.current.site == target {
                // Failed on the DR site during the failover: it never left.
                continue;
            }
            let standby = member.standby.as_ref().filter(|s| s.site == target);
            let original = match standby {
                Some(s) => target_clients.compute.get_server(&s.instance_id).await?,
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
                match target_array.get_volume(array_volume).await {
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
            let source_status = source_clients
                .compute
                .get_server(&member.current.instance_id)
                .await?
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

    /// Returns the workload of `group` to its original primary site.
    ///
    /// Returns `Err` when the failback is refused before anything happens (every finding is
    /// in the error; nothing changed). Once started, returns the operation record: `completed`,
    /// or `failed` after the VMs on the DR site were restarted.
    pub async fn failback(
        &self,
        group: &str,
        request: FailbackRequest,
        observer: &dyn ProgressObserver,
    ) -> Result<Operation> {
        let plan = self.plan_failback(group, &request).await?;
        self.validate_plan(&plan).await?.into_result(&format!(
            "failback of protection group '{}'",
            plan.group_name
        ))?;
        let _owner = self.own_operation(&plan.id).await?;
        let group = self.group_by_id(&plan.group_id).await?;
        let policy = self.store().get_policy(&group.id).await?.ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{}' has no replication policy",
                group.name
            ))
        })?;
        let target = self.group_clients(&plan.target_site, &group).await?;
        let source = self.group_clients(&plan.source_site, &group).await?;
        let source_array = self
            .inner
            .connector
            .array(policy.array_on(&group, &plan.source_site))
            .await?;
        let target_array = self
            .inner
            .connector
            .array(policy.array_on(&group, &plan.target_site))
            .await?;
        let mut op = Operation::start(
            OperationType::Failback,
            Some((&group.id, &group.name)),
            &plan.source_site,
            &plan.target_site,
            Utc::now(),
        );
        op.id = plan.id;
        let run = Run {
            engine: self,
            plan: &plan,
            op: Mutex::new(op),
            observer,
            source: Some(source),
            target,
            source_array: Some(source_array),
            target_array,
            undo: Mutex::new(Undo::default()),
            results: Mutex::new(BTreeMap::new()),
            previous_status: group.status,
        };
        run.save().await?;
        let outcome = run.execute_failback(&request, &policy).await;
        let refusal = run.claim_refused(&outcome);
        let op = run.finish(outcome).await;
        let peer = group.peer_of(self.local_site()).to_string();
        if let Ok(store) = self.store_of(&peer) {
            let _ = store.put_operation(&op).await;
        }
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(op),
        }
    }

    /// Confirms that the VMs left on the old primary by an unplanned failover are stopped,
    /// stopping them if they run, and clears the group's fence. Nothing to do when the group
    /// is not fenced.
    pub async fn fence(&self, group: &str) -> Result<ProtectionGroup> {
        let group = self.group(group).await?;
        let Some(site) = group.fence_required_on.clone() else {
            return Ok(group);
        };
        let clients = self.ensure_reachable(&site).await.map_err(|e| {
            Error::unavailable(format!(
                "{site} is unreachable ({}): the VMs of protection group '{}' there cannot be confirmed stopped yet; retry when it answers",
                e.message(),
                group.name
            ))
        })?;
        let peer = group.peer_of(self.local_site()).to_string();
        if let Some(remote) = self.store_of(&peer)?.get_group(&group.id).await? {
            if remote.metadata.version > group.metadata.version {
                return Err(Error::new(
                    ErrorKind::OutOfSync,
                    format!(
                        "{peer} holds a newer version ({}) of protection group '{}' than {} ({}): act as {peer} (or force a metadata sync from there)",
                        remote.metadata.version,
                        group.name,
                        self.local_site(),
                        group.metadata.version,
                    ),
                )
                .with_hint(Hint::UseSite { site: Some(peer.clone()) }));
            }
        }
        let mut document = self.document(group.clone()).await?;
        for id in fenced_servers(&document.members, &site) {
            stop_server_and_wait(&clients.compute, &id, &self.options().poll)
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "stopping server {id} of protection group '{}' on {site}",
                        group.name
                    ))
                })?;
        }
        document.group.fence_required_on = None;
        let committed = self.commit(document, "fence", PeerPolicy::Required).await?;
        Ok(committed.group)
    }
}

/// The servers of `members` on `site` that are not the live copy: the originals an unplanned
/// failover left behind.
fn fenced_servers(members: &[crate::model::Member], site: &str) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.current.site != site)
        .filter_map(|m| m.standby.as_ref())
        .filter(|s| s.site == site && !s.instance_id.is_empty())
        .map(|s| s.instance_id.clone())
        .collect()
}

impl Run<'_> {
    fn source_array(&self) -> Result<&Arc<dyn ArrayApi>> {
        self.source_array.as_ref().ok_or_else(|| {
            Error::unavailable(format!(
                "the FlashArray of {} is unreachable",
                self.plan.source_site
            ))
        })
    }

    async fn execute_failback(
        &self,
        request: &FailbackRequest,
        policy: &ReplicationPolicy,
    ) -> Result<()> {
        let plan = self.plan;
        let (source_token, target_token) =
            (site_token(&plan.source_site), site_token(&plan.target_site));
        let source_name = plan.source_array.clone().unwrap_or_default();
        let target_name = plan.target_array.clone().unwrap_or_default();
        let sync = plan.replication_type == ReplicationType::Sync;
        // The protection group on the DR site's array carrying the data back. A sync group's
        // pod cannot: the DR copies live outside it.
        let pg = if sync {
            format!("{}-failback", plan.array_group)
        } else {
            plan.array_group.clone()
        };

        // Preparation.
        self.step_started("validate_sites").await?;
        for site in [&plan.target_site, &plan.source_site] {
            self.engine.ensure_reachable(site).await.map_err(|e| {
                Error::unavailable(format!(
                    "Cannot initiate failback - remote site '{site}' is unreachable ({}). Modifications to a Protection Group require both sites to be reachable.",
                    e.message()
                ))
            })?;
        }
        self.step_done("validate_sites").await?;

        self.step_started("create_dr_record").await?;
        let group = self.engine.group_by_id(&plan.group_id).await?;
        Protector::ensure_not_claimed(&group, self.op_id())?;
        let mut document = self.engine.document(group).await?;
        document.group.apply(GroupEvent::FailbackStarted)?;
        document.group.active_operation_id = Some(self.op_id());
        self.engine
            .commit(document, "failback-start", PeerPolicy::Required)
            .await?;
        self.step_done("create_dr_record").await?;
        self.clear_earlier_leftovers().await;

        if plan.steps.iter().any(|s| s.name == "fence_old_vms") {
            self.step_started("fence_old_vms").await?;
            let group = self.engine.group_by_id(&plan.group_id).await?;
            let document = self.engine.document(group).await?;
            for id in fenced_servers(&document.members, &plan.target_site) {
                self.effect(
                    &format!("fence:{id}"),
                    json!({"server": id, "site": plan.target_site}),
                    stop_server_and_wait(&self.target.compute, &id, &self.engine.options().poll),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "the old VM {id} on {} could not be confirmed stopped",
                        plan.target_site
                    ))
                })?;
            }
            self.step_done("fence_old_vms").await?;
        }

        // Storage.
        self.step_started("quiesce_vms").await?;
        self.quiesce().await?;
        self.step_done("quiesce_vms").await?;

        self.step_started("prepare_reverse_replication").await?;
        let source_array = self.source_array()?.clone();
        let volumes: Vec<String> = plan
            .members
            .iter()
            .flat_map(|m| m.volumes.iter().map(|v| v.source_array_volume.clone()))
            .collect();
        self.effect(
            "prepare_reverse_replication",
            json!({"protection_group": pg, "array": source_name, "target": target_name, "volumes": volumes}),
            ensure_replicating(
                source_array.as_ref(),
                &source_name,
                self.target_array.as_ref(),
                &target_name,
                &pg,
                &volumes,
            ),
        )
        .await?;
        self.step_done("prepare_reverse_replication").await?;

        self.step_started("final_snapshot").await?;
        let snap = self
            .effect(
                "final_snapshot",
                json!({"protection_group": pg, "array": source_name}),
                source_array.create_pg_snapshot(
                    &pg,
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
        let replica = format!("{source_name}:{}", snap.name);
        self.wait_replicated(&replica).await?;
        self.step_done("replicate_snapshot").await?;

        self.step_started("promote_storage_primary").await?;
        let snapshots = self.target_array.list_volume_snapshots(&replica).await?;
        let mut sources = BTreeMap::new();
        for member in &plan.members {
            for volume in &member.volumes {
                let wanted = format!("{replica}.{}", volume.source_array_volume);
                let found = snapshots.iter().find(|v| v.name == wanted).ok_or_else(|| {
                    Error::not_found(format!(
                        "snapshot {replica} on {} holds no copy of volume {} of member {}",
                        plan.target_site, volume.source_array_volume, member.instance_name
                    ))
                })?;
                if member.target_instance_id.is_none() {
                    // Rebuilt below, into new volumes.
                    sources.insert(volume.copy_name.clone(), found.name.clone());
                    continue;
                }
                let request = CopyVolume {
                    name: volume.copy_name.clone(),
                    source: found.name.clone(),
                    overwrite: true,
                };
                self.effect(
                    &format!("promote_volume:{}", volume.copy_name),
                    json!({"source": found.name, "name": volume.copy_name}),
                    self.target_array.copy_volume(&request),
                )
                .await?;
            }
        }
        self.step_done("promote_storage_primary").await?;

        // Members whose original VM is gone are built again, as a failover builds them.
        let rebuilt = |m: &MemberPlan| m.target_instance_id.is_none();
        let original = |m: &MemberPlan| m.target_instance_id.is_some();
        if plan.members.iter().any(rebuilt) {
            let step = format!("create_volumes_{target_token}");
            self.step_started(&step).await?;
            self.for_members_where(rebuilt, |m| self.copy_volumes(m, &sources))
                .await?;
            self.step_done(&step).await?;
            let step = format!("manage_volumes_{target_token}");
            self.step_started(&step).await?;
            self.for_members_where(rebuilt, |m| self.manage_volumes(m))
                .await?;
            self.step_done(&step).await?;
            let step = format!("create_ports_{target_token}");
            self.step_started(&step).await?;
            let originals = self.original_ports().await?;
            self.for_members_where(rebuilt, |m| self.ports_for_rebuild(m, &originals))
                .await?;
            self.step_done(&step).await?;
            let step = format!("create_instances_{target_token}");
            self.step_started(&step).await?;
            self.for_members_where(rebuilt, |m| self.create_server(m))
                .await?;
            self.step_done(&step).await?;
        }

        // Instances.
        let start = format!("start_instances_{target_token}");
        self.step_started(&start).await?;
        self.for_members_where(original, |m| self.start_original(m))
            .await?;
        self.step_done(&start).await?;

        self.step_started("verify_instances").await?;
        // Every server, started or rebuilt, must reach ACTIVE; one in ERROR fails the failback
        // (and the rollback stops what started and restarts the DR copies).
        self.for_members(|m| self.verify_server(m)).await?;
        let failed: Vec<String> = {
            let results = lock(&self.results);
            plan.members
                .iter()
                .filter_map(|m| {
                    results
                        .get(&m.member_id)
                        .and_then(|r| r.error.as_ref())
                        .map(|e| format!("{}: {e}", m.instance_name))
                })
                .collect()
        };
        if !failed.is_empty() {
            return Err(Error::unexpected(format!(
                "Failed to start instances on {}: {}",
                plan.target_site,
                failed.join("; ")
            )));
        }
        self.step_done("verify_instances").await?;

        // Finalization: from here on the workload runs on the original primary.
        let cleanup = format!("cleanup_{source_token}");
        self.step_started(&cleanup).await?;
        let mut notes = Vec::new();
        let mut leftovers = self.remove_dr_copies(&source_array, &pg).await;
        if !sync && policy.replication_interval_secs > 0 {
            // Nothing left to protect there: the group's volumes are back on the original array.
            if let Err(e) = source_array
                .set_replication_schedule(&pg, false, policy.replication_interval_secs)
                .await
            {
                leftovers.push(format!(
                    "the replication schedule of protection group {pg} on {}'s array is still on: {}",
                    plan.source_site,
                    e.message()
                ));
            }
        }
        if leftovers.is_empty() {
            self.step_done(&cleanup).await?;
        } else {
            lock(&self.op).steps_failed.push(cleanup.clone());
            notes.push(format!(
                "the workload runs on {} but some of the failover's copies on {} could not be removed, remove them by hand: {}",
                plan.target_site,
                plan.source_site,
                leftovers.join("; ")
            ));
        }

        if request.reverse_replication {
            self.step_started("reverse_replication").await?;
            let target_array = self.target_array.clone();
            let result = async {
                if sync {
                    // The original volumes never left the pod: keep it stretched.
                    return target_array
                        .add_pod_array(&plan.array_group, &source_name)
                        .await;
                }
                ensure_replicating(
                    target_array.as_ref(),
                    &target_name,
                    source_array.as_ref(),
                    &source_name,
                    &pg,
                    &plan
                        .members
                        .iter()
                        .flat_map(|m| m.volumes.iter().map(|v| v.copy_name.clone()))
                        .collect::<Vec<_>>(),
                )
                .await?;
                target_array
                    .set_replication_schedule(&pg, true, policy.replication_interval_secs)
                    .await
            }
            .await;
            match result {
                Ok(()) => self.step_done("reverse_replication").await?,
                Err(e) => {
                    lock(&self.op)
                        .steps_failed
                        .push("reverse_replication".into());
                    notes.push(format!(
                        "replication {} → {} could not be enabled ({}): {}",
                        plan.target_site,
                        plan.source_site,
                        e.message(),
                        Hint::CreatePolicy {
                            group: plan.group_name.clone()
                        }
                        .describe()
                    ));
                }
            }
        }

        self.step_started("update_protection_group").await?;
        let group = self.engine.group_by_id(&plan.group_id).await?;
        let mut document = self.engine.document(group).await?;
        document.group.apply(GroupEvent::FailbackCompleted)?;
        document.group.current_primary_site = plan.target_site.clone();
        // The old VMs were confirmed stopped by fence_old_vms.
        document.group.fence_required_on = None;
        document.group.active_operation_id = None;
        document.group.last_operation_id = Some(self.op_id());
        super::copies::settle_failback(&mut document, &plan.source_site, &plan.target_site);
        {
            let results = lock(&self.results);
            for member in &mut document.members {
                let rebuilt = plan
                    .members
                    .iter()
                    .any(|m| m.member_id == member.id && m.target_instance_id.is_none());
                if let Some(result) = results.get(&member.id).filter(|_| rebuilt) {
                    member.current = Placement {
                        site: plan.target_site.clone(),
                        instance_id: result.server_id.clone().unwrap_or_default(),
                        volume_ids: result.volume_ids.clone(),
                        array_volumes: result.array_volumes.clone(),
                        port_ids: result.port_ids.clone(),
                    };
                    member.standby = None;
                }
            }
        }
        let committed = self
            .engine
            .commit(document, "failback", PeerPolicy::BestEffort)
            .await?;
        {
            let mut op = lock(&self.op);
            op.instances_created = u32::try_from(plan.members.len()).unwrap_or(u32::MAX);
            op.data_loss = Some(format!(
                "none: the VMs on {} were stopped before the final replicated snapshot",
                plan.source_site
            ));
            if !notes.is_empty() {
                op.error_message = Some(notes.join("; "));
            }
        }
        self.step_done("update_protection_group").await?;

        self.step_started("sync_metadata").await?;
        let state = self
            .engine
            .store()
            .get_sync_state(&committed.group.id)
            .await?;
        if state.is_some_and(|s| {
            s.status == RemoteSyncStatus::Synced
                && s.remote_version == committed.group.metadata.version
        }) {
            self.step_done("sync_metadata").await?;
        } else {
            let mut op = lock(&self.op);
            op.steps_failed.push("sync_metadata".into());
            let note = format!(
                "metadata version {} could not be pushed to the other site: {}",
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
        Ok(())
    }

    /// The original server and ports each member had on the target, from the group record.
    async fn original_ports(&self) -> Result<BTreeMap<uuid::Uuid, (String, Vec<String>)>> {
        let members = self
            .engine
            .store()
            .list_members(&self.plan.group_id)
            .await?;
        Ok(members
            .into_iter()
            .filter_map(|m| {
                let standby = m.standby?;
                (standby.site == self.plan.target_site)
                    .then_some((m.id, (standby.instance_id, standby.port_ids)))
            })
            .collect())
    }

    /// Ports for a rebuilt member: its original ports when they all survived the deletion of
    /// its VM unbound (Neutron keeps pre-created ports, with their addresses), new ones
    /// otherwise.
    async fn ports_for_rebuild(
        &self,
        member: &MemberPlan,
        originals: &BTreeMap<uuid::Uuid, (String, Vec<String>)>,
    ) -> Result<()> {
        if let Some((server, ports)) = originals.get(&member.member_id) {
            let mut free = Vec::new();
            for id in ports {
                match self.target.network.get_port(id).await? {
                    Some(p) if p.device_id.is_empty() || &p.device_id == server => free.push(p.id),
                    _ => break,
                }
            }
            if !ports.is_empty() && free.len() == ports.len() && free.len() == member.nics.len() {
                self.journal(
                    &format!("reuse_ports:{}", member.instance_name),
                    JournalKind::Done,
                    json!({"ports": free}),
                )
                .await;
                lock(&self.results)
                    .entry(member.member_id)
                    .or_default()
                    .port_ids = free;
                return Ok(());
            }
        }
        self.create_ports(member).await
    }

    /// Starts the original (stopped) server of `member` on the target.
    async fn start_original(&self, member: &MemberPlan) -> Result<()> {
        let id = member.target_instance_id.clone().unwrap_or_default();
        let compute = self.target.compute.clone();
        let server = compute.get_server(&id).await?.ok_or_else(|| {
            Error::not_found(format!(
                "the original server {id} of member {} disappeared from {}",
                member.instance_name, self.plan.target_site
            ))
        })?;
        if server.status != ServerStatus::Active {
            self.effect(
                &format!("start_server:{}", member.instance_name),
                json!({"server": id}),
                compute.start_server(&id),
            )
            .await?;
            lock(&self.undo).started.push(id.clone());
        }
        lock(&self.results)
            .entry(member.member_id)
            .or_default()
            .server_id = Some(id);
        Ok(())
    }

    /// Removes what the failover built on the DR site (now stopped and copied back) and takes
    /// its volumes out of the reverse protection group. Returns what could not be removed.
    async fn remove_dr_copies(&self, source_array: &Arc<dyn ArrayApi>, pg: &str) -> Vec<String> {
        let mut leftovers = Vec::new();
        let Ok(source) = self.source() else {
            return vec![format!("{} is unreachable", self.plan.source_site)];
        };
        let members = match self.engine.store().list_members(&self.plan.group_id).await {
            Ok(m) => m,
            Err(e) => return vec![e.message().to_string()],
        };
        let super::copies::Copies {
            servers,
            ports,
            volumes,
            array_volumes,
        } = super::copies::copies_on(&members, &self.plan.source_site);
        if let Err(e) = source_array
            .remove_protection_group_volumes(pg, &array_volumes)
            .await
        {
            if e.kind() != ErrorKind::NotFound {
                leftovers.push(format!(
                    "volumes {} in protection group {pg} on {}'s array: {}",
                    array_volumes.join(", "),
                    self.plan.source_site,
                    e.message()
                ));
            }
        }
        leftovers.extend(
            self.remove_site_resources(source, &servers, &ports, &volumes)
                .await,
        );
        self.journal(
            "cleanup_dr_copies",
            JournalKind::Done,
            json!({"servers": servers, "ports": ports, "volumes": volumes, "leftovers": leftovers}),
        )
        .await;
        leftovers
    }
}
