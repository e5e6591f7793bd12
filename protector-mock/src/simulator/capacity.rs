//! Quotas and compute nodes of the simulated sites, changed from outside the APIs
//! (`protector sim quota set`, `protector sim hypervisor set`, tests).

use protector_core::{Error, ErrorKind, Result};

use super::Simulator;
use crate::cloud::capacity::quota;

/// New quota limits of a project on one site; `None` keeps a limit, `-1` is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaChange {
    /// Servers.
    pub instances: Option<i64>,
    /// vCPUs.
    pub cores: Option<i64>,
    /// RAM in MiB.
    pub ram: Option<i64>,
    /// Cinder volumes.
    pub volumes: Option<i64>,
    /// Cinder gigabytes.
    pub gigabytes: Option<i64>,
    /// Neutron ports.
    pub ports: Option<i64>,
}

/// Changes to one simulated compute node; `None` keeps a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HypervisorChange {
    /// Physical vCPUs.
    pub vcpus: Option<u64>,
    /// Memory in MiB.
    pub memory_mb: Option<u64>,
    /// Whether its nova-compute service is enabled (a disabled node takes no new server, and a
    /// zone without an enabled node is not available).
    pub enabled: Option<bool>,
}

impl Simulator {
    /// Sets quota limits of project `project` (name or id) on `site`, as `openstack quota set`
    /// does; the others keep their value (the defaults until set). Does not advance time.
    ///
    /// `NotFound` for an unknown site or project; `InvalidInput` for a limit below -1.
    pub fn set_quota(&self, site: &str, project: &str, change: &QuotaChange) -> Result<()> {
        Self::check_site(site)?;
        let values = [
            ("instances", change.instances),
            ("cores", change.cores),
            ("ram", change.ram),
            ("volumes", change.volumes),
            ("gigabytes", change.gigabytes),
            ("ports", change.ports),
        ];
        if let Some((name, Some(value))) = values.iter().find(|(_, v)| v.is_some_and(|v| v < -1)) {
            return Err(Error::invalid(format!(
                "quota {name} {value} is below -1: give a limit of 0 or more, or -1 for unlimited"
            )));
        }
        self.update_world(|w| {
            let project_id = w
                .projects
                .find(|p| p.site == site && (p.id == project || p.name == project))
                .map(|p| p.id.clone())
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!("project '{project}' does not exist on {site}"),
                    )
                })?;
            let mut rec = quota(w, site, &project_id);
            let set = |slot: &mut i64, value: Option<i64>| {
                if let Some(v) = value {
                    *slot = v;
                }
            };
            set(&mut rec.instances, change.instances);
            set(&mut rec.cores, change.cores);
            set(&mut rec.ram, change.ram);
            set(&mut rec.volumes, change.volumes);
            set(&mut rec.gigabytes, change.gigabytes);
            set(&mut rec.ports, change.ports);
            w.quotas.insert(format!("{site}/{project_id}"), rec);
            Ok(())
        })?
    }

    /// Changes compute node `hostname` of `site`. Does not advance time.
    ///
    /// `NotFound` for an unknown site or node.
    pub fn set_hypervisor(
        &self,
        site: &str,
        hostname: &str,
        change: &HypervisorChange,
    ) -> Result<()> {
        Self::check_site(site)?;
        self.update_world(|w| {
            let known = w
                .hypervisors
                .values()
                .filter(|h| h.site == site)
                .map(|h| h.hostname.clone())
                .collect::<Vec<_>>()
                .join(", ");
            let h =
                w.hypervisors
                    .get_mut(&format!("{site}/{hostname}"))
                    .ok_or_else(|| {
                        Error::new(
                    ErrorKind::NotFound,
                    format!("hypervisor '{hostname}' does not exist on {site} (it has: {known})"),
                )
                    })?;
            if let Some(v) = change.vcpus {
                h.vcpus = v;
            }
            if let Some(v) = change.memory_mb {
                h.memory_mb = v;
            }
            if let Some(v) = change.enabled {
                h.enabled = v;
            }
            Ok(())
        })?
    }
}
