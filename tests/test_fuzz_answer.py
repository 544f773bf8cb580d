"""Fuzzing the answerer: any question over any retrieved text gives an answer or a refusal, never an error.

The evidence scorer and the extractive answerer read sentences with many hand-written rules (numbers,
bounds, dates, names, doers, list items, table rows). Hypothesis builds chunks and questions from the
pieces those rules look for — numbers in every shape ("1.2.3", "2,000", "5000元"), bound words
(以上, "or more"), table pipes, list markers, headings, question words, pronouns — mixed with random
text, and checks the invariants an API caller relies on. Each test runs twice: plain, and with the
cross-language bridge forced onto every question (any similarity is a match), so its paths through
evidence, extraction and verification meet the same inputs (~40% of its examples bridge something).

Budget: ``ZHIKU_FUZZ_EXAMPLES`` examples per test (default 150, a few seconds).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz test needs hypothesis (pip install -e '.[dev]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zhiku.answer import Answerer  # noqa: E402
from zhiku.bridge import TermBridge  # noqa: E402
from zhiku.text import Analyzer  # noqa: E402
from zhiku.types import Hit, Locator  # noqa: E402

EXAMPLES = int(os.environ.get("ZHIKU_FUZZ_EXAMPLES", "150"))

NUMBERS = ["1.2.3", "2,000", "5000", "3,000", "12", "0", "0.5", "99999999999999999999999", "1" + "0" * 400, "2022"]
UNITS = ["", " ", "元", " yuan ", " 天", "年", "%", " days "]
BOUNDS = ["以上", "及以下", "以内", "or more", "and below", "超过", "under", "up to", "at least", "不少于"]
SENTENCES = [
    "New hires get 10 days of annual leave per year. ",
    "Claims of 2,000 yuan or more need approval from Finance. ",
    "They must be approved by your manager at least 7 days before departure. ",
    "- 2000 元以下的报销由直属经理审批。\n",
    "新员工入职第一年享有 10 天带薪年假。",
    "| 城市 | 住宿上限 |\n| --- | --- |\n| 北京 | 600 |\n",
]
PIECES = [
    "15th",
    "2022年",
    "06/19/2020",
    "10:00",
    "第三届",
    "年假",
    "审批",
    "由",
    "还需",
    "直属经理",
    "谁",
    "Who",
    "approves",
    "approved by",
    "They",
    "It",
    "However,",
    "Release Date:",
    "Tuesday",
    "星期二",
    "?",
    "？",
    "。",
    ".",
    ":",
    "：",
    "；",
    "\n",
    "\n\n",
    "- ",
    "1. ",
    "| a | b |",
    "| --- | --- |",
    "| 1 | 2 |",
    "## Heading",
    "《书名》",
    "New hires",
    "Finance",
    "how many",
    "多少",
    "何时",
    "when",
    "几点",
    "的",
    " ",
    "\u200b",
    "\ufeff",
    "😀",
    "\x00",
]


def hashed_embed(texts: Sequence[str]) -> np.ndarray:
    """A deterministic stand-in for the USE word model: 8 dimensions, so that chance similarities are
    high and, with the bridge's thresholds at 0, every cross-language path is taken."""
    rows = [
        np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], dtype=np.uint8).astype(np.float32) - 127.5 for t in texts
    ]
    return np.stack(rows) if rows else np.zeros((0, 8), dtype=np.float32)


@pytest.fixture(scope="module", params=["plain", "bridged"])
def answerer(request: pytest.FixtureRequest) -> Answerer:
    analyzer = Analyzer()
    if request.param == "plain":
        return Answerer(analyzer, refusal_threshold=0.5)
    # The cross-language bridge (zhiku.bridge) on every question, matching words at any similarity.
    return Answerer(
        analyzer, refusal_threshold=0.5, bridge=TermBridge(analyzer, hashed_embed, threshold=0.0, margin=0.0)
    )


def pieces() -> st.SearchStrategy[str]:
    number = st.sampled_from(NUMBERS)
    amount = st.tuples(number, st.sampled_from(UNITS)).map("".join)
    bound = st.one_of(  # "2,000 yuan or more", "超过 5000"
        st.tuples(amount, st.sampled_from(BOUNDS)).map("".join),
        st.tuples(st.sampled_from(BOUNDS), st.sampled_from(UNITS), number).map("".join),
    )
    sentence = st.sampled_from(SENTENCES)
    return st.one_of(sentence, sentence, sentence, st.sampled_from(PIECES), number, amount, bound, st.text(max_size=12))


QUESTION_WORDS = ["多少", "谁", "何时", "几点", "哪里", "how many", "who", "when", "what", "?", "？", ""]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), chunks=st.lists(st.lists(pieces(), max_size=40), min_size=0, max_size=4))
def test_any_question_over_any_text_answers_or_refuses(
    answerer: Answerer, data: st.DataObject, chunks: list[list[str]]
) -> None:
    # Questions reuse the chunks' own pieces (so that some are answered) around a question word.
    words = [p for chunk in chunks for p in chunk]
    vocabulary = [w for p in words for w in p.split()] or [""]
    asked = data.draw(st.lists(st.sampled_from(vocabulary), max_size=6))
    extra = data.draw(st.lists(pieces(), max_size=3))
    question = " ".join([*asked, *extra, data.draw(st.sampled_from(QUESTION_WORDS))])
    texts = ["".join(chunk) for chunk in chunks]
    hits = [Hit(i + 1, i, 1.0 - 0.1 * i, t, Locator(heading_path=("H",)), path=f"d{i}.md") for i, t in enumerate(texts)]
    answer = answerer.answer(question, hits)
    hypothesis.event("refused" if answer.refused else "answered")
    assert 0.0 <= answer.evidence <= 1.0
    if answer.refused:
        assert not answer.citations
    else:
        assert answer.text.strip() and answer.citations
        # Every [n] in the text names a citation that was given.
        numbers = {c.n for c in answer.citations}
        assert all(f"[{n}]" in answer.text for n in numbers)
