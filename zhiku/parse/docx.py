"""Word (.docx) via python-docx: paragraphs and tables in body order, headings, numbered and bulleted
lists with nesting, tables on their column grid, footnotes and endnotes.

- Lists: each item is prefixed as Word displays it, from ``word/numbering.xml``: ``-`` for bullets,
  the level's own pattern for numbers (``1.``, ``a)``, ``1.2.``, ``一、``), two spaces per level.
- Tables are read from the XML grid: ``gridBefore`` (rows starting late), ``gridSpan`` (horizontal
  merges) and ``vMerge`` (vertical merges) are honoured, so no column is lost or shifted; a merged
  cell's text is repeated in every slot it covers (each row reads on its own, as docling does).
- Footnotes and endnotes (python-docx does not expose them) are read from their package parts and
  placed right after the paragraph that references them, as ``Footnote N: ...``; notes referenced
  from nowhere in the body (e.g. from inside a table) follow at the end.
- Paragraph text includes tracked insertions and hyperlinks, not deleted text or field codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph
from lxml import etree

from ..types import Block, Locator, ParsedDocument
from .base import HeadingTracker, normalize_rows, one_line, split_table, table_text

# English and localised (Chinese Word writes "标题 1") heading style names; ids cover the rest.
_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = frozenset({"title", "标题"})
#: Table-of-contents entries ("toc 1", id "TOC1"; Chinese Word "目录 1") and the TOC's own heading.
_TOC_STYLE = re.compile(r"^(?:toc|目录)\s*(?:[1-9]|heading|标题)$", re.IGNORECASE)
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_CONTAINERS = frozenset({qn("w:sdt"), qn("w:sdtContent"), qn("w:customXml"), qn("w:smartTag")})
_TEXT_TAGS = (qn("w:t"), qn("w:tab"), qn("w:br"), qn("w:cr"), qn("w:noBreakHyphen"))
_MAX_LEVEL = 8
_MAX_GRID = 1000  # columns: a hostile gridSpan must not allocate millions of cells


def _val(el: Any, default: str = "") -> str:
    return el.get(qn("w:val"), default) if el is not None else default


def _int(value: str, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def paragraph_text(p: Any) -> str:
    """The displayed text of a ``<w:p>``: runs, hyperlinks, tracked insertions and field results,
    without deleted text, field codes or the fallback copy of compatibility content."""
    parts: list[str] = []
    for el in p.iter(*_TEXT_TAGS):
        if any(a.tag == _MC_FALLBACK for a in el.iterancestors()):
            continue
        if el.tag == qn("w:t"):
            parts.append(el.text or "")
        elif el.tag == qn("w:tab"):
            # <w:tab> also appears inside <w:tabs> (tab stop definitions in paragraph properties).
            if el.getparent() is not None and el.getparent().tag == qn("w:r"):
                parts.append("\t")
        elif el.tag == qn("w:noBreakHyphen"):
            parts.append("-")
        else:
            parts.append("\n")
    return "".join(parts)


# --- numbering --------------------------------------------------------------------------------------


_ROMAN = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"))
_ROMAN_SMALL = ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))
_CHINESE_DIGITS = "零一二三四五六七八九"


def _roman(n: int) -> str:
    out = ""
    for value, letters in (*_ROMAN, *_ROMAN_SMALL):
        while n >= value:
            out += letters
            n -= value
    return out


def _letters(n: int) -> str:
    # Word's letter numbering repeats the letter: a..z, aa..zz, aaa...
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1) if n > 0 else str(n)


def _chinese(n: int) -> str:
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    if not tens:
        return _CHINESE_DIGITS[ones]
    return ("" if tens == 1 else _CHINESE_DIGITS[tens]) + "十" + (_CHINESE_DIGITS[ones] if ones else "")


def format_number(n: int, fmt: str) -> str:
    """A list counter in a Word number format (``decimal``, ``lowerLetter``, ``upperRoman``, ...)."""
    formats = {
        "lowerLetter": _letters,
        "upperLetter": lambda k: _letters(k).upper(),
        "lowerRoman": _roman,
        "upperRoman": lambda k: _roman(k).upper(),
        "chineseCounting": _chinese,
        "chineseCountingThousand": _chinese,
        "ideographTraditional": lambda k: "甲乙丙丁戊己庚辛壬癸"[(k - 1) % 10],
        "decimalZero": lambda k: f"{k:02d}",
    }
    return formats.get(fmt, str)(n)


@dataclass
class _Level:
    fmt: str = "decimal"
    text: str = ""
    start: int = 1


@dataclass
class Numbering:
    """List definitions from ``word/numbering.xml`` and the running counters of each list."""

    levels: dict[str, dict[int, _Level]] = field(default_factory=dict)  # numId -> ilvl -> level
    counters: dict[str, dict[int, int]] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: DocumentObject) -> Numbering:
        numbering = cls()
        try:
            root = doc.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return numbering
        abstract: dict[str, dict[int, _Level]] = {}
        for an in root.iterchildren(qn("w:abstractNum")):
            abstract[an.get(qn("w:abstractNumId"), "")] = _levels(an)
        for num in root.iterchildren(qn("w:num")):
            num_id = num.get(qn("w:numId"), "")
            levels = dict(abstract.get(_val(num.find(qn("w:abstractNumId"))), {}))
            for override in num.iterchildren(qn("w:lvlOverride")):
                ilvl = _int(override.get(qn("w:ilvl"), "0"), 0)
                lvl = override.find(qn("w:lvl"))
                if lvl is not None:
                    levels.update(_levels(override))
                start = override.find(qn("w:startOverride"))
                if start is not None and ilvl in levels:
                    base = levels[ilvl]
                    levels[ilvl] = _Level(base.fmt, base.text, _int(_val(start), 1))
            numbering.levels[num_id] = levels
        return numbering

    def marker(self, num_id: str, ilvl: int) -> str:
        """The prefix of the next item of list ``num_id`` at level ``ilvl`` (counters advance)."""
        levels = self.levels.get(num_id, {})
        level = levels.get(ilvl, _Level())
        if level.fmt in ("bullet", "none"):
            return "-"
        counters = self.counters.setdefault(num_id, {})
        counters[ilvl] = counters.get(ilvl, level.start - 1) + 1
        for deeper in [k for k in counters if k > ilvl]:
            del counters[deeper]  # a new item restarts the numbering of the levels below it
        if not level.text:
            return f"{format_number(counters[ilvl], level.fmt)}."

        def substitute(m: re.Match[str]) -> str:
            k = int(m.group(1)) - 1
            lvl = levels.get(k, _Level())
            return format_number(counters.get(k, lvl.start), lvl.fmt)

        return re.sub(r"%([1-9])", substitute, level.text).strip() or "-"


def _levels(container: Any) -> dict[int, _Level]:
    out: dict[int, _Level] = {}
    for lvl in container.iterchildren(qn("w:lvl")):
        ilvl = _int(lvl.get(qn("w:ilvl"), "0"), 0)
        out[ilvl] = _Level(
            fmt=_val(lvl.find(qn("w:numFmt")), "decimal"),
            text=_val(lvl.find(qn("w:lvlText"))),
            start=_int(_val(lvl.find(qn("w:start")), "1"), 1),
        )
    return out


def _num_pr(paragraph: Paragraph) -> tuple[str, int, int] | None:
    """(numId, level, display depth) of a list paragraph; ``None`` when it is not numbered.

    ``numId`` and ``ilvl`` are looked up separately, paragraph first, then its style chain (a
    paragraph may set only its level and take the list from its style); ``numId`` 0 switches off
    numbering a style would add.
    """
    num_id: str | None = None
    ilvl: str | None = None
    sources = [paragraph._p.pPr]
    style = paragraph.style
    while style is not None and len(sources) < 10:
        sources.append(style.element.pPr)
        style = style.base_style
    for ppr in sources:
        num_pr = ppr.find(qn("w:numPr")) if ppr is not None else None
        if num_pr is None:
            continue
        if num_id is None and num_pr.find(qn("w:numId")) is not None:
            num_id = _val(num_pr.find(qn("w:numId")))
        if ilvl is None and num_pr.find(qn("w:ilvl")) is not None:
            ilvl = _val(num_pr.find(qn("w:ilvl")), "0")
    if not num_id or num_id == "0":
        return None
    level = min(max(_int(ilvl or "0", 0), 0), _MAX_LEVEL)
    depth = level
    if level == 0:
        # "List Bullet 2"-style paragraphs are nested by their style (its own list at level 0).
        m = re.fullmatch(r"list(?: bullet| number)? ([2-9])", (getattr(paragraph.style, "name", "") or "").lower())
        depth = int(m.group(1)) - 1 if m else 0
    return num_id, level, depth


def heading_level(paragraph: Paragraph) -> int:
    """1-9 for headings (Title counts as 1), 0 for body text."""
    style = paragraph.style
    names = [getattr(style, "name", None) or "", getattr(style, "style_id", None) or ""]
    for name in names:
        key = name.strip().lower()
        if key in _TITLE_STYLES:
            return 1
        m = _HEADING_STYLE.match(key) or re.match(r"^heading([1-9])$", key)
        if m:
            return int(m.group(1))
    # Documents that fake headings with direct formatting often still set an outline level.
    ppr = paragraph._p.pPr
    if ppr is not None:
        value = _int(_val(ppr.find(qn("w:outlineLvl")), "9"), 9)
        if 0 <= value < 9:
            return value + 1
    return 0


#: Ends a sentence or a clause: a line ending so is prose, however bold.
_PROSE_END = re.compile(r"[。.!?！？;；,，:：、]\s*$")
#: Longest line read as a heading made with direct formatting.
_FAKED_HEADING_CHARS = 40


def faked_heading_level(paragraph: Paragraph, text: str) -> int:
    """A heading made with direct formatting, as most Chinese office documents make them: a short
    line, every run bold, no sentence punctuation at its end ("第二条 采购权限", "一、总则"). 1 when set
    at 16 pt or more (a title), else 2; 0 for body text."""
    if not text or len(text) > _FAKED_HEADING_CHARS or _PROSE_END.search(text):
        return 0
    runs = [r for r in paragraph.runs if r.text.strip()]
    style_bold = bool(getattr(getattr(paragraph.style, "font", None), "bold", False))
    if not runs or not all(r.bold or (r.bold is None and style_bold) for r in runs):
        return 0
    sizes = [r.font.size.pt for r in runs if r.font.size is not None]
    return 1 if sizes and max(sizes) >= 16 else 2


# --- tables -----------------------------------------------------------------------------------------


def _children(el: Any, tag: str) -> Iterator[Any]:
    """Children with ``tag``, looking through content controls and custom XML wrappers."""
    stack = list(reversed(list(el.iterchildren())))
    while stack:
        child = stack.pop()
        if child.tag == tag:
            yield child
        elif child.tag in _CONTAINERS:
            stack.extend(reversed(list(child.iterchildren())))


def cell_text(tc: Any) -> str:
    """A cell's paragraphs (and nested tables, flattened) on one line."""
    parts = []
    for el in tc.iter(qn("w:p")):
        parts.append(paragraph_text(el))
    return one_line(" ".join(parts))


