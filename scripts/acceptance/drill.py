"""A DR drill on a network the operator made with unmodified python-openstackclient.

Usage: drill.py SIM_DIR   (with OS_CLIENT_CONFIG_FILE=SIM_DIR/clouds.yaml and PROTECTOR_BIN;
`openstack` is taken from the directory of this Python interpreter, i.e. the acceptance venv)

As an operator would: `openstack network create` and `openstack subnet create` make the drill's
isolated network on site-b (as a member of the project, not an admin); protector (the binary,
over the wire) registers both sites, protects web-server-1 and runs `dr test failover` with a
network mapping to that network; the test VM runs on it; the network cannot be deleted while
the drill's port is on it; `dr test failover cleanup` removes the drill and then the subnet and
network are deleted. A router joins the subnet on the way (`openstack router create`,
`router add subnet`) and goes before it. Every step is read back with `openstack` and
`protector sim inspect`.
"""

import json
import os
import subprocess

from common import Checks, Failed, array_client, arrays, expect, poll, sim_dir
from osc_checks import osc

NETWORK, SUBNET, CIDR = "acc-drill-net", "acc-drill-subnet", "10.77.0.0/24"
ROUTER = "acc-drill-router"
GROUP, VM = "acc-drill", "web-server-1"
OPERATOR = "site-b-member"


def protector(state, *args, env=None, parse=True):
    """Runs `protector --state-dir STATE ARGS [-f json]`; fails the check on a non-zero exit."""
    argv = [os.environ["PROTECTOR_BIN"], "--state-dir", state, *args]
    if parse:
        argv += ["-f", "json"]
    process = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                             env={**os.environ, **(env or {})})
    if process.returncode != 0:
        raise Failed(f"`protector {' '.join(args)}` exited {process.returncode}: "
                     f"{process.stderr.strip()[-600:]}")
    return json.loads(process.stdout) if parse else process


