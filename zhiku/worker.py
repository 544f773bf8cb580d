"""Parsing in worker processes, each file under a time limit.

A job's file is read, hashed, parsed and chunked in a worker process (``prepare``): a parser that
hangs, crashes the interpreter or eats memory takes only its worker down. The pool kills a worker
whose file runs past ``parse_timeout_s`` and fails that one job with "timed out after N s"; a
worker that dies fails its job with the signal; either way a fresh worker takes the next file.

Workers are fresh interpreters (``python -c "from zhiku.worker import serve; serve()"``, ~0.6 s to
start, once per pool): no fork of a threaded parent, nothing of the caller's ``__main__`` re-run.
They take one file at a time (the pool never holds more than one file per worker in memory), end
when their parent dies (even by SIGKILL), and are recycled after ``MAX_TASKS`` files so a leaking
parser cannot grow them without bound. Keyword terms are computed in the worker too (jieba loads on
the first Chinese text, see ``zhiku.segment``); vectors by the process that owns the store, which has
the model loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import mimetypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal

from .chunk import Chunker
from .errors import ConfigError, ParseError, ZhikuError
from .ingest import extract_tables, file_hash, safe_name, stat_fingerprint
from .parse import ParserRegistry, too_large
from .text import Analyzer
from .types import Chunk, ParsedDocument, TableRecord

MAX_TASKS = 500  # files per worker before it is replaced (bounds the growth of leaky parsers)
MAX_ATTACHMENT_DEPTH = 3  # an e-mail attached to an e-mail attached to an e-mail, and no deeper
READY = "ready"  # a worker's first message, once its parsers are built
LOADING = "loading"  # a worker loads jieba's dictionary now: not counted in the file's time limit
STARTUP_S = 120.0  # how long a new worker may take to start (a busy machine, a slow disk)


def build_parsers(settings: Any) -> ParserRegistry:
    """The parser registry for ``settings``: the one place that configures parsers, used by the
    ``App`` and by every worker process alike.

    ``settings.parser_plugins`` names functions (``module:function``) called with the registry to
    add or replace formats; they run in every worker process too, which a registration made at run
    time on ``App.parsers`` cannot (use ``parse_in_process`` for those).
    """
    registry = ParserRegistry(settings)
    for spec in getattr(settings, "parser_plugins", None) or ():
        module_name, _, function = spec.partition(":")
        try:
            register = getattr(importlib.import_module(module_name), function or "register")
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"parser plugin {spec!r} cannot be loaded ({exc}); expected 'module:function'") from exc
        register(registry)
    return registry


@dataclass
class WorkerConfig:
    """What a worker needs to build its parsers and chunker (pickled to the worker)."""

    settings: Any  # zhiku.settings.Settings
    max_bytes: int
    chunk_tokens: int
    chunk_overlap: int


@dataclass
class ParseTask:
    job_id: int
    key: str
    source: str
    known_hash: str | None = None  # the stored document's hash: same bytes -> "unchanged", no parsing
    name: str = ""  # how to name the file in messages (an upload's own name, not its kept path)


@dataclass
class PreparedDoc:
    """A parsed and chunked document (or attachment), ready for terms, vectors and the store."""

    key: str
    title: str
    content_hash: str
    chunks: list[Chunk]
    tables: list[TableRecord]
    mime: str = ""
    size: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    parent_key: str | None = None
    terms: list[list[str]] | None = None  # keyword terms per chunk, when the worker computed them


@dataclass
class ParseOutcome:
    job_id: int
    status: Literal["parsed", "unchanged", "failed"]
    reason: str = ""
    content_hash: str = ""
    mtime: float | None = None
    docs: list[PreparedDoc] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# -- the work itself (runs in a worker, or in-process) -----------------------------------------------


def prepare(task: ParseTask, parsers: ParserRegistry, chunker: Chunker, max_bytes: int) -> ParseOutcome:
    """Hash, parse and chunk one file; never raises (failures are outcomes with a reason)."""
    path = Path(task.source)
    name = task.name or path.name
    content_hash = ""
    try:
        if not path.is_file():
            reason = f"{name}: no such file" if not path.exists() else f"{name}: not a regular file"
            return ParseOutcome(task.job_id, "failed", reason)
        stat = path.stat()
        if stat.st_size > max_bytes:  # before hashing: a 3 GB file must not be read to be refused
            # Its size and mtime stand for its bytes, so sync skips it until it changes (sync.same_bytes).
            fingerprint = stat_fingerprint(stat.st_size, stat.st_mtime_ns)
            return ParseOutcome(
                task.job_id, "failed", too_large(name, stat.st_size, max_bytes), content_hash=fingerprint
            )
        content_hash = file_hash(path)
        if task.known_hash is not None and task.known_hash == content_hash:
            return ParseOutcome(task.job_id, "unchanged", content_hash=content_hash, mtime=stat.st_mtime)
        parsed = parsers.parse(path, max_bytes=max_bytes)
        outcome = ParseOutcome(task.job_id, "parsed", content_hash=content_hash, mtime=stat.st_mtime)
        mime = mimetypes.guess_type(name)[0] or ""
        root = _prepared(task.key, parsed, chunker, content_hash, mime, stat.st_size)
        outcome.docs.append(root)
        outcome.warnings += [f"{name}: {warning}" for warning in parsed.warnings]
        _attachments(task.key, parsed, parsers, chunker, max_bytes, outcome, depth=1)
        return outcome
    except ZhikuError as exc:
        reason = str(exc).replace(str(path), name)
        return ParseOutcome(task.job_id, "failed", reason, content_hash=content_hash)
    except OSError as exc:
        return ParseOutcome(task.job_id, "failed", f"{name}: cannot read ({exc.strerror or exc})")
    except Exception as exc:  # a bug must fail its own job, not the worker
        reason = f"{name}: internal error while indexing: {type(exc).__name__}: {exc}"
        return ParseOutcome(task.job_id, "failed", reason)


def _prepared(
    key: str, parsed: ParsedDocument, chunker: Chunker, content_hash: str, mime: str, size: int
) -> PreparedDoc:
    chunks = chunker.chunk(parsed)
    if not chunks:
        raise ParseError(f"{Path(key).name}: no text to index")
    return PreparedDoc(key, parsed.title, content_hash, chunks, extract_tables(parsed), mime, size, parsed.metadata)


def _attachments(
    key: str,
    parsed: ParsedDocument,
    parsers: ParserRegistry,
    chunker: Chunker,
    max_bytes: int,
    outcome: ParseOutcome,
    depth: int,
) -> None:
    """Attachments become documents keyed ``<parent key>#<name>``; one that fails is a warning on
    the job, never a failure of its parent."""
    if not parsed.attachments:
        return
    if depth > MAX_ATTACHMENT_DEPTH:
        outcome.warnings.append(f"{key}: attachments nested deeper than {MAX_ATTACHMENT_DEPTH} levels skipped")
        return
    used: set[str] = set()
    for i, attachment in enumerate(parsed.attachments, start=1):
        name = safe_name(attachment.name) or f"attachment-{i}"
        child_key = f"{key}#{name}"
        n = 2
        while child_key in used:
            child_key = f"{key}#{name} ({n})"
            n += 1
        used.add(child_key)
        try:
            with tempfile.TemporaryDirectory(prefix="zhiku-attachment-") as tmp:
                target = Path(tmp) / name
                target.write_bytes(attachment.data)
                child = parsers.parse(target, max_bytes=max_bytes)
                digest = hashlib.sha256(attachment.data).hexdigest()
                mime = mimetypes.guess_type(name)[0] or ""
                doc = _prepared(child_key, child, chunker, digest, mime, len(attachment.data))
            doc.parent_key = key
            doc.metadata = {**doc.metadata, "attachment_of": key}
            outcome.docs.append(doc)
            _attachments(child_key, child, parsers, chunker, max_bytes, outcome, depth + 1)
        except ZhikuError as exc:
            outcome.warnings.append(f"attachment {child_key} skipped: {exc}")
        except OSError as exc:
            outcome.warnings.append(f"attachment {child_key} skipped: cannot write it ({exc.strerror or exc})")


# -- worker processes -------------------------------------------------------------------------------


def serve() -> None:
    """A worker process's life (``python -c "from zhiku.worker import serve; serve()"``).

    The parent talks over the process's stdin/stdout with pickled messages: first the
    ``WorkerConfig``, then ``ParseTask``s, each answered by a ``ParseOutcome``; ``None`` or end of
    input stops the worker. fd 1 is moved aside first, so a library that prints cannot corrupt the
    channel.
    """
    tx = Connection(os.dup(1), readable=False)
    rx = Connection(os.dup(0), writable=False)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with_parent()
    try:
        config: WorkerConfig = rx.recv()
    except (EOFError, OSError):
        return
    parsers = build_parsers(config.settings)
    chunker = Chunker(config.chunk_tokens, config.chunk_overlap)
    # Keyword terms are computed here too (jieba is the costliest CPU step after embedding): the
    # process that owns the store is left with the writes and the embedding. jieba loads on the
    # first Chinese text only (an English corpus never pays its ~10 MB): ~0.3 s from its compact
    # cache, a few seconds the first time (the cache is built), announced with LOADING so that the
    # parent does not count it against the file's time limit.
    analyzer = Analyzer.from_settings(config.settings)
    tx.send(READY)  # the per-file time limit starts now, not while the interpreter was starting
    for _ in range(MAX_TASKS):
        try:
            task = rx.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        outcome = prepare(task, parsers, chunker, config.max_bytes)
        if not analyzer.jieba_loaded and any(
            analyzer.needs_jieba(c.index_text) for d in outcome.docs for c in d.chunks
        ):
            with contextlib.suppress(OSError):
                tx.send(LOADING)
            analyzer.load_jieba()
        for doc in outcome.docs:
            doc.terms = [analyzer.terms(c.index_text) for c in doc.chunks]
        try:
            tx.send(outcome)
        except (EOFError, OSError):
            return
        except Exception as exc:  # an unpicklable result (odd parser metadata)
            tx.send(ParseOutcome(task.job_id, "failed", f"{task.name or task.key}: cannot pass the result on: {exc}"))


def _exit_with_parent() -> None:
    """A worker busy in a parser does not read its input, so it would not notice a parent killed
    with SIGKILL; this thread does, and ends the worker within half a second."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                if os.getpgrp() == os.getpid():  # leading its own group (ParsePool): take Tesseract along
                    os.killpg(os.getpid(), signal.SIGKILL)
                os._exit(0)

    threading.Thread(target=watch, name="zhiku-parent-watch", daemon=True).start()


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    tx: Connection
    rx: Connection
    task: ParseTask | None = None
    deadline: float = 0.0
    tasks: int = 0
    ready: bool = False


