"""Plain data types that flow through zhiku: source -> parse -> chunk -> store -> retrieve -> answer.

They are deliberately dumb dataclasses: no I/O, no behaviour beyond (de)serialisation, so every
layer can build and inspect them without importing the others.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal


@dataclass
class Locator:
    """Where a piece of text came from inside its source document.

    Every field is optional because formats differ: a PDF has pages, a Markdown file has headings,
    a spreadsheet has sheets and cell ranges, a transcript has timestamps.
    ``char_start``/``char_end`` index the document's full extracted text (``ParsedDocument.text``).
    ``parts``: for a chunk whose blocks came from different pages, moments or speakers, where each
    block starts in the chunk's text and its own page, time range and speaker, as ``[offset, page,
    time_start, time_end, speaker]``; ``narrowed`` uses them to point a citation at the part quoted.
    """

    page: int | None = None
    heading_path: list[str] = field(default_factory=list)
    char_start: int | None = None
    char_end: int | None = None
    slide: int | None = None
    sheet: str | None = None
    cell_range: str | None = None
    time_start: float | None = None
    time_end: float | None = None
    speaker: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    parts: list[LocatorPart] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A compact dict: empty fields are left out."""
        return {k: v for k, v in asdict(self).items() if v not in (None, [], ())}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Locator:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "bbox" in known and known["bbox"] is not None:
            known["bbox"] = tuple(known["bbox"])
        if known.get("parts"):
            known["parts"] = [tuple(part) for part in known["parts"]]
        return cls(**known)

    def narrowed(self, start: int, end: int) -> Locator:
        """This chunk locator pointed at the text between ``start`` and ``end`` of the chunk's text:
        the page, time range and speakers of the parts that text lies in (itself without parts)."""
        if not self.parts:
            return self
        covering = [
            part
            for i, part in enumerate(self.parts)
            if part[0] < end and (i + 1 == len(self.parts) or self.parts[i + 1][0] > start)
        ] or self.parts[:1]
        first, last = covering[0], covering[-1]
        speakers = list(dict.fromkeys(p[4] for p in covering if p[4]))
        return replace(
            self,
            page=first[1] if first[1] is not None else self.page,
            time_start=first[2] if first[2] is not None else self.time_start,
            time_end=last[3] if last[3] is not None else self.time_end,
            speaker=", ".join(speakers) or self.speaker,
            bbox=None if first[1] != self.page else self.bbox,
            parts=[],
        )

    def describe(self) -> str:
        """Human-readable location, e.g. ``p. 3 · Leave > Annual leave``."""
        parts: list[str] = []
        if self.page is not None:
            parts.append(f"p. {self.page}")
        if self.slide is not None:
            parts.append(f"slide {self.slide}")
        if self.sheet:
            parts.append(f"{self.sheet}!{self.cell_range}" if self.cell_range else self.sheet)
        if self.time_start is not None:
            moment = _format_time(self.time_start)
            if self.time_end is not None and int(self.time_end) > int(self.time_start):
                moment += f"–{_format_time(self.time_end)}"
            parts.append(moment)
        if self.speaker:
            parts.append(self.speaker)
        if self.heading_path:
            parts.append(" > ".join(self.heading_path))
        return " · ".join(parts)


#: Where a block starts in a chunk's text, and its page, time range and speaker.
LocatorPart = tuple[int, int | None, float | None, float | None, str | None]


def _format_time(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


BlockKind = Literal["heading", "paragraph", "list", "table", "code"]


@dataclass
class Block:
    """One structural unit produced by a parser.

    ``text`` is the block's plain text; for tables it is the Markdown rendering (header row first)
    and ``rows`` holds the cells. Headings carry their ``level`` (1 = top).
    The locator's ``char_start``/``char_end`` are filled in by ``ParsedDocument.from_blocks``.
    """

    kind: BlockKind
    text: str
    level: int = 0
    locator: Locator = field(default_factory=Locator)
    rows: list[list[str]] | None = None
    #: A table's name when it has one (caption, sheet name); stored with its structured rows.
    name: str = ""


@dataclass
class Attachment:
    """A file embedded in another (an e-mail attachment): ingested as a document of its own."""

    name: str
    data: bytes


@dataclass
class ParsedDocument:
    """A parser's output: the document's blocks in reading order plus its full text.

    ``text`` is the blocks' text joined with blank lines; each block's locator records its span in it,
    so every chunk can point back at an exact character range of the source. ``attachments`` are
    embedded files (e-mail attachments) that ingestion indexes as separate documents.
    """

    blocks: list[Block]
    title: str = ""
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)
    #: What the reader should know about an indexed file (values it could not read, ...): reported
    #: with the file's outcome, the file is indexed all the same.
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_blocks(
        cls, blocks: list[Block], title: str = "", metadata: dict[str, Any] | None = None, fallback: str = ""
    ) -> ParsedDocument:
        """Build a document from blocks, dropping empty ones and assigning character spans. Its title is
        ``title``, else its first heading, else ``fallback`` (a parser passes the file's name)."""
        kept: list[Block] = []
        pieces: list[str] = []
        offset = 0
        for block in blocks:
            text = block.text.strip()
            if not text:
                continue
            block.text = text
            if pieces:
                offset += 2  # the "\n\n" separator
            block.locator.char_start = offset
            block.locator.char_end = offset + len(text)
            offset += len(text)
            pieces.append(text)
            kept.append(block)
        if not title:
            title = next((b.text for b in kept if b.kind == "heading"), "") or fallback
        return cls(blocks=kept, title=title, text="\n\n".join(pieces), metadata=metadata or {})


