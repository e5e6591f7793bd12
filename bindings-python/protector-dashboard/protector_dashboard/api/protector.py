"""The one module of the dashboard that calls ``import protector``: thin functions over the
in-process engine, opened with the caller's Keystone token (no second login, no stored
password). Every view calls these functions and nothing else of protector; the tests mock
them.

The engine stands on the site named by the setting ``PROTECTOR_SITE`` (the site whose Keystone
this Horizon logs in to), with its state directory from ``PROTECTOR_STATE_DIR`` (else the
environment's ``$PROTECTOR_STATE_DIR`` or protector's default). The peer site's credentials
come from clouds.yaml (``OS_CLIENT_CONFIG_FILE``), as for the CLI.

Long operations (failover, failback, test failover and its cleanup, site failover) return the
engine's ``OperationHandle`` at once: the operation runs on in this process's engine runtime,
never inside the web request; pages follow it with :func:`operation`.
"""

from __future__ import annotations

import functools
from typing import Any

import protector
from django.conf import settings
from protector import exceptions, types, views

__all__ = [
    "NOT_FOUND",
    "RECOVERABLE",
    "SITE_FAILOVER_CONCURRENCY",
    "UNAUTHORIZED",
    "ProtectorError",
    "columns",
    "consistency_group",
    "engine",
    "failback",
    "failover",
    "group",
    "group_create",
    "group_delete",
    "group_overview",
    "group_overviews",
    "in_flight",
    "local_site",
    "mappings",
    "member_add",
    "member_candidates",
    "member_remove",
    "members",
    "operation",
    "operations",
    "plan_failback",
    "plan_failover",
    "policy",
    "policy_create",
    "rows",
    "set_mappings",
    "show",
    "site",
    "site_failover",
    "sites",
    "sync_force",
    "sync_status",
    "test_failover",
    "test_failover_cleanup",
    "validate_site",
    "volume_types",
]

ProtectorError = exceptions.ProtectorError
#: Horizon's exception classes (the enabled files register them as ``ADD_EXCEPTIONS``):
#: a missing resource, refused credentials, and every other engine error, which Horizon
#: shows as an error message with the engine's wording.
NOT_FOUND: tuple[type[Exception], ...] = (exceptions.NotFoundError,)
UNAUTHORIZED: tuple[type[Exception], ...] = (exceptions.UnauthenticatedError,)
RECOVERABLE: tuple[type[Exception], ...] = (exceptions.ProtectorError,)


def in_flight(status: Any) -> bool:
    """Whether a group in ``status`` has an operation in flight (the engine's
    ``GroupStatus.is_in_flight``): the table refreshes these rows until they settle."""
    try:
        return types.GroupStatus(str(status)).is_in_flight
    except ValueError:
        return False


def is_terminal(status: Any) -> bool:
    """Whether an operation in ``status`` has ended."""
    try:
        return types.OperationStatus(str(status)).is_terminal
    except ValueError:
        return False


# Views: the columns and values the CLI shows, from the engine's one definition.


@functools.cache
def _columns(kind: str) -> tuple[tuple[str, str], ...]:
    return tuple(views.columns(kind))


def columns(kind: str) -> list[tuple[str, str]]:
    """``(field key, heading)`` of each column of list view ``kind`` (``protector.views``)."""
    return list(_columns(kind))


def rows(kind: str, records: Any) -> list[dict[str, Any]]:
    """The rows of list view ``kind`` over ``records``, each as ``{field key: value}``:
    exactly the values ``protector ... list -f json`` shows."""
    keys = [key for key, _ in _columns(kind)]
    return [dict(zip(keys, row, strict=True)) for row in views.rows(kind, records)]


def show(kind: str, record: Any, **context: Any) -> list[tuple[str, Any]]:
    """``(field, value)`` pairs of show view ``kind`` of ``record``."""
    return views.show(kind, record, **context)


# The engine.


def local_site() -> str:
    """The site this Horizon serves (setting ``PROTECTOR_SITE``)."""
    site = getattr(settings, "PROTECTOR_SITE", None)
    if not site:
        raise exceptions.ConfigInvalidError(
            "The setting PROTECTOR_SITE is not set: set it in Horizon's local_settings to the "
            "name of the protector site whose Keystone this Horizon logs in to (e.g. 'site-a').",
            kind="config_invalid",
        )
    return str(site)


def engine(request: Any) -> protector.Protector:
    """The engine standing on :func:`local_site`, opened with the caller's token and service
    catalog; one per request."""
    cached = getattr(request, "_protector_engine", None)
    if cached is not None:
        return cached
    user = request.user
    opened = protector.Protector.from_token(
        local_site(),
        token=user.token.id,
        auth_url=getattr(user, "endpoint", None) or settings.OPENSTACK_KEYSTONE_URL,
        project_id=user.project_id,
        catalog=list(user.service_catalog or ()),
        region_name=getattr(user, "services_region", None) or None,
        interface=getattr(settings, "OPENSTACK_ENDPOINT_TYPE", None) or None,
        cacert=getattr(settings, "OPENSTACK_SSL_CACERT", None) or None,
        insecure=bool(getattr(settings, "OPENSTACK_SSL_NO_VERIFY", False)),
        state_dir=getattr(settings, "PROTECTOR_STATE_DIR", None) or None,
    )
    request._protector_engine = opened
    return opened


# Sites.


def sites(request: Any) -> list[types.Site]:
    return engine(request).sites()


def site(request: Any, name: str) -> types.Site:
    return engine(request).site(name)


def validate_site(request: Any, name: str) -> types.SiteValidation:
    return engine(request).validate_site(name)


def volume_types(request: Any, site_name: str) -> list[types.VolumeType]:
    return engine(request).volume_types(site_name)


