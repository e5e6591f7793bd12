//! The members of a protection group: adding a VM (its recovery metadata captured), removing
//! one, listing them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::order::MemberOrder;
use crate::api::{ListPorts, SiteClients};
use crate::engine::access::Caller;
use crate::engine::sync::PeerPolicy;
use crate::engine::Protector;
use crate::error::{Error, ErrorKind, Hint, Result};
use crate::model::{
    FixedIp, FlavorRef, Member, MemberStatus, NicSpec, Placement, ProtectionGroup,
    RecoveryMetadata, ReplicationType, SecurityGroupRef, VolumeSpec, DEFAULT_PRIORITY,
};

/// Add a VM to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddMember {
    /// Nova instance id on the group's current primary site.
    pub instance_id: String,
}

impl Protector {
    /// Adds a VM: discovers its volumes, checks their type and backend, captures the recovery
    /// metadata, adds the volumes to the consistency group, and syncs.
    pub async fn add_member(&self, group: &str, request: AddMember) -> Result<Member> {
        self.add_member_ordered(group, request, MemberOrder::default())
            .await
    }

    /// [`Protector::add_member`] with the member's place in the boot order (priority 3 and
    /// no dependencies when not given). An order the group cannot boot in is refused
    /// (`InvalidInput`) before anything changes.
    pub async fn add_member_ordered(
        &self,
        group: &str,
        request: AddMember,
        order: MemberOrder,
    ) -> Result<Member> {
        let group = self.group(group).await?;
        Self::refuse_in_flight(&group, "modify")?;
        self.ensure_peer_in_sync(&group).await?;
        let mut document = self.document(group.clone()).await?;
        let caller = self.caller().await?;
        if let Some(refusal) = self
            .memberships(&caller)
            .await?
            .remove(&request.instance_id)
        {
            return Err(refusal);
        }
        let site = group.current_primary_site.clone();
        let clients = self.ensure_reachable(&site).await?;
        let (recovery, placement, backend) =
            eligible_member(&clients, &group, &request.instance_id).await?;
        let mut member = Member {
            id: Uuid::new_v4(),
            group_id: group.id,
            instance_id: request.instance_id.clone(),
            instance_name: recovery_name(&clients, &request.instance_id).await?,
            status: MemberStatus::Protected,
            error_message: None,
            recovery,
            current: placement,
            standby: None,
            priority: DEFAULT_PRIORITY,
            depends_on: Vec::new(),
        };
        let mut ordered = document.members.clone();
        ordered.push(member.clone());
        let index = ordered.len() - 1;
        super::order::apply_order(&group.name, &mut ordered, index, &order)?;
        member = ordered.pop().expect("the new member was pushed");
        let placement = member.current.clone();
        let cg_id = group.cinder_group_on(&site);
        if let Some(cg) = &cg_id {
            clients
                .block_storage
                .update_volume_group(cg, &placement.volume_ids, &[])
                .await
                .map_err(|e| e.with_prefix("adding the volumes to the consistency group"))?;
        }
        if let Some(policy) = &document.policy {
            if group.replication_type == ReplicationType::Async {
                let array = self
                    .inner
                    .connector
                    .array(policy.array_on(&group, &site))
                    .await?;
                if let Err(e) = array
                    .add_protection_group_volumes(&policy.pure_pg_name, &placement.array_volumes)
                    .await
                {
                    if let Some(cg) = &cg_id {
                        let _ = clients
                            .block_storage
                            .update_volume_group(cg, &[], &placement.volume_ids)
                            .await;
                    }
                    return Err(
                        e.with_prefix("adding the volumes to the FlashArray protection group")
                    );
                }
            }
        }
        if document.group.consistency_group.backend_name.is_none() {
            document.group.consistency_group.backend_name = backend;
        }
        document.members.push(member.clone());
        if let Err(e) = self
            .commit(document, "member-add", PeerPolicy::Required)
            .await
        {
            if let Some(cg) = &cg_id {
                let _ = clients
                    .block_storage
                    .update_volume_group(cg, &[], &member.current.volume_ids)
                    .await;
            }
            return Err(e);
        }
        Ok(member)
    }

