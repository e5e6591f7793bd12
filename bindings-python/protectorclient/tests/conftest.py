"""The plugin's tests run against a fake `protector` module (tests/fakes/protector): the real
record types and exceptions, engine classes with the real stubs' signatures, a fake `views`."""

import sys
from pathlib import Path

FAKES = Path(__file__).resolve().parent / "fakes"
if str(FAKES) not in sys.path:
    sys.path.insert(0, str(FAKES))