def table_rows(tbl: Any) -> list[list[str]]:
    """The table on its column grid; merged cells repeat their text in every slot they cover."""
    grid: list[list[str]] = []
    above: dict[int, str] = {}  # column -> text of the cell that a vMerge continues
    for tr in _children(tbl, qn("w:tr")):
        trpr = tr.find(qn("w:trPr"))
        col = _int(_val(trpr.find(qn("w:gridBefore")) if trpr is not None else None, "0"), 0)
        col = min(max(col, 0), _MAX_GRID)
        row = [""] * col
        for tc in _children(tr, qn("w:tc")):
            tcpr = tc.find(qn("w:tcPr"))
            span = _int(_val(tcpr.find(qn("w:gridSpan")) if tcpr is not None else None, "1"), 1)
            span = min(max(span, 1), _MAX_GRID - col) if col < _MAX_GRID else 0
            vmerge = tcpr.find(qn("w:vMerge")) if tcpr is not None else None
            continues = vmerge is not None and _val(vmerge, "continue") == "continue"
            text = above.get(col, "") if continues else cell_text(tc)
            for c in range(col, col + span):
                row.append(text)
                above[c] = text
            col += span
        grid.append(row)
    return normalize_rows(grid)


# --- notes ------------------------------------------------------------------------------------------


