"""The typed results of protector: immutable records with attributes and ``to_dict()``.

The engine hands over plain data (``dict``/``list``/``str``/``int``, timestamps already as
``datetime``); each record class converts its annotated fields (``str``-valued enums, nested
records, tuples of records) once, on construction. Fields the engine adds later are still
reachable as attributes, unconverted.
"""

from __future__ import annotations

import enum
import types
import typing
from datetime import datetime
from typing import Any, ClassVar, Callable

from . import _protector

# The engine's own classification of statuses (GroupStatus::is_in_flight,
# OperationStatus::is_terminal), so that no front-end keeps a copy.
_GROUP_IN_FLIGHT = frozenset(_protector._GROUP_STATUSES_IN_FLIGHT)
_OPERATION_TERMINAL = frozenset(_protector._OPERATION_STATUSES_TERMINAL)

__all__ = [
    "Record",
    "SiteType", "SiteStatus", "GroupStatus", "ReplicationType", "MemberStatus",
    "OperationType", "OperationStatus", "Phase", "FailoverMode", "Severity",
    "ReplicationHealth", "OverviewSync", "TestFailoverStatus",
    "Site", "SiteValidation", "VolumeType", "ProtectionGroup", "Placement", "Member", "Hook",
    "ArrayEndpoint", "ReplicationPolicy", "ResourceMappings", "GroupMappings",
    "TenantMapping", "SyncStatus", "SyncForceResult", "SyncLogEntry", "ConsistencyGroup",
    "RecoveryPoint", "Step", "Finding", "Plan", "ValidationReport", "GroupResult",
    "Operation", "GroupOverview", "MemberCandidate",
    "RunningPoint", "RecoveryPointEntry", "RecoveryPoints", "FailoverCommitted",
]


class SiteType(enum.StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"


class SiteStatus(enum.StrEnum):
    ACTIVE = "active"
    UNREACHABLE = "unreachable"
    ERROR = "error"


class GroupStatus(enum.StrEnum):
    CREATING = "creating"
    ACTIVE = "active"
    FAILING_OVER = "failing_over"
    FAILED_OVER = "failed_over"
    FAILED_OVER_PARTIAL = "failed_over_partial"
    FAILING_BACK = "failing_back"
    ERROR = "error"
    DELETING = "deleting"

    @property
    def is_in_flight(self) -> bool:
        """Whether an operation is in flight on a group in this status (the engine refuses
        modifications and deletion then)."""
        return self.value in _GROUP_IN_FLIGHT


class ReplicationType(enum.StrEnum):
    ASYNC = "async"
    SYNC = "sync"


class MemberStatus(enum.StrEnum):
    PROTECTED = "protected"
    ERROR = "error"


class OperationType(enum.StrEnum):
    FAILOVER = "failover"
    FAILBACK = "failback"
    TEST_FAILOVER = "test_failover"
    TEST_CLEANUP = "test_cleanup"
    SITE_FAILOVER = "site_failover"
    SYNC = "sync"


class OperationStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    PARTIAL = "partial"

    @property
    def is_terminal(self) -> bool:
        """Whether an operation in this status has ended."""
        return self.value in _OPERATION_TERMINAL


class Phase(enum.StrEnum):
    PREPARATION = "preparation"
    STORAGE = "storage"
    INSTANCES = "instances"
    FINALIZATION = "finalization"


class FailoverMode(enum.StrEnum):
    PLANNED = "planned"
    UNPLANNED = "unplanned"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ReplicationHealth(enum.StrEnum):
    OK = "ok"
    RPO_EXCEEDED = "rpo_exceeded"
    NO_REPLICATED_SNAPSHOT = "no_replicated_snapshot"
    INTERRUPTED = "interrupted"
    NOT_CONFIGURED = "not_configured"
    SYNCHRONOUS = "synchronous"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"


class OverviewSync(enum.StrEnum):
    """Metadata sync with the peer site as the last push recorded it."""

    SYNCED = "SYNCED"
    PENDING = "PENDING"
    FAILED = "FAILED"
    UNREACHABLE = "UNREACHABLE"
    NEVER = "NEVER"


class TestFailoverStatus(enum.StrEnum):
    __test__ = False  # not a pytest test class
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    CLEANUP_INCOMPLETE = "cleanup_incomplete"


def _identity(value: Any) -> Any:
    return value


def _converter(annotation: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) == 1:
            convert = _converter(inner[0])
            if convert is _identity:
                return _identity
            return lambda v: None if v is None else convert(v)
        return _identity
    if origin is tuple:
        args = typing.get_args(annotation)
        convert = _converter(args[0]) if args else _identity
        if convert is _identity:
            return lambda v: tuple(v) if isinstance(v, list) else v
        return lambda v: tuple(convert(x) for x in v) if isinstance(v, list) else v
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _EnumConverter(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return lambda v: annotation(v) if isinstance(v, dict) else v
    return _identity


class _EnumConverter:
    """A value as a member of an enum; a value newer than this module stays the ``str``.
    Records look values up in ``members`` themselves rather than through a call."""

    __slots__ = ("members",)

    def __init__(self, cls: type[enum.Enum]) -> None:
        self.members: dict[Any, Any] = cls._value2member_map_

    def __call__(self, value: Any) -> Any:
        try:
            return self.members.get(value, value)
        except TypeError:  # unhashable: not a value of the enum
            return value


class Record:
    """An immutable result: attributes for every field, ``to_dict()`` for plain data."""

    __slots__ = ("_data",)
    # Per class, built on first use: enum fields (name, the members by value), then the other
    # fields that need converting (name, converter).
    _enums: ClassVar[tuple[tuple[str, dict[Any, Any]], ...]]
    _converters: ClassVar[tuple[tuple[str, Callable[[Any], Any]], ...]]
    _data: dict[str, Any]

    def __init__(self, data: dict[str, Any]) -> None:
        _set_data(self, _convert(type(self), dict(data)))

    @classmethod
    def _prepare(cls) -> None:
        enums, converters = [], []
        for name, hint in typing.get_type_hints(cls).items():
            if name.startswith("_") or typing.get_origin(hint) is ClassVar:
                continue
            convert = _converter(hint)
            if isinstance(convert, _EnumConverter):
                enums.append((name, convert.members))
            elif convert is not _identity:
                converters.append((name, convert))
        cls._enums, cls._converters = tuple(enums), tuple(converters)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: {name!r} cannot be set")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: {name!r} cannot be deleted")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._data))

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._data == other._data

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._data.get("id")))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={self._data[k]!r}" for k in ("name", "id", "status") if k in self._data
        )
        return f"{type(self).__name__}({shown})"

    def to_dict(self) -> dict[str, Any]:
        """The record as plain data: nested records as dicts, tuples as lists, enums as their
        ``str`` value; datetimes stay ``datetime``."""
        return {k: _plain(v) for k, v in self._data.items()}


