"""``openstack protector operation ...``: DR operations and their progress."""

from __future__ import annotations

import argparse
from typing import Any

from protectorclient.client import operation_ref
from protectorclient.osc import base, display, longrun, options


def _id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "operation", metavar="<operation-id>", help="Operation id (op-<uuid>, or the bare uuid)"
    )


class ListOperation(base.Lister):
    """List operations, newest first."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--protection-group",
            metavar="<name-or-id>",
            help="Only the operations of this protection group",
        )
        parser.add_argument(
            "--status",
            metavar="<status>",
            action="append",
            default=[],
            help="Only operations in this status: pending, running, completed, failed or "
            "partial (repeat it or separate them with commas)",
        )
        parser.add_argument(
            "--type",
            metavar="<type>",
            dest="operation_type",
            action="append",
            default=[],
            help="Only operations of this type: failover, failback, test_failover, "
            "test_cleanup, site_failover or sync (repeat it or separate them with commas)",
        )
        parser.add_argument(
            "--limit", metavar="<n>", type=options.positive, help="At most this many, the newest"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        operations = self.engine.operations(
            group=parsed_args.protection_group,
            status=parsed_args.status,
            operation_type=parsed_args.operation_type,
            limit=parsed_args.limit,
        )
        return display.list_view("operations", operations)


class ShowOperation(base.ShowOne):
    """Show one operation (a site failover with one row per group)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _id_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        operation = self.engine.operation(parsed_args.operation)
        pairs, group_results = base.operation_pairs(operation, "id")
        return self.operation_view(parsed_args, pairs, group_results)


class WaitOperation(base.ShowOne):
    """Wait for an operation (run by any process) to end, showing its progress on stderr;
    prints its final record. Fails when it ended failed or partial."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _id_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        handle = self.engine.follow(parsed_args.operation)
        progress = longrun.ProgressPrinter(self.app.stderr).skip(handle.status())
        final = handle.wait(on_progress=progress)
        failure = base.outcome_failure(final)
        if failure:
            self.fail_after_output(failure)
        pairs, group_results = base.operation_pairs(final, "id")
        return self.operation_view(parsed_args, pairs, group_results)


class CancelOperation(base.ShowOne):
    """Stop a pending or running operation.

    One that has not started ends failed at once (nothing was changed). A running one stops
    before its next step and rolls back as a failed run does; a site failover starts no further
    group. Prints the record as it is now."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _id_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        operation = self.engine.cancel_operation(parsed_args.operation)
        if str(operation.status) not in ("completed", "failed", "partial"):
            ref = operation_ref(str(operation.id))
            self.app.stderr.write(
                f"Cancel requested: operation {ref} stops before its next step and rolls back; "
                f"follow it with `openstack protector operation wait {ref}`\n"
            )
        pairs, group_results = base.operation_pairs(operation, "id")
        return self.operation_view(parsed_args, pairs, group_results)


class RecoverOperation(base.ShowOne):
    """Finish or roll back an operation whose process died; prints the operation.

    Run it only once the process that ran the operation is gone: recovering an operation that
    still runs undoes its work under it. The operation is continued to its end from its journal
    (with --rollback: undone). See `protector operation recover --help` for every case."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _id_argument(parser)
        parser.add_argument(
            "--rollback",
            action="store_true",
            help="Undo what the operation did instead of continuing it",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        operation = self.engine.recover_operation(
            parsed_args.operation, roll_back=parsed_args.rollback
        )
        log = self.client.operation_log(str(operation.id))
        if log.exists():
            self.app.stderr.write(f"Its background run's output: {log}\n")
        pairs, group_results = base.operation_pairs(operation, "id")
        return self.operation_view(parsed_args, pairs, group_results)
