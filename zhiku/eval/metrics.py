"""Ranking metrics (nDCG@k, Recall@k, MRR@k) and chunk-to-document rank collapsing.

Conventions follow BEIR / ``pytrec_eval``:

- **nDCG@k**: gain ``rel`` (graded qrels; binary qrels are gain 1) discounted by ``log2(rank + 1)``;
  the ideal DCG sorts *all* judged-relevant documents of the query by gain, so a relevant document
  that was never retrieved still counts against the score. Documents judged ``<= 0`` have no gain.
- **Recall@k**: relevant documents found in the top ``k`` over all relevant documents.
- **MRR@k**: ``1 / rank`` of the first relevant document within the top ``k``, else 0.

Retrieval returns chunks; evaluation is per document. ``collapse_to_documents`` keeps each document
at the rank of its best chunk (first occurrence in rank order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

Qrels = Mapping[str, int]


def collapse_to_documents(doc_keys: Iterable[str], limit: int | None = None) -> list[str]:
    """Document keys in rank order with duplicates removed (a document ranks where its best chunk does)."""
    seen: dict[str, None] = {}
    for key in doc_keys:
        if key not in seen:
            seen[key] = None
            if limit is not None and len(seen) >= limit:
                break
    return list(seen)


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains listed in rank order (rank 1 first)."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)


def ndcg_at_k(ranked: Sequence[str], qrels: Qrels, k: int) -> float:
    """nDCG@k of one ranking against one query's judgements (0.0 when nothing is relevant)."""
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    return dcg([max(qrels.get(doc, 0), 0) for doc in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence[str], qrels: Qrels, k: int) -> float:
    """Share of the relevant documents that appear in the top ``k``."""
    relevant = {doc for doc, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Qrels, k: int) -> float:
    """Reciprocal rank of the first relevant document in the top ``k``."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def score_run(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Qrels]) -> dict[str, float]:
    """Mean ``ndcg@10``, ``recall@10``, ``recall@100`` and ``mrr@10`` over the judged queries.

    A judged query missing from ``rankings`` scores 0 (it counts in the mean).
    """
    metrics = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    if not qrels:
        return metrics
    for qid, judged in qrels.items():
        ranked = rankings.get(qid, [])
        metrics["ndcg@10"] += ndcg_at_k(ranked, judged, 10)
        metrics["recall@10"] += recall_at_k(ranked, judged, 10)
        metrics["recall@100"] += recall_at_k(ranked, judged, 100)
        metrics["mrr@10"] += mrr_at_k(ranked, judged, 10)
    return {name: round(total / len(qrels), 4) for name, total in metrics.items()}