# The `_data` slot's setter: how records are filled, `__setattr__` refusing every change.
_set_data: Callable[[Record, dict[str, Any]], None] = Record.__dict__["_data"].__set__


def _convert(cls: type[Record], values: dict[str, Any]) -> dict[str, Any]:
    """Converts the annotated fields of ``values``, in place."""
    if "_converters" not in cls.__dict__:
        cls._prepare()
    for name, members in cls._enums:
        if name in values:
            value = values[name]
            try:
                values[name] = members.get(value, value)
            except TypeError:  # unhashable: not a value of the enum
                pass
    for name, convert in cls._converters:
        if name in values:
            values[name] = convert(values[name])
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    return value


class Site(Record):
    """A registered site."""

    __slots__ = ()
    id: str
    name: str
    description: str
    site_type: SiteType
    auth_url: str
    region_name: str
    status: SiteStatus
    cloud: str | None
    created_at: datetime


class SiteValidation(Record):
    """The outcome of checking a site's endpoints and rights."""

    __slots__ = ()
    name: str
    status: SiteStatus
    keystone: str
    nova: str
    cinder: str
    neutron: str


class VolumeType(Record):
    """A Cinder volume type."""

    __slots__ = ()
    id: str
    name: str
    extra_specs: dict[str, str]


class ProtectionGroup(Record):
    """A protection group."""

    __slots__ = ()
    id: str
    name: str
    description: str
    project_id: str
    project_name: str
    primary_site: str
    secondary_site: str
    current_primary_site: str
    replication_type: ReplicationType
    volume_type: str
    status: GroupStatus
    failover_count: int
    last_failover_at: datetime | None
    active_operation_id: str | None
    fence_required_on: str | None
    last_operation_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def recovery_point(self) -> RunningPoint | None:
        """The recovery point the group runs on after a failover and its commit window;
        ``None`` when it runs on its original volumes."""
        value = self._data.get("recovery_point")
        return RunningPoint(value) if isinstance(value, dict) else value


class RunningPoint(Record):
    """The snapshot a failed-over group runs on; an unplanned failover awaits its commit
    until ``commit_deadline`` (``committed_at`` is set once committed)."""

    __slots__ = ()
    snapshot: str
    created_at: datetime
    operation_id: str
    commit_deadline: datetime | None
    committed_at: datetime | None


