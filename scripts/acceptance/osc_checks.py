"""Unmodified python-openstackclient (`openstack ...`) against `protector sim serve`.

Usage: osc_checks.py SIM_DIR   (with OS_CLIENT_CONFIG_FILE=SIM_DIR/clouds.yaml; `openstack` is
taken from the directory of this Python interpreter, i.e. the acceptance venv)

Every check runs the CLI as an operator would and prints the command line it ran on failure.
The array volumes that `--remote-source` manages are made with py-pure-client first (copies of
an existing Cinder volume's array volume).
"""

import json
import os
import subprocess
import sys

from common import Checks, Failed, array_client, arrays, expect, items, poll, sim_dir, succeeded

OPENSTACK = os.path.join(os.path.dirname(sys.executable), "openstack")


def osc(cloud, *args, parse=True, ok=True):
    """Runs `openstack --os-cloud CLOUD ARGS [-f json]`; returns the parsed JSON (or the process
    when parse is False). With ok, a non-zero exit is a failed check showing stderr."""
    argv = [OPENSTACK, "--os-cloud", cloud, *args]
    if parse:
        argv += ["-f", "json"]
    process = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if ok and process.returncode != 0:
        shown = " ".join(argv[1:])
        raise Failed(f"`openstack {shown}` exited {process.returncode}: {process.stderr.strip()[-600:]}")
    if not parse:
        return process
    try:
        return json.loads(process.stdout) if process.stdout.strip() else None
    except json.JSONDecodeError as e:
        raise Failed(f"`openstack {' '.join(args)}` printed no JSON ({e}): {process.stdout[:300]}")


def names(rows):
    return sorted(row["Name"] for row in rows)


def names_of(rows, column):
    return sorted(row[column] for row in rows)


def volume_status(cloud, name, wanted):
    """Polls `volume show` until the status is `wanted`; fails early on an error status."""

    def reached():
        volume = osc(cloud, "volume", "show", name)
        if volume["status"].startswith("error"):
            raise Failed(f"volume {name} went {volume['status']}")
        return volume if volume["status"] == wanted else None

    return poll(f"volume {name} {wanted}", reached, attempts=30, delay=0.2)


def volume_gone(cloud, name):
    def gone():
        process = osc(cloud, "volume", "show", name, parse=False, ok=False)
        # OSC 10 says "No Volume found for NAME".
        return process.returncode != 0 and "no volume" in process.stderr.lower()

    poll(f"volume {name} deleted", gone, attempts=30, delay=0.2)


