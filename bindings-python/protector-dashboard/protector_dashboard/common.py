"""What the panels share: rows over the engine's views, headings from them, and errors shown
with the engine's wording."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib import messages
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from horizon import exceptions

from protector_dashboard.api import protector as api


def _heading(kind: str, key: str) -> str:
    for field, heading in api.columns(kind):
        if field == key:
            return heading
    return key


#: The heading the CLI shows for column ``key`` of list view ``kind``, looked up when the
#: table renders (not at import), from the engine's one definition.
heading = lazy(_heading, str)


class ViewRow:
    """One row of a table: the engine's record (``record``) and the values the CLI shows for
    it (``values``, by field key). ``id`` is the record's id (``id_field``)."""

    def __init__(self, record: Any, values: dict[str, Any], id_field: str = "id") -> None:
        self.record = record
        self.values = values
        self.id = str(values.get(id_field) or getattr(record, id_field))

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        return getattr(self.__dict__["record"], name)


def view_rows(kind: str, records: list[Any], id_field: str = "id") -> list[ViewRow]:
    """``records`` as table rows of list view ``kind``, each record with its own values (one
    view call per record: some views order their rows, e.g. members by name, so rows and
    records are never paired by position)."""
    return [ViewRow(record, api.rows(kind, [record])[0], id_field) for record in records]


def cell(key: str):
    """A column's value: the CLI's value of field ``key`` (``-`` when absent)."""

    def value(row: ViewRow) -> Any:
        shown = row.values.get(key)
        if shown is None or shown == "":
            return "-"
        if isinstance(shown, (list, tuple)):
            return ", ".join(str(v) for v in shown) or "-"
        return shown

    return value


def engine_error(request, redirect: str | None = None, escalate: bool = False) -> Any:
    """Shows the engine error being handled as a Horizon error message in the engine's own
    words (never a traceback): inside an ``except`` clause. Refused credentials log out (the
    ``unauthorized`` exceptions); ``redirect`` goes there; ``escalate`` raises Horizon's
    ``HandledException`` (a table action then reports no success)."""
    error = sys.exc_info()[1]
    if error is not None and not isinstance(error, api.ProtectorError):
        raise error
    return exceptions.handle(request, redirect=redirect, escalate=escalate, details="")


def started(request, what: str, handle: Any) -> str:
    """The success message of a long operation that started: names its id."""
    operation_id = str(handle.id)
    messages.success(
        request,
        _(
            "%(what)s started: operation %(id)s. It runs on; its progress is on the group's "
            "Operations tab and in DR Operations."
        )
        % {"what": what, "id": operation_id},
    )
    return operation_id


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items()) or "-"
    return str(value)


def view_table(kind: str, records: list[Any], link: Any = None) -> dict[str, Any]:
    """List view ``kind`` over ``records`` for the template ``protector_dashboard/
    _view_table.html``: the CLI's headings and values; ``link(values)`` gives the URL of a
    row's first cell (or None)."""
    headings = [heading for _, heading in api.columns(kind)]
    rows = []
    for values in api.rows(kind, records):
        rows.append(
            {
                "cells": [_text(v) for v in values.values()],
                "url": link(values) if link else None,
            }
        )
    return {"headings": headings, "rows": rows}


def view_show(kind: str, record: Any, **context: Any) -> list[tuple[str, str]]:
    """Show view ``kind`` of ``record`` as ``(field, text)`` pairs for the template
    ``protector_dashboard/_view_show.html``."""
    return [(field, _text(value)) for field, value in api.show(kind, record, **context)]