class RecoveryPointEntry(Record):
    """A replicated snapshot on the target array: its age by that array's clock, and whether
    a failover or a drill can recover from it (fully arrived)."""

    __slots__ = ()
    name: str
    created_at: datetime
    progress: float
    replicated_at: datetime | None
    age_secs: int
    usable: bool
    current: bool


class RecoveryPoints(Record):
    """``Protector.recovery_points``: the points on ``site``'s array, newest first."""

    __slots__ = ()
    group: str
    site: str
    array: str
    array_time: datetime
    replication_type: ReplicationType
    note: str | None
    points: tuple[RecoveryPointEntry, ...]


class FailoverCommitted(Record):
    """``Protector.failover_commit``: the group, and why the reverse replication could not be
    set up (``None``: it runs)."""

    __slots__ = ()
    group: ProtectionGroup
    replication_note: str | None


class Placement(Record):
    """Where a member's VM runs: its site, instance, volumes and ports there."""

    __slots__ = ()
    site: str
    instance_id: str
    volume_ids: tuple[str, ...]
    array_volumes: tuple[str, ...]
    port_ids: tuple[str, ...]


class Member(Record):
    """A VM protected by a group."""

    __slots__ = ()
    id: str
    group_id: str
    instance_id: str
    instance_name: str
    status: MemberStatus
    error_message: str | None
    current: Placement
    standby: Placement | None
    priority: int
    depends_on: tuple[str, ...]


class Hook(Record):
    """A step of the operator's run around a phase of failovers and/or drills: ``action`` is
    ``{"type": "command", "argv": [...]}`` or ``{"type": "url", "method", "url", "status_min",
    "status_max"}``."""

    __slots__ = ()
    name: str
    member: str | None
    at: str
    action: dict[str, Any]
    timeout_secs: int
    on_failure: str
    applies_to: str
    undo: dict[str, Any] | None


class ArrayEndpoint(Record):
    """A FlashArray endpoint (its API token is never handed out)."""

    __slots__ = ()
    url: str
    ca_file: str | None
    allow_insecure_http: bool


class ReplicationPolicy(Record):
    """A group's replication policy."""

    __slots__ = ()
    group_id: str
    primary_array: ArrayEndpoint
    secondary_array: ArrayEndpoint
    pure_pg_name: str
    replication_interval_secs: int
    rpo_minutes: int
    primary_array_name: str | None
    secondary_array_name: str | None


class ResourceMappings(Record):
    """Network, flavor, security-group and availability-zone names, source to target."""

    __slots__ = ()
    networks: dict[str, str]
    flavors: dict[str, str]
    security_groups: dict[str, str]
    availability_zones: dict[str, str]


class GroupMappings(Record):
    """A group's stored mappings for one direction."""

    __slots__ = ()
    group_id: str
    from_site: str
    to_site: str
    mappings: ResourceMappings


class TenantMapping(Record):
    """A project of this site mapped to one of another site."""

    __slots__ = ()
    id: str
    local_site: str
    local_tenant: str
    remote_site: str
    remote_tenant: str
    description: str


class SyncStatus(Record):
    """Whether a group's metadata is the same on both sites."""

    __slots__ = ()
    group: str
    in_sync: bool
    local_version: int
    local_site: str
    current_site: str
    last_modified: datetime | None
    remote_site: str
    remote_status: str
    remote_version: int | None
    last_sync: datetime | None
    error: str | None


class SyncForceResult(Record):
    """A forced push of a group's metadata."""

    __slots__ = ()
    group: str
    pushed_to: str
    source_site: str
    version: int
    checksum: str
    duration_ms: int


class SyncLogEntry(Record):
    """One push of a group's metadata."""

    __slots__ = ()
    group_id: str
    at: datetime
    version: int
    peer_site: str
    result: str
    reason: str
    error: str | None


class ConsistencyGroup(Record):
    """A group's consistency group, with replication health and lag."""

    __slots__ = ()
    id: str
    protection_group_id: str
    protection_group: str
    volume_type_name: str
    status: str
    volume_count: int
    replication_type: ReplicationType
    pure_pg_name: str
    replication_source_site: str
    replication_target_site: str
    replication_status: ReplicationHealth
    last_replicated_snapshot: str | None
    last_replicated_at: datetime | None
    array_time: datetime | None
    replication_lag_seconds: int | None
    rpo_minutes: int | None
    replication_error: str | None


class RecoveryPoint(Record):
    """The snapshot an unplanned failover recovers from: the data at risk."""

    __slots__ = ()
    snapshot: str
    created_at: datetime
    replicated_at: datetime | None
    array_time: datetime
    age_secs: int
    changed_bytes: int | None
    data_at_risk: str


