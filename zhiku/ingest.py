"""Ingestion: files in, chunks with keyword terms and vectors out, one document per transaction.

Each file is hashed first; an unchanged file (same path, same hash, indexed by the same pipeline:
``PIPELINE_REVISION`` and chunk settings) is skipped without parsing.
A file that fails (corrupt, encrypted, empty, too big, unknown format) is recorded with its reason
and the batch goes on.
"""

from __future__ import annotations

import glob
import hashlib
import mimetypes
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from .errors import ParseError, ZhikuError
from .parse import too_large
from .tabletext import carried_header, header_rows
from .types import Block, DocumentRecord, ParsedDocument, TableRecord

if TYPE_CHECKING:  # the parse worker imports this module: it must not pull in numpy, pydantic or the store
    from .chunk import Chunker
    from .embed import CachedEmbedder
    from .parse import ParserRegistry
    from .protocols import Store
    from .text import Analyzer

Status = Literal["added", "updated", "unchanged", "failed"]

#: Bump when a change alters what parsing, chunking or keyword analysis make of a file. A document
#: indexed under another revision, or with other chunk settings, counts as changed: the next
#: ``zhiku add`` or ``zhiku sync`` parses it again (vectors of chunk texts seen before come from the
#: vector cache, so only new texts are embedded).
PIPELINE_REVISION = 8  # 8: PDF running lines, DOCX bold headings, short Big5, table chunks' own cell ranges


def pipeline_id(chunk_tokens: int, chunk_overlap: int, synonyms: str = "") -> str:
    """What made a document's chunks ("revision/tokens/overlap", "/s<hash>" with a synonyms file:
    ``Synonyms.fingerprint``), kept as ``metadata["pipeline"]``."""
    return f"{PIPELINE_REVISION}/{chunk_tokens}/{chunk_overlap}" + (f"/s{synonyms}" if synonyms else "")


def is_current(doc: DocumentRecord, pipeline: str) -> bool:
    """Was ``doc`` indexed by this ``pipeline``? (Documents from before it was recorded were not.)"""
    return doc.metadata.get("pipeline") == pipeline


@dataclass
class FileOutcome:
    path: str
    status: Status
    chunks: int = 0
    #: Why it failed; for a file indexed all the same, what the reader should know (its warnings).
    reason: str = ""
    doc_id: int | None = None