def read_notes(doc: DocumentObject, kind: str) -> dict[str, str]:
    """Footnote or endnote id -> text, from ``word/footnotes.xml`` / ``word/endnotes.xml``."""
    notes: dict[str, str] = {}
    for rel in doc.part.rels.values():
        if rel.is_external or not rel.reltype.endswith(f"/{kind}s"):
            continue
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        try:
            root = etree.fromstring(rel.target_part.blob, parser)
        except etree.XMLSyntaxError:
            continue
        for note in root.iterchildren(qn(f"w:{kind}")):
            if note.get(qn("w:type")) in ("separator", "continuationSeparator", "continuationNotice"):
                continue
            text = one_line(" ".join(paragraph_text(p) for p in note.iter(qn("w:p"))))
            if text:
                notes[note.get(qn("w:id"), "")] = text
    return notes


# --- document ---------------------------------------------------------------------------------------


def _iter_body(doc: DocumentObject) -> Iterator[Any]:
    """``<w:p>`` and ``<w:tbl>`` elements in order, including those inside content controls; a
    table of contents (Word's content control for it) is left out."""
    stack = list(reversed(list(doc.element.body.iterchildren())))
    while stack:
        el = stack.pop()
        if el.tag in (qn("w:p"), qn("w:tbl")):
            yield el
        elif el.tag in _CONTAINERS and not _is_toc_control(el):
            stack.extend(reversed(list(el.iterchildren())))


