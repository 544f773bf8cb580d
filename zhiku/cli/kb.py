"""``zhiku kb``: create, list, show and delete knowledge bases."""

from __future__ import annotations

import json

import click

from .common import open_app


@click.group()
def kb() -> None:
    """Manage knowledge bases."""


@kb.command("create")
@click.argument("name")
@click.option("--description", "-d", default="", help="What the knowledge base holds.")
@click.pass_context
def create(ctx: click.Context, name: str, description: str) -> None:
    """Create the knowledge base NAME."""
    with open_app(ctx) as app:
        app.create_kb(name, description)
        click.echo(f"created knowledge base {name!r}; add documents with: zhiku add --kb {name} PATH...")


@kb.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List knowledge bases with their document and chunk counts."""
    with open_app(ctx) as app:
        kbs = app.list_kbs()
        if as_json:
            click.echo(json.dumps([k.__dict__ for k in kbs], ensure_ascii=False, indent=2))
            return
        if not kbs:
            click.echo("no knowledge bases yet: zhiku kb create NAME")
        for k in kbs:
            desc = f"  {k.description}" if k.description else ""
            click.echo(f"{k.name:<24} {k.documents:>6} documents {k.chunks:>8} chunks{desc}")


@kb.command("show")
@click.argument("name")
@click.pass_context
def show(ctx: click.Context, name: str) -> None:
    """Show a knowledge base's counts (documents, chunks, keyword entries, vectors)."""
    with open_app(ctx) as app:
        k = app.get_kb(name)
        click.echo(f"{k.name}: {k.description}" if k.description else k.name)
        for key, value in app.store.counts(k.id).items():
            click.echo(f"  {key:<16} {value}")


@kb.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete the knowledge base NAME with all its documents, chunks and vectors."""
    with open_app(ctx) as app:
        k = app.get_kb(name)
        if not yes:
            click.confirm(f"delete {name!r} and its {k.documents} documents?", abort=True)
        app.delete_kb(name)
        click.echo(f"deleted {name!r}")
