"""zhiku.bridge: cross-language word matches, and the evidence they let the scorer see."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from zhiku.bridge import TermBridge
from zhiku.evidence import EvidenceScorer
from zhiku.text import Analyzer
from zhiku.types import Hit, Locator

# A toy bilingual lexicon: words of one concept get the same direction; every other word a direction
# of its own (hashed), nearly orthogonal to the rest in 64 dimensions.
CONCEPTS = {
    "病假": 0,
    "Sick leave": 0,
    "sick leave": 0,
    "密码": 1,
    "password": 1,
    "Passwords": 1,
    "办公室": 2,
    "office": 2,
}


def toy_embed(texts: Sequence[str]) -> np.ndarray:
    rows = []
    for text in texts:
        if text in CONCEPTS:
            v = np.zeros(64, dtype=np.float32)
            v[CONCEPTS[text]] = 1.0
        else:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).standard_normal(64).astype(np.float32)
            v[:3] = 0.0
        rows.append(v / np.linalg.norm(v))
    return np.stack(rows)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture()
def bridge(analyzer: Analyzer) -> TermBridge:
    return TermBridge(analyzer, toy_embed, margin=0.0)


def hit(text: str, doc_id: int = 1) -> Hit:
    return Hit(chunk_id=doc_id, doc_id=doc_id, score=1.0, text=text, locator=Locator(), path="h.md")


def embed_with(near: dict[str, list[float]]) -> Callable[[Sequence[str]], np.ndarray]:
    """``toy_embed``, with the texts of ``near`` placed in two dimensions of their own."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        rows = toy_embed(texts)
        for i, text in enumerate(texts):
            if text in near:
                rows[i] = 0.0
                rows[i, 60:62] = near[text]
        return rows

    return embed


ENGLISH = "| Leave type | Days per year |\n| --- | --- |\n| Sick leave | 12 |\n| Marriage leave | 3 |"


def test_a_chinese_word_meets_an_english_phrase(bridge: TermBridge, analyzer: Analyzer) -> None:
    terms = analyzer.terms("病假有几天？")
    bridged = bridge.bridges("病假有几天？", [ENGLISH], terms)
    assert bridged["病假"] == frozenset({"sick", "leav"})


def test_nothing_is_bridged_within_one_language(bridge: TermBridge, analyzer: Analyzer) -> None:
    question = "How many days of sick leave?"
    assert bridge.bridges(question, [ENGLISH], analyzer.terms(question)) == {}
    assert bridge.bridges("病假有几天？", ["病假每年 12 天。"], analyzer.terms("病假有几天？")) == {}


def test_a_word_the_passage_holds_is_not_looked_up(bridge: TermBridge, analyzer: Analyzer) -> None:
    question = "office 密码多长？"
    passage = "Passwords must be 14 characters long in the office."
    bridged = bridge.bridges(question, [passage], analyzer.terms(question))
    assert "密码" in bridged and "offic" not in bridged


def test_weak_or_unremarkable_matches_are_not_bridges(analyzer: Analyzer) -> None:
    question = "班车几点发车？"  # no concept shared with the passage: only chance similarities
    strict = TermBridge(analyzer, toy_embed)
    assert strict.bridges(question, [ENGLISH], analyzer.terms(question)) == {}
    # the margin: a word as close to everything as to its best match matches nothing
    flat = TermBridge(analyzer, lambda texts: np.ones((len(texts), 4), dtype=np.float32))
    assert flat.bridges("病假有几天？", [ENGLISH], analyzer.terms("病假有几天？")) == {}


def test_a_phrase_does_not_take_a_word_that_matches_alone(bridge: TermBridge, analyzer: Analyzer) -> None:
    # "everyone office" is closest to 办公室 only because "office" is: it must not bridge "everyone".
    question = "Which day must everyone be in the office?"
    bridged = bridge.bridges(question, ["每周二所有员工须到办公室。"], analyzer.terms(question))
    assert bridged.get("offic") == frozenset({"办公室", "办公", "公室"}) or "offic" in bridged
    assert "everyon" not in bridged


def test_a_phrase_does_not_take_a_word_of_several_terms_that_matches_alone(analyzer: Analyzer) -> None:
    # jieba indexes 年终奖 as 年终奖 and 年终. The phrase 年终奖发 matches "paid annual" only through
    # 年终奖, which matches it better alone: 发 must not be bridged to "paid annual" with it.
    embed = embed_with({"年终奖": [1.0, 0.0], "paid annual": [1.0, 0.0], "年终奖发": [0.9, 0.436]})
    assert set(analyzer.terms("年终奖")) == {"年终", "年终奖"}
    question = "年终奖怎么发？"
    bridged = TermBridge(analyzer, embed, margin=0.0).bridges(
        question, ["New hires get 10 days of paid annual leave."], analyzer.terms(question)
    )
    assert bridged.get("年终奖") == frozenset({"pay", "annual"})
    assert "发" not in bridged


