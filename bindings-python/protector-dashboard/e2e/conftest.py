"""The end-to-end fixtures: `protector sim serve` with both sites registered, Horizon served by
Django's development server on 127.0.0.1 (logging in to site-a's Keystone of the simulator) and
a headless Chromium driven by Selenium. scripts/test-horizon-e2e installs the environment.

Environment: PROTECTOR_BIN (the protector executable), HORIZON_E2E_OUT (screenshots and logs)."""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Bounds of the readiness waits (never a fixed sleep): the first start of Horizon imports every
# dashboard and loads the policy files.
HORIZON_START_TIMEOUT = 120.0
PAGE_TIMEOUT = 60.0


def out_dir() -> pathlib.Path:
    out = os.environ.get("HORIZON_E2E_OUT")
    if not out:
        pytest.fail("HORIZON_E2E_OUT is not set: run scripts/test-horizon-e2e")
    path = pathlib.Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


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


@dataclass
class Sim:
    """A served simulator, protector's state directory and the environment of both."""

    dir: pathlib.Path
    state_dir: pathlib.Path
    bin: str
    env: dict[str, str]

    def cloud(self, name: str) -> dict[str, str]:
        return cloud_entry((self.dir / "clouds.yaml").read_text(), name)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [self.bin, "--state-dir", str(self.state_dir), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"protector {' '.join(args)}: {done.stderr}"
        return done.stdout

    def inspect(self) -> dict[str, Any]:
        done = subprocess.run(
            [self.bin, "sim", "inspect", "--dir", str(self.dir), "-f", "json"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout)

    def arrays(self) -> dict[str, Any]:
        return json.loads((self.dir / "arrays.json").read_text())


@pytest.fixture(scope="session")
def sim() -> Iterator[Sim]:
    """`protector sim serve` in a temporary directory, both sites registered with the CLI."""
    binary = os.environ.get("PROTECTOR_BIN")
    if not binary:
        pytest.fail("PROTECTOR_BIN is not set: run scripts/test-horizon-e2e")
    out = out_dir()
    with tempfile.TemporaryDirectory(prefix="protector-horizon-") as work:
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
        log = open(out / "sim-serve.log", "w")  # noqa: SIM115 (lives as long as the server)
        server = subprocess.Popen(
            [binary, "sim", "serve", "--dir", str(directory)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline().strip()
            assert line == "ready", (
                f"sim serve said {line!r}: {(out / 'sim-serve.log').read_text()}"
            )
            sim = Sim(dir=directory, state_dir=root / "state", bin=binary, env=env)
            for site, kind in (("site-a", "primary"), ("site-b", "secondary")):
                sim.cli(
                    "site",
                    "create",
                    "--name",
                    site,
                    "--site-type",
                    kind,
                    "--auth-url",
                    sim.cloud(site)["auth_url"],
                    "--region-name",
                    "RegionOne",
                )
            yield sim
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answering(url: str, server: subprocess.Popen[bytes], log: pathlib.Path) -> None:
    """Polls `url` until it answers 200, failing early if the server exits."""
    deadline = time.monotonic() + HORIZON_START_TIMEOUT
    while True:
        if server.poll() is not None:
            pytest.fail(f"Horizon exited with {server.returncode}: {log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"Horizon did not answer {url} in {HORIZON_START_TIMEOUT}s: "
                f"{log.read_text()[-4000:]}"
            )
        time.sleep(0.2)  # the poll interval of the readiness check, not a synchronisation


@dataclass
class Horizon:
    url: str
    log: pathlib.Path


@pytest.fixture(scope="session")
def horizon(sim: Sim) -> Iterator[Horizon]:
    """Horizon (openstack_dashboard with the e2e local_settings) on 127.0.0.1:<free port>."""
    out = out_dir()
    port = free_port()
    sessions = out / "sessions"
    sessions.mkdir(exist_ok=True)
    env = dict(sim.env)
    env.update(
        DJANGO_SETTINGS_MODULE="openstack_dashboard.settings",
        HORIZON_E2E_KEYSTONE_URL=sim.cloud("site-a")["auth_url"],
        HORIZON_E2E_SECRET_KEY=secrets.token_urlsafe(32),
        HORIZON_E2E_SESSION_DIR=str(sessions),
        PROTECTOR_SITE="site-a",
        PYTHONUNBUFFERED="1",
    )
    log_path = out / "horizon.log"
    log = open(log_path, "w")  # noqa: SIM115 (lives as long as the server)
    server = subprocess.Popen(
        [sys.executable, "-m", "django", "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_answering(f"{url}/auth/login/", server, log_path)
        yield Horizon(url=url, log=log_path)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Debian's chromium, headless, with a fresh profile, driven through Debian's chromedriver."""
    out = out_dir()
    with tempfile.TemporaryDirectory(prefix="protector-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        # WARNING and above only: at its default level chromedriver logs every command with
        # its arguments, the password and array tokens typed into the forms among them.
        service = Service(
            executable_path=CHROMEDRIVER,
            log_output=str(out / "chromedriver.log"),
            service_args=["--log-level=WARNING"],
        )
        driver = webdriver.Chrome(options=options, service=service)
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        try:
            yield driver
        finally:
            driver.quit()


def log_in(browser: WebDriver, horizon: Horizon, username: str, password: str) -> None:
    browser.get(f"{horizon.url}/auth/login/")
    form = WebDriverWait(browser, PAGE_TIMEOUT).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "form input[name=username]"))
    )
    form.send_keys(username)
    browser.find_element(By.CSS_SELECTOR, "form input[name=password]").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
