"""Markdown tables inside chunk text: rows, cells, column names, and what to show of them.

Parsers render every table as Markdown (an optional title line, a header row, a ``| --- |``
separator, data rows) and chunks repeat that head. Answering reads a row out with its column names
(``column_names``), the scorer treats a row as one sentence, and ``table_snippet`` shows the rows a query
names. Column names come from the header row, and from a second header row under it when the first
spans several columns (``Class1 | Class1`` over ``A | B``; "质押或冻结情况" over "股份状态 | 数量").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .text import Analyzer

#: A row with more "column: value" pairs than this is read out narrowed to the asked columns.
WIDE_ROW = 8
#: A column is read down a table of at most this many rows (more: a list, not an answer).
COLUMN_ROWS = 12
#: A text line longer than this above a table is a paragraph, not the table's title.
_LONG_TITLE = 200
#: A Markdown table row: a whole line between pipes.
TABLE_ROW_RE = re.compile(r"^\|.*\|[ \t]*$", re.MULTILINE)
#: The characters of a separator row (one class, no nested repeats: linear on any input).
_SEPARATOR_CHARS_RE = re.compile(r"\|[ \t:|-]*")
_SEPARATOR_LINE_RE = re.compile(r"^\|[ \t:|-]*$", re.MULTILINE)


def is_separator(line: str) -> bool:
    """Is ``line`` a Markdown table's separator row (``| --- | :-: |``)?"""
    line = line.strip()
    return "-" in line and bool(_SEPARATOR_CHARS_RE.fullmatch(line))


def is_delimiter_row(line: str) -> bool:
    """A GFM table's delimiter row as people write it (``| --- | :-: |``, outer pipes optional).
    Checked cell by cell rather than with one pattern, whose nested repeats backtracked
    quadratically on long lines."""
    s = line.strip()
    if "-" not in s or not _DELIM_CHARS_RE.fullmatch(s):
        return False
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") else s
    return all(_DELIM_CELL_RE.fullmatch(cell.strip()) for cell in s.split("|"))


_DELIM_CHARS_RE = re.compile(r"[ \t|:-]+")
_DELIM_CELL_RE = re.compile(r":?-+:?")


def has_separator(text: str) -> bool:
    """Does ``text`` hold a separator row on a line of its own (and so, possibly, a table)?"""
    return any("-" in m.group() for m in _SEPARATOR_LINE_RE.finditer(text))


#: A table cell that is a number (amount, share, year) when it also holds a digit: what data rows
#: hold and header rows do not. One character class, no nested repeats: linear on any input.
NUMBER_CELL_RE = re.compile(r"[-+(（]?[\d.,，%％ ]+[)）]?")


def is_table_row(text: str, start: int) -> bool:
    """Is the line starting at ``start`` a row of a Markdown table: a whole line between pipes, with
    a separator under its table's header (a stray "|-style=..." left in prose is no row)."""
    if not text.startswith("|", start) or (start and text[start - 1] != "\n"):
        return False
    line = _line_at(text, start).rstrip()
    if len(line) < 2 or not line.endswith("|"):
        return False
    if table_header(text, start):
        return True
    after = start + len(_line_at(text, start)) + 1  # a header row: the separator is right below it
    return after < len(text) and bool(is_separator(_line_at(text, after)))


def table_cells(row: str) -> list[str]:
    """The cells of a Markdown table row (``| a | b |``), stripped, escaped pipes restored."""
    inner = row.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def are_column_names(cells: list[str]) -> bool:
    """Do these header cells name columns? Two or more texts, none of them an amount (a year such as
    "2023" is a name: "Item | 2022 | 2023"). A table cut from the middle of a statement has a line
    item as its first row ("永续债 | | ", "报告期末普通股股东总数 | 79,053 | …"): data, not names."""
    names = [c for c in cells if c]
    return len(names) >= 2 and not any(is_amount(c) for c in names)


def is_amount(cell: str) -> bool:
    """A number that is data (``79,053``, ``-2.5%``, ``0``), not a year used as a column name."""
    return bool(NUMBER_CELL_RE.fullmatch(cell)) and any(ch.isdigit() for ch in cell) and not _YEAR_RE.fullmatch(cell)


_YEAR_RE = re.compile(r"(?:19|20)\d\d")


