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
//!
//! `plan` builds the plan and `execute` runs its phases.

mod execute;
mod plan;

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::progress::ProgressObserver;
use super::resources::stop_server_and_wait;
use super::runner::{Resumed, Run, Undo};
use super::sync::PeerPolicy;
use super::Protector;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{
    GroupStatus, Operation, OperationStatus, OperationType, ProtectionGroup, ResourceMappings,
};
use crate::plan::Plan;

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

impl Protector {
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
        self.run_failback(&plan, request.reverse_replication, observer, None)
            .await
    }

    /// Runs failback `plan` (its lock held by the caller): afresh, or continuing the run of
    /// the same operation that `resumed` observed (recovery; its record is `op`).
    pub(in crate::engine) async fn run_failback(
        &self,
        plan: &Plan,
        reverse_replication: bool,
        observer: &dyn ProgressObserver,
        resumed: Option<(Operation, Resumed, GroupStatus)>,
    ) -> Result<Operation> {
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
        let (op, resumed, previous_status) = match resumed {
            Some((mut op, resumed, previous)) => {
                op.status = OperationStatus::Running;
                (op, Some(resumed), previous)
            }
            None => {
                let mut op = Operation::start(
                    OperationType::Failback,
                    Some((&group.id, &group.name)),
                    &plan.source_site,
                    &plan.target_site,
                    Utc::now(),
                );
                op.id = plan.id;
                op.estimate = plan.estimate.clone();
                (op, None, group.status)
            }
        };
        let run = Run {
            engine: self,
            plan,
            op: Mutex::new(op),
            observer,
            source: Some(source),
            target,
            source_array: Some(source_array),
            target_array,
            undo: Mutex::new(Undo::default()),
            results: Mutex::new(BTreeMap::new()),
            previous_status,
            resumed,
            unwritten: Mutex::default(),
        };
        run.save().await?;
        run.record_plan(reverse_replication).await;
        run.inherit_undo();
        let outcome = run.execute_failback(reverse_replication, &policy).await;
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
