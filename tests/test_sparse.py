"""The in-memory BM25 index (zhiku/store/sparse.py) against SQLite's own FTS5 BM25 on the same terms."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from zhiku.store import SQLiteStore
from zhiku.store.sparse import SparseIndex, expand_terms, idf_of
from zhiku.text import Analyzer
from zhiku.types import Chunk, Locator

DOCS = [
    "Annual leave: new hires get 15 days of annual leave in their first year.",
    "Sick leave is paid for up to 10 days; a doctor's note is needed after 3 days.",
    "新员工入职第一年享有15天年假，年假需提前两周在系统中申请。",
    "报销流程：提交发票，部门经理审批，财务在五个工作日内付款。",
    "T-cell activation requires IL-6 signalling in mice.",
    "The T cell response was measured; IL 6 levels rose.",
    "Remote work is allowed two days a week with the manager's approval.",
    "年假未休完的部分可以顺延到下一年第一季度。",
]


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="module")
def index(analyzer: Analyzer) -> SparseIndex:
    rows = [(100 + i, i // 2, " ".join(analyzer.terms(text))) for i, text in enumerate(DOCS)]
    return SparseIndex.build(rows, generation=7)


def fts5_ranking(analyzer: Analyzer, query: str) -> list[tuple[int, float]]:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(terms, tokenize='unicode61')")
    for i, text in enumerate(DOCS):
        db.execute("INSERT INTO f(rowid, terms) VALUES (?, ?)", (100 + i, " ".join(analyzer.terms(text))))
    match = " OR ".join('"' + t + '"' for t in analyzer.query_terms(query))
    return [
        (int(r), float(s))
        for r, s in db.execute("SELECT rowid, -bm25(f) FROM f WHERE f MATCH ? ORDER BY 2 DESC", (match,))
    ]


@pytest.mark.parametrize(
    "query", ["annual leave days", "年假怎么申请", "报销 审批", "remote work approval", "年假 annual"]
)
def test_same_scores_as_fts5_on_plain_terms(analyzer: Analyzer, index: SparseIndex, query: str) -> None:
    ours = index.search(analyzer.query_terms(query), 10)
    theirs = fts5_ranking(analyzer, query)
    assert ours, query
    assert [cid for cid, _ in ours] == [cid for cid, _ in theirs]
    # FTS5 counts a compound term as several tokens in the document length, we count its parts and the
    # joined form: scores agree closely, not bit for bit.
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=0.1)


def test_compound_terms_meet_their_spelled_out_form(analyzer: Analyzer, index: SparseIndex) -> None:
    assert expand_terms(["t-cell", "il-6", "leave"]) == ["t", "cell", "tcell", "il", "6", "il6", "leave"]
    hits = [cid for cid, _ in index.search(analyzer.query_terms("T-cell IL-6"), 10)]
    assert set(hits[:2]) == {104, 105}  # "T-cell ... IL-6" and "T cell ... IL 6"


def test_filters_empty_and_unknown(analyzer: Analyzer, index: SparseIndex) -> None:
    terms = analyzer.query_terms("年假")
    assert {cid for cid, _ in index.search(terms, 10)} == {102, 107}
    assert [cid for cid, _ in index.search(terms, 10, doc_ids={3})] == [107]
    assert index.search(terms, 10, doc_ids=set()) == []
    assert index.search(["nonexistentterm"], 10) == []
    assert index.search([], 10) == []
    assert index.search(terms, 1) == index.search(terms, 10)[:1]
    empty = SparseIndex.build([], generation=0)
    assert len(empty) == 0 and empty.search(terms, 5) == []


def test_idf_matches_the_documented_formula(analyzer: Analyzer, index: SparseIndex) -> None:
    t = index.vocab[analyzer.query_terms("年假")[0]]
    df = int(index.offsets[t + 1] - index.offsets[t])
    assert df == 2
    assert index.idf[t] == pytest.approx(idf_of(len(index), df))


def _fill(store: SQLiteStore, analyzer: Analyzer, kb_id: int, docs: list[str], prefix: str = "d") -> None:
    for i, text in enumerate(docs):
        store.replace_document(
            kb_id,
            f"{prefix}{i}.txt",
            title="",
            content_hash=f"{prefix}{i}",
            chunks=[Chunk(text=text, locator=Locator())],
            chunk_terms=[analyzer.terms(text)],
            vectors=None,
        )


@pytest.mark.parametrize("query", ["annual leave days", "年假怎么申请", "remote work approval"])
def test_store_memory_mode_ranks_like_fts5(tmp_path: Path, analyzer: Analyzer, query: str) -> None:
    fts = SQLiteStore(tmp_path / "fts.db", keyword_index="fts5")
    mem = SQLiteStore(tmp_path / "mem.db", keyword_index="memory")
    for store in (fts, mem):
        _fill(store, analyzer, store.create_kb("kb").id, DOCS)
    terms = analyzer.query_terms(query)
    ours = mem.keyword_search(mem.kb_id("kb"), terms, 10)
    theirs = fts.keyword_search(fts.kb_id("kb"), terms, 10)
    assert [c for c, _ in ours] == [c for c, _ in theirs]
    assert mem.warm_keyword_index(mem.kb_id("kb")) and not fts.warm_keyword_index(fts.kb_id("kb"))


def test_store_auto_mode_never_serves_stale_postings(tmp_path: Path, analyzer: Analyzer) -> None:
    store = SQLiteStore(tmp_path / "z.db", keyword_index="auto", memory_index_min_chunks=4)
    kb = store.create_kb("kb").id
    _fill(store, analyzer, kb, DOCS[:2])
    assert not store.warm_keyword_index(kb)  # 2 chunks: below the threshold, FTS5 only
    _fill(store, analyzer, kb, DOCS[2:], prefix="e")
    assert store.warm_keyword_index(kb)
    terms = analyzer.query_terms("报销审批")
    before = store.keyword_search(kb, terms, 10)
    assert before
    # A write moves the generation: the next query must see it at once (FTS5 while rebuilding).
    _fill(store, analyzer, kb, ["报销审批需要发票和经理签字，报销审批在系统里提交。"], prefix="f")
    after = store.keyword_search(kb, terms, 10)
    assert len(after) == len(before) + 1
    for _ in range(100):  # the background rebuild lands, and ranks the same way
        index = store._sparse.get(kb, store._generation(kb))
        if index is not None:
            break
        time.sleep(0.05)
    assert index is not None and len(index) == len(DOCS) + 1
    assert [c for c, _ in store.keyword_search(kb, terms, 10)] == [c for c, _ in after]
    store.delete_kb("kb")
    assert store._sparse.get(kb, 0) is None
