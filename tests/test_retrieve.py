from __future__ import annotations

import numpy as np
import pytest

from zhiku import App
from zhiku.retrieve import describe_hits, minmax_fusion, rrf_fusion


def test_minmax_fusion_scales_each_list() -> None:
    lists = {"bm25": [(1, 10.0), (2, 5.0), (3, 0.0)], "dense": [(2, 0.9), (4, 0.5)]}
    fused = minmax_fusion(lists, {"bm25": 0.5, "dense": 0.5})
    assert fused == pytest.approx({1: 0.5, 2: 0.75, 3: 0.0, 4: 0.0})


def test_minmax_fusion_single_candidate_counts_fully() -> None:
    assert minmax_fusion({"bm25": [(7, 3.0)]}, {"bm25": 0.4}) == {7: 0.4}


def test_zscore_fusion_standardises_each_list_from_its_lowest() -> None:
    from zhiku.retrieve import zscore_fusion

    lists = {"bm25": [(1, 30.0), (2, 6.0), (3, 5.0), (4, 4.0)], "dense": [(3, 0.9), (2, 0.88), (5, 0.5)]}
    fused = zscore_fusion(lists, {"bm25": 0.4, "dense": 0.6})
    bm25 = [30.0, 6.0, 5.0, 4.0]
    sd_b = float(np.std(bm25))
    sd_d = float(np.std([0.9, 0.88, 0.5]))
    assert fused[4] == pytest.approx(0.0 + 0.0)  # the lowest of bm25, missing from dense
    assert fused[2] == pytest.approx(0.4 * 2.0 / sd_b + 0.6 * 0.38 / sd_d)
    assert fused[3] == pytest.approx(0.4 * 1.0 / sd_b + 0.6 * 0.40 / sd_d)
    assert fused[5] == 0.0 and sorted(fused, key=fused.__getitem__, reverse=True)[:3] == [3, 2, 1]
    assert zscore_fusion({"bm25": [(7, 3.0)]}, {"bm25": 0.4}) == {7: 0.4}  # a single hit counts fully


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


def test_dense_feedback_moves_the_query_towards_the_first_pass_top() -> None:
    from zhiku.retrieve import dense_feedback

    vectors = {1: [1.0, 0.0, 0.0], 2: [0.6, 0.8, 0.0], 3: [0.0, 1.0, 0.0], 4: [0.0, 0.0, 1.0]}

    def vectors_of(ids: object) -> tuple[list[int], np.ndarray]:
        found = [i for i in ids if i in vectors]  # type: ignore[attr-defined]
        return found, np.array([vectors[i] for i in found], dtype=np.float32).reshape(len(found), 3)

    query = np.array([0.8, 0.0, 0.6], dtype=np.float32)
    first = {1: 0.9, 3: 0.8, 4: 0.7, 2: 0.1, 99: 0.05}  # 99 has no vector yet
    # without weight the query alone ranks: cosines 0.8, 0.6, 0.48, 0
    assert [cid for cid, _ in dense_feedback(query, first, vectors_of, 1, 0.0, 10)] == [1, 4, 2, 3]
    # the top 2 of the first pass are chunks 1 and 3: query + 2 * mean = (1.8, 1.0, 0.6)
    refined = dense_feedback(query, first, vectors_of, 2, 2.0, 3)
    assert [cid for cid, _ in refined] == [2, 1, 3]
    assert refined[0][1] == pytest.approx(1.88 / np.sqrt(4.6), rel=1e-5)  # (1.8, 1.0, 0.6) normalised
    assert dense_feedback(query, {99: 1.0}, vectors_of, 5, 1.0, 10) == []  # nothing to learn from


def test_dense_index_finds_vectors_by_chunk_id() -> None:
    from zhiku.store.dense import DenseIndex

    rows = [(cid, 1, np.full(2, cid, np.float32).tobytes()) for cid in (30, 10, 20)]
    index = DenseIndex.from_rows((1, 1), rows)
    ids, matrix = index.vectors_of([20, 99, 30, 5])
    assert ids == [20, 30] and matrix[:, 0].tolist() == [20.0, 30.0]
    assert index.vectors_of([])[0] == []


