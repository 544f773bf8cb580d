"""zhiku doctor: each inconsistency is made with raw SQL (as a bug or a crash in an older version
could leave it), detected by its own check, and repaired."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zhiku import App, Settings
from zhiku.cli import main
from zhiku.store import SCHEMA_VERSION


def _build(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    app.ensure_kb("other")
    (tmp_path / "a.md").write_text("# Alpha\n\nAlpha beta gamma.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Fees\n\n| Zone | Fee |\n|---|---|\n| B2 | 5 |\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("# Other\n\nSomething else entirely.\n", encoding="utf-8")
    assert app.add("k", [tmp_path / "a.md", tmp_path / "b.md"]).ok
    assert app.add("other", [tmp_path / "c.md"]).ok


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


VEC = np.ones(256, dtype=np.float32).tobytes()

# check name -> SQL that breaks exactly that (ids: kb k = 1, other = 2; documents 1, 2 in k, 3 in other;
# chunk 1 is a.md's, chunk 3 is c.md's).
BREAKAGES: dict[str, list[str]] = {
    "chunks_without_document": [
        "INSERT INTO chunks (id, doc_id, kb_id, ord, text, has_vector) VALUES (900, 999, 1, 0, 'ghost', 1)",
        "INSERT INTO chunks_fts (rowid, terms, kb_id) VALUES (900, 'ghost', 1)",
        f"INSERT INTO vectors VALUES (900, 1, 'hash', X'{VEC.hex()}')",
    ],
    "keyword_entries_without_chunk": ["INSERT INTO chunks_fts (rowid, terms, kb_id) VALUES (901, 'phantom', 1)"],
    "vectors_without_chunk": [f"INSERT INTO vectors VALUES (902, 1, 'hash', X'{VEC.hex()}')"],
    "tables_without_document": [
        "INSERT INTO tables (doc_id, kb_id, ord, name, columns, rows) VALUES (999, 1, 0, 't', '[]', '[]')"
    ],
    "documents_without_kb": [
        "INSERT INTO documents (id, kb_id, path, content_hash, created_at, updated_at) VALUES (50, 77, 'x', 'h', 0, 0)"
    ],
    "attachments_without_parent": [
        "INSERT INTO documents (id, kb_id, path, content_hash, created_at, updated_at, parent_id)"
        " VALUES (51, 1, 'p#a.md', 'h', 0, 0, 4444)"
    ],
    "jobs_without_kb": [
        "INSERT INTO jobs (kb_id, kind, key, status, created_at, updated_at) VALUES (77, 'add', 'x', 'done', 0, 0)"
    ],
    "chunks_in_wrong_kb": [
        "UPDATE chunks SET kb_id = 2 WHERE id = 1",
        "UPDATE chunks_fts SET kb_id = 2 WHERE rowid = 1",
        "UPDATE vectors SET kb_id = 2 WHERE chunk_id = 1",
    ],
    "keyword_entries_in_wrong_kb": ["UPDATE chunks_fts SET kb_id = 2 WHERE rowid = 1"],
    "vectors_in_wrong_kb": ["UPDATE vectors SET kb_id = 2 WHERE chunk_id = 1"],
    "vector_flags_wrong": ["UPDATE chunks SET has_vector = 0 WHERE id = 1"],
    "chunks_without_keyword_entry": ["DELETE FROM chunks_fts WHERE rowid = 1"],
    "chunks_without_vector": [
        "DELETE FROM vectors WHERE chunk_id = 1",
        "UPDATE chunks SET has_vector = 0 WHERE id = 1",
    ],
}


def _break(settings: Settings, statements: list[str]) -> None:
    db = sqlite3.connect(settings.database_path)
    db.execute("PRAGMA foreign_keys=OFF")  # what a bug, or a crash in an older version, could leave
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def _errors(report) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {f.name: f.remaining for f in report.findings if f.remaining and f.severity == "error"}


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_each_inconsistency_is_detected_and_repaired(name: str, app: App, tmp_path: Path) -> None:
    _build(app, tmp_path)
    before = app.doctor()
    assert before.clean, [f for f in before.findings if f.count]
    _break(app.settings, BREAKAGES[name])

    found = {f.name: f.count for f in app.doctor().findings if f.count}
    assert found.get(name, 0) >= 1, found
    expected = {name} | ({"counts_disagree"} if name != "jobs_without_kb" else set())
    assert set(found) <= expected | {"counts_disagree"}, found  # each check names its own problem

    repaired = app.doctor(repair=True)
    assert next(f for f in repaired.findings if f.name == name).repaired >= 1
    after = app.doctor()
    assert after.clean, {f.name: f.count for f in after.findings if f.count}
    # the knowledge bases work as before
    assert app.search("k", "alpha beta", mode="bm25").hits[0].path.endswith("a.md")
    assert app.search("other", "something else").hits[0].path.endswith("c.md")
    assert not app.search("k", "phantom ghost", mode="bm25").hits


def test_stale_jobs_failed_jobs_and_kept_files(app: App, tmp_path: Path) -> None:
    _build(app, tmp_path)
    kb_id = app.store.kb_id("k")
    (tmp_path / "empty.md").write_bytes(b"")
    assert not app.add("k", [tmp_path / "empty.md"]).ok  # a failed job: reported, not "repaired"
    from zhiku.store.records import JobSpec

    _, ids = app.enqueue("k", [JobSpec("add", str(tmp_path / "a.md"), str(tmp_path / "a.md"))])
    app.store.claim_job(_dead_pid(), kb_id=kb_id)  # a runner that died mid-job
    orphan = app.store.kb_files_dir(kb_id) / "0123456789abcdef" / "left-behind.md"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("an upload whose document was deleted by a crashed process", encoding="utf-8")
    old = time.time() - 3600
    os.utime(orphan, (old, old))
    report = app.doctor()
    found = {f.name: f.count for f in report.findings if f.count}
    assert found == {"failed_jobs": 1, "stale_running_jobs": 1, "unreferenced_kept_files": 1}
    assert not report.ok  # the orphan file is an error
    repaired = app.doctor(repair=True)
    assert repaired.ok and not orphan.exists() and not orphan.parent.exists()
    assert app.store.get_job(ids[0]).status == "queued"  # handed back to the queue
    assert {f.name for f in app.doctor().findings if f.count} == {"failed_jobs"}


def test_doctor_cli_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_EMBEDDER", "hash")
    home = tmp_path / "home"
    settings = Settings(home=home, embedder="hash")
    app = App(settings)
    try:
        _build(app, tmp_path)
    finally:
        app.close()
    runner = CliRunner()
    clean = runner.invoke(main, ["--home", str(home), "doctor"])
    assert clean.exit_code == 0 and "no problems found" in clean.output and f"schema {SCHEMA_VERSION}" in clean.output
    _break(settings, BREAKAGES["keyword_entries_without_chunk"] + BREAKAGES["chunks_without_vector"])
    broken = runner.invoke(main, ["--home", str(home), "doctor", "--kb", "k"])
    assert broken.exit_code == 1 and "keyword entries without chunk" in broken.output and "--repair" in broken.output
    fixed = runner.invoke(main, ["--home", str(home), "doctor", "--repair"])
    assert fixed.exit_code == 0 and "1 repaired" in fixed.output
    assert runner.invoke(main, ["--home", str(home), "doctor"]).exit_code == 0


def test_documents_from_another_pipeline_are_a_warning_until_added_again(settings: Settings, tmp_path: Path) -> None:
    app = App(settings)
    try:
        _build(app, tmp_path)
        assert not any(f.count for f in app.doctor().findings)
    finally:
        app.close()
    bigger = App(Settings(home=settings.home, embedder="hash", chunk_tokens=500))
    try:
        report = bigger.doctor()
        (finding,) = [f for f in report.findings if f.count]
        assert finding.name == "documents_from_another_pipeline" and finding.count == 3
        assert finding.severity == "warning" and report.ok and not report.clean
        assert finding.examples[0] == f"k: {(tmp_path / 'a.md').resolve()}"
        assert bigger.add("k", [tmp_path / "a.md", tmp_path / "b.md"]).count("updated") == 2
        left = [f.examples for f in bigger.doctor().findings if f.count]
        assert left == [[f"other: {(tmp_path / 'c.md').resolve()}"]]
    finally:
        bigger.close()