@dataclass
class IngestReport:
    """What happened to each file of a batch."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    resumed: int = 0  # interrupted jobs of an earlier run that this run finished too
    vectors: int = 0  # vectors embedded (cache misses and hits) while the batch ran
    embed_error: str = ""  # why embedding stopped, when it did (documents are keyword-searchable)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def warned(self) -> list[FileOutcome]:
        """Files indexed with something the reader should know (``FileOutcome.reason``)."""
        return [o for o in self.outcomes if o.status != "failed" and o.reason]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("added", "updated", "unchanged", "failed") if self.count(s)]
        chunks = sum(o.chunks for o in self.outcomes if o.status in ("added", "updated"))
        return f"{len(self.outcomes)} files: " + ", ".join(parts or ["nothing to do"]) + f"; {chunks} chunks indexed"


def expand_paths(
    inputs: Iterable[str | Path], extensions: Iterable[str] | None = None, skipped: list[Path] | None = None
) -> list[Path]:
    """Files named by ``inputs``: files as given, folders recursively, and shell globs (``docs/**/*.pdf``).

    Inside folders only files with a known extension are taken (hidden files and folders skipped;
    the others are appended to ``skipped``, so a caller can say so); a file named explicitly is
    always taken, so an unsupported one is reported rather than ignored.
    """
    exts = {e.lower() for e in extensions} if extensions is not None else None
    seen: dict[Path, None] = {}
    for raw in inputs:
        text = str(raw)
        path = Path(text).expanduser()
        if path.is_dir():
            for found in sorted(_walk(path)):
                if exts is None or found.suffix.lower() in exts:
                    seen.setdefault(found, None)
                elif skipped is not None:
                    skipped.append(found)
        elif path.exists() or not glob.has_magic(text):
            seen.setdefault(path, None)  # a missing plain path is reported as a failure later
        else:
            for match in sorted(glob.glob(os.path.expanduser(text), recursive=True)):
                if Path(match).is_file():
                    seen.setdefault(Path(match), None)
    return list(seen)


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith("."):
                yield Path(root) / name


def extract_tables(parsed: ParsedDocument) -> list[TableRecord]:
    """The document's tables as structured rows: header row -> columns, the rest -> rows.

    Named by the parser (``Block.name``: caption, sheet), else by the heading they sit under, else
    ``table N`` (N counts the document's tables from 1).
    """
    tables: list[TableRecord] = []
    previous: Block | None = None  # the block before this one
    last_page = None  # the page the last table record's rows end on
    for block in parsed.blocks:
        before, previous = previous, block
        if block.kind != "table" or not block.rows:
            continue
        columns, body, carried = _columns(block)
        last = tables[-1] if tables else None
        if (
            carried
            and last is not None
            and before is not None
            and before.kind == "table"
            and block.locator.page is not None
            and last_page is not None
            and block.locator.page == last_page + 1
            and columns == last.columns
            and (block.name or last.name) == last.name
        ):
            last.rows.extend(body)  # a table continued from the page before: one record for both
            last_page = block.locator.page
            continue
        n = len(tables) + 1
        name = block.name or " > ".join(block.locator.heading_path) or f"table {n}"
        tables.append(TableRecord(name, columns, body, block.locator, ord=n - 1))
        last_page = block.locator.page
    return tables


def _columns(block: Block) -> tuple[list[str], list[list[str]], bool]:
    """A table block's column names (distinct and non-empty: the later SQL tool needs them so), its
    data rows, and whether the names came from a carried header. Its first row names the columns,
    with the second when the header has two levels ("Pre-Pawn/Handgun"), unless it is data (a table
    continued from the page before, a statement's line item): then the header its Markdown carries
    names them, or, without one, "column 1", "column 2", ..."""
    assert block.rows is not None
    rows = [list(r) for r in block.rows]
    head = header_rows(rows)
    if head is not None:
        return _distinct(head[0]), rows[head[1] :], False
    carried = header_rows(carried_header(block.text, rows))
    if carried is not None and len(carried[0]) == len(rows[0]):
        return _distinct(carried[0]), rows, True
    return [f"column {i}" for i in range(1, len(rows[0]) + 1)], rows, False


def _distinct(names: list[str]) -> list[str]:
    """Column names with an empty one called "column N" and a repeated one numbered ("Handgun 2")."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        name = name or f"column {i}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return out


_UNSAFE = re.compile(r"[\x00-\x1f/\\:]+")


def safe_name(name: str) -> str:
    """A file name usable on disk that keeps the extension (parsers are chosen by it)."""
    cleaned = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(". ")
    return cleaned[-150:]


class UploadTooLarge(ZhikuError):
    """An uploaded file over the size limit (it is not kept)."""


def keep_upload(folder: Path, name: str, data: BinaryIO, max_bytes: int) -> Path:
    """Keep an uploaded file as ``<folder>/<hash16>/<name>`` (the job reads it later, perhaps after a
    restart; it is deleted with its document). Written under a temporary name first, so a crash
    never leaves a half file under a real name. A file over ``max_bytes`` raises ``UploadTooLarge``
    and leaves nothing behind."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".incoming-{uuid.uuid4().hex}"
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as out:
            for block in iter(lambda: data.read(1 << 20), b""):
                size += len(block)
                if size > max_bytes:
                    # Its whole size for the message: a spooled upload says it at once, a stream is read out.
                    total = data.seek(0, os.SEEK_END) if data.seekable() else size + _drain(data)
                    raise UploadTooLarge(too_large(name, total, max_bytes))
                digest.update(block)
                out.write(block)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    target = folder / digest.hexdigest()[:16] / (safe_name(name) or "upload")
    target.parent.mkdir(exist_ok=True)
    os.replace(partial, target)
    return target


def stat_fingerprint(size: int, mtime_ns: int) -> str:
    """What stands for a file's bytes when they were never read (a file refused for its size)."""
    return f"stat:{size}:{mtime_ns}"


def _drain(data: BinaryIO) -> int:
    """Read ``data`` to its end; how many bytes that was."""
    return sum(len(block) for block in iter(lambda: data.read(1 << 20), b""))


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Indexer:
    """Parses, chunks, analyses, embeds and stores documents into one knowledge base at a time."""

    def __init__(
        self,
        store: Store,
        parsers: ParserRegistry,
        chunker: Chunker,
        analyzer: Analyzer,
        embedder: CachedEmbedder | None,
        max_bytes: int,
    ) -> None:
        self.store = store
        self.parsers = parsers
        self.chunker = chunker
        self.analyzer = analyzer
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.pipeline = pipeline_id(chunker.max_tokens, chunker.overlap, analyzer.signature)

    def add_files(
        self,
        kb_id: int,
        paths: Iterable[Path],
        *,
        on_file: Callable[[FileOutcome], None] | None = None,
    ) -> IngestReport:
        """Index every file; one bad file never stops the batch."""
        report = IngestReport()
        for path in paths:
            outcome = self.add_file(kb_id, path)
            report.outcomes.append(outcome)
            if on_file:
                on_file(outcome)
        return report

    def add_file(self, kb_id: int, path: Path, key: str | None = None) -> FileOutcome:
        """Index one file, stored under ``key`` (default: its absolute path)."""
        key = key or str(path.resolve())
        try:
            if not path.is_file():
                raise ParseError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")
            content_hash = file_hash(path)
            existing = self.store.find_document(kb_id, key)
            if existing and existing.content_hash == content_hash and is_current(existing, self.pipeline):
                return FileOutcome(key, "unchanged", existing.chunks, doc_id=existing.id)
            parsed = self.parsers.parse(path, max_bytes=self.max_bytes)
            mime = mimetypes.guess_type(path.name)[0] or ""
            record = self.add_parsed(kb_id, key, parsed, content_hash=content_hash, mime=mime, size=path.stat().st_size)
        except ZhikuError as exc:
            return FileOutcome(key, "failed", reason=str(exc))
        except OSError as exc:
            return FileOutcome(key, "failed", reason=f"{path}: cannot read ({exc.strerror or exc})")
        return FileOutcome(key, "updated" if existing else "added", record.chunks, doc_id=record.id)

    def add_parsed(
        self,
        kb_id: int,
        key: str,
        parsed: ParsedDocument,
        *,
        content_hash: str | None = None,
        mime: str = "",
        size: int = 0,
    ) -> DocumentRecord:
        """Chunk, analyse, embed and store an already-parsed document (replacing any old version)."""
        from .store.records import DocumentWrite  # not at module level: the parse worker imports this module

        chunks = self.chunker.chunk(parsed)
        if not chunks:
            raise ParseError(f"{key}: no text to index")
        index_texts = [c.index_text for c in chunks]
        terms = [self.analyzer.terms(t) for t in index_texts]
        vectors = self.embedder.embed_passages(index_texts) if self.embedder else None
        write = DocumentWrite(
            key,
            title=parsed.title,
            content_hash=content_hash or hashlib.sha256(parsed.text.encode()).hexdigest(),
            chunks=chunks,
            chunk_terms=terms,
            vectors=vectors,
            model=self.embedder.name if self.embedder else "",
            mime=mime,
            size=size or len(parsed.text.encode()),
            metadata={**parsed.metadata, "pipeline": self.pipeline},
            tables=extract_tables(parsed),
        )
        return self.store.write_documents(kb_id, [write])[0]
