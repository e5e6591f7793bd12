"""What each resource looks like to a person: the columns and values the ``protector`` CLI shows.

The CLI and this module render from one definition (``protector_core::views`` in the Rust
engine), so a front-end built on them (the ``openstack protector`` plugin) shows exactly what
``protector ... -f json`` shows::

    groups = engine.groups()
    headings = [heading for _, heading in protector.views.columns("groups")]
    rows = protector.views.rows("groups", groups)
    fields = protector.views.show("group", groups[0])

Values are JSON-plain (``str``, ``int``, ``float``, ``bool``, ``None``, ``list``, ``dict``):
timestamps as ``2025-06-01T09:00:00Z`` strings, operation ids as ``op-<uuid>``, absent values
as ``None``. An unknown kind raises ``ValueError`` naming the known ones; a record of another
type than the view's raises ``TypeError`` naming the expected type.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import _protector
from .types import Operation, Record

__all__ = ["LIST_KINDS", "SHOW_KINDS", "columns", "rows", "show"]

#: The list views: ``sites``, ``volume_types``, ``groups``, ``group_overviews``,
#: ``member_candidates``, ``members``, ``mappings``, ``sync_log``, ``operations``,
#: ``group_results`` and ``tenant_mappings``.
LIST_KINDS: tuple[str, ...] = tuple(_protector._VIEW_LIST_KINDS)
#: The show views: ``site``, ``site_validation``, ``group``, ``member``, ``member_added``,
#: ``consistency_group``, ``policy``, ``sync_status``, ``sync_force``, ``operation`` and
#: ``tenant_mapping``.
SHOW_KINDS: tuple[str, ...] = tuple(_protector._VIEW_SHOW_KINDS)


def columns(kind: str) -> list[tuple[str, str]]:
    """``(field key, heading)`` of each column of list view ``kind``, in display order.

    The key is what ``-f json`` uses, the heading what the CLI's table shows (``ID``,
    ``Instance Name``; for most views the key itself)."""
    return _protector._view_columns(kind)


def rows(kind: str, records: Iterable[Record] | Operation) -> list[tuple[Any, ...]]:
    """One tuple per row of list view ``kind`` over ``records``, values in the order of
    :func:`columns`: what ``protector <...> list -f json`` shows, row for row.

    Each view takes the records its listing call returns: ``sites`` takes ``Site`` records,
    ``groups`` ``ProtectionGroup``, ``group_overviews`` ``GroupOverview`` (the lag as
    ``5m 03s``, the last operation as ``failover completed (op-...)``), ``member_candidates``
    ``MemberCandidate`` (eligible ones first), ``members`` ``Member`` (rows by instance name),
    ``mappings`` ``GroupMappings`` (one row per direction, kind and source), ``sync_log``
    ``SyncLogEntry``, ``operations`` ``Operation``, ``tenant_mappings`` ``TenantMapping``,
    ``volume_types`` ``VolumeType``. ``group_results`` takes a site failover's ``Operation``
    (or several) and gives one row per protection group of it."""
    return _protector._view_rows(kind, records)


def show(kind: str, record: Record, **context: Any) -> list[tuple[str, Any]]:
    """``(field, value)`` pairs of show view ``kind`` of ``record``: what
    ``protector <...> show -f json`` shows, in its order.

    ``site`` takes a ``Site``, ``site_validation`` a ``SiteValidation``, ``group`` a
    ``ProtectionGroup``, ``member`` and ``member_added`` a ``Member``, ``consistency_group`` a
    ``ConsistencyGroup``, ``sync_status`` a ``SyncStatus``, ``sync_force`` a
    ``SyncForceResult``, ``tenant_mapping`` a ``TenantMapping``.
    ``policy`` takes a ``ReplicationPolicy`` and ``group=<its ProtectionGroup>`` (never shows
    the tokens). ``operation`` takes an ``Operation`` and optionally ``id_field`` (``"id"`` as
    ``operation show``; ``"operation_id"`` as ``failover`` prints it); a site failover's
    per-group results are its ``group_results`` field."""
    return _protector._view_show(kind, record, context)
