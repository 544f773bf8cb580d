"""Reading the parts of an XLSX package that openpyxl's read-only mode is slow at or skips.

- ``read_cells`` streams a worksheet's XML with lxml (cells and merged ranges in one pass), using
  the workbook's shared strings and number formats from openpyxl. It is several times faster than
  iterating openpyxl's read-only cells, which matters for sheets of a million cells.
- ``chart_blocks`` reads the charts drawn on a sheet from their own parts (openpyxl's read-only
  mode does not load charts): type, title and the plotted data from the chart's cache.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..types import Block, Locator
from .base import one_line, render_table

_PERCENT_DECIMALS = re.compile(r"0\.(0+)%")
_REF = re.compile(r"([A-Za-z]{1,3})(\d+)")


def parse_ref(ref: str) -> tuple[int, int, int, int] | None:
    """``"B2:C4"`` -> (top, left, bottom, right); ``None`` for anything unreadable."""
    m = re.fullmatch(r"\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?", ref.strip().upper())
    if not m:
        return None

    def col(letters: str) -> int:
        n = 0
        for ch in letters:
            n = n * 26 + ord(ch) - 64
        return n

    top, left = int(m.group(2)), col(m.group(1))
    bottom, right = (int(m.group(4)), col(m.group(3))) if m.group(3) else (top, left)
    return min(top, bottom), min(left, right), max(top, bottom), max(left, right)


def format_value(value: Any, number_format: str = "General") -> str:
    """A cell value as a reader would expect it: integers without ``.0``, floats without binary noise,
    percentages as ``12.5%``, dates in ISO form, booleans as ``TRUE``/``FALSE``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        fmt = number_format or ""
        if "%" in fmt:
            m = _PERCENT_DECIMALS.search(fmt)
            return f"{value * 100:.{len(m.group(1)) if m else 0}f}%"
        if isinstance(value, float):
            if value.is_integer() and abs(value) < 1e15:
                return str(int(value))
            return f"{value:.15g}"
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


@dataclass
class SheetCells:
    """A sheet read by ``read_cells``: non-empty cells as display text, merged ranges, and how many
    formulas it holds, with no saved result, and whose saved result is 0."""

    cells: dict[tuple[int, int], str] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    formulas: int = 0
    uncached: int = 0
    zero: int = 0


def read_cells(workbook: Any, worksheet: Any, *, max_cells: int) -> SheetCells:
    """A sheet's non-empty cells as display text and its merged ranges, in one streaming pass.

    Formulas give their cached values (the ``<v>`` Excel stored; a file written by a program that
    does not calculate has none, or 0: counted, so the caller can warn); numbers formatted as dates
    become ISO dates. Stops collecting after ``max_cells`` cells (the caller refuses such sheets).
    """
    from lxml import etree
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE, is_date_format, is_timedelta_format
    from openpyxl.utils.datetime import from_excel

    archive = workbook._archive
    part = worksheet._worksheet_path
    shared = getattr(worksheet, "_shared_strings", None) or workbook.shared_strings
    styles = workbook._cell_styles
    custom_formats = workbook._number_formats
    formats: dict[int, tuple[str, bool, bool]] = {}  # style id -> (format, is date, is duration)

    def number_format(style_id: int) -> tuple[str, bool, bool]:
        if style_id not in formats:
            fmt = "General"
            if 0 <= style_id < len(styles):
                fmt_id = styles[style_id].numFmtId
                if fmt_id < BUILTIN_FORMATS_MAX_SIZE:
                    fmt = BUILTIN_FORMATS.get(fmt_id, "General")
                elif fmt_id - BUILTIN_FORMATS_MAX_SIZE < len(custom_formats):
                    fmt = custom_formats[fmt_id - BUILTIN_FORMATS_MAX_SIZE]
            formats[style_id] = (fmt, is_date_format(fmt), is_timedelta_format(fmt))
        return formats[style_id]

    def value_of(el: Any) -> str:
        kind = el.get("t", "n")
        if kind == "inlineStr":
            return "".join(t.text or "" for t in el.iter("{*}t") if not t.getparent().tag.endswith("rPh"))
        raw = el.findtext("{*}v")
        if raw is None:
            return ""
        if kind == "s":
            try:
                return str(shared[int(raw)])
            except (ValueError, IndexError):
                return ""
        if kind == "b":
            return "TRUE" if raw.strip() in ("1", "true") else "FALSE"
        if kind in ("str", "e", "d"):
            return raw
        try:
            number: float | int = int(raw) if raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            return raw
        fmt, is_date, is_duration = number_format(int(el.get("s", "0") or 0))
        if is_date:
            try:
                return format_value(from_excel(number, workbook.epoch, timedelta=is_duration), fmt)
            except (OverflowError, ValueError, TypeError):
                return format_value(number, "General")
        return format_value(number, fmt)

    sheet = SheetCells()
    cells, merges = sheet.cells, sheet.merges
    row = 0
    with archive.open(part) as fh:
        # Whole rows at their end event (one event per row, not two per cell).
        events = etree.iterparse(
            fh, events=("end",), tag=("{*}row", "{*}mergeCell"), resolve_entities=False, no_network=True
        )
        for _, el in events:
            if el.tag.endswith("mergeCell"):
                box = parse_ref(el.get("ref", ""))
                if box:
                    merges.append(box)
                continue
            row = int(el.get("r") or row + 1)
            col = 0
            for c in el:
                if not c.tag.endswith("}c"):
                    continue
                m = _REF.fullmatch(c.get("r") or "")
                if m:
                    col = _column_number(m.group(1))
                else:
                    col += 1
                text = value_of(c)
                if text.strip():
                    cells[(row, col)] = text
                if c.find("{*}f") is not None:
                    sheet.formulas += 1
                    saved = c.findtext("{*}v")
                    sheet.uncached += saved is None or not saved.strip()
                    sheet.zero += saved is not None and saved.strip() == "0"
            el.clear()
            while el.getprevious() is not None:  # keep memory flat on long sheets
                del el.getparent()[0]
            if len(cells) > max_cells:
                break
    return sheet