# How many groups a site failover runs at once unless the form says otherwise.
SITE_FAILOVER_CONCURRENCY: int = protector.DEFAULT_SITE_FAILOVER_CONCURRENCY


def site_failover(
    request: Any, site_name: str, *, unplanned: bool, concurrency: int
) -> protector.OperationHandle:
    return engine(request).site_failover(site_name, unplanned=unplanned, concurrency=concurrency)


# Protection groups.


def group_overviews(request: Any) -> list[Any]:
    """This project's groups with member count, replication health, sync status and last
    operation (``GroupOverview`` records)."""
    return engine(request).group_overviews()


def group_overview(request: Any, group_id: str) -> Any:
    return engine(request).group_overview(group_id)


def group(request: Any, group_id: str) -> types.ProtectionGroup:
    return engine(request).group(group_id)


def group_create(
    request: Any,
    name: str,
    *,
    primary_site: str,
    secondary_site: str,
    volume_type: str,
    replication_type: str,
    description: str,
) -> types.ProtectionGroup:
    return engine(request).create_group(
        name,
        primary_site=primary_site,
        secondary_site=secondary_site,
        volume_type=volume_type,
        replication_type=replication_type,
        description=description,
    )


def group_delete(request: Any, group_id: str) -> types.ProtectionGroup:
    return engine(request).delete_group(group_id)


def members(request: Any, group_id: str) -> list[types.Member]:
    return engine(request).members(group_id)


def member_candidates(request: Any, group_id: str) -> list[Any]:
    """This project's instances on the group's current primary site, each ``eligible`` or
    not with the engine's ``reason`` (``MemberCandidate`` records)."""
    return engine(request).member_candidates(group_id)


def member_add(request: Any, group_id: str, instance_id: str) -> types.Member:
    return engine(request).add_member(group_id, instance_id)


def member_remove(request: Any, group_id: str, member: str) -> types.Member:
    return engine(request).remove_member(group_id, member)


def policy(request: Any, group_id: str) -> types.ReplicationPolicy | None:
    return engine(request).policy(group_id)


def policy_create(
    request: Any,
    group_id: str,
    *,
    pure_pg_name: str,
    primary_array_url: str,
    primary_array_token: str,
    secondary_array_url: str,
    secondary_array_token: str,
    primary_array_ca_file: str | None,
    secondary_array_ca_file: str | None,
    allow_insecure_http: bool,
    replication_interval: int,
    rpo_minutes: int,
) -> types.ReplicationPolicy:
    return engine(request).create_policy(
        group_id,
        pure_pg_name=pure_pg_name,
        primary_array_url=primary_array_url,
        primary_array_token=primary_array_token,
        secondary_array_url=secondary_array_url,
        secondary_array_token=secondary_array_token,
        primary_array_ca_file=primary_array_ca_file,
        secondary_array_ca_file=secondary_array_ca_file,
        allow_insecure_http=allow_insecure_http,
        replication_interval=replication_interval,
        rpo_minutes=rpo_minutes,
    )


def consistency_group(request: Any, group_id: str) -> types.ConsistencyGroup:
    return engine(request).consistency_group(group_id)


def mappings(request: Any, group_id: str) -> list[types.GroupMappings]:
    return engine(request).mappings(group_id)


def set_mappings(
    request: Any,
    group_id: str,
    *,
    networks: dict[str, str],
    flavors: dict[str, str],
    security_groups: dict[str, str],
    replace: bool,
) -> types.GroupMappings:
    """Stores the group's resource mappings for the direction from its current primary site
    (merged over the stored ones, or replacing them)."""
    return engine(request).set_mappings(
        group_id,
        networks=networks,
        flavors=flavors,
        security_groups=security_groups,
        replace=replace,
    )


def sync_status(request: Any, group_id: str) -> types.SyncStatus:
    return engine(request).sync_status(group_id)


def sync_force(request: Any, group_id: str) -> types.SyncForceResult:
    return engine(request).sync_force(group_id)


# DR operations: plans are computed in the request; runs return a handle at once.


def plan_failover(request: Any, group_id: str, *, unplanned: bool) -> types.Plan:
    return engine(request).plan_failover(group_id, unplanned=unplanned)


def plan_failback(
    request: Any, group_id: str, *, reverse_replication: bool, force: bool
) -> types.Plan:
    return engine(request).plan_failback(
        group_id, reverse_replication=reverse_replication, force=force
    )


def failover(request: Any, group_id: str, *, unplanned: bool) -> protector.OperationHandle:
    return engine(request).failover(group_id, unplanned=unplanned)


def failback(
    request: Any, group_id: str, *, reverse_replication: bool, force: bool
) -> protector.OperationHandle:
    return engine(request).failback(group_id, reverse_replication=reverse_replication, force=force)


def test_failover(
    request: Any,
    group_id: str,
    *,
    networks: dict[str, str],
    flavors: dict[str, str] | None = None,
) -> protector.OperationHandle:
    """Starts a DR drill; its pre-flight refusals (an unmapped network, nothing replicated
    yet) are raised here, before anything is recorded."""
    return engine(request).test_failover(group_id, networks=networks, flavors=flavors)


def test_failover_cleanup(request: Any, group_id: str) -> protector.OperationHandle:
    return engine(request).test_failover_cleanup(group_id)


# Not tests: pytest collects nothing from this module, but be explicit.
test_failover.__test__ = False  # type: ignore[attr-defined]
test_failover_cleanup.__test__ = False  # type: ignore[attr-defined]


def operations(request: Any, group: str | None = None) -> list[types.Operation]:
    """The operations the user sees, newest first; with `group` (a name or id) that group's,
    selected by the engine."""
    return engine(request).operations(group=group)


def operation(request: Any, operation_id: str) -> types.Operation:
    return engine(request).operation(operation_id)
