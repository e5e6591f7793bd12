"""``openstack protector consistency-group show``."""

from __future__ import annotations

import argparse
from typing import Any

from protectorclient.osc import base, display


class ShowConsistencyGroup(base.ShowOne):
    """Show the consistency group of a protection group: Cinder groups on both sites, volume
    count, and the replication lag (age of the last snapshot that fully reached the other
    site's array, by that array's clock)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "group", metavar="<protection-group>", help="Protection group name or id"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        report = self.engine.consistency_group(parsed_args.group)
        return display.show_view(display.show_pairs("consistency_group", report))
