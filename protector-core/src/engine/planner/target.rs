//! Resolving the members of a plan on the target site: flavors, networks with their fixed
//! IPs, security groups and keypairs, each through the mappings.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::api::SiteClients;
use crate::engine::validate::Finding;
use crate::engine::Protector;
use crate::error::{ErrorKind, Hint, MappedResource, Result};
use crate::model::{Member, ProtectionGroup, ResourceMappings};
use crate::plan::{FailoverMode, MemberPlan, NicPlan, Plan, PlannedIp, Resolved, VolumePlan};

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

impl Protector {
    pub(in crate::engine) async fn plan_target(
        &self,
        plan: &mut Plan,
        group: &ProtectionGroup,
        members: &[Member],
        mappings: &ResourceMappings,
        target: &SiteClients,
        source: Option<&SiteClients>,
    ) -> Result<()> {
        // Every read at once: the target's inventory, volume type, keypairs and capacity, the
        // source servers (one listing), each shared by the operation's other plans.
        let ids: Vec<&str> = members
            .iter()
            .map(|m| m.current.instance_id.as_str())
            .collect();
        let keypairs: BTreeSet<&str> = members
            .iter()
            .filter_map(|m| m.recovery.key_name.as_deref())
            .collect();
        let (inventory, volume_type, source_servers, keypairs, capacity) = futures::try_join!(
            self.site_inventory(target),
            self.volume_type(target, &group.volume_type),
            async {
                match source {
                    Some(s) => self.servers_by_id(s, &ids).await.map(Some),
                    None => Ok(None),
                }
            },
            futures::future::try_join_all(keypairs.into_iter().map(|key| async move {
                Ok::<_, crate::error::Error>((key, self.keypair_exists(target, key).await?))
            })),
            async {
                if members.is_empty() {
                    return Ok(None);
                }
                let project = self.identify(target).await?.project_id;
                self.capacity(target, &project).await.map(Some)
            },
        )?;
        let keypairs: BTreeMap<&str, bool> = keypairs.into_iter().collect();
        let zones = crate::engine::capacity::TargetZones::of(&target.site, &inventory.zones);
        let site = target.site.clone();
        match volume_type {
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
        match &inventory.volume_services {
            Ok(services) => match services.iter().find(|s| s.is_usable()) {
                Some(s) => plan.manage_host = Some(s.host.clone()),
                None => plan.findings.push(Finding::error(
                    ErrorKind::ValidationFailed,
                    "no_volume_service",
                    format!("no cinder-volume service on {site} is up and enabled: volumes cannot be imported"),
                )),
            },
            Err((_, why)) => plan.findings.push(Finding::error(
                ErrorKind::PermissionDenied,
                "volume_manage_rights",
                format!(
                    "the credentials for {site} may not list cinder-volume services ({why}): volume manage needs the admin role, \
                     or policy overrides volume_extension:volume_manage, volume_extension:volume_unmanage and \
                     volume_extension:services:index set to rule:admin_or_owner"
                ),
            )),
        }

        let plan_key = plan.id.simple().to_string();
        for member in members {
            let name = member.instance_name.clone();
            let rec = &member.recovery;
            let source_status = source_servers
                .as_ref()
                .and_then(|servers| servers.get(&member.current.instance_id))
                .map(|srv| srv.status.as_str().to_string());
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
                if keypairs.get(key.as_str()) == Some(&false) {
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
                    source_snapshot: None,
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
                priority: member.priority,
                depends_on: member.depends_on.clone(),
                availability_zone: zones.resolve(member, mappings, &mut plan.findings),
            });
        }
        self.check_capacity(
            plan,
            target,
            &inventory.flavors,
            &inventory.zones,
            capacity.as_deref(),
        )
        .await
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
}