    /// Removes a member: its volumes leave the consistency group; the VM is untouched.
    pub async fn remove_member(&self, group: &str, member_id: &str) -> Result<Member> {
        let group = self.group(group).await?;
        Self::refuse_in_flight(&group, "modify")?;
        self.ensure_peer_in_sync(&group).await?;
        let mut document = self.document(group.clone()).await?;
        let position = document
            .members
            .iter()
            .position(|m| answers_to(m, member_id))
            .ok_or_else(|| member_not_found(member_id, &group.name))?;
        super::order::refuse_depended_on(&group.name, &document.members, position)?;
        let member = document.members.remove(position);
        let clients = self.ensure_reachable(&member.current.site).await?;
        let cg_id = group.cinder_group_on(&member.current.site);
        if let Some(cg) = &cg_id {
            clients
                .block_storage
                .update_volume_group(cg, &[], &member.current.volume_ids)
                .await?;
        }
        if let Some(policy) = &document.policy {
            if group.replication_type == ReplicationType::Async {
                let array = self
                    .inner
                    .connector
                    .array(policy.array_on(&group, &member.current.site))
                    .await?;
                array
                    .remove_protection_group_volumes(
                        &policy.pure_pg_name,
                        &member.current.array_volumes,
                    )
                    .await?;
            }
        }
        self.commit(document, "member-remove", PeerPolicy::Required)
            .await?;
        Ok(member)
    }

    /// Members of a group.
    pub async fn members(&self, group: &str) -> Result<Vec<Member>> {
        let group = self.group(group).await?;
        self.store().list_members(&group.id).await
    }

    /// One member of a group, by member id, original instance id or the instance id it runs
    /// as now (`member-show`).
    pub async fn member(&self, group: &str, member: &str) -> Result<Member> {
        let group = self.group(group).await?;
        self.store()
            .list_members(&group.id)
            .await?
            .into_iter()
            .find(|m| answers_to(m, member))
            .ok_or_else(|| member_not_found(member, &group.name))
    }
}

impl Protector {
    /// Every instance that is a member of a protection group (by its original and its
    /// current instance id), with the refusal `add_member` gives for it. Another project's
    /// group is not named.
    pub(super) async fn memberships(&self, caller: &Caller) -> Result<BTreeMap<String, Error>> {
        let mut taken = BTreeMap::new();
        for g in self.store().list_groups().await? {
            for m in self.store().list_members(&g.id).await? {
                for instance in [&m.instance_id, &m.current.instance_id] {
                    let message = if caller.sees(&g) {
                        format!(
                            "instance {instance} ({}) is already a member of protection group '{}'",
                            m.instance_name, g.name
                        )
                    } else {
                        format!(
                            "instance {instance} is already a member of another protection group"
                        )
                    };
                    taken.insert(
                        instance.clone(),
                        Error::new(ErrorKind::AlreadyExists, message),
                    );
                }
            }
        }
        Ok(taken)
    }
}

/// Whether the instance can join `group` from `clients`' site: its recovery metadata
/// (read-only), refused when its volumes cannot be replicated with the group's.
pub(super) async fn eligible_member(
    clients: &SiteClients,
    group: &ProtectionGroup,
    instance_id: &str,
) -> Result<(RecoveryMetadata, Placement, Option<String>)> {
    let (recovery, placement, backend) = capture_member(clients, group, instance_id).await?;
    if let (Some(expected), Some(found)) = (&group.consistency_group.backend_name, &backend) {
        if found != expected {
            return Err(Error::invalid(format!(
                "instance {instance_id} has volumes on backend '{found}', but protection group '{}' uses '{expected}': all volumes of a consistency group must share one backend",
                group.name
            )));
        }
    }
    Ok((recovery, placement, backend))
}

/// Whether `reference` names `member`: its id, its original instance id, or the instance id it
/// runs as now.
pub(super) fn answers_to(member: &Member, reference: &str) -> bool {
    member.id.to_string() == reference
        || member.instance_id == reference
        || member.current.instance_id == reference
}

pub(super) fn member_not_found(reference: &str, group: &str) -> Error {
    Error::not_found(format!(
        "member '{reference}' not found in protection group '{group}'"
    ))
    .with_hint(Hint::ListMembers {
        group: group.to_string(),
    })
}

async fn recovery_name(clients: &SiteClients, instance_id: &str) -> Result<String> {
    Ok(clients
        .compute
        .get_server(instance_id)
        .await?
        .map(|s| s.name)
        .unwrap_or_default())
}

