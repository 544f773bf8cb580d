"""Evaluation built in: retrieval (BEIR), answers (SQuAD / CMRC 2018) and negative rejection (RGB).

Every evaluator builds a temporary index with the given ``Settings`` (the shared vector cache is
reused, so repeated runs do not re-embed) and returns a plain dict ready for JSON.
"""

from __future__ import annotations

from .metrics import collapse_to_documents, mrr_at_k, ndcg_at_k, recall_at_k, score_run
from .qa import evaluate_qa
from .rejection import evaluate_rejection
from .retrieval import evaluate_retrieval

__all__ = [
    "collapse_to_documents",
    "evaluate_qa",
    "evaluate_rejection",
    "evaluate_retrieval",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "score_run",
]
