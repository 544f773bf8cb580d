"""Page layout from positioned text lines: reading order and paragraphs (running headers and footers:
``running.py``).

Pure geometry, no PDF library: the PDF parser (text layer) and OCR both hand in ``Line``s in PDF
points (origin bottom-left, y up) and get paragraphs back in reading order.

Reading order is a recursive XY-cut tuned for columns: a region is split at a vertical gutter (an
x-range no line crosses) into columns read left to right; when full-width lines (a title, a
spanning figure caption) keep a gutter from existing, the region is cut into horizontal bands
first, and consecutive bands that share a gutter are regrouped so one column is read to its end
before the next starts. Regions whose "columns" hold short aligned cells are tables: read row by
row.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field
from operator import attrgetter

from .base import is_cjk, join_lines

#: pdfium's marker for a hyphen it judged soft (a word broken at the line end), plus real hyphens.
_HYPHENS = ("-", "\u00ad", "\u2010", "\x02", "\ufffe")
_SENTENCE_END = tuple(".!?:;。！？：；…")
#: The characters of a cell that is a number, amount, percentage or date (with a digit among them,
#: checked apart: one class, so the match is linear on any line).
_NUMERIC = re.compile(r"[\s\d,.\-–—%()$¥€£+/:*#]*")
_BULLETS = tuple("•◦▪▫‣⁃●○■□➢►–")
#: Below this code point nothing is CJK for ``is_cjk`` (its ranges start at U+3000).
_FIRST_CJK = "\u3000"
_Y1 = attrgetter("y1")
_Y0 = attrgetter("y0")
_NOT_HEADING_END = (".", "!", "?", "。", "，", ",", ";", "；", ":", "：")


@dataclass(slots=True, eq=False)
class Line:
    """One visual line (or a cell-sized piece of one) with its box in PDF points.

    ``size`` is the font size in points (0 when unknown); ``bold`` marks a bold or otherwise
    emphasised font, used to guess headings of body size.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float = 0.0
    bold: bool = False
    #: A ruled table standing in for the lines it contains (``tables.ruled_tables``): its cells.
    rows: list[list[str]] | None = None
    #: ``y1 - y0`` (at least 1): kept as a field because layout code reads it constantly.
    height: float = field(init=False)

    # Written out (the dataclass keeps it) so that ``height`` costs no extra call: a page makes
    # hundreds of lines.
    def __init__(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        text: str,
        size: float = 0.0,
        bold: bool = False,
        rows: list[list[str]] | None = None,
    ) -> None:
        self.x0, self.y0, self.x1, self.y1, self.text, self.size, self.bold, self.rows = (
            x0,
            y0,
            x1,
            y1,
            text,
            size,
            bold,
            rows,
        )
        self.height = y1 - y0 if y1 - y0 > 1.0 else 1.0


@dataclass
class Paragraph:
    """Lines joined into one paragraph; ``bbox`` is their union (x0, y0, x1, y1)."""

    text: str
    bbox: tuple[float, float, float, float]
    size: float = 0.0
    bold: bool = False
    lines: int = 1
    #: Cells when the paragraph is a table row group (a grid region); None for prose.
    rows: list[list[str]] | None = field(default=None)


# -- cells -------------------------------------------------------------------------------------------


def _is_numeric(text: str) -> bool:
    return bool(_NUMERIC.fullmatch(text)) and any(ch.isdigit() for ch in text)


# -- reading order -----------------------------------------------------------------------------------


@dataclass
class Region:
    """Lines read together, in reading order: a column stretch, a band, or a table (``rows`` holds
    its cells when the region is a grid of aligned cells)."""

    lines: list[Line]
    rows: list[list[str]] | None = None


