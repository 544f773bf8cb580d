"""Ruled tables: cells from the lines and boxes a PDF draws, text placed into them by position.

Word, WPS and most report generators draw table borders as thin filled rectangles, stroked lines or
one box per cell. Their bounding boxes become horizontal and vertical edges; edges stacked in one
vertical slab form a table whose grid is every distinct edge position. Two neighbouring grid cells
without a border between them are one merged cell (its text goes to the top-left position, the
others stay empty, as for DOCX tables). Text lines are placed into cells by their centres.

Pure geometry like ``layout``: the PDF parser hands in the page's path boxes and lines.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import join_lines
from .layout import Line, row_bands

#: Thinner than this (points) is a rule, not a box.
_RULE = 2.5
#: Edge positions closer than this are the same grid line.
_SNAP = 2.0

Box = tuple[float, float, float, float]


@dataclass
class _Edges:
    horizontal: list[tuple[float, float, float]]  # (y, x0, x1)
    vertical: list[tuple[float, float, float]]  # (x, y0, y1)


def _edges(boxes: list[Box]) -> _Edges:
    edges = _Edges([], [])
    for x0, y0, x1, y1 in boxes:
        w, h = x1 - x0, y1 - y0
        if w < _RULE and h < _RULE:
            continue  # a dot or a joint between rules
        if h < _RULE:
            edges.horizontal.append(((y0 + y1) / 2, x0, x1))
        elif w < _RULE:
            edges.vertical.append(((x0 + x1) / 2, y0, y1))
        else:  # a box (one per cell in many generators): its four sides
            edges.horizontal += [(y0, x0, x1), (y1, x0, x1)]
            edges.vertical += [(x0, y0, y1), (x1, y0, y1)]
    return edges


def _snap(values: list[float]) -> list[float]:
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > _SNAP:
            out.append(v)
    return out


def _slabs(edges: _Edges) -> list[tuple[float, float]]:
    """Vertical extents of groups of edges that touch (each a candidate table)."""
    spans = sorted(
        [(y0 - _SNAP, y1 + _SNAP) for _, y0, y1 in edges.vertical]
        + [(y - _SNAP, y + _SNAP) for y, _, _ in edges.horizontal]
    )
    out: list[tuple[float, float]] = []
    lo0, hi0 = spans[0]
    for lo, hi in spans[1:]:
        if lo <= hi0:
            if hi > hi0:
                hi0 = hi
        else:
            out.append((lo0, hi0))
            lo0, hi0 = lo, hi
    out.append((lo0, hi0))
    return out


def _array(values: Sequence[float]) -> Any:
    """A float array from a list of floats (``np.fromiter``: several times faster than ``np.array``
    for the short lists here)."""
    return np.fromiter(values, dtype=np.float64, count=len(values))


def _missing(
    grid: Any, positions: Sequence[float], starts_in: Sequence[float], stops_in: Sequence[float], across: Any
) -> list[list[int]]:
    """Missing borders: ``[k, i]`` for each inner grid line ``k`` and each interval ``i`` of the
    ``across`` grid that the rules on line ``k`` cover less than half of. The rules (at
    ``positions``, from ``starts_in`` to ``stops_in``) go to their nearest grid line; touching ones
    are merged."""
    lines = _nearest_all(grid, _array(positions))
    order = np.lexsort((_array(stops_in), _array(starts_in), lines)).tolist()
    ks = lines.tolist()
    owner: list[int] = []
    starts: list[float] = []
    ends: list[float] = []
    current, end = -1, -1e300
    for j in order:  # by grid line, then by start: merged as in ``_merged``
        k, a, b = ks[j], starts_in[j], stops_in[j]
        if k != current:
            current, end = k, -1e300
        if a <= end + _SNAP:
            if b > end:
                end = ends[-1] = b
        else:
            owner.append(k)
            starts.append(a)
            ends.append(b)
            end = b
    lo, hi = across[:-1], across[1:]
    pieces = np.minimum(_array(ends)[:, None], hi) - np.maximum(_array(starts)[:, None], lo)
    cover = np.zeros((len(grid), len(lo)))
    np.add.at(cover, np.fromiter(owner, dtype=np.intp, count=len(owner)), np.maximum(pieces, 0.0))
    missing = np.argwhere(cover[1:-1] < 0.5 * (hi - lo))
    missing[:, 0] += 1
    return missing.tolist()


def ruled_tables(lines: list[Line], boxes: list[Box]) -> list[Line]:
    """``lines`` with the text inside ruled tables replaced by one table line per table (its
    ``rows`` set, its box the table's), in the original order otherwise."""
    edges = _edges(boxes)
    if not edges.vertical or len(edges.horizontal) < 2:
        return lines
    out = lines
    for lo, hi in _slabs(edges):
        vertical = [e for e in edges.vertical if lo <= e[1] and e[2] <= hi]
        horizontal = [e for e in edges.horizontal if lo <= e[0] <= hi]
        # A grid needs a column rule and three row rules, or two (top and bottom: an open table whose
        # rows are its text lines) when a column rule runs between them.
        if not vertical or len(horizontal) < 2:
            continue
        table = _table(out, vertical, horizontal)
        if table is not None:
            line, inside = table
            out = [ln for ln in out if id(ln) not in inside]
            out.append(line)
    return out


def _table(
    lines: list[Line], vertical: list[tuple[float, float, float]], horizontal: list[tuple[float, float, float]]
) -> tuple[Line, set[int]] | None:
    xs = [x for x, _, _ in vertical]
    # Open tables draw inner column rules only: the horizontal rules' ends are the outer borders.
    xs += [min(x0 for _, x0, _ in horizontal), max(x1 for _, _, x1 in horizontal)]
    xs = _snap(xs)
    ys = _snap([y for y, _, _ in horizontal])
    drawn = _drawn(xs, vertical)  # the rules on each column position: for implied rows and cut lines
    implied = _implied_rules(xs, ys, drawn)
    if implied:
        horizontal = horizontal + implied
        ys = _snap([y for y, _, _ in horizontal])
    if len(xs) < 3 or len(ys) < 2 or (len(ys) == 2 and not _inner_rule(xs, vertical, ys)):
        return None
    n_cols, n_rows = len(xs) - 1, len(ys) - 1  # rows counted from the bottom (ys ascending)
    parent = list(range(n_cols * n_rows))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Neighbouring cells without a border between them are merged (borders found for the whole
    # grid at once; only the missing ones, usually few, cost a union).
    grid_x, grid_y = _array(xs), _array(ys)
    vx, vy0, vy1 = zip(*vertical, strict=True)
    hy, hx0, hx1 = zip(*horizontal, strict=True)
    missing_right = _missing(grid_x, vx, vy0, vy1, grid_y)
    missing_above = _missing(grid_y, hy, hx0, hx1, grid_x)
    for c, r in missing_right:  # no border between columns c - 1 and c in row r
        cell = r * n_cols + c - 1
        parent[find(cell + 1)] = find(cell)
    for r, c in missing_above:  # no border between rows r - 1 and r in column c
        cell = (r - 1) * n_cols + c
        parent[find(cell + n_cols)] = find(cell)
    merged = bool(missing_right or missing_above)
    # Text lines go to the cell holding their centre; a line of numbers running across column rules
    # (tight, right-aligned columns) is first cut at the rules.
    texts: dict[int, list[Line]] = {}
    inside: set[int] = set()
    size: float | None = None
    lines, box, source = _cut_at_rules(lines, _boxes(lines), xs, ys[0], ys[-1], drawn)
    if lines:
        cx, cy = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
        index = np.flatnonzero((xs[0] <= cx) & (cx <= xs[-1]) & (ys[0] <= cy) & (cy <= ys[-1]))
        columns = np.minimum(np.searchsorted(grid_x, cx[index], side="right") - 1, n_cols - 1)
        grid_rows = np.minimum(np.searchsorted(grid_y, cy[index], side="right") - 1, n_rows - 1)
        for i, cell in zip(index.tolist(), (grid_rows * n_cols + columns).tolist(), strict=True):
            ln = lines[i]
            if ln.rows is not None:
                continue
            texts.setdefault(find(cell), []).append(ln)
            inside.add(source.get(id(ln), id(ln)))
            if size is None or ln.size > size:
                size = ln.size
    # Two pieces of text side by side in one cell mean a column rule is missing (a partly ruled
    # table): the grid would glue columns together, so the text-based table detection is better.
    for cell_lines in texts.values():
        if len(cell_lines) > 1 and _side_by_side(cell_lines):
            return None
    # The top-left grid position of each merged cell holds its text.
    anchor: dict[int, int] = {}
    if merged:
        for r in reversed(range(n_rows)):
            for c in range(n_cols):
                anchor.setdefault(find(r * n_cols + c), r * n_cols + c)
    by_row: dict[int, dict[int, list[Line]]] = {}
    for root, cell_lines in texts.items():
        pos = anchor[root] if merged else root
        by_row.setdefault(pos // n_cols, {})[pos % n_cols] = cell_lines
    rows: list[list[str]] = []
    for r in reversed(range(n_rows)):
        if r in by_row:
            rows.extend(_grid_row(by_row[r], n_cols))
    used = [c for c in range(n_cols) if any(row[c] for row in rows)]
    rows = [[row[c] for c in used] for row in rows]
    if len(rows) < 2 or len(used) < 2:
        return None
    return Line(xs[0], ys[0], xs[-1], ys[-1], "", size or 0.0, False, rows), inside


def _boxes(lines: list[Line]) -> Any:
    """The lines' boxes as an ``(n, 4)`` array (x0, y0, x1, y1)."""
    flat = itertools.chain.from_iterable(map(_CORNERS, lines))  # C loops: no Python frame per value
    return np.fromiter(flat, dtype=np.float64, count=4 * len(lines)).reshape(-1, 4)


_CORNERS = operator.attrgetter("x0", "y0", "x1", "y1")


def _inner_rule(xs: list[float], vertical: list[tuple[float, float, float]], ys: list[float]) -> bool:
    """Is there a column rule inside the table (not at its edges) from its top rule to its bottom one?"""
    height = ys[-1] - ys[0]
    return any(xs[0] + _SNAP < x < xs[-1] - _SNAP and y1 - y0 >= height - 2 * _SNAP for x, y0, y1 in vertical)


def _cut_at_rules(
    lines: list[Line],
    box: Any,
    xs: list[float],
    bottom: float,
    top: float,
    drawn: dict[int, list[tuple[float, float]]],
) -> tuple[list[Line], Any, dict[int, int]]:
    """Lines crossing column rules cut into one line per column: the lines, their boxes and each
    piece's original line.

    pdfium joins the numbers of neighbouring narrow columns into one line when their gap is smaller
    than a word space would be ("1,944 3,609 5,227" across Permit, Handgun and Long Gun); placed by
    its centre, the whole run would land in one cell. A line is cut when a rule drawn at its height
    crosses it and its words can be dealt out: as many words as columns crossed, one each; or only
    numbers, each to the column under its estimated position (characters spread evenly). Other text
    running over a rule is left alone.
    """
    source: dict[int, int] = {}
    if not lines:
        return lines, box, source
    # The lines inside the table that span a grid position, found for all lines at once (most do not).
    grid = _array(xs)
    middles = (box[:, 1] + box[:, 3]) / 2
    lows = np.searchsorted(grid, box[:, 0] + _SNAP, side="right")
    highs = np.searchsorted(grid, box[:, 2] - _SNAP, side="left")
    spanning = np.flatnonzero((lows < highs) & (middles >= bottom) & (middles <= top)).tolist()
    if not spanning:
        return lines, box, source
    out = list(lines)
    for i in reversed(spanning):  # from the end, so the indexes ahead stay valid while splicing
        ln, middle = lines[i], float(middles[i])
        if ln.rows is not None:
            continue
        cuts = [xs[k] for k in range(lows[i], highs[i]) if any(y0 <= middle <= y1 for y0, y1 in drawn.get(k, ()))]
        dealt = _deal(ln, cuts) if cuts else None
        if dealt:
            out[i : i + 1] = dealt
            source.update((id(piece), id(ln)) for piece in dealt)
    return (out, _boxes(out), source) if source else (lines, box, source)


def _drawn(xs: list[float], vertical: list[tuple[float, float, float]]) -> dict[int, list[tuple[float, float]]]:
    """The vertical extents of the rules drawn on each grid position ``xs[k]`` (touching pieces
    joined)."""
    pieces: dict[int, list[tuple[float, float]]] = {}
    for rx, y0, y1 in vertical:
        k = bisect.bisect_left(xs, rx - _SNAP)
        if k < len(xs) and abs(xs[k] - rx) <= _SNAP:
            pieces.setdefault(k, []).append((y0, y1))
    return {k: _joined(spans) for k, spans in pieces.items()}


def _implied_rules(
    xs: list[float], ys: list[float], drawn: dict[int, list[tuple[float, float]]]
) -> list[tuple[float, float, float]]:
    """Row borders that column rules imply by stopping inside a row, as horizontal edges.

    A group label over sub-columns ("Pre-Pawn" over Handgun | Long Gun | *Other in the NICS table)
    often has no rule under it: the sub-columns' rules simply end below the label. Where two or
    more inner column rules end at one height inside a grid row, each implies a border there
    across its two neighbouring columns; the band above becomes a row of its own, merged across
    the sub-columns, and the columns without such rules (a row label, "Totals") span both bands.
    """
    ends: list[tuple[float, int]] = []
    for k, spans in drawn.items():
        if 0 < k < len(xs) - 1:
            for y0, y1 in spans:
                for y in (y0, y1):
                    r = bisect.bisect_left(ys, y)
                    if 0 < r < len(ys) and ys[r - 1] + 2 * _SNAP < y < ys[r] - 2 * _SNAP:
                        ends.append((y, k))
    ends.sort()
    out: list[tuple[float, float, float]] = []
    group: list[tuple[float, int]] = []
    for end in [*ends, (float("inf"), 0)]:
        if group and end[0] - group[0][0] > _SNAP:
            if len(group) >= 2:
                y = sum(y for y, _ in group) / len(group)
                out += [(y, xs[k - 1], xs[k + 1]) for _, k in group]
            group = []
        group.append(end)
    return out


def _joined(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Intervals with those that touch (within ``_SNAP``) joined, in ascending order."""
    out: list[tuple[float, float]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1] + _SNAP:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def _deal(ln: Line, cuts: list[float]) -> list[Line] | None:
    """``ln`` cut at the x positions ``cuts`` (one piece per column that gets words), or None when
    its words cannot be dealt out (see ``_cut_at_rules``)."""
    words = ln.text.split()
    edges = [ln.x0, *cuts, ln.x1]
    columns: list[list[str]] = [[] for _ in range(len(edges) - 1)]
    if len(words) == len(columns):
        for column, word in zip(columns, words, strict=True):
            column.append(word)
    elif all(_NUMBER.fullmatch(w) and any(ch.isdigit() for ch in w) for w in words):
        width = (ln.x1 - ln.x0) / max(len(ln.text), 1)
        for m in _WORD.finditer(ln.text):
            x = ln.x0 + width * (m.start() + m.end()) / 2
            columns[sum(1 for c in cuts if c < x)].append(m.group())
    else:
        return None
    return [
        Line(a, ln.y0, b, ln.y1, " ".join(column), ln.size, ln.bold)
        for column, a, b in zip(columns, edges, edges[1:], strict=False)
        if column
    ]


_NUMBER = re.compile(r"[-+(]?[\d.,]+%?\)?")  # with a digit (checked apart: linear on any word)
_WORD = re.compile(r"\S+")


def _grid_row(cells: dict[int, list[Line]], n_cols: int) -> list[list[str]]:
    """One grid row's cells as table rows. Usually one; but an open table (no rules between its
    body rows) puts several text rows in one grid row. A text line is a row of its own when it has
    the row's first column and most of its others; when two or more lines do, each starts a row
    and the lines between continue the row above (a wrapped cell, a label set between sub-rows)."""
    if all(len(cell_lines) == 1 for cell_lines in cells.values()):
        # One line per cell (the usual row): one text row, whatever the lines' heights.
        row = [""] * n_cols
        for c, cell_lines in cells.items():
            row[c] = cell_lines[0].text
        return [row]
    column_of = {id(ln): c for c, cell_lines in cells.items() for ln in cell_lines}
    first = min(cells)
    everything = [ln for cell_lines in cells.values() for ln in cell_lines]
    groups: list[list[Line]] = []
    if len(cells[first]) == 1:
        # One line in the first column: only one band can start a row, so one row (no banding).
        groups = [everything]
    else:
        bands = row_bands(everything)
        columns = [{column_of[id(ln)] for ln in band} for band in bands]
        # A header cell set on two lines (``#`` over ``enc-layers``) leaves most columns to one line.
        full = [len(cols) > 1 and first in cols and len(cols) >= 0.75 * len(cells) for cols in columns]
        groups = _row_groups(bands, full)
    out: list[list[str]] = []
    for group in groups:
        row = [""] * n_cols
        for ln in sorted(group, key=lambda ln: (-ln.y1, ln.x0)):
            c = column_of[id(ln)]
            row[c] = join_lines(row[c], ln.text)
        out.append(row)
    return out


def _row_groups(bands: list[list[Line]], full: list[bool]) -> list[list[Line]]:
    """Bands grouped into text rows: a band with the row's first column and most of its others
    starts a row when two or more do; otherwise all bands are one row."""
    groups: list[list[Line]] = []
    if sum(full) >= 2:
        for band, starts in zip(bands, full, strict=True):
            if starts or not groups:
                groups.append(list(band))
            else:
                groups[-1].extend(band)
    else:
        groups = [[ln for band in bands for ln in band]]
    return groups


def _side_by_side(lines: list[Line]) -> bool:
    ordered = sorted(lines, key=lambda ln: (ln.y0 + ln.y1) / 2)
    for a, b in itertools.pairwise(ordered):
        same_row = abs((a.y0 + a.y1) / 2 - (b.y0 + b.y1) / 2) < 0.5 * min(a.height, b.height)
        if same_row and max(a.x0, b.x0) - min(a.x1, b.x1) > max(a.height, b.height):
            return True
    return False


def _nearest_all(grid: Any, v: Any) -> Any:
    """Index of the nearest ``grid`` position (ascending array) for each value of the array ``v``."""
    i = np.searchsorted(grid, v, side="left")
    # np.minimum/np.maximum rather than np.clip, whose Python-level wrapper costs more than the
    # work on these short arrays (i lies in 0 .. len(grid)).
    below = np.maximum(i - 1, 0)
    above = np.minimum(i, len(grid) - 1)
    take_below = (i > 0) & ((i == len(grid)) | (v - grid[below] <= grid[above] - v))
    return np.where(take_below, i - 1, i)
