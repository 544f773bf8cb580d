"""Ingestion jobs: a runner takes queued jobs from the store and does them.

* ``add``: the file is hashed, parsed and chunked in a worker process (``zhiku.worker``); here its
  keyword terms are computed and the document is written together with the job's completion, in
  one transaction. From that moment it is keyword-searchable.
* Dense vectors follow: between jobs the runner embeds the chunks still waiting for one, in batches,
  through the vector cache (text already embedded once is never embedded again).
* ``delete`` removes a document (and its attachments, tables, vectors, kept file) by key.
* ``sync`` compares a folder with the knowledge base and queues the ``add``/``delete`` jobs that make
  them agree (``zhiku.sync``).

Jobs live in the store, so they survive a crash: on start a runner puts back to ``queued`` the
``running`` jobs whose process is gone, and does them again (every job is idempotent).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from .embed import CachedEmbedder
from .errors import NotFound, ZhikuError
from .ingest import FileOutcome, Status, is_current, pipeline_id
from .protocols import Store
from .settings import Settings
from .store.records import DocumentWrite, Job, JobDone
from .text import Analyzer
from .worker import ParseOutcome, ParsePool, ParseTask

_log = logging.getLogger("zhiku.jobs")

HEARTBEAT_S = 5.0
JobCallback = Callable[[Job], None]
VectorCallback = Callable[[int, int], None]  # (stored now, still pending)


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists (on this machine: the store is a local file)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def outcome_of(job: Job) -> FileOutcome:
    """A finished add job as the per-file outcome ``zhiku add`` and uploads report."""
    if job.status == "done" and job.result in ("added", "updated", "unchanged"):
        # A done job's reason holds its warnings (formula cells without results, skipped attachments).
        return FileOutcome(job.key, cast(Status, job.result), job.chunks, job.reason, job.doc_id)
    return FileOutcome(job.key, "failed", 0, job.reason or f"{job.key}: not indexed (job {job.status})", job.doc_id)


@dataclass
class RunStats:
    """What one ``JobRunner.run`` did."""

    jobs: int = 0
    failed: int = 0
    vectors: int = 0
    recovered: list[int] = field(default_factory=list)
    embed_error: str = ""


class JobRunner:
    """Does queued jobs: parsing in ``pool``, terms and the store write here, then the vectors.

    One runner per thread; several runners (threads or processes) may share a store: claiming a
    job is atomic, so each job runs once at a time.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        analyzer: Analyzer,
        embedder: CachedEmbedder | None,
        pool: ParsePool,
        extensions: Collection[str] = (),
    ) -> None:
        self.store = store
        self.extensions = list(extensions)  # what a folder sync picks up
        self.settings = settings
        self.analyzer = analyzer
        self.embedder = embedder
        self.pool = pool
        self.pipeline = pipeline_id(settings.chunk_tokens, settings.chunk_overlap, analyzer.signature)
        self.pid = os.getpid()
        self._held: dict[int, tuple[Job, ParseTask]] = {}
        self._last_beat = 0.0
        self._last_recover = 0.0
        self._last_prune = 0.0

    # -- the loop --------------------------------------------------------------------------------

    def run(
        self,
        *,
        kb_id: int | None = None,
        until: Collection[int] | None = None,
        embed: bool = True,
        jobs: bool = True,
        follow: bool = False,
        stop: threading.Event | None = None,
        wake: threading.Event | None = None,
        on_job: JobCallback | None = None,
        on_vectors: VectorCallback | None = None,
    ) -> RunStats:
        """Do jobs (of ``kb_id``, or all) until there is nothing left to do (``jobs=False``: only
        embed the chunks waiting for vectors).

        ``until``: return once these jobs are finished (others of ``kb_id`` are done meanwhile too)
        and, with ``embed``, their knowledge base has every vector. ``follow``: never return by
        itself; wait for new jobs (``wake`` is set when one is queued) until ``stop`` is set.
        """
        stats = RunStats(recovered=self.recover())
        self.prune()
        waiting = set(until) if until is not None else None
        try:
            while not (stop is not None and stop.is_set()):
                if jobs:
                    self._claim(kb_id, stats, on_job)
                outcomes = self.pool.poll(0.02 if self._held else 0.0)
                for outcome in outcomes:
                    self._finish(outcome, stats, on_job)
                embedded = 0
                if embed and not outcomes and not stats.embed_error:
                    embedded = self._embed_step(kb_id, stats, on_vectors)
                self._beat()
                if self._held or outcomes or embedded:
                    continue
                if waiting is not None:
                    waiting = {j.id for j in self.store.get_jobs(list(waiting)) if not j.finished}
                    if not waiting and not self._pending(kb_id, embed, stats):
                        break
                    if waiting:  # queued ones are claimed above; running ones belong to another runner
                        time.sleep(0.1)
                        continue
                elif not follow and not (jobs and self._queued(kb_id)) and not self._pending(kb_id, embed, stats):
                    break
                elif not follow:
                    time.sleep(0.1)  # a queued job waits for another runner's job on the same document
                if follow:
                    if self.settings.worker_idle_s and self.pool.idle_for() > self.settings.worker_idle_s:
                        self.pool.shrink()
                    if wake is not None:
                        wake.wait(1.0)
                        wake.clear()
                    elif stop is not None:
                        stop.wait(1.0)
                    else:
                        time.sleep(1.0)
        finally:
            self._release()
        return stats

    def recover(self) -> list[int]:
        """Put back to ``queued`` the running jobs whose runner process is gone (or silent)."""
        self._last_recover = time.monotonic()
        return self.store.recover_jobs(pid_alive, self.settings.job_stale_s)

    def prune(self) -> None:
        """Forget finished jobs older than ``job_retention_days`` (the table would grow forever).
        Done when a run starts and then daily, not with every 30-second recovery check."""
        self._last_prune = time.monotonic()
        if self.settings.job_retention_days:
            self.store.prune_jobs(time.time() - self.settings.job_retention_days * 86400)

    def _queued(self, kb_id: int | None) -> bool:
        return bool(self.store.job_counts(kb_id=kb_id)["queued"])

    def _pending(self, kb_id: int | None, embed: bool, stats: RunStats) -> bool:
        if not embed or self.embedder is None or stats.embed_error:
            return False
        if kb_id is not None:
            return self.store.pending_count(kb_id) > 0
        return bool(self.store.kbs_with_pending_vectors())

    def _beat(self) -> None:
        now = time.monotonic()
        if self._held and now - self._last_beat >= HEARTBEAT_S:
            self._last_beat = now
            self.store.heartbeat_jobs(self.pid)
        if now - self._last_recover >= 30.0:  # another runner may have died meanwhile
            self.recover()
        if now - self._last_prune >= 86400.0:  # a server's runner runs for weeks
            self.prune()

    def _release(self) -> None:
        """Jobs this runner claimed but did not finish go back to the queue (stopped, or an error)."""
        if self._held:
            with contextlib.suppress(Exception):
                self.store.release_jobs(list(self._held), self.pid)
            self._held.clear()
            self.pool.close()  # kills workers still busy with the released jobs' files

    # -- claiming and finishing ------------------------------------------------------------------

    def _claim(self, kb_id: int | None, stats: RunStats, on_job: JobCallback | None) -> None:
        while self.pool.free_slots() > 0:
            job = self.store.claim_job(self.pid, kb_id=kb_id)
            if job is None:
                return
            if job.kind == "add":
                existing = self.store.find_document(job.kb_id, job.key)
                known = None if existing is None else existing.content_hash
                if existing is not None and not is_current(existing, self.pipeline):
                    known = ""  # indexed by another revision or chunk size: parse again, same bytes or not
                task = ParseTask(job.id, job.key, job.source or job.key, known)
                self._held[job.id] = (job, task)
                self.store.update_job(job.id, stage="parsing", progress=0.1)
                self.pool.submit(task)
            else:
                self._run_here(job, stats, on_job)

    def _run_here(self, job: Job, stats: RunStats, on_job: JobCallback | None) -> None:
        """Jobs done in this process: deletes and folder scans."""
        try:
            if job.kind == "delete":
                doc = self.store.find_document(job.kb_id, job.key)
                if doc is None:
                    self.store.finish_job(JobDone(job.id, "absent"))
                else:
                    self.store.delete_document(doc.id, job=JobDone(job.id, "removed", doc_id=doc.id))
            elif job.kind == "sync":
                from .sync import run_sync_job  # sync plans with ingest helpers; imported when needed

                run_sync_job(self.store, job, self.extensions, self.pipeline)
            else:
                raise ZhikuError(f"unknown job kind {job.kind!r}")
        except NotFound:
            pass  # the knowledge base was deleted meanwhile, and its jobs with it
        except ZhikuError as exc:
            self.store.finish_job(JobDone(job.id, "failed", str(exc), failed=True))
        self._report(job.id, stats, on_job)

    def _finish(self, outcome: ParseOutcome, stats: RunStats, on_job: JobCallback | None) -> None:
        held = self._held.get(outcome.job_id)
        if held is None:
            return
        job, task = held
        try:
            self._store_outcome(job, task, outcome)
        except NotFound:
            pass  # knowledge base deleted while the file was being parsed
        finally:
            self._held.pop(job.id, None)
        self._report(job.id, stats, on_job)

    def _store_outcome(self, job: Job, task: ParseTask, outcome: ParseOutcome) -> None:
        if outcome.status == "failed":
            self.store.finish_job(
                JobDone(job.id, "failed", outcome.reason, content_hash=outcome.content_hash, failed=True)
            )
            return
        if outcome.status == "unchanged":
            existing = self.store.find_document(job.kb_id, job.key)
            done = JobDone(
                job.id,
                "unchanged",
                chunks=existing.chunks if existing else 0,
                doc_id=existing.id if existing else None,
                content_hash=outcome.content_hash,
            )
            self.store.touch_document(job.kb_id, job.key, outcome.mtime, job=done)
            return
        self.store.update_job(job.id, stage="storing", progress=0.6)
        kept = self._kept(job)
        writes = []
        for doc in outcome.docs:
            terms = doc.terms if doc.terms is not None else [self.analyzer.terms(c.index_text) for c in doc.chunks]
            root = doc.parent_key is None
            writes.append(
                DocumentWrite(
                    doc.key,
                    doc.title,
                    doc.content_hash,
                    doc.chunks,
                    terms,
                    None,  # vectors follow in the background (or from the cache, a moment later)
                    mime=doc.mime,
                    size=doc.size,
                    metadata={**doc.metadata, "pipeline": self.pipeline},
                    tables=doc.tables,
                    stored_file=kept if root else "",
                    mtime=outcome.mtime if root else None,
                    parent_key=doc.parent_key,
                )
            )
        done = JobDone(
            job.id,
            "updated" if task.known_hash is not None else "added",
            "; ".join(outcome.warnings),
            chunks=sum(len(d.chunks) for d in outcome.docs),
            content_hash=outcome.content_hash,
        )
        self.store.write_documents(job.kb_id, writes, job=done)

    def _kept(self, job: Job) -> str:
        """The job's source when it is a file zhiku keeps (an upload), so it is deleted with the document."""
        if not job.source:
            return ""
        try:
            Path(job.source).resolve().relative_to(self.store.kb_files_dir(job.kb_id).resolve())
        except ValueError:
            return ""
        return job.source

    def _report(self, job_id: int, stats: RunStats, on_job: JobCallback | None) -> None:
        try:
            job = self.store.get_job(job_id)
        except NotFound:
            return
        stats.jobs += 1
        stats.failed += job.status == "failed"
        if on_job is not None:
            on_job(job)

    # -- background embedding --------------------------------------------------------------------

    def _embed_step(self, kb_id: int | None, stats: RunStats, on_vectors: VectorCallback | None) -> int:
        """Embed one batch of chunks that wait for vectors; returns how many were taken."""
        if self.embedder is None:
            return 0
        kbs = [kb_id] if kb_id is not None else self.store.kbs_with_pending_vectors()
        for kb in kbs:
            items = self.store.pending_vectors(kb, self.settings.vector_batch)
            if not items:
                continue
            try:
                vectors = self.embedder.embed_passages([text for _, text in items])
            except Exception as exc:  # a remote embedder down, a model error: keep the jobs going
                stats.embed_error = (
                    f"embedding failed ({type(exc).__name__}: {exc}); the documents are "
                    "keyword-searchable and their vectors will be filled in by the next run"
                )
                return 0
            stored = self.store.put_vectors(
                [(cid, text, vectors[i]) for i, (cid, text) in enumerate(items)], self.embedder.name
            )
            stats.vectors += stored
            if on_vectors is not None:
                on_vectors(stored, self.store.pending_count(kb))
            return len(items)
        return 0