def inspect(directory):
    out = subprocess.run([os.environ["PROTECTOR_BIN"], "sim", "inspect", "--dir", directory, "-f", "json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def auth_url(cloud):
    import openstack.config

    return openstack.config.OpenStackConfig().get_one(cloud=cloud).auth["auth_url"]


def main():
    directory = sim_dir()
    state = os.path.join(os.path.dirname(os.path.abspath(directory)), "protector-state")
    checks = Checks("drill")
    run = checks.run

    def create_network():
        network = osc(OPERATOR, "network", "create", NETWORK)
        expect(network["status"] == "ACTIVE", f"status {network['status']}")
        expect(network["shared"] is False, f"shared {network['shared']}")
        expect(network["mtu"] == 1450, f"mtu {network['mtu']}")
        expect(network["subnets"] == [], f"subnets {network['subnets']}")
        token = osc(OPERATOR, "token", "issue")
        expect(network["project_id"] == token["project_id"],
               f"owned by {network['project_id']}, not the member's project {token['project_id']}")
        return network

    network = run("openstack network create (as a project member)", create_network)

    def create_subnet():
        subnet = osc(OPERATOR, "subnet", "create", "--network", NETWORK, "--subnet-range", CIDR, SUBNET)
        expect(subnet["cidr"] == CIDR, f"cidr {subnet['cidr']}")
        expect(subnet["gateway_ip"] == "10.77.0.1", f"gateway {subnet['gateway_ip']}")
        expect(subnet["allocation_pools"] == [{"start": "10.77.0.2", "end": "10.77.0.254"}],
               f"pools {subnet['allocation_pools']}")
        expect(subnet["network_id"] == network["id"], f"network {subnet['network_id']}")
        return subnet

    subnet = run("openstack subnet create --network --subnet-range", create_subnet, network)

    def visibility():
        shown = osc(OPERATOR, "network", "show", NETWORK)
        expect(shown["subnets"] == [subnet["id"]], f"subnets {shown['subnets']}")
        hidden = osc("site-b-tenant2", "network", "show", NETWORK, parse=False, ok=False)
        expect(hidden.returncode != 0, "another project sees a private network")
        refused = osc(OPERATOR, "subnet", "create", "--network", NETWORK, "--subnet-range", "10.77.0.0/16",
                      "acc-overlap", parse=False, ok=False)
        expect(refused.returncode != 0 and "overlaps" in refused.stderr, f"overlap: {refused.stderr.strip()}")
        networks = {n["name"]: n for n in inspect(directory)["sites"]["site-b"]["networks"]}
        expect(NETWORK in networks, f"{NETWORK} not in sim inspect: {sorted(networks)}")
        expect([s["cidr"] for s in networks[NETWORK]["subnets"]] == [CIDR], f"{networks[NETWORK]}")

    run("network show, project isolation, overlap refused, sim inspect", visibility, subnet)

    def router():
        created = osc(OPERATOR, "router", "create", ROUTER)
        expect(created["status"] == "ACTIVE", f"router {created['status']}")
        osc(OPERATOR, "router", "add", "subnet", ROUTER, SUBNET, parse=False)
        shown = osc(OPERATOR, "router", "show", ROUTER)
        interfaces = shown.get("interfaces_info") or []
        expect([(i["subnet_id"], i["ip_address"]) for i in interfaces] == [(subnet["id"], "10.77.0.1")],
               f"interfaces {interfaces}")
        return created

    routed = run("openstack router create, router add subnet (the gateway address)", router, subnet)

    def protect():
        for site, role in (("site-a", "primary"), ("site-b", "secondary")):
            protector(state, "--os-cloud", "site-a", "site", "create", "--name", site, "--site-type", role,
                      "--auth-url", auth_url(site))
        protector(state, "--os-cloud", "site-a", "protection-group", "create", "--name", GROUP,
                  "--replication-type", "async", "--primary-site", "site-a", "--secondary-site", "site-b",
                  "--volume-type", "replicated-ssd")
        protector(state, "--os-cloud", "site-a", "protection-group", "member-add", GROUP, "--instance-id", VM)
        endpoints = arrays(directory)
        protector(state, "--os-cloud", "site-a", "protection-group", "policy-create", GROUP,
                  "--primary-fa-url", endpoints["site-a"]["url"],
                  "--primary-fa-ca-file", endpoints["site-a"]["ca_file"],
                  "--secondary-fa-url", endpoints["site-b"]["url"],
                  "--secondary-fa-ca-file", endpoints["site-b"]["ca_file"],
                  "--pure-pg-name", f"pg-{GROUP}", "--replication-interval", "300", "--rpo-minutes", "15",
                  env={"PROTECTOR_PRIMARY_FA_TOKEN": endpoints["site-a"]["api_token"],
                       "PROTECTOR_SECONDARY_FA_TOKEN": endpoints["site-b"]["api_token"]})
        # A replicated snapshot to recover from, without waiting for the schedule.
        array = array_client(endpoints["site-a"])
        response = array.post_protection_group_snapshots(source_names=[f"pg-{GROUP}"], replicate_now=True)
        expect(response.status_code == 200, f"snapshot: {response}")

        def usable():
            points = protector(state, "--os-cloud", "site-a", "protection-group", "recovery-points", GROUP)
            return [p["name"] for p in points if p["usable"]]

        return poll("a usable recovery point", usable, attempts=30, delay=0.1)[0]

    point = run(f"protector: sites, group {GROUP} with {VM}, policy, a replicated snapshot", protect)

    def drill():
        op = protector(state, "--os-cloud", "site-a", "dr", "test", "failover", GROUP,
                       "--network-mapping", f"net-primary-web={NETWORK}",
                       "--flavor-mapping", "m1.large=m2.large", "--wait")
        expect(op["status"] == "completed", f"drill {op['status']}: {op.get('error_message')}")
        server = osc("site-b", "server", "show", f"test-{VM}")
        expect(server["status"] == "ACTIVE", f"test VM {server['status']}")
        addresses = server["addresses"]
        expect(NETWORK in json.dumps(addresses) and "10.77.0." in json.dumps(addresses),
               f"test VM not on {NETWORK}: {addresses}")
        ports = osc(OPERATOR, "port", "list", "--network", NETWORK)
        expect(len(ports) == (2 if routed else 1), f"ports on {NETWORK} (the VM's, the router's): {ports}")
        volumes = [v for v in inspect(directory)["sites"]["site-b"]["volumes"]
                   if v["name"].startswith(f"test-{VM}")]
        expect(volumes, "no drill volume on site-b")
        for volume in volumes:
            lineage = volume.get("lineage") or {}
            expect(lineage.get("kind") == "managed" and
                   (lineage.get("copied_from") or "").startswith(f"{point}."),
                   f"{volume['name']} was not made from {point}: {lineage}")
        return op

    drilled = run(f"protector dr test failover with net-primary-web={NETWORK}: the test VM runs on it",
                  drill, point)

    def in_use():
        refused = osc(OPERATOR, "network", "delete", NETWORK, parse=False, ok=False)
        expect(refused.returncode != 0 and "ports still in use" in refused.stderr,
               f"deleting a network in use: {refused.returncode} {refused.stderr.strip()}")

    run("openstack network delete while the drill runs on it: 409 NetworkInUse", in_use, drilled)

    def cleanup():
        op = protector(state, "--os-cloud", "site-a", "dr", "test", "failover", "cleanup", GROUP, "--wait")
        expect(op["status"] == "completed", f"cleanup {op['status']}: {op.get('error_message')}")
        if routed:
            refused = osc(OPERATOR, "subnet", "delete", SUBNET, parse=False, ok=False)
            expect(refused.returncode != 0, "a subnet with a router interface was deleted")
            osc(OPERATOR, "router", "remove", "subnet", ROUTER, SUBNET, parse=False)
            osc(OPERATOR, "router", "delete", ROUTER, parse=False)
        osc(OPERATOR, "subnet", "delete", SUBNET, parse=False)
        osc(OPERATOR, "network", "delete", NETWORK, parse=False)
        names = [n["Name"] for n in osc("site-b", "network", "list")]
        expect(NETWORK not in names, f"{NETWORK} still listed: {names}")
        left = [n["name"] for n in inspect(directory)["sites"]["site-b"]["networks"]]
        expect(NETWORK not in left, f"{NETWORK} still in sim inspect: {left}")

    run("dr test failover cleanup, then openstack router remove subnet, router delete, subnet delete "
        "and network delete", cleanup, drilled)
    checks.exit()


if __name__ == "__main__":
    main()
