"""HTML: main content only (no scripts, navigation, headers, footers, forms), with structure.

The tree is walked with an explicit stack, never recursion, so pathologically nested pages
(thousands of nested ``<div>``) cannot hit Python's recursion limit.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from ..types import Block, BlockKind, Locator, ParsedDocument
from .base import HeadingTracker, clean_inline, normalize_rows, one_line, render_table

_DROP = frozenset(
    {
        "script",
        "style",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "noscript",
        "template",
        "svg",
        "iframe",
        "button",
        "select",
        "textarea",
        "canvas",
        "map",
        "object",
        "head",
    }
)
_BLOCK = frozenset(
    {
        "address",
        "article",
        "blockquote",
        "body",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "hr",
        "li",
        "main",
        "section",
        "summary",
        "td",
        "th",
        "tr",
        "caption",
        "center",
    }
)
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_MAX_SPAN = 1000  # a hostile colspan/rowspan must not allocate millions of cells
_FLUSH = object()
_SPACES = re.compile(r"\s+")


def _span(cell: Tag, attr: str) -> int:
    try:
        value = int(str(cell.get(attr) or "1").strip())
    except ValueError:
        return 1
    return max(1, min(value, _MAX_SPAN))


def _own(el: Tag, container: Tag, kinds: tuple[str, ...]) -> bool:
    """True when the nearest ancestor of ``el`` among ``kinds`` is ``container`` (skips nested ones)."""
    parent = el.parent
    while parent is not None and parent is not container:
        if parent.name in kinds:
            return False
        parent = parent.parent
    return parent is container


def table_rows(table: Tag) -> list[list[str]]:
    """The table as a grid: colspan/rowspan cells repeat their text in every slot they cover."""
    grid: list[list[str]] = []
    pending: dict[tuple[int, int], str] = {}  # (row, col) -> text carried down by a rowspan
    trs = [tr for tr in table.find_all("tr") if _own(tr, table, ("table",))]
    for r, tr in enumerate(trs):
        row: list[str] = []
        col = 0
        for cell in tr.find_all(["td", "th"], recursive=False):
            while (r, col) in pending:
                row.append(pending.pop((r, col)))
                col += 1
            text = one_line(cell.get_text(" ", strip=True))
            colspan, rowspan = _span(cell, "colspan"), _span(cell, "rowspan")
            for c in range(colspan):
                row.append(text)
                for extra in range(1, min(rowspan, len(trs) - r)):
                    pending[(r + extra, col + c)] = text
            col += colspan
        while (r, col) in pending:
            row.append(pending.pop((r, col)))
            col += 1
        grid.append(row)
    return normalize_rows(grid)


def list_text(lst: Tag) -> str:
    """A ``<ul>``/``<ol>`` as indented ``-`` / ``1.`` lines, nested lists included."""
    lines: list[str] = []
    counters: dict[int, int] = {}
    for li in lst.find_all("li"):
        depth = 0
        parent = li.parent
        while parent is not None and parent is not lst:
            if parent.name in ("ul", "ol"):
                depth += 1
            parent = parent.parent
        if parent is None:
            continue
        owner = li.find_parent(["ul", "ol"])
        parts = [
            child.get_text(" ", strip=True) if isinstance(child, Tag) else str(child)
            for child in li.children
            if not (isinstance(child, Tag) and child.name in ("ul", "ol")) and not isinstance(child, Comment)
        ]
        text = one_line(" ".join(parts))
        if not text:
            continue
        if owner is not None and owner.name == "ol":
            counters[id(owner)] = counters.get(id(owner), 0) + 1
            marker = f"{counters[id(owner)]}."
        else:
            marker = "-"
        lines.append(f"{'  ' * depth}{marker} {text}")
    return "\n".join(lines)


class _Walker:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings = HeadingTracker()
        self.buffer: list[str] = []

    def add(self, kind: BlockKind, text: str, rows: list[list[str]] | None = None) -> None:
        self.blocks.append(Block(kind, text, locator=Locator(heading_path=self.headings.path), rows=rows))

    def flush(self) -> None:
        text = clean_inline("".join(self.buffer))
        self.buffer.clear()
        if text:
            self.add("paragraph", text)

    def walk(self, root: Tag) -> list[Block]:
        stack: list[object] = [root]
        while stack:
            node = stack.pop()
            if node is _FLUSH:
                self.flush()
            elif isinstance(node, Comment):
                continue
            elif isinstance(node, NavigableString):
                if type(node) is NavigableString:  # not CData/Doctype/processing instructions
                    self.buffer.append(_SPACES.sub(" ", str(node)))
            elif isinstance(node, Tag):
                self.element(node, stack)
        self.flush()
        return self.blocks

    def element(self, el: Tag, stack: list[object]) -> None:
        name = el.name
        if name in _DROP or el.has_attr("hidden"):
            return
        if name == "br":
            self.buffer.append("\n")
        elif name in _HEADINGS:
            self.flush()
            text = one_line(el.get_text(" ", strip=True))
            if text:
                level = _HEADINGS[name]
                path = self.headings.push(level, text)
                self.blocks.append(Block("heading", text, level=level, locator=Locator(heading_path=path)))
        elif name == "p":
            self.flush()
            self.add("paragraph", one_line(el.get_text(" ")))
        elif name in ("ul", "ol"):
            self.flush()
            self.add("list", list_text(el))
        elif name == "table":
            self.flush()
            rows = table_rows(el)
            if rows:
                self.add("table", render_table(rows), rows=rows)
        elif name == "pre":
            self.flush()
            self.add("code", el.get_text().strip("\n"))
        else:
            block = name in _BLOCK
            if block:
                self.flush()
                stack.append(_FLUSH)
            stack.extend(reversed(list(el.children)))


def _content_root(soup: BeautifulSoup) -> Tag:
    for name in ("main", "article"):
        found = soup.find(name)
        if isinstance(found, Tag):
            return found
    body = soup.find("body")
    return body if isinstance(body, Tag) else soup


def html_blocks(markup: bytes | str) -> tuple[str, list[Block]]:
    """``(title, blocks)`` of an HTML document (bytes: the charset is taken from the markup).

    Shared by the HTML parser and by e-mail bodies that only come as HTML.
    """
    soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("title")
    title = one_line(title_tag.get_text()) if isinstance(title_tag, Tag) else ""
    return title, _Walker().walk(_content_root(soup))


class HtmlParser:
    """Reads ``.html`` files: ``<title>`` is the title, ``<main>``/``<article>`` preferred."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path`` into heading/paragraph/list/table/code blocks."""
        title, blocks = html_blocks(path.read_bytes())
        return ParsedDocument.from_blocks(blocks, title=title, metadata={})
