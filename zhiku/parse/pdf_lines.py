"""The text layer of a PDF page as positioned lines, read through pdfium (PDF parser internals).

Speed matters (PDF is the bulk of most knowledge bases), so per-character work in Python is
avoided: pdfium's own text (``get_text_range``, which already has its line breaks) is split at
those breaks, and each line asks pdfium once for its text-object rectangles; a line drawn by one
text object (most lines) is done there, with three more calls for its font. Only a line whose
rectangles jump (two columns or table cells on one baseline) is cut into fragments, and only when
that fails character by character. The hot pdfium calls go through ``pdfium_calls`` (no ctypes
argument conversion, no GIL release). ``path_boxes`` walks a page's objects for the rules and cell
boxes of ruled tables.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Sequence
from itertools import repeat
from typing import Any, cast

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from . import pdfium_calls as fast
from .base import join_lines
from .layout import Line
from .textlayer import may_be_doubled, undouble

#: A word for box purposes: a run without spaces or pdfium's soft-hyphen marks.
_WORD = re.compile("[^ \ufffe\x02]+")
#: Where a word starts: a non-space character after a space or a soft-hyphen mark.
_WORD_START = re.compile("(?<=[ \ufffe\x02])\\S")
#: A cell that is only a number (amounts, counts, shares, dates written with digits).
_NUMERIC = re.compile(r"[-+−(]?[\d][\d.,:/%  ]*\)?")
_BOLD_NAMES = ("bold", "black", "heavy", "semibold", "demi", "bx", "-b")


class LineReader:
    """Per-page text-layer extraction with reusable ctypes out-parameters."""

    def __init__(self) -> None:
        self._l, self._r, self._b, self._t = (ctypes.c_double() for _ in range(4))
        self._rect = pdfium_c.FS_RECTF()
        self._matrix = pdfium_c.FS_MATRIX()
        self._font = ctypes.create_string_buffer(96)
        self._flags = ctypes.c_int()
        # Out-parameters by reference, made once: the ``fast`` functions take them as they are.
        self._refs = tuple(ctypes.byref(v) for v in (self._l, self._t, self._r, self._b))
        self._rect_ref = ctypes.byref(self._rect)
        self._matrix_ref = ctypes.byref(self._matrix)
        self._flags_ref = ctypes.byref(self._flags)
        self._font_len = ctypes.c_ulong(len(self._font))
        self._fonts: dict[bytes, bool] = {}
        #: ``round(size, 1)`` by raw font size: a document has few sizes, and ``round`` with digits
        #: costs ~0.3 us (it goes through a decimal string), more than a pdfium call.
        self._rounded: dict[float, float] = {}
        #: The last page's text (pdfium's, with its line breaks): its quality decides about OCR.
        self.text = ""
        #: Lines of the last page that pdfium gave as one but that break into 3+ pieces (table rows).
        self.broken = 0
        self._fix = False

    def lines(self, textpage: pdfium.PdfTextPage) -> list[Line]:
        """The page's visual lines (fragments merged), in content order."""
        raw = textpage.raw
        n = pdfium_c.FPDFText_CountChars(raw)
        if n <= 0:
            return []
        text = textpage.get_text_range()
        if len(text) != n:  # inserted/excluded characters: rebuild a 1:1 text (rare, slower)
            text = "".join(_char(raw, i) for i in range(n))
        self.text = text
        self._fix = may_be_doubled(text)
        raw = fast.handle(raw)
        # A pdfium line drawn by one text object (the common case) becomes a line at once: its
        # rectangle, and its font from its first character (one object, one font). Other lines'
        # boxes go into one flat list of floats (x0, y0, x1, y1, x0, ...), so numpy does their
        # geometry for the whole page: their text-object rectangles, or (when a line has many more
        # objects than words: one object per CJK character) its words' boxes from their first and
        # last characters.
        left, right, bottom, top, rect = self._l, self._r, self._b, self._t, self._rect
        left_ref, top_ref, right_ref, bottom_ref = self._refs
        rect_ref = self._rect_ref
        get_rect, char_box, count_rects = fast.get_rect, fast.loose_char_box, fast.count_rects
        font_size, get_matrix, font_info, fix = fast.font_size, fast.get_matrix, fast.font_info, self._fix
        matrix, matrix_ref = self._matrix, self._matrix_ref
        font, font_len, flags, flags_ref, fonts = self._font, self._font_len, self._flags, self._flags_ref, self._fonts
        rounded = self._rounded
        room = len(font)
        #: Lines in content order; a line of several boxes is first the index of its piece.
        out: list[Line | int] = []
        pieces: list[tuple[int, str, int, list[int] | None]] = []
        firsts: list[int] = []  # each piece's first box
        flat: list[float] = []
        extend = flat.extend
        pos = 0
        for piece in text.split("\r\n"):
            if piece and not piece.isspace():
                count = count_rects(raw, pos, len(piece))
                if count == 1:
                    get_rect(raw, 0, left_ref, top_ref, right_ref, bottom_ref)
                    start = pos + len(piece) - len(piece.lstrip())
                    size = font_size(raw, start)
                    if get_matrix(raw, start, matrix_ref):
                        c, d = matrix.c, matrix.d  # each field read builds a float
                        scale = (c * c + d * d) ** 0.5
                        if scale > 0:
                            size *= scale
                    size_1 = rounded.get(size)
                    if size_1 is None:
                        size_1 = rounded[size] = round(size, 1)
                    length = font_info(raw, start, font, font_len, flags_ref)  # bold: as in ``_style``
                    name = font.value if 0 < length <= room else b""
                    bold = fonts.get(name)
                    if bold is None:
                        bold = self._bold_font(raw, start, name)
                    stripped = piece.strip()
                    out.append(
                        Line(
                            left.value,
                            bottom.value,
                            right.value,
                            top.value,
                            undouble(stripped) if fix else stripped,
                            size_1,
                            bold or bool(flags.value & 64),
                        )
                    )
                elif 0 < count <= 4 or 0 < count <= 2 * piece.count(" ") + 2:
                    out.append(len(pieces))
                    pieces.append((pos, piece, count, None))
                    firsts.append(len(flat) >> 2)
                    for k in range(count):
                        get_rect(raw, k, left_ref, top_ref, right_ref, bottom_ref)
                        extend((left.value, bottom.value, right.value, top.value))
                elif count > 0:
                    first = len(flat)
                    starts: list[int] = []
                    for match in _WORD.finditer(piece):
                        a, b = match.start(), match.end() - 1
                        if not char_box(raw, pos + a, rect_ref):
                            continue
                        x0, y0, x1, y1 = rect.left, rect.bottom, rect.right, rect.top
                        if b > a and char_box(raw, pos + b, rect_ref):
                            x0, y0 = min(x0, rect.left), min(y0, rect.bottom)
                            x1, y1 = max(x1, rect.right), max(y1, rect.top)
                        starts.append(a)
                        extend((x0, y0, x1, y1))
                    if starts:
                        starts[0] = 0
                        out.append(len(pieces))
                        pieces.append((pos, piece, len(starts), starts))
                        firsts.append(first >> 2)
            pos += len(piece) + 2
        if not pieces:
            return merge_fragments(cast("list[Line]", out))  # no placeholders: every item is a Line
        # Groups: runs of consecutive boxes on one visual line, never across two pdfium lines. A
        # pdfium line with one group is one line; one with several (columns or table cells on one
        # baseline) is cut into fragments, one per group.
        boxes = np.fromiter(flat, dtype=np.float64, count=len(flat)).reshape(-1, 4)
        new = np.ones(len(boxes), dtype=bool)
        new[1:] = ~_same_line_flags(boxes)
        box_firsts = np.fromiter(firsts, dtype=np.int64, count=len(firsts))
        new[box_firsts] = True
        group_starts = np.flatnonzero(new)
        x0s = np.minimum.reduceat(boxes[:, 0], group_starts).tolist()
        y0s = np.minimum.reduceat(boxes[:, 1], group_starts).tolist()
        x1s = np.maximum.reduceat(boxes[:, 2], group_starts).tolist()
        y1s = np.maximum.reduceat(boxes[:, 3], group_starts).tolist()
        piece_groups = np.searchsorted(group_starts, box_firsts).tolist()
        group_firsts = group_starts.tolist()
        piece_groups.append(len(group_starts))
        self.broken = sum(1 for i in range(len(pieces)) if piece_groups[i + 1] - piece_groups[i] >= 3)
        fragments: list[Line] = []
        append = fragments.append
        for item in out:
            if not isinstance(item, int):
                append(item)
                continue
            i = item
            pos, piece, count, word_starts = pieces[i]
            g = piece_groups[i]
            if piece_groups[i + 1] == g + 1:
                size, bold = self._style(raw, pos, piece)
                stripped = piece.strip()
                append(Line(x0s[g], y0s[g], x1s[g], y1s[g], undouble(stripped) if fix else stripped, size, bold))
            else:
                groups = range(g, piece_groups[i + 1])
                fragments.extend(
                    self._fragments(
                        raw,
                        pos,
                        piece,
                        [group_firsts[k] for k in groups],
                        [(x0s[k], y0s[k], x1s[k], y1s[k]) for k in groups],
                        flat,
                        word_starts,
                        firsts[i],
                    )
                )
        return merge_fragments(fragments)

    def _fragments(
        self,
        raw: Any,
        pos: int,
        piece: str,
        group_firsts: list[int],
        group_boxes: list[tuple[float, float, float, float]],
        flat: list[float],
        word_starts: list[int] | None,
        base: int,
    ) -> list[Line]:
        """A pdfium line whose boxes jump: one fragment per group of boxes on one visual line
        (``group_firsts``: each group's first box, indexes of the page's boxes in ``flat``, four
        floats each; ``group_boxes``: the groups' union boxes; ``base``: the line's first box)."""
        if word_starts is not None:
            starts = [word_starts[first - base] for first in group_firsts]
        else:
            # Where does each group's text start? Pieces on one pdfium line are separated by a space
            # (or pdfium's soft-hyphen mark), so only characters after one are candidates: the first
            # whose box lies in the group's first box starts the group. Anything else: per-character
            # boxes.
            rect, rect_ref, char_box = self._rect, self._rect_ref, fast.loose_char_box
            candidates = [m.start() for m in _WORD_START.finditer(piece)]
            starts = [0]
            j = 0
            for first in group_firsts[1:]:
                x0, y0, x1, y1 = flat[4 * first : 4 * first + 4]
                while True:
                    if j >= len(candidates):
                        return self._split(raw, pos, piece)
                    k = candidates[j]
                    j += 1
                    if not char_box(raw, pos + k, rect_ref):
                        continue
                    cx, cy = (rect.left + rect.right) / 2, (rect.bottom + rect.top) / 2
                    if x0 - 1 <= cx <= x1 + 1 and y0 - 1 <= cy <= y1 + 1:
                        break
                starts.append(k)
        starts.append(len(piece))
        out: list[Line] = []
        style, fix, numeric = self._style, self._fix, _NUMERIC.fullmatch
        size, bold = 0.0, False
        for i, box in enumerate(group_boxes):
            start = starts[i]
            text = piece[start : starts[i + 1]]
            stripped = text.strip()
            if stripped:
                # A number in a row of cells takes the style of the cell before it: numbers are never
                # headings, and a statistics table has thousands of them (six pdfium calls each).
                if not out or not numeric(stripped):
                    size, bold = style(raw, pos + start, text)
                out.append(Line(box[0], box[1], box[2], box[3], undouble(stripped) if fix else stripped, size, bold))
        return out

    def _split(self, raw: Any, pos: int, piece: str) -> list[Line]:
        """Character boxes decide where a line breaks into pieces (columns, cells, two rows)."""
        rect = self._rect
        out: list[Line] = []
        start = 0
        box: list[float] | None = None
        for k, ch in enumerate(piece):
            if ch.isspace() or ch in "\ufffe\x02":
                continue
            if not fast.loose_char_box(raw, pos + k, self._rect_ref):
                continue
            cx0, cy0, cx1, cy1 = rect.left, rect.bottom, rect.right, rect.top
            if cx1 - cx0 <= 0 and cy1 - cy0 <= 0:
                continue
            if box is not None:
                if _same_line(box, (cx0, cy0, cx1, cy1)):
                    box[0], box[1] = min(box[0], cx0), min(box[1], cy0)
                    box[2], box[3] = max(box[2], cx1), max(box[3], cy1)
                    continue
                out.append(self._line(raw, pos, piece, start, k, box))
                start = k
            box = [cx0, cy0, cx1, cy1]
        if box is not None:
            out.append(self._line(raw, pos, piece, start, len(piece), box))
        return [line for line in out if line.text]

    def _line(self, raw: Any, pos: int, piece: str, start: int, end: int, box: Sequence[float]) -> Line:
        text = piece[start:end]
        return Line(box[0], box[1], box[2], box[3], self._clean(text), *self._style(raw, pos + start, text))

    def _clean(self, text: str) -> str:
        return undouble(text.strip()) if self._fix else text.strip()

    def _style(self, raw: Any, pos: int, text: str) -> tuple[float, bool]:
        """Font size at the middle of the line (a superscript or a run-in label at its start does
        not count) and boldness (the first and the last character both bold, by font name or
        weight, or italic: emphasis that marks a heading of body size). Written out without helper
        calls: this runs for every table cell of a page."""
        first = len(text) - len(text.lstrip())
        last = len(text.rstrip()) - 1
        middle = (first + last) // 2
        while middle < last and text[middle].isspace():  # pdfium's generated spaces have no font
            middle += 1
        font_size, get_matrix, matrix, matrix_ref = fast.font_size, fast.get_matrix, self._matrix, self._matrix_ref
        rounded = self._rounded
        # Two samples: one may land on a superscript (a footnote mark) or a run-in label.
        size = 0.0
        for index in (pos + middle, pos + last) if last != middle else (pos + middle,):
            sample = font_size(raw, index)
            if get_matrix(raw, index, matrix_ref):
                c, d = matrix.c, matrix.d
                scale = (c * c + d * d) ** 0.5
                if scale > 0:
                    sample *= scale
            sample_1 = rounded.get(sample)
            if sample_1 is None:
                sample_1 = rounded[sample] = round(sample, 1)
            sample = sample_1
            if index == pos + middle or sample > size:
                size = sample
        # The first character's font, then the last's (only when the first is bold).
        font_info, font, font_len, flags, flags_ref, fonts = (
            fast.font_info,
            self._font,
            self._font_len,
            self._flags,
            self._flags_ref,
            self._fonts,
        )
        room = len(font)
        for index in (pos + first, pos + last) if last != first else (pos + first,):
            length = font_info(raw, index, font, font_len, flags_ref)
            name = font.value if 0 < length <= room else b""
            bold = fonts.get(name)
            if bold is None:
                bold = self._bold_font(raw, index, name)
            if not (bold or flags.value & 64):
                return size, False
        return size, True

    def _bold_font(self, raw: Any, index: int, name: bytes) -> bool:
        """Is the font ``name`` (first seen at character ``index``) bold? Remembered per name."""
        lowered = name.decode("latin-1").lower().split("+")[-1]
        bold = any(mark in lowered for mark in _BOLD_NAMES) or fast.font_weight(raw, index) >= 600
        self._fonts[name] = bold
        return bold


