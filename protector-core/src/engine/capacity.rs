//! Capacity and placement at plan time: whether the target project's quotas (instances,
//! cores, RAM, volumes, gigabytes, ports) and the target's hypervisors can take what a plan
//! adds, and in which availability zone each member boots.
//!
//! Quotas are hard limits: Nova, Cinder and Neutron refuse a create beyond them, so a plan
//! that needs more than the free quota gets a blocking finding and is refused before anything
//! changes. Hypervisor capacity is only a warning: Nova overcommits vCPUs and RAM by
//! allocation ratios that the API does not report, so a sum of free physical resources below
//! the need says "look", not "it will fail". A check that cannot be made (the service does not
//! tell, or the credentials may not ask, as `os-hypervisors` is admin-only) is a warning that
//! names why.

use std::collections::{BTreeMap, BTreeSet};

use super::inventory::{not_checkable, Capacity, Checked, Demand as Need, PlanDemand};
use super::Protector;
use crate::api::{AvailabilityZone, Flavor, Hypervisor, QuotaUsage, SiteClients};
use crate::engine::validate::Finding;
use crate::error::{ErrorKind, Result};
use crate::model::{Member, ResourceMappings};
use crate::plan::{MemberPlan, Plan};

/// The availability zones of the target, read once per operation (`inventory.rs`).
pub(in crate::engine) struct TargetZones<'a> {
    site: &'a str,
    /// `Err`: why the zones are unknown.
    zones: std::result::Result<&'a [AvailabilityZone], &'a str>,
}

impl<'a> TargetZones<'a> {
    /// The zones of `site` as its inventory read them. A failure to read them was kept, not
    /// returned: placement then falls back to letting Nova pick, with a warning.
    pub(in crate::engine) fn of(site: &'a str, zones: &'a Checked<Vec<AvailabilityZone>>) -> Self {
        TargetZones {
            site,
            zones: zones
                .as_ref()
                .map(Vec::as_slice)
                .map_err(|(_, why)| why.as_str()),
        }
    }

    fn find(&self, name: &str) -> Option<&AvailabilityZone> {
        self.zones.ok()?.iter().find(|z| z.name == name)
    }

