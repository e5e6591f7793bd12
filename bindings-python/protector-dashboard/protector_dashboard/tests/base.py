"""The tests' base classes: Horizon's own test cases (a logged-in user, any unmocked HTTP
call fails the test) with helpers to read the Horizon messages a response carries."""

from __future__ import annotations

from unittest import mock

from openstack_dashboard.test import helpers
from protector import exceptions

from protector_dashboard.api import protector as api

MEMBER_ROLES = [{"id": "2", "name": "member"}, {"id": "3", "name": "reader"}]
SITE_ADMIN_ROLE = {"id": "9", "name": "dr_site_admin"}


def refusal(cls: type[exceptions.ProtectorError], message: str) -> exceptions.ProtectorError:
    """An engine error of class ``cls`` as the engine raises it (its kind set)."""
    kind = next(k for k, c in exceptions._BY_KIND.items() if c is cls)
    return cls(message, kind=kind)


def unmocked_engine(request):
    raise AssertionError("a test reached the engine: mock the api function it calls")


class MessagesMixin:
    def setUp(self):
        super().setUp()
        # Like Horizon's guard against unmocked HTTP calls: no test opens the real engine.
        mock.patch.object(api, "engine", side_effect=unmocked_engine).start()

    def messages(self, response) -> list[tuple[str, str]]:
        """``(level, text)`` of every Horizon message the response carries (rendered into
        the page or stored for the next one)."""
        storage = response.wsgi_request._messages
        found = list(storage._loaded_messages) + list(storage._queued_messages)
        return [(m.level_tag, str(m.message)) for m in found]

    def assertMessage(self, response, level: str, text: str) -> None:  # noqa: N802
        shown = self.messages(response)
        self.assertIn(text, [t for lvl, t in shown if lvl == level], shown)

    def assertNoMessage(self, response, level: str) -> None:  # noqa: N802
        shown = self.messages(response)
        self.assertEqual([t for lvl, t in shown if lvl == level], [], shown)


class TestCase(MessagesMixin, helpers.TestCase):
    """A project member (roles member, reader)."""


class AdminTestCase(MessagesMixin, helpers.BaseAdminViewTests):
    """An admin, without ``dr_site_admin`` unless :meth:`as_site_admin` is called."""

    def as_site_admin(self) -> None:
        self._setup_user(roles=[*MEMBER_ROLES, SITE_ADMIN_ROLE])
