"""The api module: the engine opened with the caller's Keystone token, the engine's exceptions
registered with Horizon, and calls passed through unchanged."""

from unittest import mock

import protector
from django.test import override_settings
from horizon import exceptions as horizon_exceptions
from protector import exceptions

from protector_dashboard.api import protector as api
from protector_dashboard.tests import records as r
from protector_dashboard.tests.base import TestCase

# The real function (the base class replaces api.engine with a guard in every test).
ENGINE = api.engine


class EngineTests(TestCase):
    def make_request(self):
        request = self.factory.get("/")
        request.user.services_region = "RegionTwo"
        return request

    @override_settings(
        PROTECTOR_SITE="site-a",
        PROTECTOR_STATE_DIR="/var/lib/protector",
        OPENSTACK_ENDPOINT_TYPE="internalURL",
        OPENSTACK_SSL_CACERT="/etc/ssl/ca.pem",
        OPENSTACK_SSL_NO_VERIFY=True,
    )
    @mock.patch.object(protector.Protector, "from_token")
    def test_the_engine_is_opened_with_the_callers_token(self, from_token):
        request = self.make_request()
        engine = ENGINE(request)
        from_token.assert_called_once_with(
            "site-a",
            token=self.token.id,
            auth_url=request.user.endpoint,
            project_id=self.tenant.id,
            catalog=list(self.service_catalog),
            region_name="RegionTwo",
            interface="internalURL",
            cacert="/etc/ssl/ca.pem",
            insecure=True,
            state_dir="/var/lib/protector",
        )
        self.assertIs(ENGINE(request), engine)  # once per request
        from_token.assert_called_once()

    @override_settings(PROTECTOR_SITE="site-a", PROTECTOR_STATE_DIR=None)
    @mock.patch.object(protector.Protector, "from_token")
    def test_the_state_dir_defaults_to_the_engines(self, from_token):
        ENGINE(self.make_request())
        self.assertIsNone(from_token.call_args.kwargs["state_dir"])

    @override_settings(PROTECTOR_SITE="")
    @mock.patch.object(protector.Protector, "from_token")
    def test_without_protector_site_the_engine_says_what_to_set(self, from_token):
        with self.assertRaises(exceptions.ConfigInvalidError) as raised:
            ENGINE(self.make_request())
        self.assertIn("PROTECTOR_SITE", str(raised.exception))
        self.assertEqual(raised.exception.kind, "config_invalid")
        from_token.assert_not_called()

    def test_every_call_matches_the_real_engines_signature(self):
        # An engine specced on the real protector.Protector: a wrong name, argument or
        # keyword raises TypeError, as the real engine would.
        engine = mock.create_autospec(protector.Protector, instance=True)
        api.engine.side_effect = None
        api.engine.return_value = engine
        req = self.make_request()
        calls = [
            (lambda: api.sites(req), "sites", (), {}),
            (lambda: api.site(req, "site-a"), "site", ("site-a",), {}),
            (lambda: api.validate_site(req, "site-a"), "validate_site", ("site-a",), {}),
            (lambda: api.volume_types(req, "site-a"), "volume_types", ("site-a",), {}),
            (lambda: api.group_overviews(req), "group_overviews", (), {}),
            (lambda: api.group_overview(req, "web"), "group_overview", ("web",), {}),
            (lambda: api.group(req, "web"), "group", ("web",), {}),
            (
                lambda: api.group_create(
                    req,
                    "web",
                    primary_site="site-a",
                    secondary_site="site-b",
                    volume_type="pure",
                    replication_type="sync",
                    description="d",
                ),
                "create_group",
                ("web",),
                {
                    "primary_site": "site-a",
                    "secondary_site": "site-b",
                    "volume_type": "pure",
                    "replication_type": "sync",
                    "description": "d",
                },
            ),
            (lambda: api.group_delete(req, "web"), "delete_group", ("web",), {}),
            (lambda: api.members(req, "web"), "members", ("web",), {}),
            (lambda: api.member_candidates(req, "web"), "member_candidates", ("web",), {}),
            (lambda: api.member_add(req, "web", "i-1"), "add_member", ("web", "i-1"), {}),
            (lambda: api.member_remove(req, "web", "m-1"), "remove_member", ("web", "m-1"), {}),
            (lambda: api.policy(req, "web"), "policy", ("web",), {}),
            (
                lambda: api.policy_create(
                    req,
                    "web",
                    pure_pg_name="pg",
                    primary_array_url="https://a",
                    primary_array_token="ta",
                    secondary_array_url="https://b",
                    secondary_array_token="tb",
                    primary_array_ca_file="/etc/pki/a.pem",
                    secondary_array_ca_file=None,
                    allow_insecure_http=False,
                    replication_interval=300,
                    rpo_minutes=15,
                ),
                "create_policy",
                ("web",),
                {
                    "pure_pg_name": "pg",
                    "primary_array_url": "https://a",
                    "primary_array_token": "ta",
                    "secondary_array_url": "https://b",
                    "secondary_array_token": "tb",
                    "primary_array_ca_file": "/etc/pki/a.pem",
                    "secondary_array_ca_file": None,
                    "allow_insecure_http": False,
                    "replication_interval": 300,
                    "rpo_minutes": 15,
                },
            ),
            (lambda: api.consistency_group(req, "web"), "consistency_group", ("web",), {}),
            (lambda: api.mappings(req, "web"), "mappings", ("web",), {}),
            (
                lambda: api.set_mappings(
                    req, "web", networks={"a": "b"}, flavors={}, security_groups={}, replace=True
                ),
                "set_mappings",
                ("web",),
                {"networks": {"a": "b"}, "flavors": {}, "security_groups": {}, "replace": True},
            ),
            (lambda: api.sync_status(req, "web"), "sync_status", ("web",), {}),
            (lambda: api.sync_force(req, "web"), "sync_force", ("web",), {}),
            (
                lambda: api.plan_failover(req, "web", unplanned=True),
                "plan_failover",
                ("web",),
                {"unplanned": True},
            ),
            (
                lambda: api.plan_failback(req, "web", reverse_replication=True, force=False),
                "plan_failback",
                ("web",),
                {"reverse_replication": True, "force": False},
            ),
            (
                lambda: api.failover(req, "web", unplanned=True),
                "failover",
                ("web",),
                {"unplanned": True},
            ),
            (
                lambda: api.failback(req, "web", reverse_replication=False, force=True),
                "failback",
                ("web",),
                {"reverse_replication": False, "force": True},
            ),
            (
                lambda: api.test_failover(req, "web", networks={"n": "iso"}),
                "test_failover",
                ("web",),
                {"networks": {"n": "iso"}, "flavors": None},
            ),
            (lambda: api.test_failover_cleanup(req, "web"), "test_failover_cleanup", ("web",), {}),
            (
                lambda: api.site_failover(req, "site-a", unplanned=False, concurrency=3),
                "site_failover",
                ("site-a",),
                {"unplanned": False, "concurrency": 3},
            ),
            (lambda: api.operations(req, group="g-1"), "operations", (), {"group": "g-1"}),
            (lambda: api.operation(req, "op-1"), "operation", ("op-1",), {}),
        ]
        for call, method, args, kwargs in calls:
            with self.subTest(method=method):
                result = call()
                getattr(engine, method).assert_called_once_with(*args, **kwargs)
                # Long operations hand back the engine's handle at once, never waiting.
                self.assertIs(result, getattr(engine, method).return_value)
        engine.wait_operation.assert_not_called()


class RegistrationTests(TestCase):
    def test_the_engines_exceptions_are_registered_with_horizon(self):
        self.assertIn(exceptions.NotFoundError, horizon_exceptions.NOT_FOUND)
        self.assertIn(exceptions.UnauthenticatedError, horizon_exceptions.UNAUTHORIZED)
        self.assertIn(exceptions.ProtectorError, horizon_exceptions.RECOVERABLE)

    def test_headings_and_rows_are_the_engines_views(self):
        self.assertEqual(api.columns("operations"), protector.views.columns("operations"))
        op = r.operation("x", r.group("web"))
        row = api.rows("operations", [op])[0]
        self.assertEqual(tuple(row.values()), protector.views.rows("operations", [op])[0])
        self.assertEqual(list(row), [k for k, _ in protector.views.columns("operations")])
