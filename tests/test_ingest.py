from __future__ import annotations

import shutil
from pathlib import Path

from zhiku import App, Settings, ingest
from zhiku.demo import DEMO_DIR
from zhiku.embed.local import HashEmbedder


def test_add_folder_then_again_is_a_no_op(demo_app: App) -> None:
    before = demo_app.store.counts(demo_app.get_kb("default").id)
    report = demo_app.add("default", [DEMO_DIR])
    assert report.count("unchanged") == 4 and report.count("added") == 0
    assert demo_app.store.counts(demo_app.get_kb("default").id) == before
    assert before["chunks"] == before["keyword_entries"] == before["vectors"] > 4


def test_changed_file_replaces_its_chunks(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    note = tmp_path / "note.md"
    note.write_text("# Parking\n\nVisitors park on level B2.\n", encoding="utf-8")
    assert app.add("k", [note]).count("added") == 1
    note.write_text("# Parking\n\nVisitors park on level B3 now.\n", encoding="utf-8")
    report = app.add("k", [note])
    assert report.count("updated") == 1
    assert [d.path for d in app.list_documents("k")] == [str(note.resolve())]
    texts = [h.text for h in app.search("k", "visitors park level").hits]
    assert any("B3" in t for t in texts) and not any("B2" in t for t in texts)


def test_bad_files_fail_alone_with_reasons(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "good.md").write_text("# Fine\n\nThis file is fine.", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\n")  # truncated
    shutil.copy(Path(__file__).parent / "fixtures" / "encrypted.pdf", folder / "locked.pdf")
    report = app.add("k", [folder, tmp_path / "missing.docx"])
    status = {Path(o.path).name: o for o in report.outcomes}
    assert status["good.md"].status == "added"
    failed = {name: o.reason for name, o in status.items() if o.status == "failed"}
    assert set(failed) == {"empty.txt", "binary.txt", "broken.pdf", "locked.pdf", "missing.docx"}
    assert "empty" in failed["empty.txt"]
    assert "binary" in failed["binary.txt"]
    assert "password" in failed["locked.pdf"]
    assert "no such file" in failed["missing.docx"]
    assert not report.ok and "1 added" in report.summary() and "5 failed" in report.summary()
    assert app.store.counts(app.get_kb("k").id)["documents"] == 1


def test_globs_and_hidden_files(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.md").write_text("one", encoding="utf-8")
    (tmp_path / "a" / "two.txt").write_text("two", encoding="utf-8")
    (tmp_path / "a" / ".hidden.md").write_text("hidden", encoding="utf-8")
    (tmp_path / "a" / "script.py").write_text("print(1)", encoding="utf-8")
    assert [p.name for p in app.plan([str(tmp_path / "a" / "*.md")])] == ["one.md"]
    assert sorted(p.name for p in app.plan([tmp_path / "a"])) == ["one.md", "two.txt"]


class CountingEmbedder(HashEmbedder):
    """The real hash embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts, *, query=False):  # type: ignore[no-untyped-def]
        self.embedded.extend(texts)
        return super().embed(texts, query=query)


def test_vectors_are_cached_by_text(settings: Settings, tmp_path: Path) -> None:
    counting = CountingEmbedder()
    app = App(settings, embedder=counting)
    app.ensure_kb("k")
    app.ensure_kb("copy")
    (tmp_path / "a.md").write_text("# Same\n\nThe same words twice.", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Same\n\nThe same words twice.", encoding="utf-8")
    app.add("k", [tmp_path / "a.md"])
    assert len(counting.embedded) == 1
    app.add("k", [tmp_path / "b.md"])
    app.add("copy", [tmp_path / "a.md"])
    assert len(counting.embedded) == 1  # the same chunk text is never embedded twice
    assert app.store.counts(app.get_kb("copy").id)["vectors"] == 1
    # a fresh App on the same home (a new process) still finds the vectors on disk
    again = App(settings, embedder=CountingEmbedder())
    again.ensure_kb("third")
    again.add("third", [tmp_path / "a.md"])
    assert again.embedder.inner.embedded == []  # type: ignore[attr-defined]


def test_tables_are_stored_as_rows_and_deleted_with_their_document(app: App, tmp_path: Path) -> None:
    app.ensure_kb("k")
    note = tmp_path / "fees.md"
    note.write_text(
        "# Fees\n\n## Parking\n\n| Zone | Fee |\n|---|---|\n| B2 | 5 |\n| B3 | 3 |\n\n"
        "Text between.\n\n| Item | Cost |\n|---|---|\n| Lunch | 20 |\n",
        encoding="utf-8",
    )
    report = app.add("k", [note])
    kb_id = app.store.kb_id("k")
    tables = app.store.list_tables(kb_id)
    assert [t.columns for t in tables] == [["Zone", "Fee"], ["Item", "Cost"]]
    assert tables[0].rows == [["B2", "5"], ["B3", "3"]] and tables[1].rows == [["Lunch", "20"]]
    assert tables[0].name == "Fees > Parking" and tables[0].doc_id == report.outcomes[0].doc_id
    assert app.store.counts(kb_id)["tables"] == 2
    app.delete_document("k", report.outcomes[0].doc_id or 0)
    assert app.store.list_tables(kb_id) == [] and app.store.consistency(kb_id)["tables_without_document"] == 0


def test_documents_indexed_by_another_pipeline_are_parsed_again(settings: Settings, tmp_path: Path) -> None:
    # Same bytes, but indexed by an older zhiku (no or another ``pipeline``) or with other chunk
    # settings: ``add`` parses the file again instead of calling it unchanged.
    note = tmp_path / "note.md"
    note.write_text("# Parking\n\n" + "Visitors park on level B2 near the lifts. " * 60 + "\n", encoding="utf-8")
    app = App(settings)
    try:
        app.ensure_kb("k")
        assert app.add("k", [note]).count("added") == 1
        assert app.add("k", [note]).count("unchanged") == 1
        (doc,) = app.list_documents("k")
        assert doc.metadata["pipeline"] == app.pipeline == f"{ingest.PIPELINE_REVISION}/300/40"
        chunks_at_300 = doc.chunks
        # a document from before the pipeline was recorded
        with app.store._write() as db:
            db.execute("UPDATE documents SET metadata = '{}'")
        assert app.add("k", [note]).count("updated") == 1
        assert app.list_documents("k")[0].metadata["pipeline"] == app.pipeline
    finally:
        app.close()
    smaller = App(Settings(home=settings.home, embedder="hash", chunk_tokens=100, chunk_overlap=10))
    try:
        assert smaller.add("k", [note]).count("updated") == 1
        (doc,) = smaller.list_documents("k")
        assert doc.metadata["pipeline"].endswith("/100/10") and doc.chunks > chunks_at_300
        assert smaller.add("k", [note]).count("unchanged") == 1
        counts = smaller.store.counts(smaller.store.kb_id("k"))
        assert counts["chunks"] == counts["keyword_entries"] == counts["vectors"] == doc.chunks
    finally:
        smaller.close()
