"""Acceptance of the OSC plugin: the unmodified `openstack` command (pinned
python-openstackclient) with the real `protector` module and the plugin installed, against
`protector sim serve`. End states are read from the simulator's inspect view.

PROTECTOR_BIN names the protector executable (scripts/test-osc-acceptance sets it)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

GROUP = "prod-web-app"
MEMBERS = ("web-server-1", "web-server-2", "db-server-1")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Sim:
    """A served simulator, the environment the commands run in, and its clouds.yaml."""

    dir: pathlib.Path
    state_dir: pathlib.Path
    bin: str
    env: dict[str, str] = field(default_factory=dict)

    def openstack(self, cloud: str, *args: str, input: str | None = None) -> Run:
        """`openstack --os-cloud <cloud> <args>` as an operator types it."""
        openstack = shutil.which("openstack", path=os.path.dirname(sys.executable))
        assert openstack, "the openstack command is not installed in this venv"
        done = subprocess.run(
            [openstack, "--os-cloud", cloud, *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=600,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, cloud: str, *args: str, input: str | None = None) -> Run:
        run = self.openstack(cloud, *args, input=input)
        assert run.code == 0, f"openstack {' '.join(args)} exited {run.code}: {run.err}"
        return run

    def protector(self, *args: str) -> Run:
        """The Rust CLI over the same state, for comparison."""
        done = subprocess.run(
            [self.bin, "--state-dir", str(self.state_dir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def inspect(self) -> dict[str, Any]:
        done = subprocess.run(
            [self.bin, "sim", "inspect", "--dir", str(self.dir), "-f", "json"],
            check=True,
            capture_output=True,
            text=True,
            env=self.env,
        )
        return json.loads(done.stdout)

    def fault(self, *args: str) -> None:
        subprocess.run(
            [self.bin, "sim", "fault", "--dir", str(self.dir), *args],
            check=True,
            capture_output=True,
            env=self.env,
        )

    def arrays(self) -> dict[str, Any]:
        return json.loads((self.dir / "arrays.json").read_text())

    def auth_url(self, cloud: str) -> str:
        lines = (self.dir / "clouds.yaml").read_text().splitlines()
        start = lines.index(f'  "{cloud}":')
        return next(
            line.split(":", 1)[1].strip().strip('"')
            for line in lines[start:]
            if line.strip().startswith("auth_url:")
        )

    def server_id(self, site: str, name: str) -> str:
        servers = [s for s in self.inspect()["sites"][site]["servers"] if s["name"] == name]
        assert len(servers) == 1, f"{name} on {site}: {servers}"
        return servers[0]["id"]


@pytest.fixture
def sim() -> Iterator[Sim]:
    binary = os.environ.get("PROTECTOR_BIN")
    if not binary:
        pytest.fail("PROTECTOR_BIN is not set: run scripts/test-osc-acceptance")
    with tempfile.TemporaryDirectory(prefix="protector-osc-") as work:
        root = pathlib.Path(work)
        directory = root / "sim"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(
            HOME=str(root),
            OS_CLIENT_CONFIG_FILE=str(directory / "clouds.yaml"),
            PROTECTOR_STATE_DIR=str(root / "state"),
            PROTECTOR_POLL_INTERVAL_MS="20",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        server = subprocess.Popen(
            [binary, "sim", "serve", "--dir", str(directory)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(root / "serve.log", "w"),  # noqa: SIM115 (lives as long as the server)
            text=True,
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline().strip()
            assert line == "ready", f"sim serve said {line!r}: {(root / 'serve.log').read_text()}"
            yield Sim(dir=directory, state_dir=root / "state", bin=binary, env=env)
        finally:
            server.terminate()
            server.wait(timeout=30)


def running(inventory: dict[str, Any], site: str, name: str) -> int:
    return sum(
        1
        for s in inventory["sites"][site]["servers"]
        if s["name"] == name and s["status"] == "ACTIVE"
    )


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
