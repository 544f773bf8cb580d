"""Helpers shared by the benchmark scripts: dataset location, settings, result files."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from zhiku.eval.report import machine_info
from zhiku.settings import Settings

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
DATASETS = BENCH.parents[1] / "shared" / "datasets"


def dataset(*parts: str, root: Path | None = None) -> Path:
    path = (root or DATASETS).joinpath(*parts)
    if not path.exists():
        sys.exit(f"{path} not found: the evaluation datasets are expected in ../shared/datasets (see --datasets)")
    return path


def display(path: Path) -> str:
    """``path`` relative to the repository (``../shared/datasets/...``) for the recorded commands."""
    return os.path.relpath(path, BENCH.parent)


def settings() -> Settings:
    """The default settings (ZHIKU_* variables apply), so the shared vector cache is reused."""
    return Settings()


def write_result(name: str, result: dict[str, Any], *, cli: str, started: float) -> Path:
    """``bench/results/<name>.json`` with the machine block and the exact command."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "command": shlex.join([os.path.relpath(sys.executable, BENCH.parent), *sys.argv]),
        "cli_equivalent": cli,
        "machine": machine_info(),
        "wall_seconds": round(time.time() - started, 1),
        **result,
    }
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return out
