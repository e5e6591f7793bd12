"""The plugin module: what OSC reads from it, and ``make_client`` opening the engine with OSC's
own session (token, catalog, region, interface, TLS) on the site OSC selected."""

from __future__ import annotations

import argparse
from types import SimpleNamespace
from unittest import mock

import protector
import pytest
from osc_lib import exceptions

from protectorclient.osc import plugin

CATALOG = [
    {
        "type": "compute",
        "name": "nova",
        "endpoints": [
            {"interface": "public", "region": "RegionOne", "url": "http://nova.a/compute"}
        ],
    }
]


def client_manager(name="site-a", verify=True, **config):
    """What ``make_client`` reads from OSC's ClientManager."""
    return SimpleNamespace(
        _cli_options=SimpleNamespace(
            name=name, config={"auth": {"auth_url": "http://ks.a/v3"}, **config}
        ),
        auth_ref=SimpleNamespace(
            auth_token="gAAAA-token",
            project_id="p-1",
            service_catalog=SimpleNamespace(catalog=CATALOG),
        ),
        auth=SimpleNamespace(auth_url="http://ks.a:5000/v3"),
        region_name="RegionOne",
        interface="public",
        verify=verify,
    )


@pytest.fixture
def from_token(monkeypatch):
    opened = mock.Mock(name="engine")
    factory = mock.Mock(return_value=opened)
    monkeypatch.setattr(protector.Protector, "from_token", factory)
    monkeypatch.delenv("PROTECTOR_POLL_INTERVAL_MS", raising=False)
    return factory


def test_what_osc_reads():
    assert plugin.API_NAME == "protector"
    assert plugin.API_VERSION_OPTION == "os_protector_api_version"
    assert plugin.DEFAULT_API_VERSION in plugin.API_VERSIONS
    # `openstack dr ...` lives in the extension group openstack.protector.v1.dr.
    assert plugin.API_EXTENSIONS == ("dr",)


def test_make_client_reuses_the_osc_session_and_opens_the_engine_on_first_use(from_token):
    client = plugin.make_client(client_manager(verify="/etc/ssl/site-a-ca.pem"))
    from_token.assert_not_called()
    assert client.engine is from_token.return_value
    assert client.engine is from_token.return_value  # opened once
    from_token.assert_called_once_with(
        "site-a",
        token="gAAAA-token",
        auth_url="http://ks.a:5000/v3",
        project_id="p-1",
        catalog=CATALOG,
        region_name="RegionOne",
        interface="public",
        cacert="/etc/ssl/site-a-ca.pem",
        insecure=False,
        state_dir=None,
        poll_interval=None,
    )
    assert "gAAAA" not in repr(client)
    assert client.site == "site-a"


def test_plugin_options_reach_make_client(from_token, monkeypatch):
    monkeypatch.setenv("PROTECTOR_POLL_INTERVAL_MS", "20")
    client = plugin.make_client(
        client_manager(
            name="envvars", verify=False, protector_site="site-b", protector_state_dir="/tmp/dr"
        )
    )
    assert client.engine is from_token.return_value
    args, kwargs = from_token.call_args
    assert args == ("site-b",)
    assert kwargs["insecure"] is True and kwargs["cacert"] is None
    assert kwargs["state_dir"] == "/tmp/dr" and client.state_dir == "/tmp/dr"
    assert kwargs["poll_interval"] == 0.02


def test_legacy_interface_names(from_token):
    manager = client_manager()
    manager.interface = "internalURL"
    assert plugin.make_client(manager).engine is from_token.return_value
    assert from_token.call_args.kwargs["interface"] == "internal"


def test_credentials_from_os_variables_need_the_site_named(from_token):
    for name in ("envvars", "defaults"):
        with pytest.raises(exceptions.CommandError) as error:
            plugin.make_client(client_manager(name=name))
        assert "--protector-site SITE" in str(error.value)
    from_token.assert_not_called()


def test_no_token_no_client(from_token):
    manager = client_manager()
    manager.auth_ref = None
    with pytest.raises(exceptions.CommandError) as error:
        plugin.make_client(manager)
    assert "need a Keystone token" in str(error.value)


def test_auth_url_from_the_cloud_config_when_the_auth_plugin_has_none(from_token):
    manager = client_manager()
    manager.auth = SimpleNamespace()
    assert plugin.make_client(manager).engine is from_token.return_value
    assert from_token.call_args.kwargs["auth_url"] == "http://ks.a/v3"


def test_build_option_parser(monkeypatch):
    monkeypatch.setenv("PROTECTOR_STATE_DIR", "/var/lib/dr")
    monkeypatch.setenv("PROTECTOR_SITE", "site-b")
    parser = plugin.build_option_parser(argparse.ArgumentParser())
    parsed = parser.parse_args([])
    assert (parsed.protector_state_dir, parsed.protector_site) == ("/var/lib/dr", "site-b")
    parsed = parser.parse_args(
        [
            "--protector-state-dir",
            "/x",
            "--protector-site",
            "site-a",
            "--os-protector-api-version",
            "1",
        ]
    )
    assert (parsed.protector_state_dir, parsed.protector_site, parsed.os_protector_api_version) == (
        "/x",
        "site-a",
        "1",
    )


def test_state_dir_for_operation_logs_resolves_like_the_engine(monkeypatch, tmp_path):
    from protectorclient.client import ProtectorClient, resolve_state_dir

    monkeypatch.delenv("PROTECTOR_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert resolve_state_dir(None) == tmp_path / "protector"
    monkeypatch.setenv("PROTECTOR_STATE_DIR", "/srv/dr")
    assert str(resolve_state_dir(None)) == "/srv/dr"
    client = ProtectorClient("site-a", state_dir="/d", open_engine=lambda: None)
    assert str(client.operation_log("abc")) == "/d/operations/op-abc.log"
    assert str(client.operation_log("op-abc")) == "/d/operations/op-abc.log"
