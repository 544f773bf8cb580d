"""``App``: the one facade the CLI, the server and Python callers use.

It wires settings into the store, parsers, chunker, embedder, retriever and answerer, creating each
lazily (loading the embedding model takes a second; listing knowledge bases should not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path

from .answer import Answerer, AnswerEvent
from .chunk import Chunker
from .embed import CachedEmbedder, EmbedderRegistry, VectorCache
from .errors import NotFound
from .ingest import FileOutcome, Indexer, IngestReport, expand_paths
from .llm import create_llm
from .parse import ParserRegistry
from .protocols import LLM, Embedder, Store
from .retrieve import Mode, Retriever, SearchRequest, SearchResult
from .settings import Settings
from .store import SQLiteStore
from .text import Analyzer
from .types import Answer, DocumentRecord, Hit, KnowledgeBase, ParsedDocument


class App:
    """zhiku as a library.

    >>> app = App(Settings(home="/tmp/zk"))
    >>> app.create_kb("handbook")
    >>> app.add("handbook", ["docs/"])
    >>> app.ask("handbook", "How many days of annual leave do new hires get?").text
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Store | None = None,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._store = store
        self._embedder = embedder
        self._llm = llm
        self.embedders = EmbedderRegistry()
        self.parsers = ParserRegistry()

    # -- components ------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = SQLiteStore(self.settings.database_path)
        return self._store

    @cached_property
    def analyzer(self) -> Analyzer:
        return Analyzer(self.settings.cache_dir)

    @cached_property
    def vector_cache(self) -> VectorCache:
        return VectorCache(self.settings.cache_dir / "vectors.sqlite")

    @cached_property
    def embedder(self) -> CachedEmbedder:
        inner = self._embedder or self.embedders.create(self.settings.embedder, self.settings)
        return CachedEmbedder(inner, self.vector_cache, self.settings.embed_batch)

    @cached_property
    def llm(self) -> LLM | None:
        return self._llm if self._llm is not None else create_llm(self.settings)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder.embed_query, self.analyzer)

    @cached_property
    def answerer(self) -> Answerer:
        s = self.settings
        return Answerer(
            self.analyzer,
            self.llm,
            refusal_threshold=s.refusal_threshold,
            verify_threshold=s.verify_threshold,
            max_sources=s.answer_sources,
            max_tokens=s.llm_max_tokens,
        )

    @cached_property
    def indexer(self) -> Indexer:
        s = self.settings
        return Indexer(
            self.store,
            self.parsers,
            Chunker(s.chunk_tokens, s.chunk_overlap),
            self.analyzer,
            self.embedder,
            max_bytes=int(s.max_file_mb * 1024 * 1024),
        )

    # -- knowledge bases -------------------------------------------------------------------------

    def create_kb(self, name: str, description: str = "") -> KnowledgeBase:
        return self.store.create_kb(name, description)

    def ensure_kb(self, name: str) -> KnowledgeBase:
        """The knowledge base ``name``, created if missing."""
        try:
            return self.store.get_kb(name)
        except NotFound:
            return self.store.create_kb(name)

    def get_kb(self, name: str) -> KnowledgeBase:
        return self.store.get_kb(name)

    def list_kbs(self) -> list[KnowledgeBase]:
        return self.store.list_kbs()

    def delete_kb(self, name: str) -> None:
        self.store.delete_kb(name)

    # -- documents -------------------------------------------------------------------------------

    def add(
        self,
        kb: str,
        inputs: Iterable[str | Path],
        *,
        on_file: Callable[[FileOutcome], None] | None = None,
    ) -> IngestReport:
        """Index files, folders (recursively) and globs into ``kb``; bad files are reported, not raised."""
        kb_id = self.store.kb_id(kb)
        paths = expand_paths(inputs, self.parsers.supported_extensions())
        return self.indexer.add_files(kb_id, paths, on_file=on_file)

    def plan(self, inputs: Iterable[str | Path]) -> list[Path]:
        """The files ``add`` would look at (for progress bars and dry runs)."""
        return expand_paths(inputs, self.parsers.supported_extensions())

    def add_file(self, kb: str, path: Path, key: str | None = None) -> FileOutcome:
        return self.indexer.add_file(self.store.kb_id(kb), path, key)

    def add_parsed(self, kb: str, key: str, parsed: ParsedDocument) -> DocumentRecord:
        """Index an already-parsed document (used by evaluation loaders and integrations)."""
        return self.indexer.add_parsed(self.store.kb_id(kb), key, parsed)

    def list_documents(self, kb: str) -> list[DocumentRecord]:
        return self.store.list_documents(self.store.kb_id(kb))

    def delete_document(self, kb: str, doc_id: int) -> None:
        doc = self.store.get_document(doc_id)
        if doc.kb_id != self.store.kb_id(kb):
            raise NotFound(f"document {doc_id} is not in knowledge base {kb!r}")
        self.store.delete_document(doc_id)

    # -- search and answers ----------------------------------------------------------------------

    def search(
        self,
        kb: str,
        query: str,
        *,
        mode: Mode = "hybrid",
        top_k: int | None = None,
        path_glob: str | None = None,
        doc_ids: set[int] | None = None,
    ) -> SearchResult:
        s = self.settings
        request = SearchRequest(
            query=query,
            kb_id=self.store.kb_id(kb),
            mode=mode,
            top_k=top_k or s.top_k,
            candidates=max(s.candidates, top_k or 0),
            dense_weight=s.dense_weight,
            fusion=s.fusion,
            path_glob=path_glob,
            doc_ids=doc_ids,
        )
        return self.retriever.search(request)

    def ask(
        self,
        kb: str,
        question: str,
        *,
        history: Sequence[dict[str, str]] = (),
        mode: Mode = "hybrid",
        path_glob: str | None = None,
    ) -> Answer:
        """A grounded, cited answer (or an honest refusal) to ``question`` from ``kb``."""
        return self.answerer.answer(question, self._evidence(kb, question, history, mode, path_glob), history)

    def ask_stream(
        self,
        kb: str,
        question: str,
        *,
        history: Sequence[dict[str, str]] = (),
        mode: Mode = "hybrid",
        path_glob: str | None = None,
    ) -> Iterator[AnswerEvent]:
        """Like ``ask`` but yields text pieces as they come, then the final answer."""
        yield from self.answerer.stream(question, self._evidence(kb, question, history, mode, path_glob), history)

    def _evidence(
        self, kb: str, question: str, history: Sequence[dict[str, str]], mode: Mode, path_glob: str | None
    ) -> list[Hit]:
        """The hits an answer is built from; follow-ups lean on the previous question."""
        return self.search(kb, _retrieval_query(question, history), mode=mode, path_glob=path_glob).hits

    def warm_up(self) -> None:
        """Load everything a query needs (store, analyser, embedding model, answerer) now."""
        self.list_kbs()
        self.analyzer.terms("warm up 预热")
        self.embedder.embed_query("warm up")
        _ = self.answerer, self.retriever

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _retrieval_query(question: str, history: Sequence[dict[str, str]]) -> str:
    """Follow-ups ("and for contractors?") lean on the previous question for retrieval."""
    previous = [m["content"] for m in history if m.get("role") == "user"]
    if previous and len(question) < 60:
        return f"{previous[-1]}\n{question}"
    return question
