"""Hooks from Python: added, listed and removed on both sites, refused with the right
exception, and run by a failover (a command writing its environment to a file)."""

from __future__ import annotations

import pathlib

import pytest

import protector
from protector.types import OperationStatus

from conftest import GROUP, Sim, protect


def test_hooks_are_synced_refused_and_run(sim: Sim, tmp_path: pathlib.Path) -> None:
    site_a = sim.engine("site-a")
    protect(sim, site_a)
    out = tmp_path / "env.txt"
    hook = site_a.add_hook(
        GROUP, "record", at="post-instances", on_failure="stop", timeout=30,
        command=["/bin/sh", "-c", 'echo "$PROTECTOR_OPERATION_ID" > "$1"', "sh", str(out)],
    )
    assert hook.name == "record" and hook.at == "post_instances"
    assert hook.action == {"type": "command", "argv": hook.action["argv"]}
    assert [h.name for h in sim.engine("site-b").hooks(GROUP)] == ["record"]
    assert site_a.sync_status(GROUP).in_sync

    with pytest.raises(protector.InvalidInputError, match="only http:// and https://"):
        site_a.add_hook(GROUP, "bad", at="pre-storage", url="ftp://example.invalid/x")
    with pytest.raises(protector.NotFoundError):
        site_a.remove_hook(GROUP, "nope")

    op = site_a.failover(GROUP).wait()
    assert op.status is OperationStatus.COMPLETED, op.error_message
    assert op.warnings == ()
    assert out.read_text() == f"{op.id}\n"
    assert site_a.remove_hook(GROUP, "record").name == "record"
    assert site_a.hooks(GROUP) == []
