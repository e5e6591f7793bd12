"""A stand-in for the ``protector`` module in the plugin's tests (no Rust build needed).

It is the real module's pure-Python half (``types.py`` and ``exceptions.py`` of
bindings-python/python/protector, found through this package's ``__path__``), an engine class
whose methods have exactly the signatures of the real stubs (``_protector.pyi``: see
``_stub``) but no engine behind them, and a fake ``views`` with the real contract.
"""

from pathlib import Path

# This directory first (the fake `views`, `_stub`), then the real package's sources.
REAL_PACKAGE = Path(__file__).resolve().parents[4] / "python" / "protector"
__path__.append(str(REAL_PACKAGE))  # noqa: F821 (the package's own __path__)

from . import exceptions, types, views  # noqa: E402
from ._stub import OperationHandle, ProgressIterator, Protector  # noqa: E402
from .exceptions import (  # noqa: E402
    AlreadyExistsError,
    ConfigInvalidError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OutOfSyncError,
    PermissionDeniedError,
    ProtectorError,
    RateLimitedError,
    TimeoutError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
    ValidationFailedError,
)

__version__ = "0.0.0-fake"

__all__ = [
    "AlreadyExistsError",
    "ConfigInvalidError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "OperationHandle",
    "OutOfSyncError",
    "PermissionDeniedError",
    "ProgressIterator",
    "Protector",
    "ProtectorError",
    "RateLimitedError",
    "TimeoutError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnsupportedError",
    "ValidationFailedError",
    "exceptions",
    "types",
    "views",
]
