//! What a project may still create on a site, and where: quotas with their usage (Nova
//! `GET /limits`, Cinder `GET /v3/{project_id}/limits`, Neutron
//! `GET /v2.0/quotas/{project_id}/details`), hypervisor capacity and availability zones.

use serde::{Deserialize, Serialize};

/// One quota of a project and how much of it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaUsage {
    /// The limit; `None` when unlimited (the services' `-1`).
    pub limit: Option<u64>,
    /// In use now (Neutron: used plus reserved).
    pub used: u64,
}

impl QuotaUsage {
    /// From a service's signed limit, where any negative value means unlimited.
    pub fn new(limit: i64, used: i64) -> Self {
        QuotaUsage {
            limit: u64::try_from(limit).ok(),
            used: u64::try_from(used).unwrap_or(0),
        }
    }

    /// How much more may be created; `None` when unlimited.
    pub fn free(&self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.used))
    }
}

/// Nova's absolute limits of the scoped project (`GET /limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeLimits {
    /// `maxTotalInstances` / `totalInstancesUsed`.
    pub instances: QuotaUsage,
    /// `maxTotalCores` / `totalCoresUsed`.
    pub cores: QuotaUsage,
    /// `maxTotalRAMSize` / `totalRAMUsed`, in MiB.
    pub ram_mb: QuotaUsage,
}

/// Cinder's absolute limits of the scoped project (`GET /v3/{project_id}/limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeLimits {
    /// `maxTotalVolumes` / `totalVolumesUsed`.
    pub volumes: QuotaUsage,
    /// `maxTotalVolumeGigabytes` / `totalGigabytesUsed`.
    pub gigabytes: QuotaUsage,
}

/// A compute node as `GET /os-hypervisors/detail` reports it (microversion below 2.88, the
/// last one that reports vCPUs and memory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hypervisor {
    /// Id (an integer before 2.53, a UUID after, always as text).
    pub id: String,
    /// `hypervisor_hostname`.
    pub hostname: String,
    /// The nova-compute service host (`service.host`): what availability zones list.
    pub service_host: String,
    /// `state == "up"`.
    pub up: bool,
    /// `status == "enabled"`.
    pub enabled: bool,
    /// Physical vCPUs.
    pub vcpus: u64,
    /// vCPUs allocated to instances.
    pub vcpus_used: u64,
    /// Memory in MiB.
    pub memory_mb: u64,
    /// Memory allocated to instances (and reserved for the host), in MiB.
    pub memory_mb_used: u64,
}

/// An availability zone of Nova (`GET /os-availability-zone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityZone {
    /// `zoneName`.
    pub name: String,
    /// `zoneState.available`.
    pub available: bool,
    /// Compute hosts in the zone; empty when the caller may not see them (the host list
    /// comes from the admin-only `/os-availability-zone/detail`).
    #[serde(default)]
    pub hosts: Vec<String>,
}
