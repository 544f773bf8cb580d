"""The ``zhiku`` command line: a thin layer over ``zhiku.App``.

Each command group lives in its own module and is registered on ``main`` here.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import Settings, describe_invalid
from .common import run_app
from .doctor import doctor
from .documents import add, docs, rm
from .jobs import jobs, sync
from .kb import kb
from .query import ask, search
from .serve import demo, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    envvar="ZHIKU_HOME",
    help="Data directory (store, caches). Default: ~/.local/share/zhiku. Env: ZHIKU_HOME.",
)
@click.version_option(package_name="zhiku")
@click.pass_context
def main(ctx: click.Context, home: str | None) -> None:
    """zhiku (智库): grounded, cited answers from your documents.

    \b
    Quick start:
      zhiku kb create handbook
      zhiku add --kb handbook ~/docs/handbook/
      zhiku search --kb handbook "年假怎么申请" --explain
      zhiku ask --kb handbook "How many days of annual leave do new hires get?"
      zhiku serve

    Settings come from ZHIKU_* environment variables and ./zhiku.toml (see docs/configuration.md).
    """
    try:
        ctx.obj = Settings(home=Path(home)) if home else Settings()
    except ValueError as exc:  # SettingsError: a bad ZHIKU_* value or zhiku.toml entry
        raise click.ClickException(describe_invalid(exc)) from exc


for command in (kb, add, sync, docs, rm, jobs, doctor, search, ask, serve, demo):
    main.add_command(command)


def _register_eval() -> None:
    try:
        from .eval import eval_group
    except ImportError:  # evaluation is optional at install time
        return
    main.add_command(eval_group)


_register_eval()

__all__ = ["main", "run_app"]
