"""Answer benchmarks: CMRC 2018 (shared dev half) answers/citations, RGB zh_refine and en_fact negative
rejection.

    .venv/bin/python bench/run_answers.py                 # all three
    .venv/bin/python bench/run_answers.py --only cmrc     # just CMRC 2018

Extractive mode unless an LLM is configured (ZHIKU_LLM_BASE_URL + ZHIKU_LLM_MODEL). RGB runs with a
threshold sweep and writes bench/results/rgb_refusal_threshold.png (needs matplotlib).
Per-question records go to bench/results/details/<name>.jsonl (git-ignored: they quote dataset text).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, dataset, display, settings, write_result

from zhiku.eval.qa import evaluate_qa
from zhiku.eval.rejection import evaluate_rejection
from zhiku.eval.report import format_table, plot_threshold_sweep, rates_table, tqdm_progress


def run_cmrc(root: Path | None, limit: int | None) -> None:
    file = dataset("cmrc2018", "cmrc2018_dev_shared.json", root=root)
    started = time.time()
    details = RESULTS / "details" / "cmrc2018_qa.jsonl"
    result = evaluate_qa(settings(), file, limit=limit, progress=tqdm_progress(), details=details)
    outputs = f"--details bench/results/details/{details.name} --json bench/results/cmrc2018_qa.json"
    cli = f"zhiku eval qa {display(file)} {outputs}"
    write_result("cmrc2018_qa", result, cli=cli, started=started)
    keys = ["answer_containing_rate", "citation_hit_rate", "citation_hit_rate_all", "gold_cited_rate", "refusal_rate"]
    print(f"\ncmrc2018_qa: {result['n']} questions, {result['mode']} mode")
    print(rates_table(result, [*keys, "n"]))


def run_rgb(root: Path | None, limit: int | None, embedder: str | None, english: bool = False) -> None:
    """RGB zh_refine (150 Chinese questions), or with ``english`` RGB en_fact (50 English ones)."""
    file = dataset("rgb", "en_fact.jsonl" if english else "zh_refine.jsonl", root=root)
    started = time.time()
    name = "rgb_rejection" + ("_en" if english else "") + (f"_{embedder}" if embedder else "")
    config = settings().with_overrides(embedder=embedder) if embedder else settings()
    details = RESULTS / "details" / f"{name}.jsonl"
    result = evaluate_rejection(config, file, sweep=True, limit=limit, progress=tqdm_progress(), details=details)
    plot = RESULTS / (name.replace("rgb_rejection", "rgb_refusal_threshold") + ".png")
    if plot_threshold_sweep(result["sweep"], plot, marker=result["threshold"]):
        result["plot"] = str(plot.relative_to(RESULTS.parent.parent))
    extra = f" --embedder {embedder}" if embedder else ""
    outputs = f"--plot bench/results/{plot.name} --json bench/results/{name}.json"
    cli = f"zhiku eval rejection {display(file)}{extra} --sweep {outputs}"
    write_result(name, result, cli=cli, started=started)
    print(f"\n{name}: {result['n']} questions, threshold {result['threshold']}")
    print(rates_table(result, ["refusal_rate", "false_refusal_rate", "answer_containing_rate", "n"]))
    rows = [[r["threshold"], r["refusal_rate"], r["false_refusal_rate"]] for r in result["sweep"]]
    print(format_table(["threshold", "refusal_rate", "false_refusal_rate"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["cmrc", "rgb", "rgb_en"], action="append", help="Run only these benchmarks.")
    parser.add_argument("--limit", type=int, default=None, help="First N questions (smoke runs).")
    parser.add_argument("--datasets", type=Path, default=None, help="Folder holding the datasets.")
    parser.add_argument("--embedder", default=None, help="RGB only: embedder override (results get a suffix).")
    args = parser.parse_args()
    chosen = args.only or ["cmrc", "rgb", "rgb_en"]
    if "cmrc" in chosen:
        run_cmrc(args.datasets, args.limit)
    if "rgb" in chosen:
        run_rgb(args.datasets, args.limit, args.embedder)
    if "rgb_en" in chosen:
        run_rgb(args.datasets, args.limit, args.embedder, english=True)


if __name__ == "__main__":
    main()
