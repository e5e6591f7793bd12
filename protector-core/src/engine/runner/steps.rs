//! The steps a failover and a failback share: stopping the source VMs, waiting for the final
//! snapshot, copying and managing volumes, creating ports and servers, checking they boot.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::future::join_all;
use serde_json::json;

use super::{lock, Made, Run};
use crate::api::{CopyVolume, ListServers, ManageVolume, ServerStatus};
use crate::engine::resources::{
    port_request, server_request, wait_server_booted, wait_stopped, wait_volume_available,
};
use crate::engine::wait::{wait_for, PollOutcome};
use crate::error::{Error, ErrorKind, Result};
use crate::model::OperationType;
use crate::plan::MemberPlan;
use crate::store::JournalKind;

impl Run<'_> {
    /// Waits until pg snapshot `replica` (`source-array:pg.N`) has fully arrived on the target
    /// array.
    /// Waits until snapshot `replica` (`source:pg.N`) has fully arrived on the target array.
    ///
    /// The source VMs are stopped while this runs, so the wait is short: it ends at once when
    /// the target array reports the replication link down, and after
    /// [`crate::engine::wait::final_snapshot_wait`] of the policy's interval otherwise. Either way the
    /// error names the group, the snapshot and the cause, and the operation's rollback
    /// restarts the source VMs.
    pub(in crate::engine) async fn wait_replicated(&self, replica: &str) -> Result<()> {
        let plan = self.plan;
        let interval = self
            .engine
            .store()
            .get_policy(&plan.group_id)
            .await?
            .map_or(0, |p| p.replication_interval_secs);
        let bound = crate::engine::wait::final_snapshot_wait(interval);
        let poll = self.engine.options().poll.for_transfers().at_most(bound);
        let target_array = self.target_array.clone();
        let target_name = plan.target_array.clone().unwrap_or_default();
        let source_name = replica.split_once(':').map_or("", |(s, _)| s).to_string();
        let stalled = format!(
            "replication of snapshot {replica} of protection group '{}' to {}'s FlashArray {target_name} stalled",
            plan.group_name, plan.target_site
        );
        let advice = if lock(&self.op).operation_type == OperationType::Failover {
            "restore the replication link between the arrays and retry, or run an unplanned (forced) failover, which accepts the data at risk"
        } else {
            "restore the replication link between the arrays and retry"
        };
        let last = Mutex::new(String::from("not polled yet"));
        let outcome = wait_for(
            &format!("snapshot {replica} to arrive on {}", plan.target_site),
            &poll,
            || {
                let target_array = target_array.clone();
                let (replica, target_name, source_name) = (replica, &target_name, &source_name);
                let (stalled, last) = (&stalled, &last);
                async move {
                    // The target answers "does not exist" until the transfer starts.
                    let transfers = match target_array.list_pg_snapshot_transfers(replica).await {
                        Ok(t) => t,
                        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
                        Err(e) => {
                            *lock(last) = format!("error: {}", e.message());
                            return Err(e);
                        }
                    };
                    let state = match transfers.into_iter().find(|t| t.name == replica) {
                        Some(t) if t.is_complete() => return Ok(PollOutcome::Ready(())),
                        Some(t) => format!("progress {:.0}%", t.progress * 100.0),
                        None => "not on the target array yet".to_string(),
                    };
                    *lock(last) = state.clone();
                    // A cut link will not deliver it: stop waiting now.
                    if let Some(problem) = crate::engine::report::link_problem(
                        target_array.as_ref(),
                        target_name,
                        source_name,
                    )
                    .await?
                    {
                        return Err(Error::unavailable(format!(
                            "{stalled} ({state}): {problem}; {advice}"
                        ))
                        .with_retry(crate::error::RetryStatus::Permanent));
                    }
                    Ok(PollOutcome::Pending(state))
                }
            },
        )
        .await;
        match outcome {
            Err(e) if e.kind() == ErrorKind::Timeout => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "{stalled}: it had not arrived within {} (the wait allowed by the replication interval of {interval} s; last state: {}); check the replication link and both arrays, then retry",
                    crate::engine::text::human_age(i64::try_from(poll.timeout.as_secs()).unwrap_or(i64::MAX)),
                    lock(&last)
                ),
            )),
            other => other,
        }
    }

    pub(in crate::engine) async fn quiesce(&self) -> Result<()> {
        let compute = self.source()?.compute.clone();
        let poll = self.engine.options().poll.clone();
        // A member planned running is stopped at once (a stop is idempotent: one that finds
        // the server already off succeeds). Only the others are looked at first, from one
        // listing of the project (not a read per member; one the listing lacks, or all after
        // a failed listing, read on their own), so that a VM the operator had stopped is
        // neither stopped again nor started by a rollback.
        let planned_running = |member: &MemberPlan| {
            member
                .source_status
                .as_deref()
                .is_some_and(|s| s != "SHUTOFF")
        };
        let listed: BTreeMap<String, ServerStatus> =
            if self.plan.members.iter().all(planned_running) {
                BTreeMap::new()
            } else {
                match compute.list_servers(&ListServers::default()).await {
                    Ok(servers) => servers.into_iter().map(|s| (s.id, s.status)).collect(),
                    Err(e) if e.is_retryable() => BTreeMap::new(),
                    Err(e) => return Err(e),
                }
            };
        let listed = &listed;
        self.for_members(|member| {
            let compute = compute.clone();
            let poll = poll.clone();
            async move {
                let id = member.source_instance_id.clone();
                let gone = || {
                    Error::not_found(format!(
                        "server {id} of member {} disappeared from {}",
                        member.instance_name, self.plan.source_site
                    ))
                };
                let running = match (planned_running(member), listed.get(&id)) {
                    (true, _) => true,
                    (false, Some(status)) => *status != ServerStatus::Shutoff,
                    (false, None) => {
                        compute.get_server(&id).await?.ok_or_else(gone)?.status
                            != ServerStatus::Shutoff
                    }
                };
                if running {
                    self.effect(
                        &format!("stop_server:{}", member.instance_name),
                        json!({"server": id}),
                        compute.stop_server(&id),
                    )
                    .await
                    .map_err(|e| match e.kind() {
                        ErrorKind::NotFound => gone(),
                        _ => e,
                    })?;
                    lock(&self.undo).stopped.push(id.clone());
                }
                wait_stopped(
                    &compute,
                    &id,
                    &format!(
                        "server {} on {}",
                        member.instance_name, self.plan.source_site
                    ),
                    &poll,
                )
                .await
            }
        })
        .await
    }

    pub(in crate::engine) async fn copy_volumes(
        &self,
        member: &MemberPlan,
        sources: &BTreeMap<String, String>,
    ) -> Result<()> {
        // A member's volumes are copied at once: nothing orders them.
        let copies = member.volumes.iter().map(|volume| async move {
            let source = sources[&volume.copy_name].clone();
            let step = format!("copy_volume:{}", volume.copy_name);
            // Resumed: made already, or already managed into Cinder (which renamed it).
            let managed = format!("manage_volume:{}", volume.copy_name);
            if self.made_before(Made::Volume, &managed).is_some()
                || self.adopted(Made::Copy, &step).await.is_some()
            {
                lock(&self.undo).copies.push(volume.copy_name.clone());
                return Ok(());
            }
            let request = CopyVolume {
                name: volume.copy_name.clone(),
                source: source.clone(),
                overwrite: false,
            };
            self.effect(
                &step,
                json!({"source": source, "name": volume.copy_name}),
                self.target_array.copy_volume(&request),
            )
            .await?;
            lock(&self.undo).copies.push(volume.copy_name.clone());
            Ok::<(), Error>(())
        });
        join_all(copies).await.into_iter().collect()
    }

    pub(in crate::engine) async fn manage_volumes(&self, member: &MemberPlan) -> Result<()> {
        let host = self.plan.manage_host.clone().ok_or_else(|| {
            Error::invalid(format!(
                "no cinder-volume host to manage into on {}",
                self.plan.target_site
            ))
        })?;
        let op_id = self.op_id();
        // A member's volumes are managed and awaited at once: nothing orders them.
        let managed = member.volumes.iter().map(|volume| {
            let host = host.clone();
            async move {
                let step = format!("manage_volume:{}", volume.copy_name);
                let mut metadata = BTreeMap::new();
                metadata.insert("protector:operation".to_string(), op_id.to_string());
                metadata.insert("protector:step".to_string(), format!("{op_id}:{step}"));
                metadata.insert(
                    "protector:source_volume".to_string(),
                    volume.source_volume_id.clone(),
                );
                let request = ManageVolume {
                    host,
                    source_name: volume.copy_name.clone(),
                    name: volume.name.clone(),
                    volume_type: self.plan.target_volume_type.clone(),
                    bootable: volume.bootable,
                    description: format!(
                        "Imported by protector failover {op_id} from volume {} on {}",
                        volume.source_volume_id, self.plan.source_site
                    ),
                    metadata,
                };
                let id = match self.adopted(Made::Volume, &step).await {
                    Some(id) => id,
                    None => {
                        self.effect(
                            &step,
                            json!({"source_name": volume.copy_name}),
                            self.target.block_storage.manage_volume(&request),
                        )
                        .await
                        .map_err(|e| {
                            e.with_prefix(format!(
                                "Failed to manage volume {} on {}",
                                volume.copy_name, self.plan.target_site
                            ))
                        })?
                        .id
                    }
                };
                lock(&self.undo).volumes.push(id.clone());
                let storage = self.target.block_storage.clone();
                let ready = wait_volume_available(
                    &storage,
                    &id,
                    &format!("volume {} on {}", volume.name, self.plan.target_site),
                    &self.engine.options().poll,
                )
                .await?;
                lock(&self.undo).copies.retain(|c| c != &volume.copy_name);
                let array_volume = ready
                    .array_volume
                    .clone()
                    .unwrap_or_else(|| format!("volume-{}-cinder", ready.id));
                Ok::<_, Error>((ready.id, array_volume))
            }
        });
        let (volume_ids, array_volumes): (Vec<String>, Vec<String>) = join_all(managed)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let mut results = lock(&self.results);
        let entry = results.entry(member.member_id).or_default();
        entry.volume_ids = volume_ids;
        entry.array_volumes = array_volumes;
        Ok(())
    }

    pub(in crate::engine) async fn create_ports(&self, member: &MemberPlan) -> Result<()> {
        let op_id = self.op_id();
        // A member's ports are created at once: nothing orders them.
        let ports = member.nics.iter().enumerate().map(|(i, nic)| async move {
            let step = format!("create_port:{}:{i}", member.instance_name);
            let request = port_request(
                member,
                nic,
                format!("{}-port-{i}", member.instance_name),
                format!("protector:{op_id}:{step}"),
                &self.plan.target_site,
            )?;
            let port = match self.adopted(Made::Port, &step).await {
                Some(id) => id,
                None => {
                    self.effect(
                        &step,
                        json!({"network": request.network_id}),
                        self.target.network.create_port(&request),
                    )
                    .await
                    .map_err(|e| {
                        e.with_prefix(format!(
                            "creating a port for {} on {}",
                            member.instance_name, self.plan.target_site
                        ))
                    })?
                    .id
                }
            };
            lock(&self.undo).ports.push(port.clone());
            Ok::<_, Error>(port)
        });
        let port_ids = join_all(ports)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        lock(&self.results)
            .entry(member.member_id)
            .or_default()
            .port_ids = port_ids;
        Ok(())
    }

    pub(in crate::engine) async fn create_server(&self, member: &MemberPlan) -> Result<()> {
        let op_id = self.op_id();
        let (volume_ids, port_ids) = {
            let results = lock(&self.results);
            let r = results.get(&member.member_id).cloned().unwrap_or_default();
            (r.volume_ids, r.port_ids)
        };
        let step = format!("create_server:{}", member.instance_name);
        let mut metadata = BTreeMap::new();
        metadata.insert("protector:operation".to_string(), op_id.to_string());
        metadata.insert("protector:member".to_string(), member.member_id.to_string());
        metadata.insert("protector:step".to_string(), format!("{op_id}:{step}"));
        metadata.insert(
            "protector:source_instance".to_string(),
            member.source_instance_id.clone(),
        );
        let request = server_request(
            member,
            &member.instance_name,
            &volume_ids,
            port_ids,
            metadata,
            &self.plan.target_site,
        )?;
        let server = match self.adopted(Made::Server, &step).await {
            Some(id) => id,
            None => {
                self.effect(
                    &step,
                    json!({"name": request.name}),
                    self.target.compute.create_server(&request),
                )
                .await
                .map_err(|e| {
                    e.with_prefix(format!(
                        "Failed to create instance '{}' on {}",
                        member.instance_name, self.plan.target_site
                    ))
                })?
                .id
            }
        };
        lock(&self.undo).servers.push(server.clone());
        lock(&self.results)
            .entry(member.member_id)
            .or_default()
            .server_id = Some(server);
        Ok(())
    }

    pub(in crate::engine) async fn verify_server(&self, member: &MemberPlan) -> Result<()> {
        let id = lock(&self.results)
            .get(&member.member_id)
            .and_then(|r| r.server_id.clone())
            .unwrap_or_default();
        let server = wait_server_booted(
            &self.target.compute,
            &id,
            &format!(
                "instance {} on {}",
                member.instance_name, self.plan.target_site
            ),
            &self.engine.options().poll,
        )
        .await?;
        if server.status == ServerStatus::Error {
            let fault = server.fault.unwrap_or_else(|| "no fault recorded".into());
            self.journal(
                &format!("verify_server:{}", member.instance_name),
                JournalKind::Failed,
                json!({"fault": fault}),
            )
            .await;
            lock(&self.results)
                .entry(member.member_id)
                .or_default()
                .error = Some(format!(
                "instance went to ERROR on {}: {fault}",
                self.plan.target_site
            ));
        } else {
            self.after_boot(member).await;
        }
        Ok(())
    }
}
