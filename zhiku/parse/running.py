"""Running headers and footers, margin notes and page numbers: found by repetition across pages and by
position, and dropped before reading order (``remove_running_lines``)."""

from __future__ import annotations

import re
from collections import Counter
from operator import attrgetter

from .layout import Line

#: Text with a page number at its start or end, set apart by a space.
_NUMBERED = re.compile(r"^(?:\d{1,4}\s+\S.*|.*\S\s+\d{1,4})$")
#: What does not identify a running header/footer line: page numbers vary, spacing varies.
_VOLATILE = re.compile(r"[\d\s]+")
_PAGE_NUMBER = re.compile(
    r"(?i)^[\s\-–—·•|/()\[\]]*(?:page|p\.|第)?\s*(?:\d{1,5}|[ivxlc]{1,6})(?:[-–.]\d{1,5})?"
    r"(?:\s*(?:of|/|共)\s*\d{1,5})?\s*页?[\s\-–—·•|/()\[\]]*$"
)
_Y1 = attrgetter("y1")
_Y0 = attrgetter("y0")


def _edge_key(text: str) -> str:
    return _VOLATILE.sub("", text).lower()


def _in_edge_band(line: Line, width: float, height: float, band: float) -> bool:
    return (
        line.y0 >= height * (1 - band)
        or line.y1 <= height * band
        or line.x1 <= width * band
        or line.x0 >= width * (1 - band)
    )


def remove_running_lines(
    pages: list[list[Line]], sizes: list[tuple[float, float]], band: float = 0.1, body: float = 0.0
) -> list[list[Line]]:
    """Drop running headers/footers, margin notes and page numbers.

    A line in the top, bottom, left or right ``band`` of its page (``sizes``: width, height) is
    running text when the same text (digits ignored, so ``Page 3``/``Page 4`` match) sits in that
    band on at least half of the pages (and on two or more); a header split into pieces on some
    pages is matched by its whole row too. The topmost or bottommost line of a page is dropped on
    any page when it is nothing but a page number (``7-45``, ``- 3 -``, ``Page 3 of 9``, ``第 3 页``),
    or when it is set smaller than the ``body`` font and starts or ends with a page number (a running
    title such as ``Optimized Table Tokenization 9``, recognisable even on a single page).
    """
    # A key counts once per page and must be found on two pages or more, so a single page (a
    # 1,000-cell statistics sheet, a one-page notice) has no running text to look for.
    if len(pages) >= 2:
        keys, counts = _edge_keys(pages, sizes, band)
    else:
        keys, counts = [{} for _ in pages], Counter()
    need = max(2, (len(pages) + 1) // 2)
    out: list[list[Line]] = []
    for lines, page_keys, (width, height) in zip(pages, keys, sizes, strict=True):
        kept = [
            ln for ln in lines if id(ln) not in page_keys or all(not k or counts[k] < need for k in page_keys[id(ln)])
        ]
        if kept:
            # Page numbers and running titles sit in page margins up to 15% deep (A4 with wide margins).
            extremes = {id(max(kept, key=_Y1)), id(min(kept, key=_Y0))}
            kept = [
                ln
                for ln in kept
                if not (
                    id(ln) in extremes
                    and _in_edge_band(ln, width, height, max(band, 0.15))
                    and _is_page_marker(ln, body)
                )
            ]
        out.append(kept)
    return out


def _edge_keys(
    pages: list[list[Line]], sizes: list[tuple[float, float]], band: float
) -> tuple[list[dict[int, tuple[str, str]]], Counter[str]]:
    """For each page, its edge-band lines' keys (own text, whole row) by ``id``; and on how many
    pages each key is found."""
    counts: Counter[str] = Counter()
    keys: list[dict[int, tuple[str, str]]] = []
    for lines, (width, height) in zip(pages, sizes, strict=True):
        # ``_in_edge_band`` inlined: this looks at every line of the document.
        top, bottom, left, right = height * (1 - band), height * band, width * band, width * (1 - band)
        edge = [ln for ln in lines if ln.y0 >= top or ln.y1 <= bottom or ln.x1 <= left or ln.x0 >= right]
        rows = _row_keys(edge)
        page_keys = {id(ln): (_edge_key(ln.text), rows.get(id(ln), "")) for ln in edge}
        keys.append(page_keys)
        counts.update({k for pair in page_keys.values() for k in pair if k})
    return keys, counts


def _is_page_marker(line: Line, body: float) -> bool:
    if _PAGE_NUMBER.match(line.text):
        return True
    return 0 < line.size < 0.95 * body and len(line.text) <= 120 and bool(_NUMBERED.match(line.text))


def _row_keys(edge: list[Line]) -> dict[int, str]:
    """For edge lines sharing a row with others: the key of the whole row, left to right."""
    out: dict[int, str] = {}
    ordered = sorted(edge, key=lambda ln: (ln.y0 + ln.y1) / 2)
    row: list[Line] = []
    for line in [*ordered, None]:
        if line is not None and row:
            mid, last = (line.y0 + line.y1) / 2, row[-1]
            if abs((last.y0 + last.y1) / 2 - mid) < 0.5 * min(last.height, line.height):
                row.append(line)
                continue
        if len(row) > 1:
            key = _edge_key("".join(ln.text for ln in sorted(row, key=lambda ln: ln.x0)))
            out.update({id(ln): key for ln in row})
        row = [line] if line is not None else []
    return out
