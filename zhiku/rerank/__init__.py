"""Rerankers: an optional second stage that reads the query and each top hit together.

Selected by ``Settings.reranker`` as ``<kind>:<argument>``; none by default (nothing ships on PyPI,
so a reranker is always something the operator points zhiku at):

- ``onnx:<folder>``: a cross-encoder exported to ONNX (``model.onnx`` or ``onnx/model.onnx``, plus
  ``tokenizer.json``), run in-process by onnxruntime: ``pip install 'zhiku[rerank]'``. Examples:
  bge-reranker-v2-m3 or bge-reranker-base (Chinese and English), ms-marco-MiniLM (English).
- ``http:<model>``: a rerank endpoint at ``Settings.rerank_base_url`` speaking the Cohere/Jina
  ``POST /rerank`` API: llama.cpp's ``llama-server --reranking``, vLLM, Infinity, Xinference, Jina,
  Cohere.

Plugins add kinds with ``RerankerRegistry.register``. The retriever reranks the fused top
``Settings.rerank_candidates`` hits (``zhiku.retrieve``); ``Settings.rerank_threshold`` lets the
reranker's best score refuse an answer too (``zhiku.answer``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..protocols import Reranker

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Reranker", "RerankerRegistry"]

RerankerFactory = Callable[["Settings", str], Reranker]


def _onnx(settings: Settings, folder: str) -> Reranker:
    from .onnx import ONNXReranker

    return ONNXReranker(Path(folder).expanduser(), max_length=settings.rerank_max_tokens, batch=settings.rerank_batch)


def _http(settings: Settings, model: str) -> Reranker:
    from .remote import HTTPReranker

    if not settings.rerank_base_url:
        raise ConfigError("reranker 'http:<model>' needs ZHIKU_RERANK_BASE_URL (e.g. http://host:8080/v1)")
    return HTTPReranker(settings.rerank_base_url, model, api_key=settings.rerank_api_key)


class RerankerRegistry:
    """Maps reranker kinds (the part before ``:``) to factories taking the settings and the argument."""

    def __init__(self) -> None:
        self._factories: dict[str, RerankerFactory] = {"onnx": _onnx, "http": _http}

    def register(self, kind: str, factory: RerankerFactory) -> None:
        self._factories[kind] = factory

    def kinds(self) -> Sequence[str]:
        return list(self._factories)

    def create(self, spec: str, settings: Settings) -> Reranker:
        """Build the reranker ``spec`` (``onnx:/models/bge-reranker``, ``http:bge-reranker-v2-m3``)."""
        kind, sep, argument = spec.partition(":")
        if not sep or not argument:
            raise ConfigError(f"reranker {spec!r} must be <kind>:<argument>, e.g. onnx:/models/bge-reranker-base")
        try:
            factory = self._factories[kind]
        except KeyError:
            raise ConfigError(f"unknown reranker kind {kind!r}; choose one of: {', '.join(self.kinds())}") from None
        return factory(settings, argument)