    /// The zone `member` boots in on the target: its mapped zone, else the zone of the same
    /// name when it exists there and is available, else none (Nova picks) with a warning. A
    /// mapping to a zone the target does not have, or that is not available, is blocking.
    pub(in crate::engine) fn resolve(
        &self,
        member: &Member,
        mappings: &ResourceMappings,
        findings: &mut Vec<Finding>,
    ) -> Option<String> {
        let name = &member.instance_name;
        let site = self.site;
        let source = member.recovery.availability_zone.as_deref()?;
        if let Some(wanted) = mappings.availability_zones.get(source) {
            match (&self.zones, self.find(wanted)) {
                (Ok(_), Some(zone)) if zone.available => return Some(wanted.clone()),
                (Ok(zones), found) => {
                    let known = zones
                        .iter()
                        .filter(|z| z.available)
                        .map(|z| z.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let what = if found.is_some() {
                        "is not available"
                    } else {
                        "does not exist"
                    };
                    findings.push(
                        Finding::error(
                            ErrorKind::ValidationFailed,
                            "availability_zone_mapping_target_missing",
                            format!(
                                "availability zone '{wanted}' (mapped from '{source}' for member {name}) {what} on {site} \
                                 (available zones: {known}): fix the availability-zone mapping"
                            ),
                        )
                        .for_member(name),
                    );
                    return None;
                }
                (Err(why), _) => {
                    findings.push(
                        Finding::warning(
                            "availability_zone_not_checked",
                            format!(
                                "availability zone '{wanted}' (mapped from '{source}' for member {name}) could not be checked on {site}: {why}"
                            ),
                        )
                        .for_member(name),
                    );
                    return Some(wanted.clone());
                }
            }
        }
        match (&self.zones, self.find(source)) {
            (Ok(_), Some(zone)) if zone.available => Some(source.to_string()),
            (zones, _) => {
                let why = match zones {
                    Ok(_) => format!("{site} has no available zone of that name"),
                    Err(why) => format!("the zones of {site} could not be read: {why}"),
                };
                findings.push(
                    Finding::warning(
                        "availability_zone_unmapped",
                        format!(
                            "member {name} ran in availability zone '{source}' and {why}: Nova will pick a zone; \
                             map the zone to pin it"
                        ),
                    )
                    .for_member(name),
                );
                None
            }
        }
    }
}

/// The targets of `mappings.availability_zones` that `target` does not have as available
/// zones (`availability zone 'x'`); none when the zones cannot be read.
pub(in crate::engine) async fn missing_zones(
    target: &SiteClients,
    mappings: &ResourceMappings,
) -> Result<Vec<String>> {
    let zones = match target.compute.list_availability_zones().await {
        Ok(zones) => zones,
        Err(e) if not_checkable(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(mappings
        .availability_zones
        .values()
        .filter(|wanted| !zones.iter().any(|z| &z.name == *wanted && z.available))
        .map(|wanted| format!("availability zone '{wanted}'"))
        .collect())
}

/// One quota to check: the `openstack quota set` option, what it counts, its unit, the need,
/// and its usage or why it is unknown.
type Quota = (
    &'static str,
    &'static str,
    &'static str,
    u64,
    std::result::Result<QuotaUsage, String>,
);

impl Need {
    /// Adds what `member` creates: nothing for a member that restarts an existing server (a
    /// failback to its standby, whose volumes are overwritten in place).
    fn add(&mut self, member: &MemberPlan, flavors: &[Flavor]) {
        if member.target_instance_id.is_some() {
            return;
        }
        self.instances += 1;
        if let Some(flavor) = member
            .flavor
            .target_id
            .as_ref()
            .and_then(|id| flavors.iter().find(|f| &f.id == id))
        {
            self.cores += u64::from(flavor.vcpus);
            self.ram_mb += flavor.ram_mb;
        }
        self.volumes += member.volumes.len() as u64;
        self.gigabytes += member.volumes.iter().map(|v| v.size_gb).sum::<u64>();
        self.ports += member.nics.len() as u64;
    }
}

impl Protector {
    /// Checks the plan's need, with what the other groups planned in this operation need
    /// there, against the target project's quotas and the target's hypervisors (read once per
    /// operation, `capacity`), adding a finding per shortfall or check that could not be made.
    pub(in crate::engine) async fn check_capacity(
        &self,
        plan: &mut Plan,
        target: &SiteClients,
        flavors: &[Flavor],
        zones: &Checked<Vec<AvailabilityZone>>,
        capacity: Option<&Capacity>,
    ) -> Result<()> {
        let mut own = PlanDemand::default();
        for member in &plan.members {
            own.total.add(member, flavors);
            own.per_zone
                .entry(member.availability_zone.clone())
                .or_default()
                .add(member, flavors);
        }
        let Some(capacity) = capacity.filter(|_| own.total != Need::default()) else {
            return Ok(());
        };
        let before = self.demand_before(target, plan.group_id, &own).await?;
        let need = own.total.plus(&before.total);
        let mut per_zone = own.per_zone.clone();
        for (zone, demand) in &before.per_zone {
            let entry = per_zone.entry(zone.clone()).or_default();
            *entry = entry.plus(demand);
        }
        let site = target.site.clone();
        let project = self.identify(target).await?;
        let project_label = format!("project {} ({})", project.project_name, project.project_id);
        let others = |what: fn(&Need) -> u64, unit: &str| {
            let earlier = what(&before.total);
            if earlier == 0 {
                String::new()
            } else {
                format!(
                    " (with {earlier}{unit} for the groups planned before it in this operation)"
                )
            }
        };
        // (`openstack quota set` option, what it counts, unit, need, usage or why it is unknown).
        let mut quotas: Vec<Quota> = Vec::new();
        match &capacity.compute {
            Ok(l) => quotas.extend([
                (
                    "instances",
                    "instances",
                    "",
                    need.instances,
                    Ok(l.instances),
                ),
                ("cores", "vCPUs", "", need.cores, Ok(l.cores)),
                ("ram", "RAM", " MiB", need.ram_mb, Ok(l.ram_mb)),
            ]),
            Err((_, why)) => quotas.push(("", "compute", "", 0, Err(why.clone()))),
        }
        match &capacity.volume {
            Ok(l) => quotas.extend([
                ("volumes", "volumes", "", need.volumes, Ok(l.volumes)),
                (
                    "gigabytes",
                    "volume gigabytes",
                    " GiB",
                    need.gigabytes,
                    Ok(l.gigabytes),
                ),
            ]),
            Err((_, why)) => quotas.push(("", "block storage", "", 0, Err(why.clone()))),
        }
        match &capacity.ports {
            Ok(q) => quotas.push(("ports", "ports", "", need.ports, Ok(*q))),
            Err((_, why)) => quotas.push(("", "network", "", 0, Err(why.clone()))),
        }
        for (option, what, unit, wanted, usage) in quotas {
            let usage = match usage {
                Ok(u) => u,
                Err(why) => {
                    plan.findings.push(Finding::warning(
                        "quota_not_checked",
                        format!("{what} quota of {project_label} on {site} not checked: {why}"),
                    ));
                    continue;
                }
            };
            let (Some(limit), Some(free)) = (usage.limit, usage.free()) else {
                continue;
            };
            if wanted > free {
                let earlier = match option {
                    "instances" => others(|n| n.instances, unit),
                    "cores" => others(|n| n.cores, unit),
                    "ram" => others(|n| n.ram_mb, unit),
                    "volumes" => others(|n| n.volumes, unit),
                    "gigabytes" => others(|n| n.gigabytes, unit),
                    _ => others(|n| n.ports, unit),
                };
                plan.findings.push(Finding::error(
                    ErrorKind::ValidationFailed,
                    "quota_exceeded",
                    format!(
                        "{what} quota of {project_label} on {site} is too small: the plan needs {wanted}{unit}{earlier}, \
                         {free}{unit} free ({} used of {limit}{unit}); raise it on {site} with \
                         `openstack quota set --{option} {} {}`",
                        usage.used,
                        usage.used + wanted,
                        project.project_id
                    ),
                ));
            }
        }
        check_hypervisors(plan, &site, &capacity.hypervisors, zones, &per_zone);
        Ok(())
    }
}

/// Warns when the enabled, up hypervisors (of each target zone, when zones are known with
/// their hosts) have less free physical vCPU or RAM than the plan needs.
fn check_hypervisors(
    plan: &mut Plan,
    site: &str,
    hypervisors: &Checked<Vec<Hypervisor>>,
    zones: &Checked<Vec<AvailabilityZone>>,
    per_zone: &BTreeMap<Option<String>, Need>,
) {
    let hypervisors = match hypervisors {
        Ok(h) => h,
        Err((_, why)) => {
            plan.findings.push(Finding::warning(
                "hypervisor_capacity_not_checked",
                format!("hypervisor capacity not checked: {why} (on {site})"),
            ));
            return;
        }
    };
    let zones: &[AvailabilityZone] = match zones {
        Ok(zones) if per_zone.keys().any(Option::is_some) => zones,
        _ => &[],
    };
    // Needs without a zone, or in a zone whose hosts are unknown, are checked against every
    // hypervisor together.
    let mut pooled = Need::default();
    for (zone, need) in per_zone {
        let hosts: Option<BTreeSet<&str>> = zone
            .as_ref()
            .and_then(|z| zones.iter().find(|known| &known.name == z))
            .filter(|z| !z.hosts.is_empty())
            .map(|z| z.hosts.iter().map(String::as_str).collect());
        match hosts {
            Some(hosts) => {
                let members = hypervisors
                    .iter()
                    .filter(|h| hosts.contains(h.service_host.as_str()));
                hypervisor_finding(
                    plan,
                    members,
                    need,
                    &format!("zone '{}' of {site}", zone.as_deref().unwrap_or_default()),
                );
            }
            None => {
                pooled.cores += need.cores;
                pooled.ram_mb += need.ram_mb;
            }
        }
    }
    if pooled.cores > 0 || pooled.ram_mb > 0 {
        hypervisor_finding(plan, hypervisors.iter(), &pooled, site);
    }
}

fn hypervisor_finding<'a>(
    plan: &mut Plan,
    hypervisors: impl Iterator<Item = &'a Hypervisor>,
    need: &Need,
    place: &str,
) {
    let (mut vcpus, mut ram) = (0u64, 0u64);
    for h in hypervisors.filter(|h| h.up && h.enabled) {
        vcpus += h.vcpus.saturating_sub(h.vcpus_used);
        ram += h.memory_mb.saturating_sub(h.memory_mb_used);
    }
    let mut short = Vec::new();
    if need.cores > vcpus {
        short.push(format!("{} vCPUs needed, {vcpus} free", need.cores));
    }
    if need.ram_mb > ram {
        short.push(format!("{} MiB RAM needed, {ram} MiB free", need.ram_mb));
    }
    if !short.is_empty() {
        plan.findings.push(Finding::warning(
            "hypervisor_capacity_low",
            format!(
                "the enabled hypervisors of {place} have less free capacity than the plan needs ({}): \
                 booting relies on Nova's overcommit (allocation ratios); free hosts or add compute capacity if it fails",
                short.join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{NicPlan, Resolved, VolumePlan};

    fn member(standby: Option<&str>) -> MemberPlan {
        let volume = |size_gb| VolumePlan {
            source_volume_id: "v".into(),
            source_array_volume: "a".into(),
            copy_name: "c".into(),
            name: "n".into(),
            size_gb,
            bootable: true,
            boot_index: 0,
            device: String::new(),
            source_snapshot: None,
        };
        let resolved = |id: &str| Resolved {
            source: id.into(),
            target_id: Some(id.into()),
            target_name: Some(id.into()),
        };
        MemberPlan {
            member_id: uuid::Uuid::nil(),
            instance_name: "vm".into(),
            source_instance_id: "s".into(),
            source_status: None,
            flavor: resolved("f-large"),
            key_name: None,
            nics: vec![NicPlan {
                network: resolved("net"),
                fixed_ips: Vec::new(),
                security_group_ids: Vec::new(),
            }],
            volumes: vec![volume(40), volume(100)],
            target_instance_id: standby.map(str::to_string),
            availability_zone: None,
            priority: crate::model::DEFAULT_PRIORITY,
            depends_on: Vec::new(),
        }
    }

    #[test]
    fn a_new_server_needs_its_flavor_volumes_and_ports_a_restarted_standby_nothing() {
        let flavors = [Flavor {
            id: "f-large".into(),
            name: "m2.large".into(),
            vcpus: 4,
            ram_mb: 8192,
            disk_gb: 80,
        }];
        let mut need = Need::default();
        need.add(&member(None), &flavors);
        need.add(&member(Some("standby")), &flavors);
        assert_eq!(
            need,
            Need {
                instances: 1,
                cores: 4,
                ram_mb: 8192,
                volumes: 2,
                gigabytes: 140,
                ports: 1,
            }
        );
    }

    #[test]
    fn unlimited_quotas_have_no_free_amount() {
        assert_eq!(QuotaUsage::new(-1, 7).free(), None);
        assert_eq!(QuotaUsage::new(10, 12).free(), Some(0));
        assert_eq!(QuotaUsage::new(10, 3).free(), Some(7));
    }
}
