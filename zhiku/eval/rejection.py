"""Negative rejection on RGB-format JSONL (``id``, ``query``, ``answer``, ``positive``, ``negative``).

RGB's protocol gives the reader 5 passages per question. Two settings per question:

- **negatives only** (RGB noise rate 1.0): the first 5 ``negative`` passages; zhiku should refuse.
- **mixed** (RGB noise rate 0.4): the first 3 ``positive`` + first 2 ``negative`` passages (fewer
  positives are topped up with negatives, as RGB does); zhiku should answer, and the answer should
  contain the gold answer.

Each setting of each question gets its own small knowledge base holding just those passages (one
document per passage, ``corpus_document("", passage)``), in one temporary store; the question goes
through ``App.ask`` so the real retrieval ranking, evidence scoring and refusal decision are measured,
not a re-implementation. The passage order is shuffled per question with a fixed seed (it only
matters for ties: retrieval ranks the passages).

Answer matching follows RGB's ``checkanswer``: every element of ``answer`` must occur in the answer
text (an element that is a list is satisfied by any of its variants), after ``normalize_answer``.

``sweep`` re-uses the evidence score each answer carries (``Answer.evidence``; zhiku refuses exactly
when it is below the threshold), so the rates over thresholds 0.00..1.00 need one scoring pass. With
a reranker configured (``Settings.reranker``) it also sweeps ``rerank_threshold`` over the observed
reranker scores (``Answer.rerank``), the evidence threshold staying where the settings put it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ZhikuError
from ..settings import Settings
from ..types import ParsedDocument
from .beir import corpus_document
from .qa import normalize_answer, write_jsonl
from .report import ProgressFactory, bar
from .retrieval import index_corpus, temp_app

PASSAGES = 5
NOISE_RATE = 0.4
SEED = 13

Gold = str | list[str]


@dataclass
class RGBItem:
    id: str
    query: str
    answer: list[Gold]
    positive: list[str]
    negative: list[str]


@dataclass
class RejectionRecord:
    id: str
    setting: str  # "negative" | "mixed"
    query: str
    answer: str
    refused: bool
    evidence: float
    contains: bool
    rerank: float | None = None


def load_rgb(path: Path) -> list[RGBItem]:
    """The items of an RGB JSONL file (``zh_refine``/``en_refine`` style)."""
    items: list[RGBItem] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ZhikuError(f"{path}: cannot read ({exc})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answer = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
            items.append(
                RGBItem(str(row["id"]), str(row["query"]), answer, list(row["positive"]), list(row["negative"]))
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ZhikuError(f"{path}:{n}: not an RGB record (id, query, answer, positive, negative): {exc}") from None
    return items


def rgb_contains(text: str, answer: Sequence[Gold]) -> bool:
    """RGB's ``checkanswer``: every gold element found (a list element by any of its variants)."""
    haystack = normalize_answer(text)
    if not answer:
        return False
    for gold in answer:
        variants = gold if isinstance(gold, list) else [gold]
        if not any(normalize_answer(str(v)) and normalize_answer(str(v)) in haystack for v in variants):
            return False
    return True


def passages_for(item: RGBItem, setting: str) -> list[str]:
    """The 5 passages of ``item`` for ``negative`` (noise 1.0) or ``mixed`` (noise 0.4), shuffled."""
    if setting == "negative":
        chosen = item.negative[:PASSAGES]
    else:
        negatives = round(PASSAGES * NOISE_RATE)
        positives = min(PASSAGES - negatives, len(item.positive))
        chosen = item.positive[:positives] + item.negative[: PASSAGES - positives]
    chosen = list(dict.fromkeys(p for p in chosen if p.strip()))
    random.Random(f"{SEED}:{item.id}:{setting}").shuffle(chosen)
    return chosen


