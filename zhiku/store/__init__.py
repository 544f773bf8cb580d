"""Storage backends. ``SQLiteStore`` is the embedded default; every backend satisfies
``zhiku.protocols.Store`` and passes the same contract tests."""

from .sqlite import SCHEMA_VERSION, SQLiteStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]
