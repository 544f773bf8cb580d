"""``App``: the one facade the CLI, the server and Python callers use.

It wires settings into the store, parsers, chunker, embedder, retriever and answerer, creating each
lazily (loading the embedding model takes a second; listing knowledge bases should not).
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

from .answer import Answerer, AnswerEvent
from .bridge import TermBridge
from .chunk import Chunker
from .doctor import DoctorReport, diagnose
from .embed import CachedEmbedder, EmbedderRegistry, VectorCache
from .errors import (
    ConfigError,
    EmptyQuery,
    InvalidName,
    NotFound,
    QueryTooLong,
    StoreUnavailable,
    ZhikuError,
    storage_problem,
)
from .ingest import (
    FileOutcome,
    Indexer,
    IngestReport,
    UploadTooLarge,
    expand_paths,
    keep_upload,
    pipeline_id,
    safe_name,
)
from .jobs import BackgroundRunner, JobCallback, JobRunner, RunStats, VectorCallback, outcome_of
from .protocols import LLM, Embedder, Reranker, Store
from .rerank import RerankerRegistry
from .retrieve import Mode, Retriever, SearchRequest, SearchResult
from .settings import Settings
from .store import SQLiteStore
from .store.records import Job, JobSpec, JobStatus, row_id
from .sync import SyncResult, plan_sync
from .text import Analyzer
from .types import Answer, DocumentRecord, Hit, KnowledgeBase, ParsedDocument
from .worker import ParsePool, WorkerConfig, build_parsers, default_workers


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
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._store = store
        self._embedder = embedder
        self._llm = llm
        self._reranker = reranker
        self.embedders = EmbedderRegistry()
        self.rerankers = RerankerRegistry()
        self.parsers = build_parsers(self.settings)
        self._runners = threading.local()  # one inline runner (and parser pool) per calling thread
        self._pools: list[ParsePool] = []
        self.background: BackgroundRunner | None = None

    # -- components ------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = SQLiteStore(
                self.settings.database_path,
                self.settings.home / "uploads",
                keyword_index=self.settings.keyword_index,
                memory_index_min_chunks=self.settings.memory_index_min_chunks,
            )
        return self._store

    @cached_property
    def analyzer(self) -> Analyzer:
        return Analyzer.from_settings(self.settings)

    @cached_property
    def vector_cache(self) -> VectorCache:
        return VectorCache(self.settings.cache_dir / "vectors.sqlite")

    @cached_property
    def embedder(self) -> CachedEmbedder:
        inner = self._embedder or self.embedders.create(self.settings.embedder, self.settings)
        return CachedEmbedder(inner, self.vector_cache, self.settings.embed_batch)

    @cached_property
    def llm(self) -> LLM | None:
        if self._llm is not None:
            return self._llm
        from .llm import create_llm  # httpx (~8 MB) only in processes that answer questions

        return create_llm(self.settings)

    @cached_property
    def reranker(self) -> Reranker | None:
        """The configured reranker (``Settings.reranker``), or None: reranking is opt-in."""
        if self._reranker is not None:
            return self._reranker
        spec = self.settings.reranker
        return self.rerankers.create(spec, self.settings) if spec else None

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder.embed_query, self.analyzer, self.reranker, self.bridge)

    @cached_property
    def bridge(self) -> TermBridge | None:
        """Cross-language word matches for retrieval and evidence (``cross_language``); USE loads on first use.
        When USE is the configured embedder already, its loaded model serves the bridge too."""
        if not self.settings.cross_language:
            return None
        words = self.embedder.inner if self.embedder.name == "use" else self.embedders.create("use", self.settings)
        return TermBridge(self.analyzer, words.embed)

    @cached_property
    def answerer(self) -> Answerer:
        s = self.settings
        return Answerer(
            self.analyzer,
            self.llm,
            refusal_threshold=s.refusal_threshold,
            rerank_threshold=s.rerank_threshold,  # only hits a reranker scored can trip it
            verify_threshold=s.verify_threshold,
            max_sources=s.answer_sources,
            max_tokens=s.llm_max_tokens,
            bridge=self.bridge,
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
            max_bytes=s.max_file_bytes,
        )

    # -- jobs ------------------------------------------------------------------------------------

    @property
    def pipeline(self) -> str:
        """What makes documents' chunks here (``ingest.pipeline_id``): a document indexed by another
        is parsed again by the next add or sync."""
        return pipeline_id(self.settings.chunk_tokens, self.settings.chunk_overlap, self.analyzer.signature)

    def new_pool(self) -> ParsePool:
        """A pool of parser processes configured from the settings (one per runner)."""
        s = self.settings
        config = WorkerConfig(s, s.max_file_bytes, s.chunk_tokens, s.chunk_overlap)
        return ParsePool(
            config,
            s.parse_workers or default_workers(),
            s.parse_timeout_s,
            in_process=s.parse_in_process,
            parsers=self.parsers if s.parse_in_process else None,
        )

    def new_runner(self) -> JobRunner:
        """A job runner with its own parser pool (use one per thread)."""
        return JobRunner(
            self.store,
            self.settings,
            self.analyzer,
            self.embedder,
            self.new_pool(),
            self.parsers.supported_extensions(),
        )

    @property
    def runner(self) -> JobRunner:
        """The runner the calling thread uses for ``add`` and friends (its workers are reused)."""
        runner: JobRunner | None = getattr(self._runners, "runner", None)
        if runner is None:
            runner = self._runners.runner = self.new_runner()
            self._pools.append(runner.pool)
        return runner

    def enqueue(self, kb: str, specs: Sequence[JobSpec], batch: str | None = None) -> tuple[str, list[int]]:
        """Queue jobs for ``kb``; returns the batch id and the job ids (a server's runner is woken)."""
        batch = batch or self.store.new_batch()
        ids = self.store.enqueue_jobs(self.store.kb_id(kb), specs, batch)
        if self.background is not None:
            self.background.notify()
        return batch, ids

    def run_jobs(
        self,
        *,
        kb: str | None = None,
        until: Sequence[int] | None = None,
        embed: bool = True,
        on_job: JobCallback | None = None,
        on_vectors: VectorCallback | None = None,
    ) -> RunStats:
        """Do queued jobs (of ``kb``) now, in this thread, until they (or ``until``) are finished and,
        with ``embed``, every chunk has its vector."""
        kb_id = self.store.kb_id(kb) if kb is not None else None
        return self.runner.run(kb_id=kb_id, until=until, embed=embed, on_job=on_job, on_vectors=on_vectors)

    def embed_pending(self, kb: str | None = None, on_vectors: VectorCallback | None = None) -> RunStats:
        """Embed every chunk (of ``kb``) still waiting for its vector, now."""
        kb_id = self.store.kb_id(kb) if kb is not None else None
        return self.runner.run(kb_id=kb_id, jobs=False, on_vectors=on_vectors)

    def doctor(self, kb: str | None = None, *, repair: bool = False) -> DoctorReport:
        """Check the store's consistency (and repair it); see ``zhiku.doctor``."""
        return diagnose(self, kb, repair=repair)

    def wait_for_jobs(self, job_ids: Sequence[int], timeout: float | None = None) -> list[Job]:
        """Wait until the jobs are finished: by the server's background runner when it runs, else
        by running them here. Returns the jobs (unfinished ones too if ``timeout`` passed)."""
        if self.background is None or not self.background.alive:
            self.runner.run(until=job_ids, embed=False)
            return self.store.get_jobs(job_ids)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            jobs = self.store.get_jobs(job_ids)
            if all(j.finished for j in jobs) or (deadline is not None and time.monotonic() > deadline):
                return jobs
            failure = self.background.failure  # not waiting for ever on a runner that cannot run (a full disk)
            if failure is not None:
                s = self.settings
                problem = storage_problem(failure, s.home, s.database_path) or f"{type(failure).__name__}: {failure}"
                raise StoreUnavailable(
                    f"indexing stopped: {problem}; the files stay queued and are "
                    "indexed once that is fixed (GET /api/jobs, zhiku jobs)"
                )
            time.sleep(0.05)

    def start_background(self) -> BackgroundRunner:
        """Start the thread that does queued jobs and embeds pending chunks (``zhiku serve``)."""
        if self.background is None:
            self.background = BackgroundRunner(self.new_runner, self.store)
        self.background.start()
        return self.background

    def stop_background(self) -> None:
        if self.background is not None:
            self.background.stop()

    def list_jobs(self, kb: str | None = None, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        kb_id = self.store.kb_id(kb) if kb is not None else None
        return self.store.list_jobs(kb_id=kb_id, status=status, limit=limit)

    def retry_jobs(self, job_ids: Sequence[int] = (), *, kb: str | None = None, failed: bool = False) -> list[int]:
        """Queue failed jobs again (by id, or every failed one of ``kb`` with ``failed=True``)."""
        kb_id = self.store.kb_id(kb) if kb is not None else None
        ids = self.store.retry_jobs(job_ids, kb_id=kb_id, failed=failed)
        if ids and self.background is not None:
            self.background.notify()
        return ids

    def prune_jobs(self, older_than_days: float, *, kb: str | None = None) -> int:
        """Forget finished jobs older than ``older_than_days`` (the latest failure of each file is
        kept while it is the latest). Returns how many were removed."""
        kb_id = self.store.kb_id(kb) if kb is not None else None
        return self.store.prune_jobs(time.time() - older_than_days * 86400, kb_id=kb_id)

    # -- knowledge bases -------------------------------------------------------------------------

    def create_kb(self, name: str, description: str = "") -> KnowledgeBase:
        """A new, empty knowledge base (``AlreadyExists`` if the name is taken, ``InvalidName`` for a
        name that could not be used everywhere: see ``check_kb_name``)."""
        return self.store.create_kb(check_kb_name(name), description)

    def ensure_kb(self, name: str) -> KnowledgeBase:
        """The knowledge base ``name``, created if missing."""
        try:
            return self.store.get_kb(name)
        except NotFound:
            return self.store.create_kb(check_kb_name(name))

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
        """Index files, folders (recursively) and globs into ``kb``; bad files are reported, not raised.

        Each file becomes a job in the store (so an interrupted run resumes); this returns once every
        file is indexed and embedded.
        """
        self.store.kb_id(kb)  # a missing knowledge base fails before any work
        return self.add_paths(kb, expand_paths(inputs, self.parsers.supported_extensions()), on_file=on_file)

    def add_paths(
        self,
        kb: str,
        paths: Sequence[Path],
        *,
        on_file: Callable[[FileOutcome], None] | None = None,
        on_vectors: VectorCallback | None = None,
        keys: Sequence[str] | None = None,
    ) -> IngestReport:
        """Queue one add job per file (keyed by its absolute path, or ``keys``) and run them."""
        specs = [JobSpec("add", keys[i] if keys else str(p.resolve()), str(p.absolute())) for i, p in enumerate(paths)]
        _, ids = self.enqueue(kb, specs)
        mine = set(ids)

        def on_job(job: Job) -> None:
            if on_file is not None and job.id in mine and job.kind == "add":
                on_file(outcome_of(job))

        stats = self.run_jobs(kb=kb, until=ids, on_job=on_job, on_vectors=on_vectors)
        report = IngestReport(resumed=len(stats.recovered), vectors=stats.vectors, embed_error=stats.embed_error)
        seen: set[int] = set()
        for job in self.store.get_jobs(ids):
            if job.id not in seen:
                seen.add(job.id)
                report.outcomes.append(outcome_of(job))
        return report

    def sync(
        self,
        kb: str,
        folder: str | Path,
        *,
        dry_run: bool = False,
        on_job: JobCallback | None = None,
        on_vectors: VectorCallback | None = None,
    ) -> SyncResult:
        """Make ``kb`` hold exactly the supported files of ``folder`` (new added, changed re-indexed,
        deleted removed). ``dry_run`` only reports what would change."""
        kb_id = self.store.kb_id(kb)
        extensions = self.parsers.supported_extensions()
        plan = plan_sync(self.store, kb_id, Path(folder), extensions, self.pipeline, hash_changed=dry_run)
        if dry_run:
            return SyncResult(plan.summary(), [], plan)
        root = str(Path(folder).expanduser().resolve())
        _, ids = self.enqueue(kb, [JobSpec("sync", root, root)])
        stats = self.run_jobs(kb=kb, until=ids, embed=False)  # the scan queues the add/delete jobs
        scan = self.store.get_job(ids[0])
        if scan.status == "failed":
            raise ZhikuError(scan.reason)
        follow = [j.id for j in self.store.list_jobs(batch=scan.batch, limit=10**9) if j.kind != "sync"]
        more = self.run_jobs(kb=kb, until=sorted(follow), on_job=on_job, on_vectors=on_vectors)
        return SyncResult(
            scan.reason or scan.result, self.store.get_jobs(follow), None, len(stats.recovered), more.embed_error
        )

    def upload(self, kb: str, files: Sequence[tuple[str, BinaryIO]]) -> tuple[str, list[int]]:
        """Keep uploaded files under the data directory and queue them as ``upload/<filename>``;
        returns the batch and job ids (see ``wait_for_jobs``)."""
        folder = self.store.kb_files_dir(self.store.kb_id(kb))
        specs: list[JobSpec] = []
        for i, (name, data) in enumerate(files):
            key = f"upload/{safe_name(name) or f'upload-{i + 1}'}"
            if any(spec.key == key for spec in specs):
                # One key is one document: a second file of that name would silently replace the first.
                refused = f"{key}: another file of this upload has the same name; rename one and upload it again"
                specs.append(JobSpec("add", key, refused=refused))
                continue
            try:
                kept = keep_upload(folder, key.removeprefix("upload/"), data, self.settings.max_file_bytes)
            except UploadTooLarge as exc:
                specs.append(JobSpec("add", key, refused=str(exc)))
                continue
            specs.append(JobSpec("add", key, str(kept)))
        return self.enqueue(kb, specs)

    def plan(self, inputs: Iterable[str | Path], skipped: list[Path] | None = None) -> list[Path]:
        """The files ``add`` would look at (for progress bars and dry runs); files inside folders
        whose type no parser reads are appended to ``skipped``."""
        return expand_paths(inputs, self.parsers.supported_extensions(), skipped)

    def add_file(self, kb: str, path: Path, key: str | None = None) -> FileOutcome:
        """Index one file (as a job), stored under ``key`` (default: its absolute path)."""
        return self.add_paths(kb, [path], keys=[key] if key else None).outcomes[0]

    def add_parsed(self, kb: str, key: str, parsed: ParsedDocument) -> DocumentRecord:
        """Index an already-parsed document (used by evaluation loaders and integrations)."""
        return self.indexer.add_parsed(self.store.kb_id(kb), key, parsed)

    def list_documents(self, kb: str) -> list[DocumentRecord]:
        return self.store.list_documents(self.store.kb_id(kb))

    def get_document(self, kb: str, doc_id: int) -> DocumentRecord:
        """Document ``doc_id`` of ``kb`` (a citation's ``doc_id``); ``NotFound`` if it is another's."""
        doc = self.store.get_document(doc_id)
        if doc.kb_id != self.store.kb_id(kb):
            raise NotFound(f"document {doc_id} is not in knowledge base {kb!r}")
        return doc

    def document_chunks(self, kb: str, doc_id: int) -> list[Hit]:
        """The chunks of document ``doc_id`` of ``kb`` in reading order, with their locators."""
        self.get_document(kb, doc_id)
        ids = self.store.document_chunk_ids(doc_id)
        found = self.store.get_chunks(ids)
        return [found[i] for i in ids if i in found]

    def get_chunk(self, kb: str, chunk_id: int) -> Hit:
        """Chunk ``chunk_id`` of ``kb`` (a citation's ``chunk_id``): its whole text and locator."""
        hit = self.store.get_chunks([row_id(chunk_id)]).get(chunk_id)
        if hit is None or self.store.get_document(hit.doc_id).kb_id != self.store.kb_id(kb):
            raise NotFound(f"chunk {chunk_id} is not in knowledge base {kb!r}")
        return hit

    def delete_document(self, kb: str, doc_id: int) -> None:
        self.get_document(kb, doc_id)
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
        rerank: bool | None = None,
    ) -> SearchResult:
        """The ``top_k`` best chunks for ``query``. ``rerank`` None reranks when a reranker is
        configured; True insists on one (``ConfigError`` without), False skips it."""
        s = self.settings
        self._check_query(query, "query")
        if rerank and self.reranker is None:
            raise ConfigError("no reranker configured: set ZHIKU_RERANKER (e.g. onnx:/models/bge-reranker-base)")
        reranking = rerank is not False and self.reranker is not None
        request = SearchRequest(
            query=query,
            kb_id=self.store.kb_id(kb),
            mode=mode,
            top_k=top_k or s.top_k,
            candidates=max(s.candidates, top_k or 0),
            dense_weight=s.dense_weight,
            fusion=s.fusion,
            feedback=s.dense_feedback,
            feedback_weight=s.dense_feedback_weight,
            path_glob=path_glob,
            doc_ids=doc_ids,
            rerank=s.rerank_candidates if reranking else 0,
        )
        result = self.retriever.search(request)
        pending = self.store.pending_count(request.kb_id) if mode != "bm25" else 0
        if pending:
            result.notes.append(
                f"{pending} chunk(s) have no dense vector yet (embedding in progress): "
                "they are found by keyword search only"
            )
        return result

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
        self._check_query(question, "question")
        hits = self._evidence(kb, question, history, mode, path_glob)
        return self.answerer.answer(question, hits, history, unknown=self._unknown_terms(kb, question))

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
        self._check_query(question, "question")
        hits = self._evidence(kb, question, history, mode, path_glob)
        yield from self.answerer.stream(question, hits, history, unknown=self._unknown_terms(kb, question))

    def _evidence(
        self, kb: str, question: str, history: Sequence[dict[str, str]], mode: Mode, path_glob: str | None
    ) -> list[Hit]:
        """The hits an answer is built from; follow-ups lean on the previous question."""
        query = _retrieval_query(question, history)[-self.settings.max_query_chars :]  # the question is last
        return self.search(kb, query, mode=mode, path_glob=path_glob).hits

    def _check_query(self, text: str, what: str) -> None:
        """Refuse an empty question or query, and one beyond ``max_query_chars``: its cost grows with its
        length (a 40,000-character question took over a minute), and a question is not a document."""
        limit = self.settings.max_query_chars
        if not text.strip():  # answered with "the knowledge base does not contain it" before: untrue
            raise EmptyQuery(f"the {what} is empty; say what to look for")
        if len(text) > limit:
            raise QueryTooLong(
                f"the {what} is {len(text):,} characters; the limit is {limit:,} (ZHIKU_MAX_QUERY_CHARS). "
                "Ask about one thing at a time; to search a long text, add it as a document (zhiku add)."
            )

    def _unknown_terms(self, kb: str, question: str) -> set[str]:
        """The question's terms that no chunk of ``kb`` contains: a question about something the
        knowledge base never mentions is refused however close its other words come."""
        kb_id = self.store.kb_id(kb)
        return self.answerer.scorer.unknown_terms(question, lambda terms: self.store.known_terms(kb_id, terms))

    def warm_up(self) -> None:
        """Load everything a query needs (store, analyser, embedding model, reranker, answerer) now."""
        for kb in self.list_kbs():
            self.store.warm_keyword_index(kb.id)
        self.analyzer.terms("warm up 预热")
        self.embedder.embed_query("warm up")
        _ = self.answerer, self.retriever  # the retriever loads the reranker, if one is configured
        self.answerer.scorer.question("warm up")  # and the English word frequencies (zhiku.wordfreq)

    def close(self) -> None:
        self.stop_background()
        for pool in self._pools:
            pool.close()
        self._pools.clear()
        self._runners = threading.local()
        close_reranker = getattr(self.__dict__.get("reranker"), "close", None)  # an HTTP client, if built
        if close_reranker is not None:
            close_reranker()
        if self._store is not None:
            self._store.close()


def _retrieval_query(question: str, history: Sequence[dict[str, str]]) -> str:
    """Follow-ups ("and for contractors?") lean on the previous question for retrieval."""
    previous = [m["content"] for m in history if m.get("role") == "user"]
    if previous and len(question) < 60:
        return f"{previous[-1]}\n{question}"
    return question


_KB_NAME_MAX = 200


def check_kb_name(name: str) -> str:
    """``name`` if a knowledge base may have it, else ``InvalidName`` saying why.

    A name appears in URLs (``/api/kbs/<name>``), as an OpenAI model (``kb:<name>``) and on command
    lines: a slash could never be addressed, and blank, padded or control characters could not be
    told apart from other names. Letters of any script, digits, spaces inside, ``-_.:`` are fine.
    """
    if not name.strip():
        raise InvalidName("a knowledge base needs a name: the knowledge base name given is empty")
    problem = ""
    if name != name.strip():
        problem = "starts or ends with a space"
    elif any(c in "/\\" for c in name):
        problem = "contains a slash (it could not be addressed in a URL)"
    elif odd := next((c for c in name if unicodedata.category(c)[0] == "C"), ""):
        kind = "an invisible formatting character" if unicodedata.category(odd) == "Cf" else "a control character"
        problem = f"contains {kind} (U+{ord(odd):04X})"
    elif name in (".", ".."):
        problem = "is a path step"
    elif len(name) > _KB_NAME_MAX:
        problem = f"is longer than {_KB_NAME_MAX} characters"
    if problem:
        raise InvalidName(f"knowledge base name {name!r} {problem}: choose another, e.g. 'handbook' or '员工手册'")
    return name