def _separator_above(text: str, row_start: int) -> int | None:
    """Where the separator row of the table a row starting at ``row_start`` belongs to starts: the
    nearest separator above it with only table rows in between (None if there is none)."""
    end = row_start - 1  # the line break ending the line above
    while end >= 0:  # up the lines above the row, nearest first: only the table's own, not the document's
        offset = text.rfind("\n", 0, end) + 1
        stripped = text[offset:end].strip()
        if not stripped.startswith("|"):
            return None
        if is_separator(stripped):
            return offset
        end = offset - 1
    return None


def _header_line(text: str, separator: int) -> str:
    """The header row above the separator starting at ``separator`` ("" when there is none)."""
    if separator <= 0:
        return ""
    line = text[text.rfind("\n", 0, separator - 1) + 1 : separator - 1].strip()
    return line if line.startswith("|") else ""


def table_header(text: str, row_start: int) -> str:
    """The header row of the Markdown table a row starting at ``row_start`` belongs to ("" if none,
    or if that row is the header itself)."""
    separator = _separator_above(text, row_start)
    return "" if separator is None else _header_line(text, separator)


def table_title(text: str, row_start: int) -> str:
    """The title line of the Markdown table a row starting at ``row_start`` belongs to: the text line
    just above its header row, blank lines skipped ("" if there is none). Parsers put a table's
    caption or title row there, and chunks repeat it with the header."""
    separator = _separator_above(text, row_start)
    if separator is None or not _header_line(text, separator):
        return ""
    header_start = text.rfind("\n", 0, separator - 1) + 1
    above = text[:header_start].rstrip()
    line = above[above.rfind("\n") + 1 :].strip()
    return "" if not line or line.startswith("|") or len(line) > _LONG_TITLE or is_statement(line) else line


def is_statement(line: str) -> bool:
    """A line that ends as a sentence does ("... within 24 hours."): prose, never a table's title,
    even right above the table (a DOCX footnote paragraph sits there)."""
    return _STATEMENT_END_RE.search(line) is not None


_STATEMENT_END_RE = re.compile(r"[.。!！?？][\"'”’）)]*$")


def carried_header(text: str, rows: list[list[str]]) -> list[list[str]]:
    """The header rows (one, or two for a two-level header) a table block's Markdown shows above its
    printed ``rows`` when they lack one: a table continued from the page before repeats the header
    of the table it continues. Empty when the Markdown shows just the printed rows."""
    lines = [line for line in text.split("\n") if line.startswith("|")]
    extra = len(lines) - 1 - len(rows)  # header rows shown beyond the printed ones (the separator is none)
    if not rows or extra not in (1, 2):
        return []
    return [table_cells(lines[0])] + ([table_cells(lines[2])] if extra == 2 else [])


def header_rows(rows: list[list[str]]) -> tuple[list[str], int] | None:
    """The column names of a table given as rows, and how many of its first rows hold them (1, or 2
    for a two-level header); None when its first row is data rather than names, or a form's labels
    and values."""
    if not rows or not are_column_names(rows[0]):
        return None
    header = rows[0]
    sub = rows[1] if len(rows) > 1 else []
    names, n = (_two_level(header, sub), 2) if _is_second_header(header, sub) else (header, 1)
    return (names, n) if _mostly_distinct(names) else None


def column_names(text: str, row_start: int) -> list[str]:
    """The column names of the Markdown table a row starting at ``row_start`` belongs to; empty when
    the row is a header row itself, or when the first row is data rather than names."""
    head = _head(text, row_start)
    if head is None:
        return []
    names, sub_start = head
    return [] if sub_start == row_start else names


def is_header_row(text: str, row_start: int) -> bool:
    """Is the row starting at ``row_start`` a header row (the first row holding names, or the second
    row of a two-level header)? Such a row names columns and answers nothing."""
    head = _head(text, row_start)
    if head is not None:
        return head[1] == row_start
    cells = table_cells(_line_at(text, row_start))
    return not table_header(text, row_start) and are_column_names(cells) and _mostly_distinct(cells)


def _line_at(text: str, start: int) -> str:
    end = text.find("\n", start)
    return text[start : end if end >= 0 else len(text)]


