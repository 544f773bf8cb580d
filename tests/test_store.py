"""Store contract: every backend must pass these (PostgreSQL joins the ``store`` fixture later)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zhiku.errors import AlreadyExists, NotFound, ZhikuError
from zhiku.protocols import Store
from zhiku.store import SCHEMA_VERSION, SQLiteStore
from zhiku.store.records import JobSpec
from zhiku.types import Chunk, Locator


@pytest.fixture(params=["sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = SQLiteStore(tmp_path / "z.db")
    yield s
    s.close()


def _chunks(*texts: str) -> list[Chunk]:
    return [Chunk(text=t, locator=Locator(page=i + 1, heading_path=["H"]), ord=i) for i, t in enumerate(texts)]


def _counts(
    documents: int, chunks: int, keyword_entries: int, vectors: int, pending: int = 0, tables: int = 0
) -> dict[str, Any]:
    return {
        "documents": documents,
        "chunks": chunks,
        "keyword_entries": keyword_entries,
        "vectors": vectors,
        "pending_vectors": pending,
        "tables": tables,
    }


def _vec(seed: int, dim: int = 8) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
    return v / np.linalg.norm(v)


def _put(store: Store, kb_id: int, path: str, texts: list[str], seed: int = 0, content_hash: str = "h1"):
    chunks = _chunks(*texts)
    vectors = np.stack([_vec(seed + i) for i in range(len(texts))])
    terms = [t.lower().split() for t in texts]
    return store.replace_document(
        kb_id, path, title=path, content_hash=content_hash, chunks=chunks, chunk_terms=terms, vectors=vectors, model="m"
    )


def test_satisfies_protocol(store: Store) -> None:
    assert isinstance(store, Store)


def test_knowledge_base_lifecycle(store: Store) -> None:
    kb = store.create_kb("hr", "handbook")
    assert store.get_kb("hr").id == kb.id == store.kb_id("hr") and kb.description == "handbook"
    with pytest.raises(AlreadyExists):
        store.create_kb("hr")
    assert [k.name for k in store.list_kbs()] == ["hr"]
    store.delete_kb("hr")
    with pytest.raises(NotFound, match="zhiku kb create"):
        store.get_kb("hr")
    with pytest.raises(NotFound, match="zhiku kb create"):
        store.kb_id("hr")


def test_document_rows_terms_and_vectors_are_written_together(store: Store) -> None:
    kb = store.create_kb("k")
    doc = _put(store, kb.id, "a.md", ["alpha beta", "gamma delta"])
    assert doc.chunks == 2 and store.find_document(kb.id, "a.md") is not None
    assert store.counts(kb.id) == _counts(1, 2, 2, 2)
    hits = store.get_chunks([cid for cid, _ in store.keyword_search(kb.id, ["gamma"], 5)])
    assert [h.text for h in hits.values()] == ["gamma delta"]
    hit = next(iter(hits.values()))
    assert hit.locator.page == 2 and hit.locator.heading_path == ["H"] and hit.path == "a.md"


def test_replacing_a_document_leaves_no_orphans(store: Store) -> None:
    kb = store.create_kb("k")
    first = _put(store, kb.id, "a.md", ["old one", "old two", "old three"])
    second = _put(store, kb.id, "a.md", ["new text"], seed=10, content_hash="h2")
    assert second.content_hash == "h2" and second.created_at == first.created_at
    assert store.counts(kb.id) == _counts(1, 1, 1, 1)
    assert store.keyword_search(kb.id, ["old"], 5) == []


def test_failed_write_keeps_the_old_version(store: Store) -> None:
    kb = store.create_kb("k")
    _put(store, kb.id, "a.md", ["stable text"])
    with pytest.raises(IndexError):  # one terms list short: fails half-way through the transaction
        store.replace_document(
            kb.id, "a.md", title="a", content_hash="h2", chunks=_chunks("x", "y"), chunk_terms=[["x"]], vectors=None
        )
    assert store.find_document(kb.id, "a.md").content_hash == "h1"  # type: ignore[union-attr]
    assert store.counts(kb.id) == _counts(1, 1, 1, 1)


def test_delete_document_and_kb_remove_everything(store: Store) -> None:
    kb = store.create_kb("k")
    other = store.create_kb("other")
    a = _put(store, kb.id, "a.md", ["one", "two"])
    _put(store, kb.id, "b.md", ["three"])
    _put(store, other.id, "c.md", ["four"])
    store.delete_document(a.id)
    assert store.counts(kb.id) == _counts(1, 1, 1, 1)
    store.delete_kb("k")
    assert store.counts(kb.id) == _counts(0, 0, 0, 0)
    assert store.counts(other.id)["chunks"] == 1


def test_ids_are_never_handed_out_twice(store: Store) -> None:
    # SQLite gives a new row the largest id plus one: deleting the newest document, chunk, job or
    # knowledge base freed its id, and a client's retried DELETE of it removed the next upload.
    kb = store.create_kb("k")
    a = _put(store, kb.id, "a.md", ["one", "two"])
    chunk_ids = [c for c, _ in store.keyword_search(kb.id, ["one", "two"], 5)]
    job = store.enqueue_jobs(kb.id, [JobSpec("add", "a.md", "a.md")])[0]
    store.delete_document(a.id)
    b = _put(store, kb.id, "b.md", ["one", "two"])
    assert b.id > a.id
    assert min(c for c, _ in store.keyword_search(kb.id, ["one", "two"], 5)) > max(chunk_ids)
    store.delete_kb("k")  # its documents, chunks and jobs go with it
    k2 = store.create_kb("k2")
    assert k2.id > kb.id
    assert store.enqueue_jobs(k2.id, [JobSpec("add", "c.md", "c.md")])[0] > job
    assert _put(store, k2.id, "c.md", ["one"]).id > b.id
    with pytest.raises(AlreadyExists):
        store.create_kb("k2")
    assert store.create_kb("k3").id == kb.id + 2  # a refused name spends no id


def test_keyword_search_ranks_and_filters(store: Store) -> None:
    kb = store.create_kb("k")
    a = _put(store, kb.id, "docs/a.md", ["leave leave policy", "unrelated words"])
    b = _put(store, kb.id, "other/b.pdf", ["leave once"])
    ranked = store.keyword_search(kb.id, ["leave"], 10)
    assert len(ranked) == 2 and ranked[0][1] >= ranked[1][1] > 0
    only_b = store.keyword_search(kb.id, ["leave"], 10, doc_ids={b.id})
    assert [c for c, _ in only_b] == [c for c, _ in ranked if store.get_chunks([c])[c].doc_id == b.id]
    assert store.doc_ids_matching(kb.id, "*.pdf") == {b.id}
    assert store.doc_ids_matching(kb.id, "docs/*") == {a.id}
    assert store.keyword_search(kb.id, ["leave"], 10, doc_ids=set()) == []
    assert store.keyword_search(kb.id, ['we"ird'], 10) == []  # quotes in terms cannot break the query


def test_known_terms_are_those_some_chunk_of_the_kb_holds(store: Store) -> None:
    kb, other = store.create_kb("k"), store.create_kb("other")
    _put(store, kb.id, "a.md", ["leave policy", "年假 申请"])
    _put(store, other.id, "b.md", ["shuttle bus"])
    assert store.known_terms(kb.id, ["leave", "年假", "shuttle", "dress", 'we"ird']) == {"leave", "年假"}
    assert store.known_terms(other.id, ["shuttle", "leave"]) == {"shuttle"}  # another KB's terms do not count
    assert store.known_terms(kb.id, []) == set()


def test_vector_search_is_exact_and_sees_new_writes(store: Store) -> None:
    kb = store.create_kb("k")
    _put(store, kb.id, "a.md", ["a0", "a1", "a2"], seed=100)
    ranked = store.vector_search(kb.id, _vec(101), 3)
    assert store.get_chunks([ranked[0][0]])[ranked[0][0]].text == "a1"
    assert ranked[0][1] == pytest.approx(1.0, abs=1e-5)
    b = _put(store, kb.id, "b.md", ["b0"], seed=200)  # the in-memory index must notice
    top = store.vector_search(kb.id, _vec(200), 1)[0][0]
    assert store.get_chunks([top])[top].doc_id == b.id
    assert store.vector_search(kb.id, _vec(200), 5, doc_ids={b.id})[0][0] == top
    with pytest.raises(ZhikuError, match="re-index"):
        store.vector_search(kb.id, np.ones(16, dtype=np.float32), 1)


def test_documents_without_vectors_are_still_keyword_searchable(store: Store) -> None:
    kb = store.create_kb("k")
    store.replace_document(
        kb.id, "a.md", title="a", content_hash="h", chunks=_chunks("plain words"), chunk_terms=[["plain"]], vectors=None
    )
    assert store.vector_search(kb.id, _vec(1), 5) == []
    assert len(store.keyword_search(kb.id, ["plain"], 5)) == 1


def test_concurrent_readers_and_a_writer(store: Store) -> None:
    kb = store.create_kb("k")
    _put(store, kb.id, "seed.md", ["shared term"])
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(30):
                assert store.keyword_search(kb.id, ["shared"], 5)
                store.vector_search(kb.id, _vec(0), 5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        _put(store, kb.id, f"w{i}.md", [f"shared term {i}"], seed=i)
    for t in threads:
        t.join()
    assert not errors
    assert store.counts(kb.id)["documents"] == 21


def test_sqlite_records_schema_version_and_refuses_newer(tmp_path: Path) -> None:
    path = tmp_path / "z.db"
    s = SQLiteStore(path)
    assert s.schema_version == SCHEMA_VERSION
    s.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(ZhikuError, match="newer zhiku"):
        SQLiteStore(path)


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    s = SQLiteStore(tmp_path / "z.db")
    s.create_kb("k")
    assert (tmp_path / "z.db-wal").exists()


def test_delete_removes_attachments_tables_and_jobs(store: Store) -> None:
    from zhiku.store.records import DocumentWrite, JobDone, JobSpec, TableRecord

    kb = store.create_kb("k")
    parent = DocumentWrite(
        "mail.eml", "Mail", "h", _chunks("mail body"), [["mail", "bodi"]], tables=[TableRecord("t", ["a"], [["1"]])]
    )
    child = DocumentWrite("mail.eml#a.md", "A", "h2", _chunks("attached text"), [["attach"]], parent_key="mail.eml")
    job_ids = store.enqueue_jobs(kb.id, [JobSpec("add", "mail.eml"), JobSpec("add", "mail.eml#a.md")])
    store.finish_job(JobDone(job_ids[1], "failed", "broken", failed=True))
    docs = store.write_documents(kb.id, [parent, child], job=JobDone(job_ids[0], "added"))
    assert store.get_job(job_ids[0]).status == "done" and store.get_job(job_ids[0]).doc_id == docs[0].id
    assert store.counts(kb.id) == _counts(2, 2, 2, 0, pending=2, tables=1)
    store.delete_document(docs[0].id)
    assert store.list_documents(kb.id) == [] and store.list_tables(kb.id) == []
    assert store.counts(kb.id) == _counts(0, 0, 0, 0)
    assert store.list_jobs(kb_id=kb.id) == []
    assert not any(store.consistency().values())


def test_pending_vectors_are_filled_and_skip_changed_chunks(store: Store) -> None:
    kb = store.create_kb("k")
    store.replace_document(
        kb.id,
        "a.md",
        title="a",
        content_hash="h",
        chunks=_chunks("one", "two"),
        chunk_terms=[["one"], ["two"]],
        vectors=None,
    )
    pending = store.pending_vectors(kb.id, 10)
    assert [t for _, t in pending] == ["one", "two"] and store.pending_count(kb.id) == 2
    stale = [(pending[0][0], "not the text any more", _vec(1)), (pending[1][0], "two", _vec(2))]
    assert store.put_vectors(stale, "m") == 1  # a chunk whose text changed is not given a stale vector
    assert store.pending_count(kb.id) == 1 and store.counts(kb.id)["vectors"] == 1
    assert store.vector_search(kb.id, _vec(2), 1)[0][0] == pending[1][0]


def test_job_queue_contract(store: Store) -> None:
    from zhiku.store.records import JobDone, JobSpec

    kb = store.create_kb("k")
    batch = store.new_batch()
    ids = store.enqueue_jobs(kb.id, [JobSpec("add", f"f{i}.md", f"/src/f{i}.md") for i in range(40)], batch)
    assert len(set(ids)) == 40
    assert store.enqueue_jobs(kb.id, [JobSpec("add", "f0.md", "/src/f0.md")]) == [ids[0]]  # not queued twice
    assert store.job_counts(kb_id=kb.id, batch=batch) == {"queued": 40, "running": 0, "done": 0, "failed": 0}

    claimed: list[int] = []
    lock = threading.Lock()

    def claim(pid: int) -> None:
        while (job := store.claim_job(pid, kb_id=kb.id)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim, args=(1000 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # every job claimed exactly once across concurrent runners
    assert store.claim_job(1, kb_id=kb.id) is None

    store.finish_job(JobDone(ids[0], "added", chunks=3))
    store.finish_job(JobDone(ids[1], "failed", "f1.md: broken", failed=True, content_hash="abc"))
    assert store.get_job(ids[0]).status == "done" and store.get_job(ids[0]).progress == 1.0
    assert store.failed_keys(kb.id) == {"f1.md": "abc"}
    # runners 1000 and 1001 died; the others are alive
    lost = store.recover_jobs(lambda pid: pid >= 1002, stale_after=600)
    survivors = [j for j in store.list_jobs(kb_id=kb.id, status="running", limit=100)]
    assert all(j.worker_pid in (1002, 1003) for j in survivors)
    assert all(store.get_job(i).status == "queued" for i in lost) and len(lost) + len(survivors) == 38
    store.release_jobs([j.id for j in survivors], 1002)
    assert all(store.get_job(j.id).status == ("queued" if j.worker_pid == 1002 else "running") for j in survivors)
    assert store.retry_jobs(failed=True, kb_id=kb.id) == [ids[1]]
    assert store.get_job(ids[1]).status == "queued" and store.get_job(ids[1]).reason == ""
    assert store.retry_jobs([ids[0]]) == []  # a done job is not retried
    with pytest.raises(NotFound):
        store.get_job(10**6)
    store.delete_kb("k")
    assert store.list_jobs() == []
