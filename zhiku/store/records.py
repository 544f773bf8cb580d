"""Plain records the store reads and writes besides the core types: document writes (with their
tables and attachments), structured tables and ingestion jobs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from ..types import Chunk, TableRecord

JobKind = Literal["add", "sync", "delete"]
JobStatus = Literal["queued", "running", "done", "failed"]
JOB_STATUSES: tuple[JobStatus, ...] = ("queued", "running", "done", "failed")


@dataclass
class DocumentWrite:
    """Everything stored for one document in one transaction.

    ``vectors`` may be None: the chunks are then keyword-searchable at once and wait for background
    embedding. ``parent_key`` marks an attachment: it is written in the same call as its parent and
    deleted with it.
    """

    key: str
    title: str
    content_hash: str
    chunks: Sequence[Chunk]
    chunk_terms: Sequence[Sequence[str]]
    vectors: np.ndarray | None = None
    model: str = ""
    mime: str = ""
    size: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    tables: Sequence[TableRecord] = ()
    stored_file: str = ""
    mtime: float | None = None
    parent_key: str | None = None


@dataclass
class JobSpec:
    """A job to enqueue."""

    kind: JobKind
    key: str
    source: str = ""
    #: Set for a job refused before it could run (an upload over the size limit, a duplicate name):
    #: it is recorded as failed with this reason, so it is reported like any other failure.
    refused: str = ""


@dataclass
class JobDone:
    """How a job ended; passed to the store write that did its work so both commit together."""

    job_id: int
    result: str
    reason: str = ""
    chunks: int = 0
    doc_id: int | None = None
    content_hash: str = ""
    failed: bool = False


@dataclass
class Job:
    """One unit of ingestion work recorded in the store (see docs/architecture.md, "Ingestion")."""

    id: int
    kb_id: int
    kind: JobKind
    key: str
    source: str
    status: JobStatus
    attempts: int = 0
    reason: str = ""
    result: str = ""
    chunks: int = 0
    doc_id: int | None = None
    content_hash: str = ""
    batch: str = ""
    stage: str = ""
    progress: float = 0.0
    worker_pid: int | None = None
    heartbeat: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


JOB_COLUMNS = (
    "id, kb_id, kind, key, source, status, attempts, reason, result, chunks, doc_id, content_hash, batch, "
    "stage, progress, worker_pid, heartbeat, created_at, updated_at"
)


def job_from_row(row: Sequence[Any]) -> Job:
    return Job(*row)


#: SQLite's largest row id; a bigger number cannot even be bound as a parameter (OverflowError).
MAX_ROW_ID = 2**63 - 1


def row_id(value: int) -> int:
    """``value`` as an id SQLite can look up: one that cannot exist becomes 0, which matches nothing
    (an id typed by a person, ``/api/jobs/99999999999999999999``, is then "not found", not a crash)."""
    return value if 0 < value <= MAX_ROW_ID else 0
