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
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+")
_WORDY = re.compile(r"[^\W\d_]")  # letters and CJK characters
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
        keys, counts = _edge_keys(pages, sizes, band, body)
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
                    and _alone_in_row(ln, kept)  # "01/2024" in a ledger's first row is no "page 1 of 2024"
                )
            ]
        out.append(kept)
    return out


def _edge_keys(
    pages: list[list[Line]], sizes: list[tuple[float, float]], band: float, body: float
) -> tuple[list[dict[int, tuple[str, ...]]], Counter[str]]:
    """For each page, its edge-band lines' keys (own text, whole row) by ``id``; and on how many
    pages each key is found.

    A text matches itself on other pages; with its digits ignored it matches only where they vary as
    page numbers do (each number either the same on every page or the page's index plus a constant:
    "Page 3 of 9", "Annual report 2023 · 7") and the line is no larger than body text. Ignoring every
    digit dropped "Article 3" / "Article 4" headings and the first row of a ledger on every page."""
    found: list[dict[int, list[tuple[str, str, tuple[int, ...], int]]]] = []
    for lines, (width, height) in zip(pages, sizes, strict=True):
        # ``_in_edge_band`` inlined: this looks at every line of the document.
        top, bottom, left, right = height * (1 - band), height * band, width * band, width * (1 - band)
        edge = [ln for ln in lines if ln.y0 >= top or ln.y1 <= bottom or ln.x1 <= left or ln.x0 >= right]
        rows = _row_texts(edge)
        page_found: dict[int, list[tuple[str, str, tuple[int, ...], int]]] = {}
        for ln in edge:
            scale = _scale(ln.size, body)
            # A cell of figures alone ("02/2024") repeats by chance in a table's first rows; a running
            # header is matched by its words, or by its whole row.
            own = [ln.text] if len(_WORDY.findall(ln.text)) >= 2 or id(ln) not in rows else []
            texts = own + ([rows[id(ln)]] if id(ln) in rows else [])
            page_found[id(ln)] = [(_exact_key(t), _edge_key(t), _digits(t), scale) for t in texts]
        found.append(page_found)
    seen: dict[str, list[tuple[int, tuple[int, ...], int]]] = {}
    for index, page_found in enumerate(found):
        for entries in page_found.values():
            for _, loose, digits, scale in entries:
                seen.setdefault(loose, []).append((index, digits, scale))
    paged = {key for key, where in seen.items() if key and _running_numbers(where)}
    counts: Counter[str] = Counter()
    keys: list[dict[int, tuple[str, ...]]] = []
    for page_found in found:
        page_keys = {
            line: tuple(k for exact, loose, _, _ in entries for k in (exact, loose if loose in paged else "") if k)
            for line, entries in page_found.items()
        }
        keys.append(page_keys)
        counts.update({k for ks in page_keys.values() for k in ks})
    return keys, counts


def _running_numbers(where: list[tuple[int, tuple[int, ...], int]]) -> bool:
    """Whether one text with its digits ignored, found on the pages ``where`` (page index, its numbers,
    its size against body text), is running text whose numbers change: once per page, never larger
    than body text, and either set smaller (a production footer: "VerDate … 16:21 … Frm 00001") or with
    numbers that vary only as page numbers do (each the same on every page, or the page's index plus
    a constant: "Page 3 of 9"). A table's first row ("INV-1000 01/2024 100.00 USD") and a clause
    heading ("Article 3", "Article 4") are neither."""
    pages = [index for index, _, _ in where]
    if len(set(pages)) != len(pages) or any(scale > 0 for _, _, scale in where):
        return False
    if all(scale < 0 for _, _, scale in where):
        return True
    if len({len(d) for _, d, _ in where}) != 1:
        return False
    for position in range(len(where[0][1])):
        values = {d[position] for _, d, _ in where}
        if len(values) > 1 and len({d[position] - index for index, d, _ in where}) != 1:
            return False
    return True


def _scale(size: float, body: float) -> int:
    """-1 smaller than body text (a production footer), 1 larger (a heading), 0 body size or unknown."""
    if body <= 0 or size <= 0:
        return 0
    return -1 if size < 0.95 * body else 1 if size > 1.05 * body else 0


def _exact_key(text: str) -> str:
    return _SPACE.sub("", text).lower()


def _digits(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in _NUMBER.findall(text))


def _same_row(a: Line, b: Line) -> bool:
    """Whether two lines sit on one row: their middles closer than half the smaller one's height."""
    return abs((a.y0 + a.y1) / 2 - (b.y0 + b.y1) / 2) < 0.5 * min(a.height, b.height)


def _alone_in_row(line: Line, lines: list[Line]) -> bool:
    return not any(other is not line and _same_row(other, line) for other in lines)


def _is_page_marker(line: Line, body: float) -> bool:
    if _PAGE_NUMBER.match(line.text):
        return True
    return _scale(line.size, body) < 0 and len(line.text) <= 120 and bool(_NUMBERED.match(line.text))


def _row_texts(edge: list[Line]) -> dict[int, str]:
    """For edge lines sharing a row with others: the text of the whole row, left to right."""
    out: dict[int, str] = {}
    ordered = sorted(edge, key=lambda ln: (ln.y0 + ln.y1) / 2)
    row: list[Line] = []
    for line in [*ordered, None]:
        if line is not None and row and _same_row(row[-1], line):
            row.append(line)
            continue
        if len(row) > 1:
            text = " ".join(ln.text for ln in sorted(row, key=lambda ln: ln.x0))
            out.update({id(ln): text for ln in row})
        row = [line] if line is not None else []
    return out
