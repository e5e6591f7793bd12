"""The test base of the command tests: osc-lib's ``TestCommand`` with the plugin's client on a
mock engine (``mock.create_autospec`` of the stubs' ``Protector``)."""

from __future__ import annotations

import argparse
import io
import json
from typing import Any
from unittest import mock

import fixtures
import protector
from osc_lib.test import base

from protectorclient.client import ProtectorClient


class CommandTest(base.TestCommand):
    def setUp(self) -> None:
        super().setUp()
        self.engine = mock.create_autospec(protector.Protector, instance=True)
        self.state_dir = self.useFixture(fixtures.TempDir()).path
        self.client = ProtectorClient(
            "site-a", state_dir=self.state_dir, open_engine=lambda: self.engine
        )
        self.app.client_manager.protector = self.client
        self.app.stdout = io.StringIO()
        self.app.stderr = io.StringIO()

    def parse(self, cls: type, argv: list[str]) -> tuple[Any, argparse.Namespace]:
        command = cls(self.app, None)
        parser = command.get_parser(f"openstack {cls.__name__}")
        return command, parser.parse_args(argv)

    def run_command(self, cls: type, argv: list[str]) -> int:
        """Runs the command as OSC does (``run``: take_action, then the output)."""
        command, parsed = self.parse(cls, argv)
        return command.run(parsed)

    def run_json(self, cls: type, argv: list[str]) -> Any:
        """Runs the command with ``-f json`` and returns what it printed, parsed."""
        self.run_command(cls, [*argv, "-f", "json"])
        return json.loads(self.app.stdout.getvalue())

    @property
    def stdout(self) -> str:
        return self.app.stdout.getvalue()

    @property
    def stderr(self) -> str:
        return self.app.stderr.getvalue()