def _head(text: str, row_start: int) -> tuple[list[str], int] | None:
    """``(column names, start of the second header row or -1)`` for the table of a data row."""
    separator = _separator_above(text, row_start)
    header_line = "" if separator is None else _header_line(text, separator)
    if separator is None or not header_line:
        return None
    first = separator + len(_line_at(text, separator)) + 1  # the first row below the separator
    sub = table_cells(_line_at(text, first)) if first < len(text) else []
    head = header_rows([table_cells(header_line), sub])
    if head is None:
        return None
    names, n = head
    return names, (first if n == 2 else -1)


def _mostly_distinct(names: list[str]) -> bool:
    """Are the names more than runs of merged cells? A form laid out as a grid ("姓名 | MinerU |
    MinerU | 曾用名 | 曾用名 | … | 性别 | 性别") repeats its merged cells across the first row: it has
    labels and values, not column names. Names that recur apart ("Handgun" under each group of the
    NICS table) are fine."""
    given = [n for n in names if n]
    repeats = sum(1 for a, b in itertools.pairwise(given) if a == b)
    return repeats <= 0.5 * len(given)


def _is_second_header(header: list[str], sub: list[str]) -> bool:
    """Is ``sub``, the row under the header, the lower level of a two-level header? The header spans
    (a cell repeated from its left neighbour, or left empty by a merge) and ``sub`` names what it
    spans: no numbers, nothing in the first (row label) column, and a name under a spanning cell."""
    if len(sub) != len(header) or not sub or (sub[0] and sub[0] != header[0]):
        return False
    if any(is_amount(c) for c in sub if c):
        return False
    spans = [i > 0 and (not header[i] or header[i] == header[i - 1]) for i in range(len(header))]
    return any(span and sub[i] for i, span in enumerate(spans)) or any(
        sub[i] and i + 1 < len(spans) and spans[i + 1] for i in range(len(sub))
    )


def _two_level(header: list[str], sub: list[str]) -> list[str]:
    """Names of a two-level header: "upper/lower" where both exist (the upper carried right over
    cells a merge left empty), the one that exists otherwise. An upper name with nothing under it
    spans the two rows, not the columns to its right ("State / Territory" beside unlabelled
    sub-columns): it is not carried."""
    names: list[str] = []
    upper = ""
    for top, low in zip(header, sub, strict=True):
        if top:
            upper = top if low else ""
        elif not low:
            upper = ""
        if top and not low:
            names.append(top)
        elif low and upper and low != upper:
            names.append(f"{upper}/{low}")
        else:
            names.append(low or upper)
    return names


def read_row(
    text: str, start: int, language: str, asked: Callable[[str], int] | None = None, count: bool = False
) -> str:
    """The table row starting at ``start`` as "column: value" pairs ("Permit: 18,870; Handgun:
    23,022"; Chinese "：" and "；"); empty cells and repeats of a merged cell are left out, a cell
    under no column name stands alone.

    A wide row (more than ``WIDE_ROW`` pairs) is narrowed to what the question asks: its first pair
    (the row's label) and the pairs for which ``asked`` (of the column name and value: how many of
    the question's words they hold) is highest, when any is above zero. Twenty-five "column: value"
    pairs bury the one that was asked for; "pre-pawn long gun" picks "Pre-Pawn/Long Gun" over every
    other "Long Gun". A question asking how many (``count``) that names no column is answered by the
    row's total column when it has one ("How many background checks were there in Texas?": "Totals:
    146,982", not twenty-three pairs); a question naming no column otherwise gets the whole row."""
    names = column_names(text, start)
    colon, separator = ("：", "；") if language == "zh" else (": ", "; ")
    pairs: list[tuple[str, str]] = []
    for i, cell in enumerate(table_cells(_line_at(text, start))):
        if cell:
            name = names[i] if i < len(names) else ""
            pair = (name if name != cell else "", cell)
            if not pairs or pair != pairs[-1]:  # a merged cell repeats its text in every column it spans
                pairs.append(pair)
    if asked is not None and len(pairs) > WIDE_ROW:
        scores = [asked(f"{name} {cell}") for name, cell in pairs[1:]]
        top = max(scores)
        if top > 0:
            pairs = [pairs[0]] + [pair for pair, score in zip(pairs[1:], scores, strict=True) if score == top]
        elif count and (totals := [pair for pair in pairs[1:] if _TOTAL_RE.fullmatch(pair[0])]):
            pairs = [pairs[0], *totals]
    return separator.join(f"{name}{colon}{cell}" if name else cell for name, cell in pairs)


