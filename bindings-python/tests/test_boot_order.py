"""Boot order and RTO estimate from Python: a member's priority and dependencies, the plan's
boot order and estimate, the waves the failover ran and its estimate against the actual time,
and the refusals (InvalidInputError, nothing changed)."""

from __future__ import annotations

import pytest

import protector
from protector.types import OperationStatus

from conftest import GROUP, Sim, protect


def test_boot_order_and_estimate(sim: Sim) -> None:
    engine = sim.engine("site-a")
    protect(sim, engine)
    db = engine.set_member_order(GROUP, "db-server-1", priority=1)
    assert (db.priority, db.depends_on) == (1, ())
    web = engine.set_member_order(GROUP, "web-server-1", priority=2, depends_on=["db-server-1"])
    assert (web.priority, web.depends_on) == (2, (db.id,))

    before = engine.members(GROUP)
    with pytest.raises(protector.InvalidInputError, match="raise the priority of db-server-1"):
        engine.set_member_order(GROUP, "db-server-1", priority=4)
    with pytest.raises(protector.InvalidInputError, match="outside 1-5"):
        engine.set_member_order(GROUP, "web-server-2", priority=9)
    assert engine.members(GROUP) == before

    plan = engine.plan_failover(GROUP)
    assert [(w.priority, w.members) for w in plan.boot_order] == [
        (1, ("db-server-1",)), (2, ("web-server-1",)), (3, ("web-server-2",))]
    assert plan.estimate is not None
    assert plan.estimate.basis.startswith("default")
    assert len(plan.estimate.waves) == 3

    op = engine.failover(GROUP).wait()
    assert op.status is OperationStatus.COMPLETED, op.error_message
    assert [w.members for w in op.boot_waves] == [
        ("db-server-1",), ("web-server-1",), ("web-server-2",)]
    assert all(w.finished_at is not None for w in op.boot_waves)
    assert op.estimate == plan.estimate
