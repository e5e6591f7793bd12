//! The copies of a group's workload on one site, as sets: what its members use there (current
//! and standby placements), what a failed operation left there (found by its journal and its
//! tags, since an answer may have been lost after a create took effect), and removing them.
//! Shared by the rollback of a run, the cleanup of earlier failed runs before a new one, and
//! the recovery of an operation whose process ended.

use std::collections::BTreeSet;
use std::sync::Arc;

use uuid::Uuid;

use super::resources::remove_resources;
use super::Protector;
use crate::api::{ArrayApi, ListPorts, ListServers, ListVolumes, SiteClients};
use crate::error::{Error, Result};
use crate::model::{MemberStatus, Operation, OperationStatus, OperationType};
use crate::store::{GroupDocument, JournalEntry, JournalKind, OperationQuery};

/// Moves the members that ran on `source` back to their standby placement on `target`
/// (the end of a failback).
pub(super) fn settle_failback(document: &mut GroupDocument, source: &str, target: &str) {
    for member in &mut document.members {
        if member.current.site == source
            && member.standby.as_ref().is_some_and(|s| s.site == target)
        {
            if let Some(standby) = member.standby.take() {
                member.current = standby;
            }
        }
        member.status = MemberStatus::Protected;
        member.error_message = None;
    }
}

/// What the members running on one site have there, or what an operation left on one site.
#[derive(Debug, Default)]
pub(super) struct Copies {
    pub(super) servers: Vec<String>,
    pub(super) ports: Vec<String>,
    pub(super) volumes: Vec<String>,
    pub(super) array_volumes: Vec<String>,
}

/// The servers, ports, Cinder volumes and array volumes of the members running on `site`.
pub(super) fn copies_on(members: &[crate::model::Member], site: &str) -> Copies {
    let mut copies = Copies {
        servers: Vec::new(),
        ports: Vec::new(),
        volumes: Vec::new(),
        array_volumes: Vec::new(),
    };
    for placement in members
        .iter()
        .map(|m| &m.current)
        .filter(|p| p.site == site)
    {
        copies.servers.push(placement.instance_id.clone());
        copies.ports.extend(placement.port_ids.iter().cloned());
        copies.volumes.extend(placement.volume_ids.iter().cloned());
        copies
            .array_volumes
            .extend(placement.array_volumes.iter().cloned());
    }
    copies
}

/// Metadata key naming the operation that created a server or Cinder volume.
const OPERATION_TAG: &str = "protector:operation";

/// Every server, port, Cinder volume and array volume the members of a group use on any site
/// (current and standby placements): never removed as something an operation left, whatever
/// its tags say.
pub(super) fn in_use(members: &[crate::model::Member]) -> BTreeSet<String> {
    members
        .iter()
        .flat_map(|m| std::iter::once(&m.current).chain(m.standby.as_ref()))
        .flat_map(|p| {
            std::iter::once(&p.instance_id)
                .chain(&p.volume_ids)
                .chain(&p.array_volumes)
                .chain(&p.port_ids)
        })
        .filter(|id| !id.is_empty())
        .cloned()
        .collect()
}

