"""The engine's errors as OSC errors: ``osc_lib.exceptions.CommandError`` with the engine's
message and its hint worded as ``openstack`` commands (:mod:`protectorclient.osc.advice`).

OSC prints a ``CommandError`` as one line on stderr and exits 1. A validation's findings
follow on indented lines, as the Rust CLI prints them.
"""

from __future__ import annotations

from typing import Any

from osc_lib import exceptions

from protectorclient.osc.advice import advice


def is_engine_error(error: BaseException) -> bool:
    """Whether ``error`` is one of the engine's (``protector.ProtectorError``)."""
    try:
        from protector.exceptions import ProtectorError
    except ImportError:
        return False
    return isinstance(error, ProtectorError)


def command_error(error: Any) -> exceptions.CommandError:
    """The ``CommandError`` for the engine error ``error``."""
    return exceptions.CommandError(describe(error))


def describe(error: Any) -> str:
    """``error``'s message with its hint worded as ``openstack`` commands, its findings on
    indented lines and its request id; control characters escaped, so that each part stays
    one line."""
    message = str(getattr(error, "message", None) or error)
    findings = [str(f) for f in (getattr(error, "findings", None) or [])]
    request = (getattr(error, "context", None) or {}).get("request_id")
    worded = advice(getattr(error, "hint", None))
    head = _head(message, findings, request)
    if head is None:
        # Not in the shape the engine writes: show it as it is.
        return "\n".join(escape_controls(line) for line in message.split("\n"))
    if worded is not None:
        # The engine appended its neutral wording of the hint after the last ": " (that
        # wording has no ": " of its own); the plugin's wording replaces it.
        cut = head.rfind(": ")
        if cut > 0:
            head = head[:cut]
        head = f"{head}: {worded}"
    lines = [escape_controls(head)] + [f"  - {escape_controls(f)}" for f in findings]
    text = "\n".join(lines)
    if request:
        text += f" (request id {escape_controls(str(request))})"
    return text


def _head(message: str, findings: list[str], request: str | None) -> str | None:
    """The first part of an engine message (message and hint), without the findings and the
    request id the engine appends; ``None`` when ``message`` does not end with them."""
    text = message
    if request:
        suffix = f" (request id {request})"
        if not text.endswith(suffix):
            return None
        text = text[: -len(suffix)]
    for finding in reversed(findings):
        tail = f"\n  - {finding}"
        if not text.endswith(tail):
            return None
        text = text[: -len(tail)]
    return text


def escape_controls(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\u{1b}``): a name or a server's
    message cannot break a line or drive the terminal."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\u{{{code:x}}}")
        else:
            out.append(ch)
    return "".join(out)
