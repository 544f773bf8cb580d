"""PowerPoint (.pptx) via python-pptx: per slide a title heading, body text in reading order, lists,
tables (merged cells repeated in every slot they cover), group shapes and speaker notes.

Every block carries ``locator.slide``; the slide heading's path is ``Slide N: title`` so chunks of a
slide are indexed with its number and title.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER
from pptx.exc import PackageNotFoundError
from pptx.oxml.ns import qn

from ..errors import ParseError
from ..types import Block, BlockKind, Locator, ParsedDocument
from .base import normalize_rows, one_line, split_table, table_text

# Placeholders that repeat on every slide (or are the title, handled separately).
_SKIP_PLACEHOLDERS = frozenset(
    {PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.HEADER}
)
_TITLE_PLACEHOLDERS = frozenset({PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE, PP_PLACEHOLDER.VERTICAL_TITLE})
# Body placeholders inherit bullets from the slide master: their paragraphs are list items unless
# they switch bullets off (``<a:buNone/>``). Free text boxes are bulleted only when they say so.
_BULLETED_PLACEHOLDERS = frozenset(
    {PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT, PP_PLACEHOLDER.VERTICAL_BODY, PP_PLACEHOLDER.VERTICAL_OBJECT}
)
# Shapes whose tops differ by less than this share of the slide height sit on one "row" and are
# read left to right (side-by-side text boxes are rarely aligned to the EMU).
_ROW_TOLERANCE = 0.03


def _position(shape: Any) -> tuple[int, int, int]:
    """(top, left, height) in EMU; placeholders without their own geometry inherit it, else 0."""
    try:
        return int(shape.top or 0), int(shape.left or 0), int(shape.height or 0)
    except (AttributeError, ValueError, TypeError):
        return 0, 0, 0


def reading_order(shapes: Iterable[Any], slide_height: int) -> list[Any]:
    """Shapes top-left to bottom-right: grouped into rows by their top edge, each row left to right."""
    placed = sorted(shapes, key=lambda s: _position(s)[:2])
    tolerance = max(1, int(slide_height * _ROW_TOLERANCE))
    rows: list[list[Any]] = []
    row_top = None
    for shape in placed:
        top = _position(shape)[0]
        if row_top is None or top - row_top > tolerance:
            rows.append([])
            row_top = top
        rows[-1].append(shape)
    return [shape for row in rows for shape in sorted(row, key=lambda s: _position(s)[1])]


def _placeholder_type(shape: Any) -> Any:
    if not getattr(shape, "is_placeholder", False):
        return None
    try:
        return shape.placeholder_format.type
    except (AttributeError, ValueError):
        return None


def table_rows(table: Any) -> list[list[str]]:
    """The table as a grid; a merged cell's text is repeated in every slot it covers, so each row
    stands alone when a big table is split across chunks (docling renders merges the same way)."""
    grid: list[list[str]] = []
    carried: dict[tuple[int, int], str] = {}
    for r, row in enumerate(table.rows):
        out: list[str] = []
        for c, cell in enumerate(row.cells):
            if cell.is_spanned:
                out.append(carried.get((r, c), ""))
                continue
            text = one_line(cell.text)
            if cell.is_merge_origin:
                for dr in range(cell.span_height):
                    for dc in range(cell.span_width):
                        carried[(r + dr, c + dc)] = text
            out.append(text)
        grid.append(out)
    return normalize_rows(grid)


def _bullet(paragraph: Any, default_bulleted: bool) -> str | None:
    """``"1."``-style numbering, ``"-"`` for bullets, ``None`` for plain paragraphs."""
    ppr = paragraph._p.pPr
    if ppr is not None:
        if ppr.find(qn("a:buNone")) is not None:
            return None
        if ppr.find(qn("a:buAutoNum")) is not None:
            return "#"
        if ppr.find(qn("a:buChar")) is not None or ppr.find(qn("a:buBlip")) is not None:
            return "-"
    return "-" if default_bulleted else None


def text_frame_blocks(frame: Any, default_bulleted: bool) -> Iterator[tuple[BlockKind, str]]:
    """Consecutive plain paragraphs become one paragraph block, consecutive items one list block."""
    current: BlockKind | None = None
    lines: list[str] = []
    counters: dict[int, int] = {}
    for paragraph in frame.paragraphs:
        text = one_line(paragraph.text)
        if not text:
            continue
        marker = _bullet(paragraph, default_bulleted)
        kind: BlockKind = "list" if marker else "paragraph"
        if kind != current and lines:
            yield current or "paragraph", "\n".join(lines)
            lines = []
        current = kind
        if marker is None:
            counters.clear()  # numbering restarts after a plain paragraph
            lines.append(text)
            continue
        level = max(0, int(paragraph.level or 0))
        for deeper in [k for k in counters if k > level]:
            del counters[deeper]
        if marker == "#":
            counters[level] = counters.get(level, 0) + 1
            marker = f"{counters[level]}."
        lines.append(f"{'  ' * level}{marker} {text}")
    if lines:
        yield current or "paragraph", "\n".join(lines)


class _SlideReader:
    """Collects the blocks of one slide."""

    def __init__(self, number: int, heading_path: list[str], slide_height: int) -> None:
        self.number = number
        self.heading_path = heading_path
        self.slide_height = slide_height
        self.blocks: list[Block] = []

    def add(self, kind: BlockKind, text: str, rows: list[list[str]] | None = None, name: str = "") -> None:
        locator = Locator(slide=self.number, heading_path=list(self.heading_path))
        self.blocks.append(Block(kind, text, locator=locator, rows=rows, name=name))

    def shapes(self, shapes: Iterable[Any], title_id: int | None) -> None:
        for shape in reading_order(shapes, self.slide_height):
            if title_id is not None and shape.shape_id == title_id:
                continue
            self.shape(shape)

    def shape(self, shape: Any) -> None:
        kind = _placeholder_type(shape)
        if kind in _SKIP_PLACEHOLDERS:
            return
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            self.shapes(shape.shapes, None)
        elif getattr(shape, "has_table", False):
            title, rows, notes = split_table(table_rows(shape.table))
            if rows:
                self.add("table", table_text(rows, title), rows=rows, name=title or one_line(shape.name or ""))
            for note in notes:
                self.add("paragraph", note)
        elif getattr(shape, "has_chart", False):
            self.chart(shape.chart)
        elif getattr(shape, "has_text_frame", False):
            for block_kind, text in text_frame_blocks(shape.text_frame, kind in _BULLETED_PLACEHOLDERS):
                self.add(block_kind, text)

    def chart(self, chart: Any) -> None:
        """A chart contributes its title (the data lives in an embedded workbook)."""
        if chart.has_title and chart.chart_title.has_text_frame:
            title = one_line(chart.chart_title.text_frame.text)
            if title:
                self.add("paragraph", f"Chart: {title}")


def _slide_title(slide: Any) -> tuple[str, int | None]:
    """The title placeholder's text and shape id, or ``("", None)``."""
    for shape in slide.placeholders:
        if _placeholder_type(shape) in _TITLE_PLACEHOLDERS and shape.has_text_frame:
            return one_line(shape.text_frame.text), shape.shape_id
    return "", None


