"""An in-memory BM25 index over the analyser's terms: the fast path of keyword search.

FTS5 ranks with BM25 too, but it scores every row that matches any query term before it sorts, so
an OR query with common words costs ~50 ms at 100k chunks. Here the postings of a knowledge base sit
in three flat numpy arrays (compressed sparse columns: per term, the rows it occurs in and the
term-frequency part of BM25 precomputed), and a query is one vectorised add per query term plus a
partial sort: ~1-3 ms at 100k chunks.

Terms are the ones stored for FTS5 (``zhiku.text.Analyzer`` output, space-separated). Since
pipeline revision 6 the analyser itself gives a compound word its parts and its parts joined
(``t-cell`` -> ``t cell tcell``), so "T cell", "T-cell" and "Tcell" meet. ``expand_terms`` still
expands a compound term, which only chunks indexed under an older revision hold, until
``zhiku sync`` parses them again. On SciFact dev this scores BM25 0.721 (FTS5: 0.721).

The index is immutable; the store rebuilds it when the knowledge base's generation changes.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# FTS5's unicode61 tokenizer splits on everything that is not a letter or a digit.
_PARTS = re.compile(r"[^\W_]+")
K1 = 1.2
B = 0.75


def expand_terms(terms: Iterable[str]) -> list[str]:
    """Each term, with compound terms (``il-6``) replaced by their parts plus the parts joined."""
    return expand_text(" ".join(terms)).split()


def expand_text(text: str) -> str:
    """``expand_terms`` on a space-separated string; only compound terms reach Python code."""
    if _NON_WORD.search(text) is None:  # one C scan: most chunks (all-Chinese ones) stop here
        return text
    return " ".join([w if w.isalnum() else _expand_word(w) for w in text.split()])


_NON_WORD = re.compile(r"[^\w\s]|_")


def _expand_word(word: str) -> str:
    parts = _PARTS.findall(word)
    if len(parts) <= 1:
        return parts[0] if parts else word
    return " ".join(parts) + " " + "".join(parts)


@dataclass(frozen=True)
class SparseIndex:
    """BM25 postings of one knowledge base at one ``generation``."""

    generation: int
    chunk_ids: np.ndarray  # (n,) int64: row -> chunk id
    doc_ids: np.ndarray  # (n,) int64: row -> document id
    vocab: dict[str, int]
    offsets: np.ndarray  # (V + 1,) int64: term t's postings are [offsets[t], offsets[t + 1])
    rows: np.ndarray  # (P,) int32: the row of each posting
    weights: np.ndarray  # (P,) float32: tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))
    idf: np.ndarray  # (V,) float32

    @classmethod
    def build(cls, items: Iterable[tuple[int, int, str]], generation: int) -> SparseIndex:
        """Index ``(chunk_id, doc_id, space-separated terms)`` rows."""
        chunk_ids: list[int] = []
        doc_ids: list[int] = []
        tokens: list[str] = []
        lengths: list[int] = []
        for chunk_id, doc_id, text in items:
            words = expand_text(text).split()
            tokens.extend(words)
            chunk_ids.append(chunk_id)
            doc_ids.append(doc_id)
            lengths.append(len(words))
        # Interning in C: dict.fromkeys dedupes, map() looks every token up without a Python loop.
        vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
        token_ids = np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        del tokens
        n, v = len(chunk_ids), len(vocab)
        length = np.asarray(lengths, dtype=np.int64)
        # One sort for everything: key = term * n + row orders postings by term, then row (CSC).
        rows_of_tokens = np.repeat(np.arange(n, dtype=np.int64), length)
        keys, tf = np.unique(token_ids * max(n, 1) + rows_of_tokens, return_counts=True)
        terms = keys // max(n, 1)
        rows = (keys % max(n, 1)).astype(np.int32)
        df = np.bincount(terms, minlength=v)
        offsets = np.zeros(v + 1, dtype=np.int64)
        np.cumsum(df, out=offsets[1:])
        avg = float(length.mean()) if n and length.sum() else 1.0
        tf32 = tf.astype(np.float32)
        weights = tf32 * (K1 + 1) / (tf32 + K1 * (1 - B + B * length[rows].astype(np.float32) / avg))
        # FTS5's IDF (without Lucene's +1), floored so very common terms still count a little.
        idf = np.maximum(np.log((n - df + 0.5) / (df + 0.5)), 1e-6).astype(np.float32)
        return cls(
            generation,
            np.asarray(chunk_ids, dtype=np.int64),
            np.asarray(doc_ids, dtype=np.int64),
            vocab,
            offsets,
            rows,
            weights.astype(np.float32),
            idf,
        )

    def __len__(self) -> int:
        return int(self.chunk_ids.shape[0])

    def search(self, terms: Sequence[str], limit: int, doc_ids: set[int] | None = None) -> list[tuple[int, float]]:
        """BM25 over ``terms`` (analysed query terms): ``(chunk_id, score)``, best first."""
        n = len(self)
        wanted = [self.vocab[t] for t in dict.fromkeys(expand_terms(terms)) if t in self.vocab]
        if n == 0 or not wanted or limit <= 0:
            return []
        scores = np.zeros(n, dtype=np.float32)
        for t in wanted:
            a, b = self.offsets[t], self.offsets[t + 1]
            # Rows are unique within one term's postings, so fancy-index += is exact.
            scores[self.rows[a:b]] += self.idf[t] * self.weights[a:b]
        if doc_ids is not None:
            scores[~np.isin(self.doc_ids, np.fromiter(doc_ids, dtype=np.int64, count=len(doc_ids)))] = 0.0
        matched = int(np.count_nonzero(scores))
        k = min(limit, matched)
        if k == 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.chunk_ids[i]), float(scores[i])) for i in top]

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the arrays (the vocabulary dict not counted)."""
        arrays = (self.chunk_ids, self.doc_ids, self.offsets, self.rows, self.weights, self.idf)
        return int(sum(a.nbytes for a in arrays))


