"""Shared helpers for evaluation runs: progress bars, plain-text tables, the machine block, plots."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol


class ProgressBar(Protocol):
    """What evaluators need from a progress bar (``tqdm`` fits)."""

    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


# ``progress(desc=..., total=...)`` -> a bar; ``functools.partial(tqdm, file=sys.stderr)`` fits.
ProgressFactory = Callable[..., ProgressBar]


class _NullBar:
    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def bar(progress: ProgressFactory | None, desc: str, total: int) -> ProgressBar:
    """A progress bar from ``progress``, or one that does nothing."""
    return progress(desc=desc, total=total) if progress is not None else _NullBar()


def tqdm_progress() -> ProgressFactory:
    """A factory of tqdm bars on stderr (the CLI's and the benchmarks' default)."""
    from tqdm import tqdm

    def make(desc: str, total: int) -> ProgressBar:
        return tqdm(desc=desc, total=total, file=sys.stderr, leave=False, dynamic_ncols=True)

    return make


def machine_info() -> dict[str, Any]:
    """Where a benchmark ran: platform, CPUs, Python, date (UTC)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A fixed-width text table; floats print with 4 decimals."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out.extend(
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in cells
    )
    return "\n".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def retrieval_table(result: dict[str, Any]) -> str:
    """The per-mode metrics of an ``evaluate_retrieval`` result."""
    cols = ["ndcg@10", "recall@10", "recall@100", "mrr@10", "latency_ms_p50", "latency_ms_p95"]
    rows = [[mode, *(m.get(c, "") for c in cols)] for mode, m in result["modes"].items()]
    return format_table(["mode", *cols], rows)


def rates_table(result: dict[str, Any], keys: Sequence[str]) -> str:
    """A two-column table of the headline rates of a QA or rejection result."""
    return format_table(["metric", "value"], [[k, result[k]] for k in keys if k in result])


def plot_threshold_sweep(sweep: Sequence[dict[str, float]], path: Path, *, marker: float | None = None) -> bool:
    """Plot refusal / false-refusal rates against the threshold; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    xs = [row["threshold"] for row in sweep]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(xs, [row["refusal_rate"] for row in sweep], marker="o", ms=3, label="refusal (negatives only) ↑")
    ax.plot(xs, [row["false_refusal_rate"] for row in sweep], marker="s", ms=3, label="false refusal (answerable) ↓")
    if marker is not None:
        ax.axvline(marker, color="grey", ls="--", lw=1, label=f"threshold {marker:.2f}")
    ax.set_xlabel("refusal threshold (evidence score)")
    ax.set_ylabel("rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("RGB zh_refine: negative rejection vs. threshold")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
