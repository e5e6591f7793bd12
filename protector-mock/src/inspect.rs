//! A read-only picture of both sites and both arrays, for tests, `protector sim` and the demo.
//! It never goes through the simulated APIs, so it works whatever faults are injected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use protector_core::api::{PgTarget, PortFixedIp};

use crate::array::{pgroups, snapshots};
use crate::cloud::{network_create, routers};
use crate::lineage::VolumeLineage;
use crate::state::records::{array_key, NetworkRec};
use crate::state::{World, SITES};
use crate::tick::TRANSFER_STEPS;

/// Everything in the simulation, keyed by site name (`site-a`, `site-b`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// OpenStack resources per site.
    pub sites: BTreeMap<String, SiteInventory>,
    /// The FlashArray of each site.
    pub arrays: BTreeMap<String, ArrayInventory>,
}

/// One site's servers, volumes and ports (every project), in creation order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteInventory {
    /// Nova servers.
    pub servers: Vec<ServerSummary>,
    /// Cinder volumes.
    pub volumes: Vec<VolumeSummary>,
    /// Neutron ports.
    pub ports: Vec<PortSummary>,
    /// Neutron networks with their subnets, by name.
    #[serde(default)]
    pub networks: Vec<NetworkSummary>,
    /// Neutron routers, by name.
    #[serde(default)]
    pub routers: Vec<RouterSummary>,
}

/// A Neutron router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning project.
    pub project_id: String,
    /// The subnets it has an interface on.
    pub subnet_ids: Vec<String>,
}

/// A Neutron network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Owning project.
    pub project_id: String,
    /// Visible to every project.
    pub shared: bool,
    /// MTU.
    pub mtu: u32,
    /// Its subnets.
    pub subnets: Vec<SubnetSummary>,
}

/// A Neutron subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// IPv4 CIDR.
    pub cidr: String,
    /// Gateway address, if any.
    pub gateway_ip: Option<String>,
    /// Address ranges ports get their addresses from (`start`, `end`).
    pub allocation_pools: Vec<(String, String)>,
    /// DHCP enabled.
    pub enable_dhcp: bool,
}

/// A server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Nova status (`BUILD`, `ACTIVE`, `SHUTOFF`, `ERROR`).
    pub status: String,
    /// Owning project.
    pub project_id: String,
    /// Attached volume ids, root first.
    pub volumes: Vec<String>,
}

/// A Cinder volume and the data its array volume holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Cinder status.
    pub status: String,
    /// Owning project.
    pub project_id: String,
    /// Backing array volume name.
    pub array_volume: Option<String>,
    /// Fingerprint of the backing array volume (last write sequence number it holds).
    pub fingerprint: Option<u64>,
    /// Where its data came from and the write it held then; `None` for a volume being
    /// managed (the driver records it when it adopts the array volume).
    #[serde(default)]
    pub lineage: Option<VolumeLineage>,
}

/// A Neutron port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSummary {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Network id.
    pub network_id: String,
    /// Server id, or empty.
    pub device_id: String,
    /// Fixed IPs.
    pub fixed_ips: Vec<PortFixedIp>,
    /// Security group ids.
    pub security_group_ids: Vec<String>,
}

/// One FlashArray.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayInventory {
    /// Array name.
    pub name: String,
    /// Volumes by name, destroyed ones included.
    pub volumes: Vec<ArrayVolumeSummary>,
    /// Protection groups by name (replicas are `source:pg`).
    pub protection_groups: Vec<ProtectionGroupSummary>,
    /// Protection-group snapshots in creation order (replicas are `source:pg.N`).
    pub snapshots: Vec<SnapshotSummary>,
    /// Pods this array is a member of.
    pub pods: Vec<PodSummary>,
}

/// An array volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrayVolumeSummary {
    /// Name.
    pub name: String,
    /// Last write sequence number it holds.
    pub fingerprint: u64,
    /// Destroyed, pending eradication.
    pub destroyed: bool,
    /// The snapshot or volume it was copied from, if it is a copy.
    #[serde(default)]
    pub copied_from: Option<String>,
}

/// A protection group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionGroupSummary {
    /// Name.
    pub name: String,
    /// Member volumes.
    pub volumes: Vec<String>,
    /// Replication targets and whether each allowed it.
    pub targets: Vec<PgTarget>,
}

/// A protection-group snapshot with the data it captured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    /// Full name.
    pub name: String,
    /// Its protection group (as named on this array).
    pub source: String,
    /// Replication progress on a target (1.0 on the array that took it).
    pub progress: f64,
    /// Whether it can be copied from (taken here, or fully replicated).
    pub complete: bool,
    /// Source volume name → fingerprint captured.
    pub fingerprints: BTreeMap<String, u64>,
}

/// A pod as this array sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSummary {
    /// Name.
    pub name: String,
    /// Member arrays with their status (`online`, `offline`, `resyncing`).
    pub arrays: BTreeMap<String, String>,
    /// `promoted` / `demoted` on this array.
    pub promotion_status: String,
}

pub(crate) fn inventory(world: &World) -> Inventory {
    let mut sites = BTreeMap::new();
    let mut arrays = BTreeMap::new();
    for site in SITES {
        sites.insert(site.to_string(), site_inventory(world, site));
        let array = world.array_name_of_site(site);
        arrays.insert(site.to_string(), array_inventory(world, &array));
    }
    Inventory { sites, arrays }
}

