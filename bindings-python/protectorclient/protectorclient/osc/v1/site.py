"""``openstack protector site ...``: the registered OpenStack sites."""

from __future__ import annotations

import argparse
from typing import Any

from protectorclient.osc import base, display
from protectorclient.osc.errors import escape_controls


class CreateSite(base.ShowOne):
    """Register an OpenStack site (in the stores of the state directory)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--name", metavar="<name>", required=True, help="Unique site name, such as site-a"
        )
        parser.add_argument("--description", metavar="<description>", default="", help="Free text")
        parser.add_argument(
            "--site-type",
            metavar="<site-type>",
            choices=("primary", "secondary"),
            required=True,
            help="Registered role: primary or secondary (informational: a group's primary "
            "swaps on failover)",
        )
        parser.add_argument(
            "--auth-url", metavar="<auth-url>", required=True, help="Keystone v3 URL of the site"
        )
        parser.add_argument(
            "--region-name",
            metavar="<region-name>",
            default="RegionOne",
            help="Region of the site's endpoints (default: RegionOne)",
        )
        parser.add_argument(
            "--cloud",
            metavar="<cloud>",
            default=None,
            help="clouds.yaml entry with the site's credentials (default: the entry named like "
            "the site)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        site = self.engine.create_site(
            parsed_args.name,
            site_type=parsed_args.site_type,
            auth_url=parsed_args.auth_url,
            region_name=parsed_args.region_name,
            cloud=parsed_args.cloud,
            description=parsed_args.description,
        )
        return display.show_view(display.show_pairs("site", site))


class ListSite(base.Lister):
    """List registered sites."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.list_view("sites", self.engine.sites())


class ShowSite(base.ShowOne):
    """Show one registered site."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("site", metavar="<site>", help="Site name")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.show_view(display.show_pairs("site", self.engine.site(parsed_args.site)))


class ValidateSite(base.ShowOne):
    """Check that a site's Keystone, Nova, Cinder and Neutron answer and that volume manage is
    allowed; records the resulting status. Fails when the site is not active."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("site", metavar="<site>", help="Site name")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        validation = self.engine.validate_site(parsed_args.site)
        pairs = display.show_pairs("site_validation", validation)
        failure = _validation_failure(validation, pairs)
        if failure:
            self.fail_after_output(failure)
        return display.show_view(pairs)


# The checks a site validation reports, in the CLI's order.
_CHECKS = ("keystone", "nova", "cinder", "neutron", "volume_manage")


def _validation_failure(validation: Any, pairs: list[tuple[str, Any]]) -> str | None:
    """Why ``site validate`` fails after printing the validation (as the CLI words it)."""
    name = escape_controls(str(validation.name))
    status = str(validation.status)
    fields = dict(pairs)
    keystone = str(fields.get("keystone", getattr(validation, "keystone", "")))
    keystone_error = str(getattr(validation, "keystone_error", None) or "")
    if keystone_error in ("unauthenticated", "permission_denied"):
        reason = keystone.removeprefix("error: ")
        return (
            f"site '{name}' refused the credentials of its clouds.yaml entry: "
            f"{escape_controls(reason)}"
        )
    if status == "active":
        return None
    if status == "unreachable":
        return f"site '{name}' is unreachable: {escape_controls(keystone)}"
    problems = [
        f"  - {check}: {escape_controls(str(fields[check]))}"
        for check in _CHECKS
        if check in fields and str(fields[check]) != "ok"
    ]
    return "\n".join([f"site '{name}' is not ready for DR", *problems])


class ListVolumeTypes(base.Lister):
    """List the site's Cinder volume types that can back a protection group (replication
    enabled)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("site", metavar="<site>", help="Site name")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.list_view("volume_types", self.engine.volume_types(parsed_args.site))