class ParsePool:
    """``workers`` parser processes, one file each at a time, ``timeout_s`` per file.

    ``in_process=True`` parses in the calling process instead (no time limit, no isolation): for
    debugging and for parsers registered at run time that a worker process would not know.
    """

    def __init__(
        self,
        config: WorkerConfig,
        workers: int,
        timeout_s: float,
        *,
        in_process: bool = False,
        parsers: ParserRegistry | None = None,
    ) -> None:
        self.config = config
        self.size = max(1, workers)
        self.timeout_s = timeout_s
        self.in_process = in_process
        self._workers: list[_Worker] = []
        self._done: deque[ParseOutcome] = deque()
        self._last_busy = time.monotonic()
        self._local_parsers = parsers
        self._local_chunker: Chunker | None = None

    # -- submitting and collecting ---------------------------------------------------------------

    def free_slots(self) -> int:
        if self.in_process:
            return 0 if self._done else 1
        return self.size - sum(1 for w in self._workers if w.task is not None)

    def busy(self) -> int:
        return len(self._done) if self.in_process else sum(1 for w in self._workers if w.task is not None)

    def submit(self, task: ParseTask) -> None:
        """Start ``task`` on a free worker (callers check ``free_slots`` first)."""
        self._last_busy = time.monotonic()
        if self.in_process:
            if self._local_parsers is None:
                self._local_parsers = build_parsers(self.config.settings)
            if self._local_chunker is None:
                self._local_chunker = Chunker(self.config.chunk_tokens, self.config.chunk_overlap)
            self._done.append(prepare(task, self._local_parsers, self._local_chunker, self.config.max_bytes))
            return
        worker = self._idle_worker()
        worker.task = task
        worker.deadline = time.monotonic() + (self.timeout_s if worker.ready else STARTUP_S + self.timeout_s)
        worker.tasks += 1
        # A worker that died while idle cannot take it: the poll then reports the job as failed.
        with contextlib.suppress(OSError):
            worker.tx.send(task)

    def poll(self, timeout: float) -> list[ParseOutcome]:
        """Outcomes finished within ``timeout`` seconds (timeouts and dead workers included)."""
        if self.in_process:
            out = list(self._done)
            self._done.clear()
            return out
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        now = time.monotonic()
        wait_s = max(0.0, min(timeout, min(w.deadline for w in busy) - now))
        ready = wait([w.rx for w in busy], wait_s)
        outcomes: list[ParseOutcome] = []
        for worker in busy:
            task = worker.task
            assert task is not None
            if worker.rx in ready:
                try:
                    message = worker.rx.recv()
                    if message == READY:
                        worker.ready = True
                        worker.deadline = time.monotonic() + self.timeout_s
                        continue
                    if message == LOADING:  # the file's clock restarts after a start-up allowance
                        worker.deadline = time.monotonic() + STARTUP_S + self.timeout_s
                        continue
                    outcomes.append(message)
                    worker.task = None
                    continue
                except (EOFError, OSError):
                    self._reap(worker)
                    outcomes.append(ParseOutcome(task.job_id, "failed", self._death_reason(worker, task)))
                    continue
            if time.monotonic() > worker.deadline:
                self._kill(worker)
                outcomes.append(
                    ParseOutcome(
                        task.job_id,
                        "failed",
                        f"{task.name or Path(task.source).name}: timed out after {self.timeout_s:g} s "
                        "(the parser was stopped; raise ZHIKU_PARSE_TIMEOUT_S for very large files)",
                    )
                )
        if outcomes:
            self._last_busy = time.monotonic()
        return outcomes

    # -- worker lifecycle ------------------------------------------------------------------------

    def _idle_worker(self) -> _Worker:
        for worker in list(self._workers):
            if worker.task is None:
                if worker.process.poll() is None and worker.tasks < MAX_TASKS:
                    return worker
                self._reap(worker)
        worker = self._start()
        self._workers.append(worker)
        return worker

    def _start(self) -> _Worker:
        # A fresh interpreter, not a fork: nothing of the parent (threads holding locks, the
        # loaded model, the caller's __main__) leaks into the worker.
        env = dict(os.environ)
        here = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        log = self._log()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", "from zhiku.worker import serve; serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                close_fds=True,
                # Its own process group: killing a worker kills the Tesseract processes it started too
                # (``_kill_group``), which would otherwise read their page to the end as orphans.
                process_group=0,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # the worker has its own copy
        assert process.stdin is not None and process.stdout is not None
        tx = Connection(os.dup(process.stdin.fileno()), readable=False)
        rx = Connection(os.dup(process.stdout.fileno()), writable=False)
        process.stdin.close()
        process.stdout.close()
        tx.send(self.config)
        return _Worker(process, tx, rx)

    def _log(self) -> Any:
        """Where workers' stderr goes: ``<home>/logs/parser-workers.log`` (what a crashing parser
        library prints), or nowhere when the home cannot be written."""
        home = getattr(self.config.settings, "home", None)
        if home is None:
            return subprocess.DEVNULL
        try:
            folder = Path(home) / "logs"
            folder.mkdir(parents=True, exist_ok=True)
            return (folder / "parser-workers.log").open("ab")
        except OSError:
            return subprocess.DEVNULL

    def _death_reason(self, worker: _Worker, task: ParseTask) -> str:
        try:
            code = worker.process.wait(1)
        except subprocess.TimeoutExpired:
            code = None
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return f"{task.name or Path(task.source).name}: the parser process died ({how}) while reading this file"

    def _kill(self, worker: _Worker) -> None:
        _kill_group(worker.process)
        self._reap(worker)

    def _reap(self, worker: _Worker) -> None:
        try:
            worker.process.wait(5)
        except subprocess.TimeoutExpired:
            _kill_group(worker.process)
            worker.process.wait()
        worker.tx.close()
        worker.rx.close()
        if worker in self._workers:
            self._workers.remove(worker)

    def idle_for(self) -> float:
        """Seconds since the pool last had work."""
        return 0.0 if self.busy() else time.monotonic() - self._last_busy

    def shrink(self) -> None:
        """Stop idle workers (the server calls this after a quiet spell: no idle memory kept)."""
        for worker in [w for w in self._workers if w.task is None]:
            self._stop(worker)

    def _stop(self, worker: _Worker) -> None:
        with contextlib.suppress(OSError):
            worker.tx.send(None)
        try:
            worker.process.wait(2)
        except subprocess.TimeoutExpired:
            _kill_group(worker.process)
        self._reap(worker)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def close(self) -> None:
        """Stop every worker; a busy one is killed (its job is released by the runner)."""
        for worker in list(self._workers):
            if worker.task is not None:
                self._kill(worker)
            else:
                self._stop(worker)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill a worker and what it started (it leads its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # gone already, or not a group leader
        process.kill()


def default_workers() -> int:
    """One parser per CPU core but one (the store owner embeds meanwhile), at least one."""
    return max(1, (os.cpu_count() or 2) - 1)
