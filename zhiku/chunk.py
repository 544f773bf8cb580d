"""Structure-aware chunking.

Chunks never cross a heading, keep small blocks (paragraphs, lists, tables) whole and pack them
together up to a token budget, and split only what is too big: paragraphs at sentence boundaries
(Chinese and English), lists at items, tables at rows with the header row repeated. Consecutive
chunks cut from one long passage share a small overlap. Each chunk's text is an exact slice of the
document's text (except a repeated table header), and its locator records that slice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .tabletext import is_header_row, is_separator
from .text import CJK_RE, estimate_tokens, sentence_spans
from .types import Block, Chunk, Locator, LocatorPart, ParsedDocument


@dataclass
class _Unit:
    """An indivisible piece: a whole block or a sentence/row of a big one."""

    start: int
    end: int
    tokens: int
    block: Block
    prefix: str = ""  # table header repeated in front of split rows
    splittable: bool = False  # came from splitting a block: eligible for overlap
    row: int = -1  # a table's data row: its index among the block's data rows (of ``rows``)
    rows: int = 0


class Chunker:
    """Cuts a ``ParsedDocument`` into ``Chunk``s of about ``max_tokens`` tokens."""

    def __init__(self, max_tokens: int = 300, overlap: int = 40) -> None:
        if overlap >= max_tokens:
            raise ValueError("chunk overlap must be smaller than the chunk size")
        self.max_tokens = max_tokens
        self.overlap = overlap

    def chunk(self, doc: ParsedDocument) -> list[Chunk]:
        """All chunks of ``doc`` in reading order, numbered from 0."""
        chunks: list[Chunk] = []
        # Judged once per document, not per section (~10 us each, and a report has hundreds).
        title = doc.title if names_something(doc.title) else ""
        for section in _sections(doc.blocks):
            units = [u for block in section for u in self._units(doc.text, block)]
            chunks.extend(self._pack(doc, units, title))
        for i, chunk in enumerate(chunks):
            chunk.ord = i
        return chunks

    # -- splitting -------------------------------------------------------------------------------

    def _units(self, text: str, block: Block) -> list[_Unit]:
        start, end = block.locator.char_start or 0, block.locator.char_end or 0
        tokens = estimate_tokens(text[start:end])
        if tokens <= self.max_tokens:
            return [_Unit(start, end, tokens, block)]
        if block.kind == "table":
            return self._table_units(text, block, start, end)
        if block.kind in ("list", "code"):
            spans = _line_spans(text, start, end)
        else:
            spans = [(start + s, start + e) for s, e in sentence_spans(text[start:end])]
        units: list[_Unit] = []
        for s, e in spans:
            units.extend(self._hard_split(text, s, e, block))
        return units

    def _table_units(self, text: str, block: Block, start: int, end: int) -> list[_Unit]:
        lines = _line_spans(text, start, end)
        # A Markdown table: its title line (if any), header row and separator row (and the second row
        # of a two-level header), then data rows. Every piece repeats the head.
        separator = next((i for i, (s, e) in enumerate(lines[:3]) if is_separator(text[s:e])), None)
        head_n = separator + 1 if separator is not None and separator + 1 < len(lines) else 1
        if separator is not None and head_n + 1 < len(lines) and is_header_row(text, lines[head_n][0]):
            head_n += 1
        header = text[lines[0][0] : lines[head_n - 1][1]] + "\n"
        header_tokens = estimate_tokens(header)
        data = lines[head_n:]
        return [
            _Unit(
                s,
                e,
                estimate_tokens(text[s:e]) + header_tokens,
                block,
                prefix=header,
                splittable=True,
                row=k,
                rows=len(data),
            )
            for k, (s, e) in enumerate(data)
        ]

    def _hard_split(self, text: str, start: int, end: int, block: Block) -> list[_Unit]:
        """A sentence longer than the budget is cut into equal character windows."""
        tokens = estimate_tokens(text[start:end])
        if tokens <= self.max_tokens:
            return [_Unit(start, end, tokens, block, splittable=True)]
        n = -(-tokens // self.max_tokens)
        step = -(-(end - start) // n)
        return [
            _Unit(s, min(s + step, end), estimate_tokens(text[s : min(s + step, end)]), block, splittable=True)
            for s in range(start, end, step)
        ]

    # -- packing ---------------------------------------------------------------------------------

    def _pack(self, doc: ParsedDocument, units: list[_Unit], title: str) -> list[Chunk]:
        """``units`` of one section packed into chunks; ``title``: the document title to index with
        each, or empty."""
        chunks: list[Chunk] = []
        current: list[_Unit] = []
        size = 0  # tokens in ``current``, kept as units come and go (a table has hundreds of rows)
        for unit in units:
            if current and (
                size + unit.tokens > self.max_tokens
                or unit.prefix != current[-1].prefix
                or _place(unit.block) != _place(current[-1].block)
            ):
                chunks.append(self._make(doc, current, title))
                continues = unit.block is current[-1].block and unit.block.kind != "table"
                current = self._overlap_tail(current) if continues and unit.splittable else []
                size = sum(u.tokens for u in current)
            current.append(unit)
            size += unit.tokens
        if current:
            chunks.append(self._make(doc, current, title))
        return chunks

    def _overlap_tail(self, units: list[_Unit]) -> list[_Unit]:
        tail: list[_Unit] = []
        budget = self.overlap
        for unit in reversed(units):
            if unit.tokens > budget or not unit.splittable or unit.block is not units[-1].block:
                break
            tail.insert(0, unit)
            budget -= unit.tokens
        return tail

    def _make(self, doc: ParsedDocument, units: list[_Unit], title: str) -> Chunk:
        """One chunk of ``units``; ``title`` is the document title to index with it, or empty."""
        first, last = units[0], units[-1]
        body = doc.text[first.start : last.end]
        text = first.prefix + body if first.prefix else body
        # The section's place in the outline: taken from its first body block, whose heading path
        # includes the section heading itself.
        loc = next((u.block.locator for u in units if u.block.kind != "heading"), first.block.locator)
        heading_path = list(loc.heading_path)
        blocks = list({id(u.block): u.block for u in units}.values())
        speakers = list(dict.fromkeys(b.locator.speaker for b in blocks if b.locator.speaker))
        locator = Locator(
            page=loc.page,
            heading_path=heading_path,
            char_start=first.start,
            char_end=last.end,
            slide=loc.slide,
            sheet=loc.sheet,
            cell_range=_rows_of(units)
            or union_ranges([b.locator.cell_range for b in blocks if b.locator.cell_range])
            or loc.cell_range,
            time_start=first.block.locator.time_start,
            time_end=last.block.locator.time_end,
            speaker=", ".join(speakers) or None,
            parts=_parts(blocks, first.start, len(first.prefix)),
            bbox=_box_on_page(blocks, loc.page),
        )
        outline = heading_path[1:] if heading_path and heading_path[0] == doc.title else heading_path
        context = " > ".join(p for p in [title, *outline] if p)
        kind = "table" if first.block.kind == "table" else "text"
        return Chunk(text=text, locator=locator, context=context, kind=kind)


def _parts(blocks: list[Block], start: int, prefix: int) -> list[LocatorPart]:
    """Where each block starts in a chunk whose text (after a ``prefix`` of that many characters)
    begins at ``start`` of the document's text, with its page, time range and speaker; empty when
    the blocks agree on all three (most chunks: one page, no timestamps)."""
    where = {(b.locator.page, b.locator.time_start, b.locator.speaker) for b in blocks}
    if len(where) < 2:
        return []
    return [
        (
            prefix + max((b.locator.char_start or 0) - start, 0),
            b.locator.page,
            b.locator.time_start,
            b.locator.time_end,
            b.locator.speaker,
        )
        for b in blocks
    ]


_STEM_PARTS = re.compile(r"[_\-.]+")
#: What cameras, phones and scanners call their files (IMG_2031, DSC01234, PXL_20231004, Scan-12).
_DEVICE_PREFIXES = frozenset(
    "img dsc dscn dcim pxl mvimg vid mov scan scanned screenshot photo pic image doc wp".split()
)


def names_something(title: str) -> bool:
    """Whether ``title`` is worth indexing and embedding with every chunk of its document.

    A title with spaces or Chinese is a real title. A single token is usually a file name (parsers
    fall back to the stem), and identifiers such as ``12345``, ``zh_refine_p00000``, ``scan0001``, a
    camera's ``IMG_2031`` or a hash say nothing about the text: prepended to each chunk they only add
    tokens to embed (~7% of a corpus of short passages) and noise to the vectors.
    ``vacation-policy``, ``handbook_en`` or ``2023-annual-report`` stay.
    """
    title = title.strip()
    if not title:
        return False
    if any(c.isspace() for c in title) or CJK_RE.search(title):
        return True
    parts = [p for p in _STEM_PARTS.split(title) if p]
    words = [p for p in parts if not p.isdigit()]
    if len(words) < len(parts) and all(w.lower() in _DEVICE_PREFIXES for w in words):
        return False  # a device's name for a file: a prefix and a counter or timestamp
    for part in parts:
        letters = any(c.isalpha() for c in part)
        digits = sum(c.isdigit() for c in part)
        if (letters and digits and len(part) >= 4) or digits >= 5:
            return False  # an identifier: p00000, scan0001, 8f3a2c1d, a long number
    return any(p.isalpha() and len(p) >= 3 for p in parts)


def _place(block: Block) -> tuple[int | None, str | None]:
    """Slide and sheet: a chunk never spans two, so its citation names the one it is on."""
    return block.locator.slide, block.locator.sheet


_CELL_RE = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def _cell(ref: str) -> tuple[int, int] | None:
    m = _CELL_RE.match(ref.strip().upper())
    if not m:
        return None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return col, int(m.group(2))


def _column(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _rows_of(units: list[_Unit]) -> str | None:
    """The cell range of a chunk holding part of one table's data rows (a 120-row sheet's chunks
    each said ``A1:E121``); None for anything else, which keeps its blocks' ranges."""
    first, last = units[0], units[-1]
    if any(u.row < 0 or u.block.locator.cell_range is None for u in (first, last)):
        return None
    if first.block is last.block and first.row == 0 and last.row == last.rows - 1:
        return None  # the whole table: its range, header included
    ends = [data_rows_range(u.block.locator.cell_range or "", u.rows, u.row, u.row) for u in (first, last)]
    return union_ranges([e for e in ends if e]) if all(ends) else None