def test_feedback_search_reports_the_refined_dense_ranks(demo_app: App) -> None:
    from zhiku.retrieve import SearchRequest

    kb = demo_app.get_kb("default").id
    question = "How many days of annual leave do new hires get?"
    plain = demo_app.retriever.search(SearchRequest(question, kb, top_k=50, feedback=0))
    fed = demo_app.retriever.search(SearchRequest(question, kb, top_k=50, feedback=3, feedback_weight=1.0))
    assert {h.chunk_id for h in fed.hits} == {h.chunk_id for h in plain.hits}  # re-scores, finds nothing new
    dense_plain = {h.chunk_id: h.ranks["dense"] for h in plain.hits if "dense" in h.ranks}
    dense_fed = {h.chunk_id: h.ranks["dense"] for h in fed.hits if "dense" in h.ranks}
    assert dense_fed != dense_plain  # the fusion used (and --explain shows) the refined list
    assert "handbook_en.md" in fed.hits[0].path
    default = demo_app.retriever.search(SearchRequest(question, kb, top_k=50))  # feedback is on by default
    assert default.hits[0].chunk_id == fed.hits[0].chunk_id


def test_questions_about_what_the_kb_never_mentions_are_refused(demo_app: App, tmp_path) -> None:
    dress = demo_app.ask("default", "What is the company's dress code?")
    assert dress.refused, dress.text
    # A Chinese name glued to the next word in the question ("王沈是") is known through its part.
    page = tmp_path / "王沈.md"
    page.write_text("# 王沈\n\n王沈，字处道，太原晋阳人。曹魏至西晋时期大臣。\n", encoding="utf-8")
    demo_app.ensure_kb("people")
    assert demo_app.add("people", [page]).ok
    assert "王沈是" in demo_app.answerer.scorer.question("王沈是哪里人？").terms
    assert demo_app._unknown_terms("people", "王沈是哪里人？") == set()
    assert demo_app._unknown_terms("people", "王沈有什么爱好？") == {"爱好"}
    # "GPT4" in the question, "GPT-4" in the text: letters and digits are looked up apart.
    (tmp_path / "gpt.md").write_text("# GPT-4\n\nOpenAI 于 2023 年 3 月 14 日发布 GPT-4。\n", encoding="utf-8")
    assert demo_app.add("people", [tmp_path / "gpt.md"]).ok
    assert demo_app._unknown_terms("people", "GPT4发布时间") == set()
    assert demo_app._unknown_terms("people", "GPT5发布时间") == {"gpt5"}


def test_overlong_questions_and_queries_are_refused_with_a_clear_error(demo_app: App) -> None:
    from zhiku.errors import EmptyQuery, QueryTooLong

    limit = demo_app.settings.max_query_chars
    with pytest.raises(
        QueryTooLong, match=r"the question is 8,000 characters; the limit is 4,000 .*ZHIKU_MAX_QUERY_CHARS"
    ):
        demo_app.ask("default", "年假" * limit)
    with pytest.raises(QueryTooLong, match="the question is"):
        next(iter(demo_app.ask_stream("default", "年假" * limit)))
    with pytest.raises(QueryTooLong, match="the query is"):
        demo_app.search("default", "x" * (limit + 1))
    # Nothing to look for is said so, not answered "the knowledge base does not contain it".
    with pytest.raises(EmptyQuery, match="the question is empty"):
        demo_app.ask("default", " \u3000\n")
    with pytest.raises(EmptyQuery, match="the query is empty"):
        demo_app.search("default", "")
    # At the limit it is answered; a short follow-up to a question at the limit too (the retrieval
    # query joins both and keeps its end, the follow-up).
    long_question = ("年假怎么申请？" * limit)[:limit]
    assert demo_app.ask("default", long_question).text
    history = [{"role": "user", "content": long_question}, {"role": "assistant", "content": "…"}]
    assert demo_app.ask("default", "那病假呢？", history=history).text  # no QueryTooLong