/// Reads a server's full recovery metadata on `clients`' site.
///
/// Returns the metadata, the server's placement, and the volumes' common backend.
pub(crate) async fn capture_member(
    clients: &SiteClients,
    group: &ProtectionGroup,
    instance_id: &str,
) -> Result<(RecoveryMetadata, Placement, Option<String>)> {
    let server = clients.compute.get_server(instance_id).await?.ok_or_else(|| {
        Error::not_found(format!(
            "instance {instance_id} not found on {}: give the Nova id of a VM on the group's current primary site",
            clients.site
        ))
    })?;
    if server.attached_volumes.is_empty() {
        return Err(Error::invalid(format!(
            "instance {} ({instance_id}) has no Cinder volumes: only boot-from-volume VMs on replicated volumes can be protected",
            server.name
        )));
    }
    let mut volumes = Vec::new();
    let mut backends = BTreeMap::new();
    for attached in &server.attached_volumes {
        let volume = clients
            .block_storage
            .get_volume(&attached.volume_id)
            .await?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "volume {} of instance {} not found",
                    attached.volume_id, server.name
                ))
            })?;
        if volume.volume_type != group.volume_type {
            return Err(Error::invalid(format!(
                "volume type mismatch: volume {} ({}) of instance {} has type '{}', but protection group '{}' uses '{}'; \
                 migrate the volume to '{}' or leave the VM out",
                volume.id, volume.name, server.name, volume.volume_type, group.name, group.volume_type, group.volume_type
            )));
        }
        if let Some(host) = &volume.host {
            let backend = host.split('#').next().unwrap_or(host).to_string();
            backends.insert(backend, volume.id.clone());
        }
        let device = volume
            .attachments
            .iter()
            .find(|a| a.server_id == server.id)
            .map(|a| a.device.clone())
            .unwrap_or_default();
        volumes.push((volume, device));
    }
    if backends.len() > 1 {
        return Err(Error::invalid(format!(
            "instance {} has volumes on several backends ({}): all volumes of a consistency group must share one backend",
            server.name,
            backends.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    volumes.sort_by(|a, b| a.1.cmp(&b.1));
    let mut specs = Vec::new();
    for (i, (volume, device)) in volumes.iter().enumerate() {
        specs.push(VolumeSpec {
            volume_id: volume.id.clone(),
            name: volume.name.clone(),
            size_gb: volume.size_gb,
            bootable: volume.bootable,
            device: device.clone(),
            boot_index: if i == 0 { Some(0) } else { None },
            array_volume: volume
                .array_volume
                .clone()
                .unwrap_or_else(|| format!("volume-{}-cinder", volume.id)),
            volume_type: volume.volume_type.clone(),
        });
    }
    if !specs[0].bootable {
        return Err(Error::invalid(format!(
            "the root volume {} of instance {} is not bootable: Nova could not boot it on the other site",
            specs[0].volume_id, server.name
        )));
    }
    let ports = clients
        .network
        .list_ports(&ListPorts {
            device_id: Some(server.id.clone()),
            ..ListPorts::default()
        })
        .await?;
    let mut nics = Vec::new();
    for port in &ports {
        let network_name = clients
            .network
            .find_network(&port.network_id)
            .await?
            .map(|n| n.name)
            .unwrap_or_default();
        nics.push(NicSpec {
            network_id: port.network_id.clone(),
            network_name,
            port_id: port.id.clone(),
            mac_address: port.mac_address.clone(),
            fixed_ips: port
                .fixed_ips
                .iter()
                .map(|ip| FixedIp {
                    subnet_id: ip.subnet_id.clone(),
                    ip_address: ip.ip_address.clone(),
                })
                .collect(),
            security_group_ids: port.security_group_ids.clone(),
        });
    }
    let mut security_groups: Vec<SecurityGroupRef> = Vec::new();
    let mut sg_ids: Vec<String> = ports
        .iter()
        .flat_map(|p| p.security_group_ids.clone())
        .collect();
    sg_ids.sort();
    sg_ids.dedup();
    for id in sg_ids {
        if let Some(sg) = clients.network.find_security_group(&id).await? {
            security_groups.push(SecurityGroupRef {
                id: sg.id,
                name: sg.name,
            });
        }
    }
    let flavor_name = if server.flavor_name.is_empty() {
        clients
            .compute
            .find_flavor(&server.flavor_id)
            .await?
            .map(|f| f.name)
            .unwrap_or_default()
    } else {
        server.flavor_name.clone()
    };
    let recovery = RecoveryMetadata {
        flavor: FlavorRef {
            id: server.flavor_id.clone(),
            name: flavor_name,
        },
        networks: nics,
        security_groups,
        key_name: server.key_name.clone(),
        availability_zone: server.availability_zone.clone(),
        volumes: specs.clone(),
    };
    let placement = Placement {
        site: clients.site.clone(),
        instance_id: server.id.clone(),
        volume_ids: specs.iter().map(|v| v.volume_id.clone()).collect(),
        array_volumes: specs.iter().map(|v| v.array_volume.clone()).collect(),
        port_ids: ports.iter().map(|p| p.id.clone()).collect(),
    };
    Ok((recovery, placement, backends.into_keys().next()))
}