def index_text(context: str, text: str) -> str:
    """A chunk's text as indexes and rerankers read it: its title and heading path, then the text."""
    return f"{context}\n{text}" if context else text


@dataclass
class Chunk:
    """A retrievable unit of text.

    ``text`` is what a reader sees and what citations quote. ``context`` (document title and heading
    path) is prepended for indexing and embedding only: it lets a chunk deep in a section still match
    the words of its title.
    """

    text: str
    locator: Locator
    ord: int = 0
    context: str = ""
    kind: str = "text"
    id: int | None = None
    doc_id: int | None = None

    @property
    def index_text(self) -> str:
        """The text that keyword and vector indexes see."""
        return index_text(self.context, self.text)


@dataclass
class KnowledgeBase:
    id: int
    name: str
    description: str = ""
    created_at: float = 0.0
    documents: int = 0
    chunks: int = 0


@dataclass
class DocumentRecord:
    """A stored document: identity (knowledge base + path) and the hash of its bytes."""

    id: int
    kb_id: int
    path: str
    title: str
    content_hash: str
    mime: str = ""
    size: int = 0
    chunks: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hit:
    """One retrieved chunk with its final score and, for ``--explain``, its place in each list."""

    chunk_id: int
    doc_id: int
    score: float
    text: str
    locator: Locator
    path: str = ""
    title: str = ""
    context: str = ""
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def index_text(self) -> str:
        """The chunk as it was indexed and embedded (what a reranker reads)."""
        return index_text(self.context, self.text)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["locator"] = self.locator.to_dict()
        return d


@dataclass
class Usage:
    """Tokens an LLM call consumed; summed over calls with ``+``."""

    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    #: A call stopped at its ``max_tokens`` (the endpoint's ``finish_reason`` was ``length``).
    truncated: bool = False

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.calls + other.calls,
            self.truncated or other.truncated,
        )


@dataclass
class Citation:
    """A numbered source: ``[n]`` in the answer text refers to ``n`` here."""

    n: int
    chunk_id: int
    doc_id: int
    path: str
    title: str
    locator: Locator
    snippet: str
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["locator"] = self.locator.to_dict()
        d["where"] = self.locator.describe()
        return d


@dataclass
class SentenceCheck:
    """Verification of one answer sentence against the chunks it cites."""

    text: str
    citations: list[int]
    support: float
    supported: bool


@dataclass
class Answer:
    """A grounded answer: text with ``[n]`` markers, its sources and how well they support it."""

    question: str
    text: str
    citations: list[Citation]
    mode: Literal["extractive", "llm", "refused"]
    refused: bool = False
    evidence: float = 0.0
    grounding: float = 0.0
    sentences: list[SentenceCheck] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    language: str = "en"
    #: The best reranker score among the sources; None without a reranker (``Settings.reranker``).
    rerank: float | None = None
    #: Remarks for the reader, in the question's language (e.g. that the sources quoted are in the
    #: other language).
    notes: list[str] = field(default_factory=list)
    #: A refused answer's nearest passages: where zhiku looked, so the reader can check the refusal.
    #: They do not answer the question (nothing in the answer text cites them). Empty otherwise.
    related: list[Citation] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        """The language model stopped at its token limit: the text may end mid-sentence."""
        return self.usage.truncated

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "mode": self.mode,
            "refused": self.refused,
            "evidence": round(self.evidence, 4),
            "rerank": None if self.rerank is None else round(self.rerank, 4),
            "grounding": round(self.grounding, 4),
            "language": self.language,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [asdict(s) for s in self.sentences],
            "usage": {k: v for k, v in asdict(self.usage).items() if k != "truncated"},
            "truncated": self.truncated,
            "notes": list(self.notes),
            "related": [c.to_dict() for c in self.related],
        }


@dataclass
class TableRecord:
    """A table a parser found, as structured rows (the SQL tool of a later issue queries these).

    ``name`` is the parser's name for it (caption, sheet), else its heading path, else ``table N``.
    """

    name: str
    columns: list[str]
    rows: list[list[str]]
    locator: Locator = field(default_factory=Locator)
    ord: int = 0
    id: int | None = None
    doc_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["locator"] = self.locator.to_dict()
        return d
