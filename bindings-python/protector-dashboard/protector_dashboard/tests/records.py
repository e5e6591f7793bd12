"""Real ``protector.types`` records for the tests, complete enough for the engine's views
(``protector.views`` deserializes each into its Rust model): what the mocked api functions
return."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from protector import types

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PROJECT = "9f1e2d3c4b5a49687766554433221100"


def uid(name: str) -> str:
    """A stable UUID per name, so tests can name ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def site(name: str = "site-a", site_type: str = "primary", status: str = "active") -> types.Site:
    return types.Site(
        {
            "id": uid("site:" + name),
            "name": name,
            "description": "",
            "site_type": site_type,
            "auth_url": f"http://{name}.example.com:5000/v3",
            "region_name": "RegionOne",
            "status": status,
            "cloud": name,
            "created_at": NOW,
        }
    )


def group(name: str = "web", status: str = "active", **fields: Any) -> types.ProtectionGroup:
    data = {
        "id": uid("group:" + name),
        "name": name,
        "description": f"{name} tier",
        "project_id": PROJECT,
        "project_name": "demo",
        "primary_site": "site-a",
        "secondary_site": "site-b",
        "current_primary_site": "site-b" if status == "failed_over" else "site-a",
        "replication_type": "async",
        "volume_type": "pure-replicated",
        "status": status,
        "failover_count": 0,
        "last_failover_at": None,
        "consistency_group": {
            "id": uid("cg:" + name),
            "primary_cg_id": uid("cinder-cg:" + name),
            "secondary_cg_id": None,
            "array_group": f"pg-{name}",
            "backend_name": None,
        },
        "metadata": {"version": 3, "checksum": "ab" * 32, "modified_at": NOW},
        "active_operation_id": None,
        "fence_required_on": None,
        "last_operation_id": None,
        "test_failover": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    data.update(fields)
    return types.ProtectionGroup(data)


def operation(
    name: str = "op1",
    group_record: types.ProtectionGroup | None = None,
    status: str = "running",
    operation_type: str = "failover",
    **fields: Any,
) -> types.Operation:
    data = {
        "id": uid("operation:" + name),
        "operation_type": operation_type,
        "group_id": str(group_record.id) if group_record else None,
        "group_name": str(group_record.name) if group_record else None,
        "status": status,
        "progress": 45 if status == "running" else 100,
        "phase": "storage",
        "steps_completed": ["validate", "promote_snapshot"],
        "steps_failed": [],
        "error_message": None,
        "source_site": "site-a",
        "target_site": "site-b",
        "started_at": NOW,
        "completed_at": None if status in ("pending", "running") else NOW,
        "instances_created": 0,
        "instances_failed": 0,
        "total_protection_groups": None,
        "completed_count": None,
        "failed_count": None,
        "data_loss": None,
        "group_results": [],
    }
    data.update(fields)
    return types.Operation(data)


def group_result(
    group_record: types.ProtectionGroup, status: str = "completed", error: str | None = None
) -> dict[str, Any]:
    return {
        "group_id": str(group_record.id),
        "group_name": str(group_record.name),
        "project_id": PROJECT,
        "operation_id": uid("operation:site:" + str(group_record.name)),
        "status": status,
        "error_message": error,
    }


def member(name: str = "vm-1", group_record: types.ProtectionGroup | None = None) -> types.Member:
    group_record = group_record or group()
    instance = uid("instance:" + name)
    return types.Member(
        {
            "id": uid("member:" + name),
            "group_id": str(group_record.id),
            "instance_id": instance,
            "instance_name": name,
            "status": "protected",
            "error_message": None,
            "recovery": {
                "flavor": {"id": "f1", "name": "m1.small"},
                "networks": [],
                "security_groups": [],
                "key_name": None,
                "availability_zone": None,
                "volumes": [
                    {
                        "volume_id": uid("volume:" + name),
                        "name": f"{name}-boot",
                        "size_gb": 10,
                        "bootable": True,
                        "device": "/dev/vda",
                        "boot_index": 0,
                        "array_volume": f"volume-{name}",
                        "volume_type": "pure-replicated",
                    }
                ],
            },
            "current": {
                "site": "site-a",
                "instance_id": instance,
                "volume_ids": [uid("volume:" + name)],
                "array_volumes": [f"volume-{name}"],
                "port_ids": [],
            },
            "standby": None,
        }
    )


def policy(group_record: types.ProtectionGroup) -> types.ReplicationPolicy:
    return types.ReplicationPolicy(
        {
            "group_id": str(group_record.id),
            "primary_array": {
                "url": "https://array-a.example.com",
                "ca_file": None,
                "allow_insecure_http": False,
            },
            "secondary_array": {
                "url": "https://array-b.example.com",
                "ca_file": None,
                "allow_insecure_http": False,
            },
            "pure_pg_name": f"pg-{group_record.name}",
            "replication_interval_secs": 300,
            "rpo_minutes": 15,
            "primary_array_name": "array-a",
            "secondary_array_name": "array-b",
        }
    )


def volume_type(name: str = "pure-replicated") -> types.VolumeType:
    return types.VolumeType(
        {
            "id": uid("vt:" + name),
            "name": name,
            "extra_specs": {"volume_backend_name": "pure", "replication_enabled": "<is> True"},
        }
    )


def validation(name: str = "site-a") -> types.SiteValidation:
    return types.SiteValidation(
        {
            "name": name,
            "status": "active",
            "keystone": "ok",
            "nova": "ok",
            "cinder": "ok",
            "neutron": "ok",
            "volume_manage": "ok",
        }
    )


def mappings(group_record: types.ProtectionGroup) -> types.GroupMappings:
    return types.GroupMappings(
        {
            "group_id": str(group_record.id),
            "from_site": "site-a",
            "to_site": "site-b",
            "mappings": {
                "networks": {"web-net": "web-net-dr"},
                "flavors": {},
                "security_groups": {},
            },
        }
    )


def plan(group_record: types.ProtectionGroup, unplanned: bool = False) -> types.Plan:
    recovery_point = None
    if unplanned:
        recovery_point = {
            "snapshot": f"pg-{group_record.name}.42",
            "created_at": NOW,
            "replicated_at": NOW,
            "array_time": NOW,
            "age_secs": 240,
            "changed_bytes": 1048576,
            "data_at_risk": "about 4 minutes of writes (1.0 MiB changed)",
        }
    return types.Plan(
        {
            "id": uid("plan:" + str(group_record.name)),
            "mode": "unplanned" if unplanned else "planned",
            "group_id": str(group_record.id),
            "group_name": str(group_record.name),
            "source_site": "site-a",
            "target_site": "site-b",
            "replication_type": "async",
            "steps": [
                {
                    "id": "s1",
                    "name": "validate",
                    "phase": "preparation",
                    "description": "Check both sites",
                    "depends_on": [],
                },
                {
                    "id": "s2",
                    "name": "promote_snapshot",
                    "phase": "storage",
                    "description": "Promote the latest replicated snapshot",
                    "depends_on": ["s1"],
                },
            ],
            "findings": [
                {
                    "severity": "warning",
                    "kind": "flavor",
                    "code": "flavor_mapped",
                    "message": "flavor m1.small is mapped by name",
                    "member": None,
                    "hint": None,
                }
            ],
            "recovery_point": recovery_point,
            "source_reachable": not unplanned,
        }
    )


def overview(
    group_record: types.ProtectionGroup,
    member_count: int = 2,
    replication_status: str = "ok",
    sync_status: str = "SYNCED",
    last_operation: types.Operation | None = None,
) -> Any:
    """A ``GroupOverview`` (``engine.group_overviews()``'s records)."""
    return types.GroupOverview(
        {
            "group": group_record.to_dict(),
            "member_count": member_count,
            "replication_status": replication_status,
            "replication_lag_seconds": 120,
            "rpo_minutes": 15,
            "replication_error": None,
            "sync_status": sync_status,
            "last_operation": last_operation.to_dict() if last_operation else None,
        }
    )


def candidate(name: str, eligible: bool = True, reason: str | None = None) -> Any:
    """A ``MemberCandidate`` (``engine.member_candidates(group)``'s records)."""
    return types.MemberCandidate(
        {
            "instance_id": uid("instance:" + name),
            "name": name,
            "status": "ACTIVE",
            "eligible": eligible,
            "reason": reason,
        }
    )


def drill(group_name: str, status: str = "ready") -> dict[str, Any]:
    """A group's ``test_failover`` record (a test failover in progress or done)."""
    return {
        "operation_id": uid("operation:drill:" + group_name),
        "status": status,
        "source_site": "site-a",
        "site": "site-b",
        "snapshot": f"pg-{group_name}.41",
        "started_at": NOW,
        "completed_at": NOW,
        "members": [],
    }


class Handle:
    """What a long operation's call returns (the engine's ``OperationHandle``): its id."""

    def __init__(self, operation_id: str) -> None:
        self.id = operation_id


def consistency_group(group_record: types.ProtectionGroup) -> types.ConsistencyGroup:
    return types.ConsistencyGroup(
        {
            "id": uid("cg:" + str(group_record.name)),
            "protection_group_id": str(group_record.id),
            "protection_group": str(group_record.name),
            "volume_type_name": "pure-replicated",
            "status": "available",
            "volume_count": 2,
            "replication_type": "async",
            "pure_pg_name": f"pg-{group_record.name}",
            "replication_source_site": "site-a",
            "replication_target_site": "site-b",
            "replication_status": "rpo_exceeded",
            "last_replicated_snapshot": f"pg-{group_record.name}.42",
            "last_replicated_at": NOW,
            "array_time": NOW,
            "replication_lag_seconds": 1260,
            "rpo_minutes": 15,
            "replication_error": None,
        }
    )


def sync_status(group_record: types.ProtectionGroup) -> types.SyncStatus:
    return types.SyncStatus(
        {
            "group": str(group_record.name),
            "in_sync": True,
            "local_version": 3,
            "local_site": "site-a",
            "current_site": "site-a",
            "last_modified": NOW,
            "remote_site": "site-b",
            "remote_status": "synced",
            "remote_version": 3,
            "last_sync": NOW,
            "error": None,
        }
    )
