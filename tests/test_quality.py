"""The code standards CI enforces: ruff (lint and format) and mypy, run as the README says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_and_format() -> None:
    lint = run(str(BIN / "ruff"), "check", "zhiku", "tests", "bench")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = run(str(BIN / "ruff"), "format", "--check", "zhiku", "tests", "bench")
    assert fmt.returncode == 0, "run `ruff format zhiku tests bench`:\n" + fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_mypy() -> None:
    result = run(str(BIN / "mypy"), "zhiku")
    assert result.returncode == 0, result.stdout + result.stderr
