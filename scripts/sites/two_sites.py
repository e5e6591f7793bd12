"""Two sites deployed as spec/004 describes, against `protector sim serve`.

Each site gets its own MariaDB server (Debian's, on loopback, in a temporary directory), its
own `protector.conf`, `protector-manage db sync`, one protector-api and two protector-engine
workers. protector-api is registered in each site's Keystone with the unmodified `openstack`
command (`service create`, `endpoint create`), and the workstation's `protector` CLI finds it in
the catalog: the DR metadata lives in the sites' databases, never in the workstation's state
directory. Then:

- the CLI drives a DR cycle through the APIs: sites, group, members, policy, mappings, sync,
  planned failover run by a worker, failback;
- a worker is SIGKILLed in the middle of a failover and the other one finishes it (one running
  copy of each VM, no leaked volume or port);
- a member of tenant2 cannot see or act on production-project's group (CLI and raw API);
- a missing, garbage or revoked token gets 401 with the Keystone challenge;
- site-a's database stopped mid-run gives a clear 503 (and a clear CLI error); once it is back
  the service answers again and nothing is lost.

Usage: python two_sites.py   (environment: PROTECTOR_BIN, PROTECTOR_API_BIN, PROTECTOR_ENGINE_BIN,
PROTECTOR_MANAGE_BIN; run with the acceptance venv's python: it has openstack, requests, yaml).
Every check prints PASS or FAIL; the exit status is non-zero when one failed.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts", "acceptance"))
from common import Checks, Failed, expect  # noqa: E402

SITES = ("site-a", "site-b")
GROUP = "prod-web-app"
MEMBERS = ("web-server-1", "web-server-2")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, fn, timeout=120.0, interval=0.2):
    """Polls `fn()` until it returns a true value (an observed state, not a guess at a
    duration); Failed after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = fn()
        except Exception as e:  # the service may not answer yet
            last = e
            value = None
        if value:
            return value
        time.sleep(interval)
    raise Failed(f"{what}: not reached within {timeout:.0f} s (last error: {last})")