def evaluate_rejection(
    settings: Settings,
    file: Path,
    *,
    threshold: float | None = None,
    sweep: bool = False,
    limit: int | None = None,
    progress: ProgressFactory | None = None,
    details: Path | None = None,
) -> dict[str, Any]:
    """Refusal on negatives-only, false refusal and answer containing on mixed passages (see module doc)."""
    if threshold is not None:
        settings = settings.with_overrides(refusal_threshold=threshold)
    items = load_rgb(Path(file))
    items = items[:limit] if limit else items
    records: list[RejectionRecord] = []
    skipped = 0
    with temp_app(settings) as app:
        plans: list[tuple[RGBItem, str, dict[str, ParsedDocument]]] = []
        for item in items:
            for setting in ("negative", "mixed"):
                passages = passages_for(item, setting)
                if (setting == "mixed" and not item.positive) or not passages:
                    skipped += 1
                    continue
                plans.append((item, setting, {f"p{i}": corpus_document("", p) for i, p in enumerate(passages)}))
        # One embedding pass over every passage (mostly vector-cache hits), then small indexes.
        everything = {f"{n}:{key}": doc for n, (_, _, docs) in enumerate(plans) for key, doc in docs.items()}
        chunker = app.indexer.chunker
        texts = list(dict.fromkeys(c.index_text for doc in everything.values() for c in chunker.chunk(doc)))
        embed_bar = bar(progress, f"{Path(file).stem}: embed", len(texts))
        app.embedder.embed_passages(texts, progress=embed_bar.update)
        embed_bar.close()
        ask_bar = bar(progress, f"{Path(file).stem}: ask", len(plans))
        for n, (item, setting, docs) in enumerate(plans):
            kb = f"rgb-{n}"
            index_corpus(app, kb, docs)
            answer = app.ask(kb, item.query)
            records.append(
                RejectionRecord(
                    item.id,
                    setting,
                    item.query,
                    answer.text,
                    answer.refused,
                    answer.evidence,
                    not answer.refused and rgb_contains(answer.text, item.answer),
                    answer.rerank,
                )
            )
            app.delete_kb(kb)
            ask_bar.update(1)
        ask_bar.close()
        embedder = app.embedder.name
    if details is not None:
        write_jsonl(details, (asdict(r) for r in records))
    negative = [r for r in records if r.setting == "negative"]
    mixed = [r for r in records if r.setting == "mixed"]
    result: dict[str, Any] = {
        "dataset": Path(file).name,
        "n": len(items),
        "n_negative": len(negative),
        "n_mixed": len(mixed),
        "skipped_settings": skipped,
        "embedder": embedder,
        "threshold": settings.refusal_threshold,
        "refusal_rate": _rate(sum(r.refused for r in negative), len(negative)),
        "false_refusal_rate": _rate(sum(r.refused for r in mixed), len(mixed)),
        "answer_containing_rate": _rate(sum(r.contains for r in mixed), len(mixed)),
        "protocol": {"passages": PASSAGES, "mixed_noise_rate": NOISE_RATE, "seed": SEED},
    }
    if sweep:
        result["sweep"] = threshold_sweep([r.evidence for r in negative], [r.evidence for r in mixed])
        if any(r.rerank is not None for r in records):
            result["rerank_sweep"] = rerank_sweep(negative, mixed, settings.refusal_threshold)
    return result


def rerank_sweep(
    negative: Sequence[RejectionRecord], mixed: Sequence[RejectionRecord], evidence_threshold: float, points: int = 21
) -> list[dict[str, float]]:
    """Refusal and false-refusal rates as ``rerank_threshold`` moves over the observed reranker scores
    (their 0th, 5th, ..., 100th percentiles, since scores may be probabilities or raw logits); an answer
    is refused when its evidence is below ``evidence_threshold`` or its best reranker score below t."""
    scores = sorted(r.rerank for r in [*negative, *mixed] if r.rerank is not None)
    if not scores:
        return []
    cuts = sorted({scores[round(i * (len(scores) - 1) / (points - 1))] for i in range(points)})

    def refused(r: RejectionRecord, t: float) -> bool:
        return r.evidence < evidence_threshold or (r.rerank is not None and r.rerank < t)

    return [
        {
            "rerank_threshold": round(t, 4),
            "refusal_rate": _rate(sum(refused(r, t) for r in negative), len(negative)),
            "false_refusal_rate": _rate(sum(refused(r, t) for r in mixed), len(mixed)),
        }
        for t in cuts
    ]


def threshold_sweep(negative: Sequence[float], mixed: Sequence[float], step: float = 0.05) -> list[dict[str, float]]:
    """Refusal and false-refusal rates for thresholds 0, step, ..., 1 (refuse when evidence < t)."""
    rows = []
    for i in range(round(1 / step) + 1):
        t = round(i * step, 4)
        rows.append(
            {
                "threshold": t,
                "refusal_rate": _rate(sum(e < t for e in negative), len(negative)),
                "false_refusal_rate": _rate(sum(e < t for e in mixed), len(mixed)),
            }
        )
    return rows


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0