_C = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_MAX_CHART_POINTS = 10_000


def _xml(archive: zipfile.ZipFile, part: str) -> Any | None:
    """A package part parsed without entity expansion or network access; ``None`` when absent."""
    from lxml import etree

    try:
        data = archive.read(part)
    except KeyError:
        return None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        return None


def _related(archive: zipfile.ZipFile, part: str, kind: str) -> list[str]:
    """Parts that ``part`` links to with a relationship of type ``.../kind``."""
    folder, _, name = part.rpartition("/")
    rels = _xml(archive, f"{folder}/_rels/{name}.rels")
    if rels is None:
        return []
    targets = []
    for rel in rels.iter(_REL):
        if rel.get("Type", "").endswith(f"/{kind}") and rel.get("TargetMode") != "External":
            target = rel.get("Target", "")
            full = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"{folder}/{target}")
            targets.append(full)
    return targets


def _cache(el: Any) -> list[str]:
    """Values of a series' cached points (``strCache``/``numCache``), in point order."""
    if el is None:
        return []
    points: dict[int, str] = {}
    for pt in el.iter(f"{_C}pt"):
        v = pt.find(f"{_C}v")
        try:
            idx = int(pt.get("idx", "0"))
        except ValueError:
            continue
        if v is not None and v.text is not None and 0 <= idx < _MAX_CHART_POINTS:
            try:
                points[idx] = format_value(float(v.text)) if el.tag.endswith("numRef") else v.text
            except ValueError:
                points[idx] = v.text
    return [points.get(i, "") for i in range(max(points) + 1)] if points else []


def _rich_text(el: Any) -> str:
    return one_line("".join(t.text or "" for t in el.iter(f"{_A}t"))) if el is not None else ""


def _series(ser: Any, number: int) -> tuple[str, list[str], list[str]]:
    """(name, categories or x values, values) of one ``<c:ser>``."""
    tx = ser.find(f"{_C}tx")
    name = one_line(" ".join(tx.itertext())) if tx is not None else ""
    ref = ser.find(f"{_C}tx/{_C}strRef/{_C}strCache")
    if ref is not None:
        name = " ".join(_cache(ref)) or name
    categories: list[str] = []
    for path in ("cat/{c}strRef", "cat/{c}numRef", "xVal/{c}strRef", "xVal/{c}numRef"):
        found = ser.find(_C + path.format(c=_C))
        if found is not None and not categories:
            categories = _cache(found)
    values: list[str] = []
    for path in ("val/{c}numRef", "yVal/{c}numRef"):
        found = ser.find(_C + path.format(c=_C))
        if found is not None and not values:
            values = _cache(found)
    return name or f"series {number}", categories, values


def read_chart(root: Any) -> tuple[str, list[list[str]]] | None:
    """A chart part as (caption, data table); the caption names the chart type(s) and title."""
    plot = root.find(f".//{_C}plotArea")
    if plot is None:
        return None
    kinds: list[str] = []
    names: list[str] = []
    columns: list[list[str]] = []
    categories: list[str] = []
    for group in plot:
        if not isinstance(group.tag, str) or not group.tag.endswith("Chart"):
            continue
        kinds.append(group.tag.rpartition("}")[2][: -len("Chart")])
        for ser in group.iter(f"{_C}ser"):
            name, cats, values = _series(ser, len(names) + 1)
            names.append(name)
            columns.append(values)
            categories = categories or cats
    if not kinds:
        return None
    title = _rich_text(root.find(f".//{_C}chart/{_C}title"))
    caption = f"Chart ({', '.join(kinds)})" + (f": {title}" if title else "")
    length = max([len(categories), *(len(c) for c in columns)])
    if not length:
        return caption, []
    axis = _rich_text(plot.find(f"{_C}catAx/{_C}title")) or _rich_text(plot.find(f"{_C}valAx/{_C}title"))
    rows = [[axis, *names]]
    for i in range(length):
        first = categories[i] if i < len(categories) else str(i + 1)
        rows.append([first, *(c[i] if i < len(c) else "" for c in columns)])
    return caption, rows


def chart_blocks(archive: zipfile.ZipFile, sheet_part: str, *, sheet: str, path: list[str]) -> Iterator[Block]:
    """Charts drawn on a sheet: a caption (type and title) and the plotted data, taken from the
    chart's own cache, as a table (categories or x values first, one column per series)."""
    for drawing in _related(archive, sheet_part, "drawing"):
        for part in _related(archive, drawing, "chart"):
            root = _xml(archive, part)
            chart = read_chart(root) if root is not None else None
            if chart is None:
                continue
            caption, rows = chart
            yield Block("paragraph", caption, locator=Locator(sheet=sheet, heading_path=list(path)))
            if rows:
                locator = Locator(sheet=sheet, heading_path=list(path))
                yield Block("table", render_table(rows), rows=rows, name=caption, locator=locator)
