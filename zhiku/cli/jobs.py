"""``zhiku jobs`` (list, show, retry, run) and ``zhiku sync``."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

import click

from ..app import App
from ..store.records import JOB_STATUSES, Job
from ..sync import plan_sync
from .common import kb_option, kb_or_default, open_app
from .documents import Progress

_COLORS = {"queued": "cyan", "running": "yellow", "done": "green", "failed": "red"}


@click.group(invoke_without_command=True)
@click.option("--kb", "kb_name", metavar="NAME", default=None, help="Only this knowledge base's jobs.")
@click.option("--status", type=click.Choice(JOB_STATUSES), default=None, help="Only jobs with this status.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N jobs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def jobs(ctx: click.Context, kb_name: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Ingestion jobs: queued, running, done and failed (with the reason).

    Every file added (zhiku add, uploads) and every folder sync is a job recorded in the store, so
    an interrupted run is resumed: by the next zhiku add, by zhiku jobs run, or by a running server.

    \b
    Examples:
      zhiku jobs --status failed
      zhiku jobs retry --failed
      zhiku jobs run
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_app(ctx) as app:
        found = app.list_jobs(kb_name, status, limit)  # type: ignore[arg-type]
        if as_json:
            click.echo(json.dumps([j.to_dict() for j in found], ensure_ascii=False, indent=2))
            return
        names = {kb.id: kb.name for kb in app.list_kbs()}
        if not found:
            click.echo("no jobs" + (f" with status {status}" if status else ""))
        for job in reversed(found):
            click.echo(_line(job, names))
        _summary(app, kb_name)


def _line(job: Job, names: dict[int, str]) -> str:
    when = datetime.fromtimestamp(job.updated_at).strftime("%m-%d %H:%M:%S")
    status = click.style(f"{job.status:<7}", fg=_COLORS[job.status])
    detail = job.result or job.stage
    if job.status == "failed" or (job.reason and job.status == "done"):
        detail = f"{detail}: {job.reason}" if detail and detail != "failed" else job.reason
    if job.kind == "add" and job.status == "done" and job.result in ("added", "updated"):
        detail += f" ({job.chunks} chunks)"
    kb = names.get(job.kb_id, str(job.kb_id))
    return f"{job.id:>6}  {when}  {status} {job.kind:<6} {kb:<12} {job.key}  {detail}"


def _summary(app: App, kb_name: str | None) -> None:
    kb_id = app.store.kb_id(kb_name) if kb_name else None
    counts = app.store.job_counts(kb_id=kb_id)
    kbs = [kb_id] if kb_id is not None else app.store.kbs_with_pending_vectors()
    pending = sum(app.store.pending_count(k) for k in kbs)
    parts = [f"{n} {s}" for s, n in counts.items()]
    click.echo("jobs: " + ", ".join(parts) + f"; {pending} chunk(s) waiting for vectors", err=True)


@jobs.command("show")
@click.argument("job_id", type=int)
@click.pass_context
def show(ctx: click.Context, job_id: int) -> None:
    """Everything recorded about one job."""
    with open_app(ctx) as app:
        click.echo(json.dumps(app.store.get_job(job_id).to_dict(), ensure_ascii=False, indent=2))


@jobs.command("retry")
@click.argument("job_ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Retry every failed job.")
@kb_option
@click.option("--no-run", is_flag=True, help="Only queue them (a running server picks them up).")
@click.pass_context
def retry(ctx: click.Context, job_ids: tuple[int, ...], all_failed: bool, kb_name: str | None, no_run: bool) -> None:
    """Queue failed jobs again (by id, or all with --failed) and run them now."""
    if not job_ids and not all_failed:
        raise click.UsageError("give job ids or --failed")
    with open_app(ctx) as app:
        ids = app.retry_jobs(job_ids, kb=kb_name, failed=all_failed)
        if not ids:
            click.echo("no failed jobs to retry")
            return
        click.echo(f"queued again: {len(ids)} job(s)", err=True)
        if no_run:
            return
        failed = _run(app, ids)
        sys.exit(1 if failed else 0)


@jobs.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(min=0),
    default=None,
    metavar="DAYS",
    help="Age in days (default: the job_retention_days setting, 30).",
)
@kb_option
@click.pass_context
def prune(ctx: click.Context, days: float | None, kb_name: str | None) -> None:
    """Forget finished jobs older than DAYS.

    Done jobs go; a file's latest failure stays until a newer job for that file exists (sync uses it
    to skip a file that still fails); a failed upload goes with its kept copy. Queued and running
    jobs are never touched. Runners also do this on their own with the job_retention_days setting.
    """
    with open_app(ctx) as app:
        age = app.settings.job_retention_days if days is None else days
        removed = app.prune_jobs(age, kb=kb_name)
        click.echo(f"forgot {removed} finished job(s) older than {age:g} day(s)")


@jobs.command("run")
@kb_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def run(ctx: click.Context, kb_name: str | None, quiet: bool) -> None:
    """Do every queued job now (resuming interrupted ones) and fill in missing vectors."""
    with open_app(ctx) as app:
        kb_id = app.store.kb_id(kb_name) if kb_name else None
        queued = app.store.job_counts(kb_id=kb_id)["queued"] + app.store.job_counts(kb_id=kb_id)["running"]
        progress = Progress(queued, quiet)
        failed = 0

        def on_job(job: Job) -> None:
            nonlocal failed
            failed += job.status == "failed"
            progress.files.update(1)
            if job.status == "failed":
                progress.files.write(click.style(f"failed: {job.reason}", fg="red"), file=sys.stderr)

        try:
            stats = app.run_jobs(kb=kb_name, on_job=on_job, on_vectors=progress.vectors)
        finally:
            progress.close()
        if stats.recovered:
            click.echo(f"resumed {len(stats.recovered)} interrupted job(s)", err=True)
        click.echo(f"{stats.jobs} job(s) done, {failed} failed; {stats.vectors} vector(s) stored")
        if stats.embed_error:
            click.secho(f"warning: {stats.embed_error}", fg="yellow", err=True)
        sys.exit(1 if failed or stats.embed_error else 0)


def _run(app: App, ids: list[int]) -> int:
    progress = Progress(len(ids), False)
    failed = 0

    def on_job(job: Job) -> None:
        nonlocal failed
        if job.id in ids:
            progress.files.update(1)
            if job.status == "failed":
                failed += 1
                progress.files.write(click.style(f"failed: {job.reason}", fg="red"), file=sys.stderr)

    try:
        app.run_jobs(until=ids, on_job=on_job, on_vectors=progress.vectors)
    finally:
        progress.close()
    click.echo(f"{len(ids)} job(s) run, {failed} failed")
    return failed


@click.command()
@kb_option
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only show what would change.")
@click.option("--watch", is_flag=True, help="Keep running: sync again whenever the folder changes.")
@click.option("--interval", type=float, default=None, help="With --watch: seconds between looks (default 5).")
@click.option("--create", is_flag=True, help="Create the knowledge base if it does not exist.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (one JSON object per sync).")
@click.pass_context
def sync(
    ctx: click.Context,
    kb_name: str | None,
    folder: Path,
    dry_run: bool,
    watch: bool,
    interval: float | None,
    create: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Make a knowledge base hold exactly the supported files of FOLDER.

    New files are added, changed files re-indexed, deleted files removed (with their chunks,
    keyword entries, vectors and tables). Running it again on an unchanged folder does nothing.
    With --watch it looks at the folder's files (size and mtime) every few seconds and syncs
    whenever something changed; stop it with Ctrl-C or SIGTERM.

    \b
    Examples:
      zhiku sync --kb handbook ~/docs/handbook --dry-run
      zhiku sync --kb handbook ~/docs/handbook --watch
    """
    if watch and not dry_run:
        # A service manager stops it with SIGTERM (systemd, docker stop): the same clean stop as
        # Ctrl-C, at any moment from here on, inside a sync too (a job cut short is taken up again
        # by the next run).
        stop = threading.Event()

        def stop_watching(signum: int, frame: object) -> None:
            # Raised wherever the process is, like Ctrl-C; the flag also ends the loop should the
            # interrupt be swallowed on its way (an import it lands in can turn it into an ImportError).
            stop.set()
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop_watching)
        with contextlib.suppress(KeyboardInterrupt):
            _watch(ctx, kb_name, folder, interval, create, quiet, as_json, stop)
        click.echo("stopped watching", err=True)
        return
    with open_app(ctx) as app:
        name = _sync_kb(app, kb_name, create)
        if dry_run:
            result = app.sync(name, folder, dry_run=True)
            if as_json:
                click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
                return
            plan = result.plan
            assert plan is not None
            for label, keys in (("new", plan.new), ("changed", plan.changed), ("removed", plan.removed)):
                for key in keys:
                    click.echo(f"{label:<8} {key}")
            click.echo(f"{name}: would sync {plan.folder}: {plan.summary()}")
            return
        sys.exit(1 if _sync_once(app, name, folder, quiet, as_json) else 0)


