"""Unmodified py-pure-client (`pypureclient.flasharray.Client`) against both simulated arrays.

Usage: pure_client.py SIM_DIR   (reads SIM_DIR/arrays.json; with PROTECTOR_BIN set, also checks
through `protector sim inspect` that the copied volume holds the replicated data)

The flow is the one Cinder's Pure driver and protector run for async DR: discovery and login on
each array, listings (volumes, protection groups, their snapshots and transfers), then a
protection group on site-a with site-b as target, allowed on site-b, a snapshot with
replicate_now that arrives on site-b, a volume copied from the replicated volume snapshot, and
cleanup.
"""

import json
import os
import subprocess

from common import Checks, Failed, array_client, arrays, expect, items, poll, sim_dir

PG = "acc-pg"
SOURCE_COPY = "acc-pg-vol"
RESTORED = "acc-restored"
GIB = 1024**3


def main():
    directory = sim_dir()
    config = arrays(directory)
    checks = Checks("py-pure-client")
    run = checks.run

    from pypureclient import flasharray
    from pypureclient.exceptions import PureError
    from pypureclient.responses import ErrorResponse

    clients, names = {}, {}
    for site in ("site-a", "site-b"):
        entry = config.get(site)
        clients[site] = run(f"{site}: login (api_version, api-token → x-auth-token), verified TLS",
                            lambda: array_client(entry) if entry else _missing(site))
        client = clients[site]

        def array_name(client=client):
            array = items(client.get_arrays(), "get_arrays")
            expect(len(array) == 1, f"get_arrays returned {len(array)} items")
            expect(array[0].name and array[0].version, "array name or version missing")
            return array[0].name

        names[site] = run(f"{site}: get_arrays", array_name, client)

        def volumes(client=client, site=site):
            found = items(client.get_volumes(), "get_volumes")
            if site == "site-a":
                expect(any(v.name.startswith("volume-") for v in found),
                       f"no Cinder volume among {[v.name for v in found]}")
            for v in found:
                expect(v.provisioned > 0 and v.serial, f"volume {v.name} lacks provisioned/serial")
            return found

        run(f"{site}: list volumes", volumes, client)
        run(f"{site}: list protection groups",
            lambda client=client: items(client.get_protection_groups(), "get_protection_groups"),
            client)
        run(f"{site}: list protection-group snapshots",
            lambda client=client: items(client.get_protection_group_snapshots(),
                                        "get_protection_group_snapshots"),
            client)
        run(f"{site}: list protection-group snapshot transfers",
            lambda client=client: items(client.get_protection_group_snapshots_transfer(),
                                        "get_protection_group_snapshots_transfer"),
            client)

        def connections(client=client, site=site):
            peer = "site-b" if site == "site-a" else "site-a"
            found = items(client.get_array_connections(), "get_array_connections")
            expect(names.get(peer) is None or any(c.name == names[peer] for c in found),
                   f"peer {names.get(peer)} not among connections {[c.name for c in found]}")

        run(f"{site}: list array connections", connections, client)

        def unknown_volume(client=client):
            response = client.get_volumes(names=["acc-does-not-exist"])
            expect(isinstance(response, ErrorResponse), f"expected an error, got {response}")
            expect(response.status_code == 400, f"status {response.status_code}, expected 400")
            expect(any(e.context == "acc-does-not-exist" for e in response.errors),
                   f"no error with context acc-does-not-exist: {response.errors}")

        run(f"{site}: unknown volume name → 400 with errors[].context", unknown_volume, client)

    def bad_token():
        entry = dict(config["site-a"], api_token="not-the-token")
        try:
            array_client(entry)
        except PureError as e:
            expect("401" in str(e), f"refused without 401: {e}")
            return True
        raise Failed("a wrong API token was accepted")

    run("site-a: wrong API token refused (401)", bad_token)

    a, b = clients["site-a"], clients["site-b"]
    name_a, name_b = names["site-a"], names["site-b"]

    def source_copy():
        found = items(a.get_volumes(destroyed=False), "get_volumes")
        seeded = [v.name for v in found if v.name.startswith("volume-") and "::" not in v.name]
        expect(seeded, "no seeded Cinder volume on site-a to copy")
        response = a.post_volumes(names=[SOURCE_COPY],
                                  volume=flasharray.VolumePost(source=flasharray.Reference(name=seeded[0])))
        created = items(response, "post_volumes (copy)")
        expect(created and created[0].name == SOURCE_COPY, f"copy returned {created}")
        return seeded[0]

    copied_from = run("site-a: copy a volume (post_volumes with source)", source_copy, a)

    def create_pg():
        created = items(a.post_protection_groups(names=[PG]), "post_protection_groups")
        expect(created and created[0].name == PG, f"created {created}")
        items(a.post_protection_groups_volumes(group_names=[PG], member_names=[SOURCE_COPY]),
              "post_protection_groups_volumes")
        members = items(a.get_protection_groups_volumes(group_names=[PG]), "get_protection_groups_volumes")
        expect([m.member.name for m in members] == [SOURCE_COPY], f"members {members}")

    pg = run("site-a: create protection group with a member volume", create_pg, a, copied_from)

    def add_target():
        items(a.post_protection_groups_targets(group_names=[PG], member_names=[name_b]),
              "post_protection_groups_targets")

    target = run("site-a: add site-b's array as target", add_target, pg, name_b)

    replica = f"{name_a}:{PG}"

    def allow_on_peer():
        poll(f"replica group {replica} on site-b",
             lambda: items(b.get_protection_groups(names=[replica]), "get_protection_groups"))
        items(b.patch_protection_groups_targets(
            group_names=[replica], target=flasharray.TargetProtectionGroupPostPatch(allowed=True)),
            "patch_protection_groups_targets")

    allowed = run("site-b: replica group appears and is allowed", allow_on_peer, target, b)

    def target_allowed():
        found = items(a.get_protection_groups_targets(group_names=[PG]), "get_protection_groups_targets")
        expect(any(t.member.name == name_b and t.allowed for t in found),
               f"target not allowed: {[(t.member.name, t.allowed) for t in found]}")

    run("site-a: target shows allowed", target_allowed, allowed)

    def snapshot():
        created = items(a.post_protection_group_snapshots(source_names=[PG], replicate_now=True),
                        "post_protection_group_snapshots")
        expect(len(created) == 1 and created[0].name.startswith(f"{PG}."), f"created {created}")
        return created[0].name

    snap = run("site-a: snapshot with replicate_now", snapshot, allowed)

    replicated = f"{name_a}:{snap}"

    def transfer():
        def arrived():
            # Cinder's failover query, verbatim.
            done = items(b.get_protection_group_snapshots_transfer(
                names=[replica], destroyed=False, filter='progress="1.0"', sort=["started-"]),
                "get_protection_group_snapshots_transfer")
            return [t for t in done if t.name == replicated]

        done = poll(f"transfer of {replicated} to site-b", arrived)
        expect(done[0].completed is not None and done[0].progress == 1.0, f"transfer {done[0]}")

    transferred = run("site-b: replicated snapshot arrives (transfer progress 1.0)", transfer, snap)

    def replicated_snapshots():
        listed = items(b.get_protection_group_snapshots(names=[replicated]), "get_protection_group_snapshots")
        expect([s.name for s in listed] == [replicated], f"listed {listed}")
        volume_snaps = items(b.get_volume_snapshots(filter=f"name='{replicated}.*'"), "get_volume_snapshots")
        wanted = f"{replicated}.{SOURCE_COPY}"
        expect(any(v.name == wanted for v in volume_snaps),
               f"{wanted} not among {[v.name for v in volume_snaps]}")
        return wanted

    volume_snap = run("site-b: list the replicated volume snapshots", replicated_snapshots, transferred)

    def copy_restored():
        source = flasharray.VolumePost(source=flasharray.Reference(name=volume_snap))
        created = items(b.post_volumes(names=[RESTORED], volume=source), "post_volumes (copy)")
        expect(created and created[0].name == RESTORED, f"created {created}")
        again = b.post_volumes(names=[RESTORED], volume=source)
        expect(again.status_code == 400 and "already exists" in str(again.errors).lower(),
               f"copy onto an existing volume without overwrite: {again}")
        items(b.post_volumes(names=[RESTORED], volume=source, overwrite=True), "post_volumes overwrite")

    restored = run("site-b: copy a volume from the replicated snapshot (and overwrite)",
                   copy_restored, volume_snap)

    def same_data():
        inventory = json.loads(subprocess.run(
            [os.environ["PROTECTOR_BIN"], "sim", "inspect", "--dir", directory, "-f", "json"],
            check=True, capture_output=True, text=True).stdout)
        snaps = {s["name"]: s for s in inventory["arrays"]["site-a"]["snapshots"]}
        taken = snaps[snap]["fingerprints"][SOURCE_COPY]
        volumes = {v["name"]: v for v in inventory["arrays"]["site-b"]["volumes"]}
        expect(volumes[RESTORED]["fingerprint"] == taken,
               f"restored holds write {volumes[RESTORED]['fingerprint']}, the snapshot {taken}")

    if os.environ.get("PROTECTOR_BIN"):
        run("simulator: the copy holds exactly the snapshot's data", same_data, restored)

    def cleanup():
        problems = []

        def step(what, response):
            # Only what an earlier failed check never created may be missing.
            errors = str(getattr(response, "errors", ""))
            if response.status_code != 200 and "does not exist" not in errors:
                problems.append(f"{what}: {response.status_code} {errors}")

        destroyed = flasharray.VolumePatch(destroyed=True)
        step("destroy restored", b.patch_volumes(names=[RESTORED], volume=destroyed))
        step("eradicate restored", b.delete_volumes(names=[RESTORED]))
        gone = flasharray.ProtectionGroup(destroyed=True)
        step("destroy replica group", b.patch_protection_groups(names=[replica], protection_group=gone))
        step("eradicate replica group", b.delete_protection_groups(names=[replica]))
        step("destroy group", a.patch_protection_groups(names=[PG], protection_group=gone))
        step("eradicate group", a.delete_protection_groups(names=[PG]))
        step("destroy source copy", a.patch_volumes(names=[SOURCE_COPY], volume=destroyed))
        step("eradicate source copy", a.delete_volumes(names=[SOURCE_COPY]))
        expect(not problems, "; ".join(problems))
        left = [v.name for v in items(a.get_volumes(), "get_volumes") + items(b.get_volumes(), "get_volumes")
                if v.name.startswith("acc-")]
        expect(not left, f"left behind: {left}")

    run("both: clean up (destroy and eradicate volumes and groups)", cleanup, a, b, copied_from)
    checks.exit()


def _missing(site):
    raise Failed(f"arrays.json has no entry {site}")


if __name__ == "__main__":
    main()
