"""``zhiku add``, ``zhiku docs`` and ``zhiku rm``: documents in and out of a knowledge base."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from ..ingest import FileOutcome
from .common import kb_option, kb_or_default, open_app


@click.command()
@kb_option
@click.argument("paths", nargs=-1, required=True)
@click.option("--create", is_flag=True, help="Create the knowledge base if it does not exist.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; print only the summary and failures.")
@click.pass_context
def add(ctx: click.Context, kb_name: str | None, paths: tuple[str, ...], create: bool, quiet: bool) -> None:
    """Add files, folders (recursively) and globs to a knowledge base.

    Each file becomes a job in the store: files are parsed in worker processes (each under a time
    limit, ZHIKU_PARSE_TIMEOUT_S), keyword-searchable as soon as they are stored, and embedded in
    batches. Unchanged files (same path, same content hash) are skipped; changed files replace their
    old version. A file that cannot be read is reported with the reason and the rest go on; the exit
    code is 1 if any file failed. An interrupted run is resumed by the next one (or: zhiku jobs run).

    \b
    Examples:
      zhiku add --kb handbook ~/docs/handbook/
      zhiku add --kb handbook "reports/**/*.pdf" notes.md
    """
    with open_app(ctx) as app:
        name = kb_or_default(app, kb_name)
        if create or kb_name is None:
            app.ensure_kb(name)
        app.store.kb_id(name)  # fails here, before any work, when the knowledge base is missing
        skipped: list[Path] = []
        files = app.plan(paths, skipped)
        if skipped:
            click.echo(_skipped_note(skipped, app.parsers.supported_extensions()), err=True)
        if not files:
            click.echo("no supported files found in: " + " ".join(paths), err=True)
            sys.exit(1)
        progress = Progress(len(files), quiet)
        try:
            report = app.add_paths(name, files, on_file=progress.file, on_vectors=progress.vectors)
        except KeyboardInterrupt:
            progress.close()
            click.echo(
                "interrupted: the files indexed so far are kept; run the same command again, or "
                "`zhiku jobs run`, to finish the rest",
                err=True,
            )
            sys.exit(130)
        finally:
            progress.close()
        if report.resumed:
            click.echo(f"resumed {report.resumed} interrupted job(s) of an earlier run", err=True)
        click.echo(f"{name}: {report.summary()}")
        if report.embed_error:
            click.secho(f"warning: {report.embed_error}", fg="yellow", err=True)
        if report.warned:
            click.secho(f"{len(report.warned)} file(s) indexed with warnings:", fg="yellow", err=True)
            for outcome in report.warned:
                click.echo(f"  {outcome.reason}", err=True)
        if report.failed:
            click.secho(f"{len(report.failed)} file(s) failed:", fg="red", err=True)
            for outcome in report.failed:
                click.echo(f"  {outcome.reason}", err=True)
        if report.failed or report.embed_error:
            sys.exit(1)


def _skipped_note(skipped: list[Path], supported: Iterable[str]) -> str:
    """Which files of the folders given are left out, and what would be read."""
    names = ", ".join(p.name for p in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    hint = " (save .doc/.xls/.ppt as .docx/.xlsx/.pptx)" if any(p.suffix.lower() in _LEGACY for p in skipped) else ""
    return (
        f"skipped {len(skipped)} file(s) of a type zhiku does not read: {names}{hint}; "
        f"it reads {' '.join(sorted(supported))}"
    )


_LEGACY = {".doc", ".xls", ".ppt"}


class Progress:
    """Two tqdm bars on stderr: files (with counts, rate and ETA) and, below, vectors being filled."""

    def __init__(self, files: int, quiet: bool) -> None:
        # No bars where nobody watches them (stderr redirected to a log): their redraws are noise there.
        self.quiet = quiet or not sys.stderr.isatty()
        self.files = tqdm(
            total=files, unit="file", disable=self.quiet, file=sys.stderr, dynamic_ncols=True, desc="files"
        )
        self.vector_bar: Any = None  # tqdm, created when the first vectors are stored

    def file(self, outcome: FileOutcome) -> None:
        self.files.update(1)
        self.files.set_postfix_str(f"{outcome.status}: {outcome.path[-40:]}", refresh=False)
        if outcome.status == "failed" and not self.quiet:  # as they happen; the summary lists them again
            self.files.write(click.style(f"failed: {outcome.reason}", fg="red"), file=sys.stderr)

    def vectors(self, stored: int, pending: int) -> None:
        if self.quiet:
            return
        if self.vector_bar is None:
            self.vector_bar = tqdm(
                total=stored + pending, unit="chunk", file=sys.stderr, dynamic_ncols=True, desc="vectors", position=1
            )
        bar = self.vector_bar
        bar.total = max(bar.total or 0, bar.n + stored + pending)
        bar.update(stored)

    def close(self) -> None:
        self.files.close()
        if self.vector_bar is not None:
            self.vector_bar.close()


@click.command()
@kb_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def docs(ctx: click.Context, kb_name: str | None, as_json: bool) -> None:
    """List the documents of a knowledge base."""
    with open_app(ctx) as app:
        documents = app.list_documents(kb_or_default(app, kb_name))
        if as_json:
            click.echo(json.dumps([d.__dict__ for d in documents], ensure_ascii=False, indent=2))
            return
        for d in documents:
            click.echo(f"{d.id:>6}  {d.chunks:>5} chunks  {d.path}")


@click.command()
@kb_option
@click.argument("doc_ids", nargs=-1, type=int, required=True)
@click.pass_context
def rm(ctx: click.Context, kb_name: str | None, doc_ids: tuple[int, ...]) -> None:
    """Remove documents (by id, see ``zhiku docs``) with their chunks and vectors."""
    with open_app(ctx) as app:
        name = kb_or_default(app, kb_name)
        for doc_id in doc_ids:
            app.delete_document(name, doc_id)
            click.echo(f"removed document {doc_id}")
