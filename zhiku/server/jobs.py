"""Ingestion jobs and folder sync over HTTP: list, inspect, retry, stream progress (SSE), sync.

The progress stream polls the store (every half second), so it shows jobs of every process sharing
the store: the server's own background runner, a ``zhiku add`` running next to it, a sync.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from ..app import App
from ..errors import ZhikuError
from ..store.records import Job, JobSpec, JobStatus
from .common import INVALID_BODY, ApiError, ZhikuApp, sse
from .schemas import ErrorResponse, JobOut, RetryResponse, SyncBody, SyncResponse

router = APIRouter(
    prefix="/api", responses={404: {"model": ErrorResponse, "description": "Not found."}, **INVALID_BODY}
)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
POLL_S = 0.5
KEEPALIVE_S = 15.0


@router.get(
    "/jobs/events",
    tags=["jobs"],
    summary="Stream job progress (server-sent events)",
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
def job_events(
    zhiku: ZhikuApp,
    kb: str | None = Query(default=None, description="Only this knowledge base's jobs."),
    batch: str | None = Query(default=None, description="Only one upload's / sync's jobs; the stream then ends."),
) -> StreamingResponse:
    """``event: job`` with the job JSON whenever a job changes; ``event: progress`` with the counts
    ``{queued, running, done, failed, pending_vectors}`` whenever they change. With ``batch`` the
    stream ends with ``event: done`` once the batch's jobs are finished and its knowledge base has
    every vector; otherwise it runs until the client disconnects (a comment every 15 s keeps it open).
    """
    kb_id = zhiku.store.kb_id(kb) if kb is not None else None
    if batch is not None and not zhiku.store.list_jobs(kb_id=kb_id, batch=batch, limit=1):
        # Not "done": a mistyped or pruned batch looked finished, and a client waiting for "done"
        # before saying "your files are indexed" would say it of nothing.
        raise ApiError(404, f"no jobs in batch {batch!r}" + (f" of knowledge base {kb!r}" if kb else ""))
    return StreamingResponse(
        _events(zhiku, kb_id=kb_id, batch=batch, job_id=None), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.get("/jobs", tags=["jobs"], summary="List jobs", response_model=list[JobOut])
def list_jobs(
    zhiku: ZhikuApp,
    kb: str | None = Query(default=None, description="Only this knowledge base's jobs."),
    status: JobStatus | None = Query(default=None, description="queued, running, done or failed."),
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[dict[str, Any]]:
    """Newest first, with status, result, the reason of failures and the progress of running ones."""
    return [j.to_dict() for j in zhiku.list_jobs(kb, status, limit)]


@router.post("/jobs/retry", tags=["jobs"], summary="Retry every failed job", response_model=RetryResponse)
def retry_failed(zhiku: ZhikuApp, kb: str | None = Query(default=None)) -> RetryResponse:
    """Queue every failed job (of ``kb``) again; the background runner picks them up."""
    return RetryResponse(retried=zhiku.retry_jobs(kb=kb, failed=True))


@router.get("/jobs/{job_id}", tags=["jobs"], summary="Get a job", response_model=JobOut)
def get_job(job_id: int, zhiku: ZhikuApp) -> dict[str, Any]:
    return zhiku.store.get_job(job_id).to_dict()


@router.post("/jobs/{job_id}/retry", tags=["jobs"], summary="Retry a failed job", response_model=JobOut)
def retry_job(job_id: int, zhiku: ZhikuApp) -> dict[str, Any]:
    """Queue a failed job again (400 if it did not fail, or was refused before it ran)."""
    job = zhiku.store.get_job(job_id)
    if job.status != "failed":
        raise ApiError(400, f"job {job_id} is {job.status}, not failed: nothing to retry")
    if not zhiku.retry_jobs([job_id]):
        raise ApiError(400, f"job {job_id} was refused before it ran ({job.reason}): upload the file again")
    return zhiku.store.get_job(job_id).to_dict()


@router.get(
    "/jobs/{job_id}/events",
    tags=["jobs"],
    summary="Stream one job's progress (server-sent events)",
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
def one_job_events(job_id: int, zhiku: ZhikuApp) -> StreamingResponse:
    """``event: job`` each time the job changes, ``event: done`` when it is finished."""
    zhiku.store.get_job(job_id)  # 404 before the stream starts
    return StreamingResponse(
        _events(zhiku, kb_id=None, batch=None, job_id=job_id), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.post(
    "/kbs/{name}/sync",
    tags=["jobs"],
    summary="Sync a folder into a knowledge base",
    response_model=SyncResponse,
    responses={202: {"description": "With wait=false: the sync job was queued."}},
)
def sync_folder(name: str, body: SyncBody, zhiku: ZhikuApp) -> Any:
    """Add new files, re-index changed ones and remove deleted ones, so the knowledge base holds
    exactly the folder's supported files (``zhiku sync``). Idempotent: a second sync of an unchanged
    folder does nothing. ``dry_run`` reports the plan without changing anything; ``wait=false``
    queues the sync and returns 202 with its job (follow it on ``/api/jobs/events?batch=...``).
    """
    if body.dry_run or body.wait:
        return zhiku.sync(name, body.folder, dry_run=body.dry_run).to_dict()
    folder = Path(body.folder).expanduser().resolve()
    if not folder.is_dir():
        raise ZhikuError(f"{body.folder}: not a folder on the server")
    _, ids = zhiku.enqueue(name, [JobSpec("sync", str(folder), str(folder))])
    job = zhiku.store.get_job(ids[0])
    body_out = {"summary": "queued", "dry_run": False, "plan": None, "jobs": [job.to_dict()], "failed": 0}
    return JSONResponse(body_out, status_code=202)


async def _events(zhiku: App, *, kb_id: int | None, batch: str | None, job_id: int | None) -> AsyncIterator[str]:
    """Poll the store and turn changes into events (see ``job_events``). Asynchronous: a stream holds
    a worker thread only while it reads the store, not while it waits. As a plain generator each open
    stream kept one of the server's 40 threads, and about 40 dashboards froze every other request."""
    poll = _Poll(zhiku, kb_id=kb_id, batch=batch, job_id=job_id)
    last_output = time.monotonic()
    while True:
        out, finished = await anyio.to_thread.run_sync(poll.step)
        for event in out:
            yield event
        if out:
            last_output = time.monotonic()
        if finished:
            return
        if time.monotonic() - last_output > KEEPALIVE_S:
            last_output = time.monotonic()
            yield ": keep-alive\n\n"
        await anyio.sleep(POLL_S)


