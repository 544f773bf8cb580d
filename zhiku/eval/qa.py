"""Question-answering evaluation on SQuAD-format JSON (CMRC 2018, SQuAD v1/v2).

Every paragraph context becomes one document (title = article title) in a temporary store; every
question goes through ``App.ask`` (extractive mode unless an LLM is configured), i.e. the real
retrieval -> evidence -> refusal -> answer -> citation path.

Reported:

- ``answer_containing_rate``: share of all questions whose answer text contains any gold answer,
  after citation markers are stripped and both sides are normalised (NFKC width folding, case;
  whitespace and punctuation removed, as the SQuAD/CMRC scorers do). A refusal counts as a miss.
- ``citation_hit_rate``: among answered questions, share where some cited chunk's full text contains
  a gold answer (``citation_hit_rate_all`` uses all questions as the denominator).
- ``gold_cited_rate``: among answered questions, share citing the question's own paragraph.
- ``refusal_rate``: share of (answerable) questions refused; ``n``: questions asked.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ZhikuError
from ..settings import Settings
from ..types import ParsedDocument
from .beir import corpus_document
from .report import ProgressFactory, bar
from .retrieval import EVAL_KB, index_corpus, temp_app

_CITATION_RE = re.compile(r"[\[【]\s*\d+(?:\s*[,，、]\s*\d+)*\s*[\]】]")
_SPACE_RE = re.compile(r"\s+")


def normalize_answer(text: str) -> str:
    """Citation markers removed, full-width folded to half-width (NFKC), lower case, no whitespace and
    no punctuation (as the SQuAD and CMRC 2018 scorers do: "司马炎之子。" matches "司马炎之子，")."""
    text = _CITATION_RE.sub("", text)
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in _SPACE_RE.sub("", text) if not unicodedata.category(ch).startswith("P"))


def contains_any(text: str, golds: Iterable[str]) -> bool:
    """Whether any non-empty gold answer occurs in ``text`` (both normalised)."""
    haystack = normalize_answer(text)
    return any(g and g in haystack for g in (normalize_answer(x) for x in golds))


@dataclass
class QAItem:
    id: str
    question: str
    answers: list[str]
    doc_key: str


@dataclass
class QADataset:
    corpus: dict[str, ParsedDocument]
    items: list[QAItem]


@dataclass
class QARecord:
    """One question's outcome (a line of ``--details``)."""

    id: str
    question: str
    answers: list[str]
    answer: str
    refused: bool
    evidence: float
    contains: bool
    citation_hit: bool
    gold_cited: bool
    cited_docs: list[str] = field(default_factory=list)


def load_squad(path: Path) -> QADataset:
    """Paragraphs (key = paragraph id, else ``<article>#<n>``) and questions of a SQuAD-format file.

    Unanswerable SQuAD v2 questions (no gold answers) are skipped: this measures answering.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ZhikuError(f"{path}: cannot read SQuAD-format JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ZhikuError(f"{path}: expected SQuAD format {{'data': [{{'title', 'paragraphs': [...]}}]}}")
    corpus: dict[str, ParsedDocument] = {}
    items: list[QAItem] = []
    for a, article in enumerate(data["data"]):
        title = str(article.get("title") or "")
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            key = str(paragraph.get("id") or f"{article.get('id', a)}#{p}")
            corpus[key] = corpus_document(title, str(paragraph.get("context") or ""))
            for qa in paragraph.get("qas", []):
                golds = list(dict.fromkeys(str(x["text"]).strip() for x in qa.get("answers", []) if x.get("text")))
                if golds:
                    items.append(QAItem(str(qa.get("id", len(items))), str(qa["question"]), golds, key))
    return QADataset(corpus, items)


def evaluate_qa(
    settings: Settings,
    file: Path,
    *,
    limit: int | None = None,
    progress: ProgressFactory | None = None,
    details: Path | None = None,
) -> dict[str, Any]:
    """Ask every question of ``file`` (the first ``limit``) over an index of all its paragraphs."""
    dataset = load_squad(Path(file))
    items = dataset.items[:limit] if limit else dataset.items
    records: list[QARecord] = []
    with temp_app(settings) as app:
        index_corpus(app, EVAL_KB, dataset.corpus, progress=progress, desc=Path(file).stem)
        mode = "llm" if app.llm is not None else "extractive"
        ask_bar = bar(progress, f"{Path(file).stem}: ask", len(items))
        for item in items:
            answer = app.ask(EVAL_KB, item.question)
            cited = app.store.get_chunks(c.chunk_id for c in answer.citations) if answer.citations else {}
            cited_docs = [hit.path for hit in cited.values()]
            records.append(
                QARecord(
                    id=item.id,
                    question=item.question,
                    answers=item.answers,
                    answer=answer.text,
                    refused=answer.refused,
                    evidence=round(answer.evidence, 4),
                    contains=not answer.refused and contains_any(answer.text, item.answers),
                    citation_hit=not answer.refused and any(contains_any(h.text, item.answers) for h in cited.values()),
                    gold_cited=not answer.refused and item.doc_key in cited_docs,
                    cited_docs=cited_docs,
                )
            )
            ask_bar.update(1)
        ask_bar.close()
        embedder = app.embedder.name
    if details is not None:
        write_jsonl(details, (asdict(r) for r in records))
    n = len(records)
    answered = [r for r in records if not r.refused]
    return {
        "dataset": Path(file).name,
        "n": n,
        "mode": mode,
        "embedder": embedder,
        "documents": len(dataset.corpus),
        "answer_containing_rate": _rate(sum(r.contains for r in records), n),
        "citation_hit_rate": _rate(sum(r.citation_hit for r in answered), len(answered)),
        "citation_hit_rate_all": _rate(sum(r.citation_hit for r in records), n),
        "gold_cited_rate": _rate(sum(r.gold_cited for r in answered), len(answered)),
        "refusal_rate": _rate(n - len(answered), n),
        "settings": {
            "refusal_threshold": settings.refusal_threshold,
            "dense_weight": settings.dense_weight,
            "fusion": settings.fusion,
            "chunk_tokens": settings.chunk_tokens,
            "answer_sources": settings.answer_sources,
        },
    }


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write one JSON object per line (UTF-8, not ASCII-escaped)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
