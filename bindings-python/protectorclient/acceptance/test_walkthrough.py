"""The spec's walk-through as an operator types it, with the unmodified `openstack` command:
spec/003 (sites, group, members, policy, sync status), spec/000 (planned failover), spec/001
(failback), spec/002 (drill, cleanup, site failover), each end state checked on both sites
through the simulator's inspect view, and every list compared with the Rust CLI's."""

from __future__ import annotations

from conftest import (
    GROUP,
    MEMBERS,
    Sim,
    assert_one_running_copy,
    resources,
    running,
)

NETWORKS = ["net-primary-web=net-secondary-web", "net-primary-db=net-secondary-db"]
BACK = ["net-secondary-web=net-primary-web", "net-secondary-db=net-primary-db"]


def register_and_protect(sim: Sim) -> None:
    """spec/003: sites, a group, its members, its policy; metadata in sync."""
    for site, kind, where in (("site-a", "primary", "Boston"), ("site-b", "secondary", "Seattle")):
        shown = sim.ok(
            "site-a",
            "protector",
            "site",
            "create",
            "--name",
            site,
            "--description",
            f"datacenter - {where}",
            "--site-type",
            kind,
            "--auth-url",
            sim.auth_url(site),
            "--region-name",
            "RegionOne",
            "-f",
            "json",
        ).json()
        assert (shown["name"], shown["site_type"]) == (site, kind)
    for site in ("site-a", "site-b"):
        assert (
            sim.ok("site-a", "protector", "site", "validate", site, "-f", "json").json()["status"]
            == "active"
        )
    types = sim.ok("site-a", "protector", "site", "list-volume-types", "site-a", "-f", "json")
    assert "replicated-ssd" in [t["name"] for t in types.json()]

    sim.ok(
        "site-a",
        "protector",
        "protection-group",
        "create",
        "--name",
        GROUP,
        "--replication-type",
        "async",
        "--primary-site",
        "site-a",
        "--secondary-site",
        "site-b",
        "--volume-type",
        "replicated-ssd",
    )
    for name in MEMBERS:
        sim.ok(
            "site-a",
            "protector",
            "protection-group",
            "member-add",
            GROUP,
            "--instance-id",
            sim.server_id("site-a", name),
        )
    listed = sim.ok("site-a", "protector", "protection-group", "member-list", GROUP, "-f", "json")
    assert sorted(m["instance_name"] for m in listed.json()) == sorted(MEMBERS)

    arrays = sim.arrays()
    token_file = sim.state_dir.parent / "secondary-token"
    token_file.write_text(arrays["site-b"]["api_token"] + "\n")
    policy = sim.ok(
        "site-a",
        "protector",
        "protection-group",
        "policy-create",
        GROUP,
        "--primary-fa-url",
        arrays["site-a"]["url"],
        "--primary-fa-token-file",
        "-",
        "--primary-fa-ca-file",
        arrays["site-a"]["ca_file"],
        "--secondary-fa-url",
        arrays["site-b"]["url"],
        "--secondary-fa-token-file",
        str(token_file),
        "--secondary-fa-ca-file",
        arrays["site-b"]["ca_file"],
        "--pure-pg-name",
        "pg-prod-web-app",
        "--replication-interval",
        "300",
        "--rpo-minutes",
        "15",
        "-f",
        "json",
        input=arrays["site-a"]["api_token"] + "\n",
    )
    for token in (arrays["site-a"]["api_token"], arrays["site-b"]["api_token"]):
        assert token not in policy.out and token not in policy.err
    # The mappings a site failover uses (it takes no mapping options).
    sim.ok(
        "site-a",
        "protector",
        "protection-group",
        "mapping-set",
        GROUP,
        "--network-mapping",
        *NETWORKS,
        "--flavor-mapping",
        "m1.large=m2.large",
    )
    sync = sim.ok("site-a", "protector", "protection-group", "sync-status", GROUP)
    assert "IN SYNC" in sync.out.upper(), sync.out