#: A column of totals: "Total", "Totals", "Grand total", 合计, 总计, 总数, 共计.
_TOTAL_RE = re.compile(r"\W*(?:grand\s+)?totals?\W*|(?:合计|总计|总数|共计)(?:\W.*)?", re.IGNORECASE)


def read_column(text: str, start: int, language: str, asked: Callable[[str], int]) -> str | None:
    """The column(s) a question names, read down the rows of the table that the row at ``start``
    belongs to: "餐补（元/天）：一线城市 150；二线城市 120；其他城市 100". For a question that names a
    column and no row ("出差的餐补是多少？"), where any one row would be a guess. None when no column
    name holds the question's words, or the table has more than ``COLUMN_ROWS`` rows here."""
    names = column_names(text, start)
    scores = [asked(name) for name in names[1:]]
    top = max(scores, default=0)
    separator = _separator_above(text, start)
    if top == 0 or separator is None:
        return None
    columns = [i + 1 for i, score in enumerate(scores) if score == top]
    rows: list[list[str]] = []
    for line in text[separator:].split("\n")[1:]:
        if not TABLE_ROW_RE.fullmatch(line.strip()):
            break
        rows.append(table_cells(line))
    head = header_rows([table_cells(_header_line(text, separator)), *rows[:1]])
    rows = rows[1:] if head is not None and head[1] == 2 else rows  # a two-level header's lower row
    if not rows or len(rows) > COLUMN_ROWS:
        return None
    colon, separator_text = ("：", "；") if language == "zh" else (": ", "; ")
    pairs = []
    for cells in rows:
        values = [cells[c] for c in columns if c < len(cells) and cells[c]]
        if values:
            pairs.append(" ".join([cells[0], " / ".join(values)]) if cells[0] else " / ".join(values))
    asked_names = " / ".join(names[c] for c in columns)
    return f"{asked_names}{colon}{separator_text.join(pairs)}" if pairs else None


def readable(text: str) -> str:
    """A chunk's text for display: table separator rows dropped and runs of empty cells collapsed,
    so a wide table's snippet shows its words rather than pipes."""
    if not text.startswith("|") and "\n|" not in text:
        return text
    lines = [line for line in text.split("\n") if not is_separator(line)]
    return "\n".join(_EMPTY_CELLS_RE.sub("|", line) for line in lines)


def table_snippet(text: str, wanted: set[str], analyzer: Analyzer, rows: int = 3) -> str | None:
    """What to show of a table chunk for a query's terms ``wanted``: what precedes its separator
    (title, header), then the (first ``rows``) data rows sharing the most of those terms, "…"
    marking rows left out. None for a chunk without a table, or when no row shares a term. Every
    chunk of a long table starts with the same head, so the head alone would make all its hits look
    alike. A header row longer than ``_LONG_HEADER`` characters is left out: it would fill the
    snippet."""
    lines = [line for line in text.split("\n") if line.strip()]
    sep = next((i for i, line in enumerate(lines) if is_separator(line)), None)
    if sep is None:
        return None
    data = [line for line in lines[sep + 1 :] if line.startswith("|")]
    shown = lines[:sep]
    if data and is_header_row("\n".join(lines[: sep + 2]), len("\n".join(lines[: sep + 1])) + 1):
        shown.append(data.pop(0))  # the second row of a two-level header is head, not data
    shared = [len(wanted & set(analyzer.terms(line))) for line in data]
    top = max(shared, default=0)
    if top == 0:
        return None
    best = [i for i in range(len(data)) if shared[i] == top][:rows]
    shown = [line for line in shown if not line.startswith("|") or len(readable(line)) <= _LONG_HEADER]
    previous = -1
    for i in best:
        if i > previous + 1:
            shown.append("…")
        shown.append(data[i])
        previous = i
    if previous < len(data) - 1:
        shown.append("…")
    return readable("\n".join(shown))


_LONG_HEADER = 120
_EMPTY_CELLS_RE = re.compile(r"\|(?:[ \t]*\|)+")
