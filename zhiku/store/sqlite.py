"""The embedded store: one SQLite file (WAL) holding knowledge bases, documents, chunks, an FTS5
keyword index and the dense vectors.

A document's rows, keyword entries and vectors are written and deleted in one transaction, so a
crash leaves either the old version or the new one, never a mix or an orphan. Dense search is exact
(a matrix product over the knowledge base's vectors, loaded once and kept in memory until the
knowledge base changes): at 100k chunks x 384 dims that is ~150 MB and a few milliseconds.
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AlreadyExists, NotFound, ZhikuError
from ..types import Chunk, DocumentRecord, Hit, KnowledgeBase, Locator

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kbs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0  -- bumped on every write: invalidates in-memory vectors
);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY,
    kb_id INTEGER NOT NULL REFERENCES kbs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    mime TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (kb_id, path)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    kb_id INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'text',
    text TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '',
    locator TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_kb ON chunks(kb_id);
CREATE TABLE IF NOT EXISTS vectors (
    chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    kb_id INTEGER NOT NULL,
    model TEXT NOT NULL,
    vec BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS vectors_kb ON vectors(kb_id);
-- Terms are produced by zhiku.text.Analyzer (jieba + stemming) and stored space-separated, so FTS5
-- only has to split on spaces, and its bm25() ranks them.
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(terms, kb_id UNINDEXED, tokenize = 'unicode61');
"""


@dataclass
class _VectorIndex:
    generation: int
    matrix: np.ndarray  # (n, dim) float32, rows L2-normalised
    chunk_ids: np.ndarray  # (n,) int64
    doc_ids: np.ndarray  # (n,) int64


