"""Shared by the acceptance scripts: the check runner and the simulator's config files.

Every check prints one line, `PASS  suite: name` or `FAIL  suite: name: why`; the driver
(real-clients.sh) counts those lines. A check whose prerequisite failed fails too, saying which.
"""

import json
import os
import sys
import time
import traceback
from urllib.parse import urlsplit


class Failed(Exception):
    """A check's expectation did not hold."""


def expect(condition, message):
    if not condition:
        raise Failed(message)


class Checks:
    """Runs named checks, prints PASS/FAIL, and remembers the outcome."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = 0

    def run(self, name, fn, *needs):
        """Runs `fn()` and returns its value, or None when it failed or a prerequisite (a value
        among `needs`) is None."""
        missing = [i for i, value in enumerate(needs) if value is None]
        if missing:
            self._fail(name, "not run: an earlier check it depends on failed")
            return None
        try:
            value = fn()
        except Failed as e:
            self._fail(name, str(e))
            return None
        except Exception as e:  # a client error is a failed check, not a crash
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            self._fail(name, detail)
            if os.environ.get("ACCEPTANCE_DEBUG"):
                traceback.print_exc()
            return None
        self.passed += 1
        print(f"PASS  {self.suite}: {name}", flush=True)
        return True if value is None else value

    def _fail(self, name, why):
        self.failed += 1
        why = " ".join(why.split())
        if len(why) > 400:
            why = why[:400] + "..."
        print(f"FAIL  {self.suite}: {name}: {why}", flush=True)

    def exit(self):
        print(f"{self.suite}: {self.passed} passed, {self.failed} failed", file=sys.stderr)
        sys.exit(1 if self.failed else 0)


def sim_dir():
    """The directory `protector sim serve` writes its config files to (argv[1])."""
    if len(sys.argv) < 2:
        sys.exit(f"usage: {sys.argv[0]} SIM_DIR")
    return sys.argv[1]


def arrays(directory):
    """arrays.json: {"site-a": {"url", "api_token", "ca_file"}, "site-b": ...}."""
    with open(os.path.join(directory, "arrays.json")) as f:
        return json.load(f)


def array_client(entry):
    """An unmodified py-pure-client FlashArray client with verified TLS.

    `Client(ssl_cert=...)` is ignored by py-pure-client 1.96.0 (the transport reads only
    `ssl_ca_cert`), so the certificate goes through `Configuration(ssl_ca_cert=...)`.
    """
    from pypureclient import flasharray
    from pypureclient.configuration import Configuration

    url = urlsplit(entry["url"])
    expect(url.scheme == "https", f"array URL {entry['url']} is not https")
    return flasharray.Client(
        target=url.netloc,  # host:port, never a URL
        api_token=entry["api_token"],
        verify_ssl=True,
        configuration=Configuration(ssl_ca_cert=entry["ca_file"]),
        timeout=(5, 30),
        retries=1,
        user_agent="protector-acceptance/1",
    )


def items(response, what):
    """The items of a py-pure-client response, or Failed with the array's errors."""
    succeeded(response, what)
    return list(response.items or [])


def succeeded(response, what):
    """Fails unless a py-pure-client response is a success (for calls that return no items)."""
    from pypureclient.responses import ValidResponse

    if not isinstance(response, ValidResponse):
        errors = getattr(response, "errors", None) or []
        messages = "; ".join(f"{getattr(e, 'context', '')}: {getattr(e, 'message', e)}" for e in errors)
        raise Failed(f"{what}: HTTP {response.status_code}: {messages or response}")


def poll(what, fn, attempts=60, delay=0.25):
    """Calls `fn()` until it returns a true value. Each call to the simulator advances its
    clock, so a few attempts suffice; the delay only spares the CPU."""
    for _ in range(attempts):
        value = fn()
        if value:
            return value
        time.sleep(delay)
    raise Failed(f"{what}: still not there after {attempts} attempts")
