//! Quotas, hypervisors and availability zones of a simulated site: Nova's `GET /limits`,
//! `os-hypervisors` and `os-availability-zone`, Cinder's `GET /limits` and Neutron's quota
//! details. Usage is computed from the world's records, limits come from `QuotaRec` or the
//! defaults, and the zones of a site are those of its hypervisors.

use std::collections::BTreeMap;

use protector_core::api::{AvailabilityZone, ComputeLimits, Hypervisor, QuotaUsage, VolumeLimits};
use protector_core::{Error, ErrorKind, Result};

use super::{policy_denied, Caller};
use crate::state::due::{DueIndexes, Place};
use crate::state::records::{HypervisorRec, QuotaRec};
use crate::state::World;

/// The zone of a site without hypervisor records (a state saved before they were simulated),
/// and of the seeded first compute node.
pub(crate) const DEFAULT_ZONE: &str = "nova";

/// The limits a project has until `protector sim quota set` changes them. DevStack's defaults
/// where the seed and the test suites fit in them (ports 500 is DevStack's; volumes and
/// gigabytes are raised too), raised for instances, cores and RAM: the seeded production project already
/// runs 5 servers with 14 vCPUs on site-a, tests add VMs beside them, and a failover followed
/// by a drill holds two copies of every VM on the DR site.
pub(crate) fn default_quota(site: &str, project_id: &str) -> QuotaRec {
    QuotaRec {
        site: site.to_string(),
        project_id: project_id.to_string(),
        instances: 20,
        cores: 80,
        ram: 163_840,
        volumes: 40,
        gigabytes: 2000,
        ports: 500,
    }
}

/// The quota of `project_id` on `site`.
pub(crate) fn quota(world: &World, site: &str, project_id: &str) -> QuotaRec {
    world
        .quotas
        .get(&format!("{site}/{project_id}"))
        .cloned()
        .unwrap_or_else(|| default_quota(site, project_id))
}

/// What a project uses on a site.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
    pub volumes: i64,
    pub gigabytes: i64,
    pub ports: i64,
}

/// What `project_id` uses on `site` now (servers not deleted, volumes, ports).
pub(crate) fn usage(world: &World, site: &str, project_id: &str) -> Usage {
    let mut usage = Usage::default();
    add_server_usage(world, site, project_id, &mut usage);
    for volume in world
        .volumes
        .values()
        .filter(|v| v.site == site && v.project_id == project_id)
    {
        usage.volumes += 1;
        usage.gigabytes += volume.size_gb as i64;
    }
    usage.ports = world
        .ports
        .values()
        .filter(|p| p.site == site && p.project_id == project_id)
        .count() as i64;
    usage
}

/// Adds what the servers of `project_id` on `site` use (not deleted) to `usage`.
fn add_server_usage(world: &World, site: &str, project_id: &str, usage: &mut Usage) {
    for server in world
        .servers
        .values()
        .filter(|s| s.site == site && s.project_id == project_id && s.status != "DELETED")
    {
        usage.instances += 1;
        if let Some(flavor) = world.flavors.get(&server.flavor_id) {
            usage.cores += i64::from(flavor.vcpus);
            usage.ram += flavor.ram_mb as i64;
        }
    }
}

/// Nova's `GET /limits` for the caller's project.
pub(crate) fn compute_limits(world: &World, caller: &Caller) -> ComputeLimits {
    let q = quota(world, &caller.site, &caller.project_id);
    let u = usage(world, &caller.site, &caller.project_id);
    ComputeLimits {
        instances: QuotaUsage::new(q.instances, u.instances),
        cores: QuotaUsage::new(q.cores, u.cores),
        ram_mb: QuotaUsage::new(q.ram, u.ram),
    }
}

/// Cinder's `GET /v3/{project_id}/limits` for the caller's project.
pub(crate) fn volume_limits(world: &World, caller: &Caller) -> VolumeLimits {
    let q = quota(world, &caller.site, &caller.project_id);
    let u = usage(world, &caller.site, &caller.project_id);
    VolumeLimits {
        volumes: QuotaUsage::new(q.volumes, u.volumes),
        gigabytes: QuotaUsage::new(q.gigabytes, u.gigabytes),
    }
}