def idf_of(n: int, df: int) -> float:
    """The IDF ``SparseIndex`` uses for a term found in ``df`` of ``n`` chunks (for tests and docs)."""
    return max(math.log((n - df + 0.5) / (df + 0.5)), 1e-6)


class SparseIndexCache:
    """One ``SparseIndex`` per knowledge base, kept while the knowledge base's generation stands.

    ``mode`` is ``"memory"`` (always use the in-memory index; a stale one is rebuilt before the
    query), ``"fts5"`` (never: the caller ranks with FTS5) or ``"auto"``: knowledge bases with at
    least ``min_chunks`` chunks use the in-memory index, rebuilt in a background thread after a
    change while FTS5 answers the queries in between, so ingestion never waits for a rebuild and
    search never sees stale postings. Small knowledge bases stay on FTS5, which is fast enough there.
    """

    def __init__(
        self,
        load: Callable[[int], Iterable[tuple[int, int, str]]],
        count: Callable[[int], int],
        *,
        mode: str = "auto",
        min_chunks: int = 5_000,
    ) -> None:
        if mode not in ("auto", "memory", "fts5"):
            raise ValueError(f"keyword index mode must be auto, memory or fts5, not {mode!r}")
        self.mode = mode
        self.min_chunks = min_chunks
        self._load = load
        self._count = count
        self._indexes: dict[int, SparseIndex] = {}
        self._counts: dict[int, tuple[int, int]] = {}  # kb -> (generation, chunk count)
        self._building: set[int] = set()
        self._lock = threading.Lock()

    def get(self, kb_id: int, generation: int) -> SparseIndex | None:
        """The current index of ``kb_id``, or None when the caller should rank with FTS5."""
        if self.mode == "fts5":
            return None
        index = self._indexes.get(kb_id)
        if index is not None and index.generation == generation:
            return index
        if self.mode == "memory":
            return self.build(kb_id, generation)
        if self._chunk_count(kb_id, generation) < self.min_chunks:
            return None
        with self._lock:
            if kb_id in self._building:
                return None
            self._building.add(kb_id)
        threading.Thread(target=self._build_in_background, args=(kb_id, generation), daemon=True).start()
        return None

    def build(self, kb_id: int, generation: int) -> SparseIndex:
        """Build (or rebuild) the index now and keep it."""
        index = SparseIndex.build(self._load(kb_id), generation)
        with self._lock:
            current = self._indexes.get(kb_id)
            if current is None or current.generation <= generation:
                self._indexes[kb_id] = index
        return index

    def drop(self, kb_id: int) -> None:
        """Forget ``kb_id``'s index (its knowledge base was deleted)."""
        with self._lock:
            self._indexes.pop(kb_id, None)
            self._counts.pop(kb_id, None)

    def _chunk_count(self, kb_id: int, generation: int) -> int:
        cached = self._counts.get(kb_id)
        if cached is None or cached[0] != generation:
            cached = (generation, self._count(kb_id))
            self._counts[kb_id] = cached
        return cached[1]

    def _build_in_background(self, kb_id: int, generation: int) -> None:
        try:
            self.build(kb_id, generation)
        except Exception:  # the store may be closed or the KB deleted meanwhile; FTS5 keeps serving
            pass
        finally:
            with self._lock:
                self._building.discard(kb_id)
