"""``zhiku doctor``: check the store's consistency and repair what can be repaired."""

from __future__ import annotations

import json
import sys

import click

from ..doctor import DoctorReport
from .common import open_app


@click.command()
@click.option("--kb", "kb_name", metavar="NAME", default=None, help="Only this knowledge base (default: all).")
@click.option("--repair", is_flag=True, help="Fix what can be fixed (orphans, missing terms and vectors, ...).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def doctor(ctx: click.Context, kb_name: str | None, repair: bool, as_json: bool) -> None:
    """Check the store: schema version, orphans, missing keyword entries and vectors, counts that
    disagree, failed and stale jobs, kept upload files.

    Exit code 0 when no error is left (warnings, such as failed jobs, do not count), 1 otherwise.

    \b
    Examples:
      zhiku doctor
      zhiku doctor --kb handbook --repair
    """
    with open_app(ctx) as app:
        report = app.doctor(kb_name, repair=repair)
        if as_json:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        else:
            _print(report)
        sys.exit(0 if report.ok else 1)


def _print(report: DoctorReport) -> None:
    version = f"schema {report.schema_version}"
    if report.schema_version != report.expected_schema_version:
        version += click.style(f" (this zhiku expects {report.expected_schema_version})", fg="red")
    click.echo(f"{version}; SQLite check: {report.integrity}")
    for name, counts in report.counts.items():
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items())
        click.echo(f"  {name}: {parts}")
    jobs = ", ".join(f"{n} {s}" for s, n in report.jobs.items())
    click.echo(f"  jobs: {jobs}")
    problems = [f for f in report.findings if f.count]
    if not problems:
        click.secho("no problems found", fg="green")
        return
    for f in problems:
        color = "red" if f.severity == "error" and f.remaining else "yellow" if f.remaining else "green"
        fixed = f", {f.repaired} repaired" if report.repaired and f.repairable else ""
        click.secho(f"{f.severity}: {f.count} {f.name.replace('_', ' ')}{fixed}: {f.description}", fg=color)
        for example in f.examples:
            click.echo(f"    e.g. {example}")
    if not report.repaired and any(f.repairable and f.remaining for f in problems):
        click.echo("run zhiku doctor --repair to fix what can be fixed")
    click.secho("ok" if report.ok else "problems remain", fg="green" if report.ok else "red")
