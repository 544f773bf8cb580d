"""Schema versions: a store file written by the v1 schema (frozen in tests/fixtures/schema_v1.sql) is
migrated in one transaction after a backup; a newer file is refused and left untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from zhiku import App, Settings
from zhiku.errors import ZhikuError
from zhiku.store import SCHEMA_VERSION, SQLiteStore
from zhiku.store.migrations import backup_path, migrate
from zhiku.store.records import JobSpec

V1_SCHEMA = (Path(__file__).parent / "fixtures" / "schema_v1.sql").read_text(encoding="utf-8")


def _vec(seed: int) -> bytes:
    v = np.random.default_rng(seed).normal(size=8).astype(np.float32)
    return (v / np.linalg.norm(v)).tobytes()


def make_v1_store(path: Path) -> None:
    """A store exactly as zhiku with schema 1 wrote it: one knowledge base, two documents, three
    chunks with keyword entries, vectors for the first document only."""
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute("INSERT INTO kbs (id, name, description, created_at) VALUES (1, 'hr', 'handbook', 1.0)")
    docs = [(1, "/docs/leave.md", "Leave", "h1"), (2, "/docs/parking.md", "Parking", "h2")]
    for doc_id, key, title, h in docs:
        db.execute(
            "INSERT INTO documents (id, kb_id, path, title, content_hash, created_at, updated_at, metadata)"
            " VALUES (?, 1, ?, ?, ?, 1.0, 2.0, ?)",
            (doc_id, key, title, h, json.dumps({"format": "Markdown"})),
        )
    chunks = [
        (1, 1, "New hires get ten days of annual leave.", "new hire ten day annual leav"),
        (2, 1, "Leave is requested in the HR portal.", "leav request hr portal"),
        (3, 2, "Visitors park on level B2.", "visitor park level b2"),
    ]
    for cid, doc_id, text, terms in chunks:
        db.execute(
            "INSERT INTO chunks (id, doc_id, kb_id, ord, text, context, locator) VALUES (?, ?, 1, ?, ?, '', ?)",
            (cid, doc_id, cid, text, json.dumps({"page": cid})),
        )
        db.execute("INSERT INTO chunks_fts (rowid, terms, kb_id) VALUES (?, ?, 1)", (cid, terms))
    for cid in (1, 2):
        db.execute("INSERT INTO vectors VALUES (?, 1, 'm', ?)", (cid, _vec(cid)))
    db.commit()
    db.close()


def _version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    finally:
        db.close()


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


def test_v1_store_is_migrated_after_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "zhiku.db"
    make_v1_store(path)
    assert SCHEMA_VERSION == 3 and "jobs" not in _tables(path)

    store = SQLiteStore(path)
    assert store.migrated_from == 1 and store.schema_version == 3 and _version(path) == 3
    assert {"jobs", "tables", "id_seq"} <= _tables(path)

    backup = backup_path(path, 1)
    assert backup == tmp_path / "zhiku.db.v1.bak" and backup.exists()
    assert _version(backup) == 1 and "jobs" not in _tables(backup)  # the copy is the old file

    # the data is intact and searchable
    kb_id = store.kb_id("hr")
    assert [d.path for d in store.list_documents(kb_id)] == ["/docs/leave.md", "/docs/parking.md"]
    assert store.get_kb("hr").chunks == 3
    hit = store.get_chunks([c for c, _ in store.keyword_search(kb_id, ["visitor"], 5)])
    assert [h.text for h in hit.values()] == ["Visitors park on level B2."]
    query = np.frombuffer(_vec(2), dtype=np.float32)
    assert store.vector_search(kb_id, query, 1)[0][0] == 2
    # chunks that had vectors are marked embedded; the one without waits for background embedding
    assert store.pending_count(kb_id) == 1 and [c for c, _ in store.pending_vectors(kb_id, 10)] == [3]
    assert store.consistency(kb_id) == {**dict.fromkeys(store.consistency(kb_id), 0), "chunks_without_vector": 1}

    # the new parts work on the migrated file
    job_ids = store.enqueue_jobs(kb_id, [JobSpec("add", "/docs/new.md", "/docs/new.md")])
    assert store.get_job(job_ids[0]).status == "queued"
    store.delete_document(1)
    assert store.counts(kb_id)["chunks"] == 1 and store.keyword_search(kb_id, ["leav"], 5) == []
    # ids written before the sequence existed are not handed out again either
    store.delete_document(2)
    assert store.enqueue_jobs(kb_id, [JobSpec("add", "/docs/other.md", "/docs/other.md")])[0] > job_ids[0]
    store.close()

    # opening again does nothing more
    again = SQLiteStore(path)
    assert again.migrated_from is None and again.schema_version == 3
    again.close()


def test_migrated_store_works_through_the_app(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    make_v1_store(home / "zhiku.db")
    app = App(Settings(home=home, embedder="hash"))
    try:
        note = tmp_path / "note.md"
        note.write_text("# Lunch\n\nThe canteen opens at noon.\n", encoding="utf-8")
        assert app.add("hr", [note]).count("added") == 1
        assert app.search("hr", "canteen noon", mode="bm25").hits[0].path == str(note.resolve())
        assert app.search("hr", "visitors park", mode="bm25").hits[0].path == "/docs/parking.md"
    finally:
        app.close()


def test_failed_migration_leaves_the_file_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "zhiku.db"
    make_v1_store(path)

    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE documents ADD COLUMN parent_id INTEGER")
        db.execute("DROP TABLE vectors")
        db.execute("SELECT * FROM no_such_table")  # fails after changing things

    db = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(ZhikuError, match="file is unchanged"):
        migrate(db, path, {1: half_then_fail}, target=2)
    db.close()
    assert _version(path) == 1 and "vectors" in _tables(path)
    check = sqlite3.connect(path)
    columns = [r[1] for r in check.execute("PRAGMA table_info(documents)")]
    check.close()
    assert "parent_id" not in columns
    assert backup_path(path, 1).exists()
    # a later, working zhiku still migrates it
    store = SQLiteStore(path)
    assert store.schema_version == 3 and store.counts(1)["vectors"] == 2
    store.close()


def test_newer_store_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "zhiku.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ZhikuError, match=r"newer zhiku.*upgrade zhiku"):
        SQLiteStore(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not list(tmp_path.glob("*.bak"))


def test_missing_migration_step_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "zhiku.db"
    make_v1_store(path)
    db = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(ZhikuError, match="no migration from schema 1"):
        migrate(db, path, {}, target=2)
    db.close()
    assert _version(path) == 1