class Step(Record):
    """A step of a plan."""

    __slots__ = ()
    id: str
    name: str
    phase: Phase
    description: str
    depends_on: tuple[str, ...]


class Finding(Record):
    """A validation finding."""

    __slots__ = ()
    severity: Severity
    kind: str
    code: str
    message: str
    member: str | None
    hint: dict[str, Any] | None


class BootWave(Record):
    """Members booted together, once every earlier wave is ACTIVE."""

    __slots__ = ()
    priority: int
    level: int
    members: tuple[str, ...]


class WaveEstimate(Record):
    """The expected duration of one boot wave."""

    __slots__ = ()
    priority: int
    level: int
    servers: int
    secs: float


class RtoEstimate(Record):
    """The recovery time a plan expects, per wave and in total, and where it comes from."""

    __slots__ = ()
    basis: str
    measured_runs: int
    volumes: int
    concurrency: int
    preparation_secs: float
    storage_secs: float
    waves: tuple[WaveEstimate, ...]
    finalization_secs: float
    recovery_secs: float
    total_secs: float


class WaveRun(Record):
    """One boot wave as it ran."""

    __slots__ = ()
    priority: int
    level: int
    members: tuple[str, ...]
    not_started: tuple[str, ...]
    failed: tuple[str, ...]
    started_at: datetime
    finished_at: datetime | None


class Plan(Record):
    """A failover or failback plan."""

    __slots__ = ()
    id: str
    mode: FailoverMode
    group_id: str
    group_name: str
    source_site: str
    target_site: str
    replication_type: ReplicationType
    steps: tuple[Step, ...]
    findings: tuple[Finding, ...]
    recovery_point: RecoveryPoint | None
    source_reachable: bool
    boot_order: tuple[BootWave, ...]
    estimate: RtoEstimate | None


class ValidationReport(Record):
    """Every finding of a plan's validation."""

    __slots__ = ()
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """Whether no finding is an error."""
        return all(f.severity != Severity.ERROR for f in self.findings)


class GroupResult(Record):
    """The outcome of one group of a site failover."""

    __slots__ = ()
    group_id: str
    group_name: str
    project_id: str
    operation_id: str | None
    status: OperationStatus
    error_message: str | None


class Operation(Record):
    """A DR operation's record."""

    __slots__ = ()
    id: str
    operation_type: OperationType
    group_id: str | None
    group_name: str | None
    status: OperationStatus
    progress: int
    phase: Phase
    steps_completed: tuple[str, ...]
    steps_failed: tuple[str, ...]
    error_message: str | None
    source_site: str
    target_site: str
    started_at: datetime
    completed_at: datetime | None
    instances_created: int
    instances_failed: int
    data_loss: str | None
    group_results: tuple[GroupResult, ...]
    boot_waves: tuple[WaveRun, ...]
    estimate: RtoEstimate | None

    @property
    def warnings(self) -> tuple[str, ...]:
        """Failures that did not fail the operation (hooks set to warn); empty without."""
        return tuple(self._data.get("warnings", ()))


class GroupOverview(Record):
    """A protection group with its health at a glance (a dashboard's table row)."""

    __slots__ = ()
    group: ProtectionGroup
    member_count: int
    replication_status: ReplicationHealth
    replication_lag_seconds: int | None
    rpo_minutes: int | None
    replication_error: str | None
    sync_status: OverviewSync
    last_operation: Operation | None


class MemberCandidate(Record):
    """An instance of the caller's project that could join a group, or why it cannot."""

    __slots__ = ()
    instance_id: str
    name: str
    status: str
    eligible: bool
    reason: str | None


_RECORDS: dict[str, type[Record]] = {
    cls.__name__: cls
    for cls in (
        Site, SiteValidation, VolumeType, ProtectionGroup, Member, ReplicationPolicy,
        GroupMappings, TenantMapping, SyncStatus, SyncForceResult, SyncLogEntry,
        ConsistencyGroup, Plan, ValidationReport, Operation, GroupOverview, MemberCandidate,
        RecoveryPoints, FailoverCommitted,
        Hook,
    )
}


def _record_class(name: str) -> tuple[
    type[Record], tuple[tuple[str, dict[Any, Any]], ...], tuple[tuple[str, Callable[[Any], Any]], ...]
]:
    """Called by the extension, once per record type: the class of record type ``name``, its
    enum fields (name, the members by value) and its other converted fields (name,
    converter). The extension converts the dicts it made itself, in place, and makes each
    record with ``object.__new__`` and ``_set_data``: what ``Record.__init__`` does, without
    the copy and the Python-level loop."""
    cls = _RECORDS[name]
    if "_converters" not in cls.__dict__:
        cls._prepare()
    return cls, cls._enums, cls._converters