def _sync_kb(app: App, kb_name: str | None, create: bool) -> str:
    """The knowledge base to sync into (created if asked, or if it is the default one)."""
    name = kb_or_default(app, kb_name)
    if create or kb_name is None:
        app.ensure_kb(name)
    app.store.kb_id(name)  # fails here, before any work, when the knowledge base is missing
    return name


def _watch(
    ctx: click.Context,
    kb_name: str | None,
    folder: Path,
    interval: float | None,
    create: bool,
    quiet: bool,
    as_json: bool,
    stop: threading.Event,
) -> None:
    """``sync --watch``: sync now, then again whenever the folder's files change, until interrupted
    (Ctrl-C) or ``stop`` is set (SIGTERM)."""
    with open_app(ctx) as app:
        name = _sync_kb(app, kb_name, create)
        _sync_once(app, name, folder, quiet, as_json)
        every = interval or app.settings.sync_interval_s
        click.echo(f"watching {folder} every {every:g} s (Ctrl-C to stop)", err=True)
        while not stop.wait(every):
            kb_id = app.store.kb_id(name)
            plan = plan_sync(app.store, kb_id, folder, app.parsers.supported_extensions(), app.pipeline)
            if not plan.nothing_to_do:
                _sync_once(app, name, folder, quiet, as_json)


