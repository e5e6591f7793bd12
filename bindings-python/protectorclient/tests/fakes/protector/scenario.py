"""A scripted engine for the tests that run the real ``openstack`` command in a subprocess.

``PROTECTOR_FAKE_SCENARIO`` names a JSON file:

    {"record_to": "<file>",          # the constructor's arguments are written here (JSON)
     "groups": [{...}, ...],         # groups() returns these (record fields over defaults)
     "error": {"method": "groups", "class": "ConflictError", "message": "...", "hint": {...}},
     "operation_log": "<file>"}      # failover(): a handle; its run appends lines here

``PROTECTOR_FAKE_GATE_FD`` (an inherited pipe's read end) holds a handle's run until the test
writes a byte to the pipe.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import exceptions, records


def _scenario() -> dict[str, Any]:
    path = os.environ.get("PROTECTOR_FAKE_SCENARIO")
    if not path:
        raise NotImplementedError(
            "the fake protector module has no engine: use a scenario or a mock"
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def open_engine(how: str, arguments: dict[str, Any]) -> ScenarioEngine:
    scenario = _scenario()
    if scenario.get("record_to"):
        with open(scenario["record_to"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"how": how, "pid": os.getpid(), **arguments}, default=str) + "\n")
    return ScenarioEngine(scenario)


class ScenarioEngine:
    def __init__(self, scenario: dict[str, Any]) -> None:
        self.scenario = scenario

    def _fail_if_scripted(self, method: str) -> None:
        error = self.scenario.get("error")
        if error and error.get("method") == method:
            cls = getattr(exceptions, error.get("class", "ProtectorError"))
            raise cls(
                error["message"], kind=error.get("kind", "unexpected"), hint=error.get("hint")
            )

    def groups(self) -> list[Any]:
        self._fail_if_scripted("groups")
        return [records.group(**g) for g in self.scenario.get("groups", [])]

    def failover(self, group: str, **kwargs: Any) -> ScenarioHandle:
        self._fail_if_scripted("failover")
        return ScenarioHandle(self.scenario, group, kwargs)


class ScenarioHandle:
    def __init__(self, scenario: dict[str, Any], group: str, kwargs: dict[str, Any]) -> None:
        self.scenario = scenario
        self.group = group
        self.kwargs = kwargs
        self.id = records.OP_ID
        self.plan = None

    def status(self) -> Any:
        return records.operation(group_name=self.group, status="pending")

    def wait(self, timeout: float | None = None, on_progress: Any = None) -> Any:
        gate = os.environ.get("PROTECTOR_FAKE_GATE_FD")
        if gate:
            os.read(int(gate), 1)
        step = records.operation(
            group_name=self.group,
            progress=40,
            phase="storage",
            steps_completed=["validate_sites", "create_volumes_site_b"],
        )
        if on_progress is not None:
            on_progress(step)
        final = records.operation(
            group_name=self.group,
            status="completed",
            progress=100,
            phase="finalization",
            steps_completed=["validate_sites", "create_volumes_site_b", "finalize"],
        )
        log = self.scenario.get("operation_log")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"pid": os.getpid(), "group": self.group, **self.kwargs}) + "\n")
        return final
