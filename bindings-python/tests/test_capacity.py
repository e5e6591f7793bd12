"""Issue 16, item 6 from Python: a failover the target project's quota cannot take raises
`ValidationFailedError` with nothing changed, and an availability-zone mapping stored with
`set_mappings` is what the plan boots the members in."""

from __future__ import annotations

import subprocess

import pytest

import protector
from protector.types import Severity

from conftest import GROUP, MEMBERS, Sim, protect, resources


def set_quota(sim: Sim, *limits: str) -> None:
    subprocess.run([sim.bin, "sim", "quota", "set", "site-b", "--project", "production-project",
                    *limits, "--dir", str(sim.dir)], check=True, capture_output=True)


def test_quota_refusal_and_zone_mapping(sim: Sim) -> None:
    engine = sim.engine("site-a")
    protect(sim, engine)
    stored = engine.set_mappings(GROUP, availability_zones={"nova": "az-2"})
    assert stored.mappings.availability_zones == {"nova": "az-2"}

    set_quota(sim, "--instances", "2")
    before = resources(sim.inspect())
    with pytest.raises(protector.exceptions.ValidationFailedError) as refused:
        engine.failover(GROUP)
    assert "instances quota of project production-project" in refused.value.message
    assert "`openstack quota set --instances 3 " in refused.value.message
    assert resources(sim.inspect()) == before
    assert engine.operations() == []

    set_quota(sim, "--instances", "-1")
    plan = engine.plan_failover(GROUP)
    assert not [f for f in plan.findings if f.severity is Severity.ERROR], plan.findings
    assert sorted(m["instance_name"] for m in plan.members) == sorted(MEMBERS)
    assert {m["availability_zone"] for m in plan.members} == {"az-2"}

    with pytest.raises(protector.exceptions.ValidationFailedError, match="availability zone 'nowhere'"):
        engine.set_mappings(GROUP, availability_zones={"nova": "nowhere"})
