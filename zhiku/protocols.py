"""The seams of zhiku: one small protocol each, one required method where possible.

Implementations register themselves in a registry (see ``zhiku.parse``, ``zhiku.embed``,
``zhiku.llm``) so new formats, models and backends plug in without touching callers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .types import Chunk, DocumentRecord, Hit, KnowledgeBase, ParsedDocument, Usage


@runtime_checkable
class Parser(Protocol):
    """Reads one file into a ``ParsedDocument``; raises ``ParseError`` with a readable reason."""

    def parse(self, path: Path) -> ParsedDocument: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors.

    ``name`` identifies the model (it keys the vector cache); ``dim`` is the vector size. Queries and
    passages are embedded separately because models like e5 prefix them differently.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray: ...


@runtime_checkable
class LLM(Protocol):
    """A chat model. ``complete`` returns the text and the tokens it cost; ``stream`` yields text
    pieces and fills ``usage`` as it goes."""

    name: str

    def complete(self, messages: list[dict[str, str]], *, max_tokens: int = 512) -> tuple[str, Usage]: ...

    def stream(
        self, messages: list[dict[str, str]], usage: Usage, *, max_tokens: int = 512
    ) -> Iterator[str]: ...


@runtime_checkable
class Store(Protocol):
    """Where knowledge bases live. Search belongs to the store so one hybrid retriever serves every
    backend. See ``zhiku.store.sqlite.SQLiteStore`` for the reference implementation and docs."""

    def create_kb(self, name: str, description: str = "") -> KnowledgeBase: ...
    def get_kb(self, name: str) -> KnowledgeBase: ...
    def kb_id(self, name: str) -> int: ...
    def list_kbs(self) -> list[KnowledgeBase]: ...
    def delete_kb(self, name: str) -> None: ...
    def find_document(self, kb_id: int, path: str) -> DocumentRecord | None: ...
    def get_document(self, doc_id: int) -> DocumentRecord: ...
    def list_documents(self, kb_id: int) -> list[DocumentRecord]: ...
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
    ) -> DocumentRecord: ...
    def delete_document(self, doc_id: int) -> None: ...
    def doc_ids_matching(self, kb_id: int, path_glob: str) -> set[int]: ...
    def get_chunks(self, chunk_ids: Iterable[int]) -> dict[int, Hit]: ...
    def keyword_search(
        self, kb_id: int, terms: Sequence[str], limit: int, doc_ids: set[int] | None = None
    ) -> list[tuple[int, float]]: ...
    def vector_search(
        self, kb_id: int, query: np.ndarray, limit: int, doc_ids: set[int] | None = None
    ) -> list[tuple[int, float]]: ...
    def counts(self, kb_id: int) -> dict[str, int]: ...
    def close(self) -> None: ...
