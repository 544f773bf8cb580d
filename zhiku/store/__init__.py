"""Storage backends. ``SQLiteStore`` is the embedded default; every backend satisfies
``zhiku.protocols.Store`` and passes the same contract tests."""

from .records import DocumentWrite, Job, JobDone, JobSpec, TableRecord
from .schema import SCHEMA_VERSION
from .sqlite import SQLiteStore

__all__ = ["SCHEMA_VERSION", "DocumentWrite", "Job", "JobDone", "JobSpec", "SQLiteStore", "TableRecord"]
