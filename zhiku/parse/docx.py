"""Word (.docx) via python-docx: paragraphs and tables in body order, headings, lists, merged cells."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from ..types import Block, Locator, ParsedDocument
from .base import HeadingTracker, normalize_rows, one_line, render_table

# English and localised (Chinese Word writes "标题 1") heading style names; ids cover the rest.
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = frozenset({"title", "标题"})


def _iter_body(doc: DocumentObject) -> Iterator[Paragraph | Table]:
    """Paragraphs and tables in the order they appear, including those inside content controls."""
    body = doc.element.body
    stack = list(reversed(list(body.iterchildren())))
    while stack:
        el = stack.pop()
        if el.tag == qn("w:p"):
            yield Paragraph(el, doc)
        elif el.tag == qn("w:tbl"):
            yield Table(el, doc)
        elif el.tag in (qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml")):
            # Content controls (e.g. a table of contents) wrap ordinary paragraphs.
            stack.extend(reversed(list(el.iterchildren())))


def heading_level(paragraph: Paragraph) -> int:
    """1-9 for headings (Title counts as 1), 0 for body text."""
    style = paragraph.style
    names = [getattr(style, "name", None) or "", getattr(style, "style_id", None) or ""]
    for name in names:
        key = name.strip().lower()
        if key in _TITLE_STYLES:
            return 1
        m = _HEADING_STYLE.match(key) or re.match(r"^heading([1-9])$", key)
        if m:
            return int(m.group(1))
    # Documents that fake headings with direct formatting often still set an outline level.
    ppr = paragraph._p.pPr
    if ppr is not None:
        outline = ppr.find(qn("w:outlineLvl"))
        if outline is not None:
            try:
                value = int(outline.get(qn("w:val"), "9"))
            except ValueError:
                value = 9
            if 0 <= value < 9:
                return value + 1
    return 0


def list_depth(paragraph: Paragraph) -> int | None:
    """Nesting depth (0 = top) for list paragraphs, ``None`` for everything else."""
    ppr = paragraph._p.pPr
    num_pr = ppr.find(qn("w:numPr")) if ppr is not None else None
    if num_pr is not None:
        ilvl = num_pr.find(qn("w:ilvl"))
        try:
            return int(ilvl.get(qn("w:val"), "0")) if ilvl is not None else 0
        except ValueError:
            return 0
    style_name = (getattr(paragraph.style, "name", None) or "").lower()
    if style_name.startswith("list"):
        m = re.search(r"(\d)$", style_name)
        return int(m.group(1)) - 1 if m else 0
    return None


def table_rows(table: Table) -> list[list[str]]:
    """Cell text per grid slot; a merged cell's text appears once, its other slots stay empty."""
    rows: list[list[str]] = []
    above: list[object] = []
    for row in table.rows:
        out: list[str] = []
        seen: list[object] = []
        for col, cell in enumerate(row.cells):
            tc = cell._tc
            # python-docx yields a merged cell once per grid column it spans (and, for vertical
            # merges, again in the rows below): print its text only the first time.
            duplicate = (seen and seen[-1] is tc) or (col < len(above) and above[col] is tc)
            out.append("" if duplicate else one_line(cell.text))
            seen.append(tc)
        above = seen
        rows.append(out)
    return normalize_rows(rows)


class DocxParser:
    """Reads ``.docx`` files; the title is the document property, else the first heading."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path`` into heading/paragraph/list/table blocks in body order."""
        doc = Document(str(path))
        headings = HeadingTracker()
        blocks: list[Block] = []
        list_lines: list[str] = []

        def flush_list() -> None:
            if list_lines:
                blocks.append(
                    Block("list", "\n".join(list_lines), locator=Locator(heading_path=headings.path))
                )
                list_lines.clear()

        for item in _iter_body(doc):
            if isinstance(item, Table):
                flush_list()
                rows = table_rows(item)
                if rows:
                    blocks.append(
                        Block(
                            "table",
                            render_table(rows),
                            rows=rows,
                            locator=Locator(heading_path=headings.path),
                        )
                    )
                continue
            text = one_line(item.text)
            if not text:
                continue
            level = heading_level(item)
            depth = list_depth(item) if not level else None
            if depth is not None:
                list_lines.append(f"{'  ' * depth}- {text}")
                continue
            flush_list()
            if level:
                path_ = headings.push(level, text)
                blocks.append(Block("heading", text, level=level, locator=Locator(heading_path=path_)))
            else:
                blocks.append(Block("paragraph", text, locator=Locator(heading_path=headings.path)))
        flush_list()
        title = one_line(doc.core_properties.title or "")
        return ParsedDocument.from_blocks(blocks, title=title, metadata={})