fn site_inventory(world: &World, site: &str) -> SiteInventory {
    let array = world.array_name_of_site(site);
    let mut servers: Vec<_> = world.servers.values().filter(|s| s.site == site).collect();
    servers.sort_by_key(|s| s.seq);
    let mut volumes: Vec<_> = world.volumes.values().filter(|v| v.site == site).collect();
    volumes.sort_by_key(|v| v.seq);
    let mut ports: Vec<_> = world.ports.values().filter(|p| p.site == site).collect();
    ports.sort_by_key(|p| p.seq);
    let mut networks: Vec<_> = world.networks.values().filter(|n| n.site == site).collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    SiteInventory {
        servers: servers
            .into_iter()
            .map(|s| ServerSummary {
                id: s.id.clone(),
                name: s.name.clone(),
                status: s.status.clone(),
                project_id: s.project_id.clone(),
                volumes: s.volumes.iter().map(|v| v.volume_id.clone()).collect(),
            })
            .collect(),
        volumes: volumes
            .into_iter()
            .map(|v| VolumeSummary {
                id: v.id.clone(),
                name: v.name.clone(),
                status: v.status.clone(),
                project_id: v.project_id.clone(),
                array_volume: v.array_volume.clone(),
                fingerprint: v
                    .array_volume
                    .as_ref()
                    .and_then(|n| world.array_volumes.get(&array_key(&array, n)))
                    .map(|a| a.fingerprint),
                lineage: v.lineage.clone(),
            })
            .collect(),
        ports: ports
            .into_iter()
            .map(|p| PortSummary {
                id: p.id.clone(),
                name: p.name.clone(),
                network_id: p.network_id.clone(),
                device_id: p.device_id.clone(),
                fixed_ips: p
                    .fixed_ips
                    .iter()
                    .map(|(subnet_id, ip_address)| PortFixedIp {
                        subnet_id: subnet_id.clone(),
                        ip_address: ip_address.clone(),
                    })
                    .collect(),
                security_group_ids: p.security_group_ids.clone(),
            })
            .collect(),
        networks: networks
            .into_iter()
            .map(|n| network_summary(world, n))
            .collect(),
        routers: world
            .routers
            .values()
            .filter(|r| r.site == site)
            .map(|r| RouterSummary {
                id: r.id.clone(),
                name: r.name.clone(),
                project_id: r.project_id.clone(),
                subnet_ids: routers::interfaces(world, &r.id)
                    .into_iter()
                    .flat_map(|p| p.fixed_ips.iter().map(|(s, _)| s.clone()))
                    .collect(),
            })
            .collect(),
    }
}

fn network_summary(world: &World, n: &NetworkRec) -> NetworkSummary {
    NetworkSummary {
        id: n.id.clone(),
        name: n.name.clone(),
        project_id: n.project_id.clone(),
        shared: n.shared,
        mtu: n.mtu.unwrap_or(network_create::DEFAULT_MTU),
        subnets: n
            .subnet_ids
            .iter()
            .filter_map(|id| world.subnets.get(id))
            .map(|s| SubnetSummary {
                id: s.id.clone(),
                name: s.name.clone(),
                cidr: s.cidr.clone(),
                gateway_ip: (!s.gateway_ip.is_empty()).then(|| s.gateway_ip.clone()),
                allocation_pools: network_create::allocation_ranges(s)
                    .into_iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                enable_dhcp: s.enable_dhcp,
            })
            .collect(),
    }
}

fn array_inventory(world: &World, array: &str) -> ArrayInventory {
    let volumes = world
        .array_volumes
        .values()
        .filter(|v| v.array == array)
        .map(|v| ArrayVolumeSummary {
            name: v.name.clone(),
            fingerprint: v.fingerprint,
            destroyed: v.destroyed,
            copied_from: v.copied_from.as_ref().map(|c| c.from.clone()),
        })
        .collect();
    let protection_groups = world
        .protection_groups
        .values()
        .filter(|g| g.array == array)
        .filter_map(|g| pgroups::get_protection_group(world, array, &g.name))
        .map(|g| ProtectionGroupSummary {
            name: g.name,
            volumes: g.volumes,
            targets: g.targets,
        })
        .collect();
    let mut snaps: Vec<_> = world
        .pg_snapshots
        .values()
        .filter(|s| s.array == array)
        .collect();
    snaps.sort_by_key(|s| s.seq);
    let snapshots = snaps
        .into_iter()
        .map(|s| {
            let steps = s.transfer.as_ref().map_or(TRANSFER_STEPS, |t| t.steps);
            SnapshotSummary {
                name: s.name.clone(),
                source: s.group.clone(),
                progress: f64::from(steps) / f64::from(TRANSFER_STEPS),
                complete: s.transfer.as_ref().is_none_or(|t| t.completed.is_some()),
                fingerprints: world
                    .volume_snapshots
                    .with_prefix(&snapshots::volume_snapshot_prefix(array, &s.name))
                    .map(|(_, v)| v)
                    .filter(|v| v.array == array && v.pg_snapshot == s.name)
                    .map(|v| (v.source_volume.clone(), v.fingerprint))
                    .collect(),
            }
        })
        .collect();
    let pods = world
        .pods
        .values()
        .filter_map(|p| {
            p.member(array).map(|m| PodSummary {
                name: p.name.clone(),
                arrays: p
                    .members
                    .iter()
                    .map(|m| (m.array.clone(), m.status.clone()))
                    .collect(),
                promotion_status: m.promotion.clone(),
            })
        })
        .collect();
    ArrayInventory {
        name: array.to_string(),
        volumes,
        protection_groups,
        snapshots,
        pods,
    }
}