/// Neutron's port quota details of `project_id` (admins may ask for any project).
pub(crate) fn port_quota(world: &World, caller: &Caller, project_id: &str) -> Result<QuotaUsage> {
    if !caller.can_see(project_id) {
        return Err(Error::new(
            ErrorKind::PermissionDenied,
            "rule:get_quota is disallowed by policy",
        ));
    }
    let q = quota(world, &caller.site, project_id);
    let u = usage(world, &caller.site, project_id);
    Ok(QuotaUsage::new(q.ports, u.ports))
}

/// Nova's refusal of a server beyond the quota (HTTP 403).
pub(crate) fn check_server_quota(
    world: &World,
    caller: &Caller,
    vcpus: u32,
    ram_mb: u64,
) -> Result<()> {
    let q = quota(world, &caller.site, &caller.project_id);
    if q.instances < 0 && q.cores < 0 && q.ram < 0 {
        // Unlimited: nothing to count.
        return Ok(());
    }
    let mut u = Usage::default();
    add_server_usage(world, &caller.site, &caller.project_id, &mut u);
    for (resource, limit, used, requested) in [
        ("instances", q.instances, u.instances, 1),
        ("cores", q.cores, u.cores, i64::from(vcpus)),
        ("ram", q.ram, u.ram, ram_mb as i64),
    ] {
        if limit >= 0 && used + requested > limit {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "Quota exceeded for {resource}: Requested {requested}, but already used {used} of {limit} {resource}"
                ),
            ));
        }
    }
    Ok(())
}

/// The hypervisors of `site`, in hostname order.
fn site_hypervisors<'w>(world: &'w World, site: &str) -> Vec<&'w HypervisorRec> {
    world
        .hypervisors
        .values()
        .filter(|h| h.site == site)
        .collect()
}

/// What runs on each hypervisor of `site`: (vCPUs, MiB) by hostname. A server without a host
/// counts on the first hypervisor of its zone.
fn allocations<'w>(world: &'w World, site: &str) -> BTreeMap<&'w str, (u64, u64)> {
    tally(
        world,
        site,
        world
            .servers
            .values()
            .filter(|s| s.site == site && s.status != "DELETED")
            .map(|s| {
                let place = s.host.as_deref().ok_or(s.availability_zone.as_str());
                (place, s.flavor_id.as_str(), 1)
            }),
    )
}

/// [`allocations`] from the index of what runs where (refreshed before): the cost of the
/// hypervisors and flavors in use, not of every server.
fn indexed_allocations<'w>(world: &'w World, site: &str) -> BTreeMap<&'w str, (u64, u64)> {
    let used = tally(
        world,
        site,
        world.due.usage.of_site(site).map(|(place, flavor, count)| {
            let place = match place {
                Place::Host(host) => Ok(host.as_str()),
                Place::Zone(zone) => Err(zone.as_str()),
            };
            (place, flavor, count)
        }),
    );
    debug_assert_eq!(used, allocations(world, site), "usage index of {site}");
    used
}

/// (vCPUs, MiB) by hostname of servers given as (host, or the zone without one; flavor id;
/// how many).
fn tally<'w>(
    world: &'w World,
    site: &str,
    servers: impl Iterator<Item = (std::result::Result<&'w str, &'w str>, &'w str, u64)>,
) -> BTreeMap<&'w str, (u64, u64)> {
    let hypervisors = site_hypervisors(world, site);
    let mut out: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (place, flavor_id, count) in servers {
        let host = place.ok().or_else(|| {
            let zone = place.err()?;
            hypervisors
                .iter()
                .find(|h| h.availability_zone == zone)
                .map(|h| h.hostname.as_str())
        });
        let (Some(host), Some(flavor)) = (host, world.flavors.get(flavor_id)) else {
            continue;
        };
        let slot = out.entry(host).or_default();
        slot.0 += u64::from(flavor.vcpus) * count;
        slot.1 += flavor.ram_mb * count;
    }
    out
}

