"""`protector.views` shows exactly what the CLI shows: for the same state, the same keys,
headings and values as `protector ... -f json` (and the headings of `-f table`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import protector
from protector import views
from protector.types import OperationStatus, ProtectionGroup, Site

from conftest import GROUP, Sim, protect


def cli_json(sim: Sim, *args: str) -> Any:
    return json.loads(sim.cli(*args, "-f", "json"))


def table_headings(sim: Sim, *args: str) -> list[str]:
    """The headings of `-f table`: the second line, `| a | b |`."""
    header = sim.cli(*args, "-f", "table").splitlines()[1]
    return [cell.strip() for cell in header.strip("|").split("|")]


def assert_list(sim: Sim, kind: str, records: Any, *command: str) -> None:
    """views.columns/rows of `kind` over `records` are `command -f json` (and -f table)."""
    shown = cli_json(sim, *command)
    assert shown, f"{' '.join(command)} listed nothing"
    keys = [key for key, _ in views.columns(kind)]
    for row in shown:
        assert list(row) == keys, command
    assert views.rows(kind, records) == [tuple(row.values()) for row in shown], command
    assert [heading for _, heading in views.columns(kind)] == table_headings(sim, *command)


def assert_show(sim: Sim, pairs: list[tuple[str, Any]], *command: str,
                volatile: tuple[str, ...] = ()) -> None:
    """`pairs` are `command -f json`'s fields; `volatile` ones (read live from the arrays, whose
    clock moves between the two reads) by name only."""
    shown = list(cli_json(sim, *command).items())
    assert [k for k, _ in pairs] == [k for k, _ in shown], command
    assert [p for p in pairs if p[0] not in volatile] == \
        [p for p in shown if p[0] not in volatile], command


def test_views_are_what_the_cli_prints(sim: Sim) -> None:
    engine = sim.engine("site-a")
    group = protect(sim, engine)
    op = engine.failover(GROUP).wait()
    assert op.status is OperationStatus.COMPLETED, op.error_message

    assert_list(sim, "sites", engine.sites(), "site", "list")
    assert_list(sim, "groups", engine.groups(), "protection-group", "list")
    assert_list(sim, "members", engine.members(GROUP), "protection-group", "member-list", GROUP)
    assert_list(sim, "mappings", engine.mappings(GROUP),
                "protection-group", "mapping-list", GROUP)
    assert_list(sim, "operations", engine.operations(), "operation", "list")
    assert_list(sim, "sync_log", engine.sync_log(GROUP), "protection-group", "sync-log", GROUP)

    assert_show(sim, views.show("site", engine.site("site-b")), "site", "show", "site-b")
    group = engine.group(GROUP)
    assert_show(sim, views.show("group", group), "protection-group", "show", GROUP)
    member = engine.members(GROUP)[0]
    assert_show(sim, views.show("member", member),
                "protection-group", "member-show", GROUP, member.id)
    assert_show(sim, views.show("operation", engine.operation(op.id)), "operation", "show", op.id)
    assert_show(sim, views.show("consistency_group", engine.consistency_group(GROUP)),
                "consistency-group", "show", GROUP,
                volatile=("array_time", "replication_lag_seconds"))
    assert_show(sim, views.show("sync_status", engine.sync_status(GROUP)),
                "protection-group", "sync-status", GROUP)

    # Show views read the same values as the records: spot checks of the conversions.
    fields = dict(views.show("group", group))
    assert fields["status"] == "failed_over" and fields["current_primary_site"] == "site-b"
    assert fields["created_at"] == group.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    shown = views.show("operation", op, id_field="operation_id")
    assert shown[0] == ("operation_id", f"op-{op.id}")


def test_the_policy_view_is_policy_create_without_the_tokens(sim: Sim) -> None:
    engine = sim.engine("site-a")
    protect(sim, engine)
    engine.create_group("web-2", primary_site="site-a", secondary_site="site-b",
                        volume_type="replicated-ssd")
    arrays = sim.arrays()
    command = ["protection-group", "policy-create", "web-2", "--pure-pg-name", "pg-web-2"]
    for site, side in (("site-a", "primary"), ("site-b", "secondary")):
        command += [f"--{side}-fa-url", arrays[site]["url"],
                    f"--{side}-fa-token", arrays[site]["api_token"]]
        if arrays[site].get("ca_file"):
            command += [f"--{side}-fa-ca-file", arrays[site]["ca_file"]]
    created = cli_json(sim, *command)
    policy = engine.policy("web-2")
    assert policy is not None
    pairs = views.show("policy", policy, group=engine.group("web-2"))
    assert pairs == list(created.items())
    shown = repr(pairs) + repr(policy) + repr(policy.to_dict())
    for site in ("site-a", "site-b"):
        assert arrays[site]["api_token"] not in shown

    with pytest.raises(TypeError, match=r"needs group=<ProtectionGroup>"):
        views.show("policy", policy)
    with pytest.raises(ValueError, match=r"belongs to group .*not to 'prod-web-app'"):
        views.show("policy", policy, group=engine.group(GROUP))


def test_a_site_failover_shows_its_groups(sim: Sim) -> None:
    site_b = sim.engine("site-b")
    protect(sim, sim.engine("site-a"))
    # Refused for the group (site-a still answers): a result with a multi-line error message.
    op = site_b.site_failover("site-a", unplanned=True).wait()
    assert op.operation_type == "site_failover" and len(op.group_results) == 1, op
    shown = cli_json(sim, "--os-cloud", "site-b", "operation", "show", op.id)
    assert views.show("operation", op) == list(shown.items())
    keys = [key for key, _ in views.columns("group_results")]
    assert keys == [
        "protection_group", "group_id", "project_id", "status", "operation_id", "error_message"]
    rows = views.rows("group_results", op)
    assert [dict(zip(keys, row)) for row in rows] == shown["group_results"]
    assert rows[0][0] == GROUP and rows[0][3] == "failed" and "\n" in rows[0][5]
    assert views.rows("group_results", [op, op]) == rows + rows


def test_every_kind_is_known_and_an_unknown_one_is_named() -> None:
    assert views.LIST_KINDS == ("sites", "volume_types", "groups", "group_overviews",
                                "member_candidates", "members", "mappings", "sync_log",
                                "operations", "group_results", "tenant_mappings")
    assert views.SHOW_KINDS == ("site", "site_validation", "group", "member", "member_added",
                                "consistency_group", "policy", "sync_status", "sync_force",
                                "operation", "tenant_mapping")
    for kind in views.LIST_KINDS:
        assert views.columns(kind), kind
        assert views.rows(kind, []) == []
    assert views.columns("members")[:2] == [("id", "ID"), ("instance_name", "Instance Name")]
    assert views.columns("sites")[2] == ("site_type", "type")

    with pytest.raises(ValueError, match=r"'nope' is not a list view; list views are 'sites', "):
        views.columns("nope")
    with pytest.raises(ValueError, match=r"'group' is a show view: use views.show\(\)"):
        views.rows("group", [])
    with pytest.raises(ValueError, match=r"'groups' is not a show view \('groups' is a list "
                                         r"view: use views.rows\(\)\); show views are 'site', "):
        views.show("groups", ProtectionGroup({}))
    with pytest.raises(ValueError, match=r"'nope' is not a show view"):
        views.show("nope", ProtectionGroup({}))


def test_a_record_of_another_type_is_a_type_error() -> None:
    site = Site({"name": "site-a"})
    with pytest.raises(TypeError, match=r"views.rows\('groups'\) takes ProtectionGroup records "
                                        r"\(protector.types.ProtectionGroup\): item 1 is a Site"):
        views.rows("groups", [ProtectionGroup({}), site])
    with pytest.raises(TypeError, match=r"takes a sequence of ProtectionGroup records, got a "
                                        r"ProtectionGroup"):
        views.rows("groups", ProtectionGroup({}))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"takes a sequence of Site records, got a str"):
        views.rows("sites", "site-a")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"views.show\('group'\) takes a ProtectionGroup record "
                                        r"\(protector.types.ProtectionGroup\), got a Site"):
        views.show("group", site)
    with pytest.raises(TypeError, match=r"views.show\('group'\) takes a ProtectionGroup record"
                                        r".*got a dict"):
        views.show("group", {"name": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"unexpected keyword 'colour': it takes no keywords"):
        views.show("site", site, colour="red")
    with pytest.raises(TypeError, match=r"group must be a ProtectionGroup record"):
        views.show("policy", protector.types.ReplicationPolicy({}), group=site)
    with pytest.raises(TypeError, match=r"id_field must be a str, got a int"):
        views.show("operation", protector.types.Operation({}), id_field=1)
    # The right type with data that is not a site's.
    with pytest.raises(ValueError, match=r"views.show\('site'\): the record cannot be shown as a "
                                         r"Site: missing field `id`"):
        views.show("site", site)
