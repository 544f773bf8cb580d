"""A persistent vector cache keyed by (model, text hash), and an embedder wrapper that uses it."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..protocols import Embedder


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class VectorCache:
    """Vectors on disk in their own SQLite file, so deleting a knowledge base never loses them and
    evaluation runs on fresh indexes reuse them."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vec BLOB, PRIMARY KEY (model, key))"
        )
        self._lock = threading.Lock()

    def get_many(self, model: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                batch = list(keys[start : start + 500])
                marks = ",".join("?" * len(batch))
                rows = self._db.execute(
                    f"SELECT key, vec FROM vectors WHERE model = ? AND key IN ({marks})", [model, *batch]
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: Sequence[tuple[bytes, np.ndarray]]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(model, key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in items],
            )
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class CachedEmbedder:
    """Wraps an ``Embedder``: passages are looked up in the cache first, the rest embedded in batches.

    Queries are not cached (they are short and rarely repeat). ``embed_passages`` reports progress
    through an optional callback so the CLI can draw a bar.
    """

    def __init__(self, inner: Embedder, cache: VectorCache | None, batch_size: int = 16) -> None:
        self.inner = inner
        self.cache = cache
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if query:
            return self.inner.embed(texts, query=True)
        return self.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed([text], query=True)[0]

    def embed_passages(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for ``texts`` in order; ``progress(n)`` is called as each batch of n is done."""
        keys = [text_key(t) for t in texts]
        found = self.cache.get_many(self.name, keys) if self.cache else {}
        # Unique uncached texts only: documents often repeat boilerplate (headers, disclaimers).
        todo: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                todo.setdefault(key, text)
        copies = Counter(keys)
        if progress and found:
            progress(sum(copies[k] for k in found))
        pending = list(todo.items())
        for start in range(0, len(pending), self.batch_size):
            batch = pending[start : start + self.batch_size]
            vectors = self.inner.embed([text for _, text in batch])
            items = [(key, vectors[j]) for j, (key, _) in enumerate(batch)]
            if self.cache:
                self.cache.put_many(self.name, items)
            found.update(items)
            if progress:
                progress(sum(copies[key] for key, _ in batch))
        dim = self.dim or (next(iter(found.values())).shape[0] if found else 0)
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out