def main():
    directory = sim_dir()
    checks = Checks("openstack CLI")
    run = checks.run
    admin, member = "site-a", "site-a-member"

    def server_list():
        rows = osc(admin, "server", "list")
        for vm in ("web-server-1", "web-server-2", "db-server-1", "legacy-app", "ledger-db"):
            expect(vm in names(rows), f"{vm} not in {names(rows)}")
        expect(all(row["Status"] == "ACTIVE" for row in rows), f"statuses {rows}")
        return rows

    run("server list", server_list)

    def server_show():
        server = osc(admin, "server", "show", "web-server-1")
        expect(server["status"] == "ACTIVE", f"status {server['status']}")
        expect(server["flavor"] and "m1.large" in json.dumps(server["flavor"]), f"flavor {server['flavor']}")
        expect("10.10.1.11" in json.dumps(server["addresses"]), f"addresses {server['addresses']}")
        expect(server["volumes_attached"], "no volumes attached")
        return server

    run("server show web-server-1", server_show)

    def volume_list():
        rows = osc(admin, "volume", "list")
        expect("web-server-1-root" in names(rows), f"web-server-1-root not in {names(rows)}")
        return rows

    run("volume list", volume_list)

    def volume_show():
        volume = osc(admin, "volume", "show", "web-server-1-root")
        expect(volume["status"] == "in-use", f"status {volume['status']}")
        expect(volume["type"] == "replicated-ssd", f"type {volume['type']}")
        expect(str(volume["bootable"]).lower() == "true", f"bootable {volume['bootable']}")
        host = volume.get("os-vol-host-attr:host")
        expect(host and "@" in host, f"admin sees no host: {host}")
        return volume

    root = run("volume show web-server-1-root (admin sees the host)", volume_show)

    def type_list():
        rows = osc(admin, "volume", "type", "list", "--long")
        for t in ("replicated-ssd", "replicated-sync", "standard"):
            expect(t in names(rows), f"{t} not in {names(rows)}")
        ssd = next(row for row in rows if row["Name"] == "replicated-ssd")
        expect("replication_enabled" in json.dumps(ssd.get("Properties")), f"properties {ssd}")

    run("volume type list --long", type_list)

    def type_show():
        vtype = osc(admin, "volume", "type", "show", "replicated-ssd")
        properties = json.dumps(vtype["properties"])
        for spec in ("replication_enabled", "<is> True", "replication_type", "<in> async"):
            expect(spec in properties, f"{spec} not in properties {properties}")

    run("volume type show replicated-ssd (properties)", type_show)

    def network_list():
        rows = osc(admin, "network", "list")
        for net in ("net-primary-web", "net-primary-db"):
            expect(net in names(rows), f"{net} not in {names(rows)}")
        expect(all(row["Subnets"] for row in rows), f"a network without subnets: {rows}")

    run("network list", network_list)

    def port_list():
        rows = osc(admin, "port", "list")
        expect("10.10.1.11" in json.dumps(rows), f"web-server-1's port not listed: {rows}")

    run("port list", port_list)

    def flavor_list():
        rows = osc(admin, "flavor", "list")
        expect({"m1.small", "m1.large"} <= set(names(rows)), f"flavors {names(rows)}")

    run("flavor list", flavor_list)

    def capacity():
        limits = {row["Name"]: row["Value"] for row in osc(admin, "limits", "show", "--absolute")}
        expect(limits.get("max_total_instances") == 20, f"limits {limits}")
        expect(limits.get("total_instances_used", 0) >= 5, f"limits {limits}")
        usage = {row["Resource"]: row for row in osc(admin, "quota", "show", "--usage")}
        expect(usage["ports"]["Limit"] == 500 and usage["ports"]["In Use"] >= 6, f"ports {usage.get('ports')}")
        zones = {row["Zone Name"] for row in osc(admin, "availability", "zone", "list")}
        expect({"nova", "az-2"} <= zones, f"zones {zones}")
        hosts = names_of(osc(admin, "hypervisor", "list"), "Hypervisor Hostname")
        expect(hosts == ["site-a-compute", "site-a-compute-2"], f"hypervisors {hosts}")
        refused = osc(member, "hypervisor", "list", parse=False, ok=False)
        expect(refused.returncode != 0 and "os-hypervisors" in refused.stderr, f"member: {refused.stderr}")

    run("limits show --absolute, quota show --usage, availability zone list, hypervisor list", capacity)

    def create_delete_volume():
        created = osc(admin, "volume", "create", "--size", "1", "acc-osc-vol")
        expect(created["name"] == "acc-osc-vol", f"created {created}")
        volume_status(admin, "acc-osc-vol", "available")
        osc(admin, "volume", "delete", "acc-osc-vol", parse=False)
        volume_gone(admin, "acc-osc-vol")

    run("volume create / volume delete", create_delete_volume)

    def boot_from_volume():
        osc(admin, "volume", "create", "--size", "20", "--type", "replicated-ssd", "--bootable",
            "acc-boot-vol")
        volume = volume_status(admin, "acc-boot-vol", "available")
        expect(str(volume["bootable"]).lower() == "true", f"bootable {volume['bootable']}")
        server = osc(admin, "server", "create", "--volume", "acc-boot-vol", "--flavor", "m1.small",
                     "--network", "net-primary-web", "--wait", "acc-vm")
        expect(server["status"] == "ACTIVE", f"status {server['status']}")
        expect(volume_status(admin, "acc-boot-vol", "in-use"), "boot volume not in-use")
        osc(admin, "server", "delete", "--wait", "acc-vm", parse=False)
        volume_status(admin, "acc-boot-vol", "available")
        osc(admin, "volume", "delete", "acc-boot-vol", parse=False)
        volume_gone(admin, "acc-boot-vol")

    run("server create --volume (boot from a bootable volume) → ACTIVE, then delete", boot_from_volume)

    # Managing an array volume: make two copies of web-server-1's array volume with py-pure-client.
    array = run("py-pure-client: login to site-a's array", lambda: array_client(arrays(directory)["site-a"]))

    def copies():
        from pypureclient import flasharray

        source = f"volume-{root['id']}-cinder"
        for name in ("acc-manage-src", "acc-manage-member", "acc-manage-wrong-key"):
            post = flasharray.VolumePost(source=flasharray.Reference(name=source))
            items(array.post_volumes(names=[name], volume=post), f"copy {source} to {name}")
        return True

    copied = run("py-pure-client: copy an array volume to manage", copies, array, root)

    # The Pure driver identifies the array volume by `{"name": ...}` (its
    # _validate_manage_existing_ref), so `--remote-source name=VOLUME` is the reference it takes.
    def manage():
        host = root["os-vol-host-attr:host"]
        osc(admin, "volume", "create", "--remote-source", "name=acc-manage-src", "--host", host,
            "--type", "replicated-ssd", "--bootable", "acc-managed")
        volume = volume_status(admin, "acc-managed", "available")
        expect(volume["size"] == root["size"], f"size {volume['size']}, the source has {root['size']}")
        renamed = f"volume-{volume['id']}-cinder"
        found = items(array.get_volumes(names=[renamed]), f"array volume {renamed}")
        expect(found, f"{renamed} not on the array")
        return volume

    managed = run("volume create --remote-source name=... --host ... (manage, admin)", manage, copied)

    def wrong_key():
        host = root["os-vol-host-attr:host"]
        osc(admin, "volume", "create", "--remote-source", "source-name=acc-manage-wrong-key", "--host",
            host, "--type", "replicated-ssd", "--bootable", "acc-wrong-key")

        def failed():
            status = osc(admin, "volume", "show", "acc-wrong-key")["status"]
            return status if status.startswith("error") else None

        # Real Cinder shows error_managing as "error" through the API.
        status = poll("acc-wrong-key fails", failed, attempts=30, delay=0.2)
        expect(status == "error", f"status {status}, not Cinder's view of error_managing")
        still = items(array.get_volumes(names=["acc-manage-wrong-key"]), "acc-manage-wrong-key")
        expect(still, "the array volume was renamed anyway")
        osc(admin, "volume", "delete", "acc-wrong-key", parse=False)
        volume_gone(admin, "acc-wrong-key")

    run("volume create --remote-source source-name=... ends in error (the Pure driver wants name=)",
        wrong_key, copied)

    def bootable_null():
        host = root["os-vol-host-attr:host"]
        process = osc(admin, "volume", "create", "--remote-source", "name=acc-manage-member", "--host",
                      host, "acc-null-bootable", parse=False, ok=False)
        expect(process.returncode != 0, "manage without --bootable was accepted")
        expect("400" in process.stderr and "bootable" in process.stderr,
               f"not refused with 400 on bootable: {process.stderr.strip()}")

    run("volume create --remote-source without --bootable: 400 (OSC sends bootable null, "
        "Cinder's schema refuses it)", bootable_null, copied)

    def member_refused():
        host = root["os-vol-host-attr:host"]
        process = osc(member, "volume", "create", "--remote-source", "name=acc-manage-member",
                      "--host", host, "--bootable", "acc-member-managed", parse=False, ok=False)
        expect(process.returncode != 0, "a member managed a volume")
        expect("HTTP 403" in process.stderr or "403" in process.stderr,
               f"not refused with 403: {process.stderr.strip()}")
        still = items(array.get_volumes(names=["acc-manage-member"]), "acc-manage-member")
        expect(still, "the refused manage renamed the array volume")

    run("volume create --remote-source as site-a-member is refused (403)", member_refused, copied)

    def cleanup():
        from pypureclient import flasharray

        if managed:
            osc(admin, "volume", "delete", "acc-managed", parse=False)
            volume_gone(admin, "acc-managed")
        for name in ("acc-manage-src", "acc-manage-member", "acc-manage-wrong-key"):
            response = array.get_volumes(names=[name])
            if response.status_code == 200:
                destroyed = flasharray.VolumePatch(destroyed=True)
                succeeded(array.patch_volumes(names=[name], volume=destroyed), f"destroy {name}")
                succeeded(array.delete_volumes(names=[name]), f"eradicate {name}")
        left = [v.name for v in items(array.get_volumes(), "get_volumes") if v.name.startswith("acc-")]
        expect(not left, f"left behind on the array: {left}")

    run("clean up managed volume and array copies", cleanup, array)
    checks.exit()


if __name__ == "__main__":
    main()