class _Poll:
    """One look at the store per ``step``: the events since the last one, and whether the stream ends."""

    def __init__(self, zhiku: App, *, kb_id: int | None, batch: str | None, job_id: int | None) -> None:
        self.zhiku, self.kb_id, self.batch, self.job_id = zhiku, kb_id, batch, job_id
        self.sent: dict[int, float] = {}
        self.since = 0.0
        self.last_progress: dict[str, int] | None = None

    def step(self) -> tuple[list[str], bool]:
        store = self.zhiku.store
        out: list[str] = []
        # Look back a little: a job changed by another process may commit a moment after its timestamp.
        if self.job_id is not None:
            changed = [store.get_job(self.job_id)]
        else:
            changed = store.list_jobs(kb_id=self.kb_id, batch=self.batch, updated_after=self.since - 2.0, limit=1000)
        for job in changed:
            if self.sent.get(job.id) != job.updated_at:
                self.sent[job.id] = job.updated_at
                self.since = max(self.since, job.updated_at)
                out.append(sse(job.to_dict(), "job"))
        if self.job_id is not None:
            if changed[0].finished:
                out.append(sse(changed[0].to_dict(), "done"))
                return out, True
            return out, False
        progress = _progress(self.zhiku, self.kb_id, self.batch)
        if progress != self.last_progress:
            self.last_progress = progress
            out.append(sse(progress, "progress"))
        if self.batch is not None and _batch_finished(progress):
            out.append(sse(progress, "done"))
            return out, True
        return out, False


def _progress(zhiku: App, kb_id: int | None, batch: str | None) -> dict[str, int]:
    store = zhiku.store
    counts = store.job_counts(kb_id=kb_id, batch=batch)
    if kb_id is not None:
        kbs = [kb_id]
    elif batch is not None:
        kbs = sorted({j.kb_id for j in store.list_jobs(batch=batch, limit=10_000)})
    else:
        kbs = store.kbs_with_pending_vectors()
    return {**counts, "pending_vectors": sum(store.pending_count(k) for k in kbs)}


def _batch_finished(progress: dict[str, int]) -> bool:
    return progress["queued"] == 0 and progress["running"] == 0 and progress["pending_vectors"] == 0


def job_result(job: Job) -> dict[str, Any]:
    """A job as one file's entry of an upload response."""
    status: str
    if job.status in ("queued", "running"):
        status = job.status
    else:
        status = job.result if job.status == "done" and job.result in ("added", "updated", "unchanged") else "failed"
    return {
        "path": job.key,
        "status": status,
        "chunks": job.chunks,
        "reason": job.reason if status in ("failed", "added", "updated") else "",
        "doc_id": job.doc_id,
        "job_id": job.id,
    }