def _is_toc_control(el: Any) -> bool:
    """Is ``el`` the content control Word wraps a table of contents in?"""
    gallery = el.find(f"{qn('w:sdtPr')}/{qn('w:docPartObj')}/{qn('w:docPartGallery')}")
    return gallery is not None and _val(gallery).lower() == "table of contents"


def is_toc_entry(paragraph: Paragraph) -> bool:
    """Is ``paragraph`` a line of a table of contents ("Introduction ⇥ 3") or its heading? Such
    lines repeat the headings' words with page numbers and nothing else: search noise."""
    style = paragraph.style
    names = (getattr(style, "name", None) or "", getattr(style, "style_id", None) or "")
    return any(_TOC_STYLE.match(name.strip()) for name in names)


class _Builder:
    """Accumulates blocks; consecutive list items become one list block."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.headings = HeadingTracker()
        self.list_lines: list[str] = []

    def add(self, kind: Any, text: str, **kw: Any) -> None:
        self.flush_list()
        self.blocks.append(Block(kind, text, locator=Locator(heading_path=self.headings.path), **kw))

    def heading(self, level: int, text: str) -> None:
        self.flush_list()
        path = self.headings.push(level, text)
        self.blocks.append(Block("heading", text, level=level, locator=Locator(heading_path=path)))

    def flush_list(self) -> None:
        if self.list_lines:
            lines, self.list_lines = self.list_lines, []
            self.blocks.append(Block("list", "\n".join(lines), locator=Locator(heading_path=self.headings.path)))


class DocxParser:
    """Reads ``.docx`` files; the title is the document property, else the first heading, else the
    file's name."""

    def parse(self, path: Path) -> ParsedDocument:
        """Parse ``path`` into heading/paragraph/list/table blocks in body order."""
        doc = Document(str(path))
        numbering = Numbering.from_document(doc)
        notes = {"footnote": read_notes(doc, "footnote"), "endnote": read_notes(doc, "endnote")}
        shown: set[tuple[str, str]] = set()
        out = _Builder()
        for el in _iter_body(doc):
            if el.tag == qn("w:tbl"):
                title, rows, table_notes = split_table(table_rows(el))
                if rows:
                    out.add("table", table_text(rows, title), rows=rows, name=title)
                for note in table_notes:
                    out.add("paragraph", note)
                continue
            paragraph = Paragraph(el, doc)
            text = one_line(paragraph_text(el))
            if text and not is_toc_entry(paragraph):
                level = heading_level(paragraph)
                num = _num_pr(paragraph)
                marker = numbering.marker(num[0], num[1]) if num else ""  # numbered headings count too
                if level:
                    out.heading(level, text)
                elif num is not None:
                    out.list_lines.append(f"{'  ' * num[2]}{marker} {text}")
                elif faked := faked_heading_level(paragraph, text):
                    out.heading(faked, text)
                else:
                    out.add("paragraph", text)
            for kind in ("footnote", "endnote"):
                for ref in el.iter(qn(f"w:{kind}Reference")):
                    key = (kind, ref.get(qn("w:id"), ""))
                    if key[1] in notes[kind] and key not in shown:
                        shown.add(key)
                        out.add("paragraph", f"{kind.capitalize()} {len(shown)}: {notes[kind][key[1]]}")
        leftovers = [
            f"{kind.capitalize()}: {text}"
            for kind in ("footnote", "endnote")
            for note_id, text in notes[kind].items()
            if (kind, note_id) not in shown
        ]
        if leftovers:
            out.add("paragraph", "\n".join(leftovers))
        out.flush_list()
        title = one_line(doc.core_properties.title or "")
        return ParsedDocument.from_blocks(out.blocks, title=title, metadata={}, fallback=path.stem)
