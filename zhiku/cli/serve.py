"""``zhiku serve`` and ``zhiku demo``."""

from __future__ import annotations

import shlex
import sys

import click

from .common import open_app


@click.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the REST and OpenAI-compatible API (docs at /docs)."""
    from ..server import serve as run_server

    with open_app(ctx) as app:
        s = app.settings
        run_server(app, host or s.host, port or s.port)


@click.command()
@click.option("--kb", "kb_name", default=None, help="Knowledge base for the demo (default: 'default').")
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default 8000).")
@click.option("--no-serve", is_flag=True, help="Index the demo corpus and exit.")
@click.pass_context
def demo(ctx: click.Context, kb_name: str | None, host: str | None, port: int | None, no_serve: bool) -> None:
    """Index the bundled demo handbook (Chinese + English) and start the server."""
    from ..demo import DEMO_DIR, EXAMPLE_QUESTIONS

    with open_app(ctx) as app:
        s = app.settings
        name = kb_name or s.default_kb
        app.ensure_kb(name)
        click.echo(f"indexing the demo corpus into {name!r} (data in {s.home}) ...", err=True)
        report = app.add(name, [DEMO_DIR])
        click.echo(f"{name}: {report.summary()}", err=True)
        for failed in report.failed:
            click.secho(f"failed: {failed.reason}", fg="red", err=True)
        h, p = host or s.host, port or s.port
        url = f"http://{h}:{p}"
        question_en = next(q for q, _ in EXAMPLE_QUESTIONS if q.isascii())
        question_zh = next(q for q, _ in EXAMPLE_QUESTIONS if not q.isascii())
        body = '{"model": "kb:' + name + '", "messages": [{"role": "user", "content": "' + question_en + '"}]}'
        ask = f"  .venv/bin/zhiku ask --kb {name} {shlex.quote(question_en)}\n"
        ask += f"  .venv/bin/zhiku ask --kb {name} {shlex.quote(question_zh)}\n"
        if no_serve:
            click.echo(f"\nThe demo is indexed. Ask it:\n{ask}\nor serve it over HTTP: .venv/bin/zhiku serve")
            return
        click.echo(
            f"\nzhiku is serving {url}  (API docs: {url}/docs)\n\n"
            "Try it:\n"
            f"  curl -s {url}/v1/chat/completions -H 'Content-Type: application/json' -d {shlex.quote(body)}\n" + ask
        )
        sys.stdout.flush()
        from ..server import serve as run_server

        run_server(app, h, p)
