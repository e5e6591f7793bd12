"""protector: disaster recovery for OpenStack, backed by the Rust engine."""

from ._protector import ProtectorError, __version__, engine_version

__all__ = ["ProtectorError", "__version__", "engine_version"]
