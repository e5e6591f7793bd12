"""A fake ``protector.views`` with the real contract (see the views brief):

    columns(kind) -> list[(key, heading)]
    rows(kind, records) -> list[tuple]            JSON-plain values in column order
    show(kind, record, **context) -> list[(field, value)]

The keys, headings and field order follow ``cli/src/views.rs`` (the spec's tables) closely
enough for the plugin's tests, which check that the plugin shows exactly what the views give.
Unknown kinds are a ``ValueError``, a record of the wrong type a ``TypeError``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from . import types


def _time(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _op(value: Any) -> Any:
    return None if value is None else f"op-{value}"


def _field(record: Any, name: str, default: Any = None) -> Any:
    return _plain(getattr(record, name, default))


_LISTS: dict[str, tuple[type, list[tuple[str, str]], Callable[[Any], list[Any]]]] = {
    "sites": (
        types.Site,
        [
            ("id", "id"),
            ("name", "name"),
            ("site_type", "type"),
            ("auth_url", "auth_url"),
            ("region_name", "region_name"),
            ("status", "status"),
        ],
        lambda s: [
            _field(s, k) for k in ("id", "name", "site_type", "auth_url", "region_name", "status")
        ],
    ),
    "volume_types": (
        types.VolumeType,
        [
            ("id", "id"),
            ("name", "name"),
            ("replication_enabled", "replication_enabled"),
            ("replication_type", "replication_type"),
        ],
        lambda t: [
            t.id,
            t.name,
            t.extra_specs.get("replication_enabled", ""),
            t.extra_specs.get("replication_type", ""),
        ],
    ),
    "groups": (
        types.ProtectionGroup,
        [
            (k, k)
            for k in (
                "id",
                "name",
                "status",
                "replication_type",
                "primary_site",
                "secondary_site",
                "current_primary_site",
                "failover_count",
            )
        ],
        lambda g: [
            _field(g, k)
            for k in (
                "id",
                "name",
                "status",
                "replication_type",
                "primary_site",
                "secondary_site",
                "current_primary_site",
                "failover_count",
            )
        ],
    ),
    "members": (
        types.Member,
        [
            ("id", "ID"),
            ("instance_name", "Instance Name"),
            ("instance_id", "Instance ID"),
            ("status", "Status"),
            ("volumes", "Volumes"),
            ("current_site", "Current Site"),
            ("current_instance_id", "Current Instance ID"),
            ("priority", "Priority"),
            ("depends_on", "Depends On"),
        ],
        lambda m: [
            m.id,
            m.instance_name,
            m.instance_id,
            _plain(m.status),
            len(m.current.volume_ids),
            m.current.site,
            m.current.instance_id,
            m.priority,
            list(m.depends_on),
        ],
    ),
    "sync_log": (
        types.SyncLogEntry,
        [(k, k) for k in ("at", "version", "peer_site", "result", "reason", "error")],
        lambda e: [
            _field(e, k) for k in ("at", "version", "peer_site", "result", "reason", "error")
        ],
    ),
    "operations": (
        types.Operation,
        [
            (k, k)
            for k in (
                "id",
                "operation_type",
                "protection_group",
                "status",
                "progress",
                "source_site",
                "target_site",
                "started_at",
            )
        ],
        lambda o: [
            _op(o.id),
            _plain(o.operation_type),
            o.group_name,
            _plain(o.status),
            o.progress,
            o.source_site,
            o.target_site,
            _time(o.started_at),
        ],
    ),
    "tenant_mappings": (
        types.TenantMapping,
        [
            (k, k)
            for k in (
                "id",
                "local_site",
                "local_tenant",
                "remote_site",
                "remote_tenant",
                "description",
            )
        ],
        lambda t: [
            _field(t, k)
            for k in (
                "id",
                "local_site",
                "local_tenant",
                "remote_site",
                "remote_tenant",
                "description",
            )
        ],
    ),
}

_MAPPING_COLUMNS = [
    ("from_site", "From Site"),
    ("to_site", "To Site"),
    ("kind", "Kind"),
    ("source", "Source"),
    ("target", "Target"),
]
_GROUP_RESULT_COLUMNS = [
    (k, k)
    for k in (
        "protection_group",
        "group_id",
        "project_id",
        "status",
        "operation_id",
        "error_message",
    )
]

# The dashboard's lists: the plugin shows neither, so only their columns are faked.
_DASHBOARD_COLUMNS = {
    "group_overviews": [
        ("id", "ID"),
        ("name", "Name"),
        ("status", "Status"),
        ("replication_type", "Replication"),
        ("primary_site", "Primary Site"),
        ("current_primary_site", "Current Site"),
        ("member_count", "Members"),
        ("replication_lag", "Replication Lag"),
        ("replication_status", "RPO State"),
        ("sync_status", "Metadata Sync"),
        ("last_operation", "Last Operation"),
    ],
    "member_candidates": [
        ("instance_id", "Instance ID"),
        ("name", "Name"),
        ("status", "Status"),
        ("eligible", "Eligible"),
        ("reason", "Reason"),
    ],
}

LIST_KINDS = (*_LISTS, "mappings", "group_results", *_DASHBOARD_COLUMNS)
SHOW_KINDS = (
    "site",
    "site_validation",
    "group",
    "member",
    "member_added",
    "consistency_group",
    "policy",
    "sync_status",
    "sync_force",
    "operation",
    "tenant_mapping",
)


def columns(kind: str) -> list[tuple[str, str]]:
    if kind in _LISTS:
        return list(_LISTS[kind][1])
    if kind == "mappings":
        return list(_MAPPING_COLUMNS)
    if kind == "group_results":
        return list(_GROUP_RESULT_COLUMNS)
    if kind in _DASHBOARD_COLUMNS:
        return list(_DASHBOARD_COLUMNS[kind])
    raise ValueError(f"unknown list view {kind!r}: one of {', '.join(LIST_KINDS)}")


def _check(record: Any, expected: type) -> None:
    if not isinstance(record, expected):
        raise TypeError(f"expected a {expected.__name__} record, got {type(record).__name__}")


def rows(kind: str, records: Sequence[Any]) -> list[tuple[Any, ...]]:
    columns(kind)  # unknown kinds
    out: list[tuple[Any, ...]] = []
    if kind == "mappings":
        for entry in sorted(records, key=lambda e: (e.from_site, e.to_site)):
            _check(entry, types.GroupMappings)
            m = entry.mappings
            for name, pairs in (
                ("network", m.networks),
                ("flavor", m.flavors),
                ("security_group", m.security_groups),
            ):
                for source, target in sorted(pairs.items()):
                    out.append((entry.from_site, entry.to_site, name, source, target))
        return out
    if kind == "group_results":
        for op in records:
            _check(op, types.Operation)
            for r in op.group_results:
                out.append(
                    (
                        r.group_name,
                        r.group_id,
                        r.project_id,
                        _plain(r.status),
                        _op(r.operation_id),
                        r.error_message,
                    )
                )
        return out
    expected, _, row = _LISTS[kind]
    for record in records:
        _check(record, expected)
        out.append(tuple(row(record)))
    return out


def show(kind: str, record: Any, **context: Any) -> list[tuple[str, Any]]:
    if kind == "site":
        _check(record, types.Site)
        return [
            (k, _field(record, k))
            for k in (
                "id",
                "name",
                "description",
                "site_type",
                "auth_url",
                "region_name",
                "status",
                "cloud",
                "created_at",
            )
        ]
    if kind == "site_validation":
        _check(record, types.SiteValidation)
        return [
            (k, _field(record, k, "ok"))
            for k in ("name", "status", "keystone", "nova", "cinder", "neutron", "volume_manage")
        ]
    if kind == "group":
        _check(record, types.ProtectionGroup)
        return [
            (k, _field(record, k))
            for k in (
                "id",
                "name",
                "status",
                "current_primary_site",
                "primary_site",
                "secondary_site",
                "failover_count",
                "last_failover_at",
                "replication_type",
            )
        ]
    if kind == "member_added":
        _check(record, types.Member)
        return [
            ("id", record.id),
            ("instance_id", record.instance_id),
            ("instance_name", record.instance_name),
            ("status", _plain(record.status)),
            ("volumes_added", len(record.current.volume_ids)),
        ]
    if kind == "member":
        _check(record, types.Member)
        return [
            ("id", record.id),
            ("instance_id", record.instance_id),
            ("instance_name", record.instance_name),
            ("status", _plain(record.status)),
            ("current_site", record.current.site),
            ("volumes", list(record.current.volume_ids)),
            ("error_message", record.error_message),
        ]
    if kind == "consistency_group":
        _check(record, types.ConsistencyGroup)
        return [
            (k, _field(record, k))
            for k in (
                "id",
                "protection_group_id",
                "volume_type_name",
                "status",
                "volume_count",
                "replication_lag_seconds",
            )
        ]
    if kind == "policy":
        _check(record, types.ReplicationPolicy)
        group = context.get("group")
        _check(group, types.ProtectionGroup)
        return [
            ("protection_group", group.name),
            ("primary_fa_url", record.primary_array.url),
            ("secondary_fa_url", record.secondary_array.url),
            ("pure_pg_name", record.pure_pg_name),
            ("replication_interval", record.replication_interval_secs),
            ("rpo_minutes", record.rpo_minutes),
        ]
    if kind == "sync_status":
        _check(record, types.SyncStatus)
        return [
            ("protection_group", record.group),
            ("sync_status", "IN SYNC" if record.in_sync else "OUT OF SYNC"),
            ("in_sync", record.in_sync),
            ("local_site", record.local_site),
            ("local_version", record.local_version),
            ("current_site", record.current_site),
            ("last_modified", _time(record.last_modified)),
            ("remote_site", record.remote_site),
            ("remote_status", str(record.remote_status).upper()),
            ("remote_version", record.remote_version),
            ("last_sync", _time(record.last_sync)),
            ("error", record.error),
        ]
    if kind == "sync_force":
        _check(record, types.SyncForceResult)
        return [
            ("protection_group", record.group),
            ("status", "success"),
            ("source_site", record.source_site),
            ("pushed_to", record.pushed_to),
            ("version", record.version),
            ("checksum", record.checksum),
            ("duration_ms", record.duration_ms),
        ]
    if kind == "operation":
        _check(record, types.Operation)
        id_field = context.get("id_field", "id")
        return [
            (id_field, _op(record.id)),
            ("operation_type", _plain(record.operation_type)),
            ("protection_group", record.group_name),
            ("status", _plain(record.status)),
            ("progress", record.progress),
            ("phase", _plain(record.phase)),
            ("steps_completed", _plain(record.steps_completed)),
            ("steps_failed", _plain(record.steps_failed)),
            ("started_at", _time(record.started_at)),
            ("completed_at", _time(record.completed_at)),
            ("error_message", record.error_message),
            ("source_site", record.source_site),
            ("target_site", record.target_site),
        ]
    if kind == "tenant_mapping":
        _check(record, types.TenantMapping)
        return [
            (k, _field(record, k))
            for k in (
                "id",
                "local_site",
                "local_tenant",
                "remote_site",
                "remote_tenant",
                "description",
            )
        ]
    raise ValueError(f"unknown show view {kind!r}: one of {', '.join(SHOW_KINDS)}")