class Deployment:
    def __init__(self, work):
        self.work = work
        self.bins = {
            "protector": os.environ["PROTECTOR_BIN"],
            "api": os.environ["PROTECTOR_API_BIN"],
            "engine": os.environ["PROTECTOR_ENGINE_BIN"],
            "manage": os.environ["PROTECTOR_MANAGE_BIN"],
        }
        self.sim = os.path.join(work, "sim")
        self.procs = {}
        self.logs = {}
        self.db_dirs = {s: os.path.join(work, f"db-{s}") for s in SITES}
        self.db_ports = {s: free_port() for s in SITES}
        self.api_ports = {s: free_port() for s in SITES}
        self.state = os.path.join(work, "workstation")
        self.clouds = None
        self.arrays = None

    # ------------------------------------------------------------------ processes
    def spawn(self, name, argv, env=None):
        log = open(os.path.join(self.work, f"{name}.log"), "ab")
        self.logs[name] = log.name
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE if name == "sim" else log,
            stderr=log,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def stop_all(self):
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for site in SITES:
            subprocess.run([os.path.join(ROOT, "scripts", "mariadb.sh"), "stop", self.db_dirs[site]],
                           capture_output=True)

    def tail(self, name, lines=30):
        try:
            with open(self.logs[name], "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except (KeyError, OSError):
            return ""

    # ------------------------------------------------------------------ the simulator
    def start_sim(self):
        proc = self.spawn("sim", [self.bins["protector"], "sim", "serve", "--dir", self.sim])
        line = proc.stdout.readline().decode().strip()
        expect(line == "ready", f"protector sim serve printed {line!r}, not ready: {self.tail('sim')}")
        with open(os.path.join(self.sim, "clouds.yaml")) as f:
            self.clouds = yaml.safe_load(f)["clouds"]
        with open(os.path.join(self.sim, "arrays.json")) as f:
            self.arrays = json.load(f)

    def cli_env(self, **extra):
        return {
            "OS_CLIENT_CONFIG_FILE": os.path.join(self.sim, "clouds.yaml"),
            "PROTECTOR_STATE_DIR": self.state,
            "PROTECTOR_POLL_INTERVAL_MS": "50",
            "NO_COLOR": "1",
            **extra,
        }

    def tenant2_workstation(self):
        """Another operator's workstation: a clouds.yaml whose entries site-a and site-b are
        tenant2-user's (a member of tenant2), and a state directory of its own."""
        clouds = {"clouds": {site: self.clouds[f"{site}-tenant2"] for site in SITES}}
        path = os.path.join(self.work, "tenant2-clouds.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(clouds, f)
        return {"OS_CLIENT_CONFIG_FILE": path, "PROTECTOR_STATE_DIR": os.path.join(self.work, "tenant2-state")}

    def protector(self, *args, cloud="site-a", check=True, stdin=None, env=None):
        """Runs the workstation's CLI; returns the CompletedProcess."""
        done = subprocess.run(
            [self.bins["protector"], "--os-cloud", cloud, *args],
            capture_output=True,
            text=True,
            input=stdin,
            env={**os.environ, **self.cli_env(), **(env or {})},
            timeout=600,
        )
        if check and done.returncode != 0:
            raise Failed(f"protector {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-600:]}")
        return done

    def protector_json(self, *args, cloud="site-a", env=None):
        return json.loads(self.protector(*args, "-f", "json", cloud=cloud, env=env).stdout)

    def openstack(self, *args, cloud="site-a"):
        venv_bin = os.path.dirname(sys.executable)
        done = subprocess.run(
            [os.path.join(venv_bin, "openstack"), "--os-cloud", cloud, *args],
            capture_output=True,
            text=True,
            env={**os.environ, "OS_CLIENT_CONFIG_FILE": os.path.join(self.sim, "clouds.yaml"),
                 "PYTHONWARNINGS": "ignore"},
            timeout=300,
        )
        if done.returncode != 0:
            raise Failed(f"openstack {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-600:]}")
        return done.stdout

    def inspect(self):
        done = subprocess.run([self.bins["protector"], "sim", "inspect", "--dir", self.sim, "-f", "json"],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    # ------------------------------------------------------------------ the sites' services
    def start_database(self, site):
        done = subprocess.run(
            [os.path.join(ROOT, "scripts", "mariadb.sh"), "start", self.db_dirs[site], str(self.db_ports[site])],
            capture_output=True, text=True)
        expect(done.returncode == 0, f"mariadb for {site}: {done.stderr.strip()[-400:]}")
        return done.stdout.strip()

    def stop_database(self, site):
        subprocess.run([os.path.join(ROOT, "scripts", "mariadb.sh"), "stop", self.db_dirs[site]],
                       capture_output=True, check=True)

    def conf_path(self, site):
        return os.path.join(self.work, f"{site}.conf")

    def write_conf(self, site, db_url):
        cloud = self.clouds[site]
        auth = cloud["auth"]
        identity = auth["auth_url"]
        text = f"""[DEFAULT]
site_name = {site}
state_path = {os.path.join(self.work, 'state-' + site)}
debug = False

[api]
bind_host = 127.0.0.1
bind_port = {self.api_ports[site]}
workers = 2

[database]
connection = {db_url.replace('mysql://', 'mysql+pymysql://', 1)}

[keystone_authtoken]
www_authenticate_uri = {identity}
auth_url = {identity}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = {auth['project_name']}
username = {auth['username']}
password = {auth['password']}
token_cache_time = 2

[engine]
clouds_file = {os.path.join(self.sim, 'clouds.yaml')}
workers = 2
lease_seconds = 6
poll_interval = 0.3
shutdown_timeout = 20
"""
        with open(self.conf_path(site), "w") as f:
            f.write(text)
        os.chmod(self.conf_path(site), 0o600)

    def api_url(self, site):
        return f"http://127.0.0.1:{self.api_ports[site]}"

    def start_api(self, site):
        self.spawn(f"api-{site}", [self.bins["api"], "--config-file", self.conf_path(site)],
                   env={"PROTECTOR_POLL_INTERVAL_MS": "50"})
        wait_for(f"{site}'s protector-api answers GET /",
                 lambda: requests.get(self.api_url(site) + "/", timeout=2).status_code == 200)

    def start_engine(self, site, n):
        return self.spawn(f"engine-{site}-{n}", [self.bins["engine"], "--config-file", self.conf_path(site)],
                          env={"PROTECTOR_POLL_INTERVAL_MS": "50"})

    def token(self, cloud):
        """A project-scoped token of clouds.yaml entry `cloud`: (token, project id)."""
        auth = self.clouds[cloud]["auth"]
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": auth["username"], "password": auth["password"],
                "domain": {"name": auth.get("user_domain_name", "Default")}}}},
            "scope": {"project": {"name": auth["project_name"],
                                  "domain": {"name": auth.get("project_domain_name", "Default")}}}}}
        answer = requests.post(auth["auth_url"].rstrip("/") + "/auth/tokens", json=body, timeout=10)
        answer.raise_for_status()
        return answer.headers["X-Subject-Token"], answer.json()["token"]["project"]["id"]