class SQLiteStore:
    """Knowledge bases, documents, chunks, keyword and vector search over one SQLite file.

    Safe to share between threads: each thread gets its own connection; writes are serialised by
    SQLite (``BEGIN IMMEDIATE``) and WAL lets readers go on meanwhile.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._vectors: dict[int, _VectorIndex] = {}
        self._vectors_lock = threading.Lock()
        self._init_schema()

    # -- connection and transactions -------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

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

    def _init_schema(self) -> None:
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise ZhikuError(
                    f"{self.path} was written by a newer zhiku (schema {row[0]} > {SCHEMA_VERSION}); upgrade zhiku"
                )

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
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO kbs (name, description, created_at) VALUES (?, ?, ?)", (name, description, time.time())
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"knowledge base {name!r} already exists") from None
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

    def list_kbs(self) -> list[KnowledgeBase]:
        names = [r[0] for r in self._db.execute("SELECT name FROM kbs ORDER BY name")]
        return [self.get_kb(n) for n in names]

    def delete_kb(self, name: str) -> None:
        kb = self.get_kb(name)
        with self._write() as db:
            db.execute("DELETE FROM chunks_fts WHERE kb_id = ?", (kb.id,))
            db.execute("DELETE FROM vectors WHERE kb_id = ?", (kb.id,))
            db.execute("DELETE FROM chunks WHERE kb_id = ?", (kb.id,))
            db.execute("DELETE FROM documents WHERE kb_id = ?", (kb.id,))
            db.execute("DELETE FROM kbs WHERE id = ?", (kb.id,))
        self._vectors.pop(kb.id, None)

    # -- documents -------------------------------------------------------------------------------

    def find_document(self, kb_id: int, path: str) -> DocumentRecord | None:
        row = self._db.execute(f"{_DOC_SELECT} WHERE d.kb_id = ? AND d.path = ?", (kb_id, path)).fetchone()
        return _doc(row) if row else None

    def get_document(self, doc_id: int) -> DocumentRecord:
        row = self._db.execute(f"{_DOC_SELECT} WHERE d.id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFound(f"no document with id {doc_id}")
        return _doc(row)

    def list_documents(self, kb_id: int) -> list[DocumentRecord]:
        rows = self._db.execute(f"{_DOC_SELECT} WHERE d.kb_id = ? ORDER BY d.path", (kb_id,))
        return [_doc(r) for r in rows]

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
        if vectors is not None and len(vectors) != len(chunks):
            raise ValueError("one vector per chunk")
        now = time.time()
        with self._write() as db:
            old = db.execute("SELECT id, created_at FROM documents WHERE kb_id = ? AND path = ?", (kb_id, path))
            existing = old.fetchone()
            if existing:
                self._delete_document_rows(db, existing[0])
            cur = db.execute(
                "INSERT INTO documents (kb_id, path, title, content_hash, mime, size, metadata, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kb_id,
                    path,
                    title,
                    content_hash,
                    mime,
                    size,
                    json.dumps(metadata or {}, ensure_ascii=False),
                    existing[1] if existing else now,
                    now,
                ),
            )
            doc_id = int(cur.lastrowid or 0)
            for i, chunk in enumerate(chunks):
                cur = db.execute(
                    "INSERT INTO chunks (doc_id, kb_id, ord, kind, text, context, locator)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc_id,
                        kb_id,
                        chunk.ord,
                        chunk.kind,
                        chunk.text,
                        chunk.context,
                        json.dumps(chunk.locator.to_dict(), ensure_ascii=False),
                    ),
                )
                chunk.id, chunk.doc_id = int(cur.lastrowid or 0), doc_id
                db.execute(
                    "INSERT INTO chunks_fts (rowid, terms, kb_id) VALUES (?, ?, ?)",
                    (chunk.id, " ".join(chunk_terms[i]), kb_id),
                )
                if vectors is not None:
                    db.execute(
                        "INSERT INTO vectors (chunk_id, kb_id, model, vec) VALUES (?, ?, ?, ?)",
                        (chunk.id, kb_id, model, np.asarray(vectors[i], dtype=np.float32).tobytes()),
                    )
            db.execute("UPDATE kbs SET generation = generation + 1 WHERE id = ?", (kb_id,))
        return self.get_document(doc_id)

    def delete_document(self, doc_id: int) -> None:
        doc = self.get_document(doc_id)
        with self._write() as db:
            self._delete_document_rows(db, doc_id)
            db.execute("UPDATE kbs SET generation = generation + 1 WHERE id = ?", (doc.kb_id,))

    @staticmethod
    def _delete_document_rows(db: sqlite3.Connection, doc_id: int) -> None:
        db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE doc_id = ?)", (doc_id,))
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def doc_ids_matching(self, kb_id: int, path_glob: str) -> set[int]:
        """Ids of the documents whose path matches a shell-style glob (``*.pdf``, ``hr/**``)."""
        rows = self._db.execute("SELECT id, path FROM documents WHERE kb_id = ?", (kb_id,))
        return {i for i, p in rows if fnmatch.fnmatch(p, path_glob) or fnmatch.fnmatch(Path(p).name, path_glob)}

    # -- chunks and search -----------------------------------------------------------------------

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

    def vector_search(
        self, kb_id: int, query: np.ndarray, limit: int, doc_ids: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Cosine similarity over the knowledge base's vectors: ``(chunk_id, score)``, best first."""
        index = self._vector_index(kb_id)
        if index.matrix.shape[0] == 0:
            return []
        if index.matrix.shape[1] != query.shape[0]:
            raise ZhikuError(
                f"the knowledge base was embedded with {index.matrix.shape[1]}-d vectors but the query has "
                f"{query.shape[0]}: re-index it with the current embedder"
            )
        scores = index.matrix @ query.astype(np.float32)
        if doc_ids is not None:
            mask = np.isin(index.doc_ids, np.fromiter(doc_ids, dtype=np.int64))
            scores = np.where(mask, scores, -np.inf)
        k = min(limit, scores.shape[0])
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(index.chunk_ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]

    def _vector_index(self, kb_id: int) -> _VectorIndex:
        row = self._db.execute("SELECT generation FROM kbs WHERE id = ?", (kb_id,)).fetchone()
        generation = row[0] if row else -1
        with self._vectors_lock:
            index = self._vectors.get(kb_id)
            if index is None or index.generation != generation:
                index = self._load_vectors(kb_id, generation)
                self._vectors[kb_id] = index
        return index

    def _load_vectors(self, kb_id: int, generation: int) -> _VectorIndex:
        rows = self._db.execute(
            "SELECT v.chunk_id, c.doc_id, v.vec FROM vectors v JOIN chunks c ON c.id = v.chunk_id "
            "WHERE v.kb_id = ? ORDER BY v.chunk_id",
            (kb_id,),
        ).fetchall()
        if not rows:
            return _VectorIndex(generation, np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return _VectorIndex(
            generation,
            matrix,
            np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
        )

    def counts(self, kb_id: int) -> dict[str, int]:
        """Rows per table for one knowledge base: a quick consistency view."""
        q = self._db.execute
        return {
            "documents": q("SELECT count(*) FROM documents WHERE kb_id = ?", (kb_id,)).fetchone()[0],
            "chunks": q("SELECT count(*) FROM chunks WHERE kb_id = ?", (kb_id,)).fetchone()[0],
            "keyword_entries": q("SELECT count(*) FROM chunks_fts WHERE kb_id = ?", (kb_id,)).fetchone()[0],
            "vectors": q("SELECT count(*) FROM vectors WHERE kb_id = ?", (kb_id,)).fetchone()[0],
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