/// The array volumes an operation's journal says it copied (`copy_volume:<name>` intents,
/// written before each copy is asked for, so a copy whose answer was lost is named too).
pub(super) fn copies_of(journal: &[JournalEntry]) -> Vec<String> {
    let mut out: Vec<String> = journal
        .iter()
        .filter(|e| e.kind == JournalKind::Intent)
        .filter_map(|e| e.step.strip_prefix("copy_volume:"))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What operation `op_id` created on the site of `clients`, found by its tags rather than by
/// the answers it got (an answer may have been lost after the create took effect): servers and
/// Cinder volumes by their `protector:operation` metadata, ports by their
/// `protector:<op>:<step>` description, and those of the array volumes `copy_names` that still
/// exist on `array` (a managed copy is renamed, and removed with its Cinder volume; without
/// `array` none). Nothing in `keep` is returned.
pub(super) async fn tagged_on(
    clients: &SiteClients,
    array: Option<&Arc<dyn ArrayApi>>,
    op_id: Uuid,
    copy_names: &[String],
    keep: &BTreeSet<String>,
) -> Result<Copies> {
    let tag = (OPERATION_TAG.to_string(), op_id.to_string());
    let wanted = |id: &String| !keep.contains(id);
    let servers = clients
        .compute
        .list_servers(&ListServers {
            name: None,
            metadata: Some(tag.clone()),
        })
        .await?
        .into_iter()
        .filter(|s| s.metadata.get(OPERATION_TAG) == Some(&tag.1))
        .map(|s| s.id)
        .filter(wanted)
        .collect();
    let prefix = format!("protector:{op_id}:");
    let ports = clients
        .network
        .list_ports(&ListPorts::default())
        .await?
        .into_iter()
        .filter(|p| p.description.starts_with(&prefix))
        .map(|p| p.id)
        .filter(wanted)
        .collect();
    let volumes = clients
        .block_storage
        .list_volumes(&ListVolumes {
            name: None,
            metadata: Some(tag.clone()),
        })
        .await?
        .into_iter()
        .filter(|v| v.metadata.get(OPERATION_TAG) == Some(&tag.1))
        .map(|v| v.id)
        .filter(wanted)
        .collect();
    let mut array_volumes = Vec::new();
    if let Some(array) = array {
        for name in copy_names.iter().filter(|n| wanted(n)) {
            if array.get_volume(name).await?.is_some() {
                array_volumes.push(name.clone());
            }
        }
    }
    Ok(Copies {
        servers,
        ports,
        volumes,
        array_volumes,
    })
}

/// Removes `copies` from the site of `clients` and from `array`: servers (waiting until gone),
/// ports, Cinder volumes, then array volumes (a destroyed one is eradicated). Missing ones
/// count as removed. Returns what could not be removed.
pub(super) async fn remove_copies(
    clients: &SiteClients,
    array: Option<&Arc<dyn ArrayApi>>,
    copies: &Copies,
    poll: &super::wait::PollPolicy,
) -> Vec<String> {
    let mut leftovers = remove_resources(
        clients,
        &copies.servers,
        &copies.ports,
        &copies.volumes,
        poll,
    )
    .await;
    let removed = futures::future::join_all(copies.array_volumes.iter().map(|name| async move {
        let removed = async {
            let array = array.ok_or_else(|| {
                Error::unavailable(format!("the FlashArray of {} is unknown", clients.site))
            })?;
            match array.get_volume(name).await? {
                None => Ok(()),
                Some(v) if v.destroyed => array.eradicate_volume(name).await,
                Some(_) => super::resources::remove_array_volume(array, name).await,
            }
        }
        .await;
        (name, removed)
    }))
    .await;
    leftovers.extend(removed.into_iter().filter_map(|(name, r)| {
        r.err()
            .map(|e| format!("array volume {name} on {}: {}", clients.site, e.message()))
    }));
    leftovers
}

impl Copies {
    /// Adds what `other` lists and `self` does not.
    pub(super) fn merge(&mut self, other: Copies) {
        fn add(to: &mut Vec<String>, from: Vec<String>) {
            for id in from {
                if !to.contains(&id) {
                    to.push(id);
                }
            }
        }
        add(&mut self.servers, other.servers);
        add(&mut self.ports, other.ports);
        add(&mut self.volumes, other.volumes);
        add(&mut self.array_volumes, other.array_volumes);
    }

    /// How many resources it lists.
    pub(super) fn len(&self) -> usize {
        self.servers.len() + self.ports.len() + self.volumes.len() + self.array_volumes.len()
    }
}

impl Protector {
    /// The FlashArray of `group` on `site`, from its policy.
    pub(super) async fn group_array(
        &self,
        group: &crate::model::ProtectionGroup,
        site: &str,
    ) -> Result<Arc<dyn ArrayApi>> {
        let policy = self.store().get_policy(&group.id).await?.ok_or_else(|| {
            Error::invalid(format!(
                "protection group '{}' has no replication policy",
                group.name
            ))
        })?;
        self.inner
            .connector
            .array(policy.array_on(group, site))
            .await
    }

    /// The failed failovers and failbacks of group `group_id` towards `site` that may have
    /// left something there: finished, and owning neither the group's placement nor its lock.
    pub(super) async fn failed_towards(
        &self,
        group: &crate::model::ProtectionGroup,
        site: &str,
    ) -> Result<Vec<Operation>> {
        let query = OperationQuery::of_group(group.id)
            .of_types(&[OperationType::Failover, OperationType::Failback])
            .in_statuses(&[OperationStatus::Failed])
            .into_site(site);
        Ok(self
            .store()
            .query_operations(&query)
            .await?
            .into_iter()
            .filter(|op| {
                group.last_operation_id != Some(op.id) && group.active_operation_id != Some(op.id)
            })
            .collect())
    }

    /// Removes from `target` (the site of `clients`, array `array`) what the failed operations
    /// `ops` left there: every resource tagged with one of them that no member of the group
    /// uses (current and standby placements are kept whatever their tags say). Returns what
    /// was removed and what could not be.
    pub(super) async fn remove_left_by(
        &self,
        group_id: &Uuid,
        ops: &[Operation],
        target: &SiteClients,
        array: Option<&Arc<dyn ArrayApi>>,
    ) -> Result<(usize, Vec<String>)> {
        let keep = in_use(&self.store().list_members(group_id).await?);
        let mut found = Copies::default();
        for op in ops {
            let journal = self.store().list_journal(&op.id).await?;
            found.merge(tagged_on(target, array, op.id, &copies_of(&journal), &keep).await?);
        }
        let leftovers = remove_copies(target, array, &found, &self.options().poll).await;
        Ok((found.len(), leftovers))
    }

    /// Removes from `target` what earlier failed failovers and failbacks of `group` left there
    /// (creates whose answer was lost, rollbacks that could not reach the site), before an
    /// operation with id `current` creates anything there. Returns what was removed and what
    /// could not be.
    pub(super) async fn remove_earlier_leftovers(
        &self,
        group: &crate::model::ProtectionGroup,
        current: Uuid,
        target: &SiteClients,
        array: &Arc<dyn ArrayApi>,
    ) -> Result<(usize, Vec<String>)> {
        let ops: Vec<Operation> = self
            .failed_towards(group, &target.site)
            .await?
            .into_iter()
            .filter(|op| op.id != current)
            .collect();
        if ops.is_empty() {
            return Ok((0, Vec::new()));
        }
        self.remove_left_by(&group.id, &ops, target, Some(array))
            .await
    }
}
