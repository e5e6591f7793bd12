"""The exceptions of protector: one base class, one subclass per error kind.

Every error the engine reports is a :class:`ProtectorError` carrying the error's ``kind`` (its
stable name, such as ``"not_found"``), ``retry`` (``"permanent"``, ``"temporary"`` or
``"persistent"``), the ``resource`` it is about, the ``operation_id`` it concerns, the
structured ``hint`` (what to do next, as a dict with an ``action`` key), ``context`` and
``findings``. Where a builtin exception fits, the class derives from it too, so that
``except LookupError`` or ``except ValueError`` work as expected.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "ProtectorError",
    "NotFoundError",
    "AlreadyExistsError",
    "ConflictError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "InvalidInputError",
    "ValidationFailedError",
    "UnsupportedError",
    "RateLimitedError",
    "UnavailableError",
    "TimeoutError",
    "OutOfSyncError",
    "ConfigInvalidError",
    "error_class",
]


class ProtectorError(Exception):
    """Base class of every error raised by protector (kind ``unexpected`` itself)."""

    kind: str
    retry: str
    resource: str | None
    operation_id: str | None
    hint: dict[str, Any] | None
    context: dict[str, str]
    findings: list[str]

    def __init__(
        self,
        message: str,
        *,
        kind: str = "unexpected",
        retry: str = "permanent",
        resource: str | None = None,
        operation_id: str | None = None,
        hint: dict[str, Any] | None = None,
        context: dict[str, str] | None = None,
        findings: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retry = retry
        self.resource = resource
        self.operation_id = operation_id
        self.hint = hint
        self.context = dict(context or {})
        self.findings = list(findings or [])

    @property
    def is_retryable(self) -> bool:
        """Whether trying the same call again may succeed."""
        return self.retry == "temporary"


class NotFoundError(ProtectorError, LookupError):
    """The resource does not exist (or is not the caller's)."""


class AlreadyExistsError(ProtectorError):
    """A resource with that name or id already exists."""


class ConflictError(ProtectorError):
    """The request conflicts with the resource's state (status, a running operation)."""


class PermissionDeniedError(ProtectorError, PermissionError):
    """The credentials are valid but lack a right (policy, role)."""


class UnauthenticatedError(ProtectorError):
    """The credentials were refused."""


class InvalidInputError(ProtectorError, ValueError):
    """The request itself is wrong: a bad argument or combination."""


class ValidationFailedError(ProtectorError, ValueError):
    """A pre-flight validation failed; ``findings`` lists every finding."""


class UnsupportedError(ProtectorError):
    """The backend cannot do this."""


class RateLimitedError(ProtectorError):
    """The service asked to slow down."""


class UnavailableError(ProtectorError):
    """A service or site cannot be reached or failed."""


class TimeoutError(ProtectorError, builtins.TimeoutError):
    """A call or a wait did not finish in time."""


class OutOfSyncError(ProtectorError):
    """Protection-group metadata differs between the two sites."""


class ConfigInvalidError(ProtectorError, ValueError):
    """Local configuration is missing or wrong (clouds.yaml, state directory, keys)."""


_BY_KIND: dict[str, type[ProtectorError]] = {
    "not_found": NotFoundError,
    "already_exists": AlreadyExistsError,
    "conflict": ConflictError,
    "permission_denied": PermissionDeniedError,
    "unauthenticated": UnauthenticatedError,
    "invalid_input": InvalidInputError,
    "validation_failed": ValidationFailedError,
    "unsupported": UnsupportedError,
    "rate_limited": RateLimitedError,
    "unavailable": UnavailableError,
    "timeout": TimeoutError,
    "out_of_sync": OutOfSyncError,
    "config_invalid": ConfigInvalidError,
    "unexpected": ProtectorError,
}


def error_class(kind: str) -> type[ProtectorError]:
    """The exception class of error kind ``kind`` (``ProtectorError`` for unknown kinds)."""
    return _BY_KIND.get(kind, ProtectorError)
