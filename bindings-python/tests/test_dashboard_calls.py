"""The calls a dashboard makes: the instance picker (`member_candidates`) and the groups'
health at a glance (`group_overviews`), with their list views."""

from __future__ import annotations

import pytest

import protector
from protector.types import (
    GroupOverview, GroupStatus, MemberCandidate, OperationStatus, OverviewSync, ReplicationHealth,
)

from conftest import GROUP, MEMBERS, Sim, protect, resources


def test_candidates_say_why_an_instance_cannot_join(sim: Sim) -> None:
    engine = sim.engine("site-a")
    engine.create_group(GROUP, primary_site="site-a", secondary_site="site-b",
                        volume_type="replicated-ssd")
    engine.add_member(GROUP, sim.server_id("site-a", MEMBERS[0]))
    before = resources(sim.inspect())
    candidates = engine.member_candidates(GROUP)
    assert all(isinstance(c, MemberCandidate) for c in candidates)
    by_name = {c.name: c for c in candidates}
    assert "t2-app" not in by_name, "another project's VM is offered"
    assert by_name[MEMBERS[0]].eligible is False
    for c in candidates:
        assert c.eligible == (c.reason is None), c
        if c.eligible:
            continue
        with pytest.raises(protector.exceptions.ProtectorError) as refused:
            engine.add_member(GROUP, c.instance_id)
        assert refused.value.message == c.reason, c.name
    assert {c.name for c in candidates if c.eligible} == {"web-server-2", "db-server-1"}
    assert resources(sim.inspect()) == before

    keys = [key for key, _ in protector.views.columns("member_candidates")]
    assert keys == ["instance_id", "name", "status", "eligible", "reason"]
    rows = protector.views.rows("member_candidates", candidates)
    assert [r[3] for r in rows] == sorted((r[3] for r in rows), reverse=True)
    assert rows[-1][4] is not None


def test_overviews_show_members_sync_lag_and_the_last_operation(sim: Sim) -> None:
    engine = sim.engine("site-a")
    protect(sim, engine)
    [overview] = engine.group_overviews()
    assert isinstance(overview, GroupOverview)
    assert overview.group.name == GROUP
    assert overview.member_count == len(MEMBERS)
    assert overview.sync_status is OverviewSync.SYNCED
    assert overview.rpo_minutes is not None
    assert isinstance(overview.replication_status, ReplicationHealth)
    assert overview.last_operation is None

    handle = engine.failover(GROUP)
    op = handle.wait(timeout=120)
    assert op.status is OperationStatus.COMPLETED, op.error_message
    overview = engine.group_overview(GROUP)
    assert overview.group.status is GroupStatus.FAILED_OVER
    assert overview.last_operation is not None and overview.last_operation.id == op.id

    headings = dict(protector.views.columns("group_overviews"))
    assert headings["replication_lag"] == "Replication Lag"
    [row] = protector.views.rows("group_overviews", [overview])
    fields = dict(zip(headings, row))
    assert fields["member_count"] == len(MEMBERS)
    assert fields["status"] == "failed_over"
    assert fields["last_operation"] == f"failover completed (op-{op.id})"
    assert fields["sync_status"] == "SYNCED"


def test_statuses_are_classified_by_the_engine() -> None:
    assert {s for s in GroupStatus if s.is_in_flight} == {
        GroupStatus.CREATING, GroupStatus.FAILING_OVER, GroupStatus.FAILING_BACK,
        GroupStatus.DELETING,
    }
    assert {s for s in OperationStatus if s.is_terminal} == {
        OperationStatus.COMPLETED, OperationStatus.FAILED, OperationStatus.PARTIAL,
    }
