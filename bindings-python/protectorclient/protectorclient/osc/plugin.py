"""The OpenStackClient plugin module (entry point ``openstack.cli.extension``: ``protector``).

OSC imports this module on every run, for every command: it imports nothing heavy (the engine,
``protector``, is imported when a protector command first needs it).

Authentication is OSC's own: ``make_client`` takes the token, catalog, region, interface and
TLS settings of the session OSC opened for ``--os-cloud`` / ``OS_*`` and opens the engine with
``protector.Protector.from_token``. No second login happens and no password is kept; the peer
site's credentials come from its clouds.yaml entry (the engine reads it).
"""

from __future__ import annotations

import os
from typing import Any

from protectorclient.client import ProtectorClient

API_NAME = "protector"
API_VERSION_OPTION = "os_protector_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = ("1",)
# OSC loads the command group `openstack.protector.v1` and, for each extension, the group
# `openstack.protector.v1.<extension>`: `dr` holds the `openstack dr ...` commands.
API_EXTENSIONS = ("dr",)

# Cloud names openstack.config gives credentials that come from no clouds.yaml entry.
_UNNAMED_CLOUDS = ("envvars", "defaults")


def make_client(instance: Any) -> ProtectorClient:
    """The client of the protector commands, on the session of OSC's ClientManager
    ``instance`` (authenticating now if OSC has not yet)."""
    from osc_lib import exceptions

    options = instance._cli_options
    config = options.config
    site = _site(options)
    auth_ref = instance.auth_ref
    if auth_ref is None or not getattr(auth_ref, "auth_token", None):
        raise exceptions.CommandError(
            "protector commands need a Keystone token of the site you stand on: "
            "authenticate with --os-cloud SITE (or OS_* variables), not --os-auth-type none"
        )
    auth_url = getattr(getattr(instance, "auth", None), "auth_url", None) or (
        config.get("auth") or {}
    ).get("auth_url")
    if not auth_url:
        raise exceptions.CommandError(
            f"no Keystone URL for site '{site}': give --os-auth-url or the auth_url of its "
            "clouds.yaml entry"
        )
    catalog = getattr(getattr(auth_ref, "service_catalog", None), "catalog", None)
    verify = getattr(instance, "verify", True)
    state_dir = config.get("protector_state_dir") or None
    login = {
        "token": auth_ref.auth_token,
        "auth_url": auth_url,
        "project_id": getattr(auth_ref, "project_id", None),
        "catalog": list(catalog) if isinstance(catalog, list | tuple) else None,
        "region_name": instance.region_name or None,
        "interface": _interface(instance.interface),
        "cacert": verify if isinstance(verify, str) else None,
        "insecure": verify is False,
        "state_dir": state_dir,
        "poll_interval": _poll_interval(),
    }

    def open_engine() -> Any:
        try:
            import protector
        except ImportError as err:
            raise exceptions.CommandError(
                f"the protector engine cannot be imported ({err}): install it with "
                "`pip install protector-dr` next to python-protectorclient"
            ) from None
        return protector.Protector.from_token(site, **login)

    return ProtectorClient(site, state_dir=state_dir, open_engine=open_engine)


def build_option_parser(parser: Any) -> Any:
    """The plugin's global options."""
    parser.add_argument(
        "--os-protector-api-version",
        metavar="<protector-api-version>",
        default=os.environ.get("OS_PROTECTOR_API_VERSION"),
        help=f"Protector API version, default={DEFAULT_API_VERSION} "
        "(Env: OS_PROTECTOR_API_VERSION)",
    )
    parser.add_argument(
        "--protector-site",
        metavar="<site>",
        default=os.environ.get("PROTECTOR_SITE"),
        help="The registered protector site the OSC credentials belong to: the site you stand "
        "on (default: the --os-cloud name; needed when the credentials come from OS_* "
        "variables) (Env: PROTECTOR_SITE)",
    )
    parser.add_argument(
        "--protector-state-dir",
        metavar="<dir>",
        default=os.environ.get("PROTECTOR_STATE_DIR"),
        help="Directory with protector's local state: one metadata store per site, the key "
        "that encrypts FlashArray tokens, the logs of background operations (default: "
        "$XDG_DATA_HOME/protector or ~/.local/share/protector) (Env: PROTECTOR_STATE_DIR)",
    )
    return parser


def _site(options: Any) -> str:
    """The site the credentials stand on: ``--protector-site``, else the cloud's name."""
    from osc_lib import exceptions

    given = options.config.get("protector_site")
    if given:
        return str(given)
    name = getattr(options, "name", None)
    if name and name not in _UNNAMED_CLOUDS:
        return str(name)
    raise exceptions.CommandError(
        "the OSC credentials come from OS_* variables, not a clouds.yaml entry, so the site "
        "they stand on is unknown: name it with --protector-site SITE (or PROTECTOR_SITE, or "
        "OS_CLOUD_NAME), or use --os-cloud SITE"
    )


def _interface(interface: str | None) -> str | None:
    """``public``, ``internal`` or ``admin`` (also from the legacy ``publicURL`` forms)."""
    if not interface:
        return None
    return interface.removesuffix("URL")


def _poll_interval() -> float | None:
    """``PROTECTOR_POLL_INTERVAL_MS`` (as the CLI reads it) in seconds: a served simulator
    needs no patient polling."""
    value = os.environ.get("PROTECTOR_POLL_INTERVAL_MS", "").strip()
    if not value:
        return None
    try:
        ms = int(value)
    except ValueError:
        return None
    return ms / 1000 if ms > 0 else None
