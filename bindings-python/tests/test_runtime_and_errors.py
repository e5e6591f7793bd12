"""Threads, fork, Ctrl-C, error classes and argument types."""

from __future__ import annotations

import _thread
import builtins
import os
import subprocess
import sys
import threading

import pytest

import protector
from protector import exceptions
from protector._protector import _panic, _raise_error
from protector.types import OperationStatus

from conftest import GROUP, Sim, assert_one_running_copy, protect, resources

KINDS = {
    "not_found": (exceptions.NotFoundError, LookupError),
    "already_exists": (exceptions.AlreadyExistsError, None),
    "conflict": (exceptions.ConflictError, None),
    "permission_denied": (exceptions.PermissionDeniedError, PermissionError),
    "unauthenticated": (exceptions.UnauthenticatedError, None),
    "invalid_input": (exceptions.InvalidInputError, ValueError),
    "validation_failed": (exceptions.ValidationFailedError, ValueError),
    "unsupported": (exceptions.UnsupportedError, None),
    "rate_limited": (exceptions.RateLimitedError, None),
    "unavailable": (exceptions.UnavailableError, None),
    "timeout": (exceptions.TimeoutError, builtins.TimeoutError),
    "out_of_sync": (exceptions.OutOfSyncError, None),
    "config_invalid": (exceptions.ConfigInvalidError, ValueError),
    "unexpected": (exceptions.ProtectorError, None),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_error_kind_maps_to_its_class(kind: str) -> None:
    cls, builtin = KINDS[kind]
    with pytest.raises(cls) as raised:
        _raise_error(kind, "it went wrong")
    error = raised.value
    assert type(error) is cls
    assert isinstance(error, protector.ProtectorError)
    if builtin is not None:
        assert isinstance(error, builtin)
    assert (error.kind, str(error), error.resource) == (kind, "it went wrong", "g")
    assert error.operation_id == "00000000-0000-0000-0000-000000000000"
    assert error.retry == ("temporary" if kind in ("rate_limited", "unavailable", "timeout")
                           else "permanent")


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'nonsense' is not an error kind"):
        _raise_error("nonsense", "x")


def test_a_panic_becomes_an_exception() -> None:
    with pytest.raises(protector.ProtectorError, match="a deliberate panic") as raised:
        _panic()
    assert raised.value.kind == "unexpected"


def test_engine_errors_carry_kind_resource_and_hint(sim: Sim) -> None:
    engine = sim.engine()
    with pytest.raises(protector.NotFoundError) as raised:
        engine.group("no-such-group")
    assert isinstance(raised.value, LookupError)
    assert raised.value.kind == "not_found"
    assert "no-such-group" in str(raised.value)
    with pytest.raises(protector.NotFoundError):
        sim.engine("site-z")
    with pytest.raises(protector.InvalidInputError):
        engine.create_group("g", primary_site="site-a", secondary_site="site-b",
                            volume_type="replicated-ssd", replication_type="sometimes")


def test_wrong_argument_types_raise_type_error(sim: Sim) -> None:
    engine = sim.engine()
    with pytest.raises(TypeError, match="group"):
        engine.group(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="networks"):
        engine.plan_failover(GROUP, networks={"net": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="unplanned"):
        engine.failover(GROUP, unplanned="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        engine.create_group("g", "site-a")  # type: ignore[misc]
    with pytest.raises(TypeError, match="site"):
        protector.Protector(site=7)  # type: ignore[arg-type]


def test_eight_threads_at_once(sim: Sim) -> None:
    engine = sim.engine()
    protect(sim, engine)
    barrier = threading.Barrier(8)
    results: list[object] = []
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            own = engine if i % 2 else sim.engine("site-b" if i % 4 == 0 else "site-a")
            barrier.wait()
            for _ in range(5):
                results.append((own.groups()[0].name, own.sites()[0].name,
                                len(own.members(GROUP))))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [(GROUP, "site-a", 3)] * 40


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_call_from_a_forked_child(sim: Sim) -> None:
    engine = sim.engine()
    protect(sim, engine)
    assert engine.group(GROUP).name == GROUP  # the parent's runtime exists before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's runtime threads are gone
        try:
            name = sim.engine().group(GROUP).name
            inherited = engine.group(GROUP).name
            os.write(write, f"{name} {inherited}".encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    said = os.read(read, 1024).decode()
    assert os.waitstatus_to_exitcode(status) == 0
    assert said == f"{GROUP} {GROUP}"
    assert engine.group(GROUP).name == GROUP  # and the parent's still works


def test_ctrl_c_interrupts_a_wait_and_the_operation_goes_on(sim: Sim) -> None:
    engine = sim.engine()
    protect(sim, engine)
    handle = engine.failover(GROUP)
    with pytest.raises(KeyboardInterrupt):
        handle.wait(on_progress=lambda op: _thread.interrupt_main())
    op = engine.follow(handle.id).wait()
    assert op.status is OperationStatus.COMPLETED
    assert handle.wait().status is OperationStatus.COMPLETED


CHILD = """
import _thread, sys
import protector
engine = protector.Protector("site-a", sys.argv[1], poll_interval=0.02)
handle = engine.failover(sys.argv[2])
print(handle.id, flush=True)
# Ctrl-C once the run has done a step; nothing catches it: the interpreter exits.
def on_progress(op):
    if op.status == "running" and op.steps_completed:
        _thread.interrupt_main()
handle.wait(on_progress=on_progress)
"""


def test_ctrl_c_that_ends_the_process_leaves_a_recoverable_operation(sim: Sim) -> None:
    engine = sim.engine()
    protect(sim, engine)
    baseline = resources(sim.inspect())
    child = subprocess.run([sys.executable, "-c", CHILD, str(sim.state_dir), GROUP],
                           capture_output=True, text=True, timeout=300)
    assert "KeyboardInterrupt" in child.stderr, child.stderr
    op_id = child.stdout.strip()
    left = engine.operation(op_id)
    assert left.status is OperationStatus.RUNNING, left  # its process is gone mid-run

    op = engine.recover_operation(op_id)
    assert op.status is OperationStatus.COMPLETED, op.error_message
    assert_one_running_copy(sim, "site-b")
    after = resources(sim.inspect())
    # Nothing leaked on site-a; site-b holds exactly one more copy of each volume and port.
    for kind in ("servers", "volumes", "ports"):
        assert after[f"site-a/{kind}"] == baseline[f"site-a/{kind}"], kind


def test_a_wait_that_times_out(sim: Sim) -> None:
    engine = sim.engine()
    protect(sim, engine)
    handle = engine.failover(GROUP)
    try:
        handle.wait(timeout=0)
    except protector.TimeoutError as e:
        assert isinstance(e, builtins.TimeoutError)
        assert e.operation_id == handle.id
        assert e.hint == {"action": "follow_operation", "operation": f"op-{handle.id}"}
    assert handle.wait().status is OperationStatus.COMPLETED


def test_records_are_immutable_and_plain_as_dicts(sim: Sim) -> None:
    engine = sim.engine()
    group = protect(sim, engine)
    with pytest.raises(AttributeError, match="immutable"):
        group.name = "other"  # type: ignore[misc]
    data = group.to_dict()
    assert data["status"] == "active" and type(data["status"]) is str
    assert data["name"] == GROUP
    policy = engine.policy(GROUP)
    assert policy is not None
    assert "api_token" not in policy.to_dict()["primary_array"]
    site = engine.sites()[0]
    assert site.site_type == "primary"
