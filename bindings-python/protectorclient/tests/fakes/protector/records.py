"""Records of the real ``protector.types`` with plausible values, for the tests (``**fields``
overrides any field)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import types

T0 = datetime(2025, 6, 1, 9, 0, 0, tzinfo=UTC)
GROUP_ID = "12345678-1234-1234-1234-123456789abc"
OP_ID = "a1b2c3d4-0000-0000-0000-000000000001"


def site(**fields: Any) -> types.Site:
    return types.Site(
        {
            "id": "1a2b3c4d-0000-0000-0000-000000000001",
            "name": "site-a",
            "description": "",
            "site_type": "primary",
            "auth_url": "http://10.0.1.10:5000/v3",
            "region_name": "RegionOne",
            "status": "active",
            "cloud": None,
            "created_at": T0,
            **fields,
        }
    )


def site_validation(**fields: Any) -> types.SiteValidation:
    return types.SiteValidation(
        {
            "name": "site-a",
            "status": "active",
            "keystone": "ok",
            "nova": "ok",
            "cinder": "ok",
            "neutron": "ok",
            "volume_manage": "ok",
            **fields,
        }
    )


def volume_type(**fields: Any) -> types.VolumeType:
    return types.VolumeType(
        {
            "id": "abcd1234-0000-0000-0000-000000000010",
            "name": "replicated-ssd",
            "extra_specs": {"replication_enabled": "<is> True", "replication_type": "<in> async"},
            **fields,
        }
    )


def group(**fields: Any) -> types.ProtectionGroup:
    return types.ProtectionGroup(
        {
            "id": GROUP_ID,
            "name": "prod-web-app",
            "description": "",
            "project_id": "p1",
            "project_name": "production-project",
            "primary_site": "site-a",
            "secondary_site": "site-b",
            "current_primary_site": "site-a",
            "replication_type": "async",
            "volume_type": "replicated-ssd",
            "status": "active",
            "failover_count": 0,
            "last_failover_at": None,
            "active_operation_id": None,
            "fence_required_on": None,
            "last_operation_id": None,
            "created_at": T0,
            "updated_at": T0,
            **fields,
        }
    )


def member(**fields: Any) -> types.Member:
    return types.Member(
        {
            "id": "aaaabbbb-1234-5678-90ab-ccddeeff0011",
            "group_id": GROUP_ID,
            "instance_id": "a1b2c3d4-1111-2222-3333-aabbccddeeff",
            "instance_name": "web-server-1",
            "status": "protected",
            "error_message": None,
            "current": {
                "site": "site-a",
                "instance_id": "a1b2c3d4-1111-2222-3333-aabbccddeeff",
                "volume_ids": ["v1", "v2"],
                "array_volumes": [],
                "port_ids": [],
            },
            "standby": None,
            "priority": 3,
            "depends_on": [],
            **fields,
        }
    )


def policy(**fields: Any) -> types.ReplicationPolicy:
    endpoint = {"ca_file": None, "allow_insecure_http": False}
    return types.ReplicationPolicy(
        {
            "group_id": GROUP_ID,
            "primary_array": {"url": "https://flasharray-a.example.com", **endpoint},
            "secondary_array": {"url": "https://flasharray-b.example.com", **endpoint},
            "pure_pg_name": "pg-prod-web-app",
            "replication_interval_secs": 300,
            "rpo_minutes": 15,
            "primary_array_name": None,
            "secondary_array_name": None,
            **fields,
        }
    )


def group_mappings(**fields: Any) -> types.GroupMappings:
    return types.GroupMappings(
        {
            "group_id": GROUP_ID,
            "from_site": "site-a",
            "to_site": "site-b",
            "mappings": {
                "networks": {"net-primary-web": "net-secondary-web"},
                "flavors": {"m1.large": "m2.large"},
                "security_groups": {},
            },
            **fields,
        }
    )


def tenant_mapping(**fields: Any) -> types.TenantMapping:
    return types.TenantMapping(
        {
            "id": "tm-1",
            "local_site": "site-a",
            "local_tenant": "p-a",
            "remote_site": "site-b",
            "remote_tenant": "p-b",
            "description": "Production tenant mapping",
            **fields,
        }
    )


def sync_status(**fields: Any) -> types.SyncStatus:
    return types.SyncStatus(
        {
            "group": "prod-web-app",
            "in_sync": True,
            "local_version": 4,
            "local_site": "site-a",
            "current_site": "site-a",
            "last_modified": datetime(2025, 1, 15, 9, 15, 0, tzinfo=UTC),
            "remote_site": "site-b",
            "remote_status": "SYNCED",
            "remote_version": 4,
            "last_sync": datetime(2025, 1, 15, 9, 15, 5, tzinfo=UTC),
            "error": None,
            **fields,
        }
    )


def sync_force(**fields: Any) -> types.SyncForceResult:
    return types.SyncForceResult(
        {
            "group": "prod-web-app",
            "pushed_to": "site-b",
            "source_site": "site-a",
            "version": 5,
            "checksum": "abc",
            "duration_ms": 450,
            **fields,
        }
    )


def sync_log_entry(**fields: Any) -> types.SyncLogEntry:
    return types.SyncLogEntry(
        {
            "group_id": GROUP_ID,
            "at": T0,
            "version": 5,
            "peer_site": "site-b",
            "result": "success",
            "reason": "member_add",
            "error": None,
            **fields,
        }
    )


def consistency_group(**fields: Any) -> types.ConsistencyGroup:
    return types.ConsistencyGroup(
        {
            "id": "cg-1",
            "protection_group_id": GROUP_ID,
            "protection_group": "prod-web-app",
            "volume_type_name": "replicated-ssd",
            "status": "active",
            "volume_count": 7,
            "replication_type": "async",
            "pure_pg_name": "pg-prod-web-app",
            "replication_source_site": "site-a",
            "replication_target_site": "site-b",
            "replication_status": "ok",
            "last_replicated_snapshot": None,
            "last_replicated_at": None,
            "array_time": None,
            "replication_lag_seconds": 42,
            "rpo_minutes": 15,
            "replication_error": None,
            **fields,
        }
    )


def operation(**fields: Any) -> types.Operation:
    return types.Operation(
        {
            "id": OP_ID,
            "operation_type": "failover",
            "group_id": GROUP_ID,
            "group_name": "prod-web-app",
            "status": "running",
            "progress": 0,
            "phase": "preparation",
            "steps_completed": [],
            "steps_failed": [],
            "error_message": None,
            "source_site": "site-a",
            "target_site": "site-b",
            "started_at": T0,
            "completed_at": None,
            "instances_created": 0,
            "instances_failed": 0,
            "data_loss": None,
            "group_results": [],
            **fields,
        }
    )


def group_result(**fields: Any) -> dict[str, Any]:
    return {
        "group_id": GROUP_ID,
        "group_name": "prod-web-app",
        "project_id": "p1",
        "operation_id": None,
        "status": "pending",
        "error_message": None,
        **fields,
    }
