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
import io
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ParseError
from ..types import Block, Locator, ParsedDocument
from .base import decode_text, one_line, split_title_row, table_text
from .xlsx_parts import SheetCells, chart_blocks, read_cells

#: Data rows per table block; longer tables become several blocks, each with the header row.
MAX_TABLE_ROWS = 200
# A sheet larger than this many non-empty cells is refused rather than exhausting memory.
MAX_CELLS = 5_000_000
_CSV_SAMPLE = 64 * 1024
_CSV_DELIMITERS = ",;\t|"


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


def regions(cells: dict[tuple[int, int], str] | set[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (top, left, bottom, right) of groups of cells connected up/down/left/right,
    in reading order (top to bottom, then left to right).

    Works on horizontal runs of adjacent cells rather than on cells: runs in consecutive rows that
    share a column are joined (union-find), so a dense sheet costs about one step per row.
    """
    by_row: dict[int, list[int]] = {}
    for r, c in cells:
        by_row.setdefault(r, []).append(c)
    runs: list[tuple[int, int, int]] = []  # (row, first column, last column)
    parent: list[int] = []

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    previous: list[int] = []
    previous_row = None
    for r in sorted(by_row):
        current: list[int] = []
        cols = sorted(by_row[r])
        start = cols[0]
        for a, b in zip(cols, [*cols[1:], None], strict=True):
            if b is None or b != a + 1:
                current.append(len(runs))
                parent.append(len(runs))
                runs.append((r, start, a))
                if b is not None:
                    start = b
        if previous_row == r - 1:
            i = j = 0
            while i < len(previous) and j < len(current):
                _, p0, p1 = runs[previous[i]]
                _, c0, c1 = runs[current[j]]
                if p0 <= c1 and c0 <= p1:
                    parent[find(current[j])] = find(previous[i])
                if p1 < c1:
                    i += 1
                else:
                    j += 1
        previous, previous_row = current, r
    boxes: dict[int, list[int]] = {}
    for i, (r, c0, c1) in enumerate(runs):
        box = boxes.setdefault(find(i), [r, c0, r, c1])
        box[0], box[1], box[2], box[3] = min(box[0], r), min(box[1], c0), max(box[2], r), max(box[3], c1)
    return sorted((b[0], b[1], b[2], b[3]) for b in boxes.values())


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
    title, rows = split_title_row(rows)
    skip = 1 if title else 0  # the title row, above the header
    header, body = rows[0], rows[1:]
    for start in range(0, max(len(body), 1), MAX_TABLE_ROWS):
        part = body[start : start + MAX_TABLE_ROWS]
        # The first part's range includes the title and header rows; later parts cover their own data rows.
        first_row = top if start == 0 else top + skip + 1 + start
        last_row = top + skip + start + len(part)
        loc = Locator(
            sheet=sheet,
            cell_range=cell_range(first_row, left, last_row, right),
            heading_path=list(heading_path),
        )
        table = [header, *part]
        label = f"{name} · {title}" if title else name
        yield Block("table", table_text(table, title), locator=loc, rows=table, name=label)


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


def _sheet_cells(workbook: Any, worksheet: Any, name: str) -> SheetCells:
    """Non-empty cells of a sheet as text, merged areas filled with their value."""
    sheet = read_cells(workbook, worksheet, max_cells=MAX_CELLS)
    cells = sheet.cells
    if len(cells) > MAX_CELLS:
        raise ParseError(f"sheet {name!r} has more than {MAX_CELLS:,} filled cells; split the workbook")
    for top, left, bottom, right in sheet.merges:
        value = cells.get((top, left), "")
        if not value or (bottom - top + 1) * (right - left + 1) > 10_000:
            continue  # an empty merge stays empty; a sheet-sized merge is formatting, not data
        for r in range(top, bottom + 1):
            for c in range(left, right + 1):
                cells[(r, c)] = value
    return sheet


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
            formulas = uncached = zero = 0
            for worksheet in workbook.worksheets:
                name = worksheet.title
                if not hasattr(worksheet, "iter_rows"):
                    continue  # chartsheets hold no cells
                hidden = getattr(worksheet, "sheet_state", "visible") != "visible"
                label = f"{name} (hidden)" if hidden else name
                sheets.append(label)
                sheet = _sheet_cells(workbook, worksheet, name)
                cells = sheet.cells
                formulas, uncached, zero = formulas + sheet.formulas, uncached + sheet.uncached, zero + sheet.zero
                sheet_part = getattr(worksheet, "_worksheet_path", "")
                charts = list(chart_blocks(workbook._archive, sheet_part, sheet=name, path=[label]))
                if cells or charts:
                    blocks.extend(sheet_blocks(cells, sheet=name, label=label))
                    blocks.extend(charts)
            title = one_line(workbook.properties.title or "") if workbook.properties else ""
        finally:
            workbook.close()
        doc = ParsedDocument.from_blocks(blocks, title=title or path.stem, metadata={"sheets": sheets})
        doc.warnings += _formula_warnings(formulas, uncached, zero)
        hidden_sheets = [label.removesuffix(" (hidden)") for label in sheets if label.endswith(" (hidden)")]
        if hidden_sheets:
            # Indexed like every sheet (the issue asks for every sheet), but said: a sheet someone hid
            # (salaries, working data) becomes searchable, and whoever adds the file should know.
            doc.warnings.append(
                f"{len(hidden_sheets)} hidden sheet(s) indexed and searchable: {', '.join(hidden_sheets)}; "
                "delete them from the file and add it again if they should not be"
            )
        return doc


def _formula_warnings(formulas: int, uncached: int, zero: int) -> list[str]:
    """What to say when formula results are missing from the file. A workbook saved by Excel or
    LibreOffice stores each formula's result; one written by a program (openpyxl, xlsxwriter, pandas)
    stores none, or 0 for all, and zhiku does not calculate: those cells read as empty or 0."""
    fix = "open and save the file in Excel or LibreOffice to store their results"
    if uncached:
        return [f"{uncached} of {formulas} formula cell(s) have no saved result and read as empty; {fix}"]
    if zero == formulas >= 2:
        return [f"all {formulas} formula results saved in the file are 0 (likely never calculated); if not, {fix}"]
    return []


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
