"""The ways a caller holds credentials: clouds.yaml (like the CLI) with sites registered from
Python, and a Keystone token with its catalog (like Horizon and OSC plugins)."""

from __future__ import annotations

import json
import pathlib
import urllib.request
from typing import Any

import pytest

import protector
from protector.types import GroupStatus, OperationStatus, SiteStatus, SiteType

from conftest import GROUP, POLL, Sim, assert_one_running_copy, cloud_entry, protect


def test_sites_registered_from_python(served: Sim) -> None:
    clouds = (served.dir / "clouds.yaml").read_text()
    url = {site: cloud_entry(clouds, site)["auth_url"] for site in ("site-a", "site-b")}
    engine = protector.Protector("site-a", served.state_dir, poll_interval=POLL)

    # Refusals change nothing: no store is left behind for a site that was not registered.
    with pytest.raises(protector.InvalidInputError, match="site_type 'tertiary'"):
        engine.create_site("site-c", site_type="tertiary", auth_url=url["site-b"])
    with pytest.raises(protector.InvalidInputError, match="site name"):
        engine.create_site("../site-c", site_type="secondary", auth_url=url["site-b"])
    with pytest.raises(protector.InvalidInputError) as bad_url:
        engine.create_site("site-c", site_type="secondary", auth_url="keystone.example")
    assert "site-c" in str(bad_url.value)
    assert sorted(p.name for p in served.state_dir.glob("site-c*")) == []
    assert engine.sites() == []

    a = engine.create_site("site-a", site_type="primary", auth_url=url["site-a"])
    assert (a.name, a.site_type, a.auth_url) == ("site-a", SiteType.PRIMARY, url["site-a"])
    b = engine.create_site("site-b", site_type="secondary", auth_url=url["site-b"],
                           description="DR site")
    assert (b.site_type, b.description) == (SiteType.SECONDARY, "DR site")
    with pytest.raises(protector.AlreadyExistsError):
        engine.create_site("site-b", site_type="secondary", auth_url=url["site-b"])
    assert sorted(s.name for s in engine.sites()) == ["site-a", "site-b"]

    # Each site's store lists both sites: the CLI standing on site-b sees them.
    listed = json.loads(served.cli("--os-cloud", "site-b", "site", "list", "-f", "json"))
    assert sorted(s["name"] for s in listed) == ["site-a", "site-b"]

    # The same engine holds site-b's store now: it protects and fails over a group.
    assert protect(served, engine).status is GroupStatus.ACTIVE
    assert engine.failover(GROUP).wait().status is OperationStatus.COMPLETED
    assert_one_running_copy(served, "site-b")


def keystone_token(entry: dict[str, str]) -> tuple[str, list[Any], str]:
    """A project-scoped token from Keystone (as Horizon holds one after login): the token,
    its catalog and its project id."""
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": entry["username"], "password": entry["password"],
            "domain": {"name": entry["user_domain_name"]}}}},
        "scope": {"project": {"name": entry["project_name"],
                              "domain": {"name": entry["project_domain_name"]}}},
    }}
    request = urllib.request.Request(
        entry["auth_url"] + "/auth/tokens", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request) as response:
        token = response.headers["X-Subject-Token"]
        data = json.load(response)["token"]
    return token, data["catalog"], data["project"]["id"]


def only(clouds: str, site: str, path: pathlib.Path) -> pathlib.Path:
    """A clouds.yaml holding only `site`'s entries: the other site is reached with a token."""
    kept, keep = [], True
    for line in clouds.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        if depth == 2:
            keep = line.strip().strip(":").strip('"').startswith(site)
        if depth < 2 or keep:
            kept.append(line)
    path.write_text("\n".join(kept) + "\n")
    return path


def test_a_keystone_token_instead_of_clouds_yaml(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    clouds = (sim.dir / "clouds.yaml").read_text()
    entry = cloud_entry(clouds, "site-a")
    # site-a has no clouds.yaml entry any more: only the token reaches it.
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE",
                       str(only(clouds, "site-b", sim.dir.parent / "peer-clouds.yaml")))
    token, catalog, project = keystone_token(entry)

    engine = protector.Protector.from_token(
        "site-a", token=token, auth_url=entry["auth_url"], catalog=catalog,
        state_dir=sim.state_dir, poll_interval=POLL)
    assert engine.local_site == "site-a"
    assert token not in repr(engine)
    assert engine.validate_site("site-a").status is SiteStatus.ACTIVE
    assert engine.validate_site("site-b").status is SiteStatus.ACTIVE  # its clouds.yaml entry

    # Without the catalog Keystone is asked for it; a project id rescopes like OSC's session.
    fetched = protector.Protector.from_token(
        "site-a", token=token, auth_url=entry["auth_url"], project_id=project,
        state_dir=sim.state_dir, poll_interval=POLL)
    assert fetched.validate_site("site-a").status is SiteStatus.ACTIVE

    protect(sim, engine)
    op = engine.failover(GROUP).wait()
    assert op.status is OperationStatus.COMPLETED, op.error_message
    assert_one_running_copy(sim, "site-b")


def test_a_refused_token_is_unauthenticated_and_never_shown(
        sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    clouds = (sim.dir / "clouds.yaml").read_text()
    entry = cloud_entry(clouds, "site-a")
    protect(sim, sim.engine("site-a"))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE",
                       str(only(clouds, "site-b", sim.dir.parent / "peer-clouds.yaml")))
    bogus = "gAAAAABnot-a-token-0123456789"
    engine = protector.Protector.from_token(
        "site-a", token=bogus, auth_url=entry["auth_url"], state_dir=sim.state_dir,
        poll_interval=POLL)
    with pytest.raises(protector.UnauthenticatedError) as refused:
        engine.plan_failover(GROUP)
    assert bogus not in str(refused.value) and bogus not in repr(refused.value)
    assert refused.value.kind == "unauthenticated"
    with pytest.raises(protector.UnauthenticatedError):
        engine.group(GROUP)  # reading a group checks the caller too

    with pytest.raises(protector.InvalidInputError, match="interface 'outer'"):
        protector.Protector.from_token("site-a", token=bogus, auth_url=entry["auth_url"],
                                       interface="outer", state_dir=sim.state_dir)
    with pytest.raises(protector.ConfigInvalidError, match="catalog"):
        protector.Protector.from_token("site-a", token=bogus, auth_url=entry["auth_url"],
                                       catalog={"not": "a catalog"}, state_dir=sim.state_dir)

    # Nothing changed: the group is as it was, seen with clouds.yaml credentials.
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(sim.dir / "clouds.yaml"))
    assert sim.engine("site-a").group(GROUP).status is GroupStatus.ACTIVE
    assert sim.engine("site-a").operations() == []
