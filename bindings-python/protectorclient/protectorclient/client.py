"""The client the plugin hands to its commands: the engine standing on one site, opened on
first use, and the way to open it again in another process."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


class ProtectorClient:
    """The ``protector.Protector`` engine standing on ``site``, opened on first use.

    ``open_engine`` opens a new engine each time it is called; it holds the Keystone token
    OSC obtained, in memory only. A background run (a forked process) calls :meth:`reopen`:
    an engine must not be shared across a fork.
    """

    def __init__(
        self,
        site: str,
        *,
        state_dir: str | None,
        open_engine: Callable[[], Any],
    ) -> None:
        self.site = site
        self.state_dir = state_dir
        self._open_engine = open_engine
        self._engine: Any = None

    def __repr__(self) -> str:
        # Never the token: only what the operator chose.
        return f"<ProtectorClient site={self.site!r} state_dir={self.state_dir!r}>"

    @property
    def engine(self) -> Any:
        """The engine, opened on first use."""
        if self._engine is None:
            self._engine = self._open_engine()
        return self._engine

    def reopen(self) -> Any:
        """A new engine (for a forked process), which this client then holds."""
        self._engine = self._open_engine()
        return self._engine

    def state_path(self) -> Path:
        """The state directory as the engine resolves it: the option, else
        ``$PROTECTOR_STATE_DIR``, else ``$XDG_DATA_HOME/protector``, else
        ``~/.local/share/protector``."""
        return resolve_state_dir(self.state_dir)

    def operation_log(self, operation_id: str) -> Path:
        """Where the background run of an operation writes its output (the CLI's place:
        ``<state dir>/operations/op-<uuid>.log``)."""
        return self.state_path() / "operations" / f"{operation_ref(operation_id)}.log"


def resolve_state_dir(given: str | None) -> Path:
    """The state directory: ``given``, else the engine's default."""
    if given:
        return Path(given)
    for variable, suffix in (
        ("PROTECTOR_STATE_DIR", ""),
        ("XDG_DATA_HOME", "protector"),
        ("HOME", ".local/share/protector"),
    ):
        value = os.environ.get(variable)
        if value:
            return Path(value) / suffix if suffix else Path(value)
    return Path.cwd() / "protector"


def operation_ref(operation_id: str) -> str:
    """An operation id as displayed and accepted everywhere: ``op-<uuid>``."""
    return operation_id if operation_id.startswith("op-") else f"op-{operation_id}"
