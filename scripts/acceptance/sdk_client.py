"""Unmodified openstacksdk (`openstack.connect(cloud=...)`) against `protector sim serve`.

Usage: sdk_client.py SIM_DIR   (with OS_CLIENT_CONFIG_FILE=SIM_DIR/clouds.yaml)

Admin, member and second-tenant views of site-a, a look at site-b, a volume created and
deleted, a server stopped and started.
"""

import openstack

from common import Checks, expect, sim_dir


def main():
    sim_dir()
    checks = Checks("openstacksdk")
    run = checks.run

    conn = run("connect(cloud='site-a') and authorize", lambda: _connect("site-a"))

    def servers():
        found = {s.name: s for s in conn.compute.servers(details=True)}
        for vm in ("web-server-1", "db-server-1", "legacy-app"):
            expect(vm in found, f"{vm} not in {sorted(found)}")
        return found

    found = run("compute.servers()", servers, conn)

    def server():
        vm = conn.compute.get_server(found["db-server-1"].id)
        expect(vm.status == "ACTIVE", f"status {vm.status}")
        expect(len(vm.attached_volumes) == 2, f"attached {vm.attached_volumes}")
        return vm

    db = run("compute.get_server(db-server-1): ACTIVE, two volumes", server, found)

    def volumes():
        listed = {v.id: v for v in conn.block_storage.volumes(details=True)}
        for attachment in db.attached_volumes:
            volume = listed.get(attachment["id"])
            expect(volume is not None, f"attached volume {attachment['id']} not listed")
            expect(volume.volume_type == "replicated-ssd", f"type {volume.volume_type}")
            expect(volume.status == "in-use", f"status {volume.status}")

    run("block_storage.volumes(): db-server-1's volumes are in-use replicated-ssd", volumes, db)

    def volume_type():
        vtype = conn.block_storage.find_type("replicated-ssd", ignore_missing=False)
        specs = vtype.extra_specs
        expect(specs.get("replication_enabled") == "<is> True", f"extra specs {specs}")
        expect(specs.get("replication_type") == "<in> async", f"extra specs {specs}")

    run("block_storage.find_type(replicated-ssd): admin sees both replication specs", volume_type, conn)

    def network():
        nets = {n.name: n for n in conn.network.networks()}
        expect("net-primary-web" in nets, f"networks {sorted(nets)}")
        subnets = list(conn.network.subnets(network_id=nets["net-primary-web"].id))
        expect([s.cidr for s in subnets] == ["10.10.1.0/24"], f"subnets {[s.cidr for s in subnets]}")
        ports = list(conn.network.ports(device_id=found["web-server-1"].id))
        expect([p.fixed_ips[0]["ip_address"] for p in ports] == ["10.10.1.11"], f"ports {ports}")

    run("network: networks, subnets, ports of web-server-1", network, found)

    def flavors_and_keypairs():
        flavors = sorted(f.name for f in conn.compute.flavors())
        expect({"m1.small", "m1.large"} <= set(flavors), f"flavors {flavors}")
        keypairs = [k.name for k in conn.compute.keypairs()]
        expect("ops-key" in keypairs, f"keypairs {keypairs}")

    run("compute: flavors and keypairs", flavors_and_keypairs, conn)

    def create_delete_volume():
        volume = conn.block_storage.create_volume(size=1, name="acc-sdk-vol")
        volume = conn.block_storage.wait_for_status(volume, "available", failures=["error"], interval=0.2, wait=30)
        conn.block_storage.delete_volume(volume)
        conn.block_storage.wait_for_delete(volume, interval=0.2, wait=30)

    run("block_storage: create, wait available, delete", create_delete_volume, conn)

    def stop_start():
        vm = found["legacy-app"]
        conn.compute.stop_server(vm)
        conn.compute.wait_for_server(vm, status="SHUTOFF", interval=0.2, wait=30)
        conn.compute.start_server(vm)
        conn.compute.wait_for_server(vm, status="ACTIVE", interval=0.2, wait=30)

    run("compute: stop and start legacy-app", stop_start, found)

    def member_view():
        member = _connect("site-a-member")
        specs = member.block_storage.find_type("replicated-ssd", ignore_missing=False).extra_specs
        expect("replication_type" not in specs, f"a member sees {specs}")
        expect(any(True for _ in member.block_storage.volumes()), "a member sees no volume")

    run("site-a-member: sees volumes, not replication_type", member_view)

    def tenant2_view():
        tenant2 = _connect("site-a-tenant2")
        servers = sorted(s.name for s in tenant2.compute.servers())
        expect(servers == ["t2-app"], f"tenant2 sees {servers}")

    run("site-a-tenant2: sees only its own server", tenant2_view)

    def site_b():
        other = _connect("site-b")
        flavors = sorted(f.name for f in other.compute.flavors())
        expect({"m2.small", "m2.large"} <= set(flavors), f"site-b flavors {flavors}")
        nets = sorted(n.name for n in other.network.networks())
        expect("net-secondary-web" in nets, f"site-b networks {nets}")

    run("site-b: its own flavors and networks", site_b)
    checks.exit()


def _connect(cloud):
    conn = openstack.connect(cloud=cloud)
    conn.authorize()
    return conn


if __name__ == "__main__":
    main()
