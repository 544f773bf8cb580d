"""The job queue part of ``SQLiteStore``: jobs are rows, so they survive restarts and any process
sharing the file can see and run them.

Life of a job: ``queued`` -> ``running`` (claimed atomically by one runner, which records its pid and
heartbeats) -> ``done`` or ``failed``. The write that does a job's work finishes the job in the same
transaction (``JobDone``), so a crash can never leave a document written and its job still running,
or the other way round. A ``running`` job whose runner died is put back to ``queued`` by
``recover_jobs`` and simply runs again (every job is idempotent: documents are keyed).
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from .records import JOB_COLUMNS, Job, JobDone, JobKind, JobSpec, JobStatus, job_from_row, row_id
from .schema import new_ids


class JobsMixin:
    """Job queue methods; mixed into ``SQLiteStore`` (needs ``_db`` and ``_write``)."""

    if TYPE_CHECKING:

        @property
        def _db(self) -> sqlite3.Connection: ...
        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

        files_dir: Path

        def _remove_unreferenced(self, files: Iterable[str]) -> None: ...

    @staticmethod
    def new_batch() -> str:
        """An id grouping the jobs of one `zhiku add`, one upload or one sync (for progress)."""
        return uuid.uuid4().hex[:12]

    def enqueue_jobs(self, kb_id: int, specs: Sequence[JobSpec], batch: str = "") -> list[int]:
        """Queue jobs; returns their ids in order.

        A job identical to one already queued (same knowledge base, kind and key), or running on the
        same source, is not queued twice: its id is returned instead (and it joins ``batch``), so
        repeating a command after a crash does not duplicate work.
        """
        now = time.time()
        ids: list[int] = []
        replaced: list[str] = []
        with self._write() as db:
            if db.execute("SELECT 1 FROM kbs WHERE id = ?", (kb_id,)).fetchone() is None:
                raise NotFound(f"no knowledge base with id {kb_id}")
            for spec in specs:
                if spec.refused:
                    job_id = new_ids(db, "jobs")
                    db.execute(
                        "INSERT INTO jobs (id, kb_id, kind, key, source, batch, status, reason, result, created_at,"
                        " updated_at) VALUES (?, ?, ?, ?, '', ?, 'failed', ?, 'failed', ?, ?)",
                        (job_id, kb_id, spec.kind, spec.key, batch, spec.refused, now, now),
                    )
                    ids.append(job_id)
                    continue
                # A queued job takes the newest source; a running one is the same job only if it reads
                # the same file (an upload of new bytes while the old ones are parsed runs after it).
                row = db.execute(
                    "SELECT id, source, status FROM jobs WHERE kb_id = ? AND kind = ? AND key = ?"
                    " AND (status = 'queued' OR (status = 'running' AND source = ?)) ORDER BY id LIMIT 1",
                    (kb_id, spec.kind, spec.key, spec.source),
                ).fetchone()
                if row is not None:
                    if batch and row[2] == "queued":
                        db.execute("UPDATE jobs SET batch = ?, source = ? WHERE id = ?", (batch, spec.source, row[0]))
                        if row[1] != spec.source:
                            replaced.append(row[1])  # an upload queued twice: its first copy is read by nobody
                    ids.append(int(row[0]))
                    continue
                job_id = new_ids(db, "jobs")
                db.execute(
                    "INSERT INTO jobs (id, kb_id, kind, key, source, batch, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (job_id, kb_id, spec.kind, spec.key, spec.source, batch, now, now),
                )
                ids.append(job_id)
        self._remove_unreferenced(replaced)
        return ids

    def claim_job(
        self,
        worker_pid: int,
        *,
        kb_id: int | None = None,
        kinds: Sequence[JobKind] | None = None,
        exclude: Sequence[int] = (),
    ) -> Job | None:
        """Atomically take the oldest queued job (optionally of one knowledge base / kinds) and mark
        it running by ``worker_pid``; None when there is none."""
        # Never two jobs of one document at once: the later could finish first and be overwritten.
        where = [
            "status = 'queued'",
            "NOT EXISTS (SELECT 1 FROM jobs AS r WHERE r.status = 'running' AND r.kb_id = jobs.kb_id"
            " AND r.key = jobs.key)",
        ]
        params: list[Any] = []
        if kb_id is not None:
            where.append("kb_id = ?")
            params.append(kb_id)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        if exclude:
            where.append(f"id NOT IN ({','.join('?' * len(exclude))})")
            params.extend(exclude)
        select = f"SELECT id FROM jobs WHERE {' AND '.join(where)} ORDER BY id LIMIT 1"
        if self._db.execute(select, params).fetchone() is None:
            return None  # an idle runner polls often: no write lock just to find nothing
        now = time.time()
        with self._write() as db:
            row = db.execute(select, params).fetchone()  # again, under the lock: another runner may have won
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_pid = ?, heartbeat = ?,"
                " stage = '', progress = 0, reason = '', updated_at = ? WHERE id = ?",
                (worker_pid, now, now, row[0]),
            )
            job = db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (row[0],)).fetchone()
        return job_from_row(job)

    def update_job(self, job_id: int, *, stage: str | None = None, progress: float | None = None) -> None:
        """Record what a running job is doing (and that its runner is alive)."""
        now = time.time()
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET stage = coalesce(?, stage), progress = coalesce(?, progress), heartbeat = ?,"
                " updated_at = ? WHERE id = ? AND status = 'running'",
                (stage, progress, now, now, job_id),
            )

    def heartbeat_jobs(self, worker_pid: int) -> None:
        """Mark every job running in ``worker_pid`` as still alive."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET heartbeat = ? WHERE status = 'running' AND worker_pid = ?", (time.time(), worker_pid)
            )

    def finish_job(self, done: JobDone) -> None:
        """End a job that wrote nothing (unchanged file, failure, absent document)."""
        with self._write() as db:
            self._finish_job(db, done)

    def _finish_job(self, db: sqlite3.Connection, done: JobDone) -> None:
        now = time.time()
        db.execute(
            "UPDATE jobs SET status = ?, result = ?, reason = ?, chunks = ?, doc_id = ?, content_hash = ?,"
            " stage = '', progress = ?, heartbeat = ?, updated_at = ? WHERE id = ?",
            (
                "failed" if done.failed else "done",
                done.result,
                done.reason,
                done.chunks,
                done.doc_id,
                done.content_hash,
                0.0 if done.failed else 1.0,
                now,
                now,
                done.job_id,
            ),
        )

    def get_job(self, job_id: int) -> Job:
        row = self._db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (row_id(job_id),)).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id} (see: zhiku jobs)")
        return job_from_row(row)

    def get_jobs(self, job_ids: Sequence[int]) -> list[Job]:
        """Jobs by id (missing ones left out), in id order."""
        out: list[Job] = []
        ids = list(job_ids)
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            rows = self._db.execute(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN ({','.join('?' * len(batch))}) ORDER BY id", batch
            )
            out.extend(job_from_row(r) for r in rows)
        return out

    def list_jobs(
        self,
        *,
        kb_id: int | None = None,
        status: JobStatus | None = None,
        batch: str | None = None,
        updated_after: float | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first (or, with ``updated_after``, the ones changed since then, oldest change
        first: what a progress stream polls)."""
        where, params = _filters(kb_id, status, batch)
        order = "id DESC"
        if updated_after is not None:
            where.append("updated_at > ?")
            params.append(updated_after)
            order = "updated_at, id"
        sql = f"SELECT {JOB_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.execute(f"{sql} ORDER BY {order} LIMIT ?", [*params, limit])
        return [job_from_row(r) for r in rows]

    def job_counts(self, *, kb_id: int | None = None, batch: str | None = None) -> dict[str, int]:
        """Jobs per status: ``{"queued": n, "running": n, "done": n, "failed": n}``."""
        where, params = _filters(kb_id, None, batch)
        sql = "SELECT status, count(*) FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        counts = dict.fromkeys(("queued", "running", "done", "failed"), 0)
        for status, n in self._db.execute(sql + " GROUP BY status", params):
            counts[status] = int(n)
        return counts

    def retry_jobs(self, job_ids: Sequence[int] = (), *, kb_id: int | None = None, failed: bool = False) -> list[int]:
        """Queue failed jobs again: the given ids, or with ``failed=True`` every failed job (of
        ``kb_id``). Returns the ids re-queued. A job that is not failed is left alone."""
        now = time.time()
        with self._write() as db:
            if failed:
                where, params = _filters(kb_id, "failed", None)
                where.append(_RETRYABLE)
                ids = [int(r[0]) for r in db.execute("SELECT id FROM jobs WHERE " + " AND ".join(where), params)]
            else:
                ids = []
                for job_id in job_ids:
                    row = db.execute(
                        f"SELECT status = 'failed' AND {_RETRYABLE} FROM jobs WHERE id = ?", (row_id(job_id),)
                    ).fetchone()
                    if row is None:
                        raise NotFound(f"no job with id {job_id} (see: zhiku jobs)")
                    if row[0]:
                        ids.append(job_id)
            for job_id in ids:
                db.execute(
                    "UPDATE jobs SET status = 'queued', reason = '', result = '', stage = '', progress = 0,"
                    " worker_pid = NULL, updated_at = ? WHERE id = ?",
                    (now, job_id),
                )
        return ids

    def recover_jobs(self, alive: Callable[[int], bool], stale_after: float) -> list[int]:
        """Put back to ``queued`` the running jobs whose runner is gone: its pid is not alive, or it
        has not heartbeaten for ``stale_after`` seconds. Returns their ids."""
        running = "SELECT id, worker_pid, heartbeat FROM jobs WHERE status = 'running'"
        if not self._db.execute(running + " LIMIT 1").fetchone():
            return []
        now = time.time()
        with self._write() as db:
            rows = db.execute(running).fetchall()
            lost = [
                int(job_id)
                for job_id, pid, beat in rows
                if pid is None or not alive(int(pid)) or (beat or 0) < now - stale_after
            ]
            for job_id in lost:
                db.execute(
                    "UPDATE jobs SET status = 'queued', worker_pid = NULL, stage = '', updated_at = ? WHERE id = ?",
                    (now, job_id),
                )
        return lost

    def requeue_running(self, worker_pid: int) -> list[int]:
        """Put back to ``queued`` every job ``worker_pid`` is running (its runner failed; the process
        lives on, so ``recover_jobs`` would wait ``job_stale_s`` for them). Returns their ids."""
        with self._write() as db:
            ids = [
                int(r[0])
                for r in db.execute("SELECT id FROM jobs WHERE status = 'running' AND worker_pid = ?", (worker_pid,))
            ]
            db.execute(
                "UPDATE jobs SET status = 'queued', worker_pid = NULL, stage = '', updated_at = ?"
                " WHERE status = 'running' AND worker_pid = ?",
                (time.time(), worker_pid),
            )
        return ids

    def release_jobs(self, job_ids: Sequence[int], worker_pid: int) -> None:
        """Put jobs this process claimed but will not finish back to ``queued`` (a runner stopping)."""
        now = time.time()
        with self._write() as db:
            for job_id in job_ids:
                db.execute(
                    "UPDATE jobs SET status = 'queued', worker_pid = NULL, stage = '', updated_at = ?"
                    " WHERE id = ? AND status = 'running' AND worker_pid = ?",
                    (now, job_id, worker_pid),
                )

    def prune_jobs(self, before: float, *, kb_id: int | None = None) -> int:
        """Forget finished jobs last updated before ``before`` (a Unix time); returns how many.

        Done jobs go. A failed job of a file in a folder goes only once a newer job for the same
        document exists: the latest failure of a file is what ``zhiku jobs`` shows and what sync uses
        to skip a file whose bytes have not changed (``failed_keys``). A failed upload goes with its
        kept file (nothing but a retry could use it). Queued and running jobs are never touched.
        """
        where, params = _filters(kb_id, None, None)
        where.append("updated_at < ?")
        params.append(before)
        root = str(self.files_dir) + os.sep
        select = (
            "SELECT id, source FROM jobs AS j WHERE "
            + " AND ".join(where)
            + " AND (status = 'done' OR (status = 'failed' AND (substr(source, 1, ?) = ? OR (kind = 'add' AND"
            " source = '') OR EXISTS (SELECT 1 FROM jobs AS newer WHERE newer.kb_id = j.kb_id AND newer.key = j.key"
            " AND newer.kind = j.kind AND newer.id > j.id))))"
        )
        params += [len(root), root]
        if not self._db.execute(select + " LIMIT 1", params).fetchone():
            return 0  # the common case takes no write lock
        with self._write() as db:
            rows = db.execute(select, params).fetchall()
            db.executemany("DELETE FROM jobs WHERE id = ?", [(r[0],) for r in rows])
        self._remove_unreferenced(r[1] for r in rows)
        return len(rows)

    def failed_keys(self, kb_id: int) -> dict[str, str]:
        """``key -> content_hash`` of the add jobs whose latest attempt failed (sync skips a file that
        still has the same bytes, instead of failing it again on every run)."""
        rows = self._db.execute(
            "SELECT key, status, content_hash FROM jobs WHERE kb_id = ? AND kind = 'add' ORDER BY id", (kb_id,)
        )
        latest: dict[str, tuple[str, str]] = {}
        for key, status, content_hash in rows:
            latest[key] = (status, content_hash)
        return {k: h for k, (s, h) in latest.items() if s == "failed" and h}

    def iter_active_jobs(self, kb_id: int | None = None) -> Iterator[Job]:
        where, params = _filters(kb_id, None, None)
        where.append("status IN ('queued', 'running')")
        yield from (
            job_from_row(r)
            for r in self._db.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE {' AND '.join(where)} ORDER BY id", params)
        )


#: A job refused before it ran (an upload over the size limit) has no file to read again.
_RETRYABLE = "NOT (kind = 'add' AND source = '')"


def _filters(kb_id: int | None, status: str | None, batch: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if kb_id is not None:
        where.append("kb_id = ?")
        params.append(kb_id)
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if batch is not None:
        where.append("batch = ?")
        params.append(batch)
    return where, params