class PptxParser:
    """Reads ``.pptx`` files; the title is the document property, else the first slide's title."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path`` slide by slide."""
        try:
            prs = Presentation(str(path))
        except (zipfile.BadZipFile, PackageNotFoundError) as exc:
            raise ParseError(
                f"{path.name}: corrupt PPTX: not a readable zip package (truncated or damaged file)"
            ) from exc
        except KeyError as exc:
            raise ParseError(f"{path.name}: corrupt PPTX: missing part {exc}") from exc
        slide_height = int(prs.slide_height or 6858000)
        blocks: list[Block] = []
        first_title = ""
        for number, slide in enumerate(prs.slides, start=1):
            title, title_id = _slide_title(slide)
            label = f"Slide {number}: {title}" if title else f"Slide {number}"
            reader = _SlideReader(number, [label], slide_height)
            # Every slide opens with a heading so chunks never mix two slides.
            heading_locator = Locator(slide=number, heading_path=[label])
            reader.blocks.append(Block("heading", title or f"Slide {number}", level=1, locator=heading_locator))
            reader.shapes(slide.shapes, title_id)
            if slide.has_notes_slide:
                notes_frame = slide.notes_slide.notes_text_frame
                paragraphs = notes_frame.paragraphs if notes_frame is not None else []
                notes = "\n".join(one_line(p.text) for p in paragraphs if p.text.strip())
                if notes:
                    reader.add("paragraph", f"Notes: {notes}")
            if number == 1:
                # The deck's title is its first slide's: its title placeholder, else its first short line
                # (a title slide made of text boxes). A later slide's title named a whole deck "Returns".
                lead = next((b.text for b in reader.blocks[1:] if b.kind == "paragraph"), "")
                first_title = title or (lead if len(lead) <= 80 and "\n" not in lead else "")
            if title or len(reader.blocks) > 1:  # an untitled empty slide adds nothing but "Slide N"
                blocks.extend(reader.blocks)
        title = one_line(prs.core_properties.title or "") or first_title or path.stem
        return ParsedDocument.from_blocks(blocks, title=title, metadata={"slides": len(prs.slides)})
