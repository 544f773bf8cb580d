"""Offline fusion experiments: rank once, then try fusion variants on the saved lists in seconds.

    .venv/bin/python bench/fusion_dev.py dump rgb/retrieval_zh /tmp/fusion_rgb.pkl   # index + rank (cached vectors)
    .venv/bin/python bench/fusion_dev.py score /tmp/fusion_rgb.pkl

``dump`` indexes a BEIR folder of ``../shared/datasets`` with the default settings and saves, per judged
``dev`` query, its vector and its BM25 and dense lists (1,000 each), plus the knowledge base's vector
matrix. ``score`` prints nDCG@10 / Recall@10 / Recall@100 for min-max fusion at several dense weights
and for dense pseudo-relevance feedback (Rocchio on vectors: the query vector plus ``beta`` times the
mean of the first pass's top ``k`` chunks, used to re-score the first pass's candidates only, so it
costs one small matrix product). Numbers here are tuned on the evaluation queries themselves: a
variant is only worth adopting when SciFact and RGB agree. The pickles hold dataset text (RGB is
non-commercial): keep them outside the repository.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import dataset, settings

from zhiku.eval.beir import load_beir
from zhiku.eval.metrics import collapse_to_documents, score_run
from zhiku.eval.retrieval import EVAL_KB, index_corpus, temp_app
from zhiku.retrieve import Ranked, minmax_fusion

CANDIDATES = 200


def dump(name: str, out: Path) -> None:
    data = load_beir(dataset(*name.split("/")), "dev")
    with temp_app(settings()) as app:
        index_corpus(app, EVAL_KB, data.corpus)
        kb = app.get_kb(EVAL_KB).id
        app.store.warm_keyword_index(kb)
        index = app.store._vector_index(kb)  # type: ignore[attr-defined]
        paths = {h.chunk_id: h.path for h in app.store.get_chunks(index.chunk_ids.tolist()).values()}
        queries: dict[str, Any] = {}
        for qid, text in data.queries.items():
            if qid in data.qrels:
                vec = app.embedder.embed_query(text)
                bm25 = app.store.keyword_search(kb, app.analyzer.query_terms(text), 1000)
                queries[qid] = {"vec": vec, "bm25": bm25, "dense": app.store.vector_search(kb, vec, 1000)}
    saved = {"qrels": data.qrels, "queries": queries, "matrix": index.matrix.copy()}
    saved |= {"chunk_ids": index.chunk_ids.copy(), "paths": paths}
    out.write_bytes(pickle.dumps(saved))
    print(f"{len(queries)} queries -> {out}")


def score(path: Path) -> None:
    saved = pickle.loads(path.read_bytes())
    matrix, paths = saved["matrix"], saved["paths"]
    row_of = {int(c): i for i, c in enumerate(saved["chunk_ids"])}

    def fuse(q: dict[str, Any], w: float, dense: Ranked | None = None) -> dict[int, float]:
        lists = {"bm25": q["bm25"][:CANDIDATES], "dense": dense or q["dense"][:CANDIDATES]}
        return minmax_fusion(lists, {"bm25": 1 - w, "dense": w})

    def prf(q: dict[str, Any], w: float, k: int, beta: float) -> dict[int, float]:
        first = fuse(q, w)
        top = sorted(first, key=first.__getitem__, reverse=True)[:k]
        vec = q["vec"] + beta * matrix[[row_of[c] for c in top]].mean(axis=0)
        vec /= np.linalg.norm(vec)
        candidates = list(first)
        scores = matrix[[row_of[c] for c in candidates]] @ vec
        rescored = sorted(zip(candidates, scores.tolist(), strict=True), key=lambda t: -t[1])
        return fuse(q, w, rescored[:CANDIDATES])  # min-max over the same list length as the first pass

    def show(label: str, rank: Callable[[dict[str, Any]], dict[int, float]]) -> None:
        runs = {}
        for qid, q in saved["queries"].items():
            scores = rank(q)
            best = sorted(scores, key=scores.__getitem__, reverse=True)[:CANDIDATES]
            runs[qid] = collapse_to_documents((paths[c] for c in best), 100)
        m = score_run(runs, {qid: saved["qrels"][qid] for qid in saved["queries"]})
        print(f"{label:34s} nDCG@10 {m['ndcg@10']:.4f}  R@10 {m['recall@10']:.4f}  R@100 {m['recall@100']:.4f}")

    show("bm25", lambda q: dict(q["bm25"][:CANDIDATES]))
    show("dense", lambda q: dict(q["dense"][:CANDIDATES]))
    for w in (0.4, 0.5, 0.6, 0.7):
        show(f"minmax w={w}", lambda q, w=w: fuse(q, w))  # type: ignore[misc]
        for k, beta in ((3, 1.0), (5, 1.0), (10, 2.0)):
            show(f"  + dense PRF k={k} beta={beta}", lambda q, w=w, k=k, beta=beta: prf(q, w, k, beta))  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("dataset", help="a BEIR folder under ../shared/datasets, e.g. rgb/retrieval_zh or scifact")
    d.add_argument("out", type=Path)
    s = sub.add_parser("score")
    s.add_argument("pickle", type=Path)
    args = parser.parse_args()
    dump(args.dataset, args.out) if args.cmd == "dump" else score(args.pickle)


if __name__ == "__main__":
    main()
