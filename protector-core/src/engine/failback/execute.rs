//! Executing a failback plan (the phases in the module documentation of `failback`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::api::{ArrayApi, CopyVolume, CreatePgSnapshot, ServerStatus};
use crate::engine::resources::{ensure_replicating, stop_server_and_wait};
use crate::engine::runner::{lock, ChainSteps, Run};
use crate::engine::sync::PeerPolicy;
use crate::engine::Protector;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{GroupEvent, HookPoint, Placement, ReplicationPolicy, ReplicationType};
use crate::plan::MemberPlan;
use crate::store::{JournalKind, RemoteSyncStatus};

use crate::engine::planner::site_token;

use super::fenced_servers;

impl Run<'_> {
    fn source_array(&self) -> Result<&Arc<dyn ArrayApi>> {
        self.source_array.as_ref().ok_or_else(|| {
            Error::unavailable(format!(
                "the FlashArray of {} is unreachable",
                self.plan.source_site
            ))
        })
    }

    pub(super) async fn execute_failback(
        &self,
        reverse_replication: bool,
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
        self.hooks_at(HookPoint::PrePreparation).await?;
        self.step_started("validate_sites").await?;
        // Both sites at once; the target's answer is reported first.
        let reach = |site: String| async move {
            self.engine.ensure_reachable(&site).await.map_err(|e| {
                Error::unavailable(format!(
                    "Cannot initiate failback - remote site '{site}' is unreachable ({}). Modifications to a Protection Group require both sites to be reachable.",
                    e.message()
                ))
            })
        };
        let (target, source) = futures::join!(
            Box::pin(reach(plan.target_site.clone())),
            Box::pin(reach(plan.source_site.clone()))
        );
        target?;
        source?;
        self.step_done("validate_sites").await?;

        self.step_started("create_dr_record").await?;
        let group = self.engine.group_by_id(&plan.group_id).await?;
        Protector::ensure_not_claimed(&group, self.op_id())?;
        if !self.claimed_before(&group) {
            let mut document = self.engine.document(group).await?;
            document.group.apply(GroupEvent::FailbackStarted)?;
            document.group.active_operation_id = Some(self.op_id());
            self.engine
                .commit(document, "failback-start", PeerPolicy::Required)
                .await?;
        }
        self.step_done("create_dr_record").await?;
        self.clear_earlier_leftovers().await;

        if plan.steps.iter().any(|s| s.name == "fence_old_vms") {
            self.step_started("fence_old_vms").await?;
            let group = self.engine.group_by_id(&plan.group_id).await?;
            let document = self.engine.document(group).await?;
            let fenced = fenced_servers(&document.members, &plan.target_site);
            futures::future::join_all(fenced.iter().map(|id| async move {
                self.effect(
                    &format!("fence:{id}"),
                    json!({"server": id, "site": plan.target_site}),
                    stop_server_and_wait(&self.target.compute, id, &self.engine.options().poll),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "the old VM {id} on {} could not be confirmed stopped",
                        plan.target_site
                    ))
                })
            }))
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
            self.step_done("fence_old_vms").await?;
        }

        self.hooks_at(HookPoint::PostPreparation).await?;

        // Storage.
        self.hooks_at(HookPoint::PreStorage).await?;
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
                None,
            ),
        )
        .await?;
        self.step_done("prepare_reverse_replication").await?;

        self.step_started("final_snapshot").await?;
        // Resumed: the snapshot the interrupted run took (the DR VMs were stopped before it),
        // else a new one (they are stopped now: it holds every write).
        let taken = self
            .output_before("final_snapshot")
            .and_then(|o| o.get("name").and_then(|n| n.as_str()).map(str::to_string));
        let snap = match taken {
            Some(name) => name,
            None => {
                self.effect(
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
                .await?
                .name
            }
        };
        self.step_done("final_snapshot").await?;

        self.step_started("replicate_snapshot").await?;
        let replica = format!("{source_name}:{snap}");
        self.wait_replicated(&replica).await?;
        self.step_done("replicate_snapshot").await?;

        self.step_started("promote_storage_primary").await?;
        let snapshots = self.target_array.list_volume_snapshots(&replica).await?;
        let mut sources = BTreeMap::new();
        let mut promotions = Vec::new();
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
                if self.completed_before("promote_storage_primary") {
                    // The interrupted run overwrote them and may have started the original
                    // VMs since: overwriting again would lose what they wrote.
                    continue;
                }
                promotions.push(CopyVolume {
                    name: volume.copy_name.clone(),
                    source: found.name.clone(),
                    overwrite: true,
                });
            }
        }
        // Every original volume overwritten at once (independent array calls); all run, the
        // first error wins.
        futures::future::join_all(promotions.iter().map(|request| async move {
            self.effect(
                &format!("promote_volume:{}", request.name),
                json!({"source": request.source, "name": request.name}),
                self.target_array.copy_volume(request),
            )
            .await
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        self.step_done("promote_storage_primary").await?;
        self.hooks_at(HookPoint::PostStorage).await?;
        self.hooks_at(HookPoint::PreInstances).await?;

        // Members whose original VM is gone are built again, as a failover builds them.
        let rebuilt = |m: &MemberPlan| m.target_instance_id.is_none();
        let start = format!("start_instances_{target_token}");
        if plan.members.iter().any(rebuilt) {
            // Each rebuilt member's chain goes as soon as its own inputs are ready, original
            // members start at once (wave by wave, runner::chains). The storage hooks ran
            // already (after the promotion): no hook needs a barrier here.
            let originals = self.original_ports().await?;
            let steps = ChainSteps {
                create_volumes: format!("create_volumes_{target_token}"),
                manage_volumes: format!("manage_volumes_{target_token}"),
                create_ports: format!("create_ports_{target_token}"),
                instances: format!("create_instances_{target_token}"),
            };
            Box::pin(self.member_chains(
                &steps,
                rebuilt,
                &sources,
                |m| self.ports_for_rebuild(m, &originals),
                |m| self.boot_member(m),
            ))
            .await?;
            self.step_started(&start).await?;
            self.step_done(&start).await?;
        } else {
            Box::pin(self.barrier_phases(&sources, &start)).await?;
        }

        self.step_started("verify_instances").await?;
        // Every server, started or rebuilt, must reach ACTIVE (each wave was verified); one in
        // ERROR fails the failback (and the rollback stops what started and restarts the DR
        // copies).
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
        // The workload runs on the original primary: the recovery time ends here; the cleanup
        // and the reverse replication (re-protection) follow.
        self.mark_recovered().await?;
        self.hooks_at(HookPoint::PostInstances).await?;

        // Finalization: from here on the workload runs on the original primary.
        self.hooks_at(HookPoint::PreFinalization).await?;
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

        if reverse_replication {
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
                    Some(policy.replication_interval_secs),
                )
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
        // Back on the original volumes: no longer on a recovery point.
        document.group.recovery_point = None;
        document.group.active_operation_id = None;
        document.group.last_operation_id = Some(self.op_id());
        crate::engine::copies::settle_failback(&mut document, &plan.source_site, &plan.target_site);
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
        self.hooks_at(HookPoint::PostFinalization).await
    }

    /// The instance phases when no member is rebuilt: the boot waves in `start`. (With
    /// rebuilt members, their volumes, ports, then the boot waves in `create_instances_*`:
    /// the phases with barriers.)
    async fn barrier_phases(&self, sources: &BTreeMap<String, String>, start: &str) -> Result<()> {
        let plan = self.plan;
        let target_token = crate::engine::planner::site_token(&plan.target_site);
        let rebuilt = |m: &MemberPlan| m.target_instance_id.is_none();
        if plan.members.iter().any(rebuilt) {
            let step = format!("create_volumes_{target_token}");
            self.step_started(&step).await?;
            self.for_members_where(rebuilt, |m| self.copy_volumes(m, sources))
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
        }

        // Instances, wave by wave (boot order): rebuilt members are created and original ones
        // started, each wave verified ACTIVE before the next. The waves run inside the first
        // instance step (`create_instances_*` when some member is rebuilt).
        if plan.members.iter().any(rebuilt) {
            let step = format!("create_instances_{target_token}");
            self.step_started(&step).await?;
            self.boot_waves(|m| self.boot_member(m)).await?;
            self.step_done(&step).await?;
            self.step_started(start).await?;
        } else {
            self.step_started(start).await?;
            self.boot_waves(|m| self.boot_member(m)).await?;
        }
        self.step_done(start).await
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

    /// Boots `member` on the target: builds its VM again, or starts the original one.
    async fn boot_member(&self, member: &MemberPlan) -> Result<()> {
        if member.target_instance_id.is_none() {
            self.create_server(member).await
        } else {
            self.start_original(member).await
        }
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
        let crate::engine::copies::Copies {
            servers,
            ports,
            volumes,
            array_volumes,
        } = crate::engine::copies::copies_on(&members, &self.plan.source_site);
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
