"""``openstack protector protection-group ...``: protection groups, their members, policy,
metadata sync, mappings, and the failover and failback operations."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from typing import Any

from osc_lib import exceptions

from protectorclient.osc import base, display, longrun, options


def _group_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group", metavar="<protection-group>", help="Protection group name or id")


# ---------------------------------------------------------------------------------- groups


class CreateProtectionGroup(base.ShowOne):
    """Create a protection group (and its consistency groups on both sites)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--name", metavar="<name>", required=True, help="Group name, unique per tenant"
        )
        parser.add_argument("--description", metavar="<description>", default="", help="Free text")
        parser.add_argument(
            "--replication-type",
            metavar="<replication-type>",
            choices=("async", "sync"),
            required=True,
            help="Replication mode: async (replicated snapshots) or sync (ActiveCluster pods)",
        )
        parser.add_argument(
            "--primary-site", metavar="<site>", required=True, help="Site where the VMs run now"
        )
        parser.add_argument("--secondary-site", metavar="<site>", required=True, help="The DR site")
        parser.add_argument(
            "--volume-type",
            metavar="<volume-type>",
            required=True,
            help="Cinder volume type of every member volume; must be replication-enabled on "
            "both sites",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        group = self.engine.create_group(
            parsed_args.name,
            primary_site=parsed_args.primary_site,
            secondary_site=parsed_args.secondary_site,
            volume_type=parsed_args.volume_type,
            replication_type=parsed_args.replication_type,
            description=parsed_args.description,
        )
        return display.show_view(display.show_pairs("group", group))


class ListProtectionGroup(base.Lister):
    """List protection groups."""

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.list_view("groups", self.engine.groups())


class ShowProtectionGroup(base.ShowOne):
    """Show one protection group."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.show_view(display.show_pairs("group", self.engine.group(parsed_args.group)))


class DeleteProtectionGroup(base.ShowOne):
    """Delete a protection group on both sites: consistency groups and the FlashArray protection
    group go, VMs and volumes stay. Refused while an operation runs or the peer is down."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        group = self.engine.delete_group(parsed_args.group)
        return display.show_view(display.show_pairs("group", group))


class FenceProtectionGroup(base.ShowOne):
    """Confirm that the VMs an unplanned failover left on the old primary site are stopped
    (stopping them if they run) and clear the group's fence; prints the group."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        group = self.engine.fence(parsed_args.group)
        return display.show_view(display.show_pairs("group", group))


# ---------------------------------------------------------------------------------- members


class AddMember(base.ShowOne):
    """Add a VM: captures its recovery metadata and puts its volumes under replication."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        parser.add_argument(
            "--instance-id",
            metavar="<instance>",
            required=True,
            help="Nova id of the VM on the group's current primary site (a unique server name "
            "works too when you stand on that site)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        instance_id = self._resolve_instance(parsed_args.group, parsed_args.instance_id)
        member = self.engine.add_member(parsed_args.group, instance_id)
        return display.show_view(display.show_pairs("member_added", member))

    def _resolve_instance(self, group: str, id_or_name: str) -> str:
        """The Nova id of ``id_or_name``: ids pass through; a name is looked up (with OSC's
        compute client, on the site of OSC's credentials) on the group's current primary
        site, as ``openstack server show`` resolves names."""
        try:
            uuid.UUID(id_or_name)
            return id_or_name
        except ValueError:
            pass
        site = self.engine.group(group).current_primary_site
        if site != self.client.site:
            raise exceptions.CommandError(
                f"'{id_or_name}' is not a Nova id and the VMs of protection group '{group}' run "
                f"on {site}, not on {self.client.site}: give the Nova id, or run the command "
                f"with --os-cloud {site}"
            )
        compute = self.app.client_manager.compute
        servers = list(compute.servers(name=f"^{_regex_escape(id_or_name)}$"))
        if len(servers) == 1:
            return str(servers[0].id)
        if not servers:
            raise exceptions.CommandError(
                f"no server with id or name '{id_or_name}' on {site}: give the Nova id of a VM "
                "on the group's current primary site"
            )
        raise exceptions.CommandError(
            f"{len(servers)} servers are named '{id_or_name}' on {site}: give the Nova id instead"
        )


def _regex_escape(name: str) -> str:
    # Nova matches the name filter as a regular expression.
    import re

    return re.escape(name)


class ListMember(base.Lister):
    """List the members of a protection group."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.list_view("members", self.engine.members(parsed_args.group))


class ShowMember(base.ShowOne):
    """Show one member with its recovery metadata and where it runs now."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        parser.add_argument(
            "member", metavar="<member-id>", help="Member id (or the VM's instance id)"
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        member = self.engine.member(parsed_args.group, parsed_args.member)
        return display.show_view(display.show_pairs("member", member))


class RemoveMember(base.ShowOne):
    """Remove a VM from the protection group (the VM itself is not touched)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        parser.add_argument(
            "--member-id",
            metavar="<member-id>",
            required=True,
            help="Member id (or the VM's instance id)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        member = self.engine.remove_member(parsed_args.group, parsed_args.member_id)
        return display.show_view(display.show_pairs("member", member))


# ---------------------------------------------------------------------------------- policy


class CreatePolicy(base.ShowOne):
    """Attach the replication policy: FlashArray endpoints and API tokens, the FlashArray
    protection group, schedule and RPO. The tokens are stored encrypted, never printed."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        for side in ("primary", "secondary"):
            parser.add_argument(
                f"--{side}-fa-url",
                metavar="<url>",
                required=True,
                help=f"HTTPS management URL of the FlashArray on the group's {side} site",
            )
            tokens = parser.add_mutually_exclusive_group()
            tokens.add_argument(
                f"--{side}-fa-token",
                metavar="<token>",
                help=f"API token of that array. Given here it shows in `ps` and the shell "
                f"history: prefer --{side}-fa-token-file, or PROTECTOR_{side.upper()}_FA_TOKEN "
                "in the environment (used when neither option is given)",
            )
            tokens.add_argument(
                f"--{side}-fa-token-file",
                metavar="<file>",
                help="File holding the API token of that array (read whole, surrounding "
                "whitespace trimmed); - reads it from stdin",
            )
            parser.add_argument(
                f"--{side}-fa-ca-file",
                metavar="<pem>",
                default=None,
                help=f"CA bundle that signs the {side} array's certificate, when not a system root",
            )
        parser.add_argument(
            "--pure-pg-name",
            metavar="<name>",
            required=True,
            help="Name of the FlashArray protection group",
        )
        parser.add_argument(
            "--replication-interval",
            metavar="<seconds>",
            type=int,
            default=300,
            help="Seconds between replicated snapshots (async): 60 to 86400 (default: 300)",
        )
        parser.add_argument(
            "--rpo-minutes",
            metavar="<minutes>",
            type=int,
            default=15,
            help="Recovery point objective in minutes (async) (default: 15)",
        )
        parser.add_argument(
            "--allow-insecure-http",
            action="store_true",
            help="Accept plain http:// array URLs, over which the API tokens travel "
            "unencrypted. Only for a lab array that cannot serve HTTPS",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        # Tokens first: a bad token source changes nothing.
        sources = [
            (
                side,
                getattr(parsed_args, f"{side}_fa_token"),
                getattr(parsed_args, f"{side}_fa_token_file"),
            )
            for side in ("primary", "secondary")
        ]
        if all(file == "-" for _, _, file in sources):
            raise exceptions.CommandError(
                "only one token can be read from stdin: give the other one a file or its "
                "environment variable"
            )
        tokens = {side: _read_token(side, value, file) for side, value, file in sources}
        policy = self.engine.create_policy(
            parsed_args.group,
            pure_pg_name=parsed_args.pure_pg_name,
            primary_array_url=parsed_args.primary_fa_url,
            primary_array_token=tokens["primary"],
            secondary_array_url=parsed_args.secondary_fa_url,
            secondary_array_token=tokens["secondary"],
            primary_array_ca_file=parsed_args.primary_fa_ca_file,
            secondary_array_ca_file=parsed_args.secondary_fa_ca_file,
            allow_insecure_http=parsed_args.allow_insecure_http,
            replication_interval=parsed_args.replication_interval,
            rpo_minutes=parsed_args.rpo_minutes,
        )
        group = self.engine.group(parsed_args.group)
        return display.show_view(display.show_pairs("policy", policy, group=group))


def _read_token(side: str, value: str | None, file: str | None) -> str:
    """A FlashArray API token from its option, its file (``-``: stdin) or
    ``PROTECTOR_<SIDE>_FA_TOKEN``; refused when empty or unreadable."""
    what = f"the {side} FlashArray's API token"
    if value is not None:
        token = value.strip()
        origin = f"--{side}-fa-token"
    elif file is not None:
        origin = f"--{side}-fa-token-file {file}"
        try:
            if file == "-":
                token = sys.stdin.read().strip()
            else:
                with open(file, encoding="utf-8") as handle:
                    token = handle.read().strip()
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            raise exceptions.CommandError(f"cannot read {what} from {file}: {reason}") from None
    else:
        variable = f"PROTECTOR_{side.upper()}_FA_TOKEN"
        token = os.environ.get(variable, "").strip()
        origin = variable
        if variable not in os.environ:
            raise exceptions.CommandError(
                f"no {what} given: give --{side}-fa-token-file FILE (or - for stdin), or set "
                f"{variable}"
            )
    if not token:
        raise exceptions.CommandError(f"{what} from {origin} is empty: nothing was stored")
    return token


# ---------------------------------------------------------------------------------- sync


class SyncStatus(base.ShowOne):
    """Compare the group's metadata on both sites. Fails when out of sync."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        report = self.engine.sync_status(parsed_args.group)
        pairs = display.show_pairs("sync_status", report)
        fields = dict(pairs)
        self._text = display.sync_status_text(fields)
        if not fields.get("in_sync", getattr(report, "in_sync", False)):
            remote = fields.get("remote_version")
            group = fields.get("protection_group", parsed_args.group)
            self.fail_after_output(
                f"protection group '{group}' is OUT OF SYNC (local version "
                f"{fields.get('local_version')} on {fields.get('local_site')}, remote version "
                f"{'unknown' if remote is None else remote} on {fields.get('remote_site')}): run "
                f"`openstack protector protection-group sync-force {group}`"
            )
        return display.show_view(pairs)


class SyncForce(base.ShowOne):
    """Push the higher metadata version to the other site."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        report = self.engine.sync_force(parsed_args.group)
        pairs = display.show_pairs("sync_force", report)
        self._text = display.sync_force_text(dict(pairs), self.client.site)
        return display.show_view(pairs)


class SyncLog(base.Lister):
    """The group's metadata sync history, newest first."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        parser.add_argument(
            "--limit",
            metavar="<n>",
            type=int,
            default=10,
            help="At most this many entries (default: 10)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        entries = self.engine.sync_log(parsed_args.group, limit=parsed_args.limit)
        return display.list_view("sync_log", entries)


# ---------------------------------------------------------------------------------- mappings


class SetMapping(base.Lister):
    """Store network, flavor and security group mappings for one direction of the group.

    The direction is FROM-SITE → the group's other site; every target must exist on that other
    site, or nothing is stored. A failover, failback or DR drill in that direction merges the
    mappings it is given over the stored ones; `openstack dr site failover` relies on them.
    Without --replace the given pairs are merged over the stored ones. Prints what is stored
    now for that direction."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        parser.add_argument(
            "--from-site",
            metavar="<site>",
            default=None,
            help="Source site of the direction; the target is the group's other site "
            "(default: the group's current primary site)",
        )
        options.add_mapping_options(
            parser,
            network_mapping="Network mapping <source>=<target> (name or id); repeat the option "
            "or give several pairs separated by spaces",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Replace the stored mappings of this direction with the given ones (alone: "
            "clear them)",
        )
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        given = options.mappings(parsed_args)
        if not options.has_mappings(given) and not parsed_args.replace:
            raise exceptions.CommandError(
                "no mapping given: add --network-mapping, --flavor-mapping or "
                "--security-group-mapping SOURCE=TARGET (or --replace alone to clear the stored "
                "mappings of the direction)"
            )
        stored = self.engine.set_mappings(
            parsed_args.group, from_site=parsed_args.from_site, replace=parsed_args.replace, **given
        )
        return display.list_view("mappings", [stored])


class ListMapping(base.Lister):
    """List the group's stored mappings: one row per direction, kind and source."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        return display.list_view("mappings", self.engine.mappings(parsed_args.group))


# ---------------------------------------------------------------------------------- operations


class Failover(base.ShowOne):
    """Fail the group over to its current secondary site.

    Planned (the default): both sites reachable; the VMs are stopped on the source site, a
    final snapshot is replicated, the volumes are imported on the target and the VMs boot there
    with the mapped networks and flavors: no data is lost. With --force (or --unplanned) the
    source site is taken as lost: the VMs are recovered from the last replicated snapshot (the
    data written since is lost, as printed); the engine refuses it while the source site and
    its array still answer and replication works. Without --wait the command prints the
    pending operation at once.
    """

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        options.add_mapping_options(parser)
        parser.add_argument(
            "--force",
            "--unplanned",
            dest="unplanned",
            action="store_true",
            help="Unplanned failover: the source site is lost; recover from the latest "
            "replicated snapshot. It never skips the pre-flight checks of a planned failover "
            "(see the plugin's README), and it is refused while the source site and its "
            "FlashArray answer and replication works",
        )
        options.add_wait_option(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        given = options.mappings(parsed_args)
        group, unplanned = parsed_args.group, parsed_args.unplanned
        return longrun.launch(
            self,
            parsed_args,
            lambda engine: engine.failover(group, unplanned=unplanned, **given),
        )


class Failback(base.ShowOne):
    """Return the workload to the group's original primary site.

    Run it from the site where the VMs run now. Without --wait the command prints the pending
    operation at once; with --wait it shows the progress and prints the final record."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _group_argument(parser)
        parser.add_argument(
            "--reverse-replication",
            action="store_true",
            help="After the failback, replicate again from the original primary site to the "
            "secondary (recommended; default: off, as in the spec)",
        )
        options.add_mapping_options(
            parser,
            network_mapping="Network mapping <active>=<primary> from the site where the VMs run "
            "now back to the original primary (name or id); repeat the option or give several "
            "pairs separated by spaces. Merged over the stored mappings (a given pair wins)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Skip the pre-flight checks that allow it (never the reachability of both "
            "sites): no final quiesce or snapshot before the VMs on the active site stop",
        )
        options.add_wait_option(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        given = options.mappings(parsed_args)
        group = parsed_args.group
        reverse, force = parsed_args.reverse_replication, parsed_args.force
        return longrun.launch(
            self,
            parsed_args,
            lambda engine: engine.failback(
                group, reverse_replication=reverse, force=force, **given
            ),
        )
