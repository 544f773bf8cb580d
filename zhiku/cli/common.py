"""Helpers shared by the command modules: building the App and turning errors into messages."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click

from ..app import App
from ..errors import ZhikuError, storage_problem
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
    """An App for one command; zhiku errors, and a full disk, a read-only data directory or a damaged
    store, become a one-line message and exit code 1."""
    settings = settings_of(ctx)
    app: App | None = None
    try:
        app = App(settings)
        yield app
    except ZhikuError as exc:
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(1)
    except (OSError, sqlite3.DatabaseError) as exc:
        problem = storage_problem(exc, settings.home, settings.database_path)
        if problem is None:
            raise
        click.secho(f"Error: {problem}", fg="red", err=True)
        sys.exit(1)
    finally:
        if app is not None:
            with contextlib.suppress(OSError, sqlite3.Error):  # closing a store the disk refuses
                app.close()


def run_app(ctx: click.Context, fn: Callable[[App], T]) -> T:
    with open_app(ctx) as app:
        return fn(app)


def kb_or_default(app: App, name: str | None) -> str:
    return name or app.settings.default_kb
