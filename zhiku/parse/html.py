"""HTML: main content only (no scripts, navigation, headers, footers, forms), with structure.

The tree is walked with an explicit stack, never recursion, so pathologically nested pages
(thousands of nested ``<div>``) cannot hit Python's recursion limit.
"""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from ..types import Block, BlockKind, Locator, ParsedDocument
from .base import HeadingTracker, clean_inline, normalize_rows, one_line, split_table, table_text

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
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary", "menu", "menubar"})
# Class or id names of site chrome: navigation boxes, sidebars, "jump to" and "[edit]" links, cookie
# banners, share buttons, breadcrumbs, tables of contents, print-only or screen-reader-only bits.
_BOILERPLATE = re.compile(
    r"^(?:navbox\w*|vertical-navbox|sidebar\w*|mw-jump-link|mw-editsection\w*|noprint|catlinks|printfooter|"
    r"mw-navigation|navbar|breadcrumbs?|cookie[-\w]*|share[-\w]*|social[-\w]*|skip-link|sr-only|"
    r"visually-hidden|toc|vector-(?:toc|main-menu|page-toolbar|page-tools|sticky-header|header|column-start|"
    r"pinnable-header|user-links|dropdown)(?:-container|-landmark|-pinned)?|site-(?:header|footer|nav)|"
    r"mw-indicators|metadata|ambox\w*)$",
    re.IGNORECASE,
)
_NEVER_BOILERPLATE = frozenset({"html", "body", "main", "article"})
_MAIN_SELECTORS = ("main", "[role=main]", "article", "#content", "#main-content", "#main", ".main-content")
_MAX_SPAN = 1000  # a hostile colspan/rowspan must not allocate millions of cells
_FLUSH = object()
_SPACES = re.compile(r"\s+")


_BREAKS = frozenset({"br", "p", "li", "ul", "ol", "table", "tr", "td", "th", "dt", "dd", "div", "section"}) | frozenset(
    f"h{i}" for i in range(1, 7)
)


def inline_text(el: Tag) -> str:
    """An element's text on one line: inline markup joins without spaces ("<b>water</b>fowl" ->
    "waterfowl"), line breaks and block children are separated by a space. Iterative (deep trees)."""
    parts: list[str] = []
    stack: list[object] = [el]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if type(node) is NavigableString or node == " ":
                parts.append(str(node))
        elif isinstance(node, Tag) and node.name not in _DROP:
            if node.name in _BREAKS:
                parts.append(" ")
                stack.append(" ")
            stack.extend(reversed(list(node.children)))
    return one_line("".join(parts))


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
            text = inline_text(cell)
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
            inline_text(child) if isinstance(child, Tag) else str(child)
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

    def add(self, kind: BlockKind, text: str, rows: list[list[str]] | None = None, name: str = "") -> None:
        self.blocks.append(Block(kind, text, locator=Locator(heading_path=self.headings.path), rows=rows, name=name))

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
            text = inline_text(el)
            if text:
                level = _HEADINGS[name]
                path = self.headings.push(level, text)
                self.blocks.append(Block("heading", text, level=level, locator=Locator(heading_path=path)))
        elif name == "p":
            self.flush()
            self.add("paragraph", inline_text(el))
        elif name in ("ul", "ol"):
            self.flush()
            self.add("list", list_text(el))
        elif name == "table":
            self.flush()
            title, rows, notes = split_table(table_rows(el))
            caption = el.find("caption")
            if caption is not None and _own(caption, el, ("table",)):
                # The table's own caption names it (a title row under it stays split off as well).
                title = " ".join(filter(None, (one_line(inline_text(caption)), title)))
            if rows:
                self.add("table", table_text(rows, title), rows=rows, name=title)
            for note in notes:
                self.add("paragraph", note)
        elif name == "pre":
            self.flush()
            self.add("code", el.get_text().strip("\n"))
        else:
            block = name in _BLOCK
            if block:
                self.flush()
                stack.append(_FLUSH)
            stack.extend(reversed(list(el.children)))


def _is_boilerplate(el: Tag) -> bool:
    """Navigation, site chrome and hidden parts, recognised by tag, ARIA role, or class/id."""
    if el.name in _DROP or el.has_attr("hidden"):
        return True
    if el.name in _NEVER_BOILERPLATE:
        return False  # page-wide classes on these (e.g. "vector-toc-available") describe the skin
    attrs = el.attrs or {}
    if str(attrs.get("aria-hidden", "")).lower() == "true" or str(attrs.get("role", "")).lower() in _DROP_ROLES:
        return True
    style = str(attrs.get("style", "")).replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    classes: object = attrs.get("class") or []
    class_names: list[str] = [str(c) for c in classes] if isinstance(classes, list) else str(classes).split()
    names = [*class_names, str(attrs.get("id", ""))]
    return any(_BOILERPLATE.match(name) for name in names if name)


def strip_boilerplate(soup: BeautifulSoup) -> None:
    """Remove navigation and chrome in place, before any text is taken from the tree."""
    doomed = [el for el in soup.find_all(True) if isinstance(el, Tag) and _is_boilerplate(el)]
    for el in doomed:
        if el.parent is not None:  # not already gone with an enclosing element
            el.extract()


def _content_root(soup: BeautifulSoup) -> Tag:
    """The main content element when the page marks one and it holds most of the page's text."""
    body = soup.find("body")
    page = body if isinstance(body, Tag) else soup
    total = len(page.get_text(" ", strip=True))
    for selector in _MAIN_SELECTORS:
        found = soup.select_one(selector)
        # A page of <article> teasers marks a fragment, not the content: keep looking then.
        if isinstance(found, Tag) and len(found.get_text(" ", strip=True)) >= 0.3 * total:
            return found
    return page


def html_blocks(markup: bytes | str) -> tuple[str, list[Block]]:
    """``(title, blocks)`` of an HTML document (bytes: the charset is taken from the markup).

    Shared by the HTML parser and by e-mail bodies that only come as HTML.
    """
    soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("title")
    title = one_line(title_tag.get_text()) if isinstance(title_tag, Tag) else ""
    strip_boilerplate(soup)
    return title, _Walker().walk(_content_root(soup))


class HtmlParser:
    """Reads ``.html`` files: ``<title>`` is the title, ``<main>``/``<article>`` preferred."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path`` into heading/paragraph/list/table/code blocks."""
        title, blocks = html_blocks(path.read_bytes())
        return ParsedDocument.from_blocks(blocks, title=title, metadata={})
