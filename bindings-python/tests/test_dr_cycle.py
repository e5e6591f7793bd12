"""The whole DR cycle from Python against `protector sim serve`, sync and async; each end
state checked on both sites through the simulator's inspect view."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

import protector
from protector.types import GroupStatus, OperationStatus, OperationType

from conftest import (
    GROUP, MEMBERS, NETWORKS, Sim, assert_one_running_copy, protect, resources,
)

DRILL_NETWORKS = {"net-primary-web": "dr-test-net", "net-primary-db": "dr-test-net"}


def completed(op: protector.types.Operation) -> None:
    assert op.status is OperationStatus.COMPLETED, (op.operation_type, op.error_message)


def member_volumes(inventory: dict[str, Any]) -> dict[str, str]:
    """The members' volumes on site-a: name -> array volume."""
    servers = [s for s in inventory["sites"]["site-a"]["servers"] if s["name"] in MEMBERS]
    ids = {v for s in servers for v in s["volumes"]}
    return {v["name"]: v["array_volume"]
            for v in inventory["sites"]["site-a"]["volumes"] if v["id"] in ids}


def assert_zero_loss(inventory: dict[str, Any], volumes: dict[str, str]) -> None:
    """A planned failover loses nothing: the source VMs were stopped before the final
    snapshot, so the snapshot holds each source volume's last write, and each recovered
    volume started from it (it has only been written since)."""
    source = {v["name"]: v["fingerprint"] for v in inventory["arrays"]["site-a"]["volumes"]}
    snapshots = inventory["arrays"]["site-b"]["snapshots"]
    target = {v["name"]: v for v in inventory["sites"]["site-b"]["volumes"]}
    assert volumes, "no member volumes"
    for name, array_volume in volumes.items():
        last = source[array_volume]
        replicated = next(s["fingerprints"][array_volume] for s in reversed(snapshots)
                          if array_volume in s.get("fingerprints", {}))
        assert replicated == last, f"{name}: the final snapshot lacks the last write"
        assert target[name]["fingerprint"] >= last, f"{name} on site-b"


def test_dr_cycle(sim: Sim) -> None:
    site_a = sim.engine("site-a")
    site_b = sim.engine("site-b")
    group = protect(sim, site_a)
    assert group.status is GroupStatus.ACTIVE
    assert isinstance(group.created_at, datetime)
    members = site_a.members(GROUP)
    assert sorted(m.instance_name for m in members) == sorted(MEMBERS)
    first = members[0]
    assert site_a.member(GROUP, first.id) == first
    assert site_a.member(GROUP, first.instance_id) == first
    with pytest.raises(protector.NotFoundError, match="member 'no-such-vm'") as missing:
        site_a.member(GROUP, "no-such-vm")
    assert missing.value.hint == {"action": "list_members", "group": GROUP}
    assert site_a.sync_status(GROUP).in_sync
    baseline = resources(sim.inspect())

    # Planned failover, with progress on this thread.
    members_volumes = member_volumes(sim.inspect())
    plan = site_a.plan_failover(GROUP)
    assert plan.source_site == "site-a" and plan.target_site == "site-b"
    assert site_a.validate_failover(GROUP).ok
    handle = site_a.failover(GROUP)
    seen: list[protector.types.Operation] = []
    op = handle.wait(on_progress=seen.append)
    completed(op)
    assert op.operation_type is OperationType.FAILOVER
    assert seen and seen[-1] == op
    assert [s.progress for s in seen] == sorted(s.progress for s in seen)
    assert_one_running_copy(sim, "site-b")
    assert_zero_loss(sim.inspect(), members_volumes)
    group = site_b.group(GROUP)
    assert (group.status, group.current_primary_site) == (GroupStatus.FAILED_OVER, "site-b")

    # Failback with reverse replication: nothing left on site-b.
    completed(site_b.failback(GROUP).wait())
    assert_one_running_copy(sim, "site-a")
    assert resources(sim.inspect()) == baseline, "failback leaked something"
    group = site_a.group(GROUP)
    assert (group.status, group.current_primary_site, group.failover_count) == (
        GroupStatus.ACTIVE, "site-a", 1)

    # Drill, then cleanup: production untouched, then nothing left.
    completed(site_a.test_failover(GROUP, networks=DRILL_NETWORKS).wait())
    during = sim.inspect()
    for name in MEMBERS:
        tests = [s for s in during["sites"]["site-b"]["servers"] if s["name"] == f"test-{name}"]
        assert [s["status"] for s in tests] == ["ACTIVE"], name
    assert_one_running_copy(sim, "site-a")
    completed(site_a.test_failover_cleanup(GROUP).wait())
    assert resources(sim.inspect()) == baseline, "the drill leaked something"

    # Unplanned failover with site-a down: the data at risk is reported first.
    sim.fault("--site", "site-a", "--down", "--array-down")
    points = site_b.recovery_points(GROUP)
    assert points.site == "site-b" and points.points, points
    assert all(p.usable for p in points.points)
    unplanned = site_b.plan_failover(GROUP, unplanned=True)
    assert unplanned.recovery_point is not None
    handle = site_b.failover(GROUP, unplanned=True)
    assert handle.plan is not None and handle.plan.recovery_point is not None
    op = handle.wait()
    completed(op)
    assert op.data_loss == handle.plan.recovery_point.data_at_risk
    assert site_b.group(GROUP).fence_required_on == "site-a"
    # Uncommitted: no failback until the failover is committed (or rolled back).
    running = site_b.group(GROUP).recovery_point
    assert running is not None and running.committed_at is None
    assert running.snapshot == handle.plan.recovery_point.snapshot
    with pytest.raises(protector.ConflictError, match="awaits its commit"):
        site_b.failback(GROUP)
    committed = site_b.failover_commit(GROUP)
    assert committed.group.recovery_point.committed_at is not None
    # site-a's array is down: the reverse replication waits for the failback.
    assert committed.replication_note is not None
    inventory = sim.inspect()
    for name in MEMBERS:
        assert sum(1 for s in inventory["sites"]["site-b"]["servers"]
                   if s["name"] == name and s["status"] == "ACTIVE") == 1

    # site-a is back: fence, sync, failback.
    sim.fault("--site", "site-a", "--up", "--array-up")
    assert site_b.fence(GROUP).fence_required_on is None
    site_b.sync_force(GROUP)
    completed(site_b.failback(GROUP).wait())
    assert_one_running_copy(sim, "site-a")
    assert resources(sim.inspect()) == baseline

    # The operations are all on record.
    every = site_a.operations()
    kinds = [o.operation_type for o in every]
    assert kinds.count(OperationType.FAILOVER) >= 1
    assert all(o.status.is_terminal for o in every)
    # Selected by the engine: the same records, narrowed.
    failovers = site_a.operations(group=GROUP, operation_type=["failover"], status=["completed"])
    assert [o.id for o in failovers] == [
        o.id for o in every
        if o.operation_type == OperationType.FAILOVER and str(o.status) == "completed"
    ]
    assert [o.id for o in site_a.operations(limit=1)] == [every[0].id]
    # One name is a str, never its letters; a tuple is a sequence like a list.
    assert [o.id for o in site_a.operations(group=GROUP, operation_type="failover",
                                            status="completed")] == [o.id for o in failovers]
    assert [o.id for o in site_a.operations(status=("completed", "failed"))] == [
        o.id for o in every if str(o.status) in ("completed", "failed")
    ]
    with pytest.raises(protector.InvalidInputError, match="unknown operation status 'done'"):
        site_a.operations(status=["done"])
    with pytest.raises(protector.InvalidInputError, match="unknown operation status 'done'"):
        site_a.operations(status="done")
    with pytest.raises(TypeError, match="a name \\(str\\) or a sequence of names, got int") as wrong:
        site_a.operations(status=3)
    # PyO3 names the argument in a note.
    assert any("'status'" in note for note in getattr(wrong.value, "__notes__", [])), wrong.value
    with pytest.raises(protector.NotFoundError, match="'nope' not found"):
        site_a.operations(group="nope")