def reading_order(lines: list[Line]) -> list[Region]:
    """The page's lines grouped into regions (columns, bands, tables) in reading order; lines inside
    a region are top to bottom (tables: row by row, left to right)."""
    if not lines:
        return []
    heights = sorted(line.height for line in lines)
    min_gutter = max(0.4 * heights[len(heights) // 2], 2.0)
    regions: list[Region] = []
    _order(lines, min_gutter, regions, 0)
    return regions


def _order(lines: list[Line], min_gutter: float, out: list[Region], depth: int) -> None:
    if len(lines) == 1 or depth > 24:
        out.append(Region(_top_down(lines)))
        return
    columns = _split_at_gutters(lines, min_gutter)
    if len(columns) > 1:
        if _is_grid(columns):
            # Lines above the first and below the last multi-cell row (a caption, a note) are not
            # part of the table.
            rows = row_bands(lines)
            multi = [i for i, row in enumerate(rows) if len(row) > 1]
            first, last = multi[0], multi[-1]
            if first > 0:
                _order([ln for row in rows[:first] for ln in row], min_gutter, out, depth + 1)
            table = rows[first : last + 1]
            cells = [ln for row in table for ln in sorted(row, key=lambda ln: ln.x0)]
            out.append(Region(cells, grid_rows(table)))
            if last + 1 < len(rows):
                _order([ln for row in rows[last + 1 :] for ln in row], min_gutter, out, depth + 1)
            return
        for column in columns:
            _order(column, min_gutter, out, depth + 1)
        return
    bands = row_bands(lines)
    if len(bands) == 1:
        out.append(Region(_top_down(lines)))
        return
    if all(len(band) == 1 for band in bands):  # one line per band: a single flow, already in order
        out.append(Region([band[0] for band in bands]))
        return
    for group in _regroup(bands, min_gutter):
        if len(group) == len(lines):  # nothing separates them: give up splitting
            out.append(Region(_top_down(group)))
        else:
            _order(group, min_gutter, out, depth + 1)


def _top_down(lines: list[Line]) -> list[Line]:
    return sorted(lines, key=lambda ln: (-round(ln.y1 - 0.3 * ln.height), ln.x0))


def _gutters(lines: list[Line], min_gutter: float) -> list[tuple[float, float]]:
    """x-ranges of at least ``min_gutter`` that no line crosses, between lines."""
    spans = sorted([(ln.x0, ln.x1) for ln in lines])
    gaps: list[tuple[float, float]] = []
    end = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - end >= min_gutter:
            gaps.append((end, x0))
        if x1 > end:
            end = x1
    return gaps


def _split_at_gutters(lines: list[Line], min_gutter: float) -> list[list[Line]]:
    gaps = _gutters(lines, min_gutter)
    if not gaps:
        return [lines]
    cuts = [(a + b) / 2 for a, b in gaps]
    columns: list[list[Line]] = [[] for _ in range(len(cuts) + 1)]
    for line in lines:
        columns[bisect.bisect_left(cuts, line.x0)].append(line)  # cuts ascend: how many lie left of x0
    return [c for c in columns if c]


def row_bands(lines: list[Line]) -> list[list[Line]]:
    """Horizontal bands separated by vertical gaps; a line's core (its middle) decides overlap, so
    tight leading does not glue all lines into one band."""
    # Top to bottom; a stable sort, so lines at one height keep their order (as with key -y1).
    ordered = sorted(lines, key=_Y1, reverse=True)
    bands: list[list[Line]] = []
    band: list[Line] = []
    low = float("inf")
    for line in ordered:
        quarter = 0.25 * line.height
        if not band or line.y1 - quarter < low:
            band = [line]
            bands.append(band)
            low = line.y0 + quarter
        else:
            band.append(line)
            if line.y0 + quarter < low:
                low = line.y0 + quarter
    return bands


def _regroup(bands: list[list[Line]], min_gutter: float) -> list[list[Line]]:
    """Consecutive bands become groups: a run of bands that keeps a common gutter is a multi-column
    stretch, a run of bands without one is a single flow. A band crossing the gutters of a
    multi-column stretch (a full-width title) or far below it ends the stretch. A lone band with a
    gap that no neighbour shares is one line with a wide space (``Table 1.   Results ...``)."""
    covers = [_cover([], band, min_gutter) for band in bands]
    for i, band in enumerate(bands):
        if len(covers[i]) > 1 and not any(
            0 <= j < len(bands) and len(_union(covers[i], covers[j], min_gutter)) > 1 for j in (i - 1, i + 1)
        ):
            bands[i] = [_collapse(band)]
            covers[i] = _cover([], bands[i], min_gutter)
    groups: list[list[Line]] = []
    current: list[Line] = []
    cover: list[tuple[float, float]] = []
    bottom = 0.0
    for band, own in zip(bands, covers, strict=True):
        top, tallest, low = band[0].y1, band[0].height, band[0].y0
        for ln in band:
            if ln.y1 > top:
                top = ln.y1
            if ln.height > tallest:
                tallest = ln.height
            if ln.y0 < low:
                low = ln.y0
        near = bottom - top < 2.0 * tallest
        merged = _union(cover, own, min_gutter) if current else own
        columns = len(cover) > 1
        if current and ((columns and len(merged) > 1 and near) or (not columns and len(own) == 1 and len(merged) == 1)):
            current.extend(band)
            cover = merged
        else:
            if current:
                groups.append(current)
            current, cover = list(band), own
        bottom = low
    if current:
        groups.append(current)
    return groups


def _union(a: list[tuple[float, float]], b: list[tuple[float, float]], min_gutter: float) -> list[tuple[float, float]]:
    """Two merged coverings (sorted x-ranges) merged into one."""
    if not a or not b:
        spans = a or b
    elif len(a) == 1 and len(b) == 1:  # the common case in a single flow: no sort needed
        spans = [*a, *b] if a[0] <= b[0] else [*b, *a]
    else:
        spans = sorted(a + b)
    merged: list[tuple[float, float]] = [spans[0]]
    for x0, x1 in spans[1:]:
        lo, hi = merged[-1]
        if x0 - hi < min_gutter:
            merged[-1] = (lo, hi if hi > x1 else x1)
        else:
            merged.append((x0, x1))
    return merged


def _collapse(band: list[Line]) -> Line:
    """Pieces of one row joined left to right into one line."""
    pieces = sorted(band, key=lambda ln: ln.x0)
    first = pieces[0]
    return Line(
        first.x0,
        min(ln.y0 for ln in pieces),
        max(ln.x1 for ln in pieces),
        max(ln.y1 for ln in pieces),
        " ".join(ln.text for ln in pieces),
        first.size,
        all(ln.bold for ln in pieces),
    )


def _cover(cover: list[tuple[float, float]], lines: list[Line], min_gutter: float) -> list[tuple[float, float]]:
    """The x-ranges covered by ``cover`` plus ``lines``, merged where less than a gutter apart."""
    spans = sorted([*cover, *((ln.x0, ln.x1) for ln in lines)])
    merged: list[tuple[float, float]] = [spans[0]]
    for x0, x1 in spans[1:]:
        a, b = merged[-1]
        if x0 - b < min_gutter:
            merged[-1] = (a, max(b, x1))
        else:
            merged.append((x0, x1))
    return merged


def _is_grid(columns: list[list[Line]]) -> bool:
    """Columns whose rows line up and whose cells are numbers or leave their column mostly empty are
    a table; text columns are filled edge to edge by their lines (justified or wrapped text)."""
    lines = [ln for col in columns for ln in col]
    if len(lines) < 6:
        return False
    # The cheap tests first (the answer does not depend on the order): text columns fail here
    # without their rows being banded.
    numeric = sum(1 for ln in lines if _is_numeric(ln.text)) >= 0.3 * len(lines)
    # Without numbers, only many short cells that leave their columns mostly empty: reading text
    # columns row by row would interleave their sentences, a worse mistake than the reverse.
    if not numeric and (len(columns) < 3 or sorted([len(ln.text) for ln in lines])[len(lines) // 2] > 25):
        return False
    column_of = {id(ln): i for i, col in enumerate(columns) for ln in col}
    # Rows: lines whose band also holds a line of another column.
    aligned = sum(len(row) for row in row_bands(lines) if len({column_of[id(ln)] for ln in row}) > 1)
    if aligned < 0.6 * len(lines):
        return False
    if numeric:
        return True
    fill: list[float] = []
    for col in columns:
        width = max(ln.x1 for ln in col) - min(ln.x0 for ln in col)
        fill.extend((ln.x1 - ln.x0) / width for ln in col if width > 0)
    fill.sort()
    return bool(fill) and fill[len(fill) // 2] < 0.6


def grid_rows(bands: list[list[Line]]) -> list[list[str]]:
    """Cells of a table from its bands (rows, top to bottom). Columns are anchored on the fuller
    rows (header cells spanning several columns usually sit in sparser ones); every piece goes to
    the column it overlaps most. A row with an empty first column set tightly under the previous
    one continues it (a cell wrapped onto a second line: ``OTSL`` over ``HTML`` becomes
    ``OTSL HTML``), and a row whose cells fill only the previous row's gaps joins it (a label
    centred between two sub-rows)."""
    bands = [sorted(band, key=lambda ln: ln.x0) for band in bands]
    sizes = sorted(len(band) for band in bands)
    median = sizes[len(sizes) // 2]
    if median < 2:
        return [[ln.text for ln in band] for band in bands]
    anchors = _union([], sorted((ln.x0, ln.x1) for band in bands if len(band) >= median for ln in band), 0.0)
    starts = [a[0] for a in anchors]
    rows: list[list[str]] = []
    prev_bottom = 0.0
    for band in bands:
        cells = [""] * len(anchors)
        top, bottom, low = band[0].y1, band[0].y0, band[0].height
        for ln in band:
            column = _column(ln, anchors, starts)
            cells[column] = join_lines(cells[column], ln.text)
            top, bottom, low = max(top, ln.y1), min(bottom, ln.y0), min(low, ln.height)
        tight = bool(rows) and prev_bottom - top < 0.5 * low
        if tight and not cells[0] and rows[-1][0]:  # wrapped cells: continue the row above
            rows[-1] = [join_lines(a, b) for a, b in zip(rows[-1], cells, strict=True)]
        elif tight and all(not (a and b) for a, b in zip(rows[-1], cells, strict=True)):
            rows[-1] = [a or b for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
        prev_bottom = bottom
    return rows


def _column(line: Line, anchors: list[tuple[float, float]], starts: list[float]) -> int:
    """The anchor column ``line`` overlaps most; the nearest one by centre when it overlaps none."""
    lo = max(bisect.bisect_right(starts, line.x0) - 1, 0)
    hi = bisect.bisect_left(starts, line.x1)
    best, best_overlap = lo, 0.0
    for i in range(lo, min(hi + 1, len(anchors))):
        x0, x1 = anchors[i]
        overlap = (x1 if x1 < line.x1 else line.x1) - (x0 if x0 > line.x0 else line.x0)
        if overlap > best_overlap:
            best, best_overlap = i, overlap
    if best_overlap > 0:
        return best
    mid = (line.x0 + line.x1) / 2
    near = range(max(lo - 1, 0), min(lo + 2, len(anchors)))
    return min(near, key=lambda i: abs((anchors[i][0] + anchors[i][1]) / 2 - mid))


# -- paragraphs --------------------------------------------------------------------------------------


def join_wrapped(paragraph: str, line: str) -> str:
    """Append a wrapped line, rejoining ``hyphen-\\nated`` words and CJK without spaces."""
    if len(paragraph) > 1 and paragraph[-1] in _HYPHENS and paragraph[-2].isalpha() and line[:1].islower():
        return paragraph[:-1] + line
    paragraph = paragraph.rstrip("\x02\ufffe")
    if paragraph and line and paragraph[-1] < _FIRST_CJK:  # the common case: no CJK to glue
        return f"{paragraph} {line}"
    return join_lines(paragraph, line)


def _usual_gap(lines: list[Line]) -> float:
    gaps = sorted(a.y0 - b.y1 for a, b in itertools.pairwise(lines) if 0 <= a.y0 - b.y1 < 2 * a.height)
    return gaps[(len(gaps) - 1) // 2] if gaps else 0.0


def paragraphs(region: list[Line]) -> list[Paragraph]:
    """Split a region's lines (top to bottom) into paragraphs.

    A new paragraph starts at a wider-than-usual vertical gap, a first-line indent, a change of font
    size or weight, or after a short line that ends a sentence.
    """
    out: list[Paragraph] = []
    usual = _usual_gap(region)
    current: list[Line] = []
    widest = 0.0
    # Chinese wraps at the full measure (no hyphenation, justified): a clearly short line ending in
    # a Chinese character ended its paragraph even without a full stop (``□ 是 √ 否``).
    measure = max((ln.x1 - ln.x0 for ln in region), default=0.0)
    for line in region:
        if line.rows is not None:  # a ruled table: a block of its own
            if current:
                out.append(_paragraph(current))
                current, widest = [], 0.0
            out.append(Paragraph("", (line.x0, line.y0, line.x1, line.y1), size=line.size, rows=line.rows))
            continue
        if current:
            # Plain comparisons instead of min()/max() calls: this runs for every line of a document.
            prev = current[-1]
            h = prev.height if prev.height < line.height else line.height
            gap = prev.y0 - line.y1
            small, large = (prev.size, line.size) if prev.size <= line.size else (line.size, prev.size)
            if (
                (gap > usual * 1.5 and gap > usual + h * 0.5 and gap > h * 0.75)  # wider than usual
                or gap < -h  # went up: a new column or an out-of-flow piece
                or line.x0 > prev.x1  # to the right, on the same row: a separate piece
                or (line.x0 - prev.x0 > (h * 0.8 if h > 5.0 else 4.0) and line.x0 < prev.x1)  # indented first line
                or (prev.text.endswith(_SENTENCE_END) and (prev.x1 - prev.x0) < 0.7 * widest)
                or large > 1.1 * (small if small > 0.1 else 0.1)
                or line.text.startswith(_BULLETS)
                or (prev.x1 - prev.x0 < 0.8 * measure and is_cjk(prev.text[-1]))
                # Emphasis ending: a bold/italic heading line followed by regular text.
                or (prev.bold and not line.bold and (len(current) == 1 or prev.x1 - prev.x0 < 0.7 * widest))
            ):
                out.append(_paragraph(current))
                current, widest = [], 0.0
        current.append(line)
        width = line.x1 - line.x0
        if width > widest:
            widest = width
    if current:
        out.append(_paragraph(current))
    return out


def _paragraph(lines: list[Line]) -> Paragraph:
    first = lines[0]
    text = first.text
    x0, y0, x1, y1, bold = first.x0, first.y0, first.x1, first.y1, first.bold
    for line in lines[1:]:
        text = join_wrapped(text, line.text)
        if line.x0 < x0:
            x0 = line.x0
        if line.y0 < y0:
            y0 = line.y0
        if line.x1 > x1:
            x1 = line.x1
        if line.y1 > y1:
            y1 = line.y1
        bold = bold and line.bold
    text = text.replace("\ufffe", "").replace("\x02", "").strip()
    return Paragraph(text, (x0, y0, x1, y1), size=first.size, bold=bold, lines=len(lines))


# -- headings ----------------------------------------------------------------------------------------


def heading_levels(pages: list[list[Line]]) -> tuple[float, dict[float, int]]:
    """The body font size and sizes clearly larger than it mapped to levels 1-3 (largest = 1)."""
    # A plain dict (``Counter`` item updates go through Python-level methods; this sees every line).
    weight: dict[float, int] = {}
    for lines in pages:
        for line in lines:
            weight[line.size] = weight.get(line.size, 0) + len(line.text)
    if not weight:
        return 0.0, {}
    body = max(weight, key=weight.__getitem__)  # the first of the most frequent, as most_common(1)
    larger = sorted((sz for sz, n in weight.items() if sz >= body * 1.15 and n >= 3), reverse=True)[:3]
    return body, {sz: level for level, sz in enumerate(larger, start=1)}


def heading_level(paragraph: Paragraph, body: float, levels: dict[float, int]) -> int:
    """0 for body text; otherwise the heading level: larger fonts by size rank, bold body-size
    standalone lines one level below the smallest larger size."""
    text = paragraph.text
    if not (0 < len(text) <= 120) or text.endswith(_NOT_HEADING_END) or paragraph.lines > 3:
        return 0
    if not any(ch.isalpha() for ch in text):
        return 0
    level = levels.get(round(paragraph.size, 1), 0)
    if level:
        return level
    if paragraph.bold and paragraph.lines <= 2 and abs(paragraph.size - body) <= 0.6 and len(text) <= 80:
        return min(len(levels) + 1, 4)
    return 0
