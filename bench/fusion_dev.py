"""Offline fusion experiments: rank once, then try fusion variants on the saved lists in seconds.

    .venv/bin/python bench/fusion_dev.py dump scifact /tmp/fusion_scifact.pkl      # index + rank (cached vectors)
    .venv/bin/python bench/fusion_dev.py score /tmp/fusion_scifact.pkl --tune train --report dev
    .venv/bin/python bench/fusion_dev.py score /tmp/fusion_rgb.pkl --report dev --fixed minmax,100,0.5,5,1.0

``dump`` indexes a BEIR folder of ``../shared/datasets`` with the default settings and saves, for every
judged query of every qrels file there (``dev``, ``train``, ...), its split, its vector and its BM25 and
dense lists (1,000 each), plus the vectors of every chunk in those lists.

``score`` compares min-max and z-score fusion at several list depths and dense
weights, with and without dense pseudo-relevance feedback (Rocchio on vectors: the query vector plus
``beta`` times the mean of the first pass's top ``k`` chunks, used to re-score the first pass's
candidates only, so it costs one small matrix product). With ``--tune SPLIT`` it picks the best
setting on that split and reports it on ``--report SPLIT``: settings are chosen on queries that are
not the ones scored. ``--fixed fusion,depth,w,k,beta`` scores one setting (``k=0``: no feedback), e.g.
on a dataset that has no training split. The pickles hold dataset text (RGB is non-commercial): keep
them outside the repository.
"""

from __future__ import annotations

import argparse
import itertools
import pickle
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import dataset, settings

from zhiku.eval.beir import load_beir
from zhiku.eval.metrics import collapse_to_documents, score_run
from zhiku.eval.retrieval import EVAL_KB, index_corpus, temp_app
from zhiku.retrieve import FUSIONS as FUSION_FUNCTIONS
from zhiku.retrieve import Ranked, dense_feedback

CANDIDATES = 200  # chunks ranked per query, as zhiku eval retrieval does
DEPTHS = (100, 200)  # chunks taken from each list before fusion (the app's default is 100)
FUSIONS = ("minmax", "zscore")
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
FEEDBACK = ((0, 0.0), (3, 0.5), (3, 1.0), (5, 0.5), (5, 1.0), (5, 2.0), (10, 1.0), (10, 2.0))

# fusion, list depth, dense weight, feedback chunks k (0: none), beta
Setting = tuple[str, int, float, int, float]


def dump(name: str, out: Path) -> None:
    folder = dataset(*name.split("/"))
    splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
    data = {split: load_beir(folder, split) for split in splits}
    corpus = data[splits[0]].corpus
    with temp_app(settings()) as app:
        index_corpus(app, EVAL_KB, corpus)
        kb = app.get_kb(EVAL_KB).id
        app.store.warm_keyword_index(kb)
        queries: dict[str, Any] = {}
        qrels: dict[str, dict[str, int]] = {}
        for split, part in data.items():
            for qid, text in part.queries.items():
                vec = app.embedder.embed_query(text)
                bm25 = app.store.keyword_search(kb, app.analyzer.query_terms(text), 1000)
                dense = app.store.vector_search(kb, vec, 1000)
                queries[qid] = {"split": split, "vec": vec, "bm25": bm25, "dense": dense}
                qrels[qid] = part.qrels[qid]
        # Feedback only ever reads the vectors of listed chunks: keep those.
        listed = sorted({cid for q in queries.values() for name in ("bm25", "dense") for cid, _ in q[name]})
        chunk_ids, matrix = app.store.chunk_vectors(kb, listed)
        paths = {h.chunk_id: h.path for h in app.store.get_chunks(listed).values()}
    saved = {"qrels": qrels, "queries": queries, "matrix": matrix, "chunk_ids": chunk_ids, "paths": paths}
    out.write_bytes(pickle.dumps(saved))
    counts = {s: sum(q["split"] == s for q in queries.values()) for s in splits}
    print(f"{counts} queries -> {out}")


