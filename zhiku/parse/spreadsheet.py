"""Spreadsheets: XLSX/XLSM via openpyxl (every sheet, cached formula values), CSV and TSV via ``csv``.

A sheet is split into *table regions*: groups of non-empty cells connected side by side or top to
bottom (merged cells count as filled over their whole area), so two tables separated by an empty
row or column become two tables, as a reader would see them. The first row of a region is its
header. A merged cell's value is repeated in every slot it covers, so each row stands alone.

Each table block carries ``locator.sheet`` and ``locator.cell_range`` (``"A1:D20"``) and is named
after its sheet (``"Sheet1"``, or ``"Sheet1 · region 2"`` when a sheet holds several tables). Long
tables are cut into blocks of at most ``MAX_TABLE_ROWS`` data rows, each repeating the header row,
so no block is unbounded and every part reads as a table on its own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import posixpath
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ParseError
from ..types import Block, Locator, ParsedDocument
from .base import decode_text, one_line, render_table

#: Data rows per table block; longer tables become several blocks, each with the header row.
MAX_TABLE_ROWS = 200
# A sheet larger than this many non-empty cells is refused rather than exhausting memory.
MAX_CELLS = 5_000_000
_CSV_SAMPLE = 64 * 1024
_CSV_DELIMITERS = ",;\t|"
_PERCENT_DECIMALS = re.compile(r"0\.(0+)%")


def column_letter(index: int) -> str:
    """1 -> ``A``, 27 -> ``AA`` (spreadsheet column names)."""
    letters = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_range(top: int, left: int, bottom: int, right: int) -> str:
    """``A1:D20``-style reference of a rectangle (1-based, inclusive)."""
    return f"{column_letter(left)}{top}:{column_letter(right)}{bottom}"


def _parse_ref(ref: str) -> tuple[int, int, int, int] | None:
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


def regions(cells: dict[tuple[int, int], str]) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (top, left, bottom, right) of groups of cells connected up/down/left/right,
    in reading order (top to bottom, then left to right)."""
    seen: set[tuple[int, int]] = set()
    boxes: list[tuple[int, int, int, int]] = []
    for start in sorted(cells):
        if start in seen:
            continue
        seen.add(start)
        stack = [start]
        top, left, bottom, right = start[0], start[1], start[0], start[1]
        while stack:  # iterative flood fill: a huge table cannot hit the recursion limit
            r, c = stack.pop()
            top, left, bottom, right = min(top, r), min(left, c), max(bottom, r), max(right, c)
            for nxt in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                if nxt in cells and nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        boxes.append((top, left, bottom, right))
    return sorted(boxes)


def table_blocks(
    rows: list[list[str]], *, sheet: str, name: str, top: int, left: int, heading_path: list[str]
) -> Iterator[Block]:
    """One region's rows as table blocks of at most ``MAX_TABLE_ROWS`` data rows each.

    ``top``/``left`` are the region's first row and column (1-based) for the cell ranges; a one-cell
    region (a title or a note beside a table) is a paragraph, not a table.
    """
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        return
    right = left + width - 1
    if len(rows) == 1 and width == 1:
        loc = Locator(sheet=sheet, cell_range=cell_range(top, left, top, left), heading_path=list(heading_path))
        yield Block("paragraph", rows[0][0], locator=loc)
        return
    header, body = rows[0], rows[1:]
    for start in range(0, max(len(body), 1), MAX_TABLE_ROWS):
        part = body[start : start + MAX_TABLE_ROWS]
        # The first part's range includes the header row; later parts cover their own data rows.
        first_row = top if start == 0 else top + 1 + start
        last_row = top + start + len(part)
        loc = Locator(
            sheet=sheet,
            cell_range=cell_range(first_row, left, last_row, right),
            heading_path=list(heading_path),
        )
        table = [header, *part]
        yield Block("table", render_table(table), locator=loc, rows=table, name=name)


def _grid(cells: dict[tuple[int, int], str], box: tuple[int, int, int, int]) -> list[list[str]]:
    top, left, bottom, right = box
    return [[cells.get((r, c), "") for c in range(left, right + 1)] for r in range(top, bottom + 1)]


def sheet_blocks(cells: dict[tuple[int, int], str], *, sheet: str, label: str) -> list[Block]:
    """A sheet heading followed by one block group per table region."""
    path = [label]
    blocks = [Block("heading", label, level=1, locator=Locator(sheet=sheet, heading_path=path))]
    boxes = regions(cells)
    for n, box in enumerate(boxes, start=1):
        rows = [[one_line(c) for c in row] for row in _grid(cells, box)]
        name = label if len(boxes) == 1 else f"{label} · region {n}"
        blocks.extend(table_blocks(rows, sheet=sheet, name=name, top=box[0], left=box[1], heading_path=path))
    return blocks


# --- XLSX / XLSM -----------------------------------------------------------------------------------


def _merged_ranges(workbook: Any, worksheet: Any) -> list[tuple[int, int, int, int]]:
    """Merged ranges of a read-only worksheet, read from its XML (openpyxl's read-only mode skips
    them). Only ``<mergeCell ref=...>`` elements are kept while streaming through the part."""
    from lxml import etree

    part = getattr(worksheet, "_worksheet_path", None)
    archive = getattr(workbook, "_archive", None)
    if not part or archive is None:
        return []
    merges = []
    with archive.open(part) as fh:
        for _, el in etree.iterparse(fh, events=("end",), tag="{*}mergeCell", resolve_entities=False, no_network=True):
            box = _parse_ref(el.get("ref", ""))
            if box:
                merges.append(box)
            el.clear()
    return merges