def _box_on_page(blocks: list[Block], page: int | None) -> tuple[float, float, float, float] | None:
    """The box around the chunk's blocks on its (first) page, in PDF points; None without boxes.
    (A citation narrowed to a part on another page drops it: ``Locator.narrowed``.)"""
    boxes = [b.locator.bbox for b in blocks if b.locator.bbox is not None and b.locator.page == page]
    if page is None or not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def data_rows_range(cell_range: str, count: int, first: int, last: int) -> str | None:
    """Rows ``first``..``last`` (0-based) of the ``count`` data rows that end ``cell_range`` (an A1 range
    whose last rows are a table's data rows), as an A1 range; None when it is not one."""
    ends = [_cell(part) for part in cell_range.split(":")]
    if len(ends) != 2 or ends[0] is None or ends[1] is None or count <= 0:
        return None
    (c0, _), (c1, r1) = ends[0], ends[1]
    top = r1 - count + 1
    return f"{_column(c0)}{top + first}:{_column(c1)}{top + last}"


def union_ranges(ranges: list[str]) -> str | None:
    """The smallest A1-style range covering ``ranges`` (``A1:A1`` + ``A3:E6`` -> ``A1:E6``); None when
    a range is not in A1 form (row ranges of a CSV, say), so the caller keeps the first one."""
    cells: list[tuple[int, int]] = []
    for r in ranges:
        ends = [_cell(part) for part in r.split(":")]
        if not ends or any(c is None for c in ends):
            return None
        cells.extend(c for c in ends if c is not None)
    if not cells:
        return None
    c0, r0 = min(c for c, _ in cells), min(r for _, r in cells)
    c1, r1 = max(c for c, _ in cells), max(r for _, r in cells)
    return f"{_column(c0)}{r0}:{_column(c1)}{r1}"


def _sections(blocks: list[Block]) -> list[list[Block]]:
    """Blocks grouped so that each group starts at a heading (which travels with its section)."""
    sections: list[list[Block]] = []
    for block in blocks:
        only_headings = bool(sections) and all(b.kind == "heading" for b in sections[-1])
        # A heading directly followed by a sub-heading ("# Handbook" / "## Leave") joins it, so no
        # chunk is a bare title.
        if (block.kind == "heading" and not only_headings) or not sections:
            sections.append([block])
        else:
            sections[-1].append(block)
    return sections


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    pos = start
    for line in text[start:end].split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans
