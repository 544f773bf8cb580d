"""Hybrid retrieval: BM25 (FTS5 over jieba/stemmed terms) and dense vectors, fused.

Fusion is score fusion, ``(1 - w) * bm25 + w * dense`` over each list's normalised scores: z-scores
by default (``zscore``), min-max scaling to [0, 1] as an option (``minmax``). Reciprocal-rank fusion
(``rrf``) stays available for comparison: on SciFact it scored *below* BM25 alone while score fusion
beat both lists. The defaults (z-scores, 200 candidates a list, dense weight 0.6, feedback from the
top 5 chunks at weight 0.5) were chosen on SciFact's *train* queries and then measured on SciFact dev
and on the Chinese RGB pool, neither used for the choice (docs/benchmarks.md).

Dense pseudo-relevance feedback (``feedback=k``, hybrid only): after a first fusion, the mean vector
of its top ``k`` chunks is added to the query vector (Rocchio, times ``feedback_weight``) and the
first pass's candidates are re-scored against that vector, which replaces the dense list in a
second fusion. It reads vectors already in memory: one small matrix product, no new search.

Reranking (``rerank=n`` with a ``Reranker``, any mode): the top ``n`` hits are scored by a
cross-encoder reading the query and each hit together, and re-ordered by that score; ``Hit.score``
stays the retrieval score and the reranker's is in ``Hit.scores["rerank"]``. A reranker that fails
leaves the retrieval order and says so in the result's notes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .bridge import TermBridge
from .errors import ZhikuError
from .protocols import Reranker, Store
from .settings import Settings
from .text import Analyzer
from .types import Hit

Mode = Literal["bm25", "dense", "hybrid"]
MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
Ranked = list[tuple[int, float]]


def _default(name: str) -> Any:
    """A retrieval setting's default, so a bare ``SearchRequest`` searches as the settings say."""
    return Settings.__dataclass_fields__[name].default


#: Dense hits whose words in the other language the query is bridged to (``Retriever.bridged_terms``).
BRIDGE_HITS = 20


@dataclass
class SearchRequest:
    """What to search for and how. ``doc_ids``/``path_glob`` restrict the documents searched."""

    query: str
    kb_id: int
    mode: Mode = "hybrid"
    top_k: int = 8
    candidates: int = _default("candidates")
    dense_weight: float = _default("dense_weight")
    fusion: str = _default("fusion")
    path_glob: str | None = None
    doc_ids: set[int] | None = None
    query_vector: np.ndarray | None = None
    feedback: int = _default("dense_feedback")  # top chunks of a first fusion refining the query (0: off)
    feedback_weight: float = _default("dense_feedback_weight")
    rerank: int = 0  # top hits the retriever's reranker re-orders (0: off)


@dataclass
class SearchResult:
    hits: list[Hit]
    mode: Mode
    notes: list[str] = field(default_factory=list)


def minmax_fusion(lists: dict[str, Ranked], weights: dict[str, float]) -> dict[int, float]:
    """Weighted sum of per-list scores scaled to [0, 1]; a chunk missing from a list gets 0 there."""
    fused: dict[int, float] = {}
    for name, ranked in lists.items():
        if not ranked:
            continue
        scores = [s for _, s in ranked]
        lo, hi = min(scores), max(scores)
        span = hi - lo
        for cid, s in ranked:
            norm = (s - lo) / span if span > 0 else 1.0
            fused[cid] = fused.get(cid, 0.0) + weights[name] * norm
    return fused


def zscore_fusion(lists: dict[str, Ranked], weights: dict[str, float]) -> dict[int, float]:
    """Weighted sum of per-list standardised scores, each shifted so that the list's lowest is 0.

    ``(s - mean) / sd`` keeps how far apart a list's scores are, which min-max scaling throws away
    when one outlier sets the range. A chunk missing from a list gets 0 there, as in min-max. The
    shift changes no order: scores stay non-negative, so "relative to the best hit" still reads.
    """
    fused: dict[int, float] = {}
    for name, ranked in lists.items():
        if not ranked:
            continue
        scores = np.fromiter((s for _, s in ranked), dtype=np.float64, count=len(ranked))
        sd = float(scores.std())
        z = (scores - scores.min()) / sd if sd > 0 else np.ones_like(scores)
        w = weights[name]
        for (cid, _), value in zip(ranked, z.tolist(), strict=True):
            fused[cid] = fused.get(cid, 0.0) + w * value
    return fused


def rrf_fusion(lists: dict[str, Ranked], weights: dict[str, float], k: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: ``sum w / (k + rank)``."""
    fused: dict[int, float] = {}
    for name, ranked in lists.items():
        for rank, (cid, _) in enumerate(ranked, start=1):
            fused[cid] = fused.get(cid, 0.0) + weights[name] * 2.0 / (k + rank)
    return fused


FUSIONS: dict[str, Callable[[dict[str, Ranked], dict[str, float]], dict[int, float]]] = {
    "minmax": minmax_fusion,
    "zscore": zscore_fusion,
    "rrf": rrf_fusion,
}


class Retriever:
    """Runs one ``SearchRequest`` against a ``Store``: the same code for every backend."""

    def __init__(
        self,
        store: Store,
        embed_query: Callable[[str], np.ndarray],
        analyzer: Analyzer,
        reranker: Reranker | None = None,
        bridge: TermBridge | None = None,
    ) -> None:
        self.store = store
        self.embed_query = embed_query
        self.analyzer = analyzer
        self.reranker = reranker
        self.bridge = bridge  # cross-language keyword terms (bridged_terms); None: BM25 on the query's own

    def ranked_lists(
        self, req: SearchRequest, vector: np.ndarray | None = None, notes: list[str] | None = None
    ) -> dict[str, Ranked]:
        """The raw candidate lists the mode asks for, keyed ``bm25`` / ``dense``; ``notes`` gets a line
        when keyword search also used words bridged from the other language."""
        doc_ids = req.doc_ids
        if req.path_glob:
            matching = self.store.doc_ids_matching(req.kb_id, req.path_glob)
            doc_ids = matching if doc_ids is None else doc_ids & matching
            if not matching and notes is not None:
                notes.append(f"no document path or file name matches {req.path_glob!r}: nothing was searched")
        lists: dict[str, Ranked] = {}
        if req.mode in ("bm25", "hybrid"):
            terms = self.analyzer.query_terms(req.query)
            lists["bm25"] = self.store.keyword_search(req.kb_id, terms, req.candidates, doc_ids)
        if req.mode in ("dense", "hybrid"):
            vector = vector if vector is not None else self.query_vector(req)
            lists["dense"] = self.store.vector_search(req.kb_id, vector, req.candidates, doc_ids)
        if req.mode == "hybrid" and self.bridge is not None and lists["dense"]:
            extra = self.bridged_terms(req.query, lists["dense"])
            if extra:
                lists["bm25"] = self.store.keyword_search(req.kb_id, [*terms, *extra], req.candidates, doc_ids)
                if notes is not None:
                    notes.append("keyword search also used words of the other language: " + ", ".join(extra))
        return lists

    def bridged_terms(self, query: str, dense: Ranked) -> list[str]:
        """Keyword terms for ``query`` in the other language, from the best dense hits written in it.

        BM25 cannot match a Chinese query to an English chunk. The dense list can, if weakly ("病假有几天？"
        puts the English leave table 14th); the bridge matches the query's words to those hits' words
        (病假 -> "sick leave"), and BM25 searched with them too lifts the chunks that state them.
        """
        assert self.bridge is not None
        top = [cid for cid, _ in dense[:BRIDGE_HITS]]
        texts = [hit.text for hit in self.store.get_chunks(top).values()]
        bridged = self.bridge.bridges(query, texts, self.analyzer.terms(query))
        return sorted(set().union(*bridged.values())) if bridged else []

    def query_vector(self, req: SearchRequest) -> np.ndarray:
        return req.query_vector if req.query_vector is not None else self.embed_query(req.query)

    def search(self, req: SearchRequest) -> SearchResult:
        vector = self.query_vector(req) if req.mode != "bm25" else None
        notes: list[str] = []
        lists = self.ranked_lists(req, vector, notes)
        if req.mode == "hybrid":
            if not lists["dense"] and lists["bm25"]:
                notes.append("no dense vectors in this knowledge base yet: keyword results only")
            weights = {"bm25": 1.0 - req.dense_weight, "dense": req.dense_weight}
            try:
                fuse = FUSIONS[req.fusion]
            except KeyError:
                raise ValueError(f"unknown fusion {req.fusion!r}; choose one of {sorted(FUSIONS)}") from None
            scores = fuse(lists, weights)
            if req.feedback > 0 and lists["dense"] and vector is not None:
                refined = self.feedback_list(req, vector, scores)
                if refined:
                    lists["dense"] = refined  # --explain shows the ranks the fusion used
                    scores = fuse(lists, weights)
        else:
            scores = dict(lists[req.mode if req.mode == "dense" else "bm25"])
        rerank = req.rerank if self.reranker is not None else 0
        best = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[: max(req.top_k, rerank)]
        chunks = self.store.get_chunks(cid for cid, _ in best)
        hits: list[Hit] = []
        for cid, score in best:
            hit = chunks.get(cid)
            if hit is None:  # deleted between the two queries
                continue
            hit.score = score
            for name, ranked in lists.items():
                for rank, (other, raw) in enumerate(ranked, start=1):
                    if other == cid:
                        hit.ranks[name] = rank
                        hit.scores[name] = raw
                        break
            hits.append(hit)
        if rerank and hits:
            hits = self.rerank(req.query, hits[:rerank], notes) + hits[rerank:]
        return SearchResult(hits[: req.top_k], req.mode, notes)

    def rerank(self, query: str, hits: list[Hit], notes: list[str]) -> list[Hit]:
        """``hits`` re-ordered by the reranker's score (ties keep the retrieval order)."""
        assert self.reranker is not None
        try:
            scores = self.reranker.score(query, [h.index_text for h in hits])
            if len(scores) != len(hits):
                raise ZhikuError(f"{len(scores)} scores for {len(hits)} passages")
        except ZhikuError as exc:
            notes.append(f"reranker {self.reranker.name} failed, retrieval order kept: {exc}")
            return hits
        for hit, score in zip(hits, scores, strict=True):
            hit.scores["rerank"] = score
        ordered = sorted(hits, key=lambda h: h.scores["rerank"], reverse=True)
        for rank, hit in enumerate(ordered, start=1):
            hit.ranks["rerank"] = rank
        return ordered

    def feedback_list(self, req: SearchRequest, vector: np.ndarray, first: dict[int, float]) -> Ranked:
        """The first pass's candidates re-scored against the query vector moved towards its top chunks."""

        def vectors_of(ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
            return self.store.chunk_vectors(req.kb_id, ids)

        return dense_feedback(vector, first, vectors_of, req.feedback, req.feedback_weight, req.candidates)


VectorsOf = Callable[[Sequence[int]], tuple[list[int], np.ndarray]]


def dense_feedback(
    vector: np.ndarray, first: dict[int, float], vectors_of: VectorsOf, k: int, weight: float, limit: int
) -> Ranked:
    """Rocchio on vectors: ``first``'s chunks ranked by cosine to ``vector + weight * mean(top k)``.

    ``vectors_of`` returns the stored (L2-normalised) vectors of the chunk ids that have one. Empty
    when none of the top ``k`` has a vector yet.
    """
    top = sorted(first, key=first.__getitem__, reverse=True)[:k]
    _, top_vectors = vectors_of(top)
    if len(top_vectors) == 0:
        return []
    refined = vector.astype(np.float32) + weight * top_vectors.mean(axis=0)
    refined /= float(np.linalg.norm(refined)) or 1.0
    ids, vectors = vectors_of(list(first))
    # einsum, not ``@``: no BLAS threads left spinning into the next embedding (see store/dense.py).
    scores = np.einsum("ij,j->i", vectors, refined)
    order = np.argsort(-scores, kind="stable")[:limit]
    return [(ids[i], float(scores[i])) for i in order]


def describe_hits(hits: Sequence[Hit]) -> list[str]:
    """One line per hit for ``--explain``: final score and the rank/score in each list."""
    lines = []
    for i, hit in enumerate(hits, start=1):
        parts = [f"#{i} score={hit.score:.4f}"]
        for name in ("bm25", "dense", "rerank"):
            if name in hit.ranks:
                parts.append(f"{name}: rank {hit.ranks[name]} ({hit.scores[name]:.4f})")
            elif name != "rerank":
                parts.append(f"{name}: -")
        lines.append("  ".join(parts))
    return lines