def _same_line(a: Sequence[float], b: Sequence[float]) -> bool:
    """Does box ``b`` continue box ``a`` on the same visual line (boxes: x0, y0, x1, y1)?

    A small glyph (CJK punctuation such as 、 sits low in a full-width cell) is followed by a wider
    gap than its box suggests, so its gap allowance is larger.
    """
    ha, hb = a[3] - a[1], b[3] - b[1]
    h = max(min(ha, hb), 0.5)
    tall = max(ha, hb)
    if min(a[3], b[3]) - max(a[1], b[1]) <= 0.5 * h:
        return False
    limit = gap_limit(tall) if ha >= 0.6 * tall else max(gap_limit(tall), 1.2 * tall)
    return -0.5 * h <= b[0] - a[2] < limit


def _same_line_flags(boxes: Any) -> Any:
    """``_same_line`` for every pair of consecutive boxes of an ``(n, 4)`` array: ``n - 1`` flags."""
    a, b = boxes[:-1], boxes[1:]
    ha, hb = a[:, 3] - a[:, 1], b[:, 3] - b[:, 1]
    h = np.maximum(np.minimum(ha, hb), 0.5)
    tall = np.maximum(ha, hb)
    overlap = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    limit = np.maximum(0.8 * tall, 3.0)
    limit = np.where(ha >= 0.6 * tall, limit, np.maximum(limit, 1.2 * tall))
    gap = b[:, 0] - a[:, 2]
    return (overlap > 0.5 * h) & (gap >= -0.5 * h) & (gap < limit)


