"""Long operations (failover, failback, the DR drill and its cleanup, site failover): in the
foreground with ``--wait``, else in the background.

The engine runs an operation inside the process that started it, so an operation started by
an ``openstack`` command that then exits would stop half-way. Without ``--wait`` the command
therefore forks a detached background process (its own session, no terminal, stdin/stdout/
stderr away from the caller's) which opens its own engine with the same OSC token, starts the
operation and reports back through a pipe: the refusal (printed as this command's error,
nothing recorded) or the pending record, which this command prints before it exits 0. The
background process then runs the operation to its end, writing its progress and final record
to ``<state dir>/operations/op-<uuid>.log`` (the CLI's place). ``openstack protector operation
show|wait op-<uuid>`` follows it; if that process dies, ``operation recover`` finishes it.

With ``--wait`` (or where ``os.fork`` does not exist) the operation runs here with its
progress on stderr. A Ctrl-C ends this process and the operation with it: the command says
how to recover it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import IO, Any

from protectorclient.client import operation_ref
from protectorclient.osc import base
from protectorclient.osc.errors import command_error, describe, escape_controls, is_engine_error

Starter = Callable[[Any], Any]
"""Starts the operation on an engine and returns its ``OperationHandle``."""


class ProgressPrinter:
    """An operation's progress as plain lines on ``stream``: one per finished (or failed) step,
    ``[ 45%] storage: create_volumes_site_b``, and one per group of a site failover whose
    status changed, ``[ 40%] group prod-web-app: completed`` (the CLI's lines)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.steps_completed = 0
        self.steps_failed = 0
        self.groups: dict[str, str] = {}

    def skip(self, operation: Any) -> ProgressPrinter:
        """Takes what ``operation`` shows as already reported (following an operation that
        has run for a while prints only what happens next)."""
        self.steps_completed = len(getattr(operation, "steps_completed", ()) or ())
        self.steps_failed = len(getattr(operation, "steps_failed", ()) or ())
        for result in getattr(operation, "group_results", ()) or ():
            self.groups[str(result.group_id)] = str(result.status)
        return self

    def __call__(self, operation: Any) -> None:
        progress = int(getattr(operation, "progress", 0) or 0)
        phase = str(getattr(operation, "phase", ""))
        completed = list(getattr(operation, "steps_completed", ()) or ())
        failed = list(getattr(operation, "steps_failed", ()) or ())
        lines = [
            f"[{progress:>3}%] {phase}: {escape_controls(str(step))}"
            for step in completed[self.steps_completed :]
        ]
        lines += [
            f"[{progress:>3}%] {phase}: {escape_controls(str(step))} FAILED"
            for step in failed[self.steps_failed :]
        ]
        for result in getattr(operation, "group_results", ()) or ():
            status = str(result.status)
            key = str(result.group_id)
            if status == "pending" or self.groups.get(key) == status:
                continue
            self.groups[key] = status
            error = getattr(result, "error_message", None)
            detail = f" ({escape_controls(error.splitlines()[0])})" if error else ""
            name = escape_controls(str(result.group_name))
            lines.append(f"[{progress:>3}%] group {name}: {status}{detail}")
        self.steps_completed = len(completed)
        self.steps_failed = len(failed)
        if lines:
            try:
                self.stream.write("".join(f"{line}\n" for line in lines))
                self.stream.flush()
            except OSError:
                # A closed stderr must not stop the operation.
                pass


def data_at_risk(handle: Any) -> str | None:
    """What an unplanned failover loses (its recovery point), when it has one."""
    plan = getattr(handle, "plan", None)
    point = getattr(plan, "recovery_point", None) if plan is not None else None
    risk = getattr(point, "data_at_risk", None) if point is not None else None
    return str(risk) if risk else None


def can_detach() -> bool:
    """Whether a background run can be started (POSIX ``fork`` and ``setsid``)."""
    return hasattr(os, "fork") and hasattr(os, "setsid")


def launch(
    command: base.ShowOne, parsed_args: argparse.Namespace, start: Starter
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Runs the operation ``start`` starts as ``--wait`` asks; returns the record to print
    (the final one with ``--wait``, the pending one otherwise)."""
    if parsed_args.wait or not can_detach():
        if not parsed_args.wait:
            command.app.stderr.write(
                "Note: this platform cannot run the operation in the background: it runs "
                "here, until it ends\n"
            )
        return run_here(command, parsed_args, start)
    return run_detached(command, parsed_args, start)


def run_here(
    command: base.ShowOne, parsed_args: argparse.Namespace, start: Starter
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Starts the operation here, shows its progress on stderr until it ends and returns its
    final record; the command then fails when the operation did not complete."""
    stderr = command.app.stderr
    handle = start(command.engine)
    risk = data_at_risk(handle)
    if risk:
        stderr.write(f"Data at risk: {escape_controls(risk)}\n")
    ref = operation_ref(str(handle.id))
    try:
        final = handle.wait(on_progress=ProgressPrinter(stderr))
    except KeyboardInterrupt:
        stderr.write(
            f"Interrupted: operation {ref} ran in this process and stops with it. Once this "
            "process has ended, finish or undo it with "
            f"`openstack protector operation recover {ref}` (--rollback to undo)\n"
        )
        raise
    pairs, group_results = base.operation_pairs(final, "operation_id")
    failure = base.outcome_failure(final)
    if failure:
        command.fail_after_output(failure)
    return command.operation_view(parsed_args, pairs, group_results)


def run_detached(
    command: base.ShowOne, parsed_args: argparse.Namespace, start: Starter
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """Starts the operation in a detached background process (see the module's doc) and
    returns the pending record it reports; its refusal is raised here."""
    client = command.client
    for stream in (sys.stdout, sys.stderr, command.app.stdout, command.app.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        # First child: a new session, then the worker as its child, so that nothing waits
        # for the worker and no terminal can reach it.
        status = 1
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() == 0:
                _worker(command, parsed_args, client, start, write_end)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end, "rb") as pipe:
        raw = pipe.read()
    try:
        report = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        report = None
    from osc_lib import exceptions

    if not isinstance(report, dict):
        raise exceptions.CommandError(
            "the background run ended before it reported whether the operation started: "
            "check `openstack protector operation list`, or retry with --wait to run it in "
            "the foreground"
        )
    if "error" in report:
        error = report["error"]
        if isinstance(error, dict):
            raise command_error(_ReportedError(error))
        raise exceptions.CommandError(str(error))
    stderr = command.app.stderr
    if report.get("data_at_risk"):
        stderr.write(f"Data at risk: {escape_controls(str(report['data_at_risk']))}\n")
    ref = operation_ref(str(report["operation_id"]))
    output = f" (output: {report['log']})" if report.get("log") else ""
    stderr.write(
        f"Operation {ref} runs in the background{output}: follow it with "
        f"`openstack protector operation show {ref}` or "
        f"`openstack protector operation wait {ref}`\n"
    )
    pairs = [(str(f), v) for f, v in report["pairs"]]
    return command.operation_view(parsed_args, pairs, report.get("group_results"))


class _ReportedError:
    """An engine error as the background process reported it (the attributes
    :func:`describe` reads)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.message = str(fields.get("message", ""))
        self.hint = fields.get("hint")
        self.findings = list(fields.get("findings") or [])
        self.context = dict(fields.get("context") or {})

    def __str__(self) -> str:
        return self.message


def _send(fd: int, report: dict[str, Any]) -> None:
    """Writes ``report`` to the command and closes the pipe; a command that went away
    (Ctrl-C) is no error."""
    data = json.dumps(report, default=str).encode("utf-8")
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError:
        pass
    finally:
        os.close(fd)


def _error_report(error: BaseException) -> dict[str, Any]:
    if is_engine_error(error):
        return {
            "error": {
                "message": str(getattr(error, "message", error)),
                "kind": getattr(error, "kind", None),
                "hint": getattr(error, "hint", None),
                "findings": [str(f) for f in getattr(error, "findings", None) or []],
                "context": dict(getattr(error, "context", None) or {}),
            }
        }
    from osc_lib import exceptions

    if isinstance(error, exceptions.CommandError):
        return {"error": str(error)}
    return {
        "error": "the background run failed before the operation started: "
        f"{type(error).__name__}: {error}; nothing was changed"
    }


def _worker(
    command: base.ShowOne,
    parsed_args: argparse.Namespace,
    client: Any,
    start: Starter,
    report_fd: int,
) -> None:
    """The background process: starts the operation, reports, runs it to its end. Never
    returns. Once the operation has started nothing stops this process before the operation
    ends: not a failure to report, nor a caller that went away."""
    status = 1
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        try:
            handle = start(client.reopen())
        except Exception as error:  # reported to the command, which prints it
            _send(report_fd, _error_report(error))
            os._exit(4)
        ref = operation_ref(str(handle.id))
        log_path = client.operation_log(str(handle.id))
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError:
            log, log_path = devnull, None  # the run goes on without its log
        # Everything this process prints goes to the log from now on: Python's streams, the
        # command's, and the raw descriptors (the engine's own warnings).
        os.dup2(log, 1)
        os.dup2(log, 2)
        stream = open(log, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = sys.stderr = stream
        command.app.stdout = command.app.stderr = stream
        stream.write(f"Background run of operation {ref}\n")
        report: dict[str, Any] = {
            "operation_id": str(handle.id),
            "log": str(log_path) if log_path else None,
        }
        try:
            pairs, group_results = base.operation_pairs(handle.status(), "operation_id")
            report |= {
                "pairs": pairs,
                "group_results": group_results,
                "data_at_risk": data_at_risk(handle),
            }
        except Exception:
            traceback.print_exc()
            report["pairs"] = [("operation_id", ref)]
        _send(report_fd, report)
        try:
            final = handle.wait(on_progress=ProgressPrinter(stream))
        except Exception as error:
            text = describe(error) if is_engine_error(error) else f"{type(error).__name__}: {error}"
            stream.write(f"Error: {text}\n")
            stream.flush()
            os._exit(1)
        pairs, group_results = base.operation_pairs(final, "operation_id")
        columns, data = command.operation_view(parsed_args, pairs, group_results)
        command.produce_output(parsed_args, columns, data)
        failure = base.outcome_failure(final)
        if failure:
            stream.write(f"Error: {failure}\n")
        status = 0 if failure is None else 8
        stream.flush()
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(1)
    finally:
        os._exit(status)
