"""Who does it: candidate answers to "who + verb" questions ("Who approves my leave?", "谁审批报销？").

Handbooks and procedures answer these with a role ("Your direct manager", "部门总监"), which no name
recogniser finds: neither capitalised nor tagged as a person by jieba. So the answer is read off the
sentence's grammar around the question's verb: the subject that opens the clause before it, or the
agent of a passive ("approved by your manager", "由直属经理审批", "还需财务部审批").
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Protocol

from .text import CJK_RE

# "Who approves ...?" asks for the doer of a verb; "who is / who do I ask" does not.
_WHO_VERB_EN = re.compile(r"\s*who\s+([a-z]+)\b", re.I)
_WHO_VERB_ZH = re.compile(r"谁(.{1,8})")
AUXILIARIES = frozenset(
    "is are was were be been do does did can could should shall will would may might must has have had "
    "am not also".split()
)
_RELATIVES = frozenset("who which that".split())
_BE = frozenset("is are was were be been being".split())
# Chinese: words between 谁 and its verb ("谁来审批", "谁可以批准"), and verbs that ask no doer.
_ZH_MODALS = frozenset("来 去 会 能 可以 应该 应 要 需要 最先 首先 先".split())
_ZH_NOT_DOING = frozenset("是 有 在 为 叫 姓 的".split())
# Words that hand the doing to the phrase after them: 由/被/经 (passive), 需/须 ("还需部门总监审批").
_ZH_AGENT_MARKS = frozenset("由 被 经 经由 交由 需 须 需要 还需 另需 请".split())
_LIST_MARK_RE = re.compile(r"\s*(?:\d+[.、)）]|[-*•])?\s*")
_ZH_CLAUSE_END = "，,；;。：:！？!?\n"


class _Stemmer(Protocol):
    def terms(self, text: str) -> list[str]: ...


class DoerFinder:
    """Finds the doer of a question's verb in sentences. ``stemmer`` is the analyser (its ``terms``
    stem English words, so "approves" meets "approved"); ``posseg`` a jieba part-of-speech tokenizer."""

    def __init__(self, stemmer: _Stemmer, posseg: Any) -> None:
        self.stemmer = stemmer
        self.posseg = posseg

    def verb(self, question: str) -> str:
        """The verb whose doer a "who" question asks for (stemmed for English), or ""."""
        if CJK_RE.search(question):
            m = _WHO_VERB_ZH.search(question)
            if m is None:
                return ""
            for word, flag in self.posseg.cut(m.group(1)):
                if word in _ZH_MODALS or flag == "d":
                    continue
                return word if flag.startswith("v") and word not in _ZH_NOT_DOING else ""
            return ""
        m = _WHO_VERB_EN.match(question)
        if m is None or m.group(1).lower() in AUXILIARIES:
            return ""
        return next(iter(self.stemmer.terms(m.group(1))), "")

    def find(self, verb: str, sentence: str) -> list[tuple[str, int]]:
        """(doer, start) pairs for each place ``sentence`` uses ``verb``."""
        if not verb:
            return []
        return self._chinese(verb, sentence) if CJK_RE.search(verb) else self._english(verb, sentence)

    def _english(self, verb: str, sentence: str) -> list[tuple[str, int]]:
        words = list(re.finditer(r"[\w'-]+|[^\w\s]", sentence))
        found: list[tuple[str, int]] = []
        for i, word in enumerate(words):
            if not word.group()[0].isalpha() or next(iter(self.stemmer.terms(word.group())), "") != verb:
                continue
            after = words[i + 1 : i + 6]
            noun = word.group().lower().endswith(("al", "ion", "ment", "ance", "ence", "ing"))  # "approval"
            if after and (after[0].group().lower() == "by" or (noun and after[0].group().lower() == "from")):
                # passive, or a noun: the doer follows ("approved by your manager", "approval from Finance")
                phrase = list(itertools.takewhile(lambda w: w.group()[0].isalnum() or w.group() in "'-", after[1:]))
                phrase = phrase[:4]
            elif noun or (i and words[i - 1].group().lower() in _BE):
                continue  # a noun, or a passive without its doer ("must be approved in advance")
            else:  # active: the doer is the whole clause before the verb, when that is a short phrase
                before = list(itertools.takewhile(lambda w: w.group()[0].isalnum(), reversed(words[:i])))
                opens_clause = len(before) == i or words[i - len(before) - 1].group() in ",;:(—-"
                phrase = [w for w in reversed(before) if w.group().lower() not in AUXILIARIES]
                if not opens_clause or len(phrase) > 4 or (phrase and phrase[-1].group().lower() in _RELATIVES):
                    phrase = []  # "... titles won 1968-2022": not the doer
            if phrase:
                found.append((sentence[phrase[0].start() : phrase[-1].end()], phrase[0].start()))
        return found

    def _chinese(self, verb: str, sentence: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for m in re.finditer(re.escape(verb), sentence):
            start = max(sentence.rfind(c, 0, m.start()) for c in _ZH_CLAUSE_END) + 1
            marker = _LIST_MARK_RE.match(sentence, start)  # "4. 直属经理…" opens with a list marker
            start = marker.end() if marker else start
            words: list[tuple[str, str, int]] = []
            pos = start
            for word, flag in self.posseg.cut(sentence[start : m.start()]):
                words.append((word, flag, pos))
                pos += len(word)
            marks = [k for k, (word, _, _) in enumerate(words) if word in _ZH_AGENT_MARKS]
            if marks:  # "由直属经理审批", "还需部门总监审批": the agent follows the mark
                phrase = words[marks[-1] + 1 :]
            else:  # the clause's subject, up to its first preposition, adverb or verb ("直属经理在 2 天内审批")
                phrase = list(itertools.takewhile(lambda w: not w[1].startswith(("p", "d", "v", "m", "u")), words))
                if len(phrase) < len(words) and not words[len(phrase)][1].startswith(("p", "d", "v")):
                    phrase = []  # "2000 元以下的报销审批": a number or particle, not a subject
            phrase = [w for w in phrase if w[0].strip()]
            text = "".join(w[0] for w in phrase)
            if phrase and 2 <= len(text) <= 10 and phrase[-1][1].startswith("n"):
                found.append((text, phrase[0][2]))
        return found
