"""``zhiku add``, ``zhiku docs`` and ``zhiku rm``: documents in and out of a knowledge base."""

from __future__ import annotations

import json
import sys

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

    Unchanged files (same path, same content hash) are skipped; changed files replace their old
    version. A file that cannot be read is reported with the reason and the rest go on; the exit
    code is 1 if any file failed.

    \b
    Examples:
      zhiku add --kb handbook ~/docs/handbook/
      zhiku add --kb handbook "reports/**/*.pdf" notes.md
    """
    with open_app(ctx) as app:
        name = kb_or_default(app, kb_name)
        if create or kb_name is None:
            app.ensure_kb(name)
        kb_id = app.store.kb_id(name)  # fails here, before any work, when the knowledge base is missing
        files = app.plan(paths)
        if not files:
            click.echo("no supported files found in: " + " ".join(paths), err=True)
            sys.exit(1)
        bar = tqdm(total=len(files), unit="file", disable=quiet, file=sys.stderr, dynamic_ncols=True)

        def on_file(outcome: FileOutcome) -> None:
            bar.update(1)
            bar.set_postfix_str(f"{outcome.status}: {outcome.path[-40:]}", refresh=False)
            if outcome.status == "failed":
                bar.write(click.style(f"failed: {outcome.reason}", fg="red"), file=sys.stderr)

        report = app.indexer.add_files(kb_id, files, on_file=on_file)
        bar.close()
        click.echo(f"{name}: {report.summary()}")
        if report.failed:
            click.secho(f"{len(report.failed)} file(s) failed:", fg="red", err=True)
            for outcome in report.failed:
                click.echo(f"  {outcome.reason}", err=True)
            sys.exit(1)


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
