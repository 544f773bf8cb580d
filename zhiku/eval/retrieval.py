"""Retrieval evaluation on BEIR-layout folders: nDCG@10, Recall@10/100, MRR@10 and latency per mode.

One index is built in a temporary store (the shared vector cache under ``settings.cache_dir`` is
reused, so re-running never re-embeds), every query is embedded once, and every mode runs over that
same index with that same query vector. Retrieval returns chunks; a document ranks where its best
chunk ranks (``CHUNK_CANDIDATES`` chunks are fetched to fill ``DOC_DEPTH`` documents).

Mode specs: ``bm25``, ``dense``, ``hybrid`` (the settings' fusion and dense weight), and variants that
measure fusion choices in the same run: ``hybrid-rrf``, ``hybrid-minmax``, ``hybrid@0.3`` (dense
weight 0.3), ``hybrid-rrf@0.5``, and ``+fb<k>`` for dense pseudo-relevance feedback from the top
``k`` chunks (``hybrid+fb5``, ``hybrid@0.6+fb3``; ``+fb0`` turns off the settings' feedback), and
``+rr<k>`` to rerank the top ``k`` hits with the configured reranker (``bm25+rr30``, ``hybrid+rr50``;
``Settings.reranker``). Modes without ``+rr`` never rerank, so one run compares with and without.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app import App
from ..errors import ParseError, ZhikuError
from ..retrieve import FUSIONS, Mode, SearchRequest
from ..settings import Settings
from ..store import SQLiteStore
from ..types import ParsedDocument
from .beir import load_beir
from .metrics import collapse_to_documents, percentile, score_run
from .report import ProgressFactory, bar

CHUNK_CANDIDATES = 200
DOC_DEPTH = 100
EVAL_KB = "eval"


@dataclass(frozen=True)
class ModeSpec:
    """A parsed mode spec: retrieval mode plus, for hybrid, the fusion method and dense weight."""

    name: str
    mode: Mode
    fusion: str
    dense_weight: float
    feedback: int = 0
    rerank: int = 0


def parse_mode(spec: str, settings: Settings) -> ModeSpec:
    """``hybrid-rrf@0.3+fb5+rr30`` -> hybrid, rrf fusion, dense weight 0.3, feedback from the top 5
    chunks, the top 30 reranked (defaults from ``settings``)."""
    text, *extras = spec.strip().split("+")
    weight = settings.dense_weight
    feedback = settings.dense_feedback
    rerank = 0
    for raw in extras:
        kind, count = raw[:2], raw[2:]
        if kind not in ("fb", "rr") or not count.isdigit():
            raise ZhikuError(f"bad mode {spec!r}: each part after '+' must be feedback like fb5 or reranking like rr30")
        if kind == "fb" and not text.startswith("hybrid"):
            raise ZhikuError(f"bad mode {spec!r}: only hybrid takes feedback")
        if kind == "rr" and not settings.reranker:
            raise ZhikuError(f"mode {spec!r} reranks, but no reranker is configured (ZHIKU_RERANKER)")
        if kind == "fb":
            feedback = int(count)
        else:
            rerank = int(count)
    if "@" in text:
        text, raw = text.split("@", 1)
        try:
            weight = float(raw)
        except ValueError:
            raise ZhikuError(f"bad mode {spec!r}: the part after '@' must be a dense weight like 0.3") from None
        if not 0.0 <= weight <= 1.0:
            raise ZhikuError(f"bad mode {spec!r}: dense weight must be within 0..1")
    base, _, fusion = text.partition("-")
    if base in ("bm25", "dense"):
        if fusion or "@" in spec:
            raise ZhikuError(f"bad mode {spec!r}: only hybrid takes a fusion or a weight")
        return ModeSpec(spec.strip(), base, settings.fusion, weight, rerank=rerank)  # type: ignore[arg-type]
    if base != "hybrid":
        raise ZhikuError(f"unknown mode {spec!r}: use bm25, dense, hybrid, hybrid-<fusion>, hybrid@<weight>")
    fusion = fusion or settings.fusion
    if fusion not in FUSIONS:
        raise ZhikuError(f"unknown fusion in {spec!r}; choose one of {sorted(FUSIONS)}")
    return ModeSpec(spec.strip(), "hybrid", fusion, weight, feedback, rerank)


@contextmanager
def temp_app(settings: Settings) -> Iterator[App]:
    """An ``App`` over a fresh store in a temporary folder, sharing the settings' vector cache."""
    with tempfile.TemporaryDirectory(prefix="zhiku-eval-") as tmp:
        store = SQLiteStore(
            Path(tmp) / "eval.db",
            keyword_index=settings.keyword_index,
            memory_index_min_chunks=settings.memory_index_min_chunks,
        )
        app = App(settings, store=store)
        try:
            yield app
        finally:
            app.close()


