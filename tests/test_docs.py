"""The docs keep up with the code: every setting is documented in docs/configuration.md."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from zhiku.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(Settings) if f"`{f.name}`" not in text]
    assert not missing, f"add these settings to docs/configuration.md: {missing}"


def test_every_eval_command_is_documented() -> None:
    from zhiku.cli.eval import eval_group

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [name for name in eval_group.commands if f"zhiku eval {name}" not in text]
    assert not missing, f"add these commands to docs/cli.md: {missing}"
