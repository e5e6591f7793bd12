"""The drill report and the leak scan from Python against `protector sim serve`."""

from __future__ import annotations

import pytest

import protector
from protector.types import OperationStatus

from conftest import GROUP, MEMBERS, Sim, protect

DRILL_NETWORKS = {"net-primary-web": "dr-test-net", "net-primary-db": "dr-test-net"}


def test_drill_report_and_leak_scan(sim: Sim) -> None:
    site_a = sim.engine("site-a")
    site_b = sim.engine("site-b")
    protect(sim, site_a)
    with pytest.raises(protector.NotFoundError, match="no DR drill recorded"):
        site_a.drill_report(GROUP)
    scan = site_a.leak_scan()
    assert scan["leaks"] == [] and scan["not_scanned"] == []
    assert {p["site"] for p in scan["scanned"]} == {"site-a", "site-b"}

    # A replicated snapshot on site-b: a failover and a failback with reverse replication.
    assert site_a.failover(GROUP).wait().status is OperationStatus.COMPLETED
    assert site_b.failback(GROUP).wait().status is OperationStatus.COMPLETED
    drill = site_a.test_failover(GROUP, networks=DRILL_NETWORKS).wait()
    assert drill.status is OperationStatus.COMPLETED, drill.error_message

    report = site_a.drill_report(GROUP)
    assert isinstance(report, dict)
    assert report["operation_id"] == str(drill.id)
    assert sorted(i["instance_name"] for i in report["instances"]) == sorted(MEMBERS)
    assert all(i["status"] == "ACTIVE" and i["boot_secs"] >= 0 for i in report["instances"])
    assert report["recovery_point"]["age_secs"] >= 0
    assert report["rto"]["estimated_secs"] > 0  # the drill plan's estimate
    assert site_a.leak_scan(sites=["site-b"])["leaks"] == []

    page = site_a.drill_report(GROUP, operation=f"op-{drill.id}", html=True)
    assert isinstance(page, str) and page.startswith("<!DOCTYPE html>")
    assert "test-web-server-1" in page

    cleanup = site_a.test_failover_cleanup(GROUP).wait()
    assert cleanup.status is OperationStatus.COMPLETED
    after = site_a.drill_report(GROUP)
    assert after["cleanup"]["operation_id"] == str(cleanup.id)
    assert after["resources_present"] is False
