//! Limits, quotas, hypervisors and availability zones: request lines, microversions and
//! decoding of the real response shapes, and the refusals callers turn into warnings.

use protector_core::api::{
    AvailabilityZone, BlockStorageApi, ComputeApi, ComputeLimits, Hypervisor, NetworkApi,
    QuotaUsage, VolumeLimits,
};
use protector_core::ErrorKind;
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn compute_limits_read_the_absolute_limits_with_unlimited_as_none() {
    let f = Fixture::start().await;
    nova("GET", "limits", "2.1")
        .respond_with(json_response(
            200,
            json!({"limits": {"rate": [], "absolute": {
                "maxServerMeta": 128, "maxPersonality": 5, "totalServerGroupsUsed": 0,
                "maxImageMeta": 128, "maxPersonalitySize": 10240, "maxTotalKeypairs": 100,
                "maxSecurityGroupRules": 20, "maxServerGroups": 10, "totalCoresUsed": 6,
                "totalRAMUsed": 6144, "totalInstancesUsed": 3, "maxSecurityGroups": 10,
                "totalFloatingIpsUsed": 0, "maxTotalCores": -1, "maxServerGroupMembers": 10,
                "maxTotalFloatingIps": 10, "totalSecurityGroupsUsed": 1,
                "maxTotalInstances": 10, "maxTotalRAMSize": 51200}}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let limits = f.cloud.compute().get_limits().await.unwrap();
    assert_eq!(
        limits,
        ComputeLimits {
            instances: QuotaUsage {
                limit: Some(10),
                used: 3
            },
            cores: QuotaUsage {
                limit: None,
                used: 6
            },
            ram_mb: QuotaUsage {
                limit: Some(51200),
                used: 6144
            },
        }
    );
    assert_eq!(limits.instances.free(), Some(7));
    assert_eq!(limits.cores.free(), None);
}

#[tokio::test]
async fn volume_limits_are_read_under_the_project() {
    let f = Fixture::start().await;
    cinder("GET", "limits", "3.0")
        .respond_with(json_response(
            200,
            json!({"limits": {"rate": [], "absolute": {
                "totalSnapshotsUsed": 0, "maxTotalBackups": 10,
                "maxTotalVolumeGigabytes": 1000, "maxTotalSnapshots": 10,
                "maxTotalBackupGigabytes": 1000, "totalBackupGigabytesUsed": 0,
                "maxTotalVolumes": 10, "totalVolumesUsed": 4, "totalBackupsUsed": 0,
                "totalGigabytesUsed": 180}}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(
        f.cloud.block_storage().get_limits().await.unwrap(),
        VolumeLimits {
            volumes: QuotaUsage {
                limit: Some(10),
                used: 4
            },
            gigabytes: QuotaUsage {
                limit: Some(1000),
                used: 180
            },
        }
    );
}

#[tokio::test]
async fn the_port_quota_counts_reserved_ports_as_used() {
    let f = Fixture::start().await;
    neutron("GET", &format!("quotas/{PROJECT}/details"))
        .respond_with(json_response(
            200,
            json!({"quota": {
                "network": {"limit": 100, "used": 2, "reserved": 0},
                "port": {"limit": 500, "used": 7, "reserved": 2},
                "security_group": {"limit": 10, "used": 3, "reserved": 0}}}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(
        f.cloud.network().get_port_quota(PROJECT).await.unwrap(),
        QuotaUsage {
            limit: Some(500),
            used: 9
        }
    );
}

#[tokio::test]
async fn hypervisors_are_read_below_2_88() {
    let f = Fixture::start().await;
    nova("GET", "os-hypervisors/detail", "2.87")
        .respond_with(json_response(
            200,
            json!({"hypervisors": [{
                "id": "b1e43b5f-eec1-44e0-9f10-7b4945c0226d",
                "hypervisor_hostname": "compute-1.example.org", "state": "up",
                "status": "enabled", "vcpus": 32, "vcpus_used": 12, "memory_mb": 131072,
                "memory_mb_used": 25088, "local_gb": 1000, "local_gb_used": 0,
                "hypervisor_type": "QEMU", "hypervisor_version": 8002000,
                "running_vms": 3, "current_workload": 0, "free_disk_gb": 1000,
                "free_ram_mb": 105984, "disk_available_least": 900, "cpu_info": "{}",
                "host_ip": "192.0.2.11",
                "service": {"host": "compute-1", "id": "c0ffee", "disabled_reason": null}
            }, {
                "id": "0f3a8a90-1c1a-4c38-a8b4-0d1f8b3b6a2e",
                "hypervisor_hostname": "compute-2.example.org", "state": "down",
                "status": "disabled", "vcpus": 16, "vcpus_used": 0, "memory_mb": 65536,
                "memory_mb_used": 512,
                "service": {"host": "compute-2", "id": "beef", "disabled_reason": "maintenance"}
            }]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let hypervisors = f.cloud.compute().list_hypervisors().await.unwrap();
    assert_eq!(
        hypervisors[0],
        Hypervisor {
            id: "b1e43b5f-eec1-44e0-9f10-7b4945c0226d".into(),
            hostname: "compute-1.example.org".into(),
            service_host: "compute-1".into(),
            up: true,
            enabled: true,
            vcpus: 32,
            vcpus_used: 12,
            memory_mb: 131072,
            memory_mb_used: 25088,
        }
    );
    assert!(!hypervisors[1].up && !hypervisors[1].enabled);
}

#[tokio::test]
async fn hypervisors_without_admin_are_permission_denied() {
    let f = Fixture::start().await;
    nova("GET", "os-hypervisors/detail", "2.87")
        .respond_with(nova_fault(
            403,
            "forbidden",
            "Policy doesn't allow os_compute_api:os-hypervisors:list-detail to be performed.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let err = f.cloud.compute().list_hypervisors().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.message().contains("os-hypervisors:list-detail"),
        "{err}"
    );
}

#[tokio::test]
async fn hypervisor_ids_of_an_old_nova_are_integers() {
    let f = Fixture::with_versions("2.40", "3.71").await;
    nova("GET", "os-hypervisors/detail", "2.40")
        .respond_with(json_response(
            200,
            json!({"hypervisors": [{"id": 7, "hypervisor_hostname": "c7", "state": "up",
                "status": "enabled", "vcpus": 8, "vcpus_used": 1, "memory_mb": 16384,
                "memory_mb_used": 2560, "service": {"host": "c7", "id": 3, "disabled_reason": null}}]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let hypervisors = f.cloud.compute().list_hypervisors().await.unwrap();
    assert_eq!(hypervisors[0].id, "7");
}

#[tokio::test]
async fn zones_come_from_the_detail_with_their_compute_hosts() {
    let f = Fixture::start().await;
    nova("GET", "os-availability-zone/detail", "2.1")
        .respond_with(json_response(
            200,
            json!({"availabilityZoneInfo": [
                {"zoneName": "internal", "zoneState": {"available": true}, "hosts": {
                    "controller": {"nova-conductor": {"available": true, "active": true,
                                    "updated_at": "2026-12-06T12:00:00.000000"}}}},
                {"zoneName": "nova", "zoneState": {"available": true}, "hosts": {
                    "compute-1": {"nova-compute": {"available": true, "active": true,
                                   "updated_at": "2026-12-06T12:00:00.000000"}}}},
                {"zoneName": "az-2", "zoneState": {"available": false}, "hosts": null}
            ]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(
        f.cloud.compute().list_availability_zones().await.unwrap(),
        vec![
            AvailabilityZone {
                name: "nova".into(),
                available: true,
                hosts: vec!["compute-1".into()],
            },
            AvailabilityZone {
                name: "az-2".into(),
                available: false,
                hosts: Vec::new(),
            },
        ]
    );
}

#[tokio::test]
async fn zones_fall_back_to_the_plain_list_without_admin() {
    let f = Fixture::start().await;
    nova("GET", "os-availability-zone/detail", "2.1")
        .respond_with(nova_fault(
            403,
            "forbidden",
            "Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed.",
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    nova("GET", "os-availability-zone", "2.1")
        .respond_with(json_response(
            200,
            json!({"availabilityZoneInfo": [
                {"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}]}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    assert_eq!(
        f.cloud.compute().list_availability_zones().await.unwrap(),
        vec![AvailabilityZone {
            name: "nova".into(),
            available: true,
            hosts: Vec::new(),
        }]
    );
}