def test_the_spec_walkthrough(sim: Sim) -> None:
    register_and_protect(sim)
    baseline = resources(sim.inspect())

    # The same columns and values as the Rust CLI: one definition.
    for args in (
        ("site", "list"),
        ("protection-group", "list"),
        ("protection-group", "member-list", GROUP),
        ("protection-group", "show", GROUP),
    ):
        plugin = sim.ok("site-a", "protector", *args, "-f", "json").json()
        cli = sim.protector("--os-cloud", "site-a", *args, "-f", "json")
        assert cli.code == 0, cli.err
        assert plugin == cli.json(), args

    # spec/000: the planned failover returns an operation id at once and runs on.
    started = sim.ok(
        "site-a",
        "protector",
        "protection-group",
        "failover",
        GROUP,
        "--network-mapping",
        *NETWORKS,
        "--flavor-mapping",
        "m1.large=m2.large",
        "-f",
        "json",
    ).json()
    op_id = started["operation_id"]
    done = sim.ok("site-a", "protector", "operation", "wait", op_id, "-f", "json").json()
    assert done["status"] == "completed", done
    assert_one_running_copy(sim, "site-b")
    group = sim.ok("site-b", "protector", "protection-group", "show", GROUP, "-f", "json").json()
    assert (group["status"], group["current_primary_site"]) == ("failed_over", "site-b")
    ops = sim.ok("site-b", "protector", "operation", "list", "-f", "json").json()
    assert any(o["status"] == "completed" for o in ops)

    # spec/001: failback with reverse replication, followed live; nothing left on site-b.
    back = sim.ok(
        "site-b",
        "protector",
        "protection-group",
        "failback",
        GROUP,
        "--reverse-replication",
        "--network-mapping",
        *BACK,
        "--flavor-mapping",
        "m2.large=m1.large",
        "--wait",
        "-f",
        "json",
    )
    assert back.json()["status"] == "completed"
    assert "%]" in back.err, "no live progress on stderr"
    assert_one_running_copy(sim, "site-a")
    assert resources(sim.inspect()) == baseline, "failback leaked something"
    lag = sim.ok("site-a", "protector", "consistency-group", "show", GROUP, "-f", "json").json()
    assert lag, lag

    # spec/002: a drill on isolated networks, production untouched; cleanup leaves nothing.
    drill = sim.ok(
        "site-a",
        "dr",
        "test",
        "failover",
        GROUP,
        "--network-mapping",
        "net-primary-web=dr-test-net",
        "net-primary-db=dr-test-net",
        "--flavor-mapping",
        "m1.large=m2.large",
        "--all-projects",
        "--wait",
        "-f",
        "json",
    )
    assert drill.json()["status"] == "completed"
    during = sim.inspect()
    for name in MEMBERS:
        assert running(during, "site-b", f"test-{name}") == 1, name
    assert_one_running_copy(sim, "site-a")
    clean = sim.ok("site-a", "dr", "test", "failover", "cleanup", GROUP, "--wait", "-f", "json")
    assert clean.json()["status"] == "completed"
    assert resources(sim.inspect()) == baseline, "the drill leaked something"

    # spec/002: site failover of site-a, planned, from the DR site.
    site = sim.ok(
        "site-b",
        "dr",
        "site",
        "failover",
        "site-a",
        "--failover-type",
        "planned",
        "--wait",
        "-f",
        "json",
    ).json()
    assert site["status"] == "completed", site
    assert_one_running_copy(sim, "site-b")


def test_refusals_are_one_line_and_change_nothing(sim: Sim) -> None:
    register_and_protect(sim)
    before = sim.inspect()

    missing = sim.openstack("site-a", "protector", "protection-group", "show", "no-such-group")
    assert missing.code != 0
    assert "no-such-group" in missing.err and len(missing.err.strip().splitlines()) == 1, (
        missing.err
    )
    assert "openstack protector protection-group list" in missing.err

    # A planned failover while the DR site is down is refused before anything runs.
    sim.fault("--site", "site-b", "--down")
    refused = sim.openstack(
        "site-a",
        "protector",
        "protection-group",
        "failover",
        GROUP,
        "--network-mapping",
        *NETWORKS,
        "--wait",
    )
    assert refused.code != 0, refused.out
    assert "site-b" in refused.err
    sim.fault("--site", "site-b", "--up")
    after = sim.inspect()
    assert resources(after) == resources(before)
    assert_one_running_copy(sim, "site-a")
    group = sim.ok("site-a", "protector", "protection-group", "show", GROUP, "-f", "json").json()
    assert group["status"] == "active"

    # Another project's operator, standing on site-a with their own token, does not see it.
    other = sim.openstack(
        "site-a-tenant2",
        "--protector-site",
        "site-a",
        "protector",
        "protection-group",
        "show",
        GROUP,
    )
    assert other.code != 0 and "not found" in other.err.lower(), other.err
    listed = sim.ok(
        "site-a-tenant2",
        "--protector-site",
        "site-a",
        "protector",
        "protection-group",
        "list",
        "-f",
        "json",
    )
    assert listed.json() == []