def test_the_scorer_sees_bridged_terms(analyzer: Analyzer) -> None:
    hits = [hit(ENGLISH)]
    plain = EvidenceScorer(analyzer).score("病假有几天？", hits, unknown={"病假"})
    bridged = EvidenceScorer(analyzer, bridge=TermBridge(analyzer, toy_embed, margin=0.0)).score(
        "病假有几天？", hits, unknown={"病假"}
    )

    def sick_row(evidence):  # type: ignore[no-untyped-def]
        return next(s for s in evidence.best if "Sick leave" in hits[0].text[s.start : s.end])

    assert sick_row(bridged).features["cover"] > 0.5 and sick_row(plain).features["cover"] == 0.0
    # 病假 was unknown to the knowledge base, which shrank the evidence; stated in English, it is known
    assert plain.score < 0.1 < bridged.score


def test_an_answer_in_the_other_language_is_verified_against_its_sources(analyzer: Analyzer) -> None:
    from zhiku.answer import Answerer

    sources = [hit(ENGLISH)]
    claim = "病假 12 天。[1]"  # an LLM's Chinese answer citing the English table
    plain = Answerer(analyzer).verify(claim, sources)
    bridged = Answerer(analyzer, bridge=TermBridge(analyzer, toy_embed, margin=0.0)).verify(claim, sources)
    assert not plain[0].supported
    assert bridged[0].supported and bridged[0].support > plain[0].support
    # a number the source does not state stays unsupported, bridge or not
    assert (
        not Answerer(analyzer, bridge=TermBridge(analyzer, toy_embed, margin=0.0))
        .verify("病假 15 天。[1]", sources)[0]
        .supported
    )


def test_keyword_search_crosses_languages_through_the_dense_hits(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # BM25 cannot match 病假 to "Sick leave"; the bridge reads the dense hits written in English and
    # adds their matching words to the keyword query, so the English table enters the BM25 list.
    from zhiku.retrieve import SearchRequest

    (tmp_path / "leave.md").write_text("# Leave\n\n" + ENGLISH + "\n", encoding="utf-8")
    (tmp_path / "手册.md").write_text("# 报销\n\n报销须在 30 天内提交。\n", encoding="utf-8")
    app.ensure_kb("kb")
    assert app.add("kb", [tmp_path]).ok
    kb = app.get_kb("kb").id
    request = SearchRequest("病假有几天？", kb)
    app.retriever.bridge = None
    assert not any("Sick leave" in h.text and "bm25" in h.ranks for h in app.retriever.search(request).hits)
    app.retriever.bridge = TermBridge(app.analyzer, toy_embed, margin=0.0)
    result = app.retriever.search(request)
    assert result.notes == ["keyword search also used words of the other language: leav, sick"]
    hits = result.hits
    english = next(h for h in hits if "Sick leave" in h.text)
    assert english.ranks.get("bm25") == 1
    assert app.retriever.bridged_terms("病假有几天？", [(h.chunk_id, 1.0) for h in hits]) == ["leav", "sick"]


def test_a_match_echoed_by_its_own_phrases_still_stands_out(analyzer: Analyzer) -> None:
    # A one-sentence FAQ answer: "employee" and the phrases holding it ("Every employee", "employee
    # gets") are all close to 员工. They are one match, not a passage close to everything: the bar is
    # what 员工 scores against the other phrases.
    near = {"员工": [1.0, 0.0], "employee": [1.0, 0.0], "Every employee": [0.95, 0.31], "employee gets": [0.95, 0.31]}
    question = "每个员工有多大的OneDrive空间？"
    passage = "Every employee gets 1 TB of OneDrive storage."
    bridged = TermBridge(analyzer, embed_with(near)).bridges(question, [passage], analyzer.terms(question))
    assert bridged.get("员工") == frozenset({"employe"})


def test_the_question_words_are_not_bridged(analyzer: Analyzer) -> None:
    # 多久 ("how long") is how the question asks: "long" in "12 characters long" says nothing of it.
    embed = embed_with({"多久": [1.0, 0.0], "long": [1.0, 0.0]})
    scorer = EvidenceScorer(analyzer, bridge=TermBridge(analyzer, embed, margin=0.0))
    assert scorer.question("密码多久需要更换一次？").frame == {"多久"}
    assert scorer.question("每个员工有多大的OneDrive空间？").frame == {"多", "大"}
    assert scorer.question("每周最多可以居家办公几天？").frame == frozenset()  # 几天: the days are asked for
    passage = "Passwords must be at least 12 characters long."
    direct = TermBridge(analyzer, embed, margin=0.0).bridges("密码多久？", [passage], ["密码", "多久"])
    assert direct["多久"] == frozenset({"long"})  # the bridge alone would match it
    evidence = scorer.score("密码多久需要更换一次？", [hit(passage)])
    assert evidence.best[0].features["cover"] < 0.35  # 密码 alone (11.0 of 41), not 多久 too
