"""The plugin's unit tests run on a fake `protector` (tests/fakes). Here, with the real
module installed, the fake's list columns are checked against the real `protector.views`, so
the unit tests cannot drift from what the plugin really prints."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

from protector import views

FAKES = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fakes"
DUMP = """
import json
from protector import views
print(json.dumps({kind: views.columns(kind) for kind in KINDS}))
"""


def test_the_fake_views_have_the_real_columns() -> None:
    kinds = sorted(views.LIST_KINDS)
    env = dict(os.environ, PYTHONPATH=str(FAKES))
    done = subprocess.run(
        [sys.executable, "-c", f"KINDS = {kinds!r}" + DUMP],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    fake = {kind: [tuple(c) for c in columns] for kind, columns in json.loads(done.stdout).items()}
    real = {kind: [tuple(c) for c in views.columns(kind)] for kind in kinds}
    assert fake == real
