"""Helpers shared by the command modules: building the App and turning errors into messages."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click

from ..app import App
from ..errors import ZhikuError
from ..settings import Settings

T = TypeVar("T")

kb_option = click.option(
    "--kb", "kb_name", metavar="NAME", default=None, help="Knowledge base (default: the 'default' one)."
)


def settings_of(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


@contextmanager
def open_app(ctx: click.Context) -> Iterator[App]:
    """An App for one command; zhiku errors become a one-line message and exit code 1."""
    app = App(settings_of(ctx))
    try:
        yield app
    except ZhikuError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    finally:
        app.close()


def run_app(ctx: click.Context, fn: Callable[[App], T]) -> T:
    with open_app(ctx) as app:
        return fn(app)


def kb_or_default(app: App, name: str | None) -> str:
    return name or app.settings.default_kb
