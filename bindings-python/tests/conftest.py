"""Fixtures: a `protector sim serve` on a fresh directory, sites registered with the CLI, and
engines of `protector.Protector` standing on either site.

PROTECTOR_BIN names the protector executable (scripts/test-python sets it)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import protector

GROUP = "prod-web-app"
MEMBERS = ("web-server-1", "web-server-2", "db-server-1")
NETWORKS = {"net-primary-web": "net-secondary-web", "net-primary-db": "net-secondary-db"}
FLAVORS = {"m1.large": "m2.large"}
# The simulator's clock advances with every call: the engine need not wait between polls.
POLL = 0.02


@dataclass
class Sim:
    """A served simulator and the state directory of protector's stores."""

    dir: pathlib.Path
    state_dir: pathlib.Path
    bin: str

    def cli(self, *args: str, input: str | None = None) -> str:
        out = subprocess.run(
            [self.bin, "--state-dir", str(self.state_dir), *args],
            check=True, capture_output=True, text=True, input=input,
        )
        return out.stdout

    def inspect(self) -> dict[str, Any]:
        out = subprocess.run(
            [self.bin, "sim", "inspect", "--dir", str(self.dir), "-f", "json"],
            check=True, capture_output=True, text=True,
        )
        return json.loads(out.stdout)

    def fault(self, *args: str) -> None:
        subprocess.run([self.bin, "sim", "fault", "--dir", str(self.dir), *args],
                       check=True, capture_output=True)

    def arrays(self) -> dict[str, Any]:
        return json.loads((self.dir / "arrays.json").read_text())

    def engine(self, site: str = "site-a") -> protector.Protector:
        return protector.Protector(site, self.state_dir, poll_interval=POLL)

    def server_id(self, site: str, name: str) -> str:
        servers = [s for s in self.inspect()["sites"][site]["servers"] if s["name"] == name]
        assert len(servers) == 1, f"{name} on {site}: {servers}"
        return servers[0]["id"]


def cloud_entry(clouds: str, cloud: str) -> dict[str, str]:
    """The scalar settings of one clouds.yaml entry as `sim serve` writes it (two-space
    indented entry names, `auth:` fields one level deeper), flattened: auth_url, username, ..."""
    entry: dict[str, str] = {}
    inside = False
    for line in clouds.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        if depth == 2:
            inside = line.strip().rstrip(":").strip('"') == cloud
        elif inside and depth > 2 and ":" in line:
            key, value = line.strip().split(":", 1)
            if value.strip():
                entry[key] = value.strip().strip('"')
    assert entry, f"no {cloud} in clouds.yaml"
    return entry


def serve(binary: str, root: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> subprocess.Popen[str]:
    """`protector sim serve` in `root/sim`, with the environment pointed at its clouds.yaml."""
    directory = root / "sim"
    for var in [v for v in os.environ if v.startswith("OS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(directory / "clouds.yaml"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("PROTECTOR_POLL_INTERVAL_MS", "20")
    server = subprocess.Popen(
        [binary, "sim", "serve", "--dir", str(directory)],
        stdout=subprocess.PIPE, stderr=open(root / "serve.log", "w"), text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    if line != "ready":
        server.terminate()
        server.wait(timeout=30)
        raise AssertionError(f"sim serve said {line!r}: {(root / 'serve.log').read_text()}")
    return server


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sim]:
    """A served simulator with no site registered yet."""
    binary = os.environ.get("PROTECTOR_BIN")
    if not binary:
        pytest.fail("PROTECTOR_BIN is not set: run scripts/test-python")
    with tempfile.TemporaryDirectory(prefix="protector-py-") as work:
        root = pathlib.Path(work)
        server = serve(binary, root, monkeypatch)
        try:
            yield Sim(dir=root / "sim", state_dir=root / "state", bin=binary)
        finally:
            server.terminate()
            server.wait(timeout=30)


@pytest.fixture
def sim(served: Sim) -> Sim:
    """A served simulator with both sites registered with the CLI."""
    clouds = (served.dir / "clouds.yaml").read_text()
    for site, kind in (("site-a", "primary"), ("site-b", "secondary")):
        served.cli("site", "create", "--name", site, "--site-type", kind,
                   "--auth-url", cloud_entry(clouds, site)["auth_url"],
                   "--region-name", "RegionOne")
    return served


def protect(sim: Sim, engine: protector.Protector) -> protector.types.ProtectionGroup:
    """The group of the DR cycle: three VMs, policy, stored failover mappings."""
    engine.create_group(GROUP, primary_site="site-a", secondary_site="site-b",
                        volume_type="replicated-ssd")
    for name in MEMBERS:
        engine.add_member(GROUP, sim.server_id("site-a", name))
    arrays = sim.arrays()
    engine.create_policy(
        GROUP, pure_pg_name="pg-prod-web-app",
        primary_array_url=arrays["site-a"]["url"],
        primary_array_token=arrays["site-a"]["api_token"],
        primary_array_ca_file=arrays["site-a"].get("ca_file"),
        secondary_array_url=arrays["site-b"]["url"],
        secondary_array_token=arrays["site-b"]["api_token"],
        secondary_array_ca_file=arrays["site-b"].get("ca_file"),
    )
    engine.set_mappings(GROUP, networks=NETWORKS, flavors=FLAVORS)
    return engine.group(GROUP)


def running(inventory: dict[str, Any], site: str, name: str) -> int:
    """How many VMs named `name` are ACTIVE on `site`."""
    return sum(1 for s in inventory["sites"][site]["servers"]
               if s["name"] == name and s["status"] == "ACTIVE")


def assert_one_running_copy(sim: Sim, on: str) -> None:
    """Every member runs exactly once, on `on`, and not at all on the other site."""
    inventory = sim.inspect()
    other = "site-b" if on == "site-a" else "site-a"
    for name in MEMBERS:
        assert running(inventory, on, name) == 1, f"{name} on {on}"
        assert running(inventory, other, name) == 0, f"{name} on {other}"


def resources(inventory: dict[str, Any]) -> dict[str, list[str]]:
    """The names of what each site holds (servers, volumes, ports): leaks show up here."""
    out = {}
    for site, held in inventory["sites"].items():
        for kind in ("servers", "volumes", "ports"):
            out[f"{site}/{kind}"] = sorted(str(r.get("name") or r.get("id")) for r in held[kind])
    return out
