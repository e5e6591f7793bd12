"""A planned failover and failback from Python, against `protector sim serve`.

    protector sim serve --dir /tmp/sim &                 # wait for `ready`
    export OS_CLIENT_CONFIG_FILE=/tmp/sim/clouds.yaml PROTECTOR_STATE_DIR=/tmp/dr
    python examples/python/dr_cycle.py /tmp/sim

It registers the two sites (when they are not yet), protects web-server-1, web-server-2 and
db-server-1 of site-a, fails them over to site-b (printing progress), and fails them back.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import protector

GROUP = "prod-web-app"


def auth_url(sim_dir: pathlib.Path, site: str) -> str:
    """The Keystone URL of `site`'s entry in the simulator's clouds.yaml."""
    lines = (sim_dir / "clouds.yaml").read_text().splitlines()
    start = lines.index(f'  "{site}":')
    return next(line.split(":", 1)[1].strip().strip('"') for line in lines[start:]
                if line.strip().startswith("auth_url:"))


def server_ids(sim_dir: pathlib.Path, names: list[str]) -> list[str]:
    inventory = json.loads(subprocess.run(
        ["protector", "sim", "inspect", "--dir", str(sim_dir), "-f", "json"],
        check=True, capture_output=True, text=True).stdout)
    servers = {s["name"]: s["id"] for s in inventory["sites"]["site-a"]["servers"]}
    return [servers[name] for name in names]


def show(op: protector.types.Operation) -> None:
    print(f"  {op.operation_type} {op.status} {op.progress:3d}% {op.phase}")


def main(sim_dir: pathlib.Path) -> None:
    site_a = protector.Protector("site-a", poll_interval=0.02)
    registered = {site.name for site in site_a.sites()}
    for site, role in (("site-a", "primary"), ("site-b", "secondary")):
        if site not in registered:
            site_a.create_site(site, site_type=role, auth_url=auth_url(sim_dir, site))
            print(f"registered {site} ({role})")
    site_b = protector.Protector("site-b", poll_interval=0.02)
    arrays = json.loads((sim_dir / "arrays.json").read_text())

    try:
        site_a.group(GROUP)
    except protector.NotFoundError:
        site_a.create_group(GROUP, primary_site="site-a", secondary_site="site-b",
                            volume_type="replicated-ssd")
        for instance in server_ids(sim_dir, ["web-server-1", "web-server-2", "db-server-1"]):
            site_a.add_member(GROUP, instance)
        site_a.create_policy(
            GROUP, pure_pg_name="pg-prod-web-app",
            primary_array_url=arrays["site-a"]["url"],
            primary_array_token=arrays["site-a"]["api_token"],
            primary_array_ca_file=arrays["site-a"]["ca_file"],
            secondary_array_url=arrays["site-b"]["url"],
            secondary_array_token=arrays["site-b"]["api_token"],
            secondary_array_ca_file=arrays["site-b"]["ca_file"],
        )
        site_a.set_mappings(
            GROUP,
            networks={"net-primary-web": "net-secondary-web", "net-primary-db": "net-secondary-db"},
            flavors={"m1.large": "m2.large"},
        )

    report = site_a.validate_failover(GROUP)
    print(f"plan valid: {report.ok}")
    print("failover:")
    op = site_a.failover(GROUP).wait(on_progress=show)
    print(f"failover {op.status}; group on {site_b.group(GROUP).current_primary_site}")

    print("failback:")
    op = site_b.failback(GROUP).wait(on_progress=show)
    print(f"failback {op.status}; group on {site_a.group(GROUP).current_primary_site}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sim"))