def servers_named(inventory, name):
    """[(site, status)] of every server called `name` on either site."""
    found = []
    for site, resources in inventory["sites"].items():
        for server in resources.get("servers", []):
            if server.get("name") == name:
                found.append((site, server.get("status")))
    return found


def main():
    checks = Checks("sites")
    work = tempfile.mkdtemp(prefix="protector-sites.")
    d = Deployment(work)
    try:
        run(checks, d)
    finally:
        d.stop_all()
        if checks.failed and os.environ.get("KEEP_SITES_WORKDIR"):
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    checks.exit()


def run(checks, d):
    ok = checks.run("the simulator serves both sites", d.start_sim)
    if not ok:
        return

    def deploy():
        for site in SITES:
            url = d.start_database(site)
            d.write_conf(site, url)
            for _ in range(2):  # twice: the second finds nothing to do
                done = subprocess.run([d.bins["manage"], "--config-file", d.conf_path(site), "db", "sync"],
                                      capture_output=True, text=True)
                expect(done.returncode == 0, f"protector-manage db sync on {site}: {done.stderr}")
            d.start_api(site)
            for n in (1, 2):
                d.start_engine(site, n)
    deployed = checks.run("each site: MariaDB, db sync, protector-api and two protector-engine workers", deploy)

    def version_document():
        for site in SITES:
            answer = requests.get(d.api_url(site) + "/", timeout=5)
            expect(answer.status_code == 200, f"GET / on {site}: {answer.status_code}")
            versions = answer.json()["versions"]
            expect(any(v["id"].startswith("v1") and v["status"] == "CURRENT" for v in versions),
                   f"version document: {versions}")
    checks.run("curl http://<site>:8788/ answers the version document", version_document, deployed)

    def register_endpoints():
        for site in SITES:
            d.openstack("service", "create", "--name", "protector", "--description",
                        "OpenStack Disaster Recovery", "protector", cloud=site)
            for interface in ("public", "internal", "admin"):
                d.openstack("endpoint", "create", "--region", "RegionOne", "protector", interface,
                            d.api_url(site) + "/v1/%(tenant_id)s", cloud=site)
            listed = d.openstack("endpoint", "list", "--service", "protector", "-f", "json", cloud=site)
            expect(len(json.loads(listed)) == 3, f"{site}: endpoint list: {listed}")
    registered = checks.run("openstack service/endpoint create registers protector-api in each Keystone",
                            register_endpoints, deployed)

    # ------------------------------------------------------------------ the DR cycle
    def sites_and_group():
        for site, kind in (("site-a", "primary"), ("site-b", "secondary")):
            auth_url = d.clouds[site]["auth"]["auth_url"]
            d.protector("site", "create", "--name", site, "--site-type", kind, "--auth-url", auth_url,
                        "--region-name", "RegionOne")
        for site in SITES:
            expect(os.path.exists(os.path.join(d.state, f"{site}.api")),
                   f"the workstation did not find {site}'s protector-api in the catalog")
            expect(not os.path.exists(os.path.join(d.state, f"{site}.db")),
                   f"the workstation keeps a store file for {site}: metadata must live in the site's database")
        d.protector("protection-group", "create", "--name", GROUP, "--replication-type", "async",
                    "--primary-site", "site-a", "--secondary-site", "site-b", "--volume-type", "replicated-ssd")
        for member in MEMBERS:
            d.protector("protection-group", "member-add", GROUP, "--instance-id", member)
        a, b = d.arrays["site-a"], d.arrays["site-b"]
        d.protector("protection-group", "policy-create", GROUP, "--pure-pg-name", "pg-prod-web-app",
                    "--primary-fa-url", a["url"], "--primary-fa-token-file", "-", "--primary-fa-ca-file", a["ca_file"],
                    "--secondary-fa-url", b["url"], "--secondary-fa-token", b["api_token"],
                    "--secondary-fa-ca-file", b["ca_file"], stdin=a["api_token"])
        d.protector("protection-group", "mapping-set", GROUP, "--network-mapping",
                    "net-primary-web=net-secondary-web",
                    "--flavor-mapping", "m1.large=m2.large")
        status = d.protector_json("protection-group", "sync-status", GROUP)
        expect(status.get("in_sync") is True, f"sync-status: {status}")
    cycle = checks.run("the CLI finds both APIs in the catalog and creates the group through them",
                       sites_and_group, registered)

    def both_databases_hold_the_group():
        for site in SITES:
            token, project = d.token(site)
            answer = requests.get(f"{d.api_url(site)}/v1/{project}/protection-groups",
                                  headers={"X-Auth-Token": token}, timeout=10)
            expect(answer.status_code == 200, f"{site}: {answer.status_code} {answer.text[:300]}")
            expect("x-openstack-request-id" in {k.lower() for k in answer.headers},
                   "no x-openstack-request-id header")
            names = [g["name"] for g in groups_of(answer.json())]
            expect(names == [GROUP], f"{site}'s database holds {names}")
    checks.run("both sites' databases hold the group, at the same version", both_databases_hold_the_group, cycle)

    def planned_failover():
        done = d.protector("protection-group", "failover", GROUP, "--wait", "-f", "json")
        op = json.loads(done.stdout)
        expect(op["status"] == "completed", f"failover: {op}")
        group = d.protector_json("protection-group", "show", GROUP, cloud="site-b")
        expect(group["status"] == "failed_over", f"group after failover: {group['status']}")
        inv = d.inspect()
        for member in MEMBERS:
            active = [s for s, st in servers_named(inv, member) if st == "ACTIVE"]
            expect(active == ["site-b"], f"{member} runs on {active}")
    failed_over = checks.run("a planned failover queued through site-a's API is run by a worker to completion",
                             planned_failover, cycle)

    def failback():
        done = d.protector("protection-group", "failback", GROUP, "--wait", "-f", "json", cloud="site-b")
        op = json.loads(done.stdout)
        expect(op["status"] == "completed", f"failback: {op}")
        inv = d.inspect()
        for member in MEMBERS:
            active = [s for s, st in servers_named(inv, member) if st == "ACTIVE"]
            expect(active == ["site-a"], f"{member} runs on {active}")
    failed_back = checks.run("failback through site-b's API: the workload runs on site-a again", failback, failed_over)

    def worker_killed_mid_failover():
        before = d.inspect()
        # Slow every call down so that the failover is still running when its worker dies.
        subprocess.run([d.bins["protector"], "sim", "fault", "--dir", d.sim, "--latency-ms", "40"], check=True)
        pending = d.protector_json("protection-group", "failover", GROUP)
        op_id = pending["operation_id"]
        token, project = d.token("site-a")
        headers = {"X-Auth-Token": token}

        def running_with_holder():
            op = d.protector_json("operation", "show", op_id)
            if op["status"] != "running" or int(op.get("progress", 0)) <= 0:
                expect(op["status"] in ("pending", "running"), f"the failover ended before the kill: {op}")
                return None
            lease = requests.get(f"{d.api_url('site-a')}/v1/{project}/operations/{op_id.removeprefix('op-')}/lease",
                                 headers=headers, timeout=5)
            if lease.status_code != 200:
                return None
            return lease.json()
        lease = wait_for("the failover runs on a worker", running_with_holder, timeout=180, interval=0.1)
        holder = lease.get("holder") or lease.get("lease", {}).get("holder")
        pid = int(holder.split(":")[1])
        victims = [n for n, p in d.procs.items() if n.startswith("engine-site-a") and p.pid == pid]
        expect(victims, f"lease holder {holder} is none of site-a's workers")
        os.kill(pid, signal.SIGKILL)
        d.procs[victims[0]].wait(timeout=30)
        subprocess.run([d.bins["protector"], "sim", "fault", "--dir", d.sim, "--clear"], check=True)
        final = json.loads(d.protector("operation", "wait", op_id, "-f", "json").stdout)
        expect(final["status"] == "completed", f"after the kill: {final}")
        after = d.inspect()
        for member in MEMBERS:
            active = [s for s, st in servers_named(after, member) if st == "ACTIVE"]
            expect(active == ["site-b"], f"{member} runs on {active}")
            expect(len([s for s, _ in servers_named(after, member) if s == "site-b"]) == 1,
                   f"{member} has more than one server on site-b")
        # What the failover made on site-b is what one failover makes: one volume and one port per
        # member volume and NIC, nothing twice.
        for kind in ("volumes", "ports"):
            names = [r.get("name") for r in after["sites"]["site-b"].get(kind, [])]
            dup = sorted({n for n in names if n and names.count(n) > 1} -
                         {n for n in [r.get("name") for r in before["sites"]["site-b"].get(kind, [])]
                          if n and names.count(n) > 1})
            expect(not dup, f"site-b has duplicate {kind} after the takeover: {dup}")
        d.start_engine("site-a", 3)  # back to two workers
    checks.run("a worker SIGKILLed mid-failover: the other one finishes it, one copy of each VM, no leak",
               worker_killed_mid_failover, failed_back)

    # ------------------------------------------------------------------ tenants and tokens
    def another_tenant():
        tenant2 = d.tenant2_workstation()
        listed = d.protector_json("protection-group", "list", env=tenant2)
        expect(listed == [], f"tenant2 lists {listed}")
        expect(os.path.exists(os.path.join(tenant2["PROTECTOR_STATE_DIR"], "site-a.api")),
               "tenant2's workstation did not find site-a's protector-api")
        shown = d.protector("protection-group", "show", GROUP, env=tenant2, check=False)
        expect(shown.returncode != 0 and "not found" in shown.stderr.lower(), f"tenant2 show: {shown.stderr}")
        added = d.protector("protection-group", "member-add", GROUP, "--instance-id", "legacy-app",
                            env=tenant2, check=False)
        expect(added.returncode != 0 and "not found" in added.stderr.lower(), f"tenant2 member-add: {added.stderr}")
        token, project = d.token("site-a-tenant2")
        admin_token, admin_project = d.token("site-a")
        groups = groups_of(requests.get(f"{d.api_url('site-a')}/v1/{admin_project}/protection-groups",
                                        headers={"X-Auth-Token": admin_token}, timeout=10).json())
        group_id = groups[0]["id"]
        raw = requests.get(f"{d.api_url('site-a')}/v1/{project}/protection-groups/{group_id}",
                           headers={"X-Auth-Token": token}, timeout=10)
        expect(raw.status_code == 404, f"tenant2 GET of the group: {raw.status_code} {raw.text[:200]}")
        other = requests.get(f"{d.api_url('site-a')}/v1/{admin_project}/protection-groups",
                             headers={"X-Auth-Token": token}, timeout=10)
        expect(other.status_code == 403, f"tenant2 on production-project's URL: {other.status_code}")
    checks.run("tenant2 cannot see or act on production-project's group (CLI and API)", another_tenant, cycle)

    def tokens():
        token, project = d.token("site-a")
        url = f"{d.api_url('site-a')}/v1/{project}/protection-groups"
        for headers, what in (({}, "no token"), ({"X-Auth-Token": "garbage"}, "a garbage token")):
            answer = requests.get(url, headers=headers, timeout=10)
            expect(answer.status_code == 401, f"{what}: {answer.status_code}")
            expect(answer.headers.get("WWW-Authenticate", "").startswith("Keystone uri="),
                   f"{what}: WWW-Authenticate {answer.headers.get('WWW-Authenticate')!r}")
            expect(answer.json()["error"]["code"] == 401, f"{what}: body {answer.text[:200]}")
        expect(requests.get(url, headers={"X-Auth-Token": token}, timeout=10).status_code == 200, "valid token refused")
        identity = d.clouds["site-a"]["auth"]["auth_url"].rstrip("/")
        revoked = requests.delete(identity + "/auth/tokens",
                                  headers={"X-Auth-Token": token, "X-Subject-Token": token}, timeout=10)
        expect(revoked.status_code == 204, f"revoking: {revoked.status_code}")
        # Trusted from the cache for at most token_cache_time (2 s here), then refused.
        wait_for("the revoked token is refused",
                 lambda: requests.get(url, headers={"X-Auth-Token": token}, timeout=10).status_code == 401,
                 timeout=30)
    checks.run("a missing, garbage or revoked token gets 401 with the Keystone challenge", tokens, deployed)

    def database_down():
        token, project = d.token("site-a")
        url = f"{d.api_url('site-a')}/v1/{project}/protection-groups"
        headers = {"X-Auth-Token": token}
        before = groups_of(requests.get(url, headers=headers, timeout=10).json())
        d.stop_database("site-a")
        answer = wait_for("503 while site-a's database is down",
                          lambda: (lambda r: r if r.status_code == 503 else None)(
                              requests.get(url, headers=headers, timeout=30)), timeout=60)
        body = answer.json()["error"]
        expect(body["code"] == 503 and "database" in body["message"].lower(), f"503 body: {body}")
        cli = d.protector("protection-group", "list", check=False)
        expect(cli.returncode != 0 and "503" not in cli.stdout, f"CLI while the database is down: {cli.stderr}")
        expect("unavailable" in cli.stderr.lower() or "database" in cli.stderr.lower(),
               f"CLI error does not say what is wrong: {cli.stderr}")
        d.start_database("site-a")
        after = wait_for("site-a's API answers again",
                         lambda: (lambda r: r.json() if r.status_code == 200 else None)(
                             requests.get(url, headers=headers, timeout=30)), timeout=120)
        expect(groups_of(after) == before, f"after the restart: {groups_of(after)} != {before}")
        expect(d.protector_json("protection-group", "list")[0]["name"] == GROUP, "CLI after the restart")
        for name, proc in d.procs.items():
            if name.startswith(("api-", "engine-")) and name != "engine-site-a-1" and name != "engine-site-a-2":
                expect(proc.poll() is None, f"{name} exited while the database was down: {d.tail(name)}")
    checks.run("site-a's database stopped: clear 503s, then the service recovers with nothing lost",
               database_down, cycle)

    def sigterm():
        for name in [n for n in d.procs if n.startswith("engine-site-b")]:
            proc = d.procs[name]
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
            expect(code == 0, f"{name} exited {code} on SIGTERM: {d.tail(name)}")
    checks.run("SIGTERM stops a protector-engine cleanly (exit 0)", sigterm, deployed)

    def no_secret_in_logs():
        secrets = [d.clouds[c]["auth"].get(k) for c in d.clouds
                   for k in ("password", "application_credential_secret")]
        secrets = [s for s in secrets if s] + [a["api_token"] for a in d.arrays.values()]
        for name in d.logs:
            with open(d.logs[name], errors="replace") as f:
                text = f.read()
            for secret in secrets:
                expect(secret not in text, f"{name}'s log holds a secret")
    checks.run("no password or array token in any service log", no_secret_in_logs, deployed)


def groups_of(body):
    """The group list of a protector-api answer (`{"protection_groups": [...]}` or a list)."""
    if isinstance(body, list):
        return body
    for key in ("protection_groups", "groups", "items"):
        if key in body:
            return body[key]
    raise Failed(f"no group list in {str(body)[:200]}")


if __name__ == "__main__":
    main()
