//! Limits, quotas, hypervisors and availability zones: Nova `GET /limits`,
//! `GET /os-hypervisors/detail` (at 2.87, the last microversion that reports vCPUs and
//! memory), `GET /os-availability-zone[/detail]`, Cinder `GET /v3/{project_id}/limits` and
//! Neutron `GET /v2.0/quotas/{project_id}/details`.

use std::collections::BTreeMap;

use protector_core::api::{AvailabilityZone, ComputeLimits, Hypervisor, QuotaUsage, VolumeLimits};
use protector_core::{ErrorKind, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::service::{take, ServiceClient, Versions};

/// `GET /limits`: the absolute limits have not changed in what we read since 2.1.
const LIMITS: Versions = Versions::exactly(2, 1);
/// `os-hypervisors`: 2.88 drops `vcpus`, `memory_mb` and their usage, so stay below it.
const HYPERVISORS: Versions = Versions::range((2, 1), (2, 87));
/// `os-availability-zone`: unchanged since 2.1.
const ZONES: Versions = Versions::exactly(2, 1);
/// Cinder's limits: unchanged since 3.0.
const VOLUME_LIMITS: Versions = Versions::exactly(3, 0);

/// Nova's and Cinder's `{"limits": {"absolute": {...}}}`.
#[derive(Debug, Deserialize)]
struct LimitsWire {
    absolute: BTreeMap<String, Value>,
}

impl LimitsWire {
    /// `max` with its `used`; a missing limit is unlimited, a missing usage 0.
    fn usage(&self, max: &str, used: &str) -> QuotaUsage {
        let number = |key: &str, default: i64| {
            self.absolute
                .get(key)
                .and_then(Value::as_i64)
                .unwrap_or(default)
        };
        QuotaUsage::new(number(max, -1), number(used, 0))
    }
}

pub(crate) async fn compute_limits(service: &ServiceClient) -> Result<ComputeLimits> {
    let request = service
        .request(
            Method::GET,
            &["limits"],
            "show compute limits",
            Some(LIMITS),
        )
        .await?;
    let limits: LimitsWire = take(&service.send(&request).await?, "limits")?;
    Ok(ComputeLimits {
        instances: limits.usage("maxTotalInstances", "totalInstancesUsed"),
        cores: limits.usage("maxTotalCores", "totalCoresUsed"),
        ram_mb: limits.usage("maxTotalRAMSize", "totalRAMUsed"),
    })
}

pub(crate) async fn volume_limits(service: &ServiceClient) -> Result<VolumeLimits> {
    let request = service
        .request(
            Method::GET,
            &["limits"],
            "show volume limits",
            Some(VOLUME_LIMITS),
        )
        .await?;
    let limits: LimitsWire = take(&service.send(&request).await?, "limits")?;
    Ok(VolumeLimits {
        volumes: limits.usage("maxTotalVolumes", "totalVolumesUsed"),
        gigabytes: limits.usage("maxTotalVolumeGigabytes", "totalGigabytesUsed"),
    })
}

/// One resource of Neutron's quota details.
#[derive(Debug, Deserialize)]
struct QuotaDetailWire {
    limit: i64,
    #[serde(default)]
    used: i64,
    #[serde(default)]
    reserved: i64,
}

pub(crate) async fn port_quota(service: &ServiceClient, project_id: &str) -> Result<QuotaUsage> {
    let request = service
        .request(
            Method::GET,
            &["quotas", project_id, "details"],
            format!("show quota details of project {project_id}"),
            None,
        )
        .await?;
    let mut quota: BTreeMap<String, QuotaDetailWire> =
        take(&service.send(&request).await?, "quota")?;
    let port = quota.remove("port").unwrap_or(QuotaDetailWire {
        limit: -1,
        used: 0,
        reserved: 0,
    });
    Ok(QuotaUsage::new(port.limit, port.used + port.reserved))
}

#[derive(Debug, Deserialize)]
struct HypervisorWire {
    /// An integer before 2.53, a UUID from then on.
    id: Value,
    hypervisor_hostname: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    vcpus: u64,
    #[serde(default)]
    vcpus_used: u64,
    #[serde(default)]
    memory_mb: u64,
    #[serde(default)]
    memory_mb_used: u64,
    #[serde(default)]
    service: Option<HypervisorServiceWire>,
}

#[derive(Debug, Deserialize)]
struct HypervisorServiceWire {
    host: String,
}

pub(crate) async fn hypervisors(service: &ServiceClient) -> Result<Vec<Hypervisor>> {
    let request = service
        .request(
            Method::GET,
            &["os-hypervisors", "detail"],
            "list hypervisors",
            Some(HYPERVISORS),
        )
        .await?;
    let wire: Vec<HypervisorWire> = service.list(request, "hypervisors").await?;
    Ok(wire
        .into_iter()
        .map(|h| Hypervisor {
            id: match h.id {
                Value::String(s) => s,
                other => other.to_string(),
            },
            service_host: h
                .service
                .map_or_else(|| h.hypervisor_hostname.clone(), |s| s.host),
            hostname: h.hypervisor_hostname,
            up: h.state == "up",
            enabled: h.status == "enabled",
            vcpus: h.vcpus,
            vcpus_used: h.vcpus_used,
            memory_mb: h.memory_mb,
            memory_mb_used: h.memory_mb_used,
        })
        .collect())
}

#[derive(Debug, Deserialize)]
struct ZoneWire {
    #[serde(rename = "zoneName")]
    name: String,
    #[serde(rename = "zoneState")]
    state: ZoneStateWire,
    /// host → service name → state; `null` in the plain list.
    #[serde(default)]
    hosts: Option<BTreeMap<String, BTreeMap<String, Value>>>,
}

#[derive(Debug, Deserialize)]
struct ZoneStateWire {
    available: bool,
}

/// Nova's zones: the detail (with the compute hosts of each zone) when the policy allows it,
/// else the plain list. The `internal` zone of Nova's control services is left out.
pub(crate) async fn availability_zones(service: &ServiceClient) -> Result<Vec<AvailabilityZone>> {
    let detail = service
        .request(
            Method::GET,
            &["os-availability-zone", "detail"],
            "list availability zones",
            Some(ZONES),
        )
        .await?;
    let response = match service.send(&detail).await {
        Ok(response) => response,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            let plain = service
                .request(
                    Method::GET,
                    &["os-availability-zone"],
                    "list availability zones",
                    Some(ZONES),
                )
                .await?;
            service.send(&plain).await?
        }
        Err(e) => return Err(e),
    };
    let zones: Vec<ZoneWire> = take(&response, "availabilityZoneInfo")?;
    Ok(zones
        .into_iter()
        .filter(|z| z.name != "internal")
        .map(|z| AvailabilityZone {
            name: z.name,
            available: z.state.available,
            hosts: z
                .hosts
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, services)| services.contains_key("nova-compute"))
                .map(|(host, _)| host)
                .collect(),
        })
        .collect())
}
