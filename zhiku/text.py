"""Text utilities shared by chunking, keyword search and answering.

Chinese has no spaces, so keyword search needs a word segmenter (jieba); English needs stemming so
"leaves" matches "leave". ``Analyzer`` does both on mixed text and is the single definition of a
"term" for the keyword index, for queries and for answer verification.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .simplify import Simplifier
from .synonyms import Synonyms, load_synonyms
from .tabletext import TABLE_ROW_RE, has_separator, is_separator, readable, table_snippet

if TYPE_CHECKING:
    from .settings import Settings

# CJK Unified Ideographs (+ extension A and compatibility ideographs).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RE = re.compile(f"[{_CJK}]")
# A run of CJK characters, or a word of letters/digits (keeps 3.5, COVID-19, e-mail together).
_SEGMENT_RE = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+(?:[.\\-'][^\\W_{_CJK}]+)*", re.UNICODE)
_WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
#: ``_WORD_RE`` for ASCII-only text (where the two match the same runs): a plain class is faster.
_ASCII_WORD_RE = re.compile(r"[A-Za-z0-9]+")

EN_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves s t don""".split()
)
#: Irregular past forms -> the verb, which stemming cannot see ("lost" would never meet "lose").
#: Only forms that are rarely anything else: not "left", "saw", "felt", "lay", "rose", "led", "found".
IRREGULAR_VERBS = {
    form: base
    for base, forms in {
        "begin": "began begun",
        "break": "broke broken",
        "bring": "brought",
        "build": "built",
        "buy": "bought",
        "catch": "caught",
        "choose": "chose chosen",
        "come": "came",
        "do": "did done",
        "draw": "drew drawn",
        "drink": "drank drunk",
        "drive": "drove driven",
        "eat": "ate eaten",
        "fall": "fallen",
        "fight": "fought",
        "fly": "flew flown",
        "forget": "forgot forgotten",
        "freeze": "froze frozen",
        "get": "got gotten",
        "give": "gave given",
        "go": "went gone",
        "grow": "grew grown",
        "hide": "hid hidden",
        "hold": "held",
        "keep": "kept",
        "know": "knew known",
        "lose": "lost",
        "make": "made",
        "mean": "meant",
        "meet": "met",
        "pay": "paid",
        "ride": "rode ridden",
        "run": "ran",
        "say": "said",
        "see": "seen",
        "sell": "sold",
        "send": "sent",
        "show": "shown",
        "sing": "sang sung",
        "sit": "sat",
        "sleep": "slept",
        "speak": "spoken",
        "spend": "spent",
        "steal": "stole stolen",
        "take": "took taken",
        "teach": "taught",
        "tell": "told",
        "think": "thought",
        "throw": "threw thrown",
        "understand": "understood",
        "wake": "woke woken",
        "wear": "wore worn",
        "win": "won",
        "write": "wrote written",
    }.items()
    for form in forms.split()
}
ZH_STOPWORDS = frozenset(
    """的 了 是 在 和 与 及 或 等 也 就 都 而 及其 把 被 让 给 对 从 向 于 以 之 其 这 那 这个 那个 这些 那些
    一个 一种 我 你 他 她 它 我们 你们 他们 吗 呢 吧 啊 呀 么 什么 怎么 怎样 如何 为什么 哪 哪些 哪个 哪里
    多少 几 谁 请问 请 有 没有 会 能 可以 要 是否 还 又 上 下 中 里 个 着 过 得 地 所 为 由 并 但 如果 因为
    所以 则 即 该 此 各 每""".split()
)


def normalize(text: str) -> str:
    """NFKC-normalise (full-width -> half-width) and collapse whitespace runs inside lines."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[ \t\u00a0\u3000]+", " ", text)


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among letters: 0.0 for pure English, 1.0 for pure Chinese."""
    cjk = len(CJK_RE.findall(text))
    if cjk == 0:
        return 0.0
    latin = sum(len(w) for w in re.findall(r"[A-Za-z]+", text))
    # An English word is ~5 letters but carries about as much meaning as 1.5 Chinese characters.
    return cjk / (cjk + latin / 3.0)


def detect_language(text: str) -> str:
    """``"zh"`` or ``"en"``: enough for choosing the answer's language."""
    return "zh" if cjk_ratio(text) >= 0.3 else "en"


