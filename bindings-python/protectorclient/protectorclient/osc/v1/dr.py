"""``openstack dr ...``: DR drills (``dr test failover [cleanup]``), site failover
(``dr site failover``) and tenant mappings (``dr tenant mapping create|list``)."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib import exceptions

from protectorclient.osc import base, display, longrun, options


class TestFailover(base.ShowOne):
    """Run a DR drill: boot copies of the group's VMs on the DR site from the latest replicated
    snapshot, on isolated networks, without touching production or its replication.

    `openstack dr test failover cleanup <group>` removes exactly what the drill created.
    Without --wait the command prints the pending operation at once."""

    __test__ = False  # not a pytest test class

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "group", metavar="<protection-group>", help="Protection group name or id"
        )
        options.add_mapping_options(
            parser,
            network_mapping="Network mapping <source>=<target> from the production networks to "
            "the isolated test networks of the DR site; repeat the option or give several pairs "
            "separated by spaces. A network not given here takes the stored mapping, which is "
            "the failover's: map every network to an isolated one",
        )
        parser.add_argument(
            "--all-projects",
            action="store_true",
            help="Accepted as in the spec; the group is found whichever project owns it",
        )
        options.add_wait_option(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        given = options.mappings(parsed_args)
        group = parsed_args.group
        return longrun.launch(
            self, parsed_args, lambda engine: engine.test_failover(group, **given)
        )


class TestFailoverCleanup(base.ShowOne):
    """Remove the DR drill's VMs, ports and volumes from the DR site; safe to run again."""

    __test__ = False

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "group", metavar="<protection-group>", help="Protection group name or id"
        )
        options.add_wait_option(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        group = parsed_args.group
        return longrun.launch(self, parsed_args, lambda engine: engine.test_failover_cleanup(group))


class SiteFailover(base.ShowOne):
    """Fail over every protection group whose workload runs on SITE, several at once.

    Needs the dr_site_admin role; run it from the DR site (--os-cloud). Partial failures are
    reported per group; retry the failed ones with --group. Without --wait the command prints
    the pending operation at once; with --wait it shows the progress and prints the final
    record with one row per group."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("site", metavar="<site>", help="The failed (or to be evacuated) site")
        parser.add_argument(
            "--failover-type",
            metavar="<failover-type>",
            choices=("planned", "unplanned"),
            required=True,
            help="planned (both sites reachable: each group's VMs stop before the final "
            "replication) or unplanned (the site is lost: recover from the latest replicated "
            "snapshots; needs --force)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Confirm an unplanned failover (the site's reachability is not required)",
        )
        parser.add_argument(
            "--concurrency",
            metavar="<n>",
            type=options.positive,
            default=None,
            help="At most this many groups fail over at once (default: the engine's, "
            "protector.DEFAULT_SITE_FAILOVER_CONCURRENCY; the services' call limits set the "
            "pace)",
        )
        parser.add_argument(
            "--group",
            metavar="<protection-group>",
            dest="groups",
            action="append",
            default=[],
            help="Only this group (name or id), e.g. to retry one that failed; repeat for several",
        )
        options.add_wait_option(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        site = parsed_args.site
        unplanned = parsed_args.failover_type == "unplanned"
        if unplanned and not parsed_args.force:
            raise exceptions.CommandError(
                f"an unplanned failover of site '{site}' recovers every group from its last "
                "replicated snapshot and does not stop the VMs there: confirm with --force"
            )
        # Without --concurrency the engine's default applies (it is not repeated here).
        given = {} if parsed_args.concurrency is None else {"concurrency": parsed_args.concurrency}
        groups = list(parsed_args.groups)
        return longrun.launch(
            self,
            parsed_args,
            lambda engine: engine.site_failover(site, unplanned=unplanned, groups=groups, **given),
        )


class CreateTenantMapping(base.ShowOne):
    """Map a local project to its project on the remote site (written on both sites)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--local-tenant",
            metavar="<project-id>",
            required=True,
            help="Project id on the local site",
        )
        parser.add_argument(
            "--remote-site", metavar="<site>", required=True, help="The remote site"
        )
        parser.add_argument(
            "--remote-tenant",
            metavar="<project-id>",
            required=True,
            help="Project id on the remote site",
        )
        parser.add_argument("--description", metavar="<description>", default="", help="Free text")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        mapping = self.engine.create_tenant_mapping(
            parsed_args.local_tenant,
            parsed_args.remote_site,
            parsed_args.remote_tenant,
            description=parsed_args.description,
        )
        return display.show_view(display.show_pairs("tenant_mapping", mapping))


class ListTenantMapping(base.Lister):
    """List tenant mappings."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.list_view("tenant_mappings", self.engine.tenant_mappings())