def _sync_once(app: App, name: str, folder: Path, quiet: bool, as_json: bool) -> int:
    progress: Progress | None = None

    def on_job(job: Job) -> None:
        nonlocal progress
        if progress is None:
            total = app.store.job_counts(batch=job.batch)
            progress = Progress(sum(total.values()) - 1, quiet or as_json)  # minus the scan itself
        progress.files.update(1)
        progress.files.set_postfix_str(f"{job.kind} {job.result or job.status}: {job.key[-40:]}", refresh=False)
        if job.status == "failed":
            progress.files.write(click.style(f"failed: {job.reason}", fg="red"), file=sys.stderr)

    def on_vectors(stored: int, pending: int) -> None:
        if progress is not None:
            progress.vectors(stored, pending)

    try:
        result = app.sync(name, folder, on_job=on_job, on_vectors=on_vectors)
    finally:
        if progress is not None:
            progress.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        if result.resumed:
            click.echo(f"resumed {result.resumed} interrupted job(s)", err=True)
        done = {r: sum(1 for j in result.jobs if j.result == r) for r in ("added", "updated", "unchanged", "removed")}
        did = ", ".join(f"{n} {r}" for r, n in done.items() if n)
        click.echo(f"{name}: synced {folder}: {result.summary}" + (f" -> {did}" if did else ""))
        for job in result.failed:
            click.secho(f"  failed: {job.reason}", fg="red", err=True)
        if result.embed_error:
            click.secho(f"warning: {result.embed_error}", fg="yellow", err=True)
    return len(result.failed)