def index_corpus(
    app: App,
    kb: str,
    corpus: Mapping[str, ParsedDocument],
    *,
    progress: ProgressFactory | None = None,
    desc: str = "index",
) -> int:
    """Index ``corpus`` (key -> document) into ``kb`` (created if missing); returns documents skipped.

    All chunk texts are embedded first in large batches (cached vectors are only looked up), then
    each document goes through ``App.add_parsed`` exactly as in production.
    """
    app.ensure_kb(kb)
    chunker = app.indexer.chunker
    texts = [c.index_text for doc in corpus.values() for c in chunker.chunk(doc)]
    if app.indexer.embedder is not None and texts:
        embed_bar = bar(progress, f"{desc}: embed", len(texts))
        app.embedder.embed_passages(texts, progress=embed_bar.update)
        embed_bar.close()
    skipped = 0
    doc_bar = bar(progress, f"{desc}: store", len(corpus))
    for key, doc in corpus.items():
        try:
            app.add_parsed(kb, key, doc)
        except ParseError:
            skipped += 1  # an empty document has nothing to retrieve
        doc_bar.update(1)
    doc_bar.close()
    return skipped


def evaluate_retrieval(
    settings: Settings,
    folder: Path,
    qrels: str = "test",
    modes: Sequence[str] = ("bm25", "dense", "hybrid"),
    *,
    progress: ProgressFactory | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Evaluate each mode in ``modes`` on the BEIR folder ``folder`` with judgements ``qrels``.

    ``limit`` keeps the first N judged queries (the whole corpus is always indexed).
    """
    folder = Path(folder)
    specs = [parse_mode(m, settings) for m in modes]
    if not specs:
        raise ZhikuError("no modes to evaluate")
    dataset = load_beir(folder, qrels)
    queries = dict(list(dataset.queries.items())[:limit] if limit else dataset.queries.items())
    judged = {qid: dataset.qrels[qid] for qid in queries}
    rankings: dict[str, dict[str, list[str]]] = {s.name: {} for s in specs}
    latencies: dict[str, list[float]] = {s.name: [] for s in specs}
    embed_ms: list[float] = []
    with temp_app(settings) as app:
        skipped = index_corpus(app, EVAL_KB, dataset.corpus, progress=progress, desc=folder.name)
        kb_id = app.get_kb(EVAL_KB).id
        app.store.warm_keyword_index(kb_id)  # measure the steady state, not the first rebuild
        needs_vector = any(s.mode != "bm25" for s in specs)
        query_bar = bar(progress, f"{folder.name}: queries", len(queries))
        for qid, text in queries.items():
            vector = None
            if needs_vector:
                start = time.perf_counter()
                vector = app.embedder.embed_query(text)
                embed_ms.append((time.perf_counter() - start) * 1000)
            for spec in specs:
                request = SearchRequest(
                    query=text,
                    kb_id=kb_id,
                    mode=spec.mode,
                    top_k=CHUNK_CANDIDATES,
                    candidates=CHUNK_CANDIDATES,
                    dense_weight=spec.dense_weight,
                    fusion=spec.fusion,
                    feedback=spec.feedback,
                    feedback_weight=settings.dense_feedback_weight,
                    query_vector=vector,
                    rerank=spec.rerank,
                )
                start = time.perf_counter()
                hits = app.retriever.search(request).hits
                latencies[spec.name].append((time.perf_counter() - start) * 1000)
                rankings[spec.name][qid] = collapse_to_documents((h.path for h in hits), DOC_DEPTH)
            query_bar.update(1)
        query_bar.close()
        embedder_name = app.embedder.name
        counts = app.store.counts(kb_id)
    results: dict[str, dict[str, float]] = {}
    for spec in specs:
        scores: dict[str, float] = dict(score_run(rankings[spec.name], judged))
        scores["latency_ms_p50"] = round(percentile(latencies[spec.name], 50), 2)
        scores["latency_ms_p95"] = round(percentile(latencies[spec.name], 95), 2)
        if spec.mode == "hybrid":
            scores["fusion"] = spec.fusion  # type: ignore[assignment]
            scores["dense_weight"] = spec.dense_weight
            scores["dense_feedback"] = spec.feedback
        if spec.rerank:
            scores["rerank"] = spec.rerank
        results[spec.name] = scores
    return {
        "dataset": folder.name,
        "qrels": qrels,
        "n": len(judged),
        "embedder": embedder_name,
        "corpus": {
            "documents": len(dataset.corpus),
            "skipped_empty": skipped,
            "chunks": counts["chunks"],
            "vectors": counts["vectors"],
        },
        "settings": {
            "dense_weight": settings.dense_weight,
            "fusion": settings.fusion,
            "dense_feedback": settings.dense_feedback,
            "dense_feedback_weight": settings.dense_feedback_weight,
            "reranker": settings.reranker,
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "chunk_candidates": CHUNK_CANDIDATES,
            "doc_depth": DOC_DEPTH,
        },
        "query_embed_ms_p50": round(percentile(embed_ms, 50), 2),
        "modes": results,
    }
