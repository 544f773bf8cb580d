"""Folder sync: make a knowledge base hold exactly the supported files of a folder.

New files are added, changed ones re-indexed, deleted ones removed, and files indexed by another
pipeline (``ingest.PIPELINE_REVISION`` or chunk settings) parsed again. A file whose size and mtime are
what was indexed is not even read; one whose mtime moved is hashed by its add job and, if its bytes
are the same, only its mtime is updated. A file that failed keeps failing quietly: it is skipped
while its bytes are the ones that failed (``zhiku jobs retry`` tries it again). So a second sync of
an unchanged folder finds nothing to do.

A sync is itself a job (kind ``sync``): the folder scan queues the ``add``/``delete`` jobs in the same
transaction-safe queue, so a sync interrupted at any point is finished by the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ZhikuError
from .ingest import expand_paths, file_hash, stat_fingerprint
from .protocols import Store
from .store.records import Job, JobDone, JobSpec


@dataclass
class SyncPlan:
    """What a sync of ``folder`` would do."""

    folder: str
    new: list[str] = field(default_factory=list)  # keys (absolute paths)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failing: list[str] = field(default_factory=list)  # keys skipped: same bytes as when they failed
    stale: list[str] = field(default_factory=list)  # same file, indexed by another pipeline: parsed again

    @property
    def nothing_to_do(self) -> bool:
        return not (self.new or self.changed or self.removed or self.stale)

    def summary(self) -> str:
        if self.nothing_to_do:
            text = f"nothing to do ({self.unchanged} unchanged)"
        else:
            parts = [
                f"{len(self.new)} new",
                f"{len(self.changed)} changed",
                f"{len(self.removed)} removed",
                f"{self.unchanged} unchanged",
            ]
            if self.stale:
                parts.insert(
                    2,
                    f"{len(self.stale)} to parse again (indexed by another zhiku version, chunk size or synonyms file)",
                )
            text = ", ".join(parts)
        if self.failing:
            text += f"; {len(self.failing)} still failing (zhiku jobs retry --failed)"
        return text

    def specs(self) -> list[JobSpec]:
        adds = [JobSpec("add", key, key) for key in [*self.new, *self.changed, *self.stale]]
        return adds + [JobSpec("delete", key) for key in self.removed]

    def to_dict(self) -> dict[str, object]:
        return {
            "folder": self.folder,
            "new": self.new,
            "changed": self.changed,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "failing": self.failing,
            "stale": self.stale,
            "summary": self.summary(),
        }


@dataclass
class SyncResult:
    """What a sync did: the scan's summary and the jobs it queued (none for a dry run)."""

    summary: str
    jobs: list[Job]
    plan: SyncPlan | None = None  # a dry run's plan
    resumed: int = 0
    embed_error: str = ""

    @property
    def failed(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "failed"]

    def to_dict(self) -> dict[str, object]:
        return {
            "summary": self.summary,
            "dry_run": self.plan is not None,
            "plan": self.plan.to_dict() if self.plan else None,
            "jobs": [j.to_dict() for j in self.jobs],
            "failed": len(self.failed),
            "embed_error": self.embed_error,
        }


def plan_sync(
    store: Store,
    kb_id: int,
    folder: Path,
    extensions: Iterable[str],
    pipeline: str,
    *,
    hash_changed: bool = False,
) -> SyncPlan:
    """Compare ``folder`` with the knowledge base, whose documents are current when indexed by
    ``pipeline`` (``ingest.pipeline_id``). ``hash_changed`` hashes files whose size or mtime moved (a
    dry run's exact answer); without it they count as changed and their add job decides."""
    root = folder.expanduser().resolve()
    if not root.is_dir():
        raise ZhikuError(f"{folder}: not a folder (zhiku sync takes a folder; use zhiku add for files)")
    plan = SyncPlan(str(root))
    states = store.file_states(kb_id)
    failed = store.failed_keys(kb_id)
    seen: set[str] = set()
    prefix = str(root).rstrip(os.sep) + os.sep
    for path in expand_paths([root], extensions):
        key = str(path.resolve())
        if not key.startswith(prefix):
            # A link to a file outside the folder is the folder's file under the link's name: keyed
            # by its target it was never seen gone when the link was removed.
            key = str(path)
        seen.add(key)
        try:
            stat = path.stat()
        except OSError:
            continue  # vanished during the scan: the next sync sees it gone
        state = states.get(key)
        if state is None:
            if key in failed and _same_bytes(path, failed[key]):
                plan.failing.append(key)
            else:
                plan.new.append(key)
            continue
        content_hash, size, mtime, indexed_by = state
        same_stat = size == stat.st_size and mtime is not None and mtime == stat.st_mtime
        if not (same_stat or (hash_changed and _same_bytes(path, content_hash))):
            plan.changed.append(key)
        elif indexed_by != pipeline:
            plan.stale.append(key)
        else:
            plan.unchanged += 1
    plan.removed = sorted(k for k in states if k.startswith(prefix) and k not in seen)
    return plan


def _same_bytes(path: Path, content_hash: str) -> bool:
    try:
        if content_hash.startswith("stat:"):  # never read (too large): its size and mtime stand for it
            stat = path.stat()
            return stat_fingerprint(stat.st_size, stat.st_mtime_ns) == content_hash
        return file_hash(path) == content_hash
    except OSError:
        return False


def run_sync_job(store: Store, job: Job, extensions: Iterable[str], pipeline: str) -> None:
    """Do a ``sync`` job: scan its folder and queue the add/delete jobs (in the sync job's batch).

    The scan queues before it finishes the sync job; a crash in between leaves the sync job to run
    again, and queuing is idempotent (a job already queued for the same key is not queued twice).
    """
    store.update_job(job.id, stage="scanning", progress=0.1)
    plan = plan_sync(store, job.kb_id, Path(job.source or job.key), extensions, pipeline)
    if not plan.nothing_to_do:
        store.enqueue_jobs(job.kb_id, plan.specs(), job.batch)
    store.finish_job(JobDone(job.id, plan.summary()))