def estimate_tokens(text: str) -> int:
    """Approximate subword tokens for multilingual models (XLM-R style).

    Measured against multilingual-e5's tokenizer: ~0.8 token per Chinese character and ~1.4 per
    English word. Used to size chunks without loading a model.
    """
    # The chunker asks for every block, sentence and table row: English text skips the CJK passes,
    # and ``subn`` counts the CJK characters while blanking them (one pass instead of two).
    if text.isascii():
        return int(len(_ASCII_WORD_RE.findall(text)) * 1.4 + 0.5)
    rest, cjk = CJK_RE.subn(" ", text)
    return int(cjk * 0.8 + len(_WORD_RE.findall(rest)) * 1.4 + 0.5)


# Sentence ends: Chinese full stops (optionally followed by closing quotes), or Western punctuation
# followed by whitespace, or a line break.
_SENTENCE_END_RE = re.compile(r"[。！？；!?]+[」』”’）)]*|[.!?]+[\"'”’)]*(?=\s)|\n+")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "prof", "fig", "no", "al", "st"})


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text`` (Chinese and English, mixed), whitespace trimmed.

    A Markdown table row is one span, whatever its cells say (a row is the unit a table answers
    with); separator rows (``| --- |``) are no span at all.
    """
    if (not text.startswith("|") and "\n|" not in text) or not has_separator(text):
        return _prose_spans(text, 0, len(text), [])
    spans: list[tuple[int, int]] = []
    prose = 0  # where the prose before the next table row starts
    for m in TABLE_ROW_RE.finditer(text):
        _prose_spans(text, prose, m.start(), spans)
        if not is_separator(m.group()):
            _add_span(text, m.start(), m.end(), spans)
        prose = m.end()
    return _prose_spans(text, prose, len(text), spans)


def snippet(text: str, query: str, analyzer: Analyzer, width: int = 240) -> str:
    """What to show of a retrieved chunk for ``query`` (callers cut it to ``width``): a table chunk's
    head and the rows the query names (``tabletext.table_snippet``); prose from the sentence sharing
    the most query terms, with the sentence before it when that is short, "…" marking the cut, when
    that sentence would fall outside the first half of ``width``; otherwise the chunk from its start.
    """
    wanted = set(analyzer.terms(query))
    table = table_snippet(text, wanted, analyzer)
    if table is not None:
        return table
    shown = readable(text)
    spans = sentence_spans(shown)
    if not wanted or len(spans) < 2:
        return shown
    shared = [len(wanted & set(analyzer.terms(shown[s:e]))) for s, e in spans]
    best = shared.index(max(shared))
    if shared[best] == 0 or spans[best][1] <= width // 2:
        return shown
    start = spans[best][0]
    if best and start - spans[best - 1][0] < width // 3:
        start = spans[best - 1][0]
    return "…" + shown[start:]


def _prose_spans(text: str, start: int, stop: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    for m in _SENTENCE_END_RE.finditer(text, start, stop):
        end = m.end()
        if m.group().startswith(".") and _ends_with_abbreviation(text, m.start()):
            continue
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, stop, spans)
    return spans


def _ends_with_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([A-Za-z.]+)$", text[max(0, dot - 8) : dot])
    return bool(word and (word.group(1).lower() in _ABBREVIATIONS or len(word.group(1)) == 1))


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``."""
    return [text[s:e] for s, e in sentence_spans(text)]


