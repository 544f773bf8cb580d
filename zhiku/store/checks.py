"""Consistency checks of the SQLite store, for ``zhiku doctor``.

Each check is one SQL query that selects the ids of inconsistent rows, plus (where the store alone
can fix it) one repair statement over those ids. Checks that need zhiku's analyser or embedder
(missing keyword entries, missing vectors) are reported here and repaired by ``zhiku.doctor``.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING


@dataclass(frozen=True)
class Check:
    """``select`` returns the ids of bad rows (``?`` = kb id filter, or NULL for all);
    ``repair`` (optional) fixes one id."""

    name: str
    description: str
    select: str
    repair: tuple[str, ...] = ()


_KB = "(? IS NULL OR {col} = ?)"

CHECKS: tuple[Check, ...] = (
    Check(
        "documents_without_kb",
        "documents whose knowledge base does not exist",
        "SELECT id FROM documents WHERE kb_id NOT IN (SELECT id FROM kbs) AND " + _KB.format(col="kb_id"),
        (
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?1)",
            "DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?1)",
            "DELETE FROM tables WHERE doc_id = ?1",
            "DELETE FROM chunks WHERE doc_id = ?1",
            "DELETE FROM documents WHERE id = ?1",
        ),
    ),
    Check(
        "attachments_without_parent",
        "attachment documents whose parent document is gone",
        "SELECT id FROM documents WHERE parent_id IS NOT NULL AND parent_id NOT IN (SELECT id FROM documents) AND "
        + _KB.format(col="kb_id"),
        (
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?1)",
            "DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?1)",
            "DELETE FROM tables WHERE doc_id = ?1",
            "DELETE FROM chunks WHERE doc_id = ?1",
            "DELETE FROM documents WHERE id = ?1",
        ),
    ),
    Check(
        "chunks_without_document",
        "chunks whose document is gone",
        "SELECT id FROM chunks WHERE doc_id NOT IN (SELECT id FROM documents) AND " + _KB.format(col="kb_id"),
        (
            "DELETE FROM chunks_fts WHERE rowid = ?1",
            "DELETE FROM vectors WHERE chunk_id = ?1",
            "DELETE FROM chunks WHERE id = ?1",
        ),
    ),
    Check(
        "keyword_entries_without_chunk",
        "keyword (FTS) entries whose chunk is gone: deleted text still found by keyword search",
        "SELECT rowid FROM chunks_fts WHERE rowid NOT IN (SELECT id FROM chunks) AND " + _KB.format(col="kb_id"),
        ("DELETE FROM chunks_fts WHERE rowid = ?1",),
    ),
    Check(
        "vectors_without_chunk",
        "vectors whose chunk is gone",
        "SELECT chunk_id FROM vectors WHERE chunk_id NOT IN (SELECT id FROM chunks) AND " + _KB.format(col="kb_id"),
        ("DELETE FROM vectors WHERE chunk_id = ?1",),
    ),
    Check(
        "tables_without_document",
        "structured tables whose document is gone",
        "SELECT id FROM tables WHERE doc_id NOT IN (SELECT id FROM documents) AND " + _KB.format(col="kb_id"),
        ("DELETE FROM tables WHERE id = ?1",),
    ),
    Check(
        "jobs_without_kb",
        "jobs whose knowledge base is gone",
        "SELECT id FROM jobs WHERE kb_id NOT IN (SELECT id FROM kbs) AND " + _KB.format(col="kb_id"),
        ("DELETE FROM jobs WHERE id = ?1",),
    ),
    Check(
        "chunks_in_wrong_kb",
        "chunks whose knowledge base differs from their document's",
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.kb_id != d.kb_id AND "
        + _KB.format(col="d.kb_id"),
        ("UPDATE chunks SET kb_id = (SELECT d.kb_id FROM documents d WHERE d.id = chunks.doc_id) WHERE id = ?1",),
    ),
    Check(
        "keyword_entries_in_wrong_kb",
        "keyword entries filed under another knowledge base than their chunk",
        "SELECT f.rowid FROM chunks_fts f JOIN chunks c ON c.id = f.rowid WHERE f.kb_id != c.kb_id AND "
        + _KB.format(col="c.kb_id"),
        ("UPDATE chunks_fts SET kb_id = (SELECT c.kb_id FROM chunks c WHERE c.id = ?1) WHERE rowid = ?1",),
    ),
    Check(
        "vectors_in_wrong_kb",
        "vectors filed under another knowledge base than their chunk",
        "SELECT v.chunk_id FROM vectors v JOIN chunks c ON c.id = v.chunk_id WHERE v.kb_id != c.kb_id AND "
        + _KB.format(col="c.kb_id"),
        ("UPDATE vectors SET kb_id = (SELECT c.kb_id FROM chunks c WHERE c.id = ?1) WHERE chunk_id = ?1",),
    ),
    Check(
        "vector_flags_wrong",
        "chunks marked as embedded without a vector, or with a vector but marked pending",
        "SELECT id FROM chunks WHERE has_vector != EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = chunks.id) AND "
        + _KB.format(col="kb_id"),
        ("UPDATE chunks SET has_vector = EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = ?1) WHERE id = ?1",),
    ),
    # Reported here, repaired by zhiku.doctor (they need the analyser / the embedder):
    Check(
        "chunks_without_keyword_entry",
        "chunks missing from the keyword index (not found by keyword search)",
        "SELECT id FROM chunks WHERE id NOT IN (SELECT rowid FROM chunks_fts) AND " + _KB.format(col="kb_id"),
    ),
    Check(
        "chunks_without_vector",
        "chunks without a dense vector (found by keyword search only until embedded)",
        "SELECT id FROM chunks WHERE NOT EXISTS (SELECT 1 FROM vectors v WHERE v.chunk_id = chunks.id) AND "
        + _KB.format(col="kb_id"),
    ),
)

CHECKS_BY_NAME = {c.name: c for c in CHECKS}


class ChecksMixin:
    """Consistency checks and the store-level repairs; mixed into ``SQLiteStore``."""

    if TYPE_CHECKING:

        @property
        def _db(self) -> sqlite3.Connection: ...
        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    files_dir: Path

    def check_ids(self, name: str, kb_id: int | None = None, limit: int | None = None) -> list[int]:
        """Ids of the rows failing the check ``name`` (see ``CHECKS``)."""
        sql = CHECKS_BY_NAME[name].select + (f" LIMIT {int(limit)}" if limit else "")
        return [int(r[0]) for r in self._db.execute(sql, (kb_id, kb_id))]

    def consistency(self, kb_id: int | None = None) -> dict[str, int]:
        """How many rows fail each check (0 everywhere = consistent)."""
        return {c.name: len(self.check_ids(c.name, kb_id)) for c in CHECKS}

    def repair_check(self, name: str, kb_id: int | None = None) -> int:
        """Apply the store-level repair of one check; returns the rows fixed (0 if it has none)."""
        check = CHECKS_BY_NAME[name]
        if not check.repair:
            return 0
        with self._write() as db:
            ids = [int(r[0]) for r in db.execute(check.select, (kb_id, kb_id))]
            for row_id in ids:
                for statement in check.repair:
                    db.execute(statement, (row_id,))
            db.execute("UPDATE kbs SET generation = generation + 1")  # vectors may have changed
        return len(ids)

    def vector_dims(self, kb_id: int) -> dict[int, int]:
        """``dimension -> vectors`` of a knowledge base: more than one key means mixed embedders."""
        rows = self._db.execute("SELECT length(vec) / 4, count(*) FROM vectors WHERE kb_id = ? GROUP BY 1", (kb_id,))
        return {int(d): int(n) for d, n in rows}

    def quick_check(self) -> str:
        """SQLite's own structural check of the file: ``ok`` or the first problems found."""
        rows = [r[0] for r in self._db.execute("PRAGMA quick_check(5)")]
        return "ok" if rows == ["ok"] else "; ".join(rows)

    def put_terms(self, items: list[tuple[int, list[str]]]) -> int:
        """(Re)write the keyword entries of chunks ``(chunk_id, terms)``; returns how many."""
        done = 0
        with self._write() as db:
            for chunk_id, terms in items:
                row = db.execute("SELECT kb_id FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
                if row is None:
                    continue
                db.execute("DELETE FROM chunks_fts WHERE rowid = ?", (chunk_id,))
                db.execute(
                    "INSERT INTO chunks_fts (rowid, terms, kb_id) VALUES (?, ?, ?)", (chunk_id, " ".join(terms), row[0])
                )
                done += 1
        return done

    def chunk_index_texts(self, chunk_ids: list[int]) -> list[tuple[int, str]]:
        """``(chunk_id, index_text)`` for chunks by id (title/heading context + text)."""
        out: list[tuple[int, str]] = []
        for start in range(0, len(chunk_ids), 500):
            batch = chunk_ids[start : start + 500]
            rows = self._db.execute(
                f"SELECT id, context, text FROM chunks WHERE id IN ({','.join('?' * len(batch))})", batch
            )
            out.extend((int(i), f"{c}\n{t}" if c else t) for i, c, t in rows)
        return out

    def kept_files(self) -> list[str]:
        """Every file zhiku keeps (uploads) that a document or an unfinished job refers to."""
        rows = self._db.execute(
            "SELECT stored_file FROM documents WHERE stored_file != '' "
            "UNION SELECT source FROM jobs WHERE status != 'done' AND source != ''"
        )
        return [r[0] for r in rows]