class BackgroundRunner:
    """A thread that does every queued job and embeds every pending chunk, for the server.

    ``notify()`` wakes it when a job is queued; other processes' jobs are picked up within a second.
    """

    def __init__(self, make_runner: Callable[[], JobRunner], store: Store | None = None) -> None:
        self._make_runner = make_runner
        self._store = store
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        #: Why the runner stopped, while it has not run again (a full disk, a store gone): callers
        #: waiting for jobs tell their client instead of waiting for ever.
        self.failure: Exception | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="zhiku-jobs", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def notify(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            runner: JobRunner | None = None
            try:
                runner = self._make_runner()
                self._requeue_own()  # jobs a runner of this process held when it failed: nobody runs them
                self.failure = None
                runner.run(follow=True, stop=self._stop, wake=self._wake)
            except Exception as exc:  # keep serving; retry after a pause
                self.failure = exc
                _log.error(
                    "the job runner stopped (%s: %s); trying again in 5 s", type(exc).__name__, exc, exc_info=exc
                )
                self._stop.wait(5.0)
            finally:
                if runner is not None:
                    with contextlib.suppress(Exception):
                        runner.pool.close()  # no parser process outlives the runner

    def _requeue_own(self) -> None:
        if self._store is not None:
            self._store.requeue_running(os.getpid())

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