class Analyzer:
    """Turns mixed Chinese/English text into index terms.

    Traditional Chinese is read as Simplified first (``zhiku.simplify``), so both scripts meet.
    Chinese runs go through jieba's search mode (which also emits the sub-words of long words, so
    "人工智能" matches "智能"); English words are lower-cased and Snowball-stemmed, irregular past forms
    taken back to their verb first ("lost" -> "lose", ``IRREGULAR_VERBS``). Stopwords and
    punctuation are dropped. One instance is reused: jieba's dictionary takes ~1 s to load.
    """

    def __init__(self, cache_dir: Path | None = None, synonyms: Synonyms | None = None) -> None:
        self._cache_dir = cache_dir
        #: Traditional Chinese read as Simplified (``zhiku.simplify``): terms, and the evidence read
        #: from questions and passages, are the same in both scripts.
        self.simplify = Simplifier()
        #: The organisation's synonyms (``zhiku.synonyms``), written as the text they apply to is read.
        self.synonyms = Synonyms([[self.simplify(w) for w in g] for g in synonyms.groups]) if synonyms else None

    @property
    def signature(self) -> str:
        """What, besides zhiku's own code, decides the terms: the synonyms' fingerprint ("" without)."""
        return self.synonyms.fingerprint if self.synonyms else ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Analyzer:
        """The analyser ``settings`` describe (cache folder, synonyms file)."""
        return cls(settings.cache_dir, load_synonyms(settings.synonyms))

    @cached_property
    def _jieba(self) -> Any:
        """The jieba tokenizer, loaded on the first Chinese text (English-only work never pays for it).

        A ``LeanTokenizer``: jieba's own segmentation over a compact dictionary cached in
        ``cache_dir`` (~8 MB instead of jieba's ~85 MB dict; see ``zhiku.segment``).
        """
        import logging

        from .segment import tokenizer_class

        tokenizer = tokenizer_class()()
        # jieba logs its dictionary loading at INFO on its own logger; keep the user's terminal quiet.
        logging.getLogger("jieba").setLevel(logging.WARNING)
        if self._cache_dir is not None:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            tokenizer.tmp_dir = str(self._cache_dir)
        tokenizer.initialize()
        return tokenizer

    @property
    def jieba_loaded(self) -> bool:
        """Whether jieba's dictionary is loaded in this analyzer already."""
        return "_jieba" in self.__dict__

    def load_jieba(self) -> None:
        """Load jieba now (it otherwise loads on the first Chinese text)."""
        _ = self._jieba

    @staticmethod
    def needs_jieba(text: str) -> bool:
        """Whether ``terms(text)`` segments Chinese (and so needs jieba); NFKC first, as ``terms``
        does (a Kangxi radical such as "⼀" becomes the ideograph "一")."""
        return CJK_RE.search(text) is not None or CJK_RE.search(unicodedata.normalize("NFKC", text)) is not None

    @cached_property
    def _stemmer(self) -> Any:
        import Stemmer

        return Stemmer.Stemmer("english")

    def is_word(self, word: str) -> bool:
        """Whether ``word`` is in jieba's dictionary (a word the HMM made up from context is not)."""
        return self._jieba.FREQ.get(word, 0) > 0

    def terms(self, text: str, *, parts: bool = True) -> list[str]:
        """Index terms of ``text`` in order (repeats kept: BM25 counts them).

        A compound word (hyphen, dot or apostrophe inside) gives its parts and its parts joined:
        "Wi-Fi" -> ``wi fi wifi``, "vpn.lanting.example" -> ``vpn lanting exampl vpnlantingexampl``, so
        "wifi", "Wi Fi" and "password" meet them. With ``parts=False`` only the joined form: a
        question that writes "Wi-Fi" should not need "wi" and "fi" found as two more words.
        """
        return list(self._iter_terms(text, parts=parts))

    def _cut_index(self, seg: str) -> Iterator[str]:
        return self._jieba.cut_for_search(seg, HMM=True)

    def _cut_query(self, seg: str) -> Iterator[str]:
        return self._jieba.cut(seg, HMM=True)

    def _iter_terms(
        self, text: str, cut: Callable[[str], Iterator[str]] | None = None, *, parts: bool = True
    ) -> Iterator[str]:
        text = self.simplify(unicodedata.normalize("NFKC", text).lower())
        if self.synonyms:
            text = self.synonyms(text)
        stem = self._stemmer.stemWord
        cut = cut or self._cut_index
        for m in _SEGMENT_RE.finditer(text):
            seg = m.group().removesuffix("'s")  # "company's" is "company"
            if CJK_RE.match(seg):
                for word in cut(seg):
                    if word not in ZH_STOPWORDS:
                        yield word
            elif seg in EN_STOPWORDS:
                continue
            elif seg.isalnum():  # the common case, without the regex below
                yield stem(IRREGULAR_VERBS.get(seg, seg))
            else:
                # A compound ("wi-fi", "vpn.lanting.example", "covid-19"): the words of its stem
                # and those words joined, as the large-KB keyword index has always expanded them.
                # Every term is then one token for FTS5's unicode61 tokenizer (which would make a
                # phrase of "wi-fi"), and the evidence sees "wifi" in "Wi-Fi".
                pieces = _WORD_RE.findall(stem(IRREGULAR_VERBS.get(seg, seg)))
                if parts or len(pieces) == 1:
                    yield from pieces
                if len(pieces) > 1:
                    yield "".join(pieces)

    def query_terms(self, text: str) -> list[str]:
        """Distinct terms of a query, in first-seen order (a compound's parts and joined form, as in
        documents: BM25 on SciFact loses 0.017 nDCG@10 when a query asks for the joined form alone).

        Chinese queries are cut in jieba's accurate mode, documents in search mode (the usual
        fine-index / coarse-query pairing): the index holds every long word and its sub-words, so
        "死亡人数" in a question matches the passages that state it, without "人数" alone pulling in
        every passage that counts something. RGB retrieval_zh BM25 nDCG@10 0.682 -> 0.695, and
        fewer posting lists to rank.
        """
        return list(dict.fromkeys(self._iter_terms(text, cut=self._cut_query)))
