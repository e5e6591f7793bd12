"""protector: disaster recovery for OpenStack on Pure Storage FlashArray, in Python.

``protector.Protector`` is the Rust engine in-process: every call has a blocking form that
releases the GIL and an ``_async`` twin returning an awaitable. Long operations (failover,
failback, drills, site failover) return an :class:`OperationHandle` at once. Results are
immutable records (``protector.types``); errors are subclasses of :class:`ProtectorError`
(``protector.exceptions``).

Create ``Protector`` objects in the process that uses them, not at import or settings time
of a server that forks: each process gets its own runtime on its first call.
"""

from . import types, views
from ._protector import (
    DEFAULT_SITE_FAILOVER_CONCURRENCY,
    OperationHandle,
    ProgressIterator,
    Protector,
    __version__,
    engine_version,
)
from .exceptions import (
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

__all__ = [
    "AlreadyExistsError",
    "ConfigInvalidError",
    "ConflictError",
    "DEFAULT_SITE_FAILOVER_CONCURRENCY",
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
    "__version__",
    "engine_version",
    "types",
    "views",
]