class Scorer:
    """Fusion variants over one dump."""

    def __init__(self, saved: dict[str, Any]) -> None:
        self.saved = saved
        self.matrix = saved["matrix"]
        self.row_of = {int(c): i for i, c in enumerate(saved["chunk_ids"])}  # listed chunks with a vector

    def fuse(self, q: dict[str, Any], setting: Setting, dense: Ranked | None = None) -> dict[int, float]:
        fusion, depth, w = setting[:3]
        lists = {"bm25": q["bm25"][:depth], "dense": dense or q["dense"][:depth]}
        return FUSION_FUNCTIONS[fusion](lists, {"bm25": 1 - w, "dense": w})

    def vectors_of(self, ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        found = [c for c in ids if c in self.row_of]
        return found, self.matrix[[self.row_of[c] for c in found]]

    def rank(self, q: dict[str, Any], setting: Setting) -> dict[int, float]:
        """The shipped ``dense_feedback`` (zhiku.retrieve) on the saved lists: the code measured is the code run."""
        depth, k, beta = setting[1], setting[3], setting[4]
        first = self.fuse(q, setting)
        if k == 0:
            return first
        return self.fuse(q, setting, dense_feedback(q["vec"], first, self.vectors_of, k, beta, depth))

    def metrics(self, split: str, rank: Callable[[dict[str, Any]], dict[int, float]]) -> dict[str, float]:
        runs = {}
        for qid, q in self.saved["queries"].items():
            if q.get("split", "dev") == split:
                scores = rank(q)
                best = sorted(scores, key=scores.__getitem__, reverse=True)[:CANDIDATES]
                runs[qid] = collapse_to_documents((self.saved["paths"][c] for c in best), 100)
        return score_run(runs, {qid: self.saved["qrels"][qid] for qid in runs})


def line(label: str, m: dict[str, float]) -> str:
    return f"{label:30s} nDCG@10 {m['ndcg@10']:.4f}  R@10 {m['recall@10']:.4f}  R@100 {m['recall@100']:.4f}"


def score(path: Path, tune: str | None, report: str, fixed: Setting | None) -> None:
    scorer = Scorer(pickle.loads(path.read_bytes()))
    print(line(f"[{report}] bm25", scorer.metrics(report, lambda q: dict(q["bm25"][:CANDIDATES]))))
    print(line(f"[{report}] dense", scorer.metrics(report, lambda q: dict(q["dense"][:CANDIDATES]))))
    if fixed is not None:
        print(line(f"[{report}] {fixed}", scorer.metrics(report, lambda q: scorer.rank(q, fixed))))
        return
    grid = [(f, d, w, k, b) for f, d, w, (k, b) in itertools.product(FUSIONS, DEPTHS, WEIGHTS, FEEDBACK)]
    table: dict[Setting, dict[str, dict[str, float]]] = {}
    for setting in grid:
        splits = [s for s in (tune, report) if s]
        table[setting] = {s: scorer.metrics(s, lambda q, st=setting: scorer.rank(q, st)) for s in dict.fromkeys(splits)}
        cells = "  ".join(f"{s} {m['ndcg@10']:.4f}" for s, m in table[setting].items())
        print(f"{setting}  nDCG@10  {cells}", flush=True)
    if tune:
        best = max(grid, key=lambda s: table[s][tune]["ndcg@10"])
        plain = max((s for s in grid if s[3] == 0), key=lambda s: table[s][tune]["ndcg@10"])
        default = ("minmax", 100, 0.5, 0, 0.0)
        for label, s in (("default", default), ("best without feedback", plain), ("best with feedback", best)):
            print(line(f"{label} {s} on {tune}", table[s][tune]))
            print(line(f"  -> reported on {report}", table[s][report]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("dataset", help="a BEIR folder under ../shared/datasets, e.g. rgb/retrieval_zh or scifact")
    d.add_argument("out", type=Path)
    s = sub.add_parser("score")
    s.add_argument("pickle", type=Path)
    s.add_argument("--tune", default=None, help="choose the best setting on this split (e.g. train)")
    s.add_argument("--report", default="dev", help="split whose numbers are reported (default dev)")
    s.add_argument("--fixed", default=None, help="score one setting: fusion,depth,w,k,beta (k=0: no feedback)")
    args = parser.parse_args()
    if args.cmd == "dump":
        dump(args.dataset, args.out)
        return
    fixed = None
    if args.fixed:
        f, d, w, k, b = args.fixed.split(",")
        fixed = (f, int(d), float(w), int(k), float(b))
    score(args.pickle, args.tune, args.report, fixed)


if __name__ == "__main__":
    main()
