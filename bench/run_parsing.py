"""Parsing fidelity benchmark: every file of ../shared/datasets/doc_parsing against docling's Markdown.

    .venv/bin/python bench/run_parsing.py                       # the shared half
    .venv/bin/python bench/run_parsing.py --dataset heldout     # the held-out half (final checks only)

Text token F1 and table-cell F1 per file and their means (definitions: zhiku/eval/parsing.py and
docs/benchmarks.md). Writes bench/results/parsing.json (or parsing_heldout.json) and the per-file
missing/extra tokens to bench/results/details/parsing.jsonl.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, dataset, display, settings, write_result

from zhiku.eval.parsing import TABLE_HEADERS, evaluate_parsing, iter_rows
from zhiku.eval.report import format_table, tqdm_progress

DATASETS = {"shared": ("parsing", ("doc_parsing",)), "heldout": ("parsing_heldout", ("heldout", "doc_parsing"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="shared")
    parser.add_argument("--datasets", type=Path, default=None, help="Folder holding the datasets.")
    args = parser.parse_args()
    name, parts = DATASETS[args.dataset]
    folder = dataset(*parts, root=args.datasets)
    details = RESULTS / "details" / f"{name}.jsonl"
    started = time.time()
    result = evaluate_parsing(settings(), folder, progress=tqdm_progress(), details=details)
    print(format_table(TABLE_HEADERS, iter_rows(result)))
    print(f"text_f1_mean {result['text_f1_mean']} (n={result['n']}), table_f1_mean {result['table_f1_mean']}")
    cli = f"zhiku eval parsing {display(folder)} --json bench/results/{name}.json --details {display(details)}"
    write_result(name, result, cli=cli, started=started)


if __name__ == "__main__":
    main()