def test_dr_cycle_async(sim: Sim) -> None:
    async def cycle() -> None:
        site_a = sim.engine("site-a")
        site_b = sim.engine("site-b")
        await site_a.create_group_async(GROUP, primary_site="site-a", secondary_site="site-b",
                                        volume_type="replicated-ssd")
        ids = [sim.server_id("site-a", name) for name in MEMBERS]
        members = await asyncio.gather(*(site_a.add_member_async(GROUP, i) for i in ids[:1]))
        for i in ids[1:]:
            members.append(await site_a.add_member_async(GROUP, i))
        assert {m.instance_id for m in members} == set(ids)
        arrays = sim.arrays()
        await site_a.create_policy_async(
            GROUP, pure_pg_name="pg-prod-web-app",
            primary_array_url=arrays["site-a"]["url"],
            primary_array_token=arrays["site-a"]["api_token"],
            primary_array_ca_file=arrays["site-a"]["ca_file"],
            secondary_array_url=arrays["site-b"]["url"],
            secondary_array_token=arrays["site-b"]["api_token"],
            secondary_array_ca_file=arrays["site-b"]["ca_file"],
        )
        await site_a.set_mappings_async(GROUP, networks=NETWORKS, flavors={"m1.large": "m2.large"})
        baseline = resources(sim.inspect())

        handle = await site_a.failover_async(GROUP)
        seen = [op async for op in handle]
        assert seen[-1].status is OperationStatus.COMPLETED
        op = await handle.wait_async()
        assert op == seen[-1]
        assert_one_running_copy(sim, "site-b")

        handle = await site_b.failback_async(GROUP)
        op = await handle.wait_async(timeout=600)
        assert op.status is OperationStatus.COMPLETED
        assert_one_running_copy(sim, "site-a")
        assert resources(sim.inspect()) == baseline
        groups = await site_a.groups_async()
        assert [g.name for g in groups] == [GROUP]

    asyncio.run(cycle())


def test_sync_progress_iterator_ends_with_the_final_record(sim: Sim) -> None:
    site_a = sim.engine("site-a")
    protect(sim, site_a)
    handle = site_a.failover(GROUP)
    records = list(handle.progress())
    assert records[-1].status is OperationStatus.COMPLETED
    assert handle.done()
    assert handle.wait(timeout=0) == records[-1]
    followed = site_a.follow(handle.id)
    assert followed.wait(timeout=60).status is OperationStatus.COMPLETED
    assert site_a.wait_operation(handle.id).id == handle.id


def test_the_example_runs(served: Sim) -> None:
    example = pathlib.Path(__file__).parents[2] / "examples" / "python" / "dr_cycle.py"
    env = dict(os.environ, PROTECTOR_STATE_DIR=str(served.state_dir),
               PATH=f"{pathlib.Path(served.bin).parent}{os.pathsep}{os.environ['PATH']}")
    run = subprocess.run([sys.executable, str(example), str(served.dir)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "registered site-a (primary)" in run.stdout
    assert "failover completed; group on site-b" in run.stdout
    assert "failback completed; group on site-a" in run.stdout
    assert_one_running_copy(served, "site-a")
