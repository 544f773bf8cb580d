"""Background embedding in ``SQLiteStore``: chunks are stored before their vectors
(``has_vector = 0``) and filled in later, in batches, by a job runner."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np


class PendingVectorsMixin:
    """Chunks waiting for vectors; mixed into ``SQLiteStore`` (needs ``_db`` and ``_write``)."""

    if TYPE_CHECKING:

        @property
        def _db(self) -> sqlite3.Connection: ...
        def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def pending_vectors(self, kb_id: int, limit: int) -> list[tuple[int, str]]:
        """Chunks still waiting for a vector: ``(chunk_id, index_text)``, oldest first."""
        rows = self._db.execute(
            "SELECT id, context, text FROM chunks WHERE kb_id = ? AND has_vector = 0 ORDER BY id LIMIT ?",
            (kb_id, limit),
        )
        return [(int(cid), f"{context}\n{text}" if context else text) for cid, context, text in rows]

    def pending_count(self, kb_id: int) -> int:
        """How many chunks of the knowledge base have no vector yet (found by keyword search only)."""
        row = self._db.execute("SELECT count(*) FROM chunks WHERE kb_id = ? AND has_vector = 0", (kb_id,))
        return int(row.fetchone()[0])

    def kbs_with_pending_vectors(self) -> list[int]:
        rows = self._db.execute(
            "SELECT id FROM kbs WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.kb_id = kbs.id AND c.has_vector = 0)"
        )
        return [int(r[0]) for r in rows]

    def put_vectors(self, items: Sequence[tuple[int, str, np.ndarray]], model: str) -> int:
        """Store vectors for chunks ``(chunk_id, index_text, vector)``; returns how many were stored.

        A chunk deleted (or replaced by new text under a reused id) since it was read is skipped:
        its text must still be the one that was embedded.
        """
        stored = 0
        kbs: set[int] = set()
        with self._write() as db:
            for chunk_id, text, vector in items:
                row = db.execute("SELECT kb_id, context, text FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
                if row is None or (f"{row[1]}\n{row[2]}" if row[1] else row[2]) != text:
                    continue
                db.execute(
                    "INSERT OR REPLACE INTO vectors (chunk_id, kb_id, model, vec) VALUES (?, ?, ?, ?)",
                    (chunk_id, row[0], model, np.asarray(vector, dtype=np.float32).tobytes()),
                )
                db.execute("UPDATE chunks SET has_vector = 1 WHERE id = ?", (chunk_id,))
                kbs.add(row[0])
                stored += 1
            for kb_id in kbs:
                # Only the vectors changed: the dense index reloads, the keyword index stays.
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, '1') "
                    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
                    (vector_generation_key(kb_id),),
                )
        return stored


def vector_generation_key(kb_id: int) -> str:
    """The ``meta`` row counting vector writes of a knowledge base (background embedding changes
    vectors only; bumping the knowledge base's generation would also rebuild its keyword index)."""
    return f"vectors_generation:{kb_id}"