/// Nova's `GET /os-hypervisors/detail` (admin only).
pub(crate) fn list_hypervisors(world: &World, caller: &Caller) -> Result<Vec<Hypervisor>> {
    if !caller.is_admin() {
        return Err(policy_denied("os_compute_api:os-hypervisors:list-detail"));
    }
    let used = allocations(world, &caller.site);
    Ok(site_hypervisors(world, &caller.site)
        .into_iter()
        .map(|h| {
            let (vcpus_used, memory_used) =
                used.get(h.hostname.as_str()).copied().unwrap_or_default();
            Hypervisor {
                id: h.id.to_string(),
                hostname: h.hostname.clone(),
                service_host: h.hostname.clone(),
                up: h.up,
                enabled: h.enabled,
                vcpus: h.vcpus,
                vcpus_used,
                memory_mb: h.memory_mb,
                // Nova counts the host's reserved memory (512 MiB by default) as used.
                memory_mb_used: memory_used + 512,
            }
        })
        .collect())
}

/// Nova's availability zones of `site`: those of its hypervisors, available when one of
/// them is enabled, with their hosts.
pub(crate) fn availability_zones(world: &World, site: &str) -> Vec<AvailabilityZone> {
    let mut zones: BTreeMap<String, AvailabilityZone> = BTreeMap::new();
    for h in site_hypervisors(world, site) {
        let zone = zones
            .entry(h.availability_zone.clone())
            .or_insert_with(|| AvailabilityZone {
                name: h.availability_zone.clone(),
                available: false,
                hosts: Vec::new(),
            });
        zone.available |= h.enabled;
        zone.hosts.push(h.hostname.clone());
    }
    if zones.is_empty() {
        return vec![AvailabilityZone {
            name: DEFAULT_ZONE.to_string(),
            available: true,
            hosts: Vec::new(),
        }];
    }
    zones.into_values().collect()
}

/// Where a new server goes: its zone (`requested`, or `nova` by default) and the enabled, up
/// hypervisor of that zone with the most free memory. An unknown or unavailable zone is
/// refused as Nova refuses it (400).
pub(crate) fn place_server(
    world: &mut World,
    site: &str,
    requested: Option<&str>,
) -> Result<(String, Option<String>)> {
    let zones = availability_zones(world, site);
    let zone = match requested.filter(|z| !z.is_empty()) {
        Some(zone) => zones
            .iter()
            .find(|z| z.name == zone && z.available)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "The requested availability zone is not available: {zone}"
                ))
            })?
            .name
            .clone(),
        None => DEFAULT_ZONE.to_string(),
    };
    DueIndexes::refresh(world);
    let world: &World = world;
    let used = indexed_allocations(world, site);
    let host = site_hypervisors(world, site)
        .into_iter()
        .filter(|h| h.availability_zone == zone && h.enabled && h.up)
        .max_by_key(|h| {
            let memory_used = used.get(h.hostname.as_str()).map_or(0, |u| u.1);
            (
                h.memory_mb.saturating_sub(memory_used),
                std::cmp::Reverse(h.hostname.clone()),
            )
        })
        .map(|h| h.hostname.clone());
    Ok((zone, host))
}

/// Seeds two compute nodes per site when it has none: `<site>-compute` in zone `nova` and
/// `<site>-compute-2` in zone `az-2`.
pub(crate) fn seed_hypervisors(world: &mut World) {
    for site in crate::state::SITES {
        if world.hypervisors.values().any(|h| h.site == site) {
            continue;
        }
        for (id, hostname, zone) in [
            (1, format!("{site}-compute"), DEFAULT_ZONE),
            (2, format!("{site}-compute-2"), "az-2"),
        ] {
            world.hypervisors.insert(
                format!("{site}/{hostname}"),
                HypervisorRec {
                    id,
                    site: site.to_string(),
                    hostname,
                    availability_zone: zone.to_string(),
                    vcpus: 32,
                    memory_mb: 131_072,
                    enabled: true,
                    up: true,
                },
            );
        }
    }
}
