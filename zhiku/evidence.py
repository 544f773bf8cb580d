"""Does the retrieved text actually answer the question? Decided before any model is paid.

Retrieval scores say a passage is *about* the question; they cannot tell an on-topic passage that
lacks the answer from one that has it. The evidence score therefore looks at sentences:

- **coverage**: the share of the question's content terms (IDF-weighted within the candidates) that a
  sentence and its neighbour contain;
- **answer type**: a "how many / 多少" question needs a number in the sentence that the question does
  not already contain, "when / 何时" needs a date, and any question needs some new content terms;
- **retrieval agreement**: the chunk's fused retrieval score.

The best sentence's combined score in [0, 1] is the evidence; below ``Settings.refusal_threshold``
zhiku refuses. The weights were calibrated on RGB zh_refine and CMRC 2018 (docs/answers.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import Analyzer, sentence_spans
from .types import Hit

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*|[零一二两三四五六七八九十百千万亿]+")
_DATE_RE = re.compile(
    r"\d{4}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*[日号]|\d{1,2}\s*月|\b(1[89]|20)\d{2}\b|"
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|周[一二三四五六日]|星期|\d{1,2}:\d{2}",
    re.IGNORECASE,
)
_ASKS_NUMBER = re.compile(r"多少|几[个天年月次人名位家]|几|how (many|much|long|old)|what percentage|number of", re.I)
_ASKS_DATE = re.compile(r"何时|什么时候|哪一?年|哪一?天|几月|几号|日期|when\b|what (year|date|day|time)", re.I)


@dataclass
class SentenceScore:
    hit_index: int
    start: int
    end: int
    coverage: float
    type_ok: bool
    score: float


@dataclass
class Evidence:
    score: float
    best: list[SentenceScore]


class EvidenceScorer:
    """Scores how well ``hits`` answer ``question``; see the module docstring."""

    def __init__(self, analyzer: Analyzer, weights: tuple[float, float, float] = (0.7, 0.2, 0.1)) -> None:
        self.analyzer = analyzer
        self.w_cover, self.w_type, self.w_retrieval = weights

    def score(self, question: str, hits: Sequence[Hit]) -> Evidence:
        q_terms = self.analyzer.query_terms(question)
        if not hits or not q_terms:
            return Evidence(0.0, [])
        hit_terms = [set(self.analyzer.terms(h.text)) for h in hits]
        idf = _idf(q_terms, hit_terms)
        total = sum(idf.values()) or 1.0
        wants_number = bool(_ASKS_NUMBER.search(question))
        wants_date = bool(_ASKS_DATE.search(question))
        q_numbers = set(_NUMBER_RE.findall(question))
        top_retrieval = max(h.score for h in hits) or 1.0
        scored: list[SentenceScore] = []
        for i, hit in enumerate(hits):
            spans = sentence_spans(hit.text)
            sent_terms = [set(self.analyzer.terms(hit.text[s:e])) for s, e in spans]
            for j, (s, e) in enumerate(spans):
                # A sentence plus its neighbours: the subject is often named one sentence earlier.
                window = sent_terms[j] | (sent_terms[j - 1] if j else set())
                window |= sent_terms[j + 1] if j + 1 < len(spans) else set()
                coverage = sum(idf[t] for t in q_terms if t in window) / total
                sentence = hit.text[s:e]
                novel = len(sent_terms[j] - set(q_terms)) >= 2
                type_ok = novel
                if wants_number:
                    type_ok = type_ok and any(n not in q_numbers for n in _NUMBER_RE.findall(sentence))
                if wants_date:
                    type_ok = type_ok and bool(_DATE_RE.search(sentence))
                retrieval = max(hit.score, 0.0) / top_retrieval if top_retrieval > 0 else 0.0
                combined = self.w_cover * coverage + self.w_type * float(type_ok) + self.w_retrieval * retrieval
                scored.append(SentenceScore(i, s, e, coverage, type_ok, combined))
        scored.sort(key=lambda x: x.score, reverse=True)
        return Evidence(scored[0].score if scored else 0.0, scored)


def _idf(q_terms: Sequence[str], docs: Sequence[set[str]]) -> dict[str, float]:
    """IDF of each query term within the candidate chunks: rare terms weigh more."""
    n = len(docs)
    return {t: math.log(1 + (n + 1) / (1 + sum(1 for d in docs if t in d))) for t in q_terms}
