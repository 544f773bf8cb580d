"""Retrieval benchmark: SciFact (BEIR, shared dev half) and RGB retrieval_zh, every mode in one run.

    .venv/bin/python bench/run_retrieval.py                  # both datasets
    .venv/bin/python bench/run_retrieval.py --only rgb       # just RGB retrieval_zh

Modes: bm25, dense, hybrid (the configured fusion, weight and feedback), the previous defaults, each
change alone, other dense weights and plain RRF, all over the same index with the same query vectors.
Results: bench/results/<name>.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import dataset, display, settings, write_result

from zhiku.eval.report import retrieval_table, tqdm_progress
from zhiku.eval.retrieval import evaluate_retrieval

MODES = [
    "bm25",
    "dense",
    "hybrid",  # the defaults: z-score fusion, dense weight 0.6, feedback from the top 5 chunks
    "hybrid-minmax@0.5+fb0",  # the defaults before 2026-12-03
    "hybrid-zscore@0.6+fb0",  # the fusion alone, without feedback
    "hybrid-minmax@0.6",  # feedback with min-max fusion
    "hybrid@0.4",
    "hybrid@0.5",
    "hybrid@0.7",
    "hybrid-rrf@0.5+fb0",
]
BENCHMARKS = {
    "rgb": ("rgb_retrieval_zh", ("rgb", "retrieval_zh"), "dev"),
    "scifact": ("scifact", ("scifact",), "dev"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="Run only these datasets.")
    parser.add_argument("--limit", type=int, default=None, help="First N queries (smoke runs).")
    parser.add_argument("--datasets", type=Path, default=None, help="Folder holding the datasets.")
    parser.add_argument("--modes", default=",".join(MODES), help="Comma-separated mode specs.")
    parser.add_argument("--embedder", default=None, help="Embedder override (the result name gets a suffix).")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    config = settings().with_overrides(embedder=args.embedder) if args.embedder else settings()
    for key in args.only or ["rgb", "scifact"]:
        name, parts, qrels = BENCHMARKS[key]
        name += f"_{args.embedder}" if args.embedder else ""
        folder = dataset(*parts, root=args.datasets)
        started = time.time()
        result = evaluate_retrieval(config, folder, qrels, modes, progress=tqdm_progress(), limit=args.limit)
        extra = f" --embedder {args.embedder}" if args.embedder else ""
        spec = f"--modes {','.join(modes)} --json bench/results/{name}.json"
        cli = f"zhiku eval retrieval {display(folder)} --qrels {qrels}{extra} {spec}"
        write_result(name, result, cli=cli, started=started)
        print(f"\n{name}: {result['n']} queries, embedder {result['embedder']}")
        print(retrieval_table(result))


if __name__ == "__main__":
    main()