def _char(raw: Any, index: int) -> str:
    code = pdfium_c.FPDFText_GetUnicode(raw, index)
    try:
        return chr(code) if code else " "
    except ValueError:
        return " "


def merge_fragments(fragments: list[Line]) -> list[Line]:
    """Join fragments that continue the previous one on the same visual line.

    PDF text objects break at font changes, and superscripts (``1⁄4``) sit on a shifted baseline;
    both show up as separate fragments that belong to one line. Only neighbours in content order
    are joined, and only across a gap narrower than a column gutter.
    """
    lines: list[Line] = []
    prev: Line | None = None
    for frag in fragments:
        if prev is not None:
            # ``_continues`` inlined, with comparisons rather than min()/max() calls: this runs for
            # every fragment of a document.
            h, tall = (prev.height, frag.height) if prev.height < frag.height else (frag.height, prev.height)
            overlap = (prev.y1 if prev.y1 < frag.y1 else frag.y1) - (prev.y0 if prev.y0 > frag.y0 else frag.y0)
            gap = frag.x0 - prev.x1
            if overlap > 0.5 * h and -0.5 * h <= gap < (0.8 * tall if tall > 3.75 else 3.0):  # gap_limit(tall)
                prev.text = join_lines(prev.text, frag.text) if gap > 0.15 * frag.height else (prev.text + frag.text)
                prev.x1 = max(prev.x1, frag.x1)
                prev.y0, prev.y1 = min(prev.y0, frag.y0), max(prev.y1, frag.y1)
                prev.height = max(prev.y1 - prev.y0, 1.0)
                if frag.size > prev.size and len(frag.text) > len(prev.text):
                    prev.size = frag.size
                continue
        lines.append(frag)
        prev = frag
    return lines


