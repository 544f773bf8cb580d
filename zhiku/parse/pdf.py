"""PDF text layer via pypdfium2: one set of paragraph blocks per page, each with ``locator.page``.

PDFium gives text as positioned runs ("rects"); we rebuild lines from them and start a new
paragraph on a vertical gap, a jump to a new column, or a first-line indent. Running headers and
footers (lines repeated on most pages) are dropped, and words hyphenated across lines are rejoined.
Scanned PDFs (no text layer) are refused with a message; OCR is a later feature.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import ParseError
from ..types import Block, Locator, ParsedDocument
from .base import HeadingTracker, join_lines, one_line

_HYPHENS = ("-", "\u00ad", "\u2010", "\x02", "\ufffe")
_SENTENCE_END = tuple(".!?:;。！？：；…")
_DIGITS = re.compile(r"\d+(?:\s+\d+)*")


@dataclass
class _Line:
    left: float
    bottom: float
    right: float
    top: float
    text: str
    size: float = 0.0

    @property
    def height(self) -> float:
        return max(self.top - self.bottom, 1.0)


def _page_lines(textpage: pdfium.PdfTextPage) -> list[_Line]:
    """Text runs merged into visual lines, in content-stream order."""
    lines: list[_Line] = []
    for i in range(textpage.count_rects()):
        left, bottom, right, top = textpage.get_rect(i)
        text = one_line(textpage.get_text_bounded(left, bottom, right, top).replace("\ufffe", "\x02"))
        if not text:
            continue
        prev = lines[-1] if lines else None
        mid = (bottom + top) / 2
        if (
            prev is not None
            and prev.bottom <= mid <= prev.top
            and 0 <= left - prev.right + 1.0 < prev.height * 3
        ):
            # Same baseline, further right: another run (font change, tab) of the same line.
            prev.text = join_lines(prev.text, text)
            prev.right = max(prev.right, right)
            prev.bottom, prev.top = min(prev.bottom, bottom), max(prev.top, top)
        else:
            index = textpage.get_index(left + 1.0, mid, 3.0, (top - bottom) / 2 + 1.0)
            size = pdfium_c.FPDFText_GetFontSize(textpage.raw, index) if index >= 0 else 0.0
            lines.append(_Line(left, bottom, right, top, text, round(size or (top - bottom), 1)))
    return lines


def _normalized(text: str) -> str:
    """A line's identity for header/footer detection: page numbers vary, so digits do not count."""
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def _repeated_lines(pages: list[list[_Line]]) -> set[str]:
    """Lines that appear near the top or bottom of more than half of the pages (3+ pages only)."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        edge = lines[:3] + lines[-3:]
        counts.update({_normalized(line.text) for line in edge})
    threshold = len(pages) / 2
    return {text for text, n in counts.items() if n > threshold}


def _join(paragraph: str, line: str) -> str:
    """Append a wrapped line, rejoining ``hyphen-\\nated`` words."""
    if len(paragraph) > 1 and paragraph[-1] in _HYPHENS and paragraph[-2].isalpha() and line[:1].islower():
        return paragraph[:-1] + line
    return join_lines(paragraph.rstrip("\x02"), line)


def _line_gap(lines: list[_Line]) -> float:
    """The page's usual gap between consecutive lines of one paragraph (its median)."""
    gaps = sorted(
        a.bottom - b.top for a, b in itertools.pairwise(lines) if 0 <= a.bottom - b.top < 2 * a.height
    )
    return gaps[(len(gaps) - 1) // 2] if gaps else 0.0


def _paragraphs(lines: list[_Line]) -> list[tuple[str, float]]:
    """``(text, font size of its first line)`` per paragraph."""
    paragraphs: list[tuple[str, float]] = []
    size = 0.0
    current = ""
    prev: _Line | None = None
    widest = 0.0
    usual_gap = _line_gap(lines)
    for line in lines:
        if prev is not None:
            h = min(prev.height, line.height)
            gap = prev.bottom - line.top
            wide_gap = gap > max(usual_gap * 1.5, usual_gap + h * 0.5, h * 0.75)
            new_column = line.top > prev.top + h
            indented = line.left - prev.left > max(h * 0.8, 4.0) and line.left < prev.right
            short_end = prev.text.endswith(_SENTENCE_END) and (prev.right - prev.left) < 0.7 * widest
            # A change of font size separates a heading from its text.
            resized = max(prev.size, line.size) > 1.1 * max(min(prev.size, line.size), 0.1)
            if wide_gap or new_column or indented or short_end or resized:
                paragraphs.append((current, size))
                current, widest = "", 0.0
        if not current:
            size = line.size
        current = _join(current, line.text)
        widest = max(widest, line.right - line.left)
        prev = line
    paragraphs.append((current, size))
    return [(p.replace("\x02", "").strip(), sz) for p, sz in paragraphs if p.strip()]


def _heading_levels(pages: list[list[_Line]]) -> dict[float, int]:
    """Font sizes clearly larger than the body text's, mapped to heading levels 1-3 (largest = 1)."""
    weight: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            weight[line.size] += len(line.text)
    if not weight:
        return {}
    body = weight.most_common(1)[0][0]
    larger = sorted((sz for sz in weight if sz >= body * 1.2), reverse=True)[:3]
    return {sz: level for level, sz in enumerate(larger, start=1)}


_NOT_HEADING_END = (".", "!", "?", "。", "，", ",")


def _is_heading_text(text: str) -> bool:
    """Short, not ending like a sentence, and containing letters (not a lone number)."""
    return 0 < len(text) <= 120 and not text.endswith(_NOT_HEADING_END) and any(ch.isalpha() for ch in text)


class PdfParser:
    """Reads ``.pdf`` files' text layer; metadata records the page count."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path``; raises ``ParseError`` for encrypted and scanned (text-less) PDFs."""
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
                raise ParseError("encrypted PDF: a password is required") from exc
            raise ParseError(f"corrupt or unreadable PDF: {exc}") from exc
        try:
            return self._read(pdf, path)
        finally:
            pdf.close()

    def _read(self, pdf: pdfium.PdfDocument, path: Path) -> ParsedDocument:
        n_pages = len(pdf)
        if n_pages == 0:
            raise ParseError("corrupt or unreadable PDF: it has no pages")
        pages: list[list[_Line]] = []
        for index in range(n_pages):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    pages.append(_page_lines(textpage))
                finally:
                    textpage.close()
            finally:
                page.close()
        if not any(pages):
            raise ParseError(
                "no text layer: this PDF looks scanned (images only); "
                "OCR for scanned PDFs comes with a later version"
            )
        repeated = _repeated_lines(pages)
        pages = [[line for line in lines if _normalized(line.text) not in repeated] for lines in pages]
        levels = _heading_levels(pages)
        headings = HeadingTracker()
        blocks: list[Block] = []
        for number, lines in enumerate(pages, start=1):
            for text, size in _paragraphs(lines):
                level = levels.get(size, 0)
                if level and _is_heading_text(text):
                    path_ = headings.push(level, text)
                    blocks.append(
                        Block("heading", text, level=level, locator=Locator(page=number, heading_path=path_))
                    )
                else:
                    blocks.append(
                        Block("paragraph", text, locator=Locator(page=number, heading_path=headings.path))
                    )
        meta = pdf.get_metadata_dict(skip_empty=True)
        title = one_line(meta.get("Title", ""))
        metadata: dict[str, object] = {"pages": n_pages}
        if meta.get("Author"):
            metadata["author"] = meta["Author"]
        return ParsedDocument.from_blocks(blocks, title=title or path.stem, metadata=metadata)
