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

    def test_long_operations_return_the_handle_at_once(self):
        engine = mock.Mock()
        api.engine.side_effect = None
        api.engine.return_value = engine
        request = self.make_request()
        handle = api.failover(request, "web", unplanned=True)
        engine.failover.assert_called_once_with("web", unplanned=True)
        self.assertIs(handle, engine.failover.return_value)
        api.failback(request, "web", reverse_replication=False, force=True)
        engine.failback.assert_called_once_with("web", reverse_replication=False, force=True)
        api.site_failover(request, "site-a", unplanned=False, concurrency=3)
        engine.site_failover.assert_called_once_with("site-a", unplanned=False, concurrency=3)
        api.test_failover_cleanup(request, "web")
        engine.test_failover_cleanup.assert_called_once_with("web")
        engine.wait.assert_not_called()


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
