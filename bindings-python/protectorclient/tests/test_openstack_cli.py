"""The plugin installed next to python-openstackclient, driven through the real ``openstack``
command in a subprocess: entry points and help, authentication through OSC's own session
(against a small fake Keystone), an engine refusal's exit status, and a background run that
outlives the command.

The engine is the fake ``protector`` module's scripted one (``PROTECTOR_FAKE_SCENARIO``)."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

FAKES = Path(__file__).resolve().parent / "fakes"
OPENSTACK = Path(sys.executable).parent / "openstack"
TOKEN = "gAAAAA-subject-token"

PROTECTOR_COMMANDS = [
    "protector site create",
    "protector site list",
    "protector site show",
    "protector site validate",
    "protector site list-volume-types",
    "protector protection-group create",
    "protector protection-group list",
    "protector protection-group show",
    "protector protection-group delete",
    "protector protection-group fence",
    "protector protection-group member-add",
    "protector protection-group member-list",
    "protector protection-group member-show",
    "protector protection-group member-remove",
    "protector protection-group policy-create",
    "protector protection-group sync-status",
    "protector protection-group sync-force",
    "protector protection-group sync-log",
    "protector protection-group mapping-set",
    "protector protection-group mapping-list",
    "protector protection-group failover",
    "protector protection-group failback",
    "protector consistency-group show",
    "protector operation list",
    "protector operation show",
    "protector operation wait",
    "protector operation cancel",
    "protector operation recover",
]
DR_COMMANDS = [
    "dr test failover",
    "dr test failover cleanup",
    "dr site failover",
    "dr tenant mapping create",
    "dr tenant mapping list",
]


class FakeKeystone(http.server.BaseHTTPRequestHandler):
    """Keystone v3 discovery and password authentication, as keystoneauth speaks them."""

    requests: list[tuple[str, str]] = []

    def log_message(self, *args):  # quiet
        pass

    def _json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        FakeKeystone.requests.append(("GET", self.path))
        base = f"http://{self.headers['Host']}/v3/"
        self._json(
            200,
            {
                "version": {
                    "id": "v3.14",
                    "status": "stable",
                    "links": [{"rel": "self", "href": base}],
                    "media-types": [
                        {
                            "base": "application/json",
                            "type": "application/vnd.openstack.identity-v3+json",
                        }
                    ],
                }
            },
        )

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        FakeKeystone.requests.append(("POST", self.path))
        domain = {"id": "default", "name": "Default"}
        self._json(
            201,
            {
                "token": {
                    "methods": ["password"],
                    "expires_at": "2099-01-01T00:00:00.000000Z",
                    "issued_at": "2025-01-01T00:00:00.000000Z",
                    "user": {"id": "u-1", "name": "admin", "domain": domain},
                    "project": {"id": "p-1", "name": "production-project", "domain": domain},
                    "roles": [{"id": "r-1", "name": "member"}],
                    "catalog": [
                        {
                            "type": "compute",
                            "name": "nova",
                            "id": "s-1",
                            "endpoints": [
                                {
                                    "id": "e-1",
                                    "interface": "public",
                                    "region": "RegionOne",
                                    "region_id": "RegionOne",
                                    "url": "http://127.0.0.1:9/compute/v2.1",
                                }
                            ],
                        }
                    ],
                }
            },
            headers=[("X-Subject-Token", TOKEN)],
        )


@pytest.fixture(scope="module")
def keystone():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeKeystone)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3"
    server.shutdown()
    server.server_close()


@pytest.fixture
def world(tmp_path, keystone):
    """A clouds.yaml with site-a on the fake Keystone, a state dir, a scenario file."""
    (tmp_path / "clouds.yaml").write_text(
        "clouds:\n  site-a:\n    auth:\n"
        f"      auth_url: {keystone}\n      username: admin\n      password: secret\n"
        "      project_name: production-project\n      user_domain_name: Default\n"
        "      project_domain_name: Default\n    region_name: RegionOne\n"
    )
    scenario = tmp_path / "scenario.json"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(FAKES),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OS_CLIENT_CONFIG_FILE": str(tmp_path / "clouds.yaml"),
        "PROTECTOR_STATE_DIR": str(tmp_path / "state"),
        "PROTECTOR_FAKE_SCENARIO": str(scenario),
    }

    def write_scenario(**fields):
        scenario.write_text(json.dumps({"record_to": str(tmp_path / "opened.jsonl"), **fields}))

    write_scenario()
    return {"dir": tmp_path, "env": env, "scenario": write_scenario}


def openstack(world, *args, pass_fds=(), extra_env=None, without=()):
    assert OPENSTACK.exists(), f"{OPENSTACK} missing: run the tests with scripts/test-osc-unit"
    env = {k: v for k, v in {**world["env"], **(extra_env or {})}.items() if k not in without}
    return subprocess.run(
        [str(OPENSTACK), *args],
        env=env,
        cwd=world["dir"],
        capture_output=True,
        text=True,
        timeout=120,
        pass_fds=pass_fds,
    )


def opened(world):
    return [json.loads(line) for line in (world["dir"] / "opened.jsonl").read_text().splitlines()]


def test_help_lists_every_command(world):
    result = openstack(world, "help", "protector")
    assert result.returncode == 0, result.stderr
    listed = {line.strip() for line in result.stdout.splitlines()}
    assert set(PROTECTOR_COMMANDS) <= listed, result.stdout
    result = openstack(world, "help", "dr")
    assert set(DR_COMMANDS) <= {line.strip() for line in result.stdout.splitlines()}, result.stdout
    assert "Failed to import plugin" not in result.stderr


def test_command_help_shows_the_spec_options(world):
    result = openstack(world, "help", "protector", "protection-group", "failover")
    assert result.returncode == 0, result.stderr
    for option in ("--network-mapping", "--flavor-mapping", "--force", "--wait", "-f {json"):
        assert option in result.stdout
    result = openstack(world, "help", "dr", "test", "failover", "cleanup")
    assert "usage: openstack dr test failover cleanup" in result.stdout


def test_a_command_authenticates_through_osc_and_stands_on_the_cloud_it_names(world, keystone):
    world["scenario"](groups=[{"name": "prod-web-app"}, {"name": "db", "id": "g2"}])
    result = openstack(
        world, "--os-cloud", "site-a", "protector", "protection-group", "list", "-f", "json"
    )
    assert result.returncode == 0, result.stderr
    assert [g["name"] for g in json.loads(result.stdout)] == ["prod-web-app", "db"]
    [engine] = opened(world)
    assert engine["how"] == "from_token"
    assert engine["site"] == "site-a"
    assert engine["token"] == TOKEN
    assert engine["auth_url"] == keystone
    assert engine["project_id"] == "p-1"
    assert engine["region_name"] == "RegionOne"
    assert engine["interface"] == "public"
    assert engine["insecure"] is False
    assert engine["catalog"][0]["type"] == "compute"
    # One login: the engine got OSC's token and did not log in again.
    assert [r for r in FakeKeystone.requests if r[0] == "POST"]


def test_a_refusal_is_one_line_on_stderr_and_a_non_zero_exit(world):
    world["scenario"](
        error={
            "method": "groups",
            "class": "UnavailableError",
            "kind": "unavailable",
            "message": "Cannot modify protection group - remote site unreachable: force a metadata "
            "sync (sync-force) of protection group 'web'",
            "hint": {"action": "sync_force", "group": "web"},
        }
    )
    result = openstack(world, "--os-cloud", "site-a", "protector", "protection-group", "list")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Cannot modify protection group - remote site unreachable: run "
        "`openstack protector protection-group sync-force web`"
    ]


def test_credentials_from_os_variables_need_the_site(world, keystone):
    env = {
        "OS_AUTH_URL": keystone,
        "OS_USERNAME": "admin",
        "OS_PASSWORD": "secret",
        "OS_PROJECT_NAME": "p",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_CLIENT_CONFIG_FILE": "/nonexistent",
    }
    result = openstack(world, "protector", "protection-group", "list", extra_env=env)
    assert result.returncode == 1
    assert "--protector-site SITE" in result.stderr
    result = openstack(
        world, "--protector-site", "site-b", "protector", "protection-group", "list", extra_env=env
    )
    assert result.returncode == 0, result.stderr
    assert opened(world)[-1]["site"] == "site-b"


def test_a_failover_without_wait_outlives_the_command(world):
    """The command prints the pending record and exits while the operation still runs (held
    by a gate the test opens afterwards), with its stdout released; the operation then ends in
    the background process and logs its final record."""
    log = world["dir"] / "ran.jsonl"
    world["scenario"](operation_log=str(log))
    gate_read, gate_write = os.pipe()
    done_read, done_write = os.pipe()
    try:
        result = openstack(
            world,
            "--os-cloud",
            "site-a",
            "protector",
            "protection-group",
            "failover",
            "prod-web-app",
            "--network-mapping",
            "a=b",
            "-f",
            "json",
            pass_fds=(gate_read, done_write),
            extra_env={"PROTECTOR_FAKE_GATE_FD": str(gate_read)},
        )
    finally:
        os.close(done_write)
        os.close(gate_read)
    # The command has returned (its stdout pipe closed) while the operation waits at the gate.
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "pending"
    assert "runs in the background" in result.stderr
    assert not log.exists()
    os.write(gate_write, b"x")
    os.close(gate_write)
    with os.fdopen(done_read, "rb") as done:
        done.read()  # EOF: the background process has ended
    [ran] = [json.loads(line) for line in log.read_text().splitlines()]
    assert ran["group"] == "prod-web-app" and ran["networks"] == {"a": "b"}
    [engine] = opened(world)
    assert engine["pid"] == ran["pid"]  # the background process opened its own engine
    operation_log = (
        world["dir"] / "state" / "operations" / "op-a1b2c3d4-0000-0000-0000-000000000001.log"
    )
    text = operation_log.read_text()
    assert "[ 40%] storage: create_volumes_site_b" in text
    assert json.loads(text[text.index("{") :])["status"] == "completed"


def test_openstack_protector_help_lists_the_command_groups(world):
    # spec/000, spec/001: "openstack protector --help ... You should see protection-group,
    # operation, site".
    result = openstack(world, "protector", "--help")
    assert result.returncode == 0, result.stderr
    for group in ("protector protection-group", "protector operation", "protector site"):
        assert group in result.stdout


def test_the_state_dir_from_the_option_the_environment_or_the_cloud_entry(world):
    clouds = world["dir"] / "clouds.yaml"
    clouds.write_text(clouds.read_text() + "    protector_state_dir: /srv/from-clouds-yaml\n")
    args = ("--os-cloud", "site-a", "protector", "protection-group", "list")
    assert openstack(world, *args, without=("PROTECTOR_STATE_DIR",)).returncode == 0
    assert openstack(world, *args).returncode == 0
    assert openstack(world, "--protector-state-dir", "/srv/option", *args).returncode == 0
    assert [e["state_dir"] for e in opened(world)] == [
        "/srv/from-clouds-yaml",
        str(world["dir"] / "state"),
        "/srv/option",
    ]