def gap_limit(height: float) -> float:
    """The widest horizontal gap still inside one line: wider than a justified word space, narrower
    than a column gutter or the space between table cells."""
    return max(0.8 * height, 3.0)


def path_boxes(page: pdfium.PdfPage) -> list[tuple[float, float, float, float]]:
    """Bounds of the page's path objects (top level; at most 5,000 objects looked at)."""
    x0, y0, x1, y1 = (ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float())
    r0, r1, r2, r3 = (ctypes.byref(x0), ctypes.byref(y0), ctypes.byref(x1), ctypes.byref(y1))
    raw = fast.handle(page.raw)
    count = min(pdfium_c.FPDFPage_CountObjects(page.raw), 5000)
    # Every object's handle and type through map(): the per-object loop runs in C and only path
    # objects reach Python (on issue-67's pages, ~100 of ~700 objects; the rest are characters).
    objects = list(map(fast.page_object, repeat(raw, count), range(count)))
    path, bounds = pdfium_c.FPDF_PAGEOBJ_PATH, fast.object_bounds
    out: list[tuple[float, float, float, float]] = []
    for obj, kind in zip(objects, map(fast.object_type, objects), strict=True):
        if kind == path and bounds(obj, r0, r1, r2, r3):
            out.append((x0.value, y0.value, x1.value, y1.value))
    return out
