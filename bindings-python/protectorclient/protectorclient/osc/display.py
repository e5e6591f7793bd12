"""What the commands print, from ``protector.views``: the one definition of each list's
columns and each record's fields, shared with the Rust CLI (``protector ... -f json`` shows the
same keys and values).

Values come JSON-plain from the views. Lists, mappings, ``None`` and booleans are wrapped in a
cliff ``FormattableColumn``: a table shows them as the CLI's tables do (``["a", "b"]``,
``null``, ``true``), ``-f json|yaml`` keeps the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from cliff import columns


class ValueColumn(columns.FormattableColumn):
    """A list, mapping, boolean or absent value: JSON words in a table (a list wrapped between
    items, as the CLI's tables and spec/000 example 3 show it), data otherwise."""

    def human_readable(self) -> str:
        if isinstance(self._value, list):
            return wrap_list(self._value)
        return _json(self._value)

    def machine_readable(self) -> Any:
        return self._value


def _json(value: Any) -> str:
    # Compact, as the CLI (serde_json) writes a value in a cell.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def wrap_list(items: list[Any], width: int = 46) -> str:
    """``["a", "b", "c"]``, broken between items so that no line is longer than ``width``
    (unless one item alone is); continuation lines start with a space."""
    if not items:
        return "[]"
    lines: list[str] = []
    line = "["
    for i, item in enumerate(items):
        token = _json(item) + ("]" if i + 1 == len(items) else ",")
        fresh = line in ("[", " ")
        needed = len(token) if fresh else len(token) + 1
        if not fresh and len(line) + needed > width:
            lines.append(line)
            line = " "
        if line not in ("[", " "):
            line += " "
        line += token
    lines.append(line)
    return "\n".join(lines)


def plain(value: Any) -> Any:
    """``value`` as the CLI's ``-f value`` writes it: nothing for an absent value, ``true`` /
    ``false``, a list as ``["a", "b"]`` items joined by ``, ``, a mapping as compact JSON."""
    if isinstance(value, ValueColumn):
        value = value.machine_readable()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return _json(value)
    return value


def cell(value: Any) -> Any:
    """``value`` as cliff shows it."""
    if value is None or isinstance(value, bool | list | tuple | dict):
        return ValueColumn(list(value) if isinstance(value, tuple) else value)
    return value


def views() -> Any:
    """``protector.views`` (imported when a command first prints)."""
    from protector import views as protector_views

    return protector_views


class Headings(list[str]):
    """A list view's table headings, with the field names ``-f json|yaml|value|csv`` use as
    keys (``keys``), as the CLI prints them: ``Instance Name`` in a table, ``instance_name``
    in JSON."""

    def __init__(self, columns: Sequence[tuple[str, str]]) -> None:
        super().__init__(heading for _, heading in columns)
        self.keys = [key for key, _ in columns]


def list_view(kind: str, records: Sequence[Any]) -> tuple[Headings, list[tuple[Any, ...]]]:
    """The headings (with their keys) and rows of list view ``kind`` over ``records``, for a
    ``Lister``."""
    v = views()
    rows = [tuple(cell(value) for value in row) for row in v.rows(kind, list(records))]
    return Headings(v.columns(kind)), rows


def pick_columns(
    headings: Headings, requested: Sequence[str], table: bool
) -> tuple[list[str], list[int]]:
    """The column names to print (headings for a table, keys otherwise) and the indices of the
    requested ones (``-c``, matched on key or heading, case-insensitive, as the CLI does; all
    when none)."""
    if requested:
        picked = []
        for name in requested:
            matches = [
                i
                for i, (key, heading) in enumerate(zip(headings.keys, headings, strict=True))
                if name.lower() in (key.lower(), heading.lower())
            ]
            if not matches:
                raise ValueError(
                    f"no column '{name}' in this list: choose from {', '.join(headings.keys)}"
                )
            picked.append(matches[0])
    else:
        picked = list(range(len(headings)))
    names = list(headings) if table else headings.keys
    return [names[i] for i in picked], picked


def show_pairs(kind: str, record: Any, **context: Any) -> list[tuple[str, Any]]:
    """The (field, value) pairs of show view ``kind``, JSON-plain."""
    return [(field, value) for field, value in views().show(kind, record, **context)]


def show_view(pairs: Iterable[tuple[str, Any]]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """``pairs`` as the columns and values a ``ShowOne`` returns."""
    pairs = list(pairs)
    return tuple(f for f, _ in pairs), tuple(cell(v) for _, v in pairs)


def group_result_rows(operation: Any) -> list[dict[str, Any]]:
    """A site failover's per-group results as the list of objects ``-f json`` shows in its
    ``group_results`` field (keys from the ``group_results`` view)."""
    v = views()
    keys = [key for key, _ in v.columns("group_results")]
    try:
        rows = v.rows("group_results", [operation])
    except TypeError:
        # A views module whose `group_results` takes the results themselves (as the core's
        # view does) rather than the operation.
        rows = v.rows("group_results", list(operation.group_results))
    return [dict(zip(keys, row, strict=False)) for row in rows]


# ---------------------------------------------------------------------------------- sync


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def ago(then: datetime, now: datetime) -> str:
    """ "5 seconds ago", "4 hours ago"."""
    secs = int((now - then).total_seconds())
    if secs < 0:
        return "just now"
    if secs < 60:
        n, unit = secs, "second"
    elif secs < 3600:
        n, unit = secs // 60, "minute"
    elif secs < 86_400:
        n, unit = secs // 3600, "hour"
    else:
        n, unit = secs // 86_400, "day"
    return f"{n} {unit}{'' if n == 1 else 's'} ago"


def sync_status_text(fields: dict[str, Any], now: datetime | None = None) -> str:
    """``sync-status`` as the spec's text (spec/003 example 4, spec/001), from the fields of
    the ``sync_status`` view; the advice names ``openstack`` commands."""
    now = now or datetime.now(UTC)
    in_sync = bool(fields.get("in_sync"))

    def mark(ok: bool) -> str:
        return "✅" if ok else "❌"

    local_version = fields.get("local_version")
    remote_version = fields.get("remote_version")
    remote = "unknown" if remote_version is None else str(remote_version)
    remote_status = str(fields.get("remote_status") or "")
    last_modified = fields.get("last_modified")
    last_sync = fields.get("last_sync")
    sync_at = _time(last_sync)
    lines = [
        f"Sync Status: {mark(in_sync)} {'IN SYNC' if in_sync else 'OUT OF SYNC'}",
        "",
        "Local Metadata:",
        f"  Version: {local_version}",
        f"  Current Site: {fields.get('current_site')}",
        f"  Last Modified: {last_modified or 'never'}",
        "",
        "Remote Sync:",
        f"  Status: {remote_status}",
        f"  Remote Version: {remote}",
        "  Last Sync: "
        + (f"{last_sync} ({ago(sync_at, now)})" if sync_at else str(last_sync or "never")),
    ]
    if fields.get("error") and not in_sync:
        lines.append(f"  Error: {fields['error']}")
    lines.append("")
    versions_match = remote_version is not None and remote_version == local_version
    synced = remote_status.upper() == "SYNCED"
    modified_at = _time(last_modified)
    # The last sync is recent when it covers the last local change.
    recent = sync_at is not None and (modified_at is None or sync_at >= modified_at)
    lines += [
        "Validation:",
        f"  {mark(versions_match)} Versions {'match' if versions_match else 'differ'} "
        f"({local_version} {'=' if versions_match else '≠'} {remote})",
        f"  {mark(synced)} Sync status is '{remote_status.lower()}'",
        f"  {mark(recent)} Last sync is {'recent' if recent else 'older than the last change'}",
        "",
    ]
    if in_sync:
        lines.append("Both sites have identical metadata.")
    else:
        lines += [
            "Action Required:",
            "  1. Check remote site connectivity: "
            f"openstack protector site validate {fields.get('remote_site')}",
            "  2. Force sync once remote site is available: "
            f"openstack protector protection-group sync-force {fields.get('protection_group')}",
        ]
    return "\n".join(lines) + "\n"


def sync_force_text(fields: dict[str, Any], local_site: str) -> str:
    """``sync-force`` as the spec's text (spec/003 example 5), from the fields of the
    ``sync_force`` view. The site checked for reachability is the group's other site."""
    pushed_to = fields.get("pushed_to")
    peer = fields.get("source_site") if pushed_to == local_site else pushed_to
    version = fields.get("version")
    return (
        "Force Sync Initiated...\n\n"
        f"Checking remote site connectivity...\n  ✅ {peer} is reachable\n\n"
        f"Syncing metadata (version {version})...\n"
        "  Gathering current metadata... ✓\n  Calculating checksum... ✓\n"
        f"  Pushing to {pushed_to}... ✓\n\n"
        "Remote Site Response:\n  Status: success\n"
        f"  Version: {version}\n  Duration: {fields.get('duration_ms')}ms\n\n"
        f"✅ Sync completed successfully\nBoth sites now at version {version}\n"
    )