def _sheet_cells(workbook: Any, worksheet: Any, name: str) -> dict[tuple[int, int], str]:
    """Non-empty cells of a sheet as text, merged areas filled with their value."""
    worksheet.reset_dimensions()  # trust the cells, not a stale <dimension> tag
    cells: dict[tuple[int, int], str] = {}
    for row in worksheet.iter_rows():
        for cell in row:
            value = cell.value
            if value is None:
                continue
            text = format_value(value, getattr(cell, "number_format", "General"))
            if text.strip():
                cells[(cell.row, cell.column)] = text
        if len(cells) > MAX_CELLS:
            raise ParseError(f"sheet {name!r} has more than {MAX_CELLS:,} filled cells; split the workbook")
    for top, left, bottom, right in _merged_ranges(workbook, worksheet):
        value = cells.get((top, left), "")
        if not value or (bottom - top + 1) * (right - left + 1) > 10_000:
            continue  # an empty merge stays empty; a sheet-sized merge is formatting, not data
        for r in range(top, bottom + 1):
            for c in range(left, right + 1):
                cells[(r, c)] = value
    return cells


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


class XlsxParser:
    """Reads ``.xlsx``/``.xlsm`` workbooks: every sheet (hidden ones marked), formulas as their cached
    values. The title is the workbook's title property, else the file name."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse every sheet of ``path`` into a heading and its table regions."""
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(str(path), read_only=True, data_only=True, keep_links=False)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ParseError(
                f"{path.name}: corrupt XLSX: not a readable zip package (truncated or damaged file)"
            ) from exc
        except KeyError as exc:
            raise ParseError(f"{path.name}: corrupt XLSX: missing part {exc}") from exc
        try:
            blocks: list[Block] = []
            sheets: list[str] = []
            for worksheet in workbook.worksheets:
                name = worksheet.title
                if not hasattr(worksheet, "iter_rows"):
                    continue  # chartsheets hold no cells
                hidden = getattr(worksheet, "sheet_state", "visible") != "visible"
                label = f"{name} (hidden)" if hidden else name
                sheets.append(label)
                cells = _sheet_cells(workbook, worksheet, name)
                sheet_part = getattr(worksheet, "_worksheet_path", "")
                charts = list(chart_blocks(workbook._archive, sheet_part, sheet=name, path=[label]))
                if cells or charts:
                    blocks.extend(sheet_blocks(cells, sheet=name, label=label))
                    blocks.extend(charts)
            title = one_line(workbook.properties.title or "") if workbook.properties else ""
        finally:
            workbook.close()
        return ParsedDocument.from_blocks(blocks, title=title or path.stem, metadata={"sheets": sheets})


# --- CSV / TSV -------------------------------------------------------------------------------------


def _consistency(sample: str, delimiter: str) -> tuple[float, int]:
    """How well ``delimiter`` splits the sample: (share of rows with the usual width, that width)."""
    try:
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
    except csv.Error:
        return 0.0, 0
    rows = rows[:-1] if len(rows) > 1 else rows  # the sample may cut the last row short
    if not rows:
        return 0.0, 0
    width, count = Counter(len(r) for r in rows).most_common(1)[0]
    return (count / len(rows) if width > 1 else 0.0), width


def sniff_dialect(sample: str, default: str) -> tuple[str, str]:
    """(delimiter, quotechar). Each candidate delimiter is scored by the share of sample rows it
    splits into the usual number of columns; ties go to the format's default, then to what
    ``csv.Sniffer`` guessed (the sniffer alone is easily fooled by commas inside text), then to the
    wider split. ``default`` when nothing splits at all."""
    sniffed, quote = "", '"'
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=_CSV_DELIMITERS)
        sniffed, quote = dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        pass
    scores = {d: _consistency(sample, d) for d in _CSV_DELIMITERS}
    best = max(_CSV_DELIMITERS, key=lambda d: (scores[d][0], d == default, d == sniffed, scores[d][1]))
    return (best if scores[best][0] > 0 else default), quote


class CsvParser:
    """Reads delimiter-separated text as one table (first row = header), in any common encoding.

    The locator's sheet is the file's stem (the name a spreadsheet app gives the sheet when it opens
    the file) and cell ranges use spreadsheet addresses (``A2:D201``), so a reader can find the rows.
    """

    default_delimiter = ","
    label = "CSV"

    def parse(self, path: Path) -> ParsedDocument:
        """Decode, sniff the dialect and split ``path`` into bounded table blocks."""
        text, encoding = decode_text(path.read_bytes())
        text = text.lstrip("\ufeff")
        delimiter, quote = sniff_dialect(text[:_CSV_SAMPLE], self.default_delimiter)
        try:
            raw = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote))
        except csv.Error as exc:
            raise ParseError(f"{path.name}: malformed {self.label}: {exc}") from exc
        # Rows keep their positions (blank ones included) so cell ranges match the file's line
        # numbers as a spreadsheet app shows them; only trailing blank rows go.
        rows = [[one_line(c) for c in row] for row in raw]
        while rows and not any(rows[-1]):
            rows.pop()
        width = max((len(r) for r in rows), default=0)
        rows = [r + [""] * (width - len(r)) for r in rows]
        sheet = path.stem
        blocks = list(table_blocks(rows, sheet=sheet, name=sheet, top=1, left=1, heading_path=[]))
        metadata = {"encoding": encoding, "delimiter": delimiter, "rows": len(rows)}
        return ParsedDocument.from_blocks(blocks, title=path.stem, metadata=metadata)


class TsvParser(CsvParser):
    """Tab-separated values: a CSV whose default delimiter is the tab."""

    default_delimiter = "\t"
    label = "TSV"
