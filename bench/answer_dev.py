"""Fast iteration on the answerer: retrieve once, then re-run evidence + extraction on the saved hits.

    .venv/bin/python bench/answer_dev.py dump cmrc /tmp/ans/cmrc_hits.pkl      # retrieval (slow, once)
    .venv/bin/python bench/answer_dev.py dump rgb /tmp/ans/rgb_hits.pkl
    .venv/bin/python bench/answer_dev.py score /tmp/ans/cmrc_hits.pkl [--ids even|odd] [--details OUT.jsonl]

``App.ask`` is ``Answerer.answer(question, App.search(...).hits)``, and retrieval does not depend on
the answerer, so scoring saved hits gives the same numbers as ``bench/run_answers.py`` in seconds
instead of minutes; the committed numbers still come from ``run_answers.py``. The pickles quote
dataset text (RGB is non-commercial): keep them outside the repository.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import dataset, settings

from zhiku.answer import Answerer
from zhiku.eval.beir import corpus_document
from zhiku.eval.qa import contains_any, load_squad
from zhiku.eval.rejection import load_rgb, passages_for, rgb_contains
from zhiku.eval.retrieval import EVAL_KB, index_corpus, temp_app
from zhiku.text import Analyzer


def dump(which: str, out: Path, embedder: str | None) -> None:
    config = settings().with_overrides(embedder=embedder) if embedder else settings()
    rows: list[dict[str, Any]] = []
    with temp_app(config) as app:
        if which == "cmrc":
            data = load_squad(dataset("cmrc2018", "cmrc2018_dev_shared.json"))
            index_corpus(app, EVAL_KB, data.corpus)
            for item in data.items:
                hits = app.search(EVAL_KB, item.question).hits
                rows.append({"id": item.id, "question": item.question, "gold": item.answers, "hits": hits})
        else:
            for n, item in enumerate(load_rgb(dataset("rgb", "zh_refine.jsonl"))):
                for setting in ("negative", "mixed"):
                    passages = passages_for(item, setting)
                    if (setting == "mixed" and not item.positive) or not passages:
                        continue
                    kb = f"rgb-{n}-{setting}"
                    index_corpus(app, kb, {f"p{i}": corpus_document("", p) for i, p in enumerate(passages)})
                    hits = app.search(kb, item.query).hits
                    rows.append(
                        {"id": item.id, "setting": setting, "question": item.query, "gold": item.answer, "hits": hits}
                    )
                    app.delete_kb(kb)
    out.write_bytes(pickle.dumps({"which": which, "rows": rows}))
    print(f"{len(rows)} rows -> {out}")


def score(path: Path, ids: str | None, details: Path | None, threshold: float) -> None:
    data = pickle.loads(path.read_bytes())
    rows = data["rows"]
    if ids:
        parity = 0 if ids == "even" else 1
        rows = [r for r in rows if _num(r["id"]) % 2 == parity]
    config = settings()
    answerer = Answerer(Analyzer(config.cache_dir), refusal_threshold=threshold, max_sources=config.answer_sources)
    started = time.process_time()
    out = []
    for r in rows:
        a = answerer.answer(r["question"], r["hits"])
        if data["which"] == "cmrc":
            ok = not a.refused and contains_any(a.text, r["gold"])
        else:
            ok = not a.refused and rgb_contains(a.text, r["gold"])
        out.append(
            {
                **{k: v for k, v in r.items() if k != "hits"},
                "answer": a.text,
                "refused": a.refused,
                "evidence": round(a.evidence, 4),
                "contains": ok,
            }
        )
    cpu = time.process_time() - started
    if data["which"] == "cmrc":
        n = len(out)
        print(
            f"cmrc n={n} containing={sum(o['contains'] for o in out) / n:.4f} "
            f"refused={sum(o['refused'] for o in out) / n:.4f} cpu={cpu:.0f}s"
        )
    else:
        neg = [o for o in out if o["setting"] == "negative"]
        mix = [o for o in out if o["setting"] == "mixed"]
        print(
            f"rgb neg={len(neg)} refusal={sum(o['refused'] for o in neg) / len(neg):.4f} "
            f"mixed={len(mix)} false_refusal={sum(o['refused'] for o in mix) / len(mix):.4f} "
            f"containing={sum(o['contains'] for o in mix) / len(mix):.4f} cpu={cpu:.0f}s"
        )
        for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            print(
                f"  t={t}: refusal {sum(o['evidence'] < t for o in neg) / len(neg):.3f} "
                f"false refusal {sum(o['evidence'] < t for o in mix) / len(mix):.3f}"
            )
    if details:
        details.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in out), encoding="utf-8")


def _num(value: str) -> int:
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("which", choices=["cmrc", "rgb"])
    d.add_argument("out", type=Path)
    d.add_argument("--embedder", default=None)
    s = sub.add_parser("score")
    s.add_argument("pickle", type=Path)
    s.add_argument("--ids", choices=["even", "odd"], default=None)
    s.add_argument("--details", type=Path, default=None)
    s.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    if args.cmd == "dump":
        dump(args.which, args.out, args.embedder)
    else:
        score(args.pickle, args.ids, args.details, args.threshold)


if __name__ == "__main__":
    main()
