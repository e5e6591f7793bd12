"""What every protector command shares: the engine, engine errors as ``CommandError``, a
failure reported after the output (an operation that ended ``failed``, a group out of sync),
text renderings and a site failover's per-group table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from osc_lib import exceptions
from osc_lib.command import command

from protectorclient.client import ProtectorClient, operation_ref
from protectorclient.osc import display
from protectorclient.osc.errors import command_error, escape_controls, is_engine_error


class EngineCommand:
    """Mixin of the protector commands (before the osc-lib base class)."""

    app: Any
    _failure: exceptions.CommandError | None = None

    @property
    def client(self) -> ProtectorClient:
        """The plugin's client (``make_client``), authenticating on first use."""
        return self.app.client_manager.protector

    @property
    def engine(self) -> Any:
        """The ``protector.Protector`` standing on the site of OSC's credentials."""
        return self.client.engine

    def fail_after_output(self, message: str) -> None:
        """Print the result, then fail with ``message`` (non-zero exit)."""
        self._failure = exceptions.CommandError(message)

    def run(self, parsed_args: argparse.Namespace) -> int:
        self._failure = None
        try:
            result = super().run(parsed_args)  # type: ignore[misc]
        except Exception as error:
            if is_engine_error(error):
                raise command_error(error) from None
            raise
        if self._failure is not None:
            raise self._failure
        return result


def is_table(parsed_args: argparse.Namespace) -> bool:
    """Whether the output is the default table, with every field (no ``-c``)."""
    return getattr(parsed_args, "formatter", "table") == "table" and not getattr(
        parsed_args, "columns", None
    )


class Command(EngineCommand, command.Command):
    """A protector command that prints no record."""


class Lister(EngineCommand, command.Lister):
    """A protector list: its columns and rows from a list view of ``protector.views``; a table
    shows the headings, ``-f json|yaml|value|csv`` the field names, as the CLI does."""

    def produce_output(self, parsed_args: argparse.Namespace, column_names: Any, data: Any) -> int:
        if isinstance(column_names, display.Headings):
            table = getattr(parsed_args, "formatter", "table") == "table"
            try:
                names, picked = display.pick_columns(
                    column_names, getattr(parsed_args, "columns", None) or [], table
                )
            except ValueError as error:
                raise exceptions.CommandError(str(error)) from None
            data = [tuple(row[i] for i in picked) for row in data]
            column_names = names
            parsed_args.columns = []
        if getattr(parsed_args, "formatter", None) == "value":
            data = [tuple(display.plain(v) for v in row) for row in data]
        return super().produce_output(parsed_args, column_names, data)  # type: ignore[no-any-return]


class ShowOne(EngineCommand, command.ShowOne):
    """A protector record: its fields from a show view of ``protector.views``.

    A command may set ``self._text``: shown instead of the table in the default table form
    without ``-c`` (``sync-status`` and ``sync-force`` print the spec's text there), and
    ``self._table_after``: a list printed after the record in that form (a site failover's
    groups).
    """

    _text: str | None = None
    _table_after: tuple[list[str], list[tuple[Any, ...]]] | None = None

    def run(self, parsed_args: argparse.Namespace) -> int:
        self._text = None
        self._table_after = None
        return super().run(parsed_args)

    def produce_output(
        self,
        parsed_args: argparse.Namespace,
        column_names: Sequence[str],
        data: Any,
    ) -> int:
        if self._text is not None and is_table(parsed_args):
            self.app.stdout.write(self._text)
            return 0
        if getattr(parsed_args, "formatter", None) == "value":
            data = tuple(display.plain(v) for v in data)
        result = super().produce_output(parsed_args, column_names, data)
        if self._table_after is not None and is_table(parsed_args):
            headings, rows = self._table_after
            self.app.stdout.write("\n")
            self.formatter.emit_list(headings, rows, self.app.stdout, parsed_args)
        return result

    def operation_view(
        self,
        parsed_args: argparse.Namespace,
        pairs: list[tuple[str, Any]],
        group_results: list[dict[str, Any]] | None,
    ) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        """An operation's record: ``pairs`` from the ``operation`` view; a site failover's
        ``group_results`` as a table after it (table form) or as the ``group_results`` field
        (every other form), as the CLI prints it."""
        if group_results is not None:
            if is_table(parsed_args):
                if group_results:
                    columns = display.views().columns("group_results")
                    self._table_after = (
                        [heading for _, heading in columns],
                        [
                            tuple(display.cell(result.get(key)) for key, _ in columns)
                            for result in group_results
                        ],
                    )
            else:
                pairs = [*pairs, ("group_results", group_results)]
        return display.show_view(pairs)


def operation_pairs(
    operation: Any, id_field: str
) -> tuple[list[tuple[str, Any]], list[dict[str, Any]] | None]:
    """The ``operation`` view of ``operation`` and, for a site failover, its per-group
    results."""
    pairs = display.show_pairs("operation", operation, id_field=id_field)
    if str(getattr(operation, "operation_type", "")) != "site_failover":
        return pairs, None
    # The view may already carry the results as a field (what every form but a table shows):
    # keep them once, shown as the form asks.
    given = [value for field, value in pairs if field == "group_results"]
    if given:
        pairs = [(field, value) for field, value in pairs if field != "group_results"]
        return pairs, list(given[0] or [])
    return pairs, display.group_result_rows(operation)


def outcome_failure(operation: Any) -> str | None:
    """``None`` when ``operation`` completed; else why the command fails after printing it
    (the CLI's wording, with ``openstack`` commands)."""
    status = str(getattr(operation, "status", ""))
    if status == "completed":
        return None
    group = getattr(operation, "group_name", None)
    kind = str(getattr(operation, "operation_type", "operation"))
    if group:
        subject = f"protection group '{group}'"
    elif kind == "site_failover":
        subject = f"site '{getattr(operation, 'source_site', '')}'"
    else:
        subject = (
            f"{getattr(operation, 'source_site', '')} → {getattr(operation, 'target_site', '')}"
        )
    error = getattr(operation, "error_message", None)
    detail = f" ({summary(error)})" if error else ""
    ref = operation_ref(str(operation.id))
    return escape_controls(
        f"{kind} of {subject} ended {status}{detail}: "
        f"see `openstack protector operation show {ref}`"
    )


def summary(message: str, limit: int = 240) -> str:
    """The first line of ``message``, cut at about ``limit`` characters (the whole message is
    in the operation record)."""
    lines = message.strip().splitlines() or [""]
    first = lines[0].rstrip()
    cut = first[:limit]
    if len(cut) < len(first) or len(lines) > 1:
        return f"{cut.rstrip()}…"
    return cut
