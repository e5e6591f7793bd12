"""Options several commands share: the resource mappings, ``--wait`` and counts."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib import exceptions


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


# option, argparse dest, the engine's keyword, the word in messages
_MAPPINGS = (
    ("--network-mapping", "network_mapping", "networks", "network"),
    ("--flavor-mapping", "flavor_mapping", "flavors", "flavor"),
    ("--security-group-mapping", "security_group_mapping", "security_groups", "security group"),
)

_HELP = {
    "network": "Network mapping <source>=<target> (name or id); repeat the option or give "
    "several pairs separated by spaces. Merged over the mappings stored with "
    "`protection-group mapping-set` (a given pair wins)",
    "flavor": "Flavor mapping <source>=<target>; without one (given or stored) a VM keeps its "
    "flavor name",
    "security group": "Security group mapping <source>=<target>; without one (given or stored) "
    "groups are matched by name",
}


def add_mapping_options(parser: argparse.ArgumentParser, **help_overrides: str) -> None:
    """``--network-mapping``, ``--flavor-mapping``, ``--security-group-mapping``: each takes one
    or more ``SOURCE=TARGET`` pairs and may be repeated (spec/000: ``--network-mapping a=b
    c=d``)."""
    for option, dest, _, word in _MAPPINGS:
        parser.add_argument(
            option,
            metavar="<source>=<target>",
            dest=dest,
            nargs="+",
            action="append",
            default=[],
            help=help_overrides.get(dest, _HELP[word]),
        )


def mappings(parsed_args: argparse.Namespace) -> dict[str, dict[str, str]]:
    """The mapping options as the engine's keywords (``networks``, ``flavors``,
    ``security_groups``), each a dict source → target; bad pairs are refused here."""
    return {
        keyword: parse_pairs(word, getattr(parsed_args, dest, None) or [])
        for _, dest, keyword, word in _MAPPINGS
    }


def has_mappings(given: dict[str, dict[str, str]]) -> bool:
    """Whether ``given`` maps anything."""
    return any(given.values())


def parse_pairs(what: str, values: list[Any]) -> dict[str, str]:
    """``SOURCE=TARGET`` pairs (several per value, separated by spaces) as a dict; the engine's
    rules and words (``ResourceMappings::parse_pairs``)."""
    pairs: dict[str, str] = {}
    for value in _flatten(values):
        for item in str(value).split():
            source, sep, target = item.partition("=")
            if not sep:
                raise exceptions.CommandError(
                    f"{what} mapping '{item}' is not SOURCE=TARGET: write it as <source>=<target>"
                )
            if not source or not target:
                raise exceptions.CommandError(
                    f"{what} mapping '{item}' has an empty side: write it as <source>=<target>"
                )
            previous = pairs.setdefault(source, target)
            if previous != target:
                raise exceptions.CommandError(
                    f"{what} '{source}' is mapped twice ({previous} and {target}): give one target"
                )
    return pairs


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, list | tuple):
            out.extend(_flatten(list(value)))
        else:
            out.append(value)
    return out


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    """``--wait``: run in the foreground with live progress on stderr."""
    parser.add_argument(
        "--wait",
        action="store_true",
        help="Block until the operation ends, showing its progress on stderr, then print the "
        "final record (non-zero exit when it ended failed or partial). Without it the operation "
        "runs in the background and the command prints its id at once",
    )
