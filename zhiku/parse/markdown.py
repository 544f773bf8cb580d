"""Markdown: ATX and setext headings, paragraphs, lists (one block each), fenced code, pipe tables.

A small line-based reader rather than a full CommonMark parser: retrieval needs the structure
(headings, tables, code), not exact rendering, and this keeps the format dependency-free.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..tabletext import is_delimiter_row
from ..types import Block, BlockKind, Locator, ParsedDocument
from .base import HeadingTracker, decode_text, join_lines, normalize_rows, one_line, render_table

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_1 = re.compile(r"^ {0,3}=+[ \t]*$")
_SETEXT_2 = re.compile(r"^ {0,3}-+[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Footnotes: "[^1]: text" defines one (read as "Footnote 1: text", as DOCX footnotes are); "[^1]" in
# running text refers to it and is left out (it was quoted raw in answers: "week 10.[^1]").
_FOOTNOTE_DEFINITION = re.compile(r"^\s*\[\^([^\]\s]+)\]:\s*")
_FOOTNOTE_REFERENCE = re.compile(r"\[\^[^\]\s]+\](?!:)")


def strip_inline(text: str) -> str:
    """Links and images become their text; bold markers and footnote references go, a footnote's
    definition reads "Footnote 1: …". Other syntax is kept as written."""
    text = _FOOTNOTE_DEFINITION.sub(r"Footnote \1: ", text)
    text = _FOOTNOTE_REFERENCE.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    return _EMPHASIS.sub(r"\2", text)


def split_row(line: str) -> list[str]:
    """Cells of one pipe-table row; ``\\|`` is a literal pipe."""
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [strip_inline(c.replace("\\|", "|").strip()) for c in cells]


def _skip_front_matter(lines: list[str]) -> int:
    """Index of the first line after YAML (``---``) or TOML (``+++``) front matter."""
    if not lines or lines[0].strip() not in ("---", "+++"):
        return 0
    fence = lines[0].strip()
    ends = (fence, "...") if fence == "---" else (fence,)
    for i in range(1, min(len(lines), 500)):
        if lines[i].strip() in ends:
            return i + 1
    return 0  # no closing fence: it was a horizontal rule, not front matter


class _Reader:
    """Turns lines into blocks; one pass, each branch consumes the lines of one construct."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = _skip_front_matter(lines)
        self.blocks: list[Block] = []
        self.headings = HeadingTracker()

    def add(self, kind: BlockKind, text: str, rows: list[list[str]] | None = None) -> None:
        self.blocks.append(Block(kind, text, locator=Locator(heading_path=self.headings.path), rows=rows))

    def heading(self, level: int, text: str) -> None:
        text = one_line(strip_inline(text))
        if text:
            self.blocks.append(
                Block(
                    "heading",
                    text,
                    level=level,
                    locator=Locator(heading_path=self.headings.push(level, text)),
                )
            )

    def run(self) -> list[Block]:
        lines = self.lines
        while self.i < len(lines):
            line = lines[self.i]
            if not line.strip():
                self.i += 1
            elif m := _FENCE.match(line):
                self.code(m.group(1))
            elif m := _ATX.match(line):
                self.heading(len(m.group(1)), m.group(2) or "")
                self.i += 1
            elif _HR.match(line):
                self.i += 1
            elif self.is_table_start():
                self.table()
            elif _LIST_ITEM.match(line):
                self.list_block()
            else:
                self.paragraph()
        return self.blocks

    def code(self, fence: str) -> None:
        body: list[str] = []
        self.i += 1
        while self.i < len(self.lines):
            line = self.lines[self.i]
            self.i += 1
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                break
            body.append(line)
        self.add("code", "\n".join(body))

    def is_table_start(self) -> bool:
        nxt = self.i + 1
        return "|" in self.lines[self.i] and nxt < len(self.lines) and is_delimiter_row(self.lines[nxt])

    def table(self) -> None:
        rows = [split_row(self.lines[self.i])]
        self.i += 2
        while self.i < len(self.lines) and "|" in self.lines[self.i] and self.lines[self.i].strip():
            rows.append(split_row(self.lines[self.i]))
            self.i += 1
        rows = normalize_rows(rows)
        if rows:
            self.add("table", render_table(rows), rows=rows)

    def list_block(self) -> None:
        items: list[str] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip():
                # A blank line continues the list only if an item or indented text follows it.
                j = self.i + 1
                if j < len(self.lines) and (_LIST_ITEM.match(self.lines[j]) or self.lines[j][:1] in (" ", "\t")):
                    self.i = j
                    continue
                break
            # An unindented non-item line continues the item lazily, unless it starts a new construct.
            starts_block = bool(_ATX.match(line) or _FENCE.match(line) or _HR.match(line))
            if items and starts_block and not _LIST_ITEM.match(line):
                break
            items.append(strip_inline(line.rstrip()))
            self.i += 1
        self.add("list", "\n".join(items))

    def paragraph(self) -> None:
        body: list[str] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if not line.strip():
                break
            if body and _SETEXT_1.match(line):
                self.heading(1, " ".join(body))
                self.i += 1
                return
            if body and _SETEXT_2.match(line):
                self.heading(2, " ".join(body))
                self.i += 1
                return
            if body and (_ATX.match(line) or _FENCE.match(line) or _HR.match(line) or self.is_table_start()):
                break
            if body and _LIST_ITEM.match(line) and not re.match(r"^\s*\d", line):
                break
            body.append(strip_inline(line.strip().lstrip(">").strip()))
            self.i += 1
        text = ""
        for line in body:
            text = join_lines(text, line)
        self.add("paragraph", text)


class MarkdownParser:
    """Reads ``.md`` files into structured blocks with heading paths."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path``; the title is the first heading, else the file stem."""
        text, encoding = decode_text(path.read_bytes())
        text = _HTML_COMMENT.sub("", text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n"))
        blocks = _Reader(text.split("\n")).run()
        title = next((b.text for b in blocks if b.kind == "heading"), "") or path.stem
        return ParsedDocument.from_blocks(blocks, title=title, metadata={"encoding": encoding})
