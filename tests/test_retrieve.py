from __future__ import annotations

import pytest

from zhiku import App
from zhiku.retrieve import describe_hits, minmax_fusion, rrf_fusion


def test_minmax_fusion_scales_each_list() -> None:
    lists = {"bm25": [(1, 10.0), (2, 5.0), (3, 0.0)], "dense": [(2, 0.9), (4, 0.5)]}
    fused = minmax_fusion(lists, {"bm25": 0.5, "dense": 0.5})
    assert fused == pytest.approx({1: 0.5, 2: 0.75, 3: 0.0, 4: 0.0})


def test_minmax_fusion_single_candidate_counts_fully() -> None:
    assert minmax_fusion({"bm25": [(7, 3.0)]}, {"bm25": 0.4}) == {7: 0.4}


def test_rrf_fusion() -> None:
    fused = rrf_fusion({"bm25": [(1, 9.0), (2, 1.0)], "dense": [(2, 0.9)]}, {"bm25": 0.5, "dense": 0.5})
    assert fused[2] > fused[1]
    assert fused[1] == pytest.approx(1 / 61)


def test_modes_and_explain(demo_app: App) -> None:
    question = "How many days of annual leave do new hires get?"
    hybrid = demo_app.search("default", question)
    assert "handbook_en.md" in hybrid.hits[0].path
    top = hybrid.hits[0]
    assert set(top.ranks) == {"bm25", "dense"} and top.scores["bm25"] > 0
    assert describe_hits(hybrid.hits)[0].startswith("#1 score=")
    bm25 = demo_app.search("default", question, mode="bm25")
    assert all(set(h.ranks) == {"bm25"} for h in bm25.hits)
    dense = demo_app.search("default", question, mode="dense", top_k=3)
    assert len(dense.hits) == 3 and all(set(h.ranks) == {"dense"} for h in dense.hits)


def test_path_filter(demo_app: App) -> None:
    hits = demo_app.search("default", "leave 年假 VPN", path_glob="*.html").hits
    assert hits and all(h.path.endswith(".html") for h in hits)
    assert demo_app.search("default", "leave", path_glob="*.nothing").hits == []


def test_chinese_query_finds_chinese_section(demo_app: App) -> None:
    hit = demo_app.search("default", "年假怎么申请").hits[0]
    assert hit.path.endswith("员工手册.md") and "年假" in hit.text
    assert "年假怎么申请" in hit.locator.heading_path


def test_keyword_only_note_when_vectors_missing(app: App) -> None:
    from zhiku.ingest import Indexer
    from zhiku.types import Block, ParsedDocument

    app.ensure_kb("k")
    indexer = Indexer(app.store, app.parsers, app.indexer.chunker, app.analyzer, None, 10**6)
    indexer.add_parsed(app.get_kb("k").id, "x", ParsedDocument.from_blocks([Block("paragraph", "solar panels")]))
    result = app.search("k", "solar")
    assert result.hits and result.notes and "keyword results only" in result.notes[0]


def test_how_to_questions_get_the_whole_procedure(demo_app: App) -> None:
    answer = demo_app.ask("default", "年假怎么申请？")
    lines = answer.text.splitlines()
    assert [line[:2] for line in lines[:4]] == ["1.", "2.", "3.", "4."]  # all steps, in order
    assert "兰亭 Hub" in answer.text and answer.text.endswith("[1]") and answer.grounding == 1.0


def test_duration_question_is_answered_with_the_number(demo_app: App) -> None:
    answer = demo_app.ask("default", "报销需要在多长时间内提交？")
    assert "30 天" in answer.text
