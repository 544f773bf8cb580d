"""The embedded store: one SQLite file (WAL) holding knowledge bases, documents, chunks, an FTS5
keyword index, the dense vectors, structured tables and the ingestion jobs.

A document's rows, keyword entries, vectors, tables and attachments are written and deleted in one
transaction, together with the job that did the work, so a crash leaves either the old version or
the new one, never a mix or an orphan. Chunks may be stored before their vectors (keyword-searchable
at once); ``has_vector = 0`` marks the ones background embedding still has to do.

Dense search is exact (``zhiku.store.dense``: a matrix product over the knowledge base's vectors,
loaded once and kept in memory until they change); keyword search ranks with an in-memory BM25 index
(``zhiku.store.sparse``) on large knowledge bases and with FTS5 on small ones.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AlreadyExists, NotFound, StoreUnavailable
from ..types import Chunk, DocumentRecord, Hit, KnowledgeBase, Locator
from . import migrations
from .checks import ChecksMixin
from .dense import DenseIndex
from .jobs import JobsMixin
from .pending import PendingVectorsMixin, vector_generation_key
from .records import DocumentWrite, JobDone, TableRecord, row_id
from .schema import SCHEMA, SCHEMA_VERSION, new_ids, statements
from .sparse import SparseIndexCache

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]


class SQLiteStore(JobsMixin, PendingVectorsMixin, ChecksMixin):
    """Knowledge bases, documents, chunks, keyword and vector search over one SQLite file.

    Safe to share between threads and processes: each thread gets its own connection; writes are
    serialised by SQLite (``BEGIN IMMEDIATE``) and WAL lets readers go on meanwhile.

    ``files_dir`` is where zhiku keeps files of its own (uploads); only files under it are ever
    deleted, never a user's source file. Default: ``uploads/`` next to the database.
    """

    def __init__(
        self,
        path: Path | str,
        files_dir: Path | str | None = None,
        *,
        keyword_index: str = "auto",
        memory_index_min_chunks: int = 5_000,
    ) -> None:
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if not memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.files_dir = Path(files_dir) if files_dir is not None else self.path.parent / "uploads"
        self._local = threading.local()
        self._vectors: dict[int, DenseIndex] = {}
        self._vectors_lock = threading.Lock()
        # BM25 in memory for big knowledge bases (zhiku/store/sparse.py); FTS5 stays the source of truth.
        self._sparse = SparseIndexCache(
            self._keyword_rows, self._chunk_count, mode=keyword_index, min_chunks=memory_index_min_chunks
        )
        self.migrated_from: int | None = None  # the file's old version when opening it migrated it
        self._identity: tuple[int, int] | None = None  # the file opened (device, inode): see check_file
        self._open_schema()
        self._identity = None if memory else _identity(self.path)

    # -- connection and transactions -------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        # One stat per use: a new connection would create an empty file where the store was, an old
        # one go on into the deleted file (see check_file).
        self.check_file()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def check_file(self) -> None:
        """``StoreUnavailable`` if the database file was deleted or replaced since this store opened
        it: SQLite would go on writing into the deleted file, and everything written would be lost
        with the process (an upload answered "added", gone after a restart)."""
        if self._identity is not None and _identity(self.path) != self._identity:
            raise StoreUnavailable(
                f"the store {self.path} was deleted or replaced while zhiku was running; nothing more is "
                "written to it. Restore it from a backup or restart zhiku (which then opens the file found "
                "there, or creates an empty store)"
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _open_schema(self) -> None:
        db = self._db
        version = migrations.read_version(db)
        if version is None:
            with self._write() as w:
                if migrations.read_version(w) is None:  # not created by a concurrent opener meanwhile
                    for statement in statements(SCHEMA):
                        w.execute(statement)
                    w.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return
        migrations.refuse_newer(self.path, version)
        if version < SCHEMA_VERSION:
            migrations.migrate(db, self.path)
            self.migrated_from = version

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])

    # -- knowledge bases -------------------------------------------------------------------------

    def create_kb(self, name: str, description: str = "") -> KnowledgeBase:
        with self._write() as db:
            if db.execute("SELECT 1 FROM kbs WHERE name = ?", (name,)).fetchone() is not None:
                raise AlreadyExists(f"knowledge base {name!r} already exists")
            db.execute(
                "INSERT INTO kbs (id, name, description, created_at) VALUES (?, ?, ?, ?)",
                (new_ids(db, "kbs"), name, description, time.time()),
            )
        return self.get_kb(name)

    def get_kb(self, name: str) -> KnowledgeBase:
        row = self._db.execute(
            "SELECT id, name, description, created_at, "
            "(SELECT count(*) FROM documents d WHERE d.kb_id = kbs.id), "
            "(SELECT count(*) FROM chunks c WHERE c.kb_id = kbs.id) FROM kbs WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            raise _no_kb(name)
        return KnowledgeBase(*row)

    def kb_id(self, name: str) -> int:
        """The id of the knowledge base ``name``: a cheap lookup for the query path (``get_kb`` also
        counts documents and chunks, which costs milliseconds at 100k chunks)."""
        row = self._db.execute("SELECT id FROM kbs WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise _no_kb(name)
        return int(row[0])

    def kb_name(self, kb_id: int) -> str:
        row = self._db.execute("SELECT name FROM kbs WHERE id = ?", (kb_id,)).fetchone()
        if row is None:
            raise NotFound(f"no knowledge base with id {kb_id}")
        return str(row[0])

    def list_kbs(self) -> list[KnowledgeBase]:
        names = [r[0] for r in self._db.execute("SELECT name FROM kbs ORDER BY name")]
        return [self.get_kb(n) for n in names]

    def delete_kb(self, name: str) -> None:
        """Delete the knowledge base with its documents, chunks, keyword entries, vectors, tables,
        jobs and kept files, all rows in one transaction."""
        kb_id = self.kb_id(name)
        with self._write() as db:
            for table in ("chunks_fts", "vectors", "tables", "chunks", "jobs"):
                db.execute(f"DELETE FROM {table} WHERE kb_id = ?", (kb_id,))
            db.execute("DELETE FROM documents WHERE kb_id = ? AND parent_id IS NOT NULL", (kb_id,))
            db.execute("DELETE FROM documents WHERE kb_id = ?", (kb_id,))
            db.execute("DELETE FROM kbs WHERE id = ?", (kb_id,))
            db.execute("DELETE FROM meta WHERE key = ?", (vector_generation_key(kb_id),))
        self._vectors.pop(kb_id, None)
        self._sparse.drop(kb_id)
        # Files after the commit: a crash in between leaves unreferenced files, which doctor removes.
        shutil.rmtree(self.kb_files_dir(kb_id), ignore_errors=True)

    def kb_files_dir(self, kb_id: int) -> Path:
        """Where this knowledge base's kept files (uploads) live."""
        return self.files_dir / str(kb_id)

    # -- documents -------------------------------------------------------------------------------

    def find_document(self, kb_id: int, path: str) -> DocumentRecord | None:
        row = self._db.execute(f"{_DOC_SELECT} WHERE d.kb_id = ? AND d.path = ?", (kb_id, path)).fetchone()
        return _doc(row) if row else None

    def get_document(self, doc_id: int) -> DocumentRecord:
        row = self._db.execute(f"{_DOC_SELECT} WHERE d.id = ?", (row_id(doc_id),)).fetchone()
        if row is None:
            raise NotFound(f"no document with id {doc_id}")
        return _doc(row)

    def list_documents(self, kb_id: int) -> list[DocumentRecord]:
        rows = self._db.execute(f"{_DOC_SELECT} WHERE d.kb_id = ? ORDER BY d.path", (kb_id,))
        return [_doc(r) for r in rows]

    def file_states(self, kb_id: int) -> dict[str, tuple[str, int, float | None, str]]:
        """``key -> (content_hash, size, mtime, pipeline)`` of the knowledge base's documents
        (attachments excluded): what folder sync compares a folder against."""
        rows = self._db.execute(
            "SELECT path, content_hash, size, mtime, coalesce(json_extract(metadata, '$.pipeline'), '')"
            " FROM documents WHERE kb_id = ? AND parent_id IS NULL",
            (kb_id,),
        )
        return {r[0]: (r[1], int(r[2]), r[3], str(r[4])) for r in rows}

    def touch_document(self, kb_id: int, key: str, mtime: float | None, job: JobDone | None = None) -> None:
        """Record a new mtime for an unchanged document (so sync need not hash it again)."""
        with self._write() as db:
            db.execute("UPDATE documents SET mtime = ? WHERE kb_id = ? AND path = ?", (mtime, kb_id, key))
            if job is not None:
                self._finish_job(db, job)

    def replace_document(
        self,
        kb_id: int,
        path: str,
        *,
        title: str,
        content_hash: str,
        chunks: Sequence[Chunk],
        chunk_terms: Sequence[Sequence[str]],
        vectors: np.ndarray | None,
        model: str = "",
        mime: str = "",
        size: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> DocumentRecord:
        """Insert or replace the document at ``path`` with its chunks, keyword terms and vectors,
        all in one transaction."""
        write = DocumentWrite(
            path, title, content_hash, chunks, chunk_terms, vectors, model, mime, size, metadata or {}
        )
        return self.write_documents(kb_id, [write])[0]

    def write_documents(
        self, kb_id: int, docs: Sequence[DocumentWrite], *, job: JobDone | None = None
    ) -> list[DocumentRecord]:
        """Insert or replace documents (a parent and its attachments) in one transaction, finishing
        ``job`` in the same transaction. A replaced document's old attachments, tables and kept file
        go with it."""
        for doc in docs:
            if doc.vectors is not None and len(doc.vectors) != len(doc.chunks):
                raise ValueError("one vector per chunk")
        now = time.time()
        ids: dict[str, int] = {}
        freed: list[str] = []
        with self._write() as db:
            if db.execute("SELECT 1 FROM kbs WHERE id = ?", (kb_id,)).fetchone() is None:
                raise NotFound(f"no knowledge base with id {kb_id} (deleted meanwhile?)")
            # A replaced document keeps its id (and its attachments theirs): an id a client holds
            # (DELETE /api/kbs/<kb>/documents/<id>) still names the file after it was re-indexed.
            previous = {}
            for doc in docs:
                row = db.execute(
                    "SELECT id, created_at FROM documents WHERE kb_id = ? AND path = ?", (kb_id, doc.key)
                ).fetchone()
                if row:
                    previous[doc.key] = (int(row[0]), float(row[1]))
            for doc_id, _ in previous.values():
                freed += self._delete_document_rows(db, doc_id)
            for doc in docs:
                existing = previous.get(doc.key)
                parent_id = None
                if doc.parent_key is not None:
                    parent_id = ids.get(doc.parent_key)
                    if parent_id is None:
                        raise ValueError(f"attachment {doc.key!r}: its parent {doc.parent_key!r} must come first")
                ids[doc.key] = self._insert_document(db, kb_id, doc, parent_id, existing, now)
            if job is not None:
                if job.doc_id is None and ids:
                    job.doc_id = next(iter(ids.values()))
                self._finish_job(db, job)
            db.execute("UPDATE kbs SET generation = generation + 1 WHERE id = ?", (kb_id,))
        self._remove_unreferenced(freed)
        return [self.get_document(i) for i in ids.values()]

    def _insert_document(
        self,
        db: sqlite3.Connection,
        kb_id: int,
        doc: DocumentWrite,
        parent_id: int | None,
        previous: tuple[int, float] | None,
        now: float,
    ) -> int:
        """Insert one document (under its previous id and creation time when it replaces one)."""
        doc_id, created = previous if previous else (new_ids(db, "documents"), now)
        db.execute(
            "INSERT INTO documents (id, kb_id, path, title, content_hash, mime, size, metadata, created_at, updated_at,"
            " parent_id, stored_file, mtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc_id,
                kb_id,
                doc.key,
                doc.title,
                doc.content_hash,
                doc.mime,
                doc.size,
                json.dumps(doc.metadata or {}, ensure_ascii=False),
                created,
                now,
                parent_id,
                doc.stored_file,
                doc.mtime,
            ),
        )
        has_vector = 1 if doc.vectors is not None else 0
        first_chunk = new_ids(db, "chunks", len(doc.chunks)) if doc.chunks else 0
        for i, chunk in enumerate(doc.chunks):
            chunk.id, chunk.doc_id = first_chunk + i, doc_id
            db.execute(
                "INSERT INTO chunks (id, doc_id, kb_id, ord, kind, text, context, locator, has_vector)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    chunk.id,
                    doc_id,
                    kb_id,
                    chunk.ord,
                    chunk.kind,
                    chunk.text,
                    chunk.context,
                    json.dumps(chunk.locator.to_dict(), ensure_ascii=False),
                    has_vector,
                ),
            )
            db.execute(
                "INSERT INTO chunks_fts (rowid, terms, kb_id) VALUES (?, ?, ?)",
                (chunk.id, " ".join(doc.chunk_terms[i]), kb_id),
            )
            if doc.vectors is not None:
                db.execute(
                    "INSERT INTO vectors (chunk_id, kb_id, model, vec) VALUES (?, ?, ?, ?)",
                    (chunk.id, kb_id, doc.model, np.asarray(doc.vectors[i], dtype=np.float32).tobytes()),
                )
        for n, table in enumerate(doc.tables):
            db.execute(
                "INSERT INTO tables (id, doc_id, kb_id, ord, name, columns, rows, locator)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new_ids(db, "tables"),
                    doc_id,
                    kb_id,
                    table.ord or n,
                    table.name,
                    json.dumps(table.columns, ensure_ascii=False),
                    json.dumps(table.rows, ensure_ascii=False),
                    json.dumps(table.locator.to_dict(), ensure_ascii=False),
                ),
            )
        return doc_id

    def delete_document(self, doc_id: int, *, job: JobDone | None = None) -> None:
        """Delete a document with its chunks, keyword entries, vectors, tables, attachments and kept
        file (finishing ``job`` in the same transaction)."""
        with self._write() as db:
            row = db.execute("SELECT kb_id FROM documents WHERE id = ?", (row_id(doc_id),)).fetchone()
            if row is None:
                raise NotFound(f"no document with id {doc_id}")
            keys = [
                r[0]
                for r in db.execute(
                    "WITH RECURSIVE tree(id) AS (SELECT ? UNION SELECT d.id FROM documents d JOIN tree t"
                    " ON d.parent_id = t.id) SELECT path FROM documents WHERE id IN tree",
                    (doc_id,),
                )
            ]
            freed = self._delete_document_rows(db, doc_id)
            # Its jobs go too (a running one, such as the delete job doing this, finishes normally).
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                where = f"kb_id = ? AND key IN ({','.join('?' * len(part))}) AND status != 'running'"
                freed += [r[0] for r in db.execute(f"SELECT source FROM jobs WHERE {where}", (row[0], *part))]
                db.execute(f"DELETE FROM jobs WHERE {where}", (row[0], *part))
            if job is not None:
                self._finish_job(db, job)
            db.execute("UPDATE kbs SET generation = generation + 1 WHERE id = ?", (row[0],))
        self._remove_unreferenced(freed)

    def _delete_document_rows(self, db: sqlite3.Connection, doc_id: int) -> list[str]:
        """Delete one document's rows and its attachments' (recursively); returns kept files freed."""
        freed: list[str] = []
        for (child,) in db.execute("SELECT id FROM documents WHERE parent_id = ?", (doc_id,)).fetchall():
            freed += self._delete_document_rows(db, child)
        row = db.execute("SELECT stored_file FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row and row[0]:
            freed.append(row[0])
        db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM tables WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
        return freed

    def _remove_unreferenced(self, files: Iterable[str]) -> None:
        """Delete kept files no document or unfinished job refers to any more (only under ``files_dir``)."""
        for name in set(files):
            if not name or self.file_referenced(name):
                continue
            self.remove_kept_file(Path(name))

    def file_referenced(self, name: str) -> bool:
        db = self._db
        return bool(
            db.execute("SELECT 1 FROM documents WHERE stored_file = ? LIMIT 1", (name,)).fetchone()
            or db.execute("SELECT 1 FROM jobs WHERE source = ? AND status != 'done' LIMIT 1", (name,)).fetchone()
        )

    def remove_kept_file(self, path: Path) -> bool:
        """Delete one kept file (and its now empty folder); refuses anything outside ``files_dir``."""
        root = self.files_dir.resolve()
        try:
            resolved = path.resolve()
            resolved.relative_to(root)
        except (ValueError, OSError):
            return False
        try:
            resolved.unlink()
        except FileNotFoundError:
            return False
        parent = resolved.parent
        while parent != root and parent.is_relative_to(root):
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent
        return True

    def doc_ids_matching(self, kb_id: int, path_glob: str) -> set[int]:
        """Ids of the documents whose path matches a shell-style glob (``*.pdf``, ``hr/**``)."""
        rows = self._db.execute("SELECT id, path FROM documents WHERE kb_id = ?", (kb_id,))
        return {i for i, p in rows if fnmatch.fnmatch(p, path_glob) or fnmatch.fnmatch(Path(p).name, path_glob)}

    # -- structured tables -----------------------------------------------------------------------

    def list_tables(self, kb_id: int, doc_id: int | None = None) -> list[TableRecord]:
        """The structured tables of a knowledge base (or of one document), in document order."""
        sql = "SELECT id, doc_id, ord, name, columns, rows, locator FROM tables WHERE kb_id = ?"
        params: list[Any] = [kb_id]
        if doc_id is not None:
            sql += " AND doc_id = ?"
            params.append(doc_id)
        out = []
        for tid, did, ord_, name, columns, rows, loc in self._db.execute(sql + " ORDER BY doc_id, ord", params):
            locator = Locator.from_dict(json.loads(loc))
            out.append(TableRecord(name, json.loads(columns), json.loads(rows), locator, ord_, tid, did))
        return out

    # -- chunks and search -----------------------------------------------------------------------

    def document_chunk_ids(self, doc_id: int) -> list[int]:
        """The ids of a document's chunks, in reading order."""
        rows = self._db.execute("SELECT id FROM chunks WHERE doc_id = ? ORDER BY ord, id", (row_id(doc_id),))
        return [r[0] for r in rows]

    def get_chunks(self, chunk_ids: Iterable[int]) -> dict[int, Hit]:
        """Chunks by id, as score-less ``Hit``s carrying their document's path and title."""
        ids = list(chunk_ids)
        out: dict[int, Hit] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            rows = self._db.execute(
                "SELECT c.id, c.doc_id, c.text, c.locator, c.context, d.path, d.title FROM chunks c "
                f"JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({','.join('?' * len(batch))})",
                batch,
            )
            for cid, did, text, loc, context, path, title in rows:
                out[cid] = Hit(cid, did, 0.0, text, Locator.from_dict(json.loads(loc)), path, title, context)
        return out

    def keyword_search(
        self, kb_id: int, terms: Sequence[str], limit: int, doc_ids: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over index terms (already analysed): ``(chunk_id, score)``, best first."""
        if not terms:
            return []
        sparse = self._sparse.get(kb_id, self._generation(kb_id))
        if sparse is not None:
            return sparse.search(terms, limit, doc_ids)
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        sql = "SELECT rowid, -bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? AND kb_id = ?"
        params: list[Any] = [match, kb_id]
        if doc_ids is not None:
            if not doc_ids:
                return []
            sql += f" AND rowid IN (SELECT id FROM chunks WHERE doc_id IN ({','.join('?' * len(doc_ids))}))"
            params.extend(doc_ids)
        sql += " ORDER BY s DESC LIMIT ?"
        params.append(limit)
        return [(int(r[0]), float(r[1])) for r in self._db.execute(sql, params)]

    def known_terms(self, kb_id: int, terms: Sequence[str]) -> set[str]:
        """Which of ``terms`` (index terms) occur in at least one chunk of ``kb_id``."""
        sql = "SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? AND kb_id = ? LIMIT 1"
        return {t for t in set(terms) if self._db.execute(sql, ['"' + t.replace('"', '""') + '"', kb_id]).fetchone()}

    def warm_keyword_index(self, kb_id: int) -> bool:
        """Build the in-memory BM25 index of ``kb_id`` now if its mode wants one; True if it did."""
        if self._sparse.mode == "fts5":
            return False
        generation = self._generation(kb_id)
        if self._sparse.mode == "auto" and self._chunk_count(kb_id) < self._sparse.min_chunks:
            return False
        self._sparse.build(kb_id, generation)
        return True

    def _generation(self, kb_id: int) -> int:
        row = self._db.execute("SELECT generation FROM kbs WHERE id = ?", (kb_id,)).fetchone()
        return int(row[0]) if row else -1

    def _chunk_count(self, kb_id: int) -> int:
        return int(self._db.execute("SELECT count(*) FROM chunks WHERE kb_id = ?", (kb_id,)).fetchone()[0])

    def _keyword_rows(self, kb_id: int) -> list[tuple[int, int, str]]:
        return self._db.execute(
            "SELECT c.id, c.doc_id, f.terms FROM chunks_fts f JOIN chunks c ON c.id = f.rowid WHERE f.kb_id = ?",
            (kb_id,),
        ).fetchall()

    def vector_search(
        self, kb_id: int, query: np.ndarray, limit: int, doc_ids: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Cosine similarity over the knowledge base's vectors: ``(chunk_id, score)``, best first."""
        return self._vector_index(kb_id).search(query, limit, doc_ids)

    def chunk_vectors(self, kb_id: int, chunk_ids: Sequence[int]) -> tuple[list[int], np.ndarray]:
        """The stored vectors of those chunks that have one: their ids and an ``(n, dim)`` matrix."""
        return self._vector_index(kb_id).vectors_of(chunk_ids)

    def _vector_index(self, kb_id: int) -> DenseIndex:
        row = self._db.execute(
            "SELECT generation, (SELECT value FROM meta WHERE key = ?) FROM kbs WHERE id = ?",
            (vector_generation_key(kb_id), kb_id),
        ).fetchone()
        generation = (int(row[0]), int(row[1] or 0)) if row else (-1, 0)
        with self._vectors_lock:
            index = self._vectors.get(kb_id)
            if index is None or index.generation != generation:
                rows = self._db.execute(
                    "SELECT v.chunk_id, c.doc_id, v.vec FROM vectors v JOIN chunks c ON c.id = v.chunk_id "
                    "WHERE v.kb_id = ? ORDER BY v.chunk_id",
                    (kb_id,),
                ).fetchall()
                index = DenseIndex.from_rows(generation, rows)
                self._vectors[kb_id] = index
        return index

    def counts(self, kb_id: int) -> dict[str, int]:
        """Rows per table for one knowledge base: a quick consistency view."""
        q = self._db.execute
        return {
            "documents": q("SELECT count(*) FROM documents WHERE kb_id = ?", (kb_id,)).fetchone()[0],
            "chunks": q("SELECT count(*) FROM chunks WHERE kb_id = ?", (kb_id,)).fetchone()[0],
            "keyword_entries": q("SELECT count(*) FROM chunks_fts WHERE kb_id = ?", (kb_id,)).fetchone()[0],
            "vectors": q("SELECT count(*) FROM vectors WHERE kb_id = ?", (kb_id,)).fetchone()[0],
            "pending_vectors": self.pending_count(kb_id),
            "tables": q("SELECT count(*) FROM tables WHERE kb_id = ?", (kb_id,)).fetchone()[0],
        }


_DOC_SELECT = (
    "SELECT d.id, d.kb_id, d.path, d.title, d.content_hash, d.mime, d.size, "
    "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id), d.created_at, d.updated_at, d.metadata FROM documents d"
)


def _no_kb(name: str) -> NotFound:
    return NotFound(f"no knowledge base named {name!r}; create it with: zhiku kb create {name}")


def _doc(row: Sequence[Any]) -> DocumentRecord:
    doc_id, kb_id, path, title, content_hash, mime, size, chunks, created, updated, metadata = row
    return DocumentRecord(
        doc_id, kb_id, path, title, content_hash, mime, size, chunks, created, updated, json.loads(metadata)
    )


def _identity(path: Path) -> tuple[int, int] | None:
    """The file's (device, inode), None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
